/*
 * Tests of reconcile/rollout/verify.c: a fleet committed with git whose ci/check
 * script logs each run, exported with fl_verify_workdir and run through the
 * wrapper. The wrapper is this test binary itself: main() hands
 * `__verify-exec` to fl_verify_exec_main, and ctx.self_exe is /proc/self/exe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/rollout/verify.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define GIT FL_TEST_GIT

static void write_file(const char *dir, const char *path, const char *content)
{
	char full[512];
	FILE *f;

	snprintf(full, sizeof(full), "%s/%s", dir, path);
	char *slash = strrchr(full, '/');
	*slash = '\0';
	fl_test_run("mkdir -p '%s'", full);
	*slash = '/';
	f = fopen(full, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	assert_int_equal(fclose(f), 0);
}

/* ci/check LABEL [EXIT [SLEEP]]: logs the FLOTILLA_* environment, prints, sleeps, exits. */
static const char check_script[] =
	"#!/bin/sh\n"
	"echo \"$FLOTILLA_TENANT $FLOTILLA_ACCOUNT $FLOTILLA_REVISION $FLOTILLA_REGION $FLOTILLA_WAVE $1\""
	" >> \"$FL_TEST_LOG\"\n"
	"echo \"checked $1\"\n"
	"cat ci/data\n"
	"echo oops >&2\n"
	"if [ -n \"$3\" ]; then sleep \"$3\"; fi\n"
	"exit \"${2:-0}\"\n";

static const char fleet_yaml[] = "version: 1\n"
				 "name: small\n"
				 "vars:\n"
				 "  greeting: { type: string, default: hello }\n"
				 "waves:\n"
				 "  - name: canary\n"
				 "    select: { canary: true }\n"
				 "    verify:\n"
				 "      - name: smoke\n"
				 "        run: [\"ci/check\", \"{{tenant.name}}\"]\n"
				 "  - name: rest\n"
				 "    select: rest\n"
				 "driver: { type: http, endpoint: \"http://127.0.0.1:1/{{tenant.account}}\",\n"
				 "          token_env: \"FL_T_TOK_{{tenant.name}}\" }\n"
				 "status:\n"
				 "  - { type: git-notes }\n"
				 "  - { type: github, repo: o/n, token_env: FL_T_STATUS_TOKEN }\n"
				 "  - { type: webhook, url_env: FL_T_HOOK_URL }\n";

/* One test's world: the repository, its fleet, the exported files and a receipts directory. */
struct world {
	char dir[64];
	char receipts[64];
	char log[128];
	struct fl_repo *repo;
	struct fl_oid commit;
	struct fl_fleet *fleet;
	char *workdir;
	const struct fl_tenant *tenant;
	struct fl_verify_ctx ctx;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct fl_diags diags = { 0 };
	struct fl_error err = FL_ERROR_INIT;

	assert_non_null(w);
	snprintf(w->dir, sizeof(w->dir), "/tmp/fl-test-verify-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->receipts, sizeof(w->receipts), "/tmp/fl-test-receipts-XXXXXX");
	assert_non_null(mkdtemp(w->receipts));
	snprintf(w->log, sizeof(w->log), "%s.log", w->dir);
	write_file(w->dir, "fleet.yaml", fleet_yaml);
	write_file(w->dir, "tenants/acme.yaml",
		   "name: acme\naccount: \"123\"\nregions: [us-east-1, eu-west-1]\ncanary: true\n");
	write_file(w->dir, "ci/check", check_script);
	write_file(w->dir, "ci/data", "data from the commit\n");
	fl_test_run("chmod +x '%s/ci/check'", w->dir);
	fl_test_run("cd '%s' && " GIT " init -q && " GIT " add -A && " GIT " commit -q -m fleet", w->dir);
	/* The script's files must come from the commit, not the work tree. */
	write_file(w->dir, "ci/data", "uncommitted\n");

	assert_int_equal(fl_repo_open(&w->repo, w->dir, &err), 0);
	assert_int_equal(fl_repo_resolve(&w->commit, w->repo, "HEAD", &err), 0);
	if (fl_fleet_load(&w->fleet, w->repo, &w->commit, NULL, &diags, &err))
		fail_msg("fleet load failed: %s", err.msg);
	fl_diags_release(&diags);
	assert_int_equal(fl_verify_workdir(&w->workdir, w->repo, &w->commit, &err), 0);
	w->tenant = fl_fleet_tenant(w->fleet, "acme");
	assert_non_null(w->tenant);
	w->ctx.fleet = w->fleet;
	w->ctx.wave = &w->fleet->waves[0];
	w->ctx.workdir = w->workdir;
	w->ctx.receipts = w->receipts;
	w->ctx.self_exe = "/proc/self/exe";
	assert_int_equal(setenv("FL_TEST_LOG", w->log, 1), 0);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	free(w->workdir);
	fl_fleet_free(w->fleet);
	fl_repo_free(w->repo);
	fl_test_run("rm -rf '%s' '%s' '%s'", w->dir, w->receipts, w->log);
	free(w);
	return 0;
}

/* The lines of the log, or "" when nothing ran. */
static void read_log(struct fl_buf *out, const struct world *w)
{
	struct fl_error err = FL_ERROR_INIT;
	fl_buf_clear(out);
	int rc = fl_file_read(out, w->log, &err);
	assert_true(rc == 0 || rc == FL_ENOTFOUND);
}

static size_t count_lines(const struct fl_buf *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->len; i++)
		n += b->ptr[i] == '\n';
	return n;
}

