/*
 * Tests for core/error.c: the codes, their names and messages; setting an
 * error with and without a source position and the source line it captures;
 * locate and prefix; and the printed form with a caret under the column.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1

/* ---- codes ---- */

struct code_case {
	int code;
	int value;
	const char *name;
	const char *message;
};

static const struct code_case code_cases[] = {
	{ FL_EINPUT, -1, "EINPUT", "invalid input" },
	{ FL_ELIMIT, -2, "ELIMIT", "input exceeds a limit" },
	{ FL_ENOTFOUND, -3, "ENOTFOUND", "not found" },
	{ FL_EIO, -4, "EIO", "input/output error" },
	{ FL_EGIT, -5, "EGIT", "git error" },
	{ FL_EDRIVER, -6, "EDRIVER", "driver error" },
	{ FL_EIDENTITY, -7, "EIDENTITY", "account identity mismatch" },
	{ FL_EUSAGE, -8, "EUSAGE", "usage error" },
	{ FL_EREFUSED, -9, "EREFUSED", "refused" },
	{ FL_EINTERNAL, -10, "EINTERNAL", "internal error" },
};

static void test_codes(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(code_cases); i++) {
		const struct code_case *c = &code_cases[i];
		if (c->code != c->value)
			fail_msg("%s: value %d, want %d", c->name, c->code, c->value);
		if (c->code >= 0)
			fail_msg("%s: not negative", c->name);
		for (size_t j = 0; j < i; j++)
			if (code_cases[j].code == c->code)
				fail_msg("%s: same value as %s", c->name, code_cases[j].name);
		if (strcmp(fl_errno_name(c->code), c->name) != 0)
			fail_msg("%s: name '%s'", c->name, fl_errno_name(c->code));
		if (strcmp(fl_errno_message(c->code), c->message) != 0)
			fail_msg("%s: message '%s'", c->name, fl_errno_message(c->code));
	}
	assert_int_equal(FL_OK, 0);
	assert_string_equal(fl_errno_name(0), "OK");
	assert_string_equal(fl_errno_message(0), "success");
}

struct unknown_case {
	const char *name;
	int code;
};

static const struct unknown_case unknown_cases[] = {
	{ "one past the last", -11 }, { "far negative", -1000 },      { "positive", 1 },
	{ "INT_MAX", INT_MAX },	      { "INT_MIN + 1", INT_MIN + 1 },
};

static void test_unknown_codes(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(unknown_cases); i++) {
		const struct unknown_case *c = &unknown_cases[i];
		if (strcmp(fl_errno_name(c->code), "EUNKNOWN") != 0)
			fail_msg("%s: name '%s'", c->name, fl_errno_name(c->code));
		if (strcmp(fl_errno_message(c->code), "unknown error") != 0)
			fail_msg("%s: message '%s'", c->name, fl_errno_message(c->code));
	}
}

/* ---- set ---- */

static void test_set(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_source src = { "a.yaml", "x: 1\n", 5 };

	(void)state;
	assert_int_equal(fl_error_set(&err, FL_EINPUT, "bad '%s' at %d", "key", 3), FL_EINPUT);
	assert_int_equal(err.code, FL_EINPUT);
	assert_string_equal(err.msg, "bad 'key' at 3");
	assert_string_equal(err.path, "");
	assert_int_equal(err.line, 0);
	assert_int_equal(err.col, 0);
	assert_string_equal(err.srcline, "");

	/* A new set forgets the position of the previous error. */
	assert_int_equal(fl_error_set_at(&err, FL_ELIMIT, &src, 1, 4, "old"), FL_ELIMIT);
	assert_int_equal(err.line, 1);
	assert_int_equal(fl_error_set(&err, FL_EIO, "new"), FL_EIO);
	assert_int_equal(err.code, FL_EIO);
	assert_string_equal(err.msg, "new");
	assert_string_equal(err.path, "");
	assert_int_equal(err.line, 0);
	assert_int_equal(err.col, 0);
	assert_string_equal(err.srcline, "");

	/* NULL err: only the code comes back. */
	assert_int_equal(fl_error_set(NULL, FL_EGIT, "x"), FL_EGIT);
	assert_int_equal(fl_error_set_at(NULL, FL_EGIT, &src, 1, 1, "x"), FL_EGIT);

	fl_error_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
	assert_string_equal(err.path, "");
	assert_int_equal(err.line, 0);
	fl_error_clear(NULL);
}

