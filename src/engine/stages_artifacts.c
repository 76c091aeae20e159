/* stages_artifacts.c - stages that read artifacts (no provider needed):
 *
 * findArtifactFromExecution (Orca's FindArtifactFromExecutionTask):
 *   {"application", "pipeline": <config id>, "executionOptions":
 *    {"successful", "terminal", "running"}, "expectedArtifacts": [...]}
 *   takes the newest execution of that pipeline whose status the options
 *   allow (SUCCEEDED, TERMINAL, RUNNING; default successful only) and binds
 *   each expected artifact to an artifact of it (its trigger's and its
 *   stages' outputs); outputs "artifacts" and "resolvedExpectedArtifacts".
 *
 * savePipelinesFromArtifact (Orca's SavePipelinesFromArtifactStage):
 *   {"pipelinesArtifactId": <expected artifact id>} names an artifact whose
 *   content is {"<application>": [pipeline config, ...], ...}; each config
 *   is validated and saved (created, or updated by name); outputs
 *   "pipelinesCreated", "pipelinesUpdated", "pipelinesFailedToSave". */
#include "engine/engine_int.h"

#include "engine/artifacts.h"
#include "engine/stages.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every artifact of an execution: trigger.artifacts, bound expected
 * artifacts, and each stage's outputs.artifacts. New reference. */
static json_t *
artifacts_of(const json_t *exec)
{
	json_t *out = json_array();
	const json_t *t = json_object_get(exec, "trigger");
	size_t i, j;
	json_t *v, *s;
	json_array_foreach(json_object_get(t, "artifacts"), i, v) json_array_append(out, v);
	json_array_foreach(json_object_get(t, "resolvedExpectedArtifacts"), i, v) {
		if (json_is_object(json_object_get(v, "boundArtifact")))
			json_array_append(out, json_object_get(v, "boundArtifact"));
	}
	json_array_foreach(json_object_get(exec, "stages"), i, s) {
		json_array_foreach(json_object_get(json_object_get(s, "outputs"), "artifacts"), j, v)
			json_array_append(out, v);
	}
	return out;
}

static void
find_from_execution_task(mz_task_ctx *c, mz_task_result *r)
{
	mz_batch *b = c->internal;
	json_t *ctx = json_object_get(c->stage, "context");
	const char *pipeline = mz_json_str(ctx, "pipeline");
	json_t *expected = json_object_get(ctx, "expectedArtifacts");
	json_t *one = json_object_get(ctx, "expectedArtifact");
	json_t *want = json_is_array(expected) ? json_incref(expected) : json_array();
	if (json_is_object(one))
		json_array_append(want, one);
	if (!pipeline || !json_array_size(want)) {
		json_decref(want);
		mz_task_result_set(r, "TERMINAL", "findArtifactFromExecution needs 'pipeline' (a "
		                   "pipeline config id) and 'expectedArtifacts'");
		return;
	}
	json_t *opts = json_object_get(ctx, "executionOptions");
	const char *statuses[4];
	int n = 0;
	if (!opts || mz_json_bool(opts, "successful", false))
		statuses[n++] = "SUCCEEDED";
	if (mz_json_bool(opts, "terminal", false))
		statuses[n++] = "TERMINAL";
	if (mz_json_bool(opts, "running", false))
		statuses[n++] = "RUNNING";
	statuses[n] = NULL;
	if (!n) {
		json_decref(want);
		mz_task_result_set(r, "TERMINAL", "findArtifactFromExecution: executionOptions allow "
		                   "no status (successful, terminal or running)");
		return;
	}
	const char *ids[] = {pipeline, NULL};
	mz_exec_query q = {.type = "PIPELINE", .config_ids = ids, .statuses = statuses,
	                   .limit = 10};
	json_t *rows = NULL;
	mz_err err = {0};
	if (mz_exec_query_run(c->store, &q, &rows, &err) != MZ_OK) {
		json_decref(want);
		b->err = err;
		r->status = "TERMINAL";
		return;
	}
	/* the newest one other than this execution */
	json_t *found = NULL;
	size_t i;
	json_t *e;
	json_array_foreach(rows, i, e) {
		if (!mz_streq(mz_json_str(e, "id"), mz_json_str(c->execution, "id"))) {
			found = e;
			break;
		}
	}
	if (!found) {
		json_decref(rows);
		json_decref(want);
		mz_task_result_set(r, "TERMINAL", "No execution of pipeline %s found with status %s%s%s",
		                   pipeline, statuses[0], n > 1 ? " or " : "", n > 1 ? statuses[1] : "");
		return;
	}
	json_t *have = artifacts_of(found);
	json_t *bound = json_array(), *resolved = json_array();
	json_t *ea;
	json_array_foreach(want, i, ea) {
		json_t *m = json_object_get(ea, "matchArtifact");
		json_t *hit = NULL;
		size_t j;
		json_t *a;
		json_array_foreach(have, j, a) {
			if (mz_artifact_matches(m, a)) {
				hit = a;
				break;
			}
		}
		if (!hit && mz_json_bool(ea, "useDefaultArtifact", false))
			hit = json_object_get(ea, "defaultArtifact");
		if (!hit) {
			const char *dn = mz_json_str(ea, "displayName");
			mz_task_result_set(r, "TERMINAL", "Could not find an artifact matching %s in "
			                   "execution %s", dn ? dn : mz_json_str(ea, "id") ?
			                   mz_json_str(ea, "id") : "(expected artifact)",
			                   mz_json_str(found, "id"));
			json_decref(have);
			json_decref(bound);
			json_decref(resolved);
			json_decref(rows);
			json_decref(want);
			return;
		}
		json_array_append(bound, hit);
		json_t *res = json_deep_copy(ea);
		json_object_set(res, "boundArtifact", hit);
		json_array_append_new(resolved, res);
	}
	json_t *outs = mz_task_result_outputs(r);
	json_object_set_new(outs, "artifacts", bound);
	json_object_set_new(outs, "resolvedExpectedArtifacts", resolved);
	json_object_set_new(mz_task_result_context(r), "executionId",
	                    json_string(mz_json_str(found, "id")));
	json_decref(have);
	json_decref(rows);
	json_decref(want);
	r->status = "SUCCEEDED";
}

