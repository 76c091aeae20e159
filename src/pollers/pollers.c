/* pollers.c - the poller thread: git (ls-remote), docker registry v2 tags,
 * Jenkins builds. See pollers.h for the cursor and first-start rules. */
#include "pollers/pollers_int.h"
#include "proc/proc.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>


#define GIT_TIMEOUT_MS 30000
#define HTTP_TIMEOUT_MS 10000

struct mz_pollers {
	char *db_url;
	mz_events *events;
	mz_engine *engine;
	int64_t interval_ms;
	json_t *docker_accounts;
	json_t *jenkins_masters;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	mz_log_limit store_log;  /* the poller thread's store failures */
	pthread_t thread;
	bool have_thread;
};

/* ---- helpers ------------------------------------------------------------ */

static const char *
account_address(const json_t *accounts, const char *name)
{
	size_t i;
	json_t *a;
	json_array_foreach(accounts, i, a) {
		if (mz_streq(mz_json_str(a, "name"), name))
			return mz_json_str(a, "address");
	}
	return NULL;
}

char *
mz_jenkins_master_url(const json_t *masters, const char *name)
{
	if (!name || !*name)
		return NULL;
	const char *addr = account_address(masters, name);
	if (addr && *addr)
		return mz_strdup(addr);
	char var[200] = "MZ_JENKINS_";
	size_t n = strlen(var);
	for (const char *p = name; *p && n < sizeof(var) - 5; p++)
		var[n++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
	snprintf(var + n, sizeof(var) - n, "_URL");
	const char *env = getenv(var);
	return env && *env ? mz_strdup(env) : NULL;
}

/* Stores an event and advances a cursor in one transaction. event may be
 * NULL (only the cursor moves). */
static mz_code
commit_event(mz_pollers *p, mz_store *st, const char *cursor_key, const char *cursor,
             const json_t *event, const char *event_id, mz_err *err)
{
	mz_code rc = mz_store_begin(st, err);
	if (rc)
		return rc;
	if (event)
		rc = mz_events_submit(p->events, st, event, event_id, NULL, NULL, err);
	if (rc == MZ_OK)
		rc = mz_kv_put(st, cursor_key, cursor, err);
	if (rc == MZ_OK)
		rc = mz_store_commit(st, err);
	else
		mz_store_rollback(st);
	if (rc == MZ_OK && event)
		mz_events_wake(p->events);
	return rc;
}

/* ---- git ------------------------------------------------------------------- */

/* Runs `git ls-remote <url> <ref>` and returns the hash of the branch, or
 * NULL with err set. */
static char *
git_ls_remote(const char *url, const char *branch, mz_err *err)
{
	if (url[0] == '-') {
		mz_fail(err, MZ_EINVAL, "refusing a git URL that starts with '-'");
		return NULL;
	}
	const char *ref = branch && *branch ? branch : "HEAD";
	const char *const argv[] = {"git", "ls-remote", url, ref, NULL};
	/* no prompts for credentials: fail instead; a proxy of the server's
	 * environment is passed on */
	const char *env[16] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8",
	                       "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false"};
	char *proxies[8] = {0};
	size_t ne = 5, np = 0;
	static const char *const pass[] = {"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY",
	                                   "HTTPS_PROXY", "NO_PROXY", NULL};
	for (int i = 0; pass[i]; i++)
		if (getenv(pass[i]))
			env[ne++] = proxies[np++] = mz_asprintf("%s=%s", pass[i], getenv(pass[i]));
	env[ne] = NULL;
	/* sandboxed like a build's checkout: a local repository is seen
	 * read-only wherever it lies, nothing else of the host is writable */
	const char *local = strncmp(url, "file://", 7) == 0 ? url + 7 : url[0] == '/' ? url : NULL;
	char *repo = local ? realpath(local, NULL) : NULL;
	const char *const ro[] = {repo, NULL};
	mz_sandbox box = {.readonly = repo ? ro : NULL, .keep_uid = true, .die_with_parent = true};
	mz_proc proc = {.argv = argv, .env = env, .cwd = "/tmp", .capture = true, .sandbox = &box,
	                .timeout_ms = GIT_TIMEOUT_MS, .grace_ms = 500};
	mz_buf out;
	mz_buf_init(&out, 4 << 20);
	int status = mz_proc_run(&proc, &out, err);
	mz_buf_add(&out, "", 1);
	free(repo);
	for (size_t i = 0; i < np; i++)
		free(proxies[i]);
	if (status < 0) {
		mz_buf_release(&out);
		return NULL;
	}
	bool timed_out = status == 124;
	char *hash = NULL;
	if (timed_out) {
		mz_fail(err, MZ_ETIMEOUT, "git ls-remote %s timed out", url);
	} else if (status != 0) {
		mz_fail(err, MZ_EIO, "git ls-remote %s %s failed (status %d): %.300s", url, ref, status,
		        out.data);
	} else {
		char *want = mz_asprintf("refs/heads/%s", ref);
		char *first = NULL;
		char *save = NULL;
		for (char *line = strtok_r(out.data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *tab = strchr(line, '\t');
			if (!tab)
				continue;
			*tab = '\0';
			if (strcmp(tab + 1, want) == 0 || strcmp(tab + 1, ref) == 0) {
				free(hash);
				hash = mz_strdup(line);
				if (strcmp(tab + 1, want) == 0)
					break;
			} else if (!first) {
				first = mz_strdup(line);
			}
		}
		if (!hash && first) {
			hash = first;
			first = NULL;
		}
		free(first);
		free(want);
		if (!hash)
			mz_fail(err, MZ_ENOTFOUND, "git ls-remote %s: no ref %s", url, ref);
	}
	mz_buf_release(&out);
	return hash;
}

static void
poll_git(mz_pollers *p, mz_store *st, const char *url, const char *branch)
{
	mz_err err = {0};
	char *hash = git_ls_remote(url, branch, &err);
	if (!hash) {
		mz_warn("pollers: %s", err.msg);
		return;
	}
	char *key = mz_asprintf("poll:git:%s#%s", url, branch ? branch : "");
	char *seen = NULL;
	mz_err kerr = {0};
	mz_kv_get(st, key, &seen, &kerr);
	if (!seen) {
		mz_info("pollers: git %s %s: first seen at %s (recorded, nothing started)", url,
		        branch ? branch : "HEAD", hash);
		if (commit_event(p, st, key, hash, NULL, NULL, &err) != MZ_OK)
			mz_warn("pollers: git cursor: %s", err.msg);
	} else if (strcmp(seen, hash) != 0) {
		json_t *e = json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}}", "details", "type",
		                      "git", "source", "git", "content", "url", url, "branch",
		                      branch ? branch : "", "hash", hash, "previousHash", seen,
		                      "action", "push:push");
		char *id = mz_asprintf("git:%s#%s:%s", url, branch ? branch : "", hash);
		if (strlen(id) > 120) { /* event ids are bounded: hash the long ones */
			unsigned char d[32];
			char hex[65];
			mz_sha256(id, strlen(id), d);
			mz_hex(d, 32, hex);
			free(id);
			id = mz_asprintf("git:%s:%s", hex, hash);
		}
		mz_info("pollers: git %s %s: new commit %s", url, branch ? branch : "HEAD", hash);
		if (commit_event(p, st, key, hash, e, id, &err) != MZ_OK)
			mz_warn("pollers: git event: %s", err.msg);
		free(id);
		json_decref(e);
	}
	free(seen);
	free(key);
	free(hash);
}

