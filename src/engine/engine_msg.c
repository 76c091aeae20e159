/* engine_msg.c - message constructors and the dispatcher.
 *
 * Messages follow keiko's shape ({"kind": "startStage", "executionType",
 * "executionId", "stageId", ...}); they are built deterministically so two
 * pushes of the same message have the same fingerprint and de-duplicate. */
#include "engine/engine_int.h"

#include <string.h>

/* Messages are built with direct sets rather than json_pack: several are
 * made per stage transition, and parsing a format string cost more than
 * the message itself. Their strings come from the execution, already
 * valid UTF-8. */
static void
set_str(json_t *m, const char *key, const char *value)
{
	json_object_set_new_nocheck(m, key, value ? json_string_nocheck(value) : json_null());
}

json_t *
mz__msg_exec(const char *kind, const json_t *exec)
{
	const char *type = mz_json_str(exec, "type");
	json_t *m = json_object();
	set_str(m, "kind", kind);
	set_str(m, "executionType", type ? type : "PIPELINE");
	set_str(m, "executionId", mz_json_str(exec, "id"));
	return m;
}

json_t *
mz__msg_stage(const char *kind, const json_t *exec, const json_t *stage)
{
	json_t *m = mz__msg_exec(kind, exec);
	set_str(m, "stageId", mz_json_str(stage, "id"));
	return m;
}

json_t *
mz__msg_task(const char *kind, const json_t *exec, const json_t *stage, const json_t *task)
{
	json_t *m = mz__msg_stage(kind, exec, stage);
	set_str(m, "taskId", mz_json_str(task, "id"));
	if (strcmp(kind, "runTask") == 0)
		mz__route_msg(stage, task, m);
	return m;
}

mz_code
mz__handle(mz_batch *b, const json_t *msg)
{
	const char *kind = mz_json_str(msg, "kind");
	const char *exec_id = mz_json_str(msg, "executionId");
	const char *stage_id = mz_json_str(msg, "stageId");
	const char *task_id = mz_json_str(msg, "taskId");
	json_t *exec, *stage = NULL, *task = NULL;

	if (!kind)
		return mz_fail(&b->err, MZ_EINVAL, "message without kind");
	if (strcmp(kind, "startWaitingExecutions") == 0)
		return mz__h_start_waiting(b, msg);
	if (!exec_id)
		return mz_fail(&b->err, MZ_EINVAL, "message %s without executionId", kind);

	exec = mz__exec_load(b, exec_id);
	if (!exec) {
		/* Deleted execution: Orca logs InvalidExecutionId and drops it. */
		mz_warn("engine: dropping %s for missing execution %s", kind, exec_id);
		mz_err_clear(&b->err);
		return MZ_OK;
	}
	if (stage_id) {
		stage = mz__stage_by_id(exec, stage_id);
		if (!stage) {
			/* A restart removed synthetic stages a message still names. */
			mz_debug("engine: dropping %s for missing stage %s", kind, stage_id);
			return MZ_OK;
		}
	}
	if (task_id) {
		task = mz__task_by_id(stage, task_id);
		if (!task) {
			mz_debug("engine: dropping %s for missing task %s", kind, task_id);
			return MZ_OK;
		}
	}

	if (strcmp(kind, "startExecution") == 0)
		return mz__h_start_execution(b, exec, msg);
	if (strcmp(kind, "completeExecution") == 0)
		return mz__h_complete_execution(b, exec, msg);
	if (strcmp(kind, "cancelExecution") == 0)
		return mz__h_cancel_execution(b, exec, msg);
	if (strcmp(kind, "rescheduleExecution") == 0)
		return mz__h_reschedule_execution(b, exec, msg);
	if (strcmp(kind, "resumeExecution") == 0)
		return mz__h_resume_execution(b, exec, msg);
	if (!stage)
		return mz_fail(&b->err, MZ_EINVAL, "message %s without stageId", kind);
	if (strcmp(kind, "startStage") == 0)
		return mz__h_start_stage(b, exec, stage, msg);
	if (strcmp(kind, "completeStage") == 0)
		return mz__h_complete_stage(b, exec, stage, msg);
	if (strcmp(kind, "skipStage") == 0)
		return mz__h_skip_stage(b, exec, stage, msg);
	if (strcmp(kind, "cancelStage") == 0)
		return mz__h_cancel_stage(b, exec, stage, msg);
	if (strcmp(kind, "abortStage") == 0)
		return mz__h_abort_stage(b, exec, stage, msg);
	if (strcmp(kind, "continueParentStage") == 0)
		return mz__h_continue_parent(b, exec, stage, msg);
	if (strcmp(kind, "restartStage") == 0)
		return mz__h_restart_stage(b, exec, stage, msg);
	if (strcmp(kind, "pauseStage") == 0)
		return mz__h_pause_stage(b, exec, stage, msg);
	if (strcmp(kind, "resumeStage") == 0)
		return mz__h_resume_stage(b, exec, stage, msg);
	if (!task)
		return mz_fail(&b->err, MZ_EINVAL, "message %s without taskId", kind);
	if (strcmp(kind, "startTask") == 0)
		return mz__h_start_task(b, exec, stage, task, msg);
	if (strcmp(kind, "runTask") == 0)
		return mz__h_run_task(b, exec, stage, task, msg);
	if (strcmp(kind, "completeTask") == 0)
		return mz__h_complete_task(b, exec, stage, task, msg);
	mz_warn("engine: unknown message kind %s", kind);
	return MZ_OK;
}
