/*
 * store_pg.c - the PostgreSQL back-end (libpq), selected by a postgres://
 * URL. It runs the same statements as the SQLite back-end (store_sql.c),
 * with ?N parameters rewritten to $N and each statement prepared once per
 * connection.
 *
 * Writers are serialised like SQLite's single writer: every write
 * transaction starts by taking one transaction-scoped advisory lock. The
 * engine's handlers then see the same one-writer world on both back-ends
 * (no lost update of an execution document by two workers), and the lock
 * is released by COMMIT or ROLLBACK, also when the process dies.
 */
#include "store/store_sql.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The advisory lock every write transaction holds (an arbitrary constant). */
#define MZ_PG_WRITE_LOCK 7274917

/* Versioned migrations, as in store_sqlite.c; times are ms (BIGINT). */
static const char *const migrations[] = {
	"CREATE TABLE applications(name TEXT PRIMARY KEY, body TEXT NOT NULL,"
	"  updated_at BIGINT NOT NULL);"
	"CREATE TABLE pipelines(id TEXT PRIMARY KEY, application TEXT NOT NULL,"
	"  name TEXT NOT NULL, name_lc TEXT NOT NULL, idx BIGINT NOT NULL DEFAULT -1,"
	"  body TEXT NOT NULL, updated_at BIGINT NOT NULL);"
	"CREATE INDEX pipelines_app ON pipelines(application, name_lc);"
	"CREATE TABLE pipeline_history(seq BIGSERIAL PRIMARY KEY,"
	"  pipeline_id TEXT NOT NULL, body TEXT NOT NULL, recorded_at BIGINT NOT NULL);"
	"CREATE INDEX pipeline_history_id ON pipeline_history(pipeline_id, seq);"
	"CREATE TABLE executions(id TEXT PRIMARY KEY, type TEXT NOT NULL,"
	"  application TEXT NOT NULL, config_id TEXT, status TEXT NOT NULL,"
	"  build_time BIGINT, start_time BIGINT, end_time BIGINT, body TEXT NOT NULL);"
	"CREATE INDEX executions_app ON executions(application, type, build_time);"
	"CREATE INDEX executions_cfg ON executions(config_id, build_time);"
	"CREATE INDEX executions_cfg_status ON executions(config_id, status);"
	"CREATE TABLE queue(id BIGSERIAL PRIMARY KEY,"
	"  fingerprint TEXT NOT NULL UNIQUE, execution_id TEXT,"
	"  deliver_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX queue_due ON queue(deliver_at, id);"
	"CREATE INDEX queue_exec ON queue(execution_id);"
	"CREATE TABLE pending(id BIGSERIAL PRIMARY KEY,"
	"  config_id TEXT NOT NULL, body TEXT NOT NULL);"
	"CREATE INDEX pending_cfg ON pending(config_id, id);"
	"CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
	"CREATE TABLE outbox(id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL,"
	"  created_at BIGINT NOT NULL);",
	"CREATE TABLE events(seq BIGSERIAL PRIMARY KEY,"
	"  event_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, created_at BIGINT NOT NULL,"
	"  processed_at BIGINT, result TEXT);"
	"CREATE INDEX events_unprocessed ON events(seq) WHERE processed_at IS NULL;"
	"CREATE TABLE deliveries(id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT NOT NULL, last_error TEXT);"
	"CREATE INDEX deliveries_due ON deliveries(next_at, id);",
};

typedef struct pg_store {
	mz_store base;
	PGconn *conn;
	bool prepared[Q_COUNT];
} pg_store;

#define PG(st) ((pg_store *)(st))

/* A parameter list: text values, with integers formatted into slots.
 * MZ_PG_MAX_PARAMS covers the widest shared statement (the execution
 * upsert's 9); adding past it is a programming error caught here. */
#define MZ_PG_MAX_PARAMS 12

typedef struct params {
	const char *v[MZ_PG_MAX_PARAMS];
	char num[MZ_PG_MAX_PARAMS][24];
	int n;
} params;

