/* store_apps.c - applications and pipeline configs with their history
 * (Front50), written once over the store driver. */
#include "store/store_sql.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static char *
lower(const char *s)
{
	char *p = mz_strdup(s);
	for (char *q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

/* ---- applications ----------------------------------------------------- */

mz_code
mz_app_get(mz_store *st, const char *name, json_t **app, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_APP_GET, err);
	if (!q)
		return MZ_EIO;
	char *key = lower(name);
	mz__text(q, 1, key);
	mz_code rc = mz__one_body(q, app, err, "read application");
	free(key);
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Application not found (name: %s)", name);
	return rc;
}

/* Inserts or replaces by lower-cased name. */
mz_code
mz_app_put(mz_store *st, const json_t *app, mz_err *err)
{
	const char *name = mz_json_str(app, "name");
	if (!name || !*name)
		return mz_fail(err, MZ_EINVAL, "application has no name");
	mz_stmt *q = mz__stmt(st, Q_APP_PUT, err);
	if (!q)
		return MZ_EIO;
	char *key = lower(name);
	char *body = mz_json_dump(app);
	mz__text(q, 1, key);
	mz__text(q, 2, body);
	mz__int(q, 3, mz_now_ms());
	mz_code rc = mz__run(q, NULL, err, "save application");
	free(body);
	free(key);
	return rc;
}

mz_code
mz_app_delete(mz_store *st, const char *name, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_APP_DEL, err);
	if (!q)
		return MZ_EIO;
	char *key = lower(name);
	mz__text(q, 1, key);
	mz_code rc = mz__run(q, NULL, err, "delete application");
	free(key);
	return rc;
}

mz_code
mz_app_list(mz_store *st, json_t **apps, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_APP_LIST, err);
	return q ? mz__all_bodies(q, apps, err, "list applications") : MZ_EIO;
}

/* ---- pipeline configs ------------------------------------------------- */

mz_code
mz_pipeline_get(mz_store *st, const char *id, json_t **cfg, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_PIPE_GET, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	mz_code rc = mz__one_body(q, cfg, err, "read pipeline");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Pipeline config not found (id: %s)", id);
	return rc;
}

static mz_code
by_name(mz_store *st, const char *app, const char *name, bool ci, json_t **cfg, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, ci ? Q_PIPE_BY_NAME_CI : Q_PIPE_BY_NAME, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, app);
	mz__text(q, 2, name);
	mz_code rc = mz__one_body(q, cfg, err, "read pipeline");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Pipeline config (id: %s) not found for Application (id: %s)",
		        name, app);
	return rc;
}

mz_code
mz_pipeline_get_by_name(mz_store *st, const char *app, const char *name, json_t **cfg,
                        mz_err *err)
{
	return by_name(st, app, name, false, cfg, err);
}

mz_code
mz_pipeline_find_name_ci(mz_store *st, const char *app, const char *name, json_t **cfg,
                         mz_err *err)
{
	return by_name(st, app, name, true, cfg, err);
}

/* A version is kept per distinct body, as Front50's SQL history does. */
static mz_code
record_history(mz_store *st, const char *id, const char *body, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_HIST_NEWEST, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	int rc = mz__step(q);
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "read pipeline history");
		mz__reset(q);
		return code;
	}
	bool same = rc == MZ_STEP_ROW && strcmp(mz__col_text(q, 0), body) == 0;
	mz__reset(q);
	if (same)
		return MZ_OK;
	q = mz__stmt(st, Q_HIST_ADD, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	mz__text(q, 2, body);
	mz__int(q, 3, mz_now_ms());
	return mz__run(q, NULL, err, "record pipeline history");
}

/* Every save and delete of a pipeline config (and of a pipeline template,
 * which templated configs render: store_docs.c) writes a fresh value here,
 * in the same transaction, so whoever keeps an index of configs (the
 * trigger index of src/events) sees a change with one small read,
 * whichever node or component made it. */
#define GENERATION_KEY "pipelines:generation"

mz_code
mz__pipelines_changed(mz_store *st, mz_err *err)
{
	char gen[27];
	mz_ulid(gen);
	return mz_kv_put(st, GENERATION_KEY, gen, err);
}

mz_code
mz_pipeline_put(mz_store *st, const json_t *cfg, mz_err *err)
{
	const char *id = mz_json_str(cfg, "id");
	const char *app = mz_json_str(cfg, "application");
	const char *name = mz_json_str(cfg, "name");
	if (!id || !app || !name)
		return mz_fail(err, MZ_EINVAL, "pipeline config needs id, application and name");
	mz_stmt *q = mz__stmt(st, Q_PIPE_PUT, err);
	if (!q)
		return MZ_EIO;
	char *body = mz_json_dump(cfg);
	mz__text(q, 1, id);
	mz__text(q, 2, app);
	mz__text(q, 3, name);
	mz__int(q, 4, mz_json_int(cfg, "index", -1));
	mz__text(q, 5, body);
	mz__int(q, 6, mz_now_ms());
	mz_code rc = mz__run(q, NULL, err, "save pipeline");
	if (rc == MZ_OK)
		rc = record_history(st, id, body, err);
	if (rc == MZ_OK)
		rc = mz__pipelines_changed(st, err);
	free(body);
	return rc;
}

mz_code
mz_pipeline_delete(mz_store *st, const char *id, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_PIPE_DEL, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	mz_code rc = mz__run(q, NULL, err, "delete pipeline");
	return rc == MZ_OK ? mz__pipelines_changed(st, err) : rc;
}

mz_code
mz_pipeline_generation(mz_store *st, char **gen, mz_err *err)
{
	mz_code rc = mz_kv_get(st, GENERATION_KEY, gen, err);
	if (rc == MZ_ENOTFOUND) {
		*gen = mz_strdup("none");
		rc = MZ_OK;
	}
	return rc;
}

mz_code
mz_pipeline_list(mz_store *st, const char *app, json_t **cfgs, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, app ? Q_PIPE_LIST : Q_PIPE_LIST_ALL, err);
	if (!q)
		return MZ_EIO;
	if (app)
		mz__text(q, 1, app);
	return mz__all_bodies(q, cfgs, err, "list pipelines");
}

mz_code
mz_pipeline_history(mz_store *st, const char *id, int limit, json_t **versions, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_HIST_LIST, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	mz__int(q, 2, limit > 0 ? limit : 20);
	return mz__all_bodies(q, versions, err, "read pipeline history");
}
