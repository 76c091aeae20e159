/*
 * stage_webhook.c - Spinnaker's `webhook` stage (orca-webhook's WebhookStage,
 * CreateWebhookTask, MonitorWebhookTask).
 *
 * createWebhook sends one HTTP request built from the stage context (url,
 * method, payload, customHeaders) and records the response under context
 * key `webhook`; when the stage waits for completion it also resolves the
 * URL to poll into `statusEndpoint`. monitorWebhook polls that URL and reads
 * the far side's status with a JSONPath.
 *
 * Both are EXTERNAL tasks: the engine runs them on worker threads, outside
 * any store transaction and concurrently with each other, so nothing here
 * keeps state between calls. Requests go through src/httpc, the one
 * outbound client: its timeouts, size caps and outbound policy (a webhook
 * to a cloud metadata address or to this server is refused, TERMINAL,
 * unless outbound.allow lists it) apply here.
 *
 * Secrets: payloads and header values are never logged or put in messages.
 * Only the method, the URL and the status code are logged (debug level).
 */
#include "engine/stage_webhook.h"

#include "engine/engine.h"
#include "engine/jsonpath.h"
#include "httpc/httpc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A request must finish well inside the engine's 60 s lease on the task's
 * message, or another worker could run the same attempt again. */
#define WH_CONNECT_TIMEOUT_MS 5000L
#define WH_TOTAL_TIMEOUT_MS 30000L
#define WH_MAX_BODY (1024 * 1024)
#define WH_EXCERPT 300 /* bytes of a response body quoted in a message */
#define WH_SLOW_POLL_AFTER_MS 60000
#define WH_SLOW_POLL_MS 15000

/* ---- small helpers ----------------------------------------------------- */

static bool
http_url(const char *u)
{
	return u && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0);
}

/* Spring's HttpStatus names, which Orca puts in webhook.statusCode. */
static const struct {
	long code;
	const char *name;
} status_names[] = {
	{100, "CONTINUE"}, {101, "SWITCHING_PROTOCOLS"}, {200, "OK"}, {201, "CREATED"},
	{202, "ACCEPTED"}, {203, "NON_AUTHORITATIVE_INFORMATION"}, {204, "NO_CONTENT"},
	{205, "RESET_CONTENT"}, {206, "PARTIAL_CONTENT"}, {300, "MULTIPLE_CHOICES"},
	{301, "MOVED_PERMANENTLY"}, {302, "FOUND"}, {303, "SEE_OTHER"}, {304, "NOT_MODIFIED"},
	{307, "TEMPORARY_REDIRECT"}, {308, "PERMANENT_REDIRECT"}, {400, "BAD_REQUEST"},
	{401, "UNAUTHORIZED"}, {402, "PAYMENT_REQUIRED"}, {403, "FORBIDDEN"},
	{404, "NOT_FOUND"}, {405, "METHOD_NOT_ALLOWED"}, {406, "NOT_ACCEPTABLE"},
	{407, "PROXY_AUTHENTICATION_REQUIRED"}, {408, "REQUEST_TIMEOUT"}, {409, "CONFLICT"},
	{410, "GONE"}, {411, "LENGTH_REQUIRED"}, {412, "PRECONDITION_FAILED"},
	{413, "PAYLOAD_TOO_LARGE"}, {414, "URI_TOO_LONG"}, {415, "UNSUPPORTED_MEDIA_TYPE"},
	{416, "REQUESTED_RANGE_NOT_SATISFIABLE"}, {417, "EXPECTATION_FAILED"},
	{418, "I_AM_A_TEAPOT"}, {422, "UNPROCESSABLE_ENTITY"}, {423, "LOCKED"},
	{424, "FAILED_DEPENDENCY"}, {425, "TOO_EARLY"}, {426, "UPGRADE_REQUIRED"},
	{428, "PRECONDITION_REQUIRED"}, {429, "TOO_MANY_REQUESTS"},
	{431, "REQUEST_HEADER_FIELDS_TOO_LARGE"}, {451, "UNAVAILABLE_FOR_LEGAL_REASONS"},
	{500, "INTERNAL_SERVER_ERROR"}, {501, "NOT_IMPLEMENTED"}, {502, "BAD_GATEWAY"},
	{503, "SERVICE_UNAVAILABLE"}, {504, "GATEWAY_TIMEOUT"},
	{505, "HTTP_VERSION_NOT_SUPPORTED"}, {506, "VARIANT_ALSO_NEGOTIATES"},
	{507, "INSUFFICIENT_STORAGE"}, {508, "LOOP_DETECTED"}, {510, "NOT_EXTENDED"},
	{511, "NETWORK_AUTHENTICATION_REQUIRED"},
};

