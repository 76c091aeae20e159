/*
 * test_httpc.c - the outbound HTTP client against tiny loopback servers:
 * responses, headers, size caps, timeouts, sinks, redirects, and the
 * outbound policy (link-local addresses and the server's own address
 * refused on the address actually connected to, by name and after a
 * redirect; outbound.allow lets them through).
 *
 * Each server is a thread with a listening socket on 127.0.0.1 that answers
 * every connection with one scripted raw response (or holds it open without
 * answering) and counts the requests it read.
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
#include <unistd.h>

#include "httpc/httpc.h"

typedef struct tiny {
	int fd, port;
	pthread_t thread;
	atomic_bool stop;
	atomic_int nreq;
	atomic_bool silent; /* read the request, never answer */
	pthread_mutex_t mu;
	char *reply;        /* raw response bytes */
	size_t reply_len;
	char last[4096];    /* the last request's head */
} tiny;

static tiny a_srv, b_srv;

static void
tiny_reply(tiny *t, const char *status_line, const char *headers, const char *body,
           size_t body_len)
{
	pthread_mutex_lock(&t->mu);
	free(t->reply);
	char *head = mz_asprintf("HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
	                         status_line, body_len, headers ? headers : "");
	size_t hl = strlen(head);
	t->reply = malloc(hl + body_len);
	memcpy(t->reply, head, hl);
	memcpy(t->reply + hl, body, body_len);
	t->reply_len = hl + body_len;
	free(head);
	pthread_mutex_unlock(&t->mu);
}

