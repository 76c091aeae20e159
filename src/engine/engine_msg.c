/* engine_msg.c - message constructors and the dispatcher.
 *
 * Messages follow keiko's shape ({"kind": "startStage", "executionType",
 * "executionId", "stageId", ...}); they are built deterministically so two
 * pushes of the same message have the same fingerprint and de-duplicate.
 * The engine's own are typed (engine_int.h, mz_qmsg) until they are
 * stored. */
#include "engine/engine_int.h"

#include <string.h>

/* The JSON form of a message is built with direct sets rather than
 * json_pack (parsing a format string cost more than the message), in the
 * order keiko's messages have. Its strings come from the execution,
 * already valid UTF-8. */
static void
set_str(json_t *m, const char *key, const char *value)
{
	json_object_set_new_nocheck(m, key, value ? json_string_nocheck(value) : json_null());
}

/* The JSON a message built from these values always was (a NULL value is
 * a null member, as before). */
static json_t *
json_of(const char *kind, const char *type, const char *exec_id, const char *stage_id,
        bool has_stage, const char *task_id, bool has_task)
{
	json_t *m = json_object();
	set_str(m, "kind", kind);
	set_str(m, "executionType", type);
	set_str(m, "executionId", exec_id);
	if (has_stage)
		set_str(m, "stageId", stage_id);
	if (has_task)
		set_str(m, "taskId", task_id);
	return m;
}

/* The execution types and status names a typed message may hold: string
 * literals, so a message never points into a document that may change. */
static const char *const type_names[] = {"PIPELINE", "ORCHESTRATION", NULL};
static const char *const status_names[] = {
	"SUCCEEDED", "TERMINAL", "RUNNING", "CANCELED", "FAILED_CONTINUE", "STOPPED", "SKIPPED",
	"NOT_STARTED", "PAUSED", "SUSPENDED", "REDIRECT", "BUFFERED", NULL};

