/*
 * Tests of core/git.c against real repositories made with the git command in
 * a temporary directory: a work tree with a few commits, a bare clone of it,
 * and directories committed by fl_repo_init_commit_all(). Notes, tags and
 * exports are checked with the git command too, each in a clone of its own.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define GIT FL_TEST_GIT

/* The temporary directory, shared by the tests of the group. */
static char root[64];
static char work[128]; /* root/work: the repository with tags c1..c8 */

/* The id git rev-parse gives for spec in the work repository. */
static void rev_parse(struct fl_oid *out, const char *spec)
{
	struct fl_buf hex = FL_BUF_INIT;

	fl_test_capture(&hex, "git -C %s rev-parse '%s'", work, spec);
	fl_test_parse_oid(out, hex.ptr);
	fl_buf_release(&hex);
}

static void write_file(const char *dir, const char *path, const char *content)
{
	char full[512];

	snprintf(full, sizeof(full), "%s/%s", dir, path);
	FILE *f = fopen(full, "w");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

static int setup_group(void **state)
{
	(void)state;
	if (fl_test_git_home(root, sizeof(root), "git"))
		return -1;
	snprintf(work, sizeof(work), "%s/work", root);

	fl_test_run("mkdir -p %s/tenants/acme && cd %s && " GIT " init -q"
	    " && printf 'hello\\n' >README.md"
	    " && printf 'conf\\n' >conf"
	    " && printf 'name: acme\\n' >tenants/acme.yaml"
	    " && printf 'name: acme2\\n' >tenants/acme-2.yaml"
	    " && printf 'name: acme0\\n' >tenants/acme0.yaml"
	    " && printf 'x: 1\\n' >tenants/acme/x.yaml"
	    " && printf 'name: beta\\n' >tenants/beta.yaml"
	    " && " GIT " add -A && " GIT " commit -q -m c1 && " GIT " tag c1"
	    " && " GIT " tag -a v1 -m 'version 1'"
	    " && printf 'name: acme\\nplan: big\\n' >tenants/acme.yaml"
	    " && " GIT " commit -q -am c2 && " GIT " tag c2"
	    " && printf 'name: gamma\\n' >tenants/gamma.yaml"
	    " && " GIT " add -A && " GIT " commit -q -m c3 && " GIT " tag c3"
	    " && " GIT " rm -q tenants/beta.yaml && " GIT " commit -q -m c4 && " GIT " tag c4"
	    " && printf 'x: 2\\n' >tenants/acme/x.yaml"
	    " && " GIT " commit -q -am c5 && " GIT " tag c5"
	    " && " GIT " commit -q --allow-empty -m c6 && " GIT " tag c6"
	    " && rm conf && mkdir conf && printf 'a\\n' >conf/a"
	    " && " GIT " add -A && " GIT " commit -q -m c7 && " GIT " tag c7"
	    " && chmod +x tenants/gamma.yaml && " GIT " commit -q -am c8 && " GIT " tag c8"
	    " && " GIT " branch first c1",
	    work, work);
	return 0;
}

static int teardown_group(void **state)
{
	(void)state;
	fl_test_run("rm -rf %s", root);
	return 0;
}

/* Opens the work repository for a test. */
static struct fl_repo *open_work(void)
{
	struct fl_repo *repo = NULL;
	struct fl_error err = FL_ERROR_INIT;

	if (fl_repo_open(&repo, work, &err))
		fail_msg("open: %s", err.msg);
	return repo;
}

static void test_oid_hex(void **state)
{
	struct fl_oid a, b;
	char hex[FL_OID_HEX_LEN + 1];
	const char *s = "0123456789abcdef00ff102030405060708090a0";

	(void)state;
	fl_test_parse_oid(&a, s);
	fl_oid_hex(hex, &a);
	assert_string_equal(hex, s);
	b = a;
	assert_true(fl_oid_equal(&a, &b));
	b.id[19] ^= 1;
	assert_false(fl_oid_equal(&a, &b));
}

static void test_open(void **state)
{
	static const struct {
		const char *name;
		const char *path; /* under root */
		int code;
	} cases[] = {
		{ "work tree", "work", 0 },
		{ "dot git", "work/.git", 0 },
		{ "bare clone", "bare.git", 0 },
		{ "plain directory", "plain", FL_ENOTFOUND },
		{ "subdirectory of a work tree", "work/tenants", FL_ENOTFOUND },
		{ "missing", "missing", FL_ENOTFOUND },
	};

	(void)state;
	fl_test_run("git clone -q --bare %s %s/bare.git && mkdir -p %s/plain", work, root, root);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_repo *repo = NULL;
		struct fl_error err = FL_ERROR_INIT;
		char path[256], msg[512];
		struct fl_oid head, want;

		snprintf(path, sizeof(path), "%s/%s", root, cases[i].path);
		int rc = fl_repo_open(&repo, path, &err);
		if (rc != cases[i].code)
			fail_msg("%s: got %d (%s), want %d", cases[i].name, rc, err.msg, cases[i].code);
		if (rc) {
			snprintf(msg, sizeof(msg), "'%s' is not a git repository", path);
			assert_string_equal(err.msg, msg);
			assert_null(repo);
			continue;
		}
		assert_non_null(repo);
		assert_int_equal(fl_repo_resolve(&head, repo, "c8", &err), 0);
		rev_parse(&want, "c8");
		assert_true(fl_oid_equal(&head, &want));
		fl_repo_free(repo);
	}
	fl_test_run("rm -rf %s/bare.git %s/plain", root, root);
	fl_repo_free(NULL);
}

static void test_resolve(void **state)
{
	static const struct {
		const char *rev;
		const char *want; /* for git rev-parse, NULL when not found */
	} cases[] = {
		/* clang-format off */
		{ "HEAD", "HEAD" },
		{ "HEAD~1", "HEAD~1" },
		{ "main", "main" },
		{ "first", "c1" },
		{ "c3", "c3" },
		{ "v1", "c1" },          /* an annotated tag, peeled to its commit */
		{ "SHORT", "c2" },       /* c2's sha cut to 7 digits */
		{ "nope", NULL },
		{ "c1~10", NULL },
		/* clang-format on */
	};
	struct fl_repo *repo = open_work();
	struct fl_buf shortsha = FL_BUF_INIT;

	(void)state;
	fl_test_capture(&shortsha, "git -C %s rev-parse --short=7 c2", work);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_error err = FL_ERROR_INIT;
		struct fl_oid got, want;
		const char *rev = strcmp(cases[i].rev, "SHORT") ? cases[i].rev : shortsha.ptr;
		char msg[256];

		int rc = fl_repo_resolve(&got, repo, rev, &err);
		if (!cases[i].want) {
			if (rc != FL_ENOTFOUND)
				fail_msg("%s: got %d (%s), want FL_ENOTFOUND", rev, rc, err.msg);
			snprintf(msg, sizeof(msg), "unknown revision '%s'", rev);
			assert_string_equal(err.msg, msg);
			continue;
		}
		if (rc)
			fail_msg("%s: %s", rev, err.msg);
		rev_parse(&want, cases[i].want);
		if (!fl_oid_equal(&got, &want))
			fail_msg("%s: wrong commit", rev);
	}
	fl_buf_release(&shortsha);
	fl_repo_free(repo);
}

static void test_read_file(void **state)
{
	static const struct {
		const char *name;
		const char *rev;
		const char *path;
		size_t max;
		int code;
		const char *want; /* content, or the error message */
	} cases[] = {
		{ "file at c1", "c1", "tenants/acme.yaml", 0, 0, "name: acme\n" },
		{ "modified at c2", "c2", "tenants/acme.yaml", 0, 0, "name: acme\nplan: big\n" },
		{ "back to c1", "c1", "tenants/acme.yaml", 0, 0, "name: acme\n" },
		{ "top level", "c2", "README.md", 0, 0, "hello\n" },
		{ "nested", "c5", "tenants/acme/x.yaml", 0, 0, "x: 2\n" },
		{ "within the limit", "c1", "README.md", 6, 0, "hello\n" },
		{ "missing", "c1", "tenants/nope.yaml", 0, FL_ENOTFOUND, NULL },
		{ "missing dir", "c1", "nope/acme.yaml", 0, FL_ENOTFOUND, NULL },
		{ "under a file", "c1", "README.md/x", 0, FL_ENOTFOUND, NULL },
		{ "deleted", "c4", "tenants/beta.yaml", 0, FL_ENOTFOUND, NULL },
		{ "directory", "c1", "tenants", 0, FL_ENOTFOUND, "'tenants' is not a file" },
		{ "nested directory", "c1", "tenants/acme", 0, FL_ENOTFOUND, "'tenants/acme' is not a file" },
		{ "over the limit", "c2", "tenants/acme.yaml", 10, FL_ELIMIT,
		  "'tenants/acme.yaml' is 21 bytes, more than the limit of 10" },
	};
	struct fl_repo *repo = open_work();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_error err = FL_ERROR_INIT;
		struct fl_buf out;
		struct fl_oid commit;

		fl_buf_init(&out, cases[i].max);
		rev_parse(&commit, cases[i].rev);
		int rc = fl_repo_read_file(&out, repo, &commit, cases[i].path, &err);
		if (rc != cases[i].code)
			fail_msg("%s: got %d (%s), want %d", cases[i].name, rc, err.msg, cases[i].code);
		if (rc == 0)
			assert_string_equal(out.ptr, cases[i].want);
		else if (cases[i].want)
			assert_string_equal(err.msg, cases[i].want);
		else
			assert_non_null(strstr(err.msg, cases[i].path));
		fl_buf_release(&out);
	}
	fl_repo_free(repo);
}

