/*
 * Decoding the JSON answers of drivers that speak to something outside
 * (exec, http): markers, names and observed resources, checked and put in
 * canonical form, fingerprints computed here so no answer can claim them.
 * Errors are FL_EDRIVER with the bare reason; callers add which driver,
 * operation and tenant.
 */
#ifndef FL_DRIVER_ANSWER_H
#define FL_DRIVER_ANSWER_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/node.h"
#include "reconcile/drivers/driver.h"

#define FL_ANSWER_IDENT_RULE "[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
#define FL_ANSWER_MARKER_SHAPE \
	"{\"revision\": 40 hex digits, \"tenant_fingerprint\": 32 hex digits, \"inputs_fingerprint\": 32 " \
	"hex digits, \"resources\": a count}"

/* The value under key when it has type, else NULL. */
const struct fl_node *fl_answer_get(const struct fl_node *map, const char *key, enum fl_node_type type);

/*
 * A marker object into m (*has false for null or absent). The revision is
 * kept in lowercase; upper-case hex is refused when lowercase_only.
 */
int fl_answer_marker(struct fl_marker *m, bool *has, const struct fl_node *v, bool lowercase_only,
		     struct fl_error *err);

/* The string under key when it is a valid name (fl_ident_valid), else NULL with err set. */
const char *fl_answer_ident(const struct fl_node *map, const char *key, struct fl_error *err);

/*
 * The account of an identity answer into account, *found true; an absent or
 * null account is *found false when null_ok, else an error like any other
 * value that is not a valid id.
 */
int fl_answer_account(struct fl_buf *account, bool *found, const struct fl_node *answer, bool null_ok,
		      struct fl_error *err);

/* The list of a regions answer into *list, every name checked (fl_ident_valid). */
int fl_answer_regions(const struct fl_node **list, const struct fl_node *answer, struct fl_error *err);

/*
 * Fills out (emptied by fl_observed_clear) with the resources of list res (objects with kind, name, spec and a
 * boolean managed, required or defaulting to false) to out: names into
 * out->arena, canonical specs into out->raw, fingerprints computed.
 */
int fl_answer_resources(struct fl_observed *out, const struct fl_node *res, bool managed_required,
			struct fl_error *err);

#endif
