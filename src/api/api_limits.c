/*
 * api_limits.c - what keeps one client (or a few hostile ones) from taking
 * the HTTP server away from everyone else:
 *
 *   - descriptors: the soft RLIMIT_NOFILE is raised to the hard limit at
 *     start-up, and the connection limits are sized from it (a quarter of
 *     the descriptors stay for the store, logs, instances and HAProxy);
 *   - a per-address connection cap below the global one, so the sockets of
 *     one address can never fill the server (libmicrohttpd enforces both);
 *   - deadlines: a client must finish its request headers within
 *     headerTimeoutSeconds of connecting (or of its previous request, on a
 *     kept-alive connection) and its body within bodyTimeoutSeconds of the
 *     headers. libmicrohttpd only has an idle timeout, which a client
 *     sending a byte every few seconds never trips, so every connection is
 *     tracked here and a reaper thread shuts down the ones past their
 *     deadline (libmicrohttpd then sees the socket fail and closes it);
 *   - a memory budget for request bodies in flight across all connections:
 *     a body's declared length (or, chunked, what has arrived) is reserved
 *     before it is read; when the budget is spent the request gets 503
 *     without its body being read.
 *
 * The event stream's connections are in the HANDLING phase like any
 * response being sent, so they have no deadline here.
 */
#include "api/api_int.h"
#include "proc/proc.h"

#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REAPER_TICK_MS 250

typedef enum { PHASE_HEADERS, PHASE_BODY, PHASE_HANDLING, PHASE_DROPPED } conn_phase;

struct api_conn {
	int fd;
	struct sockaddr_storage peer; /* to recognise the socket before shutting it */
	socklen_t peer_len;
	conn_phase phase;
	int64_t since_ms;
	size_t reserved;              /* body bytes taken from the budget */
	struct api_conn *prev, *next;
};

struct api_limits {
	mz_api_limits cfg;            /* resolved: every field set */
	pthread_mutex_t lock;
	struct api_conn *conns;
	size_t nconns;
	size_t body_used;             /* bytes reserved for bodies in flight */
	uint64_t dropped;             /* connections shut for missing a deadline */
	bool stopping;
	pthread_t reaper;
	bool reaper_started;
	pthread_cond_t wake;
};

/* ---- sizing ------------------------------------------------------------- */

void
api_limits_resolve(const mz_api_limits *given, mz_api_limits *out)
{
	mz_api_limits d = given ? *given : (mz_api_limits){0};
	/* src/proc raises it and gives the processes it starts the old one */
	rlim_t nofile = (rlim_t)mz_proc_raise_nofile();
	/* keep a quarter of the descriptors (at least 128) for everything else */
	long budget = (long)nofile - ((long)nofile / 4 > 128 ? (long)nofile / 4 : 128);
	if (budget < 64)
		budget = 64;
	if (budget > API_MAX_CONNECTIONS_CAP)
		budget = API_MAX_CONNECTIONS_CAP;
	if (d.max_connections <= 0 || d.max_connections > budget)
		d.max_connections = (int)budget;
	if (d.max_per_address <= 0)
		d.max_per_address = d.max_connections / 4 > 64 ? d.max_connections / 4 : 64;
	if (d.max_per_address > d.max_connections)
		d.max_per_address = d.max_connections;
	if (d.header_timeout_s <= 0)
		d.header_timeout_s = 10;
	if (d.body_timeout_s <= 0)
		d.body_timeout_s = 30;
	if (d.body_memory_bytes == 0)
		d.body_memory_bytes = (size_t)64 << 20;
	if (d.body_memory_bytes < API_BODY_MAX)
		d.body_memory_bytes = API_BODY_MAX; /* one largest body always fits */
	/* libmicrohttpd's buffer per connection: it holds the request line and
	 * headers (a little under half of it: 12 KiB takes about 5.5 kB of
	 * headers) and the response headers. An event-stream subscriber keeps
	 * about half of it touched for its whole life, so it sets what 5,000
	 * subscribers cost (about 12 kB each with 12 KiB). */
	if (d.connection_memory == 0)
		d.connection_memory = (size_t)12 << 10;
	*out = d;
}

