/*
 * Comparing commits without checking them out (see git.h): the files that
 * differ between two commits (fl_repo_changed_paths), walked over the trees
 * as git stores them, and many names looked up in one directory at once
 * (fl_repo_dir_find). A pull request's preview of one tenant in a fleet of
 * 100,000 comes through here, so neither parses a large directory.
 */
#include "core/git.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/git_internal.h"
#include "core/banned.h"

/* State of a walk over two trees: the repository, the path so far, the callback. */
struct walk {
	struct fl_repo *repo;
	struct fl_buf path;
	fl_repo_path_cb cb;
	void *payload;
	struct fl_error *err;
};

/* Compares entries in git's tree order: a tree's name sorts as if it ended in '/'. */
static int entry_cmp(const git_tree_entry *a, const git_tree_entry *b)
{
	const char *an = git_tree_entry_name(a), *bn = git_tree_entry_name(b);
	size_t al = strlen(an), bl = strlen(bn), n = al < bl ? al : bl;
	int c = memcmp(an, bn, n);
	unsigned char ac, bc;

	if (c)
		return c;
	ac = al > n ? (unsigned char)an[n] : git_tree_entry_type(a) == GIT_OBJECT_TREE ? '/' : 0;
	bc = bl > n ? (unsigned char)bn[n] : git_tree_entry_type(b) == GIT_OBJECT_TREE ? '/' : 0;
	return (ac > bc) - (ac < bc);
}

static int walk_trees(struct walk *w, git_tree *old, git_tree *newer);

/*
 * Reports the path of an entry present on one side or changed: a file's path,
 * or every file under a tree (old and newer are the two sides, either NULL).
 */
static int walk_entry(struct walk *w, const git_tree_entry *old, const git_tree_entry *newer)
{
	git_tree *ot = NULL, *nt = NULL;
	const git_tree_entry *any = old ? old : newer;
	size_t keep = w->path.len;
	bool otree = old && git_tree_entry_type(old) == GIT_OBJECT_TREE;
	bool ntree = newer && git_tree_entry_type(newer) == GIT_OBJECT_TREE;
	int rc, grc;

	/* w->path has no maximum, so appending cannot fail. */
	(void)fl_buf_puts(&w->path, git_tree_entry_name(any));
	/* entry_cmp() keeps a tree and a file of the same name apart. */
	assert(!old || !newer || otree == ntree);
	if (!otree && !ntree) {
		rc = w->cb(w->path.ptr, newer != NULL, w->payload);
		goto out;
	}
	if (otree && (grc = git_tree_lookup(&ot, w->repo->git, git_tree_entry_id(old))) < 0) {
		rc = fl_git_fail(w->err, grc, "cannot read directory '%s'", w->path.ptr);
		goto out;
	}
	if (ntree && (grc = git_tree_lookup(&nt, w->repo->git, git_tree_entry_id(newer))) < 0) {
		rc = fl_git_fail(w->err, grc, "cannot read directory '%s'", w->path.ptr);
		goto out;
	}
	(void)fl_buf_putc(&w->path, '/');
	rc = walk_trees(w, ot, nt);
out:
	fl_buf_truncate(&w->path, keep);
	git_tree_free(nt);
	git_tree_free(ot);
	return rc;
}

/*
 * Merges the sorted entries of two trees (either may be NULL), reporting the
 * files that differ; entries with equal ids and modes are skipped unread.
 */
static int walk_trees(struct walk *w, git_tree *old, git_tree *newer)
{
	size_t on = old ? git_tree_entrycount(old) : 0, nn = newer ? git_tree_entrycount(newer) : 0;
	size_t i = 0, j = 0;
	int rc = 0;

	while (!rc && (i < on || j < nn)) {
		const git_tree_entry *o = i < on ? git_tree_entry_byindex(old, i) : NULL;
		const git_tree_entry *n = j < nn ? git_tree_entry_byindex(newer, j) : NULL;
		int c = !o ? 1 : !n ? -1 : entry_cmp(o, n);

		if (c < 0) {
			rc = walk_entry(w, o, NULL);
			i++;
		} else if (c > 0) {
			rc = walk_entry(w, NULL, n);
			j++;
		} else {
			if (!git_oid_equal(git_tree_entry_id(o), git_tree_entry_id(n)) ||
			    git_tree_entry_filemode(o) != git_tree_entry_filemode(n))
				rc = walk_entry(w, o, n);
			i++;
			j++;
		}
	}
	return rc;
}

