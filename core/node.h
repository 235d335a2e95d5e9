/*
 * The value tree shared by the YAML loader and the JSON parser: scalars typed
 * by the YAML 1.2 core schema, sequences and mappings, each node with the
 * 1-based source position it came from. Nodes live in an arena; a mapping's
 * keys are string nodes, in source order, without duplicates.
 */
#ifndef FL_NODE_H
#define FL_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fl_node_type {
	FL_NODE_NULL,
	FL_NODE_BOOL,
	FL_NODE_INT,
	FL_NODE_FLOAT,
	FL_NODE_STR,
	FL_NODE_SEQ,
	FL_NODE_MAP,
};

struct fl_pair;

struct fl_node {
	enum fl_node_type type;
	uint32_t line, col;   /* 1-based; 0 for nodes not read from a file */
	bool quoted;          /* a string written quoted or as a block scalar */
	union {
		bool b;
		int64_t i;
		double f;
		struct { char *ptr; size_t len; } str;   /* NUL-terminated too */
		struct { struct fl_node **items; size_t len; } seq;
		struct { struct fl_pair *items; size_t len; } map;
	} v;
};

struct fl_pair {
	struct fl_node *key;    /* always FL_NODE_STR */
	struct fl_node *value;
};

/* The value under key in a mapping, or NULL (also when node is not a mapping). */
const struct fl_node *fl_node_get(const struct fl_node *map, const char *key);
/* "null", "boolean", "integer", "number", "string", "list", "mapping". */
const char *fl_node_type_name(enum fl_node_type type);
/* Deep equality of two trees (positions ignored; 1 and 1.0 differ). */
bool fl_node_equal(const struct fl_node *a, const struct fl_node *b);

#endif
