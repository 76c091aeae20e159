/* api_deck.c - the lookups Deck makes while it draws its screens and
 * editors, answered with Gate's shapes from what mizzen has:
 *
 *   GET /webhooks/preconfigured        webhook.preconfigured of the config
 *   GET /jobs/preconfigured            job.preconfigured.local of the config
 *   GET /notifications/metadata        the notification types mizzen sends
 *   GET /bakery/options[/{provider}]   the local bakery's base images
 *   GET /cron/validate?expression=     Quartz syntax, with the next firing
 *   GET /capabilities/quietPeriod      quietPeriod of the config
 *   GET /capabilities/deploymentMonitors
 *   GET /plugins/deck/plugin-manifest.json
 *   GET /artifacts/credentials         the artifact accounts and their types
 *   GET /artifacts/account/mizzen/names|versions   what builds published
 *   GET /artifacts/content-address/[{app}/]{sha256}   a stored artifact
 *   GET|POST /notifications/application/{app}   an application's notifications
 *   GET /v2/builds, /v3/builds/{master}/jobs, /v3/builds/{master}/builds
 *       (?job= or /{job}), /v3/builds/{master}/job?job=   Jenkins through Igor's paths
 *   GET /serverGroups?ids=acct:region:name&applications=
 *   GET /loadBalancers[?provider=], /loadBalancers/{account}/{region}/{name}
 *   GET /securityGroups, /networks[/{provider}], /subnets[/{provider}]
 *
 * And the lists of providers and integrations mizzen does not have
 * (certificates, key pairs, functions, Google Cloud Build, PagerDuty, ...):
 * Gate answers those with empty lists when no provider supplies them, and
 * so do we, so that Deck's screens that ask for them still draw. */
#include "api/api_int.h"

#include "cloud/cloud.h"
#include "engine/artifacts.h"
#include "events/events.h"
#include "httpc/httpc.h"
#include "pollers/pollers.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* settings[a][b]..., NULL-terminated path; NULL when any step is missing */
static json_t *
setting(api_req *r, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(r->api->settings, a);
	if (v && b)
		v = json_object_get(v, b);
	if (v && c)
		v = json_object_get(v, c);
	return v;
}

static void
empty_list(api_req *r)
{
	api_reply_json(r, 200, json_array());
}

static void
empty_object(api_req *r)
{
	api_reply_json(r, 200, json_object());
}

/* ---- preconfigured webhooks and jobs ------------------------------------ */

/* Orca's view of a preconfigured webhook: the fields its config fixes are
 * listed in preconfiguredProperties and hidden from the stage editor; an
 * entry with "permissions" is listed to those who may READ it. */
static void
webhooks_preconfigured(api_req *r)
{
	const char *const *fixed = mz_webhook_preconfigured_fields;
	json_t *out = json_array();
	size_t i;
	json_t *w;
	json_array_foreach(setting(r, "webhook", "preconfigured", NULL), i, w) {
		if (!json_is_object(w) || !mz_json_str(w, "type") ||
		    !mz_json_bool(w, "enabled", true) ||
		    !mz_auth_allows(&r->id, json_object_get(w, "permissions"), MZ_PERM_READ))
			continue;
		json_t *props = json_array();
		for (int k = 0; fixed[k]; k++)
			if (json_object_get(w, fixed[k]))
				json_array_append_new(props, json_string(fixed[k]));
		json_t *params = json_object_get(w, "parameters");
		json_array_append_new(out, json_pack(
			"{s:s, s:s, s:s, s:b, s:b, s:o, s:o}", "type", mz_json_str(w, "type"),
			"label", mz_json_str(w, "label") ? mz_json_str(w, "label") : mz_json_str(w, "type"),
			"description", mz_json_str(w, "description") ? mz_json_str(w, "description") : "",
			"waitForCompletion", mz_json_bool(w, "waitForCompletion", false),
			"noUserConfigurableFields", !json_array_size(params), "preconfiguredProperties",
			props, "parameters", json_is_array(params) ? json_incref(params) : json_array()));
	}
	api_reply_json(r, 200, out);
}

