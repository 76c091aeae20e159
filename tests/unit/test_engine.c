/* test_engine.c - the engine in-process on a temporary SQLite store: DAG
 * planning (linear refIds, parallel branches and joins), status
 * propagation, built-in stages, operator actions and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/engine_int.h" /* the stage graph index */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dbpath[256];
static mz_engine *eng;
static mz_store *st;

static int
setup(void **state)
{
	char dir[] = "/tmp/mz-engine-XXXXXX";
	mz_err err = {0};
	if (!mkdtemp(dir))
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/test.db", dir);
	mz_log_set_level(MZ_LOG_WARN);
	mz_engine_register_builtin();
	mz_engine_config cfg = {.db_url = dbpath, .workers = 2};
	if (mz_engine_start(&cfg, &eng, &err) || mz_store_open(dbpath, &st, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	mz_engine_stop(eng);
	mz_store_close(st);
	unlink(dbpath);
	return 0;
}

static json_t *
parse(const char *text)
{
	mz_err err = {0};
	json_t *v = mz_json_parse(text, strlen(text), &err);
	if (!v)
		fail_msg("bad test JSON: %s", err.msg);
	return v;
}

/* Saves cfg (a JSON text) and launches it with trigger (stolen, may be
 * NULL); returns the execution id. */
static char *
launch(const char *cfg_text, json_t *trigger)
{
	json_t *cfg = parse(cfg_text);
	mz_err err = {0};
	char id[27];
	if (!json_object_get(cfg, "id")) {
		char uuid[37];
		mz_uuid(uuid);
		json_object_set_new(cfg, "id", json_string(uuid));
	}
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_pipeline_put(st, cfg, &err), MZ_OK);
	mz_code rc = mz_engine_launch_pipeline(eng, st, cfg, trigger, "tester", "api", id, &err);
	if (rc)
		fail_msg("launch: %s", err.msg);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	mz_engine_wake(eng);
	json_decref(cfg);
	json_decref(trigger);
	return mz_strdup(id);
}

static json_t *
get_exec(const char *id)
{
	json_t *e = NULL;
	mz_err err = {0};
	assert_int_equal(mz_exec_get(st, id, &e, &err), MZ_OK);
	return e;
}

/* Waits until the execution's status is complete; returns it. */
static json_t *
wait_done(const char *id, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		json_t *e = get_exec(id);
		const char *s = mz_json_str(e, "status");
		if (mz_status_complete(s))
			return e;
		json_decref(e);
		usleep(20000);
	}
	json_t *e = get_exec(id);
	char *dump = json_dumps(e, JSON_INDENT(1));
	fail_msg("execution %s did not finish: %s", id, dump);
	return NULL;
}

/* Waits until predicate on the named stage's status holds. */
static json_t *
wait_stage(const char *id, const char *name, const char *status, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		json_t *e = get_exec(id);
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(e, "stages"), i, s) {
			if (mz_streq(mz_json_str(s, "name"), name) &&
			    mz_streq(mz_json_str(s, "status"), status))
				return e;
		}
		json_decref(e);
		usleep(20000);
	}
	fail_msg("stage %s of %s never became %s", name, id, status);
	return NULL;
}

static json_t *
stage_named(json_t *e, const char *name)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(e, "stages"), i, s) {
		if (mz_streq(mz_json_str(s, "name"), name))
			return s;
	}
	fail_msg("no stage %s", name);
	return NULL;
}

static void
test_linear_refless(void **state)
{
	char *id = launch("{\"application\":\"app\",\"name\":\"linear\",\"stages\":["
	                  "{\"type\":\"wait\",\"name\":\"a\",\"waitTime\":0},"
	                  "{\"type\":\"wait\",\"name\":\"b\",\"waitTime\":0},"
	                  "{\"type\":\"wait\",\"name\":\"c\",\"waitTime\":0}]}", NULL);
	json_t *e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "SUCCEEDED");
	json_t *c = stage_named(e, "c");
	assert_string_equal(mz_json_str(c, "refId"), "2");
	assert_string_equal(json_string_value(json_array_get(
		json_object_get(c, "requisiteStageRefIds"), 0)), "1");
	assert_true(mz_json_int(c, "startTime", 0) >= mz_json_int(stage_named(e, "b"), "endTime", 0));
	json_t *task = json_array_get(json_object_get(c, "tasks"), 0);
	assert_string_equal(mz_json_str(task, "name"), "wait");
	assert_string_equal(mz_json_str(task, "status"), "SUCCEEDED");
	assert_string_equal(mz_json_str(json_object_get(e, "trigger"), "type"), "manual");
	json_decref(e);
	free(id);
}

