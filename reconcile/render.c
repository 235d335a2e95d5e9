/*
 * Rendering of release templates (SPEC 2 and 3). Each template's spec is
 * compiled once per fleet into a program: runs of literal canonical JSON
 * (keys sorted, punctuation, escaped text, all precomputed) separated by
 * substitutions of a few values. Rendering a resource is then one walk of
 * memcpy calls into the output buffer, and no allocation per resource.
 */
#include "reconcile/render.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/banned.h"

/*
 * Slots number the values a template may use, fleet-wide: the three below,
 * then var i at SLOT_VARS + i, then label key j at SLOT_VARS + nvars + j.
 */
enum { SLOT_NAME, SLOT_ACCOUNT, SLOT_REGION, SLOT_VARS };

/* How a substitution is written: its canonical JSON, or its escaped text. */
enum { FORM_VAL, FORM_STR };

/* The next lit_len bytes of the program's literal, then one slot in one form. */
struct op {
	size_t lit_len;
	uint32_t slot;
	uint32_t form;
};

/* How often a program writes one slot in one form: its size is the literal plus these. */
struct use {
	uint32_t slot;
	uint32_t form;
	size_t count;
};

struct program {
	struct program_set *set;
	char *lit;             /* all literal bytes, in output order */
	size_t lit_len;
	struct op *ops;
	size_t nops, ops_cap;
	size_t tail_len;       /* literal bytes after the last op */
	struct use *uses;      /* each (slot, form) of the ops once, with its count */
	size_t nuses;
	int service;           /* bit in tenant->services; -1: every tenant; -2: none */
	char **secrets;        /* paths of fields that use a secret var */
	size_t nsecrets, secrets_cap;
	bool failed;           /* did not compile: never rendered */
};

/* What fl_render_compile makes; templates[i].compiled points at progs[i]. */
struct program_set {
	struct program *progs;
	size_t nprogs;
	char **labels;         /* label keys used anywhere, sorted: slot SLOT_VARS + nvars + j */
	size_t nlabels, labels_cap;
	size_t nslots;
};

/* ---- names ---- */

enum name_kind { NAME_UNKNOWN, NAME_TENANT, NAME_ACCOUNT, NAME_REGION, NAME_LABEL, NAME_VAR };

struct name {
	enum name_kind kind;
	const char *key;       /* label key or var name, inside the template text */
	size_t keylen;
	size_t var;            /* index into fleet->vars for NAME_VAR */
};

static bool name_is(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len == n && memcmp(s, word, n) == 0;
}

static bool name_has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len > n && memcmp(s, prefix, n) == 0;
}

/* Classifies the name inside {{ }} (already trimmed). */
static struct name classify(const struct fl_fleet *fleet, const char *s, size_t len)
{
	struct name n = { NAME_UNKNOWN, NULL, 0, 0 };

	if (name_is(s, len, "tenant.name")) {
		n.kind = NAME_TENANT;
	} else if (name_is(s, len, "tenant.account")) {
		n.kind = NAME_ACCOUNT;
	} else if (name_is(s, len, "region")) {
		n.kind = NAME_REGION;
	} else if (name_has_prefix(s, len, "tenant.labels.")) {
		n.kind = NAME_LABEL;
		n.key = s + strlen("tenant.labels.");
		n.keylen = len - strlen("tenant.labels.");
	} else if (name_has_prefix(s, len, "vars.")) {
		const struct fl_var_decl *d;
		n.key = s + strlen("vars.");
		n.keylen = len - strlen("vars.");
		d = fl_fleet_var(fleet, n.key, n.keylen);
		if (d) {
			n.kind = NAME_VAR;
			n.var = (size_t)(d - fleet->vars);
		}
	}
	return n;
}

/* Index of the first "{{" in s[from..len), or len. */
static size_t find_open(const char *s, size_t len, size_t from)
{
	size_t i = from;

	while (i + 1 < len && !(s[i] == '{' && s[i + 1] == '{'))
		i++;
	return i + 1 < len ? i : len;
}

