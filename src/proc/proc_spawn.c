/*
 * proc_spawn.c - mz_proc_start, mz_proc_wait and the detached supervisor
 * (see proc.h).
 *
 * Process tree of a plain start: server -> the process (setsid: it leads a
 * new session and process group). Of a detached start: server -> a short
 * lived child -> the supervisor (setsid), which the short-lived child
 * leaves behind as nobody's child, so it outlives the server; the
 * supervisor forks each command of the chain in its own group, waits for
 * it and writes the status file. The supervisor never execs: it closes
 * every descriptor of the server it does not need at once (a restarted
 * server must be able to bind its port while a build runs).
 */
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void
mz_strv_add(strv *s, char *owned)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = realloc(s->v, s->cap * sizeof(char *));
		if (!s->v)
			abort();
	}
	s->v[s->n++] = owned;
	s->v[s->n] = NULL;
}

void
mz_strv_free(strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void
mz_strv_add_env(mz_strv *s, const json_t *env)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)env, k, v) {
		if (!*k || strchr(k, '='))
			continue;
		if (json_is_string(v)) {
			mz_strv_add(s, mz_asprintf("%s=%s", k, json_string_value(v)));
		} else {
			char *text = mz_json_dump(v);
			mz_strv_add(s, mz_asprintf("%s=%s", k, text));
			free(text);
		}
	}
}

/* ---- preparing (before the fork) ---------------------------------------- */

