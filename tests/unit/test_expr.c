/*
 * test_expr.c - pipeline expressions, driven by the tests/data/expr .case files.
 *
 * A .case file holds blocks separated by blank lines; '#' starts a comment
 * line. Each block is "key: value" lines:
 *   expr: <expression without ${ }>      evaluated with mz_expr_eval
 *   process: <one-line JSON>             walked with mz_expr_process
 *   check: <text with ${...}>            mz_expr_check: expect: true, or
 *                                        error: <substring>
 *   context: <one-line JSON>             root (default: context.json);
 *                                        env->execution = its "execution"
 *   strict: true                         env->strict_unknown_keys
 *   nolookup: true                       no env->lookup
 *   nostage: true                        no env->stage
 *   expect: <JSON>                       the result (numbers: 1 != 1.0)
 *   error: <substring>                   mz_expr_eval must fail with it
 *   summary: <JSON>                      process(): the summary, without
 *                                        timestamps; absent means {}
 * The default root is context.json; env->stage is its stage with refId
 * "5", env->lookup answers from the `upstream` object below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"

static json_t *default_root;
static json_t *upstream;
static char data_dir[1024];

static json_t *
lookup(const char *name, void *udata)
{
	(void)udata;
	return json_object_get(upstream, name);
}

static json_t *
stage_by_ref(const json_t *root, const char *ref)
{
	json_t *stages = mz_json_arr(mz_json_obj(root, "execution"), "stages");
	size_t i;
	json_t *st;
	json_array_foreach(stages, i, st)
		if (mz_streq(mz_json_str(st, "refId"), ref))
			return st;
	return NULL;
}

static int
setup(void **state)
{
	(void)state;
	const char *d = getenv("MZ_TEST_DATA");
	snprintf(data_dir, sizeof(data_dir), "%s/expr", d ? d : "tests/data");
	char path[1200];
	snprintf(path, sizeof(path), "%s/context.json", data_dir);
	json_error_t je;
	default_root = json_load_file(path, 0, &je);
	if (!default_root) {
		fprintf(stderr, "cannot load %s: %s\n", path, je.text);
		return -1;
	}
	upstream = json_pack("{s:s, s:s, s:s}", "upstreamVar", "from-upstream",
	                     "deployed", "v-upstream", "imageId", "ami-lookup");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(default_root);
	json_decref(upstream);
	return 0;
}

/* ---- case files ------------------------------------------------------- */

typedef struct tcase {
	const char *file;
	int line;
	char *expr, *process, *check, *context, *expect, *error, *summary;
	bool strict, nolookup, nostage;
} tcase;

static json_t *
parse_json(const char *text, const tcase *c, int *fails)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	if (!v) {
		fprintf(stderr, "%s:%d: bad JSON '%s': %s\n", c->file, c->line, text,
		        je.text);
		(*fails)++;
	}
	return v;
}

/* Timestamps vary: check they are integers, then drop them. */
static void
strip_timestamps(json_t *summary)
{
	const char *k;
	json_t *list, *e;
	size_t i;
	json_object_foreach(summary, k, list) {
		json_array_foreach(list, i, e) {
			assert_true(json_is_integer(json_object_get(e, "timestamp")));
			json_object_del(e, "timestamp");
		}
	}
}

static void
report(const tcase *c, const char *what, const json_t *got, const char *msg)
{
	char *g = got ? mz_json_dump(got) : NULL;
	fprintf(stderr, "%s:%d: FAIL %s\n  expr:    %s\n  wanted:  %s\n"
	        "  got:     %s\n", c->file, c->line, what,
	        c->expr ? c->expr : c->process ? c->process : c->check,
	        c->expect ? c->expect : c->error ? c->error : c->summary,
	        g ? g : msg ? msg : "(nothing)");
	free(g);
}

