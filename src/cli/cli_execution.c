/* cli_execution.c - `mizzen pipeline-execution list|get|cancel|pause|
 * resume|judge`, and following a running execution for `pipeline execute
 * --wait`. */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MZ_CLI_WAIT_POLL_MS 500L
/* While waiting, how long the server may be unreachable (a restart after
 * kill -9 keeps the execution) before we give up. */
#define MZ_CLI_WAIT_UNREACHABLE_MS 60000L

static const char *
exec_id(const mz_cli_args *a)
{
	const char *id = mz_cli_opt(a, "id");
	if (!id && a->npos > 0)
		id = a->pos[0];
	return id;
}

static bool
exec_complete(const char *status)
{
	static const char *const done[] = {
		"SUCCEEDED", "FAILED_CONTINUE", "TERMINAL", "CANCELED", "STOPPED",
		"SKIPPED", NULL,
	};
	for (int i = 0; status && done[i]; i++)
		if (strcmp(status, done[i]) == 0)
			return true;
	return false;
}

/* ---- waiting ---------------------------------------------------------- */

typedef struct seen_stage {
	char *id;
	char *status;
} seen_stage;

typedef struct seen_set {
	seen_stage *v;
	size_t n;
} seen_set;

/* Returns the stage's last printed status slot, adding it if new. */
static seen_stage *
seen_get(seen_set *s, const char *id)
{
	seen_stage *n;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return &s->v[i];
	n = realloc(s->v, (s->n + 1) * sizeof(*n));
	if (!n) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	s->v = n;
	s->v[s->n].id = mz_strdup(id);
	s->v[s->n].status = NULL;
	return &s->v[s->n++];
}

static void
seen_release(seen_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].id);
		free(s->v[i].status);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void
stage_label(const json_t *st, mz_buf *out)
{
	const char *name = mz_json_str(st, "name");
	const char *ref = mz_json_str(st, "refId");
	mz_buf_reset(out);
	mz_buf_printf(out, "%s", name ? name : mz_json_str(st, "type") ? mz_json_str(st, "type") : "?");
	if (ref)
		mz_buf_printf(out, " (%s)", ref);
}

/* Prints one line per stage whose status changed since the last poll. */
static void
report_stages(const json_t *exec, seen_set *seen)
{
	size_t i;
	json_t *st;
	mz_buf label;

	mz_buf_init(&label, 0);
	json_array_foreach(mz_json_arr(exec, "stages"), i, st) {
		const char *id = mz_json_str(st, "id");
		const char *status = mz_json_str(st, "status");
		seen_stage *s;
		if (!id || !status)
			continue;
		s = seen_get(seen, id);
		if (mz_streq(s->status, status))
			continue;
		if (s->status || strcmp(status, "NOT_STARTED") != 0) {
			stage_label(st, &label);
			fprintf(stderr, "stage %s: %s\n", label.data, status);
		}
		free(s->status);
		s->status = mz_strdup(status);
	}
	mz_buf_release(&label);
}

static void
report_end(const json_t *exec, const char *id, const char *status)
{
	const char *name = mz_json_str(exec, "name");
	size_t i;
	json_t *st;
	mz_buf label, errs;

	if (name)
		fprintf(stderr, "Pipeline '%s' execution %s finished: %s\n", name, id, status);
	else
		fprintf(stderr, "Execution %s finished: %s\n", id, status);
	if (strcmp(status, "SUCCEEDED") == 0)
		return;
	if (strcmp(status, "CANCELED") == 0) {
		const char *by = mz_json_str(exec, "canceledBy");
		const char *why = mz_json_str(exec, "cancellationReason");
		if (by || why)
			fprintf(stderr, "canceled%s%s%s%s\n", by ? " by " : "", by ? by : "",
				why ? ": " : "", why ? why : "");
	}
	mz_buf_init(&label, 0);
	mz_buf_init(&errs, 0);
	json_array_foreach(mz_json_arr(exec, "stages"), i, st) {
		char *prefix;
		stage_label(st, &label);
		prefix = mz_asprintf("stage %s failed: ", label.data);
		mz_cli_exception_text(mz_json_obj(st, "context"), prefix, &errs);
		free(prefix);
	}
	fputs(errs.data, stderr);
	mz_buf_release(&label);
	mz_buf_release(&errs);
}

