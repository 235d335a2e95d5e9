/*
 * Tests for core/proc.c: output capture, exit codes, the environment and
 * working directory of the child, truncation, start-up errors, timeouts
 * (also with grandchildren holding the pipe), dying with the parent,
 * concurrent use from several threads, and fl_proc_pipe's input, separate
 * error tail and exit reporting. Each table row names its case.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/proc.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define BIG 65536

/* ---- helpers ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* True when pid no longer runs: gone, or a zombie nobody reaped yet. */
static bool process_gone(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	const char *rp = strrchr(line, ')');
	return !rp || rp[1] != ' ' || rp[2] == 'Z' || rp[2] == 'X';
}

static bool wait_gone(pid_t pid, long ms)
{
	for (long waited = 0; waited < ms; waited += 10) {
		if (process_gone(pid))
			return true;
		sleep_ms(10);
	}
	return process_gone(pid);
}

/* A temporary directory holding an executable shell script without a #! line. */
struct scratch {
	char dir[64];
	char script[96];
};

static void scratch_make(struct scratch *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/fl-test-proc-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->script, sizeof(s->script), "%s/script", s->dir);
	FILE *f = fopen(s->script, "w");
	assert_non_null(f);
	fputs("echo \"from script in $(pwd)\"\n", f);
	fclose(f);
	assert_int_equal(chmod(s->script, 0755), 0);
}

static void scratch_remove(struct scratch *s)
{
	unlink(s->script);
	rmdir(s->dir);
}

/* ---- one run per row ---- */

struct run_case {
	const char *name;
	const char *argv[6];
	const char *env[4];
	const char *cwd;
	size_t max_output;
	int want_rc;
	int want_exit;	  /* when want_rc is 0 */
	const char *want; /* the output, or the error message when want_rc is not 0 */
	bool want_truncated;
};

/* clang-format off */
static const struct run_case run_cases[] = {
	{ "echo", { "echo", "hello" }, { NULL }, NULL, BIG, 0, 0, "hello\n", false },
	{ "stderr interleaved", { "sh", "-c", "echo out; echo err >&2; echo out2" }, { NULL }, NULL, BIG, 0, 0,
	  "out\nerr\nout2\n", false },
	{ "exit 0", { "true" }, { NULL }, NULL, BIG, 0, 0, "", false },
	{ "exit 3", { "sh", "-c", "echo bye; exit 3" }, { NULL }, NULL, BIG, 0, 3, "bye\n", false },
	{ "killed by a signal", { "sh", "-c", "kill -TERM $$" }, { NULL }, NULL, BIG, 0, 128 + SIGTERM, "", false },
	{ "absolute path", { "/bin/sh", "-c", "echo abs" }, { NULL }, NULL, BIG, 0, 0, "abs\n", false },
	{ "stdin is empty", { "sh", "-c", "cat; echo done" }, { NULL }, NULL, BIG, 0, 0, "done\n", false },
	{ "env added", { "sh", "-c", "printf %s \"$FL_TEST_ADDED\"" }, { "FL_TEST_ADDED=hello" }, NULL, BIG, 0, 0,
	  "hello", false },
	{ "env inherited", { "sh", "-c", "printf %s \"$FL_TEST_PARENT\"" }, { NULL }, NULL, BIG, 0, 0, "parent",
	  false },
	{ "env overrides", { "sh", "-c", "printf %s \"$FL_TEST_PARENT\"" }, { "FL_TEST_PARENT=child" }, NULL, BIG,
	  0, 0, "child", false },
	{ "env last wins", { "sh", "-c", "printf %s \"$FL_X\"" }, { "FL_X=1", "FL_X=2" }, NULL, BIG, 0, 0, "2",
	  false },
	{ "env value with =", { "sh", "-c", "printf %s \"$FL_X\"" }, { "FL_X=a=b" }, NULL, BIG, 0, 0, "a=b", false },
	{ "cwd", { "sh", "-c", "pwd" }, { NULL }, "/", BIG, 0, 0, "/\n", false },
	{ "max_output 0", { "echo", "hi" }, { NULL }, NULL, 0, 0, 0, "", true },
	{ "exact fit", { "printf", "abc" }, { NULL }, NULL, 3, 0, 0, "abc", false },
	{ "one byte over", { "printf", "abcd" }, { NULL }, NULL, 3, 0, 0, "abc", true },
	{ "missing program", { "fl-no-such-program" }, { NULL }, NULL, BIG, FL_ENOTFOUND, 0,
	  "cannot run 'fl-no-such-program': No such file or directory", false },
	{ "missing path", { "/nonexistent/prog" }, { NULL }, NULL, BIG, FL_ENOTFOUND, 0,
	  "cannot run '/nonexistent/prog': No such file or directory", false },
	{ "empty name", { "" }, { NULL }, NULL, BIG, FL_ENOTFOUND, 0, "cannot run '': No such file or directory",
	  false },
	{ "not executable", { "/etc/passwd" }, { NULL }, NULL, BIG, FL_ENOTFOUND, 0,
	  "cannot run '/etc/passwd': Permission denied", false },
	{ "a directory", { "/" }, { NULL }, NULL, BIG, FL_ENOTFOUND, 0, "cannot run '/': Permission denied", false },
	{ "PATH of the child", { "sh", "-c", "true" }, { "PATH=/nonexistent" }, NULL, BIG, FL_ENOTFOUND, 0,
	  "cannot run 'sh': No such file or directory", false },
	{ "missing cwd", { "sh", "-c", "true" }, { NULL }, "/nonexistent-dir", BIG, FL_EIO, 0,
	  "cannot run 'sh' in '/nonexistent-dir': No such file or directory", false },
	{ "bad env entry", { "true" }, { "NOEQUALS" }, NULL, BIG, FL_EINPUT, 0,
	  "invalid environment entry 'NOEQUALS': expected NAME=value", false },
	{ "env entry without name", { "true" }, { "=x" }, NULL, BIG, FL_EINPUT, 0,
	  "invalid environment entry '=x': expected NAME=value", false },
};
/* clang-format on */

