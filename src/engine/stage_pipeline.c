/* stage_pipeline.c - the `pipeline` stage: starts a child pipeline with
 * parameters, waits for it, and hands its outputs to the parent (Orca's
 * PipelineStage, StartPipelineTask, MonitorPipelineTask). Both tasks run
 * inside the handling transaction, so starting the child and recording its
 * id in the parent commit together: a replay cannot start it twice. */
#include "engine/engine_int.h"

#include "engine/stages.h"

#include <stdlib.h>
#include <string.h>

static void
start_pipeline_task(mz_task_ctx *c, mz_task_result *r)
{
	mz_batch *b = c->internal;
	json_t *ctx = json_object_get(c->stage, "context");
	const char *app = mz_json_str(ctx, "pipelineApplication");
	const char *cfg_id = mz_json_str(ctx, "pipeline");
	json_t *cfg = NULL;
	mz_err err = {0};

	if (!app)
		app = mz_json_str(ctx, "application");
	if (!app)
		app = mz_json_str(c->execution, "application");
	if (mz_json_str(ctx, "executionId")) {
		r->status = "SUCCEEDED"; /* started already (restarted stage) */
		return;
	}
	if (!cfg_id) {
		mz_task_result_set(r, "TERMINAL", "the pipeline stage needs 'pipeline' (the id of the "
		                   "pipeline to run)");
		return;
	}
	mz_code rc = mz_pipeline_get(c->store, cfg_id, &cfg, &err);
	if (rc == MZ_ENOTFOUND || (cfg && !mz_streq(mz_json_str(cfg, "application"), app)))
		rc = mz_pipeline_get_by_name(c->store, app, cfg_id, &cfg, &err);
	if (rc == MZ_ENOTFOUND) {
		mz_task_result_set(r, "TERMINAL", "The referenced pipeline cannot be located "
		                   "(application: %s, pipeline: %s)", app, cfg_id);
		return;
	}
	if (rc) {
		b->err = err;
		r->status = "TERMINAL";
		return;
	}

	/* Declared parameters from the supplied values or their defaults,
	 * then any extra supplied keys (DependentPipelineStarter). */
	json_t *supplied = json_object_get(ctx, "pipelineParameters");
	json_t *params = json_is_object(supplied) ? json_deep_copy(supplied) : json_object();
	json_t *parent = mz_execution_summary(c->execution);
	const char *puser = mz_json_str(json_object_get(c->execution, "trigger"), "user");
	char *corr = mz_asprintf("%s_%s_%s_%lld", mz_json_str(c->execution, "id"),
	                         mz_json_str(c->stage, "id"), mz_json_str(cfg, "id"),
	                         (long long)mz_json_int(c->execution, "startTime", 0));
	json_t *trigger = json_pack("{s:s, s:s, s:o, s:s, s:o, s:s, s:b, s:s, s:s?, s:s?, s:s, s:b}",
	                            "type", "pipeline", "user", puser ? puser : "[anonymous]",
	                            "parentExecution", parent,
	                            "parentPipelineStageId", mz_json_str(c->stage, "id"),
	                            "parameters", params, "correlationId", corr,
	                            "isPipeline", 1,
	                            "parentPipelineId", mz_json_str(c->execution, "id"),
	                            "parentPipelineName", mz_json_str(c->execution, "name"),
	                            "parentPipelineApplication",
	                            mz_json_str(c->execution, "application"),
	                            "parentStatus", mz__status(c->execution),
	                            "dryRun", mz_json_bool(json_object_get(c->execution, "trigger"),
	                                                   "dryRun", false));
	free(corr);
	char id[27];
	const char *user = mz_json_str(trigger, "user");
	rc = mz_engine_launch_pipeline(c->engine, c->store, cfg, trigger, user,
	                               mz_json_str(c->execution, "origin"), id, &err);
	json_decref(trigger);
	if (rc) {
		mz_task_result_set(r, "TERMINAL", "Could not start pipeline '%s': %s",
		                   mz_json_str(cfg, "name"), err.msg);
		json_decref(cfg);
		return;
	}
	json_object_set_new(mz_task_result_context(r), "executionId", json_string(id));
	json_object_set_new(mz_task_result_context(r), "executionName",
	                    json_string(mz_json_str(cfg, "name")));
	json_decref(cfg);
	r->status = "SUCCEEDED";
}

static const mz_task_def start_pipeline_def = {
	.name = "startPipeline",
	.impl_class = "com.netflix.spinnaker.orca.front50.tasks.StartPipelineTask",
	.execute = start_pipeline_task,
};

