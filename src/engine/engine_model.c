/* engine_model.c - helpers over the execution JSON: statuses, stage lookup,
 * the stage graph (upstream, downstream, synthetic children), failure
 * status, exceptions, ancestor lookup and expression evaluation of stage
 * contexts. */
#include "engine/engine_int.h"

#include <string.h>

static const char *const complete_set[] = {"CANCELED", "SUCCEEDED", "STOPPED", "SKIPPED",
                                           "TERMINAL", "FAILED_CONTINUE", NULL};
static const char *const all_statuses[] = {"NOT_STARTED", "RUNNING", "PAUSED", "SUSPENDED",
                                           "SUCCEEDED", "FAILED_CONTINUE", "TERMINAL",
                                           "CANCELED", "REDIRECT", "STOPPED", "SKIPPED",
                                           "BUFFERED", NULL};

static bool
in_set(const char *s, const char *const *set)
{
	for (int i = 0; s && set[i]; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

bool
mz_status_complete(const char *s)
{
	return in_set(s, complete_set);
}

bool
mz_status_halt(const char *s)
{
	static const char *const halt[] = {"TERMINAL", "CANCELED", "STOPPED", NULL};
	return in_set(s, halt);
}

bool
mz_status_successful(const char *s)
{
	static const char *const ok[] = {"SUCCEEDED", "STOPPED", "SKIPPED", NULL};
	return in_set(s, ok);
}

bool
mz_status_valid(const char *s)
{
	return in_set(s, all_statuses);
}

const char *
mz__status(const json_t *o)
{
	const char *s = mz_json_str(o, "status");
	return s ? s : "NOT_STARTED";
}

void
mz__set_status(json_t *o, const char *status)
{
	json_object_set_new(o, "status", json_string(status));
}

json_t *
mz__stages(const json_t *exec)
{
	json_t *s = json_object_get(exec, "stages");
	if (!json_is_array(s)) {
		s = json_array();
		json_object_set_new((json_t *)exec, "stages", s);
	}
	return s;
}

json_t *
mz__task_by_id(const json_t *stage, const char *id)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(stage, "tasks"), i, t) {
		if (mz_streq(mz_json_str(t, "id"), id))
			return t;
	}
	return NULL;
}

json_t *
mz__ctx(json_t *stage)
{
	json_t *c = json_object_get(stage, "context");
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(stage, "context", c);
	}
	return c;
}

bool
mz__is_synthetic(const json_t *stage)
{
	return mz_json_str(stage, "parentStageId") != NULL;
}

bool
mz__is_initial(const json_t *stage)
{
	json_t *r = json_object_get(stage, "requisiteStageRefIds");
	return !json_is_array(r) || json_array_size(r) == 0;
}

json_t *
mz__top_level(const json_t *exec, json_t *stage)
{
	int guard = 0;
	while (stage && mz__is_synthetic(stage) && guard++ < 64) {
		json_t *p = mz__parent(exec, stage);
		if (!p)
			break;
		stage = p;
	}
	return stage;
}

const char *
mz__failure_status(const json_t *stage, const char *dflt)
{
	json_t *ctx = json_object_get(stage, "context");
	json_t *fp = json_object_get(ctx, "failPipeline");
	if (mz_json_bool(ctx, "continuePipeline", false))
		return "FAILED_CONTINUE";
	if (!fp || json_is_null(fp) || mz_json_bool(ctx, "failPipeline", true))
		return dflt;
	return "STOPPED";
}

/* Orca's StartStage check: an upstream (looking through NOT_STARTED ones)
 * that halted means this stage will never run. */
static bool
halted_rec(const json_t *exec, const json_t *stage, int depth)
{
	json_t *ups = mz__upstream(exec, stage);
	size_t i;
	json_t *u;
	bool halted = false;
	if (depth > 256) {
		json_decref(ups);
		return false;
	}
	json_array_foreach(ups, i, u) {
		const char *st = mz__status(u);
		if (strcmp(st, "TERMINAL") == 0 || strcmp(st, "STOPPED") == 0 ||
		    strcmp(st, "CANCELED") == 0 ||
		    (strcmp(st, "NOT_STARTED") == 0 && halted_rec(exec, u, depth + 1))) {
			halted = true;
			break;
		}
	}
	json_decref(ups);
	return halted;
}

bool
mz__any_upstream_halted(const json_t *exec, const json_t *stage)
{
	int halted = mz__graph_upstream_halted(exec, stage);
	return halted >= 0 ? halted : halted_rec(exec, stage, 0);
}