static void test_run(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(run_cases); i++) {
		const struct run_case *c = &run_cases[i];
		struct fl_proc_opts opts = { c->argv, c->env, c->cwd, 10000, c->max_output, i % 2 == 0, NULL };
		struct fl_proc_result res;
		struct fl_error err = FL_ERROR_INIT;
		struct fl_buf out;
		fl_buf_init(&out, 0);

		int rc = fl_proc_run(&res, &out, &opts, &err);
		if (rc != c->want_rc)
			fail_msg("%s: returned %d (%s), want %d", c->name, rc, err.msg, c->want_rc);
		if (rc) {
			if (err.code != rc || strcmp(err.msg, c->want) != 0)
				fail_msg("%s: error %d '%s', want '%s'", c->name, err.code, err.msg, c->want);
			if (out.len != 0)
				fail_msg("%s: output '%s' on error", c->name, out.ptr);
		} else {
			if (res.exit_code != c->want_exit)
				fail_msg("%s: exit code %d, want %d", c->name, res.exit_code, c->want_exit);
			if (out.len != strlen(c->want) || memcmp(out.ptr, c->want, out.len) != 0)
				fail_msg("%s: output '%s', want '%s'", c->name, out.ptr, c->want);
			if (res.truncated != c->want_truncated)
				fail_msg("%s: truncated %d, want %d", c->name, res.truncated,
					 c->want_truncated);
			if (res.timed_out)
				fail_msg("%s: timed out", c->name);
			if (res.elapsed_ms < 0 || res.elapsed_ms > 5000)
				fail_msg("%s: elapsed %lld ms", c->name, res.elapsed_ms);
		}
		fl_buf_release(&out);
	}
}

/* ---- output handling ---- */

