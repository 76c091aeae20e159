/* engine_h_exec.c - execution-level message handlers: start, complete,
 * cancel, reschedule, resume, and releasing executions that waited behind
 * a concurrency limit (Orca's StartExecutionHandler, CompleteExecution-
 * Handler, CancelExecutionHandler, ... and PendingExecutionService). */
#include "engine/engine_int.h"

#include <string.h>

static json_t *
top_level_stages(const json_t *exec)
{
	json_t *out = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(mz__stages(exec), i, s) {
		if (!mz__is_synthetic(s))
			json_array_append(out, s);
	}
	return out;
}

/* On a shared store one node at a time decides for a pipeline: the lock
 * on its config. A batch holds the rows of the executions it changed, so
 * it never waits for the lock - another batch holding it may be waiting
 * for one of those rows (a deadlock PostgreSQL breaks only after a
 * second): *got false means "handle the message again a little later". */
static mz_code
lock_config(mz_batch *b, const char *cfg, bool *got)
{
	char *key = mz_asprintf("config:%s", cfg);
	mz_code rc = mz_store_try_lock(b->st, key, got, &b->err);
	free(key);
	return rc;
}

#define MZ_CONFIG_LOCK_RETRY_MS 20

mz_code
mz__should_queue(mz_batch *b, const json_t *exec, bool *queue, bool *busy)
{
	const char *cfg = mz_json_str(exec, "pipelineConfigId");
	bool limit = mz_json_bool(exec, "limitConcurrent", false);
	int64_t max = mz_json_int(exec, "maxConcurrentExecutions", 0);
	int running = 0;
	bool got = false;
	*queue = *busy = false;
	if (!cfg || (!limit && max <= 0))
		return MZ_OK;
	mz_code rc = lock_config(b, cfg, &got);
	if (rc == MZ_OK && !got) {
		*busy = true;
		return MZ_OK;
	}
	if (rc == MZ_OK)
		rc = mz__batch_flush(b);
	if (rc == MZ_OK)
		rc = mz_exec_count_status(b->st, cfg, "RUNNING", mz_json_str(exec, "id"), &running,
		                          &b->err);
	if (rc)
		return rc;
	*queue = limit ? running > 0 : running >= max;
	return MZ_OK;
}

static mz_code
push_start_waiting(mz_batch *b, const json_t *exec)
{
	const char *cfg = mz_json_str(exec, "pipelineConfigId");
	if (!cfg || strcmp(mz_json_str(exec, "type") ? mz_json_str(exec, "type") : "", "PIPELINE"))
		return MZ_OK;
	json_t *m = json_pack("{s:s, s:s, s:b}", "kind", "startWaitingExecutions",
	                      "pipelineConfigId", cfg, "purgeQueue",
	                      !mz_json_bool(exec, "keepWaitingPipelines", false));
	return mz__push(b, mz__qm_from_json(m), 0);
}

mz_code
mz__h_start_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg)
{
	const char *status = mz__status(exec);
	bool canceled = mz_json_bool(exec, "canceled", false);

	if (canceled || strcmp(status, "CANCELED") == 0)
		return push_start_waiting(b, exec);
	if (strcmp(status, "NOT_STARTED") != 0)
		return MZ_OK;

	bool queue = false, busy = false;
	mz_code rc = mz__should_queue(b, exec, &queue, &busy);
	if (rc)
		return rc;
	if (busy)
		return mz__push(b, mz__qm_copy(msg), MZ_CONFIG_LOCK_RETRY_MS);
	if (queue) {
		mz_info("engine: execution %s waits behind a running execution of its pipeline",
		        mz_json_str(exec, "id"));
		json_t *j = mz__qm_json(msg);
		rc = mz_pending_push(b->st, mz_json_str(exec, "pipelineConfigId"), j, &b->err);
		json_decref(j);
		return rc;
	}

	int64_t expiry = mz_json_int(exec, "startTimeExpiry", 0);
	if (expiry > 0 && b->now > expiry) {
		mz_qmsg m = mz__msg_exec("cancelExecution", exec);
		json_object_set_new(exec, "canceled", json_true());
		json_object_set_new(exec, "canceledBy", json_string("spinnaker"));
		json_object_set_new(exec, "cancellationReason",
		                    json_string("Could not begin execution before start time expiry"));
		mz__set_status(exec, "CANCELED");
		json_object_set_new(exec, "endTime", json_integer(b->now));
		mz__exec_dirty(b, exec);
		return mz__push(b, m, 0);
	}

	json_t *tops = top_level_stages(exec);
	json_t *initial = json_array();
	size_t i;
	json_t *s;
	json_array_foreach(tops, i, s) {
		if (mz__is_initial(s))
			json_array_append(initial, s);
	}
	json_decref(tops);
	if (json_array_size(initial) == 0) {
		mz__set_status(exec, "TERMINAL");
		json_object_set_new(exec, "startTime", json_integer(b->now));
		json_object_set_new(exec, "endTime", json_integer(b->now));
		json_object_set_new(exec, "cancellationReason",
		                    json_string("No initial stages found: the pipeline has no "
		                                "stages, or every stage waits for another"));
		mz__exec_dirty(b, exec);
		json_decref(initial);
		return push_start_waiting(b, exec);
	}
	mz__set_status(exec, "RUNNING");
	json_object_set_new(exec, "startTime", json_integer(b->now));
	json_object_set_new(exec, "canceled", json_false());
	mz__exec_dirty(b, exec);
	rc = mz__emit(b, "starting", exec, NULL);
	json_array_foreach(initial, i, s) {
		if (rc == MZ_OK)
			rc = mz__push(b, mz__msg_stage("startStage", exec, s), 0);
	}
	json_decref(initial);
	return rc;
}

