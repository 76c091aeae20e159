/*
 * cloud_images.c - several nodes: images a node baked, readable by the
 * others.
 *
 * A bake runs on a node hosting its region (engine_route.c), so its image
 * is where the region's deploys usually run. Usually: a second node
 * hosting the region, or a node started in place of one that is gone,
 * may be the one that claims a deploy of that image. So each baked image
 * is also stored in the database the nodes share (store_blobs.c, under
 * the key "image:<id>"): the directory the bake assembled, as a .tar.gz
 * with its manifest at the top. A node asked to deploy an image id it
 * does not have imports it from there first (the import recomputes the
 * id from the content and must find the same one).
 *
 * Beside the files, the database keeps each image's record (key/value
 * "image:<id>": imageId, name, version, manifest, tags, createdTime), so
 * the image routes and stages of any node see every node's images: the
 * record is the truth for tags (a node's own copy follows when the tags
 * change through it, and when it imports the image), and a deleted image
 * keeps a record {"imageId", "deleted": true} (its files go), so a node
 * that still has its own copy neither lists nor deploys it.
 */
#include "cloud/cloud_int.h"
#include "cloud/local/local.h"
#include "proc/proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The key of an image's stored copy (table blobs) and of its record
 * (table kv): the same, in two tables. */
static char *
blob_key(const char *image_id)
{
	return mz_asprintf("image:%s", image_id);
}

/* A temporary file's path beside the node's images (new string). */
static char *
temp_path(const char *what)
{
	char rnd[27];
	mz_ulid(rnd);
	const char *tmp = getenv("TMPDIR");
	return mz_asprintf("%s/mizzen-%s-%s.tar.gz", tmp && *tmp ? tmp : "/tmp", what, rnd);
}

/* ---- the images' records ------------------------------------------------ */

/* The database's record of image_id (*rec NULL when there is none). */
static mz_code
record_get(mz_store *st, const char *image_id, json_t **rec, mz_err *err)
{
	char *key = blob_key(image_id), *text = NULL;
	*rec = NULL;
	mz_code rc = mz_kv_get(st, key, &text, err);
	free(key);
	if (rc == MZ_ENOTFOUND)
		return MZ_OK;
	if (rc)
		return rc;
	*rec = mz_json_parse(text, strlen(text), NULL);
	free(text);
	if (*rec && !json_is_object(*rec)) {
		json_decref(*rec);
		*rec = NULL;
	}
	return MZ_OK;
}

static mz_code
record_put(mz_store *st, const char *image_id, const json_t *rec, mz_err *err)
{
	char *key = blob_key(image_id), *text = mz_json_dump(rec);
	mz_code rc = mz_kv_put(st, key, text, err);
	free(key);
	free(text);
	return rc;
}

/* Runs change(rec) on image_id's record inside a transaction holding the
 * record's lock (PostgreSQL: one node at a time; SQLite's writer needs no
 * more), so two nodes tagging at once both land. */
typedef mz_code (*record_change)(mz_cloud *c, const char *image_id, json_t **rec, void *arg,
                                 mz_err *err);

static mz_code
record_update(mz_cloud *c, const char *image_id, record_change change, void *arg, mz_err *err)
{
	mz_store *st = mz__cloud_store_take(err);
	if (!st)
		return err->code ? err->code : MZ_EIO;
	char *key = blob_key(image_id);
	json_t *rec = NULL;
	mz_code rc = mz_store_begin(st, err);
	bool in_tx = rc == MZ_OK;
	if (rc == MZ_OK)
		rc = mz_store_lock(st, key, err);
	if (rc == MZ_OK)
		rc = record_get(st, image_id, &rec, err);
	if (rc == MZ_OK)
		rc = change(c, image_id, &rec, arg, err);
	if (rc == MZ_OK && rec)
		rc = record_put(st, image_id, rec, err);
	if (in_tx && rc == MZ_OK)
		rc = mz_store_commit(st, err);
	else if (in_tx)
		mz_store_rollback(st);
	mz__cloud_store_give(st);
	json_decref(rec);
	free(key);
	return rc;
}

/* A bake's record: this node's copy's, without what is only this node's.
 * A record already there is kept (the same content baked again keeps its
 * tags); one of a deleted image is replaced (it is back). */
static mz_code
record_fresh(mz_cloud *c, const char *image_id, json_t **rec, void *arg, mz_err *err)
{
	(void)arg;
	(void)err;
	if (*rec && !json_is_true(json_object_get(*rec, "deleted"))) {
		json_decref(*rec);
		*rec = NULL; /* nothing to write */
		return MZ_OK;
	}
	json_decref(*rec);
	*rec = mz_local_image(c->local, image_id);
	if (*rec) {
		json_object_del(*rec, "path");
		json_object_del(*rec, "source");
	}
	return MZ_OK;
}