static void
p_text(params *p, const char *s)
{
	if (p->n >= MZ_PG_MAX_PARAMS)
		abort();
	p->v[p->n++] = s;
}

static void
p_int(params *p, int64_t x)
{
	if (p->n >= MZ_PG_MAX_PARAMS)
		abort();
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

static mz_code
pg_fail(pg_store *s, const PGresult *res, mz_err *err, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn);
	/* serialization failure, deadlock, lock timeout: try again */
	bool busy = state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	                      strcmp(state, "55P03") == 0);
	char clean[400];
	snprintf(clean, sizeof(clean), "%s", msg ? msg : "unknown error");
	size_t n = strlen(clean);
	while (n > 0 && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
		clean[--n] = '\0';
	return mz_fail(err, busy ? MZ_EBUSY : MZ_EIO, "store: %s: %s", what, clean);
}

/* ?N -> $N, outside string literals. */
static char *
to_dollars(const char *sql)
{
	char *out = mz_strdup(sql);
	bool quoted = false;
	for (char *p = out; *p; p++) {
		if (*p == '\'')
			quoted = !quoted;
		else if (*p == '?' && !quoted && p[1] >= '0' && p[1] <= '9')
			*p = '$';
	}
	return out;
}

/* Runs shared statement q with params; returns the result (PQclear it) or
 * NULL with err set. */
static PGresult *
exec_q(pg_store *s, int q, const params *p, mz_err *err, const char *what)
{
	char name[16];
	snprintf(name, sizeof(name), "mz%d", q);
	if (!s->prepared[q]) {
		char *sql = to_dollars(mz_store__sql[q]);
		PGresult *res = PQprepare(s->conn, name, sql, 0, NULL);
		free(sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pg_fail(s, res, err, "prepare");
			PQclear(res);
			return NULL;
		}
		PQclear(res);
		s->prepared[q] = true;
	}
	PGresult *res = PQexecPrepared(s->conn, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		pg_fail(s, res, err, what);
		PQclear(res);
		return NULL;
	}
	return res;
}

static mz_code
run_q(pg_store *s, int q, const params *p, mz_err *err, const char *what)
{
	PGresult *res = exec_q(s, q, p, err, what);
	if (!res)
		return err ? err->code : MZ_EIO;
	PQclear(res);
	return MZ_OK;
}

static mz_code
exec_sql(pg_store *s, const char *sql, mz_err *err, const char *what)
{
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	mz_code rc = MZ_OK;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = pg_fail(s, res, err, what);
	PQclear(res);
	return rc;
}

static json_t *
parse_cell(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return mz_json_parse(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), NULL);
}

static int64_t
int_cell(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* First column of the only row as JSON. */
static mz_code
one_body(pg_store *s, int q, const params *p, json_t **out, mz_err *err, const char *what)
{
	PGresult *res = exec_q(s, q, p, err, what);
	*out = NULL;
	if (!res)
		return err ? err->code : MZ_EIO;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return MZ_ENOTFOUND;
	}
	*out = parse_cell(res, 0, 0);
	PQclear(res);
	return *out ? MZ_OK : mz_fail(err, MZ_EIO, "store: %s: stored JSON is damaged", what);
}

static mz_code
all_bodies(pg_store *s, int q, const params *p, json_t **out, mz_err *err, const char *what)
{
	PGresult *res = exec_q(s, q, p, err, what);
	if (!res)
		return err ? err->code : MZ_EIO;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *v = parse_cell(res, i, 0);
		if (v)
			json_array_append_new(arr, v);
	}
	PQclear(res);
	*out = arr;
	return MZ_OK;
}

static mz_code
count_q(pg_store *s, int q, const params *p, int *count, mz_err *err)
{
	PGresult *res = exec_q(s, q, p, err, "count");
	if (!res)
		return err ? err->code : MZ_EIO;
	*count = PQntuples(res) ? (int)int_cell(res, 0, 0) : 0;
	PQclear(res);
	return MZ_OK;
}

/* ---- connection ------------------------------------------------------- */

static void
pg_close(mz_store *st)
{
	PQfinish(PG(st)->conn);
	free(st);
}