/* A NOT_STARTED stage whose upstreams all finished successfully is about
 * to run: its branch is still alive. */
static bool
ready_to_run(const json_t *exec, const json_t *stage)
{
	json_t *ups = mz__upstream(exec, stage);
	size_t i;
	json_t *u;
	bool ready = true;
	json_array_foreach(ups, i, u) {
		const char *st = mz__status(u);
		if (strcmp(st, "SUCCEEDED") && strcmp(st, "FAILED_CONTINUE") && strcmp(st, "SKIPPED"))
			ready = false;
	}
	json_decref(ups);
	return ready;
}

mz_code
mz__h_complete_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg)
{
	if (mz_status_complete(mz__status(exec)))
		return MZ_OK;
	json_t *tops = top_level_stages(exec);
	size_t i;
	json_t *s;
	bool all_ok = true, terminal = false, canceled = false, stopped = false,
	     running = false, fail_after_branches = false;
	json_array_foreach(tops, i, s) {
		const char *st = mz__status(s);
		if (strcmp(st, "SUCCEEDED") && strcmp(st, "SKIPPED") && strcmp(st, "FAILED_CONTINUE"))
			all_ok = false;
		if (strcmp(st, "TERMINAL") == 0)
			terminal = true;
		if (strcmp(st, "CANCELED") == 0)
			canceled = true;
		if (strcmp(st, "STOPPED") == 0) {
			stopped = true;
			if (mz_json_bool(json_object_get(s, "context"), "completeOtherBranchesThenFail",
			                 false))
				fail_after_branches = true;
		}
		/* An initial stage still NOT_STARTED has its startStage message
		 * waiting (a batch's time slice ended before it ran): its branch
		 * is alive unless the execution was canceled before it began. */
		if (strcmp(st, "RUNNING") == 0 || strcmp(st, "PAUSED") == 0 ||
		    (strcmp(st, "NOT_STARTED") == 0 && ready_to_run(exec, s) &&
		     (!mz__is_initial(s) || !mz_json_bool(exec, "canceled", false))))
			running = true;
	}
	const char *final = NULL;
	if (all_ok)
		final = "SUCCEEDED";
	else if (terminal)
		final = "TERMINAL";
	else if (canceled)
		final = "CANCELED";
	else if (stopped && !running)
		final = fail_after_branches ? "TERMINAL" : "SUCCEEDED";
	else if (mz_json_bool(exec, "canceled", false) && !running)
		final = "CANCELED"; /* canceled before any stage got going */
	if (!final) {
		json_decref(tops);
		/* Some branch is still running; it will complete the execution
		 * when it ends. Check again later in case nothing does. */
		return mz__push(b, mz__msg_exec("completeExecution", exec), 30000);
	}
	mz__set_status(exec, final);
	json_object_set_new(exec, "endTime", json_integer(b->now));
	if (!json_object_get(exec, "startTime"))
		json_object_set_new(exec, "startTime", json_integer(b->now));
	mz__exec_dirty(b, exec);
	mz_code rc = mz__emit(b, strcmp(final, "SUCCEEDED") == 0 ? "complete" : "failed", exec, NULL);
	if (rc == MZ_OK && strcmp(final, "SUCCEEDED") != 0) {
		json_array_foreach(tops, i, s) {
			if (rc == MZ_OK && strcmp(mz__status(s), "RUNNING") == 0)
				rc = mz__push(b, mz__msg_stage("cancelStage", exec, s), 0);
		}
	}
	json_decref(tops);
	mz__log_after_commit(b, "engine: execution %s %s", mz_json_str(exec, "id"), final);
	/* A parent pipeline waiting on this child looks again right away
	 * instead of at its next poll. */
	const char *parent = mz_json_str(json_object_get(exec, "trigger"), "parentPipelineId");
	if (rc == MZ_OK && parent)
		rc = mz__push(b, mz__qm_from_json(json_pack("{s:s, s:s, s:s}", "kind",
		                                            "rescheduleExecution", "executionType",
		                                            "PIPELINE", "executionId", parent)), 0);
	return rc ? rc : push_start_waiting(b, exec);
}

