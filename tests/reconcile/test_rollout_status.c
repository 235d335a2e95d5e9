/*
 * Tests for the wave descriptions of reconcile/rollout/rollout_status.c: a
 * table of wave counts and the text each description gives, rollbacks
 * included ("1 rolled back to abc1234"); every one fits a status (140 bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "reconcile/rollout/rollout_internal.h"
#include "core/banned.h"

#define SHA_A "abc1234def5678abc1234def5678abc1234def56"

struct describe_case {
	const char *name;
	void (*describe)(const struct fl_wave_report *wr, char *out, size_t cap);
	struct fl_wave_report wr;
	const char *want;
};

static const struct describe_case cases[] = {
	{ "halted", fl_rollout_describe_halted, { .failed = 1, .total = 2 },
	  "halted: 1 of 2 failed (tolerance 0)" },
	{ "halted, rolled back", fl_rollout_describe_halted,
	  { .failed = 1, .total = 2, .rolled_back = 1, .rolled_back_to = SHA_A },
	  "halted: 1 of 2 failed (tolerance 0), 1 rolled back to abc1234" },
	{ "halted, rolled back to several", fl_rollout_describe_halted,
	  { .failed = 3, .total = 9, .tolerance = 2, .rolled_back = 3, .rolled_back_to = SHA_A,
	    .rolled_back_mixed = true },
	  "halted: 3 of 9 failed (tolerance 2), 3 rolled back to abc1234 and others" },
	{ "running", fl_rollout_describe_running, { .done = 3, .total = 10, .failed = 1, .tolerance = 2 },
	  "applying: 3/10 done, 1 failed (tolerance 2)" },
	{ "running, rolled back", fl_rollout_describe_running,
	  { .done = 3, .total = 10, .failed = 1, .tolerance = 2, .rolled_back = 1, .rolled_back_to = SHA_A },
	  "applying: 3/10 done, 1 failed (tolerance 2), 1 rolled back to abc1234" },
	{ "applied", fl_rollout_describe_applied, { .done = 9, .total = 10, .failed = 1, .tolerance = 2 },
	  "applied 9/10, 1 failed (tolerance 2)" },
	{ "applied, rolled back", fl_rollout_describe_applied,
	  { .done = 9, .total = 10, .skipped = 1, .failed = 1, .tolerance = 2, .rolled_back = 1,
	    .rolled_back_to = SHA_A },
	  "applied 9/10, 1 suspended, 1 failed (tolerance 2), 1 rolled back to abc1234" },
	{ "longest", fl_rollout_describe_halted,
	  { .failed = 99999, .total = 100000, .tolerance = 99998, .rolled_back = 99999, .rolled_back_to = SHA_A,
	    .rolled_back_mixed = true },
	  "halted: 99999 of 100000 failed (tolerance 99998), 99999 rolled back to abc1234 and others" },
};

static void test_describe(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char out[160];
		cases[i].describe(&cases[i].wr, out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s: got '%s', expected '%s'", cases[i].name, out, cases[i].want);
		if (strlen(out) > 140)
			fail_msg("%s: %zu bytes, more than a status holds", cases[i].name, strlen(out));
	}
}

/* A buffer too small cuts the text, never overruns. */
static void test_small_buffer(void **state)
{
	char out[24];
	(void)state;
	memset(out, 'x', sizeof(out));
	fl_rollout_describe_halted(&cases[1].wr, out, 20);
	assert_string_equal(out, "halted: 1 of 2 fail");
	assert_int_equal(out[21], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
