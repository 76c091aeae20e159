/*
 * bench_start.c - time from fork/exec of a server to its first
 * `GET /health` 200, polled with a raw socket in a tight loop (1 ms sleeps
 * between refused connects), so the figure carries no client start-up cost.
 *
 * Usage: bench_start [--runs N] [--timeout-ms T] [--file TEMPLATE:NAME]...
 *                    [--label L] -- CMD ARG...
 * Every run gets a fresh empty directory and a fresh free port on
 * 127.0.0.1; "{DIR}" and "{PORT}" are replaced by them in the command's
 * arguments and in each --file template, which is written to DIR/NAME
 * before the start (e.g. an nginx config). The server runs in its own
 * process group, is stopped with SIGTERM (SIGKILL after 2 s) and its
 * directory removed after each run.
 *
 * Prints each run in ms, then a line for bench/run:
 *   START|label|median_ms|p90_ms|min_ms|max_ms|runs|failures
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 200
#define MAX_FILES 8

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A port the kernel considers free right now. */
static int
free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("bench_start: free port");
		exit(1);
	}
	close(fd);
	return ntohs(a.sin_port);
}

/* Returns a malloc'd copy of s with {DIR} and {PORT} replaced. */
static char *
subst(const char *s, const char *dir, const char *port)
{
	size_t cap = strlen(s) + 1, len = 0;
	for (const char *p = s; (p = strchr(p, '{')); p++)
		cap += strlen(dir) + strlen(port);
	char *out = malloc(cap);
	while (*s) {
		if (strncmp(s, "{DIR}", 5) == 0) {
			len += (size_t)sprintf(out + len, "%s", dir);
			s += 5;
		} else if (strncmp(s, "{PORT}", 6) == 0) {
			len += (size_t)sprintf(out + len, "%s", port);
			s += 6;
		} else {
			out[len++] = *s++;
		}
	}
	out[len] = 0;
	return out;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "bench_start: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *buf = malloc((size_t)n + 1);
	buf[fread(buf, 1, (size_t)n, f)] = 0;
	fclose(f);
	return buf;
}

/* One attempt: true when the server answered GET /health with a 200. */
static bool
health_ok(int port)
{
	static const char req[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                          "Connection: close\r\n\r\n";
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {1, 0};
	char buf[64];
	size_t got = 0;
	bool ok = false;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
		while (got < 12) {
			ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		buf[got] = 0;
		ok = got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0;
	}
	close(fd);
	return ok;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
stop_group(pid_t pid)
{
	int status;
	kill(-pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			goto reaped;
		sleep_ms(10);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
reaped:
	kill(-pid, SIGKILL); /* stragglers of the group (e.g. nginx workers) */
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"runs", required_argument, NULL, 'r'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"file", required_argument, NULL, 'f'},
		{"label", required_argument, NULL, 'l'},
		{NULL, 0, NULL, 0},
	};
	int runs = 20, timeout_ms = 10000, nfiles = 0, c;
	const char *label = "server";
	char *tmpl[MAX_FILES], *fname[MAX_FILES];

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'r': runs = atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'l': label = optarg; break;
		case 'f': {
			char *colon = strrchr(optarg, ':');
			if (!colon || nfiles == MAX_FILES) {
				fprintf(stderr, "bench_start: --file TEMPLATE:NAME\n");
				return 2;
			}
			*colon = 0;
			tmpl[nfiles] = slurp(optarg);
			fname[nfiles++] = colon + 1;
			break;
		}
		default: goto usage;
		}
	}
	if (optind >= argc || runs <= 0 || runs > MAX_RUNS)
		goto usage;
	signal(SIGPIPE, SIG_IGN);

	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int ncmd = argc - optind, failures = 0, ok = 0;
	double ms[MAX_RUNS];
	printf("%s: start to /health 200 (ms):", label);
	fflush(stdout);
	for (int r = 0; r < runs; r++) {
		char dir[512], port[16], path[1024];
		snprintf(dir, sizeof(dir), "%s/mz-bench-start-XXXXXX", base);
		if (!mkdtemp(dir) || chmod(dir, 0755) != 0) {
			perror("bench_start: mkdtemp");
			return 1;
		}
		int p = free_port();
		snprintf(port, sizeof(port), "%d", p);
		for (int i = 0; i < nfiles; i++) {
			char *text = subst(tmpl[i], dir, port);
			snprintf(path, sizeof(path), "%s/%s", dir, fname[i]);
			FILE *f = fopen(path, "w");
			if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
				perror(path);
				return 1;
			}
			free(text);
		}
		char **av = calloc((size_t)ncmd + 1, sizeof(char *));
		for (int i = 0; i < ncmd; i++)
			av[i] = subst(argv[optind + i], dir, port);
		snprintf(path, sizeof(path), "%s/server.log", dir);

		double t0 = now_ms();
		pid_t pid = fork();
		if (pid == 0) {
			setpgid(0, 0);
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
			execvp(av[0], av);
			_exit(127);
		}
		setpgid(pid, pid); /* either side may win the race */
		double elapsed = -1;
		for (;;) {
			if (health_ok(p)) {
				elapsed = now_ms() - t0;
				break;
			}
			int status;
			if (waitpid(pid, &status, WNOHANG) == pid) {
				fprintf(stderr, "\nbench_start: %s exited before /health (see below)\n",
				        av[0]);
				char *log = slurp(path);
				fprintf(stderr, "%s\n", log);
				free(log);
				pid = 0;
				break;
			}
			if (now_ms() - t0 > timeout_ms)
				break;
			sleep_ms(1);
		}
		if (pid > 0)
			stop_group(pid);
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		for (int i = 0; i < ncmd; i++)
			free(av[i]);
		free(av);
		if (elapsed < 0) {
			failures++;
			printf(" fail");
		} else {
			ms[ok++] = elapsed;
			printf(" %.1f", elapsed);
		}
		fflush(stdout);
	}
	printf("\n");
	if (ok == 0) {
		printf("START|%s|-|-|-|-|%d|%d\n", label, runs, failures);
		return 1;
	}
	qsort(ms, (size_t)ok, sizeof(double), cmp_double);
	double med = ok % 2 ? ms[ok / 2] : (ms[ok / 2 - 1] + ms[ok / 2]) / 2;
	int k = (int)((ok * 9 + 9) / 10) - 1; /* nearest rank: ceil(0.9 n) */
	printf("%s: median %.1f ms, p90 %.1f ms, min %.1f, max %.1f (%d runs, %d failed)\n", label,
	       med, ms[k], ms[0], ms[ok - 1], ok, failures);
	printf("START|%s|%.1f|%.1f|%.1f|%.1f|%d|%d\n", label, med, ms[k], ms[0], ms[ok - 1], runs,
	       failures);
	return failures ? 1 : 0;
usage:
	fprintf(stderr, "usage: bench_start [--runs N] [--timeout-ms T] [--file TEMPLATE:NAME]... "
	                "[--label L] -- CMD ARG...\n");
	return 2;
}
