/*
 * Fingerprints: XXH3-128 as 32 lowercase hex digits (SPEC 3), one-shot or
 * streaming. The only file that includes xxhash.h is hash.c.
 */
#ifndef FL_HASH_H
#define FL_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fl_fp {
	uint8_t b[16];   /* the canonical (big-endian) XXH3-128 digest */
};

#define FL_FP_HEX_LEN 32

void fl_fp_of(struct fl_fp *out, const void *data, size_t len);
/* Writes 32 hex digits and a NUL. */
void fl_fp_hex(char out[FL_FP_HEX_LEN + 1], const struct fl_fp *fp);
/* Parses exactly 32 hex digits (either case); returns FL_EINPUT otherwise. */
int fl_fp_parse(struct fl_fp *out, const char *hex, size_t len);
bool fl_fp_equal(const struct fl_fp *a, const struct fl_fp *b);
bool fl_fp_is_zero(const struct fl_fp *fp);

/* A streaming hasher: init, update any number of times, final. */
struct fl_hasher {
	void *state;   /* an XXH3_state_t, owned */
};

void fl_hasher_init(struct fl_hasher *h);
void fl_hasher_update(struct fl_hasher *h, const void *data, size_t len);
/* Adds len, then the bytes: so ("ab","c") and ("a","bc") hash differently. */
void fl_hasher_update_field(struct fl_hasher *h, const void *data, size_t len);
void fl_hasher_final(struct fl_fp *out, struct fl_hasher *h);
void fl_hasher_release(struct fl_hasher *h);

#endif