void
mz__set_exception(json_t *stage, const char *type, const char *message)
{
	json_t *ctx = mz__ctx(stage);
	json_t *errors = json_array();
	json_array_append_new(errors, json_string(message));
	json_object_set_new(ctx, "exception",
	                    json_pack("{s:{s:s, s:o}, s:s, s:s, s:b, s:I}", "details", "error",
	                              message, "errors", errors, "exceptionType", type,
	                              "operation", mz_json_str(stage, "type") ?
	                              mz_json_str(stage, "type") : "",
	                              "shouldRetry", 0, "timestamp", (json_int_t)mz_now_ms()));
}

/* Orca's ancestor order: the stage itself; through requisites its direct
 * upstream stages, then their synthetic children, then further up; a
 * synthetic stage without requisites looks at its before-stage siblings
 * (after-stages only) and then its parent. Breadth-first with a visited
 * set, so diamonds and long chains stay linear. */

/* Appends to queue the stages that come right after s in that order. */
static void
queue_next_ancestors(const json_t *exec, const json_t *s, json_t *queue)
{
	if (!mz__is_initial(s)) {
		json_t *ups = mz__upstream(exec, s);
		size_t i;
		json_t *u;
		json_array_foreach(ups, i, u) {
			json_array_append(queue, u);
		}
		json_array_foreach(ups, i, u) {
			json_t *kids = mz__children(exec, u, NULL);
			json_array_extend(queue, kids);
			json_decref(kids);
		}
		json_decref(ups);
	} else if (mz__is_synthetic(s)) {
		json_t *parent = mz__parent(exec, s);
		if (mz_streq(mz_json_str(s, "syntheticStageOwner"), "STAGE_AFTER") && parent) {
			json_t *before = mz__children(exec, parent, "STAGE_BEFORE");
			json_array_extend(queue, before);
			json_decref(before);
		}
		if (parent)
			json_array_append(queue, parent);
	}
}

/* Calls visit on the stage and each ancestor in that order until it
 * returns true. */
static void
walk_ancestors(const json_t *exec, const json_t *stage,
               bool (*visit)(json_t *s, void *udata), void *udata)
{
	json_t *queue = json_array();
	json_t *seen = json_object();
	size_t head = 0;
	json_array_append(queue, (json_t *)stage);
	while (head < json_array_size(queue) && head < 4096) {
		json_t *s = json_array_get(queue, head++);
		const char *id = mz_json_str(s, "id");
		if (!id || json_object_get(seen, id))
			continue;
		json_object_set_new(seen, id, json_true());
		if (visit(s, udata))
			break;
		queue_next_ancestors(exec, s, queue);
	}
	json_decref(queue);
	json_decref(seen);
}

struct lookup {
	const char *key;
	json_t *found;
};

static bool
lookup_visit(json_t *s, void *udata)
{
	struct lookup *l = udata;
	l->found = json_object_get(json_object_get(s, "outputs"), l->key);
	return l->found != NULL;
}

json_t *
mz__ancestor_lookup(const json_t *exec, const json_t *stage, const char *key)
{
	struct lookup l = {key, json_object_get(json_object_get(stage, "context"), key)};
	if (!l.found)
		walk_ancestors(exec, stage, lookup_visit, &l);
	return l.found;
}

static bool
collect_visit(json_t *s, void *udata)
{
	json_array_append(udata, s);
	return false;
}

json_t *
mz__ancestors(const json_t *exec, const json_t *stage)
{
	json_t *out = json_array();
	walk_ancestors(exec, stage, collect_visit, out);
	return out;
}

json_t *
mz__exec_outputs(const json_t *exec)
{
	json_t *out = json_object();
	size_t i;
	json_t *s;
	json_array_foreach(mz__stages(exec), i, s) {
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(s, "outputs"), k, v) {
			json_t *prev = json_object_get(out, k);
			if (json_is_array(prev) && json_is_array(v)) {
				/* lists are concatenated and de-duplicated */
				json_t *merged = json_copy(prev);
				size_t a, c;
				json_t *x, *y;
				json_array_foreach(v, a, x) {
					bool dup = false;
					json_array_foreach(merged, c, y) {
						if (json_equal(x, y)) {
							dup = true;
							break;
						}
					}
					if (!dup)
						json_array_append(merged, x);
				}
				json_object_set_new(out, k, merged);
			} else {
				json_object_set(out, k, v);
			}
		}
	}
	return out;
}

struct lookup_arg {
	const json_t *exec;
	const json_t *stage;
};

