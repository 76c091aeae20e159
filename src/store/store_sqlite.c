/*
 * store_sqlite.c - the SQLite back-end.
 *
 * WAL mode with synchronous=NORMAL: a crash of the process loses nothing
 * that was committed; a power loss may lose the last transactions but never
 * corrupts (MZ_SQLITE_SYNC=FULL selects full durability). Write transactions
 * use BEGIN IMMEDIATE: a deferred transaction that reads and then writes can
 * fail with SQLITE_BUSY at once when its snapshot is stale, while IMMEDIATE
 * waits on the busy timeout instead.
 *
 * Statements are prepared once per connection and cached by their index in
 * the SQL table below.
 */
#include "store/store_sql.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Versioned migrations: entry i brings the schema from version i to i+1.
 * Never edit a released entry; append a new one. */
static const char *const migrations[] = {
	"CREATE TABLE applications(name TEXT PRIMARY KEY, body TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE pipelines(id TEXT PRIMARY KEY, application TEXT NOT NULL,"
	"  name TEXT NOT NULL, name_lc TEXT NOT NULL, idx INTEGER NOT NULL DEFAULT -1,"
	"  body TEXT NOT NULL, updated_at INTEGER NOT NULL);"
	"CREATE INDEX pipelines_app ON pipelines(application, name_lc);"
	"CREATE TABLE pipeline_history(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  pipeline_id TEXT NOT NULL, body TEXT NOT NULL, recorded_at INTEGER NOT NULL);"
	"CREATE INDEX pipeline_history_id ON pipeline_history(pipeline_id, seq);"
	"CREATE TABLE executions(id TEXT PRIMARY KEY, type TEXT NOT NULL,"
	"  application TEXT NOT NULL, config_id TEXT, status TEXT NOT NULL,"
	"  build_time INTEGER, start_time INTEGER, end_time INTEGER, body TEXT NOT NULL);"
	"CREATE INDEX executions_app ON executions(application, type, build_time);"
	"CREATE INDEX executions_cfg ON executions(config_id, build_time);"
	"CREATE INDEX executions_cfg_status ON executions(config_id, status);"
	"CREATE TABLE queue(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  fingerprint TEXT NOT NULL UNIQUE, execution_id TEXT,"
	"  deliver_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX queue_due ON queue(deliver_at, id);"
	"CREATE INDEX queue_exec ON queue(execution_id);"
	"CREATE TABLE pending(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  config_id TEXT NOT NULL, body TEXT NOT NULL);"
	"CREATE INDEX pending_cfg ON pending(config_id, id);"
	"CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
	/* 2: the engine's event outbox */
	"CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);",
	/* 3: incoming events (the event bus) and notification deliveries */
	"CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  event_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, created_at INTEGER NOT NULL,"
	"  processed_at INTEGER, result TEXT);"
	"CREATE INDEX events_unprocessed ON events(seq) WHERE processed_at IS NULL;"
	"CREATE TABLE deliveries(id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT);"
	"CREATE INDEX deliveries_due ON deliveries(next_at, id);",
};

/* SQLite has one writer at a time. Writers of this process queue on this
 * mutex instead of SQLite's busy handler, which polls with sleeps of up to
 * 100 ms and would leave a worker idle long after the lock is free. The
 * busy timeout still covers other processes (e.g. the sqlite3 shell). */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct sq_store {
	mz_store base;
	sqlite3 *db;
	sqlite3_stmt *stmt[Q_COUNT];
} sq_store;

#define SQ(st) ((sq_store *)(st))

