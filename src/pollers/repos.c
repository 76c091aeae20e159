/* repos.c - pipelines from git (DESIGN.md "pipelines from git"): every
 * `*.json` under `path` of `branch` of each configured repository
 * ("pipelineRepos": [{"url", "branch", "path"}]) is a pipeline config.
 *
 * One thread keeps a bare mirror of each repository under
 * DATA/pipeline-repos/, fetches it every poll interval (or at once when
 * woken by a push webhook), and applies each new commit of the branch in
 * order, in one store transaction per commit: a file added or changed
 * saves its config (one history version, which records the commit in
 * "managedBy"), a file removed deletes it. A file that is not a valid
 * config is reported (the log, and GET /pipelineRepos: file, commit,
 * message) and the config keeps its previous version. The first look at a
 * repository applies its head only, not its whole history.
 *
 * Configs from git carry Spinnaker's "locked" (the UI does not offer to
 * edit them) and "managedBy": {"type": "git", "url", "branch", "file",
 * "commit"}; the API refuses saves and deletes of them with 409.
 *
 * State per repository (kv "pipelineRepo:<url>#<branch>#<path>"):
 * {"commit", "files": {file: {"blob", "id"}}, "errors": {file: {...}},
 * "error", "lastSync"}.
 *
 * git runs through src/proc in the sandbox, with the server's uid (a local
 * repository may be readable only by it), the mirror writable, a local
 * repository visible read-only. Mirrors of repositories no longer
 * configured are removed when the server starts. */
#include "pollers/pollers_int.h"

#include "proc/proc.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REPO_GIT_TIMEOUT_MS 60000
#define REPO_MAX_COMMITS 200   /* applied per sync; the rest on the next one */

struct mz_repos {
	char *db_url;
	char *data_dir;
	json_t *repos;
	int64_t interval_ms;
	pthread_t thread;
	bool have_thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	bool woken;
};

/* ---- git through src/proc ------------------------------------------------ */

typedef struct git_ctx {
	const char *mirror;   /* the bare mirror (GIT_DIR) */
	char *local_repo;     /* a local repository's real path, or NULL */
} git_ctx;

/* Runs git with args in the mirror; output captured into out (NUL-
 * terminated). Returns true on exit status 0; else err says why. */
static bool
git(const git_ctx *g, const char *const *args, mz_buf *out, mz_err *err)
{
	const char *argv[16];
	int n = 0;
	argv[n++] = "git";
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char *gd = mz_asprintf("GIT_DIR=%s", g->mirror);
	const char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp",
	                     "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false", "LANG=C.UTF-8",
	                     gd, NULL};
	const char *const rw[] = {g->mirror, NULL};
	const char *const ro[] = {g->local_repo, NULL};
	mz_sandbox box = {.writable = rw, .readonly = g->local_repo ? ro : NULL,
	                  .keep_uid = true, .die_with_parent = true};
	mz_proc p = {.argv = argv, .env = env, .cwd = g->mirror, .capture = true,
	             .sandbox = &box, .timeout_ms = REPO_GIT_TIMEOUT_MS};
	mz_buf_reset(out);
	int code = mz_proc_run(&p, out, err);
	free(gd);
	if (code == 0)
		return true;
	if (code > 0) {
		char tail[300];
		snprintf(tail, sizeof(tail), "%.280s", out->data ? out->data : "");
		mz_fail(err, MZ_EIO, "git %s failed (status %d): %s", args[0], code, tail);
	}
	return false;
}

static void
rstrip(mz_buf *b)
{
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
		b->data[--b->len] = '\0';
}

/* ---- applying one commit ------------------------------------------------- */

static bool
wanted(const char *file, const char *path)
{
	size_t n = strlen(file);
	if (n < 5 || strcmp(file + n - 5, ".json") != 0)
		return false;
	size_t pl = strlen(path);
	while (pl && path[pl - 1] == '/')
		pl--;
	if (!pl)
		return true;
	return strncmp(file, path, pl) == 0 && file[pl] == '/';
}

