/* api_images.c - images of the local cloud, as Gate's image routes answer
 * (Clouddriver's image search):
 *   GET    /images/find?provider=local&q=...        [{imageName, imageId,
 *          attributes:{creationDate}, amis:{region:[imageId]}, account,
 *          cloudProvider, tags, package, version}]
 *   GET    /images/{account}/{region}/{imageId}     the image with its manifest
 *   PUT|POST /images/{account}/{region}/{imageId}/tags  {"tags": {k: v|null}}
 *   DELETE /images/{account}/{region}/{imageId}     409 while a server group
 *          uses it */
#include "api/api_int.h"

#include "bakery/bakery.h"

#include <string.h>

static void
images_find(api_req *r)
{
	const char *provider = api_query(r, "provider");
	if (provider && *provider && strcmp(provider, "local") != 0) {
		api_reply_json(r, 200, json_array());
		return;
	}
	const char *q = api_query(r, "q");
	json_t *out = mz_bakery_images_find(q);
	api_reply_json(r, 200, out ? out : json_array());
}

static void
image_get(api_req *r)
{
	json_t *im = mz_bakery_image(r->param[2]);
	if (!im) {
		api_reply_error(r, 404, "Image not found (account: %s, region: %s, id: %s)",
		                r->param[0], r->param[1], r->param[2]);
		return;
	}
	json_t *list = json_array();
	json_array_append_new(list, im);
	/* Clouddriver answers a list for an image lookup */
	bool one = false;
	if (!api_query_bool(r, "single", false, &one))
		return;
	if (one) {
		json_t *x = json_incref(json_array_get(list, 0));
		json_decref(list);
		api_reply_json(r, 200, x);
		return;
	}
	api_reply_json(r, 200, list);
}

static void
image_tag(api_req *r)
{
	json_t *body = api_body_object(r, false, "tags");
	if (!body)
		return;
	json_t *tags = json_object_get(body, "tags");
	if (!tags)
		tags = body;
	mz_err err = {0};
	if (mz_bakery_image_tag(r->param[2], tags, &err) != MZ_OK) {
		json_decref(body);
		api_reply_mzerr(r, &err);
		return;
	}
	json_decref(body);
	json_t *im = mz_bakery_image(r->param[2]);
	api_reply_json(r, 200, im ? im : json_object());
}

static void
image_delete(api_req *r)
{
	mz_err err = {0};
	if (mz_bakery_image_delete(r->param[2], &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	api_reply_empty(r, 204);
}

const api_route api_image_routes[] = {
	{"GET", "/images/find", images_find},
	{"GET", "/images/{account}/{region}/{id}", image_get},
	{"PUT", "/images/{account}/{region}/{id}/tags", image_tag},
	{"POST", "/images/{account}/{region}/{id}/tags", image_tag},
	{"PUT", "/images/{account}/{region}/{id}", image_tag},
	{"DELETE", "/images/{account}/{region}/{id}", image_delete},
	{NULL, NULL, NULL},
};
