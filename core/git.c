/*
 * Git access with libgit2; see git.h. Files are read straight from the object
 * database, never checked out. A struct fl_repo keeps the trees of the last
 * commit it was asked about, so that reading 100,000 tenant files does not
 * re-parse the commit and its large directories each time. Notes and tags
 * are written here too; neither changes a commit's tree, so the cache stays.
 * Comparing two commits, and looking many names up at once, is in
 * git_diff.c.
 */
#include "core/git.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/git_init.h"
#include "core/git_internal.h"
#include "core/banned.h"

_Static_assert(sizeof(((struct fl_oid *)0)->id) == GIT_OID_RAWSZ, "fl_oid is a SHA-1");

/* See git_internal.h. */
int fl_git_fail(struct fl_error *err, int gerr, const char *fmt, ...)
{
	char what[FL_ERROR_MSG_MAX];
	const git_error *e = git_error_last();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fl_error_set(err, gerr == GIT_ENOTFOUND ? FL_ENOTFOUND : FL_EGIT, "%s: %s", what,
			    e && e->message ? e->message : "unknown error");
}

static int ensure_init(struct fl_error *err)
{
	int rc = fl_git_init();

	if (rc < 0)
		return fl_git_fail(err, rc, "cannot initialise libgit2");
	return 0;
}

void fl_git_to(git_oid *out, const struct fl_oid *oid)
{
	memcpy(out->id, oid->id, sizeof(oid->id));
}

void fl_git_from(struct fl_oid *out, const git_oid *oid)
{
	memcpy(out->id, oid->id, sizeof(out->id));
}

void fl_oid_hex(char out[FL_OID_HEX_LEN + 1], const struct fl_oid *oid)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < sizeof(oid->id); i++) {
		out[2 * i] = digits[oid->id[i] >> 4];
		out[2 * i + 1] = digits[oid->id[i] & 0xf];
	}
	out[FL_OID_HEX_LEN] = '\0';
}

bool fl_oid_equal(const struct fl_oid *a, const struct fl_oid *b)
{
	return memcmp(a->id, b->id, sizeof(a->id)) == 0;
}

/* See git_internal.h. */
size_t fl_git_trim_len(const char *path)
{
	size_t len = strlen(path);

	while (len && path[len - 1] == '/')
		len--;
	return len;
}

/* Forgets the cached trees. */
static void cache_drop(struct fl_repo *repo)
{
	git_tree_free(repo->root);
	repo->root = NULL;
	for (size_t i = 0; i < DIR_CACHE_SIZE; i++) {
		free(repo->dirs[i].path);
		git_tree_free(repo->dirs[i].tree);
		repo->dirs[i].path = NULL;
		repo->dirs[i].tree = NULL;
	}
}

/* A worktree's objects are in the common directory, as are the main repository's. */
static char *objects_dir(git_repository *git)
{
	const char *common = git_repository_commondir(git);
	struct fl_buf dir = FL_BUF_INIT;

	(void)fl_buf_put(&dir, common, fl_git_trim_len(common)); /* no maximum: cannot fail */
	(void)fl_buf_puts(&dir, "/objects");
	return fl_buf_detach(&dir, NULL);
}

int fl_repo_open(struct fl_repo **out, const char *path, struct fl_error *err)
{
	git_repository *git = NULL;
	int rc, grc;

	*out = NULL;
	rc = ensure_init(err);
	if (rc)
		goto out;
	grc = git_repository_open_ext(&git, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (grc == GIT_ENOTFOUND) {
		rc = fl_error_set(err, FL_ENOTFOUND, "'%s' is not a git repository", path);
		goto out;
	}
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot open repository '%s'", path);
		goto out;
	}
	*out = fl_calloc(1, sizeof(**out));
	(*out)->gitdir = fl_strndup(git_repository_path(git), fl_git_trim_len(git_repository_path(git)));
	(*out)->objdir = objects_dir(git);
	(*out)->pair_min = LOOSE_PAIR_MIN;
	(*out)->git = git;
	git = NULL;
out:
	git_repository_free(git);
	return rc;
}

void fl_repo_free(struct fl_repo *repo)
{
	if (!repo)
		return;
	cache_drop(repo);
	fl_git_loose_forget(repo);
	git_repository_free(repo->git);
	free(repo->objdir);
	free(repo->gitdir);
	free(repo);
}

int fl_repo_new_memory(struct fl_repo **out, struct fl_error *err)
{
	git_repository *git = NULL;
	git_odb *odb = NULL;
	git_odb_backend *mempack = NULL;
	int rc, grc;

	*out = NULL;
	rc = ensure_init(err);
	if (rc)
		goto out;
	if ((grc = git_repository_new(&git)) < 0 || (grc = git_odb_new(&odb)) < 0 ||
	    (grc = git_mempack_new(&mempack)) < 0) {
		rc = fl_git_fail(err, grc, "cannot make an in-memory repository");
		goto out;
	}
	/* The object database owns the backend once added. */
	if ((grc = git_odb_add_backend(odb, mempack, 1)) < 0) {
		mempack->free(mempack);
		mempack = NULL;
		rc = fl_git_fail(err, grc, "cannot make an in-memory repository");
		goto out;
	}
	git_repository_set_odb(git, odb);
	*out = fl_calloc(1, sizeof(**out));
	(*out)->gitdir = fl_strdup("");
	(*out)->git = git;
	(*out)->mempack = mempack;
	git = NULL;
out:
	git_odb_free(odb);
	git_repository_free(git);
	return rc;
}

