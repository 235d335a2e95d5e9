/*
 * Tests of reconcile/status/status_forge.c: each forge writer (github, gitlab,
 * gitea) drives tests/servers/fake_forge.py, which enforces that forge's
 * API strictly and serves what it accepted at GET /_statuses and its
 * request counts at GET /_stats. Faults (500, 429, dropped connections) are
 * queued through POST /_faults, statuses posted earlier (another run's)
 * through POST /_seed.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/http.h"
#include "core/json.h"
#include "core/node.h"
#include "reconcile/status/status.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define SHA "0123456789abcdef0123456789abcdef01234567"
#define TOKEN "s3cret-token"
#define TOKEN_ENV "FL_TEST_FORGE_TOKEN"

/* A fake forge of one kind and a writer pointed at it. */
struct fx {
	const char *kind;
	pid_t pid;
	int port;
	char base[64];	       /* http://127.0.0.1:PORT */
	char api[96];	       /* base + the forge's API prefix */
	struct fl_arena arena; /* parsed configurations and answers */
	struct fl_status_writer w;
	bool open;
};

/* 0 github, 1 gitlab, 2 gitea */
static const char *const KINDS[] = { "github", "gitlab", "gitea" };

static const char *where_key(const char *kind)
{
	return strcmp(kind, "gitlab") == 0 ? "project" : "repo";
}

/* ---- the fake forge ---- */

