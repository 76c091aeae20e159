/*
 * store_retention.c - deletes what retention no longer keeps, a little at a
 * time: every call removes at most `batch` rows and says how many, so the
 * caller runs many small transactions (the write lock is shared with the
 * engine and every API write) instead of one huge one. Running executions
 * are never candidates: only finished statuses are matched.
 */
#include "store/store_int.h"

#include <stdlib.h>

#define FINISHED "('SUCCEEDED','TERMINAL','CANCELED','STOPPED','SKIPPED','FAILED_CONTINUE')"

/* Runs a one-off DELETE with up to three parameters (text, int, int; a
 * NULL text or negative int is not bound) and reports the rows deleted. */
static mz_code
delete_once(mz_store *st, const char *sql, const char *t1, int64_t i2, int64_t i3, int *n,
            mz_err *err, const char *what)
{
	mz_stmt *q = st->drv->prepare_once(st, sql, err);
	if (!q)
		return MZ_EIO;
	int p = 1;
	if (t1)
		mz__text(q, p++, t1);
	if (i2 >= 0)
		mz__int(q, p++, i2);
	if (i3 >= 0)
		mz__int(q, p++, i3);
	int64_t changed = 0;
	mz_code rc = mz__run(q, &changed, err, what);
	st->drv->finalize(q);
	*n = (int)changed;
	return rc;
}

mz_code
mz_retention_executions_beyond(mz_store *st, const char *config_id, int keep, int batch,
                               int *n, mz_err *err)
{
	return delete_once(st,
	                   "DELETE FROM executions WHERE id IN (SELECT id FROM executions "
	                   "WHERE config_id = ?1 AND status IN " FINISHED " "
	                   "ORDER BY build_time DESC, id DESC LIMIT ?3 OFFSET ?2)",
	                   config_id, keep, batch, n, err, "prune executions");
}

mz_code
mz_retention_executions_before(mz_store *st, int64_t before_ms, int batch, int *n, mz_err *err)
{
	return delete_once(st,
	                   "DELETE FROM executions WHERE id IN (SELECT id FROM executions "
	                   "WHERE status IN " FINISHED " AND COALESCE(end_time, build_time) < ?1 "
	                   "LIMIT ?2)",
	                   NULL, before_ms, batch, n, err, "prune old executions");
}

mz_code
mz_retention_events_before(mz_store *st, int64_t before_ms, int batch, int *n, mz_err *err)
{
	return delete_once(st,
	                   "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
	                   "WHERE processed_at IS NOT NULL AND processed_at < ?1 LIMIT ?2)",
	                   NULL, before_ms, batch, n, err, "prune events");
}

mz_code
mz_retention_cloud_ops_before(mz_store *st, int64_t before_ms, int batch, int *n, mz_err *err)
{
	return delete_once(st,
	                   "DELETE FROM cloud_ops WHERE id IN (SELECT id FROM cloud_ops "
	                   "WHERE state = 'done' AND updated_at < ?1 LIMIT ?2)",
	                   NULL, before_ms, batch, n, err, "prune finished cloud operations");
}

mz_code
mz_retention_history_beyond(mz_store *st, const char *pipeline_id, int keep, int batch,
                            int *n, mz_err *err)
{
	return delete_once(st,
	                   "DELETE FROM pipeline_history WHERE seq IN (SELECT seq FROM "
	                   "pipeline_history WHERE pipeline_id = ?1 ORDER BY seq DESC "
	                   "LIMIT ?3 OFFSET ?2)",
	                   pipeline_id, keep, batch, n, err, "prune config history");
}

mz_code
mz_retention_deleted_history(mz_store *st, int batch, int *n, mz_err *err)
{
	return delete_once(st,
	                   "DELETE FROM pipeline_history WHERE seq IN (SELECT h.seq FROM "
	                   "pipeline_history h WHERE NOT EXISTS (SELECT 1 FROM pipelines p "
	                   "WHERE p.id = h.pipeline_id) LIMIT ?1)",
	                   NULL, batch, -1, n, err, "prune history of deleted pipelines");
}

/* The ids in column 0 of a one-off query with one int parameter. */
static mz_code
ids(mz_store *st, const char *sql, int64_t param, json_t **out, mz_err *err, const char *what)
{
	mz_stmt *q = st->drv->prepare_once(st, sql, err);
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, param);
	json_t *arr = json_array();
	int rc;
	while ((rc = mz__step(q)) == MZ_STEP_ROW)
		json_array_append_new(arr, json_string(mz__col_text(q, 0)));
	mz_code code = MZ_OK;
	if (rc < 0) {
		code = mz__fail(st, err, what);
		json_decref(arr);
		arr = NULL;
	}
	st->drv->finalize(q);
	*out = arr;
	return code;
}

mz_code
mz_retention_crowded_configs(mz_store *st, int keep, json_t **out, mz_err *err)
{
	return ids(st,
	           "SELECT config_id FROM executions WHERE config_id IS NOT NULL AND status IN "
	           FINISHED " GROUP BY config_id HAVING COUNT(*) > ?1",
	           keep, out, err, "configs with many executions");
}

mz_code
mz_retention_crowded_histories(mz_store *st, int keep, json_t **out, mz_err *err)
{
	return ids(st,
	           "SELECT pipeline_id FROM pipeline_history GROUP BY pipeline_id "
	           "HAVING COUNT(*) > ?1",
	           keep, out, err, "configs with long histories");
}

mz_code
mz_retention_exec_statuses(mz_store *st, const json_t *exec_ids, json_t **out, mz_err *err)
{
	*out = NULL;
	mz_stmt *q = st->drv->prepare_once(st, "SELECT status FROM executions WHERE id = ?1", err);
	if (!q)
		return MZ_EIO;
	json_t *found = json_object();
	size_t i;
	json_t *v;
	mz_code code = MZ_OK;
	json_array_foreach(exec_ids, i, v) {
		const char *id = json_string_value(v);
		if (!id || json_object_get(found, id))
			continue;
		mz__text(q, 1, id);
		int rc = mz__step(q);
		if (rc == MZ_STEP_ROW) {
			const char *s = mz__col_text(q, 0);
			json_object_set_new(found, id, json_string(s ? s : ""));
		} else if (rc < 0) {
			code = mz__fail(st, err, "look up executions");
			break;
		}
		mz__reset(q);
	}
	st->drv->finalize(q);
	if (code != MZ_OK)
		json_decref(found);
	else
		*out = found;
	return code;
}
