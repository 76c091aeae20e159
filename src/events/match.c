/* match.c - Echo's trigger matching rules (reference §4.3) and the concrete
 * trigger each match starts its pipeline with. Pure functions over JSON:
 * no store, no clock, so tests/unit/test_events.c can drive them with data.
 *
 * Regexes are POSIX extended (regcomp): Java's syntax for the common
 * cases (classes, alternation, anchors, repetition) is the same. */
#include "events/events_int.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- regexes ----------------------------------------------------------- */

static bool
regex_run(const char *re, const char *s, bool full)
{
	regex_t rx;
	char *pat = full ? mz_asprintf("^(%s)$", re) : mz_strdup(re);
	bool ok = false;
	if (regcomp(&rx, pat, REG_EXTENDED | REG_NOSUB) == 0) {
		ok = regexec(&rx, s, 0, NULL, 0) == 0;
		regfree(&rx);
	}
	free(pat);
	return ok;
}

bool
mz_regex_full(const char *re, const char *s)
{
	if (!re || !s)
		return false;
	return regex_run(re, s, true);
}

/* ---- payload constraints ---------------------------------------------- */

/* A scalar's text as Java's toString() gives it; NULL for null/containers
 * (containers are dumped). Returns a malloc'd string or NULL. */
static char *
value_text(const json_t *v)
{
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return mz_strdup(json_string_value(v));
	if (json_is_integer(v))
		return mz_asprintf("%lld", (long long)json_integer_value(v));
	if (json_is_real(v))
		return mz_asprintf("%g", json_real_value(v));
	if (json_is_boolean(v))
		return mz_strdup(json_is_true(v) ? "true" : "false");
	return mz_json_dump(v);
}

/* $.a.b[0]['c d'] or a.b[0]: borrowed value or NULL. */
static const json_t *
path_get(const json_t *root, const char *path)
{
	const json_t *cur = root;
	const char *p = path;
	if (*p == '$')
		p++;
	while (*p && cur) {
		if (*p == '.') {
			p++;
			continue;
		}
		if (*p == '[') {
			p++;
			if (*p == '\'' || *p == '"') {
				char q = *p++;
				const char *e = strchr(p, q);
				if (!e || e[1] != ']')
					return NULL;
				char *key = strndup(p, (size_t)(e - p));
				cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
				free(key);
				p = e + 2;
			} else {
				char *end;
				long i = strtol(p, &end, 10);
				if (end == p || *end != ']' || !json_is_array(cur))
					return NULL;
				if (i < 0)
					i += (long)json_array_size(cur);
				cur = i >= 0 ? json_array_get(cur, (size_t)i) : NULL;
				p = end + 1;
			}
			continue;
		}
		size_t n = strcspn(p, ".[");
		char *key = strndup(p, n);
		cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
		free(key);
		p += n;
	}
	return cur;
}

bool
mz_payload_constraints_ok(const json_t *constraints, const json_t *payload, bool jsonpath)
{
	const char *key;
	json_t *want;
	if (!json_is_object(constraints))
		return true;
	json_object_foreach((json_t *)constraints, key, want) {
		char *re = value_text(want);
		if (!re)
			re = mz_strdup("");
		const json_t *got = json_is_object(payload) ? json_object_get(payload, key) : NULL;
		if (!got && jsonpath && json_is_object(payload))
			got = path_get(payload, key);
		char *text = value_text(got);
		bool ok = text && regex_run(re, text, false);
		free(text);
		free(re);
		if (!ok)
			return false;
	}
	return true;
}

/* ---- signatures --------------------------------------------------------- */

bool
mz_signature_ok(const char *secret, const char *body, size_t len, const char *header)
{
	if (!secret || !header)
		return false;
	if (strncasecmp(header, "sha256=", 7) == 0)
		header += 7;
	unsigned char mac[32];
	char hex[65];
	mz_hmac_sha256(secret, strlen(secret), body ? body : "", body ? len : 0, mac);
	mz_hex(mac, 32, hex);
	if (strlen(header) != 64)
		return false;
	unsigned diff = 0;
	for (int i = 0; i < 64; i++)
		diff |= (unsigned)(tolower((unsigned char)header[i]) ^ hex[i]);
	return diff == 0;
}

/* ---- artifacts ---------------------------------------------------------- */

static bool
field_matches(const json_t *expected, const json_t *actual, const char *key)
{
	const char *e = mz_json_str(expected, key);
	if (!e || !*e)
		return true;
	const char *a = mz_json_str(actual, key);
	if (!a)
		return false;
	return strcmp(e, a) == 0 || mz_regex_full(e, a);
}

