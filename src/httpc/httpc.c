/*
 * httpc.c - one HTTP request over libcurl's easy interface, with the limits
 * of httpc.h always on. Each call has its own easy handle (or the caller's
 * session), so calls on different threads share nothing.
 */
#include "httpc/httpc_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct mz_httpc_session {
	CURL *h;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_OK;

static void
do_init(void)
{
	init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURL *
mz__httpc_easy(void)
{
	pthread_once(&init_once, do_init);
	return init_rc == CURLE_OK ? curl_easy_init() : NULL;
}

mz_code
mz_httpc_global_init(mz_err *err)
{
	pthread_once(&init_once, do_init);
	if (init_rc != CURLE_OK)
		return mz_fail(err, MZ_EIO, "cannot initialise libcurl: %s",
		               curl_easy_strerror(init_rc));
	return MZ_OK;
}

/* ---- transport: timeouts, protocols, the policy ----------------------- */

void
mz__httpc_timeouts(long timeout_ms, long connect_ms, long *total, long *connect)
{
	long t = timeout_ms > 0 ? timeout_ms : MZ_HTTPC_DEFAULT_TIMEOUT_MS;
	if (t > MZ_HTTPC_MAX_TIMEOUT_MS)
		t = MZ_HTTPC_MAX_TIMEOUT_MS;
	long c = connect_ms > 0 ? connect_ms : MZ_HTTPC_DEFAULT_CONNECT_MS;
	*total = t;
	*connect = c < t ? c : t;
}

/* libcurl asks us for every socket it connects: the place where the
 * address is final (after DNS, for every redirect and retry). */
static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	mz__httpc_guard *g = clientp;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!g->trusted && !mz_httpc_policy_allows(&address->addr, g->why, sizeof(g->why))) {
		g->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

void
mz__httpc_transport(CURL *h, mz__httpc_guard *g, long timeout_ms, long connect_ms,
                    const char *protocols)
{
	long total, connect;
	mz__httpc_timeouts(timeout_ms, connect_ms, &total, &connect);
	/* worker threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
	/* "" overrides $http_proxy and friends: a proxy would open the real
	 * connection where the open-socket check cannot see it. */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, g);
}

/* ---- response --------------------------------------------------------- */

typedef struct xfer {
	const mz_httpc_req *rq;
	mz_httpc_resp *rs;
	size_t max_body;
	size_t header_bytes;
	bool too_big;
	bool sink_failed;
} xfer;

/* A JSON string of n bytes; bytes that are not valid UTF-8 become '?'. */
static json_t *
text_json(const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);
	if (v)
		return v;
	char *copy = malloc(n + 1);
	if (!copy)
		return json_string("");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		copy[i] = (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' ? (char)c : '?';
	}
	v = json_stringn(copy, n);
	free(copy);
	return v;
}

