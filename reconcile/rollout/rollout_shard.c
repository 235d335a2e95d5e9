/*
 * apply --shard K/N (SPEC 4, docs/rollout.md "Sharding"): N runs, usually
 * the jobs of a CI matrix, share one rollout. Each applies the tenants a
 * stable hash assigns to it. While a wave runs it records its counts so
 * far in the head note and shares the notes (push, fetch, merge) now and
 * then, so that the others' failures count against the wave's tolerance
 * (rollout_pool.c). At the wave's end it records its final counts and
 * waits until every shard of its run has finished the wave. The wave's
 * outcome is then decided from the sum of all shards' counts, so every
 * shard reaches the same verdict and writes the same statuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/hash.h"
#include "reconcile/rollout/rollout_internal.h"
#include "core/banned.h"

#define BARRIER_TIMEOUT_S (30 * 60)
#define BARRIER_POLL_S 2

unsigned fl_shard_of(const char *tenant, unsigned n)
{
	struct fl_fp fp;
	uint64_t h = 0;
	fl_fp_of(&fp, tenant, strlen(tenant));
	for (size_t i = 0; i < 8; i++)
		h = h << 8 | fp.b[i];
	return n ? (unsigned)(h % n) + 1 : 1;
}

unsigned fl_shard_first(const struct fl_fleet *fleet, unsigned n)
{
	unsigned first = 0;
	for (size_t i = 0; i < fleet->ntenants && first != 1; i++) {
		if (fleet->tenants[i].state == FL_TENANT_SUSPENDED)
			continue;
		unsigned k = fl_shard_of(fleet->tenants[i].name, n);
		first = !first || k < first ? k : first;
	}
	return first ? first : 1;
}

bool fl_rollout_sharded(const struct rollout *r)
{
	return r->opts->shard_n > 0;
}

/* Sleeps up to s seconds in steps of a tenth, waking early when the run is cancelled. */
static void nap(const struct rollout *r, unsigned s)
{
	for (unsigned i = 0; i < s * 10 && !fl_rollout_cancelled(r); i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		while (nanosleep(&ts, &ts) != 0)
			;
	}
}

/*
 * The sum of the shards' records of a wave in this run: what it counts
 * over all of them. found and missing are about finished records; failed
 * counts running ones too, and elsewhere the failures of the other shards.
 */
struct shard_sum {
	size_t found, total, done, failed, skipped, elsewhere;
	char missing[200];                /* "2/3, 3/3": shards that have not finished the wave */
};

static void sum_shards(struct shard_sum *out, struct rollout *r, size_t w)
{
	unsigned n = r->opts->shard_n;
	struct fl_shard_record *recs = fl_calloc(n, sizeof(*recs));
	bool *found = fl_calloc(n, sizeof(*found));
	size_t len = 0;
	memset(out, 0, sizeof(*out));
	fl_ledger_shard_records(r->ledger, r->fleet->waves[w].name, n, r->opts->shard_run, recs, found);
	for (unsigned k = 0; k < n; k++) {
		if (found[k]) {
			out->failed += recs[k].failed;
			out->elsewhere += k + 1 != r->opts->shard_k ? recs[k].failed : 0;
		}
		if (!found[k] || recs[k].running) {
			if (len < sizeof(out->missing))
				len += (size_t)snprintf(out->missing + len, sizeof(out->missing) - len, "%s%u/%u",
							len ? ", " : "", k + 1, n);
			continue;
		}
		out->found++;
		out->total += recs[k].total;
		out->done += recs[k].done;
		out->skipped += recs[k].skipped;
	}
	free(recs);
	free(found);
}

/* Records this shard's counts of wave w: so far (running), or as it ended. */
static int record_part(struct rollout *r, size_t w, const struct fl_wave_report *counts, bool running,
		       struct fl_error *err)
{
	struct fl_shard_record rec = {
		.k = r->opts->shard_k, .n = r->opts->shard_n, .updated = fl_now(), .running = running,
		.total = counts->total, .done = counts->done, .failed = counts->failed, .skipped = counts->skipped,
	};
	snprintf(rec.run, sizeof(rec.run), "%s", r->opts->shard_run);
	return fl_ledger_shard_record(r->ledger, r->fleet->waves[w].name, &rec, err);
}

