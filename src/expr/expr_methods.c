/*
 * expr_methods.c - the allow-list of methods callable on values.
 *
 * Spinnaker lets expressions call Java methods on String, collections and
 * maps; we implement the ones pipelines use, with Java's semantics
 * (String.split drops trailing empty strings, replace() replaces all,
 * indexes count characters not bytes). Everything else is refused with
 * SpEL's "Method ... cannot be found" message, never looked up
 * reflectively.
 */
#include "expr/expr_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { M_STR = 1, M_LIST = 2, M_MAP = 4, M_NUM = 8, M_BOOL = 16,
       M_ANY = 31 };

typedef json_t *(*mfn)(mz_ev *ev, const json_t *self, json_t *const *args,
                       int nargs, const char *name);

/* Arguments declared as String: Spring converts other values with
 * toString(); null is Java's NullPointerException. */
static json_t *
sarg(mz_ev *ev, const json_t *v, const char *name)
{
	if (json_is_null(v))
		return mz_x_fail(ev, "java.lang.NullPointerException: null "
		                 "argument to %s()", name);
	return mz_x_string_of(ev, v);
}

static const char *
sv(const json_t *s)
{
	return json_string_value(s);
}

static size_t
sl(const json_t *s)
{
	return json_string_length(s);
}

static bool
iarg(mz_ev *ev, const json_t *v, int64_t *out, const char *name)
{
	if (mz_x_as_index(v, out))
		return true;
	mz_x_fail(ev, "EL1001E: Type conversion problem, cannot convert from "
	          "%s to int (argument of %s())", mz_x_type(v), name);
	return false;
}

/* ---- any value -------------------------------------------------------- */

static json_t *
m_tostring(mz_ev *ev, const json_t *self, json_t *const *a, int n,
           const char *name)
{
	return mz_x_string_of(ev, self);
}

static json_t *
m_equals(mz_ev *ev, const json_t *self, json_t *const *a, int n,
         const char *name)
{
	return json_boolean(mz_x_equal(self, a[0]));
}

/* ---- strings ---------------------------------------------------------- */

static json_t *
m_length(mz_ev *ev, const json_t *self, json_t *const *a, int n,
         const char *name)
{
	if (json_is_string(self))
		return json_integer((json_int_t)mz_x_u8len(sv(self), sl(self)));
	if (json_is_array(self))
		return json_integer((json_int_t)json_array_size(self));
	return json_integer((json_int_t)json_object_size(self));
}

static json_t *
m_isempty(mz_ev *ev, const json_t *self, json_t *const *a, int n,
          const char *name)
{
	json_t *len = m_length(ev, self, a, n, name);
	bool empty = json_integer_value(len) == 0;
	json_decref(len);
	return json_boolean(empty);
}

static json_t *
m_isblank(mz_ev *ev, const json_t *self, json_t *const *a, int n,
          const char *name)
{
	for (size_t i = 0; i < sl(self); i++)
		if (!isspace((unsigned char)sv(self)[i]))
			return json_false();
	return json_true();
}

/* contains, startsWith, endsWith, equalsIgnoreCase, concat, indexOf,
 * lastIndexOf: one string argument. */
static json_t *
m_strarg(mz_ev *ev, const json_t *self, json_t *const *a, int n,
         const char *name)
{
	json_t *arg = sarg(ev, a[0], name);
	if (!arg)
		return NULL;
	const char *s = sv(self), *t = sv(arg);
	size_t ls = sl(self), lt = sl(arg);
	json_t *res;
	if (strcmp(name, "contains") == 0) {
		res = json_boolean(memmem(s, ls, t, lt) != NULL);
	} else if (strcmp(name, "startsWith") == 0) {
		res = json_boolean(lt <= ls && memcmp(s, t, lt) == 0);
	} else if (strcmp(name, "endsWith") == 0) {
		res = json_boolean(lt <= ls && memcmp(s + ls - lt, t, lt) == 0);
	} else if (strcmp(name, "equalsIgnoreCase") == 0) {
		res = json_boolean(json_is_string(a[0]) && ls == lt &&
		                   strncasecmp(s, t, ls) == 0);
	} else if (strcmp(name, "concat") == 0) {
		char *buf = malloc(ls + lt + 1);
		memcpy(buf, s, ls);
		memcpy(buf + ls, t, lt);
		res = mz_x_strn(ev, buf, ls + lt);
		free(buf);
	} else if (strcmp(name, "indexOf") == 0) {
		const char *hit = memmem(s, ls, t, lt);
		res = json_integer(hit ? (json_int_t)mz_x_u8len(s, (size_t)(hit - s))
		                       : -1);
	} else {    /* lastIndexOf */
		json_int_t at = -1;
		for (size_t i = ls >= lt ? ls - lt + 1 : 0; i-- > 0;) {
			if (memcmp(s + i, t, lt) == 0) {
				at = (json_int_t)mz_x_u8len(s, i);
				break;
			}
		}
		res = json_integer(at);
	}
	json_decref(arg);
	return res;
}

