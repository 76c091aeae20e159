/* json.c - tolerant accessors over jansson, used everywhere configs written
 * by people (and by Deck) are read: numbers may arrive as strings, booleans
 * as "true". */
#include "core/core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *
mz_json_str(const json_t *obj, const char *key)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t
mz_json_int(const json_t *obj, const char *key, int64_t dflt)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		double d = strtod(s, &end);
		if (end != s && *end == '\0' && errno == 0)
			return (int64_t)d;
	}
	return dflt;
}

double
mz_json_num(const json_t *obj, const char *key, double dflt)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	if (json_is_number(v))
		return json_number_value(v);
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		double d = strtod(s, &end);
		if (end != s && *end == '\0')
			return d;
	}
	return dflt;
}

bool
mz_json_bool(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_string(v))
		return strcasecmp(json_string_value(v), "true") == 0;
	return dflt;
}

char *
mz_json_ts_text(const json_t *v)
{
	if (json_is_string(v))
		return mz_strdup(json_string_value(v));
	if (json_is_integer(v))
		return mz_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	if (json_is_real(v))
		return mz_asprintf("%.0f", json_real_value(v));
	return NULL;
}

json_t *
mz_json_obj(const json_t *obj, const char *key)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	return json_is_object(v) ? v : NULL;
}

json_t *
mz_json_arr(const json_t *obj, const char *key)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;
	return json_is_array(v) ? v : NULL;
}

bool
mz_json_truthy(const json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return false;
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_real(v))
		return json_real_value(v) != 0;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	return true;
}

json_t *
mz_json_parse(const char *text, size_t len, mz_err *err)
{
	json_error_t je;
	json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
	                       JSON_ALLOW_NUL, &je);
	if (!v)
		mz_fail(err, MZ_EINVAL, "malformed JSON at line %d, column %d: %s",
		        je.line, je.column, je.text);
	return v;
}

void
mz_json_merge(json_t *dst, const json_t *src)
{
	const char *k;
	json_t *v;
	if (!json_is_object(dst) || !json_is_object(src))
		return;
	json_object_foreach((json_t *)src, k, v) {
		json_object_set(dst, k, v);
	}
}

void
mz_json_merge_patch(json_t *obj, const char *key, const json_t *patch)
{
	json_t *t = json_object_get(obj, key);
	if (!json_is_object(t)) {
		t = json_object();
		json_object_set_new(obj, key, t);
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)patch, k, v) {
		if (json_is_null(v))
			json_object_del(t, k);
		else
			json_object_set(t, k, v);
	}
}
