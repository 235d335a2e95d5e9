/*
 * The flat YAML reader, a fast path of fl_yaml_load_one for the shape of
 * nearly every tenant manifest: one block mapping of `key: value` lines at
 * column 1, each value a plain or double-quoted scalar, or a flow sequence
 * or mapping of such scalars on the same line:
 *
 *     name: acme
 *     account: "123456789012"
 *     regions: [us-east-1, eu-west-1]
 *     vars: { display_name: "Acme Corp", seats: 40 }
 *
 * libyaml spends most of a converged plan's parsing on such files (its
 * per-file set-up and an allocation per token). This builds the tree that
 * yaml.c builds from libyaml's events, node for node and position for
 * position, and declines (FL_YAML_NOT_FLAT) everything else: any byte but
 * printable ASCII and newlines, comments, escapes, anchors, tags, block
 * scalars, nesting beyond one flow collection, trailing spaces, repeated
 * keys, scalars that would not type, and whatever would be an error.
 * yaml.c then reads the file as it always did, so an error is always
 * libyaml's. tests/core/test_yaml.c holds the two readers to the same trees.
 */
#include "core/yaml_internal.h"

#include <stdint.h>
#include <string.h>

#include "core/banned.h"

/* Pairs of the top mapping and items of one flow collection: more go to libyaml. */
#define FLAT_MAX 64
/* Far below libyaml's 1,024 characters between a simple key's start and its ':'. */
#define FLAT_KEY_MAX 128

struct flat {
	const char *text, *p, *end;
	const char *line_start;
	size_t line;            /* 0-based */
	struct fl_arena *arena;
	size_t nodes, max_nodes;
};

/* The classes a byte is in: bits of the table below. */
enum {
	KEY_FIRST = 1,   /* may start a key */
	KEY = 2,         /* may follow in a key */
	PLAIN_FIRST = 4, /* may start a plain scalar: no indicator of YAML's and no '-' */
	PLAIN = 8,       /* may follow in a plain scalar */
	QUOTED = 16,     /* may stand between double quotes: no escape, no newline */
};

#define W (KEY_FIRST | KEY | PLAIN_FIRST | PLAIN | QUOTED) /* letters, digits and '_' */
#define H (KEY | PLAIN | QUOTED)                           /* '-' */
#define S (PLAIN_FIRST | PLAIN | QUOTED)                   /* '+', '.' and '/' */
#define E (PLAIN | QUOTED)                                 /* '=' */
#define Q QUOTED

/*
 * Only printable ASCII is in a class. Each byte of a file the reader takes
 * is a newline, the printable one a comparison asked for (':', ' ', ',',
 * a bracket, a quote) or one in the class asked for: so the file holds
 * printable ASCII and newlines only, and a column is a byte, as libyaml
 * counts characters.
 */
static const unsigned char classes[256] = {
	/*       sp !  "  #  $  %  &  '  (  )  *  +  ,  -  .  / */
	[0x20] = Q, Q, 0, Q, Q, Q, Q, Q, Q, Q, Q, S, Q, H, S, S,
	/*       0  1  2  3  4  5  6  7  8  9  :  ;  <  =  >  ? */
	[0x30] = W, W, W, W, W, W, W, W, W, W, Q, Q, Q, E, Q, Q,
	/*       @  A  B  C  D  E  F  G  H  I  J  K  L  M  N  O */
	[0x40] = Q, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	/*       P  Q  R  S  T  U  V  W  X  Y  Z  [  \  ]  ^  _ */
	[0x50] = W, W, W, W, W, W, W, W, W, W, W, Q, 0, Q, Q, W,
	/*       `  a  b  c  d  e  f  g  h  i  j  k  l  m  n  o */
	[0x60] = Q, W, W, W, W, W, W, W, W, W, W, W, W, W, W, W,
	/*       p  q  r  s  t  u  v  w  x  y  z  {  |  }  ~  DEL */
	[0x70] = W, W, W, W, W, W, W, W, W, W, W, Q, Q, Q, Q, 0,
};

#undef W
#undef H
#undef S
#undef E
#undef Q

static bool is(char c, unsigned class)
{
	return classes[(unsigned char)c] & class;
}

/* A node at at, zeroed, with extra bytes after it for the caller. */
static struct fl_node *new_node(struct flat *f, enum fl_node_type type, const char *at, size_t extra)
{
	struct fl_node *n = fl_arena_alloc(f->arena, sizeof(*n) + extra);
	n->type = type;
	n->line = (uint32_t)f->line + 1;
	n->col = (uint32_t)(at - f->line_start) + 1;
	f->nodes++;
	return n;
}

/* A string node at at with a copy of s, in one allocation (the arena's zeroes end the copy). */
static struct fl_node *new_str(struct flat *f, const char *at, const char *s, size_t len)
{
	struct fl_node *n = new_node(f, FL_NODE_STR, at, len + 1);
	n->v.str.ptr = memcpy(n + 1, s, len);
	n->v.str.len = len;
	return n;
}

static void skip_spaces(struct flat *f)
{
	while (f->p < f->end && *f->p == ' ')
		f->p++;
}

/* A key: key characters, then ':' and at least one space. */
static struct fl_node *key(struct flat *f)
{
	const char *start = f->p;
	if (f->p == f->end || !is(*f->p, KEY_FIRST))
		return NULL;
	while (f->p < f->end && is(*f->p, KEY))
		f->p++;
	if (f->p - start > FLAT_KEY_MAX || f->end - f->p < 2 || f->p[0] != ':' || f->p[1] != ' ')
		return NULL;
	struct fl_node *n = new_str(f, start, start, (size_t)(f->p - start));
	f->p += 2;
	skip_spaces(f);
	return n;
}

