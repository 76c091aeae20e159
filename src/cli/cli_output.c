/* cli_output.c - prints JSON exactly as spin does. spin decodes into Go
 * maps and prints json.MarshalIndent(x, "", " "): keys in byte order, one
 * space per level, numbers as float64 in their shortest form (1.0 is "1",
 * 0.1 is "0.1"), and <, >, & escaped for HTML. jansson's dumper gets the
 * layout right but prints reals with 17 digits, so we walk the tree
 * ourselves. */
#include "cli/cli_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void emit(mz_buf *out, const json_t *v, int depth);

static void
indent(mz_buf *out, int depth)
{
	mz_buf_adds(out, "\n");
	for (int i = 0; i < depth; i++)
		mz_buf_adds(out, " ");
}

static void
emit_string(mz_buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	mz_buf_adds(out, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		char esc[7];
		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			mz_buf_add(out, esc, 2);
		} else if (ch == '\n') {
			mz_buf_adds(out, "\\n");
		} else if (ch == '\r') {
			mz_buf_adds(out, "\\r");
		} else if (ch == '\t') {
			mz_buf_adds(out, "\\t");
		} else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
			snprintf(esc, sizeof(esc), "\\u00%c%c", hex[ch >> 4], hex[ch & 15]);
			mz_buf_add(out, esc, 6);
		} else if (ch == 0xe2 && i + 2 < len && p[i + 1] == 0x80 &&
			   (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
			/* U+2028 and U+2029 break JavaScript; Go escapes them. */
			mz_buf_adds(out, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 2;
		} else {
			mz_buf_add(out, &p[i], 1);
		}
	}
	mz_buf_adds(out, "\"");
}

/* The shortest text that reads back as the same double, as Go's
 * strconv.FormatFloat(f, 'g'-ish, -1, 64) does for JSON. */
static void
emit_real(mz_buf *out, double d)
{
	char tmp[64];

	if (!isfinite(d)) {
		mz_buf_adds(out, "null");
		return;
	}
	if (d == floor(d) && fabs(d) < 1e21) {
		snprintf(tmp, sizeof(tmp), "%.0f", d);
		mz_buf_adds(out, strcmp(tmp, "-0") == 0 ? "0" : tmp);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	mz_buf_adds(out, tmp);
}

static int
cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
emit_object(mz_buf *out, const json_t *v, int depth)
{
	size_t n = json_object_size(v), i = 0;
	const char **keys;
	const char *k;
	json_t *child;

	if (n == 0) {
		mz_buf_adds(out, "{}");
		return;
	}
	keys = malloc(n * sizeof(*keys));
	if (!keys) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	json_object_foreach((json_t *)v, k, child)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_keys);
	mz_buf_adds(out, "{");
	for (i = 0; i < n; i++) {
		indent(out, depth + 1);
		emit_string(out, keys[i], strlen(keys[i]));
		mz_buf_adds(out, ": ");
		emit(out, json_object_get(v, keys[i]), depth + 1);
		if (i + 1 < n)
			mz_buf_adds(out, ",");
	}
	indent(out, depth);
	mz_buf_adds(out, "}");
	free(keys);
}

static void
emit(mz_buf *out, const json_t *v, int depth)
{
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		emit_object(out, v, depth);
		break;
	case JSON_ARRAY:
		n = json_array_size(v);
		if (n == 0) {
			mz_buf_adds(out, "[]");
			break;
		}
		mz_buf_adds(out, "[");
		for (i = 0; i < n; i++) {
			indent(out, depth + 1);
			emit(out, json_array_get(v, i), depth + 1);
			if (i + 1 < n)
				mz_buf_adds(out, ",");
		}
		indent(out, depth);
		mz_buf_adds(out, "]");
		break;
	case JSON_STRING:
		emit_string(out, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		mz_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		emit_real(out, json_real_value(v));
		break;
	case JSON_TRUE:
		mz_buf_adds(out, "true");
		break;
	case JSON_FALSE:
		mz_buf_adds(out, "false");
		break;
	case JSON_NULL:
	default:
		mz_buf_adds(out, "null");
		break;
	}
}

void
mz_cli_json_text(const json_t *v, mz_buf *out)
{
	emit(out, v, 0);
	mz_buf_adds(out, "\n");
}

void
mz_cli_print_json(const json_t *v)
{
	mz_buf out;

	mz_buf_init(&out, 0);
	mz_cli_json_text(v, &out);
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	mz_buf_release(&out);
}