static bool
artifact_matches(const json_t *expected, const json_t *actual)
{
	static const char *const keys[] = {"type", "name", "version", "location", "reference",
	                                   NULL};
	for (int i = 0; keys[i]; i++)
		if (!field_matches(expected, actual, keys[i]))
			return false;
	return true;
}

/* Echo's anyArtifactsMatchExpected. */
static bool
artifacts_ok(const json_t *pipeline, const json_t *trigger, const json_t *artifacts)
{
	json_t *ids = json_object_get(trigger, "expectedArtifactIds");
	if (json_array_size(ids) == 0)
		return true;
	size_t i, j, k;
	json_t *ea, *id, *a;
	json_array_foreach(json_object_get(pipeline, "expectedArtifacts"), i, ea) {
		bool referenced = false;
		json_array_foreach(ids, j, id) {
			if (json_is_string(id) && mz_streq(json_string_value(id), mz_json_str(ea, "id")))
				referenced = true;
		}
		if (!referenced)
			continue;
		json_array_foreach(artifacts, k, a) {
			if (artifact_matches(json_object_get(ea, "matchArtifact"), a))
				return true;
		}
	}
	return false;
}

/* ---- the rules per trigger type ---------------------------------------- */

static bool
str_empty(const char *s)
{
	return !s || !*s;
}

static const char *
header(const json_t *event, const char *name)
{
	json_t *h = json_object_get(json_object_get(event, "details"), "requestHeaders");
	const char *k;
	json_t *v;
	json_object_foreach(h, k, v) {
		if (strcasecmp(k, name) == 0) {
			if (json_is_array(v))
				v = json_array_get(v, 0);
			return json_is_string(v) ? json_string_value(v) : NULL;
		}
	}
	return NULL;
}

/* GitEventHandler's secret check. */
static bool
git_signature_ok(const json_t *trigger, const json_t *event)
{
	const char *secret = mz_json_str(trigger, "secret");
	const char *sig = header(event, "X-Hub-Signature-256");
	bool has_secret = !str_empty(secret);
	if (!has_secret && !sig)
		return true;
	if (!has_secret || !sig)
		return false;
	const char *raw = mz_json_str(event, "rawContent");
	return mz_signature_ok(secret, raw ? raw : "", raw ? strlen(raw) : 0, sig);
}

static bool
branch_ok(const char *want, const char *branch)
{
	if (str_empty(want))
		return true;
	if (!branch)
		return false;
	return strcmp(want, branch) == 0 || mz_regex_full(want, branch);
}

/* Polled git (source "git", matched by url) and SCM webhooks (source
 * github/gitlab/bitbucket/stash, matched by project and slug). */
static bool
match_git(const json_t *t, const json_t *event)
{
	const json_t *d = json_object_get(event, "details");
	const json_t *c = json_object_get(event, "content");
	const char *source = mz_json_str(d, "source");
	if (!mz_strcaseeq(mz_json_str(t, "source"), source))
		return false;
	if (!branch_ok(mz_json_str(t, "branch"), mz_json_str(c, "branch")))
		return false;
	if (mz_strcaseeq(source, "git")) {
		const char *url = mz_json_str(t, "url");
		return !str_empty(url) && mz_streq(url, mz_json_str(c, "url"));
	}
	if (str_empty(mz_json_str(t, "project")) || str_empty(mz_json_str(t, "slug")))
		return false;
	if (!mz_strcaseeq(mz_json_str(t, "project"), mz_json_str(c, "repoProject")) ||
	    !mz_strcaseeq(mz_json_str(t, "slug"), mz_json_str(c, "slug")))
		return false;
	json_t *events = json_object_get(t, "events");
	if (json_array_size(events) > 0) {
		bool any = false;
		size_t i;
		json_t *e;
		json_array_foreach(events, i, e) {
			if (json_is_string(e) && mz_streq(json_string_value(e), mz_json_str(c, "action")))
				any = true;
		}
		if (!any)
			return false;
	}
	return git_signature_ok(t, event);
}

static bool
match_docker(const json_t *t, const json_t *event)
{
	const json_t *c = json_object_get(event, "content");
	const char *tag = mz_json_str(c, "tag");
	if (str_empty(tag) || str_empty(mz_json_str(t, "repository")))
		return false;
	if (!mz_streq(mz_json_str(t, "repository"), mz_json_str(c, "repository")))
		return false;
	if (!str_empty(mz_json_str(t, "account")) &&
	    !mz_streq(mz_json_str(t, "account"), mz_json_str(c, "account")))
		return false;
	const char *want = mz_json_str(t, "tag");
	if (str_empty(want))
		return strcmp(tag, "latest") != 0;
	return mz_regex_full(want, tag);
}

