/*
 * One tenant of a rollout, on a thread of the wave's pool: its identity is
 * checked before anything else, its markers read (an account already at a
 * newer commit supersedes the rollout), its plan made and applied region by
 * region with the marker last, the account observed again, and the wave's
 * verify commands run; on a failure, rolled back when its wave says so
 * (rollout_rollback.c). The result goes to the ledger.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "reconcile/rollout/rollout_internal.h"
#include "core/banned.h"

struct region_write_buf {
	struct fl_put_res *put;
	struct fl_res_key *del;
	struct fl_receipt_item *receipt;
	size_t nreceipt, capreceipt;
};

/* more: another region of the tenant is written after this one (fl_region_write.more_in_account). */
static int write_region(struct rollout *r, const struct fl_fleet *fleet, const struct fl_tenant_plan *tp,
			const struct fl_region_plan *rp, bool more, struct region_write_buf *b, struct fl_error *err)
{
	const struct fl_tenant *t = tp->tenant;
	bool decommission = t->state == FL_TENANT_DECOMMISSIONED;
	size_t nput = 0, ndel = 0;
	free(b->put);
	free(b->del);
	b->put = fl_calloc(rp->nchanges, sizeof(*b->put));
	b->del = fl_calloc(rp->nchanges, sizeof(*b->del));
	for (size_t i = 0; i < rp->nchanges; i++) {
		const struct fl_change *c = &rp->changes[i];
		if (c->op == FL_OP_DELETE) {
			b->del[ndel++] = (struct fl_res_key){ c->kind, c->name };
			FL_GROW(b->receipt, b->capreceipt, b->nreceipt + 1);
			b->receipt[b->nreceipt++] = (struct fl_receipt_item){ rp->region, c->kind, c->name, c->old_fp };
			continue;
		}
		b->put[nput++] = (struct fl_put_res){ c->kind, c->name, c->new_fp, c->spec, c->spec_len,
						      c->op == FL_OP_UPDATE ? &c->old_fp : NULL };
	}
	struct fl_marker marker = { .tenant_fp = tp->tenant_fp };
	/*
	 * The inputs fingerprint lets plans trust the marker; resources kept only
	 * because prune is off must stay visible to a later --prune plan.
	 */
	if (!tp->withheld)
		marker.inputs_fp = tp->inputs_fp;
	memcpy(marker.revision, fleet->revision, sizeof(marker.revision));
	marker.resources = rp->in_manifest && !decommission ? rp->unchanged + nput : 0;
	struct fl_region_write w = { rp->region, b->put, nput, b->del, ndel, &marker, more };
	return r->driver->ops->apply(r->driver->self, t, &w, err);
}

/* Observes the tenant again: the account must now hold exactly the plan. */
static int check_converged(struct rollout *r, const struct fl_fleet *fleet, const struct fl_tenant *t,
			   struct fl_error *err)
{
	struct fl_tenant_plan again;
	struct fl_plan_opts popts = r->popts;
	int rc = 0;
	popts.refresh = true;
	fl_tenant_plan_init(&again);
	fl_plan_tenant(&again, fleet, r->driver, t, &popts);
	if (again.outcome == FL_TENANT_FAILED)
		rc = fl_error_set(err, again.error.code ? again.error.code : FL_EDRIVER,
				  "observing after the apply: %s", again.error.msg);
	else if (again.creates || again.updates || again.deletes)
		rc = fl_error_set(err, FL_EDRIVER,
				  "after the apply the account still differs from the commit: +%zu ~%zu -%zu",
				  again.creates, again.updates, again.deletes);
	fl_tenant_plan_release(&again);
	fl_arena_release(&again.arena);
	return rc;
}

int fl_rollout_write_tenant(struct rollout *r, const struct fl_fleet *fleet, const struct fl_tenant_plan *tp,
			    struct fl_error *err)
{
	const struct fl_tenant *t = tp->tenant;
	struct region_write_buf b = { 0 };
	int rc = 0;
	if (tp->bootstrap && !r->driver->ops->bootstrap) {
		rc = fl_error_set(err, FL_EDRIVER, "account '%s' does not exist and driver '%s' cannot create accounts",
				  t->account, r->driver->ops->type);
		goto out;
	}
	if (tp->bootstrap && (rc = r->driver->ops->bootstrap(r->driver->self, t, err)))
		goto out;
	for (size_t i = 0; i < tp->nregions && !rc; i++) {
		rc = write_region(r, fleet, tp, &tp->regions[i], i + 1 < tp->nregions, &b, err);
		if (rc)
			fl_error_prefix(err, "region '%s': ", tp->regions[i].region);
	}
	if (!rc)
		rc = check_converged(r, fleet, t, err);
	if (!rc && t->state == FL_TENANT_DECOMMISSIONED && b.nreceipt) {
		struct fl_error e = FL_ERROR_INIT;
		fl_rollout_status_error(r, fl_ledger_add_receipt(r->ledger, t->name, b.receipt, b.nreceipt, fl_now(), &e),
				  &e);
	}
out:
	free(b.put);
	free(b.del);
	free(b.receipt);
	return rc;
}

