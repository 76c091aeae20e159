/* engine.c - the engine's lifecycle: the registry of stage and task
 * definitions, the worker threads that run batches, and waking them. */
#include "engine/engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEFS 256

static const mz_stage_def *stage_defs[MAX_DEFS];
static int nstage_defs;
static const mz_task_def *task_defs[MAX_DEFS];
static int ntask_defs;

void
mz_engine_register_task(const mz_task_def *def)
{
	for (int i = 0; i < ntask_defs; i++)
		if (strcmp(task_defs[i]->name, def->name) == 0) {
			task_defs[i] = def;
			return;
		}
	if (ntask_defs < MAX_DEFS)
		task_defs[ntask_defs++] = def;
}

void
mz_engine_register_stage(const mz_stage_def *def)
{
	for (int i = 0; i < nstage_defs; i++)
		if (strcmp(stage_defs[i]->type, def->type) == 0) {
			stage_defs[i] = def;
			return;
		}
	if (nstage_defs < MAX_DEFS)
		stage_defs[nstage_defs++] = def;
}

const mz_stage_def *
mz_engine_stage_def(const char *type)
{
	for (int i = 0; type && i < nstage_defs; i++)
		if (strcmp(stage_defs[i]->type, type) == 0)
			return stage_defs[i];
	return NULL;
}

int
mz_engine_stage_count(void)
{
	return nstage_defs;
}

const mz_stage_def *
mz_engine_stage_at(int i)
{
	return i >= 0 && i < nstage_defs ? stage_defs[i] : NULL;
}

const mz_task_def *
mz_engine_task_def(const char *name)
{
	for (int i = 0; name && i < ntask_defs; i++)
		if (strcmp(task_defs[i]->name, name) == 0)
			return task_defs[i];
	return NULL;
}

void
mz_task_result_set(mz_task_result *r, const char *status, const char *fmt, ...)
{
	r->status = status;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->error, sizeof(r->error), fmt, ap);
		va_end(ap);
	}
}

json_t *
mz_task_result_context(mz_task_result *r)
{
	if (!r->context)
		r->context = json_object();
	return r->context;
}

json_t *
mz_task_result_outputs(mz_task_result *r)
{
	if (!r->outputs)
		r->outputs = json_object();
	return r->outputs;
}

void
mz_engine_set_listener(mz_engine *eng, mz_exec_listener fn, void *udata)
{
	pthread_mutex_lock(&eng->mu);
	eng->listener = fn;
	eng->listener_data = udata;
	pthread_mutex_unlock(&eng->mu);
}

void
mz_engine_wake(mz_engine *eng)
{
	if (!eng)
		return;
	pthread_mutex_lock(&eng->mu);
	eng->wake_seq++;
	pthread_cond_broadcast(&eng->cv);
	pthread_mutex_unlock(&eng->mu);
}