int fl_repo_memory_reset(struct fl_repo *repo, struct fl_error *err)
{
	int grc;

	if (!repo->mempack)
		return fl_error_set(err, FL_EINPUT, "not an in-memory repository");
	cache_drop(repo);
	if ((grc = git_mempack_reset(repo->mempack)) < 0)
		return fl_git_fail(err, grc, "cannot empty an in-memory repository");
	return 0;
}

int fl_repo_commit_files(struct fl_oid *out, struct fl_repo *repo, const struct fl_repo_file *files,
			 size_t nfiles, const char *message, struct fl_error *err)
{
	git_tree_update *updates = fl_calloc(nfiles ? nfiles : 1, sizeof(*updates));
	git_odb *odb = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_oid tree_id, commit_id;
	size_t n = 0;
	int rc = 0, grc;

	if ((grc = git_repository_odb(&odb, repo->git)) < 0) {
		rc = fl_git_fail(err, grc, "cannot open the object database");
		goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		bool later = false;
		/* libgit2 refuses two updates of one path: keep the last. */
		for (size_t j = i + 1; j < nfiles && !later; j++)
			later = strcmp(files[i].path, files[j].path) == 0;
		if (later)
			continue;
		git_tree_update *u = &updates[n++];
		u->action = GIT_TREE_UPDATE_UPSERT;
		u->filemode = GIT_FILEMODE_BLOB;
		u->path = files[i].path;
		if ((grc = git_odb_write(&u->id, odb, files[i].data, files[i].len, GIT_OBJECT_BLOB)) < 0) {
			rc = fl_git_fail(err, grc, "cannot write '%s'", files[i].path);
			goto out;
		}
	}
	if ((grc = git_tree_create_updated(&tree_id, repo->git, NULL, n, updates)) < 0 ||
	    (grc = git_tree_lookup(&tree, repo->git, &tree_id)) < 0) {
		rc = fl_git_fail(err, grc, "cannot write a tree");
		goto out;
	}
	/* A fixed author and time: the same files make the same commit. */
	grc = git_signature_new(&sig, "flotilla", "flotilla@localhost", 0, 0);
	if (grc == 0)
		grc = git_commit_create(&commit_id, repo->git, NULL, sig, sig, NULL, message, tree, 0, NULL);
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot commit");
		goto out;
	}
	fl_git_from(out, &commit_id);
out:
	git_signature_free(sig);
	git_tree_free(tree);
	git_odb_free(odb);
	free(updates);
	return rc;
}

int fl_repo_resolve(struct fl_oid *out, struct fl_repo *repo, const char *rev, struct fl_error *err)
{
	git_object *obj = NULL, *commit = NULL;
	int rc = 0, grc;

	grc = git_revparse_single(&obj, repo->git, rev);
	if (grc == GIT_ENOTFOUND) {
		rc = fl_error_set(err, FL_ENOTFOUND, "unknown revision '%s'", rev);
		goto out;
	}
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot resolve revision '%s'", rev);
		goto out;
	}
	grc = git_object_peel(&commit, obj, GIT_OBJECT_COMMIT);
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "revision '%s' is not a commit", rev);
		goto out;
	}
	fl_git_from(out, git_object_id(commit));
out:
	git_object_free(commit);
	git_object_free(obj);
	return rc;
}

/* See git_internal.h. */
int fl_git_root_tree(git_tree **out, struct fl_repo *repo, const struct fl_oid *commit, struct fl_error *err)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_oid id;
	char hex[FL_OID_HEX_LEN + 1];
	int rc = 0, grc;

	fl_git_to(&id, commit);
	if (repo->root && git_oid_equal(&id, &repo->commit)) {
		*out = repo->root;
		goto out;
	}
	grc = git_commit_lookup(&c, repo->git, &id);
	if (grc < 0) {
		fl_oid_hex(hex, commit);
		rc = fl_git_fail(err, grc, "cannot read commit %s", hex);
		goto out;
	}
	grc = git_commit_tree(&tree, c);
	if (grc < 0) {
		fl_oid_hex(hex, commit);
		rc = fl_git_fail(err, grc, "cannot read the tree of commit %s", hex);
		goto out;
	}
	cache_drop(repo);
	repo->commit = id;
	repo->root = tree;
	tree = NULL;
	*out = repo->root;
out:
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

/*
 * The tree of directory dir (its first len bytes, without a trailing slash)
 * in commit, borrowed from the cache like fl_git_root_tree(); *out is NULL when
 * there is no such directory.
 */
static int dir_tree(git_tree **out, struct fl_repo *repo, const struct fl_oid *commit, const char *dir,
		    size_t len, struct fl_error *err)
{
	git_tree *parent = NULL, *tree = NULL;
	const git_tree_entry *entry;
	struct dir_slot *slot;
	char *name = NULL;
	const char *slash;
	size_t plen;
	git_oid id;
	int rc, grc;

	*out = NULL;
	rc = fl_git_root_tree(&parent, repo, commit, err);
	if (rc || len == 0) {
		*out = parent;
		goto out;
	}
	repo->tick++;
	for (size_t i = 0; i < DIR_CACHE_SIZE; i++) {
		struct dir_slot *s = &repo->dirs[i];
		if (s->path && strlen(s->path) == len && memcmp(s->path, dir, len) == 0) {
			s->used = repo->tick;
			*out = s->tree;
			goto out;
		}
	}

	/* A miss: find the entry in the parent directory, itself cached. */
	for (slash = dir + len; slash > dir && slash[-1] != '/'; slash--)
		;
	plen = slash > dir ? (size_t)(slash - dir) - 1 : 0;
	rc = dir_tree(&parent, repo, commit, dir, plen, err);
	if (rc || !parent)
		goto out;
	name = fl_strndup(slash, len - (size_t)(slash - dir));
	entry = git_tree_entry_byname(parent, name);
	if (!entry || git_tree_entry_type(entry) != GIT_OBJECT_TREE)
		goto out;
	git_oid_cpy(&id, git_tree_entry_id(entry));
	grc = git_tree_lookup(&tree, repo->git, &id);
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot read directory '%.*s'", (int)len, dir);
		goto out;
	}
	/* Evict the least recently used (after the recursion, which also fills slots). */
	slot = &repo->dirs[0];
	for (size_t i = 1; i < DIR_CACHE_SIZE && slot->path; i++) {
		if (!repo->dirs[i].path || repo->dirs[i].used < slot->used)
			slot = &repo->dirs[i];
	}
	free(slot->path);
	git_tree_free(slot->tree);
	slot->path = fl_strndup(dir, len);
	slot->tree = tree;
	slot->used = repo->tick;
	*out = tree;
