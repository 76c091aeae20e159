/*
 * store_pg.c - the PostgreSQL driver (libpq), selected by a postgres://
 * URL. It is only the driver (store_int.h): the operations above it are
 * the same as SQLite's. Shared statements have their ?N parameters
 * rewritten to $N and are prepared once per connection (named "mzN");
 * a step runs the statement and keeps its whole result, then walks its
 * rows.
 *
 * Several nodes write at once, with no global lock: queue messages are
 * claimed row by row (FOR UPDATE SKIP LOCKED, so two nodes never claim the
 * same message and never wait for each other's), an execution is read for
 * change under its row lock (FOR UPDATE, so one node at a time changes it,
 * and the second reads the first's committed document), and the few
 * cluster-wide decisions (concurrency limits of a pipeline) take a
 * transaction-scoped advisory lock on their key. Every lock is released by
 * COMMIT or ROLLBACK, also when the process or its connection dies.
 */
#include "store/store_sql.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The advisory lock class of mizzen's keys (an arbitrary constant); the
 * migration lock is this class alone. */
#define MZ_PG_LOCK_CLASS 7274917

/* Where PostgreSQL's dialect differs from the shared statements. */
static const char *const pg_sql[Q_COUNT] = {
	[Q_EXEC_GET_LOCKED] = "SELECT body FROM executions WHERE id = ?1 FOR UPDATE",
	[Q_EXEC_GET_RAW_LOCKED] = "SELECT body, type FROM executions WHERE id = ?1 FOR UPDATE",
	/* Claimed and leased in one round trip; rows other transactions hold
	 * are skipped, not waited for. */
	[Q_QUEUE_CLAIM] = "WITH c AS (SELECT id, deliver_at AS due FROM queue "
	                  "WHERE deliver_at <= ?1 AND (target IS NULL OR CAST(?5 AS TEXT) LIKE "
	                  "('%,' || target || ',%')) ORDER BY deliver_at, id LIMIT ?2 "
	                  "FOR UPDATE SKIP LOCKED) "
	                  "UPDATE queue SET attempts = queue.attempts + 1, deliver_at = ?3, "
	                  "claimed_by = ?4 FROM c WHERE queue.id = c.id "
	                  "RETURNING queue.id, queue.fingerprint, c.due, queue.attempts - 1, 1",
	[Q_LOCK] = "SELECT pg_advisory_xact_lock(7274917, hashtext(?1))",
	[Q_TRY_LOCK] = "SELECT pg_try_advisory_xact_lock(7274917, hashtext(?1))::int",
	[Q_NOTIFY] = "SELECT pg_notify(?1, ?2)",
};

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
	"CREATE TABLE nodes(id TEXT PRIMARY KEY, address TEXT NOT NULL,"
	"  host_regions TEXT NOT NULL, started_at BIGINT NOT NULL,"
	"  last_seen BIGINT NOT NULL);"
	"CREATE TABLE leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
	"  expires_at BIGINT NOT NULL);"
	"ALTER TABLE queue ADD COLUMN claimed_by TEXT;",
	"CREATE TABLE audit(seq BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL,"
	"  username TEXT, application TEXT, body TEXT NOT NULL);"
	"CREATE INDEX audit_app ON audit(application, seq);"
	"CREATE INDEX audit_user ON audit(username, seq);",
	"CREATE TABLE cloud_ops(id TEXT PRIMARY KEY, request_id TEXT NOT NULL UNIQUE,"
	"  region TEXT NOT NULL, node TEXT, op TEXT NOT NULL, body TEXT NOT NULL,"
	"  state TEXT NOT NULL, claimed_by TEXT, task TEXT, created_at BIGINT NOT NULL,"
	"  updated_at BIGINT NOT NULL);"
	"CREATE INDEX cloud_ops_state ON cloud_ops(state, created_at);"
	"CREATE TABLE cloud_state(node TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,"
	"  app TEXT, body TEXT NOT NULL, updated_at BIGINT NOT NULL,"
	"  PRIMARY KEY(node, kind, key));"
	"CREATE INDEX cloud_state_app ON cloud_state(kind, app);",
	"ALTER TABLE queue ADD COLUMN target TEXT;"
	"CREATE TABLE blobs(sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL,"
	"  chunks INTEGER NOT NULL, created_at BIGINT NOT NULL);"
	"CREATE TABLE blob_chunks(sha256 TEXT NOT NULL, seq INTEGER NOT NULL,"
	"  data TEXT NOT NULL, PRIMARY KEY(sha256, seq));",
};

