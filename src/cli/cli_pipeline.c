/* cli_pipeline.c - `mizzen pipeline list|get|save|delete|execute`, the
 * pipeline configs of an application and starting them by hand. */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *
app_opt(const mz_cli_args *a)
{
	const char *n = mz_cli_opt(a, "application");
	if (!n && a->npos > 0)
		n = a->pos[0];
	return n;
}

static int
pipe_list(mz_cli *c, mz_cli_args *a)
{
	const char *app = app_opt(a);

	if (!app || !*app)
		return mz_cli_usage(c, "--application is required");
	return mz_cli_get_print(c, mz_cli_path(c, "/applications/%s/pipelineConfigs", app));
}

static int
pipe_get(mz_cli *c, mz_cli_args *a)
{
	const char *app = mz_cli_opt(a, "application");
	const char *name = mz_cli_opt(a, "name");
	mz_cli_resp r;
	char *path;
	int rc = MZ_CLI_OK;

	if (!app || !*app || !name || !*name)
		return mz_cli_usage(c, "--application and --name are required");
	path = mz_cli_path(c, "/applications/%s/pipelineConfigs/%s", app, name);
	if (mz_cli_http(c, "GET", path, NULL, &r) != 0) {
		free(path);
		return MZ_CLI_FAIL;
	}
	if (r.status == 404 && !mz_json_str(r.json, "message")) {
		fprintf(stderr, "Pipeline '%s' not found under application '%s'\n", name, app);
		rc = MZ_CLI_FAIL;
	} else if (!mz_cli_is_2xx(&r) || !r.json) {
		rc = mz_cli_server_error(&r, NULL);
	} else {
		mz_cli_print_json(r.json);
	}
	mz_cli_resp_release(&r);
	free(path);
	return rc;
}

/* Reads the pipeline file, or stdin when no file is given and stdin is
 * not a terminal (spin's ParseJsonFromFileOrStdin). */
static json_t *
read_pipeline(mz_cli *c, const mz_cli_args *a, int *rc)
{
	const char *file = mz_cli_opt(a, "file");
	json_t *p;

	if (!file) {
		if (isatty(STDIN_FILENO)) {
			*rc = mz_cli_usage(c, "--file is required (or pipe the JSON on stdin)");
			return NULL;
		}
		file = "-";
	}
	p = mz_cli_read_json(file);
	if (p && !json_is_object(p)) {
		fprintf(stderr, "%s: a pipeline must be a JSON object\n",
			strcmp(file, "-") ? file : "standard input");
		json_decref(p);
		p = NULL;
	}
	*rc = MZ_CLI_FAIL;
	return p;
}

static int
pipe_save(mz_cli *c, mz_cli_args *a)
{
	bool stale_check = !mz_cli_opt(a, "stale-check") || mz_cli_flag(a, "stale-check");
	const char *name, *app;
	json_t *p, *tmpl;
	mz_cli_resp r;
	char *path;
	int rc;

	p = read_pipeline(c, a, &rc);
	if (!p)
		return rc;
	name = mz_json_str(p, "name");
	app = mz_json_str(p, "application");
	if (!name || !*name || !app || !*app) {
		fprintf(stderr, "Required pipeline key '%s' missing\n",
			!name || !*name ? "name" : "application");
		json_decref(p);
		return MZ_CLI_FAIL;
	}
	tmpl = mz_json_obj(p, "template");
	if (tmpl && json_object_size(tmpl) > 0) {
		if (!json_object_get(p, "schema")) {
			fprintf(stderr, "Required pipeline key 'schema' missing for templated pipeline\n");
			json_decref(p);
			return MZ_CLI_FAIL;
		}
		json_object_set_new(p, "type", json_string("templatedPipeline"));
	}
	/* The server owns updateTs; the stale check sends the stored one. */
	json_object_del(p, "updateTs");

	path = mz_cli_path(c, "/applications/%s/pipelineConfigs/%s", app, name);
	rc = mz_cli_http(c, "GET", path, NULL, &r);
	free(path);
	if (rc != 0) {
		json_decref(p);
		return MZ_CLI_FAIL;
	}
	if (r.status == 200 && json_is_object(r.json) && json_object_size(r.json) > 0) {
		json_t *id = json_object_get(r.json, "id");
		json_t *ts = json_object_get(r.json, "updateTs");
		if (id)
			json_object_set(p, "id", id);
		if (stale_check && ts)
			json_object_set(p, "updateTs", ts);
	} else if (r.status != 404 && r.status != 200) {
		fprintf(stderr, "unhandled response %ld: %.500s\n", r.status, r.body.data);
		mz_cli_resp_release(&r);
		json_decref(p);
		return MZ_CLI_FAIL;
	}
	mz_cli_resp_release(&r);

	rc = mz_cli_http(c, "POST", stale_check ? "/pipelines?staleCheck=true" : "/pipelines",
			 p, &r);
	if (rc != 0) {
		json_decref(p);
		return MZ_CLI_FAIL;
	}
	if (mz_cli_is_2xx(&r)) {
		mz_cli_say("Pipeline save succeeded");
		rc = MZ_CLI_OK;
	} else if (strstr(r.body.data, "is stale")) {
		fprintf(stderr, "pipeline \"%s\" in application \"%s\" was modified in mizzen "
			"while this command was running; nothing was saved.\n", name, app);
		rc = MZ_CLI_FAIL;
	} else {
		rc = mz_cli_server_error(&r, "Pipeline save failed");
	}
	mz_cli_resp_release(&r);
	json_decref(p);
	return rc;
}

