/*
 * Tests of core/git_loose.c, flotilla's reader of loose trees: a
 * comparison and the lookups after it give what libgit2's reads give,
 * each large loose tree is read from its file once, and a loose file that
 * is not exactly well-formed is left to libgit2. The repository's private
 * counter of loose files read is looked at, so the test includes
 * core/git_internal.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "core/git_internal.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define GIT FL_TEST_GIT
#define NTENANTS 12000 /* a tenants/ tree of about 500 KB inflated: a mapping of its own */
/* What differs between c1 and c2, as collect() writes it. */
#define WANT_PATHS "+tenants/t00005.yaml\n-tenants/t00007.yaml\n+tenants/t99999.yaml\n"

static char root[64];
static char repo_dir[128];
static char broken_dir[160]; /* a copy of repo_dir whose loose files are rewritten */

/* The id git rev-parse gives for spec in the repository. */
static void rev(struct fl_oid *out, const char *spec)
{
	struct fl_buf hex = FL_BUF_INIT;

	fl_test_capture(&hex, "git -C %s rev-parse '%s'", repo_dir, spec);
	fl_test_parse_oid(out, hex.ptr);
	fl_buf_release(&hex);
}

/*
 * c1: tenants/ of NTENANTS entries (one blob for all) and README; c2: t00005
 * changed, t00007 removed, t99999 added. git mktree writes loose trees.
 */
static int setup_group(void **state)
{
	(void)state;
	if (fl_test_git_home(root, sizeof(root), "git-loose"))
		return -1;
	snprintf(repo_dir, sizeof(repo_dir), "%s/repo", root);
	fl_test_run("cd %s && " GIT " init -q repo && cd repo"
		    " && a=$(printf 'name: a\\n' | git hash-object -w --stdin)"
		    " && b=$(printf 'name: b\\n' | git hash-object -w --stdin)"
		    " && seq -f 't%%05g.yaml' 0 %d | sed \"s/^/100644 blob $a\\t/\" >list1"
		    " && sed -e /t00007.yaml/d -e \"/t00005.yaml/s/$a/$b/\" list1 >list2"
		    " && printf '100644 blob %%s\\tt99999.yaml\\n' $b >>list2"
		    " && t1=$(git mktree <list1) && t2=$(git mktree <list2)"
		    " && top() { printf '040000 tree %%s\\ttenants\\n100644 blob %%s\\tREADME\\n' $1 $a | "
		    "git mktree; }"
		    " && r1=$(top $t1) && r2=$(top $t2)"
		    " && c1=$(" GIT " commit-tree -m c1 $r1) && c2=$(" GIT " commit-tree -p $c1 -m c2 $r2)"
		    " && git tag c1 $c1 && git tag c2 $c2 && rm list1 list2",
		    root, NTENANTS - 1);
	return 0;
}

static int teardown_group(void **state)
{
	(void)state;
	fl_test_run("rm -rf %s", root);
	return 0;
}

struct paths {
	struct fl_buf text; /* "+path\n" for a file of new, "-path\n" for one that left */
};

static int collect(const char *path, bool in_new, void *payload)
{
	struct paths *p = payload;
	fl_buf_printf(&p->text, "%c%s\n", in_new ? '+' : '-', path);
	return 0;
}

static int count_entry(const struct fl_repo_entry *e, void *payload)
{
	size_t *n = payload;
	(*n) += e->is_blob;
	return 0;
}

/*
 * The comparison, the lookups and the listing after it, with files_read
 * loose files read, and threads pairs of them read on two threads when
 * files of pair_min bytes are.
 */
