/*
 * Drivers (SPEC 8): a table of functions through which the engine reaches
 * accounts: identity, observe, the marker, apply, bootstrap. The engine
 * knows nothing else of a driver. Every operation may be called from several
 * threads at once for different tenants.
 */
#ifndef FL_DRIVER_H
#define FL_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "core/hash.h"
#include "reconcile/fleet/fleet.h"

/* The commit point of an apply to one tenant-region (SPEC 3). */
struct fl_marker {
	char revision[FL_OID_HEX_LEN + 1];  /* the commit applied */
	struct fl_fp tenant_fp;             /* over the tenant's rendered resources, all regions */
	struct fl_fp inputs_fp;             /* over what rendering read; see fl_inputs_fp */
	size_t resources;                   /* resources in this region after the apply */
};

struct fl_observed_res {
	const char *kind, *name;
	struct fl_fp fp;             /* of the spec as the account holds it */
	bool managed;                /* created by flotilla, so prune may delete it */
	const char *spec;            /* JSON, spec_len bytes (not NUL-terminated) */
	size_t spec_len;
};

/* What one region of an account holds. Reusable: observe empties it first. */
struct fl_observed {
	bool exists;                 /* the region holds any state */
	bool has_marker;
	struct fl_marker marker;
	struct fl_observed_res *items;
	size_t len, cap;
	struct fl_buf raw;           /* driver-owned storage that items point into */
	struct fl_arena arena;       /* driver-owned storage that items point into */
};

void fl_observed_init(struct fl_observed *obs);
void fl_observed_clear(struct fl_observed *obs);
void fl_observed_release(struct fl_observed *obs);
/* The observed resource (kind, name), or NULL. */
const struct fl_observed_res *fl_observed_find(const struct fl_observed *obs, const char *kind,
					       const char *name);

struct fl_res_key {
	const char *kind, *name;
};

struct fl_put_res {
	const char *kind, *name;
	struct fl_fp fp;
	const char *spec;            /* canonical JSON, spec_len bytes */
	size_t spec_len;
	const struct fl_fp *if_match; /* the fingerprint the account must hold now; NULL: absent */
};

/* One apply to one region: writes, then the marker, last. */
struct fl_region_write {
	const char *region;
	const struct fl_put_res *put;   /* creates and updates, in release order */
	size_t nput;
	const struct fl_res_key *del;   /* deletes, in reverse release order */
	size_t ndel;
	const struct fl_marker *marker;
	/*
	 * Another write to the same account follows at once, from the same
	 * caller: a driver whose writes are atomic at once but durable only
	 * after a further step (the dir driver's directory sync) may leave
	 * that step to the last write of the account (docs/design.md,
	 * "Syncs"). False, the default: durable when apply returns.
	 */
	bool more_in_account;
};

/*
 * FL_EINPUT unless every kind and name w writes or deletes is a valid name
 * (fl_ident_valid), which drivers put into paths and requests.
 */
int fl_region_write_check(const struct fl_region_write *w, struct fl_error *err);

typedef int (*fl_region_cb)(const char *region, void *payload);

struct fl_driver_ops {
	const char *type;
	/* Operations wait on a network or a program, not the CPU: plans then
	 * keep many tenants in flight instead of one per core. */
	bool io_bound;
	/* The account id the account reports into account; *found false when
	 * the account does not exist (bootstrap makes it). */
	int (*identity)(void *self, const struct fl_tenant *tenant, struct fl_buf *account, bool *found,
			struct fl_error *err);
	/* Everything one region holds, into out (emptied first). */
	int (*observe)(void *self, const struct fl_tenant *tenant, const char *region,
		       struct fl_observed *out, struct fl_error *err);
	/* Only the marker of a region, cheaper than observe; *found false when none. */
	int (*marker)(void *self, const struct fl_tenant *tenant, const char *region,
		      struct fl_marker *out, bool *found, struct fl_error *err);
	/* Calls cb for each region of the account that holds state, in any order. */
	int (*regions)(void *self, const struct fl_tenant *tenant, fl_region_cb cb, void *payload,
		       struct fl_error *err);
	/* Applies w; atomic per region where the driver can be. */
	int (*apply)(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
		     struct fl_error *err);
	/* Creates the account of tenant with its identity; NULL: cannot. */
	int (*bootstrap)(void *self, const struct fl_tenant *tenant, struct fl_error *err);
	void (*free)(void *self);
};

struct fl_driver {
	const struct fl_driver_ops *ops;
	void *self;
};

struct fl_vctx; /* fleet_internal.h: where a fleet.yaml entry's problems go */

/*
 * One row of the driver table (driver.c), as libgit2 registers transports:
 * how an entry of fleet.yaml, or --driver NAME:ARG, becomes a driver. The
 * fleet model keeps the entry opaque (struct fl_driver_conf); only the
 * driver reads its keys.
 */
struct fl_driver_type {
	const char *name;  /* the entry's type */
	/* Checks every key of a fleet.yaml entry but type (checked already),
	 * each problem positioned in c. */
	void (*check)(struct fl_vctx *c, const struct fl_node *entry);
	/* Opens the driver of conf, whose node passed check or was built from
	 * --driver; FL_EINPUT for a value check cannot see (a bad URL, ...). */
	int (*open)(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err);
	/* --driver NAME:ARG stands for { type: NAME, <arg_key>: ARG }, ARG
	 * split on spaces into a list when arg_words. */
	const char *arg_key;
	bool arg_words;
};

/* The row of the driver called name, or NULL. */
const struct fl_driver_type *fl_driver_type_find(const char *name);

/*
 * Checks the driver entry of fleet.yaml: a mapping with a registered type,
 * then whatever that driver checks. Fills out (the entry stays in the
 * caller's tree); problems go to c.
 */
void fl_driver_conf_check(struct fl_driver_conf *out, struct fl_vctx *c, const struct fl_node *entry);

/*
 * Parses --driver TYPE:ARG (dir:PATH, exec:COMMAND, http:URL-TEMPLATE) into
 * out, the entry fleet.yaml would hold for it; its nodes live in arena.
 * FL_EUSAGE with a message on a bad argument.
 */
int fl_driver_conf_parse(struct fl_driver_conf *out, struct fl_arena *arena, const char *arg,
			 struct fl_error *err);

/* Opens the driver conf describes. FL_EINPUT for an unknown type or a bad entry. */
int fl_driver_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err);
/* Frees what the driver holds (the struct is the caller's); a zeroed driver is fine. */
void fl_driver_release(struct fl_driver *driver);

/* The dir driver (driver_dir.c) at root, without an entry: for tests and benchmarks. */
int fl_driver_dir_open(struct fl_driver *out, const char *root, struct fl_error *err);

#endif