static const char *
env_path(const char *const *env)
{
	for (const char *const *e = env; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return *e + 5;
	return DEFAULT_PATH;
}

/* argv[0] as a path: itself when it has a '/', else the first executable
 * of that name in PATH (NULL when there is none). */
static char *
resolve(const char *prog, const char *const *env)
{
	if (strchr(prog, '/'))
		return mz_strdup(prog);
	char *path = mz_strdup(env_path(env));
	char *save = NULL, *found = NULL;
	for (char *d = strtok_r(path, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *c = mz_asprintf("%s/%s", *d ? d : ".", prog);
		if (access(c, X_OK) == 0)
			found = c;
		else
			free(c);
	}
	free(path);
	return found;
}

/* The soft RLIMIT_NOFILE before mz_proc_raise_nofile raised it (set once,
 * before any thread that spawns starts; read-only afterwards). */
static bool g_nofile_saved;
static rlim_t g_nofile_soft;

uint64_t
mz_proc_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (!g_nofile_saved) {
		g_nofile_soft = rl.rlim_cur;
		g_nofile_saved = true;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1 << 20 : rl.rlim_max;
		struct rlimit nl = {.rlim_cur = want, .rlim_max = rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
			rl.rlim_cur = want;
		else
			mz_warn("cannot raise the open-files limit from %llu to %llu: %s",
			        (unsigned long long)rl.rlim_cur, (unsigned long long)want,
			        strerror(errno));
	}
	return rl.rlim_cur == RLIM_INFINITY ? 1 << 20 : (uint64_t)rl.rlim_cur;
}

/* open_files 0: the soft limit the server had before raising its own (the
 * hard limit stays), so a child is not handed the server's. */
static void
add_nofile(prep *s, int64_t v)
{
	struct rlimit rl;
	if (v > 0 || v == MZ_PROC_NOFILE_SERVER || !g_nofile_saved || s->nlimits >= 6 ||
	    getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == g_nofile_soft)
		return;
	s->limits[s->nlimits].res = RLIMIT_NOFILE;
	s->limits[s->nlimits].lim.rlim_cur = g_nofile_soft;
	s->limits[s->nlimits].lim.rlim_max = rl.rlim_max;
	s->nlimits++;
}

static void
add_limit(prep *s, int res, int64_t v)
{
	if (v <= 0 || s->nlimits >= 6)
		return;
	s->limits[s->nlimits].res = res;
	s->limits[s->nlimits].lim.rlim_cur = s->limits[s->nlimits].lim.rlim_max = (rlim_t)v;
	s->nlimits++;
}

mz_code
mz__prep(const mz_proc *p, prep *s, mz_err *err)
{
	memset(s, 0, sizeof(*s));
	s->logfd = -1;
	if (!p->argv || !p->argv[0] || !*p->argv[0])
		return mz_fail(err, MZ_EINVAL, "no command to run");
	for (const char *const *e = p->env; e && *e; e++)
		mz_strv_add(&s->env, mz_strdup(*e));
	if (!s->env.v) { /* an empty environment is still a terminated list */
		s->env.v = calloc(1, sizeof(char *));
		s->env.cap = 1;
	}
	if (p->sandbox) {
		mz__sandbox_args(p->sandbox, p->cwd, s);
		s->sandboxed = true;
		s->path = mz_strdup(MZ_BWRAP);
		s->cwd = mz_strdup("/");
		/* bwrap looks the command up in PATH itself */
		for (const char *const *a = p->argv; *a; a++)
			mz_strv_add(&s->argv, mz_strdup(*a));
	} else {
		s->path = resolve(p->argv[0], p->env);
		if (!s->path) {
			mz__prep_free(s);
			return mz_fail(err, MZ_ENOTFOUND, "cannot run %s: not found in PATH",
			               p->argv[0]);
		}
		s->cwd = mz_strdup(p->cwd ? p->cwd : "/");
		mz_strv_add(&s->argv, mz_strdup(s->path));
		for (const char *const *a = p->argv + 1; *a; a++)
			mz_strv_add(&s->argv, mz_strdup(*a));
	}
	add_limit(s, RLIMIT_NOFILE, p->limits.open_files);
	add_nofile(s, p->limits.open_files);
	add_limit(s, RLIMIT_FSIZE, p->limits.file_size_mb * 1024 * 1024);
	add_limit(s, RLIMIT_CPU, p->limits.cpu_seconds);
	add_limit(s, RLIMIT_AS, p->limits.memory_mb * 1024 * 1024);
	if (p->limits.no_core && s->nlimits < 6) {
		s->limits[s->nlimits].res = RLIMIT_CORE;
		s->limits[s->nlimits].lim.rlim_cur = s->limits[s->nlimits].lim.rlim_max = 0;
		s->nlimits++;
	}
	if (p->log_header)
		s->header = mz_strdup(p->log_header);
	if (!p->capture && p->log_path) {
		s->logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (s->logfd < 0) {
			mz_code rc = mz_fail(err, MZ_EIO, "cannot open the log %s: %s", p->log_path,
			                     strerror(errno));
			mz__prep_free(s);
			return rc;
		}
	}
	return MZ_OK;
}

void
mz__prep_free(prep *s)
{
	mz_strv_free(&s->argv);
	mz_strv_free(&s->env);
	mz_strv_free(&s->own);
	free(s->path);
	free(s->cwd);
	free(s->header);
	if (s->logfd >= 0)
		close(s->logfd);
	s->logfd = -1;
	mz_strv_free(&s->stage);
}

/* ---- the child side (async-signal-safe only) ---------------------------- */

void
mz__child_signals(void)
{
	struct sigaction dfl;
	sigset_t none;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

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

static void
say(int fd, const char *a, const char *b)
{
	(void)!write(fd, a, strlen(a));
	if (b)
		(void)!write(fd, b, strlen(b));
}

/* "<prefix><n>" into buf, async-signal-safe. */
static void
cat_num(char *buf, size_t size, const char *prefix, int n)
{
	size_t i = 0;
	for (; prefix[i] && i + 1 < size; i++)
		buf[i] = prefix[i];
	char d[16];
	int k = 0;
	do {
		d[k++] = (char)('0' + n % 10);
		n /= 10;
	} while (n && k < 15);
	while (k > 0 && i + 1 < size)
		buf[i++] = d[--k];
	buf[i] = '\0';
}

/* Child side, still root: a private mount namespace with a tmpfs on
 * MZ_STAGE and each opened bind source mounted on MZ_STAGE/<i>, where the
 * sandbox user's bwrap finds it. Nothing of this is visible on the host. */
static int
stage_binds(const prep *s)
{
	if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return -1;
	/* opened in the new namespace (a bind from another one is refused),
	 * before the tmpfs covers sources that lie under MZ_STAGE */
	int fds[64];
	size_t n = s->stage.n < 64 ? s->stage.n : 64;
	for (size_t i = 0; i < n; i++)
		if ((fds[i] = open(s->stage.v[i], O_PATH | O_CLOEXEC)) < 0)
			return -1;
	if (mount("mizzen-stage", MZ_STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16k") != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char src[40], dst[64];
		struct stat st;
		cat_num(src, sizeof(src), "/proc/self/fd/", fds[i]);
		cat_num(dst, sizeof(dst), MZ_STAGE "/", (int)i);
		if (fstat(fds[i], &st) != 0)
			return -1;
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(dst, 0755) != 0)
				return -1;
		} else {
			int f = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (f < 0)
				return -1;
			close(f);
		}
		if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0)
			return -1;
		close(fds[i]);
	}
	return 0;
}

void
mz__prep_exec(const prep *s, int outfd, int nullfd, int errfd)
{
	int e = 0;
	int lock = mz_data_dir_lock_fd(); /* core.h: not until the exec */
	if (lock >= 0)
		close(lock);
	if (dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		goto fail;
	if (s->header)
		(void)!write(1, s->header, strlen(s->header));
	for (size_t i = 0; i < s->own.n; i++)
		mz__own_tree(s->own.v[i], s->uid, s->gid);
	for (int i = 0; i < s->nlimits; i++)
		setrlimit(s->limits[i].res, &s->limits[i].lim);
	if (chdir(s->cwd) != 0)
		goto fail;
	if (s->stage.n > 0 && stage_binds(s) != 0)
		goto fail;
	if (s->drop) {
		if (setgroups(0, NULL) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0)
			goto fail;
	}
	if (s->sandboxed && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		goto fail;
	/* only 0, 1, 2 (and errfd, close-on-exec) survive the exec */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(s->path, s->argv.v, s->env.v);
fail:
	e = errno;
	say(2, "mizzen: cannot start ", s->argv.v[0]);
	say(2, ": errno ", NULL); /* strerror may allocate: not here */
	put_num(2, e);
	say(2, "\n", NULL);
	if (errfd >= 0)
		while (write(errfd, &e, sizeof(e)) < 0 && errno == EINTR)
			;
	_exit(127);
}

/* ---- the detached supervisor ---------------------------------------------- */

/* Closes every descriptor from 3 up except those in keep (n of them). */
static void
close_all_but(int *keep, int n)
{
	for (int i = 1; i < n; i++) /* insertion sort: n is tiny */
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	unsigned lo = 3;
	for (int i = 0; i < n; i++) {
		if (keep[i] < (int)lo)
			continue;
		if ((unsigned)keep[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0U);
		lo = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0U);
}

static int
status_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

typedef struct chain {
	prep *steps;
	int n;
	char *status_path, *status_tmp;
	int nullfd;
} chain;

/* Runs in the supervisor: each step in turn while they succeed. */
static void __attribute__((noreturn))
supervise(const chain *c)
{
	int code = 0;
	for (int i = 0; i < c->n; i++) {
		const prep *s = &c->steps[i];
		int out = s->logfd >= 0 ? s->logfd : c->nullfd;
		pid_t pid = fork();
		if (pid < 0) {
			code = 126;
			break;
		}
		if (pid == 0)
			mz__prep_exec(s, out, c->nullfd, -1);
		int st = 0;
		while (waitpid(pid, &st, 0) < 0) {
			if (errno != EINTR) {
				st = 126 << 8;
				break;
			}
		}
		code = status_code(st);
		if (code != 0)
			break;
	}
	if (c->status_path) {
		int fd = open(c->status_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			put_num(fd, code);
			say(fd, code ? " failed\n" : " ok\n", NULL);
			fsync(fd);
			close(fd);
			rename(c->status_tmp, c->status_path);
		}
	}
	_exit(code);
}

static mz_code
start_detached(mz_proc *p, mz_err *err)
{
	chain c = {0};
	int pfd[2] = {-1, -1};
	mz_code rc = MZ_OK;
	for (const mz_proc *q = p; q; q = q->then)
		c.n++;
	c.steps = calloc((size_t)c.n, sizeof(prep));
	int k = 0;
	for (const mz_proc *q = p; q; q = q->then, k++) {
		if ((rc = mz__prep(q, &c.steps[k], err)) != MZ_OK) {
			for (int j = 0; j < k; j++)
				mz__prep_free(&c.steps[j]);
			free(c.steps);
			return rc;
		}
	}
	if (p->status_path) {
		c.status_path = mz_strdup(p->status_path);
		c.status_tmp = mz_asprintf("%s.tmp", p->status_path);
	}
	int *keep = calloc((size_t)c.n + 2, sizeof(int));
	int nkeep = 0;
	c.nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (c.nullfd < 0 || pipe2(pfd, O_CLOEXEC) != 0) {
		rc = mz_fail(err, MZ_EIO, "cannot prepare %s: %s", p->argv[0], strerror(errno));
		goto out;
	}
	keep[nkeep++] = c.nullfd;
	for (int i = 0; i < c.n; i++) {
		if (c.steps[i].logfd >= 0)
			keep[nkeep++] = c.steps[i].logfd;
	}
	pid_t a = fork();
	if (a < 0) {
		rc = mz_fail(err, MZ_EIO, "fork: %s", strerror(errno));
		goto out;
	}
	if (a == 0) {
		int lock = mz_data_dir_lock_fd(); /* core.h: not until the exec */
		if (lock >= 0)
			close(lock);
		pid_t m = fork();
		if (m != 0)
			_exit(m < 0 ? 1 : 0);
		mz__child_signals();
		setsid();
		pid_t me = getpid();
		(void)!write(pfd[1], &me, sizeof(me));
		close(pfd[1]);
		dup2(c.nullfd, 0);
		dup2(c.nullfd, 1);
		dup2(c.nullfd, 2);
		close_all_but(keep, nkeep);
		supervise(&c);
	}
	close(pfd[1]);
	pfd[1] = -1;
	int st;
	while (waitpid(a, &st, 0) < 0 && errno == EINTR)
		;
	ssize_t n;
	pid_t mpid = -1;
	do {
		n = read(pfd[0], &mpid, sizeof(mpid));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(mpid)) {
		rc = mz_fail(err, MZ_EIO, "the supervisor of %s did not start", p->argv[0]);
		goto out;
	}
	p->pid = mpid;
	p->start_ticks = mz_proc_start_ticks(mpid);
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (c.nullfd >= 0)
		close(c.nullfd);
	for (int i = 0; i < c.n; i++)
		mz__prep_free(&c.steps[i]);
	free(c.steps);
	free(c.status_path);
	free(c.status_tmp);
	free(keep);
	return rc;
}

/* ---- start, wait, run --------------------------------------------------------- */

mz_code
mz_proc_start(mz_proc *p, mz_err *err)
{
	p->pid = -1;
	p->start_ticks = 0;
	p->out_fd = -1;
	if (p->detach)
		return start_detached(p, err);
	prep s;
	mz_code rc = mz__prep(p, &s, err);
	if (rc != MZ_OK)
		return rc;
	int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int epipe[2] = {-1, -1}, opipe[2] = {-1, -1};
	if (nullfd < 0 || pipe2(epipe, O_CLOEXEC) != 0 ||
	    (p->capture && pipe2(opipe, O_CLOEXEC) != 0)) {
		rc = mz_fail(err, MZ_EIO, "cannot prepare %s: %s", p->argv[0], strerror(errno));
		goto out;
	}
	int outfd = p->capture ? opipe[1] : s.logfd >= 0 ? s.logfd : nullfd;
	pid_t pid = fork();
	if (pid < 0) {
		rc = mz_fail(err, MZ_EIO, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		mz__child_signals();
		setsid();
		mz__prep_exec(&s, outfd, nullfd, epipe[1]);
	}
	close(epipe[1]);
	epipe[1] = -1;
	int child_errno = 0;
	ssize_t n;
	while ((n = read(epipe[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(child_errno)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		rc = mz_fail(err, MZ_EIO, "cannot start %s: %s", p->argv[0], strerror(child_errno));
		goto out;
	}
	p->pid = pid;
	p->start_ticks = mz_proc_start_ticks(pid);
	if (p->capture) {
		p->out_fd = opipe[0];
		opipe[0] = -1;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (epipe[i] >= 0)
			close(epipe[i]);
		if (opipe[i] >= 0)
			close(opipe[i]);
	}
	if (nullfd >= 0)
		close(nullfd);
	mz__prep_free(&s);
	return rc;
}

int
mz_proc_wait(mz_proc *p, mz_buf *out)
{
	if (p->pid <= 0 || p->detach)
		return -1;
	int pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	int64_t now = mz_mono_ms();
	int64_t deadline = p->timeout_ms > 0 ? now + p->timeout_ms : 0, kill_at = 0;
	int grace = p->grace_ms > 0 ? p->grace_ms : 2000;
	bool timed_out = false, exited = false;
	int st = 0;
	for (;;) {
		if (!exited) {
			pid_t w = waitpid(p->pid, &st, WNOHANG);
			if (w == p->pid)
				exited = true;
			else if (w < 0 && errno != EINTR) {
				st = -1;
				exited = true;
			}
		}
		if (exited && p->out_fd < 0)
			break;
		now = mz_mono_ms();
		if (!exited && deadline && now >= deadline && !timed_out) {
			timed_out = true;
			kill(-p->pid, SIGTERM);
			kill_at = now + grace;
		}
		if (!exited && kill_at && now >= kill_at) {
			kill(-p->pid, SIGKILL);
			kill_at = 0;
		}
		int wait_ms = 1000;
		if (deadline && !timed_out)
			wait_ms = (int)(deadline - now);
		else if (kill_at)
			wait_ms = (int)(kill_at - now);
		if (wait_ms < 0)
			wait_ms = 0;
		struct pollfd fds[2];
		int nf = 0;
		if (p->out_fd >= 0)
			fds[nf++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
		if (!exited && pidfd >= 0)
			fds[nf++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (exited)
			wait_ms = 0; /* drain what is there, then stop */
		else if (pidfd < 0 && wait_ms > 20)
			wait_ms = 20;
		int pr = poll(fds, (nfds_t)nf, wait_ms);
		if (pr < 0 && errno != EINTR)
			break;
		if (p->out_fd >= 0 && pr > 0 && fds[0].revents) {
			char buf[8192];
			ssize_t r = read(p->out_fd, buf, sizeof(buf));
			if (r > 0) {
				if (out && (!out->max || out->len + (size_t)r <= out->max))
					mz_buf_add(out, buf, (size_t)r);
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			close(p->out_fd); /* EOF or error */
			p->out_fd = -1;
		} else if (exited && p->out_fd >= 0) {
			/* the process is gone and nothing is left to read now: a
			 * grandchild may hold the pipe, do not wait for it */
			close(p->out_fd);
			p->out_fd = -1;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (p->out_fd >= 0) {
		close(p->out_fd);
		p->out_fd = -1;
	}
	if (timed_out)
		kill(-p->pid, SIGKILL); /* whatever of the group is left */
	p->pid = -1;
	if (st < 0)
		return -1;
	return timed_out ? 124 : status_code(st);
}

int
mz_proc_run(mz_proc *p, mz_buf *out, mz_err *err)
{
	if (mz_proc_start(p, err) != MZ_OK)
		return -1;
	return mz_proc_wait(p, out);
}

int
mz_proc_run_argv(const char *const argv[], mz_buf *out, int timeout_ms)
{
	static const char *const env[] = {"PATH=" DEFAULT_PATH, "LC_ALL=C", NULL};
	mz_proc p = {.argv = argv, .env = env, .capture = out != NULL, .timeout_ms = timeout_ms};
	return mz_proc_run(&p, out, NULL);
}