/*
 * The same walk over trees as git stores them ("<mode> <name>\0<id>"
 * entries), read whole and never parsed into libgit2's arrays: a tenants/
 * tree of 100,000 entries costs one inflate, not a 4 MB array grown by
 * realloc besides. A loose tree is read by git_loose.c (mapped, not read
 * into a buffer of its own first), any other by git_odb_read. A directory
 * with an entry git_tree_lookup would read otherwise (a mode other than
 * git's six, say) goes through the parsed walk above, so the paths
 * reported are the same either way.
 */
struct raw_tree {
	git_odb_object *obj;        /* read by libgit2, or */
	struct fl_git_loose *loose; /* read by git_loose.c */
	const char *p, *end;        /* both NULL when there is no tree */
};

#define RAW_TREE_NONE { NULL, NULL, NULL, NULL }

/* Reads object id into t: 0, or 1 when it is no tree, or libgit2's error. */
static int raw_read(struct raw_tree *t, struct fl_repo *repo, git_odb *odb, const git_oid *id)
{
	size_t size;
	int grc;

	if ((t->loose = fl_git_loose_read(repo, id)) != NULL) {
		if (fl_git_loose_type(t->loose) != GIT_OBJECT_TREE)
			return 1;
		t->p = fl_git_loose_data(t->loose, &size);
	} else {
		if ((grc = git_odb_read(&t->obj, odb, id)) < 0)
			return grc;
		if (git_odb_object_type(t->obj) != GIT_OBJECT_TREE)
			return 1;
		t->p = git_odb_object_data(t->obj);
		size = git_odb_object_size(t->obj);
	}
	t->end = t->p + size;
	return 0;
}

static void raw_release(struct raw_tree *t)
{
	fl_git_loose_unref(t->loose);
	git_odb_object_free(t->obj);
}

struct raw_entry {
	const char *name;  /* NUL-terminated in the object */
	size_t len;
	uint32_t mode;     /* as git_tree_entry_filemode() gives it */
	const git_oid *id;
	bool tree;
};

/* The next entry of t into *e: 1, or 0 at the end, or -1 for an entry the parsed walk should read. */
static int raw_next(struct raw_tree *t, struct raw_entry *e)
{
	const char *p = t->p, *nul;
	uint32_t mode = 0;

	if (p == t->end)
		return 0;
	if (t->end - p > 7 && memcmp(p, "100644 ", 7) == 0) {
		mode = 0100644; /* nearly every entry */
		p += 7;
	} else {
		while (p < t->end && *p >= '0' && *p <= '7' && mode < 01000000)
			mode = mode * 8 + (uint32_t)(*p++ - '0');
		if (p == t->p || p == t->end || *p++ != ' ')
			return -1;
	}
	nul = memchr(p, '\0', (size_t)(t->end - p));
	if (!nul || nul == p || nul - p > UINT16_MAX || t->end - (nul + 1) < GIT_OID_RAWSZ)
		return -1;
	switch (mode) {
	case 040000: case 0100644: case 0100755: case 0120000: case 0160000:
		break;
	case 0100664:
		mode = 0100644;
		break;
	default:
		return -1;
	}
	e->name = p;
	e->len = (size_t)(nul - p);
	e->mode = mode;
	e->id = (const git_oid *)(const void *)(nul + 1);
	e->tree = mode == 040000;
	t->p = nul + 1 + GIT_OID_RAWSZ;
	return 1;
}

