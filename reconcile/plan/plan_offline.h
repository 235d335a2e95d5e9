/*
 * The offline stand-in for the accounts (plan --since BASE --offline,
 * docs/design.md "Offline plans"): a read-only driver that takes every
 * account to hold what the fleet of BASE renders for the tenant naming it,
 * so a plan without credentials shows what a change does to the desired
 * state. It reads the object database alone: no account, no program, no
 * credential.
 */
#ifndef FL_PLAN_OFFLINE_H
#define FL_PLAN_OFFLINE_H

#include "core/error.h"
#include "core/git.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"

/*
 * Opens the offline driver over the fleet of commit base in repo, loaded
 * with every tenant (fleet.yaml's driver is never opened). Accounts are
 * found by id, as real drivers find them: the account a tenant's manifest
 * names holds what BASE renders for the BASE tenant naming that id, and
 * does not exist when no BASE tenant names it. On FL_EINPUT or FL_ELIMIT
 * (BASE's fleet does not load) the problems are in diags; other codes are
 * in err. out is released with fl_driver_release; repo is not kept.
 */
int fl_plan_offline_open(struct fl_driver *out, struct fl_repo *repo, const struct fl_oid *base,
			 struct fl_diags *diags, struct fl_error *err);

#endif
