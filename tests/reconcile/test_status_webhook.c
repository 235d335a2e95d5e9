/*
 * Tests of reconcile/status/status_webhook.c: the Slack and JSON bodies and
 * the masking of a webhook's URL, as functions; then the writer against
 * tests/servers/fake_webhook.py, which enforces Slack's incoming-webhook
 * rules and the JSON event schema, serves what it accepted at GET
 * /_messages and its counters at GET /_stats, and takes faults (500, 429,
 * dropped connections, 404, 410) through POST /_faults.
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
#include <unistd.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/http.h"
#include "core/json.h"
#include "core/node.h"
#include "reconcile/status/status.h"
#include "reconcile/status/status_webhook.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define SHA "0123456789abcdef0123456789abcdef01234567"
#define SLACK_PATH "/services/T0ACME/B0DEPLOY/xoxbSecretKey7"
#define SECRET "xoxbSecretKey7"
#define TOKEN "hook-token"
#define URL_ENV "FL_TEST_WEBHOOK_URL"
#define TOKEN_ENV "FL_TEST_WEBHOOK_TOKEN"

/* ---- the bodies ---- */

static void test_event_names(void **state)
{
	static const struct {
		enum fl_wave_event event;
		const char *name;
	} cases[] = {
		{ FL_WAVE_EVENT_STARTED, "wave.started" },
		{ FL_WAVE_EVENT_SUCCEEDED, "wave.succeeded" },
		{ FL_WAVE_EVENT_FAILED, "wave.failed" },
		{ FL_WAVE_EVENT_HALTED, "wave.halted" },
		{ FL_WAVE_EVENT_ROLLED_BACK, "wave.rolled_back" },
		{ FL_WAVE_EVENT_WAITING, "wave.waiting" },
		{ FL_WAVE_EVENT_SUPERSEDED, "wave.superseded" },
	};
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		assert_string_equal(fl_webhook_event_name(cases[i].event), cases[i].name);
}

static void test_slack_body(void **state)
{
	static const struct {
		const char *name;
		enum fl_wave_event event;
		const char *wave;
		enum fl_state state;
		const char *desc, *target, *want;
	} cases[] = {
		{ "started", FL_WAVE_EVENT_STARTED, "canary", FL_STATE_PENDING, "applying: 0/2 done", NULL,
		  "{\"text\":\"flotilla: wave *canary* started on `0123456` (pending: applying: 0/2 "
		  "done)\"}" },
		{ "succeeded", FL_WAVE_EVENT_SUCCEEDED, "fleet", FL_STATE_SUCCESS, "applied 20/20", NULL,
		  "{\"text\":\"flotilla: wave *fleet* succeeded on `0123456` (success: applied 20/20)\"}" },
		{ "failed", FL_WAVE_EVENT_FAILED, "canary", FL_STATE_FAILURE,
		  "halted: 1 of 2 failed (tolerance 0)", NULL,
		  "{\"text\":\"flotilla: wave *canary* failed on `0123456` (failure: halted: 1 of 2 failed "
		  "(tolerance "
		  "0))\"}" },
		{ "halted", FL_WAVE_EVENT_HALTED, "fleet", FL_STATE_ERROR, "not started: wave canary failed",
		  NULL,
		  "{\"text\":\"flotilla: wave *fleet* halted on `0123456` (error: not started: wave canary "
		  "failed)\"}" },
		{ "rolled back", FL_WAVE_EVENT_ROLLED_BACK, "canary", FL_STATE_FAILURE,
		  "rolled back to 89abcde", NULL,
		  "{\"text\":\"flotilla: wave *canary* rolled back on `0123456` (failure: rolled back to "
		  "89abcde)\"}" },
		{ "waiting", FL_WAVE_EVENT_WAITING, "early", FL_STATE_PENDING, "awaiting promotion", NULL,
		  "{\"text\":\"flotilla: wave *early* is waiting on `0123456` (pending: awaiting "
		  "promotion)\"}" },
		{ "superseded", FL_WAVE_EVENT_SUPERSEDED, "fleet", FL_STATE_ERROR, "superseded by 89abcde",
		  NULL,
		  "{\"text\":\"flotilla: wave *fleet* superseded on `0123456` (error: superseded by "
		  "89abcde)\"}" },
		{ "escaped", FL_WAVE_EVENT_FAILED, "a<b>&c", FL_STATE_FAILURE, "x < y && z > w | v", NULL,
		  "{\"text\":\"flotilla: wave *a&lt;b&gt;&amp;c* failed on `0123456` (failure: x &lt; y "
		  "&amp;&amp; z "
		  "&gt; w | v)\"}" },
		{ "JSON-escaped", FL_WAVE_EVENT_FAILED, "w", FL_STATE_FAILURE, "say \"hi\"\n", NULL,
		  "{\"text\":\"flotilla: wave *w* failed on `0123456` (failure: say \\\"hi\\\"\\n)\"}" },
		{ "link", FL_WAVE_EVENT_STARTED, "w", FL_STATE_PENDING, "d",
		  "https://ci.example/r?a=1&b=<2>|3",
		  "{\"text\":\"flotilla: wave *w* started on `0123456` (pending: d) "
		  "<https://ci.example/r?a=1&amp;b=&lt;2&gt;%7C3|details>\"}" },
	};
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_buf b = FL_BUF_INIT;
		char context[64];
		snprintf(context, sizeof(context), "flotilla/wave/%s", cases[i].wave);
		struct fl_webhook_event e = { cases[i].event, SHA,	     cases[i].wave,   context,
					      cases[i].state, cases[i].desc, cases[i].target, 0 };
		fl_webhook_slack_body(&b, &e);
		if (strcmp(b.ptr, cases[i].want) != 0)
			fail_msg("case '%s':\n  want %s\n  got  %s", cases[i].name, cases[i].want, b.ptr);
		fl_buf_release(&b);
	}
}

