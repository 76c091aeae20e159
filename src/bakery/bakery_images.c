/*
 * bakery_images.c - the images of the local cloud's image store, as
 * Clouddriver and Orca see them: the image search and image routes of the
 * API, and the stages findImageFromTags (the newest image of a package
 * with given tags), upsertImageTags (Orca's UpsertImageTagsStage: tags
 * the images the stage names, or those upstream stages baked or found) and
 * deleteImage.
 */
#include "bakery/bakery.h"
#include "bakery/bakery_int.h"

#include "cloud/cloud.h"
#include "engine/engine.h"
#include "engine/engine_int.h"

#include <string.h>
#include <time.h>

#define ORCA_IMAGE "com.netflix.spinnaker.orca.clouddriver.tasks.image."

/* ---- images for the API ---------------------------------------------------------------- */

static json_t *
image_view(const json_t *im, const json_t *regions)
{
	json_t *man = json_object_get(im, "manifest");
	const char *id = mz_json_str(im, "imageId");
	const char *iname = mz_json_str(man, "imageName") ? mz_json_str(man, "imageName")
	                                                  : mz_json_str(im, "name");
	json_t *amis = json_object();
	size_t i;
	json_t *r;
	json_array_foreach(regions, i, r) {
		json_object_set_new(amis, json_string_value(r), json_pack("[s]", id));
	}
	char date[64];
	time_t t = (time_t)(mz_json_int(im, "createdTime", 0) / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	json_t *v = json_pack("{s:s?, s:s?, s:{s:s}, s:o, s:s, s:s, s:O?, s:O?, s:O?, s:I}",
	                      "imageName", iname ? iname : id, "imageId", id, "attributes",
	                      "creationDate", date, "amis", amis, "account", "local",
	                      "cloudProvider", "local", "tags", json_object_get(im, "tags"),
	                      "package", json_object_get(man, "name"), "version",
	                      json_object_get(man, "version"), "createdTime",
	                      (json_int_t)mz_json_int(im, "createdTime", 0));
	return v;
}

static json_t *
all_regions(mz_local *lp)
{
	json_t *accts = mz_local_accounts(lp);
	json_t *out = json_array();
	size_t i, j;
	json_t *a, *r;
	json_array_foreach(accts, i, a) {
		json_array_foreach(json_object_get(a, "regions"), j, r) {
			const char *n = json_is_string(r) ? json_string_value(r) : mz_json_str(r, "name");
			bool dup = false;
			size_t k;
			json_t *x;
			json_array_foreach(out, k, x) {
				if (mz_streq(json_string_value(x), n))
					dup = true;
			}
			if (n && !dup)
				json_array_append_new(out, json_string(n));
		}
	}
	json_decref(accts);
	return out;
}

/* The images this node's routes and stages see. On one node: its own. On
 * several: every node's, as the database records them (the truth for
 * tags), and this node's own ones it has no record of (imported from a
 * path); one the database says deleted is left out, even where a node
 * still has its copy. A new array. */
static json_t *
images_all(mz_local *lp)
{
	json_t *own = mz_local_images(lp);
	json_t *shared = mz_cloud_images_shared(mz__bakery_cloud());
	if (!shared)
		return own;
	json_t *out = json_array();
	size_t i;
	json_t *im;
	json_array_foreach(own, i, im) {
		if (!json_object_get(shared, mz_json_str(im, "imageId")))
			json_array_append(out, im);
	}
	const char *id;
	json_object_foreach(shared, id, im) {
		if (!json_is_true(json_object_get(im, "deleted")))
			json_array_append(out, im);
	}
	json_decref(own);
	json_decref(shared);
	return out;
}

/* One image as images_all sees it, or NULL. */
static json_t *
image_one(mz_local *lp, const char *image_id)
{
	json_t *shared = mz_cloud_images_shared(mz__bakery_cloud());
	json_t *rec = json_object_get(shared, image_id);
	json_t *im = rec ? json_incref(rec) : mz_local_image(lp, image_id);
	json_decref(shared);
	if (json_is_true(json_object_get(im, "deleted"))) {
		json_decref(im);
		return NULL;
	}
	return im;
}

static bool
contains_ci(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle) != NULL;
}

