/* stages_project.c - Orca's project orchestrations over Front50, as Deck
 * submits them (POST /tasks): upsertProject {"project": {name, email,
 * config: {applications, clusters, pipelineConfigs}, id?}} and
 * deleteProject {"project": {"id"}}. Like the application stages they run
 * inside the handling transaction, so the change and the task's completion
 * commit together. */
#include "engine/engine_int.h"

#include "engine/stages.h"

static void
upsert_project_task(mz_task_ctx *c, mz_task_result *r)
{
	mz_batch *b = c->internal;
	json_t *proj = json_object_get(json_object_get(c->stage, "context"), "project");
	mz_err err = {0};
	if (!json_is_object(proj) || !mz_json_str(proj, "name") || !*mz_json_str(proj, "name")) {
		mz_task_result_set(r, "TERMINAL", "the task needs 'project': {\"name\": ..., "
		                   "\"email\": ..., \"config\": {...}}");
		return;
	}
	json_t *cfg = json_object_get(proj, "config");
	if (cfg && !json_is_object(cfg)) {
		mz_task_result_set(r, "TERMINAL", "project 'config' must be an object");
		return;
	}
	json_t *next = json_deep_copy(proj);
	json_object_del(next, "notFound"); /* Deck's view flag, not data */
	mz_code rc = mz_project_put(c->store, next, &err);
	if (rc == MZ_ECONFLICT || rc == MZ_EINVAL) {
		mz_task_result_set(r, "TERMINAL", "%s", err.msg);
		json_decref(next);
		return;
	}
	if (rc != MZ_OK) {
		b->err = err;
		r->status = "TERMINAL";
		json_decref(next);
		return;
	}
	json_object_set_new(mz_task_result_outputs(r), "project", next);
	r->status = "SUCCEEDED";
}

static const mz_task_def upsert_project_def = {
	.name = "upsertProject",
	.impl_class = "com.netflix.spinnaker.orca.front50.tasks.UpsertProjectTask",
	.execute = upsert_project_task,
};

static void
delete_project_task(mz_task_ctx *c, mz_task_result *r)
{
	mz_batch *b = c->internal;
	json_t *proj = json_object_get(json_object_get(c->stage, "context"), "project");
	const char *id = mz_json_str(proj, "id");
	if (!id)
		id = mz_json_str(proj, "name");
	mz_err err = {0};
	if (!id) {
		mz_task_result_set(r, "TERMINAL", "the task needs 'project': {\"id\": ...}");
		return;
	}
	mz_code rc = mz_project_delete(c->store, id, &err);
	if (rc != MZ_OK && rc != MZ_ENOTFOUND) { /* already gone is done */
		b->err = err;
		r->status = "TERMINAL";
		return;
	}
	r->status = "SUCCEEDED";
}

static const mz_task_def delete_project_def = {
	.name = "deleteProject",
	.impl_class = "com.netflix.spinnaker.orca.front50.tasks.DeleteProjectTask",
	.execute = delete_project_task,
};

static mz_code
upsert_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "upsertProject");
	return MZ_OK;
}

static mz_code
delete_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "deleteProject");
	return MZ_OK;
}

static const mz_stage_def upsert_stage = {.type = "upsertProject", .plan = upsert_plan};
static const mz_stage_def delete_stage = {.type = "deleteProject", .plan = delete_plan};

void
mz__register_project_stages(void)
{
	mz_engine_register_task(&upsert_project_def);
	mz_engine_register_task(&delete_project_def);
	mz_engine_register_stage(&upsert_stage);
	mz_engine_register_stage(&delete_stage);
}
