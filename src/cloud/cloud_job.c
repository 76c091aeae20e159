/*
 * cloud_job.c - the runJob stage on the local provider (Orca's RunJobStage
 * with Clouddriver's job model, reference §6.8): a build runs as a job.
 *
 * A job is a directory <data>/jobs/<jobId>/ with job.json (pid and start
 * ticks of the job's monitor, start time, timeout), log (stdout and stderr
 * of every step, appended while it runs), workspace/ (the git checkout and
 * the build's files) and, once it is over, exit (the exit status).
 *
 * Processes: the job is one detached chain of src/proc (git clone, git
 * checkout, the command): its supervisor is nobody's child, so it outlives
 * a server restart; its pid is the job's process group; it writes the exit
 * status to `exit`. Timeouts and cancels signal the whole group (SIGTERM,
 * then SIGKILL); every step runs in bubblewrap with --unshare-pid and
 * --die-with-parent, so a build's children go with it.
 *
 * Sandbox (proc.h): the git steps and the command each in bubblewrap, no
 * capabilities, / read-only, a private /tmp, the data directory and /root
 * hidden, only the workspace writable; the command as the unprivileged
 * sandbox user, git with the server's uid so that it can read a local
 * repository, which it sees read-only wherever it lies. `"sandbox": false`
 * runs the command on the host and is refused unless the config allows it.
 */
#include "cloud/cloud_int.h"
#include "engine/artifacts.h"
#include "engine/engine_int.h"
#include "proc/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define JOB_POLL_MS 250
#define ORCA_JOB "com.netflix.spinnaker.orca.clouddriver.tasks.job."

static char *g_jobs;     /* <data>/jobs */

/* ---- small helpers ------------------------------------------------------------ */

static bool
job_alive(const json_t *job)
{
	return mz_proc_alive((pid_t)mz_json_int(job, "pid", 0),
	                     (uint64_t)mz_json_int(job, "startTicks", 0));
}

static char *
job_dir(const char *job_id)
{
	return mz_asprintf("%s/%s", g_jobs, job_id);
}

/* The exit status recorded by the monitor (or by a kill), -1 if none. */
static int
job_exit(const char *dir, char *reason, size_t rsz)
{
	char *p = mz_asprintf("%s/exit", dir);
	size_t len;
	char *t = mz_read_file(p, &len, NULL);
	free(p);
	if (!t)
		return -1;
	int code = atoi(t);
	if (reason) {
		const char *sp = strchr(t, ' ');
		snprintf(reason, rsz, "%s", sp ? sp + 1 : "");
		size_t rl = strlen(reason);
		while (rl > 0 && (reason[rl - 1] == '\n' || reason[rl - 1] == ' '))
			reason[--rl] = '\0';
	}
	free(t);
	return code;
}

static void
write_exit(const char *dir, int code, const char *reason)
{
	char *p = mz_asprintf("%s/exit", dir);
	char *tmp = mz_asprintf("%s/exit.tmp", dir);
	FILE *f = fopen(tmp, "we");
	if (f) {
		fprintf(f, "%d %s\n", code, reason ? reason : "");
		fclose(f);
		rename(tmp, p);
	}
	free(p);
	free(tmp);
}

/* The last max bytes of the job's log (new string). */
static char *
log_tail(const char *dir, size_t max)
{
	char *p = mz_asprintf("%s/log", dir);
	char *out = mz_proc_log_tail(p, max);
	free(p);
	return out;
}

/* SIGTERM to the group, a grace period, then SIGKILL. */
static void
kill_job(const json_t *job, int grace_ms)
{
	mz_proc_kill_group((pid_t)mz_json_int(job, "pid", 0),
	                   (uint64_t)mz_json_int(job, "startTicks", 0), grace_ms);
}

static char *
strv_header(char **argv)
{
	mz_buf b;
	mz_buf_init(&b, 0);
	mz_buf_adds(&b, "$");
	for (char **p = argv; *p; p++) {
		mz_buf_adds(&b, " ");
		mz_buf_adds(&b, *p);
	}
	mz_buf_adds(&b, "\n");
	return mz_buf_detach(&b, NULL);
}