static mz_code
db_fail(sq_store *s, mz_err *err, const char *what)
{
	int rc = sqlite3_errcode(s->db);
	mz_code code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? MZ_EBUSY : MZ_EIO;
	return mz_fail(err, code, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* Returns the cached, reset statement for q, or NULL with err set. */
static sqlite3_stmt *
prep(sq_store *s, int q, mz_err *err)
{
	if (!s->stmt[q]) {
		if (sqlite3_prepare_v3(s->db, mz_store__sql[q], -1, SQLITE_PREPARE_PERSISTENT,
		                       &s->stmt[q], NULL) != SQLITE_OK) {
			db_fail(s, err, "prepare");
			return NULL;
		}
	} else {
		sqlite3_reset(s->stmt[q]);
		sqlite3_clear_bindings(s->stmt[q]);
	}
	return s->stmt[q];
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Runs a statement that returns no rows. */
static mz_code
run(sq_store *s, sqlite3_stmt *st, mz_err *err, const char *what)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(s, err, what);
	return MZ_OK;
}

/* Runs a query whose first column is a JSON body; one row -> *out. */
static mz_code
one_body(sq_store *s, sqlite3_stmt *st, json_t **out, mz_err *err, const char *what)
{
	int rc = sqlite3_step(st);
	*out = NULL;
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return MZ_ENOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return db_fail(s, err, what);
	}
	const char *body = (const char *)sqlite3_column_text(st, 0);
	*out = mz_json_parse(body, (size_t)sqlite3_column_bytes(st, 0), err);
	sqlite3_reset(st);
	return *out ? MZ_OK : MZ_EIO;
}

/* Collects the first column of every row into a JSON array. */
static mz_code
all_bodies(sq_store *s, sqlite3_stmt *st, json_t **out, mz_err *err, const char *what)
{
	json_t *arr = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *body = (const char *)sqlite3_column_text(st, 0);
		json_t *v = mz_json_parse(body, (size_t)sqlite3_column_bytes(st, 0), NULL);
		if (v)
			json_array_append_new(arr, v);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return db_fail(s, err, what);
	}
	*out = arr;
	return MZ_OK;
}

static mz_code
count_query(sq_store *s, sqlite3_stmt *st, int *count, mz_err *err)
{
	int rc = sqlite3_step(st);
	*count = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return db_fail(s, err, "count");
	return MZ_OK;
}

/* ---- connection ------------------------------------------------------- */

static void
sq_close(mz_store *st)
{
	sq_store *s = SQ(st);
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	free(s);
}

static mz_code
sq_begin(mz_store *st, mz_err *err)
{
	sq_store *s = SQ(st);
	pthread_mutex_lock(&write_lock);
	sqlite3_stmt *q = prep(s, Q_BEGIN, err);
	mz_code rc = q ? run(s, q, err, "begin") : MZ_EIO;
	if (rc)
		pthread_mutex_unlock(&write_lock);
	return rc;
}

static mz_code
sq_commit(mz_store *st, mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_COMMIT, err);
	mz_code rc = q ? run(s, q, err, "commit") : MZ_EIO;
	if (rc == MZ_OK)
		pthread_mutex_unlock(&write_lock);
	return rc;
}

static void
sq_rollback(mz_store *st)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_ROLLBACK, NULL);
	if (q)
		run(s, q, NULL, "rollback");
	pthread_mutex_unlock(&write_lock);
}

/* ---- applications ----------------------------------------------------- */

static mz_code
sq_app_get(mz_store *st, const char *name, json_t **app, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_APP_GET, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, name);
	mz_code rc = one_body(SQ(st), q, app, err, "read application");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Application not found (name: %s)", name);
	return rc;
}

static mz_code
sq_app_put(mz_store *st, const char *name, const char *body, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_APP_PUT, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, name);
	bind_text(q, 2, body);
	sqlite3_bind_int64(q, 3, mz_now_ms());
	return run(SQ(st), q, err, "save application");
}

static mz_code
sq_app_delete(mz_store *st, const char *name, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_APP_DEL, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, name);
	return run(SQ(st), q, err, "delete application");
}

static mz_code
sq_app_list(mz_store *st, json_t **apps, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_APP_LIST, err);
	return q ? all_bodies(SQ(st), q, apps, err, "list applications") : MZ_EIO;
}

/* ---- pipeline configs ------------------------------------------------- */

static mz_code
sq_pipeline_get(mz_store *st, const char *id, json_t **cfg, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_PIPE_GET, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, id);
	mz_code rc = one_body(SQ(st), q, cfg, err, "read pipeline");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Pipeline config not found (id: %s)", id);
	return rc;
}

