/* auth_secret.c - the /secrets store: values encrypted at rest with
 * libsodium's secretbox (XSalsa20-Poly1305) under a key kept outside the
 * database (DATA/secret.key, mode 0600, or $MIZZEN_SECRET_KEY_FILE), in
 * kv as secret/<name> = {"name", "nonce", "box", "updatedAt"}; and the
 * replacement of ${#secret('name')} references by values, which only an
 * effect asks for, at the moment it acts. */
#include "auth/auth_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_PREFIX "secret/"

#define KEY_ID_KEY "auth/secret-key-id"

/* Loads the key, or makes one (random, 0600) the first time: from
 * $MIZZEN_SECRET_KEY_FILE, else secrets.keyFile, else DATA/secret.key. */
static mz_code
load_key(mz_auth *a, const char *key_file, mz_err *err)
{
	const char *env = getenv("MIZZEN_SECRET_KEY_FILE");
	char *path = env && *env ? mz_strdup(env) :
	             key_file && *key_file ? mz_strdup(key_file) :
	             mz_asprintf("%s/secret.key", a->data_dir);
	mz_code rc = MZ_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		unsigned char k[crypto_secretbox_KEYBYTES];
		randombytes_buf(k, sizeof(k));
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || write(fd, k, sizeof(k)) != (ssize_t)sizeof(k) || fsync(fd) != 0)
			rc = mz_fail(err, MZ_EIO, "cannot write the secrets key %s: %s", path,
			             strerror(errno));
		if (fd >= 0)
			close(fd);
		sodium_memzero(k, sizeof(k));
		fd = rc == MZ_OK ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	}
	if (rc == MZ_OK) {
		if (fd < 0 || read(fd, a->secret_key, sizeof(a->secret_key)) !=
		              (ssize_t)sizeof(a->secret_key))
			rc = mz_fail(err, MZ_EIO, "cannot read the secrets key %s (%zu bytes expected)",
			             path, sizeof(a->secret_key));
		else
			a->has_secret_key = true;
	}
	if (fd >= 0)
		close(fd);
	if (a->has_secret_key) {
		/* the key's id: a digest keyed by the key, so two nodes can tell
		 * whether they hold the same key without showing it */
		static const char label[] = "mizzen secrets key id v1";
		unsigned char id[8];
		crypto_generichash(id, sizeof(id), (const unsigned char *)label, sizeof(label) - 1,
		                   a->secret_key, sizeof(a->secret_key));
		sodium_bin2hex(a->secret_key_id, sizeof(a->secret_key_id), id, sizeof(id));
		mz_info("auth: secrets key %s (id %s)", path, a->secret_key_id);
	}
	a->secret_key_path = path;
	return rc;
}

mz_code
mz__auth_secrets_start(mz_auth *a, const char *key_file, mz_err *err)
{
	pthread_mutex_init(&a->secret_lock, NULL);
	return load_key(a, key_file, err);
}

void
mz__auth_secrets_stop(mz_auth *a)
{
	mz_store_close(a->secret_st);
	sodium_memzero(a->secret_key, sizeof(a->secret_key));
	free(a->secret_key_path);
	pthread_mutex_destroy(&a->secret_lock);
}

mz_code
mz__auth_secret_key_check(mz_auth *a, mz_store *st, bool record, mz_err *err)
{
	char *kept = NULL;
	mz_code rc = mz_kv_get(st, KEY_ID_KEY, &kept, err);
	if (rc == MZ_ENOTFOUND) {
		memset(err, 0, sizeof(*err));
		return record ? mz_kv_put(st, KEY_ID_KEY, a->secret_key_id, err) : MZ_OK;
	}
	if (rc != MZ_OK)
		return rc;
	bool conflict = strcmp(kept, a->secret_key_id) != 0;
	__atomic_store_n(&a->secret_key_conflict, conflict, __ATOMIC_RELAXED);
	if (conflict)
		rc = mz_fail(err, MZ_ECONFLICT,
		             "this server's secrets key (%s, id %s) is not the key the secrets in "
		             "this database are encrypted with (id %s): every node sharing the "
		             "database needs the same key file - copy it and name it with "
		             "\"secrets\": {\"keyFile\": ...} in the config or "
		             "$MIZZEN_SECRET_KEY_FILE",
		             a->secret_key_path, a->secret_key_id, kept);
	free(kept);
	return rc;
}

