/* The error object: codes, messages, source positions and their printing. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/banned.h"

/* Code -n is codes[n - 1]; 0 and codes past the table have entries of their own. */
static const struct code_text {
	const char *name, *message;
} codes[] = {
#define CODE_TEXT(name, msg) { "E" #name, msg },
	FL_ERRNO_MAP(CODE_TEXT)
#undef CODE_TEXT
};

static const struct code_text ok_text = { "OK", "success" };
static const struct code_text unknown_text = { "EUNKNOWN", "unknown error" };

#define NCODES (sizeof(codes) / sizeof(codes[0]))

static const struct code_text *code_text(int code)
{
	if (code == 0)
		return &ok_text;
	if (code < 0 && code >= -(int)NCODES)
		return &codes[-code - 1];
	return &unknown_text;
}

const char *fl_errno_name(int code)
{
	return code_text(code)->name;
}

const char *fl_errno_message(int code)
{
	return code_text(code)->message;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void capture_line(struct fl_error *err, const struct fl_source *src, uint32_t line)
{
	err->srcline[0] = '\0';
	if (!src || !src->text || line == 0)
		return;
	const char *p = src->text, *end = src->text + src->len;
	for (uint32_t l = 1; l < line && p < end; l++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return;
		p = nl + 1;
	}
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
	if (len && p[len - 1] == '\r')
		len--;
	/* Only printable text is echoed back, so garbage input cannot garble a terminal. */
	size_t n = len < FL_ERROR_LINE_MAX - 1 ? len : FL_ERROR_LINE_MAX - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		err->srcline[i] = (c == '\t' || (c >= 0x20 && c != 0x7f)) ? (char)c : '?';
	}
	err->srcline[n] = '\0';
}

int fl_error_set_at(struct fl_error *err, int code, const struct fl_source *src,
		    uint32_t line, uint32_t col, const char *fmt, ...)
{
	if (!err)
		return code;
	va_list ap;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->path[0] = '\0';
	err->line = err->col = 0;
	err->srcline[0] = '\0';
	fl_error_locate(err, src, line, col);
	return code;
}

void fl_error_locate(struct fl_error *err, const struct fl_source *src, uint32_t line, uint32_t col)
{
	if (!err || err->path[0] || err->line)
		return;
	if (src && src->path)
		copy_str(err->path, sizeof(err->path), src->path, strlen(src->path));
	err->line = line;
	err->col = col;
	capture_line(err, src, line);
}

void fl_error_prefix(struct fl_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	char prefix[FL_ERROR_MSG_MAX], old[FL_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	size_t plen = strlen(prefix), olen = strlen(old);
	if (plen > sizeof(err->msg) - 1)
		plen = sizeof(err->msg) - 1;
	if (olen > sizeof(err->msg) - 1 - plen)
		olen = sizeof(err->msg) - 1 - plen;
	memcpy(err->msg, prefix, plen);
	memcpy(err->msg + plen, old, olen);
	err->msg[plen + olen] = '\0';
}

void fl_error_clear(struct fl_error *err)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
}

void fl_error_format(struct fl_buf *out, const struct fl_error *err)
{
	const char *msg = err->msg[0] ? err->msg : fl_errno_message(err->code);
	if (!err->path[0]) {
		fl_buf_printf(out, "error: %s\n", msg);
		return;
	}
	if (err->line)
		fl_buf_printf(out, "%s:%u:%u: error: %s\n", err->path, err->line, err->col, msg);
	else
		fl_buf_printf(out, "%s: error: %s\n", err->path, msg);
	if (!err->srcline[0])
		return;
	fl_buf_printf(out, "  %s\n  ", err->srcline);
	size_t linelen = strlen(err->srcline);
	for (uint32_t i = 1; i < err->col && i <= linelen; i++)
		fl_buf_putc(out, err->srcline[i - 1] == '\t' ? '\t' : ' ');
	fl_buf_puts(out, "^\n");
}
