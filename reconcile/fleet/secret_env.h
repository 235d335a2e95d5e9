/*
 * Secrets kept from every program flotilla starts (SPEC 9, docs/security.md):
 * flotilla's own git credentials, AWS credentials, and every variable a
 * status entry or the http driver names in token_env. The list is built
 * once, when the fleet loads; core's process runner drops what it names,
 * and a verify entry's or the exec driver's pass_env hands a name back on
 * purpose.
 */
#ifndef FL_SECRET_ENV_H
#define FL_SECRET_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "reconcile/fleet/fleet.h"

/* Dropped whatever fleet.yaml says (NULL-terminated): the fallback list. */
extern const char *const fl_secret_env_own[];

/*
 * The drop list of fleet: fl_secret_env_own, each status entry's token_env
 * and url_env, and the http driver's token_env with every {{...}} made a '*' (one
 * variable per tenant). NULL-terminated, in arena; never fails.
 */
const char *const *fl_secret_env_build(struct fl_arena *arena, const struct fl_fleet *fleet);

/* True when list (NULL-terminated patterns) drops the variable name. */
bool fl_secret_env_drops(const char *const *list, const char *name);

/* True for a name pass_env may never hand on: the fleet repository's credentials. */
bool fl_secret_env_never_passed(const char *name);

/* A NULL-terminated list of "NAME=value" entries for a child; the strings are owned. */
struct fl_env_list {
	char **items;
	size_t len, cap;
};

/* Appends "name=value". */
void fl_env_list_add(struct fl_env_list *l, const char *name, const char *value);
/* Appends "NAME=value" for each of names that is set in flotilla's environment. */
void fl_env_list_pass(struct fl_env_list *l, const char *const *names, size_t n);
/* The entries, NULL-terminated (NULL when empty): borrowed until the next change. */
const char *const *fl_env_list_entries(const struct fl_env_list *l);
void fl_env_list_release(struct fl_env_list *l);

#endif
