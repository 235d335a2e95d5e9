/*
 * JSON: the canonical form of SPEC 3 (object keys sorted bytewise, no
 * insignificant white space), a pretty printer for documents people read,
 * a strict parser (RFC 8259) into the value tree of node.h, and a check
 * that a text is canonical already, so that it can be compared as bytes.
 */
#ifndef FL_JSON_H
#define FL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

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

/*
 * The order of keys in the canonical form: memcmp, the shorter first on a
 * tie. Inline: diffs compare keys in their innermost loop.
 */
static inline int fl_json_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	return c ? c : (alen > blen) - (alen < blen);
}

/*
 * Fills out[0..map->v.map.len) with the members of map (a FL_NODE_MAP) in
 * the order of the canonical form: keys bytewise, the shorter first on a
 * tie. The pointers are borrowed from map.
 */
void fl_json_sorted_members(const struct fl_pair **out, const struct fl_node *map);

/* Appends a JSON string literal (quotes included) for s, escaped as above. */
int fl_json_put_str(struct fl_buf *out, const char *s, size_t len);

/* The number of bytes fl_json_put_str appends for s, without writing them. */
size_t fl_json_str_len(const char *s, size_t len);

/* The most bytes fl_json_put_str appends for any len bytes (each escapes to at most six). */
size_t fl_json_str_max_len(size_t len);

/*
 * Sets *out to the length of the canonical JSON of node, without writing it,
 * and returns true, when node is null, a bool, an integer or a string; false
 * for a float, a sequence or a mapping, which a caller writes to measure.
 */
bool fl_json_scalar_len(size_t *out, const struct fl_node *node);

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

/* One value of a canonical text, in document order. */
struct fl_json_extent {
	size_t end;   /* offset just past the value */
	size_t count; /* values nested inside it, at any depth */
};

/* The extent of every value of a text, the root first (a tape, as in simdjson). */
struct fl_json_tape {
	struct fl_json_extent *items;
	size_t len, cap;
};

/* Frees the tape's storage; the tape may be used again. */
void fl_json_tape_release(struct fl_json_tape *tape);

/*
 * True when json[0..len) is exactly the text fl_json_canonical writes for its
 * value, so that equal values are equal bytes: out then holds the extent of
 * every value, which lets a reader step over a value without scanning it
 * again. Without building a tree and without allocating beyond out. A
 * negative zero and an integer of more than 18 digits are refused (the first
 * equals 0.0 but not as bytes; the second may not fit int64), and so is an
 * escape in a key (readers take keys as their raw bytes): a caller that gets
 * false parses the text instead, which is always correct.
 */
bool fl_json_is_canonical(struct fl_json_tape *out, const char *json, size_t len);

#endif
