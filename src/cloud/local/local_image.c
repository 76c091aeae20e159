/*
 * local_image.c - the content-addressed image store.
 *
 * An image is <root>/images/<id>/root (the files, read-only) plus
 * <root>/images/<id>/manifest.json. The id is "img-" + the first 32 hex
 * digits of a SHA-256 over the sorted relative paths, their modes and
 * contents (symlink targets for links), so identical content yields the
 * same id wherever it comes from. A .tar.gz is extracted with tar (argv, no
 * shell) into a temporary directory first.
 */
#include "cloud/local/local_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* ---- walking, hashing and copying ------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hashes (and, when dst is set, copies) the tree at src/rel. */
static int
walk(const char *src, const char *dst, const char *rel, mz_sha256_ctx *h, mz_err *err)
{
	char *dir = *rel ? mz_asprintf("%s/%s", src, rel) : mz_strdup(src);
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d) {
		mz_fail(err, MZ_EINVAL, "cannot read %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (!*rel && strcmp(e->d_name, "manifest.json") == 0)
			continue; /* the manifest sits beside the image, not in it */
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = realloc(names, cap * sizeof(*names));
		}
		names[n++] = mz_strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *r = *rel ? mz_asprintf("%s/%s", rel, names[i]) : mz_strdup(names[i]);
		char *sp = mz_asprintf("%s/%s", src, r);
		char *dp = dst ? mz_asprintf("%s/%s", dst, r) : NULL;
		struct stat st;
		char hdr[64];
		if (lstat(sp, &st) != 0) {
			rc = -1;
			mz_fail(err, MZ_EIO, "cannot stat %s: %s", sp, strerror(errno));
			goto next;
		}
		mz_sha256_update(h, r, strlen(r) + 1);
		snprintf(hdr, sizeof(hdr), "%o", (unsigned)(st.st_mode & 07777) |
		                                 (S_ISDIR(st.st_mode) ? 0100000u : 0u));
		mz_sha256_update(h, hdr, strlen(hdr) + 1);
		if (S_ISDIR(st.st_mode)) {
			if (dp && mkdir(dp, 0755) != 0) {
				mz_fail(err, MZ_EIO, "mkdir %s: %s", dp, strerror(errno));
				rc = -1;
				goto next;
			}
			rc = walk(src, dst, r, h, err);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t tl = readlink(sp, target, sizeof(target) - 1);
			if (tl < 0) {
				rc = -1;
				goto next;
			}
			target[tl] = '\0';
			mz_sha256_update(h, target, (size_t)tl + 1);
			if (dp && symlink(target, dp) != 0)
				rc = -1;
		} else if (S_ISREG(st.st_mode)) {
			int in = open(sp, O_RDONLY | O_CLOEXEC);
			int out = dp ? open(dp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			                    st.st_mode & 0777)
			             : -1;
			char buf[65536];
			ssize_t k;
			if (in < 0 || (dp && out < 0)) {
				rc = -1;
				mz_fail(err, MZ_EIO, "cannot copy %s: %s", sp, strerror(errno));
			} else {
				while ((k = read(in, buf, sizeof(buf))) > 0) {
					mz_sha256_update(h, buf, (size_t)k);
					if (out >= 0 && write(out, buf, (size_t)k) != k) {
						mz_fail(err, MZ_EIO, "cannot write %s: %s", dp, strerror(errno));
						rc = -1;
						break;
					}
				}
				if (out >= 0)
					fchmod(out, st.st_mode & 0777);
			}
			if (in >= 0)
				close(in);
			if (out >= 0)
				close(out);
		}
		/* other file types (sockets, fifos, devices) are skipped */
	next:
		free(r);
		free(sp);
		free(dp);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(dir);
	return rc;
}

static bool
ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

bool
lp_image_id_like(const char *s)
{
	return s && strncmp(s, "img-", 4) == 0 && !strchr(s, '/');
}

bool
mz_local_image_allowed(mz_local *lp, const char *image, bool must_exist)
{
	return lp_image_id_like(image) || mz_path_within(image, lp->image_roots, must_exist);
}

