/*
 * Tests for reconcile/rollout/ledger_history.c: the last revision that
 * succeeded for a tenant, in a real repository. main is c1, c2, c3, then m
 * (a merge of side, which is s1 off c1) and c4; off c1 there is also a
 * line of 101 commits (long). Ledgers are written through the ledger's API.
 * Applied and unchanged are successes; failed, rolled back, skipped and
 * another tenant's results are not; the markers' commit is taken first when
 * it is an ancestor and succeeded there; the walk follows first parents and
 * stops after FL_LEDGER_HISTORY_MAX commits.
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
#include "reconcile/rollout/ledger.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define GIT FL_TEST_GIT

static char dir[64];
static struct fl_repo *repo;
static struct fl_oid c1, c2, c3, m, c4, s1, l100, l101;

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
	snprintf(dir, sizeof(dir), "/tmp/fl-test-history-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	fl_test_run("cd '%s' && " GIT " init -q -b main && " GIT " commit -q --allow-empty -m c1 && " GIT
		    " tag c1"
		    " && " GIT " commit -q --allow-empty -m c2 && " GIT " tag c2"
		    " && " GIT " commit -q --allow-empty -m c3 && " GIT " tag c3"
		    " && " GIT " checkout -q -b side c1 && " GIT " commit -q --allow-empty -m s1 && " GIT
		    " tag s1"
		    " && " GIT " checkout -q main && " GIT " merge -q --no-ff -m m side && " GIT " tag m"
		    " && " GIT " commit -q --allow-empty -m c4 && " GIT " tag c4"
		    " && " GIT " checkout -q -b long c1 && for i in $(seq 101); do " GIT
		    " commit -q --allow-empty -m l$i && if [ $i = 100 ]; then " GIT
		    " tag l100; fi; done && " GIT " tag l101",
		    dir);
	if (fl_repo_open(&repo, dir, &err))
		return -1;
	resolve(&c1, "c1");
	resolve(&c2, "c2");
	resolve(&c3, "c3");
	resolve(&m, "m");
	resolve(&c4, "c4");
	resolve(&s1, "s1");
	resolve(&l100, "l100");
	resolve(&l101, "l101");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fl_repo_free(repo);
	fl_test_run("rm -rf '%s'", dir);
	return 0;
}

enum what { APPLIED, UNCHANGED, FAILED, ROLLED_BACK, SKIPPED };

/* Records tenant's result in commit's ledger. */
static void record(const struct fl_oid *commit, const char *tenant, enum what what)
{
	static const enum fl_tenant_result results[] = { FL_RESULT_APPLIED, FL_RESULT_UNCHANGED,
							 FL_RESULT_FAILED, FL_RESULT_FAILED,
							 FL_RESULT_SKIPPED };
	struct fl_ledger *l = NULL;
	struct fl_error err = FL_ERROR_INIT;
	char hex[FL_OID_HEX_LEN + 1];
	fl_oid_hex(hex, &c1);
	assert_int_equal(fl_ledger_open(&l, dir, commit, &err), 0);
	if (what == ROLLED_BACK)
		assert_int_equal(
			fl_ledger_set_rolled_back(l, tenant, "canary", NULL, "verify failed", hex, &err), 0);
	else
		assert_int_equal(fl_ledger_set_tenant(l, tenant, "canary", results[what], NULL, NULL, &err),
				 0);
	assert_int_equal(fl_ledger_flush(l, &err), 0);
	fl_ledger_free(l);
}

static void forget_notes(void)
{
	fl_test_run("cd '%s' && " GIT " update-ref -d refs/notes/flotilla", dir);
}

/* The last success of tenant seen from head (with hint) is want; want NULL: none. */
static void expect(const char *name, const struct fl_oid *head, const struct fl_oid *hint, const char *tenant,
		   const struct fl_oid *want)
{
	struct fl_oid got;
	struct fl_error err = FL_ERROR_INIT;
	bool found = !want;
	int rc = fl_ledger_last_success(&got, &found, repo, head, hint, tenant, &err);
	if (rc)
		fail_msg("%s: %s", name, err.msg);
	if (found != (want != NULL))
		fail_msg("%s: found %d, expected %d", name, found, want != NULL);
	if (want && !fl_oid_equal(&got, want)) {
		char a[FL_OID_HEX_LEN + 1], b[FL_OID_HEX_LEN + 1];
		fl_oid_hex(a, &got);
		fl_oid_hex(b, want);
		fail_msg("%s: got %s, expected %s", name, a, b);
	}
}

