/* test_json.c - core's JSON serialiser (json_dump.c) writes exactly what
 * jansson's json_dumps writes, for hand-picked awkward values and for
 * thousands of random documents, in insertion order and sorted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
same_as_jansson(const json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	char *want_sorted = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	size_t len = 0;
	char *got = mz_json_dump_len(v, &len);
	char *got_sorted = mz_json_canonical(v);
	assert_non_null(want);
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	assert_string_equal(got_sorted, want_sorted);
	free(want);
	free(want_sorted);
	free(got);
	free(got_sorted);
}

static void
test_awkward_values(void **state)
{
	static const char *const texts[] = {
		"{}", "[]", "null", "true", "false", "0", "-1", "9223372036854775807",
		"-9223372036854775808", "1.5", "-0.0", "1e300", "2.5e-300", "0.1", "100.0",
		"\"\"", "\"plain\"", "\"quote \\\" backslash \\\\ slash /\"",
		"\"\\b\\f\\n\\r\\t \\u0001 \\u001f \\u007f\"",
		"\"caf\\u00e9 \\u2603 \\ud83d\\ude00 \\u2028\"",
		"\"nul \\u0000 inside\"",
		"{\"b\":1,\"a\":2,\"\":3,\"ab\":4,\"a b\":5}",
		"{\"z\":{\"y\":[1,{\"x\":[],\"w\":{}}]},\"a\":[[],[[]],{\"k\":null}]}",
		"[1,2.25,\"x\",true,false,null,{\"n\":-3}]",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_error_t je;
		json_t *v = json_loads(texts[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		if (!v)
			fail_msg("bad test text %s: %s", texts[i], je.text);
		same_as_jansson(v);
		json_decref(v);
	}
}

static uint64_t rng = 88172645463325252ull;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A random valid UTF-8 string of up to 40 pieces: ASCII, controls,
 * quotes, two-, three- and four-byte sequences (long enough that the
 * serialiser's eight-bytes-at-a-time scan meets each at every offset). */
static json_t *
random_string(void)
{
	static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t",
	                                     "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x98\x83",
	                                     "\xf0\x9f\x98\x80", "${x}", "key"};
	char buf[256];
	size_t n = 0, k = next() % 41;
	for (size_t i = 0; i < k; i++) {
		const char *p = pieces[next() % (sizeof(pieces) / sizeof(pieces[0]))];
		memcpy(buf + n, p, strlen(p));
		n += strlen(p);
	}
	return json_stringn(buf, n);
}

static json_t *
random_value(int depth)
{
	switch (next() % (depth > 5 ? 5 : 7)) {
	case 0: /* small ones, and any 64-bit one */
		return json_integer(next() % 2 ? (json_int_t)(next() % 2000000) - 1000000
		                               : (json_int_t)next());
	case 1: return json_real((double)(int64_t)(next() % 100000) / 64.0);
	case 2: return random_string();
	case 3: return json_boolean(next() % 2);
	case 4: return json_null();
	case 5: {
		json_t *a = json_array();
		for (int i = (int)(next() % 5); i > 0; i--)
			json_array_append_new(a, random_value(depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		for (int i = (int)(next() % 6); i > 0; i--) {
			json_t *k = random_string();
			json_object_setn_new(o, json_string_value(k), json_string_length(k),
			                     random_value(depth + 1));
			json_decref(k);
		}
		return o;
	}
	}
}

static void
test_random_documents(void **state)
{
	for (int i = 0; i < 3000; i++) {
		json_t *v = random_value(0);
		same_as_jansson(v);
		json_decref(v);
	}
}

/* Past its depth limit (where a value containing itself would also end
 * up) the serialiser hands the value to jansson: same text, no unbounded
 * recursion of its own. */
static void
test_deep_but_finite(void **state)
{
	json_t *root = json_array(), *cur = root;
	for (int i = 0; i < 2000; i++) { /* deeper than the fast path goes */
		json_t *next_level = json_array();
		json_array_append_new(cur, next_level);
		cur = next_level;
	}
	same_as_jansson(root);
	json_decref(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_awkward_values),
		cmocka_unit_test(test_random_documents),
		cmocka_unit_test(test_deep_but_finite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
