/*
 * Tests of reconcile/rollout/ledger.c: a real repository (git init and one commit)
 * whose ledger is changed through the API, flushed, read back as a note
 * with `git notes --ref=flotilla show`, parsed with fl_json_parse, and
 * opened again. FLOTILLA_NOW pins the clock so recorded times are exact.
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/node.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/rollout/notes_merge.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define GIT FL_TEST_GIT

/* 2026-11-25T12:45:00Z */
#define NOW 1795610700LL
#define NOW_TEXT "2026-11-25T12:45:00Z"

/* Runs a shell command, appends its standard output to out; returns its exit status. */
static int capture(struct fl_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int capture(struct fl_buf *out, const char *fmt, ...)
{
	char cmd[4096], chunk[4096];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	int len = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(len > 0 && (size_t)len < sizeof(cmd));
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		assert_int_equal(fl_buf_put(out, chunk, n), 0);
	int status = pclose(p);
	return status;
}

static void expect_int_at(const struct fl_node *map, const char *key, long long want)
{
	const struct fl_node *n = fl_node_get(map, key);
	assert_non_null(n);
	assert_int_equal(n->type, FL_NODE_INT);
	assert_int_equal(n->v.i, want);
}

static void set_now(long long t)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", t);
	assert_int_equal(setenv("FLOTILLA_NOW", buf, 1), 0);
}

/* A repository with one commit, and its id. */
struct env {
	char dir[64];
	struct fl_oid commit;
	char hex[FL_OID_HEX_LEN + 1];
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct fl_repo *repo = NULL;
	struct fl_error err = FL_ERROR_INIT;

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/fl-test-ledger-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	fl_test_run("cd '%s' && " GIT " init -q && echo hello > README && " GIT " add -A && " GIT
	    " commit -q -m first",
	    e->dir);
	assert_int_equal(fl_repo_open(&repo, e->dir, &err), 0);
	assert_int_equal(fl_repo_resolve(&e->commit, repo, "HEAD", &err), 0);
	fl_repo_free(repo);
	fl_oid_hex(e->hex, &e->commit);
	set_now(NOW);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	fl_test_run("rm -rf '%s'", e->dir);
	free(e);
	unsetenv("FLOTILLA_NOW");
	return 0;
}

static struct fl_ledger *open_ledger(const struct env *e)
{
	struct fl_ledger *l = NULL;
	struct fl_error err = FL_ERROR_INIT;
	if (fl_ledger_open(&l, e->dir, &e->commit, &err))
		fail_msg("fl_ledger_open: %s", err.msg);
	assert_non_null(l);
	return l;
}

static void flush(struct fl_ledger *l)
{
	struct fl_error err = FL_ERROR_INIT;
	if (fl_ledger_flush(l, &err))
		fail_msg("fl_ledger_flush: %s", err.msg);
}

/* The note under ref as git shows it, appended to out; false when there is none. */
static bool note_show_ref(struct fl_buf *out, const struct env *e, const char *ref)
{
	return capture(out, "git -C '%s' notes --ref=%s show %s 2>/dev/null", e->dir, ref, e->hex) == 0;
}

/* Commits on refs/notes/flotilla (the head): one per save of it. */
static long notes_commits(const struct env *e)
{
	struct fl_buf out = FL_BUF_INIT;
	if (capture(&out, "git -C '%s' rev-list --count refs/notes/flotilla 2>/dev/null", e->dir) != 0) {
		fl_buf_release(&out);
		return 0;
	}
	long n = atol(out.ptr);
	fl_buf_release(&out);
	return n;
}

static struct fl_node *parse_note(struct fl_arena *arena, const struct fl_buf *text, const char *what)
{
	struct fl_node *doc = NULL;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_source src = { what, text->ptr, text->len };
	if (fl_json_parse(&doc, arena, &src, &err))
		fail_msg("the %s note is not JSON: %s\n%s", what, err.msg, text->ptr);
	assert_int_equal(doc->type, FL_NODE_MAP);
	return doc;
}

/*
 * The ledger as git shows it, as one document: the head note with the
 * tenants of the tenants note in place of its "tenants_note" (which must
 * name that ref); NULL when there is no head note. The tree lives in arena.
 */
static struct fl_node *notes_doc(struct fl_arena *arena, const struct env *e)
{
	struct fl_buf head = FL_BUF_INIT, tenants = FL_BUF_INIT;
	struct fl_node *doc = NULL;
	if (!note_show_ref(&head, e, "flotilla"))
		goto out;
	doc = parse_note(arena, &head, "head");
	if (!note_show_ref(&tenants, e, "flotilla-tenants"))
		goto out;
	struct fl_node *t = parse_note(arena, &tenants, "tenants");
	expect_int_at(t, "format", 2);
	for (size_t i = 0; i < doc->v.map.len; i++) {
		struct fl_pair *p = &doc->v.map.items[i];
		if (strcmp(p->key->v.str.ptr, "tenants_note") != 0)
			continue;
		assert_int_equal(p->value->type, FL_NODE_STR);
		assert_string_equal(p->value->v.str.ptr, "refs/notes/flotilla-tenants");
		p->key->v.str.ptr = fl_arena_strndup(arena, "tenants", strlen("tenants"));
		p->key->v.str.len = strlen("tenants");
		p->value = (struct fl_node *)fl_node_get(t, "tenants");
		assert_non_null(p->value);
	}
out:
	fl_buf_release(&head);
	fl_buf_release(&tenants);
	return doc;
}

/* The ledger as git shows it (notes_doc), pretty-printed into out; false when there is no note. */
static bool note_show(struct fl_buf *out, const struct env *e)
{
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	fl_arena_init(&arena, 4096);
	struct fl_node *doc = notes_doc(&arena, e);
	if (doc) {
		assert_int_equal(fl_json_pretty(out, doc, &err), 0);
		assert_int_equal(fl_buf_putc(out, '\n'), 0);
	}
	fl_arena_release(&arena);
	return doc != NULL;
}

/* The note parsed (notes_doc); text is kept for callers that print it. The tree lives in arena. */
static const struct fl_node *note_doc(struct fl_arena *arena, struct fl_buf *text, const struct env *e)
{
	(void)text;
	const struct fl_node *doc = notes_doc(arena, e);
	if (!doc)
		fail_msg("no note on %s", e->hex);
	return doc;
}

/* Follows a path of keys ("a", "b", NULL) through nested mappings. */
static const struct fl_node *at(const struct fl_node *n, ...)
{
	va_list ap;
	const char *key;
	va_start(ap, n);
	while ((key = va_arg(ap, const char *)) != NULL) {
		const struct fl_node *next = fl_node_get(n, key);
		if (!next) {
			va_end(ap);
			fail_msg("no key '%s' in the note", key);
		}
		n = next;
	}
	va_end(ap);
	return n;
}

static void expect_str(const struct fl_node *n, const char *want)
{
	assert_non_null(n);
	assert_int_equal(n->type, FL_NODE_STR);
	assert_string_equal(n->v.str.ptr, want);
}

static void expect_int(const struct fl_node *n, long long want)
{
	assert_non_null(n);
	assert_int_equal(n->type, FL_NODE_INT);
	assert_int_equal(n->v.i, want);
}

static void expect_bool(const struct fl_node *n, bool want)
{
	assert_non_null(n);
	assert_int_equal(n->type, FL_NODE_BOOL);
	assert_int_equal(n->v.b, want);
}

/* True when s holds only complete, valid UTF-8 sequences. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = s[i] < 0x80			 ? 1
			   : s[i] >= 0xc2 && s[i] < 0xe0 ? 2
			   : s[i] >= 0xe0 && s[i] < 0xf0 ? 3
			   : s[i] >= 0xf0 && s[i] < 0xf5 ? 4
							 : 0;
		if (!n || i + n > len)
			return false;
		for (size_t k = 1; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += n;
	}
	return true;
}

/* ---- tests ---- */

static void test_open_without_note_is_empty(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	enum fl_state st = FL_STATE_SUCCESS;
	enum fl_tenant_result res = FL_RESULT_FAILED;
	struct fl_buf text = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;

	assert_false(fl_ledger_context(l, "flotilla/plan", &st, NULL));
	assert_false(fl_ledger_tenant(l, "acme", &res, NULL));
	assert_false(fl_ledger_verify_passed(l, "acme", "us-east-1", "smoke"));
	assert_int_equal(fl_ledger_wave_success_time(l, "canary"), 0);

	/* The empty document: the format and the revision, nothing else. */
	assert_int_equal(fl_ledger_text(&text, l, &err), 0);
	struct fl_arena arena;
	struct fl_node *doc = NULL;
	fl_arena_init(&arena, 4096);
	struct fl_source src = { "text", text.ptr, text.len };
	assert_int_equal(fl_json_parse(&doc, &arena, &src, &err), 0);
	expect_int(fl_node_get(doc, "format"), 2);
	expect_str(fl_node_get(doc, "revision"), e->hex);
	assert_int_equal(at(doc, "contexts", NULL)->v.map.len, 0);
	assert_int_equal(at(doc, "tenants", NULL)->v.map.len, 0);
	assert_int_equal(at(doc, "waves", NULL)->v.map.len, 0);
	assert_int_equal(text.ptr[text.len - 1], '\n');
	fl_arena_release(&arena);
	fl_buf_release(&text);

	/* Nothing changed: a flush writes no note. */
	flush(l);
	assert_int_equal(notes_commits(e), 0);
	assert_false(note_show(&text, e));
	fl_buf_release(&text);
	fl_ledger_free(l);
	fl_ledger_free(NULL);
}