/* Index of the first "}}" in s[from..len), or len. */
static size_t find_close(const char *s, size_t len, size_t from)
{
	size_t i = from;

	while (i + 1 < len && !(s[i] == '}' && s[i + 1] == '}'))
		i++;
	return i + 1 < len ? i : len;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* One {{...}} of a template string: where it starts and ends and what it names. */
struct ref {
	size_t open, end;      /* offset of "{{"; offset just past "}}" */
	const char *name;      /* trimmed */
	size_t namelen;
};

/*
 * Finds the reference at or after from. Returns 0 with ref->open == len
 * when there is none, 1 for an unterminated "{{", 2 for an empty one.
 */
static int next_ref(struct ref *ref, const char *s, size_t len, size_t from)
{
	size_t close, a, b;
	int rc = 0;

	ref->open = find_open(s, len, from);
	if (ref->open == len)
		goto out;
	close = find_close(s, len, ref->open + 2);
	if (close == len) {
		rc = 1;
		goto out;
	}
	a = ref->open + 2;
	b = close;
	while (a < b && is_blank(s[a]))
		a++;
	while (b > a && is_blank(s[b - 1]))
		b--;
	ref->name = s + a;
	ref->namelen = b - a;
	ref->end = close + 2;
	if (a == b)
		rc = 2;
out:
	return rc;
}

/* ---- paths ---- */

static bool key_is_plain(const char *key, size_t len)
{
	size_t i = 0;

	while (i < len && ((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
			   (key[i] >= '0' && key[i] <= '9') || key[i] == '_' || key[i] == '-'))
		i++;
	return len > 0 && i == len;
}

int fl_spec_path_key(struct fl_buf *path, const char *key, size_t len)
{
	int rc = 0;

	if (!key_is_plain(key, len)) {
		rc = fl_buf_putc(path, '[');
		if (!rc)
			rc = fl_json_put_str(path, key, len);
		if (!rc)
			rc = fl_buf_putc(path, ']');
	} else {
		if (path->len)
			rc = fl_buf_putc(path, '.');
		if (!rc)
			rc = fl_buf_put(path, key, len);
	}
	return rc;
}

int fl_spec_path_index(struct fl_buf *path, size_t index)
{
	return fl_buf_printf(path, "[%zu]", index);
}

/* Index of the first of sorted[0..n) that is not less than key[0..len). */
static size_t lower_bound(char *const *sorted, size_t n, const char *key, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		size_t mlen = strlen(sorted[mid]);
		int c = memcmp(sorted[mid], key, mlen < len ? mlen : len);
		if (c < 0 || (c == 0 && mlen < len))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool secret_is(const struct program *p, const char *path, size_t len)
{
	size_t i = lower_bound(p->secrets, p->nsecrets, path, len);

	return i < p->nsecrets && strlen(p->secrets[i]) == len && memcmp(p->secrets[i], path, len) == 0;
}

/* True when a secret path starts with path[0..len) followed by sep: a descendant. */
static bool secret_below(const struct program *p, struct fl_buf *tmp, const char *path, size_t len,
			 char sep)
{
	size_t i;

	fl_buf_clear(tmp);
	if (fl_buf_put(tmp, path, len) || fl_buf_putc(tmp, sep))
		return true; /* cannot tell: say secret, never leak */
	i = lower_bound(p->secrets, p->nsecrets, tmp->ptr, tmp->len);
	return i < p->nsecrets && strncmp(p->secrets[i], tmp->ptr, tmp->len) == 0;
}

/*
 * A field is secret when a secret path is the field itself, one of its
 * ancestors or one of its descendants. The secrets are sorted: ancestors
 * are looked up one by one (a path has few), descendants are the run of
 * paths that start with "path." or "path[".
 */
bool fl_template_path_secret(const struct fl_template *tpl, const char *path)
{
	const struct program *prog = tpl ? tpl->compiled : NULL;
	struct fl_buf tmp = FL_BUF_INIT;
	size_t plen = strlen(path);
	bool secret = false;

	if (!prog || !prog->nsecrets)
		return false;
	secret = plen == 0 || secret_is(prog, "", 0);
	for (size_t i = 1; i <= plen && !secret; i++)
		if (i == plen || path[i] == '.' || path[i] == '[')
			secret = secret_is(prog, path, i);
	if (!secret)
		secret = secret_below(prog, &tmp, path, plen, '.') || secret_below(prog, &tmp, path, plen, '[');
	fl_buf_release(&tmp);
	return secret;
}

/* ---- compiling ---- */

struct compiler {
	const struct fl_fleet *fleet;
	struct program_set *set;
	struct program *prog;
	struct fl_source src;     /* the template's file; text may be NULL */
	struct fl_diags *diags;
	struct fl_buf lit;        /* the program's literal so far */
	size_t pending;           /* lit.len when the last op was added */
	struct fl_buf path;       /* of the node being compiled */
};

static void diag_add(struct fl_diags *diags, const struct fl_error *e)
{
	if (!diags) {
		/* Nobody collects: the return code alone says it failed. */
	} else if (diags->len >= FL_FLEET_MAX_DIAGS) {
		diags->dropped++;
	} else {
		FL_GROW(diags->items, diags->cap, diags->len + 1);
		diags->items[diags->len++] = *e;
	}
}

/* True when line of src has "{{" at column col. */
static bool source_has_open(const struct fl_source *src, uint32_t line, size_t col)
{
	const char *p = src->text, *end = src->text + src->len, *eol;

	for (uint32_t l = 1; l < line && p; l++) {
		p = memchr(p, '\n', (size_t)(end - p));
		p = p ? p + 1 : NULL;
	}
	if (!p || col == 0)
		return false;
	eol = memchr(p, '\n', (size_t)(end - p));
	eol = eol ? eol : end;
	return (size_t)(eol - p) >= col + 1 && p[col - 1] == '{' && p[col] == '{';
}

/*
 * The position of the "{{" at byte off of a string node: exact for a
 * scalar on one line whose source bytes match its value up to there, else
 * the scalar's own position.
 */
static void ref_position(const struct compiler *c, const struct fl_node *node, size_t off,
			 uint32_t *line, uint32_t *col)
{
	size_t cand = (size_t)node->col + (node->quoted ? 1 : 0) + off;
	bool one_line = !memchr(node->v.str.ptr, '\n', node->v.str.len);

	*line = node->line;
	*col = node->col;
	if (node->line && one_line && cand <= UINT32_MAX &&
	    (!c->src.text || source_has_open(&c->src, node->line, cand)))
		*col = (uint32_t)cand;
}

static void compile_error(struct compiler *c, const struct fl_node *node, size_t off,
			  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void compile_error(struct compiler *c, const struct fl_node *node, size_t off,
			  const char *fmt, ...)
{
	struct fl_error e = FL_ERROR_INIT;
	char msg[FL_ERROR_MSG_MAX];
	uint32_t line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (node->type == FL_NODE_STR) {
		ref_position(c, node, off, &line, &col);
	} else {
		line = node->line;
		col = node->col;
	}
	fl_error_set_at(&e, FL_EINPUT, &c->src, line, col, "%s", msg);
	diag_add(c->diags, &e);
	c->prog->failed = true;
}

/* Appends s escaped as inside a JSON string, without the quotes. */
static int put_escaped(struct fl_buf *out, const char *s, size_t len)
{
	size_t start = out->len;
	int rc = fl_json_put_str(out, s, len);

	if (!rc) {
		size_t n = out->len - start;
		memmove(out->ptr + start, out->ptr + start + 1, n - 2);
		fl_buf_truncate(out, start + n - 2);
	}
	return rc;
}

/* A provisional slot of its own for each label reference: see finish_labels. */
static uint32_t intern_label(struct program_set *set, const struct fl_fleet *fleet,
			     const char *key, size_t len)
{
	FL_GROW(set->labels, set->labels_cap, set->nlabels + 1);
	set->labels[set->nlabels++] = fl_strndup(key, len);
	return (uint32_t)(SLOT_VARS + fleet->nvars + set->nlabels - 1);
}

static uint32_t slot_of(struct compiler *c, const struct name *n)
{
	switch (n->kind) {
	case NAME_TENANT: return SLOT_NAME;
	case NAME_ACCOUNT: return SLOT_ACCOUNT;
	case NAME_REGION: return SLOT_REGION;
	case NAME_LABEL: return intern_label(c->set, c->fleet, n->key, n->keylen);
	case NAME_VAR: return (uint32_t)(SLOT_VARS + n->var);
	case NAME_UNKNOWN: break;
	}
	return UINT32_MAX;
}

static void record_secret(struct compiler *c)
{
	struct program *p = c->prog;

	/* A second secret in the same string has the same path. */
	if (!p->nsecrets || strcmp(p->secrets[p->nsecrets - 1], c->path.ptr) != 0) {
		FL_GROW(p->secrets, p->secrets_cap, p->nsecrets + 1);
		p->secrets[p->nsecrets++] = fl_strndup(c->path.ptr, c->path.len);
	}
}

static void add_op(struct compiler *c, uint32_t slot, uint32_t form)
{
	struct program *p = c->prog;

	FL_GROW(p->ops, p->ops_cap, p->nops + 1);
	p->ops[p->nops].lit_len = c->lit.len - c->pending;
	p->ops[p->nops].slot = slot;
	p->ops[p->nops].form = form;
	p->nops++;
	c->pending = c->lit.len;
}

/* Checks the reference and adds its op; false when it is not valid. */
static bool compile_ref(struct compiler *c, const struct fl_node *node, const struct ref *ref,
			uint32_t form)
{
	struct name n = classify(c->fleet, ref->name, ref->namelen);
	bool ok = n.kind != NAME_UNKNOWN;

	if (!ok) {
		compile_error(c, node, ref->open, "unknown template variable '%.*s'",
			      (int)(ref->namelen > 200 ? 200 : ref->namelen), ref->name);
	} else {
		add_op(c, slot_of(c, &n), form);
		if (n.kind == NAME_VAR && c->fleet->vars[n.var].secret)
			record_secret(c);
	}
	return ok;
}

/* Reports a bad reference (rc from next_ref); always false. */
static bool bad_ref(struct compiler *c, const struct fl_node *node, const struct ref *ref, int rc)
{
	if (rc == 1)
		compile_error(c, node, ref->open, "unterminated '{{' in template");
	else
		compile_error(c, node, ref->open, "empty '{{}}' in template");
	return false;
}

/* A string with references in text: a JSON string of literal runs and STR ops. */
static int compile_embedded(struct compiler *c, const struct fl_node *node)
{
	const char *s = node->v.str.ptr;
	size_t len = node->v.str.len, at = 0;
	struct ref ref;
	bool ok = true;
	int rc = fl_buf_putc(&c->lit, '"');

	while (!rc && ok && at < len) {
		int r = next_ref(&ref, s, len, at);
		if (r)
			ok = bad_ref(c, node, &ref, r);
		if (ok)
			rc = put_escaped(&c->lit, s + at, ref.open - at);
		if (!rc && ok && ref.open < len) {
			ok = compile_ref(c, node, &ref, FORM_STR);
			at = ref.end;
		} else {
			at = len;
		}
	}
	if (!rc)
		rc = fl_buf_putc(&c->lit, '"');
	return rc;
}

static int compile_string(struct compiler *c, const struct fl_node *node)
{
	const char *s = node->v.str.ptr;
	size_t len = node->v.str.len;
	struct ref ref;
	int r = next_ref(&ref, s, len, 0);
	int rc = 0;

	if (r == 0 && ref.open == len)
		rc = fl_json_put_str(&c->lit, s, len);
	else if (r == 0 && ref.open == 0 && ref.end == len)
		compile_ref(c, node, &ref, FORM_VAL);
	else
		rc = compile_embedded(c, node);
	return rc;
}

static int compile_scalar(struct compiler *c, const struct fl_node *node)
{
	int rc = 0;

	switch (node->type) {
	case FL_NODE_NULL:
		rc = fl_buf_put(&c->lit, "null", 4);
		break;
	case FL_NODE_BOOL:
		rc = node->v.b ? fl_buf_put(&c->lit, "true", 4) : fl_buf_put(&c->lit, "false", 5);
		break;
	case FL_NODE_INT:
		rc = fl_buf_printf(&c->lit, "%" PRId64, node->v.i);
		break;
	case FL_NODE_FLOAT:
		rc = fl_json_put_double(&c->lit, node->v.f);
		if (rc == FL_EINPUT) {
			compile_error(c, node, 0, "number cannot be represented in JSON");
			rc = 0;
		}
		break;
	default:
		rc = compile_string(c, node);
		break;
	}
	return rc;
}

static int compile_node(struct compiler *c, const struct fl_node *node);

static int compile_seq(struct compiler *c, const struct fl_node *node)
{
	size_t base = c->path.len;
	int rc = fl_buf_putc(&c->lit, '[');

	for (size_t i = 0; i < node->v.seq.len && !rc; i++) {
		if (i)
			rc = fl_buf_putc(&c->lit, ',');
		if (!rc)
			rc = fl_spec_path_index(&c->path, i);
		if (!rc)
			rc = compile_node(c, node->v.seq.items[i]);
		fl_buf_truncate(&c->path, base);
	}
	if (!rc)
		rc = fl_buf_putc(&c->lit, ']');
	return rc;
}

/* Bytewise, the shorter first on a tie: the order of fl_json_canonical. */
static int compare_pairs(const void *a, const void *b)
{
	const struct fl_node *ka = (*(const struct fl_pair *const *)a)->key;
	const struct fl_node *kb = (*(const struct fl_pair *const *)b)->key;
	size_t n = ka->v.str.len < kb->v.str.len ? ka->v.str.len : kb->v.str.len;
	int cmp = n ? memcmp(ka->v.str.ptr, kb->v.str.ptr, n) : 0;

	return cmp ? cmp : (ka->v.str.len > kb->v.str.len) - (ka->v.str.len < kb->v.str.len);
}

static int compile_member(struct compiler *c, const struct fl_pair *pair)
{
	const struct fl_node *key = pair->key;
	size_t base = c->path.len;
	struct ref ref;
	int rc = 0;

	if (next_ref(&ref, key->v.str.ptr, key->v.str.len, 0) || ref.open < key->v.str.len)
		compile_error(c, key, ref.open, "templates are not allowed in keys");
	rc = fl_json_put_str(&c->lit, key->v.str.ptr, key->v.str.len);
	if (!rc)
		rc = fl_buf_putc(&c->lit, ':');
	if (!rc)
		rc = fl_spec_path_key(&c->path, key->v.str.ptr, key->v.str.len);
	if (!rc)
		rc = compile_node(c, pair->value);
	fl_buf_truncate(&c->path, base);
	return rc;
}

static int compile_map(struct compiler *c, const struct fl_node *node)
{
	size_t len = node->v.map.len;
	const struct fl_pair **sorted = fl_reallocarray(NULL, len ? len : 1, sizeof(*sorted));
	int rc = fl_buf_putc(&c->lit, '{');

	for (size_t i = 0; i < len; i++)
		sorted[i] = &node->v.map.items[i];
	qsort(sorted, len, sizeof(*sorted), compare_pairs);
	for (size_t i = 0; i < len && !rc; i++) {
		if (i)
			rc = fl_buf_putc(&c->lit, ',');
		if (!rc)
			rc = compile_member(c, sorted[i]);
	}
	if (!rc)
		rc = fl_buf_putc(&c->lit, '}');
	free(sorted);
	return rc;
}

static int compile_node(struct compiler *c, const struct fl_node *node)
{
	int rc;

	if (!node)
		rc = fl_buf_put(&c->lit, "null", 4);
	else if (node->type == FL_NODE_SEQ)
		rc = compile_seq(c, node);
	else if (node->type == FL_NODE_MAP)
		rc = compile_map(c, node);
	else
		rc = compile_scalar(c, node);
	return rc;
}

static int service_bit(const struct fl_fleet *fleet, const char *service)
{
	int bit = -2;

	if (!service)
		bit = -1;
	for (size_t i = 0; service && i < fleet->nservices && i < 64 && bit < 0; i++)
		if (strcmp(fleet->services[i], service) == 0)
			bit = (int)i;
	return bit;
}

static int source_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fl_source *)a)->path, ((const struct fl_source *)b)->path);
}

