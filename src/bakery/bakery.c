/*
 * bakery.c - bakes (see bakery.h).
 *
 * A bake is a record <data>/bakery/bakes/<bakeId>.json: the request (the
 * package source resolved by createBake, base image, command, manifest
 * settings, region, rebake) and its state {status RUNNING|SUCCEEDED|
 * TERMINAL, imageId, previouslyBaked, bakeKey, startTime, endTime, error}.
 * createBake writes the request and starts a bakery thread; monitorBake
 * reads the state (and starts the thread again when the record says
 * RUNNING but no thread of this process has it: a restart); completedBake
 * turns it into deploymentDetails.
 *
 * The work of a bake, on its thread: hash the package (the bake key), look
 * the key up in cache/ (a hit whose image still exists ends the bake as
 * previouslyBaked unless rebake), else assemble work/<bakeId>/root (base
 * image files, then the package: a .tar.gz extracted, a directory copied,
 * a file placed at the top), run the bake command in bubblewrap with only
 * that directory writable, and import it into the image store.
 */
#include "bakery/bakery.h"
#include "bakery/bakery_int.h"

#include "cloud/cloud.h"
#include "cloud/local/local.h"
#include "engine/artifacts.h"
#include "engine/engine.h"
#include "engine/engine_int.h"
#include "proc/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BAKE_POLL_MS 200
#define ORCA_BAKE "com.netflix.spinnaker.orca.bakery.tasks."

struct mz_bakery {
	char *root;      /* <data>/bakery */
	json_t *package_roots; /* realpaths under which a package path may lie */
	mz_local *lp;
	mz_cloud *cloud;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	json_t *running; /* bakeId -> pgid of its command (0 when none) */
	int threads;
	bool stopping;
};

static mz_bakery *g_bk;

/* ---- files ------------------------------------------------------------------------ */

static char *
bake_path(const char *id)
{
	return mz_asprintf("%s/bakes/%s.json", g_bk->root, id);
}

static const char *const helper_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};

/* Runs argv (no shell; sb NULL: a helper on the host such as cp or tar)
 * with stdout/stderr appended to log after a "$ argv" line, in its own
 * process group, which the running entry of bake_id records so that stop
 * can kill it; the group is killed after timeout_s. Returns the exit code
 * (124 on timeout, -1 when it cannot start). */
static int
run_cmd(const char *const argv[], const char *const envp[], const char *cwd,
        const mz_sandbox *sb, const char *log, int64_t timeout_s, const char *bake_id)
{
	mz_buf b;
	mz_buf_init(&b, 0);
	mz_buf_adds(&b, "$");
	for (int i = 0; argv[i]; i++) {
		mz_buf_adds(&b, " ");
		mz_buf_adds(&b, argv[i]);
	}
	mz_buf_adds(&b, "\n");
	char *header = mz_buf_detach(&b, NULL);
	mz_proc p = {.argv = argv, .env = envp ? envp : helper_env, .cwd = cwd, .log_path = log,
	             .log_header = header, .sandbox = sb, .timeout_ms = (int)(timeout_s * 1000),
	             .limits = {.no_core = true}};
	mz_err err = {0};
	int code = -1;
	if (mz_proc_start(&p, &err) != MZ_OK) {
		mz_warn("bakery: %s", err.msg);
		free(header);
		return -1;
	}
	if (bake_id) {
		pthread_mutex_lock(&g_bk->mu);
		if (json_object_get(g_bk->running, bake_id))
			json_object_set_new(g_bk->running, bake_id, json_integer(p.pid));
		pthread_mutex_unlock(&g_bk->mu);
	}
	code = mz_proc_wait(&p, NULL);
	if (bake_id) {
		pthread_mutex_lock(&g_bk->mu);
		if (json_object_get(g_bk->running, bake_id))
			json_object_set_new(g_bk->running, bake_id, json_integer(0));
		pthread_mutex_unlock(&g_bk->mu);
	}
	free(header);
	return code;
}

static bool
is_gzip(const char *path)
{
	unsigned char m[2] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = read(fd, m, 2) == 2 && m[0] == 0x1f && m[1] == 0x8b;
	close(fd);
	return ok;
}

/* Hash material of a directory tree: one line per entry (path, mode, the
 * SHA-256 of a file or a link's target), sorted by path. */
static FILE *g_keyf;
static size_t g_prefix;

static int
key_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)f;
	const char *rel = p + g_prefix;
	if (flag == FTW_F && S_ISREG(sb->st_mode)) { /* never open a FIFO or a device */
		char hex[65] = "";
		mz_sha256_file(p, hex, NULL, NULL);
		fprintf(g_keyf, "%s %o %s\n", rel, (unsigned)sb->st_mode, hex);
	} else if (flag == FTW_SL) {
		char t[4096];
		ssize_t n = readlink(p, t, sizeof(t) - 1);
		t[n > 0 ? n : 0] = '\0';
		fprintf(g_keyf, "%s link %s\n", rel, t);
	} else {
		fprintf(g_keyf, "%s %o\n", rel, (unsigned)sb->st_mode);
	}
	return 0;
}

static pthread_mutex_t g_key_mu = PTHREAD_MUTEX_INITIALIZER;

