/*
 * local.c - the local provider: start/stop and re-adoption, the instance
 * supervisor (monitor thread), and the live read views in Clouddriver's
 * shapes. Operations and tasks are in local_ops.c, HAProxy in
 * local_haproxy.c, processes in local_proc.c, images in local_image.c.
 */
#include "cloud/local/local_int.h"
#include "engine/engine.h" /* secrets in env, resolved at the spawn */

#include <ctype.h>
#include <inttypes.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BASE_PATH "/usr/local/bin:/usr/bin:/bin"
#define DOWN_AFTER_FAILS 3
#define STOP_GRACE_MS 5000

/* ---- model helpers ------------------------------------------------------ */

char *
lp_sg_key(const char *account, const char *region, const char *name)
{
	return mz_asprintf("%s/%s/%s", account ? account : "", region ? region : "",
	                   name ? name : "");
}

int
lp_sg_save(mz_local *lp, const json_t *sg)
{
	char *dir = mz_asprintf("%s/servergroups/%s/%s", lp->root, mz_json_str(sg, "account"),
	                        mz_json_str(sg, "region"));
	char *path = mz_asprintf("%s/%s.json", dir, mz_json_str(sg, "name"));
	int rc;
	mz_mkdirs(dir, 0755);
	rc = lp_write_json(path, sg);
	free(dir);
	free(path);
	return rc;
}

json_t *
lp_all_ports(mz_local *lp)
{
	json_t *ports = json_array();
	const char *k;
	json_t *sg, *lb;
	json_object_foreach(lp->sgs, k, sg) {
		size_t i;
		json_t *inst;
		json_array_foreach(json_object_get(sg, "instances"), i, inst)
			json_array_append_new(ports, json_integer(mz_json_int(inst, "port", 0)));
	}
	json_object_foreach(lp->lbs, k, lb) {
		size_t i;
		json_t *l;
		json_array_foreach(json_object_get(lb, "listeners"), i, l)
			json_array_append_new(ports, json_integer(mz_json_int(l, "externalPort", 0)));
	}
	return ports;
}

void
lp_instance_lb_pairs(const json_t *sg, const json_t *inst, json_t *pairs)
{
	size_t i;
	json_t *lbn;
	char *srv;
	if (!json_is_true(json_object_get(inst, "inLb")))
		return;
	srv = lp_ha_server_name(mz_json_str(inst, "id"));
	json_array_foreach(json_object_get(sg, "loadBalancers"), i, lbn) {
		char *pair = mz_asprintf("%s\t%s", json_string_value(lbn), srv);
		json_array_append_new(pairs, json_string(pair));
		free(pair);
	}
	free(srv);
}

static bool
lb_exists(mz_local *lp, const char *name)
{
	return json_object_get(lp->lbs, name) != NULL;
}

/* Adds an Up instance of an enabled server group to its load balancers. */
bool
lp_instance_join_lbs(mz_local *lp, json_t *sg, json_t *inst)
{
	size_t i;
	json_t *lbn;
	char *srv;
	bool any = false;
	if (json_is_true(json_object_get(sg, "disabled")) ||
	    json_is_true(json_object_get(inst, "inLb")) ||
	    json_array_size(json_object_get(sg, "loadBalancers")) == 0)
		return false;
	srv = lp_ha_server_name(mz_json_str(inst, "id"));
	json_array_foreach(json_object_get(sg, "loadBalancers"), i, lbn) {
		const char *lb = json_string_value(lbn);
		if (!lb || !lb_exists(lp, lb))
			continue;
		if (lp_ha_add_server(lp, lb, srv, (int)mz_json_int(inst, "port", 0)) == 0)
			any = true;
	}
	free(srv);
	if (any)
		json_object_set_new(inst, "inLb", json_true());
	return any;
}

/* ---- starting instances ------------------------------------------------- */

static char *
resolve_command(const char *cmd, const char *image)
{
	if (cmd[0] == '/')
		return mz_strdup(cmd);
	if (strchr(cmd, '/')) {
		const char *c = cmd;
		while (c[0] == '.' && c[1] == '/')
			c += 2;
		return mz_asprintf("%s/%s", image, c);
	}
	{
		char *p = mz_asprintf("%s/%s", image, cmd);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	char *path = mz_strdup(BASE_PATH);
	char *save = NULL;
	for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p = mz_asprintf("%s/%s", d, cmd);
		if (access(p, X_OK) == 0) {
			free(path);
			return p;
		}
		free(p);
	}
	free(path);
	return mz_strdup(cmd);
}

/* $IMAGE_DIR, ${IMAGE_DIR}, $PORT, ${PORT} in arguments. */
static char *
expand_arg(const char *arg, const char *image, int port)
{
	mz_buf b;
	mz_buf_init(&b, 0);
	for (const char *p = arg; *p;) {
		if (strncmp(p, "${IMAGE_DIR}", 12) == 0) {
			mz_buf_adds(&b, image);
			p += 12;
		} else if (strncmp(p, "$IMAGE_DIR", 10) == 0) {
			mz_buf_adds(&b, image);
			p += 10;
		} else if (strncmp(p, "${PORT}", 7) == 0) {
			mz_buf_printf(&b, "%d", port);
			p += 7;
		} else if (strncmp(p, "$PORT", 5) == 0) {
			mz_buf_printf(&b, "%d", port);
			p += 5;
		} else {
			mz_buf_add(&b, p, 1);
			p++;
		}
	}
	return mz_buf_detach(&b, NULL);
}

/* Starts (or restarts) the process of instance inst of sg (lp->mu held):
 * in the sandbox, the image read-only as its working directory, its home
 * writable, stdout and stderr appended to its console log. */