typedef struct pg_param {
	const char *text; /* NULL: SQL NULL, unless is_int */
	bool is_int;
	char num[24];
} pg_param;

typedef struct pg_stmt {
	mz_stmt base;
	int q;          /* index in the shared table, or -1 for a one-off */
	char *sql;      /* a one-off's text, $N form */
	bool prepared;  /* the shared statement exists on this connection */
	pg_param *params;
	int nparams, cap;
	PGresult *res;  /* the result being walked, NULL before the first step */
	int row;
} pg_stmt;

typedef struct pg_store {
	mz_store base;
	PGconn *conn;
	pg_stmt stmt[Q_COUNT];
	/* statements sent in pipeline mode whose results are not read yet */
	int pipelined;
	/* the last failed statement's error, for fail() */
	char err_state[8];
	char err_msg[400];
} pg_store;

#define PG(st) ((pg_store *)(st))
#define PS(x) ((pg_stmt *)(x))

static void
keep_error(pg_store *s, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	if (!msg || !*msg)
		msg = PQerrorMessage(s->conn);
	snprintf(s->err_state, sizeof(s->err_state), "%s", state ? state : "");
	snprintf(s->err_msg, sizeof(s->err_msg), "%s", msg && *msg ? msg : "unknown error");
	size_t n = strlen(s->err_msg);
	while (n > 0 && (s->err_msg[n - 1] == '\n' || s->err_msg[n - 1] == ' '))
		s->err_msg[--n] = '\0';
}

static mz_code
pg_fail(mz_store *st, mz_err *err, const char *what)
{
	pg_store *s = PG(st);
	const char *state = s->err_state;
	/* serialization failure, deadlock, lock timeout: try again */
	bool busy = strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	            strcmp(state, "55P03") == 0;
	mz_code code = busy ? MZ_EBUSY : MZ_EIO;
	/* class 53: insufficient resources (53100 disk_full, 53200 out of memory) */
	if (strncmp(state, "53", 2) == 0)
		code = MZ_ENOSPACE;
	mz_code out = mz_fail(err, code, "store: %s: %s", what, s->err_msg);
	mz__store_failed(code, s->err_msg);
	return out;
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

static void
pg_reset(mz_stmt *x)
{
	pg_stmt *c = PS(x);
	if (c->res)
		PQclear(c->res);
	c->res = NULL;
	c->row = -1;
	c->nparams = 0;
}

/* A broken connection (the server restarted, the network dropped) is
 * re-opened before the next transaction; its prepared statements went
 * with it. Inside a transaction nothing is retried: the caller's
 * transaction fails and is rolled back as a whole. */
static void
reconnect_if_broken(pg_store *s)
{
	if (PQstatus(s->conn) != CONNECTION_BAD)
		return;
	PQreset(s->conn);
	for (int i = 0; i < Q_COUNT; i++)
		s->stmt[i].prepared = false;
	if (PQstatus(s->conn) == CONNECTION_OK)
		mz_warn("store: reconnected to PostgreSQL");
}

/* ---- the pipeline --------------------------------------------------------
 *
 * Each statement is a round trip to the server, and a round trip, not the
 * work, is most of what a statement of the engine costs (the more so on a
 * loaded machine, where every wake-up of the server process waits for a
 * core). Inside a transaction, statements whose results nobody reads
 * (mz_stmt.nowait: run by mz__run without asking for a row count - the
 * writes of a batch: executions, queue pushes and acknowledgements, the
 * outbox, advisory locks, notifications) and BEGIN itself are sent in
 * libpq's pipeline mode without waiting; the next statement whose rows or
 * row count are wanted, or COMMIT, goes out behind them and one sync
 * reads every result. A batch of the engine then costs about one round
 * trip per execution it loads plus one to commit. PostgreSQL runs the
 * pipeline in order, so a read sees the writes sent before it; a write
 * that fails aborts the transaction, and the failure is reported by the
 * statement or COMMIT that synced, which the caller rolls back as it
 * would have on the write itself. */

static bool
pipe_on(pg_store *s)
{
	return PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF;
}

/* Sends a statement (prepared q, or the one-off sql) in pipeline mode. */
static bool
pipe_send(pg_store *s, int q, const char *sql, int n, const char *const *vals)
{
	if (!pipe_on(s) && !PQenterPipelineMode(s->conn))
		goto fail;
	int ok;
	if (q >= 0) {
		char name[16];
		snprintf(name, sizeof(name), "mz%d", q);
		ok = PQsendQueryPrepared(s->conn, name, n, vals, NULL, NULL, 0);
	} else {
		ok = PQsendQueryParams(s->conn, sql, n, NULL, vals, NULL, NULL, 0);
	}
	if (!ok)
		goto fail;
	s->pipelined++;
	return true;
fail:
	keep_error(s, NULL);
	return false;
}

/* Syncs the pipeline and reads every result; the last statement's result
 * goes to *last when asked for (else it is dropped). False after keeping
 * the first failure's error. Leaves pipeline mode. */
static bool
pipe_sync(pg_store *s, PGresult **last)
{
	bool ok = true;
	int64_t changed = 0;
	if (last)
		*last = NULL;
	if (!pipe_on(s))
		return true;
	if (!PQpipelineSync(s->conn)) {
		keep_error(s, NULL);
		ok = false;
	}
	/* each statement's results end with a NULL; a failure's followers
	 * come back PGRES_PIPELINE_ABORTED; the sync ends it all */
	for (int i = 0; i < s->pipelined; i++) {
		PGresult *res;
		while ((res = PQgetResult(s->conn)) != NULL) {
			ExecStatusType rs = PQresultStatus(res);
			if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
				if (strncmp(PQcmdStatus(res), "SELECT", 6) != 0) /* rows changed */
					changed += strtoll(PQcmdTuples(res), NULL, 10);
			} else {
				if (ok && rs != PGRES_PIPELINE_ABORTED)
					keep_error(s, res); /* the first failure */
				ok = false;
			}
			if (last && i == s->pipelined - 1 && !*last)
				*last = res;
			else
				PQclear(res);
		}
	}
	PGresult *res = PQstatus(s->conn) == CONNECTION_OK ? PQgetResult(s->conn) : NULL;
	if (PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		if (ok)
			keep_error(s, res);
		ok = false;
	}
	PQclear(res);
	s->pipelined = 0;
	if (!PQexitPipelineMode(s->conn)) {
		/* out of step with the server (a broken connection): start over */
		if (ok)
			keep_error(s, NULL);
		ok = false;
		PQreset(s->conn);
		for (int i = 0; i < Q_COUNT; i++)
			s->stmt[i].prepared = false;
	}
	if (!ok && last) {
		PQclear(*last);
		*last = NULL;
	}
	if (changed > 0)
		s->base.tx_wrote = true;
	return ok;
}