static void expect_reads(size_t files_read, size_t pair_min, size_t threads)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_repo *repo = NULL;
	struct paths p = { FL_BUF_INIT };
	struct fl_oid c1, c2, ids[3];
	const char *names[] = { "t00005.yaml", "t00007.yaml", "t99999.yaml" };
	bool found[3];
	size_t n = 0;

	rev(&c1, "c1");
	rev(&c2, "c2");
	assert_int_equal(fl_repo_open(&repo, repo_dir, &err), 0);
	repo->pair_min = pair_min;
	assert_int_equal(fl_repo_changed_paths(repo, &c1, &c2, collect, &p, &err), 0);
	assert_string_equal(p.text.ptr, WANT_PATHS);
	/* The two roots and the two tenants/ trees: each read once. */
	assert_int_equal(repo->loose_files, files_read);
	assert_int_equal(repo->loose_threads, threads);
	assert_int_equal(fl_repo_dir_find(repo, &c2, "tenants", names, 3, ids, found, &err), 0);
	assert_true(found[0] && !found[1] && found[2]);
	assert_int_equal(fl_repo_list_dir(repo, &c2, "tenants", count_entry, &n, &err), 0);
	assert_int_equal(n, NTENANTS);
	/* The lookups found c2's tenants/ in the cache. */
	assert_int_equal(repo->loose_files, files_read);
	n = 0;
	assert_int_equal(fl_repo_list_dir(repo, &c1, "tenants/", count_entry, &n, &err), 0);
	assert_int_equal(n, NTENANTS);
	fl_repo_free(repo);
	/* A listing on its own reads tenants/ raw too: from its loose file when there is one. */
	assert_int_equal(fl_repo_open(&repo, repo_dir, &err), 0);
	n = 0;
	assert_int_equal(fl_repo_list_dir(repo, &c1, "tenants", count_entry, &n, &err), 0);
	assert_int_equal(n, NTENANTS);
	assert_int_equal(repo->loose_files, files_read ? 1 : 0);
	fl_repo_free(repo);
	fl_buf_release(&p.text);
}

static void test_loose_trees_read_once(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_repo *repo = NULL;
	struct paths p = { FL_BUF_INIT };
	struct fl_oid c1, c2;
	char wt[160];

	(void)state;
	/* tenants/ is a 30 KB file (one blob id 12,000 times): one thread reads both. */
	expect_reads(4, LOOSE_PAIR_MIN, 0);
	/* Any file large enough: both pairs, the roots and tenants/, are read on two threads. */
	expect_reads(4, 1, 2);
	/* A worktree's objects are the main repository's: read from there too. */
	snprintf(wt, sizeof(wt), "%s/wt", root);
	fl_test_run("git -C %s worktree add -q --detach %s c2", repo_dir, wt);
	rev(&c1, "c1");
	rev(&c2, "c2");
	assert_int_equal(fl_repo_open(&repo, wt, &err), 0);
	assert_int_equal(fl_repo_changed_paths(repo, &c1, &c2, collect, &p, &err), 0);
	assert_string_equal(p.text.ptr, WANT_PATHS);
	assert_int_equal(repo->loose_files, 4);
	fl_repo_free(repo);
	fl_buf_release(&p.text);
	fl_test_run("git -C %s worktree remove --force %s", repo_dir, wt);
}

/* The loose file of tree id in broken_dir, named as git names it. */
static void loose_path(char *out, size_t cap, const char *id)
{
	snprintf(out, cap, "%s/.git/objects/%.2s/%s", broken_dir, id, id + 2);
}

/* Writes the loose file of tree id as zlib of header and body, with tail appended after the stream. */
static void write_loose(const char *id, const char *header, const struct fl_buf *body, const char *tail)
{
	struct fl_buf raw = FL_BUF_INIT;
	char path[256];
	uLongf zlen;

	fl_buf_put(&raw, header, strlen(header) + 1);
	fl_buf_put(&raw, body->ptr, body->len);
	zlen = compressBound(raw.len);
	unsigned char *z = malloc(zlen + strlen(tail));
	assert_non_null(z);
	assert_int_equal(compress2(z, &zlen, (const unsigned char *)raw.ptr, raw.len, 6), Z_OK);
	memcpy(z + zlen, tail, strlen(tail));
	loose_path(path, sizeof(path), id);
	fl_test_run("chmod u+w %s", path);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(z, 1, zlen + strlen(tail), f), zlen + strlen(tail));
	assert_int_equal(fclose(f), 0);
	free(z);
	fl_buf_release(&raw);
}

/* The body of a tree read by git itself. */
static void tree_body(struct fl_buf *out, const char *id)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "git -C %s cat-file tree %s", repo_dir, id);
	FILE *f = popen(cmd, "r");
	char chunk[4096];
	size_t n;
	assert_non_null(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fl_buf_put(out, chunk, n);
	assert_int_equal(pclose(f), 0);
}