/* The baseline of a polled git trigger is the branch head when the
 * pipeline is saved: were it taken at the first poll (up to an interval
 * later), a commit pushed in between would be the baseline and never start
 * the pipeline. A target some other pipeline already polls keeps its
 * cursor. git runs before the transaction, never inside it. */
void
mz_pollers_git_baseline(mz_store *st, const json_t *cfg)
{
	if (!st || mz_json_bool(cfg, "disabled", false))
		return;
	size_t i;
	json_t *t;
	json_t *one = json_pack("[O]", cfg);
	json_t *views = mz_template_trigger_views(st, one); /* a template's triggers too */
	json_decref(one);
	json_array_foreach(json_object_get(json_array_get(views, 0), "triggers"), i, t) {
		const char *url = mz_json_str(t, "url");
		const char *branch = mz_json_str(t, "branch");
		if (!mz_json_bool(t, "enabled", false) || !mz_strcaseeq(mz_json_str(t, "type"), "git") ||
		    !mz_strcaseeq(mz_json_str(t, "source"), "git") || !url)
			continue;
		char *key = mz_asprintf("poll:git:%s#%s", url, branch ? branch : "");
		char *seen = NULL;
		mz_err err = {0};
		mz_kv_get(st, key, &seen, &err);
		char *hash = seen ? NULL : git_ls_remote(url, branch, &err);
		if (!seen && !hash)
			mz_warn("pollers: git %s: no baseline when pipeline %s was saved (the first poll "
			        "takes it): %s", url, mz_json_str(cfg, "id"), err.msg);
		if (hash && mz_store_begin(st, &err) == MZ_OK) {
			free(seen);
			seen = NULL;
			mz_code rc = mz_kv_get(st, key, &seen, &err);
			bool put = rc == MZ_ENOTFOUND;
			if (put)
				rc = mz_kv_put(st, key, hash, &err);
			if (rc != MZ_OK)
				mz_store_rollback(st);
			else if (mz_store_commit(st, &err) == MZ_OK && put)
				mz_info("pollers: git %s %s: baseline %s taken as pipeline %s was saved", url,
				        branch ? branch : "HEAD", hash, mz_json_str(cfg, "id"));
		}
		free(hash);
		free(seen);
		free(key);
	}
	json_decref(views);
}

