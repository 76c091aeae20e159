/*
 * store_sqlite.c - the SQLite back-end.
 *
 * WAL mode with synchronous=NORMAL: a crash of the process loses nothing
 * that was committed; a power loss may lose the last transactions but never
 * corrupts (MZ_SQLITE_SYNC=FULL selects full durability). Checkpoints run
 * on a thread of their own, not inside commits (store_wal.c). Write transactions
 * use BEGIN IMMEDIATE: a deferred transaction that reads and then writes can
 * fail with SQLITE_BUSY at once when its snapshot is stale, while IMMEDIATE
 * waits on the busy timeout instead.
 *
 * This file is only the driver (store_int.h): statements of the shared
 * table are prepared once per connection (SQLITE_PREPARE_PERSISTENT) and
 * cached by their index; the operations above it are written once for
 * every back-end.
 */
#include "store/store_sql.h"

#include <errno.h>
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
	/* 4: nodes sharing the store, leases of once-per-cluster work, and the
	 * node that claimed a queued message (so others take it back when that
	 * node dies) */
	"CREATE TABLE nodes(id TEXT PRIMARY KEY, address TEXT NOT NULL,"
	"  host_regions TEXT NOT NULL, started_at INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL);"
	"CREATE TABLE leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
	"  expires_at INTEGER NOT NULL);"
	"ALTER TABLE queue ADD COLUMN claimed_by TEXT;",
	/* 5: the audit trail (src/auth's users, tokens and secrets live in kv) */
	"CREATE TABLE audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
	"  username TEXT, application TEXT, body TEXT NOT NULL);"
	"CREATE INDEX audit_app ON audit(application, seq);"
	"CREATE INDEX audit_user ON audit(username, seq);",
	/* 6: cloud operations routed to a node hosting their region, and the
	 * cloud state every node publishes (only several nodes on PostgreSQL
	 * use them; the tables exist everywhere, so the operations are tested
	 * on both back-ends) */
	"CREATE TABLE cloud_ops(id TEXT PRIMARY KEY, request_id TEXT NOT NULL UNIQUE,"
	"  region TEXT NOT NULL, node TEXT, op TEXT NOT NULL, body TEXT NOT NULL,"
	"  state TEXT NOT NULL, claimed_by TEXT, task TEXT, created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX cloud_ops_state ON cloud_ops(state, created_at);"
	"CREATE TABLE cloud_state(node TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,"
	"  app TEXT, body TEXT NOT NULL, updated_at INTEGER NOT NULL,"
	"  PRIMARY KEY(node, kind, key));"
	"CREATE INDEX cloud_state_app ON cloud_state(kind, app);",
	/* 7: several nodes: messages for one node or a node hosting a region
	 * (the stages that keep files on their node: builds, bakes), and the
	 * files those stages hand to each other (artifacts), in chunks */
	"ALTER TABLE queue ADD COLUMN target TEXT;"
	"CREATE TABLE blobs(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL,"
	"  chunks INTEGER NOT NULL, created_at INTEGER NOT NULL);"
	"CREATE TABLE blob_chunks(sha256 TEXT NOT NULL, seq INTEGER NOT NULL,"
	"  data TEXT NOT NULL, PRIMARY KEY(sha256, seq));",
};

/* SQLite has one writer at a time. Writers of this process queue on this
 * mutex instead of SQLite's busy handler, which polls with sleeps of up to
 * 100 ms and would leave a worker idle long after the lock is free. The
 * busy timeout still covers other processes (e.g. the sqlite3 shell).
 * Every writer takes it: a transaction (sq_begin) and a write statement
 * run on its own, outside one (sq_step: an audit row, a node's heartbeat),
 * which would otherwise poll the busy handler against the engine's
 * batches and hold its thread (an HTTP thread, with every request on it)
 * for hundreds of milliseconds. */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
/* This thread holds write_lock (through any of its connections): a lone
 * write on another connection of the same thread must not wait for it. */
static __thread bool thread_writes;

typedef struct sq_stmt {
	mz_stmt base;
	sqlite3_stmt *s;
} sq_stmt;

typedef struct sq_store {
	mz_store base;
	sqlite3 *db;
	bool in_tx;     /* between sq_begin and sq_commit / sq_rollback */
	bool lone_held; /* write_lock held for a write statement outside one */
	/* write_lock was just taken for a BEGIN or a lone write that holds no
	 * SQLite lock yet: while SQLite's lock is busy it may let go of it */
	bool may_yield;
	int64_t busy_since; /* when the current wait for SQLite's lock began */
	mz_wal_ckpt *wal; /* checkpoints this connection's commits call for */
	sq_stmt stmt[Q_COUNT];
} sq_store;

#define SQ(st) ((sq_store *)(st))
#define SS(x) (((sq_stmt *)(x))->s)

