/*
 * engine_batch.c - one store transaction's worth of message handling.
 *
 * A batch reads due messages as it goes (up to MZ_MAX_BATCH), handles each, and also
 * handles in the same transaction the zero-delay messages those handlers
 * push (a pipeline of instant stages runs to completion without a round
 * trip through the queue table). Executions touched are loaded once and
 * written back once, at commit. A crash before the commit rolls everything
 * back and the claimed messages are delivered again: nothing is lost, and
 * because the state changes were rolled back too, nothing repeats.
 *
 * A batch is also a time slice (MZ_BATCH_SLICE_MS): once it has run that
 * long it handles no further message, stored or local; those are committed
 * as due now for the next batch. Expressions evaluated in the batch share
 * one deadline (mz_expr_thread_deadline) a little beyond the slice, so a
 * costly expression cannot stretch the transaction either.
 *
 * EXTERNAL tasks (HTTP calls) cannot run inside the transaction: their
 * RunTask message stays claimed under a lease, the intent is committed with
 * the batch, and the call runs afterwards (mz__run_deferred), its result
 * applied in a second transaction that acknowledges the message.
 */
#include "engine/engine_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mz__log_after_commit(mz_batch *b, const char *fmt, ...)
{
	va_list ap;
	char *line = NULL;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (!line)
		return;
	if (b->nlogs == b->caplogs) {
		b->caplogs = b->caplogs ? b->caplogs * 2 : 8;
		b->logs = realloc(b->logs, sizeof(char *) * (size_t)b->caplogs);
		if (!b->logs)
			abort();
	}
	b->logs[b->nlogs++] = line;
}

/* After a commit: the lines held back by mz__log_after_commit. */
static void
print_logs(mz_batch *b)
{
	for (int i = 0; i < b->nlogs; i++)
		mz_info("%s", b->logs[i]);
}

/* A batch ends when its time slice is spent, and also as soon as an urgent
 * writer (an API request: a trigger, an operator action) waits for the
 * write lock: the work left is committed as due now, the request gets the
 * lock next, and the engine carries on after it. */
static bool
slice_over(const mz_batch *b)
{
	if (!b->slice_end)
		return false;
	int64_t now = mz_mono_ms();
	return now >= b->slice_end ||
	       (now >= b->slice_start + MZ_BATCH_MIN_MS && mz_store_urgent_waiting() > 0);
}

static unsigned
id_hash(const char *id)
{
	unsigned h = 2166136261u; /* FNV-1a */
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h;
}

static unsigned
doc_hash(const json_t *doc)
{
	uintptr_t p = (uintptr_t)doc >> 4;
	return (unsigned)(p * 2654435761u) ^ (unsigned)(p >> 29);
}

/* Adds cache entry i to both indexes (an id already there keeps its
 * first entry, as a scan in order would find it). */
static void
index_add(mz_batch *b, int i)
{
	unsigned mask = (unsigned)b->nslots - 1;
	unsigned h = id_hash(b->cache[i].id) & mask;
	while (b->by_id[h] && strcmp(b->cache[b->by_id[h] - 1].id, b->cache[i].id) != 0)
		h = (h + 1) & mask;
	if (!b->by_id[h])
		b->by_id[h] = i + 1;
	h = doc_hash(b->cache[i].exec) & mask;
	while (b->by_doc[h] && b->cache[b->by_doc[h] - 1].exec != b->cache[i].exec)
		h = (h + 1) & mask;
	if (!b->by_doc[h])
		b->by_doc[h] = i + 1;
}

static void
index_rebuild(mz_batch *b)
{
	int n = 16;
	while (n < 2 * b->capcache)
		n *= 2;
	free(b->by_id);
	free(b->by_doc);
	b->by_id = calloc((size_t)n, sizeof(int));
	b->by_doc = calloc((size_t)n, sizeof(int));
	if (!b->by_id || !b->by_doc)
		abort();
	b->nslots = n;
	for (int i = 0; i < b->ncache; i++)
		index_add(b, i);
}

