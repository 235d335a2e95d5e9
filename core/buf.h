/*
 * The one growable byte buffer: ptr is never NULL and always NUL-terminated,
 * len is kept, and an optional maximum makes growth past it fail with
 * FL_ELIMIT instead of eating memory (git's strbuf, curl's dynbuf).
 */
#ifndef FL_BUF_H
#define FL_BUF_H

#include <stddef.h>

struct fl_buf {
	char *ptr;
	size_t len;
	size_t cap;   /* 0 while ptr points at the shared empty string */
	size_t max;   /* 0: no limit; else len never exceeds it */
};

/* The shared empty string an empty buffer points at; never written. */
extern char fl_buf_nul[];
#define FL_BUF_INIT { fl_buf_nul, 0, 0, 0 }

/* Initialises an empty buffer that may hold at most max bytes (0: no limit). */
void fl_buf_init(struct fl_buf *buf, size_t max);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void fl_buf_release(struct fl_buf *buf);
/* Empties the buffer, keeping its storage. */
void fl_buf_clear(struct fl_buf *buf);
/* Makes room for extra more bytes; FL_ELIMIT past the maximum. */
int fl_buf_grow(struct fl_buf *buf, size_t extra);
int fl_buf_put(struct fl_buf *buf, const void *data, size_t len);
int fl_buf_puts(struct fl_buf *buf, const char *s);
int fl_buf_putc(struct fl_buf *buf, char c);
int fl_buf_printf(struct fl_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Shortens to len bytes (len <= buf->len). */
void fl_buf_truncate(struct fl_buf *buf, size_t len);
/* Hands the storage to the caller (free() it); the buffer is empty afterwards. */
char *fl_buf_detach(struct fl_buf *buf, size_t *len_out);

#endif