static size_t
on_body(char *data, size_t size, size_t n, void *udata)
{
	xfer *x = udata;
	size_t len = size * n;
	if (x->rs->body_bytes + len > x->max_body) {
		x->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	if (x->rq->sink) {
		if (fwrite(data, 1, len, x->rq->sink) != len) {
			x->sink_failed = true;
			return 0;
		}
	} else if (mz_buf_add(&x->rs->body, data, len) != MZ_OK) {
		x->too_big = true;
		return 0;
	}
	x->rs->body_bytes += len;
	return len;
}

static bool
token_char(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool
mz_httpc_header_name_ok(const char *name)
{
	const char *c = name;
	while (*c && token_char((unsigned char)*c))
		c++;
	return *name && !*c;
}

static size_t
on_header(char *data, size_t size, size_t n, void *udata)
{
	xfer *x = udata;
	size_t len = size * n;
	char name[256];
	size_t nlen = 0;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a status line: a redirect's or a 1xx's headers are not the
		 * final response's, start afresh */
		json_object_clear(x->rs->headers);
		x->header_bytes = 0;
		return len;
	}
	x->header_bytes += len;
	if (x->header_bytes > MZ_HTTPC_MAX_HEADER_BYTES) {
		x->too_big = true;
		return 0;
	}
	while (nlen < len && nlen + 1 < sizeof(name) && token_char((unsigned char)data[nlen])) {
		name[nlen] = data[nlen];
		nlen++;
	}
	if (nlen == 0 || nlen >= len || data[nlen] != ':')
		return len; /* the blank line ending the headers, or junk */
	name[nlen] = '\0';
	const char *v = data + nlen + 1;
	const char *end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	json_t *list = json_object_get(x->rs->headers, name);
	if (!list) {
		list = json_array();
		json_object_set_new(x->rs->headers, name, list);
	}
	json_array_append_new(list, text_json(v, (size_t)(end - v)));
	return len;
}

const char *
mz_httpc_header(const mz_httpc_resp *rs, const char *want)
{
	const char *name;
	json_t *list;
	json_object_foreach(rs->headers, name, list)
		if (strcasecmp(name, want) == 0)
			return json_string_value(json_array_get(list, 0));
	return NULL;
}

void
mz_httpc_resp_release(mz_httpc_resp *rs)
{
	json_decref(rs->headers);
	rs->headers = NULL;
	mz_buf_release(&rs->body);
}

json_t *
mz_httpc_body_json(const mz_httpc_resp *rs)
{
	const char *d = rs->body.data;
	size_t len = rs->body.len, i = 0;
	if (len == 0)
		return json_null();
	const char *ct = mz_httpc_header(rs, "Content-Type");
	while (i < len && isspace((unsigned char)d[i]))
		i++;
	if ((ct && strcasestr(ct, "json")) || (i < len && (d[i] == '{' || d[i] == '['))) {
		json_error_t je;
		json_t *v = json_loadb(d, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		if (v)
			return v;
	}
	return text_json(d, len);
}

void
mz_httpc_body_excerpt(const mz_httpc_resp *rs, size_t max, char *out, size_t cap)
{
	const mz_buf *b = &rs->body;
	size_t n = b->len < max ? b->len : max;
	/* do not cut a UTF-8 sequence in two */
	while (n > 0 && n < b->len && ((unsigned char)b->data[n] & 0xC0) == 0x80)
		n--;
	json_t *t = text_json(b->data, n);
	snprintf(out, cap, "%s%s", json_string_value(t), n < b->len ? "..." : "");
	json_decref(t);
}

bool
mz_httpc_unsent(const mz_httpc_resp *rs)
{
	return rs->fail == MZ_HTTPC_BAD_REQUEST || rs->fail == MZ_HTTPC_POLICY ||
	       rs->fail == MZ_HTTPC_RESOLVE || rs->fail == MZ_HTTPC_CONNECT;
}

static mz_httpc_fail
classify(CURLcode cc, const xfer *x, const mz__httpc_guard *g)
{
	if (x->too_big || cc == CURLE_FILESIZE_EXCEEDED)
		return MZ_HTTPC_TOO_LARGE;
	if (x->sink_failed)
		return MZ_HTTPC_SINK;
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		return g->refused ? MZ_HTTPC_POLICY : MZ_HTTPC_CONNECT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return MZ_HTTPC_RESOLVE;
	case CURLE_OPERATION_TIMEDOUT:
		/* a timeout before the connection was made sent nothing */
		return MZ_HTTPC_TIMEOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return MZ_HTTPC_BAD_REQUEST;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_WEIRD_SERVER_REPLY:
		return MZ_HTTPC_TRANSPORT;
	default:
		return g->refused ? MZ_HTTPC_POLICY : MZ_HTTPC_OTHER;
	}
}

/* ---- request ---------------------------------------------------------- */

static bool
http_url(const char *u)
{
	return u && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0);
}

static mz_code
failed(mz_httpc_resp *rs, mz_httpc_fail why, mz_err *err)
{
	rs->fail = why;
	mz_code code = why == MZ_HTTPC_BAD_REQUEST || why == MZ_HTTPC_POLICY ? MZ_EINVAL
	               : why == MZ_HTTPC_TIMEOUT                           ? MZ_ETIMEOUT
	                                                                   : MZ_EIO;
	return mz_fail(err, code, "%s", rs->error);
}

