/*
 * Tests of reconcile/rollout/rollout.c: fleets of a few waves and tenants committed
 * to real repositories with git, rolled out with fl_rollout_run through a
 * dir driver on a temporary accounts directory, recorded in a real ledger.
 * Verify commands run ci/check of the commit through the wrapper, which is
 * this binary: main() hands `__verify-exec` to fl_verify_exec_main and
 * opts.self_exe is /proc/self/exe. ci/check logs when it starts and ends
 * (so the test can measure how many tenants really ran at once), sleeps,
 * and fails for the tenants named in $FL_TEST_FAIL.
 */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "core/json.h"
#include "core/node.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/rollout/rollout.h"
#include "reconcile/rollout/verify.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define GIT FL_TEST_GIT
#define MAX_WAVES 8

/* 2026-11-25T12:45:00Z */
#define NOW 1795610700LL

static void write_text(const char *path, const char *content)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	assert_int_equal(fclose(f), 0);
}

static void set_now(long long t)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", t);
	assert_int_equal(setenv("FLOTILLA_NOW", buf, 1), 0);
}

/* ---- fleets ---- */

#define RELEASE \
	"kind: config\nname: base\nspec: { tenant: \"{{tenant.name}}\", account: \"{{tenant.account}}\" }\n"

/* ci/check TENANT SLEEP: logs its start and end, sleeps, fails for tenants in $FL_TEST_FAIL. */
#define CHECK_SCRIPT \
	"#!/bin/sh\n" \
	"echo \"start $FLOTILLA_WAVE $1 $(date +%s%N)\" >> \"$FL_TEST_LOG\"\n" \
	"sleep \"$2\"\n" \
	"code=0\n" \
	"case \" $FL_TEST_FAIL \" in *\" $1 \"*) code=1 ;; esac\n" \
	"echo \"end $FLOTILLA_WAVE $1 $(date +%s%N)\" >> \"$FL_TEST_LOG\"\n" \
	"echo \"checked $1 in $FLOTILLA_REGION: $code\"\n" \
	"exit $code\n"

/* The verify block of a wave: ci/check with a sleep of s seconds. */
#define VERIFY(s) \
	"    verify:\n" \
	"      - name: check\n" \
	"        run: [\"ci/check\", \"{{tenant.name}}\", \"" s "\"]\n" \
	"        timeout: 1m\n"

/* A tenant: its name and extra manifest lines (canary, labels, state). */
struct tspec {
	const char *name;
	const char *extra;
};

#define CANARY "canary: true\n"
#define EARLY "labels: { ring: early }\n"
#define MID "labels: { ring: mid }\n"

/* A fleet repository at <tmp>/repo, the accounts at <tmp>/accounts, and the ledger of HEAD. */
struct env {
	char tmp[64];
	char repo_dir[96];
	char accounts[96];
	char log[128];
	struct fl_repo *repo;
	struct fl_fleet *fleet;
	struct fl_driver drv;
	struct fl_ledger *ledger;
};

static void put_file(struct env *e, const char *rel, const char *content)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", e->repo_dir, rel);
	if (!content) {
		assert_int_equal(unlink(path), 0);
		return;
	}
	char *slash = strrchr(path, '/');
	*slash = '\0';
	fl_test_run("mkdir -p '%s'", path);
	*slash = '/';
	write_text(path, content);
}

static void put_tenant(struct env *e, const struct tspec *t, size_t index)
{
	char rel[128], text[512];
	snprintf(rel, sizeof(rel), "tenants/%s.yaml", t->name);
	snprintf(text, sizeof(text), "name: %s\naccount: \"%zu\"\nregions: [us-east-1]\n%s", t->name,
		 1000 + index, t->extra ? t->extra : "");
	put_file(e, rel, text);
}

/* Loads the fleet at HEAD and opens its ledger. */
static void load_head(struct env *e)
{
	struct fl_oid head;
	struct fl_diags diags = { NULL, 0, 0, 0 };
	struct fl_error err = FL_ERROR_INIT;

	fl_fleet_free(e->fleet);
	e->fleet = NULL;
	fl_ledger_free(e->ledger);
	e->ledger = NULL;
	assert_int_equal(fl_repo_resolve(&head, e->repo, "HEAD", &err), 0);
	if (fl_fleet_load(&e->fleet, e->repo, &head, NULL, &diags, &err)) {
		struct fl_buf b = FL_BUF_INIT;
		fl_error_format(&b, diags.len ? &diags.items[0] : &err);
		fl_diags_release(&diags);
		fail_msg("fleet load failed: %s", b.ptr);
	}
	fl_diags_release(&diags);
	if (fl_ledger_open(&e->ledger, e->repo_dir, &e->fleet->commit, &err))
		fail_msg("ledger open failed: %s", err.msg);
}

static void commit_all(struct env *e)
{
	fl_test_run("cd '%s' && chmod +x ci/check && " GIT " add -A && " GIT " commit -q --allow-empty -m change",
	    e->repo_dir);
	load_head(e);
}

static void env_open(struct env *e, const char *fleet_yaml, const struct tspec *tenants, size_t n)
{
	struct fl_error err = FL_ERROR_INIT;

	memset(e, 0, sizeof(*e));
	snprintf(e->tmp, sizeof(e->tmp), "/tmp/fl-test-rollout-XXXXXX");
	assert_non_null(mkdtemp(e->tmp));
	snprintf(e->repo_dir, sizeof(e->repo_dir), "%s/repo", e->tmp);
	snprintf(e->accounts, sizeof(e->accounts), "%s/accounts", e->tmp);
	snprintf(e->log, sizeof(e->log), "%s/verify.log", e->tmp);
	fl_test_run("mkdir -p '%s' '%s' && cd '%s' && " GIT " init -q", e->repo_dir, e->accounts, e->repo_dir);
	put_file(e, "fleet.yaml", fleet_yaml);
	put_file(e, "release/a.yaml", RELEASE);
	put_file(e, "ci/check", CHECK_SCRIPT);
	for (size_t i = 0; i < n; i++)
		put_tenant(e, &tenants[i], i);
	assert_int_equal(fl_repo_open(&e->repo, e->repo_dir, &err), 0);
	commit_all(e);
	assert_int_equal(fl_driver_dir_open(&e->drv, e->accounts, &err), 0);
	assert_int_equal(setenv("FL_TEST_LOG", e->log, 1), 0);
	assert_int_equal(setenv("FL_TEST_FAIL", "", 1), 0);
	set_now(NOW);
}

static void env_close(struct env *e)
{
	fl_ledger_free(e->ledger);
	fl_fleet_free(e->fleet);
	fl_repo_free(e->repo);
	fl_driver_release(&e->drv);
	fl_test_run("rm -rf '%s'", e->tmp);
	unsetenv("FL_TEST_LOG");
	unsetenv("FL_TEST_FAIL");
	unsetenv("FLOTILLA_NOW");
}

/*
 * Puts *wrapped, a copy of e's driver operations for the caller to change
 * one of, in front of the driver; returns the driver's own, which the
 * wrapper calls on and which e gets back before env_close.
 */
static const struct fl_driver_ops *wrap_driver(struct env *e, struct fl_driver_ops *wrapped)
{
	const struct fl_driver_ops *inner = e->drv.ops;
	*wrapped = *inner;
	e->drv.ops = wrapped;
	return inner;
}

/* ---- watching a run ---- */

/* What the progress callback saw, checked after the run (never assert inside fl_rollout_run). */
struct watch {
	size_t calls;
	size_t max_in_flight[MAX_WAVES];
	bool violated;
	char why[256];
};

static void on_progress(const struct fl_rollout_report *rep, size_t w, void *payload)
{
	struct watch *wt = payload;
	const struct fl_wave_report *wr = &rep->waves[w];
	size_t budget = wr->tolerance + 1 > wr->failed ? wr->tolerance + 1 - wr->failed : 0;
	size_t cap = wr->parallel < budget ? wr->parallel : budget;

	wt->calls++;
	if (w >= MAX_WAVES || w >= rep->nwaves) {
		wt->violated = true;
		snprintf(wt->why, sizeof(wt->why), "progress for wave %zu of %zu", w, rep->nwaves);
		return;
	}
	if (wr->in_flight > wt->max_in_flight[w])
		wt->max_in_flight[w] = wr->in_flight;
	if (wr->in_flight > cap && !wt->violated) {
		wt->violated = true;
		snprintf(wt->why, sizeof(wt->why),
			 "wave %s: %zu in flight with %zu failed, parallel %u, tolerance %u (at most %zu)",
			 wr->name, wr->in_flight, wr->failed, wr->parallel, wr->tolerance, cap);
	}
	if (wr->done + wr->failed + wr->skipped + wr->in_flight > wr->total && !wt->violated) {
		wt->violated = true;
		snprintf(wt->why, sizeof(wt->why), "wave %s: counts past the total %zu", wr->name, wr->total);
	}
}

/*
 * A rollout that deadlocks (see test_job_finishing_during_progress_is_reaped) would
 * hang ctest: end the binary with a message instead.
 */
static void on_alarm(int sig)
{
	static const char msg[] = "\nfl_rollout_run did not return within 120 s (deadlock; see "
				  "test_job_finishing_during_progress_is_reaped)\n";
	(void)sig;
	ssize_t n = write(2, msg, sizeof(msg) - 1);
	(void)n;
	_exit(3);
}

/* Runs the rollout of HEAD with opts (progress and self_exe filled in); returns its code. */
static int rollout(struct env *e, struct fl_rollout_report *rep, struct fl_rollout_opts *opts,
		   struct watch *wt, struct fl_error *err)
{
	memset(wt, 0, sizeof(*wt));
	opts->self_exe = "/proc/self/exe";
	opts->progress = on_progress;
	opts->payload = wt;
	signal(SIGALRM, on_alarm);
	alarm(120);
	int rc = fl_rollout_run(rep, e->repo, e->fleet, &e->drv, e->ledger, opts, err);
	alarm(0);
	if (wt->violated)
		fail_msg("progress: %s", wt->why);
	return rc;
}

