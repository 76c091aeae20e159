/* engine_h_stage.c - stage-level message handlers (Orca's StartStage-,
 * CompleteStage-, SkipStage-, CancelStage-, AbortStage-, ContinueParent-
 * Stage-, RestartStage-, PauseStage- and ResumeStageHandler). */
#include "engine/engine_int.h"

#include "engine/engine_plan.h"

#include <string.h>

static bool
is_ok_status(const char *st)
{
	return strcmp(st, "SUCCEEDED") == 0 || strcmp(st, "FAILED_CONTINUE") == 0 ||
	       strcmp(st, "SKIPPED") == 0;
}

static bool
all_upstream_ok(const json_t *exec, const json_t *stage)
{
	int all = mz__graph_all_upstream(exec, stage, is_ok_status);
	if (all >= 0)
		return all;
	json_t *ups = mz__upstream(exec, stage);
	size_t i;
	json_t *u;
	bool ok = true;
	json_array_foreach(ups, i, u) {
		if (!is_ok_status(mz__status(u)))
			ok = false;
	}
	json_decref(ups);
	return ok;
}

/* stageEnabled: {type: expression, expression: "..."}; a value that is not
 * literally true or false skips the stage (Orca's OptionalStageSupport). */
static bool
stage_disabled(const json_t *exec, const json_t *stage)
{
	json_t *se = json_object_get(json_object_get(stage, "context"), "stageEnabled");
	const char *expr = mz_json_str(se, "expression");
	if (!json_is_object(se) || !expr || !*expr)
		return false;
	if (!mz_streq(mz_json_str(exec, "type"), "PIPELINE"))
		return false;
	json_t *wrap;
	if (mz_expr_has(expr))
		wrap = json_pack("{s:s}", "stageEnabled", expr);
	else
		wrap = json_pack("{s:s++}", "stageEnabled", "${", expr, "}");
	json_t *tmp = json_pack("{s:o}", "context", wrap);
	json_object_set(tmp, "id", json_object_get(stage, "id"));
	json_object_set(tmp, "requisiteStageRefIds", json_object_get(stage, "requisiteStageRefIds"));
	json_object_set(tmp, "parentStageId", json_object_get(stage, "parentStageId"));
	json_t *ctx = mz__eval_context(exec, tmp, NULL);
	json_t *v = json_object_get(ctx, "stageEnabled");
	bool disabled;
	if (json_is_boolean(v))
		disabled = json_is_false(v);
	else if (json_is_string(v))
		disabled = strcmp(json_string_value(v), "true") != 0;
	else
		disabled = true;
	json_decref(ctx);
	json_decref(tmp);
	return disabled;
}

static mz_code
planning_failed(mz_batch *b, json_t *exec, json_t *stage, const char *message)
{
	mz__set_exception(stage, "PlanningException", message);
	json_object_set_new(mz__ctx(stage), "beforeStagePlanningFailed", json_true());
	mz__set_status(stage, "RUNNING");
	mz__exec_dirty(b, exec);
	return mz__push(b, mz__msg_stage("completeStage", exec, stage), 0);
}

/* The execution window runs first: every other initial before-stage is
 * chained after it. */
static void
inject_window(mz_plan *p)
{
	json_t *ctx = json_object_get(p->stage, "context");
	json_t *wctx = json_object();
	json_object_set(wctx, "restrictedExecutionWindow",
	                json_object_get(ctx, "restrictedExecutionWindow") ?
	                json_object_get(ctx, "restrictedExecutionWindow") : json_object());
	if (json_object_get(ctx, "skipRemainingWait"))
		json_object_set(wctx, "skipRemainingWait", json_object_get(ctx, "skipRemainingWait"));
	json_t *win = mz_plan_before(p, "restrictExecutionDuringTimeWindow",
	                             "Restrict Execution During", wctx, false);
	const char *wref = mz_json_str(win, "refId");
	json_t *kids = mz__children(p->exec, p->stage, "STAGE_BEFORE");
	size_t i;
	json_t *k;
	json_array_foreach(kids, i, k) {
		if (k != win && mz__is_initial(k))
			json_array_append_new(json_object_get(k, "requisiteStageRefIds"),
			                      json_string(wref));
	}
	json_decref(kids);
}