/* {file: blob} of the *.json files under path at commit. */
static json_t *
list_files(const git_ctx *g, const char *commit, const char *path, mz_buf *out, mz_err *err)
{
	const char *args[] = {"ls-tree", "-r", "-z", commit, NULL};
	if (!git(g, args, out, err))
		return NULL;
	json_t *files = json_object();
	size_t i = 0;
	while (i < out->len) {
		const char *rec = out->data + i;
		size_t len = strlen(rec);
		i += len + 1;
		/* "<mode> <type> <object>\t<name>" */
		const char *tab = strchr(rec, '\t');
		if (!tab || strncmp(strchr(rec, ' ') ? strchr(rec, ' ') + 1 : "", "blob ", 5) != 0)
			continue;
		const char *obj = strchr(rec, ' ') + 6;
		if (tab - obj != 40 && tab - obj != 64)
			continue;
		if (wanted(tab + 1, path))
			json_object_set_new(files, tab + 1, json_stringn(obj, (size_t)(tab - obj)));
	}
	return files;
}

/* The config in blob, checked; NULL with msg set when invalid. */
static json_t *
read_config(const git_ctx *g, mz_store *st, const char *blob, mz_buf *out, char *msg,
            size_t cap)
{
	mz_err err = {0};
	const char *args[] = {"cat-file", "blob", blob, NULL};
	if (!git(g, args, out, &err)) {
		snprintf(msg, cap, "%s", err.msg);
		return NULL;
	}
	json_t *cfg = mz_json_parse(out->data ? out->data : "", out->len, &err);
	if (!cfg) {
		snprintf(msg, cap, "not JSON: %.400s", err.msg);
		return NULL;
	}
	mz_code rc;
	if (!json_is_object(cfg)) {
		rc = mz_fail(&err, MZ_EINVAL, "a pipeline config must be a JSON object");
	} else if (mz_template_is_v2_config(cfg)) {
		json_t *r = NULL;
		rc = mz_template_render(st, cfg, &r, &err);
		json_decref(r);
	} else {
		rc = mz_pipeline_validate(cfg, &err);
	}
	if (rc != MZ_OK) {
		snprintf(msg, cap, "%s", err.msg);
		json_decref(cfg);
		return NULL;
	}
	return cfg;
}

/* A stable id for a file of a repository when the file gives none. */
static char *
derived_id(const json_t *repo, const char *file)
{
	mz_sha256_ctx c;
	mz_sha256_init(&c);
	const char *parts[] = {mz_json_str(repo, "url"), "#", mz_json_str(repo, "branch"), "#",
	                       file};
	for (int i = 0; i < 5; i++)
		mz_sha256_update(&c, parts[i] ? parts[i] : "", strlen(parts[i] ? parts[i] : ""));
	char hex[65];
	mz_sha256_hex(&c, hex);
	return mz_asprintf("git-%.32s", hex);
}

static void
set_error(json_t *state, const char *file, const char *commit, const char *msg)
{
	json_t *errors = json_object_get(state, "errors");
	if (!json_is_object(errors)) {
		errors = json_object();
		json_object_set_new(state, "errors", errors);
	}
	json_object_set_new(errors, file, json_pack("{s:s, s:s, s:s}", "file", file, "commit",
	                                            commit, "message", msg));
}

/* Applies the files of commit to the store and to state (in st's open
 * transaction); the configs it saves are appended to saved. */
