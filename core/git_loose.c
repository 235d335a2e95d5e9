/*
 * Loose objects read by flotilla itself, for the large trees of a
 * comparison (git_diff.c; see git_internal.h). libgit2 reads a loose
 * object into a fresh buffer with read(2) and inflates it into another.
 * Here the file is mapped, as git maps it, and the object is inflated into
 * a buffer that is faulted in with one call when it is large. For the 4 MB
 * tenants/ tree of 100,000 tenants that is about 1,000 page faults fewer
 * (docs/benchmarks.md, "Loose trees mapped").
 *
 * Only a well-formed loose object of the repository's own objects
 * directory is read here: "<type> <size>\0" and exactly size bytes, one
 * zlib stream, nothing after it. Anything else (no such file, a packed
 * object, an object of an alternate, a broken file) is left to libgit2,
 * which reads it or says what is wrong with it.
 */
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS, MAP_POPULATE; CMake sets only _POSIX_C_SOURCE */

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/asan.h"
#include "core/git_internal.h"
#include "core/banned.h"

/* An inflated object from this size up goes into huge pages (map_huge). */
#define HUGE_MIN ((size_t)256 * 1024)
#define HUGE_PAGE ((size_t)2 << 20)
/* Under ASan every object is malloc'd, so that a read past it is caught. */
#ifdef FL_ASAN
#define USE_MAPPINGS 0
#else
#define USE_MAPPINGS 1
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels refuse it, and nothing is lost */
#endif

/* "commit 18446744073709551615\0" fits, with room to spare. */
#define HEADER_MAX 64
/* Larger objects are libgit2's (and no tree flotilla compares is near it). */
#define OBJECT_MAX ((size_t)1 << 30)

struct fl_git_loose {
	unsigned refs;
	git_oid id;
	git_object_t type;
	size_t size;
	size_t maplen; /* data is mapped, maplen bytes, when not 0; else malloc'd */
	char *data;    /* size bytes and a NUL */
};

/*
 * A mapping of at least n bytes on huge-page boundaries, asked to be
 * backed by huge pages and faulted in at once; NULL when there is none.
 * Every fresh page costs a fault the first time it is touched (a slow one
 * on a virtual machine: docs/benchmarks.md, "Fresh pages"), and a 400 KB
 * tree is a hundred of them; one huge page is one.
 */
static char *map_huge(size_t n, size_t *maplen)
{
	size_t len = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), head;
	char *p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	head = (HUGE_PAGE - ((uintptr_t)p & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
	if (head)
		munmap(p, head);
	munmap(p + head + len, HUGE_PAGE - head);
	p += head;
	/*
	 * Both are hints: without huge pages (or before Linux 5.14) the pages
	 * come one by one. Only n bytes are faulted in, so that without huge
	 * pages the rest of the 2 MiB is not.
	 */
	(void)madvise(p, len, MADV_HUGEPAGE);
	(void)madvise(p, n, MADV_POPULATE_WRITE);
	*maplen = len;
	return p;
}

static char *out_alloc(size_t n, size_t *maplen)
{
	char *p;

	*maplen = 0;
	if (USE_MAPPINGS && n >= HUGE_MIN && (p = map_huge(n, maplen)) != NULL)
		return p;
	return fl_malloc(n);
}

static void loose_free(struct fl_git_loose *o)
{
	if (o->maplen)
		munmap(o->data, o->maplen);
	else
		free(o->data);
	free(o);
}

/* Parses "<type> <size>\0" at the start of h[0..n): its length, or 0 when it is not one. */
static size_t parse_header(const unsigned char *h, size_t n, git_object_t *type, size_t *size)
{
	static const struct {
		const char *word;
		git_object_t type;
	} types[] = {
		{ "commit ", GIT_OBJECT_COMMIT },
		{ "tree ", GIT_OBJECT_TREE },
		{ "blob ", GIT_OBJECT_BLOB },
		{ "tag ", GIT_OBJECT_TAG },
	};
	const unsigned char *end = memchr(h, '\0', n), *p = NULL;
	size_t v = 0;

	if (!end)
		return 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !p; i++) {
		size_t len = strlen(types[i].word);
		if ((size_t)(end - h) > len && memcmp(h, types[i].word, len) == 0) {
			*type = types[i].type;
			p = h + len;
		}
	}
	/* At least one digit (the > above), digits only, no leading zero but in "0" itself: git's form. */
	if (!p || (*p == '0' && p + 1 != end))
		return 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > OBJECT_MAX / 10)
			return 0;
		v = v * 10 + (size_t)(*p - '0');
	}
	if (v > OBJECT_MAX)
		return 0;
	*size = v;
	return (size_t)(end - h) + 1;
}

/* Inflates the loose object in[0..n) into a new object; NULL when it is not well-formed. */
static struct fl_git_loose *inflate_loose(const unsigned char *in, size_t n)
{
	unsigned char head[HEADER_MAX];
	struct fl_git_loose *o = NULL;
	z_stream z;
	size_t hlen, have, size = 0;
	git_object_t type = GIT_OBJECT_INVALID;
	int zrc;

