/* stages_basic.c - the built-in stages that need nothing outside the
 * engine: wait, manualJudgment, evaluateVariables, checkPreconditions and
 * the injected execution window (Orca's WaitStage, ManualJudgmentStage,
 * EvaluateVariablesStage, CheckPreconditionsStage,
 * RestrictExecutionDuringTimeWindow). */
#include "engine/engine_int.h"

#include "engine/stages.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- wait ------------------------------------------------------------- */

static void
wait_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	int64_t wait_ms = (int64_t)(mz_json_num(ctx, "waitTime", 0) * 1000);
	int64_t start = mz_json_int(c->stage, "startTime", c->now);
	if (json_object_get(ctx, "waitTime") && !json_is_number(json_object_get(ctx, "waitTime")) &&
	    mz_json_num(ctx, "waitTime", -1) < 0) {
		mz_task_result_set(r, "TERMINAL", "waitTime must be a number of seconds, not %s",
		                   mz_json_str(ctx, "waitTime") ? mz_json_str(ctx, "waitTime") : "that");
		return;
	}
	if (mz_json_bool(ctx, "skipRemainingWait", false) || c->now >= start + wait_ms) {
		r->status = "SUCCEEDED";
		return;
	}
	r->status = "RUNNING";
	r->backoff_ms = start + wait_ms - c->now; /* wake exactly when it is over */
}

static const mz_task_def wait_task_def = {
	.name = "wait",
	.impl_class = "com.netflix.spinnaker.orca.pipeline.tasks.WaitTask",
	.execute = wait_task,
	.backoff_ms = 1000,
	.flags = MZ_TASK_RETRYABLE,
};

static mz_code
wait_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "wait");
	return MZ_OK;
}

static const mz_stage_def wait_stage = {
	.type = "wait",
	.plan = wait_plan,
	.can_manually_skip = true,
};

/* ---- manualJudgment --------------------------------------------------- */

static void
judgment_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	const char *js = mz_json_str(ctx, "judgmentStatus");
	const char *who = mz_json_str(ctx, "lastModifiedBy");
	if (js && strcasecmp(js, "continue") == 0) {
		r->status = "SUCCEEDED";
		json_object_set_new(mz_task_result_context(r), "judgedBy",
		                    json_string(who ? who : "anonymous"));
	} else if (js && strcasecmp(js, "stop") == 0) {
		json_object_set_new(mz_task_result_context(r), "judgedBy",
		                    json_string(who ? who : "anonymous"));
		mz_task_result_set(r, "TERMINAL", "Manual judgment '%s' was stopped by %s",
		                   mz_json_str(c->stage, "name"), who ? who : "anonymous");
	} else {
		r->status = "RUNNING";
	}
}

static const mz_task_def judgment_task_def = {
	.name = "waitForJudgment",
	.impl_class = "com.netflix.spinnaker.orca.echo.pipeline.ManualJudgmentStage"
	              "$WaitForManualJudgmentTask",
	.execute = judgment_task,
	.backoff_ms = 15000,
	.timeout_ms = 3LL * 24 * 3600 * 1000,
	.flags = MZ_TASK_RETRYABLE | MZ_TASK_TIMEOUT_OVERRIDABLE,
};

static mz_code
judgment_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "waitForJudgment");
	return MZ_OK;
}

static void
judgment_restart(json_t *stage)
{
	json_t *ctx = mz__ctx(stage);
	json_object_del(ctx, "judgmentStatus");
	json_object_del(ctx, "judgmentInput");
	json_object_del(ctx, "lastModifiedBy");
	json_object_del(ctx, "judgedBy");
}

/* A judgment can be skipped outright (PATCH {"manualSkip": true}); the
 * stage ends SKIPPED and the pipeline goes on. */
static const mz_stage_def judgment_stage = {
	.type = "manualJudgment",
	.plan = judgment_plan,
	.prepare_restart = judgment_restart,
	.can_manually_skip = true,
};

/* ---- evaluateVariables ----------------------------------------------- */

/* Under v4 each variable sees the ones before it, so the engine must not
 * evaluate the list at stage start: "variables" is a raw key. */
