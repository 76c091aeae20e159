/*
 * engine_int.h - for the files in src/engine only: the engine's process state, the
 * batch (one store transaction's worth of message handling), message
 * constructors, and helpers over the execution JSON.
 *
 * Executions are handled as Spinnaker's execution JSON documents (jansson)
 * rather than mirrored C structs: the API returns them as they are, unknown
 * keys survive, and a stage type added later needs no schema change.
 */
#ifndef MZ_ENGINE_INT_H
#define MZ_ENGINE_INT_H

#include "engine/engine.h"

#include <pthread.h>

#define MZ_MAX_BATCH 512       /* stored messages handled per transaction */
#define MZ_CLAIM_CHUNK 16      /* due messages read at a time */
#define MZ_MAX_LOCAL 2048      /* messages handled in one transaction */
#define MZ_LEASE_MS 60000      /* redelivery delay of an unacknowledged message */
#define MZ_MAX_ATTEMPTS 5      /* deliveries before a message is dead */
#define MZ_RETRY_DELAY_MS 15000 /* StartStage waiting for upstreams (Orca's) */
/* A batch takes no new message once it has run this long: the write
 * transaction is shared with every API write, and the DESIGN target is
 * that a running expression never holds one back more than 100 ms. What
 * is left is committed as due now and runs in the next batch. */
#define MZ_BATCH_SLICE_MS 20
/* ...and ends after this long when an urgent writer (an API request)
 * waits for the write lock: long enough to get work done, short enough
 * that a trigger never waits behind a whole slice. */
#define MZ_BATCH_MIN_MS 1

/* A queue message: keiko's {"kind", "executionType", "executionId",
 * "stageId", "taskId", ...}. The engine makes five or six per stage
 * transition and handles most of them in the batch that made them, so a
 * message it makes is typed (plain fields, no allocation): a JSON object
 * of five keys cost 14 allocations and as many frees, and a sixth of the
 * engine's instructions per stage. Its JSON is built only when it goes to
 * the queue table (or into a pending or deferred record). A message read
 * from the table, or one given keys beyond these, carries its JSON (json
 * set), which then is the message: the fields are not used. */
#define MZ_QM_ID 32
typedef struct mz_qmsg {
	const char *kind;      /* string literals (typed message) */
	const char *exec_type;
	const char *status, *original_status; /* completeTask's; NULL: absent */
	char exec_id[MZ_QM_ID], stage_id[MZ_QM_ID], task_id[MZ_QM_ID]; /* "": absent */
	json_t *json;          /* owned: the message as JSON, when it is one */
} mz_qmsg;

/* Parsed executions kept between transactions (engine_cache.c). */
typedef struct mz_exec_cache mz_exec_cache;

struct mz_engine {
	mz_engine_config cfg;
	mz_exec_cache *cache;
	char *db_url;
	char *ui_base;
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	mz_retention retention;
	pthread_t retention_thread;
	bool have_retention_thread;
	uint64_t wake_seq;
	mz_exec_listener listener;
	void *listener_data;

	/* this server as a node of the cluster (engine_node.c) */
	char node_id[64];
	char *address;
	json_t *host_regions;
	bool shared;            /* the store is shared with other nodes */
	/* targets of messages this node claims (engine_route.c), under mu:
	 * mine: its own id and regions; accept: those and the dead nodes'
	 * and unhosted regions'; nodes: the registry as last read */
	char *mine, *accept;
	json_t *nodes;
	pthread_t node_thread, remote_thread;
	bool have_node_thread, have_remote_thread;
};

/* An execution loaded during a batch: written back once at commit. */
typedef struct mz_cached_exec {
	char id[32];
	json_t *exec;
	char *text;   /* its stored text as of the last load or flush; NULL: none yet */
	size_t len;
	bool dirty;   /* to be written at the next flush */
	bool changed; /* written in this batch: listeners hear of it after commit */
} mz_cached_exec;

/* An EXTERNAL task claimed in a batch, to run after the commit. */
typedef struct mz_deferred {
	int64_t msg_id;
	json_t *msg;
	json_t *execution; /* snapshot copy */
	char stage_id[32];
	char task_id[16];
	char *key;
} mz_deferred;

