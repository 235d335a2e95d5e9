/*
 * The process heap, laid out for huge pages (heap.c). Performance only:
 * malloc works the same whether or not this was done.
 */
#ifndef FL_HEAP_H
#define FL_HEAP_H

#include <stdbool.h>

/*
 * Has malloc's main heap reserve FL_HEAP_RESERVE bytes at once and asks the
 * kernel to back them with huge pages. Called first thing in main, before
 * threads start. True when the advice was taken; false when something
 * refused it (no transparent huge pages in the kernel, a brk heap that
 * cannot grow, a sanitizer's allocator); malloc works as it did then.
 */
bool fl_heap_prepare(void);

#define FL_HEAP_RESERVE ((unsigned long)256 << 20)

#endif
