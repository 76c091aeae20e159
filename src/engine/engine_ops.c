/* engine_ops.c - operator actions on executions (Orca's
 * CompoundExecutionOperator): cancel, pause, resume, patch a stage
 * (manual judgment, skip a wait, manual skip), restart a stage, delete;
 * and the read-side views (summary, task view, expression test). */
#include "engine/engine_int.h"

#include <string.h>
#include <strings.h>

struct op_arg {
	const char *exec_id;
	const char *stage_id;
	const char *user;
	const char *reason;
	const json_t *patch;
	json_t *exec_out;
	mz_err *err;
};

static json_t *
load(mz_batch *b, struct op_arg *a)
{
	json_t *exec = mz__exec_load(b, a->exec_id);
	if (!exec)
		mz_fail(&b->err, MZ_ENOTFOUND, "Execution not found (id: %s)", a->exec_id);
	return exec;
}

static mz_code
do_cancel(mz_batch *b, void *arg)
{
	struct op_arg *a = arg;
	json_t *exec = load(b, a);
	if (!exec)
		return MZ_ENOTFOUND;
	if (mz_status_complete(mz__status(exec)))
		return MZ_OK; /* already over: cancel is a no-op, as in Orca */
	json_object_set_new(exec, "canceled", json_true());
	json_object_set_new(exec, "canceledBy", json_string(a->user ? a->user : "anonymous"));
	if (a->reason)
		json_object_set_new(exec, "cancellationReason", json_string(a->reason));
	if (strcmp(mz__status(exec), "NOT_STARTED") == 0) {
		mz__set_status(exec, "CANCELED");
		json_object_set_new(exec, "endTime", json_integer(b->now));
	}
	mz__exec_dirty(b, exec);
	return mz__push(b, mz__msg_exec("cancelExecution", exec), 0);
}

mz_code
mz_engine_cancel(mz_engine *eng, mz_store *st, const char *exec_id, const char *user,
                 const char *reason, mz_err *err)
{
	struct op_arg a = {.exec_id = exec_id, .user = user, .reason = reason};
	return mz__with_batch(eng, st, do_cancel, &a, err);
}

static mz_code
do_pause(mz_batch *b, void *arg)
{
	struct op_arg *a = arg;
	json_t *exec = load(b, a);
	if (!exec)
		return MZ_ENOTFOUND;
	if (strcmp(mz__status(exec), "RUNNING") != 0)
		return mz_fail(&b->err, MZ_ECONFLICT, "Unable to pause pipeline that is not RUNNING "
		               "(executionId: %s, currentStatus: %s)", a->exec_id, mz__status(exec));
	mz__set_status(exec, "PAUSED");
	json_object_set_new(exec, "paused",
	                    json_pack("{s:s, s:I, s:b}", "pausedBy", a->user ? a->user : "anonymous",
	                              "pauseTime", (json_int_t)b->now, "paused", 1));
	mz__exec_dirty(b, exec);
	return mz__h_reschedule_execution(b, exec, NULL);
}

mz_code
mz_engine_pause(mz_engine *eng, mz_store *st, const char *exec_id, const char *user,
                mz_err *err)
{
	struct op_arg a = {.exec_id = exec_id, .user = user};
	return mz__with_batch(eng, st, do_pause, &a, err);
}

static mz_code
do_resume(mz_batch *b, void *arg)
{
	struct op_arg *a = arg;
	json_t *exec = load(b, a);
	if (!exec)
		return MZ_ENOTFOUND;
	if (strcmp(mz__status(exec), "PAUSED") != 0)
		return mz_fail(&b->err, MZ_ECONFLICT, "Unable to resume pipeline that is not PAUSED "
		               "(executionId: %s, currentStatus: %s)", a->exec_id, mz__status(exec));
	mz__set_status(exec, "RUNNING");
	json_t *p = json_object_get(exec, "paused");
	if (!json_is_object(p)) {
		p = json_object();
		json_object_set_new(exec, "paused", p);
	}
	int64_t pause = mz_json_int(p, "pauseTime", b->now);
	json_object_set_new(p, "resumedBy", json_string(a->user ? a->user : "anonymous"));
	json_object_set_new(p, "resumeTime", json_integer(b->now));
	json_object_set_new(p, "paused", json_false());
	json_object_set_new(p, "pausedMs", json_integer(b->now - pause));
	mz__exec_dirty(b, exec);
	return mz__push(b, mz__msg_exec("resumeExecution", exec), 0);
}