/* The file of tpl among sources (sorted by path), or one without text. */
static struct fl_source source_of(const struct fl_template *tpl,
				  const struct fl_render_sources *sources)
{
	struct fl_source key = { tpl->path, NULL, 0 };
	const struct fl_source *found = NULL;

	if (tpl->path && sources->len)
		found = bsearch(&key, sources->items, sources->len, sizeof(*sources->items), source_cmp);
	return found ? *found : key;
}

static int compile_template(struct program_set *set, struct fl_fleet *fleet, size_t i,
			    const struct fl_render_sources *sources, struct fl_diags *diags)
{
	struct fl_template *tpl = &fleet->templates[i];
	struct compiler c = { fleet, set, &set->progs[i], source_of(tpl, sources), diags,
			      FL_BUF_INIT, 0, FL_BUF_INIT };
	int rc;

	tpl->compiled = c.prog;
	c.prog->set = set;
	c.prog->service = service_bit(fleet, tpl->service);
	rc = compile_node(&c, tpl->spec);
	if (rc) {
		struct fl_error e = FL_ERROR_INIT;
		fl_error_set_at(&e, rc, &c.src, tpl->line, tpl->col, "template too large to compile");
		diag_add(diags, &e);
		c.prog->failed = true;
	}
	c.prog->tail_len = c.lit.len - c.pending;
	c.prog->lit = fl_buf_detach(&c.lit, &c.prog->lit_len);
	fl_buf_release(&c.path);
	return c.prog->failed ? FL_EINPUT : 0;
}

