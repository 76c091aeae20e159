/* artifacts_catalog.c - which files of the artifact store builds published
 * under which name and version, for the artifact account's names and
 * versions (Clouddriver's GET /artifacts/account/{account}/names and
 * /versions, which Deck's artifact editors call).
 *
 * The store itself is content addressed and knows no names. The catalog
 * is <root>/catalog/<sha256 of the name>/: a file "name" holding the name,
 * and "versions", one JSON line {version, reference, time} per
 * publication, appended (an append of one short line is atomic, so jobs
 * finishing at once interleave whole lines). Files, not store rows: the
 * publishing task runs outside any store transaction, and the files it
 * names are this node's too. */
#include "engine/artifacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A name's directory in the catalog (new string), NULL before init. */
static char *
name_dir(const char *name)
{
	const char *root = mz_artifacts_root();
	if (!root)
		return NULL;
	mz_sha256_ctx c;
	char hex[65];
	mz_sha256_init(&c);
	mz_sha256_update(&c, name, strlen(name));
	mz_sha256_hex(&c, hex);
	return mz_asprintf("%s/catalog/%s", root, hex);
}

mz_code
mz_artifacts_catalog_add(const char *name, const char *version, const char *reference,
                         mz_err *err)
{
	char *dir = name ? name_dir(name) : NULL;
	if (!dir)
		return mz_fail(err, MZ_EINVAL, "no artifact store, or an artifact without a name");
	mz_code rc = MZ_OK;
	char *npath = mz_asprintf("%s/name", dir);
	char *vpath = mz_asprintf("%s/versions", dir);
	char *line = NULL;
	if (mz_mkdirs(dir, 0755) != 0) {
		rc = mz_fail(err, MZ_EIO, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	if (access(npath, F_OK) != 0) {
		/* written whole under a temporary name, so a reader never sees half */
		char *tmp = mz_asprintf("%s.%d", npath, (int)getpid());
		FILE *f = fopen(tmp, "we");
		bool ok = f && fputs(name, f) >= 0;
		if (f && fclose(f) != 0)
			ok = false;
		if (!ok || rename(tmp, npath) != 0)
			rc = mz_fail(err, MZ_EIO, "cannot write %s: %s", npath, strerror(errno));
		unlink(tmp);
		free(tmp);
		if (rc)
			goto out;
	}
	json_t *entry = json_pack("{s:s, s:s, s:I}", "version", version ? version : "",
	                          "reference", reference, "time", (json_int_t)mz_now_ms());
	char *text = mz_json_dump(entry);
	json_decref(entry);
	line = mz_asprintf("%s\n", text);
	free(text);
	/* under the lock retention rewrites the file under (artifacts_prune.c):
	 * a file it replaced meanwhile is opened again */
	int fd = -1;
	for (int tries = 0; tries < 5; tries++) {
		fd = open(vpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0 || flock(fd, LOCK_EX) != 0)
			break;
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(vpath, &b) == 0 && a.st_ino == b.st_ino)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		rc = mz_fail(err, MZ_EIO, "cannot append to %s: %s", vpath, strerror(errno));
	if (fd >= 0)
		close(fd);
out:
	free(line);
	free(npath);
	free(vpath);
	free(dir);
	return rc;
}

/* The versions of the catalog entry in dir, newest first, each version
 * once, only those whose file is still stored. A new array of
 * {version, reference, time}. */
static json_t *
entry_versions(const char *dir)
{
	char *vpath = mz_asprintf("%s/versions", dir);
	char *text = mz_read_file(vpath, NULL, NULL);
	free(vpath);
	json_t *out = json_array();
	json_t *seen = json_object();
	char *save = NULL;
	json_t *lines = json_array();
	for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
		json_array_append_new(lines, json_string(l));
	for (size_t i = json_array_size(lines); i-- > 0;) {
		const char *l = json_string_value(json_array_get(lines, i));
		json_t *e = mz_json_parse(l, strlen(l), NULL);
		const char *v = mz_json_str(e, "version");
		char *path = mz_artifacts_path(mz_json_str(e, "reference"));
		if (v && path && access(path, F_OK) == 0 && !json_object_get(seen, v)) {
			json_object_set_new(seen, v, json_true());
			json_array_append(out, e);
		}
		free(path);
		json_decref(e);
	}
	json_decref(lines);
	json_decref(seen);
	free(text);
	return out;
}

json_t *
mz_artifacts_catalog_names(void)
{
	json_t *out = json_array();
	const char *root = mz_artifacts_root();
	char *cdir = root ? mz_asprintf("%s/catalog", root) : NULL;
	DIR *d = cdir ? opendir(cdir) : NULL;
	struct dirent *de;
	json_t *names = json_object();
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *dir = mz_asprintf("%s/%s", cdir, de->d_name);
		char *npath = mz_asprintf("%s/name", dir);
		char *name = mz_read_file(npath, NULL, NULL);
		json_t *versions = name ? entry_versions(dir) : NULL;
		if (name && json_array_size(versions))
			json_object_set_new(names, name, json_true());
		json_decref(versions);
		free(name);
		free(npath);
		free(dir);
	}
	if (d)
		closedir(d);
	free(cdir);
	/* sorted, as a picker lists them */
	const char *k;
	json_t *v;
	json_object_foreach(names, k, v) json_array_append_new(out, json_string(k));
	size_t n = json_array_size(out);
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0; b--) {
			json_t *x = json_array_get(out, b - 1), *y = json_array_get(out, b);
			if (strcmp(json_string_value(x), json_string_value(y)) <= 0)
				break;
			json_incref(x);
			json_array_set(out, b - 1, y);
			json_array_set_new(out, b, x);
		}
	json_decref(names);
	return out;
}

json_t *
mz_artifacts_catalog_versions(const char *name)
{
	char *dir = name ? name_dir(name) : NULL;
	json_t *out = dir ? entry_versions(dir) : json_array();
	free(dir);
	return out;
}
