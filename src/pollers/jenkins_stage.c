/* jenkins_stage.c - Orca's `jenkins` stage (CIStage, reference §5.4)
 * talking to Jenkins' JSON API directly (Igor's part folded in):
 *
 *   startJenkinsJob         POST <master>/job/<job>/buildWithParameters?k=v (or
 *                           /build without parameters); 201 with
 *                           Location .../queue/item/<n>/ -> queuedBuild
 *   waitForJenkinsJobStart  GET <master>/queue/item/<n>/api/json until it has
 *                           executable.number -> buildNumber
 *   monitorJenkinsJob       GET <master>/job/<job>/<n>/api/json: building ->
 *                           RUNNING; SUCCESS -> SUCCEEDED; UNSTABLE ->
 *                           TERMINAL unless markUnstableAsSuccessful;
 *                           FAILURE -> TERMINAL; ABORTED -> CANCELED
 *   getBuildProperties      with propertyFile: the archived file's keys go
 *                           to the stage outputs (and propertyFileContents)
 *
 * All are EXTERNAL tasks (network I/O outside the store transaction).
 * Jenkins offers no idempotency key: a crash between the POST and the
 * commit of queuedBuild starts the job again on replay (Igor has the same
 * window between its Jenkins call and its Redis write). */
#include "pollers/pollers_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JK_TIMEOUT_MS 10000

static json_t *masters_cfg;

static char *
base_url(const json_t *ctx, mz_task_result *r)
{
	const char *master = mz_json_str(ctx, "master");
	char *base = mz_jenkins_master_url(masters_cfg, master);
	if (!base) {
		mz_task_result_set(r, "TERMINAL", "Jenkins master '%s' is not configured (config "
		                   "jenkins.masters or MZ_JENKINS_<NAME>_URL)", master ? master : "");
		return NULL;
	}
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		base[--n] = '\0';
	return base;
}

static void
start_job(mz_task_ctx *ctx, mz_task_result *r)
{
	const json_t *sc = json_object_get(ctx->stage, "context");
	const char *job = mz_json_str(sc, "job");
	if (!job || !*job) {
		mz_task_result_set(r, "TERMINAL", "the jenkins stage needs a 'job'");
		return;
	}
	char *base = base_url(sc, r);
	if (!base)
		return;
	char *path = mz__jenkins_job_path(job);
	mz_buf url;
	mz_buf_init(&url, 64 * 1024);
	json_t *params = json_object_get(sc, "parameters");
	if (json_object_size(params) > 0) {
		mz_buf_printf(&url, "%s%s/buildWithParameters", base, path);
		const char *k;
		json_t *v;
		char sep = '?';
		json_object_foreach(params, k, v) {
			char *txt = json_is_string(v) ? mz_strdup(json_string_value(v)) : mz_json_dump(v);
			char *ek = mz_httpc_escape(k), *ev = mz_httpc_escape(txt);
			mz_buf_printf(&url, "%c%s=%s", sep, ek, ev);
			sep = '&';
			free(ek);
			free(ev);
			free(txt);
		}
	} else {
		mz_buf_printf(&url, "%s%s/build", base, path);
	}
	mz_httpc_req rq = {.method = "POST", .url = url.data, .timeout_ms = JK_TIMEOUT_MS};
	mz_httpc_resp res;
	mz_err err = {0};
	const char *location = NULL;
	if (mz_httpc_do(&rq, &res, &err) != MZ_OK) {
		mz_task_result_set(r, "RUNNING", NULL); /* retried after the backoff */
		json_object_set_new(mz_task_result_context(r), "lastError", json_string(err.msg));
	} else if (res.status == 201 && (location = mz_httpc_header(&res, "Location"))) {
		const char *q = strstr(location, "/queue/item/");
		long item = q ? strtol(q + 12, NULL, 10) : 0;
		if (item > 0) {
			mz_task_result_set(r, "SUCCEEDED", NULL);
			json_object_set_new(mz_task_result_context(r), "queuedBuild", json_integer(item));
		} else {
			mz_task_result_set(r, "TERMINAL", "Jenkins answered with an unexpected Location: "
			                   "%s", location);
		}
	} else if (res.status == 404) {
		mz_task_result_set(r, "TERMINAL", "Jenkins job '%s' not found on master '%s'", job,
		                   mz_json_str(sc, "master"));
	} else {
		mz_task_result_set(r, "RUNNING", NULL);
		json_object_set_new(mz_task_result_context(r), "lastError",
		                    json_sprintf("POST %s answered %ld", url.data, res.status));
	}
	mz_httpc_resp_release(&res);
	mz_buf_release(&url);
	free(path);
	free(base);
}

