/* auth.c - the component's life: libsodium's start, the first admin on an
 * empty store, and the identity helpers. */
#include "auth/auth_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

bool
mz_auth_enabled(const mz_auth *a)
{
	return a && a->enabled;
}

bool
mz_identity_has_role(const mz_identity *id, const char *role)
{
	for (int i = 0; i < id->nroles; i++)
		if (strcasecmp(id->roles[i], role) == 0)
			return true;
	return false;
}

json_t *
mz_identity_json(const mz_identity *id)
{
	json_t *roles = json_array();
	for (int i = 0; i < id->nroles; i++)
		json_array_append_new(roles, json_string(id->roles[i]));
	return json_pack("{s:s, s:o, s:b}", "username", id->user, "roles", roles, "admin",
	                 id->admin);
}

/* The initial password goes to DATA/initial-admin-password, mode 0600 from
 * the first byte (never world-readable, even for an instant). It is
 * written to a temporary file before the user is committed and renamed
 * into place after: a reader never sees a password that does not work
 * yet, and a crash between the two leaves the temporary file, which the
 * next start renames (else the admin would be locked out). */
static char *
password_path(const mz_auth *a, bool tmp)
{
	return mz_asprintf("%s/initial-admin-password%s", a->data_dir, tmp ? ".tmp" : "");
}

