/* test_events.c - unit tests of src/events: SHA-256 and HMAC-SHA256 against
 * the FIPS 180-4 and RFC 4231 vectors, Quartz cron parsing and next fire
 * times (in UTC), and Echo's trigger matching rules, each table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/events.h"

/* ---- SHA-256 / HMAC ------------------------------------------------------- */

static void
test_sha256(void **state)
{
	static const struct {
		const char *in, *hex;
	} cases[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char d[32];
		char hex[65];
		mz_sha256(cases[i].in, strlen(cases[i].in), d);
		mz_hex(d, 32, hex);
		assert_string_equal(hex, cases[i].hex);
	}
	/* a million 'a's, fed across block boundaries */
	char *m = malloc(1000000);
	memset(m, 'a', 1000000);
	unsigned char d[32];
	char hex[65];
	mz_sha256(m, 1000000, d);
	mz_hex(d, 32, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(m);
}

static void
test_hmac(void **state)
{
	unsigned char d[32];
	char hex[65];
	unsigned char key1[20];
	memset(key1, 0x0b, sizeof(key1));
	mz_hmac_sha256(key1, 20, "Hi There", 8, d);
	mz_hex(d, 32, hex);
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	mz_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
	mz_hex(d, 32, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* RFC 4231 case 6: a key longer than the block */
	unsigned char key6[131];
	memset(key6, 0xaa, sizeof(key6));
	const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
	mz_hmac_sha256(key6, sizeof(key6), msg, strlen(msg), d);
	mz_hex(d, 32, hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

	const char *body = "{\"x\":1}";
	mz_hmac_sha256("sec", 3, body, strlen(body), d);
	mz_hex(d, 32, hex);
	char header[80];
	snprintf(header, sizeof(header), "sha256=%s", hex);
	assert_true(mz_signature_ok("sec", body, strlen(body), header));
	for (char *p = header; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_true(mz_signature_ok("sec", body, strlen(body), header)); /* case-insensitive */
	assert_false(mz_signature_ok("other", body, strlen(body), header));
	assert_false(mz_signature_ok("sec", body, strlen(body), "sha256=abc"));
	assert_false(mz_signature_ok("sec", body, strlen(body), NULL));
	assert_false(mz_signature_ok(NULL, body, strlen(body), header));
}

/* ---- cron --------------------------------------------------------------------- */

static int64_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
	                .tm_min = mi, .tm_sec = s};
	return (int64_t)timegm(&tm) * 1000;
}

static void
test_cron_next(void **state)
{
	static const struct {
		const char *expr;
		int from[6];
		int want[6];
	} cases[] = {
		{"*/2 * * * * ?", {2024, 5, 1, 10, 0, 0}, {2024, 5, 1, 10, 0, 2}},
		{"*/2 * * * * ?", {2024, 5, 1, 10, 0, 1}, {2024, 5, 1, 10, 0, 2}},
		{"0 0 12 * * ?", {2024, 5, 1, 12, 0, 0}, {2024, 5, 2, 12, 0, 0}},
		{"0 15 10 ? * MON-FRI", {2024, 5, 3, 11, 0, 0}, {2024, 5, 6, 10, 15, 0}}, /* Fri -> Mon */
		{"0 0/5 14 * * ?", {2024, 5, 1, 14, 7, 0}, {2024, 5, 1, 14, 10, 0}},
		{"0 0/5 14 * * ?", {2024, 5, 1, 14, 56, 0}, {2024, 5, 2, 14, 0, 0}},
		{"0 10,44 14 ? 3 WED", {2024, 1, 1, 0, 0, 0}, {2024, 3, 6, 14, 10, 0}},
		{"0 0 0 L * ?", {2024, 2, 10, 0, 0, 0}, {2024, 2, 29, 0, 0, 0}},                /* leap */
		{"0 0 0 L * ?", {2023, 2, 10, 0, 0, 0}, {2023, 2, 28, 0, 0, 0}},
		{"0 0 10 ? * 6L", {2024, 5, 1, 0, 0, 0}, {2024, 5, 31, 10, 0, 0}},              /* last Friday */
		{"0 0 10 ? * 2#1", {2024, 5, 1, 0, 0, 0}, {2024, 5, 6, 10, 0, 0}},              /* first Monday */
		{"0 0 0 29 2 ?", {2024, 3, 1, 0, 0, 0}, {2028, 2, 29, 0, 0, 0}},
		{"0 30 9 1 JAN-MAR ? 2025", {2024, 5, 1, 0, 0, 0}, {2025, 1, 1, 9, 30, 0}},
		{"59 59 23 31 12 ?", {2024, 12, 31, 23, 59, 58}, {2024, 12, 31, 23, 59, 59}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mz_cron *c = NULL;
		mz_err err = {0};
		if (mz_cron_parse(cases[i].expr, "t", &c, &err) != MZ_OK)
			fail_msg("%s: %s", cases[i].expr, err.msg);
		const int *f = cases[i].from, *w = cases[i].want;
		int64_t got = mz_cron_next(c, utc(f[0], f[1], f[2], f[3], f[4], f[5]));
		int64_t want = utc(w[0], w[1], w[2], w[3], w[4], w[5]);
		if (got != want)
			fail_msg("%s: got %lld, want %lld", cases[i].expr, (long long)got, (long long)want);
		mz_cron_free(c);
	}
}

static void
test_cron_invalid(void **state)
{
	static const char *const bad[] = {
		"", "* * * * *", "* * * * * * * *", "60 * * * * ?", "* 60 * * * ?", "* * 24 * * ?",
		"* * * 32 * ?", "* * * * 13 ?", "* * * ? * 8", "* * * * * *", "* * * ? * ?",
		"*/0 * * * * ?", "a * * * * ?", "5-1 * * * * ?", "? * * * * ?", "* * * * FOO ?",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mz_cron *c = NULL;
		mz_err err = {0};
		if (mz_cron_parse(bad[i], "t", &c, &err) == MZ_OK)
			fail_msg("'%s' parsed", bad[i]);
		assert_true(err.msg[0] != '\0');
	}
	/* H: hashed from the salt (Java hashCode), stable */
	mz_cron *a = NULL, *b = NULL;
	assert_int_equal(mz_cron_parse("H H * * * ?", "trigger-1", &a, NULL), MZ_OK);
	assert_int_equal(mz_cron_parse("H H * * * ?", "trigger-1", &b, NULL), MZ_OK);
	int64_t from = utc(2024, 5, 1, 0, 0, 0);
	assert_int_equal(mz_cron_next(a, from), mz_cron_next(b, from));
	int64_t next = mz_cron_next(a, from);
	assert_true(next > from && next <= from + 3600 * 1000);
	mz_cron_free(a);
	mz_cron_free(b);
}

/* ---- matching ------------------------------------------------------------------- */

typedef struct match_case {
	const char *name;
	const char *pipeline;
	const char *event;
	const char *want; /* NULL: no match; else a JSON object the trigger must contain */
} match_case;

static const match_case match_cases[] = {
	{"webhook passes constraints",
	 "{\"id\":\"p\",\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true,"
	 "\"payloadConstraints\":{\"env\":\"^prod$\"}}]}",
	 "{\"eventId\":\"e1\",\"details\":{\"type\":\"webhook\",\"source\":\"s\"},"
	 "\"content\":{\"env\":\"prod\",\"parameters\":{\"a\":\"1\"}},"
	 "\"payload\":{\"env\":\"prod\",\"parameters\":{\"a\":\"1\"}}}",
	 "{\"type\":\"webhook\",\"eventId\":\"e1\",\"parameters\":{\"a\":\"1\"},"
	 "\"payload\":{\"env\":\"prod\",\"parameters\":{\"a\":\"1\"}}}"},
	{"webhook constraint is a find, not a full match",
	 "{\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true,"
	 "\"payloadConstraints\":{\"v\":\"b.*p\"}}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"payload\":{\"v\":\"boooop!\"}}",
	 "{\"type\":\"webhook\"}"},
	{"webhook constraint fails",
	 "{\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true,"
	 "\"payloadConstraints\":{\"env\":\"^prod$\"}}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"payload\":{\"env\":\"prod2\"}}",
	 NULL},
	{"webhook constraint key missing",
	 "{\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true,"
	 "\"payloadConstraints\":{\"env\":\".*\"}}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"payload\":{}}", NULL},
	{"webhook constraint by JSONPath",
	 "{\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true,"
	 "\"payloadConstraints\":{\"$.a.b[1]\":\"^x$\"}}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"payload\":{\"a\":{\"b\":[\"w\",\"x\"]}}}",
	 "{\"type\":\"webhook\"}"},
	{"webhook invalid regex never matches",
	 "{\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true,"
	 "\"payloadConstraints\":{\"v\":\"(\"}}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"payload\":{\"v\":\"(\"}}", NULL},
	{"webhook source is exact",
	 "{\"triggers\":[{\"type\":\"webhook\",\"source\":\"S\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"payload\":{}}", NULL},
	{"disabled trigger",
	 "{\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":false}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"payload\":{}}", NULL},
	{"disabled pipeline",
	 "{\"disabled\":true,\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"payload\":{}}", NULL},
	{"polled git by url and branch",
	 "{\"triggers\":[{\"type\":\"git\",\"source\":\"git\",\"url\":\"/r\",\"branch\":\"main\","
	 "\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"git\",\"source\":\"git\"},\"content\":{\"url\":\"/r\","
	 "\"branch\":\"main\",\"hash\":\"abc\"}}",
	 "{\"type\":\"git\",\"hash\":\"abc\",\"branch\":\"main\"}"},
	{"polled git, other url",
	 "{\"triggers\":[{\"type\":\"git\",\"source\":\"git\",\"url\":\"/r\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"git\",\"source\":\"git\"},\"content\":{\"url\":\"/other\","
	 "\"branch\":\"main\",\"hash\":\"abc\"}}", NULL},
	{"github project/slug ignore case, branch regex full match",
	 "{\"triggers\":[{\"type\":\"git\",\"source\":\"github\",\"project\":\"Acme\",\"slug\":\"Shop\","
	 "\"branch\":\"rel.*\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"GIT\",\"source\":\"github\"},\"content\":{\"repoProject\":\"acme\","
	 "\"slug\":\"shop\",\"branch\":\"release-1\",\"hash\":\"h\",\"action\":\"push:push\"}}",
	 "{\"hash\":\"h\",\"branch\":\"release-1\",\"project\":\"acme\",\"slug\":\"shop\"}"},
	{"github branch regex is anchored",
	 "{\"triggers\":[{\"type\":\"git\",\"source\":\"github\",\"project\":\"a\",\"slug\":\"s\","
	 "\"branch\":\"main\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"git\",\"source\":\"github\"},\"content\":{\"repoProject\":\"a\","
	 "\"slug\":\"s\",\"branch\":\"not-main\"}}", NULL},
	{"github secret without a signature",
	 "{\"triggers\":[{\"type\":\"git\",\"source\":\"github\",\"project\":\"a\",\"slug\":\"s\","
	 "\"secret\":\"x\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"git\",\"source\":\"github\"},\"content\":{\"repoProject\":\"a\","
	 "\"slug\":\"s\",\"branch\":\"main\"},\"rawContent\":\"{}\"}", NULL},
	{"github events filter",
	 "{\"triggers\":[{\"type\":\"git\",\"source\":\"github\",\"project\":\"a\",\"slug\":\"s\","
	 "\"events\":[\"pull_request:opened\"],\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"git\",\"source\":\"github\"},\"content\":{\"repoProject\":\"a\","
	 "\"slug\":\"s\",\"branch\":\"main\",\"action\":\"push:push\"}}", NULL},
	{"docker tag regex",
	 "{\"triggers\":[{\"type\":\"docker\",\"account\":\"r\",\"repository\":\"t/w\","
	 "\"tag\":\"^v[0-9]+$\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"docker\",\"source\":\"igor\"},\"content\":{\"account\":\"r\","
	 "\"registry\":\"h:5000\",\"repository\":\"t/w\",\"tag\":\"v12\"}}",
	 "{\"tag\":\"v12\",\"artifacts\":[{\"type\":\"docker/image\",\"reference\":\"h:5000/t/w:v12\"}]}"},
	{"docker blank tag skips latest",
	 "{\"triggers\":[{\"type\":\"docker\",\"account\":\"r\",\"repository\":\"t/w\","
	 "\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"docker\"},\"content\":{\"account\":\"r\",\"repository\":\"t/w\","
	 "\"tag\":\"latest\"}}", NULL},
	{"docker other account",
	 "{\"triggers\":[{\"type\":\"docker\",\"account\":\"r\",\"repository\":\"t/w\","
	 "\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"docker\"},\"content\":{\"account\":\"q\",\"repository\":\"t/w\","
	 "\"tag\":\"1\"}}", NULL},
	{"jenkins success with property constraints",
	 "{\"triggers\":[{\"type\":\"jenkins\",\"master\":\"ci\",\"job\":\"j\",\"enabled\":true,"
	 "\"payloadConstraints\":{\"deploy\":\"yes\"}}]}",
	 "{\"details\":{\"type\":\"build\"},\"content\":{\"master\":\"ci\",\"project\":{\"name\":\"j\","
	 "\"lastBuild\":{\"number\":7,\"building\":false,\"result\":\"SUCCESS\","
	 "\"properties\":{\"deploy\":\"yes\"}}}}}",
	 "{\"buildNumber\":7,\"properties\":{\"deploy\":\"yes\"}}"},
	{"jenkins failure does not trigger",
	 "{\"triggers\":[{\"type\":\"jenkins\",\"master\":\"ci\",\"job\":\"j\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"build\"},\"content\":{\"master\":\"ci\",\"project\":{\"name\":\"j\","
	 "\"lastBuild\":{\"number\":7,\"building\":false,\"result\":\"FAILURE\"}}}}", NULL},
	{"pipeline trigger on success",
	 "{\"triggers\":[{\"type\":\"pipeline\",\"pipeline\":\"P\",\"status\":[\"successful\"],"
	 "\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"orca:pipeline:complete\",\"application\":\"a\"},"
	 "\"content\":{\"executionType\":\"PIPELINE\",\"pipelineConfigId\":\"P\","
	 "\"status\":\"SUCCEEDED\",\"executionId\":\"X\",\"execution\":{\"id\":\"X\"}}}",
	 "{\"type\":\"pipeline\",\"parentPipelineId\":\"P\",\"parentExecution\":{\"id\":\"X\"},"
	 "\"parentStatus\":\"SUCCEEDED\"}"},
	{"pipeline trigger, status not listed",
	 "{\"triggers\":[{\"type\":\"pipeline\",\"pipeline\":\"P\",\"status\":[\"successful\"],"
	 "\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"orca:pipeline:failed\"},\"content\":{\"executionType\":\"PIPELINE\","
	 "\"pipelineConfigId\":\"P\",\"status\":\"TERMINAL\"}}", NULL},
	{"pipeline trigger on cancel",
	 "{\"triggers\":[{\"type\":\"pipeline\",\"pipeline\":\"P\",\"status\":[\"canceled\"],"
	 "\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"orca:pipeline:complete\"},\"content\":{\"executionType\":\"PIPELINE\","
	 "\"pipelineConfigId\":\"P\",\"status\":\"CANCELED\"}}", "{\"parentStatus\":\"CANCELED\"}"},
	{"cron by trigger id",
	 "{\"id\":\"P\",\"triggers\":[{\"type\":\"cron\",\"id\":\"t1\",\"cronExpression\":\"* * * * * ?\","
	 "\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"cron\"},\"content\":{\"pipelineId\":\"P\",\"triggerId\":\"t1\","
	 "\"scheduledTime\":1000}}", "{\"type\":\"cron\",\"id\":\"t1\",\"scheduledTime\":1000}"},
	{"cron of another pipeline",
	 "{\"id\":\"Q\",\"triggers\":[{\"type\":\"cron\",\"id\":\"t1\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"cron\"},\"content\":{\"pipelineId\":\"P\",\"triggerId\":\"t1\"}}",
	 NULL},
	{"expected artifacts gate",
	 "{\"expectedArtifacts\":[{\"id\":\"ea\",\"matchArtifact\":{\"type\":\"docker/image\","
	 "\"name\":\"app\"}}],\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true,"
	 "\"expectedArtifactIds\":[\"ea\"]}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"content\":{\"artifacts\":"
	 "[{\"type\":\"docker/image\",\"name\":\"other\"}]},\"payload\":{}}", NULL},
	{"expected artifacts pass",
	 "{\"expectedArtifacts\":[{\"id\":\"ea\",\"matchArtifact\":{\"type\":\"docker/image\","
	 "\"name\":\"ap.*\"}}],\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true,"
	 "\"expectedArtifactIds\":[\"ea\"]}]}",
	 "{\"details\":{\"type\":\"webhook\",\"source\":\"s\"},\"content\":{\"artifacts\":"
	 "[{\"type\":\"docker/image\",\"name\":\"app\"}]},\"payload\":{}}",
	 "{\"artifacts\":[{\"type\":\"docker/image\",\"name\":\"app\"}]}"},
	{"manual events are not webhook events",
	 "{\"triggers\":[{\"type\":\"webhook\",\"source\":\"s\",\"enabled\":true}]}",
	 "{\"details\":{\"type\":\"manual\",\"source\":\"s\"},\"payload\":{}}", NULL},
};

/* Every key of want is in got with an equal value (objects recursively,
 * arrays element by element). */
static bool
contains(const json_t *got, const json_t *want)
{
	if (json_is_object(want)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)want, k, v) {
			if (!contains(json_object_get(got, k), v))
				return false;
		}
		return true;
	}
	if (json_is_array(want)) {
		if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
			return false;
		for (size_t i = 0; i < json_array_size(want); i++)
			if (!contains(json_array_get(got, i), json_array_get(want, i)))
				return false;
		return true;
	}
	return got && json_equal(got, want);
}

