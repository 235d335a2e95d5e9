/*
 * Unit tests for core/yaml.c: core-schema typing, positions, documents,
 * error messages and positions, and the limits that make hostile input
 * (deep nesting, alias bombs, binary garbage) fail cleanly.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/node.h"
#include "core/yaml.h"
#include "core/banned.h"

static struct fl_source source(const char *text, size_t len)
{
	struct fl_source src = { "t.yaml", text, len };
	return src;
}

/* Loads one document of a NUL-terminated text. */
static int load_one(struct fl_node **out, struct fl_arena *arena, const char *text,
		    const struct fl_yaml_limits *limits, struct fl_error *err)
{
	struct fl_source src = source(text, strlen(text));
	return fl_yaml_load_one(out, arena, &src, limits, err);
}

/* Asserts that text fails with code, message and position; prints name on failure. */
static void expect_error(const char *name, const char *text, size_t len,
			 const struct fl_yaml_limits *limits, int code, const char *msg,
			 uint32_t line, uint32_t col)
{
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node **docs = (struct fl_node **)&arena; /* must be reset to NULL */
	size_t ndocs = 99;
	struct fl_source src = source(text, len);

	fl_arena_init(&arena, 0);
	int rc = fl_yaml_load(&docs, &ndocs, &arena, &src, limits, &err);
	if (rc != code || strcmp(err.msg, msg) != 0 || err.line != line || err.col != col)
		print_error("case '%s': got %s '%s' at %u:%u, expected %s '%s' at %u:%u\n", name,
			    fl_errno_name(rc), err.msg, err.line, err.col, fl_errno_name(code), msg,
			    line, col);
	assert_int_equal(rc, code);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.line, line);
	assert_int_equal(err.col, col);
	assert_int_equal(err.code, code);
	assert_string_equal(err.path, "t.yaml");
	assert_null(docs);
	assert_int_equal(ndocs, 0);
	fl_arena_release(&arena);
}

#define EXPECT_ERROR(name, text, limits, code, msg, line, col) \
	expect_error(name, text, sizeof(text) - 1, limits, code, msg, line, col)

/* ---- scalar typing ---- */

struct scalar_case {
	const char *name;
	const char *yaml;
	enum fl_node_type type;
	int64_t i;       /* INT, and BOOL as 0/1 */
	double f;        /* FLOAT; NAN, INFINITY allowed */
	const char *s;   /* STR */
	bool quoted;
};

#define NUL_(y) { #y " null", y, FL_NODE_NULL, 0, 0, NULL, false }
#define BOOL_(y, b) { y, y, FL_NODE_BOOL, b, 0, NULL, false }
#define INT_(y, v) { y, y, FL_NODE_INT, v, 0, NULL, false }
#define FLT_(y, v) { y, y, FL_NODE_FLOAT, 0, v, NULL, false }
#define STR_(y, s, q) { y, y, FL_NODE_STR, 0, 0, s, q }

