/*
 * store.h - mizzen's durable state: applications, pipeline configs with
 * their version history, executions, the engine's message queue, the
 * pending (concurrency-limited) executions, and a small key/value table for
 * cursors. Front50 plus Orca's execution repository and keiko's queue.
 *
 * One mz_store is one connection: use it from one thread at a time. Open one
 * per worker thread. Back-ends sit behind a table of operations chosen by
 * URL at open time (SQLite file path, or postgres://...), so nothing above
 * this header knows which database is underneath.
 *
 * Transactions: mz_store_begin() starts a write transaction (SQLite BEGIN
 * IMMEDIATE, so it never fails half-way with a stale snapshot); every call
 * made until mz_store_commit()/mz_store_rollback() is part of it. Calls made
 * outside a transaction run in their own.
 *
 * JSON ownership: functions returning json_t ** outputs hand the caller a
 * new reference; json_t * arguments are borrowed.
 */
#ifndef MZ_STORE_H
#define MZ_STORE_H

#include "core/core.h"

typedef struct mz_store mz_store;

/* url: a file path (SQLite; created with its schema) or "postgres://...". */
mz_code mz_store_open(const char *url, mz_store **out, mz_err *err);
void mz_store_close(mz_store *st);
/* "sqlite" or "postgres". */
const char *mz_store_kind(const mz_store *st);

mz_code mz_store_begin(mz_store *st, mz_err *err);

/*
 * Whether writes work, process-wide: after a write failed because the disk
 * is full (MZ_ENOSPACE) or the database is locked by someone else
 * (MZ_EBUSY), the store is "not writable" until a commit succeeds again.
 * Returns true when writable; otherwise false with reason ("disk full:
 * ...", "database locked: ...") in reason[n]. /health answers from it.
 */
bool mz_store_writable(char *reason, size_t n);
/* When the disk was full, tries one tiny write transaction on st (at most
 * once a second in the process) so that recovery is seen without other
 * traffic (a lock clears as soon as anyone begins a write); returns
 * mz_store_writable's answer afterwards. */
bool mz_store_probe(mz_store *st, char *reason, size_t n);
/* Marks st's write transactions as urgent (someone waits for their
 * commit: an API request). While an urgent writer of this process waits
 * for the write lock, mz_store_urgent_waiting() is non-zero, and the
 * engine ends its batch early and lets it in first. */
void mz_store_set_urgent(mz_store *st, bool urgent);
int mz_store_urgent_waiting(void);
mz_code mz_store_commit(mz_store *st, mz_err *err);
void mz_store_rollback(mz_store *st);

/* ---- applications (Front50 application objects) ---------------------- */

/* name is matched case-insensitively. */
mz_code mz_app_get(mz_store *st, const char *name, json_t **app, mz_err *err);
/* Inserts or replaces by lower-cased name. */
mz_code mz_app_put(mz_store *st, const json_t *app, mz_err *err);
mz_code mz_app_delete(mz_store *st, const char *name, mz_err *err);
/* A JSON array of applications, ordered by name. */
mz_code mz_app_list(mz_store *st, json_t **apps, mz_err *err);

/* ---- pipeline configs ------------------------------------------------- */

mz_code mz_pipeline_get(mz_store *st, const char *id, json_t **cfg, mz_err *err);
/* Exact name within app; the caller trims. MZ_ENOTFOUND if absent. */
mz_code mz_pipeline_get_by_name(mz_store *st, const char *app, const char *name,
                                json_t **cfg, mz_err *err);
/* Case-insensitive name lookup, for the duplicate-name check. */
mz_code mz_pipeline_find_name_ci(mz_store *st, const char *app, const char *name,
                                 json_t **cfg, mz_err *err);
/* Stores cfg under its "id" (which must be set) and appends a version to its
 * history unless the body equals the newest version. */
mz_code mz_pipeline_put(mz_store *st, const json_t *cfg, mz_err *err);
mz_code mz_pipeline_delete(mz_store *st, const char *id, mz_err *err);
/* ---- retention (store_retention.c) ------------------------------------
 * Each call deletes at most batch rows (run each in its own small
 * transaction) and sets *n to how many; only finished executions and
 * processed events are ever candidates. */
