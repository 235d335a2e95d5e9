/* The arena allocator; see arena.h. */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/banned.h"

struct fl_arena_block {
	struct fl_arena_block *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

void fl_arena_init(struct fl_arena *arena, size_t block_size)
{
	arena->head = NULL;
	arena->spare = NULL;
	arena->block_size = block_size ? block_size : 64 * 1024;
	arena->used = 0;
}

static void free_blocks(struct fl_arena_block *b)
{
	while (b) {
		struct fl_arena_block *next = b->next;
		free(b);
		b = next;
	}
}

void fl_arena_release(struct fl_arena *arena)
{
	free_blocks(arena->head);
	free_blocks(arena->spare);
	arena->head = NULL;
	arena->spare = NULL;
	arena->used = 0;
}

void fl_arena_reset(struct fl_arena *arena)
{
#ifdef FL_ARENA_DEBUG
	/* Every block freed, so that AddressSanitizer catches a use after the reset. */
	fl_arena_release(arena);
#else
	struct fl_arena_block *b = arena->head;
	while (b) {
		struct fl_arena_block *next = b->next;
		if (b->size == arena->block_size) {
			b->next = arena->spare;
			arena->spare = b;
		} else {
			free(b);
		}
		b = next;
	}
	arena->head = NULL;
	arena->used = 0;
#endif
}

static struct fl_arena_block *new_block(struct fl_arena *arena, size_t size)
{
	struct fl_arena_block *b = arena->spare;

	if (b && size == arena->block_size) {
		arena->spare = b->next;
	} else {
		if (size > SIZE_MAX - sizeof(struct fl_arena_block))
			size = SIZE_MAX - sizeof(struct fl_arena_block); /* fl_malloc then aborts */
		b = fl_malloc(sizeof(*b) + size);
	}
	b->size = size;
	b->used = 0;
	b->next = arena->head;
	arena->head = b;
	return b;
}

#ifndef FL_ARENA_DEBUG
/*
 * take()'s way when the current block has no room, or for a large
 * allocation: a new block, or one of the allocation's own. Out of line, so
 * that the common way saves no registers.
 */
__attribute__((noinline)) static void *take_new(struct fl_arena *arena, size_t rounded)
{
	struct fl_arena_block *b = arena->head;
	if (rounded > arena->block_size / 4) {
		/* Large allocations get a block of their own behind the current one. */
		struct fl_arena_block *big = new_block(arena, rounded);
		big->used = big->size; /* never the current block for small allocations */
		if (b) {
			arena->head = b;
			big->next = b->next;
			b->next = big;
		}
		return big->data;
	}
	b = new_block(arena, arena->block_size);
	b->used = rounded;
	return b->data;
}
#endif

/* size bytes, not zeroed: a copy overwrites them all and need not pay for zeroing first. */
static void *take(struct fl_arena *arena, size_t size)
{
	size_t rounded = (size + 15) & ~(size_t)15;
	if (rounded < size)
		rounded = SIZE_MAX; /* overflow: the allocation below aborts */
	arena->used += size;
#ifdef FL_ARENA_DEBUG
	return new_block(arena, size)->data;
#else
	struct fl_arena_block *b = arena->head;
	/* Large allocations get their own block even where they would fit. */
	if (b && b->size - b->used >= rounded && rounded <= arena->block_size / 4) {
		void *p = b->data + b->used;
		b->used += rounded;
		return p;
	}
	return take_new(arena, rounded);
#endif
}

void *fl_arena_alloc(struct fl_arena *arena, size_t size)
{
	return memset(take(arena, size), 0, size);
}

void *fl_arena_calloc(struct fl_arena *arena, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return take(arena, SIZE_MAX); /* aborts */
	return fl_arena_alloc(arena, nmemb * size);
}

char *fl_arena_strndup(struct fl_arena *arena, const char *s, size_t len)
{
	char *p = take(arena, len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *fl_arena_strdup(struct fl_arena *arena, const char *s)
{
	return fl_arena_strndup(arena, s, strlen(s));
}
