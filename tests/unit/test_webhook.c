/*
 * test_webhook.c - the webhook stage's tasks against a tiny scripted HTTP
 * server on 127.0.0.1, the stage's plan, and the JSONPath reader.
 *
 * The server (a thread, plain sockets) answers every request with the reply
 * last set by srv_reply() and records the last request it received. Tasks
 * are called through mz_engine_task_def(name)->execute with a hand-built
 * mz_task_ctx, exactly as an engine worker would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/engine_plan.h"
#include "engine/jsonpath.h"
#include "engine/stage_webhook.h"
#include "httpc/httpc.h"

#define KEY "01HEXEC-01HSTAGE-1-1"

/* ---- the scripted server ----------------------------------------------- */

static struct {
	int fd;
	int port;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t mu;
	/* the reply to every request */
	int status;
	char *headers; /* extra header lines, each ending in \r\n */
	char *body;
	size_t body_len;
	/* the last request */
	int nreq;
	char method[16];
	char path[1024];
	char *head; /* request headers, raw */
	char *req_body;
	size_t req_body_len;
} srv;

static void
srv_reply_n(int status, const char *headers, const char *body, size_t len)
{
	pthread_mutex_lock(&srv.mu);
	free(srv.headers);
	free(srv.body);
	srv.status = status;
	srv.headers = strdup(headers ? headers : "");
	srv.body = malloc(len + 1);
	memcpy(srv.body, body, len);
	srv.body[len] = '\0';
	srv.body_len = len;
	pthread_mutex_unlock(&srv.mu);
}

static void
srv_reply(int status, const char *headers, const char *body)
{
	srv_reply_n(status, headers, body, strlen(body));
}