/* ---- savePipelinesFromArtifact ----------------------------------------------- */

/* The artifact bound to expected artifact id: in the trigger, else in an
 * upstream stage's outputs. Borrowed. */
static json_t *
bound_artifact(const json_t *exec, const char *id)
{
	size_t i, j;
	json_t *v, *s;
	json_array_foreach(json_object_get(json_object_get(exec, "trigger"),
	                                   "resolvedExpectedArtifacts"), i, v) {
		if (mz_streq(mz_json_str(v, "id"), id))
			return json_object_get(v, "boundArtifact");
	}
	json_array_foreach(json_object_get(exec, "stages"), i, s) {
		json_array_foreach(json_object_get(json_object_get(s, "outputs"),
		                                   "resolvedExpectedArtifacts"), j, v) {
			if (mz_streq(mz_json_str(v, "id"), id))
				return json_object_get(v, "boundArtifact");
		}
	}
	return NULL;
}

/* The artifact's content parsed as JSON; NULL with msg set. */
static json_t *
artifact_json(const json_t *a, char *msg, size_t cap)
{
	char path[] = "/tmp/mizzen-pipelines-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		snprintf(msg, cap, "cannot make a temporary file");
		return NULL;
	}
	close(fd);
	mz_err err = {0};
	json_t *doc = NULL;
	if (mz_artifact_fetch(a, path, &err) != MZ_OK)
		snprintf(msg, cap, "cannot read the artifact: %.400s", err.msg);
	else if (!(doc = json_load_file(path, 0, NULL)))
		snprintf(msg, cap, "the artifact is not JSON");
	unlink(path);
	return doc;
}

/* One config of the artifact: created, or updated by name (Orca's
 * SavePipelinesFromArtifactTask looks each up by name), with the checks of
 * an API save. False with msg set when it cannot be saved; *store_err when
 * the store failed (the batch rolls back). */
