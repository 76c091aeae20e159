/* log.c - one-line log records on stderr with a UTC timestamp.
 * Callers must never pass secrets: the log is for operators. As a second
 * line of defence every record goes through mz_mask_credentials (a URL's
 * user:password@, a bearer token, a Slack webhook's path). */
#include "core/core.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Where a URL's authority ends. */
static bool
authority_end(char c)
{
	return !c || c == '/' || c == '?' || c == '#' || isspace((unsigned char)c) || c == '"' ||
	       c == '\'' || c == '<' || c == '>' || c == ')';
}

static bool
token_char(char c)
{
	return c && !isspace((unsigned char)c) && c != '"' && c != '\'' && c != ',' && c != ';';
}

char *
mz_mask_credentials(const char *text)
{
	mz_buf b;
	mz_buf_init(&b, 0);
	const char *p = text ? text : "";
	while (*p) {
		/* scheme://user:password@host -> scheme://user:****@host */
		if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
			const char *a = p + 3, *e = a, *at = NULL;
			while (!authority_end(*e)) {
				if (*e == '@')
					at = e;
				e++;
			}
			mz_buf_add(&b, p, 3);
			if (at) {
				const char *colon = memchr(a, ':', (size_t)(at - a));
				if (colon)
					mz_buf_add(&b, a, (size_t)(colon - a + 1));
				mz_buf_adds(&b, "****");
				p = at;
			} else {
				p = a;
			}
			continue;
		}
		/* Bearer <token> */
		if (strncasecmp(p, "Bearer ", 7) == 0 && token_char(p[7])) {
			mz_buf_adds(&b, "Bearer ****");
			p += 7;
			while (token_char(*p))
				p++;
			continue;
		}
		/* a Slack incoming webhook: the path is the credential */
		if (strncasecmp(p, "hooks.slack.com/services/", 25) == 0) {
			mz_buf_adds(&b, "hooks.slack.com/services/****");
			p += 25;
			while (token_char(*p))
				p++;
			continue;
		}
		mz_buf_add(&b, p, 1);
		p++;
	}
	return mz_buf_detach(&b, NULL);
}

void
mz_mask_url_path(const char *url, char *out, size_t outsz)
{
	const char *s = url ? strstr(url, "://") : NULL;
	if (!s) {
		snprintf(out, outsz, "%s", url ? "****" : "(none)");
		return;
	}
	char *host = mz_mask_credentials(url);
	const char *hs = strstr(host, "://") + 3, *he = hs;
	while (!authority_end(*he))
		he++;
	snprintf(out, outsz, "%.*s%s", (int)(he - host), host, *he ? "/****" : "");
	free(host);
}

static mz_log_level min_level = MZ_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
mz_log_set_level(mz_log_level level)
{
	min_level = level;
}

void
mz_log(mz_log_level level, const char *fmt, ...)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	char *line = NULL;
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	char *masked = mz_mask_credentials(line ? line : "(a log line that could not be formatted)");
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %-5s %s\n", when, ts.tv_nsec / 1000000, names[level], masked);
	pthread_mutex_unlock(&log_lock);
	free(masked);
	free(line);
}

bool
mz_log_allow(mz_log_limit *l, int64_t interval_ms, long *held)
{
	int64_t now = mz_mono_ms();
	if (now < l->next_ms) {
		l->held++;
		return false;
	}
	if (held)
		*held = l->held;
	l->held = 0;
	l->next_ms = now + interval_ms;
	return true;
}