static void
test_parallel_join(void **state)
{
	char *id = launch("{\"application\":\"app\",\"name\":\"join\",\"stages\":["
	                  "{\"refId\":\"1\",\"requisiteStageRefIds\":[],\"type\":\"wait\",\"name\":\"fast\",\"waitTime\":0},"
	                  "{\"refId\":\"2\",\"requisiteStageRefIds\":[],\"type\":\"wait\",\"name\":\"slow\",\"waitTime\":1},"
	                  "{\"refId\":\"3\",\"requisiteStageRefIds\":[\"1\",\"2\"],\"type\":\"wait\",\"name\":\"join\",\"waitTime\":0}]}",
	                  NULL);
	json_t *e = wait_done(id, 8000);
	assert_string_equal(mz_json_str(e, "status"), "SUCCEEDED");
	int64_t join_start = mz_json_int(stage_named(e, "join"), "startTime", 0);
	assert_true(join_start >= mz_json_int(stage_named(e, "slow"), "endTime", 0));
	assert_true(join_start >= mz_json_int(stage_named(e, "fast"), "endTime", 0));
	/* both branches started together */
	int64_t d = mz_json_int(stage_named(e, "slow"), "startTime", 0) -
	            mz_json_int(stage_named(e, "fast"), "startTime", 0);
	assert_true(d < 500 && d > -500);
	json_decref(e);
	free(id);
}

static void
test_variables_and_preconditions(void **state)
{
	char *id = launch("{\"application\":\"app\",\"name\":\"vars\",\"stages\":["
	                  "{\"refId\":\"1\",\"type\":\"evaluateVariables\",\"name\":\"vars\","
	                  "\"variables\":[{\"key\":\"n\",\"value\":\"${2 + 3}\"},"
	                  "{\"key\":\"m\",\"value\":\"${n * 2}\"}]},"
	                  "{\"refId\":\"2\",\"requisiteStageRefIds\":[\"1\"],\"type\":\"checkPreconditions\","
	                  "\"name\":\"check\",\"preconditions\":[{\"type\":\"expression\",\"context\":"
	                  "{\"expression\":\"${m == 10 && parameters.env == 'prod'}\"}}]}]}",
	                  json_pack("{s:{s:s}}", "parameters", "env", "prod"));
	json_t *e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "SUCCEEDED");
	json_t *outs = json_object_get(stage_named(e, "vars"), "outputs");
	assert_int_equal(mz_json_int(outs, "m", 0), 10);
	json_t *child = stage_named(e, "Check precondition (expression)");
	assert_string_equal(mz_json_str(child, "syntheticStageOwner"), "STAGE_BEFORE");
	assert_string_equal(mz_json_str(child, "refId"), "2<1");
	assert_string_equal(mz_json_str(child, "status"), "SUCCEEDED");
	json_decref(e);
	free(id);

	id = launch("{\"application\":\"app\",\"name\":\"vars-fail\",\"stages\":["
	            "{\"refId\":\"1\",\"type\":\"evaluateVariables\",\"name\":\"vars\","
	            "\"variables\":[{\"key\":\"n\",\"value\":\"${1}\"}]},"
	            "{\"refId\":\"2\",\"requisiteStageRefIds\":[\"1\"],\"type\":\"checkPreconditions\","
	            "\"name\":\"check\",\"preconditions\":[{\"type\":\"expression\",\"context\":"
	            "{\"expression\":\"${n == 2}\"}}]},"
	            "{\"refId\":\"3\",\"requisiteStageRefIds\":[\"2\"],\"type\":\"wait\",\"name\":\"after\"}]}",
	            NULL);
	e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "TERMINAL");
	assert_string_equal(mz_json_str(stage_named(e, "check"), "status"), "TERMINAL");
	assert_string_equal(mz_json_str(stage_named(e, "after"), "status"), "NOT_STARTED");
	json_decref(e);
	free(id);
}

static const char *
judgment_stage_id(json_t *e)
{
	return mz_json_str(stage_named(e, "approve"), "id");
}

static void
test_manual_judgment(void **state)
{
	const char *cfg = "{\"application\":\"app\",\"name\":\"mj\",\"stages\":["
	                  "{\"refId\":\"1\",\"type\":\"manualJudgment\",\"name\":\"approve\","
	                  "\"judgmentInputs\":[{\"value\":\"yes\"}]},"
	                  "{\"refId\":\"2\",\"requisiteStageRefIds\":[\"1\"],\"type\":\"checkPreconditions\","
	                  "\"name\":\"gate\",\"preconditions\":[{\"type\":\"expression\",\"context\":"
	                  "{\"expression\":\"${#judgment('approve') == 'yes'}\"}}]}]}";
	char *id = launch(cfg, NULL);
	json_t *e = wait_stage(id, "approve", "RUNNING", 5000);
	mz_err err = {0};
	json_t *patch = json_pack("{s:s, s:s}", "judgmentStatus", "continue", "judgmentInput", "yes");
	json_t *out = NULL;
	assert_int_equal(mz_engine_patch_stage(eng, st, id, judgment_stage_id(e), patch, "alice",
	                                       &out, &err), MZ_OK);
	json_decref(out);
	json_decref(e);
	e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "SUCCEEDED");
	assert_string_equal(mz_json_str(json_object_get(stage_named(e, "approve"), "context"),
	                                "judgedBy"), "alice");
	json_decref(e);
	free(id);

	id = launch(cfg, NULL);
	e = wait_stage(id, "approve", "RUNNING", 5000);
	json_object_set_new(patch, "judgmentStatus", json_string("stop"));
	assert_int_equal(mz_engine_patch_stage(eng, st, id, judgment_stage_id(e), patch, "bob",
	                                       NULL, &err), MZ_OK);
	json_decref(e);
	e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "TERMINAL");
	assert_string_equal(mz_json_str(stage_named(e, "gate"), "status"), "NOT_STARTED");
	json_decref(e);
	json_decref(patch);
	free(id);
}