static mz_code
sq_pipeline_by_name(mz_store *st, const char *app, const char *name, bool ci, json_t **cfg,
                    mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), ci ? Q_PIPE_BY_NAME_CI : Q_PIPE_BY_NAME, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, app);
	bind_text(q, 2, name);
	mz_code rc = one_body(SQ(st), q, cfg, err, "read pipeline");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Pipeline config (id: %s) not found for Application (id: %s)",
		        name, app);
	return rc;
}

static mz_code
sq_pipeline_put(mz_store *st, const char *id, const char *app, const char *name,
                int64_t index, const char *body, mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_PIPE_PUT, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, id);
	bind_text(q, 2, app);
	bind_text(q, 3, name);
	sqlite3_bind_int64(q, 4, index);
	bind_text(q, 5, body);
	sqlite3_bind_int64(q, 6, mz_now_ms());
	mz_code rc = run(s, q, err, "save pipeline");
	if (rc)
		return rc;
	/* A version is kept per distinct body, as Front50's SQL history does. */
	q = prep(s, Q_HIST_NEWEST, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, id);
	bool same = false;
	if (sqlite3_step(q) == SQLITE_ROW)
		same = strcmp((const char *)sqlite3_column_text(q, 0), body) == 0;
	sqlite3_reset(q);
	if (same)
		return MZ_OK;
	q = prep(s, Q_HIST_ADD, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, id);
	bind_text(q, 2, body);
	sqlite3_bind_int64(q, 3, mz_now_ms());
	return run(s, q, err, "record pipeline history");
}

static mz_code
sq_pipeline_delete(mz_store *st, const char *id, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_PIPE_DEL, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, id);
	return run(SQ(st), q, err, "delete pipeline");
}

static mz_code
sq_pipeline_list(mz_store *st, const char *app, json_t **cfgs, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), app ? Q_PIPE_LIST : Q_PIPE_LIST_ALL, err);
	if (!q)
		return MZ_EIO;
	if (app)
		bind_text(q, 1, app);
	return all_bodies(SQ(st), q, cfgs, err, "list pipelines");
}

static mz_code
sq_pipeline_history(mz_store *st, const char *id, int limit, json_t **versions, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_HIST_LIST, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, id);
	sqlite3_bind_int(q, 2, limit);
	return all_bodies(SQ(st), q, versions, err, "read pipeline history");
}

/* ---- executions ------------------------------------------------------- */

static mz_code
sq_exec_get(mz_store *st, const char *id, json_t **exec, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_EXEC_GET, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, id);
	mz_code rc = one_body(SQ(st), q, exec, err, "read execution");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Execution not found (id: %s)", id);
	return rc;
}

static mz_code
sq_exec_get_raw(mz_store *st, const char *id, char **body, size_t *len, char type[16],
                mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_EXEC_GET_RAW, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(q);
		return mz_fail(err, MZ_ENOTFOUND, "Execution not found (id: %s)", id);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(q);
		return db_fail(SQ(st), err, "read execution");
	}
	size_t n = (size_t)sqlite3_column_bytes(q, 0);
	*body = malloc(n + 1);
	if (!*body) {
		sqlite3_reset(q);
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	}
	memcpy(*body, sqlite3_column_text(q, 0), n);
	(*body)[n] = '\0';
	if (len)
		*len = n;
	if (type)
		snprintf(type, 16, "%s", (const char *)sqlite3_column_text(q, 1));
	sqlite3_reset(q);
	return MZ_OK;
}

static void
bind_time(sqlite3_stmt *q, int i, const json_t *exec, const char *key)
{
	json_t *v = json_object_get(exec, key);
	if (json_is_integer(v))
		sqlite3_bind_int64(q, i, json_integer_value(v));
	else
		sqlite3_bind_null(q, i);
}

static mz_code
sq_exec_put(mz_store *st, const json_t *exec, const char *body, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_EXEC_PUT, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, mz_json_str(exec, "id"));
	bind_text(q, 2, mz_json_str(exec, "type") ? mz_json_str(exec, "type") : "PIPELINE");
	bind_text(q, 3, mz_json_str(exec, "application") ? mz_json_str(exec, "application") : "");
	bind_text(q, 4, mz_json_str(exec, "pipelineConfigId"));
	bind_text(q, 5, mz_json_str(exec, "status") ? mz_json_str(exec, "status") : "NOT_STARTED");
	bind_time(q, 6, exec, "buildTime");
	bind_time(q, 7, exec, "startTime");
	bind_time(q, 8, exec, "endTime");
	bind_text(q, 9, body);
	return run(SQ(st), q, err, "save execution");
}