static void test_read_file_appends(void **state)
{
	struct fl_repo *repo = open_work();
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out;
	struct fl_oid commit;

	(void)state;
	rev_parse(&commit, "c1");
	fl_buf_init(&out, 12);
	assert_int_equal(fl_buf_puts(&out, ">"), 0);
	assert_int_equal(fl_repo_read_file(&out, repo, &commit, "README.md", &err), 0);
	assert_string_equal(out.ptr, ">hello\n");
	/* 5 bytes of room left for 6 bytes. */
	assert_int_equal(fl_repo_read_file(&out, repo, &commit, "README.md", &err), FL_ELIMIT);
	assert_string_equal(err.msg, "'README.md' is 6 bytes, more than the limit of 5");
	assert_string_equal(out.ptr, ">hello\n");
	fl_buf_release(&out);
	fl_repo_free(repo);
}

struct listing {
	struct fl_buf text; /* "name:b" or "name:t" per entry, one a line */
	size_t count, stop_after;
};

static int collect_entry(const struct fl_repo_entry *e, void *payload)
{
	struct listing *l = payload;

	fl_buf_printf(&l->text, "%s:%c\n", e->name, e->is_blob ? 'b' : 't');
	l->count++;
	return l->stop_after && l->count == l->stop_after ? 7 : 0;
}

static void test_list_dir(void **state)
{
	static const struct {
		const char *rev;
		const char *dir;
		size_t stop_after;
		int code;
		const char *want;
	} cases[] = {
		/* git's order: a tree sorts as if its name ended in '/' */
		{ "c1", "tenants", 0, 0, "acme-2.yaml:b\nacme.yaml:b\nacme:t\nacme0.yaml:b\nbeta.yaml:b\n" },
		{ "c1", "tenants/", 0, 0, "acme-2.yaml:b\nacme.yaml:b\nacme:t\nacme0.yaml:b\nbeta.yaml:b\n" },
		{ "c4", "tenants", 0, 0, "acme-2.yaml:b\nacme.yaml:b\nacme:t\nacme0.yaml:b\ngamma.yaml:b\n" },
		{ "c1", "", 0, 0, "README.md:b\nconf:b\ntenants:t\n" },
		{ "c7", "", 0, 0, "README.md:b\nconf:t\ntenants:t\n" },
		{ "c1", "tenants/acme", 0, 0, "x.yaml:b\n" },
		{ "c1", "nope", 0, 0, "" },
		{ "c1", "tenants/nope", 0, 0, "" },
		{ "c1", "README.md", 0, 0, "" },
		{ "c1", "tenants", 2, 7, "acme-2.yaml:b\nacme.yaml:b\n" },
	};
	struct fl_repo *repo = open_work();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_error err = FL_ERROR_INIT;
		struct listing l = { FL_BUF_INIT, 0, cases[i].stop_after };
		struct fl_oid commit;

		rev_parse(&commit, cases[i].rev);
		int rc = fl_repo_list_dir(repo, &commit, cases[i].dir, collect_entry, &l, &err);
		if (rc != cases[i].code)
			fail_msg("%s '%s': got %d (%s)", cases[i].rev, cases[i].dir, rc, err.msg);
		if (strcmp(l.text.ptr, cases[i].want))
			fail_msg("%s '%s': got\n%s", cases[i].rev, cases[i].dir, l.text.ptr);
		fl_buf_release(&l.text);
	}
	fl_repo_free(repo);
}

struct reader {
	struct fl_repo *repo;
	struct fl_oid commit, other;
	struct fl_buf text;
};

/* Reads each listed file, then paths of two commits, emptying the tree cache. */
static int read_entry(const struct fl_repo_entry *e, void *payload)
{
	struct reader *r = payload;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf other = FL_BUF_INIT;
	if (!e->is_blob)
		return 0;
	assert_int_equal(fl_repo_read_blob(&r->text, r->repo, &e->id, &err), 0);
	assert_int_equal(fl_repo_read_file(&other, r->repo, &r->other, "tenants/acme/x.yaml", &err), 0);
	assert_int_equal(fl_repo_read_file(&other, r->repo, &r->commit, "conf/a", &err), 0);
	assert_string_equal(other.ptr, "x: 1\na\n");
	fl_buf_release(&other);
	return 0;
}

static void test_list_dir_reentrant(void **state)
{
	struct reader r = { open_work(), { { 0 } }, { { 0 } }, FL_BUF_INIT };
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	rev_parse(&r.commit, "c8");
	rev_parse(&r.other, "c1");
	assert_int_equal(fl_repo_list_dir(r.repo, &r.commit, "tenants", read_entry, &r, &err), 0);
	assert_string_equal(r.text.ptr, "name: acme2\nname: acme\nplan: big\nname: acme0\nname: gamma\n");
	fl_buf_release(&r.text);
	fl_repo_free(r.repo);
}

struct changes {
	struct fl_buf text; /* paths, one a line */
};

/* One line a path; a path that is no file of the newer commit starts with '-'. */
static int collect_path(const char *path, bool in_new, void *payload)
{
	struct changes *c = payload;

	fl_buf_printf(&c->text, "%s%s\n", in_new ? "" : "-", path);
	return 0;
}

static void test_changed_paths(void **state)
{
	static const struct {
		const char *name, *old, *new, *want;
	} cases[] = {
		{ "modify", "c1", "c2", "tenants/acme.yaml\n" },
		{ "add", "c2", "c3", "tenants/gamma.yaml\n" },
		{ "delete", "c3", "c4", "-tenants/beta.yaml\n" },
		{ "nested", "c4", "c5", "tenants/acme/x.yaml\n" },
		{ "no change", "c5", "c6", "" },
		{ "same commit", "c3", "c3", "" },
		{ "file to directory", "c6", "c7", "-conf\nconf/a\n" },
		{ "directory to file", "c7", "c6", "conf\n-conf/a\n" },
		{ "mode", "c7", "c8", "tenants/gamma.yaml\n" },
		{ "several", "c1", "c5",
		  "tenants/acme.yaml\ntenants/acme/x.yaml\n-tenants/beta.yaml\ntenants/gamma.yaml\n" },
		{ "backwards", "c5", "c1",
		  "tenants/acme.yaml\ntenants/acme/x.yaml\ntenants/beta.yaml\n-tenants/gamma.yaml\n" },
	};
	struct fl_repo *repo = open_work();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_error err = FL_ERROR_INIT;
		struct changes c = { FL_BUF_INIT };
		struct fl_oid old, new;

		rev_parse(&old, cases[i].old);
		rev_parse(&new, cases[i].new);
		int rc = fl_repo_changed_paths(repo, &old, &new, collect_path, &c, &err);
		if (rc)
			fail_msg("%s: got %d (%s)", cases[i].name, rc, err.msg);
		if (strcmp(c.text.ptr, cases[i].want))
			fail_msg("%s: got\n%s", cases[i].name, c.text.ptr);
		fl_buf_release(&c.text);
	}
	fl_repo_free(repo);
}

/* Writes a tree of two entries (name, mode, blob) as raw bytes; its id into out. */
static void write_raw_tree(struct fl_oid *out, const char *name1, const char *mode1, const struct fl_oid *b1,
			   const char *name2, const char *mode2, const struct fl_oid *b2)
{
	char path[512];
	struct fl_buf hex = FL_BUF_INIT;

	snprintf(path, sizeof(path), "%s/raw-tree", root);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fprintf(f, "%s %s%c", mode1, name1, 0);
	fwrite(b1->id, 1, sizeof(b1->id), f);
	fprintf(f, "%s %s%c", mode2, name2, 0);
	fwrite(b2->id, 1, sizeof(b2->id), f);
	assert_int_equal(fclose(f), 0);
	fl_test_capture(&hex, "git -C %s hash-object -t tree --literally -w %s", work, path);
	fl_test_parse_oid(out, hex.ptr);
	fl_buf_release(&hex);
}