static int
run_case(const tcase *c)
{
	int fails = 0;
	json_t *root = default_root, *own_root = NULL;
	if (c->context && !(root = own_root = parse_json(c->context, c, &fails)))
		return 1;
	mz_expr_env env = {
		.execution = mz_json_obj(root, "execution"),
		.stage = c->nostage ? NULL : stage_by_ref(root, "5"),
		.lookup = c->nolookup ? NULL : lookup,
		.strict_unknown_keys = c->strict,
	};
	json_t *want = c->expect ? parse_json(c->expect, c, &fails) : NULL;
	if (c->expr) {
		mz_err err = {0};
		json_t *got = mz_expr_eval(c->expr, root, &env, &err);
		if (c->error) {
			if (got || !strstr(err.msg, c->error)) {
				report(c, "error expected", got, err.msg);
				fails++;
			}
		} else if (!got || !want || !json_equal(got, want)) {
			report(c, "value", got, err.msg);
			fails++;
		}
		json_decref(got);
	} else if (c->process) {
		json_t *in = parse_json(c->process, c, &fails);
		json_t *summary = json_object();
		json_t *got = in ? mz_expr_process(in, root, &env, summary) : NULL;
		json_t *wsum = c->summary ? parse_json(c->summary, c, &fails) :
		               json_object();
		strip_timestamps(summary);
		if (want && (!got || !json_equal(got, want))) {
			report(c, "processed value", got, NULL);
			fails++;
		}
		if (wsum && !json_equal(summary, wsum)) {
			report(c, "summary", summary, NULL);
			fails++;
		}
		json_decref(in);
		json_decref(got);
		json_decref(summary);
		json_decref(wsum);
	} else if (c->check) {
		mz_err err = {0};
		bool ok = mz_expr_check(c->check, &err);
		if (c->error ? ok || !strstr(err.msg, c->error) :
		    !ok || !json_is_true(want)) {
			report(c, "check", NULL, ok ? "true" : err.msg);
			fails++;
		}
	} else {
		fprintf(stderr, "%s:%d: case has no expr, process or check\n",
		        c->file, c->line);
		fails++;
	}
	json_decref(want);
	json_decref(own_root);
	return fails;
}

static void
set_field(tcase *c, const char *key, char *val)
{
	char **slot = NULL;
	if (strcmp(key, "expr") == 0) slot = &c->expr;
	else if (strcmp(key, "process") == 0) slot = &c->process;
	else if (strcmp(key, "check") == 0) slot = &c->check;
	else if (strcmp(key, "context") == 0) slot = &c->context;
	else if (strcmp(key, "expect") == 0) slot = &c->expect;
	else if (strcmp(key, "error") == 0) slot = &c->error;
	else if (strcmp(key, "summary") == 0) slot = &c->summary;
	else if (strcmp(key, "strict") == 0) c->strict = true;
	else if (strcmp(key, "nolookup") == 0) c->nolookup = true;
	else if (strcmp(key, "nostage") == 0) c->nostage = true;
	else
		fail_msg("%s:%d: unknown key '%s'", c->file, c->line, key);
	if (slot)
		*slot = val;
}

/* Runs every block of one file; returns (cases, failures). */
static void
run_file(const char *name, char **all_exprs, size_t *n_exprs, int *cases,
         int *fails)
{
	char path[1400];
	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	size_t len;
	mz_err err;
	char *text = mz_read_file(path, &len, &err);
	assert_non_null(text);
	tcase c = {.file = name};
	int lineno = 0;
	char *p = text;
	while (p) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		char *line = p;
		p = nl ? nl + 1 : NULL;
		lineno++;
		size_t l = strlen(line);
		if (l && line[l - 1] == '\r')
			line[--l] = '\0';
		if (l && line[0] != '#') {
			char *colon = strstr(line, ": ");
			if (!colon && line[l - 1] == ':')
				colon = line + l - 1;
			if (!colon)
				fail_msg("%s:%d: expected 'key: value'", name, lineno);
			*colon = '\0';
			if (!c.line)
				c.line = lineno;
			set_field(&c, line, colon[1] ? colon + 2 : colon + 1);
		}
		/* A blank line or the end of the file closes the block. */
		if ((l == 0 || !p) && c.line) {
			(*cases)++;
			*fails += run_case(&c);
			if (c.expr && *n_exprs < 4096)
				all_exprs[(*n_exprs)++] = strdup(c.expr);
			c = (tcase){.file = name};
		}
	}
	free(text);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *corpus[4096];
static size_t n_corpus;

