/*
 * The ledger's index of records by name (see ledger_index.h). Linear
 * probing at a load of at most one half: a fleet of 100,000 tenants reports
 * every result through a lookup under the ledger's lock, which a linear
 * search by strcmp made quadratic in the fleet.
 */
#include "reconcile/rollout/ledger_index.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/banned.h"

#define MIN_CAP 16

uint64_t fl_name_hash(const char *name)
{
	struct fl_fp fp;
	uint64_t h = 0;
	fl_fp_of(&fp, name, strlen(name));
	for (int i = 0; i < 8; i++)
		h = h << 8 | fp.b[8 + i];
	return h;
}

static const char *name_at(const void *items, size_t size, size_t pos)
{
	return *(char *const *)((const char *)items + pos * size);
}

size_t fl_name_index_find(const struct fl_name_index *idx, const void *items, size_t size, const char *name)
{
	if (!idx->cap)
		return FL_NAME_INDEX_NONE;
	size_t mask = idx->cap - 1;
	for (size_t s = fl_name_hash(name) & mask;; s = (s + 1) & mask) {
		size_t v = idx->slots[s];
		if (!v)
			return FL_NAME_INDEX_NONE;
		if (strcmp(name_at(items, size, v - 1), name) == 0)
			return v - 1;
	}
}

/* Puts pos in the first free slot of its probe sequence; the table has one. */
static void place(size_t *slots, size_t cap, const void *items, size_t size, size_t pos)
{
	size_t mask = cap - 1, s = fl_name_hash(name_at(items, size, pos)) & mask;
	while (slots[s])
		s = (s + 1) & mask;
	slots[s] = pos + 1;
}

void fl_name_index_add(struct fl_name_index *idx, const void *items, size_t size, size_t pos)
{
	if ((idx->n + 1) * 2 > idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : MIN_CAP;
		size_t *slots = fl_calloc(cap, sizeof(*slots));
		for (size_t i = 0; i < idx->cap; i++)
			if (idx->slots[i])
				place(slots, cap, items, size, idx->slots[i] - 1);
		free(idx->slots);
		idx->slots = slots;
		idx->cap = cap;
	}
	place(idx->slots, idx->cap, items, size, pos);
	idx->n++;
}

void fl_name_index_release(struct fl_name_index *idx)
{
	free(idx->slots);
	memset(idx, 0, sizeof(*idx));
}