static json_t *
m_case(mz_ev *ev, const json_t *self, json_t *const *a, int n,
       const char *name)
{
	bool upper = strcmp(name, "toUpperCase") == 0;
	char *buf = malloc(sl(self) + 1);
	for (size_t i = 0; i < sl(self); i++) {
		unsigned char c = (unsigned char)sv(self)[i];
		buf[i] = (char)(c >= 0x80 ? c : upper ? toupper(c) : tolower(c));
	}
	json_t *res = mz_x_strn(ev, buf, sl(self));
	free(buf);
	return res;
}

static json_t *
m_trim(mz_ev *ev, const json_t *self, json_t *const *a, int n,
       const char *name)
{
	/* Java's trim() drops every char <= ' ' at both ends. */
	const char *s = sv(self);
	size_t b = 0, e = sl(self);
	while (b < e && (unsigned char)s[b] <= ' ')
		b++;
	while (e > b && (unsigned char)s[e - 1] <= ' ')
		e--;
	return mz_x_strn(ev, s + b, e - b);
}

static json_t *
m_substring(mz_ev *ev, const json_t *self, json_t *const *a, int n,
            const char *name)
{
	const char *s = sv(self);
	int64_t len = (int64_t)mz_x_u8len(s, sl(self)), b, e = len;
	if (!iarg(ev, a[0], &b, name) || (n > 1 && !iarg(ev, a[1], &e, name)))
		return NULL;
	if (b < 0 || e > len || b > e)
		return mz_x_fail(ev, "java.lang.StringIndexOutOfBoundsException: "
		                 "begin %lld, end %lld, length %lld", (long long)b,
		                 (long long)e, (long long)len);
	size_t ob = mz_x_u8off(s, sl(self), (size_t)b);
	size_t oe = mz_x_u8off(s, sl(self), (size_t)e);
	return mz_x_strn(ev, s + ob, oe - ob);
}

static json_t *
m_charat(mz_ev *ev, const json_t *self, json_t *const *a, int n,
         const char *name)
{
	const char *s = sv(self);
	int64_t len = (int64_t)mz_x_u8len(s, sl(self)), i;
	if (!iarg(ev, a[0], &i, name))
		return NULL;
	if (i < 0 || i >= len)
		return mz_x_fail(ev, "java.lang.StringIndexOutOfBoundsException: "
		                 "index %lld, length %lld", (long long)i,
		                 (long long)len);
	size_t ob = mz_x_u8off(s, sl(self), (size_t)i);
	size_t oe = mz_x_u8off(s, sl(self), (size_t)i + 1);
	return mz_x_strn(ev, s + ob, oe - ob);
}

/* String.replace(CharSequence, CharSequence): every literal occurrence;
 * an empty target inserts the replacement around every character. */
static json_t *
m_replace(mz_ev *ev, const json_t *self, json_t *const *a, int n,
          const char *name)
{
	json_t *from = sarg(ev, a[0], name), *to = from ? sarg(ev, a[1], name)
	                                            : NULL;
	json_t *res = NULL;
	if (!to)
		goto out;
	const char *s = sv(self);
	size_t ls = sl(self), lf = sl(from), i = 0;
	mz_buf b;
	mz_buf_init(&b, ev->lim.max_string);
	mz_code rc = MZ_OK;
	while (i <= ls && !rc) {
		if (lf == 0) {
			rc = mz_buf_add(&b, sv(to), sl(to));
			if (i == ls)
				break;
			size_t next = mz_x_u8off(s + i, ls - i, 1) + i;
			if (!rc)
				rc = mz_buf_add(&b, s + i, next - i);
			i = next;
			continue;
		}
		const char *hit = memmem(s + i, ls - i, sv(from), lf);
		if (!hit) {
			rc = mz_buf_add(&b, s + i, ls - i);
			break;
		}
		rc = mz_buf_add(&b, s + i, (size_t)(hit - s) - i);
		if (!rc)
			rc = mz_buf_add(&b, sv(to), sl(to));
		i = (size_t)(hit - s) + lf;
	}
	res = rc ? mz_x_too_long(ev) :
	      mz_x_strn(ev, b.data, b.len);
	mz_buf_release(&b);
out:
	json_decref(from);
	json_decref(to);
	return res;
}