int
mz_cli_wait_execution(mz_cli *c, const char *id, long timeout_ms)
{
	char *path = mz_cli_path(c, "/pipelines/%s", id);
	int64_t start = mz_mono_ms(), lost_since = 0;
	char *last_status = NULL;
	seen_set seen = {0};
	mz_cli_resp r;
	int rc = MZ_CLI_FAIL;

	for (;;) {
		const char *status;

		if (mz_cli_http_try(c, "GET", path, NULL, &r) != 0 || r.status == 503) {
			int64_t now = mz_mono_ms();
			if (!lost_since) {
				lost_since = now;
				fprintf(stderr, "lost contact with mizzen at %s (%s); retrying\n",
					c->url, r.status ? "503" : r.error);
			} else if (now - lost_since > MZ_CLI_WAIT_UNREACHABLE_MS) {
				fprintf(stderr, "Could not reach mizzen at %s: %s\n", c->url,
					r.status ? "503" : r.error);
				mz_cli_resp_release(&r);
				break;
			}
			mz_cli_resp_release(&r);
			mz_cli_sleep_ms(MZ_CLI_WAIT_POLL_MS);
			continue;
		}
		if (lost_since) {
			fprintf(stderr, "reconnected to mizzen\n");
			lost_since = 0;
		}
		if (!mz_cli_is_2xx(&r) || !json_is_object(r.json)) {
			mz_cli_server_error(&r, "Could not follow the execution");
			mz_cli_resp_release(&r);
			break;
		}
		status = mz_json_str(r.json, "status");
		report_stages(r.json, &seen);
		if (exec_complete(status)) {
			report_end(r.json, id, status);
			rc = strcmp(status, "SUCCEEDED") == 0 ? MZ_CLI_OK : MZ_CLI_FAIL;
			mz_cli_resp_release(&r);
			break;
		}
		if (status && !mz_streq(status, last_status)) {
			/* Only worth a line when it is news: PAUSED, back to RUNNING. */
			if (last_status || strcmp(status, "RUNNING") != 0)
				fprintf(stderr, "execution %s: %s\n", id, status);
			free(last_status);
			last_status = mz_strdup(status);
		}
		mz_cli_resp_release(&r);
		if (timeout_ms > 0 && mz_mono_ms() - start >= timeout_ms) {
			fprintf(stderr, "gave up waiting after %ld s: execution %s is %s\n",
				timeout_ms / 1000, id, last_status ? last_status : "not finished");
			break;
		}
		mz_cli_sleep_ms(MZ_CLI_WAIT_POLL_MS);
	}
	seen_release(&seen);
	free(last_status);
	free(path);
	return rc;
}

/* ---- commands --------------------------------------------------------- */

/* Appends the statuses asked for by --status and spin's --running,
 * --succeeded, --failed, --canceled to out, comma-joined and escaped. */
static void
collect_statuses(mz_cli *c, const mz_cli_args *a, mz_buf *out)
{
	static const struct {
		const char *flag;
		const char *statuses;
	} shortcuts[] = {
		{"running", "RUNNING"},
		{"succeeded", "SUCCEEDED,STOPPED,SKIPPED"},
		{"failed", "TERMINAL,STOPPED,FAILED_CONTINUE"},
		{"canceled", "CANCELED"},
	};
	mz_buf all;
	size_t it = 0;
	const char *v;

	mz_buf_init(&all, 0);
	while ((v = mz_cli_opt_next(a, "status", &it)))
		mz_buf_printf(&all, "%s%s", all.len ? "," : "", v);
	for (size_t i = 0; i < sizeof(shortcuts) / sizeof(shortcuts[0]); i++)
		if (mz_cli_flag(a, shortcuts[i].flag))
			mz_buf_printf(&all, "%s%s", all.len ? "," : "", shortcuts[i].statuses);

	/* Escape each status on its own so the commas stay literal. */
	for (char *tok = all.len ? strtok(all.data, ",") : NULL; tok;
	     tok = strtok(NULL, ",")) {
		char *e;
		if (!*tok)
			continue;
		e = mz_cli_path(c, "%s", tok);
		mz_buf_printf(out, "%s%s", out->len ? "," : "", e);
		free(e);
	}
	mz_buf_release(&all);
}

