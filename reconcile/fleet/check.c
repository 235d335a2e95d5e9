/*
 * Checking YAML entries against their rules with positioned diagnostics:
 * the validation context of one file, the errors it collects, and the checks
 * every parser of a fleet's files shares (fleet.yaml, tenants, release
 * files) and that drivers and status writers use for their own entries.
 * Knows the fleet's diagnostics list, nothing of what the entries mean.
 */
#include "reconcile/fleet/check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/banned.h"

void fl_diags_add(struct fl_diags *diags, const struct fl_error *e)
{
	if (diags->len >= FL_FLEET_MAX_DIAGS) {
		diags->dropped++;
		return;
	}
	FL_GROW(diags->items, diags->cap, diags->len + 1);
	diags->items[diags->len++] = *e;
}

void fl_diags_release(struct fl_diags *diags)
{
	if (!diags)
		return;
	free(diags->items);
	diags->items = NULL;
	diags->len = diags->cap = diags->dropped = 0;
}

static void vdiag(struct fl_vctx *c, int code, uint32_t line, uint32_t col, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static void vdiag(struct fl_vctx *c, int code, uint32_t line, uint32_t col, const char *fmt, va_list ap)
{
	struct fl_error e = FL_ERROR_INIT;
	char msg[FL_ERROR_MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	c->nerrors++;
	if (c->diags->len >= FL_FLEET_MAX_DIAGS) {
		c->diags->dropped++;
		return;
	}
	fl_error_set_at(&e, code, c->src, line, col, "%s", msg);
	fl_diags_add(c->diags, &e);
}

void fl_vdiag(struct fl_vctx *c, int code, uint32_t line, uint32_t col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(c, code, line, col, fmt, ap);
	va_end(ap);
}

void fl_verr(struct fl_vctx *c, const struct fl_node *at, const char *fmt, ...)
{
	va_list ap;
	uint32_t line = at && at->line ? at->line : 1, col = at && at->line ? at->col : 1;
	va_start(ap, fmt);
	vdiag(c, FL_EINPUT, line, col, fmt, ap);
	va_end(ap);
}

/* By string, then by place in the array, so that the first of equals sorts first. */
static int name_ptr_cmp(const void *a, const void *b)
{
	const char *const *x = *(const char *const *const *)a, *const *y = *(const char *const *const *)b;
	int c = strcmp(*x, *y);

	return c ? c : (x < y ? -1 : x > y);
}

bool *fl_repeated_names(const char *const *names, size_t n)
{
	const char *const **v = fl_calloc(n ? n : 1, sizeof(*v));
	bool *again = fl_calloc(n ? n : 1, sizeof(*again));

	for (size_t i = 0; i < n; i++)
		v[i] = &names[i];
	qsort(v, n, sizeof(*v), name_ptr_cmp);
	for (size_t i = 1; i < n; i++)
		again[v[i] - names] = strcmp(*v[i], *v[i - 1]) == 0;
	free(v);
	return again;
}

bool fl_key_is(const struct fl_pair *p, const char *key)
{
	return strcmp(p->key->v.str.ptr, key) == 0;
}

/* Levenshtein distance of a and b, or a large number for long strings. */
static size_t edit_distance(const char *a, const char *b)
{
	enum { MAXLEN = 64 };
	size_t la = strlen(a), lb = strlen(b), row[MAXLEN + 1];

	if (la > MAXLEN || lb > MAXLEN)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

size_t fl_suggest_score(const char *s, const char *cand)
{
	size_t best = edit_distance(s, cand);
	const char *part = cand;

	if (best <= 2)
		return best;
	/* "colour" for "brand_color": close to one word of a snake_case name. */
	best = SIZE_MAX;
	while (*part) {
		size_t len = strcspn(part, "_");
		char word[65];
		if (len >= 4 && len < sizeof(word)) {
			memcpy(word, part, len);
			word[len] = '\0';
			size_t d = edit_distance(s, word);
			if (d <= 2 && d + 1 < best)
				best = d + 1;
		}
		part += len + (part[len] == '_');
	}
	return best;
}

const char *fl_suggest(const char *s, const char *const *allowed)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; allowed[i]; i++) {
		size_t d = fl_suggest_score(s, allowed[i]);
		if (d < best_d) {
			best_d = d;
			best = allowed[i];
		}
	}
	return best;
}

void fl_unknown_key(struct fl_vctx *c, const struct fl_node *key, const char *what,
		     const char *const *allowed)
{
	const char *s = key->v.str.ptr, *hint = fl_suggest(s, allowed);

	if (hint)
		fl_verr(c, key, "unknown key '%s' in %s (did you mean '%s'?)", s, what, hint);
	else
		fl_verr(c, key, "unknown key '%s' in %s", s, what);
}

/* The text of a plain scalar at node's position in the source; *len 0 if unknown. */
static const char *scalar_text(const struct fl_vctx *c, const struct fl_node *n, size_t *len)
{
	const char *p, *end, *q;

	*len = 0;
	if (!c->src || !c->src->text || !n->line || !n->col)
		return NULL;
	p = c->src->text;
	end = p + c->src->len;
	for (uint32_t l = 1; l < n->line; l++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	if ((size_t)(end - p) < n->col - 1)
		return NULL;
	p += n->col - 1;
	for (q = p; q < end && *q != '\n' && *q != '\r' && *q != ',' && *q != ']' && *q != '}'; q++)
		if (*q == '#' && q > p && (q[-1] == ' ' || q[-1] == '\t'))
			break;
	while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	*len = (size_t)(q - p);
	return p;
}

void fl_quote_hint(char *out, size_t cap, const struct fl_vctx *c, const struct fl_node *n)
{
	char tmp[64];
	const char *t;
	size_t len;

	out[0] = '\0';
	if (n->type != FL_NODE_INT && n->type != FL_NODE_FLOAT && n->type != FL_NODE_BOOL)
		return;
	t = scalar_text(c, n, &len);
	if (!t || !len || len > 40 || memchr(t, '"', len) || memchr(t, '\\', len)) {
		if (n->type == FL_NODE_INT)
			snprintf(tmp, sizeof(tmp), "%" PRId64, n->v.i);
		else if (n->type == FL_NODE_FLOAT)
			snprintf(tmp, sizeof(tmp), "%g", n->v.f);
		else
			snprintf(tmp, sizeof(tmp), "%s", n->v.b ? "true" : "false");
		t = tmp;
		len = strlen(tmp);
	}
	snprintf(out, cap, " (quote it: \"%.*s\")", (int)len, t);
}

bool fl_vexpect(struct fl_vctx *c, const struct fl_node *node, enum fl_node_type type, const char *what)
{
	char hint[96] = "";

	if (node && node->type == type)
		return true;
	if (node && type == FL_NODE_STR)
		fl_quote_hint(hint, sizeof(hint), c, node);
	fl_verr(c, node, "expected %s, got %s%s", what, fl_node_type_name(node ? node->type : FL_NODE_NULL),
		 hint);
	return false;
}

void fl_names_join(char *out, size_t cap, const char *const *names, size_t n)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && used < cap; i++) {
		int len = snprintf(out + used, cap - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
				   names[i]);
		used += len < 0 ? cap : (size_t)len;
	}
}