/* The reason name ("OK", "NOT_FOUND"), or the number as a string. */
static json_t *
status_code_json(long code)
{
	char num[24];
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (status_names[i].code == code)
			return json_string(status_names[i].name);
	snprintf(num, sizeof(num), "%ld", code);
	return json_string(num);
}

/* ---- one HTTP exchange ------------------------------------------------- */

/* A header list: NULL-terminated "Name: value" lines, each malloc'd. */
typedef struct wh_headers {
	char **v;
	size_t n, cap;
} wh_headers;

static void
headers_release(wh_headers *h)
{
	for (size_t i = 0; i < h->n; i++) {
		mz_secret_wipe(h->v[i]); /* an opened sealed value */
		free(h->v[i]);
	}
	free(h->v);
	memset(h, 0, sizeof(*h));
}

/* Performs one request; the outcome is in rs (release it afterwards).
 * payload (may be NULL) is sent as JSON. */
static void
wh_perform(const char *method, const char *url, const json_t *payload, const wh_headers *hdrs,
           const char *idempotency_key, mz_secret_use *use, mz_httpc_resp *rs)
{
	/* ${#secret('name')} references become values here and nowhere else:
	 * the context, the execution and the log keep the reference. The
	 * payload is resolved string by string before it is serialised, so a
	 * value with quotes stays inside its JSON string. */
	mz_err serr = {0};
	char *rurl = mz_engine_resolve_secrets(url, use, &serr);
	json_t *rpay = rurl && payload ? mz_engine_resolve_secrets_json(payload, use, &serr) : NULL;
	char *rbody = rpay ? mz_json_dump(rpay) : NULL;
	char **rh = calloc(hdrs->n + 1, sizeof(char *));
	bool ok = rurl && (!payload || rbody) && rh;
	for (size_t i = 0; ok && i < hdrs->n; i++)
		ok = (rh[i] = mz_engine_resolve_secrets(hdrs->v[i], use, &serr)) != NULL;
	if (!ok) {
		memset(rs, 0, sizeof(*rs));
		mz_buf_init(&rs->body, 1);
		rs->fail = MZ_HTTPC_BAD_REQUEST;
		snprintf(rs->error, sizeof(rs->error), "%.390s", serr.msg[0] ? serr.msg : "out of memory");
		goto out;
	}
	mz_httpc_req rq = {
		.method = method,
		.url = rurl,
		.headers = (const char *const *)rh,
		.body = rbody,
		.body_len = rbody ? strlen(rbody) : 0,
		.idempotency_key = idempotency_key,
		.timeout_ms = WH_TOTAL_TIMEOUT_MS,
		.connect_timeout_ms = WH_CONNECT_TIMEOUT_MS,
		.max_body = WH_MAX_BODY,
		/* A redirect is answered as it is (3xx counts as success, as in
		 * Orca); following it could carry customHeaders to another host. */
		.follow_redirects = false,
		.user_agent = "mizzen-webhook",
	};
	mz_httpc_do(&rq, rs, NULL);
	/* what comes back is recorded in the context: a response that echoes
	 * a header, or an error that quotes the URL, loses the values */
	mz_secret_use_scrub(use, rs->error);
	rs->body.len = mz_secret_use_scrub_mem(use, rs->body.data, rs->body.len);
	rs->body.data[rs->body.len] = '\0';
	mz_secret_use_scrub_json(use, rs->headers);
	if (rs->fail == MZ_HTTPC_OK)
		mz_debug("webhook: %s %s -> %ld", method, url, rs->status);
	else
		mz_debug("webhook: %s %s failed: %s", method, url, rs->error);
out:
	for (size_t i = 0; rh && i < hdrs->n; i++) {
		mz_secret_wipe(rh[i]);
		free(rh[i]);
	}
	free(rh);
	mz_secret_wipe(rurl);
	mz_secret_wipe(rbody);
	free(rurl);
	free(rbody);
	mz_secret_json_free(rpay);
}

/* Whether a request that never got an HTTP answer may simply be tried
 * again. Failures before the request left (DNS, refused connection) always
 * may; a GET also may after a timeout or a dropped connection, as Orca
 * retries socket timeouts on GET. */