/* A rollout that must return 0 with outcome want. */
static void rollout_ok(struct env *e, struct fl_rollout_report *rep, struct fl_rollout_opts *opts,
		       struct watch *wt, enum fl_rollout_outcome want)
{
	struct fl_error err = FL_ERROR_INIT;
	int rc = rollout(e, rep, opts, wt, &err);
	if (rc)
		fail_msg("fl_rollout_run: %d: %s", rc, err.msg);
	if (rep->outcome != want) {
		for (size_t w = 0; w < rep->nwaves; w++)
			print_message("  wave %s: started %d, state %s, '%s'\n", rep->waves[w].name,
				      rep->waves[w].started, fl_state_name(rep->waves[w].state),
				      rep->waves[w].description);
		fail_msg("outcome %d, want %d", (int)rep->outcome, (int)want);
	}
	assert_int_equal(rep->status_failures, 0);
}

static const struct fl_wave_report *wave(const struct fl_rollout_report *rep, const char *name)
{
	for (size_t w = 0; w < rep->nwaves; w++)
		if (strcmp(rep->waves[w].name, name) == 0)
			return &rep->waves[w];
	fail_msg("no wave '%s' in the report", name);
	return NULL;
}

static void expect_wave(const struct fl_rollout_report *rep, const char *name, enum fl_state state,
			size_t total, size_t done, size_t failed, size_t skipped, const char *description)
{
	const struct fl_wave_report *wr = wave(rep, name);
	assert_true(wr->started);
	assert_true(wr->finished);
	if (wr->state != state)
		fail_msg("wave %s: state %s, want %s ('%s')", name, fl_state_name(wr->state),
			 fl_state_name(state), wr->description);
	assert_int_equal(wr->total, total);
	assert_int_equal(wr->done, done);
	assert_int_equal(wr->failed, failed);
	assert_int_equal(wr->skipped, skipped);
	assert_int_equal(wr->in_flight, 0);
	if (description)
		assert_string_equal(wr->description, description);
}

/* The ledger's context must be state and description (NULL: any). */
static void expect_context(struct env *e, const char *context, enum fl_state state, const char *description)
{
	struct fl_buf desc = FL_BUF_INIT;
	enum fl_state st;
	if (!fl_ledger_context(e->ledger, context, &st, &desc))
		fail_msg("no context '%s' in the ledger", context);
	if (st != state || (description && strcmp(desc.ptr, description) != 0)) {
		print_message("context %s: %s '%s'\n", context, fl_state_name(st), desc.ptr);
		fl_buf_release(&desc);
		fail_msg("context %s: want %s '%s'", context, fl_state_name(state),
			 description ? description : "*");
	}
	fl_buf_release(&desc);
}

static void expect_no_context(struct env *e, const char *context)
{
	enum fl_state st;
	struct fl_buf desc = FL_BUF_INIT;
	if (fl_ledger_context(e->ledger, context, &st, &desc)) {
		print_message("context %s: %s '%s'\n", context, fl_state_name(st), desc.ptr);
		fl_buf_release(&desc);
		fail_msg("context %s should not be set", context);
	}
	fl_buf_release(&desc);
}

static void expect_tenant(struct env *e, const char *name, enum fl_tenant_result want, const char *error_part)
{
	enum fl_tenant_result res;
	struct fl_buf error = FL_BUF_INIT;
	if (!fl_ledger_tenant(e->ledger, name, &res, &error))
		fail_msg("no result for tenant %s", name);
	if (res != want || (error_part && !strstr(error.ptr, error_part))) {
		print_message("tenant %s: %s '%s'\n", name, fl_tenant_result_name(res), error.ptr);
		fl_buf_release(&error);
		fail_msg("tenant %s: want %s '%s'", name, fl_tenant_result_name(want),
			 error_part ? error_part : "");
	}
	fl_buf_release(&error);
}

static void expect_no_tenant(struct env *e, const char *name)
{
	enum fl_tenant_result res;
	if (fl_ledger_tenant(e->ledger, name, &res, NULL))
		fail_msg("tenant %s has a result (%s), but should not have started", name,
			 fl_tenant_result_name(res));
}

/* True when the account of tenant number index has a state file for us-east-1. */
static bool account_written(const struct env *e, size_t index)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%zu/us-east-1.state", e->accounts, 1000 + index);
	return fl_test_exists(path);
}

/* ---- the verify log ---- */

struct interval {
	char wave[32], tenant[32];
	long long start, end;
};

/* Reads ci/check's log into intervals (caller frees). */
static size_t read_intervals(const struct env *e, struct interval **out)
{
	struct fl_buf text = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	struct interval *iv = NULL;
	size_t n = 0;

	*out = NULL;
	if (fl_file_read(&text, e->log, &err) == FL_ENOTFOUND) {
		fl_buf_release(&text);
		return 0;
	}
	for (char *line = text.ptr; line && *line;) {
		char *nl = strchr(line, '\n');
		char what[8], w[32], t[32];
		long long ns;
		if (nl)
			*nl = '\0';
		if (sscanf(line, "%7s %31s %31s %lld", what, w, t, &ns) == 4) {
			size_t i;
			for (i = 0; i < n; i++)
				if (strcmp(iv[i].wave, w) == 0 && strcmp(iv[i].tenant, t) == 0)
					break;
			if (i == n) {
				iv = realloc(iv, (n + 1) * sizeof(*iv));
				assert_non_null(iv);
				memset(&iv[n], 0, sizeof(*iv));
				snprintf(iv[n].wave, sizeof(iv[n].wave), "%s", w);
				snprintf(iv[n].tenant, sizeof(iv[n].tenant), "%s", t);
				n++;
			}
			if (strcmp(what, "start") == 0)
				iv[i].start = ns;
			else
				iv[i].end = ns;
		}
		line = nl ? nl + 1 : NULL;
	}
	fl_buf_release(&text);
	*out = iv;
	return n;
}

/* The most verify runs of wave that were running at one instant. */
static size_t max_overlap(const struct interval *iv, size_t n, const char *w)
{
	size_t best = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(iv[i].wave, w) != 0)
			continue;
		size_t k = 0;
		for (size_t j = 0; j < n; j++)
			if (strcmp(iv[j].wave, w) == 0 && iv[j].start <= iv[i].start &&
			    iv[i].start < iv[j].end)
				k++;
		if (k > best)
			best = k;
	}
	return best;
}

static const struct interval *interval_of(const struct interval *iv, size_t n, const char *tenant)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(iv[i].tenant, tenant) == 0)
			return &iv[i];
	return NULL;
}

/* ---- tests ---- */

#define THREE_WAVES \
	"version: 1\n" \
	"name: rollco\n" \
	"waves:\n" \
	"  - name: canary\n" \
	"    select: { canary: true }\n" \
	"  - name: early\n" \
	"    select: { labels: { ring: early } }\n" \
	"    max_parallel: 2\n" \
	"  - name: fleet\n" \
	"    select: rest\n" \
	"    max_parallel: 3\n"

static const struct tspec three_wave_tenants[] = {
	{ "c1", CANARY }, { "e1", EARLY }, { "e2", EARLY }, { "r1", NULL },
	{ "r2", NULL },	  { "r3", NULL },  { "r4", NULL },  { "r5", "state: suspended\n" },
};

