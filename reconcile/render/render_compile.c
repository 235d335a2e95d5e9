/*
 * Compiling release templates (SPEC 2 and 3), once per fleet: each spec
 * becomes a program of runs of literal canonical JSON (keys sorted,
 * punctuation, escaped text, all precomputed) separated by substitutions of
 * a few values, which render.c then writes with memcpy alone. Every {{...}}
 * is checked here, so that a bad reference is reported at its position in
 * the template's file.
 */
#include "reconcile/render/render.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "reconcile/render/render_internal.h"
#include "reconcile/render/template.h"
#include "core/banned.h"

/* ---- names ---- */

static bool name_has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len > n && memcmp(s, prefix, n) == 0;
}

struct name fl_render_name(const struct fl_fleet *fleet, const char *s, size_t len)
{
	static const enum name_kind fixed[] = {
		[FL_TEMPLATE_OTHER] = NAME_UNKNOWN,
		[FL_TEMPLATE_TENANT_NAME] = NAME_TENANT,
		[FL_TEMPLATE_TENANT_ACCOUNT] = NAME_ACCOUNT,
		[FL_TEMPLATE_REGION] = NAME_REGION,
	};
	struct name n = { fixed[fl_template_name_of(s, len)], NULL, 0, 0 };

	if (n.kind != NAME_UNKNOWN) {
		/* one of the names every template knows */
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
static bool compile_ref(struct compiler *c, const struct fl_node *node,
			const struct fl_template_ref *ref, uint32_t form)
{
	struct name n = fl_render_name(c->fleet, ref->name, ref->namelen);
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

/* Reports an unterminated or empty reference; always false. */
static bool bad_ref(struct compiler *c, const struct fl_node *node,
		    const struct fl_template_ref *ref, enum fl_template_scan scan)
{
	compile_error(c, node, ref->open, "%s in template", fl_template_problem(scan));
	return false;
}

/* A string with references in text: a JSON string of literal runs and STR ops. */
static int compile_embedded(struct compiler *c, const struct fl_node *node)
{
	const char *s = node->v.str.ptr;
	size_t len = node->v.str.len, at = 0;
	struct fl_template_ref ref;
	bool ok = true;
	int rc = fl_buf_putc(&c->lit, '"');

	while (!rc && ok && at < len) {
		enum fl_template_scan scan = fl_template_next(&ref, s, len, at);
		if (scan == FL_TEMPLATE_UNTERMINATED || scan == FL_TEMPLATE_EMPTY)
			ok = bad_ref(c, node, &ref, scan);
		if (ok)
			rc = put_escaped(&c->lit, s + at, ref.open - at);
		if (!rc && ok && scan == FL_TEMPLATE_REF) {
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
	struct fl_template_ref ref;
	enum fl_template_scan scan = fl_template_next(&ref, s, len, 0);
	int rc = 0;

	if (scan == FL_TEMPLATE_NONE)
		rc = fl_json_put_str(&c->lit, s, len);
	else if (scan == FL_TEMPLATE_REF && ref.open == 0 && ref.end == len)
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

static int compile_member(struct compiler *c, const struct fl_pair *pair)
{
	const struct fl_node *key = pair->key;
	size_t base = c->path.len;
	struct fl_template_ref ref;
	int rc = 0;

	if (fl_template_next(&ref, key->v.str.ptr, key->v.str.len, 0) != FL_TEMPLATE_NONE)
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

	fl_json_sorted_members(sorted, node);
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

/* What sum_group sums for the size of every group together; services are at least -2. */
#define ALL_GROUPS (-3)

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/*
 * Sums the programs of service (-1: every tenant's; ALL_GROUPS: those of
 * every group, at least what any tenant renders) into g; count and first
 * are scratch.
 */
static void sum_group(struct size_group *g, const struct program_set *set, int service, size_t *count,
		      size_t *first)
{
	size_t n = 0;

	memset(count, 0, set->nslots * 2 * sizeof(*count));
	for (size_t i = 0; i < set->nprogs; i++) {
		const struct program *p = &set->progs[i];
		if (p->failed || (service == ALL_GROUPS ? p->service < -1 : p->service != service))
			continue;
		g->lit_len = add_sat(g->lit_len, p->lit_len);
		for (size_t k = 0; k < p->nuses; k++) {
			size_t at = (size_t)p->uses[k].slot * 2 + p->uses[k].form;
			if (!count[at]) {
				first[at] = i;
				n++;
			}
			count[at] = add_sat(count[at], p->uses[k].count);
		}
	}
	g->uses = fl_calloc(n ? n : 1, sizeof(*g->uses));
	for (size_t at = 0; at < set->nslots * 2; at++)
		if (count[at])
			g->uses[g->nuses++] = (struct group_use){ (uint32_t)(at / 2), (uint32_t)(at % 2), count[at],
								  first[at] };
}

/* The size groups of set: none when a program names a service the fleet does not have. */
static void make_size_groups(struct program_set *set, const struct fl_fleet *fleet)
{
	for (size_t i = 0; i < set->nprogs; i++) {
		const struct program *p = &set->progs[i];
		if (p->failed)
			continue;
		if (p->service < -2 || (p->service >= 0 && (size_t)p->service >= fleet->nservices))
			return;
		for (size_t k = 0; k < p->nuses; k++)
			if (p->uses[k].slot >= set->nslots || p->uses[k].form > FORM_STR || !p->uses[k].count)
				return;
	}
	size_t *count = fl_calloc(set->nslots * 2, sizeof(*count));
	size_t *first = fl_calloc(set->nslots * 2, sizeof(*first));
	set->ngroups = 1 + fleet->nservices;
	set->groups = fl_calloc(set->ngroups, sizeof(*set->groups));
	for (size_t g = 0; g < set->ngroups; g++)
		sum_group(&set->groups[g], set, (int)g - 1, count, first);
	sum_group(&set->all, set, ALL_GROUPS, count, first);
	free(count);
	free(first);
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
		fl_render_sort_secrets(&set->progs[i]);
	}
	set->nslots = SLOT_VARS + fleet->nvars + set->nlabels;
	make_size_groups(set, fleet);
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

void fl_render_release(struct fl_fleet *fleet)
{
	struct program_set *set = fl_render_set(fleet);

	for (size_t i = 0; set && i < set->nprogs; i++)
		program_release(&set->progs[i]);
	for (size_t i = 0; set && i < set->nlabels; i++)
		free(set->labels[i]);
	for (size_t g = 0; set && g < set->ngroups; g++)
		free(set->groups[g].uses);
	if (set) {
		free(set->all.uses);
		free(set->groups);
		free(set->labels);
		free(set->progs);
		free(set);
	}
	for (size_t i = 0; i < fleet->ntemplates; i++)
		fleet->templates[i].compiled = NULL;
}
