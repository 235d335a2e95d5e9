/*
 * An arena: many small allocations released at once (libgit2's git_pool).
 * Built with FL_ARENA_DEBUG, every allocation goes to malloc on its own so
 * the sanitizers see overruns and use-after-release.
 */
#ifndef FL_ARENA_H
#define FL_ARENA_H

#include <stddef.h>

struct fl_arena_block;

struct fl_arena {
	struct fl_arena_block *head;
	struct fl_arena_block *spare; /* blocks of block_size kept by fl_arena_reset */
	size_t block_size;
	size_t used;          /* total bytes handed out, for memory accounting */
};

void fl_arena_init(struct fl_arena *arena, size_t block_size);
/* Frees everything allocated from the arena; it may be used again. */
void fl_arena_release(struct fl_arena *arena);
/*
 * Frees everything allocated from the arena but keeps its blocks of
 * block_size for the allocations after: a scratch arena emptied over and
 * over neither gives memory back to malloc nor takes it again. (malloc may
 * hand freed memory back to the kernel, and every page of it then faults
 * in afresh.) Built with FL_ARENA_DEBUG, it frees every block instead.
 */
void fl_arena_reset(struct fl_arena *arena);
/* Never returns NULL (aborts on out-of-memory); memory is zeroed, 16-aligned. */
void *fl_arena_alloc(struct fl_arena *arena, size_t size);
void *fl_arena_calloc(struct fl_arena *arena, size_t nmemb, size_t size);
char *fl_arena_strndup(struct fl_arena *arena, const char *s, size_t len);
char *fl_arena_strdup(struct fl_arena *arena, const char *s);

#endif
