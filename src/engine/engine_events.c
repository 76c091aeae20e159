/* engine_events.c - the events the engine emits for Echo's consumers
 * (notifications, pipeline triggers): written to the store's outbox inside
 * the same transaction as the state change they describe, in Echo's event
 * shape {details: {type, source, created, application}, content: {...}}.
 *
 * Only events someone reads are written (each costs the dispatcher a
 * transaction): a pipeline's end always (pipeline triggers match it), its
 * start only when the execution has notifications, stage events only for
 * stages with notifications and manual judgments, an orchestration's never
 * (nothing consumes them). A pipeline event says whether the execution has
 * notifications ("hasNotifications"), so the dispatcher reads the
 * execution only when a notification or a pipeline trigger needs it. */
#include "engine/engine_int.h"

#include <string.h>

static bool
stage_wanted(const json_t *exec, const json_t *stage)
{
	const json_t *ctx = json_object_get(stage, "context");
	if (mz_streq(mz_json_str(stage, "type"), "manualJudgment"))
		return true;
	if (mz_json_bool(ctx, "sendNotifications", false) &&
	    json_array_size(json_object_get(ctx, "notifications")) > 0)
		return true;
	return false;
}

/* A string member, left out when NULL (json_pack's "s?"); the strings
 * come from the execution or are literals: valid UTF-8. */
static void
set_opt(json_t *o, const char *key, const char *value)
{
	if (value)
		json_object_set_new_nocheck(o, key, json_string_nocheck(value));
}

mz_code
mz__emit(mz_batch *b, const char *what, const json_t *exec, const json_t *stage)
{
	const char *etype = mz_json_str(exec, "type");
	bool orchestration = mz_streq(etype, "ORCHESTRATION");
	bool notifications = json_array_size(json_object_get(exec, "notifications")) > 0;
	if (stage ? !stage_wanted(exec, stage)
	          : orchestration || (strcmp(what, "starting") == 0 && !notifications))
		return MZ_OK;
	char type[64];
	snprintf(type, sizeof(type), "orca:%s:%s",
	         stage ? "stage" : (orchestration ? "orchestration" : "pipeline"), what);
	json_t *trigger = json_object_get(exec, "trigger");
	/* direct sets: json_pack's format parsing cost more than the event
	 * (every pipeline's end writes one) */
	json_t *content = json_object(), *trig = json_object();
	set_opt(content, "executionId", mz_json_str(exec, "id"));
	set_opt(content, "executionType", etype);
	set_opt(content, "pipelineConfigId", mz_json_str(exec, "pipelineConfigId"));
	set_opt(content, "name", mz_json_str(exec, "name"));
	set_opt(content, "status", mz_json_str(exec, "status"));
	set_opt(trig, "type", mz_json_str(trigger, "type"));
	set_opt(trig, "user", mz_json_str(trigger, "user"));
	json_object_set_new_nocheck(content, "trigger", trig);
	if (!stage)
		json_object_set_new(content, "hasNotifications", json_boolean(notifications));
	if (stage) {
		json_object_set_new(content, "stageId", json_string(mz_json_str(stage, "id")));
		json_object_set_new(content, "stageName", json_string(mz_json_str(stage, "name")));
		json_object_set_new(content, "stageType", json_string(mz_json_str(stage, "type")));
		json_object_set_new(content, "stageStatus", json_string(mz__status(stage)));
		const json_t *ctx = json_object_get(stage, "context");
		const char *js = mz_json_str(ctx, "judgmentStatus");
		if (js)
			json_object_set_new(content, "judgmentStatus", json_string(js));
	}
	json_t *details = json_object();
	set_opt(details, "type", type);
	set_opt(details, "source", "orca");
	json_object_set_new_nocheck(details, "created", json_integer((json_int_t)b->now));
	set_opt(details, "application", mz_json_str(exec, "application"));
	json_t *ev = json_object();
	json_object_set_new_nocheck(ev, "details", details);
	json_object_set_new_nocheck(ev, "content", content);
	mz_code rc = mz_outbox_push(b->st, ev, &b->err);
	json_decref(ev);
	return rc;
}