static void test_three_waves_done(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	(void)state;

	env_open(&e, THREE_WAVES, three_wave_tenants, N_ELEMS(three_wave_tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	assert_int_equal(rep.nwaves, 3);
	assert_string_equal(rep.waves[0].name, "canary");
	assert_string_equal(rep.waves[1].name, "early");
	assert_string_equal(rep.waves[2].name, "fleet");
	expect_wave(&rep, "canary", FL_STATE_SUCCESS, 1, 1, 0, 0, "applied 1/1");
	expect_wave(&rep, "early", FL_STATE_SUCCESS, 2, 2, 0, 0, "applied 2/2");
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 5, 4, 0, 1, "applied 4/5, 1 suspended");
	assert_int_equal(wave(&rep, "canary")->parallel, 1);
	assert_int_equal(wave(&rep, "early")->parallel, 2);
	assert_int_equal(wave(&rep, "fleet")->parallel, 3);
	for (size_t w = 0; w < 3; w++) {
		assert_int_equal(rep.waves[w].tolerance, 0);
		assert_int_equal(rep.waves[w].wait_until, 0);
		assert_false(rep.waves[w].awaiting_promotion);
		assert_true(wt.max_in_flight[w] <= rep.waves[w].parallel);
	}
	assert_true(wt.calls >= 3);
	assert_int_equal(rep.plan.tenants, 8);
	assert_int_equal(rep.plan.tenants_changed, 7);
	assert_int_equal(rep.plan.creates, 7);
	assert_int_equal(rep.plan.deletes, 0);
	assert_string_equal(rep.superseded_by, "");

	expect_context(&e, "flotilla/plan", FL_STATE_SUCCESS, "7 tenants change: +7 ~0 -0, 1 suspended");
	expect_context(&e, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1");
	expect_context(&e, "flotilla/wave/early", FL_STATE_SUCCESS, "applied 2/2");
	expect_context(&e, "flotilla/wave/fleet", FL_STATE_SUCCESS, "applied 4/5, 1 suspended");
	for (size_t i = 0; i < 7; i++) {
		expect_tenant(&e, three_wave_tenants[i].name, FL_RESULT_APPLIED, NULL);
		assert_true(account_written(&e, i));
	}
	expect_tenant(&e, "r5", FL_RESULT_SKIPPED, NULL);
	assert_false(account_written(&e, 7));
	for (size_t w = 0; w < 3; w++)
		assert_int_equal(fl_ledger_wave_success_time(e.ledger, rep.waves[w].name), NOW);
	fl_rollout_report_release(&rep);
	assert_null(rep.waves);

	/* The note on the commit says the same (written by the final flush). */
	{
		struct fl_ledger *again = NULL;
		struct fl_error err = FL_ERROR_INIT;
		enum fl_state st;
		assert_int_equal(fl_ledger_open(&again, e.repo_dir, &e.fleet->commit, &err), 0);
		assert_true(fl_ledger_context(again, "flotilla/wave/fleet", &st, NULL));
		assert_int_equal(st, FL_STATE_SUCCESS);
		fl_ledger_free(again);
	}

	/* Run again, later: everything converged by its markers, the first success times stay. */
	set_now(NOW + 100);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_wave(&rep, "canary", FL_STATE_SUCCESS, 1, 1, 0, 0, "applied 1/1");
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 5, 4, 0, 1, "applied 4/5, 1 suspended");
	assert_int_equal(rep.plan.tenants_changed, 0);
	/* The plan status is the first apply's plan; later runs of the commit leave it. */
	expect_context(&e, "flotilla/plan", FL_STATE_SUCCESS, "7 tenants change: +7 ~0 -0, 1 suspended");
	expect_tenant(&e, "r1", FL_RESULT_APPLIED, NULL);
	for (size_t w = 0; w < 3; w++)
		assert_int_equal(fl_ledger_wave_success_time(e.ledger, rep.waves[w].name), NOW);
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/* The dir driver with its marker reads counted. */
static const struct fl_driver_ops *counted_inner;
static atomic_size_t marker_reads;

static int counted_marker(void *self, const struct fl_tenant *tenant, const char *region,
			  struct fl_marker *out, bool *found, struct fl_error *err)
{
	atomic_fetch_add(&marker_reads, 1);
	return counted_inner->marker(self, tenant, region, out, found, err);
}

/*
 * Each tenant's markers are read once by the fleet-wide plan and once when
 * its wave reaches it, which also decides supersede: the tenant's own plan
 * reuses that read rather than asking the account again.
 */
static void test_markers_read_once_per_wave(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_driver_ops counted;
	(void)state;

	env_open(&e, THREE_WAVES, three_wave_tenants, N_ELEMS(three_wave_tenants));
	counted_inner = wrap_driver(&e, &counted);
	counted.marker = counted_marker;
	memset(&opts, 0, sizeof(opts));

	/*
	 * 7 active tenants of one region each (r5 is suspended): new accounts,
	 * whose plan reads no marker (the identity says there is no account
	 * yet), then converged ones.
	 */
	for (int run = 0; run < 2; run++) {
		atomic_store(&marker_reads, 0);
		rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
		assert_int_equal(rep.plan.tenants_changed, run == 0 ? 7 : 0);
		assert_int_equal(atomic_load(&marker_reads), run == 0 ? 7 : 7 + 7);
		fl_rollout_report_release(&rep);
	}
	e.drv.ops = counted_inner;
	env_close(&e);
}

/* A tenant whose account reports another id fails alone, against its wave's tolerance. */
static void test_identity_failure_counts_against_tolerance(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: fleet\n"
					 "    select: rest\n"
					 "    max_parallel: 4\n"
					 "    failure_tolerance: 1\n";
	static const struct tspec tenants[] = { { "a", NULL }, { "b", NULL }, { "c", NULL }, { "d", NULL } };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	char path[256];
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	/* b's account (1001) exists and says it is 999. */
	snprintf(path, sizeof(path), "%s/1001", e.accounts);
	fl_test_run("mkdir -p '%s'", path);
	snprintf(path, sizeof(path), "%s/1001/account.json", e.accounts);
	write_text(path, "{\"account\":\"999\",\"tenant\":\"b\"}\n");

	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	assert_int_equal(wave(&rep, "fleet")->parallel, 4);
	assert_int_equal(wave(&rep, "fleet")->tolerance, 1);
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 4, 3, 1, 0, "applied 3/4, 1 failed (tolerance 1)");
	expect_context(&e, "flotilla/wave/fleet", FL_STATE_SUCCESS, "applied 3/4, 1 failed (tolerance 1)");
	expect_tenant(&e, "b", FL_RESULT_FAILED, "'999'");
	expect_tenant(&e, "a", FL_RESULT_APPLIED, NULL);
	expect_tenant(&e, "d", FL_RESULT_APPLIED, NULL);
	/* Nothing was written to the mismatched account. */
	assert_false(account_written(&e, 1));
	assert_true(account_written(&e, 0));
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/*
 * SPEC 4: identity is checked for every tenant, converged or not. b's
 * account converges, then starts reporting another id (a directory copied
 * by hand): the next apply fails b, names both ids and runs no verify there.
 */
static void test_identity_checked_on_converged_tenants(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: fleet\n"
					 "    select: rest\n" VERIFY("0");
	static const struct tspec tenants[] = { { "a", NULL }, { "b", NULL } };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct interval *iv = NULL;
	char path[256];
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);
	/* A new commit that changes nothing rendered: both tenants converged, verified again. */
	put_file(&e, "docs.txt", "unrelated\n");
	commit_all(&e);
	snprintf(path, sizeof(path), "%s/1001/account.json", e.accounts);
	write_text(path, "{\"account\":\"999\",\"tenant\":\"b\"}\n");
	fl_test_run("rm -f '%s'", e.log);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	expect_tenant(&e, "b", FL_RESULT_FAILED, "the account reports id '999', but the manifest names '1001'");
	expect_tenant(&e, "a", FL_RESULT_UNCHANGED, NULL);
	size_t n = read_intervals(&e, &iv);
	assert_non_null(interval_of(iv, n, "a"));
	assert_null(interval_of(iv, n, "b"));
	free(iv);
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/* The dir driver, except that apply silently drops the last resource it is asked to put. */
static const struct fl_driver_ops *lossy_inner;

static int lossy_apply(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
		       struct fl_error *err)
{
	struct fl_region_write less = *w;
	if (less.nput)
		less.nput--;
	return lossy_inner->apply(self, tenant, &less, err);
}

/* SPEC 4: after writing, the account is observed again and must match the plan. */
static void test_account_checked_after_apply(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: fleet\n"
					 "    select: rest\n" VERIFY("0");
	static const struct tspec tenants[] = { { "a", NULL } };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_driver_ops lossy;
	struct interval *iv = NULL;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	lossy_inner = wrap_driver(&e, &lossy);
	lossy.apply = lossy_apply;
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	expect_tenant(&e, "a", FL_RESULT_FAILED, "after the apply the account still differs from the commit: +1 ~0 -0");
	/* Never verified: the account does not hold what the commit says. */
	size_t n = read_intervals(&e, &iv);
	assert_int_equal(n, 0);
	free(iv);
	fl_rollout_report_release(&rep);
	e.drv.ops = lossy_inner;
	env_close(&e);
}

/* The dir driver with each apply logged as "<region>:<more_in_account> ". */
static const struct fl_driver_ops *flagged_inner;
static struct fl_buf flagged_log;

static int flagged_apply(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
			 struct fl_error *err)
{
	fl_buf_printf(&flagged_log, "%s:%d ", w->region, (int)w->more_in_account);
	return flagged_inner->apply(self, tenant, w, err);
}

/*
 * A tenant's regions are written one after another, and only the last says
 * no more writes to the account follow: the dir driver syncs the account
 * directory once, there (docs/design.md, "Syncs"). A rollback writes the
 * same way.
 */
static void test_last_region_write_ends_the_account(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: fleet\n"
					 "    select: rest\n"
					 "    on_failure: rollback\n" VERIFY("0");
	static const struct tspec tenants[] = { { "a", NULL } };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_driver_ops flagged;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	put_file(&e, "tenants/a.yaml", "name: a\naccount: \"1000\"\nregions: [us-east-1, eu-west-1, ap-south-1]\n");
	commit_all(&e);
	flagged_inner = wrap_driver(&e, &flagged);
	flagged.apply = flagged_apply;
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);
	assert_string_equal(flagged_log.ptr, "us-east-1:1 eu-west-1:1 ap-south-1:0 ");

	/* The verify broken at the next commit: nothing to apply, then the rollback writes the same way. */
	fl_buf_clear(&flagged_log);
	put_file(&e, "ci/check", "#!/bin/sh\nexit 1\n");
	commit_all(&e);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	assert_int_equal(rep.waves[0].rolled_back_here, 1);
	fl_rollout_report_release(&rep);
	assert_string_equal(flagged_log.ptr, "us-east-1:1 eu-west-1:1 ap-south-1:0 ");
	fl_buf_release(&flagged_log);
	e.drv.ops = flagged_inner;
	env_close(&e);
}

/* The dir driver, except that its first apply raises the cancel flag (a SIGTERM arriving). */
static const struct fl_driver_ops *cancelling_inner;
static volatile int cancel_flag;

static int cancelling_apply(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
			    struct fl_error *err)
{
	cancel_flag = 1;
	return cancelling_inner->apply(self, tenant, w, err);
}

/* A cancel lets the tenant in flight finish and starts no other, in this wave or a later one. */
static void test_cancel_starts_no_new_tenant(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: canary\n"
					 "    select: { canary: true }\n"
					 "  - name: fleet\n"
					 "    select: rest\n"
					 "    max_parallel: 1\n";
	static const struct tspec tenants[] = { { "c1", CANARY }, { "a", NULL }, { "b", NULL }, { "c", NULL } };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_driver_ops cancelling;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	cancelling_inner = wrap_driver(&e, &cancelling);
	cancelling.apply = cancelling_apply;
	cancel_flag = 0;
	memset(&opts, 0, sizeof(opts));
	opts.cancel = &cancel_flag;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_CANCELLED);
	/* c1 was in flight and finished; nothing after it started. */
	expect_tenant(&e, "c1", FL_RESULT_APPLIED, NULL);
	assert_false(wave(&rep, "fleet")->started);
	expect_no_tenant(&e, "a");
	assert_false(account_written(&e, 1));
	fl_rollout_report_release(&rep);

	/* Run again: it goes on where it stopped. */
	e.drv.ops = cancelling_inner;
	cancel_flag = 0;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 3, 3, 0, 0, "applied 3/3");
	fl_rollout_report_release(&rep);

	/* Cancelled inside a wave: the tenant in flight ends, the others wait. */
	put_file(&e, "release/b.yaml", "kind: config\nname: extra\nspec: { x: 1 }\n");
	commit_all(&e);
	e.drv.ops = &cancelling;
	cancel_flag = 0;
	opts.through = NULL;
	{
		static const char *const fleet_only[] = { "a", "b", "c" };
		/* Canary first, as a whole rollout; then the fleet wave alone is cancelled in its first tenant. */
		e.drv.ops = cancelling_inner;
		opts.through = "canary";
		rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
		fl_rollout_report_release(&rep);
		opts.through = NULL;
		e.drv.ops = &cancelling;
		rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_CANCELLED);
		const struct fl_wave_report *fw = wave(&rep, "fleet");
		assert_int_equal(fw->done, 1);
		assert_int_equal(fw->in_flight, 0);
		size_t written = 0;
		for (size_t i = 0; i < N_ELEMS(fleet_only); i++) {
			enum fl_tenant_result res;
			struct fl_buf why = FL_BUF_INIT;
			if (fl_ledger_tenant(e.ledger, fleet_only[i], &res, &why) && res == FL_RESULT_APPLIED)
				written++;
			fl_buf_release(&why);
		}
		/* Only the tenant already in flight: the ledger still has the others at the older commit. */
		assert_int_equal(written, 1);
		fl_rollout_report_release(&rep);
	}
	e.drv.ops = cancelling_inner;
	env_close(&e);
}