static mz_code
sq_fail(mz_store *st, mz_err *err, const char *what)
{
	sq_store *s = SQ(st);
	int rc = sqlite3_errcode(s->db);
	mz_code code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? MZ_EBUSY : MZ_EIO;
	/* A full disk is SQLITE_FULL, or an I/O error whose errno is ENOSPC
	 * (a write of the WAL); both pass once space is back. */
	if (rc == SQLITE_FULL || ((rc & 0xff) == SQLITE_IOERR && sqlite3_system_errno(s->db) == ENOSPC))
		code = MZ_ENOSPACE;
	mz_code out = mz_fail(err, code, "store: %s: %s", what, sqlite3_errmsg(s->db));
	mz__store_failed(code, err ? err->msg : sqlite3_errmsg(s->db));
	return out;
}

static void
lone_release(sq_store *s)
{
	if (s->lone_held) {
		s->lone_held = thread_writes = false;
		pthread_mutex_unlock(&write_lock);
	}
}

static mz_stmt *
sq_prepare(mz_store *st, int q, mz_err *err)
{
	sq_store *s = SQ(st);
	sq_stmt *c = &s->stmt[q];
	if (!c->s) {
		if (sqlite3_prepare_v3(s->db, mz_store__sql_for(st->drv, q), -1, SQLITE_PREPARE_PERSISTENT, &c->s,
		                       NULL) != SQLITE_OK) {
			sq_fail(st, err, "prepare");
			c->s = NULL;
			return NULL;
		}
		c->base.st = st;
	} else {
		sqlite3_reset(c->s);
		sqlite3_clear_bindings(c->s);
	}
	return &c->base;
}

static mz_stmt *
sq_prepare_once(mz_store *st, const char *sql, mz_err *err)
{
	sq_stmt *c = calloc(1, sizeof(*c));
	if (!c) {
		mz_fail(err, MZ_ENOMEM, "out of memory");
		return NULL;
	}
	if (sqlite3_prepare_v2(SQ(st)->db, sql, -1, &c->s, NULL) != SQLITE_OK) {
		sq_fail(st, err, "prepare");
		sqlite3_finalize(c->s);
		free(c);
		return NULL;
	}
	c->base.st = st;
	return &c->base;
}

static void
sq_finalize(mz_stmt *x)
{
	sqlite3_finalize(SS(x));
	lone_release(SQ(x->st));
	free(x);
}