typedef struct mz_batch {
	mz_engine *eng;
	mz_store *st;
	int64_t now;
	mz_cached_exec *cache;
	int ncache, capcache;
	/* cache indexes + 1 (0: empty) by id and by document: a batch may
	 * touch hundreds of executions, each looked up several times per
	 * message (open addressing, nslots a power of two >= 2 * capcache) */
	int *by_id, *by_doc;
	int nslots;
	mz_qmsg *local; /* messages to handle in this transaction, FIFO */
	int nlocal, caplocal, headlocal;
	/* the stored message being handled (NULL for local ones) */
	const mz_msg *cur;
	int64_t requeue_at; /* >= 0: deliver the current message again then */
	bool deferred;      /* current message left leased for an external task */
	bool store_only;    /* operator action: store follow-ups, handle none */
	mz_deferred *defer;
	int ndefer, capdefer;
	int handled;
	int64_t slice_start; /* mz_mono_ms() */
	int64_t slice_end;  /* mz_mono_ms(); 0: no time slicing */
	char **logs;        /* info lines printed only once the batch commits */
	int nlogs, caplogs;
	mz_err err;
} mz_batch;

/* Logs (info) once the batch's transaction commits, never if it rolls
 * back: "execution X SUCCEEDED" must not be said when the disk was full
 * and nothing was stored. */