static void test_set_truncates(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	char long_msg[FL_ERROR_MSG_MAX + 100];
	char long_path[FL_ERROR_PATH_MAX + 100];

	(void)state;
	memset(long_msg, 'm', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	fl_error_set(&err, FL_EINPUT, "%s", long_msg);
	assert_int_equal(strlen(err.msg), FL_ERROR_MSG_MAX - 1);
	assert_memory_equal(err.msg, long_msg, FL_ERROR_MSG_MAX - 1);

	memset(long_path, 'p', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	struct fl_source src = { long_path, "x", 1 };
	fl_error_set_at(&err, FL_EINPUT, &src, 1, 1, "m");
	assert_int_equal(strlen(err.path), FL_ERROR_PATH_MAX - 1);
	assert_memory_equal(err.path, long_path, FL_ERROR_PATH_MAX - 1);
	assert_string_equal(err.srcline, "x");
}

/* ---- the captured source line ---- */

struct line_case {
	const char *name;
	const char *text;
	size_t len;
	uint32_t line;
	const char *want;
};

static const struct line_case line_cases[] = {
	{ "first line", S("alpha\nbeta\ngamma\n"), 1, "alpha" },
	{ "middle line", S("alpha\nbeta\ngamma\n"), 2, "beta" },
	{ "last line", S("alpha\nbeta\ngamma\n"), 3, "gamma" },
	{ "after the trailing newline", S("alpha\nbeta\ngamma\n"), 4, "" },
	{ "past the end", S("alpha\nbeta\n"), 9, "" },
	{ "last line without newline", S("alpha\nbeta"), 2, "beta" },
	{ "only line without newline", S("solo"), 1, "solo" },
	{ "empty text", S(""), 1, "" },
	{ "empty line", S("a\n\nb\n"), 2, "" },
	{ "CRLF", S("one\r\ntwo\r\nthree\r\n"), 2, "two" },
	{ "CRLF last line", S("one\r\ntwo\r\n"), 2, "two" },
	{ "CR at end of text", S("one\r"), 1, "one" },
	{ "lone CR inside a line", S("a\rb\n"), 1, "a?b" },
	{ "two CRs before LF", S("ab\r\r\n"), 1, "ab?" },
	{ "control bytes", S("a\001b\033[31m\n"), 1, "a?b?[31m" },
	{ "DEL", S("x\x7fy"), 1, "x?y" },
	{ "NUL byte", S("a\0b\nc"), 1, "a?b" },
	{ "line after a NUL byte", S("a\0b\nc"), 2, "c" },
	{ "tab kept", S("\tkey:\tv"), 1, "\tkey:\tv" },
	{ "UTF-8 kept", S("caf\xc3\xa9 \xe2\x82\xac"), 1, "caf\xc3\xa9 \xe2\x82\xac" },
	{ "len bounds the text", "abc\ndef", 2, 1, "ab" },
	{ "len bounds a later line", "abc\ndefgh", 5, 2, "d" },
	{ "len ends at the newline", "abc\ndef", 4, 2, "" },
	{ "line 0", S("abc\n"), 0, "" },
};

static void test_set_at_source_line(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(line_cases); i++) {
		const struct line_case *c = &line_cases[i];
		struct fl_source src = { "f.yaml", c->text, c->len };
		struct fl_error err = FL_ERROR_INIT;

		int rc = fl_error_set_at(&err, FL_EINPUT, &src, c->line, 3, "bad %s", "thing");
		if (rc != FL_EINPUT || err.code != FL_EINPUT)
			fail_msg("%s: code %d/%d", c->name, rc, err.code);
		if (strcmp(err.msg, "bad thing") != 0)
			fail_msg("%s: msg '%s'", c->name, err.msg);
		if (strcmp(err.path, "f.yaml") != 0)
			fail_msg("%s: path '%s'", c->name, err.path);
		if (err.line != c->line || err.col != 3)
			fail_msg("%s: at %u:%u, want %u:3", c->name, err.line, err.col, c->line);
		if (strcmp(err.srcline, c->want) != 0)
			fail_msg("%s: srcline '%s', want '%s'", c->name, err.srcline, c->want);
	}
}

static void test_set_at_long_line(void **state)
{
	char text[400];
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	memset(text, 'x', sizeof(text));
	text[2] = '\x02'; /* replaced even in a truncated line */
	text[sizeof(text) - 1] = '\n';
	struct fl_source src = { "long", text, sizeof(text) };
	fl_error_set_at(&err, FL_EINPUT, &src, 1, 300, "m");
	assert_int_equal(strlen(err.srcline), FL_ERROR_LINE_MAX - 1);
	assert_memory_equal(err.srcline, "xx?xx", 5);
	assert_int_equal(err.srcline[FL_ERROR_LINE_MAX - 2], 'x');
	assert_int_equal(err.col, 300);
}

static void test_set_at_without_source(void **state)
{
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	/* No source: the position is kept, there is no path and no line. */
	fl_error_set_at(&err, FL_EINPUT, NULL, 4, 2, "m");
	assert_string_equal(err.path, "");
	assert_int_equal(err.line, 4);
	assert_int_equal(err.col, 2);
	assert_string_equal(err.srcline, "");

	/* A source known only by its path. */
	struct fl_source nopath_text = { "p.yaml", NULL, 0 };
	fl_error_set_at(&err, FL_EINPUT, &nopath_text, 4, 2, "m");
	assert_string_equal(err.path, "p.yaml");
	assert_int_equal(err.line, 4);
	assert_string_equal(err.srcline, "");

	/* A source known only by its text. */
	struct fl_source text_only = { NULL, "a\nb\n", 4 };
	fl_error_set_at(&err, FL_EINPUT, &text_only, 2, 1, "m");
	assert_string_equal(err.path, "");
	assert_int_equal(err.line, 2);
	assert_string_equal(err.srcline, "b");
}

/* ---- locate ---- */

static void test_locate(void **state)
{
	struct fl_source first = { "first.yaml", "one\ntwo\n", 8 };
	struct fl_source second = { "second.yaml", "uno\ndos\n", 8 };
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	/* Unset position: locate fills it in and keeps code and message. */
	fl_error_set(&err, FL_EINPUT, "cause");
	fl_error_locate(&err, &first, 2, 3);
	assert_int_equal(err.code, FL_EINPUT);
	assert_string_equal(err.msg, "cause");
	assert_string_equal(err.path, "first.yaml");
	assert_int_equal(err.line, 2);
	assert_int_equal(err.col, 3);
	assert_string_equal(err.srcline, "two");

	/* Set position: locate leaves it alone. */
	fl_error_locate(&err, &second, 1, 1);
	assert_string_equal(err.path, "first.yaml");
	assert_int_equal(err.line, 2);
	assert_int_equal(err.col, 3);
	assert_string_equal(err.srcline, "two");

	/* A line without a path also counts as set. */
	fl_error_set_at(&err, FL_EINPUT, NULL, 5, 6, "cause");
	fl_error_locate(&err, &second, 1, 1);
	assert_string_equal(err.path, "");
	assert_int_equal(err.line, 5);
	assert_int_equal(err.col, 6);

	/* So does a path without a line. */
	fl_error_set_at(&err, FL_EINPUT, &first, 0, 0, "cause");
	fl_error_locate(&err, &second, 1, 1);
	assert_string_equal(err.path, "first.yaml");
	assert_int_equal(err.line, 0);
	assert_string_equal(err.srcline, "");

	fl_error_locate(NULL, &first, 1, 1);
}

/* ---- prefix ---- */

static void test_prefix(void **state)
{
	struct fl_source src = { "t.yaml", "k: v\n", 5 };
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	fl_error_set_at(&err, FL_ENOTFOUND, &src, 1, 4, "unknown var '%s'", "colour");
	fl_error_prefix(&err, "tenant '%s': ", "acme");
	assert_string_equal(err.msg, "tenant 'acme': unknown var 'colour'");
	fl_error_prefix(&err, "fleet: ");
	assert_string_equal(err.msg, "fleet: tenant 'acme': unknown var 'colour'");
	/* The cause's code and position are kept. */
	assert_int_equal(err.code, FL_ENOTFOUND);
	assert_string_equal(err.path, "t.yaml");
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 4);
	assert_string_equal(err.srcline, "k: v");

	fl_error_prefix(&err, "%s", "");
	assert_string_equal(err.msg, "fleet: tenant 'acme': unknown var 'colour'");

	/* On an empty message the prefix is all there is. */
	fl_error_clear(&err);
	fl_error_prefix(&err, "ctx: ");
	assert_string_equal(err.msg, "ctx: ");

	fl_error_prefix(NULL, "ignored");
}

