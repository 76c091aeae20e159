/* cloud_view.c - the whole cloud as one node sees it: the server groups,
 * instances and load balancers of its own provider, read live, and, when
 * several nodes share PostgreSQL, those the other nodes published in the
 * store (cloud_nodes.c publishes this node's). Every item names the node
 * that runs it ("node"). Every read of the cloud model - the API's and the
 * tasks' - goes through here, so a deploy's wait on node 3 sees instances
 * that node 1 runs. On one node (SQLite) nothing here touches the store. */
#include "cloud/cloud_int.h"
#include "cloud/cloud_ops.h"
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

static const char *
self_id(void)
{
	return mz__cloud && mz__cloud->node_id ? mz__cloud->node_id : "local";
}

void
mz__cloud_tag_sg(json_t *sg, const char *node)
{
	size_t i;
	json_t *in;
	json_object_set_new(sg, "node", json_string(node));
	json_array_foreach(json_object_get(sg, "instances"), i, in)
		json_object_set_new(in, "node", json_string(node));
}

void
mz__cloud_tag_lb(json_t *lb, const char *node)
{
	size_t i;
	json_t *sg;
	json_object_set_new(lb, "node", json_string(node));
	json_array_foreach(json_object_get(lb, "serverGroups"), i, sg)
		mz__cloud_tag_sg(sg, node);
}

/* The items of kind the other nodes published (bodies, new references),
 * appended to out. False with err set when the store failed. */
static bool
remote_items(mz_store *st, const char *kind, const char *app, json_t *out, mz_err *err)
{
	if (!mz__cloud || !mz__cloud->shared)
		return true;
	bool pooled = !st;
	if (pooled && !(st = mz__cloud_store_take(err)))
		return false;
	json_t *items = NULL;
	mz_code rc = mz_cloudstate_list(st, kind, app, self_id(), &items, err);
	if (pooled)
		mz__cloud_store_give(st);
	if (rc)
		return false;
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
		json_array_append(out, json_object_get(it, "body"));
	json_decref(items);
	return true;
}

static int
cmp_created(const void *a, const void *b)
{
	int64_t x = mz_json_int(*(json_t *const *)a, "createdTime", 0);
	int64_t y = mz_json_int(*(json_t *const *)b, "createdTime", 0);
	if (x != y)
		return x < y ? -1 : 1;
	const char *nx = mz_json_str(*(json_t *const *)a, "name");
	const char *ny = mz_json_str(*(json_t *const *)b, "name");
	return strcmp(nx ? nx : "", ny ? ny : "");
}

static void
sort_by(json_t *arr, int (*cmp)(const void *, const void *))
{
	size_t n = json_array_size(arr);
	if (n < 2)
		return;
	json_t **v = malloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), cmp);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

json_t *
mz__cloud_sgs(mz_store *st, const char *app, mz_err *err)
{
	json_t *all = mz__cloud ? mz_local_server_groups(mz__cloud->local, app) : json_array();
	size_t i;
	json_t *sg;
	json_array_foreach(all, i, sg)
		mz__cloud_tag_sg(sg, self_id());
	size_t own = json_array_size(all);
	if (remote_items(st, "sg", app, all, err) && json_array_size(all) > own)
		sort_by(all, cmp_created); /* oldest first, as the provider lists them */
	return all;
}

static bool
same_place(const json_t *item, const char *account, const char *region)
{
	return (!account || mz_streq(mz_json_str(item, "account"), account)) &&
	       (!region || mz_streq(mz_json_str(item, "region"), region));
}

json_t *
mz__cloud_sg(mz_store *st, const char *account, const char *region, const char *name,
             mz_err *err)
{
	json_t *sg = mz__cloud ? mz_local_server_group(mz__cloud->local, account, region, name)
	                       : NULL;
	if (sg) {
		mz__cloud_tag_sg(sg, self_id());
		return sg;
	}
	if (!mz__cloud || !mz__cloud->shared || !name)
		return NULL;
	char *app = mz__cloud_app_of(name);
	json_t *remote = json_array();
	size_t i;
	json_t *it;
	if (remote_items(st, "sg", app, remote, err)) {
		json_array_foreach(remote, i, it) {
			if (mz_streq(mz_json_str(it, "name"), name) && same_place(it, account, region)) {
				sg = json_incref(it);
				break;
			}
		}
	}
	json_decref(remote);
	free(app);
	return sg;
}

