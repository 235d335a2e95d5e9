/*
 * Tests of core/remote.c: URL recognition, cache names and redaction from
 * tables; then syncing and pushing against bare "server" repositories
 * reached by file:// URLs, made and checked with the git command in a
 * temporary directory. Each test gets a server and a cache of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/remote.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define GIT FL_TEST_GIT
#define NOTES "refs/notes/flotilla"
static const char *const NOTES_REFS[] = { NOTES };

static char root[64];

/* ---- tables ---- */

static void test_is_url(void **state)
{
	static const struct {
		const char *s;
		bool url;
	} cases[] = {
		{ "https://github.com/acme/fleet.git", true },
		{ "HTTP://127.0.0.1:8080/fleet.git", true },
		{ "ssh://git@example.com:2222/fleet.git", true },
		{ "git://127.0.0.1/fleet.git", true },
		{ "file:///srv/git/fleet.git", true },
		{ "git@github.com:acme/fleet.git", true },
		{ "/srv/git/fleet.git", false },
		{ "fleet", false },
		{ ".", false },
		{ "./a:b", false },
		{ "dir/user@host:x", false },
		{ "@host:x", false },
		{ "", false },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		if (fl_remote_is_url(cases[i].s) != cases[i].url)
			fail_msg("fl_remote_is_url(\"%s\") should be %d", cases[i].s, cases[i].url);
	assert_false(fl_remote_is_url(NULL));
}

static void test_cache_path(void **state)
{
	static const struct {
		const char *dir, *url, *prefix;
	} cases[] = {
		{ "/c", "https://github.com/acme/fleet.git", "/c/github.com_acme_fleet.git-" },
		{ "/c/", "https://x-access-token:secret@github.com/acme/fleet.git",
		  "/c/github.com_acme_fleet.git-" },
		{ "c", "ssh://git@example.com:2222/fleet.git", "c/example.com_2222_fleet.git-" },
		{ "/c", "git@github.com:acme/fleet", "/c/github.com_acme_fleet-" },
		{ "/c", "file:///srv/git/fleet.git/", "/c/srv_git_fleet.git-" },
		{ "/c", "file:///../..//x", "/c/x-" },
		{ "/c", "http://127.0.0.1:8080/a b/%2e%2e/fleet.git?x=1",
		  "/c/127.0.0.1_8080_a_b_2e_2e_fleet.git_x_1-" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_buf out = FL_BUF_INIT;
		size_t plen = strlen(cases[i].prefix);

		fl_remote_cache_path(&out, cases[i].dir, cases[i].url);
		if (out.len != plen + 12 || strncmp(out.ptr, cases[i].prefix, plen) != 0 ||
		    strspn(out.ptr + plen, "0123456789abcdef") != 12)
			fail_msg("cache path of '%s': got '%s', want '%s' and 12 hex digits", cases[i].url,
				 out.ptr, cases[i].prefix);
		assert_null(strstr(out.ptr, "secret"));
		fl_buf_release(&out);
	}

	/* The hash tells apart URLs that sanitize alike; the same URL always gives the same path. */
	struct fl_buf a = FL_BUF_INIT, b = FL_BUF_INIT, c = FL_BUF_INIT;
	fl_remote_cache_path(&a, "/c", "https://h/a_b");
	fl_remote_cache_path(&b, "/c", "https://h/a/b");
	fl_remote_cache_path(&c, "/c", "https://h/a_b");
	assert_string_not_equal(a.ptr, b.ptr);
	assert_string_equal(a.ptr, c.ptr);
	fl_buf_release(&a);
	fl_buf_release(&b);
	fl_buf_release(&c);

	/* Very long URLs give a bounded name. */
	char longurl[600] = "https://h/";
	memset(longurl + 10, 'x', sizeof(longurl) - 11);
	longurl[sizeof(longurl) - 1] = '\0';
	fl_remote_cache_path(&a, "/c", longurl);
	assert_true(a.len <= 3 + 80 + 1 + 12);
	fl_buf_release(&a);
}

static void test_redact(void **state)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "https://user:pass@host/x.git", "https://host/x.git" },
		{ "https://token@host/x.git", "https://host/x.git" },
		{ "https://host/x@y.git", "https://host/x@y.git" },
		{ "ssh://git@host:22/x", "ssh://host:22/x" },
		{ "git@host:x", "host:x" },
		{ "file:///srv/x", "file:///srv/x" },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_buf out = FL_BUF_INIT;
		fl_remote_redact(&out, cases[i].url);
		if (strcmp(out.ptr, cases[i].want) != 0)
			fail_msg("redact '%s': got '%s', want '%s'", cases[i].url, out.ptr, cases[i].want);
		fl_buf_release(&out);
	}
}

/* ---- against repositories ---- */