static void
jobs_preconfigured(api_req *r)
{
	json_t *out = json_array();
	size_t i;
	json_t *j;
	json_array_foreach(setting(r, "job", "preconfigured", "local"), i, j) {
		if (!json_is_object(j) || !mz_json_str(j, "type") ||
		    !mz_json_bool(j, "enabled", true))
			continue;
		json_t *params = json_object_get(j, "parameters");
		json_array_append_new(out, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:o}", "type", mz_json_str(j, "type"),
			"label", mz_json_str(j, "label") ? mz_json_str(j, "label") : mz_json_str(j, "type"),
			"description", mz_json_str(j, "description") ? mz_json_str(j, "description") : "",
			"cloudProvider", "local", "uiType", "BASIC",
			"waitForCompletion", mz_json_bool(j, "waitForCompletion", true),
			"producesArtifacts", mz_json_bool(j, "producesArtifacts", false),
			"parameters", json_is_array(params) ? json_incref(params) : json_array()));
	}
	api_reply_json(r, 200, out);
}

/* ---- notifications, bakery, cron, capabilities -------------------------- */

static void
notifications_metadata(api_req *r)
{
	static const char *const types[][2] = {
		{"email", "Email address"},
		{"slack", "Slack incoming-webhook URL"},
		{"webhook", "URL that receives the JSON event"},
	};
	json_t *out = json_array();
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		json_array_append_new(out, json_pack(
			"{s:s, s:s, s:[{s:s, s:s, s:s}]}", "notificationType", types[i][0], "uiType",
			"BASIC", "parameters", "name", "address", "label", types[i][1], "type",
			"string"));
	api_reply_json(r, 200, out);
}

/* The local bakery bakes onto an empty base or onto an image it made
 * before (baseImage: an image id); Rosco's shape per provider. */
static json_t *
local_bake_options(void)
{
	return json_pack("{s:s, s:[{s:s, s:s, s:s, s:s, s:s}]}", "cloudProvider", "local",
	                 "baseImages", "id", "empty", "shortDescription", "empty",
	                 "detailedDescription", "An empty image: the package alone",
	                 "packageType", "tar", "displayName", "empty");
}

static void
bakery_options(api_req *r)
{
	api_reply_json(r, 200, json_pack("[o]", local_bake_options()));
}

static void
bakery_options_provider(api_req *r)
{
	if (!mz_streq(r->param[0], "local")) {
		api_reply_error(r, 404, "Bake options not found for cloud provider %s (mizzen bakes "
		                "for 'local')", r->param[0]);
		return;
	}
	api_reply_json(r, 200, local_bake_options());
}

static void
cron_validate(api_req *r)
{
	const char *expr = api_query(r, "expression");
	if (!expr || !*expr) {
		api_reply_error(r, 400, "query parameter 'expression' is required");
		return;
	}
	mz_cron *c = NULL;
	mz_err err = {0};
	if (mz_cron_parse(expr, "validate", &c, &err) != MZ_OK) {
		api_reply_json(r, 200, json_pack("{s:b, s:s, s:s}", "valid", 0, "response",
		                                 "Cron expression is invalid", "message", err.msg));
		return;
	}
	int64_t next = mz_cron_next(c, mz_now_ms());
	mz_cron_free(c);
	char desc[96] = "never fires within five years";
	if (next >= 0) {
		time_t t = (time_t)(next / 1000);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(desc, sizeof(desc), "next fires at %Y-%m-%d %H:%M:%S %Z", &tm);
	}
	api_reply_json(r, 200, json_pack("{s:b, s:s, s:s}", "valid", 1, "response",
	                                 "Cron expression is valid", "description", desc));
}