struct prefix_trunc_case {
	const char *name;
	size_t cause_len;
	size_t prefix_len;
	size_t want_cause_kept; /* bytes of the cause left after the prefix */
};

static const struct prefix_trunc_case prefix_trunc_cases[] = {
	{ "fits exactly", FL_ERROR_MSG_MAX - 1 - 10, 10, FL_ERROR_MSG_MAX - 1 - 10 },
	{ "cause cut by one", FL_ERROR_MSG_MAX - 10, 10, FL_ERROR_MSG_MAX - 1 - 10 },
	{ "full cause, short prefix", FL_ERROR_MSG_MAX - 1, 5, FL_ERROR_MSG_MAX - 1 - 5 },
	{ "prefix fills the message", 20, FL_ERROR_MSG_MAX - 1, 0 },
	{ "prefix longer than the message", 20, FL_ERROR_MSG_MAX + 50, 0 },
	{ "both empty", 0, 0, 0 },
};

static void test_prefix_truncates(void **state)
{
	char cause[FL_ERROR_MSG_MAX + 1], prefix[FL_ERROR_MSG_MAX + 100];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(prefix_trunc_cases); i++) {
		const struct prefix_trunc_case *c = &prefix_trunc_cases[i];
		struct fl_error err = FL_ERROR_INIT;

		memset(cause, 'c', c->cause_len);
		cause[c->cause_len] = '\0';
		memset(prefix, 'p', c->prefix_len);
		prefix[c->prefix_len] = '\0';
		fl_error_set(&err, FL_EIO, "%s", cause);
		fl_error_prefix(&err, "%s", prefix);

		size_t plen = c->prefix_len < FL_ERROR_MSG_MAX - 1 ? c->prefix_len : FL_ERROR_MSG_MAX - 1;
		size_t want_len = plen + c->want_cause_kept, got_len = strnlen(err.msg, sizeof(err.msg));
		if (got_len != want_len)
			fail_msg("%s: length %zu, want %zu", c->name, got_len, want_len);
		for (size_t j = 0; j < want_len; j++)
			if (err.msg[j] != (j < plen ? 'p' : 'c'))
				fail_msg("%s: byte %zu is '%c'", c->name, j, err.msg[j]);
		if (err.code != FL_EIO)
			fail_msg("%s: code %d", c->name, err.code);
	}
}