/* ---- docker registry ------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
poll_docker(mz_pollers *p, mz_store *st, const char *account, const char *registry,
            const char *repository)
{
	mz_err err = {0};
	char *base = strstr(registry, "://") ? mz_strdup(registry)
	                                      : mz_asprintf("http://%s", registry);
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		base[--bl] = '\0';
	const char *host = strstr(base, "://") + 3;
	char *url = mz_asprintf("%s/v2/%s/tags/list", base, repository);
	long status;
	json_t *body = mz_httpc_get_json(url, HTTP_TIMEOUT_MS, &status, &err);
	if (!body) {
		mz_warn("pollers: docker: %s", err.msg);
		free(url);
		free(base);
		return;
	}
	json_t *tags = json_object_get(body, "tags");
	size_t nt = json_array_size(tags);
	const char **list = calloc(nt + 1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; i < nt; i++)
		if (json_is_string(json_array_get(tags, i)))
			list[n++] = json_string_value(json_array_get(tags, i));
	qsort(list, n, sizeof(char *), cmp_str);

	char *key = mz_asprintf("poll:docker:%s|%s|%s", account ? account : "", host, repository);
	char *seen_text = NULL;
	mz_kv_get(st, key, &seen_text, &err);
	json_t *seen = seen_text ? mz_json_parse(seen_text, strlen(seen_text), NULL) : NULL;
	json_t *now_seen = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(now_seen, json_string(list[i]));
	char *now_text = mz_json_dump(now_seen);
	if (!json_is_array(seen)) {
		mz_info("pollers: docker %s/%s: %zu tags recorded (nothing started)", host, repository,
		        n);
		if (commit_event(p, st, key, now_text, NULL, NULL, &err) != MZ_OK)
			mz_warn("pollers: docker cursor: %s", err.msg);
	} else {
		/* One event per new tag, each with the cursor that includes it. */
		json_t *cursor = json_deep_copy(seen);
		for (size_t i = 0; i < n; i++) {
			bool known = false;
			size_t j;
			json_t *s;
			json_array_foreach(cursor, j, s) {
				if (mz_streq(json_string_value(s), list[i]))
					known = true;
			}
			if (known)
				continue;
			json_array_append_new(cursor, json_string(list[i]));
			char *ctext = mz_json_dump(cursor);
			json_t *e = json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:n}}", "details",
			                      "type", "docker", "source", "igor", "content", "account",
			                      account ? account : host, "registry", host, "repository",
			                      repository, "tag", list[i], "digest");
			char *id = mz_asprintf("docker:%s/%s:%s", host, repository, list[i]);
			mz_info("pollers: docker %s/%s: new tag %s", host, repository, list[i]);
			if (commit_event(p, st, key, ctext, e, id, &err) != MZ_OK)
				mz_warn("pollers: docker event: %s", err.msg);
			free(id);
			free(ctext);
			json_decref(e);
		}
		json_decref(cursor);
	}
	free(now_text);
	json_decref(now_seen);
	json_decref(seen);
	free(seen_text);
	free(key);
	free(list);
	json_decref(body);
	free(url);
	free(base);
}

