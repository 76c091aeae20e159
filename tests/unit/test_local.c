/*
 * test_local.c - the local provider against real processes and a real
 * HAProxy: images, instances and their health, replacement, resize, load
 * balancers with a red/black switch under a continuous client (zero failed
 * requests), validation, clientRequestId idempotency, re-adoption after a
 * provider restart, and instances that never become healthy.
 *
 * Each test gets a fresh data dir; teardown (and atexit, for failures) kills
 * every process group recorded in the state files and the HAProxy master.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cloud/local/local.h"
#include "cloud/local/local_int.h"

static char g_dir[512];
static char g_sockdir[512]; /* HAProxy sockets outside the data dir */
static char g_parent[512]; /* removed too when a test moved g_dir below it */
static mz_local *g_lp;
static char g_apps[1024];

/* ---- cleanup of everything a test started ------------------------------- */

static void
kill_recorded(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *p = mz_asprintf("%s/%s", dir, e->d_name);
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
			json_t *sg = lp_read_json(p);
			size_t i;
			json_t *inst;
			json_array_foreach(json_object_get(sg, "instances"), i, inst) {
				pid_t pid = (pid_t)mz_json_int(inst, "pid", 0);
				if (mz_proc_alive(pid, (uint64_t)mz_json_int(inst, "startTicks", 0))) {
					kill(-pid, SIGKILL);
					kill(pid, SIGKILL);
				}
			}
			json_decref(sg);
		} else {
			kill_recorded(p);
		}
		free(p);
	}
	if (d)
		closedir(d);
}

static void
cleanup_all(void)
{
	char path[1024];
	if (!g_dir[0])
		return;
	if (g_lp) {
		mz_local_stop(g_lp);
		g_lp = NULL;
	}
	snprintf(path, sizeof(path), "%s/cloud/servergroups", g_dir);
	kill_recorded(path);
	snprintf(path, sizeof(path), "%s/cloud/haproxy/haproxy.pid", g_dir);
	char *text = mz_read_file(path, NULL, NULL);
	if (text) {
		pid_t pid = atoi(text);
		if (pid > 0 && mz_proc_start_ticks(pid) != 0) {
			pid_t pg = getpgid(pid);
			kill(pid, SIGTERM);
			lp_sleep_ms(100);
			if (pg > 1)
				kill(-pg, SIGKILL);
			kill(pid, SIGKILL);
		}
		free(text);
	}
	/* reap children (instances were our children) */
	for (int i = 0; i < 50; i++)
		if (waitpid(-1, NULL, WNOHANG) <= 0)
			break;
	mz_proc_rm_rf(g_dir);
	g_dir[0] = '\0';
	if (g_parent[0]) {
		mz_proc_rm_rf(g_parent);
		g_parent[0] = '\0';
	}
	if (g_sockdir[0]) {
		mz_proc_rm_rf(g_sockdir);
		g_sockdir[0] = '\0';
	}
}

/* Where the tests' images lie (providers.local.imageRoots). */
static json_t *
image_roots(void)
{
	return json_pack("[s, s]", g_apps, g_dir);
}

static void
start_provider(void)
{
	json_t *roots = image_roots();
	mz_local_config cfg = { .data_dir = g_dir, .health_interval_ms = 200,
	                        .image_roots = roots };
	mz_err err;
	mz_err_clear(&err);
	assert_int_equal(mz_local_start(&cfg, &g_lp, &err), MZ_OK);
	json_decref(roots);
}

static int
setup(void **state)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/mz-local-test-XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	start_provider();
	return 0;
}