json_t *
lp_image_load(mz_local *lp, const char *image_id)
{
	char *mpath;
	json_t *m;
	if (!lp_image_id_like(image_id))
		return NULL;
	mpath = mz_asprintf("%s/images/%s/manifest.json", lp->root, image_id);
	m = lp_read_json(mpath);
	free(mpath);
	return m;
}

mz_code
lp_image_import(mz_local *lp, const char *path, const json_t *manifest,
                char image_id[80], mz_err *err)
{
	char *src = NULL, *tmpx = NULL, *stage = NULL, *final = NULL, *mpath = NULL;
	char rnd[27], hex[65];
	mz_sha256_ctx h;
	struct stat st;
	json_t *man = NULL, *rec = NULL;
	mz_code rc = MZ_OK;

	if (!path || stat(path, &st) != 0)
		return mz_fail(err, MZ_EINVAL, "image path %s does not exist", path ? path : "(null)");
	mz_ulid(rnd);
	stage = mz_asprintf("%s/images/.import-%s", lp->root, rnd);
	if (mz_mkdirs(stage, 0755) != 0) {
		rc = mz_fail(err, MZ_EIO, "cannot create %s: %s", stage, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		src = mz_strdup(path);
	} else if (ends_with(path, ".tar.gz") || ends_with(path, ".tgz")) {
		tmpx = mz_asprintf("%s/x", stage);
		mkdir(tmpx, 0755);
		const char *const argv[] = { "tar", "-xzf", path, "-C", tmpx, "--no-same-owner",
			                     NULL };
		mz_buf out;
		mz_buf_init(&out, 65536);
		int trc = mz_proc_run_argv(argv, &out, 600000);
		mz_buf_add(&out, "", 1);
		if (trc != 0) {
			rc = mz_fail(err, MZ_EINVAL, "cannot extract %s: %.300s", path, out.data);
			mz_buf_release(&out);
			goto out;
		}
		mz_buf_release(&out);
		src = mz_strdup(tmpx);
	} else {
		rc = mz_fail(err, MZ_EINVAL, "image %s is neither a directory nor a .tar.gz", path);
		goto out;
	}
	/* the manifest: given, else manifest.json at the top of the image */
	if (manifest && json_is_object(manifest)) {
		man = json_deep_copy(manifest);
	} else {
		char *mp = mz_asprintf("%s/manifest.json", src);
		man = lp_read_json(mp);
		free(mp);
		if (!json_is_object(man)) {
			json_decref(man);
			man = json_object();
		}
	}
	char *root = mz_asprintf("%s/root", stage);
	mkdir(root, 0755);
	mz_sha256_init(&h);
	if (walk(src, root, "", &h, err) != 0) {
		free(root);
		rc = err && err->code ? err->code : MZ_EIO;
		goto out;
	}
	free(root);
	mz_sha256_hex(&h, hex);
	snprintf(image_id, 80, "img-%.32s", hex);
	final = mz_asprintf("%s/images/%s", lp->root, image_id);
	mpath = mz_asprintf("%s/manifest.json", final);
	if (access(final, F_OK) == 0) {
		/* identical content is already stored; keep it (and fill in a
		 * manifest that was empty before) */
		json_t *old = lp_read_json(mpath);
		if (json_object_size(man) > 0 &&
		    json_object_size(json_object_get(old, "manifest")) == 0 && old) {
			json_object_set(old, "manifest", man);
			lp_write_json(mpath, old);
		}
		json_decref(old);
		goto out;
	}
	if (tmpx)
		mz_proc_rm_rf(tmpx);
	rec = json_object();
	json_object_set_new(rec, "imageId", json_string(image_id));
	json_object_set_new(rec, "name", json_string(mz_json_str(man, "name") ? mz_json_str(man, "name")
	                                                                     : image_id));
	json_object_set_new(rec, "version", json_incref(json_object_get(man, "version") ?
	                                                     json_object_get(man, "version") : json_null()));
	json_object_set_new(rec, "source", json_string(path));
	json_object_set_new(rec, "createdTime", json_integer(mz_now_ms()));
	json_object_set_new(rec, "tags", json_object());
	json_object_set(rec, "manifest", man);
	{
		char *sm = mz_asprintf("%s/manifest.json", stage);
		char *r = mz_asprintf("%s/root", stage);
		const char *const chmod_argv[] = { "chmod", "-R", "a-w", "--", r, NULL };
		lp_write_json(sm, rec);
		mz_proc_run_argv(chmod_argv, NULL, 600000);
		free(sm);
		free(r);
	}
	if (rename(stage, final) != 0) {
		if (errno == ENOTEMPTY || errno == EEXIST)
			goto out; /* a concurrent import of the same content won */
		rc = mz_fail(err, MZ_EIO, "cannot store image %s: %s", final, strerror(errno));
		goto out;
	}
	free(stage);
	stage = NULL;
	mz_info("local: imported image %s from %s", image_id, path);
out:
	if (stage)
		mz_proc_rm_rf(stage);
	free(src);
	free(tmpx);
	free(stage);
	free(final);
	free(mpath);
	json_decref(man);
	json_decref(rec);
	return rc;
}

/* ---- tags and deletion (the bakery's image routes) ---------------------- */

mz_code
mz_local_image_tag(mz_local *lp, const char *image_id, const json_t *tags, mz_err *err)
{
	if (!json_is_object(tags))
		return mz_fail(err, MZ_EINVAL, "tags must be an object of name: value");
	pthread_mutex_lock(&lp->mu);
	json_t *rec = lp_image_load(lp, image_id);
	mz_code rc = MZ_OK;
	if (!rec) {
		rc = mz_fail(err, MZ_ENOTFOUND, "Image not found (id: %s)", image_id);
	} else {
		mz_json_merge_patch(rec, "tags", tags);
		char *mpath = mz_asprintf("%s/images/%s/manifest.json", lp->root, image_id);
		if (lp_write_json(mpath, rec) != 0)
			rc = mz_fail(err, MZ_EIO, "cannot write %s", mpath);
		free(mpath);
	}
	pthread_mutex_unlock(&lp->mu);
	json_decref(rec);
	return rc;
}

mz_code
mz_local_image_delete(mz_local *lp, const char *image_id, mz_err *err)
{
	mz_code rc = MZ_OK;
	pthread_mutex_lock(&lp->mu);
	json_t *rec = lp_image_load(lp, image_id);
	const char *key;
	json_t *sg;
	if (!rec) {
		rc = mz_fail(err, MZ_ENOTFOUND, "Image not found (id: %s)", image_id);
		goto out;
	}
	json_object_foreach(lp->sgs, key, sg) {
		if (mz_streq(mz_json_str(json_object_get(sg, "image"), "imageId"), image_id)) {
			rc = mz_fail(err, MZ_ECONFLICT, "Image %s is used by server group %s (%s/%s)",
			             image_id, mz_json_str(sg, "name"), mz_json_str(sg, "account"),
			             mz_json_str(sg, "region"));
			goto out;
		}
	}
	{
		char *dir = mz_asprintf("%s/images/%s", lp->root, image_id);
		char *r = mz_asprintf("%s/root", dir);
		if (mz_proc_rm_rf(dir) != 0)
			rc = mz_fail(err, MZ_EIO, "cannot remove %s", dir);
		free(dir);
		free(r);
	}
out:
	pthread_mutex_unlock(&lp->mu);
	json_decref(rec);
	return rc;
}

/* ---- retention ----------------------------------------------------------- */

/* The family an image belongs to, for "the newest N": its name (a bake's
 * package name, the manifest's name of an imported directory), else, for
 * an image imported from a path without a name, that path. */
static const char *
image_family(const json_t *rec, const char *image_id)
{
	const char *name = mz_json_str(rec, "name");
	if (name && *name && !mz_streq(name, image_id))
		return name;
	const char *src = mz_json_str(rec, "source");
	return src && *src ? src : image_id;
}

static int
cmp_newest(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "createdTime"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "createdTime"));
	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(mz_json_str(*(json_t *const *)a, "imageId"),
	              mz_json_str(*(json_t *const *)b, "imageId"));
}

