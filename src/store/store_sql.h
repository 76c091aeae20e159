/*
 * store_sql.h - for the files in src/store only: the statements both
 * back-ends run, written once. Parameters are written ?1, ?2, ... (SQLite's
 * form); the PostgreSQL back-end rewrites them to $1, $2, ... when it
 * prepares them. Schemas and migrations stay per back-end (their types
 * differ); the statements only use SQL both accept (ON CONFLICT upserts,
 * window functions, lower()).
 */
#ifndef MZ_STORE_SQL_H
#define MZ_STORE_SQL_H

#include "store/store_int.h"

enum mz_store_q {
	Q_APP_GET, Q_APP_PUT, Q_APP_DEL, Q_APP_LIST,
	Q_PIPE_GET, Q_PIPE_BY_NAME, Q_PIPE_BY_NAME_CI, Q_PIPE_PUT, Q_PIPE_DEL, Q_PIPE_LIST,
	Q_PIPE_LIST_ALL, Q_HIST_NEWEST, Q_HIST_ADD, Q_HIST_LIST, Q_HIST_DEL,
	Q_EXEC_GET, Q_EXEC_GET_RAW, Q_EXEC_PUT, Q_EXEC_DEL, Q_EXEC_COUNT, Q_EXEC_COUNT_EXCEPT,
	Q_EXEC_GET_LOCKED, Q_EXEC_GET_RAW_LOCKED,
	Q_QUEUE_FIND, Q_QUEUE_UPSERT, Q_QUEUE_MOVE, Q_QUEUE_CLAIM, Q_QUEUE_LEASE, Q_QUEUE_ACK,
	Q_QUEUE_SET, Q_QUEUE_NEXT, Q_QUEUE_RELEASE, Q_QUEUE_RELEASE_NODE, Q_QUEUE_COUNT_EXEC,
	Q_PEND_PUSH, Q_PEND_OLDEST, Q_PEND_NEWEST, Q_PEND_DEL, Q_PEND_COUNT,
	Q_OUT_PUSH, Q_OUT_FETCH, Q_OUT_DEL,
	Q_KV_GET, Q_KV_PUT, Q_KV_DEL, Q_KV_LIST,
	Q_AUDIT_ADD, Q_AUDIT_LIST,
	Q_EVT_ADD, Q_EVT_PENDING, Q_EVT_DONE, Q_EVT_GET,
	Q_DLV_PUSH, Q_DLV_DUE, Q_DLV_RETRY, Q_DLV_DEL,
	Q_NODE_BEAT, Q_NODE_LIST, Q_LEASE_TAKE, Q_LEASE_DROP, Q_LOCK, Q_TRY_LOCK, Q_NOTIFY,
	Q_COP_ADD, Q_COP_BY_REQUEST, Q_COP_GET, Q_COP_QUEUED, Q_COP_CLAIM, Q_COP_RUNNING,
	Q_COP_UPDATE, Q_CST_PUT, Q_CST_DEL, Q_CST_CLEAR, Q_CST_LIST,
	Q_BLOB_HAS, Q_BLOB_ADD, Q_BLOB_CHUNK_ADD, Q_BLOB_CHUNK_GET, Q_BLOB_OLD, Q_BLOB_DEL,
	Q_BLOB_CHUNKS_DEL,
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_COUNT
};

extern const char *const mz_store__sql[Q_COUNT];

/* The text a driver prepares for q: its own variant where its dialect
 * needs one (row locks, advisory locks, notifications), else the shared. */
static inline const char *
mz_store__sql_for(const mz_sql_driver *drv, int q)
{
	return drv->sql && drv->sql[q] ? drv->sql[q] : mz_store__sql[q];
}

/* The execution list query for q, with ?N parameters bound in this order:
 * type, application, each config id, each status. */
void mz_store__exec_query_sql(const mz_exec_query *q, mz_buf *sql);

#endif
