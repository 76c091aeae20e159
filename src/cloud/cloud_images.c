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
 */
#include "cloud/cloud_int.h"
#include "cloud/local/local.h"
#include "proc/proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	json_t *have = mz_local_image(c->local, image_id);
	if (have || !c->shared || strncmp(image_id, "img-", 4) != 0) {
		json_decref(have);
		return MZ_OK; /* here already, or a path: the provider judges it */
	}
	char *tar = temp_path("import");
	char *key = blob_key(image_id);
	mz_code rc = MZ_OK;
	int fd = open(tar, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	mz_store *st = fd >= 0 ? mz__cloud_store_take(err) : NULL;
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
	unlink(tar);
	free(tar);
	free(key);
	return rc;
}