static mz_code
apply_commit(const git_ctx *g, mz_store *st, const json_t *repo, json_t *state,
             const char *commit, json_t *saved, mz_buf *out, mz_err *err)
{
	const char *path = mz_json_str(repo, "path") ? mz_json_str(repo, "path") : "";
	json_t *now = list_files(g, commit, path, out, err);
	if (!now)
		return MZ_EIO;
	json_t *known = json_object_get(state, "files");
	if (!json_is_object(known)) {
		known = json_object();
		json_object_set_new(state, "files", known);
	}
	mz_code rc = MZ_OK;
	const char *file;
	json_t *blob;
	json_object_foreach(now, file, blob) {
		json_t *prev = json_object_get(known, file);
		if (prev && mz_streq(mz_json_str(prev, "blob"), json_string_value(blob)))
			continue; /* unchanged in this commit: no new version */
		char msg[512] = "";
		json_t *cfg = read_config(g, st, json_string_value(blob), out, msg, sizeof(msg));
		/* id is kept in own_id: prev is replaced below */
		char *own_id = prev && mz_json_str(prev, "id") ? mz_strdup(mz_json_str(prev, "id"))
		                                               : NULL;
		const char *id = own_id;
		if (cfg && !id && mz_json_str(cfg, "id"))
			id = own_id = mz_strdup(mz_json_str(cfg, "id")); /* outlives cfg */
		if (cfg && !id)
			id = own_id = derived_id(repo, file);
		if (cfg) {
			/* a config of that name that git does not manage is not taken over */
			json_t *dup = NULL;
			mz_err derr = {0};
			if (mz_pipeline_find_name_ci(st, mz_json_str(cfg, "application"),
			                             mz_json_str(cfg, "name"), &dup, &derr) == MZ_OK &&
			    dup && !mz_streq(mz_json_str(dup, "id"), id)) {
				snprintf(msg, sizeof(msg), "a pipeline named '%s' already exists in "
				         "application %s and is not managed by this repository",
				         mz_json_str(cfg, "name"), mz_json_str(cfg, "application"));
				json_decref(cfg);
				cfg = NULL;
			}
			json_decref(dup);
		}
		if (!cfg) {
			mz_warn("pipelineRepos: %s %s at %.12s: %s (the previous version stays)",
			        mz_json_str(repo, "url"), file, commit, msg);
			set_error(state, file, commit, msg);
			free(own_id);
			continue;
		}
		json_object_set_new(cfg, "id", json_string(id));
		char *desc = mz_asprintf("Managed in git: %s (%s) %s", mz_json_str(repo, "url"),
		                         mz_json_str(repo, "branch"), file);
		json_object_set_new(cfg, "locked", json_pack("{s:b, s:b, s:s}", "ui", 1,
		                                             "allowUnlockUi", 0, "description", desc));
		free(desc);
		json_object_set_new(cfg, "managedBy", json_pack(
			"{s:s, s:s?, s:s?, s:s, s:s}", "type", "git", "url", mz_json_str(repo, "url"),
			"branch", mz_json_str(repo, "branch"), "file", file, "commit", commit));
		json_object_set_new(cfg, "lastModifiedBy", json_string("git"));
		json_object_set_new(cfg, "updateTs", json_sprintf("%lld", (long long)mz_now_ms()));
		if (prev && !mz_streq(mz_json_str(prev, "id"), id)) {
			rc = mz_pipeline_delete(st, mz_json_str(prev, "id"), err);
			if (rc == MZ_ENOTFOUND)
				rc = MZ_OK;
		}
		if (rc == MZ_OK)
			rc = mz_pipeline_put(st, cfg, err);
		if (rc == MZ_OK)
			json_array_append(saved, cfg);
		json_decref(cfg);
		if (rc != MZ_OK) {
			free(own_id);
			break;
		}
		json_object_set_new(known, file, json_pack("{s:O, s:s}", "blob", blob, "id", id));
		json_object_del(json_object_get(state, "errors"), file);
		mz_info("pipelineRepos: %s %s at %.12s saved as %s", mz_json_str(repo, "url"), file,
		        commit, id);
		free(own_id);
	}
	/* files gone in this commit: their configs go */
	void *tmp;
	json_t *v;
	json_object_foreach_safe(known, tmp, file, v) {
		if (rc != MZ_OK || json_object_get(now, file))
			continue;
		rc = mz_pipeline_delete(st, mz_json_str(v, "id"), err);
		if (rc == MZ_ENOTFOUND)
			rc = MZ_OK;
		if (rc == MZ_OK) {
			mz_info("pipelineRepos: %s %s removed at %.12s: config %s deleted",
			        mz_json_str(repo, "url"), file, commit, mz_json_str(v, "id"));
			json_object_del(json_object_get(state, "errors"), file);
			json_object_del(known, file);
		}
	}
	/* an invalid file that is gone is no longer an error */
	json_object_foreach_safe(json_object_get(state, "errors"), tmp, file, v) {
		if (!json_object_get(now, file))
			json_object_del(json_object_get(state, "errors"), file);
	}
	json_object_set_new(state, "commit", json_string(commit));
	json_decref(now);
	return rc;
}