static void
test_cancel_running_wait(void **state)
{
	char *id = launch("{\"application\":\"app\",\"name\":\"cancel\",\"stages\":["
	                  "{\"type\":\"wait\",\"name\":\"long\",\"waitTime\":600}]}", NULL);
	json_t *e = wait_stage(id, "long", "RUNNING", 5000);
	json_decref(e);
	mz_err err = {0};
	int64_t t0 = mz_mono_ms();
	assert_int_equal(mz_engine_cancel(eng, st, id, "carol", "testing", &err), MZ_OK);
	e = wait_done(id, 2000);
	assert_true(mz_mono_ms() - t0 < 1000);
	assert_string_equal(mz_json_str(e, "status"), "CANCELED");
	assert_string_equal(mz_json_str(e, "canceledBy"), "carol");
	assert_string_equal(mz_json_str(stage_named(e, "long"), "status"), "CANCELED");
	json_decref(e);
	free(id);
}

static void
test_complete_other_branches_then_fail(void **state)
{
	char *id = launch("{\"application\":\"app\",\"name\":\"cobtf\",\"stages\":["
	                  "{\"refId\":\"1\",\"type\":\"checkPreconditions\",\"name\":\"bad\","
	                  "\"failPipeline\":false,\"completeOtherBranchesThenFail\":true,"
	                  "\"preconditions\":[{\"type\":\"expression\",\"failPipeline\":false,"
	                  "\"context\":{\"expression\":\"${false}\"}}]},"
	                  "{\"refId\":\"2\",\"requisiteStageRefIds\":[\"1\"],\"type\":\"wait\",\"name\":\"after-bad\"},"
	                  "{\"refId\":\"3\",\"type\":\"wait\",\"name\":\"other\",\"waitTime\":1}]}",
	                  NULL);
	json_t *e = wait_done(id, 8000);
	assert_string_equal(mz_json_str(e, "status"), "TERMINAL");
	assert_string_equal(mz_json_str(stage_named(e, "bad"), "status"), "STOPPED");
	assert_string_equal(mz_json_str(stage_named(e, "other"), "status"), "SUCCEEDED");
	assert_string_equal(mz_json_str(stage_named(e, "after-bad"), "status"), "NOT_STARTED");
	assert_true(mz_json_int(e, "endTime", 0) >= mz_json_int(stage_named(e, "other"), "endTime", 0));
	json_decref(e);
	free(id);

	/* halt this branch only: the pipeline succeeds */
	id = launch("{\"application\":\"app\",\"name\":\"halt-branch\",\"stages\":["
	            "{\"refId\":\"1\",\"type\":\"checkPreconditions\",\"name\":\"bad\","
	            "\"failPipeline\":false,\"preconditions\":[{\"type\":\"expression\","
	            "\"failPipeline\":false,\"context\":{\"expression\":\"${false}\"}}]},"
	            "{\"refId\":\"3\",\"type\":\"wait\",\"name\":\"other\",\"waitTime\":0}]}", NULL);
	e = wait_done(id, 8000);
	assert_string_equal(mz_json_str(e, "status"), "SUCCEEDED");
	json_decref(e);
	free(id);
}

static void
test_unknown_stage_type(void **state)
{
	char *id = launch("{\"application\":\"app\",\"name\":\"unknown\",\"stages\":["
	                  "{\"type\":\"deployToMars\",\"name\":\"mars\"}]}", NULL);
	json_t *e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "TERMINAL");
	json_t *exc = json_object_get(json_object_get(stage_named(e, "mars"), "context"), "exception");
	const char *msg = mz_json_str(json_object_get(exc, "details"), "error");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "deployToMars"));
	json_decref(e);
	free(id);
}

static void
test_child_pipeline(void **state)
{
	json_t *child = parse("{\"id\":\"child-cfg\",\"application\":\"app\",\"name\":\"child\","
	                      "\"parameterConfig\":[{\"name\":\"who\",\"default\":\"nobody\"}],"
	                      "\"stages\":[{\"type\":\"evaluateVariables\",\"name\":\"v\","
	                      "\"variables\":[{\"key\":\"greeting\",\"value\":\"hello ${parameters.who}\"}]}]}");
	mz_err err = {0};
	assert_int_equal(mz_store_begin(st, &err), MZ_OK);
	assert_int_equal(mz_pipeline_put(st, child, &err), MZ_OK);
	assert_int_equal(mz_store_commit(st, &err), MZ_OK);
	json_decref(child);
	char *id = launch("{\"application\":\"app\",\"name\":\"parent\",\"stages\":["
	                  "{\"refId\":\"1\",\"type\":\"pipeline\",\"name\":\"run child\","
	                  "\"application\":\"app\",\"pipeline\":\"child-cfg\","
	                  "\"pipelineParameters\":{\"who\":\"world\"}},"
	                  "{\"refId\":\"2\",\"requisiteStageRefIds\":[\"1\"],\"type\":\"checkPreconditions\","
	                  "\"name\":\"check\",\"preconditions\":[{\"type\":\"expression\",\"context\":"
	                  "{\"expression\":\"${#stage('run child').outputs.greeting == 'hello world'}\"}}]}]}",
	                  NULL);
	json_t *e = wait_done(id, 10000);
	assert_string_equal(mz_json_str(e, "status"), "SUCCEEDED");
	json_t *ctx = json_object_get(stage_named(e, "run child"), "context");
	const char *child_id = mz_json_str(ctx, "executionId");
	assert_non_null(child_id);
	json_t *ce = get_exec(child_id);
	assert_string_equal(mz_json_str(json_object_get(ce, "trigger"), "type"), "pipeline");
	assert_string_equal(mz_json_str(json_object_get(ce, "trigger"), "parentPipelineId"), id);
	json_decref(ce);
	json_decref(e);
	free(id);
}