mz_code
mz_engine_resume(mz_engine *eng, mz_store *st, const char *exec_id, const char *user,
                 mz_err *err)
{
	struct op_arg a = {.exec_id = exec_id, .user = user};
	return mz__with_batch(eng, st, do_resume, &a, err);
}

static mz_code
do_patch(mz_batch *b, void *arg)
{
	struct op_arg *a = arg;
	json_t *exec = load(b, a);
	if (!exec)
		return MZ_ENOTFOUND;
	json_t *stage = mz__stage_by_id(exec, a->stage_id);
	if (!stage)
		return mz_fail(&b->err, MZ_ENOTFOUND, "Stage not found (id: %s) in execution %s",
		               a->stage_id, a->exec_id);
	if (!json_is_object(a->patch))
		return mz_fail(&b->err, MZ_EINVAL, "the stage patch must be a JSON object");
	json_t *ctx = mz__ctx(stage);
	if (mz_json_bool(a->patch, "manualSkip", false) &&
	    !mz_json_bool(ctx, "canManuallySkip", false))
		return mz_fail(&b->err, MZ_EINVAL, "Stage '%s' cannot be manually skipped",
		               mz_json_str(stage, "name"));
	const char *js = mz_json_str(a->patch, "judgmentStatus");
	if (js && *js && strcasecmp(js, "continue") && strcasecmp(js, "stop"))
		return mz_fail(&b->err, MZ_EINVAL, "judgmentStatus must be 'continue' or 'stop', not '%s'",
		               js);
	mz_json_merge(ctx, a->patch);
	const char *user = a->user ? a->user : "anonymous";
	json_object_set_new(ctx, "lastModifiedBy", json_string(user));
	json_object_set_new(stage, "lastModified",
	                    json_pack("{s:s, s:[], s:I}", "user", user, "allowedAccounts",
	                              "lastModifiedTime", (json_int_t)b->now));
	mz__exec_dirty(b, exec);
	a->exec_out = json_incref(exec);
	return mz__h_reschedule_execution(b, exec, NULL);
}

mz_code
mz_engine_patch_stage(mz_engine *eng, mz_store *st, const char *exec_id, const char *stage_id,
                      const json_t *patch, const char *user, json_t **exec_out, mz_err *err)
{
	struct op_arg a = {.exec_id = exec_id, .stage_id = stage_id, .patch = patch, .user = user};
	mz_code rc = mz__with_batch(eng, st, do_patch, &a, err);
	if (rc == MZ_OK && exec_out)
		*exec_out = a.exec_out;
	else
		json_decref(a.exec_out);
	return rc;
}

static mz_code
do_restart(mz_batch *b, void *arg)
{
	struct op_arg *a = arg;
	json_t *exec = load(b, a);
	if (!exec)
		return MZ_ENOTFOUND;
	json_t *stage = mz__stage_by_id(exec, a->stage_id);
	if (!stage)
		return mz_fail(&b->err, MZ_ENOTFOUND, "Stage not found (id: %s) in execution %s",
		               a->stage_id, a->exec_id);
	json_t *top = mz__top_level(exec, stage);
	const char *st = mz__status(top);
	if (!mz_status_complete(st) && strcmp(st, "NOT_STARTED"))
		return mz_fail(&b->err, MZ_ECONFLICT, "Stage '%s' is %s: only a finished stage can be "
		               "restarted", mz_json_str(top, "name"), st);
	mz_qmsg m = mz__msg_stage("restartStage", exec, top);
	mz__qm_set(&m, "user", json_string(a->user ? a->user : "anonymous"));
	a->exec_out = json_incref(exec);
	return mz__push(b, m, 0);
}

mz_code
mz_engine_restart_stage(mz_engine *eng, mz_store *st, const char *exec_id,
                        const char *stage_id, const char *user, json_t **exec_out, mz_err *err)
{
	struct op_arg a = {.exec_id = exec_id, .stage_id = stage_id, .user = user};
	mz_code rc = mz__with_batch(eng, st, do_restart, &a, err);
	if (rc == MZ_OK && exec_out)
		*exec_out = a.exec_out;
	else
		json_decref(a.exec_out);
	return rc;
}

static mz_code
do_delete(mz_batch *b, void *arg)
{
	struct op_arg *a = arg;
	json_t *exec = load(b, a);
	if (!exec)
		return MZ_ENOTFOUND;
	if (!mz_status_complete(mz__status(exec)))
		return mz_fail(&b->err, MZ_ECONFLICT, "Execution %s is %s: cancel it before deleting it",
		               a->exec_id, mz__status(exec));
	/* Drop it from the batch cache so it is not written back. */
	for (int i = 0; i < b->ncache; i++)
		if (b->cache[i].exec == exec)
			b->cache[i].dirty = false;
	return mz_exec_delete(b->st, a->exec_id, &b->err);
}

