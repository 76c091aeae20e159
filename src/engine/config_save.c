/* config_save.c - saving a pipeline config from inside a running stage
 * (savePipeline, savePipelinesFromArtifact) with the checks POST /pipelines
 * makes: Front50 checks them for Orca's saves as the execution's user, so
 * a stage is no way round them. Also the two rules about what a save may
 * not reveal or lose (trigger secrets, sealed headers), shared with the
 * API's save. */
#include "engine/engine_int.h"

#include "engine/stages.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRIGGER_MASK "********"

/* The stored trigger a saved one stands for: the same id, else the same
 * position and type. */
static const json_t *
stored_trigger(const json_t *existing, const json_t *t, size_t i)
{
	const json_t *old = json_object_get(existing, "triggers");
	const char *id = mz_json_str(t, "id");
	size_t j;
	json_t *o;
	if (id) {
		json_array_foreach(old, j, o) {
			if (mz_streq(mz_json_str(o, "id"), id))
				return o;
		}
	}
	o = json_array_get(old, i);
	return o && mz_streq(mz_json_str(o, "type"), mz_json_str(t, "type")) ? o : NULL;
}

void
mz_config_keep_trigger_secrets(json_t *cfg, const json_t *existing)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(cfg, "triggers"), i, t) {
		const char *sec = mz_json_str(t, "secret");
		if (sec && *sec && strcmp(sec, TRIGGER_MASK) != 0)
			continue; /* a new secret */
		const json_t *old = stored_trigger(existing, t, i);
		const char *kept = mz_json_str(old, "secret");
		if (kept && *kept)
			json_object_set_new(t, "secret", json_string(kept));
		else if (sec)
			json_object_del(t, "secret"); /* "********" with nothing stored */
	}
}

/* The stored stage a saved one stands for: the same refId, else the same
 * position and type. */
static const json_t *
stored_stage(const json_t *existing, const json_t *st, size_t i)
{
	const json_t *old = json_object_get(existing, "stages");
	json_t *ref = json_object_get(st, "refId");
	size_t j;
	json_t *o;
	if (ref && !json_is_null(ref)) {
		json_array_foreach(old, j, o) {
			if (json_equal(json_object_get(o, "refId"), ref))
				return o;
		}
		return NULL;
	}
	o = json_array_get(old, i);
	return o && mz_streq(mz_json_str(o, "type"), mz_json_str(st, "type")) ? o : NULL;
}

void
mz_config_seal_headers(json_t *cfg, const json_t *existing)
{
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(cfg, "stages"), i, st) {
		json_t *hdrs = json_object_get(st, "customHeaders");
		if (!json_is_object(hdrs))
			continue;
		/* "****" saved back as it was shown: the stored sealed value stays */
		const json_t *old = NULL;
		const char *name;
		json_t *v;
		json_object_foreach(hdrs, name, v) {
			json_t *sealed = json_object_get(st, "sealedHeaders");
			if (!mz_streq(json_string_value(v), MZ_MASKED) ||
			    json_is_string(json_object_get(sealed, name)))
				continue;
			if (!old)
				old = stored_stage(existing, st, i);
			json_t *kept = json_object_get(json_object_get(old, "sealedHeaders"), name);
			if (!json_is_string(kept))
				continue;
			if (!json_is_object(sealed)) {
				sealed = json_object();
				json_object_set_new(st, "sealedHeaders", sealed);
			}
			json_object_set(sealed, name, kept);
		}
		/* a stage's keys are its context's: sealed as the execution's are */
		mz_engine_seal_headers(st, false);
	}
}

/* ---- the save ------------------------------------------------------------- */

/* Only the user a trigger runs as, or an admin, may name it; and that user
 * must hold EXECUTE on the application (as the API's save checks). */
static mz_code
check_run_as(mz_store *st, const char *user, const json_t *triggers, const json_t *perms,
             mz_err *err)
{
	size_t i;
	json_t *t;
	json_array_foreach(triggers, i, t) {
		const char *who = mz_json_str(t, "runAsUser");
		if (!who || !*who)
			continue;
		if (!mz_streq(who, user) && !mz__engine_permits(st, user, NULL, "ADMIN"))
			return mz_fail(err, MZ_EFORBIDDEN, "triggers[%zu].runAsUser: only %s or an "
			               "admin may save a trigger that runs as %s", i, who, who);
		if (!mz__engine_permits(st, who, perms, "EXECUTE"))
			return mz_fail(err, MZ_EINVAL, "triggers[%zu].runAsUser: %s may not EXECUTE "
			               "the application", i, who);
	}
	return MZ_OK;
}

static mz_code
validate(mz_store *st, const json_t *cfg, json_t **rendered, mz_err *err)
{
	*rendered = NULL;
	if (!mz_template_is_v2_config(cfg))
		return mz_pipeline_validate(cfg, err);
	/* a templated config is valid when its template renders it */
	return mz_template_render(st, cfg, rendered, err);
}

/* A store failure (not the user's mistake) goes to the batch, which rolls
 * back and redelivers; anything else is the save's answer. */
