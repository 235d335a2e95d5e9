/*
 * What the rollout engine's files share. rollout.c runs the waves in
 * order; rollout_pool.c works through one wave's tenants on a pool of
 * threads; rollout_tenant.c takes one tenant through plan, apply, observe
 * and verify; rollout_markers.c reads where the accounts are relative to
 * this commit (ahead: superseded; behind: older rollouts to supersede);
 * rollout_status.c reports contexts and progress; rollout_rollback.c
 * takes a failed tenant back to its last good revision (on_failure:
 * rollback). wave_rules.h holds the rules that say when a wave may start.
 */
#ifndef FL_ROLLOUT_INTERNAL_H
#define FL_ROLLOUT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "reconcile/rollout/rollout.h"
#include "reconcile/rollout/verify.h"

/* Where a commit an account is at stands relative to the rollout's. */
enum fl_rollout_place {
	FL_PLACE_AHEAD,                  /* a descendant: the rollout is superseded */
	FL_PLACE_BEHIND,                 /* an ancestor: an older rollout this one moves on */
	FL_PLACE_APART,                  /* neither (another branch) */
};

struct fl_rollout_placed {
	struct fl_oid commit;
	enum fl_rollout_place where;
};

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
	const char **chosen;             /* --tenant's names, or the shard's tenants, sorted; NULL: all */
	size_t nchosen;
	pthread_mutex_t status_lock;     /* status writers are called one at a time */
	pthread_mutex_t lock;            /* guards everything below and the report */
	pthread_cond_t cond;
	bool superseded;
	struct fl_oid *behind;           /* older commits the accounts were at */
	size_t nbehind, capbehind;
	struct fl_rollout_placed *placed; /* commits of markers met so far, placed once each */
	size_t nplaced, capplaced;
	/* A failure of the run itself met by a tenant's thread (git could not
	 * tell where an account is): no tenant starts after it, and the run
	 * returns it. The first one is kept. */
	struct fl_error failure;
};

/* ---- rollout.c ---- */

/* True when t is one of the tenants the run is for (all, without --tenant). */
bool fl_rollout_selected(const struct rollout *r, const struct fl_tenant *t);

/* True once opts->cancel is set: no new tenant starts. */
bool fl_rollout_cancelled(const struct rollout *r);

/* ---- rollout_status.c ---- */

/* Counts a status that could not be written (rc non-zero, e why): it never fails the rollout. */
void fl_rollout_status_error(struct rollout *r, int rc, const struct fl_error *e);

/* Sends a context to the status writers, or to the ledger's note when there are none. */
void fl_rollout_set_context(struct rollout *r, const struct fl_status_update *u);

/*
 * Sets wave w's state in the report and, unless the run is partial, its
 * context. event says what the change means (status.h); it is passed on
 * only when the note shows something else for the wave, so runs repeated
 * at a gate announce the wait once.
 */
void fl_rollout_wave_context(struct rollout *r, size_t w, enum fl_state state, const char *desc,
			     enum fl_wave_event event);
/* An update of wave w's counts inside a running wave (progress: forges may drop it). */
void fl_rollout_wave_progress(struct rollout *r, size_t w, const char *desc);

/* "applying: 3/10 done, 1 failed (tolerance 2)", for a wave in progress. */
void fl_rollout_describe_running(const struct fl_wave_report *wr, char *out, size_t cap);

/* "applied 9/10, 1 suspended, 1 failed (tolerance 2)", for a wave that succeeded. */
void fl_rollout_describe_applied(const struct fl_wave_report *wr, char *out, size_t cap);

/* "halted: 1 of 2 failed (tolerance 0)", for a wave past its tolerance. */
void fl_rollout_describe_halted(const struct fl_wave_report *wr, char *out, size_t cap);

/* Calls the progress callback, if any, for wave w. */
void fl_rollout_progress(struct rollout *r, size_t w);

/* ---- rollout_pool.c ---- */

/*
 * Runs wave w: its selected tenants on a pool of threads, as many at once
 * as max_parallel and strict mode allow. Its counts are in the report when
 * it returns; an error only for a failure of the run itself.
 */
int fl_rollout_run_wave(struct rollout *r, size_t w, struct fl_error *err);

/* ---- rollout_tenant.c ---- */

/*
 * Takes tenant t of wave w through identity, plan, apply, observe and
 * verify, and records its result in the ledger. False when it failed.
 */
