/*
 * local_proc.c - free ports and a tiny blocking HTTP client for health
 * checks (processes are started and recognised by src/proc).
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
