/*
 * local_haproxy.c - the provider's one HAProxy (Debian's), run in
 * master-worker mode and detached so it outlives mizzen.
 *
 * <root>/haproxy/ holds haproxy.cfg, haproxy.pid (the master's pid),
 * master.sock (reloads) and runtime.sock (the worker's admin socket).
 * Membership changes go through the runtime API ("add server", "set server
 * ... state drain|maint|ready", "del server"); the config file is always
 * rewritten as well, so a reload or a fresh start reproduces the current
 * membership. New or deleted frontends need a reload through the master
 * socket; HAProxy keeps old connections on the old worker meanwhile.
 */
#include "cloud/local/local_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define HAPROXY_BIN "/usr/sbin/haproxy"
#define SERVER_OPTS "check inter 500 fall 2 rise 1"

static char *
ha_path(mz_local *lp, const char *file)
{
	return mz_asprintf("%s/haproxy/%s", lp->root, file);
}

/* Unix socket paths are limited to 108 bytes: with a deep data dir the
 * sockets live in /tmp/mizzen-ha-<hash of the data dir>/ instead (the same
 * directory at every start, so re-attaching still works). */
static char *
sock_path(mz_local *lp, const char *file)
{
	char *p = ha_path(lp, file);
	uint64_t h = 1469598103934665603ULL;
	char *dir;
	if (strlen(p) < 100)
		return p;
	free(p);
	for (const char *c = lp->root; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	dir = mz_asprintf("/tmp/mizzen-ha-%016llx", (unsigned long long)h);
	mkdir(dir, 0700);
	p = mz_asprintf("%s/%s", dir, file);
	free(dir);
	return p;
}

char *
lp_ha_server_name(const char *instance_id)
{
	char *s = mz_strdup(instance_id);
	for (char *p = s; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			*p = '_';
	}
	return s;
}

static char *
sock_cmd(const char *path, const char *cmd, int timeout_ms)
{
	struct sockaddr_un a;
	int fd;
	mz_buf out;
	char buf[4096];
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	size_t len = strlen(cmd);

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a.sun_path))
		return NULL;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return NULL;
	}
	if (send(fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		close(fd);
		return NULL;
	}
	mz_buf_init(&out, 1 << 22);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (mz_buf_add(&out, buf, (size_t)n) != MZ_OK)
			break;
	}
	close(fd);
	return mz_buf_detach(&out, NULL);
}

char *
lp_ha_cmd(mz_local *lp, const char *cmd)
{
	char *path = sock_path(lp, "runtime.sock");
	char *r = sock_cmd(path, cmd, 3000);
	free(path);
	return r;
}

static pid_t
ha_master_pid(mz_local *lp)
{
	char *path = ha_path(lp, "haproxy.pid");
	char *text = mz_read_file(path, NULL, NULL);
	pid_t pid = text ? (pid_t)atoi(text) : 0;
	free(text);
	free(path);
	return pid;
}

