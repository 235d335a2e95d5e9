/*
 * A driver's entry of fleet.yaml, shared by the drivers' files: checking its
 * keys with positioned errors when the fleet loads, and reading them when the
 * driver opens. Private to reconcile/driver*.c.
 */
#ifndef FL_DRIVER_CONF_H
#define FL_DRIVER_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/node.h"
#include "reconcile/fleet/fleet.h"

struct fl_vctx;

enum fl_driver_key_kind {
	FL_DRIVER_STRING,   /* a string */
	FL_DRIVER_WORDS,    /* a non-empty list of strings */
	FL_DRIVER_PASS_ENV, /* names of secret variables handed on on purpose */
	FL_DRIVER_TIMEOUT,  /* checked by the driver itself (fl_driver_check_timeout) */
};

/* A key a driver takes besides type; lists of them end with a NULL name. */
struct fl_driver_key {
	const char *name;
	enum fl_driver_key_kind kind;
	bool required;
};

/*
 * Checks each key of entry against keys: an unknown one (with a suggestion
 * among keys), a value of the wrong kind, a required one missing ("in
 * <type> driver"). Problems go to c, at the key or value they are about.
 */
void fl_driver_check_keys(struct fl_vctx *c, const struct fl_node *entry, const char *type,
			  const struct fl_driver_key *keys);

/*
 * The timeout of conf's entry into *out: def when absent; seconds or a
 * duration up to max_s. FL_EINPUT at the value otherwise, "invalid driver
 * timeout (expected seconds or a duration like <examples>, at most <max>)".
 */
int fl_driver_conf_timeout(unsigned *out, const struct fl_node *entry, unsigned def, unsigned max_s,
			   const char *examples, const char *max, struct fl_error *err);
/* The same check when the fleet loads, the problem going to c. */
void fl_driver_check_timeout(struct fl_vctx *c, const struct fl_node *entry, unsigned max_s,
			     const char *examples, const char *max);

/* The names of the driver table, as "dir, exec, http or aws", into out (cut to cap). */
void fl_driver_type_names(char *out, size_t cap);

/* The string under key in conf's entry, or NULL when absent or not a string. */
const char *fl_driver_conf_str(const struct fl_driver_conf *conf, const char *key);

#endif