mz_code mz_retention_executions_beyond(mz_store *st, const char *config_id, int keep, int batch,
                                       int *n, mz_err *err);
mz_code mz_retention_executions_before(mz_store *st, int64_t before_ms, int batch, int *n,
                                       mz_err *err);
mz_code mz_retention_events_before(mz_store *st, int64_t before_ms, int batch, int *n,
                                   mz_err *err);
/* Finished cloud operations (several nodes) last changed before before_ms. */
mz_code mz_retention_cloud_ops_before(mz_store *st, int64_t before_ms, int batch, int *n,
                                      mz_err *err);
mz_code mz_retention_history_beyond(mz_store *st, const char *pipeline_id, int keep, int batch,
                                    int *n, mz_err *err);
/* History rows of pipelines that no longer exist. */
mz_code mz_retention_deleted_history(mz_store *st, int batch, int *n, mz_err *err);
/* The status of each execution of exec_ids (a JSON array of ids) that is
 * still stored, as {id: status}; ids not in it are gone. For pruning what
 * outlives an execution outside the store (job workspaces, cloud tasks,
 * bakes). A read: no transaction needed. */
mz_code mz_retention_exec_statuses(mz_store *st, const json_t *exec_ids, json_t **statuses,
                                   mz_err *err);
/* Config ids with more than keep finished executions / history versions. */
mz_code mz_retention_crowded_configs(mz_store *st, int keep, json_t **ids, mz_err *err);
mz_code mz_retention_crowded_histories(mz_store *st, int keep, json_t **ids, mz_err *err);

/* A token that changes (in the same transaction) whenever any pipeline
 * config or pipeline template is saved or deleted: compare it to know whether configs changed
 * without reading them. *gen is malloc'd. */
mz_code mz_pipeline_generation(mz_store *st, char **gen, mz_err *err);
/* app NULL: every config. Ordered by the stored "index", then name. */
mz_code mz_pipeline_list(mz_store *st, const char *app, json_t **cfgs, mz_err *err);
/* Newest first, at most limit. */
mz_code mz_pipeline_history(mz_store *st, const char *id, int limit, json_t **versions,
                            mz_err *err);

/* ---- executions ------------------------------------------------------- */

/* Whole execution documents (Spinnaker's execution JSON). */
mz_code mz_exec_get(mz_store *st, const char *id, json_t **exec, mz_err *err);
/* The same, for changing it: inside a transaction, the execution stays
 * locked until commit or rollback (PostgreSQL: its row lock, so one node
 * at a time changes an execution and the next one reads its committed
 * document; SQLite's single writer needs nothing more). */
mz_code mz_exec_get_locked(mz_store *st, const char *id, json_t **exec, mz_err *err);
/* Inserts or replaces; the indexed columns (type, application, config id,
 * status, times) are read from the document. */
mz_code mz_exec_put(mz_store *st, const json_t *exec, mz_err *err);
/* The same, with body the caller already made (mz_json_dump of exec), for
 * callers that keep the text. */
mz_code mz_exec_put_text(mz_store *st, const json_t *exec, const char *body, mz_err *err);
/* The stored document as text, without parsing it (for serving it as is);
 * *body is malloc'd; type (may be NULL) receives "PIPELINE" or
 * "ORCHESTRATION". */
mz_code mz_exec_get_raw(mz_store *st, const char *id, char **body, size_t *len,
                        char type[16], mz_err *err);
/* The same, locked for changing it (as mz_exec_get_locked). */
mz_code mz_exec_get_raw_locked(mz_store *st, const char *id, char **body, size_t *len,
                               char type[16], mz_err *err);
mz_code mz_exec_delete(mz_store *st, const char *id, mz_err *err);

