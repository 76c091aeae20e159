/* store.c - the public store calls: argument checks and JSON handling that
 * every back-end shares, then a call through the back-end's table. */
#include "store/store_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

mz_code
mz_store_open(const char *url, mz_store **out, mz_err *err)
{
	if (!url || !*url)
		return mz_fail(err, MZ_EINVAL, "empty database URL");
	if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
		return mz_store__pg_open(url, out, err);
	if (strncmp(url, "sqlite://", 9) == 0)
		url += 9;
	return mz_store__sqlite_open(url, out, err);
}

void
mz_store_close(mz_store *st)
{
	if (st)
		st->ops->close(st);
}

const char *
mz_store_kind(const mz_store *st)
{
	return st->ops->kind;
}

mz_code
mz_store_begin(mz_store *st, mz_err *err)
{
	mz_code rc = st->ops->begin(st, err);
	if (rc == MZ_OK)
		st->tx_depth = 1;
	return rc;
}

mz_code
mz_store_commit(mz_store *st, mz_err *err)
{
	mz_code rc = st->ops->commit(st, err);
	if (rc != MZ_OK)
		st->ops->rollback(st); /* a failed commit leaves nothing half-done */
	st->tx_depth = 0;
	return rc;
}

void
mz_store_rollback(mz_store *st)
{
	if (st->tx_depth)
		st->ops->rollback(st);
	st->tx_depth = 0;
}

