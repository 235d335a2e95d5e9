/*
 * The ledger: what a rollout of one commit has done, kept as pretty-printed
 * JSON git notes on the commit (SPEC 5): each status context's latest state
 * and each wave's success time in the head note (refs/notes/flotilla), each
 * tenant's result with its verify runs and decommission receipt in the
 * tenants note (refs/notes/flotilla-tenants). It is the durable state that
 * makes apply level-triggered: a rollout killed at any instant resumes from
 * it and the accounts' markers. Safe to use from several threads; a thread
 * of the ledger's own saves changes as they accumulate (ledger.c says when),
 * fl_ledger_checkpoint saves the head at once, fl_ledger_flush everything,
 * and fl_ledger_free saves what is left.
 */
#ifndef FL_LEDGER_H
#define FL_LEDGER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/clock.h"  /* times in the ledger are fl_now() seconds */
#include "core/error.h"
#include "core/git.h"
#include "core/hash.h"

/* The ledger's head (contexts, waves) and its tenants, each a note on the commit. */
#define FL_NOTES_REF "refs/notes/flotilla"
#define FL_NOTES_TENANTS_REF "refs/notes/flotilla-tenants"
#define FL_LEDGER_OUTPUT_MAX 4096    /* bytes of a verify command's output kept */
/* What a failed tenant's result keeps of the verify that failed it: its output's last lines. */
#define FL_LEDGER_TAIL_LINES 5
#define FL_LEDGER_TAIL_MAX 1024

enum fl_state { FL_STATE_PENDING, FL_STATE_SUCCESS, FL_STATE_FAILURE, FL_STATE_ERROR };

const char *fl_state_name(enum fl_state state);

struct fl_ledger;

/*
 * Opens the ledger of commit in the repository at gitdir (a handle of its
 * own, so the caller's struct fl_repo stays single-threaded), reading the
 * note if there is one. A note that is not a ledger is an error.
 */
int fl_ledger_open(struct fl_ledger **out, const char *gitdir, const struct fl_oid *commit,
		   struct fl_error *err);
/*
 * Like fl_ledger_open, for a caller that sets a status and frees the
 * ledger straight after (plan's flotilla/plan): the ledger works on the
 * caller's repository handle and starts no flusher thread, so nothing is
 * saved before fl_ledger_flush or fl_ledger_free. repo must outlive it.
 */
int fl_ledger_open_brief(struct fl_ledger **out, struct fl_repo *repo, const struct fl_oid *commit,
			 struct fl_error *err);
void fl_ledger_free(struct fl_ledger *ledger);

/*
 * Sets a context's state and description (at most 140 bytes; longer is cut
 * on a character boundary). Every string the ledger keeps is made valid
 * UTF-8 first (invalid bytes become '?'), since the note is JSON.
 */
int fl_ledger_set_context(struct fl_ledger *ledger, const char *context, enum fl_state state,
			  const char *description, struct fl_error *err);
/* The state of a context; false when the ledger has none. description may be NULL. */
bool fl_ledger_context(struct fl_ledger *ledger, const char *context, enum fl_state *state,
		       struct fl_buf *description);

/* One verify run of a tenant in a region. */
struct fl_verify_record {
	const char *name;
	const char *region;
	int exit_code;
	bool timed_out;
	long long elapsed_ms;
	long long time;          /* when it finished, seconds since the epoch */
	const char *output;      /* truncated to FL_LEDGER_OUTPUT_MAX */
	size_t output_len;
	/* A rollback's run of the verify of this revision (hex); NULL: the
	 * ledger's own commit. Such runs never count as this commit's passes. */
	const char *revision;
};

enum fl_tenant_result { FL_RESULT_APPLIED, FL_RESULT_UNCHANGED, FL_RESULT_FAILED, FL_RESULT_SKIPPED,
			FL_RESULT_DECOMMISSIONED };

const char *fl_tenant_result_name(enum fl_tenant_result result);

