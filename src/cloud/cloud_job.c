/*
 * cloud_job.c - the runJob stage on the local provider (Orca's RunJobStage
 * with Clouddriver's job model, reference §6.8): a build runs as a job.
 *
 * A job is a directory <data>/jobs/<jobId>/ with job.json (pid and start
 * ticks of the job's monitor, start time, timeout), log (stdout and stderr
 * of every step, appended while it runs), workspace/ (the git checkout and
 * the build's files) and, once it is over, exit (the exit status).
 *
 * Process tree: the server forks a short-lived child that forks the
 * monitor and exits, so the monitor is nobody's child and outlives a server
 * restart. The monitor calls setsid() (its pid is the job's process group),
 * runs the steps one after the other (git clone, git checkout, then the
 * command inside bubblewrap with resource limits), writes the exit status
 * to `exit` and exits. Everything between fork and exec is
 * async-signal-safe: argv, environment, paths and log lines are prepared
 * before the fork. Timeouts and cancels signal the whole group (SIGTERM,
 * then SIGKILL); bwrap runs with --unshare-pid and --die-with-parent, so a
 * build's children go with it.
 *
 * Sandbox: / read-only, a private /tmp, /dev and /proc, mizzen's data
 * directory hidden under an empty tmpfs, and only the workspace writable.
 */
#include "cloud/cloud_int.h"
#include "engine/artifacts.h"
#include "engine/engine_int.h"

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
static char *g_data;     /* realpath of the data dir (masked in the sandbox) */

/* ---- small helpers ------------------------------------------------------------ */

typedef struct strv {
	char **v;
	size_t n, cap;
} strv;

static void
sv_add(strv *s, char *str)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = realloc(s->v, s->cap * sizeof(char *));
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

static void
sv_free(strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Start time (field 22 of /proc/<pid>/stat) and whether it is a zombie. */
static uint64_t
proc_ticks(pid_t pid, bool *zombie)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p += 2; /* state */
	if (zombie)
		*zombie = *p == 'Z' || *p == 'X';
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtoull(p, NULL, 10) : 0;
}

static bool
job_alive(const json_t *job)
{
	pid_t pid = (pid_t)mz_json_int(job, "pid", 0);
	bool zombie = false;
	if (pid <= 0)
		return false;
	uint64_t t = proc_ticks(pid, &zombie);
	return t != 0 && !zombie && t == (uint64_t)mz_json_int(job, "startTicks", 0);
}

static char *
job_dir(const char *job_id)
{
	return mz_asprintf("%s/%s", g_jobs, job_id);
}

static bool
valid_job_id(const char *id)
{
	if (!id || !*id || strlen(id) > 120 || id[0] == '.')
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			return false;
	return true;
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
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return mz_strdup("");
	struct stat st;
	fstat(fd, &st);
	size_t size = (size_t)st.st_size, take = size < max ? size : max;
	char *out = malloc(take + 1);
	ssize_t n = pread(fd, out, take, (off_t)(size - take));
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return out;
}

/* ---- spawning ------------------------------------------------------------------- */

typedef struct step {
	char **argv;
	char **envp;
	const char *cwd;
	const char *header;
	bool limits;
} step;

typedef struct limits {
	struct rlimit cpu, nofile, fsize, core, as;
	bool has_cpu, has_as;
} limits;

