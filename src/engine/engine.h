/*
 * engine.h - the execution engine (Orca): turns pipeline configs into
 * executions and drives them through Spinnaker's stage/task state machine
 * over the store's durable message queue.
 *
 * Every state change is a message handled inside one store transaction that
 * applies the change, enqueues what follows and acknowledges the message, so
 * a crash at any instant neither loses nor repeats a state change. A task
 * with an effect outside the store (an HTTP call) is marked EXTERNAL: its
 * intent is committed first, the effect runs outside any transaction with
 * an idempotency key, and its result is applied in a second transaction.
 *
 * The engine knows no cloud provider: components that add stages register
 * their stage and task definitions before mz_engine_start().
 *
 * JSON ownership: as in core.h (returned json_t * are new references).
 */
#ifndef MZ_ENGINE_H
#define MZ_ENGINE_H

#include "core/core.h"
#include "expr/expr.h"
#include "store/store.h"

typedef struct mz_engine mz_engine;

/* ---- statuses (Orca's ExecutionStatus) ------------------------------- */

bool mz_status_complete(const char *status); /* CANCELED SUCCEEDED STOPPED SKIPPED TERMINAL FAILED_CONTINUE */
bool mz_status_halt(const char *status);     /* TERMINAL CANCELED STOPPED */
bool mz_status_successful(const char *status); /* SUCCEEDED STOPPED SKIPPED */
bool mz_status_valid(const char *status);

/* ---- stage and task definitions -------------------------------------- */

typedef struct mz_task_ctx {
	mz_engine *engine;
	/* The store, inside the handling transaction; NULL for EXTERNAL tasks,
	 * which run outside any transaction and must not touch the store. */
	mz_store *store;
	json_t *execution; /* borrowed */
	json_t *stage;     /* borrowed; "context" has expressions evaluated */
	json_t *task;      /* borrowed */
	int64_t now;
	/* For EXTERNAL tasks: a key unique to this attempt of this task that
	 * stays the same if the attempt is replayed after a crash. Send it as
	 * an idempotency key so the far side can drop a duplicate. */
	const char *idempotency_key;
	/* Engine-internal: the batch handling this task (NULL for EXTERNAL). */
	void *internal;
} mz_task_ctx;

typedef struct mz_task_result {
	const char *status;  /* an ExecutionStatus name; required */
	json_t *context;     /* merged into the stage context; owned; may be NULL */
	json_t *outputs;     /* merged into the stage outputs; owned; may be NULL */
	int64_t backoff_ms;  /* RUNNING: poll again after this; 0 = task default */
	char error[1024];    /* failures: the message put in context.exception */
} mz_task_result;

