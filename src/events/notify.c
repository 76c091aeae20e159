/* notify.c - notifications (Echo's notification agents, reference §4.6).
 *
 * Planning: an outbox event (orca:pipeline:* or orca:stage:*) and the
 * execution's `notifications` (or the stage's context.notifications with
 * sendNotifications) become deliveries {type, address, subject, text, link,
 * event} stored in the same transaction that deletes the outbox row.
 *
 * Sending: a notifier thread posts each due delivery (webhook: JSON POST;
 * slack: a Slack-compatible incoming webhook, {"text": ...}; email: SMTP
 * to smtp_url), outside any transaction, through src/httpc: its timeouts,
 * caps and outbound policy (no metadata address, not this server) apply to
 * every address a pipeline names. A failure is
 * logged and retried after retry_base_ms, doubled each time, until
 * max_attempts; then the delivery is dropped with an error in the log (at
 * once when retrying cannot help: a malformed address or one the outbound
 * policy refuses). A
 * crash between sending and deleting sends that one again (at least once). */
#include "events/events_int.h"
#include "httpc/httpc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NOTIFY_TIMEOUT_MS 10000L

/* ---- planning ------------------------------------------------------------ */

static bool
when_has(const json_t *when, const char *key)
{
	if (json_is_string(when))
		return strcmp(json_string_value(when), key) == 0;
	size_t i;
	json_t *w;
	json_array_foreach(when, i, w) {
		if (json_is_string(w) && strcmp(json_string_value(w), key) == 0)
			return true;
	}
	return false;
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

static const char *
phase_words(const char *phase)
{
	if (mz_streq(phase, "starting"))
		return "is starting";
	if (mz_streq(phase, "complete"))
		return "has completed successfully";
	if (mz_streq(phase, "failed"))
		return "has failed";
	return phase;
}

mz_code
mz__notify_plan(mz_events *ev, mz_store *st, const json_t *event, const json_t *exec, int *n,
                mz_err *err)
{
	const json_t *d = json_object_get(event, "details");
	const json_t *c = json_object_get(event, "content");
	const char *type = mz_json_str(d, "type");
	char kind[32], phase[32];
	*n = 0;
	if (!type || !exec || sscanf(type, "orca:%31[^:]:%31s", kind, phase) != 2)
		return MZ_OK;
	const json_t *prefs = NULL;
	const json_t *stage = NULL;
	bool judgment = false;
	if (strcmp(kind, "pipeline") == 0) {
		if (mz_streq(mz_json_str(c, "status"), "CANCELED") ||
		    mz_json_bool(exec, "canceled", false))
			return MZ_OK;
		prefs = json_object_get(exec, "notifications");
	} else if (strcmp(kind, "stage") == 0) {
		stage = find_stage(exec, mz_json_str(c, "stageId"));
		const json_t *ctx = json_object_get(stage, "context");
		if (!stage || mz_json_str(stage, "syntheticStageOwner") ||
		    !mz_json_bool(ctx, "sendNotifications", false))
			return MZ_OK;
		prefs = json_object_get(ctx, "notifications");
		judgment = mz_streq(mz_json_str(stage, "type"), "manualJudgment");
	} else {
		return MZ_OK;
	}
	if (json_array_size(prefs) == 0)
		return MZ_OK;

	char when_key[80], alias[40] = "";
	snprintf(when_key, sizeof(when_key), "%s.%s", kind, phase);
	if (judgment) {
		if (strcmp(phase, "starting") == 0)
			snprintf(alias, sizeof(alias), "manualJudgment");
		else if (strcmp(phase, "complete") == 0)
			snprintf(alias, sizeof(alias), "manualJudgmentContinue");
		else if (strcmp(phase, "failed") == 0)
			snprintf(alias, sizeof(alias), "manualJudgmentStop");
	}
	const char *app = mz_json_str(exec, "application");
	const char *name = mz_json_str(exec, "name");
	const char *exec_id = mz_json_str(exec, "id");
	char *link = mz_asprintf("%s/ui/#/applications/%s/executions/details/%s", ev->ui_base,
	                         app ? app : "", exec_id ? exec_id : "");
	char *summary;
	if (stage && judgment && strcmp(phase, "starting") == 0)
		summary = mz_asprintf("Stage %s for %s's %s pipeline is awaiting manual judgment.",
		                      mz_json_str(stage, "name"), app, name);
	else if (stage)
		summary = mz_asprintf("Stage %s for %s's %s pipeline %s", mz_json_str(stage, "name"),
		                      app, name, phase_words(phase));
	else
		summary = mz_asprintf("%s's %s pipeline %s", app, name, phase_words(phase));

	mz_code rc = MZ_OK;
	size_t i;
	json_t *pref;
	json_array_foreach(prefs, i, pref) {
		const char *ntype = mz_json_str(pref, "type");
		const char *address = mz_json_str(pref, "address");
		json_t *when = json_object_get(pref, "when");
		if (!ntype || !address || !*address)
			continue;
		if (!when_has(when, when_key) && !(alias[0] && when_has(when, alias)))
			continue;
		if (strcmp(ntype, "webhook") && strcmp(ntype, "slack") && strcmp(ntype, "email")) {
			mz_debug("events: notification type '%s' is not supported; skipped", ntype);
			continue;
		}
		json_t *msg = json_object_get(pref, "message");
		const char *custom = mz_json_str(json_object_get(msg, when_key), "text");
		if (!custom && alias[0])
			custom = mz_json_str(json_object_get(msg, alias), "text");
		char *text = mz_asprintf("%s%s%s\n%s", summary, custom ? "\n" : "",
		                         custom ? custom : "", link);
		const char *custom_subject = mz_json_str(pref, "customSubject");
		json_t *dl = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}}",
			"type", ntype, "address", address, "subject",
			custom_subject ? custom_subject : summary, "text", text, "link", link,
			"event", "type", when_key, "application", app, "executionId", exec_id,
			"pipelineName", name, "status", mz_json_str(c, "status"), "stageId",
			stage ? mz_json_str(stage, "id") : NULL, "stageName",
			stage ? mz_json_str(stage, "name") : NULL, "message", custom);
		free(text);
		rc = mz_delivery_push(st, dl, mz_now_ms(), err);
		json_decref(dl);
		if (rc)
			break;
		(*n)++;
	}
	free(summary);
	free(link);
	return rc;
}

