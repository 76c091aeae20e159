/*
 * api_int.h - internals shared by the files of src/api (not for other
 * components): the request record handlers work on, the reply helpers, the
 * store connection pool and the route tables.
 *
 * A handler reads the request (decoded path parameters, query values, the
 * body, the user) and sets exactly one reply with an api_reply_* call; a
 * handler that sets none answers 500. JSON given to api_reply_json is
 * stolen.
 */
#ifndef MZ_API_INT_H
#define MZ_API_INT_H

#include "api/api.h"
#include "auth/auth.h"

#include <pthread.h>

#define API_BODY_MAX (8u << 20)   /* request bodies above this get 413 */
#define API_MAX_PARAMS 8
#define API_MAX_SEGMENTS 24
#define API_POOL_MAX 4            /* idle store connections kept: one per HTTP thread */
#define API_MAX_CONNECTIONS_CAP 65536 /* default connection limit at most */

struct mz_api {
	struct MHD_Daemon *daemon;
	int port;
	char *db_url;
	mz_engine *engine;
	struct mz_cloud *cloud;   /* NULL: no cloud (empty cloud views) */
	json_t *accounts;  /* normalised: [{name, regions: [names], ...}] */
	json_t *settings; /* the whole config file (an object; {} when none) */
	struct mz_repos *repos; /* pipelines from git (NULL: none) */
	char *version;
	char *web_dir;     /* NULL if no UI is installed */

	pthread_mutex_t pool_lock;
	mz_store *pool[API_POOL_MAX];
	int pool_n;

	mz_events *bus;    /* the event bus (api_webhooks.c); may be NULL */
	mz_auth *auth;     /* who is calling (api_auth.c) */
	pthread_mutex_t perm_lock; /* api_perm.c: applications' permissions */
	json_t *perm_cache;        /* {app lower-cased: {"p": perms, "t": ms}} */
	mz_store *perm_store;      /* its own connection, for the event listener */
	json_t *cors_origins; /* cors.allowedOrigins: [strings] */

	struct api_events *events; /* live-update subscribers (api_events.c) */
	struct api_limits *limits; /* connection tracking, deadlines, body budget */
	struct api_launcher *launcher; /* group commit of triggers (api_launch.c) */
};

typedef struct api_req {
	mz_api *api;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;        /* raw (still %-encoded) path */
	char *seg[API_MAX_SEGMENTS];  /* decoded path segments */
	int nseg;
	const char *param[API_MAX_PARAMS];  /* the {params} of the route, decoded */
	int nparam;
	const char *body;        /* NUL-terminated; "" when none */
	size_t body_len;
	mz_identity id;          /* who is calling (api_auth.c) */
	const char *user;        /* id.user: "anonymous" when not signed in */
	const char *origin;      /* "deck" or "api" */
	mz_store *st;            /* lazily borrowed from the pool */

	/* the reply */
	int status;
	char *reply;             /* malloc'd body */
	size_t reply_len;
	const char *content_type;
	char *location;          /* for redirects */
	int file_fd;             /* >= 0: send this file (reply ignored) */
	struct MHD_Response *response; /* a response the handler made itself
	                          * (the event stream): sent with r->status */
	size_t file_size;
	bool replied;
	bool challenge;          /* 401: add WWW-Authenticate */
	char *set_cookie;        /* a Set-Cookie header (sign in and out) */
	const char *cors_origin; /* an allowed Origin: add Access-Control-* */
	bool cors_preflight;     /* and the preflight's Allow-Methods/Headers */
	const char *allow;       /* an Allow header */
	char audit_app[128];     /* the application the request touched */
	bool deferred;           /* the connection is suspended; the answer comes
	                          * later (api_launch_defer) */
	bool audited;            /* its audit row is written elsewhere (a
	                          * deferred trigger's, by the committer) */
	void *conn_ctx;          /* the server's per-connection state */
	char **query_vals;       /* decoded query values to free */
	int nquery_vals;
} api_req;

typedef void (*api_handler)(api_req *r);

typedef struct api_route {
	const char *method;
	const char *pattern;  /* "/pipelines/{id}/cancel"; {x} matches a segment */
	api_handler fn;
} api_route;

