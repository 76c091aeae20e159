/* cli_task.c - orchestrations ("tasks"): POST /tasks, then poll
 * GET /tasks/{id} until the task ends, as spin's task watcher does, but
 * with a short fixed interval since a local server answers in
 * milliseconds. */
#include "cli/cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MZ_CLI_TASK_POLL_MS 200L

static bool
task_done(const char *status)
{
	static const char *const done[] = {
		"SUCCEEDED", "STOPPED", "SKIPPED", "TERMINAL", "FAILED_CONTINUE",
		"CANCELED", NULL,
	};
	for (int i = 0; status && done[i]; i++)
		if (strcmp(status, done[i]) == 0)
			return true;
	return false;
}

static bool
task_ok(const char *status)
{
	return mz_streq(status, "SUCCEEDED") || mz_streq(status, "STOPPED") ||
	       mz_streq(status, "SKIPPED");
}

/* Gathers the task's error texts: the `exception` variable Gate's task
 * helpers read, and any stage context exception. */
static void
task_errors(const json_t *task, mz_buf *out)
{
	size_t i;
	json_t *v;

	json_array_foreach(mz_json_arr(task, "variables"), i, v) {
		if (mz_streq(mz_json_str(v, "key"), "exception")) {
			json_t *ctx = json_pack("{s:O}", "exception", json_object_get(v, "value"));
			mz_cli_exception_text(ctx, "  ", out);
			json_decref(ctx);
		}
	}
	if (out->len)
		return;
	json_array_foreach(mz_json_arr(task, "steps"), i, v)
		mz_cli_exception_text(mz_json_obj(v, "context"), "  ", out);
	json_array_foreach(mz_json_arr(mz_json_obj(task, "execution"), "stages"), i, v)
		mz_cli_exception_text(mz_json_obj(v, "context"), "  ", out);
	json_array_foreach(mz_json_arr(task, "stages"), i, v)
		mz_cli_exception_text(mz_json_obj(v, "context"), "  ", out);
}

int
mz_cli_run_task(mz_cli *c, json_t *task, const char *what, long timeout_ms)
{
	mz_cli_resp r;
	const char *ref, *slash;
	char *id, *path;
	int64_t deadline;
	int rc = MZ_CLI_FAIL;

	if (mz_cli_http(c, "POST", "/tasks", task, &r) != 0)
		return MZ_CLI_FAIL;
	if (!mz_cli_is_2xx(&r)) {
		char *msg = mz_asprintf("Encountered an error %s", what);
		mz_cli_server_error(&r, msg);
		free(msg);
		mz_cli_resp_release(&r);
		return MZ_CLI_FAIL;
	}
	ref = mz_json_str(r.json, "ref");
	if (!ref || !*ref) {
		fprintf(stderr, "Encountered an error %s: the server returned no task ref\n", what);
		mz_cli_resp_release(&r);
		return MZ_CLI_FAIL;
	}
	slash = strrchr(ref, '/');
	id = mz_strdup(slash ? slash + 1 : ref);
	mz_cli_resp_release(&r);

	path = mz_cli_path(c, "/tasks/%s", id);
	deadline = mz_mono_ms() + timeout_ms;
	for (;;) {
		const char *status;
		if (mz_cli_http(c, "GET", path, NULL, &r) != 0)
			break;
		if (!mz_cli_is_2xx(&r)) {
			char *msg = mz_asprintf("Encountered an error %s", what);
			mz_cli_server_error(&r, msg);
			free(msg);
			mz_cli_resp_release(&r);
			break;
		}
		status = mz_json_str(r.json, "status");
		if (task_done(status)) {
			if (task_ok(status)) {
				rc = MZ_CLI_OK;
			} else {
				mz_buf errs;
				mz_buf_init(&errs, 0);
				task_errors(r.json, &errs);
				if (errs.len) {
					fprintf(stderr, "Encountered an error %s (task %s %s):\n%s",
						what, id, status, errs.data);
				} else {
					char *dump = json_dumps(r.json, JSON_INDENT(1) | JSON_SORT_KEYS);
					fprintf(stderr, "Encountered an error %s, task output was: %s\n",
						what, dump ? dump : r.body.data);
					free(dump);
				}
				mz_buf_release(&errs);
			}
			mz_cli_resp_release(&r);
			break;
		}
		mz_cli_resp_release(&r);
		if (mz_mono_ms() >= deadline) {
			fprintf(stderr, "Encountered an error %s: task %s still %s after %ld s\n",
				what, id, status ? status : "unknown", timeout_ms / 1000);
			break;
		}
		mz_cli_sleep_ms(MZ_CLI_TASK_POLL_MS);
	}
	free(path);
	free(id);
	return rc;
}
