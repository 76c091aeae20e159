/*
 * expr_process.c - the public entry points of expr.h: one expression
 * (mz_expr_eval) and the ${...} template walk over a whole JSON value
 * (mz_expr_process), with Orca's failure summary.
 */
#include "expr/expr_int.h"

#include <stdlib.h>
#include <string.h>

bool
mz_expr_has(const char *s)
{
	return s && strstr(s, "${") != NULL;
}

/* Evaluates one expression; deadline (mz_expr_clock_ms) is shared by all the
 * expressions of one template walk. */
static json_t *
eval_n(const char *expr, size_t len, const json_t *root,
       const mz_expr_env *env, const mz_expr_limits *lim, int64_t deadline,
       mz_err *err)
{
	mz_err local;
	if (!err)
		err = &local;
	mz_err_clear(err);
	mz_ast *ast = mz_x_parse(expr, len, err);
	if (!ast)
		return NULL;
	mz_ev ev = {
		.root = root, .env = env, .err = err, .ast = ast,
		.self = root, .at_root = true, .lim = *lim, .deadline = deadline,
	};
	if (!mz_x_budget_time(&ev)) {
		mz_x_ast_free(ast);
		return NULL;
	}
	json_t *v = mz_x_eval(&ev, mz_x_ast_top(ast));
	mz_x_ast_free(ast);
	if (v && (json_is_object(v) || json_is_array(v))) {
		/* The result may share containers with the caller's root (or
		 * the engine's execution). Callers store and later modify
		 * results, so hand out a private copy: only the final value is
		 * copied, never the intermediate ones. */
		json_t *copy = json_deep_copy(v);
		json_decref(v);
		v = copy;
		if (!v)
			mz_fail(err, MZ_ENOMEM, "out of memory copying the result");
	}
	return v;
}

json_t *
mz_expr_eval(const char *expr, const json_t *root, const mz_expr_env *env,
             mz_err *err)
{
	if (!expr) {
		mz_fail(err, MZ_EINVAL, "EL1042E: The expression is empty");
		return NULL;
	}
	mz_expr_limits lim = mz_x_limits(env);
	return eval_n(expr, strlen(expr), root, env, &lim,
	              mz_x_deadline(&lim), err);
}

/* ---- template walk ---------------------------------------------------- */

typedef struct walk {
	const json_t *root;
	const mz_expr_env *env;
	json_t *summary;
	mz_expr_limits lim;
	int64_t deadline;       /* one time budget for the whole walk */
} walk;

static void
record(walk *w, const char *expr, size_t len, const char *field,
       const char *msg, bool info)
{
	if (!json_is_object(w->summary))
		return;
	char *key = strndup(expr, len);
	if (!key)
		return;
	json_t *list = json_object_get(w->summary, key);
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(w->summary, key, list);
	}
	char *desc = info ?
	             mz_asprintf("Failed to evaluate [%s] %s not found",
	                         field ? field : key, key) :
	             mz_asprintf("Failed to evaluate [%s] %s",
	                         field ? field : key, msg);
	json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:s}",
	                      "description", desc,
	                      "exceptionType", "SpelEvaluationException",
	                      "timestamp", (json_int_t)mz_now_ms(),
	                      "level", info ? "INFO" : "ERROR"));
	free(desc);
	free(key);
}

/*
 * From s (just after "${"), finds the '}' that closes the expression:
 * braces of inline maps and lists nest, and quotes hide everything.
 * Returns its offset from s or -1.
 */
static long
closing_brace(const char *s, size_t len)
{
	int depth = 0;
	char quote = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (quote) {
			if (c == quote)
				quote = 0;      /* '' re-opens at once: still right */
		} else if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == '{') {
			depth++;
		} else if (c == '}') {
			if (depth-- == 0)
				return (long)i;
		}
	}
	return -1;
}

bool
mz_expr_check(const char *s, mz_err *err)
{
	mz_err_clear(err);
	if (!s)
		return true;
	size_t len = strlen(s);
	const char *p = s;
	while ((p = strstr(p, "${"))) {
		long close = closing_brace(p + 2, len - (size_t)(p + 2 - s));
		if (close < 0) {
			mz_fail(err, MZ_EINVAL, "No ending suffix '}' for expression "
			        "starting at character %ld: %.200s", (long)(p - s), p);
			return false;
		}
		mz_err perr;
		mz_ast *ast = mz_x_parse(p + 2, (size_t)close, &perr);
		if (!ast) {
			mz_fail(err, MZ_EINVAL, "${%.*s}: %s",
			        close > 200 ? 200 : (int)close, p + 2, perr.msg);
			return false;
		}
		mz_x_ast_free(ast);
		p += 2 + close + 1;
	}
	return true;
}

