/* api_perm.c - Fiat's permissions on every route: which application (or
 * cloud account) a request touches, whether the caller may READ, WRITE or
 * EXECUTE it (src/auth decides), and lists with what the caller may not
 * READ left out.
 *
 * The rule is found from the route, once, here, rather than in each
 * handler: the application is the route's {app}/{application}, else the
 * execution's (/pipelines/{id}/..., /tasks/{id}/...), else the config's
 * (/pipelineConfigs/{id}/history), else the body's "application"; the
 * account is {account}, or each cloud job's "credentials"/"account".
 * Reads need READ; triggering and operating on a running execution
 * (cancel, pause, resume, judge, restart) EXECUTE; anything else WRITE.
 * Admins skip all of it (no lookup on their path). */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PERM_CACHE_MS 2000

/* ---- the applications' permissions, cached -------------------------- */

json_t *
api_app_permissions(mz_api *api, mz_store *st, const char *app)
{
	char key[256];
	size_t n = 0;
	for (; app && app[n] && n < sizeof(key) - 1; n++)
		key[n] = (char)((app[n] >= 'A' && app[n] <= 'Z') ? app[n] + 32 : app[n]);
	key[n] = '\0';
	int64_t now = mz_mono_ms();
	json_t *out = NULL;
	bool hit = false;
	pthread_mutex_lock(&api->perm_lock);
	json_t *e = json_object_get(api->perm_cache, key);
	if (e && now - mz_json_int(e, "t", 0) < PERM_CACHE_MS) {
		hit = true;
		out = json_object_get(e, "p");
		out = json_is_object(out) ? json_incref(out) : NULL;
	}
	if (hit) {
		pthread_mutex_unlock(&api->perm_lock);
		return out;
	}
	/* The event listener has no request connection: it uses the cache's
	 * own, under the cache's lock. */
	bool own = !st;
	if (own) {
		if (!api->perm_store && mz_store_open(api->db_url, &api->perm_store, NULL) != MZ_OK)
			api->perm_store = NULL;
		st = api->perm_store;
	} else {
		pthread_mutex_unlock(&api->perm_lock);
	}
	json_t *rec = NULL;
	mz_code rc = st ? mz_app_get(st, app, &rec, NULL) : MZ_EIO;
	json_t *perms = rc == MZ_OK ? json_object_get(rec, "permissions") : NULL;
	out = json_is_object(perms) ? json_incref(perms) : NULL;
	json_decref(rec);
	if (!own)
		pthread_mutex_lock(&api->perm_lock);
	if (rc == MZ_OK || rc == MZ_ENOTFOUND) {
		if (json_object_size(api->perm_cache) > 4096)
			json_object_clear(api->perm_cache);
		json_object_set_new(api->perm_cache, key,
		                    json_pack("{s:O?, s:I}", "p", out, "t", (json_int_t)now));
	}
	pthread_mutex_unlock(&api->perm_lock);
	if (rc != MZ_OK && rc != MZ_ENOTFOUND) {
		/* the store failed: refuse rather than open a restricted app */
		json_decref(out);
		return json_pack("{s:[]}", "READ");
	}
	return out;
}

bool
api_may(api_req *r, const char *app, mz_perm p)
{
	if (r->id.admin || !app || !*app)
		return true;
	json_t *perms = api_app_permissions(r->api, api_store(r), app);
	bool ok = mz_auth_allows(&r->id, perms, p);
	json_decref(perms);
	return ok;
}

static void
note_app(api_req *r, const char *app)
{
	if (app && !r->audit_app[0])
		snprintf(r->audit_app, sizeof(r->audit_app), "%s", app);
}

bool
api_allow_app(api_req *r, const char *app, mz_perm p)
{
	note_app(r, app);
	if (api_may(r, app, p))
		return true;
	api_reply_error(r, 403, "Access denied to application %s - required authorization: %s",
	                app, mz_perm_name(p));
	return false;
}

static const json_t *
account_permissions(api_req *r, const char *account)
{
	size_t i;
	json_t *a;
	json_array_foreach(r->api->accounts, i, a) {
		if (mz_streq(mz_json_str(a, "name"), account))
			return json_object_get(a, "permissions");
	}
	return NULL;
}

bool
api_may_account(api_req *r, const char *account, mz_perm p)
{
	return r->id.admin || !account ||
	       mz_auth_allows(&r->id, account_permissions(r, account), p);
}

bool
api_allow_account(api_req *r, const char *account, mz_perm p)
{
	if (api_may_account(r, account, p))
		return true;
	api_reply_error(r, 403, "Access denied to account %s - required authorization: %s",
	                account, mz_perm_name(p));
	return false;
}