static void test_names(void **state)
{
	(void)state;
	static const struct {
		enum fl_state state;
		const char *name;
	} states[] = {
		{ FL_STATE_PENDING, "pending" },
		{ FL_STATE_SUCCESS, "success" },
		{ FL_STATE_FAILURE, "failure" },
		{ FL_STATE_ERROR, "error" },
	};
	static const struct {
		enum fl_tenant_result result;
		const char *name;
	} results[] = {
		{ FL_RESULT_APPLIED, "applied" },
		{ FL_RESULT_UNCHANGED, "unchanged" },
		{ FL_RESULT_FAILED, "failed" },
		{ FL_RESULT_SKIPPED, "skipped" },
		{ FL_RESULT_DECOMMISSIONED, "decommissioned" },
	};
	for (size_t i = 0; i < N_ELEMS(states); i++)
		assert_string_equal(fl_state_name(states[i].state), states[i].name);
	for (size_t i = 0; i < N_ELEMS(results); i++)
		assert_string_equal(fl_tenant_result_name(results[i].result), results[i].name);
}

static void test_contexts(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf desc = FL_BUF_INIT, text = FL_BUF_INIT;
	enum fl_state st;
	char longer[201];

	assert_int_equal(fl_ledger_set_context(l, "flotilla/plan", FL_STATE_SUCCESS,
					       "3 tenants change: +2 ~5 -0", &err),
			 0);
	assert_true(fl_ledger_context(l, "flotilla/plan", &st, &desc));
	assert_int_equal(st, FL_STATE_SUCCESS);
	assert_string_equal(desc.ptr, "3 tenants change: +2 ~5 -0");
	/* The state alone, without a description buffer. */
	st = FL_STATE_ERROR;
	assert_true(fl_ledger_context(l, "flotilla/plan", &st, NULL));
	assert_int_equal(st, FL_STATE_SUCCESS);
	assert_false(fl_ledger_context(l, "flotilla/wave/canary", &st, NULL));

	/* Longer than 140 bytes: cut at 140. */
	memset(longer, 'x', 200);
	longer[200] = '\0';
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_PENDING, longer, &err), 0);
	fl_buf_clear(&desc);
	assert_true(fl_ledger_context(l, "flotilla/wave/canary", &st, &desc));
	assert_int_equal(st, FL_STATE_PENDING);
	assert_int_equal(desc.len, 140);
	assert_int_equal(strncmp(desc.ptr, longer, 140), 0);
	/* Exactly 140 stays whole; NULL is empty. */
	longer[140] = '\0';
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/early", FL_STATE_ERROR, longer, &err), 0);
	fl_buf_clear(&desc);
	assert_true(fl_ledger_context(l, "flotilla/wave/early", &st, &desc));
	assert_string_equal(desc.ptr, longer);
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/fleet", FL_STATE_FAILURE, NULL, &err), 0);
	fl_buf_clear(&desc);
	assert_true(fl_ledger_context(l, "flotilla/wave/fleet", &st, &desc));
	assert_int_equal(st, FL_STATE_FAILURE);
	assert_string_equal(desc.ptr, "");

	flush(l);
	long commits = notes_commits(e);
	assert_true(commits >= 1);

	/* The same state and description again is no change: no save, the first update time stays. */
	set_now(NOW + 60);
	assert_int_equal(fl_ledger_set_context(l, "flotilla/plan", FL_STATE_SUCCESS,
					       "3 tenants change: +2 ~5 -0", &err),
			 0);
	flush(l);
	assert_int_equal(notes_commits(e), commits);
	{
		struct fl_arena arena;
		fl_arena_init(&arena, 4096);
		const struct fl_node *doc = note_doc(&arena, &text, e);
		expect_str(at(doc, "contexts", "flotilla/plan", "updated", NULL), NOW_TEXT);
		expect_str(at(doc, "contexts", "flotilla/plan", "state", NULL), "success");
		expect_str(at(doc, "contexts", "flotilla/plan", "description", NULL),
			   "3 tenants change: +2 ~5 -0");
		expect_str(at(doc, "contexts", "flotilla/wave/canary", "state", NULL), "pending");
		assert_int_equal(at(doc, "contexts", "flotilla/wave/canary", "description", NULL)->v.str.len,
				 140);
		expect_str(at(doc, "contexts", "flotilla/wave/fleet", "description", NULL), "");
		expect_str(at(doc, "contexts", "flotilla/wave/fleet", "state", NULL), "failure");
		expect_str(at(doc, "contexts", "flotilla/wave/early", "state", NULL), "error");
		assert_int_equal(at(doc, "contexts", NULL)->v.map.len, 4);
		fl_arena_release(&arena);
	}

	/* The same description with another state is a change, at the new time. */
	assert_int_equal(fl_ledger_set_context(l, "flotilla/plan", FL_STATE_FAILURE,
					       "3 tenants change: +2 ~5 -0", &err),
			 0);
	flush(l);
	assert_int_equal(notes_commits(e), commits + 1);
	fl_buf_clear(&text);
	{
		struct fl_arena arena;
		char when[32];
		fl_arena_init(&arena, 4096);
		const struct fl_node *doc = note_doc(&arena, &text, e);
		fl_time_format(when, NOW + 60);
		expect_str(at(doc, "contexts", "flotilla/plan", "updated", NULL), when);
		expect_str(at(doc, "contexts", "flotilla/plan", "state", NULL), "failure");
		fl_arena_release(&arena);
	}
	/* And so is the same state with another description. */
	assert_int_equal(fl_ledger_set_context(l, "flotilla/plan", FL_STATE_FAILURE, "other", &err), 0);
	flush(l);
	assert_int_equal(notes_commits(e), commits + 2);

	fl_buf_release(&desc);
	fl_buf_release(&text);
	fl_ledger_free(l);
}

static void test_tenants_and_verify(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf text = FL_BUF_INIT, error = FL_BUF_INIT;
	struct fl_fp fp;
	char fp_hex[FL_FP_HEX_LEN + 1];
	enum fl_tenant_result res;
	char *big = malloc(FL_LEDGER_OUTPUT_MAX + 1000);

	assert_non_null(big);
	memset(big, 'o', FL_LEDGER_OUTPUT_MAX + 1000);
	fl_fp_of(&fp, "acme", 4);
	fl_fp_hex(fp_hex, &fp);

	assert_int_equal(fl_ledger_set_tenant(l, "acme", "canary", FL_RESULT_APPLIED, &fp, NULL, &err), 0);
	assert_int_equal(fl_ledger_set_tenant(l, "beta", "fleet", FL_RESULT_FAILED, NULL,
					      "verify 'smoke' in us-east-1 exited with 1", &err),
			 0);
	assert_true(fl_ledger_tenant(l, "acme", &res, &error));
	assert_int_equal(res, FL_RESULT_APPLIED);
	assert_string_equal(error.ptr, "");
	assert_true(fl_ledger_tenant(l, "beta", &res, &error));
	assert_int_equal(res, FL_RESULT_FAILED);
	assert_string_equal(error.ptr, "verify 'smoke' in us-east-1 exited with 1");
	assert_true(fl_ledger_tenant(l, "beta", &res, NULL));
	assert_false(fl_ledger_tenant(l, "gamma", &res, NULL));

	/* A later result replaces the earlier one, error included. */
	assert_int_equal(fl_ledger_set_tenant(l, "beta", "fleet", FL_RESULT_UNCHANGED, NULL, NULL, &err), 0);
	fl_buf_clear(&error);
	assert_true(fl_ledger_tenant(l, "beta", &res, &error));
	assert_int_equal(res, FL_RESULT_UNCHANGED);
	assert_string_equal(error.ptr, "");

	static const struct {
		const char *tenant, *name, *region;
		int exit_code;
		bool timed_out;
		size_t output_len;
	} runs[] = {
		{ "acme", "smoke", "us-east-1", 0, false, 3 },
		{ "acme", "smoke", "eu-west-1", 1, false, 3 },
		{ "acme", "load", "us-east-1", 0, true, 3 },
		{ "acme", "big", "us-east-1", 0, false, FL_LEDGER_OUTPUT_MAX + 1000 },
		/* A tenant with verify runs but no result yet. */
		{ "zed", "smoke", "us-east-1", 0, false, 0 },
	};
	for (size_t i = 0; i < N_ELEMS(runs); i++) {
		struct fl_verify_record rec = {
			.name = runs[i].name,
			.region = runs[i].region,
			.exit_code = runs[i].exit_code,
			.timed_out = runs[i].timed_out,
			.elapsed_ms = 100 + (long long)i,
			.time = NOW - 10 + (long long)i,
			.output = runs[i].output_len == 3 ? "ok\n" : big,
			.output_len = runs[i].output_len,
		};
		assert_int_equal(fl_ledger_add_verify(l, runs[i].tenant, &rec, &err), 0);
	}

	static const struct {
		const char *name, *tenant, *region, *verify;
		bool want;
	} passed[] = {
		{ "passed", "acme", "us-east-1", "smoke", true },
		{ "failed in the other region", "acme", "eu-west-1", "smoke", false },
		{ "timed out with exit 0", "acme", "us-east-1", "load", false },
		{ "big output passed", "acme", "us-east-1", "big", true },
		{ "wrong name", "acme", "us-east-1", "smok", false },
		{ "wrong region", "acme", "ap-south-1", "smoke", false },
		{ "other tenant", "beta", "us-east-1", "smoke", false },
		{ "tenant without result", "zed", "us-east-1", "smoke", true },
		{ "unknown tenant", "nobody", "us-east-1", "smoke", false },
	};
	for (size_t i = 0; i < N_ELEMS(passed); i++)
		if (fl_ledger_verify_passed(l, passed[i].tenant, passed[i].region, passed[i].verify) !=
		    passed[i].want)
			fail_msg("case '%s': want %s", passed[i].name,
				 passed[i].want ? "passed" : "not passed");
	/* A verify run does not make a result. */
	assert_false(fl_ledger_tenant(l, "zed", &res, NULL));

	flush(l);
	struct fl_arena arena;
	fl_arena_init(&arena, 4096);
	const struct fl_node *doc = note_doc(&arena, &text, e);
	expect_int(at(doc, "format", NULL), 2);
	expect_str(at(doc, "revision", NULL), e->hex);
	const struct fl_node *acme = at(doc, "tenants", "acme", NULL);
	expect_str(at(acme, "wave", NULL), "canary");
	expect_str(at(acme, "result", NULL), "applied");
	expect_str(at(acme, "fingerprint", NULL), fp_hex);
	expect_str(at(acme, "time", NULL), NOW_TEXT);
	assert_null(fl_node_get(acme, "error"));
	const struct fl_node *verify = at(acme, "verify", NULL);
	assert_int_equal(verify->type, FL_NODE_SEQ);
	assert_int_equal(verify->v.seq.len, 4);
	for (size_t i = 0; i < 4; i++) {
		const struct fl_node *v = verify->v.seq.items[i];
		char when[32];
		fl_time_format(when, NOW - 10 + (long long)i);
		expect_str(at(v, "name", NULL), runs[i].name);
		expect_str(at(v, "region", NULL), runs[i].region);
		expect_int(at(v, "exit_code", NULL), runs[i].exit_code);
		expect_bool(at(v, "timed_out", NULL), runs[i].timed_out);
		expect_bool(at(v, "passed", NULL), runs[i].exit_code == 0 && !runs[i].timed_out);
		expect_int(at(v, "elapsed_ms", NULL), 100 + (long long)i);
		expect_str(at(v, "time", NULL), when);
		const struct fl_node *out = at(v, "output", NULL);
		assert_int_equal(out->type, FL_NODE_STR);
		if (runs[i].output_len == 3) {
			assert_string_equal(out->v.str.ptr, "ok\n");
		} else {
			/* Truncated to FL_LEDGER_OUTPUT_MAX bytes. */
			assert_int_equal(out->v.str.len, FL_LEDGER_OUTPUT_MAX);
			assert_int_equal(memcmp(out->v.str.ptr, big, FL_LEDGER_OUTPUT_MAX), 0);
		}
	}
	const struct fl_node *beta = at(doc, "tenants", "beta", NULL);
	expect_str(at(beta, "result", NULL), "unchanged");
	expect_str(at(beta, "wave", NULL), "fleet");
	expect_str(at(beta, "fingerprint", NULL), "");
	assert_null(fl_node_get(beta, "error"));
	assert_int_equal(at(beta, "verify", NULL)->v.seq.len, 0);
	const struct fl_node *zed = at(doc, "tenants", "zed", NULL);
	assert_null(fl_node_get(zed, "result"));
	assert_int_equal(at(zed, "verify", NULL)->v.seq.len, 1);
	expect_str(at(at(zed, "verify", NULL)->v.seq.items[0], "output", NULL), "");
	fl_arena_release(&arena);

	/* A failed tenant's error lands in the note. */
	assert_int_equal(
		fl_ledger_set_tenant(l, "gamma", "fleet", FL_RESULT_FAILED, &fp, "boom \"quoted\"\n", &err),
		0);
	flush(l);
	fl_buf_clear(&text);
	fl_arena_init(&arena, 4096);
	doc = note_doc(&arena, &text, e);
	expect_str(at(doc, "tenants", "gamma", "error", NULL), "boom \"quoted\"\n");
	expect_str(at(doc, "tenants", "gamma", "result", NULL), "failed");
	fl_arena_release(&arena);

	free(big);
	fl_buf_release(&text);
	fl_buf_release(&error);
	fl_ledger_free(l);
}

