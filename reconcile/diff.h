/*
 * Field-level differences between two JSON specs, for plans: each changed
 * leaf (or subtree that changed type) as a path, an old and a new value.
 */
#ifndef FL_DIFF_H
#define FL_DIFF_H

#include <stddef.h>

#include "core/arena.h"
#include "core/error.h"
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
 */
int fl_diff_specs(struct fl_field_diff **out, size_t *nout, struct fl_arena *arena,
		  const char *old_json, size_t old_len, const char *new_json, size_t new_len,
		  const struct fl_template *tpl, struct fl_error *err);

#endif