/* The config id of APP/NAME, or NULL after printing why. */
static char *
lookup_config_id(mz_cli *c, const char *app, const char *name)
{
	char *path = mz_cli_path(c, "/applications/%s/pipelineConfigs/%s", app, name);
	mz_cli_resp r;
	char *id = NULL;

	if (mz_cli_http(c, "GET", path, NULL, &r) != 0) {
		free(path);
		return NULL;
	}
	if (r.status == 404 && !mz_json_str(r.json, "message"))
		fprintf(stderr, "Pipeline '%s' not found under application '%s'\n", name, app);
	else if (!mz_cli_is_2xx(&r))
		mz_cli_server_error(&r, NULL);
	else if (!mz_json_str(r.json, "id"))
		fprintf(stderr, "Pipeline '%s' of application '%s' has no id\n", name, app);
	else
		id = mz_strdup(mz_json_str(r.json, "id"));
	mz_cli_resp_release(&r);
	free(path);
	return id;
}

static int
ex_list(mz_cli *c, mz_cli_args *a)
{
	const char *app = mz_cli_opt(a, "application");
	const char *name = mz_cli_opt(a, "name");
	const char *limit = mz_cli_opt(a, "limit");
	char *cfg = NULL, *path;
	mz_buf q, statuses;

	if (limit) {
		char *end;
		long n = strtol(limit, &end, 10);
		if (end == limit || *end)
			return mz_cli_usage(c, "invalid --limit: %s", limit);
		if (n <= 0)
			limit = NULL;  /* spin sends limit only when > 0 */
	}
	if (exec_id(a))
		cfg = mz_strdup(exec_id(a));
	else if (app && name && !(cfg = lookup_config_id(c, app, name)))
		return MZ_CLI_FAIL;
	if (!cfg && !app)
		return mz_cli_usage(c, "give --id CONFIG_ID, or --application [--name]");

	mz_buf_init(&statuses, 0);
	collect_statuses(c, a, &statuses);
	mz_buf_init(&q, 0);
	if (cfg) {
		char *p = mz_cli_path(c, "/executions?pipelineConfigIds=%s", cfg);
		mz_buf_adds(&q, p);
		free(p);
	} else {
		/* All executions of an application. */
		char *p = mz_cli_path(c, "/applications/%s/pipelines?expand=false", app);
		mz_buf_adds(&q, p);
		free(p);
	}
	if (limit)
		mz_buf_printf(&q, "&limit=%ld", strtol(limit, NULL, 10));
	if (statuses.len)
		mz_buf_printf(&q, "&statuses=%s", statuses.data);
	path = mz_buf_detach(&q, NULL);
	mz_buf_release(&statuses);

	free(cfg);
	return mz_cli_get_print(c, path);
}

