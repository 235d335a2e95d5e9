/* XXH3-128 fingerprints; the only file that includes xxhash.h. */
#include "core/hash.h"

#include <string.h>

#include <xxhash.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/banned.h"

static void from_hash(struct fl_fp *out, XXH128_hash_t h)
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	memcpy(out->b, c.digest, sizeof(out->b));
}

void fl_fp_of(struct fl_fp *out, const void *data, size_t len)
{
	from_hash(out, XXH3_128bits(data, len));
}

void fl_fp_hex(char out[FL_FP_HEX_LEN + 1], const struct fl_fp *fp)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof(fp->b); i++) {
		out[2 * i] = digits[fp->b[i] >> 4];
		out[2 * i + 1] = digits[fp->b[i] & 0xf];
	}
	out[FL_FP_HEX_LEN] = '\0';
}

/*
 * One more than each byte's value as a hex digit, 0 for the bytes that are
 * none: one load a digit, where a plan reads two fingerprints a marker.
 */
static const uint8_t hex_plus_one[256] = {
	['0'] = 1,  ['1'] = 2,	['2'] = 3,  ['3'] = 4,	['4'] = 5,  ['5'] = 6,	['6'] = 7,  ['7'] = 8,
	['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

int fl_fp_parse(struct fl_fp *out, const char *hex, size_t len)
{
	if (len != FL_FP_HEX_LEN)
		return FL_EINPUT;
	for (size_t i = 0; i < sizeof(out->b); i++) {
		unsigned hi = hex_plus_one[(unsigned char)hex[2 * i]];
		unsigned lo = hex_plus_one[(unsigned char)hex[2 * i + 1]];
		if (!hi || !lo)
			return FL_EINPUT;
		out->b[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
	}
	return 0;
}

bool fl_fp_equal(const struct fl_fp *a, const struct fl_fp *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

bool fl_fp_is_zero(const struct fl_fp *fp)
{
	static const struct fl_fp zero;
	return fl_fp_equal(fp, &zero);
}

void fl_hasher_init(struct fl_hasher *h)
{
	h->state = XXH3_createState();
	if (!h->state) {
		/* fl_malloc aborts with the out-of-memory message. */
		h->state = fl_malloc((size_t)-1);
	}
	XXH3_128bits_reset(h->state);
}

void fl_hasher_update(struct fl_hasher *h, const void *data, size_t len)
{
	XXH3_128bits_update(h->state, data, len);
}

void fl_hasher_update_field(struct fl_hasher *h, const void *data, size_t len)
{
	/* The length as 8 little-endian bytes, so fingerprints agree across machines. */
	unsigned char n[8];
	for (int i = 0; i < 8; i++)
		n[i] = (unsigned char)((uint64_t)len >> (8 * i));
	XXH3_128bits_update(h->state, n, sizeof(n));
	XXH3_128bits_update(h->state, data, len);
}

void fl_hasher_final(struct fl_fp *out, struct fl_hasher *h)
{
	from_hash(out, XXH3_128bits_digest(h->state));
}

void fl_hasher_release(struct fl_hasher *h)
{
	XXH3_freeState(h->state);
	h->state = NULL;
}
