/* Helpers over the value tree; see node.h. */
#include "core/node.h"

#include <string.h>

#include "core/banned.h"

static const struct fl_node *get_n(const struct fl_node *map, const char *key, size_t klen)
{
	if (!map || map->type != FL_NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->v.map.len; i++) {
		const struct fl_node *k = map->v.map.items[i].key;
		if (k->v.str.len == klen && memcmp(k->v.str.ptr, key, klen) == 0)
			return map->v.map.items[i].value;
	}
	return NULL;
}

const struct fl_node *fl_node_get(const struct fl_node *map, const char *key)
{
	return get_n(map, key, strlen(key));
}

const char *fl_node_type_name(enum fl_node_type type)
{
	switch (type) {
	case FL_NODE_NULL: return "null";
	case FL_NODE_BOOL: return "boolean";
	case FL_NODE_INT: return "integer";
	case FL_NODE_FLOAT: return "number";
	case FL_NODE_STR: return "string";
	case FL_NODE_SEQ: return "list";
	case FL_NODE_MAP: return "mapping";
	}
	return "unknown";
}

bool fl_node_equal(const struct fl_node *a, const struct fl_node *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case FL_NODE_NULL: return true;
	case FL_NODE_BOOL: return a->v.b == b->v.b;
	case FL_NODE_INT: return a->v.i == b->v.i;
	case FL_NODE_FLOAT: return a->v.f == b->v.f;
	case FL_NODE_STR:
		return a->v.str.len == b->v.str.len &&
		       memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0;
	case FL_NODE_SEQ:
		if (a->v.seq.len != b->v.seq.len)
			return false;
		for (size_t i = 0; i < a->v.seq.len; i++)
			if (!fl_node_equal(a->v.seq.items[i], b->v.seq.items[i]))
				return false;
		return true;
	case FL_NODE_MAP:
		if (a->v.map.len != b->v.map.len)
			return false;
		for (size_t i = 0; i < a->v.map.len; i++) {
			const struct fl_node *ak = a->v.map.items[i].key;
			const struct fl_node *bv = get_n(b, ak->v.str.ptr, ak->v.str.len);
			if (!bv || !fl_node_equal(a->v.map.items[i].value, bv))
				return false;
		}
		return true;
	}
	return false;
}
