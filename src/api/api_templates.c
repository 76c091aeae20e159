/* api_templates.c - Spinnaker's v2 pipeline templates through Gate's paths:
 *   GET    /v2/pipelineTemplates[?scopes=]              the latest of each
 *   POST   /v2/pipelineTemplates/create[?tag=]          202
 *   POST   /v2/pipelineTemplates/update/{id}[?tag=]     202
 *   GET    /v2/pipelineTemplates/{id}[?tag=]
 *   DELETE /v2/pipelineTemplates/{id}[?tag=]            202
 *   POST   /v2/pipelineTemplates/plan                   the rendered pipeline
 *   GET    /v2/pipelineTemplates/versions               {id: [versions]}
 *   GET    /v2/pipelineTemplates/{id}/dependentPipelines
 *   GET    /pipelineTemplates/resolve?source=spinnaker://ID   (Deck's lookup)
 * Gate runs create, update and delete as Orca tasks and answers 202 with
 * the task; here they are stored at once (still 202, as spin expects), the
 * "ref" naming the template. Rendering is the engine's (templates.c). */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

void
api_plan_config(api_req *r, const json_t *cfg)
{
	if (!mz_template_is_v2_config(cfg)) {
		if (api_validate_config(r, cfg))
			api_reply_json(r, 200, json_deep_copy(cfg));
		return;
	}
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *out = NULL;
	mz_err err = {0};
	if (mz_template_render(st, cfg, &out, &err) != MZ_OK) {
		api_reply_error(r, 400, "%s", err.msg);
		return;
	}
	api_reply_json(r, 200, out);
}

static bool
in_scopes(const json_t *t, char **scopes)
{
	if (!scopes || !scopes[0])
		return true;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(json_object_get(t, "metadata"), "scopes"), i, s) {
		for (char **p = scopes; *p; p++)
			if (mz_strcaseeq(json_string_value(s), *p))
				return true;
	}
	return false;
}