static bool
save_one(mz_task_ctx *c, json_t *cfg, const char *app, bool *created, bool *store_err,
         char *msg, size_t cap)
{
	mz_err err = {0};
	json_object_set_new(cfg, "application", json_string(app));
	json_t *dup = NULL;
	const char *name = mz_json_str(cfg, "name");
	mz_code rc = name ? mz_pipeline_find_name_ci(c->store, app, name, &dup, &err)
	                  : MZ_ENOTFOUND;
	if (rc == MZ_OK)
		json_object_set(cfg, "id", json_object_get(dup, "id"));
	json_decref(dup);
	if (rc == MZ_OK || rc == MZ_ENOTFOUND)
		rc = mz__save_config(c, cfg, false, created, &err);
	*store_err = ((mz_batch *)c->internal)->err.code != MZ_OK;
	if (rc != MZ_OK)
		snprintf(msg, cap, "%s", err.msg[0] ? err.msg : mz_code_name(rc));
	return rc == MZ_OK;
}

static void
save_pipelines_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	const char *id = mz_json_str(ctx, "pipelinesArtifactId");
	json_t *a = id ? bound_artifact(c->execution, id) : NULL;
	if (!a) {
		mz_task_result_set(r, "TERMINAL", "savePipelinesFromArtifact: no artifact bound to "
		                   "expected artifact '%s'", id ? id : "(pipelinesArtifactId)");
		return;
	}
	char msg[512] = "";
	json_t *doc = artifact_json(a, msg, sizeof(msg));
	if (!json_is_object(doc)) {
		json_decref(doc);
		mz_task_result_set(r, "TERMINAL", "savePipelinesFromArtifact: %s", *msg ? msg :
		                   "the artifact must be {\"<application>\": [pipeline, ...]}");
		return;
	}
	json_t *created = json_array(), *updated = json_array(), *failed = json_array();
	const char *app;
	json_t *list;
	json_object_foreach(doc, app, list) {
		size_t i;
		json_t *p;
		json_array_foreach(list, i, p) {
			if (!json_is_object(p))
				continue;
			json_t *cfg = json_deep_copy(p);
			bool is_new = false, store_err = false;
			json_t *ref = json_pack("{s:s, s:s?}", "application", app, "name",
			                        mz_json_str(cfg, "name"));
			bool saved = save_one(c, cfg, app, &is_new, &store_err, msg, sizeof(msg));
			if (store_err) {
				json_decref(ref);
				json_decref(cfg);
				json_decref(doc);
				json_decref(created);
				json_decref(updated);
				json_decref(failed);
				r->status = "TERMINAL";
				return;
			}
			if (saved) {
				json_array_append(is_new ? created : updated, ref);
			} else {
				json_object_set_new(ref, "error", json_string(msg));
				json_array_append(failed, ref);
			}
			json_decref(ref);
			json_decref(cfg);
		}
	}
	json_decref(doc);
	json_t *outs = mz_task_result_outputs(r);
	json_object_set_new(outs, "pipelinesCreated", created);
	json_object_set_new(outs, "pipelinesUpdated", updated);
	json_object_set_new(outs, "pipelinesFailedToSave", failed);
	if (json_array_size(failed))
		mz_task_result_set(r, "TERMINAL", "%zu pipeline(s) could not be saved, e.g. %s: %s",
		                   json_array_size(failed),
		                   mz_json_str(json_array_get(failed, 0), "name"),
		                   mz_json_str(json_array_get(failed, 0), "error"));
	else
		r->status = "SUCCEEDED";
}

static const mz_task_def find_def = {
	.name = "findArtifactFromExecution",
	.impl_class = "com.netflix.spinnaker.orca.pipeline.tasks.artifacts."
	              "FindArtifactFromExecutionTask",
	.execute = find_from_execution_task,
};

static const mz_task_def save_def = {
	.name = "savePipelinesFromArtifact",
	.impl_class = "com.netflix.spinnaker.orca.front50.tasks.SavePipelinesFromArtifactTask",
	.execute = save_pipelines_task,
};

static mz_code
find_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "findArtifactFromExecution");
	return MZ_OK;
}

static mz_code
save_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "savePipelinesFromArtifact");
	return MZ_OK;
}

static const mz_stage_def find_stage = {.type = "findArtifactFromExecution", .plan = find_plan};
static const mz_stage_def save_stage = {.type = "savePipelinesFromArtifact", .plan = save_plan};

void
mz__register_artifact_stages(void)
{
	mz_engine_register_task(&find_def);
	mz_engine_register_task(&save_def);
	mz_engine_register_stage(&find_stage);
	mz_engine_register_stage(&save_stage);
}
