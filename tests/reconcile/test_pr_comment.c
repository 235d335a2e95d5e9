/*
 * Tests of reconcile/status/pr_comment.c without a forge: the marker that
 * finds flotilla's comment again, characters counted as the forges count
 * them, and the cut of a plan to a forge's limit (between tenants, else at
 * a line end with its blocks closed, and the note saying what was left
 * out). tests/e2e/plan_pr.sh drives the forges' comment APIs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "reconcile/status/pr_comment.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define MARKER "<!-- flotilla:plan demo -->"
#define WHY "GitHub's 65,536-character limit"
#define NOTE(n, s) "\n… " #n " more tenant" s " not shown: the plan is cut to " WHY "; run `flotilla plan` for all of it\n"

/* ---- the marker ---- */

static void test_marker(void **state)
{
	static const struct {
		const char *name, *want;
	} names[] = {
		{ "demo", "<!-- flotilla:plan demo -->" },
		{ NULL, "<!-- flotilla:plan -->" },
		{ "", "<!-- flotilla:plan -->" },
		{ "a b-->x", "<!-- flotilla:plan a_b--_x -->" }, /* no '>': the comment cannot end early */
		{ "fleet.eu_1-b", "<!-- flotilla:plan fleet.eu_1-b -->" },
	};
	(void)state;
	for (size_t i = 0; i < N_ELEMS(names); i++) {
		struct fl_buf b = FL_BUF_INIT;
		fl_pr_marker(&b, names[i].name);
		if (strcmp(b.ptr, names[i].want) != 0)
			fail_msg("name '%s': got '%s', want '%s'", names[i].name ? names[i].name : "(null)", b.ptr,
				 names[i].want);
		fl_buf_release(&b);
	}
}

static void test_ours(void **state)
{
	static const struct {
		const char *body;
		bool ours;
	} bodies[] = {
		{ MARKER "\n### flotilla plan", true },
		{ MARKER, true },
		{ MARKER "\r\nplan", true },
		{ " " MARKER "\nplan", false },                      /* only at the very start */
		{ "\n" MARKER "\nplan", false },
		{ "LGTM, but see\n" MARKER "\n", false },             /* quoted by someone */
		{ "> " MARKER "\n", false },
		{ MARKER " and more on its line", false },
		{ "<!-- flotilla:plan demo2 -->\nplan", false },     /* another fleet's */
		{ "<!-- flotilla:plan -->\nplan", false },
		{ "<!-- flotilla:plan dem -->\nplan", false },
		{ "", false },
	};
	(void)state;
	for (size_t i = 0; i < N_ELEMS(bodies); i++)
		if (fl_pr_comment_ours(bodies[i].body, MARKER) != bodies[i].ours)
			fail_msg("body %zu '%s': ours should be %d", i, bodies[i].body, bodies[i].ours);
}

static void test_chars(void **state)
{
	static const struct {
		const char *s;
		size_t chars;
	} cases[] = {
		{ "", 0 },
		{ "abc", 3 },
		{ "é", 1 },                     /* 2 bytes */
		{ "…", 1 },                     /* 3 bytes */
		{ "🌈", 1 },                    /* 4 bytes: one code point, as GitHub counts */
		{ "a🌈b…c", 5 },
		{ "\xff\xfe", 2 },              /* invalid bytes: one each */
		{ "\xe2\x80", 2 },              /* a sequence cut short */
		{ "\xc0\xaf", 2 },              /* overlong */
	};
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		size_t got = fl_pr_chars(cases[i].s, strlen(cases[i].s));
		if (got != cases[i].chars)
			fail_msg("case %zu: %zu characters, want %zu", i, got, cases[i].chars);
	}
}

/* ---- the cut ---- */

/* A plan of a head and tenants (each a string), their starts computed. */
struct plan_fx {
	struct fl_buf text;
	size_t starts[8];
	struct fl_pr_plan plan;
};

static void plan_of(struct plan_fx *fx, const char *head, const char *const *tenants, size_t n)
{
	fl_buf_init(&fx->text, 0);
	fl_buf_puts(&fx->text, head);
	for (size_t i = 0; i < n; i++) {
		fx->starts[i] = fx->text.len;
		fl_buf_puts(&fx->text, tenants[i]);
	}
	fx->plan = (struct fl_pr_plan){ fx->text.ptr, fx->text.len, fx->starts, n };
}

static size_t chars_of(const char *s)
{
	return fl_pr_chars(s, strlen(s));
}

#define HEAD "### plan\n\n"
#define T1 "<details><summary>t1 🌈</summary>\n\n```diff\n+ a\n```\n\n</details>\n"
#define T2 "<details><summary>t2 é</summary>\n\n```diff\n+ b\n```\n\n</details>\n"
#define C50 "cccccccccccccccccccccccccccccccccccccccccccccccccc"
/* Longer than the note, so that leaving it out makes room for the note. */
#define T3 "<details><summary>t3</summary>\n\n```diff\n+ " C50 C50 C50 "\n```\n\n</details>\n"

