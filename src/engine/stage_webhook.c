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
 * keeps state between calls; every request has its own curl easy handle.
 *
 * Secrets: payloads and header values are never logged or put in messages.
 * Only the method, the URL and the status code are logged (debug level).
 */
#include "engine/stage_webhook.h"

#include "engine/engine.h"
#include "engine/jsonpath.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A request must finish well inside the engine's 60 s lease on the task's
 * message, or another worker could run the same attempt again. */
#define WH_CONNECT_TIMEOUT_MS 5000L
#define WH_TOTAL_TIMEOUT_MS 30000L
#define WH_MAX_BODY (1024 * 1024)
#define WH_MAX_HEADER_BYTES (64 * 1024)
#define WH_EXCERPT 300 /* bytes of a response body quoted in a message */
#define WH_SLOW_POLL_AFTER_MS 60000
#define WH_SLOW_POLL_MS 15000

/* ---- small text helpers ------------------------------------------------ */

/* A JSON string of n bytes; bytes that are not valid UTF-8 (a binary or
 * mis-declared response) become '?' rather than failing. */
static json_t *
text_json(const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);
	if (v)
		return v;
	char *copy = malloc(n + 1);
	if (!copy)
		return json_string("");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		copy[i] = (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' ? (char)c : '?';
	}
	v = json_stringn(copy, n);
	free(copy);
	return v;
}

/* The start of a response body, for an error message. */
static void
excerpt(const mz_buf *b, char *out, size_t cap)
{
	size_t n = b->len < WH_EXCERPT ? b->len : WH_EXCERPT;
	/* do not cut a UTF-8 sequence in two */
	while (n > 0 && n < b->len && ((unsigned char)b->data[n] & 0xC0) == 0x80)
		n--;
	json_t *t = text_json(b->data, n);
	snprintf(out, cap, "%s%s", json_string_value(t), n < b->len ? "..." : "");
	json_decref(t);
}

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

typedef struct wh_req {
	const char *method; /* upper case */
	const char *url;
	const char *body;   /* NULL: no body */
	size_t body_len;
	struct curl_slist *headers;
} wh_req;

typedef struct wh_resp {
	CURLcode cc;
	long code;        /* HTTP status when cc == CURLE_OK */
	json_t *headers;  /* name -> [values], names as received */
	size_t header_bytes;
	mz_buf body;      /* capped at WH_MAX_BODY */
	bool too_big;     /* body or headers passed their cap */
	char curl_err[CURL_ERROR_SIZE];
} wh_resp;

