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
#include "reconcile/fleet.h"

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
};

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

/*
 * Parses --driver TYPE:ARG (dir:PATH, exec:COMMAND, http:URL-TEMPLATE) into
 * out; strings live in arena. FL_EUSAGE with a message on a bad argument.
 */
int fl_driver_conf_parse(struct fl_driver_conf *out, struct fl_arena *arena, const char *arg,
			 struct fl_error *err);

/* Opens the driver conf describes. FL_EINPUT for an unknown or unbuilt type. */
int fl_driver_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err);
/* Frees the driver; a zeroed driver is fine. */
void fl_driver_close(struct fl_driver *driver);

/* The dir driver (driver_dir.c): each account a directory under root. */
int fl_driver_dir_open(struct fl_driver *out, const char *root, struct fl_error *err);

/*
 * The exec driver (driver_exec.c): conf->command run once per operation,
 * speaking the JSON protocol of docs/drivers.md; conf->node may set a
 * timeout. FL_EINPUT for a missing command, an unknown template variable in
 * it or a bad timeout.
 */
int fl_driver_exec_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err);

/*
 * The http driver (driver_http.c): the REST account API of docs/drivers.md
 * at conf->endpoint, a URL template with {{tenant.name}} and
 * {{tenant.account}}; token_file or token_env, ca_file, and from conf->node
 * cert_file, key_file and timeout. FL_EINPUT for a missing or bad endpoint,
 * an unknown template variable, a token configured for plain http to a
 * remote host, or a bad timeout.
 */
int fl_driver_http_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err);

#endif