static void test_workdir(void **state)
{
	struct world *w = *state;
	struct fl_error err = FL_ERROR_INIT;
	char hex[FL_OID_HEX_LEN + 1], want[256], path[300];
	char *again = NULL;
	struct stat st;

	fl_oid_hex(hex, &w->commit);
	snprintf(want, sizeof(want), "%s/.git/flotilla/trees/%s", w->dir, hex);
	assert_string_equal(w->workdir, want);
	snprintf(path, sizeof(path), "%s/ci/check", w->workdir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_mode & S_IXUSR);

	struct fl_buf data = FL_BUF_INIT;
	snprintf(path, sizeof(path), "%s/ci/data", w->workdir);
	assert_int_equal(fl_file_read(&data, path, &err), 0);
	assert_string_equal(data.ptr, "data from the commit\n");
	fl_buf_release(&data);

	/* A second call finds it and leaves nothing else behind. */
	assert_int_equal(fl_verify_workdir(&again, w->repo, &w->commit, &err), 0);
	assert_string_equal(again, w->workdir);
	free(again);
	char ls[512];
	snprintf(ls, sizeof(ls), "test \"$(ls -A '%s/.git/flotilla/trees')\" = %s", w->dir, hex);
	fl_test_run("%s", ls);
}

/* Runs a verify named name with argv on acme in region; returns fl_verify_run's code. */
static int verify(struct world *w, struct fl_verify_record *rec, struct fl_buf *output, const char *name,
		  const char **argv, size_t argc, unsigned timeout_s, const char *region,
		  struct fl_error *err)
{
	struct fl_verify v = { .name = name, .argv = argv, .argc = argc, .timeout_s = timeout_s };
	return fl_verify_run(rec, output, &w->ctx, w->tenant, region, &v, err);
}

static void test_pass_then_recall(void **state)
{
	struct world *w = *state;
	const char *argv[] = { "ci/check", "{{tenant.name}}-{{region}}-{{vars.greeting}}", "0" };
	struct fl_verify_record rec;
	struct fl_buf out = FL_BUF_INIT, log = FL_BUF_INIT, want = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	char path[256];

	if (verify(w, &rec, &out, "smoke", argv, 3, 60, "us-east-1", &err))
		fail_msg("verify failed: %s", err.msg);
	assert_string_equal(rec.name, "smoke");
	assert_string_equal(rec.region, "us-east-1");
	assert_int_equal(rec.exit_code, 0);
	assert_false(rec.timed_out);
	assert_true(rec.elapsed_ms >= 0 && rec.elapsed_ms < 60000);
	assert_true(rec.time > 0);
	assert_ptr_equal(rec.output, out.ptr);
	assert_int_equal(rec.output_len, out.len);
	/* Standard output and error together; ci/data from the commit, not the work tree. */
	assert_non_null(strstr(out.ptr, "checked acme-us-east-1-hello\n"));
	assert_non_null(strstr(out.ptr, "data from the commit\n"));
	assert_non_null(strstr(out.ptr, "oops\n"));

	read_log(&log, w);
	fl_buf_printf(&want, "acme 123 %s us-east-1 canary acme-us-east-1-hello\n", w->fleet->revision);
	assert_string_equal(log.ptr, want.ptr);
	snprintf(path, sizeof(path), "%s/acme/us-east-1/smoke", w->receipts);
	assert_true(fl_test_exists(path));

	/* Recalled from the receipt: the same record, and the command does not run again. */
	struct fl_verify_record again;
	struct fl_buf out2 = FL_BUF_INIT;
	assert_int_equal(verify(w, &again, &out2, "smoke", argv, 3, 60, "us-east-1", &err), 0);
	assert_int_equal(again.exit_code, 0);
	assert_false(again.timed_out);
	assert_int_equal(again.elapsed_ms, rec.elapsed_ms);
	assert_int_equal(again.time, rec.time);
	assert_string_equal(out2.ptr, out.ptr);
	read_log(&log, w);
	assert_int_equal(count_lines(&log), 1);

	/* Another region is another run. */
	assert_int_equal(verify(w, &again, &out2, "smoke", argv, 3, 60, "eu-west-1", &err), 0);
	assert_string_equal(again.region, "eu-west-1");
	read_log(&log, w);
	assert_int_equal(count_lines(&log), 2);

	fl_buf_release(&out);
	fl_buf_release(&out2);
	fl_buf_release(&log);
	fl_buf_release(&want);
}

