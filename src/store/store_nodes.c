/* store_nodes.c - what several nodes sharing one database need: the node
 * registry (heartbeats), leases for work done once per cluster, locks on
 * keys inside a transaction, and notifications between nodes. Written once
 * over the driver; on SQLite (one process) a lock is a no-op and there is
 * no one to notify. */
#include "store/store_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mz_store_set_node(mz_store *st, const char *node_id)
{
	snprintf(st->node, sizeof(st->node), "%s", node_id ? node_id : "");
}

void
mz_store_set_accept(mz_store *st, const char *accept)
{
	if (mz_streq(st->accept, accept && *accept ? accept : NULL))
		return;
	free(st->accept);
	st->accept = accept && *accept ? mz_strdup(accept) : NULL;
}

mz_code
mz_node_heartbeat(mz_store *st, const char *id, const char *address,
                  const json_t *host_regions, int64_t now, bool starting, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_NODE_BEAT, err);
	if (!q)
		return MZ_EIO;
	char *regions = host_regions ? mz_json_dump(host_regions) : mz_strdup("[]");
	mz__text(q, 1, id);
	mz__text(q, 2, address);
	mz__text(q, 3, regions);
	mz__int(q, 4, now);
	mz__int(q, 5, starting ? 1 : 0);
	mz_code rc = mz__run(q, NULL, err, "node heartbeat");
	free(regions);
	return rc;
}

mz_code
mz_node_list(mz_store *st, int64_t now, int64_t lease_ms, json_t **nodes, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_NODE_LIST, err);
	int rc;
	if (!q)
		return MZ_EIO;
	json_t *arr = json_array();
	while ((rc = mz__step(q)) == MZ_STEP_ROW) {
		json_t *regions = mz__col_json(q, 2);
		int64_t seen = mz__col_int(q, 4);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:I, s:I, s:b}", "id",
		                                     mz__col_text(q, 0), "address",
		                                     mz__col_text(q, 1), "hostRegions",
		                                     json_is_array(regions) ? regions : json_array(),
		                                     "startedAt", (json_int_t)mz__col_int(q, 3),
		                                     "lastSeen", (json_int_t)seen, "alive",
		                                     now - seen <= lease_ms));
		if (regions && !json_is_array(regions))
			json_decref(regions);
	}
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "list nodes");
		mz__reset(q);
		json_decref(arr);
		return code;
	}
	mz__reset(q);
	*nodes = arr;
	return MZ_OK;
}

mz_code
mz_lease_take(mz_store *st, const char *name, const char *holder, int64_t now, int64_t ttl_ms,
              bool *held, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_LEASE_TAKE, err);
	int64_t n = 0;
	*held = false;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, name);
	mz__text(q, 2, holder);
	mz__int(q, 3, now + ttl_ms);
	mz__int(q, 4, now);
	mz_code rc = mz__run(q, &n, err, "take lease");
	*held = rc == MZ_OK && n > 0;
	return rc;
}

mz_code
mz_lease_drop(mz_store *st, const char *name, const char *holder, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_LEASE_DROP, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, name);
	mz__text(q, 2, holder);
	return mz__run(q, NULL, err, "drop lease");
}

mz_code
mz_store_lock(mz_store *st, const char *key, mz_err *err)
{
	if (!mz_store_shared(st))
		return MZ_OK;
	mz_stmt *q = mz__stmt(st, Q_LOCK, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, key);
	return mz__run(q, NULL, err, "lock");
}

mz_code
mz_store_try_lock(mz_store *st, const char *key, bool *got, mz_err *err)
{
	*got = true;
	if (!mz_store_shared(st))
		return MZ_OK;
	mz_stmt *q = mz__stmt(st, Q_TRY_LOCK, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, key);
	int64_t v = 0;
	mz_code rc = mz__one_int(q, &v, NULL, err, "try lock");
	*got = rc == MZ_OK && v == 1;
	return rc;
}

mz_code
mz_store_notify(mz_store *st, const char *channel, const char *payload, mz_err *err)
{
	if (!st->drv->listen)
		return MZ_OK;
	mz_stmt *q = mz__stmt(st, Q_NOTIFY, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, channel);
	mz__text(q, 2, payload);
	return mz__run(q, NULL, err, "notify");
}

bool
mz_store_shared(const mz_store *st)
{
	return st->drv->listen != NULL;
}

mz_code
mz_store_listen(mz_store *st, const char *channel, mz_err *err)
{
	if (!st->drv->listen)
		return mz_fail(err, MZ_EINVAL, "the %s store has no notifications", st->drv->kind);
	return st->drv->listen(st, channel, err);
}

mz_code
mz_store_wait_notification(mz_store *st, int timeout_ms, char **payload, mz_err *err)
{
	*payload = NULL;
	if (!st->drv->wait_notify)
		return mz_fail(err, MZ_EINVAL, "the %s store has no notifications", st->drv->kind);
	return st->drv->wait_notify(st, timeout_ms, payload, err);
}
