/*
 * RFC 6902 JSON Patch: the patch that turns one JSON value into another,
 * as Cloud Control's UpdateResource takes it. Objects are compared member
 * by member (remove, add, replace, recursing into objects on both sides);
 * any other value that differs, lists included, is replaced whole.
 */
#ifndef FL_JSON_PATCH_H
#define FL_JSON_PATCH_H

#include "core/buf.h"
#include "core/error.h"
#include "core/node.h"

/*
 * Appends to out the patch (a JSON array, "[]" when equal) from -> to.
 * Member names are escaped in paths as RFC 6901 says (~0, ~1). Values are
 * written in canonical form. FL_EINPUT for a value JSON cannot hold.
 */
int fl_json_patch_diff(struct fl_buf *out, const struct fl_node *from, const struct fl_node *to,
		       struct fl_error *err);

#endif