/* Records a verify run; written through. */
int fl_ledger_add_verify(struct fl_ledger *ledger, const char *tenant, const struct fl_verify_record *rec,
			 struct fl_error *err);
/* True when the verify `name` passed for tenant in region at this commit. */
bool fl_ledger_verify_passed(struct fl_ledger *ledger, const char *tenant, const char *region,
			     const char *name);

/*
 * Records a tenant's result; error may be NULL. A failed result keeps the
 * last lines of the output (FL_LEDGER_TAIL_LINES lines, FL_LEDGER_TAIL_MAX
 * bytes) of the last failed verify run recorded for tenant since its
 * previous result (or since the ledger was opened); without one, the tail
 * kept by an earlier result of this process stays (a rollback records its
 * result after the verify that failed), and one read from the note goes.
 */
int fl_ledger_set_tenant(struct fl_ledger *ledger, const char *tenant, const char *wave,
			 enum fl_tenant_result result, const struct fl_fp *fingerprint, const char *error,
			 struct fl_error *err);
/*
 * Records that tenant failed (error says why) and was rolled back to
 * revision (hex): the note's result is "failed" with "rolled_back_to".
 * Any other result recorded later (fl_ledger_set_tenant) drops it.
 */
int fl_ledger_set_rolled_back(struct fl_ledger *ledger, const char *tenant, const char *wave,
			      const struct fl_fp *fingerprint, const char *error, const char *revision,
			      struct fl_error *err);
/* True, with the revision in out, when tenant's result is a failure rolled back. */
bool fl_ledger_tenant_rolled_back(struct fl_ledger *ledger, const char *tenant, char out[FL_OID_HEX_LEN + 1]);

/* The recorded result of a tenant; false when none. */
bool fl_ledger_tenant(struct fl_ledger *ledger, const char *tenant, enum fl_tenant_result *result,
		      struct fl_buf *error);

/*
 * The last lines of the output of the verify run that failed tenant,
 * appended to out; false when its result is not a failure of a verify, and
 * for notes written before results kept it.
 */
bool fl_ledger_tenant_verify_tail(struct fl_ledger *ledger, const char *tenant, struct fl_buf *out);

/* Wave bookkeeping: when it succeeded (0: not yet). Set once; later calls keep the first time. */
int fl_ledger_wave_succeeded(struct fl_ledger *ledger, const char *wave, long long when,
			     struct fl_error *err);
long long fl_ledger_wave_success_time(struct fl_ledger *ledger, const char *wave);

#define FL_SHARD_RUN_MAX 64

/*
 * What shard k of n (apply --shard K/N) counted of its part of a wave,
 * while it runs (running) and when it has finished it: the head keeps one
 * per shard and wave; the other shards read the failures so far, and the
 * wave's barrier waits for every shard's finished record
 * (docs/rollout.md, "Sharding").
 */
struct fl_shard_record {
	unsigned k, n;
	char run[FL_SHARD_RUN_MAX + 1];  /* the run of the N jobs (--shard-run): records of others do not count */
	long long updated;
	bool running;                    /* counts so far; a finished record always wins over one */
	size_t total, done, failed, skipped;
};

/* Records (replacing) shard rec->k of rec->n's record of wave. */
int fl_ledger_shard_record(struct fl_ledger *ledger, const char *wave, const struct fl_shard_record *rec,
			     struct fl_error *err);

/*
 * The records of wave by the shards of n in run: out[k - 1] for each
 * shard k that has one, with found[k - 1] true. Returns how many were
 * found. A shard's record of another run (an earlier attempt) is none.
 */
size_t fl_ledger_shard_records(struct fl_ledger *ledger, const char *wave, unsigned n, const char *run,
			       struct fl_shard_record *out, bool *found);

/* Moves the notes refs to and from wherever other runs share them (a remote); see fl_ledger_exchange. */
typedef int (*fl_ledger_share_fn)(void *payload, struct fl_error *err);

