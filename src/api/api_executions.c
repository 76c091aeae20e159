/* api_executions.c - pipeline executions (Gate over Orca): get, cancel,
 * pause, resume, delete, stage patch (manual judgment) and restart,
 * expression evaluation, and the list endpoints (/executions, an
 * application's pipelines, search), which return summaries unless asked
 * to expand. */
#include "api/api_int.h"

#include <microhttpd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOT_FOUND_PIPELINE "Pipeline not found (id: %s)"
#define PIPELINE "Pipeline"
#define FOURTEEN_DAYS_MS (14LL * 24 * 3600 * 1000)

/* The stored document is already the execution JSON: it is served as it
 * is, without parsing and re-serialising it (the busiest read endpoint:
 * the UI and CLI poll it). */
static void
get_pipeline(api_req *r)
{
	mz_store *st = api_store(r);
	char *body = NULL;
	size_t len = 0;
	char type[16] = "";
	mz_err err = {0};
	if (!st)
		return;
	mz_code rc = mz_exec_get_raw(st, r->param[0], &body, &len, type, &err);
	if (rc == MZ_ENOTFOUND || (rc == MZ_OK && strcmp(type, "PIPELINE") != 0)) {
		free(body);
		api_reply_error(r, 404, NOT_FOUND_PIPELINE, r->param[0]);
		return;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	api_reply_raw(r, 200, "application/json", body, len);
}

/* Runs an operator action (its own transaction) and replies 200 empty or
 * the error. */
static void
reply_op(api_req *r, mz_code rc, const mz_err *err)
{
	if (rc == MZ_OK)
		api_reply_empty(r, 200);
	else if (rc == MZ_ENOTFOUND)
		api_reply_error(r, 404, NOT_FOUND_PIPELINE, r->param[r->nparam - 1]);
	else
		api_reply_mzerr(r, err);
}

static void
cancel_pipeline_id(api_req *r, const char *id)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	const char *reason = api_query(r, "reason");
	mz_err err = {0};
	mz_code rc = mz_engine_cancel(r->api->engine, st, id, r->user,
	                              reason && *reason ? reason : NULL, &err);
	if (rc == MZ_ENOTFOUND)
		api_reply_error(r, 404, NOT_FOUND_PIPELINE, id);
	else
		reply_op(r, rc, &err);
}

static void
cancel_pipeline(api_req *r)
{
	cancel_pipeline_id(r, r->param[0]);
}

/* PUT /applications/{anything}/pipelines/{id}/cancel: the application
 * segment is ignored (old spin sends a literal "{application}"). */
static void
cancel_app_pipeline(api_req *r)
{
	cancel_pipeline_id(r, r->param[1]);
}

static void
pause_pipeline(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	mz_err err = {0};
	reply_op(r, mz_engine_pause(r->api->engine, st, r->param[0], r->user, &err), &err);
}

static void
resume_pipeline(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	mz_err err = {0};
	reply_op(r, mz_engine_resume(r->api->engine, st, r->param[0], r->user, &err), &err);
}

static void
delete_pipeline(api_req *r)
{
	json_t *exec = api_load_execution(r, r->param[0], "PIPELINE", PIPELINE);
	if (!exec)
		return;
	json_decref(exec);
	mz_err err = {0};
	reply_op(r, mz_engine_delete_execution(r->api->engine, r->st, r->param[0], &err), &err);
}

static void
patch_stage(api_req *r)
{
	json_t *patch = api_body_object(r, false, "the stage context changes");
	if (!patch)
		return;
	mz_store *st = api_store(r);
	if (!st) {
		json_decref(patch);
		return;
	}
	json_t *exec = NULL;
	mz_err err = {0};
	mz_code rc = mz_engine_patch_stage(r->api->engine, st, r->param[0], r->param[1], patch,
	                                   r->user, &exec, &err);
	json_decref(patch);
	if (rc == MZ_OK)
		api_reply_json(r, 200, exec ? exec : json_object());
	else
		api_reply_mzerr(r, &err);
}

static void
restart_stage(api_req *r)
{
	/* The body (Gate sends the current config) is optional; if present it
	 * must at least be JSON. */
	json_t *body = api_body_object(r, true, "the restart request");
	if (!body && r->replied)
		return;
	json_decref(body);
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *exec = NULL;
	mz_err err = {0};
	mz_code rc = mz_engine_restart_stage(r->api->engine, st, r->param[0], r->param[1],
	                                     r->user, &exec, &err);
	if (rc == MZ_OK)
		api_reply_json(r, 200, exec ? exec : json_object());
	else
		api_reply_mzerr(r, &err);
}