/* A commit of tree, made with commit-tree; its id into out. */
static void commit_tree(struct fl_oid *out, const struct fl_oid *tree)
{
	char hex[FL_OID_HEX_LEN + 1];
	struct fl_buf id = FL_BUF_INIT;

	fl_oid_hex(hex, tree);
	fl_test_capture(&id, GIT " -C %s commit-tree %s -m raw", work, hex);
	fl_test_parse_oid(out, id.ptr);
	fl_buf_release(&id);
}

/* A mode git does not write (100600) takes the parsed walk: the same paths, once each. */
static void test_changed_paths_odd_mode(void **state)
{
	struct fl_repo *repo = NULL;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid b1, b2, t1, t2, d1, d2, c1, c2;
	struct changes c = { FL_BUF_INIT };

	(void)state;
	rev_parse(&b1, "c1:README.md");
	rev_parse(&b2, "c1:conf");
	write_raw_tree(&t1, "odd", "100600", &b1, "zed", "100644", &b1);
	write_raw_tree(&t2, "odd", "100600", &b2, "zed", "100644", &b2);
	/* At the top, and one directory down next to a plain file that changed too. */
	write_raw_tree(&d1, "a", "100644", &b1, "dir", "40000", &t1);
	write_raw_tree(&d2, "a", "100644", &b2, "dir", "40000", &t2);
	commit_tree(&c1, &t1);
	commit_tree(&c2, &t2);
	repo = open_work();
	assert_int_equal(fl_repo_changed_paths(repo, &c1, &c2, collect_path, &c, &err), 0);
	assert_string_equal(c.text.ptr, "odd\nzed\n");
	fl_buf_clear(&c.text);
	commit_tree(&c1, &d1);
	commit_tree(&c2, &d2);
	assert_int_equal(fl_repo_changed_paths(repo, &c1, &c2, collect_path, &c, &err), 0);
	assert_string_equal(c.text.ptr, "a\ndir/odd\ndir/zed\n");
	fl_buf_release(&c.text);
	fl_repo_free(repo);
}

/* fl_repo_dir_find gives, for each name, what fl_repo_path_id gives for dir/name. */
static void expect_dir_find(struct fl_repo *repo, const struct fl_oid *commit, const char *dir,
			    const char *const *names, size_t n)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid ids[16], want;
	bool found[16];
	char path[256];

	assert_true(n <= 16);
	assert_int_equal(fl_repo_dir_find(repo, commit, dir, names, n, ids, found, &err), 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		int rc = fl_repo_path_id(&want, repo, commit, path, NULL);
		if (rc != 0 && rc != FL_ENOTFOUND)
			fail_msg("%s: fl_repo_path_id gave %d", path, rc);
		if (found[i] != (rc == 0))
			fail_msg("%s: found %d, fl_repo_path_id %d", path, found[i], rc);
		if (found[i] && !fl_oid_equal(&ids[i], &want))
			fail_msg("%s: another id than fl_repo_path_id's", path);
	}
}

static void test_dir_find(void **state)
{
	static const char *const names[] = { "beta.yaml", "acme.yaml", "nope.yaml", "acme", "acme.yaml",
					     "acme-2.yaml", "acme0.yaml", "x.yaml", "acme.yam" };
	static const char *const odd[] = { "zed", "odd", "none" };
	struct fl_repo *repo = open_work();
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid c1, c4, b1, t1, c;
	struct fl_oid ids[2];
	bool found[2] = { true, true };

	(void)state;
	rev_parse(&c1, "c1");
	rev_parse(&c4, "c4");
	expect_dir_find(repo, &c1, "tenants", names, 9);
	expect_dir_find(repo, &c4, "tenants", names, 9); /* beta.yaml is gone */
	expect_dir_find(repo, &c1, "tenants/acme", names + 7, 1);
	/* No such directory, or a file: nothing found, no error. */
	assert_int_equal(fl_repo_dir_find(repo, &c1, "nowhere", names, 2, ids, found, &err), 0);
	assert_false(found[0] || found[1]);
	found[0] = true;
	assert_int_equal(fl_repo_dir_find(repo, &c1, "README.md", names, 1, ids, found, &err), 0);
	assert_false(found[0]);
	/* A mode the raw reader does not know: the slow way, the same answers. */
	rev_parse(&b1, "c1:README.md");
	write_raw_tree(&t1, "odd", "100600", &b1, "zed", "100644", &b1);
	write_raw_tree(&t1, "a", "100644", &b1, "dir", "40000", &t1);
	commit_tree(&c, &t1);
	fl_repo_free(repo);
	repo = open_work();
	expect_dir_find(repo, &c, "dir", odd, 3);
	fl_repo_free(repo);
}

static void test_changed_paths_unknown(void **state)
{
	struct fl_repo *repo = open_work();
	struct fl_error err = FL_ERROR_INIT;
	struct changes c = { FL_BUF_INIT };
	struct fl_oid old, missing;

	(void)state;
	rev_parse(&old, "c1");
	memset(&missing, 0xab, sizeof(missing));
	int rc = fl_repo_changed_paths(repo, &old, &missing, collect_path, &c, &err);
	assert_int_equal(rc, FL_ENOTFOUND);
	assert_non_null(strstr(err.msg, "cannot read commit abababab"));
	assert_string_equal(c.text.ptr, "");
	fl_buf_release(&c.text);
	fl_repo_free(repo);
}

static void test_is_ancestor(void **state)
{
	static const struct {
		const char *ancestor, *new;
		bool want;
	} cases[] = {
		{ "c1", "c2", true },
		{ "c1", "c8", true },
		{ "c2", "c1", false },
		{ "c3", "c3", true },
	};
	struct fl_repo *repo = open_work();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_error err = FL_ERROR_INIT;
		struct fl_oid a, n;
		bool got = !cases[i].want;

		rev_parse(&a, cases[i].ancestor);
		rev_parse(&n, cases[i].new);
		if (fl_repo_is_ancestor(&got, repo, &a, &n, &err))
			fail_msg("%s..%s: %s", cases[i].ancestor, cases[i].new, err.msg);
		if (got != cases[i].want)
			fail_msg("%s..%s: got %d", cases[i].ancestor, cases[i].new, got);
	}
	fl_repo_free(repo);
}

static void test_path_id(void **state)
{
	static const struct {
		const char *path;
		const char *want; /* for git rev-parse, NULL when not found */
	} cases[] = {
		{ "", "c5^{tree}" },
		{ "tenants", "c5:tenants" },
		{ "tenants/", "c5:tenants" },
		{ "tenants/acme", "c5:tenants/acme" },
		{ "tenants/acme.yaml", "c5:tenants/acme.yaml" },
		{ "tenants/acme/x.yaml", "c5:tenants/acme/x.yaml" },
		{ "tenants/beta.yaml", NULL },
		{ "nope/x", NULL },
	};
	struct fl_repo *repo = open_work();
	struct fl_oid commit;

	(void)state;
	rev_parse(&commit, "c5");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_error err = FL_ERROR_INIT;
		struct fl_oid got, want;

		int rc = fl_repo_path_id(&got, repo, &commit, cases[i].path, &err);
		if (!cases[i].want) {
			if (rc != FL_ENOTFOUND)
				fail_msg("'%s': got %d, want FL_ENOTFOUND", cases[i].path, rc);
			assert_non_null(strstr(err.msg, cases[i].path));
			continue;
		}
		if (rc)
			fail_msg("'%s': %s", cases[i].path, err.msg);
		rev_parse(&want, cases[i].want);
		if (!fl_oid_equal(&got, &want))
			fail_msg("'%s': wrong id", cases[i].path);
	}
	fl_repo_free(repo);
}

static void test_read_blob(void **state)
{
	struct fl_repo *repo = open_work();
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out = FL_BUF_INIT, small;
	struct fl_oid blob, missing;
	char hex[FL_OID_HEX_LEN + 1], msg[256];

	(void)state;
	rev_parse(&blob, "c2:tenants/acme.yaml");
	assert_int_equal(fl_repo_read_blob(&out, repo, &blob, &err), 0);
	assert_string_equal(out.ptr, "name: acme\nplan: big\n");

	fl_buf_init(&small, 4);
	assert_int_equal(fl_repo_read_blob(&small, repo, &blob, &err), FL_ELIMIT);
	fl_oid_hex(hex, &blob);
	snprintf(msg, sizeof(msg), "blob %s is 21 bytes, more than the limit of 4", hex);
	assert_string_equal(err.msg, msg);

	memset(&missing, 0xcd, sizeof(missing));
	assert_int_equal(fl_repo_read_blob(&out, repo, &missing, &err), FL_ENOTFOUND);
	assert_non_null(strstr(err.msg, "cannot read blob cdcdcdcd"));
	fl_buf_release(&small);
	fl_buf_release(&out);
	fl_repo_free(repo);
}