static bool
transport_retryable(const mz_httpc_resp *rs, bool is_get)
{
	switch (rs->fail) {
	case MZ_HTTPC_RESOLVE:
	case MZ_HTTPC_CONNECT:
		return true;
	case MZ_HTTPC_TIMEOUT:
	case MZ_HTTPC_TRANSPORT:
		return is_get;
	default: /* the policy, a bad request, a too large answer: the same again */
		return false;
	}
}

/* {statusCode, statusCodeValue, headers, body}: what Orca records of a
 * response, in webhook and in webhook.monitor. */
static json_t *
response_json(const mz_httpc_resp *rs, json_t *body)
{
	return json_pack("{s:o, s:I, s:O, s:O}", "statusCode", status_code_json(rs->status),
	                 "statusCodeValue", (json_int_t)rs->status, "headers", rs->headers,
	                 "body", body);
}

/* ---- request headers --------------------------------------------------- */

/* Headers Orca never forwards from customHeaders (they would let a pipeline
 * impersonate a user or an execution), and our own Idempotency-Key, which a
 * config must not replace. */
static const char *const dropped_headers[] = {
	"X-SPINNAKER-USER",       "X-SPINNAKER-ACCOUNT",      "X-SPINNAKER-USER-ORIGIN",
	"X-SPINNAKER-REQUEST-ID", "X-SPINNAKER-EXECUTION-ID", "Idempotency-Key",
};

static bool
dropped(const char *name)
{
	for (size_t i = 0; i < sizeof(dropped_headers) / sizeof(dropped_headers[0]); i++)
		if (strcasecmp(name, dropped_headers[i]) == 0)
			return true;
	return false;
}

static bool
add_header(wh_headers *list, const char *name, const char *value)
{
	if (list->n + 2 > list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8;
		char **v = realloc(list->v, cap * sizeof(char *));
		if (!v)
			return false;
		list->v = v;
		list->cap = cap;
	}
	/* curl sends "Name;" as a header with an empty value */
	list->v[list->n++] = *value ? mz_asprintf("%s: %s", name, value) : mz_asprintf("%s;", name);
	list->v[list->n] = NULL;
	return true;
}

/* One customHeaders value as text; false for objects and arrays. */
static bool
scalar_text(const json_t *v, char *buf, size_t cap, const char **out)
{
	if (json_is_string(v)) {
		*out = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		*out = buf;
	} else if (json_is_real(v)) {
		snprintf(buf, cap, "%.17g", json_real_value(v));
		*out = buf;
	} else if (json_is_boolean(v)) {
		*out = json_is_true(v) ? "true" : "false";
	} else {
		return false;
	}
	return true;
}

static bool
add_custom(wh_headers *list, const char *name, const json_t *v, char *why, size_t cap)
{
	char num[64];
	const char *text;
	if (!scalar_text(v, num, sizeof(num), &text)) {
		snprintf(why, cap,
		         "customHeaders: the value of '%s' must be a string or a list of strings",
		         name);
		return false;
	}
	if (strpbrk(text, "\r\n") || (json_is_string(v) && strlen(text) != json_string_length(v))) {
		snprintf(why, cap, "customHeaders: the value of '%s' contains a line break or NUL",
		         name);
		return false;
	}
	if (!add_header(list, name, text)) {
		snprintf(why, cap, "out of memory building the request headers");
		return false;
	}
	return true;
}

/* Builds the request headers from customHeaders (a map; a value is a string
 * or a list of strings, each sent as its own header line), plus the
 * Content-Type when json_body. On a bad header fills why (never with a
 * header value) and returns false. */
static bool
build_headers(const json_t *sc, bool json_body, mz_secret_use *use, wh_headers *out, char *why,
              size_t cap)
{
	wh_headers list = {0};
	bool have_type = false;
	const char *name;
	json_t *v;
	mz_err err = {0};

	memset(out, 0, sizeof(*out));
	/* sensitive values are sealed in the stored context: opened here */
	json_t *custom = mz_engine_open_headers(sc, use, &err);
	if (!custom && err.code) {
		snprintf(why, cap, "%s", err.msg);
		return false;
	}
	if (custom && !json_is_object(custom) && !json_is_null(custom)) {
		snprintf(why, cap, "customHeaders must be a map of header names to values");
		goto fail;
	}
	json_object_foreach((json_t *)custom, name, v) {
		if (dropped(name) || json_is_null(v))
			continue;
		if (!mz_httpc_header_name_ok(name)) {
			snprintf(why, cap, "customHeaders: '%.100s' is not a valid header name", name);
			goto fail;
		}
		if (strcasecmp(name, "Content-Type") == 0)
			have_type = true;
		if (json_is_array(v)) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
				if (!add_custom(&list, name, e, why, cap))
					goto fail;
		} else if (!add_custom(&list, name, v, why, cap)) {
			goto fail;
		}
	}
	if (json_body && !have_type && !add_header(&list, "Content-Type", "application/json"))
		goto oom;
	mz_secret_json_free(custom);
	*out = list;
	return true;
