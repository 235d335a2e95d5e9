/*
 * Tests for core/json_patch.c: the RFC 6902 patch between two documents,
 * as exact text (members in canonical order, values canonical), for adds,
 * removes, nested replaces, lists replaced whole, type changes and member
 * names that RFC 6901 escapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/json_patch.h"
#include "core/banned.h"

static struct fl_node *parse(struct fl_arena *arena, const char *text)
{
	struct fl_node *n = NULL;
	struct fl_source src = { "t", text, strlen(text) };
	assert_int_equal(fl_json_parse(&n, arena, &src, NULL), 0);
	return n;
}

static void test_patches(void **state)
{
	static const struct {
		const char *from, *to, *want;
	} cases[] = {
		{ "{\"a\":1}", "{\"a\":1}", "[]" },
		{ "{}", "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":1}]" },
		{ "{\"a\":1,\"b\":2}", "{\"b\":2}", "[{\"op\":\"remove\",\"path\":\"/a\"}]" },
		{ "{\"a\":1}", "{\"a\":2}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":2}]" },
		{ "{\"t\":{\"x\":1,\"y\":[1,2]}}", "{\"t\":{\"x\":1,\"y\":[1,3],\"z\":null}}",
		  "[{\"op\":\"replace\",\"path\":\"/t/y\",\"value\":[1,3]},"
		  "{\"op\":\"add\",\"path\":\"/t/z\",\"value\":null}]" },
		{ "{\"a\":{\"b\":1}}", "{\"a\":\"s\"}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":\"s\"}]" },
		{ "{\"a/b\":1,\"m~n\":1}", "{\"a/b\":2}",
		  "[{\"op\":\"replace\",\"path\":\"/a~1b\",\"value\":2},{\"op\":\"remove\",\"path\":\"/m~0n\"}]" },
		{ "{\"b\":1,\"a\":1}", "{\"c\":{\"z\":1,\"y\":2},\"a\":1}",
		  "[{\"op\":\"remove\",\"path\":\"/b\"},{\"op\":\"add\",\"path\":\"/c\",\"value\":{\"y\":2,\"z\":1}}]" },
		{ "{\"n\":1}", "{\"n\":1.0}", "[{\"op\":\"replace\",\"path\":\"/n\",\"value\":1.0}]" },
		{ "[1]", "[2]", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[2]}]" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_arena arena;
		struct fl_buf out = FL_BUF_INIT;
		fl_arena_init(&arena, 0);
		assert_int_equal(fl_json_patch_diff(&out, parse(&arena, cases[i].from), parse(&arena, cases[i].to), NULL), 0);
		if (strcmp(out.ptr, cases[i].want) != 0)
			fail_msg("case %zu: %s -> %s\n got  %s\n want %s", i, cases[i].from, cases[i].to, out.ptr,
				 cases[i].want);
		fl_buf_release(&out);
		fl_arena_release(&arena);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
