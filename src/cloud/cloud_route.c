/*
 * cloud_route.c - several nodes: a cloud task's operation goes into the
 * store (cloud_ops) for a node hosting its region, never to a node
 * directly; and what a monitor task sees of it, including why it cannot
 * progress while no live node can run it. cloud_nodes.c has the node
 * side (claiming, running, writing back, publishing).
 */
#include "cloud/cloud_int.h"
#include "cloud/cloud_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- routing ------------------------------------------------------------ */

static const char *
node_of(const json_t *item)
{
	return mz_json_str(item, "node");
}

static json_t *
find_lb(mz_store *st, const char *name, const char *region, mz_err *err)
{
	json_t *found = NULL;
	if (!name)
		return NULL;
	char *app = mz__cloud_app_of(name);
	json_t *lbs = mz__cloud_lbs(st, app, err);
	size_t i;
	json_t *v;
	json_array_foreach(lbs, i, v)
		if (!found && mz_streq(mz_json_str(v, "name"), name) &&
		    mz_streq(mz_json_str(v, "region"), region))
			found = json_incref(v);
	json_decref(lbs);
	free(app);
	return found;
}

/* The node that must run op because it holds what op names, or NULL (any
 * live node hosting the region). A new string. */
static char *
owner_of(mz_store *st, const char *op, const json_t *d, const char *region, mz_err *err)
{
	const char *account = mz__cloud_account(d);
	const char *name = mz_json_str(d, "serverGroupName");
	json_t *found = NULL;
	char *owner = NULL;
	bool create = mz_streq(op, "createServerGroup") || mz_streq(op, "cloneServerGroup");
	if (!name)
		name = mz_json_str(d, "asgName");
	if (create) {
		json_t *src = json_object_get(d, "source");
		name = mz_json_str(src, "serverGroupName");
		if (!name)
			name = mz_json_str(src, "asgName");
	} else if (mz_streq(op, "rollbackServerGroup")) {
		name = mz_json_str(json_object_get(d, "rollbackContext"), "rollbackServerGroupName");
	}
	if (mz_streq(op, "terminateInstances")) {
		const char *iid = json_string_value(json_array_get(json_object_get(d, "instanceIds"), 0));
		found = iid ? mz__cloud_instance(st, account, region, iid, err) : NULL;
	} else if (mz_streq(op, "upsertLoadBalancer") || mz_streq(op, "deleteLoadBalancer")) {
		const char *lb = mz_json_str(d, "loadBalancerName");
		found = find_lb(st, lb ? lb : mz_json_str(d, "name"), region, err);
	} else if (name) {
		found = mz__cloud_sg(st, account, region, name, err);
	} else if (create) {
		/* a new server group joins its cluster's node, else its load
		 * balancer's: a red/black swaps groups behind one HAProxy */
		char *cluster = mz__cloud_cluster_name(d);
		json_t *groups = cluster ? mz__cloud_cluster_groups(st, account, region, cluster, err)
		                         : NULL;
		found = json_incref(json_array_get(groups, 0));
		json_decref(groups);
		free(cluster);
		const char *lb = json_string_value(json_array_get(json_object_get(d, "loadBalancers"),
		                                                  0));
		if (!found && !err->code)
			found = find_lb(st, lb, region, err);
	}
	if (found && node_of(found))
		owner = mz_strdup(node_of(found));
	json_decref(found);
	return owner;
}

bool
mz__cloud_route(mz_task_ctx *c, mz_task_result *r, const char *op, const json_t *desc,
                const char *key, char out_id[40])
{
	mz_err err = {0};
	const char *region = mz__cloud_region(desc);
	if (!region) {
		mz_task_result_set(r, "TERMINAL", "%s: the operation names no region", op);
		return false;
	}
	if (mz_local_check_location(mz__cloud->local, mz__cloud_account(desc), region, &err)) {
		mz_task_result_set(r, "TERMINAL", "%s", err.msg);
		return false;
	}
	mz_store *st = mz__cloud_store_take(&err);
	char *owner = NULL;
	mz_code rc = st ? MZ_OK : err.code;
	if (st) {
		owner = owner_of(st, op, desc, region, &err);
		rc = err.code;
	}
	/* queued and announced together, or not at all: a store that fails
	 * here leaves nothing behind, and the task tries again */
	if (rc == MZ_OK)
		rc = mz_store_begin(st, &err);
	if (rc == MZ_OK) {
		char id[27];
		mz_ulid(id);
		rc = mz_cloudop_add(st, id, key, region, owner, op, desc, mz_now_ms(), out_id, &err);
		if (rc == MZ_OK)
			rc = mz_store_notify(st, MZ_CLOUD_CHANNEL, region, &err);
		if (rc == MZ_OK)
			rc = mz_store_commit(st, &err);
		else
			mz_store_rollback(st);
	}
	mz__cloud_store_give(st);
	if (rc) {
		json_object_set_new(mz_task_result_context(r), "waitingFor",
		                    json_pack("s+", "the store, to queue the operation: ", err.msg));
		r->status = "RUNNING";
		r->backoff_ms = 1000;
		free(owner);
		return false;
	}
	mz_debug("cloud: %s in %s queued as %s%s%s", op, region, out_id,
	         owner ? " for node " : "", owner ? owner : "");
	free(owner);
	return true;
}