/* Appends a Java replacement string: $n is group n, \x is x. */
static mz_code
add_replacement(mz_buf *b, const char *s, const char *rep, size_t lr,
                const regmatch_t *m)
{
	mz_code rc = MZ_OK;
	for (size_t i = 0; i < lr && !rc; i++) {
		if (rep[i] == '\\' && i + 1 < lr) {
			rc = mz_buf_add(b, rep + ++i, 1);
		} else if (rep[i] == '$' && i + 1 < lr && isdigit((unsigned char)rep[i + 1])) {
			int g = rep[++i] - '0';
			if (m[g].rm_so >= 0)
				rc = mz_buf_add(b, s + m[g].rm_so,
				                (size_t)(m[g].rm_eo - m[g].rm_so));
		} else {
			rc = mz_buf_add(b, rep + i, 1);
		}
	}
	return rc;
}

/* replaceAll / replaceFirst with a Java-flavoured regex. */
static json_t *
m_replace_re(mz_ev *ev, const json_t *self, json_t *const *a, int n,
             const char *name)
{
	json_t *pat = sarg(ev, a[0], name), *to = pat ? sarg(ev, a[1], name)
	                                           : NULL;
	json_t *res = NULL;
	regex_t re;
	if (!to || mz_x_regcomp(&re, sv(pat), false, ev->err) != 0)
		goto out;
	bool all = strcmp(name, "replaceAll") == 0;
	const char *s = sv(self);
	size_t ls = sl(self), pos = 0;
	mz_buf b;
	mz_buf_init(&b, ev->lim.max_string);
	mz_code rc = MZ_OK;
	regmatch_t m[10];
	bool done = false;
	if (!mz_x_budget_regex(ev, ls)) {
		regfree(&re);
		mz_buf_release(&b);
		goto out;
	}
	bool late = false;
	while (!rc && !done && pos <= ls && !(late = !mz_x_budget_time(ev)) &&
	       regexec(&re, s + pos, 10, m, pos ? REG_NOTBOL : 0) == 0) {
		/* Offsets from regexec are relative to s + pos. */
		for (int g = 0; g < 10; g++)
			if (m[g].rm_so >= 0) {
				m[g].rm_so += (regoff_t)pos;
				m[g].rm_eo += (regoff_t)pos;
			}
		size_t ms = (size_t)m[0].rm_so, me = (size_t)m[0].rm_eo;
		rc = mz_buf_add(&b, s + pos, ms - pos);
		if (!rc)
			rc = add_replacement(&b, s, sv(to), sl(to), m);
		pos = me;
		if (ms == me) {     /* empty match: step over one character */
			if (pos >= ls) {
				pos = ls + 1;
				break;
			}
			size_t nx = pos + mz_x_u8off(s + pos, ls - pos, 1);
			if (!rc)
				rc = mz_buf_add(&b, s + pos, nx - pos);
			pos = nx;
		}
		done = !all;
	}
	if (!rc && pos < ls)
		rc = mz_buf_add(&b, s + pos, ls - pos);
	regfree(&re);
	res = late ? NULL : rc ? mz_x_too_long(ev) :
	      mz_x_strn(ev, b.data, b.len);
	mz_buf_release(&b);
out:
	json_decref(pat);
	json_decref(to);
	return res;
}

static json_t *
m_matches(mz_ev *ev, const json_t *self, json_t *const *a, int n,
          const char *name)
{
	json_t *pat = sarg(ev, a[0], name);
	json_t *res = pat ? mz_x_matches(ev, NULL, self, pat) : NULL;
	json_decref(pat);
	return res;
}

static bool
plain_separator(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strchr(".$|()[]{}^?*+\\", p[i]))
			return false;
	return n > 0;
}

/* Java's String.split(regex[, limit]): a zero-width match at the very
 * start adds no leading empty string; with no limit (or 0) trailing empty
 * strings are dropped, a positive limit caps the number of pieces and a
 * negative one keeps everything. */