static bool
store_failed(mz_code rc)
{
	return rc == MZ_EIO || rc == MZ_EBUSY || rc == MZ_ENOMEM || rc == MZ_ENOSPACE ||
	       rc == MZ_EINTERNAL || rc == MZ_ETIMEOUT;
}

mz_code
mz__save_config(mz_task_ctx *c, json_t *cfg, bool stale_check, bool *created, mz_err *err)
{
	const char *user = mz_json_str(json_object_get(c->execution, "authentication"), "user");
	json_t *rendered = NULL, *app = NULL, *existing = NULL, *dup = NULL;
	mz_code rc;
	user = user ? user : "anonymous";
	*created = false;
	json_object_del(cfg, "managedBy"); /* only the git sync marks a config as its own */
	if (json_is_string(json_object_get(cfg, "name"))) { /* as the API: names are trimmed */
		char *t = mz_strtrim(mz_json_str(cfg, "name"));
		json_object_set_new(cfg, "name", json_string(t));
		free(t);
	}
	const char *name = mz_json_str(cfg, "name"), *appname = mz_json_str(cfg, "application");
	if (!name || !*name || !appname || !*appname)
		return mz_fail(err, MZ_EINVAL, "pipeline config needs a non-empty 'application' "
		               "and 'name'");
	json_t *idv = json_object_get(cfg, "id");
	if (idv && !json_is_null(idv) && !json_is_string(idv))
		return mz_fail(err, MZ_EINVAL, "pipeline 'id' must be a string");
	if ((rc = validate(c->store, cfg, &rendered, err)) != MZ_OK)
		return rc;

	/* WRITE on the application the config goes to, whichever application
	 * the saving execution belongs to */
	rc = mz_app_get(c->store, appname, &app, err);
	if (rc != MZ_OK && rc != MZ_ENOTFOUND)
		goto out;
	const json_t *perms = json_object_get(app, "permissions");
	if (!mz__engine_permits(c->store, user, perms, "WRITE")) {
		rc = mz_fail(err, MZ_EFORBIDDEN, "%s may not save pipelines of application %s "
		             "(WRITE)", user, appname);
		goto out;
	}
	if ((rc = check_run_as(c->store, user, json_object_get(cfg, "triggers"), perms, err)) ||
	    (rendered && (rc = check_run_as(c->store, user, json_object_get(rendered, "triggers"),
	                                    perms, err))))
		goto out;

	if (!mz_json_str(cfg, "id") || !*mz_json_str(cfg, "id")) {
		char id[37];
		mz_uuid(id);
		json_object_set_new(cfg, "id", json_string(id));
	}
	const char *id = mz_json_str(cfg, "id");
	rc = mz_pipeline_get(c->store, id, &existing, err);
	if (rc != MZ_OK && rc != MZ_ENOTFOUND)
		goto out;
	if (existing && json_object_get(existing, "managedBy")) {
		rc = mz_fail(err, MZ_ECONFLICT, "Pipeline %s is managed in git; change it there",
		             mz_json_str(existing, "name"));
		goto out;
	}
	if (existing && mz_json_bool(existing, "strategy", false) !=
	                    mz_json_bool(cfg, "strategy", false)) {
		rc = mz_fail(err, MZ_EINVAL, "id %s belongs to a %s", id,
		             mz_json_bool(existing, "strategy", false) ? "strategy" : "pipeline");
		goto out;
	}
	if (stale_check && existing && json_object_get(cfg, "updateTs")) {
		char *a = mz_json_ts_text(json_object_get(cfg, "updateTs"));
		char *b = mz_json_ts_text(json_object_get(existing, "updateTs"));
		bool stale = !mz_streq(a, b);
		if (stale)
			mz_fail(err, MZ_ECONFLICT, "The submitted pipeline is stale.  submitted "
			        "updateTs %s does not match stored updateTs %s", a ? a : "null",
			        b ? b : "null");
		free(a);
		free(b);
		if (stale) {
			rc = MZ_ECONFLICT;
			goto out;
		}
	}
	rc = mz_pipeline_find_name_ci(c->store, appname, name, &dup, err);
	if (rc != MZ_OK && rc != MZ_ENOTFOUND)
		goto out;
	if (dup && !mz_streq(mz_json_str(dup, "id"), id)) {
		rc = mz_fail(err, MZ_EINVAL, "A pipeline with name %s already exists in "
		             "application %s", name, appname);
		goto out;
	}
	if (!json_object_get(cfg, "index") && existing && json_object_get(existing, "index"))
		json_object_set(cfg, "index", json_object_get(existing, "index"));
	mz_config_keep_trigger_secrets(cfg, existing);
	mz_config_seal_headers(cfg, existing);
	json_object_set_new(cfg, "lastModifiedBy", json_string(user));
	json_object_set_new(cfg, "updateTs", json_sprintf("%" PRId64, mz_now_ms()));
	rc = mz_pipeline_put(c->store, cfg, err);
	*created = rc == MZ_OK && !existing;
out:
	if (store_failed(rc))
		((mz_batch *)c->internal)->err = *err;
	json_decref(rendered);
	json_decref(app);
	json_decref(existing);
	json_decref(dup);
	return rc;
}
