/*
 * Tests for reconcile/rollout/ledger_receipt.c: a real repository (c1, c2,
 * c3 on main, s1 on a side branch off c1) whose ledgers are written through
 * the ledger's API; a tenant's receipt is found from commits that have it
 * in their history, the latest one wins, and ledgers without one, other
 * tenants' receipts, notes that are not ledgers and commits off the
 * history are passed over.
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

#include "core/error.h"
#include "core/git.h"
#include "core/hash.h"
#include "reconcile/rollout/ledger.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define GIT FL_TEST_GIT

static char dir[64];
static struct fl_repo *repo;
static struct fl_oid c1, c2, c3, s1;

static void resolve(struct fl_oid *out, const char *rev)
{
	struct fl_error err = FL_ERROR_INIT;
	if (fl_repo_resolve(out, repo, rev, &err))
		fail_msg("%s: %s", rev, err.msg);
}

static int setup(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fl-test-receipt-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	fl_test_run("cd '%s' && " GIT " init -q && " GIT " commit -q --allow-empty -m c1 && " GIT " tag c1"
		    " && " GIT " commit -q --allow-empty -m c2 && " GIT " tag c2"
		    " && " GIT " commit -q --allow-empty -m c3 && " GIT " tag c3"
		    " && " GIT " checkout -q -b side c1 && " GIT " commit -q --allow-empty -m s1 && " GIT
		    " tag s1",
		    dir);
	if (fl_repo_open(&repo, dir, &err))
		return -1;
	resolve(&c1, "c1");
	resolve(&c2, "c2");
	resolve(&c3, "c3");
	resolve(&s1, "s1");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fl_repo_free(repo);
	fl_test_run("rm -rf '%s'", dir);
	return 0;
}

/* Records, in commit's ledger, a receipt of n resources for tenant made at when (n 0: a result only). */
static void record(const struct fl_oid *commit, const char *tenant, size_t n, long long when)
{
	struct fl_ledger *l = NULL;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_receipt_item items[2] = { { "us-east-1", "bucket", "uploads", { { 0 } } },
					    { "us-east-1", "network", "vpc", { { 0 } } } };
	assert_int_equal(fl_ledger_open(&l, dir, commit, &err), 0);
	assert_int_equal(fl_ledger_set_tenant(l, tenant, "canary",
					      n ? FL_RESULT_DECOMMISSIONED : FL_RESULT_APPLIED, NULL, NULL,
					      &err),
			 0);
	if (n)
		assert_int_equal(fl_ledger_add_receipt(l, tenant, items, n, when, &err), 0);
	assert_int_equal(fl_ledger_flush(l, &err), 0);
	fl_ledger_free(l);
}

/* The receipt of tenant seen from head is on want, of deleted resources, made at when; want NULL: none. */
static void expect(const struct fl_oid *head, const char *tenant, const struct fl_oid *want, size_t deleted,
		   long long when)
{
	struct fl_receipt_ref ref;
	struct fl_error err = FL_ERROR_INIT;
	bool found = true;
	assert_int_equal(fl_ledger_find_receipt(&ref, &found, repo, head, tenant, &err), 0);
	if (!want) {
		assert_false(found);
		return;
	}
	assert_true(found);
	assert_true(fl_oid_equal(&ref.commit, want));
	assert_int_equal(ref.deleted, deleted);
	assert_int_equal(ref.time, when);
}

static void test_find(void **state)
{
	(void)state;
	/* No notes at all. */
	expect(&c3, "acme", NULL, 0, 0);

	/* A ledger with a result and no receipt, a note that is no ledger. */
	record(&c1, "acme", 0, 0);
	fl_test_run("cd '%s' && " GIT " notes --ref=flotilla add -m 'not a ledger' c2", dir);
	expect(&c3, "acme", NULL, 0, 0);

	/* The receipt on c3 is found from c3 only; another tenant's is not acme's. */
	fl_test_run("cd '%s' && " GIT " notes --ref=flotilla remove c2 2>/dev/null", dir);
	record(&c2, "beta", 1, 1000);
	record(&c3, "acme", 2, 2000);
	expect(&c3, "acme", &c3, 2, 2000);
	expect(&c2, "acme", NULL, 0, 0);
	expect(&c3, "beta", &c2, 1, 1000);

	/* A later receipt off the history is not seen from c3; from s1 it is. */
	record(&s1, "acme", 1, 3000);
	expect(&c3, "acme", &c3, 2, 2000);
	expect(&s1, "acme", &s1, 1, 3000);

	/* Among several in the history, the latest. */
	record(&c1, "acme", 1, 2500);
	expect(&c3, "acme", &c1, 1, 2500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