/* ---- what a routed operation's monitor sees ------------------------------ */

static const json_t *
find_node(const json_t *nodes, const char *id)
{
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
		if (mz_streq(mz_json_str(n, "id"), id))
			return n;
	return NULL;
}

static bool
node_hosts(const json_t *node, const char *region)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(node, "hostRegions"), i, r)
		if (mz_streq(json_string_value(r), region))
			return true;
	return false;
}

json_t *
mz__cloud_routed_task(mz_store *st, const char *id, char *waiting, size_t n, mz_err *err)
{
	json_t *op = NULL, *nodes = NULL, *task = NULL;
	bool pooled = !st;
	waiting[0] = '\0';
	if (pooled && !(st = mz__cloud_store_take(err)))
		return NULL;
	mz_code rc = mz_cloudop_get(st, id, &op, err);
	if (rc == MZ_ENOTFOUND) {
		mz_err_clear(err);
		goto out;
	}
	if (rc)
		goto out;
	const char *state = mz_json_str(op, "state");
	const char *region = mz_json_str(op, "region");
	const char *target = mz_json_str(op, "node");
	const char *claimer = mz_json_str(op, "claimedBy");
	if (!mz_streq(state, "done")) {
		if (mz_node_list(st, mz_now_ms(), MZ_NODE_LEASE_MS, &nodes, err))
			goto out;
		const json_t *who = claimer ? find_node(nodes, claimer)
		                    : target ? find_node(nodes, target) : NULL;
		bool alive = false;
		size_t i;
		json_t *nd;
		if (claimer || target) {
			alive = json_is_true(json_object_get(who, "alive"));
		} else {
			json_array_foreach(nodes, i, nd)
				alive = alive || (json_is_true(json_object_get(nd, "alive")) &&
				                  node_hosts(nd, region));
		}
		if (!alive && (claimer || target))
			snprintf(waiting, n, "node %s (%s), which %s in region %s, is not alive: "
			         "the operation waits for it to return", claimer ? claimer : target,
			         mz_json_str(who, "address") ? mz_json_str(who, "address") : "unknown",
			         claimer ? "runs this operation" : "runs what it acts on", region);
		else if (!alive)
			snprintf(waiting, n, "no live node hosts region %s: the operation waits for "
			         "one (nodes host the regions named by --host-regions)", region);
	}
	task = json_object_get(op, "task");
	if (json_is_object(task)) {
		task = json_incref(task);
	} else {
		char status[160];
		snprintf(status, sizeof(status), "Queued for a node hosting region %s", region);
		task = json_pack("{s:s, s:{s:s, s:s, s:b, s:b, s:b, s:b}, s:[{s:s, s:s}], s:[]}",
		                 "id", id, "status", "phase", "QUEUED", "status", status,
		                 "complete", 0, "completed", 0, "failed", 0, "retryable", 0,
		                 "history", "phase", "QUEUED", "status", status, "resultObjects");
	}
out:
	json_decref(op);
	json_decref(nodes);
	if (pooled)
		mz__cloud_store_give(st);
	return task;
}

bool
mz__cloud_nodes_down(mz_store *st, const json_t *node_ids, char *why, size_t n, mz_err *err)
{
	json_t *nodes = NULL;
	size_t i;
	json_t *id;
	why[0] = '\0';
	if (json_array_size(node_ids) == 0)
		return true;
	if (mz_node_list(st, mz_now_ms(), MZ_NODE_LEASE_MS, &nodes, err))
		return false;
	json_array_foreach(node_ids, i, id) {
		const json_t *nd = json_is_string(id) ? find_node(nodes, json_string_value(id)) : NULL;
		if (nd && !json_is_true(json_object_get(nd, "alive"))) {
			snprintf(why, n, "node %s (%s), which runs the server group, is not alive: "
			         "waiting for it to return", json_string_value(id),
			         mz_json_str(nd, "address") ? mz_json_str(nd, "address") : "unknown");
			break;
		}
	}
	json_decref(nodes);
	return true;
}
