/*
 * Allocation wrappers: flotilla is an application, so running out of memory
 * aborts with a message instead of doubling every error path. Sizes are
 * checked for multiplication overflow.
 */
#ifndef FL_ALLOC_H
#define FL_ALLOC_H

#include <stddef.h>

void *fl_malloc(size_t size);
void *fl_calloc(size_t nmemb, size_t size);
/* Grows or shrinks ptr to nmemb * size bytes; overflow aborts. */
void *fl_reallocarray(void *ptr, size_t nmemb, size_t size);
char *fl_strdup(const char *s);
char *fl_strndup(const char *s, size_t n);

/* Grows *ptr (of *cap elements of size) so it holds at least need elements. */
void fl_grow(void **ptr, size_t *cap, size_t need, size_t size);
#define FL_GROW(arr, cap, need) fl_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

#endif