/* Paths of one test's repositories. */
struct world {
	char dir[128];
	char work[160];	  /* a work tree that pushes to the server */
	char server[160]; /* bare */
	char url[192];	  /* file:// of server */
	char cache[160];
	char other[160]; /* a second agent's cache */
};

static void world_init(struct world *w, const char *name)
{
	snprintf(w->dir, sizeof(w->dir), "%s/%s", root, name);
	snprintf(w->work, sizeof(w->work), "%s/work", w->dir);
	snprintf(w->server, sizeof(w->server), "%s/server.git", w->dir);
	snprintf(w->url, sizeof(w->url), "file://%s", w->server);
	snprintf(w->cache, sizeof(w->cache), "%s/cache/one", w->dir);
	snprintf(w->other, sizeof(w->other), "%s/cache/two", w->dir);
	fl_test_run("mkdir -p %s && " GIT " init -q %s && echo one >%s/f && " GIT " -C %s add f && " GIT
	    " -C %s commit -q -m one && " GIT " init -q --bare %s && " GIT " -C %s push -q %s main",
	    w->dir, w->work, w->work, w->work, w->work, w->server, w->work, w->server);
}

/* Commits a new file version in work and pushes it (and branch other at it, if asked). */
static void server_commit(const struct world *w, const char *text)
{
	fl_test_run("echo %s >%s/f && " GIT " -C %s commit -q -am %s && " GIT " -C %s push -q %s main", text, w->work,
	    w->work, text, w->work, w->server);
}

/* The note of rev under ref in the bare repository at gitdir ("" when none). */
static void note_of(struct fl_buf *out, const char *gitdir, const char *ref, const char *rev)
{
	fl_test_capture(out, GIT " --git-dir=%s notes --ref=%s show %s 2>/dev/null || true", gitdir, ref, rev);
}

/* The merge callback of the tests: "<local>+<remote>", counting calls. */
static int concat_merge(struct fl_buf *out, const char *local, size_t local_len, const char *remote,
			size_t remote_len, void *payload, struct fl_error *err)
{
	(void)err;
	(*(int *)payload)++;
	/* git notes add ends the text with a newline: keep one at the end. */
	fl_buf_put(out, local, local_len && local[local_len - 1] == '\n' ? local_len - 1 : local_len);
	fl_buf_putc(out, '+');
	fl_buf_put(out, remote, remote_len);
	return 0;
}

static int failing_merge(struct fl_buf *out, const char *local, size_t local_len, const char *remote,
			 size_t remote_len, void *payload, struct fl_error *err)
{
	(void)out, (void)local, (void)local_len, (void)remote, (void)remote_len, (void)payload;
	return fl_error_set(err, FL_EINPUT, "no way to merge these");
}

static void test_sync_creates_and_follows(void **state)
{
	struct world w;
	struct fl_remote_opts opts = { .notes_refs = NOTES_REFS, .nnotes_refs = 1 };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out = FL_BUF_INIT, want = FL_BUF_INIT;

	(void)state;
	world_init(&w, "follow");
	fl_test_run(GIT " -C %s tag -a v1 -m v1 && " GIT " -C %s push -q %s v1 && " GIT
		" -C %s push -q %s main:other",
	    w.work, w.work, w.server, w.work, w.server);
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), 0);
	fl_test_capture(&out,
		GIT " --git-dir=%s for-each-ref --format='%%(refname)' && " GIT
		    " --git-dir=%s symbolic-ref HEAD && " GIT " --git-dir=%s config core.bare && " GIT
		    " --git-dir=%s config remote.origin.url",
		w.cache, w.cache, w.cache, w.cache);
	fl_buf_printf(&want, "refs/heads/main\nrefs/heads/other\nrefs/tags/v1\nrefs/heads/main\ntrue\n%s",
		      w.url);
	assert_string_equal(out.ptr, want.ptr);

	/* A new commit arrives; a branch deleted on the server goes; HEAD follows the server's. */
	server_commit(&w, "two");
	fl_test_run(GIT " --git-dir=%s symbolic-ref HEAD refs/heads/other && " GIT " -C %s push -q %s :main",
	    w.server, w.work, w.server);
	fl_test_run(GIT " -C %s push -q %s main:other", w.work, w.server);
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), 0);
	fl_buf_clear(&out);
	fl_buf_clear(&want);
	fl_test_capture(&out,
		GIT " --git-dir=%s for-each-ref --format='%%(refname)' refs/heads && " GIT
		    " --git-dir=%s symbolic-ref HEAD && " GIT " --git-dir=%s rev-parse HEAD",
		w.cache, w.cache, w.cache);
	fl_test_capture(&want, "echo refs/heads/other; echo refs/heads/other; " GIT " -C %s rev-parse HEAD", w.work);
	assert_string_equal(out.ptr, want.ptr);

	/* opts.branch wins over the server's HEAD; a missing one is FL_ENOTFOUND. */
	fl_test_run(GIT " -C %s push -q %s HEAD~1:refs/heads/old", w.work, w.server);
	opts.branch = "old";
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), 0);
	fl_buf_clear(&out);
	fl_test_capture(&out, GIT " --git-dir=%s symbolic-ref HEAD", w.cache);
	assert_string_equal(out.ptr, "refs/heads/old");
	opts.branch = "nope";
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), FL_ENOTFOUND);
	assert_string_equal(err.msg, "the remote has no branch 'nope'");

	fl_buf_release(&out);
	fl_buf_release(&want);
}