json_t *
mz__cloud_lbs(mz_store *st, const char *app, mz_err *err)
{
	json_t *all = mz__cloud ? mz_local_load_balancers(mz__cloud->local, app) : json_array();
	size_t i;
	json_t *lb;
	json_array_foreach(all, i, lb)
		mz__cloud_tag_lb(lb, self_id());
	remote_items(st, "lb", app, all, err);
	return all;
}

json_t *
mz__cloud_instance(mz_store *st, const char *account, const char *region, const char *id,
                   mz_err *err)
{
	json_t *in = mz__cloud ? mz_local_instance(mz__cloud->local, account, region, id) : NULL;
	if (in) {
		json_object_set_new(in, "node", json_string(self_id()));
		return in;
	}
	if (!mz__cloud || !mz__cloud->shared || !id)
		return NULL;
	/* an instance id is its server group's name and an index */
	char *app = mz__cloud_app_of(id);
	json_t *remote = json_array();
	size_t i, j;
	json_t *sg, *iv;
	if (remote_items(st, "sg", app, remote, err)) {
		json_array_foreach(remote, i, sg) {
			if (in || !same_place(sg, account, region))
				continue;
			json_array_foreach(json_object_get(sg, "instances"), j, iv) {
				if (!mz_streq(mz_json_str(iv, "id"), id))
					continue;
				in = json_deep_copy(iv);
				json_object_set(in, "serverGroup", json_object_get(sg, "name"));
				json_object_set(in, "account", json_object_get(sg, "account"));
				json_object_set(in, "region", json_object_get(sg, "region"));
				break;
			}
		}
	}
	json_decref(remote);
	free(app);
	return in;
}

char *
mz__cloud_console(const char *account, const char *region, const char *id, size_t max)
{
	char *text = mz__cloud ? mz_local_console(mz__cloud->local, account, region, id, max)
	                       : NULL;
	if (text || !mz__cloud || !mz__cloud->shared)
		return text;
	mz_err err = {0};
	json_t *in = mz__cloud_instance(NULL, account, region, id, &err);
	if (in)
		text = mz_asprintf("(instance %s runs on node %s: its console log is in that node's "
		                   "data directory, cloud/instances/%s/console.log)\n", id,
		                   mz_json_str(in, "node") ? mz_json_str(in, "node") : "?", id);
	json_decref(in);
	return text;
}

/* ---- reads for tasks ------------------------------------------------------ */

/* A store failure while a task reads the cloud: inside the engine's batch
 * the batch is rolled back and retried (PostgreSQL has aborted the
 * transaction anyway); outside (an EXTERNAL task) the task runs again a
 * second later. Nothing is decided on a partial view of the cloud. */
static void
read_failed(mz_task_ctx *c, mz_task_result *r, const mz_err *err)
{
	if (c->internal) {
		((mz_batch *)c->internal)->err = *err;
		r->status = "TERMINAL"; /* never applied: the batch rolls back */
		return;
	}
	json_object_set_new(mz_task_result_context(r), "waitingFor",
	                    json_string("the store (reading the cloud of the other nodes)"));
	r->status = "RUNNING";
	r->backoff_ms = 1000;
}

bool
mz__cloud_read_sg(mz_task_ctx *c, mz_task_result *r, const char *account, const char *region,
                  const char *name, json_t **sg)
{
	mz_err err = {0};
	*sg = mz__cloud_sg(c->store, account, region, name, &err);
	if (err.code) {
		json_decref(*sg);
		*sg = NULL;
		read_failed(c, r, &err);
		return false;
	}
	return true;
}

bool
mz__cloud_read_cluster(mz_task_ctx *c, mz_task_result *r, const char *account,
                       const char *region, const char *cluster, json_t **groups)
{
	mz_err err = {0};
	*groups = mz__cloud_cluster_groups(c->store, account, region, cluster, &err);
	if (err.code) {
		json_decref(*groups);
		*groups = NULL;
		read_failed(c, r, &err);
		return false;
	}
	return true;
}
