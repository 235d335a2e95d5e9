/*
 * Tests of reconcile/rollout/notes_merge.c: a table of two ledger notes and the
 * document their merge must be (compared as canonical JSON), each case also
 * merged the other way round, which must give the same document. Then the
 * sides that are not ledgers, and the form of the output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "reconcile/rollout/notes_merge.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* JSON written as C tokens: J({"a": 1}) is the string "{\"a\": 1}". */
#define J(...) #__VA_ARGS__

struct merge_case {
	const char *name;
	const char *local, *remote;
	const char *want; /* the merged document, in any layout */
	bool symmetric;	  /* merging remote into local gives the same */
};

/* clang-format off */
static const struct merge_case cases[] = {
	{ "disjoint contexts are both kept",
	  J({"format": 1, "revision": "abc", "contexts": {"flotilla/plan": {"state": "success", "description": "p",
	    "updated": "2026-01-01T00:00:00Z"}}, "tenants": {}, "waves": {}}),
	  J({"format": 1, "revision": "abc", "contexts": {"flotilla/wave/canary": {"state": "pending",
	    "description": "c", "updated": "2026-01-01T00:00:05Z"}}, "tenants": {}, "waves": {}}),
	  J({"format": 1, "revision": "abc", "contexts": {
	    "flotilla/plan": {"state": "success", "description": "p", "updated": "2026-01-01T00:00:00Z"},
	    "flotilla/wave/canary": {"state": "pending", "description": "c", "updated": "2026-01-01T00:00:05Z"}},
	    "tenants": {}, "waves": {}}),
	  true },
	{ "a context updated later wins",
	  J({"format": 1, "contexts": {"c": {"state": "pending", "description": "old", "updated": "2026-01-01T10:00:00Z"},
	    "d": {"state": "success", "description": "new", "updated": "2026-01-02T00:00:00Z"}}}),
	  J({"format": 1, "contexts": {"c": {"state": "success", "description": "new", "updated": "2026-01-01T10:00:01Z"},
	    "d": {"state": "failure", "description": "old", "updated": "2026-01-01T23:59:59Z"}}}),
	  J({"format": 1, "contexts": {"c": {"state": "success", "description": "new", "updated": "2026-01-01T10:00:01Z"},
	    "d": {"state": "success", "description": "new", "updated": "2026-01-02T00:00:00Z"}}}),
	  true },
	{ "a final state wins over a pending one, even one updated later",
	  J({"format": 2, "contexts": {"w": {"state": "pending", "description": "shard 3/3: applying", "updated": "2026-01-01T00:00:05Z"},
	    "v": {"state": "pending", "description": "shard 1/3: applying", "updated": "2026-01-01T00:00:04Z"}}}),
	  J({"format": 2, "contexts": {"w": {"state": "success", "description": "applied 9/9", "updated": "2026-01-01T00:00:04Z"},
	    "v": {"state": "failure", "description": "halted", "updated": "2026-01-01T00:00:04Z"}}}),
	  J({"format": 2, "contexts": {"v": {"state": "failure", "description": "halted", "updated": "2026-01-01T00:00:04Z"},
	    "w": {"state": "success", "description": "applied 9/9", "updated": "2026-01-01T00:00:04Z"}}}),
	  true },
	{ "a shard's finished record wins over its running counts, even later ones",
	  J({"format": 2, "waves": {"w": {"shards": {"1/2": {"updated": "2026-01-01T00:00:09Z", "failed": 0, "running": true}}}}}),
	  J({"format": 2, "waves": {"w": {"shards": {"1/2": {"updated": "2026-01-01T00:00:05Z", "failed": 1}}}}}),
	  J({"format": 2, "waves": {"w": {"shards": {"1/2": {"updated": "2026-01-01T00:00:05Z", "failed": 1}}}}}),
	  true },
	{ "a tie between contexts is broken the same way from both sides",
	  J({"format": 1, "contexts": {"c": {"state": "failure", "description": "a", "updated": "2026-01-01T00:00:00Z"}}}),
	  J({"format": 1, "contexts": {"c": {"state": "success", "description": "a", "updated": "2026-01-01T00:00:00Z"}}}),
	  J({"format": 1, "contexts": {"c": {"state": "success", "description": "a", "updated": "2026-01-01T00:00:00Z"}}}),
	  true },
	{ "a context without a time loses to one with",
	  J({"format": 1, "contexts": {"c": {"state": "success", "description": "x"}}}),
	  J({"format": 1, "contexts": {"c": {"state": "error", "description": "y", "updated": "2020-01-01T00:00:00Z"}}}),
	  J({"format": 1, "contexts": {"c": {"state": "error", "description": "y", "updated": "2020-01-01T00:00:00Z"}}}),
	  true },
	{ "the later tenant record wins, verify runs are united",
	  J({"format": 1, "tenants": {"acme": {"wave": "canary", "result": "failed", "fingerprint": "f1", "error": "boom",
	    "time": "2026-01-01T00:00:10Z", "verify": [
	      {"name": "smoke", "region": "eu", "time": "2026-01-01T00:00:09Z", "exit_code": 1},
	      {"name": "smoke", "region": "us", "time": "2026-01-01T00:00:08Z", "exit_code": 0}]}}}),
	  J({"format": 1, "tenants": {"acme": {"wave": "canary", "result": "applied", "fingerprint": "f2",
	    "time": "2026-01-01T00:00:20Z", "verify": [
	      {"name": "smoke", "region": "us", "time": "2026-01-01T00:00:08Z", "exit_code": 0},
	      {"name": "smoke", "region": "eu", "time": "2026-01-01T00:00:19Z", "exit_code": 0}]}}}),
	  J({"format": 1, "tenants": {"acme": {"wave": "canary", "result": "applied", "fingerprint": "f2",
	    "time": "2026-01-01T00:00:20Z", "verify": [
	      {"name": "smoke", "region": "us", "time": "2026-01-01T00:00:08Z", "exit_code": 0},
	      {"name": "smoke", "region": "eu", "time": "2026-01-01T00:00:09Z", "exit_code": 1},
	      {"name": "smoke", "region": "eu", "time": "2026-01-01T00:00:19Z", "exit_code": 0}]}}}),
	  true },
	{ "tenants on one side only are kept, verify runs of a record without them too",
	  J({"format": 1, "tenants": {"a": {"time": "2026-01-01T00:00:00Z", "result": "applied"},
	    "b": {"verify": [{"name": "v", "region": "r", "time": "2026-01-01T00:00:00Z"}]}}}),
	  J({"format": 1, "tenants": {"b": {"time": "2026-01-01T00:00:01Z", "result": "unchanged"},
	    "c": {"time": "2026-01-01T00:00:00Z", "result": "failed"}}}),
	  J({"format": 1, "tenants": {"a": {"time": "2026-01-01T00:00:00Z", "result": "applied"},
	    "b": {"time": "2026-01-01T00:00:01Z", "result": "unchanged",
	          "verify": [{"name": "v", "region": "r", "time": "2026-01-01T00:00:00Z"}]},
	    "c": {"time": "2026-01-01T00:00:00Z", "result": "failed"}}}),
	  true },
	{ "a decommission receipt is never dropped",
	  J({"format": 1, "tenants": {"gone": {"time": "2026-01-01T00:00:00Z", "result": "decommissioned", "verify": [],
	    "decommission_receipt": {"deleted": [{"name": "x"}], "time": "2026-01-01T00:00:00Z"}}}}),
	  J({"format": 1, "tenants": {"gone": {"time": "2026-01-02T00:00:00Z", "result": "skipped", "verify": []}}}),
	  J({"format": 1, "tenants": {"gone": {"time": "2026-01-02T00:00:00Z", "result": "skipped", "verify": [],
	    "decommission_receipt": {"deleted": [{"name": "x"}], "time": "2026-01-01T00:00:00Z"}}}}),
	  true },
	{ "a wave succeeded when it first succeeded",
	  J({"format": 1, "waves": {"canary": {"succeeded_at": "2026-01-01T00:05:00Z"}, "early": {},
	    "fleet": {"succeeded_at": "2026-01-03T00:00:00Z"}}}),
	  J({"format": 1, "waves": {"canary": {"succeeded_at": "2026-01-01T00:04:00Z"},
	    "early": {"succeeded_at": "2026-01-02T00:00:00Z"}, "fleet": {}}}),
	  J({"format": 1, "waves": {"canary": {"succeeded_at": "2026-01-01T00:04:00Z"},
	    "early": {"succeeded_at": "2026-01-02T00:00:00Z"}, "fleet": {"succeeded_at": "2026-01-03T00:00:00Z"}}}),
	  true },
	{ "shard records of a wave are united from both sides",
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:00:00Z", "shards": {
	    "1/3": {"updated": "2026-12-06T19:59:58Z", "total": 4, "done": 3, "failed": 1, "skipped": 0},
	    "3/3": {"updated": "2026-12-06T19:59:50Z", "total": 4, "done": 4, "failed": 0, "skipped": 0}}}}}),
	  J({"format": 2, "waves": {"canary": {"shards": {
	    "2/3": {"updated": "2026-12-06T19:59:59Z", "total": 3, "done": 3, "failed": 0, "skipped": 0}}}}}),
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:00:00Z", "shards": {
	    "1/3": {"updated": "2026-12-06T19:59:58Z", "total": 4, "done": 3, "failed": 1, "skipped": 0},
	    "2/3": {"updated": "2026-12-06T19:59:59Z", "total": 3, "done": 3, "failed": 0, "skipped": 0},
	    "3/3": {"updated": "2026-12-06T19:59:50Z", "total": 4, "done": 4, "failed": 0, "skipped": 0}}}}}),
	  true },
	{ "of one shard's two records the one finished later wins",
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:00:00Z", "shards": {
	    "1/2": {"updated": "2026-12-06T19:59:58Z", "total": 4, "done": 3, "failed": 1, "skipped": 0},
	    "2/2": {"updated": "2026-12-06T20:00:05Z", "total": 4, "done": 4, "failed": 0, "skipped": 0}}}}}),
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:01:00Z", "shards": {
	    "1/2": {"updated": "2026-12-06T20:00:01Z", "total": 4, "done": 4, "failed": 0, "skipped": 0},
	    "2/2": {"updated": "2026-12-06T20:00:00Z", "total": 4, "done": 2, "failed": 2, "skipped": 0}}}}}),
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:00:00Z", "shards": {
	    "1/2": {"updated": "2026-12-06T20:00:01Z", "total": 4, "done": 4, "failed": 0, "skipped": 0},
	    "2/2": {"updated": "2026-12-06T20:00:05Z", "total": 4, "done": 4, "failed": 0, "skipped": 0}}}}}),
	  true },
	{ "a tie between one shard's records is broken the same way from both sides",
	  J({"format": 2, "waves": {"fleet": {"shards": {
	    "1/2": {"updated": "2026-12-06T20:00:00Z", "total": 2, "done": 1, "failed": 1, "skipped": 0}}}}}),
	  J({"format": 2, "waves": {"fleet": {"shards": {
	    "1/2": {"updated": "2026-12-06T20:00:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0},
	    "2/2": {"updated": "2026-12-06T20:00:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0}}}}}),
	  J({"format": 2, "waves": {"fleet": {"shards": {
	    "1/2": {"updated": "2026-12-06T20:00:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0},
	    "2/2": {"updated": "2026-12-06T20:00:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0}}}}}),
	  true },
	{ "a wave without shard records keeps the other side's, and succeeded when it first succeeded",
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:00:00Z"},
	    "early": {"succeeded_at": "2026-12-06T21:05:00Z", "shards": {
	      "1/2": {"updated": "2026-12-06T21:04:00Z", "total": 1, "done": 1, "failed": 0, "skipped": 0}}}}}),
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:02:00Z", "shards": {
	    "1/2": {"updated": "2026-12-06T19:59:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0},
	    "2/2": {"updated": "2026-12-06T20:01:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0}}},
	    "early": {"succeeded_at": "2026-12-06T21:06:00Z"}}}),
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:00:00Z", "shards": {
	    "1/2": {"updated": "2026-12-06T19:59:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0},
	    "2/2": {"updated": "2026-12-06T20:01:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0}}},
	    "early": {"succeeded_at": "2026-12-06T21:05:00Z", "shards": {
	      "1/2": {"updated": "2026-12-06T21:04:00Z", "total": 1, "done": 1, "failed": 0, "skipped": 0}}}}}),
	  true },
	{ "shard records that are not a map count as none",
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:00:00Z", "shards": "garbage"},
	    "early": {"succeeded_at": "2026-12-06T21:00:00Z"},
	    "fleet": {"shards": {"1/2": "junk"}}, "late": 7}}),
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:01:00Z", "shards": {
	    "1/2": {"updated": "2026-12-06T19:59:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0}}},
	    "early": {"succeeded_at": "2026-12-06T21:01:00Z", "shards": [1, 2]},
	    "fleet": {"shards": {"1/2": {"updated": "2026-12-06T22:00:00Z", "total": 1, "done": 1,
	      "failed": 0, "skipped": 0}}}, "late": {"shards": {"2/2": {"updated": "2026-12-06T23:00:00Z"}}}}}),
	  J({"format": 2, "waves": {"canary": {"succeeded_at": "2026-12-06T20:00:00Z", "shards": {
	    "1/2": {"updated": "2026-12-06T19:59:00Z", "total": 2, "done": 2, "failed": 0, "skipped": 0}}},
	    "early": {"succeeded_at": "2026-12-06T21:00:00Z"},
	    "fleet": {"shards": {"1/2": {"updated": "2026-12-06T22:00:00Z", "total": 1, "done": 1,
	      "failed": 0, "skipped": 0}}}, "late": {"shards": {"2/2": {"updated": "2026-12-06T23:00:00Z"}}}}}),
	  true },
	{ "other keys come from the local side first",
	  J({"format": 1, "revision": "local", "extra": [1]}),
	  J({"format": 1, "revision": "remote", "other": true, "contexts": {}}),
	  J({"format": 1, "revision": "local", "extra": [1], "other": true, "contexts": {}}),
	  false },
	{ "a part that is not a map on one side is taken from the other",
	  J({"format": 1, "contexts": "garbage"}),
	  J({"format": 1, "contexts": {"c": {"state": "success", "updated": "2026-01-01T00:00:00Z"}}}),
	  J({"format": 1, "contexts": {"c": {"state": "success", "updated": "2026-01-01T00:00:00Z"}}}),
	  true },
	{ "a local note that is not a ledger loses",
	  "not json at all",
	  J({"format": 1, "revision": "r"}),
	  J({"format": 1, "revision": "r"}),
	  true },
	{ "a note of another format loses",
	  J({"format": 1, "revision": "mine"}),
	  J({"format": 3, "revision": "future"}),
	  J({"format": 1, "revision": "mine"}),
	  true },
	{ "two tenants notes (format 2) merge per tenant",
	  J({"format": 2, "revision": "r", "tenants": {"a": {"time": "2026-01-01T00:00:05Z", "result": "failed"}}}),
	  J({"format": 2, "revision": "r", "tenants": {"a": {"time": "2026-01-01T00:00:09Z", "result": "applied"},
	    "b": {"time": "2026-01-01T00:00:01Z", "result": "applied"}}}),
	  J({"format": 2, "revision": "r", "tenants": {"a": {"time": "2026-01-01T00:00:09Z", "result": "applied"},
	    "b": {"time": "2026-01-01T00:00:01Z", "result": "applied"}}}),
	  true },
	{ "a head (format 2) and an older one-document note (format 1) keep both's parts",
	  J({"format": 2, "revision": "r", "tenants_note": "refs/notes/flotilla-tenants",
	    "contexts": {"c": {"state": "success", "updated": "2026-01-01T00:00:02Z"}}}),
	  J({"format": 1, "revision": "r", "contexts": {"c": {"state": "pending", "updated": "2026-01-01T00:00:01Z"}},
	    "tenants": {"a": {"time": "2026-01-01T00:00:01Z", "result": "applied"}}}),
	  J({"format": 2, "revision": "r", "tenants_note": "refs/notes/flotilla-tenants",
	    "contexts": {"c": {"state": "success", "updated": "2026-01-01T00:00:02Z"}},
	    "tenants": {"a": {"time": "2026-01-01T00:00:01Z", "result": "applied"}}}),
	  false },
	{ "a note that is a list loses",
	  J([1, 2]),
	  J({"format": 1}),
	  J({"format": 1}),
	  true },
	{ "identical notes merge to themselves",
	  J({"format": 1, "revision": "r", "contexts": {"c": {"state": "success", "description": "d",
	    "updated": "2026-01-01T00:00:00Z"}}, "tenants": {"t": {"time": "2026-01-01T00:00:00Z",
	    "verify": [{"name": "v", "region": "r", "time": "2026-01-01T00:00:00Z"}]}}, "waves": {"w": {}}}),
	  J({"format": 1, "revision": "r", "contexts": {"c": {"state": "success", "description": "d",
	    "updated": "2026-01-01T00:00:00Z"}}, "tenants": {"t": {"time": "2026-01-01T00:00:00Z",
	    "verify": [{"name": "v", "region": "r", "time": "2026-01-01T00:00:00Z"}]}}, "waves": {"w": {}}}),
	  J({"format": 1, "revision": "r", "contexts": {"c": {"state": "success", "description": "d",
	    "updated": "2026-01-01T00:00:00Z"}}, "tenants": {"t": {"time": "2026-01-01T00:00:00Z",
	    "verify": [{"name": "v", "region": "r", "time": "2026-01-01T00:00:00Z"}]}}, "waves": {"w": {}}}),
	  true },
};
/* clang-format on */

/* The canonical JSON of text, which must parse. */
static void canonical(struct fl_buf *out, const char *what, const char *text, size_t len)
{
	struct fl_arena arena;
	struct fl_source src = { what, text, len };
	struct fl_node *doc = NULL;
	struct fl_error err = FL_ERROR_INIT;

	fl_arena_init(&arena, 4096);
	if (fl_json_parse(&doc, &arena, &src, &err) || fl_json_canonical(out, doc, &err))
		fail_msg("%s: %s does not parse: %s", what, text, err.msg);
	fl_arena_release(&arena);
}

static void check_merge(const struct merge_case *c, const char *local, const char *remote)
{
	struct fl_buf merged = FL_BUF_INIT, got = FL_BUF_INIT, want = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;

	if (fl_notes_merge(&merged, local, strlen(local), remote, strlen(remote), &err))
		fail_msg("%s: merge failed: %s", c->name, err.msg);
	canonical(&got, c->name, merged.ptr, merged.len);
	canonical(&want, c->name, c->want, strlen(c->want));
	if (strcmp(got.ptr, want.ptr) != 0)
		fail_msg("%s:\n got  %s\n want %s", c->name, got.ptr, want.ptr);
	fl_buf_release(&merged);
	fl_buf_release(&got);
	fl_buf_release(&want);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		check_merge(&cases[i], cases[i].local, cases[i].remote);
		if (cases[i].symmetric)
			check_merge(&cases[i], cases[i].remote, cases[i].local);
	}
}

static void test_neither_is_a_ledger(void **state)
{
	struct fl_buf out = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	assert_int_equal(fl_notes_merge(&out, "x", 1, "{\"format\": 7}", 13, &err), FL_EINPUT);
	assert_non_null(strstr(err.msg, "neither is a flotilla ledger"));
	assert_int_equal(out.len, 0);
	fl_buf_release(&out);
}

/* The merged note looks like the ledger's own: pretty JSON, keys sorted, one final newline. */
static void test_output_form(void **state)
{
	static const char l[] = J({ "waves" : {}, "format" : 1 });
	static const char r[] = J({ "format" : 1, "contexts" : {} });
	struct fl_buf out = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	assert_int_equal(fl_notes_merge(&out, l, strlen(l), r, strlen(r), &err), 0);
	assert_string_equal(out.ptr, "{\n  \"contexts\": {},\n  \"format\": 1,\n  \"waves\": {}\n}\n");
	fl_buf_release(&out);
}

static void test_limit(void **state)
{
	static const char l[] = J({ "format" : 1, "revision" : "0123456789012345678901234567890123456789" });
	struct fl_buf out;
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	fl_buf_init(&out, 16);
	assert_int_equal(fl_notes_merge(&out, l, strlen(l), l, strlen(l), &err), FL_ELIMIT);
	fl_buf_release(&out);
}

/* Thousands of tenants on each side merge in well under a second (no quadratic lookups). */
static void test_many_tenants(void **state)
{
	struct fl_buf l = FL_BUF_INIT, r = FL_BUF_INIT, out = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	const size_t n = 20000;

	(void)state;
	fl_buf_puts(&l, "{\"format\": 1, \"tenants\": {");
	fl_buf_puts(&r, "{\"format\": 1, \"tenants\": {");
	for (size_t i = 0; i < n; i++) {
		fl_buf_printf(&l, "%s\"t%05zu\": {\"time\": \"2026-01-01T00:00:0%zuZ\"}", i ? "," : "", i,
			      i % 2);
		fl_buf_printf(&r, "%s\"t%05zu\": {\"time\": \"2026-01-01T00:00:0%zuZ\"}", i ? "," : "",
			      i + n / 2, (i + 1) % 2);
	}
	fl_buf_puts(&l, "}}");
	fl_buf_puts(&r, "}}");
	assert_int_equal(fl_notes_merge(&out, l.ptr, l.len, r.ptr, r.len, &err), 0);
	/* Counted by hand: the sanitizer's strstr measures the whole rest of the text each call. */
	size_t count = 0;
	for (size_t i = 0; i + 6 <= out.len; i++)
		count += memcmp(out.ptr + i, "\"time\"", 6) == 0;
	assert_int_equal(count, n + n / 2);
	fl_buf_release(&l);
	fl_buf_release(&r);
	fl_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),	     cmocka_unit_test(test_neither_is_a_ledger),
		cmocka_unit_test(test_output_form),  cmocka_unit_test(test_limit),
		cmocka_unit_test(test_many_tenants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
