/* cli_application.c - `mizzen application list|get|save|delete`.
 * Saving and deleting are orchestrations (createApplication,
 * deleteApplication) submitted through POST /tasks, as spin does. */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MZ_CLI_TASK_TIMEOUT_MS 60000L

/* The application name from -a/--application(-name) or the one
 * positional word spin takes. */
static const char *
app_name(const mz_cli_args *a)
{
	const char *n = mz_cli_opt(a, "application");
	if (!n)
		n = mz_cli_opt(a, "application-name");
	if (!n && a->npos > 0)
		n = a->pos[0];
	return n;
}

/* --retry-timeout SECONDS, spin's name for how long task polls last. */
static long
retry_timeout_ms(mz_cli *c, const mz_cli_args *a, bool *ok)
{
	const char *t = mz_cli_opt(a, "retry-timeout");
	char *end;
	double secs;

	*ok = true;
	if (!t)
		return MZ_CLI_TASK_TIMEOUT_MS;
	secs = strtod(t, &end);
	if (end == t || *end != '\0' || secs <= 0) {
		*ok = false;
		mz_cli_usage(c, "invalid --retry-timeout: %s (seconds)", t);
		return 0;
	}
	return (long)(secs * 1000);
}

static int
app_list(mz_cli *c, mz_cli_args *a)
{
	mz_cli_resp r;
	int rc = MZ_CLI_OK;

	if (mz_cli_http(c, "GET", "/applications", NULL, &r) != 0)
		return MZ_CLI_FAIL;
	if (!mz_cli_is_2xx(&r) || !r.json)
		rc = mz_cli_server_error(&r, "Could not list applications");
	else
		mz_cli_print_json(r.json);
	mz_cli_resp_release(&r);
	return rc;
}

static int
app_get(mz_cli *c, mz_cli_args *a)
{
	const char *name = app_name(a);
	bool expand = mz_cli_flag(a, "expand");
	mz_cli_resp r;
	char *path;
	int rc = MZ_CLI_OK;

	if (!name || !*name)
		return mz_cli_usage(c, "an application name is required");
	path = mz_cli_path(c, "/applications/%s?expand=%r", name,
			   expand ? "true" : "false");
	if (mz_cli_http(c, "GET", path, NULL, &r) != 0) {
		free(path);
		return MZ_CLI_FAIL;
	}
	if (r.status == 404 && !mz_json_str(r.json, "message")) {
		fprintf(stderr, "Application '%s' not found\n", name);
		rc = MZ_CLI_FAIL;
	} else if (!mz_cli_is_2xx(&r) || !r.json) {
		rc = mz_cli_server_error(&r, NULL);
	} else {
		json_t *attrs = mz_json_obj(r.json, "attributes");
		mz_cli_print_json(expand || !attrs ? r.json : attrs);
	}
	mz_cli_resp_release(&r);
	free(path);
	return rc;
}

/* Adds every comma-separated provider of every --cloud-providers to out. */
static void
join_providers(const mz_cli_args *a, mz_buf *out)
{
	size_t it = 0;
	const char *v;
	while ((v = mz_cli_opt_next(a, "cloud-providers", &it))) {
		if (!*v)
			continue;
		if (out->len)
			mz_buf_adds(out, ",");
		mz_buf_adds(out, v);
	}
}

static int
app_save(mz_cli *c, mz_cli_args *a)
{
	const char *file = mz_cli_opt(a, "file");
	const char *name = app_name(a);
	const char *email = mz_cli_opt(a, "owner-email");
	const char *desc = mz_cli_opt(a, "description");
	const char *port = mz_cli_opt(a, "instance-port");
	json_t *app, *task;
	mz_buf providers;
	bool ok;
	long timeout = retry_timeout_ms(c, a, &ok);
	char *what;
	int rc;

	if (!ok)
		return MZ_CLI_USAGE;
	if (!file && !name)
		return mz_cli_usage(c, "give --file or --application with --owner-email");
	if (file) {
		app = mz_cli_read_json(file);
		if (!app)
			return MZ_CLI_FAIL;
		if (!json_is_object(app)) {
			fprintf(stderr, "%s: an application must be a JSON object\n", file);
			json_decref(app);
			return MZ_CLI_FAIL;
		}
	} else {
		app = json_object();
	}
	/* Flags override the same fields of the file, as in spin. */
	if (name)
		json_object_set_new(app, "name", json_string(name));
	if (email)
		json_object_set_new(app, "email", json_string(email));
	if (desc)
		json_object_set_new(app, "description", json_string(desc));
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (end == port || *end || p <= 0 || p > 65535) {
			json_decref(app);
			return mz_cli_usage(c, "invalid --instance-port: %s", port);
		}
		json_object_set_new(app, "instancePort", json_integer(p));
	}
	mz_buf_init(&providers, 0);
	join_providers(a, &providers);
	if (providers.len)
		json_object_set_new(app, "cloudProviders", json_string(providers.data));
	mz_buf_release(&providers);

	name = mz_json_str(app, "name");
	if (!name || !*name) {
		fprintf(stderr, "Required application parameter 'name' is missing\n");
		json_decref(app);
		return MZ_CLI_FAIL;
	}
	if (!mz_json_str(app, "email")) {
		fprintf(stderr, "Required application parameter 'email' is missing (--owner-email)\n");
		json_decref(app);
		return MZ_CLI_FAIL;
	}
	task = json_pack("{s:[{s:s,s:O}],s:s,s:s+}",
			 "job", "type", "createApplication", "application", app,
			 "application", name,
			 "description", "Create Application: ", name);
	what = mz_asprintf("saving application '%s'", name);
	rc = mz_cli_run_task(c, task, what, timeout);
	if (rc == MZ_CLI_OK)
		mz_cli_say("Application save succeeded");
	free(what);
	json_decref(task);
	json_decref(app);
	return rc;
}

