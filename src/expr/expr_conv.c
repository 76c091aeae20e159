/*
 * expr_conv.c - the parts of Java's behaviour people can see in results:
 * how values print (Double.toString, List/Map toString), how they compare,
 * and how Java regex syntax maps onto POSIX ERE (regcomp).
 */
#include "expr/expr_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
mz_x_type(const json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING: return "java.lang.String";
	case JSON_INTEGER: return "java.lang.Integer";
	case JSON_REAL: return "java.lang.Double";
	case JSON_TRUE:
	case JSON_FALSE: return "java.lang.Boolean";
	case JSON_ARRAY: return "java.util.ArrayList";
	case JSON_OBJECT: return "java.util.LinkedHashMap";
	default: return "null";
	}
}

/*
 * Java prints the shortest digits that read back to the same double, in
 * plain notation for 1e-3 <= |d| < 1e7 and as d.dddE<n> otherwise, always
 * with at least one fractional digit ("2.0", "1.0E10").
 */
void
mz_x_fmt_double(double d, char *out)
{
	if (isnan(d)) {
		strcpy(out, "NaN");
		return;
	}
	if (isinf(d)) {
		strcpy(out, d < 0 ? "-Infinity" : "Infinity");
		return;
	}
	if (d == 0) {
		strcpy(out, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	char sci[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(sci, sizeof(sci), "%.*e", prec - 1, d);
		if (strtod(sci, NULL) == d)
			break;
	}
	/* sci is [-]D[.DDD]e[+-]XX: collect the digits and the exponent. */
	char digits[24];
	size_t nd = 0;
	const char *s = sci;
	bool neg = *s == '-';
	if (neg)
		s++;
	for (; *s && *s != 'e'; s++)
		if (*s != '.' && nd < sizeof(digits) - 1)
			digits[nd++] = *s;
	int exp = *s == 'e' ? atoi(s + 1) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';

	char *o = out;
	if (neg)
		*o++ = '-';
	double a = fabs(d);
	if (a >= 1e-3 && a < 1e7) {
		if (exp >= 0) {
			for (int i = 0; i <= exp; i++)
				*o++ = (size_t)i < nd ? digits[i] : '0';
			*o++ = '.';
			if ((size_t)exp + 1 < nd)
				for (size_t i = (size_t)exp + 1; i < nd; i++)
					*o++ = digits[i];
			else
				*o++ = '0';
		} else {
			*o++ = '0';
			*o++ = '.';
			for (int i = 0; i < -exp - 1; i++)
				*o++ = '0';
			for (size_t i = 0; i < nd; i++)
				*o++ = digits[i];
		}
		*o = '\0';
	} else {
		*o++ = digits[0];
		*o++ = '.';
		if (nd > 1)
			for (size_t i = 1; i < nd; i++)
				*o++ = digits[i];
		else
			*o++ = '0';
		sprintf(o, "E%d", exp);
	}
}

static mz_code
tostr(const json_t *v, mz_buf *b, bool conv, int depth)
{
	char num[48];
	mz_code rc = MZ_OK;
	if (depth > MZ_X_MAX_DATA_DEPTH)
		return MZ_EINVAL;
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		return mz_buf_add(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
		return mz_buf_adds(b, num);
	case JSON_REAL:
		mz_x_fmt_double(json_real_value(v), num);
		return mz_buf_adds(b, num);
	case JSON_TRUE:
		return mz_buf_adds(b, "true");
	case JSON_FALSE:
		return mz_buf_adds(b, "false");
	case JSON_ARRAY: {
		/* Spring's converter joins a collection with ","; toString()
		 * is AbstractCollection's "[a, b]". */
		size_t i;
		json_t *e;
		if (!conv)
			rc = mz_buf_adds(b, "[");
		json_array_foreach(v, i, e) {
			if (!rc && i)
				rc = mz_buf_adds(b, conv ? "," : ", ");
			if (!rc)
				rc = tostr(e, b, conv, depth + 1);
		}
		if (!rc && !conv)
			rc = mz_buf_adds(b, "]");
		return rc;
	}
	case JSON_OBJECT: {
		const char *k;
		json_t *e;
		bool first = true;
		rc = mz_buf_adds(b, "{");
		json_object_foreach((json_t *)v, k, e) {
			if (!rc && !first)
				rc = mz_buf_adds(b, ", ");
			first = false;
			if (!rc)
				rc = mz_buf_printf(b, "%s=", k);
			if (!rc)
				rc = tostr(e, b, false, depth + 1);
		}
		if (!rc)
			rc = mz_buf_adds(b, "}");
		return rc;
	}
	default:
		return mz_buf_adds(b, "null");
	}
}

mz_code
mz_x_tostring(const json_t *v, mz_buf *b)
{
	return tostr(v, b, false, 0);
}

mz_code
mz_x_tostring_conv(const json_t *v, mz_buf *b)
{
	return tostr(v, b, true, 0);
}

json_t *
mz_x_strn(mz_ev *ev, const char *s, size_t len)
{
	if (len > ev->lim.max_string)
		return mz_x_fail(ev, "Expression budget exceeded: a string of %zu "
		                 "bytes is longer than %zu (expressions.maxStringBytes)",
		                 len, ev->lim.max_string);
	json_t *j = json_stringn(s, len);
	if (!j)
		return mz_x_fail(ev, "String result is not valid UTF-8");
	return j;
}

json_t *
mz_x_string_of(mz_ev *ev, const json_t *v)
{
	if (json_is_string(v))
		return mz_x_ref(v);
	mz_buf b;
	mz_buf_init(&b, ev->lim.max_string);
	if (mz_x_tostring(v, &b) != MZ_OK) {
		mz_buf_release(&b);
		return mz_x_too_long(ev);
	}
	json_t *j = mz_x_strn(ev, b.data, b.len);
	mz_buf_release(&b);
	return j;
}

static bool
equal(const json_t *a, const json_t *b, int depth)
{
	if (a == b)
		return true;
	if (!a || !b || depth > MZ_X_MAX_DATA_DEPTH)
		return false;
	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	}
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b),
		              json_string_length(a)) == 0;
	case JSON_ARRAY: {
		size_t n = json_array_size(a);
		if (n != json_array_size(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!equal(json_array_get(a, i), json_array_get(b, i),
			           depth + 1))
				return false;
		return true;
	}
	case JSON_OBJECT: {
		const char *k;
		json_t *e;
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, k, e) {
			if (!equal(e, json_object_get(b, k), depth + 1))
				return false;
		}
		return true;
	}
	default:    /* true, false, null: same type is equal */
		return true;
	}
}