static const char *
intern(const char *const *names, const char *s)
{
	for (int i = 0; s && names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return names[i];
	return NULL;
}

static bool
copy_id(char dst[MZ_QM_ID], const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (!id || n == 0 || n >= MZ_QM_ID)
		return false;
	memcpy(dst, id, n + 1);
	return true;
}

/* A typed message when every value is there and fits, else the JSON one. */
static mz_qmsg
make(const char *kind, const json_t *exec, const json_t *stage, bool has_stage,
     const json_t *task, bool has_task)
{
	mz_qmsg m = {.kind = kind};
	const char *type = mz_json_str(exec, "type");
	const char *exec_id = mz_json_str(exec, "id");
	const char *stage_id = has_stage ? mz_json_str(stage, "id") : NULL;
	const char *task_id = has_task ? mz_json_str(task, "id") : NULL;
	if (!type)
		type = "PIPELINE";
	m.exec_type = intern(type_names, type);
	if (!m.exec_type || !copy_id(m.exec_id, exec_id) ||
	    (has_stage && !copy_id(m.stage_id, stage_id)) ||
	    (has_task && !copy_id(m.task_id, task_id))) {
		memset(&m, 0, sizeof(m));
		m.json = json_of(kind, type, exec_id, stage_id, has_stage, task_id, has_task);
	}
	return m;
}

mz_qmsg
mz__msg_exec(const char *kind, const json_t *exec)
{
	return make(kind, exec, NULL, false, NULL, false);
}

mz_qmsg
mz__msg_stage(const char *kind, const json_t *exec, const json_t *stage)
{
	return make(kind, exec, stage, true, NULL, false);
}

mz_qmsg
mz__msg_task(const char *kind, const json_t *exec, const json_t *stage, const json_t *task)
{
	mz_qmsg m = make(kind, exec, stage, true, task, true);
	if (strcmp(kind, "runTask") == 0)
		mz__route_msg(stage, task, &m);
	return m;
}

mz_qmsg
mz__qm_from_json(json_t *json)
{
	mz_qmsg m = {.json = json ? json : json_object()};
	return m;
}

mz_qmsg
mz__qm_copy(const mz_qmsg *m)
{
	mz_qmsg c = *m;
	if (m->json)
		c.json = json_deep_copy(m->json);
	return c;
}

void
mz__qm_release(mz_qmsg *m)
{
	json_decref(m->json);
	m->json = NULL;
}

json_t *
mz__qm_json(const mz_qmsg *m)
{
	if (m->json)
		return json_incref(m->json);
	json_t *j = json_of(m->kind, m->exec_type, m->exec_id, m->stage_id, m->stage_id[0] != 0,
	                    m->task_id, m->task_id[0] != 0);
	if (m->status)
		set_str(j, "status", m->status);
	if (m->original_status)
		set_str(j, "originalStatus", m->original_status);
	return j;
}

void
mz__qm_set(mz_qmsg *m, const char *key, json_t *value)
{
	if (!m->json) {
		const char *st = json_is_string(value) ? intern(status_names, json_string_value(value))
		                                       : NULL;
		if (st && strcmp(key, "status") == 0) {
			m->status = st;
			json_decref(value);
			return;
		}
		if (st && strcmp(key, "originalStatus") == 0) {
			m->original_status = st;
			json_decref(value);
			return;
		}
		m->json = mz__qm_json(m);
	}
	if (value)
		json_object_set_new(m->json, key, value);
}

const char *
mz__qm_str(const mz_qmsg *m, const char *key)
{
	if (m->json)
		return mz_json_str(m->json, key);
	if (strcmp(key, "kind") == 0)
		return m->kind;
	if (strcmp(key, "executionType") == 0)
		return m->exec_type;
	if (strcmp(key, "executionId") == 0)
		return m->exec_id;
	if (strcmp(key, "stageId") == 0)
		return m->stage_id[0] ? m->stage_id : NULL;
	if (strcmp(key, "taskId") == 0)
		return m->task_id[0] ? m->task_id : NULL;
	if (strcmp(key, "status") == 0)
		return m->status;
	if (strcmp(key, "originalStatus") == 0)
		return m->original_status;
	return NULL;
}

bool
mz__qm_bool(const mz_qmsg *m, const char *key, bool dflt)
{
	return m->json ? mz_json_bool(m->json, key, dflt) : dflt;
}

static bool
member_is(const json_t *j, const char *key, const char *value, size_t *n)
{
	if (!value)
		return true;
	(*n)++;
	json_t *v = json_object_get(j, key);
	return json_is_string(v) && strcmp(json_string_value(v), value) == 0;
}

bool
mz__qm_equal_json(const mz_qmsg *m, const json_t *j)
{
	if (m->json)
		return json_equal(m->json, j);
	size_t n = 0;
	return member_is(j, "kind", m->kind, &n) &&
	       member_is(j, "executionType", m->exec_type, &n) &&
	       member_is(j, "executionId", m->exec_id, &n) &&
	       member_is(j, "stageId", m->stage_id[0] ? m->stage_id : NULL, &n) &&
	       member_is(j, "taskId", m->task_id[0] ? m->task_id : NULL, &n) &&
	       member_is(j, "status", m->status, &n) &&
	       member_is(j, "originalStatus", m->original_status, &n) && json_object_size(j) == n;
}

/* The kinds, most frequent first: a stage transition handles startStage,
 * startTask, runTask, completeTask and completeStage, and found each at the
 * end of a chain of a dozen string comparisons. */
enum {
	K_UNKNOWN, K_RUN_TASK, K_START_TASK, K_COMPLETE_TASK, K_START_STAGE, K_COMPLETE_STAGE,
	K_START_EXECUTION, K_COMPLETE_EXECUTION, K_START_WAITING, K_CANCEL_EXECUTION,
	K_RESCHEDULE_EXECUTION, K_RESUME_EXECUTION, K_SKIP_STAGE, K_CANCEL_STAGE, K_ABORT_STAGE,
	K_CONTINUE_PARENT, K_RESTART_STAGE, K_PAUSE_STAGE, K_RESUME_STAGE
};

static int
kind_of(const char *kind)
{
	static const char *const names[] = {
		NULL, "runTask", "startTask", "completeTask", "startStage", "completeStage",
		"startExecution", "completeExecution", "startWaitingExecutions", "cancelExecution",
		"rescheduleExecution", "resumeExecution", "skipStage", "cancelStage", "abortStage",
		"continueParentStage", "restartStage", "pauseStage", "resumeStage"};
	for (int k = 1; k < (int)(sizeof(names) / sizeof(names[0])); k++)
		if (strcmp(names[k], kind) == 0)
			return k;
	return K_UNKNOWN;
}

mz_code
mz__handle(mz_batch *b, const mz_qmsg *msg)
{
	const char *kind, *exec_id, *stage_id, *task_id;
	if (msg->json) {
		kind = mz_json_str(msg->json, "kind");
		exec_id = mz_json_str(msg->json, "executionId");
		stage_id = mz_json_str(msg->json, "stageId");
		task_id = mz_json_str(msg->json, "taskId");
	} else {
		kind = msg->kind;
		exec_id = msg->exec_id;
		stage_id = msg->stage_id[0] ? msg->stage_id : NULL;
		task_id = msg->task_id[0] ? msg->task_id : NULL;
	}
	json_t *exec, *stage = NULL, *task = NULL;

	if (!kind)
		return mz_fail(&b->err, MZ_EINVAL, "message without kind");
	int k = kind_of(kind);
	if (k == K_START_WAITING)
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

	switch (k) {
	case K_START_EXECUTION: return mz__h_start_execution(b, exec, msg);
	case K_COMPLETE_EXECUTION: return mz__h_complete_execution(b, exec, msg);
	case K_CANCEL_EXECUTION: return mz__h_cancel_execution(b, exec, msg);
	case K_RESCHEDULE_EXECUTION: return mz__h_reschedule_execution(b, exec, msg);
	case K_RESUME_EXECUTION: return mz__h_resume_execution(b, exec, msg);
	default: break;
	}
	if (!stage)
		return mz_fail(&b->err, MZ_EINVAL, "message %s without stageId", kind);
	switch (k) {
	case K_START_STAGE: return mz__h_start_stage(b, exec, stage, msg);
	case K_COMPLETE_STAGE: return mz__h_complete_stage(b, exec, stage, msg);
	case K_SKIP_STAGE: return mz__h_skip_stage(b, exec, stage, msg);
	case K_CANCEL_STAGE: return mz__h_cancel_stage(b, exec, stage, msg);
	case K_ABORT_STAGE: return mz__h_abort_stage(b, exec, stage, msg);
	case K_CONTINUE_PARENT: return mz__h_continue_parent(b, exec, stage, msg);
	case K_RESTART_STAGE: return mz__h_restart_stage(b, exec, stage, msg);
	case K_PAUSE_STAGE: return mz__h_pause_stage(b, exec, stage, msg);
	case K_RESUME_STAGE: return mz__h_resume_stage(b, exec, stage, msg);
	default: break;
	}
	if (!task)
		return mz_fail(&b->err, MZ_EINVAL, "message %s without taskId", kind);
	switch (k) {
	case K_START_TASK: return mz__h_start_task(b, exec, stage, task, msg);
	case K_RUN_TASK: return mz__h_run_task(b, exec, stage, task, msg);
	case K_COMPLETE_TASK: return mz__h_complete_task(b, exec, stage, task, msg);
	default: break;
	}
	mz_warn("engine: unknown message kind %s", kind);
	return MZ_OK;
}