static int
teardown(void **state)
{
	cleanup_all();
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static char *
app_dir(const char *name)
{
	return mz_asprintf("%s/apps/%s", g_apps, name);
}

static void
submit_ok(const char *op, json_t *desc /* stolen */, const char *req, char tid[40])
{
	mz_err err;
	mz_err_clear(&err);
	mz_code rc = mz_local_submit(g_lp, op, desc, req, tid, &err);
	if (rc != MZ_OK)
		fail_msg("%s rejected: %s", op, err.msg);
	json_decref(desc);
}

static json_t *
wait_task(const char *tid, int timeout_ms)
{
	int64_t deadline = mz_mono_ms() + timeout_ms;
	for (;;) {
		json_t *t = mz_local_task(g_lp, tid);
		assert_non_null(t);
		if (json_is_true(json_object_get(json_object_get(t, "status"), "completed")))
			return t;
		json_decref(t);
		if (mz_mono_ms() > deadline)
			fail_msg("task %s did not complete", tid);
		lp_sleep_ms(20);
	}
}

static void
run_ok(const char *op, json_t *desc)
{
	char tid[40];
	submit_ok(op, desc, NULL, tid);
	json_t *t = wait_task(tid, 40000);
	if (json_is_true(json_object_get(json_object_get(t, "status"), "failed"))) {
		char *s = mz_json_dump(t);
		fail_msg("%s failed: %s", op, s);
	}
	json_decref(t);
}

static json_t *
sg_read(const char *name)
{
	return mz_local_server_group(g_lp, "local", "local", name);
}

/* Waits until the server group has exactly n instances, all Up. */
static json_t *
wait_up(const char *name, int n, int timeout_ms)
{
	int64_t deadline = mz_mono_ms() + timeout_ms;
	for (;;) {
		json_t *sg = sg_read(name);
		json_t *c = json_object_get(sg, "instanceCounts");
		if (sg && mz_json_int(c, "up", -1) == n && mz_json_int(c, "total", -1) == n)
			return sg;
		if (mz_mono_ms() > deadline) {
			char *s = sg ? mz_json_dump(sg) : mz_strdup("(none)");
			fail_msg("%s: not %d Up instances in time: %s", name, n, s);
		}
		json_decref(sg);
		lp_sleep_ms(50);
	}
}

static json_t *
create_desc(const char *stack, const char *image, int desired, const char *version,
            const char *lb)
{
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:s}", "application", "shop",
	                      "stack", stack, "credentials", "local", "region", "local", "capacity",
	                      "min", 0, "max", 10, "desired", desired, "image", image);
	if (version)
		json_object_set_new(d, "env", json_pack("{s:s, s:s}", "APP_VERSION", version,
		                                        "API_TOKEN", "hunter2"));
	if (lb)
		json_object_set_new(d, "loadBalancers", json_pack("[s]", lb));
	return d;
}

