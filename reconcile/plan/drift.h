/*
 * Drift (docs/commands.md, flotilla drift): a change made to an account
 * behind flotilla's back is measured against the commit the account's
 * marker names, not HEAD. So tenants are grouped by that commit; each
 * group is then planned, and fixed, at its own commit.
 */
#ifndef FL_DRIFT_H
#define FL_DRIFT_H

#include <stddef.h>

#include "core/git.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"

/* The tenants whose accounts are at one commit. */
struct fl_drift_group {
	char revision[FL_OID_HEX_LEN + 1];
	const char **names;              /* owned copies, in fleet order: they outlive the fleet */
	size_t nnames, capnames;
	const char **drifted;            /* the ones found drifted, borrowed from names */
	size_t ndrifted, capdrifted;
};

struct fl_drift_groups {
	struct fl_drift_group *items;    /* in the order their commits were first met */
	size_t len, cap;
};

/*
 * Groups fleet's active tenants by the revision of their first region's
 * marker, read through driver. A tenant without one (never applied, or
 * unreadable) has no commit to drift from and is left out. out is the
 * caller's to fl_drift_groups_release.
 */
void fl_drift_group_tenants(struct fl_drift_groups *out, const struct fl_fleet *fleet,
			    struct fl_driver *driver);

/* Records that tenant, when it is one of g's, drifted. */
void fl_drift_group_mark(struct fl_drift_group *g, const char *tenant);

void fl_drift_groups_release(struct fl_drift_groups *groups);

#endif