static void test_truncation(void **state)
{
	const char *argv[] = { "sh", "-c", "yes | head -c 100000", NULL };
	struct fl_proc_opts opts = { argv, NULL, NULL, 10000, 1000, false, NULL };
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out;

	(void)state;
	fl_buf_init(&out, 0);
	assert_int_equal(fl_proc_run(&res, &out, &opts, &err), 0);
	assert_int_equal(res.exit_code, 0);
	assert_true(res.truncated);
	assert_false(res.timed_out);
	assert_int_equal(out.len, 1000);
	for (size_t i = 0; i < out.len; i++)
		assert_int_equal(out.ptr[i], i % 2 ? '\n' : 'y');
	assert_int_equal(out.ptr[out.len], '\0');
	fl_buf_release(&out);
}

static void test_output_buffers(void **state)
{
	const char *argv[] = { "echo", "hello", NULL };
	struct fl_proc_opts opts = { argv, NULL, NULL, 0, BIG, false, NULL };
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out;

	(void)state;
	/* Appended to what the buffer holds. */
	fl_buf_init(&out, 0);
	fl_buf_puts(&out, "prefix:");
	assert_int_equal(fl_proc_run(&res, &out, &opts, &err), 0);
	assert_string_equal(out.ptr, "prefix:hello\n");
	assert_false(res.truncated);
	fl_buf_release(&out);

	/* The buffer's own maximum also truncates. */
	fl_buf_init(&out, 4);
	assert_int_equal(fl_proc_run(&res, &out, &opts, &err), 0);
	assert_string_equal(out.ptr, "hell");
	assert_true(res.truncated);
	fl_buf_release(&out);

	/* No buffer: the output is discarded, still counted. */
	assert_int_equal(fl_proc_run(&res, NULL, &opts, &err), 0);
	assert_int_equal(res.exit_code, 0);
	assert_false(res.truncated);
	opts.max_output = 2;
	assert_int_equal(fl_proc_run(&res, NULL, &opts, &err), 0);
	assert_true(res.truncated);
}

/* A script without #! runs with the shell, and a relative path is taken in cwd. */
static void test_script_in_cwd(void **state)
{
	struct scratch s;
	const char *argv[] = { "./script", NULL };
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out, want;

	(void)state;
	scratch_make(&s);
	struct fl_proc_opts opts = { argv, NULL, s.dir, 10000, BIG, false, NULL };
	fl_buf_init(&out, 0);
	fl_buf_init(&want, 0);
	fl_buf_printf(&want, "from script in %s\n", s.dir);
	int rc = fl_proc_run(&res, &out, &opts, &err);
	scratch_remove(&s);
	assert_int_equal(rc, 0);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(out.ptr, want.ptr);
	fl_buf_release(&out);
	fl_buf_release(&want);
}

/* ---- timeouts ---- */

static void test_timeout(void **state)
{
	const char *argv[] = { "sleep", "5", NULL };
	struct fl_proc_opts opts = { argv, NULL, NULL, 200, BIG, true, NULL };
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	assert_int_equal(fl_proc_run(&res, NULL, &opts, &err), 0);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_code, 128 + SIGKILL);
	assert_true(res.elapsed_ms >= 200);
	assert_true(res.elapsed_ms < 2000);
}

/* The child closes its output and keeps running: the timeout still ends it. */
static void test_timeout_after_eof(void **state)
{
	const char *argv[] = { "sh", "-c", "echo bye; exec >/dev/null 2>&1; sleep 5", NULL };
	struct fl_proc_opts opts = { argv, NULL, NULL, 300, BIG, false, NULL };
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out;

	(void)state;
	fl_buf_init(&out, 0);
	assert_int_equal(fl_proc_run(&res, &out, &opts, &err), 0);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_code, 128 + SIGKILL);
	assert_string_equal(out.ptr, "bye\n");
	assert_true(res.elapsed_ms >= 300);
	assert_true(res.elapsed_ms < 2000);
	fl_buf_release(&out);
}

/*
 * The child exits but a grandchild keeps the pipe open: reading stops at the
 * timeout, and the whole process group is killed.
 */