/*
 * Saves every change (whole) or the head and what is due (fl_ledger_checkpoint's rule: a running
 * wave's exchanges must not rewrite a large tenants note each time), calls share while no save can start (it may push
 * the notes and fetch and merge another run's), then reads back into the ledger each note whose
 * ref moved since the ledger last read or wrote it (a note as this ledger saved it holds nothing
 * new, and reading 100,000 tenants holds the lock for 0.2 to 0.4 s): of a record in
 * memory and in the note, the later one wins (a tenant's result, a context, a shard's record; a
 * wave's earliest success). How shards see each other's progress.
 */
int fl_ledger_exchange(struct fl_ledger *ledger, bool whole, fl_ledger_share_fn share, void *payload,
		       struct fl_error *err);

/* One deleted resource of a decommission receipt. */
struct fl_receipt_item {
	const char *region, *kind, *name;
	struct fl_fp fp;
};

int fl_ledger_add_receipt(struct fl_ledger *ledger, const char *tenant, const struct fl_receipt_item *items,
			  size_t n, long long when, struct fl_error *err);

/* Where a tenant's decommission receipt is: the commit whose ledger holds it. */
struct fl_receipt_ref {
	struct fl_oid commit;
	long long time;  /* when it was made */
	size_t deleted;  /* resources it lists */
};

/*
 * The latest decommission receipt of tenant in the ledgers of head and its
 * ancestors; *found false when none has one. Notes that are not ledgers
 * are passed over. The repository's notes are read, never written.
 */
int fl_ledger_find_receipt(struct fl_receipt_ref *out, bool *found, struct fl_repo *repo,
			   const struct fl_oid *head, const char *tenant, struct fl_error *err);

/* First-parent commits before head that fl_ledger_last_success looks at. */
#define FL_LEDGER_HISTORY_MAX 100

/*
 * The last revision that succeeded for tenant (docs/rollout.md, "Rolling
 * back"): hint (the commit the tenant's markers named before the failed
 * apply; NULL: none) when it is an ancestor of head and its note records
 * the tenant applied or unchanged; else the newest of head's first-parent
 * ancestors (at most FL_LEDGER_HISTORY_MAX, head itself excluded) whose
 * note does. A result rolled back is no success. *found false when none
 * is; notes that are not ledgers are passed over. Reads, never writes.
 */
int fl_ledger_last_success(struct fl_oid *out, bool *found, struct fl_repo *repo, const struct fl_oid *head,
			   const struct fl_oid *hint, const char *tenant, struct fl_error *err);

/* Saves every pending change now; also reports a failed background save. */
int fl_ledger_flush(struct fl_ledger *ledger, struct fl_error *err);
/*
 * Removes the file at path once the tenants note holds every record made
 * so far, at the first save after which none is left unsaved: for a failed
 * verify's receipt, recorded first. The next apply must not find it (it
 * runs the command again), but an apply killed before the failure reached
 * a note must (the failure is recorded from it). Removing it at once would
 * take a save of the whole tenants note per failure. A file still waiting
 * when the ledger is freed (its last save failed) stays.
 */
void fl_ledger_unlink_after_save(struct fl_ledger *ledger, const char *path);
/*
 * Saves the head now (a wave's end), and the tenants only if they are due:
 * rewriting a large tenants note at every wave would make the blobs of one
 * run grow with the number of waves.
 */
int fl_ledger_checkpoint(struct fl_ledger *ledger, struct fl_error *err);
/* How many notes this process wrote for the ledger, and their bytes in all. */
void fl_ledger_save_stats(struct fl_ledger *ledger, size_t *saves, size_t *bytes);

/* The whole ledger as one document (pretty JSON: head and tenants), appended to out. */
int fl_ledger_text(struct fl_buf *out, struct fl_ledger *ledger, struct fl_error *err);

#endif
