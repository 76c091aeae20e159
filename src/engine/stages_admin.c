/* stages_admin.c - orchestration stages that change applications:
 * createApplication, updateApplication, deleteApplication (Orca's
 * UpsertApplicationTask and DeleteApplicationTask over Front50); changing
 * or deleting an existing application needs WRITE on it. They run
 * inside the handling transaction, so the change and the task's completion
 * commit together. */
#include "engine/engine_int.h"

#include "engine/stages.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Frigga splits server group names on '-', so an application name may not
 * contain one; letters, digits and '_' are safe everywhere. */
static bool
valid_app_name(const char *s)
{
	if (!s || !*s || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static char *
lower(const char *s)
{
	char *p = mz_strdup(s);
	for (char *q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

/* Changing or deleting an existing application needs WRITE on it, as
 * Front50 checks it for Orca: whatever application the execution belongs
 * to, a stage is no way round that. Sets a TERMINAL result when not. */
static bool
may_write(mz_task_ctx *c, mz_task_result *r, const json_t *app)
{
	const char *user = mz_json_str(json_object_get(c->execution, "authentication"), "user");
	if (mz__engine_permits(c->store, user, json_object_get(app, "permissions"), "WRITE"))
		return true;
	mz_task_result_set(r, "TERMINAL", "%s may not change application %s (WRITE)",
	                   user ? user : "anonymous", mz_json_str(app, "name"));
	return false;
}

static void
upsert_application_task(mz_task_ctx *c, mz_task_result *r)
{
	mz_batch *b = c->internal;
	json_t *ctx = json_object_get(c->stage, "context");
	json_t *app = json_object_get(ctx, "application");
	const char *name = mz_json_str(app, "name");
	json_t *prev = NULL;
	mz_err err = {0};

	if (!json_is_object(app)) {
		mz_task_result_set(r, "TERMINAL", "the task needs 'application': {\"name\": ..., "
		                   "\"email\": ...}");
		return;
	}
	if (!valid_app_name(name)) {
		mz_task_result_set(r, "TERMINAL", "Application name '%s' is not valid: use letters, "
		                   "digits and '_' only (no '-', which separates stack and detail in "
		                   "cluster names)", name ? name : "");
		return;
	}
	mz_code rc = mz_app_get(c->store, name, &prev, &err);
	if (rc && rc != MZ_ENOTFOUND) {
		b->err = err;
		r->status = "TERMINAL";
		return;
	}
	if (prev && !may_write(c, r, prev)) {
		json_decref(prev);
		return;
	}
	json_t *next = prev ? json_deep_copy(prev) : json_object();
	mz_json_merge(next, app);
	char *lname = lower(name);
	json_object_set_new(next, "name", json_string(lname));
	free(lname);
	/* Front50 stores cloudProviders as one comma-separated string. */
	json_t *cp = json_object_get(next, "cloudProviders");
	if (json_is_array(cp)) {
		mz_buf joined;
		size_t i;
		json_t *v;
		mz_buf_init(&joined, 4096);
		json_array_foreach(cp, i, v) {
			if (json_is_string(v))
				mz_buf_printf(&joined, "%s%s", joined.len ? "," : "", json_string_value(v));
		}
		json_object_set_new(next, "cloudProviders", json_string(joined.data));
		mz_buf_release(&joined);
	}
	char ts[32];
	snprintf(ts, sizeof(ts), "%lld", (long long)c->now);
	if (!prev)
		json_object_set_new(next, "createTs", json_string(ts));
	json_object_set_new(next, "updateTs", json_string(ts));
	const char *user = mz_json_str(json_object_get(c->execution, "trigger"), "user");
	json_object_set_new(next, "lastModifiedBy", json_string(user ? user : "anonymous"));
	rc = mz_app_put(c->store, next, &err);
	if (rc) {
		b->err = err;
		r->status = "TERMINAL";
		json_decref(next);
		json_decref(prev);
		return;
	}
	json_t *outs = mz_task_result_outputs(r);
	json_object_set_new(outs, "previousState", prev ? prev : json_object());
	json_object_set_new(outs, "newState", next);
	r->status = "SUCCEEDED";
}

static const mz_task_def upsert_application_def = {
	.name = "createApplication",
	.impl_class = "com.netflix.spinnaker.orca.applications.tasks.UpsertApplicationTask",
	.execute = upsert_application_task,
};

static void
delete_application_task(mz_task_ctx *c, mz_task_result *r)
{
	mz_batch *b = c->internal;
	json_t *app = json_object_get(json_object_get(c->stage, "context"), "application");
	const char *name = json_is_string(app) ? json_string_value(app) : mz_json_str(app, "name");
	json_t *prev = NULL;
	mz_err err = {0};
	if (!name) {
		mz_task_result_set(r, "TERMINAL", "the task needs 'application': {\"name\": ...}");
		return;
	}
	mz_code rc = mz_app_get(c->store, name, &prev, &err);
	if (rc == MZ_ENOTFOUND) {
		r->status = "SUCCEEDED"; /* already gone: Orca treats 404 as success */
		return;
	}
	if (rc == MZ_OK && !may_write(c, r, prev)) {
		json_decref(prev);
		return;
	}
	if (rc == MZ_OK)
		rc = mz_app_delete(c->store, name, &err);
	if (rc) {
		b->err = err;
		r->status = "TERMINAL";
		json_decref(prev);
		return;
	}
	json_object_set_new(mz_task_result_outputs(r), "previousState", prev);
	r->status = "SUCCEEDED";
}

static const mz_task_def delete_application_def = {
	.name = "deleteApplication",
	.impl_class = "com.netflix.spinnaker.orca.applications.tasks.DeleteApplicationTask",
	.execute = delete_application_task,
};

static mz_code
upsert_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "createApplication");
	return MZ_OK;
}

static mz_code
delete_plan(mz_plan *p, mz_err *err)
{
	mz_plan_task(p, "deleteApplication");
	return MZ_OK;
}

static const mz_stage_def create_stage = {.type = "createApplication", .plan = upsert_plan};
static const mz_stage_def update_stage = {.type = "updateApplication", .plan = upsert_plan};
static const mz_stage_def delete_stage = {.type = "deleteApplication", .plan = delete_plan};

void
mz__register_admin_stages(void)
{
	mz_engine_register_task(&upsert_application_def);
	mz_engine_register_task(&delete_application_def);
	mz_engine_register_stage(&create_stage);
	mz_engine_register_stage(&update_stage);
	mz_engine_register_stage(&delete_stage);
}