mz_code
mz__h_start_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg)
{
	if (mz_status_complete(mz__status(exec)) || mz_json_bool(exec, "canceled", false))
		return mz__push(b, mz__msg_exec("completeExecution", exec), 0);
	/* Upstream stages all ok (SUCCEEDED, FAILED_CONTINUE, SKIPPED) means
	 * none halted, so the walk for a halted one is made only when some
	 * are not (a join asked early, a failed branch). */
	if (!all_upstream_ok(exec, stage)) {
		if (!mz__any_upstream_halted(exec, stage))
			return mz__push(b, mz__msg_stage("startStage", exec, stage), MZ_RETRY_DELAY_MS);
		if (mz__is_synthetic(stage))
			return mz__push(b, mz__msg_stage("completeStage", exec, mz__parent(exec, stage)), 0);
		return mz__push(b, mz__msg_exec("completeExecution", exec), 0);
	}
	if (strcmp(mz__status(stage), "NOT_STARTED") != 0)
		return MZ_OK;
	int64_t expiry = mz_json_int(stage, "startTimeExpiry", 0);
	if (stage_disabled(exec, stage) || (expiry > 0 && b->now > expiry))
		return mz__push(b, mz__msg_stage("skipStage", exec, stage), 0);

	const char *type = mz_json_str(stage, "type");
	const mz_stage_def *def = mz_engine_stage_def(type);
	json_object_set_new(stage, "startTime", json_integer(b->now));
	if (!def) {
		char msg_text[512];
		snprintf(msg_text, sizeof(msg_text),
		         "Unknown stage type '%s': mizzen has no stage of this type, so stage "
		         "'%s' cannot be planned", type ? type : "(none)",
		         mz_json_str(stage, "name") ? mz_json_str(stage, "name") : "");
		return planning_failed(b, exec, stage, msg_text);
	}

	/* Evaluate expressions in the context now, and store the result. */
	json_t *ctx = mz__eval_context(exec, stage, def->raw_keys);
	mz_engine_seal_headers(ctx, true); /* an evaluated header is stored masked */
	json_object_set_new(stage, "context", ctx);

	mz_plan p;
	mz_err perr = {0};
	mz__plan_init(&p, b, exec, stage);
	mz_code rc = def->plan ? def->plan(&p, &perr) : MZ_OK;
	if (rc == MZ_OK && mz_json_bool(ctx, "restrictExecutionDuringTimeWindow", false))
		inject_window(&p);
	if (rc == MZ_OK)
		rc = mz__plan_build_tasks(&p, &perr);
	mz__plan_release(&p);
	/* a plan may add headers (a preconfigured webhook's, from the server's
	 * config): their literal values are not stored in clear either */
	mz_engine_seal_headers(json_object_get(stage, "context"), false);
	if (rc) {
		if (rc == MZ_EIO || rc == MZ_EBUSY || rc == MZ_ENOMEM) {
			b->err = perr;
			return rc;
		}
		return planning_failed(b, exec, stage, perr.msg);
	}
	if (mz_json_bool(ctx, "canManuallySkip", false) || def->can_manually_skip)
		json_object_set_new(ctx, "canManuallySkip", json_true());
	mz__set_status(stage, "RUNNING");
	mz__exec_dirty(b, exec);
	if ((rc = mz__emit(b, "starting", exec, stage)))
		return rc;

	json_t *before = mz__children(exec, stage, "STAGE_BEFORE");
	size_t i;
	json_t *s;
	bool started = false;
	rc = MZ_OK;
	json_array_foreach(before, i, s) {
		if (mz__is_initial(s) && rc == MZ_OK) {
			rc = mz__push(b, mz__msg_stage("startStage", exec, s), 0);
			started = true;
		}
	}
	json_decref(before);
	if (rc || started)
		return rc;
	json_t *first = json_array_get(json_object_get(stage, "tasks"), 0);
	if (first)
		return mz__push(b, mz__msg_task("startTask", exec, stage, first), 0);
	return mz__push(b, mz__msg_stage("completeStage", exec, stage), 0);
}

