/* store_events.c - the engine's outbox, the key/value table, incoming
 * events and notification deliveries (Echo's durable side), written once
 * over the store driver. */
#include "store/store_sql.h"

#include <stdlib.h>
#include <string.h>

static mz_code
run_id(mz_store *st, int q_index, int64_t id, mz_err *err, const char *what)
{
	mz_stmt *q = mz__stmt(st, q_index, err);
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, id);
	return mz__run(q, NULL, err, what);
}

/* Rows of (id, body, ...) as [{"<idkey>": id, "<bodykey>": body}]; the
 * statement is reset. */
static mz_code
id_body_rows(mz_stmt *q, const char *idkey, const char *bodykey, json_t **out, mz_err *err,
             const char *what)
{
	json_t *arr = json_array();
	int rc;
	while ((rc = mz__step(q)) == MZ_STEP_ROW) {
		json_t *v = mz__col_json(q, 1);
		json_array_append_new(arr, json_pack("{s:I, s:o}", idkey, (json_int_t)mz__col_int(q, 0),
		                                     bodykey, v ? v : json_null()));
	}
	if (rc < 0) {
		mz_code code = mz__fail(q->st, err, what);
		mz__reset(q);
		json_decref(arr);
		return code;
	}
	mz__reset(q);
	*out = arr;
	return MZ_OK;
}

/* ---- outbox ----------------------------------------------------------- */

mz_code
mz_outbox_push(mz_store *st, const json_t *event, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_OUT_PUSH, err);
	if (!q)
		return MZ_EIO;
	char *body = mz_json_dump(event);
	mz__text(q, 1, body);
	mz__int(q, 2, mz_now_ms());
	mz_code rc = mz__run(q, NULL, err, "outbox push");
	free(body);
	return rc;
}

mz_code
mz_outbox_fetch(mz_store *st, int64_t after_id, int max, json_t **events, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_OUT_FETCH, err);
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, after_id);
	mz__int(q, 2, max > 0 ? max : 100);
	return id_body_rows(q, "id", "event", events, err, "outbox fetch");
}

mz_code
mz_outbox_delete(mz_store *st, int64_t id, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_OUT_DEL, err);
	int64_t n = 0;
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, id);
	mz_code rc = mz__run(q, &n, err, "outbox delete");
	if (rc == MZ_OK && n == 0)
		return mz_fail(err, MZ_ECONFLICT, "outbox event %lld was already consumed",
		               (long long)id);
	return rc;
}

/* ---- key/value -------------------------------------------------------- */

mz_code
mz_kv_get(mz_store *st, const char *key, char **value, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_KV_GET, err);
	*value = NULL;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, key);
	int rc = mz__step(q);
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "kv get");
		mz__reset(q);
		return code;
	}
	if (rc == MZ_STEP_ROW)
		*value = mz_strdup(mz__col_text(q, 0));
	mz__reset(q);
	return rc == MZ_STEP_ROW ? MZ_OK : MZ_ENOTFOUND;
}

mz_code
mz_kv_put(mz_store *st, const char *key, const char *value, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_KV_PUT, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, key);
	mz__text(q, 2, value);
	return mz__run(q, NULL, err, "kv put");
}

/* ---- incoming events -------------------------------------------------- */

mz_code
mz_event_add(mz_store *st, const char *event_id, const json_t *event, bool *added,
             mz_err *err)
{
	if (!event_id || !*event_id)
		return mz_fail(err, MZ_EINVAL, "an event needs an id");
	mz_stmt *q = mz__stmt(st, Q_EVT_ADD, err);
	if (!q)
		return MZ_EIO;
	char *body = mz_json_dump(event);
	int64_t changed = 0;
	mz__text(q, 1, event_id);
	mz__text(q, 2, body);
	mz__int(q, 3, mz_now_ms());
	mz_code rc = mz__run(q, &changed, err, "event add");
	free(body);
	if (rc == MZ_OK && added)
		*added = changed > 0;
	return rc;
}

