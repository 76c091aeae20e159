/* engine_h_task.c - task-level message handlers (Orca's StartTask-,
 * RunTask- and CompleteTaskHandler): the polling loop with backoff, stage
 * and task timeouts, cancel/pause/skip checks, and the deferred running of
 * EXTERNAL tasks outside the transaction. */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

mz_code
mz__h_start_task(mz_batch *b, json_t *exec, json_t *stage, json_t *task, const mz_qmsg *msg)
{
	if (strcmp(mz__status(task), "NOT_STARTED") != 0)
		return MZ_OK;
	mz__set_status(task, "RUNNING");
	json_object_set_new(task, "startTime", json_integer(b->now));
	mz__exec_dirty(b, exec);
	return mz__push(b, mz__msg_task("runTask", exec, stage, task), 0);
}

static mz_code
complete_task(mz_batch *b, json_t *exec, json_t *stage, json_t *task, const char *status,
              const char *original)
{
	mz_qmsg m = mz__msg_task("completeTask", exec, stage, task);
	mz__qm_set(&m, "status", json_string(status));
	mz__qm_set(&m, "originalStatus", json_string(original ? original : status));
	return mz__push(b, m, 0);
}

static bool
manually_skipped(const json_t *exec, json_t *stage)
{
	int guard = 0;
	while (stage && guard++ < 64) {
		if (mz_json_bool(json_object_get(stage, "context"), "manualSkip", false))
			return true;
		stage = mz__parent(exec, stage);
	}
	return false;
}

static int64_t
paused_ms(const json_t *exec, int64_t since)
{
	json_t *p = json_object_get(exec, "paused");
	int64_t pause = mz_json_int(p, "pauseTime", 0);
	if (!p || pause < since)
		return 0;
	int64_t resume = mz_json_int(p, "resumeTime", 0);
	return resume > pause ? resume - pause : 0;
}

/* Orca's RunTaskHandler.checkForTimeout; returns true and fills r when the
 * stage or the task ran out of time. */
static bool
timed_out(mz_batch *b, const json_t *exec, json_t *stage, json_t *task,
          const mz_task_def *def, mz_task_result *r)
{
	if (mz_streq(mz_json_str(stage, "type"), "restrictExecutionDuringTimeWindow"))
		return false;
	json_t *s = stage;
	json_t *owner = NULL;
	int guard = 0;
	while (s && guard++ < 64) {
		json_t *v = json_object_get(json_object_get(s, "context"), "stageTimeoutMs");
		if (json_is_number(v)) {
			owner = s;
			break;
		}
		s = mz__parent(exec, s);
	}
	if (owner) {
		int64_t limit = mz_json_int(json_object_get(owner, "context"), "stageTimeoutMs", 0);
		int64_t start = mz_json_int(owner, "startTime", b->now);
		if (b->now - start - paused_ms(exec, start) > limit) {
			mz_task_result_set(r, "TERMINAL", "Stage %s timed out after %lld ms",
			                   mz_json_str(owner, "name"), (long long)(b->now - start));
			return true;
		}
	}
	int64_t timeout = def->timeout_ms;
	if (owner && (def->flags & MZ_TASK_TIMEOUT_OVERRIDABLE))
		timeout = mz_json_int(json_object_get(owner, "context"), "stageTimeoutMs", timeout);
	if ((def->flags & MZ_TASK_RETRYABLE) && timeout > 0) {
		int64_t start = mz_json_int(task, "startTime", b->now);
		if (b->now - start - paused_ms(exec, start) > timeout) {
			mz_task_result_set(r, "TERMINAL", "Task %s timed out after %lld ms", def->name,
			                   (long long)(b->now - start));
			return true;
		}
	}
	return false;
}

/* The earliest instant a stage or task timeout can fire, or INT64_MAX. */
static int64_t
timeout_deadline(const json_t *exec, json_t *stage, const json_t *task, const mz_task_def *def)
{
	int64_t deadline = INT64_MAX;
	json_t *s = stage;
	int guard = 0;
	int64_t stage_limit = -1;
	while (s && guard++ < 64) {
		json_t *v = json_object_get(json_object_get(s, "context"), "stageTimeoutMs");
		if (json_is_number(v)) {
			stage_limit = mz_json_int(json_object_get(s, "context"), "stageTimeoutMs", 0);
			deadline = mz_json_int(s, "startTime", 0) + stage_limit;
			break;
		}
		s = mz__parent(exec, s);
	}
	int64_t timeout = def ? def->timeout_ms : 0;
	if (stage_limit >= 0 && def && (def->flags & MZ_TASK_TIMEOUT_OVERRIDABLE))
		timeout = stage_limit;
	if (def && (def->flags & MZ_TASK_RETRYABLE) && timeout > 0) {
		int64_t t = mz_json_int(task, "startTime", 0) + timeout;
		if (t < deadline)
			deadline = t;
	}
	return deadline;
}