json_t *
mz_bakery_images_find(const char *q)
{
	mz_local *lp = mz__bakery_local();
	if (!lp)
		return NULL;
	bool all = !q || !*q || strcmp(q, "*") == 0;
	char *needle = mz_strdup(q ? q : "");
	size_t nl = strlen(needle);
	while (nl > 0 && needle[nl - 1] == '*')
		needle[--nl] = '\0';
	char *start = needle;
	while (*start == '*')
		start++;
	json_t *imgs = images_all(lp);
	json_t *regions = all_regions(lp);
	json_t *out = json_array();
	size_t i;
	json_t *im;
	json_array_foreach(imgs, i, im) {
		json_t *man = json_object_get(im, "manifest");
		bool hit = all || !*start || contains_ci(mz_json_str(im, "imageId"), start) ||
		           contains_ci(mz_json_str(im, "name"), start) ||
		           contains_ci(mz_json_str(man, "imageName"), start) ||
		           contains_ci(mz_json_str(man, "name"), start);
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(im, "tags"), k, v) {
			if (contains_ci(json_string_value(v), start))
				hit = true;
		}
		if (hit)
			json_array_append_new(out, image_view(im, regions));
	}
	free(needle);
	json_decref(imgs);
	json_decref(regions);
	return out;
}

json_t *
mz_bakery_image(const char *image_id)
{
	mz_local *lp = mz__bakery_local();
	if (!lp)
		return NULL;
	json_t *im = image_one(lp, image_id);
	if (!im)
		return NULL;
	json_t *regions = all_regions(lp);
	json_t *v = image_view(im, regions);
	json_object_set(v, "manifest", json_object_get(im, "manifest"));
	json_decref(regions);
	json_decref(im);
	return v;
}

/* On several nodes the database's record changes first (it is the
 * truth), then this node's copy, when it has one. */
mz_code
mz_bakery_image_tag(const char *image_id, const json_t *tags, mz_err *err)
{
	mz_local *lp = mz__bakery_local();
	if (!lp)
		return mz_fail(err, MZ_EBUSY, "the bakery is not running");
	if (!json_is_object(tags))
		return mz_fail(err, MZ_EINVAL, "tags must be an object of name: value");
	json_t *im = image_one(lp, image_id);
	if (!im)
		return mz_fail(err, MZ_ENOTFOUND, "Image not found (id: %s)", image_id);
	json_decref(im);
	mz_code rc = mz_cloud_image_tag(mz__bakery_cloud(), image_id, tags, err);
	if (rc != MZ_OK && rc != MZ_ENOTFOUND)
		return rc;
	bool recorded = rc == MZ_OK;
	memset(err, 0, sizeof(*err));
	rc = mz_local_image_tag(lp, image_id, tags, err);
	if (rc == MZ_ENOTFOUND && recorded) { /* another node's image */
		memset(err, 0, sizeof(*err));
		rc = MZ_OK;
	}
	return rc;
}

/* On several nodes the database's record says deleted first (refused
 * while a server group of any node uses the image), then this node's
 * copy goes; the other nodes' copies are neither listed nor deployed
 * from then on (src/cloud/cloud_images.c). */
mz_code
mz_bakery_image_delete(const char *image_id, mz_err *err)
{
	mz_local *lp = mz__bakery_local();
	if (!lp)
		return mz_fail(err, MZ_EBUSY, "the bakery is not running");
	json_t *im = image_one(lp, image_id);
	if (!im)
		return mz_fail(err, MZ_ENOTFOUND, "Image not found (id: %s)", image_id);
	json_decref(im);
	mz_code rc = mz_cloud_image_forget(mz__bakery_cloud(), image_id, err);
	if (rc != MZ_OK && rc != MZ_ENOTFOUND)
		return rc;
	bool recorded = rc == MZ_OK;
	memset(err, 0, sizeof(*err));
	rc = mz_local_image_delete(lp, image_id, err);
	if (rc == MZ_ENOTFOUND && recorded) {
		memset(err, 0, sizeof(*err));
		rc = MZ_OK;
	}
	return rc;
}

/* ---- findImageFromTags ----------------------------------------------------------------- */

static bool
tags_match(const json_t *want, const json_t *have)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)want, k, v) {
		json_t *h = json_object_get(have, k);
		if (!h || !json_equal(h, v))
			return false;
	}
	return true;
}