/* The content hash of a package (file or directory). */
static bool
package_hash(const char *path, const char *work, char hex[65])
{
	struct stat st;
	if (stat(path, &st) != 0)
		return false;
	if (!S_ISDIR(st.st_mode))
		return mz_sha256_file(path, hex, NULL, NULL) == MZ_OK;
	char *list = mz_asprintf("%s/tree.txt", work);
	char *sorted = mz_asprintf("%s/tree.sorted", work);
	pthread_mutex_lock(&g_key_mu);
	g_keyf = fopen(list, "we");
	g_prefix = strlen(path);
	if (g_keyf) {
		nftw(path, key_cb, 16, FTW_PHYS);
		fclose(g_keyf);
	}
	g_keyf = NULL;
	pthread_mutex_unlock(&g_key_mu);
	const char *const argv[] = {"sort", "-o", sorted, list, NULL};
	char *log = mz_asprintf("%s/log", work);
	int rc = run_cmd(argv, NULL, NULL, NULL, log, 300, NULL);
	bool ok = rc == 0 && mz_sha256_file(sorted, hex, NULL, NULL) == MZ_OK;
	free(log);
	free(list);
	free(sorted);
	return ok;
}

/* ---- the bake itself (bakery thread) -------------------------------------------------- */

static void
set_state(json_t *rec, const char *status, const char *error)
{
	json_object_set_new(rec, "status", json_string(status));
	if (error)
		json_object_set_new(rec, "error", json_string(error));
	json_object_set_new(rec, "endTime", json_integer(mz_now_ms()));
}

