/* auth_check.c - verifying credentials: HTTP Basic (Argon2id once, then the
 * cache), bearer tokens and session cookies (a digest and a store read
 * once, then the cache), and signing in and out. */
#include "auth/auth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
open_identity(mz_identity *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->user, sizeof(id->user), "anonymous");
	id->admin = true;
	id->via = MZ_VIA_OPEN;
}

/* Argon2id verification of password against a user record. */
static bool
password_ok(const json_t *rec, const char *password)
{
	const char *hash = mz_json_str(rec, "passwordHash");
	return hash && crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

/* A dummy verification for unknown users, so that the time a refusal
 * takes does not tell which user names exist. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void
make_dummy_hash(void)
{
	if (crypto_pwhash_str(dummy_hash, "mizzen", 6, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		dummy_hash[0] = '\0';
}

static void
burn_like_a_check(const char *password)
{
	pthread_once(&dummy_once, make_dummy_hash);
	if (dummy_hash[0])
		if (crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
			mz_debug("auth: the dummy hash matched"); /* unreachable in practice */
}

static mz_auth_result
check_basic(mz_auth *a, mz_store *st, const char *b64, mz_identity *id, mz_err *err)
{
	size_t n = 0;
	while (*b64 == ' ')
		b64++;
	unsigned char *raw = mz_base64_decode(b64, &n);
	if (!raw)
		return MZ_AUTH_INVALID;
	char *text = malloc(n + 1);
	memcpy(text, raw, n);
	text[n] = '\0';
	sodium_memzero(raw, n);
	free(raw);
	char *colon = strchr(text, ':');
	mz_auth_result res = MZ_AUTH_INVALID;
	if (!colon || strlen(text) != n) /* no separator, or a NUL inside */
		goto out;
	*colon = '\0';
	const char *user = text, *password = colon + 1;
	unsigned char key[32];
	mz__auth_cache_key(a, 'B', user, password, key);
	auth_entry e;
	bool fresh = false;
	bool cached = mz__auth_cache_get(a, key, &e, &fresh);
	if (cached && fresh) {
		*id = e.id;
		res = MZ_AUTH_OK;
		goto out;
	}
	json_t *rec = NULL;
	mz_code rc = mz__auth_user_load(st, user, &rec, err);
	if (rc == MZ_ENOTFOUND) {
		if (cached)
			mz__auth_cache_drop(a, key);
		else
			burn_like_a_check(password);
		goto out;
	}
	if (rc != MZ_OK) {
		res = MZ_AUTH_ERROR;
		goto out;
	}
	unsigned char tag[16];
	mz__auth_pwtag(rec, tag);
	/* A cached entry whose stored hash did not change needs no new Argon2
	 * run: the password it was verified against is still the password. */
	if ((cached && sodium_memcmp(tag, e.pwtag, 16) == 0) || password_ok(rec, password)) {
		mz__auth_identity_from(rec, MZ_VIA_BASIC, id);
		mz__auth_cache_put(a, key, id, tag);
		res = MZ_AUTH_OK;
	} else if (cached) {
		mz__auth_cache_drop(a, key);
	}
	json_decref(rec);
out:
	sodium_memzero(text, n);
	free(text);
	return res;
}

/* A token or session: the digest names its record; the record names the
 * user, whose record gives the roles. */
static mz_auth_result
check_secret(mz_auth *a, mz_store *st, char kind, const char *secret, mz_identity *id,
             mz_err *err)
{
	unsigned char key[32];
	auth_entry e;
	bool fresh = false;
	if (!*secret || strlen(secret) > 256)
		return MZ_AUTH_INVALID;
	mz__auth_cache_key(a, kind, secret, NULL, key);
	if (mz__auth_cache_get(a, key, &e, &fresh) && fresh) {
		*id = e.id;
		return MZ_AUTH_OK;
	}
	char skey[96];
	mz__auth_digest_key(kind == 'T' ? AUTH_TOKEN_PREFIX : AUTH_SESSION_PREFIX, secret, skey,
	                    sizeof(skey));
	json_t *rec = NULL, *user = NULL;
	mz_code rc = mz__auth_kv_json(st, skey, &rec, err);
	mz_auth_result res = MZ_AUTH_INVALID;
	if (rc != MZ_OK && rc != MZ_ENOTFOUND) {
		res = MZ_AUTH_ERROR;
		goto out;
	}
	if (rc == MZ_ENOTFOUND)
		goto out;
	int64_t now = mz_now_ms();
	if (kind == 'S' && mz_json_int(rec, "expiresAt", 0) <= now) {
		mz_kv_delete(st, skey, NULL);
		goto out;
	}
	rc = mz__auth_user_load(st, mz_json_str(rec, "user"), &user, err);
	if (rc == MZ_ENOTFOUND)
		goto out;
	if (rc != MZ_OK) {
		res = MZ_AUTH_ERROR;
		goto out;
	}
	mz__auth_identity_from(user, kind == 'T' ? MZ_VIA_TOKEN : MZ_VIA_SESSION, id);
	/* lastUsed is written when the cache goes back to the store, at most
	 * once a minute per token: never a write per request */
	if (kind == 'T' && now - mz_json_int(rec, "lastUsed", 0) > 60000) {
		json_object_set_new(rec, "lastUsed", json_integer(now));
		mz__auth_kv_put_json(st, skey, rec, NULL);
	}
	mz__auth_cache_put(a, key, id, NULL);
	res = MZ_AUTH_OK;
out:
	if (res != MZ_AUTH_OK)
		mz__auth_cache_drop(a, key);
	json_decref(rec);
	json_decref(user);
	return res;
}