/* True while a deploy is queued or running: it may be about to use an
 * image (a path it imports gets its id only then), so pruning waits. */
static bool
deploy_in_flight(mz_local *lp)
{
	const char *id;
	json_t *t;
	json_object_foreach(lp->tasks, id, t) {
		const char *op = mz_json_str(t, "_op");
		if ((mz_streq(op, "createServerGroup") || mz_streq(op, "cloneServerGroup")) &&
		    !json_is_true(json_object_get(json_object_get(t, "status"), "completed")))
			return true;
	}
	return false;
}

int
mz_local_images_prune(mz_local *lp, int keep, const json_t *protect, int64_t before_ms)
{
	char *dir = mz_asprintf("%s/images", lp->root);
	json_t *families = json_object(); /* family -> [records] */
	json_t *trash = json_array();     /* directories to remove, outside the lock */
	DIR *d;
	struct dirent *e;
	pthread_mutex_lock(&lp->mu);
	if (deploy_in_flight(lp) || !(d = opendir(dir))) {
		pthread_mutex_unlock(&lp->mu);
		json_decref(families);
		json_decref(trash);
		free(dir);
		return 0;
	}
	json_t *in_use = json_object();
	const char *key;
	json_t *sg;
	json_object_foreach(lp->sgs, key, sg) {
		const char *img = mz_json_str(json_object_get(sg, "image"), "imageId");
		if (img)
			json_object_set_new(in_use, img, json_true());
	}
	while ((e = readdir(d)) != NULL) {
		if (lp_image_id_like(e->d_name)) {
			json_t *rec = lp_image_load(lp, e->d_name);
			if (!rec)
				continue;
			json_object_set_new(rec, "imageId", json_string(e->d_name));
			const char *fam = image_family(rec, e->d_name);
			json_t *list = json_object_get(families, fam);
			if (!list) {
				list = json_array();
				json_object_set_new(families, fam, list);
			}
			json_array_append_new(list, rec);
		} else if (strncmp(e->d_name, ".trash-", 7) == 0) {
			json_array_append_new(trash, json_sprintf("%s/%s", dir, e->d_name));
		} else if (strncmp(e->d_name, ".import-", 8) == 0) {
			/* an import that a crash interrupted */
			char *p = mz_asprintf("%s/%s", dir, e->d_name);
			struct stat sb;
			if (stat(p, &sb) == 0 && (int64_t)sb.st_mtime * 1000 < before_ms)
				json_array_append_new(trash, json_string(p));
			free(p);
		}
	}
	closedir(d);
	int removed = 0;
	json_t *list;
	json_object_foreach(families, key, list) {
		size_t n = json_array_size(list);
		json_t **v = calloc(n ? n : 1, sizeof(*v));
		for (size_t i = 0; i < n; i++)
			v[i] = json_array_get(list, i);
		qsort(v, n, sizeof(*v), cmp_newest);
		for (size_t i = (size_t)keep; i < n; i++) {
			const char *id = mz_json_str(v[i], "imageId");
			if (json_object_get(in_use, id) || json_object_get(protect, id))
				continue;
			/* out of sight at once (a rename), removed after the lock */
			char *from = mz_asprintf("%s/%s", dir, id);
			char *to = mz_asprintf("%s/.trash-%s", dir, id);
			if (rename(from, to) == 0) {
				json_array_append_new(trash, json_string(to));
				removed++;
				mz_info("retention: removed image %s (%s), unused and not among the newest "
				        "%d", id, key, keep);
			}
			free(from);
			free(to);
		}
		free(v);
	}
	pthread_mutex_unlock(&lp->mu);
	size_t i;
	json_t *p;
	json_array_foreach(trash, i, p)
		mz_proc_rm_rf(json_string_value(p));
	json_decref(in_use);
	json_decref(families);
	json_decref(trash);
	free(dir);
	return removed;
}