/* One loose tree after another that is not exactly well-formed: never read by flotilla. */
static void test_broken_loose_left_to_libgit2(void **state)
{
	struct fl_buf body = FL_BUF_INIT, hex = FL_BUF_INIT;
	char header[64];
	const char *id;
	struct fl_oid c1, c2;
	(void)state;

	snprintf(broken_dir, sizeof(broken_dir), "%s/broken", root);
	fl_test_run("rm -rf %s && cp -a %s %s", broken_dir, repo_dir, broken_dir);
	fl_test_capture(&hex, "git -C %s rev-parse c2:tenants", repo_dir);
	id = hex.ptr;
	tree_body(&body, id);
	rev(&c1, "c1");
	rev(&c2, "c2");
	struct fl_buf nothing = FL_BUF_INIT;
	struct {
		const char *what, *tail;
		long delta; /* the size in the header less the body's */
		/* The header: type, sep, zero and the size; no size when zero is NULL. */
		const char *type, *sep, *zero;
		bool read;  /* well-formed: read by flotilla */
		int fails;  /* 0: the comparison succeeds, 1: fails, -1: libgit2's choice */
		bool empty; /* no body at all */
	} cases[] = {
		{ "well-formed, as git writes it", "", 0, "tree", " ", "", true, 0, false },
		{ "bytes after the zlib stream", "junk", 0, "tree", " ", "", false, -1, false },
		{ "a header one byte short", "", -1, "tree", " ", "", false, -1, false },
		{ "a header one byte long", "", 1, "tree", " ", "", false, -1, false },
		{ "a size with a leading zero", "", 0, "tree", " ", "0", false, -1, false },
		{ "no space after the type", "", 0, "tree", "", "", false, -1, false },
		{ "no size", "", 0, "tree", " ", NULL, false, -1, false },
		{ "no size and no body", "", 0, "tree", " ", NULL, false, -1, true },
		/* Read, and found to be no tree: the parsed walk then says so. */
		{ "a blob's header", "", 0, "blob", " ", "", true, 1, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_error err = FL_ERROR_INIT;
		struct fl_repo *repo = NULL;
		struct paths p = { FL_BUF_INIT };
		size_t want = cases[i].read ? 4 : 3;

		if (cases[i].zero)
			snprintf(header, sizeof(header), "%s%s%s%zu", cases[i].type, cases[i].sep,
				 cases[i].zero, (size_t)((long)body.len + cases[i].delta));
		else
			snprintf(header, sizeof(header), "%s%s", cases[i].type, cases[i].sep);
		write_loose(id, header, cases[i].empty ? &nothing : &body, cases[i].tail);
		assert_int_equal(fl_repo_open(&repo, broken_dir, &err), 0);
		int rc = fl_repo_changed_paths(repo, &c1, &c2, collect, &p, &err);
		/* c1's root and tenants/, c2's root: good files git wrote; c2's tenants/ this case's. */
		if (repo->loose_files != want)
			fail_msg("%s: %zu loose files read", cases[i].what, repo->loose_files);
		/* Whatever libgit2 makes of the file, no wrong paths: the right ones or an error. */
		if (rc == 0 && strcmp(p.text.ptr, WANT_PATHS))
			fail_msg("%s: paths %s", cases[i].what, p.text.ptr);
		if (cases[i].fails >= 0 && cases[i].fails != (rc != 0))
			fail_msg("%s: returned %d (%s)", cases[i].what, rc, err.msg);
		fl_repo_free(repo);
		fl_buf_release(&p.text);
	}
	fl_buf_release(&body);
	fl_buf_release(&hex);
}

/* Packed, no tree is loose: libgit2 reads them all, with the same answers. */
static void test_packed_trees(void **state)
{
	(void)state;
	fl_test_run("cd %s && git repack -q -a -d && git prune-packed", repo_dir);
	expect_reads(0, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loose_trees_read_once),
		cmocka_unit_test(test_broken_loose_left_to_libgit2),
		cmocka_unit_test(test_packed_trees),
	};
	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