static void
handle(int c)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	char *end = NULL;
	struct timeval tv = {.tv_sec = 5};
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!end && len < cap) {
		ssize_t n = recv(c, buf + len, cap - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (!end) {
		free(buf);
		return;
	}
	size_t head_len = (size_t)(end - buf) + 4;
	size_t want = 0;
	const char *cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl && cl < end)
		want = strtoul(cl + 17, NULL, 10);
	while (len < head_len + want && len < cap) {
		ssize_t n = recv(c, buf + len, cap - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';

	pthread_mutex_lock(&srv.mu);
	srv.nreq++;
	sscanf(buf, "%15s %1023s", srv.method, srv.path);
	free(srv.head);
	free(srv.req_body);
	srv.head = strndup(buf, head_len);
	srv.req_body_len = len - head_len;
	srv.req_body = strndup(buf + head_len, srv.req_body_len);
	char *resp = NULL;
	size_t resp_len = 0;
	FILE *f = open_memstream(&resp, &resp_len);
	fprintf(f, "HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
	        srv.status, srv.body_len, srv.headers);
	fwrite(srv.body, 1, srv.body_len, f);
	fclose(f);
	pthread_mutex_unlock(&srv.mu);

	for (size_t off = 0; off < resp_len;) {
		ssize_t n = send(c, resp + off, resp_len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the client gave up (e.g. response too large) */
		off += (size_t)n;
	}
	free(resp);
	free(buf);
}

static void *
serve(void *arg)
{
	(void)arg;
	while (!atomic_load(&srv.stop)) {
		struct pollfd p = {.fd = srv.fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(srv.fd, NULL, NULL);
		if (c < 0)
			continue;
		handle(c);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

/* A port on 127.0.0.1 nobody listens on. */
static int
closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	return ntohs(a.sin_port);
}

static int
setup(void **state)
{
	(void)state;
	mz_log_set_level(MZ_LOG_WARN);
	mz__register_webhook_stage();
	pthread_mutex_init(&srv.mu, NULL);
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) || listen(srv.fd, 16))
		return -1;
	getsockname(srv.fd, (struct sockaddr *)&a, &al);
	srv.port = ntohs(a.sin_port);
	srv_reply(200, NULL, "{}");
	return pthread_create(&srv.thread, NULL, serve, NULL);
}

static int
teardown(void **state)
{
	(void)state;
	atomic_store(&srv.stop, true);
	pthread_join(srv.thread, NULL);
	close(srv.fd);
	free(srv.headers);
	free(srv.body);
	free(srv.head);
	free(srv.req_body);
	return 0;
}

/* ---- calling tasks ----------------------------------------------------- */

static char *
url(const char *path)
{
	return mz_asprintf("http://127.0.0.1:%d%s", srv.port, path);
}

/* Runs a task with the given stage context (stolen); the task started
 * started_ago ms ago. Release the result with release(). */
static mz_task_result
run_at(const char *task_name, json_t *context, int64_t started_ago)
{
	int64_t now = mz_now_ms();
	json_t *exec = json_pack("{s:s, s:s}", "id", "01HEXEC", "type", "PIPELINE");
	json_t *stage = json_pack("{s:s, s:s, s:o}", "id", "01HSTAGE", "type", "webhook",
	                          "context", context);
	json_t *task = json_pack("{s:s, s:s, s:I}", "id", "1", "name", task_name, "startTime",
	                         (json_int_t)(now - started_ago));
	mz_task_ctx ctx = {.execution = exec, .stage = stage, .task = task, .now = now,
	                   .idempotency_key = KEY};
	mz_task_result r;
	memset(&r, 0, sizeof(r));
	const mz_task_def *def = mz_engine_task_def(task_name);
	assert_non_null(def);
	def->execute(&ctx, &r);
	assert_non_null(r.status);
	json_decref(exec);
	json_decref(stage);
	json_decref(task);
	return r;
}

static mz_task_result
run(const char *task_name, json_t *context)
{
	return run_at(task_name, context, 0);
}

static void
release(mz_task_result *r)
{
	json_decref(r->context);
	json_decref(r->outputs);
}

static json_t *
webhook_of(const mz_task_result *r)
{
	json_t *w = json_object_get(r->context, "webhook");
	assert_true(json_is_object(w));
	return w;
}

static int
nreq(void)
{
	pthread_mutex_lock(&srv.mu);
	int n = srv.nreq;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

/* A copy of the last request, taken under the lock so that a failing
 * assertion (which longjmps out of the test) never leaves it held. */
typedef struct seen {
	char method[16];
	char path[1024];
	char *head;
	char *body;
	size_t body_len;
} seen;

static seen
last_request(void)
{
	seen q;
	pthread_mutex_lock(&srv.mu);
	memcpy(q.method, srv.method, sizeof(q.method));
	memcpy(q.path, srv.path, sizeof(q.path));
	q.head = strdup(srv.head ? srv.head : "");
	q.body = strdup(srv.req_body ? srv.req_body : "");
	q.body_len = srv.req_body_len;
	pthread_mutex_unlock(&srv.mu);
	return q;
}

static void
seen_release(seen *q)
{
	free(q->head);
	free(q->body);
}

/* ---- createWebhook ----------------------------------------------------- */

static void
test_create_post_ok(void **state)
{
	(void)state;
	char *u = url("/hooks/deploy?x=1");
	srv_reply(200, "Content-Type: application/json\r\nX-Reply: yes\r\n",
	          "{\"id\": 42, \"state\": \"queued\"}");
	json_t *ctx = json_pack(
		"{s:s, s:{s:s, s:[i,i]}, s:{s:s, s:[s,s], s:s, s:s, s:s}}", "url", u, "payload",
		"app", "demo", "n", 1, 2, "customHeaders", "X-Custom", "abc", "X-Multi", "one",
		"two", "X-Spinnaker-User", "mallory", "X-SPINNAKER-EXECUTION-ID", "forged",
		"Idempotency-Key", "theirs");
	mz_task_result r = run("createWebhook", ctx);
	assert_string_equal(r.status, "SUCCEEDED");
	json_t *w = webhook_of(&r);
	assert_int_equal(mz_json_int(w, "statusCodeValue", 0), 200);
	assert_string_equal(mz_json_str(w, "statusCode"), "OK");
	assert_int_equal(mz_json_int(mz_json_obj(w, "body"), "id", 0), 42);
	assert_string_equal(mz_json_str(mz_json_obj(w, "body"), "state"), "queued");
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(mz_json_obj(w, "headers"), "X-Reply"), 0)), "yes");
	assert_null(json_object_get(w, "error"));
	assert_null(json_object_get(r.context, "statusEndpoint"));

	seen q = last_request();
	assert_string_equal(q.method, "POST");
	assert_string_equal(q.path, "/hooks/deploy?x=1");
	assert_non_null(strstr(q.head, "\r\nIdempotency-Key: " KEY "\r\n"));
	assert_null(strstr(q.head, "theirs"));
	assert_non_null(strstr(q.head, "\r\nX-Custom: abc\r\n"));
	assert_non_null(strstr(q.head, "\r\nX-Multi: one\r\n"));
	assert_non_null(strstr(q.head, "\r\nX-Multi: two\r\n"));
	assert_non_null(strstr(q.head, "\r\nContent-Type: application/json\r\n"));
	assert_null(strcasestr(q.head, "X-Spinnaker"));
	assert_null(strcasestr(q.head, "Expect:"));
	json_t *got = json_loads(q.body, 0, NULL);
	json_t *want = json_pack("{s:s, s:[i,i]}", "app", "demo", "n", 1, 2);
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	seen_release(&q);
	release(&r);
	free(u);
}

static void
test_create_get_no_body(void **state)
{
	(void)state;
	char *u = url("/ping");
	srv_reply(201, "Content-Type: text/plain\r\n", "hello");
	mz_task_result r = run("createWebhook", json_pack("{s:s, s:s, s:{s:s}}", "url", u,
	                                                   "method", "get", "payload", "a", "b"));
	assert_string_equal(r.status, "SUCCEEDED");
	json_t *w = webhook_of(&r);
	assert_string_equal(mz_json_str(w, "statusCode"), "CREATED");
	assert_string_equal(mz_json_str(w, "body"), "hello");
	seen q = last_request();
	assert_string_equal(q.method, "GET");
	assert_int_equal(q.body_len, 0);
	assert_non_null(strstr(q.head, "Idempotency-Key: " KEY));
	seen_release(&q);
	release(&r);

	/* PUT sends the payload; an unnamed status is its number */
	srv_reply(299, NULL, "");
	r = run("createWebhook", json_pack("{s:s, s:s, s:[s]}", "url", u, "method", "Put",
	                                   "payload", "x"));
	assert_string_equal(r.status, "SUCCEEDED");
	assert_string_equal(mz_json_str(webhook_of(&r), "statusCode"), "299");
	assert_true(json_is_null(json_object_get(webhook_of(&r), "body")));
	q = last_request();
	assert_string_equal(q.method, "PUT");
	assert_string_equal(q.body, "[\"x\"]");
	seen_release(&q);
	release(&r);
	free(u);
}

static void
test_create_retry_codes(void **state)
{
	(void)state;
	char *u = url("/h");
	srv_reply(500, NULL, "boom");
	mz_task_result r = run("createWebhook", json_pack("{s:s}", "url", u));
	assert_string_equal(r.status, "RUNNING");
	assert_int_equal(mz_json_int(webhook_of(&r), "statusCodeValue", 0), 500);
	assert_non_null(strstr(mz_json_str(webhook_of(&r), "error"), "will retry"));
	release(&r);

	srv_reply(429, NULL, "slow down");
	r = run("createWebhook", json_pack("{s:s}", "url", u));
	assert_string_equal(r.status, "RUNNING");
	release(&r);

	srv_reply(409, NULL, "conflict");
	r = run("createWebhook", json_pack("{s:s, s:[i]}", "url", u, "webhookRetryStatusCodes", 409));
	assert_string_equal(r.status, "RUNNING");
	release(&r);
	free(u);
}

static void
test_create_client_error_terminal(void **state)
{
	(void)state;
	char *u = url("/missing");
	srv_reply(404, NULL, "not here");
	mz_task_result r = run("createWebhook", json_pack("{s:s}", "url", u));
	assert_string_equal(r.status, "TERMINAL");
	char *want = mz_asprintf("Error submitting webhook for pipeline 01HEXEC to %s with status "
	                         "code 404, with response: not here",
	                         u);
	assert_string_equal(r.error, want);
	assert_string_equal(mz_json_str(webhook_of(&r), "error"), want);
	assert_string_equal(mz_json_str(webhook_of(&r), "statusCode"), "NOT_FOUND");
	free(want);
	release(&r);
	free(u);
}

static void
test_create_fail_fast(void **state)
{
	(void)state;
	char *u = url("/h");
	srv_reply(504, NULL, "gateway");
	mz_task_result r = run("createWebhook", json_pack("{s:s}", "url", u));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "status code 504"));
	assert_non_null(strstr(r.error, "fail fast"));
	release(&r);

	/* an explicit list replaces the default [504] */
	srv_reply(503, NULL, "x");
	r = run("createWebhook", json_pack("{s:s, s:[i]}", "url", u, "failFastStatusCodes", 503));
	assert_string_equal(r.status, "TERMINAL");
	release(&r);
	srv_reply(504, NULL, "x");
	r = run("createWebhook", json_pack("{s:s, s:[]}", "url", u, "failFastStatusCodes"));
	assert_string_equal(r.status, "RUNNING");
	release(&r);
	free(u);
}

