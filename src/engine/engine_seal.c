/* engine_seal.c - sensitive request headers kept out of the execution JSON.
 *
 * A webhook's Authorization header (or Cookie, an API key, any header
 * whose value came from a secret) is part of its stage context, and the
 * context is stored and served as it is (GET /pipelines/{id} sends the
 * stored text without parsing it). So the value is taken out before the
 * context is stored: customHeaders keeps "****", and the value's JSON,
 * sealed (secretbox under the secrets key, through the function main.c
 * installs), goes to context.sealedHeaders. The stage opens it just
 * before the request (mz_engine_open_headers).
 *
 * Sealing happens where a context is made: when an execution is built
 * (values without expressions; a value with ${...} is evaluated first) and
 * at stage start, after the context's expressions are evaluated. Without a
 * sealer (the engine alone, in unit tests) nothing is sealed. */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEALED_KEY "sealedHeaders"

static mz_seal_fn seal_fn;
static void *seal_udata;

void
mz_engine_set_seal_fn(mz_seal_fn fn, void *udata)
{
	seal_fn = fn;
	seal_udata = udata;
}

bool
mz_engine_sensitive_header(const char *name)
{
	static const char *const exact[] = {"Authorization", "Proxy-Authorization", "Cookie",
	                                    "Set-Cookie", "X-Api-Key", "X-Auth-Token",
	                                    "Private-Token"};
	static const char *const parts[] = {"token", "secret", "password", "passwd", "apikey",
	                                    "api-key", "api_key", "credential", "session"};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strcasecmp(name, exact[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (strcasestr(name, parts[i]))
			return true;
	return false;
}

static bool
has_text(const json_t *v, const char *needle)
{
	size_t i;
	json_t *x;
	if (json_is_string(v))
		return strstr(json_string_value(v), needle) != NULL;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (has_text(x, needle))
				return true;
		}
	}
	return false;
}

void
mz_engine_seal_headers(json_t *ctx, bool evaluated)
{
	json_t *hdrs = json_object_get(ctx, "customHeaders");
	if (!seal_fn || !json_is_object(hdrs) || json_object_size(hdrs) == 0)
		return;
	json_t *sealed = json_object_get(ctx, SEALED_KEY);
	const char *name;
	json_t *v;
	json_object_foreach(hdrs, name, v) {
		if (json_is_null(v) || mz_streq(json_string_value(v), MZ_MASKED))
			continue;
		if (!mz_engine_sensitive_header(name) && !has_text(v, "${#secret("))
			continue;
		/* an expression is evaluated first, at stage start; a secret's
		 * reference is no value, so it may wait as well */
		if (!evaluated && has_text(v, "${"))
			continue;
		char *text = mz_json_dump(v);
		mz_err err = {0};
		char *box = seal_fn(text, false, &err, seal_udata);
		mz_secret_wipe(text);
		free(text);
		if (!sealed || !json_is_object(sealed)) {
			sealed = json_object();
			json_object_set_new(ctx, SEALED_KEY, sealed);
		}
		/* masked even when sealing failed: the request then fails and
		 * says why, rather than the value being stored in clear */
		if (box) {
			json_object_set_new(sealed, name, json_string(box));
		} else {
			mz_warn("engine: cannot seal the header %s: %s", name, err.msg);
			json_object_set_new(sealed, name, json_null());
		}
		free(box);
		json_object_set_new(hdrs, name, json_string(MZ_MASKED));
	}
}

/* Notes every string of v as used, so echoes of it are scrubbed. */
static void
note_used(const json_t *v, mz_secret_use *use)
{
	size_t i;
	json_t *x;
	if (json_is_string(v))
		mz_secret_use_add(use, json_string_value(v));
	else if (json_is_array(v))
		json_array_foreach(v, i, x)
			note_used(x, use);
}

json_t *
mz_engine_open_headers(const json_t *ctx, mz_secret_use *use, mz_err *err)
{
	json_t *hdrs = json_object_get(ctx, "customHeaders");
	json_t *sealed = json_object_get(ctx, SEALED_KEY);
	if (!json_is_object(hdrs) || !json_is_object(sealed))
		return hdrs ? json_incref(hdrs) : NULL;
	json_t *out = json_deep_copy(hdrs);
	const char *name;
	json_t *v;
	json_object_foreach(hdrs, name, v) {
		if (!mz_streq(json_string_value(v), MZ_MASKED))
			continue;
		const char *box = mz_json_str(sealed, name);
		if (!box && json_is_null(json_object_get(sealed, name))) {
			mz_fail(err, MZ_EINVAL, "customHeaders: the value of '%s' could not be sealed "
			        "when the stage was prepared, so it is not kept (the server's log says "
			        "why: a secrets key that is not the other nodes'? see secrets.keyFile)",
			        name);
			goto fail;
		}
		if (!box) {
			mz_fail(err, MZ_EINVAL, "customHeaders: the value of '%s' is masked (%s) and "
			        "no sealed value is kept for it: give the header again", name, MZ_MASKED);
			goto fail;
		}
		char *text = seal_fn ? seal_fn(box, true, err, seal_udata) : NULL;
		if (!text) {
			if (!seal_fn)
				mz_fail(err, MZ_EINVAL, "customHeaders: '%s' is sealed and this engine "
				        "has no key to open it", name);
			goto fail;
		}
		json_t *val = json_loads(text, JSON_DECODE_ANY, NULL);
		mz_secret_wipe(text);
		free(text);
		if (!val) {
			mz_fail(err, MZ_EINVAL, "customHeaders: the sealed value of '%s' is damaged", name);
			goto fail;
		}
		note_used(val, use);
		json_object_set_new(out, name, val);
	}
	return out;
fail:
	mz_secret_json_free(out);
	return NULL;
}