/* ---- the runJob task -------------------------------------------------------------- */

/* The repository to check out: the stage's git {url, ref}, else a git/repo
 * artifact named by gitArtifact (or the trigger's first one when
 * useTriggerArtifact / no git given but gitArtifact "trigger"). */
static void
git_source(mz_task_ctx *c, json_t *ctx, const char **url, const char **ref)
{
	json_t *git = json_object_get(ctx, "git");
	*url = mz_json_str(git, "url");
	*ref = mz_json_str(git, "ref");
	if (*url)
		return;
	const char *an = mz_json_str(ctx, "gitArtifact");
	json_t *a = an ? mz_artifact_find(c->execution, c->stage, an) : NULL;
	if (!a && mz_json_bool(ctx, "useTriggerArtifact", false)) {
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(json_object_get(c->execution, "trigger"), "artifacts"),
		                   i, x) {
			if (mz_streq(mz_json_str(x, "type"), "git/repo")) {
				a = x;
				break;
			}
		}
	}
	if (a && mz_streq(mz_json_str(a, "type"), "git/repo")) {
		*url = mz_json_str(a, "reference");
		*ref = mz_json_str(a, "version");
	}
}

static void
run_job_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	const char *provider = mz_json_str(ctx, "cloudProvider");
	if (provider && !mz_streq(provider, "local")) {
		mz_task_result_set(r, "TERMINAL", "runJob: cloudProvider '%s' is not supported here "
		                   "(only 'local')", provider);
		return;
	}
	if (!g_jobs) {
		mz_task_result_set(r, "TERMINAL", "runJob: jobs are not enabled on this server");
		return;
	}
	json_t *command = json_object_get(ctx, "command");
	if (!json_is_array(command) || json_array_size(command) == 0) {
		mz_task_result_set(r, "TERMINAL", "runJob: 'command' must be a non-empty list of "
		                   "strings (argv), e.g. [\"make\", \"dist\"]");
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(command, i, v) {
		if (!json_is_string(v)) {
			mz_task_result_set(r, "TERMINAL", "runJob: command[%zu] is not a string", i);
			return;
		}
	}
	char job_id[128];
	mz_id_from_key("j", c->idempotency_key, job_id);
	char *dir = job_dir(job_id);
	char *jpath = mz_asprintf("%s/job.json", dir);
	char *ws = mz_asprintf("%s/workspace", dir);
	json_t *job = mz_json_read_file(jpath);
	mz_strv cmd = {0}, env_cmd = {0}, env_git = {0}, clone = {0}, checkout = {0};
	char *h_clone = NULL, *h_checkout = NULL, *h_cmd = NULL, *repo = NULL, *logp = NULL;
	char *exitp = NULL;
	const char *url = NULL, *ref = NULL;
	int64_t timeout_s = mz_json_int(ctx, "timeoutSeconds", 3600);
	if (timeout_s <= 0)
		timeout_s = 3600;

	if (job) /* a replay after a crash: the job already started */
		goto done;
	git_source(c, ctx, &url, &ref);
	if (mz_mkdirs(ws, 0755) != 0) {
		mz_task_result_set(r, "TERMINAL", "runJob: cannot create %s: %s", ws, strerror(errno));
		goto out;
	}
	{
		char *real = realpath(ws, NULL);
		if (real) {
			free(ws);
			ws = real;
		}
	}
	/* environments */
	const char *path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	mz_strv_add(&env_git, mz_strdup(path_env));
	mz_strv_add(&env_git, mz_strdup("HOME=/tmp")); /* the sandbox's private /tmp */
	mz_strv_add(&env_git, mz_strdup("GIT_TERMINAL_PROMPT=0"));
	mz_strv_add(&env_git, mz_strdup("LANG=C.UTF-8"));
	mz_strv_add(&env_cmd, mz_strdup(path_env));
	mz_strv_add(&env_cmd, mz_asprintf("HOME=%s", ws));
	mz_strv_add(&env_cmd, mz_strdup("LANG=C.UTF-8"));
	mz_strv_add(&env_cmd, mz_asprintf("WORKSPACE=%s", ws));
	mz_strv_add(&env_cmd, mz_asprintf("MIZZEN_JOB_ID=%s", job_id));
	mz_strv_add(&env_cmd, mz_asprintf("MIZZEN_EXECUTION_ID=%s", mz_json_str(c->execution, "id")));
	{
		/* ${#secret('name')} in an env value becomes the value here, in
		 * the job's environment only: the context keeps the reference,
		 * and job.json and the log never see the environment */
		mz_err serr = {0};
		json_t *env = mz_engine_resolve_secrets_json(json_object_get(ctx, "env"), NULL, &serr);
		if (!env && serr.code) {
			mz_task_result_set(r, "TERMINAL", "runJob: env: %s", serr.msg);
			goto out;
		}
		mz_strv_add_env(&env_cmd, env);
		mz_secret_json_free(env);
	}
	/* the chain: [git clone, [git checkout,]] the command */
	bool sandbox = !json_is_false(json_object_get(ctx, "sandbox"));
	if (!sandbox && !mz_proc_unsandboxed_allowed()) {
		mz_task_result_set(r, "TERMINAL", "runJob: %s", MZ_PROC_UNSANDBOXED_REFUSED);
		goto out;
	}
	logp = mz_asprintf("%s/log", dir);
	exitp = mz_asprintf("%s/exit", dir);
	if (url) {
		/* a local repository is seen read-only wherever it lies */
		const char *local = strncmp(url, "file://", 7) == 0 ? url + 7 : url[0] == '/' ? url : NULL;
		repo = local ? realpath(local, NULL) : NULL;
	}
	const char *const ro_repo[] = {repo, NULL};
	const char *const rw_ws[] = {ws, NULL};
	mz_sandbox git_box = {.writable = rw_ws, .readonly = repo ? ro_repo : NULL,
	                      .keep_uid = true, .die_with_parent = true};
	mz_sandbox cmd_box = {.writable = rw_ws, .die_with_parent = true};
	json_t *lj = json_object_get(ctx, "limits");
	mz_proc steps[3];
	int nsteps = 0;
	memset(steps, 0, sizeof(steps));
	if (url) {
		const char *cl[] = {"git", "clone", "--quiet", "--no-hardlinks", "--", url, ws, NULL};
		for (int k = 0; cl[k]; k++)
			mz_strv_add(&clone, mz_strdup(cl[k]));
		h_clone = strv_header(clone.v);
		steps[nsteps++] = (mz_proc){.argv = MZ_STRV_LIST(&clone), .env = MZ_STRV_LIST(&env_git),
		                            .cwd = ws, .log_path = logp, .log_header = h_clone,
		                            .sandbox = &git_box};
		if (ref && *ref) {
			const char *co[] = {"git", "checkout", "--quiet", "--detach", ref, "--", NULL};
			for (int k = 0; co[k]; k++)
				mz_strv_add(&checkout, mz_strdup(co[k]));
			h_checkout = strv_header(checkout.v);
			steps[nsteps++] = (mz_proc){.argv = MZ_STRV_LIST(&checkout),
			                            .env = MZ_STRV_LIST(&env_git), .cwd = ws,
			                            .log_path = logp, .log_header = h_checkout,
			                            .sandbox = &git_box};
		}
	}
	json_array_foreach(command, i, v)
		mz_strv_add(&cmd, mz_strdup(json_string_value(v)));
	h_cmd = strv_header(cmd.v);
	steps[nsteps++] = (mz_proc){
		.argv = MZ_STRV_LIST(&cmd), .env = MZ_STRV_LIST(&env_cmd), .cwd = ws, .log_path = logp,
		.log_header = h_cmd, .sandbox = sandbox ? &cmd_box : NULL,
		/* openFiles 0: the host's usual soft limit, not the server's */
		.limits = {.open_files = mz_json_int(lj, "openFiles", 0),
		           .file_size_mb = mz_json_int(lj, "fileSizeMB", 4096),
		           .cpu_seconds = mz_json_int(lj, "cpuSeconds", 0),
		           .memory_mb = mz_json_int(lj, "memoryMB", 0), .no_core = true}};
	for (int k = 0; k + 1 < nsteps; k++)
		steps[k].then = &steps[k + 1];
	steps[0].detach = true;
	steps[0].status_path = exitp;

	/* record the intent first: a crash after the spawn finds job.json */
	mz_err err = {0};
	int64_t started = mz_now_ms();
	if (mz_proc_start(&steps[0], &err) != MZ_OK) {
		mz_task_result_set(r, "TERMINAL", "runJob: %s", err.msg);
		goto out;
	}
	pid_t pid = steps[0].pid;
	job = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s?, s:s?, s:s?}", "jobId", job_id,
	                "pid", (json_int_t)pid, "startTicks", (json_int_t)steps[0].start_ticks,
	                "startTime", (json_int_t)started, "timeoutSeconds", (json_int_t)timeout_s,
	                "workspace", ws, "executionId", mz_json_str(c->execution, "id"),
	                "application", mz_json_str(c->execution, "application"), "url", url, "ref",
	                ref);
	if (mz_json_write_file(jpath, job, JSON_COMPACT) != 0) {
		kill_job(job, 0);
		mz_task_result_set(r, "TERMINAL", "runJob: cannot record the job in %s", jpath);
		goto out;
	}
	mz_info("runJob: started job %s (pid %d) for execution %s", job_id, (int)pid,
	        mz_json_str(c->execution, "id"));