/* ---- tracking ----------------------------------------------------------- */

void
api_conn_started(mz_api *api, struct MHD_Connection *conn, void **socket_context)
{
	struct api_limits *l = api->limits;
	struct api_conn *c = calloc(1, sizeof(*c));
	if (!l || !c) {
		free(c);
		return;
	}
	const union MHD_ConnectionInfo *fi =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ai =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	c->fd = fi ? fi->connect_fd : -1;
	if (ai && ai->client_addr) {
		c->peer_len = ai->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                                      : sizeof(struct sockaddr_in);
		memcpy(&c->peer, ai->client_addr, c->peer_len);
	}
	c->phase = PHASE_HEADERS;
	c->since_ms = mz_mono_ms();
	pthread_mutex_lock(&l->lock);
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->nconns++;
	pthread_mutex_unlock(&l->lock);
	*socket_context = c;
}

void
api_conn_closed(mz_api *api, void **socket_context)
{
	struct api_limits *l = api->limits;
	struct api_conn *c = *socket_context;
	if (!l || !c)
		return;
	pthread_mutex_lock(&l->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->nconns--;
	l->body_used -= c->reserved;
	pthread_mutex_unlock(&l->lock);
	free(c);
	*socket_context = NULL;
}

static struct api_conn *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

static void
set_phase(mz_api *api, struct MHD_Connection *conn, conn_phase phase)
{
	struct api_limits *l = api->limits;
	struct api_conn *c = conn_of(conn);
	if (!l || !c)
		return;
	pthread_mutex_lock(&l->lock);
	if (c->phase != PHASE_DROPPED) {
		c->phase = phase;
		c->since_ms = mz_mono_ms();
	}
	pthread_mutex_unlock(&l->lock);
}

void
api_conn_receiving_body(mz_api *api, struct MHD_Connection *conn)
{
	set_phase(api, conn, PHASE_BODY);
}

void
api_conn_handling(mz_api *api, struct MHD_Connection *conn)
{
	set_phase(api, conn, PHASE_HANDLING);
}

/* The request is over (answered, or its connection failed): the body's
 * reservation goes back, and a kept-alive connection must send its next
 * request's headers within the header timeout. */
void
api_conn_request_done(mz_api *api, struct MHD_Connection *conn)
{
	struct api_limits *l = api->limits;
	struct api_conn *c = conn_of(conn);
	if (!l || !c)
		return;
	pthread_mutex_lock(&l->lock);
	l->body_used -= c->reserved;
	c->reserved = 0;
	if (c->phase != PHASE_DROPPED) {
		c->phase = PHASE_HEADERS;
		c->since_ms = mz_mono_ms();
	}
	pthread_mutex_unlock(&l->lock);
}

bool
api_body_reserve(mz_api *api, struct MHD_Connection *conn, size_t bytes, size_t *in_flight)
{
	struct api_limits *l = api->limits;
	struct api_conn *c = conn_of(conn);
	bool ok = true;
	if (!l || !c || bytes == 0)
		return true;
	pthread_mutex_lock(&l->lock);
	if (l->body_used + bytes > l->cfg.body_memory_bytes) {
		ok = false;
	} else {
		l->body_used += bytes;
		c->reserved += bytes;
	}
	if (in_flight)
		*in_flight = l->body_used;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

/* ---- the reaper --------------------------------------------------------- */

/* Whether fd is still the socket of c (not a descriptor number reused by a
 * newer connection after libmicrohttpd closed c's). */
static bool
same_socket(const struct api_conn *c)
{
	struct sockaddr_storage now;
	socklen_t len = sizeof(now);
	if (c->fd < 0 || getpeername(c->fd, (struct sockaddr *)&now, &len) != 0)
		return false;
	return len == c->peer_len && memcmp(&now, &c->peer, len) == 0;
}

static void *
reaper_main(void *arg)
{
	struct api_limits *l = arg;
	pthread_mutex_lock(&l->lock);
	while (!l->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += REAPER_TICK_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&l->wake, &l->lock, &ts);
		int64_t now = mz_mono_ms();
		int64_t hdr = (int64_t)l->cfg.header_timeout_s * 1000;
		int64_t body = (int64_t)l->cfg.body_timeout_s * 1000;
		for (struct api_conn *c = l->conns; c; c = c->next) {
			int64_t limit = c->phase == PHASE_HEADERS ? hdr : c->phase == PHASE_BODY ? body : 0;
			if (!limit || now - c->since_ms < limit)
				continue;
			/* shut, not closed: the descriptor stays libmicrohttpd's, which
			 * sees the socket fail and closes it as usual */
			if (same_socket(c))
				shutdown(c->fd, SHUT_RDWR);
			c->phase = PHASE_DROPPED;
			l->dropped++;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

mz_code
api_limits_start(mz_api *api, const mz_api_limits *resolved, mz_err *err)
{
	struct api_limits *l = calloc(1, sizeof(*l));
	if (!l)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	l->cfg = *resolved;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* Bodies above 128 KiB are mmap'd by malloc and go back to the system
	 * when freed. glibc would otherwise raise that threshold after the
	 * first such free, and the half-sent bodies of a burst would stay in
	 * the heap (RSS) long after the budget let go of them. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	if (pthread_create(&l->reaper, NULL, reaper_main, l) != 0) {
		pthread_cond_destroy(&l->wake);
		pthread_mutex_destroy(&l->lock);
		free(l);
		return mz_fail(err, MZ_EIO, "cannot start the connection reaper");
	}
	l->reaper_started = true;
	api->limits = l;
	return MZ_OK;
}

void
api_limits_stop(mz_api *api)
{
	struct api_limits *l = api->limits;
	if (!l || !l->reaper_started)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_broadcast(&l->wake);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->reaper, NULL);
	l->reaper_started = false;
}

/* After the daemon stopped: every connection was closed (and untracked). */
void
api_limits_free(mz_api *api)
{
	struct api_limits *l = api->limits;
	if (!l)
		return;
	api_limits_stop(api);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l);
	api->limits = NULL;
}

const mz_api_limits *
api_limits_config(const mz_api *api)
{
	return api->limits ? &api->limits->cfg : NULL;
}

/* ---- the config --------------------------------------------------------- */

static bool
positive(const json_t *server, const char *key, long max, long *out, mz_err *err)
{
	json_t *v = json_object_get(server, key);
	*out = 0;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max) {
		mz_fail(err, MZ_EINVAL, "server.%s must be a whole number from 1 to %ld", key, max);
		return false;
	}
	*out = (long)json_integer_value(v);
	return true;
}

mz_code
mz_api_limits_parse(const json_t *server, mz_api_limits *out, mz_err *err)
{
	long v;
	memset(out, 0, sizeof(*out));
	if (!server || json_is_null(server))
		return MZ_OK;
	if (!json_is_object(server))
		return mz_fail(err, MZ_EINVAL, "server must be an object such as "
		               "{\"maxConnectionsPerAddress\": 1000}");
	if (!positive(server, "maxConnections", 1 << 20, &v, err))
		return MZ_EINVAL;
	out->max_connections = (int)v;
	if (!positive(server, "maxConnectionsPerAddress", 1 << 20, &v, err))
		return MZ_EINVAL;
	out->max_per_address = (int)v;
	if (!positive(server, "headerTimeoutSeconds", 3600, &v, err))
		return MZ_EINVAL;
	out->header_timeout_s = (int)v;
	if (!positive(server, "bodyTimeoutSeconds", 3600, &v, err))
		return MZ_EINVAL;
	out->body_timeout_s = (int)v;
	if (!positive(server, "bodyMemoryMB", 1 << 20, &v, err))
		return MZ_EINVAL;
	out->body_memory_bytes = (size_t)v << 20;
	if (!positive(server, "connectionMemoryKB", 1024, &v, err))
		return MZ_EINVAL;
	if (v && v < 8)
		return mz_fail(err, MZ_EINVAL, "server.connectionMemoryKB must be from 8 to 1024");
	out->connection_memory = (size_t)v << 10;
	return MZ_OK;
}
