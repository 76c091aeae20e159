/*
 * bench_engine.c - engine throughput against the raw SQLite commit rate of
 * the same disk, measured in the same run.
 *
 * Baseline: single-row commits (BEGIN IMMEDIATE; one integer-key INSERT;
 * COMMIT) on a fresh SQLite file in WAL mode with the same synchronous
 * setting the store uses. Figure: the engine in-process with 2 workers on a
 * fresh store, 1,000 pipelines of 10 `wait` stages (waitTime 0) launched 100
 * per transaction, timed from the first launch until every execution is
 * SUCCEEDED (the store is polled with a count query every 5 ms).
 *
 * Launched the way the server launches triggers: each execution is built
 * and serialised outside any transaction (mz_engine_prepare_pipeline, the
 * HTTP thread's work), and each group of 100 is written in one transaction
 * on an urgent connection (the trigger committer's). The engine's workers
 * run meanwhile, so the figure is the engine's writer throughput with
 * launches arriving as they would through the API.
 *
 * Shapes: "linear" (a chain of 10) and "fanout" (1 -> 8 in parallel -> 1).
 * The linear shape is the headline figure; the fan-out and the
 * synchronous=FULL run (MZ_SQLITE_SYNC=FULL) are printed for information.
 *
 * Each figure is the median of --reps rounds (default 3), every round
 * measuring the baseline and then the engine on fresh files.
 *
 * Usage: bench_engine [--dir DIR] [--pipelines N] [--reps N] [--no-full]
 *                     [--no-fanout] [--only linear|fanout]
 * (--only: that shape alone, no baseline: what bench/stage-cost profiles)
 * Lines starting with "RESULT|" are for bench/run's summary table:
 *   RESULT|figure|value|baseline|ratio|target|met
 */
#include "engine/engine.h"

#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STAGES_PER_PIPELINE 10
#define LAUNCH_BATCH 100
#define POLL_US 5000
#define TIMEOUT_S 120

static const char *dir;
static bool no_slice;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_engine: %s: %s\n", what, msg);
	exit(1);
}

static void
remove_db(const char *path)
{
	char p[600];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static void
sql(sqlite3 *db, const char *text)
{
	char *msg = NULL;
	if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK)
		die(text, msg ? msg : "?");
}

/* ---- baseline: raw single-row commits ---------------------------------- */

static double
raw_commit_rate(const char *sync, int n)
{
	char path[512], pragma[64];
	sqlite3 *db;
	sqlite3_stmt *begin, *ins, *commit;

	snprintf(path, sizeof(path), "%s/raw-%s.db", dir, sync);
	remove_db(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die("open", sqlite3_errmsg(db));
	sql(db, "PRAGMA journal_mode = WAL");
	snprintf(pragma, sizeof(pragma), "PRAGMA synchronous = %s", sync);
	sql(db, pragma);
	sql(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER NOT NULL)");
	if (sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO t(id, v) VALUES (?1, ?2)", -1, &ins, NULL) ||
	    sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL))
		die("prepare", sqlite3_errmsg(db));

	double t0 = now_s();
	for (int i = 1; i <= n; i++) {
		sqlite3_bind_int(ins, 1, i);
		sqlite3_bind_int(ins, 2, i * 7);
		if (sqlite3_step(begin) != SQLITE_DONE || sqlite3_step(ins) != SQLITE_DONE ||
		    sqlite3_step(commit) != SQLITE_DONE)
			die("raw commit", sqlite3_errmsg(db));
		sqlite3_reset(begin);
		sqlite3_reset(ins);
		sqlite3_reset(commit);
	}
	double secs = now_s() - t0;
	sqlite3_finalize(begin);
	sqlite3_finalize(ins);
	sqlite3_finalize(commit);
	sqlite3_close(db);
	remove_db(path);
	return n / secs;
}

/* ---- figure: the engine ------------------------------------------------ */