/* ---- one repository ------------------------------------------------------- */

char *
mz_repos_state_key(const json_t *repo)
{
	return mz_asprintf("pipelineRepo:%s#%s#%s", mz_json_str(repo, "url"),
	                   mz_json_str(repo, "branch") ? mz_json_str(repo, "branch") : "master",
	                   mz_json_str(repo, "path") ? mz_json_str(repo, "path") : "");
}

static json_t *
load_state(mz_store *st, const char *key)
{
	char *text = NULL;
	mz_err err = {0};
	json_t *s = NULL;
	if (mz_kv_get(st, key, &text, &err) == MZ_OK && text)
		s = mz_json_parse(text, strlen(text), &err);
	free(text);
	if (!json_is_object(s)) {
		json_decref(s);
		s = json_object();
	}
	return s;
}

static mz_code
save_state(mz_store *st, const char *key, json_t *state, mz_err *err)
{
	json_object_set_new(state, "lastSync", json_integer(mz_now_ms()));
	char *text = mz_json_dump(state);
	mz_code rc = mz_kv_put(st, key, text, err);
	free(text);
	return rc;
}

/* Records a repository-level failure (fetch, git) in its state. */
static void
record_failure(mz_store *st, const char *key, const char *msg)
{
	mz_err err = {0};
	if (mz_store_begin(st, &err) != MZ_OK)
		return;
	json_t *state = load_state(st, key);
	json_object_set_new(state, "error", json_string(msg));
	if (save_state(st, key, state, &err) == MZ_OK)
		mz_store_commit(st, &err);
	else
		mz_store_rollback(st);
	json_decref(state);
}

/* The bare mirror of the repository whose state key is key. */
static char *
mirror_path(const char *data_dir, const char *key)
{
	mz_sha256_ctx c;
	mz_sha256_init(&c);
	mz_sha256_update(&c, key, strlen(key));
	char hex[65];
	mz_sha256_hex(&c, hex);
	return mz_asprintf("%s/pipeline-repos/%.24s.git", data_dir, hex);
}

static int
remove_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Mirrors of repositories no longer configured are removed at start (the
 * configuration is read only then): nothing else would ever delete them.
 * Only names the mirrors are made with (24 hex digits, ".git") go. */
static void
prune_mirrors(const char *data_dir, const json_t *repos)
{
	char *dir = mz_asprintf("%s/pipeline-repos", data_dir);
	DIR *d = opendir(dir);
	if (!d) {
		free(dir);
		return;
	}
	json_t *keep = json_object();
	size_t i;
	json_t *r;
	json_array_foreach(repos, i, r) {
		char *key = mz_repos_state_key(r);
		char *m = mirror_path(data_dir, key);
		json_object_set_new(keep, strrchr(m, '/') + 1, json_true());
		free(m);
		free(key);
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n != 28 || strcmp(e->d_name + 24, ".git") != 0 ||
		    strspn(e->d_name, "0123456789abcdef") != 24 || json_object_get(keep, e->d_name))
			continue;
		char *path = mz_asprintf("%s/%s", dir, e->d_name);
		if (nftw(path, remove_cb, 16, FTW_DEPTH | FTW_PHYS) == 0)
			mz_info("pipelineRepos: removed %s, the mirror of a repository no longer "
			        "configured", path);
		else
			mz_warn("pipelineRepos: cannot remove %s: %s", path, strerror(errno));
		free(path);
	}
	closedir(d);
	json_decref(keep);
	free(dir);
}