static mz_code
instance_spawn(mz_local *lp, json_t *sg, json_t *inst, mz_err *err)
{
	const char *name = mz_json_str(sg, "name");
	const char *image = mz_json_str(json_object_get(sg, "image"), "path");
	json_t *command = json_object_get(sg, "command");
	const char *id = mz_json_str(inst, "id");
	const char *workdir = mz_json_str(inst, "workdir");
	char *home = mz_asprintf("%s/home", workdir);
	int port = (int)mz_json_int(inst, "port", 0);
	mz_strv argv = { 0 }, envp = { 0 };
	json_t *v;
	size_t i;
	mz_code rc = MZ_OK;

	if (!image || json_array_size(command) == 0) {
		rc = mz_fail(err, MZ_EINVAL, "server group %s has no image or command", name);
		goto out;
	}
	if (port <= 0 || !lp_port_free(port)) {
		/* a restart whose port was taken meanwhile gets another one */
		json_t *ports = lp_all_ports(lp);
		port = lp_free_port(ports);
		json_decref(ports);
		if (port <= 0) {
			rc = mz_fail(err, MZ_EIO, "no free port on 127.0.0.1");
			goto out;
		}
		json_object_set_new(inst, "port", json_integer(port));
	}
	if (mz_mkdirs(home, 0755) != 0) {
		rc = mz_fail(err, MZ_EIO, "cannot create %s: %s", home, strerror(errno));
		goto out;
	}
	/* environment: a clean base, the server group's env, then ours */
	mz_strv_add(&envp, mz_asprintf("PATH=%s", BASE_PATH));
	mz_strv_add(&envp, mz_asprintf("HOME=%s", home));
	mz_strv_add(&envp, mz_strdup("LANG=C.UTF-8"));
	{
		/* ${#secret('name')} in an env value becomes the value here, in
		 * the process's environment only: the server group record (and
		 * the cloud API, the execution) keep the reference */
		mz_err serr = {0};
		json_t *env = mz_engine_resolve_secrets_json(json_object_get(sg, "env"), NULL, &serr);
		if (!env && serr.code) {
			rc = mz_fail(err, serr.code, "cannot start %s: env: %s", id, serr.msg);
			goto out;
		}
		mz_strv_add_env(&envp, env);
		mz_secret_json_free(env);
	}
	mz_strv_add(&envp, mz_asprintf("PORT=%d", port));
	mz_strv_add(&envp, mz_asprintf("IMAGE_DIR=%s", image));
	mz_strv_add(&envp, mz_asprintf("MIZZEN_INSTANCE_ID=%s", id));
	mz_strv_add(&envp, mz_asprintf("MIZZEN_SERVER_GROUP=%s", name));
	json_array_foreach(command, i, v) {
		const char *a = json_string_value(v);
		if (!a)
			continue;
		if (i == 0) {
			char *e = expand_arg(a, image, port);
			mz_strv_add(&argv, resolve_command(e, image));
			free(e);
		} else {
			mz_strv_add(&argv, expand_arg(a, image, port));
		}
	}
	/* bwrap would report a missing program only as an exit status: say it
	 * now (the image is seen at the same path inside the sandbox) */
	if (!argv.v || !strchr(argv.v[0], '/') || access(argv.v[0], X_OK) != 0) {
		rc = mz_fail(err, MZ_EINVAL, "cannot start %s: no such executable in the image or in %s",
		             argv.v ? argv.v[0] : "(nothing)", BASE_PATH);
		goto out;
	}
	{
		const char *const ro[] = { image, NULL };
		const char *const rw[] = { home, NULL };
		mz_sandbox box = { .readonly = ro, .writable = rw };
		char *log = mz_strdup(mz_json_str(inst, "log"));
		mz_proc p = { .argv = MZ_STRV_LIST(&argv),
			      .env = MZ_STRV_LIST(&envp), .cwd = image, .log_path = log,
			      .sandbox = &box, .limits = { .no_core = true } };
		rc = mz_proc_start(&p, err);
		free(log);
		if (rc != MZ_OK)
			goto out;
		json_object_set_new(inst, "pid", json_integer(p.pid));
		json_object_set_new(inst, "startTicks", json_integer((json_int_t)p.start_ticks));
	}
	json_object_set_new(inst, "startedAt", json_integer(mz_now_ms()));
	json_object_set_new(inst, "state", json_string("Starting"));
	json_object_set_new(inst, "fails", json_integer(0));
	json_object_del(inst, "restartAt");
	mz_info("local: started %s (pid %d, port %d)", id, (int)mz_json_int(inst, "pid", 0), port);
out:
	mz_strv_free(&argv);
	for (size_t k = 0; k < envp.n; k++)
		mz_secret_wipe(envp.v[k]); /* it may hold secrets */
	mz_strv_free(&envp);
	free(home);
	return rc;
}

mz_code
lp_instance_start(mz_local *lp, json_t *sg, mz_err *err)
{
	const char *name = mz_json_str(sg, "name");
	int64_t idx = mz_json_int(sg, "nextIndex", 0);
	char *id = mz_asprintf("%s-%" PRId64, name, idx);
	char *workdir = mz_asprintf("%s/instances/%s", lp->root, id);
	json_t *ports = lp_all_ports(lp);
	int port = lp_free_port(ports);
	json_t *inst = json_object();
	mz_code rc;

	json_decref(ports);
	json_object_set_new(sg, "nextIndex", json_integer(idx + 1));
	mz_proc_rm_rf(workdir);
	json_object_set_new(inst, "id", json_string(id));
	json_object_set_new(inst, "port", json_integer(port));
	json_object_set_new(inst, "launchTime", json_integer(mz_now_ms()));
	json_object_set_new(inst, "workdir", json_string(workdir));
	{
		char *log = mz_asprintf("%s/console.log", workdir);
		json_object_set_new(inst, "log", json_string(log));
		free(log);
	}
	json_object_set_new(inst, "inLb", json_false());
	json_object_set_new(inst, "restartCount", json_integer(0));
	rc = instance_spawn(lp, sg, inst, err);
	if (rc != MZ_OK) {
		mz_proc_rm_rf(workdir);
		json_decref(inst);
	} else {
		json_array_append_new(json_object_get(sg, "instances"), inst);
	}
	free(id);
	free(workdir);
	return rc;
}

/* ---- the supervisor ----------------------------------------------------- */

typedef struct check {
	char *key, *id, *path, *log;
	pid_t pid;
	uint64_t ticks;
	int port, timeout_ms;
	bool http_due, settled;
	int result; /* 1 healthy, 0 unhealthy, -1 dead, 2 alive (no HTTP check due) */
} check;

/* How long to wait before probing an instance again: fast while it starts
 * (a tenth of its age, 100 ms to 1 s: how soon a new instance is seen Up
 * is most of a deploy's platform time), backing off to 10 s while probes
 * fail, the health check's interval once it is Up. */
static int64_t
probe_interval(const mz_local *lp, const json_t *hc, const json_t *inst, int64_t now_wall)
{
	int64_t age = now_wall - mz_json_int(inst, "startedAt", mz_json_int(inst, "launchTime", 0));
	int64_t fails = mz_json_int(inst, "fails", 0);
	if (mz_streq(mz_json_str(inst, "state"), "Starting") && age < MZ_LOCAL_STARTING_MS) {
		int64_t every = age / 10;
		return every < MZ_LOCAL_STARTING_POLL_MS ? MZ_LOCAL_STARTING_POLL_MS
		       : every > 1000                    ? 1000
		                                         : every;
	}
	if (fails > 0 || mz_streq(mz_json_str(inst, "state"), "Starting")) {
		int64_t every = 1000LL << (fails < 4 ? fails : 4);
		return every > MZ_LOCAL_PROBE_MAX_MS ? MZ_LOCAL_PROBE_MAX_MS : every;
	}
	return mz_json_int(hc, "intervalMs", lp->health_ms);
}

/* The restart delay after the n-th crash in a row (CrashLoopBackOff). */
static int64_t
restart_delay(int64_t n)
{
	int64_t d = MZ_LOCAL_RESTART_FIRST_MS;
	for (int64_t i = 1; i < n && d < MZ_LOCAL_RESTART_MAX_MS; i++)
		d *= 2;
	return d > MZ_LOCAL_RESTART_MAX_MS ? MZ_LOCAL_RESTART_MAX_MS : d;
}

