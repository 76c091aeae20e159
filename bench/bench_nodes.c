/*
 * bench_nodes.c - the engine on PostgreSQL with one node and with two
 * nodes on the same database, beside one node on SQLite, in the same run.
 *
 * Each figure: 1,000 pipelines of 10 `wait` stages (waitTime 0, a chain)
 * launched 100 per transaction, timed from the first launch until every
 * execution is SUCCEEDED (a count query every 5 ms), as bench_engine does.
 * A node is an engine with 2 workers and its own connections. "Two nodes"
 * forks a second process before anything starts, which runs its own engine
 * (another node id) on the same database until told to stop: the two claim
 * messages row by row with no lock between them, so on this 2-core machine
 * the pair should do at least 0.9x what one does (no lock convoy), and one
 * node on PostgreSQL at least 0.5x one node on SQLite.
 *
 * Usage: bench_nodes --db postgres://... [--dir DIR] [--pipelines N] [--reps N]
 * Each round starts on an empty database (the public schema is dropped and
 * made again). Lines starting with "RESULT|" are for bench/run's table.
 */
#include "engine/engine.h"

#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STAGES 10
#define LAUNCH_BATCH 100
#define TIMEOUT_S 180
#define MAX_REPS 9

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
	fprintf(stderr, "bench_nodes: %s: %s\n", what, msg);
	exit(1);
}

