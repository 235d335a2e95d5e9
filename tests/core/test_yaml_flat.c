/*
 * Unit tests for core/yaml_flat.c: every file the flat reader accepts must
 * give the tree, positions included, that libyaml's reader (fl_yaml_load)
 * gives; what it must leave to libyaml (comments, nesting, errors, bytes
 * beyond ASCII) it declines. Random files built from tricky pieces hold
 * the two to the same answer.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/node.h"
#include "core/yaml.h"
#include "core/yaml_internal.h"
#include "core/banned.h"

static bool same_tree(const struct fl_node *a, const struct fl_node *b)
{
	if (!a || !b)
		return a == b;
	if (a->type != b->type || a->line != b->line || a->col != b->col || a->quoted != b->quoted)
		return false;
	switch (a->type) {
	case FL_NODE_NULL:
		return true;
	case FL_NODE_BOOL:
		return a->v.b == b->v.b;
	case FL_NODE_INT:
		return a->v.i == b->v.i;
	case FL_NODE_FLOAT:
		return (isnan(a->v.f) && isnan(b->v.f)) || memcmp(&a->v.f, &b->v.f, sizeof(a->v.f)) == 0;
	case FL_NODE_STR:
		return a->v.str.len == b->v.str.len && memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0 &&
		       a->v.str.ptr[a->v.str.len] == '\0';
	case FL_NODE_SEQ:
		if (a->v.seq.len != b->v.seq.len)
			return false;
		for (size_t i = 0; i < a->v.seq.len; i++)
			if (!same_tree(a->v.seq.items[i], b->v.seq.items[i]))
				return false;
		return true;
	case FL_NODE_MAP:
		if (a->v.map.len != b->v.map.len)
			return false;
		for (size_t i = 0; i < a->v.map.len; i++)
			if (!same_tree(a->v.map.items[i].key, b->v.map.items[i].key) ||
			    !same_tree(a->v.map.items[i].value, b->v.map.items[i].value))
				return false;
		return true;
	}
	return false;
}

/*
 * 1 when the flat reader took text (and then libyaml gives the same tree),
 * 0 when it declined; fails the test when they disagree.
 */
static int compare(const char *text, size_t len, const struct fl_yaml_limits *limits)
{
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_source src = { "t.yaml", text, len };
	struct fl_node *flat = NULL, **docs = NULL;
	size_t ndocs = 0;

	fl_arena_init(&arena, 0);
	int frc = fl_yaml_load_flat(&flat, &arena, &src, limits);
	int yrc = fl_yaml_load(&docs, &ndocs, &arena, &src, limits, &err);
	bool ok = frc == FL_YAML_NOT_FLAT ||
		  (frc == 0 && yrc == 0 && ndocs == 1 && same_tree(flat, docs[0]));
	if (!ok)
		print_error("flat reader disagrees with libyaml (flat %d, libyaml %d: %s) on:\n%.*s\n---\n", frc,
			    yrc, err.msg, (int)len, text);
	fl_arena_release(&arena);
	assert_true(ok);
	return frc == 0;
}

static int compare_str(const char *text)
{
	return compare(text, strlen(text), NULL);
}

