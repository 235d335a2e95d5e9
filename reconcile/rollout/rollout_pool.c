/*
 * One wave's tenants, worked through by a pool of threads that each take
 * the next tenant themselves, as many in flight as max_parallel allows and
 * never more than failure tolerance allows (strict mode): no more in
 * flight than the failures that would halt the wave, so none starts once
 * it has halted. A thread per tenant, started and joined by the coordinator,
 * left slots empty while it created threads: a wave of 100 tenants in
 * flight on a network driver ran at 87 on average.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "reconcile/rollout/rollout_internal.h"
#include "core/banned.h"

/*
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
	/* apply --shard: the other shards' failures in this wave, as last shared */
	size_t elsewhere, shared_failed;
	long long next_share_ms;
};

/* A sharded wave shares its counts this often, and at once after a failure of its own. */
#define SHARE_MS 5000

/* Most tenants in flight: max_parallel, and strict mode's tolerance + 1 - failures so far. */
static size_t flight_cap(const struct fl_wave_report *wr, size_t failed)
{
	size_t budget = wr->tolerance + 1 > failed ? wr->tolerance + 1 - failed : 0;
	return wr->parallel < budget ? wr->parallel : budget;
}

/* How many more tenants may start now. Under r->lock. */
static size_t room(const struct wave_run *wv)
{
	size_t cap = flight_cap(&wv->r->report->waves[wv->w], wv->failed + wv->elsewhere);
	return cap > wv->in_flight ? cap - wv->in_flight : 0;
}

static size_t ended(const struct wave_run *wv)
{
	return wv->done + wv->skipped + wv->failed;
}

/*
 * No tenant starts any more: all started, past tolerance, superseded,
 * cancelled, or the run itself failed. Under r->lock.
 */