static void
test_create_connection_refused(void **state)
{
	(void)state;
	char *u = mz_asprintf("http://127.0.0.1:%d/h", closed_port());
	mz_task_result r = run("createWebhook", json_pack("{s:s}", "url", u));
	assert_string_equal(r.status, "RUNNING");
	assert_non_null(strstr(mz_json_str(webhook_of(&r), "error"), "will retry"));
	release(&r);
	free(u);
}

/* The outbound policy: a webhook to this server's own address (here: the
 * scripted server, named as ours) or to a metadata address is TERMINAL at
 * once, nothing is sent, and the message names the setting that allows
 * it; outbound.allow lets it through. */
static void
test_create_outbound_policy(void **state)
{
	(void)state;
	char *u = url("/own");
	int before = nreq();
	assert_int_equal(mz_httpc_set_policy("127.0.0.1", srv.port, NULL, NULL), MZ_OK);
	mz_task_result r = run("createWebhook", json_pack("{s:s}", "url", u));
	assert_string_equal(r.status, "TERMINAL");
	const char *e = mz_json_str(webhook_of(&r), "error");
	assert_non_null(strstr(e, "outbound policy"));
	assert_non_null(strstr(e, "outbound"));
	assert_non_null(strstr(e, "allow"));
	assert_int_equal(nreq(), before);
	release(&r);

	r = run("createWebhook", json_pack("{s:s}", "url", "http://169.254.169.254/latest/meta-data/"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(mz_json_str(webhook_of(&r), "error"), "link-local"));
	release(&r);

	json_t *allow = json_pack("[s]", "127.0.0.1/32");
	assert_int_equal(mz_httpc_set_policy("127.0.0.1", srv.port, allow, NULL), MZ_OK);
	json_decref(allow);
	srv_reply(200, NULL, "{}");
	r = run("createWebhook", json_pack("{s:s}", "url", u));
	assert_string_equal(r.status, "SUCCEEDED");
	assert_int_equal(nreq(), before + 1);
	release(&r);
	assert_int_equal(mz_httpc_set_policy(NULL, 0, NULL, NULL), MZ_OK);
	free(u);
}

static void
test_create_bad_config(void **state)
{
	(void)state;
	char *u = url("/h");
	int before = nreq();
	mz_task_result r = run("createWebhook", json_pack("{s:s, s:s}", "url", u, "method", "TRACE"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "TRACE"));
	release(&r);

	r = run("createWebhook", json_pack("{s:s}", "url", "file:///etc/passwd"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "http://"));
	release(&r);

	r = run("createWebhook", json_pack("{}"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "no url"));
	release(&r);

	/* a header value is never echoed: it may be a secret */
	r = run("createWebhook", json_pack("{s:s, s:{s:s}}", "url", u, "customHeaders",
	                                   "Authorization", "Bearer s3cret\r\nX-Evil: 1"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "Authorization"));
	assert_null(strstr(r.error, "s3cret"));
	release(&r);

	r = run("createWebhook", json_pack("{s:s, s:{s:s}}", "url", u, "customHeaders",
	                                   "Bad Name", "v"));
	assert_string_equal(r.status, "TERMINAL");
	release(&r);

	/* waiting needs a way to find the status URL: checked before sending */
	r = run("createWebhook", json_pack("{s:s, s:b}", "url", u, "waitForCompletion", 1));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "statusUrlResolution"));
	release(&r);
	r = run("createWebhook", json_pack("{s:s, s:s, s:s}", "url", u, "waitForCompletion", "true",
	                                   "statusUrlResolution", "webhookResponse"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "statusUrlJsonPath"));
	release(&r);
	r = run("createWebhook",
	        json_pack("{s:s, s:b, s:s, s:s}", "url", u, "waitForCompletion", 1,
	                  "statusUrlResolution", "webhookResponse", "statusUrlJsonPath", "$..x"));
	assert_string_equal(r.status, "TERMINAL");
	release(&r);
	assert_int_equal(nreq(), before);
	free(u);
}

