/* local_util.c - atomic JSON files, Frigga names. */
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
