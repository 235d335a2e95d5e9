/*
 * Tests of core/heap.c: once fl_heap_prepare has run, malloc's heap holds
 * the reserve, advised for huge pages (the "hg" flag in /proc/self/smaps);
 * a block of megabytes comes from it rather than a mapping of its own, at
 * the start of the advice, and is written into huge pages (AnonHugePages);
 * and freeing it leaves the heap as large as it was. Under AddressSanitizer,
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

/* Not a multiple of 2 MiB: all of it in huge pages means its first 2 MiB are one. */
#define BIG ((size_t)3 << 20)

#ifndef FL_ASAN
/* The line of /proc/self/smaps starting with field, for the mapping that holds p, into out; "" if none. */
static void smaps_field(char *out, size_t cap, const void *p, const char *field)
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
		else if (in && strncmp(line, field, strlen(field)) == 0) {
			snprintf(out, cap, "%s", line + strlen(field));
			break;
		}
	}
	fclose(f);
}

/* A counter of /proc/vmstat; -1 when there is none. */
static long vmstat(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[64];
	long v, found = -1;

	assert_non_null(f);
	while (found < 0 && fscanf(f, "%63s %ld", key, &v) == 2)
		if (strcmp(key, name) == 0)
			found = v;
	fclose(f);
	return found;
}

/* True when the kernel gives huge pages to memory advised for them ("always" or "madvise"). */
static bool thp_for_advised(void)
{
	char mode[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return false;
	if (!fgets(mode, sizeof(mode), f))
		mode[0] = '\0';
	fclose(f);
	return strstr(mode, "[always]") || strstr(mode, "[madvise]");
}
#endif

static void test_heap_prepared(void **state)
{
	(void)state;
#ifdef FL_ASAN
	assert_false(fl_heap_prepare());
#else
	char line[512], *top, *big;
	/* Without transparent huge pages in the kernel, the advice is refused. */
	bool thp = access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;
	long fallbacks;

	assert_int_equal(fl_heap_prepare(), thp);
	if (!thp)
		return;
	top = sbrk(0);
	fallbacks = vmstat("thp_fault_fallback");
	big = malloc(BIG);
	assert_non_null(big);
	memset(big, 1, BIG);
	/* From the heap, below its top (a block mapped on its own would lie above it). */
	assert_true(big + BIG <= top);
	/* Allocations start where the advice does, not in the heap's first small pages. */
	smaps_field(line, sizeof(line), big, "VmFlags:");
	if (!strstr(line, " hg"))
		fail_msg("the heap at %p is not advised for huge pages: VmFlags:%s", (void *)big, line);
	/* And get huge pages, unless the kernel gives none or had none to give. */
	smaps_field(line, sizeof(line), big, "AnonHugePages:");
	if (thp_for_advised() && vmstat("thp_fault_fallback") == fallbacks && atol(line) < (long)(BIG >> 10))
		fail_msg("%zu KiB written at %p, %ld KiB of them in huge pages", BIG >> 10, (void *)big,
			 atol(line));
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