static void
test_case_files(void **state)
{
	(void)state;
	DIR *d = opendir(data_dir);
	assert_non_null(d);
	char *names[64];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 64) {
		size_t l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".case") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	int cases = 0, fails = 0;
	for (size_t i = 0; i < n; i++) {
		int c0 = cases, f0 = fails;
		run_file(names[i], corpus, &n_corpus, &cases, &fails);
		printf("%-20s %3d cases, %d failed\n", names[i], cases - c0,
		       fails - f0);
		free(names[i]);
	}
	printf("expr cases: %d, failures: %d\n", cases, fails);
	assert_true(cases >= 150);
	assert_int_equal(fails, 0);
}

/* ---- API edges -------------------------------------------------------- */

static void
test_api_edges(void **state)
{
	(void)state;
	mz_err err = {0};
	mz_expr_env env = {.execution = mz_json_obj(default_root, "execution")};

	assert_true(mz_expr_has("a ${b} c"));
	assert_false(mz_expr_has("a $ {b} c"));
	assert_false(mz_expr_has(NULL));

	/* NULL expression, NULL root, NULL env, NULL err: no crash. */
	assert_null(mz_expr_eval(NULL, default_root, &env, &err));
	json_t *v = mz_expr_eval("1 + 1", NULL, NULL, NULL);
	assert_int_equal(json_integer_value(v), 2);
	json_decref(v);
	v = mz_expr_eval("missing", NULL, NULL, &err);
	assert_true(json_is_null(v));
	json_decref(v);
	assert_null(mz_expr_eval("#stage('x')", NULL, NULL, &err));
	assert_non_null(strstr(err.msg, "Unable to locate [x]"));

	/* Results never alias the caller's root: changing one leaves the
	 * other alone. */
	v = mz_expr_eval("trigger.parameters", default_root, &env, &err);
	assert_non_null(v);
	json_object_set_new(v, "env", json_string("changed"));
	json_decref(v);
	assert_string_equal(mz_json_str(mz_json_obj(mz_json_obj(default_root,
	                    "trigger"), "parameters"), "env"), "prod");

	/* process() with a NULL summary and values without expressions. */
	json_t *in = json_pack("{s:s, s:i, s:[s, n]}", "a", "${1}", "b", 2, "c",
	                       "${nothing}");
	json_t *out = mz_expr_process(in, default_root, &env, NULL);
	assert_int_equal(json_integer_value(json_object_get(out, "a")), 1);
	assert_string_equal(json_string_value(json_array_get(
	                    json_object_get(out, "c"), 0)), "${nothing}");
	json_decref(in);
	json_decref(out);

	/* Too long: an error, not a crash. */
	size_t big = 70 * 1024;
	char *s = malloc(big + 1);
	memset(s, '1', big);
	s[big] = '\0';
	assert_null(mz_expr_eval(s, default_root, &env, &err));
	assert_non_null(strstr(err.msg, "too long"));
	free(s);
}

/* ---- fuzz ------------------------------------------------------------- */

/* Evaluates s and process()es "${s}"; only crashes and leaks can fail. */
static void
poke(const char *s, mz_expr_env *env)
{
	mz_err err = {0};
	json_t *v = mz_expr_eval(s, default_root, env, &err);
	if (!v)
		assert_true(err.msg[0] != '\0');
	json_decref(v);
	char *wrapped = mz_asprintf("x ${%s} y ${%s}", s, s);
	(void)mz_expr_check(wrapped, &err);
	json_t *in = json_string(wrapped);
	if (in) {
		json_t *summary = json_object();
		json_t *out = mz_expr_process(in, default_root, env, summary);
		assert_non_null(out);
		json_decref(out);
		json_decref(summary);
		json_decref(in);
	}
	free(wrapped);
}

static char *
repeat_str(const char *unit, size_t times, const char *tail)
{
	size_t u = strlen(unit), t = strlen(tail);
	char *s = malloc(u * times + t + 1);
	for (size_t i = 0; i < times; i++)
		memcpy(s + i * u, unit, u);
	memcpy(s + u * times, tail, t + 1);
	return s;
}

