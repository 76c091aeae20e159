/* test_store.c - every store operation through the public API, on a fresh
 * SQLite file, or on the database named by $MZ_TEST_STORE_URL (the
 * integration suite test_store_pg.py runs this binary against a throwaway
 * PostgreSQL): both drivers carry the same operations, so both must give
 * the same answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/store.h"

static char dir[256];

static int
open_store(void **state)
{
	const char *url = getenv("MZ_TEST_STORE_URL");
	char path[300];
	mz_err err = {0};
	mz_store *st = NULL;
	if (url && *url) {
		/* every test starts on an empty database */
		PGconn *c = PQconnectdb(url);
		PGresult *r = PQexec(c, "SET client_min_messages = warning; "
	                         "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		PQfinish(c);
		if (!ok)
			return -1;
	} else {
		snprintf(dir, sizeof(dir), "/tmp/mz-test-store-XXXXXX");
		if (!mkdtemp(dir))
			return -1;
		snprintf(path, sizeof(path), "%s/store.db", dir);
		url = path;
	}
	if (mz_store_open(url, &st, &err) != MZ_OK) {
		fprintf(stderr, "open: %s\n", err.msg);
		return -1;
	}
	*state = st;
	return 0;
}

static int
close_store(void **state)
{
	mz_store_close(*state);
	if (dir[0]) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return -1;
		dir[0] = '\0';
	}
	return 0;
}

static json_t *
J(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	assert_non_null(v);
	return v;
}