static void
do_bake(const char *bake_id)
{
	char *bpath = bake_path(bake_id);
	json_t *rec = mz_json_read_file(bpath);
	json_t *req = json_object_get(rec, "request");
	char *work = mz_asprintf("%s/work/%s", g_bk->root, bake_id);
	char *stage = mz_asprintf("%s/root", work);
	char *log = mz_asprintf("%s/log", work);
	char *keyfile = mz_asprintf("%s/key.txt", work);
	char *pkgdir = mz_asprintf("%s/pkg", work);
	char *pkgfile = NULL;
	char msg[1024] = "";
	char pkg_hex[65] = "", key_hex[65] = "";
	const char *region = mz_json_str(req, "region");
	const char *base = mz_json_str(req, "baseImage");
	json_t *base_rec = NULL;
	if (!rec)
		goto out_free;
	mz_proc_rm_rf(work);
	mz_mkdirs(stage, 0755);
	json_object_set_new(rec, "bakeStartTime", json_integer(mz_now_ms()));
	json_object_set_new(rec, "logPath", json_string(log));

	/* the package's content */
	const char *src_path = mz_json_str(req, "packagePath");
	json_t *art = json_object_get(req, "packageArtifact");
	if (!src_path && art) {
		const char *type = mz_json_str(art, "type");
		if (mz_streq(type, "mizzen/file")) {
			/* built on another node: read from the store the nodes share */
			mz_err e = {0};
			pkgfile = mz_artifacts_path_any(mz_json_str(art, "reference"), &e);
			if (!pkgfile) {
				snprintf(msg, sizeof(msg), "package artifact %s (%s) is not in the artifact "
				         "store: %s", mz_json_str(art, "name"), mz_json_str(art, "reference"),
				         e.msg);
				goto fail;
			}
		} else {
			mz_err e = {0};
			pkgfile = mz_asprintf("%s/package", work);
			if (mz_artifact_fetch(art, pkgfile, &e) != MZ_OK) {
				snprintf(msg, sizeof(msg), "cannot fetch package artifact %s: %s",
				         mz_json_str(art, "name"), e.msg);
				goto fail;
			}
		}
		src_path = pkgfile;
	}
	/* the package's files in work/pkg: a directory copied, a .tar.gz
	 * extracted, a file placed at the top; their tree (names, modes and
	 * contents, not times) is the package's identity */
	struct stat pst;
	if (!src_path || stat(src_path, &pst) != 0) {
		snprintf(msg, sizeof(msg), "cannot read the package %s", src_path ? src_path : "(none)");
		goto fail;
	}
	mz_mkdirs(pkgdir, 0755);
	{
		/* the package is untrusted (a build's output): it is unpacked in
		 * the sandbox, seeing only itself and the directory it fills */
		const char *const ro[] = {src_path, NULL};
		const char *const rw[] = {pkgdir, NULL};
		mz_sandbox box = {.readonly = ro, .writable = rw, .die_with_parent = true};
		int rc;
		if (S_ISDIR(pst.st_mode)) {
			char *from = mz_asprintf("%s/.", src_path);
			const char *const argv[] = {"cp", "-a", "--no-preserve=ownership", from, pkgdir,
			                            NULL};
			rc = run_cmd(argv, NULL, pkgdir, &box, log, 600, bake_id);
			free(from);
		} else if (is_gzip(src_path)) {
			const char *const argv[] = {"tar", "-xzf", src_path, "-C", pkgdir,
			                            "--no-same-owner", NULL};
			rc = run_cmd(argv, NULL, pkgdir, &box, log, 600, bake_id);
		} else {
			const char *nm = mz_json_str(req, "packageFileName");
			const char *slash = strrchr(src_path, '/');
			char *to = mz_asprintf("%s/%s", pkgdir, nm ? nm : slash ? slash + 1 : src_path);
			const char *const argv[] = {"cp", "--", src_path, to, NULL};
			rc = run_cmd(argv, NULL, pkgdir, &box, log, 600, bake_id);
			free(to);
		}
		if (rc != 0) {
			char *t = mz_proc_log_tail(log, 400);
			snprintf(msg, sizeof(msg), "cannot unpack the package: %s", t);
			free(t);
			goto fail;
		}
	}
	if (!package_hash(pkgdir, work, pkg_hex)) {
		snprintf(msg, sizeof(msg), "cannot hash the package %s", src_path);
		goto fail;
	}
	if (base) {
		base_rec = mz_local_image(g_bk->lp, base);
		if (!base_rec) {
			snprintf(msg, sizeof(msg), "base image %s was not found", base);
			goto fail;
		}
	}
	/* the bake key: package content + base + command + manifest settings */
	{
		json_t *k = json_pack("{s:s, s:s?, s:O?, s:O?, s:O?, s:O?, s:O?, s:s?, s:s?}",
		                      "package", pkg_hex, "base", base, "command",
		                      json_object_get(req, "command"), "startCommand",
		                      json_object_get(req, "startCommand"), "healthCheck",
		                      json_object_get(req, "healthCheck"), "env",
		                      json_object_get(req, "env"), "extendedAttributes",
		                      json_object_get(req, "extendedAttributes"), "packageName",
		                      mz_json_str(req, "packageName"), "version",
		                      mz_json_str(req, "packageVersion"));
		char *s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
		FILE *f = fopen(keyfile, "we");
		if (f) {
			fputs(s, f);
			fclose(f);
		}
		free(s);
		json_decref(k);
		mz_sha256_file(keyfile, key_hex, NULL, NULL);
	}
	json_object_set_new(rec, "bakeKey", json_string(key_hex));
	char *cpath = mz_asprintf("%s/cache/%s-%s.json", g_bk->root, key_hex, region ? region : "-");
	if (!mz_json_bool(req, "rebake", false)) {
		json_t *hit = mz_json_read_file(cpath);
		json_t *img = hit ? mz_local_image(g_bk->lp, mz_json_str(hit, "imageId")) : NULL;
		if (img) {
			json_object_set_new(rec, "imageId", json_string(mz_json_str(hit, "imageId")));
			json_object_set_new(rec, "previouslyBaked", json_true());
			json_object_set_new(rec, "bakeEndTime", json_integer(mz_now_ms()));
			set_state(rec, "SUCCEEDED", NULL);
			mz_info("bakery: %s reuses image %s (bake key %.16s)", bake_id,
			        mz_json_str(hit, "imageId"), key_hex);
			json_decref(img);
			json_decref(hit);
			free(cpath);
			goto done;
		}
		json_decref(img);
		json_decref(hit);
	}
	/* assemble: base layer, then the package */
	if (base_rec) {
		char *from = mz_asprintf("%s/.", mz_json_str(base_rec, "path"));
		const char *const argv[] = {"cp", "-a", from, stage, NULL};
		int rc = run_cmd(argv, NULL, NULL, NULL, log, 600, bake_id);
		free(from);
		if (rc != 0) {
			snprintf(msg, sizeof(msg), "cannot copy base image %s", base);
			free(cpath);
			goto fail;
		}
	}
	{
		int rc;
		if (!base_rec) {
			rmdir(stage);
			rc = rename(pkgdir, stage) == 0 ? 0 : 1;
		} else {
			char *from = mz_asprintf("%s/.", pkgdir);
			const char *const argv[] = {"cp", "-a", from, stage, NULL};
			rc = run_cmd(argv, NULL, NULL, NULL, log, 600, bake_id);
			free(from);
		}
		if (rc != 0) {
			snprintf(msg, sizeof(msg), "cannot assemble the image in %s", stage);
			free(cpath);
			goto fail;
		}
	}
	/* the bake command, sandboxed, with the image directory writable */
	json_t *cmd = json_object_get(req, "command");
	if (json_array_size(cmd) > 0) {
		char *real = realpath(stage, NULL);
		bool boxed = !json_is_false(json_object_get(req, "sandbox"));
		size_t n = json_array_size(cmd), k = 0;
		const char **argv = calloc(n + 1, sizeof(char *));
		size_t i;
		json_t *v;
		json_array_foreach(cmd, i, v)
			argv[k++] = json_string_value(v) ? json_string_value(v) : "";
		char *image_dir = mz_asprintf("IMAGE_DIR=%s", real);
		char *home = mz_asprintf("HOME=%s", real);
		const char *const envp[] = {
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"LANG=C.UTF-8", image_dir, home, NULL};
		const char *const rw[] = {real, NULL};
		mz_sandbox box = {.writable = rw, .die_with_parent = true};
		int rc = -1;
		if (!boxed && !mz_proc_unsandboxed_allowed())
			snprintf(msg, sizeof(msg), "%s", MZ_PROC_UNSANDBOXED_REFUSED);
		else
			rc = run_cmd(argv, envp, real, boxed ? &box : NULL, log,
			             mz_json_int(req, "timeoutSeconds", 600), bake_id);
		free(argv);
		free(image_dir);
		free(home);
		free(real);
		if (rc != 0 && *msg) {
			free(cpath);
			goto fail;
		}
		if (rc != 0) {
			char *t = mz_proc_log_tail(log, 600);
			snprintf(msg, sizeof(msg), "the bake command %s (exit code %d); log tail:\n%s",
			         rc == 124 ? "timed out" : "failed", rc, t);
			free(t);
			free(cpath);
			goto fail;
		}
	}
	/* the manifest, also stored in the image (so it is part of the id) */
	{
		json_t *man = json_pack("{s:s?, s:s?, s:s?}", "name", mz_json_str(req, "packageName"),
		                        "version", mz_json_str(req, "packageVersion"), "imageName",
		                        mz_json_str(req, "imageName"));
		json_t *sc = json_object_get(req, "startCommand");
		json_t *bman = json_object_get(base_rec, "manifest");
		if (!json_is_array(sc))
			sc = json_object_get(bman, "command");
		if (json_is_array(sc))
			json_object_set(man, "command", sc);
		json_t *hc = json_object_get(req, "healthCheck");
		if (!json_is_object(hc))
			hc = json_object_get(bman, "healthCheck");
		if (json_is_object(hc))
			json_object_set(man, "healthCheck", hc);
		json_t *env = json_object_get(req, "env");
		if (!json_is_object(env))
			env = json_object_get(bman, "env");
		if (json_is_object(env))
			json_object_set(man, "env", env);
		json_object_set_new(man, "package",
		                    json_pack("{s:s?, s:s?, s:s}", "name", mz_json_str(req, "packageName"),
		                              "version", mz_json_str(req, "packageVersion"), "sha256",
		                              pkg_hex));
		json_object_set_new(man, "base", base ? json_string(base) : json_null());
		json_object_set_new(man, "bakeKey", json_string(key_hex));
		if (mz_json_bool(req, "rebake", false)) /* a rebake makes a new image */
			json_object_set_new(man, "bakedAt", json_integer(mz_now_ms()));
		char *mf = mz_asprintf("%s/.mizzen-image.json", stage);
		char *s = mz_json_dump(man);
		FILE *f = fopen(mf, "we");
		if (f) {
			fputs(s, f);
			fclose(f);
		}
		free(s);
		free(mf);
		char image_id[80];
		mz_err e = {0};
		mz_code rc = mz_local_image_import(g_bk->lp, stage, man, image_id, &e);
		if (rc == MZ_OK) /* several nodes: for the others hosting this region */
			mz_cloud_image_share(g_bk->cloud, image_id, stage, man);
		json_decref(man);
		if (rc != MZ_OK) {
			snprintf(msg, sizeof(msg), "cannot store the image: %s", e.msg);
			free(cpath);
			goto fail;
		}
		json_object_set_new(rec, "imageId", json_string(image_id));
		json_object_set_new(rec, "previouslyBaked", json_false());
		json_object_set_new(rec, "bakeEndTime", json_integer(mz_now_ms()));
		json_t *c = json_pack("{s:s, s:s, s:s?, s:I}", "imageId", image_id, "bakeKey", key_hex,
		                      "region", region, "createdTime", (json_int_t)mz_now_ms());
		mz_json_write_file(cpath, c, JSON_COMPACT);
		json_decref(c);
		set_state(rec, "SUCCEEDED", NULL);
		mz_info("bakery: %s baked image %s in %s (bake key %.16s)", bake_id, image_id,
		        region ? region : "-", key_hex);
	}
	free(cpath);
	goto done;
fail:
	set_state(rec, "TERMINAL", msg);
	mz_warn("bakery: %s failed: %s", bake_id, msg);
done:
	mz_json_write_file(bpath, rec, JSON_COMPACT);
	mz_proc_rm_rf(work);
out_free:
	json_decref(rec);
	json_decref(base_rec);
	free(bpath);
	free(work);
	free(stage);
	free(log);
	free(keyfile);
	free(pkgdir);
	free(pkgfile);
}