int fl_rollout_verify_tenant(struct rollout *r, const struct fl_verify_ctx *vctx, const struct fl_tenant *t,
			     const struct fl_wave *wave, struct fl_error *err)
{
	struct fl_verify_ctx ctx = *vctx;
	struct fl_buf output = FL_BUF_INIT;
	bool rollback = ctx.fleet != r->fleet;
	int rc = 0;
	ctx.wave = wave;
	for (size_t i = 0; i < t->nregions && !rc; i++) {
		for (size_t v = 0; v < wave->nverify && !rc; v++) {
			const struct fl_verify *verify = &wave->verify[v];
			struct fl_verify_record rec;
			struct fl_error e = FL_ERROR_INIT;
			if (!rollback && fl_ledger_verify_passed(r->ledger, t->name, t->regions[i], verify->name))
				continue;
			fl_buf_clear(&output);
			if ((rc = fl_verify_run(&rec, &output, &ctx, t, t->regions[i], verify, err)))
				break;
			rec.revision = rollback ? ctx.fleet->revision : NULL;
			fl_rollout_status_error(r, fl_ledger_add_verify(r->ledger, t->name, &rec, &e), &e);
			bool passed = rec.exit_code == 0 && !rec.timed_out;
			/*
			 * A failure is retried by the next apply, once the ledger holds this
			 * one. So is a rollback's run, pass or fail: the next rollback has
			 * written the account again, and its verify must look again.
			 */
			if (!passed || rollback)
				fl_verify_forget(&ctx, r->ledger, t, t->regions[i], verify);
			if (rec.timed_out)
				rc = fl_error_set(err, FL_EDRIVER, "verify '%s' in %s timed out after %u s", verify->name,
						  t->regions[i], verify->timeout_s);
			else if (rec.exit_code != 0)
				rc = fl_error_set(err, FL_EDRIVER, "verify '%s' in %s exited with %d", verify->name,
						  t->regions[i], rec.exit_code);
		}
	}
	fl_buf_release(&output);
	return rc;
}

/* A failure of the run itself: the first one stops the rollout, which returns it. */
static void run_failed(struct rollout *r, const struct fl_tenant *t, const struct fl_error *err)
{
	pthread_mutex_lock(&r->lock);
	if (!r->failure.code) {
		r->failure = *err;
		fl_error_prefix(&r->failure, "tenant '%s': ", t->name);
	}
	pthread_mutex_unlock(&r->lock);
}

static void superseded(struct rollout *r, const char *by)
{
	pthread_mutex_lock(&r->lock);
	r->superseded = true;
	snprintf(r->report->superseded_by, sizeof(r->report->superseded_by), "%s", by);
	pthread_mutex_unlock(&r->lock);
}

/* Counts a rollback in wave w's report, for its description; here: done by this run. */
static void count_rollback(struct rollout *r, size_t w, const char *revision, bool here)
{
	struct fl_wave_report *wr = &r->report->waves[w];
	pthread_mutex_lock(&r->lock);
	if (here)
		wr->rolled_back_here++;
	if (!wr->rolled_back++)
		snprintf(wr->rolled_back_to, sizeof(wr->rolled_back_to), "%s", revision);
	else if (strcmp(wr->rolled_back_to, revision) != 0)
		wr->rolled_back_mixed = true;
	pthread_mutex_unlock(&r->lock);
}

/*
 * A tenant rolled back at this commit by an earlier run stays as it is:
 * re-applying the release known bad for it on every scheduled run would
 * flap its account. A new commit, or apply --tenant, tries it again.
 */