static void
put_num(int fd, long v)
{
	char b[24];
	int i = (int)sizeof(b);
	bool neg = v < 0;
	unsigned long u = neg ? (unsigned long)(-v) : (unsigned long)v;
	do {
		b[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u && i > 1);
	if (neg)
		b[--i] = '-';
	(void)!write(fd, b + i, sizeof(b) - (size_t)i);
}

/* Runs in the monitor (async-signal-safe only). */
static void
monitor(step *steps, int nsteps, const limits *lim, int logfd, int nullfd, const char *exit_tmp,
        const char *exit_path)
{
	int code = 0;
	for (int i = 0; i < nsteps; i++) {
		(void)!write(logfd, steps[i].header, strlen(steps[i].header));
		pid_t c = fork();
		if (c < 0) {
			code = 126;
			break;
		}
		if (c == 0) {
			dup2(nullfd, 0);
			dup2(logfd, 1);
			dup2(logfd, 2);
			if (steps[i].limits) {
				setrlimit(RLIMIT_NOFILE, &lim->nofile);
				setrlimit(RLIMIT_FSIZE, &lim->fsize);
				setrlimit(RLIMIT_CORE, &lim->core);
				if (lim->has_cpu)
					setrlimit(RLIMIT_CPU, &lim->cpu);
				if (lim->has_as)
					setrlimit(RLIMIT_AS, &lim->as);
			}
			if (steps[i].cwd && chdir(steps[i].cwd) != 0)
				_exit(126);
			execve(steps[i].argv[0], steps[i].argv, steps[i].envp);
			_exit(127);
		}
		int st = 0;
		while (waitpid(c, &st, 0) < 0) {
			if (errno != EINTR) {
				st = 126 << 8;
				break;
			}
		}
		code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
		if (code != 0)
			break;
	}
	int fd = open(exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		put_num(fd, code);
		(void)!write(fd, code ? " failed\n" : " ok\n", code ? 8 : 4);
		fsync(fd);
		close(fd);
		rename(exit_tmp, exit_path);
	}
}

/* Starts the monitor; returns its pid (the job's process group) or -1. */
static pid_t
spawn_job(step *steps, int nsteps, const limits *lim, const char *dir, mz_err *err)
{
	char *logp = mz_asprintf("%s/log", dir);
	char *exit_tmp = mz_asprintf("%s/exit.tmp", dir);
	char *exit_path = mz_asprintf("%s/exit", dir);
	int logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int pfd[2] = {-1, -1};
	pid_t mpid = -1;
	if (logfd < 0 || nullfd < 0 || pipe2(pfd, O_CLOEXEC) != 0) {
		mz_fail(err, MZ_EIO, "cannot prepare the job: %s", strerror(errno));
		goto out;
	}
	pid_t a = fork();
	if (a < 0) {
		mz_fail(err, MZ_EIO, "fork: %s", strerror(errno));
		goto out;
	}
	if (a == 0) {
		pid_t m = fork();
		if (m != 0)
			_exit(m < 0 ? 1 : 0);
		/* the monitor */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < 32; s++)
			if (s != SIGKILL && s != SIGSTOP)
				signal(s, SIG_DFL);
		setsid();
		pid_t me = getpid();
		(void)!write(pfd[1], &me, sizeof(me));
		close(pfd[1]);
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		/* The monitor is a fork that never execs: without this it would
		 * keep every descriptor of the server (its listening socket, the
		 * database) open for the job's whole life, and a restarted server
		 * could not bind its port. From here on fd 1 is the log and fd 0
		 * /dev/null. */
		syscall(SYS_close_range, 3U, ~0U, 0U);
		monitor(steps, nsteps, lim, 1, 0, exit_tmp, exit_path);
		_exit(0);
	}
	close(pfd[1]);
	pfd[1] = -1;
	int st;
	while (waitpid(a, &st, 0) < 0 && errno == EINTR)
		;
	ssize_t n;
	do {
		n = read(pfd[0], &mpid, sizeof(mpid));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(mpid)) {
		mpid = -1;
		mz_fail(err, MZ_EIO, "the job's monitor did not start");
	}
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	free(logp);
	free(exit_tmp);
	free(exit_path);
	return mpid;
}