/* An instance's process is gone (lp->mu held): record how it ended, take
 * it out of its load balancers and schedule its restart in place (same
 * id, home and log) after the crash-loop delay. */
static void
instance_died(json_t *sg, json_t *inst, json_t *stops)
{
	pid_t pid = (pid_t)mz_json_int(inst, "pid", 0);
	int code = -1;
	bool known = mz_proc_reap(pid, &code); /* only a child of this server */
	int64_t now = mz_now_ms();
	int64_t ran = now - mz_json_int(inst, "startedAt", mz_json_int(inst, "launchTime", now));
	int64_t loop = ran >= MZ_LOCAL_RESTART_RESET_MS ? 1 : mz_json_int(inst, "crashLoop", 0) + 1;
	int64_t delay = restart_delay(loop);
	json_t *st = json_object();
	json_t *pairs = json_array();
	lp_instance_lb_pairs(sg, inst, pairs);
	json_object_set_new(st, "pid", json_integer(0));
	json_object_set_new(st, "pairs", pairs);
	json_array_append_new(stops, st);
	json_object_set_new(inst, "inLb", json_false());
	json_object_set_new(inst, "lastExit",
	                    json_pack("{s:o, s:I, s:I}", "exitCode",
	                              known ? json_integer(code) : json_null(), "time",
	                              (json_int_t)now, "ranMs", (json_int_t)ran));
	json_object_set_new(inst, "crashLoop", json_integer(loop));
	json_object_set_new(inst, "restartAt", json_integer(now + delay));
	json_object_set_new(inst, "pid", json_integer(0));
	json_object_set_new(inst, "startTicks", json_integer(0));
	json_object_set_new(inst, "state", json_string("Down"));
	if (known)
		mz_warn("local: instance %s (pid %d) exited with code %d after %lld ms; restarting "
		        "it in %lld ms", mz_json_str(inst, "id"), (int)pid, code, (long long)ran,
		        (long long)delay);
	else
		mz_warn("local: instance %s (pid %d) is gone; restarting it in %lld ms",
		        mz_json_str(inst, "id"), (int)pid, (long long)delay);
}

/* Restarts the instances of sg whose delay is over (lp->mu held). */
static bool
restart_due(mz_local *lp, json_t *sg)
{
	size_t i;
	json_t *inst;
	bool changed = false;
	int64_t now = mz_now_ms();
	if (json_is_true(json_object_get(sg, "destroying")))
		return false;
	json_array_foreach(json_object_get(sg, "instances"), i, inst) {
		if (mz_json_int(inst, "pid", 0) != 0 || mz_json_int(inst, "restartAt", 0) > now)
			continue;
		mz_err err;
		mz_err_clear(&err);
		json_object_set_new(inst, "restartCount",
		                    json_integer(mz_json_int(inst, "restartCount", 0) + 1));
		if (instance_spawn(lp, sg, inst, &err) != MZ_OK) {
			int64_t loop = mz_json_int(inst, "crashLoop", 0) + 1;
			mz_warn("local: %s: cannot restart: %s", mz_json_str(inst, "id"), err.msg);
			json_object_set_new(inst, "crashLoop", json_integer(loop));
			json_object_set_new(inst, "restartAt", json_integer(now + restart_delay(loop)));
			json_object_set_new(sg, "lastError", json_string(err.msg));
		}
		changed = true;
	}
	return changed;
}

/* Keeps a console log under MZ_LOCAL_LOG_MAX bytes: copied to .1 (the one
 * old log kept), then truncated. The instance holds the log open for
 * appending, so its next write lands at the new end. */