static void
find_from_tags_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	const char *pkg = mz_json_str(ctx, "packageName");
	json_t *want = json_object_get(ctx, "tags");
	mz_local *lp = mz__bakery_local();
	if (!lp || !pkg) {
		mz_task_result_set(r, "TERMINAL", "findImageFromTags needs a packageName");
		return;
	}
	json_t *imgs = images_all(lp);
	json_t *best = NULL;
	size_t i;
	json_t *im;
	json_array_foreach(imgs, i, im) {
		json_t *man = json_object_get(im, "manifest");
		const char *name = mz_json_str(man, "name") ? mz_json_str(man, "name")
		                                            : mz_json_str(im, "name");
		if (!mz_streq(name, pkg) || !tags_match(want, json_object_get(im, "tags")))
			continue;
		if (!best || mz_json_int(im, "createdTime", 0) > mz_json_int(best, "createdTime", 0))
			best = im;
	}
	if (!best) {
		char *t = want ? mz_json_dump(want) : mz_strdup("{}");
		mz_task_result_set(r, "TERMINAL", "Could not find an image of package %s with tags %s",
		                   pkg, t);
		free(t);
		json_decref(imgs);
		return;
	}
	json_t *regions = json_object_get(ctx, "regions");
	json_t *details = json_array();
	const char *id = mz_json_str(best, "imageId");
	const char *iname = mz_json_str(json_object_get(best, "manifest"), "imageName");
	if (!json_array_size(regions)) {
		json_array_append_new(details, json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s}", "region",
		                                         mz_json_str(ctx, "region") ?
		                                         mz_json_str(ctx, "region") : "local",
		                                         "imageId", id, "ami", id, "imageName", iname,
		                                         "cloudProvider", "local", "cloudProviderType",
		                                         "local"));
	}
	json_t *reg;
	json_array_foreach(regions, i, reg) {
		json_array_append_new(details, json_pack("{s:s?, s:s, s:s, s:s?, s:s, s:s}", "region",
		                                         json_string_value(reg), "imageId", id, "ami",
		                                         id, "imageName", iname, "cloudProvider",
		                                         "local", "cloudProviderType", "local"));
	}
	json_object_set_new(mz_task_result_outputs(r), "deploymentDetails", details);
	json_object_set_new(mz_task_result_context(r), "amiDetails", json_deep_copy(details));
	json_object_set_new(mz_task_result_context(r), "imageId", json_string(id));
	json_decref(imgs);
	mz_task_result_set(r, "SUCCEEDED", NULL);
}

static mz_code
find_tags_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "findImageFromTags");
	return MZ_OK;
}

/* The image store for a task; NULL after setting the result TERMINAL. */
static mz_local *
task_store(mz_task_result *r)
{
	mz_local *lp = mz__bakery_local();
	if (!lp)
		mz_task_result_set(r, "TERMINAL", "the bakery is not running");
	return lp;
}

/* ---- upsertImageTags ------------------------------------------------------------------- */

/* consideredStages limits the upstream stages whose images are tagged to
 * those refIds (a synthetic stage counts by its parent's refId). */
static bool
considered(const json_t *exec, const json_t *s, const json_t *refs)
{
	if (!json_array_size(refs))
		return true;
	const json_t *parent = mz__parent(exec, s);
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r) {
		if (mz_streq(json_string_value(r), mz_json_str(s, "refId")) ||
		    (parent && mz_streq(json_string_value(r), mz_json_str(parent, "refId"))))
			return true;
	}
	return false;
}

/* Orca's ImageTagger.upstreamImageIds: the images of the stage's ancestors
 * (nearest first) whose context holds imageId or amiDetails and whose
 * cloudProvider (else cloudProviderType) is local: a bake, a
 * findImageFromTags, a findImageFromCluster. A new array of ids. */
static json_t *
upstream_image_ids(const json_t *exec, const json_t *stage, const json_t *refs)
{
	json_t *ids = json_array();
	json_t *anc = mz__ancestors(exec, stage);
	size_t i;
	json_t *s;
	json_array_foreach(anc, i, s) {
		json_t *ctx = json_object_get(s, "context");
		const char *prov = mz_json_str(ctx, "cloudProvider") ? mz_json_str(ctx, "cloudProvider")
		                                                     : mz_json_str(ctx, "cloudProviderType");
		if (s == stage || !mz_streq(prov, "local") || !considered(exec, s, refs))
			continue;
		const char *id = mz_json_str(ctx, "imageId");
		if (!id)
			id = mz_json_str(json_array_get(json_object_get(ctx, "amiDetails"), 0), "imageId");
		bool dup = false;
		size_t j;
		json_t *x;
		json_array_foreach(ids, j, x) {
			dup = dup || mz_streq(json_string_value(x), id);
		}
		if (id && !dup)
			json_array_append_new(ids, json_string(id));
	}
	json_decref(anc);
	return ids;
}

static const char *
image_name(const json_t *im)
{
	const char *n = mz_json_str(json_object_get(im, "manifest"), "imageName");
	return n ? n : mz_json_str(im, "name") ? mz_json_str(im, "name") : mz_json_str(im, "imageId");
}