static json_t *
lookup_cb(const char *name, void *udata)
{
	struct lookup_arg *a = udata;
	return mz__ancestor_lookup(a->exec, a->stage, name);
}

static bool
skipped_key(const char *k, const char *const *skip)
{
	for (int i = 0; skip && skip[i]; i++)
		if (strcmp(k, skip[i]) == 0)
			return true;
	return false;
}

/* Builds the SpEL root of a stage: its context plus execution, trigger and
 * parameters (reference §7.2). */
json_t *
mz__eval_root(const json_t *exec, const json_t *stage)
{
	json_t *root = json_object();
	json_t *trigger = json_object_get(exec, "trigger");
	json_t *params = json_object_get(trigger, "parameters");
	mz_json_merge(root, json_object_get(stage, "context"));
	json_object_set(root, "execution", (json_t *)exec);
	json_object_set(root, "trigger", trigger ? trigger : json_null());
	json_object_set_new(root, "parameters", params ? json_incref(params) : json_object());
	return root;
}

/* Whether any string (or map key) inside v holds "${": a walk, where
 * serialising v to search the text would allocate on every task run. */
static bool
has_expr(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_string(v))
		return mz_expr_has(json_string_value(v));
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			if (mz_expr_has(k) || has_expr(x))
				return true;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (has_expr(x))
				return true;
		}
	}
	return false;
}

bool
mz__context_evaluates(const json_t *stage, const char *const *skip)
{
	json_t *ctx = json_object_get(stage, "context");
	const char *k;
	json_t *v;
	if (!json_is_object(ctx) || json_object_get(ctx, "expressionEvaluationSummary"))
		return true;
	json_object_foreach(ctx, k, v) {
		if (!skipped_key(k, skip) && has_expr(v))
			return true;
	}
	return false;
}

json_t *
mz__eval_context(const json_t *exec, const json_t *stage, const char *const *skip)
{
	json_t *ctx = json_object_get(stage, "context");
	json_t *out = json_object();
	json_t *summary;
	json_t *root = NULL;
	struct lookup_arg la = {exec, stage};
	mz_expr_env env = {.execution = exec, .stage = stage, .lookup = lookup_cb, .udata = &la};
	const char *k;
	json_t *v;

	summary = json_object();
	json_object_foreach(ctx, k, v) {
		if (strcmp(k, "expressionEvaluationSummary") == 0 || skipped_key(k, skip)) {
			json_object_set(out, k, v);
			continue;
		}
		if (!has_expr(v)) {
			json_object_set(out, k, v);
			continue;
		}
		if (!root)
			root = mz__eval_root(exec, stage);
		/* Evaluate {k: v} so failure descriptions name the field. */
		json_t *wrap = json_pack("{s:O}", k, v);
		json_t *res = mz_expr_process(wrap, root, &env, summary);
		json_t *nv = json_object_get(res, k);
		json_object_set(out, k, nv ? nv : v);
		json_decref(res);
		json_decref(wrap);
	}
	if (json_object_size(summary) > 0)
		json_object_set(out, "expressionEvaluationSummary", summary);
	else
		json_object_del(out, "expressionEvaluationSummary");
	json_decref(summary);
	json_decref(root);
	return out;
}

json_t *
mz__stage_new(const char *type, const char *name, const char *ref_id, json_t *context)
{
	char id[27];
	mz_ulid(id);
	/* direct sets: one per stage of every launch, where json_pack's format
	 * parsing cost more than the object */
	json_t *s = json_object();
	json_object_set_new_nocheck(s, "id", json_string_nocheck(id));
	json_object_set_new_nocheck(s, "type", json_string(type));
	json_object_set_new_nocheck(s, "name", json_string(name ? name : type));
	if (ref_id)
		json_object_set_new_nocheck(s, "refId", json_string(ref_id));
	json_object_set_new_nocheck(s, "status", json_string_nocheck("NOT_STARTED"));
	json_object_set_new_nocheck(s, "context", context ? context : json_object());
	json_object_set_new_nocheck(s, "outputs", json_object());
	json_object_set_new_nocheck(s, "tasks", json_array());
	json_object_set_new_nocheck(s, "requisiteStageRefIds", json_array());
	return s;
}

json_t *
mz__eval_value(const json_t *exec, const json_t *stage, const json_t *root,
               const json_t *value, json_t *summary)
{
	struct lookup_arg la = {exec, stage};
	mz_expr_env env = {.execution = exec, .stage = stage, .lookup = lookup_cb, .udata = &la};
	return mz_expr_process(value, root, &env, summary);
}
