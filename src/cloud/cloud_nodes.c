/*
 * cloud_nodes.c - the local cloud of several nodes sharing PostgreSQL.
 *
 * A node runs the instances and HAProxy of the regions it hosts
 * (--host-regions). Nodes never call each other: everything goes through
 * the store.
 *
 *  - Routing. A cloud task (createServerGroup, disableServerGroup, ...)
 *    does not call the provider: it queues the operation in cloud_ops with
 *    its region, under the engine's idempotency key (a replay queues
 *    nothing), and NOTIFYs mz_cloud. An operation that names something a
 *    node already runs (a server group, its cluster, a load balancer) is
 *    addressed to that node, since only it can act on it; any other goes
 *    to whichever live node hosting the region claims it first.
 *  - Running. Each node's runner thread claims the queued operations it
 *    may run, submits them to its own provider with the operation's id as
 *    Clouddriver's client request id (so a node that restarts resubmits
 *    its claimed operations and finds the tasks it had started), and
 *    writes each task back into the row as it progresses.
 *  - Publishing. The same thread publishes this node's server groups and
 *    load balancers into cloud_state whenever they change, in the same
 *    transaction as the task updates and read after the tasks: whoever
 *    sees an operation completed sees the cloud as it was at least then.
 *  - Waiting. A monitor task on any node reads the row; while no live
 *    node can run the operation (none hosts the region, or the node that
 *    holds its server group or claimed it is dead) it says so in the
 *    stage context ("waitingForHost") and keeps polling, and the
 *    operation goes on when such a node returns.
 *
 * None of this runs on SQLite (one node): its cloud tasks call the
 * provider directly, as they always did.
 */
#include "cloud/cloud_int.h"
#include "cloud/cloud_ops.h"
#include "engine/engine_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* This node's cloud is compared with what it published every pass (in
 * memory: the store is written only when something changed), so others
 * see an instance Up within about this of this node. */
#define PASS_MS 100
/* Queued operations are claimed when a NOTIFY says one was queued, and
 * at least this often in case a notification was missed. */
#define CLAIM_POLL_MS 2000
#define POOL_MAX 4
#define CLAIM_BATCH 32

struct mz_cloud_node {
	char *db_url;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	/* runner thread only */
	json_t *published; /* "kind|key" -> the body as stored */
	json_t *tracked;   /* op id -> {"local": task id} or {"task": a failed task} */
	json_t *written;   /* op id -> the task text last written back */
	bool fresh;        /* nothing published since start: clear the old first */
	mz_log_limit log;
	/* connections for reads and routing outside any transaction */
	pthread_mutex_t pool_mu;
	mz_store *pool[POOL_MAX];
	int npool;
};

bool
mz__cloud_hosts(const char *region)
{
	size_t i;
	json_t *r;
	if (!mz__cloud || !region)
		return false;
	json_array_foreach(mz__cloud->host_regions, i, r)
		if (mz_streq(json_string_value(r), region))
			return true;
	return false;
}

/* ---- connections -------------------------------------------------------- */

mz_store *
mz__cloud_store_take(mz_err *err)
{
	mz_cloud_node *n = mz__cloud ? mz__cloud->node : NULL;
	mz_store *st = NULL;
	if (!n) {
		mz_fail(err, MZ_EINVAL, "the cloud has no store");
		return NULL;
	}
	pthread_mutex_lock(&n->pool_mu);
	if (n->npool > 0)
		st = n->pool[--n->npool];
	pthread_mutex_unlock(&n->pool_mu);
	if (!st && mz_store_open(n->db_url, &st, err) != MZ_OK)
		return NULL;
	return st;
}

void
mz__cloud_store_give(mz_store *st)
{
	mz_cloud_node *n = mz__cloud ? mz__cloud->node : NULL;
	if (!st)
		return;
	if (n) {
		pthread_mutex_lock(&n->pool_mu);
		if (n->npool < POOL_MAX) {
			n->pool[n->npool++] = st;
			st = NULL;
		}
		pthread_mutex_unlock(&n->pool_mu);
	}
	mz_store_close(st);
}

/* ---- the runner: claiming, running, writing back, publishing -------------- */