/* route tables, each ending with {NULL, NULL, NULL} */
extern const api_route api_app_routes[];
extern const api_route api_pipeline_routes[];
extern const api_route api_execution_routes[];
extern const api_route api_task_routes[];
extern const api_route api_misc_routes[];
extern const api_route api_webhook_routes[];
extern const api_route api_cloud_routes[];
extern const api_route api_event_routes[];
extern const api_route api_artifact_routes[];
extern const api_route api_image_routes[];
extern const api_route api_ci_routes[];
extern const api_route api_deck_routes[];     /* api_deck.c: Deck's lookups */
extern const api_route api_strategy_routes[]; /* api_strategies.c */
extern const api_route api_search_routes[];   /* api_search.c */
extern const api_route api_project_routes[];  /* api_projects.c */
extern const api_route api_template_routes[]; /* api_templates.c */
extern const api_route api_node_routes[];   /* api_nodes.c */
extern const api_route api_repo_routes[];     /* api_repos.c */
extern const api_route api_auth_routes[];
extern const api_route api_audit_routes[];     /* api_audit.c */

/* ---- replies (api_json.c) ------------------------------------------- */

void api_reply_json(api_req *r, int status, json_t *body);        /* steals */
void api_reply_raw(api_req *r, int status, const char *ctype, char *body, size_t len);
void api_reply_empty(api_req *r, int status);
void api_reply_error(api_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Maps err->code to its status (EINVAL 400, ENOTFOUND 404, ECONFLICT 409,
 * EFORBIDDEN 403, EBUSY 503, others 500) and replies err->msg. */
void api_reply_mzerr(api_req *r, const mz_err *err);
int api_status_of(mz_code code);
const char *api_reason(int status);
/* The body of an error reply, a new reference. */
json_t *api_error_body(int status, const char *path, const char *msg);

/* ---- request helpers (api_server.c) --------------------------------- */

/* A decoded query parameter, or NULL. The string lives as long as r. */
const char *api_query(api_req *r, const char *key);
/* Integer query parameter: dflt when absent; false (and a 400 reply)
 * when present but not an integer in [min, max]. */
bool api_query_int(api_req *r, const char *key, long dflt, long min, long max, long *out);
/* Boolean query parameter ("true"/"false", case-insensitive). */
bool api_query_bool(api_req *r, const char *key, bool dflt, bool *out);
/* The body parsed as JSON; replies 400 and returns NULL when it is empty
 * (unless allow_empty: then returns NULL without replying), malformed, or
 * not an object. New reference. */
json_t *api_body_object(api_req *r, bool allow_empty, const char *what);
/* The store connection for this request (borrowed from the pool); replies
 * 503/500 and returns NULL if none can be opened. */
mz_store *api_store(api_req *r);
/* Begins a write transaction on the request's store; replies on failure. */
mz_store *api_begin(api_req *r);
/* Commits; on failure replies the error and returns false. */
bool api_commit(api_req *r);
void api_rollback(api_req *r);
/* Splits a comma-separated list into a NULL-terminated array of trimmed,
 * non-empty strings (free with api_strv_free); NULL when s is NULL. */
char **api_split_csv(const char *s, bool upper);
void api_strv_free(char **v);

/* ---- authentication (api_auth.c) ------------------------------------ */

/* Who is calling, and the CSRF, Origin and Content-Type rules: false (and
 * a 401, 403 or 415 reply) when the request may go no further. */
bool api_auth_gate(api_req *r);
/* Answers an OPTIONS request (CORS preflight). */
void api_cors_preflight(api_req *r);
/* A 401 with WWW-Authenticate (unless a page's own fetch asked). */
void api_unauthorized(api_req *r, const char *msg);
/* The server's own origin, or one in cors.allowedOrigins. */
bool api_origin_allowed(api_req *r, const char *origin);
/* true for an admin, else replies 403. */
bool api_require_admin(api_req *r);

/* ---- permissions (api_perm.c) ------------------------------------------ */

/* An application's "permissions" (new reference; NULL: none, or no such
 * application), cached for 2 s. st NULL: the cache's own connection. */
json_t *api_app_permissions(mz_api *api, mz_store *st, const char *app);
/* Whether the caller may; no reply. */
bool api_may(api_req *r, const char *app, mz_perm p);
bool api_may_account(api_req *r, const char *account, mz_perm p);
/* Whether the caller may; else a 403 reply. */
bool api_allow_app(api_req *r, const char *app, mz_perm p);
bool api_allow_account(api_req *r, const char *account, mz_perm p);
/* The route's own rule (see api_perm.c); replies 403 when refused. */
bool api_route_allowed(api_req *r, const api_route *rt);
/* Leaves out of a JSON list reply what the caller may not READ. */
void api_filter_reply(api_req *r, const api_route *rt);
/* A pipeline's triggers' runAsUser: only that user or an admin may save
 * it, and it must hold EXECUTE on the application; else replies. */
bool api_check_run_as(api_req *r, const json_t *cfg);
/* The first half of that for any list of triggers (a template's): only
 * the user a trigger runs as, or an admin, may name it; else replies 403
 * naming where[i]. */
bool api_check_run_as_names(api_req *r, const json_t *triggers, const char *where);
/* Records the request in the audit trail when it changed state or was
 * refused with 401/403 (api_audit.c). api_audit_entry is the row it
 * would write (NULL: none, or already taken care of: r->audited). */
void api_audit(api_req *r);
json_t *api_audit_entry(api_req *r);
/* Replaces every trigger "secret" in a JSON reply with "********". */
void api_mask_reply(api_req *r);

/* ---- shared by the route files -------------------------------------- */

/* Loads an execution by id; replies 404 "<what> not found (id: <id>)" when
 * it is missing or (if type is non-NULL) of another type. */
json_t *api_load_execution(api_req *r, const char *id, const char *type, const char *what);
/* Front50's save of a pipeline config or (with "strategy": true) a
 * deployment strategy: validation, stale and duplicate-name checks, id,
 * stamps; replies the saved config (api_pipelines.c). cfg is borrowed. */
void api_save_config(api_req *r, json_t *cfg, bool stale_check, bool must_exist);
/* mz_pipeline_validate, or for a v2 templated config its rendering;
 * replies 400 and returns false when invalid. */
bool api_validate_config(api_req *r, const json_t *cfg);
/* Replies the pipeline cfg would run as (a v2 config rendered by its
 * template), without starting anything (api_templates.c). */
void api_plan_config(api_req *r, const json_t *cfg);
/* Strategies share the pipeline table, marked "strategy": true. */
bool api_is_strategy(const json_t *cfg);
/* GET .../{id}/history of a pipeline or strategy config (api_pipelines.c). */
void api_config_history(api_req *r);
/* Static UI files (api_misc.c). */
void api_serve_ui(api_req *r);
char *api_find_web_dir(const char *configured);
/* Triggers committed in groups (api_launch.c). defer hands a prepared
 * launch to the committer and suspends the request's connection (false:
 * the committer is stopping; nothing was taken, reply yourself); the
 * committer answers 202 once the execution is durable. stop commits what
 * is queued, then ends the committer: call it before MHD_stop_daemon. */
void api_launcher_start(mz_api *api);
void api_launcher_stop(mz_api *api);
bool api_launch_defer(api_req *r, mz_launch *launch, bool v2, const char *event_id);
/* Answers a suspended connection (body stolen) and resumes it
 * (api_server.c); any thread. */
void api_resume_with(struct MHD_Connection *conn, void *conn_ctx, int status, json_t *body);

/* Live updates (api_events.c): start registers the engine listener; stop
 * ends every event stream (before MHD_stop_daemon); free after it. */
void api_events_start(mz_api *api);
void api_events_stop(mz_api *api);
void api_events_free(mz_api *api);

/* Connection limits (api_limits.c). resolve fills every default (and
 * raises the soft RLIMIT_NOFILE to the hard limit); start/stop run the
 * reaper that drops connections past their header or body deadline. */
struct MHD_Connection;
void api_limits_resolve(const mz_api_limits *given, mz_api_limits *out);
mz_code api_limits_start(mz_api *api, const mz_api_limits *resolved, mz_err *err);
void api_limits_stop(mz_api *api);
void api_limits_free(mz_api *api);
const mz_api_limits *api_limits_config(const mz_api *api);
/* libmicrohttpd's connection notifications and the request's phases. */
void api_conn_started(mz_api *api, struct MHD_Connection *conn, void **socket_context);
void api_conn_closed(mz_api *api, void **socket_context);
void api_conn_receiving_body(mz_api *api, struct MHD_Connection *conn);
void api_conn_handling(mz_api *api, struct MHD_Connection *conn);
void api_conn_request_done(mz_api *api, struct MHD_Connection *conn);
/* Takes bytes from the budget for request bodies in flight; false when it
 * is spent (then *in_flight says how much is taken). */
bool api_body_reserve(mz_api *api, struct MHD_Connection *conn, size_t bytes,
                      size_t *in_flight);

#endif