static void test_wave_success_time_set_once(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf text = FL_BUF_INIT;

	assert_int_equal(fl_ledger_wave_success_time(l, "canary"), 0);
	assert_int_equal(fl_ledger_wave_succeeded(l, "canary", NOW, &err), 0);
	assert_int_equal(fl_ledger_wave_success_time(l, "canary"), NOW);
	/* A later success keeps the first time: bakes count from it. */
	assert_int_equal(fl_ledger_wave_succeeded(l, "canary", NOW + 500, &err), 0);
	assert_int_equal(fl_ledger_wave_success_time(l, "canary"), NOW);
	assert_int_equal(fl_ledger_wave_succeeded(l, "early", NOW + 900, &err), 0);
	assert_int_equal(fl_ledger_wave_success_time(l, "early"), NOW + 900);
	assert_int_equal(fl_ledger_wave_success_time(l, "fleet"), 0);
	flush(l);

	struct fl_arena arena;
	char when[32];
	fl_arena_init(&arena, 4096);
	const struct fl_node *doc = note_doc(&arena, &text, e);
	expect_str(at(doc, "waves", "canary", "succeeded_at", NULL), NOW_TEXT);
	fl_time_format(when, NOW + 900);
	expect_str(at(doc, "waves", "early", "succeeded_at", NULL), when);
	assert_null(fl_node_get(at(doc, "waves", NULL), "fleet"));
	fl_arena_release(&arena);
	fl_buf_release(&text);
	fl_ledger_free(l);

	/* Read back, and still kept. */
	l = open_ledger(e);
	assert_int_equal(fl_ledger_wave_success_time(l, "canary"), NOW);
	assert_int_equal(fl_ledger_wave_success_time(l, "early"), NOW + 900);
	assert_int_equal(fl_ledger_wave_succeeded(l, "canary", NOW + 5000, &err), 0);
	assert_int_equal(fl_ledger_wave_success_time(l, "canary"), NOW);
	fl_ledger_free(l);
}

static void test_receipts(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf text = FL_BUF_INIT;
	struct fl_receipt_item items[3];
	char hex[3][FL_FP_HEX_LEN + 1];
	static const char *const names[3][3] = {
		{ "us-east-1", "service", "api" },
		{ "us-east-1", "config", "base" },
		{ "eu-west-1", "service", "api" },
	};

	for (size_t i = 0; i < 3; i++) {
		items[i].region = names[i][0];
		items[i].kind = names[i][1];
		items[i].name = names[i][2];
		char key[64];
		snprintf(key, sizeof(key), "%s/%s/%s", names[i][0], names[i][1], names[i][2]);
		fl_fp_of(&items[i].fp, key, strlen(key));
		fl_fp_hex(hex[i], &items[i].fp);
	}
	assert_int_equal(fl_ledger_set_tenant(l, "gone", "fleet", FL_RESULT_DECOMMISSIONED, NULL, NULL, &err),
			 0);
	assert_int_equal(fl_ledger_add_receipt(l, "gone", items, 2, NOW - 5, &err), 0);
	/* A second batch (another region) adds to the receipt; the time is the latest. */
	assert_int_equal(fl_ledger_add_receipt(l, "gone", items + 2, 1, NOW, &err), 0);
	flush(l);

	struct fl_arena arena;
	fl_arena_init(&arena, 4096);
	const struct fl_node *doc = note_doc(&arena, &text, e);
	const struct fl_node *r = at(doc, "tenants", "gone", "decommission_receipt", NULL);
	expect_str(at(r, "time", NULL), NOW_TEXT);
	const struct fl_node *deleted = at(r, "deleted", NULL);
	assert_int_equal(deleted->type, FL_NODE_SEQ);
	assert_int_equal(deleted->v.seq.len, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct fl_node *it = deleted->v.seq.items[i];
		expect_str(at(it, "region", NULL), names[i][0]);
		expect_str(at(it, "kind", NULL), names[i][1]);
		expect_str(at(it, "name", NULL), names[i][2]);
		expect_str(at(it, "fingerprint", NULL), hex[i]);
	}
	expect_str(at(doc, "tenants", "gone", "result", NULL), "decommissioned");
	/* Tenants without a receipt have none in the note. */
	assert_int_equal(fl_ledger_set_tenant(l, "kept", "fleet", FL_RESULT_APPLIED, NULL, NULL, &err), 0);
	flush(l);
	fl_arena_release(&arena);
	fl_buf_clear(&text);
	fl_arena_init(&arena, 4096);
	doc = note_doc(&arena, &text, e);
	assert_null(fl_node_get(at(doc, "tenants", "kept", NULL), "decommission_receipt"));
	fl_arena_release(&arena);
	fl_buf_release(&text);
	fl_ledger_free(l);
}

