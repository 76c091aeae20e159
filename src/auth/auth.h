/*
 * auth.h - who is calling and what they may do: Spinnaker's Fiat (users,
 * roles, per-application and per-account permissions) and the
 * authentication half of Gate (HTTP Basic, API tokens, session cookies),
 * on libsodium.
 *
 * Records live in the store's key/value table (so both back-ends and every
 * node share them): users with Argon2id password hashes, API tokens and
 * session ids stored only as SHA-256 digests. A verified credential is
 * cached in memory under a keyed BLAKE2b digest for a few seconds, so the
 * request path pays one hash and one mutex, not an Argon2 run or a store
 * read; changes made on this node drop the cached entries at once, changes
 * made on another node are seen within MZ_AUTH_RECHECK_MS.
 *
 * Thread-safe: one mz_auth serves every HTTP thread. Functions taking an
 * mz_store use it and never keep it.
 */
#ifndef MZ_AUTH_H
#define MZ_AUTH_H

#include "core/core.h"
#include "store/store.h"

#define MZ_AUTH_NAME_MAX 64   /* user, role, token and secret names */
#define MZ_AUTH_ROLES_MAX 32
#define MZ_AUTH_RECHECK_MS 5000
#define MZ_AUTH_SESSION_MS (12LL * 3600 * 1000)

typedef struct mz_auth mz_auth;

typedef struct mz_auth_config {
	const char *db_url;    /* the store, opened once at start for the set-up */
	const char *data_dir;  /* where initial-admin-password (and secret.key) go */
	bool enabled;          /* false: every caller is an anonymous admin */
	/* the secrets key (secrets.keyFile): $MIZZEN_SECRET_KEY_FILE wins, and
	 * NULL means DATA/secret.key. Nodes sharing a store share the key. */
	const char *secret_key_file;
	/* true: the set-up on the store (first admin, key check) waits for
	 * mz_auth_bootstrap, so the caller can install auth's hooks first and
	 * let another component create the store's schema meanwhile */
	bool defer_bootstrap;
} mz_auth_config;

/* Starts the component; on a store without users, creates `admin` (role
 * admin) with a random password written to DATA/initial-admin-password
 * (0600) and printed once on stderr. */
mz_code mz_auth_start(const mz_auth_config *cfg, mz_auth **out, mz_err *err);
void mz_auth_stop(mz_auth *a);
/* Starts the deferred set-up (once; after mz_auth_start with
 * defer_bootstrap). */
mz_code mz_auth_bootstrap(mz_auth *a, mz_err *err);
bool mz_auth_enabled(const mz_auth *a);

/* ---- identities ------------------------------------------------------- */

typedef enum mz_auth_via {
	MZ_VIA_NONE = 0,   /* not signed in */
	MZ_VIA_BASIC,      /* Authorization: Basic */
	MZ_VIA_TOKEN,      /* Authorization: Bearer */
	MZ_VIA_SESSION,    /* the UI's MIZZEN_SESSION cookie */
	MZ_VIA_OPEN,       /* authentication disabled in the config */
	MZ_VIA_SYSTEM,     /* an automated trigger acting as a user */
} mz_auth_via;

/* Plain data, copied freely (no pointers). Roles are lower-case. */
typedef struct mz_identity {
	char user[MZ_AUTH_NAME_MAX + 1];
	char roles[MZ_AUTH_ROLES_MAX][MZ_AUTH_NAME_MAX + 1];
	int nroles;
	bool admin;        /* role admin: may do anything */
	mz_auth_via via;
} mz_identity;

bool mz_identity_has_role(const mz_identity *id, const char *role);
/* {"username", "roles": [...], "admin": bool} */
json_t *mz_identity_json(const mz_identity *id);

typedef enum mz_auth_result {
	MZ_AUTH_OK = 0,
	MZ_AUTH_MISSING,   /* no credentials of that kind were given */
	MZ_AUTH_INVALID,   /* credentials given but wrong, expired or revoked */
	MZ_AUTH_ERROR,     /* the store failed (err says why) */
} mz_auth_result;

/* Checks an Authorization header value ("Basic ..." or "Bearer ...").
 * When authentication is disabled every call succeeds as an anonymous
 * admin. */
mz_auth_result mz_auth_check_header(mz_auth *a, mz_store *st, const char *authorization,
                                    mz_identity *id, mz_err *err);
/* Checks a session id from the MIZZEN_SESSION cookie. */
mz_auth_result mz_auth_check_session(mz_auth *a, mz_store *st, const char *sid,
                                     mz_identity *id, mz_err *err);
/* The identity of a stored user (no credential check): what an automated
 * trigger acts as. MZ_ENOTFOUND when there is no such user. */