static void test_flat_files(void **state)
{
	static const char *const flat[] = {
		"name: t002841\naccount: \"100000002841\"\nregions: [us-west-2, eu-central-1]\n"
		"labels: { size: small }\nservices: [api, portal, reports]\n"
		"vars: { display_name: \"Tenant 002841 Health\", seats: 346 }\n",
		"name: t000001\naccount: \"100000000001\"\nregions: [us-east-1, eu-west-1]\ncanary: true\n"
		"labels: { size: small }\nservices: [api, portal, reports]\n"
		"vars: { display_name: \"Tenant 000001 Health\" }\n",
		"a: 1",
		"\n\na: b\n\n\nc: d\n\n",
		"a: [ ]\nb: {}\nc: []\nd: {  }\n",
		"a:    spaced out value\n",
		"a: \"# not: a comment, [x]\"\n",
		"a: \"\"\nb: [\"\", x]\n",
		"a: [1, 0x1f, 0o17, 1.5, .5, 1e3, .inf, +1, 1_000]\n",
		"ints: 9223372036854775807\nnull: null\nbools: [true, False, TRUE, yes, no, on]\n",
		"k-e_y: v/a+l=u.e_\n",
		"a: [x y, z]\nb: {k: v w, l: 2}\n",
		"true: false\n1: 2\nnull: nil\n",
		"a: x - y\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(flat) / sizeof(*flat); i++)
		if (!compare_str(flat[i]))
			fail_msg("the flat reader declined case %zu:\n%s", i, flat[i]);
}

static void test_declined(void **state)
{
	static const char *const other[] = {
		"",
		"\n\n",
		"# comment\na: 1\n",
		"a: 1 # comment\n",
		"a: 1 \n",
		"a:\n  b: 1\n",
		"a:\n",
		"a: \n",
		"a:1\n",
		"a : 1\n",
		" a: 1\n",
		"a: 1\na: 2\n",
		"a: {k: 1, k: 2}\n",
		"a: &x 1\nb: *x\n",
		"a: !!str 1\n",
		"a: \"esc\\n\"\n",
		"a: 'single'\n",
		"a: |\n  text\n",
		"a: [1, [2]]\n",
		"a: [1, ]\n",
		"a: [1,\n 2]\n",
		"a: {k: [1]}\n",
		"---\na: 1\n",
		"a: 1\n---\nb: 2\n",
		"a: 1\n...\n",
		"%YAML 1.2\n---\na: 1\n",
		"a:\tb\n",
		"a: b\r\n",
		"a: caf\xc3\xa9\n",
		"\xef\xbb\xbf" "a: 1\n",
		"- a\n- b\n",
		"a: -1\n",
		"a: 99999999999999999999\n",
		"a: x  y\n",
		"a: x: y\n",
		"a: @x\n",
		"a: \"unterminated\n",
		"a: [x]y\n",
		"a: {k:v}\n",
		"? a\n: b\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(other) / sizeof(*other); i++)
		if (compare_str(other[i]))
			fail_msg("the flat reader took case %zu:\n%s", i, other[i]);
	/* A key as long as libyaml allows a simple key is left to it. */
	char key[1100];
	memset(key, 'k', sizeof(key));
	memcpy(key + 1030, ": 1\n", 5);
	assert_int_equal(compare_str(key), 0);
}

/*
 * A byte that is neither printable ASCII nor a newline sends the file to
 * libyaml wherever it stands: each is tried at every offset of a file that
 * is flat without it, the file padded to eight lengths. The file ends in
 * quotes, where only the class of quoted bytes keeps such bytes out.
 */
static void test_declined_bytes(void **state)
{
	static const unsigned char bad[] = { 0x00, 0x01, 0x09, 0x0d, 0x1f, 0x7f, 0x80, 0xc3, 0xfe, 0xff };
	char base[160], text[160];
	(void)state;
	for (int pad = 0; pad < 8; pad++) {
		int len = snprintf(base, sizeof(base),
				   "name: acme-corp%.*s\ntitle: \"Acme Corp (EU), since 2026\"\n"
				   "vars: { display_name: \"A quoted name\", seats: 40 }\nnote: \"the tail\"\n",
				   pad, "-------");
		assert_true(len > 0 && (size_t)len < sizeof(base));
		assert_int_equal(compare(base, (size_t)len, NULL), 1);
		for (int at = 0; at < len; at++) {
			if (base[at] == '\n')
				continue;
			for (size_t b = 0; b < sizeof(bad); b++) {
				memcpy(text, base, (size_t)len);
				text[at] = (char)bad[b];
				if (compare(text, (size_t)len, NULL))
					fail_msg("the flat reader took byte 0x%02x at offset %d (pad %d)", bad[b], at, pad);
			}
		}
	}
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/*
 * Every byte in each place of a one-line file: the flat reader takes the
 * bytes listed for the place, spelled out here apart from its table of
 * classes, and declines all others (libyaml then agrees, as ever).
 */
static void test_byte_classes(void **state)
{
	static const struct {
		const char *name, *before, *after, *taken;
	} places[] = {
		{ "key start", "", "a: x\n", ALNUM "_\n" }, /* a newline: a blank line first */
		{ "key", "a", ": x\n", ALNUM "_-" },
		{ "plain start", "a: ", "x\n", ALNUM "_./+ " }, /* a space: one more before the value */
		{ "plain", "a: x", "\n", ALNUM "_./+-=\n" }, /* a newline: a blank line after */
		{ "plain after a space", "a: x ", "\n", ALNUM "_./+-=" },
		{ "flow plain", "a: [x", "]\n", ALNUM "_./+-= " }, /* a space: before the ']' */
		{ "quoted", "a: \"", "\"\n", ALNUM "_./+-= !#$%&'()*,:;<>?@[]^`{|}~" },
	};
	char text[32];
	(void)state;
	for (size_t i = 0; i < sizeof(places) / sizeof(*places); i++) {
		for (int c = 0; c < 256; c++) {
			int len = snprintf(text, sizeof(text), "%s%c%s", places[i].before, c, places[i].after);
			assert_true(len > 0 && (size_t)len < sizeof(text));
			int want = c != 0 && strchr(places[i].taken, c) != NULL;
			if (compare(text, (size_t)len, NULL) != want)
				fail_msg("%s: the flat reader %s byte 0x%02x", places[i].name,
					 want ? "declined" : "took", (unsigned)c);
		}
	}
}

/* Edge cases either reader may take: when the flat one does, libyaml agrees. */
static void test_agree(void **state)
{
	static const char *const edges[] = {
		"a: ...\n", "a: .\n", "a: +\n", "a: /\n", "a: _\n", "a: 0x\n", "a: 0o\n", "a: 1e\n",
		"a: +.inf\n", "a: .NaN\n", "a: 00\n", "a: 0777\n", "a: 1__0\n", "a: a=b\n", "a: [.]\n",
		"a: {b: .}\n", "a: [a b c, d]\n", "a: \"\"\n\n\n", "a1: x\nb_2: y\nc-3: z\n", "_: x\n",
		"a: x\nb: [x, y]\nc: {k: v}\nd: \"q\"\n", "a: [\"x, y\", \"]\"]\n", "a: {k: \"}\"}\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(*edges); i++)
		compare_str(edges[i]);
}

static void test_limits(void **state)
{
	const char *text = "a: [1, 2, 3]\nb: 4\n";
	struct fl_yaml_limits small_nodes = FL_YAML_LIMITS_DEFAULT, shallow = FL_YAML_LIMITS_DEFAULT,
			      tiny = FL_YAML_LIMITS_DEFAULT;
	(void)state;
	small_nodes.max_nodes = 7;   /* the file has 8 */
	shallow.max_depth = 1;
	tiny.max_bytes = 5;
	assert_int_equal(compare(text, strlen(text), &small_nodes), 0);
	assert_int_equal(compare(text, strlen(text), &shallow), 0);
	assert_int_equal(compare(text, strlen(text), &tiny), 0);
	small_nodes.max_nodes = 8;
	assert_int_equal(compare(text, strlen(text), &small_nodes), 1);
}

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static const char *const scalars[] = {
	"v", "us-west-2", "\"q\"", "\"\"", "\"a: b # c\"", "1", "1.5", "1e9", ".inf", ".nan", "true", "null",
	"x y", "+5", "/p/q", "=x", "x=", "a.b.c", "0x10", "0o7", "x - y", "1_0", "1.", "0", "00", "1e", "e1",
	/* the first 27 are flat; these are not, or are odd */
	"-1", "-.inf", "~", "x  y", "x #y", "x: y", "x:y", "\"a\\\"b\"", "'s'", "&a x", "*a", "!t x", "|", ">",
	"@", "`", "%", "a,b", "9223372036854775808", "-", "- x", "x -", "[", "]", "{", "}", "\"", "",
};

/* Flat pieces three times in four. */
static const char *scalar(void)
{
	size_t n = sizeof(scalars) / sizeof(*scalars);
	return scalars[rng() % 4 ? rng() % 27 : rng() % n];
}

/* Random files of lines from tricky pieces: whatever the flat reader takes, libyaml reads the same. */
static void test_random_files(void **state)
{
	static const char *const keys[] = { "a", "b", "name", "k-1", "true", "1", "null", "_x", "a b", "-a",
					     "a:", "", "\"q\"", "#", "x\t" };
	static const char *const seps[] = { ": ", ":  ", ":", " : ", ":\t", ": \"" };
	static const char *const glue[] = { ", ", ",", " , ", " ,", ",  " };
	char buf[2048];
	int taken = 0;
	(void)state;
	for (int it = 0; it < 100000; it++) {
		size_t len = 0;
		int lines = 1 + (int)(rng() % 5);
		for (int l = 0; l < lines && len < sizeof(buf) - 400; l++) {
			if (rng() % 8 == 0)
				buf[len++] = '\n';
			const char *k = rng() % 4 ? keys[rng() % 3] : keys[rng() % (sizeof(keys) / sizeof(*keys))];
			const char *s = rng() % 4 ? seps[0] : seps[rng() % (sizeof(seps) / sizeof(*seps))];
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", k, s);
			unsigned shape = rng() % 3;
			if (shape) {
				const char *open = shape == 1 ? "[" : "{", *close = shape == 1 ? "]" : "}";
				len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", open,
							rng() % 3 ? "" : " ");
				int items = (int)(rng() % 4);
				for (int i = 0; i < items; i++) {
					if (i)
						len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s",
									glue[rng() % 5]);
					if (shape == 2)
						len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
									keys[rng() % 4], seps[rng() % 3 ? 0 : 1]);
					len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", scalar());
				}
				len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", rng() % 3 ? "" : " ",
							close);
			} else {
				len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", scalar());
			}
			if (rng() % 10 == 0)
				buf[len++] = ' ';
			if (l + 1 < lines || rng() % 2)
				buf[len++] = '\n';
		}
		taken += compare(buf, len, NULL);
	}
	/* Enough of the pieces are flat: the comparison is not vacuous. */
	print_message("the flat reader took %d of 100000 random files\n", taken);
	assert_true(taken > 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flat_files),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_declined_bytes),
		cmocka_unit_test(test_byte_classes),
		cmocka_unit_test(test_agree),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_random_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
