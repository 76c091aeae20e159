/* api_auth.c - Gate's side of authentication: who the request is from
 * (Basic, bearer token or session cookie, through src/auth), which paths
 * are public, the CSRF, Origin and Content-Type rules, CORS, and the
 * /auth endpoints (sign in and out, the current user, users and tokens).
 *
 * X-SPINNAKER-USER and similar headers are never read: the user is who the
 * credentials say. */
#include "api/api_int.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *
header(api_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static bool
is_read(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Paths anyone may call: the health check, the UI's files and the redirect
 * to them, signing in and out, and posting to the webhooks (which
 * Spinnaker's Echo leaves open too; a trigger with a `secret` verifies the
 * signature). Reading what an event did (GET /webhooks/events/{id}) shows
 * its payload, so that needs credentials. */
static bool
is_public(api_req *r)
{
	const char *s0 = r->nseg > 0 ? r->seg[0] : "";
	if (strcmp(s0, "webhooks") == 0 && strcmp(r->method, "POST") == 0)
		return true;
	if (is_read(r->method) &&
	    (r->nseg == 0 || strcmp(s0, "ui") == 0 || (r->nseg == 1 && strcmp(s0, "health") == 0)))
		return true;
	return strcmp(r->method, "POST") == 0 && r->nseg == 2 && strcmp(s0, "auth") == 0 &&
	       (strcmp(r->seg[1], "login") == 0 || strcmp(r->seg[1], "logout") == 0);
}

/* The value of cookie name in the Cookie header, copied into out. */
static bool
cookie(api_req *r, const char *name, char *out, size_t outsz)
{
	const char *c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
	if (!c || !*c || strlen(c) >= outsz)
		return false;
	snprintf(out, outsz, "%s", c);
	return true;
}

bool
api_origin_allowed(api_req *r, const char *origin)
{
	const char *host = header(r, "Host");
	if (host && *host) {
		size_t hl = strlen(host);
		if ((strncmp(origin, "http://", 7) == 0 && strcmp(origin + 7, host) == 0) ||
		    (strncmp(origin, "https://", 8) == 0 && strcmp(origin + 8, host) == 0 && hl))
			return true;
	}
	size_t i;
	json_t *o;
	json_array_foreach(r->api->cors_origins, i, o) {
		if (mz_streq(json_string_value(o), origin))
			return true;
	}
	return false;
}

static bool
in_cors_list(api_req *r, const char *origin)
{
	size_t i;
	json_t *o;
	json_array_foreach(r->api->cors_origins, i, o) {
		if (mz_streq(json_string_value(o), origin))
			return true;
	}
	return false;
}

/* application/json, or any application/<x>+json, with parameters. */
static bool
json_media_type(const char *ct)
{
	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	size_t n = strcspn(ct, ";");
	while (n && ct[n - 1] == ' ')
		n--;
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	       strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* The user name a refused Basic header claimed (a valid name only), so
 * the audit says who tried. */
static void
basic_user(const char *b64, char *out, size_t outsz)
{
	size_t n = 0;
	while (*b64 == ' ')
		b64++;
	unsigned char *raw = mz_base64_decode(b64, &n);
	if (!raw)
		return;
	char name[MZ_AUTH_NAME_MAX + 1];
	size_t k = 0;
	while (k < n && k < MZ_AUTH_NAME_MAX && raw[k] != ':')
		k++;
	memcpy(name, raw, k);
	name[k] = '\0';
	sodium_memzero(raw, n);
	free(raw);
	if (mz_auth_valid_name(name))
		snprintf(out, outsz, "%s", name);
}

void
api_unauthorized(api_req *r, const char *msg)
{
	api_reply_error(r, 401, "%s", msg);
	/* A page's own fetch() must not make the browser open its Basic
	 * dialog: the UI shows its sign-in page instead. Everything else
	 * (curl, spin, a browser tab on an API URL) gets the challenge. */
	const char *mode = header(r, "Sec-Fetch-Mode");
	r->challenge = !mode || strcmp(mode, "navigate") == 0;
}

bool
api_auth_gate(api_req *r)
{
	mz_auth *auth = r->api->auth;
	const char *origin = header(r, "Origin");
	bool public_path = is_public(r);
	char sid[128];
	mz_err err = {0};
	mz_auth_result res = MZ_AUTH_MISSING;

	if (origin && in_cors_list(r, origin))
		r->cors_origin = origin;
	const char *authz = header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!mz_auth_enabled(auth) || (authz && *authz)) {
		res = mz_auth_check_header(auth, api_store(r), authz, &r->id, &err);
	} else if (cookie(r, "MIZZEN_SESSION", sid, sizeof(sid))) {
		res = mz_auth_check_session(auth, api_store(r), sid, &r->id, &err);
		sodium_memzero(sid, sizeof(sid));
	}
	if (res == MZ_AUTH_ERROR) {
		if (!r->replied)
			api_reply_mzerr(r, &err);
		return false;
	}
	if (res != MZ_AUTH_OK) {
		memset(&r->id, 0, sizeof(r->id));
		snprintf(r->id.user, sizeof(r->id.user), "anonymous");
		if (authz && strncasecmp(authz, "Basic ", 6) == 0)
			basic_user(authz + 6, r->id.user, sizeof(r->id.user)); /* for the audit */
		if (!public_path) {
			api_unauthorized(r, res == MZ_AUTH_MISSING
			                 ? "Full authentication is required to access this resource: "
			                   "sign in with HTTP Basic, a bearer token or POST /auth/login"
			                 : "Bad credentials: unknown user, wrong password, or an "
			                   "expired or revoked token or session");
			return false;
		}
	}
	r->user = r->id.user;

	if (!is_read(r->method) && !(r->nseg > 0 && strcmp(r->seg[0], "webhooks") == 0)) {
		/* A browser names the page a request comes from: refuse state
		 * changes sent from pages of other origins (with Basic
		 * credentials the browser has cached, for one). */
		if (origin && *origin && strcmp(origin, "null") != 0 && !api_origin_allowed(r, origin)) {
			api_reply_error(r, 403, "requests from origin %.200s are not allowed (add it to "
			                "cors.allowedOrigins)", origin);
			return false;
		}
		if (origin && strcmp(origin, "null") == 0) {
			api_reply_error(r, 403, "requests from an opaque origin are not allowed");
			return false;
		}
		if (r->id.via == MZ_VIA_SESSION && !mz_streq(header(r, "X-Mizzen-CSRF"), "1")) {
			api_reply_error(r, 403, "a request signed in with the session cookie must carry "
			                "the header X-Mizzen-CSRF: 1");
			return false;
		}
	}
	/* JSON endpoints take JSON only: a cross-site form or text/plain
	 * post is refused before any handler reads it. evaluateExpression
	 * also takes the expression as plain text, as Gate does; it changes
	 * nothing. */
	if (r->body_len > 0 && !json_media_type(header(r, MHD_HTTP_HEADER_CONTENT_TYPE)) &&
	    !(r->nseg >= 3 && strcmp(r->seg[r->nseg - 1], "evaluateExpression") == 0)) {
		const char *ct = header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
		api_reply_error(r, 415, "Content-Type %.100s is not supported: send the body as "
		                "application/json", ct && *ct ? ct : "(none)");
		return false;
	}
	return true;
}

void
api_cors_preflight(api_req *r)
{
	const char *origin = header(r, "Origin");
	if (!origin || !header(r, "Access-Control-Request-Method")) {
		api_reply_empty(r, 204);
		r->allow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
		return;
	}
	if (!in_cors_list(r, origin)) {
		api_reply_error(r, 403, "Invalid CORS request: origin %.200s is not in "
		                "cors.allowedOrigins", origin);
		return;
	}
	api_reply_empty(r, 204);
	r->cors_origin = origin;
	r->cors_preflight = true;
}

/* ---- /auth ------------------------------------------------------------- */

bool
api_require_admin(api_req *r)
{
	if (r->id.admin)
		return true;
	api_reply_error(r, 403, "Access is denied: only an admin may do this");
	return false;
}

static void
set_session_cookie(api_req *r, const char *sid)
{
	free(r->set_cookie);
	if (sid)
		r->set_cookie = mz_asprintf("MIZZEN_SESSION=%s; HttpOnly; SameSite=Strict; Path=/", sid);
	else
		r->set_cookie = mz_strdup("MIZZEN_SESSION=; HttpOnly; SameSite=Strict; Path=/; "
		                          "Max-Age=0");
}

static void
login(api_req *r)
{
	json_t *body = api_body_object(r, false, "{\"username\", \"password\"}");
	if (!body)
		return;
	const char *user = mz_json_str(body, "username");
	const char *password = mz_json_str(body, "password");
	if (!user || !password) {
		json_decref(body);
		api_reply_error(r, 400, "give \"username\" and \"password\"");
		return;
	}
	if (!mz_auth_enabled(r->api->auth)) {
		json_decref(body);
		api_reply_error(r, 400, "authentication is disabled on this server (auth.enabled "
		                "is false): there is nothing to sign in to");
		return;
	}
	mz_store *st = api_store(r);
	if (!st) {
		json_decref(body);
		return;
	}
	char *sid = NULL;
	mz_identity id;
	mz_err err = {0};
	mz_code rc = mz_auth_login(r->api->auth, st, user, password, &sid, &id, &err);
	if (rc == MZ_EFORBIDDEN) /* the audit names who tried */
		snprintf(r->id.user, sizeof(r->id.user), "%s",
		         mz_auth_valid_name(user) ? user : "anonymous");
	json_decref(body);
	if (rc == MZ_EFORBIDDEN) {
		api_reply_error(r, 401, "%s", err.msg);
		return;
	}
	if (rc != MZ_OK) {
		api_reply_mzerr(r, &err);
		return;
	}
	r->id = id;
	r->user = r->id.user;
	set_session_cookie(r, sid);
	sodium_memzero(sid, strlen(sid));
	free(sid);
	api_reply_json(r, 200, mz_identity_json(&id));
}

static void
logout(api_req *r)
{
	char sid[128];
	if (MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "MIZZEN_SESSION") &&
	    snprintf(sid, sizeof(sid), "%s",
	             MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "MIZZEN_SESSION")) <
	    (int)sizeof(sid)) {
		mz_store *st = api_store(r);
		mz_err err = {0};
		if (!st)
			return;
		if (mz_auth_logout(r->api->auth, st, sid, &err) != MZ_OK) {
			api_reply_mzerr(r, &err);
			return;
		}
	}
	set_session_cookie(r, NULL);
	api_reply_empty(r, 204);
}