static void
import_web(char id[80])
{
	char *dir = app_dir("web");
	mz_err err;
	mz_err_clear(&err);
	if (mz_local_image_import(g_lp, dir, NULL, id, &err) != MZ_OK)
		fail_msg("import: %s", err.msg);
	free(dir);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_image_import(void **state)
{
	char id1[80], id2[80], id3[80];
	char *dir = app_dir("web");
	char *tgz = mz_asprintf("%s/web.tar.gz", g_dir);
	const char *const tar_argv[] = { "tar", "-czf", tgz, "-C", dir, ".", NULL };
	mz_err err;
	struct stat st;

	import_web(id1);
	import_web(id2);
	assert_string_equal(id1, id2); /* content addressed */
	assert_int_equal(strncmp(id1, "img-", 4), 0);
	assert_int_equal(mz_proc_run_argv(tar_argv, NULL, 60000), 0);
	mz_err_clear(&err);
	assert_int_equal(mz_local_image_import(g_lp, tgz, NULL, id3, &err), MZ_OK);
	assert_string_equal(id1, id3); /* same files from a .tar.gz: same id */

	json_t *img = mz_local_image(g_lp, id1);
	assert_non_null(img);
	assert_string_equal(mz_json_str(json_object_get(img, "manifest"), "name"), "web");
	char *app = mz_asprintf("%s/app.py", mz_json_str(img, "path"));
	assert_int_equal(stat(app, &st), 0);
	assert_true((st.st_mode & 0222) == 0); /* read-only */
	assert_true((st.st_mode & 0100) != 0); /* still executable */
	json_t *all = mz_local_images(g_lp);
	assert_int_equal(json_array_size(all), 1);
	assert_null(mz_local_image(g_lp, "img-nope"));
	mz_err_clear(&err);
	assert_int_equal(mz_local_image_import(g_lp, "/nonexistent/x", NULL, id3, &err), MZ_EINVAL);
	json_decref(all);
	json_decref(img);
	free(app);
	free(dir);
	free(tgz);
}

static void
test_instances_health_replace_resize(void **state)
{
	char id[80];
	import_web(id);
	run_ok("createServerGroup", create_desc("api", id, 3, "v1", NULL));

	int64_t t0 = mz_mono_ms();
	json_t *sg = wait_up("shop-api-v000", 3, 15000);
	print_message("  3 instances Up in %lld ms\n", (long long)(mz_mono_ms() - t0));
	json_t *insts = json_object_get(sg, "instances");
	int ports[3];
	pid_t pids[3];
	for (int i = 0; i < 3; i++) {
		json_t *inst = json_array_get(insts, (size_t)i);
		ports[i] = (int)mz_json_int(inst, "port", 0);
		pids[i] = (pid_t)mz_json_int(inst, "pid", 0);
		assert_true(ports[i] > 0);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(ports[i], ports[j]);
		mz_buf body;
		mz_buf_init(&body, 0);
		assert_int_equal(lp_http_get(ports[i], "/", 2000, &body), 200);
		assert_string_equal(body.data, "v1\n");
		mz_buf_release(&body);
		json_t *full = mz_local_instance(g_lp, "local", "local", mz_json_str(inst, "id"));
		struct stat st;
		assert_int_equal(stat(mz_json_str(full, "log"), &st), 0);
		json_decref(full);
		char *console = mz_local_console(g_lp, "local", "local", mz_json_str(inst, "id"), 4096);
		assert_non_null(strstr(console, "serving v1"));
		free(console);
	}
	/* the shapes */
	assert_string_equal(mz_json_str(sg, "cluster"), "shop-api");
	assert_int_equal(mz_json_int(json_object_get(sg, "moniker"), "sequence", -1), 0);
	assert_string_equal(mz_json_str(json_object_get(json_object_get(sg, "launchConfig"), "env"),
	                                "API_TOKEN"),
	                    "****");
	json_decref(sg);

	/* a crash: the instance is replaced (new id, new pid) */
	kill(-pids[1], SIGKILL);
	t0 = mz_mono_ms();
	for (;;) {
		sg = wait_up("shop-api-v000", 3, 15000);
		bool old_gone = true;
		size_t i;
		json_t *inst;
		json_array_foreach(json_object_get(sg, "instances"), i, inst)
			if (mz_json_int(inst, "pid", 0) == pids[1])
				old_gone = false;
		json_decref(sg);
		if (old_gone)
			break;
		assert_true(mz_mono_ms() - t0 < 15000);
		lp_sleep_ms(50);
	}
	print_message("  crashed instance replaced and Up in %lld ms\n",
	              (long long)(mz_mono_ms() - t0));

	/* terminateInstances: replaced too */
	sg = sg_read("shop-api-v000");
	const char *victim = mz_json_str(json_array_get(json_object_get(sg, "instances"), 0), "id");
	run_ok("terminateInstances", json_pack("{s:[s], s:s, s:s}", "instanceIds", victim,
	                                       "credentials", "local", "region", "local"));
	json_decref(sg);
	sg = wait_up("shop-api-v000", 3, 15000);
	json_decref(sg);

	/* resize 3 -> 1 -> 2 */
	run_ok("resizeServerGroup", json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}}", "serverGroupName",
	                                      "shop-api-v000", "credentials", "local", "region",
	                                      "local", "capacity", "min", 1, "max", 3, "desired", 1));
	sg = wait_up("shop-api-v000", 1, 15000);
	assert_int_equal(mz_json_int(json_object_get(sg, "capacity"), "desired", 0), 1);
	json_decref(sg);
	run_ok("resizeServerGroup", json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}}", "serverGroupName",
	                                      "shop-api-v000", "credentials", "local", "region",
	                                      "local", "capacity", "min", 1, "max", 3, "desired", 2));
	sg = wait_up("shop-api-v000", 2, 15000);
	json_decref(sg);
	assert_int_equal(mz_proc_start_ticks(pids[1]), 0); /* the crashed one is gone */
}

/* ---- the red/black client ------------------------------------------------ */

static struct {
	int port;
	atomic_bool stop;
	atomic_int total, failures, v1, v2;
	int min_requests;
} cl;

static void *
client_main(void *arg)
{
	while (!atomic_load(&cl.stop) || atomic_load(&cl.total) < cl.min_requests) {
		mz_buf body;
		mz_buf_init(&body, 0);
		int status = lp_http_get(cl.port, "/", 3000, &body);
		atomic_fetch_add(&cl.total, 1);
		if (status != 200)
			atomic_fetch_add(&cl.failures, 1);
		else if (strcmp(body.data, "v1\n") == 0)
			atomic_fetch_add(&cl.v1, 1);
		else if (strcmp(body.data, "v2\n") == 0)
			atomic_fetch_add(&cl.v2, 1);
		mz_buf_release(&body);
	}
	return NULL;
}

static char *
get_body(int port)
{
	mz_buf body;
	mz_buf_init(&body, 0);
	int status = lp_http_get(port, "/", 3000, &body);
	if (status != 200) {
		mz_buf_release(&body);
		return mz_asprintf("HTTP %d", status);
	}
	return mz_buf_detach(&body, NULL);
}

