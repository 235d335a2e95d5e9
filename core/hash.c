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

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fl_fp_parse(struct fl_fp *out, const char *hex, size_t len)
{
	if (len != FL_FP_HEX_LEN)
		return FL_EINPUT;
	for (size_t i = 0; i < sizeof(out->b); i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return FL_EINPUT;
		out->b[i] = (uint8_t)(hi << 4 | lo);
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