/* Gate's /auth/user: the user, its roles and the accounts it may use. */
static void
auth_user(api_req *r)
{
	json_t *names = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(r->api->accounts, i, a) {
		json_array_append_new(names, json_string(mz_json_str(a, "name")));
	}
	json_t *out = mz_identity_json(&r->id);
	json_t *extra = json_pack("{s:o, s:b, s:b, s:b, s:b, s:O}", "allowedAccounts", names,
	                          "enabled", 1, "accountNonExpired", 1, "accountNonLocked", 1,
	                          "credentialsNonExpired", 1, "authorities",
	                          json_object_get(out, "roles"));
	json_object_update(out, extra);
	json_decref(extra);
	api_reply_json(r, 200, out);
}

static void
reply_code(api_req *r, mz_code rc, const mz_err *err, int ok_status, json_t *ok_body)
{
	if (rc != MZ_OK) {
		json_decref(ok_body);
		api_reply_mzerr(r, err);
	} else if (ok_body) {
		api_reply_json(r, ok_status, ok_body);
	} else {
		api_reply_empty(r, ok_status);
	}
}

static void
users_list(api_req *r)
{
	mz_store *st;
	json_t *out = NULL;
	mz_err err = {0};
	if (!api_require_admin(r) || !(st = api_store(r)))
		return;
	mz_code rc = mz_auth_user_list(r->api->auth, st, &out, &err);
	reply_code(r, rc, &err, 200, out);
}