oom:
	snprintf(why, cap, "out of memory building the request headers");
fail:
	mz_secret_json_free(custom);
	headers_release(&list);
	return false;
}

/* ---- configuration helpers -------------------------------------------- */

/* Whether code is in a list of status codes: a JSON array of numbers or
 * numeric strings, a number, or a comma-separated string. */
static bool
code_listed(const json_t *v, long code)
{
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			if (code_listed(e, code))
				return true;
		return false;
	}
	if (json_is_integer(v))
		return json_integer_value(v) == code;
	if (json_is_real(v))
		return json_real_value(v) == (double)code;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		while (*s) {
			char *end;
			long n = strtol(s, &end, 10);
			if (end != s && n == code)
				return true;
			s = end != s ? end : s + 1;
			while (*s == ',' || *s == ' ')
				s++;
		}
	}
	return false;
}

/* Whether value (case-insensitive) is in a status list: a comma-separated
 * string or a JSON array of strings. */
static bool
status_listed(const json_t *list, const char *value)
{
	if (json_is_array(list)) {
		size_t i;
		json_t *e;
		json_array_foreach(list, i, e)
			if (status_listed(e, value))
				return true;
		return false;
	}
	const char *s = json_string_value(list);
	size_t vlen = strlen(value);
	while (s && *s) {
		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		const char *start = s;
		while (*s && *s != ',')
			s++;
		const char *end = s;
		while (end > start && isspace((unsigned char)end[-1]))
			end--;
		if (end > start && (size_t)(end - start) == vlen &&
		    strncasecmp(start, value, vlen) == 0)
			return true;
	}
	return false;
}

/* Resolves ref against base; if both name the same host with different
 * schemes, base's scheme wins, as in Orca. NULL with why filled. */
static char *
absolute_url(const char *base, const char *ref, char *why, size_t cap)
{
	char *out = mz_httpc_url_resolve(base, ref, true);
	if (!out)
		snprintf(why, cap, "the status URL '%.300s' is not a valid URL", ref);
	return out;
}

/* The status URL to poll, per statusUrlResolution (checked before the
 * request was sent). NULL with why filled when it cannot be found. */
static char *
resolve_status_url(const json_t *sc, const char *url, const mz_httpc_resp *rs, const json_t *body,
                   char *why, size_t cap)
{
	const char *how = mz_json_str(sc, "statusUrlResolution");
	const char *found = url;

	if (mz_strcaseeq(how, "locationHeader")) {
		found = mz_httpc_header(rs, "Location");
		if (!found || !*found) {
			snprintf(why, cap,
			         "statusUrlResolution is locationHeader but the response from %.300s "
			         "has no Location header",
			         url);
			return NULL;
		}
	} else if (mz_strcaseeq(how, "webhookResponse")) {
		const char *path = mz_json_str(sc, "statusUrlJsonPath");
		mz_err err = {0};
		json_t *v = mz__jsonpath_get(body, path, &err);
		if (!v) {
			snprintf(why, cap,
			         "Unable to resolve the status URL: statusUrlJsonPath %.300s in the "
			         "response from %.300s",
			         err.msg, url);
			return NULL;
		}
		if (!json_is_string(v) || !json_string_length(v)) {
			snprintf(why, cap,
			         "Unable to resolve the status URL: statusUrlJsonPath '%.200s' in the "
			         "response from %.300s is not a non-empty string",
			         path, url);
			return NULL;
		}
		found = json_string_value(v);
	}
	return absolute_url(url, found, why, cap);
}

/* Checks what waiting for completion needs before anything is sent, so a
 * config mistake does not cost a real (and maybe not repeatable) call. */