static json_t *
get_json(const char *url, long *status)
{
	return mz_httpc_get_json(url, JK_TIMEOUT_MS, status, NULL);
}

static void
wait_start(mz_task_ctx *ctx, mz_task_result *r)
{
	const json_t *sc = json_object_get(ctx->stage, "context");
	char *base = base_url(sc, r);
	if (!base)
		return;
	char *url = mz_asprintf("%s/queue/item/%lld/api/json", base,
	                        (long long)mz_json_int(sc, "queuedBuild", 0));
	long status;
	json_t *item = get_json(url, &status);
	json_t *exe = json_object_get(item, "executable");
	if (json_is_integer(json_object_get(exe, "number"))) {
		mz_task_result_set(r, "SUCCEEDED", NULL);
		json_object_set(mz_task_result_context(r), "buildNumber",
		                json_object_get(exe, "number"));
	} else {
		mz_task_result_set(r, "RUNNING", NULL); /* queued, 404, 5xx: keep waiting */
	}
	json_decref(item);
	free(url);
	free(base);
}

static void
monitor_job(mz_task_ctx *ctx, mz_task_result *r)
{
	const json_t *sc = json_object_get(ctx->stage, "context");
	char *base = base_url(sc, r);
	if (!base)
		return;
	char *path = mz__jenkins_job_path(mz_json_str(sc, "job") ? mz_json_str(sc, "job") : "");
	char *url = mz_asprintf("%s%s/%lld/api/json", base, path,
	                        (long long)mz_json_int(sc, "buildNumber", 0));
	long status;
	json_t *build = get_json(url, &status);
	const char *result = mz_json_str(build, "result");
	if (!build || mz_json_bool(build, "building", false) || !result) {
		mz_task_result_set(r, "RUNNING", NULL);
	} else if (strcmp(result, "SUCCESS") == 0 ||
	           (strcmp(result, "UNSTABLE") == 0 &&
	            mz_json_bool(sc, "markUnstableAsSuccessful", false))) {
		mz_task_result_set(r, "SUCCEEDED", NULL);
	} else if (strcmp(result, "ABORTED") == 0) {
		mz_task_result_set(r, "CANCELED", "Jenkins build %lld was aborted",
		                   (long long)mz_json_int(sc, "buildNumber", 0));
	} else if (strcmp(result, "UNSTABLE") == 0 || strcmp(result, "FAILURE") == 0) {
		mz_task_result_set(r, "TERMINAL", "Jenkins build %lld of %s finished with %s",
		                   (long long)mz_json_int(sc, "buildNumber", 0),
		                   mz_json_str(sc, "job"), result);
	} else {
		mz_task_result_set(r, "RUNNING", NULL);
	}
	if (build) {
		json_t *info = json_deep_copy(build);
		json_object_set_new(info, "name", json_string(mz_json_str(sc, "job") ?
		                                              mz_json_str(sc, "job") : ""));
		json_object_set(mz_task_result_context(r), "buildInfo", info);
		json_object_set_new(mz_task_result_outputs(r), "buildInfo", info);
	}
	json_decref(build);
	free(url);
	free(path);
	free(base);
}