out:
	free(name);
	return rc;
}

/* See git_internal.h. */
int fl_git_path_entry(const git_tree_entry **out, struct fl_repo *repo, const struct fl_oid *commit,
		      const char *path, size_t len, struct fl_error *err)
{
	git_tree *dir = NULL;
	const char *slash;
	char *name = NULL, hex[FL_OID_HEX_LEN + 1];
	int rc;

	*out = NULL;
	for (slash = path + len; slash > path && slash[-1] != '/'; slash--)
		;
	rc = dir_tree(&dir, repo, commit, path, slash > path ? (size_t)(slash - path) - 1 : 0, err);
	if (rc)
		goto out;
	if (dir) {
		name = fl_strndup(slash, len - (size_t)(slash - path));
		*out = git_tree_entry_byname(dir, name);
	}
	if (!*out) {
		fl_oid_hex(hex, commit);
		rc = fl_error_set(err, FL_ENOTFOUND, "'%s' does not exist in commit %.12s", path, hex);
	}
out:
	free(name);
	return rc;
}

/* Appends blob to out; what names it in the error past out's maximum. */
static int put_blob(struct fl_buf *out, git_blob *blob, const char *what, struct fl_error *err)
{
	git_object_size_t size = git_blob_rawsize(blob);
	size_t room = out->max ? out->max - out->len : SIZE_MAX;

	if (size > room)
		return fl_error_set(err, FL_ELIMIT, "%s is %ju bytes, more than the limit of %zu", what,
				    (uintmax_t)size, room);
	if (fl_buf_put(out, git_blob_rawcontent(blob), (size_t)size))
		return fl_error_set(err, FL_ELIMIT, "%s is %ju bytes, too large", what, (uintmax_t)size);
	return 0;
}

/* Appends the blob named id to out; what names it in errors, like "'fleet.yaml'". */
static int read_blob(struct fl_buf *out, struct fl_repo *repo, const git_oid *id, const char *what,
		     struct fl_error *err)
{
	git_blob *blob = NULL;
	int rc, grc;

	grc = git_blob_lookup(&blob, repo->git, id);
	if (grc < 0)
		return fl_git_fail(err, grc, "cannot read %s", what);
	rc = put_blob(out, blob, what, err);
	git_blob_free(blob);
	return rc;
}

int fl_repo_read_file(struct fl_buf *out, struct fl_repo *repo, const struct fl_oid *commit, const char *path,
		      struct fl_error *err)
{
	const git_tree_entry *entry = NULL;
	char what[FL_ERROR_MSG_MAX];
	int rc;

	rc = fl_git_path_entry(&entry, repo, commit, path, strlen(path), err);
	if (rc)
		return rc;
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB)
		return fl_error_set(err, FL_ENOTFOUND, "'%s' is not a file", path);
	snprintf(what, sizeof(what), "'%s'", path);
	return read_blob(out, repo, git_tree_entry_id(entry), what, err);
}

int fl_repo_read_blob(struct fl_buf *out, struct fl_repo *repo, const struct fl_oid *blob,
		      struct fl_error *err)
{
	git_oid id;
	char what[FL_OID_HEX_LEN + 8] = "blob ";

	/* Not snprintf: a fleet's load reads every manifest through here. */
	fl_git_to(&id, blob);
	fl_oid_hex(what + 5, blob);
	return read_blob(out, repo, &id, what, err);
}

int fl_repo_path_id(struct fl_oid *out, struct fl_repo *repo, const struct fl_oid *commit, const char *path,
		    struct fl_error *err)
{
	const git_tree_entry *entry = NULL;
	git_tree *root = NULL;
	size_t len = fl_git_trim_len(path);
	int rc;

	if (len == 0) {
		rc = fl_git_root_tree(&root, repo, commit, err);
		if (!rc)
			fl_git_from(out, git_tree_id(root));
		return rc;
	}
	rc = fl_git_path_entry(&entry, repo, commit, path, len, err);
	if (!rc)
		fl_git_from(out, git_tree_entry_id(entry));
	return rc;
}

int fl_repo_list_dir(struct fl_repo *repo, const struct fl_oid *commit, const char *dir, fl_repo_entry_cb cb,
		     void *payload, struct fl_error *err)
{
	git_tree *cached = NULL, *tree = NULL;
	struct fl_repo_entry e;
	size_t n, len = fl_git_trim_len(dir);
	int rc;

	/* Raw, as a comparison reads it: no array of 100,000 parsed entries for tenants/. */
	if (len > 0 && (rc = fl_git_list_raw(repo, commit, dir, len, cb, payload, err)) != 1)
		return rc;
	rc = dir_tree(&cached, repo, commit, dir, len, err);
	if (rc || !cached)
		goto out;
	/* Our own reference: cb may look up other paths and evict the cached tree. */
	if (git_tree_dup(&tree, cached) < 0) {
		rc = fl_git_fail(err, -1, "cannot list '%s'", dir);
		goto out;
	}
	n = git_tree_entrycount(tree);
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(tree, i);
		e.name = git_tree_entry_name(te);
		fl_git_from(&e.id, git_tree_entry_id(te));
		e.is_blob = git_tree_entry_type(te) == GIT_OBJECT_BLOB;
		rc = cb(&e, payload);
		if (rc)
			goto out;
	}
