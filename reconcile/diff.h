/*
 * Field-level differences between two JSON specs, for plans: each changed
 * leaf (or subtree that changed type) as a path, an old and a new value.
 */
#ifndef FL_DIFF_H
#define FL_DIFF_H

#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "reconcile/fleet.h"

#define FL_SECRET_TEXT "\"(secret)\""

struct fl_field_diff {
	const char *path;      /* "replicas", "env.TITLE", "ports[0].port", "" for the whole spec;
	                          a key that is not [A-Za-z0-9_-]+ is quoted: env["a.b"] */
	const char *old_json;  /* canonical JSON; NULL when the field is added */
	const char *new_json;  /* canonical JSON; NULL when the field is removed */
};

/*
 * Diffs old_json (NULL: the resource is created) against new_json (NULL:
 * deleted) into *out (an arena array of *nout entries, in path order: keys
 * bytewise, list items by index). Values of fields that
 * fl_template_path_secret says are secret show as FL_SECRET_TEXT; tpl may
 * be NULL. A list whose length changed diffs item by item, then extra items
 * as added or removed. FL_EINPUT when either side is not valid JSON.
 *
 * A create (old_json NULL) or a delete (new_json NULL) gives zero entries:
 * callers show the whole spec themselves. Byte-identical sides give zero
 * entries without parsing. Sides that differ only in formatting (equal
 * trees, different bytes) give one entry with path "" and the two texts as
 * they were given (or FL_SECRET_TEXT when the template has any secret).
 */
int fl_diff_specs(struct fl_field_diff **out, size_t *nout, struct fl_arena *arena,
		  const char *old_json, size_t old_len, const char *new_json, size_t new_len,
		  const struct fl_template *tpl, struct fl_error *err);

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
			  struct fl_error *err);

#endif