/* Sleeps until `until` (ms epoch), a wake-up, or stop. */
static void
idle_until(mz_engine *eng, uint64_t seen, int64_t until)
{
	struct timespec ts;
	pthread_mutex_lock(&eng->mu);
	while (!eng->stopping && eng->wake_seq == seen) {
		int64_t now = mz_now_ms();
		if (now >= until)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (until - now) * 1000000LL;
		ts.tv_sec += ns / 1000000000LL;
		ts.tv_nsec = ns % 1000000000LL;
		if (pthread_cond_timedwait(&eng->cv, &eng->mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&eng->mu);
}

static void *
worker_main(void *arg)
{
	mz_engine *eng = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	long failures = 0;
	int64_t backoff = 0;
	mz_log_limit limit = {0};

	if (mz_store_open(eng->db_url, &st, &err)) {
		mz_error("engine: worker cannot open store: %s", err.msg);
		return NULL;
	}
	mz_store_set_node(st, mz_engine_node_id(eng));
	for (;;) {
		pthread_mutex_lock(&eng->mu);
		bool stop = eng->stopping;
		uint64_t seen = eng->wake_seq;
		pthread_mutex_unlock(&eng->mu);
		if (stop)
			break;
		/* An urgent writer (an API request) waiting for the write lock goes
		 * first: a worker that just committed would otherwise take the lock
		 * straight back. Bounded, so the engine cannot be starved. */
		for (int i = 0; i < 40 && mz_store_urgent_waiting() > 0; i++)
			usleep(100);
		if (eng->shared) {
			/* which targeted messages it may claim (engine_route.c) */
			pthread_mutex_lock(&eng->mu);
			mz_store_set_accept(st, eng->accept);
			pthread_mutex_unlock(&eng->mu);
		}
		int n = mz__batch_run(eng, st, &err);
		if (n >= 0 && failures > 0) {
			mz_info("engine: the store is writable again (after %ld failed attempts)",
			        failures);
			failures = 0;
			backoff = 0;
		}
		if (n > 0)
			continue;
		if (n < 0) {
			/* A full disk or a locked database fails every batch until
			 * it passes: back off (50 ms doubling to 2 s) and say so
			 * once every 30 s, not on every attempt. */
			failures++;
			backoff = backoff ? (backoff * 2 > 2000 ? 2000 : backoff * 2) : 50;
			long held = 0;
			if (mz_log_allow(&limit, 30000, &held))
				mz_warn("engine: cannot write to the store, backing off (now %lld ms "
				        "between attempts, at most 2 s): %s (%ld similar messages held "
				        "back)", (long long)backoff, err.msg, held);
			idle_until(eng, seen, mz_now_ms() + backoff);
			continue;
		}
		int64_t due = INT64_MAX;
		if (mz_queue_next_due(st, &due, &err))
			due = INT64_MAX;
		int64_t cap = mz_now_ms() + 1000;
		idle_until(eng, seen, due < cap ? due : cap);
	}
	mz_store_close(st);
	return NULL;
}

mz_code
mz_engine_start(const mz_engine_config *cfg, mz_engine **out, mz_err *err)
{
	mz_engine *eng = calloc(1, sizeof(*eng));
	mz_store *st = NULL;
	if (!eng)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	eng->cfg = *cfg;
	eng->db_url = mz_strdup(cfg->db_url);
	eng->ui_base = mz_strdup(cfg->ui_base ? cfg->ui_base : "http://127.0.0.1:8084");
	eng->nthreads = cfg->workers > 0 ? cfg->workers : 2;
	pthread_mutex_init(&eng->mu, NULL);
	pthread_cond_init(&eng->cv, NULL);
	eng->cache = mz__cache_new();

	snprintf(eng->node_id, sizeof(eng->node_id), "%s",
	         cfg->node_id && *cfg->node_id ? cfg->node_id : "local");
	eng->address = mz_strdup(cfg->address ? cfg->address : "");
	eng->host_regions = cfg->host_regions ? json_deep_copy(cfg->host_regions) : json_array();
	mz__route_init(eng);

	/* Messages left claimed by this server when it died (a SQLite file has
	 * one server: all of them; a shared PostgreSQL: those this node
	 * claimed) are taken back now rather than after their lease. */
	mz_code rc = mz_store_open(eng->db_url, &st, err);
	if (rc == MZ_OK) {
		if ((rc = mz_store_begin(st, err)) == MZ_OK) {
			rc = mz_store_shared(st)
			         ? mz_queue_release_node(st, eng->node_id, mz_now_ms(), NULL, err)
			         : mz_queue_release_leases(st, mz_now_ms(), err);
			rc = rc ? (mz_store_rollback(st), rc) : mz_store_commit(st, err);
		}
	}
	mz_store_close(st);
	if (rc == MZ_OK)
		rc = mz__node_start(eng, err);
	if (rc) {
		pthread_mutex_lock(&eng->mu);
		eng->stopping = true;
		pthread_cond_broadcast(&eng->cv);
		pthread_mutex_unlock(&eng->mu);
		mz__node_stop(eng);
		mz__cache_free(eng->cache);
		free(eng->db_url);
		free(eng->ui_base);
		free(eng->address);
		json_decref(eng->host_regions);
		mz__route_free(eng);
		free(eng);
		return rc;
	}

	eng->threads = calloc((size_t)eng->nthreads, sizeof(pthread_t));
	for (int i = 0; i < eng->nthreads; i++)
		pthread_create(&eng->threads[i], NULL, worker_main, eng);
	if (cfg->retention)
		eng->retention = *cfg->retention;
	else
		mz_retention_from_json(NULL, &eng->retention, NULL);
	mz__retention_start(eng);
	*out = eng;
	return MZ_OK;
}

void
mz_engine_stop(mz_engine *eng)
{
	if (!eng)
		return;
	pthread_mutex_lock(&eng->mu);
	eng->stopping = true;
	pthread_cond_broadcast(&eng->cv);
	pthread_mutex_unlock(&eng->mu);
	for (int i = 0; i < eng->nthreads; i++)
		pthread_join(eng->threads[i], NULL);
	mz__retention_stop(eng);
	mz__node_stop(eng);
	free(eng->threads);
	free(eng->address);
	json_decref(eng->host_regions);
	mz__route_free(eng);
	pthread_mutex_destroy(&eng->mu);
	pthread_cond_destroy(&eng->cv);
	mz__cache_free(eng->cache);
	free(eng->db_url);
	free(eng->ui_base);
	free(eng);
}