/* The image of that name to tag: the newest (a rebake keeps the name). */
static json_t *
newest_named(const json_t *imgs, const char *name)
{
	json_t *best = NULL;
	size_t i;
	json_t *im;
	json_array_foreach(imgs, i, im) {
		if (mz_streq(image_name(im), name) &&
		    (!best || mz_json_int(im, "createdTime", 0) > mz_json_int(best, "createdTime", 0)))
			best = im;
	}
	return best;
}

static json_t *
with_id(const json_t *imgs, const char *id)
{
	size_t i;
	json_t *im;
	json_array_foreach(imgs, i, im) {
		if (mz_streq(mz_json_str(im, "imageId"), id))
			return im;
	}
	return NULL;
}

/* The images the stage names (imageNames, or imageName) or, when it names
 * none, the upstream ones; NULL after setting the result TERMINAL. */
static json_t *
images_to_tag(mz_task_ctx *c, mz_task_result *r, const json_t *imgs)
{
	json_t *ctx = json_object_get(c->stage, "context");
	json_t *names = json_array();
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(ctx, "imageNames"), i, v) {
		if (json_is_string(v))
			json_array_append(names, v);
	}
	if (!json_array_size(names) && mz_json_str(ctx, "imageName"))
		json_array_append(names, json_object_get(ctx, "imageName"));
	json_t *ids = json_array_size(names) ? NULL
	              : upstream_image_ids(c->execution, c->stage,
	                                   json_object_get(ctx, "consideredStages"));
	if (ids && !json_array_size(ids)) {
		mz_task_result_set(r, "TERMINAL", "Unable to determine source image(s): name them "
		                   "in imageNames, or tag after a stage that makes or finds one");
		goto fail;
	}
	json_array_foreach(ids ? ids : names, i, v) {
		json_t *im = ids ? with_id(imgs, json_string_value(v))
		                 : newest_named(imgs, json_string_value(v));
		if (!im) {
			mz_task_result_set(r, "TERMINAL", "No image found (%s: %s)",
			                   ids ? "imageId" : "imageName", json_string_value(v));
			goto fail;
		}
		if (!with_id(out, mz_json_str(im, "imageId")))
			json_array_append(out, im);
	}
	json_decref(ids);
	json_decref(names);
	return out;
fail:
	json_decref(ids);
	json_decref(names);
	json_decref(out);
	return NULL;
}

/* Orca's UpsertImageTagsTask over the local image store: each image's tags
 * are set (a null value removes a tag), idempotently, so a replay after a
 * crash tags again to the same result. Context: targets [{imageName,
 * imageId, account, regions, tags}] for waitForTaggedImage, originalTags
 * {imageName: {imageId: tags before}}. */
static void
upsert_tags_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	json_t *tags = json_object_get(ctx, "tags");
	mz_local *lp = task_store(r);
	if (!lp)
		return;
	if (!json_is_object(tags) || !json_object_size(tags)) {
		mz_task_result_set(r, "TERMINAL", "upsertImageTags needs tags: {\"name\": \"value\"}");
		return;
	}
	json_t *imgs = images_all(lp);
	json_t *targets = images_to_tag(c, r, imgs);
	if (!targets) {
		json_decref(imgs);
		return;
	}
	json_t *regions = json_array_size(json_object_get(ctx, "regions"))
	                  ? json_incref(json_object_get(ctx, "regions")) : all_regions(lp);
	json_t *view = json_array(), *names = json_array(), *original = json_object();
	size_t i;
	json_t *im;
	json_array_foreach(targets, i, im) {
		const char *id = mz_json_str(im, "imageId");
		mz_err err = {0};
		if (mz_bakery_image_tag(id, tags, &err) != MZ_OK) {
			mz_task_result_set(r, "TERMINAL", "cannot tag image %s: %s", id, err.msg);
			break;
		}
		json_array_append_new(view, json_pack("{s:s, s:s, s:s, s:O, s:O}", "imageName",
		                                      image_name(im), "imageId", id, "account", "local",
		                                      "regions", regions, "tags", tags));
		json_array_append_new(names, json_string(image_name(im)));
		json_t *byid = json_object_get(original, image_name(im));
		if (!byid) {
			byid = json_object();
			json_object_set_new(original, image_name(im), byid);
		}
		json_object_set_new(byid, id, json_object_get(im, "tags") ?
		                    json_deep_copy(json_object_get(im, "tags")) : json_object());
	}
	if (!r->status) {
		json_t *rc = mz_task_result_context(r);
		json_object_set_new(rc, "notification.type", json_string("upsertimagetags"));
		json_object_set(rc, "imageNames", names);
		json_object_set(rc, "regions", regions);
		json_object_set(rc, "targets", view);
		json_object_set(rc, "originalTags", original);
		r->status = "SUCCEEDED";
	}
	json_decref(view);
	json_decref(names);
	json_decref(original);
	json_decref(regions);
	json_decref(targets);
	json_decref(imgs);
}

