/*
 * The YAML loader: libyaml's event stream folded into the node tree of
 * node.h, scalars typed by the YAML 1.2 core schema, aliases shared (a DAG,
 * not copies) but counted as if expanded so that alias bombs hit a limit.
 * This is the only file that includes libyaml; its errors are translated here.
 */
#include "core/yaml.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/yaml_internal.h"
#include "core/banned.h"

#define TAG_STR "tag:yaml.org,2002:str"

/* A mapping with more keys than this checks duplicates through the hash table. */
#define LINEAR_KEYS 8

/* A sequence or mapping being read; its children sit on loader.items from base. */
struct frame {
	struct fl_node *node;
	size_t base;
	size_t count;      /* nodes in this subtree so far, aliases expanded */
	size_t id;         /* tells this mapping's keys apart in the key table */
	size_t anchor;     /* 1 + offset of its anchor name in loader.names, or 0 */
	size_t anchor_len;
	bool hashed;       /* its keys are in the key table */
};

/* A completed anchored node; names and raw scalar text live in loader.names. */
struct anchor {
	size_t name, name_len;
	size_t text, text_len;   /* a scalar's source text, for use as a key */
	struct fl_node *node;
	size_t count;            /* nodes in its subtree, aliases expanded */
};

struct keyslot {
	const struct fl_node *key;   /* NULL: empty slot */
	size_t id;                   /* the frame the key belongs to */
};

struct loader {
	struct fl_arena *arena;
	const struct fl_source *src;
	struct fl_yaml_limits limits;
	struct fl_error *err;

	struct frame *frames;
	size_t nframes, frames_cap;
	struct fl_node **items;      /* children of every open collection */
	size_t nitems, items_cap;
	struct anchor *anchors;      /* of the current document only */
	size_t nanchors, anchors_cap;
	struct fl_buf names;
	struct keyslot *keys;        /* open addressing, power-of-two size */
	size_t nkeys, keys_cap;
	struct fl_node **docs;
	size_t ndocs, docs_cap;

	struct fl_node *root;        /* of the current document */
	size_t next_id;
	size_t total;                /* nodes in the file, aliases expanded */
	size_t naliases;
	size_t nchars;               /* characters in src; SIZE_MAX until counted */
};

static uint32_t pos(size_t zero_based)
{
	return zero_based >= UINT32_MAX ? UINT32_MAX : (uint32_t)zero_based + 1;
}