static void
rotate_log(const char *log)
{
	struct stat st;
	if (!log || stat(log, &st) != 0 || st.st_size <= MZ_LOCAL_LOG_MAX)
		return;
	char *old = mz_asprintf("%s.1", log);
	int in = open(log, O_RDWR | O_CLOEXEC);
	int out = open(old, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in >= 0 && out >= 0) {
		off_t left = st.st_size;
		while (left > 0) {
			ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
			if (n <= 0)
				break;
			left -= n;
		}
		if (ftruncate(in, 0) != 0)
			mz_warn("local: cannot truncate %s: %s", log, strerror(errno));
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(old);
}

/* Removes instance i of sg, appending what is needed to stop it to `stops`
 * ({pid, ticks, workdir, pairs}). lp->mu held. */
void
lp_detach_instance(json_t *sg, size_t i, json_t *stops, bool rm_workdir)
{
	json_t *inst = json_array_get(json_object_get(sg, "instances"), i);
	json_t *st = json_object();
	json_t *pairs = json_array();
	lp_instance_lb_pairs(sg, inst, pairs);
	json_object_set_new(st, "pid", json_integer(mz_json_int(inst, "pid", 0)));
	json_object_set_new(st, "ticks", json_integer(mz_json_int(inst, "startTicks", 0)));
	if (rm_workdir)
		json_object_set_new(st, "workdir", json_string(mz_json_str(inst, "workdir")));
	json_object_set_new(st, "pairs", pairs);
	json_array_append_new(stops, st);
	json_array_remove(json_object_get(sg, "instances"), i);
}

/* Without lp->mu: take servers out of HAProxy (draining), stop processes. */
void
lp_run_stops(mz_local *lp, json_t *stops, int drain_ms)
{
	size_t i;
	json_t *st;
	json_t *pairs = json_array();
	json_array_foreach(stops, i, st)
		json_array_extend(pairs, json_object_get(st, "pairs"));
	if (json_array_size(pairs) > 0)
		lp_ha_remove_servers(lp, pairs, drain_ms);
	json_decref(pairs);
	json_array_foreach(stops, i, st) {
		mz_proc_kill_group((pid_t)mz_json_int(st, "pid", 0), (uint64_t)mz_json_int(st, "ticks", 0),
		              STOP_GRACE_MS);
		if (mz_json_str(st, "workdir"))
			mz_proc_rm_rf(mz_json_str(st, "workdir"));
	}
}

static int
state_rank(const char *s)
{
	/* which instance to give up first when scaling in */
	if (mz_streq(s, "Down"))
		return 0;
	if (mz_streq(s, "Starting"))
		return 1;
	return 2;
}

/* Brings every server group to its desired count (lp->mu held). */
bool
lp_reconcile(mz_local *lp, json_t *sg, json_t *stops)
{
	json_t *insts = json_object_get(sg, "instances");
	int64_t desired = mz_json_int(json_object_get(sg, "capacity"), "desired", 0);
	bool changed = false;
	if (json_is_true(json_object_get(sg, "destroying")))
		return false;
	while ((int64_t)json_array_size(insts) > desired) {
		size_t pick = 0;
		int best = 99;
		for (size_t i = 0; i < json_array_size(insts); i++) {
			int r = state_rank(mz_json_str(json_array_get(insts, i), "state"));
			if (r <= best) { /* ties: the newest */
				best = r;
				pick = i;
			}
		}
		lp_detach_instance(sg, pick, stops, true);
		changed = true;
	}
	if ((int64_t)json_array_size(insts) < desired &&
	    mz_json_int(sg, "retryAfter", 0) <= mz_mono_ms()) {
		while ((int64_t)json_array_size(insts) < desired) {
			mz_err err;
			mz_err_clear(&err);
			if (lp_instance_start(lp, sg, &err) != MZ_OK) {
				mz_warn("local: %s: cannot start an instance: %s",
				        mz_json_str(sg, "name"), err.msg);
				json_object_set_new(sg, "lastError", json_string(err.msg));
				json_object_set_new(sg, "retryAfter", json_integer(mz_mono_ms() + 5000));
				break;
			}
			changed = true;
		}
	}
	return changed;
}

json_t *
lp_find_instance(json_t *sg, const char *id, size_t *index)
{
	size_t i;
	json_t *inst;
	json_array_foreach(json_object_get(sg, "instances"), i, inst) {
		if (mz_streq(mz_json_str(inst, "id"), id)) {
			if (index)
				*index = i;
			return inst;
		}
	}
	return NULL;
}

void
lp_write_config_locked(mz_local *lp)
{
	pthread_mutex_lock(&lp->hmu);
	lp_ha_write_config(lp, NULL);
	pthread_mutex_unlock(&lp->hmu);
}

/* One supervision pass; returns true while some instance is still
 * Starting, so the next pass comes soon: how fast a new instance is seen Up
 * is most of a deploy's platform time. */
static bool
monitor_pass(mz_local *lp)
{
	check *checks = NULL;
	size_t n = 0, cap = 0;
	const char *key;
	json_t *sg;
	json_t *stops = json_array();
	bool lb_changed = false;
	bool starting = false;

	pthread_mutex_lock(&lp->mu);
	json_t *seen = json_object(); /* last_check for the instances that exist */
	json_object_foreach(lp->sgs, key, sg) {
		size_t i;
		json_t *inst;
		json_t *hc = json_object_get(sg, "healthCheck");
		json_array_foreach(json_object_get(sg, "instances"), i, inst) {
			if (mz_json_int(inst, "pid", 0) == 0)
				continue; /* waiting for its restart */
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				checks = realloc(checks, cap * sizeof(*checks));
			}
			check *c = &checks[n++];
			c->key = mz_strdup(key);
			c->id = mz_strdup(mz_json_str(inst, "id"));
			c->path = mz_json_str(hc, "path") ? mz_strdup(mz_json_str(hc, "path")) : NULL;
			c->log = mz_json_str(inst, "log") ? mz_strdup(mz_json_str(inst, "log")) : NULL;
			c->pid = (pid_t)mz_json_int(inst, "pid", 0);
			c->ticks = (uint64_t)mz_json_int(inst, "startTicks", 0);
			c->port = (int)mz_json_int(inst, "port", 0);
			c->timeout_ms = (int)mz_json_int(hc, "timeoutMs", 1000);
			c->result = 0;
			{
				/* liveness every pass; HTTP when its probe is due */
				int64_t now = mz_mono_ms(), wall = mz_now_ms();
				int64_t last = mz_json_int(lp->last_check, c->id, 0);
				int64_t every = probe_interval(lp, hc, inst, wall);
				bool is_starting = mz_streq(mz_json_str(inst, "state"), "Starting") &&
				                   wall - mz_json_int(inst, "startedAt",
				                                      mz_json_int(inst, "launchTime", 0)) <
				                           MZ_LOCAL_STARTING_MS;
				starting = starting || is_starting;
				c->http_due = last == 0 || now - last >= every - 50;
				/* without an HTTP check, Up means still running a moment
				 * after the start: a command that exits at once is not Up */
				c->settled = wall - mz_json_int(inst, "startedAt",
				                                mz_json_int(inst, "launchTime", 0)) >=
				             MZ_LOCAL_SETTLE_MS;
				starting = starting || (!c->path && !c->settled);
				json_object_set_new(seen, c->id,
				                    json_integer(c->http_due ? now : last));
			}
		}
	}
	json_decref(lp->last_check);
	lp->last_check = seen;
	pthread_mutex_unlock(&lp->mu);

	for (size_t i = 0; i < n; i++) {
		check *c = &checks[i];
		if (!mz_proc_alive(c->pid, c->ticks)) {
			c->result = -1;
			continue;
		}
		rotate_log(c->log);
		if (!c->path)
			c->result = c->settled ? 1 : 2;
		else if (!c->http_due)
			c->result = 2;
		else {
			int status = lp_http_get(c->port, c->path, c->timeout_ms, NULL);
			c->result = status >= 200 && status < 300 ? 1 : 0;
		}
	}

	pthread_mutex_lock(&lp->mu);
	for (size_t i = 0; i < n; i++) {
		check *c = &checks[i];
		size_t idx;
		json_t *inst;
		const char *state;
		bool dirty = false;
		sg = json_object_get(lp->sgs, c->key);
		inst = sg ? lp_find_instance(sg, c->id, &idx) : NULL;
		if (!inst || mz_json_int(inst, "pid", 0) != c->pid)
			continue;
		state = mz_json_str(inst, "state");
		if (c->result < 0) {
			json_object_del(lp->last_check, c->id);
			instance_died(sg, inst, stops);
			lb_changed = true;
			dirty = true;
		} else if (c->result == 2) {
			continue;
		} else if (c->result > 0) {
			if (!mz_streq(state, "Up")) {
				json_object_set_new(inst, "state", json_string("Up"));
				dirty = true;
			}
			json_object_set_new(inst, "fails", json_integer(0));
			if (lp_instance_join_lbs(lp, sg, inst)) {
				lb_changed = true;
				dirty = true;
			}
		} else {
			int64_t fails = mz_json_int(inst, "fails", 0) + 1;
			json_object_set_new(inst, "fails", json_integer(fails));
			if (mz_streq(state, "Up") && fails >= DOWN_AFTER_FAILS) {
				mz_warn("local: instance %s is Down (%d failed checks)", c->id, (int)fails);
				json_object_set_new(inst, "state", json_string("Down"));
				dirty = true;
			}
		}
		if (dirty)
			json_object_set_new(sg, "_dirty", json_true());
	}
	json_object_foreach(lp->sgs, key, sg) {
		bool started = lp_reconcile(lp, sg, stops);
		started = restart_due(lp, sg) || started;
		if (started) {
			json_object_set_new(sg, "_dirty", json_true());
			starting = true; /* probe the new processes soon */
		}
		if (json_is_true(json_object_get(sg, "_dirty"))) {
			json_object_del(sg, "_dirty");
			lp_sg_save(lp, sg);
		}
	}
	if (lb_changed)
		lp_write_config_locked(lp);
	/* HAProxy is supervised too: started again from its config if it died */
	if (json_object_size(lp->lbs) > 0 && !lp_ha_running(lp)) {
		mz_err herr;
		mz_err_clear(&herr);
		mz_warn("local: haproxy is not running; starting it from its config");
		if (lp_ha_apply(lp, false, &herr) != MZ_OK)
			mz_warn("local: haproxy: %s", herr.msg);
	}
	pthread_mutex_unlock(&lp->mu);

	if (json_array_size(stops) > 0) {
		lp_run_stops(lp, stops, 2000);
		pthread_mutex_lock(&lp->mu);
		lp_write_config_locked(lp);
		pthread_mutex_unlock(&lp->mu);
	}
	json_decref(stops);
	for (size_t i = 0; i < n; i++) {
		free(checks[i].key);
		free(checks[i].id);
		free(checks[i].path);
		free(checks[i].log);
	}
	free(checks);
	return starting;
}

