/* auth_users.c - user, API token and session records in the store (layout
 * in auth_int.h): Argon2id password hashes, tokens and session ids kept as
 * digests, and the admin operations on them. */
#include "auth/auth_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
mz_auth_valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > MZ_AUTH_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._@+-", *p))
			return false;
	return true;
}

mz_code
mz__auth_kv_json(mz_store *st, const char *key, json_t **out, mz_err *err)
{
	char *text = NULL;
	*out = NULL;
	mz_code rc = mz_kv_get(st, key, &text, err);
	if (rc != MZ_OK)
		return rc;
	*out = mz_json_parse(text, strlen(text), NULL);
	free(text);
	return *out ? MZ_OK : mz_fail(err, MZ_EIO, "auth: the record %s is damaged", key);
}

mz_code
mz__auth_records(mz_store *st, const char *prefix, json_t **out, mz_err *err)
{
	json_t *pairs = NULL;
	mz_code rc = mz_kv_list(st, prefix, &pairs, err);
	if (rc != MZ_OK)
		return rc;
	json_t *recs = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(pairs, k, v) {
		const char *text = json_string_value(v);
		json_t *rec = mz_json_parse(text, strlen(text), NULL);
		if (rec)
			json_object_set_new(recs, k, rec);
	}
	json_decref(pairs);
	*out = recs;
	return MZ_OK;
}

mz_code
mz__auth_kv_put_json(mz_store *st, const char *key, const json_t *v, mz_err *err)
{
	char *text = mz_json_dump(v);
	mz_code rc = mz_kv_put(st, key, text, err);
	free(text);
	return rc;
}

mz_code
mz__auth_user_load(mz_store *st, const char *name, json_t **rec, mz_err *err)
{
	*rec = NULL;
	if (!mz_auth_valid_name(name))
		return MZ_ENOTFOUND;
	char key[sizeof(AUTH_USER_PREFIX) + MZ_AUTH_NAME_MAX];
	snprintf(key, sizeof(key), AUTH_USER_PREFIX "%s", name);
	return mz__auth_kv_json(st, key, rec, err);
}

void
mz__auth_identity_from(const json_t *rec, mz_auth_via via, mz_identity *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->user, sizeof(id->user), "%s", mz_json_str(rec, "username"));
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(rec, "roles"), i, r) {
		if (!json_is_string(r) || id->nroles == MZ_AUTH_ROLES_MAX)
			continue;
		snprintf(id->roles[id->nroles++], sizeof(id->roles[0]), "%s", json_string_value(r));
		if (strcmp(json_string_value(r), "admin") == 0)
			id->admin = true;
	}
	id->via = via;
}

void
mz__auth_pwtag(const json_t *rec, unsigned char out[16])
{
	const char *h = mz_json_str(rec, "passwordHash");
	crypto_generichash(out, 16, (const unsigned char *)(h ? h : ""), h ? strlen(h) : 0, NULL, 0);
}

void
mz__auth_digest_key(const char *prefix, const char *secret, char *out, size_t outsz)
{
	unsigned char d[32];
	char hex[65];
	mz_sha256(secret, strlen(secret), d);
	mz_hex(d, 32, hex);
	snprintf(out, outsz, "%s%s", prefix, hex);
}

char *
mz__auth_random_secret(const char *prefix)
{
	unsigned char raw[32];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	return mz_asprintf("%s%s", prefix, b64);
}

/* ---- users ------------------------------------------------------------- */

static json_t *
user_view(const json_t *rec)
{
	json_t *roles = json_object_get(rec, "roles");
	bool admin = false;
	size_t i;
	json_t *r;
	json_array_foreach(roles, i, r) {
		if (mz_streq(json_string_value(r), "admin"))
			admin = true;
	}
	return json_pack("{s:s, s:O, s:b, s:I, s:I}", "username", mz_json_str(rec, "username"),
	                 "roles", roles ? roles : json_array(), "admin", admin,
	                 "createdAt", (json_int_t)mz_json_int(rec, "createdAt", 0),
	                 "updatedAt", (json_int_t)mz_json_int(rec, "updatedAt", 0));
}

mz_code
mz_auth_user_list(mz_auth *a, mz_store *st, json_t **out, mz_err *err)
{
	json_t *recs = NULL;
	mz_code rc = mz__auth_records(st, AUTH_USER_PREFIX, &recs, err);
	if (rc != MZ_OK)
		return rc;
	json_t *list = json_array();
	const char *k;
	json_t *rec;
	json_object_foreach(recs, k, rec) {
		json_array_append_new(list, user_view(rec));
	}
	json_decref(recs);
	*out = list;
	return MZ_OK;
}

