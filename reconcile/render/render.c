/*
 * Rendering (SPEC 2 and 3): running the programs render_compile.c made for
 * one tenant and region. Each value is resolved once per call; measuring a
 * resource before writing it checks the limits before a byte is allocated,
 * and writing it is one walk of memcpy calls, with no allocation per
 * resource. Also the plain-text form of a template string (verify commands).
 */
#include "reconcile/render/render.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "reconcile/render/render_internal.h"
#include "reconcile/render/template.h"
#include "core/banned.h"

/* A value of one render call, as written in each form: bytes of scratch. */
struct slotval {
	size_t off[2], len[2];   /* by form: FORM_VAL, FORM_STR; off unset when measured only */
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
	bool measuring;          /* the check: a missing value counts as empty, and values
				  * are measured, written to scratch only when they must be */
	bool bounding;           /* measuring by bounds: a string counts as long as it could
				  * escape to, from its length alone */
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

const char *fl_render_label(const struct fl_tenant *tenant, const char *key, size_t keylen)
{
	struct name_key k = { key, keylen };
	const struct fl_label *l = NULL;

	if (tenant->nlabels)
		l = bsearch(&k, tenant->labels, tenant->nlabels, sizeof(*tenant->labels), label_key_cmp);
	return l ? l->value : NULL;
}

static int slot_from_str(struct render_call *call, struct slotval *v, const char *s)
{
	size_t start = call->scratch.len, len = s ? strlen(s) : 0, n;
	int rc = 0;

	if (!s)
		s = "";
	if (call->bounding) {
		n = fl_json_str_max_len(len);
	} else if (call->measuring) {
		n = fl_json_str_len(s, len);
	} else {
		rc = fl_json_put_str(&call->scratch, s, len);
		n = call->scratch.len - start;
	}
	v->off[FORM_VAL] = start;
	v->len[FORM_VAL] = n;
	v->off[FORM_STR] = start + 1;
	v->len[FORM_STR] = rc ? 0 : v->len[FORM_VAL] - 2;
	return rc;
}

/* Canonical JSON; as text, strings lose their quotes and null is empty. */
static int slot_from_node(struct render_call *call, struct slotval *v, const struct fl_node *node)
{
	size_t start = call->scratch.len, n = 0;
	int rc = 0;

	if (call->bounding && node->type == FL_NODE_STR) {
		n = fl_json_str_max_len(node->v.str.len);
	} else if (!call->measuring || !fl_json_scalar_len(&n, node)) {
		rc = fl_json_canonical(&call->scratch, node, call->err);
		n = call->scratch.len - start;
	}

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

	if (call->measuring) {
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
		label = fl_render_label(t, key, strlen(key));
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
	call->set = fl_render_set(fleet);
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

_Static_assert(FL_RENDER_MAX_RESOURCE < FL_RENDER_MAX_REGION, "fits_by_sums checks the smaller limit only");

/*
 * Adds group g's size in call->region to *total; false, leaving *total as it
 * was, past FL_RENDER_MAX_RESOURCE or on a problem.
 */
static bool add_group(struct render_call *call, const struct size_group *g, size_t *total)
{
	size_t n = *total;

	if (g->lit_len > FL_RENDER_MAX_RESOURCE - n)
		return false;
	n += g->lit_len;
	for (size_t i = 0; i < g->nuses; i++) {
		const struct group_use *u = &g->uses[i];
		if (!call->slots[u->slot].resolved && resolve(call, u->slot, &call->fleet->templates[u->prog]))
			return false;
		size_t len = call->slots[u->slot].len[u->form];
		if (len && u->count > (FL_RENDER_MAX_RESOURCE - n) / len)
			return false;
		n += u->count * len;
	}
	*total = n;
	return true;
}

/*
 * True when the tenant provably fits in every region, from the sums of its
 * groups: all it renders in a region is at most FL_RENDER_MAX_RESOURCE
 * (below FL_RENDER_MAX_REGION), so neither a resource nor a region can pass
 * a limit, and every value its resources use resolved. The sum of all
 * groups is tried first: one list, shorter than the tenant's groups'
 * together, and enough for nearly every tenant. False when that does not
 * settle it; the walk of check_region then decides, as it always did.
 */
static bool fits_by_sums(struct render_call *call)
{
	const struct program_set *set = call->set;
	const struct fl_tenant *t = call->tenant;

	if (!set->groups)
		return false;
	for (size_t r = 0; r < t->nregions; r++) {
		size_t total = 0;
		call->region = t->regions[r];
		call->slots[SLOT_REGION].resolved = false;
		if (add_group(call, &set->all, &total))
			continue;
		for (size_t g = 0; g < set->ngroups; g++)
			if ((g == 0 || ((t->services >> (g - 1)) & 1)) && !add_group(call, &set->groups[g], &total))
				return false;
	}
	return true;
}

/* fits_by_sums in a call of its own, without an error: bounding says how values are measured. */
static bool sums_fit(const struct fl_fleet *fleet, const struct fl_tenant *tenant, bool bounding)
{
	struct slotval stack[STACK_SLOTS];
	struct render_call call;
	int rc = call_begin(&call, stack, fleet, tenant, NULL);
	bool fits;

	call.measuring = true;
	call.bounding = bounding;
	fits = !rc && call.set && fits_by_sums(&call);
	call_end(&call, stack);
	return fits;
}

int fl_render_check_tenant(const struct fl_fleet *fleet, const struct fl_tenant *tenant,
			   struct fl_error *err)
{
	struct slotval stack[STACK_SLOTS];
	struct render_call call;
	int rc;

	/* The sums first, which can only say that it fits: of bounds, which read no
	 * string and settle nearly every tenant, and then of lengths. */
	if (sums_fit(fleet, tenant, true) || sums_fit(fleet, tenant, false))
		return 0;
	rc = call_begin(&call, stack, fleet, tenant, err);

	call.measuring = true;
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

/* What the names of a plain string stand for. */
struct text_names {
	const struct fl_fleet *fleet;
	const struct fl_tenant *tenant;
	const char *region;     /* NULL: {{region}} is unknown */
};

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

/* An fl_template_lookup_fn: the text of a name for one tenant and region. */
static int put_name(struct fl_buf *out, const char *name, size_t len, struct fl_error *err,
		    void *payload)
{
	const struct text_names *tn = payload;
	const struct fl_tenant *t = tn->tenant;
	struct name n = fl_render_name(tn->fleet, name, len);
	const char *s = NULL;
	int rc = 0;

	if (n.kind == NAME_UNKNOWN || (n.kind == NAME_REGION && !tn->region))
		rc = fl_error_set(err, FL_EINPUT, "unknown template variable '%.*s'",
				  (int)(len > 200 ? 200 : len), name);
	else if (n.kind == NAME_VAR && !(t->vars && t->vars[n.var]))
		rc = fl_error_set(err, FL_EINPUT, "tenant '%s' does not set var '%s' and it has no default",
				  t->name, tn->fleet->vars[n.var].name);
	else if (n.kind == NAME_VAR)
		rc = put_text(out, t->vars[n.var], err);
	else if (n.kind == NAME_LABEL && !(s = fl_render_label(t, n.key, n.keylen)))
		rc = fl_error_set(err, FL_EINPUT, "tenant '%s' has no label '%.*s'", t->name,
				  (int)(n.keylen > 200 ? 200 : n.keylen), n.key);
	else
		s = n.kind == NAME_TENANT ? t->name : n.kind == NAME_ACCOUNT ? t->account
			: n.kind == NAME_REGION ? tn->region : s;
	if (!rc && s)
		rc = fl_buf_puts(out, s);
	return rc;
}

int fl_render_string(struct fl_buf *out, const struct fl_fleet *fleet, const struct fl_tenant *tenant,
		     const char *region, const char *tmpl, struct fl_error *err)
{
	struct text_names tn = { fleet, tenant, region };
	int rc;

	fl_buf_clear(out);
	rc = fl_template_expand(out, tmpl, NULL, put_name, &tn, err);
	if (rc)
		fl_buf_clear(out);
	return rc;
}