static const json_t *
find_stage(const json_t *exec, const char *stage_id)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(exec, "stages"), i, s) {
		if (mz_streq(mz_json_str(s, "id"), stage_id))
			return s;
	}
	return NULL;
}

static void
evaluate(api_req *r, const char *exec_id, const char *stage_id)
{
	const char *expr = api_query(r, "expression");
	json_t *body = NULL;
	if (!expr && strcmp(r->method, "POST") == 0) {
		const char *ctype = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
		                                                "Content-Type");
		if (ctype && strstr(ctype, "json")) {
			body = api_body_object(r, false, "{\"expression\": ...}");
			if (!body)
				return;
			expr = mz_json_str(body, "expression");
		} else {
			expr = r->body;
		}
	}
	if (!expr || !*expr) {
		json_decref(body);
		api_reply_error(r, 400, "give the expression to evaluate in the 'expression' query "
		                "parameter, e.g. ?expression=${trigger.user}");
		return;
	}
	json_t *exec = api_load_execution(r, exec_id, NULL, PIPELINE);
	if (!exec) {
		json_decref(body);
		return;
	}
	const json_t *stage = NULL;
	if (stage_id) {
		stage = find_stage(exec, stage_id);
		if (!stage) {
			api_reply_error(r, 404, "Stage not found (id: %s) in execution %s", stage_id,
			                exec_id);
			json_decref(exec);
			json_decref(body);
			return;
		}
	}
	api_reply_json(r, 200, mz_engine_evaluate(exec, stage, expr));
	json_decref(exec);
	json_decref(body);
}

static void
evaluate_exec(api_req *r)
{
	evaluate(r, r->param[0], NULL);
}

static void
evaluate_stage(api_req *r)
{
	evaluate(r, r->param[0], r->param[1]);
}

/* ---- lists ------------------------------------------------------------- */

/* statuses=a,b: upper-cased, validated; NULL (after a 400) when invalid.
 * *none set when the parameter is absent. */
static bool
parse_statuses(api_req *r, char ***out)
{
	const char *s = api_query(r, "statuses");
	*out = NULL;
	if (!s || !*s)
		return true;
	char **v = api_split_csv(s, true);
	if (!v) {
		api_reply_error(r, 500, "out of memory");
		return false;
	}
	for (char **p = v; *p; p++) {
		if (!mz_status_valid(*p)) {
			api_reply_error(r, 400, "unknown execution status '%.64s' in 'statuses'; use "
			                "NOT_STARTED, RUNNING, PAUSED, SUSPENDED, SUCCEEDED, "
			                "FAILED_CONTINUE, TERMINAL, CANCELED, REDIRECT, STOPPED, SKIPPED "
			                "or BUFFERED", *p);
			api_strv_free(v);
			return false;
		}
	}
	if (!v[0]) {
		api_strv_free(v);
		v = NULL;
	}
	*out = v;
	return true;
}

static json_t *
maybe_summary(json_t *exec, bool expand)
{
	if (expand)
		return json_incref(exec);
	return mz_execution_summary(exec);
}

static int
cmp_start(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	const json_t *sx = json_object_get(x, "startTime"), *sy = json_object_get(y, "startTime");
	bool nx = !json_is_integer(sx), ny = !json_is_integer(sy);
	if (nx != ny)
		return nx ? -1 : 1; /* unstarted first */
	if (!nx) {
		json_int_t tx = json_integer_value(sx), ty = json_integer_value(sy);
		if (tx != ty)
			return tx < ty ? -1 : 1;
	}
	const char *ix = mz_json_str(x, "id"), *iy = mz_json_str(y, "id");
	return -strcmp(ix ? ix : "", iy ? iy : ""); /* ties: id descending */
}

