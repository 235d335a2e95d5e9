/* Allocation wrappers that abort on out-of-memory and on size overflow. */
#include "core/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size)
{
	fprintf(stderr, "flotilla: out of memory allocating %zu bytes\n", size);
	abort();
}

void *fl_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		oom(size);
	return p;
}

void *fl_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *fl_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		oom(SIZE_MAX);
	size_t total = nmemb * size;
	void *p = realloc(ptr, total ? total : 1);
	if (!p)
		oom(total);
	return p;
}

char *fl_strdup(const char *s)
{
	return fl_strndup(s, strlen(s));
}

char *fl_strndup(const char *s, size_t n)
{
	char *p = fl_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void fl_grow(void **ptr, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			oom(SIZE_MAX);
		ncap *= 2;
	}
	*ptr = fl_reallocarray(*ptr, ncap, size);
	*cap = ncap;
}