/* ISO-8601 "2026-12-24T00:00:00Z" (or epoch ms) to epoch ms; -1 if absent. */
static int64_t
time_setting(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v);
	if (!json_is_string(v))
		return -1;
	struct tm tm = {0};
	const char *end = strptime(json_string_value(v), "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

static void
quiet_period(api_req *r)
{
	const json_t *q = setting(r, "quietPeriod", NULL, NULL);
	int64_t start = time_setting(json_object_get(q, "startTime"));
	int64_t end = time_setting(json_object_get(q, "endTime"));
	bool enabled = mz_json_bool(q, "enabled", false) && start >= 0 && end >= 0;
	int64_t now = mz_now_ms();
	api_reply_json(r, 200, json_pack("{s:b, s:I, s:I, s:b}", "enabled", enabled, "startTime",
	                                 (json_int_t)start, "endTime", (json_int_t)end,
	                                 "inQuietPeriod", enabled && now >= start && now < end));
}

/* ---- artifacts ----------------------------------------------------------- */

/* The account is the one published artifacts name (cloud_job.c). */
static void
artifact_credentials(api_req *r)
{
	api_reply_json(r, 200, json_pack(
		"[{s:s, s:[s, s, s, s]}]", "name", "mizzen", "types", "mizzen/file", "git/repo",
		"embedded/base64", "http/file"));
}

/* Clouddriver's artifact account listings for the local store: the names
 * builds published files under, and a name's versions (newest first). */
static bool
artifact_account_ok(api_req *r)
{
	if (mz_streq(r->param[0], "mizzen"))
		return true;
	api_reply_error(r, 404, "Artifact account not found: %s (this server has 'mizzen')",
	                r->param[0]);
	return false;
}

static bool
file_type(api_req *r)
{
	const char *type = api_query(r, "type");
	return !type || !*type || mz_streq(type, "mizzen/file");
}

static void
artifact_names(api_req *r)
{
	if (!artifact_account_ok(r))
		return;
	api_reply_json(r, 200, file_type(r) ? mz_artifacts_catalog_names() : json_array());
}

static void
artifact_versions(api_req *r)
{
	if (!artifact_account_ok(r))
		return;
	const char *name = api_query(r, "artifactName");
	if (!name || !*name) {
		api_reply_error(r, 400, "artifactName is required");
		return;
	}
	json_t *out = json_array();
	json_t *all = file_type(r) ? mz_artifacts_catalog_versions(name) : json_array();
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v) json_array_append(out, json_object_get(v, "version"));
	json_decref(all);
	api_reply_json(r, 200, out);
}

/* Gate's content-addressed artifact lookup ({application}/{hash}, or the
 * hash alone): the local store is content-addressed by SHA-256. */
static void
content_address(api_req *r)
{
	const char *hash = r->param[r->nparam - 1];
	char *p = strlen(hash) == 64 ? mz_artifacts_path(hash) : NULL;
	struct stat sb;
	if (!p || stat(p, &sb) != 0) {
		free(p);
		api_reply_error(r, 404, "Artifact not found (hash: %s)", hash);
		return;
	}
	free(p);
	char *ref = mz_asprintf("/artifacts/local/%s", hash);
	api_reply_json(r, 200, json_pack("{s:s, s:s, s:s, s:{s:I, s:s}}", "type", "mizzen/file",
	                                 "reference", hash, "artifactAccount", "mizzen",
	                                 "metadata", "size", (json_int_t)sb.st_size, "url", ref));
	free(ref);
}

/* ---- application notifications (Front50) ------------------------------- */

static void
app_notifications_get(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *prefs = NULL;
	mz_err err = {0};
	if (mz_app_notifications_get(st, r->param[0], &prefs, &err) != MZ_OK)
		api_reply_mzerr(r, &err);
	else
		api_reply_json(r, 200, prefs);
}

/* {"application", "<type>": [{"address", "when": [...], ...}], ...}: each
 * type a list of preferences with an address and the events they want. */
static void
app_notifications_post(api_req *r)
{
	json_t *body = api_body_object(r, false, "notification preferences");
	if (!body)
		return;
	json_object_del(body, "application");
	const char *type;
	json_t *v;
	json_object_foreach(body, type, v) {
		size_t i;
		json_t *p;
		if (!json_is_array(v)) {
			api_reply_error(r, 400, "'%s' must be a list of notification preferences", type);
			json_decref(body);
			return;
		}
		json_array_foreach(v, i, p) {
			if (!json_is_object(p) || !mz_json_str(p, "address") ||
			    !json_is_array(json_object_get(p, "when"))) {
				api_reply_error(r, 400, "%s notification %zu needs 'address' and 'when' "
				                "(a list of events such as pipeline.failed)", type, i + 1);
				json_decref(body);
				return;
			}
		}
	}
	mz_store *st = api_begin(r);
	mz_err err = {0};
	if (st && mz_app_notifications_put(st, r->param[0], body, &err) != MZ_OK) {
		api_rollback(r);
		api_reply_mzerr(r, &err);
	} else if (st && api_commit(r)) {
		api_reply_empty(r, 200);
	}
	json_decref(body);
}

/* ---- Jenkins through Igor's paths ---------------------------------------- */

static const json_t *
masters(api_req *r)
{
	return setting(r, "jenkins", "masters", NULL);
}

