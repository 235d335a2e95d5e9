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

/* Loose objects kept after a read: the two trees a comparison reads, for the lookups after it. */
#define LOOSE_CACHE_SIZE 2
/*
 * The two trees of a comparison are inflated on two threads when both
 * files are this large (about 20,000 tenants): below it, starting a thread
 * costs about what it saves (docs/benchmarks.md).
 */
#define LOOSE_PAIR_MIN ((size_t)512 * 1024)

struct fl_git_loose;

struct fl_repo {
	git_repository *git;
	git_odb_backend *mempack; /* the only object store of an in-memory repository, else NULL */
	char *gitdir;	/* git_repository_path() without its trailing slash */
	char *objdir;	/* <common dir>/objects; NULL for an in-memory repository */
	struct fl_git_loose *loose[LOOSE_CACHE_SIZE]; /* most recent first; NULL when free */
	size_t loose_files;   /* loose files read by git_loose.c (for tests) */
	size_t loose_threads; /* pairs fl_git_loose_read_pair read on two threads (for tests) */
	size_t pair_min;      /* LOOSE_PAIR_MIN; tests lower it */
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

/*
 * fl_repo_list_dir of dir (its first len bytes, len > 0) read raw, as
 * git_diff.c reads trees: 1, having called cb for nothing, when dir holds
 * an entry that only libgit2's parsed trees read (the caller lists it
 * that way then); else what fl_repo_list_dir returns.
 */
int fl_git_list_raw(struct fl_repo *repo, const struct fl_oid *commit, const char *dir, size_t len,
		    fl_repo_entry_cb cb, void *payload, struct fl_error *err);

/*
 * A well-formed loose object of repo's own objects directory, read and
 * inflated by flotilla (git_loose.c), with a reference the caller drops
 * with fl_git_loose_unref; NULL when there is no such file or it is not
 * well-formed, and then libgit2 is to read the object (or say what is
 * wrong). The last LOOSE_CACHE_SIZE read stay cached in repo until
 * fl_git_loose_forget. The data is NUL-terminated.
 */
struct fl_git_loose *fl_git_loose_read(struct fl_repo *repo, const git_oid *id);
/*
 * Reads loose objects a and b into repo's cache, as fl_git_loose_read
 * would read them one after the other, but both at once, one on a thread
 * of its own, when both files are large: the two tenants/ trees of a
 * comparison, which otherwise wait on each other's inflate. What is not a
 * well-formed loose object is left for fl_git_loose_read to find missing.
 */
void fl_git_loose_read_pair(struct fl_repo *repo, const git_oid *a, const git_oid *b);
void fl_git_loose_unref(struct fl_git_loose *o);
void fl_git_loose_forget(struct fl_repo *repo);
git_object_t fl_git_loose_type(const struct fl_git_loose *o);
const char *fl_git_loose_data(const struct fl_git_loose *o, size_t *size);

#endif