static const char *member(const struct fl_node *doc, const char *key)
{
	const struct fl_node *n = fl_node_get(doc, key);
	assert_non_null(n);
	return n->type == FL_NODE_STR ? n->v.str.ptr : NULL;
}

static void test_json_body(void **state)
{
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *doc = NULL;
	struct fl_buf b = FL_BUF_INIT;
	(void)state;
	fl_arena_init(&arena, 0);
	struct fl_webhook_event e = { FL_WAVE_EVENT_ROLLED_BACK,
				      SHA,
				      "canary",
				      "flotilla/wave/canary",
				      FL_STATE_FAILURE,
				      "rolled back to \"89abcde\"",
				      "https://ci.example/" SHA,
				      1795000000 };
	fl_webhook_json_body(&b, &e);
	struct fl_source src = { "event", b.ptr, b.len };
	assert_int_equal(fl_json_parse(&doc, &arena, &src, &err), 0);
	assert_int_equal(doc->type, FL_NODE_MAP);
	assert_int_equal(doc->v.map.len, 9);
	const struct fl_node *version = fl_node_get(doc, "version");
	assert_non_null(version);
	assert_int_equal(version->type, FL_NODE_INT);
	assert_int_equal(version->v.i, 1);
	assert_string_equal(member(doc, "event"), "wave.rolled_back");
	assert_string_equal(member(doc, "commit"), SHA);
	assert_string_equal(member(doc, "wave"), "canary");
	assert_string_equal(member(doc, "state"), "failure");
	assert_string_equal(member(doc, "description"), "rolled back to \"89abcde\"");
	assert_string_equal(member(doc, "context"), "flotilla/wave/canary");
	assert_string_equal(member(doc, "target_url"), "https://ci.example/" SHA);
	assert_string_equal(member(doc, "time"), "2026-11-18T11:06:40Z");
	/* No target_url: null, not absent; the states by their names. */
	fl_buf_clear(&b);
	e.target_url = NULL;
	e.state = FL_STATE_ERROR;
	e.event = FL_WAVE_EVENT_SUPERSEDED;
	fl_webhook_json_body(&b, &e);
	assert_non_null(strstr(b.ptr, "\"target_url\":null"));
	assert_non_null(strstr(b.ptr, "\"state\":\"error\""));
	assert_non_null(strstr(b.ptr, "\"event\":\"wave.superseded\""));
	assert_true(strncmp(b.ptr, "{\"version\":1,\"event\":", 21) == 0);
	fl_buf_release(&b);
	fl_arena_release(&arena);
}