typedef struct mz_exec_query {
	const char *type;          /* "PIPELINE" / "ORCHESTRATION" or NULL */
	const char *application;   /* or NULL */
	const char **config_ids;   /* NULL-terminated, or NULL */
	const char **statuses;     /* NULL-terminated, or NULL */
	int limit_per_config;      /* 0: no per-config limit */
	int limit;                 /* 0: no overall limit */
	int offset;
} mz_exec_query;

/* Newest first (by build time, then id). */
mz_code mz_exec_query_run(mz_store *st, const mz_exec_query *q, json_t **execs,
                          mz_err *err);
/* Number of executions of a config with the given status, other than
 * except_id (may be NULL). */
mz_code mz_exec_count_status(mz_store *st, const char *config_id, const char *status,
                             const char *except_id, int *count, mz_err *err);

/* ---- the message queue ----------------------------------------------- */

/* A message is a small JSON object; its compact serialisation is its
 * fingerprint. Pushing a message identical to one already waiting moves
 * the waiting one to the new delivery time instead of adding a copy
 * (keiko's de-duplication). */
typedef struct mz_msg {
	int64_t id;
	json_t *body;        /* owned */
	int64_t deliver_at;  /* ms epoch */
	int attempts;        /* deliveries so far, including this one */
} mz_msg;

mz_code mz_queue_push(mz_store *st, const json_t *msg, int64_t deliver_at, mz_err *err);
/* Moves an identical waiting message to deliver_at; no-op if none waits. */
mz_code mz_queue_reschedule(mz_store *st, const json_t *msg, int64_t deliver_at,
                            mz_err *err);
/* Claims up to max messages due at or before now, inside the current
 * transaction; each claimed message has attempts incremented and its
 * delivery pushed to now + lease_ms, so that if the work is committed
 * without an ack (an external effect in flight) it is redelivered only
 * after the lease. Returns the count in *n; free with mz_msg_release. */
mz_code mz_queue_claim(mz_store *st, int64_t now, int64_t lease_ms, mz_msg *out, int max,
                       int *n, mz_err *err);
/* Removes a handled message. */
mz_code mz_queue_ack(mz_store *st, int64_t id, mz_err *err);
/* Sets a claimed message's delivery time (e.g. release a lease early). */
mz_code mz_queue_set_delivery(mz_store *st, int64_t id, int64_t deliver_at, mz_err *err);
/* Earliest delivery time of any message, or INT64_MAX if the queue is empty. */
mz_code mz_queue_next_due(mz_store *st, int64_t *when, mz_err *err);
/* Makes every message due now: used at start-up by a single-process server
 * to take back leases held by a process that died. */
mz_code mz_queue_release_leases(mz_store *st, int64_t now, mz_err *err);
/* Makes due now the messages node_id claimed and holds under a lease (an
 * external call in flight): used when that node is declared dead, or
 * restarts. *released (may be NULL) receives how many. */
mz_code mz_queue_release_node(mz_store *st, const char *node_id, int64_t now, int *released,
                              mz_err *err);
/* Messages waiting for an execution (for zombie checks and tests). */
mz_code mz_queue_count_for_execution(mz_store *st, const char *exec_id, int *count,
                                     mz_err *err);
void mz_msg_release(mz_msg *m);

/* ---- pending executions (limitConcurrent / maxConcurrentExecutions) -- */

mz_code mz_pending_push(mz_store *st, const char *config_id, const json_t *msg, mz_err *err);
/* Pops the oldest (newest=false) or newest message; *msg NULL when empty. */
mz_code mz_pending_pop(mz_store *st, const char *config_id, bool newest, json_t **msg,
                       mz_err *err);
mz_code mz_pending_count(mz_store *st, const char *config_id, int *count, mz_err *err);

/* ---- outbox (events for notifications and pipeline triggers) --------- */

/* Events the engine emits inside its transactions (pipeline and stage
 * starting/complete/failed), consumed by the events component, which
 * deletes each once it has acted on it: written with the state change,
 * so none is lost and none is emitted twice. */
mz_code mz_outbox_push(mz_store *st, const json_t *event, mz_err *err);
/* Up to max events with id > after_id, oldest first, as a JSON array of
 * {"id": n, "event": {...}}. */