static void
list_masters(api_req *r)
{
	const char *type = api_query(r, "type");
	json_t *out = json_array();
	size_t i;
	json_t *m;
	if (!type || !*type || mz_strcaseeq(type, "jenkins"))
		json_array_foreach(masters(r), i, m) {
			if (mz_json_str(m, "name"))
				json_array_append_new(out, json_string(mz_json_str(m, "name")));
		}
	api_reply_json(r, 200, out);
}

/* "a/b" (a job in folder a) is job/a/job/b on Jenkins; each name escaped. */
static char *
job_path(const char *job)
{
	mz_buf b;
	mz_buf_init(&b, 8192);
	const char *p = job;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		mz_buf_adds(&b, "job/");
		for (size_t k = 0; k < n; k++) {
			unsigned char ch = (unsigned char)p[k];
			if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
				mz_buf_printf(&b, "%c", ch);
			else
				mz_buf_printf(&b, "%%%02X", ch);
		}
		if (!e)
			break;
		mz_buf_adds(&b, "/");
		p = e + 1;
	}
	return mz_buf_detach(&b, NULL);
}

/* GETs <master>/<rest> and parses it; replies 404/502 and returns NULL on
 * failure. */
static json_t *
jenkins_get(api_req *r, const char *master, const char *rest)
{
	char *base = mz_jenkins_master_url(masters(r), master);
	if (!base) {
		api_reply_error(r, 404, "Build master '%s' not found (configure jenkins.masters)",
		                master);
		return NULL;
	}
	size_t bl = strlen(base);
	char *url = mz_asprintf("%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", rest);
	free(base);
	long status = 0;
	mz_err err = {0};
	json_t *out = mz_httpc_get_json(url, 10000, &status, &err);
	if (!out && status == 404)
		api_reply_error(r, 404, "Jenkins master '%s' answered 404 for %s", master, rest);
	else if (!out)
		api_reply_error(r, 502, "Jenkins master '%s': %s", master, err.msg);
	free(url);
	return out;
}

static void
list_jobs(api_req *r)
{
	json_t *root = jenkins_get(r, r->param[0], "api/json?tree=jobs%5Bname%5D");
	if (!root)
		return;
	json_t *out = json_array();
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(root, "jobs"), i, j) {
		if (mz_json_str(j, "name"))
			json_array_append_new(out, json_string(mz_json_str(j, "name")));
	}
	json_decref(root);
	api_reply_json(r, 200, out);
}

static void
builds_of(api_req *r, const char *job)
{
	if (!job || !*job) {
		api_reply_error(r, 400, "query parameter 'job' is required");
		return;
	}
	char *jp = job_path(job);
	char *rest = mz_asprintf("%s/api/json", jp);
	free(jp);
	json_t *doc = jenkins_get(r, r->param[0], rest);
	free(rest);
	if (!doc)
		return;
	json_t *out = json_array();
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(doc, "builds"), i, b) {
		json_t *res = json_object_get(b, "result");
		json_array_append_new(out, json_pack(
			"{s:s, s:I, s:b, s:O, s:I, s:I, s:O, s:[]}", "name", job,
			"number", (json_int_t)mz_json_int(b, "number", 0),
			"building", mz_json_bool(b, "building", false),
			"result", res ? res : json_null(),
			"timestamp", (json_int_t)mz_json_int(b, "timestamp", 0),
			"duration", (json_int_t)mz_json_int(b, "duration", 0),
			"url", json_object_get(b, "url") ? json_object_get(b, "url") : json_null(),
			"artifacts"));
	}
	json_decref(doc);
	api_reply_json(r, 200, out);
}

static void
list_builds_query(api_req *r)
{
	builds_of(r, api_query(r, "job"));
}

static void
list_builds_path(api_req *r)
{
	builds_of(r, r->param[1]);
}