static mz_code
pg_begin(mz_store *st, mz_err *err)
{
	pg_store *s = PG(st);
	char sql[96];
	snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%d)", MZ_PG_WRITE_LOCK);
	mz_code rc = exec_sql(s, sql, err, "begin");
	if (rc)
		exec_sql(s, "ROLLBACK", NULL, "rollback");
	return rc;
}

static mz_code
pg_commit(mz_store *st, mz_err *err)
{
	return exec_sql(PG(st), "COMMIT", err, "commit");
}

static void
pg_rollback(mz_store *st)
{
	exec_sql(PG(st), "ROLLBACK", NULL, "rollback");
}

/* ---- applications and pipelines -------------------------------------- */

static mz_code
pg_app_get(mz_store *st, const char *name, json_t **app, mz_err *err)
{
	params p = {0};
	p_text(&p, name);
	mz_code rc = one_body(PG(st), Q_APP_GET, &p, app, err, "read application");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Application not found (name: %s)", name);
	return rc;
}

static mz_code
pg_app_put(mz_store *st, const char *name, const char *body, mz_err *err)
{
	params p = {0};
	p_text(&p, name);
	p_text(&p, body);
	p_int(&p, mz_now_ms());
	return run_q(PG(st), Q_APP_PUT, &p, err, "save application");
}

static mz_code
pg_app_delete(mz_store *st, const char *name, mz_err *err)
{
	params p = {0};
	p_text(&p, name);
	return run_q(PG(st), Q_APP_DEL, &p, err, "delete application");
}

static mz_code
pg_app_list(mz_store *st, json_t **apps, mz_err *err)
{
	return all_bodies(PG(st), Q_APP_LIST, NULL, apps, err, "list applications");
}

static mz_code
pg_pipeline_get(mz_store *st, const char *id, json_t **cfg, mz_err *err)
{
	params p = {0};
	p_text(&p, id);
	mz_code rc = one_body(PG(st), Q_PIPE_GET, &p, cfg, err, "read pipeline");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Pipeline config not found (id: %s)", id);
	return rc;
}

static mz_code
pg_pipeline_by_name(mz_store *st, const char *app, const char *name, bool ci, json_t **cfg,
                    mz_err *err)
{
	params p = {0};
	p_text(&p, app);
	p_text(&p, name);
	mz_code rc = one_body(PG(st), ci ? Q_PIPE_BY_NAME_CI : Q_PIPE_BY_NAME, &p, cfg, err,
	                      "read pipeline");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Pipeline config (id: %s) not found for Application (id: %s)",
		        name, app);
	return rc;
}

static mz_code
pg_pipeline_put(mz_store *st, const char *id, const char *app, const char *name,
                int64_t index, const char *body, mz_err *err)
{
	pg_store *s = PG(st);
	params p = {0};
	p_text(&p, id);
	p_text(&p, app);
	p_text(&p, name);
	p_int(&p, index);
	p_text(&p, body);
	p_int(&p, mz_now_ms());
	mz_code rc = run_q(s, Q_PIPE_PUT, &p, err, "save pipeline");
	if (rc)
		return rc;
	json_t *newest = NULL;
	params h = {0};
	p_text(&h, id);
	PGresult *res = exec_q(s, Q_HIST_NEWEST, &h, err, "read pipeline history");
	if (!res)
		return MZ_EIO;
	bool same = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), body) == 0;
	PQclear(res);
	(void)newest;
	if (same)
		return MZ_OK;
	params a = {0};
	p_text(&a, id);
	p_text(&a, body);
	p_int(&a, mz_now_ms());
	return run_q(s, Q_HIST_ADD, &a, err, "record pipeline history");
}

static mz_code
pg_pipeline_delete(mz_store *st, const char *id, mz_err *err)
{
	params p = {0};
	p_text(&p, id);
	return run_q(PG(st), Q_PIPE_DEL, &p, err, "delete pipeline");
}

