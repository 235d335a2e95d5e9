/*
 * Tests of core/git.c against real repositories made with the git command in
 * a temporary directory: a work tree with a few commits, a bare clone of it,
 * and directories committed by fl_repo_init_commit_all().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "core/banned.h"

#define GIT \
	"git -c user.name=Tester -c user.email=tester@example.com -c init.defaultBranch=main" \
	" -c commit.gpgsign=false -c tag.gpgsign=false"

/* The temporary directory, shared by the tests of the group. */
static char root[64];
static char work[128]; /* root/work: the repository with tags c1..c8 */

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void capture(struct fl_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs a shell command made from fmt; fails the test unless it succeeds. */
static void run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* Runs a shell command and appends its standard output to out, minus a final newline. */
static void capture(struct fl_buf *out, const char *fmt, ...)
{
	char cmd[4096], chunk[4096];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	int len = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(len > 0 && (size_t)len < sizeof(cmd));
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(fl_buf_put(out, chunk, n), 0);
	if (pclose(f) != 0)
		fail_msg("command failed: %s", cmd);
	if (out->len && out->ptr[out->len - 1] == '\n')
		fl_buf_truncate(out, out->len - 1);
}

static void parse_oid(struct fl_oid *out, const char *hex)
{
	assert_int_equal(strlen(hex), FL_OID_HEX_LEN);
	for (size_t i = 0; i < sizeof(out->id); i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out->id[i] = (unsigned char)v;
	}
}

/* The id git rev-parse gives for spec in the work repository. */
static void rev_parse(struct fl_oid *out, const char *spec)
{
	struct fl_buf hex = FL_BUF_INIT;

	capture(&hex, "git -C %s rev-parse '%s'", work, spec);
	parse_oid(out, hex.ptr);
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
	snprintf(root, sizeof(root), "/tmp/fl-test-git-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	/* Keep the user's and the system's git configuration out of the tests. */
	setenv("HOME", root, 1);
	setenv("XDG_CONFIG_HOME", root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	snprintf(work, sizeof(work), "%s/work", root);

	run("mkdir -p %s/tenants/acme && cd %s && " GIT " init -q"
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
	run("rm -rf %s", root);
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
	parse_oid(&a, s);
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
	run("git clone -q --bare %s %s/bare.git && mkdir -p %s/plain", work, root, root);
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
	run("rm -rf %s/bare.git %s/plain", root, root);
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
	capture(&shortsha, "git -C %s rev-parse --short=7 c2", work);
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

static int collect_path(const char *path, void *payload)
{
	struct changes *c = payload;

	fl_buf_printf(&c->text, "%s\n", path);
	return 0;
}

static void test_changed_paths(void **state)
{
	static const struct {
		const char *name, *old, *new, *want;
	} cases[] = {
		{ "modify", "c1", "c2", "tenants/acme.yaml\n" },
		{ "add", "c2", "c3", "tenants/gamma.yaml\n" },
		{ "delete", "c3", "c4", "tenants/beta.yaml\n" },
		{ "nested", "c4", "c5", "tenants/acme/x.yaml\n" },
		{ "no change", "c5", "c6", "" },
		{ "same commit", "c3", "c3", "" },
		{ "file to directory", "c6", "c7", "conf\nconf/a\n" },
		{ "directory to file", "c7", "c6", "conf\nconf/a\n" },
		{ "mode", "c7", "c8", "tenants/gamma.yaml\n" },
		{ "several", "c1", "c5",
		  "tenants/acme.yaml\ntenants/acme/x.yaml\ntenants/beta.yaml\ntenants/gamma.yaml\n" },
		{ "backwards", "c5", "c1",
		  "tenants/acme.yaml\ntenants/acme/x.yaml\ntenants/beta.yaml\ntenants/gamma.yaml\n" },
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

static void test_init_commit_all(void **state)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf got = FL_BUF_INIT;
	struct fl_oid first, second;
	char dir[256], hex[FL_OID_HEX_LEN + 1];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/init", root);
	run("mkdir -p %s/sub", dir);
	write_file(dir, "a.txt", "alpha\n");
	write_file(dir, "sub/b.txt", "beta\n");

	assert_int_equal(fl_repo_init_commit_all(&first, dir, "first commit", &err), 0);
	fl_oid_hex(hex, &first);
	capture(&got, "git -C %s rev-parse HEAD", dir);
	assert_string_equal(got.ptr, hex);
	fl_buf_clear(&got);
	capture(&got, "git -C %s log --format='%%an <%%ae> %%s'", dir);
	assert_string_equal(got.ptr, "flotilla <flotilla@localhost> first commit");
	fl_buf_clear(&got);
	capture(&got, "git -C %s show HEAD:sub/b.txt", dir);
	assert_string_equal(got.ptr, "beta");
	fl_buf_clear(&got);
	capture(&got, "git -C %s status --porcelain", dir);
	assert_string_equal(got.ptr, "");
	fl_buf_clear(&got);

	/* Again on the existing repository: a second commit on top, by the configured author. */
	run("git -C %s config user.name Configured && git -C %s config user.email c@example.com", dir, dir);
	write_file(dir, "c.txt", "gamma\n");
	assert_int_equal(fl_repo_init_commit_all(&second, dir, "second", &err), 0);
	capture(&got, "git -C %s log --oneline | wc -l", dir);
	assert_string_equal(got.ptr, "2");
	fl_buf_clear(&got);
	capture(&got, "git -C %s log -1 --format='%%an <%%ae> %%s %%P'", dir);
	fl_buf_truncate(&got, got.len > FL_OID_HEX_LEN ? got.len - FL_OID_HEX_LEN : got.len);
	assert_string_equal(got.ptr, "Configured <c@example.com> second ");
	fl_buf_clear(&got);
	capture(&got, "git -C %s show HEAD:c.txt", dir);
	assert_string_equal(got.ptr, "gamma");
	fl_buf_clear(&got);
	capture(&got, "git -C %s rev-parse HEAD~1", dir);
	assert_string_equal(got.ptr, hex);

	assert_int_equal(fl_repo_init_commit_all(NULL, dir, "third", &err), 0);
	fl_buf_release(&got);
	run("rm -rf %s", dir);
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
	run("rm -f %s", file);
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
		cmocka_unit_test(test_is_ancestor),
		cmocka_unit_test(test_path_id),
		cmocka_unit_test(test_read_blob),
		cmocka_unit_test(test_init_commit_all),
		cmocka_unit_test(test_init_commit_all_fails),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