mz_code
mz_auth_secret_put(mz_auth *a, mz_store *st, const char *name, const char *value, mz_err *err)
{
	if (!mz_auth_valid_name(name))
		return mz_fail(err, MZ_EINVAL, "a secret's name is 1 to %d letters, digits or ._@+-",
		               MZ_AUTH_NAME_MAX);
	if (!value || strlen(value) > 65536)
		return mz_fail(err, MZ_EINVAL, "give the secret as {\"value\": \"...\"} (at most 64 KiB)");
	if (!a->has_secret_key)
		return mz_fail(err, MZ_EINTERNAL, "no secrets key is loaded");
	size_t n = strlen(value);
	unsigned char nonce[crypto_secretbox_NONCEBYTES];
	unsigned char *box = malloc(n + crypto_secretbox_MACBYTES);
	if (!box)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	randombytes_buf(nonce, sizeof(nonce));
	crypto_secretbox_easy(box, (const unsigned char *)value, n, nonce, a->secret_key);
	char *nb = mz_base64_encode(nonce, sizeof(nonce));
	char *bb = mz_base64_encode(box, n + crypto_secretbox_MACBYTES);
	json_t *rec = json_pack("{s:s, s:s, s:s, s:I}", "name", name, "nonce", nb, "box", bb,
	                        "updatedAt", (json_int_t)mz_now_ms());
	char key[sizeof(SECRET_PREFIX) + MZ_AUTH_NAME_MAX];
	snprintf(key, sizeof(key), SECRET_PREFIX "%s", name);
	/* one key per database: a node with another one refuses to write */
	mz_code rc = mz_store_begin(st, err);
	if (rc == MZ_OK)
		rc = mz__auth_secret_key_check(a, st, true, err);
	if (rc == MZ_OK)
		rc = mz__auth_kv_put_json(st, key, rec, err);
	if (rc == MZ_OK)
		rc = mz_store_commit(st, err);
	else
		mz_store_rollback(st);
	json_decref(rec);
	free(nb);
	free(bb);
	free(box);
	return rc;
}

mz_code
mz_auth_secret_list(mz_auth *a, mz_store *st, json_t **out, mz_err *err)
{
	json_t *recs = NULL;
	mz_code rc = mz__auth_records(st, SECRET_PREFIX, &recs, err);
	if (rc != MZ_OK)
		return rc;
	json_t *list = json_array();
	const char *k;
	json_t *r;
	json_object_foreach(recs, k, r) {
		json_array_append_new(list, json_pack("{s:s, s:I}", "name", mz_json_str(r, "name"),
		                                      "updatedAt",
		                                      (json_int_t)mz_json_int(r, "updatedAt", 0)));
	}
	json_decref(recs);
	*out = list;
	return MZ_OK;
}

mz_code
mz_auth_secret_delete(mz_auth *a, mz_store *st, const char *name, mz_err *err)
{
	char key[sizeof(SECRET_PREFIX) + MZ_AUTH_NAME_MAX];
	json_t *rec = NULL;
	if (!mz_auth_valid_name(name))
		return mz_fail(err, MZ_ENOTFOUND, "Secret not found (name: %s)", name);
	snprintf(key, sizeof(key), SECRET_PREFIX "%s", name);
	mz_code rc = mz__auth_kv_json(st, key, &rec, err);
	json_decref(rec);
	if (rc == MZ_ENOTFOUND)
		return mz_fail(err, MZ_ENOTFOUND, "Secret not found (name: %s)", name);
	return rc == MZ_OK ? mz_kv_delete(st, key, err) : rc;
}

/* The decrypted value (malloc'd), or NULL with err. */
static char *
secret_value(mz_auth *a, mz_store *st, const char *name, mz_err *err)
{
	char key[sizeof(SECRET_PREFIX) + MZ_AUTH_NAME_MAX];
	json_t *rec = NULL;
	snprintf(key, sizeof(key), SECRET_PREFIX "%s", name);
	if (!mz_auth_valid_name(name) || mz__auth_kv_json(st, key, &rec, err) != MZ_OK) {
		mz_fail(err, MZ_ENOTFOUND, "secret '%s' does not exist (PUT /secrets/%s)", name, name);
		return NULL;
	}
	size_t nn = 0, bn = 0;
	unsigned char *nonce = mz_base64_decode(mz_json_str(rec, "nonce") ?
	                                        mz_json_str(rec, "nonce") : "", &nn);
	unsigned char *box = mz_base64_decode(mz_json_str(rec, "box") ?
	                                      mz_json_str(rec, "box") : "", &bn);
	json_decref(rec);
	char *out = NULL;
	if (nonce && box && nn == crypto_secretbox_NONCEBYTES && bn >= crypto_secretbox_MACBYTES) {
		out = malloc(bn - crypto_secretbox_MACBYTES + 1);
		if (out && crypto_secretbox_open_easy((unsigned char *)out, box, bn, nonce,
		                                      a->secret_key) == 0) {
			out[bn - crypto_secretbox_MACBYTES] = '\0';
		} else {
			free(out);
			out = NULL;
		}
	}
	if (!out && mz__auth_secret_key_check(a, st, false, err) != MZ_ECONFLICT)
		mz_fail(err, MZ_EIO, "secret '%s' cannot be decrypted with this server's key (%s, "
		        "id %s): it is damaged, or was stored under another key", name,
		        a->secret_key_path, a->secret_key_id);
	free(nonce);
	free(box);
	return out;
}

