/*
 * The rollout engine; see rollout.h. One wave at a time, in order: each
 * waits for what holds it (wave_rules.h), then runs on a pool of threads
 * (rollout_pool.c) that take tenants through rollout_tenant.c; the outcome
 * follows from the wave's counts. rollout_internal.h maps the other files.
 */
#include "reconcile/rollout/rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "reconcile/plan/plan_output.h"
#include "reconcile/rollout/rollout_internal.h"
#include "core/banned.h"

void fl_rollout_report_release(struct fl_rollout_report *report)
{
	free(report->waves);
	memset(report, 0, sizeof(*report));
}

/* ---- which tenants ---- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The tenants the run is for, sorted, so fl_rollout_selected() is a binary
 * search (drift --fix may name thousands): a copy of --tenant's names, or
 * the shard's tenants. NULL: every tenant.
 */
static void choose(struct rollout *r)
{
	const struct fl_fleet *f = r->fleet;
	if (r->opts->tenants) {
		r->chosen = fl_calloc(r->opts->ntenants ? r->opts->ntenants : 1, sizeof(*r->chosen));
		memcpy(r->chosen, r->opts->tenants, r->opts->ntenants * sizeof(*r->chosen));
		r->nchosen = r->opts->ntenants;
	} else if (fl_rollout_sharded(r)) {
		r->chosen = fl_calloc(f->ntenants ? f->ntenants : 1, sizeof(*r->chosen));
		for (size_t i = 0; i < f->ntenants; i++)
			if (fl_shard_of(f->tenants[i].name, r->opts->shard_n) == r->opts->shard_k)
				r->chosen[r->nchosen++] = f->tenants[i].name;
	} else {
		return;
	}
	qsort(r->chosen, r->nchosen, sizeof(*r->chosen), cmp_name);
	r->popts.tenants = r->chosen;
	r->popts.ntenants = r->nchosen;
}

bool fl_rollout_selected(const struct rollout *r, const struct fl_tenant *t)
{
	if (!r->chosen)
		return true;
	return bsearch(&t->name, r->chosen, r->nchosen, sizeof(*r->chosen), cmp_name) != NULL;
}

bool fl_rollout_cancelled(const struct rollout *r)
{
	return r->opts->cancel && *r->opts->cancel;
}

/* ---- what holds a wave ---- */

