/* api_pipelines.c - pipeline configs (Gate over Front50): save with the
 * stale and duplicate-name checks, update, list, get by name, history,
 * delete; and triggering a pipeline (by name or id, both trigger body
 * forms, the v2 event form, and ad-hoc configs). */
#include "api/api_int.h"
#include "pollers/pollers.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Front50's save: validation, stale check, duplicate-name check, id, index,
 * cron trigger ids, lastModifiedBy/updateTs stamps; unknown keys are kept.
 * cfg is borrowed and modified. must_exist: PUT /pipelines/{id}. */
bool
api_validate_config(api_req *r, const json_t *cfg)
{
	mz_err err = {0};
	if (mz_template_is_v2_config(cfg)) {
		/* a templated config is valid when its template renders it into a
		 * valid pipeline (Front50 stores it unchecked; Orca fails at start) */
		const char *app = mz_json_str(cfg, "application"), *name = mz_json_str(cfg, "name");
		if (!app || !*app || !name || !*name) {
			api_reply_error(r, 400, "pipeline config needs a non-empty 'application' and "
			                "'name'");
			return false;
		}
		mz_store *st = api_store(r);
		if (!st)
			return false;
		json_t *out = NULL;
		if (mz_template_render(st, cfg, &out, &err) != MZ_OK) {
			api_reply_error(r, 400, "%s", err.msg);
			return false;
		}
		json_decref(out);
		return true;
	}
	if (mz_pipeline_validate(cfg, &err) != MZ_OK) {
		api_reply_error(r, 400, "%s", err.msg);
		return false;
	}
	return true;
}

bool
api_is_strategy(const json_t *cfg)
{
	return mz_json_bool(cfg, "strategy", false);
}

/* A templated config's inherited triggers fire as its own do: the same
 * rule for their runAsUser (the config renders: it was validated). */
static bool
check_inherited_run_as(api_req *r, const json_t *cfg)
{
	json_t *out = NULL;
	mz_err err = {0};
	if (!mz_template_is_v2_config(cfg))
		return true;
	if (mz_template_render(api_store(r), cfg, &out, &err) != MZ_OK) {
		api_reply_error(r, 400, "%s", err.msg);
		return false;
	}
	bool ok = api_check_run_as(r, out);
	json_decref(out);
	return ok;
}

