/*
 * Private to the fleet parser (fleet_yaml.c, tenant.c and the fleet_*.c
 * loader files): the steps one file of it calls in another. Nothing else
 * includes this; drivers and status writers check their entries with
 * check.h.
 */
#ifndef FL_FLEET_INTERNAL_H
#define FL_FLEET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/node.h"
#include "reconcile/fleet/check.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/fleet/syntax.h"

/*
 * Parses the root of fleet.yaml into f (defaults first, then each key);
 * problems go to c. Regexes compiled here are freed by fl_fleet_free.
 */
void fl_fleet_parse_settings(struct fl_fleet *f, struct fl_vctx *c, const struct fl_node *root);

/* Checks a value of var decl (type, pattern, min, max); where names it ("var 'x'"). */
bool fl_var_value_check(struct fl_vctx *c, const struct fl_var_decl *decl, const struct fl_node *value);

/* The tenant whose manifest is c->src, file name base (without extension). */
struct fl_tenant_file {
	const char *path; /* tenants/<file> */
	const char *base; /* <name> */
	struct fl_oid blob;
	const char *text; /* the manifest, once read */
	size_t off, len;  /* of the text in its chunk's buffer */
	bool skip;	  /* unreadable or misnamed: not parsed */
};

/*
 * Parses and validates one tenant manifest into t, and assigns its wave when
 * check_waves. The YAML tree goes to scratch, which the caller may release
 * afterwards: what t keeps is copied into c->arena. Problems go to c. Returns
 * 0, or a code other than FL_EINPUT or FL_ELIMIT for a failure that is not
 * about the input (in err).
 */
int fl_tenant_parse(struct fl_tenant *t, struct fl_vctx *c, struct fl_arena *scratch,
		     const struct fl_fleet *fleet, const struct fl_tenant_file *file, bool check_waves,
		     struct fl_error *err);

#endif