static void
reset_pg(const char *url)
{
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK)
		die("connect", PQerrorMessage(c));
	PGresult *r = PQexec(c, "SET client_min_messages = warning; "
	                         "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("reset schema", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

static json_t *
pipeline_config(const char *id)
{
	json_t *stages = json_array();
	for (int i = 1; i <= STAGES; i++) {
		json_t *req = json_array();
		if (i > 1)
			json_array_append_new(req, json_sprintf("%d", i - 1));
		json_array_append_new(stages, json_pack("{s:o, s:o, s:s, s:o, s:i}", "refId",
		                                        json_sprintf("%d", i),
		                                        "requisiteStageRefIds", req, "type", "wait",
		                                        "name", json_sprintf("wait %d", i),
		                                        "waitTime", 0));
	}
	return json_pack("{s:s, s:s, s:s, s:o}", "id", id, "application", "bench", "name",
	                 "linear", "stages", stages);
}

/* The second node: its own process and engine, until the pipe closes. */
static pid_t
start_peer(const char *url, int *stop_fd)
{
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die("fork", strerror(errno));
	if (pid == 0) {
		close(fds[1]);
		mz_err err = {0};
		mz_engine *eng = NULL;
		mz_engine_config cfg = {.db_url = url, .workers = 2, .node_id = "bench-node-2",
		                        .address = "127.0.0.1:2"};
		if (mz_engine_start(&cfg, &eng, &err))
			die("peer engine start", err.msg);
		char c;
		while (read(fds[0], &c, 1) > 0)
			;
		mz_engine_stop(eng);
		_exit(0);
	}
	close(fds[0]);
	*stop_fd = fds[1];
	return pid;
}

/* stages/s of one run on url (a fresh database) with nodes = 1 or 2. */
static double
engine_run(const char *url, int nodes, int npipes)
{
	mz_err err = {0};
	mz_store *st = NULL;
	mz_engine *eng = NULL;
	char cfg_id[37];
	int stop_fd = -1;
	pid_t peer = -1;

	if (mz_store_open(url, &st, &err))
		die("store open", err.msg);
	mz_uuid(cfg_id);
	json_t *cfg = pipeline_config(cfg_id);
	if (mz_pipeline_validate(cfg, &err) || mz_pipeline_put(st, cfg, &err))
		die("pipeline", err.msg);
	if (nodes > 1)
		peer = start_peer(url, &stop_fd);
	mz_engine_config ecfg = {.db_url = url, .workers = 2, .node_id = "bench-node-1",
	                         .address = "127.0.0.1:1"};
	if (mz_engine_start(&ecfg, &eng, &err))
		die("engine start", err.msg);

	double t0 = now_s();
	for (int done = 0; done < npipes;) {
		if (mz_store_begin(st, &err))
			die("begin", err.msg);
		for (int i = 0; i < LAUNCH_BATCH && done < npipes; i++, done++) {
			char id[27];
			if (mz_engine_launch_pipeline(eng, st, cfg, NULL, "bench", "api", id, &err))
				die("launch", err.msg);
		}
		if (mz_store_commit(st, &err))
			die("commit", err.msg);
		mz_engine_wake(eng);
	}
	int succeeded = 0;
	for (;;) {
		if (mz_exec_count_status(st, cfg_id, "SUCCEEDED", NULL, &succeeded, &err))
			die("count", err.msg);
		if (succeeded >= npipes)
			break;
		if (now_s() - t0 > TIMEOUT_S) {
			fprintf(stderr, "bench_nodes: %d of %d succeeded after %d s\n", succeeded, npipes,
			        TIMEOUT_S);
			exit(1);
		}
		usleep(5000);
	}
	double secs = now_s() - t0;
	mz_engine_stop(eng);
	if (peer > 0) {
		close(stop_fd);
		waitpid(peer, NULL, 0);
	}
	mz_store_close(st);
	json_decref(cfg);
	return (double)npipes * STAGES / secs;
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

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'b'},
		{"dir", required_argument, NULL, 'd'},
		{"pipelines", required_argument, NULL, 'n'},
		{"reps", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	const char *url = NULL, *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int npipes = 1000, reps = 3, c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': url = optarg; break;
		case 'd': base = optarg; break;
		case 'n': npipes = atoi(optarg); break;
		case 'r': reps = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s --db postgres://... [--dir DIR] [--pipelines N] "
			                "[--reps N]\n", argv[0]);
			return 2;
		}
	}
	if (!url) {
		fprintf(stderr, "bench_nodes: --db postgres://... is required\n");
		return 2;
	}
	if (npipes <= 0)
		npipes = 1000;
	if (reps <= 0 || reps > MAX_REPS)
		reps = 3;
	char dir[512], path[600];
	snprintf(dir, sizeof(dir), "%s/mz-bench-nodes-XXXXXX", base);
	if (!mkdtemp(dir))
		die("mkdtemp", strerror(errno));
	snprintf(path, sizeof(path), "%s/engine.db", dir);
	mz_log_set_level(MZ_LOG_WARN);
	mz_engine_register_builtin();
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("bench_nodes: %d pipelines x %d wait stages (a chain, waitTime 0), launched %d per "
	       "transaction; a node is an engine with 2 workers\n", npipes, STAGES, LAUNCH_BATCH);
	double sq[MAX_REPS], one[MAX_REPS], two[MAX_REPS];
	for (int k = 0; k < reps; k++) {
		char p[700];
		unlink(path);
		snprintf(p, sizeof(p), "%s-wal", path);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", path);
		unlink(p);
		sq[k] = engine_run(path, 1, npipes);
		reset_pg(url);
		one[k] = engine_run(url, 1, npipes);
		reset_pg(url);
		two[k] = engine_run(url, 2, npipes);
		printf("round %d: SQLite one node %.0f stages/s; PostgreSQL one node %.0f, two nodes "
		       "%.0f\n", k + 1, sq[k], one[k], two[k]);
	}
	/* Each ratio is taken within its round (the runs beside each other
	 * in the same minutes), then the median of the rounds': PostgreSQL's
	 * throughput drifts from round to round (its checkpoints, the
	 * machine), and a ratio of separate medians pairs runs of different
	 * rounds. */
	double r1[MAX_REPS], r2[MAX_REPS];
	for (int k = 0; k < reps; k++) {
		r1[k] = one[k] / sq[k];
		r2[k] = two[k] / one[k];
	}
	double msq = median(sq, reps), m1 = median(one, reps), m2 = median(two, reps);
	double q1 = median(r1, reps), q2 = median(r2, reps);
	printf("medians: SQLite one node %.0f stages/s; PostgreSQL one node %.0f, two nodes %.0f; "
	       "of the rounds' ratios: one node %.2fx SQLite, two nodes %.2fx one node\n", msq,
	       m1, m2, q1, q2);
	printf("RESULT|engine on PostgreSQL, one node (stages/s)|%.0f|%.0f (SQLite, one node)|%.2f|"
	       ">= 0.5x SQLite|%s\n", m1, msq, q1, q1 >= 0.5 ? "yes" : "NO");
	printf("RESULT|engine on PostgreSQL, two nodes (stages/s)|%.0f|%.0f (PostgreSQL, one node)|"
	       "%.2f|>= 0.9x one node|%s\n", m2, m1, q2, q2 >= 0.9 ? "yes" : "NO");
	unlink(path);
	rmdir(dir);
	return 0;
}
