/* store_blobs.c - files shared by the nodes of one database: a build's
 * artifact made on one node is baked on another. A file is stored under
 * its SHA-256 in chunks of MZ_BLOB_CHUNK bytes (base64 text, so that both
 * drivers bind it as they bind everything else); its row in `blobs` is
 * written in the same transaction as its chunks, so a reader that finds
 * the row finds every chunk. Written once over the driver. */
#include "store/store_sql.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The size and chunk count of a stored file; *found false when none. */
static mz_code
blob_info(mz_store *st, const char *sha, bool *found, int64_t *size, int64_t *chunks,
          mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_BLOB_HAS, err);
	*found = false;
	if (!q)
		return MZ_EIO;
	mz__text(q, 1, sha);
	int s = mz__step(q);
	mz_code rc = MZ_OK;
	if (s < 0) {
		rc = mz__fail(st, err, "find a shared file");
	} else if (s == MZ_STEP_ROW) {
		*found = true;
		*size = mz__col_int(q, 0);
		*chunks = mz__col_int(q, 1);
	}
	mz__reset(q);
	return rc;
}

static ssize_t
read_full(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

mz_code
mz_blob_put_file(mz_store *st, const char *sha, const char *path, mz_err *err)
{
	bool found = false;
	int64_t size = 0, chunks = 0;
	mz_code rc = blob_info(st, sha, &found, &size, &chunks, err);
	if (rc || found)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mz_fail(err, MZ_EIO, "cannot read %s: %s", path, strerror(errno));
	unsigned char *buf = malloc(MZ_BLOB_CHUNK);
	if ((rc = mz_store_begin(st, err)) != MZ_OK) {
		free(buf);
		close(fd);
		return rc;
	}
	size = 0;
	chunks = 0;
	for (;;) {
		ssize_t n = read_full(fd, buf, MZ_BLOB_CHUNK);
		if (n < 0) {
			rc = mz_fail(err, MZ_EIO, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0 && chunks > 0)
			break;
		char *text = mz_base64_encode(buf, (size_t)n);
		mz_stmt *q = mz__stmt(st, Q_BLOB_CHUNK_ADD, err);
		if (!q) {
			free(text);
			rc = MZ_EIO;
			break;
		}
		mz__text(q, 1, sha);
		mz__int(q, 2, chunks);
		mz__text(q, 3, text);
		rc = mz__run(q, NULL, err, "store a shared file's chunk");
		free(text);
		if (rc)
			break;
		size += n;
		chunks++;
		if (n < MZ_BLOB_CHUNK)
			break;
	}
	close(fd);
	free(buf);
	if (rc == MZ_OK) {
		mz_stmt *q = mz__stmt(st, Q_BLOB_ADD, err);
		if (!q) {
			rc = MZ_EIO;
		} else {
			mz__text(q, 1, sha);
			mz__int(q, 2, size);
			mz__int(q, 3, chunks);
			mz__int(q, 4, mz_now_ms());
			rc = mz__run(q, NULL, err, "store a shared file");
		}
	}
	if (rc == MZ_OK)
		return mz_store_commit(st, err);
	mz_store_rollback(st);
	return rc;
}

mz_code
mz_blob_get_fd(mz_store *st, const char *sha, int fd, mz_err *err)
{
	bool found = false;
	int64_t size = 0, chunks = 0, written = 0;
	mz_code rc = blob_info(st, sha, &found, &size, &chunks, err);
	if (rc)
		return rc;
	if (!found)
		return mz_fail(err, MZ_ENOTFOUND, "no node stored the file %s", sha);
	/* chunk by chunk, each read on its own: a file of a gigabyte never
	 * sits in memory whole */
	for (int64_t seq = 0; rc == MZ_OK && seq < chunks; seq++) {
		mz_stmt *q = mz__stmt(st, Q_BLOB_CHUNK_GET, err);
		if (!q)
			return MZ_EIO;
		mz__text(q, 1, sha);
		mz__int(q, 2, seq);
		int s = mz__step(q);
		unsigned char *data = NULL;
		size_t n = 0;
		if (s < 0)
			rc = mz__fail(st, err, "read a shared file's chunk");
		else if (s == MZ_STEP_DONE)
			rc = mz_fail(err, MZ_EIO, "shared file %s lacks its chunk %lld", sha,
			             (long long)seq);
		else if (!(data = mz_base64_decode(mz__col_text(q, 0), &n)))
			rc = mz_fail(err, MZ_EIO, "shared file %s: chunk %lld is damaged", sha,
			             (long long)seq);
		mz__reset(q);
		for (size_t off = 0; rc == MZ_OK && off < n;) {
			ssize_t w = write(fd, data + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				rc = mz_fail(err, MZ_EIO, "cannot write shared file %s: %s", sha,
				             strerror(errno));
			else
				off += (size_t)w;
		}
		written += (int64_t)n;
		free(data);
	}
	if (rc == MZ_OK && written != size)
		rc = mz_fail(err, MZ_EIO, "shared file %s: %lld bytes read, %lld stored", sha,
		             (long long)written, (long long)size);
	return rc;
}

mz_code
mz_blob_delete(mz_store *st, const char *sha, mz_err *err)
{
	mz_code rc = mz_store_begin(st, err);
	if (rc)
		return rc;
	mz_stmt *q = mz__stmt(st, Q_BLOB_DEL, err);
	if (!q) {
		rc = MZ_EIO;
	} else {
		mz__text(q, 1, sha);
		rc = mz__run(q, NULL, err, "delete a shared file");
	}
	if (rc == MZ_OK && !(q = mz__stmt(st, Q_BLOB_CHUNKS_DEL, err)))
		rc = MZ_EIO;
	if (rc == MZ_OK) {
		mz__text(q, 1, sha);
		rc = mz__run(q, NULL, err, "delete a shared file's chunks");
	}
	if (rc == MZ_OK)
		return mz_store_commit(st, err);
	mz_store_rollback(st);
	return rc;
}

mz_code
mz_blob_prune(mz_store *st, int64_t before_ms, int limit, int *n, mz_err *err)
{
	mz_stmt *q = mz__stmt(st, Q_BLOB_OLD, err);
	*n = 0;
	if (!q)
		return MZ_EIO;
	mz__int(q, 1, before_ms);
	mz__int(q, 2, limit);
	json_t *old = json_array();
	int s;
	while ((s = mz__step(q)) == MZ_STEP_ROW)
		json_array_append_new(old, json_string(mz__col_text(q, 0)));
	mz_code rc = s < 0 ? mz__fail(st, err, "list old shared files") : MZ_OK;
	mz__reset(q);
	size_t i;
	json_t *v;
	json_array_foreach(old, i, v) {
		if (rc || (rc = mz_blob_delete(st, json_string_value(v), err)) != MZ_OK)
			break;
		(*n)++;
	}
	json_decref(old);
	return rc;
}
