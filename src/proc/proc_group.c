/*
 * proc_group.c - processes started earlier, maybe by an earlier server:
 * recognising them (pid plus start time from /proc, since pids are
 * recycled), reaping children, killing process groups; and the rm -rf
 * helper.
 */
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Field 3 (state) and field 22 (starttime) of /proc/<pid>/stat. */
static bool
proc_stat(pid_t pid, char *state, uint64_t *ticks)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the name may hold spaces and ')' */
	if (!p || p[1] != ' ')
		return false;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
	}
	*ticks = strtoull(p, NULL, 10);
	return true;
}

uint64_t
mz_proc_start_ticks(pid_t pid)
{
	char state;
	uint64_t ticks;
	if (pid <= 0 || !proc_stat(pid, &state, &ticks))
		return 0;
	return state == 'Z' || state == 'X' ? 0 : ticks;
}

bool
mz_proc_alive(pid_t pid, uint64_t start_ticks)
{
	uint64_t t = mz_proc_start_ticks(pid);
	return t != 0 && t == start_ticks;
}

bool
mz_proc_reap(pid_t pid, int *code)
{
	int st = 0;
	pid_t w;
	if (pid <= 0)
		return false;
	while ((w = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR)
		;
	if (w != pid)
		return false;
	if (code)
		*code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
	return true;
}

static void
nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
mz_proc_kill_group(pid_t pid, uint64_t start_ticks, int grace_ms)
{
	if (pid <= 1 || !mz_proc_alive(pid, start_ticks)) {
		mz_proc_reap(pid, NULL);
		return;
	}
	/* the process leads its own session and group: signal the group */
	if (kill(-pid, SIGTERM) != 0)
		kill(pid, SIGTERM);
	int64_t deadline = mz_mono_ms() + grace_ms;
	while (mz_mono_ms() < deadline) {
		mz_proc_reap(pid, NULL);
		if (!mz_proc_alive(pid, start_ticks))
			goto rest;
		nap_ms(20);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	for (int i = 0; i < 100 && mz_proc_alive(pid, start_ticks); i++) {
		mz_proc_reap(pid, NULL);
		nap_ms(10);
	}
rest:
	/* the leader is gone; whatever is left in its group goes too */
	kill(-pid, SIGKILL);
	mz_proc_reap(pid, NULL);
}

char *
mz_proc_log_tail(const char *path, size_t max)
{
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return mz_strdup("");
	}
	size_t size = (size_t)st.st_size, take = size < max ? size : max;
	char *out = malloc(take + 1);
	if (!out)
		abort();
	ssize_t n = pread(fd, out, take, (off_t)(size - take));
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return out;
}

int
mz_proc_rm_rf(const char *path)
{
	if (!path || !*path || strcmp(path, "/") == 0)
		return -1;
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	/* read-only trees (images are chmod a-w) need write permission back
	 * when the server is not root */
	const char *const chmod_argv[] = {"chmod", "-R", "u+w", "--", path, NULL};
	const char *const rm_argv[] = {"rm", "-rf", "--", path, NULL};
	mz_proc_run_argv(chmod_argv, NULL, 600000);
	return mz_proc_run_argv(rm_argv, NULL, 600000);
}