static void
test_limit_concurrent(void **state)
{
	const char *cfg = "{\"id\":\"lc-cfg\",\"application\":\"app\",\"name\":\"lc\","
	                  "\"limitConcurrent\":true,\"keepWaitingPipelines\":true,"
	                  "\"stages\":[{\"type\":\"wait\",\"name\":\"w\",\"waitTime\":1}]}";
	char *a = launch(cfg, NULL);
	json_t *e = wait_stage(a, "w", "RUNNING", 5000);
	json_decref(e);
	char *b = launch(cfg, NULL);
	usleep(300000);
	e = get_exec(b);
	assert_string_equal(mz_json_str(e, "status"), "NOT_STARTED");
	json_decref(e);
	e = wait_done(a, 5000);
	json_t *eb = wait_done(b, 8000);
	assert_string_equal(mz_json_str(eb, "status"), "SUCCEEDED");
	assert_true(mz_json_int(eb, "startTime", 0) >= mz_json_int(e, "endTime", 0));
	json_decref(e);
	json_decref(eb);
	free(a);
	free(b);
}

static void
test_pause_resume(void **state)
{
	char *id = launch("{\"application\":\"app\",\"name\":\"pr\",\"stages\":["
	                  "{\"type\":\"wait\",\"name\":\"w\",\"waitTime\":1}]}", NULL);
	json_t *e = wait_stage(id, "w", "RUNNING", 5000);
	json_decref(e);
	mz_err err = {0};
	assert_int_equal(mz_engine_pause(eng, st, id, "pat", &err), MZ_OK);
	e = wait_stage(id, "w", "PAUSED", 3000);
	assert_string_equal(mz_json_str(e, "status"), "PAUSED");
	json_decref(e);
	assert_int_equal(mz_engine_pause(eng, st, id, "pat", &err), MZ_ECONFLICT);
	assert_int_equal(mz_engine_resume(eng, st, id, "pat", &err), MZ_OK);
	e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "SUCCEEDED");
	json_decref(e);
	free(id);
}

static void
test_restart_stage(void **state)
{
	char *id = launch("{\"application\":\"app\",\"name\":\"restart\",\"stages\":["
	                  "{\"refId\":\"1\",\"type\":\"manualJudgment\",\"name\":\"approve\"},"
	                  "{\"refId\":\"2\",\"requisiteStageRefIds\":[\"1\"],\"type\":\"wait\",\"name\":\"w\"}]}",
	                  NULL);
	json_t *e = wait_stage(id, "approve", "RUNNING", 5000);
	mz_err err = {0};
	json_t *patch = json_pack("{s:s}", "judgmentStatus", "stop");
	assert_int_equal(mz_engine_patch_stage(eng, st, id, judgment_stage_id(e), patch, "x", NULL,
	                                       &err), MZ_OK);
	char *sid = mz_strdup(judgment_stage_id(e));
	json_decref(e);
	e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "TERMINAL");
	json_decref(e);
	assert_int_equal(mz_engine_restart_stage(eng, st, id, sid, "x", NULL, &err), MZ_OK);
	e = wait_stage(id, "approve", "RUNNING", 5000);
	json_decref(e);
	json_object_set_new(patch, "judgmentStatus", json_string("continue"));
	assert_int_equal(mz_engine_patch_stage(eng, st, id, sid, patch, "x", NULL, &err), MZ_OK);
	e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "SUCCEEDED");
	assert_non_null(json_object_get(json_object_get(stage_named(e, "approve"), "context"),
	                                "restartDetails"));
	json_decref(e);
	json_decref(patch);
	free(sid);
	free(id);
}

static void
test_manual_skip_and_stage_timeout(void **state)
{
	char *id = launch("{\"application\":\"app\",\"name\":\"skip\",\"stages\":["
	                  "{\"refId\":\"1\",\"type\":\"manualJudgment\",\"name\":\"approve\"},"
	                  "{\"refId\":\"2\",\"requisiteStageRefIds\":[\"1\"],\"type\":\"wait\",\"name\":\"w\"}]}",
	                  NULL);
	json_t *e = wait_stage(id, "approve", "RUNNING", 5000);
	mz_err err = {0};
	json_t *patch = json_pack("{s:b}", "manualSkip", 1);
	assert_int_equal(mz_engine_patch_stage(eng, st, id, judgment_stage_id(e), patch, "x", NULL,
	                                       &err), MZ_OK);
	json_decref(patch);
	json_decref(e);
	e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "SUCCEEDED");
	assert_string_equal(mz_json_str(stage_named(e, "approve"), "status"), "SKIPPED");
	assert_string_equal(mz_json_str(stage_named(e, "w"), "status"), "SUCCEEDED");
	json_decref(e);
	free(id);

	id = launch("{\"application\":\"app\",\"name\":\"timeout\",\"stages\":["
	            "{\"type\":\"wait\",\"name\":\"slow\",\"waitTime\":30,\"stageTimeoutMs\":300}]}",
	            NULL);
	e = wait_done(id, 5000);
	assert_string_equal(mz_json_str(e, "status"), "TERMINAL");
	const char *msg = mz_json_str(json_object_get(json_object_get(json_object_get(
		stage_named(e, "slow"), "context"), "exception"), "details"), "error");
	assert_non_null(msg);
	assert_non_null(strstr(msg, "timed out"));
	json_decref(e);
	free(id);
}

