/* store_exec.c - executions (Orca's execution repository), written once
 * over the store driver. The whole document is the body column; the
 * indexed columns are read from it on every write. */
#include "store/store_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mz_code
mz_exec_get(mz_store *st, const char *id, json_t **exec, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_EXEC_GET, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	mz_code rc = mz__one_body(q, exec, err, "read execution");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Execution not found (id: %s)", id);
	return rc;
}

mz_code
mz_exec_get_locked(mz_store *st, const char *id, json_t **exec, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_EXEC_GET_LOCKED, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	mz_code rc = mz__one_body(q, exec, err, "read execution");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Execution not found (id: %s)", id);
	return rc;
}

static mz_code
get_raw(mz_store *st, int q_index, const char *id, char **body, size_t *len, char type[16],
        mz_err *err)
{
	mz_stmt *q = mz__stmt(st, q_index, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	int rc = mz__step(q);
	if (rc == MZ_STEP_DONE) {
		mz__reset(q);
		return mz_fail(err, MZ_ENOTFOUND, "Execution not found (id: %s)", id);
	}
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "read execution");
		mz__reset(q);
		return code;
	}
	size_t n = mz__col_bytes(q, 0);
	*body = malloc(n + 1);
	if (!*body) {
		mz__reset(q);
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	}
	memcpy(*body, mz__col_text(q, 0), n);
	(*body)[n] = '\0';
	if (len)
		*len = n;
	if (type)
		snprintf(type, 16, "%s", mz__col_text(q, 1));
	mz__reset(q);
	return MZ_OK;
}

mz_code
mz_exec_get_raw(mz_store *st, const char *id, char **body, size_t *len, char type[16],
                mz_err *err)
{
	return get_raw(st, Q_EXEC_GET_RAW, id, body, len, type, err);
}

mz_code
mz_exec_get_raw_locked(mz_store *st, const char *id, char **body, size_t *len, char type[16],
                       mz_err *err)
{
	return get_raw(st, Q_EXEC_GET_RAW_LOCKED, id, body, len, type, err);
}

static void
bind_time(mz_stmt *q, int i, const json_t *exec, const char *key)
{
	json_t *v = json_object_get(exec, key);
	if (json_is_integer(v))
		mz__int(q, i, json_integer_value(v));
	else
		mz__text(q, i, NULL);
}

static const char *
str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *v = mz_json_str(o, key);
	return v ? v : dflt;
}

mz_code
mz_exec_put_text(mz_store *st, const json_t *exec, const char *body, mz_err *err)
{
	if (!mz_json_str(exec, "id"))
		return mz_fail(err, MZ_EINVAL, "execution has no id");
	mz_stmt *q = mz__stmt(st, Q_EXEC_PUT, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, mz_json_str(exec, "id"));
	mz__text(q, 2, str_or(exec, "type", "PIPELINE"));
	mz__text(q, 3, str_or(exec, "application", ""));
	mz__text(q, 4, mz_json_str(exec, "pipelineConfigId"));
	mz__text(q, 5, str_or(exec, "status", "NOT_STARTED"));
	bind_time(q, 6, exec, "buildTime");
	bind_time(q, 7, exec, "startTime");
	bind_time(q, 8, exec, "endTime");
	mz__text(q, 9, body);
	return mz__run(q, NULL, err, "save execution");
}

mz_code
mz_exec_put(mz_store *st, const json_t *exec, mz_err *err)
{
	if (!mz_json_str(exec, "id"))
		return mz_fail(err, MZ_EINVAL, "execution has no id");
	char *body = mz_json_dump(exec);
	mz_code rc = mz_exec_put_text(st, exec, body, err);
	free(body);
	return rc;
}

mz_code
mz_exec_delete(mz_store *st, const char *id, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_EXEC_DEL, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, id);
	return mz__run(q, NULL, err, "delete execution");
}

/* The query is built per call (its shape depends on the filters) and not
 * cached; list endpoints are far rarer than engine messages. */
mz_code
mz_exec_query_run(mz_store *st, const mz_exec_query *qy, json_t **execs, mz_err *err)
{
	mz_buf sql;
	int param = 1;

	mz_buf_init(&sql, 0);
	mz_store__exec_query_sql(qy, &sql);
	mz_stmt *q = st->drv->prepare_once(st, sql.data, err);
	mz_buf_release(&sql);
	if (!q)
		return MZ_EIO;
	if (qy->type)
		mz__text(q, param++, qy->type);
	if (qy->application)
		mz__text(q, param++, qy->application);
	for (int i = 0; qy->config_ids && qy->config_ids[i]; i++)
		mz__text(q, param++, qy->config_ids[i]);
	for (int i = 0; qy->statuses && qy->statuses[i]; i++)
		mz__text(q, param++, qy->statuses[i]);
	mz_code rc = mz__all_bodies(q, execs, err, "query executions");
	st->drv->finalize(q);
	return rc;
}

mz_code
mz_exec_count_status(mz_store *st, const char *config_id, const char *status,
                     const char *except_id, int *count, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, except_id ? Q_EXEC_COUNT_EXCEPT : Q_EXEC_COUNT, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, config_id);
	mz__text(q, 2, status);
	if (except_id)
		mz__text(q, 3, except_id);
	int64_t n = 0;
	mz_code rc = mz__one_int(q, &n, NULL, err, "count");
	*count = (int)n;
	return rc;
}
