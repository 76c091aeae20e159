/* jsonpath.c - the JSONPath subset described in jsonpath.h: one pass over
 * the path, stepping through root as each segment is read, so there is no
 * intermediate representation to allocate or free. */
#include "engine/jsonpath.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEY 1024

/* One step: the member key of an object. */
static const json_t *
step_key(const json_t *cur, const char *key)
{
	return json_is_object(cur) ? json_object_get(cur, key) : NULL;
}

/* One step: an array element; negative indexes count from the end. */
static const json_t *
step_index(const json_t *cur, long long idx)
{
	if (!json_is_array(cur))
		return NULL;
	long long n = (long long)json_array_size(cur);
	if (idx < 0)
		idx += n;
	if (idx < 0 || idx >= n)
		return NULL;
	return json_array_get(cur, (size_t)idx);
}

/* Reads a dotted member name starting at *p (up to '.', '[', ']', a space
 * or the end). */
static mz_code
read_dotted(const char **p, char key[MAX_KEY], const char *path, mz_err *err)
{
	size_t n = 0;
	const char *s = *p;
	if (*s == '.')
		return mz_fail(err, MZ_EINVAL, "JSONPath '%s': deep scan (..) is not supported",
		               path);
	if (*s == '*')
		return mz_fail(err, MZ_EINVAL, "JSONPath '%s': wildcards are not supported", path);
	while (*s && *s != '.' && *s != '[' && *s != ']' && !isspace((unsigned char)*s)) {
		if (n + 1 >= MAX_KEY)
			return mz_fail(err, MZ_EINVAL, "JSONPath '%s': member name too long", path);
		key[n++] = *s++;
	}
	key[n] = '\0';
	if (n == 0)
		return mz_fail(err, MZ_EINVAL, "JSONPath '%s': empty member name", path);
	*p = s;
	return MZ_OK;
}

/* Reads a quoted member name; *p points at the opening quote. */
static mz_code
read_quoted(const char **p, char key[MAX_KEY], const char *path, mz_err *err)
{
	const char *s = *p;
	char q = *s++;
	size_t n = 0;
	while (*s && *s != q) {
		if (*s == '\\' && s[1])
			s++;
		if (n + 1 >= MAX_KEY)
			return mz_fail(err, MZ_EINVAL, "JSONPath '%s': member name too long", path);
		key[n++] = *s++;
	}
	if (*s != q)
		return mz_fail(err, MZ_EINVAL, "JSONPath '%s': unterminated quoted name", path);
	key[n] = '\0';
	*p = s + 1;
	return MZ_OK;
}

static mz_code
walk(const json_t *root, const char *path, const json_t **out, mz_err *err)
{
	char key[MAX_KEY];
	const json_t *cur = root;
	const char *p = path;

	if (!path)
		return mz_fail(err, MZ_EINVAL, "no JSONPath given");
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '$') {
		p++;
	} else if (*p && *p != '[') {
		/* "status" and "data.items[0]" mean "$.status", "$.data.items[0]" */
		if (read_dotted(&p, key, path, err))
			return err->code;
		cur = step_key(cur, key);
	} else if (!*p) {
		return mz_fail(err, MZ_EINVAL, "empty JSONPath");
	}

	while (*p) {
		if (*p == '.') {
			p++;
			if (read_dotted(&p, key, path, err))
				return err->code;
			cur = step_key(cur, key);
		} else if (*p == '[') {
			p++;
			while (*p == ' ')
				p++;
			if (*p == '\'' || *p == '"') {
				if (read_quoted(&p, key, path, err))
					return err->code;
				cur = step_key(cur, key);
			} else if (*p == '-' || isdigit((unsigned char)*p)) {
				char *end;
				errno = 0;
				long long idx = strtoll(p, &end, 10);
				if (errno || end == p || (*p == '-' && end == p + 1))
					return mz_fail(err, MZ_EINVAL, "JSONPath '%s': bad index", path);
				p = end;
				cur = step_index(cur, idx);
			} else {
				return mz_fail(err, MZ_EINVAL,
				               "JSONPath '%s': only ['name'] and [index] are supported "
				               "inside brackets",
				               path);
			}
			while (*p == ' ')
				p++;
			if (*p != ']')
				return mz_fail(err, MZ_EINVAL, "JSONPath '%s': missing ']'", path);
			p++;
		} else if (isspace((unsigned char)*p)) {
			const char *q = p;
			while (isspace((unsigned char)*q))
				q++;
			if (*q)
				return mz_fail(err, MZ_EINVAL, "JSONPath '%s': unexpected space", path);
			p = q;
		} else {
			return mz_fail(err, MZ_EINVAL, "JSONPath '%s': unexpected '%c'", path, *p);
		}
	}
	/* A miss is reported only after the whole path parsed, so a malformed
	 * path is never mistaken for a missing value. */
	if (!cur)
		return mz_fail(err, MZ_ENOTFOUND, "JSONPath '%s' matches nothing", path);
	*out = cur;
	return MZ_OK;
}

json_t *
mz__jsonpath_get(const json_t *root, const char *path, mz_err *err)
{
	mz_err local = {0};
	const json_t *v = NULL;
	if (walk(root, path, &v, err ? err : &local) != MZ_OK)
		return NULL;
	return (json_t *)v;
}