static json_t *
m_split(mz_ev *ev, const json_t *self, json_t *const *a, int n,
        const char *name)
{
	int64_t limit = 0;
	if (n > 1 && !iarg(ev, a[1], &limit, name))
		return NULL;
	json_t *pat = sarg(ev, a[0], name);
	if (!pat)
		return NULL;
	const char *s = sv(self), *p = sv(pat);
	size_t ls = sl(self), lp = sl(pat), pos = 0, piece = 0;
	char lit[2] = {0};
	bool plain = plain_separator(p, lp);
	if (!plain && lp == 2 && p[0] == '\\' && !isalnum((unsigned char)p[1])) {
		lit[0] = p[1];      /* "\\." and friends are literal too */
		p = lit;
		lp = 1;
		plain = true;
	}
	regex_t re;
	if (!plain && !mz_x_budget_regex(ev, ls)) {
		json_decref(pat);
		return NULL;
	}
	if (!plain && mz_x_regcomp(&re, p, false, ev->err) != 0) {
		json_decref(pat);
		return NULL;
	}
	json_t *out = json_array();
	bool matched = false;
	while (pos <= ls) {
		size_t ms, me;
		if (limit > 0 && json_array_size(out) + 1 >= (uint64_t)limit)
			break;
		if (plain) {
			const char *hit = memmem(s + pos, ls - pos, p, lp);
			if (!hit)
				break;
			ms = (size_t)(hit - s);
			me = ms + lp;
		} else {
			regmatch_t m;
			if (!mz_x_budget_time(ev)) {
				regfree(&re);
				json_decref(pat);
				json_decref(out);
				return NULL;
			}
			if (regexec(&re, s + pos, 1, &m, pos ? REG_NOTBOL : 0) != 0)
				break;
			ms = pos + (size_t)m.rm_so;
			me = pos + (size_t)m.rm_eo;
		}
		if (me == ms && (ms == 0 || ms >= ls)) {
			/* Zero-width at either end never splits. */
			if (ms >= ls)
				break;
			pos = mz_x_u8off(s, ls, 1);
			continue;
		}
		matched = true;
		json_array_append_new(out, json_stringn(s + piece, ms - piece));
		piece = me;
		pos = me > ms ? me : ms + mz_x_u8off(s + ms, ls - ms, 1);
	}
	if (!plain)
		regfree(&re);
	json_decref(pat);
	json_array_append_new(out, json_stringn(s + piece, ls - piece));
	if (matched && limit == 0) {
		size_t k = json_array_size(out);
		while (k > 0 && json_string_length(json_array_get(out, k - 1)) == 0)
			json_array_remove(out, --k);
	}
	/* A regex can cut through a UTF-8 sequence; json_stringn refuses. */
	for (size_t i = 0; i < json_array_size(out); i++)
		if (!json_is_string(json_array_get(out, i))) {
			json_decref(out);
			return mz_x_fail(ev, "split() produced invalid UTF-8");
		}
	return out;
}

/* ---- lists and maps --------------------------------------------------- */

static json_t *
m_list_contains(mz_ev *ev, const json_t *self, json_t *const *a, int n,
                const char *name)
{
	size_t i;
	json_t *e;
	bool want_index = strcmp(name, "indexOf") == 0;
	json_array_foreach(self, i, e) {
		if (mz_x_equal(e, a[0]))
			return want_index ? json_integer((json_int_t)i) : json_true();
	}
	return want_index ? json_integer(-1) : json_false();
}

static json_t *
m_list_get(mz_ev *ev, const json_t *self, json_t *const *a, int n,
           const char *name)
{
	int64_t i;
	if (!iarg(ev, a[0], &i, name))
		return NULL;
	if (i < 0 || (uint64_t)i >= json_array_size(self))
		return mz_x_fail(ev, "java.lang.IndexOutOfBoundsException: Index "
		                 "%lld out of bounds for length %zu", (long long)i,
		                 json_array_size(self));
	return mz_x_ref(json_array_get(self, (size_t)i));
}

static json_t *
m_map_get(mz_ev *ev, const json_t *self, json_t *const *a, int n,
          const char *name)
{
	json_t *k = json_is_null(a[0]) ? NULL : mz_x_string_of(ev, a[0]);
	json_t *v = k ? json_object_get(self, sv(k)) : NULL;
	json_decref(k);
	if (strcmp(name, "containsKey") == 0)
		return json_boolean(v != NULL);
	if (v)
		return mz_x_ref(v);
	return n > 1 ? mz_x_ref(a[1]) : json_null();    /* getOrDefault */
}

static json_t *
m_map_values(mz_ev *ev, const json_t *self, json_t *const *a, int n,
             const char *name)
{
	const char *k;
	json_t *v;
	json_t *out = json_array();
	bool keys = strcmp(name, "keySet") == 0;
	bool probe = strcmp(name, "containsValue") == 0;
	json_object_foreach((json_t *)self, k, v) {
		if (probe && mz_x_equal(v, a[0])) {
			json_decref(out);
			return json_true();
		}
		if (!probe)
			json_array_append_new(out, keys ? json_string(k) : mz_x_ref(v));
	}
	if (probe) {
		json_decref(out);
		return json_false();
	}
	return out;
}