static void test_grandchild_holds_pipe(void **state)
{
	const char *argv[] = { "sh", "-c", "sleep 5 & echo $!", NULL };
	struct fl_proc_opts opts = { argv, NULL, NULL, 500, BIG, false, NULL };
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out;

	(void)state;
	fl_buf_init(&out, 0);
	assert_int_equal(fl_proc_run(&res, &out, &opts, &err), 0);
	assert_true(res.elapsed_ms >= 500);
	assert_true(res.elapsed_ms < 1500);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_code, 0); /* the child itself exited cleanly */
	long grandchild = strtol(out.ptr, NULL, 10);
	assert_true(grandchild > 0);
	assert_true(wait_gone((pid_t)grandchild, 2000));
	fl_buf_release(&out);
}

/* Without a timeout, a grandchild that let go of the pipe is not waited for. */
static void test_grandchild_detached(void **state)
{
	const char *argv[] = { "sh", "-c", "sleep 5 >/dev/null 2>&1 & echo $!", NULL };
	struct fl_proc_opts opts = { argv, NULL, NULL, 0, BIG, false, NULL };
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf out;

	(void)state;
	fl_buf_init(&out, 0);
	assert_int_equal(fl_proc_run(&res, &out, &opts, &err), 0);
	assert_false(res.timed_out);
	assert_int_equal(res.exit_code, 0);
	assert_true(res.elapsed_ms < 2000);
	long grandchild = strtol(out.ptr, NULL, 10);
	assert_true(grandchild > 0);
	kill((pid_t)grandchild, SIGKILL);
	fl_buf_release(&out);
}

/* ---- dying with the parent ---- */

static void test_die_with_parent(void **state)
{
	struct scratch s;
	char pidfile[128], line[32] = "";

	(void)state;
	scratch_make(&s);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", s.dir);
	pid_t helper = fork();
	assert_true(helper >= 0);
	if (helper == 0) {
		char script[512];
		snprintf(script, sizeof(script), "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 5", pidfile,
			 pidfile, pidfile);
		const char *argv[] = { "sh", "-c", script, NULL };
		struct fl_proc_opts opts = { argv, NULL, NULL, 10000, BIG, true, NULL };
		struct fl_proc_result res;
		fl_proc_run(&res, NULL, &opts, NULL);
		_exit(0);
	}
	for (int i = 0; i < 300 && !line[0]; i++) {
		FILE *f = fopen(pidfile, "r");
		if (f) {
			if (!fgets(line, sizeof(line), f))
				line[0] = '\0';
			fclose(f);
		}
		if (!line[0])
			sleep_ms(10);
	}
	kill(helper, SIGKILL);
	int status;
	waitpid(helper, &status, 0);
	unlink(pidfile);
	scratch_remove(&s);
	long sleeper = strtol(line, NULL, 10);
	assert_true(sleeper > 0);
	assert_true(wait_gone((pid_t)sleeper, 2000));
}

/* ---- threads ---- */

#define N_THREADS 4
#define N_RUNS 10

