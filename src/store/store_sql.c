/* store_sql.c - the statements both store back-ends run (see store_sql.h). */
#include "store/store_sql.h"


#define COP_COLS "id, request_id, region, node, op, body, state, claimed_by, task, " \
                 "created_at, updated_at"

/* A message with a target (several nodes: "node:<id>" or "region:<name>")
 * is claimed only by a connection whose accept list (",a,b,", from
 * mz_store_set_accept) names it; one without is claimed by any. */
#define QUEUE_ACCEPTS(p) "(target IS NULL OR CAST(" p " AS TEXT) LIKE ('%,' || target || ',%'))"

const char *const mz_store__sql[Q_COUNT] = {
	[Q_APP_GET] = "SELECT body FROM applications WHERE name = ?1",
	[Q_APP_PUT] = "INSERT INTO applications(name, body, updated_at) VALUES(?1, ?2, ?3) "
	              "ON CONFLICT(name) DO UPDATE SET body = excluded.body, "
	              "updated_at = excluded.updated_at",
	[Q_APP_DEL] = "DELETE FROM applications WHERE name = ?1",
	[Q_APP_LIST] = "SELECT body FROM applications ORDER BY name",
	[Q_PIPE_GET] = "SELECT body FROM pipelines WHERE id = ?1",
	[Q_PIPE_BY_NAME] = "SELECT body FROM pipelines WHERE application = ?1 AND name = ?2",
	[Q_PIPE_BY_NAME_CI] = "SELECT body FROM pipelines WHERE application = ?1 AND name_lc = lower(?2)",
	[Q_PIPE_PUT] = "INSERT INTO pipelines(id, application, name, name_lc, idx, body, updated_at) "
	               "VALUES(?1, ?2, ?3, lower(?3), ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET "
	               "application = excluded.application, name = excluded.name, "
	               "name_lc = excluded.name_lc, idx = excluded.idx, body = excluded.body, "
	               "updated_at = excluded.updated_at",
	[Q_PIPE_DEL] = "DELETE FROM pipelines WHERE id = ?1",
	[Q_PIPE_LIST] = "SELECT body FROM pipelines WHERE application = ?1 "
	                "ORDER BY idx < 0, idx, name_lc",
	[Q_PIPE_LIST_ALL] = "SELECT body FROM pipelines ORDER BY application, idx < 0, idx, name_lc",
	[Q_HIST_NEWEST] = "SELECT body FROM pipeline_history WHERE pipeline_id = ?1 "
	                  "ORDER BY seq DESC LIMIT 1",
	[Q_HIST_ADD] = "INSERT INTO pipeline_history(pipeline_id, body, recorded_at) VALUES(?1, ?2, ?3)",
	[Q_HIST_LIST] = "SELECT body FROM pipeline_history WHERE pipeline_id = ?1 "
	                "ORDER BY seq DESC LIMIT ?2",
	[Q_HIST_DEL] = "DELETE FROM pipeline_history WHERE pipeline_id = ?1",
	[Q_EXEC_GET] = "SELECT body FROM executions WHERE id = ?1",
	[Q_EXEC_GET_RAW] = "SELECT body, type FROM executions WHERE id = ?1",
	[Q_EXEC_PUT] = "INSERT INTO executions(id, type, application, config_id, status, build_time, "
	               "start_time, end_time, body) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
	               "ON CONFLICT(id) DO UPDATE SET status = excluded.status, "
	               "start_time = excluded.start_time, end_time = excluded.end_time, "
	               "body = excluded.body",
	[Q_EXEC_DEL] = "DELETE FROM executions WHERE id = ?1",
	[Q_EXEC_COUNT] = "SELECT count(*) FROM executions WHERE config_id = ?1 AND status = ?2",
	[Q_EXEC_COUNT_EXCEPT] = "SELECT count(*) FROM executions WHERE config_id = ?1 AND "
	                        "status = ?2 AND id <> ?3",
	[Q_EXEC_GET_LOCKED] = "SELECT body FROM executions WHERE id = ?1",
	[Q_EXEC_GET_RAW_LOCKED] = "SELECT body, type FROM executions WHERE id = ?1",
	[Q_QUEUE_FIND] = "SELECT id FROM queue WHERE fingerprint = ?1",
	/* A message identical to one waiting moves the waiting one; a claimed
	 * message (attempts > 0) is not moved: its handler is at work (an
	 * external call in flight) and will decide its fate. One statement, so
	 * two writers pushing the same message cannot both insert it. */
	[Q_QUEUE_UPSERT] = "INSERT INTO queue(fingerprint, execution_id, deliver_at, target) "
	                   "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(fingerprint) DO UPDATE SET "
	                   "deliver_at = excluded.deliver_at WHERE queue.attempts = 0",
	[Q_QUEUE_MOVE] = "UPDATE queue SET deliver_at = ?2 WHERE id = ?1 AND attempts = 0",
	/* Due messages; the fifth column says whether the statement leased
	 * them too (a driver's one-statement variant) or Q_QUEUE_LEASE must. */
	[Q_QUEUE_CLAIM] = "SELECT id, fingerprint, deliver_at, attempts, 0 FROM queue "
	                  "WHERE deliver_at <= ?1 AND " QUEUE_ACCEPTS("?5")
	                  " ORDER BY deliver_at, id LIMIT ?2",
	[Q_QUEUE_LEASE] = "UPDATE queue SET attempts = attempts + 1, deliver_at = ?2, "
	                  "claimed_by = ?3 WHERE id = ?1",
	[Q_QUEUE_ACK] = "DELETE FROM queue WHERE id = ?1",
	[Q_QUEUE_SET] = "UPDATE queue SET deliver_at = ?2, attempts = 0, claimed_by = NULL "
	                "WHERE id = ?1",
	[Q_QUEUE_NEXT] = "SELECT min(deliver_at) FROM queue WHERE " QUEUE_ACCEPTS("?1"),
	[Q_QUEUE_RELEASE] = "UPDATE queue SET deliver_at = ?1 WHERE deliver_at > ?1 AND attempts > 0",
	[Q_QUEUE_RELEASE_NODE] = "UPDATE queue SET deliver_at = ?1 WHERE claimed_by = ?2 AND "
	                         "deliver_at > ?1 AND attempts > 0",
	[Q_QUEUE_COUNT_EXEC] = "SELECT count(*) FROM queue WHERE execution_id = ?1",
	[Q_PEND_PUSH] = "INSERT INTO pending(config_id, body) VALUES(?1, ?2)",
	[Q_PEND_OLDEST] = "SELECT id, body FROM pending WHERE config_id = ?1 ORDER BY id LIMIT 1",
	[Q_PEND_NEWEST] = "SELECT id, body FROM pending WHERE config_id = ?1 ORDER BY id DESC LIMIT 1",
	[Q_PEND_DEL] = "DELETE FROM pending WHERE id = ?1",
	[Q_PEND_COUNT] = "SELECT count(*) FROM pending WHERE config_id = ?1",
	[Q_OUT_PUSH] = "INSERT INTO outbox(body, created_at) VALUES(?1, ?2)",
	[Q_OUT_FETCH] = "SELECT id, body FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2",
	[Q_OUT_DEL] = "DELETE FROM outbox WHERE id = ?1",
	[Q_KV_GET] = "SELECT value FROM kv WHERE key = ?1",
	[Q_KV_PUT] = "INSERT INTO kv(key, value) VALUES(?1, ?2) "
	             "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[Q_KV_DEL] = "DELETE FROM kv WHERE key = ?1",
	/* substr, not LIKE or a range: no escaping, and no collation (a
	 * PostgreSQL locale may order '.' anywhere) can widen the match */
	[Q_KV_LIST] = "SELECT key, value FROM kv WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
	[Q_AUDIT_ADD] = "INSERT INTO audit(at, username, application, body) VALUES(?1, ?2, ?3, ?4)",
	/* the casts give PostgreSQL a type for a parameter that may be NULL */
	[Q_AUDIT_LIST] = "SELECT body FROM audit WHERE (CAST(?1 AS TEXT) IS NULL OR "
	                 "application = ?1) AND (CAST(?2 AS TEXT) IS NULL OR username = ?2) "
	                 "ORDER BY seq DESC LIMIT ?3",
	[Q_EVT_ADD] = "INSERT INTO events(event_id, body, created_at) VALUES(?1, ?2, ?3) "
	              "ON CONFLICT(event_id) DO NOTHING",
	[Q_EVT_PENDING] = "SELECT seq, event_id, body FROM events WHERE processed_at IS NULL "
	                  "ORDER BY seq LIMIT ?1",
	/* Only an unprocessed event: a second node that handled the same
	 * event concurrently changes no row and rolls back what it did. */
	[Q_EVT_DONE] = "UPDATE events SET processed_at = ?2, result = ?3 WHERE seq = ?1 AND "
	               "processed_at IS NULL",
	[Q_EVT_GET] = "SELECT seq, event_id, body, processed_at, result FROM events "
	              "WHERE event_id = ?1",
	[Q_DLV_PUSH] = "INSERT INTO deliveries(body, next_at) VALUES(?1, ?2)",
	[Q_DLV_DUE] = "SELECT id, attempts, body FROM deliveries WHERE next_at <= ?1 "
	              "ORDER BY next_at, id LIMIT ?2",
	[Q_DLV_RETRY] = "UPDATE deliveries SET attempts = attempts + 1, next_at = ?2, "
	                "last_error = ?3 WHERE id = ?1",
	[Q_DLV_DEL] = "DELETE FROM deliveries WHERE id = ?1",
	[Q_NODE_BEAT] = "INSERT INTO nodes(id, address, host_regions, started_at, last_seen) "
	                "VALUES(?1, ?2, ?3, ?4, ?4) ON CONFLICT(id) DO UPDATE SET "
	                "address = excluded.address, host_regions = excluded.host_regions, "
	                "started_at = CASE WHEN ?5 = 1 THEN excluded.started_at "
	                "ELSE nodes.started_at END, last_seen = excluded.last_seen",
	[Q_NODE_LIST] = "SELECT id, address, host_regions, started_at, last_seen FROM nodes "
	                "ORDER BY id",
	/* Taken when free, expired, or already ours (a renewal). */
	[Q_LEASE_TAKE] = "INSERT INTO leases(name, holder, expires_at) VALUES(?1, ?2, ?3) "
	                 "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, "
	                 "expires_at = excluded.expires_at WHERE leases.holder = excluded.holder "
	                 "OR leases.expires_at < ?4",
	[Q_LEASE_DROP] = "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
	/* SQLite has one writer: nothing to lock, nothing to notify (these
	 * only bind their parameters); PostgreSQL's driver has its own. */
	[Q_LOCK] = "SELECT ?1",
	[Q_TRY_LOCK] = "SELECT 1, ?1",
	[Q_NOTIFY] = "SELECT ?1, ?2",
	/* Cloud operations routed to the node hosting their region, and the
	 * cloud state each node publishes (store_cloud.c). */
	[Q_COP_ADD] = "INSERT INTO cloud_ops(id, request_id, region, node, op, body, state, "
	              "created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?7) "
	              "ON CONFLICT(request_id) DO NOTHING",
	[Q_COP_BY_REQUEST] = "SELECT id FROM cloud_ops WHERE request_id = ?1",
	[Q_COP_GET] = "SELECT " COP_COLS " FROM cloud_ops WHERE id = ?1",
	[Q_COP_QUEUED] = "SELECT id, region, node FROM cloud_ops WHERE state = 'queued' "
	                 "ORDER BY created_at, id LIMIT ?1",
	[Q_COP_CLAIM] = "UPDATE cloud_ops SET state = 'running', claimed_by = ?2, updated_at = ?3 "
	                "WHERE id = ?1 AND state = 'queued'",
	[Q_COP_RUNNING] = "SELECT " COP_COLS " FROM cloud_ops WHERE state = 'running' AND "
	                  "claimed_by = ?1 ORDER BY created_at, id",
	[Q_COP_UPDATE] = "UPDATE cloud_ops SET task = ?3, state = CASE WHEN ?4 = 1 THEN 'done' "
	                 "ELSE state END, updated_at = ?5 WHERE id = ?1 AND claimed_by = ?2",
	[Q_CST_PUT] = "INSERT INTO cloud_state(node, kind, key, app, body, updated_at) "
	              "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(node, kind, key) DO UPDATE SET "
	              "app = excluded.app, body = excluded.body, updated_at = excluded.updated_at",
	[Q_CST_DEL] = "DELETE FROM cloud_state WHERE node = ?1 AND kind = ?2 AND key = ?3",
	[Q_CST_CLEAR] = "DELETE FROM cloud_state WHERE node = ?1",
	[Q_CST_LIST] = "SELECT node, key, body FROM cloud_state WHERE kind = ?1 AND "
	               "(CAST(?2 AS TEXT) IS NULL OR app = ?2) AND node <> ?3 ORDER BY key, node",
	/* Content-addressed files shared by the nodes (store_blobs.c). */
	[Q_BLOB_HAS] = "SELECT size, chunks FROM blobs WHERE sha256 = ?1",
	[Q_BLOB_ADD] = "INSERT INTO blobs(sha256, size, chunks, created_at) VALUES(?1, ?2, ?3, ?4) "
	               "ON CONFLICT(sha256) DO NOTHING",
	[Q_BLOB_CHUNK_ADD] = "INSERT INTO blob_chunks(sha256, seq, data) VALUES(?1, ?2, ?3) "
	                     "ON CONFLICT(sha256, seq) DO NOTHING",
	[Q_BLOB_CHUNK_GET] = "SELECT data FROM blob_chunks WHERE sha256 = ?1 AND seq = ?2",
	[Q_BLOB_OLD] = "SELECT sha256 FROM blobs WHERE created_at < ?1 ORDER BY created_at LIMIT ?2",
	[Q_BLOB_DEL] = "DELETE FROM blobs WHERE sha256 = ?1",
	[Q_BLOB_CHUNKS_DEL] = "DELETE FROM blob_chunks WHERE sha256 = ?1",
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
};