static void *
monitor_main(void *arg)
{
	mz_local *lp = arg;
	for (;;) {
		struct timespec ts;
		pthread_mutex_lock(&lp->mu);
		bool stop = lp->stopping;
		pthread_mutex_unlock(&lp->mu);
		if (stop)
			break;
		/* liveness and due restarts at least every second */
		int wait_ms = monitor_pass(lp)        ? MZ_LOCAL_STARTING_POLL_MS
		              : lp->health_ms < 1000 ? lp->health_ms
		                                     : 1000;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&lp->mu);
		if (!lp->stopping)
			pthread_cond_timedwait(&lp->mcv, &lp->mu, &ts);
		pthread_mutex_unlock(&lp->mu);
	}
	return NULL;
}

void
lp_wake_monitor(mz_local *lp)
{
	pthread_cond_signal(&lp->mcv);
}

/* ---- start / stop ------------------------------------------------------- */

static void
load_dir_json(const char *dir, void (*fn)(mz_local *, json_t *), mz_local *lp)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		char *p = mz_asprintf("%s/%s", dir, e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
			json_t *v = lp_read_json(p);
			if (json_is_object(v))
				fn(lp, v);
			json_decref(v);
		} else if (e->d_type == DT_DIR) {
			load_dir_json(p, fn, lp);
		}
		free(p);
	}
	closedir(d);
}

static void
adopt_sg(mz_local *lp, json_t *sg)
{
	size_t i;
	json_t *inst;
	char *key = lp_sg_key(mz_json_str(sg, "account"), mz_json_str(sg, "region"),
	                      mz_json_str(sg, "name"));
	json_t *copy = json_deep_copy(sg);
	if (!json_is_array(json_object_get(copy, "instances")))
		json_object_set_new(copy, "instances", json_array());
	json_array_foreach(json_object_get(copy, "instances"), i, inst) {
		pid_t pid = (pid_t)mz_json_int(inst, "pid", 0);
		bool alive = mz_proc_alive(pid, (uint64_t)mz_json_int(inst, "startTicks", 0));
		mz_info("local: %s: instance %s pid %d %s", mz_json_str(sg, "name"),
		        mz_json_str(inst, "id"), (int)pid,
		        alive ? "alive, re-adopted" : "gone, will be replaced");
	}
	json_object_set_new(lp->sgs, key, copy);
	free(key);
}

static void
adopt_lb(mz_local *lp, json_t *lb)
{
	const char *name = mz_json_str(lb, "name");
	if (name)
		json_object_set_new(lp->lbs, name, json_deep_copy(lb));
}

/* Removes instance folders no server group knows (left by a crash between
 * creating a folder and recording its instance, or by older versions,
 * which replaced crashed instances under new names). */
static void
sweep_instance_dirs(mz_local *lp)
{
	char *dir = mz_asprintf("%s/instances", lp->root);
	json_t *known = json_object();
	const char *key;
	json_t *sg;
	json_object_foreach(lp->sgs, key, sg) {
		size_t i;
		json_t *inst;
		json_array_foreach(json_object_get(sg, "instances"), i, inst)
			json_object_set_new(known, mz_json_str(inst, "id"), json_true());
	}
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || json_object_get(known, e->d_name))
			continue;
		char *p = mz_asprintf("%s/%s", dir, e->d_name);
		mz_info("local: removing %s, which belongs to no instance", p);
		mz_proc_rm_rf(p);
		free(p);
	}
	if (d)
		closedir(d);
	json_decref(known);
	free(dir);
}

mz_code
mz_local_start(const mz_local_config *cfg, mz_local **out, mz_err *err)
{
	mz_local *lp;
	const char *subdirs[] = { "servergroups", "loadbalancers", "images", "tasks",
		                  "haproxy", "instances", NULL };
	*out = NULL;
	if (!cfg || !cfg->data_dir)
		return mz_fail(err, MZ_EINVAL, "local provider: no data dir");
	lp = calloc(1, sizeof(*lp));
	lp->root = mz_asprintf("%s/cloud", cfg->data_dir);
	lp->health_ms = cfg->health_interval_ms > 0 ? cfg->health_interval_ms : 10000;
	lp->image_roots = mz_path_roots(cfg->image_roots, "providers.local.imageRoots");
	mz_proc_sandbox_hide(cfg->data_dir);
	lp->accounts = json_array();
	if (cfg->accounts && json_array_size(cfg->accounts) > 0) {
		size_t i;
		json_t *a;
		json_array_foreach(cfg->accounts, i, a) {
			json_t *acc = json_object();
			json_t *regions = json_array();
			size_t j;
			json_t *r;
			if (!mz_json_str(a, "name"))
				continue;
			json_array_foreach(json_object_get(a, "regions"), j, r) {
				const char *rn = json_is_string(r) ? json_string_value(r)
				                                   : mz_json_str(r, "name");
				if (rn)
					json_array_append_new(regions, json_string(rn));
			}
			if (json_array_size(regions) == 0)
				json_array_append_new(regions, json_string("local"));
			json_object_set_new(acc, "name", json_string(mz_json_str(a, "name")));
			json_object_set_new(acc, "regions", regions);
			json_object_set(acc, "raw", a);
			json_array_append_new(lp->accounts, acc);
		}
	}
	if (json_array_size(lp->accounts) == 0) {
		json_t *acc = json_pack("{s:s, s:[s]}", "name", "local", "regions", "local");
		json_array_append_new(lp->accounts, acc);
	}
	for (int i = 0; subdirs[i]; i++) {
		char *d = mz_asprintf("%s/%s", lp->root, subdirs[i]);
		if (mz_mkdirs(d, 0755) != 0) {
			mz_fail(err, MZ_EIO, "cannot create %s: %s", d, strerror(errno));
			free(d);
			json_decref(lp->accounts);
			json_decref(lp->image_roots);
			free(lp->root);
			free(lp);
			return MZ_EIO;
		}
		free(d);
	}
	pthread_mutex_init(&lp->mu, NULL);
	pthread_mutex_init(&lp->hmu, NULL);
	pthread_cond_init(&lp->qcv, NULL);
	pthread_cond_init(&lp->mcv, NULL);
	lp->sgs = json_object();
	lp->lbs = json_object();
	lp->tasks = json_object();
	lp->requests = json_object();
	lp->queue = json_array();
	lp->last_check = json_object();

	/* re-adoption: read everything back; live instances are kept as they
	 * are, dead ones are replaced by the first monitor pass */
	{
		char *d = mz_asprintf("%s/servergroups", lp->root);
		load_dir_json(d, adopt_sg, lp);
		free(d);
		d = mz_asprintf("%s/loadbalancers", lp->root);
		load_dir_json(d, adopt_lb, lp);
		free(d);
	}
	lp_tasks_load(lp);
	sweep_instance_dirs(lp);
	if (json_object_size(lp->lbs) > 0 || lp_ha_running(lp)) {
		mz_err herr;
		mz_err_clear(&herr);
		pthread_mutex_lock(&lp->mu);
		/* running: re-attach (the config is rewritten, not reloaded);
		 * not running (after a reboot): start it from the config */
		if (lp_ha_apply(lp, false, &herr) != MZ_OK)
			mz_warn("local: haproxy: %s", herr.msg);
		pthread_mutex_unlock(&lp->mu);
	}
	if (pthread_create(&lp->monitor, NULL, monitor_main, lp) != 0 ||
	    pthread_create(&lp->worker, NULL, lp_worker_main, lp) != 0) {
		mz_fail(err, MZ_EIO, "local provider: cannot start threads");
		/* a half-started provider is not worth unwinding carefully */
		abort();
	}
	lp->threads_started = true;
	mz_info("local: provider started on %s (%zu server groups, %zu load balancers)", lp->root,
	        json_object_size(lp->sgs), json_object_size(lp->lbs));
	*out = lp;
	return MZ_OK;
}

