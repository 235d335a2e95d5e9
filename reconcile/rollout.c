/*
 * The rollout engine; see rollout.h. One wave at a time: a dispatcher
 * starts tenants on threads of their own as strict mode allows, and each
 * tenant runs plan, apply, observe-again and verify by itself.
 */
#include "reconcile/rollout.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "reconcile/plan_output.h"
#include "reconcile/verify.h"
#include "core/banned.h"

struct rollout {
	struct fl_repo *repo;            /* under repo_lock: not thread-safe */
	pthread_mutex_t repo_lock;
	const struct fl_fleet *fleet;
	struct fl_driver *driver;
	struct fl_ledger *ledger;
	const struct fl_rollout_opts *opts;
	struct fl_rollout_report *report;
	struct fl_plan_opts popts;
	struct fl_verify_ctx vctx;
	char *workdir, *receipts;
	bool partial;                    /* --tenant: wave statuses are left alone */
	const char **chosen;             /* --tenant's names, sorted */
	pthread_mutex_t status_lock;     /* status writers are called one at a time */
	pthread_mutex_t lock;            /* guards everything below and the report */
	pthread_cond_t cond;
	bool superseded;
	struct fl_oid *behind;           /* older commits the accounts were at */
	size_t nbehind, capbehind;
	size_t status_failures;
};

/*
 * One wave's tenants, worked through by a pool of threads that each take
 * the next tenant themselves. A thread per tenant, started and joined by
 * the coordinator, left slots empty while it created threads: a wave of 100
 * tenants in flight on a network driver ran at 87 on average.
 * The counts are under r->lock; the coordinator copies them into the
 * report, which only it writes.
 */
struct wave_run {
	struct rollout *r;
	size_t w;
	const struct fl_tenant **tenants;
	size_t n;
	size_t next, in_flight, done, skipped, failed;
	size_t workers;                  /* pool threads still running */
};

void fl_rollout_report_release(struct fl_rollout_report *report)
{
	free(report->waves);
	memset(report, 0, sizeof(*report));
}

void fl_promotion_tag(char *out, size_t cap, const char *wave, const struct fl_oid *commit)
{
	char hex[FL_OID_HEX_LEN + 1];
	fl_oid_hex(hex, commit);
	snprintf(out, cap, "flotilla/promote/%s/%s", wave, hex);
}

/* ---- statuses ---- */

static void note_status_error(struct rollout *r, int rc, const struct fl_error *e)
{
	if (!rc)
		return;
	/* Writing a status never fails a rollout: it is counted and reported at the end. */
	pthread_mutex_lock(&r->lock);
	r->report->status_failures++;
	snprintf(r->report->status_error, sizeof(r->report->status_error), "%s", e->msg);
	pthread_mutex_unlock(&r->lock);
}

static void set_context(struct rollout *r, const char *context, enum fl_state state, const char *desc,
			bool progress)
{
	struct fl_error e = FL_ERROR_INIT;
	if (!r->opts->statuses) {
		note_status_error(r, fl_ledger_set_context(r->ledger, context, state, desc, &e), &e);
		return;
	}
	struct fl_status_update u = { context, state, desc, progress };
	pthread_mutex_lock(&r->status_lock);
	fl_statuses_set(r->opts->statuses, &u);
	pthread_mutex_unlock(&r->status_lock);
}

static void wave_context(struct rollout *r, size_t w, enum fl_state state, const char *desc, bool progress)
{
	char context[160];
	struct fl_wave_report *wr = &r->report->waves[w];
	wr->state = state;
	snprintf(wr->description, sizeof(wr->description), "%s", desc);
	if (r->partial)
		return;
	fl_wave_context(context, sizeof(context), r->fleet->waves[w].name);
	set_context(r, context, state, desc, progress);
}

/* ", 2 suspended": suspended tenants are left alone, never counted as applied. */
static void describe_suspended(const struct fl_wave_report *wr, char *out, size_t cap)
{
	if (wr->skipped)
		snprintf(out, cap, ", %zu suspended", wr->skipped);
	else if (cap)
		out[0] = '\0';
}

static void describe_running(struct fl_wave_report *wr, char *out, size_t cap)
{
	char suspended[48];
	describe_suspended(wr, suspended, sizeof(suspended));
	snprintf(out, cap, "applying: %zu/%zu done%s, %zu failed (tolerance %u)", wr->done, wr->total, suspended,
		 wr->failed, wr->tolerance);
}

/* ---- tenants ---- */