/* Orca's CompleteStageHandler.determineStatus. */
static const char *
determine_status(const json_t *exec, const json_t *stage)
{
	json_t *kids = mz__children(exec, stage, NULL);
	json_t *all = json_array();
	size_t i;
	json_t *s;
	const char *out;
	bool after_pending = false;
	json_array_foreach(kids, i, s) {
		json_array_append_new(all, json_string(mz__status(s)));
		if (mz_streq(mz_json_str(s, "syntheticStageOwner"), "STAGE_AFTER") &&
		    strcmp(mz__status(s), "NOT_STARTED") == 0)
			after_pending = true;
	}
	json_array_foreach(json_object_get(stage, "tasks"), i, s) {
		json_array_append_new(all, json_string(mz__status(s)));
	}
	if (mz_json_bool(json_object_get(stage, "context"), "beforeStagePlanningFailed", false))
		json_array_append_new(all, json_string("TERMINAL"));
	json_decref(kids);

	bool has[6] = {false};
	static const char *const look[] = {"TERMINAL", "STOPPED", "CANCELED", "FAILED_CONTINUE",
	                                   NULL};
	bool all_ok = true;
	json_array_foreach(all, i, s) {
		const char *st = json_string_value(s);
		for (int k = 0; look[k]; k++)
			if (strcmp(st, look[k]) == 0)
				has[k] = true;
		if (strcmp(st, "SUCCEEDED") && strcmp(st, "SKIPPED"))
			all_ok = false;
	}
	if (json_array_size(all) == 0)
		out = "NOT_STARTED";
	else if (has[0])
		out = mz__failure_status(stage, "TERMINAL");
	else if (has[1])
		out = "STOPPED";
	else if (has[2])
		out = "CANCELED";
	else if (has[3])
		out = "FAILED_CONTINUE";
	else if (all_ok)
		out = "SUCCEEDED";
	else if (after_pending)
		out = "RUNNING";
	else
		out = "TERMINAL";
	json_decref(all);
	if (mz_json_bool(json_object_get(stage, "context"), "failOnFailedExpressions", false) &&
	    json_object_size(json_object_get(json_object_get(stage, "context"),
	                                     "expressionEvaluationSummary")) > 0)
		out = "TERMINAL";
	return out;
}

static bool
is_failure(const char *st)
{
	return strcmp(st, "TERMINAL") == 0 || strcmp(st, "STOPPED") == 0 ||
	       strcmp(st, "FAILED_CONTINUE") == 0;
}

/* Adds expression failures to context.exception.details.errors. */
static void
record_expression_errors(json_t *stage)
{
	json_t *ctx = mz__ctx(stage);
	json_t *summary = json_object_get(ctx, "expressionEvaluationSummary");
	const char *k;
	json_t *v;
	if (json_object_size(summary) == 0)
		return;
	json_t *exc = json_object_get(ctx, "exception");
	if (!json_is_object(exc)) {
		mz__set_exception(stage, "ExpressionEvaluationException",
		                  "Failed Expression Evaluation");
		exc = json_object_get(ctx, "exception");
		json_array_clear(json_object_get(json_object_get(exc, "details"), "errors"));
	}
	json_t *errors = json_object_get(json_object_get(exc, "details"), "errors");
	json_object_foreach(summary, k, v) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			const char *d = mz_json_str(e, "description");
			if (d && json_is_array(errors))
				json_array_append_new(errors, json_string(d));
		}
	}
}