static void
add_in_list(mz_buf *sql, const char *col, const char **vals, int *param)
{
	mz_buf_printf(sql, " AND %s IN (", col);
	for (int i = 0; vals[i]; i++)
		mz_buf_printf(sql, "%s?%d", i ? "," : "", (*param)++);
	mz_buf_adds(sql, ")");
}

/* The filtering and ranking read only the indexed columns; the bodies
 * (large, in overflow pages) are read for the rows returned and no others. */
void
mz_store__exec_query_sql(const mz_exec_query *qy, mz_buf *sql)
{
	int param = 1;
	mz_buf_adds(sql, "SELECT e.body FROM executions AS e JOIN (SELECT id, build_time");
	if (qy->limit_per_config > 0)
		mz_buf_adds(sql, ", row_number() OVER (PARTITION BY config_id "
		                 "ORDER BY build_time DESC, id DESC) AS rn");
	mz_buf_adds(sql, " FROM executions WHERE 1=1");
	if (qy->type)
		mz_buf_printf(sql, " AND type = ?%d", param++);
	if (qy->application)
		mz_buf_printf(sql, " AND application = ?%d", param++);
	if (qy->config_ids)
		add_in_list(sql, "config_id", qy->config_ids, &param);
	if (qy->statuses)
		add_in_list(sql, "status", qy->statuses, &param);
	mz_buf_adds(sql, ") AS t ON e.id = t.id");
	if (qy->limit_per_config > 0)
		mz_buf_printf(sql, " WHERE t.rn <= %d", qy->limit_per_config);
	mz_buf_adds(sql, " ORDER BY t.build_time DESC, t.id DESC");
	if (qy->limit > 0)
		mz_buf_printf(sql, " LIMIT %d OFFSET %d", qy->limit, qy->offset > 0 ? qy->offset : 0);
}