static void
test_load_balancer_red_black(void **state)
{
	char id[80];
	json_t *empty = json_array();
	int lbport = lp_free_port(empty);
	json_decref(empty);
	import_web(id);
	run_ok("upsertLoadBalancer",
	       json_pack("{s:s, s:s, s:s, s:[{s:i, s:s}], s:{s:s}}", "name", "shop-web", "credentials",
	                 "local", "region", "local", "listeners", "externalPort", lbport,
	                 "externalProtocol", "HTTP", "healthCheck", "path", "/health"));
	assert_true(lp_ha_running(g_lp));

	/* v000 behind the load balancer */
	run_ok("createServerGroup", create_desc("web", id, 2, "v1", "shop-web"));
	json_decref(wait_up("shop-web-v000", 2, 15000));
	char *b = get_body(lbport);
	assert_string_equal(b, "v1\n");
	free(b);

	/* v001 (enabled once its instances are Up), then disable v000 while a
	 * client sends requests continuously through the load balancer */
	char tid[40];
	submit_ok("createServerGroup", create_desc("web", id, 2, "v2", "shop-web"), NULL, tid);
	json_t *t = wait_task(tid, 20000);
	json_t *res = json_array_get(json_object_get(t, "resultObjects"), 1);
	assert_string_equal(mz_json_str(json_object_get(res, "ancestorServerGroupNameByRegion"),
	                                "local"),
	                    "shop-web-v000");
	json_decref(t);
	json_decref(wait_up("shop-web-v001", 2, 15000));

	cl.port = lbport;
	cl.min_requests = 2000;
	atomic_store(&cl.stop, false);
	pthread_t th;
	int64_t t0 = mz_mono_ms();
	pthread_create(&th, NULL, client_main, NULL);
	lp_sleep_ms(300);
	run_ok("disableServerGroup", json_pack("{s:s, s:s, s:s}", "serverGroupName", "shop-web-v000",
	                                       "credentials", "local", "region", "local"));
	lp_sleep_ms(300);
	atomic_store(&cl.stop, true);
	pthread_join(th, NULL);
	print_message("  red/black: %d requests in %lld ms through HAProxy, %d failed "
	              "(v1 %d, v2 %d)\n",
	              atomic_load(&cl.total), (long long)(mz_mono_ms() - t0),
	              atomic_load(&cl.failures), atomic_load(&cl.v1), atomic_load(&cl.v2));
	assert_int_equal(atomic_load(&cl.failures), 0);
	assert_true(atomic_load(&cl.total) >= 2000);
	for (int i = 0; i < 20; i++) {
		b = get_body(lbport);
		assert_string_equal(b, "v2\n");
		free(b);
	}
	json_t *sg = sg_read("shop-web-v000");
	assert_true(json_is_true(json_object_get(sg, "isDisabled")));
	assert_int_equal(mz_json_int(json_object_get(sg, "instanceCounts"), "outOfService", 0), 2);
	json_decref(sg);

	/* the config file reproduces the membership */
	char *cfgp = mz_asprintf("%s/cloud/haproxy/haproxy.cfg", g_dir);
	char *cfg = mz_read_file(cfgp, NULL, NULL);
	assert_non_null(strstr(cfg, "server shop-web-v001-0 "));
	assert_null(strstr(cfg, "server shop-web-v000-0 "));
	free(cfg);
	free(cfgp);

	json_t *lbs = mz_local_load_balancers(g_lp, "shop");
	assert_int_equal(json_array_size(lbs), 1);
	assert_int_equal(json_array_size(json_object_get(json_array_get(lbs, 0), "serverGroups")), 2);
	json_decref(lbs);

	/* destroy v000: its processes go, its record goes */
	sg = sg_read("shop-web-v000");
	pid_t pid0 = (pid_t)mz_json_int(json_array_get(json_object_get(sg, "instances"), 0), "pid", 0);
	uint64_t ticks0 = mz_proc_start_ticks(pid0);
	json_decref(sg);
	run_ok("destroyServerGroup", json_pack("{s:s, s:s, s:s}", "serverGroupName", "shop-web-v000",
	                                       "credentials", "local", "region", "local"));
	assert_null(sg_read("shop-web-v000"));
	assert_false(mz_proc_alive(pid0, ticks0));
	b = get_body(lbport);
	assert_string_equal(b, "v2\n");
	free(b);

	/* rollback needs two groups: create v002 (v1 again, disabled) and roll back to it */
	json_t *d = create_desc("web", id, 1, "v1", "shop-web");
	json_object_set_new(d, "startDisabled", json_true());
	run_ok("createServerGroup", d);
	int64_t deadline = mz_mono_ms() + 15000;
	for (;;) {
		sg = sg_read("shop-web-v002");
		int oos = (int)mz_json_int(json_object_get(sg, "instanceCounts"), "outOfService", 0);
		json_decref(sg);
		if (oos == 1)
			break;
		assert_true(mz_mono_ms() < deadline);
		lp_sleep_ms(50);
	}
	run_ok("rollbackServerGroup",
	       json_pack("{s:s, s:s, s:{s:s, s:s}}", "credentials", "local", "region", "local",
	                 "rollbackContext", "rollbackServerGroupName", "shop-web-v001",
	                 "restoreServerGroupName", "shop-web-v002"));
	for (int i = 0; i < 10; i++) {
		b = get_body(lbport);
		assert_string_equal(b, "v1\n");
		free(b);
	}

	/* the provider restarts: HAProxy (same master) keeps serving, re-attached */
	char *pidp = mz_asprintf("%s/cloud/haproxy/haproxy.pid", g_dir);
	char *pid_before = mz_read_file(pidp, NULL, NULL);
	mz_local_stop(g_lp);
	g_lp = NULL;
	b = get_body(lbport);
	assert_string_equal(b, "v1\n"); /* served while mizzen is down */
	free(b);
	start_provider();
	char *pid_after = mz_read_file(pidp, NULL, NULL);
	assert_string_equal(pid_before, pid_after);
	b = get_body(lbport);
	assert_string_equal(b, "v1\n");
	free(b);
	/* after a "reboot" of HAProxy the provider starts it from its config */
	mz_local_stop(g_lp);
	g_lp = NULL;
	pid_t hpid = atoi(pid_after);
	pid_t hpg = getpgid(hpid);
	kill(hpid, SIGTERM);
	for (int i = 0; i < 100 && mz_proc_start_ticks(hpid) != 0; i++)
		lp_sleep_ms(20);
	if (hpg > 1)
		kill(-hpg, SIGKILL);
	lp_sleep_ms(100);
	start_provider();
	assert_true(lp_ha_running(g_lp));
	b = get_body(lbport);
	assert_string_equal(b, "v1\n");
	free(b);
	/* HAProxy dies while the provider runs: the monitor starts it again */
	{
		char *now = mz_read_file(pidp, NULL, NULL);
		pid_t p2 = atoi(now);
		pid_t g2 = getpgid(p2);
		free(now);
		if (g2 > 1)
			kill(-g2, SIGKILL);
		int64_t until = mz_mono_ms() + 10000;
		for (;;) {
			b = get_body(lbport);
			bool ok = strcmp(b, "v1\n") == 0;
			free(b);
			if (ok)
				break;
			assert_true(mz_mono_ms() < until);
			lp_sleep_ms(100);
		}
	}
	free(pid_before);
	free(pid_after);
	free(pidp);

	/* a listener port in use */
	mz_err err;
	char tid2[40];
	mz_err_clear(&err);
	json_t *bad = json_pack("{s:s, s:s, s:s, s:[{s:i}]}", "name", "shop-other", "credentials",
	                        "local", "region", "local", "listeners", "externalPort", lbport);
	assert_int_equal(mz_local_submit(g_lp, "upsertLoadBalancer", bad, NULL, tid2, &err), MZ_EINVAL);
	assert_non_null(strstr(err.msg, "port"));
	json_decref(bad);
}

