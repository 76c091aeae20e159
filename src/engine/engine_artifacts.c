/*
 * engine_artifacts.c - the artifact model (see artifacts.h): the
 * content-addressed artifact store, fetching an artifact's content, finding
 * artifacts upstream of a stage, and Orca's expected-artifact resolution.
 */
#include "engine/artifacts.h"
#include "engine/engine_int.h"
#include "httpc/httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An http/file artifact: at most 1 GiB, within 5 minutes. */
#define MZ_ARTIFACT_DOWNLOAD_MAX ((size_t)1 << 30)
#define MZ_ARTIFACT_DOWNLOAD_TIMEOUT_MS (300L * 1000)

static char *g_root;

/* Several nodes: the store the nodes share, where every file a build
 * publishes is also kept (store_blobs.c), so a stage on another node - a
 * bake in the region that node hosts - reads it even when the node that
 * made it is gone. One connection, used under the mutex. */
static pthread_mutex_t g_share_mu = PTHREAD_MUTEX_INITIALIZER;
static char *g_share_url;
static mz_store *g_share_st;

void
mz_artifacts_share(const char *db_url)
{
	pthread_mutex_lock(&g_share_mu);
	free(g_share_url);
	g_share_url = db_url ? mz_strdup(db_url) : NULL;
	mz_store_close(g_share_st);
	g_share_st = NULL;
	pthread_mutex_unlock(&g_share_mu);
}

/* Runs fn on the shared store; MZ_OK without doing anything when the
 * store is not shared. A failure closes the connection (it may be the
 * one that broke), and the next call opens another. */
static mz_code
with_share(mz_code (*fn)(mz_store *, const char *, const char *, int, mz_err *),
           const char *hex, const char *path, int fd, mz_err *err)
{
	mz_code rc = MZ_OK;
	pthread_mutex_lock(&g_share_mu);
	if (g_share_url && !g_share_st)
		rc = mz_store_open(g_share_url, &g_share_st, err);
	if (rc == MZ_OK && g_share_st)
		rc = fn(g_share_st, hex, path, fd, err);
	else if (rc == MZ_OK)
		rc = MZ_ENOTFOUND;
	if (rc && rc != MZ_ENOTFOUND) {
		mz_store_close(g_share_st);
		g_share_st = NULL;
	}
	pthread_mutex_unlock(&g_share_mu);
	return rc;
}

static mz_code
share_put(mz_store *st, const char *hex, const char *path, int fd, mz_err *err)
{
	(void)fd;
	return mz_blob_put_file(st, hex, path, err);
}

static mz_code
share_get(mz_store *st, const char *hex, const char *path, int fd, mz_err *err)
{
	(void)path;
	return mz_blob_get_fd(st, hex, fd, err);
}

/* ---- the store ------------------------------------------------------------ */

mz_code
mz_artifacts_init(const char *data_dir, mz_err *err)
{
	char *root = mz_asprintf("%s/artifacts", data_dir);
	if (mz_mkdirs(root, 0755) != 0) {
		mz_code rc = mz_fail(err, MZ_EIO, "cannot create %s: %s", root, strerror(errno));
		free(root);
		return rc;
	}
	free(g_root);
	g_root = root;
	return MZ_OK;
}

const char *
mz_artifacts_root(void)
{
	return g_root;
}

static bool
is_hex64(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Hashes (and, when out >= 0, copies) the file at path. */
static mz_code
hash_copy(const char *path, int out, char hex[65], int64_t *size, mz_err *err)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return mz_fail(err, MZ_EINVAL, "cannot read %s: %s", path, strerror(errno));
	static const size_t BUFSZ = 1 << 16;
	unsigned char *buf = malloc(BUFSZ);
	mz_sha256_ctx s;
	mz_sha256_init(&s);
	int64_t total = 0;
	ssize_t k;
	mz_code rc = MZ_OK;
	while ((k = read(in, buf, BUFSZ)) > 0) {
		mz_sha256_update(&s, buf, (size_t)k);
		total += k;
		if (out >= 0 && write(out, buf, (size_t)k) != k) {
			rc = mz_fail(err, MZ_EIO, "cannot write to the artifact store: %s",
			             strerror(errno));
			break;
		}
	}
	if (k < 0 && rc == MZ_OK)
		rc = mz_fail(err, MZ_EIO, "cannot read %s: %s", path, strerror(errno));
	free(buf);
	close(in);
	mz_sha256_hex(&s, hex);
	if (size)
		*size = total;
	return rc;
}