static void
expect_invalid(const char *text, const char *needle)
{
	json_t *cfg = parse(text);
	mz_err err = {0};
	assert_int_equal(mz_pipeline_validate(cfg, &err), MZ_EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("expected '%s' in: %s", needle, err.msg);
	json_decref(cfg);
}

static void
test_validation(void **state)
{
	expect_invalid("{\"application\":\"a\",\"name\":\"n\",\"stages\":["
	               "{\"refId\":\"1\",\"requisiteStageRefIds\":[\"2\"],\"type\":\"wait\"},"
	               "{\"refId\":\"2\",\"requisiteStageRefIds\":[\"1\"],\"type\":\"wait\"}]}", "cycle");
	expect_invalid("{\"application\":\"a\",\"name\":\"n\",\"stages\":["
	               "{\"refId\":\"1\",\"requisiteStageRefIds\":[\"9\"],\"type\":\"wait\"}]}",
	               "'9', which no stage has");
	expect_invalid("{\"application\":\"a\",\"name\":\"n\",\"stages\":["
	               "{\"refId\":\"1\",\"type\":\"wait\"},{\"refId\":\"1\",\"type\":\"wait\"}]}",
	               "more than one stage");
	expect_invalid("{\"application\":\"a\",\"stages\":[]}", "name");
	expect_invalid("{\"name\":\"n\",\"stages\":[]}", "application");
	expect_invalid("{\"application\":\"a\",\"name\":\"n\",\"stages\":[{\"name\":\"x\"}]}", "type");
	expect_invalid("{\"application\":\"a\",\"name\":\"n\",\"stages\":[{\"type\":\"wait\","
	               "\"waitTime\":\"${1 +}\"}]}", "invalid expression");
	json_t *ok = parse("{\"application\":\"a\",\"name\":\"n\",\"stages\":["
	                   "{\"refId\":1,\"type\":\"wait\"},{\"refId\":2,\"requisiteStageRefIds\":[1],"
	                   "\"type\":\"deployToMars\"}]}");
	mz_err err = {0};
	assert_int_equal(mz_pipeline_validate(ok, &err), MZ_OK);
	json_decref(ok);
}

/* A resolver standing in for src/auth: ${#secret('q')} is a value with
 * quotes, ${#secret('k')} a plain one, anything else is missing. */
static char *
fake_resolver(const char *text, mz_secret_use *use, mz_err *err, void *udata)
{
	(void)udata;
	mz_buf b;
	mz_buf_init(&b, 0);
	for (const char *p = text; *p;) {
		if (strncmp(p, "${#secret('q')}", 15) == 0) {
			mz_buf_adds(&b, "a\"b\\c-QUOTED");
			mz_secret_use_add(use, "a\"b\\c-QUOTED");
			p += 15;
		} else if (strncmp(p, "${#secret('k')}", 15) == 0) {
			mz_buf_adds(&b, "KEY123");
			mz_secret_use_add(use, "KEY123");
			p += 15;
		} else if (strncmp(p, "${#secret(", 10) == 0) {
			mz_buf_release(&b);
			mz_fail(err, MZ_ENOTFOUND, "secret missing");
			return NULL;
		} else {
			mz_buf_add(&b, p++, 1);
		}
	}
	return mz_buf_detach(&b, NULL);
}

static void
test_secrets_resolve_and_scrub(void **state)
{
	mz_engine_set_secret_fn(fake_resolver, NULL);
	mz_secret_use use = {0};
	mz_err err = {0};
	json_t *in = parse("{\"a\": \"x ${#secret('q')} y\", \"n\": [1, \"${#secret('k')}\"],"
	                   " \"${#secret('k')}\": \"keys stay\"}");
	json_t *out = mz_engine_resolve_secrets_json(in, &use, &err);
	assert_non_null(out);
	assert_string_equal(json_string_value(json_object_get(out, "a")), "x a\"b\\c-QUOTED y");
	assert_string_equal(json_string_value(json_array_get(json_object_get(out, "n"), 1)),
	                    "KEY123");
	assert_non_null(json_object_get(out, "${#secret('k')}"));
	/* serialised after resolving: the quote is escaped inside its string */
	char *text = mz_json_dump(out);
	json_t *back = json_loads(text, 0, NULL);
	assert_true(json_equal(back, out));
	json_decref(back);
	free(text);
	mz_secret_json_free(out);
	assert_int_equal((int)use.n, 2);

	char msg[] = "GET http://h/KEY123?x=KEY123KEY123 answered a\"b\\c-QUOTED!";
	mz_secret_use_scrub(&use, msg);
	assert_string_equal(msg, "GET http://h/****?x=******** answered ****!");
	char mem[] = {'K', 'E', 'Y', '1', '2', '3', 0, 'K', 'E', 'Y', '1', '2', '3', 'z'};
	size_t n = mz_secret_use_scrub_mem(&use, mem, sizeof(mem));
	assert_int_equal((int)n, 10);
	assert_memory_equal(mem, "****\0****z", 10);
	json_t *echo = parse("{\"KEY123\": [\"Bearer KEY123\"], \"ok\": \"fine\"}");
	mz_secret_use_scrub_json(&use, echo);
	assert_string_equal(json_string_value(json_array_get(json_object_get(echo, "****"), 0)),
	                    "Bearer ****");
	assert_null(json_object_get(echo, "KEY123"));
	json_decref(echo);

	/* a missing secret: NULL and the error, nothing half resolved */
	json_t *bad = parse("[\"${#secret('k')}\", \"${#secret('gone')}\"]");
	memset(&err, 0, sizeof(err));
	assert_null(mz_engine_resolve_secrets_json(bad, &use, &err));
	assert_int_equal(err.code, MZ_ENOTFOUND);
	json_decref(bad);
	json_decref(in);
	mz_secret_use_release(&use);
	assert_int_equal((int)use.n, 0);
	mz_engine_set_secret_fn(NULL, NULL);
}

/* The outbox events of one execution, as "type:hasNotifications" strings
 * in order (no event bus runs here, so they stay in the outbox). */
static char *
outbox_of(const char *exec_id)
{
	json_t *list = NULL;
	mz_err err = {0};
	assert_int_equal(mz_outbox_fetch(st, 0, 10000, &list, &err), MZ_OK);
	mz_buf out;
	mz_buf_init(&out, 1 << 16);
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item) {
		json_t *ev = json_object_get(item, "event");
		json_t *c = json_object_get(ev, "content");
		if (!mz_streq(mz_json_str(c, "executionId"), exec_id))
			continue;
		json_t *hn = json_object_get(c, "hasNotifications");
		char line[128];
		snprintf(line, sizeof(line), "%s%s:%s", out.len ? " " : "",
		         mz_json_str(json_object_get(ev, "details"), "type"),
		         json_is_boolean(hn) ? (json_is_true(hn) ? "yes" : "no") : "-");
		mz_buf_adds(&out, line);
	}
	json_decref(list);
	char *text = mz_buf_detach(&out, NULL);
	return text ? text : mz_strdup("");
}

