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
 * lock, and every request on that thread waits with it).
 */
#include "api/api_int.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAX 512 /* triggers per transaction */

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

/* The audit row of a trigger that was not started, with the status it was
 * answered (in a transaction of its own: nothing else is written). */
static void
audit_refused(mz_store *st, launch_job *j, mz_code rc)
{
	if (!j->audit || !st)
		return;
	json_object_set_new(j->audit, "status", json_integer(api_status_of(rc)));
	mz_err err = {0};
	if (mz_audit_add(st, j->audit, &err) != MZ_OK)
		mz_error("audit: cannot record POST %s: %s", j->path, err.msg);
}

/* Writes the group in one transaction; on failure, each job alone. */
static void
commit_group(mz_api *api, mz_store *st, launch_job *jobs)
{
	mz_err err = {0};
	mz_code rc = mz_store_begin(st, &err);
	for (launch_job *j = jobs; rc == MZ_OK && j; j = j->next)
		rc = store_job(st, j, &err);
	if (rc == MZ_OK)
		rc = mz_store_commit(st, &err);
	else
		mz_store_rollback(st);
	for (launch_job *j = jobs; j; j = j->next) {
		mz_code one = rc;
		mz_err e = err;
		if (rc != MZ_OK && jobs->next) { /* a group: find who failed */
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
			audit_refused(st, j, one);
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
		while (!L->head && !L->stopping)
			pthread_cond_wait(&L->cv, &L->mu);
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
		if (stop)
			break;
		if (!st && mz_store_open(L->api->db_url, &st, &err) == MZ_OK)
			mz_store_set_urgent(st, true);
		if (!st) {
			for (launch_job *j = jobs; j; j = j->next) {
				answer(j, err.code ? err.code : MZ_EIO, &err);
				mz_engine_launch_done(L->api->engine, j->launch, false);
				j->launch = NULL;
			}
		} else {
			commit_group(L->api, st, jobs);
		}
		while (jobs) {
			launch_job *next = jobs->next;
			free(jobs->path);
			json_decref(jobs->audit);
			free(jobs);
			jobs = next;
		}
	}
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
