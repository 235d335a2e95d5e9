/*
 * YAML loading with libyaml into the value tree of node.h, keeping source
 * positions. Scalars are typed by the YAML 1.2 core schema (plain scalars
 * only; quoted and block scalars are strings). Limits on size, depth,
 * aliases and alias expansion turn hostile input into a clean error.
 */
#ifndef FL_YAML_H
#define FL_YAML_H

#include <stddef.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/node.h"

struct fl_yaml_limits {
	size_t max_bytes;      /* file size */
	unsigned max_depth;    /* nesting of sequences and mappings */
	unsigned max_aliases;  /* alias events (*ref) in one file */
	size_t max_nodes;      /* nodes after alias expansion, in one file */
};

#define FL_YAML_LIMITS_DEFAULT { 1024 * 1024, 64, 64, 100000 }

/*
 * Parses every document of src into trees allocated in arena. *docs_out is
 * an arena array of *ndocs_out roots (an empty document is a NULL node).
 * On failure returns FL_EINPUT or FL_ELIMIT with err positioned in src;
 * nothing is returned in *docs_out.
 */
int fl_yaml_load(struct fl_node ***docs_out, size_t *ndocs_out, struct fl_arena *arena,
		 const struct fl_source *src, const struct fl_yaml_limits *limits,
		 struct fl_error *err);

/* Like fl_yaml_load, but exactly one document is expected (an empty file is an error). */
int fl_yaml_load_one(struct fl_node **out, struct fl_arena *arena, const struct fl_source *src,
		     const struct fl_yaml_limits *limits, struct fl_error *err);

#endif