mz_auth_result
mz_auth_check_header(mz_auth *a, mz_store *st, const char *authorization, mz_identity *id,
                     mz_err *err)
{
	if (!a->enabled) {
		open_identity(id);
		return MZ_AUTH_OK;
	}
	if (!authorization || !*authorization)
		return MZ_AUTH_MISSING;
	if (strncasecmp(authorization, "Basic ", 6) == 0)
		return check_basic(a, st, authorization + 6, id, err);
	if (strncasecmp(authorization, "Bearer ", 7) == 0) {
		const char *t = authorization + 7;
		while (*t == ' ')
			t++;
		return check_secret(a, st, 'T', t, id, err);
	}
	return MZ_AUTH_INVALID;
}

mz_auth_result
mz_auth_check_session(mz_auth *a, mz_store *st, const char *sid, mz_identity *id,
                      mz_err *err)
{
	if (!a->enabled) {
		open_identity(id);
		return MZ_AUTH_OK;
	}
	if (!sid || !*sid)
		return MZ_AUTH_MISSING;
	return check_secret(a, st, 'S', sid, id, err);
}

mz_code
mz_auth_identity_of(mz_auth *a, mz_store *st, const char *user, mz_identity *id, mz_err *err)
{
	json_t *rec = NULL;
	mz_code rc = mz__auth_user_load(st, user, &rec, err);
	if (rc == MZ_ENOTFOUND)
		return mz_fail(err, MZ_ENOTFOUND, "no such user: %s", user ? user : "(none)");
	if (rc != MZ_OK)
		return rc;
	mz__auth_identity_from(rec, MZ_VIA_SYSTEM, id);
	json_decref(rec);
	return MZ_OK;
}

/* ---- sessions ------------------------------------------------------------ */

/* Sessions past their expiry are removed when someone signs in. */
static void
prune_sessions(mz_store *st)
{
	json_t *recs = NULL;
	if (mz__auth_records(st, AUTH_SESSION_PREFIX, &recs, NULL) != MZ_OK)
		return;
	int64_t now = mz_now_ms();
	const char *k;
	json_t *s;
	json_object_foreach(recs, k, s) {
		if (mz_json_int(s, "expiresAt", 0) <= now)
			mz_kv_delete(st, k, NULL);
	}
	json_decref(recs);
}

mz_code
mz_auth_login(mz_auth *a, mz_store *st, const char *user, const char *password, char **sid,
              mz_identity *id, mz_err *err)
{
	json_t *rec = NULL;
	mz_code rc = mz__auth_user_load(st, user, &rec, err);
	if (rc != MZ_OK && rc != MZ_ENOTFOUND)
		return rc;
	if (!password)
		password = "";
	if (rc == MZ_ENOTFOUND)
		burn_like_a_check(password);
	if (rc == MZ_ENOTFOUND || !password_ok(rec, password)) {
		json_decref(rec);
		return mz_fail(err, MZ_EFORBIDDEN, "Bad credentials: wrong user name or password");
	}
	mz__auth_identity_from(rec, MZ_VIA_SESSION, id);
	json_decref(rec);
	prune_sessions(st);
	char *s = mz__auth_random_secret("");
	char skey[96];
	mz__auth_digest_key(AUTH_SESSION_PREFIX, s, skey, sizeof(skey));
	int64_t now = mz_now_ms();
	json_t *srec = json_pack("{s:s, s:I, s:I}", "user", id->user, "createdAt", (json_int_t)now,
	                         "expiresAt", (json_int_t)(now + MZ_AUTH_SESSION_MS));
	rc = mz__auth_kv_put_json(st, skey, srec, err);
	json_decref(srec);
	if (rc != MZ_OK) {
		free(s);
		return rc;
	}
	*sid = s;
	return MZ_OK;
}

mz_code
mz_auth_logout(mz_auth *a, mz_store *st, const char *sid, mz_err *err)
{
	if (!sid || !*sid)
		return MZ_OK;
	unsigned char key[32];
	mz__auth_cache_key(a, 'S', sid, NULL, key);
	mz__auth_cache_drop(a, key);
	char skey[96];
	mz__auth_digest_key(AUTH_SESSION_PREFIX, sid, skey, sizeof(skey));
	return mz_kv_delete(st, skey, err);
}