static void
variables_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	json_t *vars = json_object_get(ctx, "variables");
	json_t *root = mz__eval_root(c->execution, c->stage);
	json_t *summary = json_object();
	json_t *outs = mz_task_result_outputs(r);
	json_t *evaluated = json_array();
	size_t i;
	json_t *v;
	if (vars && !json_is_array(vars)) {
		mz_task_result_set(r, "TERMINAL", "variables must be a list of {key, value}");
		goto out;
	}
	json_array_foreach(vars, i, v) {
		const char *key = mz_json_str(v, "key");
		if (!key || !*key) {
			mz_task_result_set(r, "TERMINAL", "variable %zu has no key", i + 1);
			goto out;
		}
		json_t *raw = json_object_get(v, "value");
		json_t *wrap = json_pack("{s:O}", key, raw ? raw : json_null());
		json_t *res = mz__eval_value(c->execution, c->stage, root, wrap, summary);
		json_t *val = json_object_get(res, key);
		json_object_set(outs, key, val ? val : json_null());
		json_object_set(root, key, val ? val : json_null());
		json_t *entry = json_deep_copy(v);
		json_object_set(entry, "value", val ? val : json_null());
		if (json_is_string(raw) && mz_expr_has(json_string_value(raw)))
			json_object_set(entry, "sourceValue", raw);
		json_array_append_new(evaluated, entry);
		json_decref(res);
		json_decref(wrap);
	}
	json_object_set(mz_task_result_context(r), "variables", evaluated);
	if (json_object_size(summary) > 0)
		json_object_set(mz_task_result_context(r), "expressionEvaluationSummary", summary);
	r->status = "SUCCEEDED";
out:
	json_decref(evaluated);
	json_decref(summary);
	json_decref(root);
}

static const mz_task_def variables_task_def = {
	.name = "evaluateVariables",
	.impl_class = "com.netflix.spinnaker.orca.pipeline.tasks.EvaluateVariablesTask",
	.execute = variables_task,
};

static mz_code
variables_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "evaluateVariables");
	return MZ_OK;
}

/* A restart evaluates the original expressions again. */
static void
variables_restart(json_t *stage)
{
	json_t *vars = json_object_get(mz__ctx(stage), "variables");
	size_t i;
	json_t *v;
	json_array_foreach(vars, i, v) {
		json_t *src = json_object_get(v, "sourceValue");
		if (src) {
			json_object_set(v, "value", src);
			json_object_del(v, "sourceValue");
		}
	}
	json_object_set_new(stage, "outputs", json_object());
}

static const char *const variables_raw[] = {"variables", NULL};

static const mz_stage_def variables_stage = {
	.type = "evaluateVariables",
	.plan = variables_plan,
	.prepare_restart = variables_restart,
	.raw_keys = variables_raw,
};

/* ---- checkPreconditions ----------------------------------------------- */