bool
mz_x_equal(const json_t *a, const json_t *b)
{
	if (json_is_null(a))
		a = NULL;
	if (json_is_null(b))
		b = NULL;
	return equal(a, b, 0);
}

bool
mz_x_compare(mz_ev *ev, const json_t *a, const json_t *b, int *out)
{
	bool an = !a || json_is_null(a), bn = !b || json_is_null(b);
	if (an || bn) {     /* SpEL orders null before everything */
		*out = an && bn ? 0 : an ? -1 : 1;
		return true;
	}
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		*out = x < y ? -1 : x > y;
		return true;
	}
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		*out = x < y ? -1 : x > y;
		return true;
	}
	if (json_is_string(a) && json_is_string(b)) {
		size_t la = json_string_length(a), lb = json_string_length(b);
		int c = memcmp(json_string_value(a), json_string_value(b),
		               la < lb ? la : lb);
		*out = c ? (c < 0 ? -1 : 1) : (la < lb ? -1 : la > lb);
		return true;
	}
	if (json_is_boolean(a) && json_is_boolean(b)) {
		*out = (int)json_is_true(a) - (int)json_is_true(b);
		return true;
	}
	mz_x_fail(ev, "EL1013E: Cannot compare instances of %s and %s",
	          mz_x_type(a), mz_x_type(b));
	return false;
}

size_t
mz_x_u8len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

size_t
mz_x_u8off(const char *s, size_t len, size_t i)
{
	size_t off = 0;
	while (off < len && i > 0) {
		off++;
		while (off < len && ((unsigned char)s[off] & 0xC0) == 0x80)
			off++;
		i--;
	}
	return off;
}

bool
mz_x_as_index(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d != floor(d) || fabs(d) > 9e15)
			return false;
		*out = (int64_t)d;
		return true;
	}
	if (json_is_string(v)) {
		char *end;
		errno = 0;
		long long x = strtoll(json_string_value(v), &end, 10);
		if (end == json_string_value(v) || *end || errno)
			return false;
		*out = x;
		return true;
	}
	return false;
}

/* ---- Java regex -> POSIX ERE ------------------------------------------ */

/* A Java character class [..] rewritten for POSIX, where ']' must come
 * first, '-' last, '^' not first, and backslash is not an escape. */