mz_code
mz__h_cancel_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg)
{
	size_t i;
	json_t *s;
	mz_code rc = MZ_OK;
	json_array_foreach(mz__stages(exec), i, s) {
		if (rc == MZ_OK && strcmp(mz__status(s), "PAUSED") == 0)
			rc = mz__push(b, mz__msg_stage("resumeStage", exec, s), 0);
	}
	if (rc == MZ_OK)
		rc = mz__h_reschedule_execution(b, exec, msg);
	/* An execution with nothing running (queued, or between stages) ends
	 * now: cancel always wins. */
	if (rc == MZ_OK)
		rc = mz__push(b, mz__msg_exec("completeExecution", exec), 0);
	return rc;
}

mz_code
mz__h_reschedule_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg)
{
	size_t i, j;
	json_t *s, *t;
	mz_code rc = MZ_OK;
	json_array_foreach(mz__stages(exec), i, s) {
		if (strcmp(mz__status(s), "RUNNING") != 0)
			continue;
		json_array_foreach(json_object_get(s, "tasks"), j, t) {
			if (rc == MZ_OK && strcmp(mz__status(t), "RUNNING") == 0)
				rc = mz__reschedule(b, mz__msg_task("runTask", exec, s, t), 0);
		}
	}
	return rc;
}

mz_code
mz__h_resume_execution(mz_batch *b, json_t *exec, const mz_qmsg *msg)
{
	size_t i;
	json_t *s;
	mz_code rc = MZ_OK;
	json_array_foreach(mz__stages(exec), i, s) {
		if (rc == MZ_OK && strcmp(mz__status(s), "PAUSED") == 0)
			rc = mz__push(b, mz__msg_stage("resumeStage", exec, s), 0);
	}
	return rc;
}

mz_code
mz__h_start_waiting(mz_batch *b, const mz_qmsg *msg)
{
	const char *cfg = mz__qm_str(msg, "pipelineConfigId");
	bool purge = mz__qm_bool(msg, "purgeQueue", false);
	json_t *next = NULL;
	if (!cfg)
		return MZ_OK;
	bool got = false;
	mz_code rc = lock_config(b, cfg, &got);
	if (rc == MZ_OK && !got)
		return mz__push(b, mz__qm_copy(msg), MZ_CONFIG_LOCK_RETRY_MS);
	if (rc == MZ_OK)
		rc = mz_pending_pop(b->st, cfg, purge, &next, &b->err);
	if (rc || !next)
		return rc;
	if (purge) {
		/* keepWaitingPipelines=false: only the newest waiting execution
		 * runs; older waiting ones are canceled. */
		json_t *older = NULL;
		while ((rc = mz_pending_pop(b->st, cfg, false, &older, &b->err)) == MZ_OK && older) {
			const char *id = mz_json_str(older, "executionId");
			json_t *ex = id ? mz__exec_load(b, id) : NULL;
			if (ex && strcmp(mz_json_str(older, "kind"), "startExecution") == 0) {
				json_object_set_new(ex, "canceled", json_true());
				json_object_set_new(ex, "canceledBy", json_string("spinnaker"));
				json_object_set_new(ex, "cancellationReason",
				                    json_string("This execution was queued but then "
				                                "canceled because a newer queued execution "
				                                "superceded it. This pipeline is configured "
				                                "to automatically cancel waiting executions."));
				mz__set_status(ex, "CANCELED");
				json_object_set_new(ex, "endTime", json_integer(b->now));
				mz__exec_dirty(b, ex);
			}
			mz_err_clear(&b->err);
			json_decref(older);
			older = NULL;
		}
	}
	return mz__push(b, mz__qm_from_json(next), 0);
}