/* One line per case: what runs, and what the record must say. */
struct run_case {
	const char *name;
	const char *argv[4];
	unsigned timeout_s;
	int exit_code;
	bool timed_out;
	const char *output; /* a substring of the output */
	size_t log_lines;   /* lines the script logged */
};

static const struct run_case run_cases[] = {
	{ "fails", { "ci/check", "f", "3", NULL }, 60, 3, false, "checked f\n", 1 },
	{ "times out", { "ci/check", "t", "0", "30" }, 1, 128 + 9, true, "checked t\n", 1 },
	{ "missing program", { "ci/nope", NULL, NULL, NULL }, 60, 127, false, "ci/nope", 0 },
	{ "not in PATH", { "fl-no-such-prog", NULL, NULL, NULL }, 60, 127, false, "fl-no-such-prog", 0 },
	{ "odd name: a/b c", { "true", NULL, NULL, NULL }, 60, 0, false, "", 0 },
	/* Names that a lossy escape would confuse each get their own receipt. */
	{ "x y", { "ci/check", "x y", NULL, NULL }, 60, 0, false, "checked x y\n", 1 },
	{ "x_y", { "ci/check", "x_y", NULL, NULL }, 60, 0, false, "checked x_y\n", 1 },
	{ "x_20y", { "ci/check", "x_20y", NULL, NULL }, 60, 0, false, "checked x_20y\n", 1 },
	{ "s", { "ci/check", "s", NULL, NULL }, 60, 0, false, "checked s\n", 1 },
	{ "s.lock", { "ci/check", "s.lock", NULL, NULL }, 60, 0, false, "checked s.lock\n", 1 },
};

static void test_run_cases(void **state)
{
	struct world *w = *state;
	struct fl_buf out = FL_BUF_INIT, log = FL_BUF_INIT;
	size_t lines = 0;

	for (size_t i = 0; i < sizeof(run_cases) / sizeof(run_cases[0]); i++) {
		const struct run_case *c = &run_cases[i];
		struct fl_error err = FL_ERROR_INIT;
		struct fl_verify_record rec;
		size_t argc = 0;
		while (argc < 4 && c->argv[argc])
			argc++;

		print_message("case: %s\n", c->name);
		if (verify(w, &rec, &out, c->name, (const char **)c->argv, argc, c->timeout_s, "us-east-1",
			   &err))
			fail_msg("case '%s': %s", c->name, err.msg);
		if (rec.exit_code != c->exit_code || rec.timed_out != c->timed_out ||
		    !strstr(out.ptr, c->output))
			fail_msg("case '%s': exit %d, timed out %d, output '%s'", c->name, rec.exit_code,
				 rec.timed_out, out.ptr);
		if (c->timed_out && rec.elapsed_ms > 10000)
			fail_msg("case '%s': took %lld ms", c->name, rec.elapsed_ms);
		lines += c->log_lines;
		read_log(&log, w);
		if (count_lines(&log) != lines)
			fail_msg("case '%s': %zu lines logged, want %zu", c->name, count_lines(&log), lines);
	}

	/* The odd name became one path component. */
	char path[256];
	snprintf(path, sizeof(path), "%s/acme/us-east-1/odd_20name_3a_20a_2fb_20c", w->receipts);
	assert_true(fl_test_exists(path));
	fl_buf_release(&out);
	fl_buf_release(&log);
}

struct racer {
	struct world *w;
	struct fl_verify_record rec;
	struct fl_buf out;
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	const char *argv[] = { "ci/check", "race", "5", "1" };
	struct fl_error err = FL_ERROR_INIT;
	r->rc = verify(r->w, &r->rec, &r->out, "race", argv, 4, 60, "us-east-1", &err);
	return NULL;
}

