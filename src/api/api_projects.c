/* api_projects.c - Front50's projects as Gate serves them: a project names
 * applications, clusters ({account, stack, detail, applications}) and
 * pipeline configs that a team watches together.
 *   GET /projects
 *   GET /projects/{idOrName}
 *   GET /projects/{idOrName}/pipelines?limit=N   the newest executions of
 *       its pipeline configs (else of every pipeline of its applications)
 *   GET /projects/{idOrName}/clusters            its clusters, read live
 *       from the cloud, with instance counts per application and region
 * Projects are written by the orchestrations Deck sends (POST /tasks with
 * job type upsertProject or deleteProject; src/engine/stages_project.c). */
#include "api/api_int.h"

#include "cloud/cloud.h"

#include <stdlib.h>
#include <string.h>

static void
list_projects(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *all = NULL;
	mz_err err = {0};
	if (mz_project_list(st, &all, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	api_reply_json(r, 200, all);
}

static json_t *
load_project(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return NULL;
	json_t *p = NULL;
	mz_err err = {0};
	mz_code rc = mz_project_get(st, r->param[0], &p, &err);
	if (rc == MZ_ENOTFOUND) {
		api_reply_error(r, 404, "Project not found (name: %s)", r->param[0]);
		return NULL;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		return NULL;
	}
	return p;
}

static void
get_project(api_req *r)
{
	json_t *p = load_project(r);
	if (p)
		api_reply_json(r, 200, p);
}

static void
project_pipelines(api_req *r)
{
	long limit;
	if (!api_query_int(r, "limit", 5, 1, 1000, &limit))
		return;
	json_t *p = load_project(r);
	if (!p)
		return;
	json_t *cfg = json_object_get(p, "config");
	mz_store *st = api_store(r);
	json_t *out = json_array();
	mz_err err = {0};
	size_t n = json_array_size(json_object_get(cfg, "pipelineConfigs"));
	size_t i;
	json_t *v;
	if (n) {
		const char **ids = calloc(n + 1, sizeof(char *));
		size_t k = 0;
		json_array_foreach(json_object_get(cfg, "pipelineConfigs"), i, v) {
			if (mz_json_str(v, "pipelineConfigId"))
				ids[k++] = mz_json_str(v, "pipelineConfigId");
		}
		mz_exec_query q = {.type = "PIPELINE", .config_ids = ids,
		                   .limit_per_config = (int)limit};
		json_t *rows = NULL;
		if (k && mz_exec_query_run(st, &q, &rows, &err) != MZ_OK) {
			free(ids);
			json_decref(out);
			json_decref(p);
			api_reply_mzerr(r, &err);
			return;
		}
		free(ids);
		if (rows) {
			json_array_extend(out, rows);
			json_decref(rows);
		}
	} else {
		json_array_foreach(json_object_get(cfg, "applications"), i, v) {
			if (!json_is_string(v))
				continue;
			mz_exec_query q = {.type = "PIPELINE", .application = json_string_value(v),
			                   .limit_per_config = (int)limit};
			json_t *rows = NULL;
			if (mz_exec_query_run(st, &q, &rows, &err) != MZ_OK) {
				json_decref(out);
				json_decref(p);
				api_reply_mzerr(r, &err);
				return;
			}
			json_array_extend(out, rows);
			json_decref(rows);
		}
	}
	json_decref(p);
	api_reply_json(r, 200, out);
}

static void
add_counts(json_t *into, const json_t *counts)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)counts, k, v) {
		if (json_is_integer(v))
			json_object_set_new(into, k, json_integer(mz_json_int(into, k, 0) +
			                                          json_integer_value(v)));
	}
}

static json_t *
zero_counts(void)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "total", 0, "up", 0, "down", 0,
	                 "unknown", 0, "outOfService", 0, "starting", 0);
}

/* Does server group sg belong to cluster {stack, detail} of app? A detail
 * of "*" matches any; an absent stack or detail matches only none. */
