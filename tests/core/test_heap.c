/*
 * Tests of core/heap.c: once fl_heap_prepare has run, malloc's heap holds
 * the reserve, advised for huge pages (the "hg" flag in /proc/self/smaps);
 * a block of megabytes comes from it rather than a mapping of its own; and
 * freeing it leaves the heap as large as it was. Under AddressSanitizer,
 * whose allocator has no brk heap, fl_heap_prepare must decline.
 */
#define _DEFAULT_SOURCE 1 /* sbrk */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/asan.h"
#include "core/heap.h"
#include "core/banned.h"

#define BIG ((size_t)4 << 20)

#ifndef FL_ASAN
/* The VmFlags of the mapping in /proc/self/smaps that holds p, into out; "" when none does. */
static void vm_flags(char *out, size_t cap, const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;

	out[0] = '\0';
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(out, cap, "%s", line + 8);
			break;
		}
	}
	fclose(f);
}
#endif

static void test_heap_prepared(void **state)
{
	(void)state;
#ifdef FL_ASAN
	assert_false(fl_heap_prepare());
#else
	char flags[512], *top, *big;
	/* Without transparent huge pages in the kernel, the advice is refused. */
	bool thp = access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;

	assert_int_equal(fl_heap_prepare(), thp);
	if (!thp)
		return;
	top = sbrk(0);
	big = malloc(BIG);
	assert_non_null(big);
	memset(big, 1, BIG);
	/* From the heap, below its top (a block mapped on its own would lie above it). */
	assert_true(big + BIG <= top);
	/* Its end: the advice starts at the heap's first 2 MiB boundary, which its start may precede. */
	vm_flags(flags, sizeof(flags), big + BIG - 1);
	if (!strstr(flags, " hg"))
		fail_msg("the heap at %p is not advised for huge pages: VmFlags:%s", (void *)big, flags);
	free(big);
	assert_ptr_equal(sbrk(0), top);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_prepared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
