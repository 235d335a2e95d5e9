/*
 * Tests of reconcile/fleet/syntax.c: the names that may reach a file system or a
 * URL, and durations, as tables of cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "reconcile/fleet/syntax.h"
#include "core/banned.h"

static void test_names(void **state)
{
	static const struct {
		const char *s;
		bool tenant, ident;
	} cases[] = {
		{ "acme", true, true },	    { "a", true, true },	 { "0-a", true, true },
		{ "-a", false, false },	    { "Acme", false, true },	 { "a_b", false, true },
		{ "a.b", false, true },	    { "a..b", false, false },	 { "..", false, false },
		{ "../etc", false, false }, { "a/b", false, false },	 { "", false, false },
		{ ".a", false, false },	    { "us-east-1", true, true }, { "a b", false, false },
	};
	char long63[64], long64[65], long129[130];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (fl_tenant_name_valid(cases[i].s, strlen(cases[i].s)) != cases[i].tenant)
			fail_msg("fl_tenant_name_valid('%s')", cases[i].s);
		if (fl_ident_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ident)
			fail_msg("fl_ident_valid('%s')", cases[i].s);
	}
	memset(long63, 'a', 63);
	long63[63] = '\0';
	memset(long64, 'a', 64);
	long64[64] = '\0';
	memset(long129, 'a', 129);
	long129[129] = '\0';
	assert_true(fl_tenant_name_valid(long63, 63));
	assert_false(fl_tenant_name_valid(long64, 64));
	assert_true(fl_ident_valid(long129, 128));
	assert_false(fl_ident_valid(long129, 129));
}

static void test_kinds(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "service", true },	      { "AWS::S3::Bucket", true },   { "AWS::SSM::Parameter", true },
		{ "Acme::Db::Table2", true }, { "AWS::S3", false },	     { "AWS::S3::Bucket::X", false },
		{ "AWS:S3:Bucket", false },   { "AWS::::Bucket", false },    { "::S3::Bucket", false },
		{ "AWS::S3::", false },	      { "AWS::S3::Buck-et", false }, { "AWS::S3::Bucket:", false },
		{ "AWS::S.3::Bucket", false }, { "../x", false },	     { "", false },
	};
	char part65[80];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (fl_kind_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
			fail_msg("fl_kind_valid('%s')", cases[i].s);
	/* Each part is at most 64 characters. */
	snprintf(part65, sizeof(part65), "AWS::S3::%065d", 0);
	assert_false(fl_kind_valid(part65, strlen(part65)));
	part65[strlen(part65) - 1] = '\0';
	assert_true(fl_kind_valid(part65, strlen(part65)));
}

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		unsigned secs;
	} cases[] = {
		{ "30s", true, 30 },
		{ "15m", true, 900 },
		{ "2h", true, 7200 },
		{ "1h30m", true, 5400 },
		{ "1d", true, 86400 },
		{ "1d2h3m4s", true, 93784 },
		{ "0s", true, 0 },
		{ "4294967295s", true, 4294967295u },
		{ "4294967296s", false, 0 },   /* past what an unsigned holds */
		{ "49711d", false, 0 },        /* the total too */
		{ "30m1h", false, 0 },         /* units in decreasing order */
		{ "1m1m", false, 0 },          /* each unit once */
		{ "30", false, 0 },            /* a unit is needed */
		{ "", false, 0 },
		{ "m", false, 0 },
		{ "1.5h", false, 0 },
		{ "-1s", false, 0 },
		{ "1 h", false, 0 },
		{ "1w", false, 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = 12345;
		bool ok = fl_duration_parse(&got, cases[i].s);
		if (ok != cases[i].ok)
			fail_msg("fl_duration_parse('%s'): %s, want %s", cases[i].s, ok ? "ok" : "refused",
				 cases[i].ok ? "ok" : "refused");
		if (ok && got != cases[i].secs)
			fail_msg("fl_duration_parse('%s'): %u s, want %u", cases[i].s, got, cases[i].secs);
		if (!ok && got != 12345)
			fail_msg("fl_duration_parse('%s') wrote %u although it refused", cases[i].s, got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