static char *
lower(const char *s)
{
	char *p = mz_strdup(s);
	for (char *q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

mz_code
mz_app_get(mz_store *st, const char *name, json_t **app, mz_err *err)
{
	char *key = lower(name);
	mz_code rc = st->ops->app_get(st, key, app, err);
	free(key);
	return rc;
}

mz_code
mz_app_put(mz_store *st, const json_t *app, mz_err *err)
{
	const char *name = mz_json_str(app, "name");
	if (!name || !*name)
		return mz_fail(err, MZ_EINVAL, "application has no name");
	char *key = lower(name);
	char *body = mz_json_dump(app);
	mz_code rc = st->ops->app_put(st, key, body, err);
	free(body);
	free(key);
	return rc;
}

mz_code
mz_app_delete(mz_store *st, const char *name, mz_err *err)
{
	char *key = lower(name);
	mz_code rc = st->ops->app_delete(st, key, err);
	free(key);
	return rc;
}

mz_code
mz_app_list(mz_store *st, json_t **apps, mz_err *err)
{
	return st->ops->app_list(st, apps, err);
}

mz_code
mz_pipeline_get(mz_store *st, const char *id, json_t **cfg, mz_err *err)
{
	return st->ops->pipeline_get(st, id, cfg, err);
}

mz_code
mz_pipeline_get_by_name(mz_store *st, const char *app, const char *name, json_t **cfg,
                        mz_err *err)
{
	return st->ops->pipeline_by_name(st, app, name, false, cfg, err);
}

mz_code
mz_pipeline_find_name_ci(mz_store *st, const char *app, const char *name, json_t **cfg,
                         mz_err *err)
{
	return st->ops->pipeline_by_name(st, app, name, true, cfg, err);
}

mz_code
mz_pipeline_put(mz_store *st, const json_t *cfg, mz_err *err)
{
	const char *id = mz_json_str(cfg, "id");
	const char *app = mz_json_str(cfg, "application");
	const char *name = mz_json_str(cfg, "name");
	if (!id || !app || !name)
		return mz_fail(err, MZ_EINVAL, "pipeline config needs id, application and name");
	char *body = mz_json_dump(cfg);
	mz_code rc = st->ops->pipeline_put(st, id, app, name, mz_json_int(cfg, "index", -1),
	                                   body, err);
	free(body);
	return rc;
}

mz_code
mz_pipeline_delete(mz_store *st, const char *id, mz_err *err)
{
	return st->ops->pipeline_delete(st, id, err);
}

mz_code
mz_pipeline_list(mz_store *st, const char *app, json_t **cfgs, mz_err *err)
{
	return st->ops->pipeline_list(st, app, cfgs, err);
}

mz_code
mz_pipeline_history(mz_store *st, const char *id, int limit, json_t **versions, mz_err *err)
{
	return st->ops->pipeline_history(st, id, limit > 0 ? limit : 20, versions, err);
}

mz_code
mz_exec_get(mz_store *st, const char *id, json_t **exec, mz_err *err)
{
	return st->ops->exec_get(st, id, exec, err);
}

mz_code
mz_exec_get_raw(mz_store *st, const char *id, char **body, size_t *len, char type[16],
                mz_err *err)
{
	return st->ops->exec_get_raw(st, id, body, len, type, err);
}

mz_code
mz_exec_put(mz_store *st, const json_t *exec, mz_err *err)
{
	if (!mz_json_str(exec, "id"))
		return mz_fail(err, MZ_EINVAL, "execution has no id");
	char *body = mz_json_dump(exec);
	mz_code rc = st->ops->exec_put(st, exec, body, err);
	free(body);
	return rc;
}

mz_code
mz_exec_delete(mz_store *st, const char *id, mz_err *err)
{
	return st->ops->exec_delete(st, id, err);
}

mz_code
mz_exec_query_run(mz_store *st, const mz_exec_query *q, json_t **execs, mz_err *err)
{
	return st->ops->exec_query(st, q, execs, err);
}

mz_code
mz_exec_count_status(mz_store *st, const char *config_id, const char *status,
                     const char *except_id, int *count, mz_err *err)
{
	return st->ops->exec_count_status(st, config_id, status, except_id, count, err);
}

/* The fingerprint is the compact serialisation with sorted keys, so two
 * messages built in different key order still de-duplicate. */
static char *
fingerprint(const json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT | JSON_SORT_KEYS);
	if (!s)
		abort();
	return s;
}

static mz_code
push(mz_store *st, const json_t *msg, int64_t at, bool only_reschedule, mz_err *err)
{
	if (!json_is_object(msg) || !mz_json_str(msg, "kind"))
		return mz_fail(err, MZ_EINVAL, "queue message needs a kind");
	char *fp = fingerprint(msg);
	mz_code rc = st->ops->queue_push(st, fp, mz_json_str(msg, "executionId"), at,
	                                 only_reschedule, err);
	free(fp);
	return rc;
}

mz_code
mz_queue_push(mz_store *st, const json_t *msg, int64_t deliver_at, mz_err *err)
{
	return push(st, msg, deliver_at, false, err);
}

mz_code
mz_queue_reschedule(mz_store *st, const json_t *msg, int64_t deliver_at, mz_err *err)
{
	return push(st, msg, deliver_at, true, err);
}

mz_code
mz_queue_claim(mz_store *st, int64_t now, int64_t lease_ms, mz_msg *out, int max, int *n,
               mz_err *err)
{
	return st->ops->queue_claim(st, now, lease_ms, out, max, n, err);
}

mz_code
mz_queue_ack(mz_store *st, int64_t id, mz_err *err)
{
	return st->ops->queue_ack(st, id, err);
}

mz_code
mz_queue_set_delivery(mz_store *st, int64_t id, int64_t deliver_at, mz_err *err)
{
	return st->ops->queue_set_delivery(st, id, deliver_at, err);
}

mz_code
mz_queue_next_due(mz_store *st, int64_t *when, mz_err *err)
{
	return st->ops->queue_next_due(st, when, err);
}

mz_code
mz_queue_release_leases(mz_store *st, int64_t now, mz_err *err)
{
	return st->ops->queue_release_leases(st, now, err);
}

mz_code
mz_queue_count_for_execution(mz_store *st, const char *exec_id, int *count, mz_err *err)
{
	return st->ops->queue_count_for_execution(st, exec_id, count, err);
}

void
mz_msg_release(mz_msg *m)
{
	if (m->body)
		json_decref(m->body);
	m->body = NULL;
}

mz_code
mz_pending_push(mz_store *st, const char *config_id, const json_t *msg, mz_err *err)
{
	char *body = mz_json_dump(msg);
	mz_code rc = st->ops->pending_push(st, config_id, body, err);
	free(body);
	return rc;
}

mz_code
mz_pending_pop(mz_store *st, const char *config_id, bool newest, json_t **msg, mz_err *err)
{
	return st->ops->pending_pop(st, config_id, newest, msg, err);
}

mz_code
mz_pending_count(mz_store *st, const char *config_id, int *count, mz_err *err)
{
	return st->ops->pending_count(st, config_id, count, err);
}

mz_code
mz_outbox_push(mz_store *st, const json_t *event, mz_err *err)
{
	char *body = mz_json_dump(event);
	mz_code rc = st->ops->outbox_push(st, body, err);
	free(body);
	return rc;
}

mz_code
mz_outbox_fetch(mz_store *st, int64_t after_id, int max, json_t **events, mz_err *err)
{
	return st->ops->outbox_fetch(st, after_id, max > 0 ? max : 100, events, err);
}

mz_code
mz_outbox_delete(mz_store *st, int64_t id, mz_err *err)
{
	return st->ops->outbox_delete(st, id, err);
}

mz_code
mz_kv_get(mz_store *st, const char *key, char **value, mz_err *err)
{
	return st->ops->kv_get(st, key, value, err);
}

mz_code
mz_kv_put(mz_store *st, const char *key, const char *value, mz_err *err)
{
	return st->ops->kv_put(st, key, value, err);
}

mz_code
mz_event_add(mz_store *st, const char *event_id, const json_t *event, bool *added,
             mz_err *err)
{
	if (!event_id || !*event_id)
		return mz_fail(err, MZ_EINVAL, "an event needs an id");
	char *body = mz_json_dump(event);
	mz_code rc = st->ops->event_add(st, event_id, body, added, err);
	free(body);
	return rc;
}

mz_code
mz_event_pending(mz_store *st, int max, json_t **events, mz_err *err)
{
	return st->ops->event_pending(st, max > 0 ? max : 100, events, err);
}

mz_code
mz_event_done(mz_store *st, int64_t seq, const json_t *result, mz_err *err)
{
	char *body = result ? mz_json_dump(result) : NULL;
	mz_code rc = st->ops->event_done(st, seq, body, err);
	free(body);
	return rc;
}

mz_code
mz_event_get(mz_store *st, const char *event_id, json_t **out, mz_err *err)
{
	return st->ops->event_get(st, event_id, out, err);
}

mz_code
mz_delivery_push(mz_store *st, const json_t *delivery, int64_t deliver_at, mz_err *err)
{
	char *body = mz_json_dump(delivery);
	mz_code rc = st->ops->delivery_push(st, body, deliver_at, err);
	free(body);
	return rc;
}

mz_code
mz_delivery_due(mz_store *st, int64_t now, int max, json_t **out, mz_err *err)
{
	return st->ops->delivery_due(st, now, max > 0 ? max : 50, out, err);
}

mz_code
mz_delivery_retry(mz_store *st, int64_t id, int64_t deliver_at, const char *error,
                  mz_err *err)
{
	return st->ops->delivery_retry(st, id, deliver_at, error, err);
}

mz_code
mz_delivery_delete(mz_store *st, int64_t id, mz_err *err)
{
	return st->ops->delivery_delete(st, id, err);
}