static mz_code
sq_exec_delete(mz_store *st, const char *id, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_EXEC_DEL, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, id);
	return run(SQ(st), q, err, "delete execution");
}

/* The query is built per call (its shape depends on the filters) and not
 * cached; list endpoints are far rarer than engine messages. */
static mz_code
sq_exec_query(mz_store *st, const mz_exec_query *qy, json_t **execs, mz_err *err)
{
	sq_store *s = SQ(st);
	mz_buf sql;
	int param;
	sqlite3_stmt *q = NULL;

	mz_buf_init(&sql, 0);
	mz_store__exec_query_sql(qy, &sql);

	if (sqlite3_prepare_v2(s->db, sql.data, -1, &q, NULL) != SQLITE_OK) {
		mz_buf_release(&sql);
		return db_fail(s, err, "query executions");
	}
	mz_buf_release(&sql);
	param = 1;
	if (qy->type)
		bind_text(q, param++, qy->type);
	if (qy->application)
		bind_text(q, param++, qy->application);
	for (int i = 0; qy->config_ids && qy->config_ids[i]; i++)
		bind_text(q, param++, qy->config_ids[i]);
	for (int i = 0; qy->statuses && qy->statuses[i]; i++)
		bind_text(q, param++, qy->statuses[i]);
	mz_code rc = all_bodies(s, q, execs, err, "query executions");
	sqlite3_finalize(q);
	return rc;
}

static mz_code
sq_exec_count_status(mz_store *st, const char *config_id, const char *status,
                     const char *except_id, int *count, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), except_id ? Q_EXEC_COUNT_EXCEPT : Q_EXEC_COUNT, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, config_id);
	bind_text(q, 2, status);
	if (except_id)
		bind_text(q, 3, except_id);
	return count_query(SQ(st), q, count, err);
}

/* ---- queue ------------------------------------------------------------ */

/* The message body is its fingerprint (compact JSON, sorted keys), so the
 * table holds it once. */
static mz_code
sq_queue_push(mz_store *st, const char *fp, const char *exec_id, int64_t at,
              bool only_reschedule, mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_QUEUE_FIND, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, fp);
	int rc = sqlite3_step(q);
	int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(s, err, "queue lookup");
	if (id) {
		q = prep(s, Q_QUEUE_MOVE, err);
		if (!q)
			return MZ_EIO;
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, at);
		return run(s, q, err, "queue reschedule");
	}
	if (only_reschedule)
		return MZ_OK;
	q = prep(s, Q_QUEUE_INSERT, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, fp);
	bind_text(q, 2, exec_id);
	sqlite3_bind_int64(q, 3, at);
	return run(s, q, err, "queue push");
}

static mz_code
sq_queue_claim(mz_store *st, int64_t now, int64_t lease_ms, mz_msg *out, int max, int *n,
               mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_QUEUE_CLAIM, err);
	int got = 0, rc;
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, max);
	while (got < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *fp = (const char *)sqlite3_column_text(q, 1);
		json_t *body = mz_json_parse(fp, (size_t)sqlite3_column_bytes(q, 1), NULL);
		if (!body)
			continue;
		out[got].id = sqlite3_column_int64(q, 0);
		out[got].body = body;
		out[got].deliver_at = sqlite3_column_int64(q, 2);
		out[got].attempts = sqlite3_column_int(q, 3) + 1;
		got++;
	}
	sqlite3_reset(q);
	for (int i = 0; i < got; i++) {
		q = prep(s, Q_QUEUE_LEASE, err);
		if (!q)
			goto fail;
		sqlite3_bind_int64(q, 1, out[i].id);
		sqlite3_bind_int64(q, 2, now + lease_ms);
		if (run(s, q, err, "queue lease"))
			goto fail;
	}
	*n = got;
	return MZ_OK;
fail:
	for (int i = 0; i < got; i++)
		mz_msg_release(&out[i]);
	*n = 0;
	return MZ_EIO;
}