/* ---- sending --------------------------------------------------------------- */

/* url is what is called; shown (the address as written, with its
 * ${#secret()} references) is what messages name. */
static mz_code
post_json(const char *url, const char *shown, const json_t *body, mz_err *err)
{
	char *text = mz_json_dump(body);
	const char *headers[] = {"Content-Type: application/json", NULL};
	mz_httpc_req rq = {.method = "POST", .url = url, .headers = headers, .body = text,
	                   .body_len = strlen(text), .timeout_ms = NOTIFY_TIMEOUT_MS};
	mz_httpc_resp res;
	mz_code rc = mz_httpc_do(&rq, &res, err);
	free(text);
	if (rc == MZ_OK && (res.status < 200 || res.status > 299))
		rc = mz_fail(err, MZ_EIO, "POST %s answered %ld", shown, res.status);
	mz_httpc_resp_release(&res);
	return rc;
}

static mz_code
send_email(mz_events *ev, const json_t *dl, const char *address, mz_err *err)
{
	if (!ev->smtp_url)
		return mz_fail(err, MZ_EINVAL, "email notifications need an SMTP server: set "
		               "notifications.smtp.url in the config or MZ_SMTP_URL");
	const char *rcpt[64];
	size_t nrcpt = 0;
	char *to = mz_strdup(address ? address : "");
	char *save = NULL;
	for (char *a = strtok_r(to, ", ", &save); a && nrcpt + 1 < 64; a = strtok_r(NULL, ", ", &save))
		rcpt[nrcpt++] = a;
	rcpt[nrcpt] = NULL;
	if (!nrcpt) {
		free(to);
		return mz_fail(err, MZ_EINVAL, "email notification without a recipient");
	}
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	char msgid[37];
	mz_uuid(msgid);
	/* CRLF line ends; a body line starting with '.' is dot-stuffed by curl. */
	mz_buf body;
	mz_buf_init(&body, 1 << 20);
	mz_buf_printf(&body, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nMessage-ID: <%s@mizzen>\r\n"
	              "Subject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; "
	              "charset=utf-8\r\n\r\n", date, ev->smtp_from, address, msgid,
	              mz_json_str(dl, "subject"));
	const char *text = mz_json_str(dl, "text");
	for (const char *p = text ? text : ""; *p; p++) {
		if (*p == '\n')
			mz_buf_adds(&body, "\r\n");
		else
			mz_buf_add(&body, p, 1);
	}
	mz_buf_printf(&body, "\r\n\r\nTo see more details, please visit: %s\r\n",
	              mz_json_str(dl, "link"));
	mz_httpc_mail mail = {.url = ev->smtp_url, .from = ev->smtp_from, .to = rcpt,
	                      .data = body.data, .len = body.len, .timeout_ms = NOTIFY_TIMEOUT_MS};
	mz_code rc = mz_httpc_send_mail(&mail, err);
	mz_buf_release(&body);
	mz_secret_wipe(to);
	free(to);
	return rc;
}

