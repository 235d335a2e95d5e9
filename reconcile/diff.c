/*
 * Field-level diff of two JSON specs for plans (SPEC 3): both sides are
 * walked together, maps by sorted keys, lists by index; values come out as
 * canonical JSON, secrets masked. Canonical texts (the common case) are
 * walked as they are; anything else is parsed into trees first.
 */
#include "reconcile/diff.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "reconcile/render.h"
#include "core/banned.h"

/* Parse trees of typical specs fit one block of this size. */
#define SCRATCH_BLOCK (16 * 1024)

struct differ {
	struct fl_diff_scratch *s;
	struct fl_arena *out;             /* the caller's: paths and values */
	const struct fl_template *tpl;
	struct fl_error *err;
};

void fl_diff_scratch_init(struct fl_diff_scratch *scratch)
{
	fl_arena_init(&scratch->arena, SCRATCH_BLOCK);
	fl_buf_init(&scratch->path, 0);
	fl_buf_init(&scratch->value, 0);
	scratch->items = NULL;
	scratch->len = scratch->cap = 0;
	memset(scratch->tapes, 0, sizeof(scratch->tapes));
}

void fl_diff_scratch_release(struct fl_diff_scratch *scratch)
{
	fl_arena_release(&scratch->arena);
	fl_buf_release(&scratch->path);
	fl_buf_release(&scratch->value);
	free(scratch->items);
	scratch->items = NULL;
	scratch->len = scratch->cap = 0;
	for (size_t i = 0; i < 2; i++)
		free(scratch->tapes[i].items);
	memset(scratch->tapes, 0, sizeof(scratch->tapes));
}

/* The canonical JSON of node, copied into the caller's arena. */
static int value_of(const char **out, struct differ *d, const struct fl_node *node)
{
	int rc;

	fl_buf_clear(&d->s->value);
	rc = fl_json_canonical(&d->s->value, node, d->err);
	*out = rc ? NULL : fl_arena_strndup(d->out, d->s->value.ptr, d->s->value.len);
	return rc;
}

/* Records an entry at the current path; a or b is NULL for added or removed. */
static int add(struct differ *d, const struct fl_node *a, const struct fl_node *b)
{
	struct fl_diff_scratch *s = d->s;
	bool secret = fl_template_path_secret(d->tpl, s->path.ptr);
	struct fl_field_diff *f;
	int rc = 0;

	FL_GROW(s->items, s->cap, s->len + 1);
	f = &s->items[s->len++];
	f->path = fl_arena_strndup(d->out, s->path.ptr, s->path.len);
	f->old_json = f->new_json = NULL;
	if (a && secret)
		f->old_json = FL_SECRET_TEXT;
	else if (a)
		rc = value_of(&f->old_json, d, a);
	if (!rc && b && secret)
		f->new_json = FL_SECRET_TEXT;
	else if (!rc && b)
		rc = value_of(&f->new_json, d, b);
	return rc;
}

static int diff_node(struct differ *d, const struct fl_node *a, const struct fl_node *b);

/* Diffs a and b (either may be NULL) under key, then restores the path. */
static int diff_under_key(struct differ *d, const struct fl_node *key, const struct fl_node *a,
			  const struct fl_node *b)
{
	size_t base = d->s->path.len;
	int rc = fl_spec_path_key(&d->s->path, key->v.str.ptr, key->v.str.len);

	if (!rc && a && b)
		rc = diff_node(d, a, b);
	else if (!rc)
		rc = add(d, a, b);
	fl_buf_truncate(&d->s->path, base);
	return rc;
}

static int diff_under_index(struct differ *d, size_t i, const struct fl_node *a,
			    const struct fl_node *b)
{
	size_t base = d->s->path.len;
	int rc = fl_spec_path_index(&d->s->path, i);

	if (!rc && a && b)
		rc = diff_node(d, a, b);
	else if (!rc)
		rc = add(d, a, b);
	fl_buf_truncate(&d->s->path, base);
	return rc;
}

