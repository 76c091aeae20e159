/*
 * expr_eval.c - walks the AST over jansson values.
 *
 * The active context object (ev->self, #this) is the root at top level and
 * each element inside a selection or projection; bare names and bare
 * method calls resolve against it. Values taken from the root are shared
 * (json_incref), so a lookup of trigger.parameters costs no copy however
 * big the execution is.
 */
#include "expr/expr_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *
mz_x_ref(const json_t *v)
{
	/* jansson's API is not const-correct; incref only touches the
	 * reference count, never the value. */
	return json_incref((json_t *)v);
}

json_t *
mz_x_fail(mz_ev *ev, const char *fmt, ...)
{
	if (ev->err) {
		va_list ap;
		va_start(ap, fmt);
		ev->err->code = MZ_EINVAL;
		vsnprintf(ev->err->msg, sizeof(ev->err->msg), fmt, ap);
		va_end(ap);
	}
	return NULL;
}

static json_t *
not_found(mz_ev *ev, const char *name, const json_t *on)
{
	if (!on || json_is_null(on))
		return mz_x_fail(ev, "EL1007E: Property or field '%s' cannot be "
		                 "found on null", name);
	return mz_x_fail(ev, "EL1008E: Property or field '%s' cannot be found "
	                 "on object of type '%s' - maybe not public or not "
	                 "valid?", name, mz_x_type(on));
}

/* A property read: map keys, plus the bean-style `empty` of strings and
 * lists (isEmpty()). Missing map keys read as null unless strict. */
static json_t *
property(mz_ev *ev, const json_t *on, const char *name, bool top)
{
	if (json_is_object(on) || (!on && top)) {
		json_t *v = on ? json_object_get(on, name) : NULL;
		if (v)
			return mz_x_ref(v);
		if (top && ev->env && ev->env->lookup) {
			v = ev->env->lookup(name, ev->env->udata);
			if (v)
				return mz_x_ref(v);
		}
		if (ev->env && ev->env->strict_unknown_keys)
			return mz_x_fail(ev, "EL1008E: Property or field '%s' cannot "
			                 "be found on object of type "
			                 "'java.util.LinkedHashMap' - maybe not public "
			                 "or not valid?", name);
		return json_null();
	}
	if (strcmp(name, "empty") == 0) {
		if (json_is_string(on))
			return json_boolean(json_string_length(on) == 0);
		if (json_is_array(on))
			return json_boolean(json_array_size(on) == 0);
	}
	return not_found(ev, name, on);
}

static json_t *
ident(mz_ev *ev, const mz_node *n)
{
	/* A NULL root reads as an empty map, where only lookup() answers. */
	return property(ev, ev->self, n->name, ev->at_root);
}

static json_t *
index_value(mz_ev *ev, const json_t *t, const mz_node *n)
{
	if (!t || json_is_null(t))
		return mz_x_fail(ev, "EL1012E: Cannot index into a null value");
	if (json_is_object(t) && n->name_key) {
		/* SpEL reads map[name] with a bare name as the key 'name'. */
		json_t *v = json_object_get(t, n->b->name);
		return v ? mz_x_ref(v) : json_null();
	}
	json_t *ix = mz_x_eval(ev, n->b);
	if (!ix)
		return NULL;
	json_t *res = NULL;
	int64_t i;
	if (json_is_object(t)) {
		json_t *key = mz_x_string_of(ev, ix);
		if (key) {
			json_t *v = json_object_get(t, json_string_value(key));
			res = v ? mz_x_ref(v) : json_null();
			json_decref(key);
		}
	} else if (json_is_array(t) || json_is_string(t)) {
		size_t size = json_is_array(t) ? json_array_size(t) :
		              mz_x_u8len(json_string_value(t), json_string_length(t));
		if (!mz_x_as_index(ix, &i)) {
			mz_x_fail(ev, "EL1001E: Type conversion problem, cannot convert "
			          "from %s to int (index)", mz_x_type(ix));
		} else if (i < 0 || (uint64_t)i >= size) {
			if (json_is_array(t))
				mz_x_fail(ev, "EL1025E: The collection has '%zu' elements, "
				          "index '%lld' is invalid", size, (long long)i);
			else
				mz_x_fail(ev, "EL1026E: The string has '%zu' characters, "
				          "index '%lld' is invalid", size, (long long)i);
		} else if (json_is_array(t)) {
			res = mz_x_ref(json_array_get(t, (size_t)i));
		} else {
			const char *s = json_string_value(t);
			size_t len = json_string_length(t);
			size_t a = mz_x_u8off(s, len, (size_t)i);
			size_t b = mz_x_u8off(s, len, (size_t)i + 1);
			res = mz_x_strn(ev, s + a, b - a);
		}
	} else {
		mz_x_fail(ev, "EL1027E: Indexing into type '%s' is not supported",
		          mz_x_type(t));
	}
	json_decref(ix);
	return res;
}

