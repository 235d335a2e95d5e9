/* The growable buffer; see buf.h. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/banned.h"

char fl_buf_nul[1];

void fl_buf_init(struct fl_buf *buf, size_t max)
{
	buf->ptr = fl_buf_nul;
	buf->len = buf->cap = 0;
	buf->max = max;
}

void fl_buf_release(struct fl_buf *buf)
{
	if (buf->cap)
		free(buf->ptr);
	buf->ptr = fl_buf_nul;
	buf->len = buf->cap = 0;
}

void fl_buf_clear(struct fl_buf *buf)
{
	buf->len = 0;
	if (buf->cap)
		buf->ptr[0] = '\0';
}

int fl_buf_grow(struct fl_buf *buf, size_t extra)
{
	if (extra > SIZE_MAX - buf->len - 1)
		return FL_ELIMIT;
	size_t need = buf->len + extra;
	if (buf->max && need > buf->max)
		return FL_ELIMIT;
	if (need + 1 <= buf->cap)
		return 0;
	size_t ncap = buf->cap ? buf->cap : 64;
	while (ncap < need + 1)
		ncap = ncap > SIZE_MAX / 2 ? need + 1 : ncap * 2;
	if (buf->cap) {
		buf->ptr = fl_reallocarray(buf->ptr, ncap, 1);
	} else {
		buf->ptr = fl_malloc(ncap);
		buf->ptr[0] = '\0';
	}
	buf->cap = ncap;
	return 0;
}

int fl_buf_put(struct fl_buf *buf, const void *data, size_t len)
{
	int rc = fl_buf_grow(buf, len);
	if (rc)
		return rc;
	if (len)
		memcpy(buf->ptr + buf->len, data, len);
	buf->len += len;
	buf->ptr[buf->len] = '\0';
	return 0;
}

int fl_buf_puts(struct fl_buf *buf, const char *s)
{
	return fl_buf_put(buf, s, strlen(s));
}

int fl_buf_putc(struct fl_buf *buf, char c)
{
	return fl_buf_put(buf, &c, 1);
}

int fl_buf_printf(struct fl_buf *buf, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return FL_EINTERNAL;
	if ((size_t)n < sizeof(small))
		return fl_buf_put(buf, small, (size_t)n);
	int rc = fl_buf_grow(buf, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(buf->ptr + buf->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)n;
	return 0;
}

void fl_buf_truncate(struct fl_buf *buf, size_t len)
{
	if (len >= buf->len)
		return;
	buf->len = len;
	buf->ptr[len] = '\0';
}

char *fl_buf_detach(struct fl_buf *buf, size_t *len_out)
{
	char *p = buf->cap ? buf->ptr : fl_strdup("");
	if (len_out)
		*len_out = buf->len;
	buf->ptr = fl_buf_nul;
	buf->len = buf->cap = 0;
	return p;
}