/* A plain scalar (single spaces inside), typed; or a double-quoted one without escapes. */
static struct fl_node *scalar(struct flat *f)
{
	const char *start = f->p;
	if (f->p < f->end && *f->p == '"') {
		const char *q = ++f->p;
		while (f->p < f->end && is(*f->p, QUOTED))
			f->p++;
		if (f->p == f->end || *f->p != '"')
			return NULL;
		struct fl_node *n = new_str(f, start, q, (size_t)(f->p - q));
		n->quoted = true;
		f->p++;
		return n;
	}
	if (f->p == f->end || !is(*f->p, PLAIN_FIRST))
		return NULL;
	while (f->p < f->end && (is(*f->p, PLAIN) || (*f->p == ' ' && f->p + 1 < f->end && is(f->p[1], PLAIN))))
		f->p++;
	struct fl_node *n = new_str(f, start, start, (size_t)(f->p - start));
	return fl_yaml_type_plain(n, n->v.str.ptr, n->v.str.len) ? n : NULL;
}

static bool same_key(const struct fl_node *a, const struct fl_node *b)
{
	return a->v.str.len == b->v.str.len && memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0;
}

static bool repeated(const struct fl_pair *pairs, size_t n, const struct fl_node *k)
{
	for (size_t i = 0; i < n; i++)
		if (same_key(pairs[i].key, k))
			return true;
	return false;
}

/* After an item of a flow collection: spaces, then ',' (more follow) or close. */
static bool flow_next(struct flat *f, char close, bool *more)
{
	skip_spaces(f);
	if (f->p < f->end && *f->p == ',') {
		f->p++;
		skip_spaces(f);
		*more = true;
		return f->p < f->end && *f->p != close;
	}
	*more = false;
	return f->p < f->end && *f->p == close;
}

/*
 * A sequence or mapping node at at, its n items (node pointers or pairs,
 * size bytes each) copied after it in the same allocation.
 */
static struct fl_node *new_collection(struct flat *f, enum fl_node_type type, const char *at, const void *items,
				      size_t n, size_t size)
{
	struct fl_node *c = new_node(f, type, at, n * size);
	void *copy = n ? memcpy(c + 1, items, n * size) : NULL;
	if (type == FL_NODE_SEQ) {
		c->v.seq.items = copy;
		c->v.seq.len = n;
	} else {
		c->v.map.items = copy;
		c->v.map.len = n;
	}
	return c;
}

static struct fl_node *flow_seq(struct flat *f)
{
	struct fl_node *items[FLAT_MAX];
	size_t n = 0;
	bool more = true;
	const char *at = f->p++;
	skip_spaces(f);
	if (f->p < f->end && *f->p == ']')
		more = false;
	while (more) {
		if (n == FLAT_MAX || !(items[n++] = scalar(f)) || !flow_next(f, ']', &more))
			return NULL;
	}
	f->p++;
	return new_collection(f, FL_NODE_SEQ, at, items, n, sizeof(*items));
}

static struct fl_node *flow_map(struct flat *f)
{
	struct fl_pair pairs[FLAT_MAX];
	size_t n = 0;
	bool more = true;
	const char *at = f->p++;
	skip_spaces(f);
	if (f->p < f->end && *f->p == '}')
		more = false;
	while (more) {
		if (n == FLAT_MAX || !(pairs[n].key = key(f)) || repeated(pairs, n, pairs[n].key) ||
		    !(pairs[n].value = scalar(f)) || !flow_next(f, '}', &more))
			return NULL;
		n++;
	}
	f->p++;
	return new_collection(f, FL_NODE_MAP, at, pairs, n, sizeof(*pairs));
}

static struct fl_node *value(struct flat *f)
{
	if (f->p < f->end && *f->p == '[')
		return flow_seq(f);
	if (f->p < f->end && *f->p == '{')
		return flow_map(f);
	return scalar(f);
}

int fl_yaml_load_flat(struct fl_node **out, struct fl_arena *arena, const struct fl_source *src,
		      const struct fl_yaml_limits *limits)
{
	static const struct fl_yaml_limits defaults = FL_YAML_LIMITS_DEFAULT;
	const struct fl_yaml_limits *lim = limits ? limits : &defaults;
	struct fl_pair pairs[FLAT_MAX];
	size_t n = 0;
	struct flat f = { src->text, src->text, src->text + src->len, src->text, 0, arena, 0, 0 };
	size_t first_line = 0;
	struct fl_node *map;

	if (!src->text || src->len > lim->max_bytes || lim->max_depth < 2)
		return FL_YAML_NOT_FLAT;
	for (; f.p < f.end; f.line++, f.line_start = ++f.p) {
		if (*f.p == '\n')
			continue;
		if (n == 0)
			first_line = f.line;
		if (n == FLAT_MAX || !(pairs[n].key = key(&f)) || repeated(pairs, n, pairs[n].key) ||
		    !(pairs[n].value = value(&f)) || (f.p < f.end && *f.p != '\n'))
			return FL_YAML_NOT_FLAT;
		n++;
	}
	if (n == 0)
		return FL_YAML_NOT_FLAT;
	/* Made last, so that its pairs go in the same allocation: it stands at its first key, in column 1. */
	map = new_collection(&f, FL_NODE_MAP, f.line_start, pairs, n, sizeof(*pairs));
	map->line = (uint32_t)first_line + 1;
	if (f.nodes > lim->max_nodes)
		return FL_YAML_NOT_FLAT;
	*out = map;
	return 0;
}
