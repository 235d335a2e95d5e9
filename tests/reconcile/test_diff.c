/*
 * Tests of reconcile/plan/diff.c: added, removed and changed fields, nested
 * lists, type changes, formatting-only changes, creates and deletes,
 * secret masking (by path and by value) and invalid JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/yaml.h"
#include "reconcile/plan/diff.h"
#include "reconcile/render/render.h"
#include "core/banned.h"

#define CHECK(name, cond, ...)                                                      \
	do {                                                                        \
		if (!(cond)) {                                                      \
			print_error("case '%s': ", (name));                          \
			print_error(__VA_ARGS__);                                   \
			print_error("\n");                                          \
			fail();                                                     \
		}                                                                   \
	} while (0)

/* A fleet of one secret var and one template whose env.PASSWORD uses it. */
struct fx {
	struct fl_fleet fleet;
	struct fl_var_decl vars[2];
	struct fl_template tpl;
	struct fl_diags diags;
};

static struct fx *fx_new(const char *yaml)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct fl_source src = { "release/db.yaml", yaml, strlen(yaml) };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *spec = NULL;

	fl_arena_init(&fx->fleet.arena, 0);
	fx->vars[0] = (struct fl_var_decl){ .name = "db_password", .secret = true };
	fx->vars[1] = (struct fl_var_decl){ .name = "user" };
	fx->fleet.vars = fx->vars;
	fx->fleet.nvars = 2;
	fl_fleet_index_vars(&fx->fleet);
	assert_int_equal(fl_yaml_load_one(&spec, &fx->fleet.arena, &src, NULL, &err), 0);
	fx->tpl = (struct fl_template){ .kind = "db", .name = "db", .spec = spec,
					.path = "release/db.yaml", .line = 1, .col = 1 };
	fx->fleet.templates = &fx->tpl;
	fx->fleet.ntemplates = 1;
	assert_int_equal(fl_render_compile(&fx->fleet, NULL, &fx->diags), 0);
	return fx;
}

static void fx_free(struct fx *fx)
{
	fl_render_release(&fx->fleet);
	free(fx->diags.items);
	fl_arena_release(&fx->fleet.arena);
	free(fx);
}

struct diff_case {
	const char *name;
	const char *old_json;   /* NULL: a create */
	const char *new_json;   /* NULL: a delete */
	bool secret_tpl;        /* diff against the template with secrets */
	const char *want;       /* entries as "path|old|new\n", NULL shown as - */
};