/* An in-memory repository: commits of files given as bytes, read back, emptied. */
static void test_memory_commit_files(void **state)
{
	struct fl_repo *repo = NULL;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out = FL_BUF_INIT;
	struct fl_oid c1, c2, again;
	const struct fl_repo_file files[] = {
		{ "fleet.yaml", "name: x\n", 8 },
		{ "tenants/acme.yaml", "a\0b", 3 },
		{ "release/deep/er.yaml", "kind: k\n", 8 },
		{ "fleet.yaml", "name: y\n", 8 },
	};
	const struct fl_repo_file bad[] = { { "tenants/../x", "", 0 } };

	(void)state;
	assert_int_equal(fl_repo_new_memory(&repo, &err), 0);
	assert_string_equal(fl_repo_gitdir(repo), "");
	assert_int_equal(fl_repo_commit_files(&c1, repo, files, 3, "one", &err), 0);
	assert_int_equal(fl_repo_read_file(&out, repo, &c1, "tenants/acme.yaml", &err), 0);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.ptr, "a\0b", 3);
	fl_buf_clear(&out);
	assert_int_equal(fl_repo_read_file(&out, repo, &c1, "release/deep/er.yaml", &err), 0);
	assert_string_equal(out.ptr, "kind: k\n");

	/* The last of two files of one path wins. */
	assert_int_equal(fl_repo_commit_files(&c2, repo, files, 4, "two", &err), 0);
	fl_buf_clear(&out);
	assert_int_equal(fl_repo_read_file(&out, repo, &c2, "fleet.yaml", &err), 0);
	assert_string_equal(out.ptr, "name: y\n");

	/* Emptied, the commit is gone; written again, it is the same commit. */
	assert_int_equal(fl_repo_memory_reset(repo, &err), 0);
	fl_buf_clear(&out);
	assert_int_equal(fl_repo_read_file(&out, repo, &c1, "fleet.yaml", &err), FL_ENOTFOUND);
	assert_int_equal(fl_repo_commit_files(&again, repo, files, 3, "one", &err), 0);
	assert_true(fl_oid_equal(&again, &c1));
	fl_buf_clear(&out);
	assert_int_equal(fl_repo_read_file(&out, repo, &again, "fleet.yaml", &err), 0);
	assert_string_equal(out.ptr, "name: x\n");

	assert_int_equal(fl_repo_commit_files(&again, repo, bad, 1, "bad", &err), FL_EGIT);
	fl_buf_release(&out);
	fl_repo_free(repo);
}

static void test_memory_reset_refuses_disk_repo(void **state)
{
	struct fl_repo *repo = open_work();
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	assert_int_equal(fl_repo_memory_reset(repo, &err), FL_EINPUT);
	fl_repo_free(repo);
}

static void test_init_commit_all(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf got = FL_BUF_INIT;
	struct fl_oid first, second;
	char dir[256], hex[FL_OID_HEX_LEN + 1];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/init", root);
	fl_test_run("mkdir -p %s/sub", dir);
	write_file(dir, "a.txt", "alpha\n");
	write_file(dir, "sub/b.txt", "beta\n");

	assert_int_equal(fl_repo_init_commit_all(&first, dir, "first commit", &err), 0);
	fl_oid_hex(hex, &first);
	fl_test_capture(&got, "git -C %s rev-parse HEAD", dir);
	assert_string_equal(got.ptr, hex);
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s log --format='%%an <%%ae> %%s'", dir);
	assert_string_equal(got.ptr, "flotilla <flotilla@localhost> first commit");
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s show HEAD:sub/b.txt", dir);
	assert_string_equal(got.ptr, "beta");
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s status --porcelain", dir);
	assert_string_equal(got.ptr, "");
	fl_buf_clear(&got);
	/* Branch main, as the README and the CI templates say, whatever git's default is. */
	fl_test_capture(&got, "git -C %s -c init.defaultBranch=master symbolic-ref HEAD", dir);
	assert_string_equal(got.ptr, "refs/heads/main");
	fl_buf_clear(&got);

	/* Again on the existing repository: a second commit on top, by the configured author. */
	fl_test_run("git -C %s config user.name Configured && git -C %s config user.email c@example.com", dir, dir);
	write_file(dir, "c.txt", "gamma\n");
	assert_int_equal(fl_repo_init_commit_all(&second, dir, "second", &err), 0);
	fl_test_capture(&got, "git -C %s log --oneline | wc -l", dir);
	assert_string_equal(got.ptr, "2");
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s log -1 --format='%%an <%%ae> %%s %%P'", dir);
	fl_buf_truncate(&got, got.len > FL_OID_HEX_LEN ? got.len - FL_OID_HEX_LEN : got.len);
	assert_string_equal(got.ptr, "Configured <c@example.com> second ");
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s show HEAD:c.txt", dir);
	assert_string_equal(got.ptr, "gamma");
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s rev-parse HEAD~1", dir);
	assert_string_equal(got.ptr, hex);

	assert_int_equal(fl_repo_init_commit_all(NULL, dir, "third", &err), 0);
	fl_buf_release(&got);
	fl_test_run("rm -rf %s", dir);
}

static void test_init_commit_all_fails(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	char file[256];

	(void)state;
	snprintf(file, sizeof(file), "%s/a-file", root);
	write_file(root, "a-file", "x\n");
	int rc = fl_repo_init_commit_all(NULL, file, "m", &err);
	assert_int_equal(rc, FL_EGIT);
	assert_non_null(strstr(err.msg, "cannot create a repository in '"));
	fl_test_run("rm -f %s", file);
}

/* Clones the work repository to root/name and opens the clone; path gets its path. */
static struct fl_repo *open_clone(char *path, size_t size, const char *name)
{
	struct fl_repo *repo = NULL;
	struct fl_error err = FL_ERROR_INIT;

	snprintf(path, size, "%s/%s", root, name);
	fl_test_run("git clone -q %s %s", work, path);
	if (fl_repo_open(&repo, path, &err))
		fail_msg("open %s: %s", path, err.msg);
	return repo;
}

static void test_gitdir(void **state)
{
	struct fl_repo *repo = NULL;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf real = FL_BUF_INIT;
	char want[512], path[256];

	(void)state;
	/* libgit2 resolves links in the path, as pwd -P does. */
	fl_test_capture(&real, "cd %s && pwd -P", root);
	fl_test_run("git clone -q --bare %s %s/gitdir.git", work, root);
	static const struct {
		const char *open, *want; /* under root */
	} cases[] = {
		{ "work", "work/.git" },
		{ "work/.git", "work/.git" },
		{ "gitdir.git", "gitdir.git" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, cases[i].open);
		snprintf(want, sizeof(want), "%s/%s", real.ptr, cases[i].want);
		if (fl_repo_open(&repo, path, &err))
			fail_msg("%s: %s", cases[i].open, err.msg);
		if (strcmp(fl_repo_gitdir(repo), want))
			fail_msg("%s: got '%s', want '%s'", cases[i].open, fl_repo_gitdir(repo), want);
		fl_repo_free(repo);
	}
	fl_buf_release(&real);
	fl_test_run("rm -rf %s/gitdir.git", root);
}

static void test_commit_time(void **state)
{
	static const char *const revs[] = { "c1", "c4", "c8", "v1^{commit}" };
	struct fl_repo *repo = open_work();
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid commit;
	long long got;

	(void)state;
	for (size_t i = 0; i < sizeof(revs) / sizeof(revs[0]); i++) {
		struct fl_buf want = FL_BUF_INIT;

		rev_parse(&commit, revs[i]);
		if (fl_repo_commit_time(&got, repo, &commit, &err))
			fail_msg("%s: %s", revs[i], err.msg);
		fl_test_capture(&want, "git -C %s show -s --format=%%ct '%s^{commit}'", work, revs[i]);
		if (got != atoll(want.ptr) || got < 1000000000LL)
			fail_msg("%s: got %lld, want %s", revs[i], got, want.ptr);
		fl_buf_release(&want);
	}
	memset(&commit, 0xab, sizeof(commit));
	got = 7;
	assert_int_equal(fl_repo_commit_time(&got, repo, &commit, &err), FL_ENOTFOUND);
	assert_int_equal(got, 0);
	assert_non_null(strstr(err.msg, "cannot read commit abab"));
	fl_repo_free(repo);
}

/* Checks that `git notes --ref=flotilla show` prints exactly text for rev in dir. */
static void check_git_note(const char *dir, const char *rev, const char *text)
{
	struct fl_buf got = FL_BUF_INIT;

	/* The 'x' keeps a final newline from being trimmed by fl_test_capture(). */
	fl_test_capture(&got, "git -C %s notes --ref=flotilla show %s && echo x", dir, rev);
	assert_true(got.len >= 1);
	fl_buf_truncate(&got, got.len - 1);
	assert_string_equal(got.ptr, text);
	fl_buf_release(&got);
}

