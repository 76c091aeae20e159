/*
 * local_proc.c - free ports and health checks over src/httpc (processes are
 * started and recognised by src/proc).
 */
#include "cloud/local/local_int.h"
#include "httpc/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LP_HEALTH_MAX_BODY ((size_t)64 << 10)

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
	char *url = mz_asprintf("http://127.0.0.1:%d%s%s", port,
	                        path && *path == '/' ? "" : "/", path ? path : "");
	/* The provider chose the address (loopback, the instance's own port),
	 * so the outbound policy is not asked; the client's caps still hold. */
	mz_httpc_req rq = {.url = url, .timeout_ms = timeout_ms > 0 ? timeout_ms : 1000,
	                   .max_body = LP_HEALTH_MAX_BODY, .user_agent = "mizzen-health",
	                   .trusted = true};
	mz_httpc_resp rs;
	mz_httpc_do(&rq, &rs, NULL);
	/* a status came back, even with an oversized body */
	int status = rs.status > 0 ? (int)rs.status : -1;
	if (body && rs.status > 0)
		mz_buf_add(body, rs.body.data, rs.body.len);
	mz_httpc_resp_release(&rs);
	free(url);
	return status;
}