static void
precondition_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	const char *type = mz_json_str(ctx, "preconditionType");
	json_t *pctx = json_object_get(ctx, "context");
	if (mz_streq(type, "expression")) {
		json_t *e = json_object_get(pctx, "expression");
		json_t *val = NULL;
		if (!e || json_is_null(e)) {
			val = json_false();
		} else if (json_is_string(e)) {
			/* Already evaluated at stage start when written as ${...};
			 * a bare expression is evaluated now. */
			const char *s = json_string_value(e);
			mz_err err = {0};
			if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
				val = json_boolean(strcasecmp(s, "true") == 0);
			} else {
				json_t *root = mz__eval_root(c->execution, c->stage);
				json_t *summary = json_object();
				json_t *wrap = mz_expr_has(s) ? json_pack("{s:s}", "expression", s)
				                              : json_pack("{s:s++}", "expression", "${", s, "}");
				json_t *res = mz__eval_value(c->execution, c->stage, root, wrap, summary);
				val = json_incref(json_object_get(res, "expression"));
				bool failed = json_object_size(summary) > 0;
				char *detail = failed ? mz_json_dump(summary) : NULL;
				json_decref(res);
				json_decref(wrap);
				json_decref(summary);
				json_decref(root);
				(void)err;
				if (failed) {
					mz_task_result_set(r, "TERMINAL", "Failed to evaluate precondition "
					                   "expression '%s': %s", s, detail);
					free(detail);
					json_decref(val);
					return;
				}
			}
		} else {
			val = json_incref(e);
		}
		json_t *out = mz_task_result_context(r);
		json_t *copy = json_is_object(pctx) ? json_deep_copy(pctx) : json_object();
		json_object_set(copy, "expressionResult", val);
		json_object_set_new(out, "context", copy);
		if (json_is_true(val)) {
			r->status = "SUCCEEDED";
		} else {
			char *txt = json_is_string(e) ? mz_strdup(json_string_value(e)) : mz_json_dump(e);
			mz_task_result_set(r, "TERMINAL", "Expression check failed: %s is not true", txt);
			free(txt);
		}
		json_decref(val);
		return;
	}
	if (mz_streq(type, "stageStatus")) {
		const char *name = mz_json_str(pctx, "stageName");
		const char *want = mz_json_str(pctx, "stageStatus");
		size_t i;
		json_t *s;
		json_t *found = NULL;
		json_array_foreach(json_object_get(c->execution, "stages"), i, s) {
			if (mz_streq(mz_json_str(s, "name"), name))
				found = s;
		}
		if (!found) {
			mz_task_result_set(r, "TERMINAL", "stageStatus precondition: no stage named '%s'",
			                   name ? name : "");
			return;
		}
		if (!want || strcasecmp(mz__status(found), want) != 0) {
			mz_task_result_set(r, "TERMINAL", "The status of stage %s was asserted to be %s, "
			                   "but was actually %s", name, want ? want : "(none)",
			                   mz__status(found));
			return;
		}
		r->status = "SUCCEEDED";
		return;
	}
	/* preconditions of components (the cloud's clusterSize) are tasks
	 * named precondition.<type> */
	char tname[96];
	snprintf(tname, sizeof(tname), "precondition.%s", type ? type : "");
	const mz_task_def *def = type ? mz_engine_task_def(tname) : NULL;
	if (def && def->execute) {
		def->execute(c, r);
		return;
	}
	mz_task_result_set(r, "TERMINAL", "Unsupported precondition type '%s' (supported: "
	                   "expression, stageStatus, clusterSize)", type ? type : "(none)");
}

static const mz_task_def precondition_task_def = {
	.name = "checkPrecondition",
	.impl_class = "com.netflix.spinnaker.orca.pipeline.tasks.ExpressionPreconditionTask",
	.execute = precondition_task,
	.backoff_ms = 5000,
	.timeout_ms = 30000,
	.flags = MZ_TASK_RETRYABLE,
};

/* The top-level stage has no task of its own: one parallel child per
 * precondition, each with the parent's context overlaid by its entry. */
static mz_code
preconditions_plan(mz_plan *p, mz_err *err)
{
	json_t *stage = mz_plan_stage(p);
	json_t *ctx = json_object_get(stage, "context");
	if (mz_json_str(ctx, "preconditionType")) {
		mz_plan_task(p, "checkPrecondition");
		return MZ_OK;
	}
	json_t *pre = json_object_get(ctx, "preconditions");
	if (pre && !json_is_array(pre))
		return mz_fail(err, MZ_EINVAL, "preconditions must be a list");
	size_t i;
	json_t *e;
	json_array_foreach(pre, i, e) {
		const char *type = mz_json_str(e, "type");
		if (!type)
			return mz_fail(err, MZ_EINVAL, "precondition %zu has no type", i + 1);
		json_t *cctx = json_deep_copy(ctx);
		json_object_del(cctx, "preconditions");
		json_object_del(cctx, "stageEnabled");
		mz_json_merge(cctx, e);
		json_object_set_new(cctx, "preconditionType", json_string(type));
		char name[128];
		snprintf(name, sizeof(name), "Check precondition (%s)", type);
		mz_plan_before(p, "checkPreconditions", name, cctx, false);
	}
	return MZ_OK;
}

static const mz_stage_def preconditions_stage = {
	.type = "checkPreconditions",
	.plan = preconditions_plan,
};

/* ---- execution window ------------------------------------------------- */

/* Minutes since the start of the UTC day, and the day of the week as Java's
 * Calendar numbers it (1 = Sunday ... 7 = Saturday). Windows are evaluated
 * in UTC: mizzen has no time-zone database dependency (Spinnaker's default
 * zone is a server setting, America/Los_Angeles). */
