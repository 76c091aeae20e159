/* api_search.c - Gate's search: GET /search?q=&type=&pageSize=&page=
 * over applications, clusters, server groups, instances, load balancers,
 * projects and pipeline configs. A result matches when q occurs in its
 * name, ignoring case. The answer is Gate's: a list with one page object
 * {"pageNumber", "pageSize", "platform", "query", "results", "totalMatches"}
 * (Deck reads the first), each result carrying its "type" and the keys
 * Deck's search result renderers read, plus a "url" to the thing. */
#include "api/api_int.h"

#include "cloud/cloud.h"

#include <stdlib.h>
#include <string.h>

typedef struct search {
	const char *q;
	char **types;  /* NULL: every type */
	json_t *hits;
} search;

static bool
wants(const search *s, const char *type)
{
	if (!s->types || !s->types[0])
		return true;
	for (char **p = s->types; *p; p++)
		if (strcmp(*p, type) == 0)
			return true;
	return false;
}

static bool
matches(const search *s, const char *name)
{
	return name && (!*s->q || strcasestr(name, s->q));
}

static void
add(search *s, json_t *hit)
{
	json_array_append_new(s->hits, hit);
}

static void
search_store(api_req *r, search *s, mz_store *st)
{
	mz_err err = {0};
	size_t i;
	json_t *v;
	if (wants(s, "applications")) {
		json_t *apps = NULL;
		if (mz_app_list(st, &apps, &err) == MZ_OK) {
			json_array_foreach(apps, i, v) {
				const char *name = mz_json_str(v, "name");
				if (!matches(s, name))
					continue;
				char *url = mz_asprintf("/applications/%s", name);
				add(s, json_pack("{s:s, s:s, s:O, s:s, s:s}", "type", "applications",
				                 "application", name, "email", json_object_get(v, "email")
				                 ? json_object_get(v, "email") : json_null(),
				                 "url", url, "displayName", name));
				free(url);
			}
			json_decref(apps);
		}
	}
	if (wants(s, "projects")) {
		json_t *projects = NULL;
		if (mz_project_list(st, &projects, &err) == MZ_OK) {
			json_array_foreach(projects, i, v) {
				const char *name = mz_json_str(v, "name");
				if (!matches(s, name))
					continue;
				char *url = mz_asprintf("/projects/%s", name);
				add(s, json_pack("{s:s, s:s, s:s?, s:O, s:s, s:O}", "type", "projects",
				                 "name", name, "id", mz_json_str(v, "id"), "email",
				                 json_object_get(v, "email") ? json_object_get(v, "email")
				                 : json_null(), "url", url, "config",
				                 json_object_get(v, "config")));
				free(url);
			}
			json_decref(projects);
		}
	}
	if (wants(s, "pipelines")) {
		json_t *cfgs = NULL;
		if (mz_pipeline_list(st, NULL, &cfgs, &err) == MZ_OK) {
			json_array_foreach(cfgs, i, v) {
				const char *name = mz_json_str(v, "name");
				if (!matches(s, name) || api_is_strategy(v))
					continue;
				char *url = mz_asprintf("/applications/%s/pipelineConfigs/%s",
				                        mz_json_str(v, "application"), name);
				add(s, json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "type", "pipelines", "name",
				                 name, "id", mz_json_str(v, "id"), "application",
				                 mz_json_str(v, "application"), "url", url));
				free(url);
			}
			json_decref(cfgs);
		}
	}
}