/* By key, then by place, so that the first reference of a key sorts first. */
static int label_ref_cmp(const void *a, const void *b)
{
	char *const *x = *(char *const *const *)a, *const *y = *(char *const *const *)b;
	int c = strcmp(*x, *y);

	return c ? c : (x < y ? -1 : x > y);
}

/*
 * Gives equal label keys one slot once every template is compiled: each
 * reference took a provisional slot of its own, and sorting them finds the
 * equal keys in O(n log n) instead of a search through the keys per reference.
 */
static void finish_labels(struct program_set *set, const struct fl_fleet *fleet)
{
	size_t n = set->nlabels, base = SLOT_VARS + fleet->nvars, nuniq = 0;
	char ***v = fl_calloc(n ? n : 1, sizeof(*v));
	uint32_t *slot = fl_calloc(n ? n : 1, sizeof(*slot));
	char **uniq = fl_calloc(n ? n : 1, sizeof(*uniq));

	for (size_t i = 0; i < n; i++)
		v[i] = &set->labels[i];
	qsort(v, n, sizeof(*v), label_ref_cmp);
	for (size_t i = 0; i < n; i++) {
		if (nuniq && strcmp(*v[i], uniq[nuniq - 1]) == 0)
			free(*v[i]);
		else
			uniq[nuniq++] = *v[i];
		slot[v[i] - set->labels] = (uint32_t)(base + nuniq - 1);
	}
	for (size_t i = 0; i < set->nprogs; i++)
		for (size_t j = 0; j < set->progs[i].nops; j++)
			if (set->progs[i].ops[j].slot >= base)
				set->progs[i].ops[j].slot = slot[set->progs[i].ops[j].slot - base];
	free(set->labels);
	set->labels = uniq;
	set->nlabels = nuniq;
	set->labels_cap = n ? n : 1;
	free(slot);
	free(v);
}

