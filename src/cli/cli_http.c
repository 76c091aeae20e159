/* cli_http.c - the client side of the Gate API over src/httpc (the one
 * HTTP client), plus the little output and input helpers every command uses.
 *
 * One session lives for the whole command so polls reuse the
 * connection. Nothing here goes through a shell: URLs are built by
 * escaping each path segment and query value. */
#include "cli/cli_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Responses bigger than this are refused rather than buffered. */
#define MZ_CLI_MAX_BODY ((size_t)256 << 20)
#define MZ_CLI_CONNECT_TIMEOUT_MS 5000L

void
mz_cli_resp_release(mz_cli_resp *r)
{
	mz_buf_release(&r->body);
	if (r->json)
		json_decref(r->json);
	r->json = NULL;
	r->status = 0;
	r->error[0] = '\0';
}

int
mz_cli_http_try(mz_cli *c, const char *method, const char *path,
		const json_t *body, mz_cli_resp *r)
{
	char *url = mz_asprintf("%s%s", c->url, path);
	char *payload = NULL;
	const char *headers[4] = {"Accept: application/json", NULL, NULL, NULL};

	memset(r, 0, sizeof(*r));
	mz_buf_init(&r->body, MZ_CLI_MAX_BODY);
	/* Credentials on every request: a bearer token, else HTTP Basic (what
	 * spin's auth.basic sends). */
	char *authz = NULL;
	int nh = 1;
	if (c->token) {
		authz = mz_asprintf("Authorization: Bearer %s", c->token);
	} else if (c->user) {
		char *pair = mz_asprintf("%s:%s", c->user, c->password ? c->password : "");
		char *b64 = mz_base64_encode((const unsigned char *)pair, strlen(pair));
		authz = mz_asprintf("Authorization: Basic %s", b64 ? b64 : "");
		memset(pair, 0, strlen(pair));
		free(pair);
		free(b64);
	}
	if (authz)
		headers[nh++] = authz;
	if (body) {
		payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!payload) {
			snprintf(r->error, sizeof(r->error), "cannot encode request body");
			free(url);
			free(authz);
			return -1;
		}
		headers[nh++] = "Content-Type: application/json";
	}
	/* The server the user named is trusted: no outbound policy here. */
	mz_httpc_req rq = {
		.method = method, .url = url, .headers = headers, .body = payload,
		.body_len = payload ? strlen(payload) : 0, .timeout_ms = c->timeout_ms,
		.connect_timeout_ms = MZ_CLI_CONNECT_TIMEOUT_MS, .max_body = MZ_CLI_MAX_BODY,
		.user_agent = "mizzen-cli/1", .trusted = true, .session = c->http,
	};
	mz_httpc_resp rs;
	int rc = 0;
	if (mz_httpc_do(&rq, &rs, NULL) != MZ_OK) {
		snprintf(r->error, sizeof(r->error), "%.300s",
			 rs.fail == MZ_HTTPC_TOO_LARGE ? "response too large" : rs.error);
		rc = -1;
	} else {
		r->status = rs.status;
		r->body = rs.body; /* taken over */
		mz_buf_init(&rs.body, MZ_CLI_MAX_BODY);
		if (r->body.len > 0)
			r->json = json_loadb(r->body.data, r->body.len,
					     JSON_DECODE_ANY, NULL);
	}
	mz_httpc_resp_release(&rs);
	free(payload);
	free(url);
	if (authz) {
		memset(authz, 0, strlen(authz));
		free(authz);
	}
	return rc;
}

int
mz_cli_http(mz_cli *c, const char *method, const char *path,
	    const json_t *body, mz_cli_resp *r)
{
	if (mz_cli_http_try(c, method, path, body, r) == 0)
		return 0;
	fprintf(stderr, "Could not reach mizzen at %s: %s\n", c->url, r->error);
	return -1;
}

