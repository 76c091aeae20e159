/*
 * store_int.h - for the files in src/store only: the database driver every
 * back-end implements, and the helpers the operations are written with.
 *
 * The split follows Redis's ae.c: a driver per database is small and knows
 * only how to talk to it (prepare, bind, step, column, reset, exec, begin /
 * commit / rollback, what its errors mean, how it writes parameters); every
 * store operation (store_apps.c, store_exec.c, store_queue.c,
 * store_events.c) is written once above it, so a new operation, or the
 * node logic of a cluster, is never written twice.
 *
 * A statement is either one of the shared table (store_sql.h), prepared
 * once per connection and reused (the engine's write path runs the same
 * few statements thousands of times a second), or a one-off built per call
 * (the execution list query, whose shape depends on its filters).
 */
#ifndef MZ_STORE_INT_H
#define MZ_STORE_INT_H

#include "store/store.h"

typedef struct mz_stmt mz_stmt;

/* What mz__step returns besides an error (< 0, see mz__fail). */
enum { MZ_STEP_DONE = 0, MZ_STEP_ROW = 1 };

typedef struct mz_sql_driver {
	const char *kind;
	/* The driver's own text for statements of the shared table where its
	 * dialect needs one (indexed like mz_store__sql; NULL entries, or a
	 * NULL table, use the shared text). */
	const char *const *sql;
	void (*close)(mz_store *st);

	/* Write transactions. begin takes the back-end's writer discipline
	 * (SQLite: BEGIN IMMEDIATE behind the process's write mutex). */
	mz_code (*begin)(mz_store *st, mz_err *err);
	mz_code (*commit)(mz_store *st, mz_err *err);
	void (*rollback)(mz_store *st);
	/* Runs SQL text without parameters or rows (schema, settings). */
	mz_code (*exec)(mz_store *st, const char *sql, mz_err *err);

	/* Statement q of the shared table, prepared on first use and cached
	 * for the connection's life; returned reset, with nothing bound. */
	mz_stmt *(*prepare)(mz_store *st, int q, mz_err *err);
	/* A statement used once (?N parameters); free it with finalize. */
	mz_stmt *(*prepare_once)(mz_store *st, const char *sql, mz_err *err);
	void (*finalize)(mz_stmt *s);

	/* Parameters are numbered from 1. A text value may be NULL (SQL NULL)
	 * and must stay valid until the statement is first stepped. */
	void (*bind_text)(mz_stmt *s, int i, const char *v);
	void (*bind_int)(mz_stmt *s, int i, int64_t v);

	/* MZ_STEP_ROW, MZ_STEP_DONE, or -1 (the error is kept for fail). */
	int (*step)(mz_stmt *s);
	/* The current row's columns, numbered from 0. */
	bool (*column_null)(mz_stmt *s, int col);
	const char *(*column_text)(mz_stmt *s, int col);
	size_t (*column_bytes)(mz_stmt *s, int col);
	int64_t (*column_int)(mz_stmt *s, int col);
	/* Rows changed by the statement just run. */
	int64_t (*changes)(mz_stmt *s);
	/* Ends a run (the statement can be bound and stepped again). */
	void (*reset)(mz_stmt *s);

	/* The last error of this connection as mz_fail(err, code, "store:
	 * <what>: <message>"), with lock conflicts and serialization failures
	 * mapped to MZ_EBUSY (try again) and everything else to MZ_EIO. */
	mz_code (*fail)(mz_store *st, mz_err *err, const char *what);

	/* Notifications between processes sharing the database (PostgreSQL's
	 * LISTEN/NOTIFY); NULL where the database has none. wait_notify waits
	 * up to timeout_ms; *payload is malloc'd, or NULL when none came. */
	mz_code (*listen)(mz_store *st, const char *channel, mz_err *err);
	mz_code (*wait_notify)(mz_store *st, int timeout_ms, char **payload, mz_err *err);
} mz_sql_driver;

/* Every back-end's connection struct starts with this. */
struct mz_store {
	const mz_sql_driver *drv;
	int tx_depth; /* 1 while inside mz_store_begin/commit */
	char node[64]; /* the node whose claims this connection records */
	char *accept;  /* targets of messages it may claim (mz_store_set_accept) */
	bool tx_wrote; /* the open transaction changed a row */
	bool urgent;  /* mz_store_set_urgent */
};