static json_t *
pipeline_config(const char *shape, const char *id)
{
	json_t *stages = json_array();
	for (int i = 1; i <= STAGES_PER_PIPELINE; i++) {
		char ref[16], name[32];
		snprintf(ref, sizeof(ref), "%d", i);
		snprintf(name, sizeof(name), "wait %d", i);
		json_t *req = json_array();
		if (strcmp(shape, "linear") == 0) {
			if (i > 1)
				json_array_append_new(req, json_sprintf("%d", i - 1));
		} else if (i == STAGES_PER_PIPELINE) { /* the join */
			for (int j = 2; j < STAGES_PER_PIPELINE; j++)
				json_array_append_new(req, json_sprintf("%d", j));
		} else if (i > 1) { /* the fan-out branches */
			json_array_append_new(req, json_string("1"));
		}
		json_array_append_new(stages, json_pack("{s:s, s:o, s:s, s:s, s:i}", "refId", ref,
		                                        "requisiteStageRefIds", req, "type", "wait",
		                                        "name", name, "waitTime", 0));
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:b}", "id", id, "application", "bench", "name",
	                 shape, "stages", stages, "limitConcurrent", 0);
}

/* Messages the engine enqueued (AUTOINCREMENT high-water mark of the queue
 * table; a de-duplicated push is not counted). -1 if unavailable. */