/* Everything written, flushed and opened again reads back the same, and renders the same note. */
static void test_reopen_reads_everything_back(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf before = FL_BUF_INIT, after = FL_BUF_INIT, note = FL_BUF_INIT, desc = FL_BUF_INIT;
	struct fl_fp fp;
	enum fl_state st;
	enum fl_tenant_result res;

	fl_fp_of(&fp, "x", 1);
	assert_int_equal(
		fl_ledger_set_context(l, "flotilla/plan", FL_STATE_SUCCESS, "2 tenants change", &err), 0);
	assert_int_equal(
		fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_SUCCESS, "applied 1/1", &err), 0);
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/fleet", FL_STATE_ERROR,
					       "not started: wave canary failed", &err),
			 0);
	assert_int_equal(fl_ledger_set_tenant(l, "acme", "canary", FL_RESULT_APPLIED, &fp, NULL, &err), 0);
	assert_int_equal(fl_ledger_set_tenant(l, "beta", "fleet", FL_RESULT_FAILED, &fp, "it broke", &err),
			 0);
	assert_int_equal(fl_ledger_set_tenant(l, "sleepy", "fleet", FL_RESULT_SKIPPED, NULL, NULL, &err), 0);
	struct fl_verify_record ok = { "smoke", "us-east-1", 0, false, 12, NOW - 3, "fine\n", 5, NULL };
	struct fl_verify_record bad = { "smoke", "eu-west-1", 2, false, 13, NOW - 2, "bad\n", 4, NULL };
	struct fl_verify_record slow = { "load", "us-east-1", 0, true, 9000, NOW - 1, "", 0, NULL };
	assert_int_equal(fl_ledger_add_verify(l, "acme", &ok, &err), 0);
	assert_int_equal(fl_ledger_add_verify(l, "acme", &bad, &err), 0);
	assert_int_equal(fl_ledger_add_verify(l, "acme", &slow, &err), 0);
	assert_int_equal(fl_ledger_wave_succeeded(l, "canary", NOW - 100, &err), 0);
	struct fl_receipt_item item = { "us-east-1", "service", "api", fp };
	assert_int_equal(fl_ledger_set_tenant(l, "gone", "fleet", FL_RESULT_DECOMMISSIONED, NULL, NULL, &err),
			 0);
	assert_int_equal(fl_ledger_add_receipt(l, "gone", &item, 1, NOW, &err), 0);
	flush(l);
	assert_int_equal(fl_ledger_text(&before, l, &err), 0);
	/* The note is exactly the ledger's text. */
	assert_true(note_show(&note, e));
	assert_string_equal(note.ptr, before.ptr);
	fl_ledger_free(l);

	/* Another clock: nothing read back may take the new time. */
	set_now(NOW + 3600);
	l = open_ledger(e);
	assert_true(fl_ledger_context(l, "flotilla/plan", &st, &desc));
	assert_int_equal(st, FL_STATE_SUCCESS);
	assert_string_equal(desc.ptr, "2 tenants change");
	fl_buf_clear(&desc);
	assert_true(fl_ledger_context(l, "flotilla/wave/fleet", &st, &desc));
	assert_int_equal(st, FL_STATE_ERROR);
	assert_string_equal(desc.ptr, "not started: wave canary failed");
	assert_false(fl_ledger_context(l, "flotilla/wave/early", &st, NULL));
	fl_buf_clear(&desc);
	assert_true(fl_ledger_tenant(l, "acme", &res, &desc));
	assert_int_equal(res, FL_RESULT_APPLIED);
	assert_string_equal(desc.ptr, "");
	fl_buf_clear(&desc);
	assert_true(fl_ledger_tenant(l, "beta", &res, &desc));
	assert_int_equal(res, FL_RESULT_FAILED);
	assert_string_equal(desc.ptr, "it broke");
	assert_true(fl_ledger_tenant(l, "sleepy", &res, NULL));
	assert_int_equal(res, FL_RESULT_SKIPPED);
	assert_true(fl_ledger_tenant(l, "gone", &res, NULL));
	assert_int_equal(res, FL_RESULT_DECOMMISSIONED);
	assert_true(fl_ledger_verify_passed(l, "acme", "us-east-1", "smoke"));
	assert_false(fl_ledger_verify_passed(l, "acme", "eu-west-1", "smoke"));
	assert_false(fl_ledger_verify_passed(l, "acme", "us-east-1", "load"));
	assert_false(fl_ledger_verify_passed(l, "beta", "us-east-1", "smoke"));
	assert_int_equal(fl_ledger_wave_success_time(l, "canary"), NOW - 100);
	assert_int_equal(fl_ledger_wave_success_time(l, "fleet"), 0);
	/* Times, fingerprints, outputs and receipts survive: the same text. */
	assert_int_equal(fl_ledger_text(&after, l, &err), 0);
	assert_string_equal(after.ptr, before.ptr);

	/* Reopened, it goes on: a change and a flush keep everything else. */
	assert_int_equal(fl_ledger_set_tenant(l, "delta", "fleet", FL_RESULT_APPLIED, NULL, NULL, &err), 0);
	flush(l);
	fl_ledger_free(l);
	l = open_ledger(e);
	assert_true(fl_ledger_tenant(l, "delta", &res, NULL));
	assert_true(fl_ledger_tenant(l, "beta", &res, NULL));
	assert_true(fl_ledger_verify_passed(l, "acme", "us-east-1", "smoke"));
	fl_ledger_free(l);

	fl_buf_release(&before);
	fl_buf_release(&after);
	fl_buf_release(&note);
	fl_buf_release(&desc);
}

static void test_note_that_is_not_a_ledger(void **state)
{
	struct env *e = *state;
	static const struct {
		const char *name, *note;
	} cases[] = {
		{ "plain text", "looks good to me\n" },
		{ "a JSON list", "[1, 2]\n" },
		{ "a JSON string", "\"format\"\n" },
		{ "an empty object", "{}\n" },
		{ "another format", "{\"format\": 3, \"revision\": \"x\"}\n" },
		{ "format as a string", "{\"format\": \"1\"}\n" },
		{ "trailing garbage", "{\"format\": 1} x\n" },
	};
	char path[128];
	snprintf(path, sizeof(path), "%s.note", e->dir);

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		static char sentinel;
		struct fl_ledger *l = (struct fl_ledger *)(void *)&sentinel; /* must be reset to NULL */
		struct fl_error err = FL_ERROR_INIT;
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		assert_true(fputs(cases[i].note, f) >= 0);
		assert_int_equal(fclose(f), 0);
		fl_test_run("git -C '%s' -c user.name=T -c user.email=t@e notes --ref=flotilla add -f -F '%s' %s "
		    "2>/dev/null",
		    e->dir, path, e->hex);
		int rc = fl_ledger_open(&l, e->dir, &e->commit, &err);
		if (rc != FL_EINPUT)
			fail_msg("case '%s': got %d (%s), want FL_EINPUT", cases[i].name, rc, err.msg);
		assert_null(l);
		assert_true(err.msg[0] != '\0');
	}

	/* A ledger note with unknown states and odd entries loads what it can. */
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_true(
		fputs("{\"format\": 1, \"contexts\": {\"a\": {\"state\": \"bogus\"}, "
		      "\"b\": {\"state\": \"error\", \"description\": \"d\"}}, "
		      "\"tenants\": {\"t\": {\"result\": \"nonsense\", \"verify\": [{\"name\": \"v\"}]}}, "
		      "\"extra\": true}\n",
		      f) >= 0);
	assert_int_equal(fclose(f), 0);
	fl_test_run("git -C '%s' -c user.name=T -c user.email=t@e notes --ref=flotilla add -f -F '%s' %s 2>/dev/null",
	    e->dir, path, e->hex);
	struct fl_ledger *l = open_ledger(e);
	enum fl_state st;
	enum fl_tenant_result res;
	assert_false(fl_ledger_context(l, "a", &st, NULL));
	assert_true(fl_ledger_context(l, "b", &st, NULL));
	assert_int_equal(st, FL_STATE_ERROR);
	assert_false(fl_ledger_tenant(l, "t", &res, NULL));
	assert_false(fl_ledger_verify_passed(l, "t", "", "v"));
	fl_ledger_free(l);
	unlink(path);
}

struct writer {
	struct fl_ledger *ledger;
	int id;
	int failures;
};

static void *write_tenants(void *arg)
{
	struct writer *w = arg;
	for (int i = 0; i < 50; i++) {
		char name[32];
		struct fl_error err = FL_ERROR_INIT;
		struct fl_fp fp;
		snprintf(name, sizeof(name), "t%d-%02d", w->id, i);
		fl_fp_of(&fp, name, strlen(name));
		if (fl_ledger_set_tenant(w->ledger, name, "fleet",
					 i % 5 == 0 ? FL_RESULT_FAILED : FL_RESULT_APPLIED, &fp,
					 i % 5 == 0 ? "failed" : NULL, &err))
			w->failures++;
		struct fl_verify_record rec = { "smoke", "us-east-1", 0, false, 1, NOW, "ok", 2, NULL };
		if (i % 10 == 0 && fl_ledger_add_verify(w->ledger, name, &rec, &err))
			w->failures++;
	}
	return NULL;
}

