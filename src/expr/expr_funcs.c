/*
 * expr_funcs.c - the #helper functions Spinnaker registers for pipeline
 * expressions (reference §7.3). Functions that take the execution in Orca
 * (#stage, #judgment, ...) read env->execution here, falling back to the
 * root's "execution" key, so callers need not rewrite the expression.
 * Nothing here touches files, the network or the environment.
 */
#include "expr/expr_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const json_t *
execution(mz_ev *ev)
{
	if (ev->env && ev->env->execution)
		return ev->env->execution;
	return mz_json_obj(ev->root, "execution");
}

static const char *
execution_id(mz_ev *ev)
{
	const char *id = mz_json_str(execution(ev), "id");
	return id ? id : "unknown";
}

/* The single string argument most helpers take, converted like Spring
 * would (numbers print as their Java text). */
static json_t *
str_arg(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	if (n != 1)
		return mz_x_fail(ev, "EL1023E: Incorrect number of arguments for "
		                 "function #%s: %d supplied, 1 expected", fn, n);
	if (json_is_null(a[0]))
		return mz_x_fail(ev, "#%s() needs a non-null argument", fn);
	return mz_x_string_of(ev, a[0]);
}

/* First stage whose key1 (or key2) equals want; borrowed or NULL. */
static json_t *
find_stage(mz_ev *ev, const char *key1, const char *key2, const char *want)
{
	json_t *stages = mz_json_arr(execution(ev), "stages");
	size_t i;
	json_t *st;
	json_array_foreach(stages, i, st) {
		if (mz_streq(mz_json_str(st, key1), want) ||
		    (key2 && mz_streq(mz_json_str(st, key2), want)))
			return st;
	}
	return NULL;
}

static json_t *
f_stage(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	json_t *name = str_arg(ev, fn, a, n);
	if (!name)
		return NULL;
	const char *want = json_string_value(name);
	bool by_ref = strcmp(fn, "stageByRefId") == 0;
	json_t *st = by_ref ? find_stage(ev, "refId", NULL, want) :
	             find_stage(ev, "name", "id", want);
	json_t *res;
	if (strcmp(fn, "stageExists") == 0)
		res = json_boolean(st != NULL);
	else if (st)
		res = mz_x_ref(st);
	else
		res = mz_x_fail(ev, "Unable to locate [%s] using #%s(%s) in "
		                "execution %s", want, fn, want, execution_id(ev));
	json_decref(name);
	return res;
}

static json_t *
f_judgment(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	json_t *name = str_arg(ev, fn, a, n);
	if (!name)
		return NULL;
	const char *want = json_string_value(name);
	json_t *stages = mz_json_arr(execution(ev), "stages");
	json_t *st, *res = NULL;
	size_t i;
	json_array_foreach(stages, i, st) {
		json_t *input = json_object_get(mz_json_obj(st, "context"),
		                                "judgmentInput");
		if (mz_streq(mz_json_str(st, "type"), "manualJudgment") &&
		    mz_streq(mz_json_str(st, "name"), want) && input &&
		    !json_is_null(input)) {
			res = mz_x_ref(input);
			break;
		}
	}
	if (!res)
		mz_x_fail(ev, "Unable to locate manual Judgment stage [%s] using "
		          "#%s(%s) in execution %s. Stage doesn't exist or doesn't "
		          "contain judgmentInput in its context", want, fn, want,
		          execution_id(ev));
	json_decref(name);
	return res;
}

static json_t *
f_current_stage(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	if (n != 0)
		return mz_x_fail(ev, "EL1023E: Incorrect number of arguments for "
		                 "function #currentStage: %d supplied, 0 expected", n);
	if (!ev->env || !ev->env->stage)
		return mz_x_fail(ev, "#currentStage() is only available while a "
		                 "stage is being evaluated");
	return mz_x_ref(ev->env->stage);
}

/* #toInt / #toFloat: Integer.valueOf / Float.valueOf of the text. */
static json_t *
f_number(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	bool is_int = strcmp(fn, "toInt") == 0;
	if (n == 1 && json_is_integer(a[0]) && is_int)
		return mz_x_ref(a[0]);
	json_t *s = str_arg(ev, fn, a, n);
	if (!s)
		return NULL;
	const char *t = json_string_value(s), *p = t;
	char *end;
	json_t *res = NULL;
	errno = 0;
	if (*p == '+' || *p == '-')
		p++;
	if (is_int) {
		long long v = strtoll(t, &end, 10);
		if (isdigit((unsigned char)*p) && !*end && !errno)
			res = json_integer(v);
	} else {
		double d = strtod(t, &end);
		if (end != t && !*end && isfinite(d) && !isspace((unsigned char)*t))
			res = json_real(d);
	}
	if (!res)
		mz_x_fail(ev, "java.lang.NumberFormatException: For input string: "
		          "\"%s\" (#%s)", t, fn);
	json_decref(s);
	return res;
}