static void
sync_repo(mz_repos *rp, mz_store *st, const json_t *repo)
{
	const char *url = mz_json_str(repo, "url");
	const char *branch = mz_json_str(repo, "branch") ? mz_json_str(repo, "branch") : "master";
	if (!url || !*url || url[0] == '-' || branch[0] == '-' || strchr(branch, ':'))
		return;
	char *key = mz_repos_state_key(repo);
	char *mirror = mirror_path(rp->data_dir, key);
	git_ctx g = {.mirror = mirror};
	const char *local = strncmp(url, "file://", 7) == 0 ? url + 7 : url[0] == '/' ? url : NULL;
	if (local)
		g.local_repo = realpath(local, NULL);
	mz_buf out;
	mz_buf_init(&out, 64u << 20);
	mz_err err = {0};
	json_t *commits = NULL, *state = NULL;
	struct stat sb;
	if (stat(mirror, &sb) != 0) {
		if (mz_mkdirs(mirror, 0700) != 0) {
			mz_fail(&err, MZ_EIO, "cannot create %s: %s", mirror, strerror(errno));
			goto fail;
		}
		const char *init[] = {"init", "--bare", "--quiet", ".", NULL};
		if (!git(&g, init, &out, &err))
			goto fail;
	}
	char *spec = mz_asprintf("+refs/heads/%s:refs/heads/%s", branch, branch);
	const char *fetch[] = {"fetch", "--quiet", "--no-tags", "--", url, spec, NULL};
	bool fetched = git(&g, fetch, &out, &err);
	free(spec);
	if (!fetched)
		goto fail;
	char *ref = mz_asprintf("refs/heads/%s", branch);
	const char *rev[] = {"rev-parse", "--verify", ref, NULL};
	bool have = git(&g, rev, &out, &err);
	free(ref);
	if (!have)
		goto fail;
	rstrip(&out);
	char *head = mz_strdup(out.data);
	state = load_state(st, key);
	const char *last = mz_json_str(state, "commit");
	if (mz_streq(last, head) && !mz_json_str(state, "error")) {
		free(head);
		goto done;
	}
	/* the commits to apply, oldest first: those since the last one applied
	 * (first parents: the branch's own history), or the head alone */
	commits = json_array();
	if (last && !mz_streq(last, head)) {
		char *range = mz_asprintf("%s..%s", last, head);
		const char *rl[] = {"rev-list", "--reverse", "--first-parent", range, NULL};
		bool ok = git(&g, rl, &out, &err);
		free(range);
		if (ok) {
			char *save = NULL;
			for (char *l = strtok_r(out.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
				if (json_array_size(commits) < REPO_MAX_COMMITS)
					json_array_append_new(commits, json_string(l));
		}
		/* the last one is not an ancestor (a force push): apply the head */
	}
	if (!json_array_size(commits) && !mz_streq(last, head))
		json_array_append_new(commits, json_string(head));
	free(head);
	json_object_del(state, "error");
	size_t i;
	json_t *cv;
	json_array_foreach(commits, i, cv) {
		if (mz_store_begin(st, &err) != MZ_OK)
			goto fail;
		json_t *next = json_deep_copy(state), *saved = json_array();
		mz_code rc = apply_commit(&g, st, repo, next, json_string_value(cv), saved, &out,
		                          &err);
		if (rc == MZ_OK)
			rc = save_state(st, key, next, &err);
		if (rc == MZ_OK)
			rc = mz_store_commit(st, &err);
		if (rc != MZ_OK) {
			mz_store_rollback(st);
			json_decref(next);
			json_decref(saved);
			goto fail;
		}
		/* As after an API save: the polled git triggers of what this commit
		 * saved take their baseline now, so a commit pushed to their
		 * repository from here on starts them (git runs after the commit,
		 * outside any transaction). */
		size_t k;
		json_t *cfg;
		json_array_foreach(saved, k, cfg)
			mz_pollers_git_baseline(st, cfg);
		json_decref(saved);
		json_decref(state);
		state = next;
	}
	if (!json_array_size(commits)) {
		/* only a stale error to clear */
		if (mz_store_begin(st, &err) == MZ_OK) {
			if (save_state(st, key, state, &err) == MZ_OK)
				mz_store_commit(st, &err);
			else
				mz_store_rollback(st);
		}
	}
	goto done;
fail:
	mz_warn("pipelineRepos: %s (%s): %s", url, branch, err.msg);
	record_failure(st, key, err.msg);
done:
	json_decref(commits);
	json_decref(state);
	mz_buf_release(&out);
	free(g.local_repo);
	free(mirror);
	free(key);
}

/* ---- the thread ----------------------------------------------------------- */

static void *
repos_main(void *arg)
{
	mz_repos *rp = arg;
	mz_store *st = NULL;
	mz_err err = {0};
	for (;;) {
		if (!st && mz_store_open(rp->db_url, &st, &err) != MZ_OK) {
			mz_error("pipelineRepos: cannot open the store: %s", err.msg);
			st = NULL;
		}
		size_t i;
		json_t *repo;
		if (st)
			json_array_foreach(rp->repos, i, repo) {
				sync_repo(rp, st, repo);
			}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (rp->interval_ms % 1000) * 1000000L;
		ts.tv_sec += rp->interval_ms / 1000 + ns / 1000000000L;
		ts.tv_nsec = ns % 1000000000L;
		pthread_mutex_lock(&rp->lock);
		while (!rp->stopping && !rp->woken)
			if (pthread_cond_timedwait(&rp->cond, &rp->lock, &ts) == ETIMEDOUT)
				break;
		rp->woken = false;
		bool stop = rp->stopping;
		pthread_mutex_unlock(&rp->lock);
		if (stop)
			break;
	}
	mz_store_close(st);
	return NULL;
}

mz_code
mz_repos_start(const mz_repos_config *cfg, mz_repos **out, mz_err *err)
{
	*out = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(cfg->repos, i, r) {
		if (!mz_json_str(r, "url") || !*mz_json_str(r, "url"))
			return mz_fail(err, MZ_EINVAL, "pipelineRepos[%zu] needs a 'url'", i);
		const char *b = mz_json_str(r, "branch");
		if ((b && (b[0] == '-' || strchr(b, ':'))) || mz_json_str(r, "url")[0] == '-')
			return mz_fail(err, MZ_EINVAL, "pipelineRepos[%zu]: a url or branch may not "
			               "start with '-' (nor a branch hold ':')", i);
	}
	if (cfg->data_dir)
		prune_mirrors(cfg->data_dir, cfg->repos);
	if (!json_array_size(cfg->repos))
		return MZ_OK; /* nothing to keep in sync: no thread */
	mz_repos *rp = calloc(1, sizeof(*rp));
	if (!rp)
		return mz_fail(err, MZ_ENOMEM, "out of memory");
	rp->db_url = mz_strdup(cfg->db_url);
	rp->data_dir = mz_strdup(cfg->data_dir);
	rp->repos = json_deep_copy(cfg->repos);
	rp->interval_ms = cfg->interval_ms;
	if (rp->interval_ms <= 0) {
		const char *env = getenv("MZ_POLL_INTERVAL_MS");
		rp->interval_ms = env && *env ? strtoll(env, NULL, 10) : 30000;
	}
	if (rp->interval_ms < 50)
		rp->interval_ms = 50;
	pthread_mutex_init(&rp->lock, NULL);
	pthread_cond_init(&rp->cond, NULL);
	if (pthread_create(&rp->thread, NULL, repos_main, rp) != 0) {
		mz_repos_stop(rp);
		return mz_fail(err, MZ_EIO, "cannot start the pipeline repository thread");
	}
	rp->have_thread = true;
	*out = rp;
	return MZ_OK;
}

void
mz_repos_wake(mz_repos *rp)
{
	if (!rp)
		return;
	pthread_mutex_lock(&rp->lock);
	rp->woken = true;
	pthread_cond_broadcast(&rp->cond);
	pthread_mutex_unlock(&rp->lock);
}

void
mz_repos_stop(mz_repos *rp)
{
	if (!rp)
		return;
	pthread_mutex_lock(&rp->lock);
	rp->stopping = true;
	pthread_cond_broadcast(&rp->cond);
	pthread_mutex_unlock(&rp->lock);
	if (rp->have_thread)
		pthread_join(rp->thread, NULL);
	pthread_mutex_destroy(&rp->lock);
	pthread_cond_destroy(&rp->cond);
	json_decref(rp->repos);
	free(rp->db_url);
	free(rp->data_dir);
	free(rp);
}