static const struct scalar_case scalar_cases[] = {
	NUL_("null"), NUL_("Null"), NUL_("NULL"), NUL_("~"), NUL_("---"), NUL_("--- ~"),
	NUL_("a: \n"), /* an empty value */
	BOOL_("true", 1), BOOL_("True", 1), BOOL_("TRUE", 1),
	BOOL_("false", 0), BOOL_("False", 0), BOOL_("FALSE", 0),
	INT_("0", 0), INT_("42", 42), INT_("-17", -17), INT_("+5", 5), INT_("007", 7),
	INT_("-0", 0), INT_("0o17", 15), INT_("0o0", 0), INT_("0x1F", 31), INT_("0xff", 255),
	INT_("0x7fffffffffffffff", INT64_MAX), INT_("0o777777777777777777777", INT64_MAX),
	INT_("9223372036854775807", INT64_MAX), INT_("-9223372036854775808", INT64_MIN),
	FLT_("1.5", 1.5), FLT_("-1.5", -1.5), FLT_(".5", 0.5), FLT_("+.5", 0.5), FLT_("1.", 1.0),
	FLT_("1e3", 1000.0), FLT_("1.5E-2", 0.015), FLT_("-2e+2", -200.0), FLT_("0.0", 0.0),
	FLT_("1e999", INFINITY),
	FLT_(".inf", INFINITY), FLT_(".Inf", INFINITY), FLT_(".INF", INFINITY),
	FLT_("+.inf", INFINITY), FLT_("-.Inf", -INFINITY), FLT_("-.INF", -INFINITY),
	FLT_(".nan", NAN), FLT_(".NaN", NAN), FLT_(".NAN", NAN),
	/* Not in the core schema: strings. */
	STR_("yes", "yes", false), STR_("no", "no", false), STR_("on", "on", false),
	STR_("tRue", "tRue", false), STR_("nULL", "nULL", false), STR_("nan", "nan", false),
	STR_("inf", "inf", false), STR_("-.nan", "-.nan", false), STR_(".", ".", false),
	STR_("0x", "0x", false), STR_("0o8", "0o8", false), STR_("0xg", "0xg", false),
	STR_("+0x10", "+0x10", false), STR_("-0o7", "-0o7", false), STR_("0b101", "0b101", false),
	STR_("1_000", "1_000", false), STR_("1e", "1e", false), STR_("e3", "e3", false),
	STR_("1.2.3", "1.2.3", false), STR_("+", "+", false), STR_("12:30", "12:30", false),
	STR_("1e3.5", "1e3.5", false), STR_("0x1p3", "0x1p3", false),
	STR_("hello world", "hello world", false), STR_("héllo", "héllo", false),
	/* Quoted and block scalars are strings whatever they look like. */
	STR_("'null'", "null", true), STR_("\"true\"", "true", true), STR_("'42'", "42", true),
	STR_("\"1.5\"", "1.5", true), STR_("''", "", true), STR_("\"\"", "", true),
	STR_("'it''s'", "it's", true), STR_("\"a\\tb\\u00e9\"", "a\tb\xc3\xa9", true),
	STR_("|\n  42\n", "42\n", true), STR_(">-\n  a\n  b\n", "a b", true),
	/* An explicit !!str forces a string; it is not written quoted. */
	STR_("!!str 42", "42", false), STR_("!!str true", "true", false),
	STR_("!!str", "", false), STR_("!!str '1'", "1", true),
	STR_("!<tag:yaml.org,2002:str> 7", "7", false),
};

static void test_scalar_types(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(scalar_cases) / sizeof(scalar_cases[0]); c++) {
		const struct scalar_case *tc = &scalar_cases[c];
		struct fl_arena arena;
		struct fl_error err = FL_ERROR_INIT;
		struct fl_node *root = NULL;
		fl_arena_init(&arena, 0);

		int rc = load_one(&root, &arena, tc->yaml, NULL, &err);
		if (rc != 0)
			print_error("case '%s': %s\n", tc->name, err.msg);
		assert_int_equal(rc, 0);
		const struct fl_node *n = root;
		if (n->type == FL_NODE_MAP)
			n = fl_node_get(n, "a");
		if (n->type != tc->type)
			print_error("case '%s': got %s, expected %s\n", tc->name,
				    fl_node_type_name(n->type), fl_node_type_name(tc->type));
		assert_int_equal(n->type, tc->type);
		switch (tc->type) {
		case FL_NODE_BOOL:
			assert_int_equal(n->v.b, tc->i != 0);
			break;
		case FL_NODE_INT:
			if (n->v.i != tc->i)
				print_error("case '%s': got %lld\n", tc->name, (long long)n->v.i);
			assert_true(n->v.i == tc->i);
			break;
		case FL_NODE_FLOAT:
			if (isnan(tc->f)) {
				assert_true(isnan(n->v.f));
			} else {
				if (n->v.f != tc->f)
					print_error("case '%s': got %g\n", tc->name, n->v.f);
				assert_true(n->v.f == tc->f);
			}
			break;
		case FL_NODE_STR:
			if (strcmp(n->v.str.ptr, tc->s) != 0 || n->quoted != tc->quoted)
				print_error("case '%s': got '%s' quoted=%d\n", tc->name, n->v.str.ptr,
					    n->quoted);
			assert_string_equal(n->v.str.ptr, tc->s);
			assert_int_equal(n->v.str.len, strlen(tc->s));
			assert_int_equal(n->quoted, tc->quoted);
			break;
		default:
			break;
		}
		if (n->line != 1)
			print_error("case '%s': line %u\n", tc->name, n->line);
		assert_int_equal(n->line, 1);
		fl_arena_release(&arena);
	}
}