/* Errors of the child's failed stages, for the parent's exception. */
static void
child_errors(const json_t *child, mz_buf *out)
{
	size_t i, j;
	json_t *s, *e;
	json_array_foreach(json_object_get(child, "stages"), i, s) {
		if (!mz_status_halt(mz__status(s)))
			continue;
		json_t *errs = json_object_get(json_object_get(json_object_get(
			json_object_get(s, "context"), "exception"), "details"), "errors");
		json_array_foreach(errs, j, e) {
			if (json_is_string(e))
				mz_buf_printf(out, "%s%s: %s", out->len ? "; " : "",
				              mz_json_str(s, "name"), json_string_value(e));
		}
	}
}

static void
monitor_pipeline_task(mz_task_ctx *c, mz_task_result *r)
{
	mz_batch *b = c->internal;
	json_t *ctx = json_object_get(c->stage, "context");
	const char *id = mz_json_str(ctx, "executionId");
	json_t *child = id ? mz__exec_load(b, id) : NULL;
	if (!child) {
		mz_err_clear(&b->err);
		mz_task_result_set(r, "TERMINAL", "the child pipeline execution %s no longer exists",
		                   id ? id : "(none)");
		return;
	}
	const char *st = mz__status(child);
	json_object_set_new(mz_task_result_context(r), "status", json_string(st));
	if (strcmp(st, "SUCCEEDED") == 0) {
		if (!mz_json_bool(ctx, "skipDownstreamOutput", false)) {
			json_t *outs = mz__exec_outputs(child);
			mz_json_merge(mz_task_result_outputs(r), outs);
			json_decref(outs);
		}
		r->status = "SUCCEEDED";
	} else if (strcmp(st, "TERMINAL") == 0 || strcmp(st, "STOPPED") == 0) {
		mz_buf msg;
		mz_buf_init(&msg, 900);
		child_errors(child, &msg);
		mz_task_result_set(r, "TERMINAL", "Child pipeline '%s' (%s) failed%s%s",
		                   mz_json_str(child, "name"), id, msg.len ? ": " : "", msg.data);
		mz_buf_release(&msg);
	} else if (strcmp(st, "CANCELED") == 0) {
		mz_task_result_set(r, "CANCELED", "Child pipeline '%s' (%s) was canceled",
		                   mz_json_str(child, "name"), id);
	} else {
		r->status = "RUNNING";
	}
}

/* Canceling the parent cancels the child. */
static void
monitor_pipeline_cancel(mz_task_ctx *c, mz_task_result *r)
{
	mz_batch *b = c->internal;
	const char *id = mz_json_str(json_object_get(c->stage, "context"), "executionId");
	json_t *child = id ? mz__exec_load(b, id) : NULL;
	if (!child) {
		mz_err_clear(&b->err);
		return;
	}
	if (mz_status_complete(mz__status(child)))
		return;
	json_object_set_new(child, "canceled", json_true());
	json_object_set_new(child, "canceledBy", json_string("parent pipeline"));
	json_object_set_new(child, "cancellationReason",
	                    json_string("The parent pipeline was canceled"));
	if (strcmp(mz__status(child), "NOT_STARTED") == 0)
		mz__set_status(child, "CANCELED");
	mz__exec_dirty(b, child);
	mz__push(b, mz__msg_exec("cancelExecution", child), 0);
}

static const mz_task_def monitor_pipeline_def = {
	.name = "monitorPipeline",
	.impl_class = "com.netflix.spinnaker.orca.front50.tasks.MonitorPipelineTask",
	.execute = monitor_pipeline_task,
	.backoff_ms = 5000,
	.timeout_ms = 12LL * 3600 * 1000,
	.flags = MZ_TASK_RETRYABLE | MZ_TASK_TIMEOUT_OVERRIDABLE,
	.on_cancel = monitor_pipeline_cancel,
};

static mz_code
pipeline_plan(mz_plan *p, mz_err *err)
{
	json_t *ctx = json_object_get(mz_plan_stage(p), "context");
	if (!mz_json_str(ctx, "executionId"))
		mz_plan_task(p, "startPipeline");
	json_t *wait = json_object_get(ctx, "waitForCompletion");
	if (!wait || mz_json_bool(ctx, "waitForCompletion", true))
		mz_plan_task(p, "monitorPipeline");
	return MZ_OK;
}

static void
pipeline_restart(json_t *stage)
{
	json_t *ctx = mz__ctx(stage);
	json_object_del(ctx, "executionId");
	json_object_del(ctx, "executionName");
	json_object_del(ctx, "status");
	json_object_set_new(stage, "outputs", json_object());
}

static const mz_stage_def pipeline_stage = {
	.type = "pipeline",
	.plan = pipeline_plan,
	.prepare_restart = pipeline_restart,
};

void
mz__register_pipeline_stage(void)
{
	mz_engine_register_task(&start_pipeline_def);
	mz_engine_register_task(&monitor_pipeline_def);
	mz_engine_register_stage(&pipeline_stage);
}