/* ---- jenkins -------------------------------------------------------------- */

char *
mz__jenkins_job_path(const char *job)
{
	mz_buf b;
	mz_buf_init(&b, 4096);
	mz_buf_adds(&b, "/job/");
	for (const char *q = job; *q; q++) {
		if (*q == '/')
			mz_buf_adds(&b, "/job/");
		else if (isalnum((unsigned char)*q) || strchr("-_.~", *q))
			mz_buf_add(&b, q, 1);
		else
			mz_buf_printf(&b, "%%%02X", (unsigned char)*q);
	}
	return mz_buf_detach(&b, NULL);
}

/* Java .properties (key=value or key: value; # and ! comments). */
json_t *
mz__parse_properties(const char *text)
{
	json_t *out = json_object();
	char *copy = mz_strdup(text ? text : "");
	char *save = NULL;
	for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#' || *line == '!')
			continue;
		size_t k = strcspn(line, "=:");
		char *val = line[k] ? line + k + 1 : line + k;
		size_t kl = k;
		while (kl && isspace((unsigned char)line[kl - 1]))
			kl--;
		line[kl] = '\0';
		while (isspace((unsigned char)*val))
			val++;
		size_t vl = strlen(val);
		while (vl && isspace((unsigned char)val[vl - 1]))
			val[--vl] = '\0';
		if (*line)
			json_object_set_new(out, line, json_string(val));
	}
	free(copy);
	return out;
}

json_t *
mz__jenkins_properties(const char *base, const char *job_path, json_int_t number,
                       const char *file, long timeout_ms)
{
	char *url = mz_asprintf("%s%s/%lld/artifact/%s", base, job_path, (long long)number,
	                        file ? file : "");
	const char *headers[] = {"Accept: */*", NULL};
	mz_httpc_req rq = {.url = url, .headers = headers, .timeout_ms = timeout_ms};
	mz_httpc_resp rs;
	mz_err err = {0};
	json_t *props = NULL;
	size_t fl = file ? strlen(file) : 0;
	if (mz_httpc_do(&rq, &rs, &err) == MZ_OK && rs.status == 200)
		props = fl > 5 && strcmp(file + fl - 5, ".json") == 0
		        ? mz_json_parse(rs.body.data, rs.body.len, NULL)
		        : mz__parse_properties(rs.body.data);
	else
		mz_warn("pollers: jenkins property file %s: %s", url,
		        err.msg[0] ? err.msg : "not found");
	mz_httpc_resp_release(&rs);
	free(url);
	return props;
}

static int
cmp_build(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "number"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "number"));
	return x < y ? -1 : x > y;
}