/* Keys are strings whatever they look like, and keep their text. */
static void test_keys_are_strings(void **state)
{
	(void)state;
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	fl_arena_init(&arena, 0);

	assert_int_equal(load_one(&root, &arena,
				  "1: a\ntrue: b\nnull: c\n~: d\n0x10: e\n'q': f\n1.50: g\n<<: h\n",
				  NULL, &err), 0);
	assert_int_equal(root->type, FL_NODE_MAP);
	static const char *const keys[] = { "1", "true", "null", "~", "0x10", "q", "1.50", "<<" };
	assert_int_equal(root->v.map.len, 8);
	for (size_t i = 0; i < 8; i++) {
		const struct fl_node *k = root->v.map.items[i].key;
		assert_int_equal(k->type, FL_NODE_STR);
		assert_string_equal(k->v.str.ptr, keys[i]);
		assert_int_equal(k->quoted, i == 5);
		assert_int_equal(k->line, i + 1);
		assert_int_equal(root->v.map.items[i].value->type, FL_NODE_STR);
	}
	fl_arena_release(&arena);
}

static void test_scalar_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("int too big", "a: 9223372036854775808\n", NULL, FL_EINPUT,
		     "integer out of range", 1, 4);
	EXPECT_ERROR("int too small", "- -9223372036854775809\n", NULL, FL_EINPUT,
		     "integer out of range", 1, 3);
	EXPECT_ERROR("hex too big", "0x8000000000000000", NULL, FL_EINPUT,
		     "integer out of range", 1, 1);
	EXPECT_ERROR("octal too big", "0o1000000000000000000000", NULL, FL_EINPUT,
		     "integer out of range", 1, 1);
	EXPECT_ERROR("huge int", "a:\n  b: 123456789012345678901234567890\n", NULL, FL_EINPUT,
		     "integer out of range", 2, 6);
	EXPECT_ERROR("NUL escape", "a: \"x\\0y\"\n", NULL, FL_EINPUT,
		     "strings must not contain NUL characters", 1, 4);
	EXPECT_ERROR("int tag", "a: !!int 1\n", NULL, FL_EINPUT, "tags are not supported", 1, 4);
	EXPECT_ERROR("custom tag", "a:\n  - !foo x\n", NULL, FL_EINPUT,
		     "tags are not supported", 2, 5);
	EXPECT_ERROR("map tag", "!!map {a: 1}", NULL, FL_EINPUT, "tags are not supported", 1, 1);
	EXPECT_ERROR("seq str tag", "a: !!str [1]", NULL, FL_EINPUT, "tags are not supported", 1, 4);
	EXPECT_ERROR("key tag", "!!int 1: a", NULL, FL_EINPUT, "tags are not supported", 1, 1);
	EXPECT_ERROR("seq key", "? [a]\n: b\n", NULL, FL_EINPUT, "mapping keys must be scalars", 1, 3);
	EXPECT_ERROR("flow map key", "{{a: 1}: b}", NULL, FL_EINPUT,
		     "mapping keys must be scalars", 1, 2);
}

/* ---- positions ---- */

static void test_positions(void **state)
{
	(void)state;
	const char *text =
		"# a comment\n"
		"name: acme\n"
		"spec:\n"
		"  replicas: 3\n"
		"  ports: [80, 443]\n"
		"  env:\n"
		"    - name: A\n"
		"      value: \"x\"\n"
		"    -   {k: v}\n";
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	fl_arena_init(&arena, 0);

	assert_int_equal(load_one(&root, &arena, text, NULL, &err), 0);
	assert_int_equal(root->type, FL_NODE_MAP);
	assert_int_equal(root->line, 2);
	assert_int_equal(root->col, 1);
	assert_int_equal(root->v.map.items[0].key->line, 2);
	assert_int_equal(root->v.map.items[0].key->col, 1);
	const struct fl_node *name = fl_node_get(root, "name");
	assert_int_equal(name->line, 2);
	assert_int_equal(name->col, 7);

	const struct fl_node *spec = fl_node_get(root, "spec");
	assert_int_equal(spec->type, FL_NODE_MAP);
	assert_int_equal(spec->line, 4);
	assert_int_equal(spec->col, 3);
	const struct fl_node *replicas = fl_node_get(spec, "replicas");
	assert_int_equal(replicas->type, FL_NODE_INT);
	assert_int_equal(replicas->v.i, 3);
	assert_int_equal(replicas->line, 4);
	assert_int_equal(replicas->col, 13);

	const struct fl_node *ports = fl_node_get(spec, "ports");
	assert_int_equal(ports->type, FL_NODE_SEQ);
	assert_int_equal(ports->line, 5);
	assert_int_equal(ports->col, 10);
	assert_int_equal(ports->v.seq.len, 2);
	assert_int_equal(ports->v.seq.items[1]->v.i, 443);
	assert_int_equal(ports->v.seq.items[1]->line, 5);
	assert_int_equal(ports->v.seq.items[1]->col, 15);

	const struct fl_node *env = fl_node_get(spec, "env");
	assert_int_equal(env->type, FL_NODE_SEQ);
	assert_int_equal(env->line, 7);
	assert_int_equal(env->col, 5);
	assert_int_equal(env->v.seq.len, 2);
	const struct fl_node *e0 = env->v.seq.items[0];
	assert_int_equal(e0->line, 7);
	assert_int_equal(e0->col, 7);
	const struct fl_node *value = fl_node_get(e0, "value");
	assert_string_equal(value->v.str.ptr, "x");
	assert_true(value->quoted);
	assert_int_equal(value->line, 8);
	assert_int_equal(value->col, 14);
	const struct fl_node *e1 = env->v.seq.items[1];
	assert_int_equal(e1->type, FL_NODE_MAP);
	assert_int_equal(e1->line, 9);
	assert_int_equal(e1->col, 9);
	assert_int_equal(fl_node_get(e1, "k")->col, 13);
	fl_arena_release(&arena);
}