out:
	git_tree_free(tree);
	return rc;
}

int fl_repo_is_ancestor(bool *out, struct fl_repo *repo, const struct fl_oid *ancestor,
			const struct fl_oid *newer, struct fl_error *err)
{
	git_oid a, n;
	char ahex[FL_OID_HEX_LEN + 1], nhex[FL_OID_HEX_LEN + 1];
	int rc = 0, grc;

	*out = false;
	if (fl_oid_equal(ancestor, newer)) {
		*out = true;
		goto out;
	}
	fl_git_to(&a, ancestor);
	fl_git_to(&n, newer);
	grc = git_graph_descendant_of(repo->git, &n, &a);
	if (grc < 0) {
		fl_oid_hex(ahex, ancestor);
		fl_oid_hex(nhex, newer);
		rc = fl_git_fail(err, grc, "cannot tell whether %.12s is an ancestor of %.12s", ahex, nhex);
		goto out;
	}
	*out = grc == 1;
out:
	return rc;
}

/*
 * The author, committer or tagger for now: user.name and user.email from git
 * configuration, else flotilla's own. *out is the caller's to free.
 */
static int signature_now(git_signature **out, git_repository *git, struct fl_error *err)
{
	int grc = git_signature_default(out, git);

	if (grc == GIT_ENOTFOUND)
		grc = git_signature_now(out, "flotilla", "flotilla@localhost");
	if (grc < 0)
		return fl_git_fail(err, grc, "cannot make a signature");
	return 0;
}

int fl_repo_init_commit_all(struct fl_oid *out, const char *dir, const char *message, struct fl_error *err)
{
	git_repository *git = NULL;
	git_index *index = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_commit *parent = NULL;
	char all[] = "*";
	char *patterns[] = { all };
	git_strarray pathspec = { patterns, 1 };
	git_oid tree_id, parent_id, commit_id;
	int rc, grc;

	rc = ensure_init(err);
	if (rc)
		goto out;
	/* The branch the README and the CI templates name, whatever init.defaultBranch says. */
	git_repository_init_options init_opts;
	git_repository_init_options_init(&init_opts, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	init_opts.flags = GIT_REPOSITORY_INIT_MKPATH;
	init_opts.initial_head = "main";
	if ((grc = git_repository_init_ext(&git, dir, &init_opts)) < 0) {
		rc = fl_git_fail(err, grc, "cannot create a repository in '%s'", dir);
		goto out;
	}
	if ((grc = git_repository_index(&index, git)) < 0 ||
	    (grc = git_index_add_all(index, &pathspec, GIT_INDEX_ADD_DEFAULT, NULL, NULL)) < 0 ||
	    (grc = git_index_write(index)) < 0 || (grc = git_index_write_tree(&tree_id, index)) < 0 ||
	    (grc = git_tree_lookup(&tree, git, &tree_id)) < 0) {
		rc = fl_git_fail(err, grc, "cannot add the files of '%s'", dir);
		goto out;
	}
	rc = signature_now(&sig, git, err);
	if (rc)
		goto out;
	/* HEAD is unborn in a new repository; else the commit goes on top of it. */
	grc = git_reference_name_to_id(&parent_id, git, "HEAD");
	if (grc == 0)
		grc = git_commit_lookup(&parent, git, &parent_id);
	else if (grc == GIT_ENOTFOUND || grc == GIT_EUNBORNBRANCH)
		grc = 0;
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot read HEAD in '%s'", dir);
		goto out;
	}
	grc = git_commit_create_v(&commit_id, git, "HEAD", sig, sig, NULL, message, tree, parent ? 1 : 0,
				  parent);
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot commit in '%s'", dir);
		goto out;
	}
	if (out)
		fl_git_from(out, &commit_id);
out:
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	git_index_free(index);
	git_repository_free(git);
	return rc;
}

const char *fl_repo_gitdir(const struct fl_repo *repo)
{
	return repo->gitdir;
}

int fl_repo_commit_time(long long *out, struct fl_repo *repo, const struct fl_oid *commit,
			struct fl_error *err)
{
	git_commit *c = NULL;
	git_oid id;
	char hex[FL_OID_HEX_LEN + 1];
	int rc = 0, grc;

	*out = 0;
	fl_git_to(&id, commit);
	grc = git_commit_lookup(&c, repo->git, &id);
	if (grc < 0) {
		fl_oid_hex(hex, commit);
		rc = fl_git_fail(err, grc, "cannot read commit %s", hex);
		goto out;
	}
	*out = (long long)git_commit_time(c);
out:
	git_commit_free(c);
	return rc;
}

int fl_repo_note_read(struct fl_buf *out, struct fl_repo *repo, const char *notes_ref,
		      const struct fl_oid *commit, struct fl_error *err)
{
	git_note *note = NULL;
	git_blob *blob = NULL;
	git_oid id;
	char hex[FL_OID_HEX_LEN + 1], what[FL_ERROR_MSG_MAX];
	int rc = 0, grc;

	fl_git_to(&id, commit);
	fl_oid_hex(hex, commit);
	grc = git_note_read(&note, repo->git, notes_ref, &id);
	if (grc == GIT_ENOTFOUND) {
		rc = fl_error_set(err, FL_ENOTFOUND, "commit %.12s has no note in '%s'", hex, notes_ref);
		goto out;
	}
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot read the note of commit %.12s in '%s'", hex, notes_ref);
		goto out;
	}
	/* The blob rather than git_note_message(): its exact bytes, under out's limit. */
	grc = git_blob_lookup(&blob, repo->git, git_note_id(note));
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot read the note of commit %.12s in '%s'", hex, notes_ref);
		goto out;
	}
	snprintf(what, sizeof(what), "the note of commit %.12s", hex);
	rc = put_blob(out, blob, what, err);