static int use_cmp(const void *a, const void *b)
{
	const struct use *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return (x->form > y->form) - (x->form < y->form);
}

/* Counts the program's ops by (slot, form): what its size depends on. */
static void count_uses(struct program *p)
{
	size_t n = 0;

	p->uses = fl_calloc(p->nops ? p->nops : 1, sizeof(*p->uses));
	for (size_t i = 0; i < p->nops; i++)
		p->uses[i] = (struct use){ p->ops[i].slot, p->ops[i].form, 1 };
	qsort(p->uses, p->nops, sizeof(*p->uses), use_cmp);
	for (size_t i = 0; i < p->nops; i++) {
		if (n && p->uses[n - 1].slot == p->uses[i].slot && p->uses[n - 1].form == p->uses[i].form)
			p->uses[n - 1].count++;
		else
			p->uses[n++] = p->uses[i];
	}
	p->nuses = n;
}

static int secret_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the secret paths and drops repeats, for fl_template_path_secret. */
static void sort_secrets(struct program *p)
{
	size_t n = 0;

	if (p->nsecrets > 1) /* secrets is NULL when there are none */
		qsort(p->secrets, p->nsecrets, sizeof(*p->secrets), secret_cmp);
	for (size_t i = 0; i < p->nsecrets; i++) {
		if (n && strcmp(p->secrets[n - 1], p->secrets[i]) == 0)
			free(p->secrets[i]);
		else
			p->secrets[n++] = p->secrets[i];
	}
	p->nsecrets = n;
}

int fl_render_compile(struct fl_fleet *fleet, const struct fl_render_sources *sources,
		      struct fl_diags *diags)
{
	struct fl_render_sources sorted = { NULL, 0 };
	struct fl_source *items = NULL;
	struct program_set *set = NULL;
	int rc = 0;

	fl_render_release(fleet);
	if (!fleet->ntemplates)
		goto out;
	/* Sorted copies, so that each template finds its file in O(log n). */
	items = fl_calloc(sources ? sources->len + 1 : 1, sizeof(*items));
	for (size_t i = 0; sources && i < sources->len; i++)
		if (sources->items[i].path)
			items[sorted.len++] = sources->items[i];
	qsort(items, sorted.len, sizeof(*items), source_cmp);
	sorted.items = items;
	set = fl_calloc(1, sizeof(*set));
	set->progs = fl_calloc(fleet->ntemplates, sizeof(*set->progs));
	set->nprogs = fleet->ntemplates;
	for (size_t i = 0; i < fleet->ntemplates; i++)
		if (compile_template(set, fleet, i, &sorted, diags))
			rc = FL_EINPUT;
	finish_labels(set, fleet);
	for (size_t i = 0; i < set->nprogs; i++) {
		count_uses(&set->progs[i]);
		sort_secrets(&set->progs[i]);
	}
	set->nslots = SLOT_VARS + fleet->nvars + set->nlabels;
out:
	free(items);
	return rc;
}

static void program_release(struct program *p)
{
	free(p->lit);
	free(p->ops);
	free(p->uses);
	for (size_t i = 0; i < p->nsecrets; i++)
		free(p->secrets[i]);
	free(p->secrets);
}

/* The set, found through any program: every one points back at it. */
static struct program_set *set_of(const struct fl_fleet *fleet)
{
	return fleet->ntemplates && fleet->templates[0].compiled
		? ((struct program *)fleet->templates[0].compiled)->set
		: NULL;
}

