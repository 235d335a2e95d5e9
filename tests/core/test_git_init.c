/*
 * Tests of core/git_init.c: libgit2's start records the CA file it would
 * parse and parses nothing, and leaves libssh2 unstarted; the first fetch
 * loads the file and starts libssh2, once; every parse after the start is
 * the real one. The tests share one process, whose
 * libgit2 starts once, so they run in this order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <git2.h>

#include "core/error.h"
#include "core/git.h"
#include "core/git_init.h"
#include "core/remote.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define GIT FL_TEST_GIT

static char root[64];

/* Opening a repository starts libgit2: the CA file is named, not parsed. */
static void test_start_puts_the_parse_off(void **state)
{
	struct fl_repo *repo = NULL;
	struct fl_error err = FL_ERROR_INIT;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/repo", root);
	fl_test_run(GIT " init -q %s", path);
	assert_int_equal(fl_repo_open(&repo, path, &err), 0);
	struct fl_git_ca_state s = fl_git_ca_state();
	/* Debian's libgit2 is built on mbedTLS and parses its default CA file at its start. */
	assert_non_null(s.deferred);
	assert_int_equal(access(s.deferred, R_OK), 0);
	assert_int_equal(s.parsed, 0);
	/* Debian's libgit2 has ssh remotes through libssh2, and starts it at its own start. */
	assert_true(s.ssh_deferred);
	assert_int_equal(s.ssh_started, 0);
	fl_repo_free(repo);
}

/* A fetch loads the file put off, and the next fetch does not load it again. */
static void test_fetch_loads_it_once(void **state)
{
	static const char *const notes[] = { "refs/notes/flotilla" };
	struct fl_remote_opts opts = { .notes_refs = notes, .nnotes_refs = 1 };
	struct fl_error err = FL_ERROR_INIT;
	char work[128], server[128], url[160], cache[128];

	(void)state;
	snprintf(work, sizeof(work), "%s/work", root);
	snprintf(server, sizeof(server), "%s/server.git", root);
	snprintf(url, sizeof(url), "file://%s", server);
	snprintf(cache, sizeof(cache), "%s/cache", root);
	fl_test_run(GIT " init -q %s && echo one >%s/f && " GIT " -C %s add f && " GIT " -C %s commit -q -m one && " GIT
		    " init -q --bare %s && " GIT " -C %s push -q %s main",
		    work, work, work, work, server, work, server);
	assert_int_equal(fl_git_ca_state().parsed, 0);
	assert_int_equal(fl_remote_sync(cache, url, &opts, &err), 0);
	assert_int_equal(fl_git_ca_state().parsed, 1);
	assert_int_equal(fl_git_ca_state().ssh_started, 1);
	assert_int_equal(fl_remote_sync(cache, url, &opts, &err), 0);
	assert_int_equal(fl_git_ca_state().parsed, 1);
	assert_int_equal(fl_git_load_ca(), 0);
	assert_int_equal(fl_git_ca_state().parsed, 1);
	assert_int_equal(fl_git_ca_state().ssh_started, 1);
}

/* After the start, a parse goes to mbedTLS: a good file loads, a bad one fails. */
static void test_later_parses_are_real(void **state)
{
	struct fl_test_certs certs;
	char bad[128];

	(void)state;
	assert_int_equal(fl_test_certs_make(&certs, "git-init"), 0);
	assert_int_equal(git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, certs.ca_pem, NULL), 0);
	assert_int_equal(fl_git_ca_state().parsed, 2);
	snprintf(bad, sizeof(bad), "%s/not-a-certificate.pem", root);
	fl_test_run("echo nothing >%s", bad);
	assert_true(git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, bad, NULL) < 0);
	assert_int_equal(fl_git_ca_state().parsed, 3);
	/* Back to the system's, for anything after. */
	assert_int_equal(git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, fl_git_ca_state().deferred, NULL), 0);
	fl_test_run("rm -rf %s", certs.dir);
}

static int setup_group(void **state)
{
	(void)state;
	return fl_test_git_home(root, sizeof(root), "git-init");
}

static int teardown_group(void **state)
{
	(void)state;
	fl_test_run("rm -rf %s", root);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_puts_the_parse_off),
		cmocka_unit_test(test_fetch_loads_it_once),
		cmocka_unit_test(test_later_parses_are_real),
	};
	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