static mz_code
pg_pipeline_list(mz_store *st, const char *app, json_t **cfgs, mz_err *err)
{
	params p = {0};
	if (app)
		p_text(&p, app);
	return all_bodies(PG(st), app ? Q_PIPE_LIST : Q_PIPE_LIST_ALL, &p, cfgs, err,
	                  "list pipelines");
}

static mz_code
pg_pipeline_history(mz_store *st, const char *id, int limit, json_t **versions, mz_err *err)
{
	params p = {0};
	p_text(&p, id);
	p_int(&p, limit);
	return all_bodies(PG(st), Q_HIST_LIST, &p, versions, err, "read pipeline history");
}

/* ---- executions ------------------------------------------------------- */

static mz_code
pg_exec_get(mz_store *st, const char *id, json_t **exec, mz_err *err)
{
	params p = {0};
	p_text(&p, id);
	mz_code rc = one_body(PG(st), Q_EXEC_GET, &p, exec, err, "read execution");
	if (rc == MZ_ENOTFOUND)
		mz_fail(err, rc, "Execution not found (id: %s)", id);
	return rc;
}

static mz_code
pg_exec_get_raw(mz_store *st, const char *id, char **body, size_t *len, char type[16],
                mz_err *err)
{
	params p = {0};
	p_text(&p, id);
	PGresult *res = exec_q(PG(st), Q_EXEC_GET_RAW, &p, err, "read execution");
	if (!res)
		return MZ_EIO;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return mz_fail(err, MZ_ENOTFOUND, "Execution not found (id: %s)", id);
	}
	size_t n = (size_t)PQgetlength(res, 0, 0);
	*body = malloc(n + 1);
	if (!*body) {
		PQclear(res);
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	}
	memcpy(*body, PQgetvalue(res, 0, 0), n);
	(*body)[n] = '\0';
	if (len)
		*len = n;
	if (type)
		snprintf(type, 16, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return MZ_OK;
}

static void
p_time(params *p, const json_t *exec, const char *key)
{
	json_t *v = json_object_get(exec, key);
	if (json_is_integer(v))
		p_int(p, json_integer_value(v));
	else
		p_text(p, NULL);
}

static mz_code
pg_exec_put(mz_store *st, const json_t *exec, const char *body, mz_err *err)
{
	params p = {0};
	const char *type = mz_json_str(exec, "type");
	const char *app = mz_json_str(exec, "application");
	const char *status = mz_json_str(exec, "status");
	p_text(&p, mz_json_str(exec, "id"));
	p_text(&p, type ? type : "PIPELINE");
	p_text(&p, app ? app : "");
	p_text(&p, mz_json_str(exec, "pipelineConfigId"));
	p_text(&p, status ? status : "NOT_STARTED");
	p_time(&p, exec, "buildTime");
	p_time(&p, exec, "startTime");
	p_time(&p, exec, "endTime");
	p_text(&p, body);
	return run_q(PG(st), Q_EXEC_PUT, &p, err, "save execution");
}

static mz_code
pg_exec_delete(mz_store *st, const char *id, mz_err *err)
{
	params p = {0};
	p_text(&p, id);
	return run_q(PG(st), Q_EXEC_DEL, &p, err, "delete execution");
}

static mz_code
pg_exec_query(mz_store *st, const mz_exec_query *qy, json_t **execs, mz_err *err)
{
	pg_store *s = PG(st);
	mz_buf sql;
	size_t n = 0;
	const char **vals;
	mz_buf_init(&sql, 0);
	mz_store__exec_query_sql(qy, &sql);
	char *text = to_dollars(sql.data);
	mz_buf_release(&sql);
	for (int i = 0; qy->config_ids && qy->config_ids[i]; i++)
		n++;
	for (int i = 0; qy->statuses && qy->statuses[i]; i++)
		n++;
	vals = calloc(n + 2, sizeof(*vals));
	n = 0;
	if (qy->type)
		vals[n++] = qy->type;
	if (qy->application)
		vals[n++] = qy->application;
	for (int i = 0; qy->config_ids && qy->config_ids[i]; i++)
		vals[n++] = qy->config_ids[i];
	for (int i = 0; qy->statuses && qy->statuses[i]; i++)
		vals[n++] = qy->statuses[i];
	PGresult *res = PQexecParams(s->conn, text, (int)n, NULL, vals, NULL, NULL, 0);
	free(text);
	free(vals);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		mz_code rc = pg_fail(s, res, err, "query executions");
		PQclear(res);
		return rc;
	}
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *v = parse_cell(res, i, 0);
		if (v)
			json_array_append_new(arr, v);
	}
	PQclear(res);
	*execs = arr;
	return MZ_OK;
}