static void
list_templates(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *all = NULL;
	mz_err err = {0};
	if (mz_template_list(st, false, &all, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	char **scopes = api_split_csv(api_query(r, "scopes"), false);
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(all, i, t) {
		if (in_scopes(t, scopes))
			json_array_append(out, t);
	}
	api_strv_free(scopes);
	json_decref(all);
	api_reply_json(r, 200, out);
}

static void
versions(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *all = NULL;
	mz_err err = {0};
	if (mz_template_list(st, true, &all, &err) != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	json_t *out = json_object();
	size_t i;
	json_t *t;
	json_array_foreach(all, i, t) {
		const char *id = mz_json_str(t, "id");
		json_t *list = json_object_get(out, id);
		if (!list) {
			list = json_array();
			json_object_set_new(out, id, list);
		}
		json_array_append(list, t);
	}
	json_decref(all);
	api_reply_json(r, 200, out);
}

/* Configs of any application whose template reference names id. */
static json_t *
dependents(mz_store *st, const char *id, mz_err *err)
{
	json_t *cfgs = NULL;
	if (mz_pipeline_list(st, NULL, &cfgs, err) != MZ_OK)
		return NULL;
	json_t *out = json_array();
	char *ref = mz_asprintf("spinnaker://%s", id);
	size_t n = strlen(ref), i;
	json_t *c;
	json_array_foreach(cfgs, i, c) {
		const char *cr = mz_json_str(json_object_get(c, "template"), "reference");
		if (mz_template_is_v2_config(c) && cr && strncmp(cr, ref, n) == 0 &&
		    (cr[n] == '\0' || cr[n] == ':' || cr[n] == '@'))
			json_array_append(out, c);
	}
	free(ref);
	json_decref(cfgs);
	return out;
}

/* A template is shared: a change to it changes what every pipeline built on
 * it runs, under those pipelines' applications and trigger users. So
 * changing one needs WRITE on each application with a pipeline built on
 * it (admins pass; a template nothing uses yet is anyone's to change who
 * may save pipelines). False after a reply. */
static bool
may_change_template(api_req *r, mz_store *st, const char *id)
{
	if (r->id.admin)
		return true;
	mz_err err = {0};
	json_t *deps = dependents(st, id, &err);
	if (!deps) {
		api_reply_mzerr(r, &err);
		return false;
	}
	size_t i;
	json_t *c;
	json_array_foreach(deps, i, c) {
		const char *app = mz_json_str(c, "application");
		if (app && !api_may(r, app, MZ_PERM_WRITE)) {
			api_reply_error(r, 403, "Pipeline template %s is used by the pipeline %s of "
			                "application %s, which %s may not WRITE: changing the template "
			                "would change what that pipeline runs (an admin, or someone "
			                "with WRITE on %s, may)", id, mz_json_str(c, "name"), app,
			                r->user, app);
			json_decref(deps);
			return false;
		}
	}
	json_decref(deps);
	return true;
}

static void
save_template(api_req *r, const char *path_id, bool create)
{
	json_t *t = api_body_object(r, false, "a v2 pipeline template");
	if (!t)
		return;
	mz_err err = {0};
	if (path_id && !mz_json_str(t, "id"))
		json_object_set_new(t, "id", json_string(path_id));
	if (mz_template_validate(t, &err) != MZ_OK) {
		api_reply_error(r, 400, "%s", err.msg);
		json_decref(t);
		return;
	}
	/* a template's triggers fire for every config that inherits them */
	if (!api_check_run_as_names(r, json_object_get(json_object_get(t, "pipeline"), "triggers"),
	                            "pipeline.triggers")) {
		json_decref(t);
		return;
	}
	const char *id = mz_json_str(t, "id");
	if (path_id && strcmp(path_id, id) != 0) {
		api_reply_error(r, 400, "The template id %s does not match the path id %s", id,
		                path_id);
		json_decref(t);
		return;
	}
	const char *tag = api_query(r, "tag");
	mz_store *st = api_begin(r);
	if (!st) {
		json_decref(t);
		return;
	}
	json_t *prev = NULL;
	mz_code rc = mz_template_get(st, id, NULL, &prev, &err);
	json_decref(prev);
	if (create && rc == MZ_OK) {
		api_rollback(r);
		api_reply_error(r, 409, "A pipeline template with the id %s already exists", id);
	} else if (!create && rc == MZ_ENOTFOUND) {
		api_rollback(r);
		api_reply_error(r, 404, "Pipeline template not found (id: %s)", id);
	} else if (rc != MZ_OK && rc != MZ_ENOTFOUND) {
		api_rollback(r);
		api_reply_mzerr(r, &err);
	} else if (!create && !may_change_template(r, st, id)) {
		api_rollback(r);
	} else {
		json_object_set_new(t, "lastModifiedBy", json_string(r->user));
		if (mz_template_put(st, t, tag, &err) != MZ_OK) {
			api_rollback(r);
			api_reply_mzerr(r, &err);
		} else if (api_commit(r)) {
			char *ref = mz_asprintf("/v2/pipelineTemplates/%s", id);
			api_reply_json(r, 202, json_pack("{s:s, s:s}", "ref", ref, "id", id));
			free(ref);
		}
	}
	json_decref(t);
}

static void
create_template(api_req *r)
{
	save_template(r, NULL, true);
}

static void
update_template(api_req *r)
{
	save_template(r, r->param[0], false);
}

static void
get_template(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *t = NULL;
	mz_err err = {0};
	mz_code rc = mz_template_get(st, r->param[0], api_query(r, "tag"), &t, &err);
	if (rc == MZ_ENOTFOUND)
		api_reply_error(r, 404, "Pipeline template not found (id: %s)", r->param[0]);
	else if (rc != MZ_OK)
		api_reply_mzerr(r, &err);
	else
		api_reply_json(r, 200, t);
}

static void
dependent_pipelines(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	mz_err err = {0};
	json_t *out = dependents(st, r->param[0], &err);
	if (!out)
		api_reply_mzerr(r, &err);
	else
		api_reply_json(r, 200, out);
}

/* Front50 refuses to delete a template that pipelines still use. */
static void
delete_template(api_req *r)
{
	const char *tag = api_query(r, "tag");
	mz_store *st = api_begin(r);
	if (!st)
		return;
	mz_err err = {0};
	if (tag && *tag && !may_change_template(r, st, r->param[0])) {
		api_rollback(r);
		return;
	}
	json_t *deps = tag && *tag ? json_array() : dependents(st, r->param[0], &err);
	if (!deps) {
		api_rollback(r);
		api_reply_mzerr(r, &err);
		return;
	}
	if (json_array_size(deps)) {
		api_rollback(r);
		api_reply_error(r, 409, "Pipeline template %s is used by %zu pipeline(s), e.g. %s/%s",
		                r->param[0], json_array_size(deps),
		                mz_json_str(json_array_get(deps, 0), "application"),
		                mz_json_str(json_array_get(deps, 0), "name"));
		json_decref(deps);
		return;
	}
	json_decref(deps);
	mz_code rc = mz_template_delete(st, r->param[0], tag, &err);
	if (rc == MZ_ENOTFOUND) {
		api_rollback(r);
		api_reply_error(r, 404, "Pipeline template not found (id: %s)", r->param[0]);
	} else if (rc != MZ_OK) {
		api_rollback(r);
		api_reply_mzerr(r, &err);
	} else if (api_commit(r)) {
		api_reply_json(r, 202, json_pack("{s:s}", "id", r->param[0]));
	}
}

static void
plan(api_req *r)
{
	json_t *cfg = api_body_object(r, false, "a templated pipeline config");
	if (!cfg)
		return;
	json_object_del(cfg, "plan");
	if (!mz_template_is_v2_config(cfg)) {
		api_reply_error(r, 400, "plan needs a v2 templated config: {\"schema\": \"v2\", "
		                "\"template\": {\"reference\": \"spinnaker://ID\"}, ...}");
	} else {
		api_plan_config(r, cfg);
	}
	json_decref(cfg);
}

/* Deck's v1 lookup by source; answered for templates stored here. */
static void
resolve(api_req *r)
{
	const char *src = api_query(r, "source");
	const char *prefix = "spinnaker://";
	if (!src || strncmp(src, prefix, strlen(prefix)) != 0) {
		api_reply_error(r, 400, "source must be spinnaker://ID (templates stored in mizzen)");
		return;
	}
	char *id = mz_strdup(src + strlen(prefix));
	char *colon = strchr(id, ':');
	if (colon)
		*colon++ = '\0';
	mz_store *st = api_store(r);
	if (!st) {
		free(id);
		return;
	}
	json_t *t = NULL;
	mz_err err = {0};
	mz_code rc = mz_template_get(st, id, colon, &t, &err);
	if (rc == MZ_ENOTFOUND)
		api_reply_error(r, 404, "Pipeline template not found (source: %s)", src);
	else if (rc != MZ_OK)
		api_reply_mzerr(r, &err);
	else
		api_reply_json(r, 200, t);
	free(id);
}

const api_route api_template_routes[] = {
	{"GET", "/v2/pipelineTemplates", list_templates},
	{"POST", "/v2/pipelineTemplates/create", create_template},
	{"POST", "/v2/pipelineTemplates/update/{id}", update_template},
	{"POST", "/v2/pipelineTemplates/plan", plan},
	{"GET", "/v2/pipelineTemplates/versions", versions},
	{"GET", "/v2/pipelineTemplates/{id}", get_template},
	{"DELETE", "/v2/pipelineTemplates/{id}", delete_template},
	{"GET", "/v2/pipelineTemplates/{id}/dependentPipelines", dependent_pipelines},
	{"GET", "/pipelineTemplates/resolve", resolve},
	{NULL, NULL, NULL},
};