static bool
check_wait_config(const json_t *sc, mz_task_result *r)
{
	const char *how = mz_json_str(sc, "statusUrlResolution");
	if (!how) {
		mz_task_result_set(r, "TERMINAL",
		                   "waitForCompletion is set but statusUrlResolution is missing "
		                   "(one of getMethod, locationHeader, webhookResponse)");
		return false;
	}
	if (!mz_strcaseeq(how, "getMethod") && !mz_strcaseeq(how, "locationHeader") &&
	    !mz_strcaseeq(how, "webhookResponse")) {
		mz_task_result_set(r, "TERMINAL",
		                   "unknown statusUrlResolution '%.100s' (one of getMethod, "
		                   "locationHeader, webhookResponse)",
		                   how);
		return false;
	}
	if (mz_strcaseeq(how, "webhookResponse")) {
		const char *path = mz_json_str(sc, "statusUrlJsonPath");
		if (!path || !*path) {
			mz_task_result_set(r, "TERMINAL",
			                   "statusUrlResolution is webhookResponse but statusUrlJsonPath "
			                   "is missing");
			return false;
		}
		/* against nothing: only a malformed path fails with MZ_EINVAL */
		mz_err err = {0};
		mz__jsonpath_get(NULL, path, &err);
		if (err.code == MZ_EINVAL) {
			mz_task_result_set(r, "TERMINAL", "statusUrlJsonPath: %s", err.msg);
			return false;
		}
	}
	return true;
}

/* ---- createWebhook ----------------------------------------------------- */

static bool
parse_method(const char *given, char out[8], mz_task_result *r)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
	const char *m = given && *given ? given : "POST";
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcasecmp(m, methods[i]) == 0) {
			snprintf(out, 8, "%s", methods[i]);
			return true;
		}
	mz_task_result_set(r, "TERMINAL",
	                   "unsupported webhook method '%.40s' (GET, POST, PUT, PATCH, DELETE or "
	                   "HEAD)",
	                   m);
	return false;
}

static void
create_webhook(mz_task_ctx *ctx, mz_task_result *r)
{
	const json_t *sc = json_object_get(ctx->stage, "context");
	const char *url = mz_json_str(sc, "url");
	const char *exec_id = mz_json_str(ctx->execution, "id");
	bool wait = mz_json_bool(sc, "waitForCompletion", false);
	wh_headers headers;
	char method[8], why[768], text[WH_EXCERPT + 8];
	const json_t *payload = NULL;
	mz_httpc_resp rs;

	if (!exec_id)
		exec_id = "(unknown)";
	if (!url || !*url) {
		mz_task_result_set(r, "TERMINAL", "the webhook stage has no url");
		return;
	}
	if (!http_url(url)) {
		mz_task_result_set(r, "TERMINAL", "the webhook url must start with http:// or https://");
		return;
	}
	if (!parse_method(mz_json_str(sc, "method"), method, r))
		return;
	if (wait && !check_wait_config(sc, r))
		return;
	mz_secret_use use = {0};
	if (!build_headers(sc, true, &use, &headers, why, sizeof(why))) {
		mz_secret_use_release(&use);
		mz_task_result_set(r, "TERMINAL", "%s", why);
		return;
	}
	json_t *pv = json_object_get(sc, "payload");
	if (pv && !json_is_null(pv) && strcmp(method, "GET") && strcmp(method, "HEAD"))
		payload = pv;

	/*
	 * The engine hands every attempt of an EXTERNAL task a key that stays
	 * the same when the attempt is replayed after a crash (the call went
	 * out, but its result was never recorded). Sending it as
	 * Idempotency-Key lets the far side recognise the replay and drop the
	 * duplicate instead of, say, deploying twice. A retry after a 5xx or a
	 * refused connection is a new attempt and gets a new key.
	 */
	wh_perform(method, url, payload, &headers, ctx->idempotency_key, &use, &rs);
	headers_release(&headers);
	mz_secret_use_release(&use);

	json_t *webhook;
	if (rs.fail != MZ_HTTPC_OK) {
		/* a policy refusal, a too large answer...: the same call would
		 * fail the same way, so only transport trouble is retried */
		bool retry = transport_retryable(&rs, strcmp(method, "GET") == 0);
		snprintf(why, sizeof(why), "Error submitting webhook for pipeline %s to %.300s: %s%s",
		         exec_id, url, rs.error, retry ? ", will retry." : "");
		webhook = json_pack("{s:s}", "error", why);
		if (retry)
			r->status = "RUNNING";
		else
			mz_task_result_set(r, "TERMINAL", "%s", why);
		goto out;
	}

	json_t *body = mz_httpc_body_json(&rs);
	webhook = response_json(&rs, body);
	long code = rs.status;
	if (code >= 200 && code < 400) {
		r->status = "SUCCEEDED";
		if (wait) {
			char *status_url = resolve_status_url(sc, url, &rs, body, why, sizeof(why));
			if (!status_url) {
				json_object_set_new(webhook, "error", json_string(why));
				mz_task_result_set(r, "TERMINAL", "%s", why);
			} else {
				json_object_set_new(webhook, "statusEndpoint", json_string(status_url));
				json_object_set_new(mz_task_result_context(r), "statusEndpoint",
				                    json_string(status_url));
				free(status_url);
			}
		}
		json_decref(body);
		goto out;
	}
	json_decref(body);

	mz_httpc_body_excerpt(&rs, WH_EXCERPT, text, sizeof(text));
	json_t *ff = json_object_get(sc, "failFastStatusCodes");
	bool fail_fast = ff && !json_is_null(ff) ? code_listed(ff, code) : code == 504;
	if (fail_fast) {
		snprintf(why, sizeof(why),
		         "Error submitting webhook for pipeline %s to %.300s with status code %ld, "
		         "which is configured to fail fast (failFastStatusCodes), with response: %s",
		         exec_id, url, code, text);
		mz_task_result_set(r, "TERMINAL", "%s", why);
	} else if (code >= 500 || code == 429 ||
	           code_listed(json_object_get(sc, "webhookRetryStatusCodes"), code)) {
		snprintf(why, sizeof(why),
		         "Error submitting webhook for pipeline %s to %.300s with status code %ld, "
		         "will retry.",
		         exec_id, url, code);
		r->status = "RUNNING";
	} else {
		snprintf(why, sizeof(why),
		         "Error submitting webhook for pipeline %s to %.300s with status code %ld, "
		         "with response: %s",
		         exec_id, url, code, text);
		mz_task_result_set(r, "TERMINAL", "%s", why);
	}
	json_object_set_new(webhook, "error", json_string(why));
out:
	json_object_set_new(mz_task_result_context(r), "webhook", webhook);
	mz_httpc_resp_release(&rs);
}

