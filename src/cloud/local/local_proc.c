/*
 * local_proc.c - processes of the local provider: spawning instances in
 * their own session, recognising them again by pid plus start time, stopping
 * their process group, free ports and a tiny blocking HTTP client for health
 * checks.
 */
#include "cloud/local/local_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Reads field 3 (state) and field 22 (starttime) of /proc/<pid>/stat. */
static bool
proc_stat(pid_t pid, char *state, uint64_t *ticks)
{
	char path[64], buf[1024];
	int fd;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return false;
	p += 2;
	*state = *p;
	/* p is field 3; skip to field 22 */
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
lp_proc_start_ticks(pid_t pid)
{
	char state;
	uint64_t ticks;
	if (pid <= 0 || !proc_stat(pid, &state, &ticks))
		return 0;
	if (state == 'Z' || state == 'X') {
		/* ours: reap it; not ours: it is dead all the same */
		waitpid(pid, NULL, WNOHANG);
		return 0;
	}
	return ticks;
}

bool
lp_proc_alive(pid_t pid, uint64_t start_ticks)
{
	uint64_t t = lp_proc_start_ticks(pid);
	if (t == 0) {
		/* reap a child that already went away */
		if (pid > 0)
			waitpid(pid, NULL, WNOHANG);
		return false;
	}
	return t == start_ticks;
}

pid_t
lp_spawn(char *const argv[], char *const envp[], const char *cwd,
         const char *logpath, mz_err *err)
{
	int pfd[2];
	int logfd, nul;
	pid_t pid;
	int child_errno = 0;
	ssize_t n;

	if (!argv || !argv[0]) {
		mz_fail(err, MZ_EINVAL, "no command to run");
		return -1;
	}
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0) {
		mz_fail(err, MZ_EIO, "cannot open /dev/null: %s", strerror(errno));
		return -1;
	}
	logfd = logpath ? open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
	                : fcntl(nul, F_DUPFD_CLOEXEC, 3);
	if (logfd < 0) {
		mz_fail(err, MZ_EIO, "cannot open log %s: %s", logpath ? logpath : "/dev/null",
		        strerror(errno));
		close(nul);
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		mz_fail(err, MZ_EIO, "pipe: %s", strerror(errno));
		close(nul);
		close(logfd);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		mz_fail(err, MZ_EIO, "fork: %s", strerror(errno));
		close(nul);
		close(logfd);
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		/* async-signal-safe calls only from here */
		sigset_t none;
		struct sigaction dfl;
		int e;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		for (int s = 1; s < 65; s++)
			if (s != SIGKILL && s != SIGSTOP)
				sigaction(s, &dfl, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		if (dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			goto fail;
		if (cwd && chdir(cwd) != 0)
			goto fail;
		syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
		execve(argv[0], argv, envp);
	fail:
		e = errno;
		while (write(pfd[1], &e, sizeof(e)) < 0 && errno == EINTR)
			;
		_exit(127);
	}
	close(pfd[1]);
	close(nul);
	close(logfd);
	while ((n = read(pfd[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	close(pfd[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		mz_fail(err, MZ_EIO, "cannot start %s: %s", argv[0], strerror(child_errno));
		return -1;
	}
	return pid;
}

void
lp_stop_group(pid_t pid, uint64_t start_ticks, int grace_ms)
{
	int64_t deadline;
	if (pid <= 0 || !lp_proc_alive(pid, start_ticks))
		return;
	/* the instance leads its own session and group: signal the group */
	if (kill(-pid, SIGTERM) != 0)
		kill(pid, SIGTERM);
	deadline = mz_mono_ms() + grace_ms;
	while (mz_mono_ms() < deadline) {
		if (!lp_proc_alive(pid, start_ticks))
			goto reap_rest;
		lp_sleep_ms(20);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	for (int i = 0; i < 100 && lp_proc_alive(pid, start_ticks); i++)
		lp_sleep_ms(10);
reap_rest:
	/* the leader is gone; whatever is left in its group goes too */
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
}

bool
lp_port_free(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	bool ok;
	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static bool
port_taken(const json_t *taken, int port)
{
	size_t i;
	json_t *v;
	json_array_foreach(taken, i, v)
		if (json_integer_value(v) == port)
			return true;
	return false;
}

int
lp_free_port(const json_t *taken)
{
	for (int attempt = 0; attempt < 50; attempt++) {
		struct sockaddr_in a;
		socklen_t alen = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int port;
		if (fd < 0)
			return -1;
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
			close(fd);
			return -1;
		}
		close(fd);
		port = ntohs(a.sin_port);
		if (!port_taken(taken, port))
			return port;
	}
	return -1;
}

int
lp_http_get(int port, const char *path, int timeout_ms, mz_buf *body)
{
	struct sockaddr_in a;
	int fd, status = -1;
	int64_t deadline = mz_mono_ms() + timeout_ms;
	char req[1200], buf[4096];
	mz_buf resp;
	size_t off = 0, len;
	struct pollfd pfd;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (!path || !*path)
		path = "/";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	mz_buf_init(&resp, 1 << 20);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (errno != EINPROGRESS)
			goto out;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) != 1)
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)
			goto out;
	}
	len = (size_t)snprintf(req, sizeof(req),
	                       "GET %.1000s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
	                       "User-Agent: mizzen-health\r\nConnection: close\r\n\r\n",
	                       path, port);
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				pfd.fd = fd;
				pfd.events = POLLOUT;
				int left = (int)(deadline - mz_mono_ms());
				if (left <= 0 || poll(&pfd, 1, left) != 1)
					goto out;
				continue;
			}
			goto out;
		}
		off += (size_t)n;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				pfd.fd = fd;
				pfd.events = POLLIN;
				int left = (int)(deadline - mz_mono_ms());
				if (left <= 0 || poll(&pfd, 1, left) != 1)
					goto out;
				continue;
			}
			goto out;
		}
		if (mz_buf_add(&resp, buf, (size_t)n) != MZ_OK)
			break;
	}
	if (resp.len >= 12 && strncmp(resp.data, "HTTP/1.", 7) == 0) {
		status = atoi(resp.data + 9);
		if (body) {
			char *b = strstr(resp.data, "\r\n\r\n");
			if (b)
				mz_buf_add(body, b + 4, resp.len - (size_t)(b + 4 - resp.data));
		}
	}
out:
	close(fd);
	mz_buf_release(&resp);
	return status;
}