/* Reads tree id into t: 0, or 1 when it is no tree (git_tree_lookup then says so), or an error. */
static int raw_open(struct raw_tree *t, git_odb *odb, const git_oid *id, struct walk *w)
{
	int rc = raw_read(t, w->repo, odb, id);

	if (rc < 0)
		return fl_git_fail(w->err, rc, "cannot read directory '%s'", w->path.ptr);
	return rc;
}

static int raw_cmp(const struct raw_entry *a, const struct raw_entry *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->name, b->name, n);
	unsigned char ac, bc;

	if (c)
		return c;
	ac = a->len > n ? (unsigned char)a->name[n] : a->tree ? '/' : 0;
	bc = b->len > n ? (unsigned char)b->name[n] : b->tree ? '/' : 0;
	return (ac > bc) - (ac < bc);
}

static int raw_dirs(struct walk *w, git_odb *odb, const git_oid *old, const git_oid *newer);

/* Like walk_entry, for raw entries. */
static int raw_entry_walk(struct walk *w, git_odb *odb, const struct raw_entry *old,
			  const struct raw_entry *newer)
{
	const struct raw_entry *any = old ? old : newer;
	size_t keep = w->path.len;
	bool otree = old && old->tree, ntree = newer && newer->tree;
	int rc;

	(void)fl_buf_put(&w->path, any->name, any->len);
	assert(!old || !newer || otree == ntree);
	if (!otree && !ntree)
		rc = w->cb(w->path.ptr, newer != NULL, w->payload);
	else
		rc = raw_dirs(w, odb, otree ? old->id : NULL, ntree ? newer->id : NULL);
	fl_buf_truncate(&w->path, keep);
	return rc;
}

/* A difference raw_walk found: entries of old and newer (either absent). */
struct raw_diff {
	struct raw_entry o, n;
	bool has_o, has_n;
};

/*
 * Like walk_trees, for raw trees; *odd when an entry is one for the parsed
 * walk, and nothing was reported then: differences are reported only once
 * both trees were read through.
 */
static int raw_walk(struct walk *w, git_odb *odb, struct raw_tree *old, struct raw_tree *newer, bool *odd)
{
	struct raw_entry o, n;
	struct raw_diff *diffs = NULL;
	size_t ndiffs = 0, cap = 0;
	int rc = 0;

	memset(&o, 0, sizeof(o));
	memset(&n, 0, sizeof(n));
	int ho = old->p ? raw_next(old, &o) : 0, hn = newer->p ? raw_next(newer, &n) : 0;

	while (ho > 0 || hn > 0) {
		int c = ho <= 0 ? 1 : hn <= 0 ? -1 : raw_cmp(&o, &n);

		if (c != 0 || !git_oid_equal(o.id, n.id) || o.mode != n.mode) {
			FL_GROW(diffs, cap, ndiffs + 1);
			diffs[ndiffs++] = (struct raw_diff){ o, n, c <= 0, c >= 0 };
		}
		if (c <= 0)
			ho = raw_next(old, &o);
		if (c >= 0)
			hn = raw_next(newer, &n);
	}
	*odd = ho < 0 || hn < 0;
	for (size_t i = 0; i < ndiffs && !rc && !*odd; i++)
		rc = raw_entry_walk(w, odb, diffs[i].has_o ? &diffs[i].o : NULL,
				    diffs[i].has_n ? &diffs[i].n : NULL);
	free(diffs);
	return rc;
}