mz_code mz_auth_identity_of(mz_auth *a, mz_store *st, const char *user, mz_identity *id,
                            mz_err *err);

/* ---- permissions (Fiat) ------------------------------------------------ */

typedef enum mz_perm { MZ_PERM_READ = 0, MZ_PERM_WRITE, MZ_PERM_EXECUTE } mz_perm;

/* "READ", "WRITE", "EXECUTE". */
const char *mz_perm_name(mz_perm p);
/* Whether id may do p on an application or account whose "permissions"
 * object is permissions (borrowed; NULL or {}: open to every signed-in
 * user). Admins may do anything; EXECUTE falls back to READ's roles when
 * none are listed; WRITE and EXECUTE roles may also READ. */
bool mz_auth_allows(const mz_identity *id, const json_t *permissions, mz_perm p);
/* Whether permissions lists any role at all. */
bool mz_auth_restricted(const json_t *permissions);
/* The names of the accounts (a list of {name, permissions}) user may
 * WRITE: an unknown user only those without permissions; every account
 * when authentication is off. A new array. */
json_t *mz_auth_allowed_accounts(mz_auth *a, mz_store *st, const char *user,
                                 const json_t *accounts);
/* Whether the stored user may do p under permissions (as mz_auth_allows);
 * an unknown user only where permissions lists no role; anyone when
 * authentication is off. */
bool mz_auth_user_allowed(mz_auth *a, mz_store *st, const char *user,
                          const json_t *permissions, mz_perm p);

/* ---- sessions ---------------------------------------------------------- */

/* Verifies username/password and opens a session: *sid (malloc'd) is the
 * cookie value. MZ_EFORBIDDEN on a wrong name or password (the same
 * message for both). */
mz_code mz_auth_login(mz_auth *a, mz_store *st, const char *user, const char *password,
                      char **sid, mz_identity *id, mz_err *err);
mz_code mz_auth_logout(mz_auth *a, mz_store *st, const char *sid, mz_err *err);

/* ---- users and tokens (the admin endpoints) --------------------------- */

/* Names: 1..64 of [A-Za-z0-9._@+-]. */
bool mz_auth_valid_name(const char *s);
/* [{"username", "roles", "admin", "createdAt", "updatedAt"}], by name. */
mz_code mz_auth_user_list(mz_auth *a, mz_store *st, json_t **out, mz_err *err);
/* One user as in the list, or MZ_ENOTFOUND. */
mz_code mz_auth_user_get(mz_auth *a, mz_store *st, const char *name, json_t **out,
                         mz_err *err);
/* Creates (create=true; MZ_ECONFLICT if it exists) or updates a user.
 * password NULL keeps the stored one on update; roles NULL keeps them. */
mz_code mz_auth_user_put(mz_auth *a, mz_store *st, const char *name, const char *password,
                         const json_t *roles, bool create, mz_err *err);
/* Deletes the user, its tokens and its sessions. */
mz_code mz_auth_user_delete(mz_auth *a, mz_store *st, const char *name, mz_err *err);

/* Creates a token named name for user; *token (malloc'd) is shown once. */
mz_code mz_auth_token_create(mz_auth *a, mz_store *st, const char *user, const char *name,
                             char **token, mz_err *err);
/* [{"name", "createdAt", "lastUsed"}] of user's tokens. */
mz_code mz_auth_token_list(mz_auth *a, mz_store *st, const char *user, json_t **out,
                           mz_err *err);
mz_code mz_auth_token_delete(mz_auth *a, mz_store *st, const char *user, const char *name,
                             mz_err *err);

/* ---- secrets (/secrets; values encrypted at rest with secretbox) -------- */

mz_code mz_auth_secret_put(mz_auth *a, mz_store *st, const char *name, const char *value,
                           mz_err *err);
/* [{"name", "updatedAt"}]: never values. */
mz_code mz_auth_secret_list(mz_auth *a, mz_store *st, json_t **out, mz_err *err);
mz_code mz_auth_secret_delete(mz_auth *a, mz_store *st, const char *name, mz_err *err);
/* text encrypted under the secrets key (base64, malloc'd), and back;
 * NULL with err on failure (another key: a message that says so). */
char *mz_auth_seal(mz_auth *a, const char *text, mz_err *err);
char *mz_auth_unseal(mz_auth *a, const char *sealed, mz_err *err);
/* text with each ${#secret('name')} replaced by its value (malloc'd; wipe
 * and free it after use), or NULL with err when a secret is missing. Each
 * value used is also passed to seen (which may be NULL), so the caller
 * can scrub it from what the effect returns. For effects only, at the
 * moment they act. Thread-safe. */
char *mz_auth_secrets_resolve(mz_auth *a, const char *text,
                              void (*seen)(const char *value, void *arg), void *arg,
                              mz_err *err);

#endif