/* Igor's JobConfig: the job's parameters from Jenkins' property list. */
static void
job_config(api_req *r)
{
	const char *job = api_query(r, "job");
	if (!job || !*job) {
		api_reply_error(r, 400, "query parameter 'job' is required");
		return;
	}
	char *jp = job_path(job);
	char *rest = mz_asprintf("%s/api/json", jp);
	free(jp);
	json_t *doc = jenkins_get(r, r->param[0], rest);
	free(rest);
	if (!doc)
		return;
	json_t *params = json_array();
	size_t i, k;
	json_t *prop, *pd;
	json_array_foreach(json_object_get(doc, "property"), i, prop) {
		json_array_foreach(json_object_get(prop, "parameterDefinitions"), k, pd) {
			json_t *dv = json_object_get(json_object_get(pd, "defaultParameterValue"), "value");
			json_t *p = json_pack("{s:O, s:O, s:O, s:O}",
				"name", json_object_get(pd, "name") ? json_object_get(pd, "name") : json_null(),
				"type", json_object_get(pd, "type") ? json_object_get(pd, "type") : json_null(),
				"description", json_object_get(pd, "description") ?
				json_object_get(pd, "description") : json_null(),
				"defaultValue", dv ? dv : json_null());
			if (json_is_array(json_object_get(pd, "choices")))
				json_object_set(p, "choices", json_object_get(pd, "choices"));
			json_array_append_new(params, p);
		}
	}
	json_t *out = json_pack("{s:s, s:o, s:O, s:O, s:b, s:o}", "name", job,
		"displayName", json_object_get(doc, "displayName") ?
		json_incref(json_object_get(doc, "displayName")) : json_string(job),
		"description", json_object_get(doc, "description") ?
		json_object_get(doc, "description") : json_null(),
		"url", json_object_get(doc, "url") ? json_object_get(doc, "url") : json_null(),
		"buildable", mz_json_bool(doc, "buildable", true), "parameterDefinitionList", params);
	json_decref(doc);
	api_reply_json(r, 200, out);
}

/* ---- the cloud across applications --------------------------------------- */

/* ids=account:region:name (repeated or comma-separated); applications=a,b */
static void
server_groups(api_req *r)
{
	char **ids = api_split_csv(api_query(r, "ids"), false);
	char **apps = api_split_csv(api_query(r, "applications"), false);
	json_t *out = json_array();
	json_t *all = r->api->cloud ? mz_cloud_server_groups(r->api->cloud, NULL, false)
	                            : json_array();
	size_t i;
	json_t *sg;
	json_array_foreach(all, i, sg) {
		bool keep = !ids && !apps;
		for (char **p = ids; p && *p && !keep; p++) {
			char *key = mz_asprintf("%s:%s:%s", mz_json_str(sg, "account"),
			                        mz_json_str(sg, "region"), mz_json_str(sg, "name"));
			keep = strcmp(key, *p) == 0;
			free(key);
		}
		const char *app = mz_json_str(sg, "application");
		for (char **p = apps; p && *p && !keep; p++)
			keep = mz_strcaseeq(app, *p);
		if (keep)
			json_array_append(out, sg);
	}
	json_decref(all);
	api_strv_free(ids);
	api_strv_free(apps);
	api_reply_json(r, 200, out);
}

static bool
local_provider(api_req *r)
{
	const char *p = api_query(r, "provider");
	if (!p)
		p = api_query(r, "cloudProvider");
	return !p || !*p || mz_streq(p, "local");
}

/* Clouddriver's /{provider}/loadBalancers: one entry per name, its
 * accounts and regions. */
static void
load_balancers(api_req *r)
{
	json_t *all = r->api->cloud && local_provider(r)
	                  ? mz_cloud_load_balancers(r->api->cloud, NULL) : json_array();
	json_t *by_name = json_object();
	json_t *out = json_array();
	size_t i;
	json_t *lb;
	json_array_foreach(all, i, lb) {
		const char *name = mz_json_str(lb, "name");
		if (!name)
			continue;
		json_t *e = json_object_get(by_name, name);
		if (!e) {
			e = json_pack("{s:s, s:s, s:[]}", "name", name, "cloudProvider", "local",
			              "accounts");
			json_object_set_new(by_name, name, e);
			json_array_append(out, e);
		}
		json_array_append_new(json_object_get(e, "accounts"), json_pack(
			"{s:O, s:[{s:O, s:[O]}]}", "name", json_object_get(lb, "account"), "regions",
			"name", json_object_get(lb, "region"), "loadBalancers", lb));
	}
	json_decref(by_name);
	json_decref(all);
	api_reply_json(r, 200, out);
}

static void
load_balancer(api_req *r)
{
	json_t *all = r->api->cloud && local_provider(r)
	                  ? mz_cloud_load_balancers(r->api->cloud, NULL) : json_array();
	json_t *out = json_array();
	size_t i;
	json_t *lb;
	json_array_foreach(all, i, lb) {
		if (mz_streq(mz_json_str(lb, "account"), r->param[0]) &&
		    mz_streq(mz_json_str(lb, "region"), r->param[1]) &&
		    mz_streq(mz_json_str(lb, "name"), r->param[2]))
			json_array_append(out, lb);
	}
	json_decref(all);
	if (!json_array_size(out)) {
		json_decref(out);
		api_reply_error(r, 404, "Load balancer %s not found in %s/%s", r->param[2],
		                r->param[0], r->param[1]);
		return;
	}
	api_reply_json(r, 200, out);
}

