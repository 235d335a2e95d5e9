/*
 * Verify commands (SPEC 4): run once per tenant, region and command, in a
 * directory holding the commit's files, with the FLOTILLA_* environment and
 * a timeout. Exactly once: each run goes through a wrapper process that
 * holds a lock and leaves a receipt under the git directory; the wrapper
 * outlives a killed flotilla, and a resumed flotilla waits for its receipt
 * instead of running the command again.
 */
#ifndef FL_VERIFY_H
#define FL_VERIFY_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/error.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/rollout/ledger.h"

struct fl_verify_ctx {
	const struct fl_fleet *fleet;
	const struct fl_wave *wave;
	const char *workdir;       /* the commit's files */
	const char *receipts;      /* directory of receipts of this commit */
	const char *self_exe;      /* the flotilla binary, to start the wrapper */
};

/*
 * Runs (or, when a receipt exists, recalls) verify for tenant in region.
 * The receipt is <receipts>/<tenant>/<region>/<verify name, escaped>.
 * output is emptied first; rec->output points into it (at most
 * FL_LEDGER_OUTPUT_MAX bytes); rec->name and rec->region are borrowed from
 * verify and region. Returns 0 when the command ran, whatever its exit code
 * (see rec; a program that cannot be started is exit code 127); an error
 * when it could not be run at all (a template error, no receipt from the
 * wrapper). Safe to call from several threads at once.
 */
int fl_verify_run(struct fl_verify_record *rec, struct fl_buf *output, const struct fl_verify_ctx *ctx,
		  const struct fl_tenant *tenant, const char *region, const struct fl_verify *verify,
		  struct fl_error *err);

/*
 * Removes the receipt of a failed run once ledger holds the failure
 * (fl_ledger_unlink_after_save; record it first), so that the next apply
 * runs the command again (a pass is never run twice).
 */
void fl_verify_forget(const struct fl_verify_ctx *ctx, struct fl_ledger *ledger, const struct fl_tenant *tenant,
		      const char *region, const struct fl_verify *verify);

/*
 * The wrapper's body, for the hidden command `flotilla __verify-exec
 * RECEIPT TIMEOUT_MS CWD -- ARGV...`: takes RECEIPT.lock, runs ARGV unless
 * RECEIPT exists, writes RECEIPT. Returns a process exit code.
 */
int fl_verify_exec_main(int argc, char **argv);

/* Writes every file of commit into <gitdir>/flotilla/trees/<sha> once; *out is that path (caller frees). */
int fl_verify_workdir(char **out, struct fl_repo *repo, const struct fl_oid *commit, struct fl_error *err);

#endif
