/* util.c - small string, file and base64 helpers. */
#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

char *
mz_strdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p) {
		mz_error("out of memory");
		abort();
	}
	return p;
}

char *
mz_strtrim(const char *s)
{
	s = s ? s : "";
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *t = mz_strdup(s);
	t[n] = '\0';
	return t;
}

char *
mz_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0) {
		mz_error("out of memory");
		abort();
	}
	va_end(ap);
	return p;
}

bool
mz_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
mz_strcaseeq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcasecmp(a, b) == 0;
}

int
mz_mkdirs(const char *path, int mode)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

char *
mz_read_file(const char *path, size_t *len, mz_err *err)
{
	FILE *f = fopen(path, "rb");
	mz_buf b;
	char chunk[8192];
	size_t n;

	if (!f) {
		mz_fail(err, MZ_ENOTFOUND, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	mz_buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (mz_buf_add(&b, chunk, n) != MZ_OK) {
			fclose(f);
			mz_buf_release(&b);
			mz_fail(err, MZ_ENOMEM, "cannot read %s: too large", path);
			return NULL;
		}
	}
	fclose(f);
	return mz_buf_detach(&b, len);
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
mz_base64_encode(const unsigned char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

unsigned char *
mz_base64_decode(const char *text, size_t *out_len)
{
	size_t n = strlen(text);
	unsigned char *out = malloc(n / 4 * 3 + 4);
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)text[i];
		if (c == '=')
			break;
		if (c == '\n' || c == '\r' || c == ' ')
			continue;
		int d = b64val(c);
		if (d < 0) {
			free(out);
			return NULL;
		}
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	out[o] = '\0';
	if (out_len)
		*out_len = o;
	return out;
}

void
mz_id_from_key(const char *prefix, const char *key, char out[128])
{
	size_t j = (size_t)snprintf(out, 16, "%.8s-", prefix);
	size_t start = j;
	for (const char *p = key ? key : ""; *p && j < start + 100; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '-';
		out[j++] = ok ? c : '_';
	}
	out[j] = '\0';
	if (j == start) {
		char u[27];
		mz_ulid(u);
		snprintf(out, 128, "%.8s-%s", prefix, u);
	}
}

int
mz_json_write_file(const char *path, const json_t *v, size_t flags)
{
	char *text = json_dumps(v, flags | JSON_ENCODE_ANY);
	/* the thread id keeps two writers of one file off each other's temp */
	char *tmp = mz_asprintf("%s.tmp.%d", path, (int)gettid());
	size_t len, off = 0;
	int fd = -1, rc = -1, saved;

	if (!text) {
		errno = ENOMEM;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	len = strlen(text);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		off += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto out;
	rc = close(fd);
	fd = -1;
	if (rc == 0)
		rc = rename(tmp, path);
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	free(text);
	free(tmp);
	errno = saved;
	return rc;
}

json_t *
mz_json_read_file(const char *path)
{
	size_t len;
	char *text = mz_read_file(path, &len, NULL);
	json_t *v = text ? mz_json_parse(text, len, NULL) : NULL;
	free(text);
	return v;
}

json_t *
mz_path_roots(const json_t *roots, const char *setting)
{
	json_t *out = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(roots, i, r) {
		char *real = json_is_string(r) ? realpath(json_string_value(r), NULL) : NULL;
		if (real)
			json_array_append_new(out, json_string(real));
		else
			mz_warn("%s entry %s is not a directory here; ignored", setting,
			        json_is_string(r) ? json_string_value(r) : "(not a string)");
		free(real);
	}
	return out;
}

bool
mz_path_within(const char *path, const json_t *roots, bool must_exist)
{
	if (!path || !*path)
		return false;
	char *real = realpath(path, NULL);
	if (!real) {
		if (must_exist || path[0] != '/' || strstr(path, "/../") || strstr(path, "/./"))
			return false;
		size_t n = strlen(path);
		if ((n >= 3 && strcmp(path + n - 3, "/..") == 0) ||
		    (n >= 2 && strcmp(path + n - 2, "/.") == 0))
			return false;
		real = mz_strdup(path);
	}
	bool ok = false;
	size_t i;
	json_t *root;
	json_array_foreach(roots, i, root) {
		const char *rs = json_string_value(root);
		size_t rl = rs ? strlen(rs) : 0;
		if (rl && strncmp(real, rs, rl) == 0 &&
		    (real[rl] == '/' || real[rl] == '\0' || rl == 1)) {
			ok = true;
			break;
		}
	}
	free(real);
	return ok;
}