static void
test_create_response_too_large(void **state)
{
	(void)state;
	char *u = url("/big");
	size_t n = 1536 * 1024;
	char *big = malloc(n);
	memset(big, 'a', n);
	srv_reply_n(200, NULL, big, n);
	free(big);
	mz_task_result r = run("createWebhook", json_pack("{s:s}", "url", u));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "larger than"));
	release(&r);
	free(u);
}

static void
test_status_url_resolution(void **state)
{
	(void)state;
	char *u = url("/start");
	char *want;

	srv_reply(202, NULL, "{}");
	mz_task_result r = run("createWebhook",
	                       json_pack("{s:s, s:b, s:s}", "url", u, "waitForCompletion", 1,
	                                 "statusUrlResolution", "getMethod"));
	assert_string_equal(r.status, "SUCCEEDED");
	assert_string_equal(mz_json_str(r.context, "statusEndpoint"), u);
	assert_string_equal(mz_json_str(webhook_of(&r), "statusEndpoint"), u);
	release(&r);

	/* a relative Location resolves against the webhook url */
	srv_reply(201, "Location: /status/7\r\n", "");
	r = run("createWebhook", json_pack("{s:s, s:b, s:s}", "url", u, "waitForCompletion", 1,
	                                   "statusUrlResolution", "locationHeader"));
	assert_string_equal(r.status, "SUCCEEDED");
	want = url("/status/7");
	assert_string_equal(mz_json_str(r.context, "statusEndpoint"), want);
	assert_string_equal(mz_json_str(webhook_of(&r), "statusEndpoint"), want);
	free(want);
	release(&r);

	/* same host, other scheme: the webhook's scheme is kept */
	char *loc = mz_asprintf("location: https://127.0.0.1:%d/s/1\r\n", srv.port);
	srv_reply(302, loc, "");
	free(loc);
	r = run("createWebhook", json_pack("{s:s, s:b, s:s}", "url", u, "waitForCompletion", 1,
	                                   "statusUrlResolution", "locationHeader"));
	assert_string_equal(r.status, "SUCCEEDED");
	want = url("/s/1");
	assert_string_equal(mz_json_str(r.context, "statusEndpoint"), want);
	free(want);
	release(&r);

	srv_reply(200, NULL, "{}");
	r = run("createWebhook", json_pack("{s:s, s:b, s:s}", "url", u, "waitForCompletion", 1,
	                                   "statusUrlResolution", "locationHeader"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "Location"));
	release(&r);

	/* webhookResponse: a JSONPath into the body */
	char *body = mz_asprintf("{\"links\": [{\"status\": \"http://127.0.0.1:%d/s/9\"}]}",
	                         srv.port);
	srv_reply(200, "Content-Type: application/json\r\n", body);
	free(body);
	r = run("createWebhook",
	        json_pack("{s:s, s:b, s:s, s:s}", "url", u, "waitForCompletion", 1,
	                  "statusUrlResolution", "webhookResponse", "statusUrlJsonPath",
	                  "$.links[0].status"));
	assert_string_equal(r.status, "SUCCEEDED");
	want = url("/s/9");
	assert_string_equal(mz_json_str(r.context, "statusEndpoint"), want);
	free(want);
	release(&r);

	r = run("createWebhook",
	        json_pack("{s:s, s:b, s:s, s:s}", "url", u, "waitForCompletion", 1,
	                  "statusUrlResolution", "webhookResponse", "statusUrlJsonPath",
	                  "$.links[3].status"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "statusUrlJsonPath"));
	assert_null(json_object_get(r.context, "statusEndpoint"));
	assert_int_equal(mz_json_int(webhook_of(&r), "statusCodeValue", 0), 200);
	release(&r);
	free(u);
}

