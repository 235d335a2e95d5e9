/*
 * Checking YAML entries with positioned diagnostics (check.c): what the
 * fleet's parsers and every driver and status writer use to check their own
 * entries of fleet.yaml.
 */
#ifndef FL_CHECK_H
#define FL_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/node.h"
#include "reconcile/fleet/fleet.h"

/* Validation of one file: where its diagnostics go, and how many it made. */
struct fl_vctx {
	struct fl_arena *arena;
	const struct fl_source *src;
	struct fl_diags *diags;
	size_t nerrors;
};

/* Adds a copy of e to diags, or counts it as dropped past FL_FLEET_MAX_DIAGS. */
void fl_diags_add(struct fl_diags *diags, const struct fl_error *e);

/* Records an error of code at line:col of the context's file. */
void fl_vdiag(struct fl_vctx *c, int code, uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Records an FL_EINPUT error at node (or at 1:1 when node is NULL). */
void fl_verr(struct fl_vctx *c, const struct fl_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * For each of names[0..n), whether an earlier one is the same string: how
 * every duplicate check over a list finds its duplicates, in O(n log n).
 * The caller frees the array.
 */
bool *fl_repeated_names(const char *const *names, size_t n);

/* True when p's key is key. */
bool fl_key_is(const struct fl_pair *p, const char *key);
/* Reports an unknown key of a mapping in where, suggesting one of allowed (NULL-terminated). */
void fl_unknown_key(struct fl_vctx *c, const struct fl_node *key, const char *what,
		     const char *const *allowed);
/* How close s is to cand, for suggestions: smaller is closer; SIZE_MAX: not close. */
size_t fl_suggest_score(const char *s, const char *cand);
/* The closest of allowed (NULL-terminated) to s within edit distance 2, or NULL. */
const char *fl_suggest(const char *s, const char *const *allowed);

/*
 * Checks that node has type; else records "expected <what>, got <type>",
 * with a quoting hint when a string was expected and a scalar was given.
 */
bool fl_vexpect(struct fl_vctx *c, const struct fl_node *node, enum fl_node_type type, const char *what);
/* Writes a hint like ` (quote it: "123")` for a scalar node into out ("" if none). */
void fl_quote_hint(char *out, size_t cap, const struct fl_vctx *c, const struct fl_node *node);

/* The string of node, or NULL after recording "expected a string, got ...". */
const char *fl_vstring(struct fl_vctx *c, const struct fl_node *v);
/* names[0..n) as "a, b or c" into out (cut to cap): what a registry of types expects. */
void fl_names_join(char *out, size_t cap, const char *const *names, size_t n);
/* A non-empty list of strings (what names it), as an arena array; false after an error. */
bool fl_vstrings(const char ***out, size_t *n, struct fl_vctx *c, const struct fl_node *v, const char *what);
/* pass_env: a list of distinct variable names, handed on on purpose; *node is v. */
void fl_vpass_env(const char ***out, size_t *n, const struct fl_node **node, struct fl_vctx *c,
		   const struct fl_node *v);
/* Records each key of required (NULL-terminated) missing from map, named what. */
void fl_missing_keys(struct fl_vctx *c, const struct fl_node *map, const char *what,
		      const char *const *required);

#endif