void fl_render_release(struct fl_fleet *fleet)
{
	struct program_set *set = set_of(fleet);

	for (size_t i = 0; set && i < set->nprogs; i++)
		program_release(&set->progs[i]);
	for (size_t i = 0; set && i < set->nlabels; i++)
		free(set->labels[i]);
	if (set) {
		free(set->labels);
		free(set->progs);
		free(set);
	}
	for (size_t i = 0; i < fleet->ntemplates; i++)
		fleet->templates[i].compiled = NULL;
}

/* ---- rendering ---- */

/* A value of one render call, as written in each form: bytes of scratch. */
struct slotval {
	size_t off[2], len[2];   /* by form: FORM_VAL, FORM_STR */
	bool resolved;
};

/* Values are resolved on first use and kept for the rest of the call. */
struct render_call {
	const struct fl_fleet *fleet;
	const struct program_set *set;
	const struct fl_tenant *tenant;
	const char *region;
	struct slotval *slots;   /* set->nslots of them */
	struct fl_buf scratch;   /* the forms of the resolved values */
	bool lenient;            /* measuring only: a missing value counts as empty */
	struct fl_error *err;
};

/* Render calls with at most this many slots keep them on the stack. */
#define STACK_SLOTS 64

void fl_render_init(struct fl_render *r)
{
	fl_buf_init(&r->json, 0);
	r->items = NULL;
	r->len = r->cap = 0;
}

void fl_render_release_buf(struct fl_render *r)
{
	fl_buf_release(&r->json);
	free(r->items);
	r->items = NULL;
	r->len = r->cap = 0;
}

/* A name that need not end in NUL, as a bsearch key. */
struct name_key {
	const char *s;
	size_t len;
};

static int label_key_cmp(const void *key, const void *elem)
{
	const struct name_key *k = key;
	const char *lkey = ((const struct fl_label *)elem)->key;
	size_t llen = strlen(lkey);
	int c = memcmp(k->s, lkey, k->len < llen ? k->len : llen);

	return c ? c : (k->len > llen) - (k->len < llen);
}

/* The tenant's value of label key[0..keylen), or NULL; its labels are sorted. */
static const char *label_of(const struct fl_tenant *tenant, const char *key, size_t keylen)
{
	struct name_key k = { key, keylen };
	const struct fl_label *l = NULL;

	if (tenant->nlabels)
		l = bsearch(&k, tenant->labels, tenant->nlabels, sizeof(*tenant->labels), label_key_cmp);
	return l ? l->value : NULL;
}

static int slot_from_str(struct render_call *call, struct slotval *v, const char *s)
{
	size_t start = call->scratch.len;
	int rc = fl_json_put_str(&call->scratch, s ? s : "", s ? strlen(s) : 0);

	v->off[FORM_VAL] = start;
	v->len[FORM_VAL] = call->scratch.len - start;
	v->off[FORM_STR] = start + 1;
	v->len[FORM_STR] = rc ? 0 : v->len[FORM_VAL] - 2;
	return rc;
}

/* Canonical JSON; as text, strings lose their quotes and null is empty. */
static int slot_from_node(struct render_call *call, struct slotval *v, const struct fl_node *node)
{
	size_t start = call->scratch.len;
	int rc = fl_json_canonical(&call->scratch, node, call->err);
	size_t n = call->scratch.len - start;

	v->off[FORM_VAL] = v->off[FORM_STR] = start;
	v->len[FORM_VAL] = v->len[FORM_STR] = n;
	if (!rc && node->type == FL_NODE_STR) {
		v->off[FORM_STR] = start + 1;
		v->len[FORM_STR] = n - 2;
	} else if (node->type == FL_NODE_NULL) {
		v->len[FORM_STR] = 0;
	}
	return rc;
}

static int missing(struct render_call *call, struct slotval *v, const struct fl_template *tpl,
		   const char *what, const char *key)
{
	struct fl_source src = { tpl->path, NULL, 0 };
	const char *tenant = call->tenant->name;
	int rc;

	if (call->lenient) {
		memset(v, 0, sizeof(*v)); /* rendering will report it */
		rc = 0;
	} else if (strcmp(what, "label") == 0) {
		rc = fl_error_set_at(call->err, FL_EINPUT, &src, tpl->line, tpl->col,
				     "tenant '%s' has no label '%s' used by %s", tenant, key,
				     tpl->path ? tpl->path : "a template");
	} else {
		rc = fl_error_set_at(call->err, FL_EINPUT, &src, tpl->line, tpl->col,
				     "tenant '%s' does not set var '%s' and it has no default", tenant, key);
	}
	return rc;
}

static int resolve(struct render_call *call, uint32_t slot, const struct fl_template *tpl)
{
	const struct fl_tenant *t = call->tenant;
	size_t nvars = call->fleet->nvars;
	struct slotval *v = &call->slots[slot];
	const struct fl_node *node;
	const char *key, *label;
	int rc;

	if (slot < SLOT_VARS) {
		rc = slot_from_str(call, v, slot == SLOT_NAME ? t->name
					    : slot == SLOT_ACCOUNT ? t->account : call->region);
	} else if (slot < SLOT_VARS + nvars) {
		node = t->vars ? t->vars[slot - SLOT_VARS] : NULL;
		rc = node ? slot_from_node(call, v, node)
			  : missing(call, v, tpl, "var", call->fleet->vars[slot - SLOT_VARS].name);
	} else {
		key = call->set->labels[slot - SLOT_VARS - nvars];
		label = label_of(t, key, strlen(key));
		rc = label ? slot_from_str(call, v, label) : missing(call, v, tpl, "label", key);
	}
	v->resolved = !rc;
	return rc;
}