static mz_cached_exec *
cached_by_id(const mz_batch *b, const char *id)
{
	if (!b->nslots)
		return NULL;
	unsigned mask = (unsigned)b->nslots - 1;
	for (unsigned h = id_hash(id) & mask; b->by_id[h]; h = (h + 1) & mask) {
		mz_cached_exec *c = &b->cache[b->by_id[h] - 1];
		if (strcmp(c->id, id) == 0)
			return c;
	}
	return NULL;
}

json_t *
mz__exec_load(mz_batch *b, const char *id)
{
	mz_cached_exec *hit = cached_by_id(b, id);
	if (hit)
		return hit->exec;
	char *text = NULL;
	size_t len = 0;
	json_t *exec = mz__cache_load(b->eng ? b->eng->cache : NULL, b->st, id, &text, &len,
	                              &b->err);
	if (!exec)
		return NULL;
	mz__exec_adopt(b, exec);
	mz_cached_exec *c = &b->cache[b->ncache - 1];
	c->text = text;
	c->len = len;
	c->dirty = false;
	c->changed = false;
	return exec;
}

void
mz__exec_adopt(mz_batch *b, json_t *exec)
{
	if (b->ncache == b->capcache) {
		b->capcache = b->capcache ? b->capcache * 2 : 16;
		b->cache = realloc(b->cache, sizeof(*b->cache) * (size_t)b->capcache);
		if (!b->cache)
			abort();
		index_rebuild(b);
	}
	mz_cached_exec *c = &b->cache[b->ncache++];
	snprintf(c->id, sizeof(c->id), "%s", mz_json_str(exec, "id"));
	c->exec = exec;
	c->text = NULL;
	c->len = 0;
	c->dirty = true;
	c->changed = true;
	index_add(b, b->ncache - 1);
}

void
mz__exec_dirty(mz_batch *b, const json_t *exec)
{
	if (!b->nslots)
		return;
	unsigned mask = (unsigned)b->nslots - 1;
	for (unsigned h = doc_hash(exec) & mask; b->by_doc[h]; h = (h + 1) & mask) {
		mz_cached_exec *c = &b->cache[b->by_doc[h] - 1];
		if (c->exec == exec) {
			c->dirty = true;
			c->changed = true;
			return;
		}
	}
}

static void
local_append(mz_batch *b, mz_qmsg msg)
{
	if (b->nlocal == b->caplocal) {
		b->caplocal = b->caplocal ? b->caplocal * 2 : 64;
		b->local = realloc(b->local, sizeof(mz_qmsg) * (size_t)b->caplocal);
		if (!b->local)
			abort();
	}
	b->local[b->nlocal++] = msg;
}

/* A message going to the queue table: its JSON, made now. */
static mz_code
store_push(mz_batch *b, const mz_qmsg *msg, int64_t at)
{
	json_t *j = mz__qm_json(msg);
	mz_code rc = mz_queue_push(b->st, j, at, &b->err);
	json_decref(j);
	return rc;
}

mz_code
mz__push(mz_batch *b, mz_qmsg msg, int64_t delay_ms)
{
	mz_code rc = MZ_OK;
	if (delay_ms < 0)
		delay_ms = 0;
	/* Equal JSON is equal fingerprint (the store's canonical text), found
	 * without serialising: most pushes are handled in this batch and never
	 * need their text. */
	if (b->cur && mz__qm_equal_json(&msg, b->cur->body)) {
		/* Re-pushing the message being handled: deliver it again later. */
		b->requeue_at = b->now + delay_ms;
	} else if (delay_ms == 0 && !b->store_only && b->handled < MZ_MAX_LOCAL &&
	           !slice_over(b)) {
		local_append(b, msg); /* the batch owns it now */
		return MZ_OK;
	} else {
		rc = store_push(b, &msg, b->now + delay_ms);
	}
	mz__qm_release(&msg);
	return rc;
}

mz_code
mz__reschedule(mz_batch *b, mz_qmsg msg, int64_t delay_ms)
{
	json_t *j = mz__qm_json(&msg);
	mz_code rc = mz_queue_reschedule(b->st, j, b->now + delay_ms, &b->err);
	json_decref(j);
	mz__qm_release(&msg);
	return rc;
}