mz_code
mz__h_complete_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg)
{
	const char *cur = mz__status(stage);
	if (strcmp(cur, "RUNNING") && strcmp(cur, "NOT_STARTED"))
		return MZ_OK;
	const char *status = determine_status(exec, stage);
	const mz_stage_def *def = mz_engine_stage_def(mz_json_str(stage, "type"));
	json_t *ctx = mz__ctx(stage);
	mz_code rc;

	if (!mz_status_complete(status) || !mz_status_halt(status)) {
		json_t *after = mz__children(exec, stage, "STAGE_AFTER");
		if (json_array_size(after) == 0 && def && def->after &&
		    !mz_json_bool(ctx, "_afterStagesPlanned", false) &&
		    !mz_json_bool(ctx, "beforeStagePlanningFailed", false)) {
			mz_plan p;
			mz_err perr = {0};
			mz__plan_init(&p, b, exec, stage);
			rc = def->after(&p, &perr);
			mz__plan_release(&p);
			json_object_set_new(ctx, "_afterStagesPlanned", json_true());
			if (rc) {
				mz__set_exception(stage, "PlanningException", perr.msg);
				status = mz__failure_status(stage, "TERMINAL");
			}
			json_decref(after);
			after = mz__children(exec, stage, "STAGE_AFTER");
		}
		size_t i;
		json_t *s;
		bool started = false;
		rc = MZ_OK;
		json_array_foreach(after, i, s) {
			if (strcmp(mz__status(s), "NOT_STARTED") == 0 && mz__is_initial(s) &&
			    !mz_status_halt(status)) {
				rc = mz__push(b, mz__msg_stage("startStage", exec, s), 0);
				started = true;
			}
		}
		json_decref(after);
		if (rc)
			return rc;
		if (started) {
			mz__set_status(stage, "RUNNING");
			mz__exec_dirty(b, exec);
			return MZ_OK;
		}
		if (strcmp(status, "NOT_STARTED") == 0)
			status = "SKIPPED";
		if (strcmp(status, "RUNNING") == 0)
			return MZ_OK; /* after-stages still to finish */
	}

	if (is_failure(status) && def && def->on_failure &&
	    !mz_json_bool(ctx, "_failureStagesPlanned", false)) {
		/* Replace pending synthetic children with the failure stages. */
		json_t *stages = mz__stages(exec);
		for (size_t i = json_array_size(stages); i-- > 0;) {
			json_t *s = json_array_get(stages, i);
			if (mz_streq(mz_json_str(s, "parentStageId"), mz_json_str(stage, "id")) &&
			    strcmp(mz__status(s), "NOT_STARTED") == 0)
				json_array_remove(stages, i);
		}
		mz_plan p;
		mz_err perr = {0};
		mz__plan_init(&p, b, exec, stage);
		json_object_set_new(ctx, "_failureStagesPlanned", json_true());
		rc = def->on_failure(&p, &perr);
		int added = p.added;
		mz__plan_release(&p);
		if (rc == MZ_OK && added > 0) {
			json_t *after = mz__children(exec, stage, "STAGE_AFTER");
			size_t i;
			json_t *s;
			json_array_foreach(after, i, s) {
				if (strcmp(mz__status(s), "NOT_STARTED") == 0 && mz__is_initial(s))
					rc = mz__push(b, mz__msg_stage("startStage", exec, s), 0);
			}
			json_decref(after);
			mz__exec_dirty(b, exec);
			return rc;
		}
	}

	mz__set_status(stage, status);
	json_object_set_new(stage, "endTime", json_integer(b->now));
	if (!json_object_get(stage, "startTime"))
		json_object_set_new(stage, "startTime", json_integer(b->now));
	record_expression_errors(stage);
	mz__exec_dirty(b, exec);
	rc = mz__emit(b, mz_status_halt(status) ? "failed" : "complete", exec, stage);
	if (rc)
		return rc;

	if (is_ok_status(status)) {
		if (mz__is_synthetic(stage) && strcmp(status, "FAILED_CONTINUE") == 0 &&
		    !mz_json_bool(ctx, "allowSiblingStagesToContinueOnFailure", false))
			return mz__push(b, mz__msg_stage("completeStage", exec, mz__parent(exec, stage)), 0);
		return mz__start_next(b, exec, stage);
	}
	rc = mz__push(b, mz__msg_stage("cancelStage", exec, stage), 0);
	if (rc)
		return rc;
	if (mz__is_synthetic(stage) && mz__parent(exec, stage))
		return mz__push(b, mz__msg_stage("completeStage", exec, mz__parent(exec, stage)), 0);
	return mz__push(b, mz__msg_exec("completeExecution", exec), 0);
}

mz_code
mz__start_next(mz_batch *b, json_t *exec, json_t *stage)
{
	json_t *down = mz__downstream(exec, stage);
	size_t i;
	json_t *s;
	mz_code rc = MZ_OK;
	json_array_foreach(down, i, s) {
		if (rc == MZ_OK)
			rc = mz__push(b, mz__msg_stage("startStage", exec, s), 0);
	}
	size_t n = json_array_size(down);
	json_decref(down);
	if (rc || n > 0)
		return rc;
	if (mz__is_synthetic(stage)) {
		json_t *parent = mz__parent(exec, stage);
		if (!parent)
			return MZ_OK;
		mz_qmsg m = mz__msg_stage("continueParentStage", exec, parent);
		mz__qm_set(&m, "phase", json_incref(json_object_get(stage, "syntheticStageOwner")));
		return mz__push(b, m, 0);
	}
	return mz__push(b, mz__msg_exec("completeExecution", exec), 0);
}

