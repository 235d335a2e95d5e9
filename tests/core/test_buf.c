/*
 * Tests for core/buf.c: appending with put/puts/putc/printf (both sides of the
 * 256-byte printf fast path), the maximum size that fails with FL_ELIMIT and
 * leaves the content as it was, truncate/clear, detach and release. Every
 * check also makes sure the content is NUL-terminated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Fails the test, naming the case, unless buf holds exactly want (wlen bytes) and a NUL after. */
static void expect_buf(const char *name, const struct fl_buf *buf, const char *want, size_t wlen)
{
	if (!buf->ptr)
		fail_msg("%s: ptr is NULL", name);
	if (buf->len != wlen || memcmp(buf->ptr, want, wlen) != 0)
		fail_msg("%s: got %zu bytes '%s', want %zu bytes '%s'", name, buf->len, buf->ptr, wlen, want);
	if (buf->ptr[buf->len] != '\0')
		fail_msg("%s: not NUL-terminated", name);
	if (buf->max && buf->len > buf->max)
		fail_msg("%s: len %zu past max %zu", name, buf->len, buf->max);
}

/* ---- init ---- */

static void test_init(void **state)
{
	struct fl_buf a = FL_BUF_INIT, b;

	(void)state;
	expect_buf("FL_BUF_INIT", &a, "", 0);
	assert_int_equal(a.cap, 0);
	assert_int_equal(a.max, 0);

	memset(&b, 0x5a, sizeof(b));
	fl_buf_init(&b, 10);
	expect_buf("fl_buf_init", &b, "", 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 10);
	/* Nothing was allocated: releasing is a no-op. */
	fl_buf_release(&a);
	fl_buf_release(&b);
	expect_buf("released unused", &b, "", 0);
}

/* ---- sequences of operations ---- */

enum op_kind { OP_END, OP_PUT, OP_PUTS, OP_PUTC, OP_TRUNCATE, OP_CLEAR, OP_GROW };

struct op {
	enum op_kind kind;
	const char *s; /* OP_PUT, OP_PUTS; OP_PUTC uses s[0] */
	size_t n;      /* OP_PUT length, OP_TRUNCATE length, OP_GROW extra */
	int rc;	       /* what the operation must return */
};

struct ops_case {
	const char *name;
	size_t max;
	struct op ops[6];
	const char *want;
	size_t wlen;
};

#define S(lit) lit, sizeof(lit) - 1
#define L10 "0123456789"
#define L100 L10 L10 L10 L10 L10 L10 L10 L10 L10 L10

/* One operation; rc is what it must return. */
// clang-format off
#define PUT(s, n, rc) { OP_PUT, s, n, rc }
#define PUTS(s, rc) { OP_PUTS, s, 0, rc }
#define PUTC(s, rc) { OP_PUTC, s, 0, rc }
#define TRUNCATE(n) { OP_TRUNCATE, NULL, n, 0 }
#define CLEAR { OP_CLEAR, NULL, 0, 0 }
#define GROW(n, rc) { OP_GROW, NULL, n, rc }
// clang-format on

