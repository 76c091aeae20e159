/*
 * engine_route.c - several nodes: stages whose tasks keep state on the
 * node that runs them.
 *
 * A build (runJob) is a process tree and a workspace in one node's data
 * directory; a bake is a thread and an image in one node's image store.
 * Their tasks are flagged MZ_TASK_ON_NODE: the first run of such a task
 * in a stage records the node in the stage ("node"), and every later
 * runTask message of the stage's ON_NODE tasks carries the target
 * "node:<id>", which only that node claims (the queue's `target` column,
 * mz_store_set_accept). A task also flagged MZ_TASK_IN_REGION (a bake for
 * one region) is first sent to "region:<its region>", claimed by any node
 * hosting the region, so the image is made where the region's instances
 * run.
 *
 * A node whose target is dead (or a region no live node hosts) would
 * leave its messages unclaimed and nobody would say why: so every node
 * also accepts the targets of dead nodes and of regions nobody hosts; one
 * that claims such a message does not run the task but writes why in the
 * stage context ("waitingForHost", as the cloud's routed operations do)
 * and puts the message back a second later. When the node returns it
 * claims the message and the stage goes on; a cancel does not wait for a
 * dead node.
 *
 * On one node (SQLite) none of this runs: no message has a target.
 */
#include "engine/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_HOST_MS 1000

static bool
listed(const char *list, const char *target)
{
	if (!list || !target || !*target)
		return false;
	size_t n = strlen(target);
	for (const char *p = strstr(list, target); p; p = strstr(p + 1, target))
		if (p > list && p[-1] == ',' && p[n] == ',')
			return true;
	return false;
}

/* The target of the stage's ON_NODE tasks: "node:<id>", "region:<name>",
 * "" (any node, which then holds the stage), or NULL for a task that may
 * run anywhere. New string. */
static char *
task_target(const mz_engine *eng, const json_t *stage, const mz_task_def *def)
{
	if (!eng || !eng->shared || !def || !(def->flags & MZ_TASK_ON_NODE))
		return NULL;
	const char *node = mz_json_str(stage, "node");
	if (node)
		return mz_asprintf("node:%s", node);
	const char *region = mz_json_str(json_object_get(stage, "context"), "region");
	if ((def->flags & MZ_TASK_IN_REGION) && region && !strstr(region, "${"))
		return mz_asprintf("region:%s", region);
	return mz_strdup(""); /* any node: the one that runs it first */
}

void
mz__route_msg(const json_t *stage, const json_t *task, mz_qmsg *msg)
{
	/* the pin is only ever set on a shared store */
	const char *node = mz_json_str(stage, "node");
	if (!node)
		return;
	const mz_task_def *def = mz_engine_task_def(mz_json_str(task, "name"));
	if (def && (def->flags & MZ_TASK_ON_NODE))
		mz__qm_set(msg, "target", json_sprintf("node:%s", node));
}

static char *
snapshot(mz_engine *eng, bool accept)
{
	pthread_mutex_lock(&eng->mu);
	char *s = mz_strdup(accept ? eng->accept : eng->mine);
	pthread_mutex_unlock(&eng->mu);
	return s;
}

/* Why target cannot run now, for the stage context. */
static char *
why_waiting(mz_engine *eng, const char *target)
{
	pthread_mutex_lock(&eng->mu);
	const char *addr = NULL;
	size_t i;
	json_t *n;
	json_array_foreach(eng->nodes, i, n)
		if (strncmp(target, "node:", 5) == 0 && mz_streq(mz_json_str(n, "id"), target + 5))
			addr = mz_json_str(n, "address");
	char *out = strncmp(target, "node:", 5) == 0
		? mz_asprintf("node %s (%s), which holds this stage's work and files, is not "
		              "alive: the stage waits for it to return", target + 5,
		              addr ? addr : "unknown")
		: mz_asprintf("no live node hosts region %s: the stage waits for one (nodes "
		              "host the regions named by --host-regions)", target + 7);
	pthread_mutex_unlock(&eng->mu);
	return out;
}

/* Does some node, alive or dead, host region? (A region no node ever
 * hosted has no one to wait for: its stage runs anywhere.) */
static bool
region_known(mz_engine *eng, const char *region)
{
	bool known = false;
	size_t i, j;
	json_t *n, *r;
	pthread_mutex_lock(&eng->mu);
	json_array_foreach(eng->nodes, i, n)
		json_array_foreach(json_object_get(n, "hostRegions"), j, r)
			known = known || mz_streq(json_string_value(r), region);
	pthread_mutex_unlock(&eng->mu);
	return known;
}