/* Helpers for tasks: set status and an error message. */
void mz_task_result_set(mz_task_result *r, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Returns r->context / r->outputs, creating it on first use (borrowed). */
json_t *mz_task_result_context(mz_task_result *r);
json_t *mz_task_result_outputs(mz_task_result *r);

typedef void (*mz_task_fn)(mz_task_ctx *ctx, mz_task_result *r);

enum {
	MZ_TASK_RETRYABLE = 1 << 0,           /* has backoff/timeout */
	MZ_TASK_TIMEOUT_OVERRIDABLE = 1 << 1, /* stageTimeoutMs replaces timeout */
	MZ_TASK_EXTERNAL = 1 << 2,            /* performs I/O: run outside tx */
	/* Several nodes: the task keeps state on the node that runs it (a
	 * process, files in its data directory), so every run of the stage's
	 * ON_NODE tasks happens on the node that ran the first (recorded as
	 * the stage's "node"); see engine_route.c. */
	MZ_TASK_ON_NODE = 1 << 3,
	/* ... and that first run is on a node hosting the stage context's
	 * "region" (a bake, whose image the region's instances use). */
	MZ_TASK_IN_REGION = 1 << 4,
};

typedef struct mz_task_def {
	const char *name;        /* logical name shown in tasks[], e.g. "wait" */
	const char *impl_class;  /* shown as implementingClass */
	mz_task_fn execute;
	int64_t backoff_ms;      /* poll interval for RUNNING (default 1000) */
	int64_t timeout_ms;      /* 0: no task timeout */
	unsigned flags;
	/* Optional: called (inside the transaction) when the execution is
	 * canceled while this task runs; may add context/outputs. */
	void (*on_cancel)(mz_task_ctx *ctx, mz_task_result *r);
} mz_task_def;

/* The planner a stage definition uses to add tasks and synthetic stages. */
typedef struct mz_plan mz_plan;

void mz_plan_task(mz_plan *p, const char *task_name);
/* Adds a synthetic stage before (or after) the parent. context is stolen.
 * With chain, the new stage runs after the previously added stage of the
 * same phase; without, it starts in parallel. Returns the stage (borrowed). */
json_t *mz_plan_before(mz_plan *p, const char *type, const char *name, json_t *context,
                       bool chain);
json_t *mz_plan_after(mz_plan *p, const char *type, const char *name, json_t *context,
                      bool chain);
/* The execution and the stage being planned (borrowed). */
json_t *mz_plan_execution(mz_plan *p);
json_t *mz_plan_stage(mz_plan *p);
mz_store *mz_plan_store(mz_plan *p);

typedef struct mz_stage_def {
	const char *type;
	/* Called at StartStage: add tasks and before-stages. Fail with err
	 * for a planning error (the stage becomes TERMINAL with the message). */
	mz_code (*plan)(mz_plan *p, mz_err *err);
	/* Optional: after-stages, planned when the stage's own work is done. */
	mz_code (*after)(mz_plan *p, mz_err *err);
	/* Optional: stages to run when the stage fails. */
	mz_code (*on_failure)(mz_plan *p, mz_err *err);
	/* Optional: reset context keys before a restart. */
	void (*prepare_restart)(json_t *stage);
	/* Context keys the engine must not evaluate at stage start (the stage
	 * evaluates them itself); NULL-terminated, may be NULL. */
	const char *const *raw_keys;
	bool can_manually_skip;
	/* Optional: checks a stage of a config being saved or run (e.g. a
	 * policy the server enforces); an error refuses the config with 400. */
	mz_code (*validate)(const json_t *stage, mz_err *err);
} mz_stage_def;

/* Definitions are static: the engine keeps the pointers. Registering must
 * happen before mz_engine_start(). */
void mz_engine_register_task(const mz_task_def *def);
void mz_engine_register_stage(const mz_stage_def *def);

/* Preconfigured webhooks (the config's webhook.preconfigured, Orca's
 * PreconfiguredWebhookStage): each enabled entry with a "type" not taken
 * by another stage becomes a stage type that runs the webhook stage with
 * the entry's fields (those of mz_webhook_preconfigured_fields) over the
 * stage's, and the entry's parameters' defaultValue for the
 * parameterValues the stage leaves out. Before mz_engine_start(); the
 * entries are kept (hooks is borrowed). */
void mz_engine_register_preconfigured_webhooks(const json_t *hooks);
/* The webhook fields a preconfigured webhook fixes when its entry sets
 * them (NULL-terminated): Deck hides them from the stage editor. */
extern const char *const mz_webhook_preconfigured_fields[];
/* Whether user may do perm ("READ", "WRITE", "EXECUTE") under a
 * permissions object {"READ": [roles], "WRITE": [roles]}, or is an admin
 * (perm "ADMIN", permissions unused) (src/auth, set by main.c). A
 * preconfigured webhook whose entry has "permissions" runs only for an
 * execution whose user may WRITE it, as Orca checks it with Fiat; a stage
 * that saves pipelines needs WRITE on their application. Without a
 * resolver every user may. */
typedef bool (*mz_permits_fn)(mz_store *st, const char *user, const json_t *permissions,
                              const char *perm, void *udata);
void mz_engine_set_permits_fn(mz_permits_fn fn, void *udata);

/* Who may deploy where (src/auth, set by main.c): the accounts `user` may
 * WRITE, as a new JSON array of names, stored in every new execution's
 * authentication.allowedAccounts (Orca's field) when it is stored. The
 * cloud stages refuse an account that has permissions and is not listed,
 * so an automated trigger acting as a user deploys only where that user
 * may. No resolver (or a NULL answer): the list stays empty. */
typedef json_t *(*mz_accounts_fn)(mz_store *st, const char *user, void *udata);
void mz_engine_set_accounts_fn(mz_accounts_fn fn, void *udata);

/* Secrets (src/auth's /secrets, set by main.c). A stage context holds
 * ${#secret('name')} references, never values (#secret evaluates to
 * itself); an effect replaces them just before it acts and never stores
 * or logs the result. The values one effect resolved are collected in an
 * mz_secret_use, so that what comes back from the effect (an error
 * message, a response it records) can be scrubbed of them before it is
 * stored or logged. */
typedef struct mz_secret_use {
	char **v; /* the values resolved, each malloc'd */
	size_t n, cap;
} mz_secret_use;
/* text with every reference replaced by its secret's value (malloc'd), or
 * NULL (err set) when one is missing; each value used is added to use
 * (which may be NULL). */
typedef char *(*mz_secret_fn)(const char *text, mz_secret_use *use, mz_err *err, void *udata);
void mz_engine_set_secret_fn(mz_secret_fn fn, void *udata);
/* Without a resolver (or a reference): a copy of text. */
char *mz_engine_resolve_secrets(const char *text, mz_secret_use *use, mz_err *err);
/* A deep copy of v with the references in every string (not in keys)
 * resolved, or NULL (err set). Free it with mz_secret_json_free. */
json_t *mz_engine_resolve_secrets_json(const json_t *v, mz_secret_use *use, mz_err *err);
/* Zeroes every string of v, then releases it. */
void mz_secret_json_free(json_t *v);
/* Zeroes a C string (a resolved value) before it is freed. */
void mz_secret_wipe(char *s);
void mz_secret_use_add(mz_secret_use *use, const char *value);
/* Replaces, in place, every occurrence of a used value (of 4 characters
 * or more: shorter ones would match everywhere) by "****". */
void mz_secret_use_scrub(const mz_secret_use *use, char *text);
/* The same over len bytes (NULs allowed); returns the new length. */
size_t mz_secret_use_scrub_mem(const mz_secret_use *use, char *data, size_t len);
/* The same over every string of v (keys included), in place. */
void mz_secret_use_scrub_json(const mz_secret_use *use, json_t *v);
/* Zeroes and frees the values. */
void mz_secret_use_release(mz_secret_use *use);

/* Sensitive request headers (engine_seal.c). A webhook's Authorization,
 * Proxy-Authorization, Cookie, X-Api-Key... header, or any header whose
 * value holds a ${#secret()} reference, is stored as MZ_MASKED in the
 * context's customHeaders, its value sealed (encrypted) in the context's
 * sealedHeaders; the stage opens it just before the request. The sealer
 * (src/auth's secretbox under the secrets key, set by main.c) seals text
 * (open false) or opens a sealed text (open true), malloc'd, or NULL with
 * err. Without one nothing is sealed. */
#define MZ_MASKED "****"
typedef char *(*mz_seal_fn)(const char *text, bool open, mz_err *err, void *udata);
void mz_engine_set_seal_fn(mz_seal_fn fn, void *udata);
bool mz_engine_sensitive_header(const char *name);
/* Seals the sensitive customHeaders of a stage context in place; before
 * evaluation (evaluated false) values with expressions are left for later. */
void mz_engine_seal_headers(json_t *ctx, bool evaluated);
/* customHeaders as they are to be sent (a new object: free it with
 * mz_secret_json_free), sealed values opened and noted in use; NULL with
 * err when one cannot be opened. */
json_t *mz_engine_open_headers(const json_t *ctx, mz_secret_use *use, mz_err *err);

/* What a pipeline save may not lose or reveal (config_save.c; the API's
 * save and the stages that save use them). A trigger's secret is
 * write-only: "********" or none keeps the stored one (existing: the
 * stored config, or NULL). */
void mz_config_keep_trigger_secrets(json_t *cfg, const json_t *existing);
/* Seals the sensitive customHeaders of a config's stages (as executions
 * keep them: "****" and sealedHeaders), keeping the stored sealed value of
 * a header saved back as "****". */
void mz_config_seal_headers(json_t *cfg, const json_t *existing);

const mz_stage_def *mz_engine_stage_def(const char *type);
/* The registered stage definitions, in registration order (for GET
 * /stageTypes: the UI offers only the types this server can run). */
int mz_engine_stage_count(void);
const mz_stage_def *mz_engine_stage_at(int i);
const mz_task_def *mz_engine_task_def(const char *name);

/* ---- lifecycle -------------------------------------------------------- */

/* What is kept (engine_retention.c; the config's "retention" object). */
typedef struct mz_retention {
	int executions_per_pipeline;    /* finished executions per pipeline: 200 */
	double max_age_days;            /* finished executions, processed events: 90 */
	int config_history;             /* versions per pipeline config: 50 */
	int images_per_package;         /* unused images kept per package/name: 5 */
	int64_t interval_ms;            /* between passes ("intervalSeconds"): 600 s */
} mz_retention;

/* Reads {"executionsPerPipeline", "maxAgeDays", "configHistory",
 * "imagesPerPackage", "intervalSeconds"} (each optional) over the
 * defaults; cfg may be NULL. False with err naming the bad setting. */
bool mz_retention_from_json(const json_t *cfg, mz_retention *out, mz_err *err);

/* What retention prunes outside the store: files under the data directory
 * that outlive their executions (job workspaces, the local cloud's
 * operation tasks, bakes and images). A component registers a pruner
 * before mz_engine_start; every node calls each one after every retention
 * pass (each node has its own data directory, so unlike the store's
 * pruning this is not under the cluster's lease), on the retention thread,
 * with a store connection of its own for looking executions up
 * (mz_retention_exec_statuses) and the settings. A pruner deletes what
 * belongs to executions that are gone, never to running ones. */
typedef struct mz_prune_ctx {
	mz_store *st;
	const mz_retention *retention;
	int64_t before_ms;   /* now - maxAgeDays: older finished things go */
} mz_prune_ctx;
typedef void (*mz_pruner_fn)(const mz_prune_ctx *pc, void *udata);
void mz_engine_register_pruner(const char *name, mz_pruner_fn fn, void *udata);

typedef struct mz_engine_config {
	const char *db_url;   /* store URL: each worker opens its own connection */
	int workers;          /* default 2 */
	const char *ui_base;  /* e.g. http://127.0.0.1:8084, for links */
	/* This server as a node of those sharing the store: its stable id
	 * (NULL: "local"), its --listen HOST:PORT, and the regions whose
	 * instances it runs (a JSON array, borrowed; NULL: none). */
	const char *node_id;
	const char *address;
	const json_t *host_regions;
	/* What to keep; NULL: the defaults. */
	const mz_retention *retention;
	/* A batch's time slice in ms; 0: the default (engine_int.h), -1: none,
	 * batches bounded by message counts only (bench/stage-cost profiles
	 * under valgrind, where a wall-clock slice would measure valgrind). */
	int slice_ms;
} mz_engine_config;

mz_code mz_engine_start(const mz_engine_config *cfg, mz_engine **out, mz_err *err);
/* Stops the workers after their current batch; queued work stays stored. */
void mz_engine_stop(mz_engine *eng);
/* Tells idle workers new messages may be due now. */
void mz_engine_wake(mz_engine *eng);

/* Called after every commit that changed an execution, with the changed
 * execution (borrowed; read it, do not keep it). Runs on the committing
 * thread: keep it short (e.g. queue a server-sent event). */
typedef void (*mz_exec_listener)(const json_t *execution, void *udata);
void mz_engine_set_listener(mz_engine *eng, mz_exec_listener fn, void *udata);

/* ---- the cluster ------------------------------------------------------ */

/* A node that has not refreshed its heartbeat for this long is dead: the
 * messages it held are taken back by the others. */
#define MZ_NODE_LEASE_MS 5000

const char *mz_engine_node_id(const mz_engine *eng);
/* Takes or renews the lease `name` for this node until now + ttl_ms: true
 * while this node should do the once-per-cluster work it names (pollers,
 * cron, trigger dispatch, notifications). Always true on SQLite. */
bool mz_engine_lease(mz_engine *eng, mz_store *st, const char *name, int64_t ttl_ms);

/* ---- what the API asks of the engine --------------------------------- */

/* Validates a pipeline config before it is stored: name, application,
 * stages (types present, refIds unique, requisites existing, no cycles),
 * triggers and parameters well-formed, expressions parseable. Unknown stage
 * types are allowed (they fail at run time, as in Orca). */
mz_code mz_pipeline_validate(const json_t *cfg, mz_err *err);

/* ---- v2 pipeline templates (templates.c) ---- */

/* True for a config {"schema": "v2", "template": {...}} that a template
 * renders. */
bool mz_template_is_v2_config(const json_t *cfg);
/* Checks a v2 template document: schema, id, variables (names and types),
 * and its pipeline as a pipeline. */
mz_code mz_template_validate(const json_t *tmpl, mz_err *err);
/* Renders a v2 templated config with the template it references (from the
 * store): variables bound and type-checked, ${templateVariables.*}
 * evaluated, triggers/parameters/notifications/expectedArtifacts inherited
 * unless excluded, config stages injected. *out: a plain, validated
 * pipeline config (new reference). MZ_EINVAL with a message otherwise. */
mz_code mz_template_render(mz_store *st, const json_t *cfg, json_t **out, mz_err *err);
/* The configs as the trigger machinery (the trigger index, the pollers,
 * the git signature check) must see them: a v2 templated config becomes a
 * shallow copy of itself whose triggers, parameterConfig and
 * expectedArtifacts are the rendered pipeline's (the template's inherited
 * ones plus its own), still templated, so a launch renders it again; any
 * other config, and a templated one that does not render (logged at
 * debug), is itself. Each template is read once. A new array. */
json_t *mz_template_trigger_views(mz_store *st, const json_t *cfgs);

/* Builds an execution from cfg and trigger (trigger may be NULL: manual),
 * a v2 templated config being rendered first,
 * stores it NOT_STARTED and enqueues StartExecution, all in the caller's
 * transaction (st must be inside mz_store_begin). The new id goes to
 * out_id. origin: "api", "deck" or NULL. */
mz_code mz_engine_launch_pipeline(mz_engine *eng, mz_store *st, const json_t *cfg,
                                  const json_t *trigger, const char *user,
                                  const char *origin, char out_id[27], mz_err *err);

/* The same in two steps, so that the work that costs CPU (validating the
 * config, building and serialising the execution) happens outside the
 * write transaction and several launches can share one commit (the API's
 * group commit of triggers):
 *   prepare: builds the execution (st is only read, for the prior
 *            execution of artifact resolution; no transaction needed);
 *   store:   writes it and its StartExecution message in st's transaction
 *            (any number of launches per transaction);
 *   done:    after the commit (committed=true) or a rollback; frees l.
 * A trigger from an event whose artifacts do not resolve is prepared as an
 * execution that failed at startup (stored, not started), as Orca does. */
typedef struct mz_launch mz_launch;
mz_code mz_engine_prepare_pipeline(mz_engine *eng, mz_store *st, const json_t *cfg,
                                   const json_t *trigger, const char *user,
                                   const char *origin, mz_launch **out, mz_err *err);
const char *mz_launch_id(const mz_launch *l);
mz_code mz_engine_launch_store(mz_store *st, const mz_launch *l, mz_err *err);
void mz_engine_launch_done(mz_engine *eng, mz_launch *l, bool committed);

/* Starts an orchestration ("task"): req is Gate's POST /tasks body
 * {application, description, job: [...], trigger?}. Same transaction rule. */
mz_code mz_engine_launch_orchestration(mz_engine *eng, mz_store *st, const json_t *req,
                                       const char *user, const char *origin,
                                       char out_id[27], mz_err *err);

/* Operator actions (Orca's CompoundExecutionOperator). Each runs in its own
 * transaction on st and wakes the workers. */
mz_code mz_engine_cancel(mz_engine *eng, mz_store *st, const char *exec_id,
                         const char *user, const char *reason, mz_err *err);
mz_code mz_engine_pause(mz_engine *eng, mz_store *st, const char *exec_id, const char *user,
                        mz_err *err);
mz_code mz_engine_resume(mz_engine *eng, mz_store *st, const char *exec_id, const char *user,
                         mz_err *err);
/* Merges patch into the stage context (judgment, skipRemainingWait,
 * manualSkip) and reschedules; *exec_out gets the updated execution. */
mz_code mz_engine_patch_stage(mz_engine *eng, mz_store *st, const char *exec_id,
                              const char *stage_id, const json_t *patch, const char *user,
                              json_t **exec_out, mz_err *err);
mz_code mz_engine_restart_stage(mz_engine *eng, mz_store *st, const char *exec_id,
                                const char *stage_id, const char *user, json_t **exec_out,
                                mz_err *err);
/* Deletes a completed execution (MZ_ECONFLICT while it runs). */
mz_code mz_engine_delete_execution(mz_engine *eng, mz_store *st, const char *exec_id,
                                   mz_err *err);

/* Evaluates an expression against an execution (and a stage, may be NULL),
 * for GET /pipelines/{id}/evaluateExpression: {"result": ..., "detail": ...}. */
json_t *mz_engine_evaluate(const json_t *execution, const json_t *stage, const char *expr);

/* Orca's orchestration ("task") view of an execution, for GET /tasks/{id}. */
json_t *mz_execution_task_view(const json_t *execution);
/* A copy without stage contexts, outputs and tasks (expand=false). */
json_t *mz_execution_summary(const json_t *execution);

/* Registers the built-in stage types (wait, manualJudgment, webhook, ...). */
void mz_engine_register_builtin(void);

#endif