static void sleep_s(long long s)
{
	struct timespec ts = { (time_t)s, 0 };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int gate_check(struct rollout *r, size_t w, struct fl_wave_gate *out, struct fl_error *err)
{
	pthread_mutex_lock(&r->repo_lock);
	int rc = fl_wave_gate_check(out, r->repo, r->fleet, r->ledger, w, err);
	pthread_mutex_unlock(&r->repo_lock);
	return rc;
}

/* Holds until wave w may start; FL_ROLLOUT_WAITING (as 1) when not --wait. */
static int hold_for_gates(struct rollout *r, size_t w, struct fl_error *err)
{
	struct fl_wave_report *wr = &r->report->waves[w];
	for (;;) {
		struct fl_wave_gate gate;
		char desc[160];
		int rc = gate_check(r, w, &gate, err);
		if (rc)
			return rc;
		if (!fl_wave_gate_holds(&gate))
			return 0;
		wr->wait_until = gate.bake_until;
		wr->awaiting_promotion = !gate.bake_until;
		fl_wave_gate_describe(desc, sizeof(desc), &gate);
		fl_rollout_wave_context(r, w, FL_STATE_PENDING, desc, FL_WAVE_EVENT_WAITING);
		fl_rollout_progress(r, w);
		snprintf(r->report->held_by, sizeof(r->report->held_by), "wave '%s' is %s", r->fleet->waves[w].name,
			 desc);
		if (!r->opts->wait || fl_rollout_cancelled(r))
			return 1;
		struct fl_error ignored = FL_ERROR_INIT;
		fl_ledger_flush(r->ledger, &ignored);
		long long nap = gate.bake_until ? gate.bake_until - fl_now()
						: (long long)(r->opts->poll_s ? r->opts->poll_s : 5);
		sleep_s(nap > 0 ? nap : 1);
	}
}

/*
 * --tenant (and drift --fix): no shortcut past the canaries (wave_rules.h).
 * False when every wave before w succeeded for this commit; else true,
 * with the report's outcome (waiting, or halted when one failed) and
 * held_by set. The earlier waves' states go to the report.
 */
static bool held_by_earlier(struct rollout *r, size_t w)
{
	struct fl_wave_seen *seen = fl_calloc(w ? w : 1, sizeof(*seen));
	size_t e = fl_wave_held_by(seen, r->report->held_by, sizeof(r->report->held_by), r->fleet, r->ledger, w);
	for (size_t i = 0; i < w && i <= e; i++) {
		r->report->waves[i].state = seen[i].state;
		snprintf(r->report->waves[i].description, sizeof(r->report->waves[i].description), "%s",
			 seen[i].description);
	}
	if (e < w)
		r->report->outcome = fl_wave_seen_failed(&seen[e]) ? FL_ROLLOUT_HALTED : FL_ROLLOUT_WAITING;
	free(seen);
	return e < w;
}

/* ---- the run ---- */

static void mark_rest(struct rollout *r, size_t from, const char *desc, enum fl_wave_event event)
{
	for (size_t w = from; w < r->fleet->nwaves; w++)
		fl_rollout_wave_context(r, w, FL_STATE_ERROR, desc, event);
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
	/*
	 * The plan status describes the commit's plan: the first one, unless
	 * refused now. A shard planned its own tenants only: it says nothing
	 * but a refusal.
	 */
	enum fl_state state = mass ? FL_STATE_FAILURE : FL_STATE_SUCCESS;
	bool whole = !r->partial && (!fl_rollout_sharded(r) || mass);
	if (whole && fl_plan_status_due(r->ledger, state)) {
		struct fl_status_update u = { FL_PLAN_CONTEXT, state, desc.ptr, false, FL_WAVE_EVENT_NONE };
		fl_rollout_set_context(r, &u);
	}
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
			if (fl_rollout_selected(r, t) && (!any || t->wave > last_chosen)) {
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
		if (r->fleet->tenants[i].wave == w && fl_rollout_selected(r, &r->fleet->tenants[i]))
			return true;
	return false;
}

/* The outcome after wave w ran: 1 when it ends the rollout (report->outcome set), else 0. */
static int wave_ended(struct rollout *r, size_t w, struct fl_error *err)
{
	struct fl_wave_report *wr = &r->report->waves[w];
	char desc[160];
	if (r->failure.code) {
		if (err)
			*err = r->failure;
		return r->failure.code;
	}
	if (fl_rollout_cancelled(r)) {
		r->report->outcome = FL_ROLLOUT_CANCELLED;
		return 1;
	}
	if (r->superseded) {
		snprintf(desc, sizeof(desc), "superseded by %.7s", r->report->superseded_by);
		mark_rest(r, w, desc, FL_WAVE_EVENT_SUPERSEDED);
		r->report->outcome = FL_ROLLOUT_SUPERSEDED;
		return 1;
	}
	if (wr->failed > wr->tolerance) {
		fl_rollout_describe_halted(wr, desc, sizeof(desc));
		fl_rollout_wave_context(r, w, FL_STATE_FAILURE, desc, FL_WAVE_EVENT_FAILED);
		snprintf(r->report->held_by, sizeof(r->report->held_by), "wave '%s' %s", r->fleet->waves[w].name,
			 desc);
		snprintf(desc, sizeof(desc), "not started: wave %s failed", r->fleet->waves[w].name);
		mark_rest(r, w + 1, desc, FL_WAVE_EVENT_HALTED);
		r->report->outcome = FL_ROLLOUT_HALTED;
		return 1;
	}
	return 0;
}

static int run_waves(struct rollout *r, size_t last, struct fl_error *err)
{
	char desc[160];
	for (size_t w = 0; w <= last; w++) {
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
		if ((rc = fl_rollout_run_wave(r, w, err)) ||
		    (fl_rollout_sharded(r) && (rc = fl_rollout_shard_barrier(r, w, err))) ||
		    (rc = wave_ended(r, w, err)))
			return rc < 0 ? rc : 0;
		fl_rollout_describe_applied(&r->report->waves[w], desc, sizeof(desc));
		fl_rollout_wave_context(r, w, FL_STATE_SUCCESS, desc, FL_WAVE_EVENT_SUCCEEDED);
		if (!r->partial) {
			struct fl_error e = FL_ERROR_INIT;
			fl_rollout_status_error(r, fl_ledger_wave_succeeded(r->ledger, r->fleet->waves[w].name, fl_now(), &e),
						&e);
		}
		fl_rollout_progress(r, w);
		/* A wave's end is in the head at once; the tenants follow when their note is due. */
		struct fl_error fe = FL_ERROR_INIT;
		fl_rollout_status_error(r, fl_ledger_checkpoint(r->ledger, &fe), &fe);
	}
	r->report->outcome = FL_ROLLOUT_DONE;
	return 0;
}

/* Saves the ledger and sends what the status writers hold back; what fails is counted in out. */
static void finish_statuses(struct rollout *r)
{
	struct fl_error e = FL_ERROR_INIT;
	fl_rollout_status_error(r, fl_ledger_flush(r->ledger, &e), &e);
	if (r->opts->statuses) {
		fl_statuses_flush(r->opts->statuses);
		r->report->status_failures += r->opts->statuses->failures;
		if (r->opts->statuses->failures)
			snprintf(r->report->status_error, sizeof(r->report->status_error), "%s",
				 r->opts->statuses->last_error.msg);
	}
}

int fl_rollout_run(struct fl_rollout_report *out, struct fl_repo *repo, const struct fl_fleet *fleet,
		   struct fl_driver *driver, struct fl_ledger *ledger, const struct fl_rollout_opts *opts,
		   struct fl_error *err)
{
	struct rollout r = {
		.repo = repo, .fleet = fleet, .driver = driver, .ledger = ledger, .opts = opts, .report = out,
		.partial = opts->tenants != NULL,
		.popts = { .prune = opts->prune || fleet->prune, .refresh = opts->refresh },
	};
	size_t last = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	out->nwaves = fleet->nwaves;
	out->waves = fl_calloc(fleet->nwaves ? fleet->nwaves : 1, sizeof(*out->waves));
	for (size_t w = 0; w < fleet->nwaves; w++)
		out->waves[w].name = fleet->waves[w].name;
	pthread_mutex_init(&r.lock, NULL);
	pthread_mutex_init(&r.status_lock, NULL);
	pthread_mutex_init(&r.repo_lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	choose(&r);
	if ((rc = through_index(&r, &last, err)) || (rc = plan_all(&r, err)))
		goto out;
	if (out->outcome == FL_ROLLOUT_REFUSED)
		goto out;
	if ((rc = prepare_verify(&r, err)) || (rc = run_waves(&r, last, err)))
		goto out;
	fl_rollout_supersede_older(&r);
	/* Removed tenants are the fleet's, not a shard's: the first shard with tenants reports them. */
	if (!r.partial && (!fl_rollout_sharded(&r) || opts->shard_k == fl_shard_first(fleet, opts->shard_n)))
		fl_rollout_report_removed(&r);
out:
	finish_statuses(&r);
	pthread_cond_destroy(&r.cond);
	pthread_mutex_destroy(&r.repo_lock);
	pthread_mutex_destroy(&r.status_lock);
	pthread_mutex_destroy(&r.lock);
	free(r.behind);
	free(r.placed);
	free(r.chosen);
	free(r.workdir);
	free(r.receipts);
	return rc;
}