static void *
bake_thread(void *arg)
{
	char *id = arg;
	do_bake(id);
	pthread_mutex_lock(&g_bk->mu);
	json_object_del(g_bk->running, id);
	g_bk->threads--;
	pthread_cond_broadcast(&g_bk->cv);
	pthread_mutex_unlock(&g_bk->mu);
	free(id);
	return NULL;
}

/* Starts the bake's thread unless one runs it already. */
static bool
start_thread(const char *bake_id)
{
	pthread_mutex_lock(&g_bk->mu);
	if (g_bk->stopping || json_object_get(g_bk->running, bake_id)) {
		pthread_mutex_unlock(&g_bk->mu);
		return !g_bk->stopping;
	}
	json_object_set_new(g_bk->running, bake_id, json_integer(0));
	g_bk->threads++;
	pthread_mutex_unlock(&g_bk->mu);
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	char *arg = mz_strdup(bake_id);
	if (pthread_create(&t, &at, bake_thread, arg) != 0) {
		pthread_mutex_lock(&g_bk->mu);
		json_object_del(g_bk->running, bake_id);
		g_bk->threads--;
		pthread_mutex_unlock(&g_bk->mu);
		free(arg);
		pthread_attr_destroy(&at);
		return false;
	}
	pthread_attr_destroy(&at);
	return true;
}