static void
set_method(CURL *h, const mz_httpc_req *rq, const char *method)
{
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	if (strcmp(method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	/* POST, PUT and PATCH always carry a (maybe empty) body so curl sends
	 * Content-Length; DELETE only when given one. */
	if (rq->body || strcmp(method, "DELETE") != 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(rq->body ? rq->body_len : 0));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
	}
}

static struct curl_slist *
build_headers(const mz_httpc_req *rq, bool *ok)
{
	struct curl_slist *list = NULL, *l;
	*ok = true;
	for (int i = 0; rq->headers && rq->headers[i]; i++) {
		if (strpbrk(rq->headers[i], "\r\n")) {
			*ok = false;
			break;
		}
		if (!(l = curl_slist_append(list, rq->headers[i]))) {
			*ok = false;
			break;
		}
		list = l;
	}
	if (*ok && rq->idempotency_key) {
		char *line = mz_asprintf("Idempotency-Key: %s", rq->idempotency_key);
		l = strpbrk(line, "\r\n") ? NULL : curl_slist_append(list, line);
		free(line);
		if (l)
			list = l;
		else
			*ok = false;
	}
	/* no "Expect: 100-continue" round trip before larger bodies */
	if (*ok && (l = curl_slist_append(list, "Expect:")))
		list = l;
	return list;
}

mz_code
mz_httpc_do(const mz_httpc_req *rq, mz_httpc_resp *rs, mz_err *err)
{
	const char *method = rq->method && *rq->method ? rq->method : "GET";
	memset(rs, 0, sizeof(*rs));
	rs->headers = json_object();
	size_t max_body = rq->max_body ? rq->max_body : MZ_HTTPC_DEFAULT_MAX_BODY;
	mz_buf_init(&rs->body, max_body);

	if (!http_url(rq->url)) {
		snprintf(rs->error, sizeof(rs->error), "not an http:// or https:// URL: %.300s",
		         rq->url ? rq->url : "(none)");
		return failed(rs, MZ_HTTPC_BAD_REQUEST, err);
	}
	bool ok;
	struct curl_slist *headers = build_headers(rq, &ok);
	if (!ok) {
		curl_slist_free_all(headers);
		snprintf(rs->error, sizeof(rs->error),
		         "a request header contains a line break (or memory ran out)");
		return failed(rs, MZ_HTTPC_BAD_REQUEST, err);
	}
	bool kept = rq->session && rq->trusted; /* a session's handle outlives the call */
	CURL *h = kept ? rq->session->h : mz__httpc_easy();
	if (!h) {
		curl_slist_free_all(headers);
		snprintf(rs->error, sizeof(rs->error), "cannot create an HTTP client handle");
		return failed(rs, MZ_HTTPC_OTHER, err);
	}
	if (kept)
		curl_easy_reset(h);

	char curl_err[CURL_ERROR_SIZE] = "";
	mz__httpc_guard guard = {.trusted = rq->trusted};
	xfer x = {.rq = rq, .rs = rs, .max_body = max_body};
	mz__httpc_transport(h, &guard, rq->timeout_ms, rq->connect_timeout_ms, "http,https");
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, rq->follow_redirects ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, MZ_HTTPC_MAX_REDIRECTS);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_body);
	curl_easy_setopt(h, CURLOPT_USERAGENT, rq->user_agent ? rq->user_agent : "mizzen");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	set_method(h, rq, method);

	CURLcode cc = curl_easy_perform(h);
	curl_off_t connected_us = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	if (cc != CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected_us);
	/* the options point at our stack: a kept handle must not keep them */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, NULL);
	if (!kept)
		curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	if (cc == CURLE_OK) {
		mz_debug("httpc: %s %s -> %ld", method, rq->url, rs->status);
		return MZ_OK;
	}

	mz_httpc_fail why = classify(cc, &x, &guard);
	if (why != MZ_HTTPC_TOO_LARGE)
		rs->status = 0;
	if (why == MZ_HTTPC_TIMEOUT && connected_us == 0)
		why = MZ_HTTPC_CONNECT; /* timed out before a connection: nothing sent */
	if (why == MZ_HTTPC_POLICY)
		snprintf(rs->error, sizeof(rs->error), "%s", guard.why);
	else if (why == MZ_HTTPC_TOO_LARGE)
		snprintf(rs->error, sizeof(rs->error), "the response is larger than %zu bytes%s",
		         max_body, x.header_bytes > MZ_HTTPC_MAX_HEADER_BYTES ? " (headers)" : "");
	else if (why == MZ_HTTPC_SINK)
		snprintf(rs->error, sizeof(rs->error), "cannot write the response: %s",
		         ferror(rq->sink) ? "write error (disk full?)" : "short write");
	else
		snprintf(rs->error, sizeof(rs->error), "%s",
		         curl_err[0] ? curl_err : curl_easy_strerror(cc));
	mz_debug("httpc: %s %s failed: %s", method, rq->url, rs->error);
	return failed(rs, why, err);
}

json_t *
mz_httpc_get_json(const char *url, long timeout_ms, long *status, mz_err *err)
{
	const char *headers[] = {"Accept: application/json", NULL};
	mz_httpc_req rq = {.url = url, .headers = headers, .timeout_ms = timeout_ms};
	mz_httpc_resp rs;
	json_t *body = NULL;
	mz_err perr = {0};
	*status = 0;
	if (mz_httpc_do(&rq, &rs, err) == MZ_OK) {
		*status = rs.status;
		if (rs.status != 200)
			mz_fail(err, MZ_EIO, "GET %.300s answered %ld", url, rs.status);
		else if (!(body = mz_json_parse(rs.body.data, rs.body.len, &perr)))
			mz_fail(err, MZ_EIO, "GET %.300s: the answer is not JSON: %s", url, perr.msg);
	}
	mz_httpc_resp_release(&rs);
	return body;
}

/* ---- sessions ----------------------------------------------------------- */

mz_httpc_session *
mz_httpc_session_new(void)
{
	mz_httpc_session *s = calloc(1, sizeof(*s));
	if (s && !(s->h = mz__httpc_easy())) {
		free(s);
		s = NULL;
	}
	return s;
}

void
mz_httpc_session_free(mz_httpc_session *s)
{
	if (!s)
		return;
	curl_easy_cleanup(s->h);
	free(s);
}