done: {
	const char *app = mz_json_str(c->execution, "application");
	json_t *rc = mz_task_result_context(r);
	json_object_set_new(rc, "jobId", json_string(job_id));
	json_object_set_new(rc, "jobPid", json_integer(mz_json_int(job, "pid", 0)));
	json_object_set_new(rc, "jobStartTime", json_integer(mz_json_int(job, "startTime", 0)));
	json_object_set_new(rc, "jobLogUrl",
	                    json_sprintf("/applications/%s/jobs/local/local/%s/logs",
	                                 app ? app : "-", job_id));
	json_object_set_new(rc, "jobStatus", json_pack("{s:s, s:s, s:s}", "name", job_id,
	                                                "location", "local", "jobState",
	                                                "Running"));
	json_object_set_new(rc, "deploy.jobs",
	                    json_pack("{s:[s]}", "local", job_id));
	mz_task_result_set(r, "SUCCEEDED", NULL);
}
out:
	json_decref(job);
	mz_strv_free(&cmd);
	for (size_t k = 0; k < env_cmd.n; k++)
		mz_secret_wipe(env_cmd.v[k]); /* it may hold secrets */
	mz_strv_free(&env_cmd);
	mz_strv_free(&env_git);
	mz_strv_free(&clone);
	mz_strv_free(&checkout);
	free(h_clone);
	free(h_checkout);
	free(h_cmd);
	free(repo);
	free(logp);
	free(exitp);
	free(dir);
	free(jpath);
	free(ws);
}