static void test_concurrent_runs_once(void **state)
{
	struct world *w = *state;
	struct racer r[2];
	pthread_t t[2];
	struct fl_buf log = FL_BUF_INIT;

	for (int i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].w = w;
		fl_buf_init(&r[i].out, 0);
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].rc, 0);
		assert_int_equal(r[i].rec.exit_code, 5);
		assert_non_null(strstr(r[i].out.ptr, "checked race\n"));
	}
	assert_int_equal(r[0].rec.time, r[1].rec.time);
	read_log(&log, w);
	assert_int_equal(count_lines(&log), 1);
	for (int i = 0; i < 2; i++)
		fl_buf_release(&r[i].out);
	fl_buf_release(&log);
}

/* flotilla killed mid-run: the wrapper finishes alone, and a new run waits for its receipt. */
static void test_killed_flotilla_resumes(void **state)
{
	struct world *w = *state;
	const char *argv[] = { "ci/check", "orphan", "4", "1" };
	struct fl_verify_record rec;
	struct fl_buf out = FL_BUF_INIT, log = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	char path[256];
	int status = 0;

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A flotilla that gets killed while its verify runs. */
		int rc = verify(w, &rec, &out, "orphan", argv, 4, 60, "us-east-1", &err);
		_exit(rc ? 1 : 0);
	}
	/* Wait until the command started (it logs first, then sleeps for a second). */
	for (int i = 0; i < 200 && count_lines(&log) == 0; i++) {
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
		read_log(&log, w);
	}
	assert_int_equal(count_lines(&log), 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	snprintf(path, sizeof(path), "%s/acme/us-east-1/orphan", w->receipts);
	assert_false(fl_test_exists(path));

	assert_int_equal(verify(w, &rec, &out, "orphan", argv, 4, 60, "us-east-1", &err), 0);
	assert_int_equal(rec.exit_code, 4);
	assert_true(rec.elapsed_ms >= 900);
	assert_non_null(strstr(out.ptr, "checked orphan\n"));
	read_log(&log, w);
	assert_int_equal(count_lines(&log), 1);
	fl_buf_release(&out);
	fl_buf_release(&log);
}

static void test_output_truncated(void **state)
{
	struct world *w = *state;
	const char *argv[] = { "sh", "-c",
			       "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done" };
	struct fl_verify_record rec;
	struct fl_buf out = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;

	assert_int_equal(verify(w, &rec, &out, "big", argv, 3, 60, "us-east-1", &err), 0);
	assert_int_equal(rec.exit_code, 0);
	assert_int_equal(rec.output_len, FL_LEDGER_OUTPUT_MAX);
	assert_int_equal(memcmp(rec.output, "0123456789\n0123456789\n", 22), 0);
	fl_buf_release(&out);
}

static void test_errors(void **state)
{
	struct world *w = *state;
	const char *bad_template[] = { "ci/check", "{{vars.nope}}" };
	struct fl_verify_record rec;
	struct fl_buf out = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	char path[256];

	/* A template error is returned, and nothing runs. */
	assert_int_equal(verify(w, &rec, &out, "tpl", bad_template, 2, 60, "us-east-1", &err), FL_EINPUT);
	assert_non_null(strstr(err.msg, "verify 'tpl': "));
	snprintf(path, sizeof(path), "%s/acme/us-east-1/tpl", w->receipts);
	assert_false(fl_test_exists(path));

	/* A wrapper that writes no receipt: its exit code and output are the error. */
	struct fl_verify_ctx ctx = w->ctx;
	const char *argv[] = { "true" };
	struct fl_verify v = { .name = "nowrap", .argv = argv, .argc = 1, .timeout_s = 60 };
	fl_error_clear(&err);
	ctx.self_exe = "/bin/echo";
	assert_int_equal(fl_verify_run(&rec, &out, &ctx, w->tenant, "us-east-1", &v, &err), FL_EIO);
	assert_non_null(strstr(err.msg, "exited with code 0"));
	assert_non_null(strstr(err.msg, "__verify-exec"));

	/* A receipt that is not one. */
	snprintf(path, sizeof(path), "%s/acme/us-east-1", w->receipts);
	assert_int_equal(fl_mkdir_p(path, &err), 0);
	snprintf(path, sizeof(path), "%s/acme/us-east-1/broken", w->receipts);
	assert_int_equal(fl_file_write_atomic(path, "flotilla-verify 1 0 0\n5 6\n", 26, &err), 0);
	v.name = "broken";
	fl_error_clear(&err);
	assert_int_equal(fl_verify_run(&rec, &out, &w->ctx, w->tenant, "us-east-1", &v, &err), FL_EIO);
	assert_non_null(strstr(err.msg, "is not a verify receipt"));

	/* The wrapper's usage errors. */
	char exec[] = "__verify-exec", r[] = "r", bad_ms[] = "x", ms[] = "10", cwd[] = "/", dashes[] = "--",
	     cmd[] = "true";
	char *usage1[] = { exec, r, bad_ms, cwd, dashes, cmd, NULL };
	char *usage2[] = { exec, r, ms, cwd, NULL };
	assert_int_equal(fl_verify_exec_main(6, usage1), 1);
	assert_int_equal(fl_verify_exec_main(4, usage2), 1);
	fl_buf_release(&out);
}