static const struct ops_case ops_cases[] = {
	{ "puts", 0, { PUTS("abc", 0) }, S("abc") },
	{ "puts twice", 0, { PUTS("abc", 0), PUTS("de", 0) }, S("abcde") },
	{ "puts empty", 0, { PUTS("", 0) }, S("") },
	{ "put keeps NUL bytes", 0, { PUT("a\0b", 3, 0) }, S("a\0b") },
	{ "put part of a string", 0, { PUT("abcdef", 2, 0) }, S("ab") },
	{ "put zero bytes", 0, { PUT("xyz", 0, 0) }, S("") },
	{ "putc", 0, { PUTC("x", 0), PUTC("y", 0) }, S("xy") },
	{ "putc NUL", 0, { PUTC("", 0), PUTC("z", 0) }, S("\0z") },
	{ "grows past 64 bytes", 0, { PUTS(L100, 0), PUTS(L100, 0), PUTC("!", 0) }, S(L100 L100 "!") },
	{ "truncate", 0, { PUTS("hello", 0), TRUNCATE(2) }, S("he") },
	{ "truncate to zero", 0, { PUTS("hello", 0), TRUNCATE(0) }, S("") },
	{ "truncate to len is a no-op", 0, { PUTS("hi", 0), TRUNCATE(2) }, S("hi") },
	{ "truncate past len is a no-op", 0, { PUTS("hi", 0), TRUNCATE(5) }, S("hi") },
	{ "truncate empty", 0, { TRUNCATE(0) }, S("") },
	{ "truncate then append", 0, { PUTS("hello", 0), TRUNCATE(1), PUTS("ey", 0) }, S("hey") },
	{ "clear", 0, { PUTS("hello", 0), CLEAR }, S("") },
	{ "clear empty", 0, { CLEAR }, S("") },
	{ "clear then append", 0, { PUTS("hello", 0), CLEAR, PUTS("x", 0) }, S("x") },
	{ "grow keeps content", 0, { PUTS("ab", 0), GROW(1000, 0) }, S("ab") },
	{ "grow by SIZE_MAX fails", 0, { PUTS("ab", 0), GROW(SIZE_MAX, FL_ELIMIT) }, S("ab") },
	{ "grow by SIZE_MAX on empty fails", 0, { GROW(SIZE_MAX, FL_ELIMIT) }, S("") },
	{ "grow past max fails", 4, { PUTS("ab", 0), GROW(3, FL_ELIMIT) }, S("ab") },
	{ "grow up to max", 4, { PUTS("ab", 0), GROW(2, 0) }, S("ab") },
	{ "max: exactly max fits", 3, { PUTS("abc", 0) }, S("abc") },
	{ "max: puts past max keeps content", 3, { PUTS("ab", 0), PUTS("cd", FL_ELIMIT) }, S("ab") },
	{ "max: putc past max", 2, { PUTS("ab", 0), PUTC("c", FL_ELIMIT), PUTC("d", FL_ELIMIT) }, S("ab") },
	{ "max: put on empty past max", 2, { PUT("abc", 3, FL_ELIMIT) }, S("") },
	{ "max: zero bytes at max", 2, { PUTS("ab", 0), PUT("", 0, 0) }, S("ab") },
	{ "max: truncate", 2, { PUTS("ab", 0), PUTC("c", FL_ELIMIT), TRUNCATE(1), PUTC("y", 0) }, S("ay") },
	{ "max: room after clear", 3, { PUTS("abc", 0), CLEAR, PUTS("def", 0) }, S("def") },
	{ "max: larger than first block", 100, { PUTS(L100, 0), PUTC("x", FL_ELIMIT) }, S(L100) },
};

static void test_ops(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(ops_cases); i++) {
		const struct ops_case *c = &ops_cases[i];
		struct fl_buf buf;

		fl_buf_init(&buf, c->max);
		for (size_t j = 0; j < N_ELEMS(c->ops) && c->ops[j].kind != OP_END; j++) {
			const struct op *o = &c->ops[j];
			int rc = 0;
			switch (o->kind) {
			case OP_END:
				break;
			case OP_PUT:
				rc = fl_buf_put(&buf, o->s, o->n);
				break;
			case OP_PUTS:
				rc = fl_buf_puts(&buf, o->s);
				break;
			case OP_PUTC:
				rc = fl_buf_putc(&buf, o->s[0]);
				break;
			case OP_TRUNCATE:
				fl_buf_truncate(&buf, o->n);
				break;
			case OP_CLEAR:
				fl_buf_clear(&buf);
				break;
			case OP_GROW:
				rc = fl_buf_grow(&buf, o->n);
				if (rc == 0 && buf.cap < buf.len + o->n + 1)
					fail_msg("%s: op %zu: cap %zu after grow(%zu) with len %zu", c->name,
						 j, buf.cap, o->n, buf.len);
				break;
			}
			if (rc != o->rc)
				fail_msg("%s: op %zu returned %d, want %d", c->name, j, rc, o->rc);
			if (buf.ptr[buf.len] != '\0')
				fail_msg("%s: op %zu left the buffer without a NUL", c->name, j);
		}
		expect_buf(c->name, &buf, c->want, c->wlen);
		fl_buf_release(&buf);
	}
}