static json_t *
failed_task(const char *id, const char *op, const char *msg)
{
	return json_pack("{s:s, s:{s:s, s:s, s:b, s:b, s:b, s:b}, s:[{s:s, s:s}], "
	                 "s:[{s:s, s:s, s:s}]}", "id", id, "status", "phase", "ORCHESTRATION",
	                 "status", msg, "complete", 1, "completed", 1, "failed", 1, "retryable", 0,
	                 "history", "phase", "ORCHESTRATION", "status", msg, "resultObjects",
	                 "type", "EXCEPTION", "message", msg, "operation", op);
}

/* Hands a claimed operation to this node's provider. Its id is the client
 * request id, so a resubmission after a restart finds the task it made. */
static void
start_op(mz_cloud *c, const json_t *op)
{
	const char *id = mz_json_str(op, "id");
	const char *name = mz_json_str(op, "op");
	char tid[40];
	mz_err err = {0};
	mz_code rc = MZ_OK;
	const char *image = mz_json_str(json_object_get(op, "description"), "image");
	/* an image another node baked: imported from the database first */
	if ((mz_streq(name, "createServerGroup") || mz_streq(name, "cloneServerGroup")) && image)
		rc = mz__cloud_image_fetch(c, image, &err);
	if (rc == MZ_OK)
		rc = mz_local_submit(c->local, name, json_object_get(op, "description"), id, tid,
		                     &err);
	if (rc) {
		mz_warn("cloud: %s %s refused: %s", name, id, err.msg);
		json_object_set_new(c->node->tracked, id,
		                    json_pack("{s:o}", "task", failed_task(id, name, err.msg[0] ? err.msg
		                                                      : mz_code_name(rc))));
		return;
	}
	mz_info("cloud: running %s %s in %s (provider task %s)", name, id,
	        mz_json_str(op, "region"), tid);
	json_object_set_new(c->node->tracked, id, json_pack("{s:s}", "local", tid));
}

static mz_code
resume(mz_cloud *c, mz_store *st, mz_err *err)
{
	json_t *ops = NULL;
	mz_code rc = mz_cloudop_running(st, c->node_id, &ops, err);
	size_t i;
	json_t *op;
	json_array_foreach(ops, i, op)
		if (!json_object_get(c->node->tracked, mz_json_str(op, "id")))
			start_op(c, op);
	json_decref(ops);
	return rc;
}

static mz_code
claim(mz_cloud *c, mz_store *st, mz_err *err)
{
	json_t *queued = NULL;
	mz_code rc = mz_cloudop_queued(st, CLAIM_BATCH, &queued, err);
	size_t i;
	json_t *q;
	json_array_foreach(queued, i, q) {
		const char *id = mz_json_str(q, "id");
		const char *target = mz_json_str(q, "node");
		if (target ? !mz_streq(target, c->node_id) : !mz__cloud_hosts(mz_json_str(q, "region")))
			continue;
		bool mine = false;
		json_t *op = NULL;
		if ((rc = mz_cloudop_claim(st, id, c->node_id, mz_now_ms(), &mine, err)) != MZ_OK)
			break;
		if (!mine)
			continue; /* another node hosting the region was first */
		if ((rc = mz_cloudop_get(st, id, &op, err)) != MZ_OK)
			break;
		start_op(c, op);
		json_decref(op);
	}
	json_decref(queued);
	return rc;
}