/* The wave's counts become those of all shards: its statuses and verdict are the fleet's. */
static void take_sum(struct rollout *r, size_t w, const struct shard_sum *sum)
{
	struct fl_wave_report *wr = &r->report->waves[w];
	wr->total = sum->total;
	wr->done = sum->done;
	wr->failed = sum->failed;
	wr->skipped = sum->skipped;
}

/* One exchange of notes with the other shards; a failure is logged and tried again at the next poll. */
static int exchange(struct rollout *r, bool whole, struct fl_error *last)
{
	fl_error_clear(last);
	int rc = fl_ledger_exchange(r->ledger, whole, r->opts->share, r->opts->share_payload, last);
	if (rc)
		fl_log(r->opts->log, FL_LOG_WARN, "shard %u/%u: cannot share the ledger: %s", r->opts->shard_k,
		       r->opts->shard_n, last->msg);
	return rc;
}

int fl_rollout_shard_barrier(struct rollout *r, size_t w, struct fl_error *err)
{
	const struct fl_wave_report *wr = &r->report->waves[w];
	unsigned timeout = r->opts->barrier_timeout_s ? r->opts->barrier_timeout_s : BARRIER_TIMEOUT_S;
	long long deadline = fl_mono_ms() + (long long)timeout * 1000;
	struct fl_error last = FL_ERROR_INIT;
	struct shard_sum sum;
	int rc;

	/* Cancelled, or the run failed: this shard has not finished the wave, and says nothing. */
	if (fl_rollout_cancelled(r) || r->failure.code)
		return 0;
	if ((rc = record_part(r, w, wr, false, err)))
		return rc;
	bool over = false;
	for (;;) {
		bool shared = exchange(r, true, &last) == 0;
		sum_shards(&sum, r, w);
		over = sum.failed > wr->tolerance;
		/*
		 * Past tolerance the verdict is known, but it waits for the
		 * others' counts all the same, so that every shard writes the
		 * same description; superseded, it goes at once.
		 */
		if (shared && (sum.found == r->opts->shard_n || r->superseded)) {
			take_sum(r, w, &sum);
			return 0;
		}
		if (fl_rollout_cancelled(r))
			return 0;
		if (fl_mono_ms() >= deadline)
			break;
		nap(r, BARRIER_POLL_S);
	}
	if (over) {
		take_sum(r, w, &sum);
		return 0;
	}
	if (last.code)
		return fl_error_set(err, last.code, "shard %u/%u: cannot reach the other shards at the end of wave '%s': %s",
				    r->opts->shard_k, r->opts->shard_n, r->fleet->waves[w].name, last.msg);
	snprintf(r->report->held_by, sizeof(r->report->held_by),
		 "wave '%s' is waiting for shard%s %s to finish it (waited %u s; run again to go on)",
		 r->fleet->waves[w].name, r->opts->shard_n - sum.found == 1 ? "" : "s", sum.missing, timeout);
	r->report->outcome = FL_ROLLOUT_WAITING;
	r->report->awaiting_shards = true;
	return 1;
}

void fl_rollout_shard_progress(struct rollout *r, size_t w, const struct fl_wave_report *counts, size_t *elsewhere)
{
	struct fl_error e = FL_ERROR_INIT;
	struct shard_sum sum;
	if (record_part(r, w, counts, true, &e) || exchange(r, false, &e))
		return;
	sum_shards(&sum, r, w);
	*elsewhere = sum.elsewhere;
}

void fl_rollout_shard_prefix(const struct rollout *r, char *desc, size_t cap)
{
	char copy[160];
	if (!fl_rollout_sharded(r))
		return;
	snprintf(copy, sizeof(copy), "%s", desc);
	snprintf(desc, cap, "shard %u/%u: %s", r->opts->shard_k, r->opts->shard_n, copy);
}
