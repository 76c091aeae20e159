/*
 * bakery.h - the bakery (Spinnaker's Rosco plus Orca's bake stages): turns a
 * package into an immutable, content-addressed image in the local cloud's
 * image store.
 *
 * Stage `bake` (cloudProviderType "local"): `package` (the name of an
 * artifact produced upstream or in the trigger, or a path to a directory or
 * .tar.gz under one of bakery.packageRoots), `regions` (one bake per region, run in parallel as synthetic
 * stages "Bake in <region>", as Orca's BakeStage does), `baseImage` (an
 * image id whose files are the base layer), `command` (argv run inside the
 * image's sandbox with the image directory writable; `"sandbox": false`
 * only where the config allows unsandboxed commands), `startCommand` and
 * `healthCheck` (the manifest an instance starts from), `rebake`. Output:
 * Orca's `deploymentDetails` [{region, imageId, ami, imageName, package,
 * cloudProvider:"local", cloudProviderType:"local", baseImage}] on the bake
 * stage, which a following deploy stage reads for its region's image.
 *
 * Identical inputs (bake key = SHA-256 of the package content, base image,
 * bake command and manifest settings) reuse the image of the earlier bake
 * unless `rebake` is true; the stage then says "previouslyBaked": true.
 *
 * Bakes run on the bakery's own threads: the engine's tasks only start and
 * poll them. A bake in flight during a restart is started again.
 *
 * Stage `findImageFromTags`: `packageName`, `tags` ({name: value}),
 * `regions`: the newest image of that package with those tags. Stage
 * `upsertImageTags`: `tags`, `imageNames` (else the images of upstream
 * bake or find stages, limited to `consideredStages`): sets the tags.
 * Both, and the image routes below, are in bakery_images.c.
 *
 * Everything lives under <data>/bakery (bakes/, cache/, work/).
 */
#ifndef MZ_BAKERY_H
#define MZ_BAKERY_H

#include "core/core.h"

struct mz_cloud;
typedef struct mz_bakery mz_bakery;

typedef struct mz_bakery_config {
	const char *data_dir;    /* the server's data dir */
	struct mz_cloud *cloud;  /* borrowed: its local provider stores the images */
	/* bakery.packageRoots: directories under which a `package` given as a
	 * path may lie (borrowed array of strings; NULL or empty: no path is
	 * accepted, only artifacts) */
	const json_t *package_roots;
} mz_bakery_config;

/* One bakery per process (its tasks reach it through a process-wide pointer). */
mz_code mz_bakery_start(const mz_bakery_config *cfg, mz_bakery **out, mz_err *err);
/* Registers the bake, findImageFromTags and upsertImageTags stages (before
 * mz_engine_start). */
void mz_bakery_register_stages(mz_bakery *b);
/* Stops: kills running bake commands and waits for the bake threads. */
void mz_bakery_stop(mz_bakery *b);

/* ---- images for the API ---------------------------------------------------- */

/* On several nodes these see every node's images, from the database's
 * records (src/cloud/cloud_images.c); on one node, its image store. */

/* Spinnaker's image search: [{imageName, imageId, attributes:{creationDate},
 * amis:{region:[imageId]}, account, cloudProvider, tags, package, version}]
 * of images whose name, id, package or tag values contain q ("*" or NULL:
 * all). NULL before start. */
json_t *mz_bakery_images_find(const char *q);
/* One image with its manifest and the same fields, or NULL. */
json_t *mz_bakery_image(const char *image_id);
mz_code mz_bakery_image_tag(const char *image_id, const json_t *tags, mz_err *err);
/* MZ_ECONFLICT while a server group (of any node) uses the image. */
mz_code mz_bakery_image_delete(const char *image_id, mz_err *err);

#endif
