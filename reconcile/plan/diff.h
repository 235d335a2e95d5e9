/*
 * Field-level differences between two JSON specs, for plans: each changed
 * leaf (or subtree that changed type) as a path, an old and a new value,
 * with secrets masked by path and by value.
 */
#ifndef FL_DIFF_H
#define FL_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "reconcile/fleet/fleet.h"

#define FL_SECRET_TEXT "\"(secret)\""

struct fl_field_diff {
	const char *path;      /* "replicas", "env.TITLE", "ports[0].port", "" for the whole spec;
	                          a key that is not [A-Za-z0-9_-]+ is quoted: env["a.b"] */
	const char *old_json;  /* canonical JSON; NULL when the field is added */
	const char *new_json;  /* canonical JSON; NULL when the field is removed */
};

/*
 * The values of one tenant's secret vars, which a plan must never show
 * (docs/design.md "Secrets"): each non-empty value as it appears inside
 * canonical JSON (escaped), and raw as well when that differs. A diff value
 * that contains one of them is masked whatever its path, so a field the
 * template no longer has, or never had, cannot show a secret the account
 * still holds.
 */
struct fl_secret_values {
	struct fl_buf text;     /* the values back to back */
	size_t *ends;           /* value i is text.ptr[ends[i - 1] (0 for i = 0) .. ends[i]) */
	size_t len, cap;
};

void fl_secret_values_init(struct fl_secret_values *sv);
void fl_secret_values_release(struct fl_secret_values *sv);

/*
 * Sets sv (emptied first) to the values of tenant's vars that fleet declares
 * secret: true, the tenant's own or the default; unset ones have none. A
 * fleet without secret vars leaves sv empty. Returns 0, or the code of
 * writing a value as JSON (err names the var): sv then must not be used,
 * as it may lack that value.
 */
int fl_secret_values_set(struct fl_secret_values *sv, const struct fl_fleet *fleet,
			 const struct fl_tenant *tenant, struct fl_error *err);

/* True when text[0..len) contains one of sv's values; sv may be NULL (none). */
bool fl_secret_values_in(const struct fl_secret_values *sv, const char *text, size_t len);

/*
 * Diffs old_json (NULL: the resource is created) against new_json (NULL:
 * deleted) into *out (an arena array of *nout entries, in path order: keys
 * bytewise, list items by index). Values of fields that
 * fl_template_path_secret says are secret show as FL_SECRET_TEXT on both
 * sides; so does any value that contains one of secrets (per side). tpl
 * and secrets may be NULL. A list whose length changed diffs item by item,
 * then extra items as added or removed. FL_EINPUT when either side is not
 * valid JSON.
 *
 * A create (old_json NULL) or a delete (new_json NULL) gives zero entries:
 * callers show the whole spec themselves. Byte-identical sides give zero
 * entries without parsing. Sides that differ only in formatting (equal
 * trees, different bytes) give one entry with path "" and the two texts as
 * they were given (or FL_SECRET_TEXT when the template has any secret, or
 * the spec holds a secret value in any spelling).
 */
int fl_diff_specs(struct fl_field_diff **out, size_t *nout, struct fl_arena *arena,
		  const char *old_json, size_t old_len, const char *new_json, size_t new_len,
		  const struct fl_template *tpl, const struct fl_secret_values *secrets,
		  struct fl_error *err);

/*
 * Scratch space for many diffs in a row (one per thread): parse trees and
 * buffers are reused, so a plan with many updates does not allocate per
 * diff beyond what it returns. fl_diff_specs uses one of its own per call.
 */
struct fl_diff_scratch {
	struct fl_arena arena;          /* parse trees; released after each diff */
	struct fl_buf path, value;      /* the path being walked; a value being printed */
	struct fl_field_diff *items;    /* entries before they are copied out */
	size_t len, cap;
	struct fl_json_tape tapes[2];   /* old and new side, when both are canonical */
};

void fl_diff_scratch_init(struct fl_diff_scratch *scratch);
void fl_diff_scratch_release(struct fl_diff_scratch *scratch);

/* fl_diff_specs using scratch; the results live in arena, as there. */
int fl_diff_specs_scratch(struct fl_diff_scratch *scratch, struct fl_field_diff **out, size_t *nout,
			  struct fl_arena *arena, const char *old_json, size_t old_len,
			  const char *new_json, size_t new_len, const struct fl_template *tpl,
			  const struct fl_secret_values *secrets, struct fl_error *err);

#endif