static void
test_applications(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	json_t *a = J("{\"name\": \"Demo\", \"email\": \"a@b\"}"), *got = NULL, *list = NULL;
	assert_int_equal(mz_app_put(st, a, &err), MZ_OK);
	assert_int_equal(mz_app_get(st, "DEMO", &got, &err), MZ_OK);
	assert_string_equal(mz_json_str(got, "email"), "a@b");
	json_decref(got);
	json_object_set_new(a, "email", json_string("c@d"));
	assert_int_equal(mz_app_put(st, a, &err), MZ_OK);
	json_t *b = J("{\"name\": \"another\"}");
	assert_int_equal(mz_app_put(st, b, &err), MZ_OK);
	assert_int_equal(mz_app_list(st, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(mz_json_str(json_array_get(list, 0), "name"), "another");
	assert_string_equal(mz_json_str(json_array_get(list, 1), "email"), "c@d");
	json_decref(list);
	assert_int_equal(mz_app_delete(st, "demo", &err), MZ_OK);
	assert_int_equal(mz_app_get(st, "demo", &got, &err), MZ_ENOTFOUND);
	assert_non_null(strstr(err.msg, "Application not found"));
	json_t *noname = J("{}");
	assert_int_equal(mz_app_put(st, noname, &err), MZ_EINVAL);
	json_decref(noname);
	json_decref(a);
	json_decref(b);
}

static void
test_pipelines(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	json_t *c1 = J("{\"id\": \"p1\", \"application\": \"app\", \"name\": \"Deploy\", \"index\": 1}");
	json_t *c2 = J("{\"id\": \"p2\", \"application\": \"app\", \"name\": \"build\", \"index\": 0}");
	json_t *got = NULL, *list = NULL;
	assert_int_equal(mz_pipeline_put(st, c1, &err), MZ_OK);
	assert_int_equal(mz_pipeline_put(st, c1, &err), MZ_OK); /* same body: one version */
	assert_int_equal(mz_pipeline_put(st, c2, &err), MZ_OK);
	json_object_set_new(c1, "x", json_integer(1));
	assert_int_equal(mz_pipeline_put(st, c1, &err), MZ_OK);
	assert_int_equal(mz_pipeline_history(st, "p1", 0, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(mz_json_int(json_array_get(list, 0), "x", 0), 1);
	json_decref(list);
	assert_int_equal(mz_pipeline_history(st, "p1", 1, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(mz_pipeline_get_by_name(st, "app", "Deploy", &got, &err), MZ_OK);
	json_decref(got);
	assert_int_equal(mz_pipeline_get_by_name(st, "app", "deploy", &got, &err), MZ_ENOTFOUND);
	assert_int_equal(mz_pipeline_find_name_ci(st, "app", "DEPLOY", &got, &err), MZ_OK);
	assert_string_equal(mz_json_str(got, "id"), "p1");
	json_decref(got);
	assert_int_equal(mz_pipeline_list(st, "app", &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(mz_json_str(json_array_get(list, 0), "id"), "p2"); /* by index */
	json_decref(list);
	assert_int_equal(mz_pipeline_list(st, NULL, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	assert_int_equal(mz_pipeline_delete(st, "p2", &err), MZ_OK);
	assert_int_equal(mz_pipeline_get(st, "p2", &got, &err), MZ_ENOTFOUND);
	assert_int_equal(mz_pipeline_get(st, "p1", &got, &err), MZ_OK);
	json_decref(got);
	json_decref(c1);
	json_decref(c2);
}

static void
put_exec(mz_store *st, const char *id, const char *cfg, const char *status, int64_t build)
{
	mz_err err = {0};
	json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", id, "type", "PIPELINE",
	                      "application", "app", "pipelineConfigId", cfg, "status", status,
	                      "buildTime", (json_int_t)build);
	assert_int_equal(mz_exec_put(st, e, &err), MZ_OK);
	json_decref(e);
}

static void
test_executions(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	json_t *got = NULL, *list = NULL;
	put_exec(st, "e1", "c1", "SUCCEEDED", 100);
	put_exec(st, "e2", "c1", "RUNNING", 200);
	put_exec(st, "e3", "c2", "RUNNING", 300);
	put_exec(st, "e2", "c1", "TERMINAL", 200); /* an update */
	assert_int_equal(mz_exec_get(st, "e2", &got, &err), MZ_OK);
	assert_string_equal(mz_json_str(got, "status"), "TERMINAL");
	json_decref(got);
	char *raw = NULL;
	size_t len = 0;
	char type[16];
	assert_int_equal(mz_exec_get_raw(st, "e3", &raw, &len, type, &err), MZ_OK);
	assert_string_equal(type, "PIPELINE");
	assert_int_equal(strlen(raw), len);
	assert_non_null(strstr(raw, "\"e3\""));
	free(raw);
	assert_int_equal(mz_exec_get_raw(st, "nope", &raw, &len, type, &err), MZ_ENOTFOUND);

	const char *cfgs[] = {"c1", NULL};
	const char *running[] = {"RUNNING", "TERMINAL", NULL};
	mz_exec_query q = {.config_ids = cfgs};
	assert_int_equal(mz_exec_query_run(st, &q, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(mz_json_str(json_array_get(list, 0), "id"), "e2"); /* newest first */
	json_decref(list);
	mz_exec_query q2 = {.application = "app", .statuses = running, .limit = 1, .offset = 1};
	assert_int_equal(mz_exec_query_run(st, &q2, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(mz_json_str(json_array_get(list, 0), "id"), "e2");
	json_decref(list);
	mz_exec_query q3 = {.type = "PIPELINE", .limit_per_config = 1};
	assert_int_equal(mz_exec_query_run(st, &q3, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2); /* e3 (c2) and e2 (c1) */
	json_decref(list);

	int n = -1;
	assert_int_equal(mz_exec_count_status(st, "c1", "TERMINAL", NULL, &n, &err), MZ_OK);
	assert_int_equal(n, 1);
	assert_int_equal(mz_exec_count_status(st, "c1", "TERMINAL", "e2", &n, &err), MZ_OK);
	assert_int_equal(n, 0);
	assert_int_equal(mz_exec_delete(st, "e1", &err), MZ_OK);
	assert_int_equal(mz_exec_get(st, "e1", &got, &err), MZ_ENOTFOUND);
}

static void
test_queue(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	mz_msg out[8];
	int n = 0, count = 0;
	int64_t when = 0;
	json_t *m1 = J("{\"kind\": \"startStage\", \"executionId\": \"x1\", \"stageId\": \"s\"}");
	json_t *m1b = J("{\"stageId\": \"s\", \"executionId\": \"x1\", \"kind\": \"startStage\"}");
	json_t *m2 = J("{\"kind\": \"runTask\", \"executionId\": \"x2\"}");

	assert_int_equal(mz_queue_next_due(st, &when, &err), MZ_OK);
	assert_true(when == INT64_MAX);
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_queue_push(st, m1, 1000, &err), MZ_OK);
	assert_int_equal(mz_queue_push(st, m1b, 500, &err), MZ_OK); /* same message: moved */
	assert_int_equal(mz_queue_push(st, m2, 2000, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	assert_int_equal(mz_queue_count_for_execution(st, "x1", &count, &err), MZ_OK);
	assert_int_equal(count, 1);
	assert_int_equal(mz_queue_next_due(st, &when, &err), MZ_OK);
	assert_int_equal(when, 500);
	assert_int_equal(mz_queue_reschedule(st, m2, 1500, &err), MZ_OK);
	json_t *absent = J("{\"kind\": \"never\"}");
	assert_int_equal(mz_queue_reschedule(st, absent, 10, &err), MZ_OK); /* no-op */
	json_decref(absent);

	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_queue_claim(st, 1600, 60000, out, 8, &n, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	assert_int_equal(n, 2);
	assert_string_equal(mz_json_str(out[0].body, "kind"), "startStage");
	assert_int_equal(out[0].attempts, 1);
	assert_int_equal(out[1].deliver_at, 1500);
	/* leased: not due again before the lease ends, and a push of the same
	 * message does not move it while its handler is at work */
	assert_int_equal(mz_queue_push(st, m1, 0, &err), MZ_OK);
	assert_int_equal(mz_queue_next_due(st, &when, &err), MZ_OK);
	assert_int_equal(when, 61600);
	assert_int_equal(mz_queue_set_delivery(st, out[1].id, 1700, &err), MZ_OK);
	assert_int_equal(mz_queue_release_leases(st, 1800, &err), MZ_OK);
	assert_int_equal(mz_queue_next_due(st, &when, &err), MZ_OK);
	assert_int_equal(when, 1700);
	assert_int_equal(mz_queue_ack(st, out[0].id, &err), MZ_OK);
	assert_int_equal(mz_queue_ack(st, out[1].id, &err), MZ_OK);
	mz_msg_release(&out[0]);
	mz_msg_release(&out[1]);
	assert_int_equal(mz_queue_next_due(st, &when, &err), MZ_OK);
	assert_true(when == INT64_MAX);
	json_t *bad = J("{\"x\": 1}");
	assert_int_equal(mz_queue_push(st, bad, 0, &err), MZ_EINVAL);
	json_decref(bad);
	json_decref(m1);
	json_decref(m1b);
	json_decref(m2);
}

static void
test_pending_outbox_kv(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	json_t *a = J("{\"n\": 1}"), *b = J("{\"n\": 2}"), *got = NULL, *list = NULL;
	int n = 0;
	assert_int_equal(mz_pending_push(st, "cfg", a, &err), MZ_OK);
	assert_int_equal(mz_pending_push(st, "cfg", b, &err), MZ_OK);
	assert_int_equal(mz_pending_count(st, "cfg", &n, &err), MZ_OK);
	assert_int_equal(n, 2);
	assert_int_equal(mz_pending_pop(st, "cfg", true, &got, &err), MZ_OK);
	assert_int_equal(mz_json_int(got, "n", 0), 2);
	json_decref(got);
	assert_int_equal(mz_pending_pop(st, "cfg", false, &got, &err), MZ_OK);
	assert_int_equal(mz_json_int(got, "n", 0), 1);
	json_decref(got);
	assert_int_equal(mz_pending_pop(st, "cfg", false, &got, &err), MZ_OK);
	assert_null(got);

	assert_int_equal(mz_outbox_push(st, a, &err), MZ_OK);
	assert_int_equal(mz_outbox_push(st, b, &err), MZ_OK);
	assert_int_equal(mz_outbox_fetch(st, 0, 10, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	int64_t first = mz_json_int(json_array_get(list, 0), "id", 0);
	assert_int_equal(mz_json_int(json_object_get(json_array_get(list, 1), "event"), "n", 0), 2);
	json_decref(list);
	assert_int_equal(mz_outbox_delete(st, first, &err), MZ_OK);
	assert_int_equal(mz_outbox_fetch(st, 0, 10, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);

	char *v = NULL;
	assert_int_equal(mz_kv_get(st, "k", &v, &err), MZ_ENOTFOUND);
	assert_null(v);
	assert_int_equal(mz_kv_put(st, "k", "one", &err), MZ_OK);
	assert_int_equal(mz_kv_put(st, "k", "two", &err), MZ_OK);
	assert_int_equal(mz_kv_get(st, "k", &v, &err), MZ_OK);
	assert_string_equal(v, "two");
	free(v);
	json_decref(a);
	json_decref(b);
}

/* src/auth's records: listing by prefix (exactly the prefix, whatever the
 * collation), deleting; and the audit trail, newest first, filtered. */
static void
test_kv_list_and_audit(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	json_t *pairs = NULL;
	assert_int_equal(mz_kv_put(st, "auth/user/a", "1", &err), MZ_OK);
	assert_int_equal(mz_kv_put(st, "auth/user/b", "2", &err), MZ_OK);
	assert_int_equal(mz_kv_put(st, "auth/user", "not under the prefix", &err), MZ_OK);
	assert_int_equal(mz_kv_put(st, "auth/userx", "nor this", &err), MZ_OK);
	assert_int_equal(mz_kv_put(st, "auth/token/t", "3", &err), MZ_OK);
	assert_int_equal(mz_kv_list(st, "auth/user/", &pairs, &err), MZ_OK);
	assert_int_equal(json_object_size(pairs), 2);
	assert_string_equal(mz_json_str(pairs, "auth/user/b"), "2");
	json_decref(pairs);
	assert_int_equal(mz_kv_delete(st, "auth/user/a", &err), MZ_OK);
	assert_int_equal(mz_kv_delete(st, "auth/user/a", &err), MZ_OK); /* absent: fine */
	assert_int_equal(mz_kv_list(st, "auth/user/", &pairs, &err), MZ_OK);
	assert_int_equal(json_object_size(pairs), 1);
	json_decref(pairs);

	for (int i = 0; i < 5; i++) {
		json_t *e = json_pack("{s:I, s:s, s:s, s:i}", "time", (json_int_t)(1000 + i), "user",
		                      i % 2 ? "alice" : "bob", "method", "POST", "status", 200 + i);
		if (i < 4)
			json_object_set_new(e, "application", json_string(i < 2 ? "app1" : "app2"));
		assert_int_equal(mz_audit_add(st, e, &err), MZ_OK);
		json_decref(e);
	}
	json_t *list = NULL;
	assert_int_equal(mz_audit_list(st, NULL, NULL, 3, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 3);
	assert_int_equal(mz_json_int(json_array_get(list, 0), "status", 0), 204);
	json_decref(list);
	assert_int_equal(mz_audit_list(st, "app1", NULL, 10, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(mz_json_int(json_array_get(list, 0), "status", 0), 201);
	json_decref(list);
	assert_int_equal(mz_audit_list(st, NULL, "alice", 10, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	assert_int_equal(mz_audit_list(st, "app2", "bob", 10, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(mz_json_int(json_array_get(list, 0), "status", 0), 202);
	json_decref(list);
}

static void
test_events_deliveries(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	json_t *ev = J("{\"source\": \"x\"}"), *list = NULL, *got = NULL;
	bool added = false;
	assert_int_equal(mz_event_add(st, "ev-1", ev, &added, &err), MZ_OK);
	assert_true(added);
	assert_int_equal(mz_event_add(st, "ev-1", ev, &added, &err), MZ_OK);
	assert_false(added);
	assert_int_equal(mz_event_add(st, "", ev, &added, &err), MZ_EINVAL);
	assert_int_equal(mz_event_pending(st, 0, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 1);
	int64_t seq = mz_json_int(json_array_get(list, 0), "seq", 0);
	assert_string_equal(mz_json_str(json_array_get(list, 0), "eventId"), "ev-1");
	json_decref(list);
	assert_int_equal(mz_event_get(st, "ev-1", &got, &err), MZ_OK);
	assert_false(json_is_true(json_object_get(got, "processed")));
	assert_true(json_is_null(json_object_get(got, "result")));
	json_decref(got);
	json_t *res = J("{\"executions\": [\"a\"]}");
	assert_int_equal(mz_event_done(st, seq, res, &err), MZ_OK);
	json_decref(res);
	assert_int_equal(mz_event_get(st, "ev-1", &got, &err), MZ_OK);
	assert_true(json_is_true(json_object_get(got, "processed")));
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(json_object_get(got, "result"), "executions"), 0)),
	                    "a");
	json_decref(got);
	assert_int_equal(mz_event_pending(st, 10, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(mz_event_get(st, "nope", &got, &err), MZ_ENOTFOUND);

	assert_int_equal(mz_delivery_push(st, ev, 100, &err), MZ_OK);
	assert_int_equal(mz_delivery_due(st, 50, 0, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(mz_delivery_due(st, 100, 0, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 1);
	int64_t id = mz_json_int(json_array_get(list, 0), "id", 0);
	json_decref(list);
	assert_int_equal(mz_delivery_retry(st, id, 200, "refused", &err), MZ_OK);
	assert_int_equal(mz_delivery_due(st, 200, 0, &list, &err), MZ_OK);
	assert_int_equal(mz_json_int(json_array_get(list, 0), "attempts", 0), 1);
	json_decref(list);
	assert_int_equal(mz_delivery_delete(st, id, &err), MZ_OK);
	assert_int_equal(mz_delivery_due(st, 1000, 0, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	json_decref(ev);
}

/* A rolled-back transaction leaves nothing; a failed statement reports an
 * error instead of crashing, and the connection stays usable. */
static void
test_transactions(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	char *v = NULL;
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_kv_put(st, "tx", "1", &err), MZ_OK);
	mz_store_rollback(st);
	assert_int_equal(mz_kv_get(st, "tx", &v, &err), MZ_ENOTFOUND);
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_kv_put(st, "tx", "2", &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	assert_int_equal(mz_kv_get(st, "tx", &v, &err), MZ_OK);
	assert_string_equal(v, "2");
	free(v);
	assert_string_equal(mz_store_kind(st),
	                    getenv("MZ_TEST_STORE_URL") && *getenv("MZ_TEST_STORE_URL")
	                        ? "postgres" : "sqlite");
}


typedef struct lone_writer {
	char url[300];
	mz_code rc;
} lone_writer;

static void *
lone_write(void *arg)
{
	lone_writer *w = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	w->rc = mz_store_open(w->url, &st, &err);
	if (w->rc == MZ_OK) {
		mz_store_set_urgent(st, true);
		w->rc = mz_kv_put(st, "lone", "yes", &err); /* no transaction */
		mz_store_close(st);
	}
	return NULL;
}

/* A write outside any transaction (an audit row, a heartbeat) waits for
 * the write lock like a transaction does: queued on the process's writer
 * mutex, counted as an urgent writer (so engine batches let it in), not
 * polling SQLite's busy handler with sleeps of up to 100 ms. */
static void
test_lone_write_queues(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	char *v = NULL;
	if (strcmp(mz_store_kind(st), "sqlite") != 0)
		skip();
	lone_writer w = {.rc = MZ_EIO};
	snprintf(w.url, sizeof(w.url), "%s/store.db", dir);
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_kv_put(st, "held", "1", &err), MZ_OK);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, lone_write, &w), 0);
	int waited = 0;
	while (mz_store_urgent_waiting() != 1 && waited++ < 5000)
		usleep(1000);
	assert_int_equal(mz_store_urgent_waiting(), 1);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	pthread_join(t, NULL);
	assert_int_equal(w.rc, MZ_OK);
	assert_int_equal(mz_store_urgent_waiting(), 0);
	assert_int_equal(mz_kv_get(st, "lone", &v, &err), MZ_OK);
	assert_string_equal(v, "yes");
	free(v);
	/* and the lock is free again: a transaction of this thread begins */
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
}

static long long
file_size(const char *name)
{
	char path[320];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* The WAL is checkpointed by a thread of its own (store_wal.c), not by
 * the commit that fills it: what is committed still reaches the database
 * file, and the WAL still starts again from its beginning, so it stays
 * bounded under a stream of commits that never pauses. */
static void
test_wal_checkpoints(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	if (strcmp(mz_store_kind(st), "sqlite") != 0)
		skip();
	char key[32], value[3001];
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	long long db0 = file_size("store.db");
	for (int i = 0; i < 3000; i++) { /* about 12,000 WAL frames */
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(mz_kv_put(st, key, value, &err), MZ_OK);
	}
	/* below the 16,000 frames at which the writer would checkpoint:
	 * the thread copies all but the last 1,000 frames at most (which it
	 * waits for), also those committed while its last pass ran; its copy
	 * and fsync of ~50 MB is slow on a busy disk (CI failed after 10 s at
	 * load 8), so the wait is for the state, up to a minute */
	int64_t until = mz_mono_ms() + 60000;
	while (file_size("store.db") < db0 + 3000LL * 3000 / 2 && mz_mono_ms() < until)
		usleep(10000);
	if (file_size("store.db") < db0 + 3000LL * 3000 / 2)
		fail_msg("after 60 s the database file holds %lld bytes, the WAL %lld; expected "
		         ">= %lld in the file", file_size("store.db"), file_size("store.db-wal"),
		         db0 + 3000LL * 3000 / 2);
	for (int i = 0; i < 9000; i++) { /* three times as many again */
		snprintf(key, sizeof(key), "k%d", i % 3000);
		value[0] = (char)('a' + i % 26);
		assert_int_equal(mz_kv_put(st, key, value, &err), MZ_OK);
	}
	/* 49,000 frames were written; the WAL started again from its
	 * beginning once it held 16,000 (a little more when the thread's
	 * checkpoint was running then: the writer's own finds it busy) */
	assert_true(file_size("store.db-wal") < 32000LL * (4096 + 24));
}

/* The node registry, leases, the claims a dead node held, locks and
 * notifications (PostgreSQL delivers them on commit; SQLite has none). */
static void
test_nodes(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	json_t *regions = J("[\"east\"]"), *list = NULL;
	assert_int_equal(mz_node_heartbeat(st, "n1", "127.0.0.1:1", regions, 1000, true, &err), MZ_OK);
	assert_int_equal(mz_node_heartbeat(st, "n2", "127.0.0.1:2", NULL, 1000, true, &err), MZ_OK);
	assert_int_equal(mz_node_heartbeat(st, "n1", "127.0.0.1:1", regions, 9000, false, &err), MZ_OK);
	assert_int_equal(mz_node_list(st, 9500, 5000, &list, &err), MZ_OK);
	assert_int_equal(json_array_size(list), 2);
	json_t *a = json_array_get(list, 0), *b = json_array_get(list, 1);
	assert_string_equal(mz_json_str(a, "id"), "n1");
	assert_true(json_is_true(json_object_get(a, "alive")));
	assert_int_equal(mz_json_int(a, "startedAt", 0), 1000);
	assert_int_equal(mz_json_int(a, "lastSeen", 0), 9000);
	assert_string_equal(json_string_value(json_array_get(json_object_get(a, "hostRegions"), 0)),
	                    "east");
	assert_false(json_is_true(json_object_get(b, "alive"))); /* silent for 8.5 s */
	assert_int_equal(json_array_size(json_object_get(b, "hostRegions")), 0);
	json_decref(list);
	json_decref(regions);

	bool held = false;
	assert_int_equal(mz_lease_take(st, "pollers", "n1", 1000, 5000, &held, &err), MZ_OK);
	assert_true(held);
	assert_int_equal(mz_lease_take(st, "pollers", "n2", 2000, 5000, &held, &err), MZ_OK);
	assert_false(held);
	assert_int_equal(mz_lease_take(st, "pollers", "n1", 3000, 5000, &held, &err), MZ_OK);
	assert_true(held); /* renewed until 8000 */
	assert_int_equal(mz_lease_take(st, "pollers", "n2", 7000, 5000, &held, &err), MZ_OK);
	assert_false(held);
	assert_int_equal(mz_lease_take(st, "pollers", "n2", 8001, 5000, &held, &err), MZ_OK);
	assert_true(held); /* expired: taken over */
	assert_int_equal(mz_lease_drop(st, "pollers", "n1", &err), MZ_OK); /* not n1's: kept */
	assert_int_equal(mz_lease_take(st, "pollers", "n1", 8002, 5000, &held, &err), MZ_OK);
	assert_false(held);
	assert_int_equal(mz_lease_drop(st, "pollers", "n2", &err), MZ_OK);
	assert_int_equal(mz_lease_take(st, "pollers", "n1", 8003, 5000, &held, &err), MZ_OK);
	assert_true(held);

	/* a message claimed by n2 under a long lease comes back when n2 dies */
	json_t *m = J("{\"kind\": \"runTask\", \"executionId\": \"x\"}");
	mz_msg out[2];
	int n = 0, released = -1;
	int64_t when = 0;
	assert_int_equal(mz_queue_push(st, m, 100, &err), MZ_OK);
	mz_store_set_node(st, "n2");
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_queue_claim(st, 200, 60000, out, 2, &n, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	assert_int_equal(n, 1);
	mz_msg_release(&out[0]);
	assert_int_equal(mz_queue_release_node(st, "n1", 300, &released, &err), MZ_OK);
	assert_int_equal(released, 0);
	assert_int_equal(mz_queue_release_node(st, "n2", 300, &released, &err), MZ_OK);
	assert_int_equal(released, 1);
	assert_int_equal(mz_queue_next_due(st, &when, &err), MZ_OK);
	assert_int_equal(when, 300);
	json_decref(m);

	put_exec(st, "locked", "c", "RUNNING", 1);
	json_t *got = NULL;
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_store_lock(st, "config:c", &err), MZ_OK);
	assert_int_equal(mz_exec_get_locked(st, "locked", &got, &err), MZ_OK);
	assert_int_equal(mz_store_notify(st, "mz_test", "hello", &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	json_decref(got);
	assert_int_equal(mz_exec_get_locked(st, "nope", &got, &err), MZ_ENOTFOUND);
}

/* Two connections: a notification sent in a committed transaction reaches
 * the listener; one sent in a rolled-back transaction does not. */
static void
test_notifications(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	char *payload = NULL;
	if (!mz_store_shared(st)) {
		assert_int_equal(mz_store_listen(st, "mz_test", &err), MZ_EINVAL);
		return;
	}
	mz_store *listener = NULL;
	assert_int_equal(mz_store_open(getenv("MZ_TEST_STORE_URL"), &listener, &err), MZ_OK);
	assert_int_equal(mz_store_listen(listener, "mz_test", &err), MZ_OK);
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_store_notify(st, "mz_test", "undone", &err), MZ_OK);
	mz_store_rollback(st);
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_store_notify(st, "mz_test", "done", &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	assert_int_equal(mz_store_wait_notification(listener, 2000, &payload, &err), MZ_OK);
	assert_non_null(payload);
	assert_string_equal(payload, "done");
	free(payload);
	assert_int_equal(mz_store_wait_notification(listener, 100, &payload, &err), MZ_OK);
	assert_null(payload);
	mz_store_close(listener);
}

/* PostgreSQL, two connections in open transactions: each claims a
 * different message (the other's are skipped, not waited for). */
static void
test_claims_skip_locked(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	if (!mz_store_shared(st))
		return; /* SQLite: one writer at a time, nothing to skip */
	mz_store *other = NULL;
	assert_int_equal(mz_store_open(getenv("MZ_TEST_STORE_URL"), &other, &err), MZ_OK);
	json_t *m1 = J("{\"kind\": \"a\", \"executionId\": \"x\"}");
	json_t *m2 = J("{\"kind\": \"b\", \"executionId\": \"y\"}");
	assert_int_equal(mz_queue_push(st, m1, 1, &err), MZ_OK);
	assert_int_equal(mz_queue_push(st, m2, 2, &err), MZ_OK);
	mz_msg a[2], b[2];
	int na = 0, nb = 0;
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_queue_claim(st, 10, 1000, a, 1, &na, &err), MZ_OK);
	assert_int_equal(mz_store_begin(other, &err), MZ_OK);
	assert_int_equal(mz_queue_claim(other, 10, 1000, b, 2, &nb, &err), MZ_OK);
	assert_int_equal(na, 1);
	assert_int_equal(nb, 1);
	assert_string_equal(mz_json_str(a[0].body, "kind"), "a");
	assert_string_equal(mz_json_str(b[0].body, "kind"), "b");
	assert_int_equal(mz_store_commit(other, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	mz_msg_release(&a[0]);
	mz_msg_release(&b[0]);

	/* a key locked by one transaction: the other's try says no, at once */
	bool got = false;
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_store_lock(st, "config:c", &err), MZ_OK);
	assert_int_equal(mz_store_try_lock(st, "config:c", &got, &err), MZ_OK);
	assert_true(got); /* its own */
	assert_int_equal(mz_store_begin(other, &err), MZ_OK);
	assert_int_equal(mz_store_try_lock(other, "config:c", &got, &err), MZ_OK);
	assert_false(got);
	assert_int_equal(mz_store_try_lock(other, "config:d", &got, &err), MZ_OK);
	assert_true(got);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	assert_int_equal(mz_store_try_lock(other, "config:c", &got, &err), MZ_OK);
	assert_true(got);
	assert_int_equal(mz_store_commit(other, &err), MZ_OK);
	mz_store_close(other);
	json_decref(m1);
	json_decref(m2);
}

/* The cloud of several nodes: an operation queued once per request id,
 * claimed by one node only, its task written back by its claimer only;
 * the state each node publishes, listed for the others. */
static void
test_cloud_ops_and_state(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	char id[40], again[40];
	json_t *desc = J("{\"region\": \"west\", \"serverGroupName\": \"a-v001\"}");
	assert_int_equal(mz_cloudop_add(st, "op1", "req1", "west", NULL, "disableServerGroup", desc,
	                                100, id, &err), MZ_OK);
	assert_string_equal(id, "op1");
	/* replayed under the same request id: the first operation, nothing new */
	assert_int_equal(mz_cloudop_add(st, "op2", "req1", "west", NULL, "disableServerGroup", desc,
	                                200, again, &err), MZ_OK);
	assert_string_equal(again, "op1");
	assert_int_equal(mz_cloudop_add(st, "op3", "req3", "east", "n1", "resizeServerGroup", desc,
	                                300, id, &err), MZ_OK);
	json_t *q = NULL;
	assert_int_equal(mz_cloudop_queued(st, 10, &q, &err), MZ_OK);
	assert_int_equal(json_array_size(q), 2);
	assert_string_equal(mz_json_str(json_array_get(q, 0), "id"), "op1");
	assert_true(json_is_null(json_object_get(json_array_get(q, 0), "node")));
	assert_string_equal(mz_json_str(json_array_get(q, 1), "node"), "n1");
	json_decref(q);

	bool claimed = false;
	assert_int_equal(mz_cloudop_claim(st, "op1", "n2", 400, &claimed, &err), MZ_OK);
	assert_true(claimed);
	assert_int_equal(mz_cloudop_claim(st, "op1", "n9", 401, &claimed, &err), MZ_OK);
	assert_false(claimed); /* one claimer */
	json_t *op = NULL;
	assert_int_equal(mz_cloudop_get(st, "op1", &op, &err), MZ_OK);
	assert_string_equal(mz_json_str(op, "state"), "running");
	assert_string_equal(mz_json_str(op, "claimedBy"), "n2");
	assert_string_equal(mz_json_str(op, "region"), "west");
	assert_string_equal(mz_json_str(json_object_get(op, "description"), "serverGroupName"),
	                    "a-v001");
	assert_true(json_is_null(json_object_get(op, "task")));
	json_decref(op);
	assert_int_equal(mz_cloudop_get(st, "nope", &op, &err), MZ_ENOTFOUND);

	json_t *task = J("{\"id\": \"op1\", \"status\": {\"completed\": false}}");
	assert_int_equal(mz_cloudop_update(st, "op1", "n9", task, true, 500, &err), MZ_OK);
	assert_int_equal(mz_cloudop_get(st, "op1", &op, &err), MZ_OK);
	assert_true(json_is_null(json_object_get(op, "task"))); /* not n9's claim */
	json_decref(op);
	assert_int_equal(mz_cloudop_update(st, "op1", "n2", task, false, 500, &err), MZ_OK);
	json_t *mine = NULL;
	assert_int_equal(mz_cloudop_running(st, "n2", &mine, &err), MZ_OK);
	assert_int_equal(json_array_size(mine), 1);
	assert_false(json_is_true(json_object_get(
		json_object_get(json_object_get(json_array_get(mine, 0), "task"), "status"),
		"completed")));
	json_decref(mine);
	assert_int_equal(mz_cloudop_update(st, "op1", "n2", task, true, 600, &err), MZ_OK);
	assert_int_equal(mz_cloudop_running(st, "n2", &mine, &err), MZ_OK);
	assert_int_equal(json_array_size(mine), 0);
	json_decref(mine);
	assert_int_equal(mz_cloudop_get(st, "op1", &op, &err), MZ_OK);
	assert_string_equal(mz_json_str(op, "state"), "done");
	assert_int_equal(mz_json_int(op, "updatedAt", 0), 600);
	json_decref(op);
	json_decref(task);
	json_decref(desc);
	int pruned = 0; /* retention: finished ones only */
	assert_int_equal(mz_retention_cloud_ops_before(st, 700, 100, &pruned, &err), MZ_OK);
	assert_int_equal(pruned, 1);
	assert_int_equal(mz_cloudop_get(st, "op1", &op, &err), MZ_ENOTFOUND);
	assert_int_equal(mz_cloudop_get(st, "op3", &op, &err), MZ_OK);
	json_decref(op);

	json_t *items = NULL;
	assert_int_equal(mz_cloudstate_put(st, "n1", "sg", "local/east/a-v001", "a",
	                                   "{\"name\": \"a-v001\"}", 1, &err), MZ_OK);
	assert_int_equal(mz_cloudstate_put(st, "n1", "sg", "local/east/a-v001", "a",
	                                   "{\"name\": \"a-v001\", \"x\": 2}", 2, &err), MZ_OK);
	assert_int_equal(mz_cloudstate_put(st, "n2", "sg", "local/west/b-v000", "b",
	                                   "{\"name\": \"b-v000\"}", 1, &err), MZ_OK);
	assert_int_equal(mz_cloudstate_put(st, "n2", "lb", "local/west/b-lb", "b",
	                                   "{\"name\": \"b-lb\"}", 1, &err), MZ_OK);
	assert_int_equal(mz_cloudstate_list(st, "sg", NULL, "n3", &items, &err), MZ_OK);
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(mz_json_str(json_array_get(items, 0), "node"), "n1");
	assert_int_equal(mz_json_int(json_object_get(json_array_get(items, 0), "body"), "x", 0), 2);
	json_decref(items);
	assert_int_equal(mz_cloudstate_list(st, "sg", "b", "n3", &items, &err), MZ_OK);
	assert_int_equal(json_array_size(items), 1);
	json_decref(items);
	assert_int_equal(mz_cloudstate_list(st, "sg", NULL, "n1", &items, &err), MZ_OK);
	assert_int_equal(json_array_size(items), 1); /* a node's own are left out */
	json_decref(items);
	assert_int_equal(mz_cloudstate_put(st, "n2", "sg", "local/west/b-v000", NULL, NULL, 3, &err),
	                 MZ_OK);
	assert_int_equal(mz_cloudstate_list(st, "sg", "b", "n3", &items, &err), MZ_OK);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
	assert_int_equal(mz_cloudstate_clear(st, "n2", &err), MZ_OK);
	assert_int_equal(mz_cloudstate_list(st, "lb", NULL, "n3", &items, &err), MZ_OK);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
}

/* Projects and templates are whole documents read, changed and written
 * back: writers on separate connections at once, each adding its own
 * entries, in transactions of their own and without (the store opens one),
 * must all be kept - on PostgreSQL a writer that read the document before
 * another's commit would otherwise write it back without that entry. */
#define DOC_WRITERS 6
#define DOC_ROUNDS 12

typedef struct doc_writer {
	char url[320];
	int n;
	int failures;
} doc_writer;

static void *
doc_write(void *arg)
{
	doc_writer *w = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	if (mz_store_open(w->url, &st, &err) != MZ_OK) {
		w->failures = DOC_ROUNDS;
		return NULL;
	}
	for (int i = 0; i < DOC_ROUNDS; i++) {
		char name[64];
		mz_code rc = MZ_EBUSY;
		for (int attempt = 0; rc == MZ_EBUSY && attempt < 50; attempt++) {
			bool own = i % 2 == 0; /* half in the caller's transaction */
			rc = own ? mz_store_begin(st, &err) : MZ_OK;
			snprintf(name, sizeof(name), "p-%d-%d", w->n, i);
			json_t *p = json_pack("{s:s, s:s}", "name", name, "email", "t@example.com");
			if (rc == MZ_OK)
				rc = mz_project_put(st, p, &err);
			json_decref(p);
			snprintf(name, sizeof(name), "t-%d-%d", w->n, i);
			json_t *t = json_pack("{s:s, s:s}", "id", name, "schema", "v2");
			if (rc == MZ_OK)
				rc = mz_template_put(st, t, NULL, &err);
			json_decref(t);
			if (own && rc == MZ_OK)
				rc = mz_store_commit(st, &err);
			else if (own)
				mz_store_rollback(st);
		}
		if (rc != MZ_OK) {
			fprintf(stderr, "writer %d round %d: %s\n", w->n, i, err.msg);
			w->failures++;
		}
	}
	mz_store_close(st);
	return NULL;
}

static void
test_concurrent_documents(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	doc_writer w[DOC_WRITERS];
	pthread_t t[DOC_WRITERS];
	const char *url = getenv("MZ_TEST_STORE_URL");
	for (int i = 0; i < DOC_WRITERS; i++) {
		w[i] = (doc_writer){.n = i};
		if (url && *url)
			snprintf(w[i].url, sizeof(w[i].url), "%s", url);
		else
			snprintf(w[i].url, sizeof(w[i].url), "%s/store.db", dir);
		assert_int_equal(pthread_create(&t[i], NULL, doc_write, &w[i]), 0);
	}
	for (int i = 0; i < DOC_WRITERS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	json_t *projects = NULL, *templates = NULL;
	assert_int_equal(mz_project_list(st, &projects, &err), MZ_OK);
	assert_int_equal(mz_template_list(st, false, &templates, &err), MZ_OK);
	assert_int_equal(json_array_size(projects), DOC_WRITERS * DOC_ROUNDS);
	assert_int_equal(json_array_size(templates), DOC_WRITERS * DOC_ROUNDS);
	json_decref(projects);
	json_decref(templates);
}

/* Writes whose row count nobody asks for may go out without waiting
 * (PostgreSQL's pipeline): a read later in the transaction sees them, and
 * one that fails fails the transaction - reported then or at the latest by
 * COMMIT - and leaves nothing behind; the connection works afterwards. */
static void
test_writes_without_waiting(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	json_t *m = J("{\"kind\": \"startExecution\", \"executionId\": \"p1\"}");
	int n = -1;
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_pending_push(st, "cfg", m, &err), MZ_OK);
	assert_int_equal(mz_pending_push(st, "cfg", m, &err), MZ_OK);
	assert_int_equal(mz_pending_count(st, "cfg", &n, &err), MZ_OK);
	assert_int_equal(n, 2);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);

	/* a NULL config id breaks a NOT NULL constraint */
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	mz_code a = mz_pending_push(st, "cfg", m, &err);
	mz_code b = a ? a : mz_pending_push(st, NULL, m, &err);
	mz_code c = b ? b : mz_pending_push(st, "cfg", m, &err);
	mz_code d = c ? c : mz_store_commit(st, &err);
	if (!d)
		fail_msg("a transaction with a failed write committed");
	if (mz_store_shared(st))
		assert_int_equal(b, MZ_OK); /* PostgreSQL: sent without waiting */
	if (d != b) /* not reported by the write itself */
		assert_true(strstr(err.msg, "null") || strstr(err.msg, "NULL"));
	mz_store_rollback(st);
	assert_int_equal(mz_pending_count(st, "cfg", &n, &err), MZ_OK);
	assert_int_equal(n, 2); /* nothing of it stayed */
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_pending_push(st, "cfg", m, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	assert_int_equal(mz_pending_count(st, "cfg", &n, &err), MZ_OK);
	assert_int_equal(n, 3);
	json_decref(m);
}

/* Several nodes: a message with a target is claimed, and counted as due,
 * only by a connection that accepts it; others by anyone. */
static void
test_queue_targets(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	mz_msg out[8];
	int n = 0;
	int64_t when = 0;
	json_t *any = J("{\"kind\": \"runTask\", \"executionId\": \"t1\"}");
	json_t *east = J("{\"kind\": \"runTask\", \"executionId\": \"t2\", "
	                 "\"target\": \"region:east\"}");
	json_t *node = J("{\"kind\": \"runTask\", \"executionId\": \"t3\", "
	                 "\"target\": \"node:N2\"}");
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_queue_push(st, east, 100, &err), MZ_OK);
	assert_int_equal(mz_queue_push(st, node, 200, &err), MZ_OK);
	assert_int_equal(mz_queue_push(st, any, 300, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);

	/* no accept list: only the message without a target */
	assert_int_equal(mz_queue_next_due(st, &when, &err), MZ_OK);
	assert_int_equal(when, 300);
	/* a node hosting west: not east's, not N2's ("node:N" is no prefix match) */
	mz_store_set_accept(st, ",node:N,region:west,region:eas,");
	assert_int_equal(mz_queue_next_due(st, &when, &err), MZ_OK);
	assert_int_equal(when, 300);
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_queue_claim(st, 1000, 60000, out, 8, &n, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	assert_int_equal(n, 1);
	assert_string_equal(mz_json_str(out[0].body, "executionId"), "t1");
	assert_int_equal(mz_queue_ack(st, out[0].id, &err), MZ_OK);
	mz_msg_release(&out[0]);
	/* node N2 hosting east takes both */
	mz_store_set_accept(st, ",node:N2,region:east,");
	assert_int_equal(mz_queue_next_due(st, &when, &err), MZ_OK);
	assert_int_equal(when, 100);
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_queue_claim(st, 1000, 60000, out, 8, &n, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	assert_int_equal(n, 2);
	assert_string_equal(mz_json_str(out[0].body, "target"), "region:east");
	assert_string_equal(mz_json_str(out[1].body, "target"), "node:N2");
	for (int i = 0; i < n; i++) {
		assert_int_equal(mz_queue_ack(st, out[i].id, &err), MZ_OK);
		mz_msg_release(&out[i]);
	}
	mz_store_set_accept(st, NULL);
	json_decref(any);
	json_decref(east);
	json_decref(node);
}

/* Files shared by the nodes: stored once under their digest, in chunks,
 * read back whole. */
static void
test_blobs(void **state)
{
	mz_store *st = *state;
	mz_err err = {0};
	char tmp[] = "/tmp/mz-blob-XXXXXX";
	assert_non_null(mkdtemp(tmp));
	char *src = mz_asprintf("%s/src", tmp), *dst = mz_asprintf("%s/dst", tmp);
	size_t len = MZ_BLOB_CHUNK * 2 + 12345;
	unsigned char *data = malloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 + i / 1000);
	FILE *f = fopen(src, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	const char *sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(mz_blob_get_fd(st, sha, fd, &err), MZ_ENOTFOUND);
	assert_int_equal(mz_blob_put_file(st, sha, src, &err), MZ_OK);
	assert_int_equal(mz_blob_put_file(st, sha, src, &err), MZ_OK); /* stored already */
	assert_int_equal(mz_blob_get_fd(st, sha, fd, &err), MZ_OK);
	close(fd);
	size_t got_len = 0;
	char *got = mz_read_file(dst, &got_len, NULL);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, data, len);
	free(got);
	/* an empty file is a file too */
	const char *sha0 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	f = fopen(src, "wb");
	fclose(f);
	assert_int_equal(mz_blob_put_file(st, sha0, src, &err), MZ_OK);
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(mz_blob_get_fd(st, sha0, fd, &err), MZ_OK);
	close(fd);
	struct stat sb;
	assert_int_equal(stat(dst, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	int pruned = 0;
	assert_int_equal(mz_blob_prune(st, mz_now_ms() + 1000, 100, &pruned, &err), MZ_OK);
	assert_int_equal(pruned, 2);
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(mz_blob_get_fd(st, sha, fd, &err), MZ_ENOTFOUND);
	close(fd);
	unlink(src);
	unlink(dst);
	rmdir(tmp);
	free(src);
	free(dst);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_applications, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_pipelines, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_executions, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_queue, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_queue_targets, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_blobs, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_pending_outbox_kv, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_kv_list_and_audit, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_events_deliveries, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_transactions, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_lone_write_queues, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_wal_checkpoints, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_nodes, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_notifications, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_claims_skip_locked, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_cloud_ops_and_state, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_concurrent_documents, open_store, close_store),
		cmocka_unit_test_setup_teardown(test_writes_without_waiting, open_store, close_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