static int
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static void
test_validation(void **state)
{
	char id[80], tid[40];
	mz_err err;
	struct {
		const char *op;
		json_t *d;
		const char *want;
	} cases[7];
	import_web(id);
	cases[0].op = "createServerGroup";
	cases[0].d = create_desc("api", id, 1, NULL, NULL);
	json_object_set_new(cases[0].d, "region", json_string("mars"));
	cases[0].want = "region";
	cases[1].op = "createServerGroup";
	cases[1].d = create_desc("api", id, 1, NULL, NULL);
	json_object_set_new(cases[1].d, "capacity", json_pack("{s:i, s:i, s:i}", "min", 3, "max", 1,
	                                                      "desired", 2));
	cases[1].want = "min";
	cases[2].op = "createServerGroup";
	cases[2].d = create_desc("api", id, 1, NULL, NULL);
	json_object_set_new(cases[2].d, "application", json_string("bad-name!"));
	cases[2].want = "appName";
	cases[3].op = "createServerGroup";
	cases[3].d = create_desc("api", "img-doesnotexist", 1, NULL, NULL);
	cases[3].want = "image";
	cases[4].op = "createServerGroup";
	cases[4].d = create_desc("v001", id, 1, NULL, NULL);
	cases[4].want = "push version";
	cases[5].op = "resizeServerGroup";
	cases[5].d = json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}}", "serverGroupName", "shop-x-v000",
	                       "credentials", "local", "region", "local", "capacity", "min", 1,
	                       "max", 1, "desired", 1);
	cases[5].want = "not found";
	cases[6].op = "createServerGroup"; /* a host path outside the image roots */
	cases[6].d = create_desc("api", "/etc", 1, NULL, NULL);
	cases[6].want = "providers.local.imageRoots";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mz_err_clear(&err);
		assert_int_equal(mz_local_submit(g_lp, cases[i].op, cases[i].d, NULL, tid, &err),
		                 MZ_EINVAL);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, cases[i].want);
		json_decref(cases[i].d);
	}
	char *p = mz_asprintf("%s/cloud/tasks", g_dir);
	assert_int_equal(count_files(p), 0);
	free(p);
	p = mz_asprintf("%s/cloud/servergroups", g_dir);
	assert_int_equal(count_files(p), 0);
	free(p);

	/* a failure while running (the command cannot be executed) rolls back */
	json_t *d = create_desc("api", id, 2, NULL, NULL);
	json_object_set_new(d, "command", json_pack("[s]", "./no-such-program"));
	submit_ok("createServerGroup", d, NULL, tid);
	json_t *t = wait_task(tid, 10000);
	assert_true(json_is_true(json_object_get(json_object_get(t, "status"), "failed")));
	json_t *ex = json_array_get(json_object_get(t, "resultObjects"), 0);
	assert_string_equal(mz_json_str(ex, "type"), "EXCEPTION");
	assert_non_null(strstr(mz_json_str(ex, "message"), "no-such-program"));
	json_decref(t);
	json_t *all = mz_local_server_groups(g_lp, NULL);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);
	p = mz_asprintf("%s/cloud/servergroups/local/local", g_dir);
	assert_int_equal(count_files(p), 0);
	free(p);
}