/* ---- documents ---- */

struct docs_case {
	const char *name;
	const char *yaml;
	size_t ndocs;
	const char *first_key;   /* of docs[0] if a mapping, else NULL */
};

static const struct docs_case docs_cases[] = {
	{ "empty file", "", 0, NULL },
	{ "only comments", "# nothing\n\n  # here\n", 0, NULL },
	{ "only a bom", "\xef\xbb\xbf", 0, NULL },
	{ "one", "a: 1\n", 1, "a" },
	{ "bom", "\xef\xbb\xbf" "a: 1\n", 1, "a" },
	{ "explicit start", "---\na: 1\n", 1, "a" },
	{ "explicit end", "a: 1\n...\n", 1, "a" },
	{ "two", "a: 1\n---\nb: 2\n", 2, "a" },
	{ "three with empty", "---\na: 1\n---\n---\nc: 3\n", 3, "a" },
	{ "empty first", "---\n---\nb: 1\n", 2, NULL },
	{ "after end", "a: 1\n...\n---\nb: 2\n", 2, "a" },
};

static void test_documents(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(docs_cases) / sizeof(docs_cases[0]); c++) {
		const struct docs_case *tc = &docs_cases[c];
		struct fl_arena arena;
		struct fl_error err = FL_ERROR_INIT;
		struct fl_node **docs = NULL;
		size_t ndocs = 0;
		struct fl_source src = source(tc->yaml, strlen(tc->yaml));
		fl_arena_init(&arena, 0);

		int rc = fl_yaml_load(&docs, &ndocs, &arena, &src, NULL, &err);
		if (rc != 0 || ndocs != tc->ndocs)
			print_error("case '%s': rc %d '%s', %zu documents\n", tc->name, rc, err.msg,
				    ndocs);
		assert_int_equal(rc, 0);
		assert_int_equal(ndocs, tc->ndocs);
		if (ndocs == 0)
			assert_null(docs);
		for (size_t i = 0; i < ndocs; i++)
			assert_non_null(docs[i]);
		if (ndocs) {
			if (tc->first_key) {
				assert_int_equal(docs[0]->type, FL_NODE_MAP);
				assert_string_equal(docs[0]->v.map.items[0].key->v.str.ptr, tc->first_key);
			} else {
				assert_int_equal(docs[0]->type, FL_NODE_NULL);
			}
		}
		fl_arena_release(&arena);
	}
}