mz_code
mz__route_task(mz_batch *b, json_t *exec, json_t *stage, const mz_qmsg *msg,
               const mz_task_def *def, bool canceling, bool *away)
{
	mz_engine *eng = b->eng;
	mz_code rc = MZ_OK;
	char *target = task_target(eng, stage, def);
	*away = false;
	if (!target)
		return MZ_OK;
	char *mine = snapshot(eng, false);
	char *accept = snapshot(eng, true);
	if (strncmp(target, "region:", 7) == 0 && !listed(mine, target) &&
	    !listed(accept, target) && !region_known(eng, target + 7)) {
		/* The node list kept here is as old as the last heartbeat: a node
		 * that started since (the test's nodes all start at once) is not in
		 * it, and its region would look hosted by nobody and run here. Ask
		 * the store before deciding so. */
		json_t *nodes = NULL;
		mz_err lerr = {0};
		if (mz_node_list(b->st, b->now, MZ_NODE_LEASE_MS, &nodes, &lerr) == MZ_OK) {
			mz__route_update(eng, nodes);
			free(accept);
			accept = snapshot(eng, true);
		}
		json_decref(nodes);
	}
	json_t *ctx = mz__ctx(stage);
	bool dead = !listed(mine, target) && listed(accept, target);
	if (!*target || listed(mine, target) ||
	    (strncmp(target, "region:", 7) == 0 && !dead && !region_known(eng, target + 7))) {
		if (!mz_json_str(stage, "node")) {
			json_object_set_new(stage, "node", json_string(mz_engine_node_id(eng)));
			mz__exec_dirty(b, exec);
		}
		if (json_object_get(ctx, "waitingForHost")) {
			json_object_del(ctx, "waitingForHost");
			mz__exec_dirty(b, exec);
		}
		goto out;
	}
	if (canceling && dead) {
		/* a cancel does not wait for a dead node; what it would have
		 * killed there is killed when the node returns */
		mz_qmsg m = mz__qm_copy(msg);
		mz__qm_set(&m, "target", json_string(target));
		mz__qm_set(&m, "afterCancel", json_true());
		json_t *j = mz__qm_json(&m);
		rc = mz_queue_push(b->st, j, b->now + WAIT_HOST_MS, &b->err);
		json_decref(j);
		mz__qm_release(&m);
		goto out;
	}
	*away = true;
	mz_qmsg m = mz__qm_copy(msg);
	mz__qm_set(&m, "target", json_string(target));
	if (dead && mz_streq(mz__qm_str(msg, "target"), target)) {
		/* claimed because its node is gone: say so, look again later */
		char *why = why_waiting(eng, target);
		if (!mz_streq(mz_json_str(ctx, "waitingForHost"), why)) {
			json_object_set_new(ctx, "waitingForHost", json_string(why));
			mz__exec_dirty(b, exec);
		}
		free(why);
		rc = mz__push(b, m, WAIT_HOST_MS);
	} else {
		/* to its node through the queue (never handled in this batch) */
		json_t *j = mz__qm_json(&m);
		rc = mz_queue_push(b->st, j, b->now, &b->err);
		json_decref(j);
		mz__qm_release(&m);
	}
out:
	free(accept);
	free(mine);
	free(target);
	return rc;
}

mz_code
mz__route_after_cancel(mz_batch *b, json_t *exec, json_t *stage, json_t *task,
                       const mz_qmsg *msg, const mz_task_def *def)
{
	const char *target = mz__qm_str(msg, "target");
	if (!def || !def->on_cancel || !target)
		return MZ_OK;
	char *mine = snapshot(b->eng, false);
	bool here = listed(mine, target);
	free(mine);
	if (!here) /* its node is not back yet: look again later */
		return mz__push(b, mz__qm_copy(msg), WAIT_HOST_MS);
	mz_task_result r = {0};
	mz_task_ctx ctx = {.engine = b->eng, .store = b->st, .execution = exec, .stage = stage,
	                   .task = task, .now = b->now, .internal = b};
	def->on_cancel(&ctx, &r);
	if (r.context) {
		mz_json_merge(mz__ctx(stage), r.context);
		mz__exec_dirty(b, exec);
	}
	json_decref(r.context);
	json_decref(r.outputs);
	mz_info("engine: %s of execution %s canceled on its node after its return",
	        mz_json_str(task, "name"), mz_json_str(exec, "id"));
	return MZ_OK;
}

/* ---- what this node claims ---------------------------------------------- */

void
mz__route_init(mz_engine *eng)
{
	mz_buf b;
	mz_buf_init(&b, 0); /* no limit (the argument is a maximum) */
	mz_buf_printf(&b, ",node:%s,", mz_engine_node_id(eng));
	size_t i;
	json_t *r;
	json_array_foreach(eng->host_regions, i, r)
		if (json_is_string(r))
			mz_buf_printf(&b, "region:%s,", json_string_value(r));
	eng->mine = mz_buf_detach(&b, NULL);
	eng->accept = mz_strdup(eng->mine);
	eng->nodes = json_array();
}

void
mz__route_update(mz_engine *eng, const json_t *nodes)
{
	mz_buf b;
	mz_buf_init(&b, 0); /* no limit (the argument is a maximum) */
	mz_buf_adds(&b, eng->mine);
	json_t *hosted = json_object(); /* regions some live node hosts */
	size_t i, j;
	json_t *n, *r;
	json_array_foreach(nodes, i, n) {
		bool alive = json_is_true(json_object_get(n, "alive"));
		if (!alive && mz_json_str(n, "id") &&
		    !mz_streq(mz_json_str(n, "id"), mz_engine_node_id(eng)))
			mz_buf_printf(&b, "node:%s,", mz_json_str(n, "id"));
		json_array_foreach(json_object_get(n, "hostRegions"), j, r)
			if (alive && json_is_string(r))
				json_object_set_new(hosted, json_string_value(r), json_true());
	}
	/* regions a node hosted once and none hosts now */
	json_array_foreach(nodes, i, n)
		json_array_foreach(json_object_get(n, "hostRegions"), j, r)
			if (json_is_string(r) && !json_object_get(hosted, json_string_value(r))) {
				char *t = mz_asprintf("region:%s", json_string_value(r));
				if (!listed(b.data, t))
					mz_buf_printf(&b, "%s,", t);
				free(t);
			}
	json_decref(hosted);
	char *accept = mz_buf_detach(&b, NULL);
	pthread_mutex_lock(&eng->mu);
	free(eng->accept);
	eng->accept = accept;
	json_decref(eng->nodes);
	eng->nodes = json_deep_copy(nodes);
	pthread_mutex_unlock(&eng->mu);
}

void
mz__route_free(mz_engine *eng)
{
	free(eng->mine);
	free(eng->accept);
	json_decref(eng->nodes);
	eng->mine = eng->accept = NULL;
	eng->nodes = NULL;
}