static mz_code
pg_exec_count_status(mz_store *st, const char *config_id, const char *status,
                     const char *except_id, int *count, mz_err *err)
{
	params p = {0};
	p_text(&p, config_id);
	p_text(&p, status);
	if (except_id)
		p_text(&p, except_id);
	return count_q(PG(st), except_id ? Q_EXEC_COUNT_EXCEPT : Q_EXEC_COUNT, &p, count, err);
}

/* ---- queue ------------------------------------------------------------ */

static mz_code
pg_queue_push(mz_store *st, const char *fp, const char *exec_id, int64_t at,
              bool only_reschedule, mz_err *err)
{
	pg_store *s = PG(st);
	params f = {0};
	p_text(&f, fp);
	PGresult *res = exec_q(s, Q_QUEUE_FIND, &f, err, "queue lookup");
	if (!res)
		return MZ_EIO;
	int64_t id = PQntuples(res) ? int_cell(res, 0, 0) : 0;
	PQclear(res);
	params p = {0};
	if (id) {
		p_int(&p, id);
		p_int(&p, at);
		return run_q(s, Q_QUEUE_MOVE, &p, err, "queue reschedule");
	}
	if (only_reschedule)
		return MZ_OK;
	p_text(&p, fp);
	p_text(&p, exec_id);
	p_int(&p, at);
	return run_q(s, Q_QUEUE_INSERT, &p, err, "queue push");
}

static mz_code
pg_queue_claim(mz_store *st, int64_t now, int64_t lease_ms, mz_msg *out, int max, int *n,
               mz_err *err)
{
	pg_store *s = PG(st);
	params p = {0};
	int got = 0;
	p_int(&p, now);
	p_int(&p, max);
	PGresult *res = exec_q(s, Q_QUEUE_CLAIM, &p, err, "queue claim");
	*n = 0;
	if (!res)
		return MZ_EIO;
	for (int i = 0; i < PQntuples(res) && got < max; i++) {
		json_t *body = parse_cell(res, i, 1);
		if (!body)
			continue;
		out[got].id = int_cell(res, i, 0);
		out[got].body = body;
		out[got].deliver_at = int_cell(res, i, 2);
		out[got].attempts = (int)int_cell(res, i, 3) + 1;
		got++;
	}
	PQclear(res);
	for (int i = 0; i < got; i++) {
		params l = {0};
		p_int(&l, out[i].id);
		p_int(&l, now + lease_ms);
		if (run_q(s, Q_QUEUE_LEASE, &l, err, "queue lease")) {
			for (int j = 0; j < got; j++)
				mz_msg_release(&out[j]);
			return MZ_EIO;
		}
	}
	*n = got;
	return MZ_OK;
}

static mz_code
pg_queue_ack(mz_store *st, int64_t id, mz_err *err)
{
	params p = {0};
	p_int(&p, id);
	return run_q(PG(st), Q_QUEUE_ACK, &p, err, "queue ack");
}

static mz_code
pg_queue_set_delivery(mz_store *st, int64_t id, int64_t at, mz_err *err)
{
	params p = {0};
	p_int(&p, id);
	p_int(&p, at);
	return run_q(PG(st), Q_QUEUE_SET, &p, err, "queue set delivery");
}

static mz_code
pg_queue_next_due(mz_store *st, int64_t *when, mz_err *err)
{
	PGresult *res = exec_q(PG(st), Q_QUEUE_NEXT, NULL, err, "queue next");
	*when = INT64_MAX;
	if (!res)
		return MZ_EIO;
	if (PQntuples(res) && !PQgetisnull(res, 0, 0))
		*when = int_cell(res, 0, 0);
	PQclear(res);
	return MZ_OK;
}

