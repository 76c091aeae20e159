/* cron.c - Quartz cron expressions as Echo's scheduler reads them
 * (reference §4.3.3): seconds first, 6 or 7 fields, `?`, `L`, `n#k`, names,
 * and Echo's `H` fuzzing (abs(salt.hashCode() % 60), or % 24 for hours).
 *
 * Next fire times are computed in the process's local time zone by walking
 * calendar fields with localtime_r/mktime (thread-safe once TZ is fixed,
 * which main() does before any thread starts). */
#include "events/events.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define YEAR_MIN 1970
#define YEAR_MAX 2199

struct mz_cron {
	uint64_t sec, min;
	uint32_t hour;
	uint32_t dom;       /* bits 1..31 */
	bool dom_any;       /* ? */
	bool dom_last;      /* L */
	uint16_t month;     /* bits 1..12 */
	uint8_t dow;        /* bits 1..7, 1 = Sunday */
	bool dow_any;
	int dow_nth_day, dow_nth;   /* n#k */
	int dow_last_day;           /* nL */
	bool years_any;
	unsigned char years[YEAR_MAX - YEAR_MIN + 1];
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* Java's String.hashCode. */
static int32_t
java_hash(const char *s)
{
	uint32_t h = 0;
	for (; s && *s; s++)
		h = 31 * h + (unsigned char)*s;
	return (int32_t)h;
}

typedef struct field_spec {
	const char *name;
	int lo, hi;
	const char *const *names; /* value lo + i */
	int hash_mod;             /* H allowed when > 0 */
} field_spec;

static const field_spec specs[7] = {
	{"seconds", 0, 59, NULL, 60},
	{"minutes", 0, 59, NULL, 60},
	{"hours", 0, 23, NULL, 24},
	{"day-of-month", 1, 31, NULL, 0},
	{"month", 1, 12, month_names, 0},
	{"day-of-week", 1, 7, day_names, 0},
	{"year", YEAR_MIN, YEAR_MAX, NULL, 0},
};

/* Parses a number or a name at *p; advances *p. -1 if none. */
static int
parse_value(const char **p, const field_spec *fs, const char *salt)
{
	const char *s = *p;
	if (isdigit((unsigned char)*s)) {
		long v = 0;
		while (isdigit((unsigned char)*s) && v < 100000)
			v = v * 10 + (*s++ - '0');
		*p = s;
		return (int)v;
	}
	if (fs->hash_mod && *s == 'H') {
		*p = s + 1;
		int32_t h = java_hash(salt);
		int v = abs(h % fs->hash_mod);
		return v;
	}
	if (fs->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
	    isalpha((unsigned char)s[2])) {
		int n = fs->hi - fs->lo + 1;
		for (int i = 0; i < n; i++) {
			if (strncasecmp(s, fs->names[i], 3) == 0) {
				*p = s + 3;
				return fs->lo + i;
			}
		}
	}
	return -1;
}

/* Sets bits lo..hi of one field; bits[] is indexed by value - fs->lo. */
static mz_code
parse_field(const char *text, int idx, const char *salt, unsigned char *bits, mz_cron *c,
            mz_err *err)
{
	const field_spec *fs = &specs[idx];
	char *copy = mz_strdup(text);
	mz_code rc = MZ_OK;
	char *save = NULL;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		const char *p = item;
		int a, b, step = 1;
		if (strcmp(item, "?") == 0) {
			if (idx != 3 && idx != 5) {
				rc = mz_fail(err, MZ_EINVAL, "'?' is only allowed in day-of-month and "
				             "day-of-week");
				break;
			}
			if (idx == 3)
				c->dom_any = true;
			else
				c->dow_any = true;
			continue;
		}
		if (idx == 3 && strcmp(item, "L") == 0) {
			c->dom_last = true;
			continue;
		}
		if (*p == '*') {
			a = fs->lo;
			b = fs->hi;
			p++;
		} else {
			a = parse_value(&p, fs, salt);
			if (a < 0)
				goto bad;
			b = a;
			if (idx == 5 && *p == 'L' && p[1] == '\0') {
				if (a < 1 || a > 7)
					goto bad;
				c->dow_last_day = a;
				continue;
			}
			if (idx == 5 && *p == '#') {
				p++;
				int k = parse_value(&p, fs, salt);
				if (a < 1 || a > 7 || k < 1 || k > 5 || *p)
					goto bad;
				c->dow_nth_day = a;
				c->dow_nth = k;
				continue;
			}
			if (*p == '-') {
				p++;
				b = parse_value(&p, fs, salt);
				if (b < 0)
					goto bad;
			} else if (*p == '/') {
				b = fs->hi; /* a/n: from a to the end */
			}
		}
		if (*p == '/') {
			p++;
			char *end;
			long n = strtol(p, &end, 10);
			if (end == p || n < 1 || n > fs->hi - fs->lo + 1)
				goto bad;
			step = (int)n;
			p = end;
		}
		if (*p || a < fs->lo || a > fs->hi || b < fs->lo || b > fs->hi || b < a)
			goto bad;
		for (int v = a; v <= b; v += step)
			bits[v - fs->lo] = 1;
		continue;
bad:
		rc = mz_fail(err, MZ_EINVAL, "invalid %s field '%s' (values %d-%d)", fs->name, item,
		             fs->lo, fs->hi);
		break;
	}
	free(copy);
	return rc;
}