void mz__log_after_commit(mz_batch *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* engine_retention.c: the pruning thread. */
void mz__retention_start(mz_engine *eng);
void mz__retention_stop(mz_engine *eng);

/* ---- batch and queue (engine_batch.c) -------------------------------- */

/* Enqueues msg (stolen) after delay_ms. A zero-delay message is handled in
 * this same transaction when there is room; pushing the message currently
 * being handled re-delivers it later instead of adding a copy. */
mz_code mz__push(mz_batch *b, mz_qmsg msg, int64_t delay_ms);
/* Makes an identical waiting message due after delay_ms; no-op if none. */
mz_code mz__reschedule(mz_batch *b, mz_qmsg msg, int64_t delay_ms);
/* Stores the messages queued for local handling and not handled (a
 * transaction that handles none of them itself). */
mz_code mz__push_local_to_store(mz_batch *b);
/* The execution, from this batch's cache or the store (borrowed; NULL with
 * b->err set when missing). */
json_t *mz__exec_load(mz_batch *b, const char *id);
void mz__exec_dirty(mz_batch *b, const json_t *exec);
/* Writes the batch's changed executions to the store (still uncommitted),
 * so queries inside the transaction see them. */
mz_code mz__batch_flush(mz_batch *b);
/* Adds a newly built execution to the batch (stolen), marked dirty. */
void mz__exec_adopt(mz_batch *b, json_t *exec);
/* Runs one batch on st; returns handled count or -1 (err set). */
int mz__batch_run(mz_engine *eng, mz_store *st, mz_err *err);
/* Runs the body of a one-off transaction (operator actions) with the batch
 * machinery, so its follow-up messages are stored the same way. */
typedef mz_code (*mz_batch_fn)(mz_batch *b, void *arg);
mz_code mz__with_batch(mz_engine *eng, mz_store *st, mz_batch_fn fn, void *arg, mz_err *err);

/* ---- the execution cache (engine_cache.c) ------------------------------ */

mz_exec_cache *mz__cache_new(void);
void mz__cache_free(mz_exec_cache *c);
/* Reads execution id's stored text in st's transaction and returns its
 * document (new reference): the cached one when its text is the stored
 * text, else parsed. *text (malloc'd) and *len receive the stored text.
 * NULL with err set when the execution is missing or unreadable. c may
 * be NULL (no cache). */
json_t *mz__cache_load(mz_exec_cache *c, mz_store *st, const char *id, char **text,
                       size_t *len, mz_err *err);
/* Keeps doc (stolen) as the parse of text (stolen, stored text of doc);
 * finished executions and oversized ones are dropped instead. */
void mz__cache_put(mz_exec_cache *c, json_t *doc, char *text, size_t len);
/* Hands a committed batch's executions to the cache (emptying b's list). */
void mz__batch_keep(mz_batch *b);

/* ---- messages (engine_msg.c) ----------------------------------------- */

/* Typed messages naming the execution, its stage, its task (kind: a
 * string literal). A value missing from the document, or too long for the
 * fields, makes a JSON message instead, exactly as it was always built. */
mz_qmsg mz__msg_exec(const char *kind, const json_t *exec);
mz_qmsg mz__msg_stage(const char *kind, const json_t *exec, const json_t *stage);
mz_qmsg mz__msg_task(const char *kind, const json_t *exec, const json_t *stage,
                     const json_t *task);
/* A message that is this JSON object (stolen). */
mz_qmsg mz__qm_from_json(json_t *json);
/* A copy (the JSON, if any, deep-copied). */
mz_qmsg mz__qm_copy(const mz_qmsg *m);
void mz__qm_release(mz_qmsg *m);
/* The message as JSON (new reference), as the queue table stores it. */
json_t *mz__qm_json(const mz_qmsg *m);
/* Sets a key: a status name stays typed, anything else makes the message
 * JSON. value is stolen. */
void mz__qm_set(mz_qmsg *m, const char *key, json_t *value);
/* A string or boolean member (NULL / dflt when absent). */
const char *mz__qm_str(const mz_qmsg *m, const char *key);
bool mz__qm_bool(const mz_qmsg *m, const char *key, bool dflt);
/* Whether m and the JSON message j are the same message (equal JSON). */
bool mz__qm_equal_json(const mz_qmsg *m, const json_t *j);
/* Dispatches a message to its handler. */
mz_code mz__handle(mz_batch *b, const mz_qmsg *msg);

/* ---- execution model (engine_model.c) -------------------------------- */

const char *mz__status(const json_t *o);
void mz__set_status(json_t *o, const char *status);
json_t *mz__stages(const json_t *exec);
json_t *mz__stage_by_id(const json_t *exec, const char *id);
json_t *mz__stage_by_ref(const json_t *exec, const char *ref);
json_t *mz__task_by_id(const json_t *stage, const char *id);
json_t *mz__ctx(json_t *stage); /* the stage's context object (created) */
json_t *mz__parent(const json_t *exec, const json_t *stage);
bool mz__is_synthetic(const json_t *stage);
bool mz__is_initial(const json_t *stage);
/* Top-level ancestor (the stage itself when top-level). */
json_t *mz__top_level(const json_t *exec, json_t *stage);
/* Stages whose requisites include stage's refId (same parent). */
json_t *mz__downstream(const json_t *exec, const json_t *stage); /* new array of borrowed */
/* Direct synthetic children of the given owner ("STAGE_BEFORE"/"STAGE_AFTER"). */
json_t *mz__children(const json_t *exec, const json_t *stage, const char *owner);
/* Upstream stages named by requisiteStageRefIds (same parent). */
json_t *mz__upstream(const json_t *exec, const json_t *stage);
/* Orca's failure status: continuePipeline -> FAILED_CONTINUE, failPipeline
 * unset/true -> dflt, else STOPPED. */
const char *mz__failure_status(const json_t *stage, const char *dflt);
bool mz__any_upstream_halted(const json_t *exec, const json_t *stage);
/* The same from the stage graph's index (engine_graph.c): 1 or 0, -1 when
 * the stage is not among the execution's stages (or out of memory). */
int mz__graph_upstream_halted(const json_t *exec, const json_t *stage);
/* Whether ok(status) holds for every upstream stage, from the index, with
 * no array made: 1 or 0, -1 as above. */
int mz__graph_all_upstream(const json_t *exec, const json_t *stage,
                           bool (*ok)(const char *status));
/* Puts {details:{error, errors[]}, exceptionType, ...} in context.exception. */
void mz__set_exception(json_t *stage, const char *type, const char *message);
/* The value of key in the stage context, else in the outputs of its
 * ancestors (Orca's StageContext lookup); borrowed. */
json_t *mz__ancestor_lookup(const json_t *exec, const json_t *stage, const char *key);
/* The stage and its ancestors in that order (Orca's stage.ancestors()): a
 * new array of borrowed stages. */
json_t *mz__ancestors(const json_t *exec, const json_t *stage);
/* Merged outputs of every stage in order (the execution "context"). */
json_t *mz__exec_outputs(const json_t *exec);
/* Evaluates ${...} in the stage context (all of it, or only strings that
 * still contain expressions); records failures in
 * context.expressionEvaluationSummary. Returns a new context object. */
json_t *mz__eval_context(const json_t *exec, const json_t *stage, const char *const *skip);
/* Whether mz__eval_context would give anything but a copy of the stage's
 * context (an expression to evaluate outside the skipped keys, or a
 * summary it would drop). */
bool mz__context_evaluates(const json_t *stage, const char *const *skip);
/* A new stage object. */
json_t *mz__stage_new(const char *type, const char *name, const char *ref_id,
                      json_t *context);

/* Builds the SpEL root for a stage: its context plus execution, trigger and
 * parameters; and evaluates value against it (failures into summary). */
json_t *mz__eval_root(const json_t *exec, const json_t *stage);
json_t *mz__eval_value(const json_t *exec, const json_t *stage, const json_t *root,
                       const json_t *value, json_t *summary);

/* Emits an Echo event ("starting", "complete", "failed") for the execution,
 * or for one of its stages, into the store's outbox (engine_events.c). */
mz_code mz__emit(mz_batch *b, const char *what, const json_t *exec, const json_t *stage);

/* ---- launching (engine_launch.c) ------------------------------------- */

json_t *mz__build_pipeline(const json_t *cfg, const json_t *trigger, const char *user,
                           const char *origin, mz_err *err);

/* ---- handlers (engine_h_*.c) ----------------------------------------- */

mz_code mz__h_start_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg);
mz_code mz__h_complete_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg);
mz_code mz__h_cancel_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg);
mz_code mz__h_reschedule_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg);
mz_code mz__h_resume_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg);
mz_code mz__h_start_waiting(mz_batch *b, const mz_qmsg *msg);
mz_code mz__h_start_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg);
mz_code mz__h_complete_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg);
mz_code mz__h_skip_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg);
mz_code mz__h_cancel_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg);
mz_code mz__h_abort_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg);
mz_code mz__h_continue_parent(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg);
mz_code mz__h_restart_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg);
mz_code mz__h_pause_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg);
mz_code mz__h_resume_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg);
mz_code mz__h_start_task(mz_batch *b, json_t *exec, json_t *stage, json_t *task,
                         const mz_qmsg *msg);
