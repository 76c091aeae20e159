/* api_json.c - replies: JSON bodies, the error contract
 * {"error", "message", "status", "timestamp", "path"}, and the mapping from
 * mz_code to HTTP status. */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
api_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Server Error" : "Error";
	}
}

int
api_status_of(mz_code code)
{
	switch (code) {
	case MZ_OK: return 200;
	case MZ_EINVAL: return 400;
	case MZ_ENOTFOUND: return 404;
	case MZ_ECONFLICT: return 409;
	case MZ_EFORBIDDEN: return 403;
	case MZ_EBUSY: return 503;
	case MZ_ENOSPACE: return 503;
	default: return 500;
	}
}

static void
set_reply(api_req *r, int status, const char *ctype, char *body, size_t len)
{
	free(r->reply);
	r->reply = body;
	r->reply_len = len;
	r->status = status;
	r->content_type = ctype;
	r->replied = true;
}

void
api_reply_raw(api_req *r, int status, const char *ctype, char *body, size_t len)
{
	set_reply(r, status, ctype, body, len);
}

void
api_reply_json(api_req *r, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(body);
	if (!text) {
		api_reply_error(r, 500, "internal error: the reply could not be serialised");
		return;
	}
	set_reply(r, status, "application/json", text, strlen(text));
}

void
api_reply_empty(api_req *r, int status)
{
	set_reply(r, status, NULL, NULL, 0);
}

/* Replaces bytes that are not part of valid UTF-8 with '?': messages echo
 * request input, and JSON strings must be UTF-8. */
static void
utf8_sanitise(char *s)
{
	unsigned char *p = (unsigned char *)s;
	while (*p) {
		int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
		        : (*p & 0xF8) == 0xF0 ? 4 : 0;
		bool ok = n > 0 && !(n == 2 && *p < 0xC2) && !(n == 4 && *p > 0xF4);
		for (int i = 1; ok && i < n; i++)
			ok = (p[i] & 0xC0) == 0x80;
		if (ok && n == 3) {
			unsigned cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
			ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
		}
		if (ok && n == 4) {
			unsigned cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12);
			ok = cp >= 0x10000 && cp <= 0x10FFFF;
		}
		if (!ok) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

json_t *
api_error_body(int status, const char *path, const char *msg)
{
	char *p = mz_strdup(path ? path : "");
	utf8_sanitise(p);
	json_t *body = json_pack("{s:s, s:s, s:i, s:I, s:s}", "error", api_reason(status),
	                         "message", msg, "status", status, "timestamp",
	                         (json_int_t)mz_now_ms(), "path", p);
	free(p);
	return body;
}

void
api_reply_error(api_req *r, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_sanitise(msg);
	json_t *body = api_error_body(status, r->path, msg);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		/* cannot happen after sanitising, but never send a bodiless error */
		body = api_error_body(status, r->path, api_reason(status));
		text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
	}
	if (!text)
		text = mz_strdup("{\"error\":\"Internal Server Error\",\"message\":\"out of memory\","
		                 "\"status\":500}");
	if (status >= 500)
		mz_warn("api: %s %s -> %d: %s", r->method, r->path, status, msg);
	set_reply(r, status, "application/json", text, strlen(text));
}

void
api_reply_mzerr(api_req *r, const mz_err *err)
{
	mz_code code = err && err->code ? err->code : MZ_EINTERNAL;
	const char *msg = err && err->msg[0] ? err->msg : mz_code_name(code);
	api_reply_error(r, api_status_of(code), "%s", msg);
}