static mz_stmt *
pg_prepare(mz_store *st, int q, mz_err *err)
{
	pg_store *s = PG(st);
	pg_stmt *c = &s->stmt[q];
	if (!st->tx_depth)
		reconnect_if_broken(s);
	c->base.st = st;
	c->q = q;
	pg_reset(&c->base);
	if (!c->prepared) {
		char name[16];
		if (!pipe_sync(s, NULL)) { /* PQprepare waits: not in pipeline mode */
			pg_fail(st, err, "prepare");
			return NULL;
		}
		snprintf(name, sizeof(name), "mz%d", q);
		char *sql = to_dollars(mz_store__sql_for(st->drv, q));
		PGresult *res = PQprepare(s->conn, name, sql, 0, NULL);
		free(sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			keep_error(s, res);
			PQclear(res);
			pg_fail(st, err, "prepare");
			return NULL;
		}
		PQclear(res);
		c->prepared = true;
	}
	return &c->base;
}

static mz_stmt *
pg_prepare_once(mz_store *st, const char *sql, mz_err *err)
{
	pg_stmt *c = calloc(1, sizeof(*c));
	if (!c) {
		mz_fail(err, MZ_ENOMEM, "out of memory");
		return NULL;
	}
	c->base.st = st;
	c->q = -1;
	c->row = -1;
	c->sql = to_dollars(sql);
	return &c->base;
}

static void
pg_finalize(mz_stmt *x)
{
	pg_stmt *c = PS(x);
	pg_reset(x);
	free(c->params);
	free(c->sql);
	free(c);
}

static pg_param *
param_slot(pg_stmt *c, int i)
{
	if (i < 1)
		abort();
	if (i > c->cap) {
		int cap = c->cap ? c->cap : 8;
		while (cap < i)
			cap *= 2;
		pg_param *p = realloc(c->params, (size_t)cap * sizeof(*p));
		if (!p)
			abort();
		c->params = p;
		c->cap = cap;
	}
	/* parameters skipped over are NULL */
	for (int k = c->nparams; k < i; k++) {
		c->params[k].text = NULL;
		c->params[k].is_int = false;
	}
	if (i > c->nparams)
		c->nparams = i;
	return &c->params[i - 1];
}