static int
app_delete(mz_cli *c, mz_cli_args *a)
{
	const char *name = app_name(a);
	mz_cli_resp r;
	json_t *task;
	char *path, *what;
	bool ok;
	long timeout = retry_timeout_ms(c, a, &ok);
	int rc;

	if (!ok)
		return MZ_CLI_USAGE;
	if (!name || !*name)
		return mz_cli_usage(c, "an application name is required");
	path = mz_cli_path(c, "/applications/%s?expand=false", name);
	rc = mz_cli_http(c, "GET", path, NULL, &r);
	free(path);
	if (rc != 0)
		return MZ_CLI_FAIL;
	if (r.status == 404) {
		fprintf(stderr, "Attempting to delete application '%s' which does not exist\n", name);
		mz_cli_resp_release(&r);
		return MZ_CLI_FAIL;
	}
	if (!mz_cli_is_2xx(&r)) {
		rc = mz_cli_server_error(&r, NULL);
		mz_cli_resp_release(&r);
		return rc;
	}
	mz_cli_resp_release(&r);

	task = json_pack("{s:[{s:s,s:{s:s}}],s:s,s:s+}",
			 "job", "type", "deleteApplication", "application", "name", name,
			 "application", name,
			 "description", "Delete Application: ", name);
	what = mz_asprintf("deleting application '%s'", name);
	rc = mz_cli_run_task(c, task, what, timeout);
	if (rc == MZ_CLI_OK)
		mz_cli_say("Application deleted");
	free(what);
	json_decref(task);
	return rc;
}

static const mz_cli_optdef get_opts[] = {
	{"application", 'a', MZ_OPT_VALUE, "application name (or give it as an argument)"},
	{"expand", 'x', MZ_OPT_FLAG, "print the whole application, not only its attributes"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef save_opts[] = {
	{"file", 'f', MZ_OPT_VALUE, "application JSON (as printed by 'application get'); - for stdin"},
	{"application", 'a', MZ_OPT_VALUE, "application name"},
	{"application-name", 0, MZ_OPT_VALUE, "same as --application (spin's name)"},
	{"owner-email", 0, MZ_OPT_VALUE, "owner's email"},
	{"cloud-providers", 0, MZ_OPT_VALUE, "cloud providers, comma-separated or repeated"},
	{"description", 0, MZ_OPT_VALUE, "description"},
	{"instance-port", 0, MZ_OPT_VALUE, "instance port"},
	{"retry-timeout", 0, MZ_OPT_VALUE, "seconds to wait for the task (default 60)"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef delete_opts[] = {
	{"application", 'a', MZ_OPT_VALUE, "application name (or give it as an argument)"},
	{"retry-timeout", 0, MZ_OPT_VALUE, "seconds to wait for the task (default 60)"},
	{NULL, 0, 0, NULL},
};

const mz_cli_cmd mz_cli_application_cmds[] = {
	{"list", "ls", "", "List applications", NULL, 0, app_list},
	{"get", NULL, "NAME | -a NAME [--expand]", "Show an application's attributes",
	 get_opts, 1, app_get},
	{"save", NULL, "-a NAME --owner-email EMAIL [--cloud-providers P] | -f FILE",
	 "Create or update an application", save_opts, 0, app_save},
	{"delete", "del", "NAME | -a NAME", "Delete an application", delete_opts, 1, app_delete},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
