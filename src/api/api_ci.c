/* api_ci.c - Deck's CI view (Gate's /ci routes, Igor's CI builds by
 * repository) over the builds mizzen runs itself: every runJob that checked
 * out a git repository is a build of that repository.
 *
 *   GET /ci/builds?repoType=&projectKey=&repoSlug=[&completionStatus=INCOMPLETE]
 *       the builds of the repository whose URL ends in projectKey/repoSlug
 *       (".git" or not), newest first, numbered from 1 in start order
 *   GET /ci/builds/{buildId}/output?start=&limit=
 *       {log}: lines start (0 when negative) to start + limit of its log
 *
 * A build belongs to the application of the execution that ran it: the list
 * shows only builds of applications the caller may READ (api_perm.c), and
 * the output needs READ on it. */
#include "api/api_int.h"

#include "cloud/cloud.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CI_MAX_LINES 4095
#define CI_LOG_BYTES (4u << 20)

/* Whether a git URL names the repository projectKey/repoSlug: its last two
 * path components, without ".git", compared ignoring case. An empty key
 * or slug matches anything there. */
static bool
repo_matches(const char *url, const char *key, const char *slug)
{
	if (!url || !*url)
		return false;
	char *u = mz_strdup(url);
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	if (n > 4 && strcasecmp(u + n - 4, ".git") == 0)
		u[n -= 4] = '\0';
	char *last = strrchr(u, '/');
	const char *name = last ? last + 1 : u;
	bool ok = !slug || !*slug || strcasecmp(name, slug) == 0;
	if (ok && key && *key) {
		if (last)
			*last = '\0';
		char *prev = strrchr(u, '/');
		char *colon = strrchr(u, ':'); /* git@host:owner/repo */
		const char *owner = prev ? prev + 1 : colon ? colon + 1 : u;
		ok = last && strcasecmp(owner, key) == 0;
	}
	free(u);
	return ok;
}

static json_t *
iso_time(int64_t ms)
{
	if (ms <= 0)
		return json_string("");
	char buf[40];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static int
by_start(const void *a, const void *b)
{
	int64_t x = mz_json_int(*(json_t *const *)a, "startTime", 0);
	int64_t y = mz_json_int(*(json_t *const *)b, "startTime", 0);
	return x < y ? -1 : x > y;
}

/* Igor's build shape (ICiBuildAPI) of a job, its number-th build. */
static json_t *
build_view(const json_t *job, int number, const char *key, const char *slug)
{
	const char *state = mz_json_str(job, "jobState");
	bool running = mz_streq(state, "Running");
	int64_t start = mz_json_int(job, "startTime", 0);
	int64_t end = mz_json_int(job, "endTime", 0);
	const char *result = running ? "BUILDING"
	                     : mz_streq(state, "Succeeded") ? "SUCCESS"
	                     : mz_streq(state, "Failed") ? "FAILURE" : "NOT_BUILT";
	char *display = mz_asprintf("%s #%d", slug && *slug ? slug : "build", number);
	char *start_s = mz_asprintf("%lld", (long long)start);
	char *end_s = end ? mz_asprintf("%lld", (long long)end) : mz_strdup("");
	json_t *scm = json_array();
	if (mz_json_str(job, "commit"))
		json_array_append_new(scm, json_pack(
			"{s:s, s:s, s:s, s:s, s:s}", "branch", mz_json_str(job, "ref") ?
			mz_json_str(job, "ref") : "", "committer", "", "compareUrl", "", "sha1",
			mz_json_str(job, "commit"), "message", ""));
	json_t *v = json_pack(
		"{s:s, s:s, s:i, s:b, s:I, s:s, s:s, s:s, s:s?, s:[], s:[], s:o, s:s?, s:s?, "
		"s:{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s}}",
		"id", mz_json_str(job, "jobId"), "name", display, "number", number,
		"building", running, "duration", (json_int_t)((end ? end : mz_now_ms()) - start),
		"fullDisplayName", display, "result", result, "timestamp", start_s,
		"url", mz_json_str(job, "url"), "artifacts", "testResults", "scm", scm,
		"application", mz_json_str(job, "application"),
		"executionId", mz_json_str(job, "executionId"),
		"properties", "projectKey", key ? key : "", "repoSlug", slug ? slug : "",
		"startedTs", start_s, "completedTs", end_s, "startedAt", iso_time(start),
		"completedAt", iso_time(end), "pullRequestNumber", "", "pullRequestUrl", "");
	free(display);
	free(start_s);
	free(end_s);
	return v;
}

static void
ci_builds(api_req *r)
{
	const char *key = api_query(r, "projectKey");
	const char *slug = api_query(r, "repoSlug");
	const char *status = api_query(r, "completionStatus");
	json_t *jobs = mz_cloud_jobs();
	size_t n = 0, i;
	json_t *job;
	json_t **v = calloc(json_array_size(jobs) + 1, sizeof(*v));
	json_array_foreach(jobs, i, job) {
		if (repo_matches(mz_json_str(job, "url"), key, slug))
			v[n++] = job;
	}
	qsort(v, n, sizeof(*v), by_start);
	json_t *out = json_array();
	for (i = n; i-- > 0;) {
		if (status && *status && strcasecmp(status, "INCOMPLETE") == 0 &&
		    !mz_streq(mz_json_str(v[i], "jobState"), "Running"))
			continue;
		json_array_append_new(out, build_view(v[i], (int)i + 1, key, slug));
	}
	free(v);
	json_decref(jobs);
	api_reply_json(r, 200, out);
}

static void
ci_build_output(api_req *r)
{
	json_t *job = NULL;
	char *log = mz_cloud_job_log(r->param[0], CI_LOG_BYTES, &job);
	if (!log || !job) {
		free(log);
		json_decref(job);
		api_reply_error(r, 404, "Build not found: %s", r->param[0]);
		return;
	}
	bool ok = api_allow_app(r, mz_json_str(job, "application"), MZ_PERM_READ);
	json_decref(job);
	long start = 0, limit = CI_MAX_LINES;
	if (ok && (!api_query_int(r, "start", 0, -1, LONG_MAX, &start) ||
	           !api_query_int(r, "limit", CI_MAX_LINES, 1, LONG_MAX, &limit)))
		ok = false;
	if (!ok) {
		free(log);
		return;
	}
	if (start < 0)
		start = 0;
	if (limit > CI_MAX_LINES)
		limit = CI_MAX_LINES;
	/* lines [start, start + limit) */
	const char *p = log;
	for (long k = 0; k < start && *p; k++) {
		const char *nl = strchr(p, '\n');
		p = nl ? nl + 1 : p + strlen(p);
	}
	const char *q = p;
	for (long k = 0; k < limit && *q; k++) {
		const char *nl = strchr(q, '\n');
		q = nl ? nl + 1 : q + strlen(q);
	}
	json_t *out = json_object();
	json_object_set_new(out, "log", json_stringn(p, (size_t)(q - p)));
	free(log);
	api_reply_json(r, 200, out);
}

const api_route api_ci_routes[] = {
	{"GET", "/ci/builds", ci_builds},
	{"GET", "/ci/builds/{buildId}/output", ci_build_output},
	{NULL, NULL, NULL},
};