static void
pg_bind_text(mz_stmt *x, int i, const char *v)
{
	pg_param *p = param_slot(PS(x), i);
	p->text = v;
	p->is_int = false;
}

static void
pg_bind_int(mz_stmt *x, int i, int64_t v)
{
	pg_param *p = param_slot(PS(x), i);
	snprintf(p->num, sizeof(p->num), "%lld", (long long)v);
	p->is_int = true;
}

static int
pg_step(mz_stmt *x)
{
	pg_stmt *c = PS(x);
	pg_store *s = PG(x->st);
	if (!c->res) {
		const char *vals[c->nparams > 0 ? c->nparams : 1];
		for (int i = 0; i < c->nparams; i++)
			vals[i] = c->params[i].is_int ? c->params[i].num : c->params[i].text;
		if (x->st->tx_depth && x->nowait) {
			/* nobody reads its result: sent now, read at the next sync */
			if (!pipe_send(s, c->q, c->sql, c->nparams, vals))
				return -1;
			return MZ_STEP_DONE;
		}
		if (pipe_on(s)) {
			/* behind the statements sent before it, in one round trip */
			if (!pipe_send(s, c->q, c->sql, c->nparams, vals) || !pipe_sync(s, &c->res))
				return -1;
		} else if (c->q >= 0) {
			char name[16];
			snprintf(name, sizeof(name), "mz%d", c->q);
			c->res = PQexecPrepared(s->conn, name, c->nparams, vals, NULL, NULL, 0);
		} else {
			c->res = PQexecParams(s->conn, c->sql, c->nparams, NULL, vals, NULL, NULL, 0);
		}
		ExecStatusType rs = PQresultStatus(c->res);
		if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
			keep_error(s, c->res);
			return -1;
		}
		c->row = 0;
	} else {
		c->row++;
	}
	return c->row < PQntuples(c->res) ? MZ_STEP_ROW : MZ_STEP_DONE;
}

static bool
pg_column_null(mz_stmt *x, int col)
{
	pg_stmt *c = PS(x);
	return PQgetisnull(c->res, c->row, col);
}

static const char *
pg_column_text(mz_stmt *x, int col)
{
	pg_stmt *c = PS(x);
	return PQgetvalue(c->res, c->row, col);
}

static size_t
pg_column_bytes(mz_stmt *x, int col)
{
	pg_stmt *c = PS(x);
	return (size_t)PQgetlength(c->res, c->row, col);
}

static int64_t
pg_column_int(mz_stmt *x, int col)
{
	pg_stmt *c = PS(x);
	return PQgetisnull(c->res, c->row, col) ? 0
	                                         : strtoll(PQgetvalue(c->res, c->row, col), NULL, 10);
}

static int64_t
pg_changes(mz_stmt *x)
{
	pg_stmt *c = PS(x);
	return c->res ? strtoll(PQcmdTuples(c->res), NULL, 10) : 0;
}

static mz_code
pg_exec(mz_store *st, const char *sql, mz_err *err)
{
	pg_store *s = PG(st);
	if (!pipe_sync(s, NULL))
		return pg_fail(st, err, "exec");
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType rs = PQresultStatus(res);
	mz_code rc = MZ_OK;
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		keep_error(s, res);
		rc = pg_fail(st, err, "exec");
	}
	PQclear(res);
	return rc;
}

static void
pg_close(mz_store *st)
{
	pg_store *s = PG(st);
	pipe_sync(s, NULL);
	for (int i = 0; i < Q_COUNT; i++) {
		pg_reset(&s->stmt[i].base);
		free(s->stmt[i].params);
	}
	PQfinish(s->conn);
	free(s);
}

/* BEGIN goes out with the transaction's first statement; COMMIT with its
 * last writes. */
static mz_code
pg_begin(mz_store *st, mz_err *err)
{
	pg_store *s = PG(st);
	reconnect_if_broken(s);
	if (!pipe_sync(s, NULL) || !pipe_send(s, -1, "BEGIN", 0, NULL))
		return pg_fail(st, err, "begin");
	return MZ_OK;
}

static mz_code
pg_commit(mz_store *st, mz_err *err)
{
	pg_store *s = PG(st);
	if (!pipe_on(s))
		return pg_exec(st, "COMMIT", err);
	if (!pipe_send(s, -1, "COMMIT", 0, NULL) || !pipe_sync(s, NULL))
		return pg_fail(st, err, "commit");
	return MZ_OK;
}

