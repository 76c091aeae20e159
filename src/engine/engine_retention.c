/*
 * engine_retention.c - what mizzen keeps, as DESIGN.md fixes it:
 * "retention": {"executionsPerPipeline": 200, "maxAgeDays": 90,
 * "configHistory": 50}. A background thread prunes, every intervalSeconds
 * (default 600) and a few seconds after start: finished executions beyond
 * the newest executionsPerPipeline of each pipeline, finished executions
 * and processed events older than maxAgeDays, config history beyond
 * configHistory versions, and the history of deleted pipelines; then, on
 * every node, the pruners other components registered for their files
 * (job workspaces, cloud tasks, bakes, unused images). Every store step
 * is its own transaction of at most RETENTION_BATCH rows, so the engine's
 * batches and the API's writes slip in between; running executions are
 * never touched (the store matches finished statuses only). One node of a
 * cluster prunes (lease "retention").
 */
#include "engine/engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RETENTION_BATCH 100
#define DAY_MS (24.0 * 3600 * 1000)

static bool
read_int(const json_t *cfg, const char *key, int *out, mz_err *err)
{
	json_t *v = json_object_get(cfg, key);
	if (!v)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000000) {
		mz_fail(err, MZ_EINVAL, "retention.%s must be a positive integer", key);
		return false;
	}
	*out = (int)json_integer_value(v);
	return true;
}

bool
mz_retention_from_json(const json_t *cfg, mz_retention *out, mz_err *err)
{
	*out = (mz_retention){.executions_per_pipeline = 200, .max_age_days = 90,
	                      .config_history = 50, .images_per_package = 5,
	                      .interval_ms = 600000};
	if (!cfg || json_is_null(cfg))
		return true;
	if (!json_is_object(cfg)) {
		mz_fail(err, MZ_EINVAL, "retention must be an object");
		return false;
	}
	int interval = 600;
	if (!read_int(cfg, "executionsPerPipeline", &out->executions_per_pipeline, err) ||
	    !read_int(cfg, "configHistory", &out->config_history, err) ||
	    !read_int(cfg, "imagesPerPackage", &out->images_per_package, err) ||
	    !read_int(cfg, "intervalSeconds", &interval, err))
		return false;
	out->interval_ms = (int64_t)interval * 1000;
	json_t *age = json_object_get(cfg, "maxAgeDays");
	if (age) {
		if (!json_is_number(age) || json_number_value(age) <= 0) {
			mz_fail(err, MZ_EINVAL, "retention.maxAgeDays must be a positive number");
			return false;
		}
		out->max_age_days = json_number_value(age);
	}
	return true;
}

/* The pruners of files (mz_engine_register_pruner), registered before the
 * engine starts and read only by the retention thread afterwards. */
#define MAX_PRUNERS 8
static struct {
	const char *name;
	mz_pruner_fn fn;
	void *udata;
} g_pruners[MAX_PRUNERS];
static int g_npruners;

void
mz_engine_register_pruner(const char *name, mz_pruner_fn fn, void *udata)
{
	for (int i = 0; i < g_npruners; i++) {
		if (strcmp(g_pruners[i].name, name) == 0) { /* registered again: replace */
			g_pruners[i].fn = fn;
			g_pruners[i].udata = udata;
			return;
		}
	}
	if (g_npruners < MAX_PRUNERS)
		g_pruners[g_npruners++] = (typeof(g_pruners[0])){name, fn, udata};
	else
		mz_warn("retention: too many pruners; %s ignored", name);
}

static bool
stopping(mz_engine *eng)
{
	pthread_mutex_lock(&eng->mu);
	bool s = eng->stopping;
	pthread_mutex_unlock(&eng->mu);
	return s;
}

enum prune_kind { P_EXEC_BEYOND, P_EXEC_OLD, P_EVENTS_OLD, P_HIST_BEYOND, P_HIST_DELETED,
                  P_CLOUD_OPS_OLD };

/* Runs one kind of pruning to its end in transactions of at most
 * RETENTION_BATCH rows; returns the rows deleted (-1 on a store failure). */
static long
prune(mz_engine *eng, mz_store *st, enum prune_kind kind, const char *id, int64_t param)
{
	long total = 0;
	for (;;) {
		if (stopping(eng))
			return total;
		mz_err err = {0};
		int n = 0;
		mz_code rc = mz_store_begin(st, &err);
		if (rc == MZ_OK) {
			switch (kind) {
			case P_EXEC_BEYOND:
				rc = mz_retention_executions_beyond(st, id, (int)param, RETENTION_BATCH, &n,
				                                    &err);
				break;
			case P_EXEC_OLD:
				rc = mz_retention_executions_before(st, param, RETENTION_BATCH, &n, &err);
				break;
			case P_EVENTS_OLD:
				rc = mz_retention_events_before(st, param, RETENTION_BATCH, &n, &err);
				break;
			case P_HIST_BEYOND:
				rc = mz_retention_history_beyond(st, id, (int)param, RETENTION_BATCH, &n, &err);
				break;
			case P_HIST_DELETED:
				rc = mz_retention_deleted_history(st, RETENTION_BATCH, &n, &err);
				break;
			case P_CLOUD_OPS_OLD:
				rc = mz_retention_cloud_ops_before(st, param, RETENTION_BATCH, &n, &err);
				break;
			}
			if (rc == MZ_OK)
				rc = mz_store_commit(st, &err);
			else
				mz_store_rollback(st);
		}
		if (rc != MZ_OK) {
			mz_warn("retention: %s (the next pass tries again)", err.msg);
			return -1;
		}
		total += n;
		if (n < RETENTION_BATCH)
			return total;
	}
}