/* ---- tasks ----------------------------------------------------------------------------- */

/* A package given as a path must lie under one of bakery.packageRoots:
 * otherwise a pipeline could bake any file of the server's host (its
 * database, its keys) into an image. must_exist: resolve links (at run);
 * at save the path may not exist yet and is judged by its text. */
static bool
package_path_allowed(const char *pkg, bool must_exist)
{
	return mz_path_within(pkg, g_bk ? g_bk->package_roots : NULL, must_exist);
}

#define PACKAGE_REFUSED_FMT                                                                 \
	"package '%s' is a path outside bakery.packageRoots: bake an artifact, or list a "        \
	"directory that holds it in bakery.packageRoots in the config (no path is accepted "    \
	"while the list is empty)"

static void
create_bake_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	if (!g_bk) {
		mz_task_result_set(r, "TERMINAL", "the bakery is not running on this server");
		return;
	}
	const char *cpt = mz_json_str(ctx, "cloudProviderType");
	if (!cpt)
		cpt = mz_json_str(ctx, "cloudProvider");
	if (cpt && !mz_streq(cpt, "local")) {
		mz_task_result_set(r, "TERMINAL", "bake: cloudProviderType '%s' is not supported here "
		                   "(only 'local')", cpt);
		return;
	}
	char bake_id[128];
	mz_id_from_key("b", c->idempotency_key, bake_id);
	char *bpath = bake_path(bake_id);
	json_t *rec = mz_json_read_file(bpath);
	if (rec)
		goto started; /* replay */
	json_t *req = json_object();
	const char *pkg = mz_json_str(ctx, "package");
	json_t *art = NULL;
	json_t *pa = json_object_get(ctx, "packageArtifact");
	if (json_is_object(pa))
		art = pa;
	if (!art && json_is_array(json_object_get(ctx, "packageArtifactIds"))) {
		art = mz_artifact_find(c->execution, c->stage,
		                       json_string_value(json_array_get(
		                               json_object_get(ctx, "packageArtifactIds"), 0)));
	}
	if (!art && pkg)
		art = mz_artifact_find(c->execution, c->stage, pkg);
	const char *pname = mz_json_str(ctx, "packageName");
	const char *pver = mz_json_str(ctx, "packageVersion");
	if (art) {
		json_object_set(req, "packageArtifact", art);
		if (!pname)
			pname = mz_json_str(art, "name");
		if (!pver)
			pver = mz_json_str(art, "version");
		const char *path = mz_json_str(json_object_get(art, "metadata"), "path");
		if (path) {
			const char *sl = strrchr(path, '/');
			json_object_set_new(req, "packageFileName", json_string(sl ? sl + 1 : path));
		}
	} else if (pkg && pkg[0] == '/' && !package_path_allowed(pkg, true)) {
		mz_task_result_set(r, "TERMINAL", "bake: " PACKAGE_REFUSED_FMT, pkg);
		json_decref(req);
		free(bpath);
		return;
	} else if (pkg && pkg[0] == '/' && access(pkg, R_OK) == 0) {
		json_object_set_new(req, "packagePath", json_string(pkg));
		if (!pname) {
			const char *sl = strrchr(pkg, '/');
			pname = sl && sl[1] ? sl + 1 : pkg;
		}
	} else {
		mz_task_result_set(r, "TERMINAL", "bake: package '%s' is neither an artifact of this "
		                   "execution nor a readable absolute path", pkg ? pkg : "(none)");
		json_decref(req);
		free(bpath);
		return;
	}
	const char *region = mz_json_str(ctx, "region");
	char *iname = mz_asprintf("%s-%s", pname ? pname : "image", pver && *pver ? pver : "latest");
	json_object_set_new(req, "packageName", json_string(pname ? pname : "image"));
	if (pver)
		json_object_set_new(req, "packageVersion", json_string(pver));
	json_object_set_new(req, "imageName", json_string(iname));
	free(iname);
	static const char *const copy[] = {"baseImage", "command", "startCommand", "healthCheck",
	                                   "env", "extendedAttributes", "timeoutSeconds",
	                                   "sandbox", NULL};
	for (int i = 0; copy[i]; i++) {
		json_t *v = json_object_get(ctx, copy[i]);
		if (v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v)))
			json_object_set(req, copy[i], v);
	}
	json_t *cmd = json_object_get(req, "command");
	if (cmd && !json_is_array(cmd)) {
		mz_task_result_set(r, "TERMINAL", "bake: 'command' must be a list of strings (argv)");
		json_decref(req);
		free(bpath);
		return;
	}
	if (region)
		json_object_set_new(req, "region", json_string(region));
	bool rebake = mz_json_bool(ctx, "rebake", false) ||
	              mz_json_bool(json_object_get(c->execution, "trigger"), "rebake", false);
	json_object_set_new(req, "rebake", json_boolean(rebake));
	rec = json_pack("{s:s, s:s, s:o, s:I, s:s?}", "id", bake_id, "status", "RUNNING", "request",
	                req, "startTime", (json_int_t)mz_now_ms(), "executionId",
	                mz_json_str(c->execution, "id"));
	if (mz_json_write_file(bpath, rec, JSON_COMPACT) != 0) {
		mz_task_result_set(r, "TERMINAL", "bake: cannot record the bake in %s", bpath);
		goto out;
	}
