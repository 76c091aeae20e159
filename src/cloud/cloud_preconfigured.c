/* cloud_preconfigured.c - preconfigured jobs (Orca's PreconfiguredJobStage):
 * the config's job.preconfigured.local lists runJob templates, each a stage
 * type of its own:
 *
 *   {"type": "lintJob", "label": "Lint", "description": "...",
 *    "parameters": [{"name": "target", "label": "Target",
 *                    "mapping": "env.TARGET", "defaultValue": "all"}],
 *    "runJob": {"command": ["make", "lint"], "git": {...}, ...}}
 *
 * A stage {"type": "lintJob", "parameters": {"target": "docs"}} runs the
 * template's runJob with each parameter's value (the stage's, else the
 * default) written at its mapping, a dotted path into the job's context
 * (env.TARGET, command.1). The template's fields win over the stage's: a
 * user picks parameters, not the command. GET /jobs/preconfigured lists
 * them for Deck. */
#include "cloud/cloud_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PRECONFIGURED 64

static json_t *g_jobs;                 /* type -> definition */
static mz_stage_def g_defs[MAX_PRECONFIGURED];
static int g_ndefs;

/* Sets value at a dotted path of ctx ("env.TARGET", "command.1"), making
 * objects on the way; false when the path runs into something else. */
static bool
set_path(json_t *ctx, const char *path, json_t *value)
{
	char *copy = mz_strdup(path);
	json_t *cur = ctx;
	char *save = NULL;
	char *part = strtok_r(copy, ".", &save);
	bool ok = false;
	while (part) {
		char *next = strtok_r(NULL, ".", &save);
		char *end = NULL;
		long idx = strtol(part, &end, 10);
		bool is_index = end && *end == '\0' && end != part;
		if (json_is_array(cur) && is_index) {
			if (idx < 0 || (size_t)idx > json_array_size(cur))
				break;
			if (!next) {
				if ((size_t)idx == json_array_size(cur))
					json_array_append(cur, value);
				else
					json_array_set(cur, (size_t)idx, value);
				ok = true;
				break;
			}
			cur = json_array_get(cur, (size_t)idx);
		} else if (json_is_object(cur)) {
			if (!next) {
				json_object_set(cur, part, value);
				ok = true;
				break;
			}
			json_t *child = json_object_get(cur, part);
			if (!child) {
				child = json_object();
				json_object_set_new(cur, part, child);
			}
			cur = child;
		} else {
			break;
		}
		part = next;
	}
	free(copy);
	return ok;
}

static mz_code
preconfigured_plan(mz_plan *p, mz_err *err)
{
	json_t *stage = mz_plan_stage(p);
	json_t *ctx = json_object_get(stage, "context");
	const char *type = mz_json_str(stage, "type");
	json_t *def = json_object_get(g_jobs, type ? type : "");
	if (!def)
		return mz_fail(err, MZ_EINVAL, "preconfigured job '%s' is not configured", type);
	json_t *job = json_object_get(def, "runJob");
	const char *k;
	json_t *v;
	json_object_foreach(job, k, v) json_object_set_new(ctx, k, json_deep_copy(v));
	if (!mz_json_str(ctx, "cloudProvider"))
		json_object_set_new(ctx, "cloudProvider", json_string("local"));
	json_t *given = json_object_get(ctx, "parameters");
	size_t i;
	json_array_foreach(json_object_get(def, "parameters"), i, v) {
		const char *name = mz_json_str(v, "name");
		const char *mapping = mz_json_str(v, "mapping");
		json_t *val = json_object_get(given, name ? name : "");
		if (!val)
			val = json_object_get(v, "defaultValue");
		if (!name || !mapping || !val)
			continue;
		if (!set_path(ctx, mapping, val))
			return mz_fail(err, MZ_EINVAL, "preconfigured job '%s': parameter '%s' cannot be "
			               "written at '%s'", type, name, mapping);
	}
	mz_plan_task(p, "runJob");
	mz_plan_task(p, "waitOnJobCompletion");
	return MZ_OK;
}

void
mz_cloud_register_preconfigured_jobs(const json_t *jobs)
{
	json_decref(g_jobs);
	g_jobs = json_object();
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j) {
		const char *type = mz_json_str(j, "type");
		if (!type || !json_is_object(json_object_get(j, "runJob")) ||
		    !mz_json_bool(j, "enabled", true))
			continue;
		if (mz_engine_stage_def(type) || g_ndefs == MAX_PRECONFIGURED) {
			mz_warn("job.preconfigured: '%s' is taken by a built-in stage (or too many "
			        "jobs); skipped", type);
			continue;
		}
		json_object_set(g_jobs, type, j);
		/* the type string lives in g_jobs, which is never freed while the
		 * engine may plan a stage */
		g_defs[g_ndefs] = (mz_stage_def){
			.type = mz_json_str(json_object_get(g_jobs, type), "type"),
			.plan = preconfigured_plan};
		mz_engine_register_stage(&g_defs[g_ndefs++]);
	}
}
