/*
 * Tests for core/hash.c: XXH3-128 fingerprints against vectors computed with
 * `xxhsum -H2` (xxHash 0.8.1), which prints the canonical big-endian digest
 * that struct fl_fp holds; hex output and parsing; streaming against
 * one-shot; and the length framing of fl_hasher_update_field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct vector {
	const char *name;
	const char *input; /* NULL: pattern_len bytes of "abc...zabc..." */
	size_t pattern_len;
	const char *hex;
};

/* Each size class of XXH3 (0, 1-3, 4-8, 9-16, 17-128, 129-240, >240) has one. */
static const struct vector vectors[] = {
	{ "empty", "", 0, "99aa06d3014798d86001c324468d497f" },
	{ "a", "a", 0, "a96faf705af16834e6c632b61e964e1f" },
	{ "abc", "abc", 0, "06b05ab6733a618578af5f94892f3950" },
	{ "8 bytes", "abcdefgh", 0, "dac23237af37353342b702b313880f12" },
	{ "16 bytes", "0123456789abcdef", 0, "ccba8085a0434e9e0befb4873dbe58f8" },
	{ "fox", "The quick brown fox jumps over the lazy dog", 0, "ddd650205ca3e7fa24a1cc2e3a8a7651" },
	{ "100 bytes", NULL, 100, "f13c08ea108602716077ca3810a2c224" },
	{ "200 bytes", NULL, 200, "f0e244b452ba3d2f0987ab52e1e85b39" },
	{ "1000 bytes", NULL, 1000, "b68384db4f7b6231e153425558d7da5d" },
};

/* The vector's input, malloc'ed; *len gets its length. */
static unsigned char *vector_input(const struct vector *v, size_t *len)
{
	*len = v->input ? strlen(v->input) : v->pattern_len;
	unsigned char *p = malloc(*len + 1);
	assert_non_null(p);
	if (v->input)
		memcpy(p, v->input, *len);
	else
		for (size_t i = 0; i < *len; i++)
			p[i] = (unsigned char)('a' + i % 26);
	return p;
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(vectors); i++) {
		const struct vector *v = &vectors[i];
		size_t len;
		unsigned char *in = vector_input(v, &len);
		struct fl_fp fp;
		char hex[FL_FP_HEX_LEN + 1];

		memset(hex, 'Z', sizeof(hex));
		fl_fp_of(&fp, in, len);
		fl_fp_hex(hex, &fp);
		if (strcmp(hex, v->hex) != 0)
			fail_msg("%s: got %s, want %s", v->name, hex, v->hex);
		free(in);
	}
}

/* The bytes are the canonical digest: the high 64 bits first, big-endian. */
static void test_canonical_bytes(void **state)
{
	static const uint8_t want[16] = { 0x99, 0xaa, 0x06, 0xd3, 0x01, 0x47, 0x98, 0xd8,
					  0x60, 0x01, 0xc3, 0x24, 0x46, 0x8d, 0x49, 0x7f };
	struct fl_fp fp;

	(void)state;
	fl_fp_of(&fp, "", 0);
	assert_memory_equal(fp.b, want, 16);
	assert_false(fl_fp_is_zero(&fp));
}

static void test_hex_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(vectors); i++) {
		const struct vector *v = &vectors[i];
		struct fl_fp parsed, upper_parsed;
		char hex[FL_FP_HEX_LEN + 1], upper[FL_FP_HEX_LEN + 1];

		memset(&parsed, 0xee, sizeof(parsed));
		if (fl_fp_parse(&parsed, v->hex, strlen(v->hex)) != 0)
			fail_msg("%s: parse failed", v->name);
		fl_fp_hex(hex, &parsed);
		if (strcmp(hex, v->hex) != 0)
			fail_msg("%s: round trip gave %s", v->name, hex);

		for (size_t j = 0; j <= FL_FP_HEX_LEN; j++)
			upper[j] = (v->hex[j] >= 'a' && v->hex[j] <= 'f') ? (char)(v->hex[j] - 'a' + 'A')
									  : v->hex[j];
		if (fl_fp_parse(&upper_parsed, upper, FL_FP_HEX_LEN) != 0)
			fail_msg("%s: parse of upper case failed", v->name);
		if (!fl_fp_equal(&parsed, &upper_parsed))
			fail_msg("%s: upper case parsed differently", v->name);
	}

	/* Every byte value survives hex and back. */
	struct fl_fp all, back;
	char hex[FL_FP_HEX_LEN + 1];
	for (int base = 0; base < 256; base += 16) {
		for (int i = 0; i < 16; i++)
			all.b[i] = (uint8_t)(base + i);
		fl_fp_hex(hex, &all);
		assert_int_equal(strlen(hex), FL_FP_HEX_LEN);
		assert_int_equal(fl_fp_parse(&back, hex, FL_FP_HEX_LEN), 0);
		assert_memory_equal(all.b, back.b, 16);
	}
	for (int i = 0; i < 16; i++)
		all.b[i] = (uint8_t)(0x0f + i * 0x10);
	fl_fp_hex(hex, &all);
	assert_string_equal(hex, "0f1f2f3f4f5f6f7f8f9fafbfcfdfefff");
}