static bool rolled_back_before(struct rollout *r, const struct fl_tenant *t, size_t w)
{
	char rev[FL_OID_HEX_LEN + 1];
	if (r->partial || !fl_ledger_tenant_rolled_back(r->ledger, t->name, rev))
		return false;
	count_rollback(r, w, rev, false);
	fl_log(r->opts->log, FL_LOG_WARN, "%s: failed: rolled back to %.7s at this commit; not applied again "
	       "(apply --tenant %s retries it)", t->name, rev, t->name);
	return true;
}

bool fl_rollout_apply_tenant(struct rollout *r, const struct fl_tenant *t, size_t w)
{
	const struct fl_wave *wave = &r->fleet->waves[w];
	struct fl_tenant_plan tp;
	struct fl_error err = FL_ERROR_INIT, e = FL_ERROR_INIT;
	char why[FL_ERROR_MSG_MAX] = "";     /* why it failed or was skipped: for the ledger and the log */
	enum fl_tenant_result result = FL_RESULT_APPLIED;
	struct fl_rollback rb = { 0 };
	bool verify = false;
	if (rolled_back_before(r, t, w))
		return false;
	size_t n = t->nregions ? t->nregions : 1;
	struct fl_rollout_markers mk = { .m = fl_calloc(n, sizeof(*mk.m)), .found = fl_calloc(n, sizeof(*mk.found)) };
	struct fl_known_markers known = { mk.m, mk.found, true, false };
	int rc = 0;
	fl_tenant_plan_init(&tp);
	if (t->state == FL_TENANT_SUSPENDED) {
		result = FL_RESULT_SKIPPED;
		goto record;
	}
	/* Before anything else, converged or not: markers in the wrong account prove nothing. */
	if ((rc = fl_tenant_identity(&known.account_found, r->driver, t, &err)))
		goto record;
	if ((rc = fl_rollout_read_markers(&mk, r, t, &err))) {
		run_failed(r, t, &err);
		goto record;
	}
	if (mk.ahead) {
		superseded(r, mk.ahead_rev);
		result = FL_RESULT_SKIPPED;
		snprintf(why, sizeof(why), "superseded: the account is at %.12s, a newer commit", mk.ahead_rev);
		goto record;
	}
	fl_plan_tenant_known(&tp, r->fleet, r->driver, t, &r->popts, &known);
	if (tp.outcome == FL_TENANT_FAILED) {
		err = tp.error;
		rc = err.code ? err.code : FL_EDRIVER;
	} else if (tp.outcome == FL_TENANT_CONVERGED && tp.from_marker) {
		/*
		 * Nothing to write. Verify anyway: every commit a wave rolls out is
		 * verified on its tenants, so a canary that failed at an earlier
		 * commit cannot pass by an unrelated commit landing.
		 */
		result = mk.at_rev ? FL_RESULT_APPLIED : FL_RESULT_UNCHANGED;
		verify = true;
		tp.tenant_fp = mk.tenant_fp;
	} else {
		rc = fl_rollout_write_tenant(r, r->fleet, &tp, &err);
		verify = true;
	}
	if (!rc && t->state == FL_TENANT_DECOMMISSIONED)
		result = FL_RESULT_DECOMMISSIONED;
	else if (!rc && verify)
		rc = fl_rollout_verify_tenant(r, &r->vctx, t, wave, &err);
record:
	if (rc) {
		result = FL_RESULT_FAILED;
		snprintf(why, sizeof(why), "%s", err.msg);
		/* Only what this run wrote or verified is rolled back: a tenant it never touched is as it was. */
		if (verify && wave->rollback && t->state == FL_TENANT_ACTIVE)
			fl_rollout_rollback(&rb, r, t, &mk, why, sizeof(why));
	}
	if (rb.done) {
		count_rollback(r, w, rb.revision, true);
		fl_rollout_status_error(r, fl_ledger_set_rolled_back(r->ledger, t->name, wave->name, &rb.tenant_fp, why,
								     rb.revision, &e), &e);
	} else {
		fl_rollout_status_error(r, fl_ledger_set_tenant(r->ledger, t->name, wave->name, result,
								fl_fp_is_zero(&tp.tenant_fp) ? NULL : &tp.tenant_fp,
								why[0] ? why : NULL, &e), &e);
	}
	fl_log(r->opts->log, result == FL_RESULT_FAILED ? FL_LOG_WARN : FL_LOG_INFO, "%s: %s%s%s", t->name,
	       fl_tenant_result_name(result), why[0] ? ": " : "", why);
	fl_tenant_plan_release(&tp);
	fl_arena_release(&tp.arena);
	free(mk.m);
	free(mk.found);
	return result != FL_RESULT_FAILED;
}
