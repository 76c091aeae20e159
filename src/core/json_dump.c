/*
 * json_dump.c - compact JSON text of a jansson value, byte for byte what
 * json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) writes, about five times
 * faster.
 *
 * Every engine transaction serialises the executions it changed, and every
 * queued message is keyed by its text, so serialising is on the hot path.
 * jansson's dumper formats each container's address with snprintf into a
 * hash table (its cycle check) and writes through a callback one piece at a
 * time; this one appends to one growing buffer and copies runs of plain
 * characters at once. Documents deeper than MAX_DEPTH (a cycle, or a
 * pathological input) and real numbers are handed to jansson, so its
 * cycle refusal and its number formatting stay the reference.
 */
#include "core/core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 512

typedef struct out {
	char *p;
	size_t len, cap;
	bool failed; /* a value jansson refuses (a cycle) */
} out;

static void
grow(out *o, size_t extra)
{
	size_t cap = o->cap ? o->cap : 256;
	while (cap < o->len + extra + 1)
		cap *= 2;
	char *p = realloc(o->p, cap);
	if (!p) {
		mz_error("out of memory serialising JSON");
		abort();
	}
	o->p = p;
	o->cap = cap;
}

/* Called for every piece written: the check inline, the growth not. */
static inline void
reserve(out *o, size_t extra)
{
	if (o->len + extra + 1 > o->cap)
		grow(o, extra);
}

static inline void
put(out *o, const char *s, size_t n)
{
	reserve(o, n);
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static inline void
putc1(out *o, char c)
{
	reserve(o, 1);
	o->p[o->len++] = c;
}

/* Whether none of the 8 bytes in v needs escaping: no control character
 * (< 0x20), no '"', no '\\'. Each test sets a byte's high bit where the
 * byte matches (a borrow can flag more only above a true match); bytes of
 * UTF-8 sequences (>= 0x80) never match. */
static inline bool
plain8(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
	uint64_t control = (v - ones * 0x20) & ~v, quote = (q - ones) & ~q,
	         backslash = (b - ones) & ~b;
	return ((control | quote | backslash) & high) == 0;
}

/* A JSON string: '"' and '\\' escaped, control characters as jansson
 * writes them (\b \f \n \r \t, else \u00XX); everything else, UTF-8
 * included, copied as it is. Runs of plain characters are found eight
 * bytes at a time and copied at once. */
static void
put_string(out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0, i = 0;
	reserve(o, n + 2);
	o->p[o->len++] = '"';
	while (i < n) {
		while (i + 8 <= n) {
			uint64_t v;
			memcpy(&v, s + i, 8);
			if (!plain8(v))
				break;
			i += 8;
		}
		if (i >= n)
			break;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		put(o, s + run, i - run);
		run = ++i;
		char esc[6] = {'\\', 0};
		size_t k = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			k = 6;
		}
		put(o, esc, k);
	}
	put(o, s + run, n - run);
	putc1(o, '"');
}

/* An integer in decimal, as printf's %lld writes it (snprintf's format
 * parsing cost more than the digits: an execution has dozens of times). */
static void
put_int(out *o, json_int_t v)
{
	char num[24];
	char *end = num + sizeof(num), *p = end;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	put(o, p, (size_t)(end - p));
}

static void
put_jansson(out *o, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s) {
		o->failed = true;
		return;
	}
	put(o, s, strlen(s));
	free(s);
}

typedef struct kv {
	const char *key;
	size_t len;
	json_t *val;
} kv;

static int
kv_cmp(const void *a, const void *b)
{
	const kv *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void dump(out *o, const json_t *v, bool sorted, int depth);

static void
dump_object(out *o, const json_t *v, bool sorted, int depth)
{
	json_t *obj = (json_t *)v;
	void *it;
	bool first = true;
	putc1(o, '{');
	if (!sorted) {
		for (it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
			if (!first)
				putc1(o, ',');
			first = false;
			put_string(o, json_object_iter_key(it), json_object_iter_key_len(it));
			putc1(o, ':');
			dump(o, json_object_iter_value(it), sorted, depth + 1);
		}
	} else {
		size_t n = json_object_size(obj), i = 0;
		kv *keys = malloc((n ? n : 1) * sizeof(*keys));
		if (!keys)
			abort();
		for (it = json_object_iter(obj); it && i < n; it = json_object_iter_next(obj, it))
			keys[i++] = (kv){json_object_iter_key(it), json_object_iter_key_len(it),
			                 json_object_iter_value(it)};
		qsort(keys, i, sizeof(*keys), kv_cmp);
		for (size_t j = 0; j < i; j++) {
			if (j)
				putc1(o, ',');
			put_string(o, keys[j].key, keys[j].len);
			putc1(o, ':');
			dump(o, keys[j].val, sorted, depth + 1);
		}
		free(keys);
	}
	putc1(o, '}');
}

static void
dump(out *o, const json_t *v, bool sorted, int depth)
{
	if (o->failed)
		return;
	if (depth > MAX_DEPTH) {
		o->failed = true;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		dump_object(o, v, sorted, depth);
		break;
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		putc1(o, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				putc1(o, ',');
			dump(o, json_array_get(v, i), sorted, depth + 1);
		}
		putc1(o, ']');
		break;
	}
	case JSON_STRING:
		put_string(o, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		put_int(o, json_integer_value(v));
		break;
	case JSON_REAL:
		put_jansson(o, v);
		break;
	case JSON_TRUE:
		put(o, "true", 4);
		break;
	case JSON_FALSE:
		put(o, "false", 5);
		break;
	case JSON_NULL:
		put(o, "null", 4);
		break;
	}
}

static char *
finish(out *o, const json_t *v, bool sorted, size_t *len)
{
	if (o->failed) {
		/* jansson decides what a cycle or a too-deep value gives */
		free(o->p);
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
		                     (sorted ? JSON_SORT_KEYS : 0));
		if (!s) {
			mz_error("cannot serialise JSON (a value that contains itself?)");
			abort();
		}
		if (len)
			*len = strlen(s);
		return s;
	}
	reserve(o, 0);
	o->p[o->len] = '\0';
	if (len)
		*len = o->len;
	return o->p;
}

char *
mz_json_dump_len(const json_t *v, size_t *len)
{
	out o = {0};
	if (!v) {
		mz_error("serialising a NULL JSON value");
		abort();
	}
	dump(&o, v, false, 0);
	return finish(&o, v, false, len);
}

char *
mz_json_dump(const json_t *v)
{
	return mz_json_dump_len(v, NULL);
}

char *
mz_json_canonical(const json_t *v)
{
	out o = {0};
	dump(&o, v, true, 0);
	return finish(&o, v, true, NULL);
}