/* The delay before a RUNNING task runs again: what it asked for (or its
 * default), at least the stage's backoffPeriodMs, and never past the
 * moment a timeout would fire, so timeouts are noticed on time. */
static int64_t
backoff_for(mz_batch *b, const json_t *exec, json_t *stage, const json_t *task,
            const mz_task_def *def, const mz_task_result *r)
{
	int64_t ms = r->backoff_ms > 0 ? r->backoff_ms : (def && def->backoff_ms ? def->backoff_ms : 1000);
	int64_t stage_ms = mz_json_int(json_object_get(stage, "context"), "backoffPeriodMs", 0);
	if (stage_ms > ms)
		ms = stage_ms;
	int64_t deadline = timeout_deadline(exec, stage, task, def);
	if (deadline != INT64_MAX && deadline + 1 - b->now < ms)
		ms = deadline + 1 - b->now;
	return ms > 0 ? ms : 1;
}

mz_code
mz__apply_task_result(mz_batch *b, json_t *exec, json_t *stage, json_t *task,
                      const mz_qmsg *msg, mz_task_result *r)
{
	const mz_task_def *def = mz_engine_task_def(mz_json_str(task, "name"));
	json_t *ctx = mz__ctx(stage);
	const char *st = r->status ? r->status : "TERMINAL";
	if (r->context)
		mz_json_merge(ctx, r->context);
	if (r->outputs) {
		json_t *outs = json_object_get(stage, "outputs");
		if (!json_is_object(outs)) {
			outs = json_object();
			json_object_set_new(stage, "outputs", outs);
		}
		mz_json_merge(outs, r->outputs);
		json_object_del(outs, "stageTimeoutMs");
	}
	mz__exec_dirty(b, exec);
	if (strcmp(st, "RUNNING") == 0)
		return mz__push(b, mz__qm_copy(msg), backoff_for(b, exec, stage, task, def, r));
	if (strcmp(st, "TERMINAL") == 0 || strcmp(st, "CANCELED") == 0) {
		if (r->error[0]) {
			mz__set_exception(stage, strcmp(st, "CANCELED") ? "TaskFailed" : "Canceled",
			                  r->error);
			json_object_set_new(task, "taskExceptionDetails",
			                    json_pack("{s:O}", "exception",
			                              json_object_get(ctx, "exception")));
		}
		return complete_task(b, exec, stage, task, mz__failure_status(stage, st), st);
	}
	if (strcmp(st, "FAILED_CONTINUE") == 0 && r->error[0])
		mz__set_exception(stage, "TaskFailed", r->error);
	return complete_task(b, exec, stage, task, st, st);
}

/* The stage as the task sees it: context with expressions evaluated (a
 * new reference). A context with nothing to evaluate would be copied as
 * it is, key by key (a tenth of a wait stage's cost): then the task sees
 * the stage itself, which tasks only read (their changes go in their
 * result). */
static json_t *
evaluated_stage(const json_t *exec, json_t *stage)
{
	const mz_stage_def *sd = mz_engine_stage_def(mz_json_str(stage, "type"));
	const char *const *raw = sd ? sd->raw_keys : NULL;
	if (!mz__context_evaluates(stage, raw))
		return json_incref(stage);
	json_t *copy = json_copy(stage);
	json_object_set_new(copy, "context", mz__eval_context(exec, stage, raw));
	return copy;
}

static void
result_release(mz_task_result *r)
{
	json_decref(r->context);
	json_decref(r->outputs);
	r->context = r->outputs = NULL;
}

/* Records the intent of an external call and leaves the message claimed;
 * the call runs after this batch commits. The key survives a crash, so a
 * replay repeats the call under the same idempotency key. */
static mz_code
defer_external(mz_batch *b, json_t *exec, json_t *stage, json_t *task, const mz_qmsg *msg)
{
	const char *key = mz_json_str(task, "effectKey");
	char *k;
	if (key) {
		k = mz_strdup(key);
	} else {
		k = mz_asprintf("%s-%s-%s-%lld", mz_json_str(exec, "id"), mz_json_str(stage, "id"),
		                mz_json_str(task, "id"),
		                (long long)mz_json_int(task, "effectSeq", 0) + 1);
		json_object_set_new(task, "effectKey", json_string(k));
		mz__exec_dirty(b, exec);
	}
	if (b->ndefer == b->capdefer) {
		b->capdefer = b->capdefer ? b->capdefer * 2 : 8;
		b->defer = realloc(b->defer, sizeof(*b->defer) * (size_t)b->capdefer);
		if (!b->defer)
			abort();
	}
	mz_deferred *d = &b->defer[b->ndefer++];
	memset(d, 0, sizeof(*d));
	d->msg_id = b->cur->id;
	d->msg = mz__qm_json(msg);
	d->execution = json_deep_copy(exec);
	snprintf(d->stage_id, sizeof(d->stage_id), "%s", mz_json_str(stage, "id"));
	snprintf(d->task_id, sizeof(d->task_id), "%s", mz_json_str(task, "id"));
	d->key = k;
	b->deferred = true;
	return MZ_OK;
}

