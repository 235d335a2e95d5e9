/*
 * Fuzz target of core/git_loose.c, flotilla's reader of loose objects. The
 * input is a loose object file as it is, or, when its first byte is odd,
 * what zlib compresses into one: the bytes up to the first 0xff, with the
 * bytes after that 0xff appended to the compressed stream. Whatever
 * flotilla's reader reads, libgit2 must read the same object from the same
 * file: type, size and bytes. A difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <zlib.h>

#include "core/error.h"
#include "core/git.h"
#include "core/git_internal.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OBJECT_ID "3f7a0c2b9d41e85f06a1b2c3d4e5f60718293a4b"

static char repo_dir[64];
static char object_path[160];

static void die(const char *what)
{
	fprintf(stderr, "fuzz_loose: %s\n", what);
	abort();
}

static void remove_repo(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", repo_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_loose: could not remove %s\n", repo_dir);
}

/* A bare repository in a temporary directory, once; removed at exit. */
static void setup(void)
{
	git_repository *r = NULL;
	struct fl_repo *repo = NULL;
	struct fl_error err = FL_ERROR_INIT;
	char dir[160];

	snprintf(repo_dir, sizeof(repo_dir), "/tmp/fuzz-loose.XXXXXX");
	if (!mkdtemp(repo_dir))
		die("mkdtemp");
	atexit(remove_repo);
	if (fl_repo_open(&repo, repo_dir, &err) != FL_ENOTFOUND) /* starts libgit2 as flotilla does */
		die("a fresh directory opened as a repository");
	if (git_repository_init(&r, repo_dir, 1) < 0)
		die("git_repository_init");
	git_repository_free(r);
	snprintf(dir, sizeof(dir), "%s/objects/%.2s", repo_dir, OBJECT_ID);
	if (mkdir(dir, 0755) != 0)
		die("mkdir");
	snprintf(object_path, sizeof(object_path), "%s/%s", dir, &OBJECT_ID[2]);
}

static void write_object(const uint8_t *data, size_t size)
{
	FILE *f = fopen(object_path, "wb");
	if (!f)
		die("fopen");
	if (size && (data[0] & 1)) {
		const uint8_t *end = memchr(data + 1, 0xff, size - 1);
		size_t n = end ? (size_t)(end - data) - 1 : size - 1;
		uLongf zlen = compressBound(n);
		unsigned char *z = malloc(zlen);
		if (!z || compress2(z, &zlen, data + 1, n, 6) != Z_OK)
			die("compress2");
		fwrite(z, 1, zlen, f);
		if (end)
			fwrite(end + 1, 1, size - (size_t)(end - data) - 1, f);
		free(z);
	} else if (size) {
		fwrite(data + 1, 1, size - 1, f);
	}
	if (fclose(f) != 0)
		die("fclose");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_repo *repo = NULL;
	struct fl_git_loose *ours;
	git_odb_object *theirs = NULL;
	git_odb *odb = NULL;
	git_oid id;

	if (!repo_dir[0])
		setup();
	write_object(data, size);
	/* A repository of its own each time: libgit2 keeps what it read in a cache. */
	if (fl_repo_open(&repo, repo_dir, &err) != 0)
		die(err.msg);
	git_oid_fromstr(&id, OBJECT_ID);
	ours = fl_git_loose_read(repo, &id);
	if (ours) {
		size_t n;
		const char *bytes = fl_git_loose_data(ours, &n);
		if (git_repository_odb(&odb, repo->git) < 0 || git_odb_read(&theirs, odb, &id) < 0)
			die("flotilla read an object libgit2 does not");
		if (git_odb_object_type(theirs) != fl_git_loose_type(ours) ||
		    git_odb_object_size(theirs) != n || memcmp(git_odb_object_data(theirs), bytes, n) != 0 ||
		    bytes[n] != '\0')
			die("flotilla read another object than libgit2");
		git_odb_object_free(theirs);
		git_odb_free(odb);
		fl_git_loose_unref(ours);
	}
	fl_repo_free(repo);
	return 0;
}
