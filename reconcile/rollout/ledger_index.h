/*
 * The ledger's index of records by name: an open-addressing hash table
 * beside an array of records that each begin with their name. The array
 * keeps its order (the note lists records in it); the index holds only
 * positions in it, so growing the array leaves the index valid.
 */
#ifndef FL_LEDGER_INDEX_H
#define FL_LEDGER_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct fl_name_index {
	size_t *slots;   /* position + 1 of a record; 0: empty */
	size_t cap;      /* a power of two, or 0 before the first add */
	size_t n;        /* positions held */
};

#define FL_NAME_INDEX_NONE SIZE_MAX

/* The hash the index files name under; its low bits pick the first slot. */
uint64_t fl_name_hash(const char *name);
/* The position of the record called name in items (each size bytes), or FL_NAME_INDEX_NONE. */
size_t fl_name_index_find(const struct fl_name_index *idx, const void *items, size_t size, const char *name);
/* Files the record at pos of items, whose name is not filed yet; grows the table as needed. */
void fl_name_index_add(struct fl_name_index *idx, const void *items, size_t size, size_t pos);
void fl_name_index_release(struct fl_name_index *idx);

#endif