out:
	git_blob_free(blob);
	git_note_free(note);
	return rc;
}

/*
 * flotilla's writers of refs (threads and processes: apply, watch, the
 * notes merge) take <gitdir>/flotilla-refs.lock first. Holding it, a
 * "<ref>.lock" in the way belongs either to a plain git command, which
 * holds it for milliseconds, or to a flotilla killed mid-write, which
 * would block every later write for good. So the lock file is waited for,
 * and one that stays REF_LOCK_WAIT_MS unchanged is a leftover: removed.
 */
#define REF_LOCK_WAIT_MS 2000
#define REF_LOCK_POLL_MS 10

int fl_ref_guard_take(int *fd, const char *gitdir, struct fl_error *err)
{
	char path[PATH_MAX];
	size_t len = strlen(gitdir);
	const char *sep = len && gitdir[len - 1] == '/' ? "" : "/";

	*fd = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s%sflotilla-refs.lock", gitdir, sep) >= sizeof(path))
		return fl_error_set(err, FL_EIO, "git directory path too long: '%s'", gitdir);
	return fl_file_lock(fd, path, err);
}

void fl_ref_guard_drop(int fd)
{
	fl_file_unlock(fd);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

bool fl_ref_lock_clear(const char *gitdir, const char *ref)
{
	char path[PATH_MAX];
	size_t len = strlen(gitdir);
	const char *sep = len && gitdir[len - 1] == '/' ? "" : "/";
	struct stat first, now;
	const struct timespec poll = { 0, REF_LOCK_POLL_MS * 1000000L };

	if ((size_t)snprintf(path, sizeof(path), "%s%s%s.lock", gitdir, sep, ref) >= sizeof(path))
		return false;
	if (stat(path, &first) != 0)
		return errno == ENOENT; /* gone already: try again */
	for (int waited = 0; waited < REF_LOCK_WAIT_MS; waited += REF_LOCK_POLL_MS) {
		nanosleep(&poll, NULL);
		if (stat(path, &now) != 0)
			return errno == ENOENT;
		if (!same_file(&first, &now))
			first = now; /* another git command took it since: wait for that one */
	}
	return unlink(path) == 0 || errno == ENOENT;
}

int fl_repo_ref_id(struct fl_oid *out, struct fl_repo *repo, const char *ref, struct fl_error *err)
{
	git_oid id;
	int grc = git_reference_name_to_id(&id, repo->git, ref);

	if (grc == GIT_ENOTFOUND)
		return fl_error_set(err, FL_ENOTFOUND, "no ref '%s'", ref);
	if (grc < 0)
		return fl_git_fail(err, grc, "cannot read '%s'", ref);
	fl_git_from(out, &id);
	return 0;
}

/*
 * One commit on notes_ref with note as id's note: the ref's current
 * commit is its parent, and the ref moves to it only from there. Done by
 * hand rather than by git_note_create, which does not tell the commit
 * it made: the caller learns exactly which commit holds its note.
 */
static int note_commit(git_oid *out, git_repository *git, const char *notes_ref, const git_signature *sig,
		       const git_oid *id, const char *note)
{
	git_commit *parent = NULL;
	git_reference *ref = NULL;
	git_oid tip, blob;
	int grc = git_reference_name_to_id(&tip, git, notes_ref);
	bool first = grc == GIT_ENOTFOUND;

	if (!first && (grc < 0 || (grc = git_commit_lookup(&parent, git, &tip)) < 0))
		goto out;
	grc = git_note_commit_create(out, &blob, git, parent, sig, sig, id, note, 1);
	if (grc < 0)
		goto out;
	/* A first commit only where there is no ref yet; else only over the tip it was made on. */
	grc = git_reference_create_matching(&ref, git, notes_ref, out, !first, first ? NULL : &tip,
					    "notes: Notes added by flotilla");
out:
	git_reference_free(ref);
	git_commit_free(parent);
	return grc;
}

int fl_repo_note_write(struct fl_oid *out, struct fl_repo *repo, const char *notes_ref,
		       const struct fl_oid *commit, const char *text, size_t len, struct fl_error *err)
{
	git_signature *sig = NULL;
	git_oid id, notes_commit;
	char hex[FL_OID_HEX_LEN + 1];
	char *note = NULL;
	int rc, grc, guard;

	fl_git_to(&id, commit);
	fl_oid_hex(hex, commit);
	/* libgit2 takes the note as a C string. */
	if (memchr(text, '\0', len)) {
		rc = fl_error_set(err, FL_EINPUT, "the note of commit %.12s contains a NUL byte", hex);
		goto out;
	}
	note = fl_strndup(text, len);
	rc = signature_now(&sig, repo->git, err);
	if (rc)
		goto out;
	/*
	 * One blob, one tree per fanout level and one commit, on top of the
	 * notes ref's current commit; the ref moves only if nobody else moved it.
	 */
	if ((rc = fl_ref_guard_take(&guard, repo->gitdir, err)))
		goto out;
	grc = note_commit(&notes_commit, repo->git, notes_ref, sig, &id, note);
	if (grc == GIT_ELOCKED && fl_ref_lock_clear(repo->gitdir, notes_ref))
		grc = note_commit(&notes_commit, repo->git, notes_ref, sig, &id, note);
	fl_ref_guard_drop(guard);
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot write the note of commit %.12s in '%s'", hex, notes_ref);
		goto out;
	}
	if (out)
		fl_git_from(out, &notes_commit);
out:
	git_signature_free(sig);
	free(note);
	return rc;
}