/* ---- completion: artifacts and the property file ----------------------------------- */

/* Publishes outputArtifacts; false with r set on failure. */
static bool
publish_artifacts(const json_t *ctx, const char *dir, const char *ws, const char *job_id,
                  const char *dflt_version, json_t *outs, mz_task_result *r)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(ctx, "outputArtifacts"), i, o) {
		const char *name = mz_json_str(o, "name");
		const char *rel = mz_json_str(o, "path");
		if (!rel)
			rel = name;
		if (!rel) {
			mz_task_result_set(r, "TERMINAL", "outputArtifacts[%zu] needs a path", i);
			return false;
		}
		char *full = mz_asprintf("%s/%s", ws, rel);
		char *real = realpath(full, NULL);
		free(full);
		size_t wl = strlen(ws);
		if (!real || strncmp(real, ws, wl) != 0 || (real[wl] != '/' && real[wl] != '\0')) {
			mz_task_result_set(r, "TERMINAL", "output artifact %s: %s is not a file in the "
			                   "workspace", name ? name : rel, rel);
			free(real);
			return false;
		}
		struct stat st;
		stat(real, &st);
		char *src = NULL;
		bool is_dir = S_ISDIR(st.st_mode);
		if (is_dir) {
			src = mz_asprintf("%s/out-%zu.tar.gz", dir, i);
			const char *const argv[] = {"tar", "-C", real, "-czf", src, ".", NULL};
			if (mz_proc_run_argv(argv, NULL, 600000) != 0) {
				mz_task_result_set(r, "TERMINAL", "output artifact %s: cannot archive %s",
				                   name ? name : rel, rel);
				free(real);
				free(src);
				return false;
			}
		} else {
			src = mz_strdup(real);
		}
		char hex[65];
		int64_t size = 0;
		mz_err err = {0};
		if (mz_artifacts_put_file(src, hex, &size, &err) != MZ_OK) {
			if (err.code == MZ_EBUSY) {
				/* several nodes, the database away: publish again later */
				json_object_set_new(mz_task_result_context(r), "waitingFor",
				                    json_sprintf("output artifact %s: %s",
				                                 name ? name : rel, err.msg));
				r->backoff_ms = 1000;
				mz_task_result_set(r, "RUNNING", NULL);
			} else {
				mz_task_result_set(r, "TERMINAL", "output artifact %s: %s",
				                   name ? name : rel, err.msg);
			}
			if (is_dir)
				unlink(src);
			free(real);
			free(src);
			return false;
		}
		json_array_append_new(
			outs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s, s:s, s:s, s:b}, s:s}",
		                        "type", "mizzen/file", "name", name ? name : rel, "version",
		                        mz_json_str(o, "version") ? mz_json_str(o, "version")
		                        : dflt_version ? dflt_version : "",
		                        "reference", hex, "location", "local", "artifactAccount",
		                        "mizzen", "metadata", "size", (json_int_t)size, "path", rel,
		                        "sha256", hex, "format", is_dir ? "tar.gz" : "file",
		                        "directory", is_dir, "provenance", job_id));
		json_t *last = json_array_get(outs, json_array_size(outs) - 1);
		if (!*mz_json_str(last, "version"))
			json_object_set_new(last, "version", json_stringn(hex, 12));
		if (mz_artifacts_catalog_add(mz_json_str(last, "name"), mz_json_str(last, "version"),
		                             hex, &err) != MZ_OK)
			mz_warn("runJob %s: output artifact %s is stored but not listed: %s", job_id,
			        mz_json_str(last, "name"), err.msg);
		if (is_dir)
			unlink(src);
		free(real);
		free(src);
	}
	return true;
}

