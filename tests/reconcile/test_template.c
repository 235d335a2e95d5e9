/*
 * Tests of reconcile/render/template.c: the scanner of {{...}} (where a reference
 * opens and closes, its trimmed name, unterminated and empty references),
 * the expander with a lookup callback (text around references kept, names
 * refused in the caller's words, long outputs and full buffers), and the
 * tenant names that driver settings use. Tables of cases, named on failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "reconcile/render/template.h"
#include "core/banned.h"

#define CHECK(name, cond, ...) \
	do { \
		if (!(cond)) { \
			print_error("case '%s': ", (name)); \
			print_error(__VA_ARGS__); \
			print_error("\n"); \
			fail(); \
		} \
	} while (0)

struct scan_case {
	const char *name;
	const char *s;
	size_t from;
	enum fl_template_scan want;
	size_t open, end; /* when found */
	const char *ref;  /* trimmed name, for FL_TEMPLATE_REF */
};

static void test_next(void **state)
{
	static const struct scan_case cases[] = {
		{ "none", "plain text", 0, FL_TEMPLATE_NONE, 10, 0, NULL },
		{ "empty text", "", 0, FL_TEMPLATE_NONE, 0, 0, NULL },
		{ "single braces", "{a} }", 0, FL_TEMPLATE_NONE, 5, 0, NULL },
		{ "closing only", "a }} b", 0, FL_TEMPLATE_NONE, 6, 0, NULL },
		{ "one", "a{{x}}b", 0, FL_TEMPLATE_REF, 1, 6, "x" },
		{ "whole", "{{region}}", 0, FL_TEMPLATE_REF, 0, 10, "region" },
		{ "blanks trimmed", "{{ \t tenant.name \t }}", 0, FL_TEMPLATE_REF, 0, 21, "tenant.name" },
		{ "inner blank kept", "{{a b}}", 0, FL_TEMPLATE_REF, 0, 7, "a b" },
		{ "from skips", "{{a}}{{b}}", 5, FL_TEMPLATE_REF, 5, 10, "b" },
		{ "from past all", "{{a}}x", 5, FL_TEMPLATE_NONE, 6, 0, NULL },
		{ "triple open", "{{{a}}}", 0, FL_TEMPLATE_REF, 0, 6, "{a" },
		{ "unterminated", "x{{region", 0, FL_TEMPLATE_UNTERMINATED, 1, 0, NULL },
		{ "unterminated, one brace", "x{{a}", 0, FL_TEMPLATE_UNTERMINATED, 1, 0, NULL },
		{ "unterminated at end", "x{{", 0, FL_TEMPLATE_UNTERMINATED, 1, 0, NULL },
		{ "empty", "{{}}", 0, FL_TEMPLATE_EMPTY, 0, 4, NULL },
		{ "blank", "a{{ \t }}", 0, FL_TEMPLATE_EMPTY, 1, 8, NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct scan_case *c = &cases[i];
		struct fl_template_ref ref;
		enum fl_template_scan got = fl_template_next(&ref, c->s, strlen(c->s), c->from);

		CHECK(c->name, got == c->want, "scan %d, want %d", (int)got, (int)c->want);
		CHECK(c->name, ref.open == c->open, "open %zu, want %zu", ref.open, c->open);
		if (got == FL_TEMPLATE_REF || got == FL_TEMPLATE_EMPTY)
			CHECK(c->name, ref.end == c->end, "end %zu, want %zu", ref.end, c->end);
		if (got == FL_TEMPLATE_REF)
			CHECK(c->name,
			      ref.namelen == strlen(c->ref) && memcmp(ref.name, c->ref, ref.namelen) == 0,
			      "name '%.*s'", (int)ref.namelen, ref.name);
	}
	assert_string_equal(fl_template_problem(FL_TEMPLATE_UNTERMINATED), "unterminated '{{'");
	assert_string_equal(fl_template_problem(FL_TEMPLATE_EMPTY), "empty '{{}}'");
}

/* A lookup that knows "a" (-> "1"), "long" (-> 1000 x 'x') and refuses the rest. */
static int lookup(struct fl_buf *out, const char *name, size_t len, struct fl_error *err, void *payload)
{
	int *calls = payload;

	(*calls)++;
	if (len == 1 && name[0] == 'a')
		return fl_buf_puts(out, "1");
	if (len == 4 && memcmp(name, "long", 4) == 0) {
		int rc = 0;
		for (int i = 0; i < 100 && !rc; i++)
			rc = fl_buf_puts(out, "xxxxxxxxxx");
		return rc;
	}
	return fl_error_set(err, FL_EINPUT, "no such name '%.*s' here", (int)len, name);
}

struct expand_case {
	const char *name;
	const char *tmpl;
	const char *what;
	int rc;
	const char *want; /* the output, or the error message */
	int calls;	  /* of the lookup */
};

static void test_expand(void **state)
{
	static const struct expand_case cases[] = {
		{ "no refs", "plain {x} }}", NULL, 0, "plain {x} }}", 0 },
		{ "empty text", "", NULL, 0, "", 0 },
		{ "text around kept", "<{{a}}>{{ a }}.", NULL, 0, "<1>1.", 2 },
		{ "ref only", "{{a}}", NULL, 0, "1", 1 },
		{ "refused in the caller's words", "x {{b}} y", NULL, FL_EINPUT, "no such name 'b' here", 1 },
		{ "stops at the first refusal", "{{b}}{{a}}", NULL, FL_EINPUT, "no such name 'b' here", 1 },
		{ "unterminated", "x {{a", NULL, FL_EINPUT, "unterminated '{{' in template", 0 },
		{ "unterminated after a ref", "{{a}}{{", NULL, FL_EINPUT, "unterminated '{{' in template",
		  1 },
		{ "empty", "x {{ }}", NULL, FL_EINPUT, "empty '{{}}' in template", 0 },
		{ "unterminated, named", "a{{region", "driver command", FL_EINPUT,
		  "unterminated '{{' in driver command 'a{{region'", 0 },
		{ "empty, named", "{{}}", "driver endpoint", FL_EINPUT,
		  "empty '{{}}' in driver endpoint '{{}}'", 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct expand_case *c = &cases[i];
		struct fl_buf out = FL_BUF_INIT;
		struct fl_error err = FL_ERROR_INIT;
		int calls = 0;
		int rc = fl_template_expand(&out, c->tmpl, c->what, lookup, &calls, &err);

		CHECK(c->name, rc == c->rc, "rc %d, want %d", rc, c->rc);
		CHECK(c->name, strcmp(rc ? err.msg : out.ptr, c->want) == 0, "got '%s'",
		      rc ? err.msg : out.ptr);
		CHECK(c->name, calls == c->calls, "%d lookups, want %d", calls, c->calls);
		fl_buf_release(&out);
	}
}

/* Outputs far past any fixed buffer; a maximum on out is an error that names the template. */
static void test_expand_long(void **state)
{
	struct fl_buf out = FL_BUF_INIT, tmpl = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	int calls = 0;

	(void)state;
	for (int i = 0; i < 200; i++)
		assert_int_equal(fl_buf_puts(&tmpl, "-{{long}}"), 0);
	assert_int_equal(fl_template_expand(&out, tmpl.ptr, NULL, lookup, &calls, &err), 0);
	assert_int_equal(out.len, 200 * 1001);
	assert_int_equal(calls, 200);
	assert_memory_equal(out.ptr + out.len - 1001, "-xxxxxxxxxx", 11);

	fl_buf_release(&out);
	fl_buf_init(&out, 500);
	assert_int_equal(fl_template_expand(&out, "{{long}}", "driver endpoint", lookup, &calls, &err),
			 FL_ELIMIT);
	assert_string_equal(err.msg, "driver endpoint '{{long}}' is too long");
	fl_buf_clear(&out);
	assert_int_equal(fl_template_expand(&out, tmpl.ptr, NULL, lookup, &calls, &err), FL_ELIMIT);
	assert_true(strncmp(err.msg, "template '-{{long}}-{{long}}", 28) == 0);
	fl_buf_release(&out);
	fl_buf_release(&tmpl);
}

static void test_name_of(void **state)
{
	(void)state;
	assert_int_equal(fl_template_name_of("tenant.name", 11), FL_TEMPLATE_TENANT_NAME);
	assert_int_equal(fl_template_name_of("tenant.account", 14), FL_TEMPLATE_TENANT_ACCOUNT);
	assert_int_equal(fl_template_name_of("region", 6), FL_TEMPLATE_REGION);
	assert_int_equal(fl_template_name_of("regions", 6), FL_TEMPLATE_REGION);
	assert_int_equal(fl_template_name_of("regions", 7), FL_TEMPLATE_OTHER);
	assert_int_equal(fl_template_name_of("tenant.labels.x", 15), FL_TEMPLATE_OTHER);
	assert_int_equal(fl_template_name_of("", 0), FL_TEMPLATE_OTHER);
}

struct tenant_case {
	const char *name;
	const char *tmpl;
	bool with_tenant, region_allowed, path_safe;
	const char *account;
	int rc;
	const char *want;
};

static void test_tenant_lookup(void **state)
{
	static const struct tenant_case cases[] = {
		{ "command", "run {{tenant.name}} {{tenant.account}} {{region}}", true, true, false, "123", 0,
		  "run acme 123 eu-west-1" },
		{ "command, unknown", "{{vars.colour}}", true, true, false, "123", FL_EINPUT,
		  "unknown template variable 'vars.colour' in driver command (expected tenant.name, "
		  "tenant.account or region)" },
		{ "endpoint", "https://x/{{tenant.account}}/{{ tenant.name }}", true, false, true, "a-1", 0,
		  "https://x/a-1/acme" },
		{ "endpoint, region refused", "https://x/{{region}}", true, false, true, "a-1", FL_EINPUT,
		  "unknown template variable 'region' in driver endpoint (expected tenant.name or "
		  "tenant.account)" },
		{ "endpoint, unsafe account", "https://x/{{tenant.account}}", true, false, true, "../etc",
		  FL_EINPUT, "account '../etc' cannot go into the driver endpoint" },
		{ "command, account as it is", "{{tenant.account}}", true, true, false, "../etc", 0,
		  "../etc" },
		{ "checking only", "{{tenant.name}}-{{tenant.account}}", false, false, true, NULL, 0, "t-t" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tenant_case *c = &cases[i];
		struct fl_tenant tenant;
		struct fl_template_tenant tt = { c->with_tenant ? &tenant : NULL, "eu-west-1",
						 c->region_allowed, c->path_safe,
						 c->region_allowed ? "driver command" : "driver endpoint" };
		struct fl_buf out = FL_BUF_INIT;
		struct fl_error err = FL_ERROR_INIT;
		int rc;

		memset(&tenant, 0, sizeof(tenant));
		tenant.name = "acme";
		tenant.account = c->account;
		rc = fl_template_expand(&out, c->tmpl, tt.where, fl_template_tenant_lookup, &tt, &err);
		CHECK(c->name, rc == c->rc, "rc %d, want %d", rc, c->rc);
		CHECK(c->name, strcmp(rc ? err.msg : out.ptr, c->want) == 0, "got '%s'",
		      rc ? err.msg : out.ptr);
		fl_buf_release(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next),	      cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_long),   cmocka_unit_test(test_name_of),
		cmocka_unit_test(test_tenant_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
