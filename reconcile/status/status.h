/*
 * Status writers (SPEC 5): a table of functions each, so forges plug in
 * beside the git-notes writer. The rollout engine sends every context
 * change to every writer of the fleet; updates marked `progress` (counts
 * moving inside a running wave) may be dropped by writers whose calls cost
 * (forges), so their calls grow with the number of waves, not tenants.
 * Writing a status never fails a rollout: failures are counted and reported.
 */
#ifndef FL_STATUS_H
#define FL_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/rollout/wave_rules.h"  /* the context names */

/*
 * What a wave's update means, for writers that announce transitions
 * (webhooks) rather than mirror states. Set only when the wave's context
 * really changes for the commit: the same wait seen by a later run is
 * FL_WAVE_EVENT_NONE, so a job re-run at a gate announces nothing again.
 */
enum fl_wave_event {
	FL_WAVE_EVENT_NONE,
	FL_WAVE_EVENT_STARTED,
	FL_WAVE_EVENT_SUCCEEDED,
	FL_WAVE_EVENT_FAILED,      /* past its tolerance: this wave halts the rollout */
	FL_WAVE_EVENT_HALTED,      /* not started because an earlier wave failed */
	FL_WAVE_EVENT_ROLLED_BACK, /* a tenant of the wave was rolled back */
	FL_WAVE_EVENT_WAITING,     /* held by a bake or a manual gate */
	FL_WAVE_EVENT_SUPERSEDED,  /* a newer commit took over */
};

struct fl_status_update {
	const char *context;       /* "flotilla/plan", "flotilla/wave/<wave>" */
	enum fl_state state;
	const char *description;   /* at most 140 bytes */
	bool progress;             /* only counts changed inside a running wave */
	enum fl_wave_event event;  /* wave contexts only */
};

struct fl_status_ops {
	const char *type;
	int (*set)(void *self, const struct fl_status_update *u, struct fl_error *err);
	/* Sends what is held back; called at the end of a run. NULL: nothing held. */
	int (*flush)(void *self, struct fl_error *err);
	void (*free)(void *self);
	/*
	 * Appends, one line each ending in '\n', what the end of a run must say
	 * besides failed writes (a read-back that failed, a context a forge
	 * takes no more statuses for). NULL: nothing to say.
	 */
	void (*report)(void *self, struct fl_buf *out);
};

struct fl_status_writer {
	const struct fl_status_ops *ops;
	void *self;
};

struct fl_vctx;

/* A row of the status table (status.c), defined in its writer's own file. */
struct fl_status_type {
	const char *name;
	/* Reports each bad key of a fleet.yaml entry of this type to c, at its position. */
	void (*check)(struct fl_vctx *c, const struct fl_node *entry, const char *type);
	/* NULL for git-notes, which is opened first over the ledger, listed or not. */
	int (*open)(struct fl_status_writer *out, const struct fl_status_conf *conf, const char *revision,
		    struct fl_error *err);
};

/*
 * Checks a status entry of fleet.yaml: a mapping with a registered type,
 * then whatever its writer checks. Fills out (the entry stays in the
 * caller's tree); problems go to c.
 */
void fl_status_conf_check(struct fl_status_conf *out, struct fl_vctx *c, const struct fl_node *entry);

/* Every writer a rollout reports to. */
struct fl_statuses {
	struct fl_status_writer *items;
	size_t len;
	size_t failures;             /* writes that failed, over all writers */
	struct fl_error last_error;
};

/*
 * Opens the writers fleet.yaml's `status` names. The git-notes writer,
 * through ledger (borrowed), is always first, listed or not: rollout state
 * lives in the note. A writer type this build lacks is FL_EINPUT naming it.
 * fl_statuses_release frees them.
 */
int fl_statuses_open(struct fl_statuses *out, const struct fl_fleet *fleet, struct fl_ledger *ledger,
		     struct fl_error *err);
/*
 * The same with the status entries of fleet for another commit, revision
 * (40 hex digits): `plan --since` reports on the head with the base's
 * entries, which the head may not choose (SPEC 7).
 */
int fl_statuses_open_rev(struct fl_statuses *out, const struct fl_fleet *fleet, const char *revision,
			 struct fl_ledger *ledger, struct fl_error *err);

/*
 * True when flotilla/plan should be set to state on the commit of ledger:
 * a commit's plan status describes its first successful plan (later runs,
 * of apply or plan, leave it), unless the new one is not a success.
 */
bool fl_plan_status_due(struct fl_ledger *ledger, enum fl_state state);
/* Sends u to every writer; failures are counted in s, never returned. */
void fl_statuses_set(struct fl_statuses *s, const struct fl_status_update *u);
void fl_statuses_flush(struct fl_statuses *s);
/* Appends what every writer has to report at the end of a run (see fl_status_ops.report); "" when nothing. */
void fl_statuses_report(struct fl_statuses *s, struct fl_buf *out);
void fl_statuses_release(struct fl_statuses *s);

/* The git-notes writer over a ledger (status_notes.c). */
int fl_status_notes_open(struct fl_status_writer *out, struct fl_ledger *ledger, struct fl_error *err);

/*
 * A forge writer (status_forge.c) for conf, of type github, gitlab or gitea,
 * reporting on commit revision (40 hex digits). FL_EINPUT for an entry it
 * cannot use: repo or project, api_url (a token over plain http to a host
 * that is not loopback), target_url. The token is read from the variable
 * token_env names at each send: a missing one fails each send, not the open.
 * *out is freed through its ops.
 */
int fl_status_forge_open(struct fl_status_writer *out, const struct fl_status_conf *conf, const char *revision,
			 struct fl_error *err);

#endif