/*
 * Calls cb for the tag ref (named refs/tags/...) if it points, peeled, at a
 * commit; returns cb's value or an error.
 */
static int report_tag(struct fl_repo *repo, git_reference *ref, fl_repo_tag_cb cb, void *payload,
		      struct fl_error *err)
{
	git_reference *direct = NULL;
	git_object *obj = NULL, *peeled = NULL;
	struct fl_buf tagger = FL_BUF_INIT;
	struct fl_repo_tag t = { 0 };
	const git_object *target;
	int rc = 0, grc;

	t.name = git_reference_name(ref) + strlen("refs/tags/");
	t.tagger = "";
	t.message = "";
	if ((grc = git_reference_resolve(&direct, ref)) < 0 ||
	    (grc = git_object_lookup(&obj, repo->git, git_reference_target(direct), GIT_OBJECT_ANY)) < 0) {
		rc = fl_git_fail(err, grc, "cannot read tag '%s'", t.name);
		goto out;
	}
	target = obj;
	if (git_object_type(obj) == GIT_OBJECT_TAG) {
		const git_tag *tag = (const git_tag *)obj;
		const git_signature *who = git_tag_tagger(tag);

		t.annotated = true;
		if (who) {
			/* tagger has no maximum, so printing cannot fail */
			(void)fl_buf_printf(&tagger, "%s <%s>", who->name, who->email);
			t.tagger = tagger.ptr;
			t.time = (long long)who->when.time;
		}
		if (git_tag_message(tag))
			t.message = git_tag_message(tag);
		grc = git_tag_peel(&peeled, tag);
		if (grc < 0) {
			rc = fl_git_fail(err, grc, "cannot read what tag '%s' points at", t.name);
			goto out;
		}
		target = peeled;
	}
	if (git_object_type(target) != GIT_OBJECT_COMMIT)
		goto out;
	fl_git_from(&t.target, git_object_id(target));
	rc = cb(&t, payload);
out:
	fl_buf_release(&tagger);
	git_object_free(peeled);
	git_object_free(obj);
	git_reference_free(direct);
	return rc;
}

int fl_repo_tags(struct fl_repo *repo, const char *prefix, fl_repo_tag_cb cb, void *payload,
		 struct fl_error *err)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	struct fl_buf glob = FL_BUF_INIT;
	size_t plen = strlen(prefix), skip = strlen("refs/tags/");
	int rc = 0, grc;

	/*
	 * The glob narrows the loose refs read to the prefix's directory; a
	 * prefix with glob characters of its own is matched by hand only.
	 */
	(void)fl_buf_printf(&glob, "refs/tags/%s*", strpbrk(prefix, "*?[\\") ? "" : prefix);
	grc = git_reference_iterator_glob_new(&it, repo->git, glob.ptr);
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot list the tags");
		goto out;
	}
	while ((grc = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);

		if (strncmp(name, "refs/tags/", skip) == 0 && strncmp(name + skip, prefix, plen) == 0)
			rc = report_tag(repo, ref, cb, payload, err);
		git_reference_free(ref);
		ref = NULL;
		if (rc)
			goto out;
	}
	if (grc != GIT_ITEROVER)
		rc = fl_git_fail(err, grc, "cannot list the tags");
out:
	git_reference_iterator_free(it);
	fl_buf_release(&glob);
	return rc;
}

int fl_repo_tag_create(struct fl_repo *repo, const char *name, const struct fl_oid *commit,
		       const char *message, struct fl_error *err)
{
	git_reference *ref = NULL;
	git_object *target = NULL, *existing = NULL;
	git_signature *sig = NULL;
	git_buf msg = GIT_BUF_INIT;
	struct fl_buf refname = FL_BUF_INIT;
	git_oid id, tag_id;
	char hex[FL_OID_HEX_LEN + 1], ehex[GIT_OID_HEXSZ + 1];
	int rc = 0, grc;

	fl_git_to(&id, commit);
	fl_oid_hex(hex, commit);
	(void)fl_buf_printf(&refname, "refs/tags/%s", name);
	grc = git_reference_lookup(&ref, repo->git, refname.ptr);
	if (grc == GIT_EINVALIDSPEC) {
		rc = fl_error_set(err, FL_EINPUT, "invalid tag name '%s'", name);
		goto out;
	}
	if (grc == 0) {
		/* Promoting twice is harmless; promoting another commit under the name is not. */
		grc = git_reference_peel(&existing, ref, GIT_OBJECT_COMMIT);
		if (grc == 0 && git_oid_equal(git_object_id(existing), &id))
			goto out;
		if (grc == 0)
			git_oid_tostr(ehex, sizeof(ehex), git_object_id(existing));
		rc = fl_error_set(err, FL_EINPUT, "tag '%s' exists already%s%.12s", name,
				  grc == 0 ? " on commit " : "", grc == 0 ? ehex : "");
		goto out;
	}
	if (grc != GIT_ENOTFOUND) {
		rc = fl_git_fail(err, grc, "cannot read tag '%s'", name);
		goto out;
	}
	grc = git_object_lookup(&target, repo->git, &id, GIT_OBJECT_COMMIT);
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot read commit %s", hex);
		goto out;
	}
	rc = signature_now(&sig, repo->git, err);
	if (rc)
		goto out;
	/* Like `git tag -m`: surrounding blank lines dropped, one final newline. */
	grc = git_message_prettify(&msg, message, 0, 0);
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot tag commit %.12s as '%s'", hex, name);
		goto out;
	}
	grc = git_tag_create(&tag_id, repo->git, name, target, sig, msg.ptr, 0);
	if (grc == GIT_EEXISTS || grc == GIT_EINVALIDSPEC) {
		rc = fl_error_set(err, FL_EINPUT,
				  grc == GIT_EEXISTS ? "tag '%s' exists already" : "invalid tag name '%s'",
				  name);
		goto out;
	}
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot tag commit %.12s as '%s'", hex, name);
		goto out;
	}