/* ---- waitBeforeMonitorWebhook ------------------------------------------ */

/* Waits waitBeforeMonitor seconds from the start of this task, polling
 * again exactly when the time is up. */
static void
wait_before_monitor(mz_task_ctx *ctx, mz_task_result *r)
{
	const json_t *sc = json_object_get(ctx->stage, "context");
	int64_t secs = mz_json_int(sc, "waitBeforeMonitor", 0);
	int64_t start = mz_json_int(ctx->task, "startTime", ctx->now);
	int64_t due = start + (secs > 0 ? secs : 0) * 1000;
	if (ctx->now >= due) {
		r->status = "SUCCEEDED";
		return;
	}
	r->status = "RUNNING";
	r->backoff_ms = due - ctx->now;
}

/* ---- monitorWebhook ---------------------------------------------------- */

static int
count_code(const json_t *past, long code)
{
	size_t i;
	json_t *e;
	int n = 0;
	json_array_foreach(past, i, e)
		if (json_integer_value(e) == code)
			n++;
	return n;
}

/* An HTTP error from the status URL. A code with a `retries` entry is
 * retried until it has been seen maxAttempts times; otherwise 5xx, 429 and
 * retryStatusCodes are retried without limit (the task timeout bounds
 * them) and anything else fails the stage. */
static void
monitor_http_error(const json_t *sc, const char *endpoint, const mz_httpc_resp *rs,
                   json_t *mon, json_t *past, mz_task_result *r)
{
	char key[24], text[WH_EXCERPT + 8], why[768];
	long code = rs->status;
	json_array_append_new(past, json_integer(code));
	snprintf(key, sizeof(key), "%ld", code);
	json_t *rule = json_object_get(json_object_get(sc, "retries"), key);
	mz_httpc_body_excerpt(rs, WH_EXCERPT, text, sizeof(text));
	if (rule) {
		int64_t max = mz_json_int(rule, "maxAttempts", 0);
		int seen = count_code(past, code);
		if (seen < max) {
			snprintf(why, sizeof(why),
			         "Error getting webhook status from %.300s with status code %ld, will "
			         "retry (attempt %d of %lld).",
			         endpoint, code, seen, (long long)max);
			r->status = "RUNNING";
		} else {
			snprintf(why, sizeof(why),
			         "Error getting webhook status from %.300s with status code %ld after %d "
			         "attempts, with response: %s",
			         endpoint, code, seen, text);
			mz_task_result_set(r, "TERMINAL", "%s", why);
		}
	} else if (code >= 500 || code == 429 ||
	           code_listed(json_object_get(sc, "retryStatusCodes"), code)) {
		snprintf(why, sizeof(why),
		         "Error getting webhook status from %.300s with status code %ld, will retry.",
		         endpoint, code);
		r->status = "RUNNING";
	} else {
		snprintf(why, sizeof(why),
		         "Invalid status code %ld while polling webhook status at %.300s, with "
		         "response: %s",
		         code, endpoint, text);
		mz_task_result_set(r, "TERMINAL", "%s", why);
	}
	json_object_set_new(mon, "error", json_string(why));
}