static void
pg_rollback(mz_store *st)
{
	pg_store *s = PG(st);
	pipe_sync(s, NULL); /* whatever failed, the transaction is undone below */
	pg_exec(st, "ROLLBACK", NULL);
}

static mz_code
pg_listen(mz_store *st, const char *channel, mz_err *err)
{
	pg_store *s = PG(st);
	char *ident = PQescapeIdentifier(s->conn, channel, strlen(channel));
	if (!ident)
		return mz_fail(err, MZ_EIO, "store: listen: %s", PQerrorMessage(s->conn));
	char *sql = mz_asprintf("LISTEN %s", ident);
	PQfreemem(ident);
	mz_code rc = pg_exec(st, sql, err);
	free(sql);
	return rc;
}

static mz_code
pg_wait_notify(mz_store *st, int timeout_ms, char **payload, mz_err *err)
{
	pg_store *s = PG(st);
	*payload = NULL;
	for (int round = 0; round < 2; round++) {
		if (!PQconsumeInput(s->conn)) {
			keep_error(s, NULL);
			return pg_fail(st, err, "wait for notifications");
		}
		PGnotify *n = PQnotifies(s->conn);
		if (n) {
			*payload = mz_strdup(n->extra ? n->extra : "");
			PQfreemem(n);
			return MZ_OK;
		}
		if (round == 1)
			break;
		struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN};
		if (pfd.fd < 0) {
			keep_error(s, NULL);
			return pg_fail(st, err, "wait for notifications");
		}
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return MZ_OK;
	}
	return MZ_OK;
}

static const mz_sql_driver pg_driver = {
	.kind = "postgres",
	.sql = pg_sql,
	.listen = pg_listen,
	.wait_notify = pg_wait_notify,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.prepare_once = pg_prepare_once,
	.finalize = pg_finalize,
	.bind_text = pg_bind_text,
	.bind_int = pg_bind_int,
	.step = pg_step,
	.column_null = pg_column_null,
	.column_text = pg_column_text,
	.column_bytes = pg_column_bytes,
	.column_int = pg_column_int,
	.changes = pg_changes,
	.reset = pg_reset,
	.fail = pg_fail,
};

/* Applies the migrations newer than the database's version, each in its
 * own transaction under the migration lock (several processes may start at
 * once). */
static mz_code
migrate(pg_store *s, mz_err *err)
{
	int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	/* under the lock too: two connections creating the table at once
	 * collide on its row type even with IF NOT EXISTS */
	if (pg_begin(&s->base, err))
		return MZ_EIO;
	if (pg_exec(&s->base, "SELECT pg_advisory_xact_lock(7274917)", err) ||
	    pg_exec(&s->base, "CREATE TABLE IF NOT EXISTS mz_schema(version INTEGER NOT NULL)", err) ||
	    pg_exec(&s->base, "COMMIT", err)) {
		pg_exec(&s->base, "ROLLBACK", NULL);
		return MZ_EIO;
	}
	for (;;) {
		if (pg_begin(&s->base, err))
			return MZ_EIO;
		/* several nodes may start at once: one migrates, the others wait */
		if (pg_exec(&s->base, "SELECT pg_advisory_xact_lock(7274917)", err)) {
			pg_exec(&s->base, "ROLLBACK", NULL);
			return MZ_EIO;
		}
		PGresult *res = PQexec(s->conn, "SELECT max(version) FROM mz_schema");
		int version = 0;
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) && !PQgetisnull(res, 0, 0))
			version = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (version >= n) {
			pg_exec(&s->base, "COMMIT", NULL);
			if (version > n)
				return mz_fail(err, MZ_EIO,
				               "database schema version %d is newer than this mizzen (%d)",
				               version, n);
			return MZ_OK;
		}
		char bump[96];
		snprintf(bump, sizeof(bump), "INSERT INTO mz_schema(version) VALUES(%d)", version + 1);
		if (pg_exec(&s->base, migrations[version], err) ||
		    pg_exec(&s->base, bump, err)) {
			pg_exec(&s->base, "ROLLBACK", NULL);
			return MZ_EIO;
		}
		if (pg_exec(&s->base, "COMMIT", err))
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
	s->base.drv = &pg_driver;
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
	pg_exec(&s->base, "SET client_min_messages = warning", NULL);
	mz_code rc = migrate(s, err);
	if (rc) {
		pg_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return MZ_OK;
}