/* ---- format ---- */

struct format_case {
	const char *name;
	const char *path; /* NULL: set without a source */
	const char *text;
	uint32_t line, col;
	const char *want;
};

static const struct format_case format_cases[] = {
	{ "caret at column 1", "f.yaml", "key: value\n", 1, 1,
	  "f.yaml:1:1: error: bad 'x'\n  key: value\n  ^\n" },
	{ "caret at column 6", "f.yaml", "key: value\n", 1, 6,
	  "f.yaml:1:6: error: bad 'x'\n  key: value\n       ^\n" },
	{ "caret at the last character", "f.yaml", "key: value\n", 1, 10,
	  "f.yaml:1:10: error: bad 'x'\n  key: value\n           ^\n" },
	{ "caret just past the end", "f.yaml", "ab\n", 1, 3, "f.yaml:1:3: error: bad 'x'\n  ab\n    ^\n" },
	{ "caret far past the end stops there", "f.yaml", "ab\n", 1, 40,
	  "f.yaml:1:40: error: bad 'x'\n  ab\n    ^\n" },
	{ "column 0", "f.yaml", "ab\n", 1, 0, "f.yaml:1:0: error: bad 'x'\n  ab\n  ^\n" },
	{ "second line", "dir/f.yaml", "a: 1\nbb: [\n", 2, 5,
	  "dir/f.yaml:2:5: error: bad 'x'\n  bb: [\n      ^\n" },
	{ "leading tab", "f.yaml", "\tkey: v\n", 1, 2, "f.yaml:1:2: error: bad 'x'\n  \tkey: v\n  \t^\n" },
	{ "tab in the middle", "f.yaml", "a\tb\tc\n", 1, 5,
	  "f.yaml:1:5: error: bad 'x'\n  a\tb\tc\n   \t \t^\n" },
	{ "caret under a replaced byte", "f.yaml", "a\x01z\n", 1, 3,
	  "f.yaml:1:3: error: bad 'x'\n  a?z\n    ^\n" },
	{ "CRLF line", "f.yaml", "ab\r\ncd\r\n", 2, 2, "f.yaml:2:2: error: bad 'x'\n  cd\n   ^\n" },
	{ "empty source line: no caret", "f.yaml", "a\n\nb\n", 2, 1, "f.yaml:2:1: error: bad 'x'\n" },
	{ "line past the end: no caret", "f.yaml", "a\n", 7, 1, "f.yaml:7:1: error: bad 'x'\n" },
	{ "no text: no caret", "f.yaml", NULL, 3, 4, "f.yaml:3:4: error: bad 'x'\n" },
	{ "path without a line", "f.yaml", "a\n", 0, 0, "f.yaml: error: bad 'x'\n" },
	{ "no path", NULL, NULL, 0, 0, "error: bad 'x'\n" },
};