/* Only events someone reads go to the outbox: a pipeline's start only
 * with notifications (the dispatcher's transaction and the execution's
 * parse are per event), its end always (pipeline triggers), saying
 * whether the execution has notifications. */
static void
test_outbox_events(void **state)
{
	(void)state;
	char *quiet = launch("{\"application\":\"app\",\"name\":\"quiet\",\"stages\":["
	                     "{\"refId\":\"1\",\"type\":\"wait\",\"name\":\"a\",\"waitTime\":0}]}",
	                     NULL);
	char *told = launch("{\"application\":\"app\",\"name\":\"told\",\"notifications\":[{"
	                    "\"type\":\"email\",\"address\":\"ops@example.com\",\"when\":["
	                    "\"pipeline.starting\"]}],\"stages\":[{\"refId\":\"1\",\"type\":"
	                    "\"wait\",\"name\":\"a\",\"waitTime\":0}]}", NULL);
	json_decref(wait_done(quiet, 5000));
	json_decref(wait_done(told, 5000));
	char *q = outbox_of(quiet), *t = outbox_of(told);
	assert_string_equal(q, "orca:pipeline:complete:no");
	assert_string_equal(t, "orca:pipeline:starting:yes orca:pipeline:complete:yes");
	free(q);
	free(t);
	free(quiet);
	free(told);
}

/* Launches of one config copy its validated, built stages (engine_launch.c's
 * templates): each execution still gets its own stage ids, and a config
 * that changed in any way, even into an invalid one, is built afresh. */