static void
test_fuzz(void **state)
{
	(void)state;
	mz_expr_env env = {
		.execution = mz_json_obj(default_root, "execution"),
		.stage = stage_by_ref(default_root, "5"),
		.lookup = lookup,
	};
	unsigned seed = 12345;

	/* Every prefix of every case expression, then random mutations. */
	for (size_t i = 0; i < n_corpus; i++) {
		char *e = corpus[i];
		size_t len = strlen(e);
		for (size_t k = 0; k < len; k++) {
			char c = e[k];
			e[k] = '\0';
			poke(e, &env);
			e[k] = c;
		}
		static const char junk[] = "(){}[].?!^$#'\"+-*/%<>=&|:, 0a\\\xc3";
		for (int m = 0; m < 4 && len; m++) {
			char *copy = strdup(e);
			for (int j = 0; j < 3; j++)
				copy[rand_r(&seed) % len] =
				    junk[rand_r(&seed) % (sizeof(junk) - 1)];
			poke(copy, &env);
			free(copy);
		}
	}

	/* Token soup. */
	static const char *toks[] = {
		"(", ")", "{", "}", "[", "]", ".", "?.", ".?[", ".![", ".^[",
		".$[", "?", ":", "?:", ",", "+", "-", "*", "/", "%", "^", "!",
		"==", "<", ">=", "and", "or", "not", "matches", "between",
		"'s'", "\"d\"", "''", "1", "2.5", "0", "-1", "true", "null",
		"trigger", "parameters", "nums", "words", "servers", "limits",
		"#this", "#root", "#stage('Bake')", "#toJson(", "#readJson(",
		"size()", "split(',')", "toString()", "T(", "new", "#", "@x",
		"a:1", "'${'", "}", "=", "++", "x",
	};
	size_t ntoks = sizeof(toks) / sizeof(toks[0]);
	for (int i = 0; i < 20000; i++) {
		char buf[512] = "";
		int n = 1 + (int)(rand_r(&seed) % 14);
		for (int j = 0; j < n; j++) {
			strcat(buf, toks[rand_r(&seed) % ntoks]);
			if (rand_r(&seed) % 3 == 0)
				strcat(buf, " ");
		}
		poke(buf, &env);
	}

	/* Random bytes, including NUL-free binary. */
	for (int i = 0; i < 2000; i++) {
		char buf[64];
		int n = (int)(rand_r(&seed) % 63);
		for (int j = 0; j < n; j++)
			buf[j] = (char)(1 + rand_r(&seed) % 255);
		buf[n] = '\0';
		poke(buf, &env);
	}

	/* Deep nesting must be refused, not recursed into. */
	static const struct { const char *unit, *tail; } deep[] = {
		{"(", "1"}, {"{", "1"}, {"[", "1"}, {"-", "1"}, {"!", "true"},
		{"1+", "1"}, {"a.", "b"}, {"nums[0]+", "1"}, {"x?", "1:2"},
		{"#toJson(", ""}, {"'a'.concat(", "'b'"}, {"{a:", "1"},
	};
	for (size_t i = 0; i < sizeof(deep) / sizeof(deep[0]); i++) {
		char *s = repeat_str(deep[i].unit, 20000, deep[i].tail);
		poke(s, &env);
		free(s);
	}
	/* Hostile but short: big products, long strings. */
	poke("{1,2,3,4,5,6,7,8,9,10}.![{1,2,3,4,5,6,7,8,9,10}.![{1,2,3,4,5,6,"
	     "7,8,9,10}.![{1,2,3,4,5,6,7,8,9,10}.![{1,2,3,4,5,6,7,8,9,10}.!["
	     "{1,2,3,4,5,6,7,8,9,10}.![#this]]]]]]", &env);
	poke("'abcdefgh' * 100000000", &env);
	poke("('ab' * 1000000) * 100", &env);
	poke("2 ^ 100000000000", &env);

	/* Templates with unbalanced and quoted braces. */
	static const char *tpl[] = {
		"${", "${{", "${'}'", "${\"}\"}", "}${}", "${}}", "$${1}", "${1}${",
		"${'a''}'}", "${{a:'}'}}", "pre ${ } post", "${#stage(}",
	};
	for (size_t i = 0; i < sizeof(tpl) / sizeof(tpl[0]); i++) {
		json_t *in = json_string(tpl[i]);
		json_t *summary = json_object();
		json_t *out = mz_expr_process(in, default_root, &env, summary);
		assert_non_null(out);
		json_decref(out);
		json_decref(summary);
		json_decref(in);
	}
}