const char *fl_vstring(struct fl_vctx *c, const struct fl_node *v)
{
	return fl_vexpect(c, v, FL_NODE_STR, "a string") ? v->v.str.ptr : NULL;
}

void fl_missing_keys(struct fl_vctx *c, const struct fl_node *map, const char *what,
		      const char *const *required)
{
	for (size_t i = 0; required[i]; i++)
		if (!fl_node_get(map, required[i]))
			fl_verr(c, map, "missing required key '%s' in %s", required[i], what);
}

bool fl_vstrings(const char ***out, size_t *n, struct fl_vctx *c, const struct fl_node *v,
			  const char *what)
{
	bool ok = true;

	if (!fl_vexpect(c, v, FL_NODE_SEQ, "a list of strings"))
		return false;
	if (v->v.seq.len == 0) {
		fl_verr(c, v, "expected a non-empty list of strings for %s", what);
		return false;
	}
	*out = fl_arena_calloc(c->arena, v->v.seq.len, sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < v->v.seq.len; i++) {
		const struct fl_node *s = v->v.seq.items[i];
		if (fl_vexpect(c, s, FL_NODE_STR, "a string"))
			(*out)[(*n)++] = s->v.str.ptr;
		else
			ok = false;
	}
	return ok;
}

/* An environment variable's name: [A-Za-z_][A-Za-z0-9_]*. */
static bool env_name_valid(const char *s)
{
	if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return false;
	for (s++; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/*
 * Whether each name is a secret at all is checked once the whole of
 * fleet.yaml is read (fleet_yaml.c, check_pass_env).
 */
void fl_vpass_env(const char ***out, size_t *n, const struct fl_node **node, struct fl_vctx *c,
			   const struct fl_node *v)
{
	*node = v;
	if (!fl_vstrings(out, n, c, v, "pass_env"))
		return;
	for (size_t i = 0; i < *n; i++) {
		const struct fl_node *item = v->v.seq.items[i];
		if (!env_name_valid((*out)[i])) {
			fl_verr(c, item, "invalid variable name '%s' in pass_env (expected [A-Za-z_][A-Za-z0-9_]*)",
				 (*out)[i]);
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp((*out)[j], (*out)[i]) == 0)
				fl_verr(c, item, "duplicate variable '%s' in pass_env", (*out)[i]);
	}
}