static mz_code
sq_queue_ack(mz_store *st, int64_t id, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_QUEUE_ACK, err);
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, id);
	return run(SQ(st), q, err, "queue ack");
}

static mz_code
sq_queue_set_delivery(mz_store *st, int64_t id, int64_t at, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_QUEUE_SET, err);
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, at);
	return run(SQ(st), q, err, "queue set delivery");
}

static mz_code
sq_queue_next_due(mz_store *st, int64_t *when, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_QUEUE_NEXT, err);
	if (!q)
		return MZ_EIO;
	int rc = sqlite3_step(q);
	*when = INT64_MAX;
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL)
		*when = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? MZ_OK : db_fail(SQ(st), err, "queue next");
}

static mz_code
sq_queue_release_leases(mz_store *st, int64_t now, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_QUEUE_RELEASE, err);
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, now);
	return run(SQ(st), q, err, "queue release leases");
}

static mz_code
sq_queue_count_for_execution(mz_store *st, const char *exec_id, int *count, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_QUEUE_COUNT_EXEC, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, exec_id);
	return count_query(SQ(st), q, count, err);
}

/* ---- pending ---------------------------------------------------------- */

static mz_code
sq_pending_push(mz_store *st, const char *config_id, const char *body, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_PEND_PUSH, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, config_id);
	bind_text(q, 2, body);
	return run(SQ(st), q, err, "pending push");
}

static mz_code
sq_pending_pop(mz_store *st, const char *config_id, bool newest, json_t **msg, mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, newest ? Q_PEND_NEWEST : Q_PEND_OLDEST, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, config_id);
	*msg = NULL;
	int rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(q);
		return MZ_OK;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(q);
		return db_fail(s, err, "pending pop");
	}
	int64_t id = sqlite3_column_int64(q, 0);
	*msg = mz_json_parse((const char *)sqlite3_column_text(q, 1),
	                     (size_t)sqlite3_column_bytes(q, 1), NULL);
	sqlite3_reset(q);
	q = prep(s, Q_PEND_DEL, err);
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, id);
	return run(s, q, err, "pending delete");
}

static mz_code
sq_pending_count(mz_store *st, const char *config_id, int *count, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_PEND_COUNT, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, config_id);
	return count_query(SQ(st), q, count, err);
}

/* ---- outbox ----------------------------------------------------------- */

static mz_code
sq_outbox_push(mz_store *st, const char *body, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_OUT_PUSH, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, body);
	sqlite3_bind_int64(q, 2, mz_now_ms());
	return run(SQ(st), q, err, "outbox push");
}

static mz_code
sq_outbox_fetch(mz_store *st, int64_t after_id, int max, json_t **events, mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_OUT_FETCH, err);
	int rc;
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, after_id);
	sqlite3_bind_int(q, 2, max);
	json_t *arr = json_array();
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		json_t *ev = mz_json_parse((const char *)sqlite3_column_text(q, 1),
		                           (size_t)sqlite3_column_bytes(q, 1), NULL);
		json_array_append_new(arr, json_pack("{s:I, s:o}", "id",
		                                     (json_int_t)sqlite3_column_int64(q, 0), "event",
		                                     ev ? ev : json_null()));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return db_fail(s, err, "outbox fetch");
	}
	*events = arr;
	return MZ_OK;
}

static mz_code
sq_outbox_delete(mz_store *st, int64_t id, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_OUT_DEL, err);
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, id);
	return run(SQ(st), q, err, "outbox delete");
}

/* ---- key/value -------------------------------------------------------- */

static mz_code
sq_kv_get(mz_store *st, const char *key, char **value, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_KV_GET, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, key);
	int rc = sqlite3_step(q);
	*value = rc == SQLITE_ROW ? mz_strdup((const char *)sqlite3_column_text(q, 0)) : NULL;
	sqlite3_reset(q);
	if (rc == SQLITE_DONE)
		return MZ_ENOTFOUND;
	return rc == SQLITE_ROW ? MZ_OK : db_fail(SQ(st), err, "kv get");
}

static mz_code
sq_kv_put(mz_store *st, const char *key, const char *value, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_KV_PUT, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, key);
	bind_text(q, 2, value);
	return run(SQ(st), q, err, "kv put");
}