/* ---- the rule of a route ---------------------------------------------- */

/* The value of the route's {name} parameter, or NULL. */
static const char *
param(api_req *r, const api_route *rt, const char *name)
{
	const char *p = rt->pattern;
	int k = 0;
	size_t n = strlen(name);
	while ((p = strchr(p, '{'))) {
		if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '}')
			return k < r->nparam ? r->param[k] : NULL;
		k++;
		p++;
	}
	return NULL;
}

static bool
executes(const api_route *rt)
{
	static const char *const ends[] = {"/cancel", "/pause", "/resume", "/restart",
	                                   "/stages/{stageId}", NULL};
	const char *pat = rt->pattern;
	if (strcmp(rt->method, "POST") == 0 &&
	    (strcmp(pat, "/pipelines/{app}/{nameOrId}") == 0 ||
	     strcmp(pat, "/pipelines/v2/{app}/{nameOrId}") == 0 ||
	     strcmp(pat, "/applications/{app}/pipelineConfigs/{nameOrId}") == 0))
		return true;
	if (strncmp(pat, "/pipelines/{id}", 15) != 0 &&
	    strncmp(pat, "/applications/{app}/pipelines/{id}", 34) != 0)
		return false;
	size_t n = strlen(pat);
	for (int i = 0; ends[i]; i++) {
		size_t m = strlen(ends[i]);
		if (n >= m && strcmp(pat + n - m, ends[i]) == 0)
			return true;
	}
	return false;
}

/* The application of the execution or config named by {id}: "" when it
 * does not exist (the handler answers 404). */
static void
app_of_id(api_req *r, const api_route *rt, char *out, size_t outsz)
{
	const char *id = param(r, rt, "id");
	mz_store *st = api_store(r);
	json_t *doc = NULL;
	out[0] = '\0';
	if (!id || !st)
		return;
	if (strncmp(rt->pattern, "/pipelineConfigs/", 17) == 0 ||
	    strncmp(rt->pattern, "/strategyConfigs/", 17) == 0 ||
	    (strcmp(rt->method, "PUT") == 0 && strcmp(rt->pattern, "/pipelines/{id}") == 0))
		mz_pipeline_get(st, id, &doc, NULL);
	else
		mz_exec_get(st, id, &doc, NULL);
	snprintf(out, outsz, "%s", doc && mz_json_str(doc, "application") ?
	         mz_json_str(doc, "application") : "");
	json_decref(doc);
}

/* Cloud jobs in a task body need WRITE on each account they name. */
static bool
jobs_allowed(api_req *r, const json_t *body)
{
	size_t i;
	json_t *job;
	json_array_foreach(json_object_get(body, "job"), i, job) {
		const char *acct = mz_json_str(job, "credentials");
		if (!acct)
			acct = mz_json_str(job, "account");
		if (acct && !api_allow_account(r, acct, MZ_PERM_WRITE))
			return false;
	}
	return true;
}

bool
api_route_allowed(api_req *r, const api_route *rt)
{
	bool read = strcmp(rt->method, "GET") == 0;
	mz_perm p = read ? MZ_PERM_READ : executes(rt) ? MZ_PERM_EXECUTE : MZ_PERM_WRITE;
	if (!read && strstr(rt->pattern, "evaluateExpression"))
		p = MZ_PERM_READ;
	char app[256] = "";
	json_t *body = NULL;
	const char *a = param(r, rt, "app");
	if (!a)
		a = param(r, rt, "application");
	if (a) {
		snprintf(app, sizeof(app), "%s", a);
	} else if (param(r, rt, "id") && (strncmp(rt->pattern, "/pipelines/", 11) == 0 ||
	                                  strncmp(rt->pattern, "/tasks/", 7) == 0 ||
	                                  strncmp(rt->pattern, "/pipelineConfigs/", 17) == 0 ||
	                                  strncmp(rt->pattern, "/strategyConfigs/", 17) == 0)) {
		if (r->id.admin)
			return true; /* no lookup on an admin's path (GET /pipelines/{id}) */
		app_of_id(r, rt, app, sizeof(app));
	}
	if (!read && r->body_len > 0) {
		body = mz_json_parse(r->body, r->body_len, NULL);
		if (!app[0] && mz_json_str(body, "application"))
			snprintf(app, sizeof(app), "%s", mz_json_str(body, "application"));
	}
	note_app(r, app[0] ? app : NULL);
	bool ok = true;
	if (!r->id.admin && app[0])
		ok = api_allow_app(r, app, p);
	const char *acct = param(r, rt, "account");
	if (ok && acct)
		ok = api_allow_account(r, acct, read ? MZ_PERM_READ : MZ_PERM_WRITE);
	if (ok && body && json_is_array(json_object_get(body, "job")))
		ok = jobs_allowed(r, body);
	json_decref(body);
	return ok;
}