struct worker {
	pthread_t thread;
	int id;
	int failures;
	char first[256];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < N_RUNS; i++) {
		char tvar[32], ivar[32], want[32];
		snprintf(tvar, sizeof(tvar), "FL_T=%d", w->id);
		snprintf(ivar, sizeof(ivar), "FL_I=%d", i);
		snprintf(want, sizeof(want), "%d-%d\n", w->id, i);
		const char *argv[] = { "sh", "-c", "echo \"$FL_T-$FL_I\"; exit \"$FL_I\"", NULL };
		const char *env[] = { tvar, ivar, NULL };
		struct fl_proc_opts opts = { argv, env, "/", 10000, BIG, true, NULL };
		struct fl_proc_result res;
		struct fl_error err = FL_ERROR_INIT;
		struct fl_buf out;
		fl_buf_init(&out, 0);
		int rc = fl_proc_run(&res, &out, &opts, &err);
		if (rc != 0 || res.exit_code != i || strcmp(out.ptr, want) != 0 || res.timed_out) {
			if (!w->failures++)
				snprintf(w->first, sizeof(w->first),
					 "thread %d run %d: rc %d (%.80s) exit %d output '%.80s'", w->id, i,
					 rc, err.msg, res.exit_code, out.ptr);
		}
		fl_buf_release(&out);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct worker workers[N_THREADS];

	(void)state;
	for (int i = 0; i < N_THREADS; i++) {
		workers[i].id = i;
		workers[i].failures = 0;
		workers[i].first[0] = '\0';
		assert_int_equal(pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_join(workers[i].thread, NULL), 0);
	for (int i = 0; i < N_THREADS; i++) {
		if (workers[i].failures)
			fail_msg("%d failures, first: %s", workers[i].failures, workers[i].first);
	}
}

/* ---- dropping variables from the child's environment ---- */

/* clang-format off */
static const struct match_case {
	const char *pattern, *name;
	bool want;
} match_cases[] = {
	{ "GH_TOKEN", "GH_TOKEN", true },
	{ "GH_TOKEN", "GH_TOKENS", false },
	{ "GH_TOKEN", "GH_TOKE", false },
	{ "TOK_*", "TOK_acme", true },
	{ "TOK_*", "TOK_", true },
	{ "TOK_*", "TOKEN", false },
	{ "*_TOKEN", "GITEA_TOKEN", true },
	{ "A*B*C", "AxxBxxBC", true },
	{ "A*B", "AxxBc", false },
	{ "**", "", true },
	{ "", "X", false },
};

static const struct scrub_case {
	const char *name;
	const char *unset[3];
	const char *env[2];
	const char *present[3];   /* lines that must be in the child's env */
	const char *absent[3];    /* names (with '=') that must not be */
} scrub_cases[] = {
	{ "nothing dropped", { NULL }, { NULL },
	  { "FL_T_SECRET=s3cret", "FL_T_TOK_acme=t1", "FL_T_TOKEN=kept" }, { NULL } },
	{ "a name", { "FL_T_SECRET", NULL }, { NULL },
	  { "FL_T_TOK_acme=t1", "FL_T_TOKEN=kept", NULL }, { "FL_T_SECRET=", NULL } },
	{ "a pattern", { "FL_T_TOK_*", NULL }, { NULL },
	  { "FL_T_SECRET=s3cret", "FL_T_TOKEN=kept", NULL }, { "FL_T_TOK_acme=", NULL } },
	{ "handed back on purpose", { "FL_T_SECRET", "FL_T_TOK_*", NULL }, { "FL_T_SECRET=handed", NULL },
	  { "FL_T_SECRET=handed", "FL_T_TOKEN=kept", NULL }, { "FL_T_TOK_acme=", "FL_T_SECRET=s3cret", NULL } },
};
/* clang-format on */

static void test_env_name_matches(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		if (fl_env_name_matches(c->pattern, c->name, strlen(c->name)) != c->want)
			fail_msg("'%s' against '%s': want %d", c->pattern, c->name, c->want);
	}
}

/* Whole lines of env's output, so that FL_T_TOKEN=kept never passes for FL_T_TOK_*. */
static bool has_line_starting(const char *out, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			return true;
	return false;
}

static void test_env_scrub(void **state)
{
	const char *argv[] = { "env", NULL };
	(void)state;
	assert_int_equal(setenv("FL_T_SECRET", "s3cret", 1), 0);
	assert_int_equal(setenv("FL_T_TOK_acme", "t1", 1), 0);
	assert_int_equal(setenv("FL_T_TOKEN", "kept", 1), 0);
	for (size_t i = 0; i < N_ELEMS(scrub_cases); i++) {
		const struct scrub_case *c = &scrub_cases[i];
		struct fl_proc_opts opts = { argv, c->env[0] ? c->env : NULL, NULL, 10000, BIG, i % 2 == 0,
					     c->unset[0] ? c->unset : NULL };
		struct fl_proc_result res;
		struct fl_error err = FL_ERROR_INIT;
		struct fl_buf out;
		fl_buf_init(&out, 0);
		if (fl_proc_run(&res, &out, &opts, &err) || res.exit_code != 0)
			fail_msg("%s: env did not run: %s", c->name, err.msg);
		for (size_t j = 0; j < 3 && c->present[j]; j++)
			if (!has_line_starting(out.ptr, c->present[j]))
				fail_msg("%s: '%s' missing from:\n%s", c->name, c->present[j], out.ptr);
		for (size_t j = 0; j < 3 && c->absent[j]; j++)
			if (has_line_starting(out.ptr, c->absent[j]))
				fail_msg("%s: '%s' reached the child:\n%s", c->name, c->absent[j], out.ptr);
		fl_buf_release(&out);
	}
	unsetenv("FL_T_SECRET");
	unsetenv("FL_T_TOK_acme");
	unsetenv("FL_T_TOKEN");
}

