/*
 * Field-level diff of two JSON specs for plans (SPEC 3): both sides are
 * walked together, maps by sorted keys, lists by index; values come out as
 * canonical JSON, secrets masked by path and by value. Canonical texts (the
 * common case) are walked as they are; anything else is parsed into trees
 * first.
 */
#define _GNU_SOURCE 1 /* memmem() in glibc before 2.38; CMake sets only _POSIX_C_SOURCE */
#include "reconcile/plan/diff.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "reconcile/render/render.h"
#include "core/banned.h"

/* Parse trees of typical specs fit one block of this size. */
#define SCRATCH_BLOCK (16 * 1024)

struct differ {
	struct fl_diff_scratch *s;
	struct fl_arena *out;             /* the caller's: paths and values */
	const struct fl_template *tpl;
	const struct fl_secret_values *secrets;   /* may be NULL */
	struct fl_error *err;
};

/* ---- secret values ---- */

void fl_secret_values_init(struct fl_secret_values *sv)
{
	fl_buf_init(&sv->text, 0);
	sv->ends = NULL;
	sv->len = sv->cap = 0;
}

void fl_secret_values_release(struct fl_secret_values *sv)
{
	fl_buf_release(&sv->text);
	free(sv->ends);
	fl_secret_values_init(sv);
}

/*
 * Ends the value written to text since the last one. An empty one is
 * dropped: every text contains it, and it has nothing to hide.
 */
static void end_value(struct fl_secret_values *sv)
{
	size_t start = sv->len ? sv->ends[sv->len - 1] : 0;

	if (sv->text.len == start)
		return;
	FL_GROW(sv->ends, sv->cap, sv->len + 1);
	sv->ends[sv->len++] = sv->text.len;
}

/*
 * Adds value as rendering substitutes it into text: canonical JSON, a
 * string escaped and without its quotes; then a string raw, when that
 * differs. Null renders as nothing: there is no value to hide.
 */
static int add_value(struct fl_secret_values *sv, const struct fl_node *value, struct fl_error *err)
{
	size_t start = sv->text.len, n;
	int rc = 0;

	if (value->type == FL_NODE_NULL)
		return 0;
	rc = fl_json_canonical(&sv->text, value, err);
	if (rc || value->type != FL_NODE_STR) {
		if (!rc)
			end_value(sv);
		return rc;
	}
	n = sv->text.len - start - 2;
	memmove(sv->text.ptr + start, sv->text.ptr + start + 1, n);
	fl_buf_truncate(&sv->text, start + n);
	end_value(sv);
	if (n != value->v.str.len || memcmp(sv->text.ptr + start, value->v.str.ptr, n) != 0) {
		rc = fl_buf_put(&sv->text, value->v.str.ptr, value->v.str.len);
		if (!rc)
			end_value(sv);
	}
	return rc;
}

int fl_secret_values_set(struct fl_secret_values *sv, const struct fl_fleet *fleet,
			 const struct fl_tenant *tenant, struct fl_error *err)
{
	int rc = 0;

	fl_buf_clear(&sv->text);
	sv->len = 0;
	for (size_t i = 0; i < fleet->nvars && !rc; i++) {
		const struct fl_node *value = tenant->vars ? tenant->vars[i] : NULL;
		if (!fleet->vars[i].secret || !value)
			continue;
		rc = add_value(sv, value, err);
		if (rc)
			fl_error_prefix(err, "secret var '%s': ", fleet->vars[i].name);
	}
	return rc;
}

bool fl_secret_values_in(const struct fl_secret_values *sv, const char *text, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; sv && i < sv->len; i++) {
		if (memmem(text, len, sv->text.ptr + start, sv->ends[i] - start))
			return true;
		start = sv->ends[i];
	}
	return false;
}

/* ---- the diff ---- */

/*
 * A value as the diff shows it, json[0..len) copied into the caller's
 * arena, or FL_SECRET_TEXT when it holds a secret value. Only values of
 * changed fields come here, and a tenant without secrets scans nothing.
 */
static const char *shown(struct differ *d, const char *json, size_t len)
{
	if (d->secrets && d->secrets->len && fl_secret_values_in(d->secrets, json, len))
		return FL_SECRET_TEXT;
	return fl_arena_strndup(d->out, json, len);
}

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
		fl_json_tape_release(&scratch->tapes[i]);
}