bool fl_rollout_apply_tenant(struct rollout *r, const struct fl_tenant *t, size_t w);

/*
 * Writes tp (a plan of t at fleet's commit) region by region, markers
 * naming fleet's revision, then observes the account again: it must hold
 * the plan. A decommission's receipt goes to the ledger.
 */
int fl_rollout_write_tenant(struct rollout *r, const struct fl_fleet *fleet, const struct fl_tenant_plan *tp,
			    struct fl_error *err);

/*
 * Runs wave's verify commands for t in each region with vctx (its fleet:
 * the commit whose commands they are), recording each run in the ledger.
 * For the rollout's own commit, a verify that passed before is skipped;
 * runs for another commit (a rollback) are recorded with its revision.
 */
int fl_rollout_verify_tenant(struct rollout *r, const struct fl_verify_ctx *vctx, const struct fl_tenant *t,
			     const struct fl_wave *wave, struct fl_error *err);

/* ---- rollout_markers.c ---- */

/* Where a tenant's accounts are, by their markers, relative to the rollout's commit. */
struct fl_rollout_markers {
	struct fl_marker *m;             /* per region of the tenant, kept for its plan */
	bool *found;                     /* per region: a marker was read */
	bool at_rev;                     /* every region's marker is at this commit */
	bool ahead;                      /* an account is at a descendant: superseded */
	char ahead_rev[FL_OID_HEX_LEN + 1];
	struct fl_fp tenant_fp;          /* the last marker's tenant fingerprint */
};

/*
 * Reads t's markers into out (its arrays of t->nregions, the caller's).
 * Commits the accounts were at that this one descends from are remembered
 * for fl_rollout_supersede_older. An error when git cannot tell how a
 * marker's commit relates to this one: that decides supersede, so it is
 * never guessed.
 */
int fl_rollout_read_markers(struct fl_rollout_markers *out, struct rollout *r, const struct fl_tenant *t,
			    struct fl_error *err);

/* Older rollouts whose accounts this one moved on: their unstarted waves are superseded. */
void fl_rollout_supersede_older(struct rollout *r);

/* SPEC 4: a tenant file that disappeared since an older commit is reported, its account left alone. */
void fl_rollout_report_removed(struct rollout *r);

/* ---- rollout_shard.c ---- */

/* True for apply --shard K/N. */
bool fl_rollout_sharded(const struct rollout *r);

/*
 * The barrier at the end of wave w for a shard: records this shard's
 * counts, shares the notes and waits until every shard has finished w or
 * the failures recorded are past its tolerance; the wave's counts in the
 * report become the sum over the shards. 1 when the rollout stops here
 * (the others did not finish in time: outcome WAITING), 0 to go on to the
 * wave's verdict, or an error when the others could not be reached.
 */
int fl_rollout_shard_barrier(struct rollout *r, size_t w, struct fl_error *err);

/*
 * In the middle of wave w: records this shard's counts so far, shares the
 * notes, and sets *elsewhere to the failures the other shards of this run
 * have recorded in w (left as it was when the notes cannot be shared).
 * Called with no lock held.
 */
void fl_rollout_shard_progress(struct rollout *r, size_t w, const struct fl_wave_report *counts, size_t *elsewhere);

/* Prefixes a running wave's description with "shard K/N: " when sharded: it counts this shard only. */
void fl_rollout_shard_prefix(const struct rollout *r, char *desc, size_t cap);

/* ---- rollout_rollback.c ---- */

struct fl_rollback {
	bool done;                        /* the account is back at revision, verified */
	char revision[FL_OID_HEX_LEN + 1]; /* the last revision that succeeded; "" when none */
	struct fl_fp tenant_fp;           /* of the resources written back */
};

/*
 * Takes t back to the last revision that succeeded for it (its markers
 * mk, read before the failed apply, hint at it), after its apply or verify
 * failed for why. Appends to why (cap bytes) what came of it: "; rolled
 * back to <sha7>", "; rollback impossible: ...", or "; rollback to <sha7>
 * failed: ...". Never retried: a failed rollback leaves the tenant failed.
 */
void fl_rollout_rollback(struct fl_rollback *out, struct rollout *r, const struct fl_tenant *t,
			 const struct fl_rollout_markers *mk, char *why, size_t cap);

#endif