/*
 * Strict mode: max_parallel 4 but tolerance 1, so at most 2 in flight, and
 * after the first failure at most 1. Measured on the verify runs themselves.
 */
static void test_strict_tolerance_scheduling(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: canary\n"
					 "    select: { canary: true }\n"
					 "  - name: fleet\n"
					 "    select: rest\n"
					 "    max_parallel: 4\n"
					 "    failure_tolerance: 1\n" VERIFY("0.4");
	static const struct tspec tenants[] = {
		{ "c", CANARY }, { "f0", NULL }, { "f1", NULL }, { "f2", NULL }, { "f3", NULL },
		{ "f4", NULL },	 { "f5", NULL }, { "f6", NULL }, { "f7", NULL },
	};
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct interval *iv = NULL;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	assert_int_equal(setenv("FL_TEST_FAIL", "f2", 1), 0);
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_wave(&rep, "canary", FL_STATE_SUCCESS, 1, 1, 0, 0, "applied 1/1");
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 8, 7, 1, 0, "applied 7/8, 1 failed (tolerance 1)");
	assert_int_equal(wave(&rep, "fleet")->parallel, 4);
	assert_int_equal(wave(&rep, "fleet")->tolerance, 1);
	assert_true(wt.max_in_flight[1] <= 2);
	expect_tenant(&e, "f2", FL_RESULT_FAILED, "verify 'check' in us-east-1 exited with 1");
	expect_tenant(&e, "f3", FL_RESULT_APPLIED, NULL);
	assert_false(fl_ledger_verify_passed(e.ledger, "f2", "us-east-1", "check"));
	assert_true(fl_ledger_verify_passed(e.ledger, "f3", "us-east-1", "check"));

	size_t n = read_intervals(&e, &iv);
	assert_int_equal(n, 8); /* the canary wave has no verify */
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(iv[i].wave, "fleet");
		assert_true(iv[i].start > 0 && iv[i].end > iv[i].start);
	}
	size_t peak = max_overlap(iv, n, "fleet");
	if (peak > 2)
		fail_msg("%zu verify runs at once; strict mode allows 2", peak);
	/* Parallelism is real: two 0.4 s checks overlapped before the failure. */
	if (peak < 2)
		fail_msg("the checks never overlapped (peak %zu)", peak);
	/* After f2 failed (its check ended), one at a time. */
	const struct interval *failed = interval_of(iv, n, "f2");
	assert_non_null(failed);
	for (size_t a = 0; a < n; a++) {
		for (size_t b = a + 1; b < n; b++) {
			if (&iv[a] == failed || &iv[b] == failed)
				continue;
			long long lo = iv[a].start > iv[b].start ? iv[a].start : iv[b].start;
			long long hi = iv[a].end < iv[b].end ? iv[a].end : iv[b].end;
			if (lo < hi && hi > failed->end)
				fail_msg("%s and %s ran at once after %s failed", iv[a].tenant, iv[b].tenant,
					 "f2");
		}
	}
	free(iv);
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/* Past tolerance the wave fails with exactly tolerance + 1 failures, and the rollout halts. */
static void test_failed_wave_halts(void **state)
{
	static const char fleet_yaml[] =
		"version: 1\n"
		"name: rollco\n"
		"waves:\n"
		"  - name: canary\n"
		"    select: { canary: true }\n" VERIFY("0") "  - name: middle\n"
							     "    select: { labels: { ring: mid } }\n"
							     "    max_parallel: 3\n"
							     "    failure_tolerance: 1\n" VERIFY(
								     "0.2") "  - name: last\n"
									    "    select: rest\n";
	static const struct tspec tenants[] = {
		{ "c", CANARY }, { "m0", MID }, { "m1", MID },	{ "m2", MID },	{ "m3", MID },
		{ "m4", MID },	 { "m5", MID }, { "z1", NULL }, { "z2", NULL },
	};
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	assert_int_equal(setenv("FL_TEST_FAIL", "m1 m2 m4", 1), 0);
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	expect_wave(&rep, "canary", FL_STATE_SUCCESS, 1, 1, 0, 0, "applied 1/1");
	/* m0 and m1 start together (2 = tolerance + 1); whatever order they end in, m2 is next and fails. */
	expect_wave(&rep, "middle", FL_STATE_FAILURE, 6, 1, 2, 0, "halted: 2 of 6 failed (tolerance 1)");
	const struct fl_wave_report *last = wave(&rep, "last");
	assert_false(last->started);
	assert_false(last->finished);
	assert_int_equal(last->state, FL_STATE_ERROR);
	assert_string_equal(last->description, "not started: wave middle failed");
	assert_true(wt.max_in_flight[1] <= 2);

	expect_context(&e, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1");
	expect_context(&e, "flotilla/wave/middle", FL_STATE_FAILURE, "halted: 2 of 6 failed (tolerance 1)");
	expect_context(&e, "flotilla/wave/last", FL_STATE_ERROR, "not started: wave middle failed");
	assert_int_equal(fl_ledger_wave_success_time(e.ledger, "canary"), NOW);
	assert_int_equal(fl_ledger_wave_success_time(e.ledger, "middle"), 0);
	assert_int_equal(fl_ledger_wave_success_time(e.ledger, "last"), 0);
	expect_tenant(&e, "m0", FL_RESULT_APPLIED, NULL);
	expect_tenant(&e, "m1", FL_RESULT_FAILED, "exited with 1");
	expect_tenant(&e, "m2", FL_RESULT_FAILED, "exited with 1");
	/* No new tenant started past tolerance; the last wave never started. */
	static const char *const unstarted[] = { "m3", "m4", "m5", "z1", "z2" };
	for (size_t i = 0; i < N_ELEMS(unstarted); i++)
		expect_no_tenant(&e, unstarted[i]);
	for (size_t i = 4; i < N_ELEMS(tenants); i++)
		assert_false(account_written(&e, i));
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/* SPEC 4: only a verify that passed is not run again; a failed one runs again on the next apply. */
static void test_failed_verify_runs_again_on_rerun(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: fleet\n"
					 "    select: rest\n" VERIFY("0");
	static const struct tspec tenants[] = { { "a", NULL }, { "b", NULL } };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_buf log = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	assert_int_equal(setenv("FL_TEST_FAIL", "a", 1), 0);
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	expect_tenant(&e, "a", FL_RESULT_FAILED, "exited with 1");
	expect_no_tenant(&e, "b");
	fl_rollout_report_release(&rep);

	/* The check is fixed; apply again: a's check runs again and passes, b's runs once. */
	assert_int_equal(setenv("FL_TEST_FAIL", "", 1), 0);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 2, 2, 0, 0, "applied 2/2");
	expect_tenant(&e, "a", FL_RESULT_APPLIED, NULL);
	assert_true(fl_ledger_verify_passed(e.ledger, "a", "us-east-1", "check"));
	fl_rollout_report_release(&rep);

	/* A third apply runs nothing: both passed. */
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);
	assert_int_equal(fl_file_read(&log, e.log, &err), 0);
	size_t a_runs = 0, b_runs = 0;
	for (const char *p = log.ptr; (p = strstr(p, "start fleet ")) != NULL; p++) {
		a_runs += strncmp(p + 12, "a ", 2) == 0;
		b_runs += strncmp(p + 12, "b ", 2) == 0;
	}
	assert_int_equal(a_runs, 2);
	assert_int_equal(b_runs, 1);
	fl_buf_release(&log);
	env_close(&e);
}

/*
 * Failed verifies within the wave's tolerance do not save the notes once
 * each (issue 11, item 2: a save writes the whole tenants note). Each
 * failed receipt goes once a save holds its failure, here the run's last:
 * after the run none is left, so the next apply runs every check again.
 */
