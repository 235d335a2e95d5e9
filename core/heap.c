/*
 * The first touch of a page the process has not used yet costs a page
 * fault, and on a virtual machine (CI runners are) a slow one: the host
 * maps the page as well. Here that is 8 to 15 µs a page, so a converged
 * plan of 10,000 tenants, which touches about 13 MB of heap, spent 3,300
 * faults and tens of milliseconds on it. A huge page costs one fault and
 * the zeroing of 2 MiB, about 0.2 ms: the price of 15 small pages for 512
 * of them (docs/benchmarks.md, "Fresh pages").
 *
 * So the main heap is grown once by FL_HEAP_RESERVE and advised
 * MADV_HUGEPAGE; where the kernel has transparent huge pages for advised
 * memory (Debian's default), it backs the heap with them as it is touched.
 * Nothing is committed before that. Blocks up to the largest mmap threshold
 * come from this heap instead of mappings of their own, and the heap is
 * never trimmed below the reserve, which would drop the advice with the
 * pages. The heap below the first 2 MiB boundary that can still be a huge
 * page is kept allocated, so that allocations start on it.
 *
 * Only the main thread's heap: glibc gives threads arenas of their own.
 */
#define _DEFAULT_SOURCE 1 /* sbrk, madvise, MADV_HUGEPAGE */

#include "core/heap.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/asan.h"
#include "core/banned.h"

#define HUGE_PAGE ((uintptr_t)2 << 20)
/* glibc's largest mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX), and its default top pad. */
#define MMAP_MAX ((int)(4 * 1024 * 1024 * sizeof(long)))
#define TOP_PAD_DEFAULT (128 * 1024)
/* Free space at the heap's top is given back only beyond this: never the reserve. */
#define TRIM_MIN ((int)(FL_HEAP_RESERVE * 2))

#ifndef FL_ASAN
/* The heap below the huge pages, kept allocated so that allocations start above it. */
static void *pinned;
#endif

bool fl_heap_prepare(void)
{
#ifdef FL_ASAN
	return false; /* ASan's allocator has no brk heap, and ignores mallopt */
#else
	char *before = sbrk(0), *first, *top, *grown;
	size_t mapped = mallinfo2().hblks;
	uintptr_t lo, hi;
	bool ok;

	if (before == (void *)-1 || !mallopt(M_MMAP_THRESHOLD, MMAP_MAX) ||
	    !mallopt(M_TRIM_THRESHOLD, TRIM_MIN) || !mallopt(M_TOP_PAD, (int)FL_HEAP_RESERVE))
		return false;
	/* More than the heap holds at start: it grows, by the top pad besides. */
	first = malloc(HUGE_PAGE);
	(void)mallopt(M_TOP_PAD, TOP_PAD_DEFAULT);
	top = sbrk(0);
	/* first came from the heap (no block was mapped), which grew by the reserve. */
	ok = first && mallinfo2().hblks == mapped && top != (void *)-1 && top > before &&
	     (uintptr_t)(top - before) >= FL_HEAP_RESERVE;
	/*
	 * The advice starts past the page where malloc wrote the size of the
	 * free space after first: that page has its small pages already, and
	 * so has the 2 MiB around it, which can no longer be a huge page.
	 */
	lo = ((uintptr_t)first + HUGE_PAGE + 64 + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	hi = (uintptr_t)top & ~(HUGE_PAGE - 1);
	ok = ok && hi > lo && madvise((void *)lo, hi - lo, MADV_HUGEPAGE) == 0;
	if (!ok) {
		free(first);
		return false;
	}
	/*
	 * first is kept, grown to end just below lo, so that what is allocated
	 * next starts on lo: glibc puts a block's size in the 8 bytes before it
	 * (the free space's too), so the first write past lo is the allocation's
	 * own, and gets a huge page. With first freed, the heap's first 2 MiB
	 * would be used first, in small pages.
	 */
	grown = realloc(first, lo - (uintptr_t)first - sizeof(size_t));
	pinned = grown ? grown : first;
	return true;
#endif
}