out:
	fl_buf_release(&refname);
	git_buf_dispose(&msg);
	git_signature_free(sig);
	git_object_free(existing);
	git_object_free(target);
	git_reference_free(ref);
	return rc;
}

struct notes_walk {
	fl_repo_note_cb cb;
	void *payload;
	int rc; /* the callback's, kept apart: its codes overlap libgit2's */
};

static int each_note(const git_oid *blob_id, const git_oid *annotated, void *payload)
{
	struct notes_walk *w = payload;
	struct fl_oid id;
	(void)blob_id;
	fl_git_from(&id, annotated);
	w->rc = w->cb(&id, w->payload);
	return w->rc ? 1 : 0;
}

int fl_repo_notes_each(struct fl_repo *repo, const char *notes_ref, fl_repo_note_cb cb, void *payload,
		       struct fl_error *err)
{
	struct notes_walk w = { cb, payload, 0 };
	git_reference *ref = NULL;
	int grc = git_reference_lookup(&ref, repo->git, notes_ref);
	git_reference_free(ref);
	if (grc == GIT_ENOTFOUND)
		return 0;
	if (grc == 0)
		grc = git_note_foreach(repo->git, notes_ref, each_note, &w);
	if (w.rc)
		return w.rc;
	if (grc < 0)
		return fl_git_fail(err, grc, "cannot list the notes in '%s'", notes_ref);
	return 0;
}

/* The tree of parent with files upserted, into *out. */
static int updated_tree(git_tree **out, struct fl_repo *repo, const struct fl_oid *parent,
			const struct fl_repo_file *files, size_t nfiles, struct fl_error *err)
{
	git_tree_update *updates = fl_calloc(nfiles ? nfiles : 1, sizeof(*updates));
	git_commit *commit = NULL;
	git_tree *base = NULL;
	git_oid id;
	int rc = 0, grc;

	fl_git_to(&id, parent);
	if ((grc = git_commit_lookup(&commit, repo->git, &id)) < 0 || (grc = git_commit_tree(&base, commit)) < 0) {
		rc = fl_git_fail(err, grc, "cannot read the parent commit");
		goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		updates[i].action = GIT_TREE_UPDATE_UPSERT;
		updates[i].filemode = GIT_FILEMODE_BLOB;
		updates[i].path = files[i].path;
		if ((grc = git_blob_create_from_buffer(&updates[i].id, repo->git, files[i].data, files[i].len)) < 0) {
			rc = fl_git_fail(err, grc, "cannot write '%s'", files[i].path);
			goto out;
		}
	}
	if ((grc = git_tree_create_updated(&id, repo->git, base, nfiles, updates)) < 0 ||
	    (grc = git_tree_lookup(out, repo->git, &id)) < 0)
		rc = fl_git_fail(err, grc, "cannot write a tree");
out:
	git_tree_free(base);
	git_commit_free(commit);
	free(updates);
	return rc;
}

int fl_repo_branch_commit(struct fl_oid *out, struct fl_repo *repo, const char *branch,
			  const struct fl_oid *parent, const struct fl_repo_file *files, size_t nfiles,
			  const char *message, struct fl_error *err)
{
	git_tree *tree = NULL;
	git_commit *parent_commit = NULL;
	git_signature *sig = NULL;
	git_reference *ref = NULL;
	struct fl_buf refname = FL_BUF_INIT;
	git_oid parent_id, commit_id;
	int rc, grc;

	(void)fl_buf_printf(&refname, "refs/heads/%s", branch);
	int valid = 0;
	if (git_reference_name_is_valid(&valid, refname.ptr) < 0 || !valid) {
		rc = fl_error_set(err, FL_EINPUT, "invalid branch name '%s'", branch);
		goto out;
	}
	fl_git_to(&parent_id, parent);
	if ((rc = updated_tree(&tree, repo, parent, files, nfiles, err)) ||
	    (rc = signature_now(&sig, repo->git, err)))
		goto out;
	if ((grc = git_commit_lookup(&parent_commit, repo->git, &parent_id)) < 0 ||
	    (grc = git_commit_create_v(&commit_id, repo->git, NULL, sig, sig, NULL, message, tree, 1,
				       parent_commit)) < 0) {
		rc = fl_git_fail(err, grc, "cannot commit on branch '%s'", branch);
		goto out;
	}
	/* force 0: a branch of the same name is never moved, whoever made it. */
	grc = git_reference_create(&ref, repo->git, refname.ptr, &commit_id, 0, message);
	if (grc == GIT_EEXISTS) {
		rc = fl_error_set(err, FL_EINPUT, "branch '%s' exists already", branch);
		goto out;
	}
	if (grc < 0) {
		rc = fl_git_fail(err, grc, "cannot create branch '%s'", branch);
		goto out;
	}
	fl_git_from(out, &commit_id);
out:
	fl_buf_release(&refname);
	git_reference_free(ref);
	git_signature_free(sig);
	git_commit_free(parent_commit);
	git_tree_free(tree);
	return rc;
}