/* ---- incoming events ---------------------------------------------------- */

static mz_code
sq_event_add(mz_store *st, const char *event_id, const char *body, bool *added, mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_EVT_ADD, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, event_id);
	bind_text(q, 2, body);
	sqlite3_bind_int64(q, 3, mz_now_ms());
	mz_code rc = run(s, q, err, "event add");
	if (rc == MZ_OK && added)
		*added = sqlite3_changes(s->db) > 0;
	return rc;
}

static mz_code
sq_event_pending(mz_store *st, int max, json_t **events, mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_EVT_PENDING, err);
	int rc;
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int(q, 1, max);
	json_t *arr = json_array();
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		json_t *ev = mz_json_parse((const char *)sqlite3_column_text(q, 2),
		                           (size_t)sqlite3_column_bytes(q, 2), NULL);
		json_array_append_new(arr, json_pack("{s:I, s:s, s:o}", "seq",
		                                     (json_int_t)sqlite3_column_int64(q, 0), "eventId",
		                                     (const char *)sqlite3_column_text(q, 1), "event",
		                                     ev ? ev : json_null()));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return db_fail(s, err, "event pending");
	}
	*events = arr;
	return MZ_OK;
}

static mz_code
sq_event_done(mz_store *st, int64_t seq, const char *result, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_EVT_DONE, err);
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, seq);
	sqlite3_bind_int64(q, 2, mz_now_ms());
	bind_text(q, 3, result);
	return run(SQ(st), q, err, "event done");
}

static mz_code
sq_event_get(mz_store *st, const char *event_id, json_t **out, mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_EVT_GET, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, event_id);
	int rc = sqlite3_step(q);
	*out = NULL;
	if (rc == SQLITE_ROW) {
		json_t *ev = mz_json_parse((const char *)sqlite3_column_text(q, 2),
		                           (size_t)sqlite3_column_bytes(q, 2), NULL);
		json_t *res = NULL;
		if (sqlite3_column_type(q, 4) != SQLITE_NULL)
			res = mz_json_parse((const char *)sqlite3_column_text(q, 4),
			                    (size_t)sqlite3_column_bytes(q, 4), NULL);
		*out = json_pack("{s:I, s:s, s:o, s:b, s:o}", "seq",
		                 (json_int_t)sqlite3_column_int64(q, 0), "eventId",
		                 (const char *)sqlite3_column_text(q, 1), "event",
		                 ev ? ev : json_null(), "processed",
		                 sqlite3_column_type(q, 3) != SQLITE_NULL, "result",
		                 res ? res : json_null());
	}
	sqlite3_reset(q);
	if (rc == SQLITE_DONE)
		return MZ_ENOTFOUND;
	return rc == SQLITE_ROW ? MZ_OK : db_fail(s, err, "event get");
}

/* ---- notification deliveries ------------------------------------------ */

static mz_code
sq_delivery_push(mz_store *st, const char *body, int64_t deliver_at, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_DLV_PUSH, err);
	if (!q)
		return MZ_EIO;
	bind_text(q, 1, body);
	sqlite3_bind_int64(q, 2, deliver_at);
	return run(SQ(st), q, err, "delivery push");
}

static mz_code
sq_delivery_due(mz_store *st, int64_t now, int max, json_t **out, mz_err *err)
{
	sq_store *s = SQ(st);
	sqlite3_stmt *q = prep(s, Q_DLV_DUE, err);
	int rc;
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, max);
	json_t *arr = json_array();
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		json_t *d = mz_json_parse((const char *)sqlite3_column_text(q, 2),
		                          (size_t)sqlite3_column_bytes(q, 2), NULL);
		json_array_append_new(arr, json_pack("{s:I, s:i, s:o}", "id",
		                                     (json_int_t)sqlite3_column_int64(q, 0),
		                                     "attempts", sqlite3_column_int(q, 1),
		                                     "delivery", d ? d : json_null()));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return db_fail(s, err, "delivery due");
	}
	*out = arr;
	return MZ_OK;
}

static mz_code
sq_delivery_retry(mz_store *st, int64_t id, int64_t deliver_at, const char *error,
                  mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_DLV_RETRY, err);
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, deliver_at);
	bind_text(q, 3, error);
	return run(SQ(st), q, err, "delivery retry");
}