/* KEY=VALUE lines (as Spinnaker's Jenkins stage reads a property file). */
static json_t *
read_properties(const char *ws, const char *rel, char *why, size_t whysz)
{
	char *full = mz_asprintf("%s/%s", ws, rel);
	char *real = realpath(full, NULL);
	free(full);
	size_t wl = strlen(ws);
	if (!real || strncmp(real, ws, wl) != 0) {
		snprintf(why, whysz, "property file %s was not found in the workspace", rel);
		free(real);
		return NULL;
	}
	size_t len;
	char *text = mz_read_file(real, &len, NULL);
	free(real);
	if (!text) {
		snprintf(why, whysz, "cannot read property file %s", rel);
		return NULL;
	}
	json_t *props = json_object();
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '#' || *line == '!' || !*line)
			continue;
		char *eq = strpbrk(line, "=:");
		if (!eq)
			continue;
		*eq = '\0';
		char *k = line, *val = eq + 1;
		size_t kl = strlen(k);
		while (kl > 0 && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
			k[--kl] = '\0';
		while (*val == ' ' || *val == '\t')
			val++;
		size_t vl = strlen(val);
		while (vl > 0 && (val[vl - 1] == '\r' || val[vl - 1] == ' '))
			val[--vl] = '\0';
		if (*k)
			json_object_set_new(props, k, json_string(val));
	}
	free(text);
	return props;
}