static void
test_idempotency(void **state)
{
	char id[80], t1[40], t2[40];
	import_web(id);
	submit_ok("createServerGroup", create_desc("idem", id, 1, NULL, NULL), "req-42", t1);
	submit_ok("createServerGroup", create_desc("idem", id, 1, NULL, NULL), "req-42", t2);
	assert_string_equal(t1, t2);
	json_decref(wait_task(t1, 10000));
	/* replayed after completion: still the same task, nothing new */
	submit_ok("createServerGroup", create_desc("idem", id, 1, NULL, NULL), "req-42", t2);
	assert_string_equal(t1, t2);
	lp_sleep_ms(200);
	json_t *all = mz_local_server_groups(g_lp, "shop");
	assert_int_equal(json_array_size(all), 1);
	json_decref(all);
	json_t *t = mz_local_task(g_lp, t1);
	assert_string_equal(mz_json_str(t, "requestId"), "req-42");
	assert_string_equal(mz_json_str(json_array_get(json_object_get(t, "history"), 0), "status"),
	                    "Initializing Orchestration Task");
	assert_null(json_object_get(t, "_op"));
	json_decref(t);

	/* cloneServerGroup: settings and capacity from the source, ancestor reported */
	char t3[40];
	submit_ok("cloneServerGroup",
	          json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:b}}", "credentials", "local", "region",
	                    "local", "source", "account", "local", "region", "local",
	                    "serverGroupName", "shop-idem-v000", "useSourceCapacity", 1),
	          NULL, t3);
	t = wait_task(t3, 10000);
	assert_false(json_is_true(json_object_get(json_object_get(t, "status"), "failed")));
	json_t *r0 = json_array_get(json_object_get(t, "resultObjects"), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(r0, "serverGroupNames"), 0)),
	                    "local:shop-idem-v001");
	json_decref(t);
	json_t *clone = sg_read("shop-idem-v001");
	assert_non_null(clone);
	assert_string_equal(mz_json_str(json_object_get(clone, "image"), "imageId"), id);
	assert_int_equal(mz_json_int(json_object_get(clone, "capacity"), "desired", 0), 1);
	json_decref(clone);
}