static const struct diff_case cases[] = {
	{ "equal", "{\"a\":1}", "{\"a\":1}", false, "" },
	{ "create", NULL, "{\"a\":1}", false, "" },
	{ "delete", "{\"a\":1}", NULL, false, "" },
	{ "added field", "{\"a\":1}", "{\"a\":1,\"b\":{\"c\":[1]}}", false, "b|-|{\"c\":[1]}\n" },
	{ "removed field", "{\"a\":1,\"b\":\"x\"}", "{\"a\":1}", false, "b|\"x\"|-\n" },
	{ "changed field", "{\"a\":1,\"b\":\"x\"}", "{\"a\":2,\"b\":\"x\"}", false, "a|1|2\n" },
	{ "keys in order", "{\"b\":1,\"d\":1,\"aa\":1}", "{\"a\":1,\"c\":1,\"d\":2}", false,
	  "a|-|1\naa|1|-\nb|1|-\nc|-|1\nd|1|2\n" },
	{ "nested lists", "{\"a\":{\"b\":[1,2,3]}}", "{\"a\":{\"b\":[1,5]}}", false,
	  "a.b[1]|2|5\na.b[2]|3|-\n" },
	{ "list grows", "{\"p\":[{\"port\":80}]}", "{\"p\":[{\"port\":81},{\"port\":443}]}", false,
	  "p[0].port|80|81\np[1]|-|{\"port\":443}\n" },
	{ "type change", "{\"a\":{\"x\":1,\"y\":[]}}", "{\"a\":[1]}", false, "a|{\"x\":1,\"y\":[]}|[1]\n" },
	{ "root type change", "[1]", "{\"a\":1}", false, "|[1]|{\"a\":1}\n" },
	{ "root scalars", "1", "2", false, "|1|2\n" },
	{ "int and float differ", "{\"a\":1}", "{\"a\":1.0}", false, "a|1|1.0\n" },
	{ "null and false", "{\"a\":null}", "{\"a\":false}", false, "a|null|false\n" },
	{ "quoted keys", "{\"a.b\":{\"\":1}}", "{\"a.b\":{\"\":2}}", false, "[\"a.b\"][\"\"]|1|2\n" },
	{ "unsorted observed side", "{\"b\":1,\"a\":{\"z\":1,\"y\":2}}", "{\"a\":{\"y\":2,\"z\":1},\"b\":3}",
	  false, "b|1|3\n" },
	{ "values canonical", "{\"a\":{\"b\": 1 ,\"a\":\"\\u00e9\\/\"}}", "{\"a\":2}", false,
	  "a|{\"a\":\"\xc3\xa9/\",\"b\":1}|2\n" },
	{ "formatting only", "{\"a\": 1}", "{\"a\":1}", false, "|{\"a\": 1}|{\"a\":1}\n" },
	{ "secret changed", "{\"env\":{\"PASSWORD\":\"old\",\"USER\":\"a\"}}",
	  "{\"env\":{\"PASSWORD\":\"new\",\"USER\":\"b\"}}", true,
	  "env.PASSWORD|\"(secret)\"|\"(secret)\"\nenv.USER|\"a\"|\"b\"\n" },
	{ "secret added", "{\"env\":{}}", "{\"env\":{\"PASSWORD\":\"new\"}}", true,
	  "env.PASSWORD|-|\"(secret)\"\n" },
	{ "secret removed", "{\"env\":{\"PASSWORD\":\"x\"}}", "{\"env\":{}}", true,
	  "env.PASSWORD|\"(secret)\"|-\n" },
	{ "secret subtree", "{\"env\":1}", "{\"env\":{\"PASSWORD\":\"new\"}}", true,
	  "env|\"(secret)\"|\"(secret)\"\n" },
	{ "secret in list", "{\"args\":[\"a\",\"pw=1\"]}", "{\"args\":[\"a\",\"pw=2\"]}", true,
	  "args[1]|\"(secret)\"|\"(secret)\"\n" },
	{ "secret formatting only", "{\"env\": 1}", "{\"env\":1}", true, "|\"(secret)\"|\"(secret)\"\n" },
	{ "not secret", "{\"other\":1}", "{\"other\":2}", true, "other|1|2\n" },
};

static void show(struct fl_buf *out, const struct fl_field_diff *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fl_buf_printf(out, "%s|%s|%s\n", d[i].path, d[i].old_json ? d[i].old_json : "-",
			      d[i].new_json ? d[i].new_json : "-");
}

static void run_case(const struct diff_case *c, const struct fl_template *tpl,
		     struct fl_diff_scratch *scratch)
{
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_field_diff *out = NULL;
	struct fl_buf got = FL_BUF_INIT;
	size_t n = 99;
	int rc;

	fl_arena_init(&arena, 0);
	if (scratch)
		rc = fl_diff_specs_scratch(scratch, &out, &n, &arena, c->old_json,
					   c->old_json ? strlen(c->old_json) : 0, c->new_json,
					   c->new_json ? strlen(c->new_json) : 0, c->secret_tpl ? tpl : NULL, NULL,
					   &err);
	else
		rc = fl_diff_specs(&out, &n, &arena, c->old_json, c->old_json ? strlen(c->old_json) : 0,
				   c->new_json, c->new_json ? strlen(c->new_json) : 0,
				   c->secret_tpl ? tpl : NULL, NULL, &err);
	show(&got, out, n);
	CHECK(c->name, rc == 0, "rc %d: %s", rc, err.msg);
	CHECK(c->name, strcmp(got.ptr, c->want) == 0, "got\n%swant\n%s", got.ptr, c->want);
	CHECK(c->name, (n == 0) == (out == NULL), "out %p with %zu entries", (void *)out, n);
	fl_buf_release(&got);
	fl_arena_release(&arena);
}