mz_code
mz__h_continue_parent(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg)
{
	const char *phase = mz__qm_str(msg, "phase");
	json_t *kids = mz__children(exec, stage, phase ? phase : "STAGE_BEFORE");
	size_t i;
	json_t *s;
	bool all_ok = true, any_failed = false, all_complete = true;
	json_array_foreach(kids, i, s) {
		const char *st = mz__status(s);
		if (!is_ok_status(st))
			all_ok = false;
		if (mz_status_halt(st))
			any_failed = true;
		if (!mz_status_complete(st))
			all_complete = false;
	}
	json_decref(kids);
	if (mz_streq(phase, "STAGE_AFTER")) {
		if (all_complete)
			return mz__push(b, mz__msg_stage("completeStage", exec, stage), 0);
		return mz__push(b, mz__qm_copy(msg), 5000);
	}
	if (all_ok) {
		json_t *first = json_array_get(json_object_get(stage, "tasks"), 0);
		if (!first)
			return mz__push(b, mz__msg_stage("completeStage", exec, stage), 0);
		if (strcmp(mz__status(first), "NOT_STARTED") == 0)
			return mz__push(b, mz__msg_task("startTask", exec, stage, first), 0);
		return MZ_OK;
	}
	if (!any_failed)
		return mz__push(b, mz__qm_copy(msg), 5000);
	return MZ_OK;
}

static void
skip_children(mz_batch *b, json_t *exec, json_t *stage)
{
	json_t *kids = mz__children(exec, stage, NULL);
	size_t i;
	json_t *s;
	json_array_foreach(kids, i, s) {
		const char *st = mz__status(s);
		if (strcmp(st, "SUCCEEDED") && strcmp(st, "TERMINAL") && strcmp(st, "FAILED_CONTINUE")) {
			mz__set_status(s, "SKIPPED");
			json_object_set_new(s, "endTime", json_integer(b->now));
		}
		skip_children(b, exec, s);
	}
	json_decref(kids);
}

mz_code
mz__h_skip_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg)
{
	const char *st = mz__status(stage);
	bool manual = mz_json_bool(json_object_get(stage, "context"), "manualSkip", false);
	if (strcmp(st, "RUNNING") && strcmp(st, "NOT_STARTED") && !manual)
		return MZ_OK;
	mz__set_status(stage, "SKIPPED");
	json_object_set_new(stage, "endTime", json_integer(b->now));
	if (manual) {
		skip_children(b, exec, stage);
		size_t i;
		json_t *t;
		json_array_foreach(json_object_get(stage, "tasks"), i, t) {
			if (!mz_status_complete(mz__status(t)))
				mz__set_status(t, "SKIPPED");
		}
	}
	mz__exec_dirty(b, exec);
	return mz__start_next(b, exec, stage);
}

mz_code
mz__h_cancel_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg)
{
	size_t i;
	json_t *t;
	mz_code rc = MZ_OK;
	/* Running tasks notice the cancellation on their next run: make it now. */
	json_array_foreach(json_object_get(stage, "tasks"), i, t) {
		if (rc == MZ_OK && strcmp(mz__status(t), "RUNNING") == 0)
			rc = mz__reschedule(b, mz__msg_task("runTask", exec, stage, t), 0);
	}
	json_t *kids = mz__children(exec, stage, NULL);
	json_t *s;
	json_array_foreach(kids, i, s) {
		if (rc == MZ_OK && strcmp(mz__status(s), "RUNNING") == 0)
			rc = mz__push(b, mz__msg_stage("cancelStage", exec, s), 0);
	}
	json_decref(kids);
	return rc;
}

mz_code
mz__h_abort_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg)
{
	const char *st = mz__status(stage);
	if (strcmp(st, "RUNNING") && strcmp(st, "NOT_STARTED"))
		return MZ_OK;
	mz__set_status(stage, "TERMINAL");
	json_object_set_new(stage, "endTime", json_integer(b->now));
	mz__exec_dirty(b, exec);
	mz_code rc = mz__push(b, mz__msg_stage("cancelStage", exec, stage), 0);
	if (rc)
		return rc;
	if (mz__is_synthetic(stage) && mz__parent(exec, stage))
		return mz__push(b, mz__msg_stage("completeStage", exec, mz__parent(exec, stage)), 0);
	return mz__push(b, mz__msg_exec("completeExecution", exec), 0);
}

