/* engine_plan.c - the planner handed to stage definitions: tasks, and
 * synthetic before/after stages placed and named as Orca's
 * StageGraphBuilder does (refIds "<parent><N" and "<parent>>N", siblings
 * chained through requisiteStageRefIds). */
#include "engine/engine_int.h"

#include "engine/engine_plan.h"

#include <string.h>

void
mz_plan_task(mz_plan *p, const char *task_name)
{
	json_array_append_new(p->tasks, json_string(task_name));
}

json_t *
mz_plan_execution(mz_plan *p)
{
	return p->exec;
}

json_t *
mz_plan_stage(mz_plan *p)
{
	return p->stage;
}

mz_store *
mz_plan_store(mz_plan *p)
{
	return p->store;
}

static int
count_owner(const json_t *exec, const json_t *parent, const char *owner)
{
	json_t *kids = mz__children(exec, parent, owner);
	int n = (int)json_array_size(kids);
	json_decref(kids);
	return n;
}

/* Index in stages[] where a new synthetic stage of this owner goes: before
 * stages right before the parent, after stages after the parent and its
 * existing after stages (and their descendants). */
static size_t
insert_index(const json_t *exec, const json_t *parent, const char *owner)
{
	json_t *stages = mz__stages(exec);
	size_t i, pos = 0;
	json_t *s;
	json_array_foreach(stages, i, s) {
		if (s == parent) {
			pos = i;
			break;
		}
	}
	if (strcmp(owner, "STAGE_BEFORE") == 0)
		return pos;
	/* skip past every stage that descends from the parent */
	size_t j = pos + 1;
	while (j < json_array_size(stages)) {
		json_t *t = json_array_get(stages, j);
		json_t *anc = t;
		bool desc = false;
		int guard = 0;
		while (anc && mz__is_synthetic(anc) && guard++ < 64) {
			if (mz_streq(mz_json_str(anc, "parentStageId"), mz_json_str(parent, "id"))) {
				desc = true;
				break;
			}
			anc = mz__parent(exec, anc);
		}
		if (!desc)
			break;
		j++;
	}
	return j;
}

static json_t *
add_synthetic(mz_plan *p, const char *owner, const char *type, const char *name,
              json_t *context, bool chain)
{
	json_t *parent = p->stage;
	const char *pref = mz_json_str(parent, "refId");
	int n = count_owner(p->exec, parent, owner) + 1;
	char ref[256];
	bool before = strcmp(owner, "STAGE_BEFORE") == 0;
	snprintf(ref, sizeof(ref), "%s%c%d", pref ? pref : "", before ? '<' : '>', n);
	json_t *st = mz__stage_new(type, name, ref, context);
	json_object_set_new(st, "parentStageId", json_string(mz_json_str(parent, "id")));
	json_object_set_new(st, "syntheticStageOwner", json_string(owner));
	const char *prev = before ? p->last_before : p->last_after;
	if (chain && prev[0])
		json_array_append_new(json_object_get(st, "requisiteStageRefIds"), json_string(prev));
	snprintf(before ? p->last_before : p->last_after, sizeof(p->last_before), "%s", ref);
	json_array_insert_new(mz__stages(p->exec), insert_index(p->exec, parent, owner), st);
	p->added++;
	return st;
}

json_t *
mz_plan_before(mz_plan *p, const char *type, const char *name, json_t *context, bool chain)
{
	return add_synthetic(p, "STAGE_BEFORE", type, name, context, chain);
}

json_t *
mz_plan_after(mz_plan *p, const char *type, const char *name, json_t *context, bool chain)
{
	return add_synthetic(p, "STAGE_AFTER", type, name, context, chain);
}

void
mz__plan_init(mz_plan *p, mz_batch *b, json_t *exec, json_t *stage)
{
	memset(p, 0, sizeof(*p));
	p->batch = b;
	p->store = b ? b->st : NULL;
	p->exec = exec;
	p->stage = stage;
	p->tasks = json_array();
}

void
mz__plan_release(mz_plan *p)
{
	json_decref(p->tasks);
	p->tasks = NULL;
}

/* Turns the planned task names into Orca task objects on the stage. */
mz_code
mz__plan_build_tasks(mz_plan *p, mz_err *err)
{
	json_t *tasks = json_array();
	size_t i, n = json_array_size(p->tasks);
	json_t *name;
	json_array_foreach(p->tasks, i, name) {
		const mz_task_def *def = mz_engine_task_def(json_string_value(name));
		char id[24];
		if (!def) {
			json_decref(tasks);
			return mz_fail(err, MZ_EINVAL, "no task named '%s' is known",
			               json_string_value(name));
		}
		snprintf(id, sizeof(id), "%zu", i + 1);
		/* direct sets: json_pack's format parsing cost more than the task */
		json_t *t = json_object();
		json_object_set_new_nocheck(t, "id", json_string_nocheck(id));
		/* names and classes are the registering component's literals */
		json_object_set_new_nocheck(t, "name", json_string_nocheck(def->name));
		json_object_set_new_nocheck(t, "implementingClass",
		                            json_string_nocheck(def->impl_class ? def->impl_class
		                                                                : def->name));
		json_object_set_new_nocheck(t, "status", json_string_nocheck("NOT_STARTED"));
		json_object_set_new_nocheck(t, "stageStart", json_boolean(i == 0));
		json_object_set_new_nocheck(t, "stageEnd", json_boolean(i + 1 == n));
		json_object_set_new_nocheck(t, "loopStart", json_false());
		json_object_set_new_nocheck(t, "loopEnd", json_false());
		json_array_append_new(tasks, t);
	}
	json_object_set_new(p->stage, "tasks", tasks);
	return MZ_OK;
}