started:
	if (mz_streq(mz_json_str(rec, "status"), "RUNNING") && !start_thread(bake_id)) {
		mz_task_result_set(r, "TERMINAL", "bake: cannot start the bake (server stopping)");
		goto out;
	}
	{
		json_t *rc = mz_task_result_context(r);
		json_object_set_new(rc, "bakeId", json_string(bake_id));
		json_object_set_new(rc, "status",
		                    json_pack("{s:s, s:s}", "id", bake_id, "state", "RUNNING"));
		mz_task_result_set(r, "SUCCEEDED", NULL);
	}
out:
	json_decref(rec);
	free(bpath);
}

static void
monitor_bake_task(mz_task_ctx *c, mz_task_result *r)
{
	const char *id = mz_json_str(json_object_get(c->stage, "context"), "bakeId");
	if (!g_bk || !mz_id_valid(id)) {
		mz_task_result_set(r, "TERMINAL", "no bake was started for this stage");
		return;
	}
	char *bpath = bake_path(id);
	json_t *rec = mz_json_read_file(bpath);
	free(bpath);
	const char *st = mz_json_str(rec, "status");
	if (!rec) {
		mz_task_result_set(r, "TERMINAL", "bake %s is unknown", id);
	} else if (mz_streq(st, "RUNNING")) {
		start_thread(id); /* after a restart nobody runs it: start it again */
		r->backoff_ms = BAKE_POLL_MS;
		mz_task_result_set(r, "RUNNING", NULL);
	} else if (mz_streq(st, "SUCCEEDED")) {
		json_t *rc = mz_task_result_context(r);
		const char *img = mz_json_str(rec, "imageId");
		json_object_set_new(rc, "status", json_pack("{s:s, s:s, s:s}", "id", id, "state",
		                                            "COMPLETED", "result", "SUCCESS"));
		json_object_set_new(rc, "imageId", json_string(img));
		json_object_set_new(rc, "ami", json_string(img));
		json_object_set_new(rc, "imageName",
		                    json_string(mz_json_str(json_object_get(rec, "request"), "imageName")));
		json_object_set_new(rc, "previouslyBaked",
		                    json_boolean(mz_json_bool(rec, "previouslyBaked", false)));
		json_object_set_new(rc, "bakeKey", json_string(mz_json_str(rec, "bakeKey")));
		json_object_set_new(rc, "bakeStartTime",
		                    json_integer(mz_json_int(rec, "bakeStartTime", 0)));
		json_object_set_new(rc, "bakeEndTime", json_integer(mz_json_int(rec, "bakeEndTime", 0)));
		mz_task_result_set(r, "SUCCEEDED", NULL);
	} else {
		json_object_set_new(mz_task_result_context(r), "status",
		                    json_pack("{s:s, s:s, s:s}", "id", id, "state", "COMPLETED",
		                              "result", "FAILURE"));
		mz_task_result_set(r, "TERMINAL", "Bake %s failed: %s", id,
		                   mz_json_str(rec, "error") ? mz_json_str(rec, "error") : "unknown");
	}
	json_decref(rec);
}

static json_t *
details_of(const json_t *ctx, const json_t *exec)
{
	const char *img = mz_json_str(ctx, "imageId");
	return json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:s, s:O?, s:b, s:s?}",
	                 "region", mz_json_str(ctx, "region"), "imageId", img, "ami", img,
	                 "imageName", mz_json_str(ctx, "imageName"), "package",
	                 mz_json_str(ctx, "package"), "cloudProvider", "local", "cloudProviderType",
	                 "local", "baseImage", json_object_get(ctx, "baseImage"), "previouslyBaked",
	                 mz_json_bool(ctx, "previouslyBaked", false), "bakeKey",
	                 mz_json_str(ctx, "bakeKey"));
	(void)exec;
}

static void
completed_bake_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *ctx = json_object_get(c->stage, "context");
	json_t *outs = mz_task_result_outputs(r);
	json_t *d = details_of(ctx, c->execution);
	json_object_set_new(outs, "deploymentDetails", json_pack("[o]", d));
	json_object_set_new(outs, "imageId", json_string(mz_json_str(ctx, "imageId")));
	json_object_set_new(outs, "previouslyBaked",
	                    json_boolean(mz_json_bool(ctx, "previouslyBaked", false)));
	mz_task_result_set(r, "SUCCEEDED", NULL);
}

/* Orca's CompleteParallelBakeTask: the regions' details on the parent. */
static void
complete_parallel_task(mz_task_ctx *c, mz_task_result *r)
{
	json_t *kids = mz__children(c->execution, c->stage, "STAGE_BEFORE");
	json_t *details = json_array();
	bool all_prev = json_array_size(kids) > 0;
	size_t i;
	json_t *k;
	json_array_foreach(kids, i, k) {
		json_t *dd = json_object_get(json_object_get(k, "outputs"), "deploymentDetails");
		json_array_extend(details, dd);
		if (!mz_json_bool(json_object_get(k, "context"), "previouslyBaked", false))
			all_prev = false;
	}
	json_decref(kids);
	json_t *outs = mz_task_result_outputs(r);
	json_object_set_new(outs, "deploymentDetails", details);
	json_object_set_new(mz_task_result_context(r), "previouslyBaked", json_boolean(all_prev));
	mz_task_result_set(r, "SUCCEEDED", NULL);
}

