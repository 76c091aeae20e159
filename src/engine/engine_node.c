/*
 * engine_node.c - this server as one node of several sharing a store.
 *
 * A node heart-beats into the store's node registry every second; one not
 * seen for MZ_NODE_LEASE_MS is dead, and any live node then makes the
 * messages it claimed (external calls in flight, under a 60 s lease) due
 * at once, so its work goes on elsewhere within seconds. The external call
 * may repeat, with the same idempotency key, exactly as after a restart.
 *
 * Execution changes reach the other nodes' listeners (the event stream)
 * through PostgreSQL's NOTIFY, sent inside the changing transaction and so
 * delivered only if it commits: a thread LISTENs, loads each changed
 * execution and hands it to this node's listener.
 */
#include "engine/artifacts.h"
#include "engine/engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEARTBEAT_MS 1000
#define NOTIFY_CHANNEL "mz_exec"
#define NOTIFY_MAX 7800 /* PostgreSQL's payload limit is 8000 bytes */

const char *
mz_engine_node_id(const mz_engine *eng)
{
	return eng && eng->node_id[0] ? eng->node_id : "local";
}

bool
mz_engine_lease(mz_engine *eng, mz_store *st, const char *name, int64_t ttl_ms)
{
	if (!mz_store_shared(st))
		return true;
	bool held = false;
	mz_err err = {0};
	if (mz_lease_take(st, name, mz_engine_node_id(eng), mz_now_ms(), ttl_ms, &held, &err))
		mz_warn("engine: lease %s: %s", name, err.msg);
	return held;
}

/* ---- telling the other nodes -------------------------------------------- */

static mz_code
send_ids(mz_engine *eng, mz_store *st, mz_buf *payload, mz_err *err)
{
	mz_code rc = mz_store_notify(st, NOTIFY_CHANNEL, payload->data, err);
	mz_buf_reset(payload);
	mz_buf_printf(payload, "%s|", mz_engine_node_id(eng));
	return rc;
}

mz_code
mz__notify_remote(mz_engine *eng, mz_batch *b)
{
	if (!eng || !eng->shared)
		return MZ_OK;
	mz_buf payload;
	mz_code rc = MZ_OK;
	bool any = false;
	/* the argument is the buffer's maximum: NOTIFY_MAX bounds what is
	 * sent, and an add past the maximum would drop ids silently */
	mz_buf_init(&payload, NOTIFY_MAX + 64);
	mz_buf_printf(&payload, "%s|", mz_engine_node_id(eng));
	size_t head = payload.len;
	for (int i = 0; rc == MZ_OK && i < b->ncache; i++) {
		if (!b->cache[i].changed)
			continue;
		if (payload.len + strlen(b->cache[i].id) + 1 > NOTIFY_MAX)
			rc = send_ids(eng, b->st, &payload, &b->err);
		if (payload.len > head)
			mz_buf_adds(&payload, ",");
		mz_buf_adds(&payload, b->cache[i].id);
		any = true;
	}
	if (rc == MZ_OK && any && payload.len > head)
		rc = mz_store_notify(b->st, NOTIFY_CHANNEL, payload.data, &b->err);
	mz_buf_release(&payload);
	return rc;
}

/* ---- hearing the other nodes -------------------------------------------- */

static bool
stopping(mz_engine *eng)
{
	pthread_mutex_lock(&eng->mu);
	bool stop = eng->stopping;
	pthread_mutex_unlock(&eng->mu);
	return stop;
}