/* ---- numbers and booleans --------------------------------------------- */

static json_t *
m_number(mz_ev *ev, const json_t *self, json_t *const *a, int n,
         const char *name)
{
	if (strcmp(name, "doubleValue") == 0)
		return json_real(json_number_value(self));
	if (json_is_integer(self))
		return mz_x_ref(self);
	double d = json_real_value(self);
	if (d != d)
		return json_integer(0);
	if (d >= 9.2e18 || d <= -9.2e18)
		return json_integer(d > 0 ? INT64_MAX : INT64_MIN);
	return json_integer((json_int_t)d);
}

static json_t *
m_boolvalue(mz_ev *ev, const json_t *self, json_t *const *a, int n,
            const char *name)
{
	return mz_x_ref(self);
}

static const struct method {
	const char *name;
	unsigned types;
	int min, max;
	mfn fn;
} methods[] = {
	{"toString", M_ANY, 0, 0, m_tostring},
	{"equals", M_ANY, 1, 1, m_equals},
	{"length", M_STR, 0, 0, m_length},
	{"size", M_LIST | M_MAP, 0, 0, m_length},
	{"isEmpty", M_STR | M_LIST | M_MAP, 0, 0, m_isempty},
	{"isBlank", M_STR, 0, 0, m_isblank},
	{"contains", M_STR, 1, 1, m_strarg},
	{"startsWith", M_STR, 1, 1, m_strarg},
	{"endsWith", M_STR, 1, 1, m_strarg},
	{"equalsIgnoreCase", M_STR, 1, 1, m_strarg},
	{"concat", M_STR, 1, 1, m_strarg},
	{"indexOf", M_STR, 1, 1, m_strarg},
	{"lastIndexOf", M_STR, 1, 1, m_strarg},
	{"toLowerCase", M_STR, 0, 0, m_case},
	{"toUpperCase", M_STR, 0, 0, m_case},
	{"trim", M_STR, 0, 0, m_trim},
	{"strip", M_STR, 0, 0, m_trim},
	{"substring", M_STR, 1, 2, m_substring},
	{"charAt", M_STR, 1, 1, m_charat},
	{"replace", M_STR, 2, 2, m_replace},
	{"replaceAll", M_STR, 2, 2, m_replace_re},
	{"replaceFirst", M_STR, 2, 2, m_replace_re},
	{"matches", M_STR, 1, 1, m_matches},
	{"split", M_STR, 1, 2, m_split},
	{"contains", M_LIST, 1, 1, m_list_contains},
	{"indexOf", M_LIST, 1, 1, m_list_contains},
	{"get", M_LIST, 1, 1, m_list_get},
	{"get", M_MAP, 1, 1, m_map_get},
	{"getOrDefault", M_MAP, 2, 2, m_map_get},
	{"containsKey", M_MAP, 1, 1, m_map_get},
	{"containsValue", M_MAP, 1, 1, m_map_values},
	{"keySet", M_MAP, 0, 0, m_map_values},
	{"values", M_MAP, 0, 0, m_map_values},
	{"intValue", M_NUM, 0, 0, m_number},
	{"longValue", M_NUM, 0, 0, m_number},
	{"doubleValue", M_NUM, 0, 0, m_number},
	{"booleanValue", M_BOOL, 0, 0, m_boolvalue},
};

static unsigned
type_bit(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return M_STR;
	case JSON_ARRAY: return M_LIST;
	case JSON_OBJECT: return M_MAP;
	case JSON_INTEGER:
	case JSON_REAL: return M_NUM;
	case JSON_TRUE:
	case JSON_FALSE: return M_BOOL;
	default: return 0;
	}
}

json_t *
mz_x_method(mz_ev *ev, const json_t *target, const char *name,
            json_t *const *args, int nargs)
{
	unsigned bit = type_bit(target);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		const struct method *m = &methods[i];
		if ((m->types & bit) && nargs >= m->min && nargs <= m->max &&
		    strcmp(m->name, name) == 0)
			return m->fn(ev, target, args, nargs, name);
	}
	/* SpEL names the argument types it was looking for. */
	char sig[256];
	size_t o = 0;
	sig[0] = '\0';
	for (int i = 0; i < nargs && o < sizeof(sig) - 1; i++)
		o += (size_t)snprintf(sig + o, sizeof(sig) - o, "%s%s",
		                      i ? "," : "", mz_x_type(args[i]));
	return mz_x_fail(ev, "EL1004E: Method call: Method %s(%s) cannot be "
	                 "found on type %s", name, sig, mz_x_type(target));
}