static void
sq_bind_text(mz_stmt *x, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(SS(x), i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(SS(x), i);
}

static void
sq_bind_int(mz_stmt *x, int i, int64_t v)
{
	sqlite3_bind_int64(SS(x), i, v);
}

static int
sq_step(mz_stmt *x)
{
	sq_store *s = SQ(x->st);
	/* A write outside a transaction is a transaction of its own: it
	 * queues on the write mutex like one (until it is done or reset). */
	if (!s->in_tx && !s->lone_held && !thread_writes && !sqlite3_stmt_readonly(SS(x)) &&
	    sqlite3_get_autocommit(s->db)) {
		mz__store_urgent_waiting(x->st, 1);
		pthread_mutex_lock(&write_lock);
		mz__store_urgent_waiting(x->st, -1);
		s->lone_held = thread_writes = s->may_yield = true;
	}
	int rc = sqlite3_step(SS(x));
	s->may_yield = false;
	if (rc == SQLITE_ROW)
		return MZ_STEP_ROW;
	lone_release(s);
	return rc == SQLITE_DONE ? MZ_STEP_DONE : -1;
}

static bool
sq_column_null(mz_stmt *x, int col)
{
	return sqlite3_column_type(SS(x), col) == SQLITE_NULL;
}

static const char *
sq_column_text(mz_stmt *x, int col)
{
	const char *v = (const char *)sqlite3_column_text(SS(x), col);
	return v ? v : "";
}

static size_t
sq_column_bytes(mz_stmt *x, int col)
{
	return (size_t)sqlite3_column_bytes(SS(x), col);
}

static int64_t
sq_column_int(mz_stmt *x, int col)
{
	return sqlite3_column_int64(SS(x), col);
}

static int64_t
sq_changes(mz_stmt *x)
{
	return sqlite3_changes(SQ(x->st)->db);
}

static void
sq_reset(mz_stmt *x)
{
	sqlite3_reset(SS(x));
	lone_release(SQ(x->st));
}

static mz_code
sq_exec(mz_store *st, const char *sql, mz_err *err)
{
	if (sqlite3_exec(SQ(st)->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(st, err, "exec");
	return MZ_OK;
}

static mz_code
run_cached(mz_store *st, int q, mz_err *err, const char *what)
{
	mz_stmt *x = sq_prepare(st, q, err);
	if (!x)
		return MZ_EIO;
	int rc = sq_step(x);
	mz_code code = rc < 0 ? sq_fail(st, err, what) : MZ_OK;
	sq_reset(x);
	return code;
}

static void
sq_close(mz_store *st)
{
	sq_store *s = SQ(st);
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->stmt[i].s);
	mz__wal_detach(s->db, s->wal);
	sqlite3_close(s->db);
	free(s);
}

static mz_code
sq_begin(mz_store *st, mz_err *err)
{
	pthread_mutex_lock(&write_lock);
	SQ(st)->in_tx = thread_writes = SQ(st)->may_yield = true;
	mz_code rc = run_cached(st, Q_BEGIN, err, "begin");
	SQ(st)->may_yield = false;
	if (rc) {
		SQ(st)->in_tx = thread_writes = false;
		pthread_mutex_unlock(&write_lock);
	}
	return rc;
}

static mz_code
sq_commit(mz_store *st, mz_err *err)
{
	mz_code rc = run_cached(st, Q_COMMIT, err, "commit");
	if (rc == MZ_OK) {
		SQ(st)->in_tx = thread_writes = false;
		pthread_mutex_unlock(&write_lock);
	}
	return rc;
}

static void
sq_rollback(mz_store *st)
{
	run_cached(st, Q_ROLLBACK, NULL, "rollback");
	SQ(st)->in_tx = thread_writes = false;
	pthread_mutex_unlock(&write_lock);
}

/* SQLite's lock is held elsewhere: by another process (the sqlite3 shell,
 * a backup) since writers of this one queue on write_lock. A writer that
 * holds write_lock and waits here would make every other writer of the
 * process wait behind it, one busy timeout each (ten writers queued: 100 s
 * for the last, an HTTP request among them). So a writer that has not got
 * SQLite's lock yet lets go of write_lock while it sleeps and takes it back
 * to try again: every writer waits out its own timeout at the same time,
 * and fails (MZ_EBUSY, 503) after BUSY_TIMEOUT_MS at most. The delays are
 * SQLite's default handler's. */
#define BUSY_TIMEOUT_MS 10000

static int
sq_busy(void *arg, int count)
{
	static const int delays[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
	sq_store *s = arg;
	int64_t now = mz_mono_ms();
	if (count == 0)
		s->busy_since = now;
	if (now - s->busy_since >= BUSY_TIMEOUT_MS)
		return 0;
	int n = (int)(sizeof(delays) / sizeof(delays[0]));
	int ms = delays[count < n ? count : n - 1];
	if (s->may_yield) {
		pthread_mutex_unlock(&write_lock);
		sqlite3_sleep(ms);
		mz__store_urgent_waiting(&s->base, 1);
		pthread_mutex_lock(&write_lock);
		mz__store_urgent_waiting(&s->base, -1);
	} else {
		sqlite3_sleep(ms);
	}
	return 1;
}

static const mz_sql_driver sqlite_driver = {
	.kind = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.prepare_once = sq_prepare_once,
	.finalize = sq_finalize,
	.bind_text = sq_bind_text,
	.bind_int = sq_bind_int,
	.step = sq_step,
	.column_null = sq_column_null,
	.column_text = sq_column_text,
	.column_bytes = sq_column_bytes,
	.column_int = sq_column_int,
	.changes = sq_changes,
	.reset = sq_reset,
	.fail = sq_fail,
};

static int
user_version(sq_store *s)
{
	sqlite3_stmt *q;
	int version = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			version = sqlite3_column_int(q, 0);
		sqlite3_finalize(q);
	}
	return version;
}

/* Applies every migration newer than the file's user_version, each in its
 * own transaction together with the version bump. A schema already up to
 * date is seen with a plain read: a connection opened while an engine
 * batch holds the write lock (an API thread, a worker starting) must not
 * queue behind it for nothing. */
static mz_code
migrate(sq_store *s, mz_err *err)
{
	int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	if (user_version(s) == n)
		return MZ_OK;
	for (;;) {
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return sq_fail(&s->base, err, "migration begin");
		int version = user_version(s);
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
			mz_code rc = sq_fail(&s->base, err, "migration");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return sq_fail(&s->base, err, "migration commit");
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
	s->base.drv = &sqlite_driver;
	if (sqlite3_open_v2(path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		mz_fail(err, MZ_EIO, "cannot open database %s: %s", path,
		        s->db ? sqlite3_errmsg(s->db) : "out of memory");
		sqlite3_close(s->db);
		free(s);
		return MZ_EIO;
	}
	sqlite3_busy_handler(s->db, sq_busy, s);
	sync = sync && strcmp(sync, "FULL") == 0 ? "FULL" : "NORMAL";
	snprintf(pragma, sizeof(pragma), "PRAGMA synchronous = %s", sync);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
		sq_fail(&s->base, err, "configure");
		sq_close(&s->base);
		return MZ_EIO;
	}
	mz_code rc = migrate(s, err);
	if (rc) {
		sq_close(&s->base);
		return rc;
	}
	s->wal = mz__wal_attach(s->db, sync);
	*out = &s->base;
	return MZ_OK;
}