static void test_load_one(void **state)
{
	(void)state;
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = (struct fl_node *)&arena;
	fl_arena_init(&arena, 0);

	assert_int_equal(load_one(&root, &arena, "", NULL, &err), FL_EINPUT);
	assert_null(root);
	assert_string_equal(err.msg, "file is empty, expected a YAML document");
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 1);

	fl_error_clear(&err);
	assert_int_equal(load_one(&root, &arena, "# just a comment\n", NULL, &err), FL_EINPUT);
	assert_string_equal(err.msg, "file is empty, expected a YAML document");

	fl_error_clear(&err);
	assert_int_equal(load_one(&root, &arena, "a: 1\nb: 2\n---\nc: 3\n", NULL, &err), FL_EINPUT);
	assert_null(root);
	assert_string_equal(err.msg, "expected one YAML document, found another");
	assert_int_equal(err.line, 3);
	assert_int_equal(err.col, 1);
	assert_string_equal(err.srcline, "---");

	fl_error_clear(&err);
	assert_int_equal(load_one(&root, &arena, "a: 1\n...\n--- b: 2\n", NULL, &err), FL_EINPUT);
	assert_string_equal(err.msg, "expected one YAML document, found another");
	assert_int_equal(err.line, 3);

	/* An explicit empty document is one document: a null. */
	fl_error_clear(&err);
	assert_int_equal(load_one(&root, &arena, "---\n", NULL, &err), 0);
	assert_int_equal(root->type, FL_NODE_NULL);
	assert_int_equal(load_one(&root, &arena, "--- # empty\n...\n", NULL, &err), 0);
	assert_int_equal(root->type, FL_NODE_NULL);

	assert_int_equal(load_one(&root, &arena, "---\nx: [1, 2]\n...\n# trailing\n", NULL, &err), 0);
	assert_int_equal(root->type, FL_NODE_MAP);
	fl_arena_release(&arena);
}

/* ---- errors from libyaml and from the loader ---- */

static void test_duplicate_keys(void **state)
{
	(void)state;
	EXPECT_ERROR("top level", "a: 1\nb: 2\na: 3\n", NULL, FL_EINPUT,
		     "duplicate key 'a' (first at line 1)", 3, 1);
	EXPECT_ERROR("nested", "x:\n  k: 1\n  j: 2\n  'k': 3\n", NULL, FL_EINPUT,
		     "duplicate key 'k' (first at line 2)", 4, 3);
	EXPECT_ERROR("flow", "{a: 1, b: 2, a: 3}", NULL, FL_EINPUT,
		     "duplicate key 'a' (first at line 1)", 1, 14);
	EXPECT_ERROR("number-like", "1: a\n01: b\n1: c\n", NULL, FL_EINPUT,
		     "duplicate key '1' (first at line 1)", 3, 1);
	EXPECT_ERROR("alias key", "- &k a: 1\n  *k : 2\n", NULL, FL_EINPUT,
		     "duplicate key 'a' (first at line 1)", 2, 3);

	/* Past the linear scan: large mappings go through the hash table. */
	struct fl_buf big = FL_BUF_INIT;
	for (int m = 0; m < 3; m++) {
		fl_buf_printf(&big, "m%d:\n", m);
		for (int i = 0; i < 200; i++)
			fl_buf_printf(&big, "  k%d: %d\n", i, i);
	}
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	fl_arena_init(&arena, 0);
	/* The same keys in sibling mappings are no duplicates. */
	assert_int_equal(load_one(&root, &arena, big.ptr, NULL, &err), 0);
	assert_int_equal(root->v.map.len, 3);
	assert_int_equal(fl_node_get(root, "m2")->v.map.len, 200);
	assert_int_equal(fl_node_get(fl_node_get(root, "m1"), "k199")->v.i, 199);
	fl_buf_puts(&big, "  k150: dup\n");
	assert_int_equal(load_one(&root, &arena, big.ptr, NULL, &err), FL_EINPUT);
	assert_string_equal(err.msg, "duplicate key 'k150' (first at line 554)");
	assert_int_equal(err.line, 604);
	assert_int_equal(err.col, 3);
	fl_arena_release(&arena);
	fl_buf_release(&big);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("unclosed flow", "a: [1, 2", NULL, FL_EINPUT,
		     "did not find expected ',' or ']' (while parsing a flow sequence)", 1, 9);
	EXPECT_ERROR("bad indent", "a: 1\n b: 2\n", NULL, FL_EINPUT,
		     "mapping values are not allowed in this context", 2, 3);
	EXPECT_ERROR("missing key", "a:\n  b: 1\n c: 2\n", NULL, FL_EINPUT,
		     "did not find expected key (while parsing a block mapping)", 3, 2);
	EXPECT_ERROR("tab indent", "a:\n\tb: 1\n", NULL, FL_EINPUT,
		     "found character that cannot start any token (while scanning for the next token)",
		     2, 1);
	EXPECT_ERROR("unclosed quote", "a: 'x\n", NULL, FL_EINPUT,
		     "found unexpected end of stream (while scanning a quoted scalar)", 1, 6);
	EXPECT_ERROR("bad utf-8", "a: 1\nb: x\xff\n", NULL, FL_EINPUT,
		     "invalid leading UTF-8 octet (0xFF)", 2, 5);
	EXPECT_ERROR("truncated utf-8", "a: \xc3", NULL, FL_EINPUT,
		     "incomplete UTF-8 octet sequence", 1, 4);
	EXPECT_ERROR("control character", "a: \x01\n", NULL, FL_EINPUT,
		     "control characters are not allowed (0x1)", 1, 4);
	EXPECT_ERROR("nul byte", "a: 1\nb: x\0y\n", NULL, FL_EINPUT, "file contains a NUL byte", 2, 5);
	EXPECT_ERROR("nul after utf-8", "a: é\0", NULL, FL_EINPUT, "file contains a NUL byte", 1, 5);
	EXPECT_ERROR("utf-16", "\xff\xfe" "a\0:\0 \0" "1\0", NULL, FL_EINPUT,
		     "file contains a NUL byte", 1, 4);
	EXPECT_ERROR("unknown alias", "a: 1\nb: *x\n", NULL, FL_EINPUT, "unknown alias '*x'", 2, 4);
	EXPECT_ERROR("alias to other document", "a: &x 1\n---\nb: *x\n", NULL, FL_EINPUT,
		     "unknown alias '*x'", 3, 4);
	EXPECT_ERROR("recursive alias", "a: &x [1, *x]\n", NULL, FL_EINPUT,
		     "alias '*x' refers to a node that contains it", 1, 11);
	EXPECT_ERROR("alias of a list as key", "- &l [1]\n- {*l : 2}\n", NULL, FL_EINPUT,
		     "mapping keys must be scalars", 2, 4);

	/* The error carries the source line for the caret display. */
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	struct fl_buf out = FL_BUF_INIT;
	fl_arena_init(&arena, 0);
	assert_int_equal(load_one(&root, &arena, "a: [1, 2", NULL, &err), FL_EINPUT);
	assert_string_equal(err.srcline, "a: [1, 2");
	fl_error_format(&out, &err);
	assert_string_equal(out.ptr,
			    "t.yaml:1:9: error: did not find expected ',' or ']' (while parsing a flow sequence)\n"
			    "  a: [1, 2\n"
			    "          ^\n");
	fl_buf_release(&out);
	fl_arena_release(&arena);
}