mz_code
mz_sha256_file(const char *path, char hex[65], int64_t *size, mz_err *err)
{
	return hash_copy(path, -1, hex, size, err);
}

mz_code
mz_artifacts_put_file(const char *path, char hex[65], int64_t *size, mz_err *err)
{
	if (!g_root)
		return mz_fail(err, MZ_EINTERNAL, "the artifact store is not initialised");
	char rnd[27];
	mz_ulid(rnd);
	char *tmp = mz_asprintf("%s/.tmp-%s", g_root, rnd);
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		mz_code rc = mz_fail(err, MZ_EIO, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	mz_code rc = hash_copy(path, out, hex, size, err);
	if (rc == MZ_OK && fsync(out) != 0)
		rc = mz_fail(err, MZ_EIO, "fsync %s: %s", tmp, strerror(errno));
	close(out);
	if (rc == MZ_OK) {
		char *final = mz_asprintf("%s/%s", g_root, hex);
		chmod(tmp, 0444);
		if (access(final, F_OK) == 0) {
			unlink(tmp); /* identical content already stored: used again */
			mz__artifacts_touch(final);
		}
		else if (rename(tmp, final) != 0)
			rc = mz_fail(err, MZ_EIO, "cannot store %s: %s", final, strerror(errno));
		/* and for the other nodes: published only once they can read it
		 * (kept here meanwhile: MZ_EBUSY says try again) */
		if (rc == MZ_OK && (rc = with_share(share_put, hex, final, -1, err)) == MZ_ENOTFOUND)
			rc = MZ_OK;
		else if (rc)
			rc = mz_fail(err, MZ_EBUSY, "cannot store it for the other nodes yet: %s",
			             err->msg);
		free(final);
	} else {
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

char *
mz_artifacts_path(const char *hex)
{
	if (!g_root || !is_hex64(hex))
		return NULL;
	char *p = mz_asprintf("%s/%s", g_root, hex);
	if (access(p, R_OK) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

char *
mz_artifacts_path_any(const char *hex, mz_err *err)
{
	char *p = mz_artifacts_path(hex);
	if (p)
		mz__artifacts_touch(p); /* read for its content: a use */
	if (p || !g_root || !is_hex64(hex))
		return p;
	/* made on another node: copied here from the shared store, checked
	 * against its address, and kept (the content never changes) */
	char rnd[27];
	mz_ulid(rnd);
	char *tmp = mz_asprintf("%s/.tmp-%s", g_root, rnd);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	mz_code rc = fd < 0 ? mz_fail(err, MZ_EIO, "cannot create %s: %s", tmp, strerror(errno))
	                    : with_share(share_get, hex, NULL, fd, err);
	if (rc == MZ_ENOTFOUND && !err->msg[0])
		mz_fail(err, MZ_ENOTFOUND, "artifact %s is not in the artifact store", hex);
	if (fd >= 0 && rc == MZ_OK && fsync(fd) != 0)
		rc = mz_fail(err, MZ_EIO, "fsync %s: %s", tmp, strerror(errno));
	if (fd >= 0)
		close(fd);
	char got[65] = "";
	if (rc == MZ_OK && (rc = mz_sha256_file(tmp, got, NULL, err)) == MZ_OK &&
	    strcmp(got, hex) != 0)
		rc = mz_fail(err, MZ_EIO, "artifact %s from the shared store has the digest %s", hex,
		             got);
	if (rc == MZ_OK) {
		p = mz_asprintf("%s/%s", g_root, hex);
		chmod(tmp, 0444);
		if (rename(tmp, p) != 0) {
			mz_fail(err, MZ_EIO, "cannot store %s: %s", p, strerror(errno));
			free(p);
			p = NULL;
		}
	}
	if (!p)
		unlink(tmp);
	free(tmp);
	return p;
}

mz_code
mz_artifact_fetch(const json_t *a, const char *dest, mz_err *err)
{
	const char *type = mz_json_str(a, "type");
	const char *ref = mz_json_str(a, "reference");
	if (!ref)
		return mz_fail(err, MZ_EINVAL, "artifact %s has no reference",
		               mz_json_str(a, "name") ? mz_json_str(a, "name") : "(unnamed)");
	if (mz_streq(type, "mizzen/file")) {
		char *p = mz_artifacts_path_any(ref, err);
		if (!p)
			return err->code ? err->code
			                 : mz_fail(err, MZ_ENOTFOUND, "artifact %s is not in the "
			                           "artifact store", ref);
		char hex[65];
		int out = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		mz_code rc = out < 0 ? mz_fail(err, MZ_EIO, "cannot create %s: %s", dest,
		                                strerror(errno))
		                     : hash_copy(p, out, hex, NULL, err);
		if (out >= 0)
			close(out);
		free(p);
		return rc;
	}
	if (mz_streq(type, "embedded/base64")) {
		size_t n = 0;
		unsigned char *data = mz_base64_decode(ref, &n);
		if (!data)
			return mz_fail(err, MZ_EINVAL, "artifact %s: reference is not valid base64",
			               mz_json_str(a, "name") ? mz_json_str(a, "name") : "(unnamed)");
		FILE *f = fopen(dest, "wbe");
		mz_code rc = MZ_OK;
		if (!f || fwrite(data, 1, n, f) != n)
			rc = mz_fail(err, MZ_EIO, "cannot write %s", dest);
		if (f)
			fclose(f);
		free(data);
		return rc;
	}
	if (mz_streq(type, "http/file")) {
		FILE *f = fopen(dest, "wbe");
		if (!f)
			return mz_fail(err, MZ_EIO, "cannot create %s: %s", dest, strerror(errno));
		/* Through the outbound client: an artifact URL is the pipeline
		 * author's, so the policy (no metadata service, not this server)
		 * applies, also to every redirect. */
		mz_httpc_req rq = {.url = ref, .sink = f, .follow_redirects = true,
		                   .timeout_ms = MZ_ARTIFACT_DOWNLOAD_TIMEOUT_MS,
		                   .max_body = MZ_ARTIFACT_DOWNLOAD_MAX};
		mz_httpc_resp rs;
		mz_err herr = {0};
		mz_code rc = mz_httpc_do(&rq, &rs, &herr);
		if (fclose(f) != 0 && rc == MZ_OK)
			rc = mz_fail(&herr, MZ_EIO, "cannot write %s: %s", dest, strerror(errno));
		long code = rs.status;
		mz_httpc_resp_release(&rs);
		if (rc != MZ_OK)
			return mz_fail(err, rc, "cannot download %s: %s", ref, herr.msg);
		if (code >= 400)
			return mz_fail(err, MZ_EIO, "cannot download %s: HTTP %ld", ref, code);
		return MZ_OK;
	}
	return mz_fail(err, MZ_EINVAL, "artifact type %s has no file content", type ? type : "(none)");
}

/* ---- finding artifacts ----------------------------------------------------- */

static json_t *
find_in(const json_t *list, const char *name)
{
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a) {
		if (mz_streq(mz_json_str(a, "name"), name) || mz_streq(mz_json_str(a, "id"), name))
			return a;
	}
	json_array_foreach(list, i, a) {
		if (mz_streq(mz_json_str(a, "reference"), name))
			return a;
	}
	return NULL;
}

json_t *
mz_artifact_find(const json_t *exec, const json_t *stage, const char *name)
{
	if (!name)
		return NULL;
	/* upstream outputs, nearest first (breadth-first over ancestors) */
	json_t *queue = json_array();
	json_t *seen = json_object();
	json_t *found = NULL;
	size_t head = 0;
	json_array_append(queue, (json_t *)stage);
	while (!found && head < json_array_size(queue) && head < 4096) {
		json_t *s = json_array_get(queue, head++);
		const char *id = mz_json_str(s, "id");
		if (!id || json_object_get(seen, id))
			continue;
		json_object_set_new(seen, id, json_true());
		if (s != stage)
			found = find_in(json_object_get(json_object_get(s, "outputs"), "artifacts"), name);
		if (found)
			break;
		json_t *ups = mz__upstream(exec, s);
		size_t i;
		json_t *u;
		json_array_foreach(ups, i, u) {
			json_array_append(queue, u);
			json_t *kids = mz__children(exec, u, NULL);
			json_array_extend(queue, kids);
			json_decref(kids);
		}
		json_decref(ups);
		json_t *parent = mz__parent(exec, s);
		if (parent)
			json_array_append(queue, parent);
	}
	json_decref(queue);
	json_decref(seen);
	if (found)
		return found;
	json_t *trigger = json_object_get(exec, "trigger");
	found = find_in(json_object_get(trigger, "artifacts"), name);
	if (!found) {
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(trigger, "resolvedExpectedArtifacts"), i, r) {
			if (mz_streq(mz_json_str(r, "id"), name) ||
			    mz_streq(mz_json_str(r, "displayName"), name)) {
				found = json_object_get(r, "boundArtifact");
				break;
			}
		}
	}
	return found;
}

/* ---- expected artifacts ---------------------------------------------------- */

static bool
regex_full(const char *pat, const char *s)
{
	if (!s)
		return false;
	char *full = mz_asprintf("^(%s)$", pat);
	regex_t re;
	bool ok = false;
	if (regcomp(&re, full, REG_EXTENDED | REG_NOSUB) == 0) {
		ok = regexec(&re, s, 0, NULL, 0) == 0;
		regfree(&re);
	} else {
		ok = strcmp(pat, s) == 0;
	}
	free(full);
	return ok;
}

bool
mz_artifact_matches(const json_t *m, const json_t *a)
{
	static const char *const fields[] = {"type", "name", "version", "reference", "location",
	                                     "artifactAccount", NULL};
	if (!json_is_object(a))
		return false;
	for (int i = 0; fields[i]; i++) {
		const char *pat = mz_json_str(m, fields[i]);
		if (!pat || !*pat)
			continue;
		if (!regex_full(pat, mz_json_str(a, fields[i])))
			return false;
	}
	return true;
}

static json_t *
prior_artifact(const json_t *prior, const char *id)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(json_object_get(prior, "trigger"),
	                                   "resolvedExpectedArtifacts"), i, r) {
		if (mz_streq(mz_json_str(r, "id"), id) && json_is_object(json_object_get(r, "boundArtifact")))
			return json_object_get(r, "boundArtifact");
	}
	return NULL;
}

mz_code
mz_artifacts_resolve(const json_t *cfg, json_t *trigger, const json_t *prior, mz_err *err)
{
	json_t *expected = json_object_get(cfg, "expectedArtifacts");
	if (json_array_size(expected) == 0)
		return MZ_OK;
	json_t *artifacts = json_object_get(trigger, "artifacts");
	if (!json_is_array(artifacts)) {
		artifacts = json_array();
		json_object_set_new(trigger, "artifacts", artifacts);
	}
	json_t *given = json_deep_copy(artifacts);
	json_t *resolved = json_array();
	size_t i;
	json_t *e;
	mz_code rc = MZ_OK;
	json_array_foreach(expected, i, e) {
		const char *id = mz_json_str(e, "id");
		const char *display = mz_json_str(e, "displayName");
		json_t *m = json_object_get(e, "matchArtifact");
		json_t *bound = NULL;
		size_t j;
		json_t *a;
		json_array_foreach(given, j, a) {
			if (mz_artifact_matches(m, a)) {
				bound = a;
				break;
			}
		}
		if (!bound && mz_json_bool(e, "usePriorArtifact", false))
			bound = prior_artifact(prior, id);
		if (!bound && mz_json_bool(e, "useDefaultArtifact", false) &&
		    json_is_object(json_object_get(e, "defaultArtifact")))
			bound = json_object_get(e, "defaultArtifact");
		if (!bound) {
			rc = mz_fail(err, MZ_EINVAL, "Unmatched expected artifact %s",
			             display ? display : id ? id : mz_json_str(m, "name") ?
			             mz_json_str(m, "name") : "(unnamed)");
			break;
		}
		json_t *r = json_deep_copy(e);
		json_object_set_new(r, "boundArtifact", json_deep_copy(bound));
		json_array_append_new(resolved, r);
		bool present = false;
		json_array_foreach(artifacts, j, a) {
			if (json_equal(a, bound))
				present = true;
		}
		if (!present)
			json_array_append_new(artifacts, json_deep_copy(bound));
	}
	json_decref(given);
	if (rc == MZ_OK)
		json_object_set_new(trigger, "resolvedExpectedArtifacts", resolved);
	else
		json_decref(resolved);
	return rc;
}