static void test_cut(void **state)
{
	static const char *const tenants[] = { T1, T2, T3 };
	const size_t whole = chars_of(MARKER "\n" HEAD T1 T2 T3);
	const size_t note4 = chars_of(NOTE(4, "s"));
	struct {
		const char *name;
		size_t limit;
		const char *want;
	} cases[] = {
		{ "exactly the limit: whole, no note", whole, MARKER "\n" HEAD T1 T2 T3 },
		{ "one over: the last tenant goes", whole - 1, MARKER "\n" HEAD T1 T2 NOTE(1, "") },
		/* The note is sized for the most tenants it may name, so two tenants need that much room. */
		{ "two tenants and the note, just",
		  chars_of(MARKER "\n" HEAD T1 T2) + chars_of(NOTE(4, "s")), MARKER "\n" HEAD T1 T2 NOTE(1, "") },
		{ "one short of that", chars_of(MARKER "\n" HEAD T1 T2) + note4 - 1, MARKER "\n" HEAD T1 NOTE(2, "s") },
	};
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct plan_fx fx;
		struct fl_buf out = FL_BUF_INIT;
		plan_of(&fx, HEAD, tenants, N_ELEMS(tenants));
		fl_pr_comment_body(&out, MARKER, &fx.plan, cases[i].limit, WHY);
		if (strcmp(out.ptr, cases[i].want) != 0)
			fail_msg("%s (limit %zu):\n--- got:\n%s\n--- want:\n%s", cases[i].name, cases[i].limit, out.ptr,
				 cases[i].want);
		if (chars_of(out.ptr) > cases[i].limit)
			fail_msg("%s: %zu characters, over the limit %zu", cases[i].name, chars_of(out.ptr),
				 cases[i].limit);
		fl_buf_release(&out);
		fl_buf_release(&fx.text);
	}
}

/* Multi-byte characters count one each: a limit in bytes would cut much earlier. */
static void test_cut_counts_characters(void **state)
{
	struct fl_buf t = FL_BUF_INIT, out = FL_BUF_INIT;
	struct plan_fx fx;
	(void)state;
	for (size_t i = 0; i < 100; i++)
		fl_buf_puts(&t, "🌈🌈🌈🌈🌈🌈🌈🌈🌈\n"); /* 10 characters, 37 bytes */
	const char *tenants[] = { t.ptr };
	plan_of(&fx, "", tenants, 1);
	size_t limit = chars_of(MARKER "\n") + 1000;
	fl_pr_comment_body(&out, MARKER, &fx.plan, limit, WHY);
	assert_string_equal(out.ptr + strlen(MARKER "\n"), t.ptr);
	fl_buf_release(&out);
	fl_pr_comment_body(&out, MARKER, &fx.plan, limit - 1, WHY);
	assert_true(chars_of(out.ptr) <= limit - 1);
	assert_true(out.len > limit); /* far more bytes than characters: counted as characters */
	fl_buf_release(&out);
	fl_buf_release(&t);
	fl_buf_release(&fx.text);
}

/* Not even the first tenant fits: it is cut at a line end, its code fence and <details> closed. */
static void test_cut_inside_tenant(void **state)
{
	struct fl_buf t = FL_BUF_INIT, out = FL_BUF_INIT;
	struct plan_fx fx;
	(void)state;
	fl_buf_puts(&t, "<details><summary>big</summary>\n\n````json\n");
	for (size_t i = 0; i < 50; i++)
		fl_buf_printf(&t, "  \"k%02zu\": \"``` </details>\",\n", i);
	fl_buf_puts(&t, "````\n\n</details>\n");
	const char *tenants[] = { t.ptr, T3 };
	plan_of(&fx, HEAD, tenants, 2);
	size_t limit = 400 + chars_of(NOTE(3, "s"));
	fl_pr_comment_body(&out, MARKER, &fx.plan, limit, WHY);
	assert_true(chars_of(out.ptr) <= limit);
	const char *end = strstr(out.ptr, "\n````\n\n</details>\n" NOTE(2, "s"));
	if (!end || strlen(end) != strlen("\n````\n\n</details>\n" NOTE(2, "s")))
		fail_msg("the open fence and <details> are not closed before the note:\n%s", out.ptr);
	/* What is kept is the plan up to a line end. */
	size_t kept = (size_t)(end - out.ptr) + 1 - strlen(MARKER "\n");
	assert_memory_equal(out.ptr + strlen(MARKER "\n"), fx.text.ptr, kept);
	assert_int_equal(fx.text.ptr[kept - 1], '\n');
	assert_true(kept > strlen(HEAD) + 100); /* part of the tenant, not the head alone */
	fl_buf_release(&out);
	fl_buf_release(&t);
	fl_buf_release(&fx.text);
}

/* Tenants not held in the text (start == len) count as left out; one tenant reads "tenant". */
static void test_note_counts(void **state)
{
	static const char *const tenants[] = { T1, T2 };
	struct plan_fx fx;
	struct fl_buf out = FL_BUF_INIT;
	size_t starts[5];
	(void)state;
	plan_of(&fx, HEAD, tenants, 2);
	memcpy(starts, fx.starts, 2 * sizeof(*starts));
	starts[2] = starts[3] = starts[4] = fx.text.len; /* three more, not held */
	fx.plan.starts = starts;
	fx.plan.ntenants = 5;
	size_t limit = chars_of(MARKER "\n" HEAD T1 T2) + chars_of(NOTE(6, "s"));
	fl_pr_comment_body(&out, MARKER, &fx.plan, limit, WHY);
	assert_string_equal(out.ptr, MARKER "\n" HEAD T1 T2 NOTE(3, "s"));
	fl_buf_release(&out);
	fl_buf_release(&fx.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marker),
		cmocka_unit_test(test_ours),
		cmocka_unit_test(test_chars),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_cut_counts_characters),
		cmocka_unit_test(test_cut_inside_tenant),
		cmocka_unit_test(test_note_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