static json_t *
sorted_by_start(json_t *list)
{
	size_t n = json_array_size(list);
	json_t **v = calloc(n ? n : 1, sizeof(json_t *));
	json_t *out = json_array();
	if (!v)
		return out;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(list, i);
	qsort(v, n, sizeof(json_t *), cmp_start);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

/* Orca keeps, per config, the executions built in the last 14 days, or the
 * 2 newest when none is that recent. list is newest first per config. */
static json_t *
history_cutoff(json_t *list)
{
	int64_t since = mz_now_ms() - FOURTEEN_DAYS_MS;
	json_t *recent = json_object(), *older = json_object();
	json_t *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *cid = mz_json_str(e, "pipelineConfigId");
		if (!cid)
			cid = "";
		if (mz_json_int(e, "buildTime", 0) >= since || !json_object_get(e, "buildTime")) {
			json_object_set_new(recent, cid, json_true());
			json_array_append(out, e);
		}
	}
	json_array_foreach(list, i, e) {
		const char *cid = mz_json_str(e, "pipelineConfigId");
		if (!cid)
			cid = "";
		if (json_object_get(recent, cid))
			continue;
		json_int_t seen = json_integer_value(json_object_get(older, cid));
		if (seen < 2) {
			json_object_set_new(older, cid, json_integer(seen + 1));
			json_array_append(out, e);
		}
	}
	json_decref(recent);
	json_decref(older);
	return out;
}

static void
list_executions(api_req *r)
{
	const char *cids = api_query(r, "pipelineConfigIds");
	const char *eids = api_query(r, "executionIds");
	long limit;
	bool expand;
	char **statuses = NULL;
	if (!api_query_int(r, "limit", 1, 1, 100000, &limit) ||
	    !api_query_bool(r, "expand", true, &expand) || !parse_statuses(r, &statuses))
		return;
	bool has_c = cids && *cids, has_e = eids && *eids;
	if (has_c && has_e) {
		api_strv_free(statuses);
		api_reply_error(r, 400, "give either pipelineConfigIds or executionIds, not both");
		return;
	}
	if (!has_c && !has_e) {
		api_strv_free(statuses);
		api_reply_json(r, 200, json_array());
		return;
	}
	mz_store *st = api_store(r);
	if (!st) {
		api_strv_free(statuses);
		return;
	}
	json_t *found = json_array();
	mz_err err = {0};
	char **ids = api_split_csv(has_e ? eids : cids, false);
	if (has_e) {
		for (char **p = ids; p && *p; p++) {
			json_t *e = NULL;
			mz_code rc = mz_exec_get(st, *p, &e, &err);
			if (rc == MZ_OK && e && mz_streq(mz_json_str(e, "type"), "PIPELINE"))
				json_array_append_new(found, e);
			else
				json_decref(e);
			if (rc != MZ_OK && rc != MZ_ENOTFOUND) {
				api_reply_mzerr(r, &err);
				goto out;
			}
		}
	} else {
		mz_exec_query q = {.type = "PIPELINE", .config_ids = (const char **)ids,
		                   .statuses = (const char **)statuses,
		                   .limit_per_config = (int)limit};
		json_t *rows = NULL;
		if (mz_exec_query_run(st, &q, &rows, &err) != MZ_OK) {
			api_reply_mzerr(r, &err);
			goto out;
		}
		json_decref(found);
		found = history_cutoff(rows);
		json_decref(rows);
	}
	json_t *sorted = sorted_by_start(found);
	json_t *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(sorted, i, e) {
		json_array_append_new(out, maybe_summary(e, expand));
	}
	json_decref(sorted);
	api_reply_json(r, 200, out);
out:
	json_decref(found);
	api_strv_free(ids);
	api_strv_free(statuses);
}

/* GET /applications/{app}/pipelines?limit=N&statuses=&expand=
 *   Gate's list: the N newest executions of each pipeline config.
 * Paging (the UI's "show more"; Orca's search has the same startIndex):
 *   &startIndex=K  makes limit a page size over all selected executions,
 *                  newest first, skipping the first K;
 *   &pipelineConfigIds=a,b  keeps only those configs' executions. */
static void
app_pipelines(api_req *r)
{
	long limit, start;
	bool expand;
	char **statuses = NULL;
	const char *start_s = api_query(r, "startIndex");
	if (!api_query_int(r, "limit", 10, 1, 100000, &limit) ||
	    !api_query_int(r, "startIndex", 0, 0, 100000000, &start) ||
	    !api_query_bool(r, "expand", false, &expand) || !parse_statuses(r, &statuses))
		return;
	mz_store *st = api_store(r);
	if (!st) {
		api_strv_free(statuses);
		return;
	}
	char **cids = api_split_csv(api_query(r, "pipelineConfigIds"), false);
	mz_exec_query q = {.type = "PIPELINE", .application = r->param[0],
	                   .statuses = (const char **)statuses,
	                   .config_ids = cids && cids[0] ? (const char **)cids : NULL};
	if (start_s && *start_s) {
		q.limit = (int)limit;
		q.offset = (int)start;
	} else {
		q.limit_per_config = (int)limit;
	}
	json_t *rows = NULL;
	mz_err err = {0};
	mz_code rc = mz_exec_query_run(st, &q, &rows, &err);
	api_strv_free(cids);
	api_strv_free(statuses);
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	json_t *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(rows, i, e) {
		json_array_append_new(out, maybe_summary(e, expand));
	}
	json_decref(rows);
	api_reply_json(r, 200, out);
}