static void
poll_jenkins(mz_pollers *p, mz_store *st, const char *master, const char *job,
             const char *property_file)
{
	mz_err err = {0};
	char *base = mz_jenkins_master_url(p->jenkins_masters, master);
	if (!base) {
		mz_warn("pollers: jenkins master '%s' has no address (config jenkins.masters or "
		        "MZ_JENKINS_<NAME>_URL)", master);
		return;
	}
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		base[--bl] = '\0';
	char *job_path = mz__jenkins_job_path(job);
	char *url = mz_asprintf("%s%s/api/json?tree=builds%%5Bnumber,result,building,timestamp,"
	                        "duration,url%%5D", base, job_path);
	long status;
	json_t *body = mz_httpc_get_json(url, HTTP_TIMEOUT_MS, &status, &err);
	if (!body) {
		mz_warn("pollers: jenkins: %s", err.msg);
		goto out;
	}
	json_t *builds = json_object_get(body, "builds");
	size_t nb = json_array_size(builds);
	json_t **sorted = calloc(nb + 1, sizeof(json_t *));
	size_t n = 0;
	for (size_t i = 0; i < nb; i++)
		if (json_is_integer(json_object_get(json_array_get(builds, i), "number")))
			sorted[n++] = json_array_get(builds, i);
	qsort(sorted, n, sizeof(json_t *), cmp_build);

	char *key = mz_asprintf("poll:jenkins:%s:%s", master, job);
	char *seen = NULL;
	mz_kv_get(st, key, &seen, &err);
	if (!seen) {
		/* First sight: the cursor stops before the oldest running build. */
		json_int_t cursor = 0;
		for (size_t i = 0; i < n; i++) {
			if (mz_json_bool(sorted[i], "building", false))
				break;
			cursor = json_integer_value(json_object_get(sorted[i], "number"));
		}
		char *c = mz_asprintf("%lld", (long long)cursor);
		mz_info("pollers: jenkins %s %s: first seen, cursor at build %s (nothing started)",
		        master, job, c);
		if (commit_event(p, st, key, c, NULL, NULL, &err) != MZ_OK)
			mz_warn("pollers: jenkins cursor: %s", err.msg);
		free(c);
	} else {
		json_int_t cursor = strtoll(seen, NULL, 10);
		for (size_t i = 0; i < n; i++) {
			json_int_t num = json_integer_value(json_object_get(sorted[i], "number"));
			if (num <= cursor)
				continue;
			if (mz_json_bool(sorted[i], "building", false))
				break; /* in order: wait for it */
			json_t *build = json_deep_copy(sorted[i]);
			if (property_file && *property_file) {
				json_t *props = mz__jenkins_properties(base, job_path, num, property_file,
				                                       HTTP_TIMEOUT_MS);
				if (props)
					json_object_set_new(build, "properties", props);
			}
			json_t *e = json_pack("{s:{s:s, s:s}, s:{s:s, s:{s:s, s:o}}}", "details", "type",
			                      "build", "source", "igor", "content", "master", master,
			                      "project", "name", job, "lastBuild", build);
			char *id = mz_asprintf("build:%s:%s:%lld", master, job, (long long)num);
			char *c = mz_asprintf("%lld", (long long)num);
			mz_info("pollers: jenkins %s %s: build %lld completed (%s)", master, job,
			        (long long)num, mz_json_str(sorted[i], "result"));
			if (commit_event(p, st, key, c, e, id, &err) != MZ_OK) {
				mz_warn("pollers: jenkins event: %s", err.msg);
				i = n; /* retry next poll */
			}
			cursor = num;
			free(c);
			free(id);
			json_decref(e);
		}
	}
	free(seen);
	free(key);
	free(sorted);
	json_decref(body);
out:
	free(url);
	free(job_path);
	free(base);
}

/* ---- the poller thread ------------------------------------------------------ */