/* ---- limits ---- */

static void test_file_size_limit(void **state)
{
	(void)state;
	struct fl_yaml_limits limits = FL_YAML_LIMITS_DEFAULT;
	limits.max_bytes = 10;
	EXPECT_ERROR("one over", "a: 12345678", &limits, FL_ELIMIT,
		     "file is 11 bytes, more than the limit of 10", 1, 1);
	EXPECT_ERROR("size before nul", "a: 1\0 567890", &limits, FL_ELIMIT,
		     "file is 12 bytes, more than the limit of 10", 1, 1);

	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	fl_arena_init(&arena, 0);
	assert_int_equal(load_one(&root, &arena, "a: 123456", &limits, &err), 0);

	/* The default is a megabyte. */
	size_t len = 1024 * 1024 + 1;
	char *text = fl_malloc(len + 1);
	memset(text, ' ', len);
	text[0] = 'a';
	text[1] = ':';
	text[len] = '\0';
	assert_int_equal(load_one(&root, &arena, text, NULL, &err), FL_ELIMIT);
	assert_string_equal(err.msg, "file is 1048577 bytes, more than the limit of 1048576");
	free(text);
	fl_arena_release(&arena);
}

static char *nested(const char *open, const char *close, int depth)
{
	struct fl_buf b = FL_BUF_INIT;
	for (int i = 0; i < depth; i++)
		fl_buf_puts(&b, open);
	fl_buf_puts(&b, "1");
	for (int i = 0; i < depth; i++)
		fl_buf_puts(&b, close);
	return fl_buf_detach(&b, NULL);
}