static long
messages_enqueued(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	long n = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	if (sqlite3_prepare_v2(db, "SELECT seq FROM sqlite_sequence WHERE name = 'queue'", -1, &q,
	                       NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			n = (long)sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	return n;
}

typedef struct run_result {
	double secs;
	double stages_per_s;
	long messages;
	int stages_seen; /* stages in one finished execution (sanity check) */
} run_result;

static run_result
engine_run(const char *shape, const char *sync, int npipes)
{
	char path[512], cfg_id[37];
	mz_err err = {0};
	mz_store *st;
	mz_engine *eng;
	run_result res = {0};

	setenv("MZ_SQLITE_SYNC", sync, 1); /* read by every mz_store_open */
	snprintf(path, sizeof(path), "%s/engine-%s-%s.db", dir, shape, sync);
	remove_db(path);
	if (mz_store_open(path, &st, &err))
		die("store open", err.msg);
	mz_uuid(cfg_id);
	json_t *cfg = pipeline_config(shape, cfg_id);
	if (mz_pipeline_validate(cfg, &err))
		die("pipeline config", err.msg);
	if (mz_pipeline_put(st, cfg, &err))
		die("pipeline put", err.msg);

	/* Keep every execution: retention must not prune during the run.
	 * --only (bench/stage-cost, under valgrind): batches bounded by counts,
	 * not by a wall-clock slice that would measure valgrind's slowness. */
	mz_retention keep = {.executions_per_pipeline = 100000000, .max_age_days = 36500,
	                     .config_history = 100000000, .interval_ms = 3600000};
	mz_engine_config ecfg = {.db_url = path, .workers = 2, .retention = &keep,
	                         .slice_ms = no_slice ? -1 : 0};
	if (mz_engine_start(&ecfg, &eng, &err))
		die("engine start", err.msg);

	/* Launched as the server launches a trigger (src/api/api_launch.c): the
	 * execution is built and serialised with no lock held (an HTTP thread's
	 * mz_engine_prepare_pipeline), then a group is written in one short
	 * transaction on an urgent connection (the trigger committer's), so
	 * engine batches let it in first. The workers run meanwhile: building
	 * executions is not the engine's writer's work, in the server or here. */
	mz_store_set_urgent(st, true);
	mz_launch *group[LAUNCH_BATCH];
	double t0 = now_s();
	char first_id[27] = "";
	for (int done = 0; done < npipes;) {
		int n = 0;
		for (; n < LAUNCH_BATCH && done + n < npipes; n++)
			if (mz_engine_prepare_pipeline(eng, st, cfg, NULL, "bench", "api", &group[n], &err))
				die("launch", err.msg);
		if (mz_store_begin(st, &err))
			die("begin", err.msg);
		for (int i = 0; i < n; i++)
			if (mz_engine_launch_store(st, group[i], &err))
				die("launch", err.msg);
		if (mz_store_commit(st, &err))
			die("commit", err.msg);
		if (!first_id[0])
			snprintf(first_id, sizeof(first_id), "%s", mz_launch_id(group[0]));
		for (int i = 0; i < n; i++)
			mz_engine_launch_done(eng, group[i], true);
		done += n;
		mz_engine_wake(eng);
	}
	mz_store_set_urgent(st, false);

	int succeeded = 0, polls = 0;
	for (;;) {
		if (mz_exec_count_status(st, cfg_id, "SUCCEEDED", NULL, &succeeded, &err))
			die("count", err.msg);
		if (succeeded >= npipes)
			break;
		if (++polls % 200 == 0) { /* about once a second: give up on failures */
			int bad = 0, n;
			const char *halts[] = {"TERMINAL", "CANCELED", "STOPPED", NULL};
			for (int i = 0; halts[i]; i++)
				if (!mz_exec_count_status(st, cfg_id, halts[i], NULL, &n, &err))
					bad += n;
			if (bad)
				die(shape, "some executions did not succeed");
			if (now_s() - t0 > TIMEOUT_S) {
				fprintf(stderr, "bench_engine: %d of %d succeeded after %d s\n",
				        succeeded, npipes, TIMEOUT_S);
				exit(1);
			}
		}
		usleep(POLL_US);
	}
	res.secs = now_s() - t0;

	json_t *e = NULL;
	if (mz_exec_get(st, first_id, &e, &err) == MZ_OK) {
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(e, "stages"), i, s) {
			if (mz_streq(mz_json_str(s, "status"), "SUCCEEDED"))
				res.stages_seen++;
		}
		json_decref(e);
	}
	mz_engine_stop(eng);
	mz_store_close(st);
	json_decref(cfg);
	res.stages_per_s = (double)npipes * STAGES_PER_PIPELINE / res.secs;
	res.messages = messages_enqueued(path);
	remove_db(path);
	return res;
}

static void
result_line(const char *figure, const char *value, const char *baseline, double ratio,
            const char *target, const char *met)
{
	printf("RESULT|%s|%s|%s|%.2f|%s|%s\n", figure, value, baseline, ratio, target, met);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_REPS 9

/* One synchronous setting: reps rounds of (baseline, then each shape),
 * interleaved so that both see the same disk conditions; medians reported. */
static void
bench_sync(const char *sync, int npipes, int reps, bool fanout, bool headline)
{
	const char *shapes[] = {"linear", fanout ? "fanout" : NULL};
	int nshapes = fanout ? 2 : 1;
	int raw_n = strcmp(sync, "FULL") == 0 ? 5000 : 20000; /* FULL fsyncs every commit */
	double raw[MAX_REPS], rate[2][MAX_REPS], own[2][MAX_REPS];
	run_result last[2] = {{0}};

	printf("\n== synchronous=%s%s: %d rounds, medians ==\n", sync,
	       headline ? "" : " (information only)", reps);
	for (int k = 0; k < reps; k++) {
		raw[k] = raw_commit_rate(sync, raw_n);
		printf("round %d: raw %.0f commits/s", k + 1, raw[k]);
		for (int i = 0; i < nshapes; i++) {
			last[i] = engine_run(shapes[i], sync, npipes);
			rate[i][k] = last[i].stages_per_s;
			own[i][k] = rate[i][k] / raw[k];
			printf("; %s %.0f stages/s (%.3f s, %.3fx)", shapes[i], rate[i][k], last[i].secs,
			       own[i][k]);
			if (last[i].stages_seen != STAGES_PER_PIPELINE)
				printf(" [sampled execution has %d SUCCEEDED stages!]", last[i].stages_seen);
		}
		printf("\n");
	}
	double raw_med = median(raw, reps);
	printf("baseline: raw SQLite single-row commits (WAL, synchronous=%s, %d commits each): "
	       "%.0f commits/s\n", sync, raw_n, raw_med);

	for (int i = 0; i < nshapes; i++) {
		double sps = median(rate[i], reps);
		double ratio = sps / raw_med;
		bool head = headline && i == 0;
		bool ok_abs = sps >= 5000, ok_rel = ratio >= 0.25;
		printf("engine %-6s %d pipelines x %d stages: %.0f stages/s  (%ld messages went "
		       "through the stored queue, %.2f per stage; the rest were handled within "
		       "their batch)\n",
		       shapes[i], npipes, STAGES_PER_PIPELINE, sps, last[i].messages,
		       last[i].messages > 0 ? (double)last[i].messages /
		                                  (npipes * STAGES_PER_PIPELINE) : 0.0);
		printf("  ratio stages/s : raw commits/s = %.3f  (target >= 0.25: %s)\n", ratio,
		       ok_rel ? "met" : "NOT MET");
		/* the same, round by round (each engine run beside the baseline
		 * measured just before it): on a shared machine the load moves
		 * between rounds more than within one */
		printf("  median of the rounds' own ratios = %.3f\n", median(own[i], reps));
		if (head)
			printf("  stages/s %.0f (target >= 5000: %s)\n", sps, ok_abs ? "met" : "NOT MET");
		char fig[128], val[64], base[64];
		snprintf(fig, sizeof(fig), "engine stages/s (%s, sync=%s)%s", shapes[i], sync,
		         head ? "" : " [info]");
		snprintf(val, sizeof(val), "%.0f", sps);
		snprintf(base, sizeof(base), "%.0f commits/s", raw_med);
		if (head)
			result_line(fig, val, base, ratio, ">= 5000 and >= 0.25x raw",
			            ok_abs && ok_rel ? "yes" : "NO");
		else
			result_line(fig, val, base, ratio, "(info) >= 0.25x raw", ok_rel ? "yes" : "no");
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"pipelines", required_argument, NULL, 'n'},
		{"no-full", no_argument, NULL, 'F'},
		{"no-fanout", no_argument, NULL, 'P'},
		{"reps", required_argument, NULL, 'r'},
		{"only", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int npipes = 1000, reps = 3, c;
	bool full = true, fanout = true;
	const char *only = NULL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': base = optarg; break;
		case 'n': npipes = atoi(optarg); break;
		case 'F': full = false; break;
		case 'P': fanout = false; break;
		case 'r': reps = atoi(optarg); break;
		case 'o': only = optarg; break;
		default:
			fprintf(stderr, "usage: %s [--dir DIR] [--pipelines N] [--no-full] "
			                "[--no-fanout] [--reps N] [--only linear|fanout]\n", argv[0]);
			return 2;
		}
	}
	if (npipes <= 0)
		npipes = 1000;
	if (reps <= 0 || reps > MAX_REPS)
		reps = 3;

	char tmpl[512];
	snprintf(tmpl, sizeof(tmpl), "%s/mz-bench-engine-XXXXXX", base);
	if (!mkdtemp(tmpl))
		die("mkdtemp", strerror(errno));
	dir = tmpl;
	mz_log_set_level(MZ_LOG_WARN);
	mz_engine_register_builtin();
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (only) {
		if (strcmp(only, "linear") && strcmp(only, "fanout")) {
			fprintf(stderr, "bench_engine: --only takes linear or fanout\n");
			return 2;
		}
		no_slice = true;
		run_result r = engine_run(only, "NORMAL", npipes);
		printf("%s: %d pipelines x %d stages in %.3f s, %.0f stages/s\n", only, npipes,
		       STAGES_PER_PIPELINE, r.secs, r.stages_per_s);
		rmdir(dir);
		return r.stages_seen == STAGES_PER_PIPELINE ? 0 : 1;
	}
	printf("bench_engine: %d pipelines x %d wait stages (waitTime 0), launched %d per "
	       "transaction, 2 workers, store %s\n",
	       npipes, STAGES_PER_PIPELINE, LAUNCH_BATCH, dir);
	bench_sync("NORMAL", npipes, reps, fanout, true);
	if (full)
		bench_sync("FULL", npipes, 1, false, false);
	rmdir(dir);
	return 0;
}
