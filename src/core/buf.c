/* buf.c - a growable, capped, always NUL-terminated byte buffer. */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty_buf[1];

void
mz_buf_init(mz_buf *b, size_t max)
{
	b->data = empty_buf;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : (size_t)1 << 30;
}

void
mz_buf_release(mz_buf *b)
{
	if (b->cap)
		free(b->data);
	mz_buf_init(b, b->max);
}

void
mz_buf_reset(mz_buf *b)
{
	b->len = 0;
	b->data[0] = '\0';
}

static mz_code
grow(mz_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need - 1 > b->max)
		return MZ_EINVAL;
	if (need <= b->cap)
		return MZ_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	char *p = b->cap ? realloc(b->data, cap) : malloc(cap);
	if (!p)
		return MZ_ENOMEM;
	if (!b->cap)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return MZ_OK;
}

mz_code
mz_buf_add(mz_buf *b, const void *data, size_t len)
{
	mz_code rc = grow(b, len);
	if (rc)
		return rc;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return MZ_OK;
}

mz_code
mz_buf_adds(mz_buf *b, const char *s)
{
	return mz_buf_add(b, s, strlen(s));
}

mz_code
mz_buf_printf(mz_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return MZ_EINVAL;
	if ((size_t)n < sizeof(small))
		return mz_buf_add(b, small, (size_t)n);
	mz_code rc = grow(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return MZ_OK;
}

char *
mz_buf_detach(mz_buf *b, size_t *len)
{
	char *p = b->cap ? b->data : mz_strdup("");
	if (len)
		*len = b->len;
	mz_buf_init(b, b->max);
	return p;
}