static void
user_get(api_req *r)
{
	mz_store *st;
	json_t *out = NULL;
	mz_err err = {0};
	if (strcmp(r->param[0], r->id.user) != 0 && !api_require_admin(r))
		return;
	if (!(st = api_store(r)))
		return;
	mz_code rc = mz_auth_user_get(r->api->auth, st, r->param[0], &out, &err);
	reply_code(r, rc, &err, 200, out);
}

static void
user_create(api_req *r)
{
	if (!api_require_admin(r))
		return;
	json_t *body = api_body_object(r, false, "{\"username\", \"password\", \"roles\"}");
	if (!body)
		return;
	const char *name = mz_json_str(body, "username");
	const json_t *roles = json_object_get(body, "roles");
	json_t *none = json_array();
	mz_err err = {0};
	mz_store *st = api_store(r);
	if (st) {
		mz_code rc = mz_auth_user_put(r->api->auth, st, name, mz_json_str(body, "password"),
		                              roles ? roles : none, true, &err);
		json_t *out = NULL;
		if (rc == MZ_OK)
			rc = mz_auth_user_get(r->api->auth, st, name, &out, &err);
		reply_code(r, rc, &err, 201, out);
	}
	json_decref(none);
	json_decref(body);
}

/* The number of users with role admin other than except. */
static int
other_admins(api_req *r, mz_store *st, const char *except)
{
	json_t *users = NULL;
	int n = 0;
	if (mz_auth_user_list(r->api->auth, st, &users, NULL) != MZ_OK)
		return 1; /* cannot tell: do not block */
	size_t i;
	json_t *u;
	json_array_foreach(users, i, u) {
		if (mz_json_bool(u, "admin", false) && !mz_streq(mz_json_str(u, "username"), except))
			n++;
	}
	json_decref(users);
	return n;
}