static int
pipe_delete(mz_cli *c, mz_cli_args *a)
{
	const char *app = mz_cli_opt(a, "application");
	const char *name = mz_cli_opt(a, "name");
	mz_cli_resp r;
	char *path;
	int rc = MZ_CLI_OK;

	if (!app || !*app || !name || !*name)
		return mz_cli_usage(c, "--application and --name are required");
	path = mz_cli_path(c, "/pipelines/%s/%s", app, name);
	if (mz_cli_http(c, "DELETE", path, NULL, &r) != 0) {
		free(path);
		return MZ_CLI_FAIL;
	}
	if (mz_cli_is_2xx(&r))
		mz_cli_say("Pipeline deleted");
	else
		rc = mz_cli_server_error(&r, NULL);
	mz_cli_resp_release(&r);
	free(path);
	return rc;
}

/* Builds the manual trigger: parameters from --parameter-file, then each
 * -p key=value on top; artifacts from --artifacts-file's `artifacts`. */
static json_t *
build_trigger(mz_cli *c, const mz_cli_args *a, int *rc)
{
	const char *pfile = mz_cli_opt(a, "parameter-file");
	const char *afile = mz_cli_opt(a, "artifacts-file");
	json_t *params = NULL, *trigger;
	const char *kv;
	size_t it = 0;

	*rc = MZ_CLI_FAIL;
	if (!pfile)
		pfile = mz_cli_opt(a, "file");
	if (pfile) {
		params = mz_cli_read_json(pfile);
		if (!params)
			return NULL;
		if (!json_is_object(params)) {
			fprintf(stderr, "%s: parameters must be a JSON object\n", pfile);
			json_decref(params);
			return NULL;
		}
	} else {
		params = json_object();
	}
	while ((kv = mz_cli_opt_next(a, "parameter", &it))) {
		const char *eq = strchr(kv, '=');
		char *key;
		if (!eq || eq == kv) {
			json_decref(params);
			*rc = mz_cli_usage(c, "invalid --parameter '%s': want key=value", kv);
			return NULL;
		}
		key = mz_asprintf("%.*s", (int)(eq - kv), kv);
		json_object_set_new(params, key, json_string(eq + 1));
		free(key);
	}
	trigger = json_pack("{s:s,s:o}", "type", "manual", "parameters", params);
	if (afile) {
		json_t *doc = mz_cli_read_json(afile);
		json_t *arts = mz_json_arr(doc, "artifacts");
		if (!doc || !arts) {
			if (doc)
				fprintf(stderr, "%s: expected an object with an 'artifacts' array\n", afile);
			json_decref(doc);
			json_decref(trigger);
			return NULL;
		}
		json_object_set(trigger, "artifacts", arts);
		json_decref(doc);
	}
	return trigger;
}

static long
wait_timeout_ms(const mz_cli_args *a, bool *ok)
{
	const char *t = mz_cli_opt(a, "wait-timeout");
	char *end;
	double secs;

	*ok = true;
	if (!t)
		return 0;
	secs = strtod(t, &end);
	if (end == t || *end != '\0' || secs < 0)
		*ok = false;
	return (long)(secs * 1000);
}