static void test_diff_cases(void **state)
{
	struct fx *fx = fx_new("env:\n  PASSWORD: \"{{vars.db_password}}\"\n  USER: \"{{vars.user}}\"\n"
			       "args: [a, \"pw={{vars.db_password}}\"]\nother: 1\n");
	struct fl_diff_scratch scratch;

	(void)state;
	fl_diff_scratch_init(&scratch);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i], &fx->tpl, NULL);
		/* The same with one scratch reused across every case. */
		run_case(&cases[i], &fx->tpl, &scratch);
	}
	fl_diff_scratch_release(&scratch);
	fx_free(fx);
}

struct invalid_case {
	const char *name;
	const char *old_json, *new_json;
	const char *path;    /* the side named in the error */
	uint32_t line, col;
};

static void test_diff_invalid(void **state)
{
	static const struct invalid_case bad[] = {
		{ "observed truncated", "{\"a\":", "{}", "<observed>", 1, 6 },
		{ "desired garbage", "{}", "{}x", "<desired>", 1, 3 },
		{ "duplicate key", "{\"a\":1,\"a\":2}", "{}", "<observed>", 1, 8 },
		{ "empty", "", "{}", "<observed>", 1, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fl_arena arena;
		struct fl_error err = FL_ERROR_INIT;
		struct fl_field_diff *out = NULL;
		size_t n = 99;
		int rc;

		fl_arena_init(&arena, 0);
		rc = fl_diff_specs(&out, &n, &arena, bad[i].old_json, strlen(bad[i].old_json),
				   bad[i].new_json, strlen(bad[i].new_json), NULL, NULL, &err);
		CHECK(bad[i].name, rc == FL_EINPUT, "rc %d", rc);
		CHECK(bad[i].name, n == 0 && out == NULL, "entries returned");
		CHECK(bad[i].name, strcmp(err.path, bad[i].path) == 0 && err.line == bad[i].line &&
					   err.col == bad[i].col,
		      "at %s:%u:%u: %s", err.path, err.line, err.col, err.msg);
		fl_arena_release(&arena);
	}
}

/* ---- masking by value: what the account holds where no template path says secret ---- */

struct value_case {
	const char *name;
	const char *old_json, *new_json;
	bool secret_tpl;        /* diff against the template with secrets (else no template) */
	const char *want;       /* as in cases[] */
};

/* The tenant's secret values: db_password 's3cret' and quote 'q"uo\te' (strings), pin 73519. */
static const struct value_case value_cases[] = {
	{ "removed field", "{\"env\":{\"DB_PASSWORD\":\"s3cret\",\"USER\":\"a\"}}", "{\"env\":{\"USER\":\"a\"}}",
	  false, "env.DB_PASSWORD|\"(secret)\"|-\n" },
	{ "removed field, template has other secrets", "{\"env\":{\"OLD\":\"s3cret\",\"USER\":\"a\"}}",
	  "{\"env\":{\"USER\":\"b\"}}", true, "env.OLD|\"(secret)\"|-\nenv.USER|\"a\"|\"b\"\n" },
	{ "inside a longer value", "{\"args\":[\"x\",\"--pw=s3cret\"]}", "{\"args\":[\"x\"]}", false,
	  "args[1]|\"(secret)\"|-\n" },
	{ "drift-only subtree", "{\"a\":1,\"hook\":{\"cmd\":\"login s3cret\",\"n\":2}}", "{\"a\":1}", false,
	  "hook|\"(secret)\"|-\n" },
	{ "only the side that holds it", "{\"a\":\"s3cret\"}", "{\"a\":\"other\"}", false,
	  "a|\"(secret)\"|\"other\"\n" },
	{ "whole spec", "[\"legacy\",\"s3cret\"]", "{\"a\":1}", false, "|\"(secret)\"|{\"a\":1}\n" },
	{ "escaped quote and backslash", "{\"p\":\"x-q\\\"uo\\\\te\",\"q\":1}", "{\"q\":1}", false,
	  "p|\"(secret)\"|-\n" },
	{ "escaped, not canonical", "{\"p\": \"x-q\\\"uo\\\\te\", \"q\": 1}", "{\"q\":2}", false,
	  "p|\"(secret)\"|-\nq|1|2\n" },
	{ "spelled with \\u", "{\"p\":\"s\\u0033cret\"}", "{}", false, "p|\"(secret)\"|-\n" },
	{ "integer secret", "{\"pin\":73519,\"port\":\"x73519\",\"z\":1}", "{\"z\":1}", false,
	  "pin|\"(secret)\"|-\nport|\"(secret)\"|-\n" },
	{ "formatting only", "{\"a\": \"s3cret\"}", "{\"a\":\"s3cret\"}", false,
	  "|\"(secret)\"|\"(secret)\"\n" },
	{ "formatting only, spelled with \\u", "{\"a\": \"s\\u0033cret\"}", "{\"a\":\"s\\u0033cret\"}", false,
	  "|\"(secret)\"|\"(secret)\"\n" },
	{ "no secret in it", "{\"a\":\"s3cre\",\"b\":\"quo\\\\te\"}", "{\"a\":\"public\"}", false,
	  "a|\"s3cre\"|\"public\"\nb|\"quo\\\\te\"|-\n" },
	{ "path masking stays", "{\"env\":{\"PASSWORD\":\"old\"}}", "{\"env\":{\"PASSWORD\":\"new\"}}", true,
	  "env.PASSWORD|\"(secret)\"|\"(secret)\"\n" },
};

static struct fl_node *str_node(struct fl_arena *arena, const char *s)
{
	struct fl_node *n = fl_arena_calloc(arena, 1, sizeof(*n));

	n->type = FL_NODE_STR;
	n->v.str.ptr = fl_arena_strdup(arena, s);
	n->v.str.len = strlen(s);
	return n;
}

/* A fleet whose secret vars are db_password, pin, quote and empty; user is not secret. */
static void secret_fleet(struct fl_fleet *fleet, struct fl_var_decl *vars, struct fl_tenant *tenant,
			 const struct fl_node **values)
{
	static const char *const names[] = { "db_password", "user", "pin", "quote", "empty", "unset" };
	struct fl_node *pin = fl_arena_calloc(&fleet->arena, 1, sizeof(*pin));

	for (size_t i = 0; i < 6; i++)
		vars[i] = (struct fl_var_decl){ .name = names[i], .secret = i != 1 };
	fleet->vars = vars;
	fleet->nvars = 6;
	pin->type = FL_NODE_INT;
	pin->v.i = 73519;
	values[0] = str_node(&fleet->arena, "s3cret");
	values[1] = str_node(&fleet->arena, "a");   /* not secret: "a" is shown */
	values[2] = pin;
	values[3] = str_node(&fleet->arena, "q\"uo\\te");
	values[4] = str_node(&fleet->arena, "");     /* nothing to hide */
	values[5] = NULL;
	*tenant = (struct fl_tenant){ .name = "acme", .vars = values };
}

static void test_secret_values(void **state)
{
	struct fl_fleet fleet = { 0 };
	struct fl_var_decl vars[6];
	const struct fl_node *values[6];
	struct fl_tenant tenant;
	struct fl_secret_values sv;
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	fl_arena_init(&fleet.arena, 0);
	secret_fleet(&fleet, vars, &tenant, values);
	fl_secret_values_init(&sv);
	assert_int_equal(fl_secret_values_set(&sv, &fleet, &tenant, &err), 0);
	/* s3cret, 73519, the quote escaped, then raw. */
	assert_int_equal(sv.len, 4);
	assert_true(fl_secret_values_in(&sv, "\"q\\\"uo\\\\te\"", 12));
	assert_true(fl_secret_values_in(&sv, "q\"uo\\te", 7));
	assert_true(fl_secret_values_in(&sv, "[73519]", 7));
	assert_false(fl_secret_values_in(&sv, "\"s3cre\" \"a\"", 11));
	assert_false(fl_secret_values_in(NULL, "s3cret", 6));
	/* Set again for a tenant without values: nothing is left of the last one. */
	tenant.vars = NULL;
	assert_int_equal(fl_secret_values_set(&sv, &fleet, &tenant, &err), 0);
	assert_int_equal(sv.len, 0);
	assert_false(fl_secret_values_in(&sv, "s3cret", 6));
	fl_secret_values_release(&sv);
	fl_arena_release(&fleet.arena);
}

static void run_value_case(const struct value_case *c, const struct fl_template *tpl,
			   const struct fl_secret_values *sv, struct fl_diff_scratch *scratch)
{
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_field_diff *out = NULL;
	struct fl_buf got = FL_BUF_INIT;
	size_t n = 99;
	int rc;

	fl_arena_init(&arena, 0);
	if (scratch)
		rc = fl_diff_specs_scratch(scratch, &out, &n, &arena, c->old_json, strlen(c->old_json),
					   c->new_json, strlen(c->new_json), c->secret_tpl ? tpl : NULL, sv,
					   &err);
	else
		rc = fl_diff_specs(&out, &n, &arena, c->old_json, strlen(c->old_json), c->new_json,
				   strlen(c->new_json), c->secret_tpl ? tpl : NULL, sv, &err);
	show(&got, out, n);
	CHECK(c->name, rc == 0, "rc %d: %s", rc, err.msg);
	CHECK(c->name, strcmp(got.ptr, c->want) == 0, "got\n%swant\n%s", got.ptr, c->want);
	fl_buf_release(&got);
	fl_arena_release(&arena);
}

static void test_diff_secret_values(void **state)
{
	struct fx *fx = fx_new("env:\n  PASSWORD: \"{{vars.db_password}}\"\n  USER: \"{{vars.user}}\"\n");
	struct fl_fleet fleet = { 0 };
	struct fl_var_decl vars[6];
	const struct fl_node *values[6];
	struct fl_tenant tenant;
	struct fl_secret_values sv;
	struct fl_diff_scratch scratch;
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	fl_arena_init(&fleet.arena, 0);
	secret_fleet(&fleet, vars, &tenant, values);
	fl_secret_values_init(&sv);
	assert_int_equal(fl_secret_values_set(&sv, &fleet, &tenant, &err), 0);
	fl_diff_scratch_init(&scratch);
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		run_value_case(&value_cases[i], &fx->tpl, &sv, NULL);
		run_value_case(&value_cases[i], &fx->tpl, &sv, &scratch);
	}
	fl_diff_scratch_release(&scratch);
	fl_secret_values_release(&sv);
	fl_arena_release(&fleet.arena);
	fx_free(fx);
}

