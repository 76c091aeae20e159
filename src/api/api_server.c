/* api_server.c - the libmicrohttpd daemon: listening socket, request body
 * accumulation with a cap, path splitting and decoding, routing by method
 * and path pattern, the store connection pool, and the access log. */
#include "api/api_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bodies far above the cap are refused before they are read (the
 * connection is closed); bodies a little above it are drained so that the
 * client, which writes its whole body before reading, sees the 413. */
#define API_BODY_REFUSE (4 * (size_t)API_BODY_MAX)

typedef struct conn_ctx {
	mz_buf body;
	bool too_large;
	bool over_budget;   /* the memory budget for bodies in flight is spent */
	size_t reserved;    /* body bytes reserved from that budget */
	int64_t t0;
	/* the answer to a suspended request (api_resume_with), sent when MHD
	 * calls on_request again after the resume */
	bool resumed;
	struct MHD_Response *ready;
	unsigned ready_status;
} conn_ctx;

#define API_BODY_RESERVE_STEP ((size_t)64 << 10) /* for bodies of unknown length */

static const api_route *const route_tables[] = {
	api_misc_routes, api_app_routes, api_pipeline_routes, api_execution_routes,
	api_task_routes, api_event_routes, api_cloud_routes, api_webhook_routes,
	api_artifact_routes, api_image_routes, api_deck_routes, api_strategy_routes,
	api_search_routes, api_project_routes, api_template_routes, api_node_routes,
	api_repo_routes, api_auth_routes, api_audit_routes, api_ci_routes, NULL,
};

/* ---- decoding -------------------------------------------------------- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX in place; an invalid escape or %00 stays literal. */
static void
pct_decode(char *s)
{
	char *w = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '%' && p[1] && p[2]) {
			int hi = hexval((unsigned char)p[1]), lo = hexval((unsigned char)p[2]);
			if (hi >= 0 && lo >= 0 && (hi || lo)) {
				*w++ = (char)(hi * 16 + lo);
				p += 2;
				continue;
			}
		}
		*w++ = *p;
	}
	*w = '\0';
}

/* MHD's own unescaping would turn %2F into a path separator before we can
 * split the path; we keep the raw text and decode segment by segment. */
static size_t
keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static bool
split_path(api_req *r)
{
	const char *p = r->path;
	if (*p == '/')
		p++;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (r->nseg == API_MAX_SEGMENTS)
			return false;
		char *s = malloc(n + 1);
		if (!s)
			return false;
		memcpy(s, p, n);
		s[n] = '\0';
		pct_decode(s);
		r->seg[r->nseg++] = s;
		if (!e)
			break;
		p = e + 1;
	}
	return true;
}

/* Collects every value of one query key, in order (MHD_get_connection_values
 * sees them all; MHD_lookup_connection_value only the first). */
typedef struct query_join {
	const char *key;
	mz_buf out;
	int n;
} query_join;

static enum MHD_Result
join_value(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	query_join *j = cls;
	if (key && strcmp(key, j->key) == 0) {
		mz_buf_printf(&j->out, "%s%s", j->n++ ? "," : "", value ? value : "");
	}
	return MHD_YES;
}

/* A key given more than once (AngularJS sends pipelineConfigIds=a&
 * pipelineConfigIds=b) reads as its values joined with commas, as Spring
 * binds a repeated parameter to a String in Gate; so every route that
 * splits a comma list takes both forms. */
const char *
api_query(api_req *r, const char *key)
{
	query_join j = {.key = key};
	mz_buf_init(&j.out, 1u << 16);
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, join_value, &j);
	if (!j.n) {
		mz_buf_release(&j.out);
		return NULL;
	}
	char **vals = realloc(r->query_vals, (size_t)(r->nquery_vals + 1) * sizeof(char *));
	if (!vals) {
		mz_buf_release(&j.out);
		return NULL;
	}
	r->query_vals = vals;
	char *v = mz_strdup(j.out.data ? j.out.data : "");
	mz_buf_release(&j.out);
	pct_decode(v);
	vals[r->nquery_vals++] = v;
	return v;
}