static void test_format(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(format_cases); i++) {
		const struct format_case *c = &format_cases[i];
		struct fl_source src = { c->path, c->text, c->text ? strlen(c->text) : 0 };
		struct fl_error err = FL_ERROR_INIT;
		struct fl_buf out = FL_BUF_INIT;

		if (c->path)
			fl_error_set_at(&err, FL_EINPUT, &src, c->line, c->col, "bad '%s'", "x");
		else
			fl_error_set(&err, FL_EINPUT, "bad '%s'", "x");
		fl_error_format(&out, &err);
		if (strcmp(out.ptr, c->want) != 0 || out.len != strlen(c->want))
			fail_msg("%s: got\n%s\nwant\n%s", c->name, out.ptr, c->want);
		fl_buf_release(&out);
	}
}

static void test_format_details(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out = FL_BUF_INIT;

	(void)state;
	/* An empty message prints the code's default message. */
	fl_error_set(&err, FL_ENOTFOUND, "%s", "");
	fl_error_format(&out, &err);
	assert_string_equal(out.ptr, "error: not found\n");

	/* Format appends to what the buffer already holds. */
	fl_buf_clear(&out);
	fl_buf_puts(&out, "before\n");
	fl_error_set(&err, FL_EIO, "cannot read '%s'", "x");
	fl_error_format(&out, &err);
	assert_string_equal(out.ptr, "before\nerror: cannot read 'x'\n");

	/* A prefixed error prints the whole message before the source line. */
	struct fl_source src = { "t.yaml", "vars:\n  colour: red\n", 20 };
	fl_buf_clear(&out);
	fl_error_set_at(&err, FL_EINPUT, &src, 2, 3, "unknown var '%s'", "colour");
	fl_error_prefix(&err, "tenant '%s': ", "acme");
	fl_error_format(&out, &err);
	assert_string_equal(out.ptr, "t.yaml:2:3: error: tenant 'acme': unknown var 'colour'\n"
				     "    colour: red\n"
				     "    ^\n");
	fl_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_unknown_codes),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_set_truncates),
		cmocka_unit_test(test_set_at_source_line),
		cmocka_unit_test(test_set_at_long_line),
		cmocka_unit_test(test_set_at_without_source),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_prefix_truncates),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_details),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