static void test_concurrent_set_tenant(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	pthread_t threads[4];
	struct writer writers[4];
	struct fl_buf text = FL_BUF_INIT;

	for (int i = 0; i < 4; i++) {
		writers[i] = (struct writer){ l, i, 0 };
		assert_int_equal(pthread_create(&threads[i], NULL, write_tenants, &writers[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(writers[i].failures, 0);
	}
	flush(l);

	struct fl_arena arena;
	fl_arena_init(&arena, 64 * 1024);
	const struct fl_node *doc = note_doc(&arena, &text, e);
	const struct fl_node *tenants = at(doc, "tenants", NULL);
	assert_int_equal(tenants->v.map.len, 200);
	for (int t = 0; t < 4; t++) {
		for (int i = 0; i < 50; i++) {
			char name[32];
			snprintf(name, sizeof(name), "t%d-%02d", t, i);
			const struct fl_node *n = fl_node_get(tenants, name);
			if (!n)
				fail_msg("tenant %s is missing from the note", name);
			expect_str(at(n, "result", NULL), i % 5 == 0 ? "failed" : "applied");
			assert_int_equal(at(n, "verify", NULL)->v.seq.len, i % 10 == 0 ? 1 : 0);
		}
	}
	fl_arena_release(&arena);
	fl_ledger_free(l);

	l = open_ledger(e);
	for (int t = 0; t < 4; t++) {
		for (int i = 0; i < 50; i++) {
			char name[32];
			enum fl_tenant_result res;
			snprintf(name, sizeof(name), "t%d-%02d", t, i);
			assert_true(fl_ledger_tenant(l, name, &res, NULL));
			assert_int_equal(res, i % 5 == 0 ? FL_RESULT_FAILED : FL_RESULT_APPLIED);
			assert_int_equal(fl_ledger_verify_passed(l, name, "us-east-1", "smoke"), i % 10 == 0);
		}
	}
	fl_ledger_free(l);
	fl_buf_release(&text);
}

/*
 * A description cut at 140 bytes must not split a multi-byte character:
 * the note would hold invalid UTF-8, fl_json_parse would reject it, and the
 * commit's ledger could never be opened again (fixed in bafe27e).
 */
static void test_description_cut_on_a_character_boundary(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf desc = FL_BUF_INIT;
	char text[160];
	enum fl_state st;

	/* 139 ASCII bytes, then "\xc3\xa9" (2 bytes): byte 140 is the first half of it. */
	memset(text, 'a', 139);
	memcpy(text + 139, "\xc3\xa9 and more", sizeof("\xc3\xa9 and more"));
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_PENDING, text, &err), 0);
	assert_true(fl_ledger_context(l, "flotilla/wave/canary", &st, &desc));
	assert_true(desc.len <= 140);
	assert_true(utf8_valid((const unsigned char *)desc.ptr, desc.len));
	flush(l);
	fl_ledger_free(l);

	l = NULL;
	int rc = fl_ledger_open(&l, e->dir, &e->commit, &err);
	if (rc) {
		fl_buf_release(&desc);
		fail_msg("the ledger no longer opens after a cut description: %s", err.msg);
	}
	fl_buf_clear(&desc);
	assert_true(fl_ledger_context(l, "flotilla/wave/canary", &st, &desc));
	assert_true(utf8_valid((const unsigned char *)desc.ptr, desc.len));
	assert_int_equal(desc.len, 139);
	assert_int_equal(strncmp(desc.ptr, text, desc.len), 0);
	fl_ledger_free(l);
	fl_buf_release(&desc);
}

/*
 * A verify command's output that is not valid UTF-8 (binary bytes, or a
 * character split by the FL_LEDGER_OUTPUT_MAX cut) must not make the note
 * unparsable, or one smoke test printing a stray byte would make the
 * commit's rollout impossible to resume (fixed in bafe27e: invalid bytes
 * become '?').
 */
static void test_verify_output_kept_valid_utf8(void **state)
{
	struct env *e = *state;
	static const char *const names[] = { "binary", "split at the cut" };
	char *split = malloc(FL_LEDGER_OUTPUT_MAX + 8);
	struct fl_buf text = FL_BUF_INIT;

	assert_non_null(split);
	/* FL_LEDGER_OUTPUT_MAX - 1 ASCII bytes, then a 2-byte character: the cut keeps only its first byte. */
	memset(split, 'a', FL_LEDGER_OUTPUT_MAX - 1);
	memcpy(split + FL_LEDGER_OUTPUT_MAX - 1, "\xc3\xa9\n", 3);
	const char *outputs[] = { "ok \xff\xfe\x80 done\n", split };
	const size_t lens[] = { strlen(outputs[0]), FL_LEDGER_OUTPUT_MAX + 2 };
	size_t broken = 0;

	for (size_t i = 0; i < N_ELEMS(names); i++) {
		struct fl_ledger *l = open_ledger(e);
		struct fl_error err = FL_ERROR_INIT;
		char verify[32];
		snprintf(verify, sizeof(verify), "v%zu", i);
		struct fl_verify_record rec = { verify, "us-east-1", 0, false, 5, NOW, outputs[i], lens[i], NULL };
		assert_int_equal(fl_ledger_add_verify(l, "acme", &rec, &err), 0);
		flush(l);
		fl_ledger_free(l);

		l = NULL;
		int rc = fl_ledger_open(&l, e->dir, &e->commit, &err);
		if (rc) {
			print_message("case '%s': the ledger no longer opens: %s\n", names[i], err.msg);
			broken++;
			/* Start the next case from a readable note. */
			fl_test_run("git -C '%s' notes --ref=flotilla remove %s 2>/dev/null", e->dir, e->hex);
			continue;
		}
		assert_true(fl_ledger_verify_passed(l, "acme", "us-east-1", verify));
		fl_ledger_free(l);
	}
	free(split);
	if (broken)
		fail_msg("%zu of %zu verify outputs made the note unreadable", broken, N_ELEMS(names));

	/* What the note holds: valid UTF-8, the binary case readable around the replaced bytes. */
	struct fl_arena arena;
	fl_arena_init(&arena, 4096);
	const struct fl_node *doc = note_doc(&arena, &text, e);
	const struct fl_node *verify = at(doc, "tenants", "acme", "verify", NULL);
	assert_int_equal(verify->v.seq.len, 2);
	const struct fl_node *bin = at(verify->v.seq.items[0], "output", NULL);
	assert_true(utf8_valid((const unsigned char *)bin->v.str.ptr, bin->v.str.len));
	assert_int_equal(strncmp(bin->v.str.ptr, "ok ", 3), 0);
	assert_non_null(strstr(bin->v.str.ptr, " done\n"));
	const struct fl_node *cut = at(verify->v.seq.items[1], "output", NULL);
	assert_true(cut->v.str.len <= FL_LEDGER_OUTPUT_MAX);
	assert_true(utf8_valid((const unsigned char *)cut->v.str.ptr, cut->v.str.len));
	fl_arena_release(&arena);
	fl_buf_release(&text);
}

static void add_run(struct fl_ledger *l, const char *tenant, const char *name, int exit_code, const char *output)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_verify_record rec = { name, "us-east-1", exit_code, false, 5, NOW, output, strlen(output), NULL };
	assert_int_equal(fl_ledger_add_verify(l, tenant, &rec, &err), 0);
}

static void set_result(struct fl_ledger *l, const char *tenant, enum fl_tenant_result result, const char *why)
{
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(fl_ledger_set_tenant(l, tenant, "canary", result, NULL, why, &err), 0);
}

/* The tail of tenant's failing verify, or "(none)". */
static const char *tail_of(struct fl_buf *out, struct fl_ledger *l, const char *tenant)
{
	fl_buf_clear(out);
	if (!fl_ledger_tenant_verify_tail(l, tenant, out))
		fl_buf_puts(out, "(none)");
	return out->ptr;
}

/*
 * A failed result keeps the last lines of the verify that failed it
 * (status shows them): at most FL_LEDGER_TAIL_LINES lines and
 * FL_LEDGER_TAIL_MAX bytes, cut on a character boundary; not a verify's
 * from an earlier result, nor from a note; in the note as verify_tail.
 */
static void test_failed_result_keeps_the_verify_tail(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf got = FL_BUF_INIT, text = FL_BUF_INIT, long_line = FL_BUF_INIT;

	add_run(l, "acme", "smoke", 1, "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\n\n");
	add_run(l, "acme", "extra", 0, "fine\n");
	set_result(l, "acme", FL_RESULT_FAILED, "verify 'smoke' in us-east-1 exited with 1");
	assert_string_equal(tail_of(&got, l, "acme"), "line 3\nline 4\nline 5\nline 6\nline 7");

	/* A failure that is not a verify's (the driver) shows no tail from an earlier apply... */
	add_run(l, "beta", "smoke", 1, "beta is down");
	set_result(l, "beta", FL_RESULT_FAILED, "verify 'smoke' in us-east-1 exited with 1");
	assert_string_equal(tail_of(&got, l, "beta"), "beta is down");
	set_result(l, "beta", FL_RESULT_APPLIED, NULL);
	assert_string_equal(tail_of(&got, l, "beta"), "(none)");
	add_run(l, "zeta", "smoke", 1, "\n \n");
	set_result(l, "zeta", FL_RESULT_FAILED, "verify 'smoke' in us-east-1 exited with 1");
	assert_string_equal(tail_of(&got, l, "zeta"), "(none)");
	add_run(l, "gamma", "smoke", 0, "ok\n");
	set_result(l, "gamma", FL_RESULT_FAILED, "region 'us-east-1': the driver failed");
	assert_string_equal(tail_of(&got, l, "gamma"), "(none)");

	/* ...but a second result of the same run (a rollback after the failure) keeps it. */
	add_run(l, "delta", "smoke", 1, "delta: 503\n");
	set_result(l, "delta", FL_RESULT_FAILED, "verify 'smoke' in us-east-1 exited with 1");
	add_run(l, "delta", "smoke-old", 0, "ok\n");
	set_result(l, "delta", FL_RESULT_FAILED, "rolled back");
	assert_string_equal(tail_of(&got, l, "delta"), "delta: 503");

	/* Long lines: the last FL_LEDGER_TAIL_MAX bytes, never half a character. */
	fl_buf_puts(&long_line, "first\n");
	for (size_t i = 0; i < FL_LEDGER_TAIL_MAX; i++)
		fl_buf_puts(&long_line, "\xc3\xa9");
	add_run(l, "eps", "smoke", 1, long_line.ptr);
	set_result(l, "eps", FL_RESULT_FAILED, "verify 'smoke' in us-east-1 exited with 1");
	tail_of(&got, l, "eps");
	assert_int_equal(got.len, FL_LEDGER_TAIL_MAX);
	assert_int_equal(strncmp(got.ptr, "\xc3\xa9", 2), 0);
	flush(l);
	fl_ledger_free(l);

	/* The note keeps it; reopened, a result without a new failing verify drops it. */
	struct fl_arena arena;
	fl_arena_init(&arena, 4096);
	const struct fl_node *doc = note_doc(&arena, &text, e);
	assert_string_equal(at(doc, "tenants", "acme", "verify_tail", NULL)->v.str.ptr,
			    "line 3\nline 4\nline 5\nline 6\nline 7");
	assert_null(fl_node_get(at(doc, "tenants", "gamma", NULL), "verify_tail"));
	fl_arena_release(&arena);
	assert_int_equal(fl_ledger_open(&l, e->dir, &e->commit, &err), 0);
	assert_string_equal(tail_of(&got, l, "acme"), "line 3\nline 4\nline 5\nline 6\nline 7");
	set_result(l, "acme", FL_RESULT_FAILED, "region 'us-east-1': the driver failed");
	assert_string_equal(tail_of(&got, l, "acme"), "(none)");
	fl_ledger_free(l);
	fl_buf_release(&long_line);
	fl_buf_release(&text);
	fl_buf_release(&got);
}