static mz_code
pg_queue_release_leases(mz_store *st, int64_t now, mz_err *err)
{
	params p = {0};
	p_int(&p, now);
	return run_q(PG(st), Q_QUEUE_RELEASE, &p, err, "queue release leases");
}

static mz_code
pg_queue_count_for_execution(mz_store *st, const char *exec_id, int *count, mz_err *err)
{
	params p = {0};
	p_text(&p, exec_id);
	return count_q(PG(st), Q_QUEUE_COUNT_EXEC, &p, count, err);
}

/* ---- pending, outbox, kv ---------------------------------------------- */

static mz_code
pg_pending_push(mz_store *st, const char *config_id, const char *body, mz_err *err)
{
	params p = {0};
	p_text(&p, config_id);
	p_text(&p, body);
	return run_q(PG(st), Q_PEND_PUSH, &p, err, "pending push");
}

static mz_code
pg_pending_pop(mz_store *st, const char *config_id, bool newest, json_t **msg, mz_err *err)
{
	pg_store *s = PG(st);
	params p = {0};
	p_text(&p, config_id);
	PGresult *res = exec_q(s, newest ? Q_PEND_NEWEST : Q_PEND_OLDEST, &p, err, "pending pop");
	*msg = NULL;
	if (!res)
		return MZ_EIO;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return MZ_OK;
	}
	int64_t id = int_cell(res, 0, 0);
	*msg = parse_cell(res, 0, 1);
	PQclear(res);
	params d = {0};
	p_int(&d, id);
	return run_q(s, Q_PEND_DEL, &d, err, "pending delete");
}

static mz_code
pg_pending_count(mz_store *st, const char *config_id, int *count, mz_err *err)
{
	params p = {0};
	p_text(&p, config_id);
	return count_q(PG(st), Q_PEND_COUNT, &p, count, err);
}

static mz_code
pg_outbox_push(mz_store *st, const char *body, mz_err *err)
{
	params p = {0};
	p_text(&p, body);
	p_int(&p, mz_now_ms());
	return run_q(PG(st), Q_OUT_PUSH, &p, err, "outbox push");
}

/* Rows of (id, body) as [{"<idkey>": id, "<bodykey>": body}]. */
static json_t *
id_body_rows(PGresult *res, const char *idkey, const char *bodykey)
{
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *v = parse_cell(res, i, 1);
		json_array_append_new(arr, json_pack("{s:I, s:o}", idkey, (json_int_t)int_cell(res, i, 0),
		                                     bodykey, v ? v : json_null()));
	}
	return arr;
}

static mz_code
pg_outbox_fetch(mz_store *st, int64_t after_id, int max, json_t **events, mz_err *err)
{
	params p = {0};
	p_int(&p, after_id);
	p_int(&p, max);
	PGresult *res = exec_q(PG(st), Q_OUT_FETCH, &p, err, "outbox fetch");
	if (!res)
		return MZ_EIO;
	*events = id_body_rows(res, "id", "event");
	PQclear(res);
	return MZ_OK;
}

static mz_code
pg_outbox_delete(mz_store *st, int64_t id, mz_err *err)
{
	params p = {0};
	p_int(&p, id);
	return run_q(PG(st), Q_OUT_DEL, &p, err, "outbox delete");
}

static mz_code
pg_kv_get(mz_store *st, const char *key, char **value, mz_err *err)
{
	params p = {0};
	p_text(&p, key);
	PGresult *res = exec_q(PG(st), Q_KV_GET, &p, err, "kv get");
	*value = NULL;
	if (!res)
		return MZ_EIO;
	bool found = PQntuples(res) > 0;
	if (found)
		*value = mz_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return found ? MZ_OK : MZ_ENOTFOUND;
}

static mz_code
pg_kv_put(mz_store *st, const char *key, const char *value, mz_err *err)
{
	params p = {0};
	p_text(&p, key);
	p_text(&p, value);
	return run_q(PG(st), Q_KV_PUT, &p, err, "kv put");
}