/* Removes every synthetic descendant of stage from the execution. */
static void
remove_descendants(json_t *exec, const json_t *stage)
{
	json_t *kids = mz__children(exec, stage, NULL);
	size_t i;
	json_t *k;
	json_array_foreach(kids, i, k) {
		remove_descendants(exec, k);
	}
	json_t *stages = mz__stages(exec);
	json_array_foreach(kids, i, k) {
		for (size_t j = 0; j < json_array_size(stages); j++) {
			if (json_array_get(stages, j) == k) {
				json_array_remove(stages, j);
				break;
			}
		}
	}
	json_decref(kids);
}

static void
reset_stage(mz_batch *b, json_t *exec, json_t *stage, const char *user, bool first)
{
	json_t *ctx = mz__ctx(stage);
	if (first) {
		json_t *rd = json_pack("{s:s, s:I}", "restartedBy", user ? user : "anonymous",
		                       "restartTime", (json_int_t)b->now);
		if (json_object_get(ctx, "exception"))
			json_object_set(rd, "previousException", json_object_get(ctx, "exception"));
		json_object_set_new(ctx, "restartDetails", rd);
	}
	json_object_del(ctx, "exception");
	json_object_del(ctx, "beforeStagePlanningFailed");
	json_object_del(ctx, "_afterStagesPlanned");
	json_object_del(ctx, "_failureStagesPlanned");
	/* a restart may run on any node (or in its region) again */
	json_object_del(stage, "node");
	json_object_del(ctx, "waitingForHost");
	const mz_stage_def *def = mz_engine_stage_def(mz_json_str(stage, "type"));
	if (def && def->prepare_restart)
		def->prepare_restart(stage);
	mz__set_status(stage, "NOT_STARTED");
	json_object_del(stage, "startTime");
	json_object_del(stage, "endTime");
	json_object_set_new(stage, "tasks", json_array());
	remove_descendants(exec, stage);
	json_t *down = mz__downstream(exec, stage);
	size_t i;
	json_t *d;
	json_array_foreach(down, i, d) {
		if (strcmp(mz__status(d), "NOT_STARTED") != 0 || json_array_size(
		        json_object_get(d, "tasks")) > 0)
			reset_stage(b, exec, d, user, false);
	}
	json_decref(down);
}

mz_code
mz__h_restart_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg)
{
	json_t *top = mz__top_level(exec, stage);
	const char *st = mz__status(top);
	if (!mz_status_complete(st) && strcmp(st, "NOT_STARTED"))
		return MZ_OK;
	reset_stage(b, exec, top, mz__qm_str(msg, "user"), true);
	mz__set_status(exec, "RUNNING");
	json_object_del(exec, "endTime");
	json_object_set_new(exec, "canceled", json_false());
	json_object_del(exec, "canceledBy");
	json_object_del(exec, "cancellationReason");
	mz__exec_dirty(b, exec);
	return mz__push(b, mz__msg_stage("startStage", exec, top), 0);
}

mz_code
mz__h_pause_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg)
{
	mz__set_status(stage, "PAUSED");
	mz__exec_dirty(b, exec);
	json_t *parent = mz__parent(exec, stage);
	if (parent && strcmp(mz__status(parent), "PAUSED"))
		return mz__push(b, mz__msg_stage("pauseStage", exec, parent), 0);
	return MZ_OK;
}

mz_code
mz__h_resume_stage(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg)
{
	size_t i;
	json_t *t;
	mz_code rc = MZ_OK;
	if (strcmp(mz__status(stage), "PAUSED") != 0)
		return MZ_OK;
	mz__set_status(stage, "RUNNING");
	json_array_foreach(json_object_get(stage, "tasks"), i, t) {
		if (strcmp(mz__status(t), "PAUSED") == 0) {
			mz__set_status(t, "RUNNING");
			if (rc == MZ_OK)
				rc = mz__push(b, mz__msg_task("runTask", exec, stage, t), 0);
		}
	}
	mz__exec_dirty(b, exec);
	return rc;
}