static bool
match_build(const json_t *t, const json_t *event)
{
	const json_t *c = json_object_get(event, "content");
	const json_t *project = json_object_get(c, "project");
	const json_t *build = json_object_get(project, "lastBuild");
	if (str_empty(mz_json_str(t, "job")) || str_empty(mz_json_str(t, "master")))
		return false;
	if (!mz_streq(mz_json_str(t, "job"), mz_json_str(project, "name")) ||
	    !mz_streq(mz_json_str(t, "master"), mz_json_str(c, "master")))
		return false;
	if (mz_json_bool(build, "building", false) ||
	    !mz_streq(mz_json_str(build, "result"), "SUCCESS"))
		return false;
	return mz_payload_constraints_ok(json_object_get(t, "payloadConstraints"),
	                                 json_object_get(build, "properties"), false);
}

/* Orca's DependentPipelineExecutionListener status conversion. */
static const char *
parent_status(const char *status)
{
	if (mz_streq(status, "SUCCEEDED"))
		return "successful";
	if (mz_streq(status, "CANCELED"))
		return "canceled";
	if (mz_streq(status, "SUSPENDED"))
		return "suspended";
	return "failed";
}

static bool
match_pipeline(const json_t *t, const json_t *event)
{
	const json_t *c = json_object_get(event, "content");
	if (!mz_streq(mz_json_str(c, "executionType"), "PIPELINE"))
		return false;
	if (str_empty(mz_json_str(c, "pipelineConfigId")) ||
	    !mz_streq(mz_json_str(t, "pipeline"), mz_json_str(c, "pipelineConfigId")))
		return false;
	const char *want = parent_status(mz_json_str(c, "status"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(t, "status"), i, s) {
		if (json_is_string(s) && strcasecmp(json_string_value(s), want) == 0)
			return true;
	}
	return false;
}

/* The trigger's id for cron: its "id", else its position. */
static char *
trigger_key(const json_t *pipeline, const json_t *t, size_t index)
{
	const char *id = mz_json_str(t, "id");
	if (!str_empty(id))
		return mz_strdup(id);
	return mz_asprintf("%s-%zu", mz_json_str(pipeline, "id") ? mz_json_str(pipeline, "id") : "",
	                   index);
}

static bool
match_one(const json_t *pipeline, const json_t *t, size_t index, const json_t *event)
{
	const json_t *d = json_object_get(event, "details");
	const json_t *c = json_object_get(event, "content");
	const char *etype = mz_json_str(d, "type");
	const char *ttype = mz_json_str(t, "type");
	if (!etype || !ttype)
		return false;
	if (strcasecmp(ttype, "git") == 0)
		return strcasecmp(etype, "git") == 0 && match_git(t, event);
	if (strcasecmp(ttype, "docker") == 0)
		return strcasecmp(etype, "docker") == 0 && match_docker(t, event);
	if (strcasecmp(ttype, "jenkins") == 0 || strcasecmp(ttype, "travis") == 0 ||
	    strcasecmp(ttype, "wercker") == 0 || strcasecmp(ttype, "concourse") == 0 ||
	    strcasecmp(ttype, "gitlab-ci") == 0)
		return strcasecmp(etype, "build") == 0 && match_build(t, event);
	if (strcasecmp(ttype, "pipeline") == 0)
		return (mz_streq(etype, "orca:pipeline:complete") ||
		        mz_streq(etype, "orca:pipeline:failed")) && match_pipeline(t, event);
	if (strcasecmp(ttype, "cron") == 0) {
		if (!mz_streq(etype, "cron") ||
		    !mz_streq(mz_json_str(c, "pipelineId"), mz_json_str(pipeline, "id")))
			return false;
		char *key = trigger_key(pipeline, t, index);
		bool ok = mz_streq(key, mz_json_str(c, "triggerId"));
		free(key);
		return ok;
	}
	if (strcasecmp(ttype, "webhook") == 0) {
		/* WebhookEventHandler: type equalsIgnoreCase, source exact. */
		if (strcasecmp(etype, "manual") == 0 || strcasecmp(ttype, etype) != 0)
			return false;
		if (!mz_streq(mz_json_str(t, "source"), mz_json_str(d, "source")))
			return false;
		const json_t *payload = json_object_get(event, "payload");
		return mz_payload_constraints_ok(json_object_get(t, "payloadConstraints"),
		                                 payload ? payload : c, true);
	}
	return false;
}

static void
set_str(json_t *obj, const char *key, const char *v)
{
	if (v)
		json_object_set_new(obj, key, json_string(v));
}

/* The artifacts an event brings (content.artifacts, or synthesised). */
static json_t *
event_artifacts(const json_t *event)
{
	const json_t *d = json_object_get(event, "details");
	const json_t *c = json_object_get(event, "content");
	json_t *a = json_object_get(c, "artifacts");
	if (json_is_array(a))
		return json_deep_copy(a);
	json_t *out = json_array();
	if (mz_strcaseeq(mz_json_str(d, "type"), "docker") && mz_json_str(c, "tag")) {
		const char *reg = mz_json_str(c, "registry");
		const char *repo = mz_json_str(c, "repository");
		char *name = mz_asprintf("%s/%s", reg ? reg : "", repo ? repo : "");
		char *ref = mz_asprintf("%s:%s", name, mz_json_str(c, "tag"));
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s}", "type", "docker/image",
		                                     "name", name, "version", mz_json_str(c, "tag"),
		                                     "reference", ref));
		free(name);
		free(ref);
	}
	return out;
}

