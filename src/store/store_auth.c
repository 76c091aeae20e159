/* store_auth.c - what src/auth needs of the store, written once over the
 * driver: listing and deleting key/value records (users, tokens, sessions
 * and secrets live in kv under their own prefixes) and the audit trail. */
#include "store/store_sql.h"

#include <stdlib.h>
#include <string.h>

mz_code
mz_kv_delete(mz_store *st, const char *key, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_KV_DEL, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, key);
	return mz__run(q, NULL, err, "kv delete");
}

mz_code
mz_kv_list(mz_store *st, const char *prefix, json_t **pairs, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_KV_LIST, err);
	int rc;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, prefix ? prefix : "");
	json_t *obj = json_object();
	while ((rc = mz__step(q)) == MZ_STEP_ROW)
		json_object_set_new(obj, mz__col_text(q, 0), json_string(mz__col_text(q, 1)));
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "kv list");
		mz__reset(q);
		json_decref(obj);
		return code;
	}
	mz__reset(q);
	*pairs = obj;
	return MZ_OK;
}

mz_code
mz_audit_add(mz_store *st, const json_t *entry, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_AUDIT_ADD, err);
	if (!q)
		return MZ_EIO;
	char *body = mz_json_dump(entry);
	json_t *t = json_object_get(entry, "time");
	mz__int(q, 1, json_is_integer(t) ? json_integer_value(t) : mz_now_ms());
	mz__text(q, 2, mz_json_str(entry, "user"));
	mz__text(q, 3, mz_json_str(entry, "application"));
	mz__text(q, 4, body);
	mz_code rc = mz__run(q, NULL, err, "audit add");
	free(body);
	return rc;
}

mz_code
mz_audit_list(mz_store *st, const char *application, const char *user, int limit,
              json_t **entries, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_AUDIT_LIST, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, application);
	mz__text(q, 2, user);
	mz__int(q, 3, limit < 1 ? 1 : limit > 10000 ? 10000 : limit);
	return mz__all_bodies(q, entries, err, "audit list");
}
