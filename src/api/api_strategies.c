/* api_strategies.c - Front50's deployment strategies as Gate serves them,
 * and the reordering of pipelines and strategies:
 *   GET    /applications/{app}/strategyConfigs
 *   POST   /strategies[?staleCheck=true]        save (create or update)
 *   PUT    /strategies/{id}                     update (Deck's rename)
 *   GET    /strategyConfigs/{id}/history[?limit=]
 *   (DELETE /strategies/{app}/{name} is delete_config in api_pipelines.c)
 *   POST   /actions/pipelines/reorder  {"application", "idsToIndices": {id: index}}
 *   POST   /actions/strategies/reorder
 *
 * A strategy is a pipeline config with "strategy": true (Deck sends the
 * flag; we set it): it shares the table, the validation and the history of
 * pipeline configs, and the pipeline lists leave it out. Deck loads the
 * strategies together with the pipelines, so its Pipelines tab needs this
 * list to answer even when it is empty. */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

static void
list_strategies(api_req *r)
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
	json_t *out = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(cfgs, i, c) {
		if (!api_is_strategy(c))
			continue;
		json_t *copy = json_incref(c);
		json_object_set_new(copy, "index", json_integer((json_int_t)json_array_size(out)));
		json_array_append_new(out, copy);
	}
	json_decref(cfgs);
	api_reply_json(r, 200, out);
}

static void
post_strategy(api_req *r)
{
	bool stale;
	if (!api_query_bool(r, "staleCheck", false, &stale))
		return;
	json_t *cfg = api_body_object(r, false, "a strategy config");
	if (!cfg)
		return;
	json_object_set_new(cfg, "strategy", json_true());
	api_save_config(r, cfg, stale, false);
	json_decref(cfg);
}

static void
put_strategy(api_req *r)
{
	json_t *cfg = api_body_object(r, false, "a strategy config");
	if (!cfg)
		return;
	const char *id = mz_json_str(cfg, "id");
	if (!json_object_get(cfg, "id") || json_is_null(json_object_get(cfg, "id"))) {
		json_object_set_new(cfg, "id", json_string(r->param[0]));
	} else if (!id || strcmp(id, r->param[0]) != 0) {
		api_reply_error(r, 400, "The provided id %s doesn't match the strategy id %s",
		                r->param[0], id ? id : "(not a string)");
		json_decref(cfg);
		return;
	}
	json_object_set_new(cfg, "strategy", json_true());
	api_save_config(r, cfg, false, true);
	json_decref(cfg);
}

/* Front50's reorder: each id in idsToIndices gets that index; configs of
 * another application or of the other kind are refused, unknown ids too,
 * and nothing is changed unless every id is good. */
static void
reorder(api_req *r)
{
	bool strategies = mz_streq(r->param[0], "strategies");
	if (!strategies && !mz_streq(r->param[0], "pipelines")) {
		api_reply_error(r, 404, "no such endpoint: POST %s (use /actions/pipelines/reorder "
		                "or /actions/strategies/reorder)", r->path);
		return;
	}
	json_t *body = api_body_object(r, false, "{\"application\", \"idsToIndices\"}");
	if (!body)
		return;
	const char *app = mz_json_str(body, "application");
	json_t *map = json_object_get(body, "idsToIndices");
	if (!app || !*app || !json_is_object(map)) {
		api_reply_error(r, 400, "reorder needs 'application' (a string) and 'idsToIndices' "
		                "(an object of config id to index)");
		json_decref(body);
		return;
	}
	mz_store *st = api_begin(r);
	if (!st) {
		json_decref(body);
		return;
	}
	const char *id;
	json_t *idx;
	mz_err err = {0};
	json_object_foreach(map, id, idx) {
		if (!json_is_integer(idx) || json_integer_value(idx) < 0) {
			api_reply_error(r, 400, "idsToIndices['%s'] must be a non-negative integer", id);
			goto fail;
		}
		json_t *cfg = NULL;
		mz_code rc = mz_pipeline_get(st, id, &cfg, &err);
		if (rc == MZ_ENOTFOUND || (rc == MZ_OK && (!cfg ||
		    !mz_strcaseeq(mz_json_str(cfg, "application"), app) ||
		    api_is_strategy(cfg) != strategies))) {
			json_decref(cfg);
			api_reply_error(r, 404, "%s config %s not found in application %s",
			                strategies ? "Strategy" : "Pipeline", id, app);
			goto fail;
		}
		if (rc != MZ_OK) {
			api_reply_mzerr(r, &err);
			goto fail;
		}
		json_object_set(cfg, "index", idx);
		rc = mz_pipeline_put(st, cfg, &err);
		json_decref(cfg);
		if (rc != MZ_OK) {
			api_reply_mzerr(r, &err);
			goto fail;
		}
	}
	if (api_commit(r))
		api_reply_empty(r, 200);
	json_decref(body);
	return;
fail:
	api_rollback(r);
	json_decref(body);
}

const api_route api_strategy_routes[] = {
	{"GET", "/applications/{app}/strategyConfigs", list_strategies},
	{"POST", "/strategies", post_strategy},
	{"PUT", "/strategies/{id}", put_strategy},
	{"GET", "/strategyConfigs/{id}/history", api_config_history},
	{"POST", "/actions/{type}/reorder", reorder},
	{NULL, NULL, NULL},
};