static const char *
bracket(const char *p, mz_buf *o)
{
	bool neg = false, rb = false, dash = false, caret = false;
	mz_buf body;
	mz_buf_init(&body, 0);
	p++;            /* '[' */
	if (*p == '^') {
		neg = true;
		p++;
	}
	bool first = true;
	for (; *p && (*p != ']' || first); first = false) {
		char c = *p++;
		if (c == '[' || (c == '&' && *p == '&')) {
			mz_buf_release(&body);
			return NULL;    /* nested classes and && unsupported */
		}
		if (c == '\\') {
			char e = *p ? *p++ : '\\';
			switch (e) {
			case 'd': mz_buf_adds(&body, "0-9"); continue;
			case 's': mz_buf_adds(&body, "[:space:]"); continue;
			case 'w': mz_buf_adds(&body, "[:alnum:]_"); continue;
			case 't': c = '\t'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 'D': case 'S': case 'W':
				mz_buf_release(&body);
				return NULL;
			default: c = e; break;
			}
		} else if (*p == '-' && p[1] && p[1] != ']' && p[1] != '\\') {
			char range[4] = {c, '-', p[1], '\0'};
			mz_buf_adds(&body, range);
			p += 2;
			continue;
		}
		if (c == ']')
			rb = true;
		else if (c == '-')
			dash = true;
		else if (c == '^')
			caret = true;
		else
			mz_buf_add(&body, &c, 1);
	}
	if (*p != ']') {
		mz_buf_release(&body);
		return NULL;
	}
	if (!body.len && !rb && caret && !neg) {
		mz_buf_adds(o, "\\^");
		if (dash)
			mz_buf_adds(o, "|-");
	} else {
		mz_buf_adds(o, neg ? "[^" : "[");
		if (rb)
			mz_buf_adds(o, "]");
		mz_buf_add(o, body.data, body.len);
		if (caret)
			mz_buf_adds(o, "^");
		if (dash)
			mz_buf_adds(o, "-");
		mz_buf_adds(o, "]");
	}
	mz_buf_release(&body);
	return p + 1;
}

static bool
translate(const char *p, mz_buf *o, int *flags)
{
	if (strncmp(p, "(?i)", 4) == 0) {
		*flags |= REG_ICASE;
		p += 4;
	}
	bool after_quant = false;
	while (*p) {
		char c = *p;
		if (after_quant && (c == '?' || c == '+')) {
			p++;    /* lazy/possessive: POSIX has only greedy */
			after_quant = false;
			continue;
		}
		after_quant = false;
		if (c == '[') {
			if (!(p = bracket(p, o)))
				return false;
			continue;
		}
		if (c == '(' && p[1] == '?') {
			if (p[2] != ':')
				return false;   /* lookaround, named groups */
			mz_buf_adds(o, "(");
			p += 3;
			continue;
		}
		if (c == '\\' && p[1]) {
			char e = p[1];
			p += 2;
			switch (e) {
			case 'd': mz_buf_adds(o, "[0-9]"); break;
			case 'D': mz_buf_adds(o, "[^0-9]"); break;
			case 't': mz_buf_adds(o, "\t"); break;
			case 'n': mz_buf_adds(o, "\n"); break;
			case 'r': mz_buf_adds(o, "\r"); break;
			case 'A': mz_buf_adds(o, "^"); break;
			case 'z': case 'Z': mz_buf_adds(o, "$"); break;
			case 'Q': {
				const char *end = strstr(p, "\\E");
				size_t n = end ? (size_t)(end - p) : strlen(p);
				for (size_t i = 0; i < n; i++) {
					if (strchr(".[]{}()\\*+?^$|", p[i]))
						mz_buf_adds(o, "\\");
					mz_buf_add(o, p + i, 1);
				}
				p += n + (end ? 2 : 0);
				break;
			}
			case '1': case '2': case '3': case '4': case '5':
			case '6': case '7': case '8': case '9':
				/* Back-references make matching exponential
				 * in glibc: outside the expression budget. */
				return false;
			default: {
				/* \w \s \b and escaped punctuation are GNU ERE too. */
				char esc[3] = {'\\', e, '\0'};
				mz_buf_adds(o, esc);
				break;
			}
			}
			continue;
		}
		if (c == '*' || c == '+' || c == '?' || c == '}')
			after_quant = true;
		mz_buf_add(o, &c, 1);
		p++;
	}
	return true;
}

int
mz_x_regcomp(regex_t *re, const char *pat, bool whole, mz_err *err)
{
	mz_buf o;
	int flags = REG_EXTENDED;
	mz_buf_init(&o, 0);
	if (whole)
		mz_buf_adds(&o, "^(");
	if (!translate(pat, &o, &flags)) {
		mz_buf_release(&o);
		mz_fail(err, MZ_EINVAL, "Unsupported regular expression '%s' "
		        "(lookaround, back-references, nested classes and named "
		        "groups are not available)", pat);
		return -1;
	}
	if (whole)
		mz_buf_adds(&o, ")$");
	int rc = regcomp(re, o.data, flags);
	mz_buf_release(&o);
	if (rc) {
		char msg[128];
		regerror(rc, re, msg, sizeof(msg));
		mz_fail(err, MZ_EINVAL, "Invalid regular expression '%s': %s", pat,
		        msg);
		return -1;
	}
	return 0;
}
