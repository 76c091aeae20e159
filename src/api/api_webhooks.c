/* api_webhooks.c - Echo's webhook entry points (reference §4.1, §4.3.1):
 *
 *   POST /webhooks/webhook/{source}   generic webhook: content = payload = body
 *   POST /webhooks/git/{provider}     github, gitlab, bitbucket (and stash):
 *                                     the body becomes a git event
 *                                     {repoProject, slug, hash, branch, action}
 *   POST /webhooks/{type}/{source}    any other event type
 *   POST /webhooks/{type}             source from the body's "source"
 *   GET  /webhooks/events/{eventId}   what an event did (processed, executions)
 *
 * Each stores the event durably (the dispatcher matches it against the
 * triggers and starts pipelines) and answers {eventProcessed, eventId};
 * the event id is the sender's delivery id when it gives one (GitHub's
 * X-GitHub-Delivery...), or a signed GitHub delivery's signature, so a
 * delivery repeated answers the same and starts nothing new.
 * GitHub deliveries are checked against the secrets of the triggers they
 * address (X-Hub-Signature-256, HMAC-SHA256 of the raw body): a bad or
 * missing signature answers 401 and stores nothing. */
#include "api/api_int.h"

#include "pollers/pollers.h"

#include "events/events.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	json_t *h = cls;
	if (key && value && strcasecmp(key, "Authorization") != 0 &&
	    strcasecmp(key, "Cookie") != 0)
		json_object_set_new(h, key, json_string(value));
	return MHD_YES;
}