/* Boolean.parseBoolean: "true" in any case is true, anything else false. */
static json_t *
f_toboolean(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	if (n == 1 && json_is_boolean(a[0]))
		return mz_x_ref(a[0]);
	json_t *s = str_arg(ev, fn, a, n);
	if (!s)
		return NULL;
	json_t *res = json_boolean(mz_strcaseeq(json_string_value(s), "true"));
	json_decref(s);
	return res;
}

static json_t *
f_tojson(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	if (n != 1)
		return mz_x_fail(ev, "EL1023E: Incorrect number of arguments for "
		                 "function #toJson: %d supplied, 1 expected", n);
	char *s = json_dumps(a[0], JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return mz_x_fail(ev, "#toJson: value cannot be serialised");
	json_t *res;
	/* Orca refuses output that would be evaluated again later. */
	if (strstr(s, "${"))
		res = mz_x_fail(ev, "result for toJson cannot contain an "
		                "expression");
	else
		res = mz_x_strn(ev, s, strlen(s));
	free(s);
	return res;
}

static json_t *
f_readjson(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	json_t *s = str_arg(ev, fn, a, n);
	if (!s)
		return NULL;
	json_error_t je;
	json_t *res = json_loadb(json_string_value(s), json_string_length(s),
	                         JSON_DECODE_ANY, &je);
	if (!res)
		mz_x_fail(ev, "#readJson: invalid JSON at line %d column %d: %s",
		          je.line, je.column, je.text);
	json_decref(s);
	return res;
}

static json_t *
f_alnum(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	json_t *s = str_arg(ev, fn, a, n);
	if (!s)
		return NULL;
	const char *t = json_string_value(s);
	size_t len = json_string_length(s), o = 0;
	char *buf = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		if (isalnum((unsigned char)t[i]))
			buf[o++] = t[i];
	json_t *res = mz_x_strn(ev, buf, o);
	free(buf);
	json_decref(s);
	return res;
}

static json_t *
f_base64(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	json_t *s = str_arg(ev, fn, a, n);
	if (!s)
		return NULL;
	json_t *res;
	if (strcmp(fn, "toBase64") == 0) {
		char *enc = mz_base64_encode((const unsigned char *)
		                             json_string_value(s),
		                             json_string_length(s));
		res = enc ? mz_x_strn(ev, enc, strlen(enc)) :
		      mz_x_fail(ev, "#toBase64: out of memory");
		free(enc);
	} else {
		size_t len = 0;
		unsigned char *dec = mz_base64_decode(json_string_value(s), &len);
		res = dec ? mz_x_strn(ev, (const char *)dec, len) :
		      mz_x_fail(ev, "#fromBase64: input is not valid base64");
		free(dec);
	}
	json_decref(s);
	return res;
}

/* #secret('name') never yields the secret: it evaluates to itself, so a
 * stage context (stored, returned, sent in events) only ever holds the
 * reference. The effect that needs the value (a webhook's URL, headers and
 * body) replaces the reference at the last moment (mz_engine_resolve_secrets). */
static json_t *
f_secret(mz_ev *ev, const char *fn, json_t *const *a, int n)
{
	const char *name = n == 1 ? json_string_value(a[0]) : NULL;
	size_t len = name ? strlen(name) : 0;
	if (!name || len == 0 || len > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                                  "0123456789._@+-") != len)
		return mz_x_fail(ev, "#secret takes one secret name (letters, digits, ._@+-)");
	char ref[96];
	snprintf(ref, sizeof(ref), "${#secret('%s')}", name);
	return mz_x_strn(ev, ref, strlen(ref));
}

static const struct helper {
	const char *name;
	json_t *(*fn)(mz_ev *ev, const char *fn, json_t *const *a, int n);
} helpers[] = {
	{"stage", f_stage},
	{"stageByRefId", f_stage},
	{"stageExists", f_stage},
	{"judgment", f_judgment},
	{"judgement", f_judgment},
	{"currentStage", f_current_stage},
	{"toInt", f_number},
	{"toFloat", f_number},
	{"toBoolean", f_toboolean},
	{"toJson", f_tojson},
	{"readJson", f_readjson},
	{"alphanumerical", f_alnum},
	{"toBase64", f_base64},
	{"fromBase64", f_base64},
	{"secret", f_secret},
};

json_t *
mz_x_function(mz_ev *ev, const char *name, json_t *const *args, int nargs)
{
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++)
		if (strcmp(helpers[i].name, name) == 0)
			return helpers[i].fn(ev, name, args, nargs);
	return mz_x_fail(ev, "EL1006E: Function '%s' could not be found or is "
	                 "not allowed", name);
}