/* ---- printf ---- */

static void test_printf_small(void **state)
{
	struct fl_buf buf = FL_BUF_INIT;

	(void)state;
	assert_int_equal(fl_buf_printf(&buf, "x=%d y=%s z=%c", 42, "abc", '!'), 0);
	expect_buf("first", &buf, S("x=42 y=abc z=!"));
	assert_int_equal(fl_buf_printf(&buf, "|%05.1f|%-3s|%zu", 2.25, "a", (size_t)7), 0);
	expect_buf("appended", &buf, S("x=42 y=abc z=!|002.2|a  |7"));
	assert_int_equal(fl_buf_printf(&buf, "%s", ""), 0);
	expect_buf("empty", &buf, S("x=42 y=abc z=!|002.2|a  |7"));
	fl_buf_release(&buf);
}

struct printf_case {
	const char *name;
	size_t max;	 /* buffer maximum */
	const char *pre; /* content before the printf */
	int width;	 /* the printf writes "<", width - 2 dots, ">" (width >= 2) */
	int rc;
};

static const struct printf_case printf_cases[] = {
	{ "2 bytes", 0, "", 2, 0 },
	{ "255 bytes: fast path", 0, "", 255, 0 },
	{ "256 bytes: slow path", 0, "", 256, 0 },
	{ "257 bytes", 0, "", 257, 0 },
	{ "1000 bytes", 0, "", 1000, 0 },
	{ "5000 bytes after content", 0, "pre:", 5000, 0 },
	{ "300 bytes after content", 0, "pre:", 300, 0 },
	{ "slow path exactly at max", 304, "pre:", 300, 0 },
	{ "slow path one past max", 303, "pre:", 300, FL_ELIMIT },
	{ "slow path far past max", 100, "pre:", 5000, FL_ELIMIT },
	{ "fast path exactly at max", 104, "pre:", 100, 0 },
	{ "fast path one past max", 103, "pre:", 100, FL_ELIMIT },
};

static void test_printf_sizes(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(printf_cases); i++) {
		const struct printf_case *c = &printf_cases[i];
		struct fl_buf buf;
		size_t plen = strlen(c->pre), n = (size_t)c->width;
		char *want = malloc(plen + n + 1);

		assert_non_null(want);
		memcpy(want, c->pre, plen);
		want[plen] = '<';
		memset(want + plen + 1, '.', n - 2);
		want[plen + n - 1] = '>';
		want[plen + n] = '\0';

		fl_buf_init(&buf, c->max);
		assert_int_equal(fl_buf_puts(&buf, c->pre), 0);
		/* want + plen + 1 holds the dots and then ">": print n - 2 of them. */
		int rc = fl_buf_printf(&buf, "<%.*s>", c->width - 2, want + plen + 1);
		if (rc != c->rc)
			fail_msg("%s: returned %d, want %d", c->name, rc, c->rc);
		if (c->rc == 0)
			expect_buf(c->name, &buf, want, plen + n);
		else
			expect_buf(c->name, &buf, c->pre, plen);
		fl_buf_release(&buf);
		free(want);
	}
}

