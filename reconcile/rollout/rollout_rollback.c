/*
 * on_failure: rollback (SPEC 4, docs/rollout.md "Rolling back"): a tenant
 * whose apply or verify failed is applied again at the last revision that
 * succeeded for it. That revision's fleet is loaded (the tenant alone), its
 * identity checked, its resources written through this run's driver with
 * markers naming the old revision, observed again, and verified with that
 * revision's verify commands in a directory holding its files. The tenant
 * stays failed: the rollback is recorded beside the failure, never instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "reconcile/rollout/rollout_internal.h"
#include "core/banned.h"

/* The commit every region's marker named before the apply; false when they differ or are missing. */
static bool markers_commit(struct fl_oid *out, const struct fl_tenant *t, const struct fl_rollout_markers *mk)
{
	const char *rev = NULL;
	for (size_t i = 0; i < t->nregions; i++) {
		if (!mk->found[i] || (rev && strcmp(rev, mk->m[i].revision) != 0))
			return false;
		rev = mk->m[i].revision;
	}
	if (!rev || strlen(rev) != FL_OID_HEX_LEN)
		return false;
	for (size_t i = 0; i < sizeof(out->id); i++) {
		unsigned v;
		if (sscanf(rev + 2 * i, "%2x", &v) != 1)
			return false;
		out->id[i] = (unsigned char)v;
	}
	return true;
}

static int find_revision(struct fl_oid *out, bool *found, struct rollout *r, const struct fl_tenant *t,
			 const struct fl_rollout_markers *mk, struct fl_error *err)
{
	struct fl_oid hint;
	bool has_hint = markers_commit(&hint, t, mk);
	pthread_mutex_lock(&r->repo_lock);
	int rc = fl_ledger_last_success(out, found, r->repo, &r->fleet->commit, has_hint ? &hint : NULL,
					t->name, err);
	pthread_mutex_unlock(&r->repo_lock);
	return rc;
}

/* The fleet of commit with tenant alone: the old manifests, release and verify commands. */
static int load_old(struct fl_fleet **out, struct rollout *r, const struct fl_oid *commit, const char *tenant,
		    struct fl_error *err)
{
	const char *only[] = { tenant };
	struct fl_fleet_load_opts lopts = { .only = only, .nonly = 1, .threads = 1 };
	struct fl_diags diags = { 0 };
	pthread_mutex_lock(&r->repo_lock);
	int rc = fl_fleet_load(out, r->repo, commit, &lopts, &diags, err);
	pthread_mutex_unlock(&r->repo_lock);
	fl_diags_release(&diags);
	if (rc)
		fl_error_prefix(err, "the fleet there does not load: ");
	return rc;
}

/*
 * The verify context of the old revision: its files, and receipts of their
 * own under this rollout's, so that the old revision's passes recorded by
 * its own rollout are not taken for this run's.
 */
static int old_verify_ctx(struct fl_verify_ctx *out, char **workdir, char **receipts, struct rollout *r,
			  const struct fl_fleet *old, struct fl_error *err)
{
	struct fl_buf path = FL_BUF_INIT;
	pthread_mutex_lock(&r->repo_lock);
	int rc = fl_verify_workdir(workdir, r->repo, &old->commit, err);
	pthread_mutex_unlock(&r->repo_lock);
	if (rc)
		return rc;
	fl_buf_printf(&path, "%s/flotilla/verify/%s.rollback/%s", fl_repo_gitdir(r->repo), r->fleet->revision,
		      old->revision);
	*receipts = fl_buf_detach(&path, NULL);
	*out = (struct fl_verify_ctx){ old, NULL, *workdir, *receipts, r->opts->self_exe };
	return 0;
}

/* Identity, plan, write, observe and verify t at the old fleet's revision. */
static int apply_old(struct fl_fp *fp, struct rollout *r, const struct fl_fleet *old,
		     const struct fl_tenant *t, struct fl_error *err)
{
	struct fl_tenant_plan tp;
	struct fl_plan_opts popts = r->popts;
	struct fl_verify_ctx vctx;
	char *workdir = NULL, *receipts = NULL;
	bool found = false;
	int rc;
	fl_tenant_plan_init(&tp);
	if ((rc = fl_tenant_identity(&found, r->driver, t, err)))
		goto out;
	/* The markers now may name the failed revision: observe the account itself. */
	popts.refresh = true;
	fl_plan_tenant(&tp, old, r->driver, t, &popts);
	if (tp.outcome == FL_TENANT_FAILED) {
		*err = tp.error;
		rc = err->code ? err->code : FL_EDRIVER;
		goto out;
	}
	/* Written even when converged: every region's marker must name the old revision. */
	if ((rc = fl_rollout_write_tenant(r, old, &tp, err)))
		goto out;
	*fp = tp.tenant_fp;
	if (old->waves[t->wave].nverify && !(rc = old_verify_ctx(&vctx, &workdir, &receipts, r, old, err)))
		rc = fl_rollout_verify_tenant(r, &vctx, t, &old->waves[t->wave], err);
out:
	fl_tenant_plan_release(&tp);
	fl_arena_release(&tp.arena);
	free(workdir);
	free(receipts);
	return rc;
}

static int roll_back_to(struct fl_fp *fp, struct rollout *r, const struct fl_oid *commit,
			const struct fl_tenant *now, struct fl_error *err)
{
	struct fl_fleet *old = NULL;
	int rc = load_old(&old, r, commit, now->name, err);
	if (rc)
		return rc;
	const struct fl_tenant *t = fl_fleet_tenant(old, now->name);
	if (!t || t->state != FL_TENANT_ACTIVE)
		rc = fl_error_set(err, FL_EINPUT, "the tenant is not active there");
	/* Another account then: writing it would touch an account this commit does not name. */
	else if (strcmp(t->account, now->account) != 0)
		rc = fl_error_set(err, FL_EINPUT, "the tenant's account was %s there, not %s", t->account,
				  now->account);
	else
		rc = apply_old(fp, r, old, t, err);
	fl_fleet_free(old);
	return rc;
}

void fl_rollout_rollback(struct fl_rollback *out, struct rollout *r, const struct fl_tenant *t,
			 const struct fl_rollout_markers *mk, char *why, size_t cap)
{
	struct fl_oid commit;
	struct fl_error err = FL_ERROR_INIT;
	bool found = false;
	size_t len = strlen(why);
	memset(out, 0, sizeof(*out));
	if (len >= cap)
		return;
	if (find_revision(&commit, &found, r, t, mk, &err)) {
		snprintf(why + len, cap - len, "; rollback impossible: %s", err.msg);
		return;
	}
	if (!found) {
		snprintf(why + len, cap - len, "; rollback impossible: no earlier successful revision");
		return;
	}
	fl_oid_hex(out->revision, &commit);
	fl_log(r->opts->log, FL_LOG_INFO, "%s: rolling back to %.12s", t->name, out->revision);
	if (roll_back_to(&out->tenant_fp, r, &commit, t, &err)) {
		snprintf(why + len, cap - len, "; rollback to %.7s failed: %s", out->revision, err.msg);
		return;
	}
	out->done = true;
	snprintf(why + len, cap - len, "; rolled back to %.7s", out->revision);
}