mz_code
mz__push_local_to_store(mz_batch *b)
{
	mz_code rc = MZ_OK;
	for (int j = b->headlocal; rc == MZ_OK && j < b->nlocal; j++)
		rc = store_push(b, &b->local[j], b->now);
	return rc;
}

void
mz__batch_release(mz_batch *b)
{
	for (int i = 0; i < b->ncache; i++) {
		json_decref(b->cache[i].exec);
		free(b->cache[i].text);
	}
	free(b->cache);
	free(b->by_id);
	free(b->by_doc);
	for (int i = b->headlocal; i < b->nlocal; i++)
		mz__qm_release(&b->local[i]);
	free(b->local);
	for (int i = 0; i < b->ndefer; i++) {
		json_decref(b->defer[i].msg);
		json_decref(b->defer[i].execution);
		free(b->defer[i].key);
	}
	free(b->defer);
	for (int i = 0; i < b->nlogs; i++)
		free(b->logs[i]);
	free(b->logs);
	memset(b, 0, sizeof(*b));
}

/* Each changed execution is serialised once here, however many messages
 * changed it; the text is kept for the execution cache. */
mz_code
mz__batch_flush(mz_batch *b)
{
	for (int i = 0; i < b->ncache; i++) {
		mz_cached_exec *c = &b->cache[i];
		if (!c->dirty)
			continue;
		size_t len;
		char *text = mz_json_dump_len(c->exec, &len);
		mz_code rc = mz_exec_put_text(b->st, c->exec, text, &b->err);
		free(c->text);
		c->text = text;
		c->len = len;
		if (rc)
			return rc;
		c->dirty = false;
	}
	return MZ_OK;
}

void
mz__batch_keep(mz_batch *b)
{
	mz_exec_cache *cache = b->eng ? b->eng->cache : NULL;
	for (int i = 0; i < b->ncache; i++) {
		mz_cached_exec *c = &b->cache[i];
		if (c->dirty || !c->text) { /* never written as it is now */
			json_decref(c->exec);
			free(c->text);
		} else {
			mz__cache_put(cache, c->exec, c->text, c->len);
		}
		c->exec = NULL;
		c->text = NULL;
	}
	b->ncache = 0;
}

static mz_code
drain_local(mz_batch *b)
{
	while (b->headlocal < b->nlocal) {
		mz_qmsg m = b->local[b->headlocal++];
		mz_code rc;
		if (slice_over(b)) {
			/* Out of time: the next batch handles it. */
			rc = store_push(b, &m, b->now);
		} else {
			b->handled++;
			rc = mz__handle(b, &m);
		}
		mz__qm_release(&m);
		if (rc)
			return rc;
	}
	b->nlocal = b->headlocal = 0;
	return MZ_OK;
}

/* A message delivered MZ_MAX_ATTEMPTS times without being acknowledged is
 * dead: turn it into the terminating message Orca's DeadMessageHandler
 * sends, so the execution ends instead of hanging. */
static mz_code
dead_letter(mz_batch *b, const json_t *msg)
{
	const char *kind = mz_json_str(msg, "kind");
	json_t *exec = mz_json_str(msg, "executionId") ?
	               mz__exec_load(b, mz_json_str(msg, "executionId")) : NULL;
	json_t *stage = exec ? mz__stage_by_id(exec, mz_json_str(msg, "stageId")) : NULL;
	json_t *task = stage ? mz__task_by_id(stage, mz_json_str(msg, "taskId")) : NULL;
	mz_warn("engine: message %s for execution %s is dead after %d deliveries", kind,
	        mz_json_str(msg, "executionId"), MZ_MAX_ATTEMPTS);
	if (!exec)
		return MZ_OK;
	if (task) {
		mz_qmsg m = mz__msg_task("completeTask", exec, stage, task);
		mz__qm_set(&m, "status", json_string("TERMINAL"));
		mz__qm_set(&m, "originalStatus", json_string("TERMINAL"));
		mz__set_exception(stage, "DeadMessage",
		                  "The task did not finish: its message was delivered too often "
		                  "without completing (was the server restarted during a call?)");
		mz__exec_dirty(b, exec);
		return mz__push(b, m, 0);
	}
	if (stage)
		return mz__push(b, mz__msg_stage("abortStage", exec, stage), 0);
	return mz__push(b, mz__msg_exec("completeExecution", exec), 0);
}

