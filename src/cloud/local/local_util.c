/* local_util.c - atomic JSON files, running helper programs, Frigga names. */
#include "cloud/local/local_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
lp_write_json(const char *path, const json_t *v)
{
	int rc = mz_json_write_file(path, v, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (rc != 0)
		mz_warn("local: cannot write %s: %s", path, strerror(errno));
	return rc;
}

json_t *
lp_read_json(const char *path)
{
	return mz_json_read_file(path);
}

void
lp_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
lp_run(char *const argv[], mz_buf *out)
{
	int pfd[2] = { -1, -1 };
	pid_t pid;
	int status;

	if (out && pipe2(pfd, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		if (out) {
			close(pfd[0]);
			close(pfd[1]);
		}
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(nul, 0);
		dup2(out ? pfd[1] : nul, 1);
		dup2(out ? pfd[1] : nul, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (out) {
		char chunk[4096];
		ssize_t n;
		close(pfd[1]);
		while ((n = read(pfd[0], chunk, sizeof(chunk))) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (out->len < 65536)
				mz_buf_add(out, chunk, (size_t)n);
		}
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
lp_rm_rf(const char *path)
{
	char *chmod_argv[] = { "/bin/chmod", "-R", "u+w", (char *)path, NULL };
	char *rm_argv[] = { "/bin/rm", "-rf", "--", (char *)path, NULL };
	if (!path || !*path || strcmp(path, "/") == 0)
		return -1;
	if (access(path, F_OK) != 0)
		return 0;
	lp_run(chmod_argv, NULL);
	return lp_run(rm_argv, NULL);
}

/* ---- Frigga ------------------------------------------------------------ */

bool
lp_name_chars(const char *s, bool hyphen)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '.' || c == '_')
			continue;
		if (hyphen && (c == '-' || c == '~' || c == '^'))
			continue;
		return false;
	}
	return true;
}

/* A push token: "v" + 3..6 digits, at the start or after '-', ending at the
 * end or before '-'. */
bool
lp_has_push_token(const char *s)
{
	if (!s)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p != 'v' || (p != s && p[-1] != '-'))
			continue;
		int n = 0;
		while (isdigit((unsigned char)p[1 + n]))
			n++;
		if (n >= 3 && n <= 6 && (p[1 + n] == '\0' || p[1 + n] == '-'))
			return true;
	}
	return false;
}

json_t *
lp_moniker(const char *name)
{
	json_t *m = json_object();
	size_t len = name ? strlen(name) : 0;
	size_t clen = len;
	json_t *seq = json_null();
	char *cluster, *dash, *rest;

	/* push suffix: -v + 3..6 digits at the end */
	if (len > 0) {
		size_t d = 0;
		while (d < len && isdigit((unsigned char)name[len - 1 - d]))
			d++;
		if (d >= 3 && d <= 6 && len >= d + 2 && name[len - 1 - d] == 'v' &&
		    name[len - 2 - d] == '-') {
			clen = len - d - 2;
			seq = json_integer(atol(name + len - d));
		}
	}
	cluster = strndup(name ? name : "", clen);
	json_object_set_new(m, "app", json_null());
	json_object_set_new(m, "cluster", json_null());
	json_object_set_new(m, "stack", json_null());
	json_object_set_new(m, "detail", json_null());
	json_object_set_new(m, "sequence", seq);
	if (!*cluster) {
		free(cluster);
		return m;
	}
	dash = strchr(cluster, '-');
	if (dash)
		*dash = '\0';
	if (!*cluster || !lp_name_chars(cluster, false)) {
		free(cluster);
		json_object_set_new(m, "sequence", json_null());
		return m;
	}
	json_object_set_new(m, "app", json_string(cluster));
	if (dash) {
		rest = dash + 1;
		char *dash2 = strchr(rest, '-');
		if (dash2)
			*dash2 = '\0';
		if (!lp_name_chars(rest, false) ||
		    (dash2 && !lp_name_chars(dash2 + 1, true))) {
			free(cluster);
			json_object_set_new(m, "app", json_null());
			json_object_set_new(m, "sequence", json_null());
			return m;
		}
		if (*rest)
			json_object_set_new(m, "stack", json_string(rest));
		if (dash2 && dash2[1])
			json_object_set_new(m, "detail", json_string(dash2 + 1));
		*dash = '-';
		if (dash2)
			*dash2 = '-';
	}
	json_object_set_new(m, "cluster", json_string(cluster));
	free(cluster);
	return m;
}

char *
lp_cluster_name(const char *app, const char *stack, const char *detail)
{
	if (detail && *detail)
		return mz_asprintf("%s-%s-%s", app, stack ? stack : "", detail);
	if (stack && *stack)
		return mz_asprintf("%s-%s", app, stack);
	return mz_strdup(app);
}