static size_t
on_body(char *data, size_t size, size_t n, void *udata)
{
	wh_resp *rs = udata;
	size_t len = size * n;
	if (mz_buf_add(&rs->body, data, len) != MZ_OK) {
		rs->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	return len;
}

static bool
token_char(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t
on_header(char *data, size_t size, size_t n, void *udata)
{
	wh_resp *rs = udata;
	size_t len = size * n;
	char name[256];
	size_t nlen = 0;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a status line: a final response follows a 1xx, start afresh */
		json_object_clear(rs->headers);
		rs->header_bytes = 0;
		return len;
	}
	rs->header_bytes += len;
	if (rs->header_bytes > WH_MAX_HEADER_BYTES) {
		rs->too_big = true;
		return 0;
	}
	while (nlen < len && nlen + 1 < sizeof(name) && token_char((unsigned char)data[nlen])) {
		name[nlen] = data[nlen];
		nlen++;
	}
	if (nlen == 0 || nlen >= len || data[nlen] != ':')
		return len; /* the blank line ending the headers, or junk */
	name[nlen] = '\0';
	const char *v = data + nlen + 1;
	const char *end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	json_t *list = json_object_get(rs->headers, name);
	if (!list) {
		list = json_array();
		json_object_set_new(rs->headers, name, list);
	}
	json_array_append_new(list, text_json(v, (size_t)(end - v)));
	return len;
}

/* First value of a response header, by case-insensitive name (borrowed). */
static const char *
header_first(const json_t *headers, const char *want)
{
	const char *name;
	json_t *list;
	json_object_foreach((json_t *)headers, name, list)
		if (strcasecmp(name, want) == 0)
			return json_string_value(json_array_get(list, 0));
	return NULL;
}

static void
wh_resp_release(wh_resp *rs)
{
	json_decref(rs->headers);
	rs->headers = NULL;
	mz_buf_release(&rs->body);
}

/* Performs the request; the outcome is in rs (release it afterwards). */
static void
wh_perform(const wh_req *rq, wh_resp *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->headers = json_object();
	mz_buf_init(&rs->body, WH_MAX_BODY);
	CURL *h = curl_easy_init();
	if (!h) {
		rs->cc = CURLE_FAILED_INIT;
		snprintf(rs->curl_err, sizeof(rs->curl_err), "cannot create a curl handle");
		return;
	}
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, rs->curl_err);
	/* worker threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, WH_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, WH_TOTAL_TIMEOUT_MS);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* A redirect is answered as it is (3xx counts as success, as in Orca);
	 * following it could carry customHeaders to another host. */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)WH_MAX_BODY);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mizzen-webhook");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, rs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, rs);

	if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(rq->method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
		if (rq->body || strcmp(rq->method, "DELETE") != 0) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		}
	}

	rs->cc = curl_easy_perform(h);
	if (rs->cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->code);
	if (rs->cc == CURLE_FILESIZE_EXCEEDED)
		rs->too_big = true;
	if (!rs->curl_err[0])
		snprintf(rs->curl_err, sizeof(rs->curl_err), "%s", curl_easy_strerror(rs->cc));
	curl_easy_cleanup(h);
	if (rs->cc == CURLE_OK)
		mz_debug("webhook: %s %s -> %ld", rq->method, rq->url, rs->code);
	else
		mz_debug("webhook: %s %s failed: %s", rq->method, rq->url, rs->curl_err);
}

/* Whether a request that never got an HTTP answer may simply be tried
 * again. Failures before the request left (DNS, refused connection) always
 * may; a GET also may after a timeout or a dropped connection, as Orca
 * retries socket timeouts on GET. */
static bool
transport_retryable(const wh_resp *rs, bool is_get)
{
	switch (rs->cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return true;
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return is_get;
	default:
		return false;
	}
}

/* The response body: parsed JSON when declared or shaped as JSON, else a
 * string; JSON null when empty. */
