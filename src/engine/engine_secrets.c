/* engine_secrets.c - ${#secret('name')} references at the point of use.
 *
 * The expression language never yields a secret: #secret('x') evaluates
 * to the reference itself, so stage contexts, executions, events and logs
 * only ever hold references. An effect (a webhook call, a job's or an
 * instance's environment, a notification's address) asks for the values
 * here just before it acts, through the resolver main.c installs
 * (src/auth's encrypted /secrets), and records the values it used in an
 * mz_secret_use so that whatever comes back from the effect - an error
 * message naming a URL, a response echoing a header - is scrubbed of them
 * before it is stored or logged. */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

#define SCRUB_MIN 4 /* shorter values would match everywhere */

static mz_secret_fn secret_fn;
static void *secret_udata;

void
mz_engine_set_secret_fn(mz_secret_fn fn, void *udata)
{
	secret_fn = fn;
	secret_udata = udata;
}

char *
mz_engine_resolve_secrets(const char *text, mz_secret_use *use, mz_err *err)
{
	if (!text)
		return NULL;
	if (!secret_fn || !strstr(text, "${#secret("))
		return mz_strdup(text);
	return secret_fn(text, use, err, secret_udata);
}

static bool
has_reference(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_string(v))
		return strstr(json_string_value(v), "${#secret(") != NULL;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			if (has_reference(x))
				return true;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (has_reference(x))
				return true;
		}
	}
	return false;
}

/* Replaces the references in every string of v, in place. */
static bool
resolve_in(json_t *v, mz_secret_use *use, mz_err *err)
{
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (!strstr(s, "${#secret("))
			return true;
		char *r = mz_engine_resolve_secrets(s, use, err);
		if (!r)
			return false;
		/* the old text is a reference, nothing to wipe */
		bool ok = json_string_set(v, r) == 0;
		mz_secret_wipe(r);
		free(r);
		if (!ok)
			mz_fail(err, MZ_EINVAL, "a secret's value is not valid UTF-8");
		return ok;
	}
	if (json_is_object(v)) {
		json_object_foreach(v, k, x) {
			if (!resolve_in(x, use, err))
				return false;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (!resolve_in(x, use, err))
				return false;
		}
	}
	return true;
}

json_t *
mz_engine_resolve_secrets_json(const json_t *v, mz_secret_use *use, mz_err *err)
{
	if (!v)
		return NULL;
	json_t *copy = json_deep_copy(v);
	if (!copy) {
		mz_fail(err, MZ_ENOMEM, "out of memory");
		return NULL;
	}
	if (!has_reference(copy))
		return copy;
	if (!resolve_in(copy, use, err)) {
		mz_secret_json_free(copy);
		return NULL;
	}
	return copy;
}

void
mz_secret_wipe(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = 0;
}

/* Zeroes the strings of v that nothing else holds. */
static void
wipe_json(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	if (!v || v->refcount > 1)
		return;
	if (json_is_string(v)) {
		/* jansson owns the bytes; they are about to be freed */
		char *s = (char *)json_string_value(v);
		volatile char *p = s;
		for (size_t n = json_string_length(v); n; n--)
			*p++ = 0;
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			wipe_json(x);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			wipe_json(x);
	}
}

void
mz_secret_json_free(json_t *v)
{
	wipe_json(v);
	json_decref(v);
}

void
mz_secret_use_add(mz_secret_use *use, const char *value)
{
	if (!use || !value || strlen(value) < SCRUB_MIN)
		return;
	for (size_t i = 0; i < use->n; i++)
		if (strcmp(use->v[i], value) == 0)
			return;
	if (use->n == use->cap) {
		size_t cap = use->cap ? use->cap * 2 : 4;
		char **v = realloc(use->v, cap * sizeof(char *));
		if (!v)
			abort();
		use->v = v;
		use->cap = cap;
	}
	use->v[use->n++] = mz_strdup(value);
}

size_t
mz_secret_use_scrub_mem(const mz_secret_use *use, char *data, size_t len)
{
	if (!use || !data)
		return len;
	for (size_t i = 0; i < use->n; i++) {
		const char *val = use->v[i];
		size_t vl = strlen(val);
		char *from = data, *p;
		/* "****" is never longer than the value: the data only shrinks */
		while ((p = memmem(from, len - (size_t)(from - data), val, vl)) != NULL) {
			memcpy(p, "****", 4);
			memmove(p + 4, p + vl, len - (size_t)(p + vl - data));
			len -= vl - 4;
			from = p + 4;
		}
	}
	return len;
}

void
mz_secret_use_scrub(const mz_secret_use *use, char *text)
{
	if (!use || !text)
		return;
	size_t n = mz_secret_use_scrub_mem(use, text, strlen(text));
	text[n] = '\0';
}

/* Scrubs a copy of s; NULL when nothing in it needed scrubbing. */
static char *
scrubbed(const mz_secret_use *use, const char *s)
{
	for (size_t i = 0; i < use->n; i++) {
		if (strstr(s, use->v[i])) {
			char *c = mz_strdup(s);
			mz_secret_use_scrub(use, c);
			return c;
		}
	}
	return NULL;
}

void
mz_secret_use_scrub_json(const mz_secret_use *use, json_t *v)
{
	if (!use || !use->n || !v)
		return;
	size_t i;
	json_t *x;
	if (json_is_string(v)) {
		char *c = scrubbed(use, json_string_value(v));
		if (c)
			json_string_set(v, c);
		free(c);
	} else if (json_is_object(v)) {
		const char *k;
		void *tmp;
		json_object_foreach_safe(v, tmp, k, x) {
			mz_secret_use_scrub_json(use, x);
			char *ck = scrubbed(use, k);
			if (ck) {
				json_object_set(v, ck, x);
				json_object_del(v, k);
			}
			free(ck);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			mz_secret_use_scrub_json(use, x);
	}
}

void
mz_secret_use_release(mz_secret_use *use)
{
	if (!use)
		return;
	for (size_t i = 0; i < use->n; i++) {
		mz_secret_wipe(use->v[i]);
		free(use->v[i]);
	}
	free(use->v);
	memset(use, 0, sizeof(*use));
}