static bool wave_closed(const struct wave_run *wv)
{
	const struct fl_wave_report *wr = &wv->r->report->waves[wv->w];
	return wv->next == wv->n || wv->failed + wv->elsewhere > wr->tolerance || wv->r->superseded ||
	       wv->r->failure.code || fl_rollout_cancelled(wv->r);
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
		bool ok = fl_rollout_apply_tenant(r, t, wv->w);
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

/*
 * A wave that already succeeded for this commit is run again only to
 * confirm it (level-triggered), and one that failed is tried again by the
 * next run (a CI schedule reruns a halted commit every few minutes): its
 * status stays as it was until the outcome differs, so forges do not see
 * it flip to pending and back at every run, nor count those statuses
 * towards their cap.
 */
static bool keeps_status(const struct fl_wave_report *wr)
{
	return wr->succeeded_before || wr->failed_before[0];
}

/* ---- apply --shard: the failures of the other shards count against the wave's tolerance ---- */

static bool share_due(const struct wave_run *wv)
{
	return fl_rollout_sharded(wv->r) && (fl_mono_ms() >= wv->next_share_ms || wv->failed > wv->shared_failed);
}

/* Waits for a tenant to end; sharded, also wakes each second to see whether sharing is due. Under r->lock. */
static void wait_for_news(struct wave_run *wv)
{
	struct timespec until;
	if (!fl_rollout_sharded(wv->r)) {
		pthread_cond_wait(&wv->r->cond, &wv->r->lock);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_cond_timedwait(&wv->r->cond, &wv->r->lock, &until);
}

/* Shares this shard's counts so far and takes the others' failures; r->lock held, dropped meanwhile. */
static void share_progress(struct wave_run *wv, struct fl_wave_report *wr)
{
	struct rollout *r = wv->r;
	publish(wv, wr);
	struct fl_wave_report counts = *wr;
	size_t elsewhere = wv->elsewhere;
	wv->shared_failed = wv->failed;
	pthread_mutex_unlock(&r->lock);
	fl_rollout_shard_progress(r, wv->w, &counts, &elsewhere);
	pthread_mutex_lock(&r->lock);
	wv->next_share_ms = fl_mono_ms() + SHARE_MS;
	wv->elsewhere = elsewhere;
	pthread_cond_broadcast(&r->cond);
}

/* Starts the pool, then reports each tenant that finishes until the pool has ended. */
static int run_wave_jobs(struct wave_run *wv, struct fl_error *err)
{
	struct rollout *r = wv->r;
	struct fl_wave_report *wr = &r->report->waves[wv->w];
	size_t cap = flight_cap(wr, 0);
	size_t nthreads = cap < wv->n ? cap : wv->n, started = 0, seen = 0, rolled_back = 0;
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
	wv->next_share_ms = fl_mono_ms() + SHARE_MS;
	while (wv->workers > 0) {
		while (ended(wv) == seen && wv->workers > 0 && !share_due(wv))
			wait_for_news(wv);
		if (wv->workers > 0 && share_due(wv))
			share_progress(wv, wr);
		if (ended(wv) == seen)
			continue;
		seen = ended(wv);
		publish(wv, wr);
		fl_rollout_describe_running(wr, desc, sizeof(desc));
		fl_rollout_shard_prefix(r, desc, sizeof(desc));
		/* A rollback of this run is news for writers that announce transitions, not progress. */
		bool rollback = wr->rolled_back_here > rolled_back;
		rolled_back = wr->rolled_back_here;
		pthread_mutex_unlock(&r->lock);
		if (rollback)
			fl_rollout_wave_context(r, wv->w, FL_STATE_PENDING, desc, FL_WAVE_EVENT_ROLLED_BACK);
		else if (!keeps_status(wr))
			fl_rollout_wave_progress(r, wv->w, desc);
		fl_rollout_progress(r, wv->w);
		pthread_mutex_lock(&r->lock);
	}
	publish(wv, wr);
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return rc;
}

int fl_rollout_run_wave(struct rollout *r, size_t w, struct fl_error *err)
{
	const struct fl_wave *wave = &r->fleet->waves[w];
	struct fl_wave_report *wr = &r->report->waves[w];
	struct wave_run wv = { .r = r, .w = w };
	char desc[160];
	wv.tenants = fl_calloc(r->fleet->ntenants ? r->fleet->ntenants : 1, sizeof(*wv.tenants));
	for (size_t i = 0; i < r->fleet->ntenants; i++) {
		const struct fl_tenant *t = &r->fleet->tenants[i];
		if (t->wave == w && fl_rollout_selected(r, t))
			wv.tenants[wv.n++] = t;
	}
	wr->total = wv.n;
	wr->parallel = fl_amount_resolve(&wave->max_parallel, wave->ntenants, true);
	/* max_parallel is the wave's, over all shards: each takes its share, at least one. */
	if (fl_rollout_sharded(r))
		wr->parallel = wr->parallel / r->opts->shard_n ? wr->parallel / r->opts->shard_n : 1;
	wr->tolerance = fl_amount_resolve(&wave->failure_tolerance, wave->ntenants, false);
	wr->started = true;
	fl_rollout_describe_running(wr, desc, sizeof(desc));
	fl_rollout_shard_prefix(r, desc, sizeof(desc));
	enum fl_state known;
	struct fl_buf was = FL_BUF_INIT;
	bool had = fl_wave_state(r->ledger, wave->name, &known, &was);
	wr->succeeded_before = had && known == FL_STATE_SUCCESS;
	snprintf(wr->failed_before, sizeof(wr->failed_before), "%s",
		 had && known == FL_STATE_FAILURE && was.ptr ? was.ptr : "");
	fl_buf_release(&was);
	if (!keeps_status(wr))
		fl_rollout_wave_context(r, w, FL_STATE_PENDING, desc, FL_WAVE_EVENT_STARTED);
	fl_rollout_progress(r, w);
	int rc = run_wave_jobs(&wv, err);
	free(wv.tenants);
	wr->finished = true;
	return rc;
}