static mz_code
handle_stored(mz_batch *b, mz_msg *m)
{
	mz_code rc;
	b->cur = m;
	b->requeue_at = -1;
	b->deferred = false;
	b->handled++;
	if (m->attempts > MZ_MAX_ATTEMPTS) {
		rc = dead_letter(b, m->body);
	} else {
		mz_qmsg q = {.json = m->body}; /* borrowed */
		rc = mz__handle(b, &q);
	}
	if (rc == MZ_OK && !b->deferred) {
		if (b->requeue_at >= 0)
			rc = mz_queue_set_delivery(b->st, m->id, b->requeue_at, &b->err);
		else
			rc = mz_queue_ack(b->st, m->id, &b->err);
	}
	b->cur = NULL;
	if (rc == MZ_OK)
		rc = drain_local(b);
	return rc;
}

/* Quarantines a message whose handler fails even when handled alone: the
 * execution is marked TERMINAL with the error instead of looping forever. */
static bool
quarantine(mz_engine *eng, mz_store *st, mz_msg *m, const char *why, mz_err *qerr)
{
	mz_err err = {0};
	const char *exec_id = mz_json_str(m->body, "executionId");
	if (mz_store_begin(st, &err)) {
		*qerr = err;
		return false;
	}
	json_t *exec = NULL;
	if (exec_id && mz_exec_get_locked(st, exec_id, &exec, &err) == MZ_OK) {
		if (!mz_status_complete(mz__status(exec))) {
			mz__set_status(exec, "TERMINAL");
			json_object_set_new(exec, "endTime", json_integer(mz_now_ms()));
			json_object_set_new(exec, "cancellationReason",
			                    json_sprintf("Internal error: %s", why));
			mz_exec_put(st, exec, &err);
		}
		json_decref(exec);
	}
	mz_queue_ack(st, m->id, &err);
	if (mz_store_commit(st, &err)) {
		*qerr = err;
		return false;
	}
	char *dump = mz_json_dump(m->body);
	mz_error("engine: handling %s failed: %s (execution made TERMINAL)", dump, why);
	free(dump);
	(void)eng;
	return true;
}

/* Handles stored messages in chunks (MZ_CLAIM_CHUNK due messages claimed
 * at a time, up to MZ_MAX_BATCH): as many as the slice has time for, so a
 * batch is sized to the work waiting, and only the tail of the last chunk
 * can be claimed without being reached (it is given back: due now, the
 * attempt not counted). */
static mz_code
handle_due(mz_batch *b, mz_msg *msgs, int max, int *n)
{
	mz_code rc = MZ_OK;
	*n = 0;
	while (rc == MZ_OK && *n < max && b->handled < MZ_MAX_LOCAL) {
		if (*n > 0 && slice_over(b))
			break;
		int want = max - *n < MZ_CLAIM_CHUNK ? max - *n : MZ_CLAIM_CHUNK, got = 0;
		rc = mz_queue_claim(b->st, b->now, MZ_LEASE_MS, msgs + *n, want, &got, &b->err);
		if (rc || got == 0)
			break;
		int first = *n;
		*n += got;
		for (int i = first; i < *n && rc == MZ_OK; i++) {
			if (i > 0 && slice_over(b))
				rc = mz_queue_set_delivery(b->st, msgs[i].id, b->now, &b->err);
			else
				rc = handle_stored(b, &msgs[i]);
		}
		if (got < want)
			break; /* nothing else is due */
	}
	return rc;
}