void
api_save_config(api_req *r, json_t *cfg, bool stale_check, bool must_exist)
{
	mz_err err = {0};
	json_object_del(cfg, "managedBy"); /* only the git sync marks a config as its own */
	if (!api_validate_config(r, cfg))
		return;
	char *name = mz_strtrim(mz_json_str(cfg, "name"));
	if (!name || !*name) {
		free(name);
		api_reply_error(r, 400, "pipeline config needs a non-empty 'name'");
		return;
	}
	json_object_set_new(cfg, "name", json_string(name));
	json_t *idv = json_object_get(cfg, "id");
	if (idv && !json_is_null(idv) && !json_is_string(idv)) {
		free(name);
		api_reply_error(r, 400, "pipeline 'id' must be a string");
		return;
	}
	if (!mz_json_str(cfg, "id") || !*mz_json_str(cfg, "id")) {
		char id[37];
		mz_uuid(id);
		json_object_set_new(cfg, "id", json_string(id));
	}
	const char *id = mz_json_str(cfg, "id");
	const char *app = mz_json_str(cfg, "application");

	/* cron triggers get ids, as Front50 gives them */
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(cfg, "triggers"), i, t) {
		if (json_is_object(t) && mz_streq(mz_json_str(t, "type"), "cron") &&
		    !mz_json_str(t, "id")) {
			char tid[37];
			mz_uuid(tid);
			json_object_set_new(t, "id", json_string(tid));
		}
	}

	mz_store *st = api_begin(r);
	if (!st) {
		free(name);
		return;
	}
	json_t *existing = NULL, *dup = NULL;
	mz_code rc = mz_pipeline_get(st, id, &existing, &err);
	if (rc == MZ_ENOTFOUND) {
		existing = NULL;
		rc = MZ_OK;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		goto fail;
	}
	if (existing && json_object_get(existing, "managedBy")) {
		api_reply_error(r, 409, "Pipeline %s is managed in git (%s %s); change it there",
		                mz_json_str(existing, "name"),
		                mz_json_str(json_object_get(existing, "managedBy"), "url"),
		                mz_json_str(json_object_get(existing, "managedBy"), "file"));
		goto fail;
	}
	if (existing && api_is_strategy(existing) != api_is_strategy(cfg)) {
		/* one id space, two kinds: a pipeline save never turns a strategy
		 * into a pipeline or back */
		if (must_exist) {
			api_reply_error(r, 404, "%s not found (id: %s)", api_is_strategy(cfg) ?
			                "Strategy config" : "Pipeline config", id);
		} else {
			api_reply_error(r, 400, "id %s belongs to a %s", id,
			                api_is_strategy(existing) ? "strategy" : "pipeline");
		}
		goto fail;
	}
	if (must_exist && !existing) {
		api_reply_error(r, 404, "%s not found (id: %s)", api_is_strategy(cfg) ?
		                "Strategy config" : "Pipeline config", id);
		goto fail;
	}
	if (stale_check && existing && json_object_get(cfg, "updateTs")) {
		char *submitted = mz_json_ts_text(json_object_get(cfg, "updateTs"));
		char *stored = mz_json_ts_text(json_object_get(existing, "updateTs"));
		bool stale = !mz_streq(submitted, stored);
		if (stale)
			api_reply_error(r, 400, "The submitted pipeline is stale.  submitted updateTs %s "
			                "does not match stored updateTs %s",
			                submitted ? submitted : "null", stored ? stored : "null");
		free(submitted);
		free(stored);
		if (stale)
			goto fail;
	}
	rc = mz_pipeline_find_name_ci(st, app, name, &dup, &err);
	if (rc == MZ_ENOTFOUND) {
		dup = NULL;
		rc = MZ_OK;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		goto fail;
	}
	if (dup && !mz_streq(mz_json_str(dup, "id"), id) && json_object_get(dup, "managedBy")) {
		/* a save without the id (a file saved again by name) is still a
		 * save of the config that git owns: say so, not "name taken" */
		api_reply_error(r, 409, "Pipeline %s is managed in git (%s %s); change it there",
		                mz_json_str(dup, "name"),
		                mz_json_str(json_object_get(dup, "managedBy"), "url"),
		                mz_json_str(json_object_get(dup, "managedBy"), "file"));
		goto fail;
	}
	if (dup && !mz_streq(mz_json_str(dup, "id"), id)) {
		api_reply_error(r, 400, "A pipeline with name %s already exists in application %s",
		                name, app);
		goto fail;
	}
	if (!json_object_get(cfg, "index") && existing && json_object_get(existing, "index"))
		json_object_set(cfg, "index", json_object_get(existing, "index"));
	if (!api_check_run_as(r, cfg) || !check_inherited_run_as(r, cfg))
		goto fail;
	mz_config_keep_trigger_secrets(cfg, existing);
	mz_config_seal_headers(cfg, existing);
	json_object_set_new(cfg, "lastModifiedBy", json_string(r->user));
	char ts[32];
	snprintf(ts, sizeof(ts), "%" PRId64, mz_now_ms());
	json_object_set_new(cfg, "updateTs", json_string(ts));
	if (mz_pipeline_put(st, cfg, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		goto fail;
	}
	if (!api_commit(r))
		goto out;
	/* Before the answer: a commit pushed once the client has it counts. */
	mz_pollers_git_baseline(api_store(r), cfg);
	api_reply_json(r, 200, json_incref(cfg));
	goto out;
fail:
	api_rollback(r);
out:
	json_decref(existing);
	json_decref(dup);
	free(name);
}

static void
post_pipeline(api_req *r)
{
	bool stale;
	if (!api_query_bool(r, "staleCheck", false, &stale))
		return;
	json_t *cfg = api_body_object(r, false, "a pipeline config");
	if (!cfg)
		return;
	api_save_config(r, cfg, stale, false);
	json_decref(cfg);
}