mz_code
mz_event_pending(mz_store *st, int max, json_t **events, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_EVT_PENDING, err);
	int rc;
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, max > 0 ? max : 100);
	json_t *arr = json_array();
	while ((rc = mz__step(q)) == MZ_STEP_ROW) {
		json_t *ev = mz__col_json(q, 2);
		json_array_append_new(arr, json_pack("{s:I, s:s, s:o}", "seq",
		                                     (json_int_t)mz__col_int(q, 0), "eventId",
		                                     mz__col_text(q, 1), "event",
		                                     ev ? ev : json_null()));
	}
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "event pending");
		mz__reset(q);
		json_decref(arr);
		return code;
	}
	mz__reset(q);
	*events = arr;
	return MZ_OK;
}

mz_code
mz_event_done(mz_store *st, int64_t seq, const json_t *result, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_EVT_DONE, err);
	if (!q)
		return MZ_EIO;
	char *body = result ? mz_json_dump(result) : NULL;
	mz__int(q, 1, seq);
	mz__int(q, 2, mz_now_ms());
	mz__text(q, 3, body);
	int64_t n = 0;
	mz_code rc = mz__run(q, &n, err, "event done");
	free(body);
	if (rc == MZ_OK && n == 0)
		return mz_fail(err, MZ_ECONFLICT, "event %lld was already processed", (long long)seq);
	return rc;
}

mz_code
mz_event_get(mz_store *st, const char *event_id, json_t **out, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_EVT_GET, err);
	*out = NULL;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, event_id);
	int rc = mz__step(q);
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "event get");
		mz__reset(q);
		return code;
	}
	if (rc == MZ_STEP_ROW) {
		json_t *ev = mz__col_json(q, 2);
		json_t *res = mz__col_json(q, 4);
		*out = json_pack("{s:I, s:s, s:o, s:b, s:o}", "seq", (json_int_t)mz__col_int(q, 0),
		                 "eventId", mz__col_text(q, 1), "event", ev ? ev : json_null(),
		                 "processed", !mz__col_null(q, 3), "result",
		                 res ? res : json_null());
	}
	mz__reset(q);
	return rc == MZ_STEP_ROW ? MZ_OK : MZ_ENOTFOUND;
}

/* ---- notification deliveries ------------------------------------------ */

mz_code
mz_delivery_push(mz_store *st, const json_t *delivery, int64_t deliver_at, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_DLV_PUSH, err);
	if (!q)
		return MZ_EIO;
	char *body = mz_json_dump(delivery);
	mz__text(q, 1, body);
	mz__int(q, 2, deliver_at);
	mz_code rc = mz__run(q, NULL, err, "delivery push");
	free(body);
	return rc;
}

mz_code
mz_delivery_due(mz_store *st, int64_t now, int max, json_t **out, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_DLV_DUE, err);
	int rc;
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, now);
	mz__int(q, 2, max > 0 ? max : 50);
	json_t *arr = json_array();
	while ((rc = mz__step(q)) == MZ_STEP_ROW) {
		json_t *d = mz__col_json(q, 2);
		json_array_append_new(arr, json_pack("{s:I, s:i, s:o}", "id",
		                                     (json_int_t)mz__col_int(q, 0), "attempts",
		                                     (int)mz__col_int(q, 1), "delivery",
		                                     d ? d : json_null()));
	}
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "delivery due");
		mz__reset(q);
		json_decref(arr);
		return code;
	}
	mz__reset(q);
	*out = arr;
	return MZ_OK;
}

mz_code
mz_delivery_retry(mz_store *st, int64_t id, int64_t deliver_at, const char *error,
                  mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_DLV_RETRY, err);
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, id);
	mz__int(q, 2, deliver_at);
	mz__text(q, 3, error);
	return mz__run(q, NULL, err, "delivery retry");
}

mz_code
mz_delivery_delete(mz_store *st, int64_t id, mz_err *err)
{
	return run_id(st, Q_DLV_DEL, id, err, "delivery delete");
}