/* Evaluates one ${part}: new reference, or NULL after recording why. */
static json_t *
part(walk *w, const char *expr, size_t len, const char *field)
{
	mz_err err;
	json_t *v = eval_n(expr, len, w->root, w->env, &w->lim, w->deadline, &err);
	if (!v) {
		record(w, expr, len, field, err.msg, false);
		return NULL;
	}
	if (json_is_null(v)) {
		record(w, expr, len, field, NULL, true);
		json_decref(v);
		return NULL;
	}
	return v;
}

static json_t *
process_string(walk *w, const json_t *str, const char *field)
{
	const char *s = json_string_value(str);
	size_t len = json_string_length(str);
	const char *open = strstr(s, "${");
	long close = open ? closing_brace(open + 2, len - (size_t)(open + 2 - s))
	                  : -1;
	if (open && close < 0) {
		/* Spring fails the whole template: keep it and say why. */
		char msg[96];
		snprintf(msg, sizeof(msg), "No ending suffix '}' for expression "
		         "starting at character %ld", (long)(open - s));
		record(w, open + 2, strlen(open + 2), field, msg, false);
		return mz_x_ref(str);
	}
	if (open == s && (size_t)close + 3 == len) {
		/* Exactly one expression: the result keeps its type. */
		json_t *v = part(w, s + 2, (size_t)close, field);
		return v ? v : mz_x_ref(str);
	}
	mz_buf b;
	mz_buf_init(&b, 0);
	const char *p = s, *end = s + len;
	while (p < end) {
		open = strstr(p, "${");
		close = open ? closing_brace(open + 2, (size_t)(end - open - 2))
		             : -1;
		if (!open || close < 0) {
			mz_buf_add(&b, p, (size_t)(end - p));
			break;
		}
		mz_buf_add(&b, p, (size_t)(open - p));
		json_t *v = part(w, open + 2, (size_t)close, field);
		if (v)
			mz_x_tostring_conv(v, &b);
		else    /* failed or null: the literal text stays */
			mz_buf_add(&b, open, (size_t)close + 3);
		json_decref(v);
		p = open + 2 + close + 1;
	}
	json_t *res = json_stringn(b.data, b.len);
	mz_buf_release(&b);
	return res ? res : mz_x_ref(str);
}

static json_t *
walk_value(walk *w, const json_t *v, const char *field, int depth)
{
	if (depth > MZ_X_MAX_DATA_DEPTH)
		return json_deep_copy(v);
	if (json_is_string(v))
		return mz_expr_has(json_string_value(v)) ?
		       process_string(w, v, field) : mz_x_ref(v);
	if (json_is_array(v)) {
		json_t *out = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			json_array_append_new(out, walk_value(w, e, field, depth + 1));
		return out;
	}
	if (json_is_object(v)) {
		json_t *out = json_object();
		const char *k;
		json_t *e;
		json_object_foreach((json_t *)v, k, e) {
			json_t *nv = walk_value(w, e, k, depth + 1);
			if (!mz_expr_has(k)) {
				json_object_set_new(out, k, nv);
				continue;
			}
			/* Keys are evaluated too; a key must end up a string. */
			json_t *ks = json_string(k);
			json_t *kv = process_string(w, ks, k);
			mz_buf b;
			mz_buf_init(&b, 0);
			mz_x_tostring_conv(kv, &b);
			json_object_setn_new(out, b.data, b.len, nv);
			mz_buf_release(&b);
			json_decref(kv);
			json_decref(ks);
		}
		return out;
	}
	/* Numbers, booleans, null: shared, nobody mutates scalars. */
	return v ? mz_x_ref(v) : json_null();
}

json_t *
mz_expr_process(const json_t *value, const json_t *root,
                const mz_expr_env *env, json_t *summary)
{
	walk w = {.root = root, .env = env, .summary = summary,
	          .lim = mz_x_limits(env)};
	w.deadline = mz_x_deadline(&w.lim);
	return walk_value(&w, value, NULL, 0);
}