/* ---- stages ---------------------------------------------------------------------------- */

static mz_code
bake_plan(mz_plan *p, mz_err *err)
{
	json_t *st = mz_plan_stage(p);
	json_t *ctx = json_object_get(st, "context");
	(void)err;
	if (mz_json_str(st, "parentStageId") && mz_json_str(ctx, "region") &&
	    mz_json_bool(ctx, "_regionBake", false)) {
		mz_plan_task(p, "createBake");
		mz_plan_task(p, "monitorBake");
		mz_plan_task(p, "completedBake");
		return MZ_OK;
	}
	json_t *regions = json_object_get(ctx, "regions");
	json_t *list = json_array();
	size_t i;
	json_t *reg;
	json_array_foreach(regions, i, reg) {
		if (json_is_string(reg))
			json_array_append(list, reg);
	}
	if (json_array_size(list) == 0)
		json_array_append_new(list, json_string(mz_json_str(ctx, "region") ?
		                                        mz_json_str(ctx, "region") : "local"));
	json_array_foreach(list, i, reg) {
		json_t *c = json_deep_copy(ctx);
		json_object_del(c, "regions");
		json_object_set(c, "region", reg);
		json_object_set_new(c, "_regionBake", json_true());
		json_object_set_new(c, "type", json_string("bake"));
		char *name = mz_asprintf("Bake in %s", json_string_value(reg));
		mz_plan_before(p, "bake", name, c, false);
		free(name);
	}
	json_decref(list);
	mz_plan_task(p, "completeParallel");
	return MZ_OK;
}

static const mz_task_def bake_tasks[] = {
	/* a bake for a region runs on a node hosting it, so the image is in
	 * the image store of the node that deploys it; its thread and record
	 * are that node's (engine_route.c) */
	{.name = "createBake", .impl_class = ORCA_BAKE "CreateBakeTask", .execute = create_bake_task,
	 .flags = MZ_TASK_EXTERNAL | MZ_TASK_ON_NODE | MZ_TASK_IN_REGION},
	{.name = "monitorBake", .impl_class = ORCA_BAKE "MonitorBakeTask",
	 .execute = monitor_bake_task, .backoff_ms = BAKE_POLL_MS,
	 .flags = MZ_TASK_EXTERNAL | MZ_TASK_ON_NODE | MZ_TASK_IN_REGION},
	{.name = "completedBake", .impl_class = ORCA_BAKE "CompletedBakeTask",
	 .execute = completed_bake_task},
	{.name = "completeParallel",
	 .impl_class = "com.netflix.spinnaker.orca.bakery.pipeline.BakeStage$CompleteParallelBakeTask",
	 .execute = complete_parallel_task},
};

/* At save and at run: the sandbox policy and packageRoots. A package that
 * is an expression or an artifact name is judged when the bake runs. */
static mz_code
bake_validate(const json_t *stage, mz_err *err)
{
	mz_code rc = mz_proc_check_stage_sandbox(stage, err);
	const char *pkg = mz_json_str(stage, "package");
	if (rc == MZ_OK && pkg && pkg[0] == '/' && !strstr(pkg, "${") &&
	    !package_path_allowed(pkg, false))
		rc = mz_fail(err, MZ_EINVAL, "stage '%s': " PACKAGE_REFUSED_FMT,
		             mz_json_str(stage, "name") ? mz_json_str(stage, "name") : "bake", pkg);
	return rc;
}

static const mz_stage_def bake_stages[] = {
	{.type = "bake", .plan = bake_plan, .validate = bake_validate},
};

/* ---- lifecycle ------------------------------------------------------------------------- */

mz_code
mz_bakery_start(const mz_bakery_config *cfg, mz_bakery **out, mz_err *err)
{
	mz_local *lp = mz_cloud_local(cfg->cloud);
	if (!lp)
		return mz_fail(err, MZ_EINVAL, "the bakery needs the local cloud");
	mz_bakery *b = calloc(1, sizeof(*b));
	b->root = mz_asprintf("%s/bakery", cfg->data_dir);
	b->package_roots = mz_path_roots(cfg->package_roots, "bakery.packageRoots");
	mz_proc_sandbox_hide(cfg->data_dir);
	b->lp = lp;
	b->cloud = cfg->cloud;
	b->running = json_object();
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	static const char *const subs[] = {"bakes", "cache", "work", NULL};
	for (int i = 0; subs[i]; i++) {
		char *d = mz_asprintf("%s/%s", b->root, subs[i]);
		if (mz_mkdirs(d, 0755) != 0) {
			mz_code rc = mz_fail(err, MZ_EIO, "cannot create %s: %s", d, strerror(errno));
			free(d);
			mz_bakery_stop(b);
			return rc;
		}
		free(d);
	}
	if (!mz_artifacts_root())
		mz_artifacts_init(cfg->data_dir, NULL);
	g_bk = b;
	*out = b;
	return MZ_OK;
}

/* ---- retention ---------------------------------------------------------------------------- */

