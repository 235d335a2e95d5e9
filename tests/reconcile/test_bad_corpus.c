/*
 * The bad-input corpus: every directory under $FL_FIXTURES/bad (default: the
 * fixtures/bad folder next to this source tree) is a fleet with one defect
 * and a file `expected` holding the first error line flotilla must print.
 * Each is committed to a temporary repository and loaded with fl_fleet_load,
 * which must fail with exactly that line first.
 */
#include <dirent.h>
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
#include "reconcile/fleet/fleet.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define GIT FL_TEST_GIT

/* $FL_FIXTURES/bad, or fixtures/bad beside tests/ in the source tree. */
static void corpus_dir(char *out, size_t cap)
{
	const char *env = getenv("FL_FIXTURES");
	const char *file = __FILE__, *cut = strstr(file, "tests/reconcile/");

	if (env && *env)
		snprintf(out, cap, "%s/bad", env);
	else if (cut)
		snprintf(out, cap, "%.*sfixtures/bad", (int)(cut - file), file);
	else
		snprintf(out, cap, "fixtures/bad");
}

/* The first line of a file, without its newline. */
static void read_first_line(char *out, size_t cap, const char *path)
{
	FILE *f = fopen(path, "rb");

	out[0] = '\0';
	if (!f)
		fail_msg("cannot read %s", path);
	if (!fgets(out, (int)cap, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* Loads the fleet of case dir; returns 0 when it matched its expected line. */
static int check_case(const char *corpus, const char *name)
{
	char dir[64], expected[700], got[700] = "", path[1024];
	struct fl_repo *repo = NULL;
	struct fl_fleet *fleet = NULL;
	struct fl_diags diags = { NULL, 0, 0, 0 };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out = FL_BUF_INIT;
	struct fl_oid commit;
	int rc, bad = 1;

	snprintf(path, sizeof(path), "%s/%s/expected", corpus, name);
	read_first_line(expected, sizeof(expected), path);
	snprintf(dir, sizeof(dir), "/tmp/fl-test-corpus-XXXXXX");
	assert_non_null(mkdtemp(dir));
	fl_test_run("cp -r '%s/%s/.' '%s/' && rm -f '%s/expected'", corpus, name, dir, dir);
	fl_test_run("cd '%s' && " GIT " init -q && " GIT " add -A && " GIT " commit -q --allow-empty -m bad", dir);
	assert_int_equal(fl_repo_open(&repo, dir, &err), 0);
	assert_int_equal(fl_repo_resolve(&commit, repo, "HEAD", &err), 0);
	rc = fl_fleet_load(&fleet, repo, &commit, NULL, &diags, &err);
	if (rc == 0) {
		snprintf(got, sizeof(got), "(loaded without error)");
	} else if (diags.len == 0) {
		snprintf(got, sizeof(got), "(rc %d, no diagnostics: %s)", rc, err.msg);
	} else {
		fl_error_format(&out, &diags.items[0]);
		snprintf(got, sizeof(got), "%.*s", (int)strcspn(out.ptr, "\n"), out.ptr);
		bad = strcmp(got, expected) != 0 || (rc != FL_EINPUT && rc != FL_ELIMIT) || fleet != NULL;
	}
	if (bad)
		fprintf(stderr, "case %s:\n  expected: %s\n  got:      %s\n", name, expected, got);
	fl_buf_release(&out);
	fl_diags_release(&diags);
	fl_fleet_free(fleet);
	fl_repo_free(repo);
	fl_test_run("rm -rf '%s'", dir);
	return bad;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_bad_corpus(void **state)
{
	char corpus[900];
	char *names[512];
	size_t n = 0, failures = 0;
	struct dirent *e;
	DIR *d;
	(void)state;

	corpus_dir(corpus, sizeof(corpus));
	d = opendir(corpus);
	if (!d)
		fail_msg("cannot open the corpus at %s", corpus);
	while ((e = readdir(d)) != NULL && n < 512) {
		char path[1200];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s/expected", corpus, e->d_name);
		if (e->d_name[0] != '.' && stat(path, &st) == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		failures += (size_t)check_case(corpus, names[i]);
		free(names[i]);
	}
	fprintf(stderr, "bad corpus: %zu cases, %zu failed\n", n, failures);
	assert_true(n >= 32);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