bool
lp_ha_running(mz_local *lp)
{
	pid_t pid = ha_master_pid(lp);
	char path[64];
	char *cmdline;
	size_t len;
	bool ok;
	if (pid <= 0 || mz_proc_start_ticks(pid) == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	cmdline = mz_read_file(path, &len, NULL);
	ok = cmdline && strstr(cmdline, "haproxy") != NULL;
	free(cmdline);
	return ok;
}

static void
cfg_backend_servers(mz_local *lp, mz_buf *b, const char *lbname)
{
	const char *key;
	json_t *sg;
	json_object_foreach(lp->sgs, key, sg) {
		size_t i, j;
		json_t *inst, *lbn;
		bool member = false;
		if (json_is_true(json_object_get(sg, "disabled")))
			continue;
		json_array_foreach(json_object_get(sg, "loadBalancers"), j, lbn)
			if (mz_streq(json_string_value(lbn), lbname))
				member = true;
		if (!member)
			continue;
		json_array_foreach(json_object_get(sg, "instances"), i, inst) {
			char *srv;
			if (!json_is_true(json_object_get(inst, "inLb")))
				continue;
			srv = lp_ha_server_name(mz_json_str(inst, "id"));
			mz_buf_printf(b, "  server %s 127.0.0.1:%d %s\n", srv,
			              (int)mz_json_int(inst, "port", 0), SERVER_OPTS);
			free(srv);
		}
	}
}

int
lp_ha_write_config(mz_local *lp, mz_err *err)
{
	mz_buf b;
	char *dir = mz_asprintf("%s/haproxy", lp->root);
	char *cfg = ha_path(lp, "haproxy.cfg");
	char *tmp = mz_asprintf("%s.tmp", cfg);
	char *rt = sock_path(lp, "runtime.sock");
	char *pidf = ha_path(lp, "haproxy.pid");
	const char *name;
	json_t *lb;
	FILE *f;
	int rc = -1;

	mz_mkdirs(dir, 0755);
	mz_buf_init(&b, 0);
	mz_buf_printf(&b,
	              "# written by mizzen's local provider; rewritten on every change\n"
	              "global\n"
	              "  stats socket %s mode 600 level admin expose-fd listeners\n"
	              "  pidfile %s\n"
	              "  nbthread 2\n"
	              "\n"
	              "defaults\n"
	              "  mode http\n"
	              "  timeout connect 2s\n"
	              "  timeout client 30s\n"
	              "  timeout server 30s\n"
	              "  timeout queue 10s\n"
	              "  option http-server-close\n"
	              "  option redispatch 1\n"
	              "  retries 3\n"
	              "  retry-on conn-failure empty-response response-timeout\n",
	              rt, pidf);
	json_object_foreach(lp->lbs, name, lb) {
		json_t *l = json_array_get(json_object_get(lb, "listeners"), 0);
		const char *hp = mz_json_str(json_object_get(lb, "healthCheck"), "path");
		mz_buf_printf(&b,
		              "\nfrontend fe_%s\n"
		              "  bind 127.0.0.1:%d\n"
		              "  default_backend be_%s\n"
		              "\nbackend be_%s\n"
		              "  balance roundrobin\n"
		              "  option httpchk GET %s\n",
		              name, (int)mz_json_int(l, "externalPort", 0), name, name,
		              hp && *hp ? hp : "/");
		cfg_backend_servers(lp, &b, name);
	}
	f = fopen(tmp, "we");
	if (!f || fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		mz_fail(err, MZ_EIO, "cannot write %s: %s", tmp, strerror(errno));
		if (f)
			fclose(f);
		goto out;
	}
	fclose(f);
	if (rename(tmp, cfg) != 0) {
		mz_fail(err, MZ_EIO, "cannot rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	mz_buf_release(&b);
	free(dir);
	free(cfg);
	free(tmp);
	free(rt);
	free(pidf);
	return rc;
}

static bool
ha_check(mz_local *lp, mz_err *err)
{
	char *cfg = ha_path(lp, "haproxy.cfg");
	/* Not -q: that silences the alerts too, and the reason is what the
	 * user needs; the notices before the first alert are left out. */
	const char *const argv[] = { HAPROXY_BIN, "-c", "-f", cfg, NULL };
	mz_buf out;
	int rc;
	mz_buf_init(&out, 65536);
	rc = mz_proc_run_argv(argv, &out, 30000);
	mz_buf_add(&out, "", 1);
	if (rc != 0) {
		const char *alert = strstr(out.data, "[ALERT]");
		mz_fail(err, MZ_EINVAL, "haproxy rejects the configuration: %.400s",
		        alert ? alert : out.data);
	}
	mz_buf_release(&out);
	free(cfg);
	return rc == 0;
}


/* The pid of the worker answering on the runtime socket ("show info"), or
 * 0. A reload is complete when a new worker answers: with `expose-fd
 * listeners` the new worker inherits the old sockets, so the socket file
 * itself need not change. */
static long
worker_pid(const char *rt)
{
	long pid = 0;
	char *r = sock_cmd(rt, "show info", 1000);
	const char *p = r ? strstr(r, "\nPid: ") : NULL;
	if (!p && r && strncmp(r, "Pid: ", 5) == 0)
		p = r - 1;
	if (p)
		pid = strtol(p + 6, NULL, 10);
	free(r);
	return pid;
}

/* Waits until a worker other than old_pid (0: any) answers on the runtime
 * socket. */
static bool
ha_wait_worker(mz_local *lp, long old_pid, int timeout_ms)
{
	char *rt = sock_path(lp, "runtime.sock");
	int64_t deadline = mz_mono_ms() + timeout_ms;
	bool ok = false;
	while (mz_mono_ms() < deadline) {
		long pid = worker_pid(rt);
		if (pid > 0 && pid != old_pid) {
			ok = true;
			break;
		}
		lp_sleep_ms(20);
	}
	free(rt);
	return ok;
}

static mz_code
ha_start(mz_local *lp, mz_err *err)
{
	char *cfg = ha_path(lp, "haproxy.cfg");
	char *ms = sock_path(lp, "master.sock");
	char *log = ha_path(lp, "haproxy.log");
	char *rt = sock_path(lp, "runtime.sock");
	const char *const argv[] = { HAPROXY_BIN, "-W", "-D", "-S", ms, "-f", cfg, NULL };
	const char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/bin", NULL };
	mz_code rc = MZ_OK;
	/* in its own session, so it outlives mizzen; -D: the launcher exits
	 * once the master is daemonised */
	mz_proc p = { .argv = argv, .env = envp, .log_path = log, .timeout_ms = 30000,
	              /* a server too: it sizes maxconn from its descriptor limit */
	              .limits = {.open_files = MZ_PROC_NOFILE_SERVER} };
	int status;

	unlink(rt);
	status = mz_proc_run(&p, NULL, err);
	if (status < 0) {
		rc = err ? err->code : MZ_EIO;
		goto out;
	}
	if (status != 0) {
		rc = mz_fail(err, MZ_EIO, "haproxy failed to start (see %s)", log);
		goto out;
	}
	if (!ha_wait_worker(lp, 0, 5000))
		rc = mz_fail(err, MZ_EIO, "haproxy started but its runtime socket does not answer");
	else
		mz_info("local: haproxy started (master pid %d)", (int)ha_master_pid(lp));
out:
	free(cfg);
	free(ms);
	free(log);
	free(rt);
	return rc;
}

mz_code
lp_ha_apply(mz_local *lp, bool reload, mz_err *err)
{
	mz_code rc = MZ_OK;
	pthread_mutex_lock(&lp->hmu);
	if (lp_ha_write_config(lp, err) != 0) {
		rc = MZ_EIO;
		goto out;
	}
	if (!ha_check(lp, err)) {
		rc = MZ_EINVAL;
		goto out;
	}
	if (!lp_ha_running(lp)) {
		rc = ha_start(lp, err);
	} else if (reload) {
		char *ms = sock_path(lp, "master.sock");
		char *rt = sock_path(lp, "runtime.sock");
		long old = worker_pid(rt);
		char *r = sock_cmd(ms, "reload", 3000);
		free(r);
		if (!ha_wait_worker(lp, old, 5000))
			rc = mz_fail(err, MZ_EIO, "haproxy did not come back after a reload");
		free(ms);
		free(rt);
	}
out:
	pthread_mutex_unlock(&lp->hmu);
	return rc;
}

int
lp_ha_add_server(mz_local *lp, const char *lb, const char *server, int port)
{
	char cmd[512];
	char *r;
	int rc = 0;
	pthread_mutex_lock(&lp->hmu);
	snprintf(cmd, sizeof(cmd), "add server be_%s/%s 127.0.0.1:%d " SERVER_OPTS, lb, server,
	         port);
	r = lp_ha_cmd(lp, cmd);
	if (!r || (!strstr(r, "New server registered") && !strstr(r, "Already exists"))) {
		mz_warn("local: haproxy: %s: %s", cmd, r ? r : "(no answer)");
		rc = -1;
	}
	free(r);
	if (rc == 0) {
		snprintf(cmd, sizeof(cmd), "enable health be_%s/%s", lb, server);
		free(lp_ha_cmd(lp, cmd));
		snprintf(cmd, sizeof(cmd), "set server be_%s/%s state ready", lb, server);
		free(lp_ha_cmd(lp, cmd));
	}
	pthread_mutex_unlock(&lp->hmu);
	return rc;
}

/* Current sessions plus queued requests of be_<lb>/<server>, from "show
 * stat" (CSV: pxname, svname, qcur, qmax, scur, ...); -1 when absent. */
static int
ha_server_load(const char *stat, const char *lb, const char *server)
{
	char prefix[400];
	const char *p;
	snprintf(prefix, sizeof(prefix), "\nbe_%s,%s,", lb, server);
	p = strstr(stat, prefix);
	if (!p)
		return -1;
	p += strlen(prefix);
	int qcur = atoi(p);
	p = strchr(p, ',');           /* -> qmax */
	if (!p)
		return -1;
	p = strchr(p + 1, ',');       /* -> scur */
	if (!p)
		return -1;
	return qcur + atoi(p + 1);
}

void
lp_ha_remove_servers(mz_local *lp, const json_t *pairs, int timeout_ms)
{
	size_t i;
	json_t *v;
	char cmd[512];
	int64_t deadline;

	if (json_array_size(pairs) == 0)
		return;
	pthread_mutex_lock(&lp->hmu);
	/* 1. drain: no new requests, in-flight ones finish */
	json_array_foreach(pairs, i, v) {
		char *lb = mz_strdup(json_string_value(v));
		char *srv = strchr(lb, '\t');
		if (srv) {
			*srv++ = '\0';
			snprintf(cmd, sizeof(cmd), "set server be_%s/%s state drain", lb, srv);
			free(lp_ha_cmd(lp, cmd));
		}
		free(lb);
	}
	/* 2. wait until idle */
	deadline = mz_mono_ms() + timeout_ms;
	for (;;) {
		char *stat = lp_ha_cmd(lp, "show stat");
		bool busy = false;
		if (stat) {
			char *nl = mz_asprintf("\n%s", stat);
			json_array_foreach(pairs, i, v) {
				char *lb = mz_strdup(json_string_value(v));
				char *srv = strchr(lb, '\t');
				if (srv) {
					*srv++ = '\0';
					if (ha_server_load(nl, lb, srv) > 0)
						busy = true;
				}
				free(lb);
			}
			free(nl);
			free(stat);
		}
		if (!busy || mz_mono_ms() >= deadline)
			break;
		lp_sleep_ms(50);
	}
	/* 3. maintenance, then delete (retried: idle connections may linger) */
	json_array_foreach(pairs, i, v) {
		char *lb = mz_strdup(json_string_value(v));
		char *srv = strchr(lb, '\t');
		if (srv) {
			*srv++ = '\0';
			snprintf(cmd, sizeof(cmd), "set server be_%s/%s state maint", lb, srv);
			free(lp_ha_cmd(lp, cmd));
			snprintf(cmd, sizeof(cmd), "del server be_%s/%s", lb, srv);
			for (int t = 0; t < 20; t++) {
				char *r = lp_ha_cmd(lp, cmd);
				bool done = !r || strstr(r, "deleted") || strstr(r, "No such") ||
				            strstr(r, "Unknown") || strstr(r, "No such server");
				free(r);
				if (done)
					break;
				lp_sleep_ms(50);
			}
		}
		free(lb);
	}
	pthread_mutex_unlock(&lp->hmu);
}