static void start_forge(struct fx *fx, const char *where)
{
	const char *fixtures = getenv("FL_FIXTURES");
	char script[4096];
	int fds[2];
	assert_non_null(fixtures);
	snprintf(script, sizeof(script), "%s/../tests/servers/fake_forge.py", fixtures);
	assert_int_equal(pipe(fds), 0);
	fx->pid = fork();
	assert_true(fx->pid >= 0);
	if (fx->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", script, "--kind", fx->kind, "--token", TOKEN,
		       strcmp(fx->kind, "gitlab") == 0 ? "--project" : "--repo", where, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *in = fdopen(fds[0], "r");
	assert_non_null(in);
	char line[64] = "";
	if (!fgets(line, sizeof(line), in) || sscanf(line, "PORT %d", &fx->port) != 1)
		fail_msg("fake_forge.py did not start: '%s'", line);
	fclose(in);
	snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d", fx->port);
	snprintf(fx->api, sizeof(fx->api), "%s%s", fx->base,
		 strcmp(fx->kind, "github") == 0   ? ""
		 : strcmp(fx->kind, "gitlab") == 0 ? "/api/v4"
						   : "/api/v1");
}

static void stop_forge(struct fx *fx)
{
	if (fx->pid > 0) {
		kill(fx->pid, SIGTERM);
		waitpid(fx->pid, NULL, 0);
		fx->pid = 0;
	}
}

/* A request to a test endpoint of the fake forge; its answer parsed as JSON. */
static const struct fl_node *forge_call(struct fx *fx, const char *method, const char *path, const char *body)
{
	char url[256];
	struct fl_http_response resp = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *out = NULL;
	snprintf(url, sizeof(url), "%s%s", fx->base, path);
	struct fl_http_request req = {
		.method = method, .url = url, .body = body, .body_len = body ? strlen(body) : 0
	};
	fl_buf_init(&resp.body, 1 << 20);
	assert_int_equal(fl_http_request(&resp, &req, &err), 0);
	assert_int_equal(resp.status, 200);
	struct fl_source src = { path, resp.body.ptr, resp.body.len };
	assert_int_equal(fl_json_parse(&out, &fx->arena, &src, &err), 0);
	fl_buf_release(&resp.body);
	return out;
}

static const struct fl_node *statuses(struct fx *fx)
{
	const struct fl_node *list = forge_call(fx, "GET", "/_statuses", NULL);
	assert_int_equal(list->type, FL_NODE_SEQ);
	return list;
}

static long long forge_stat(struct fx *fx, const char *key)
{
	const struct fl_node *n = fl_node_get(forge_call(fx, "GET", "/_stats", NULL), key);
	assert_non_null(n);
	return n->v.i;
}

static void faults(struct fx *fx, const char *list)
{
	(void)forge_call(fx, "POST", "/_faults", list);
}

static const char *field(const struct fl_node *status, const char *key)
{
	const struct fl_node *n = fl_node_get(status, key);
	return n && n->type == FL_NODE_STR ? n->v.str.ptr : NULL;
}

/* ---- the writer ---- */

/* A status entry of fleet.yaml, written as JSON; extra is more "key": value pairs or "". */
static int open_writer(struct fx *fx, const char *extra, struct fl_error *err)
{
	char text[2048];
	struct fl_node *node = NULL;
	struct fl_error perr = FL_ERROR_INIT;
	snprintf(text, sizeof(text),
		 "{\"type\": \"%s\", \"%s\": \"%s\", \"token_env\": \"" TOKEN_ENV "\"%s%s}", fx->kind,
		 where_key(fx->kind), strcmp(fx->kind, "gitlab") == 0 ? "group/sub/name" : "acme/fleet",
		 *extra ? ", " : "", extra);
	char *copy = fl_arena_strdup(&fx->arena, text);
	struct fl_source src = { "status", copy, strlen(copy) };
	assert_int_equal(fl_json_parse(&node, &fx->arena, &src, &perr), 0);
	struct fl_status_conf conf = { fx->kind, node };
	int rc = fl_status_forge_open(&fx->w, &conf, SHA, err);
	fx->open = rc == 0;
	if (fx->open)
		assert_string_equal(fx->w.ops->type, fx->kind);
	return rc;
}

/* Opens the writer at the fake forge's API. */
static void open_default(struct fx *fx, const char *extra)
{
	char more[1024];
	struct fl_error err = FL_ERROR_INIT;
	snprintf(more, sizeof(more), "\"api_url\": \"%s/\"%s%s", fx->api, *extra ? ", " : "", extra);
	if (open_writer(fx, more, &err))
		fail_msg("open %s: %s", fx->kind, err.msg);
}

static void close_writer(struct fx *fx)
{
	if (fx->open)
		fx->w.ops->free(fx->w.self);
	fx->open = false;
}

static int set(struct fx *fx, const char *context, enum fl_state state, const char *desc, bool progress,
	       struct fl_error *err)
{
	struct fl_status_update u = { context, state, desc, progress, FL_WAVE_EVENT_NONE };
	return fx->w.ops->set(fx->w.self, &u, err);
}

static void set_ok(struct fx *fx, const char *context, enum fl_state state, const char *desc)
{
	struct fl_error err = FL_ERROR_INIT;
	if (set(fx, context, state, desc, false, &err))
		fail_msg("%s: set %s: %s", fx->kind, context, err.msg);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	fx->kind = *(const char *const *)*state;
	fl_arena_init(&fx->arena, 0);
	start_forge(fx, strcmp(fx->kind, "gitlab") == 0 ? "group/sub/name" : "acme/fleet");
	assert_int_equal(setenv(TOKEN_ENV, TOKEN, 1), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	close_writer(fx);
	stop_forge(fx);
	fl_arena_release(&fx->arena);
	free(fx);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the writer reports at the end of a run, in fx's arena. */
static const char *report(struct fx *fx)
{
	struct fl_buf b = FL_BUF_INIT;
	assert_non_null(fx->w.ops->report);
	fx->w.ops->report(fx->w.self, &b);
	char *out = fl_arena_strdup(&fx->arena, b.ptr);
	fl_buf_release(&b);
	return out;
}

/* Another run's status of context on the commit, count times, in this forge's words. */
static void seed(struct fx *fx, const char *context, const char *state, const char *desc, int count)
{
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"sha\": \"" SHA "\", \"context\": \"%s\", \"state\": \"%s\", \"description\": \"%s\", "
		 "\"count\": %d}",
		 context, state, desc, count);
	(void)forge_call(fx, "POST", "/_seed", body);
}

/* ---- tests ---- */

/* flotilla's states as each forge names them; one context each, so GitLab's transitions stay out of it. */
static void test_states_mapped(void **state)
{
	struct fx *fx = *state;
	static const struct {
		enum fl_state state;
		const char *desc;
		const char *github, *gitlab, *gitea;
	} cases[] = {
		{ FL_STATE_PENDING, "awaiting promotion", "pending", "pending", "pending" },
		{ FL_STATE_PENDING, "applying: 0/4 done, 0 failed (tolerance 0)", "pending", "running",
		  "pending" },
		{ FL_STATE_SUCCESS, "applied 4/4", "success", "success", "success" },
		{ FL_STATE_FAILURE, "halted: 2 of 4 failed (tolerance 0)", "failure", "failed", "failure" },
		{ FL_STATE_ERROR, "not started: wave canary failed", "error", "failed", "error" },
		{ FL_STATE_ERROR, "superseded by 89abcde", "error", "canceled", "error" },
	};
	open_default(fx, "");
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char context[64];
		snprintf(context, sizeof(context), "flotilla/wave/w%zu", i);
		set_ok(fx, context, cases[i].state, cases[i].desc);
	}
	const struct fl_node *list = statuses(fx);
	assert_int_equal(list->v.seq.len, N_ELEMS(cases));
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		const struct fl_node *s = list->v.seq.items[i];
		const char *want = strcmp(fx->kind, "github") == 0   ? cases[i].github
				   : strcmp(fx->kind, "gitlab") == 0 ? cases[i].gitlab
								     : cases[i].gitea;
		char context[64];
		snprintf(context, sizeof(context), "flotilla/wave/w%zu", i);
		if (strcmp(field(s, "state"), want) != 0)
			fail_msg("%s case %zu (%s): state %s, expected %s", fx->kind, i, cases[i].desc,
				 field(s, "state"), want);
		assert_string_equal(field(s, "context"), context);
		assert_string_equal(field(s, "description"), cases[i].desc);
		assert_string_equal(field(s, "sha"), SHA);
		assert_null(field(s, "target_url"));
	}
	if (strcmp(fx->kind, "github") == 0) {
		assert_string_equal(field(list->v.seq.items[0], "accept"), "application/vnd.github+json");
		assert_string_equal(field(list->v.seq.items[0], "api_version"), "2022-11-28");
	}
}