static int
pipe_execute(mz_cli *c, mz_cli_args *a)
{
	const char *app = mz_cli_opt(a, "application");
	const char *name = mz_cli_opt(a, "name");
	const char *id = mz_cli_opt(a, "id");
	bool wait = mz_cli_flag(a, "wait");
	json_t *trigger;
	mz_cli_resp r;
	const char *ref, *slash;
	char *path, *exec_id;
	bool ok;
	long wait_ms = wait_timeout_ms(a, &ok);
	int rc;

	if (!ok)
		return mz_cli_usage(c, "invalid --wait-timeout (seconds)");
	if (!app || !*app || ((!name || !*name) && (!id || !*id)))
		return mz_cli_usage(c, "--application and --name (or --id) are required");
	trigger = build_trigger(c, a, &rc);
	if (!trigger)
		return rc;
	path = mz_cli_path(c, "/pipelines/%s/%s", app, name && *name ? name : id);
	rc = mz_cli_http(c, "POST", path, trigger, &r);
	free(path);
	json_decref(trigger);
	if (rc != 0)
		return MZ_CLI_FAIL;
	if (!mz_cli_is_2xx(&r)) {
		rc = mz_cli_server_error(&r, "Pipeline execution failed");
		mz_cli_resp_release(&r);
		return rc;
	}
	if (r.json)
		mz_cli_print_json(r.json);
	mz_cli_say("Pipeline execution started");
	ref = mz_json_str(r.json, "ref");
	if (!wait) {
		mz_cli_resp_release(&r);
		return MZ_CLI_OK;
	}
	if (!ref || !*ref) {
		fprintf(stderr, "cannot wait: the server returned no execution ref\n");
		mz_cli_resp_release(&r);
		return MZ_CLI_FAIL;
	}
	slash = strrchr(ref, '/');
	exec_id = mz_strdup(slash ? slash + 1 : ref);
	mz_cli_resp_release(&r);
	rc = mz_cli_wait_execution(c, exec_id, wait_ms);
	free(exec_id);
	return rc;
}

static const mz_cli_optdef list_opts[] = {
	{"application", 'a', MZ_OPT_VALUE, "application name"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef get_opts[] = {
	{"application", 'a', MZ_OPT_VALUE, "application name"},
	{"name", 'n', MZ_OPT_VALUE, "pipeline name"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef save_opts[] = {
	{"file", 'f', MZ_OPT_VALUE, "pipeline JSON file; - or no flag reads stdin"},
	{"stale-check", 0, MZ_OPT_FLAG, "refuse to overwrite a config changed meanwhile (default true)"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef execute_opts[] = {
	{"application", 'a', MZ_OPT_VALUE, "application name"},
	{"name", 'n', MZ_OPT_VALUE, "pipeline name"},
	{"id", 'i', MZ_OPT_VALUE, "pipeline config id, instead of --name"},
	{"parameter", 'p', MZ_OPT_VALUE, "parameter key=value (repeatable)"},
	{"parameter-file", 'f', MZ_OPT_VALUE, "JSON object of parameters"},
	{"file", 0, MZ_OPT_VALUE, "same as --parameter-file"},
	{"artifacts-file", 't', MZ_OPT_VALUE, "JSON file with an 'artifacts' array"},
	{"wait", 'w', MZ_OPT_FLAG, "follow the execution; exit 0 only if it SUCCEEDED"},
	{"wait-timeout", 0, MZ_OPT_VALUE, "give up waiting after this many seconds"},
	{NULL, 0, 0, NULL},
};

const mz_cli_cmd mz_cli_pipeline_cmds[] = {
	{"list", "ls", "-a APP", "List the pipeline configs of an application",
	 list_opts, 1, pipe_list},
	{"get", NULL, "-a APP -n NAME", "Show a pipeline config", get_opts, 0, pipe_get},
	{"save", NULL, "-f FILE [--stale-check=false]", "Create or update a pipeline config",
	 save_opts, 0, pipe_save},
	{"delete", "del", "-a APP -n NAME", "Delete a pipeline config", get_opts, 0, pipe_delete},
	{"execute", "exec", "-a APP -n NAME [-p KEY=VALUE]... [-f PARAMS.json] [--wait]",
	 "Start a pipeline", execute_opts, 0, pipe_execute},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
