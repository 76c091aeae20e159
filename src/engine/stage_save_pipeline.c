/* stage_save_pipeline.c - savePipeline (Orca's SavePipelineStage and
 * SavePipelineTask): how Gate saves a pipeline through Orca, and what
 * tools such as Dinghy and Orca's own tests submit as an ad-hoc
 * orchestration:
 *   {"type": "savePipeline", "pipeline": "<base64 of the config JSON>"
 *    (or the config itself), "staleCheck": false}
 * The config is saved as the execution's user would save it through
 * POST /pipelines (config_save.c: WRITE on its application, runAsUser,
 * git lock, names, the stale check). Its context gets Orca's outputs:
 * "notification.type": "savepipeline", "application", "pipeline.name",
 * "pipeline.id". */
#include "engine/engine_int.h"

#include "engine/stages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The config the stage names: decoded from base64 when a string. New
 * reference, or NULL with msg set. */
static json_t *
config_of(const json_t *ctx, char *msg, size_t cap)
{
	const json_t *p = json_object_get(ctx, "pipeline");
	if (json_is_object(p))
		return json_deep_copy(p);
	if (!json_is_string(p)) {
		snprintf(msg, cap, "savePipeline needs 'pipeline': the config as JSON or base64");
		return NULL;
	}
	size_t n = 0;
	unsigned char *raw = mz_base64_decode(json_string_value(p), &n);
	json_t *cfg = raw ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
	free(raw);
	if (!json_is_object(cfg)) {
		json_decref(cfg);
		snprintf(msg, cap, "savePipeline: 'pipeline' is not the base64 of a JSON object");
		return NULL;
	}
	return cfg;
}

static void
save_pipeline_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	char msg[512] = "";
	json_t *cfg = config_of(ctx, msg, sizeof(msg));
	if (!cfg) {
		mz_task_result_set(r, "TERMINAL", "%s", msg);
		return;
	}
	mz_err err = {0};
	bool created = false;
	mz_code rc = mz__save_config(c, cfg, mz_json_bool(ctx, "staleCheck", false), &created,
	                             &err);
	json_t *cx = mz_task_result_context(r);
	json_object_set_new(cx, "notification.type", json_string("savepipeline"));
	json_object_set_new(cx, "application", json_string(mz_json_str(cfg, "application") ?
	                                                   mz_json_str(cfg, "application") : ""));
	json_object_set_new(cx, "pipeline.name", json_string(mz_json_str(cfg, "name") ?
	                                                     mz_json_str(cfg, "name") : ""));
	if (rc == MZ_OK) {
		json_object_set_new(cx, "pipeline.id", json_string(mz_json_str(cfg, "id")));
		json_object_set_new(cx, "pipeline.created", json_boolean(created));
		r->status = "SUCCEEDED";
	} else {
		mz_task_result_set(r, "TERMINAL", "%s", err.msg[0] ? err.msg : mz_code_name(rc));
	}
	json_decref(cfg);
}

static const mz_task_def save_def = {
	.name = "savePipeline",
	.impl_class = "com.netflix.spinnaker.orca.front50.tasks.SavePipelineTask",
	.execute = save_pipeline_task,
};

static mz_code
save_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "savePipeline");
	return MZ_OK;
}

static const mz_stage_def save_stage = {.type = "savePipeline", .plan = save_plan};

void
mz__register_save_stage(void)
{
	mz_engine_register_task(&save_def);
	mz_engine_register_stage(&save_stage);
}