static void
wait_job_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	const char *job_id = mz_json_str(ctx, "jobId");
	if (!mz_id_valid(job_id) || !g_jobs) {
		mz_task_result_set(r, "TERMINAL", "no job was started for this stage");
		return;
	}
	char *dir = job_dir(job_id);
	char *jpath = mz_asprintf("%s/job.json", dir);
	json_t *job = mz_json_read_file(jpath);
	char reason[256] = "";
	int code = job_exit(dir, reason, sizeof(reason));
	int64_t timeout_s = mz_json_int(job, "timeoutSeconds", 3600);
	json_t *rc = mz_task_result_context(r);
	if (!job) {
		mz_task_result_set(r, "TERMINAL", "job %s is unknown (no %s)", job_id, jpath);
		goto out;
	}
	if (code < 0 && job_alive(job)) {
		if (mz_now_ms() - mz_json_int(job, "startTime", 0) > timeout_s * 1000) {
			kill_job(job, 2000);
			write_exit(dir, 124, "timeout");
			code = 124;
			snprintf(reason, sizeof(reason), "timeout");
		} else {
			r->backoff_ms = JOB_POLL_MS;
			mz_task_result_set(r, "RUNNING", NULL);
			goto out;
		}
	}
	/* The monitor writes the status, then exits: one that finished between
	 * the two looks above left its status behind it. */
	if (code < 0)
		code = job_exit(dir, reason, sizeof(reason));
	if (code < 0) {
		/* the monitor is gone without a status: it was killed */
		write_exit(dir, 137, "vanished");
		code = 137;
		snprintf(reason, sizeof(reason), "vanished");
	}
	json_object_set_new(rc, "jobEndTime", json_integer(mz_now_ms()));
	json_object_set_new(rc, "jobExitCode", json_integer(code));
	if (code != 0) {
		char *tail = log_tail(dir, 600);
		json_object_set_new(rc, "jobStatus", json_pack("{s:s, s:s, s:s}", "name", job_id,
		                                                "location", "local", "jobState",
		                                                "Failed"));
		if (strcmp(reason, "timeout") == 0)
			mz_task_result_set(r, "TERMINAL", "Job %s timed out after %lld s and was killed; "
			                   "log tail:\n%s", job_id, (long long)timeout_s, tail);
		else if (strcmp(reason, "canceled") == 0)
			mz_task_result_set(r, "CANCELED", "Job %s was canceled", job_id);
		else
			mz_task_result_set(r, "TERMINAL", "Job %s failed with exit code %d; log tail:\n%s",
			                   job_id, code, tail);
		free(tail);
		goto out;
	}
	json_object_set_new(rc, "jobStatus", json_pack("{s:s, s:s, s:s}", "name", job_id, "location",
	                                                "local", "jobState", "Succeeded"));
	const char *ws = mz_json_str(job, "workspace");
	json_t *arts = json_array();
	/* an artifact's version: the commit built (detached HEAD), else its hash */
	char commit[41] = "";
	{
		char *hp = mz_asprintf("%s/.git/HEAD", ws);
		size_t hl;
		char *head = mz_read_file(hp, &hl, NULL);
		if (head && hl >= 40 && strncmp(head, "ref:", 4) != 0)
			snprintf(commit, sizeof(commit), "%.40s", head);
		free(head);
		free(hp);
		if (*commit)
			json_object_set_new(rc, "commit", json_string(commit));
	}
	if (!publish_artifacts(ctx, dir, ws, job_id, *commit ? commit : NULL, arts, r)) {
		json_decref(arts);
		goto out;
	}
	json_t *outs = mz_task_result_outputs(r);
	if (json_array_size(arts) > 0) {
		json_object_set(rc, "artifacts", arts);
		json_object_set(outs, "artifacts", arts);
	}
	json_decref(arts);
	const char *pf = mz_json_str(ctx, "propertyFile");
	if (pf && *pf) {
		char why[512];
		json_t *props = read_properties(ws, pf, why, sizeof(why));
		if (!props) {
			mz_task_result_set(r, "TERMINAL", "%s", why);
			goto out;
		}
		json_object_set(rc, "propertyFileContents", props);
		mz_json_merge(outs, props);
		json_decref(props);
	}
	if (json_object_get(json_object_get(c->stage, "context"), "waitingFor"))
		json_object_set_new(rc, "waitingFor", json_null()); /* published after all */
	mz_task_result_set(r, "SUCCEEDED", NULL);
out:
	json_decref(job);
	free(dir);
	free(jpath);
}