static mz_code
send_to(mz_events *ev, const json_t *dl, const char *address, mz_err *err)
{
	const char *type = mz_json_str(dl, "type");
	const char *shown = mz_json_str(dl, "address");
	if (mz_streq(type, "webhook")) {
		/* the body names the address as written (references, not values) */
		json_t *body = json_pack("{s:s, s:s?, s:s?, s:s?, s:O?}", "text",
		                         mz_json_str(dl, "text"), "subject", mz_json_str(dl, "subject"),
		                         "link", mz_json_str(dl, "link"), "address", shown, "event",
		                         json_object_get(dl, "event"));
		mz_code rc = post_json(address, shown, body, err);
		json_decref(body);
		return rc;
	}
	if (mz_streq(type, "slack")) {
		json_t *body = json_pack("{s:s}", "text", mz_json_str(dl, "text"));
		mz_code rc = post_json(address, shown, body, err);
		json_decref(body);
		return rc;
	}
	if (mz_streq(type, "email"))
		return send_email(ev, dl, address, err);
	return mz_fail(err, MZ_EINVAL, "unknown notification type '%s'", type ? type : "");
}

/* A delivery's address may hold ${#secret('name')} references (a Slack
 * webhook URL is a credential): they are resolved here, as it is sent,
 * and the error that may come back is scrubbed of the values before it is
 * logged or stored with the delivery's retry. */
static mz_code
send_one(mz_events *ev, const json_t *dl, mz_err *err)
{
	const char *written = mz_json_str(dl, "address");
	mz_secret_use use = {0};
	char *address = mz_engine_resolve_secrets(written ? written : "", &use, err);
	if (!address) {
		mz_secret_use_release(&use);
		return err ? err->code : MZ_EINVAL;
	}
	mz_code rc = send_to(ev, dl, address, err);
	if (rc != MZ_OK && err)
		mz_secret_use_scrub(&use, err->msg);
	mz_secret_wipe(address);
	free(address);
	mz_secret_use_release(&use);
	return rc;
}

void *
mz__notifier_main(void *arg)
{
	mz_events *ev = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	while (!st) {
		if (mz_store_open(ev->db_url, &st, &err) == MZ_OK)
			break;
		st = NULL;
		if (!mz__events_wait(ev, &ev->ncond, &ev->nkick, 1000))
			return NULL;
	}
	for (;;) {
		json_t *due = NULL;
		int64_t now = mz_now_ms();
		/* one node of a cluster sends notifications, so none goes twice */
		if (!mz_engine_lease(ev->engine, st, "events.notify", 5000))
			due = json_array();
		else if (mz_delivery_due(st, now, 20, &due, &err) != MZ_OK) {
			mz_error("events: cannot read notification deliveries: %s", err.msg);
			due = json_array();
		}
		size_t i;
		json_t *item;
		json_array_foreach(due, i, item) {
			json_int_t id = json_integer_value(json_object_get(item, "id"));
			int attempts = (int)mz_json_int(item, "attempts", 0) + 1;
			const json_t *dl = json_object_get(item, "delivery");
			mz_err serr = {0};
			/* a Slack webhook's URL is its credential: logged without its path */
			char where[300];
			if (mz_streq(mz_json_str(dl, "type"), "slack"))
				mz_mask_url_path(mz_json_str(dl, "address"), where, sizeof(where));
			else
				snprintf(where, sizeof(where), "%s", mz_json_str(dl, "address") ?
				         mz_json_str(dl, "address") : "(none)");
			if (send_one(ev, dl, &serr) == MZ_OK) {
				mz_info("events: %s notification (%s) sent to %s", mz_json_str(dl, "type"),
				        mz_json_str(json_object_get(dl, "event"), "type"), where);
				mz_delivery_delete(st, id, &err);
			} else if (attempts >= ev->max_attempts || serr.code == MZ_EINVAL) {
				/* MZ_EINVAL (a bad address, the outbound policy, no SMTP
				 * server) would fail the same way again: not retried */
				mz_error("events: %s notification to %s failed %d time%s; giving up: %s",
				         mz_json_str(dl, "type"), where, attempts,
				         attempts == 1 ? "" : "s", serr.msg);
				mz_delivery_delete(st, id, &err);
			} else {
				int64_t delay = ev->retry_base_ms << (attempts - 1 < 16 ? attempts - 1 : 16);
				mz_warn("events: %s notification to %s failed (attempt %d of %d, retry in "
				        "%lld ms): %s", mz_json_str(dl, "type"), where,
				        attempts, ev->max_attempts, (long long)delay, serr.msg);
				mz_delivery_retry(st, id, mz_now_ms() + delay, serr.msg, &err);
			}
		}
		size_t got = json_array_size(due);
		json_decref(due);
		if (got == 0 && !mz__events_wait(ev, &ev->ncond, &ev->nkick, 500))
			break;
		pthread_mutex_lock(&ev->lock);
		bool stop = ev->stopping;
		pthread_mutex_unlock(&ev->lock);
		if (stop)
			break;
	}
	mz_store_close(st);
	return NULL;
}