/* The files that differ under directories old and newer (either NULL); w->path names them, no slash. */
static int raw_dirs(struct walk *w, git_odb *odb, const git_oid *old, const git_oid *newer)
{
	struct raw_tree ot = RAW_TREE_NONE, nt = RAW_TREE_NONE;
	git_tree *opt = NULL, *npt = NULL;
	int rc = 0, grc;

	if (old && newer)
		fl_git_loose_read_pair(w->repo, old, newer);
	if (old)
		rc = raw_open(&ot, odb, old, w);
	if (newer && rc == 0)
		rc = raw_open(&nt, odb, newer, w);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		size_t keep = w->path.len;
		bool odd = false;
		if (keep)
			(void)fl_buf_putc(&w->path, '/');
		rc = raw_walk(w, odb, &ot, &nt, &odd);
		fl_buf_truncate(&w->path, keep);
		if (!odd)
			goto out;
	}
	/* An entry the raw walk does not know: walk_entry's way, with its errors. */
	rc = 0;
	if (old && (grc = git_tree_lookup(&opt, w->repo->git, old)) < 0)
		rc = fl_git_fail(w->err, grc, "cannot read directory '%s'", w->path.ptr);
	else if (newer && (grc = git_tree_lookup(&npt, w->repo->git, newer)) < 0)
		rc = fl_git_fail(w->err, grc, "cannot read directory '%s'", w->path.ptr);
	if (rc)
		goto out;
	if (w->path.len)
		(void)fl_buf_putc(&w->path, '/');
	rc = walk_trees(w, opt, npt);
out:
	git_tree_free(npt);
	git_tree_free(opt);
	raw_release(&nt);
	raw_release(&ot);
	return rc;
}

/* ---- several names looked up in one pass over a raw directory ---- */

struct name_at {
	const char *name;
	size_t len, i; /* i: its index in the caller's names */
};

static int name_at_cmp(const void *a, const void *b)
{
	const struct name_at *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->name, y->name, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/*
 * Marks the names the raw tree holds (a name given twice, both times; an
 * entry a broken tree holds twice, its first); -1 when an entry is one
 * raw_next does not know.
 */
static int raw_find(struct raw_tree *t, struct name_at *sorted, size_t n, struct fl_oid *ids, bool *found)
{
	struct raw_entry e;
	int more;

	while ((more = raw_next(t, &e)) > 0) {
		struct name_at key = { e.name, e.len, 0 };
		struct name_at *hit = bsearch(&key, sorted, n, sizeof(*sorted), name_at_cmp);
		if (!hit || found[hit->i])
			continue;
		while (hit > sorted && name_at_cmp(hit - 1, &key) == 0)
			hit--;
		for (; hit < sorted + n && name_at_cmp(hit, &key) == 0; hit++) {
			found[hit->i] = true;
			fl_git_from(&ids[hit->i], e.id);
		}
	}
	return more;
}

/* The slow way, for a directory raw_next cannot read: each name through fl_repo_path_id. */
static int find_each(struct fl_repo *repo, const struct fl_oid *commit, const char *dir,
		     const char *const *names, size_t n, struct fl_oid *ids, bool *found, struct fl_error *err)
{
	struct fl_buf path = FL_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		struct fl_error e = FL_ERROR_INIT;
		fl_buf_clear(&path);
		fl_buf_printf(&path, "%s/%s", dir, names[i]);
		rc = fl_repo_path_id(&ids[i], repo, commit, path.ptr, &e);
		found[i] = rc == 0;
		if (rc == FL_ENOTFOUND)
			rc = 0;
		else if (rc && err)
			*err = e;
	}
	fl_buf_release(&path);
	return rc;
}