/* Evaluates n->args into argv (new references); false on error. */
static bool
eval_args(mz_ev *ev, const mz_node *n, json_t **argv)
{
	for (int i = 0; i < n->nargs; i++) {
		if (!(argv[i] = mz_x_eval(ev, n->args[i]))) {
			while (i--)
				json_decref(argv[i]);
			return false;
		}
	}
	return true;
}

static void
free_args(json_t **argv, int n)
{
	for (int i = 0; i < n; i++)
		json_decref(argv[i]);
}

static json_t *
call(mz_ev *ev, const mz_node *n, const json_t *target)
{
	json_t *argv[64];
	if (!eval_args(ev, n, argv))
		return NULL;
	json_t *res = n->kind == N_FUNC ?
	              mz_x_function(ev, n->name, argv, n->nargs) :
	              mz_x_method(ev, target, n->name, argv, n->nargs);
	free_args(argv, n->nargs);
	return res;
}

/* Runs e with #this = elem; the result is a new reference or NULL. */
static json_t *
with_this(mz_ev *ev, const mz_node *e, const json_t *elem)
{
	const json_t *saved = ev->self;
	bool saved_top = ev->at_root;
	ev->self = elem;
	ev->at_root = false;
	json_t *v = mz_x_eval(ev, e);
	ev->self = saved;
	ev->at_root = saved_top;
	return v;
}

/* Maps are iterated as entries {key, value}, like Map.Entry in SpEL. */
static json_t *
entry(const char *k, json_t *v)
{
	json_t *e = json_object();
	json_object_set_new(e, "key", json_string(k));
	json_object_set(e, "value", v);
	return e;
}

static json_t *
select_or_project(mz_ev *ev, const mz_node *n, const json_t *t)
{
	bool proj = n->kind == N_PROJECT;
	if (!t || json_is_null(t) || !(json_is_array(t) || json_is_object(t))) {
		if (proj)
			return mz_x_fail(ev, "EL1040E: Projection is not supported on "
			                 "the type '%s'", mz_x_type(t));
		return mz_x_fail(ev, "EL1018E: Cannot perform selection on input "
		                 "data of type '%s'", mz_x_type(t));
	}
	bool map = json_is_object(t);
	json_t *out = (map && !proj) ? json_object() : json_array();
	json_t *last = NULL;
	const char *lastk = NULL;
	void *it = map ? json_object_iter((json_t *)t) : NULL;
	size_t n_items = map ? json_object_size(t) : json_array_size(t);
	for (size_t i = 0; i < n_items; i++) {
		const char *k = NULL;
		json_t *elem, *item;
		if (map) {
			k = json_object_iter_key(it);
			elem = entry(k, json_object_iter_value(it));
			it = json_object_iter_next((json_t *)t, it);
		} else {
			elem = mz_x_ref(json_array_get(t, i));
		}
		json_t *v = with_this(ev, n->b, elem);
		if (!v) {
			json_decref(elem);
			goto fail;
		}
		if (proj) {
			json_array_append_new(out, v);
			json_decref(elem);
			continue;
		}
		if (!json_is_boolean(v)) {
			json_decref(v);
			json_decref(elem);
			mz_x_fail(ev, "EL1021E: Result of selection criteria is not "
			          "boolean");
			goto fail;
		}
		bool keep = json_is_true(v);
		json_decref(v);
		item = map ? json_object_get(elem, "value") : elem;
		if (keep && n->op == SEL_FIRST) {
			json_decref(out);
			if (map) {
				out = json_object();
				json_object_set(out, k, item);
			} else {
				out = mz_x_ref(item);
			}
			json_decref(elem);
			return out;
		}
		if (keep && n->op == SEL_LAST) {
			json_decref(last);
			last = mz_x_ref(item);
			lastk = k;
		} else if (keep) {
			if (map)
				json_object_set(out, k, item);
			else
				json_array_append(out, item);
		}
		json_decref(elem);
	}
	if (!proj && n->op != SEL_ALL) {
		/* No match for .^[ ] (or the last match for .$[ ]). */
		json_decref(out);
		if (!last)
			return json_null();
		if (!map)
			return last;
		out = json_object();
		json_object_set_new(out, lastk, last);
	}
	return out;
fail:
	json_decref(last);
	json_decref(out);
	return NULL;
}

static json_t *
eval_bool(mz_ev *ev, const mz_node *n, bool *out, const char *what)
{
	json_t *v = mz_x_eval(ev, n);
	if (!v)
		return NULL;
	bool ok = mz_x_tobool(ev, v, out, what);
	json_decref(v);
	return ok ? json_true() : NULL;
}

