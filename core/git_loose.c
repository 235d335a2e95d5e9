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
#include "core/git_internal.h"
#include "core/banned.h"

/* An inflated object from this size up gets its pages at once (MAP_POPULATE). */
#define POPULATE_MIN ((size_t)256 * 1024)

/* Under AddressSanitizer every object is malloc'd, so that a read past it is caught. */
#if defined(__SANITIZE_ADDRESS__)
#define FL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FL_ASAN 1
#endif
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

static char *out_alloc(size_t n, size_t *maplen)
{
	*maplen = 0;
#ifndef FL_ASAN
	if (n >= POPULATE_MIN) {
		void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
			       -1, 0);
		if (p != MAP_FAILED) {
			*maplen = n;
			return p;
		}
	}
#endif
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

/* Reads the file of loose object id; NULL when there is none or it is not well-formed. */
static struct fl_git_loose *read_file(const char *objdir, const git_oid *id)
{
	char hex[GIT_OID_HEXSZ + 1], path[PATH_MAX];
	struct fl_git_loose *o = NULL;
	struct stat st;
	void *map;
	int fd;

	git_oid_tostr(hex, sizeof(hex), id);
	if ((size_t)snprintf(path, sizeof(path), "%s/%.2s/%s", objdir, hex, hex + 2) >= sizeof(path))
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uintmax_t)st.st_size <= UINT_MAX) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map != MAP_FAILED) {
			o = inflate_loose(map, (size_t)st.st_size);
			munmap(map, (size_t)st.st_size);
		}
	}
	close(fd);
	if (o)
		git_oid_cpy(&o->id, id);
	return o;
}

/* Keeps o in repo's cache (taking a reference), in place of the least recent. */
static void cache_put(struct fl_repo *repo, struct fl_git_loose *o)
{
	fl_git_loose_unref(repo->loose[LOOSE_CACHE_SIZE - 1]);
	memmove(&repo->loose[1], &repo->loose[0], (LOOSE_CACHE_SIZE - 1) * sizeof(repo->loose[0]));
	o->refs++;
	repo->loose[0] = o;
}

struct fl_git_loose *fl_git_loose_read(struct fl_repo *repo, const git_oid *id)
{
	struct fl_git_loose *o;

	if (!repo->objdir)
		return NULL;
	for (size_t i = 0; i < LOOSE_CACHE_SIZE; i++)
		if (repo->loose[i] && git_oid_equal(&repo->loose[i]->id, id)) {
			repo->loose[i]->refs++;
			return repo->loose[i];
		}
	o = read_file(repo->objdir, id);
	if (!o)
		return NULL;
	repo->loose_files++;
	o->refs = 1;
	cache_put(repo, o);
	return o;
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