int fl_repo_dir_find(struct fl_repo *repo, const struct fl_oid *commit, const char *dir,
		     const char *const *names, size_t n, struct fl_oid *ids, bool *found, struct fl_error *err)
{
	const git_tree_entry *entry = NULL;
	struct fl_error scratch = FL_ERROR_INIT;
	struct raw_tree t = RAW_TREE_NONE;
	struct name_at *sorted = NULL;
	git_odb *odb = NULL;
	int rc, grc;

	memset(found, 0, n * sizeof(*found));
	rc = fl_git_path_entry(&entry, repo, commit, dir, fl_git_trim_len(dir), &scratch);
	if (rc == FL_ENOTFOUND || (!rc && git_tree_entry_type(entry) != GIT_OBJECT_TREE))
		return 0;
	if (rc) {
		if (err)
			*err = scratch;
		return rc;
	}
	if ((grc = git_repository_odb(&odb, repo->git)) < 0 ||
	    (grc = raw_read(&t, repo, odb, git_tree_entry_id(entry))) < 0) {
		rc = fl_git_fail(err, grc, "cannot read directory '%s'", dir);
		goto out;
	}
	sorted = fl_calloc(n ? n : 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = (struct name_at){ names[i], strlen(names[i]), i };
	qsort(sorted, n, sizeof(*sorted), name_at_cmp);
	/* Not a tree after all (a broken repository): libgit2's lookups say so. */
	if (grc > 0 || raw_find(&t, sorted, n, ids, found) < 0)
		rc = find_each(repo, commit, dir, names, n, ids, found, err);
out:
	free(sorted);
	raw_release(&t);
	git_odb_free(odb);
	return rc;
}

/* ---- a directory listed raw ---- */

int fl_git_list_raw(struct fl_repo *repo, const struct fl_oid *commit, const char *dir, size_t len,
		    fl_repo_entry_cb cb, void *payload, struct fl_error *err)
{
	const git_tree_entry *entry = NULL;
	struct fl_error scratch = FL_ERROR_INIT;
	struct raw_tree t = RAW_TREE_NONE, scan;
	struct raw_entry e;
	git_odb *odb = NULL;
	git_oid id;
	int rc, grc, more = 0;

	rc = fl_git_path_entry(&entry, repo, commit, dir, len, &scratch);
	if (rc == FL_ENOTFOUND || (!rc && git_tree_entry_type(entry) != GIT_OBJECT_TREE))
		return 0;
	if (rc) {
		if (err)
			*err = scratch;
		return rc;
	}
	git_oid_cpy(&id, git_tree_entry_id(entry));
	if ((grc = git_repository_odb(&odb, repo->git)) < 0 || (grc = raw_read(&t, repo, odb, &id)) < 0) {
		rc = fl_git_fail(err, grc, "cannot list '%.*s'", (int)len, dir);
		goto out;
	}
	/* Every entry checked first: the parsed listing, for an odd one, must not repeat what cb saw. */
	scan = t;
	while (grc == 0 && (more = raw_next(&scan, &e)) > 0)
		;
	if (grc > 0 || more < 0) {
		rc = 1;
		goto out;
	}
	while (rc == 0 && raw_next(&t, &e) > 0) {
		struct fl_repo_entry fe = { e.name, { { 0 } }, e.mode != 040000 && e.mode != 0160000 };
		fl_git_from(&fe.id, e.id);
		rc = cb(&fe, payload);
	}
out:
	raw_release(&t);
	git_odb_free(odb);
	return rc;
}

/* commit's root tree, a reference of the caller's own: the cache's would go at the next lookup. */
static int own_root_tree(git_tree **out, struct fl_repo *repo, const struct fl_oid *commit, struct fl_error *err)
{
	git_tree *cached = NULL;
	int rc = fl_git_root_tree(&cached, repo, commit, err);
	if (!rc && git_tree_dup(out, cached) < 0)
		rc = fl_git_fail(err, -1, "cannot compare commits");
	return rc;
}

int fl_repo_changed_paths(struct fl_repo *repo, const struct fl_oid *old, const struct fl_oid *newer,
			  fl_repo_path_cb cb, void *payload, struct fl_error *err)
{
	git_tree *ot = NULL, *nt = NULL;
	git_odb *odb = NULL;
	struct walk w = { repo, FL_BUF_INIT, cb, payload, err };
	int rc;

	/* Own references: looking up newer evicts old, and cb may read other commits. */
	if ((rc = own_root_tree(&ot, repo, old, err)) || (rc = own_root_tree(&nt, repo, newer, err)))
		goto out;
	if (git_oid_equal(git_tree_id(ot), git_tree_id(nt)))
		goto out;
	if (git_repository_odb(&odb, repo->git) < 0) {
		rc = fl_git_fail(err, -1, "cannot compare commits");
		goto out;
	}
	rc = raw_dirs(&w, odb, git_tree_id(ot), git_tree_id(nt));
out:
	git_odb_free(odb);
	fl_buf_release(&w.path);
	git_tree_free(nt);
	git_tree_free(ot);
	return rc;
}