static bool
day_allowed(const json_t *days, int wday)
{
	size_t i;
	json_t *d;
	if (!json_is_array(days) || json_array_size(days) == 0)
		return true;
	json_array_foreach(days, i, d) {
		if (json_is_integer(d) && json_integer_value(d) == wday + 1)
			return true;
	}
	return false;
}

/* The next instant >= now inside a window, or -1 if none within 8 days. */
static int64_t
next_window(const json_t *win, int64_t now, char *why, size_t whylen)
{
	json_t *list = json_object_get(win, "whitelist");
	json_t *days = json_object_get(win, "days");
	int64_t day0 = now - now % 86400000LL;
	int64_t best = -1;
	for (int d = 0; d < 8; d++) {
		int64_t midnight = day0 + d * 86400000LL;
		time_t secs = (time_t)(midnight / 1000);
		struct tm tm;
		gmtime_r(&secs, &tm);
		if (!day_allowed(days, tm.tm_wday))
			continue;
		if (!json_is_array(list) || json_array_size(list) == 0)
			return midnight > now ? midnight : now;
		size_t i;
		json_t *w;
		json_array_foreach(list, i, w) {
			int64_t sh = mz_json_int(w, "startHour", -1), sm = mz_json_int(w, "startMin", 0);
			int64_t eh = mz_json_int(w, "endHour", -1), em = mz_json_int(w, "endMin", 0);
			if (sh < 0 || sh > 23 || eh < 0 || eh > 24 || sm < 0 || sm > 59 || em < 0 || em > 59) {
				snprintf(why, whylen, "execution window %zu has invalid hours or minutes", i + 1);
				return -2;
			}
			int64_t start = midnight + (sh * 60 + sm) * 60000;
			int64_t end = midnight + (eh * 60 + em) * 60000;
			if (end <= start) /* overnight: split at midnight */
				end += 86400000LL;
			if (now >= start && now < end)
				return now;
			/* the tail of yesterday's overnight window */
			if (d == 0 && end - 86400000LL > midnight && now < end - 86400000LL &&
			    now >= midnight)
				return now;
			if (start > now && (best < 0 || start < best))
				best = start;
		}
		if (best >= 0)
			return best;
	}
	return best;
}

static void
window_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	json_t *win = json_object_get(ctx, "restrictedExecutionWindow");
	char why[256] = "";
	if (mz_json_bool(ctx, "skipRemainingWait", false)) {
		r->status = "SUCCEEDED";
		return;
	}
	int64_t next = next_window(win, c->now, why, sizeof(why));
	if (next == -2) {
		mz_task_result_set(r, "TERMINAL", "%s", why);
		json_object_set_new(mz_task_result_context(r), "failureReason", json_string(why));
		return;
	}
	if (next < 0) {
		mz_task_result_set(r, "TERMINAL", "no execution window opens in the next week");
		return;
	}
	if (next <= c->now) {
		r->status = "SUCCEEDED";
		return;
	}
	json_object_set_new(mz_task_result_context(r), "scheduledTime", json_integer(next));
	r->status = "RUNNING";
	r->backoff_ms = next - c->now < 30000 ? next - c->now : 30000;
}

static const mz_task_def window_task_def = {
	.name = "suspendExecutionDuringTimeWindow",
	.impl_class = "com.netflix.spinnaker.orca.pipeline.RestrictExecutionDuringTimeWindow"
	              "$SuspendExecutionDuringTimeWindowTask",
	.execute = window_task,
	.backoff_ms = 30000,
	.timeout_ms = 7LL * 24 * 3600 * 1000,
	.flags = MZ_TASK_RETRYABLE,
};

static mz_code
window_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "suspendExecutionDuringTimeWindow");
	return MZ_OK;
}

static const mz_stage_def window_stage = {
	.type = "restrictExecutionDuringTimeWindow",
	.plan = window_plan,
	.can_manually_skip = true,
};

void
mz__register_basic_stages(void)
{
	mz_engine_register_task(&wait_task_def);
	mz_engine_register_stage(&wait_stage);
	mz_engine_register_task(&judgment_task_def);
	mz_engine_register_stage(&judgment_stage);
	mz_engine_register_task(&variables_task_def);
	mz_engine_register_stage(&variables_stage);
	mz_engine_register_task(&precondition_task_def);
	mz_engine_register_stage(&preconditions_stage);
	mz_engine_register_task(&window_task_def);
	mz_engine_register_stage(&window_stage);
}