static void
test_launch_template(void **state)
{
	(void)state;
	const char *text = "{\"id\":\"tmpl-1\",\"application\":\"app\",\"name\":\"tmpl\","
	                   "\"stages\":[{\"refId\":\"1\",\"type\":\"wait\",\"name\":\"a\","
	                   "\"waitTime\":1},{\"refId\":\"2\",\"requisiteStageRefIds\":[\"1\"],"
	                   "\"type\":\"wait\",\"name\":\"b\",\"waitTime\":2}]}";
	json_t *cfg = parse(text);
	mz_err err = {0};
	json_t *a = mz__build_pipeline(cfg, NULL, "u", "api", &err);
	json_t *b = mz__build_pipeline(cfg, NULL, "u", "api", &err);
	assert_non_null(a);
	assert_non_null(b);
	json_t *sa = json_object_get(a, "stages"), *sb = json_object_get(b, "stages");
	assert_int_equal(json_array_size(sb), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *x = json_array_get(sa, i), *y = json_array_get(sb, i);
		assert_string_not_equal(mz_json_str(x, "id"), mz_json_str(y, "id"));
		json_t *yc = json_deep_copy(y);
		json_object_set(yc, "id", json_object_get(x, "id"));
		assert_true(json_equal(x, yc)); /* the same stage but its id */
		json_decref(yc);
	}
	assert_true(strcmp(mz_json_str(json_array_get(sb, 0), "id"),
	                   mz_json_str(json_array_get(sb, 1), "id")) < 0);
	assert_string_not_equal(mz_json_str(a, "id"), mz_json_str(b, "id"));
	/* the same id, another config */
	json_t *changed = parse(text);
	json_object_set_new(json_array_get(json_object_get(changed, "stages"), 1), "waitTime",
	                    json_integer(7));
	json_t *c = mz__build_pipeline(changed, NULL, "u", "api", &err);
	assert_non_null(c);
	assert_int_equal(mz_json_int(json_object_get(json_array_get(
		json_object_get(c, "stages"), 1), "context"), "waitTime", 0), 7);
	/* and one that no longer validates */
	json_object_set_new(json_array_get(json_object_get(changed, "stages"), 1),
	                    "requisiteStageRefIds", json_pack("[s]", "9"));
	assert_null(mz__build_pipeline(changed, NULL, "u", "api", &err));
	assert_int_equal(err.code, MZ_EINVAL);
	/* the first config again: its stages, not the changed ones */
	json_t *d = mz__build_pipeline(cfg, NULL, "u", "api", &err);
	assert_non_null(d);
	assert_int_equal(mz_json_int(json_object_get(json_array_get(
		json_object_get(d, "stages"), 1), "context"), "waitTime", 0), 2);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	json_decref(changed);
	json_decref(cfg);
}

static json_t *
gstage(const char *id, const char *ref, const char *req, const char *parent)
{
	json_t *s = json_pack("{s:s, s:s, s:[]}", "id", id, "refId", ref, "requisiteStageRefIds");
	if (req)
		json_array_append_new(json_object_get(s, "requisiteStageRefIds"), json_string(req));
	if (parent) {
		json_object_set_new(s, "parentStageId", json_string(parent));
		json_object_set_new(s, "syntheticStageOwner", json_string("STAGE_BEFORE"));
	}
	return s;
}

static void
assert_stages(json_t *got, const json_t *a, const json_t *b)
{
	assert_int_equal(json_array_size(got), (a != NULL) + (b != NULL));
	if (a)
		assert_ptr_equal(json_array_get(got, 0), a);
	if (b)
		assert_ptr_equal(json_array_get(got, 1), b);
	json_decref(got);
}

/* The graph walks answer from an index of the execution's stages
 * (engine_graph.c), which must follow every change of the stages array:
 * a stage inserted, a stage removed and another put in its place (even
 * with the same id), the whole array replaced, another execution. */
static void
test_stage_graph_follows_changes(void **state)
{
	(void)state;
	json_t *exec = json_pack("{s:[]}", "stages");
	json_t *stages = json_object_get(exec, "stages");
	json_t *a = gstage("a", "1", NULL, NULL), *b = gstage("b", "2", "1", NULL),
	       *c = gstage("c", "3", "2", NULL);
	json_array_append_new(stages, a);
	json_array_append_new(stages, b);
	json_array_append_new(stages, c);
	assert_stages(mz__downstream(exec, a), b, NULL);
	assert_stages(mz__upstream(exec, c), b, NULL);
	assert_ptr_equal(mz__stage_by_id(exec, "b"), b);
	assert_ptr_equal(mz__stage_by_ref(exec, "3"), c);
	assert_stages(mz__children(exec, a, NULL), NULL, NULL);

	/* a synthetic stage inserted */
	json_t *d = gstage("d", "1<1", NULL, "a");
	json_array_insert_new(stages, 1, d);
	assert_stages(mz__children(exec, a, "STAGE_BEFORE"), d, NULL);
	assert_stages(mz__children(exec, a, "STAGE_AFTER"), NULL, NULL);
	assert_ptr_equal(mz__parent(exec, d), a);
	assert_stages(mz__downstream(exec, a), b, NULL); /* d has another parent */

	/* b removed, and another stage with its id and refId in its place,
	 * now not waiting for a */
	json_array_remove(stages, 2);
	json_t *b2 = gstage("b", "2", NULL, NULL);
	json_array_insert_new(stages, 2, b2);
	assert_ptr_equal(mz__stage_by_id(exec, "b"), b2);
	assert_stages(mz__downstream(exec, a), NULL, NULL);
	assert_stages(mz__upstream(exec, c), b2, NULL);

	/* the whole array replaced */
	json_t *e = gstage("e", "2", "1", NULL);
	json_object_set_new(exec, "stages", json_pack("[O, o]", a, e));
	assert_ptr_equal(mz__stage_by_id(exec, "b"), NULL);
	assert_stages(mz__downstream(exec, a), e, NULL);

	/* another execution (maybe at the same address) */
	json_decref(exec);
	exec = json_pack("{s:[o, o]}", "stages", gstage("x", "1", NULL, NULL),
	                 gstage("y", "2", "1", NULL));
	json_t *x = mz__stage_by_id(exec, "x");
	assert_non_null(x);
	assert_null(mz__stage_by_id(exec, "a"));
	assert_stages(mz__downstream(exec, x), mz__stage_by_ref(exec, "2"), NULL);
	json_decref(exec);
}