struct parse_case {
	const char *name;
	const char *hex;
	size_t len;
};

#define P(lit) lit, sizeof(lit) - 1
#define GOOD "0123456789abcdef0123456789abcdef"

static const struct parse_case bad_parse_cases[] = {
	{ "empty", P("") },
	{ "31 digits", P("0123456789abcdef0123456789abcde") },
	{ "33 digits", P(GOOD "0") },
	{ "64 digits", P(GOOD GOOD) },
	{ "len one short of a good string", GOOD, 31 },
	{ "g", P("0123456789abcdef0123456789abcdeg") },
	{ "G first", P("G123456789abcdef0123456789abcdef") },
	{ "space", P("0123456789abcdef 123456789abcdef") },
	{ "minus", P("-123456789abcdef0123456789abcdef") },
	{ "0x prefix", P("0x23456789abcdef0123456789abcdef") },
	{ "NUL inside", P("0123456789abcdef\000123456789abcdef") },
	{ "colon (after '9')", P("0123456789abcdef0123456789abcde:") },
	{ "slash (before '0')", P("/123456789abcdef0123456789abcdef") },
	{ "at sign (before 'A')", P("@123456789abcdef0123456789abcdef") },
	{ "backtick (before 'a')", P("`123456789abcdef0123456789abcdef") },
	{ "high byte", P("\303\25123456789abcdef0123456789abcdef") },
};

static void test_parse_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad_parse_cases); i++) {
		const struct parse_case *c = &bad_parse_cases[i];
		struct fl_fp fp;
		int rc = fl_fp_parse(&fp, c->hex, c->len);
		if (rc != FL_EINPUT)
			fail_msg("%s: returned %d, want FL_EINPUT", c->name, rc);
	}
	/* len is what counts, not the NUL: 32 digits of a longer string are fine. */
	struct fl_fp fp, want;
	assert_int_equal(fl_fp_parse(&fp, GOOD "ffff", FL_FP_HEX_LEN), 0);
	assert_int_equal(fl_fp_parse(&want, GOOD, FL_FP_HEX_LEN), 0);
	assert_true(fl_fp_equal(&fp, &want));
	assert_int_equal(fp.b[0], 0x01);
	assert_int_equal(fp.b[15], 0xef);
}

/* What a byte is worth as a hex digit by the definition, -1 when it is none. */
static int digit_value(int c)
{
	static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";

	for (int v = 0; v < 16; v++)
		if (c == lower[v] || c == upper[v])
			return v;
	return -1;
}

/* Every byte value, as the high and as the low digit of a byte, at the first and last place. */
static void test_parse_every_byte(void **state)
{
	static const size_t places[] = { 0, 1, FL_FP_HEX_LEN - 2, FL_FP_HEX_LEN - 1 };

	(void)state;
	for (int c = 0; c < 256; c++) {
		for (size_t k = 0; k < N_ELEMS(places); k++) {
			size_t at = places[k];
			char hex[FL_FP_HEX_LEN + 1] = GOOD;
			struct fl_fp fp;
			int want = digit_value(c);

			hex[at] = (char)c;
			int rc = fl_fp_parse(&fp, hex, FL_FP_HEX_LEN);
			if (want < 0) {
				if (rc != FL_EINPUT)
					fail_msg("byte %d at %zu: returned %d, want FL_EINPUT", c, at, rc);
				continue;
			}
			if (rc != 0)
				fail_msg("byte %d at %zu: returned %d, want 0", c, at, rc);
			/* GOOD's digit at the other half of the byte is its place mod 16. */
			int other = (int)((at ^ 1) % 16);
			int byte = at % 2 ? other << 4 | want : want << 4 | other;
			if (fp.b[at / 2] != byte)
				fail_msg("byte %d at %zu: parsed 0x%02x, want 0x%02x", c, at, fp.b[at / 2], byte);
		}
	}
}

static void test_equal_and_zero(void **state)
{
	struct fl_fp zero, a, b;

	(void)state;
	assert_int_equal(fl_fp_parse(&zero, "00000000000000000000000000000000", 32), 0);
	assert_true(fl_fp_is_zero(&zero));
	memset(&a, 0, sizeof(a));
	assert_true(fl_fp_is_zero(&a));
	a.b[15] = 1;
	assert_false(fl_fp_is_zero(&a));
	a.b[15] = 0;
	a.b[0] = 0x80;
	assert_false(fl_fp_is_zero(&a));

	fl_fp_of(&a, "x", 1);
	fl_fp_of(&b, "x", 1);
	assert_true(fl_fp_equal(&a, &b));
	fl_fp_of(&b, "y", 1);
	assert_false(fl_fp_equal(&a, &b));
	b = a;
	b.b[15] ^= 1;
	assert_false(fl_fp_equal(&a, &b));
}