/* ---- monitorWebhook ---------------------------------------------------- */

static json_t *
monitor_ctx(const char *status_path)
{
	char *u = url("/status");
	json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i, s:s}, s:{s:s}}", "statusEndpoint",
	                      u, "statusJsonPath", status_path, "successStatuses", "SUCCESS, ok",
	                      "canceledStatuses", "canceled", "terminalStatuses", "FAILED,Error",
	                      "webhook", "statusCodeValue", 202, "statusEndpoint", u,
	                      "customHeaders", "X-Token", "t");
	free(u);
	return c;
}

static const char *
monitor_status_of(const char *body)
{
	static char status[32];
	srv_reply(200, "Content-Type: application/json\r\n", body);
	mz_task_result r = run("monitorWebhook", monitor_ctx("$.status"));
	snprintf(status, sizeof(status), "%s", r.status);
	release(&r);
	return status;
}

static void
test_monitor_statuses(void **state)
{
	(void)state;
	srv_reply(200, "Content-Type: application/json\r\n", "{\"status\": \"RUNNING\"}");
	mz_task_result r = run("monitorWebhook", monitor_ctx("$.status"));
	assert_string_equal(r.status, "RUNNING");
	json_t *w = webhook_of(&r);
	json_t *mon = mz_json_obj(w, "monitor");
	assert_int_equal(mz_json_int(w, "statusCodeValue", 0), 202); /* createWebhook's part kept */
	assert_int_equal(mz_json_int(mon, "statusCodeValue", 0), 200);
	assert_string_equal(mz_json_str(mon, "resolvedValue"), "RUNNING");
	assert_string_equal(mz_json_str(mz_json_obj(mon, "body"), "status"), "RUNNING");
	assert_int_equal(json_array_size(mz_json_arr(mon, "pastStatusCodes")), 0);
	seen q = last_request();
	assert_string_equal(q.method, "GET");
	assert_string_equal(q.path, "/status");
	assert_non_null(strstr(q.head, "\r\nIdempotency-Key: " KEY "\r\n"));
	assert_non_null(strstr(q.head, "\r\nX-Token: t\r\n"));
	seen_release(&q);
	release(&r);

	assert_string_equal(monitor_status_of("{\"status\": \"SUCCESS\"}"), "SUCCEEDED");
	assert_string_equal(monitor_status_of("{\"status\": \"success\"}"), "SUCCEEDED");
	assert_string_equal(monitor_status_of("{\"status\": \"Ok\"}"), "SUCCEEDED");
	assert_string_equal(monitor_status_of("{\"status\": \"CANCELED\"}"), "CANCELED");
	assert_string_equal(monitor_status_of("{\"status\": \"Error\"}"), "TERMINAL");
	assert_string_equal(monitor_status_of("{\"status\": \"PENDING\"}"), "RUNNING");
	assert_string_equal(monitor_status_of("{\"status\": {\"a\": 1}}"), "TERMINAL");
	assert_string_equal(monitor_status_of("{\"status\": null}"), "TERMINAL");
	assert_string_equal(monitor_status_of("{\"other\": 1}"), "TERMINAL");
	assert_string_equal(monitor_status_of("not json"), "TERMINAL");

	srv_reply(200, NULL, "{\"status\": \"FAILED\"}");
	r = run("monitorWebhook", monitor_ctx("$.status"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "FAILED"));
	assert_non_null(strstr(r.error, "terminalStatuses"));
	release(&r);

	/* booleans are compared as TRUE / FALSE */
	srv_reply(200, NULL, "{\"done\": true}");
	json_t *c = monitor_ctx("$.done");
	json_object_set_new(c, "successStatuses", json_string("true"));
	r = run("monitorWebhook", c);
	assert_string_equal(r.status, "SUCCEEDED");
	release(&r);
}