static void
test_matching(void **state)
{
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const match_case *c = &match_cases[i];
		json_t *p = json_loads(c->pipeline, 0, NULL);
		json_t *e = json_loads(c->event, 0, NULL);
		if (!p || !e)
			fail_msg("%s: bad test JSON", c->name);
		json_t *t = mz_trigger_match(p, e);
		if (!c->want && t) {
			char *s = json_dumps(t, 0);
			fail_msg("%s: matched, trigger %s", c->name, s);
		}
		if (c->want) {
			json_t *w = json_loads(c->want, 0, NULL);
			if (!t)
				fail_msg("%s: no match", c->name);
			if (!contains(t, w)) {
				char *s = json_dumps(t, 0);
				fail_msg("%s: trigger %s lacks %s", c->name, s, c->want);
			}
			assert_null(json_object_get(t, "secret"));
			json_decref(w);
		}
		json_decref(t);
		json_decref(p);
		json_decref(e);
	}
}

static void
test_signed_github_match(void **state)
{
	const char *raw = "{\"after\":\"h\"}";
	unsigned char d[32];
	char hex[65], sig[80];
	mz_hmac_sha256("x", 1, raw, strlen(raw), d);
	mz_hex(d, 32, hex);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	json_t *p = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:b}]}", "triggers", "type", "git",
	                      "source", "github", "project", "a", "slug", "s", "secret", "x",
	                      "enabled", 1);
	json_t *e = json_pack("{s:{s:s, s:s, s:{s:s}}, s:{s:s, s:s, s:s}, s:s}", "details", "type",
	                      "git", "source", "github", "requestHeaders", "x-hub-signature-256",
	                      sig, "content", "repoProject", "a", "slug", "s", "branch", "main",
	                      "rawContent", raw);
	json_t *t = mz_trigger_match(p, e);
	assert_non_null(t);
	json_decref(t);
	json_object_set_new(e, "rawContent", json_string("{\"after\":\"tampered\"}"));
	assert_null(mz_trigger_match(p, e));
	json_decref(p);
	json_decref(e);
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_cron_next),
		cmocka_unit_test(test_cron_invalid),
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_signed_github_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