/* ---- fl_proc_pipe: input, output and error apart ---- */

#define LONG_INPUT_LEN (1024 * 1024) /* more than a pipe holds: fed as the child reads */

struct pipe_case {
	const char *name;
	const char *script;     /* run by sh -c */
	const char *input;      /* NULL: none; "<long>": LONG_INPUT_LEN bytes of 'x' */
	size_t err_tail;        /* 0: stderr interleaved with stdout */
	unsigned timeout_ms;
	size_t max_output;
	bool stop_when_full;
	const char *want_out;
	const char *want_err;   /* NULL: not checked */
	int want_exit, want_signal;
	bool want_timed_out, want_truncated, want_err_cut;
};

/* clang-format off */
static const struct pipe_case pipe_cases[] = {
	{ "stdin fed", "cat", "hello\n", 16, 5000, BIG, false, "hello\n", "", 0, 0, false, false, false },
	{ "stdin long", "wc -c | tr -d ' '", "<long>", 16, 10000, BIG, false, "1048576\n", "", 0, 0, false, false, false },
	{ "stdin not read", "echo early", "<long>", 16, 5000, BIG, false, "early\n", "", 0, 0, false, false, false },
	{ "no input: empty stdin", "cat; echo done", NULL, 16, 5000, BIG, false, "done\n", "", 0, 0, false, false, false },
	{ "stdout and stderr apart", "echo out; echo err >&2; echo out2", NULL, 64, 5000, BIG, false,
	  "out\nout2\n", "err\n", 0, 0, false, false, false },
	{ "stderr interleaved when not asked apart", "echo out; echo err >&2", NULL, 0, 5000, BIG, false,
	  "out\nerr\n", NULL, 0, 0, false, false, false },
	{ "stderr tail bounded", "printf 'abcdefghij0123456789' >&2", NULL, 10, 5000, BIG, false, "",
	  "0123456789", 0, 0, false, false, true },
	{ "stderr tail over many writes", "for i in 1 2 3 4 5 6 7 8 9; do printf \"line$i;\" >&2; done", NULL, 12,
	  5000, BIG, false, "", "line8;line9;", 0, 0, false, false, true },
	{ "exit code", "echo x; exit 7", NULL, 16, 5000, BIG, false, "x\n", "", 7, 0, false, false, false },
	{ "signal", "kill -TERM $$", NULL, 16, 5000, BIG, false, "", "", 128 + SIGTERM, SIGTERM, false, false,
	  false },
	{ "timeout", "echo started >&2; sleep 5", NULL, 64, 300, BIG, false, "", "started\n", 128 + SIGKILL,
	  SIGKILL, true, false, false },
	{ "full output stops it", "yes", NULL, 16, 10000, 1000, true, NULL, "", 128 + SIGKILL, SIGKILL, false,
	  true, false },
};
/* clang-format on */

