/* auth_perm.c - Fiat's permission check on an application's or an
 * account's "permissions": {"READ": [roles], "WRITE": [...], "EXECUTE": [...]}.
 *
 * As in Fiat: no permissions (or an empty object) is open to every
 * signed-in user; role admin may do anything; EXECUTE falls back to READ's
 * roles when the application lists none (Fiat's executeFallback); and the
 * roles that may WRITE or EXECUTE may also READ (one cannot act on what
 * one cannot see). Role names compare case-insensitively. */
#include "auth/auth_int.h"

#include <string.h>
#include <strings.h>

static const char *const perm_keys[] = {"READ", "WRITE", "EXECUTE"};

const char *
mz_perm_name(mz_perm p)
{
	return perm_keys[p];
}

/* The roles listed under key (any case of the key), or NULL. */
static const json_t *
roles_of(const json_t *permissions, const char *key)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)permissions, k, v) {
		if (strcasecmp(k, key) == 0 && json_is_array(v))
			return v;
	}
	return NULL;
}

static bool
holds_one(const mz_identity *id, const json_t *roles)
{
	size_t i;
	json_t *r;
	json_array_foreach(roles, i, r) {
		if (json_is_string(r) && mz_identity_has_role(id, json_string_value(r)))
			return true;
	}
	return false;
}

bool
mz_auth_restricted(const json_t *permissions)
{
	for (int p = 0; p < 3; p++)
		if (roles_of(permissions, perm_keys[p]))
			return true;
	return false;
}

bool
mz_auth_allows(const mz_identity *id, const json_t *permissions, mz_perm p)
{
	if (id->admin)
		return true;
	if (!json_is_object(permissions) || !mz_auth_restricted(permissions))
		return true;
	const json_t *read = roles_of(permissions, "READ");
	const json_t *write = roles_of(permissions, "WRITE");
	const json_t *exec = roles_of(permissions, "EXECUTE");
	switch (p) {
	case MZ_PERM_READ:
		return holds_one(id, read) || holds_one(id, write) || holds_one(id, exec);
	case MZ_PERM_WRITE:
		return holds_one(id, write);
	case MZ_PERM_EXECUTE:
		return holds_one(id, exec ? exec : read);
	}
	return false;
}

/* The identity user acts as: false when there is none (an unknown user,
 * authentication on); with authentication off an anonymous admin. */
static bool
acting_identity(mz_auth *a, mz_store *st, const char *user, mz_identity *id)
{
	if (!mz_auth_enabled(a)) {
		memset(id, 0, sizeof(*id));
		id->admin = true; /* authentication off: every caller may do anything */
		return true;
	}
	return user && mz_auth_identity_of(a, st, user, id, NULL) == MZ_OK;
}

json_t *
mz_auth_allowed_accounts(mz_auth *a, mz_store *st, const char *user, const json_t *accounts)
{
	mz_identity id;
	bool known = acting_identity(a, st, user, &id);
	json_t *out = json_array();
	size_t i;
	json_t *acct;
	json_array_foreach(accounts, i, acct) {
		const json_t *perms = json_object_get(acct, "permissions");
		bool ok = known ? mz_auth_allows(&id, perms, MZ_PERM_WRITE) : !mz_auth_restricted(perms);
		if (ok && mz_json_str(acct, "name"))
			json_array_append_new(out, json_string(mz_json_str(acct, "name")));
	}
	return out;
}

bool
mz_auth_user_allowed(mz_auth *a, mz_store *st, const char *user, const json_t *permissions,
                     mz_perm p)
{
	mz_identity id;
	if (!acting_identity(a, st, user, &id))
		return !mz_auth_restricted(permissions);
	return mz_auth_allows(&id, permissions, p);
}
