/*
 * api_launch.c - accepted triggers, committed in groups.
 *
 * A trigger's HTTP thread does the work that costs CPU (reading the config,
 * building and serialising the execution: mz_engine_prepare_pipeline) with
 * no lock held, then hands the prepared execution to the committer thread
 * here and suspends its connection: the HTTP thread goes back to serving
 * other requests (reads do not queue behind writes). The committer writes
 * every trigger waiting at that moment in one short transaction (group
 * commit: one commit, one WAL sync under synchronous=FULL, for all of
 * them), and only then answers each 202 and resumes its connection. So a
 * 202 always names an execution that is durable, and a trigger that got no
 * answer (the server died first) may or may not exist, but exists once.
 *
 * The committer's store connection is urgent (mz_store_set_urgent): an
 * engine batch in progress ends at its next message and lets it in.
 * If a group's transaction fails, its triggers are committed one by one,
 * so one bad row cannot fail the others.
 *
 * Each trigger's audit row goes in the same transaction as its execution,
 * so it records the answer the caller gets, and the HTTP thread that
 * accepted the trigger writes nothing (a write there waits for the write
 * lock, and every request on that thread waits with it). The row of a
 * trigger that failed is kept, with its error status, and written with
 * the next transaction (retried each second when no trigger comes): the
 * store that refused the trigger (locked, full) would refuse the row as
 * well, and the answer does not wait for it.
 */
#include "api/api_int.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GROUP_MAX 512           /* triggers per transaction */
#define AUDIT_PENDING_MAX 10000 /* failures' audit rows kept while the store refuses */
#define AUDIT_RETRY_MS 1000

typedef struct launch_job {
	struct launch_job *next;
	struct MHD_Connection *conn;
	void *conn_ctx;
	mz_launch *launch;
	json_t *audit; /* the audit row, status 202 until said otherwise */
	bool v2;
	char event_id[37];
	char *path; /* for error bodies */
} launch_job;

struct api_launcher {
	mz_api *api;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	launch_job *head, **tail;
	bool stopping;
	pthread_t thread;
	bool started;
	/* audit rows of triggers that failed, not stored yet (the committer's
	 * alone): written with its next transaction, or retried each second */
	json_t *audit_pending;
	mz_log_limit audit_log;
};

static void
answer(launch_job *j, mz_code rc, const mz_err *err)
{
	json_t *body;
	int status;
	if (rc == MZ_OK) {
		char *ref = mz_asprintf("/pipelines/%s", mz_launch_id(j->launch));
		body = j->v2 ? json_pack("{s:s, s:s}", "eventId", j->event_id, "ref", ref)
		             : json_pack("{s:s}", "ref", ref);
		free(ref);
		status = 202;
	} else {
		status = api_status_of(rc);
		body = api_error_body(status, j->path,
		                      err && err->msg[0] ? err->msg : mz_code_name(rc));
		mz_warn("api: POST %s -> %d: %s", j->path, status, err ? err->msg : "");
	}
	api_resume_with(j->conn, j->conn_ctx, status, body);
}

/* A trigger's execution and its audit row. */
static mz_code
store_job(mz_store *st, launch_job *j, mz_err *err)
{
	mz_code rc = mz_engine_launch_store(st, j->launch, err);
	if (rc == MZ_OK && j->audit)
		rc = mz_audit_add(st, j->audit, err);
	return rc;
}

/* The audit row of a trigger that was not started, with the status it is
 * answered: kept for the next transaction, since the store that refused
 * the trigger may well refuse the row now. */
static void
audit_refused(struct api_launcher *L, launch_job *j, mz_code rc)
{
	if (!j->audit)
		return;
	if (json_array_size(L->audit_pending) >= AUDIT_PENDING_MAX) {
		mz_error("audit: %d rows wait for the store; the row of POST %s (%d) is dropped",
		         AUDIT_PENDING_MAX, j->path, api_status_of(rc));
		return;
	}
	json_object_set_new(j->audit, "status", json_integer(api_status_of(rc)));
	json_array_append(L->audit_pending, j->audit);
}

/* The kept rows, in the open transaction. */
static mz_code
write_pending(struct api_launcher *L, mz_store *st, mz_err *err)
{
	size_t i;
	json_t *e;
	json_array_foreach(L->audit_pending, i, e) {
		mz_code rc = mz_audit_add(st, e, err);
		if (rc != MZ_OK)
			return rc;
	}
	return MZ_OK;
}

/* Forgets the first n kept rows once their transaction committed. */
static void
done_pending(struct api_launcher *L, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_array_remove(L->audit_pending, 0);
}

/* The kept rows alone (no trigger came meanwhile). */
static void
flush_pending(struct api_launcher *L, mz_store *st)
{
	size_t n = json_array_size(L->audit_pending);
	mz_err err = {0};
	if (!n)
		return;
	mz_code rc = mz_store_begin(st, &err);
	if (rc == MZ_OK)
		rc = write_pending(L, st, &err);
	if (rc == MZ_OK)
		rc = mz_store_commit(st, &err);
	else
		mz_store_rollback(st);
	if (rc == MZ_OK)
		done_pending(L, n);
	else if (mz_log_allow(&L->audit_log, 30000, NULL))
		mz_warn("audit: %zu rows of failed triggers wait for the store: %s", n, err.msg);
}

/* Writes the group in one transaction (with the rows kept before); on
 * failure, each job alone. */
