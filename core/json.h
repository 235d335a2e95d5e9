/*
 * JSON: the canonical form of SPEC 3 (object keys sorted bytewise, no
 * insignificant white space), a pretty printer for documents people read,
 * and a strict parser (RFC 8259) into the value tree of node.h.
 */
#ifndef FL_JSON_H
#define FL_JSON_H

#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/node.h"

/*
 * Appends the canonical JSON of node to out. Keys are sorted bytewise
 * (memcmp, shorter first on a tie); integers print in decimal; floats in the
 * shortest form that reads back to the same double, always with a '.' or an
 * exponent; strings escape only '"', '\\' and control characters (\b \f \n \r
 * \t, others \u00XX). Returns FL_EINPUT for a float that JSON cannot hold
 * (inf, nan) with err positioned at the node, or FL_ELIMIT when out is full.
 */
int fl_json_canonical(struct fl_buf *out, const struct fl_node *node, struct fl_error *err);

/* Appends a JSON string literal (quotes included) for s, escaped as above. */
int fl_json_put_str(struct fl_buf *out, const char *s, size_t len);

/* Appends the shortest round-trip form of a finite double. */
int fl_json_put_double(struct fl_buf *out, double d);

/*
 * Appends node as JSON indented by two spaces per level, keys sorted as in
 * the canonical form, ending without a newline.
 */
int fl_json_pretty(struct fl_buf *out, const struct fl_node *node, struct fl_error *err);

/*
 * Parses one JSON value (surrounding white space allowed) from src into a
 * tree in arena. Numbers without '.', 'e' or 'E' that fit int64 are
 * FL_NODE_INT, others FL_NODE_FLOAT. Duplicate keys, invalid UTF-8 escapes,
 * trailing garbage and nesting deeper than 256 are errors: FL_EINPUT with
 * err positioned (line and column) in src.
 */
int fl_json_parse(struct fl_node **out, struct fl_arena *arena, const struct fl_source *src,
		  struct fl_error *err);

#endif
