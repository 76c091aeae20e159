/* api_apps.c - applications (Gate's ApplicationController): list, get,
 * history, and the cloud views of an application. Applications are created,
 * updated and deleted by tasks (createApplication, updateApplication,
 * deleteApplication jobs), as in Spinnaker. */
#include "api/api_int.h"
#include "cloud/cloud.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static char *
lowered(const char *s)
{
	char *p = mz_strdup(s ? s : "");
	for (char *q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

/* Gate lower-cases application names on output. */
static json_t *
app_attributes(const json_t *stored)
{
	json_t *a = json_deep_copy(stored);
	char *name = lowered(mz_json_str(stored, "name"));
	json_object_set_new(a, "name", json_string(name));
	free(name);
	return a;
}

/* Loads an application or replies 404. */
static json_t *
load_app(api_req *r, const char *name)
{
	mz_store *st = api_store(r);
	if (!st)
		return NULL;
	json_t *app = NULL;
	mz_err err = {0};
	mz_code rc = mz_app_get(st, name, &app, &err);
	if (rc == MZ_ENOTFOUND || (rc == MZ_OK && !app)) {
		api_reply_error(r, 404, "Application not found (name: %s)", name);
		return NULL;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		return NULL;
	}
	return app;
}

static void
list_apps(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *apps = NULL;
	mz_err err = {0};
	if (mz_app_list(st, &apps, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	const char *account = api_query(r, "account");
	const char *owner = api_query(r, "owner");
	json_t *out = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(apps, i, a) {
		if (owner && *owner && !mz_strcaseeq(mz_json_str(a, "email"), owner))
			continue;
		if (account && *account) {
			const char *accts = mz_json_str(a, "accounts");
			if (!accts || !strstr(accts, account))
				continue;
		}
		json_array_append_new(out, app_attributes(a));
	}
	json_decref(apps);
	api_reply_json(r, 200, out);
}

/* Gate's application view: {name, attributes, clusters: {account: [{name,
 * provider, serverGroups: [names], loadBalancers: [names]}]}}, the clusters
 * read live from the cloud. */
static json_t *
app_clusters(api_req *r, const char *app)
{
	json_t *out = json_object();
	json_t *sgs = r->api->cloud ? mz_cloud_server_groups(r->api->cloud, app, false) : NULL;
	size_t i;
	json_t *sg;
	json_array_foreach(sgs, i, sg) {
		const char *account = mz_json_str(sg, "account");
		const char *cluster = mz_json_str(sg, "cluster");
		if (!account || !cluster)
			continue;
		json_t *list = json_object_get(out, account);
		if (!list) {
			list = json_array();
			json_object_set_new(out, account, list);
		}
		json_t *entry = NULL;
		size_t j;
		json_t *c;
		json_array_foreach(list, j, c) {
			if (mz_streq(mz_json_str(c, "name"), cluster))
				entry = c;
		}
		if (!entry) {
			entry = json_pack("{s:s, s:s, s:[], s:[]}", "name", cluster, "provider",
			                  mz_json_str(sg, "cloudProvider") ? mz_json_str(sg, "cloudProvider")
			                                                   : "local",
			                  "serverGroups", "loadBalancers");
			json_array_append_new(list, entry);
		}
		json_array_append_new(json_object_get(entry, "serverGroups"),
		                      json_string(mz_json_str(sg, "name")));
		json_t *lbs = json_object_get(entry, "loadBalancers");
		size_t k;
		json_t *lb;
		json_array_foreach(json_object_get(sg, "loadBalancers"), k, lb) {
			bool seen = false;
			size_t m;
			json_t *x;
			json_array_foreach(lbs, m, x) {
				if (json_equal(x, lb))
					seen = true;
			}
			if (!seen)
				json_array_append(lbs, lb);
		}
	}
	json_decref(sgs);
	return out;
}

static void
get_app(api_req *r)
{
	json_t *app = load_app(r, r->param[0]);
	if (!app)
		return;
	json_t *attrs = app_attributes(app);
	json_decref(app);
	json_t *out = json_pack("{s:O, s:o, s:o}", "name", json_object_get(attrs, "name"),
	                        "attributes", attrs, "clusters",
	                        app_clusters(r, json_string_value(json_object_get(attrs, "name"))));
	api_reply_json(r, 200, out);
}

/* The store keeps only the current version of an application; Front50's
 * non-versioning stores answer history with just that version. */
static void
app_history(api_req *r)
{
	long limit;
	if (!api_query_int(r, "limit", 20, 1, 10000, &limit))
		return;
	json_t *app = load_app(r, r->param[0]);
	if (!app)
		return;
	json_t *out = json_array();
	json_array_append_new(out, app);
	api_reply_json(r, 200, out);
}

/* The cloud views (clusters, server groups, load balancers) are in
 * api_cloud.c. */

const api_route api_app_routes[] = {
	{"GET", "/applications", list_apps},
	{"GET", "/applications/{app}", get_app},
	{"GET", "/applications/{app}/history", app_history},
	{NULL, NULL, NULL},
};
