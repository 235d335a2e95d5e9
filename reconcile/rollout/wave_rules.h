/*
 * The rules of waves (SPEC 4, 5, 6), in one place for the rollout engine
 * and `flotilla status` alike: the status context each wave reports under,
 * and what holds a wave back: the bake of the wave before it, a manual gate
 * that no promotion tag has opened, and, for runs of chosen tenants, an
 * earlier wave that has not succeeded for the commit (no shortcut past the
 * canaries).
 */
#ifndef FL_WAVE_RULES_H
#define FL_WAVE_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/rollout/ledger.h"

/* Status contexts (SPEC 5): "flotilla/plan" and "flotilla/wave/<wave>". */
#define FL_CONTEXT_PREFIX "flotilla/"
#define FL_PLAN_CONTEXT FL_CONTEXT_PREFIX "plan"
#define FL_WAVE_CONTEXT_PREFIX FL_CONTEXT_PREFIX "wave/"

/* The context of a wave, into out (cut to cap). */
void fl_wave_context(char *out, size_t cap, const char *wave);

/* The state ledger records for wave's context; false when none. description may be NULL. */
bool fl_wave_state(struct fl_ledger *ledger, const char *wave, enum fl_state *state,
		   struct fl_buf *description);

/* Promotion tags (SPEC 6) are named FL_PROMOTE_PREFIX "<wave>/<sha>". */
#define FL_PROMOTE_PREFIX "flotilla/promote/"

/* The promotion tag name of SPEC 6: flotilla/promote/<wave>/<sha>. */
void fl_promotion_tag(char *out, size_t cap, const char *wave, const struct fl_oid *commit);

/*
 * True when commit, or a descendant of it, is promoted into wave (SPEC 6).
 * An error when the tags cannot be read or git cannot tell whether a tag's
 * commit descends from commit.
 */
int fl_rollout_promoted(bool *out, struct fl_repo *repo, const struct fl_oid *commit, const char *wave,
			struct fl_error *err);

/*
 * The bake rule of SPEC 4: when the wave before w has a bake and succeeded
 * for the ledger's commit less than that long ago, the time wave w may
 * start; else 0.
 */
long long fl_bake_until(const struct fl_fleet *fleet, struct fl_ledger *ledger, size_t w);

/* What holds wave w from starting now: a bake, a manual gate, or both. */
struct fl_wave_gate {
	long long bake_until;            /* 0: no bake holds it */
	bool gated;                      /* gate: manual */
	bool promoted;                   /* gated, and a promotion tag opens it */
};

/* Reads the bake and the gate of wave w of fleet's commit; an error from git only. */
int fl_wave_gate_check(struct fl_wave_gate *out, struct fl_repo *repo, const struct fl_fleet *fleet,
		       struct fl_ledger *ledger, size_t w, struct fl_error *err);

/* True when g holds the wave back. */
bool fl_wave_gate_holds(const struct fl_wave_gate *g);

/*
 * What holds the wave, for its status: "baking until 22:28Z
 * (2023-11-14T22:28:20Z)" or "awaiting promotion".
 */
void fl_wave_gate_describe(char *out, size_t cap, const struct fl_wave_gate *g);

/* A wave as the ledger records it. */
struct fl_wave_seen {
	bool known;                      /* false: not started for this commit */
	enum fl_state state;
	char description[160];
};

/*
 * The no-shortcut rule of SPEC 4 for runs of chosen tenants (apply
 * --tenant, drift --fix): wave w's tenants are written only when every
 * earlier wave has succeeded for the ledger's commit, as a whole rollout
 * records it. Reads waves 0..w-1 into seen (w entries, in order) up to the
 * first that has not succeeded, and returns its index, with why it holds
 * wave w in why (cut to cap); returns w, and leaves why alone, when none
 * holds it.
 */
size_t fl_wave_held_by(struct fl_wave_seen *seen, char *why, size_t cap, const struct fl_fleet *fleet,
		       struct fl_ledger *ledger, size_t w);

/* True when a wave seen holding a later one failed (the rollout halted), false when it is still to come. */
bool fl_wave_seen_failed(const struct fl_wave_seen *seen);

#endif