void
mz_local_stop(mz_local *lp)
{
	if (!lp)
		return;
	pthread_mutex_lock(&lp->mu);
	lp->stopping = true;
	pthread_cond_broadcast(&lp->qcv);
	pthread_cond_broadcast(&lp->mcv);
	pthread_mutex_unlock(&lp->mu);
	if (lp->threads_started) {
		pthread_join(lp->monitor, NULL);
		pthread_join(lp->worker, NULL);
	}
	json_decref(lp->sgs);
	json_decref(lp->lbs);
	json_decref(lp->tasks);
	json_decref(lp->requests);
	json_decref(lp->queue);
	json_decref(lp->last_check);
	json_decref(lp->accounts);
	json_decref(lp->image_roots);
	pthread_mutex_destroy(&lp->mu);
	pthread_mutex_destroy(&lp->hmu);
	pthread_cond_destroy(&lp->qcv);
	pthread_cond_destroy(&lp->mcv);
	free(lp->root);
	free(lp);
}

/* ---- accounts ----------------------------------------------------------- */

json_t *
mz_local_accounts(mz_local *lp)
{
	json_t *out = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(lp->accounts, i, a) {
		json_t *raw = json_object_get(a, "raw");
		json_t *regions = json_array();
		size_t j;
		json_t *r;
		json_array_foreach(json_object_get(a, "regions"), j, r)
			json_array_append_new(regions, json_pack("{s:O}", "name", r));
		json_t *acc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b}",
		                        "name", mz_json_str(a, "name"), "type", "local",
		                        "cloudProvider", "local", "accountType",
		                        mz_json_str(raw, "accountType") ? mz_json_str(raw, "accountType")
		                                                        : mz_json_str(a, "name"),
		                        "environment",
		                        mz_json_str(raw, "environment") ? mz_json_str(raw, "environment")
		                                                        : mz_json_str(a, "name"),
		                        "regions", regions, "permissions",
		                        json_object_get(raw, "permissions")
		                                ? json_deep_copy(json_object_get(raw, "permissions"))
		                                : json_object(),
		                        "primaryAccount", i == 0);
		json_array_append_new(out, acc);
	}
	return out;
}

mz_code
mz_local_check_location(mz_local *lp, const char *account, const char *region, mz_err *err)
{
	size_t i;
	json_t *a;
	if (!account || !*account)
		return mz_fail(err, MZ_EINVAL, "credentials (account) is required");
	json_array_foreach(lp->accounts, i, a) {
		size_t j;
		json_t *r;
		if (!mz_streq(mz_json_str(a, "name"), account))
			continue;
		if (!region || !*region)
			return mz_fail(err, MZ_EINVAL, "region is required");
		json_array_foreach(json_object_get(a, "regions"), j, r)
			if (mz_streq(json_string_value(r), region))
				return MZ_OK;
		return mz_fail(err, MZ_EINVAL, "unknown region '%s' for account '%s'", region, account);
	}
	/* name the accounts there are: a pipeline written for another
	 * provider names that provider's accounts (every cloud stage runs on
	 * this provider, whatever its cloudProvider says) */
	char names[256] = "";
	size_t n = 0;
	json_array_foreach(lp->accounts, i, a) {
		const char *nm = mz_json_str(a, "name");
		int w = snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "", nm ? nm : "");
		if (w < 0 || (size_t)w >= sizeof(names) - n)
			break;
		n += (size_t)w;
	}
	return mz_fail(err, MZ_EINVAL, "unknown account '%s' for cloud provider local (its "
	               "accounts: %s)", account, names);
}

/* ---- read views --------------------------------------------------------- */

/* Views share nodes with the model while they are built (lp->mu held);
 * what leaves the lock is an unshared deep copy, so callers on other
 * threads never touch the model's reference counts. */
static json_t *
view_unshare(json_t *v)
{
	json_t *c = v ? json_deep_copy(v) : NULL;
	json_decref(v);
	return c;
}

static bool
secret_key(const char *k)
{
	const char *words[] = { "secret", "password", "passwd", "token", "key", "credential",
		                "private", NULL };
	for (int i = 0; words[i]; i++)
		if (strcasestr(k, words[i]))
			return true;
	return false;
}

static const char *
derive_health(json_t *health)
{
	size_t i;
	json_t *h;
	bool any = false, all_up = true, starting = false, down = false, oos = false;
	json_array_foreach(health, i, h) {
		const char *s = mz_json_str(h, "state");
		if (!s || mz_streq(s, "Unknown"))
			continue;
		any = true;
		if (!mz_streq(s, "Up"))
			all_up = false;
		if (mz_streq(s, "Starting"))
			starting = true;
		if (mz_streq(s, "Down"))
			down = true;
		if (mz_streq(s, "OutOfService"))
			oos = true;
	}
	if (any && all_up)
		return "Up";
	if (starting)
		return "Starting";
	if (down)
		return "Down";
	if (oos)
		return "OutOfService";
	return "Unknown";
}