/* Bytewise, the shorter first on a tie: the order of fl_json_canonical. */
static int compare_keys(const struct fl_node *a, const struct fl_node *b)
{
	size_t n = a->v.str.len < b->v.str.len ? a->v.str.len : b->v.str.len;
	int c = n ? memcmp(a->v.str.ptr, b->v.str.ptr, n) : 0;

	return c ? c : (a->v.str.len > b->v.str.len) - (a->v.str.len < b->v.str.len);
}

static int compare_pairs(const void *a, const void *b)
{
	return compare_keys((*(const struct fl_pair *const *)a)->key,
			    (*(const struct fl_pair *const *)b)->key);
}

/* The members of a map in key order, in the scratch arena. */
static const struct fl_pair **sorted_pairs(struct differ *d, const struct fl_node *map)
{
	size_t len = map->v.map.len;
	const struct fl_pair **p = fl_arena_calloc(&d->s->arena, len ? len : 1, sizeof(*p));
	bool in_order = true;

	for (size_t i = 0; i < len; i++) {
		p[i] = &map->v.map.items[i];
		if (i && in_order && compare_keys(p[i - 1]->key, p[i]->key) > 0)
			in_order = false;
	}
	if (!in_order)
		qsort(p, len, sizeof(*p), compare_pairs);
	return p;
}

static int diff_map(struct differ *d, const struct fl_node *a, const struct fl_node *b)
{
	const struct fl_pair **pa = sorted_pairs(d, a), **pb = sorted_pairs(d, b);
	size_t na = a->v.map.len, nb = b->v.map.len, i = 0, j = 0;
	int rc = 0;

	while (!rc && (i < na || j < nb)) {
		int c = i == na ? 1 : j == nb ? -1 : compare_keys(pa[i]->key, pb[j]->key);
		if (c < 0) {
			rc = diff_under_key(d, pa[i]->key, pa[i]->value, NULL);
			i++;
		} else if (c > 0) {
			rc = diff_under_key(d, pb[j]->key, NULL, pb[j]->value);
			j++;
		} else {
			rc = diff_under_key(d, pa[i]->key, pa[i]->value, pb[j]->value);
			i++;
			j++;
		}
	}
	return rc;
}

static int diff_seq(struct differ *d, const struct fl_node *a, const struct fl_node *b)
{
	size_t na = a->v.seq.len, nb = b->v.seq.len, n = na > nb ? na : nb;
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++)
		rc = diff_under_index(d, i, i < na ? a->v.seq.items[i] : NULL,
				      i < nb ? b->v.seq.items[i] : NULL);
	return rc;
}

static int diff_node(struct differ *d, const struct fl_node *a, const struct fl_node *b)
{
	int rc = 0;

	if (a->type != b->type)
		rc = add(d, a, b);
	else if (a->type == FL_NODE_MAP)
		rc = diff_map(d, a, b);
	else if (a->type == FL_NODE_SEQ)
		rc = diff_seq(d, a, b);
	else if (!fl_node_equal(a, b))
		rc = add(d, a, b);
	return rc;
}

/* Equal trees from different bytes: one entry for the whole spec, as given. */
static void add_formatting(struct differ *d, const char *old_json, size_t old_len,
			   const char *new_json, size_t new_len)
{
	struct fl_diff_scratch *s = d->s;
	bool secret = fl_template_path_secret(d->tpl, "");
	struct fl_field_diff *f;

	FL_GROW(s->items, s->cap, s->len + 1);
	f = &s->items[s->len++];
	f->path = fl_arena_strdup(d->out, "");
	f->old_json = secret ? FL_SECRET_TEXT : fl_arena_strndup(d->out, old_json, old_len);
	f->new_json = secret ? FL_SECRET_TEXT : fl_arena_strndup(d->out, new_json, new_len);
}

static int parse_side(struct fl_node **out, struct differ *d, const char *path, const char *json,
		      size_t len)
{
	const struct fl_source src = { path, json, len };
	return fl_json_parse(out, &d->s->arena, &src, d->err);
}