static mz_code
record_new(mz_cloud *c, const char *image_id, mz_err *err)
{
	return record_update(c, image_id, record_fresh, NULL, err);
}

json_t *
mz_cloud_images_shared(mz_cloud *c)
{
	if (!c || !c->shared)
		return NULL;
	mz_err err = {0};
	mz_store *st = mz__cloud_store_take(&err);
	json_t *pairs = NULL;
	if (!st || mz_kv_list(st, "image:", &pairs, &err) != MZ_OK) {
		mz_warn("cloud: cannot read the images' records: %s (this node's images only)",
		        err.msg);
		mz__cloud_store_give(st);
		return NULL;
	}
	mz__cloud_store_give(st);
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(pairs, k, v) {
		const char *text = json_string_value(v);
		json_t *rec = text ? mz_json_parse(text, strlen(text), NULL) : NULL;
		if (json_is_object(rec) && mz_json_str(rec, "imageId"))
			json_object_set(out, mz_json_str(rec, "imageId"), rec);
		json_decref(rec);
	}
	json_decref(pairs);
	return out;
}

static mz_code
record_tags(mz_cloud *c, const char *image_id, json_t **rec, void *arg, mz_err *err)
{
	(void)c;
	if (!*rec || json_is_true(json_object_get(*rec, "deleted")))
		return mz_fail(err, MZ_ENOTFOUND, "Image not found (id: %s)", image_id);
	mz_json_merge_patch(*rec, "tags", arg);
	return MZ_OK;
}

mz_code
mz_cloud_image_tag(mz_cloud *c, const char *image_id, const json_t *tags, mz_err *err)
{
	if (!c || !c->shared)
		return mz_fail(err, MZ_ENOTFOUND, "Image not found (id: %s)", image_id);
	if (!json_is_object(tags))
		return mz_fail(err, MZ_EINVAL, "tags must be an object of name: value");
	return record_update(c, image_id, record_tags, (void *)tags, err);
}

/* The server group of any node that uses image_id, as "name (account/
 * region)" (new string), or NULL; err set when they cannot be read. */
static char *
used_by(const char *image_id, mz_err *err)
{
	json_t *sgs = mz__cloud_sgs(NULL, NULL, err);
	char *who = NULL;
	size_t i;
	json_t *sg;
	json_array_foreach(sgs, i, sg) {
		if (!who && mz_streq(mz_json_str(json_object_get(sg, "image"), "imageId"), image_id))
			who = mz_asprintf("%s (%s/%s)", mz_json_str(sg, "name"),
			                  mz_json_str(sg, "account"), mz_json_str(sg, "region"));
	}
	json_decref(sgs);
	return who;
}

static mz_code
record_delete(mz_cloud *c, const char *image_id, json_t **rec, void *arg, mz_err *err)
{
	(void)c;
	(void)arg;
	if (!*rec || json_is_true(json_object_get(*rec, "deleted")))
		return mz_fail(err, MZ_ENOTFOUND, "Image not found (id: %s)", image_id);
	char *who = used_by(image_id, err);
	if (err->code) {
		free(who);
		return err->code;
	}
	if (who) {
		mz_code rc = mz_fail(err, MZ_ECONFLICT, "Image %s is used by server group %s",
		                     image_id, who);
		free(who);
		return rc;
	}
	json_decref(*rec);
	*rec = json_pack("{s:s, s:b, s:I}", "imageId", image_id, "deleted", 1, "deletedTime",
	                 (json_int_t)mz_now_ms());
	return MZ_OK;
}

mz_code
mz_cloud_image_forget(mz_cloud *c, const char *image_id, mz_err *err)
{
	if (!c || !c->shared)
		return mz_fail(err, MZ_ENOTFOUND, "Image not found (id: %s)", image_id);
	mz_code rc = record_update(c, image_id, record_delete, NULL, err);
	if (rc)
		return rc;
	/* the files go after the record says deleted: a node importing in
	 * between finds the record first (mz__cloud_image_fetch) */
	mz_store *st = mz__cloud_store_take(err);
	char *key = blob_key(image_id);
	if (!st || mz_blob_delete(st, key, err) != MZ_OK)
		mz_warn("cloud: image %s deleted, but its stored copy stays: %s", image_id, err->msg);
	mz__cloud_store_give(st);
	free(key);
	memset(err, 0, sizeof(*err));
	return MZ_OK;
}

/* ---- the images' files -------------------------------------------------- */