/* 1-based line and column (in characters, as libyaml counts) of a byte offset. */
static void offset_position(const struct fl_source *src, size_t offset, uint32_t *line, uint32_t *col)
{
	size_t l = 0, c = 0;
	for (size_t i = 0; i < offset && i < src->len; i++) {
		unsigned char ch = (unsigned char)src->text[i];
		if (ch == '\n') {
			l++;
			c = 0;
		} else if ((ch & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = pos(l);
	*col = pos(c);
}

/*
 * The 1-based position of a libyaml mark. At the end of input libyaml moves
 * to a line past the last; such marks point just after the last text instead,
 * so that an error shows the line it is about.
 */
static void mark_position(struct loader *ld, const yaml_mark_t *mark, uint32_t *line, uint32_t *col)
{
	if (mark->column == 0 && mark->line > 0) {
		const struct fl_source *src = ld->src;
		if (ld->nchars == SIZE_MAX) {
			ld->nchars = 0;
			for (size_t i = 0; i < src->len; i++)
				ld->nchars += ((unsigned char)src->text[i] & 0xc0) != 0x80;
		}
		if (mark->index >= ld->nchars) {
			size_t end = src->len;
			while (end > 0 && (src->text[end - 1] == ' ' || src->text[end - 1] == '\t' ||
					   src->text[end - 1] == '\r' || src->text[end - 1] == '\n'))
				end--;
			offset_position(src, end, line, col);
			return;
		}
	}
	*line = pos(mark->line);
	*col = pos(mark->column);
}

static int error_at(struct loader *ld, int code, const yaml_mark_t *mark, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int error_at(struct loader *ld, int code, const yaml_mark_t *mark, const char *fmt, ...)
{
	char msg[FL_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	uint32_t line, col;
	mark_position(ld, mark, &line, &col);
	return fl_error_set_at(ld->err, code, ld->src, line, col, "%s", msg);
}

static int parser_error(struct loader *ld, const yaml_parser_t *parser)
{
	uint32_t line, col;
	switch (parser->error) {
	case YAML_READER_ERROR:
		offset_position(ld->src, parser->problem_offset, &line, &col);
		if (parser->problem_value != -1)
			return fl_error_set_at(ld->err, FL_EINPUT, ld->src, line, col, "%s (0x%X)",
					       parser->problem, (unsigned)parser->problem_value);
		return fl_error_set_at(ld->err, FL_EINPUT, ld->src, line, col, "%s", parser->problem);
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		if (parser->context)
			return error_at(ld, FL_EINPUT, &parser->problem_mark, "%s (%s)",
					parser->problem, parser->context);
		return error_at(ld, FL_EINPUT, &parser->problem_mark, "%s",
				parser->problem ? parser->problem : "invalid YAML");
	case YAML_MEMORY_ERROR:
		return fl_error_set(ld->err, FL_EINTERNAL, "out of memory parsing YAML");
	default:
		return fl_error_set(ld->err, FL_EINTERNAL, "libyaml failed without saying why");
	}
}

/* Adds n nodes to the file's total; from_alias picks the message. */
static int count_nodes(struct loader *ld, size_t n, const yaml_mark_t *mark, bool from_alias)
{
	/* total never exceeds max_nodes, so the subtraction cannot wrap. */
	if (n > ld->limits.max_nodes - ld->total) {
		if (from_alias)
			return error_at(ld, FL_ELIMIT, mark, "alias expansion exceeds %zu nodes",
					ld->limits.max_nodes);
		return error_at(ld, FL_ELIMIT, mark, "file has more than %zu nodes", ld->limits.max_nodes);
	}
	ld->total += n;
	return 0;
}

static struct fl_node *new_node(struct loader *ld, enum fl_node_type type, const yaml_mark_t *mark)
{
	struct fl_node *n = fl_arena_alloc(ld->arena, sizeof(*n));
	n->type = type;
	mark_position(ld, mark, &n->line, &n->col);
	return n;
}

static size_t save_name(struct loader *ld, const void *s, size_t len)
{
	size_t off = ld->names.len;
	fl_buf_put(&ld->names, s, len); /* no maximum: cannot fail */
	return off;
}

static const char *name_at(const struct loader *ld, size_t off)
{
	return ld->names.ptr + off;
}

/* ---- scalar typing, YAML 1.2 core schema ---- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_octal(char c) { return c >= '0' && c <= '7'; }
static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static unsigned hex_value(char c)
{
	if (is_digit(c))
		return (unsigned)(c - '0');
	return (unsigned)((c | 0x20) - 'a' + 10);
}

static bool equals(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

static bool one_of(const char *s, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (equals(s, len, *words))
			return true;
	return false;
}

/* s[i..len) is not empty and all in the class. */
static bool all_of(const char *s, size_t i, size_t len, bool (*cls)(char))
{
	if (i >= len)
		return false;
	for (; i < len; i++)
		if (!cls(s[i]))
			return false;
	return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_float_syntax(const char *s, size_t len)
{
	size_t i = 0, digits = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < len && is_digit(s[i]))
		i++, digits++;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && is_digit(s[i]))
			i++, digits++;
	}
	if (digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		if (!all_of(s, i, len, is_digit))
			return false;
		i = len;
	}
	return i == len;
}

/* Sets *out to s[start..len) in the given base; false on int64 overflow. */
static bool parse_uint(const char *s, size_t start, size_t len, unsigned base, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = start; i < len; i++) {
		unsigned d = hex_value(s[i]);
		if (v > (max - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

static const char *const null_words[] = { "null", "Null", "NULL", "~", NULL };
static const char *const true_words[] = { "true", "True", "TRUE", NULL };
static const char *const false_words[] = { "false", "False", "FALSE", NULL };

/* Whether a plain scalar starting with c may be typed: nulls, bools, numbers, .inf and .nan start so. */
static bool may_be_typed(char c)
{
	return (c >= '0' && c <= '9') || c == '~' || c == 'n' || c == 'N' || c == 't' || c == 'T' || c == 'f' ||
	       c == 'F' || c == '.' || c == '+' || c == '-';
}

static void type_string(struct fl_node *n, char *s, size_t len)
{
	n->type = FL_NODE_STR;
	n->v.str.ptr = s;
	n->v.str.len = len;
}

bool fl_yaml_type_plain(struct fl_node *n, char *s, size_t len)
{
	uint64_t u;

	/* Most values are names and words: one look at the first byte settles them. */
	if (len && !may_be_typed(s[0])) {
		type_string(n, s, len);
		return true;
	}
	if (len == 0 || one_of(s, len, null_words)) {
		n->type = FL_NODE_NULL;
		return true;
	}
	if (one_of(s, len, true_words) || one_of(s, len, false_words)) {
		n->type = FL_NODE_BOOL;
		n->v.b = s[0] == 't' || s[0] == 'T';
		return true;
	}
	if (len > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
		bool hex = s[1] == 'x';
		if (all_of(s, 2, len, hex ? is_hex : is_octal)) {
			if (!parse_uint(s, 2, len, hex ? 16 : 8, INT64_MAX, &u))
				return false;
			n->type = FL_NODE_INT;
			n->v.i = (int64_t)u;
			return true;
		}
	}
	size_t start = (s[0] == '-' || s[0] == '+') ? 1 : 0;
	if (all_of(s, start, len, is_digit)) {
		bool neg = s[0] == '-';
		if (!parse_uint(s, start, len, 10, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &u))
			return false;
		n->type = FL_NODE_INT;
		/* -(INT64_MAX + 1) is computed without overflowing an int64. */
		n->v.i = neg ? (u ? -(int64_t)(u - 1) - 1 : 0) : (int64_t)u;
		return true;
	}
	const char *f = s + start;
	size_t flen = len - start;
	if (equals(f, flen, ".inf") || equals(f, flen, ".Inf") || equals(f, flen, ".INF")) {
		n->type = FL_NODE_FLOAT;
		n->v.f = s[0] == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (equals(s, len, ".nan") || equals(s, len, ".NaN") || equals(s, len, ".NAN")) {
		n->type = FL_NODE_FLOAT;
		n->v.f = NAN;
		return true;
	}
	if (is_float_syntax(s, len)) {
		n->type = FL_NODE_FLOAT;
		n->v.f = strtod(s, NULL); /* overflow gives inf, which JSON rejects later */
		return true;
	}
	type_string(n, s, len);
	return true;
}

/* Types a plain scalar; only fails for integers out of range. */
static int type_plain(struct loader *ld, struct fl_node *n, const char *s, size_t len,
		      const yaml_mark_t *mark)
{
	/* The copy is the string's text, should the scalar be one (most are). */
	if (!fl_yaml_type_plain(n, fl_arena_strndup(ld->arena, s, len), len))
		return error_at(ld, FL_EINPUT, mark, "integer out of range");
	return 0;
}

/* ---- duplicate keys ---- */

static uint64_t key_hash(const char *s, size_t len, size_t id)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)id * 0x9e3779b97f4a7c15ULL);
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

static bool same_key(const struct fl_node *a, const struct fl_node *b)
{
	return a->v.str.len == b->v.str.len && memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0;
}

/* Finds key among the frame's keys in the table, or inserts it and returns NULL. */
static const struct fl_node *key_table_add(struct loader *ld, const struct fl_node *key, size_t id)
{
	if ((ld->nkeys + 1) * 2 > ld->keys_cap) {
		size_t ncap = ld->keys_cap ? ld->keys_cap * 2 : 64;
		struct keyslot *old = ld->keys;
		size_t ocap = ld->keys_cap;
		ld->keys = fl_calloc(ncap, sizeof(*ld->keys));
		ld->keys_cap = ncap;
		for (size_t i = 0; i < ocap; i++) {
			if (!old[i].key)
				continue;
			size_t j = key_hash(old[i].key->v.str.ptr, old[i].key->v.str.len, old[i].id) & (ncap - 1);
			while (ld->keys[j].key)
				j = (j + 1) & (ncap - 1);
			ld->keys[j] = old[i];
		}
		free(old);
	}
	size_t mask = ld->keys_cap - 1;
	size_t j = key_hash(key->v.str.ptr, key->v.str.len, id) & mask;
	for (; ld->keys[j].key; j = (j + 1) & mask)
		if (ld->keys[j].id == id && same_key(ld->keys[j].key, key))
			return ld->keys[j].key;
	ld->keys[j].key = key;
	ld->keys[j].id = id;
	ld->nkeys++;
	return NULL;
}

/* The earlier key equal to key in the mapping being read, or NULL. */
static const struct fl_node *find_duplicate(struct loader *ld, struct frame *f, const struct fl_node *key)
{
	size_t nkeys = (ld->nitems - f->base) / 2;
	if (!f->hashed && nkeys < LINEAR_KEYS) {
		for (size_t i = f->base; i < ld->nitems; i += 2)
			if (same_key(ld->items[i], key))
				return ld->items[i];
		return NULL;
	}
	if (!f->hashed) {
		/* Large mappings switch to the table, so 100,000 keys cost no 10^10 compares. */
		for (size_t i = f->base; i < ld->nitems; i += 2)
			key_table_add(ld, ld->items[i], f->id);
		f->hashed = true;
	}
	return key_table_add(ld, key, f->id);
}

/* ---- the tree ---- */

/* Hangs a finished node (count nodes, aliases expanded) under the open collection. */
static int attach(struct loader *ld, struct fl_node *n, size_t count)
{
	if (ld->nframes == 0) {
		ld->root = n;
		return 0;
	}
	struct frame *f = &ld->frames[ld->nframes - 1];
	if (f->node->type == FL_NODE_MAP && (ld->nitems - f->base) % 2 == 0) {
		const struct fl_node *first = find_duplicate(ld, f, n);
		if (first)
			return fl_error_set_at(ld->err, FL_EINPUT, ld->src, n->line, n->col,
					       "duplicate key '%s' (first at line %u)",
					       n->v.str.ptr, (unsigned)first->line);
	}
	FL_GROW(ld->items, ld->items_cap, ld->nitems + 1);
	ld->items[ld->nitems++] = n;
	f->count += count;
	return 0;
}

static bool expecting_key(const struct loader *ld)
{
	if (ld->nframes == 0)
		return false;
	const struct frame *f = &ld->frames[ld->nframes - 1];
	return f->node->type == FL_NODE_MAP && (ld->nitems - f->base) % 2 == 0;
}

static int check_tag(struct loader *ld, const yaml_char_t *tag, const yaml_mark_t *mark, bool *is_str)
{
	*is_str = false;
	if (!tag)
		return 0;
	if (strcmp((const char *)tag, TAG_STR) == 0) {
		*is_str = true;
		return 0;
	}
	return error_at(ld, FL_EINPUT, mark, "tags are not supported");
}

static void add_anchor(struct loader *ld, size_t name, size_t name_len, struct fl_node *n, size_t count,
		       const char *text, size_t text_len)
{
	FL_GROW(ld->anchors, ld->anchors_cap, ld->nanchors + 1);
	struct anchor *a = &ld->anchors[ld->nanchors++];
	a->name = name;
	a->name_len = name_len;
	a->node = n;
	a->count = count;
	a->text = text ? save_name(ld, text, text_len) : 0;
	a->text_len = text_len;
}

static int on_scalar(struct loader *ld, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const yaml_mark_t *mark = &ev->start_mark;
	bool forced_str, key = expecting_key(ld);
	int rc;

	if ((rc = check_tag(ld, ev->data.scalar.tag, mark, &forced_str)) < 0)
		return rc;
	if ((rc = count_nodes(ld, 1, mark, false)) < 0)
		return rc;
	if (memchr(s, '\0', len))
		return error_at(ld, FL_EINPUT, mark, "strings must not contain NUL characters");

	struct fl_node *n = new_node(ld, FL_NODE_STR, mark);
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	if (!n->quoted && !forced_str && !key) {
		if ((rc = type_plain(ld, n, s, len, mark)) < 0)
			return rc;
	} else {
		n->v.str.ptr = fl_arena_strndup(ld->arena, s, len);
		n->v.str.len = len;
	}
	if (ev->data.scalar.anchor) {
		const char *name = (const char *)ev->data.scalar.anchor;
		size_t name_len = strlen(name);
		size_t off = save_name(ld, name, name_len);
		/* Non-strings keep their text, should an alias of them be used as a key. */
		add_anchor(ld, off, name_len, n, 1, n->type == FL_NODE_STR ? NULL : s,
			   n->type == FL_NODE_STR ? 0 : len);
	}
	return attach(ld, n, 1);
}

static int on_alias(struct loader *ld, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t name_len = strlen(name);
	const yaml_mark_t *mark = &ev->start_mark;
	const struct anchor *a = NULL;
	int rc;

	if (++ld->naliases > ld->limits.max_aliases)
		return error_at(ld, FL_ELIMIT, mark, "more than %u aliases", ld->limits.max_aliases);
	for (size_t i = ld->nanchors; i-- > 0;) {
		const struct anchor *c = &ld->anchors[i];
		if (c->name_len == name_len && memcmp(name_at(ld, c->name), name, name_len) == 0) {
			a = c;
			break;
		}
	}
	if (!a) {
		for (size_t i = 0; i < ld->nframes; i++) {
			const struct frame *f = &ld->frames[i];
			if (f->anchor && f->anchor_len == name_len &&
			    memcmp(name_at(ld, f->anchor - 1), name, name_len) == 0)
				return error_at(ld, FL_EINPUT, mark, "alias '*%s' refers to a node that contains it",
						name);
		}
		return error_at(ld, FL_EINPUT, mark, "unknown alias '*%s'", name);
	}
	if ((rc = count_nodes(ld, a->count, mark, true)) < 0)
		return rc;

	struct fl_node *n = a->node;
	if (expecting_key(ld)) {
		if (n->type == FL_NODE_SEQ || n->type == FL_NODE_MAP)
			return error_at(ld, FL_EINPUT, mark, "mapping keys must be scalars");
		/* A key gets its own node: it is a string and has its own position. */
		struct fl_node *k = new_node(ld, FL_NODE_STR, mark);
		k->quoted = n->quoted;
		if (n->type == FL_NODE_STR) {
			k->v.str = n->v.str;
		} else {
			k->v.str.ptr = fl_arena_strndup(ld->arena, name_at(ld, a->text), a->text_len);
			k->v.str.len = a->text_len;
		}
		n = k;
	}
	return attach(ld, n, a->count);
}

static int on_collection_start(struct loader *ld, const yaml_event_t *ev, enum fl_node_type type)
{
	const yaml_mark_t *mark = &ev->start_mark;
	const yaml_char_t *tag, *anchor;
	bool forced_str;
	int rc;

	if (type == FL_NODE_SEQ) {
		tag = ev->data.sequence_start.tag;
		anchor = ev->data.sequence_start.anchor;
	} else {
		tag = ev->data.mapping_start.tag;
		anchor = ev->data.mapping_start.anchor;
	}
	if ((rc = check_tag(ld, tag, mark, &forced_str)) < 0)
		return rc;
	if (forced_str)
		return error_at(ld, FL_EINPUT, mark, "tags are not supported");
	if (expecting_key(ld))
		return error_at(ld, FL_EINPUT, mark, "mapping keys must be scalars");
	if (ld->nframes >= ld->limits.max_depth)
		return error_at(ld, FL_ELIMIT, mark, "nesting deeper than %u levels", ld->limits.max_depth);
	if ((rc = count_nodes(ld, 1, mark, false)) < 0)
		return rc;

	FL_GROW(ld->frames, ld->frames_cap, ld->nframes + 1);
	struct frame *f = &ld->frames[ld->nframes++];
	f->node = new_node(ld, type, mark);
	f->base = ld->nitems;
	f->count = 1;
	f->id = ld->next_id++;
	f->hashed = false;
	f->anchor = 0;
	f->anchor_len = 0;
	if (anchor) {
		f->anchor_len = strlen((const char *)anchor);
		f->anchor = save_name(ld, anchor, f->anchor_len) + 1;
	}
	return 0;
}

static int on_collection_end(struct loader *ld)
{
	struct frame f = ld->frames[--ld->nframes];
	struct fl_node *n = f.node;
	size_t len = ld->nitems - f.base;

	if (n->type == FL_NODE_SEQ) {
		if (len) {
			n->v.seq.items = fl_arena_calloc(ld->arena, len, sizeof(*n->v.seq.items));
			memcpy(n->v.seq.items, ld->items + f.base, len * sizeof(*n->v.seq.items));
		}
		n->v.seq.len = len;
	} else {
		size_t npairs = len / 2;
		if (npairs) {
			n->v.map.items = fl_arena_calloc(ld->arena, npairs, sizeof(*n->v.map.items));
			for (size_t i = 0; i < npairs; i++) {
				n->v.map.items[i].key = ld->items[f.base + 2 * i];
				n->v.map.items[i].value = ld->items[f.base + 2 * i + 1];
			}
		}
		n->v.map.len = npairs;
	}
	ld->nitems = f.base;
	if (f.anchor)
		add_anchor(ld, f.anchor - 1, f.anchor_len, n, f.count, NULL, 0);
	return attach(ld, n, f.count);
}

static int check_input(struct loader *ld)
{
	const struct fl_source *src = ld->src;
	if (src->len > ld->limits.max_bytes)
		return fl_error_set_at(ld->err, FL_ELIMIT, src, 1, 1,
				       "file is %zu bytes, more than the limit of %zu",
				       src->len, ld->limits.max_bytes);
	const char *nul = src->len ? memchr(src->text, '\0', src->len) : NULL;
	if (nul) {
		uint32_t line, col;
		offset_position(src, (size_t)(nul - src->text), &line, &col);
		return fl_error_set_at(ld->err, FL_EINPUT, src, line, col, "file contains a NUL byte");
	}
	return 0;
}

/* Reads the documents of src; one_doc stops with an error at a second document. */
static int load(struct fl_node ***docs_out, size_t *ndocs_out, struct fl_arena *arena,
		const struct fl_source *src, const struct fl_yaml_limits *limits,
		struct fl_error *err, bool one_doc)
{
	static const struct fl_yaml_limits defaults = FL_YAML_LIMITS_DEFAULT;
	struct loader ld;
	yaml_parser_t parser;
	yaml_event_t event;
	bool parser_ready = false, have_event = false, done = false;
	int rc = 0;

	memset(&ld, 0, sizeof(ld));
	ld.arena = arena;
	ld.src = src;
	ld.limits = limits ? *limits : defaults;
	ld.err = err;
	ld.nchars = SIZE_MAX;
	fl_buf_init(&ld.names, 0);
	*docs_out = NULL;
	*ndocs_out = 0;

	if ((rc = check_input(&ld)) < 0)
		goto out;
	if (!yaml_parser_initialize(&parser)) {
		rc = fl_error_set(err, FL_EINTERNAL, "out of memory parsing YAML");
		goto out;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)(src->len ? src->text : ""), src->len);
	/* No guessing UTF-16 from a byte order mark: files are UTF-8. */
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

	while (!done) {
		if (!yaml_parser_parse(&parser, &event)) {
			rc = parser_error(&ld, &parser);
			goto out;
		}
		have_event = true;
		switch (event.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (one_doc && ld.ndocs == 1) {
				rc = error_at(&ld, FL_EINPUT, &event.start_mark,
					      "expected one YAML document, found another");
				goto out;
			}
			ld.root = NULL;
			break;
		case YAML_DOCUMENT_END_EVENT:
			FL_GROW(ld.docs, ld.docs_cap, ld.ndocs + 1);
			ld.docs[ld.ndocs++] = ld.root;
			/* Anchors do not reach across documents. */
			ld.nanchors = 0;
			fl_buf_clear(&ld.names);
			break;
		case YAML_SCALAR_EVENT:
			rc = on_scalar(&ld, &event);
			break;
		case YAML_ALIAS_EVENT:
			rc = on_alias(&ld, &event);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = on_collection_start(&ld, &event, FL_NODE_SEQ);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = on_collection_start(&ld, &event, FL_NODE_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			rc = on_collection_end(&ld);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_STREAM_START_EVENT:
		case YAML_NO_EVENT:
			break;
		}
		yaml_event_delete(&event);
		have_event = false;
		if (rc < 0)
			goto out;
	}

	if (one_doc && ld.ndocs == 0) {
		rc = fl_error_set_at(err, FL_EINPUT, src, 1, 1, "file is empty, expected a YAML document");
		goto out;
	}
	if (ld.ndocs) {
		*docs_out = fl_arena_calloc(arena, ld.ndocs, sizeof(**docs_out));
		memcpy(*docs_out, ld.docs, ld.ndocs * sizeof(**docs_out));
	}
	*ndocs_out = ld.ndocs;

out:
	if (have_event)
		yaml_event_delete(&event);
	if (parser_ready)
		yaml_parser_delete(&parser);
	free(ld.frames);
	free(ld.items);
	free(ld.anchors);
	free(ld.keys);
	free(ld.docs);
	fl_buf_release(&ld.names);
	return rc;
}

int fl_yaml_load(struct fl_node ***docs_out, size_t *ndocs_out, struct fl_arena *arena,
		 const struct fl_source *src, const struct fl_yaml_limits *limits,
		 struct fl_error *err)
{
	return load(docs_out, ndocs_out, arena, src, limits, err, false);
}

int fl_yaml_load_one(struct fl_node **out, struct fl_arena *arena, const struct fl_source *src,
		     const struct fl_yaml_limits *limits, struct fl_error *err)
{
	struct fl_node **docs;
	size_t ndocs;
	*out = NULL;
	/* Most tenant manifests are flat: the same tree without libyaml's cost per file. */
	if (fl_yaml_load_flat(out, arena, src, limits) == 0)
		return 0;
	int rc = load(&docs, &ndocs, arena, src, limits, err, true);
	if (rc == 0)
		*out = docs[0];
	return rc;
}
