/*
 * What core/git.c shares with the other files of git access (git_diff.c):
 * the repository handle and its tree cache, and the helpers between
 * libgit2's types and errors and flotilla's. Not for use outside core/git*.c.
 */
#ifndef FL_GIT_INTERNAL_H
#define FL_GIT_INTERNAL_H

#include <stddef.h>

#include <git2.h>

#include "core/error.h"
#include "core/git.h"

/* Directories of the cached commit kept parsed; a few, for alternating lookups. */
#define DIR_CACHE_SIZE 8

struct dir_slot {
	char *path; /* "tenants/acme", no trailing slash; NULL when free */
	git_tree *tree;
	unsigned long used; /* repo->tick at the last hit, for LRU eviction */
};

struct fl_repo {
	git_repository *git;
	git_odb_backend *mempack; /* the only object store of an in-memory repository, else NULL */
	char *gitdir;	/* git_repository_path() without its trailing slash */
	git_oid commit; /* the commit root and dirs belong to; valid while root */
	git_tree *root; /* NULL: nothing cached */
	struct dir_slot dirs[DIR_CACHE_SIZE];
	unsigned long tick;
};

/*
 * Sets err to "<what we did>: <libgit2's message>" and returns FL_ENOTFOUND
 * for GIT_ENOTFOUND, else FL_EGIT (libgit2's cli_error_git()).
 */
int fl_git_fail(struct fl_error *err, int gerr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fl_git_to(git_oid *out, const struct fl_oid *oid);
void fl_git_from(struct fl_oid *out, const git_oid *oid);
/* Length of path without trailing slashes. */
size_t fl_git_trim_len(const char *path);
/*
 * The root tree of commit, borrowed from the cache until the next lookup of
 * another commit. Looking up a new commit empties the cache.
 */
int fl_git_root_tree(git_tree **out, struct fl_repo *repo, const struct fl_oid *commit, struct fl_error *err);
/*
 * The entry at the first len bytes of path in commit, borrowed like the
 * cache's trees; FL_ENOTFOUND, naming the whole of path, when there is
 * none. len must not be 0.
 */
int fl_git_path_entry(const git_tree_entry **out, struct fl_repo *repo, const struct fl_oid *commit,
		      const char *path, size_t len, struct fl_error *err);

#endif