/* Typed messages (engine_msg.c) have the JSON messages always had, in
 * the queue table and in comparisons, and fall back to JSON when a value
 * is missing or too long to be held, or when a key beyond theirs is set. */
static void
assert_msg_json(const mz_qmsg *m, const char *want)
{
	json_t *j = mz__qm_json(m);
	char *got = mz_json_canonical(j);
	assert_string_equal(got, want);
	assert_true(mz__qm_equal_json(m, j));
	free(got);
	json_decref(j);
}

static void
test_typed_messages(void **state)
{
	(void)state;
	json_t *exec = json_pack("{s:s, s:s}", "id", "01JEXEC", "type", "ORCHESTRATION");
	json_t *stage = json_pack("{s:s}", "id", "01JSTAGE");
	json_t *task = json_pack("{s:s}", "id", "3");

	mz_qmsg m = mz__msg_task("completeTask", exec, stage, task);
	assert_null(m.json);
	mz__qm_set(&m, "status", json_string("TERMINAL"));
	mz__qm_set(&m, "originalStatus", json_string("FAILED_CONTINUE"));
	assert_null(m.json); /* statuses stay typed */
	assert_string_equal(mz__qm_str(&m, "status"), "TERMINAL");
	assert_string_equal(mz__qm_str(&m, "taskId"), "3");
	assert_msg_json(&m, "{\"executionId\":\"01JEXEC\",\"executionType\":\"ORCHESTRATION\","
	                    "\"kind\":\"completeTask\",\"originalStatus\":\"FAILED_CONTINUE\","
	                    "\"stageId\":\"01JSTAGE\",\"status\":\"TERMINAL\",\"taskId\":\"3\"}");

	/* equality with a stored message: one key more or less, or another
	 * value, is another message */
	json_t *j = mz__qm_json(&m);
	json_object_set_new(j, "extra", json_true());
	assert_false(mz__qm_equal_json(&m, j));
	json_object_del(j, "extra");
	json_object_del(j, "originalStatus");
	assert_false(mz__qm_equal_json(&m, j));
	json_object_set_new(j, "originalStatus", json_string("TERMINAL"));
	assert_false(mz__qm_equal_json(&m, j));
	json_decref(j);

	/* a copy is independent; another key makes the message JSON */
	mz_qmsg c = mz__qm_copy(&m);
	mz__qm_set(&c, "phase", json_string("STAGE_AFTER"));
	assert_non_null(c.json);
	assert_string_equal(mz__qm_str(&c, "phase"), "STAGE_AFTER");
	assert_string_equal(mz__qm_str(&c, "status"), "TERMINAL");
	assert_null(mz__qm_str(&m, "phase"));
	mz__qm_release(&c);
	mz__qm_release(&m);

	/* an execution without a type is a PIPELINE's, as before */
	json_object_del(exec, "type");
	m = mz__msg_exec("startExecution", exec);
	assert_null(m.json);
	assert_msg_json(&m, "{\"executionId\":\"01JEXEC\",\"executionType\":\"PIPELINE\","
	                    "\"kind\":\"startExecution\"}");
	mz__qm_release(&m);

	/* a missing id is a null member, an id too long for the fields and an
	 * unknown type are kept whole: JSON messages */
	m = mz__msg_stage("startStage", exec, json_object_get(exec, "nothing"));
	assert_non_null(m.json);
	assert_msg_json(&m, "{\"executionId\":\"01JEXEC\",\"executionType\":\"PIPELINE\","
	                    "\"kind\":\"startStage\",\"stageId\":null}");
	mz__qm_release(&m);
	json_object_set_new(stage, "id", json_string("a-stage-id-longer-than-thirty-two-chars"));
	m = mz__msg_stage("startStage", exec, stage);
	assert_non_null(m.json);
	assert_string_equal(mz__qm_str(&m, "stageId"), "a-stage-id-longer-than-thirty-two-chars");
	mz__qm_release(&m);
	json_object_set_new(exec, "type", json_string("SOMETHING"));
	m = mz__msg_exec("startExecution", exec);
	assert_non_null(m.json);
	assert_string_equal(mz__qm_str(&m, "executionType"), "SOMETHING");
	mz__qm_release(&m);

	json_decref(exec);
	json_decref(stage);
	json_decref(task);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_stage_graph_follows_changes),
		cmocka_unit_test(test_typed_messages),
		cmocka_unit_test(test_outbox_events),
		cmocka_unit_test(test_launch_template),
		cmocka_unit_test(test_linear_refless),
		cmocka_unit_test(test_parallel_join),
		cmocka_unit_test(test_variables_and_preconditions),
		cmocka_unit_test(test_manual_judgment),
		cmocka_unit_test(test_cancel_running_wait),
		cmocka_unit_test(test_complete_other_branches_then_fail),
		cmocka_unit_test(test_unknown_stage_type),
		cmocka_unit_test(test_child_pipeline),
		cmocka_unit_test(test_limit_concurrent),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_restart_stage),
		cmocka_unit_test(test_manual_skip_and_stage_timeout),
		cmocka_unit_test(test_secrets_resolve_and_scrub),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