static void test_notes(void **state)
{
	static const char first[] = "{\n  \"flotilla/plan\": \"pending\"\n}\n";
	static const char second[] = "{\n  \"flotilla/plan\": \"success\",\n  \"tenants\": {}\n}";
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf got = FL_BUF_INIT, small;
	struct fl_oid head, parent, written, at;
	char dir[256], hex[FL_OID_HEX_LEN + 1], msg[256];
	struct fl_repo *repo = open_clone(dir, sizeof(dir), "notes");

	(void)state;
	assert_int_equal(fl_repo_resolve(&head, repo, "HEAD", &err), 0);
	assert_int_equal(fl_repo_resolve(&parent, repo, "HEAD~1", &err), 0);
	fl_oid_hex(hex, &head);

	/* No notes ref at all yet. */
	assert_int_equal(fl_repo_note_read(&got, repo, "refs/notes/flotilla", &head, &err), FL_ENOTFOUND);
	snprintf(msg, sizeof(msg), "commit %.12s has no note in 'refs/notes/flotilla'", hex);
	assert_string_equal(err.msg, msg);
	assert_int_equal(fl_repo_ref_id(&at, repo, "refs/notes/flotilla", &err), FL_ENOTFOUND);
	assert_string_equal(err.msg, "no ref 'refs/notes/flotilla'");

	assert_int_equal(fl_repo_note_write(&written, repo, "refs/notes/flotilla", &head, first, strlen(first),
					    &err), 0);
	check_git_note(dir, hex, first);
	/* The notes commit written is the one the ref names, as git sees it. */
	assert_int_equal(fl_repo_ref_id(&at, repo, "refs/notes/flotilla", &err), 0);
	assert_true(fl_oid_equal(&at, &written));
	fl_oid_hex(msg, &written);
	fl_test_capture(&got, "git -C %s rev-parse refs/notes/flotilla", dir);
	assert_string_equal(got.ptr, msg);
	fl_buf_clear(&got);
	assert_int_equal(fl_repo_note_read(&got, repo, "refs/notes/flotilla", &head, &err), 0);
	assert_string_equal(got.ptr, first);
	fl_buf_clear(&got);

	/* Replaced, not appended; len is honoured (no final newline here). */
	assert_int_equal(fl_repo_note_write(&written, repo, "refs/notes/flotilla", &head, second, strlen(second),
					    &err), 0);
	assert_int_equal(fl_repo_ref_id(&at, repo, "refs/notes/flotilla", &err), 0);
	assert_true(fl_oid_equal(&at, &written));
	check_git_note(dir, hex, second);
	assert_int_equal(fl_repo_note_read(&got, repo, "refs/notes/flotilla", &head, &err), 0);
	assert_string_equal(got.ptr, second);
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s rev-list --count refs/notes/flotilla", dir);
	assert_string_equal(got.ptr, "2");
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s log -1 --format='%%an <%%ae>|%%cn <%%ce>' refs/notes/flotilla", dir);
	assert_string_equal(got.ptr, "flotilla <flotilla@localhost>|flotilla <flotilla@localhost>");
	fl_buf_clear(&got);

	/* Another commit has none. */
	assert_int_equal(fl_repo_note_read(&got, repo, "refs/notes/flotilla", &parent, &err), FL_ENOTFOUND);
	assert_string_equal(got.ptr, "");

	/* A note written by git is read back byte for byte; len cuts the text. */
	fl_test_run("cd %s && " GIT " notes --ref=flotilla add -m 'by git' HEAD~1", dir);
	assert_int_equal(fl_repo_note_read(&got, repo, "refs/notes/flotilla", &parent, &err), 0);
	assert_string_equal(got.ptr, "by git\n");
	fl_buf_clear(&got);
	assert_int_equal(fl_repo_note_write(NULL, repo, "refs/notes/flotilla", &parent, "abcdef", 3, &err), 0);
	check_git_note(dir, "HEAD~1", "abc");
	check_git_note(dir, hex, second);

	/* Limits and bad input. */
	fl_buf_init(&small, 4);
	assert_int_equal(fl_repo_note_read(&small, repo, "refs/notes/flotilla", &head, &err), FL_ELIMIT);
	assert_non_null(strstr(err.msg, "the note of commit"));
	assert_int_equal(fl_repo_note_write(NULL, repo, "refs/notes/flotilla", &head, "a\0b", 3, &err), FL_EINPUT);
	assert_non_null(strstr(err.msg, "contains a NUL byte"));
	check_git_note(dir, hex, second);
	/* Another notes ref is separate. */
	assert_int_equal(fl_repo_note_read(&got, repo, "refs/notes/commits", &head, &err), FL_ENOTFOUND);

	fl_buf_release(&small);
	fl_buf_release(&got);
	fl_repo_free(repo);
	fl_test_run("rm -rf %s", dir);
}

/* A flotilla killed while it wrote the notes ref leaves its lock file behind. */
static void test_note_write_clears_leftover_lock(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid head;
	char dir[256], hex[FL_OID_HEX_LEN + 1], lock[512];
	struct fl_repo *repo = open_clone(dir, sizeof(dir), "notes-lock");

	(void)state;
	assert_int_equal(fl_repo_resolve(&head, repo, "HEAD", &err), 0);
	fl_oid_hex(hex, &head);
	assert_int_equal(fl_repo_note_write(NULL, repo, "refs/notes/flotilla", &head, "one", 3, &err), 0);
	snprintf(lock, sizeof(lock), "%s/refs/notes/flotilla.lock", fl_repo_gitdir(repo));
	fl_test_run("touch %s", lock);

	assert_int_equal(fl_repo_note_write(NULL, repo, "refs/notes/flotilla", &head, "two", 3, &err), 0);
	check_git_note(dir, hex, "two");
	assert_int_equal(access(lock, F_OK), -1);
	fl_repo_free(repo);
	fl_test_run("rm -rf %s", dir);
}

/* Plays `git update-ref`: takes the ref's lock, holds it a while, commits it by rename. */
struct git_writer {
	char lock[512], ref[512], oid[FL_OID_HEX_LEN + 2];
	int renamed;
};

static void *git_writer_run(void *arg)
{
	struct git_writer *w = arg;
	FILE *f = fopen(w->lock, "wx");

	if (!f) {
		w->renamed = -2;
		return NULL;
	}
	fputs(w->oid, f);
	fclose(f);
	struct timespec hold = { 0, 300 * 1000000L };
	nanosleep(&hold, NULL);
	w->renamed = rename(w->lock, w->ref);
	return NULL;
}

