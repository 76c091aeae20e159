/* api_cloud.c - Clouddriver's read routes as Gate proxies them (reference
 * spinnaker-cloud-triggers-ui.md §2.3): clusters, server groups, load
 * balancers, instances and their consoles, read live from the cloud. With
 * no cloud (an API started without one) the lists are empty, as
 * Clouddriver answers for an application it does not know. */
#include "api/api_int.h"

#include "cloud/cloud.h"

#include <stdlib.h>
#include <string.h>

static bool
expand_param(api_req *r, bool *expand)
{
	return api_query_bool(r, "expand", false, expand);
}

static void
app_clusters(api_req *r)
{
	if (!r->api->cloud) {
		api_reply_json(r, 200, json_object());
		return;
	}
	api_reply_json(r, 200, mz_cloud_clusters(r->api->cloud, r->param[0]));
}

/* [{name, account, moniker, loadBalancers:[names], serverGroups:[names]}] */
static void
app_clusters_account(api_req *r)
{
	json_t *names = r->api->cloud ? mz_cloud_clusters(r->api->cloud, r->param[0]) : NULL;
	json_t *list = json_object_get(names, r->param[1]);
	json_t *out = json_array();
	size_t i;
	json_t *n;
	json_array_foreach(list, i, n) {
		json_t *cl = mz_cloud_cluster(r->api->cloud, r->param[0], r->param[1],
		                              json_string_value(n));
		json_t *c = json_array_get(cl, 0);
		json_t *sgs = json_array();
		size_t j;
		json_t *sg;
		json_array_foreach(json_object_get(c, "serverGroups"), j, sg) {
			json_array_append_new(sgs, json_string(mz_json_str(sg, "name")));
		}
		json_t *lbs = json_array();
		json_array_foreach(json_object_get(c, "loadBalancers"), j, sg) {
			json_array_append_new(lbs, json_string(mz_json_str(sg, "name")));
		}
		json_array_append_new(out, json_pack("{s:O, s:s, s:O, s:o, s:o}", "name", n,
		                                     "account", r->param[1], "moniker",
		                                     json_object_get(c, "moniker") ?
		                                     json_object_get(c, "moniker") : json_null(),
		                                     "loadBalancers", lbs, "serverGroups", sgs));
		json_decref(cl);
	}
	json_decref(names);
	if (json_array_size(out) == 0) {
		json_decref(out);
		api_reply_error(r, 404, "No clusters found (application: %s, account: %s)",
		                r->param[0], r->param[1]);
		return;
	}
	api_reply_json(r, 200, out);
}

static void
app_cluster(api_req *r)
{
	json_t *c = r->api->cloud ? mz_cloud_cluster(r->api->cloud, r->param[0], r->param[1],
	                                             r->param[2])
	                          : NULL;
	if (!c) {
		api_reply_error(r, 404, "Cluster not found (application: %s, account: %s, "
		                "name: %s)", r->param[0], r->param[1], r->param[2]);
		return;
	}
	api_reply_json(r, 200, c);
}

static void
app_server_groups(api_req *r)
{
	bool expand;
	if (!expand_param(r, &expand))
		return;
	if (!r->api->cloud) {
		api_reply_json(r, 200, json_array());
		return;
	}
	json_t *all = mz_cloud_server_groups(r->api->cloud, r->param[0], expand);
	const char *clusters = api_query(r, "clusters");
	const char *provider = api_query(r, "cloudProvider");
	if (clusters || (provider && *provider)) {
		char **want = api_split_csv(clusters, false);
		json_t *out = json_array();
		size_t i;
		json_t *sg;
		json_array_foreach(all, i, sg) {
			if (provider && *provider &&
			    !mz_streq(mz_json_str(sg, "cloudProvider"), provider))
				continue;
			bool keep = !clusters;
			for (int k = 0; want && want[k]; k++) {
				char *id = mz_asprintf("%s:%s", mz_json_str(sg, "account"),
				                       mz_json_str(sg, "cluster"));
				if (strcmp(id, want[k]) == 0)
					keep = true;
				free(id);
			}
			if (keep)
				json_array_append(out, sg);
		}
		api_strv_free(want);
		json_decref(all);
		all = out;
	}
	api_reply_json(r, 200, all);
}

static void
server_group_reply(api_req *r, const char *account, const char *region, const char *name)
{
	json_t *sg = r->api->cloud ? mz_cloud_server_group(r->api->cloud, account, region, name)
	                           : NULL;
	if (!sg) {
		api_reply_error(r, 404, "Server group not found (account: %s, region: %s, name: %s)",
		                account, region, name);
		return;
	}
	api_reply_json(r, 200, sg);
}

static void
server_group(api_req *r)
{
	server_group_reply(r, r->param[0], r->param[1], r->param[2]);
}

static void
app_server_group(api_req *r)
{
	server_group_reply(r, r->param[1], r->param[2], r->param[3]);
}

static void
app_load_balancers(api_req *r)
{
	if (!r->api->cloud) {
		api_reply_json(r, 200, json_array());
		return;
	}
	api_reply_json(r, 200, mz_cloud_load_balancers(r->api->cloud, r->param[0]));
}

static void
instance(api_req *r)
{
	json_t *in = r->api->cloud ? mz_cloud_instance(r->api->cloud, r->param[0], r->param[1],
	                                               r->param[2])
	                           : NULL;
	if (!in) {
		api_reply_error(r, 404, "Instance not found (account: %s, region: %s, id: %s)",
		                r->param[0], r->param[1], r->param[2]);
		return;
	}
	api_reply_json(r, 200, in);
}

static void
console(api_req *r)
{
	json_t *out = r->api->cloud ? mz_cloud_console(r->api->cloud, r->param[0], r->param[1],
	                                               r->param[2])
	                            : NULL;
	if (!out) {
		api_reply_error(r, 404, "Instance not found (account: %s, region: %s, id: %s)",
		                r->param[0], r->param[1], r->param[2]);
		return;
	}
	api_reply_json(r, 200, out);
}

const api_route api_cloud_routes[] = {
	{"GET", "/applications/{app}/clusters", app_clusters},
	{"GET", "/applications/{app}/clusters/{account}", app_clusters_account},
	{"GET", "/applications/{app}/clusters/{account}/{cluster}", app_cluster},
	{"GET", "/applications/{app}/serverGroups", app_server_groups},
	{"GET", "/applications/{app}/serverGroups/{account}/{region}/{name}", app_server_group},
	{"GET", "/serverGroups/{account}/{region}/{name}", server_group},
	{"GET", "/applications/{app}/loadBalancers", app_load_balancers},
	{"GET", "/instances/{account}/{region}/{id}", instance},
	{"GET", "/instances/{account}/{region}/{id}/console", console},
	{NULL, NULL, NULL},
};