static void test_depth_limit(void **state)
{
	(void)state;
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	fl_arena_init(&arena, 0);

	char *ok = nested("[", "]", 64);
	assert_int_equal(load_one(&root, &arena, ok, NULL, &err), 0);
	const struct fl_node *n = root;
	for (int i = 0; i < 64; i++) {
		assert_int_equal(n->type, FL_NODE_SEQ);
		assert_int_equal(n->col, (uint32_t)i + 1);
		n = n->v.seq.items[0];
	}
	assert_int_equal(n->type, FL_NODE_INT);
	free(ok);

	char *deep = nested("[", "]", 65);
	assert_int_equal(load_one(&root, &arena, deep, NULL, &err), FL_ELIMIT);
	assert_string_equal(err.msg, "nesting deeper than 64 levels");
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 65);
	free(deep);

	/* A hostile file nests far deeper; it must fail at the limit, not overflow a stack. */
	char *bomb = nested("{a: ", "}", 100000);
	assert_int_equal(load_one(&root, &arena, bomb, NULL, &err), FL_ELIMIT);
	assert_string_equal(err.msg, "nesting deeper than 64 levels");
	assert_int_equal(err.col, 64 * 4 + 1);
	free(bomb);

	struct fl_yaml_limits limits = FL_YAML_LIMITS_DEFAULT;
	limits.max_depth = 2;
	EXPECT_ERROR("block", "a:\n  b:\n    - 1\n", &limits, FL_ELIMIT,
		     "nesting deeper than 2 levels", 3, 5);
	fl_arena_release(&arena);
}

static void test_aliases(void **state)
{
	(void)state;
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	fl_arena_init(&arena, 0);

	/* Aliases share the anchored node. */
	assert_int_equal(load_one(&root, &arena,
				  "base: &b {x: 1, y: [2, 3]}\n"
				  "copy: *b\n"
				  "n: &n 7\n"
				  "m: *n\n"
				  "*n : seven\n"
				  "&s str: v\n",
				  NULL, &err), 0);
	const struct fl_node *base = fl_node_get(root, "base");
	assert_ptr_equal(base, fl_node_get(root, "copy"));
	assert_int_equal(base->line, 1);
	assert_ptr_equal(fl_node_get(root, "n"), fl_node_get(root, "m"));
	assert_int_equal(fl_node_get(root, "m")->v.i, 7);
	/* An alias of a number used as a key is the number's text. */
	assert_string_equal(fl_node_get(root, "7")->v.str.ptr, "seven");
	assert_string_equal(fl_node_get(root, "str")->v.str.ptr, "v");
	/* Redefining an anchor takes effect from there on. */
	assert_int_equal(load_one(&root, &arena, "- &a 1\n- *a\n- &a 2\n- *a\n", NULL, &err), 0);
	assert_int_equal(root->v.seq.items[1]->v.i, 1);
	assert_int_equal(root->v.seq.items[3]->v.i, 2);
	/* Merge keys are not supported: << is an ordinary key. */
	assert_int_equal(load_one(&root, &arena, "a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n", NULL, &err), 0);
	const struct fl_node *b = fl_node_get(root, "b");
	assert_ptr_equal(fl_node_get(b, "<<"), fl_node_get(root, "a"));
	assert_null(fl_node_get(b, "x"));

	/* The alias count limit. */
	struct fl_buf text = FL_BUF_INIT;
	fl_buf_puts(&text, "a: &a 1\nl:\n");
	for (int i = 0; i < 64; i++)
		fl_buf_puts(&text, "  - *a\n");
	assert_int_equal(load_one(&root, &arena, text.ptr, NULL, &err), 0);
	assert_int_equal(fl_node_get(root, "l")->v.seq.len, 64);
	fl_buf_puts(&text, "  - *a\n");
	assert_int_equal(load_one(&root, &arena, text.ptr, NULL, &err), FL_ELIMIT);
	assert_string_equal(err.msg, "more than 64 aliases");
	assert_int_equal(err.line, 67);
	assert_int_equal(err.col, 5);
	fl_buf_release(&text);

	/* Aliases count in every document of the file together. */
	struct fl_yaml_limits limits = FL_YAML_LIMITS_DEFAULT;
	limits.max_aliases = 2;
	EXPECT_ERROR("across documents", "- &a 1\n- *a\n---\n- &a 1\n- *a\n---\n- &a 1\n- *a\n",
		     &limits, FL_ELIMIT, "more than 2 aliases", 8, 3);

	/* Node count without aliases. */
	limits = (struct fl_yaml_limits)FL_YAML_LIMITS_DEFAULT;
	limits.max_nodes = 4;
	EXPECT_ERROR("nodes", "[1, 2, 3, 4]", &limits, FL_ELIMIT, "file has more than 4 nodes", 1, 11);
	EXPECT_ERROR("expansion", "- &a [1, 2]\n- *a\n", &limits, FL_ELIMIT,
		     "alias expansion exceeds 4 nodes", 2, 3);
	fl_arena_release(&arena);
}

