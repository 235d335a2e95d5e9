/*
 * Git access with libgit2 (only core/git*.c and remote.c include git2.h):
 * open a local repository (bare or not), resolve revisions, read files of a
 * commit's tree straight from the object database, list directories, list
 * the paths that differ between two commits, and make a commit of a work
 * tree (for init).
 * A struct fl_repo is not safe to use from two threads at once.
 */
#ifndef FL_GIT_H
#define FL_GIT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

struct fl_repo;

struct fl_oid {
	unsigned char id[20];
};

#define FL_OID_HEX_LEN 40

/* Writes 40 hex digits and a NUL. */
void fl_oid_hex(char out[FL_OID_HEX_LEN + 1], const struct fl_oid *oid);
bool fl_oid_equal(const struct fl_oid *a, const struct fl_oid *b);

/*
 * Opens the repository at path (a work tree, its .git, or a bare repository;
 * parent directories are not searched). *out is the caller's to fl_repo_free.
 * FL_ENOTFOUND when path is not a repository.
 */
int fl_repo_open(struct fl_repo **out, const char *path, struct fl_error *err);
void fl_repo_free(struct fl_repo *repo);

/*
 * A repository that lives in memory only: objects, no files, no refs, no
 * configuration, for tests and fuzzing that make many commits. fl_repo_gitdir
 * is "". *out is the caller's to fl_repo_free.
 */
int fl_repo_new_memory(struct fl_repo **out, struct fl_error *err);

/*
 * Drops every object of a repository made by fl_repo_new_memory, so that one
 * can be reused for many commits without growing. FL_EINPUT for another repository.
 */
int fl_repo_memory_reset(struct fl_repo *repo, struct fl_error *err);

/* One file of fl_repo_commit_files; data need not be NUL-terminated. */
struct fl_repo_file {
	const char *path; /* like "tenants/acme.yaml"; directories are made as needed */
	const char *data;
	size_t len;
};

/*
 * Writes files as the tree of a new commit with no parent, authored by
 * "flotilla <flotilla@localhost>" at time 0, and updates no ref. A path
 * given twice keeps the last. *out gets the commit id. FL_EGIT for a path
 * git refuses (empty, "..", ".git", ...).
 */
int fl_repo_commit_files(struct fl_oid *out, struct fl_repo *repo, const struct fl_repo_file *files,
			 size_t nfiles, const char *message, struct fl_error *err);

/* Resolves a revision (HEAD, a branch, a tag, a short sha, HEAD~2) to a commit. */
int fl_repo_resolve(struct fl_oid *out, struct fl_repo *repo, const char *rev, struct fl_error *err);

/*
 * Appends the file at path (like "tenants/acme.yaml") of commit's tree to out.
 * FL_ENOTFOUND when there is no such file, FL_ELIMIT past out's maximum.
 */
int fl_repo_read_file(struct fl_buf *out, struct fl_repo *repo, const struct fl_oid *commit,
		      const char *path, struct fl_error *err);

/* Appends a blob's content to out; FL_ELIMIT past out's maximum. */
int fl_repo_read_blob(struct fl_buf *out, struct fl_repo *repo, const struct fl_oid *blob,
		      struct fl_error *err);

/*
 * The id of the tree or blob at path in commit ("" is the root tree).
 * FL_ENOTFOUND when the path does not exist.
 */
int fl_repo_path_id(struct fl_oid *out, struct fl_repo *repo, const struct fl_oid *commit,
		    const char *path, struct fl_error *err);

/*
 * Looks up names[0..n) (entry names: not empty, no '/') in directory dir of commit at
 * once: found[i] and ids[i] as fl_repo_path_id would give them for
 * "dir/names[i]". One pass over the directory as git stores it, so a few
 * names in a directory of 100,000 entries cost no parse of it. A missing
 * dir finds nothing and succeeds.
 */
int fl_repo_dir_find(struct fl_repo *repo, const struct fl_oid *commit, const char *dir,
		     const char *const *names, size_t n, struct fl_oid *ids, bool *found, struct fl_error *err);

/* One entry of a directory listing; name is borrowed for the call only. */
struct fl_repo_entry {
	const char *name;
	struct fl_oid id;
	bool is_blob;     /* false for trees, submodules and the like */
};

typedef int (*fl_repo_entry_cb)(const struct fl_repo_entry *entry, void *payload);

/*
 * Calls cb for each entry directly in dir of commit's tree, in git's order
 * (bytewise by name). A missing dir lists nothing and succeeds. A non-zero
 * return from cb stops the walk and is returned.
 */
int fl_repo_list_dir(struct fl_repo *repo, const struct fl_oid *commit, const char *dir,
		     fl_repo_entry_cb cb, void *payload, struct fl_error *err);

/* in_new: path is a file of new (added or modified), not one that left it. */
typedef int (*fl_repo_path_cb)(const char *path, bool in_new, void *payload);

/*
 * Calls cb with each file path (added, deleted, modified or renamed, both
 * names) that differs between the trees of commits old and new. Subtrees with
 * equal ids are skipped without being read.
 */
int fl_repo_changed_paths(struct fl_repo *repo, const struct fl_oid *old, const struct fl_oid *new,
			  fl_repo_path_cb cb, void *payload, struct fl_error *err);