int
mz__batch_run(mz_engine *eng, mz_store *st, mz_err *err)
{
	mz_msg msgs[MZ_MAX_BATCH];
	int n = 0, max = MZ_MAX_BATCH, done = 0;
	mz_batch b;

	for (int attempt = 0; attempt < 2; attempt++) {
		memset(&b, 0, sizeof(b));
		b.eng = eng;
		b.st = st;
		b.now = mz_now_ms();
		if (mz_store_begin(st, err))
			return -1;
		int slice = eng->cfg.slice_ms ? eng->cfg.slice_ms : MZ_BATCH_SLICE_MS;
		b.slice_start = mz_mono_ms();
		b.slice_end = slice > 0 ? b.slice_start + slice : 0;
		mz_expr_limits xl = mz_expr_get_limits();
		/* the slice and the budget, both as CPU time of this thread */
		int64_t prev_deadline = mz_expr_thread_deadline(
			b.slice_end ? mz_expr_clock_ms() + slice + xl.max_ms : 0);
		mz_code rc = handle_due(&b, msgs, max, &n);
		int i;
		mz_expr_thread_deadline(prev_deadline);
		if (rc == MZ_OK)
			rc = mz__batch_flush(&b);
		if (rc == MZ_OK)
			rc = mz__notify_remote(eng, &b);
		if (rc == MZ_OK && mz_store_commit(st, &b.err) == MZ_OK) {
			done = b.handled;
			print_logs(&b);
			mz__notify(eng, &b);
			mz__batch_keep(&b);
			mz__run_deferred(eng, st, &b);
			mz__batch_release(&b);
			for (i = 0; i < n; i++)
				mz_msg_release(&msgs[i]);
			return done;
		}
		mz_store_rollback(st);
		mz_code code = b.err.code ? b.err.code : rc;
		char why[512];
		snprintf(why, sizeof(why), "%s", b.err.msg[0] ? b.err.msg : "handler failed");
		mz__batch_release(&b);
		/* The store itself failed (locked by someone else, disk full):
		 * the messages are fine and run again once it is writable; the
		 * worker backs off. Quarantining them would turn a full disk
		 * into TERMINAL executions. */
		if (code == MZ_EBUSY || code == MZ_ENOSPACE || n == 0) {
			for (i = 0; i < n; i++)
				mz_msg_release(&msgs[i]);
			mz_fail(err, code ? code : MZ_EIO, "%s", why);
			return -1;
		}
		/* Retry the first message alone; if it still fails, quarantine it. */
		if (n == 1 || attempt == 1) {
			mz_err qerr = {0};
			bool q = quarantine(eng, st, &msgs[0], why, &qerr);
			for (i = 0; i < n; i++)
				mz_msg_release(&msgs[i]);
			if (!q) {   /* the store fails: back off, try again later */
				*err = qerr;
				return -1;
			}
			return 1;
		}
		for (i = 0; i < n; i++)
			mz_msg_release(&msgs[i]);
		max = 1;
	}
	return 0;
}

mz_code
mz__with_batch(mz_engine *eng, mz_store *st, mz_batch_fn fn, void *arg, mz_err *err)
{
	mz_batch b;
	memset(&b, 0, sizeof(b));
	b.eng = eng;
	b.st = st;
	b.now = mz_now_ms();
	/* Operator actions only store their follow-up messages (no local
	 * handling): the workers run them, so an API request never waits on a
	 * task's external call. */
	b.store_only = true;
	mz_code rc = mz_store_begin(st, err);
	if (rc)
		return rc;
	rc = fn(&b, arg);
	if (rc == MZ_OK)
		rc = mz__batch_flush(&b);
	if (rc == MZ_OK)
		rc = mz__notify_remote(eng, &b);
	if (rc == MZ_OK)
		rc = mz_store_commit(st, &b.err);
	else
		mz_store_rollback(st);
	if (rc && err)
		*err = b.err.code ? b.err : (mz_err){.code = rc, .msg = "operation failed"};
	if (rc == MZ_OK) {
		print_logs(&b);
		mz__notify(eng, &b);
		mz__batch_keep(&b);
	}
	mz__batch_release(&b);
	if (rc == MZ_OK && eng)
		mz_engine_wake(eng);
	return rc;
}

void
mz__notify(mz_engine *eng, mz_batch *b)
{
	if (!eng || !eng->listener)
		return;
	for (int i = 0; i < b->ncache; i++)
		if (b->cache[i].changed)
			eng->listener(b->cache[i].exec, eng->listener_data);
}
