/* api_tasks.c - tasks, i.e. orchestrations (Gate's TaskController over
 * Orca's /ops): start, get (the task view), list an application's tasks,
 * cancel, delete. Applications are created, updated and deleted this way. */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#define NOT_FOUND_TASK "Task not found (id: %s)"
#define TASK "Task"

static void
start_task(api_req *r, const char *app)
{
	json_t *req = api_body_object(r, false, "a task {application, description, job: [...]}");
	if (!req)
		return;
	if (app)
		json_object_set_new(req, "application", json_string(app));
	mz_store *st = api_begin(r);
	if (!st) {
		json_decref(req);
		return;
	}
	char id[27] = "";
	mz_err err = {0};
	if (mz_engine_launch_orchestration(r->api->engine, st, req, r->user, r->origin, id,
	                                   &err) != MZ_OK) {
		api_rollback(r);
		api_reply_mzerr(r, &err);
	} else if (api_commit(r)) {
		mz_engine_wake(r->api->engine);
		char *ref = mz_asprintf("/tasks/%s", id);
		api_reply_json(r, 200, json_pack("{s:s}", "ref", ref));
		free(ref);
	}
	json_decref(req);
}

static void
post_task(api_req *r)
{
	start_task(r, NULL);
}

static void
post_app_task(api_req *r)
{
	start_task(r, r->param[0]);
}

static void
get_task_id(api_req *r, const char *id)
{
	json_t *exec = api_load_execution(r, id, "ORCHESTRATION", TASK);
	if (!exec)
		return;
	api_reply_json(r, 200, mz_execution_task_view(exec));
	json_decref(exec);
}

static void
get_task(api_req *r)
{
	get_task_id(r, r->param[0]);
}

static void
get_app_task(api_req *r)
{
	get_task_id(r, r->param[1]);
}

static void
list_app_tasks(api_req *r)
{
	long page, limit;
	if (!api_query_int(r, "page", 1, 1, 1000000, &page) ||
	    !api_query_int(r, "limit", 100, 1, 3500, &limit))
		return;
	char **statuses = api_split_csv(api_query(r, "statuses"), true);
	for (char **p = statuses; p && *p; p++) {
		if (!mz_status_valid(*p)) {
			api_reply_error(r, 400, "unknown execution status '%.64s' in 'statuses'", *p);
			api_strv_free(statuses);
			return;
		}
	}
	mz_store *st = api_store(r);
	if (!st) {
		api_strv_free(statuses);
		return;
	}
	mz_exec_query q = {.type = "ORCHESTRATION", .application = r->param[0],
	                   .statuses = statuses && statuses[0] ? (const char **)statuses : NULL,
	                   .limit = (int)limit, .offset = (int)((page - 1) * limit)};
	json_t *rows = NULL;
	mz_err err = {0};
	if (mz_exec_query_run(st, &q, &rows, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
	} else {
		json_t *out = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(rows, i, e) {
			json_array_append_new(out, mz_execution_task_view(e));
		}
		json_decref(rows);
		api_reply_json(r, 200, out);
	}
	api_strv_free(statuses);
}

static mz_code
cancel_one(api_req *r, const char *id, mz_err *err)
{
	json_t *exec = NULL;
	mz_code rc = mz_exec_get(api_store(r), id, &exec, err);
	if (rc == MZ_OK && (!exec || !mz_streq(mz_json_str(exec, "type"), "ORCHESTRATION")))
		rc = mz_fail(err, MZ_ENOTFOUND, NOT_FOUND_TASK, id);
	else if (rc == MZ_ENOTFOUND)
		mz_fail(err, MZ_ENOTFOUND, NOT_FOUND_TASK, id);
	json_decref(exec);
	if (rc == MZ_OK)
		rc = mz_engine_cancel(r->api->engine, r->st, id, r->user, NULL, err);
	return rc;
}

static void
cancel_task_id(api_req *r, const char *id)
{
	if (!api_store(r))
		return;
	mz_err err = {0};
	if (cancel_one(r, id, &err) == MZ_OK)
		api_reply_empty(r, 200);
	else
		api_reply_mzerr(r, &err);
}

static void
cancel_task(api_req *r)
{
	cancel_task_id(r, r->param[0]);
}

static void
cancel_app_task(api_req *r)
{
	cancel_task_id(r, r->param[1]);
}

/* PUT /tasks/cancel?ids=a,b (or a JSON list body) */
static void
cancel_tasks(api_req *r)
{
	char **ids = api_split_csv(api_query(r, "ids"), false);
	json_t *body = NULL;
	if (!ids || !ids[0]) {
		api_strv_free(ids);
		ids = NULL;
		mz_err perr = {0};
		body = r->body_len ? mz_json_parse(r->body, r->body_len, &perr) : NULL;
		if (!json_is_array(body)) {
			json_decref(body);
			api_reply_error(r, 400, "give the task ids in the 'ids' query parameter "
			                "(comma-separated) or as a JSON list body");
			return;
		}
	}
	if (!api_store(r)) {
		api_strv_free(ids);
		json_decref(body);
		return;
	}
	mz_err err = {0};
	mz_code rc = MZ_OK;
	for (char **p = ids; p && *p && rc == MZ_OK; p++)
		rc = cancel_one(r, *p, &err);
	size_t i;
	json_t *v;
	json_array_foreach(body, i, v) {
		if (rc != MZ_OK)
			break;
		if (!json_is_string(v))
			rc = mz_fail(&err, MZ_EINVAL, "task ids must be strings");
		else
			rc = cancel_one(r, json_string_value(v), &err);
	}
	if (rc == MZ_OK)
		api_reply_empty(r, 200);
	else
		api_reply_mzerr(r, &err);
	api_strv_free(ids);
	json_decref(body);
}

static void
delete_task(api_req *r)
{
	json_t *exec = api_load_execution(r, r->param[0], "ORCHESTRATION", TASK);
	if (!exec)
		return;
	json_decref(exec);
	mz_err err = {0};
	if (mz_engine_delete_execution(r->api->engine, r->st, r->param[0], &err) == MZ_OK)
		api_reply_empty(r, 200);
	else
		api_reply_mzerr(r, &err);
}

const api_route api_task_routes[] = {
	{"POST", "/tasks", post_task},
	{"POST", "/applications/{app}/tasks", post_app_task},
	{"GET", "/tasks/{id}", get_task},
	{"GET", "/applications/{app}/tasks", list_app_tasks},
	{"GET", "/applications/{app}/tasks/{id}", get_app_task},
	{"PUT", "/tasks/cancel", cancel_tasks},
	{"PUT", "/tasks/{id}/cancel", cancel_task},
	{"PUT", "/applications/{app}/tasks/{id}/cancel", cancel_app_task},
	{"DELETE", "/tasks/{id}", delete_task},
	{NULL, NULL, NULL},
};