char *
mz_cli_path(mz_cli *c, const char *fmt, ...)
{
	va_list ap;
	mz_buf b;

	mz_buf_init(&b, 0);
	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (p[0] != '%' || p[1] == '\0') {
			mz_buf_add(&b, p, 1);
			continue;
		}
		p++;
		if (*p == 's') {
			const char *s = va_arg(ap, const char *);
			char *e = mz_httpc_escape(s);
			mz_buf_adds(&b, e);
			free(e);
		} else if (*p == 'r') {
			/* raw: text the caller already escaped */
			mz_buf_adds(&b, va_arg(ap, const char *));
		} else {
			mz_buf_add(&b, p, 1);
		}
	}
	va_end(ap);
	return mz_buf_detach(&b, NULL);
}

bool
mz_cli_is_2xx(const mz_cli_resp *r)
{
	return r->status >= 200 && r->status < 300;
}

int
mz_cli_server_error(const mz_cli_resp *r, const char *what)
{
	const char *msg = mz_json_str(r->json, "message");
	const char *prefix = what ? what : "";
	const char *sep = what ? ": " : "";

	if (r->status == 401) {
		fprintf(stderr, "%s%s%s\nSign in with --user NAME (and --password or "
			"$MIZZEN_PASSWORD), or --token / $MIZZEN_TOKEN.\n", prefix, sep,
			msg && *msg ? msg : "not signed in");
		return MZ_CLI_FAIL;
	}
	if (msg && *msg) {
		fprintf(stderr, "%s%s%s\n", prefix, sep, msg);
	} else if (mz_json_str(r->json, "error")) {
		fprintf(stderr, "%s%s%s (status code: %ld)\n", prefix, sep,
			mz_json_str(r->json, "error"), r->status);
	} else {
		/* Not our error shape (a proxy, perhaps): show what came back,
		 * trimmed so an HTML page does not flood the terminal. */
		fprintf(stderr, "%s%sEncountered an error, status code: %ld%s%.300s\n",
			prefix, sep, r->status, r->body.len ? ": " : "", r->body.data);
	}
	return MZ_CLI_FAIL;
}

void
mz_cli_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

json_t *
mz_cli_read_json(const char *path)
{
	json_error_t jerr;
	json_t *v;
	const char *label = strcmp(path, "-") == 0 ? "standard input" : path;

	if (strcmp(path, "-") == 0)
		v = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
	else
		v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		/* jansson reports a missing file as a parse error on line -1. */
		if (jerr.line < 1)
			fprintf(stderr, "Could not read %s: %s\n", label, jerr.text);
		else
			fprintf(stderr, "Could not parse %s as JSON: %s (line %d, column %d)\n",
				label, jerr.text, jerr.line, jerr.column);
	}
	return v;
}

void
mz_cli_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
mz_cli_exception_text(const json_t *context, const char *prefix, mz_buf *out)
{
	json_t *details = mz_json_obj(mz_json_obj(context, "exception"), "details");
	json_t *errors = mz_json_arr(details, "errors");
	const char *one = mz_json_str(details, "error");
	size_t i;
	json_t *e;
	bool any = false;

	json_array_foreach(errors, i, e) {
		if (json_is_string(e)) {
			mz_buf_printf(out, "%s%s\n", prefix, json_string_value(e));
			any = true;
		}
	}
	if (!any && one)
		mz_buf_printf(out, "%s%s\n", prefix, one);
}

int
mz_cli_get_print(mz_cli *c, char *path)
{
	mz_cli_resp r;
	int rc = MZ_CLI_OK;
	if (mz_cli_http(c, "GET", path, NULL, &r) != 0) {
		free(path);
		return MZ_CLI_FAIL;
	}
	if (!mz_cli_is_2xx(&r) || !r.json)
		rc = mz_cli_server_error(&r, NULL);
	else
		mz_cli_print_json(r.json);
	mz_cli_resp_release(&r);
	free(path);
	return rc;
}