mz_code mz__h_run_task(mz_batch *b, json_t *exec, json_t *stage, json_t *task,
                       const mz_qmsg *msg);
mz_code mz__h_complete_task(mz_batch *b, json_t *exec, json_t *stage, json_t *task,
                            const mz_qmsg *msg);

/* Several nodes (engine_route.c): whether a task of an ON_NODE stage
 * runs here; *away when the message was sent on (or put back to wait for
 * its node) instead. */
mz_code mz__route_task(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg,
                       const mz_task_def *def, bool canceling, bool *away);
/* A cancel handled while the task's node was dead left a message
 * ("afterCancel") for that node: it runs the task's on_cancel there once
 * the node is back. */
mz_code mz__route_after_cancel(mz_batch *b, json_t *exec, json_t *stage, json_t *task,
                               const mz_qmsg *msg, const mz_task_def *def);
/* Adds the stage's target to a runTask message built for it. */
void mz__route_msg(const json_t *stage, const json_t *task, mz_qmsg *msg);
void mz__route_init(mz_engine *eng);
/* Recomputes what this node accepts from the node registry. */
void mz__route_update(mz_engine *eng, const json_t *nodes);
void mz__route_free(mz_engine *eng);

/* Applies a task result (shared by in-transaction and external tasks). */
mz_code mz__apply_task_result(mz_batch *b, json_t *exec, json_t *stage, json_t *task,
                              const mz_qmsg *msg, mz_task_result *r);
/* Pushes StartStage for downstream stages, or ContinueParentStage, or
 * CompleteExecution (Orca's startNext). */
mz_code mz__start_next(mz_batch *b, json_t *exec, json_t *stage);
/* Whether an execution starting must wait behind its pipeline's running
 * ones; *busy: another node is deciding for the pipeline, try later. */
mz_code mz__should_queue(mz_batch *b, const json_t *exec, bool *queue, bool *busy);

/* Tells the engine's listener about every execution a committed batch
 * changed. */
void mz__notify(mz_engine *eng, mz_batch *b);
/* engine_node.c: tells the other nodes which executions the batch changed
 * (inside its transaction: they hear it when it commits). */
mz_code mz__notify_remote(mz_engine *eng, mz_batch *b);
/* engine_node.c: starts and stops the heartbeat and the listener of other
 * nodes' changes. */
mz_code mz__node_start(mz_engine *eng, mz_err *err);
void mz__node_stop(mz_engine *eng);

/* Runs the deferred external tasks of a committed batch. */
void mz__run_deferred(mz_engine *eng, mz_store *st, mz_batch *b);
void mz__batch_release(mz_batch *b);

/* A stored artifact file was used (artifacts_prune.c keeps it). */
void mz__artifacts_touch(const char *path);

#endif