static json_t *
instance_view(const json_t *sg, const json_t *inst)
{
	const char *pstate = mz_json_str(inst, "state");
	bool disabled = json_is_true(json_object_get(sg, "disabled"));
	bool in_lb = json_is_true(json_object_get(inst, "inLb"));
	json_t *lbs = json_object_get(sg, "loadBalancers");
	json_t *health = json_array();
	json_t *v = json_object();
	const char *id = mz_json_str(inst, "id");

	json_array_append_new(health, json_pack("{s:s, s:s, s:s}", "type", "Local", "healthClass",
	                                        "platform", "state", pstate ? pstate : "Unknown"));
	if (json_array_size(lbs) > 0) {
		const char *ls = disabled ? "OutOfService"
		                 : in_lb  ? (mz_streq(pstate, "Up") ? "Up" : "Down")
		                          : (mz_streq(pstate, "Down") ? "Down" : "Starting");
		json_t *list = json_array();
		size_t i;
		json_t *n;
		json_array_foreach(lbs, i, n)
			json_array_append_new(list, json_pack("{s:O, s:O, s:s, s:s}", "name", n,
			                                      "loadBalancerName", n, "state",
			                                      mz_streq(ls, "Up") ? "InService"
			                                                         : "OutOfService",
			                                      "healthState", ls));
		json_array_append_new(health, json_pack("{s:s, s:s, s:o}", "type", "LoadBalancer",
		                                        "state", ls, "loadBalancers", list));
	}
	json_object_set_new(v, "id", json_string(id));
	json_object_set_new(v, "name", json_string(id));
	json_object_set_new(v, "instanceId", json_string(id));
	json_object_set_new(v, "healthState", json_string(derive_health(health)));
	json_object_set_new(v, "launchTime", json_integer(mz_json_int(inst, "launchTime", 0)));
	json_object_set_new(v, "zone", json_string("local"));
	json_object_set_new(v, "availabilityZone", json_string("local"));
	json_object_set_new(v, "cloudProvider", json_string("local"));
	json_object_set_new(v, "providerType", json_string("local"));
	json_object_set_new(v, "port", json_integer(mz_json_int(inst, "port", 0)));
	json_object_set_new(v, "pid", json_integer(mz_json_int(inst, "pid", 0)));
	json_object_set_new(v, "privateIpAddress", json_string("127.0.0.1"));
	json_object_set_new(v, "health", health);
	/* Kubernetes' words for a crashing instance: restarts so far, crashes
	 * in a row, when the next restart is due and how the last run ended */
	json_object_set_new(v, "restartCount", json_integer(mz_json_int(inst, "restartCount", 0)));
	json_object_set_new(v, "crashLoop", json_integer(mz_json_int(inst, "crashLoop", 0)));
	if (mz_json_int(inst, "pid", 0) == 0 && mz_json_int(inst, "restartAt", 0) > 0)
		json_object_set_new(v, "restartAt", json_integer(mz_json_int(inst, "restartAt", 0)));
	if (json_object_get(inst, "lastExit"))
		json_object_set(v, "lastExit", json_object_get(inst, "lastExit"));
	return v;
}

static json_t *
sg_view(const json_t *sg)
{
	json_t *v = json_object();
	json_t *insts = json_array();
	json_t *counts = json_object();
	json_t *lc = json_object();
	json_t *env = json_object();
	json_t *image = json_object();
	json_t *moniker = lp_moniker(mz_json_str(sg, "name"));
	int up = 0, down = 0, unknown = 0, oos = 0, starting = 0;
	size_t i;
	json_t *inst;
	const char *k;
	json_t *ev;
	bool disabled = json_is_true(json_object_get(sg, "disabled"));

	json_array_foreach(json_object_get(sg, "instances"), i, inst) {
		json_t *iv = instance_view(sg, inst);
		const char *hs = mz_json_str(iv, "healthState");
		if (mz_streq(hs, "Up"))
			up++;
		else if (mz_streq(hs, "Down"))
			down++;
		else if (mz_streq(hs, "OutOfService"))
			oos++;
		else if (mz_streq(hs, "Starting"))
			starting++;
		else
			unknown++;
		json_array_append_new(insts, iv);
	}
	json_object_set_new(counts, "total", json_integer((json_int_t)json_array_size(insts)));
	json_object_set_new(counts, "up", json_integer(up));
	json_object_set_new(counts, "down", json_integer(down));
	json_object_set_new(counts, "unknown", json_integer(unknown));
	json_object_set_new(counts, "outOfService", json_integer(oos));
	json_object_set_new(counts, "starting", json_integer(starting));

	json_object_foreach(json_object_get(sg, "env"), k, ev)
		json_object_set_new(env, k, secret_key(k) ? json_string("****") : json_deep_copy(ev));
	json_object_set(lc, "command", json_object_get(sg, "command"));
	json_object_set_new(lc, "env", env);
	json_object_set(lc, "healthCheck", json_object_get(sg, "healthCheck"));

	{
		json_t *img = json_object_get(sg, "image");
		json_t *man = json_object_get(img, "manifest");
		if (json_is_object(man))
			json_object_update(image, man);
		json_object_set(image, "imageId", json_object_get(img, "imageId"));
		json_object_set(image, "name", json_object_get(img, "name") ? json_object_get(img, "name")
		                                                           : json_object_get(img, "imageId"));
		json_object_set(image, "path", json_object_get(img, "path"));
	}

	json_object_set(v, "name", json_object_get(sg, "name"));
	json_object_set(v, "account", json_object_get(sg, "account"));
	json_object_set(v, "region", json_object_get(sg, "region"));
	json_object_set(v, "cluster", json_object_get(moniker, "cluster"));
	json_object_set(v, "application", json_object_get(moniker, "app"));
	json_object_set_new(v, "type", json_string("local"));
	json_object_set_new(v, "cloudProvider", json_string("local"));
	json_object_set(v, "moniker", moniker);
	json_object_set_new(v, "createdTime", json_integer(mz_json_int(sg, "createdTime", 0)));
	json_object_set_new(v, "disabled", json_boolean(disabled));
	json_object_set_new(v, "isDisabled", json_boolean(disabled));
	json_object_set(v, "capacity", json_object_get(sg, "capacity"));
	json_object_set_new(v, "instanceCounts", counts);
	json_object_set_new(v, "instances", insts);
	json_object_set_new(v, "loadBalancers", json_object_get(sg, "loadBalancers") ? json_deep_copy(json_object_get(sg, "loadBalancers")) : json_array());
	json_object_set_new(v, "securityGroups", json_array());
	json_object_set_new(v, "image", image);
	json_object_set_new(v, "buildInfo", json_object_get(sg, "buildInfo") ? json_deep_copy(json_object_get(sg, "buildInfo")) : json_object());
	json_object_set_new(v, "launchConfig", lc);
	json_object_set_new(v, "zones", json_pack("[s]", "local"));
	json_object_set_new(v, "tags", json_object_get(sg, "tags") ? json_deep_copy(json_object_get(sg, "tags")) : json_object());
	if (mz_json_str(sg, "lastError"))
		json_object_set(v, "lastError", json_object_get(sg, "lastError"));
	json_decref(moniker);
	return v;
}

static int
cmp_created(const void *a, const void *b)
{
	int64_t x = mz_json_int(*(json_t *const *)a, "createdTime", 0);
	int64_t y = mz_json_int(*(json_t *const *)b, "createdTime", 0);
	return x < y ? -1 : x > y;
}

