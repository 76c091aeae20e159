/*
 * auth_int.h - for the files of src/auth only: the component's state, the
 * verified-credential cache and the layout of its records in the store's
 * key/value table:
 *
 *   auth/user/<name>      {"username", "roles", "passwordHash", "createdAt", "updatedAt"}
 *   auth/token/<sha256>   {"name", "user", "createdAt", "lastUsed"}
 *   auth/session/<sha256> {"user", "createdAt", "expiresAt"}
 *   auth/secret-key-id    the id of the key secrets are encrypted under
 *   secret/<name>         {"name", "nonce", "box", "updatedAt"} (auth_secret.c)
 *
 * Tokens and session ids are kept only as the hex SHA-256 of their value:
 * they are 32 random bytes, so a fast digest is enough (no salt, no
 * Argon2), and a copy of the database gives nobody a usable credential.
 */
#ifndef MZ_AUTH_INT_H
#define MZ_AUTH_INT_H

#include "auth/auth.h"

#include <pthread.h>
#include <sodium.h>

#define AUTH_USER_PREFIX "auth/user/"
#define AUTH_TOKEN_PREFIX "auth/token/"
#define AUTH_SESSION_PREFIX "auth/session/"

/* The cache: AUTH_CACHE_SETS sets of AUTH_CACHE_WAYS entries, picked by
 * the first bytes of the key; a full set drops its least recently used. */
#define AUTH_CACHE_SETS 128
#define AUTH_CACHE_WAYS 4

typedef struct auth_entry {
	unsigned char key[32];   /* keyed BLAKE2b of kind and credential */
	bool used;
	int64_t checked_ms;      /* monotonic time of the last store check */
	int64_t touched_ms;
	unsigned char pwtag[16]; /* Basic: digest of the stored password hash */
	mz_identity id;
} auth_entry;

struct mz_auth {
	bool enabled;
	char *data_dir;
	char *db_url;
	pthread_t boot;          /* creates the first admin (auth.c) */
	unsigned char secret_key[crypto_secretbox_KEYBYTES]; /* auth_secret.c */
	bool has_secret_key;
	char *secret_key_path;   /* where it was read from (for messages) */
	char secret_key_id[17];  /* hex: a keyed digest, safe to show */
	bool secret_key_conflict; /* the store's secrets use another key (seen once) */
	pthread_mutex_t secret_lock;
	mz_store *secret_st;     /* resolving runs where no store is at hand */
	bool boot_started;
	unsigned char cache_secret[crypto_generichash_KEYBYTES];
	pthread_mutex_t lock;
	auth_entry cache[AUTH_CACHE_SETS][AUTH_CACHE_WAYS];
};

/* ---- auth_cache.c ------------------------------------------------------ */

/* The cache key of a credential: kind is 'B', 'T' or 'S'; parts are
 * joined with NUL bytes (so "a:b" + "c" differs from "a" + "b:c"). */
void mz__auth_cache_key(mz_auth *a, char kind, const char *p1, const char *p2,
                        unsigned char out[32]);
/* true and a copy of the entry when key is cached; fresh says whether it
 * was checked against the store less than MZ_AUTH_RECHECK_MS ago. */
bool mz__auth_cache_get(mz_auth *a, const unsigned char key[32], auth_entry *out, bool *fresh);
void mz__auth_cache_put(mz_auth *a, const unsigned char key[32], const mz_identity *id,
                        const unsigned char pwtag[16]);
void mz__auth_cache_drop(mz_auth *a, const unsigned char key[32]);
/* Drops every entry of user (NULL: every entry). */
void mz__auth_cache_drop_user(mz_auth *a, const char *user);

/* ---- auth_secret.c ----------------------------------------------------- */

mz_code mz__auth_secrets_start(mz_auth *a, const char *key_file, mz_err *err);
void mz__auth_secrets_stop(mz_auth *a);
/* Whether this node's key is the one the store's secrets use (the key id
 * kept in kv as auth/secret-key-id): MZ_OK when it is, or when none is
 * kept (then, with record, ours is kept); MZ_ECONFLICT with a message
 * naming both ids and the setting otherwise. */
mz_code mz__auth_secret_key_check(mz_auth *a, mz_store *st, bool record, mz_err *err);

/* ---- auth_users.c ------------------------------------------------------ */

/* The stored user record, or MZ_ENOTFOUND. */
mz_code mz__auth_user_load(mz_store *st, const char *name, json_t **rec, mz_err *err);
/* Fills id from a user record. */
void mz__auth_identity_from(const json_t *rec, mz_auth_via via, mz_identity *id);
/* A digest of the record's password hash (detects a changed password). */
void mz__auth_pwtag(const json_t *rec, unsigned char out[16]);
/* Hex SHA-256 of a token or session id: its key in the store. */
void mz__auth_digest_key(const char *prefix, const char *secret, char *out, size_t outsz);
/* A new random credential: prefix + 43 characters of URL-safe base64. */
char *mz__auth_random_secret(const char *prefix);
mz_code mz__auth_kv_json(mz_store *st, const char *key, json_t **out, mz_err *err);
/* Every record under prefix, parsed: {key: record} (damaged ones left out). */
mz_code mz__auth_records(mz_store *st, const char *prefix, json_t **out, mz_err *err);
mz_code mz__auth_kv_put_json(mz_store *st, const char *key, const json_t *v, mz_err *err);

#endif