/* SIGTERM to the group, a grace period, then SIGKILL. */
static void
kill_job(const json_t *job, int grace_ms)
{
	pid_t pid = (pid_t)mz_json_int(job, "pid", 0);
	if (pid <= 1 || !job_alive(job))
		return;
	kill(-pid, SIGTERM);
	for (int waited = 0; waited < grace_ms && job_alive(job); waited += 50) {
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	kill(-pid, SIGKILL);
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
	strv bw = {0}, env_cmd = {0}, env_git = {0}, clone = {0}, checkout = {0};
	char *h_clone = NULL, *h_checkout = NULL, *h_cmd = NULL;
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
	sv_add(&env_git, mz_strdup(path_env));
	sv_add(&env_git, mz_asprintf("HOME=%s", dir));
	sv_add(&env_git, mz_strdup("GIT_TERMINAL_PROMPT=0"));
	sv_add(&env_git, mz_strdup("LANG=C.UTF-8"));
	sv_add(&env_cmd, mz_strdup(path_env));
	sv_add(&env_cmd, mz_asprintf("HOME=%s", ws));
	sv_add(&env_cmd, mz_strdup("LANG=C.UTF-8"));
	sv_add(&env_cmd, mz_asprintf("WORKSPACE=%s", ws));
	sv_add(&env_cmd, mz_asprintf("MIZZEN_JOB_ID=%s", job_id));
	sv_add(&env_cmd, mz_asprintf("MIZZEN_EXECUTION_ID=%s", mz_json_str(c->execution, "id")));
	{
		const char *k;
		json_object_foreach(json_object_get(ctx, "env"), k, v) {
			if (!*k || strchr(k, '='))
				continue;
			if (json_is_string(v))
				sv_add(&env_cmd, mz_asprintf("%s=%s", k, json_string_value(v)));
			else {
				char *s = mz_json_dump(v);
				sv_add(&env_cmd, mz_asprintf("%s=%s", k, s));
				free(s);
			}
		}
	}
	/* steps */
	step steps[3];
	int nsteps = 0;
	if (url) {
		sv_add(&clone, mz_strdup("/usr/bin/git"));
		sv_add(&clone, mz_strdup("clone"));
		sv_add(&clone, mz_strdup("--quiet"));
		sv_add(&clone, mz_strdup("--"));
		sv_add(&clone, mz_strdup(url));
		sv_add(&clone, mz_strdup(ws));
		h_clone = strv_header(clone.v);
		steps[nsteps++] = (step){clone.v, env_git.v, dir, h_clone, false};
		if (ref && *ref) {
			sv_add(&checkout, mz_strdup("/usr/bin/git"));
			sv_add(&checkout, mz_strdup("checkout"));
			sv_add(&checkout, mz_strdup("--quiet"));
			sv_add(&checkout, mz_strdup("--detach"));
			sv_add(&checkout, mz_strdup(ref));
			sv_add(&checkout, mz_strdup("--"));
			h_checkout = strv_header(checkout.v);
			steps[nsteps++] = (step){checkout.v, env_git.v, ws, h_checkout, false};
		}
	}
	bool sandbox = mz_json_bool(ctx, "sandbox", true);
	if (sandbox) {
		const char *fixed[] = {"/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev", "/dev",
		                       "--proc", "/proc", "--tmpfs", "/tmp", "--unshare-pid",
		                       "--unshare-ipc", "--unshare-uts", "--die-with-parent", NULL};
		for (int j = 0; fixed[j]; j++)
			sv_add(&bw, mz_strdup(fixed[j]));
		if (g_data) {
			sv_add(&bw, mz_strdup("--tmpfs"));
			sv_add(&bw, mz_strdup(g_data));
		}
		sv_add(&bw, mz_strdup("--bind"));
		sv_add(&bw, mz_strdup(ws));
		sv_add(&bw, mz_strdup(ws));
		sv_add(&bw, mz_strdup("--chdir"));
		sv_add(&bw, mz_strdup(ws));
		sv_add(&bw, mz_strdup("--"));
	}
	json_array_foreach(command, i, v) {
		const char *a = json_string_value(v);
		if (i == 0 && !sandbox && !strchr(a, '/')) {
			/* without bwrap (which searches PATH) find the program ourselves */
			static const char *const dirs[] = {"/usr/local/bin", "/usr/bin", "/bin", NULL};
			char *found = NULL;
			for (int d = 0; dirs[d] && !found; d++) {
				char *p = mz_asprintf("%s/%s", dirs[d], a);
				if (access(p, X_OK) == 0)
					found = p;
				else
					free(p);
			}
			sv_add(&bw, found ? found : mz_strdup(a));
		} else {
			sv_add(&bw, mz_strdup(a));
		}
	}
	{
		char **shown = bw.v;
		for (size_t k = 0; sandbox && k < bw.n; k++)
			if (strcmp(bw.v[k], "--") == 0) {
				shown = bw.v + k + 1;
				break;
			}
		h_cmd = strv_header(shown);
	}
	steps[nsteps++] = (step){bw.v, env_cmd.v, ws, h_cmd, true};

	limits lim = {0};
	json_t *lj = json_object_get(ctx, "limits");
	lim.nofile.rlim_cur = lim.nofile.rlim_max = (rlim_t)mz_json_int(lj, "openFiles", 4096);
	lim.fsize.rlim_cur = lim.fsize.rlim_max =
		(rlim_t)mz_json_int(lj, "fileSizeMB", 4096) * 1024 * 1024;
	lim.core.rlim_cur = lim.core.rlim_max = 0;
	if (mz_json_int(lj, "cpuSeconds", 0) > 0) {
		lim.has_cpu = true;
		lim.cpu.rlim_cur = lim.cpu.rlim_max = (rlim_t)mz_json_int(lj, "cpuSeconds", 0);
	}
	if (mz_json_int(lj, "memoryMB", 0) > 0) {
		lim.has_as = true;
		lim.as.rlim_cur = lim.as.rlim_max = (rlim_t)mz_json_int(lj, "memoryMB", 0) * 1024 * 1024;
	}

	/* record the intent first: a crash after the spawn finds job.json */
	mz_err err = {0};
	int64_t started = mz_now_ms();
	pid_t pid = spawn_job(steps, nsteps, &lim, dir, &err);
	if (pid < 0) {
		mz_task_result_set(r, "TERMINAL", "runJob: %s", err.msg);
		goto out;
	}
	job = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s?, s:s?, s:s?}", "jobId", job_id,
	                "pid", (json_int_t)pid, "startTicks", (json_int_t)proc_ticks(pid, NULL),
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
	sv_free(&bw);
	sv_free(&env_cmd);
	sv_free(&env_git);
	sv_free(&clone);
	sv_free(&checkout);
	free(h_clone);
	free(h_checkout);
	free(h_cmd);
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
			char *argv[] = {"/usr/bin/tar", "-C", real, "-czf", src, ".", NULL};
			mz_buf ob;
			mz_buf_init(&ob, 0);
			pid_t p = fork();
			if (p == 0) {
				int nul = open("/dev/null", O_RDWR);
				dup2(nul, 0);
				dup2(nul, 1);
				dup2(nul, 2);
				execv(argv[0], argv);
				_exit(127);
			}
			int stt = 0;
			while (p > 0 && waitpid(p, &stt, 0) < 0 && errno == EINTR)
				;
			mz_buf_release(&ob);
			if (p < 0 || !WIFEXITED(stt) || WEXITSTATUS(stt) != 0) {
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
			mz_task_result_set(r, "TERMINAL", "output artifact %s: %s", name ? name : rel,
			                   err.msg);
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
	if (!valid_job_id(job_id) || !g_jobs) {
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
	if (!valid_job_id(job_id) || !g_jobs)
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

/* ---- API reads ----------------------------------------------------------------------- */

char *
mz_cloud_job_log(const char *job_id, size_t max, json_t **job_out)
{
	if (!g_jobs || !valid_job_id(job_id))
		return NULL;
	char *dir = job_dir(job_id);
	char *jpath = mz_asprintf("%s/job.json", dir);
	json_t *job = mz_json_read_file(jpath);
	char *out = NULL;
	if (job) {
		out = log_tail(dir, max);
		if (job_out) {
			char reason[64];
			int code = job_exit(dir, reason, sizeof(reason));
			json_object_set_new(job, "jobState",
			                    json_string(code < 0 ? (job_alive(job) ? "Running" : "Unknown")
			                                         : code == 0 ? "Succeeded" : "Failed"));
			if (code >= 0)
				json_object_set_new(job, "exitCode", json_integer(code));
			*job_out = json_incref(job);
		}
	}
	json_decref(job);
	free(dir);
	free(jpath);
	return out;
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
	{.name = "runJob", .impl_class = ORCA_JOB "RunJobTask", .execute = run_job_task,
	 .flags = MZ_TASK_EXTERNAL, .on_cancel = job_cancel},
	{.name = "waitOnJobCompletion", .impl_class = ORCA_JOB "WaitOnJobCompletion",
	 .execute = wait_job_task, .backoff_ms = JOB_POLL_MS, .flags = MZ_TASK_EXTERNAL,
	 .on_cancel = job_cancel},
};

static const mz_stage_def job_stage = {.type = "runJob", .plan = run_job_plan};

void
mz_cloud_register_jobs(mz_cloud *cloud, const char *data_dir)
{
	(void)cloud;
	mz_err err = {0};
	free(g_jobs);
	free(g_data);
	g_jobs = mz_asprintf("%s/jobs", data_dir);
	mz_mkdirs(g_jobs, 0755);
	g_data = realpath(data_dir, NULL);
	if (mz_artifacts_init(data_dir, &err) != MZ_OK)
		mz_warn("runJob: %s", err.msg);
	for (size_t i = 0; i < sizeof(job_tasks) / sizeof(job_tasks[0]); i++)
		mz_engine_register_task(&job_tasks[i]);
	mz_engine_register_stage(&job_stage);
}

mz_local *
mz_cloud_local(mz_cloud *cloud)
{
	return cloud ? cloud->local : NULL;
}