/* A task still running when mizzen stopped is run again at the next start. */
static void
test_task_resumes_after_restart(void **state)
{
	char id[80];
	import_web(id);
	run_ok("createServerGroup", create_desc("res", id, 1, NULL, NULL));
	json_decref(wait_up("shop-res-v000", 1, 15000));
	mz_local_stop(g_lp);
	g_lp = NULL;
	/* what a kill -9 right after accepting a resize leaves behind */
	char *path = mz_asprintf("%s/cloud/tasks/01TESTRESUME0000000000000.json", g_dir);
	json_t *task = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:b, s:b, s:b, s:b}, s:[{s:s, s:s}], s:[], s:s, "
		"s:{s:s, s:s, s:s, s:{s:i, s:i, s:i}}}",
		"id", "01TESTRESUME0000000000000", "requestId", "resume-1",
		"status", "phase", "INIT", "status", "Initializing Orchestration Task", "complete", 0,
		"completed", 0, "failed", 0, "retryable", 0, "history", "phase", "INIT", "status",
		"Initializing Orchestration Task", "resultObjects", "_op", "resizeServerGroup",
		"_description", "serverGroupName", "shop-res-v000", "credentials", "local", "region",
		"local", "capacity", "min", 0, "max", 3, "desired", 2);
	json_object_set_new(task, "startTimeMs", json_integer(mz_now_ms()));
	assert_int_equal(lp_write_json(path, task), 0);
	json_decref(task);
	free(path);
	start_provider();
	json_t *t = wait_task("01TESTRESUME0000000000000", 15000);
	assert_false(json_is_true(json_object_get(json_object_get(t, "status"), "failed")));
	json_decref(t);
	json_decref(wait_up("shop-res-v000", 2, 15000));
	/* and its client request id is still known */
	char tid[40];
	submit_ok("resizeServerGroup", json_pack("{s:s}", "serverGroupName", "x"), "resume-1", tid);
	assert_string_equal(tid, "01TESTRESUME0000000000000");
}

static void
test_readoption(void **state)
{
	char id[80];
	import_web(id);
	run_ok("createServerGroup", create_desc("keep", id, 2, "v1", NULL));
	json_t *sg = wait_up("shop-keep-v000", 2, 15000);
	char *before = mz_json_dump(json_object_get(sg, "instances"));
	pid_t pid0 = (pid_t)mz_json_int(json_array_get(json_object_get(sg, "instances"), 0), "pid", 0);
	json_decref(sg);

	mz_local_stop(g_lp);
	g_lp = NULL;
	start_provider();
	lp_sleep_ms(1000); /* several health passes */
	sg = wait_up("shop-keep-v000", 2, 5000);
	json_t *insts = json_object_get(sg, "instances");
	json_t *old = json_loads(before, 0, NULL);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(mz_json_int(json_array_get(insts, i), "pid", 0),
		                 mz_json_int(json_array_get(old, i), "pid", 1));
		assert_string_equal(mz_json_str(json_array_get(insts, i), "id"),
		                    mz_json_str(json_array_get(old, i), "id"));
	}
	json_decref(old);
	json_decref(sg);
	free(before);
	/* supervision continues after the restart */
	kill(-pid0, SIGKILL);
	int64_t deadline = mz_mono_ms() + 15000;
	for (;;) {
		sg = wait_up("shop-keep-v000", 2, 15000);
		bool replaced = true;
		size_t i;
		json_t *inst;
		json_array_foreach(json_object_get(sg, "instances"), i, inst)
			if (mz_json_int(inst, "pid", 0) == pid0)
				replaced = false;
		json_decref(sg);
		if (replaced)
			break;
		assert_true(mz_mono_ms() < deadline);
		lp_sleep_ms(50);
	}
}

static void
test_never_healthy(void **state)
{
	char *dir = app_dir("sick");
	char tid[40];
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:s}", "application", "shop",
	                      "stack", "sick", "credentials", "local", "region", "local", "capacity",
	                      "min", 1, "max", 1, "desired", 1, "image", dir);
	submit_ok("createServerGroup", d, NULL, tid);
	json_t *t = wait_task(tid, 10000);
	assert_false(json_is_true(json_object_get(json_object_get(t, "status"), "failed")));
	json_decref(t);
	lp_sleep_ms(1500);
	json_t *sg = sg_read("shop-sick-v000");
	json_t *c = json_object_get(sg, "instanceCounts");
	assert_int_equal(mz_json_int(c, "up", -1), 0);
	assert_int_equal(mz_json_int(c, "total", -1), 1);
	assert_int_equal(mz_json_int(c, "starting", -1) + mz_json_int(c, "down", -1), 1);
	/* the image came from a path: imported into the store first */
	assert_true(lp_image_id_like(mz_json_str(json_object_get(sg, "image"), "imageId")));
	json_decref(sg);
	free(dir);
}