mz_code
mz_engine_delete_execution(mz_engine *eng, mz_store *st, const char *exec_id, mz_err *err)
{
	struct op_arg a = {.exec_id = exec_id};
	return mz__with_batch(eng, st, do_delete, &a, err);
}

json_t *
mz_execution_summary(const json_t *execution)
{
	json_t *copy = json_copy((json_t *)execution);
	json_t *stages = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(execution, "stages"), i, s) {
		json_t *c = json_copy(s);
		json_t *group = json_object_get(json_object_get(s, "context"), "group");
		json_object_del(c, "context");
		json_object_del(c, "outputs");
		json_object_del(c, "tasks");
		if (group)
			json_object_set_new(c, "context", json_pack("{s:O}", "group", group));
		json_array_append_new(stages, c);
	}
	json_object_set_new(copy, "stages", stages);
	json_t *trigger = json_object_get(copy, "trigger");
	if (json_object_get(trigger, "parentExecution")) {
		json_t *t = json_copy(trigger);
		json_t *pe = json_copy(json_object_get(trigger, "parentExecution"));
		json_object_del(pe, "stages");
		json_object_set_new(t, "parentExecution", pe);
		json_object_set_new(copy, "trigger", t);
	}
	return copy;
}

json_t *
mz_execution_task_view(const json_t *execution)
{
	json_t *vars = json_array();
	json_t *seen = json_object();
	json_t *steps = json_array();
	size_t i, j;
	json_t *s, *t;
	json_array_foreach(json_object_get(execution, "stages"), i, s) {
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(s, "context"), k, v) {
			json_t *prev = json_object_get(seen, k);
			bool empty = json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
			if (prev && empty)
				continue; /* an empty value never overwrites a non-empty one */
			json_object_set(seen, k, v);
		}
		json_array_foreach(json_object_get(s, "tasks"), j, t) {
			json_array_append(steps, t);
		}
	}
	const char *k;
	json_t *v;
	json_object_foreach(seen, k, v) {
		json_array_append_new(vars, json_pack("{s:s, s:O}", "key", k, "value", v));
	}
	json_decref(seen);
	json_t *view = json_pack("{s:O?, s:O?, s:O?, s:O?, s:o, s:o, s:O?, s:O?, s:O?, s:O}",
	                         "id", json_object_get(execution, "id"),
	                         "name", json_object_get(execution, "description"),
	                         "application", json_object_get(execution, "application"),
	                         "status", json_object_get(execution, "status"),
	                         "variables", vars, "steps", steps,
	                         "buildTime", json_object_get(execution, "buildTime"),
	                         "startTime", json_object_get(execution, "startTime"),
	                         "endTime", json_object_get(execution, "endTime"),
	                         "execution", (json_t *)execution);
	return view;
}

struct eval_lookup {
	const json_t *exec;
	const json_t *stage;
};

static json_t *
eval_lookup_cb(const char *name, void *udata)
{
	struct eval_lookup *l = udata;
	return l->stage ? mz__ancestor_lookup(l->exec, l->stage, name) : NULL;
}

json_t *
mz_engine_evaluate(const json_t *execution, const json_t *stage, const char *expr)
{
	json_t *root = json_object();
	json_t *trigger = json_object_get(execution, "trigger");
	struct eval_lookup l = {execution, stage};
	mz_expr_env env = {.execution = execution, .stage = stage, .lookup = eval_lookup_cb,
	                   .udata = &l};
	if (stage)
		mz_json_merge(root, json_object_get(stage, "context"));
	json_object_set(root, "execution", (json_t *)execution);
	json_object_set(root, "trigger", trigger ? trigger : json_null());
	json_object_set(root, "parameters", json_object_get(trigger, "parameters") ?
	                json_object_get(trigger, "parameters") : json_object());
	json_t *summary = json_object();
	json_t *in = json_string(expr);
	json_t *wrap = json_pack("{s:o}", "expression", in);
	json_t *res = mz_expr_process(wrap, root, &env, summary);
	json_t *out = json_pack("{s:O, s:o}", "result", json_object_get(res, "expression"),
	                        "detail", json_object_size(summary) ? summary : json_null());
	if (!json_object_size(summary))
		json_decref(summary);
	json_decref(res);
	json_decref(wrap);
	json_decref(root);
	return out;
}