/* Cancel: the whole process group goes. */
static void
job_cancel(mz_task_ctx *c, mz_task_result *r)
{
	const char *job_id = mz_json_str(json_object_get(c->stage, "context"), "jobId");
	if (!mz_id_valid(job_id) || !g_jobs)
		return;
	char *dir = job_dir(job_id);
	char *jpath = mz_asprintf("%s/job.json", dir);
	json_t *job = mz_json_read_file(jpath);
	if (job && job_alive(job)) {
		kill_job(job, 500);
		write_exit(dir, 143, "canceled");
		mz_info("runJob: killed job %s on cancel", job_id);
		json_object_set_new(mz_task_result_context(r), "jobStatus",
		                    json_pack("{s:s, s:s, s:s}", "name", job_id, "location", "local",
		                              "jobState", "Canceled"));
	}
	json_decref(job);
	free(dir);
	free(jpath);
}

/* ---- the jobs, for the API --------------------------------------------------------- */

/* The state of a job from its files (job.json already read into job). */
static void
add_state(json_t *job, const char *dir)
{
	char reason[64];
	int code = job_exit(dir, reason, sizeof(reason));
	json_object_set_new(job, "jobState",
	                    json_string(code < 0 ? (job_alive(job) ? "Running" : "Unknown")
	                                         : code == 0 ? "Succeeded" : "Failed"));
	if (code >= 0) {
		char *p = mz_asprintf("%s/exit", dir);
		struct stat sb;
		json_object_set_new(job, "exitCode", json_integer(code));
		if (stat(p, &sb) == 0)
			json_object_set_new(job, "endTime", json_integer((json_int_t)sb.st_mtime * 1000));
		free(p);
	}
	/* the commit built: a checkout leaves a detached HEAD */
	char *hp = mz_asprintf("%s/.git/HEAD", mz_json_str(job, "workspace") ?
	                       mz_json_str(job, "workspace") : "/nonexistent");
	size_t hl = 0;
	char *head = mz_read_file(hp, &hl, NULL);
	if (head && hl >= 40 && strncmp(head, "ref:", 4) != 0)
		json_object_set_new(job, "commit", json_stringn(head, 40));
	free(head);
	free(hp);
}

json_t *
mz_cloud_jobs(void)
{
	json_t *out = json_array();
	DIR *d = g_jobs ? opendir(g_jobs) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !mz_id_valid(e->d_name))
			continue;
		char *dir = job_dir(e->d_name);
		char *jpath = mz_asprintf("%s/job.json", dir);
		json_t *job = mz_json_read_file(jpath);
		if (json_is_object(job)) {
			add_state(job, dir);
			json_array_append(out, job);
		}
		json_decref(job);
		free(jpath);
		free(dir);
	}
	if (d)
		closedir(d);
	return out;
}

/* ---- API reads ----------------------------------------------------------------------- */

char *
mz_cloud_job_log(const char *job_id, size_t max, json_t **job_out)
{
	if (!g_jobs || !mz_id_valid(job_id))
		return NULL;
	char *dir = job_dir(job_id);
	char *jpath = mz_asprintf("%s/job.json", dir);
	json_t *job = mz_json_read_file(jpath);
	char *out = NULL;
	if (job) {
		out = log_tail(dir, max);
		if (job_out) {
			add_state(job, dir);
			*job_out = json_incref(job);
		}
	}
	json_decref(job);
	free(dir);
	free(jpath);
	return out;
}

/* ---- retention ---------------------------------------------------------------------- */

/* A job's directory (its workspace, log and outputs' sources) is of no use
 * once its execution is gone from the store (retention pruned it, or it
 * was deleted): the published artifacts live in the artifact store. A job
 * whose processes still run is never touched; a directory without job.json
 * (a start that died before recording it) goes once older than maxAgeDays. */