/*
 * ledger.h: "changes are saved to the note within 250 ms (by a thread of
 * the ledger's own), at once by fl_ledger_flush, and at the end by
 * fl_ledger_free" (fixed in bafe27e; before, a change held back by the
 * throttle waited for the next change or a flush, and free dropped it).
 */
static void test_changes_saved_within_2s_and_by_free(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf note = FL_BUF_INIT;
	/* A change too small to be due by size waits at most 2 s (ledger.c, HEAD_WAIT_MS). */
	struct timespec nap = { 3, 0 };

	/* The first change is saved at once (no save yet), the second is held back by the throttle. */
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_PENDING, "first", &err),
			 0);
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_PENDING, "second", &err),
			 0);
	nanosleep(&nap, NULL);
	assert_true(note_show(&note, e));
	bool saved = strstr(note.ptr, "\"second\"") != NULL;
	fl_buf_clear(&note);

	/* A change right before free, never flushed. */
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_SUCCESS, "third", &err),
			 0);
	fl_ledger_free(l);
	assert_true(note_show(&note, e));
	bool freed = strstr(note.ptr, "\"third\"") != NULL;
	fl_buf_release(&note);
	if (!saved)
		fail_msg("3 s after a change the note still shows the state before it");
	if (!freed)
		fail_msg("fl_ledger_free dropped a change instead of saving it");
}

/*
 * fl_ledger_open_brief (plan's flotilla/plan): the ledger reads the note
 * through the caller's handle, saves it at the flush, and leaves the handle
 * open and usable (ASan sees a handle freed with the ledger).
 */
static void test_brief_ledger_on_the_callers_handle(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf note = FL_BUF_INIT;
	struct fl_repo *repo = NULL;
	struct fl_oid head;
	enum fl_state st;

	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_SUCCESS, "done", &err), 0);
	fl_ledger_free(l);
	assert_int_equal(fl_repo_open(&repo, e->dir, &err), 0);
	assert_int_equal(fl_ledger_open_brief(&l, repo, &e->commit, &err), 0);
	assert_true(fl_ledger_context(l, "flotilla/wave/canary", &st, NULL));
	assert_int_equal(st, FL_STATE_SUCCESS);
	assert_int_equal(
		fl_ledger_set_context(l, "flotilla/plan", FL_STATE_SUCCESS, "1 tenant changes", &err), 0);
	flush(l);
	assert_true(note_show(&note, e));
	assert_non_null(strstr(note.ptr, "\"flotilla/plan\""));
	assert_non_null(strstr(note.ptr, "\"flotilla/wave/canary\""));
	fl_ledger_free(l);
	assert_int_equal(fl_repo_resolve(&head, repo, "HEAD", &err), 0);
	assert_true(fl_oid_equal(&head, &e->commit));
	fl_repo_free(repo);
	fl_buf_release(&note);
}

/*
 * fl_ledger_unlink_after_save: a file named after a record stays through
 * saves that leave a record unsaved, and goes with the first that does not; a file named when nothing is
 * left to save goes at the next flush, which writes no note for it.
 */
static void test_unlink_after_save(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	char first[128], second[128];
	size_t saves = 0, later = 0, bytes = 0;

	snprintf(first, sizeof(first), "%s/receipt-a", e->dir);
	snprintf(second, sizeof(second), "%s/receipt-b", e->dir);
	fl_test_run("echo failed > '%s' && echo failed > '%s'", first, second);
	assert_int_equal(fl_ledger_set_tenant(l, "a", "fleet", FL_RESULT_FAILED, NULL, "verify failed", &err), 0);
	fl_ledger_unlink_after_save(l, first);
	/* A checkpoint saves the head, and the tenants only when due: one record is far from it. */
	assert_int_equal(fl_ledger_checkpoint(l, &err), 0);
	assert_true(fl_test_exists(first));
	flush(l);
	assert_false(fl_test_exists(first));

	fl_ledger_save_stats(l, &saves, &bytes);
	fl_ledger_unlink_after_save(l, second);
	assert_true(fl_test_exists(second));
	flush(l);
	assert_false(fl_test_exists(second));
	fl_ledger_save_stats(l, &later, &bytes);
	assert_int_equal(later, saves);
	fl_ledger_free(l);
}

/* Bytes of the blobs reachable from the ledger's two notes refs. */
static long long notes_blob_bytes(const struct env *e)
{
	struct fl_buf out = FL_BUF_INIT;
	long long total = 0;
	capture(&out,
		"git -C '%s' rev-list --objects refs/notes/flotilla refs/notes/flotilla-tenants 2>/dev/null | cut -d' ' -f1 | "
		"git -C '%s' cat-file --batch-check='%%(objecttype) %%(objectsize)' | "
		"awk '$1 == \"blob\" { n += $2 } END { print n + 0 }'",
		e->dir, e->dir);
	total = atoll(out.ptr);
	fl_buf_release(&out);
	return total;
}

/*
 * The blobs one run adds to the notes refs total at most 3 times the final
 * notes (issue 11): ten equal waves, each ended by a checkpoint, tenants
 * recorded over about 3 s so that the flusher saves in between. Were the
 * tenants' note saved at every wave's end, or whenever its period passed,
 * the sum would be about 5 times the final note.
 */
static void test_blobs_of_a_run_within_3x_of_the_final_note(void **state)
{
	struct env *e = *state;
	struct fl_ledger *l = open_ledger(e);
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf head = FL_BUF_INIT, tenants = FL_BUF_INIT;
	const struct timespec nap = { 0, 30 * 1000000L };
	char name[32], wave[32], desc[64];
	struct fl_fp fp;
	memset(&fp, 0x5a, sizeof(fp));

	for (int w = 0; w < 10; w++) {
		snprintf(wave, sizeof(wave), "wave-%d", w);
		for (int i = 0; i < 1000; i++) {
			snprintf(name, sizeof(name), "tenant-%05d", w * 1000 + i);
			struct fl_verify_record ok = { "smoke", "us-east-1", 0, false, 12, NOW, "smoke test: ok\n", 15,
						       NULL };
			assert_int_equal(fl_ledger_add_verify(l, name, &ok, &err), 0);
			assert_int_equal(fl_ledger_set_tenant(l, name, wave, FL_RESULT_APPLIED, &fp, NULL, &err), 0);
			snprintf(desc, sizeof(desc), "applied %d/1000", i + 1);
			snprintf(wave, sizeof(wave), "flotilla/wave/wave-%d", w);
			assert_int_equal(fl_ledger_set_context(l, wave, FL_STATE_PENDING, desc, &err), 0);
			snprintf(wave, sizeof(wave), "wave-%d", w);
			if (i % 100 == 99)
				nanosleep(&nap, NULL);
		}
		assert_int_equal(fl_ledger_wave_succeeded(l, wave, NOW, &err), 0);
		assert_int_equal(fl_ledger_checkpoint(l, &err), 0);
	}
	size_t saves = 0, bytes = 0;
	fl_ledger_free(l);
	assert_true(note_show_ref(&head, e, "flotilla"));
	assert_true(note_show_ref(&tenants, e, "flotilla-tenants"));
	long long final = (long long)(head.len + tenants.len), added = notes_blob_bytes(e);
	/* The head went out at every wave's end at least: progress shows while tenants wait. */
	long head_saves = notes_commits(e);
	print_message("final notes %lld bytes, blobs %lld bytes (%.2fx), %ld head saves\n", final, added,
		      (double)added / (double)final, head_saves);
	assert_true(head_saves >= 10);
	if (added > 3 * final)
		fail_msg("the run added %lld bytes of blobs for final notes of %lld", added, final);
	/* Everything is there: the last tenant of the last wave with its verify. */
	l = open_ledger(e);
	assert_true(fl_ledger_verify_passed(l, "tenant-09999", "us-east-1", "smoke"));
	assert_int_equal(fl_ledger_wave_success_time(l, "wave-9"), NOW);
	fl_ledger_save_stats(l, &saves, &bytes);
	assert_int_equal(saves, 0);
	fl_ledger_free(l);
	fl_buf_release(&head);
	fl_buf_release(&tenants);
}

/* Writes text as the note of e's commit under refs/notes/ref, as a person with git would. */
static void git_note_add(const struct env *e, const char *ref, const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s.note", e->dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	fl_test_run("git -C '%s' -c user.name=T -c user.email=t@e notes --ref=%s add -f -F '%s' %s 2>/dev/null",
		    e->dir, ref, path, e->hex);
}

/*
 * A note of format 1 (one document) is read whole, and the next save
 * writes format 2: the head without tenants, the tenants in their note.
 */