/* ---- property: the canonical-text walk agrees with the tree walk ---- */

static unsigned long next_rand(unsigned long *seed)
{
	*seed = *seed * 6364136223846793005UL + 1442695040888963407UL;
	return *seed >> 33;
}

static struct fl_node *rand_node(struct fl_arena *a, unsigned long *seed, int depth)
{
	static const char *const strs[] = { "", "a", "a.b", "q\"", "\xc3\xa9", "line\n", "\x01", "b" };
	struct fl_node *n = fl_arena_alloc(a, sizeof(*n));
	unsigned long k = next_rand(seed) % (depth > 0 ? 8 : 6);

	switch (k) {
	case 0: n->type = FL_NODE_NULL; break;
	case 1: n->type = FL_NODE_BOOL; n->v.b = next_rand(seed) & 1; break;
	case 2: n->type = FL_NODE_INT; n->v.i = (int64_t)(next_rand(seed) % 3) - 1; break;
	case 3: n->type = FL_NODE_FLOAT; n->v.f = (double)(next_rand(seed) % 3) / 4 - 0.25; break;
	case 4: case 5:
		n->type = FL_NODE_STR;
		n->v.str.ptr = (char *)strs[next_rand(seed) % 8];
		n->v.str.len = strlen(n->v.str.ptr);
		break;
	case 6:
		n->type = FL_NODE_SEQ;
		n->v.seq.len = next_rand(seed) % 4;
		n->v.seq.items = fl_arena_calloc(a, n->v.seq.len + 1, sizeof(*n->v.seq.items));
		for (size_t i = 0; i < n->v.seq.len; i++)
			n->v.seq.items[i] = rand_node(a, seed, depth - 1);
		break;
	default:
		n->type = FL_NODE_MAP;
		n->v.map.items = fl_arena_calloc(a, 8, sizeof(*n->v.map.items));
		/* Distinct keys: a random subset of strs, in a random rotation. */
		for (size_t i = 0, r = next_rand(seed); i < 8; i++) {
			struct fl_node *key;
			if (!((r >> i) & 1) || (r >> 8) % 3 == 0)
				continue;
			key = fl_arena_alloc(a, sizeof(*key));
			key->type = FL_NODE_STR;
			key->v.str.ptr = (char *)strs[(i + (r >> 12)) % 8];
			key->v.str.len = strlen(key->v.str.ptr);
			n->v.map.items[n->v.map.len].key = key;
			n->v.map.items[n->v.map.len++].value = rand_node(a, seed, depth - 1);
		}
		break;
	}
	return n;
}