mz_code
mz_auth_user_get(mz_auth *a, mz_store *st, const char *name, json_t **out, mz_err *err)
{
	json_t *rec = NULL;
	mz_code rc = mz__auth_user_load(st, name, &rec, err);
	if (rc == MZ_ENOTFOUND)
		return mz_fail(err, MZ_ENOTFOUND, "User not found (name: %s)", name);
	if (rc != MZ_OK)
		return rc;
	*out = user_view(rec);
	json_decref(rec);
	return MZ_OK;
}

/* Roles are names, kept lower-case as Fiat does; duplicates dropped. */
static mz_code
clean_roles(const json_t *roles, json_t **out, mz_err *err)
{
	if (!json_is_array(roles))
		return mz_fail(err, MZ_EINVAL, "\"roles\" must be a list of role names");
	if (json_array_size(roles) > MZ_AUTH_ROLES_MAX)
		return mz_fail(err, MZ_EINVAL, "a user may have at most %d roles", MZ_AUTH_ROLES_MAX);
	json_t *clean = json_array();
	size_t i, j;
	json_t *r, *c;
	json_array_foreach(roles, i, r) {
		const char *s = json_string_value(r);
		if (!mz_auth_valid_name(s)) {
			json_decref(clean);
			return mz_fail(err, MZ_EINVAL, "role %zu is not a valid name (1 to %d of "
			               "letters, digits and ._@+-)", i, MZ_AUTH_NAME_MAX);
		}
		char low[MZ_AUTH_NAME_MAX + 1];
		size_t n = 0;
		for (; s[n]; n++)
			low[n] = (char)tolower((unsigned char)s[n]);
		low[n] = '\0';
		bool dup = false;
		json_array_foreach(clean, j, c) {
			if (strcmp(json_string_value(c), low) == 0)
				dup = true;
		}
		if (!dup)
			json_array_append_new(clean, json_string(low));
	}
	*out = clean;
	return MZ_OK;
}

