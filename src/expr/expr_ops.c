/*
 * expr_ops.c - binary and unary operators with SpEL's typing rules:
 * integers stay integers (Java long arithmetic, wrapping on overflow),
 * any real makes the result real, '+' concatenates when either side is a
 * string, and comparisons order null before everything.
 */
#include "expr/expr_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *
op_name(int op)
{
	static const char *names[] = {
		"ADD", "SUBTRACT", "MULTIPLY", "DIVIDE", "MODULUS", "POWER",
		"EQ", "NE", "LT", "LE", "GT", "GE", "MATCHES", "BETWEEN",
	};
	return names[op];
}

static json_t *
unsupported(mz_ev *ev, int op, const json_t *l, const json_t *r)
{
	return mz_x_fail(ev, "EL1030E: The operator '%s' is not supported "
	                 "between objects of type '%s' and '%s'", op_name(op),
	                 mz_x_type(l), mz_x_type(r));
}

/* JSON cannot carry NaN or infinities, so they are evaluation errors. */
static json_t *
real_result(mz_ev *ev, double d)
{
	if (!isfinite(d))
		return mz_x_fail(ev, "Arithmetic result is not a finite number");
	return json_real(d);
}

/* Wrapping long arithmetic done in unsigned, where overflow is defined. */
static json_t *
int_arith(mz_ev *ev, int op, json_int_t a, json_int_t b)
{
	uint64_t x = (uint64_t)a, y = (uint64_t)b;
	switch (op) {
	case OP_ADD: return json_integer((json_int_t)(x + y));
	case OP_SUB: return json_integer((json_int_t)(x - y));
	case OP_MUL: return json_integer((json_int_t)(x * y));
	case OP_DIV:
	case OP_MOD:
		if (b == 0)
			return mz_x_fail(ev, "java.lang.ArithmeticException: / by "
			                 "zero");
		if (b == -1)    /* avoids the INT64_MIN / -1 trap */
			return json_integer(op == OP_DIV ? (json_int_t)(0 - x) : 0);
		return json_integer(op == OP_DIV ? a / b : a % b);
	case OP_POW: {
		if (b < 0)
			return real_result(ev, pow((double)a, (double)b));
		json_int_t r = 1;
		for (json_int_t i = 0; i < b; i++) {
			if (__builtin_mul_overflow(r, a, &r))
				return real_result(ev, pow((double)a, (double)b));
			if (r == 0 || r == 1)
				break;  /* stays put: no need to loop b times */
		}
		if (r == 1 && a == -1 && (b % 2))
			r = -1;
		return json_integer(r);
	}
	}
	return NULL;
}

static json_t *
arith(mz_ev *ev, int op, const json_t *l, const json_t *r)
{
	if (json_is_integer(l) && json_is_integer(r))
		return int_arith(ev, op, json_integer_value(l),
		                 json_integer_value(r));
	double a = json_number_value(l), b = json_number_value(r);
	switch (op) {
	case OP_ADD: return real_result(ev, a + b);
	case OP_SUB: return real_result(ev, a - b);
	case OP_MUL: return real_result(ev, a * b);
	case OP_DIV: return real_result(ev, a / b);
	case OP_MOD: return real_result(ev, fmod(a, b));
	default: return real_result(ev, pow(a, b));
	}
}

static json_t *
concat(mz_ev *ev, const json_t *l, const json_t *r)
{
	mz_buf b;
	mz_buf_init(&b, ev->lim.max_string);
	json_t *res = NULL;
	if (mz_x_tostring(l, &b) == MZ_OK && mz_x_tostring(r, &b) == MZ_OK)
		res = mz_x_strn(ev, b.data, b.len);
	else
		mz_x_too_long(ev);
	mz_buf_release(&b);
	return res;
}

/* SpEL's 'ab' * 3 repeats the string. */
static json_t *
repeat(mz_ev *ev, const json_t *s, json_int_t n)
{
	size_t len = json_string_length(s);
	if (n < 0)
		return mz_x_fail(ev, "Cannot repeat a string %lld times",
		                 (long long)n);
	if (len && (uint64_t)n > ev->lim.max_string / len)
		return mz_x_too_long(ev);
	mz_buf b;
	mz_buf_init(&b, ev->lim.max_string);
	for (json_int_t i = 0; i < n; i++)
		mz_buf_add(&b, json_string_value(s), len);
	json_t *res = mz_x_strn(ev, b.data, b.len);
	mz_buf_release(&b);
	return res;
}