static void diff_text(struct fl_buf *out, struct fl_arena *arena, const struct fl_buf *a,
		      const struct fl_buf *b, const struct fl_template *tpl, const struct fl_secret_values *sv)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_field_diff *d = NULL;
	size_t n = 0;

	assert_int_equal(fl_diff_specs(&d, &n, arena, a->ptr, a->len, b->ptr, b->len, tpl, sv, &err), 0);
	show(out, d, n);
}

static void test_diff_paths_agree(void **state)
{
	struct fx *fx = fx_new("\"a.b\": \"{{vars.db_password}}\"\nb: [1, \"{{vars.db_password}}\"]\n");
	struct fl_buf ca = FL_BUF_INIT, cb = FL_BUF_INIT, pa = FL_BUF_INIT, pb = FL_BUF_INIT;
	struct fl_buf fast = FL_BUF_INIT, slow = FL_BUF_INIT;
	unsigned long seed = 42;
	size_t compared = 0;
	struct fl_fleet fleet = { 0 };
	struct fl_var_decl vars[6];
	const struct fl_node *values[6];
	struct fl_tenant tenant;
	struct fl_secret_values sv;
	struct fl_error err = FL_ERROR_INIT;

	(void)state;
	/* Secret values among rand_node's strings, escaped in JSON: one walk must not mask more. */
	fl_arena_init(&fleet.arena, 0);
	secret_fleet(&fleet, vars, &tenant, values);
	values[0] = str_node(&fleet.arena, "line\n");
	values[3] = str_node(&fleet.arena, "q\"");
	fl_secret_values_init(&sv);
	assert_int_equal(fl_secret_values_set(&sv, &fleet, &tenant, &err), 0);
	for (int i = 0; i < 3000; i++) {
		struct fl_arena arena;
		char name[32];
		fl_arena_init(&arena, 0);
		const struct fl_node *a = rand_node(&arena, &seed, 3), *b = rand_node(&arena, &seed, 3);
		fl_buf_clear(&ca); fl_buf_clear(&cb); fl_buf_clear(&pa); fl_buf_clear(&pb);
		fl_buf_clear(&fast); fl_buf_clear(&slow);
		assert_int_equal(fl_json_canonical(&ca, a, NULL), 0);
		assert_int_equal(fl_json_canonical(&cb, b, NULL), 0);
		assert_int_equal(fl_json_pretty(&pa, a, NULL), 0);
		assert_int_equal(fl_json_pretty(&pb, b, NULL), 0);
		if (!fl_node_equal(a, b)) {
			/* Canonical texts take the text walk; pretty ones are parsed. */
			diff_text(&fast, &arena, &ca, &cb, i % 2 ? &fx->tpl : NULL, i % 3 ? NULL : &sv);
			diff_text(&slow, &arena, &pa, &pb, i % 2 ? &fx->tpl : NULL, i % 3 ? NULL : &sv);
			snprintf(name, sizeof(name), "random %d", i);
			CHECK(name, strcmp(fast.ptr, slow.ptr) == 0, "%s vs %s:\ntext walk\n%stree walk\n%s",
			      ca.ptr, cb.ptr, fast.ptr, slow.ptr);
			compared++;
		}
		fl_arena_release(&arena);
	}
	assert_true(compared > 1000);
	fl_buf_release(&ca); fl_buf_release(&cb); fl_buf_release(&pa); fl_buf_release(&pb);
	fl_buf_release(&fast); fl_buf_release(&slow);
	fl_secret_values_release(&sv);
	fl_arena_release(&fleet.arena);
	fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_cases),
		cmocka_unit_test(test_diff_invalid),
		cmocka_unit_test(test_secret_values),
		cmocka_unit_test(test_diff_secret_values),
		cmocka_unit_test(test_diff_paths_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