/* ---- lists ------------------------------------------------------------- */

void
api_filter_reply(api_req *r, const api_route *rt)
{
	if (r->id.admin || r->status != 200 || !r->reply || r->reply_len == 0 ||
	    r->reply[0] != '[' || strcmp(rt->method, "GET") != 0)
		return;
	bool apps = strcmp(rt->pattern, "/applications") == 0;
	bool accounts = strcmp(rt->pattern, "/credentials") == 0;
	json_t *list = mz_json_parse(r->reply, r->reply_len, NULL);
	if (!json_is_array(list)) {
		json_decref(list);
		return;
	}
	json_t *kept = json_array();
	bool dropped = false;
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		bool ok = true;
		if (accounts)
			ok = api_may_account(r, mz_json_str(e, "name"), MZ_PERM_READ);
		else if (apps)
			ok = api_may(r, mz_json_str(e, "name"), MZ_PERM_READ);
		else if (mz_json_str(e, "application"))
			ok = api_may(r, mz_json_str(e, "application"), MZ_PERM_READ);
		if (ok)
			json_array_append(kept, e);
		else
			dropped = true;
	}
	json_decref(list);
	if (dropped)
		api_reply_json(r, 200, kept);
	else
		json_decref(kept);
}

/* ---- what a saved pipeline may say ------------------------------------ */

bool
api_check_run_as_names(api_req *r, const json_t *triggers, const char *where)
{
	size_t i;
	json_t *t;
	json_array_foreach(triggers, i, t) {
		const char *who = mz_json_str(t, "runAsUser");
		if (!who || !*who || !mz_auth_enabled(r->api->auth))
			continue;
		/* Spinnaker's rule: a trigger runs as its runAsUser, so only that
		 * user (or an admin) may name it */
		if (!r->id.admin && strcmp(who, r->id.user) != 0) {
			api_reply_error(r, 403, "%s[%zu].runAsUser: only %s or an admin may save a "
			                "trigger that runs as %s", where, i, who, who);
			return false;
		}
	}
	return true;
}

bool
api_check_run_as(api_req *r, const json_t *cfg)
{
	size_t i;
	json_t *t;
	if (!api_check_run_as_names(r, json_object_get(cfg, "triggers"), "triggers"))
		return false;
	json_array_foreach(json_object_get(cfg, "triggers"), i, t) {
		const char *who = mz_json_str(t, "runAsUser");
		if (!who || !*who || !mz_auth_enabled(r->api->auth))
			continue;
		/* and the user it runs as must hold EXECUTE */
		mz_identity id;
		mz_err err = {0};
		if (mz_auth_identity_of(r->api->auth, api_store(r), who, &id, &err) != MZ_OK) {
			api_reply_error(r, 400, "triggers[%zu].runAsUser: %s", i, err.msg);
			return false;
		}
		json_t *perms = api_app_permissions(r->api, api_store(r),
		                                    mz_json_str(cfg, "application"));
		bool ok = mz_auth_allows(&id, perms, MZ_PERM_EXECUTE);
		json_decref(perms);
		if (!ok) {
			api_reply_error(r, 400, "triggers[%zu].runAsUser: %s may not EXECUTE application "
			                "%s", i, who, mz_json_str(cfg, "application"));
			return false;
		}
	}
	return true;
}

#define MASK "********"

/* Every "secret" of an object in a "triggers" list, anywhere in v. */
static bool
mask_triggers(json_t *v)
{
	bool changed = false;
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			changed |= mask_triggers(e);
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *e;
		json_object_foreach(v, k, e) {
			if (strcmp(k, "triggers") == 0 && json_is_array(e)) {
				size_t i;
				json_t *t;
				json_array_foreach(e, i, t) {
					const char *sec = mz_json_str(t, "secret");
					if (sec && *sec && strcmp(sec, MASK) != 0) {
						json_object_set_new(t, "secret", json_string(MASK));
						changed = true;
					}
				}
			}
			changed |= mask_triggers(e);
		}
	}
	return changed;
}

void
api_mask_reply(api_req *r)
{
	if (!r->reply || !r->content_type || strcmp(r->content_type, "application/json") != 0 ||
	    !memmem(r->reply, r->reply_len, "\"secret\"", 8))
		return;
	json_t *v = mz_json_parse(r->reply, r->reply_len, NULL);
	if (v && mask_triggers(v)) {
		int status = r->status;
		api_reply_json(r, status, v);
	} else {
		json_decref(v);
	}
}
