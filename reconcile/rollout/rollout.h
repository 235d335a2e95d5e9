/*
 * The rollout engine (SPEC 4): applies a commit to every account in waves,
 * canaries first. Within a wave, tenants run in parallel up to max_parallel
 * and never more than failure tolerance allows (strict mode); each tenant's
 * identity is checked before anything is written, its regions applied in
 * order with the marker last, observed again, and verified. Past tolerance
 * the wave fails and the rollout halts. Bakes and manual gates hold later
 * waves. Level-triggered: run again after any interruption, it skips what
 * is done (accounts' markers, the ledger, verify receipts) and goes on.
 */
#ifndef FL_ROLLOUT_H
#define FL_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/git.h"
#include "core/log.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/plan/plan.h"
#include "reconcile/status/status.h"
#include "reconcile/rollout/wave_rules.h"

enum fl_rollout_outcome {
	FL_ROLLOUT_DONE,         /* every wave asked for succeeded */
	FL_ROLLOUT_HALTED,       /* a wave failed past its tolerance */
	FL_ROLLOUT_WAITING,      /* a bake or a manual gate holds the next wave */
	FL_ROLLOUT_SUPERSEDED,   /* accounts are already at a newer commit */
	FL_ROLLOUT_REFUSED,      /* the mass-delete guard refused the plan */
	FL_ROLLOUT_CANCELLED,    /* stopped by opts->cancel; run again to go on */
};

struct fl_wave_report {
	const char *name;
	bool started, finished;
	enum fl_state state;
	char description[160];
	size_t total, done, failed, in_flight, skipped;
	unsigned tolerance, parallel;
	long long wait_until;            /* bake: when the wave may start */
	bool awaiting_promotion;
	bool succeeded_before;           /* an earlier run succeeded: statuses stay success while confirming */
	char failed_before[160];         /* an earlier run failed it: its description then; "" otherwise */
	/* Tenants rolled back at this commit (on_failure: rollback), counted by
	 * the tenants' threads under the rollout's lock: all (this run's and
	 * earlier runs', which it leaves alone), this run's, the first
	 * revision they went back to, and whether others differ. */
	size_t rolled_back, rolled_back_here;
	char rolled_back_to[FL_OID_HEX_LEN + 1];
	bool rolled_back_mixed;
	long long started_ms;            /* monotonic, for elapsed times */
};

struct fl_rollout_report {
	enum fl_rollout_outcome outcome;
	struct fl_plan_summary plan;
	struct fl_wave_report *waves;    /* fleet->nwaves entries, owned */
	size_t nwaves;
	char superseded_by[FL_OID_HEX_LEN + 1];
	char held_by[320];               /* WAITING, HALTED: which wave holds the rollout, and why */
	bool awaiting_shards;            /* WAITING for other shards (apply --shard), not a gate */
	size_t status_failures;          /* statuses that could not be written */
	char status_error[FL_ERROR_MSG_MAX];
};

void fl_rollout_report_release(struct fl_rollout_report *report);

/* Called (serialised) whenever a wave's counts change, for progress displays. */
typedef void (*fl_rollout_progress_cb)(const struct fl_rollout_report *report, size_t wave, void *payload);

struct fl_rollout_opts {
	const char *through;             /* the last wave to run; NULL: every wave */
	const char *const *tenants;      /* only these tenants (NULL: all); wave statuses untouched then */
	size_t ntenants;
	bool prune;                      /* --prune, or fleet.yaml prune */
	bool allow_mass_delete;
	bool refresh;                    /* observe every account instead of trusting markers (drift --fix) */
	bool wait;                       /* sleep through bakes and gates instead of returning WAITING */
	unsigned poll_s;                 /* how often --wait looks for a promotion (default 5) */
	const char *self_exe;            /* this binary, for the verify wrapper */
	const struct fl_log *log;
	struct fl_statuses *statuses;    /* where contexts go; NULL: the ledger's note only */
	/* When it becomes non-zero (a signal), no new tenant starts; in-flight ones finish. */
	const volatile int *cancel;
	fl_rollout_progress_cb progress;
	void *payload;
	/*
	 * apply --shard K/N (shard_n 0: not sharded): only the tenants
	 * fl_shard_of assigns to shard_k; every wave ends at a barrier across
	 * the shards, reached by sharing the ledger's notes through share.
	 */
	unsigned shard_k, shard_n;
	const char *shard_run;           /* the run the N jobs share (--shard-run), at most FL_SHARD_RUN_MAX bytes */
	fl_ledger_share_fn share;
	void *share_payload;
	unsigned barrier_timeout_s;      /* how long a shard waits for the others at a wave's end; 0: 30 min */
};

/*
 * The shard (1..n) of tenant: the first 64 bits of the XXH3-128 of its
 * name, big-endian, modulo n, plus one. Stable across runs, machines and
 * versions: shards must agree on it.
 */
unsigned fl_shard_of(const char *tenant, unsigned n);

/*
 * The lowest of n shards that holds a tenant of fleet not suspended (1
 * when none does): the one that reports what is the fleet's rather than a
 * shard's (tenant files removed, found from the markers its tenants hold;
 * a suspended tenant's are not read). Every shard computes the same from
 * the same commit.
 */
unsigned fl_shard_first(const struct fl_fleet *fleet, unsigned n);

/*
 * Rolls fleet's commit out through driver, recording everything in ledger.
 * Returns 0 with out->outcome set, or an error code for a failure of the
 * run itself (a tenant's failure is not one: it counts against its wave),
 * among them git failing to tell whether an account's commit is newer or
 * older than this one: the tenants in flight finish, no other starts.
 * out is the caller's to fl_rollout_report_release.
 */
int fl_rollout_run(struct fl_rollout_report *out, struct fl_repo *repo, const struct fl_fleet *fleet,
		   struct fl_driver *driver, struct fl_ledger *ledger, const struct fl_rollout_opts *opts,
		   struct fl_error *err);

#endif
