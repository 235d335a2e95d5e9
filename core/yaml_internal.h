/*
 * Shared by the two YAML readers of core/: yaml.c (libyaml) and
 * yaml_flat.c (the fast path for flat files). Nothing else includes this.
 */
#ifndef FL_YAML_INTERNAL_H
#define FL_YAML_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/node.h"
#include "core/yaml.h"

/* fl_yaml_load_flat's answer for a file it leaves to libyaml. */
#define FL_YAML_NOT_FLAT 1

/*
 * Types plain scalar s by the YAML 1.2 core schema into n; false when an
 * integer is out of range. s is NUL-terminated at len and lives as long as
 * the tree: a string node points at it.
 */
bool fl_yaml_type_plain(struct fl_node *n, char *s, size_t len);

/*
 * The tree of src when it is a flat file (yaml_flat.c says which), exactly
 * as libyaml's path builds it: 0 and *out set, or FL_YAML_NOT_FLAT and
 * nothing set (some arena memory may have been used). Never an error.
 */
int fl_yaml_load_flat(struct fl_node **out, struct fl_arena *arena, const struct fl_source *src,
		      const struct fl_yaml_limits *limits);

#endif