mz_code mz_outbox_fetch(mz_store *st, int64_t after_id, int max, json_t **events,
                        mz_err *err);
/* MZ_ECONFLICT when the event is gone (another node consumed it). */
mz_code mz_outbox_delete(mz_store *st, int64_t id, mz_err *err);

/* ---- key/value (poller cursors, server metadata, src/auth's records) -- */

mz_code mz_kv_get(mz_store *st, const char *key, char **value, mz_err *err);
mz_code mz_kv_put(mz_store *st, const char *key, const char *value, mz_err *err);
/* Removes key; no error when it is absent. */
mz_code mz_kv_delete(mz_store *st, const char *key, mz_err *err);
/* Every pair whose key starts with prefix, as a JSON object {key: value}
 * (values are strings). */
mz_code mz_kv_list(mz_store *st, const char *prefix, json_t **pairs, mz_err *err);

/* ---- audit trail ----------------------------------------------------- */

/* Appends one entry (an object with at least "time" (ms), "user" and
 * optionally "application"), kept as given. */
mz_code mz_audit_add(mz_store *st, const json_t *entry, mz_err *err);
/* Newest first, at most limit (1..10000); application and user NULL: any. */
mz_code mz_audit_list(mz_store *st, const char *application, const char *user, int limit,
                      json_t **entries, mz_err *err);

/* ---- incoming events (the event bus: webhooks, pollers, cron) -------- */

/* Stores an event under its unique id. *added (may be NULL) is false, and
 * nothing changes, when an event with that id is already stored: a
 * re-delivered event (a poller's or a schedule's deterministic id, a
 * client's retry) is kept once. */
mz_code mz_event_add(mz_store *st, const char *event_id, const json_t *event, bool *added,
                     mz_err *err);
/* Up to max unprocessed events, oldest first, as a JSON array of
 * {"seq": n, "eventId": "...", "event": {...}}. */
mz_code mz_event_pending(mz_store *st, int max, json_t **events, mz_err *err);
/* Marks an event processed, with what it did (e.g. {"executions": [...]});
 * MZ_ECONFLICT when it already was (another node got there first: roll
 * back what was done for it). */
mz_code mz_event_done(mz_store *st, int64_t seq, const json_t *result, mz_err *err);
/* {"seq", "eventId", "event", "processed": bool, "result"}; MZ_ENOTFOUND. */
mz_code mz_event_get(mz_store *st, const char *event_id, json_t **out, mz_err *err);

/* ---- notification deliveries (retried with backoff) ----------------- */

mz_code mz_delivery_push(mz_store *st, const json_t *delivery, int64_t deliver_at,
                         mz_err *err);
/* Up to max deliveries due at or before now, as a JSON array of
 * {"id": n, "attempts": n, "delivery": {...}}. */
mz_code mz_delivery_due(mz_store *st, int64_t now, int max, json_t **out, mz_err *err);
/* Counts a failed attempt and moves the delivery to deliver_at. */
mz_code mz_delivery_retry(mz_store *st, int64_t id, int64_t deliver_at, const char *error,
                          mz_err *err);
mz_code mz_delivery_delete(mz_store *st, int64_t id, mz_err *err);

/* ---- projects and pipeline templates (Front50's; store_docs.c) ------- */

/* Every project, ordered by name: [{"id", "name", "email", "config":
 * {"applications", "clusters", "pipelineConfigs"}, "createTs", "updateTs"}]. */
mz_code mz_project_list(mz_store *st, json_t **projects, mz_err *err);
/* By id, else by name (case-insensitive); MZ_ENOTFOUND. */
mz_code mz_project_get(mz_store *st, const char *id_or_name, json_t **project, mz_err *err);
/* Inserts or replaces (matched by id, else by name); gives a new project
 * its id and stamps updateTs. project is borrowed and modified. */
mz_code mz_project_put(mz_store *st, json_t *project, mz_err *err);
/* By id, else by name; MZ_ENOTFOUND. */
mz_code mz_project_delete(mz_store *st, const char *id_or_name, mz_err *err);
/* v2 pipeline templates by id, each also under its tags (id:tag). The list
 * holds the latest version of each (all_versions: every tag too), by id. */