static void test_failed_verifies_saved_together(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: fleet\n"
					 "    select: rest\n"
					 "    failure_tolerance: 8\n" VERIFY("0");
	static const struct tspec tenants[] = { { "a", NULL }, { "b", NULL }, { "c", NULL }, { "d", NULL },
						{ "e", NULL }, { "f", NULL }, { "g", NULL }, { "h", NULL } };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	size_t before = 0, after = 0, bytes = 0;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	assert_int_equal(setenv("FL_TEST_FAIL", "a b c d e f g h", 1), 0);
	memset(&opts, 0, sizeof(opts));
	fl_ledger_save_stats(e.ledger, &before, &bytes);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_ledger_save_stats(e.ledger, &after, &bytes);
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 8, 0, 8, 0, "applied 0/8, 8 failed (tolerance 8)");
	expect_tenant(&e, "h", FL_RESULT_FAILED, "exited with 1");
	if (after - before >= 8)
		fail_msg("%zu notes saved for 8 failed verifies", after - before);
	fl_test_run("test -d '%s/.git/flotilla/verify' && test -z \"$(find '%s/.git/flotilla/verify' -type f ! -name '*.lock')\"",
		    e.repo_dir, e.repo_dir);
	fl_rollout_report_release(&rep);
	env_close(&e);
}

#define GATED \
	"version: 1\n" \
	"name: rollco\n" \
	"waves:\n" \
	"  - name: canary\n" \
	"    select: { canary: true }\n" \
	"  - name: early\n" \
	"    select: { labels: { ring: early } }\n" \
	"    gate: manual\n" \
	"  - name: fleet\n" \
	"    select: rest\n"

static const struct tspec gated_tenants[] = {
	{ "c1", CANARY }, { "e1", EARLY }, { "e2", EARLY }, { "r1", NULL }
};