/*
 * Secrets (SPEC 9): flotilla's own, AWS keys, a status entry's token_env (and
 * a webhook's url_env) and the http driver's per-tenant token_env never
 * reach a verify command, nor the wrapper; pass_env hands one on. One row
 * per verify entry.
 */
/* clang-format off */
static const struct secrets_case {
	const char *name;
	const char *pass[2];
	const char *seen[3];
	const char *unseen[9];
} secrets_cases[] = {
	{ "dropped", { NULL }, { "FL_T_PLAIN=plain", "FLOTILLA_TENANT=acme", NULL },
	  { "FLOTILLA_GIT_TOKEN=", "FLOTILLA_SSH_PASSPHRASE=", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=",
	    "AWS_SESSION_TOKEN=", "FL_T_STATUS_TOKEN=", "FL_T_TOK_acme=", "FL_T_HOOK_URL=", NULL } },
	{ "handed on", { "AWS_SESSION_TOKEN", NULL }, { "AWS_SESSION_TOKEN=aws-session", "FL_T_PLAIN=plain", NULL },
	  { "FLOTILLA_GIT_TOKEN=", "AWS_ACCESS_KEY_ID=", "FL_T_TOK_acme=", NULL } },
};
/* clang-format on */

static bool has_line_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			return true;
	return false;
}

static void test_secrets_dropped(void **state)
{
	static const char *const secrets[][2] = {
		{ "FLOTILLA_GIT_TOKEN", "git" },	  { "FLOTILLA_SSH_PASSPHRASE", "ssh" },
		{ "AWS_ACCESS_KEY_ID", "aws-id" },	  { "AWS_SECRET_ACCESS_KEY", "aws-secret" },
		{ "AWS_SESSION_TOKEN", "aws-session" }, { "FL_T_STATUS_TOKEN", "status" },
		{ "FL_T_TOK_acme", "tenant-token" },	  { "FL_T_PLAIN", "plain" },
		{ "FL_T_HOOK_URL", "https://hooks.example/services/T/B/X" },
	};
	struct world *w = *state;
	const char *argv[] = { "sh", "-c", "env | grep -E '^(FLOTILLA_|AWS_|FL_T_)'" };
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		assert_int_equal(setenv(secrets[i][0], secrets[i][1], 1), 0);
	for (size_t i = 0; i < sizeof(secrets_cases) / sizeof(secrets_cases[0]); i++) {
		const struct secrets_case *c = &secrets_cases[i];
		struct fl_verify v = { .name = c->name, .argv = argv, .argc = 3, .timeout_s = 60,
				       .pass_env = (const char **)c->pass, .npass_env = c->pass[0] ? 1 : 0 };
		struct fl_verify_record rec;
		struct fl_buf out = FL_BUF_INIT;
		struct fl_error err = FL_ERROR_INIT;
		if (fl_verify_run(&rec, &out, &w->ctx, w->tenant, "us-east-1", &v, &err))
			fail_msg("%s: verify failed: %s", c->name, err.msg);
		for (size_t j = 0; j < 3 && c->seen[j]; j++)
			if (!has_line_starting(out.ptr, c->seen[j]))
				fail_msg("%s: the command did not see '%s' in:\n%s", c->name, c->seen[j], out.ptr);
		for (size_t j = 0; j < 9 && c->unseen[j]; j++)
			if (has_line_starting(out.ptr, c->unseen[j]))
				fail_msg("%s: the command saw '%s'", c->name, c->unseen[j]);
		fl_buf_release(&out);
	}
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		unsetenv(secrets[i][0]);
}

int main(int argc, char **argv)
{
	/* This binary is also the wrapper that fl_verify_run starts. */
	if (argc > 1 && strcmp(argv[1], "__verify-exec") == 0)
		return fl_verify_exec_main(argc - 1, argv + 1);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_workdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_then_recall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_runs_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_flotilla_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_dropped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