mz_code mz_template_list(mz_store *st, bool all_versions, json_t **templates, mz_err *err);
/* tag NULL or "latest": the last one saved; MZ_ENOTFOUND. */
mz_code mz_template_get(mz_store *st, const char *id, const char *tag, json_t **tmpl,
                        mz_err *err);
/* Saves tmpl (borrowed; stamped with updateTs and tag) as the latest
 * version of its id and, with a tag, under that tag too. */
mz_code mz_template_put(mz_store *st, json_t *tmpl, const char *tag, mz_err *err);
/* With a tag: that version; without: the template and all its tags. */
mz_code mz_template_delete(mz_store *st, const char *id, const char *tag, mz_err *err);
/* An application's notification preferences (Front50's shape: {"application",
 * "email": [pref], "slack": [pref], ...}); an empty set when none. */
mz_code mz_app_notifications_get(mz_store *st, const char *app, json_t **prefs,
                                 mz_err *err);
mz_code mz_app_notifications_put(mz_store *st, const char *app, const json_t *prefs,
                                 mz_err *err);

/* ---- several nodes on one database ----------------------------------- */

/* True when other processes may write the same database at once
 * (PostgreSQL): what a single SQLite writer gets for free then needs the
 * locks, leases and notifications below. */
bool mz_store_shared(const mz_store *st);
/* The same for the store a URL names, without opening it. */
bool mz_store_url_shared(const char *url);
/* The node this connection works for: the messages it claims record it,
 * so others can take them back if it dies. */
void mz_store_set_node(mz_store *st, const char *node_id);
/* The targets of the messages this connection may claim, as ",t1,t2,"
 * (e.g. ",node:ID,region:east,"); NULL or "": only messages without a
 * target. A message with "target" in its body is stored with it (see
 * mz_queue_push) and claimed, and counted by mz_queue_next_due, only by a
 * connection that accepts it. */
void mz_store_set_accept(mz_store *st, const char *accept);

/* ---- files shared by the nodes (store_blobs.c) ------------------------- */

/* A file stored under its SHA-256 (64 lower-case hex digits; or another
 * key such as "image:<id>", see src/cloud/cloud_images.c), in chunks of
 * MZ_BLOB_CHUNK bytes, so a file one node made (a build's artifact) can be
 * read by another. Each call is its own transaction (none may be open). */
#define MZ_BLOB_CHUNK (1024 * 1024)
/* Stores the file at path under sha256 unless it is stored already. */
mz_code mz_blob_put_file(mz_store *st, const char *sha256, const char *path, mz_err *err);
/* Writes the stored file to the open descriptor fd; MZ_ENOTFOUND when no
 * file is stored under sha256. The caller checks the digest. */
mz_code mz_blob_get_fd(mz_store *st, const char *sha256, int fd, mz_err *err);
/* Deletes the file stored under sha256 (none: no error). */
mz_code mz_blob_delete(mz_store *st, const char *sha256, mz_err *err);
/* Deletes up to limit files stored before before_ms; *n how many. */
mz_code mz_blob_prune(mz_store *st, int64_t before_ms, int limit, int *n, mz_err *err);
/* Registers or refreshes a node (address: its --listen HOST:PORT;
 * host_regions: a JSON array of names). starting resets its start time. */
mz_code mz_node_heartbeat(mz_store *st, const char *id, const char *address,
                          const json_t *host_regions, int64_t now, bool starting, mz_err *err);
/* [{"id", "address", "hostRegions", "startedAt", "lastSeen", "alive"}],
 * alive when seen within lease_ms of now. */
mz_code mz_node_list(mz_store *st, int64_t now, int64_t lease_ms, json_t **nodes, mz_err *err);
/* A named lease for work done once per cluster: *held is true when holder
 * has it until now + ttl_ms (it was free, expired, or holder's already). */
mz_code mz_lease_take(mz_store *st, const char *name, const char *holder, int64_t now,
                      int64_t ttl_ms, bool *held, mz_err *err);