static bool
has_admin_role(const json_t *roles)
{
	size_t i;
	json_t *x;
	json_array_foreach(roles, i, x) {
		if (mz_strcaseeq(json_string_value(x), "admin"))
			return true;
	}
	return false;
}

/* Admins change anything; a user may change its own password only. */
static void
user_update(api_req *r)
{
	const char *name = r->param[0];
	json_t *body = api_body_object(r, false, "{\"password\", \"roles\"}");
	if (!body)
		return;
	const json_t *roles = json_object_get(body, "roles");
	if (!r->id.admin && (strcmp(name, r->id.user) != 0 || roles)) {
		json_decref(body);
		api_reply_error(r, 403, "Access is denied: only an admin may change another user or "
		                "anyone's roles");
		return;
	}
	mz_store *st = api_store(r);
	if (!st) {
		json_decref(body);
		return;
	}
	if (roles && json_is_array(roles) && !has_admin_role(roles) &&
	    other_admins(r, st, name) == 0) {
		json_decref(body);
		api_reply_error(r, 409, "%s is the last admin: give another user the role admin "
		                "first", name);
		return;
	}
	mz_err err = {0};
	mz_code rc = mz_auth_user_put(r->api->auth, st, name, mz_json_str(body, "password"), roles,
	                              false, &err);
	json_t *out = NULL;
	if (rc == MZ_OK)
		rc = mz_auth_user_get(r->api->auth, st, name, &out, &err);
	json_decref(body);
	reply_code(r, rc, &err, 200, out);
}

static void
user_delete(api_req *r)
{
	mz_store *st;
	mz_err err = {0};
	if (!api_require_admin(r) || !(st = api_store(r)))
		return;
	if (other_admins(r, st, r->param[0]) == 0) {
		api_reply_error(r, 409, "%s is the last admin and cannot be deleted", r->param[0]);
		return;
	}
	mz_code rc = mz_auth_user_delete(r->api->auth, st, r->param[0], &err);
	reply_code(r, rc, &err, 204, NULL);
}