static bool is_ancestor(struct rollout *r, const struct fl_oid *a, const struct fl_oid *b)
{
	bool yes = false;
	struct fl_error ignored = FL_ERROR_INIT;
	pthread_mutex_lock(&r->repo_lock);
	if (fl_repo_is_ancestor(&yes, r->repo, a, b, &ignored))
		yes = false;
	pthread_mutex_unlock(&r->repo_lock);
	return yes;
}

static void remember_behind(struct rollout *r, const struct fl_oid *old)
{
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->nbehind; i++)
		if (fl_oid_equal(&r->behind[i], old))
			goto out;
	FL_GROW(r->behind, r->capbehind, r->nbehind + 1);
	r->behind[r->nbehind++] = *old;
out:
	pthread_mutex_unlock(&r->lock);
}

/* Parses a marker's revision; false for none or garbage. */
static bool marker_oid(struct fl_oid *out, const struct fl_marker *m)
{
	for (size_t i = 0; i < sizeof(out->id); i++) {
		unsigned v;
		if (sscanf(m->revision + 2 * i, "%2x", &v) != 1)
			return false;
		out->id[i] = (unsigned char)v;
	}
	return true;
}

/*
 * Reads the tenant's markers into m and found (t->nregions each), kept for
 * the tenant's plan: *at_rev when every region's marker is at this commit;
 * *ahead (with its commit) when an account is already at a descendant of
 * it, so this rollout is superseded for that tenant.
 */
static void read_markers(struct rollout *r, const struct fl_tenant *t, struct fl_marker *m, bool *found,
			 bool *at_rev, bool *ahead, char ahead_rev[FL_OID_HEX_LEN + 1], struct fl_fp *tenant_fp)
{
	*at_rev = t->nregions > 0;
	*ahead = false;
	for (size_t i = 0; i < t->nregions; i++) {
		struct fl_oid oid;
		struct fl_error ignored = FL_ERROR_INIT;
		found[i] = false;
		if (r->driver->ops->marker(r->driver->self, t, t->regions[i], &m[i], &found[i], &ignored) ||
		    !found[i]) {
			found[i] = false;
			*at_rev = false;
			continue;
		}
		*tenant_fp = m[i].tenant_fp;
		if (strcmp(m[i].revision, r->fleet->revision) == 0)
			continue;
		*at_rev = false;
		if (!marker_oid(&oid, &m[i]))
			continue;
		if (is_ancestor(r, &r->fleet->commit, &oid)) {
			*ahead = true;
			memcpy(ahead_rev, m[i].revision, FL_OID_HEX_LEN + 1);
		} else if (is_ancestor(r, &oid, &r->fleet->commit)) {
			remember_behind(r, &oid);
		}
	}
}

struct region_write_buf {
	struct fl_put_res *put;
	struct fl_res_key *del;
	struct fl_receipt_item *receipt;
	size_t nreceipt, capreceipt;
};

static int write_region(struct rollout *r, const struct fl_tenant_plan *tp, const struct fl_region_plan *rp,
			struct region_write_buf *b, struct fl_error *err)
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
	memcpy(marker.revision, r->fleet->revision, sizeof(marker.revision));
	marker.resources = rp->in_manifest && !decommission ? rp->unchanged + nput : 0;
	struct fl_region_write w = { rp->region, b->put, nput, b->del, ndel, &marker };
	return r->driver->ops->apply(r->driver->self, t, &w, err);
}

/* Observes the tenant again: the account must now hold exactly the plan. */
static int check_converged(struct rollout *r, const struct fl_tenant *t, struct fl_error *err)
{
	struct fl_tenant_plan again;
	struct fl_plan_opts popts = r->popts;
	int rc = 0;
	popts.refresh = true;
	fl_tenant_plan_init(&again);
	fl_plan_tenant(&again, r->fleet, r->driver, t, &popts);
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

static int apply_changes(struct rollout *r, const struct fl_tenant_plan *tp, struct fl_error *err)
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
		rc = write_region(r, tp, &tp->regions[i], &b, err);
		if (rc)
			fl_error_prefix(err, "region '%s': ", tp->regions[i].region);
	}
	if (!rc)
		rc = check_converged(r, t, err);
	if (!rc && t->state == FL_TENANT_DECOMMISSIONED && b.nreceipt) {
		struct fl_error e = FL_ERROR_INIT;
		note_status_error(r, fl_ledger_add_receipt(r->ledger, t->name, b.receipt, b.nreceipt, fl_now(), &e),
				  &e);
	}
out:
	free(b.put);
	free(b.del);
	free(b.receipt);
	return rc;
}