static int
write_password_tmp(const mz_auth *a, const char *password)
{
	char *tmp = password_path(a, true);
	int rc = -1;
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		size_t n = strlen(password);
		if (fchmod(fd, 0600) == 0 && write(fd, password, n) == (ssize_t)n &&
		    write(fd, "\n", 1) == 1 && fsync(fd) == 0)
			rc = 0;
		if (close(fd) != 0)
			rc = -1;
		if (rc != 0)
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

static void
discard_password(const mz_auth *a)
{
	char *tmp = password_path(a, true);
	unlink(tmp);
	free(tmp);
}

static void
publish_password(const mz_auth *a)
{
	char *tmp = password_path(a, true), *path = password_path(a, false);
	if (access(tmp, F_OK) == 0 && rename(tmp, path) != 0)
		mz_warn("auth: cannot rename %s: %s", tmp, strerror(errno));
	free(tmp);
	free(path);
}

/* On a store with no user at all, creates `admin` (role admin) with a
 * random password. The Argon2 hash runs before the transaction, so the
 * store's write lock is held only for the insert; the check is repeated
 * inside it because several nodes may start on one empty database. */
static mz_code
bootstrap_admin(mz_auth *a, const char *db_url, mz_err *err)
{
	mz_store *st = NULL;
	json_t *users = NULL;
	mz_code rc = mz_store_open(db_url, &st, err);
	if (rc != MZ_OK)
		return rc;
	rc = mz_kv_list(st, AUTH_USER_PREFIX, &users, err);
	if (rc != MZ_OK)
		goto out;
	if (json_object_size(users) > 0) {
		publish_password(a); /* a start that died after its commit */
		goto out;
	}
	unsigned char raw[18];
	char password[32];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(password, sizeof(password), raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char hash[crypto_pwhash_STRBYTES];
	if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		rc = mz_fail(err, MZ_ENOMEM, "cannot hash the admin password (out of memory)");
		goto out;
	}
	if (write_password_tmp(a, password) != 0)
		mz_warn("auth: cannot write %s/initial-admin-password: %s", a->data_dir,
		        strerror(errno));
	if ((rc = mz_store_begin(st, err)) != MZ_OK)
		goto out;
	json_decref(users);
	users = NULL;
	if ((rc = mz_kv_list(st, AUTH_USER_PREFIX, &users, err)) != MZ_OK ||
	    json_object_size(users) > 0) {
		mz_store_rollback(st);
		discard_password(a); /* another node made the first user */
		goto out;
	}
	int64_t now = mz_now_ms();
	json_t *rec = json_pack("{s:s, s:[s], s:s, s:I, s:I}", "username", "admin", "roles",
	                        "admin", "passwordHash", hash, "createdAt", (json_int_t)now,
	                        "updatedAt", (json_int_t)now);
	rc = mz__auth_kv_put_json(st, AUTH_USER_PREFIX "admin", rec, err);
	json_decref(rec);
	if (rc == MZ_OK)
		rc = mz_store_commit(st, err);
	else
		mz_store_rollback(st);
	if (rc != MZ_OK) {
		discard_password(a);
		goto out;
	}
	publish_password(a);
	/* Printed once, here, and never logged again. */
	fprintf(stderr, "mizzen: created the user 'admin' with the password %s\n"
	        "mizzen: it is also in %s/initial-admin-password (mode 0600); sign in and "
	        "change it with PUT /auth/users/admin\n", password, a->data_dir);
	sodium_memzero(password, sizeof(password));
	mz_info("auth: created the first user, admin");
out:
	json_decref(users);
	mz_store_close(st);
	return rc;
}

/* The first admin is made beside the start, not before it: Argon2id takes
 * ~70 ms here, more than the whole start-to-/health budget. Until it is
 * stored no credential works, so nothing is served unauthenticated
 * meanwhile; the password file appears once the user is committed. */
static void *
bootstrap_thread(void *arg)
{
	mz_auth *a = arg;
	mz_err err = {0};
	if (a->enabled && bootstrap_admin(a, a->db_url, &err) != MZ_OK)
		mz_error("auth: cannot create the first user admin: %s", err.msg);
	/* a node started with another key than the cluster's says so now,
	 * not at the first secret a pipeline needs */
	mz_store *st = NULL;
	memset(&err, 0, sizeof(err));
	if (mz_store_open(a->db_url, &st, &err) == MZ_OK &&
	    mz__auth_secret_key_check(a, st, false, &err) == MZ_ECONFLICT)
		mz_error("auth: %s", err.msg);
	mz_store_close(st);
	return NULL;
}

mz_code
mz_auth_start(const mz_auth_config *cfg, mz_auth **out, mz_err *err)
{
	if (sodium_init() < 0)
		return mz_fail(err, MZ_EINTERNAL, "auth: libsodium cannot start");
	mz_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	a->enabled = cfg->enabled;
	a->data_dir = mz_strdup(cfg->data_dir ? cfg->data_dir : ".");
	randombytes_buf(a->cache_secret, sizeof(a->cache_secret));
	pthread_mutex_init(&a->lock, NULL);
	if (cfg->db_url && !a->db_url)
		a->db_url = mz_strdup(cfg->db_url);
	mz_code src = mz__auth_secrets_start(a, cfg->secret_key_file, err);
	if (src != MZ_OK) {
		free(a->db_url);
		free(a->data_dir);
		pthread_mutex_destroy(&a->lock);
		free(a);
		return src;
	}
	if (!cfg->defer_bootstrap && mz_auth_bootstrap(a, err) != MZ_OK) {
		mz_auth_stop(a);
		return err ? err->code : MZ_EINTERNAL;
	}
	*out = a;
	return MZ_OK;
}

mz_code
mz_auth_bootstrap(mz_auth *a, mz_err *err)
{
	if (!a || !a->db_url || a->boot_started)
		return MZ_OK;
	if (pthread_create(&a->boot, NULL, bootstrap_thread, a) != 0)
		return mz_fail(err, MZ_EINTERNAL, "auth: cannot start a thread");
	a->boot_started = true;
	return MZ_OK;
}

void
mz_auth_stop(mz_auth *a)
{
	if (!a)
		return;
	if (a->boot_started)
		pthread_join(a->boot, NULL);
	mz__auth_secrets_stop(a);
	free(a->db_url);
	pthread_mutex_destroy(&a->lock);
	sodium_memzero(a->cache, sizeof(a->cache));
	free(a->data_dir);
	free(a);
}
