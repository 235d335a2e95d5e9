/*
 * Tests for core/clock.c: FLOTILLA_NOW fixes the time (an empty one does
 * not), the text form of times in UTC on both sides of the epoch and of a
 * leap day, reading that form back, and a monotonic clock that never runs
 * backwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_now_and_format(void **state)
{
	static const struct {
		const char *env; /* NULL: unset */
		bool clock;	 /* true: the real clock */
		long long want;
	} nows[] = {
		{ "1795610700", false, 1795610700LL },
		{ "0", false, 0 },
		{ "42", false, 42 },
		{ "", true, 0 },
		{ NULL, true, 0 },
	};
	static const struct {
		long long t;
		const char *want;
	} formats[] = {
		{ 0, "1970-01-01T00:00:00Z" },		 { 1795610700LL, "2026-11-25T12:45:00Z" },
		{ 951868799LL, "2000-02-29T23:59:59Z" }, { 951868800LL, "2000-03-01T00:00:00Z" },
		{ -1, "1969-12-31T23:59:59Z" },		 { 253402300799LL, "9999-12-31T23:59:59Z" },
	};
	(void)state;

	for (size_t i = 0; i < N_ELEMS(nows); i++) {
		if (nows[i].env)
			assert_int_equal(setenv("FLOTILLA_NOW", nows[i].env, 1), 0);
		else
			assert_int_equal(unsetenv("FLOTILLA_NOW"), 0);
		long long before = (long long)time(NULL);
		long long got = fl_now();
		long long after = (long long)time(NULL);
		if (!nows[i].clock && got != nows[i].want)
			fail_msg("FLOTILLA_NOW='%s': got %lld, want %lld", nows[i].env, got, nows[i].want);
		if (nows[i].clock && (got < before || got > after))
			fail_msg("FLOTILLA_NOW %s: got %lld, want the clock (%lld..%lld)",
				 nows[i].env ? "empty" : "unset", got, before, after);
	}
	for (size_t i = 0; i < N_ELEMS(formats); i++) {
		char out[32];
		memset(out, '#', sizeof(out));
		fl_time_format(out, formats[i].t);
		if (strcmp(out, formats[i].want) != 0)
			fail_msg("fl_time_format(%lld): got '%s', want '%s'", formats[i].t, out,
				 formats[i].want);
	}
}


static void test_parse(void **state)
{
	static const struct {
		const char *text;
		long long want;
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 0 },		   { "2026-11-25T12:45:00Z", 1795610700LL },
		{ "2000-02-29T23:59:59Z", 951868799LL },   { "9999-12-31T23:59:59Z", 253402300799LL },
		{ "2026-11-25", 0 },			   { "", 0 },
		{ NULL, 0 },
	};
	(void)state;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		long long got = fl_time_parse(cases[i].text);
		if (got != cases[i].want)
			fail_msg("fl_time_parse('%s'): got %lld, want %lld",
				 cases[i].text ? cases[i].text : "(null)", got, cases[i].want);
	}
}

static void test_mono_ms_never_goes_back(void **state)
{
	(void)state;
	long long prev = fl_mono_ms();
	for (int i = 0; i < 1000; i++) {
		long long now = fl_mono_ms();
		assert_true(now >= prev);
		prev = now;
	}
	struct timespec ts = { 0, 20 * 1000000L };
	long long before = fl_mono_ms();
	nanosleep(&ts, NULL);
	assert_true(fl_mono_ms() - before >= 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_now_and_format),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_mono_ms_never_goes_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