static void test_sync_errors(void **state)
{
	struct world w;
	struct fl_remote_opts opts = { .notes_refs = NOTES_REFS, .nnotes_refs = 1 };
	struct fl_error err = FL_ERROR_INIT;
	char url[256];

	(void)state;
	world_init(&w, "errors");
	snprintf(url, sizeof(url), "file://%s/missing.git", w.dir);
	assert_int_equal(fl_remote_sync(w.cache, url, &opts, &err), FL_EGIT);
	assert_non_null(strstr(err.msg, "cannot fetch 'file://"));
	/* A cache path that cannot be a directory. */
	char file[192];
	snprintf(file, sizeof(file), "%s/work/f/cache", w.dir);
	assert_int_equal(fl_remote_sync(file, w.url, &opts, &err), FL_EGIT);
	assert_non_null(strstr(err.msg, "cannot open the cache"));
}

static void test_sync_merges_notes(void **state)
{
	struct world w;
	int calls = 0;
	struct fl_remote_opts opts = { .notes_refs = NOTES_REFS, .nnotes_refs = 1, .merge = concat_merge, .payload = &calls };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out = FL_BUF_INIT;

	(void)state;
	world_init(&w, "notes");
	server_commit(&w, "two");
	/* No notes anywhere: nothing happens. */
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), 0);
	fl_test_capture(&out, GIT " --git-dir=%s for-each-ref refs/notes", w.cache);
	assert_string_equal(out.ptr, "");

	/* The server's notes are taken as they are when the cache has none. */
	fl_test_run(GIT " --git-dir=%s notes --ref=flotilla add -m server-head main && " GIT
		" --git-dir=%s notes --ref=flotilla add -m server-first main~1",
	    w.server, w.server);
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), 0);
	fl_buf_clear(&out);
	fl_test_capture(&out, GIT " --git-dir=%s rev-parse " NOTES " " NOTES "-remote | uniq | wc -l", w.cache);
	assert_string_equal(out.ptr, "1");

	/* Both sides add notes: a merge commit; a note on both sides goes through the callback. */
	fl_test_run(GIT " --git-dir=%s notes --ref=flotilla add -f -m cache-head main 2>/dev/null", w.cache);
	fl_test_run(GIT " --git-dir=%s notes --ref=flotilla add -f -m server-first-again main~1 2>/dev/null",
	    w.server);
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), 0);
	fl_buf_clear(&out);
	note_of(&out, w.cache, NOTES, "main");
	fl_buf_putc(&out, ' ');
	note_of(&out, w.cache, NOTES, "main~1");
	fl_buf_putc(&out, ' ');
	fl_test_capture(&out, GIT " --git-dir=%s rev-list --parents -1 " NOTES " | wc -w", w.cache);
	/*
	 * Two-way, per commit: a note that differs is merged even if only one
	 * side changed it since they parted (the ledger merge keeps the newer).
	 */
	assert_string_equal(out.ptr, "cache-head+server-head server-first+server-first-again 3");
	assert_int_equal(calls, 2);

	/* The local side ahead: a sync changes nothing. */
	fl_buf_clear(&out);
	fl_test_capture(&out, GIT " --git-dir=%s rev-parse " NOTES, w.cache);
	struct fl_buf again = FL_BUF_INIT;
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), 0);
	fl_test_capture(&again, GIT " --git-dir=%s rev-parse " NOTES, w.cache);
	assert_string_equal(out.ptr, again.ptr);
	fl_buf_release(&again);

	/* A failing merge is reported with the commit. */
	fl_test_run(GIT " --git-dir=%s notes --ref=flotilla add -f -m x main 2>/dev/null", w.cache);
	fl_test_run(GIT " --git-dir=%s notes --ref=flotilla add -f -m y main 2>/dev/null", w.server);
	opts.merge = failing_merge;
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), FL_EINPUT);
	assert_non_null(strstr(err.msg, "cannot merge the notes of commit "));
	assert_non_null(strstr(err.msg, ": no way to merge these"));
	fl_buf_release(&out);
}