static void test_pipe(void **state)
{
	(void)state;
	char *long_input = malloc(LONG_INPUT_LEN);
	assert_non_null(long_input);
	memset(long_input, 'x', LONG_INPUT_LEN);
	for (size_t i = 0; i < N_ELEMS(pipe_cases); i++) {
		const struct pipe_case *c = &pipe_cases[i];
		const char *argv[] = { "sh", "-c", c->script, NULL };
		struct fl_proc_opts opts = { argv, NULL, NULL, c->timeout_ms, c->max_output, i % 2 == 1, NULL };
		struct fl_buf out = FL_BUF_INIT, errtail = FL_BUF_INIT;
		struct fl_proc_io io = { NULL, 0, &out, c->err_tail ? &errtail : NULL, c->err_tail, c->stop_when_full };
		struct fl_proc_result res;
		struct fl_error err = FL_ERROR_INIT;
		bool is_long = c->input && strcmp(c->input, "<long>") == 0;
		io.input = is_long ? long_input : c->input;
		io.input_len = is_long ? LONG_INPUT_LEN : c->input ? strlen(c->input) : 0;
		if (fl_proc_pipe(&res, &io, &opts, &err))
			fail_msg("%s: %s", c->name, err.msg);
		if (c->want_out && strcmp(out.ptr, c->want_out) != 0)
			fail_msg("%s: stdout '%s', want '%s'", c->name, out.ptr, c->want_out);
		if (c->want_err && strcmp(errtail.ptr, c->want_err) != 0)
			fail_msg("%s: stderr '%s', want '%s'", c->name, errtail.ptr, c->want_err);
		if (res.exit_code != c->want_exit || res.signal != c->want_signal)
			fail_msg("%s: exit %d signal %d, want %d and %d", c->name, res.exit_code, res.signal,
				 c->want_exit, c->want_signal);
		if (res.timed_out != c->want_timed_out || res.truncated != c->want_truncated ||
		    res.err_cut != c->want_err_cut)
			fail_msg("%s: timed_out %d truncated %d err_cut %d", c->name, res.timed_out, res.truncated,
				 res.err_cut);
		if (c->stop_when_full && res.elapsed_ms > 5000)
			fail_msg("%s: ran %lld ms after its output was full", c->name, res.elapsed_ms);
		fl_buf_release(&out);
		fl_buf_release(&errtail);
	}
	free(long_input);
}

/* A timeout kills the whole process group, the grandchildren too. */
static void test_pipe_timeout_kills_group(void **state)
{
	(void)state;
	const char *argv[] = { "sh", "-c", "sleep 30 & echo $!; wait", NULL };
	struct fl_proc_opts opts = { argv, NULL, NULL, 300, BIG, false, NULL };
	struct fl_buf out = FL_BUF_INIT, errtail = FL_BUF_INIT;
	struct fl_proc_io io = { "", 0, &out, &errtail, 64, false };
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(fl_proc_pipe(&res, &io, &opts, &err), 0);
	assert_true(res.timed_out);
	pid_t grandchild = (pid_t)strtol(out.ptr, NULL, 10);
	assert_true(grandchild > 0);
	assert_true(wait_gone(grandchild, 2000));
	fl_buf_release(&out);
	fl_buf_release(&errtail);
}

/* A program that cannot start says why, in start_errno. */
static void test_pipe_start_errno(void **state)
{
	(void)state;
	const char *argv[] = { "fl-no-such-program", NULL };
	struct fl_proc_opts opts = { argv, NULL, NULL, 1000, BIG, false, NULL };
	struct fl_buf errtail = FL_BUF_INIT;
	struct fl_proc_io io = { "x", 1, NULL, &errtail, 64, false };
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(fl_proc_pipe(&res, &io, &opts, &err), FL_ENOTFOUND);
	assert_int_equal(res.start_errno, ENOENT);
	fl_buf_release(&errtail);
}

int main(void)
{
	/* Read by the "env inherited" and "env overrides" cases. */
	setenv("FL_TEST_PARENT", "parent", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_env_name_matches),
		cmocka_unit_test(test_env_scrub),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_output_buffers),
		cmocka_unit_test(test_script_in_cwd),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_after_eof),
		cmocka_unit_test(test_grandchild_holds_pipe),
		cmocka_unit_test(test_grandchild_detached),
		cmocka_unit_test(test_die_with_parent),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_pipe_timeout_kills_group),
		cmocka_unit_test(test_pipe_start_errno),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
