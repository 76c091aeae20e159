/* store_queue.c - the engine's durable message queue (keiko's, made
 * transactional) and the pending executions of concurrency-limited
 * pipelines, written once over the store driver. */
#include "store/store_sql.h"

#include <stdlib.h>
#include <string.h>

/* The fingerprint is the canonical text (compact, sorted keys), so two
 * messages built in different key order still de-duplicate. The table
 * holds the message once: its body is its fingerprint. */
static char *
fingerprint(const json_t *msg)
{
	return mz_json_canonical(msg);
}

static mz_code
push(mz_store *st, const json_t *msg, int64_t at, bool only_reschedule, mz_err *err)
{
	if (!json_is_object(msg) || !mz_json_str(msg, "kind"))
		return mz_fail(err, MZ_EINVAL, "queue message needs a kind");
	char *fp = fingerprint(msg);
	mz_code rc;
	if (only_reschedule) {
		int64_t id = 0;
		mz_stmt *q = mz__stmt(st, Q_QUEUE_FIND, err);
		if (!q) {
			rc = MZ_EIO;
			goto out;
		}
		mz__text(q, 1, fp);
		rc = mz__one_int(q, &id, NULL, err, "queue lookup");
		if (rc || !id)
			goto out;
		q = mz__stmt(st, Q_QUEUE_MOVE, err);
		if (!q) {
			rc = MZ_EIO;
			goto out;
		}
		mz__int(q, 1, id);
		mz__int(q, 2, at);
		rc = mz__run(q, NULL, err, "queue reschedule");
		goto out;
	}
	mz_stmt *q = mz__stmt(st, Q_QUEUE_UPSERT, err);
	if (!q) {
		rc = MZ_EIO;
		goto out;
	}
	mz__text(q, 1, fp);
	mz__text(q, 2, mz_json_str(msg, "executionId"));
	mz__int(q, 3, at);
	mz__text(q, 4, mz_json_str(msg, "target"));
	rc = mz__run(q, NULL, err, "queue push");
out:
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

static int
by_due(const void *a, const void *b)
{
	const mz_msg *x = a, *y = b;
	if (x->deliver_at != y->deliver_at)
		return x->deliver_at < y->deliver_at ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

mz_code
mz_queue_claim(mz_store *st, int64_t now, int64_t lease_ms, mz_msg *out, int max, int *n,
               mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_QUEUE_CLAIM, err);
	int got = 0, rc = MZ_STEP_DONE;
	bool leased = false;
	mz_code code = MZ_EIO;
	*n = 0;
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, now);
	mz__int(q, 2, max);
	mz__int(q, 3, now + lease_ms);
	mz__text(q, 4, st->node[0] ? st->node : NULL);
	mz__text(q, 5, st->accept);
	while (got < max && (rc = mz__step(q)) == MZ_STEP_ROW) {
		json_t *body = mz__col_json(q, 1);
		leased = mz__col_int(q, 4) != 0;
		if (!body)
			continue;
		out[got].id = mz__col_int(q, 0);
		out[got].body = body;
		out[got].deliver_at = mz__col_int(q, 2);
		out[got].attempts = (int)mz__col_int(q, 3) + 1;
		got++;
	}
	if (rc < 0) {
		code = mz__fail(st, err, "queue claim");
		mz__reset(q);
		goto fail;
	}
	mz__reset(q);
	for (int i = 0; !leased && i < got; i++) {
		q = mz__stmt(st, Q_QUEUE_LEASE, err);
		if (!q)
			goto fail;
		mz__int(q, 1, out[i].id);
		mz__int(q, 2, now + lease_ms);
		mz__text(q, 3, st->node[0] ? st->node : NULL);
		if ((code = mz__run(q, NULL, err, "queue lease")) != MZ_OK)
			goto fail;
	}
	qsort(out, (size_t)got, sizeof(*out), by_due); /* a driver's rows come in any order */
	*n = got;
	return MZ_OK;
fail:
	for (int i = 0; i < got; i++)
		mz_msg_release(&out[i]);
	return code;
}

static mz_code
by_id(mz_store *st, int q_index, int64_t id, const int64_t *at, mz_err *err, const char *what)
{
	mz_stmt *q = mz__stmt(st, q_index, err);
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, id);
	if (at)
		mz__int(q, 2, *at);
	return mz__run(q, NULL, err, what);
}

mz_code
mz_queue_ack(mz_store *st, int64_t id, mz_err *err)
{
	return by_id(st, Q_QUEUE_ACK, id, NULL, err, "queue ack");
}

mz_code
mz_queue_set_delivery(mz_store *st, int64_t id, int64_t deliver_at, mz_err *err)
{
	return by_id(st, Q_QUEUE_SET, id, &deliver_at, err, "queue set delivery");
}

mz_code
mz_queue_next_due(mz_store *st, int64_t *when, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_QUEUE_NEXT, err);
	*when = INT64_MAX;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, st->accept);
	int rc = mz__step(q);
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "queue next");
		mz__reset(q);
		return code;
	}
	if (rc == MZ_STEP_ROW && !mz__col_null(q, 0))
		*when = mz__col_int(q, 0);
	mz__reset(q);
	return MZ_OK;
}

mz_code
mz_queue_release_leases(mz_store *st, int64_t now, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_QUEUE_RELEASE, err);
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, now);
	return mz__run(q, NULL, err, "queue release leases");
}

mz_code
mz_queue_release_node(mz_store *st, const char *node_id, int64_t now, int *released,
                      mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_QUEUE_RELEASE_NODE, err);
	int64_t n = 0;
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, now);
	mz__text(q, 2, node_id);
	mz_code rc = mz__run(q, &n, err, "queue release node");
	if (released)
		*released = (int)n;
	return rc;
}

mz_code
mz_queue_count_for_execution(mz_store *st, const char *exec_id, int *count, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_QUEUE_COUNT_EXEC, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, exec_id);
	int64_t n = 0;
	mz_code rc = mz__one_int(q, &n, NULL, err, "count");
	*count = (int)n;
	return rc;
}

void
mz_msg_release(mz_msg *m)
{
	if (m->body)
		json_decref(m->body);
	m->body = NULL;
}

/* ---- pending executions ------------------------------------------------ */

mz_code
mz_pending_push(mz_store *st, const char *config_id, const json_t *msg, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_PEND_PUSH, err);
	if (!q)
		return MZ_EIO;
	char *body = mz_json_dump(msg);
	mz__text(q, 1, config_id);
	mz__text(q, 2, body);
	mz_code rc = mz__run(q, NULL, err, "pending push");
	free(body);
	return rc;
}

mz_code
mz_pending_pop(mz_store *st, const char *config_id, bool newest, json_t **msg, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, newest ? Q_PEND_NEWEST : Q_PEND_OLDEST, err);
	*msg = NULL;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, config_id);
	int rc = mz__step(q);
	if (rc == MZ_STEP_DONE) {
		mz__reset(q);
		return MZ_OK;
	}
	if (rc < 0) {
		mz_code code = mz__fail(st, err, "pending pop");
		mz__reset(q);
		return code;
	}
	int64_t id = mz__col_int(q, 0);
	*msg = mz__col_json(q, 1);
	mz__reset(q);
	return by_id(st, Q_PEND_DEL, id, NULL, err, "pending delete");
}

mz_code
mz_pending_count(mz_store *st, const char *config_id, int *count, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_PEND_COUNT, err);
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, config_id);
	int64_t n = 0;
	mz_code rc = mz__one_int(q, &n, NULL, err, "count");
	*count = (int)n;
	return rc;
}