static void test_format_1_note_read_and_saved_as_2(void **state)
{
	struct env *e = *state;
	struct fl_error err = FL_ERROR_INIT;
	enum fl_tenant_result res;
	enum fl_state st;
	git_note_add(e, "flotilla",
		     "{\"format\": 1, \"revision\": \"x\", "
		     "\"contexts\": {\"flotilla/wave/canary\": {\"state\": \"success\", \"description\": \"applied 1/1\", "
		     "\"updated\": \"2026-11-25T12:00:00Z\"}}, "
		     "\"tenants\": {\"acme\": {\"wave\": \"canary\", \"result\": \"applied\", \"time\": \"2026-11-25T12:00:00Z\", "
		     "\"verify\": [{\"name\": \"smoke\", \"region\": \"us\", \"exit_code\": 0, \"time\": \"2026-11-25T12:00:00Z\"}]}}, "
		     "\"waves\": {\"canary\": {\"succeeded_at\": \"2026-11-25T12:00:00Z\"}}}\n");
	struct fl_ledger *l = open_ledger(e);
	assert_true(fl_ledger_context(l, "flotilla/wave/canary", &st, NULL));
	assert_int_equal(st, FL_STATE_SUCCESS);
	assert_true(fl_ledger_tenant(l, "acme", &res, NULL));
	assert_int_equal(res, FL_RESULT_APPLIED);
	assert_true(fl_ledger_verify_passed(l, "acme", "us", "smoke"));
	assert_true(fl_ledger_wave_success_time(l, "canary") > 0);
	/*
	 * A head saved alone (a wave's end) must not drop the old note's
	 * tenants: they reach the tenants note first. Another reader sees them.
	 */
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/early", FL_STATE_PENDING, "waiting", &err), 0);
	assert_int_equal(fl_ledger_checkpoint(l, &err), 0);
	struct fl_ledger *other = open_ledger(e);
	assert_true(fl_ledger_tenant(other, "acme", &res, NULL));
	assert_true(fl_ledger_context(other, "flotilla/wave/early", &st, NULL));
	fl_ledger_free(other);
	assert_int_equal(fl_ledger_set_tenant(l, "beta", "fleet", FL_RESULT_APPLIED, NULL, NULL, &err), 0);
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/fleet", FL_STATE_SUCCESS, "applied 1/1", &err), 0);
	flush(l);
	fl_ledger_free(l);

	struct fl_arena arena;
	struct fl_buf text = FL_BUF_INIT;
	fl_arena_init(&arena, 4096);
	assert_true(note_show_ref(&text, e, "flotilla"));
	const struct fl_node *head = parse_note(&arena, &text, "head");
	expect_int_at(head, "format", 2);
	assert_null(fl_node_get(head, "tenants"));
	expect_str(at(head, "tenants_note", NULL), "refs/notes/flotilla-tenants");
	expect_str(at(head, "contexts", "flotilla/wave/canary", "description", NULL), "applied 1/1");
	fl_buf_clear(&text);
	assert_true(note_show_ref(&text, e, "flotilla-tenants"));
	const struct fl_node *t = parse_note(&arena, &text, "tenants");
	expect_str(at(t, "tenants", "acme", "result", NULL), "applied");
	expect_str(at(t, "tenants", "beta", "result", NULL), "applied");
	assert_null(fl_node_get(t, "contexts"));
	fl_arena_release(&arena);
	fl_buf_release(&text);
}

/*
 * A tenant in both notes (a head merged with an older flotilla's one
 * document): the later result is the tenant's, whichever note holds it.
 */
static void test_tenant_in_both_notes_later_wins(void **state)
{
	struct env *e = *state;
	struct fl_buf error = FL_BUF_INIT;
	enum fl_tenant_result res;
	git_note_add(e, "flotilla",
		     "{\"format\": 2, \"tenants\": {"
		     "\"old\": {\"result\": \"failed\", \"error\": \"head, earlier\", \"time\": \"2026-11-25T12:00:00Z\"}, "
		     "\"new\": {\"result\": \"failed\", \"error\": \"head, later\", \"time\": \"2026-11-25T12:00:09Z\"}}}\n");
	git_note_add(e, "flotilla-tenants",
		     "{\"format\": 2, \"tenants\": {"
		     "\"old\": {\"result\": \"applied\", \"error\": \"tenants, later\", \"time\": \"2026-11-25T12:00:05Z\"}, "
		     "\"new\": {\"result\": \"applied\", \"error\": \"tenants, earlier\", \"time\": \"2026-11-25T12:00:05Z\"}}}\n");
	struct fl_ledger *l = open_ledger(e);
	assert_true(fl_ledger_tenant(l, "old", &res, &error));
	assert_int_equal(res, FL_RESULT_APPLIED);
	assert_string_equal(error.ptr, "tenants, later");
	fl_buf_clear(&error);
	assert_true(fl_ledger_tenant(l, "new", &res, &error));
	assert_int_equal(res, FL_RESULT_FAILED);
	assert_string_equal(error.ptr, "head, later");
	fl_ledger_free(l);
	fl_buf_release(&error);
}

/* ---- shards: records, and the exchange that shows a shard the others' ---- */

static void record_shard(struct fl_ledger *l, const char *wave, unsigned k, unsigned n, const char *run, size_t done,
			 size_t failed)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_shard_record rec = { .k = k, .n = n, .updated = NOW, .total = done + failed, .done = done,
				       .failed = failed };
	snprintf(rec.run, sizeof(rec.run), "%s", run);
	if (fl_ledger_shard_record(l, wave, &rec, &err))
		fail_msg("fl_ledger_shard_record: %s", err.msg);
}

static void test_shard_records_saved_and_read(void **state)
{
	struct env *e = *state;
	struct fl_shard_record recs[3];
	bool found[3];
	struct fl_ledger *l = open_ledger(e);
	record_shard(l, "canary", 1, 3, "r1", 4, 1);
	record_shard(l, "canary", 3, 3, "r1", 5, 0);
	record_shard(l, "canary", 2, 3, "r0", 5, 0);  /* an earlier run: not this one's */
	record_shard(l, "canary", 1, 2, "r1", 9, 0);  /* another N: not one of the 3 */
	record_shard(l, "canary", 1, 3, "r1", 5, 0);  /* the same shard again: replaces */
	fl_ledger_free(l);
	l = open_ledger(e);
	assert_int_equal(fl_ledger_shard_records(l, "canary", 3, "r1", recs, found), 2);
	assert_true(found[0] && !found[1] && found[2]);
	assert_int_equal(recs[0].done, 5);
	assert_int_equal(recs[0].failed, 0);
	assert_int_equal(recs[0].total, 5);
	assert_int_equal(recs[0].updated, NOW);
	assert_int_equal(recs[2].done, 5);
	assert_string_equal(recs[0].run, "r1");
	assert_int_equal(fl_ledger_shard_records(l, "canary", 2, "r1", recs, found), 1);
	assert_int_equal(fl_ledger_shard_records(l, "canary", 3, "r0", recs, found), 1);
	assert_true(found[1]);
	assert_int_equal(fl_ledger_shard_records(l, "early", 3, "r1", recs, found), 0);
	fl_ledger_free(l);
	struct fl_buf text = FL_BUF_INIT;
	assert_true(note_show_ref(&text, e, "flotilla"));
	assert_non_null(strstr(text.ptr, "\"1/3\": {"));
	fl_buf_release(&text);
}

/* Merges theirs into the note of e's commit under ref, as a fetch of another shard's notes does. */
static int merge_note(const struct env *e, const char *ref, const char *theirs, struct fl_error *err)
{
	struct fl_repo *repo = NULL;
	struct fl_buf ours = FL_BUF_INIT, merged = FL_BUF_INIT;
	int rc = fl_repo_open(&repo, e->dir, err);
	if (!rc)
		rc = fl_repo_note_read(&ours, repo, ref, &e->commit, err);
	if (!rc)
		rc = fl_notes_merge(&merged, ours.ptr, ours.len, theirs, strlen(theirs), err);
	if (!rc)
		rc = fl_repo_note_write(NULL, repo, ref, &e->commit, merged.ptr, merged.len, err);
	fl_buf_release(&ours);
	fl_buf_release(&merged);
	fl_repo_free(repo);
	return rc;
}

/* What a fetch of another shard's notes does to the local refs: their documents merged in. */
static int merge_other_shard(void *payload, struct fl_error *err)
{
	const struct env *e = payload;
	static const char *const ref[] = { FL_NOTES_REF, FL_NOTES_TENANTS_REF };
	static const char *const theirs[] = {
		"{\"format\": 2, \"revision\": \"x\", \"contexts\": {"
		"\"flotilla/wave/canary\": {\"state\": \"pending\", \"description\": \"theirs, older\", \"updated\": \"2026-11-25T12:00:00Z\"}, "
		"\"flotilla/other\": {\"state\": \"success\", \"description\": \"theirs only\", \"updated\": \"2026-11-25T12:00:00Z\"}, "
		"\"flotilla/wave/early\": {\"state\": \"success\", \"description\": \"theirs, final\", \"updated\": \"2026-11-25T12:44:00Z\"}}, "
		"\"waves\": {\"canary\": {\"shards\": {\"2/2\": {\"updated\": \"2026-11-25T12:44:00Z\", \"total\": 3, "
		"\"done\": 2, \"failed\": 1, \"skipped\": 0, \"run\": \"r1\"}, "
		"\"1/2\": {\"updated\": \"2026-11-25T12:50:00Z\", \"total\": 1, \"done\": 0, \"failed\": 0, \"skipped\": 0, "
		"\"run\": \"r1\", \"running\": true}}}}}",
		"{\"format\": 2, \"revision\": \"x\", \"tenants\": {\"t2\": {\"result\": \"failed\", \"error\": \"theirs\", "
		"\"time\": \"2026-11-25T12:44:00Z\", \"wave\": \"canary\"}, "
		"\"t4\": {\"result\": \"failed\", \"error\": \"an earlier run\", \"time\": \"2026-11-25T12:44:00Z\"}}}",
	};
	int rc = 0;
	for (size_t i = 0; !rc && i < 2; i++)
		rc = merge_note(e, ref[i], theirs[i], err);
	return rc;
}