json_t *
mz_x_matches(mz_ev *ev, mz_node *n, const json_t *l, const json_t *r)
{
	if (!json_is_string(l) || !json_is_string(r))
		return mz_x_fail(ev, "EL1067E: The 'matches' operator needs "
		                 "strings on both sides, not %s and %s",
		                 mz_x_type(l), mz_x_type(r));
	/* A literal pattern is compiled once per parsed expression, which
	 * matters inside selections that run it per element. */
	if (!mz_x_budget_regex(ev, json_string_length(l)))
		return NULL;
	bool cache = n && n->b && n->b->kind == N_LIT;
	regex_t local, *re = &local;
	if (cache && n->re_state == 1) {
		re = n->re;
	} else {
		if (cache)
			re = mz_x_alloc(ev->ast, sizeof(regex_t));
		if (mz_x_regcomp(re, json_string_value(r), true, ev->err) != 0)
			return NULL;
		if (cache) {
			n->re = re;
			n->re_state = 1;
			mz_x_keep_regex(ev->ast, re);
		}
	}
	bool m = regexec(re, json_string_value(l), 0, NULL, 0) == 0;
	if (!cache)
		regfree(re);
	return json_boolean(m);
}

json_t *
mz_x_binop(mz_ev *ev, mz_node *n, const json_t *l, const json_t *r)
{
	int op = n->op, c;
	switch (op) {
	case OP_ADD:
		if (json_is_string(l) || json_is_string(r))
			return concat(ev, l, r);
		/* fallthrough */
	case OP_SUB:
	case OP_DIV:
	case OP_MOD:
	case OP_POW:
		if (json_is_number(l) && json_is_number(r))
			return arith(ev, op, l, r);
		return unsupported(ev, op, l, r);
	case OP_MUL:
		if (json_is_number(l) && json_is_number(r))
			return arith(ev, op, l, r);
		if (json_is_string(l) && json_is_integer(r))
			return repeat(ev, l, json_integer_value(r));
		return unsupported(ev, op, l, r);
	case OP_EQ:
		return json_boolean(mz_x_equal(l, r));
	case OP_NE:
		return json_boolean(!mz_x_equal(l, r));
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		if (!mz_x_compare(ev, l, r, &c))
			return NULL;
		return json_boolean(op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 :
		                    op == OP_GT ? c > 0 : c >= 0);
	case OP_MATCHES:
		return mz_x_matches(ev, n, l, r);
	case OP_BETWEEN: {
		int lo, hi;
		if (!json_is_array(r) || json_array_size(r) != 2)
			return mz_x_fail(ev, "EL1040E: Right operand for the "
			                 "'between' operator has to be a two-element "
			                 "list");
		if (!mz_x_compare(ev, l, json_array_get(r, 0), &lo) ||
		    !mz_x_compare(ev, l, json_array_get(r, 1), &hi))
			return NULL;
		return json_boolean(lo >= 0 && hi <= 0);
	}
	}
	return mz_x_fail(ev, "unknown operator");
}

json_t *
mz_x_negate(mz_ev *ev, const json_t *v)
{
	if (json_is_integer(v))
		return json_integer((json_int_t)(0 - (uint64_t)json_integer_value(v)));
	if (json_is_real(v))
		return json_real(-json_real_value(v));
	return mz_x_fail(ev, "EL1030E: The operator 'SUBTRACT' is not "
	                 "supported on an object of type '%s'", mz_x_type(v));
}

bool
mz_x_tobool(mz_ev *ev, const json_t *v, bool *out, const char *what)
{
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return true;
	}
	if (json_is_string(v)) {
		/* Spring's StringToBooleanConverter, trimmed and any case. */
		static const char *yes[] = {"true", "on", "yes", "1"};
		static const char *no[] = {"false", "off", "no", "0"};
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		while (n && isspace((unsigned char)*s))
			s++, n--;
		while (n && isspace((unsigned char)s[n - 1]))
			n--;
		for (int i = 0; i < 4; i++) {
			if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0) {
				*out = true;
				return true;
			}
			if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0) {
				*out = false;
				return true;
			}
		}
	}
	mz_x_fail(ev, "EL1001E: Type conversion problem, cannot convert from "
	          "%s to boolean%s%s", mz_x_type(v), what ? " for " : "",
	          what ? what : "");
	return false;
}