static void
get_properties(mz_task_ctx *ctx, mz_task_result *r)
{
	const json_t *sc = json_object_get(ctx->stage, "context");
	const char *file = mz_json_str(sc, "propertyFile");
	char *base = base_url(sc, r);
	if (!base)
		return;
	char *path = mz__jenkins_job_path(mz_json_str(sc, "job") ? mz_json_str(sc, "job") : "");
	json_t *props = mz__jenkins_properties(base, path, mz_json_int(sc, "buildNumber", 0), file,
	                                       JK_TIMEOUT_MS);
	if (!json_is_object(props) || json_object_size(props) == 0) {
		mz_task_result_set(r, "TERMINAL", "Expected properties file %s but it was either "
		                   "missing, empty or contained invalid syntax", file);
	} else {
		mz_task_result_set(r, "SUCCEEDED", NULL);
		mz_json_merge(mz_task_result_outputs(r), props);
		json_object_set(mz_task_result_context(r), "propertyFileContents", props);
	}
	json_decref(props);
	free(path);
	free(base);
}

static mz_code
jenkins_plan(mz_plan *p, mz_err *err)
{
	const json_t *sc = json_object_get(mz_plan_stage(p), "context");
	if (!mz_json_str(sc, "master") || !mz_json_str(sc, "job"))
		return mz_fail(err, MZ_EINVAL, "the jenkins stage needs 'master' and 'job'");
	mz_plan_task(p, "startJenkinsJob");
	mz_plan_task(p, "waitForJenkinsJobStart");
	mz_plan_task(p, "monitorJenkinsJob");
	if (mz_json_str(sc, "propertyFile") && *mz_json_str(sc, "propertyFile"))
		mz_plan_task(p, "getBuildProperties");
	return MZ_OK;
}

static void
jenkins_prepare_restart(json_t *stage)
{
	json_t *ctx = json_object_get(stage, "context");
	json_object_del(ctx, "queuedBuild");
	json_object_del(ctx, "buildNumber");
	json_object_del(ctx, "buildInfo");
}

static const mz_task_def start_task = {
	.name = "startJenkinsJob",
	.impl_class = "com.netflix.spinnaker.orca.igor.tasks.StartJenkinsJobTask",
	.execute = start_job,
	.backoff_ms = 5000,
	.timeout_ms = 15 * 60 * 1000,
	.flags = MZ_TASK_EXTERNAL | MZ_TASK_RETRYABLE,
};

static const mz_task_def wait_task = {
	.name = "waitForJenkinsJobStart",
	.impl_class = "com.netflix.spinnaker.orca.igor.tasks.MonitorQueuedJenkinsJobTask",
	.execute = wait_start,
	.backoff_ms = 1000,
	.timeout_ms = 2 * 60 * 60 * 1000,
	.flags = MZ_TASK_EXTERNAL | MZ_TASK_RETRYABLE,
};

static const mz_task_def monitor_task = {
	.name = "monitorJenkinsJob",
	.impl_class = "com.netflix.spinnaker.orca.igor.tasks.MonitorJenkinsJobTask",
	.execute = monitor_job,
	.backoff_ms = 1000,
	.timeout_ms = 2 * 60 * 60 * 1000,
	.flags = MZ_TASK_EXTERNAL | MZ_TASK_RETRYABLE | MZ_TASK_TIMEOUT_OVERRIDABLE,
};

static const mz_task_def props_task = {
	.name = "getBuildProperties",
	.impl_class = "com.netflix.spinnaker.orca.igor.tasks.GetBuildPropertiesTask",
	.execute = get_properties,
	.backoff_ms = 5000,
	.timeout_ms = 5 * 60 * 1000,
	.flags = MZ_TASK_EXTERNAL | MZ_TASK_RETRYABLE,
};

static const mz_stage_def jenkins_stage = {
	.type = "jenkins",
	.plan = jenkins_plan,
	.prepare_restart = jenkins_prepare_restart,
};

void
mz_pollers_register_stages(const json_t *jenkins_masters)
{
	json_decref(masters_cfg);
	masters_cfg = jenkins_masters ? json_deep_copy(jenkins_masters) : json_array();
	mz_engine_register_task(&start_task);
	mz_engine_register_task(&wait_task);
	mz_engine_register_task(&monitor_task);
	mz_engine_register_task(&props_task);
	mz_engine_register_stage(&jenkins_stage);
}