static void
put_pipeline(api_req *r)
{
	json_t *cfg = api_body_object(r, false, "a pipeline config");
	if (!cfg)
		return;
	const char *id = mz_json_str(cfg, "id");
	if (!json_object_get(cfg, "id") || json_is_null(json_object_get(cfg, "id"))) {
		json_object_set_new(cfg, "id", json_string(r->param[0]));
	} else if (!id || strcmp(id, r->param[0]) != 0) {
		api_reply_error(r, 400, "The provided id %s doesn't match the pipeline id %s",
		                r->param[0], id ? id : "(not a string)");
		json_decref(cfg);
		return;
	}
	api_save_config(r, cfg, false, true);
	json_decref(cfg);
}

/* Front50 lists configs sorted by index then name, index renumbered. */
static json_t *
renumber(json_t *cfgs, const char *filter)
{
	json_t *out = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(cfgs, i, c) {
		if (api_is_strategy(c))
			continue; /* listed by /applications/{app}/strategyConfigs */
		if (filter && *filter) {
			const char *n = mz_json_str(c, "name");
			if (!n || !strcasestr(n, filter))
				continue;
		}
		json_t *copy = json_incref(c);
		json_object_set_new(copy, "index", json_integer((json_int_t)json_array_size(out)));
		json_array_append_new(out, copy);
	}
	return out;
}

