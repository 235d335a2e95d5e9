/*
 * The aws driver's state parameter (SPEC 8a), private to driver_aws*.c: one
 * SSM parameter per region of an account, written through Cloud Control
 * last in every apply, holding the marker, the map from flotilla's resource
 * names to Cloud Control identifiers (with the properties flotilla set on
 * each), and every region the tenant has held state in.
 */
#ifndef FL_DRIVER_AWS_H
#define FL_DRIVER_AWS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/aws_cloudcontrol.h"
#include "core/error.h"
#include "core/node.h"
#include "reconcile/drivers/driver.h"

/* An SSM parameter holds up to 8 KB (the advanced tier). */
#define FL_AWS_STATE_MAX 8192
#define FL_AWS_STATE_TYPE "AWS::SSM::Parameter"

/* One resource flotilla created: its names, its identifier, the top-level properties it sets. */
struct fl_aws_res {
	const char *kind, *name, *id;
	const char **keys;
	size_t nkeys;
};

struct fl_aws_state {
	bool exists;		/* the parameter exists */
	/* Writes so far: part of every ClientToken, so that an operation is
	 * sent again with the same token only until the state is written. */
	long long generation;
	bool has_marker;
	struct fl_marker marker;
	const char **regions;
	size_t nregions, capregions;
	struct fl_aws_res *res;
	size_t nres, capres;
	struct fl_arena arena;	/* every string above */
};

void fl_aws_state_init(struct fl_aws_state *st);
void fl_aws_state_release(struct fl_aws_state *st);

/* Reads the parameter named param into st (emptied first); st->exists false when absent. */
int fl_aws_state_read(struct fl_aws_state *st, const struct fl_cc *cc, const char *param, struct fl_error *err);

/* The parameter's Value as text into value; *exists false when there is no parameter. */
int fl_aws_state_fetch(struct fl_buf *value, bool *exists, const struct fl_cc *cc, const char *param,
		       struct fl_error *err);

/* Appends st as the parameter's Value: canonical JSON (keys in order), so equal states are equal bytes. */
void fl_aws_state_encode(struct fl_buf *out, const struct fl_aws_state *st);

/*
 * Decodes value (NULL: no parameter) into st, emptied first; param names it
 * in messages. The value comes from the account, so anything is checked:
 * the version, every name, the marker. FL_EDRIVER otherwise.
 */
int fl_aws_state_load(struct fl_aws_state *st, const char *value, const char *param, struct fl_error *err);

/*
 * Writes st to param, its generation one higher: created when st->exists
 * is false, else its Value replaced by patch. token_seed (revision, tenant, region) and the value
 * itself make the ClientToken, so writing the same state again is one
 * operation. The Value written goes to written (may be NULL). FL_ELIMIT
 * when the state is larger than a parameter holds.
 */
int fl_aws_state_write(struct fl_buf *written, struct fl_aws_state *st, const struct fl_cc *cc, const char *param,
		       const char *const seed[3], struct fl_error *err);

/* Deletes param (a decommissioned region); absent already is fine. */
int fl_aws_state_delete(struct fl_aws_state *st, const struct fl_cc *cc, const char *param,
			const char *const seed[3], struct fl_error *err);

/* The resource (kind, name) of st, or NULL. */
struct fl_aws_res *fl_aws_state_find(struct fl_aws_state *st, const char *kind, const char *name);

/* Records (kind, name) as id with the top-level keys of spec (an object); replaces an entry. */
void fl_aws_state_put(struct fl_aws_state *st, const char *kind, const char *name, const char *id,
		      const struct fl_node *spec);

/* Forgets (kind, name). */
void fl_aws_state_remove(struct fl_aws_state *st, const char *kind, const char *name);

/* Adds region to st's regions unless listed. */
void fl_aws_state_add_region(struct fl_aws_state *st, const char *region);

/*
 * The properties of props (a JSON object) that r sets, as a new object in
 * arena: what observe reports, so that properties the service adds (an
 * Arn, defaults) never show as drift.
 */
struct fl_node *fl_aws_project(struct fl_arena *arena, const struct fl_node *props, const char *const *keys,
			       size_t nkeys);

#endif