mz_code
mz__h_run_task(mz_batch *b, json_t *exec, json_t *stage, json_t *task, const mz_qmsg *msg)
{
	const mz_task_def *def = mz_engine_task_def(mz_json_str(task, "name"));
	mz_task_result r = {0};
	const char *estatus = mz__status(exec);
	mz_code rc;

	if (mz__qm_bool(msg, "afterCancel", false))
		return mz__route_after_cancel(b, exec, stage, task, msg, def);
	if (strcmp(mz__status(task), "RUNNING") != 0)
		return MZ_OK;
	if (!def) {
		mz_task_result_set(&r, "TERMINAL", "no task named '%s' is known",
		                   mz_json_str(task, "name"));
		rc = mz__apply_task_result(b, exec, stage, task, msg, &r);
		result_release(&r);
		return rc;
	}
	if (mz_json_bool(exec, "canceled", false) || mz_status_complete(estatus)) {
		bool away = false;
		/* a cancel that kills something runs where that something is */
		if (def->on_cancel && mz_json_bool(exec, "canceled", false) &&
		    ((rc = mz__route_task(b, exec, stage, msg, def, true, &away)) || away))
			return rc;
		if (def->on_cancel && mz_json_bool(exec, "canceled", false)) {
			mz_task_ctx ctx = {.engine = b->eng, .store = b->st, .execution = exec,
			                   .stage = stage, .task = task, .now = b->now, .internal = b};
			def->on_cancel(&ctx, &r);
		}
		r.status = "CANCELED";
		if (r.context)
			mz_json_merge(mz__ctx(stage), r.context);
		if (r.outputs)
			mz_json_merge(json_object_get(stage, "outputs"), r.outputs);
		result_release(&r);
		mz__exec_dirty(b, exec);
		return complete_task(b, exec, stage, task, "CANCELED", "CANCELED");
	}
	if (strcmp(estatus, "PAUSED") == 0) {
		mz__set_status(task, "PAUSED");
		mz__exec_dirty(b, exec);
		return mz__push(b, mz__msg_stage("pauseStage", exec, stage), 0);
	}
	if (manually_skipped(exec, stage))
		return complete_task(b, exec, stage, task, "SKIPPED", "SKIPPED");
	if (timed_out(b, exec, stage, task, def, &r)) {
		if (mz_json_bool(json_object_get(stage, "context"), "markSuccessfulOnTimeout", false))
			r.status = "SUCCEEDED";
		rc = mz__apply_task_result(b, exec, stage, task, msg, &r);
		result_release(&r);
		return rc;
	}
	bool away = false;
	if ((rc = mz__route_task(b, exec, stage, msg, def, false, &away)) || away)
		return rc;
	if (def->flags & MZ_TASK_EXTERNAL) {
		if (!b->cur) { /* handled locally: go through the queue to get a lease */
			json_t *j = mz__qm_json(msg);
			rc = mz_queue_push(b->st, j, b->now, &b->err);
			json_decref(j);
			return rc;
		}
		return defer_external(b, exec, stage, task, msg);
	}
	json_t *view = evaluated_stage(exec, stage);
	mz_task_ctx ctx = {.engine = b->eng, .store = b->st, .execution = exec, .stage = view,
	                   .task = task, .now = b->now, .internal = b};
	def->execute(&ctx, &r);
	json_decref(view);
	if (b->err.code) /* a task that used the store and failed */
		return b->err.code;
	rc = mz__apply_task_result(b, exec, stage, task, msg, &r);
	result_release(&r);
	return rc;
}