static void
test_monitor_percent_and_progress(void **state)
{
	(void)state;
	srv_reply(200, NULL, "{\"job\": {\"pct\": 50, \"msg\": \"half way\"}}");
	json_t *c = monitor_ctx("$.job.pct");
	json_object_set_new(c, "progressJsonPath", json_string("job.msg"));
	mz_task_result r = run("monitorWebhook", c);
	assert_string_equal(r.status, "RUNNING");
	json_t *mon = mz_json_obj(webhook_of(&r), "monitor");
	assert_int_equal(mz_json_int(mon, "percentComplete", -1), 50);
	assert_string_equal(mz_json_str(mon, "progressMessage"), "half way");
	assert_int_equal(r.backoff_ms, 0); /* the task's 1 s */
	release(&r);

	/* after a minute of polling, every 15 s */
	r = run_at("monitorWebhook", monitor_ctx("$.job.pct"), 61000);
	assert_string_equal(r.status, "RUNNING");
	assert_int_equal(r.backoff_ms, 15000);
	release(&r);

	srv_reply(200, NULL, "{\"job\": {\"pct\": 100}}");
	r = run("monitorWebhook", monitor_ctx("$.job.pct"));
	assert_string_equal(r.status, "SUCCEEDED");
	assert_int_equal(mz_json_int(mz_json_obj(webhook_of(&r), "monitor"), "percentComplete", -1),
	                 100);
	release(&r);

	/* no statusJsonPath: any successful answer completes */
	c = monitor_ctx("$.x");
	json_object_del(c, "statusJsonPath");
	srv_reply(200, NULL, "whatever");
	r = run("monitorWebhook", c);
	assert_string_equal(r.status, "SUCCEEDED");
	release(&r);
}

