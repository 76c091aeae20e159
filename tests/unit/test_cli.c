/* test_cli.c - the client's pieces that need no server: option parsing,
 * spin-compatible JSON output, and the exit codes of usage errors and of
 * an unreachable server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli_int.h"

static const mz_cli_optdef opts[] = {
	{"application", 'a', MZ_OPT_VALUE, ""},
	{"name", 'n', MZ_OPT_VALUE, ""},
	{"parameter", 'p', MZ_OPT_VALUE, ""},
	{"wait", 'w', MZ_OPT_FLAG, ""},
	{"stale-check", 0, MZ_OPT_FLAG, ""},
	{NULL, 0, 0, NULL},
};

static bool
parse(mz_cli_args *a, int argc, char **argv)
{
	return mz_cli_args_parse(a, opts, argc, argv, 0);
}

static void
test_args_forms(void **state)
{
	char *argv[] = {"-a", "app", "--name=my pipe", "-pk1=v1", "--parameter", "k2=v2",
			"pos", "--wait", "--stale-check=false", "--url", "http://h:1",
			"--", "-not-a-flag"};
	mz_cli_args a;
	size_t it = 0;

	assert_true(parse(&a, 13, argv));
	assert_string_equal(mz_cli_opt(&a, "application"), "app");
	assert_string_equal(mz_cli_opt(&a, "name"), "my pipe");
	assert_string_equal(mz_cli_opt_next(&a, "parameter", &it), "k1=v1");
	assert_string_equal(mz_cli_opt_next(&a, "parameter", &it), "k2=v2");
	assert_null(mz_cli_opt_next(&a, "parameter", &it));
	assert_true(mz_cli_flag(&a, "wait"));
	assert_false(mz_cli_flag(&a, "stale-check"));
	assert_non_null(mz_cli_opt(&a, "stale-check"));
	assert_string_equal(mz_cli_opt(&a, "url"), "http://h:1");
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[0], "pos");
	assert_string_equal(a.pos[1], "-not-a-flag");
	assert_null(mz_cli_opt(&a, "id"));
	mz_cli_args_release(&a);
}

static void
test_args_errors(void **state)
{
	char *unknown[] = {"--bogus"};
	char *unknown_short[] = {"-z"};
	char *missing[] = {"-a"};
	char *bad_bool[] = {"--wait=maybe"};
	mz_cli_args a;

	assert_false(parse(&a, 1, unknown));
	mz_cli_args_release(&a);
	assert_false(parse(&a, 1, unknown_short));
	mz_cli_args_release(&a);
	assert_false(parse(&a, 1, missing));
	mz_cli_args_release(&a);
	assert_false(parse(&a, 1, bad_bool));
	mz_cli_args_release(&a);
}

static void
check_text(const char *json, const char *want)
{
	json_error_t jerr;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
	mz_buf out;

	assert_non_null(v);
	mz_buf_init(&out, 0);
	mz_cli_json_text(v, &out);
	assert_string_equal(out.data, want);
	mz_buf_release(&out);
	json_decref(v);
}

static void
test_json_like_spin(void **state)
{
	check_text("{\"b\":[1,{}],\"a\":{\"d\":[],\"c\":true}}",
		   "{\n \"a\": {\n  \"c\": true,\n  \"d\": []\n },\n"
		   " \"b\": [\n  1,\n  {}\n ]\n}\n");
	/* float64 in Go: shortest round-trip form, integral values bare */
	check_text("[0.1, 1.0, 2.5, 0.30000000000000004, 1795665226480, null]",
		   "[\n 0.1,\n 1,\n 2.5,\n 0.30000000000000004,\n 1795665226480,\n null\n]\n");
	/* Go's HTML-safe escapes; non-ASCII stays UTF-8 */
	check_text("\"<a href='x'>&\\n\\u0001\\\"é\"",
		   "\"\\u003ca href='x'\\u003e\\u0026\\n\\u0001\\\"é\"\n");
}

static int
run(int argc, char **argv)
{
	return mz_cli_main(argc, argv);
}

static void
test_usage_exit_codes(void **state)
{
	char *none[] = {"mizzen"};
	char *help[] = {"mizzen", "help"};
	char *group_help[] = {"mizzen", "pipeline", "--help"};
	char *cmd_help[] = {"mizzen", "pipeline", "execute", "-h"};
	char *bogus[] = {"mizzen", "bogus"};
	char *bogus_cmd[] = {"mizzen", "pipeline", "bogus"};
	char *missing[] = {"mizzen", "pipeline", "get", "-a", "app"};
	char *extra[] = {"mizzen", "pipeline", "get", "-a", "app", "-n", "x", "extra"};
	char *bad_url[] = {"mizzen", "--url", "ftp://x", "application", "list"};
	char *judge[] = {"mizzen", "pipeline-execution", "judge", "id1"};

	assert_int_equal(run(1, none), MZ_CLI_USAGE);
	assert_int_equal(run(2, help), MZ_CLI_OK);
	assert_int_equal(run(3, group_help), MZ_CLI_OK);
	assert_int_equal(run(4, cmd_help), MZ_CLI_OK);
	assert_int_equal(run(2, bogus), MZ_CLI_USAGE);
	assert_int_equal(run(3, bogus_cmd), MZ_CLI_USAGE);
	assert_int_equal(run(5, missing), MZ_CLI_USAGE);
	assert_int_equal(run(8, extra), MZ_CLI_USAGE);
	assert_int_equal(run(5, bad_url), MZ_CLI_USAGE);
	assert_int_equal(run(4, judge), MZ_CLI_USAGE);
}

static void
test_unreachable_server_fails(void **state)
{
	/* Port 1 on loopback: nothing listens there in a test environment. */
	char *list[] = {"mizzen", "--url", "http://127.0.0.1:1", "application", "list"};
	char *get[] = {"mizzen", "pipeline-execution", "get", "x", "--url=http://127.0.0.1:1/"};

	assert_int_equal(run(5, list), MZ_CLI_FAIL);
	assert_int_equal(run(5, get), MZ_CLI_FAIL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_forms),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_json_like_spin),
		cmocka_unit_test(test_usage_exit_codes),
		cmocka_unit_test(test_unreachable_server_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