/* The same status twice is one request; calls follow changes, not calls to set. */
static void test_dedupe(void **state)
{
	struct fx *fx = *state;
	open_default(fx, "");
	set_ok(fx, "flotilla/plan", FL_STATE_SUCCESS, "3 to create");
	set_ok(fx, "flotilla/plan", FL_STATE_SUCCESS, "3 to create");
	assert_int_equal(forge_stat(fx, "posts"), 1);
	set_ok(fx, "flotilla/wave/canary", FL_STATE_PENDING, "awaiting promotion");
	set_ok(fx, "flotilla/wave/canary", FL_STATE_PENDING, "awaiting promotion");
	set_ok(fx, "flotilla/wave/canary", FL_STATE_PENDING, "applying: 0/2 done, 0 failed (tolerance 0)");
	set_ok(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 2/2");
	set_ok(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 2/2");
	assert_int_equal(forge_stat(fx, "posts"), 4);
	assert_int_equal(forge_stat(fx, "reads"), 1); /* the commit's statuses, read back once */
	assert_int_equal(statuses(fx)->v.seq.len, 4);
	assert_string_equal(report(fx), "");
}

/* Progress (counts moving inside a running wave) never reaches a forge. */
static void test_progress_dropped(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	open_default(fx, "");
	set_ok(fx, "flotilla/wave/fleet", FL_STATE_PENDING, "applying: 0/30 done, 0 failed (tolerance 0)");
	for (int i = 1; i <= 30; i++) {
		char desc[80];
		snprintf(desc, sizeof(desc), "applying: %d/30 done, 0 failed (tolerance 0)", i);
		assert_int_equal(set(fx, "flotilla/wave/fleet", FL_STATE_PENDING, desc, true, &err), 0);
	}
	set_ok(fx, "flotilla/wave/fleet", FL_STATE_SUCCESS, "applied 30/30");
	assert_int_equal(forge_stat(fx, "posts"), 2);
	assert_null(fx->w.ops->flush ? (fx->w.ops->flush(fx->w.self, &err) ? "flush failed" : NULL) : NULL);
	assert_int_equal(forge_stat(fx, "posts"), 2);
}

/* A long description is cut to 140 bytes, never inside a character; invalid bytes become '?'. */
static void test_description_cut(void **state)
{
	struct fx *fx = *state;
	char desc[400] = "";
	open_default(fx, "");
	/* 139 ASCII bytes, then "é" (2 bytes) that would end at 141: cut before it. */
	memset(desc, 'a', 139);
	snprintf(desc + 139, sizeof(desc) - 139, "\xc3\xa9 and more text past the limit");
	set_ok(fx, "flotilla/plan", FL_STATE_SUCCESS, desc);
	set_ok(fx, "flotilla/wave/a", FL_STATE_SUCCESS, "bad \xff byte");
	const struct fl_node *list = statuses(fx);
	assert_int_equal(list->v.seq.len, 2);
	const char *got = field(list->v.seq.items[0], "description");
	assert_int_equal(strlen(got), 139);
	assert_memory_equal(got, desc, 139);
	assert_string_equal(field(list->v.seq.items[1], "description"), "bad ? byte");
}

static void test_target_url(void **state)
{
	struct fx *fx = *state;
	open_default(fx, "\"target_url\": \"https://ci.example/fleet/{{sha}}/{{wave}}?context={{context}}\"");
	set_ok(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1");
	set_ok(fx, "flotilla/plan", FL_STATE_SUCCESS, "no changes");
	const struct fl_node *list = statuses(fx);
	assert_int_equal(list->v.seq.len, 2);
	assert_string_equal(field(list->v.seq.items[0], "target_url"),
			    "https://ci.example/fleet/" SHA "/canary?context=flotilla/wave/canary");
	assert_string_equal(field(list->v.seq.items[1], "target_url"),
			    "https://ci.example/fleet/" SHA "/?context=flotilla/plan");
}

/* A missing token fails each send (counted by the rollout), never the open; nothing is sent. */
static void test_missing_token(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	open_default(fx, "");
	assert_int_equal(unsetenv(TOKEN_ENV), 0);
	assert_int_equal(set(fx, "flotilla/plan", FL_STATE_SUCCESS, "ok", false, &err), FL_EINPUT);
	char want[160];
	snprintf(want, sizeof(want),
		 "%s status 'flotilla/plan': environment variable '" TOKEN_ENV "' is not set", fx->kind);
	assert_string_equal(err.msg, want);
	assert_int_equal(setenv(TOKEN_ENV, "", 1), 0);
	assert_int_equal(set(fx, "flotilla/plan", FL_STATE_SUCCESS, "ok", false, &err), FL_EINPUT);
	assert_int_equal(forge_stat(fx, "requests"), 0);
	/* A later set for the context, with the token back, sends it. */
	assert_int_equal(setenv(TOKEN_ENV, TOKEN, 1), 0);
	set_ok(fx, "flotilla/plan", FL_STATE_SUCCESS, "ok");
	assert_int_equal(forge_stat(fx, "posts"), 1);
	assert_int_equal(forge_stat(fx, "reads"), 1);
}

static void test_wrong_token(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	open_default(fx, "");
	assert_int_equal(setenv(TOKEN_ENV, "not-the-token", 1), 0);
	assert_int_equal(set(fx, "flotilla/plan", FL_STATE_SUCCESS, "ok", false, &err), FL_EIO);
	assert_non_null(strstr(err.msg, "HTTP 401"));
	assert_null(strstr(err.msg, "not-the-token"));
	/* 401 is not retried, not even at flush. */
	assert_int_equal(fx->w.ops->flush(fx->w.self, &err), 0);
	assert_int_equal(forge_stat(fx, "posts"), 1);
	assert_int_equal(statuses(fx)->v.seq.len, 0);
	/* Reading back failed too: said once, at the end. */
	assert_int_equal(forge_stat(fx, "reads"), 1);
	const char *said = report(fx);
	assert_non_null(strstr(said, "could not read back the commit's statuses, so every status was posted"));
	assert_non_null(strstr(said, "HTTP 401"));
	assert_null(strstr(said, "not-the-token"));
}

/* One fault then success: the send is retried and succeeds. */
static void check_retried(struct fx *fx, const char *fault, double min_s)
{
	char list[32];
	snprintf(list, sizeof(list), "[\"POST:%s\"]", fault);
	open_default(fx, "");
	faults(fx, list);
	double t0 = now_s();
	set_ok(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1");
	double took = now_s() - t0;
	if (took < min_s)
		fail_msg("%s after %s: took %.2fs, expected at least %.2fs", fx->kind, fault, took, min_s);
	assert_int_equal(forge_stat(fx, "posts"), 2);
	assert_int_equal(forge_stat(fx, "faults"), 1);
	assert_int_equal(statuses(fx)->v.seq.len, 1);
}

static void test_retry_500(void **state)
{
	check_retried(*state, "500", 0);
}

static void test_retry_429_after(void **state)
{
	check_retried(*state, "429", 0.9); /* Retry-After: 1 */
}

static void test_retry_drop(void **state)
{
	check_retried(*state, "drop", 0);
}

/* Every try failing is an error; flush tries that context's latest status again. */
static void test_flush_retries_transient(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	open_default(fx, "");
	faults(fx, "[\"POST:500\", \"POST:500\", \"POST:500\", \"POST:500\", \"POST:500\"]");
	assert_int_equal(set(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1", false, &err),
			 FL_EIO);
	assert_non_null(strstr(err.msg, "HTTP 500"));
	assert_int_equal(statuses(fx)->v.seq.len, 0);
	assert_int_equal(fx->w.ops->flush(fx->w.self, &err), 0);
	const struct fl_node *list = statuses(fx);
	assert_int_equal(list->v.seq.len, 1);
	assert_string_equal(field(list->v.seq.items[0], "description"), "applied 1/1");
	/* Sent now: neither flush nor the same status sends it again. */
	assert_int_equal(fx->w.ops->flush(fx->w.self, &err), 0);
	set_ok(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1");
	assert_int_equal(forge_stat(fx, "posts"), 6);
}

/*
 * A later run repeats a pending status ("awaiting promotion"): the forge
 * shows it already (read back), so it is not posted again.
 */
static void test_repeat_run(void **state)
{
	struct fx *fx = *state;
	open_default(fx, "");
	set_ok(fx, "flotilla/wave/early", FL_STATE_PENDING, "awaiting promotion");
	close_writer(fx);
	open_default(fx, "");
	set_ok(fx, "flotilla/wave/early", FL_STATE_PENDING, "awaiting promotion");
	set_ok(fx, "flotilla/wave/early", FL_STATE_PENDING, "applying: 0/2 done, 0 failed (tolerance 0)");
	set_ok(fx, "flotilla/wave/early", FL_STATE_SUCCESS, "applied 2/2");
	const struct fl_node *list = statuses(fx);
	assert_int_equal(list->v.seq.len, 3);
	assert_string_equal(field(list->v.seq.items[2], "state"), "success");
	assert_int_equal(forge_stat(fx, "reads"), 2); /* once per run */
}

/*
 * The same, when the later run cannot read the statuses back: it posts
 * them all, and says so once. GitLab then refuses to enqueue the pending
 * status again (400 "Cannot transition status"), which means it stands.
 */
static void test_repeat_run_unread(void **state)
{
	struct fx *fx = *state;
	open_default(fx, "");
	set_ok(fx, "flotilla/wave/early", FL_STATE_PENDING, "awaiting promotion");
	close_writer(fx);
	open_default(fx, "");
	faults(fx, "[\"GET:500\", \"GET:500\", \"GET:500\", \"GET:500\", \"GET:500\"]");
	set_ok(fx, "flotilla/wave/early", FL_STATE_PENDING, "awaiting promotion");
	set_ok(fx, "flotilla/plan", FL_STATE_SUCCESS, "1 tenant changes: +1 ~0 -0");
	const struct fl_node *list = statuses(fx);
	size_t want = strcmp(fx->kind, "gitlab") == 0 ? 2 : 3;
	assert_int_equal(list->v.seq.len, want);
	assert_int_equal(forge_stat(fx, "reads"), 6); /* the first run's read, then five tries */
	const char *said = report(fx);
	assert_non_null(strstr(said, "could not read back the commit's statuses, so every status was posted"));
	assert_non_null(strstr(said, "HTTP 500"));
	assert_null(strchr(strchr(said, '\n') + 1, '\n')); /* one line, not one per status */
}

/* Three runs at a gate post each context once; a changed description is posted. */
static void test_three_runs(void **state)
{
	struct fx *fx = *state;
	for (int run = 0; run < 3; run++) {
		open_default(fx, "");
		set_ok(fx, "flotilla/plan", FL_STATE_SUCCESS, "2 tenants change: +2 ~0 -0");
		set_ok(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1");
		set_ok(fx, "flotilla/wave/fleet", FL_STATE_PENDING, "awaiting promotion");
		assert_string_equal(report(fx), "");
		close_writer(fx);
	}
	assert_int_equal(forge_stat(fx, "posts"), 3);
	assert_int_equal(forge_stat(fx, "reads"), 3);
	open_default(fx, "");
	set_ok(fx, "flotilla/wave/fleet", FL_STATE_PENDING, "baking until 12:45Z");
	set_ok(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1");
	const struct fl_node *list = statuses(fx);
	size_t n = list->v.seq.len;
	/* GitLab will not enqueue a pending status twice: the description of a pending one stays. */
	if (strcmp(fx->kind, "gitlab") == 0) {
		assert_int_equal(n, 3);
		assert_int_equal(forge_stat(fx, "posts"), 4);
	} else {
		assert_int_equal(n, 4);
		assert_string_equal(field(list->v.seq.items[n - 1], "description"), "baking until 12:45Z");
		assert_string_equal(field(list->v.seq.items[n - 1], "state"), "pending");
	}
}

/* The read-back follows the forge's pages: a context on the last page is found. */
static void test_readback_pages(void **state)
{
	struct fx *fx = *state;
	struct fl_buf body = FL_BUF_INIT;
	const char *ok = "success"; /* every forge's word for it */
	fl_buf_putc(&body, '[');
	for (int i = 0; i < 250; i++)
		fl_buf_printf(&body,
			      "%s{\"sha\": \"" SHA "\", \"context\": \"other/%03d\", \"state\": \"%s\", "
			      "\"description\": \"theirs\"}",
			      i ? "," : "", i, ok);
	fl_buf_putc(&body, ']');
	seed(fx, "flotilla/plan", ok, "no changes: 3 tenants converged", 1);
	(void)forge_call(fx, "POST", "/_seed", body.ptr);
	fl_buf_release(&body);
	open_default(fx, "");
	set_ok(fx, "flotilla/plan", FL_STATE_SUCCESS, "no changes: 3 tenants converged");
	assert_int_equal(forge_stat(fx, "posts"), 0);
	/* 251 contexts: GitHub and GitLab give 100 a page, Gitea 50 (so a sixth, empty page ends it). */
	assert_int_equal(forge_stat(fx, "reads"), strcmp(fx->kind, "gitea") == 0 ? 6 : 3);
	set_ok(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1");
	assert_int_equal(forge_stat(fx, "posts"), 1);
}

/* GitHub's 1000 statuses per commit and context: a clear error, not retried, named in the report. */
static void test_cap(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	bool github = strcmp(fx->kind, "github") == 0;
	seed(fx, "flotilla/wave/canary", "pending", "awaiting promotion", 1000);
	open_default(fx, "");
	int rc = set(fx, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1", false, &err);
	if (!github) { /* only GitHub documents such a limit */
		assert_int_equal(rc, 0);
		assert_string_equal(report(fx), "");
		return;
	}
	assert_int_equal(rc, FL_ELIMIT);
	assert_string_equal(err.msg, "github status 'flotilla/wave/canary': the forge holds its maximum of 1000 "
				     "statuses for this commit and context, and takes no more (HTTP 422): not posted");
	/* Not retried: neither at flush nor by a later status of that context. */
	assert_int_equal(fx->w.ops->flush(fx->w.self, &err), 0);
	set_ok(fx, "flotilla/wave/canary", FL_STATE_FAILURE, "halted: 1 of 1 failed (tolerance 0)");
	assert_int_equal(forge_stat(fx, "posts"), 1);
	set_ok(fx, "flotilla/plan", FL_STATE_SUCCESS, "1 tenant changes: +1 ~0 -0"); /* others still go */
	assert_int_equal(forge_stat(fx, "posts"), 2);
	assert_string_equal(report(fx), "github status 'flotilla/wave/canary': the forge holds its maximum of 1000 "
					"statuses for this commit and context: its latest state was not posted\n");
}

/* Entries that cannot work are refused when the writers open. */
static void test_open_errors(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *api;   /* NULL: the fake forge's */
		const char *extra; /* more keys, or "" */
		const char *want;  /* in the message, after "<kind> status: " */
	} cases[] = {
		{ "http://forge.example/api", "", "would send the token over plain http" },
		{ "ftp://forge.example/api", "", "is not an http(s) URL" },
		{ NULL, ", \"target_url\": \"https://ci.example/{{tenant}}\"",
		  "unknown placeholder '{{tenant}}' in target_url" },
		{ NULL, ", \"target_url\": \"javascript:alert(1)\"", "is not an http(s) URL" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char extra[512];
		struct fl_error err = FL_ERROR_INIT;
		snprintf(extra, sizeof(extra), "\"api_url\": \"%s\"%s", cases[i].api ? cases[i].api : fx->api,
			 cases[i].extra);
		assert_int_equal(open_writer(fx, extra, &err), FL_EINPUT);
		if (!strstr(err.msg, cases[i].want) || strncmp(err.msg, fx->kind, strlen(fx->kind)) != 0)
			fail_msg("%s case %zu: '%s', expected '%s'", fx->kind, i, err.msg, cases[i].want);
	}
	if (strcmp(fx->kind, "gitlab") != 0) {
		static const char *const bad[] = { "acme",	  "acme/fleet/x", "/fleet", "acme/",
						   "ac me/fleet", "../fleet",	  "acme/.." };
		for (size_t i = 0; i < N_ELEMS(bad); i++) {
			char text[256];
			struct fl_node *node = NULL;
			struct fl_error err = FL_ERROR_INIT;
			snprintf(text, sizeof(text),
				 "{\"type\": \"%s\", \"repo\": \"%s\", \"token_env\": \"T\"}", fx->kind,
				 bad[i]);
			char *copy = fl_arena_strdup(&fx->arena, text);
			struct fl_source src = { "status", copy, strlen(copy) };
			assert_int_equal(fl_json_parse(&node, &fx->arena, &src, &err), 0);
			struct fl_status_conf conf = { fx->kind, node };
			if (fl_status_forge_open(&fx->w, &conf, SHA, &err) != FL_EINPUT)
				fail_msg("%s: repo '%s' was accepted", fx->kind, bad[i]);
			assert_non_null(strstr(err.msg, "is not owner/name"));
		}
	}
	/* The default api_url is the public service (https), so opening works without one. */
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(open_writer(fx, "", &err), 0);
}

/* One test per forge, named "test (kind)" so a failure says which. */
#define FORGE_CASE(fn, i, kind) \
	{ \
#fn " (" kind ")", fn, setup, teardown, (void *)&KINDS[i] \
	}
#define FORGE_TEST(fn) FORGE_CASE(fn, 0, "github"), FORGE_CASE(fn, 1, "gitlab"), FORGE_CASE(fn, 2, "gitea")

int main(void)
{
	const struct CMUnitTest tests[] = {
		FORGE_TEST(test_states_mapped),
		FORGE_TEST(test_dedupe),
		FORGE_TEST(test_progress_dropped),
		FORGE_TEST(test_description_cut),
		FORGE_TEST(test_target_url),
		FORGE_TEST(test_missing_token),
		FORGE_TEST(test_wrong_token),
		FORGE_TEST(test_retry_500),
		FORGE_TEST(test_retry_429_after),
		FORGE_TEST(test_retry_drop),
		FORGE_TEST(test_flush_retries_transient),
		FORGE_TEST(test_repeat_run),
		FORGE_TEST(test_repeat_run_unread),
		FORGE_TEST(test_three_runs),
		FORGE_TEST(test_readback_pages),
		FORGE_TEST(test_cap),
		FORGE_TEST(test_open_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