/* The names of the *.json files of <root>/<sub>, without ".json". */
static json_t *
json_files(const char *sub)
{
	json_t *out = json_array();
	char *dir = mz_asprintf("%s/%s", g_bk->root, sub);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] != '.' && len > 5 && strcmp(e->d_name + len - 5, ".json") == 0)
			json_array_append_new(out, json_stringn(e->d_name, len - 5));
	}
	if (d)
		closedir(d);
	free(dir);
	return out;
}

/* Bakes and images (Rosco's and Clouddriver's halves of an image's life):
 * a bake record goes once its execution is gone; the images a running
 * execution baked (or bakes on) are protected, as are those a server group
 * uses; of the others each package keeps its newest
 * retention.imagesPerPackage; a bake-cache entry whose image is gone goes
 * too (a later identical bake makes the image again). */
static void
prune_bakes(const mz_prune_ctx *pc, void *udata)
{
	mz_bakery *b = udata;
	json_t *ids = json_files("bakes"), *recs = json_array(), *execs = json_array();
	json_t *protect = json_object(), *present = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		char *p = bake_path(json_string_value(v));
		json_t *rec = mz_json_read_file(p);
		free(p);
		if (!rec)
			continue;
		json_object_set(rec, "_file", v);
		if (mz_json_str(rec, "executionId"))
			json_array_append_new(execs, json_string(mz_json_str(rec, "executionId")));
		json_array_append_new(recs, rec);
	}
	mz_err err = {0};
	if (json_array_size(execs) &&
	    mz_retention_exec_statuses(pc->st, execs, &present, &err) != MZ_OK) {
		mz_warn("retention: bakes: %s", err.msg);
		goto out;
	}
	int bakes = 0;
	json_t *rec;
	json_array_foreach(recs, i, rec) {
		const char *exec = mz_json_str(rec, "executionId");
		const char *status = exec ? mz_json_str(present, exec) : NULL;
		bool running = mz_streq(mz_json_str(rec, "status"), "RUNNING");
		if (running && exec && !status) {
			/* left RUNNING by a stop, and its execution is gone: no
			 * monitorBake will ever resume it, unless a thread of ours has it */
			pthread_mutex_lock(&b->mu);
			running = json_object_get(b->running, mz_json_str(rec, "_file")) != NULL;
			pthread_mutex_unlock(&b->mu);
		}
		if (running || (status && !mz_status_complete(status))) {
			const char *img = mz_json_str(rec, "imageId");
			const char *base = mz_json_str(json_object_get(rec, "request"), "baseImage");
			if (img)
				json_object_set_new(protect, img, json_true());
			if (base)
				json_object_set_new(protect, base, json_true());
			continue;
		}
		bool gone = exec ? !status
		                 : mz_json_int(rec, "bakeEndTime", mz_json_int(rec, "startTime", 0)) <
		                           pc->before_ms;
		if (gone) {
			char *p = bake_path(mz_json_str(rec, "_file"));
			if (unlink(p) == 0)
				bakes++;
			free(p);
		}
	}
	int images = mz_local_images_prune(b->lp, pc->retention->images_per_package, protect,
	                                   pc->before_ms);
	/* cache entries whose image is gone */
	int cached = 0;
	json_t *keys = json_files("cache");
	json_array_foreach(keys, i, v) {
		char *p = mz_asprintf("%s/cache/%s.json", g_bk->root, json_string_value(v));
		json_t *hit = mz_json_read_file(p);
		json_t *img = hit ? mz_local_image(b->lp, mz_json_str(hit, "imageId")) : NULL;
		if (hit && !img && unlink(p) == 0)
			cached++;
		json_decref(img);
		json_decref(hit);
		free(p);
	}
	json_decref(keys);
	if (bakes || images || cached)
		mz_info("retention: removed %d bake records, %d images, %d bake-cache entries",
		        bakes, images, cached);
out:
	json_decref(ids);
	json_decref(recs);
	json_decref(execs);
	json_decref(protect);
	json_decref(present);
}

void
mz_bakery_register_stages(mz_bakery *b)
{
	mz_engine_register_pruner("bakes and images", prune_bakes, b);
	for (size_t i = 0; i < sizeof(bake_tasks) / sizeof(bake_tasks[0]); i++)
		mz_engine_register_task(&bake_tasks[i]);
	for (size_t i = 0; i < sizeof(bake_stages) / sizeof(bake_stages[0]); i++)
		mz_engine_register_stage(&bake_stages[i]);
	mz__bakery_register_image_stages();
}

void
mz_bakery_stop(mz_bakery *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	b->stopping = true;
	while (b->threads > 0) {
		const char *k;
		json_t *v;
		json_object_foreach(b->running, k, v) {
			if (json_integer_value(v) > 1)
				kill(-(pid_t)json_integer_value(v), SIGKILL);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&b->cv, &b->mu, &ts);
	}
	pthread_mutex_unlock(&b->mu);
	if (g_bk == b)
		g_bk = NULL;
	json_decref(b->running);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b->root);
	json_decref(b->package_roots);
	free(b);
}

/* The local provider the bakery imports into (bakery_images.c); NULL before
 * start. */
mz_local *
mz__bakery_local(void)
{
	return g_bk ? g_bk->lp : NULL;
}

mz_cloud *
mz__bakery_cloud(void)
{
	return g_bk ? g_bk->cloud : NULL;
}