json_t *
mz_local_server_groups(mz_local *lp, const char *app)
{
	json_t *out = json_array();
	const char *key;
	json_t *sg;
	json_t **list;
	size_t n = 0;
	pthread_mutex_lock(&lp->mu);
	list = calloc(json_object_size(lp->sgs) + 1, sizeof(*list));
	json_object_foreach(lp->sgs, key, sg) {
		if (app) {
			json_t *m = lp_moniker(mz_json_str(sg, "name"));
			bool match = mz_streq(mz_json_str(m, "app"), app);
			json_decref(m);
			if (!match)
				continue;
		}
		list[n++] = sg;
	}
	qsort(list, n, sizeof(*list), cmp_created);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, sg_view(list[i]));
	out = view_unshare(out);
	pthread_mutex_unlock(&lp->mu);
	free(list);
	return out;
}

json_t *
mz_local_server_group(mz_local *lp, const char *account, const char *region, const char *name)
{
	char *key = lp_sg_key(account, region, name);
	json_t *v = NULL, *sg;
	pthread_mutex_lock(&lp->mu);
	sg = json_object_get(lp->sgs, key);
	if (sg)
		v = view_unshare(sg_view(sg));
	pthread_mutex_unlock(&lp->mu);
	free(key);
	return v;
}

json_t *
mz_local_load_balancers(mz_local *lp, const char *app)
{
	json_t *out = json_array();
	const char *name;
	json_t *lb;
	pthread_mutex_lock(&lp->mu);
	json_object_foreach(lp->lbs, name, lb) {
		json_t *m = lp_moniker(name);
		json_t *v, *sgs = json_array();
		const char *key;
		json_t *sg;
		json_t *l0 = json_array_get(json_object_get(lb, "listeners"), 0);
		if (app && !mz_streq(mz_json_str(m, "app"), app)) {
			json_decref(m);
			json_decref(sgs);
			continue;
		}
		json_object_set_new(m, "sequence", json_null());
		json_object_foreach(lp->sgs, key, sg) {
			size_t i;
			json_t *n;
			bool member = false;
			json_array_foreach(json_object_get(sg, "loadBalancers"), i, n)
				if (mz_streq(json_string_value(n), name))
					member = true;
			if (!member)
				continue;
			json_t *full = sg_view(sg);
			json_t *insts = json_array();
			json_t *iv;
			json_array_foreach(json_object_get(full, "instances"), i, iv)
				json_array_append_new(insts, json_pack("{s:O, s:O, s:s, s:{s:O}}", "id",
				                                       json_object_get(iv, "id"), "name",
				                                       json_object_get(iv, "id"), "zone",
				                                       "local", "health", "state",
				                                       json_object_get(iv, "healthState")));
			json_array_append_new(sgs, json_pack("{s:O, s:O, s:O, s:O, s:s, s:o, s:[]}",
			                                     "name", json_object_get(sg, "name"),
			                                     "account", json_object_get(sg, "account"),
			                                     "region", json_object_get(sg, "region"),
			                                     "isDisabled", json_object_get(full, "isDisabled"),
			                                     "cloudProvider", "local", "instances", insts,
			                                     "detachedInstances"));
			json_decref(full);
		}
		char *url = mz_asprintf("http://127.0.0.1:%d/", (int)mz_json_int(l0, "externalPort", 0));
		v = json_pack("{s:s, s:O, s:O, s:s, s:s, s:o, s:O, s:O, s:s, s:o}", "name", name,
		              "account", json_object_get(lb, "account"), "region",
		              json_object_get(lb, "region"), "type", "local", "cloudProvider", "local",
		              "moniker", m, "listeners", json_object_get(lb, "listeners"),
		              "healthCheck", json_object_get(lb, "healthCheck"), "url", url,
		              "serverGroups", sgs);
		free(url);
		if (v)
			json_array_append_new(out, v);
	}
	out = view_unshare(out);
	pthread_mutex_unlock(&lp->mu);
	return out;
}

static json_t *
locate_instance(mz_local *lp, const char *account, const char *region, const char *id,
                json_t **sg_out)
{
	const char *key;
	json_t *sg;
	json_object_foreach(lp->sgs, key, sg) {
		if ((account && !mz_streq(mz_json_str(sg, "account"), account)) ||
		    (region && !mz_streq(mz_json_str(sg, "region"), region)))
			continue;
		json_t *inst = lp_find_instance(sg, id, NULL);
		if (inst) {
			*sg_out = sg;
			return inst;
		}
	}
	return NULL;
}

json_t *
mz_local_instance(mz_local *lp, const char *account, const char *region, const char *id)
{
	json_t *sg = NULL, *inst, *v = NULL;
	pthread_mutex_lock(&lp->mu);
	inst = locate_instance(lp, account, region, id, &sg);
	if (inst) {
		v = instance_view(sg, inst);
		json_object_set(v, "serverGroup", json_object_get(sg, "name"));
		json_object_set(v, "account", json_object_get(sg, "account"));
		json_object_set(v, "region", json_object_get(sg, "region"));
		json_object_set(v, "workdir", json_object_get(inst, "workdir"));
		json_object_set(v, "log", json_object_get(inst, "log"));
		json_object_set(v, "startTicks", json_object_get(inst, "startTicks"));
		v = view_unshare(v);
	}
	pthread_mutex_unlock(&lp->mu);
	return v;
}

char *
mz_local_console(mz_local *lp, const char *account, const char *region, const char *id,
                 size_t max)
{
	json_t *sg = NULL, *inst;
	char *path = NULL, *out = NULL;
	pthread_mutex_lock(&lp->mu);
	inst = locate_instance(lp, account, region, id, &sg);
	if (inst)
		path = mz_strdup(mz_json_str(inst, "log"));
	pthread_mutex_unlock(&lp->mu);
	if (!path)
		return NULL;
	out = mz_proc_log_tail(path, max);
	free(path);
	return out;
}

/* ---- images (public) ---------------------------------------------------- */

mz_code
mz_local_image_import(mz_local *lp, const char *path, const json_t *manifest,
                      char image_id[80], mz_err *err)
{
	return lp_image_import(lp, path, manifest, image_id, err);
}

json_t *
mz_local_image(mz_local *lp, const char *image_id)
{
	json_t *rec = lp_image_load(lp, image_id);
	if (rec) {
		char *p = mz_asprintf("%s/images/%s/root", lp->root, image_id);
		json_object_set_new(rec, "path", json_string(p));
		free(p);
	}
	return rec;
}

json_t *
mz_local_images(mz_local *lp)
{
	json_t *out = json_array();
	char *dir = mz_asprintf("%s/images", lp->root);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (!lp_image_id_like(e->d_name))
			continue;
		json_t *rec = mz_local_image(lp, e->d_name);
		if (rec)
			json_array_append_new(out, rec);
	}
	if (d)
		closedir(d);
	free(dir);
	return out;
}