bool
api_query_int(api_req *r, const char *key, long dflt, long min, long max, long *out)
{
	const char *v = api_query(r, key);
	*out = dflt;
	if (!v || !*v)
		return true;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < min || n > max) {
		api_reply_error(r, 400, "query parameter '%s' must be an integer between %ld and %ld "
		                "(got '%.64s')", key, min, max, v);
		return false;
	}
	*out = n;
	return true;
}

bool
api_query_bool(api_req *r, const char *key, bool dflt, bool *out)
{
	const char *v = api_query(r, key);
	*out = dflt;
	if (!v || !*v)
		return true;
	if (strcasecmp(v, "true") == 0)
		*out = true;
	else if (strcasecmp(v, "false") == 0)
		*out = false;
	else {
		api_reply_error(r, 400, "query parameter '%s' must be true or false (got '%.64s')",
		                key, v);
		return false;
	}
	return true;
}

char **
api_split_csv(const char *s, bool upper)
{
	if (!s)
		return NULL;
	size_t n = 1;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	char **v = calloc(n + 1, sizeof(char *));
	if (!v)
		return NULL;
	size_t k = 0;
	const char *p = s;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (len) {
			char *item = malloc(len + 1);
			if (!item)
				break;
			memcpy(item, p, len);
			item[len] = '\0';
			if (upper)
				for (char *q = item; *q; q++)
					*q = (char)toupper((unsigned char)*q);
			v[k++] = item;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return v;
}

void
api_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

json_t *
api_body_object(api_req *r, bool allow_empty, const char *what)
{
	const char *p = r->body;
	while (*p && isspace((unsigned char)*p))
		p++;
	if (!*p) {
		if (!allow_empty)
			api_reply_error(r, 400, "the request body is empty: expected %s as a JSON object",
			                what);
		return NULL;
	}
	mz_err err = {0};
	json_t *v = mz_json_parse(r->body, r->body_len, &err);
	if (!v) {
		api_reply_error(r, 400, "request body: %s", err.msg);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		api_reply_error(r, 400, "the request body must be a JSON object (%s)", what);
		return NULL;
	}
	return v;
}

/* ---- store pool ------------------------------------------------------ */

mz_store *
api_store(api_req *r)
{
	if (r->st)
		return r->st;
	mz_api *api = r->api;
	pthread_mutex_lock(&api->pool_lock);
	if (api->pool_n > 0)
		r->st = api->pool[--api->pool_n];
	pthread_mutex_unlock(&api->pool_lock);
	if (r->st)
		return r->st;
	mz_err err = {0};
	if (mz_store_open(api->db_url, &r->st, &err) != MZ_OK) {
		r->st = NULL;
		mz_error("api: cannot open the store: %s", err.msg);
		api_reply_mzerr(r, &err);
		return NULL;
	}
	/* A client waits on every API write: the engine lets it in first. */
	mz_store_set_urgent(r->st, true);
	return r->st;
}

static void
store_release(mz_api *api, mz_store *st)
{
	if (!st)
		return;
	mz_store_rollback(st); /* no-op unless a handler left a transaction open */
	pthread_mutex_lock(&api->pool_lock);
	if (api->pool_n < API_POOL_MAX) {
		api->pool[api->pool_n++] = st;
		st = NULL;
	}
	pthread_mutex_unlock(&api->pool_lock);
	if (st)
		mz_store_close(st);
}

mz_store *
api_begin(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return NULL;
	mz_err err = {0};
	if (mz_store_begin(st, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return NULL;
	}
	return st;
}

bool
api_commit(api_req *r)
{
	mz_err err = {0};
	if (mz_store_commit(r->st, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return false;
	}
	return true;
}

void
api_rollback(api_req *r)
{
	if (r->st)
		mz_store_rollback(r->st);
}

json_t *
api_load_execution(api_req *r, const char *id, const char *type, const char *what)
{
	mz_store *st = api_store(r);
	if (!st)
		return NULL;
	json_t *exec = NULL;
	mz_err err = {0};
	mz_code rc = mz_exec_get(st, id, &exec, &err);
	if (rc == MZ_ENOTFOUND || (rc == MZ_OK && !exec) ||
	    (rc == MZ_OK && type && !mz_streq(mz_json_str(exec, "type"), type))) {
		json_decref(exec);
		api_reply_error(r, 404, "%s not found (id: %s)", what, id);
		return NULL;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		return NULL;
	}
	return exec;
}

/* ---- routing --------------------------------------------------------- */

/* Matches the request's segments against pattern, filling r->param. */
static bool
match(api_req *r, const char *pattern)
{
	const char *p = pattern;
	int i = 0;
	r->nparam = 0;
	if (*p == '/')
		p++;
	if (!*p)
		return r->nseg == 0;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (i >= r->nseg)
			return false;
		if (p[0] == '{') {
			if (r->nparam == API_MAX_PARAMS)
				return false;
			r->param[r->nparam++] = r->seg[i];
		} else if (strlen(r->seg[i]) != n || memcmp(r->seg[i], p, n) != 0) {
			return false;
		}
		i++;
		if (!e)
			break;
		p = e + 1;
	}
	return i == r->nseg;
}

static void
dispatch(api_req *r)
{
	const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
	bool path_known = false;
	mz_buf allow;

	if (r->nseg >= 1 && strcmp(r->seg[0], "ui") == 0) {
		if (strcmp(method, "GET") != 0)
			api_reply_error(r, 405, "%s is not supported on the UI's files; use GET",
			                r->method);
		else
			api_serve_ui(r);
		return;
	}
	/* The most specific route wins: POST /pipelines/{id}/evaluateExpression
	 * before POST /pipelines/{app}/{name}. */
	const api_route *best = NULL;
	int best_literals = -1;
	for (int t = 0; route_tables[t]; t++) {
		for (const api_route *rt = route_tables[t]; rt->method; rt++) {
			if (strcmp(rt->method, method) == 0 && match(r, rt->pattern) &&
			    r->nseg - r->nparam > best_literals) {
				best = rt;
				best_literals = r->nseg - r->nparam;
			}
		}
	}
	if (best) {
		match(r, best->pattern);
		if (!api_route_allowed(r, best))
			return;
		best->fn(r);
		api_filter_reply(r, best);
		return;
	}
	mz_buf_init(&allow, 256);
	for (int t = 0; route_tables[t]; t++) {
		for (const api_route *rt = route_tables[t]; rt->method; rt++) {
			if (match(r, rt->pattern)) {
				path_known = true;
				if (!strstr(allow.data, rt->method))
					mz_buf_printf(&allow, "%s%s", allow.len ? ", " : "", rt->method);
			}
		}
	}
	r->nparam = 0;
	if (path_known)
		api_reply_error(r, 405, "%s is not supported on %s; allowed: %s", r->method, r->path,
		                allow.data);
	else
		api_reply_error(r, 404, "no such endpoint: %s %s", r->method, r->path);
	mz_buf_release(&allow);
}

/* ---- the MHD callbacks ----------------------------------------------- */

static struct MHD_Response *
build_response(api_req *r)
{
	struct MHD_Response *resp;
	if (r->response) {
		resp = r->response; /* made by the handler with its own headers */
		r->response = NULL;
		return resp;
	}
	if (r->file_fd >= 0) {
		resp = MHD_create_response_from_fd(r->file_size, r->file_fd);
		if (resp)
			r->file_fd = -1; /* MHD closes it */
	} else if (r->reply) {
		resp = MHD_create_response_from_buffer(r->reply_len, r->reply,
		                                       MHD_RESPMEM_MUST_FREE);
		if (resp)
			r->reply = NULL;
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return NULL;
	if (r->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	if (r->location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	if (r->challenge)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Basic realm=\"mizzen\"");
	if (r->set_cookie)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->set_cookie);
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->cors_origin) {
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->cors_origin);
		MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
		if (r->cors_preflight) {
			MHD_add_response_header(resp, "Access-Control-Allow-Methods",
			                        "GET, HEAD, POST, PUT, PATCH, DELETE");
			MHD_add_response_header(resp, "Access-Control-Allow-Headers",
			                        "Authorization, Content-Type, X-Mizzen-CSRF, "
			                        "X-RateLimit-App");
			MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
		}
	}
	return resp;
}

static void
req_release(api_req *r)
{
	for (int i = 0; i < r->nseg; i++)
		free(r->seg[i]);
	for (int i = 0; i < r->nquery_vals; i++)
		free(r->query_vals[i]);
	free(r->query_vals);
	free(r->reply);
	free(r->location);
	free(r->set_cookie);
	if (r->file_fd >= 0)
		close(r->file_fd);
	if (r->response)
		MHD_destroy_response(r->response);
}

static enum MHD_Result
queue(struct MHD_Connection *conn, api_req *r)
{
	struct MHD_Response *resp = build_response(r);
	if (!resp)
		return MHD_NO;
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **con_cls)
{
	mz_api *api = cls;
	conn_ctx *ctx = *con_cls;

	if (!ctx) {
		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		mz_buf_init(&ctx->body, API_BODY_MAX);
		ctx->t0 = mz_mono_ms();
		*con_cls = ctx;
		/* the headers are in: the body (if any) has its own deadline */
		api_conn_receiving_body(api, conn);
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
		size_t in_flight = 0;
		if (n > API_BODY_MAX)
			ctx->too_large = true;
		else if (n > 0 && !api_body_reserve(api, conn, (size_t)n, &in_flight))
			ctx->over_budget = true;
		else
			ctx->reserved = (size_t)n;
		if (n > API_BODY_REFUSE || ctx->over_budget) {
			/* answered before the body is read: libmicrohttpd closes the
			 * connection after the answer instead of reading it */
			api_req r = {.api = api, .conn = conn, .method = method, .path = url,
			             .file_fd = -1};
			if (ctx->over_budget)
				api_reply_error(&r, 503, "the server is receiving too many request bodies "
				                "at once (%zu MiB in flight, server.bodyMemoryMB is %zu); "
				                "try again shortly", in_flight >> 20,
				                api_limits_config(api)->body_memory_bytes >> 20);
			else
				api_reply_error(&r, 413, "the request body (%llu bytes) is larger than the "
				                "limit of %u bytes", n, API_BODY_MAX);
			enum MHD_Result ret = queue(conn, &r);
			req_release(&r);
			return ret;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* a body of unknown length (chunked) reserves as it grows */
		size_t need = ctx->body.len + *upload_data_size;
		while (!ctx->too_large && !ctx->over_budget && need > ctx->reserved) {
			if (api_body_reserve(api, conn, API_BODY_RESERVE_STEP, NULL))
				ctx->reserved += API_BODY_RESERVE_STEP;
			else
				ctx->over_budget = true;
		}
		if (ctx->over_budget) {
			mz_buf_release(&ctx->body);
		} else if (!ctx->too_large &&
		    mz_buf_add(&ctx->body, upload_data, *upload_data_size) != MZ_OK) {
			ctx->too_large = true;
			mz_buf_release(&ctx->body);
			mz_buf_init(&ctx->body, API_BODY_MAX);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	api_conn_handling(api, conn); /* no deadline while we answer */
	if (ctx->resumed) { /* the answer is made (NULL: out of memory, close) */
		struct MHD_Response *resp = ctx->ready;
		ctx->ready = NULL;
		ctx->resumed = false;
		if (!resp)
			return MHD_NO;
		mz_debug("api: %s %s -> %u (%lld ms)", method, url, ctx->ready_status,
		         (long long)(mz_mono_ms() - ctx->t0));
		enum MHD_Result ret = MHD_queue_response(conn, ctx->ready_status, resp);
		MHD_destroy_response(resp);
		return ret;
	}

	api_req r = {.api = api, .conn = conn, .method = method, .path = url, .file_fd = -1,
	             .conn_ctx = ctx};
	r.body = ctx->body.data;
	r.body_len = ctx->body.len;
	snprintf(r.id.user, sizeof(r.id.user), "anonymous");
	r.user = r.id.user;
	const char *app = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-RateLimit-App");
	r.origin = app && strcasecmp(app, "deck") == 0 ? "deck" : "api";

	if (ctx->too_large)
		api_reply_error(&r, 413, "the request body is larger than the limit of %u bytes",
		                API_BODY_MAX);
	else if (ctx->over_budget)
		api_reply_error(&r, 503, "the server is receiving too many request bodies at once "
		                "(server.bodyMemoryMB is %zu); try again shortly",
		                api_limits_config(api)->body_memory_bytes >> 20);
	else if (!split_path(&r))
		api_reply_error(&r, 404, "no such endpoint: the path has too many segments");
	else if (strcmp(method, "OPTIONS") == 0)
		api_cors_preflight(&r);
	else if (api_auth_gate(&r))
		dispatch(&r);
	if (!r.replied)
		api_reply_error(&r, 500, "internal error: the handler gave no answer");
	api_mask_reply(&r);
	api_audit(&r);
	store_release(api, r.st);
	r.st = NULL;
	if (r.deferred) { /* suspended: api_resume_with answers */
		req_release(&r);
		return MHD_YES;
	}
	mz_debug("api: %s %s -> %d (%lld ms)", method, url, r.status,
	         (long long)(mz_mono_ms() - ctx->t0));
	enum MHD_Result ret = queue(conn, &r);
	req_release(&r);
	return ret;
}

void
api_resume_with(struct MHD_Connection *conn, void *cctx, int status, json_t *body)
{
	conn_ctx *ctx = cctx;
	size_t len = 0;
	char *text = body ? mz_json_dump_len(body, &len) : NULL;
	json_decref(body);
	struct MHD_Response *resp =
		text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
		     : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	else
		free(text);
	ctx->ready = resp; /* NULL: MHD closes the connection */
	ctx->ready_status = (unsigned)status;
	ctx->resumed = true;
	MHD_resume_connection(conn);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	conn_ctx *ctx = *con_cls;
	api_conn_request_done(cls, conn);
	if (!ctx)
		return;
	if (ctx->ready)
		MHD_destroy_response(ctx->ready);
	mz_buf_release(&ctx->body);
	free(ctx);
	*con_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		api_conn_started(cls, conn, socket_context);
	else
		api_conn_closed(cls, socket_context);
}

/* ---- lifecycle ------------------------------------------------------- */

static int
listen_socket(const char *host, int port, bool *ipv6, int *bound_port, mz_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char portbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	int gai = getaddrinfo(host && *host ? host : NULL, portbuf, &hints, &res);
	if (gai != 0) {
		mz_fail(err, MZ_EINVAL, "cannot resolve listen address '%s': %s", host,
		        gai_strerror(gai));
		return -1;
	}
	int fd = -1, saved = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0) {
			*ipv6 = ai->ai_family == AF_INET6;
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			getsockname(fd, (struct sockaddr *)&ss, &len);
			*bound_port = ss.ss_family == AF_INET6
			                  ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
			                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
			break;
		}
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		mz_fail(err, MZ_EIO, "cannot listen on %s:%d: %s", host, port, strerror(saved));
	return fd;
}

static json_t *
normalise_accounts(const json_t *in)
{
	json_t *out = json_array();
	size_t i;
	json_t *a;
	if (!json_is_array(in) || json_array_size(in) == 0) {
		json_array_append_new(out, json_pack("{s:s, s:s, s:[s]}", "name", "local", "type",
		                                     "local", "regions", "local"));
		return out;
	}
	json_array_foreach(in, i, a) {
		if (json_is_object(a) && mz_json_str(a, "name"))
			json_array_append_new(out, json_deep_copy(a));
	}
	return out;
}

/* One HTTP thread per core (at least 2): more threads than cores only adds
 * context switches to the latency tail (measured with wrk -c64 on 2 cores:
 * p99 8-10 ms with 4 threads, 4-6 ms with 2, same throughput). Event
 * streams are suspended connections and hold no thread. */
static unsigned
http_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 2 ? 2 : n > 16 ? 16 : (unsigned)n;
}

mz_code
mz_api_start(const mz_api_config *cfg, mz_api **out, mz_err *err)
{
	bool ipv6 = false;
	int port = 0;
	int fd = listen_socket(cfg->host, cfg->port, &ipv6, &port, err);
	if (fd < 0)
		return MZ_EIO;
	mz_api *api = calloc(1, sizeof(*api));
	if (!api) {
		close(fd);
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&api->pool_lock, NULL);
	api->port = port;
	api->db_url = mz_strdup(cfg->db_url);
	api->engine = cfg->engine;
	api->bus = cfg->events;
	api->cloud = cfg->cloud;
	api->accounts = normalise_accounts(cfg->accounts);
	api->settings = cfg->settings ? json_deep_copy(cfg->settings) : json_object();
	api->repos = cfg->repos;
	api->version = mz_strdup(cfg->version ? cfg->version : "unknown");
	api->web_dir = api_find_web_dir(cfg->web_dir);
	api->auth = cfg->auth;
	pthread_mutex_init(&api->perm_lock, NULL);
	api->perm_cache = json_object();
	api->cors_origins = json_is_array(cfg->cors_origins) ? json_deep_copy(cfg->cors_origins)
	                                                     : json_array();
	mz_api_limits lim;
	api_limits_resolve(&cfg->limits, &lim);
	if (api_limits_start(api, &lim, err) != MZ_OK) {
		close(fd);
		mz_api_stop(api);
		return MZ_EIO;
	}
	api_events_start(api);
	api_launcher_start(api);

	/* Suspend/resume: the event stream (api_events.c) parks idle
	 * subscribers instead of polling them. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
	                 MHD_ALLOW_SUSPEND_RESUME;
	if (ipv6)
		flags |= MHD_USE_IPv6;
	api->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, api,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_THREAD_POOL_SIZE, http_threads(),
		/* idle timeout while a response is sent; the header and body
		 * deadlines are api_limits.c's */
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, lim.connection_memory,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)lim.max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)lim.max_per_address,
		MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, api,
		MHD_OPTION_END);
	if (!api->daemon) {
		close(fd);
		mz_api_stop(api);
		return mz_fail(err, MZ_EIO, "cannot start the HTTP server on %s:%d", cfg->host,
		               cfg->port);
	}
	mz_info("api: at most %d connections, %d per address; headers within %d s, bodies "
	        "within %d s, %zu MiB of bodies in flight", lim.max_connections,
	        lim.max_per_address, lim.header_timeout_s, lim.body_timeout_s,
	        lim.body_memory_bytes >> 20);
	*out = api;
	return MZ_OK;
}

int
mz_api_port(const mz_api *api)
{
	return api->port;
}

void
mz_api_stop(mz_api *api)
{
	if (!api)
		return;
	api_events_stop(api); /* no connection may stay suspended past here */
	api_launcher_stop(api); /* answers every trigger it holds */
	api_limits_stop(api);
	if (api->daemon)
		MHD_stop_daemon(api->daemon); /* closes the listening socket too */
	api_events_free(api);
	api_limits_free(api);
	for (int i = 0; i < api->pool_n; i++)
		mz_store_close(api->pool[i]);
	pthread_mutex_destroy(&api->pool_lock);
	json_decref(api->accounts);
	json_decref(api->settings);
	json_decref(api->cors_origins);
	json_decref(api->perm_cache);
	mz_store_close(api->perm_store);
	pthread_mutex_destroy(&api->perm_lock);
	free(api->db_url);
	free(api->version);
	free(api->web_dir);
	free(api);
}