/* Reads the status out of a successful status response. */
static void
monitor_status(const json_t *sc, const char *endpoint, const json_t *body, json_t *mon,
               mz_task_result *r)
{
	const char *ppath = mz_json_str(sc, "progressJsonPath");
	const char *spath = mz_json_str(sc, "statusJsonPath");
	char why[768], upper[256];

	if (ppath && *ppath) {
		json_t *pv = mz__jsonpath_get(body, ppath, NULL);
		if (json_is_string(pv)) {
			json_object_set(mon, "progressMessage", pv);
		} else if (pv && !json_is_null(pv)) {
			char *s = mz_json_dump(pv);
			json_object_set_new(mon, "progressMessage", json_string(s));
			free(s);
		}
	}
	if (!spath || !*spath) {
		r->status = "SUCCEEDED";
		return;
	}
	mz_err err = {0};
	json_t *v = mz__jsonpath_get(body, spath, &err);
	if (!v || json_is_null(v)) {
		snprintf(why, sizeof(why),
		         "Unable to resolve the webhook status from %.300s: statusJsonPath %.300s",
		         endpoint, v ? "matches null" : err.msg);
		goto terminal;
	}
	if (json_is_number(v)) {
		double pct = json_number_value(v);
		json_object_set_new(mon, "percentComplete", json_integer((json_int_t)pct));
		json_object_set(mon, "resolvedValue", v);
		r->status = pct >= 100 ? "SUCCEEDED" : "RUNNING";
		return;
	}
	if (!json_is_string(v) && !json_is_boolean(v)) {
		snprintf(why, sizeof(why),
		         "The webhook status at statusJsonPath '%.200s' from %.300s is not a string, "
		         "boolean or number",
		         spath, endpoint);
		goto terminal;
	}
	snprintf(upper, sizeof(upper), "%s",
	         json_is_string(v) ? json_string_value(v) : (json_is_true(v) ? "true" : "false"));
	for (char *c = upper; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	json_object_set(mon, "resolvedValue", v);
	if (status_listed(json_object_get(sc, "successStatuses"), upper)) {
		r->status = "SUCCEEDED";
	} else if (status_listed(json_object_get(sc, "canceledStatuses"), upper)) {
		mz_task_result_set(r, "CANCELED",
		                   "The webhook status at %.300s is '%.100s', one of canceledStatuses",
		                   endpoint, upper);
	} else if (status_listed(json_object_get(sc, "terminalStatuses"), upper)) {
		mz_task_result_set(r, "TERMINAL",
		                   "The webhook status at %.300s is '%.100s', one of terminalStatuses",
		                   endpoint, upper);
	} else {
		r->status = "RUNNING";
	}
	return;
terminal:
	json_object_set_new(mon, "error", json_string(why));
	mz_task_result_set(r, "TERMINAL", "%s", why);
}

static void
monitor_webhook(mz_task_ctx *ctx, mz_task_result *r)
{
	const json_t *sc = json_object_get(ctx->stage, "context");
	json_t *prev = mz_json_obj(sc, "webhook");
	const char *endpoint = mz_json_str(sc, "statusEndpoint");
	wh_headers headers;
	char why[768];
	mz_httpc_resp rs;

	if (!endpoint)
		endpoint = mz_json_str(prev, "statusEndpoint");
	if (!endpoint && mz_json_bool(sc, "monitorOnly", false))
		endpoint = mz_json_str(sc, "url");
	if (!endpoint || !*endpoint) {
		mz_task_result_set(r, "TERMINAL", "the webhook stage has no statusEndpoint to monitor");
		return;
	}
	if (!http_url(endpoint)) {
		mz_task_result_set(r, "TERMINAL",
		                   "the webhook statusEndpoint must start with http:// or https://");
		return;
	}
	mz_secret_use use = {0};
	if (!build_headers(sc, false, &use, &headers, why, sizeof(why))) {
		mz_secret_use_release(&use);
		mz_task_result_set(r, "TERMINAL", "%s", why);
		return;
	}
	wh_perform("GET", endpoint, NULL, &headers, ctx->idempotency_key, &use, &rs);
	headers_release(&headers);
	mz_secret_use_release(&use);

	/* The result replaces context.webhook as a whole: start from a copy so
	 * createWebhook's part survives, and carry the past status codes. */
	json_t *webhook = prev ? json_deep_copy(prev) : json_object();
	json_t *past = json_deep_copy(mz_json_arr(mz_json_obj(prev, "monitor"), "pastStatusCodes"));
	json_t *mon;
	if (!past)
		past = json_array();

	if (rs.fail != MZ_HTTPC_OK) {
		bool retry = transport_retryable(&rs, true);
		snprintf(why, sizeof(why), "Error getting webhook status from %.300s: %s%s", endpoint,
		         rs.error, retry ? ", will retry." : "");
		mon = json_pack("{s:s}", "error", why);
		if (retry)
			r->status = "RUNNING";
		else
			mz_task_result_set(r, "TERMINAL", "%s", why);
	} else {
		json_t *body = mz_httpc_body_json(&rs);
		mon = response_json(&rs, body);
		if (rs.status >= 200 && rs.status < 400)
			monitor_status(sc, endpoint, body, mon, r);
		else
			monitor_http_error(sc, endpoint, &rs, mon, past, r);
		json_decref(body);
	}
	json_object_set_new(mon, "pastStatusCodes", past);
	json_object_set_new(webhook, "monitor", mon);
	json_object_set_new(mz_task_result_context(r), "webhook", webhook);
	if (mz_streq(r->status, "RUNNING") &&
	    ctx->now - mz_json_int(ctx->task, "startTime", ctx->now) > WH_SLOW_POLL_AFTER_MS)
		r->backoff_ms = WH_SLOW_POLL_MS; /* Orca: 1 s for a minute, then 15 s */
	mz_httpc_resp_release(&rs);
}

/* ---- the stage --------------------------------------------------------- */

mz_code
mz__webhook_plan(mz_plan *p, mz_err *err)
{
	const json_t *sc = json_object_get(mz_plan_stage(p), "context");
	bool monitor_only = mz_json_bool(sc, "monitorOnly", false);
	bool wait = mz_json_bool(sc, "waitForCompletion", false);

	if (monitor_only && !wait)
		return mz_fail(err, MZ_EINVAL,
		               "a webhook stage with monitorOnly must also set waitForCompletion");
	if (!monitor_only)
		mz_plan_task(p, "createWebhook");
	if (wait) {
		/* as in Orca, the wait exists only in front of a monitor */
		if (mz_json_int(sc, "waitBeforeMonitor", 0) > 0)
			mz_plan_task(p, "waitBeforeMonitorWebhook");
		mz_plan_task(p, "monitorWebhook");
	}
	return MZ_OK;
}

/* A restart calls the webhook again: forget the previous response (and
 * with it the monitor's count of past status codes). */
void
mz__webhook_prepare_restart(json_t *stage)
{
	json_object_del(json_object_get(stage, "context"), "webhook");
}

static const mz_task_def create_task = {
	.name = "createWebhook",
	.impl_class = "com.netflix.spinnaker.orca.webhook.tasks.CreateWebhookTask",
	.execute = create_webhook,
	.backoff_ms = 10000,
	.timeout_ms = 5 * 60 * 1000,
	.flags = MZ_TASK_EXTERNAL | MZ_TASK_RETRYABLE,
};

static const mz_task_def wait_task = {
	.name = "waitBeforeMonitorWebhook",
	.impl_class = "com.netflix.spinnaker.orca.pipeline.tasks.WaitTask",
	.execute = wait_before_monitor,
	.backoff_ms = 1000,
	.flags = MZ_TASK_RETRYABLE,
};

static const mz_task_def monitor_task = {
	.name = "monitorWebhook",
	.impl_class = "com.netflix.spinnaker.orca.webhook.tasks.MonitorWebhookTask",
	.execute = monitor_webhook,
	.backoff_ms = 1000,
	.timeout_ms = 60 * 60 * 1000,
	.flags = MZ_TASK_EXTERNAL | MZ_TASK_RETRYABLE | MZ_TASK_TIMEOUT_OVERRIDABLE,
};

static const mz_stage_def webhook_stage = {
	.type = "webhook",
	.plan = mz__webhook_plan,
	.prepare_restart = mz__webhook_prepare_restart,
};

void
mz__register_webhook_stage(void)
{
	mz_engine_register_task(&create_task);
	mz_engine_register_task(&wait_task);
	mz_engine_register_task(&monitor_task);
	mz_engine_register_stage(&webhook_stage);
}