/* Every back-end's statement struct starts with this. */
struct mz_stmt {
	mz_store *st;
	/* Set by mz__run for a statement whose row count nobody asked for:
	 * inside a transaction the driver may send it without waiting and
	 * report a failure at the transaction's next read or COMMIT (the
	 * transaction fails as a whole either way). */
	bool nowait;
};

mz_code mz_store__sqlite_open(const char *path, mz_store **out, mz_err *err);
mz_code mz_store__pg_open(const char *url, mz_store **out, mz_err *err);

/* ---- helpers over the driver (store.c) -------------------------------- */

static inline mz_stmt *
mz__stmt(mz_store *st, int q, mz_err *err)
{
	return st->drv->prepare(st, q, err);
}

static inline void
mz__text(mz_stmt *s, int i, const char *v)
{
	s->st->drv->bind_text(s, i, v);
}

static inline void
mz__int(mz_stmt *s, int i, int64_t v)
{
	s->st->drv->bind_int(s, i, v);
}

static inline int
mz__step(mz_stmt *s)
{
	return s->st->drv->step(s);
}

static inline const char *
mz__col_text(mz_stmt *s, int col)
{
	return s->st->drv->column_text(s, col);
}

static inline size_t
mz__col_bytes(mz_stmt *s, int col)
{
	return s->st->drv->column_bytes(s, col);
}

static inline int64_t
mz__col_int(mz_stmt *s, int col)
{
	return s->st->drv->column_int(s, col);
}

static inline bool
mz__col_null(mz_stmt *s, int col)
{
	return s->st->drv->column_null(s, col);
}

static inline void
mz__reset(mz_stmt *s)
{
	s->st->drv->reset(s);
}

/* store_health.c: a driver reports each failure here (a full disk or a
 * locked database makes the store "not writable" until a commit works). */
void mz__store_failed(mz_code code, const char *msg);
/* A write transaction began (the database is not locked), or one that
 * changed rows committed (the disk took it). */
void mz__store_began(void);
void mz__store_committed(bool wrote);

/* store_wal.c: SQLite's WAL checkpoints, run by a thread per database
 * file instead of inside the commit that fills the WAL. attach hooks a
 * connection's commits to the file's checkpointer (NULL: none, SQLite's
 * automatic checkpoint stays); detach before closing it. sync is the
 * store's synchronous setting, for the checkpointer's own connection. */
typedef struct mz_wal_ckpt mz_wal_ckpt;
struct sqlite3;
mz_wal_ckpt *mz__wal_attach(struct sqlite3 *db, const char *sync);
void mz__wal_detach(struct sqlite3 *db, mz_wal_ckpt *ck);

/* An urgent connection (mz_store_set_urgent) starts (+1) or stops (-1)
 * waiting for the write lock: engine batches let it in first. */
void mz__store_urgent_waiting(mz_store *st, int delta);

static inline mz_code
mz__fail(mz_store *st, mz_err *err, const char *what)
{
	return st->drv->fail(st, err, what);
}

/* Runs a statement to its end (no rows wanted); *changes (may be NULL)
 * receives the rows it changed. Resets it. Without changes, inside a
 * transaction, its failure may be reported by a later statement of the
 * transaction instead (see mz_stmt.nowait). */
mz_code mz__run(mz_stmt *s, int64_t *changes, mz_err *err, const char *what);
/* First column of the first row as JSON (MZ_ENOTFOUND without a row). */
mz_code mz__one_body(mz_stmt *s, json_t **out, mz_err *err, const char *what);
/* First column of every row as a JSON array (unparsable rows skipped). */
mz_code mz__all_bodies(mz_stmt *s, json_t **out, mz_err *err, const char *what);
/* First column of the first row as an integer (0 without a row or NULL). */
mz_code mz__one_int(mz_stmt *s, int64_t *out, bool *found, mz_err *err, const char *what);
/* Column col of the current row parsed as JSON, or NULL. */
json_t *mz__col_json(mz_stmt *s, int col);

/* Writes a new pipelines generation (mz_pipeline_generation) in the
 * current transaction: a config, or a template configs render, changed
 * (store_apps.c). */
mz_code mz__pipelines_changed(mz_store *st, mz_err *err);

#endif