static json_t *
eval_logic(mz_ev *ev, const mz_node *n)
{
	bool a, b;
	bool is_and = n->kind == N_AND;
	const char *what = is_and ? "'and'" : "'or'";
	if (!eval_bool(ev, n->a, &a, what))
		return NULL;
	if (is_and ? !a : a)
		return json_boolean(a);         /* short-circuit */
	if (!eval_bool(ev, n->b, &b, what))
		return NULL;
	return json_boolean(b);
}

static json_t *
eval_map(mz_ev *ev, const mz_node *n)
{
	json_t *out = json_object();
	for (int i = 0; i + 1 < n->nargs; i += 2) {
		json_t *k = mz_x_eval(ev, n->args[i]);
		json_t *ks = k ? mz_x_string_of(ev, k) : NULL;
		json_t *v = ks ? mz_x_eval(ev, n->args[i + 1]) : NULL;
		json_decref(k);
		if (!v) {
			json_decref(ks);
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, json_string_value(ks), v);
		json_decref(ks);
	}
	return out;
}

json_t *
mz_x_eval(mz_ev *ev, const mz_node *n)
{
	json_t *a, *b, *res;
	bool cond;
	if (++ev->steps > ev->lim.max_steps)
		return mz_x_fail(ev, "Expression budget exceeded: more than %ld "
		                 "evaluation steps (expressions.maxSteps)",
		                 ev->lim.max_steps);
	/* The clock is read every 256 steps: cheap, and a step is short. */
	if ((ev->steps & 255) == 0 && !mz_x_budget_time(ev))
		return NULL;
	switch (n->kind) {
	case N_LIT:
		return mz_x_ref(n->lit);
	case N_IDENT:
		return ident(ev, n);
	case N_VAR:
		if (strcmp(n->name, "this") == 0)
			return ev->self ? mz_x_ref(ev->self) : json_null();
		if (strcmp(n->name, "root") == 0)
			return ev->root ? mz_x_ref(ev->root) : json_null();
		return json_null();     /* SpEL: an unset variable is null */
	case N_FUNC:
		return call(ev, n, NULL);
	case N_PROP:
	case N_METHOD:
	case N_INDEX:
		if (!n->a) {
			a = ev->self ? mz_x_ref(ev->self) : json_null();
		} else if (!(a = mz_x_eval(ev, n->a))) {
			return NULL;
		}
		if (json_is_null(a) && n->safe) {
			res = json_null();
		} else if (n->kind == N_INDEX) {
			res = index_value(ev, a, n);
		} else if (json_is_null(a)) {
			res = n->kind == N_PROP ? not_found(ev, n->name, a) :
			      mz_x_fail(ev, "EL1011E: Method call: Attempted to call "
			                "method %s() on null context object", n->name);
		} else if (n->kind == N_PROP) {
			res = property(ev, a, n->name, false);
		} else {
			res = call(ev, n, a);
		}
		json_decref(a);
		return res;
	case N_LIST:
		res = json_array();
		for (int i = 0; i < n->nargs; i++) {
			if (!(a = mz_x_eval(ev, n->args[i]))) {
				json_decref(res);
				return NULL;
			}
			json_array_append_new(res, a);
		}
		return res;
	case N_MAP:
		return eval_map(ev, n);
	case N_NEG:
		if (!(a = mz_x_eval(ev, n->a)))
			return NULL;
		if (n->op == 1)     /* unary plus */
			res = json_is_number(a) ? mz_x_ref(a) :
			      mz_x_fail(ev, "EL1030E: The operator 'ADD' is not "
			                "supported on an object of type '%s'",
			                mz_x_type(a));
		else
			res = mz_x_negate(ev, a);
		json_decref(a);
		return res;
	case N_NOT:
		if (!eval_bool(ev, n->a, &cond, "'not'"))
			return NULL;
		return json_boolean(!cond);
	case N_BIN:
		if (!(a = mz_x_eval(ev, n->a)))
			return NULL;
		if (!(b = mz_x_eval(ev, n->b))) {
			json_decref(a);
			return NULL;
		}
		res = mz_x_binop(ev, (mz_node *)n, a, b);
		json_decref(a);
		json_decref(b);
		return res;
	case N_AND:
	case N_OR:
		return eval_logic(ev, n);
	case N_TERNARY:
		if (!eval_bool(ev, n->a, &cond, "the ternary condition"))
			return NULL;
		return mz_x_eval(ev, cond ? n->b : n->c);
	case N_ELVIS:
		if (!(a = mz_x_eval(ev, n->a)))
			return NULL;
		if (!json_is_null(a) &&
		    !(json_is_string(a) && json_string_length(a) == 0))
			return a;
		json_decref(a);
		return mz_x_eval(ev, n->b);
	case N_SELECT:
	case N_PROJECT:
		if (!(a = mz_x_eval(ev, n->a)))
			return NULL;
		res = select_or_project(ev, n, a);
		json_decref(a);
		return res;
	}
	return mz_x_fail(ev, "internal error: unknown node");
}