/* Builds the trigger the execution carries (Echo's buildTrigger). */
static json_t *
build_trigger(const json_t *pipeline, const json_t *t, size_t index, const json_t *event)
{
	const json_t *d = json_object_get(event, "details");
	const json_t *c = json_object_get(event, "content");
	json_t *out = json_deep_copy(t);
	const char *ttype = mz_json_str(t, "type");
	json_object_del(out, "secret"); /* never copied into an execution */
	set_str(out, "eventId", mz_json_str(event, "eventId"));
	/* An automated trigger acts as its runAsUser, else as the user who last
	 * saved the pipeline: the execution's permissions (the accounts its
	 * cloud stages may use) are that user's. */
	const char *run_as = mz_json_str(t, "runAsUser");
	const char *saver = mz_json_str(pipeline, "lastModifiedBy");
	set_str(out, "user", !str_empty(run_as) ? run_as : !str_empty(saver) ? saver : "[anonymous]");
	json_t *params = json_is_object(json_object_get(t, "parameters")) ?
	                 json_deep_copy(json_object_get(t, "parameters")) : json_object();
	json_t *artifacts = event_artifacts(event);

	if (strcasecmp(ttype, "webhook") == 0) {
		const json_t *payload = json_object_get(event, "payload");
		json_object_set_new(out, "payload", payload ? json_deep_copy(payload) : json_object());
		if (json_is_object(json_object_get(c, "parameters")))
			mz_json_merge(params, json_object_get(c, "parameters"));
	} else if (strcasecmp(ttype, "git") == 0) {
		set_str(out, "hash", mz_json_str(c, "hash"));
		set_str(out, "branch", mz_json_str(c, "branch"));
		set_str(out, "action", mz_json_str(c, "action"));
		if (mz_json_str(c, "repoProject"))
			set_str(out, "project", mz_json_str(c, "repoProject"));
		if (mz_json_str(c, "slug"))
			set_str(out, "slug", mz_json_str(c, "slug"));
		set_str(out, "source", mz_json_str(d, "source"));
		if (json_object_get(event, "payload"))
			json_object_set(out, "payload", json_object_get(event, "payload"));
	} else if (strcasecmp(ttype, "docker") == 0) {
		set_str(out, "tag", mz_json_str(c, "tag"));
		set_str(out, "digest", mz_json_str(c, "digest"));
		set_str(out, "registry", mz_json_str(c, "registry"));
		set_str(out, "repository", mz_json_str(c, "repository"));
		set_str(out, "account", mz_json_str(c, "account"));
	} else if (strcasecmp(ttype, "pipeline") == 0) {
		const json_t *parent = json_object_get(c, "execution");
		json_object_set_new(out, "parentExecution",
		                    parent ? json_deep_copy(parent) : json_object());
		set_str(out, "parentPipelineId", mz_json_str(c, "pipelineConfigId"));
		set_str(out, "parentPipelineName", mz_json_str(c, "name"));
		set_str(out, "parentPipelineApplication", mz_json_str(d, "application"));
		set_str(out, "parentStatus", mz_json_str(c, "status"));
		set_str(out, "parentExecutionId", mz_json_str(c, "executionId"));
		json_object_set_new(out, "isPipeline", json_true());
		if (str_empty(run_as) && str_empty(saver)) {
			const char *pu = mz_json_str(json_object_get(parent, "authentication"), "user");
			if (pu)
				set_str(out, "user", pu);
		}
	} else if (strcasecmp(ttype, "cron") == 0) {
		char *key = trigger_key(pipeline, t, index);
		set_str(out, "id", key);
		free(key);
		json_object_set(out, "scheduledTime", json_object_get(c, "scheduledTime"));
	} else { /* CI builds */
		const json_t *project = json_object_get(c, "project");
		const json_t *build = json_object_get(project, "lastBuild");
		json_object_set_new(out, "buildNumber", json_integer(mz_json_int(build, "number", 0)));
		json_t *info = build ? json_deep_copy(build) : json_object();
		set_str(info, "name", mz_json_str(project, "name"));
		json_object_del(info, "properties");
		json_object_set_new(out, "buildInfo", info);
		json_t *props = json_object_get(build, "properties");
		json_object_set_new(out, "properties", json_is_object(props) ? json_deep_copy(props)
		                                                            : json_object());
		if (json_is_array(json_object_get(build, "artifacts")))
			json_array_extend(artifacts, json_object_get(build, "artifacts"));
	}
	json_object_set_new(out, "parameters", params);
	json_object_set_new(out, "artifacts", artifacts);
	return out;
}