static void
test_sandbox(void **state)
{
	char id[80];
	if (access("/usr/bin/bwrap", X_OK) != 0) {
		skip();
		return;
	}
	mz_local_stop(g_lp);
	g_lp = NULL;
	json_t *roots = image_roots();
	mz_local_config cfg = { .data_dir = g_dir, .health_interval_ms = 200,
	                        .image_roots = roots };
	mz_err err;
	mz_err_clear(&err);
	assert_int_equal(mz_local_start(&cfg, &g_lp, &err), MZ_OK);
	json_decref(roots);
	import_web(id);
	json_t *d = create_desc("box", id, 1, "boxed", NULL);
	/* the app tries to write into its image: read-only inside the sandbox */
	run_ok("createServerGroup", d);
	json_t *sg = wait_up("shop-box-v000", 1, 15000);
	json_t *inst = json_array_get(json_object_get(sg, "instances"), 0);
	pid_t pid = (pid_t)mz_json_int(inst, "pid", 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	char *cmdline = mz_read_file(path, NULL, NULL);
	assert_non_null(cmdline);
	assert_non_null(strstr(cmdline, "bwrap"));
	mz_buf body;
	mz_buf_init(&body, 0);
	assert_int_equal(lp_http_get((int)mz_json_int(inst, "port", 0), "/", 2000, &body), 200);
	assert_string_equal(body.data, "boxed\n");
	mz_buf_release(&body);
	free(cmdline);
	json_decref(sg);
}

/* A data dir too deep for unix socket paths: HAProxy's sockets move to /tmp. */
static void
test_long_data_dir(void **state)
{
	mz_local_stop(g_lp);
	g_lp = NULL;
	snprintf(g_parent, sizeof(g_parent), "%s", g_dir);
	if (snprintf(g_dir, sizeof(g_dir), "%.300s/a-rather-deep-data-directory-name-to-pass-the-"
	                                   "unix-socket-path-limit-of-108-bytes", g_parent) < 0)
		fail();
	assert_int_equal(mz_mkdirs(g_dir, 0755), 0);
	start_provider();
	json_t *empty = json_array();
	int lbport = lp_free_port(empty);
	json_decref(empty);
	run_ok("upsertLoadBalancer", json_pack("{s:s, s:s, s:s, s:[{s:i}]}", "name", "deep",
	                                       "credentials", "local", "region", "local", "listeners",
	                                       "externalPort", lbport));
	assert_true(lp_ha_running(g_lp));
	/* no servers yet: HAProxy itself answers 503 */
	assert_int_equal(lp_http_get(lbport, "/", 2000, NULL), 503);
	char *cfgp = mz_asprintf("%s/cloud/haproxy/haproxy.cfg", g_dir);
	char *cfg = mz_read_file(cfgp, NULL, NULL);
	char *sock = strstr(cfg, "stats socket /tmp/mizzen-ha-");
	assert_non_null(sock);
	sock += strlen("stats socket ");
	snprintf(g_sockdir, sizeof(g_sockdir), "%.*s", (int)(strchr(sock, ' ') - sock), sock);
	*strrchr(g_sockdir, '/') = '\0';
	free(cfg);
	free(cfgp);
}

static void
test_names(void **state)
{
	json_t *m = lp_moniker("shop-api-canary-v003");
	assert_string_equal(mz_json_str(m, "app"), "shop");
	assert_string_equal(mz_json_str(m, "stack"), "api");
	assert_string_equal(mz_json_str(m, "detail"), "canary");
	assert_string_equal(mz_json_str(m, "cluster"), "shop-api-canary");
	assert_int_equal(mz_json_int(m, "sequence", -1), 3);
	json_decref(m);
	m = lp_moniker("app--detail");
	assert_null(mz_json_str(m, "stack"));
	assert_string_equal(mz_json_str(m, "detail"), "detail");
	json_decref(m);
	m = lp_moniker("foo-v1");
	assert_string_equal(mz_json_str(m, "stack"), "v1");
	assert_true(json_is_null(json_object_get(m, "sequence")));
	json_decref(m);
	assert_true(lp_has_push_token("v001"));
	assert_true(lp_has_push_token("a-v0001-b"));
	assert_false(lp_has_push_token("v01"));
	json_t *accts = mz_local_accounts(g_lp);
	assert_string_equal(mz_json_str(json_array_get(accts, 0), "name"), "local");
	json_decref(accts);
}

int
main(void)
{
	const char *data = getenv("MZ_TEST_DATA");
	snprintf(g_apps, sizeof(g_apps), "%s", data ? data : "tests/data");
	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup_all);
	mz_log_set_level(MZ_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_instances_health_replace_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_balancer_red_black, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readoption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_healthy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_resumes_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_data_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