static void
test_monitor_http_errors(void **state)
{
	(void)state;
	srv_reply(503, NULL, "busy");
	mz_task_result r = run("monitorWebhook", monitor_ctx("$.status"));
	assert_string_equal(r.status, "RUNNING");
	release(&r);

	srv_reply(404, NULL, "gone");
	r = run("monitorWebhook", monitor_ctx("$.status"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "404"));
	assert_non_null(strstr(r.error, "gone"));
	release(&r);

	json_t *c = monitor_ctx("$.status");
	json_object_set_new(c, "retryStatusCodes", json_pack("[i]", 404));
	r = run("monitorWebhook", c);
	assert_string_equal(r.status, "RUNNING");
	release(&r);

	/* retries {code: {maxAttempts}}: counted in pastStatusCodes */
	c = monitor_ctx("$.status");
	json_object_set_new(c, "retries", json_pack("{s:{s:i}}", "404", "maxAttempts", 2));
	r = run("monitorWebhook", json_deep_copy(c));
	assert_string_equal(r.status, "RUNNING");
	json_t *past = mz_json_arr(mz_json_obj(webhook_of(&r), "monitor"), "pastStatusCodes");
	assert_int_equal(json_array_size(past), 1);
	assert_int_equal(json_integer_value(json_array_get(past, 0)), 404);
	json_object_set(c, "webhook", webhook_of(&r)); /* as the engine merges it */
	release(&r);
	r = run("monitorWebhook", c);
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "after 2 attempts"));
	release(&r);

	/* unreachable: retry */
	c = monitor_ctx("$.status");
	char *u = mz_asprintf("http://127.0.0.1:%d/s", closed_port());
	json_object_set_new(c, "statusEndpoint", json_string(u));
	free(u);
	r = run("monitorWebhook", c);
	assert_string_equal(r.status, "RUNNING");
	release(&r);

	r = run("monitorWebhook", json_pack("{s:s}", "statusJsonPath", "$.s"));
	assert_string_equal(r.status, "TERMINAL");
	assert_non_null(strstr(r.error, "statusEndpoint"));
	release(&r);
}

/* ---- waitBeforeMonitorWebhook and the plan ----------------------------- */

static void
test_wait_before_monitor(void **state)
{
	(void)state;
	mz_task_result r = run_at("waitBeforeMonitorWebhook",
	                          json_pack("{s:i}", "waitBeforeMonitor", 5), 1000);
	assert_string_equal(r.status, "RUNNING");
	assert_in_range(r.backoff_ms, 3900, 4000);
	release(&r);
	r = run_at("waitBeforeMonitorWebhook", json_pack("{s:s}", "waitBeforeMonitor", "5"), 5000);
	assert_string_equal(r.status, "SUCCEEDED");
	release(&r);
}

/* The plan for a stage context, as "task,task,..." ("error: ..." on failure). */
static char *
plan_of(json_t *context)
{
	json_t *exec = json_pack("{s:s, s:[]}", "id", "01HEXEC", "stages");
	json_t *stage = json_pack("{s:s, s:s, s:s, s:o}", "id", "01HSTAGE", "refId", "1", "type",
	                          "webhook", "context", context);
	const mz_stage_def *def = mz_engine_stage_def("webhook");
	mz_plan p;
	mz_err err = {0};
	mz_buf out;
	assert_non_null(def);
	mz__plan_init(&p, NULL, exec, stage);
	mz_buf_init(&out, 4096);
	if (def->plan(&p, &err) != MZ_OK) {
		mz_buf_printf(&out, "error: %s", err.msg);
	} else {
		assert_int_equal(mz__plan_build_tasks(&p, &err), MZ_OK);
		size_t i;
		json_t *t;
		json_array_foreach(json_object_get(stage, "tasks"), i, t)
			mz_buf_printf(&out, "%s%s", i ? "," : "", mz_json_str(t, "name"));
	}
	mz__plan_release(&p);
	json_decref(exec);
	json_decref(stage);
	return mz_buf_detach(&out, NULL);
}

