/* log.c - one-line log records on stderr with a UTC timestamp.
 * Callers must never pass secrets: the log is for operators. */
#include "core/core.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

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
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %-5s ", when, ts.tv_nsec / 1000000, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
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