/*
 * A shard saves, the fetch merges another shard's notes into the refs,
 * and the ledger reads them back: the next save keeps the other shard's
 * tenant and record instead of writing its own records over them (a
 * push would then delete them on the remote).
 */
static void test_exchange_takes_the_other_shards_records(void **state)
{
	struct env *e = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf text = FL_BUF_INIT;
	struct fl_shard_record recs[2];
	bool found[2];
	enum fl_tenant_result res;
	struct fl_ledger *l = open_ledger(e);
	assert_int_equal(fl_ledger_set_tenant(l, "t1", "canary", FL_RESULT_APPLIED, NULL, NULL, &err), 0);
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_PENDING, "ours", &err), 0);
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/early", FL_STATE_PENDING, "ours, later", &err), 0);
	record_shard(l, "canary", 1, 2, "r1", 1, 0);
	add_run(l, "t4", "smoke", 0, "in flight\n");
	if (fl_ledger_exchange(l, true, merge_other_shard, e, &err))
		fail_msg("fl_ledger_exchange: %s", err.msg);
	assert_int_equal(fl_ledger_shard_records(l, "canary", 2, "r1", recs, found), 2);
	assert_int_equal(recs[1].failed, 1);
	/* Its own finished record stays: a later "running" one is counts from before it finished. */
	assert_false(recs[0].running);
	assert_int_equal(recs[0].done, 1);
	/* A tenant in flight (a verify run, no result yet) keeps its run against an older result. */
	assert_false(fl_ledger_tenant(l, "t4", &res, NULL));
	assert_true(fl_ledger_verify_passed(l, "t4", "us-east-1", "smoke"));
	assert_true(fl_ledger_tenant(l, "t2", &res, NULL));
	assert_int_equal(res, FL_RESULT_FAILED);
	struct fl_buf desc = FL_BUF_INIT;
	enum fl_state st;
	assert_true(fl_ledger_context(l, "flotilla/wave/canary", &st, &desc));
	assert_string_equal(desc.ptr, "ours");
	assert_true(fl_ledger_context(l, "flotilla/other", &st, NULL));
	/* A wave's end is final: it wins over the pending progress recorded after it. */
	fl_buf_clear(&desc);
	assert_true(fl_ledger_context(l, "flotilla/wave/early", &st, &desc));
	assert_int_equal(st, FL_STATE_SUCCESS);
	assert_string_equal(desc.ptr, "theirs, final");
	/* The next save is made from memory: it must hold both shards. */
	assert_int_equal(fl_ledger_set_tenant(l, "t3", "canary", FL_RESULT_APPLIED, NULL, NULL, &err), 0);
	flush(l);
	fl_ledger_free(l);
	assert_true(note_show_ref(&text, e, "flotilla-tenants"));
	assert_non_null(strstr(text.ptr, "\"t1\""));
	assert_non_null(strstr(text.ptr, "\"t2\""));
	assert_non_null(strstr(text.ptr, "\"t3\""));
	fl_buf_clear(&text);
	assert_true(note_show_ref(&text, e, "flotilla"));
	assert_non_null(strstr(text.ptr, "\"1/2\""));
	assert_non_null(strstr(text.ptr, "\"2/2\""));
	fl_buf_release(&text);
	fl_buf_release(&desc);
}

static int share_nothing(void *payload, struct fl_error *err)
{
	(void)payload;
	(void)err;
	return 0;
}

/*
 * An exchange that reads neither note back still knows the head it read
 * holds tenants (format 1): the next head saved without them must find
 * them in the tenants note.
 */
static void test_exchange_keeps_a_format_1_heads_tenants(void **state)
{
	struct env *e = *state;
	struct fl_error err = FL_ERROR_INIT;
	enum fl_tenant_result res;
	git_note_add(e, "flotilla",
		     "{\"format\": 1, \"revision\": \"x\", \"tenants\": {\"acme\": {\"wave\": \"canary\", "
		     "\"result\": \"applied\", \"time\": \"2026-11-25T12:00:00Z\"}}}\n");
	struct fl_ledger *l = open_ledger(e);
	if (fl_ledger_exchange(l, false, share_nothing, NULL, &err))
		fail_msg("fl_ledger_exchange: %s", err.msg);
	assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_PENDING, "waiting", &err), 0);
	assert_int_equal(fl_ledger_checkpoint(l, &err), 0);
	struct fl_ledger *other = open_ledger(e);
	assert_true(fl_ledger_tenant(other, "acme", &res, NULL));
	fl_ledger_free(other);
	fl_ledger_free(l);
}

/* One exchange of test_exchange_reads_only_the_notes_that_moved. */
struct moved_case {
	const char *name;
	const char *head, *tenants;  /* another shard's document merged into that note meanwhile; NULL: none */
	bool head_read, tenants_read;
};

struct meanwhile {
	const struct env *e;
	struct fl_ledger *l;
	const struct moved_case *c;
};

/*
 * share(): a tenant thread records meanwhile, with a clock behind the
 * saved notes, so that reading a note back would undo its change; and
 * another shard's documents arrive, as the case says.
 */
static int change_meanwhile(void *payload, struct fl_error *err)
{
	const struct meanwhile *m = payload;
	set_now(NOW - 60);
	int rc = fl_ledger_set_tenant(m->l, "t1", "canary", FL_RESULT_FAILED, NULL, "meanwhile", err);
	if (!rc)
		rc = fl_ledger_set_context(m->l, "flotilla/wave/canary", FL_STATE_PENDING, "meanwhile", err);
	set_now(NOW);
	if (!rc && m->c->head)
		rc = merge_note(m->e, FL_NOTES_REF, m->c->head, err);
	if (!rc && m->c->tenants)
		rc = merge_note(m->e, FL_NOTES_TENANTS_REF, m->c->tenants, err);
	return rc;
}

/* Checks what one case's exchange left in memory: a note read back undid the change made meanwhile. */
static void check_moved_case(struct fl_ledger *l, const struct moved_case *c)
{
	struct fl_buf text = FL_BUF_INIT;
	struct fl_shard_record recs[2];
	bool found[2];
	enum fl_tenant_result res;
	enum fl_state st;
	print_message("case: %s\n", c->name);
	assert_true(fl_ledger_tenant(l, "t1", &res, NULL));
	assert_int_equal(res, c->tenants_read ? FL_RESULT_APPLIED : FL_RESULT_FAILED);
	assert_int_equal(fl_ledger_tenant(l, "t9", &res, NULL), c->tenants != NULL);
	assert_true(fl_ledger_context(l, "flotilla/wave/canary", &st, &text));
	assert_string_equal(text.ptr, c->head_read ? "ours" : "meanwhile");
	assert_int_equal(fl_ledger_shard_records(l, "canary", 2, "r1", recs, found), c->head ? 2 : 1);
	fl_buf_release(&text);
}

/*
 * An exchange reads back only the notes whose refs moved since the
 * ledger saved them: a 100,000-tenant note costs 0.2 to 0.4 s of
 * parsing with the lock held, for nothing when no other shard wrote.
 * A note another shard changed is still read, the other one still not.
 */
static void test_exchange_reads_only_the_notes_that_moved(void **state)
{
	static const char head[] = "{\"format\": 2, \"revision\": \"x\", \"waves\": {\"canary\": {\"shards\": "
				   "{\"2/2\": {\"updated\": \"2026-11-25T12:44:00Z\", \"total\": 1, \"done\": 1, "
				   "\"failed\": 0, \"skipped\": 0, \"run\": \"r1\"}}}}}";
	static const char tenants[] = "{\"format\": 2, \"revision\": \"x\", \"tenants\": {\"t9\": "
				      "{\"result\": \"applied\", \"time\": \"2026-11-25T12:44:00Z\"}}}";
	static const struct moved_case cases[] = {
		{ "nothing moved", NULL, NULL, false, false },
		{ "the head moved", head, NULL, true, false },
		{ "the tenants moved", NULL, tenants, false, true },
		{ "both moved", head, tenants, true, true },
	};
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		void *st = NULL;
		struct fl_error err = FL_ERROR_INIT;
		setup(&st);
		struct fl_ledger *l = open_ledger(st);
		struct meanwhile m = { st, l, &cases[i] };
		assert_int_equal(fl_ledger_set_tenant(l, "t1", "canary", FL_RESULT_APPLIED, NULL, NULL, &err), 0);
		assert_int_equal(fl_ledger_set_context(l, "flotilla/wave/canary", FL_STATE_PENDING, "ours", &err), 0);
		record_shard(l, "canary", 1, 2, "r1", 1, 0);
		if (fl_ledger_exchange(l, true, change_meanwhile, &m, &err))
			fail_msg("%s: fl_ledger_exchange: %s", cases[i].name, err.msg);
		check_moved_case(l, &cases[i]);
		fl_ledger_free(l);
		teardown(&st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_without_note_is_empty, setup, teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_contexts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenants_and_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wave_success_time_set_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receipts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_reads_everything_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_note_that_is_not_a_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_set_tenant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_description_cut_on_a_character_boundary, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_verify_output_kept_valid_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_result_keeps_the_verify_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_saved_within_2s_and_by_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brief_ledger_on_the_callers_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlink_after_save, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blobs_of_a_run_within_3x_of_the_final_note, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_format_1_note_read_and_saved_as_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenant_in_both_notes_later_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shard_records_saved_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exchange_takes_the_other_shards_records, setup,
						teardown),
		cmocka_unit_test(test_exchange_reads_only_the_notes_that_moved),
		cmocka_unit_test_setup_teardown(test_exchange_keeps_a_format_1_heads_tenants, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