/* The slow path formats into the buffer itself: check the real characters land. */
static void test_printf_long_content(void **state)
{
	struct fl_buf buf = FL_BUF_INIT;
	char arg[600];

	(void)state;
	for (size_t i = 0; i < sizeof(arg) - 1; i++)
		arg[i] = (char)('a' + i % 26);
	arg[sizeof(arg) - 1] = '\0';
	assert_int_equal(fl_buf_puts(&buf, "head "), 0);
	assert_int_equal(fl_buf_printf(&buf, "[%s] %d", arg, -12345), 0);
	assert_int_equal(buf.len, 5 + 1 + 599 + 1 + 7);
	assert_memory_equal(buf.ptr, "head [", 6);
	assert_memory_equal(buf.ptr + 6, arg, 599);
	assert_string_equal(buf.ptr + 6 + 599, "] -12345");
	/* And appending after the slow path keeps going from the right place. */
	assert_int_equal(fl_buf_putc(&buf, '.'), 0);
	assert_string_equal(buf.ptr + 6 + 599, "] -12345.");
	assert_int_equal(buf.len, 5 + 1 + 599 + 1 + 7 + 1);
	fl_buf_release(&buf);
}

/* ---- detach and release ---- */

static void test_detach_empty(void **state)
{
	struct fl_buf buf = FL_BUF_INIT;
	size_t len = 99;

	(void)state;
	char *p = fl_buf_detach(&buf, &len);
	assert_non_null(p);
	assert_ptr_not_equal(p, fl_buf_nul); /* the caller may free() it */
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	expect_buf("after detach", &buf, "", 0);
	assert_int_equal(buf.cap, 0);
	free(p);

	/* Emptied by clear: storage exists, content is empty. */
	assert_int_equal(fl_buf_puts(&buf, "gone"), 0);
	fl_buf_clear(&buf);
	p = fl_buf_detach(&buf, &len);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);

	/* NULL len_out is allowed. */
	p = fl_buf_detach(&buf, NULL);
	assert_string_equal(p, "");
	free(p);
	fl_buf_release(&buf);
}

static void test_detach_nonempty(void **state)
{
	struct fl_buf buf;
	size_t len = 0;

	(void)state;
	fl_buf_init(&buf, 50);
	assert_int_equal(fl_buf_put(&buf, "ab\0cd", 5), 0);
	char *p = fl_buf_detach(&buf, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "ab\0cd", 6); /* NUL-terminated too */
	expect_buf("after detach", &buf, "", 0);
	assert_int_equal(buf.cap, 0);

	/* The buffer is usable again and the detached storage is independent. */
	assert_int_equal(fl_buf_puts(&buf, "new"), 0);
	expect_buf("reused", &buf, S("new"));
	assert_memory_equal(p, "ab\0cd", 6);
	free(p);

	p = fl_buf_detach(&buf, NULL);
	assert_string_equal(p, "new");
	free(p);
	fl_buf_release(&buf);
}

static void test_release_reuse(void **state)
{
	struct fl_buf buf;

	(void)state;
	fl_buf_init(&buf, 8);
	assert_int_equal(fl_buf_puts(&buf, "12345678"), 0);
	fl_buf_release(&buf);
	expect_buf("released", &buf, "", 0);
	assert_int_equal(buf.cap, 0);
	assert_int_equal(buf.max, 8); /* the limit survives */

	assert_int_equal(fl_buf_puts(&buf, "abc"), 0);
	expect_buf("reused", &buf, S("abc"));
	assert_int_equal(fl_buf_puts(&buf, "defghi"), FL_ELIMIT);
	expect_buf("limit after reuse", &buf, S("abc"));
	fl_buf_release(&buf);
	fl_buf_release(&buf); /* twice is fine */
	expect_buf("released twice", &buf, "", 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_ops),
		cmocka_unit_test(test_printf_small),
		cmocka_unit_test(test_printf_sizes),
		cmocka_unit_test(test_printf_long_content),
		cmocka_unit_test(test_detach_empty),
		cmocka_unit_test(test_detach_nonempty),
		cmocka_unit_test(test_release_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