	memset(&z, 0, sizeof(z));
	if (n > UINT_MAX || inflateInit(&z) != Z_OK)
		return NULL;
	z.next_in = (unsigned char *)in; /* zlib's API is not const; it does not write there */
	z.avail_in = (unsigned)n;
	z.next_out = head;
	z.avail_out = sizeof(head);
	zrc = inflate(&z, Z_NO_FLUSH);
	have = sizeof(head) - z.avail_out;
	if ((zrc != Z_OK && zrc != Z_STREAM_END) || !(hlen = parse_header(head, have, &type, &size)) ||
	    have - hlen > size)
		goto fail;
	o = fl_calloc(1, sizeof(*o));
	o->type = type;
	o->size = size;
	o->data = out_alloc(size + 1, &o->maplen);
	memcpy(o->data, head + hlen, have - hlen);
	z.next_out = (unsigned char *)o->data + (have - hlen);
	/* One byte of room past size: an object longer than its header says fills it. */
	z.avail_out = (unsigned)(size + 1 - (have - hlen));
	while (zrc == Z_OK)
		zrc = inflate(&z, Z_FINISH);
	if (zrc != Z_STREAM_END || z.avail_in != 0 || z.avail_out != 1)
		goto fail;
	o->data[size] = '\0';
	inflateEnd(&z);
	return o;
fail:
	inflateEnd(&z);
	if (o)
		loose_free(o);
	return NULL;
}

/* Opens the file of loose object id into *fd, its size into *size: 0, or -1 when there is none to read. */
static int open_file(int *fd, size_t *size, const char *objdir, const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1], path[PATH_MAX];
	struct stat st;

	git_oid_tostr(hex, sizeof(hex), id);
	if ((size_t)snprintf(path, sizeof(path), "%s/%.2s/%s", objdir, hex, hex + 2) >= sizeof(path))
		return -1;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return -1;
	if (fstat(*fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uintmax_t)st.st_size <= UINT_MAX) {
		*size = (size_t)st.st_size;
		return 0;
	}
	close(*fd);
	return -1;
}

/* Reads object id from fd, a file of size bytes, and closes fd; NULL when it is not well-formed. */
static struct fl_git_loose *read_open(int fd, size_t size, const git_oid *id)
{
	struct fl_git_loose *o = NULL;
	void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);

	if (map != MAP_FAILED) {
		o = inflate_loose(map, size);
		munmap(map, size);
	}
	close(fd);
	if (o)
		git_oid_cpy(&o->id, id);
	return o;
}

/* Reads the file of loose object id; NULL when there is none or it is not well-formed. */
static struct fl_git_loose *read_file(const char *objdir, const git_oid *id)
{
	int fd;
	size_t size;

	return open_file(&fd, &size, objdir, id) == 0 ? read_open(fd, size, id) : NULL;
}

/* Keeps o in repo's cache (taking a reference), in place of the least recent. */
static void cache_put(struct fl_repo *repo, struct fl_git_loose *o)
{
	fl_git_loose_unref(repo->loose[LOOSE_CACHE_SIZE - 1]);
	memmove(&repo->loose[1], &repo->loose[0], (LOOSE_CACHE_SIZE - 1) * sizeof(repo->loose[0]));
	o->refs++;
	repo->loose[0] = o;
}

/* Object id in repo's cache, or NULL. */
static struct fl_git_loose *find(const struct fl_repo *repo, const git_oid *id)
{
	for (size_t i = 0; i < LOOSE_CACHE_SIZE; i++)
		if (repo->loose[i] && git_oid_equal(&repo->loose[i]->id, id))
			return repo->loose[i];
	return NULL;
}

/* Keeps o, just read from its file, in repo's cache; nothing when o is NULL. */
static void keep(struct fl_repo *repo, struct fl_git_loose *o)
{
	if (!o)
		return;
	repo->loose_files++;
	o->refs = 0;
	cache_put(repo, o);
}

struct fl_git_loose *fl_git_loose_read(struct fl_repo *repo, const git_oid *id)
{
	struct fl_git_loose *o;

	if (!repo->objdir)
		return NULL;
	if (!(o = find(repo, id)) && (o = read_file(repo->objdir, id)) != NULL)
		keep(repo, o);
	if (o)
		o->refs++;
	return o;
}

/* The object of a pair that a thread of its own reads. */
struct pair_half {
	int fd;
	size_t size;
	const git_oid *id;
	struct fl_git_loose *out;
};

static void *read_half(void *arg)
{
	struct pair_half *h = arg;
	h->out = read_open(h->fd, h->size, h->id);
	return NULL;
}

void fl_git_loose_read_pair(struct fl_repo *repo, const git_oid *a, const git_oid *b)
{
	struct pair_half h = { -1, 0, a, NULL };
	struct fl_git_loose *ob;
	pthread_t thread;
	size_t size;
	int fd;

	if (!repo->objdir || git_oid_equal(a, b) || find(repo, a) || find(repo, b) ||
	    open_file(&h.fd, &h.size, repo->objdir, a))
		return;
	if (open_file(&fd, &size, repo->objdir, b)) {
		keep(repo, read_open(h.fd, h.size, a));
		return;
	}
	if (h.size < repo->pair_min || size < repo->pair_min ||
	    pthread_create(&thread, NULL, read_half, &h) != 0) {
		keep(repo, read_open(h.fd, h.size, a));
		keep(repo, read_open(fd, size, b));
		return;
	}
	ob = read_open(fd, size, b);
	(void)pthread_join(thread, NULL);
	repo->loose_threads++;
	keep(repo, h.out);
	keep(repo, ob);
}

void fl_git_loose_unref(struct fl_git_loose *o)
{
	if (o && --o->refs == 0)
		loose_free(o);
}

void fl_git_loose_forget(struct fl_repo *repo)
{
	for (size_t i = 0; i < LOOSE_CACHE_SIZE; i++) {
		fl_git_loose_unref(repo->loose[i]);
		repo->loose[i] = NULL;
	}
}

git_object_t fl_git_loose_type(const struct fl_git_loose *o)
{
	return o->type;
}

const char *fl_git_loose_data(const struct fl_git_loose *o, size_t *size)
{
	*size = o->size;
	return o->data;
}
