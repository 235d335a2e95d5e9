/*
 * Tests of core/remote.c when the CA file libgit2's start put off cannot be
 * loaded: an https fetch stops and names the file, and a fetch of any
 * other scheme goes on, since it needs no certificate. The file is made
 * unreadable by this program's own fopen, which mbedTLS calls to read it;
 * every other file opens as usual. A process of its own: the load is
 * tried once per process.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/git_init.h"
#include "core/remote.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define GIT FL_TEST_GIT

static char root[64];
static const char *const notes[] = { "refs/notes/flotilla" };

typedef FILE *fopen_fn(const char *path, const char *mode);

/* The CA file libgit2 named at its start cannot be opened; anything else can. */
FILE *fopen(const char *path, const char *mode)
{
	const char *ca = fl_git_ca_state().deferred;
	fopen_fn *real;

	if (ca && strcmp(path, ca) == 0) {
		errno = EACCES;
		return NULL;
	}
	*(void **)&real = dlsym(RTLD_NEXT, "fopen");
	return real ? real(path, mode) : NULL;
}

static void test_https_stops_naming_the_file(void **state)
{
	struct fl_remote_opts opts = { .notes_refs = notes, .nnotes_refs = 1 };
	struct fl_error err = FL_ERROR_INIT;
	char cache[128];

	(void)state;
	snprintf(cache, sizeof(cache), "%s/https-cache", root);
	/* Nothing listens on port 1: the load is what stops it, before any connection. */
	assert_int_not_equal(fl_remote_sync(cache, "https://127.0.0.1:1/fleet.git", &opts, &err), 0);
	assert_non_null(fl_git_ca_state().deferred);
	assert_non_null(strstr(err.msg, "cannot load CA certificates from "));
	assert_non_null(strstr(err.msg, fl_git_ca_state().deferred));
}

static void test_other_schemes_go_on(void **state)
{
	struct fl_remote_opts opts = { .notes_refs = notes, .nnotes_refs = 1 };
	struct fl_error err = FL_ERROR_INIT;
	char work[128], server[128], url[160], cache[128];

	(void)state;
	snprintf(work, sizeof(work), "%s/work", root);
	snprintf(server, sizeof(server), "%s/server.git", root);
	snprintf(url, sizeof(url), "file://%s", server);
	snprintf(cache, sizeof(cache), "%s/file-cache", root);
	fl_test_run(GIT " init -q %s && echo one >%s/f && " GIT " -C %s add f && " GIT " -C %s commit -q -m one && " GIT
		    " init -q --bare %s && " GIT " -C %s push -q %s main",
		    work, work, work, work, server, work, server);
	assert_true(fl_git_load_ca() < 0); /* still refused: the first test's load failed */
	if (fl_remote_sync(cache, url, &opts, &err) != 0)
		fail_msg("a file:// fetch failed: %s", err.msg);
}

static int setup_group(void **state)
{
	(void)state;
	return fl_test_git_home(root, sizeof(root), "git-ca-refused");
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
		cmocka_unit_test(test_https_stops_naming_the_file),
		cmocka_unit_test(test_other_schemes_go_on),
	};
	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