static const char *
hdr(api_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* The body as a JSON object ({} when empty); replies 400 and returns NULL
 * when it is not one. */
static json_t *
body_or_empty(api_req *r)
{
	json_t *body = api_body_object(r, true, "the webhook payload");
	if (!body && !r->replied)
		body = json_object();
	return body;
}

/* The id a sender gives its delivery, which stays the same when the
 * sender delivers it again (a retry, a "Redeliver" click, a replay):
 * X-Event-Id (ours), GitHub's X-GitHub-Delivery, GitLab's
 * X-Gitlab-Event-UUID, Bitbucket Cloud's X-Request-UUID and, on the
 * Bitbucket Server (stash) endpoint, X-Request-Id. The event is stored
 * under it, so a second delivery finds the first and starts nothing. */
static bool
delivery_id(api_req *r, const char *provider, char out[128])
{
	static const struct {
		const char *header, *prefix, *only; /* only: on that git provider's endpoint */
	} ids[] = {
		{"X-Event-Id", "", NULL},
		{"X-GitHub-Delivery", "github-", NULL},
		{"X-Gitlab-Event-UUID", "gitlab-", NULL},
		{"X-Request-UUID", "bitbucket-", NULL},
		{"X-Request-Id", "stash-", "stash"},
		{"X-Request-Id", "stash-", "bitbucket"},
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (ids[i].only && !(provider && strcasecmp(provider, ids[i].only) == 0))
			continue;
		const char *v = hdr(r, ids[i].header);
		size_t n = v ? strlen(v) : 0;
		if (i == 0 && n > 0) { /* ours, as given (submit checked its length) */
			snprintf(out, 128, "%s", v);
			return true;
		}
		/* a bounded token; anything else names no delivery */
		if (n == 0 || n > 100 ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:{}") != n)
			continue;
		snprintf(out, 128, "%s%s", ids[i].prefix, v);
		return true;
	}
	return false;
}

/* A signed GitHub delivery is named by its signature, an HMAC of the
 * body under the trigger's secret: a replay of the body is the same event
 * whatever X-GitHub-Delivery it carries (GitHub does not sign headers),
 * and no one without the secret can name a future delivery. */
static bool
signature_id(api_req *r, char out[128])
{
	const char *sig = hdr(r, "X-Hub-Signature-256");
	if (!sig || strncmp(sig, "sha256=", 7) != 0 || strlen(sig) != 7 + 64)
		return false;
	mz_sha256_ctx c;
	char hex[65];
	mz_sha256_init(&c);
	mz_sha256_update(&c, sig + 7, 64);
	mz_sha256_hex(&c, hex);
	snprintf(out, 128, "github-signed-%.32s", hex);
	return true;
}

static void
submit(api_req *r, json_t *event, const char *provider)
{
	mz_events *bus = r->api->bus;
	if (!bus) {
		json_decref(event);
		api_reply_error(r, 503, "the event bus is not running");
		return;
	}
	mz_store *st = api_store(r);
	if (!st) {
		json_decref(event);
		return;
	}
	char id[128], given[128];
	mz_err err = {0};
	const char *ours = hdr(r, "X-Event-Id");
	if (ours && strlen(ours) >= sizeof(given)) {
		json_decref(event);
		api_reply_error(r, 400, "an event id (X-Event-Id) has at most 127 characters");
		return;
	}
	bool named = (ours && *ours) ? delivery_id(r, provider, given) :
	             (provider && strcasecmp(provider, "github") == 0 && signature_id(r, given)) ||
	             delivery_id(r, provider, given);
	/* the same answer for a delivery seen before, which starts nothing */
	if (mz_events_submit(bus, st, event, named ? given : NULL, id, NULL, &err)) {
		json_decref(event);
		api_reply_mzerr(r, &err);
		return;
	}
	json_decref(event);
	api_reply_json(r, 200, json_pack("{s:b, s:s}", "eventProcessed", 1, "eventId", id));
}

static json_t *
new_event(api_req *r, const char *type, const char *source, json_t *body)
{
	json_t *headers = json_object();
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, headers);
	json_t *ev = json_pack("{s:{s:s, s:s, s:o}, s:O, s:O, s:s}", "details", "type", type,
	                       "source", source, "requestHeaders", headers, "content", body,
	                       "payload", body, "rawContent", r->body ? r->body : "");
	const char *key = hdr(r, "X-Event-Key");
	if (key)
		json_object_set_new(json_object_get(ev, "content"), "event_type", json_string(key));
	return ev;
}

static void
generic_webhook(api_req *r, const char *type, const char *source)
{
	json_t *body = body_or_empty(r);
	if (!body)
		return;
	if (!source)
		source = mz_json_str(body, "source");
	if (!source || !*source) {
		json_decref(body);
		api_reply_error(r, 400, "the event needs a source: POST /webhooks/%s/{source}", type);
		return;
	}
	/* Artifacts and parameters travel in the body: content keeps them. */
	json_t *ev = new_event(r, type, source, body);
	json_decref(body);
	submit(r, ev, NULL);
}

static void
webhook_source(api_req *r)
{
	generic_webhook(r, "webhook", r->param[0]);
}

static void
type_source(api_req *r)
{
	if (strcasecmp(r->param[0], "git") == 0) {
		api_reply_error(r, 404, "no such endpoint: use POST /webhooks/git/{github|gitlab|"
		                "bitbucket|stash}");
		return;
	}
	generic_webhook(r, r->param[0], r->param[1]);
}

static void
type_only(api_req *r)
{
	generic_webhook(r, r->param[0], NULL);
}

static char *
strip_heads(const char *ref)
{
	if (!ref)
		return NULL;
	if (strncmp(ref, "refs/heads/", 11) == 0)
		ref += 11;
	return mz_strdup(ref);
}

static json_t *
path_obj(const json_t *v, const char *a, const char *b)
{
	json_t *o = json_object_get(v, a);
	return b ? json_object_get(o, b) : o;
}

/* Echo's SCM handlers: fills repoProject, slug, hash, branch, action.
 * Returns false for events that are acknowledged but not processed. */
static bool
scm_content(const char *provider, api_req *r, const json_t *body, json_t *content)
{
	char *branch = NULL;
	const char *hash = NULL, *project = NULL, *slug = NULL;
	char action[128] = "";
	if (strcasecmp(provider, "github") == 0) {
		const char *gh_event = hdr(r, "X-GitHub-Event");
		if (json_object_get(body, "hook_id") || mz_streq(gh_event, "ping"))
			return false;
		json_t *repo = json_object_get(body, "repository");
		json_t *owner = json_object_get(repo, "owner");
		project = mz_json_str(owner, "name") ? mz_json_str(owner, "name")
		                                     : mz_json_str(owner, "login");
		slug = mz_json_str(repo, "name");
		json_t *pr = json_object_get(body, "pull_request");
		if (pr) {
			hash = mz_json_str(path_obj(pr, "head", NULL), "sha");
			branch = mz_strdup(mz_json_str(path_obj(pr, "head", NULL), "ref"));
			snprintf(action, sizeof(action), "pull_request:%s",
			         mz_json_str(body, "action") ? mz_json_str(body, "action") : "");
			json_object_set(content, "number", json_object_get(pr, "number"));
			json_object_set(content, "draft", json_object_get(pr, "draft"));
			json_object_set(content, "state", json_object_get(pr, "state"));
			json_object_set(content, "title", json_object_get(pr, "title"));
		} else if (mz_streq(mz_json_str(body, "ref_type"), "branch")) {
			branch = mz_strdup(mz_json_str(body, "ref"));
			snprintf(action, sizeof(action), "branch:%s", gh_event ? gh_event : "");
		} else {
			hash = mz_json_str(body, "after");
			branch = strip_heads(mz_json_str(body, "ref"));
			snprintf(action, sizeof(action), "push:push");
		}
	} else if (strcasecmp(provider, "gitlab") == 0) {
		hash = mz_json_str(body, "after");
		branch = strip_heads(mz_json_str(body, "ref"));
		project = mz_json_str(json_object_get(body, "project"), "namespace");
		slug = mz_json_str(json_object_get(body, "project"), "name");
		snprintf(action, sizeof(action), "%s",
		         mz_json_str(body, "object_kind") ? mz_json_str(body, "object_kind") : "");
	} else if (strcasecmp(provider, "bitbucket") == 0 && json_object_get(body, "refChanges")) {
		/* Stash / Bitbucket Server */
		json_t *rc = json_array_get(json_object_get(body, "refChanges"), 0);
		hash = mz_json_str(rc, "toHash");
		branch = strip_heads(mz_json_str(rc, "refId"));
		project = mz_json_str(path_obj(body, "repository", "project"), "key");
		slug = mz_json_str(json_object_get(body, "repository"), "slug");
	} else if (strcasecmp(provider, "bitbucket") == 0) {
		const char *key = hdr(r, "X-Event-Key");
		if (key && strcmp(key, "repo:push") != 0 && strcmp(key, "pullrequest:fulfilled") != 0)
			return false;
		json_t *repo = json_object_get(body, "repository");
		const char *full = mz_json_str(repo, "full_name");
		const char *slash = full ? strchr(full, '/') : NULL;
		char *proj = slash ? strndup(full, (size_t)(slash - full)) : NULL;
		json_t *change = json_array_get(path_obj(body, "push", "changes"), 0);
		json_t *nw = json_object_get(change, "new");
		hash = mz_json_str(json_object_get(nw, "target"), "hash");
		branch = mz_strdup(mz_json_str(nw, "name"));
		if (proj)
			json_object_set_new(content, "repoProject", json_string(proj));
		free(proj);
		slug = slash ? slash + 1 : mz_json_str(repo, "name");
		snprintf(action, sizeof(action), "%s", key ? key : "repo:push");
	} else {
		return false;
	}
	if (project)
		json_object_set_new(content, "repoProject", json_string(project));
	if (slug)
		json_object_set_new(content, "slug", json_string(slug));
	if (hash)
		json_object_set_new(content, "hash", json_string(hash));
	if (branch)
		json_object_set_new(content, "branch", json_string(branch));
	json_object_set_new(content, "action", json_string(action));
	free(branch);
	return true;
}

static void
git_webhook(api_req *r)
{
	const char *provider = r->param[0];
	if (strcasecmp(provider, "github") && strcasecmp(provider, "gitlab") &&
	    strcasecmp(provider, "bitbucket") && strcasecmp(provider, "stash")) {
		api_reply_error(r, 404, "unknown git provider '%s' (github, gitlab, bitbucket, stash)",
		                provider);
		return;
	}
	/* a push may change pipelines kept in git: they sync at once */
	mz_repos_wake(r->api->repos);
	json_t *body = body_or_empty(r);
	if (!body)
		return;
	json_t *content = json_object();
	if (!scm_content(strcasecmp(provider, "stash") == 0 ? "bitbucket" : provider, r, body,
	                 content)) {
		json_decref(content);
		json_decref(body);
		api_reply_json(r, 200, json_pack("{s:b}", "eventProcessed", 0));
		return;
	}
	json_t *ev = new_event(r, "git", provider, body);
	json_decref(body);
	json_object_set_new(ev, "content", content);
	if (strcasecmp(provider, "github") == 0) {
		mz_store *st = api_store(r);
		if (!st) {
			json_decref(ev);
			return;
		}
		if (!mz_events_git_authentic(st, ev)) {
			json_decref(ev);
			api_reply_error(r, 401, "the webhook's signature (X-Hub-Signature-256) does not "
			                "match the secret of the triggers it addresses");
			return;
		}
	}
	submit(r, ev, provider);
}

static void
event_status(api_req *r)
{
	mz_store *st = api_store(r);
	if (!st)
		return;
	json_t *out = NULL;
	mz_err err = {0};
	mz_code rc = mz_event_get(st, r->param[0], &out, &err);
	if (rc == MZ_ENOTFOUND) {
		api_reply_error(r, 404, "event not found (id: %s)", r->param[0]);
		return;
	}
	if (rc) {
		api_reply_mzerr(r, &err);
		return;
	}
	/* the raw body may hold secrets' signatures: not echoed back */
	json_object_del(json_object_get(out, "event"), "rawContent");
	api_reply_json(r, 200, out);
}

const api_route api_webhook_routes[] = {
	{"POST", "/webhooks/webhook/{source}", webhook_source},
	{"POST", "/webhooks/git/{provider}", git_webhook},
	{"POST", "/webhooks/{type}/{source}", type_source},
	{"POST", "/webhooks/{type}", type_only},
	{"GET", "/webhooks/events/{eventId}", event_status},
	{NULL, NULL, NULL},
};