/*
 * Resolves what tpl uses into *need, the bytes it renders to: its literal
 * plus each value times its count. Stops as soon as the sum passes
 * FL_RENDER_MAX_RESOURCE, which it therefore never adds up far beyond, and
 * so cannot overflow: a 400 KB var used 3,000 times costs one multiplication.
 */
static int measure(struct render_call *call, const struct fl_template *tpl, size_t *need)
{
	const struct program *p = tpl->compiled;
	size_t n = p->lit_len;
	int rc = 0;

	for (size_t i = 0; i < p->nuses && !rc && n <= FL_RENDER_MAX_RESOURCE; i++) {
		const struct use *u = &p->uses[i];
		size_t len;
		if (!call->slots[u->slot].resolved && (rc = resolve(call, u->slot, tpl)))
			break;
		len = call->slots[u->slot].len[u->form];
		if (len && u->count > (FL_RENDER_MAX_RESOURCE - n) / len)
			n = FL_RENDER_MAX_RESOURCE + 1;
		else
			n += u->count * len;
	}
	*need = n;
	return rc;
}

/* FL_ELIMIT, positioned at tpl, when need more bytes after total pass a limit. */
static int check_limits(const struct render_call *call, const struct fl_template *tpl, size_t need,
			size_t total)
{
	struct fl_source src = { tpl->path, NULL, 0 };
	int rc = 0;

	if (need > FL_RENDER_MAX_RESOURCE)
		rc = fl_error_set_at(call->err, FL_ELIMIT, &src, tpl->line, tpl->col,
				     "rendered JSON of resource kind '%s' name '%s' exceeds the limit of "
				     "%zu bytes per resource (tenant '%s', region '%s')",
				     tpl->kind, tpl->name, (size_t)FL_RENDER_MAX_RESOURCE, call->tenant->name,
				     call->region);
	else if (need > FL_RENDER_MAX_REGION - total)
		rc = fl_error_set_at(call->err, FL_ELIMIT, &src, tpl->line, tpl->col,
				     "rendered JSON of tenant '%s' in region '%s' exceeds the limit of %zu "
				     "bytes per tenant and region at resource kind '%s' name '%s'",
				     call->tenant->name, call->region, (size_t)FL_RENDER_MAX_REGION,
				     tpl->kind, tpl->name);
	return rc;
}

static int push_item(struct fl_render *r, const struct fl_template *tpl, size_t off)
{
	struct fl_rendered *item;

	FL_GROW(r->items, r->cap, r->len + 1);
	item = &r->items[r->len++];
	item->tpl = tpl;
	item->off = off;
	item->len = r->json.len - off;
	fl_fp_of(&item->fp, r->json.ptr + off, item->len);
	return 0;
}

/* Writes the program's bytes at w, which has room for them all; returns the end. */
static char *emit(char *w, const struct program *p, const struct render_call *call)
{
	const char *lit = p->lit, *sc = call->scratch.ptr;

	for (size_t i = 0; i < p->nops; i++) {
		const struct op *op = &p->ops[i];
		const struct slotval *v = &call->slots[op->slot];
		memcpy(w, lit, op->lit_len);
		w += op->lit_len;
		lit += op->lit_len;
		memcpy(w, sc + v->off[op->form], v->len[op->form]);
		w += v->len[op->form];
	}
	memcpy(w, lit, p->tail_len);
	return w + p->tail_len;
}

static int render_one(struct render_call *call, struct fl_render *r, const struct fl_template *tpl)
{
	size_t need = 0, start = r->json.len;
	char *end;
	int rc;

	/* Measuring first checks the limits before a byte is allocated, and
	 * resolves every value, so scratch keeps still while emit reads it. */
	rc = measure(call, tpl, &need);
	if (!rc)
		rc = check_limits(call, tpl, need, start);
	if (!rc && (rc = fl_buf_grow(&r->json, need)))
		fl_error_set(call->err, rc, "rendered specs exceed %zu bytes", r->json.max);
	if (rc)
		goto out;
	end = emit(r->json.ptr + start, tpl->compiled, call);
	r->json.len = (size_t)(end - r->json.ptr);
	*end = '\0';
	rc = push_item(r, tpl, start);
out:
	return rc;
}

static bool subscribed(const struct program *p, const struct fl_tenant *tenant)
{
	return p->service == -1 || (p->service >= 0 && ((tenant->services >> p->service) & 1));
}

static int render_all(struct render_call *call, struct fl_render *r)
{
	int rc = 0;

	for (size_t i = 0; i < call->fleet->ntemplates && !rc; i++) {
		const struct fl_template *tpl = &call->fleet->templates[i];
		const struct program *p = tpl->compiled;
		if (p->failed)
			rc = fl_error_set(call->err, FL_EINTERNAL, "template %s did not compile",
					  tpl->path ? tpl->path : "");
		else if (subscribed(p, call->tenant))
			rc = render_one(call, r, tpl);
	}
	return rc;
}