static void
poll_all(mz_pollers *p, mz_store *st)
{
	json_t *cfgs = NULL;
	mz_err err = {0};
	if (mz_pipeline_list(st, NULL, &cfgs, &err) != MZ_OK) {
		mz_warn("pollers: cannot list pipelines: %s", err.msg);
		return;
	}
	json_t *views = mz_template_trigger_views(st, cfgs); /* a template's triggers too */
	json_decref(cfgs);
	cfgs = views;
	json_t *done = json_object(); /* targets polled this round */
	size_t i, j;
	json_t *cfg, *t;
	json_array_foreach(cfgs, i, cfg) {
		if (mz_json_bool(cfg, "disabled", false))
			continue;
		json_array_foreach(json_object_get(cfg, "triggers"), j, t) {
			if (!mz_json_bool(t, "enabled", false))
				continue;
			const char *type = mz_json_str(t, "type");
			char *target = NULL;
			if (mz_strcaseeq(type, "git") && mz_strcaseeq(mz_json_str(t, "source"), "git") &&
			    mz_json_str(t, "url")) {
				target = mz_asprintf("git|%s|%s", mz_json_str(t, "url"),
				                     mz_json_str(t, "branch") ? mz_json_str(t, "branch") : "");
				if (!json_object_get(done, target))
					poll_git(p, st, mz_json_str(t, "url"), mz_json_str(t, "branch"));
			} else if (mz_strcaseeq(type, "docker") && mz_json_str(t, "repository")) {
				const char *account = mz_json_str(t, "account");
				const char *registry = mz_json_str(t, "registry");
				const char *addr = account_address(p->docker_accounts, account);
				if (addr && *addr)
					registry = addr;
				if (!registry || !*registry)
					continue;
				target = mz_asprintf("docker|%s|%s|%s", account ? account : "", registry,
				                     mz_json_str(t, "repository"));
				if (!json_object_get(done, target))
					poll_docker(p, st, account, registry, mz_json_str(t, "repository"));
			} else if (mz_strcaseeq(type, "jenkins") && mz_json_str(t, "master") &&
			           mz_json_str(t, "job")) {
				target = mz_asprintf("jenkins|%s|%s", mz_json_str(t, "master"),
				                     mz_json_str(t, "job"));
				if (!json_object_get(done, target))
					poll_jenkins(p, st, mz_json_str(t, "master"), mz_json_str(t, "job"),
					             mz_json_str(t, "propertyFile"));
			}
			if (target)
				json_object_set_new(done, target, json_true());
			free(target);
		}
	}
	json_decref(done);
	json_decref(cfgs);
}

static void *
poller_main(void *arg)
{
	mz_pollers *p = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	for (;;) {
		if (!st && mz_store_open(p->db_url, &st, &err) != MZ_OK) {
			mz_error("pollers: cannot open the store: %s", err.msg);
			st = NULL;
		}
		/* While the store cannot be written (a full disk, a database
		 * locked by someone else) no cursor could move: polling waits,
		 * and says so once every 30 s. One node of a cluster polls (the
		 * lease outlives two intervals, so a live holder keeps it and a
		 * dead one's passes on). Events have deterministic ids: even a
		 * second poller's would be kept once. */
		char why[300];
		long held = 0;
		if (st && !mz_store_probe(st, why, sizeof(why))) {
			if (mz_log_allow(&p->store_log, 30000, &held))
				mz_warn("pollers: the store cannot be written (%s): polling paused", why);
		} else if (st && mz_engine_lease(p->engine, st, "pollers", 2 * p->interval_ms + 5000)) {
			poll_all(p, st);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (p->interval_ms % 1000) * 1000000L;
		ts.tv_sec += p->interval_ms / 1000 + ns / 1000000000L;
		ts.tv_nsec = ns % 1000000000L;
		pthread_mutex_lock(&p->lock);
		while (!p->stopping)
			if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
				break;
		bool stop = p->stopping;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
	}
	mz_store_close(st);
	return NULL;
}

mz_code
mz_pollers_start(const mz_pollers_config *cfg, mz_pollers **out, mz_err *err)
{
	mz_pollers *p = calloc(1, sizeof(*p));
	if (!p)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	p->db_url = mz_strdup(cfg->db_url);
	p->events = cfg->events;
	p->engine = cfg->engine;
	p->interval_ms = cfg->interval_ms;
	if (p->interval_ms <= 0) {
		const char *env = getenv("MZ_POLL_INTERVAL_MS");
		p->interval_ms = env && *env ? strtoll(env, NULL, 10) : 30000;
		if (p->interval_ms < 50)
			p->interval_ms = 50;
	}
	p->docker_accounts = cfg->docker_accounts ? json_deep_copy(cfg->docker_accounts)
	                                          : json_array();
	p->jenkins_masters = cfg->jenkins_masters ? json_deep_copy(cfg->jenkins_masters)
	                                          : json_array();
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pthread_create(&p->thread, NULL, poller_main, p) != 0) {
		mz_pollers_stop(p);
		return mz_fail(err, MZ_EIO, "cannot start the poller thread");
	}
	p->have_thread = true;
	*out = p;
	return MZ_OK;
}

void
mz_pollers_stop(mz_pollers *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->have_thread)
		pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	json_decref(p->docker_accounts);
	json_decref(p->jenkins_masters);
	free(p->db_url);
	free(p);
}