/* ---- incoming events and deliveries ----------------------------------- */

static mz_code
pg_event_add(mz_store *st, const char *event_id, const char *body, bool *added, mz_err *err)
{
	params p = {0};
	p_text(&p, event_id);
	p_text(&p, body);
	p_int(&p, mz_now_ms());
	PGresult *res = exec_q(PG(st), Q_EVT_ADD, &p, err, "event add");
	if (!res)
		return MZ_EIO;
	if (added)
		*added = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	return MZ_OK;
}

static mz_code
pg_event_pending(mz_store *st, int max, json_t **events, mz_err *err)
{
	params p = {0};
	p_int(&p, max);
	PGresult *res = exec_q(PG(st), Q_EVT_PENDING, &p, err, "event pending");
	if (!res)
		return MZ_EIO;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *ev = parse_cell(res, i, 2);
		json_array_append_new(arr, json_pack("{s:I, s:s, s:o}", "seq",
		                                     (json_int_t)int_cell(res, i, 0), "eventId",
		                                     PQgetvalue(res, i, 1), "event",
		                                     ev ? ev : json_null()));
	}
	PQclear(res);
	*events = arr;
	return MZ_OK;
}

static mz_code
pg_event_done(mz_store *st, int64_t seq, const char *result, mz_err *err)
{
	params p = {0};
	p_int(&p, seq);
	p_int(&p, mz_now_ms());
	p_text(&p, result);
	return run_q(PG(st), Q_EVT_DONE, &p, err, "event done");
}

static mz_code
pg_event_get(mz_store *st, const char *event_id, json_t **out, mz_err *err)
{
	params p = {0};
	p_text(&p, event_id);
	PGresult *res = exec_q(PG(st), Q_EVT_GET, &p, err, "event get");
	*out = NULL;
	if (!res)
		return MZ_EIO;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return MZ_ENOTFOUND;
	}
	json_t *ev = parse_cell(res, 0, 2);
	json_t *result = parse_cell(res, 0, 4);
	*out = json_pack("{s:I, s:s, s:o, s:b, s:o}", "seq", (json_int_t)int_cell(res, 0, 0),
	                 "eventId", PQgetvalue(res, 0, 1), "event", ev ? ev : json_null(),
	                 "processed", !PQgetisnull(res, 0, 3), "result",
	                 result ? result : json_null());
	PQclear(res);
	return MZ_OK;
}

static mz_code
pg_delivery_push(mz_store *st, const char *body, int64_t deliver_at, mz_err *err)
{
	params p = {0};
	p_text(&p, body);
	p_int(&p, deliver_at);
	return run_q(PG(st), Q_DLV_PUSH, &p, err, "delivery push");
}

static mz_code
pg_delivery_due(mz_store *st, int64_t now, int max, json_t **out, mz_err *err)
{
	params p = {0};
	p_int(&p, now);
	p_int(&p, max);
	PGresult *res = exec_q(PG(st), Q_DLV_DUE, &p, err, "delivery due");
	if (!res)
		return MZ_EIO;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *d = parse_cell(res, i, 2);
		json_array_append_new(arr, json_pack("{s:I, s:i, s:o}", "id",
		                                     (json_int_t)int_cell(res, i, 0), "attempts",
		                                     (int)int_cell(res, i, 1), "delivery",
		                                     d ? d : json_null()));
	}
	PQclear(res);
	*out = arr;
	return MZ_OK;
}

static mz_code
pg_delivery_retry(mz_store *st, int64_t id, int64_t deliver_at, const char *error,
                  mz_err *err)
{
	params p = {0};
	p_int(&p, id);
	p_int(&p, deliver_at);
	p_text(&p, error);
	return run_q(PG(st), Q_DLV_RETRY, &p, err, "delivery retry");
}

static mz_code
pg_delivery_delete(mz_store *st, int64_t id, mz_err *err)
{
	params p = {0};
	p_int(&p, id);
	return run_q(PG(st), Q_DLV_DEL, &p, err, "delivery delete");
}