static void test_push(void **state)
{
	struct world w;
	int calls = 0;
	struct fl_remote_opts opts = { .notes_refs = NOTES_REFS, .nnotes_refs = 1, .merge = concat_merge, .payload = &calls };
	struct fl_remote_push_result res;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out = FL_BUF_INIT;
	const char *refs[] = { NOTES, "refs/tags/flotilla/promote/*" };

	(void)state;
	world_init(&w, "push");
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), 0);
	/* Nothing to push yet. */
	assert_int_equal(fl_remote_push(&res, w.cache, w.url, refs, 2, &opts, &err), 0);
	assert_int_equal(res.pushed, 0);

	/* A note and two promotion tags go; another tag stays. */
	fl_test_run(GIT " --git-dir=%s notes --ref=flotilla add -m mine main && " GIT
		" --git-dir=%s tag -a flotilla/promote/early/x -m why main && " GIT
		" --git-dir=%s tag flotilla/promote/fleet/y main && " GIT " --git-dir=%s tag private main",
	    w.cache, w.cache, w.cache, w.cache);
	assert_int_equal(fl_remote_push(&res, w.cache, w.url, refs, 2, &opts, &err), 0);
	assert_int_equal(res.pushed, 3);
	assert_int_equal(res.merges, 0);
	fl_test_capture(&out,
		GIT " --git-dir=%s for-each-ref --format='%%(refname)' && " GIT
		    " --git-dir=%s notes --ref=flotilla show main",
		w.server, w.server);
	assert_string_equal(out.ptr,
			    "refs/heads/main\nrefs/notes/flotilla\nrefs/tags/flotilla/promote/early/x\n"
			    "refs/tags/flotilla/promote/fleet/y\nmine");

	/* Another agent pushes notes first: ours are refused, merged, pushed again. */
	assert_int_equal(fl_remote_sync(w.other, w.url, &opts, &err), 0);
	fl_test_run(GIT " --git-dir=%s notes --ref=flotilla add -f -m theirs main 2>/dev/null", w.other);
	fl_test_run(GIT " --git-dir=%s notes --ref=flotilla add -f -m ours main 2>/dev/null", w.cache);
	assert_int_equal(fl_remote_push(&res, w.other, w.url, refs, 2, &opts, &err), 0);
	assert_int_equal(res.merges, 0);
	assert_int_equal(fl_remote_push(&res, w.cache, w.url, refs, 2, &opts, &err), 0);
	assert_int_equal(res.merges, 1);
	assert_int_equal(res.pushed, 1);
	assert_int_equal(calls, 1);
	fl_buf_clear(&out);
	note_of(&out, w.server, NOTES, "main");
	assert_string_equal(out.ptr, "ours+theirs");
	fl_buf_clear(&out);
	fl_test_capture(&out, GIT " --git-dir=%s rev-list --parents -1 " NOTES " | wc -w", w.server);
	assert_string_equal(out.ptr, "3");

	/* A tag the remote has on another object is refused, and not retried. */
	fl_test_run(GIT " --git-dir=%s tag -f -a flotilla/promote/early/x -m other main 2>/dev/null", w.other);
	assert_int_equal(fl_remote_push(&res, w.other, w.url, refs, 2, &opts, &err), FL_EREFUSED);
	assert_string_equal(err.msg, "tag 'flotilla/promote/early/x' exists on the remote on another object");
	fl_buf_release(&out);
}

static void test_push_errors(void **state)
{
	struct world w;
	struct fl_remote_opts opts = { .notes_refs = NOTES_REFS, .nnotes_refs = 1 };
	struct fl_error err = FL_ERROR_INIT;
	const char *refs[] = { NOTES };
	char url[256];

	(void)state;
	world_init(&w, "pusherr");
	assert_int_equal(fl_remote_push(NULL, w.cache, w.url, refs, 1, &opts, &err), FL_ENOTFOUND);
	assert_non_null(strstr(err.msg, "cannot open the cache"));
	assert_int_equal(fl_remote_sync(w.cache, w.url, &opts, &err), 0);
	snprintf(url, sizeof(url), "file://%s/missing.git", w.dir);
	assert_int_equal(fl_remote_push(NULL, w.cache, url, refs, 1, &opts, &err), FL_EGIT);
	assert_non_null(strstr(err.msg, "cannot push to 'file://"));
}

static int setup_group(void **state)
{
	(void)state;
	return fl_test_git_home(root, sizeof(root), "remote");
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
		cmocka_unit_test(test_is_url),	    cmocka_unit_test(test_cache_path),
		cmocka_unit_test(test_redact),	    cmocka_unit_test(test_sync_creates_and_follows),
		cmocka_unit_test(test_sync_errors), cmocka_unit_test(test_sync_merges_notes),
		cmocka_unit_test(test_push),	    cmocka_unit_test(test_push_errors),
	};
	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