/* A lock that a live git command holds is waited for, never taken from it. */
static void test_note_write_waits_for_git(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf got = FL_BUF_INIT;
	struct fl_oid head, parent;
	char dir[256], hex[FL_OID_HEX_LEN + 1];
	struct fl_repo *repo = open_clone(dir, sizeof(dir), "notes-git-lock");
	struct git_writer w = { .renamed = -1 };
	pthread_t thread;

	(void)state;
	assert_int_equal(fl_repo_resolve(&head, repo, "HEAD", &err), 0);
	assert_int_equal(fl_repo_resolve(&parent, repo, "HEAD~1", &err), 0);
	fl_oid_hex(hex, &head);
	assert_int_equal(fl_repo_note_write(NULL, repo, "refs/notes/flotilla", &parent, "by git", 6, &err), 0);
	fl_test_capture(&got, "git -C %s rev-parse refs/notes/flotilla", dir);
	snprintf(w.oid, sizeof(w.oid), "%s\n", got.ptr);
	snprintf(w.lock, sizeof(w.lock), "%s/refs/notes/flotilla.lock", fl_repo_gitdir(repo));
	snprintf(w.ref, sizeof(w.ref), "%s/refs/notes/flotilla", fl_repo_gitdir(repo));

	assert_int_equal(pthread_create(&thread, NULL, git_writer_run, &w), 0);
	while (access(w.lock, F_OK) != 0 && w.renamed == -1)
		sched_yield();
	assert_int_equal(fl_repo_note_write(NULL, repo, "refs/notes/flotilla", &head, "mine", 4, &err), 0);
	pthread_join(thread, NULL);
	assert_int_equal(w.renamed, 0);
	check_git_note(dir, hex, "mine");
	check_git_note(dir, "HEAD~1", "by git");

	fl_buf_release(&got);
	fl_repo_free(repo);
	fl_test_run("rm -rf %s", dir);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * A rollout rewrites the note of its commit after every tenant: 200 writes,
 * the note growing by a tenant's result each time, must stay cheap.
 */
static void test_note_write_speed(void **state)
{
	enum { WRITES = 200 };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf text = FL_BUF_INIT, got = FL_BUF_INIT;
	struct fl_oid head;
	char dir[256], hex[FL_OID_HEX_LEN + 1];
	struct fl_repo *repo = open_clone(dir, sizeof(dir), "notes-speed");
	double start, ms;

	(void)state;
	assert_int_equal(fl_repo_resolve(&head, repo, "HEAD", &err), 0);
	fl_oid_hex(hex, &head);
	start = now_ms();
	for (int i = 0; i < WRITES; i++) {
		fl_buf_truncate(&text, text.len > 2 ? text.len - 2 : 0);
		fl_buf_printf(&text,
			      "%s  \"tenant-%03d\": { \"state\": \"success\", \"wave\": \"canary\" }\n}\n",
			      i ? ",\n" : "{\n", i);
		if (fl_repo_note_write(NULL, repo, "refs/notes/flotilla", &head, text.ptr, text.len, &err))
			fail_msg("write %d: %s", i, err.msg);
	}
	ms = now_ms() - start;
	print_message("note write: %d writes in %.1f ms, %.3f ms each (final note %zu bytes)\n", WRITES, ms,
		      ms / WRITES, text.len);
	check_git_note(dir, hex, text.ptr);
	fl_test_capture(&got, "git -C %s rev-list --count refs/notes/flotilla", dir);
	assert_string_equal(got.ptr, "200");
	/* Generous, for slow sanitizer runs: a full re-read per write would blow it. */
	assert_true(ms / WRITES < 100.0);
	fl_buf_release(&got);
	fl_buf_release(&text);
	fl_repo_free(repo);
	fl_test_run("rm -rf %s", dir);
}

struct tag_list {
	struct fl_buf text; /* one line per tag */
	size_t count, stop_after;
};

static int collect_tag(const struct fl_repo_tag *t, void *payload)
{
	struct tag_list *l = payload;
	char hex[FL_OID_HEX_LEN + 1];

	fl_oid_hex(hex, &t->target);
	fl_buf_printf(&l->text, "%s %s %s %lld <%s> <%s>\n", t->name, hex,
		      t->annotated ? "annotated" : "light", t->time, t->tagger, t->message);
	l->count++;
	return l->stop_after && l->count == l->stop_after ? 5 : 0;
}

/* Expects line somewhere in the listing. */
static void expect_tag(const struct tag_list *l, const char *line)
{
	if (!strstr(l->text.ptr, line))
		fail_msg("missing\n%s\nin\n%s", line, l->text.ptr);
}

static void test_tags(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf when = FL_BUF_INIT;
	struct tag_list l = { FL_BUF_INIT, 0, 0 };
	struct fl_oid c1, c2;
	char dir[256], h1[FL_OID_HEX_LEN + 1], h2[FL_OID_HEX_LEN + 1], line[512];
	struct fl_repo *repo = open_clone(dir, sizeof(dir), "tags");

	(void)state;
	rev_parse(&c1, "c1");
	rev_parse(&c2, "c2");
	fl_oid_hex(h1, &c1);
	fl_oid_hex(h2, &c2);
	fl_test_run("cd %s && " GIT " tag -a flotilla/promote/fleet/%s %s -m why"
	    " && " GIT " tag flotilla/promote/canary/%s %s"
	    " && " GIT " -c advice.nestedTag=false tag -a flotilla/promote/nested -m 'tag of a tag' "
		       "flotilla/promote/fleet/%s"
	    " && " GIT " tag flotilla/promote/tree %s^{tree}"
	    " && " GIT " tag -a flotilla/promote/blob -m blob %s:README.md"
	    " && " GIT " tag -a flotilla/promotexyz -m other %s"
	    " && " GIT " tag flotilla/other %s",
	    dir, h1, h1, h2, h2, h1, h1, h1, h1, h1);
	fl_test_capture(&when,
		"git -C %s for-each-ref --format='%%(taggerdate:unix)' refs/tags/flotilla/promote/fleet/%s",
		dir, h1);

	for (int packed = 0; packed < 2; packed++) {
		fl_buf_clear(&l.text);
		l.count = 0;
		assert_int_equal(fl_repo_tags(repo, "flotilla/promote/", collect_tag, &l, &err), 0);
		snprintf(line, sizeof(line),
			 "flotilla/promote/fleet/%s %s annotated %s <Tester <tester@example.com>> <why\n>\n",
			 h1, h1, when.ptr);
		expect_tag(&l, line);
		snprintf(line, sizeof(line), "flotilla/promote/canary/%s %s light 0 <> <>\n", h2, h2);
		expect_tag(&l, line);
		snprintf(line, sizeof(line), "flotilla/promote/nested %s annotated ", h1);
		expect_tag(&l, line);
		/* The tree, the blob and the tags outside the prefix are skipped. */
		if (l.count != 3)
			fail_msg("%s pass: got %zu tags:\n%s", packed ? "packed" : "loose", l.count,
				 l.text.ptr);
		fl_test_run("git -C %s pack-refs --all", dir);
	}

	/* Every tag with an empty prefix: c1..c8, v1 and the seven above less the tree and blob. */
	fl_buf_clear(&l.text);
	l.count = 0;
	assert_int_equal(fl_repo_tags(repo, "", collect_tag, &l, &err), 0);
	assert_int_equal(l.count, 8 + 1 + 5);
	snprintf(line, sizeof(line), "v1 %s annotated", h1);
	expect_tag(&l, line);

	/* No match, and a stop from the callback. */
	l.count = 0;
	assert_int_equal(fl_repo_tags(repo, "nope/", collect_tag, &l, &err), 0);
	assert_int_equal(l.count, 0);
	l.stop_after = 1;
	assert_int_equal(fl_repo_tags(repo, "flotilla/promote/", collect_tag, &l, &err), 5);
	assert_int_equal(l.count, 1);

	fl_buf_release(&when);
	fl_buf_release(&l.text);
	fl_repo_free(repo);
	fl_test_run("rm -rf %s", dir);
}

static void test_tag_create(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf got = FL_BUF_INIT, before = FL_BUF_INIT, want = FL_BUF_INIT;
	struct tag_list l = { FL_BUF_INIT, 0, 0 };
	struct fl_oid c1, c2;
	char dir[256], h1[FL_OID_HEX_LEN + 1], h2[FL_OID_HEX_LEN + 1], name[128], msg[512];
	struct fl_repo *repo = open_clone(dir, sizeof(dir), "tag-create");

	(void)state;
	rev_parse(&c1, "c1");
	rev_parse(&c2, "c2");
	fl_oid_hex(h1, &c1);
	fl_oid_hex(h2, &c2);
	snprintf(name, sizeof(name), "flotilla/promote/prod/%s", h2);

	assert_int_equal(fl_repo_tag_create(repo, name, &c2, "canary was healthy", &err), 0);
	fl_test_capture(&got, "git -C %s cat-file -t refs/tags/%s", dir, name);
	assert_string_equal(got.ptr, "tag");
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s cat-file -p refs/tags/%s | sed 's/> [0-9]* [-+][0-9]*$/> TIME/'", dir, name);
	fl_buf_printf(&want,
		      "object %s\ntype commit\ntag %s\ntagger flotilla <flotilla@localhost> TIME\n\n"
		      "canary was healthy",
		      h2, name);
	assert_string_equal(got.ptr, want.ptr);
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s rev-parse 'refs/tags/%s^{commit}'", dir, name);
	assert_string_equal(got.ptr, h2);
	fl_buf_clear(&got);

	/* Listed like a tag made with git. */
	assert_int_equal(fl_repo_tags(repo, "flotilla/promote/prod/", collect_tag, &l, &err), 0);
	assert_int_equal(l.count, 1);
	assert_non_null(strstr(l.text.ptr, " <flotilla <flotilla@localhost>> <canary was healthy\n>\n"));

	/* Again on the same commit: nothing changes. */
	fl_test_capture(&before, "git -C %s rev-parse refs/tags/%s", dir, name);
	assert_int_equal(fl_repo_tag_create(repo, name, &c2, "another reason", &err), 0);
	fl_test_capture(&got, "git -C %s rev-parse refs/tags/%s", dir, name);
	assert_string_equal(got.ptr, before.ptr);
	fl_buf_clear(&got);

	/* On another commit: refused, and the tag stays. */
	assert_int_equal(fl_repo_tag_create(repo, name, &c1, "oops", &err), FL_EINPUT);
	snprintf(msg, sizeof(msg), "tag '%s' exists already on commit %.12s", name, h2);
	assert_string_equal(err.msg, msg);
	fl_test_capture(&got, "git -C %s rev-parse refs/tags/%s", dir, name);
	assert_string_equal(got.ptr, before.ptr);
	fl_buf_clear(&got);
	/* A lightweight tag made by git counts too. */
	assert_int_equal(fl_repo_tag_create(repo, "c1", &c1, "same", &err), 0);
	assert_int_equal(fl_repo_tag_create(repo, "c1", &c2, "other", &err), FL_EINPUT);

	/* The configured tagger is used when there is one. */
	fl_test_run("git -C %s config user.name Configured && git -C %s config user.email c@example.com", dir, dir);
	fl_repo_free(repo);
	assert_int_equal(fl_repo_open(&repo, dir, &err), 0);
	assert_int_equal(fl_repo_tag_create(repo, "flotilla/promote/x", &c1, "\nwhy\n\n", &err), 0);
	fl_test_capture(&got,
		"git -C %s for-each-ref --format='%%(taggername) %%(taggeremail)|%%(contents)' "
		"refs/tags/flotilla/promote/x",
		dir);
	assert_string_equal(got.ptr, "Configured <c@example.com>|why\n");
	fl_buf_clear(&got);

	/* Bad names and commits. */
	assert_int_equal(fl_repo_tag_create(repo, "bad..name", &c1, "m", &err), FL_EINPUT);
	assert_string_equal(err.msg, "invalid tag name 'bad..name'");
	memset(&c1, 0xab, sizeof(c1));
	assert_int_equal(fl_repo_tag_create(repo, "flotilla/promote/y", &c1, "m", &err), FL_ENOTFOUND);
	assert_non_null(strstr(err.msg, "cannot read commit abab"));

	fl_buf_release(&l.text);
	fl_buf_release(&want);
	fl_buf_release(&before);
	fl_buf_release(&got);
	fl_repo_free(repo);
	fl_test_run("rm -rf %s", dir);
}

/* Expects path (under dir) to be a regular file with content, executable or not. */
static void expect_file(const char *dir, const char *path, const char *content, bool exec)
{
	struct fl_buf got = FL_BUF_INIT;
	struct stat st;
	char full[512];

	snprintf(full, sizeof(full), "%s/%s", dir, path);
	if (lstat(full, &st) != 0 || !S_ISREG(st.st_mode))
		fail_msg("'%s' is not a file", path);
	if (((st.st_mode & 0100) != 0) != exec)
		fail_msg("'%s': mode %o", path, (unsigned)st.st_mode);
	fl_test_capture(&got, "cat %s && echo x", full);
	fl_buf_truncate(&got, got.len - 1);
	assert_string_equal(got.ptr, content);
	fl_buf_release(&got);
}

static void expect_link(const char *dir, const char *path, const char *target)
{
	char full[512], got[512];
	struct stat st;
	ssize_t n;

	snprintf(full, sizeof(full), "%s/%s", dir, path);
	if (lstat(full, &st) != 0 || !S_ISLNK(st.st_mode))
		fail_msg("'%s' is not a link", path);
	n = readlink(full, got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, target);
}

static void test_export_tree(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf got = FL_BUF_INIT;
	struct fl_repo *repo = NULL;
	struct fl_oid head, c1, missing;
	char src[256], out[256], slash[260];

	(void)state;
	snprintf(src, sizeof(src), "%s/export-src", root);
	snprintf(out, sizeof(out), "%s/export-out", root);
	fl_test_run("mkdir -p %s/charts/web/templates %s && cd %s && " GIT " init -q"
	    " && printf 'top\\n' >a.txt"
	    " && printf '#!/bin/sh\\necho hi\\n' >run.sh && chmod 755 run.sh"
	    " && printf 'kind: Deployment\\n' >charts/web/templates/deploy.yaml"
	    " && printf '' >charts/web/empty"
	    " && printf '#!/bin/sh\\n' >charts/web/hook && chmod +x charts/web/hook"
	    " && ln -s a.txt link && ln -s ../../a.txt charts/web/up && ln -s /etc/hostname abs"
	    " && " GIT " add -A && " GIT " commit -q -m export",
	    src, out, src);
	assert_int_equal(fl_repo_open(&repo, src, &err), 0);
	assert_int_equal(fl_repo_resolve(&head, repo, "HEAD", &err), 0);

	for (int pass = 0; pass < 2; pass++) {
		/* The second pass writes over the first: files and links are replaced. */
		if (fl_repo_export_tree(repo, &head, out, &err))
			fail_msg("pass %d: %s", pass, err.msg);
		expect_file(out, "a.txt", "top\n", false);
		expect_file(out, "run.sh", "#!/bin/sh\necho hi\n", true);
		expect_file(out, "charts/web/templates/deploy.yaml", "kind: Deployment\n", false);
		expect_file(out, "charts/web/empty", "", false);
		expect_file(out, "charts/web/hook", "#!/bin/sh\n", true);
		expect_link(out, "link", "a.txt");
		expect_link(out, "charts/web/up", "../../a.txt");
		expect_link(out, "abs", "/etc/hostname");
		/* Nothing else: no .git, no index. */
		fl_buf_clear(&got);
		fl_test_capture(&got, "cd %s && find . | LC_ALL=C sort | tr '\\n' ' '", out);
		assert_string_equal(
			got.ptr, ". ./a.txt ./abs ./charts ./charts/web ./charts/web/empty ./charts/web/hook "
				 "./charts/web/templates ./charts/web/templates/deploy.yaml ./charts/web/up "
				 "./link ./run.sh ");
	}
	/* Into a fresh directory named with a trailing slash. */
	fl_test_run("rm -rf %s && mkdir %s", out, out);
	snprintf(slash, sizeof(slash), "%s/", out);
	assert_int_equal(fl_repo_export_tree(repo, &head, slash, &err), 0);
	expect_link(out, "charts/web/up", "../../a.txt");
	expect_file(out, "charts/web/hook", "#!/bin/sh\n", true);
	fl_repo_free(repo);
	fl_test_run("rm -rf %s && mkdir %s", out, out);

	/* Another repository's commit, with a mode change and a file turned directory. */
	repo = open_work();
	rev_parse(&c1, "c8");
	assert_int_equal(fl_repo_export_tree(repo, &c1, out, &err), 0);
	expect_file(out, "tenants/gamma.yaml", "name: gamma\n", true);
	expect_file(out, "conf/a", "a\n", false);
	fl_buf_clear(&got);
	assert_int_equal(fl_repo_read_file(&got, repo, &c1, "tenants/acme/x.yaml", &err), 0);
	assert_string_equal(got.ptr, "x: 2\n");

	memset(&missing, 0xab, sizeof(missing));
	assert_int_equal(fl_repo_export_tree(repo, &missing, out, &err), FL_ENOTFOUND);
	/* A missing target directory fails on the first file. */
	assert_int_equal(fl_repo_export_tree(repo, &c1, "/nonexistent/dir", &err), FL_EIO);
	assert_non_null(strstr(err.msg, "/nonexistent/dir/"));

	fl_buf_release(&got);
	fl_repo_free(repo);
	fl_test_run("rm -rf %s %s", src, out);
}

/*
 * Writes a tree object with one entry (mode, name, id) that git itself would
 * refuse to make, and a commit of it; *out gets the commit.
 */
static void make_bad_commit(struct fl_oid *out, const char *dir, const char *mode, const char *name,
			    const struct fl_oid *id)
{
	struct fl_buf hex = FL_BUF_INIT;
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "git -C %s hash-object -t tree --literally -w --stdin >%s/tree-id", dir,
		 root);
	FILE *f = popen(cmd, "w");
	assert_non_null(f);
	fprintf(f, "%s %s", mode, name);
	fputc('\0', f);
	fwrite(id->id, 1, sizeof(id->id), f);
	assert_int_equal(pclose(f), 0);
	fl_test_capture(&hex, "cd %s && " GIT " commit-tree -m bad $(cat %s/tree-id)", dir, root);
	fl_test_parse_oid(out, hex.ptr);
	fl_buf_release(&hex);
}