static void
prune_jobs(const mz_prune_ctx *pc, void *udata)
{
	(void)udata;
	DIR *d = g_jobs ? opendir(g_jobs) : NULL;
	if (!d)
		return;
	json_t *jobs = json_object(); /* job id -> execution id */
	json_t *execs = json_array();
	struct dirent *e;
	int removed = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !mz_id_valid(e->d_name))
			continue;
		char *dir = job_dir(e->d_name);
		char *jpath = mz_asprintf("%s/job.json", dir);
		json_t *job = mz_json_read_file(jpath);
		struct stat sb;
		if (!job) {
			if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) &&
			    (int64_t)sb.st_mtime * 1000 < pc->before_ms && mz_proc_rm_rf(dir) == 0)
				removed++;
		} else if (!job_alive(job) && mz_json_str(job, "executionId")) {
			json_object_set_new(jobs, e->d_name, json_string(mz_json_str(job, "executionId")));
			json_array_append_new(execs, json_string(mz_json_str(job, "executionId")));
		}
		json_decref(job);
		free(dir);
		free(jpath);
	}
	closedir(d);
	mz_err err = {0};
	json_t *present = NULL;
	if (json_array_size(execs) &&
	    mz_retention_exec_statuses(pc->st, execs, &present, &err) != MZ_OK)
		mz_warn("retention: runJob workspaces: %s", err.msg);
	const char *job_id;
	json_t *exec_id;
	json_object_foreach(present ? jobs : NULL, job_id, exec_id) {
		if (json_object_get(present, json_string_value(exec_id)))
			continue;
		char *dir = job_dir(job_id);
		if (mz_proc_rm_rf(dir) == 0)
			removed++;
		else
			mz_warn("retention: cannot remove %s", dir);
		free(dir);
	}
	if (removed)
		mz_info("retention: removed %d runJob workspaces", removed);
	json_decref(present);
	json_decref(jobs);
	json_decref(execs);
}

/* The files builds published (artifacts_prune.c says what goes). */
static void
prune_artifacts(const mz_prune_ctx *pc, void *udata)
{
	(void)udata;
	mz_artifacts_prune(pc->st, pc->before_ms);
}

/* ---- registration ------------------------------------------------------------------- */

static mz_code
run_job_plan(mz_plan *p, mz_err *err)
{
	(void)err;
	mz_plan_task(p, "runJob");
	mz_plan_task(p, "waitOnJobCompletion");
	return MZ_OK;
}

static const mz_task_def job_tasks[] = {
	/* a job is processes and files on the node that started it: every
	 * look at it, and its cancel, runs there (engine_route.c) */
	{.name = "runJob", .impl_class = ORCA_JOB "RunJobTask", .execute = run_job_task,
	 .flags = MZ_TASK_EXTERNAL | MZ_TASK_ON_NODE, .on_cancel = job_cancel},
	{.name = "waitOnJobCompletion", .impl_class = ORCA_JOB "WaitOnJobCompletion",
	 .execute = wait_job_task, .backoff_ms = JOB_POLL_MS,
	 .flags = MZ_TASK_EXTERNAL | MZ_TASK_ON_NODE, .on_cancel = job_cancel},
};

/* At save and at run: `"sandbox": false` only where the config allows it. */
static mz_code
run_job_validate(const json_t *stage, mz_err *err)
{
	return mz_proc_check_stage_sandbox(stage, err);
}

static const mz_stage_def job_stage = {.type = "runJob", .plan = run_job_plan,
                                       .validate = run_job_validate};

void
mz_cloud_register_jobs(mz_cloud *cloud, const char *data_dir)
{
	(void)cloud;
	mz_err err = {0};
	free(g_jobs);
	g_jobs = mz_asprintf("%s/jobs", data_dir);
	mz_mkdirs(g_jobs, 0755);
	mz_proc_sandbox_hide(data_dir);
	if (mz_artifacts_init(data_dir, &err) != MZ_OK)
		mz_warn("runJob: %s", err.msg);
	for (size_t i = 0; i < sizeof(job_tasks) / sizeof(job_tasks[0]); i++)
		mz_engine_register_task(&job_tasks[i]);
	mz_engine_register_stage(&job_stage);
	mz_engine_register_pruner("runJob workspaces", prune_jobs, NULL);
	mz_engine_register_pruner("artifact store", prune_artifacts, NULL);
}

mz_local *
mz_cloud_local(mz_cloud *cloud)
{
	return cloud ? cloud->local : NULL;
}