void
mz_cloud_image_share(mz_cloud *c, const char *image_id, const char *dir,
                     const json_t *manifest)
{
	if (!c || !c->shared || !image_id || !dir)
		return;
	mz_err err = {0};
	char *mpath = mz_asprintf("%s/manifest.json", dir);
	char *tar = temp_path("image");
	char *key = blob_key(image_id);
	/* manifest.json at the top is not part of an image's content (its id) */
	json_t *man = manifest ? json_incref((json_t *)manifest) : json_object();
	mz_code rc = mz_json_write_file(mpath, man, JSON_COMPACT) == 0
	                     ? MZ_OK : mz_fail(&err, MZ_EIO, "cannot write %s", mpath);
	json_decref(man);
	const char *const argv[] = {"tar", "-C", dir, "--sort=name", "--numeric-owner",
	                            "--owner=0", "--group=0", "-czf", tar, ".", NULL};
	if (rc == MZ_OK && mz_proc_run_argv(argv, NULL, 600000) != 0)
		rc = mz_fail(&err, MZ_EIO, "cannot archive %s", dir);
	mz_store *st = rc == MZ_OK ? mz__cloud_store_take(&err) : NULL;
	if (st) {
		rc = mz_blob_put_file(st, key, tar, &err);
		mz__cloud_store_give(st);
	} else if (rc == MZ_OK) {
		rc = err.code ? err.code : MZ_EIO;
	}
	if (rc == MZ_OK && st)
		rc = record_new(c, image_id, &err);
	if (rc)
		mz_warn("cloud: image %s stays on this node only (other nodes hosting its region "
		        "cannot deploy it): %s", image_id, err.msg);
	else
		mz_info("cloud: image %s stored for the other nodes", image_id);
	unlink(mpath);
	unlink(tar);
	free(mpath);
	free(tar);
	free(key);
}

mz_code
mz__cloud_image_fetch(mz_cloud *c, const char *image_id, mz_err *err)
{
	if (!c->shared || strncmp(image_id, "img-", 4) != 0)
		return MZ_OK; /* one node, or a path: the provider judges it */
	json_t *have = mz_local_image(c->local, image_id);
	json_t *rec = NULL;
	mz_store *st = mz__cloud_store_take(err);
	mz_code rc = st ? record_get(st, image_id, &rec, err) : (err->code ? err->code : MZ_EIO);
	mz__cloud_store_give(st);
	st = NULL;
	if (rc && have) { /* the database away: this node's own copy still deploys */
		mz_warn("cloud: image %s: its record unread (%s), this node's copy used", image_id,
		        err->msg);
		memset(err, 0, sizeof(*err));
		rc = MZ_OK;
	}
	if (rc == MZ_OK && json_is_true(json_object_get(rec, "deleted"))) {
		mz_err e = {0};
		if (have && mz_local_image_delete(c->local, image_id, &e) != MZ_OK)
			mz_warn("cloud: deleted image %s stays on this node: %s", image_id, e.msg);
		rc = mz_fail(err, MZ_ENOTFOUND, "unknown image %s: it was deleted", image_id);
	}
	if (rc || have) {
		json_decref(have);
		json_decref(rec);
		return rc; /* here already (or an error) */
	}
	char *tar = temp_path("import");
	char *key = blob_key(image_id);
	int fd = open(tar, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	st = fd >= 0 ? mz__cloud_store_take(err) : NULL;
	if (fd < 0)
		rc = mz_fail(err, MZ_EIO, "cannot create %s", tar);
	else if (!st)
		rc = err->code ? err->code : MZ_EIO;
	else
		rc = mz_blob_get_fd(st, key, fd, err);
	mz__cloud_store_give(st);
	if (fd >= 0)
		close(fd);
	if (rc == MZ_ENOTFOUND)
		rc = mz_fail(err, MZ_ENOTFOUND, "unknown image %s: not on this node, and no node "
		             "stored it in the database", image_id);
	char got[80] = "";
	if (rc == MZ_OK && (rc = mz_local_image_import(c->local, tar, NULL, got, err)) == MZ_OK &&
	    strcmp(got, image_id) != 0)
		rc = mz_fail(err, MZ_EIO, "image %s read from the database imported as %s (its "
		             "files' modes changed on the way?)", image_id, got);
	if (rc == MZ_OK)
		mz_info("cloud: image %s imported from the database", image_id);
	/* the copy follows the record's tags */
	mz_err e = {0};
	if (rc == MZ_OK && json_object_size(json_object_get(rec, "tags")) &&
	    mz_local_image_tag(c->local, image_id, json_object_get(rec, "tags"), &e) != MZ_OK)
		mz_warn("cloud: image %s: tags not copied: %s", image_id, e.msg);
	json_decref(rec);
	unlink(tar);
	free(tar);
	free(key);
	return rc;
}