static mz_code
sq_delivery_delete(mz_store *st, int64_t id, mz_err *err)
{
	sqlite3_stmt *q = prep(SQ(st), Q_DLV_DEL, err);
	if (!q)
		return MZ_EIO;
	sqlite3_bind_int64(q, 1, id);
	return run(SQ(st), q, err, "delivery delete");
}

static const mz_store_ops sqlite_ops = {
	.kind = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.app_get = sq_app_get,
	.app_put = sq_app_put,
	.app_delete = sq_app_delete,
	.app_list = sq_app_list,
	.pipeline_get = sq_pipeline_get,
	.pipeline_by_name = sq_pipeline_by_name,
	.pipeline_put = sq_pipeline_put,
	.pipeline_delete = sq_pipeline_delete,
	.pipeline_list = sq_pipeline_list,
	.pipeline_history = sq_pipeline_history,
	.exec_get = sq_exec_get,
	.exec_get_raw = sq_exec_get_raw,
	.exec_put = sq_exec_put,
	.exec_delete = sq_exec_delete,
	.exec_query = sq_exec_query,
	.exec_count_status = sq_exec_count_status,
	.queue_push = sq_queue_push,
	.queue_claim = sq_queue_claim,
	.queue_ack = sq_queue_ack,
	.queue_set_delivery = sq_queue_set_delivery,
	.queue_next_due = sq_queue_next_due,
	.queue_release_leases = sq_queue_release_leases,
	.queue_count_for_execution = sq_queue_count_for_execution,
	.pending_push = sq_pending_push,
	.pending_pop = sq_pending_pop,
	.pending_count = sq_pending_count,
	.outbox_push = sq_outbox_push,
	.outbox_fetch = sq_outbox_fetch,
	.outbox_delete = sq_outbox_delete,
	.kv_get = sq_kv_get,
	.kv_put = sq_kv_put,
	.event_add = sq_event_add,
	.event_pending = sq_event_pending,
	.event_done = sq_event_done,
	.event_get = sq_event_get,
	.delivery_push = sq_delivery_push,
	.delivery_due = sq_delivery_due,
	.delivery_retry = sq_delivery_retry,
	.delivery_delete = sq_delivery_delete,
};

/* Applies every migration newer than the file's user_version, each in its
 * own transaction together with the version bump. */
static mz_code
migrate(sq_store *s, mz_err *err)
{
	int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	for (;;) {
		sqlite3_stmt *q;
		int version = 0;
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(s, err, "migration begin");
		if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK) {
			if (sqlite3_step(q) == SQLITE_ROW)
				version = sqlite3_column_int(q, 0);
			sqlite3_finalize(q);
		}
		if (version >= n) {
			sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
			if (version > n)
				return mz_fail(err, MZ_EIO,
				               "database schema version %d is newer than this mizzen (%d)",
				               version, n);
			return MZ_OK;
		}
		char bump[64];
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", version + 1);
		if (sqlite3_exec(s->db, migrations[version], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(s->db, bump, NULL, NULL, NULL) != SQLITE_OK) {
			mz_code rc = db_fail(s, err, "migration");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(s, err, "migration commit");
		mz_info("store: schema migrated to version %d", version + 1);
	}
}

mz_code
mz_store__sqlite_open(const char *path, mz_store **out, mz_err *err)
{
	sq_store *s = calloc(1, sizeof(*s));
	const char *sync = getenv("MZ_SQLITE_SYNC");
	char pragma[64];

	if (!s)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	s->base.ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		mz_fail(err, MZ_EIO, "cannot open database %s: %s", path,
		        s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sqlite3_close(s->db);
		free(s);
		return MZ_EIO;
	}
	sqlite3_busy_timeout(s->db, 10000);
	snprintf(pragma, sizeof(pragma), "PRAGMA synchronous = %s",
	         sync && strcmp(sync, "FULL") == 0 ? "FULL" : "NORMAL");
	if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(s, err, "configure");
		sq_close(&s->base);
		return MZ_EIO;
	}
	mz_code rc = migrate(s, err);
	if (rc) {
		sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return MZ_OK;
}