/* ---- the evaluation budget ---------------------------------------------- */

/* Evaluates expr against {"s": s_value}; returns the error message (empty
 * on success) and the elapsed milliseconds. */
static const char *
eval_budget(const char *expr, const char *s_value, const mz_expr_limits *lim,
            int64_t *ms)
{
	static mz_err err;
	json_t *root = json_pack("{s:s}", "s", s_value ? s_value : "");
	mz_expr_env env = {.limits = lim};
	mz_err_clear(&err);
	int64_t t0 = mz_mono_ms();
	json_t *v = mz_expr_eval(expr, root, &env, &err);
	if (ms)
		*ms = mz_mono_ms() - t0;
	if (v)
		err.msg[0] = '\0';
	json_decref(v);
	json_decref(root);
	return err.msg;
}

static void
test_budget_steps(void **state)
{
	(void)state;
	/* 10 x 10 x 10 elements is about 3,000 steps. */
	const char *e = "{1,2,3,4,5,6,7,8,9,10}.![{1,2,3,4,5,6,7,8,9,10}.!["
	                "{1,2,3,4,5,6,7,8,9,10}.![#this]]].size()";
	mz_expr_limits small = {.max_steps = 1000};
	const char *msg = eval_budget(e, NULL, &small, NULL);
	assert_non_null(strstr(msg, "Expression budget exceeded: more than 1000 "
	                        "evaluation steps (expressions.maxSteps)"));
	mz_expr_limits big = {.max_steps = 100000};
	assert_string_equal(eval_budget(e, NULL, &big, NULL), "");
	/* The default applies without limits, and the process-wide setting
	 * is what env falls back to. */
	assert_string_equal(eval_budget(e, NULL, NULL, NULL), "");
	mz_expr_set_limits(&small);
	assert_non_null(strstr(eval_budget(e, NULL, NULL, NULL), "maxSteps"));
	mz_expr_set_limits(NULL);
	assert_int_equal(mz_expr_get_limits().max_steps, MZ_EXPR_DEFAULT_STEPS);
}

static void
test_budget_string(void **state)
{
	(void)state;
	mz_expr_limits lim = {.max_string = 1000};
	assert_string_equal(eval_budget("'ab' * 500", NULL, &lim, NULL), "");
	const char *msg = eval_budget("'ab' * 501", NULL, &lim, NULL);
	assert_non_null(strstr(msg, "Expression budget exceeded: a string result "
	                        "would be longer than 1000 bytes "
	                        "(expressions.maxStringBytes)"));
	/* Concatenation and replace are held to the same limit. */
	char *s = repeat_str("x", 600, "");
	assert_non_null(strstr(eval_budget("s + s", s, &lim, NULL), "maxStringBytes"));
	assert_non_null(strstr(eval_budget("s.replace('x', 'yy')", s, &lim, NULL),
	                       "maxStringBytes"));
	assert_string_equal(eval_budget("s + 'a'", s, &lim, NULL), "");
	free(s);
}

static void
test_budget_regex(void **state)
{
	(void)state;
	/* The issue's ReDoS: a 120 kB parameter through (a|aa)*c. With the
	 * default limits it is refused at once, with a message naming the
	 * setting, instead of holding the engine for tens of seconds. */
	char *s = repeat_str("a", 120 * 1024, "");
	/* (refused before any matching starts: no timing asserted here, the
	 * integration test measures what a concurrent save sees) */
	const char *msg = eval_budget("s.replaceAll('(a|aa)*c','x')", s, NULL, NULL);
	assert_non_null(strstr(msg, "Expression budget exceeded: a regular "
	                        "expression may run over at most 4096 bytes, not "
	                        "122880 (expressions.maxRegexInputBytes)"));
	assert_non_null(strstr(eval_budget("s matches '(a|aa)*c'", s, NULL, NULL),
	                       "maxRegexInputBytes"));
	assert_non_null(strstr(eval_budget("s.split('a+b')", s, NULL, NULL),
	                       "maxRegexInputBytes"));
	/* A plain separator is no regex: split by it is linear and allowed. */
	assert_string_equal(eval_budget("s.split(',').size()", s, NULL, NULL), "");
	free(s);
	/* Up to the limit the match runs. */
	s = repeat_str("a", 4096, "");
	msg = eval_budget("s.replaceAll('(a|aa)*c','x').length()", s, NULL, NULL);
	assert_string_equal(msg, "");
	free(s);
	/* Back-references (exponential in glibc) are refused. */
	assert_non_null(strstr(eval_budget("s matches '(a)\\1'", "aa", NULL, NULL),
	                       "back-references"));
}