/* ---- the fast path: both sides already canonical ---- */

/*
 * Specs that flotilla rendered, and observed specs that a driver stored as
 * given, are canonical JSON already. For those, equal subtrees are equal
 * bytes and every value is its own canonical form, so the diff can walk the
 * texts without building trees. Checking that a side is canonical records
 * where each value ends (a tape, as in simdjson), so the walk never scans a
 * value twice. A side that is not canonical, or not valid, takes the tree
 * path above, which also reports errors.
 */

/* One value of a canonical text, in document order. */
struct fl_diff_extent {
	size_t end;       /* offset just past the value */
	size_t count;     /* values nested inside it */
};

/* As deep as fl_json_parse allows. */
#define CANON_MAX_DEPTH 256

/* Checks one side: its text, its tape, and a buffer to print floats in. */
struct canon {
	const char *base, *end;
	struct fl_diff_tape *tape;
	struct fl_buf *tmp;
};

/* Bytes that end a run of plain string text. */
static const bool string_special[256] = {
	[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
	[0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
	[0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
	[0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
	[0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
	[0x80] = 1, [0x81] = 1, [0x82] = 1, [0x83] = 1, [0x84] = 1, [0x85] = 1, [0x86] = 1,
	[0x87] = 1, [0x88] = 1, [0x89] = 1, [0x8a] = 1, [0x8b] = 1, [0x8c] = 1, [0x8d] = 1,
	[0x8e] = 1, [0x8f] = 1, [0x90] = 1, [0x91] = 1, [0x92] = 1, [0x93] = 1, [0x94] = 1,
	[0x95] = 1, [0x96] = 1, [0x97] = 1, [0x98] = 1, [0x99] = 1, [0x9a] = 1, [0x9b] = 1,
	[0x9c] = 1, [0x9d] = 1, [0x9e] = 1, [0x9f] = 1, [0xa0] = 1, [0xa1] = 1, [0xa2] = 1,
	[0xa3] = 1, [0xa4] = 1, [0xa5] = 1, [0xa6] = 1, [0xa7] = 1, [0xa8] = 1, [0xa9] = 1,
	[0xaa] = 1, [0xab] = 1, [0xac] = 1, [0xad] = 1, [0xae] = 1, [0xaf] = 1, [0xb0] = 1,
	[0xb1] = 1, [0xb2] = 1, [0xb3] = 1, [0xb4] = 1, [0xb5] = 1, [0xb6] = 1, [0xb7] = 1,
	[0xb8] = 1, [0xb9] = 1, [0xba] = 1, [0xbb] = 1, [0xbc] = 1, [0xbd] = 1, [0xbe] = 1,
	[0xbf] = 1, [0xc0] = 1, [0xc1] = 1, [0xc2] = 1, [0xc3] = 1, [0xc4] = 1, [0xc5] = 1,
	[0xc6] = 1, [0xc7] = 1, [0xc8] = 1, [0xc9] = 1, [0xca] = 1, [0xcb] = 1, [0xcc] = 1,
	[0xcd] = 1, [0xce] = 1, [0xcf] = 1, [0xd0] = 1, [0xd1] = 1, [0xd2] = 1, [0xd3] = 1,
	[0xd4] = 1, [0xd5] = 1, [0xd6] = 1, [0xd7] = 1, [0xd8] = 1, [0xd9] = 1, [0xda] = 1,
	[0xdb] = 1, [0xdc] = 1, [0xdd] = 1, [0xde] = 1, [0xdf] = 1, [0xe0] = 1, [0xe1] = 1,
	[0xe2] = 1, [0xe3] = 1, [0xe4] = 1, [0xe5] = 1, [0xe6] = 1, [0xe7] = 1, [0xe8] = 1,
	[0xe9] = 1, [0xea] = 1, [0xeb] = 1, [0xec] = 1, [0xed] = 1, [0xee] = 1, [0xef] = 1,
	[0xf0] = 1, [0xf1] = 1, [0xf2] = 1, [0xf3] = 1, [0xf4] = 1, [0xf5] = 1, [0xf6] = 1,
	[0xf7] = 1, [0xf8] = 1, [0xf9] = 1, [0xfa] = 1, [0xfb] = 1, [0xfc] = 1, [0xfd] = 1,
	[0xfe] = 1, [0xff] = 1,
};

static const char *canon_value(const struct canon *c, const char *p, unsigned depth);

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	bool ok = s[0] >= 0xc2 && s[0] < 0xf5 && (size_t)(end - s) >= n;

	if (s[0] == 0xe0)
		lo = 0xa0;   /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;   /* UTF-16 surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;   /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;   /* past U+10FFFF */
	ok = ok && s[1] >= lo && s[1] <= hi;
	for (size_t i = 2; ok && i < n; i++)
		ok = s[i] >= 0x80 && s[i] <= 0xbf;
	return ok ? n : 0;
}

/* Past the UTF-8 sequence at p, or NULL when it is not valid. */
static const char *utf8_step(const char *p, const char *end)
{
	size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
	return n ? p + n : NULL;
}

static bool is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The end of the canonical escape at p (a backslash), or NULL. */
static const char *canon_escape(const char *p, const char *end)
{
	static const char simple[] = "\"\\bfnrt";
	const char *q = NULL;
	unsigned v;

	if (end - p >= 2 && p[1] && strchr(simple, p[1])) {
		q = p + 2;
	} else if (end - p >= 6 && p[1] == 'u' && p[2] == '0' && p[3] == '0' && is_hex_lower(p[4]) &&
		   is_hex_lower(p[5])) {
		/* Only control characters without a short escape are written \u00XX. */
		v = (unsigned)((p[4] - '0') * 16 + (p[5] <= '9' ? p[5] - '0' : p[5] - 'a' + 10));
		if (v < 0x20 && v != '\b' && v != '\f' && v != '\n' && v != '\r' && v != '\t')
			q = p + 6;
	}
	return q;
}

/* The end of the canonical string at p (a '"'), or NULL; keys may not escape. */
static const char *canon_string(const char *p, const char *end, bool key)
{
	p++;
	while (p && p < end && *p != '"') {
		unsigned char c = (unsigned char)*p;
		if (!string_special[c])
			while (++p < end && !string_special[(unsigned char)*p])
				continue;
		else if (c < 0x20 || (c == '\\' && key))
			p = NULL;
		else if (c == '\\')
			p = canon_escape(p, end);
		else
			p = utf8_step(p, end);
	}
	return p && p < end ? p + 1 : NULL;
}

static const char *digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* A float is canonical when fl_json_put_double writes exactly its text. */
static bool canon_float(const char *p, size_t len, struct fl_buf *tmp)
{
	char text[48];
	double d;

	if (len >= sizeof(text))
		return false;
	memcpy(text, p, len);
	text[len] = '\0';
	d = strtod(text, NULL);
	fl_buf_clear(tmp);
	/* -0.0 equals 0.0 as a value but not as bytes: leave it to the tree walk. */
	return !(d == 0 && text[0] == '-') && fl_json_put_double(tmp, d) == 0 && tmp->len == len &&
	       memcmp(tmp->ptr, p, len) == 0;
}

static const char *canon_number(const struct canon *c, const char *p)
{
	const char *start = p, *int_start, *q, *end = c->end;
	bool is_float = false;

	p += *p == '-';
	int_start = p;
	q = digits(p, end);
	p = q == p || (*p == '0' && q - p > 1) ? NULL : q;
	if (p && p < end && *p == '.') {
		is_float = true;
		q = digits(p + 1, end);
		p = q == p + 1 ? NULL : q;
	}
	if (p && p < end && (*p == 'e' || *p == 'E')) {
		is_float = true;
		q = p + 1 + (p + 1 < end && (p[1] == '+' || p[1] == '-'));
		p = digits(q, end) == q ? NULL : digits(q, end);
	}
	if (p && is_float && !canon_float(start, (size_t)(p - start), c->tmp))
		p = NULL;
	/* Integers: no "-0", and short enough to be sure they fit int64. */
	if (p && !is_float && (p - int_start > 18 || (start[0] == '-' && int_start[0] == '0')))
		p = NULL;
	return p;
}

static const char *canon_literal(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static int compare_raw(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	return c ? c : (alen > blen) - (alen < blen);
}

static const char *canon_object(const struct canon *c, const char *p, unsigned depth)
{
	const char *prev = NULL, *key, *end = c->end;
	size_t prev_len = 0;
	bool closed = false;

	p++;
	if (p < end && *p == '}')
		closed = true;
	while (!closed && p && p < end && *p == '"') {
		key = p + 1;
		p = canon_string(p, end, true);
		/* Strictly increasing keys: sorted, and no duplicates. */
		if (p && prev && compare_raw(prev, prev_len, key, (size_t)(p - 1 - key)) >= 0)
			p = NULL;
		if (p) {
			prev = key;
			prev_len = (size_t)(p - 1 - key);
		}
		p = p && p < end && *p == ':' ? canon_value(c, p + 1, depth + 1) : NULL;
		closed = p && p < end && *p == '}';
		if (!closed)
			p = p && p < end && *p == ',' ? p + 1 : NULL;
	}
	return closed ? p + 1 : NULL;
}

static const char *canon_array(const struct canon *c, const char *p, unsigned depth)
{
	const char *end = c->end;
	bool closed;

	p++;
	closed = p < end && *p == ']';
	while (!closed && p && p < end) {
		p = canon_value(c, p, depth + 1);
		closed = p && p < end && *p == ']';
		if (!closed)
			p = p && p < end && *p == ',' ? p + 1 : NULL;
	}
	return closed ? p + 1 : NULL;
}

static const char *canon_scalar(const struct canon *c, const char *p)
{
	const char *q = NULL;

	switch (*p) {
	case '"': q = canon_string(p, c->end, false); break;
	case 't': q = canon_literal(p, c->end, "true"); break;
	case 'f': q = canon_literal(p, c->end, "false"); break;
	case 'n': q = canon_literal(p, c->end, "null"); break;
	default:
		if (*p == '-' || (*p >= '0' && *p <= '9'))
			q = canon_number(c, p);
		break;
	}
	return q;
}

/* The end of the canonical value at p, or NULL; records it on the tape. */
static const char *canon_value(const struct canon *c, const char *p, unsigned depth)
{
	struct fl_diff_tape *t = c->tape;
	size_t k = t->len;
	const char *q;

	if (p >= c->end || depth >= CANON_MAX_DEPTH)
		return NULL;
	if (t->len == t->cap)
		FL_GROW(t->items, t->cap, t->len + 1);
	t->len++;
	if (*p == '{')
		q = canon_object(c, p, depth);
	else if (*p == '[')
		q = canon_array(c, p, depth);
	else
		q = canon_scalar(c, p);
	if (q) {
		t->items[k].end = (size_t)(q - c->base);
		t->items[k].count = t->len - k - 1;
	}
	return q;
}

static bool is_canonical(struct fl_diff_tape *tape, const char *json, size_t len,
			 struct fl_buf *tmp)
{
	const struct canon c = { json, json + len, tape, tmp };

	tape->len = 0;
	return canon_value(&c, json, 0) == json + len;
}

/* A value of one side: its text and its place on that side's tape. */
struct span {
	const char *p;
	size_t len;
	size_t idx;
};

/* One side of the walk: its text and tape. */
struct side {
	const char *base;
	const struct fl_diff_extent *tape;
};

static int add_span(struct differ *d, const struct span *a, const struct span *b)
{
	struct fl_diff_scratch *s = d->s;
	bool secret = fl_template_path_secret(d->tpl, s->path.ptr);
	struct fl_field_diff *f;

	FL_GROW(s->items, s->cap, s->len + 1);
	f = &s->items[s->len++];
	f->path = fl_arena_strndup(d->out, s->path.ptr, s->path.len);
	f->old_json = !a ? NULL : secret ? FL_SECRET_TEXT : fl_arena_strndup(d->out, a->p, a->len);
	f->new_json = !b ? NULL : secret ? FL_SECRET_TEXT : fl_arena_strndup(d->out, b->p, b->len);
	return 0;
}

/* The value at p with tape index idx; returns what follows it. */
static const char *take_value(const struct side *side, const char *p, size_t idx, struct span *out)
{
	const struct fl_diff_extent *e = &side->tape[idx];

	out->p = p;
	out->len = (size_t)(side->base + e->end - p);
	out->idx = idx;
	return side->base + e->end;
}

/* The items of a container, one at a time; members of objects come with keys. */
struct cursor {
	const struct side *side;
	const char *p;          /* the next key or item, or the closing bracket */
	size_t next;            /* tape index of the next value */
	bool keys;              /* an object: each value comes after a key */
	bool done;
	struct span key, value;
};

static void cursor_start(struct cursor *c, const struct side *side, const struct span *container)
{
	c->side = side;
	c->p = container->p + 1;
	c->next = container->idx + 1;
	c->keys = container->p[0] == '{';
}

/* Takes the key (in an object) and the value at q, which is not the end. */
static void cursor_take(struct cursor *c, const char *q)
{
	if (c->keys) {
		/* An object member: canonical keys have no escapes. */
		c->key.p = ++q;
		while (*q != '"')
			q++;
		c->key.len = (size_t)(q - c->key.p);
		q += 2;
	}
	q = take_value(c->side, q, c->next, &c->value);
	c->next += 1 + c->side->tape[c->value.idx].count;
	c->p = *q == ',' ? q + 1 : q;
}

static void cursor_next(struct cursor *c)
{
	const char *q = c->p;

	c->done = *q == '}' || *q == ']';
	if (!c->done)
		cursor_take(c, q);
}

static int walk(struct differ *d, const struct side *sides, const struct span *a,
		const struct span *b);

static int walk_key(struct differ *d, const struct side *sides, const struct span *key,
		    const struct span *a, const struct span *b)
{
	size_t base = d->s->path.len;
	int rc = fl_spec_path_key(&d->s->path, key->p, key->len);

	if (!rc)
		rc = a && b ? walk(d, sides, a, b) : add_span(d, a, b);
	fl_buf_truncate(&d->s->path, base);
	return rc;
}

static int walk_object(struct differ *d, const struct side *sides, const struct span *a,
		       const struct span *b)
{
	struct cursor ca = { 0 }, cb = { 0 };
	int rc = 0;

	cursor_start(&ca, &sides[0], a);
	cursor_start(&cb, &sides[1], b);
	cursor_next(&ca);
	cursor_next(&cb);
	while (!rc && (!ca.done || !cb.done)) {
		int c = ca.done ? 1 : cb.done ? -1 :
			compare_raw(ca.key.p, ca.key.len, cb.key.p, cb.key.len);
		if (c <= 0)
			rc = walk_key(d, sides, &ca.key, &ca.value, c == 0 ? &cb.value : NULL);
		else
			rc = walk_key(d, sides, &cb.key, NULL, &cb.value);
		if (c <= 0)
			cursor_next(&ca);
		if (c >= 0)
			cursor_next(&cb);
	}
	return rc;
}

static int walk_array(struct differ *d, const struct side *sides, const struct span *a,
		      const struct span *b)
{
	struct cursor ca = { 0 }, cb = { 0 };
	size_t base = d->s->path.len;
	int rc = 0;

	cursor_start(&ca, &sides[0], a);
	cursor_start(&cb, &sides[1], b);
	cursor_next(&ca);
	cursor_next(&cb);
	for (size_t i = 0; !rc && (!ca.done || !cb.done); i++) {
		rc = fl_spec_path_index(&d->s->path, i);
		if (!rc)
			rc = !ca.done && !cb.done ? walk(d, sides, &ca.value, &cb.value)
				: add_span(d, ca.done ? NULL : &ca.value, cb.done ? NULL : &cb.value);
		fl_buf_truncate(&d->s->path, base);
		if (!ca.done)
			cursor_next(&ca);
		if (!cb.done)
			cursor_next(&cb);
	}
	return rc;
}

/* Equal canonical texts are equal values; so are only those. */
static int walk(struct differ *d, const struct side *sides, const struct span *a,
		const struct span *b)
{
	int rc = 0;

	if (a->len == b->len && memcmp(a->p, b->p, a->len) == 0)
		rc = 0;
	else if (a->p[0] == '{' && b->p[0] == '{')
		rc = walk_object(d, sides, a, b);
	else if (a->p[0] == '[' && b->p[0] == '[')
		rc = walk_array(d, sides, a, b);
	else
		rc = add_span(d, a, b);
	return rc;
}

/* Diffs two sides that is_canonical has just recorded on the scratch tapes. */
static int walk_texts(struct differ *d, const char *old_json, size_t old_len,
		      const char *new_json, size_t new_len)
{
	const struct side sides[2] = { { old_json, d->s->tapes[0].items },
				       { new_json, d->s->tapes[1].items } };
	const struct span a = { old_json, old_len, 0 }, b = { new_json, new_len, 0 };

	return walk(d, sides, &a, &b);
}

static int diff_trees(struct differ *d, const char *old_json, size_t old_len,
		      const char *new_json, size_t new_len)
{
	struct fl_node *a = NULL, *b = NULL;
	int rc = parse_side(&a, d, "<observed>", old_json, old_len);

	if (!rc)
		rc = parse_side(&b, d, "<desired>", new_json, new_len);
	if (!rc)
		rc = diff_node(d, a, b);
	if (!rc && d->s->len == 0)
		add_formatting(d, old_json, old_len, new_json, new_len);
	return rc;
}

static int diff_texts(struct differ *d, const char *old_json, size_t old_len,
		      const char *new_json, size_t new_len)
{
	int rc;

	if (is_canonical(&d->s->tapes[0], old_json, old_len, &d->s->value) &&
	    is_canonical(&d->s->tapes[1], new_json, new_len, &d->s->value))
		rc = walk_texts(d, old_json, old_len, new_json, new_len);
	else
		rc = diff_trees(d, old_json, old_len, new_json, new_len);
	return rc;
}

int fl_diff_specs_scratch(struct fl_diff_scratch *scratch, struct fl_field_diff **out, size_t *nout,
			  struct fl_arena *arena, const char *old_json, size_t old_len,
			  const char *new_json, size_t new_len, const struct fl_template *tpl,
			  struct fl_error *err)
{
	struct differ d = { scratch, arena, tpl, err };
	int rc = 0;

	*out = NULL;
	*nout = 0;
	scratch->len = 0;
	fl_buf_clear(&scratch->path);
	if (!old_json || !new_json ||
	    (old_len == new_len && memcmp(old_json, new_json, old_len) == 0))
		goto out;
	rc = diff_texts(&d, old_json, old_len, new_json, new_len);
	if (rc || !scratch->len)
		goto out;
	*out = fl_arena_calloc(arena, scratch->len, sizeof(**out));
	memcpy(*out, scratch->items, scratch->len * sizeof(**out));
	*nout = scratch->len;
out:
	fl_arena_release(&scratch->arena);
	return rc;
}

int fl_diff_specs(struct fl_field_diff **out, size_t *nout, struct fl_arena *arena,
		  const char *old_json, size_t old_len, const char *new_json, size_t new_len,
		  const struct fl_template *tpl, struct fl_error *err)
{
	struct fl_diff_scratch scratch;
	int rc;

	fl_diff_scratch_init(&scratch);
	rc = fl_diff_specs_scratch(&scratch, out, nout, arena, old_json, old_len, new_json, new_len,
				   tpl, err);
	fl_diff_scratch_release(&scratch);
	return rc;
}
