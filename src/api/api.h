/*
 * api.h - mizzen's HTTP API: Spinnaker Gate's REST paths and JSON shapes
 * (applications, pipeline configs, triggers, executions, tasks,
 * credentials), the health and version endpoints, and the web UI's static
 * files under /ui/, served by libmicrohttpd.
 *
 * Every 4xx/5xx answer is JSON {"error", "message", "status"} (plus
 * "timestamp" and "path"); no input makes the server crash or answer 5xx
 * unless the store or the engine fails.
 *
 * Threads: the server runs its own threads; mz_api_start returns once the
 * socket listens. Each request borrows a store connection from a small pool
 * (opened lazily from db_url) and never holds it across requests.
 */
#ifndef MZ_API_H
#define MZ_API_H

#include "core/core.h"
#include "engine/engine.h"
#include "events/events.h"
#include "auth/auth.h"

struct mz_cloud;

typedef struct mz_api mz_api;

/* Connection limits (config "server": {...}); 0 means the default. */
typedef struct mz_api_limits {
	int max_connections;      /* maxConnections: default from RLIMIT_NOFILE */
	int max_per_address;      /* maxConnectionsPerAddress: default a quarter */
	int header_timeout_s;     /* headerTimeoutSeconds: default 10 */
	int body_timeout_s;       /* bodyTimeoutSeconds: default 30 */
	size_t body_memory_bytes; /* bodyMemoryMB: default 64 MiB, at least 8 MiB */
	size_t connection_memory; /* connectionMemoryKB: default 12 KiB, 8 KiB to 1 MiB */
} mz_api_limits;

typedef struct mz_api_config {
	const char *host;        /* listen address, e.g. "127.0.0.1" or "::1" */
	int port;                /* 0: any free port (see mz_api_port) */
	const char *db_url;      /* store URL for the request connections */
	mz_engine *engine;       /* borrowed; must outlive the server */
	/* The configured accounts: [{"name", "regions": ["r", ...], ...}];
	 * borrowed (the server keeps its own reference); NULL: one account
	 * "local" with region "local". */
	const json_t *accounts;
	const char *version;     /* answered by GET /version */
	struct mz_cloud *cloud;  /* borrowed; NULL: empty cloud views */
	const char *web_dir;     /* UI files; NULL: $MIZZEN_WEB_DIR, else
	                          * <directory of the binary>/../web */
	mz_events *events;       /* borrowed: the event bus behind /webhooks/...
	                          * (NULL: those routes answer 503) */
	const json_t *settings;  /* the config file (borrowed, copied): Jenkins
	                          * masters, preconfigured jobs and webhooks,
	                          * quiet period; NULL: none */
	struct mz_repos *repos;  /* borrowed: pipelines from git, woken by a push
	                          * webhook; NULL: none configured */
	mz_auth *auth;           /* borrowed: users, tokens, sessions */
	const json_t *cors_origins; /* cors.allowedOrigins (borrowed), or NULL */
	mz_api_limits limits;    /* zeros: the defaults */
} mz_api_config;

/* The "server" object of the config file as limits; MZ_EINVAL naming the
 * bad field. NULL: every default. */
mz_code mz_api_limits_parse(const json_t *server, mz_api_limits *out, mz_err *err);

mz_code mz_api_start(const mz_api_config *cfg, mz_api **out, mz_err *err);
/* The port actually listened on (useful with port 0). */
int mz_api_port(const mz_api *api);
/* Stops accepting, finishes the requests in flight, frees everything. */
void mz_api_stop(mz_api *api);

#endif