json_t *
mz_trigger_match(const json_t *pipeline, const json_t *event)
{
	if (!json_is_object(pipeline) || mz_json_bool(pipeline, "disabled", false))
		return NULL;
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(pipeline, "triggers"), i, t) {
		if (!json_is_object(t) || !mz_json_bool(t, "enabled", false))
			continue;
		if (!match_one(pipeline, t, i, event))
			continue;
		json_t *built = build_trigger(pipeline, t, i, event);
		if (!artifacts_ok(pipeline, t, json_object_get(built, "artifacts"))) {
			json_decref(built);
			continue;
		}
		return built;
	}
	return NULL;
}

/* ---- classes, for the trigger index ------------------------------------ */

/* A trigger and an event can only match when their classes are equal:
 * match_one's first test, as a key. */
char *
mz__trigger_class(const json_t *pipeline, const json_t *t)
{
	const char *ttype = mz_json_str(t, "type");
	if (!ttype)
		return NULL;
	if (strcasecmp(ttype, "git") == 0 || strcasecmp(ttype, "docker") == 0 ||
	    strcasecmp(ttype, "pipeline") == 0) {
		char *c = mz_strdup(ttype);
		for (char *p = c; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return c;
	}
	if (strcasecmp(ttype, "jenkins") == 0 || strcasecmp(ttype, "travis") == 0 ||
	    strcasecmp(ttype, "wercker") == 0 || strcasecmp(ttype, "concourse") == 0 ||
	    strcasecmp(ttype, "gitlab-ci") == 0)
		return mz_strdup("build");
	if (strcasecmp(ttype, "cron") == 0)
		return mz_asprintf("cron\x1f%s", mz_json_str(pipeline, "id") ?
		                   mz_json_str(pipeline, "id") : "");
	if (strcasecmp(ttype, "webhook") == 0)
		return mz_json_str(t, "source") ?
		       mz_asprintf("webhook\x1f%s", mz_json_str(t, "source")) : NULL;
	return NULL;
}

char *
mz__event_class(const json_t *event)
{
	const json_t *d = json_object_get(event, "details");
	const char *etype = mz_json_str(d, "type");
	if (!etype)
		return NULL;
	if (strcasecmp(etype, "git") == 0)
		return mz_strdup("git");
	if (strcasecmp(etype, "docker") == 0)
		return mz_strdup("docker");
	if (strcasecmp(etype, "build") == 0)
		return mz_strdup("build");
	if (mz_streq(etype, "orca:pipeline:complete") || mz_streq(etype, "orca:pipeline:failed"))
		return mz_strdup("pipeline");
	if (mz_streq(etype, "cron")) {
		const char *pid = mz_json_str(json_object_get(event, "content"), "pipelineId");
		return mz_asprintf("cron\x1f%s", pid ? pid : "");
	}
	if (strcasecmp(etype, "webhook") == 0)
		return mz_json_str(d, "source") ?
		       mz_asprintf("webhook\x1f%s", mz_json_str(d, "source")) : NULL;
	return NULL;
}