/* Sets up call for tenant; slots on stack when they fit. The caller ends it with call_end. */
static int call_begin(struct render_call *call, struct slotval *stack, const struct fl_fleet *fleet,
		      const struct fl_tenant *tenant, struct fl_error *err)
{
	memset(call, 0, sizeof(*call));
	call->fleet = fleet;
	call->set = set_of(fleet);
	call->tenant = tenant;
	call->slots = stack;
	call->err = err;
	fl_buf_init(&call->scratch, 0);
	if (!call->set)
		return fleet->ntemplates ? fl_error_set(err, FL_EINTERNAL, "templates were not compiled") : 0;
	if (call->set->nslots > STACK_SLOTS)
		call->slots = fl_calloc(call->set->nslots, sizeof(*call->slots));
	else
		memset(stack, 0, call->set->nslots * sizeof(*stack));
	return 0;
}

static void call_end(struct render_call *call, struct slotval *stack)
{
	if (call->slots != stack)
		free(call->slots);
	fl_buf_release(&call->scratch);
}

int fl_render_tenant_region(struct fl_render *r, const struct fl_fleet *fleet,
			    const struct fl_tenant *tenant, const char *region, struct fl_error *err)
{
	struct slotval stack[STACK_SLOTS];
	struct render_call call;
	int rc;

	fl_buf_clear(&r->json);
	r->len = 0;
	rc = call_begin(&call, stack, fleet, tenant, err);
	call.region = region;
	if (!rc && call.set)
		rc = render_all(&call, r);
	call_end(&call, stack);
	return rc;
}

/* Measures every template tenant subscribes to in call->region against the limits. */
static int check_region(struct render_call *call)
{
	size_t total = 0;
	int rc = 0;

	for (size_t i = 0; i < call->fleet->ntemplates && !rc; i++) {
		const struct fl_template *tpl = &call->fleet->templates[i];
		const struct program *p = tpl->compiled;
		size_t need = 0;
		if (p->failed || !subscribed(p, call->tenant))
			continue;
		rc = measure(call, tpl, &need);
		if (!rc)
			rc = check_limits(call, tpl, need, total);
		total += need;
	}
	return rc;
}

int fl_render_check_tenant(const struct fl_fleet *fleet, const struct fl_tenant *tenant,
			   struct fl_error *err)
{
	struct slotval stack[STACK_SLOTS];
	struct render_call call;
	int rc = call_begin(&call, stack, fleet, tenant, err);

	call.lenient = true;
	for (size_t i = 0; !rc && call.set && i < tenant->nregions; i++) {
		/* Only the region changes: the other values stay resolved. */
		call.region = tenant->regions[i];
		call.slots[SLOT_REGION].resolved = false;
		rc = check_region(&call);
	}
	call_end(&call, stack);
	return rc;
}

/* ---- plain strings ---- */

/* Appends the text form of a value: strings as they are, null as nothing. */
static int put_text(struct fl_buf *out, const struct fl_node *node, struct fl_error *err)
{
	int rc = 0;

	if (node->type == FL_NODE_STR)
		rc = fl_buf_put(out, node->v.str.ptr, node->v.str.len);
	else if (node->type != FL_NODE_NULL)
		rc = fl_json_canonical(out, node, err);
	return rc;
}

static int put_name(struct fl_buf *out, const struct fl_fleet *fleet, const struct fl_tenant *t,
		    const char *region, const struct ref *ref, struct fl_error *err)
{
	struct name n = classify(fleet, ref->name, ref->namelen);
	const char *s = NULL;
	int rc = 0;

	if (n.kind == NAME_UNKNOWN || (n.kind == NAME_REGION && !region))
		rc = fl_error_set(err, FL_EINPUT, "unknown template variable '%.*s'",
				  (int)(ref->namelen > 200 ? 200 : ref->namelen), ref->name);
	else if (n.kind == NAME_VAR && !(t->vars && t->vars[n.var]))
		rc = fl_error_set(err, FL_EINPUT, "tenant '%s' does not set var '%s' and it has no default",
				  t->name, fleet->vars[n.var].name);
	else if (n.kind == NAME_VAR)
		rc = put_text(out, t->vars[n.var], err);
	else if (n.kind == NAME_LABEL && !(s = label_of(t, n.key, n.keylen)))
		rc = fl_error_set(err, FL_EINPUT, "tenant '%s' has no label '%.*s'", t->name,
				  (int)(n.keylen > 200 ? 200 : n.keylen), n.key);
	else
		s = n.kind == NAME_TENANT ? t->name : n.kind == NAME_ACCOUNT ? t->account
			: n.kind == NAME_REGION ? region : s;
	if (!rc && s)
		rc = fl_buf_puts(out, s);
	return rc;
}

int fl_render_string(struct fl_buf *out, const struct fl_fleet *fleet, const struct fl_tenant *tenant,
		     const char *region, const char *tmpl, struct fl_error *err)
{
	size_t len = strlen(tmpl), at = 0;
	struct ref ref;
	int rc = 0;

	fl_buf_clear(out);
	while (!rc && at < len) {
		int r = next_ref(&ref, tmpl, len, at);
		if (r == 1)
			rc = fl_error_set(err, FL_EINPUT, "unterminated '{{' in template");
		else if (r == 2)
			rc = fl_error_set(err, FL_EINPUT, "empty '{{}}' in template");
		if (!rc)
			rc = fl_buf_put(out, tmpl + at, ref.open - at);
		if (!rc && ref.open < len)
			rc = put_name(out, fleet, tenant, region, &ref, err);
		at = ref.open < len ? ref.end : len;
	}
	if (rc)
		fl_buf_clear(out);
	return rc;
}