static const mz_store_ops pg_ops = {
	.kind = "postgres",
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.app_get = pg_app_get,
	.app_put = pg_app_put,
	.app_delete = pg_app_delete,
	.app_list = pg_app_list,
	.pipeline_get = pg_pipeline_get,
	.pipeline_by_name = pg_pipeline_by_name,
	.pipeline_put = pg_pipeline_put,
	.pipeline_delete = pg_pipeline_delete,
	.pipeline_list = pg_pipeline_list,
	.pipeline_history = pg_pipeline_history,
	.exec_get = pg_exec_get,
	.exec_get_raw = pg_exec_get_raw,
	.exec_put = pg_exec_put,
	.exec_delete = pg_exec_delete,
	.exec_query = pg_exec_query,
	.exec_count_status = pg_exec_count_status,
	.queue_push = pg_queue_push,
	.queue_claim = pg_queue_claim,
	.queue_ack = pg_queue_ack,
	.queue_set_delivery = pg_queue_set_delivery,
	.queue_next_due = pg_queue_next_due,
	.queue_release_leases = pg_queue_release_leases,
	.queue_count_for_execution = pg_queue_count_for_execution,
	.pending_push = pg_pending_push,
	.pending_pop = pg_pending_pop,
	.pending_count = pg_pending_count,
	.outbox_push = pg_outbox_push,
	.outbox_fetch = pg_outbox_fetch,
	.outbox_delete = pg_outbox_delete,
	.kv_get = pg_kv_get,
	.kv_put = pg_kv_put,
	.event_add = pg_event_add,
	.event_pending = pg_event_pending,
	.event_done = pg_event_done,
	.event_get = pg_event_get,
	.delivery_push = pg_delivery_push,
	.delivery_due = pg_delivery_due,
	.delivery_retry = pg_delivery_retry,
	.delivery_delete = pg_delivery_delete,
};

/* Applies the migrations newer than the database's version, each in its
 * own transaction under the write lock (several processes may start at
 * once). */
static mz_code
migrate(pg_store *s, mz_err *err)
{
	int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	if (exec_sql(s, "CREATE TABLE IF NOT EXISTS mz_schema(version INTEGER NOT NULL)", err,
	             "migration"))
		return MZ_EIO;
	for (;;) {
		if (pg_begin(&s->base, err))
			return MZ_EIO;
		PGresult *res = PQexec(s->conn, "SELECT max(version) FROM mz_schema");
		int version = 0;
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) && !PQgetisnull(res, 0, 0))
			version = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (version >= n) {
			exec_sql(s, "COMMIT", NULL, "commit");
			if (version > n)
				return mz_fail(err, MZ_EIO,
				               "database schema version %d is newer than this mizzen (%d)",
				               version, n);
			return MZ_OK;
		}
		char bump[96];
		snprintf(bump, sizeof(bump), "INSERT INTO mz_schema(version) VALUES(%d)", version + 1);
		if (exec_sql(s, migrations[version], err, "migration") ||
		    exec_sql(s, bump, err, "migration")) {
			exec_sql(s, "ROLLBACK", NULL, "rollback");
			return MZ_EIO;
		}
		if (exec_sql(s, "COMMIT", err, "migration commit"))
			return MZ_EIO;
		mz_info("store: postgres schema migrated to version %d", version + 1);
	}
}

mz_code
mz_store__pg_open(const char *url, mz_store **out, mz_err *err)
{
	pg_store *s = calloc(1, sizeof(*s));
	if (!s)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	s->base.ops = &pg_ops;
	s->conn = PQconnectdb(url);
	if (PQstatus(s->conn) != CONNECTION_OK) {
		/* libpq's message names host and port, never the password */
		char msg[400];
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(s->conn));
		size_t n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		mz_fail(err, MZ_EIO, "cannot connect to PostgreSQL: %s", msg);
		PQfinish(s->conn);
		free(s);
		return MZ_EIO;
	}
	exec_sql(s, "SET client_min_messages = warning", NULL, "configure");
	mz_code rc = migrate(s, err);
	if (rc) {
		pg_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return MZ_OK;
}