static bool
in_list(char **list, const char *s)
{
	for (char **p = list; p && *p; p++)
		if (mz_strcaseeq(*p, s))
			return true;
	return false;
}

/* GET /applications/{app}/executions/search: Orca's search by trigger,
 * basic filters. */
static void
search_executions(api_req *r)
{
	long start, size;
	bool expand, reverse;
	char **statuses = NULL;
	if (!api_query_int(r, "startIndex", 0, 0, 1000000, &start) ||
	    !api_query_int(r, "size", 10, 1, 100000, &size) ||
	    !api_query_bool(r, "expand", false, &expand) ||
	    !api_query_bool(r, "reverse", false, &reverse) || !parse_statuses(r, &statuses))
		return;
	long t0, t1;
	if (!api_query_int(r, "triggerTimeStartBoundary", 0, 0, INT64_MAX / 2, &t0) ||
	    !api_query_int(r, "triggerTimeEndBoundary", 0, 0, INT64_MAX / 2, &t1)) {
		api_strv_free(statuses);
		return;
	}
	const char *pname = api_query(r, "pipelineName");
	const char *event_id = api_query(r, "eventId");
	char **types = api_split_csv(api_query(r, "triggerTypes"), false);
	mz_store *st = api_store(r);
	json_t *rows = NULL;
	mz_err err = {0};
	if (st) {
		mz_exec_query q = {.type = "PIPELINE", .application = r->param[0],
		                   .statuses = (const char **)statuses};
		if (mz_exec_query_run(st, &q, &rows, &err) != MZ_OK)
			api_reply_mzerr(r, &err);
	}
	if (rows) {
		json_t *match = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(rows, i, e) {
			json_t *trig = json_object_get(e, "trigger");
			int64_t bt = mz_json_int(e, "buildTime", 0);
			if (pname && *pname && !mz_streq(mz_json_str(e, "name"), pname))
				continue;
			if (types && types[0] && !in_list(types, mz_json_str(trig, "type")))
				continue;
			if (event_id && *event_id && !mz_streq(mz_json_str(trig, "eventId"), event_id))
				continue;
			if ((t0 && bt < t0) || (t1 && bt > t1))
				continue;
			json_array_append(match, e);
		}
		size_t n = json_array_size(match);
		json_t *out = json_array();
		for (size_t k = (size_t)start; k < n && json_array_size(out) < (size_t)size; k++) {
			json_t *x = json_array_get(match, reverse ? n - 1 - k : k);
			json_array_append_new(out, maybe_summary(x, expand));
		}
		json_decref(match);
		json_decref(rows);
		api_reply_json(r, 200, out);
	}
	api_strv_free(types);
	api_strv_free(statuses);
}

const api_route api_execution_routes[] = {
	{"GET", "/executions", list_executions},
	{"GET", "/applications/{app}/pipelines", app_pipelines},
	{"GET", "/applications/{app}/executions/search", search_executions},
	{"GET", "/pipelines/{id}", get_pipeline},
	{"DELETE", "/pipelines/{id}", delete_pipeline},
	{"PUT", "/pipelines/{id}/cancel", cancel_pipeline},
	{"PUT", "/applications/{app}/pipelines/{id}/cancel", cancel_app_pipeline},
	{"PUT", "/pipelines/{id}/pause", pause_pipeline},
	{"PUT", "/pipelines/{id}/resume", resume_pipeline},
	{"PATCH", "/pipelines/{id}/stages/{stageId}", patch_stage},
	{"PUT", "/pipelines/{id}/stages/{stageId}/restart", restart_stage},
	{"GET", "/pipelines/{id}/evaluateExpression", evaluate_exec},
	{"POST", "/pipelines/{id}/evaluateExpression", evaluate_exec},
	{"GET", "/pipelines/{id}/{stageId}/evaluateExpression", evaluate_stage},
	{NULL, NULL, NULL},
};