/* The files of every node: each node prunes its own data directory. */
static void
prune_files(mz_engine *eng, mz_store *st)
{
	mz_prune_ctx pc = {.st = st, .retention = &eng->retention,
	                   .before_ms = mz_now_ms() -
	                                (int64_t)(eng->retention.max_age_days * DAY_MS)};
	for (int i = 0; i < g_npruners && !stopping(eng); i++)
		g_pruners[i].fn(&pc, g_pruners[i].udata);
}

static void
prune_store(mz_engine *eng, mz_store *st)
{
	const mz_retention *r = &eng->retention;
	long execs = 0, events = 0, history = 0, n;
	mz_err err = {0};
	json_t *list = NULL;
	size_t i;
	json_t *id;
	if (mz_retention_crowded_configs(st, r->executions_per_pipeline, &list, &err) == MZ_OK) {
		json_array_foreach(list, i, id) {
			n = prune(eng, st, P_EXEC_BEYOND, json_string_value(id),
			          r->executions_per_pipeline);
			execs += n > 0 ? n : 0;
		}
		json_decref(list);
	}
	int64_t before = mz_now_ms() - (int64_t)(r->max_age_days * DAY_MS);
	n = prune(eng, st, P_EXEC_OLD, NULL, before);
	execs += n > 0 ? n : 0;
	n = prune(eng, st, P_EVENTS_OLD, NULL, before);
	events += n > 0 ? n : 0;
	if (eng->shared) /* only several nodes route cloud operations through the store */
		prune(eng, st, P_CLOUD_OPS_OLD, NULL, before);
	/* and share the files builds publish (each node keeps its own copies
	 * in its artifact store): the shared copy goes after maxAgeDays, as
	 * events do, one file per transaction */
	for (int got = RETENTION_BATCH; eng->shared && got == RETENTION_BATCH && !stopping(eng);) {
		if (mz_blob_prune(st, before, RETENTION_BATCH, &got, &err) != MZ_OK) {
			mz_warn("retention: shared files: %s (the next pass tries again)", err.msg);
			break;
		}
	}
	list = NULL;
	if (mz_retention_crowded_histories(st, r->config_history, &list, &err) == MZ_OK) {
		json_array_foreach(list, i, id) {
			n = prune(eng, st, P_HIST_BEYOND, json_string_value(id), r->config_history);
			history += n > 0 ? n : 0;
		}
		json_decref(list);
	}
	n = prune(eng, st, P_HIST_DELETED, NULL, 0);
	history += n > 0 ? n : 0;
	if (execs || events || history)
		mz_info("retention: pruned %ld executions, %ld events, %ld config versions", execs,
		        events, history);
}

static void
pass(mz_engine *eng, mz_store *st)
{
	const mz_retention *r = &eng->retention;
	char why[300];
	if (!mz_store_writable(why, sizeof(why)))
		return;     /* a full disk or a locked database: not now */
	/* The store's rows first (so that what belonged to the executions
	 * pruned now goes in the same pass), under the cluster's lease. */
	if (mz_engine_lease(eng, st, "retention", 2 * r->interval_ms + 5000))
		prune_store(eng, st);
	prune_files(eng, st);
}

static void *
retention_main(void *arg)
{
	mz_engine *eng = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	/* The first pass shortly after start, then every interval. */
	int64_t next = mz_mono_ms() + (eng->retention.interval_ms < 5000 ?
	                               eng->retention.interval_ms : 5000);
	for (;;) {
		pthread_mutex_lock(&eng->mu);
		while (!eng->stopping && mz_mono_ms() < next) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t left = next - mz_mono_ms();
			if (left > 1000)
				left = 1000;
			int64_t ns = ts.tv_nsec + left * 1000000LL;
			ts.tv_sec += ns / 1000000000LL;
			ts.tv_nsec = ns % 1000000000LL;
			pthread_cond_timedwait(&eng->cv, &eng->mu, &ts);
		}
		bool stop = eng->stopping;
		pthread_mutex_unlock(&eng->mu);
		if (stop)
			break;
		if (!st && mz_store_open(eng->db_url, &st, &err) != MZ_OK) {
			mz_warn("retention: cannot open the store: %s", err.msg);
			st = NULL;
		}
		if (st)
			pass(eng, st);
		next = mz_mono_ms() + eng->retention.interval_ms;
	}
	mz_store_close(st);
	return NULL;
}

void
mz__retention_start(mz_engine *eng)
{
	eng->have_retention_thread =
		pthread_create(&eng->retention_thread, NULL, retention_main, eng) == 0;
}

void
mz__retention_stop(mz_engine *eng)
{
	if (eng->have_retention_thread)
		pthread_join(eng->retention_thread, NULL);
	eng->have_retention_thread = false;
}