static void
commit_group(struct api_launcher *L, mz_store *st, launch_job *jobs)
{
	mz_api *api = L->api;
	mz_err err = {0};
	size_t kept = json_array_size(L->audit_pending);
	mz_code rc = mz_store_begin(st, &err);
	if (rc == MZ_OK)
		rc = write_pending(L, st, &err);
	for (launch_job *j = jobs; rc == MZ_OK && j; j = j->next)
		rc = store_job(st, j, &err);
	if (rc == MZ_OK)
		rc = mz_store_commit(st, &err);
	else
		mz_store_rollback(st);
	if (rc == MZ_OK)
		done_pending(L, kept);
	for (launch_job *j = jobs; j; j = j->next) {
		mz_code one = rc;
		mz_err e = err;
		if (rc != MZ_OK && (jobs->next || kept)) { /* find who failed */
			memset(&e, 0, sizeof(e));
			one = mz_store_begin(st, &e);
			if (one == MZ_OK) {
				one = store_job(st, j, &e);
				if (one == MZ_OK)
					one = mz_store_commit(st, &e);
				else
					mz_store_rollback(st);
			}
		}
		if (one != MZ_OK)
			audit_refused(L, j, one);
		answer(j, one, &e);
		mz_engine_launch_done(api->engine, j->launch, one == MZ_OK);
		j->launch = NULL;
	}
	mz_engine_wake(api->engine);
}

static void *
committer_main(void *arg)
{
	struct api_launcher *L = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	for (;;) {
		pthread_mutex_lock(&L->mu);
		while (!L->head && !L->stopping) {
			if (!json_array_size(L->audit_pending)) {
				pthread_cond_wait(&L->cv, &L->mu);
				continue;
			}
			/* rows wait for the store: try again in a second */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += AUDIT_RETRY_MS / 1000;
			if (pthread_cond_timedwait(&L->cv, &L->mu, &ts) != 0)
				break;
		}
		launch_job *jobs = L->head, *last = NULL;
		int n = 0;
		for (launch_job *j = jobs; j && n < GROUP_MAX; j = j->next, n++)
			last = j;
		if (last) {
			L->head = last->next;
			if (!L->head)
				L->tail = &L->head;
			last->next = NULL;
		}
		bool stop = L->stopping && !jobs;
		pthread_mutex_unlock(&L->mu);
		if (!st && mz_store_open(L->api->db_url, &st, &err) == MZ_OK)
			mz_store_set_urgent(st, true);
		if (!jobs) { /* stopping, or a retry of the kept audit rows */
			if (st)
				flush_pending(L, st);
			if (stop)
				break;
			continue;
		}
		if (!st) {
			for (launch_job *j = jobs; j; j = j->next) {
				mz_code rc = err.code ? err.code : MZ_EIO;
				audit_refused(L, j, rc); /* kept until a store opens */
				answer(j, rc, &err);
				mz_engine_launch_done(L->api->engine, j->launch, false);
				j->launch = NULL;
			}
		} else {
			commit_group(L, st, jobs);
		}
		while (jobs) {
			launch_job *next = jobs->next;
			free(jobs->path);
			json_decref(jobs->audit);
			free(jobs);
			jobs = next;
		}
	}
	if (json_array_size(L->audit_pending))
		mz_error("audit: %zu rows of failed triggers could not be stored before the stop",
		         json_array_size(L->audit_pending));
	mz_store_close(st);
	return NULL;
}

void
api_launcher_start(mz_api *api)
{
	struct api_launcher *L = calloc(1, sizeof(*L));
	if (!L)
		abort();
	L->api = api;
	L->tail = &L->head;
	L->audit_pending = json_array();
	pthread_mutex_init(&L->mu, NULL);
	pthread_cond_init(&L->cv, NULL);
	L->started = pthread_create(&L->thread, NULL, committer_main, L) == 0;
	api->launcher = L;
}

void
api_launcher_stop(mz_api *api)
{
	struct api_launcher *L = api->launcher;
	if (!L)
		return;
	pthread_mutex_lock(&L->mu);
	L->stopping = true; /* triggers queued before this are still committed */
	pthread_cond_broadcast(&L->cv);
	pthread_mutex_unlock(&L->mu);
	if (L->started)
		pthread_join(L->thread, NULL);
	pthread_mutex_destroy(&L->mu);
	pthread_cond_destroy(&L->cv);
	json_decref(L->audit_pending);
	free(L);
	api->launcher = NULL;
}

bool
api_launch_defer(api_req *r, mz_launch *launch, bool v2, const char *event_id)
{
	struct api_launcher *L = r->api->launcher;
	if (!L || !r->conn || !r->conn_ctx)
		return false;
	launch_job *j = calloc(1, sizeof(*j));
	if (!j)
		return false;
	j->conn = r->conn;
	j->conn_ctx = r->conn_ctx;
	j->launch = launch;
	j->v2 = v2;
	snprintf(j->event_id, sizeof(j->event_id), "%s", event_id ? event_id : "");
	j->path = mz_strdup(r->path);
	int status = r->status;
	r->status = 202;
	j->audit = api_audit_entry(r);
	r->status = status;
	pthread_mutex_lock(&L->mu);
	if (L->stopping || !L->started) {
		pthread_mutex_unlock(&L->mu);
		json_decref(j->audit);
		free(j->path);
		free(j);
		return false;
	}
	/* Suspended before the committer can see it: it resumes only what is
	 * suspended. */
	MHD_suspend_connection(r->conn);
	r->deferred = true;
	r->replied = true;
	r->status = 202;
	r->audited = true;
	*L->tail = j;
	L->tail = &j->next;
	pthread_cond_signal(&L->cv);
	pthread_mutex_unlock(&L->mu);
	return true;
}