/* Sealing: text encrypted under the secrets key, as base64 of nonce and
 * box. The engine keeps sensitive request headers sealed in stage
 * contexts (engine_seal.c), so the execution JSON never holds them. */
char *
mz_auth_seal(mz_auth *a, const char *text, mz_err *err)
{
	if (!a->has_secret_key) {
		mz_fail(err, MZ_EINTERNAL, "no secrets key is loaded");
		return NULL;
	}
	if (__atomic_load_n(&a->secret_key_conflict, __ATOMIC_RELAXED)) {
		/* what this node sealed no other node could open */
		mz_fail(err, MZ_ECONFLICT, "this server's secrets key (%s, id %s) is not the key of "
		        "the other nodes sharing the database (see the log at start)",
		        a->secret_key_path, a->secret_key_id);
		return NULL;
	}
	size_t n = strlen(text);
	size_t total = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
	unsigned char *raw = malloc(total);
	if (!raw) {
		mz_fail(err, MZ_ENOMEM, "out of memory");
		return NULL;
	}
	randombytes_buf(raw, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(raw + crypto_secretbox_NONCEBYTES, (const unsigned char *)text, n,
	                      raw, a->secret_key);
	char *out = mz_base64_encode(raw, total);
	free(raw);
	return out;
}

char *
mz_auth_unseal(mz_auth *a, const char *sealed, mz_err *err)
{
	size_t n = 0;
	unsigned char *raw = mz_base64_decode(sealed, &n);
	char *out = NULL;
	if (raw && n >= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
		size_t len = n - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
		out = malloc(len + 1);
		if (out && crypto_secretbox_open_easy((unsigned char *)out,
		                                      raw + crypto_secretbox_NONCEBYTES,
		                                      n - crypto_secretbox_NONCEBYTES, raw,
		                                      a->secret_key) == 0) {
			out[len] = '\0';
		} else {
			free(out);
			out = NULL;
		}
	}
	free(raw);
	if (!out)
		mz_fail(err, MZ_EINVAL, "a sealed value cannot be opened with this server's secrets "
		        "key (%s, id %s): it was sealed by a node with another key - every node "
		        "sharing the database needs the same key file (\"secrets\": {\"keyFile\": "
		        "...} or $MIZZEN_SECRET_KEY_FILE)", a->secret_key_path, a->secret_key_id);
	return out;
}

char *
mz_auth_secrets_resolve(mz_auth *a, const char *text,
                        void (*seen)(const char *value, void *arg), void *arg, mz_err *err)
{
	mz_buf b;
	mz_buf_init(&b, 0);
	const char *p = text;
	bool ok = true;
	pthread_mutex_lock(&a->secret_lock);
	if (!a->secret_st && mz_store_open(a->db_url, &a->secret_st, err) != MZ_OK) {
		a->secret_st = NULL;
		ok = false;
	}
	while (ok && *p) {
		const char *s = strstr(p, "${#secret(");
		if (!s) {
			mz_buf_adds(&b, p);
			break;
		}
		mz_buf_add(&b, p, (size_t)(s - p));
		const char *q = s + 10;
		char quote = *q;
		const char *end = (quote == '\'' || quote == '"') ? strchr(q + 1, quote) : NULL;
		if (!end || strncmp(end + 1, ")}", 2) != 0 || end - q - 1 > MZ_AUTH_NAME_MAX) {
			mz_buf_add(&b, s, 10); /* not a reference: kept as written */
			p = s + 10;
			continue;
		}
		char name[MZ_AUTH_NAME_MAX + 1];
		snprintf(name, sizeof(name), "%.*s", (int)(end - q - 1), q + 1);
		char *v = secret_value(a, a->secret_st, name, err);
		if (!v) {
			ok = false;
			break;
		}
		mz_buf_adds(&b, v);
		if (seen)
			seen(v, arg);
		sodium_memzero(v, strlen(v));
		free(v);
		p = end + 3;
	}
	pthread_mutex_unlock(&a->secret_lock);
	if (!ok) {
		sodium_memzero(b.data, b.len);
		mz_buf_release(&b);
		return NULL;
	}
	return mz_buf_detach(&b, NULL);
}