mz_code mz_lease_drop(mz_store *st, const char *name, const char *holder, mz_err *err);
/* Locks key until the end of the current transaction (PostgreSQL: an
 * advisory lock; SQLite: nothing to do). */
mz_code mz_store_lock(mz_store *st, const char *key, mz_err *err);
/* The same without waiting: *got is false when another transaction holds
 * key (SQLite: always true). Whoever already holds other locks (rows it
 * changed) should not wait for one: two such waiters deadlock. */
mz_code mz_store_try_lock(mz_store *st, const char *key, bool *got, mz_err *err);
/* Sends payload on channel to every listening node when the current
 * transaction commits (PostgreSQL NOTIFY; a no-op on SQLite). */
mz_code mz_store_notify(mz_store *st, const char *channel, const char *payload, mz_err *err);
/* Listens on channel on this connection (keep it for that only), then
 * waits up to timeout_ms for one notification: *payload is malloc'd, or
 * NULL when none came. MZ_EINVAL on SQLite. */
mz_code mz_store_listen(mz_store *st, const char *channel, mz_err *err);
mz_code mz_store_wait_notification(mz_store *st, int timeout_ms, char **payload, mz_err *err);

/* ---- the cloud across nodes (src/cloud, several nodes on PostgreSQL) --
 *
 * A cloud operation for a region is a row of cloud_ops that a live node
 * hosting the region claims and runs; it writes the provider's task back
 * into the row. Each node publishes the server groups and load balancers
 * it runs into cloud_state, so any node can answer for every region. */

/* Queues an operation: id (new), the client request id (the engine's
 * idempotency key: a request id seen before queues nothing and returns
 * the first operation's id), its region, the node it must run on (NULL:
 * any live node hosting the region), its name and description. The
 * operation's id goes to out_id. */
mz_code mz_cloudop_add(mz_store *st, const char *id, const char *request_id,
                        const char *region, const char *node, const char *op,
                        const json_t *description, int64_t now, char out_id[40],
                        mz_err *err);
/* {"id", "requestId", "region", "node" (or null), "op", "description",
 * "state" ("queued", "running", "done"), "claimedBy" (or null), "task" (the
 * provider's task as last written back, or null), "createdAt",
 * "updatedAt"}; MZ_ENOTFOUND. */
mz_code mz_cloudop_get(mz_store *st, const char *id, json_t **op, mz_err *err);
/* The oldest queued operations: [{"id", "region", "node"}]. */
mz_code mz_cloudop_queued(mz_store *st, int limit, json_t **ops, mz_err *err);
/* Claims a queued operation for node: *claimed is false when another node
 * was first (or it is no longer queued). */
mz_code mz_cloudop_claim(mz_store *st, const char *id, const char *node, int64_t now,
                          bool *claimed, mz_err *err);
/* The operations node claimed and has not finished (as mz_cloudop_get). */
mz_code mz_cloudop_running(mz_store *st, const char *node, json_t **ops, mz_err *err);
/* Writes the provider's task back (only node's claim); done finishes it. */
mz_code mz_cloudop_update(mz_store *st, const char *id, const char *node, const json_t *task,
                           bool done, int64_t now, mz_err *err);
/* Publishes (body non-NULL) or withdraws (body NULL) one item of node's
 * cloud: kind "sg" (key account/region/name) or "lb"; app is the Frigga
 * application it belongs to. */
mz_code mz_cloudstate_put(mz_store *st, const char *node, const char *kind, const char *key,
                           const char *app, const char *body, int64_t now, mz_err *err);
/* Withdraws everything node published (a node starting afresh). */
mz_code mz_cloudstate_clear(mz_store *st, const char *node, mz_err *err);
/* The items of kind (of application app, NULL: all) that nodes other than
 * except_node published: [{"node", "key", "body"}], body parsed. */
mz_code mz_cloudstate_list(mz_store *st, const char *kind, const char *app,
                            const char *except_node, json_t **items, mz_err *err);

#endif