/* State of an export: where files go. */
struct exporter {
	git_repository *git;
	struct fl_buf path; /* the directory being written, then an entry in it */
	struct fl_error *err;
};

static int export_tree(struct exporter *x, const git_tree *tree);

/* A name safe to create in a directory: not empty, no slash, not ".", "..", ".git". */
static bool safe_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
	       strcasecmp(name, ".git") != 0;
}

static int export_io_error(struct exporter *x, const char *what)
{
	return fl_error_set(x->err, FL_EIO, "cannot %s '%s': %s", what, x->path.ptr, strerror(errno));
}

/* Creates the directory x->path, or accepts an existing one that is not a link. */
static int export_mkdir(struct exporter *x)
{
	struct stat st;

	if (mkdir(x->path.ptr, 0777) == 0)
		return 0;
	if (errno != EEXIST)
		return export_io_error(x, "create directory");
	if (lstat(x->path.ptr, &st) != 0)
		return export_io_error(x, "inspect");
	if (!S_ISDIR(st.st_mode))
		return fl_error_set(x->err, FL_EIO, "cannot create directory '%s': something else is there",
				    x->path.ptr);
	return 0;
}

/* Removes a file or link at x->path, so that what replaces it is created afresh. */
static int export_unlink(struct exporter *x)
{
	if (unlink(x->path.ptr) != 0 && errno != ENOENT)
		return export_io_error(x, "replace");
	return 0;
}

/* Writes blob to the new file x->path, with mode (less the umask, as git does). */
static int export_file(struct exporter *x, const git_blob *blob, mode_t mode)
{
	const char *p = git_blob_rawcontent(blob);
	size_t left = (size_t)git_blob_rawsize(blob);
	int fd, rc;

	rc = export_unlink(x);
	if (rc)
		return rc;
	/* O_EXCL and O_NOFOLLOW: never write through a link or into a file we did not create. */
	fd = open(x->path.ptr, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return export_io_error(x, "create");
	while (left) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = export_io_error(x, "write");
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	if (close(fd) != 0 && !rc)
		rc = export_io_error(x, "write");
	return rc;
}

/* Makes x->path a symbolic link to the blob's content. */
static int export_link(struct exporter *x, const git_blob *blob)
{
	size_t len = (size_t)git_blob_rawsize(blob);
	char *target;
	int rc;

	if (len == 0 || memchr(git_blob_rawcontent(blob), '\0', len))
		return fl_error_set(x->err, FL_EINPUT, "symbolic link '%s' has a bad target", x->path.ptr);
	rc = export_unlink(x);
	if (rc)
		return rc;
	target = fl_strndup(git_blob_rawcontent(blob), len);
	if (symlink(target, x->path.ptr) != 0)
		rc = export_io_error(x, "create link");
	free(target);
	return rc;
}

/* Writes one entry of the directory in x->path (which ends in a slash). */
static int export_entry(struct exporter *x, const git_tree_entry *e)
{
	git_object *obj = NULL;
	git_filemode_t mode = git_tree_entry_filemode(e);
	const char *name = git_tree_entry_name(e);
	int rc = 0, grc;

	if (!safe_name(name)) {
		rc = fl_error_set(x->err, FL_EINPUT, "refusing to export '%s%s': unsafe name", x->path.ptr,
				  name);
		goto out;
	}
	/* x->path has no maximum, so appending cannot fail. */
	(void)fl_buf_puts(&x->path, name);
	/* A submodule is a commit of another repository: nothing to write, like an uninitialised one. */
	if (mode == GIT_FILEMODE_COMMIT || mode == GIT_FILEMODE_UNREADABLE)
		goto out;
	grc = git_tree_entry_to_object(&obj, x->git, e);
	if (grc < 0) {
		rc = fl_git_fail(x->err, grc, "cannot read the object for '%s'", x->path.ptr);
		goto out;
	}
	if (mode == GIT_FILEMODE_TREE) {
		rc = export_mkdir(x);
		if (rc)
			goto out;
		(void)fl_buf_putc(&x->path, '/');
		rc = export_tree(x, (const git_tree *)obj);
	} else if (mode == GIT_FILEMODE_LINK) {
		rc = export_link(x, (const git_blob *)obj);
	} else {
		rc = export_file(x, (const git_blob *)obj,
				 mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
	}
out:
	git_object_free(obj);
	return rc;
}

/* Writes the entries of tree into x->path, a directory ending in a slash. */
static int export_tree(struct exporter *x, const git_tree *tree)
{
	size_t keep = x->path.len, n = git_tree_entrycount(tree);
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		rc = export_entry(x, git_tree_entry_byindex(tree, i));
		fl_buf_truncate(&x->path, keep);
	}
	return rc;
}

int fl_repo_export_tree(struct fl_repo *repo, const struct fl_oid *commit, const char *dir,
			struct fl_error *err)
{
	struct exporter x = { repo->git, FL_BUF_INIT, err };
	git_tree *cached = NULL, *tree = NULL;
	int rc;

	rc = fl_git_root_tree(&cached, repo, commit, err);
	if (rc)
		goto out;
	/* Our own reference, so the walk does not depend on the cache. */
	if (git_tree_dup(&tree, cached) < 0) {
		rc = fl_git_fail(err, -1, "cannot export to '%s'", dir);
		goto out;
	}
	/* Files go to "<dir>/<path>"; "/" stays "/". */
	(void)fl_buf_put(&x.path, dir, fl_git_trim_len(dir));
	(void)fl_buf_putc(&x.path, '/');
	rc = export_tree(&x, tree);
out:
	fl_buf_release(&x.path);
	git_tree_free(tree);
	return rc;
}
