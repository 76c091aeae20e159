/*
 * artifacts_prune.c - the artifact store does not grow forever.
 *
 * The store is content addressed and a file may serve many executions (a
 * re-run, a findArtifactFromExecution, a bake cache hit), so a file is not
 * owned by one execution and cannot go with it. What is known instead is
 * when a file was last used: its modification time, which a publication
 * of the same content and every read of the content (a bake, a fetch into
 * a job, a download) bring forward (mz__artifacts_touch). Retention then
 * removes, once a pass:
 *   - files no one used for maxAgeDays - by then every finished execution
 *     that could name them is pruned too (they go after maxAgeDays) -
 *     except those a running execution names (a judgment may hold a
 *     pipeline for longer than that: its deploy still needs its build);
 *   - temporary files of copies a crash interrupted (older than a day);
 *   - catalog versions whose file is gone, and names left with none.
 * Listing the catalog is not a use: a picker open all day keeps nothing.
 */
#include "engine/artifacts.h"
#include "engine/engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOUCH_AFTER_MS (3600LL * 1000)      /* a use refreshes at most hourly */
#define TMP_MAX_AGE_MS (24LL * 3600 * 1000) /* an interrupted copy */

static int64_t
mtime_ms(const struct stat *sb)
{
	return (int64_t)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000;
}

void
mz__artifacts_touch(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) == 0 && mz_now_ms() - mtime_ms(&sb) > TOUCH_AFTER_MS)
		utimensat(AT_FDCWD, path, NULL, 0); /* the owner may, whatever the mode */
}

static bool
is_hex64(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

/* Every 64-hex-digit "reference" of a mizzen/file artifact anywhere in v,
 * into keep (a set). */
static void
mark(const json_t *v, json_t *keep)
{
	const char *k;
	json_t *x;
	size_t i;
	if (json_is_object(v)) {
		const char *ref = mz_json_str(v, "reference");
		if (ref && mz_streq(mz_json_str(v, "type"), "mizzen/file") && is_hex64(ref))
			json_object_set_new(keep, ref, json_true());
		json_object_foreach((json_t *)v, k, x) mark(x, keep);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) mark(x, keep);
	}
}

/* The files the executions still running name; NULL when they cannot be
 * read (then nothing is removed this pass). */
static json_t *
files_in_use(mz_store *st)
{
	static const char *active[] = {"NOT_STARTED", "RUNNING", "PAUSED", "SUSPENDED", NULL};
	mz_exec_query q = {.statuses = active};
	json_t *execs = NULL;
	mz_err err = {0};
	if (mz_exec_query_run(st, &q, &execs, &err) != MZ_OK) {
		mz_warn("retention: artifact store: cannot read the running executions: %s "
		        "(nothing removed; the next pass tries again)", err.msg);
		return NULL;
	}
	json_t *keep = json_object();
	mark(execs, keep);
	json_decref(execs);
	return keep;
}

/* Rewrites a catalog entry's versions without the lines whose file is
 * gone (under the lock mz_artifacts_catalog_add appends under); removes
 * the entry when none is left. Returns the lines dropped. */
static int
compact_entry(const char *dir)
{
	char *vpath = mz_asprintf("%s/versions", dir);
	int dropped = 0;
	int fd = open(vpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		if (fd >= 0)
			close(fd);
		free(vpath);
		return 0;
	}
	char *text = mz_read_file(vpath, NULL, NULL);
	mz_buf kept;
	mz_buf_init(&kept, 0);
	char *save = NULL;
	int lines = 0;
	for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		json_t *e = mz_json_parse(l, strlen(l), NULL);
		char *path = mz_artifacts_path(mz_json_str(e, "reference"));
		if (path) {
			mz_buf_adds(&kept, l);
			mz_buf_adds(&kept, "\n");
			lines++;
		} else {
			dropped++;
		}
		free(path);
		json_decref(e);
	}
	if (dropped && lines == 0) {
		unlink(vpath);
		char *npath = mz_asprintf("%s/name", dir);
		unlink(npath);
		free(npath);
		rmdir(dir);
	} else if (dropped) {
		char *tmp = mz_asprintf("%s.compact", vpath);
		int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		bool ok = out >= 0 && write(out, kept.data, kept.len) == (ssize_t)kept.len;
		if (out >= 0 && close(out) != 0)
			ok = false;
		if (!ok || rename(tmp, vpath) != 0) {
			unlink(tmp);
			dropped = 0;
		}
		free(tmp);
	}
	mz_buf_release(&kept);
	free(text);
	close(fd); /* and the lock: an appender waiting on it reopens the new file */
	free(vpath);
	return dropped;
}

void
mz_artifacts_prune(mz_store *st, int64_t before_ms)
{
	const char *root = mz_artifacts_root();
	DIR *d = root ? opendir(root) : NULL;
	if (!d)
		return;
	json_t *keep = files_in_use(st);
	int64_t now = mz_now_ms();
	int files = 0, tmps = 0, versions = 0;
	struct dirent *de;
	while (keep && (de = readdir(d)) != NULL) {
		bool tmp = strncmp(de->d_name, ".tmp-", 5) == 0;
		if (!tmp && (!is_hex64(de->d_name) || json_object_get(keep, de->d_name)))
			continue;
		char *p = mz_asprintf("%s/%s", root, de->d_name);
		struct stat sb;
		if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    mtime_ms(&sb) < (tmp ? now - TMP_MAX_AGE_MS : before_ms) && unlink(p) == 0)
			(*(tmp ? &tmps : &files))++;
		free(p);
	}
	closedir(d);
	json_decref(keep);
	char *cdir = mz_asprintf("%s/catalog", root);
	DIR *c = files ? opendir(cdir) : NULL; /* only a removal can leave a stale line */
	while (c && (de = readdir(c)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *dir = mz_asprintf("%s/%s", cdir, de->d_name);
		versions += compact_entry(dir);
		free(dir);
	}
	if (c)
		closedir(c);
	free(cdir);
	if (files || tmps || versions)
		mz_info("retention: artifact store: removed %d files unused for the retention's "
		        "maxAgeDays, %d interrupted copies, %d catalog versions", files, tmps,
		        versions);
}