mz_code
mz__h_complete_task(mz_batch *b, json_t *exec, json_t *stage, json_t *task, const mz_qmsg *msg)
{
	const char *status = mz__qm_str(msg, "status");
	const char *original = mz__qm_str(msg, "originalStatus");
	const char *cur = mz__status(task);
	if (!status)
		status = "TERMINAL";
	if (strcmp(cur, "RUNNING") && strcmp(cur, "PAUSED") && strcmp(cur, "NOT_STARTED"))
		return MZ_OK;
	mz__set_status(task, status);
	json_object_set_new(task, "endTime", json_integer(b->now));
	json_object_del(task, "effectKey");
	mz__exec_dirty(b, exec);
	if (manually_skipped(exec, stage))
		return mz__push(b, mz__msg_stage("skipStage", exec, mz__top_level(exec, stage)), 0);
	bool halt = mz_status_halt(status) && !mz_streq(original, "FAILED_CONTINUE");
	if (mz_json_bool(task, "stageEnd", false) || halt)
		return mz__push(b, mz__msg_stage("completeStage", exec, stage), 0);
	json_t *tasks = json_object_get(stage, "tasks");
	size_t i;
	json_t *t;
	json_array_foreach(tasks, i, t) {
		if (t == task) {
			json_t *next = json_array_get(tasks, i + 1);
			if (next)
				return mz__push(b, mz__msg_task("startTask", exec, stage, next), 0);
			break;
		}
	}
	return mz__push(b, mz__msg_stage("completeStage", exec, stage), 0);
}

/* Runs the external tasks a committed batch deferred, each followed by a
 * transaction that applies its result and acknowledges its message. */
void
mz__run_deferred(mz_engine *eng, mz_store *st, mz_batch *b)
{
	for (int i = 0; i < b->ndefer; i++) {
		mz_deferred *d = &b->defer[i];
		json_t *exec = d->execution;
		json_t *stage = mz__stage_by_id(exec, d->stage_id);
		json_t *task = stage ? mz__task_by_id(stage, d->task_id) : NULL;
		const mz_task_def *def = task ? mz_engine_task_def(mz_json_str(task, "name")) : NULL;
		mz_task_result r = {0};
		if (!def)
			continue;
		json_t *view = evaluated_stage(exec, stage);
		mz_task_ctx ctx = {.engine = eng, .store = NULL, .execution = exec, .stage = view,
		                   .task = task, .now = mz_now_ms(), .idempotency_key = d->key};
		def->execute(&ctx, &r);
		json_decref(view);

		mz_batch ab;
		memset(&ab, 0, sizeof(ab));
		ab.eng = eng;
		ab.st = st;
		ab.now = mz_now_ms();
		mz_err err = {0};
		if (mz_store_begin(st, &err)) {
			mz_warn("engine: cannot record result of %s: %s", d->key, err.msg);
			result_release(&r);
			continue;
		}
		mz_msg cur = {.id = d->msg_id, .body = d->msg};
		ab.cur = &cur;
		ab.requeue_at = -1;
		json_t *lexec = mz__exec_load(&ab, mz_json_str(exec, "id"));
		json_t *lstage = lexec ? mz__stage_by_id(lexec, d->stage_id) : NULL;
		json_t *ltask = lstage ? mz__task_by_id(lstage, d->task_id) : NULL;
		mz_code rc = MZ_OK;
		if (ltask && strcmp(mz__status(ltask), "RUNNING") == 0 &&
		    mz_streq(mz_json_str(ltask, "effectKey"), d->key)) {
			json_object_del(ltask, "effectKey");
			json_object_set_new(ltask, "effectSeq",
			                    json_integer(mz_json_int(ltask, "effectSeq", 0) + 1));
			if (mz_json_bool(lexec, "canceled", false) && mz_streq(r.status, "RUNNING"))
				r.backoff_ms = 1; /* let RunTask see the cancellation now */
			mz_qmsg q = {.json = d->msg}; /* borrowed */
			rc = mz__apply_task_result(&ab, lexec, lstage, ltask, &q, &r);
		}
		if (rc == MZ_OK) {
			if (ab.requeue_at >= 0)
				rc = mz_queue_set_delivery(st, d->msg_id, ab.requeue_at, &ab.err);
			else
				rc = mz_queue_ack(st, d->msg_id, &ab.err);
		}
		/* Follow-ups pushed with no delay were queued locally: store them. */
		if (rc == MZ_OK)
			rc = mz__push_local_to_store(&ab);
		if (rc == MZ_OK)
			rc = mz__batch_flush(&ab);
		if (rc == MZ_OK)
			rc = mz__notify_remote(eng, &ab);
		if (rc == MZ_OK)
			rc = mz_store_commit(st, &ab.err);
		else
			mz_store_rollback(st);
		if (rc) {
			mz_warn("engine: cannot record result of %s: %s", d->key, ab.err.msg);
		} else {
			mz__notify(eng, &ab);
			mz__batch_keep(&ab);
		}
		result_release(&r);
		mz__batch_release(&ab);
		mz_engine_wake(eng);
	}
}