static void test_walk(void **state)
{
	(void)state;
	expect("no notes at all", &c4, NULL, "acme", NULL);

	record(&c1, "acme", APPLIED);
	expect("applied on c1, through the merge's first parent", &c4, NULL, "acme", &c1);
	expect("head itself is not looked at", &c1, NULL, "acme", NULL);
	expect("another tenant's success is not acme's", &c4, NULL, "beta", NULL);

	record(&c2, "acme", UNCHANGED);
	expect("unchanged is a success, the newest wins", &c4, NULL, "acme", &c2);

	record(&c3, "acme", FAILED);
	expect("a failure is passed over", &c4, NULL, "acme", &c2);
	record(&c3, "acme", ROLLED_BACK);
	expect("a rollback is no success", &c4, NULL, "acme", &c2);
	fl_test_run("cd '%s' && " GIT " notes --ref=flotilla add -f -m 'not a ledger' c3", dir);
	expect("a note that is no ledger is passed over", &c4, NULL, "acme", &c2);
	record(&m, "acme", SKIPPED);
	expect("skipped is no success", &c4, NULL, "acme", &c2);
	expect("the markers' commit is never head", &c2, &c2, "acme", &c1);

	record(&s1, "acme", APPLIED);
	expect("a merged branch's commit is off the first-parent walk", &c4, NULL, "acme", &c2);
	expect("the markers' commit first, when it succeeded", &c4, &s1, "acme", &s1);
	expect("the markers' commit off head's history is passed over", &c3, &s1, "acme", &c2);
	expect("the markers' commit where it did not succeed", &c4, &c3, "acme", &c2);

	forget_notes();
	record(&c1, "acme", APPLIED);
	expect("the 100th first parent is looked at", &l100, NULL, "acme", &c1);
	expect("the 101st is not", &l101, NULL, "acme", NULL);
	expect("the markers' commit is, however far", &l101, &c1, "acme", &c1);
	forget_notes();
}

/* What a rollback leaves in a ledger, and how the note keeps it. */
static void test_rollback_records(void **state)
{
	struct fl_ledger *l = NULL;
	struct fl_error err = FL_ERROR_INIT;
	char a[FL_OID_HEX_LEN + 1], got[FL_OID_HEX_LEN + 1];
	struct fl_verify_record ours = { "smoke", "us-east-1", 1, false, 5, 1000, "down\n", 5, NULL };
	struct fl_verify_record old = { "smoke", "us-east-1", 0, false, 5, 1001, "ok\n", 3, a };
	(void)state;
	fl_oid_hex(a, &c1);
	assert_int_equal(fl_ledger_open(&l, dir, &c2, &err), 0);
	assert_int_equal(fl_ledger_add_verify(l, "acme", &ours, &err), 0);
	assert_int_equal(fl_ledger_add_verify(l, "acme", &old, &err), 0);
	/* The old revision's pass is not this commit's: its verify runs again next time. */
	assert_false(fl_ledger_verify_passed(l, "acme", "us-east-1", "smoke"));
	assert_int_equal(
		fl_ledger_set_rolled_back(l, "acme", "canary", NULL, "verify failed; rolled back", a, &err),
		0);
	assert_true(fl_ledger_tenant_rolled_back(l, "acme", got));
	assert_string_equal(got, a);
	assert_int_equal(fl_ledger_flush(l, &err), 0);
	fl_ledger_free(l);

	/* Read back from the note: the result, the revision, the old run's revision. */
	assert_int_equal(fl_ledger_open(&l, dir, &c2, &err), 0);
	assert_true(fl_ledger_tenant_rolled_back(l, "acme", got));
	assert_string_equal(got, a);
	assert_false(fl_ledger_verify_passed(l, "acme", "us-east-1", "smoke"));
	struct fl_buf text = FL_BUF_INIT;
	assert_int_equal(fl_ledger_text(&text, l, &err), 0);
	assert_non_null(strstr(text.ptr, "\"rolled_back_to\": \""));
	assert_non_null(strstr(text.ptr, "\"revision\": \""));
	fl_buf_release(&text);
	/* Any later result drops it. */
	assert_int_equal(fl_ledger_set_tenant(l, "acme", "canary", FL_RESULT_FAILED, NULL, "again", &err), 0);
	assert_false(fl_ledger_tenant_rolled_back(l, "acme", got));
	fl_ledger_free(l);
	forget_notes();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_rollback_records),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