static json_t *
body_json(const wh_resp *rs)
{
	const char *d = rs->body.data;
	size_t len = rs->body.len, i = 0;
	if (len == 0)
		return json_null();
	const char *ct = header_first(rs->headers, "Content-Type");
	while (i < len && isspace((unsigned char)d[i]))
		i++;
	if ((ct && strcasestr(ct, "json")) || (i < len && (d[i] == '{' || d[i] == '['))) {
		json_error_t je;
		json_t *v = json_loadb(d, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		if (v)
			return v;
	}
	return text_json(d, len);
}

/* {statusCode, statusCodeValue, headers, body}: what Orca records of a
 * response, in webhook and in webhook.monitor. */
static json_t *
response_json(const wh_resp *rs, json_t *body)
{
	return json_pack("{s:o, s:I, s:O, s:O}", "statusCode", status_code_json(rs->code),
	                 "statusCodeValue", (json_int_t)rs->code, "headers", rs->headers,
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
add_header(struct curl_slist **list, const char *name, const char *value)
{
	/* curl sends "Name;" as a header with an empty value */
	char *line = *value ? mz_asprintf("%s: %s", name, value) : mz_asprintf("%s;", name);
	struct curl_slist *l = curl_slist_append(*list, line);
	free(line);
	if (!l)
		return false;
	*list = l;
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
add_custom(struct curl_slist **list, const char *name, const json_t *v, char *why, size_t cap)
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
 * Content-Type when json_body, plus the Idempotency-Key. On a bad header
 * fills why (never with a header value) and returns false. */
static bool
build_headers(const json_t *custom, bool json_body, const char *idempotency_key,
              struct curl_slist **out, char *why, size_t cap)
{
	struct curl_slist *list = NULL;
	bool have_type = false;
	const char *name;
	json_t *v;

	*out = NULL;
	if (custom && !json_is_object(custom) && !json_is_null(custom)) {
		snprintf(why, cap, "customHeaders must be a map of header names to values");
		return false;
	}
	json_object_foreach((json_t *)custom, name, v) {
		const char *c = name;
		if (dropped(name) || json_is_null(v))
			continue;
		while (*c && token_char((unsigned char)*c))
			c++;
		if (!*name || *c) {
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
	/*
	 * The engine hands every attempt of an EXTERNAL task a key that stays
	 * the same when the attempt is replayed after a crash (the call went
	 * out, but its result was never recorded). Sending it lets the far side
	 * recognise the replay and drop the duplicate instead of, say,
	 * deploying twice. A retry after a 5xx or a refused connection is a new
	 * attempt and gets a new key.
	 */
	if (idempotency_key && !add_header(&list, "Idempotency-Key", idempotency_key))
		goto oom;
	/* "Name:" removes a header curl would add: no "Expect: 100-continue"
	 * round trip before larger payloads */
	struct curl_slist *l = curl_slist_append(list, "Expect:");
	if (!l)
		goto oom;
	list = l;
	*out = list;
	return true;
oom:
	snprintf(why, cap, "out of memory building the request headers");
fail:
	curl_slist_free_all(list);
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

/* Resolves ref against base (curl's URL parser: relative references work);
 * if both name the same host with different schemes, base's scheme wins,
 * as in Orca (services behind a TLS proxy often report http:// URLs).
 * Returns a malloc'd URL, or NULL with why filled. */
static char *
absolute_url(const char *base, const char *ref, char *why, size_t cap)
{
	CURLU *b = curl_url();
	CURLU *u = curl_url();
	char *bscheme = NULL, *bhost = NULL, *scheme = NULL, *host = NULL, *res = NULL;
	char *out = NULL;

	if (!b || !u)
		goto bad;
	if (curl_url_set(b, CURLUPART_URL, base, 0) || curl_url_set(u, CURLUPART_URL, base, 0) ||
	    curl_url_set(u, CURLUPART_URL, ref, 0))
		goto bad;
	if (!curl_url_get(b, CURLUPART_SCHEME, &bscheme, 0) &&
	    !curl_url_get(b, CURLUPART_HOST, &bhost, 0) &&
	    !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0) && strcasecmp(bhost, host) == 0 &&
	    strcasecmp(bscheme, scheme) != 0)
		curl_url_set(u, CURLUPART_SCHEME, bscheme, 0);
	if (curl_url_get(u, CURLUPART_URL, &res, 0))
		goto bad;
	out = mz_strdup(res);
	goto done;
bad:
	snprintf(why, cap, "the status URL '%.300s' is not a valid URL", ref);
done:
	curl_free(bscheme);
	curl_free(bhost);
	curl_free(scheme);
	curl_free(host);
	curl_free(res);
	curl_url_cleanup(b);
	curl_url_cleanup(u);
	return out;
}

/* The status URL to poll, per statusUrlResolution (checked before the
 * request was sent). NULL with why filled when it cannot be found. */
static char *
resolve_status_url(const json_t *sc, const char *url, const wh_resp *rs, const json_t *body,
                   char *why, size_t cap)
{
	const char *how = mz_json_str(sc, "statusUrlResolution");
	const char *found = url;

	if (mz_strcaseeq(how, "locationHeader")) {
		found = header_first(rs->headers, "Location");
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
	struct curl_slist *headers = NULL;
	char method[8], why[768], text[WH_EXCERPT + 8];
	char *payload = NULL;
	wh_resp rs;

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
	if (!build_headers(json_object_get(sc, "customHeaders"), true, ctx->idempotency_key,
	                   &headers, why, sizeof(why))) {
		mz_task_result_set(r, "TERMINAL", "%s", why);
		return;
	}
	json_t *pv = json_object_get(sc, "payload");
	if (pv && !json_is_null(pv) && strcmp(method, "GET") && strcmp(method, "HEAD"))
		payload = mz_json_dump(pv);

	wh_req rq = {.method = method, .url = url, .body = payload,
	             .body_len = payload ? strlen(payload) : 0, .headers = headers};
	wh_perform(&rq, &rs);
	curl_slist_free_all(headers);
	free(payload);

	json_t *webhook;
	if (rs.cc != CURLE_OK && !rs.too_big) {
		bool retry = transport_retryable(&rs, strcmp(method, "GET") == 0);
		snprintf(why, sizeof(why), "Error submitting webhook for pipeline %s to %.300s: %s%s",
		         exec_id, url, rs.curl_err, retry ? ", will retry." : "");
		webhook = json_pack("{s:s}", "error", why);
		if (retry)
			r->status = "RUNNING";
		else
			mz_task_result_set(r, "TERMINAL", "%s", why);
		goto out;
	}
	if (rs.too_big) {
		snprintf(why, sizeof(why),
		         "Error submitting webhook for pipeline %s to %.300s: the response is larger "
		         "than %d bytes",
		         exec_id, url, WH_MAX_BODY);
		webhook = json_pack("{s:s}", "error", why);
		mz_task_result_set(r, "TERMINAL", "%s", why);
		goto out;
	}

	json_t *body = body_json(&rs);
	webhook = response_json(&rs, body);
	long code = rs.code;
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

	excerpt(&rs.body, text, sizeof(text));
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
	wh_resp_release(&rs);
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
monitor_http_error(const json_t *sc, const char *endpoint, const wh_resp *rs, json_t *mon,
                   json_t *past, mz_task_result *r)
{
	char key[24], text[WH_EXCERPT + 8], why[768];
	long code = rs->code;
	json_array_append_new(past, json_integer(code));
	snprintf(key, sizeof(key), "%ld", code);
	json_t *rule = json_object_get(json_object_get(sc, "retries"), key);
	excerpt(&rs->body, text, sizeof(text));
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
	struct curl_slist *headers = NULL;
	char why[768];
	wh_resp rs;

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
	if (!build_headers(json_object_get(sc, "customHeaders"), false, ctx->idempotency_key,
	                   &headers, why, sizeof(why))) {
		mz_task_result_set(r, "TERMINAL", "%s", why);
		return;
	}
	wh_req rq = {.method = "GET", .url = endpoint, .headers = headers};
	wh_perform(&rq, &rs);
	curl_slist_free_all(headers);

	/* The result replaces context.webhook as a whole: start from a copy so
	 * createWebhook's part survives, and carry the past status codes. */
	json_t *webhook = prev ? json_deep_copy(prev) : json_object();
	json_t *past = json_deep_copy(mz_json_arr(mz_json_obj(prev, "monitor"), "pastStatusCodes"));
	json_t *mon;
	if (!past)
		past = json_array();

	if (rs.cc != CURLE_OK || rs.too_big) {
		bool retry = !rs.too_big && transport_retryable(&rs, true);
		if (rs.too_big)
			snprintf(why, sizeof(why),
			         "Error getting webhook status from %.300s: the response is larger than "
			         "%d bytes",
			         endpoint, WH_MAX_BODY);
		else
			snprintf(why, sizeof(why), "Error getting webhook status from %.300s: %s%s",
			         endpoint, rs.curl_err, retry ? ", will retry." : "");
		mon = json_pack("{s:s}", "error", why);
		if (retry)
			r->status = "RUNNING";
		else
			mz_task_result_set(r, "TERMINAL", "%s", why);
	} else {
		json_t *body = body_json(&rs);
		mon = response_json(&rs, body);
		if (rs.code >= 200 && rs.code < 400)
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
	wh_resp_release(&rs);
}

/* ---- the stage --------------------------------------------------------- */

static mz_code
webhook_plan(mz_plan *p, mz_err *err)
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
static void
webhook_prepare_restart(json_t *stage)
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
	.plan = webhook_plan,
	.prepare_restart = webhook_prepare_restart,
};

void
mz__register_webhook_stage(void)
{
	/* ref-counted; main() has normally done it already */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mz_engine_register_task(&create_task);
	mz_engine_register_task(&wait_task);
	mz_engine_register_task(&monitor_task);
	mz_engine_register_stage(&webhook_stage);
}