mz_code
mz_cron_parse(const char *expr, const char *salt, mz_cron **out, mz_err *err)
{
	char *copy = mz_strdup(expr ? expr : "");
	char *fields[8];
	int n = 0;
	char *save = NULL;
	for (char *f = strtok_r(copy, " \t\n", &save); f; f = strtok_r(NULL, " \t\n", &save)) {
		if (n == 8)
			break;
		fields[n++] = f;
	}
	if (n < 6 || n > 7) {
		free(copy);
		return mz_fail(err, MZ_EINVAL, "a cron expression has 6 or 7 fields (seconds minutes "
		               "hours day-of-month month day-of-week [year]), got %d in '%s'", n,
		               expr ? expr : "");
	}
	mz_cron *c = calloc(1, sizeof(*c));
	if (!c) {
		free(copy);
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	}
	c->years_any = n == 6;
	mz_code rc = MZ_OK;
	for (int i = 0; i < n && rc == MZ_OK; i++) {
		unsigned char bits[YEAR_MAX - YEAR_MIN + 1] = {0};
		rc = parse_field(fields[i], i, salt, bits, c, err);
		if (rc)
			break;
		int span = specs[i].hi - specs[i].lo + 1;
		for (int v = 0; v < span; v++) {
			if (!bits[v])
				continue;
			int val = specs[i].lo + v;
			switch (i) {
			case 0: c->sec |= 1ull << val; break;
			case 1: c->min |= 1ull << val; break;
			case 2: c->hour |= 1u << val; break;
			case 3: c->dom |= 1u << val; break;
			case 4: c->month |= (uint16_t)(1u << val); break;
			case 5: c->dow |= (uint8_t)(1u << val); break;
			case 6: c->years[v] = 1; break;
			}
		}
	}
	if (rc == MZ_OK) {
		bool dom_set = c->dom || c->dom_last;
		bool dow_set = c->dow || c->dow_last_day || c->dow_nth;
		if (c->dom_any == c->dow_any)
			rc = mz_fail(err, MZ_EINVAL, "exactly one of day-of-month and day-of-week must "
			             "be '?' (Quartz does not support both)");
		else if ((!c->dom_any && !dom_set) || (!c->dow_any && !dow_set) || !c->sec ||
		         !c->min || !c->hour || !c->month)
			rc = mz_fail(err, MZ_EINVAL, "cron expression '%s' has an empty field", expr);
	}
	free(copy);
	if (rc) {
		free(c);
		return rc;
	}
	*out = c;
	return MZ_OK;
}

void
mz_cron_free(mz_cron *c)
{
	free(c);
}

static int
days_in_month(int year, int mon0)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mon0 == 1 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return 29;
	return d[mon0];
}

static bool
day_ok(const mz_cron *c, const struct tm *tm)
{
	int year = tm->tm_year + 1900;
	int dim = days_in_month(year, tm->tm_mon);
	if (!c->dom_any) {
		if (c->dom_last && tm->tm_mday == dim)
			return true;
		return (c->dom >> tm->tm_mday) & 1;
	}
	int wd = tm->tm_wday + 1;
	if ((c->dow >> wd) & 1)
		return true;
	if (c->dow_nth && wd == c->dow_nth_day && (tm->tm_mday - 1) / 7 + 1 == c->dow_nth)
		return true;
	if (c->dow_last_day && wd == c->dow_last_day && tm->tm_mday + 7 > dim)
		return true;
	return false;
}

static void
normalise(struct tm *tm)
{
	tm->tm_isdst = -1;
	time_t t = mktime(tm);
	localtime_r(&t, tm);
}

int64_t
mz_cron_next(const mz_cron *c, int64_t after_ms)
{
	time_t t = (time_t)(after_ms / 1000) + 1;
	struct tm tm;
	localtime_r(&t, &tm);
	int limit = tm.tm_year + 1900 + 5;
	for (int iter = 0; iter < 200000; iter++) {
		int year = tm.tm_year + 1900;
		if (year > limit || year > YEAR_MAX)
			return -1;
		if (!c->years_any && (year < YEAR_MIN || !c->years[year - YEAR_MIN])) {
			tm.tm_year++;
			tm.tm_mon = 0;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!day_ok(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		} else if (!((c->hour >> tm.tm_hour) & 1)) {
			tm.tm_hour++;
			tm.tm_min = tm.tm_sec = 0;
		} else if (!((c->min >> tm.tm_min) & 1)) {
			tm.tm_min++;
			tm.tm_sec = 0;
		} else if (!((c->sec >> tm.tm_sec) & 1)) {
			tm.tm_sec++;
		} else {
			struct tm copy = tm;
			copy.tm_isdst = -1;
			time_t at = mktime(&copy);
			if ((int64_t)at * 1000 <= after_ms) { /* a DST fold went backwards */
				tm.tm_sec++;
				normalise(&tm);
				continue;
			}
			return (int64_t)at * 1000;
		}
		normalise(&tm);
	}
	return -1;
}