mz_code
mz_auth_user_put(mz_auth *a, mz_store *st, const char *name, const char *password,
                 const json_t *roles, bool create, mz_err *err)
{
	if (!mz_auth_valid_name(name))
		return mz_fail(err, MZ_EINVAL, "\"username\" must be 1 to %d letters, digits or ._@+-",
		               MZ_AUTH_NAME_MAX);
	if (password && (strlen(password) < 8 || strlen(password) > 1024))
		return mz_fail(err, MZ_EINVAL, "a password must have 8 to 1024 characters");
	if (create && !password)
		return mz_fail(err, MZ_EINVAL, "a new user needs a \"password\"");
	json_t *clean = NULL;
	if (roles && clean_roles(roles, &clean, err) != MZ_OK)
		return err->code;
	char hash[crypto_pwhash_STRBYTES];
	if (password && crypto_pwhash_str(hash, password, strlen(password),
	                                  crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                                  crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		json_decref(clean);
		return mz_fail(err, MZ_ENOMEM, "cannot hash the password (out of memory)");
	}
	json_t *rec = NULL;
	mz_code rc = mz__auth_user_load(st, name, &rec, err);
	if (rc == MZ_OK && create) {
		json_decref(rec);
		json_decref(clean);
		return mz_fail(err, MZ_ECONFLICT, "User %s already exists", name);
	}
	if (rc == MZ_ENOTFOUND && !create) {
		json_decref(clean);
		return mz_fail(err, MZ_ENOTFOUND, "User not found (name: %s)", name);
	}
	if (rc != MZ_OK && rc != MZ_ENOTFOUND) {
		json_decref(clean);
		return rc;
	}
	int64_t now = mz_now_ms();
	if (!rec)
		rec = json_pack("{s:s, s:[], s:I}", "username", name, "roles", "createdAt",
		               (json_int_t)now);
	if (clean)
		json_object_set_new(rec, "roles", clean);
	if (password)
		json_object_set_new(rec, "passwordHash", json_string(hash));
	json_object_set_new(rec, "updatedAt", json_integer(now));
	char key[sizeof(AUTH_USER_PREFIX) + MZ_AUTH_NAME_MAX];
	snprintf(key, sizeof(key), AUTH_USER_PREFIX "%s", name);
	rc = mz__auth_kv_put_json(st, key, rec, err);
	json_decref(rec);
	sodium_memzero(hash, sizeof(hash));
	/* cached identities carry the old roles */
	mz__auth_cache_drop_user(a, name);
	return rc;
}

/* Deletes every record under prefix whose "user" is name. */
static mz_code
delete_owned(mz_store *st, const char *prefix, const char *name, mz_err *err)
{
	json_t *recs = NULL;
	mz_code rc = mz__auth_records(st, prefix, &recs, err);
	if (rc != MZ_OK)
		return rc;
	const char *k;
	json_t *rec;
	json_object_foreach(recs, k, rec) {
		if (mz_streq(mz_json_str(rec, "user"), name) && (rc = mz_kv_delete(st, k, err)) != MZ_OK)
			break;
	}
	json_decref(recs);
	return rc;
}

mz_code
mz_auth_user_delete(mz_auth *a, mz_store *st, const char *name, mz_err *err)
{
	json_t *rec = NULL;
	mz_code rc = mz__auth_user_load(st, name, &rec, err);
	json_decref(rec);
	if (rc == MZ_ENOTFOUND)
		return mz_fail(err, MZ_ENOTFOUND, "User not found (name: %s)", name);
	if (rc != MZ_OK)
		return rc;
	char key[sizeof(AUTH_USER_PREFIX) + MZ_AUTH_NAME_MAX];
	snprintf(key, sizeof(key), AUTH_USER_PREFIX "%s", name);
	if ((rc = mz_kv_delete(st, key, err)) == MZ_OK &&
	    (rc = delete_owned(st, AUTH_TOKEN_PREFIX, name, err)) == MZ_OK)
		rc = delete_owned(st, AUTH_SESSION_PREFIX, name, err);
	mz__auth_cache_drop_user(a, name);
	return rc;
}

/* ---- API tokens --------------------------------------------------------- */

/* The store key of user's token called name, or NULL (then *rc says why). */
static char *
find_token(mz_store *st, const char *user, const char *name, mz_code *rc, mz_err *err)
{
	json_t *recs = NULL;
	char *found = NULL;
	*rc = mz__auth_records(st, AUTH_TOKEN_PREFIX, &recs, err);
	if (*rc != MZ_OK)
		return NULL;
	const char *k;
	json_t *t;
	json_object_foreach(recs, k, t) {
		if (mz_streq(mz_json_str(t, "user"), user) && mz_streq(mz_json_str(t, "name"), name)) {
			found = mz_strdup(k);
			break;
		}
	}
	json_decref(recs);
	return found;
}

mz_code
mz_auth_token_create(mz_auth *a, mz_store *st, const char *user, const char *name,
                     char **token, mz_err *err)
{
	mz_code rc;
	if (!mz_auth_valid_name(name))
		return mz_fail(err, MZ_EINVAL, "a token needs a \"name\": 1 to %d letters, digits or "
		               "._@+-", MZ_AUTH_NAME_MAX);
	char *dup = find_token(st, user, name, &rc, err);
	if (rc != MZ_OK)
		return rc;
	if (dup) {
		free(dup);
		return mz_fail(err, MZ_ECONFLICT, "you already have a token named %s: delete it "
		               "first", name);
	}
	char *tok = mz__auth_random_secret("mzt_");
	char key[sizeof(AUTH_TOKEN_PREFIX) + 64];
	mz__auth_digest_key(AUTH_TOKEN_PREFIX, tok, key, sizeof(key));
	json_t *rec = json_pack("{s:s, s:s, s:I, s:n}", "name", name, "user", user, "createdAt",
	                        (json_int_t)mz_now_ms(), "lastUsed");
	rc = mz__auth_kv_put_json(st, key, rec, err);
	json_decref(rec);
	if (rc != MZ_OK) {
		free(tok);
		return rc;
	}
	*token = tok;
	return MZ_OK;
}

mz_code
mz_auth_token_list(mz_auth *a, mz_store *st, const char *user, json_t **out, mz_err *err)
{
	json_t *recs = NULL;
	mz_code rc = mz__auth_records(st, AUTH_TOKEN_PREFIX, &recs, err);
	if (rc != MZ_OK)
		return rc;
	json_t *list = json_array();
	const char *k;
	json_t *t;
	json_object_foreach(recs, k, t) {
		if (mz_streq(mz_json_str(t, "user"), user))
			json_array_append_new(list, json_pack("{s:s, s:I, s:O}", "name",
			                                      mz_json_str(t, "name"), "createdAt",
			                                      (json_int_t)mz_json_int(t, "createdAt", 0),
			                                      "lastUsed",
			                                      json_object_get(t, "lastUsed") ?
			                                      json_object_get(t, "lastUsed") : json_null()));
	}
	json_decref(recs);
	*out = list;
	return MZ_OK;
}

mz_code
mz_auth_token_delete(mz_auth *a, mz_store *st, const char *user, const char *name,
                     mz_err *err)
{
	mz_code rc;
	char *key = find_token(st, user, name, &rc, err);
	if (rc != MZ_OK)
		return rc;
	if (!key)
		return mz_fail(err, MZ_ENOTFOUND, "Token not found (name: %s)", name);
	rc = mz_kv_delete(st, key, err);
	free(key);
	/* the cache is keyed by the token, which is not at hand: drop the
	 * user's entries (they verify again on their next request) */
	mz__auth_cache_drop_user(a, user);
	return rc;
}
