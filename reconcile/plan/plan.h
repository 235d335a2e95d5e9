/*
 * The plan (SPEC 3): for every tenant-region, the creates, updates (with a
 * field-level diff) and deletes that would bring the account to a commit.
 * Tenants are planned in parallel and handed to a callback one at a time,
 * in name order, then released, so memory stays bounded by the number of
 * tenants in flight, not the fleet.
 */
#ifndef FL_PLAN_H
#define FL_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/hash.h"
#include "reconcile/plan/diff.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"

enum fl_op { FL_OP_CREATE, FL_OP_UPDATE, FL_OP_DELETE };

const char *fl_op_name(enum fl_op op);

struct fl_change {
	enum fl_op op;
	const char *kind, *name;
	const struct fl_template *tpl;   /* NULL for deletes */
	struct fl_fp old_fp, new_fp;     /* zero when absent */
	const char *spec;                /* desired canonical spec (creates, updates) */
	size_t spec_len;
	struct fl_field_diff *diff;      /* updates only */
	size_t ndiff;
};

struct fl_region_plan {
	const char *region;
	bool in_manifest;                /* false: a region dropped from the manifest */
	struct fl_change *changes;       /* creates and updates in release order, then deletes in reverse */
	size_t nchanges;
	size_t withheld;                 /* deletes not planned because prune is off */
	size_t unchanged;                /* desired resources already in place */
	struct fl_res_key *unmanaged;    /* in the account, not created by flotilla: reported, left alone */
	size_t nunmanaged;
};

enum fl_tenant_outcome {
	FL_TENANT_CONVERGED,             /* nothing to do */
	FL_TENANT_CHANGES,               /* see regions */
	FL_TENANT_SKIPPED,               /* suspended: left as it is */
	FL_TENANT_FAILED,                /* see error */
};

struct fl_tenant_plan {
	const struct fl_tenant *tenant;
	enum fl_tenant_outcome outcome;
	bool bootstrap;                  /* the account does not exist yet: apply creates it */
	bool from_marker;                /* converged by the markers' inputs fingerprints */
	struct fl_region_plan *regions;
	size_t nregions;
	size_t creates, updates, deletes, withheld;
	size_t unmanaged;                /* resources flotilla did not create, all regions */
	size_t resources;                /* desired resources, all regions */
	size_t observed;                 /* managed resources the account holds now */
	struct fl_fp tenant_fp;          /* over the rendered resources; zero if from_marker */
	struct fl_fp inputs_fp;
	struct fl_error error;           /* when FAILED */
	struct fl_arena arena;           /* everything above lives here */
};

void fl_tenant_plan_init(struct fl_tenant_plan *tp);
void fl_tenant_plan_release(struct fl_tenant_plan *tp);

struct fl_plan_opts {
	bool prune;                      /* fleet.yaml prune, or --prune */
	bool refresh;                    /* observe every account, ignoring markers */
	unsigned threads;                /* 0: one per core; io_bound drivers: the widest wave, 64-256 */
	/* Tenants to plan by name (NULL: every tenant of the fleet). */
	const char *const *tenants;
	size_t ntenants;
};

/* Tenants planned at once through a driver that waits on the network. */
#define FL_PLAN_IO_THREADS 64
#define FL_PLAN_IO_THREADS_MAX 256

struct fl_plan_summary {
	size_t tenants;                  /* planned */
	size_t tenants_changed;
	size_t tenants_failed;
	size_t tenants_suspended;        /* left as they are: neither converged nor changed */
	size_t creates, updates, deletes, withheld;
	size_t unmanaged;                /* resources the accounts hold that flotilla did not create */
	size_t resources;                /* desired, over planned tenants */
	/* Managed resources the accounts hold now: the guard's denominator.
	 * When only some tenants are planned and they delete anything, the
	 * other tenants count too, from their markers (fleet-wide, like the
	 * full plan). */
	size_t observed;
};

/*
 * Called for each planned tenant, in name order. A non-zero return stops
 * the plan and is returned by fl_plan_run. tp is released after the call.
 */
typedef int (*fl_plan_cb)(const struct fl_tenant_plan *tp, void *payload);

/*
 * Plans the tenants of fleet against the accounts driver reaches. A tenant
 * whose plan fails (identity, render, driver) is reported FAILED through cb
 * and counted; it does not stop the others. Returns 0, the callback's code,
 * or a code for a failure of the run itself.
 */
int fl_plan_run(struct fl_plan_summary *out, const struct fl_fleet *fleet, struct fl_driver *driver,
		const struct fl_plan_opts *opts, fl_plan_cb cb, void *payload, struct fl_error *err);

/* Plans one tenant into tp (initialised by the caller). Never fails: see tp->outcome. */
void fl_plan_tenant(struct fl_tenant_plan *tp, const struct fl_fleet *fleet, struct fl_driver *driver,
		    const struct fl_tenant *tenant, const struct fl_plan_opts *opts);

/*
 * The markers of a tenant's regions, in tenant->regions order, as a caller
 * that needed them first has just read them: found[i] false for a region
 * with no marker, or one that could not be read. The caller may have
 * checked the identity too (identity_checked), so the plan does not ask
 * the driver again.
 */
struct fl_known_markers {
	const struct fl_marker *m;
	const bool *found;
	bool identity_checked;           /* the account reported the manifest's id already */
	bool account_found;              /* with identity_checked: false when the account does not exist */
};

/*
 * The identity check of SPEC 4: the account must report the id the
 * manifest names. 0 with *found false when the account does not exist yet;
 * FL_EIDENTITY naming both ids on a mismatch; the driver's code when it
 * cannot tell.
 */
int fl_tenant_identity(bool *found, struct fl_driver *driver, const struct fl_tenant *tenant,
		       struct fl_error *err);

/* fl_plan_tenant without reading the markers again: a request per region saved. */
void fl_plan_tenant_known(struct fl_tenant_plan *tp, const struct fl_fleet *fleet, struct fl_driver *driver,
			  const struct fl_tenant *tenant, const struct fl_plan_opts *opts,
			  const struct fl_known_markers *known);

/*
 * What the tenants of fleet that opts->tenants does not name hold, by their
 * markers (suspended ones count nothing): the guard's denominator beyond a
 * plan of some tenants, when those were planned from a fleet loaded with
 * them alone (plan --since). fl_plan_run adds it itself when its fleet has
 * the others loaded.
 */
size_t fl_plan_count_rest(const struct fl_fleet *fleet, struct fl_driver *driver, const struct fl_plan_opts *opts);

/*
 * The inputs fingerprint of a tenant: what rendering its resources reads
 * (the render format, fleet.yaml, the release tree and the tenant's
 * manifest, by git ids). Equal inputs render equal resources, so a marker
 * holding it proves the region converged without rendering or observing.
 */
void fl_inputs_fp(struct fl_fp *out, const struct fl_fleet *fleet, const struct fl_tenant *tenant);

/* True when deletes exceed max_delete_percent of the resources the fleet holds (s->observed). */
bool fl_plan_mass_delete(const struct fl_plan_summary *s, unsigned max_delete_percent);

#endif