static void
deliver(mz_engine *eng, mz_store *st, const char *payload)
{
	const char *bar = strchr(payload, '|');
	if (!bar)
		return;
	size_t nlen = (size_t)(bar - payload);
	if (nlen == strlen(mz_engine_node_id(eng)) &&
	    strncmp(payload, mz_engine_node_id(eng), nlen) == 0)
		return; /* this node's own change: its listener heard it already */
	pthread_mutex_lock(&eng->mu);
	mz_exec_listener fn = eng->listener;
	void *udata = eng->listener_data;
	pthread_mutex_unlock(&eng->mu);
	if (!fn)
		return;
	char *ids = mz_strdup(bar + 1), *save = NULL;
	for (char *id = strtok_r(ids, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		json_t *exec = NULL;
		mz_err err = {0};
		if (mz_exec_get(st, id, &exec, &err) == MZ_OK) {
			fn(exec, udata);
			json_decref(exec);
		}
	}
	free(ids);
}

static void *
remote_main(void *arg)
{
	mz_engine *eng = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	while (!stopping(eng)) {
		if (!st) {
			if (mz_store_open(eng->db_url, &st, &err) != MZ_OK ||
			    mz_store_listen(st, NOTIFY_CHANNEL, &err) != MZ_OK) {
				mz_warn("engine: cannot listen for other nodes' changes: %s", err.msg);
				mz_store_close(st);
				st = NULL;
				struct timespec ts = {.tv_sec = 1};
				nanosleep(&ts, NULL);
				continue;
			}
		}
		char *payload = NULL;
		if (mz_store_wait_notification(st, 250, &payload, &err) != MZ_OK) {
			/* the connection went: open a new one (changes made
			 * meanwhile are not replayed; the UI re-reads on reconnect) */
			mz_warn("engine: lost the notification connection: %s", err.msg);
			mz_store_close(st);
			st = NULL;
			continue;
		}
		if (payload) {
			deliver(eng, st, payload);
			free(payload);
		}
	}
	mz_store_close(st);
	return NULL;
}

/* ---- the heartbeat ------------------------------------------------------ */

static void
sleep_or_stop(mz_engine *eng, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ns = ts.tv_nsec + ms * 1000000LL;
	ts.tv_sec += ns / 1000000000LL;
	ts.tv_nsec = ns % 1000000000LL;
	pthread_mutex_lock(&eng->mu);
	while (!eng->stopping)
		if (pthread_cond_timedwait(&eng->cv, &eng->mu, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&eng->mu);
}

/* Takes back what dead nodes held. Every live node does it: the update is
 * idempotent, and the first to see a node dead wins. */
static void
take_over_dead(mz_engine *eng, mz_store *st, int64_t now)
{
	json_t *nodes = NULL;
	mz_err err = {0};
	if (mz_node_list(st, now, MZ_NODE_LEASE_MS, &nodes, &err) != MZ_OK) {
		mz_warn("engine: cannot list nodes: %s", err.msg);
		return;
	}
	mz__route_update(eng, nodes);
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n) {
		const char *id = mz_json_str(n, "id");
		if (!id || json_is_true(json_object_get(n, "alive")) ||
		    strcmp(id, mz_engine_node_id(eng)) == 0)
			continue;
		int released = 0;
		if (mz_queue_release_node(st, id, now, &released, &err) != MZ_OK) {
			mz_warn("engine: cannot take over node %s's messages: %s", id, err.msg);
			continue;
		}
		if (released > 0) {
			mz_warn("engine: node %s is dead (last seen %lld ms ago): %d of its messages "
			        "taken back", id, (long long)(now - mz_json_int(n, "lastSeen", 0)),
			        released);
			mz_engine_wake(eng);
		}
	}
	json_decref(nodes);
}

static void *
node_main(void *arg)
{
	mz_engine *eng = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	while (!stopping(eng)) {
		if (!st && mz_store_open(eng->db_url, &st, &err) != MZ_OK) {
			mz_warn("engine: node heartbeat: %s", err.msg);
			st = NULL;
		}
		if (st) {
			int64_t now = mz_now_ms();
			if (mz_node_heartbeat(st, mz_engine_node_id(eng), eng->address, eng->host_regions,
			                      now, false, &err) != MZ_OK)
				mz_warn("engine: node heartbeat: %s", err.msg);
			else if (eng->shared)
				take_over_dead(eng, st, now);
		}
		sleep_or_stop(eng, HEARTBEAT_MS);
	}
	mz_store_close(st);
	return NULL;
}

mz_code
mz__node_start(mz_engine *eng, mz_err *err)
{
	mz_store *st = NULL;
	mz_code rc = mz_store_open(eng->db_url, &st, err);
	if (rc)
		return rc;
	eng->shared = mz_store_shared(st);
	if (eng->shared) /* a build's files, for the bakes of other nodes */
		mz_artifacts_share(eng->db_url);
	rc = mz_node_heartbeat(st, mz_engine_node_id(eng), eng->address, eng->host_regions,
	                       mz_now_ms(), true, err);
	mz_store_close(st);
	if (rc)
		return rc;
	if (pthread_create(&eng->node_thread, NULL, node_main, eng) != 0)
		return mz_fail(err, MZ_EIO, "cannot start the node heartbeat");
	eng->have_node_thread = true;
	if (eng->shared) {
		if (pthread_create(&eng->remote_thread, NULL, remote_main, eng) != 0)
			return mz_fail(err, MZ_EIO, "cannot start the node listener");
		eng->have_remote_thread = true;
	}
	return MZ_OK;
}

void
mz__node_stop(mz_engine *eng)
{
	if (eng->have_node_thread)
		pthread_join(eng->node_thread, NULL);
	if (eng->have_remote_thread)
		pthread_join(eng->remote_thread, NULL);
	if (eng->shared)
		mz_artifacts_share(NULL);
	eng->have_node_thread = eng->have_remote_thread = false;
}