static char *
dump_sorted(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

static void
add_item(json_t *out, const char *kind, const json_t *v, const char *app)
{
	char *key = mz_asprintf("%s/%s/%s", mz_json_str(v, "account"), mz_json_str(v, "region"),
	                        mz_json_str(v, "name"));
	char *k = mz_asprintf("%s|%s", kind, key);
	char *body = dump_sorted(v);
	json_object_set_new(out, k, json_pack("{s:s, s:s, s:s?, s:s}", "kind", kind, "key", key,
	                                      "app", app, "body", body));
	free(body);
	free(k);
	free(key);
}

/* This node's cloud, as published: "kind|key" -> {kind, key, app, body}. */
static json_t *
current_state(mz_cloud *c)
{
	json_t *out = json_object();
	json_t *sgs = mz_local_server_groups(c->local, NULL);
	json_t *lbs = mz_local_load_balancers(c->local, NULL);
	size_t i;
	json_t *v;
	json_array_foreach(sgs, i, v) {
		mz__cloud_tag_sg(v, c->node_id);
		add_item(out, "sg", v, mz_json_str(v, "application"));
	}
	json_array_foreach(lbs, i, v) {
		mz__cloud_tag_lb(v, c->node_id);
		add_item(out, "lb", v, mz_json_str(json_object_get(v, "moniker"), "app"));
	}
	json_decref(sgs);
	json_decref(lbs);
	return out;
}

/* Writes back what changed: the tasks of this node's operations (read
 * first) and then its cloud, in one transaction. */
static void
publish(mz_cloud *c, mz_store *st)
{
	mz_cloud_node *n = c->node;
	mz_err err = {0};
	json_t *tasks = json_object();
	const char *id;
	json_t *t;
	json_object_foreach(n->tracked, id, t) {
		json_t *task = json_object_get(t, "task") ? json_deep_copy(json_object_get(t, "task"))
		                                          : mz_local_task(c->local,
		                                                          mz_json_str(t, "local"));
		if (!task)
			continue;
		json_object_set_new(task, "id", json_string(id));
		json_object_set_new(task, "node", json_string(c->node_id));
		json_object_set_new(tasks, id, task);
	}
	json_t *state = current_state(c);
	bool began = false;
	mz_code rc = MZ_OK;
	int64_t now = mz_now_ms();
	json_t *written = json_object(); /* op id -> text, for this pass */
	const char *k;
	json_t *v;

#define BEGIN()                                                                            \
	do {                                                                               \
		if (!began && rc == MZ_OK) {                                                  \
			rc = mz_store_begin(st, &err);                                        \
			began = rc == MZ_OK;                                                  \
		}                                                                          \
	} while (0)

	if (n->fresh) {
		BEGIN();
		if (rc == MZ_OK)
			rc = mz_cloudstate_clear(st, c->node_id, &err);
	}
	json_object_foreach(state, k, v) {
		const char *body = mz_json_str(v, "body");
		if (rc || (!n->fresh && mz_streq(mz_json_str(n->published, k), body)))
			continue;
		BEGIN();
		if (rc == MZ_OK)
			rc = mz_cloudstate_put(st, c->node_id, mz_json_str(v, "kind"), mz_json_str(v, "key"),
			                       mz_json_str(v, "app"), body, now, &err);
	}
	json_object_foreach(n->published, k, v) {
		if (rc || n->fresh || json_object_get(state, k))
			continue;
		const char *bar = strchr(k, '|');
		char kind[8];
		snprintf(kind, sizeof(kind), "%.*s", (int)(bar - k), k);
		BEGIN();
		if (rc == MZ_OK)
			rc = mz_cloudstate_put(st, c->node_id, kind, bar + 1, NULL, NULL, now, &err);
	}
	json_object_foreach(tasks, k, v) {
		char *text = dump_sorted(v);
		bool done = json_is_true(json_object_get(json_object_get(v, "status"), "completed"));
		if (rc == MZ_OK && !mz_streq(mz_json_str(n->written, k), text)) {
			BEGIN();
			if (rc == MZ_OK)
				rc = mz_cloudop_update(st, k, c->node_id, v, done, now, &err);
		}
		json_object_set_new(written, k, json_pack("{s:s, s:b}", "text", text, "done", done));
		free(text);
	}
#undef BEGIN
	if (began && rc == MZ_OK)
		rc = mz_store_commit(st, &err);
	else if (began)
		mz_store_rollback(st);
	if (rc == MZ_OK) {
		/* stored: remember it, and forget the operations that finished */
		json_t *pub = json_object();
		json_object_foreach(state, k, v)
			json_object_set(pub, k, json_object_get(v, "body"));
		json_decref(n->published);
		n->published = pub;
		n->fresh = false;
		json_object_foreach(written, k, v) {
			if (json_is_true(json_object_get(v, "done"))) {
				json_object_del(n->tracked, k);
				json_object_del(n->written, k);
				mz_info("cloud: operation %s finished", k);
			} else {
				json_object_set(n->written, k, json_object_get(v, "text"));
			}
		}
	} else {
		long held = 0;
		if (mz_log_allow(&n->log, 30000, &held))
			mz_warn("cloud: cannot publish this node's cloud: %s", err.msg);
	}
	json_decref(written);
	json_decref(tasks);
	json_decref(state);
}

static bool
stopping(mz_cloud_node *n)
{
	pthread_mutex_lock(&n->mu);
	bool s = n->stopping;
	pthread_mutex_unlock(&n->mu);
	return s;
}

static void
sleep_or_stop(mz_cloud_node *n, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ns = ts.tv_nsec + (int64_t)ms * 1000000LL;
	ts.tv_sec += ns / 1000000000LL;
	ts.tv_nsec = ns % 1000000000LL;
	pthread_mutex_lock(&n->mu);
	while (!n->stopping)
		if (pthread_cond_timedwait(&n->cv, &n->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&n->mu);
}

static void *
runner_main(void *arg)
{
	mz_cloud *c = arg;
	mz_cloud_node *n = c->node;
	mz_store *st = NULL, *ears = NULL;
	bool resumed = false, heard = true;
	int64_t claim_due = 0;
	while (!stopping(n)) {
		mz_err err = {0};
		long held = 0;
		if (!st && mz_store_open(n->db_url, &st, &err) != MZ_OK) {
			st = NULL;
			if (mz_log_allow(&n->log, 30000, &held))
				mz_warn("cloud: cannot open the store: %s", err.msg);
			sleep_or_stop(n, 1000);
			continue;
		}
		if (!ears && (mz_store_open(n->db_url, &ears, &err) != MZ_OK ||
		              mz_store_listen(ears, MZ_CLOUD_CHANNEL, &err) != MZ_OK)) {
			mz_store_close(ears);
			ears = NULL; /* polled meanwhile */
		}
		if (!resumed)
			resumed = resume(c, st, &err) == MZ_OK;
		if (resumed && (heard || mz_now_ms() >= claim_due)) {
			if (claim(c, st, &err) != MZ_OK && mz_log_allow(&n->log, 30000, &held))
				mz_warn("cloud: cannot claim operations: %s", err.msg);
			claim_due = mz_now_ms() + CLAIM_POLL_MS;
		}
		publish(c, st);
		char *payload = NULL;
		heard = false;
		if (!ears) {
			sleep_or_stop(n, PASS_MS);
			heard = true; /* no notifications: poll */
		} else if (mz_store_wait_notification(ears, PASS_MS, &payload, &err) != MZ_OK) {
			mz_store_close(ears);
			ears = NULL;
		}
		heard = heard || payload;
		free(payload);
	}
	mz_store_close(ears);
	mz_store_close(st);
	return NULL;
}

mz_code
mz__cloud_nodes_start(mz_cloud *c, const char *db_url, mz_err *err)
{
	c->shared = mz_store_url_shared(db_url);
	if (!c->shared)
		return MZ_OK;
	mz_cloud_node *n = calloc(1, sizeof(*n));
	n->db_url = mz_strdup(db_url);
	n->published = json_object();
	n->tracked = json_object();
	n->written = json_object();
	n->fresh = true;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	pthread_mutex_init(&n->pool_mu, NULL);
	c->node = n;
	if (pthread_create(&n->thread, NULL, runner_main, c) != 0)
		return mz_fail(err, MZ_EIO, "cannot start the cloud's node thread");
	n->started = true;
	char *regions = mz_json_dump(c->host_regions);
	mz_info("cloud: node %s runs the cloud operations of the regions %s", c->node_id, regions);
	free(regions);
	return MZ_OK;
}

void
mz__cloud_nodes_stop(mz_cloud *c)
{
	mz_cloud_node *n = c ? c->node : NULL;
	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_cond_broadcast(&n->cv);
	pthread_mutex_unlock(&n->mu);
	if (n->started)
		pthread_join(n->thread, NULL);
	for (int i = 0; i < n->npool; i++)
		mz_store_close(n->pool[i]);
	json_decref(n->published);
	json_decref(n->tracked);
	json_decref(n->written);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->pool_mu);
	free(n->db_url);
	free(n);
	c->node = NULL;
}