/* Streaming in pieces of every size gives the one-shot digest. */
static void test_streaming(void **state)
{
	static const size_t pieces[] = { 1, 2, 3, 7, 16, 63, 64, 65, 240, 241, 255, 256, 999, 1000 };

	(void)state;
	for (size_t i = 0; i < N_ELEMS(vectors); i++) {
		const struct vector *v = &vectors[i];
		size_t len;
		unsigned char *in = vector_input(v, &len);
		struct fl_fp want;

		fl_fp_parse(&want, v->hex, FL_FP_HEX_LEN);
		for (size_t k = 0; k < N_ELEMS(pieces); k++) {
			struct fl_hasher h;
			struct fl_fp got;
			char hex[FL_FP_HEX_LEN + 1];

			fl_hasher_init(&h);
			assert_non_null(h.state);
			for (size_t off = 0; off < len; off += pieces[k])
				fl_hasher_update(&h, in + off, len - off < pieces[k] ? len - off : pieces[k]);
			fl_hasher_update(&h, in, 0); /* empty updates change nothing */
			fl_hasher_final(&got, &h);
			fl_hasher_release(&h);
			assert_null(h.state);
			fl_fp_hex(hex, &got);
			if (!fl_fp_equal(&got, &want))
				fail_msg("%s: in pieces of %zu got %s, want %s", v->name, pieces[k], hex,
					 v->hex);
		}
		free(in);
	}
}

/* final does not consume the state: more updates continue the same stream. */
static void test_final_midway(void **state)
{
	struct fl_hasher h;
	struct fl_fp fp;
	char hex[FL_FP_HEX_LEN + 1];

	(void)state;
	fl_hasher_init(&h);
	fl_hasher_update(&h, "a", 1);
	fl_hasher_final(&fp, &h);
	fl_fp_hex(hex, &fp);
	assert_string_equal(hex, "a96faf705af16834e6c632b61e964e1f");
	fl_hasher_update(&h, "bc", 2);
	fl_hasher_final(&fp, &h);
	fl_fp_hex(hex, &fp);
	assert_string_equal(hex, "06b05ab6733a618578af5f94892f3950");
	fl_hasher_release(&h);
}

struct field_case {
	const char *name;
	const char *fields[3]; /* NULL ends */
	const char *hex;
};

/*
 * Expected values: XXH3-128 of, per field, its length as 8 little-endian bytes
 * and then its bytes (`python3 -c ... | xxhsum -H2`). The length is written in
 * the host's byte order, so these hold on little-endian hosts.
 */
static const struct field_case field_cases[] = {
	{ "ab, c", { "ab", "c", NULL }, "f2eda2708bcfd51cc05c0ee4c9f60440" },
	{ "a, bc", { "a", "bc", NULL }, "f310f4d71be93bc46456c91685adede6" },
	{ "one empty field", { "", NULL }, "2c0a8a99dc147d5445c3b49d035665b2" },
};

static void test_update_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(field_cases); i++) {
		const struct field_case *c = &field_cases[i];
		struct fl_hasher h;
		struct fl_fp fp;
		char hex[FL_FP_HEX_LEN + 1];

		fl_hasher_init(&h);
		for (size_t j = 0; j < N_ELEMS(c->fields) && c->fields[j]; j++)
			fl_hasher_update_field(&h, c->fields[j], strlen(c->fields[j]));
		fl_hasher_final(&fp, &h);
		fl_hasher_release(&h);
		fl_fp_hex(hex, &fp);
		if (strcmp(hex, c->hex) != 0)
			fail_msg("%s: got %s, want %s", c->name, hex, c->hex);
	}

	/* And the framing is what separates them: plain updates of the same bytes collide. */
	struct fl_hasher h1, h2;
	struct fl_fp f1, f2;
	fl_hasher_init(&h1);
	fl_hasher_init(&h2);
	fl_hasher_update(&h1, "ab", 2);
	fl_hasher_update(&h1, "c", 1);
	fl_hasher_update(&h2, "a", 1);
	fl_hasher_update(&h2, "bc", 2);
	fl_hasher_final(&f1, &h1);
	fl_hasher_final(&f2, &h2);
	assert_true(fl_fp_equal(&f1, &f2));
	fl_hasher_release(&h1);
	fl_hasher_release(&h2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),	       cmocka_unit_test(test_canonical_bytes),
		cmocka_unit_test(test_hex_round_trip), cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_equal_and_zero), cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_final_midway),   cmocka_unit_test(test_update_field),
		cmocka_unit_test(test_parse_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