static int
ex_get(mz_cli *c, mz_cli_args *a)
{
	const char *id = exec_id(a);
	mz_cli_resp r;
	char *path;
	int rc = MZ_CLI_OK;

	if (!id || !*id)
		return mz_cli_usage(c, "an execution id is required");
	path = mz_cli_path(c, "/pipelines/%s", id);
	if (mz_cli_http(c, "GET", path, NULL, &r) != 0) {
		free(path);
		return MZ_CLI_FAIL;
	}
	if (r.status == 404 && !mz_json_str(r.json, "message")) {
		fprintf(stderr, "Execution '%s' not found\n", id);
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

/* PUT /pipelines/{id}/{verb}, for cancel, pause and resume. */
static int
ex_put(mz_cli *c, mz_cli_args *a, const char *verb, const char *done)
{
	const char *id = exec_id(a);
	const char *reason = mz_cli_opt(a, "reason");
	mz_cli_resp r;
	char *path;
	int rc = MZ_CLI_OK;

	if (!id || !*id)
		return mz_cli_usage(c, "an execution id is required");
	if (reason)
		path = mz_cli_path(c, "/pipelines/%s/%r?reason=%s", id, verb, reason);
	else
		path = mz_cli_path(c, "/pipelines/%s/%r", id, verb);
	if (mz_cli_http(c, "PUT", path, NULL, &r) != 0) {
		free(path);
		return MZ_CLI_FAIL;
	}
	if (mz_cli_is_2xx(&r))
		mz_cli_say("Execution %s successfully %s", id, done);
	else
		rc = mz_cli_server_error(&r, NULL);
	mz_cli_resp_release(&r);
	free(path);
	return rc;
}

static int
ex_cancel(mz_cli *c, mz_cli_args *a)
{
	return ex_put(c, a, "cancel", "canceled");
}

static int
ex_pause(mz_cli *c, mz_cli_args *a)
{
	return ex_put(c, a, "pause", "paused");
}

static int
ex_resume(mz_cli *c, mz_cli_args *a)
{
	return ex_put(c, a, "resume", "resumed");
}

/* Finds the manual judgment stage named by want (its id, refId or name).
 * With no want, the one manualJudgment stage that is RUNNING. When a name
 * matches several stages the RUNNING one wins. Borrowed; NULL after
 * printing why. */
static json_t *
find_judgment(const json_t *exec, const char *want)
{
	json_t *st, *found = NULL;
	size_t i, matches = 0;

	json_array_foreach(mz_json_arr(exec, "stages"), i, st) {
		bool running = mz_streq(mz_json_str(st, "status"), "RUNNING");
		if (!mz_streq(mz_json_str(st, "type"), "manualJudgment"))
			continue;
		if (want) {
			if (mz_streq(mz_json_str(st, "id"), want))
				return st;
			if (!mz_streq(mz_json_str(st, "name"), want) &&
			    !mz_streq(mz_json_str(st, "refId"), want))
				continue;
		} else if (!running) {
			continue;
		}
		if (!found || (running && !mz_streq(mz_json_str(found, "status"), "RUNNING")))
			found = st;
		matches++;
	}
	if (!found) {
		if (want)
			fprintf(stderr, "No manual judgment stage '%s' in execution %s\n", want,
				mz_json_str(exec, "id") ? mz_json_str(exec, "id") : "");
		else
			fprintf(stderr, "No manual judgment stage is waiting in execution %s\n",
				mz_json_str(exec, "id") ? mz_json_str(exec, "id") : "");
		return NULL;
	}
	if (!want && matches > 1) {
		fprintf(stderr, "Several manual judgment stages are waiting; choose one with --stage\n");
		return NULL;
	}
	return found;
}

static int
ex_judge(mz_cli *c, mz_cli_args *a)
{
	const char *id = exec_id(a);
	const char *want = mz_cli_opt(a, "stage");
	const char *input = mz_cli_opt(a, "input");
	bool cont = mz_cli_flag(a, "continue");
	bool stop = mz_cli_flag(a, "stop");
	mz_cli_resp r;
	json_t *st, *body;
	char *path, *stage_id, *stage_name;
	int rc;

	if (!id || !*id)
		return mz_cli_usage(c, "an execution id is required");
	if (cont == stop)
		return mz_cli_usage(c, "give exactly one of --continue and --stop");

	path = mz_cli_path(c, "/pipelines/%s", id);
	rc = mz_cli_http(c, "GET", path, NULL, &r);
	free(path);
	if (rc != 0)
		return MZ_CLI_FAIL;
	if (!mz_cli_is_2xx(&r) || !json_is_object(r.json)) {
		rc = mz_cli_server_error(&r, NULL);
		mz_cli_resp_release(&r);
		return rc;
	}
	st = find_judgment(r.json, want);
	if (!st) {
		mz_cli_resp_release(&r);
		return MZ_CLI_FAIL;
	}
	stage_id = mz_strdup(mz_json_str(st, "id"));
	stage_name = mz_strdup(mz_json_str(st, "name") ? mz_json_str(st, "name") : stage_id);
	mz_cli_resp_release(&r);

	body = json_pack("{s:s}", "judgmentStatus", cont ? "continue" : "stop");
	if (input)
		json_object_set_new(body, "judgmentInput", json_string(input));
	path = mz_cli_path(c, "/pipelines/%s/stages/%s", id, stage_id);
	rc = mz_cli_http(c, "PATCH", path, body, &r);
	free(path);
	json_decref(body);
	if (rc == 0) {
		if (mz_cli_is_2xx(&r)) {
			mz_cli_say("Judgment '%s' recorded for stage %s of execution %s",
				   cont ? "continue" : "stop", stage_name, id);
			rc = MZ_CLI_OK;
		} else {
			rc = mz_cli_server_error(&r, NULL);
		}
		mz_cli_resp_release(&r);
	} else {
		rc = MZ_CLI_FAIL;
	}
	free(stage_id);
	free(stage_name);
	return rc;
}

static const mz_cli_optdef list_opts[] = {
	{"id", 'i', MZ_OPT_VALUE, "pipeline config id"},
	{"application", 'a', MZ_OPT_VALUE, "application (with --name: that pipeline's executions)"},
	{"name", 'n', MZ_OPT_VALUE, "pipeline name"},
	{"limit", 'l', MZ_OPT_VALUE, "at most this many executions (default: with --id "
	 "or --name, the newest only, as spin)"},
	{"status", 's', MZ_OPT_VALUE, "only these statuses (comma-separated or repeated)"},
	{"running", 0, MZ_OPT_FLAG, "only RUNNING"},
	{"succeeded", 0, MZ_OPT_FLAG, "only SUCCEEDED, STOPPED, SKIPPED"},
	{"failed", 0, MZ_OPT_FLAG, "only TERMINAL, STOPPED, FAILED_CONTINUE"},
	{"canceled", 0, MZ_OPT_FLAG, "only CANCELED"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef id_opts[] = {
	{"id", 'i', MZ_OPT_VALUE, "execution id (or give it as an argument)"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef cancel_opts[] = {
	{"id", 'i', MZ_OPT_VALUE, "execution id (or give it as an argument)"},
	{"reason", 'r', MZ_OPT_VALUE, "why, recorded on the execution"},
	{NULL, 0, 0, NULL},
};

static const mz_cli_optdef judge_opts[] = {
	{"id", 'i', MZ_OPT_VALUE, "execution id (or give it as an argument)"},
	{"stage", 0, MZ_OPT_VALUE, "manual judgment stage id, refId or name (default: the waiting one)"},
	{"continue", 0, MZ_OPT_FLAG, "let the pipeline continue"},
	{"stop", 0, MZ_OPT_FLAG, "stop the pipeline"},
	{"input", 0, MZ_OPT_VALUE, "judgment input (one of the stage's judgmentInputs)"},
	{NULL, 0, 0, NULL},
};

const mz_cli_cmd mz_cli_execution_cmds[] = {
	{"list", "ls", "--id CONFIG_ID | -a APP [-n NAME] [--limit N] [--status S]",
	 "List executions of a pipeline config", list_opts, 0, ex_list},
	{"get", NULL, "ID", "Show an execution", id_opts, 1, ex_get},
	{"cancel", NULL, "ID [--reason TEXT]", "Cancel an execution", cancel_opts, 1, ex_cancel},
	{"pause", NULL, "ID", "Pause an execution", id_opts, 1, ex_pause},
	{"resume", NULL, "ID", "Resume a paused execution", id_opts, 1, ex_resume},
	{"judge", NULL, "ID [--stage STAGE] --continue|--stop [--input VALUE]",
	 "Answer a manual judgment stage", judge_opts, 1, ex_judge},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