static int run_verifies(struct rollout *r, const struct fl_tenant *t, const struct fl_wave *wave,
			struct fl_error *err)
{
	struct fl_verify_ctx ctx = r->vctx;
	struct fl_buf output = FL_BUF_INIT;
	int rc = 0;
	ctx.wave = wave;
	for (size_t i = 0; i < t->nregions && !rc; i++) {
		for (size_t v = 0; v < wave->nverify && !rc; v++) {
			const struct fl_verify *verify = &wave->verify[v];
			struct fl_verify_record rec;
			struct fl_error e = FL_ERROR_INIT;
			if (fl_ledger_verify_passed(r->ledger, t->name, t->regions[i], verify->name))
				continue;
			fl_buf_clear(&output);
			if ((rc = fl_verify_run(&rec, &output, &ctx, t, t->regions[i], verify, err)))
				break;
			note_status_error(r, fl_ledger_add_verify(r->ledger, t->name, &rec, &e), &e);
			bool passed = rec.exit_code == 0 && !rec.timed_out;
			/* A failure is retried by the next apply, once the ledger holds this one. */
			if (!passed && !fl_ledger_flush(r->ledger, &e))
				fl_verify_forget(&ctx, t, t->regions[i], verify);
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

/* Plans, applies, observes again and verifies one tenant; the result goes to the ledger. */
static bool apply_tenant(struct rollout *r, const struct fl_tenant *t, size_t w)
{
	const struct fl_wave *wave = &r->fleet->waves[w];
	struct fl_tenant_plan tp;
	struct fl_error err = FL_ERROR_INIT, e = FL_ERROR_INIT;
	enum fl_tenant_result result = FL_RESULT_APPLIED;
	bool at_rev = false, ahead = false, verify = false;
	char ahead_rev[FL_OID_HEX_LEN + 1] = "";
	struct fl_fp marker_fp = { { 0 } };
	struct fl_marker *markers = fl_calloc(t->nregions ? t->nregions : 1, sizeof(*markers));
	bool *found = fl_calloc(t->nregions ? t->nregions : 1, sizeof(*found));
	struct fl_known_markers known = { markers, found, true, false };
	int rc = 0;
	fl_tenant_plan_init(&tp);
	if (t->state == FL_TENANT_SUSPENDED) {
		result = FL_RESULT_SKIPPED;
		goto record;
	}
	/* Before anything else, converged or not: markers in the wrong account prove nothing. */
	if ((rc = fl_tenant_identity(&known.account_found, r->driver, t, &err))) {
		result = FL_RESULT_FAILED;
		goto record;
	}
	read_markers(r, t, markers, found, &at_rev, &ahead, ahead_rev, &marker_fp);
	if (ahead) {
		pthread_mutex_lock(&r->lock);
		r->superseded = true;
		memcpy(r->report->superseded_by, ahead_rev, sizeof(ahead_rev));
		pthread_mutex_unlock(&r->lock);
		result = FL_RESULT_SKIPPED;
		fl_error_set(&err, FL_OK, "superseded: the account is at %.12s, a newer commit", ahead_rev);
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
		result = at_rev ? FL_RESULT_APPLIED : FL_RESULT_UNCHANGED;
		verify = true;
		tp.tenant_fp = marker_fp;
	} else {
		rc = apply_changes(r, &tp, &err);
		verify = true;
	}
	if (!rc && t->state == FL_TENANT_DECOMMISSIONED)
		result = FL_RESULT_DECOMMISSIONED;
	else if (!rc && verify)
		rc = run_verifies(r, t, wave, &err);
	if (rc)
		result = FL_RESULT_FAILED;
record:
	note_status_error(r, fl_ledger_set_tenant(r->ledger, t->name, wave->name, result,
						  fl_fp_is_zero(&tp.tenant_fp) ? NULL : &tp.tenant_fp,
						  err.msg[0] ? err.msg : NULL, &e), &e);
	fl_log(r->opts->log, result == FL_RESULT_FAILED ? FL_LOG_WARN : FL_LOG_INFO, "%s: %s%s%s", t->name,
	       fl_tenant_result_name(result), err.msg[0] ? ": " : "", err.msg);
	fl_tenant_plan_release(&tp);
	fl_arena_release(&tp.arena);
	free(markers);
	free(found);
	return result != FL_RESULT_FAILED;
}

/* ---- waves ---- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts a copy of --tenant's names, so selected() is a binary search: drift --fix may name thousands. */
static void sort_chosen(struct rollout *r)
{
	if (!r->opts->tenants)
		return;
	r->chosen = fl_calloc(r->opts->ntenants ? r->opts->ntenants : 1, sizeof(*r->chosen));
	memcpy(r->chosen, r->opts->tenants, r->opts->ntenants * sizeof(*r->chosen));
	qsort(r->chosen, r->opts->ntenants, sizeof(*r->chosen), cmp_name);
}

static bool selected(const struct rollout *r, const struct fl_tenant *t)
{
	if (!r->opts->tenants)
		return true;
	return bsearch(&t->name, r->chosen, r->opts->ntenants, sizeof(*r->chosen), cmp_name) != NULL;
}

static void progress(struct rollout *r, size_t w)
{
	if (r->opts->progress)
		r->opts->progress(r->report, w, r->opts->payload);
}

static bool cancelled(const struct rollout *r)
{
	return r->opts->cancel && *r->opts->cancel;
}

/* Most tenants in flight: max_parallel, and strict mode's tolerance + 1 - failures so far. */
static size_t flight_cap(const struct fl_wave_report *wr, size_t failed)
{
	size_t budget = wr->tolerance + 1 > failed ? wr->tolerance + 1 - failed : 0;
	return wr->parallel < budget ? wr->parallel : budget;
}

/* How many more tenants may start now. Under r->lock. */
static size_t room(const struct wave_run *wv)
{
	size_t cap = flight_cap(&wv->r->report->waves[wv->w], wv->failed);
	return cap > wv->in_flight ? cap - wv->in_flight : 0;
}

static size_t ended(const struct wave_run *wv)
{
	return wv->done + wv->skipped + wv->failed;
}

/* No tenant starts any more: all started, past tolerance, superseded or cancelled. Under r->lock. */
static bool wave_closed(const struct wave_run *wv)
{
	const struct fl_wave_report *wr = &wv->r->report->waves[wv->w];
	return wv->next == wv->n || wv->failed > wr->tolerance || wv->r->superseded || cancelled(wv->r);
}

static void *worker_main(void *arg)
{
	struct wave_run *wv = arg;
	struct rollout *r = wv->r;
	pthread_mutex_lock(&r->lock);
	while (!wave_closed(wv)) {
		/* Strict mode: wait for an in-flight tenant to end before taking another. */
		if (room(wv) == 0) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		const struct fl_tenant *t = wv->tenants[wv->next++];
		wv->in_flight++;
		pthread_mutex_unlock(&r->lock);
		bool ok = apply_tenant(r, t, wv->w);
		pthread_mutex_lock(&r->lock);
		wv->in_flight--;
		if (!ok)
			wv->failed++;
		else if (t->state == FL_TENANT_SUSPENDED)
			wv->skipped++;
		else
			wv->done++;
		pthread_cond_broadcast(&r->cond);
	}
	wv->workers--;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Copies the pool's counts into the report; under r->lock. */
static void publish(const struct wave_run *wv, struct fl_wave_report *wr)
{
	wr->done = wv->done;
	wr->skipped = wv->skipped;
	wr->failed = wv->failed;
	wr->in_flight = wv->in_flight;
}

/* Starts the pool, then reports each tenant that finishes until the pool has ended. */
static int run_wave_jobs(struct wave_run *wv, struct fl_error *err)
{
	struct rollout *r = wv->r;
	struct fl_wave_report *wr = &r->report->waves[wv->w];
	size_t cap = flight_cap(wr, 0);
	size_t nthreads = cap < wv->n ? cap : wv->n, started = 0, seen = 0;
	pthread_t *threads = fl_calloc(nthreads ? nthreads : 1, sizeof(*threads));
	char desc[160];
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	for (; started < nthreads; started++) {
		if (pthread_create(&threads[started], NULL, worker_main, wv) != 0)
			break;
		wv->workers++;
	}
	if (nthreads && !started)
		rc = fl_error_set(err, FL_EINTERNAL, "cannot start a thread for the tenants of wave '%s'",
				  r->fleet->waves[wv->w].name);
	while (wv->workers > 0) {
		while (ended(wv) == seen && wv->workers > 0)
			pthread_cond_wait(&r->cond, &r->lock);
		seen = ended(wv);
		publish(wv, wr);
		describe_running(wr, desc, sizeof(desc));
		pthread_mutex_unlock(&r->lock);
		if (!wr->succeeded_before)
			wave_context(r, wv->w, FL_STATE_PENDING, desc, true);
		progress(r, wv->w);
		pthread_mutex_lock(&r->lock);
	}
	publish(wv, wr);
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return rc;
}

static int run_wave(struct rollout *r, size_t w, struct fl_error *err)
{
	const struct fl_wave *wave = &r->fleet->waves[w];
	struct fl_wave_report *wr = &r->report->waves[w];
	struct wave_run wv = { .r = r, .w = w };
	char desc[160];
	wv.tenants = fl_calloc(r->fleet->ntenants ? r->fleet->ntenants : 1, sizeof(*wv.tenants));
	for (size_t i = 0; i < r->fleet->ntenants; i++) {
		const struct fl_tenant *t = &r->fleet->tenants[i];
		if (t->wave == w && selected(r, t))
			wv.tenants[wv.n++] = t;
	}
	wr->total = wv.n;
	wr->parallel = fl_amount_resolve(&wave->max_parallel, wave->ntenants, true);
	wr->tolerance = fl_amount_resolve(&wave->failure_tolerance, wave->ntenants, false);
	wr->started = true;
	describe_running(wr, desc, sizeof(desc));
	/*
	 * A wave that already succeeded for this commit is run again only to
	 * confirm it (level-triggered); its status stays success unless that
	 * changes, so forges do not see it flip back to pending.
	 */
	char context[160];
	enum fl_state known;
	fl_wave_context(context, sizeof(context), wave->name);
	wr->succeeded_before = fl_ledger_context(r->ledger, context, &known, NULL) && known == FL_STATE_SUCCESS;
	if (!wr->succeeded_before)
		wave_context(r, w, FL_STATE_PENDING, desc, false);
	progress(r, w);
	int rc = run_wave_jobs(&wv, err);
	free(wv.tenants);
	wr->finished = true;
	return rc;
}

/* ---- gates ---- */

struct promo_search {
	struct rollout *r;
	bool found;
};

static int on_promotion(const struct fl_repo_tag *tag, void *payload)
{
	struct promo_search *s = payload;
	bool yes = false;
	struct fl_error ignored = FL_ERROR_INIT;
	/* Called with repo_lock held by the caller. */
	if (!fl_repo_is_ancestor(&yes, s->r->repo, &s->r->fleet->commit, &tag->target, &ignored) && yes) {
		s->found = true;
		return 1;
	}
	return 0;
}

int fl_rollout_promoted(bool *out, struct fl_repo *repo, const struct fl_oid *commit, const char *wave,
			struct fl_error *err)
{
	char prefix[256];
	struct fl_fleet fake = { .commit = *commit };
	struct rollout r = { .repo = repo, .fleet = &fake };
	struct promo_search s = { &r, false };
	snprintf(prefix, sizeof(prefix), "flotilla/promote/%s/", wave);
	int rc = fl_repo_tags(repo, prefix, on_promotion, &s, err);
	*out = s.found;
	return rc < 0 ? rc : 0;
}

long long fl_bake_until(const struct fl_fleet *fleet, struct fl_ledger *ledger, size_t w)
{
	const struct fl_wave *prev = w > 0 ? &fleet->waves[w - 1] : NULL;
	if (!prev || !prev->bake_s)
		return 0;
	/*
	 * No success time: the wave before has not succeeded whole for this
	 * commit, and then no run reaches wave w (a --tenant run neither).
	 */
	long long t0 = fl_ledger_wave_success_time(ledger, prev->name);
	return t0 && fl_now() < t0 + prev->bake_s ? t0 + prev->bake_s : 0;
}

/* 0 when wave w may start now; else *until (bake) or *gate (promotion) say why not. */
static int gate_check(struct rollout *r, size_t w, long long *until, bool *gate, struct fl_error *err)
{
	*until = 0;
	*gate = false;
	*until = fl_bake_until(r->fleet, r->ledger, w);
	if (r->fleet->waves[w].gate_manual) {
		bool promoted = false;
		pthread_mutex_lock(&r->repo_lock);
		int rc = fl_rollout_promoted(&promoted, r->repo, &r->fleet->commit, r->fleet->waves[w].name, err);
		pthread_mutex_unlock(&r->repo_lock);
		if (rc)
			return rc;
		*gate = !promoted;
	}
	return 0;
}

static void sleep_s(long long s)
{
	struct timespec ts = { (time_t)s, 0 };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Holds until wave w may start; FL_ROLLOUT_WAITING (as 1) when not --wait. */
static int hold_for_gates(struct rollout *r, size_t w, struct fl_error *err)
{
	struct fl_wave_report *wr = &r->report->waves[w];
	for (;;) {
		long long until;
		bool gate;
		char desc[160], when[32];
		int rc = gate_check(r, w, &until, &gate, err);
		if (rc)
			return rc;
		if (!until && !gate)
			return 0;
		wr->wait_until = until;
		wr->awaiting_promotion = gate && !until;
		if (until) {
			fl_time_format(when, until);
			snprintf(desc, sizeof(desc), "baking until %.5sZ (%s)", when + 11, when);
		} else {
			snprintf(desc, sizeof(desc), "awaiting promotion");
		}
		wave_context(r, w, FL_STATE_PENDING, desc, false);
		progress(r, w);
		snprintf(r->report->held_by, sizeof(r->report->held_by), "wave '%s' is %s", r->fleet->waves[w].name,
			 desc);
		if (!r->opts->wait || cancelled(r))
			return 1;
		struct fl_error ignored = FL_ERROR_INIT;
		fl_ledger_flush(r->ledger, &ignored);
		long long nap = until ? until - fl_now() : (long long)(r->opts->poll_s ? r->opts->poll_s : 5);
		sleep_s(nap > 0 ? nap : 1);
	}
}

/* ---- the run ---- */

static void mark_rest(struct rollout *r, size_t from, enum fl_state state, const char *desc)
{
	for (size_t w = from; w < r->fleet->nwaves; w++)
		wave_context(r, w, state, desc, false);
}

/* Older rollouts whose accounts this one moves on: their unstarted waves are superseded. */
static void supersede_older(struct rollout *r)
{
	char desc[160];
	snprintf(desc, sizeof(desc), "superseded by %.7s", r->fleet->revision);
	for (size_t i = 0; i < r->nbehind; i++) {
		struct fl_ledger *old = NULL;
		struct fl_error e = FL_ERROR_INIT;
		if (fl_ledger_open(&old, fl_repo_gitdir(r->repo), &r->behind[i], &e)) {
			note_status_error(r, e.code, &e);
			continue;
		}
		for (size_t w = 0; w < r->fleet->nwaves; w++) {
			char context[160];
			enum fl_state state = FL_STATE_PENDING;
			fl_wave_context(context, sizeof(context), r->fleet->waves[w].name);
			bool known = fl_ledger_context(old, context, &state, NULL);
			if (known && (state == FL_STATE_SUCCESS || state == FL_STATE_FAILURE))
				continue;
			if (!known && w == 0)
				continue; /* never started: not a rollout of ours */
			note_status_error(r, fl_ledger_set_context(old, context, FL_STATE_ERROR, desc, &e), &e);
		}
		note_status_error(r, fl_ledger_flush(old, &e), &e);
		fl_ledger_free(old);
	}
}

struct removed_search {
	struct rollout *r;
	const struct fl_oid *old;
};

static int on_changed(const char *path, void *payload)
{
	struct removed_search *s = payload;
	struct rollout *r = s->r;
	struct fl_oid id;
	struct fl_error e = FL_ERROR_INIT;
	const char *name = path + strlen("tenants/"), *dot = strrchr(path, '.');
	if (strncmp(path, "tenants/", 8) != 0 || strchr(name, '/') || !dot ||
	    (strcmp(dot, ".yaml") != 0 && strcmp(dot, ".yml") != 0))
		return 0;
	if (fl_repo_path_id(&id, r->repo, &r->fleet->commit, path, &e) != FL_ENOTFOUND)
		return 0;
	char tenant[128], why[256];
	snprintf(tenant, sizeof(tenant), "%.*s", (int)(dot - name), name);
	snprintf(why, sizeof(why), "tenant file %s was removed without decommissioning the tenant first: "
		 "its account is left untouched", path);
	fl_log(r->opts->log, FL_LOG_WARN, "%s: %s", tenant, why);
	note_status_error(r, fl_ledger_set_tenant(r->ledger, tenant, NULL, FL_RESULT_SKIPPED, NULL, why, &e), &e);
	return 0;
}

/* SPEC 4: a tenant file that disappears is reported, and its account left alone. */
static void report_removed(struct rollout *r)
{
	for (size_t i = 0; i < r->nbehind; i++) {
		struct removed_search s = { r, &r->behind[i] };
		struct fl_error e = FL_ERROR_INIT;
		if (fl_repo_changed_paths(r->repo, &r->behind[i], &r->fleet->commit, on_changed, &s, &e))
			note_status_error(r, e.code, &e);
	}
}

static int plan_all(struct rollout *r, struct fl_error *err)
{
	struct fl_buf desc = FL_BUF_INIT;
	int rc = fl_plan_run(&r->report->plan, r->fleet, r->driver, &r->popts, NULL, NULL, err);
	if (rc)
		return rc;
	bool mass = !r->opts->allow_mass_delete && fl_plan_mass_delete(&r->report->plan, r->fleet->max_delete_percent);
	if (mass) {
		fl_buf_printf(&desc, "refused: deletes %zu of %zu resources, over the guard of %u%%",
			      r->report->plan.deletes, r->report->plan.observed, r->fleet->max_delete_percent);
		r->report->outcome = FL_ROLLOUT_REFUSED;
	} else {
		fl_plan_describe(&desc, &r->report->plan);
	}
	/* The plan status describes the commit's plan: the first one, unless refused now. */
	enum fl_state known;
	if (!r->partial && (mass || !fl_ledger_context(r->ledger, "flotilla/plan", &known, NULL) ||
			    known != FL_STATE_SUCCESS))
		set_context(r, "flotilla/plan", mass ? FL_STATE_FAILURE : FL_STATE_SUCCESS, desc.ptr, false);
	fl_buf_release(&desc);
	return 0;
}

static bool needs_verify(const struct fl_fleet *fleet)
{
	for (size_t w = 0; w < fleet->nwaves; w++)
		if (fleet->waves[w].nverify)
			return true;
	return false;
}

static int prepare_verify(struct rollout *r, struct fl_error *err)
{
	struct fl_buf path = FL_BUF_INIT;
	int rc = 0;
	if (!needs_verify(r->fleet))
		return 0;
	if ((rc = fl_verify_workdir(&r->workdir, r->repo, &r->fleet->commit, err)))
		goto out;
	fl_buf_printf(&path, "%s/flotilla/verify/%s", fl_repo_gitdir(r->repo), r->fleet->revision);
	r->receipts = fl_buf_detach(&path, NULL);
	r->vctx = (struct fl_verify_ctx){ r->fleet, NULL, r->workdir, r->receipts, r->opts->self_exe };
out:
	fl_buf_release(&path);
	return rc;
}

/*
 * The last wave to run: --through's, and with --tenant (apply --tenant,
 * drift --fix) no later than the last wave holding a chosen tenant, so that
 * a gate or bake of a later wave, which none of them is in, does not leave
 * the rollout waiting.
 */
static int through_index(const struct rollout *r, size_t *out, struct fl_error *err)
{
	*out = r->fleet->nwaves - 1;
	if (r->opts->through) {
		int i = fl_fleet_wave_index(r->fleet, r->opts->through);
		if (i < 0)
			return fl_error_set(err, FL_EUSAGE, "unknown wave '%s'", r->opts->through);
		*out = (size_t)i;
	}
	if (r->partial) {
		size_t last_chosen = 0;
		bool any = false;
		for (size_t i = 0; i < r->fleet->ntenants; i++) {
			const struct fl_tenant *t = &r->fleet->tenants[i];
			if (selected(r, t) && (!any || t->wave > last_chosen)) {
				last_chosen = t->wave;
				any = true;
			}
		}
		if (any && last_chosen < *out)
			*out = last_chosen;
	}
	return 0;
}

static bool wave_has_chosen(const struct rollout *r, size_t w)
{
	for (size_t i = 0; i < r->fleet->ntenants; i++)
		if (r->fleet->tenants[i].wave == w && selected(r, &r->fleet->tenants[i]))
			return true;
	return false;
}

/*
 * --tenant (and drift --fix): no shortcut past the canaries. Wave w's
 * chosen tenants are written only when every earlier wave has succeeded
 * for this commit, as a whole rollout records it; a partial run never
 * records that itself. False when they have; else true, with the
 * report's outcome (waiting, or halted when one failed) and held_by set.
 */
static bool held_by_earlier(struct rollout *r, size_t w)
{
	struct fl_buf desc = FL_BUF_INIT;
	bool held = false;
	for (size_t e = 0; e < w && !held; e++) {
		struct fl_wave_report *er = &r->report->waves[e];
		const char *name = r->fleet->waves[e].name;
		char context[160];
		enum fl_state state = FL_STATE_PENDING;
		fl_buf_clear(&desc);
		fl_wave_context(context, sizeof(context), name);
		bool known = fl_ledger_context(r->ledger, context, &state, &desc);
		er->state = state;
		snprintf(er->description, sizeof(er->description), "%s", known ? desc.ptr : "not started for this commit");
		if (known && state == FL_STATE_SUCCESS)
			continue;
		held = true;
		r->report->outcome = known && (state == FL_STATE_FAILURE || state == FL_STATE_ERROR)
					     ? FL_ROLLOUT_HALTED
					     : FL_ROLLOUT_WAITING;
		snprintf(r->report->held_by, sizeof(r->report->held_by),
			 "wave '%s' has not succeeded for %.12s (%s%s%s): tenants of wave '%s' wait for it", name,
			 r->fleet->revision, known ? fl_state_name(state) : "not started", known ? ": " : "",
			 known ? desc.ptr : "", r->fleet->waves[w].name);
	}
	fl_buf_release(&desc);
	return held;
}

static int run_waves(struct rollout *r, size_t last, struct fl_error *err)
{
	char desc[160];
	for (size_t w = 0; w <= last; w++) {
		struct fl_wave_report *wr = &r->report->waves[w];
		if (r->partial && !wave_has_chosen(r, w))
			continue;
		if (r->partial && held_by_earlier(r, w))
			return 0;
		int rc = hold_for_gates(r, w, err);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			r->report->outcome = FL_ROLLOUT_WAITING;
			return 0;
		}
		if ((rc = run_wave(r, w, err)))
			return rc;
		if (cancelled(r)) {
			r->report->outcome = FL_ROLLOUT_CANCELLED;
			return 0;
		}
		if (r->superseded) {
			snprintf(desc, sizeof(desc), "superseded by %.7s", r->report->superseded_by);
			mark_rest(r, w, FL_STATE_ERROR, desc);
			r->report->outcome = FL_ROLLOUT_SUPERSEDED;
			return 0;
		}
		if (wr->failed > wr->tolerance) {
			snprintf(desc, sizeof(desc), "halted: %zu of %zu failed (tolerance %u)", wr->failed, wr->total,
				 wr->tolerance);
			wave_context(r, w, FL_STATE_FAILURE, desc, false);
			snprintf(r->report->held_by, sizeof(r->report->held_by), "wave '%s' %s", r->fleet->waves[w].name,
				 desc);
			snprintf(desc, sizeof(desc), "not started: wave %s failed", r->fleet->waves[w].name);
			mark_rest(r, w + 1, FL_STATE_ERROR, desc);
			r->report->outcome = FL_ROLLOUT_HALTED;
			return 0;
		}
		char suspended[48];
		describe_suspended(wr, suspended, sizeof(suspended));
		snprintf(desc, sizeof(desc), "applied %zu/%zu%s", wr->done, wr->total, suspended);
		if (wr->failed)
			snprintf(desc + strlen(desc), sizeof(desc) - strlen(desc), ", %zu failed (tolerance %u)",
				 wr->failed, wr->tolerance);
		wave_context(r, w, FL_STATE_SUCCESS, desc, false);
		if (!r->partial) {
			struct fl_error e = FL_ERROR_INIT;
			note_status_error(r, fl_ledger_wave_succeeded(r->ledger, r->fleet->waves[w].name, fl_now(), &e), &e);
		}
		progress(r, w);
	}
	r->report->outcome = FL_ROLLOUT_DONE;
	return 0;
}

int fl_rollout_run(struct fl_rollout_report *out, struct fl_repo *repo, const struct fl_fleet *fleet,
		   struct fl_driver *driver, struct fl_ledger *ledger, const struct fl_rollout_opts *opts,
		   struct fl_error *err)
{
	struct rollout r;
	size_t last = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	out->nwaves = fleet->nwaves;
	out->waves = fl_calloc(fleet->nwaves ? fleet->nwaves : 1, sizeof(*out->waves));
	for (size_t w = 0; w < fleet->nwaves; w++)
		out->waves[w].name = fleet->waves[w].name;
	r.repo = repo;
	r.fleet = fleet;
	r.driver = driver;
	r.ledger = ledger;
	r.opts = opts;
	r.report = out;
	r.partial = opts->tenants != NULL;
	r.popts = (struct fl_plan_opts){ .prune = opts->prune || fleet->prune, .refresh = opts->refresh,
					 .tenants = opts->tenants, .ntenants = opts->ntenants };
	pthread_mutex_init(&r.lock, NULL);
	pthread_mutex_init(&r.status_lock, NULL);
	pthread_mutex_init(&r.repo_lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	sort_chosen(&r);
	if ((rc = through_index(&r, &last, err)) || (rc = plan_all(&r, err)))
		goto out;
	if (out->outcome == FL_ROLLOUT_REFUSED)
		goto out;
	if ((rc = prepare_verify(&r, err)) || (rc = run_waves(&r, last, err)))
		goto out;
	supersede_older(&r);
	if (!r.partial)
		report_removed(&r);
out:
	{
		struct fl_error e = FL_ERROR_INIT;
		note_status_error(&r, fl_ledger_flush(ledger, &e), &e);
		if (opts->statuses) {
			fl_statuses_flush(opts->statuses);
			out->status_failures += opts->statuses->failures;
			if (opts->statuses->failures)
				snprintf(out->status_error, sizeof(out->status_error), "%s",
					 opts->statuses->last_error.msg);
		}
	}
	pthread_cond_destroy(&r.cond);
	pthread_mutex_destroy(&r.repo_lock);
	pthread_mutex_destroy(&r.status_lock);
	pthread_mutex_destroy(&r.lock);
	free(r.behind);
	free(r.chosen);
	free(r.workdir);
	free(r.receipts);
	return rc;
}