/* The canonical JSON of node, copied into the caller's arena. */
static int value_of(const char **out, struct differ *d, const struct fl_node *node)
{
	int rc;

	fl_buf_clear(&d->s->value);
	rc = fl_json_canonical(&d->s->value, node, d->err);
	*out = rc ? NULL : shown(d, d->s->value.ptr, d->s->value.len);
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

/*
 * Diffs a and b (either may be NULL) at the path just extended from base
 * (rc: how extending it went), then restores the path.
 */
static int diff_below(struct differ *d, size_t base, int rc, const struct fl_node *a,
		      const struct fl_node *b)
{
	if (!rc && a && b)
		rc = diff_node(d, a, b);
	else if (!rc)
		rc = add(d, a, b);
	fl_buf_truncate(&d->s->path, base);
	return rc;
}

static int diff_under_key(struct differ *d, const struct fl_node *key, const struct fl_node *a,
			  const struct fl_node *b)
{
	size_t base = d->s->path.len;

	return diff_below(d, base, fl_spec_path_key(&d->s->path, key->v.str.ptr, key->v.str.len), a, b);
}

static int diff_under_index(struct differ *d, size_t i, const struct fl_node *a,
			    const struct fl_node *b)
{
	size_t base = d->s->path.len;

	return diff_below(d, base, fl_spec_path_index(&d->s->path, i), a, b);
}

static int compare_keys(const struct fl_node *a, const struct fl_node *b)
{
	return fl_json_key_cmp(a->v.str.ptr, a->v.str.len, b->v.str.ptr, b->v.str.len);
}

/* The members of a map in key order, in the scratch arena. */
static const struct fl_pair **sorted_pairs(struct differ *d, const struct fl_node *map)
{
	size_t len = map->v.map.len;
	const struct fl_pair **p = fl_arena_calloc(&d->s->arena, len ? len : 1, sizeof(*p));

	fl_json_sorted_members(p, map);
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

/*
 * True when a spec shown as given would show a secret value: in its texts,
 * or in any spelling of the strings of its tree (as canonical JSON).
 */
static bool spec_holds_secret(struct differ *d, const struct fl_node *tree, const char *old_json,
			      size_t old_len, const char *new_json, size_t new_len)
{
	if (!d->secrets || !d->secrets->len)
		return false;
	if (fl_secret_values_in(d->secrets, old_json, old_len) ||
	    fl_secret_values_in(d->secrets, new_json, new_len))
		return true;
	fl_buf_clear(&d->s->value);
	/* A tree that cannot be written cannot be checked: masked, never shown. */
	return fl_json_canonical(&d->s->value, tree, NULL) != 0 ||
	       fl_secret_values_in(d->secrets, d->s->value.ptr, d->s->value.len);
}

/* Equal trees (tree is either) from different bytes: one entry for the whole spec, as given. */
static void add_formatting(struct differ *d, const struct fl_node *tree, const char *old_json,
			   size_t old_len, const char *new_json, size_t new_len)
{
	struct fl_diff_scratch *s = d->s;
	bool secret = fl_template_path_secret(d->tpl, "") ||
		      spec_holds_secret(d, tree, old_json, old_len, new_json, new_len);
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
 * given, are canonical JSON already (fl_json_is_canonical says so, and
 * records where each value ends). For those, equal subtrees are equal bytes,
 * so the diff walks the texts without building trees, stepping over values
 * by their extents. A side that is not canonical, or not valid, takes the
 * tree path above, which also reports errors.
 */

/* A value of one side: its text and its place on that side's tape. */
struct span {
	const char *p;
	size_t len;
	size_t idx;
};

/* One side of the walk: its text and tape. */
struct side {
	const char *base;
	const struct fl_json_extent *tape;
};

static int add_span(struct differ *d, const struct span *a, const struct span *b)
{
	struct fl_diff_scratch *s = d->s;
	bool secret = fl_template_path_secret(d->tpl, s->path.ptr);
	struct fl_field_diff *f;

	FL_GROW(s->items, s->cap, s->len + 1);
	f = &s->items[s->len++];
	f->path = fl_arena_strndup(d->out, s->path.ptr, s->path.len);
	f->old_json = !a ? NULL : secret ? FL_SECRET_TEXT : shown(d, a->p, a->len);
	f->new_json = !b ? NULL : secret ? FL_SECRET_TEXT : shown(d, b->p, b->len);
	return 0;
}

/* The value at p with tape index idx; returns what follows it. */
static const char *take_value(const struct side *side, const char *p, size_t idx, struct span *out)
{
	const struct fl_json_extent *e = &side->tape[idx];

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
			fl_json_key_cmp(ca.key.p, ca.key.len, cb.key.p, cb.key.len);
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

/* Diffs two sides that fl_json_is_canonical has just recorded on the scratch tapes. */
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
		add_formatting(d, a, old_json, old_len, new_json, new_len);
	return rc;
}

static int diff_texts(struct differ *d, const char *old_json, size_t old_len,
		      const char *new_json, size_t new_len)
{
	int rc;

	if (fl_json_is_canonical(&d->s->tapes[0], old_json, old_len) &&
	    fl_json_is_canonical(&d->s->tapes[1], new_json, new_len))
		rc = walk_texts(d, old_json, old_len, new_json, new_len);
	else
		rc = diff_trees(d, old_json, old_len, new_json, new_len);
	return rc;
}

int fl_diff_specs_scratch(struct fl_diff_scratch *scratch, struct fl_field_diff **out, size_t *nout,
			  struct fl_arena *arena, const char *old_json, size_t old_len,
			  const char *new_json, size_t new_len, const struct fl_template *tpl,
			  const struct fl_secret_values *secrets, struct fl_error *err)
{
	struct differ d = { scratch, arena, tpl, secrets, err };
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
		  const struct fl_template *tpl, const struct fl_secret_values *secrets,
		  struct fl_error *err)
{
	struct fl_diff_scratch scratch;
	int rc;

	fl_diff_scratch_init(&scratch);
	rc = fl_diff_specs_scratch(&scratch, out, nout, arena, old_json, old_len, new_json, new_len,
				   tpl, secrets, err);
	fl_diff_scratch_release(&scratch);
	return rc;
}