static void test_export_tree_unsafe(void **state)
{
	static const struct {
		const char *mode, *name;
		bool tree; /* the entry is the tree holding "escaped", else the blob */
	} cases[] = {
		{ "40000", "..", true },
		{ "40000", ".", true },
		{ "40000", ".git", true },
		{ "40000", ".GIT", true },
		{ "100644", "../escaped", false },
		{ "100644", "sub/escaped", false },
		{ "100644", "/tmp/escaped", false },
		{ "100644", "..", false },
	};
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf hex = FL_BUF_INIT;
	struct fl_oid blob, tree, bad;
	char src[256], out[256], escaped[300], msg[512], blob_hex[FL_OID_HEX_LEN + 1];
	struct fl_repo *repo = open_clone(src, sizeof(src), "unsafe");

	(void)state;
	snprintf(out, sizeof(out), "%s/unsafe-out/inner", root);
	snprintf(escaped, sizeof(escaped), "%s/unsafe-out/escaped", root);
	fl_test_run("mkdir -p %s", out);
	fl_test_capture(&hex, "cd %s && printf 'pwned\\n' | git hash-object -w --stdin", src);
	fl_test_parse_oid(&blob, hex.ptr);
	fl_oid_hex(blob_hex, &blob);
	fl_buf_clear(&hex);
	fl_test_capture(&hex, "cd %s && printf '100644 blob %s\\tescaped\\n' | git mktree", src, blob_hex);
	fl_test_parse_oid(&tree, hex.ptr);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_bad_commit(&bad, src, cases[i].mode, cases[i].name, cases[i].tree ? &tree : &blob);
		int rc = fl_repo_export_tree(repo, &bad, out, &err);
		if (rc != FL_EINPUT)
			fail_msg("'%s': got %d (%s)", cases[i].name, rc, err.msg);
		snprintf(msg, sizeof(msg), "refusing to export '%s/%s': unsafe name", out, cases[i].name);
		assert_string_equal(err.msg, msg);
		if (access(escaped, F_OK) == 0)
			fail_msg("'%s': wrote outside the directory", cases[i].name);
	}
	/* A link with an empty target. */
	fl_test_run("cd %s && printf '' | git hash-object -w --stdin >%s/empty-id", src, root);
	fl_buf_clear(&hex);
	fl_test_capture(&hex, "cat %s/empty-id", root);
	fl_test_parse_oid(&blob, hex.ptr);
	make_bad_commit(&bad, src, "120000", "link", &blob);
	assert_int_equal(fl_repo_export_tree(repo, &bad, out, &err), FL_EINPUT);
	snprintf(msg, sizeof(msg), "symbolic link '%s/link' has a bad target", out);
	assert_string_equal(err.msg, msg);

	fl_buf_release(&hex);
	fl_repo_free(repo);
	fl_test_run("rm -rf %s %s/unsafe-out %s/tree-id %s/empty-id", src, root, root, root);
}