static void test_url_mask(void **state)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "https://hooks.slack.com/services/T0/B0/XXXX", "https://hooks.slack.com/services/***" },
		{ "http://127.0.0.1:8080" SLACK_PATH, "http://127.0.0.1:8080/services/***" },
		{ "https://user:pw@hooks.example/a/b", "https://***@hooks.example/a/***" },
		{ "https://example.com/hook?token=abc", "https://example.com/***" },
		{ "https://example.com/a/b?token=abc", "https://example.com/a/***" },
		{ "https://webhook.site/0b0e6c0e-secret", "https://webhook.site/***" },
		{ "https://example.com?token=abc", "https://example.com?***" },
		{ "https://example.com/", "https://example.com/" },
		{ "https://example.com", "https://example.com" },
		{ "https://example.com/a/", "https://example.com/***" },
		{ "hooks.slack.com/services/T0/B0/XXXX", "***" },
	};
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_buf b = FL_BUF_INIT;
		fl_webhook_url_mask(&b, cases[i].url);
		if (strcmp(b.ptr, cases[i].want) != 0)
			fail_msg("%s:\n  want %s\n  got  %s", cases[i].url, cases[i].want, b.ptr);
		fl_buf_release(&b);
	}
}

/* ---- the writer ---- */

/* A fake webhook receiver and a writer pointed at it. */
struct fx {
	pid_t pid;
	int port;
	char base[64]; /* http://127.0.0.1:PORT */
	struct fl_arena arena;
	struct fl_status_writer w;
	bool open;
};