/* The local cloud has no firewalls, networks or subnets: Clouddriver's
 * shapes, empty ({account: {provider: {region: [...]}}} for the groups). */
static void
networks(api_req *r)
{
	empty_object(r);
}

const api_route api_deck_routes[] = {
	{"GET", "/webhooks/preconfigured", webhooks_preconfigured},
	{"GET", "/jobs/preconfigured", jobs_preconfigured},
	{"GET", "/notifications/metadata", notifications_metadata},
	{"GET", "/bakery/options", bakery_options},
	{"GET", "/bakery/options/{cloudProvider}", bakery_options_provider},
	{"GET", "/cron/validate", cron_validate},
	{"GET", "/capabilities/quietPeriod", quiet_period},
	{"GET", "/capabilities/deploymentMonitors", empty_list},
	{"GET", "/plugins/deck/plugin-manifest.json", empty_list},
	{"GET", "/artifacts/credentials", artifact_credentials},
	{"GET", "/artifacts/account/{account}/names", artifact_names},
	{"GET", "/artifacts/account/{account}/versions", artifact_versions},
	{"GET", "/artifacts/content-address/{hash}", content_address},
	{"GET", "/artifacts/content-address/{application}/{hash}", content_address},
	{"GET", "/notifications/application/{app}", app_notifications_get},
	{"POST", "/notifications/application/{app}", app_notifications_post},
	{"GET", "/v2/builds", list_masters},
	{"GET", "/v3/builds/{master}/jobs", list_jobs},
	{"GET", "/v3/builds/{master}/builds", list_builds_query},
	{"GET", "/v3/builds/{master}/builds/{job}", list_builds_path},
	{"GET", "/v3/builds/{master}/job", job_config},
	{"GET", "/serverGroups", server_groups},
	{"GET", "/loadBalancers", load_balancers},
	{"GET", "/loadBalancers/{account}/{region}/{name}", load_balancer},
	{"GET", "/securityGroups", empty_object},
	{"GET", "/networks", networks},
	{"GET", "/networks/{cloudProvider}", empty_list},
	{"GET", "/subnets", empty_list},
	{"GET", "/subnets/{cloudProvider}", empty_list},
	/* integrations and providers mizzen does not have: nothing to list */
	{"GET", "/certificates", empty_list},
	{"GET", "/certificates/{cloudProvider}", empty_list},
	{"GET", "/keyPairs", empty_list},
	{"GET", "/oidcConfigs", empty_list},
	{"GET", "/functions", empty_list},
	{"GET", "/applications/{app}/functions", empty_list},
	{"GET", "/applications/{app}/serverGroupManagers", empty_list},
	{"GET", "/applications/{app}/clusters/{account}/{cluster}/serverGroups/{name}/"
	        "scalingActivities", empty_list},
	{"GET", "/applications/{app}/snapshots/{account}/history", empty_list},
	{"GET", "/cloudMetrics/{provider}/{account}/{region}", empty_list},
	{"GET", "/servicebroker/{account}/services", empty_list},
	{"GET", "/images/tags", empty_list},
	{"GET", "/tags", empty_list},
	{"GET", "/storage", empty_list},
	{"GET", "/auth/user/serviceAccounts", empty_list},
	{"GET", "/pubsub/subscriptions", empty_list},
	{"GET", "/slack/channels", empty_list},
	{"GET", "/pagerDuty/services", empty_list},
	{"GET", "/pagerDuty/oncalls", empty_list},
	{"GET", "/gcb/accounts", empty_list},
	{"GET", "/gcb/triggers/{account}", empty_list},
	{"GET", "/codebuild/accounts", empty_list},
	{"GET", "/codebuild/projects/{account}", empty_list},
	{"GET", "/nexus/names", empty_list},
	{"GET", "/artifactory/names", empty_list},
	/* Igor lists CI builds by repository only for CI services that index
	 * them (not Jenkins): none here */
	{"GET", "/pipelineTemplates", empty_list}, /* v1 templates: none (v2 below) */
	{NULL, NULL, NULL},
};