static void
list_app_configs(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *cfgs = NULL;
	mz_err err = {0};
	if (mz_pipeline_list(st, r->param[0], &cfgs, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	json_t *out = renumber(cfgs, api_query(r, "pipelineNameFilter"));
	json_decref(cfgs);
	api_reply_json(r, 200, out);
}

static void
list_all_configs(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *cfgs = NULL;
	mz_err err = {0};
	if (mz_pipeline_list(st, NULL, &cfgs, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	json_t *out = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(cfgs, i, c) {
		if (!api_is_strategy(c))
			json_array_append(out, c);
	}
	json_decref(cfgs);
	api_reply_json(r, 200, out);
}

static void
get_config_by_name(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *cfg = NULL;
	mz_err err = {0};
	mz_code rc = mz_pipeline_get_by_name(st, r->param[0], r->param[1], &cfg, &err);
	if (rc == MZ_OK && cfg && api_is_strategy(cfg)) {
		json_decref(cfg);
		cfg = NULL;
	}
	if (rc == MZ_ENOTFOUND || (rc == MZ_OK && !cfg)) {
		api_reply_error(r, 404, "Pipeline config (id: %s) not found for Application (id: %s)",
		                r->param[1], r->param[0]);
		return;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	api_reply_json(r, 200, cfg);
}

/* A config's saved versions, newest first (pipelines and strategies). */
void
api_config_history(api_req *r)
{
	long limit;
	if (!api_query_int(r, "limit", 20, 1, 1000, &limit))
		return;
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *versions = NULL;
	mz_err err = {0};
	mz_code rc = mz_pipeline_history(st, r->param[0], (int)limit, &versions, &err);
	if (rc == MZ_ENOTFOUND) {
		versions = json_array();
		rc = MZ_OK;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	api_reply_json(r, 200, versions);
}

static void
delete_config(api_req *r)
{
	char *name = mz_strtrim(r->param[1]);
	if (!name) {
		api_reply_error(r, 500, "out of memory");
		return;
	}
	mz_store *st = api_begin(r);
	if (!st) {
		free(name);
		return;
	}
	json_t *cfg = NULL;
	mz_err err = {0};
	mz_code rc = mz_pipeline_find_name_ci(st, r->param[0], name, &cfg, &err);
	if (rc == MZ_OK && cfg && api_is_strategy(cfg) != mz_streq(r->seg[0], "strategies"))
		rc = MZ_ENOTFOUND; /* the other kind: nothing of this kind to delete */
	else if (rc == MZ_OK && cfg && json_object_get(cfg, "managedBy")) {
		api_rollback(r);
		api_reply_error(r, 409, "Pipeline %s is managed in git (%s %s); delete its file there",
		                mz_json_str(cfg, "name"),
		                mz_json_str(json_object_get(cfg, "managedBy"), "url"),
		                mz_json_str(json_object_get(cfg, "managedBy"), "file"));
		json_decref(cfg);
		free(name);
		return;
	}
	else if (rc == MZ_OK && cfg)
		rc = mz_pipeline_delete(st, mz_json_str(cfg, "id"), &err);
	if (rc == MZ_ENOTFOUND)
		rc = MZ_OK; /* Gate answers 200 when there is nothing to delete */
	if (rc != MZ_OK) {
		api_rollback(r);
		api_reply_mzerr(r, &err);
	} else if (api_commit(r)) {
		api_reply_empty(r, 200);
	}
	json_decref(cfg);
	free(name);
}

/* ---- triggering -------------------------------------------------------- */

/* The trigger from a body that is either the bare trigger or
 * {"trigger": {...}} (both spin generations); NULL after a 400. */
static json_t *
trigger_from_body(api_req *r)
{
	json_t *body = api_body_object(r, true, "a trigger");
	if (!body && r->replied)
		return NULL;
	if (!body)
		return json_object();
	json_t *inner = json_object_get(body, "trigger");
	if (inner) {
		if (!json_is_object(inner)) {
			json_decref(body);
			api_reply_error(r, 400, "'trigger' must be a JSON object");
			return NULL;
		}
		json_t *t = json_deep_copy(inner);
		json_decref(body);
		return t;
	}
	return body;
}

static void
normalise_trigger(api_req *r, json_t *trigger)
{
	if (!mz_json_str(trigger, "user"))
		json_object_set_new(trigger, "user", json_string(r->user));
	if (!json_is_array(json_object_get(trigger, "notifications")))
		json_object_set_new(trigger, "notifications", json_array());
}

/* Launches cfg with trigger in one transaction; replies the error or
 * fills id. */
static bool
launch(api_req *r, const json_t *cfg, const json_t *trigger, char id[27])
{
	mz_store *st = api_begin(r);
	if (!st)
		return false;
	mz_err err = {0};
	if (mz_engine_launch_pipeline(r->api->engine, st, cfg, trigger, r->user, r->origin, id,
	                              &err) != MZ_OK) {
		api_rollback(r);
		api_reply_mzerr(r, &err);
		return false;
	}
	if (!api_commit(r))
		return false;
	mz_engine_wake(r->api->engine);
	return true;
}

/* Gate: the config of app whose name (else id) is name_or_id. */
static json_t *
find_config(api_req *r, const char *app, const char *name_or_id)
{
	mz_store *st = api_store(r);
	if (!st)
		return NULL;
	json_t *cfg = NULL;
	mz_err err = {0};
	mz_code rc = mz_pipeline_get_by_name(st, app, name_or_id, &cfg, &err);
	if (rc == MZ_ENOTFOUND || (rc == MZ_OK && !cfg)) {
		cfg = NULL;
		rc = mz_pipeline_get(st, name_or_id, &cfg, &err);
		if (rc == MZ_OK && cfg && !mz_strcaseeq(mz_json_str(cfg, "application"), app)) {
			json_decref(cfg);
			cfg = NULL;
			rc = MZ_ENOTFOUND;
		}
	}
	if (rc == MZ_ENOTFOUND || (rc == MZ_OK && !cfg)) {
		api_reply_error(r, 404, "Pipeline config (id: %s) not found for Application (id: %s)",
		                name_or_id, app);
		return NULL;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		return NULL;
	}
	return cfg;
}

/* Re-run: {"rerunOf": "<executionId>"} starts the config again with the
 * original's trigger (its type, parameters, artifacts, payload), run by
 * the caller. The original must be an execution of the same config. */
static bool
rerun_trigger(api_req *r, const json_t *cfg, json_t **trigger)
{
	const char *of = mz_json_str(*trigger, "rerunOf");
	json_t *orig = api_load_execution(r, of, "PIPELINE", "Execution to re-run");
	if (!orig)
		return false;
	if (!mz_streq(mz_json_str(orig, "pipelineConfigId"), mz_json_str(cfg, "id"))) {
		api_reply_error(r, 400, "execution %s is not an execution of %s/%s", of,
		                mz_json_str(cfg, "application"), mz_json_str(cfg, "name"));
		json_decref(orig);
		return false;
	}
	json_t *t = json_deep_copy(json_object_get(orig, "trigger"));
	if (!json_is_object(t)) {
		json_decref(t);
		t = json_object();
	}
	/* what was bound or stamped for the original run is bound again */
	static const char *const drop[] = {"resolvedExpectedArtifacts", "eventId", "user",
	                                   "rerunOf", "isRerun", NULL};
	for (int i = 0; drop[i]; i++)
		json_object_del(t, drop[i]);
	json_object_set_new(t, "rerunOf", json_string(of));
	json_object_set_new(t, "isRerun", json_true());
	json_decref(orig);
	json_decref(*trigger);
	*trigger = t;
	return true;
}

static void
trigger_common(api_req *r, bool v2)
{
	json_t *trigger = trigger_from_body(r);
	if (!trigger)
		return;
	json_t *cfg = find_config(r, r->param[0], r->param[1]);
	if (!cfg) {
		json_decref(trigger);
		return;
	}
	if (mz_json_str(trigger, "rerunOf") && !rerun_trigger(r, cfg, &trigger)) {
		json_decref(cfg);
		json_decref(trigger);
		return;
	}
	normalise_trigger(r, trigger);
	char event_id[37] = "";
	if (v2) {
		if (mz_json_str(trigger, "eventId"))
			snprintf(event_id, sizeof(event_id), "%s", mz_json_str(trigger, "eventId"));
		else {
			mz_uuid(event_id);
			json_object_set_new(trigger, "eventId", json_string(event_id));
		}
	}
	/* Built here, with no lock held; written by the committer with the
	 * triggers that arrive meanwhile, in one transaction (api_launch.c),
	 * and answered 202 once durable. */
	mz_launch *l = NULL;
	mz_err err = {0};
	mz_store *st = api_store(r);
	if (st && mz_engine_prepare_pipeline(r->api->engine, st, cfg, trigger, r->user,
	                                     r->origin, &l, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
	} else if (st && !api_launch_defer(r, l, v2, event_id)) {
		mz_engine_launch_done(r->api->engine, l, false);
		api_reply_error(r, 503, "the server is stopping");
	}
	json_decref(cfg);
	json_decref(trigger);
}

static void
trigger_pipeline(api_req *r)
{
	trigger_common(r, false);
}

static void
trigger_pipeline_v2(api_req *r)
{
	trigger_common(r, true);
}

/* POST /pipelines/start: an ad-hoc pipeline config (not stored), with its
 * trigger in "trigger". */
static void
start_adhoc(api_req *r)
{
	json_t *cfg = api_body_object(r, false, "a pipeline config");
	if (!cfg)
		return;
	bool plan = mz_json_bool(cfg, "plan", false);
	json_object_del(cfg, "plan");
	if (plan) {
		/* Orca's plan: the pipeline as it would run; nothing starts */
		api_plan_config(r, cfg);
		json_decref(cfg);
		return;
	}
	if (!api_validate_config(r, cfg)) {
		json_decref(cfg);
		return;
	}
	json_t *trigger = json_object_get(cfg, "trigger");
	if (trigger && !json_is_object(trigger)) {
		api_reply_error(r, 400, "'trigger' must be a JSON object");
		json_decref(cfg);
		return;
	}
	trigger = trigger ? json_deep_copy(trigger) : json_object();
	json_object_del(cfg, "trigger");
	normalise_trigger(r, trigger);
	char id[27] = "";
	if (launch(r, cfg, trigger, id)) {
		char *ref = mz_asprintf("/pipelines/%s", id);
		api_reply_json(r, 202, json_pack("{s:s}", "ref", ref));
		free(ref);
	}
	json_decref(trigger);
	json_decref(cfg);
}

const api_route api_pipeline_routes[] = {
	{"POST", "/pipelines", post_pipeline},
	{"POST", "/pipelines/start", start_adhoc},
	{"POST", "/pipelines/v2/{app}/{nameOrId}", trigger_pipeline_v2},
	{"POST", "/pipelines/{app}/{nameOrId}", trigger_pipeline},
	{"POST", "/applications/{app}/pipelineConfigs/{nameOrId}", trigger_pipeline},
	{"PUT", "/pipelines/{id}", put_pipeline},
	{"DELETE", "/pipelines/{app}/{name}", delete_config},
	{"DELETE", "/strategies/{app}/{name}", delete_config},
	{"GET", "/applications/{app}/pipelineConfigs", list_app_configs},
	{"GET", "/applications/{app}/pipelineConfigs/{name}", get_config_by_name},
	{"GET", "/pipelineConfigs", list_all_configs},
	{"GET", "/pipelineConfigs/{id}/history", api_config_history},
	{NULL, NULL, NULL},
};