/* The billion laughs: each level nine aliases of the one before. */
static char *laughs(int levels)
{
	struct fl_buf b = FL_BUF_INIT;
	fl_buf_puts(&b, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i < levels; i++) {
		fl_buf_printf(&b, "l%d: &l%d [", i, i);
		for (int j = 0; j < 9; j++)
			fl_buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
		fl_buf_puts(&b, "]\n");
	}
	return fl_buf_detach(&b, NULL);
}

static void test_billion_laughs(void **state)
{
	(void)state;
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	char *bomb = laughs(10);
	fl_arena_init(&arena, 0);

	clock_t start = clock();
	/* The default limits stop it at the expanded node count... */
	assert_int_equal(load_one(&root, &arena, bomb, NULL, &err), FL_ELIMIT);
	assert_string_equal(err.msg, "alias expansion exceeds 100000 nodes");
	/* l0 to l4 and their keys are 74,738 nodes; l5 adds 66,430 per alias. */
	assert_int_equal(err.line, 6);
	assert_int_equal(err.col, 10);
	/* ...and with that lifted, at the alias count: the 65th alias is the second in l8. */
	struct fl_yaml_limits limits = FL_YAML_LIMITS_DEFAULT;
	limits.max_nodes = SIZE_MAX;
	assert_int_equal(load_one(&root, &arena, bomb, &limits, &err), FL_ELIMIT);
	assert_string_equal(err.msg, "more than 64 aliases");
	assert_int_equal(err.line, 9);
	assert_int_equal(err.col, 15);
	double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
	assert_true(secs < 1.0);

	/* Five levels are 66,430 nodes expanded: allowed, and shared, not copied. */
	free(bomb);
	bomb = laughs(5);
	assert_int_equal(load_one(&root, &arena, bomb, NULL, &err), 0);
	assert_ptr_equal(fl_node_get(root, "l4")->v.seq.items[0], fl_node_get(root, "l3"));
	assert_true(arena.used < 64 * 1024);
	free(bomb);
	fl_arena_release(&arena);
}

/* ---- garbage in, clean error out ---- */

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint32_t rng(void)
{
	/* xorshift64*: a fixed seed, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static void check_garbage(const char *text, size_t len, int iteration)
{
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node **docs = NULL;
	size_t ndocs = 0;
	struct fl_source src = source(text, len);
	struct fl_yaml_limits limits = FL_YAML_LIMITS_DEFAULT;
	limits.max_nodes = 1000;
	limits.max_depth = 16;
	fl_arena_init(&arena, 4096);

	int rc = fl_yaml_load(&docs, &ndocs, &arena, &src, &limits, &err);
	if (rc != 0 && rc != FL_EINPUT && rc != FL_ELIMIT)
		print_error("iteration %d: unexpected code %d\n", iteration, rc);
	assert_true(rc == 0 || rc == FL_EINPUT || rc == FL_ELIMIT);
	if (rc) {
		assert_int_equal(err.code, rc);
		assert_true(err.msg[0] != '\0');
		assert_true(err.line >= 1);
		assert_null(docs);
	} else {
		for (size_t i = 0; i < ndocs; i++)
			assert_non_null(docs[i]);
	}
	fl_arena_release(&arena);
}

static void test_garbage(void **state)
{
	(void)state;
	static const char alphabet[] = "ab01 :-,[]{}&*!|>'\"#?\n\n  \t\\.~%@`\xc3\xa9\xff";
	static const char *const seeds[] = {
		"a: [1, {b: &x c}, *x]\n- d\n",
		"k: |\n  text\n---\n? x\n: y\n...\n",
		"{a: 'b', \"c\": !!str d, e: [f, g]}\n",
	};
	char buf[512];

	for (int it = 0; it < 3000; it++) {
		size_t len = rng() % sizeof(buf);
		uint32_t kind = rng() % 3;
		if (kind == 0) {
			/* Random bytes. */
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)(rng() & 0xff);
		} else if (kind == 1) {
			/* Random YAML punctuation, which reaches further into the parser. */
			for (size_t i = 0; i < len; i++)
				buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		} else {
			/* A valid file with a few bytes changed. */
			const char *seed = seeds[rng() % 3];
			len = strlen(seed);
			memcpy(buf, seed, len);
			for (int m = rng() % 4; m >= 0; m--)
				buf[rng() % len] = alphabet[rng() % (sizeof(alphabet) - 1)];
		}
		check_garbage(buf, len, it);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalar_types),
		cmocka_unit_test(test_keys_are_strings),
		cmocka_unit_test(test_scalar_errors),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_load_one),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_file_size_limit),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