/* Tokens belong to the signed-in user (a token acts as its maker). */
static bool
real_user(api_req *r)
{
	if (r->id.via == MZ_VIA_OPEN) {
		api_reply_error(r, 400, "authentication is disabled on this server: there are no "
		                "users to hold tokens");
		return false;
	}
	return true;
}

static void
tokens_list(api_req *r)
{
	mz_store *st;
	json_t *out = NULL;
	mz_err err = {0};
	if (!real_user(r) || !(st = api_store(r)))
		return;
	mz_code rc = mz_auth_token_list(r->api->auth, st, r->id.user, &out, &err);
	reply_code(r, rc, &err, 200, out);
}

static void
token_create(api_req *r)
{
	if (!real_user(r))
		return;
	json_t *body = api_body_object(r, false, "{\"name\"}");
	mz_store *st;
	if (!body || !(st = api_store(r))) {
		json_decref(body);
		return;
	}
	char *tok = NULL;
	mz_err err = {0};
	const char *name = mz_json_str(body, "name");
	mz_code rc = mz_auth_token_create(r->api->auth, st, r->id.user, name, &tok, &err);
	json_t *out = rc == MZ_OK ? json_pack("{s:s, s:s}", "name", name, "token", tok) : NULL;
	if (tok) {
		sodium_memzero(tok, strlen(tok));
		free(tok);
	}
	json_decref(body);
	reply_code(r, rc, &err, 201, out);
}

static void
token_delete(api_req *r)
{
	mz_store *st;
	mz_err err = {0};
	if (!real_user(r) || !(st = api_store(r)))
		return;
	mz_code rc = mz_auth_token_delete(r->api->auth, st, r->id.user, r->param[0], &err);
	reply_code(r, rc, &err, 204, NULL);
}

/* ---- /secrets (admins) -------------------------------------------------- */

static void
secrets_list(api_req *r)
{
	mz_store *st;
	json_t *out = NULL;
	mz_err err = {0};
	if (!api_require_admin(r) || !(st = api_store(r)))
		return;
	mz_code rc = mz_auth_secret_list(r->api->auth, st, &out, &err);
	reply_code(r, rc, &err, 200, out);
}

static void
secret_put(api_req *r)
{
	if (!api_require_admin(r))
		return;
	json_t *body = api_body_object(r, false, "{\"value\"}");
	mz_store *st;
	if (!body || !(st = api_store(r))) {
		json_decref(body);
		return;
	}
	mz_err err = {0};
	mz_code rc = mz_auth_secret_put(r->api->auth, st, r->param[0], mz_json_str(body, "value"),
	                                &err);
	json_decref(body);
	reply_code(r, rc, &err, 200, rc == MZ_OK ? json_pack("{s:s}", "name", r->param[0]) : NULL);
}

static void
secret_delete(api_req *r)
{
	mz_store *st;
	mz_err err = {0};
	if (!api_require_admin(r) || !(st = api_store(r)))
		return;
	mz_code rc = mz_auth_secret_delete(r->api->auth, st, r->param[0], &err);
	reply_code(r, rc, &err, 204, NULL);
}

const api_route api_auth_routes[] = {
	{"GET", "/secrets", secrets_list},
	{"PUT", "/secrets/{name}", secret_put},
	{"DELETE", "/secrets/{name}", secret_delete},
	{"POST", "/auth/login", login},
	{"POST", "/auth/logout", logout},
	{"GET", "/auth/user", auth_user},
	{"GET", "/auth/users", users_list},
	{"POST", "/auth/users", user_create},
	{"GET", "/auth/users/{name}", user_get},
	{"PUT", "/auth/users/{name}", user_update},
	{"DELETE", "/auth/users/{name}", user_delete},
	{"GET", "/auth/tokens", tokens_list},
	{"POST", "/auth/tokens", token_create},
	{"DELETE", "/auth/tokens/{name}", token_delete},
	{NULL, NULL, NULL},
};