/* Orca's WaitForUpsertedImageTagsTask: every target image carries the
 * tags asked for (a null one absent). */
static void
wait_tagged_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	mz_local *lp = task_store(r);
	size_t i;
	json_t *t;
	if (!lp)
		return;
	json_array_foreach(json_object_get(ctx, "targets"), i, t) {
		json_t *im = image_one(lp, mz_json_str(t, "imageId"));
		if (!im) {
			mz_task_result_set(r, "TERMINAL", "image %s (%s) no longer exists",
			                   mz_json_str(t, "imageName"), mz_json_str(t, "imageId"));
			return;
		}
		json_t *have = json_object_get(im, "tags");
		const char *k;
		json_t *want;
		bool ok = true;
		json_object_foreach(json_object_get(t, "tags"), k, want) {
			json_t *h = json_object_get(have, k);
			ok = ok && (json_is_null(want) ? !h : h && json_equal(h, want));
		}
		json_decref(im);
		if (!ok) {
			mz_task_result_set(r, "RUNNING", NULL);
			return;
		}
	}
	r->status = "SUCCEEDED";
}

static mz_code
upsert_tags_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "upsertImageTags");
	mz_plan_task(p, "waitForTaggedImage");
	return MZ_OK;
}

/* ---- deleteImage ------------------------------------------------------------------------ */

/* Orca's DeleteImageStage over the local image store: each of imageIds is
 * removed; one a server group still uses fails the stage (Clouddriver
 * refuses it too), one already gone counts as deleted, so a replay after a
 * crash ends the same. Context deletedImages. */
static void
delete_image_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	json_t *ids = json_object_get(ctx, "imageIds");
	mz_local *lp = task_store(r);
	if (!lp)
		return;
	if (!json_array_size(ids)) {
		mz_task_result_set(r, "TERMINAL", "deleteImage needs imageIds");
		return;
	}
	json_t *done = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		mz_err err = {0};
		const char *id = json_string_value(v);
		mz_code rc = id ? mz_bakery_image_delete(id, &err) : MZ_EINVAL;
		if (rc != MZ_OK && rc != MZ_ENOTFOUND) {
			mz_task_result_set(r, "TERMINAL", "cannot delete image %s: %s", id ? id : "?",
			                   id ? err.msg : "not a string");
			break;
		}
		json_array_append(done, v);
	}
	if (!r->status) {
		json_object_set(mz_task_result_context(r), "deletedImages", done);
		r->status = "SUCCEEDED";
	}
	json_decref(done);
}

static mz_code
delete_image_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "deleteImage");
	return MZ_OK;
}

/* ---- registration ---------------------------------------------------------------------- */

static const mz_task_def image_tasks[] = {
	{.name = "findImageFromTags", .impl_class = ORCA_IMAGE "FindImageFromTagsTask",
	 .execute = find_from_tags_task, .flags = MZ_TASK_EXTERNAL},
	{.name = "upsertImageTags", .impl_class = ORCA_IMAGE "UpsertImageTagsTask",
	 .execute = upsert_tags_task, .flags = MZ_TASK_EXTERNAL},
	{.name = "deleteImage", .impl_class = ORCA_IMAGE "DeleteImageTask",
	 .execute = delete_image_task, .flags = MZ_TASK_EXTERNAL},
	{.name = "waitForTaggedImage", .impl_class = ORCA_IMAGE "WaitForUpsertedImageTagsTask",
	 .execute = wait_tagged_task, .backoff_ms = 1000, .timeout_ms = 10 * 60 * 1000,
	 .flags = MZ_TASK_EXTERNAL | MZ_TASK_RETRYABLE},
};

static const mz_stage_def image_stages[] = {
	{.type = "findImageFromTags", .plan = find_tags_plan},
	{.type = "upsertImageTags", .plan = upsert_tags_plan},
	{.type = "deleteImage", .plan = delete_image_plan},
};

void
mz__bakery_register_image_stages(void)
{
	for (size_t i = 0; i < sizeof(image_tasks) / sizeof(image_tasks[0]); i++)
		mz_engine_register_task(&image_tasks[i]);
	for (size_t i = 0; i < sizeof(image_stages) / sizeof(image_stages[0]); i++)
		mz_engine_register_stage(&image_stages[i]);
}
