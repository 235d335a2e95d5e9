/*
 * What a pull request's head may not decide (SPEC 7, docs/security.md). The
 * driver, the status entries and the verify commands of fleet.yaml start
 * programs, read files of secrets or send tokens to endpoints, so
 * `plan --since BASE` takes them from BASE, the protected branch, and
 * reports where the head's differ instead of using them.
 */
#ifndef FL_TRUST_H
#define FL_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "core/git.h"
#include "reconcile/fleet/fleet.h"

struct fl_trust_changes {
	char base[FL_OID_HEX_LEN + 1];   /* the commit the settings were taken from */
	bool driver;                     /* the head's driver differs */
	bool status;                     /* the head's status entries differ */
	const char **verify;             /* waves whose verify differ: the head's order, then waves only the base has */
	size_t nverify;                  /* (names borrowed from the fleets; the array is owned) */
};

/* Compares head's driver, statuses and verify commands with base's into out. */
void fl_trust_compare(struct fl_trust_changes *out, const struct fl_fleet *head, const struct fl_fleet *base);
/* True when the head differs from the base in anything compared. */
bool fl_trust_changed(const struct fl_trust_changes *c);
void fl_trust_changes_release(struct fl_trust_changes *c);

#endif