static void
test_budget_time(void **state)
{
	(void)state;
	/* A time limit of 1 ms with a step limit too high to stop first. */
	mz_expr_limits lim = {.max_ms = 1, .max_steps = 1000000000L};
	const char *e = "{1,2,3,4,5,6,7,8,9,10}.![{1,2,3,4,5,6,7,8,9,10}.!["
	                "{1,2,3,4,5,6,7,8,9,10}.![{1,2,3,4,5,6,7,8,9,10}.!["
	                "{1,2,3,4,5,6,7,8,9,10}.![{1,2,3,4,5,6,7,8,9,10}.![#this]]]]]]";
	const char *msg = eval_budget(e, NULL, &lim, NULL);
	assert_non_null(strstr(msg, "Expression budget exceeded: evaluation took "
	                        "longer than 1 ms (expressions.timeoutMs)"));

	/* One time budget for a whole template walk: every field after the
	 * budget is spent reports the error against its own field. */
	json_t *in = json_pack("{s:s, s:s}", "first", "${" "{1,2,3,4,5,6,7,8,9,10}"
	                       ".![{1,2,3,4,5,6,7,8,9,10}.![{1,2,3,4,5,6,7,8,9,10}"
	                       ".![{1,2,3,4,5,6,7,8,9,10}.![{1,2,3,4,5,6,7,8,9,10}"
	                       ".![#this]]]]].size()}", "second", "${1 + 1}");
	json_t *summary = json_object();
	mz_expr_env env = {.limits = &lim};
	json_t *out = mz_expr_process(in, NULL, &env, summary);
	char *dump = json_dumps(summary, 0);
	assert_non_null(strstr(dump, "Failed to evaluate [first] Expression budget exceeded"));
	free(dump);
	json_decref(out);
	json_decref(summary);
	json_decref(in);
}

static void
test_budget_settings(void **state)
{
	(void)state;
	mz_expr_limits l;
	mz_err err;
	assert_true(mz_expr_limits_from_json(NULL, &l, &err));
	assert_int_equal(l.max_steps, MZ_EXPR_DEFAULT_STEPS);
	assert_int_equal(l.max_regex_input, MZ_EXPR_DEFAULT_REGEX_INPUT);
	json_t *cfg = json_pack("{s:i, s:i, s:i, s:i}", "maxSteps", 5000,
	                        "maxStringBytes", 2048, "maxRegexInputBytes", 100,
	                        "timeoutMs", 20);
	assert_true(mz_expr_limits_from_json(cfg, &l, &err));
	assert_int_equal(l.max_steps, 5000);
	assert_int_equal(l.max_string, 2048);
	assert_int_equal(l.max_regex_input, 100);
	assert_int_equal(l.max_ms, 20);
	json_decref(cfg);
	cfg = json_pack("{s:i}", "maxSteps", 0);
	assert_false(mz_expr_limits_from_json(cfg, &l, &err));
	assert_non_null(strstr(err.msg, "expressions.maxSteps"));
	json_decref(cfg);
	cfg = json_pack("{s:s}", "timeoutMs", "fast");
	assert_false(mz_expr_limits_from_json(cfg, &l, &err));
	json_decref(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_case_files),
		cmocka_unit_test(test_api_edges),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_budget_steps),
		cmocka_unit_test(test_budget_string),
		cmocka_unit_test(test_budget_regex),
		cmocka_unit_test(test_budget_time),
		cmocka_unit_test(test_budget_settings),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	for (size_t i = 0; i < n_corpus; i++)
		free(corpus[i]);
	return rc;
}
