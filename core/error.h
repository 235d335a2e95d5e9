/*
 * Error codes and the error object that carries details to the caller.
 * A function that can fail returns 0 or one of the negative FL_E* codes and
 * fills a caller-owned struct fl_error; errors in user input also carry a
 * source position and a copy of the offending source line.
 */
#ifndef FL_ERROR_H
#define FL_ERROR_H

#include <stdint.h>
#include <stddef.h>

struct fl_buf;

/* X(name, message): the codes, their names and their default messages. */
#define FL_ERRNO_MAP(X) \
	X(INPUT, "invalid input") \
	X(LIMIT, "input exceeds a limit") \
	X(NOTFOUND, "not found") \
	X(IO, "input/output error") \
	X(GIT, "git error") \
	X(DRIVER, "driver error") \
	X(IDENTITY, "account identity mismatch") \
	X(USAGE, "usage error") \
	X(REFUSED, "refused") \
	X(INTERNAL, "internal error")

enum fl_error_index {
	FL_ERRNO_INDEX_BASE_ = 0,
#define FL_ERRNO_INDEX_(name, msg) FL_ERRNO_INDEX_##name,
	FL_ERRNO_MAP(FL_ERRNO_INDEX_)
#undef FL_ERRNO_INDEX_
};

enum fl_errno {
	FL_OK = 0,
#define FL_ERRNO_ENUM_(name, msg) FL_E##name = -FL_ERRNO_INDEX_##name,
	FL_ERRNO_MAP(FL_ERRNO_ENUM_)
#undef FL_ERRNO_ENUM_
};
/* FL_EINPUT is -1, FL_ELIMIT -2, and so on, in the order of the map. */

/* A source file known by its path and text, as errors point into it. */
struct fl_source {
	const char *path;
	const char *text;
	size_t len;
};

#define FL_ERROR_MSG_MAX 512
#define FL_ERROR_PATH_MAX 256
#define FL_ERROR_LINE_MAX 160

struct fl_error {
	int code;                          /* 0 when no error was set */
	char msg[FL_ERROR_MSG_MAX];        /* lowercase, no full stop */
	char path[FL_ERROR_PATH_MAX];      /* empty when not about a file */
	uint32_t line, col;                /* 1-based; 0 when unknown */
	char srcline[FL_ERROR_LINE_MAX];   /* the source line at line, if known */
};

#define FL_ERROR_INIT { 0, { 0 }, { 0 }, 0, 0, { 0 } }

/* Name ("EINPUT") and default message of a code. */
const char *fl_errno_name(int code);
const char *fl_errno_message(int code);

/*
 * Sets err (which may be NULL) with a source position and returns code; src
 * may be NULL or have no text, then no source line is captured. line and
 * col are 1-based, 0 when unknown.
 */
int fl_error_set_at(struct fl_error *err, int code, const struct fl_source *src,
		    uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Sets err (which may be NULL) without a position and returns code, for `return fl_error_set(...)`. */
#define fl_error_set(err, code, ...) fl_error_set_at((err), (code), NULL, 0, 0, __VA_ARGS__)

/* Sets only the position of an error already set, if it has none. */
void fl_error_locate(struct fl_error *err, const struct fl_source *src, uint32_t line, uint32_t col);

/* Prepends context ("tenant 'acme': ") to the message, keeping the cause. */
void fl_error_prefix(struct fl_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void fl_error_clear(struct fl_error *err);

/*
 * Formats as `path:line:col: error: message`, then the source line and a
 * caret under the column; or `error: message` without a position.
 */
void fl_error_format(struct fl_buf *out, const struct fl_error *err);

#endif
