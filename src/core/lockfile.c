/*
 * lockfile.c - one server per data directory.
 *
 * Two servers on one data directory would both adopt the same instances,
 * rewrite the same HAProxy config and run the same jobs: the second breaks
 * the first. flock() is the right lock for this: it belongs to the open
 * file, the kernel releases it when the process dies however it dies (so
 * a kill -9 never leaves a stale lock behind, unlike a pid file), and
 * O_CLOEXEC keeps it out of the processes we start (instances and HAProxy
 * outlive the server and must not hold it).
 */
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int held_fd = -1;

int
mz_data_dir_lock_fd(void)
{
	return held_fd;
}

int
mz_lock_data_dir(const char *dir, mz_err *err)
{
	char *path = mz_asprintf("%s/mizzen.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		mz_fail(err, MZ_EIO, "cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (e == EWOULDBLOCK)
			mz_fail(err, MZ_ECONFLICT, "the data directory %s is in use by another "
			        "mizzen server%s%s%s (it holds %s); stop it or give this one "
			        "its own --data", dir, *pid ? " (pid " : "", pid, *pid ? ")" : "",
			        path);
		else
			mz_fail(err, MZ_EIO, "cannot lock %s: %s", path, strerror(e));
		close(fd);
		free(path);
		return -1;
	}
	char line[32];
	int len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len)
		mz_warn("cannot write the pid into %s: %s", path, strerror(errno));
	free(path);
	held_fd = fd;
	return fd;
}
