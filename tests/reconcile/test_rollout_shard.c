/*
 * Tests of the shard split of apply --shard K/N (reconcile/rollout/
 * rollout_shard.c): shards must agree on it across machines and
 * versions, so its values are pinned; it follows the documented formula
 * (docs/rollout.md, "Sharding"); and it splits a fleet about evenly.
 * The barrier itself is driven end to end by tests/e2e/shard.sh, and
 * the rules that test cannot see by tests/e2e/shard_rules.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/hash.h"
#include "reconcile/rollout/rollout.h"
#include "core/banned.h"

/* Changing any of these moves tenants between shards in the middle of a rollout. */
static void test_pinned(void **state)
{
	(void)state;
	static const struct { const char *name; unsigned of2, of3, of1000; } want[] = {
		{ "acme-test", 1, 2, 667 },
		{ "globex-canary", 1, 2, 741 },
		{ "t01", 2, 1, 360 },
		{ "t30", 2, 1, 88 },
		{ "", 1, 3, 241 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(fl_shard_of(want[i].name, 1), 1);
		assert_int_equal(fl_shard_of(want[i].name, 2), want[i].of2);
		assert_int_equal(fl_shard_of(want[i].name, 3), want[i].of3);
		assert_int_equal(fl_shard_of(want[i].name, 1000), want[i].of1000);
	}
}

/*
 * The shard that reports removed tenant files: the lowest that holds a
 * tenant, so that a fleet whose shard 1 is empty still has one. Of 3
 * shards, t01 is in 1, acme-test in 2 and "" in 3 (test_pinned).
 */
static void test_first(void **state)
{
	(void)state;
	static const struct { const char *names[3]; size_t n; unsigned want; } cases[] = {
		{ { "acme-test", "t01", "" }, 3, 1 },
		{ { "acme-test", "" }, 2, 2 },
		{ { "", "" }, 2, 3 },
		{ { NULL }, 0, 1 },
		{ { "t01", "" }, 2, 3 }, /* t01 suspended (below) */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_tenant tenants[3];
		struct fl_fleet fleet;
		memset(tenants, 0, sizeof(tenants));
		memset(&fleet, 0, sizeof(fleet));
		for (size_t j = 0; j < cases[i].n; j++) {
			tenants[j].name = cases[i].names[j];
			if (i == 4 && j == 0)
				tenants[j].state = FL_TENANT_SUSPENDED;
		}
		fleet.tenants = tenants;
		fleet.ntenants = cases[i].n;
		assert_int_equal(fl_shard_first(&fleet, 3), cases[i].want);
		assert_int_equal(fl_shard_first(&fleet, 1), 1);
	}
}

/* The first 64 bits of the fingerprint (SPEC 3), big-endian, modulo n, plus one. */
static void test_formula(void **state)
{
	(void)state;
	char name[32], hex[FL_FP_HEX_LEN + 1], first[17];
	for (unsigned i = 0; i < 2000; i++) {
		struct fl_fp fp;
		snprintf(name, sizeof(name), "tenant-%u", i);
		fl_fp_of(&fp, name, strlen(name));
		fl_fp_hex(hex, &fp);
		memcpy(first, hex, 16);
		first[16] = '\0';
		unsigned long long h = strtoull(first, NULL, 16);
		for (unsigned n = 1; n <= 7; n++)
			assert_int_equal(fl_shard_of(name, n), (unsigned)(h % n) + 1);
	}
}

/* 30,000 names over 3 and 7 shards: each within 5% of its share. */
static void test_even(void **state)
{
	(void)state;
	static const unsigned ns[] = { 3, 7 };
	char name[32];
	for (size_t j = 0; j < 2; j++) {
		unsigned n = ns[j], count[8] = { 0 };
		for (unsigned i = 0; i < 30000; i++) {
			snprintf(name, sizeof(name), "customer-%05u", i);
			unsigned k = fl_shard_of(name, n);
			assert_true(k >= 1 && k <= n);
			count[k - 1]++;
		}
		for (unsigned k = 0; k < n; k++) {
			double share = 30000.0 / n;
			if (count[k] < share * 0.95 || count[k] > share * 1.05)
				fail_msg("shard %u/%u has %u of 30000 tenants", k + 1, n, count[k]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_formula),
		cmocka_unit_test(test_first),
		cmocka_unit_test(test_even),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
