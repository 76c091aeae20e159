/* cli_user.c - `mizzen user add|list|delete` (admins: users and their
 * roles), `mizzen token create|list|delete` (your own API tokens) and
 * `mizzen audit list`, over /auth/users, /auth/tokens and /audit. */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --name, else the one positional word. */
static const char *
name_arg(const mz_cli_args *a)
{
	const char *n = mz_cli_opt(a, "name");
	if (!n && a->npos > 0)
		n = a->pos[0];
	return n && *n ? n : NULL;
}

/* Sends one request and prints the JSON answer (or "what succeeded" for an
 * empty one); the server's error otherwise. */
static int
call_print(mz_cli *c, const char *method, char *path, json_t *body, const char *done)
{
	mz_cli_resp r;
	int rc = MZ_CLI_OK;
	if (mz_cli_http(c, method, path, body, &r) != 0) {
		free(path);
		json_decref(body);
		return MZ_CLI_FAIL;
	}
	if (!mz_cli_is_2xx(&r))
		rc = mz_cli_server_error(&r, NULL);
	else if (r.json)
		mz_cli_print_json(r.json);
	if (rc == MZ_CLI_OK && done)
		mz_cli_say("%s", done);
	mz_cli_resp_release(&r);
	free(path);
	json_decref(body);
	return rc;
}

/* ---- users ----------------------------------------------------------- */

static int
user_add(mz_cli *c, mz_cli_args *a)
{
	const char *name = name_arg(a);
	const char *pw = mz_cli_opt(a, "new-password");
	if (!name)
		return mz_cli_usage(c, "a user name is required");
	json_t *roles = json_array();
	size_t it = 0;
	const char *role;
	while ((role = mz_cli_opt_next(a, "role", &it)))
		json_array_append_new(roles, json_string(role));
	/* Without --new-password the server gets a random one, printed once. */
	char *made = NULL;
	if (!pw) {
		unsigned char raw[15];
		mz_random_bytes(raw, sizeof(raw));
		made = mz_base64_encode(raw, sizeof(raw));
		for (char *p = made; *p; p++)
			if (*p == '+' || *p == '/')
				*p = *p == '+' ? '-' : '_';
		pw = made;
	}
	json_t *body = json_pack("{s:s, s:s, s:o}", "username", name, "password", pw, "roles", roles);
	mz_cli_resp r;
	int rc = MZ_CLI_OK;
	if (mz_cli_http(c, "POST", "/auth/users", body, &r) != 0) {
		json_decref(body);
		free(made);
		return MZ_CLI_FAIL;
	}
	if (!mz_cli_is_2xx(&r)) {
		rc = mz_cli_server_error(&r, "Could not add the user");
	} else {
		json_t *out = json_deep_copy(r.json);
		if (made)
			json_object_set_new(out, "password", json_string(made));
		mz_cli_print_json(out);
		json_decref(out);
		mz_cli_say("User %s added%s", name, made ? " (its password is shown once, above)" : "");
	}
	mz_cli_resp_release(&r);
	json_decref(body);
	free(made);
	return rc;
}

static int
user_list(mz_cli *c, mz_cli_args *a)
{
	return mz_cli_get_print(c, mz_strdup("/auth/users"));
}

static int
user_delete(mz_cli *c, mz_cli_args *a)
{
	const char *name = name_arg(a);
	if (!name)
		return mz_cli_usage(c, "a user name is required");
	char *done = mz_asprintf("User %s deleted", name);
	int rc = call_print(c, "DELETE", mz_cli_path(c, "/auth/users/%s", name), NULL, done);
	free(done);
	return rc;
}

static const mz_cli_optdef add_opts[] = {
	{"name", 'n', MZ_OPT_VALUE, "the user's name"},
	{"role", 'r', MZ_OPT_VALUE, "a role (repeatable); role admin may do anything"},
	{"new-password", 0, MZ_OPT_VALUE, "the user's password (default: a random one, printed)"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef name_opts[] = {
	{"name", 'n', MZ_OPT_VALUE, "the name"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef no_opts[] = {
	{NULL, 0, 0, NULL},
};

const mz_cli_cmd mz_cli_user_cmds[] = {
	{"add", NULL, "NAME [--role ROLE]... [--new-password PW]", "Add a user with roles",
	 add_opts, 1, user_add},
	{"list", "ls", "", "List the users and their roles", no_opts, 0, user_list},
	{"delete", "rm", "NAME", "Delete a user, its tokens and sessions", name_opts, 1,
	 user_delete},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

/* ---- tokens ------------------------------------------------------------ */

static int
token_create(mz_cli *c, mz_cli_args *a)
{
	const char *name = name_arg(a);
	if (!name)
		return mz_cli_usage(c, "a token name is required");
	return call_print(c, "POST", mz_strdup("/auth/tokens"), json_pack("{s:s}", "name", name),
	                  "Token created: it is shown once; send it as Authorization: Bearer "
	                  "TOKEN, or set $MIZZEN_TOKEN");
}

static int
token_list(mz_cli *c, mz_cli_args *a)
{
	return mz_cli_get_print(c, mz_strdup("/auth/tokens"));
}

static int
token_delete(mz_cli *c, mz_cli_args *a)
{
	const char *name = name_arg(a);
	if (!name)
		return mz_cli_usage(c, "a token name is required");
	char *done = mz_asprintf("Token %s deleted", name);
	int rc = call_print(c, "DELETE", mz_cli_path(c, "/auth/tokens/%s", name), NULL, done);
	free(done);
	return rc;
}

const mz_cli_cmd mz_cli_token_cmds[] = {
	{"create", NULL, "NAME", "Create an API token of yours (shown once)", name_opts, 1,
	 token_create},
	{"list", "ls", "", "List your tokens (names and last use)", no_opts, 0, token_list},
	{"delete", "rm", "NAME", "Delete one of your tokens", name_opts, 1, token_delete},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

/* ---- audit ------------------------------------------------------------- */

static int
audit_list(mz_cli *c, mz_cli_args *a)
{
	const char *app = mz_cli_opt(a, "application");
	const char *user = mz_cli_opt(a, "user-name");
	const char *limit = mz_cli_opt(a, "limit");
	return mz_cli_get_print(c, mz_cli_path(c, "/audit?application=%s&user=%s&limit=%s",
	                                       app ? app : "", user ? user : "",
	                                       limit ? limit : "100"));
}

static const mz_cli_optdef audit_opts[] = {
	{"application", 'a', MZ_OPT_VALUE, "only this application's entries"},
	{"user-name", 0, MZ_OPT_VALUE, "only this user's entries"},
	{"limit", 'l', MZ_OPT_VALUE, "at most this many (default 100, newest first)"},
	{NULL, 0, 0, NULL},
};

const mz_cli_cmd mz_cli_audit_cmds[] = {
	{"list", "ls", "[-a APP] [--user-name U] [--limit N]",
	 "List the audit trail, newest first", audit_opts, 0, audit_list},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