/* True when ancestor is new itself or one of its ancestors. */
int fl_repo_is_ancestor(bool *out, struct fl_repo *repo, const struct fl_oid *ancestor,
			const struct fl_oid *new, struct fl_error *err);

/*
 * Creates a repository in dir (git init; dir may exist) and commits every
 * file in it on the current branch with message. A new repository's branch
 * is main. The author is taken from
 * git configuration, else "flotilla <flotilla@localhost>". *out gets the
 * commit id when out is not NULL.
 */
int fl_repo_init_commit_all(struct fl_oid *out, const char *dir, const char *message,
			    struct fl_error *err);

/* The repository's git directory (".git" of a work tree, or the bare repository), borrowed. */
const char *fl_repo_gitdir(const struct fl_repo *repo);

/* The committer time of a commit, in seconds since the epoch. */
int fl_repo_commit_time(long long *out, struct fl_repo *repo, const struct fl_oid *commit,
			struct fl_error *err);

/*
 * Appends the note of commit under notes_ref (like "refs/notes/flotilla")
 * to out. FL_ENOTFOUND when the commit has no note there.
 */
int fl_repo_note_read(struct fl_buf *out, struct fl_repo *repo, const char *notes_ref,
		      const struct fl_oid *commit, struct fl_error *err);

/*
 * Sets (replacing) the note of commit under notes_ref to text, as a new
 * commit on the notes ref authored like fl_repo_init_commit_all. Readable
 * afterwards with `git notes --ref=<notes_ref> show <commit>`. *out (when
 * out is not NULL) gets the id of that notes commit.
 */
int fl_repo_note_write(struct fl_oid *out, struct fl_repo *repo, const char *notes_ref,
		       const struct fl_oid *commit, const char *text, size_t len, struct fl_error *err);

/*
 * The commit ref (like "refs/notes/flotilla") points to, following
 * symbolic refs: one file or packed-refs lookup, no object read.
 * FL_ENOTFOUND when there is no such ref.
 */
int fl_repo_ref_id(struct fl_oid *out, struct fl_repo *repo, const char *ref, struct fl_error *err);

typedef int (*fl_repo_note_cb)(const struct fl_oid *annotated, void *payload);

/*
 * Calls cb with every commit that has a note under notes_ref, in no
 * particular order. A missing notes ref lists nothing and succeeds. A
 * non-zero return from cb stops the walk and is returned.
 */
int fl_repo_notes_each(struct fl_repo *repo, const char *notes_ref, fl_repo_note_cb cb, void *payload,
		       struct fl_error *err);

/*
 * Serialises flotilla's writers of the refs of the repository at gitdir,
 * across threads and processes: an advisory lock that dies with its holder.
 * fl_repo_note_write takes it; so must any other writer of a notes ref.
 */
int fl_ref_guard_take(int *fd, const char *gitdir, struct fl_error *err);
void fl_ref_guard_drop(int fd);

/*
 * Called holding the guard, after a write of ref (like "refs/notes/flotilla")
 * failed because "<gitdir>/<ref>.lock" exists: waits for a git command's lock
 * to go and removes one left by a killed writer. True when the write should
 * be tried again.
 */
bool fl_ref_lock_clear(const char *gitdir, const char *ref);

/* One tag, borrowed for the callback only. */
struct fl_repo_tag {
	const char *name;         /* without "refs/tags/" */
	struct fl_oid target;     /* the commit it points to, peeled */
	bool annotated;
	long long time;           /* tagger time; 0 for lightweight tags */
	const char *tagger;       /* "Name <email>", or "" */
	const char *message;      /* "" for lightweight tags */
};

typedef int (*fl_repo_tag_cb)(const struct fl_repo_tag *tag, void *payload);

/*
 * Calls cb for every tag whose name starts with prefix ("flotilla/promote/"),
 * annotated or lightweight, that points (after peeling) at a commit; other
 * tags are skipped. A non-zero return from cb stops and is returned.
 */
int fl_repo_tags(struct fl_repo *repo, const char *prefix, fl_repo_tag_cb cb, void *payload,
		 struct fl_error *err);

/*
 * Creates the annotated tag refs/tags/<name> on commit with message; the
 * tagger comes from git configuration, else "flotilla <flotilla@localhost>".
 * FL_EINPUT when the tag exists already (pointing elsewhere); creating a tag
 * that exists on the same commit succeeds and changes nothing.
 */
int fl_repo_tag_create(struct fl_repo *repo, const char *name, const struct fl_oid *commit,
		       const char *message, struct fl_error *err);

/*
 * Commits files (replacing or adding them, as plain files) on top of
 * parent's tree, with parent as the only parent, authored like
 * fl_repo_init_commit_all, and creates the branch refs/heads/<branch> at the new commit. HEAD, the
 * index and any work tree are left alone. FL_EINPUT when the branch exists
 * already or git refuses its name. *out gets the commit id.
 */
int fl_repo_branch_commit(struct fl_oid *out, struct fl_repo *repo, const char *branch,
			  const struct fl_oid *parent, const struct fl_repo_file *files, size_t nfiles,
			  const char *message, struct fl_error *err);

/*
 * Writes every file of commit's tree under dir (which must exist), keeping
 * executable bits and symbolic links; no index, no HEAD change.
 */
int fl_repo_export_tree(struct fl_repo *repo, const struct fl_oid *commit, const char *dir,
			struct fl_error *err);


#endif