static void
test_plan(void **state)
{
	(void)state;
	char *s;
	s = plan_of(json_pack("{s:s}", "url", "http://x"));
	assert_string_equal(s, "createWebhook");
	free(s);
	s = plan_of(json_pack("{s:s, s:b}", "url", "http://x", "waitForCompletion", 1));
	assert_string_equal(s, "createWebhook,monitorWebhook");
	free(s);
	s = plan_of(json_pack("{s:s, s:s, s:i}", "url", "http://x", "waitForCompletion", "true",
	                      "waitBeforeMonitor", 30));
	assert_string_equal(s, "createWebhook,waitBeforeMonitorWebhook,monitorWebhook");
	free(s);
	s = plan_of(json_pack("{s:b, s:b}", "monitorOnly", 1, "waitForCompletion", 1));
	assert_string_equal(s, "monitorWebhook");
	free(s);
	s = plan_of(json_pack("{s:b}", "monitorOnly", 1));
	assert_non_null(strstr(s, "error: "));
	free(s);

	const mz_task_def *t = mz_engine_task_def("createWebhook");
	assert_int_equal(t->flags, MZ_TASK_EXTERNAL | MZ_TASK_RETRYABLE);
	assert_int_equal(t->backoff_ms, 10000);
	assert_int_equal(t->timeout_ms, 300000);
	t = mz_engine_task_def("monitorWebhook");
	assert_true(t->flags & MZ_TASK_TIMEOUT_OVERRIDABLE);
	assert_int_equal(t->timeout_ms, 3600000);
	t = mz_engine_task_def("waitBeforeMonitorWebhook");
	assert_false(t->flags & MZ_TASK_EXTERNAL);
}

/* ---- JSONPath ---------------------------------------------------------- */

static void
test_jsonpath(void **state)
{
	(void)state;
	json_t *doc = json_loads("{\"status\": \"OK\", \"data\": {\"items\": [{\"state\": \"A\"}, "
	                         "{\"state\": \"B\"}]}, \"a.b\": 1, \"n\": null, \"it's\": 2, "
	                         "\"arr\": [[10, 11]]}",
	                         0, NULL);
	static const struct {
		const char *path;
		const char *want; /* compact JSON; NULL: not found; "!": syntax error */
	} cases[] = {
		{"$.status", "\"OK\""},
		{"status", "\"OK\""},
		{"  $.status ", "\"OK\""},
		{"$.data.items[0].state", "\"A\""},
		{"data.items[1].state", "\"B\""},
		{"$['data']['items'][-1]['state']", "\"B\""},
		{"$[\"data\"].items[ 0 ].state", "\"A\""},
		{"['status']", "\"OK\""},
		{"$['a.b']", "1"},
		{"$['it\\'s']", "2"},
		{"$.arr[0][1]", "11"},
		{"$.n", "null"},
		{"$.data.items[0]", "{\"state\":\"A\"}"},
		{"$.nope", NULL},
		{"$.data.items[2]", NULL},
		{"$.data.items[-3]", NULL},
		{"$.status.x", NULL},
		{"$.status[0]", NULL},
		{"$.data['items'].state", NULL},
		{"$..status", "!"},
		{"$.data.items[*]", "!"},
		{"$.data.items[0", "!"},
		{"$.data.", "!"},
		{"$['x", "!"},
		{"$.x]", "!"},
		{"$.a b", "!"},
		{"", "!"},
		{"$[-]", "!"},
	};
	json_t *v = mz__jsonpath_get(doc, "$", NULL);
	assert_ptr_equal(v, doc);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mz_err err = {0};
		v = mz__jsonpath_get(doc, cases[i].path, &err);
		if (!cases[i].want) {
			if (v || err.code != MZ_ENOTFOUND)
				fail_msg("'%s': expected not found, got code %d", cases[i].path,
				         err.code);
		} else if (strcmp(cases[i].want, "!") == 0) {
			if (v || err.code != MZ_EINVAL)
				fail_msg("'%s': expected a syntax error, got code %d", cases[i].path,
				         err.code);
		} else {
			if (!v)
				fail_msg("'%s': %s", cases[i].path, err.msg);
			char *got = mz_json_dump(v);
			if (strcmp(got, cases[i].want) != 0)
				fail_msg("'%s': got %s, want %s", cases[i].path, got, cases[i].want);
			free(got);
		}
	}
	assert_null(mz__jsonpath_get(NULL, "$.x", NULL));
	json_decref(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsonpath),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_create_post_ok),
		cmocka_unit_test(test_create_get_no_body),
		cmocka_unit_test(test_create_retry_codes),
		cmocka_unit_test(test_create_client_error_terminal),
		cmocka_unit_test(test_create_fail_fast),
		cmocka_unit_test(test_create_connection_refused),
		cmocka_unit_test(test_create_outbound_policy),
		cmocka_unit_test(test_create_bad_config),
		cmocka_unit_test(test_create_response_too_large),
		cmocka_unit_test(test_status_url_resolution),
		cmocka_unit_test(test_monitor_statuses),
		cmocka_unit_test(test_monitor_percent_and_progress),
		cmocka_unit_test(test_monitor_http_errors),
		cmocka_unit_test(test_wait_before_monitor),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