static bool
in_cluster(const json_t *sg, const char *app, const char *stack, const char *detail)
{
	const json_t *m = json_object_get(sg, "moniker");
	const char *sapp = mz_json_str(sg, "application");
	const char *sstack = mz_json_str(m, "stack");
	const char *sdetail = mz_json_str(m, "detail");
	if (!mz_strcaseeq(sapp, app))
		return false;
	if (!mz_streq(stack, "*") && !mz_streq(stack && *stack ? stack : NULL,
	                                       sstack && *sstack ? sstack : NULL))
		return false;
	if (!mz_streq(detail, "*") && !mz_streq(detail && *detail ? detail : NULL,
	                                        sdetail && *sdetail ? sdetail : NULL))
		return false;
	return true;
}

/* Clouddriver's ProjectClustersService, over the local cloud. */
static void
project_clusters(api_req *r)
{
	json_t *p = load_project(r);
	if (!p)
		return;
	json_t *cfg = json_object_get(p, "config");
	json_t *all = r->api->cloud ? mz_cloud_server_groups(r->api->cloud, NULL, false)
	                            : json_array();
	json_t *out = json_array();
	size_t i, j, k;
	json_t *cl, *app, *sg;
	json_array_foreach(json_object_get(cfg, "clusters"), i, cl) {
		const char *account = mz_json_str(cl, "account");
		const char *stack = mz_json_str(cl, "stack");
		const char *detail = mz_json_str(cl, "detail");
		json_t *apps = json_object_get(cl, "applications");
		if (!json_array_size(apps))
			apps = json_object_get(cfg, "applications");
		json_t *total = zero_counts();
		json_t *app_views = json_array();
		json_array_foreach(apps, j, app) {
			if (!json_is_string(app))
				continue;
			json_t *regions = json_object(); /* region -> cluster view */
			int64_t app_last = 0;
			json_array_foreach(all, k, sg) {
				if (!mz_streq(mz_json_str(sg, "account"), account) ||
				    !in_cluster(sg, json_string_value(app), stack, detail))
					continue;
				const char *region = mz_json_str(sg, "region");
				json_t *rv = json_object_get(regions, region ? region : "");
				if (!rv) {
					rv = json_pack("{s:s, s:I, s:o, s:[]}", "region", region ? region : "",
					               "lastPush", (json_int_t)0, "instanceCounts",
					               zero_counts(), "builds");
					json_object_set_new(regions, region ? region : "", rv);
				}
				int64_t created = mz_json_int(sg, "createdTime", 0);
				if (created > mz_json_int(rv, "lastPush", 0))
					json_object_set_new(rv, "lastPush", json_integer(created));
				if (created > app_last)
					app_last = created;
				add_counts(json_object_get(rv, "instanceCounts"),
				           json_object_get(sg, "instanceCounts"));
				add_counts(total, json_object_get(sg, "instanceCounts"));
			}
			json_t *clusters = json_array();
			const char *rk;
			json_t *rv;
			json_object_foreach(regions, rk, rv) json_array_append(clusters, rv);
			json_decref(regions);
			if (json_array_size(clusters))
				json_array_append_new(app_views, json_pack(
					"{s:O, s:I, s:o}", "application", app, "lastPush", (json_int_t)app_last,
					"clusters", clusters));
			else
				json_decref(clusters);
		}
		json_array_append_new(out, json_pack(
			"{s:s?, s:s?, s:s?, s:o, s:o}", "account", account, "stack", stack, "detail",
			detail, "applications", app_views, "instanceCounts", total));
	}
	json_decref(all);
	json_decref(p);
	api_reply_json(r, 200, out);
}

const api_route api_project_routes[] = {
	{"GET", "/projects", list_projects},
	{"GET", "/projects/{id}", get_project},
	{"GET", "/projects/{id}/pipelines", project_pipelines},
	{"GET", "/projects/{id}/clusters", project_clusters},
	{NULL, NULL, NULL},
};