static void start_fake(struct fx *fx)
{
	const char *fixtures = getenv("FL_FIXTURES");
	char script[4096];
	int fds[2];
	assert_non_null(fixtures);
	snprintf(script, sizeof(script), "%s/../tests/servers/fake_webhook.py", fixtures);
	assert_int_equal(pipe(fds), 0);
	fx->pid = fork();
	assert_true(fx->pid >= 0);
	if (fx->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", script, "--slack", SLACK_PATH, "--token", TOKEN, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *in = fdopen(fds[0], "r");
	assert_non_null(in);
	char line[64] = "";
	if (!fgets(line, sizeof(line), in) || sscanf(line, "PORT %d", &fx->port) != 1)
		fail_msg("fake_webhook.py did not start: '%s'", line);
	fclose(in);
	snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d", fx->port);
}

/* A request to a test endpoint of the fake; its answer parsed as JSON. */
static const struct fl_node *fake_call(struct fx *fx, const char *method, const char *path, const char *body)
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

static long long fake_stat(struct fx *fx, const char *key)
{
	const struct fl_node *n = fl_node_get(fake_call(fx, "GET", "/_stats", NULL), key);
	assert_non_null(n);
	return n->v.i;
}

/* The body of the i-th message the fake accepted. */
static const struct fl_node *message(struct fx *fx, size_t i)
{
	const struct fl_node *list = fake_call(fx, "GET", "/_messages", NULL);
	assert_int_equal(list->type, FL_NODE_SEQ);
	assert_true(i < list->v.seq.len);
	return fl_node_get(list->v.seq.items[i], "body");
}

static void faults(struct fx *fx, const char *list)
{
	(void)fake_call(fx, "POST", "/_faults", list);
}

/* Opens a writer from a status entry written as JSON (without its type). */
static int open_writer(struct fx *fx, const char *entry, struct fl_error *err)
{
	char text[1024];
	struct fl_node *node = NULL;
	struct fl_error perr = FL_ERROR_INIT;
	snprintf(text, sizeof(text), "{\"type\": \"webhook\", %s}", entry);
	char *copy = fl_arena_strdup(&fx->arena, text);
	struct fl_source src = { "status", copy, strlen(copy) };
	assert_int_equal(fl_json_parse(&node, &fx->arena, &src, &perr), 0);
	struct fl_status_conf conf = { "webhook", node };
	int rc = fl_status_webhook_open(&fx->w, &conf, SHA, err);
	fx->open = rc == 0;
	if (fx->open)
		assert_string_equal(fx->w.ops->type, "webhook");
	return rc;
}

static void open_ok(struct fx *fx, const char *entry)
{
	struct fl_error err = FL_ERROR_INIT;
	if (open_writer(fx, entry, &err))
		fail_msg("open %s: %s", entry, err.msg);
}

static void close_writer(struct fx *fx)
{
	if (fx->open)
		fx->w.ops->free(fx->w.self);
	fx->open = false;
}

static void open_slack(struct fx *fx)
{
	char url[128];
	snprintf(url, sizeof(url), "%s" SLACK_PATH, fx->base);
	assert_int_equal(setenv(URL_ENV, url, 1), 0);
	open_ok(fx, "\"format\": \"slack\", \"url_env\": \"" URL_ENV "\"");
}

static void open_json(struct fx *fx)
{
	char entry[256];
	snprintf(entry, sizeof(entry),
		 "\"format\": \"json\", \"url\": \"%s/hooks/flotilla\", \"token_env\": \"" TOKEN_ENV "\"",
		 fx->base);
	open_ok(fx, entry);
}

static int set(struct fx *fx, const char *context, enum fl_state state, const char *desc, bool progress,
	       enum fl_wave_event event, struct fl_error *err)
{
	struct fl_status_update u = { context, state, desc, progress, event };
	return fx->w.ops->set(fx->w.self, &u, err);
}

static void set_ok(struct fx *fx, const char *wave, enum fl_state state, const char *desc,
		   enum fl_wave_event event)
{
	char context[64];
	struct fl_error err = FL_ERROR_INIT;
	snprintf(context, sizeof(context), "flotilla/wave/%s", wave);
	if (set(fx, context, state, desc, false, event, &err))
		fail_msg("set %s: %s", context, err.msg);
}

/* What the writer reports at the end of a run, in fx's arena. */
static const char *report(struct fx *fx)
{
	struct fl_buf b = FL_BUF_INIT;
	fx->w.ops->report(fx->w.self, &b);
	char *out = fl_arena_strdup(&fx->arena, b.ptr);
	fl_buf_release(&b);
	return out;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	fl_arena_init(&fx->arena, 0);
	start_fake(fx);
	assert_int_equal(setenv(TOKEN_ENV, TOKEN, 1), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	close_writer(fx);
	if (fx->pid > 0) {
		kill(fx->pid, SIGTERM);
		waitpid(fx->pid, NULL, 0);
	}
	fl_arena_release(&fx->arena);
	free(fx);
	return 0;
}

/* Only wave transitions are announced: not progress, not the plan, not an update without news. */
static void test_only_events(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	open_json(fx);
	assert_int_equal(set(fx, "flotilla/plan", FL_STATE_SUCCESS, "3 tenants change", false,
			     FL_WAVE_EVENT_NONE, &err),
			 0);
	assert_int_equal(
		set(fx, "flotilla/plan", FL_STATE_SUCCESS, "x", false, FL_WAVE_EVENT_SUCCEEDED, &err), 0);
	assert_int_equal(set(fx, "flotilla/wave/a", FL_STATE_PENDING, "applying: 1/4 done", true,
			     FL_WAVE_EVENT_NONE, &err),
			 0);
	assert_int_equal(set(fx, "flotilla/wave/a", FL_STATE_PENDING, "awaiting promotion", false,
			     FL_WAVE_EVENT_NONE, &err),
			 0);
	assert_int_equal(fake_stat(fx, "requests"), 0);
	set_ok(fx, "a", FL_STATE_PENDING, "awaiting promotion", FL_WAVE_EVENT_WAITING);
	assert_int_equal(fake_stat(fx, "accepted"), 1);
	assert_string_equal(member(message(fx, 0), "event"), "wave.waiting");
	assert_int_equal(fx->w.ops->flush(fx->w.self, &err), 0);
	assert_string_equal(report(fx), "");
}

/* A rolled-back tenant's wave, through both formats: the receivers take it. */
static void test_rolled_back(void **state)
{
	struct fx *fx = *state;
	open_json(fx);
	set_ok(fx, "canary", FL_STATE_FAILURE, "rolled back to 89abcde", FL_WAVE_EVENT_ROLLED_BACK);
	assert_string_equal(member(message(fx, 0), "event"), "wave.rolled_back");
	assert_string_equal(member(message(fx, 0), "description"), "rolled back to 89abcde");
	close_writer(fx);
	open_slack(fx);
	set_ok(fx, "canary", FL_STATE_FAILURE, "rolled back to 89abcde", FL_WAVE_EVENT_ROLLED_BACK);
	assert_string_equal(
		member(message(fx, 1), "text"),
		"flotilla: wave *canary* rolled back on `0123456` (failure: rolled back to 89abcde)");
	assert_int_equal(fake_stat(fx, "rejected"), 0);
}

/* Slack takes one message a second: the writer waits its turn rather than be refused. */
static void test_slack_paced(void **state)
{
	struct fx *fx = *state;
	open_slack(fx);
	long long t0 = fl_mono_ms();
	set_ok(fx, "canary", FL_STATE_PENDING, "applying: 0/1 done", FL_WAVE_EVENT_STARTED);
	set_ok(fx, "canary", FL_STATE_SUCCESS, "applied 1/1", FL_WAVE_EVENT_SUCCEEDED);
	set_ok(fx, "fleet", FL_STATE_PENDING, "awaiting promotion & more", FL_WAVE_EVENT_WAITING);
	assert_true(fl_mono_ms() - t0 >= 2000);
	assert_int_equal(fake_stat(fx, "accepted"), 3);
	assert_int_equal(fake_stat(fx, "rate_limited"), 0);
	assert_string_equal(
		member(message(fx, 2), "text"),
		"flotilla: wave *fleet* is waiting on `0123456` (pending: awaiting promotion &amp; more)");
}

/* A 500, then a 429 with Retry-After: retried, delivered once. */
static void test_retried(void **state)
{
	struct fx *fx = *state;
	open_slack(fx);
	faults(fx, "[\"500\", \"429\"]");
	long long t0 = fl_mono_ms();
	set_ok(fx, "canary", FL_STATE_SUCCESS, "applied 1/1", FL_WAVE_EVENT_SUCCEEDED);
	assert_true(fl_mono_ms() - t0 >= 1000); /* Retry-After: 1 */
	assert_int_equal(fake_stat(fx, "requests"), 3);
	assert_int_equal(fake_stat(fx, "accepted"), 1);
}

/* A webhook that answers nothing: one round of retries, then later messages wait for the end. */
static void test_unreachable(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:1" SLACK_PATH);
	assert_int_equal(setenv(URL_ENV, url, 1), 0);
	open_ok(fx, "\"url_env\": \"" URL_ENV "\"");
	assert_int_equal(
		set(fx, "flotilla/wave/a", FL_STATE_PENDING, "applying", false, FL_WAVE_EVENT_STARTED, &err),
		FL_EIO);
	assert_non_null(
		strstr(err.msg, "webhook 'wave.started' (wave a): POST http://127.0.0.1:1/services/***: "));
	assert_null(strstr(err.msg, SECRET));
	assert_null(strstr(err.msg, "B0DEPLOY"));
	long long t0 = fl_mono_ms();
	assert_int_equal(
		set(fx, "flotilla/wave/a", FL_STATE_SUCCESS, "applied", false, FL_WAVE_EVENT_SUCCEEDED, &err),
		0);
	assert_true(fl_mono_ms() - t0 < 500); /* held, not tried */
	assert_int_equal(fx->w.ops->flush(fx->w.self, &err), FL_EIO);
	assert_null(strstr(err.msg, SECRET));
	assert_string_equal(report(fx),
			    "webhook http://127.0.0.1:1/services/***: 2 notifications not delivered\n");
}

/* A webhook that is gone (Slack's 404 no_service) takes nothing more this run. */
static void test_gone(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	open_slack(fx);
	faults(fx, "[\"410\"]");
	assert_int_equal(
		set(fx, "flotilla/wave/a", FL_STATE_PENDING, "applying", false, FL_WAVE_EVENT_STARTED, &err),
		FL_EIO);
	assert_non_null(strstr(err.msg, "HTTP 410 from http://127.0.0.1:"));
	assert_non_null(strstr(err.msg, "/services/***"));
	assert_non_null(strstr(err.msg, "channel_is_archived"));
	assert_null(strstr(err.msg, SECRET));
	set_ok(fx, "a", FL_STATE_SUCCESS, "applied", FL_WAVE_EVENT_SUCCEEDED);
	assert_int_equal(fake_stat(fx, "requests"), 1);
	assert_int_equal(fx->w.ops->flush(fx->w.self, &err), 0);
	const char *r = report(fx);
	assert_non_null(strstr(r, "/services/***: 2 notifications not delivered (webhook 'wave.started'"));
	assert_null(strstr(r, SECRET));
}

/* A bad token: 401, the webhook refuses it for the run; the token shows nowhere. */
static void test_wrong_token(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(setenv(TOKEN_ENV, "not-the-token", 1), 0);
	open_json(fx);
	assert_int_equal(
		set(fx, "flotilla/wave/a", FL_STATE_PENDING, "applying", false, FL_WAVE_EVENT_STARTED, &err),
		FL_EIO);
	assert_non_null(strstr(err.msg, "HTTP 401 from"));
	assert_null(strstr(err.msg, "not-the-token"));
	assert_int_equal(fake_stat(fx, "requests"), 1);
}

/* A variable not set fails each message, never the open; with it back, messages go. */
static void test_missing_variables(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(unsetenv(URL_ENV), 0);
	open_ok(fx, "\"url_env\": \"" URL_ENV "\"");
	assert_int_equal(
		set(fx, "flotilla/wave/a", FL_STATE_PENDING, "applying", false, FL_WAVE_EVENT_STARTED, &err),
		FL_EINPUT);
	assert_string_equal(err.msg, "webhook 'wave.started' (wave a): environment variable '" URL_ENV
				     "' (url_env) is not set");
	close_writer(fx);
	assert_int_equal(unsetenv(TOKEN_ENV), 0);
	open_json(fx);
	assert_int_equal(
		set(fx, "flotilla/wave/a", FL_STATE_PENDING, "applying", false, FL_WAVE_EVENT_STARTED, &err),
		FL_EINPUT);
	assert_string_equal(err.msg, "webhook 'wave.started' (wave a): environment variable '" TOKEN_ENV
				     "' (token_env) is not set");
	assert_int_equal(setenv(TOKEN_ENV, TOKEN, 1), 0);
	set_ok(fx, "a", FL_STATE_SUCCESS, "applied", FL_WAVE_EVENT_SUCCEEDED);
	assert_int_equal(fake_stat(fx, "requests"), 1);
}

/* A secret (a Slack URL, a URL from a variable, a token) never goes over plain http but to loopback. */
static void test_plain_http(void **state)
{
	struct fx *fx = *state;
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(
		open_writer(
			fx,
			"\"format\": \"json\", \"url\": \"http://hooks.example/a/b\", \"token_env\": \"T\"",
			&err),
		FL_EINPUT);
	assert_string_equal(err.msg,
			    "webhook status: refusing to send to 'http://hooks.example/a/***' over plain "
			    "http: its URL or token is a secret (use https, or a loopback address)");
	assert_int_equal(open_writer(fx, "\"format\": \"json\", \"url\": \"ftp://hooks.example/a\"", &err),
			 FL_EINPUT);
	assert_string_equal(err.msg, "webhook status: url 'ftp://hooks.example/***' is not an http(s) URL");
	/* A JSON webhook without a token carries no secret: plain http is the receiver's choice. */
	open_ok(fx, "\"format\": \"json\", \"url\": \"http://hooks.example/a\"");
	close_writer(fx);
	/* A URL from a variable is checked when it is used. */
	assert_int_equal(setenv(URL_ENV, "http://hooks.example" SLACK_PATH, 1), 0);
	open_ok(fx, "\"url_env\": \"" URL_ENV "\"");
	assert_int_equal(
		set(fx, "flotilla/wave/a", FL_STATE_PENDING, "applying", false, FL_WAVE_EVENT_STARTED, &err),
		FL_EINPUT);
	assert_string_equal(
		err.msg, "webhook 'wave.started' (wave a): refusing to send to "
			 "'http://hooks.example/services/***' over plain http: its URL or token is a secret "
			 "(use https, or a loopback address)");
	close_writer(fx);
	assert_int_equal(
		open_writer(fx, "\"url_env\": \"X\", \"target_url\": \"https://ci/{{tenant}}\"", &err),
		FL_EINPUT);
	assert_string_equal(err.msg,
			    "webhook status: unknown placeholder '{{tenant}}' in target_url (expected "
			    "{{sha}}, {{wave}} or {{context}})");
}

#define FAKE_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_names), cmocka_unit_test(test_slack_body),
		cmocka_unit_test(test_json_body),   cmocka_unit_test(test_url_mask),
		FAKE_TEST(test_only_events),	    FAKE_TEST(test_rolled_back),
		FAKE_TEST(test_slack_paced),	    FAKE_TEST(test_retried),
		FAKE_TEST(test_unreachable),	    FAKE_TEST(test_gone),
		FAKE_TEST(test_wrong_token),	    FAKE_TEST(test_missing_variables),
		FAKE_TEST(test_plain_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