static void
search_cloud(api_req *r, search *s)
{
	if (!r->api->cloud)
		return;
	size_t i, j;
	json_t *sg, *in;
	json_t *all = mz_cloud_server_groups(r->api->cloud, NULL, false);
	json_t *seen_clusters = json_object();
	json_array_foreach(all, i, sg) {
		const char *name = mz_json_str(sg, "name");
		const char *account = mz_json_str(sg, "account");
		const char *region = mz_json_str(sg, "region");
		const char *cluster = mz_json_str(sg, "cluster");
		const char *app = mz_json_str(sg, "application");
		const json_t *m = json_object_get(sg, "moniker");
		const char *stack = mz_json_str(m, "stack"), *detail = mz_json_str(m, "detail");
		if (wants(s, "serverGroups") && matches(s, name)) {
			char *url = mz_asprintf("/serverGroups/%s/%s/%s", account, region, name);
			add(s, json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:s}",
			                 "type", "serverGroups", "serverGroup", name, "account", account,
			                 "region", region, "cluster", cluster, "application", app,
			                 "stack", stack, "detail", detail, "provider", "local", "url",
			                 url));
			free(url);
		}
		if (wants(s, "clusters") && cluster && matches(s, cluster)) {
			char *key = mz_asprintf("%s/%s", account ? account : "", cluster);
			if (!json_object_get(seen_clusters, key)) {
				json_object_set_new(seen_clusters, key, json_true());
				char *url = mz_asprintf("/applications/%s/clusters/%s/%s", app, account,
				                        cluster);
				add(s, json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:s}", "type",
				                 "clusters", "cluster", cluster, "account", account,
				                 "application", app, "stack", stack, "detail", detail,
				                 "provider", "local", "url", url));
				free(url);
			}
			free(key);
		}
		if (wants(s, "instances")) {
			json_array_foreach(json_object_get(sg, "instances"), j, in) {
				const char *id = mz_json_str(in, "name");
				if (!id)
					id = mz_json_str(in, "id");
				if (!matches(s, id))
					continue;
				char *url = mz_asprintf("/instances/%s/%s/%s", account, region, id);
				add(s, json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:s}", "type",
				                 "instances", "instanceId", id, "account", account, "region",
				                 region, "serverGroup", name, "cluster", cluster,
				                 "application", app, "provider", "local", "url", url));
				free(url);
			}
		}
	}
	json_decref(seen_clusters);
	json_decref(all);
	if (wants(s, "loadBalancers")) {
		json_t *lbs = mz_cloud_load_balancers(r->api->cloud, NULL);
		json_t *lb;
		json_array_foreach(lbs, i, lb) {
			const char *name = mz_json_str(lb, "name");
			if (!matches(s, name))
				continue;
			const char *account = mz_json_str(lb, "account");
			const char *region = mz_json_str(lb, "region");
			char *url = mz_asprintf("/loadBalancers/%s/%s/%s", account, region, name);
			const json_t *m = json_object_get(lb, "moniker");
			add(s, json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s}", "type",
			                 "loadBalancers", "loadBalancer", name, "account", account,
			                 "region", region, "application", mz_json_str(m, "app"),
			                 "loadBalancerType", "haproxy", "provider", "local", "url", url));
			free(url);
		}
		json_decref(lbs);
	}
}

static void
do_search(api_req *r)
{
	long page_size, page;
	if (!api_query_int(r, "pageSize", 10000, 1, 100000, &page_size) ||
	    !api_query_int(r, "page", 1, 1, 1000000, &page))
		return;
	const char *q = api_query(r, "q");
	const char *platform = api_query(r, "platform");
	search s = {.q = q ? q : "", .types = api_split_csv(api_query(r, "type"), false),
	            .hits = json_array()};
	mz_store *st = api_store(r);
	if (!st) {
		api_strv_free(s.types);
		json_decref(s.hits);
		return;
	}
	search_store(r, &s, st);
	search_cloud(r, &s);
	size_t total = json_array_size(s.hits);
	json_t *results = json_array();
	size_t from = (size_t)(page - 1) * (size_t)page_size;
	for (size_t i = from; i < total && i < from + (size_t)page_size; i++)
		json_array_append(results, json_array_get(s.hits, i));
	json_decref(s.hits);
	api_strv_free(s.types);
	api_reply_json(r, 200, json_pack(
		"[{s:I, s:I, s:s, s:s, s:o, s:I}]", "pageNumber", (json_int_t)page, "pageSize",
		(json_int_t)page_size, "platform", platform && *platform ? platform : "local",
		"query", s.q, "results", results, "totalMatches", (json_int_t)total));
}

const api_route api_search_routes[] = {
	{"GET", "/search", do_search},
	{NULL, NULL, NULL},
};