static void
tiny_handle(tiny *t, int c)
{
	char buf[8192];
	size_t len = 0;
	while (len < sizeof(buf) - 1) {
		struct pollfd p = {.fd = c, .events = POLLIN};
		if (poll(&p, 1, 2000) <= 0)
			return;
		ssize_t n = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	atomic_fetch_add(&t->nreq, 1);
	pthread_mutex_lock(&t->mu);
	snprintf(t->last, sizeof(t->last), "%.4000s", buf);
	char *reply = malloc(t->reply_len);
	size_t rlen = t->reply_len;
	memcpy(reply, t->reply, rlen);
	pthread_mutex_unlock(&t->mu);
	if (atomic_load(&t->silent)) {
		/* hold the connection until the client gives up */
		struct pollfd p = {.fd = c, .events = POLLIN};
		poll(&p, 1, 5000);
	} else {
		for (size_t off = 0; off < rlen;) {
			ssize_t n = send(c, reply + off, rlen - off, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
	}
	free(reply);
}

static void *
tiny_main(void *arg)
{
	tiny *t = arg;
	while (!atomic_load(&t->stop)) {
		struct pollfd p = {.fd = t->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(t->fd, NULL, NULL);
		if (c < 0)
			continue;
		tiny_handle(t, c);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

static int
tiny_start(tiny *t)
{
	pthread_mutex_init(&t->mu, NULL);
	t->fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(t->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (bind(t->fd, (struct sockaddr *)&a, sizeof(a)) || listen(t->fd, 16))
		return -1;
	getsockname(t->fd, (struct sockaddr *)&a, &al);
	t->port = ntohs(a.sin_port);
	tiny_reply(t, "200 OK", NULL, "", 0);
	return pthread_create(&t->thread, NULL, tiny_main, t);
}

static void
tiny_stop(tiny *t)
{
	atomic_store(&t->stop, true);
	pthread_join(t->thread, NULL);
	close(t->fd);
	free(t->reply);
}

static int
setup(void **state)
{
	(void)state;
	mz_log_set_level(MZ_LOG_WARN);
	if (mz_httpc_global_init(NULL) != MZ_OK)
		return -1;
	if (tiny_start(&a_srv) || tiny_start(&b_srv))
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tiny_stop(&a_srv);
	tiny_stop(&b_srv);
	return 0;
}

/* Each test starts from the default policy: no own address, nothing allowed. */
static int
reset_policy(void **state)
{
	(void)state;
	atomic_store(&a_srv.silent, false);
	atomic_store(&b_srv.silent, false);
	return mz_httpc_set_policy(NULL, 0, NULL, NULL) == MZ_OK ? 0 : -1;
}

static char *
url_of(const tiny *t, const char *host, const char *path)
{
	return mz_asprintf("http://%s:%d%s", host, t->port, path);
}

/* ---- responses ---------------------------------------------------------- */

static void
test_get_status_headers_body(void **state)
{
	(void)state;
	tiny_reply(&a_srv, "201 Created", "X-Thing: one\r\nX-Thing: two\r\nContent-Type: application/json\r\n",
	           "{\"ok\": true}", 12);
	char *u = url_of(&a_srv, "127.0.0.1", "/p?q=1");
	const char *hdrs[] = {"X-Custom: yes", NULL};
	mz_httpc_req rq = {.method = "POST", .url = u, .headers = hdrs, .body = "{}", .body_len = 2,
	                   .idempotency_key = "k-1"};
	mz_httpc_resp rs;
	mz_err err = {0};
	assert_int_equal(mz_httpc_do(&rq, &rs, &err), MZ_OK);
	assert_int_equal(rs.status, 201);
	assert_int_equal(rs.fail, MZ_HTTPC_OK);
	assert_string_equal(rs.body.data, "{\"ok\": true}");
	assert_string_equal(mz_httpc_header(&rs, "x-thing"), "one");
	assert_int_equal(json_array_size(json_object_get(rs.headers, "X-Thing")), 2);
	json_t *b = mz_httpc_body_json(&rs);
	assert_true(json_is_true(json_object_get(b, "ok")));
	json_decref(b);
	pthread_mutex_lock(&a_srv.mu);
	bool sent = strstr(a_srv.last, "POST /p?q=1 HTTP/1.1") && strstr(a_srv.last, "X-Custom: yes") &&
	            strstr(a_srv.last, "Idempotency-Key: k-1") && !strstr(a_srv.last, "Expect:");
	pthread_mutex_unlock(&a_srv.mu);
	assert_true(sent);
	mz_httpc_resp_release(&rs);
	free(u);
}

static void
test_bad_requests(void **state)
{
	(void)state;
	mz_httpc_resp rs;
	mz_err err = {0};
	mz_httpc_req rq = {.url = "file:///etc/passwd"};
	assert_int_equal(mz_httpc_do(&rq, &rs, &err), MZ_EINVAL);
	assert_int_equal(rs.fail, MZ_HTTPC_BAD_REQUEST);
	assert_true(mz_httpc_unsent(&rs));
	mz_httpc_resp_release(&rs);

	char *u = url_of(&a_srv, "127.0.0.1", "/");
	const char *evil[] = {"X-A: b\r\nX-Injected: 1", NULL};
	mz_httpc_req rq2 = {.url = u, .headers = evil};
	int before = atomic_load(&a_srv.nreq);
	assert_int_equal(mz_httpc_do(&rq2, &rs, &err), MZ_EINVAL);
	assert_int_equal(rs.fail, MZ_HTTPC_BAD_REQUEST);
	assert_int_equal(atomic_load(&a_srv.nreq), before);
	mz_httpc_resp_release(&rs);
	free(u);
}

static void
test_body_cap(void **state)
{
	(void)state;
	size_t n = 300000;
	char *big = malloc(n);
	memset(big, 'x', n);
	tiny_reply(&a_srv, "200 OK", NULL, big, n);
	char *u = url_of(&a_srv, "127.0.0.1", "/big");
	mz_httpc_req rq = {.url = u, .max_body = 1000};
	mz_httpc_resp rs;
	mz_err err = {0};
	assert_int_not_equal(mz_httpc_do(&rq, &rs, &err), MZ_OK);
	assert_int_equal(rs.fail, MZ_HTTPC_TOO_LARGE);
	assert_non_null(strstr(rs.error, "larger than 1000 bytes"));
	assert_true(rs.body.len <= 1000);
	mz_httpc_resp_release(&rs);

	/* the default cap is on without asking: 1 MiB */
	free(big);
	n = MZ_HTTPC_DEFAULT_MAX_BODY + 10;
	big = malloc(n);
	memset(big, 'y', n);
	tiny_reply(&a_srv, "200 OK", NULL, big, n);
	mz_httpc_req rq2 = {.url = u};
	assert_int_not_equal(mz_httpc_do(&rq2, &rs, &err), MZ_OK);
	assert_int_equal(rs.fail, MZ_HTTPC_TOO_LARGE);
	mz_httpc_resp_release(&rs);
	free(big);
	free(u);
}

static void
test_header_cap(void **state)
{
	(void)state;
	mz_buf h;
	mz_buf_init(&h, 0);
	for (int i = 0; i < 2000; i++)
		mz_buf_printf(&h, "X-Pad-%d: %040d\r\n", i, i);
	tiny_reply(&a_srv, "200 OK", h.data, "ok", 2);
	mz_buf_release(&h);
	char *u = url_of(&a_srv, "127.0.0.1", "/");
	mz_httpc_req rq = {.url = u};
	mz_httpc_resp rs;
	assert_int_not_equal(mz_httpc_do(&rq, &rs, NULL), MZ_OK);
	assert_int_equal(rs.fail, MZ_HTTPC_TOO_LARGE);
	mz_httpc_resp_release(&rs);
	free(u);
}

static void
test_timeout(void **state)
{
	(void)state;
	atomic_store(&a_srv.silent, true);
	char *u = url_of(&a_srv, "127.0.0.1", "/slow");
	mz_httpc_req rq = {.url = u, .timeout_ms = 300};
	mz_httpc_resp rs;
	mz_err err = {0};
	int64_t t0 = mz_mono_ms();
	assert_int_equal(mz_httpc_do(&rq, &rs, &err), MZ_ETIMEOUT);
	int64_t took = mz_mono_ms() - t0;
	assert_int_equal(rs.fail, MZ_HTTPC_TIMEOUT);
	assert_false(mz_httpc_unsent(&rs)); /* the request went out */
	assert_true(took >= 250 && took < 3000);
	mz_httpc_resp_release(&rs);
	free(u);
}

static void
test_connection_refused(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	char *u = mz_asprintf("http://127.0.0.1:%d/", ntohs(a.sin_port));
	mz_httpc_req rq = {.url = u};
	mz_httpc_resp rs;
	assert_int_equal(mz_httpc_do(&rq, &rs, NULL), MZ_EIO);
	assert_int_equal(rs.fail, MZ_HTTPC_CONNECT);
	assert_true(mz_httpc_unsent(&rs));
	mz_httpc_resp_release(&rs);
	free(u);
}

static void
test_sink(void **state)
{
	(void)state;
	tiny_reply(&a_srv, "200 OK", NULL, "file contents", 13);
	char *u = url_of(&a_srv, "127.0.0.1", "/f");
	char *content = NULL;
	size_t clen = 0;
	FILE *f = open_memstream(&content, &clen);
	mz_httpc_req rq = {.url = u, .sink = f};
	mz_httpc_resp rs;
	assert_int_equal(mz_httpc_do(&rq, &rs, NULL), MZ_OK);
	fclose(f);
	assert_int_equal(rs.body.len, 0);
	assert_int_equal(rs.body_bytes, 13);
	assert_string_equal(content, "file contents");
	mz_httpc_resp_release(&rs);
	free(content);
	free(u);
}

/* ---- the outbound policy ------------------------------------------------ */

static bool
allowed4(const char *ip, int port, char *why, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	return mz_httpc_policy_allows((struct sockaddr *)&a, why, cap);
}

static bool
allowed6(const char *ip, int port)
{
	char why[300];
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return mz_httpc_policy_allows((struct sockaddr *)&a, why, sizeof(why));
}

static void
test_policy_addresses(void **state)
{
	(void)state;
	char why[300];
	assert_int_equal(mz_httpc_set_policy("127.0.0.1", 8084, NULL, NULL), MZ_OK);
	assert_false(allowed4("169.254.169.254", 80, why, sizeof(why)));
	assert_non_null(strstr(why, "link-local"));
	assert_non_null(strstr(why, "\"outbound\": {\"allow\": [\"169.254.169.254/32\"]}"));
	assert_false(allowed4("169.254.0.1", 8080, why, sizeof(why)));
	assert_true(allowed4("169.253.255.255", 80, why, sizeof(why)));
	assert_false(allowed6("fe80::1", 80));
	assert_false(allowed6("febf::1", 80));
	assert_true(allowed6("fec0::1", 80));
	assert_false(allowed6("::ffff:169.254.169.254", 80)); /* IPv4-mapped */
	assert_false(allowed6("fd00:ec2::254", 80));
	/* our own address: exactly, and 0.0.0.0, which reaches this host */
	assert_false(allowed4("127.0.0.1", 8084, why, sizeof(why)));
	assert_non_null(strstr(why, "own listen address"));
	assert_false(allowed4("0.0.0.0", 8084, why, sizeof(why)));
	assert_false(allowed6("::ffff:127.0.0.1", 8084));
	assert_true(allowed4("127.0.0.1", 8085, why, sizeof(why)));
	assert_true(allowed4("127.0.0.2", 8084, why, sizeof(why))); /* not bound there */
	assert_true(allowed4("10.1.2.3", 443, why, sizeof(why)));

	/* a wildcard listener is reachable on every local address */
	assert_int_equal(mz_httpc_set_policy("0.0.0.0", 8084, NULL, NULL), MZ_OK);
	assert_false(allowed4("127.0.0.1", 8084, why, sizeof(why)));
	assert_false(allowed4("127.3.0.1", 8084, why, sizeof(why)));
	assert_true(allowed4("127.0.0.1", 9, why, sizeof(why)));

	/* outbound.allow */
	json_t *allow = json_pack("[s, s, s]", "169.254.169.254/32", "fe80::/16", "127.0.0.1");
	assert_int_equal(mz_httpc_set_policy("127.0.0.1", 8084, allow, NULL), MZ_OK);
	json_decref(allow);
	assert_true(allowed4("169.254.169.254", 80, why, sizeof(why)));
	assert_false(allowed4("169.254.169.253", 80, why, sizeof(why)));
	assert_true(allowed6("fe80::1", 80));
	assert_true(allowed4("127.0.0.1", 8084, why, sizeof(why)));

	/* malformed lists are refused, naming the entry */
	mz_err err = {0};
	const char *bad[] = {"[\"10.0.0.0/33\"]", "[\"nonsense\"]", "[42]", "{\"a\": 1}", "[\"::/129\"]",
	                     "[\"1.2.3.4/\"]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = json_loads(bad[i], 0, NULL);
		assert_int_equal(mz_httpc_set_policy("127.0.0.1", 8084, v, &err), MZ_EINVAL);
		assert_non_null(strstr(err.msg, "outbound.allow"));
		json_decref(v);
	}
}

/* Our own address refused over a real connection attempt: by address and
 * by a name that resolves to it; nothing reaches the server. */
static void
test_policy_refuses_own_address(void **state)
{
	(void)state;
	assert_int_equal(mz_httpc_set_policy("127.0.0.1", a_srv.port, NULL, NULL), MZ_OK);
	int before = atomic_load(&a_srv.nreq);
	const char *hosts[] = {"127.0.0.1", "localhost", "0.0.0.0"};
	for (size_t i = 0; i < 3; i++) {
		char *u = url_of(&a_srv, hosts[i], "/api");
		mz_httpc_req rq = {.url = u};
		mz_httpc_resp rs;
		mz_err err = {0};
		assert_int_equal(mz_httpc_do(&rq, &rs, &err), MZ_EINVAL);
		assert_int_equal(rs.fail, MZ_HTTPC_POLICY);
		assert_true(mz_httpc_unsent(&rs));
		assert_non_null(strstr(err.msg, "outbound policy"));
		assert_non_null(strstr(err.msg, "own listen address"));
		mz_httpc_resp_release(&rs);
		free(u);
	}
	assert_int_equal(atomic_load(&a_srv.nreq), before);

	/* a trusted call (the CLI, a health check) is not subject to it */
	char *u = url_of(&a_srv, "127.0.0.1", "/api");
	mz_httpc_req rq = {.url = u, .trusted = true};
	mz_httpc_resp rs;
	assert_int_equal(mz_httpc_do(&rq, &rs, NULL), MZ_OK);
	mz_httpc_resp_release(&rs);

	/* ...and outbound.allow lets it through */
	json_t *allow = json_pack("[s]", "127.0.0.0/8");
	assert_int_equal(mz_httpc_set_policy("127.0.0.1", a_srv.port, allow, NULL), MZ_OK);
	json_decref(allow);
	mz_httpc_req rq2 = {.url = u};
	assert_int_equal(mz_httpc_do(&rq2, &rs, NULL), MZ_OK);
	assert_int_equal(rs.status, 200);
	mz_httpc_resp_release(&rs);
	free(u);
}

/* A redirect is checked like the first address: server A (allowed) sends
 * the client to server B (our own address) or to a metadata address. */
static void
test_policy_rechecks_redirects(void **state)
{
	(void)state;
	assert_int_equal(mz_httpc_set_policy("127.0.0.1", b_srv.port, NULL, NULL), MZ_OK);
	char *loc = mz_asprintf("Location: http://localhost:%d/secret\r\n", b_srv.port);
	tiny_reply(&a_srv, "302 Found", loc, "", 0);
	free(loc);
	char *u = url_of(&a_srv, "127.0.0.1", "/go");
	int before = atomic_load(&b_srv.nreq);
	mz_httpc_req rq = {.url = u, .follow_redirects = true};
	mz_httpc_resp rs;
	assert_int_not_equal(mz_httpc_do(&rq, &rs, NULL), MZ_OK);
	assert_int_equal(rs.fail, MZ_HTTPC_POLICY);
	assert_int_equal(atomic_load(&b_srv.nreq), before);
	mz_httpc_resp_release(&rs);

	tiny_reply(&a_srv, "307 Temporary Redirect",
	           "Location: http://169.254.169.254/latest/meta-data/\r\n", "", 0);
	assert_int_not_equal(mz_httpc_do(&rq, &rs, NULL), MZ_OK);
	assert_int_equal(rs.fail, MZ_HTTPC_POLICY);
	assert_non_null(strstr(rs.error, "link-local"));
	mz_httpc_resp_release(&rs);

	/* without follow_redirects the 3xx is the answer */
	mz_httpc_req rq2 = {.url = u};
	assert_int_equal(mz_httpc_do(&rq2, &rs, NULL), MZ_OK);
	assert_int_equal(rs.status, 307);
	assert_non_null(mz_httpc_header(&rs, "location"));
	mz_httpc_resp_release(&rs);

	/* an allowed redirect is followed, and the final headers are B's */
	assert_int_equal(mz_httpc_set_policy(NULL, 0, NULL, NULL), MZ_OK);
	loc = mz_asprintf("Location: http://127.0.0.1:%d/there\r\n", b_srv.port);
	tiny_reply(&a_srv, "302 Found", loc, "", 0);
	free(loc);
	tiny_reply(&b_srv, "200 OK", "X-From: b\r\n", "b", 1);
	assert_int_equal(mz_httpc_do(&rq, &rs, NULL), MZ_OK);
	assert_int_equal(rs.status, 200);
	assert_string_equal(mz_httpc_header(&rs, "X-From"), "b");
	assert_null(mz_httpc_header(&rs, "Location"));
	mz_httpc_resp_release(&rs);
	free(u);
}

static void
test_url_helpers(void **state)
{
	(void)state;
	char *e = mz_httpc_escape("a b/c?d");
	assert_string_equal(e, "a%20b%2Fc%3Fd");
	free(e);
	char *r = mz_httpc_url_resolve("https://h.example/a/b", "../c?x=1", false);
	assert_string_equal(r, "https://h.example/c?x=1");
	free(r);
	r = mz_httpc_url_resolve("https://h.example/a", "http://h.example/s", true);
	assert_string_equal(r, "https://h.example/s");
	free(r);
	r = mz_httpc_url_resolve("https://h.example/a", "http://other.example/s", true);
	assert_string_equal(r, "http://other.example/s");
	free(r);
	assert_null(mz_httpc_url_resolve("not a url", "x", false));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_get_status_headers_body, reset_policy),
		cmocka_unit_test_setup(test_bad_requests, reset_policy),
		cmocka_unit_test_setup(test_body_cap, reset_policy),
		cmocka_unit_test_setup(test_header_cap, reset_policy),
		cmocka_unit_test_setup(test_timeout, reset_policy),
		cmocka_unit_test_setup(test_connection_refused, reset_policy),
		cmocka_unit_test_setup(test_sink, reset_policy),
		cmocka_unit_test_setup(test_policy_addresses, reset_policy),
		cmocka_unit_test_setup(test_policy_refuses_own_address, reset_policy),
		cmocka_unit_test_setup(test_policy_rechecks_redirects, reset_policy),
		cmocka_unit_test_setup(test_url_helpers, reset_policy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