struct annotated {
	struct fl_buf hexes; /* "<hex>\n" each, in the order given */
	size_t count;
	size_t stop_at; /* the callback returns FL_EINPUT at this count; 0: never */
};

static int collect_annotated(const struct fl_oid *id, void *payload)
{
	struct annotated *a = payload;
	char hex[FL_OID_HEX_LEN + 1];
	fl_oid_hex(hex, id);
	fl_buf_printf(&a->hexes, "%s\n", hex);
	return ++a->count == a->stop_at ? FL_EINPUT : 0;
}

static void test_notes_each(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct annotated a = { FL_BUF_INIT, 0, 0 };
	struct fl_buf want = FL_BUF_INIT;
	char dir[256];
	struct fl_repo *repo = open_clone(dir, sizeof(dir), "notes-each");

	(void)state;
	/* No notes ref: nothing, and no error. */
	assert_int_equal(fl_repo_notes_each(repo, "refs/notes/flotilla", collect_annotated, &a, &err), 0);
	assert_int_equal(a.count, 0);

	fl_test_run("cd %s && " GIT " notes --ref=flotilla add -m one c2 && " GIT " notes --ref=flotilla add -m two c5"
		    " && " GIT " notes --ref=other add -m three c1", dir);
	assert_int_equal(fl_repo_notes_each(repo, "refs/notes/flotilla", collect_annotated, &a, &err), 0);
	assert_int_equal(a.count, 2);
	fl_test_capture(&want, "cd %s && git notes --ref=flotilla list | cut -d' ' -f2 | sort", dir);
	fl_buf_clear(&a.hexes);
	a.count = 0;
	assert_int_equal(fl_repo_notes_each(repo, "refs/notes/flotilla", collect_annotated, &a, &err), 0);
	struct fl_buf sorted = FL_BUF_INIT;
	fl_test_capture(&sorted, "printf '%s' | sort", a.hexes.ptr);
	assert_string_equal(sorted.ptr, want.ptr);

	/* The callback's code stops the walk and comes back as it was. */
	a.count = 0;
	a.stop_at = 1;
	assert_int_equal(fl_repo_notes_each(repo, "refs/notes/flotilla", collect_annotated, &a, &err), FL_EINPUT);
	assert_int_equal(a.count, 1);

	fl_buf_release(&sorted);
	fl_buf_release(&want);
	fl_buf_release(&a.hexes);
	fl_repo_free(repo);
}

static void test_branch_commit(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf got = FL_BUF_INIT, head_before = FL_BUF_INIT;
	struct fl_oid c3, made;
	char dir[256], hex[FL_OID_HEX_LEN + 1], c3hex[FL_OID_HEX_LEN + 1];
	struct fl_repo *repo = open_clone(dir, sizeof(dir), "branch-commit");
	const struct fl_repo_file files[] = {
		{ "tenants/gamma.yaml", "name: gamma\naccount: \"1\"\n", 25 },
		{ "tenants/new/deep.yaml", "x: 1\n", 5 },
	};

	(void)state;
	fl_test_run("git -C %s config user.name Configured && git -C %s config user.email c@example.com", dir, dir);
	fl_repo_free(repo);
	assert_int_equal(fl_repo_open(&repo, dir, &err), 0);
	fl_test_capture(&head_before, "git -C %s rev-parse HEAD", dir);
	assert_int_equal(fl_repo_resolve(&c3, repo, "c3", &err), 0);
	fl_oid_hex(c3hex, &c3);

	assert_int_equal(fl_repo_branch_commit(&made, repo, "flotilla/account/gamma", &c3, files, 2, "Onboard gamma\n",
					       &err), 0);
	fl_oid_hex(hex, &made);
	fl_test_capture(&got, "git -C %s rev-parse flotilla/account/gamma", dir);
	assert_string_equal(got.ptr, hex);
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s rev-parse flotilla/account/gamma^", dir);
	assert_string_equal(got.ptr, c3hex);
	fl_buf_clear(&got);
	/* Only the files given changed; the author is the configured one. */
	fl_test_capture(&got, "git -C %s diff --name-status c3 flotilla/account/gamma | tr '\\t\\n' ' ;'", dir);
	assert_string_equal(got.ptr, "M tenants/gamma.yaml;A tenants/new/deep.yaml;");
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s show flotilla/account/gamma:tenants/gamma.yaml", dir);
	assert_string_equal(got.ptr, "name: gamma\naccount: \"1\"");
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s log -1 --format='%%an <%%ae>|%%s' flotilla/account/gamma", dir);
	assert_string_equal(got.ptr, "Configured <c@example.com>|Onboard gamma");
	fl_buf_clear(&got);
	/* HEAD, the index and the work tree are left alone. */
	fl_test_capture(&got, "git -C %s rev-parse HEAD", dir);
	assert_string_equal(got.ptr, head_before.ptr);
	fl_buf_clear(&got);
	fl_test_capture(&got, "git -C %s status --porcelain", dir);
	assert_string_equal(got.ptr, "");
	fl_buf_clear(&got);

	/* An existing branch is never moved; a bad name is refused. */
	assert_int_equal(fl_repo_branch_commit(&made, repo, "flotilla/account/gamma", &c3, files, 1, "again\n", &err),
			 FL_EINPUT);
	assert_string_equal(err.msg, "branch 'flotilla/account/gamma' exists already");
	fl_test_capture(&got, "git -C %s rev-parse flotilla/account/gamma", dir);
	assert_string_equal(got.ptr, hex);
	fl_buf_clear(&got);
	assert_int_equal(fl_repo_branch_commit(&made, repo, "bad..name", &c3, files, 1, "x\n", &err), FL_EINPUT);
	assert_string_equal(err.msg, "invalid branch name 'bad..name'");

	fl_buf_release(&got);
	fl_buf_release(&head_before);
	fl_repo_free(repo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oid_hex),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_read_file_appends),
		cmocka_unit_test(test_list_dir),
		cmocka_unit_test(test_list_dir_reentrant),
		cmocka_unit_test(test_changed_paths),
		cmocka_unit_test(test_changed_paths_unknown),
		cmocka_unit_test(test_changed_paths_odd_mode),
		cmocka_unit_test(test_dir_find),
		cmocka_unit_test(test_is_ancestor),
		cmocka_unit_test(test_path_id),
		cmocka_unit_test(test_read_blob),
		cmocka_unit_test(test_memory_commit_files),
		cmocka_unit_test(test_memory_reset_refuses_disk_repo),
		cmocka_unit_test(test_init_commit_all),
		cmocka_unit_test(test_init_commit_all_fails),
		cmocka_unit_test(test_gitdir),
		cmocka_unit_test(test_commit_time),
		cmocka_unit_test(test_notes),
		cmocka_unit_test(test_note_write_clears_leftover_lock),
		cmocka_unit_test(test_note_write_waits_for_git),
		cmocka_unit_test(test_note_write_speed),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_tag_create),
		cmocka_unit_test(test_notes_each),
		cmocka_unit_test(test_branch_commit),
		cmocka_unit_test(test_export_tree),
		cmocka_unit_test(test_export_tree_unsafe),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