static void test_manual_gate_waits_for_promotion(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_error err = FL_ERROR_INIT;
	char tag[256], hex[FL_OID_HEX_LEN + 1];
	bool promoted = true;
	(void)state;

	env_open(&e, GATED, gated_tenants, N_ELEMS(gated_tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	expect_wave(&rep, "canary", FL_STATE_SUCCESS, 1, 1, 0, 0, "applied 1/1");
	const struct fl_wave_report *early = wave(&rep, "early");
	assert_false(early->started);
	assert_true(early->awaiting_promotion);
	assert_int_equal(early->wait_until, 0);
	assert_int_equal(early->state, FL_STATE_PENDING);
	assert_string_equal(early->description, "awaiting promotion");
	assert_false(wave(&rep, "fleet")->started);
	expect_context(&e, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1");
	expect_context(&e, "flotilla/wave/early", FL_STATE_PENDING, "awaiting promotion");
	expect_no_context(&e, "flotilla/wave/fleet");
	expect_no_tenant(&e, "e1");
	assert_false(account_written(&e, 1));
	fl_rollout_report_release(&rep);

	/* Waiting again changes nothing. */
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	assert_true(wave(&rep, "early")->awaiting_promotion);
	fl_rollout_report_release(&rep);

	/* The promotion tag of SPEC 6. */
	fl_promotion_tag(tag, sizeof(tag), "early", &e.fleet->commit);
	fl_oid_hex(hex, &e.fleet->commit);
	assert_true(strncmp(tag, "flotilla/promote/early/", 23) == 0);
	assert_string_equal(tag + 23, hex);
	assert_int_equal(fl_rollout_promoted(&promoted, e.repo, &e.fleet->commit, "early", &err), 0);
	assert_false(promoted);
	assert_int_equal(fl_repo_tag_create(e.repo, tag, &e.fleet->commit, "canaries look good", &err), 0);
	assert_int_equal(fl_rollout_promoted(&promoted, e.repo, &e.fleet->commit, "early", &err), 0);
	assert_true(promoted);
	/* A promotion into early is not one into another wave. */
	assert_int_equal(fl_rollout_promoted(&promoted, e.repo, &e.fleet->commit, "fleet", &err), 0);
	assert_false(promoted);
	assert_int_equal(fl_rollout_promoted(&promoted, e.repo, &e.fleet->commit, "earl", &err), 0);
	assert_false(promoted);

	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_wave(&rep, "early", FL_STATE_SUCCESS, 2, 2, 0, 0, "applied 2/2");
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 1, 1, 0, 0, "applied 1/1");
	assert_false(wave(&rep, "early")->awaiting_promotion);
	expect_context(&e, "flotilla/wave/early", FL_STATE_SUCCESS, "applied 2/2");
	expect_context(&e, "flotilla/wave/fleet", FL_STATE_SUCCESS, "applied 1/1");
	expect_tenant(&e, "e2", FL_RESULT_APPLIED, NULL);
	assert_true(account_written(&e, 3));
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/* Promoting a commit promotes its ancestors, not its descendants. */
static void test_promotion_of_a_descendant(void **state)
{
	struct env e;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid first, second;
	char tag[256];
	bool promoted = false;
	(void)state;

	env_open(&e, GATED, gated_tenants, N_ELEMS(gated_tenants));
	first = e.fleet->commit;
	put_file(&e, "README.md", "more\n");
	commit_all(&e);
	second = e.fleet->commit;

	fl_promotion_tag(tag, sizeof(tag), "early", &second);
	assert_int_equal(fl_repo_tag_create(e.repo, tag, &second, "ok", &err), 0);
	assert_int_equal(fl_rollout_promoted(&promoted, e.repo, &first, "early", &err), 0);
	assert_true(promoted);
	assert_int_equal(fl_rollout_promoted(&promoted, e.repo, &second, "early", &err), 0);
	assert_true(promoted);

	fl_promotion_tag(tag, sizeof(tag), "fleet", &first);
	assert_int_equal(fl_repo_tag_create(e.repo, tag, &first, "ok", &err), 0);
	assert_int_equal(fl_rollout_promoted(&promoted, e.repo, &first, "fleet", &err), 0);
	assert_true(promoted);
	assert_int_equal(fl_rollout_promoted(&promoted, e.repo, &second, "fleet", &err), 0);
	assert_false(promoted);

	/* A lightweight tag made with plain git counts too. */
	fl_test_run("cd '%s' && git tag flotilla/promote/canary/x HEAD", e.repo_dir);
	assert_int_equal(fl_rollout_promoted(&promoted, e.repo, &first, "canary", &err), 0);
	assert_true(promoted);
	env_close(&e);
}

struct promoter {
	const char *repo_dir;
	char tag[256];
};

static void *promote_later(void *arg)
{
	struct promoter *p = arg;
	struct timespec nap = { 1, 500 * 1000000L };
	char cmd[1024];
	nanosleep(&nap, NULL);
	snprintf(cmd, sizeof(cmd), "cd '%s' && " GIT " tag -a -m later '%s' HEAD", p->repo_dir, p->tag);
	return (void *)(intptr_t)system(cmd);
}

/* With wait, the rollout polls for the promotion instead of returning WAITING. */
static void test_wait_polls_for_promotion(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct promoter p;
	pthread_t thread;
	void *rc = NULL;
	(void)state;

	env_open(&e, GATED, gated_tenants, N_ELEMS(gated_tenants));
	p.repo_dir = e.repo_dir;
	fl_promotion_tag(p.tag, sizeof(p.tag), "early", &e.fleet->commit);
	assert_int_equal(pthread_create(&thread, NULL, promote_later, &p), 0);
	memset(&opts, 0, sizeof(opts));
	opts.wait = true;
	opts.poll_s = 1;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	assert_int_equal(pthread_join(thread, &rc), 0);
	assert_int_equal((intptr_t)rc, 0);
	expect_wave(&rep, "early", FL_STATE_SUCCESS, 2, 2, 0, 0, "applied 2/2");
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 1, 1, 0, 0, "applied 1/1");
	fl_rollout_report_release(&rep);
	env_close(&e);
}

#define BAKED \
	"version: 1\n" \
	"name: rollco\n" \
	"waves:\n" \
	"  - name: canary\n" \
	"    select: { canary: true }\n" \
	"    bake: 15m\n" \
	"  - name: fleet\n" \
	"    select: rest\n"

static const struct tspec baked_tenants[] = { { "c1", CANARY }, { "r1", NULL }, { "r2", NULL } };

static void test_bake_holds_the_next_wave(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	(void)state;

	env_open(&e, BAKED, baked_tenants, N_ELEMS(baked_tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	expect_wave(&rep, "canary", FL_STATE_SUCCESS, 1, 1, 0, 0, "applied 1/1");
	const struct fl_wave_report *fleet = wave(&rep, "fleet");
	assert_false(fleet->started);
	assert_false(fleet->awaiting_promotion);
	assert_int_equal(fleet->wait_until, NOW + 15 * 60);
	assert_string_equal(fleet->description, "baking until 13:00Z (2026-11-25T13:00:00Z)");
	expect_context(&e, "flotilla/wave/fleet", FL_STATE_PENDING,
		       "baking until 13:00Z (2026-11-25T13:00:00Z)");
	assert_int_equal(fl_ledger_wave_success_time(e.ledger, "canary"), NOW);
	expect_no_tenant(&e, "r1");
	fl_rollout_report_release(&rep);

	/* A second before the end: still baking, from the first success (not this run's). */
	set_now(NOW + 15 * 60 - 1);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	assert_int_equal(wave(&rep, "fleet")->wait_until, NOW + 15 * 60);
	assert_int_equal(fl_ledger_wave_success_time(e.ledger, "canary"), NOW);
	fl_rollout_report_release(&rep);

	/* Baked. */
	set_now(NOW + 15 * 60);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 2, 2, 0, 0, "applied 2/2");
	assert_int_equal(wave(&rep, "fleet")->wait_until, 0);
	expect_context(&e, "flotilla/wave/fleet", FL_STATE_SUCCESS, "applied 2/2");
	assert_int_equal(fl_ledger_wave_success_time(e.ledger, "fleet"), NOW + 15 * 60);
	fl_rollout_report_release(&rep);
	env_close(&e);
}

static void test_through_stops_after_a_wave(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_error err = FL_ERROR_INIT;
	(void)state;

	env_open(&e, THREE_WAVES, three_wave_tenants, N_ELEMS(three_wave_tenants));
	memset(&opts, 0, sizeof(opts));
	opts.through = "early";
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_wave(&rep, "canary", FL_STATE_SUCCESS, 1, 1, 0, 0, "applied 1/1");
	expect_wave(&rep, "early", FL_STATE_SUCCESS, 2, 2, 0, 0, "applied 2/2");
	assert_false(wave(&rep, "fleet")->started);
	expect_no_context(&e, "flotilla/wave/fleet");
	expect_no_tenant(&e, "r1");
	assert_false(account_written(&e, 3));
	fl_rollout_report_release(&rep);

	/* Through the first wave only. */
	opts.through = "canary";
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	assert_false(wave(&rep, "early")->started);
	fl_rollout_report_release(&rep);

	/* An unknown wave is a usage error; the report still holds its waves to release. */
	opts.through = "nope";
	assert_int_equal(rollout(&e, &rep, &opts, &wt, &err), FL_EUSAGE);
	assert_non_null(strstr(err.msg, "'nope'"));
	fl_rollout_report_release(&rep);

	/* The rest. */
	opts.through = NULL;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 5, 4, 0, 1, "applied 4/5, 1 suspended");
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/* SPEC 4: no shortcut past the canaries. */
static void test_partial_waits_for_earlier_waves(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	static const char *const fleet_tenant[] = { "r2" };
	(void)state;

	env_open(&e, THREE_WAVES, three_wave_tenants, N_ELEMS(three_wave_tenants));
	memset(&opts, 0, sizeof(opts));
	opts.tenants = fleet_tenant;
	opts.ntenants = 1;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	assert_non_null(strstr(rep.held_by, "wave 'canary' has not succeeded"));
	assert_false(wave(&rep, "fleet")->started);
	assert_false(wave(&rep, "canary")->started);
	expect_no_tenant(&e, "r2");
	assert_false(account_written(&e, 4));
	fl_rollout_report_release(&rep);

	/* The canaries alone: early has not run, so r2 still waits, now for it. */
	opts.tenants = NULL;
	opts.ntenants = 0;
	opts.through = "canary";
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);
	opts.through = NULL;
	opts.tenants = fleet_tenant;
	opts.ntenants = 1;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	assert_non_null(strstr(rep.held_by, "wave 'early' has not succeeded"));
	assert_false(account_written(&e, 4));
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/* An earlier wave that failed holds a partial apply with exit 4 (halted), naming it. */
static void test_partial_halts_after_a_failed_wave(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	static const char *const only[] = { "r1" };
	(void)state;

	env_open(&e, THREE_WAVES, three_wave_tenants, N_ELEMS(three_wave_tenants));
	memset(&opts, 0, sizeof(opts));
	opts.through = "early";
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);
	/* The next commit's canary fails. */
	put_file(&e, "release/b.yaml", "kind: config\nname: extra\nspec: { x: 1 }\n");
	put_file(&e, "fleet.yaml", "version: 1\n"
				   "name: rollco\n"
				   "waves:\n"
				   "  - name: canary\n"
				   "    select: { canary: true }\n" VERIFY("0")
				   "  - name: early\n"
				   "    select: { labels: { ring: early } }\n"
				   "  - name: fleet\n"
				   "    select: rest\n");
	commit_all(&e);
	assert_int_equal(setenv("FL_TEST_FAIL", "c1", 1), 0);
	opts.through = NULL;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	fl_rollout_report_release(&rep);
	opts.tenants = only;
	opts.ntenants = 1;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	assert_non_null(strstr(rep.held_by, "wave 'canary' has not succeeded"));
	assert_non_null(strstr(rep.held_by, "failure"));
	expect_no_tenant(&e, "r1");
	assert_false(account_written(&e, 3));
	fl_rollout_report_release(&rep);

	/* A wave that ended in error (superseded, or not started after a failure) halts it too. */
	{
		struct fl_error err = FL_ERROR_INIT;
		assert_int_equal(fl_ledger_set_context(e.ledger, "flotilla/wave/canary", FL_STATE_ERROR,
						       "superseded by 89abcde", &err), 0);
	}
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	assert_non_null(strstr(rep.held_by, "(error: superseded by 89abcde)"));
	assert_false(account_written(&e, 3));
	fl_rollout_report_release(&rep);
	env_close(&e);
}

static void test_partial_leaves_wave_statuses_alone(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_error err = FL_ERROR_INIT;
	static const char *const only[] = { "r2", "c1" };
	static const char *const unknown[] = { "nobody" };
	(void)state;

	env_open(&e, THREE_WAVES, three_wave_tenants, N_ELEMS(three_wave_tenants));
	memset(&opts, 0, sizeof(opts));
	/* A canary of a new commit may go alone: no wave comes before it. */
	opts.tenants = only + 1;
	opts.ntenants = 1;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_wave(&rep, "canary", FL_STATE_SUCCESS, 1, 1, 0, 0, NULL);
	assert_false(wave(&rep, "early")->started);
	expect_no_context(&e, "flotilla/plan");
	expect_no_context(&e, "flotilla/wave/canary");
	assert_int_equal(fl_ledger_wave_success_time(e.ledger, "canary"), 0);
	expect_tenant(&e, "c1", FL_RESULT_APPLIED, NULL);
	assert_true(account_written(&e, 0));
	assert_false(account_written(&e, 1));
	fl_rollout_report_release(&rep);

	/* After a full run, a partial one may write any tenant, and changes no wave status. */
	opts.tenants = NULL;
	opts.ntenants = 0;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);
	opts.tenants = only;
	opts.ntenants = 2;
	set_now(NOW + 50);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	/* Parallelism is still of the whole wave; waves between are not run again. */
	assert_int_equal(wave(&rep, "fleet")->parallel, 3);
	assert_false(wave(&rep, "early")->started);
	assert_string_equal(wave(&rep, "early")->description, "applied 2/2");
	assert_int_equal(rep.plan.tenants, 2);
	expect_context(&e, "flotilla/plan", FL_STATE_SUCCESS, "6 tenants change: +6 ~0 -0, 1 suspended");
	expect_context(&e, "flotilla/wave/fleet", FL_STATE_SUCCESS, "applied 4/5, 1 suspended");
	for (size_t w = 0; w < 3; w++)
		assert_int_equal(fl_ledger_wave_success_time(e.ledger, rep.waves[w].name), NOW);
	fl_rollout_report_release(&rep);

	/* An unknown tenant is a usage error. */
	opts.tenants = unknown;
	opts.ntenants = 1;
	assert_int_equal(rollout(&e, &rep, &opts, &wt, &err), FL_EUSAGE);
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/* docs/rollout.md: "--tenant T ... manual gates still apply". */
static void test_partial_still_waits_for_gates(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	static const char *const only[] = { "e1" };
	(void)state;

	env_open(&e, GATED, gated_tenants, N_ELEMS(gated_tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	fl_rollout_report_release(&rep);
	opts.tenants = only;
	opts.ntenants = 1;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	assert_true(wave(&rep, "early")->awaiting_promotion);
	assert_string_equal(rep.held_by, "wave 'early' is awaiting promotion");
	expect_context(&e, "flotilla/wave/early", FL_STATE_PENDING, "awaiting promotion");
	expect_no_tenant(&e, "e1");
	assert_false(account_written(&e, 1));
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/* A partial apply waits out the bake of the wave before, as a whole rollout does. */
static void test_partial_enforces_bakes(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	static const char *const only[] = { "r1" };
	(void)state;

	env_open(&e, BAKED, baked_tenants, N_ELEMS(baked_tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	fl_rollout_report_release(&rep);
	opts.tenants = only;
	opts.ntenants = 1;
	set_now(NOW + 60);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	assert_int_equal(wave(&rep, "fleet")->wait_until, NOW + 15 * 60);
	assert_non_null(strstr(rep.held_by, "wave 'fleet' is baking until 13:00Z"));
	assert_false(account_written(&e, 1));
	fl_rollout_report_release(&rep);
	set_now(NOW + 15 * 60);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_tenant(&e, "r1", FL_RESULT_APPLIED, NULL);
	assert_true(account_written(&e, 1));
	assert_false(account_written(&e, 2));
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/*
 * Regression (was a bug in rollout.c gate_check): `if (w == 0) return 0;`
 * came before the manual gate check, so `gate: manual` on the first wave was
 * ignored and the wave started without any promotion.
 */
static void test_manual_gate_on_first_wave(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: all\n"
					 "    select: rest\n"
					 "    gate: manual\n";
	static const struct tspec tenants[] = { { "a", NULL } };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_error err = FL_ERROR_INIT;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	assert_true(e.fleet->waves[0].gate_manual);
	memset(&opts, 0, sizeof(opts));
	assert_int_equal(rollout(&e, &rep, &opts, &wt, &err), 0);
	enum fl_rollout_outcome got = rep.outcome;
	bool written = account_written(&e, 0);
	fl_rollout_report_release(&rep);
	env_close(&e);
	if (got != FL_ROLLOUT_WAITING || written)
		fail_msg("a manual gate on the first wave was ignored (outcome %d, account %s)", (int)got,
			 written ? "written" : "untouched");
}

static void test_mass_delete_refused_unless_allowed(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: fleet\n"
					 "    select: rest\n"
					 "    max_parallel: 4\n"
					 "guard: { max_delete_percent: 30 }\n";
	static const struct tspec tenants[] = { { "a", NULL }, { "b", NULL }, { "c", NULL }, { "d", NULL } };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_buf text = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	char path[256];
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);

	/* One of four (25%) is within the guard of 30%; two (50%) are not. */
	struct tspec gone_a = { "a", "state: decommissioned\n" }, gone_b = { "b", "state: decommissioned\n" };
	put_tenant(&e, &gone_a, 0);
	put_tenant(&e, &gone_b, 1);
	commit_all(&e);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_REFUSED);
	assert_int_equal(rep.plan.deletes, 2);
	assert_int_equal(rep.plan.observed, 4);
	for (size_t w = 0; w < rep.nwaves; w++)
		assert_false(rep.waves[w].started);
	expect_context(&e, "flotilla/plan", FL_STATE_FAILURE,
		       "refused: deletes 2 of 4 resources, over the guard of 30%");
	expect_no_context(&e, "flotilla/wave/fleet");
	expect_no_tenant(&e, "a");
	/* Nothing was deleted. */
	snprintf(path, sizeof(path), "%s/1000/us-east-1.state", e.accounts);
	assert_int_equal(fl_file_read(&text, path, &err), 0);
	assert_non_null(strstr(text.ptr, "base"));
	fl_buf_clear(&text);
	fl_rollout_report_release(&rep);

	/* Allowed. */
	opts.allow_mass_delete = true;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	expect_context(&e, "flotilla/plan", FL_STATE_SUCCESS, "2 tenants change: +0 ~0 -2");
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 4, 4, 0, 0, "applied 4/4");
	expect_tenant(&e, "a", FL_RESULT_DECOMMISSIONED, NULL);
	expect_tenant(&e, "b", FL_RESULT_DECOMMISSIONED, NULL);
	expect_tenant(&e, "c", FL_RESULT_UNCHANGED, NULL);
	assert_int_equal(fl_file_read(&text, path, &err), 0);
	assert_null(strstr(text.ptr, "config base"));
	fl_buf_clear(&text);
	/* The deletion receipt is in the note. */
	assert_int_equal(fl_ledger_text(&text, e.ledger, &err), 0);
	{
		struct fl_arena arena;
		struct fl_node *doc = NULL;
		fl_arena_init(&arena, 4096);
		struct fl_source src = { "note", text.ptr, text.len };
		assert_int_equal(fl_json_parse(&doc, &arena, &src, &err), 0);
		const struct fl_node *r =
			fl_node_get(fl_node_get(fl_node_get(doc, "tenants"), "a"), "decommission_receipt");
		assert_non_null(r);
		const struct fl_node *deleted = fl_node_get(r, "deleted");
		assert_non_null(deleted);
		assert_int_equal(deleted->type, FL_NODE_SEQ);
		assert_int_equal(deleted->v.seq.len, 1);
		const struct fl_node *item = deleted->v.seq.items[0];
		assert_string_equal(fl_node_get(item, "region")->v.str.ptr, "us-east-1");
		assert_string_equal(fl_node_get(item, "kind")->v.str.ptr, "config");
		assert_string_equal(fl_node_get(item, "name")->v.str.ptr, "base");
		assert_int_equal(fl_node_get(item, "fingerprint")->v.str.len, FL_FP_HEX_LEN);
		assert_null(
			fl_node_get(fl_node_get(fl_node_get(doc, "tenants"), "c"), "decommission_receipt"));
		fl_arena_release(&arena);
	}
	fl_rollout_report_release(&rep);
	fl_buf_release(&text);
	env_close(&e);
}

static void test_amount_resolve(void **state)
{
	static const struct {
		const char *name;
		bool percent;
		unsigned value;
		size_t n;
		bool at_least_one;
		unsigned want;
	} cases[] = {
		{ "25% of 8", true, 25, 8, true, 2 },
		{ "25% of 7 rounds down", true, 25, 7, true, 1 },
		{ "10% of 8 is never below 1", true, 10, 8, true, 1 },
		{ "10% of 8 tolerance is 0", true, 10, 8, false, 0 },
		{ "50% of 8", true, 50, 8, false, 4 },
		{ "100% of 8", true, 100, 8, true, 8 },
		{ "a count", false, 3, 8, true, 3 },
		{ "a count past the wave", false, 50, 8, true, 50 },
		{ "0 count tolerance", false, 0, 8, false, 0 },
		{ "percent of none", true, 50, 0, true, 1 },
		{ "percent of none, tolerance", true, 50, 0, false, 0 },
		{ "2% of 1000", true, 2, 1000, false, 20 },
	};
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_amount a = { cases[i].percent, cases[i].value };
		unsigned got = fl_amount_resolve(&a, cases[i].n, cases[i].at_least_one);
		if (got != cases[i].want)
			fail_msg("case '%s': got %u, want %u", cases[i].name, got, cases[i].want);
	}
}

/* max_parallel 25% of 8 tenants: 2 at once, measured; tolerance 50% of 8: 4. */
static void test_percent_parallelism(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: fleet\n"
					 "    select: rest\n"
					 "    max_parallel: 25%\n"
					 "    failure_tolerance: 50%\n" VERIFY("0.3");
	static const struct tspec tenants[] = {
		{ "p0", NULL }, { "p1", NULL }, { "p2", NULL }, { "p3", NULL },
		{ "p4", NULL }, { "p5", NULL }, { "p6", NULL }, { "p7", NULL },
	};
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct interval *iv = NULL;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	assert_int_equal(wave(&rep, "fleet")->parallel, 2);
	assert_int_equal(wave(&rep, "fleet")->tolerance, 4);
	expect_wave(&rep, "fleet", FL_STATE_SUCCESS, 8, 8, 0, 0, "applied 8/8");
	assert_true(wt.max_in_flight[0] <= 2);
	size_t n = read_intervals(&e, &iv);
	assert_int_equal(n, 8);
	size_t peak = max_overlap(iv, n, "fleet");
	free(iv);
	fl_rollout_report_release(&rep);
	env_close(&e);
	if (peak != 2)
		fail_msg("%zu checks ran at once, want exactly 2 (25%% of 8)", peak);
}

/* Applying a newer commit supersedes the older one's unstarted waves; applying the older one then stops. */
static void test_supersede(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid first;
	char second_hex[FL_OID_HEX_LEN + 1], short_second[16], desc[64];
	(void)state;

	env_open(&e, GATED, gated_tenants, N_ELEMS(gated_tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	fl_rollout_report_release(&rep);
	first = e.fleet->commit;

	put_file(&e, "release/a.yaml", RELEASE "---\nkind: config\nname: extra\nspec: {}\n");
	commit_all(&e);
	fl_oid_hex(second_hex, &e.fleet->commit);
	snprintf(short_second, sizeof(short_second), "%.7s", second_hex);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_WAITING);
	fl_rollout_report_release(&rep);

	/* The first commit's waiting and unstarted waves are superseded; its finished one stays. */
	struct fl_ledger *old = NULL;
	enum fl_state st;
	struct fl_buf d = FL_BUF_INIT;
	assert_int_equal(fl_ledger_open(&old, e.repo_dir, &first, &err), 0);
	snprintf(desc, sizeof(desc), "superseded by %s", short_second);
	assert_true(fl_ledger_context(old, "flotilla/wave/canary", &st, NULL));
	assert_int_equal(st, FL_STATE_SUCCESS);
	assert_true(fl_ledger_context(old, "flotilla/wave/early", &st, &d));
	assert_int_equal(st, FL_STATE_ERROR);
	assert_string_equal(d.ptr, desc);
	fl_buf_clear(&d);
	assert_true(fl_ledger_context(old, "flotilla/wave/fleet", &st, &d));
	assert_int_equal(st, FL_STATE_ERROR);
	assert_string_equal(d.ptr, desc);
	fl_buf_release(&d);
	fl_ledger_free(old);

	/* Rolling the first commit out again would roll accounts back: superseded. */
	fl_test_run("cd '%s' && " GIT " checkout -q HEAD~1", e.repo_dir);
	load_head(&e);
	assert_true(fl_oid_equal(&e.fleet->commit, &first));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_SUPERSEDED);
	assert_string_equal(rep.superseded_by, second_hex);
	expect_tenant(&e, "c1", FL_RESULT_SKIPPED, "superseded");
	fl_rollout_report_release(&rep);
	env_close(&e);
}

/*
 * Whether an account's commit is newer than the rollout's decides
 * supersede, so git failing to tell must fail the run, never read as "not
 * newer": here the accounts are at a commit this repository has lost (as
 * when another clone rolled out a commit not fetched here), and reading
 * that as "not newer" rolled them back to the older commit.
 */
static void test_git_failure_on_a_marker_fails_the_run(void **state)
{
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf account = FL_BUF_INIT;
	char second_hex[FL_OID_HEX_LEN + 1], short_second[16], path[256];
	(void)state;

	env_open(&e, THREE_WAVES, three_wave_tenants, N_ELEMS(three_wave_tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);
	put_file(&e, "release/a.yaml", RELEASE "---\nkind: config\nname: extra\nspec: {}\n");
	commit_all(&e);
	fl_oid_hex(second_hex, &e.fleet->commit);
	snprintf(short_second, sizeof(short_second), "%.12s", second_hex);
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);

	/* The second commit is gone from the repository; the accounts are still at it. */
	fl_test_run("cd '%s' && " GIT " reset -q --hard HEAD~1 && " GIT " reflog expire --expire=now --all && " GIT
		    " gc -q --prune=now && ! " GIT " cat-file -e %s 2>/dev/null",
		    e.repo_dir, second_hex);
	fl_repo_free(e.repo);
	assert_int_equal(fl_repo_open(&e.repo, e.repo_dir, &err), 0);
	load_head(&e);

	int rc = rollout(&e, &rep, &opts, &wt, &err);
	if (rc == 0)
		fail_msg("the rollout went on (outcome %d) though git could not place the accounts' commit",
			 (int)rep.outcome);
	assert_non_null(strstr(err.msg, "tenant 'c1': "));
	assert_non_null(strstr(err.msg, short_second));
	fl_rollout_report_release(&rep);
	snprintf(path, sizeof(path), "%s/1000/us-east-1.state", e.accounts);
	assert_int_equal(fl_file_read(&account, path, &err), 0);
	if (!strstr(account.ptr, second_hex))
		fail_msg("the account was rolled back: %s", account.ptr);
	fl_buf_release(&account);
	env_close(&e);
}

/*
 * Regression (was a bug in rollout.c run_wave_jobs, a lost wakeup): the
 * dispatcher drops the lock to write the wave's status and call the
 * progress callback; a tenant that finishes meanwhile broadcasts to nobody,
 * and the dispatcher called pthread_cond_wait without first checking for
 * finished, unjoined jobs, so with no other job left it waited forever:
 * apply hung with every tenant done. A slow status write or progress
 * display at the wrong moment is enough (it hung test_failed_wave_halts
 * once on its own). Here the progress callback sleeps while the slower of
 * two tenants finishes.
 */
struct bg_run {
	struct env *e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct fl_error err;
	int rc;
	bool done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void slow_progress(const struct fl_rollout_report *rep, size_t w, void *payload)
{
	struct timespec nap = { 1, 500 * 1000000L };
	(void)payload;
	if (rep->waves[w].in_flight > 0)
		nanosleep(&nap, NULL);
}

static void *bg_rollout(void *arg)
{
	struct bg_run *b = arg;
	b->rc = fl_rollout_run(&b->rep, b->e->repo, b->e->fleet, &b->e->drv, b->e->ledger, &b->opts, &b->err);
	pthread_mutex_lock(&b->lock);
	b->done = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static void test_job_finishing_during_progress_is_reaped(void **state)
{
	static const char fleet_yaml[] =
		"version: 1\n"
		"name: rollco\n"
		"waves:\n"
		"  - name: fleet\n"
		"    select: rest\n"
		"    max_parallel: 2\n"
		"    failure_tolerance: 1\n" /* strict mode: 2 in flight */
		"    verify:\n"
		"      - name: check\n"
		"        run: [\"ci/check\", \"{{tenant.name}}\", \"{{tenant.labels.delay}}\"]\n";
	static const struct tspec tenants[] = {
		{ "a-fast", "labels: { delay: \"0\" }\n" },
		{ "b-slow", "labels: { delay: \"0.6\" }\n" },
	};
	/* Static: if the rollout never returns, its thread keeps using these after the test. */
	static struct env e;
	static struct bg_run b;
	pthread_t thread;
	struct timespec deadline;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	memset(&b, 0, sizeof(b));
	b.e = &e;
	b.opts.self_exe = "/proc/self/exe";
	b.opts.progress = slow_progress;
	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.cond, NULL);
	assert_int_equal(pthread_create(&thread, NULL, bg_rollout, &b), 0);

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 30;
	pthread_mutex_lock(&b.lock);
	while (!b.done && pthread_cond_timedwait(&b.cond, &b.lock, &deadline) == 0)
		;
	bool done = b.done;
	pthread_mutex_unlock(&b.lock);
	if (!done) {
		/* The rollout thread is stuck for good: leave it and its world alone. */
		pthread_detach(thread);
		fail_msg("fl_rollout_run hung: a tenant that finished while the dispatcher was "
			 "outside pthread_cond_wait was never reaped (lost wakeup in run_wave_jobs)");
	}
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(b.rep.outcome, FL_ROLLOUT_DONE);
	expect_wave(&b.rep, "fleet", FL_STATE_SUCCESS, 2, 2, 0, 0, "applied 2/2");
	fl_rollout_report_release(&b.rep);
	pthread_cond_destroy(&b.cond);
	pthread_mutex_destroy(&b.lock);
	env_close(&e);
}

/* ---- on_failure: rollback ---- */

/* A status writer that keeps the wave updates it is sent, for the events they carry. */
struct captured {
	size_t n;
	enum fl_wave_event event[64];
	enum fl_state state[64];
	char description[64][160];
};

static int capture_set(void *self, const struct fl_status_update *u, struct fl_error *err)
{
	struct captured *c = self;
	(void)err;
	if (strcmp(u->context, "flotilla/wave/canary") != 0 || c->n == 64)
		return 0;
	c->event[c->n] = u->event;
	c->state[c->n] = u->state;
	snprintf(c->description[c->n++], sizeof(c->description[0]), "%s", u->description);
	return 0;
}

static size_t count_event(const struct captured *c, enum fl_wave_event event, const char **description)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		if (c->event[i] == event) {
			n++;
			*description = c->description[i];
		}
	return n;
}

/*
 * A canary rolled back is announced once, on the canary wave's context,
 * with the event "rolled back" and the count in the description; the wave
 * still fails with it. A rerun of the commit leaves the tenant alone and
 * announces no rollback, though the description keeps counting it.
 */
static void test_rollback_announced_once(void **state)
{
	static const char fleet_yaml[] = "version: 1\n"
					 "name: rollco\n"
					 "waves:\n"
					 "  - name: canary\n"
					 "    select: { canary: true }\n"
					 "    on_failure: rollback\n" VERIFY("0") "  - name: rest\n"
					 "    select: rest\n";
	static const struct tspec tenants[] = { { "c", CANARY }, { "z", NULL } };
	static const struct fl_status_ops capture_ops = { "capture", capture_set, NULL, NULL, NULL };
	struct captured seen = { 0 };
	struct fl_status_writer writer = { &capture_ops, &seen };
	struct fl_statuses statuses = { &writer, 1, 0, FL_ERROR_INIT };
	struct env e;
	struct fl_rollout_report rep;
	struct fl_rollout_opts opts;
	struct watch wt;
	char first[FL_OID_HEX_LEN + 1], want[160];
	const char *desc = NULL;
	(void)state;

	env_open(&e, fleet_yaml, tenants, N_ELEMS(tenants));
	memset(&opts, 0, sizeof(opts));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_DONE);
	fl_rollout_report_release(&rep);
	snprintf(first, sizeof(first), "%s", e.fleet->revision);
	put_file(&e, "ci/check", "#!/bin/sh\necho broken\nexit 1\n");
	commit_all(&e);

	opts.statuses = &statuses;
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	snprintf(want, sizeof(want), "halted: 1 of 1 failed (tolerance 0), 1 rolled back to %.7s", first);
	expect_wave(&rep, "canary", FL_STATE_FAILURE, 1, 0, 1, 0, want);
	assert_int_equal(wave(&rep, "canary")->rolled_back_here, 1);
	assert_int_equal(count_event(&seen, FL_WAVE_EVENT_ROLLED_BACK, &desc), 1);
	snprintf(want, sizeof(want), "applying: 0/1 done, 1 failed (tolerance 0), 1 rolled back to %.7s", first);
	assert_string_equal(desc, want);
	assert_int_equal(count_event(&seen, FL_WAVE_EVENT_FAILED, &desc), 1);
	assert_int_equal(seen.event[seen.n - 1], FL_WAVE_EVENT_FAILED);
	expect_tenant(&e, "c", FL_RESULT_FAILED, "verify 'check' in us-east-1 exited with 1; rolled back to ");
	expect_no_tenant(&e, "z");
	fl_rollout_report_release(&rep);

	memset(&seen, 0, sizeof(seen));
	rollout_ok(&e, &rep, &opts, &wt, FL_ROLLOUT_HALTED);
	snprintf(want, sizeof(want), "halted: 1 of 1 failed (tolerance 0), 1 rolled back to %.7s", first);
	expect_wave(&rep, "canary", FL_STATE_FAILURE, 1, 0, 1, 0, want);
	assert_int_equal(wave(&rep, "canary")->rolled_back_here, 0);
	assert_int_equal(count_event(&seen, FL_WAVE_EVENT_ROLLED_BACK, &desc), 0);
	fl_rollout_report_release(&rep);
	env_close(&e);
}

int main(int argc, char **argv)
{
	/* The verify wrapper is this binary (opts.self_exe is /proc/self/exe). */
	if (argc > 1 && strcmp(argv[1], "__verify-exec") == 0)
		return fl_verify_exec_main(argc - 1, argv + 1);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_waves_done),
		cmocka_unit_test(test_markers_read_once_per_wave),
		cmocka_unit_test(test_identity_failure_counts_against_tolerance),
		cmocka_unit_test(test_identity_checked_on_converged_tenants),
		cmocka_unit_test(test_account_checked_after_apply),
		cmocka_unit_test(test_last_region_write_ends_the_account),
		cmocka_unit_test(test_cancel_starts_no_new_tenant),
		cmocka_unit_test(test_strict_tolerance_scheduling),
		cmocka_unit_test(test_failed_wave_halts),
		cmocka_unit_test(test_failed_verify_runs_again_on_rerun),
		cmocka_unit_test(test_failed_verifies_saved_together),
		cmocka_unit_test(test_rollback_announced_once),
		cmocka_unit_test(test_manual_gate_waits_for_promotion),
		cmocka_unit_test(test_promotion_of_a_descendant),
		cmocka_unit_test(test_wait_polls_for_promotion),
		cmocka_unit_test(test_bake_holds_the_next_wave),
		cmocka_unit_test(test_through_stops_after_a_wave),
		cmocka_unit_test(test_partial_waits_for_earlier_waves),
		cmocka_unit_test(test_partial_halts_after_a_failed_wave),
		cmocka_unit_test(test_partial_leaves_wave_statuses_alone),
		cmocka_unit_test(test_partial_still_waits_for_gates),
		cmocka_unit_test(test_partial_enforces_bakes),
		cmocka_unit_test(test_manual_gate_on_first_wave),
		cmocka_unit_test(test_mass_delete_refused_unless_allowed),
		cmocka_unit_test(test_amount_resolve),
		cmocka_unit_test(test_percent_parallelism),
		cmocka_unit_test(test_supersede),
		cmocka_unit_test(test_git_failure_on_a_marker_fails_the_run),
		/* Last: when it fails, a thread stays blocked inside fl_rollout_run. */
		cmocka_unit_test(test_job_finishing_during_progress_is_reaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
