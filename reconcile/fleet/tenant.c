/*
 * Tenant manifests (SPEC 2): parsing and validation of tenants/<name>.yaml
 * against the fleet's declarations, and wave assignment (SPEC 4). Runs on
 * many threads at once: it only reads the fleet and writes into the tenant
 * and context it is given.
 */
#include "reconcile/fleet/fleet_internal.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/yaml.h"
#include "core/banned.h"

#define TENANT_NAME_RULE "[a-z0-9][a-z0-9-]{0,62}"
#define IDENT_RULE "[A-Za-z0-9][A-Za-z0-9._-]{0,127}, no '..'"

/* ---- var values ---- */

static double num_of(const struct fl_node *v)
{
	return v->type == FL_NODE_INT ? (double)v->v.i : v->v.f;
}

static bool var_type_ok(struct fl_vctx *c, const struct fl_var_decl *d, const struct fl_node *v)
{
	static const char *const expect[] = { "a string", "an integer", "a number", "a boolean" };
	char hint[96] = "";
	bool ok;

	switch (d->type) {
	case FL_VAR_STRING:
		ok = v->type == FL_NODE_STR;
		break;
	case FL_VAR_INTEGER:
		ok = v->type == FL_NODE_INT;
		break;
	case FL_VAR_NUMBER:
		ok = v->type == FL_NODE_INT || v->type == FL_NODE_FLOAT;
		break;
	default:
		ok = v->type == FL_NODE_BOOL;
		break;
	}
	if (ok)
		return true;
	if (d->type == FL_VAR_STRING)
		fl_quote_hint(hint, sizeof(hint), c, v);
	fl_verr(c, v, "expected %s for var '%s', got %s%s", expect[d->type], d->name,
		 fl_node_type_name(v->type), hint);
	return false;
}

static bool var_pattern_ok(struct fl_vctx *c, const struct fl_var_decl *d, const struct fl_node *v)
{
	regmatch_t m;

	if (!d->regex || v->type != FL_NODE_STR)
		return true;
	if (regexec(d->regex, v->v.str.ptr, 1, &m, 0) == 0 && m.rm_so == 0 && (size_t)m.rm_eo == v->v.str.len)
		return true;
	if (d->secret)
		fl_verr(c, v, "value of var '%s' does not match pattern '%s'", d->name, d->pattern);
	else
		fl_verr(c, v, "value '%s' of var '%s' does not match pattern '%s'", v->v.str.ptr, d->name,
			 d->pattern);
	return false;
}

static bool var_range_ok(struct fl_vctx *c, const struct fl_var_decl *d, const struct fl_node *v)
{
	double x;

	if (v->type != FL_NODE_INT && v->type != FL_NODE_FLOAT)
		return true;
	x = num_of(v);
	if (d->has_min && x < d->min) {
		fl_verr(c, v, "var '%s' must be at least %g, got %g", d->name, d->min, x);
		return false;
	}
	if (d->has_max && x > d->max) {
		fl_verr(c, v, "var '%s' must be at most %g, got %g", d->name, d->max, x);
		return false;
	}
	return true;
}

bool fl_var_value_check(struct fl_vctx *c, const struct fl_var_decl *d, const struct fl_node *v)
{
	return var_type_ok(c, d, v) && var_pattern_ok(c, d, v) && var_range_ok(c, d, v);
}

/* ---- tenant manifests ---- */

/* In the order of enum tenant_key. */
static const char *const tenant_keys[] = { "name",     "account", "regions", "canary", "labels",
					   "services", "vars",	  "state",   NULL };
enum tenant_key {
	KEY_NAME,
	KEY_ACCOUNT,
	KEY_REGIONS,
	KEY_CANARY,
	KEY_LABELS,
	KEY_SERVICES,
	KEY_VARS,
	KEY_STATE,
	KEY_UNKNOWN
};
static const char *const state_names[] = { "active", "suspended", "decommissioned", NULL };

static void parse_name(struct fl_vctx *c, const struct fl_node *v, const struct fl_tenant_file *file)
{
	const char *fname = file->path + strlen("tenants/");

	if (!fl_vexpect(c, v, FL_NODE_STR, "a string"))
		return;
	if (!fl_tenant_name_valid(v->v.str.ptr, v->v.str.len))
		fl_verr(c, v, "invalid tenant name '%s' (expected " TENANT_NAME_RULE ")", v->v.str.ptr);
	else if (strcmp(v->v.str.ptr, file->base) != 0)
		fl_verr(c, v, "tenant name '%s' does not match file name '%s'", v->v.str.ptr, fname);
}

static void parse_account(struct fl_tenant *t, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_STR, "a string"))
		return;
	if (!fl_ident_valid(v->v.str.ptr, v->v.str.len)) {
		fl_verr(c, v, "invalid account '%s' (expected " IDENT_RULE ")", v->v.str.ptr);
		return;
	}
	t->account = fl_arena_strndup(c->arena, v->v.str.ptr, v->v.str.len);
	t->account_line = v->line;
	t->account_col = v->col;
}

static bool region_ok(const struct fl_node *r)
{
	return r->type == FL_NODE_STR && fl_ident_valid(r->v.str.ptr, r->v.str.len);
}

/*
 * Whether name is among the regions kept so far. Every valid name before it
 * is kept or the same as one kept, so this finds exactly the repeats. At most
 * FL_TENANT_MAX_REGIONS names: a scan costs less than sorting them.
 */
static bool region_kept(const struct fl_tenant *t, const char *name)
{
	for (size_t i = 0; i < t->nregions; i++)
		if (strcmp(t->regions[i], name) == 0)
			return true;
	return false;
}

static void parse_regions(struct fl_tenant *t, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_SEQ, "a list of regions"))
		return;
	if (v->v.seq.len == 0) {
		fl_verr(c, v, "expected at least one region");
		return;
	}
	if (v->v.seq.len > FL_TENANT_MAX_REGIONS) {
		fl_verr(c, v->v.seq.items[FL_TENANT_MAX_REGIONS],
			 "more than %d regions (the limit per tenant)", FL_TENANT_MAX_REGIONS);
		return;
	}
	t->regions = fl_arena_calloc(c->arena, v->v.seq.len, sizeof(*t->regions));
	for (size_t i = 0; i < v->v.seq.len; i++) {
		const struct fl_node *r = v->v.seq.items[i];
		if (!fl_vexpect(c, r, FL_NODE_STR, "a string"))
			continue;
		if (!region_ok(r))
			fl_verr(c, r, "invalid region '%s' (expected " IDENT_RULE ")", r->v.str.ptr);
		else if (region_kept(t, r->v.str.ptr))
			fl_verr(c, r, "duplicate region '%s'", r->v.str.ptr);
		else
			t->regions[t->nregions++] = fl_arena_strndup(c->arena, r->v.str.ptr, r->v.str.len);
	}
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fl_label *)a)->key, ((const struct fl_label *)b)->key);
}

static void parse_labels(struct fl_tenant *t, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_MAP, "a mapping of labels"))
		return;
	t->labels = fl_arena_calloc(c->arena, v->v.map.len, sizeof(*t->labels));
	for (size_t i = 0; i < v->v.map.len; i++) {
		const struct fl_pair *p = &v->v.map.items[i];
		char hint[96] = "";
		if (p->value->type != FL_NODE_STR) {
			fl_quote_hint(hint, sizeof(hint), c, p->value);
			fl_verr(c, p->value, "expected a string for label '%s', got %s%s", p->key->v.str.ptr,
				 fl_node_type_name(p->value->type), hint);
			continue;
		}
		t->labels[t->nlabels].key = fl_arena_strndup(c->arena, p->key->v.str.ptr, p->key->v.str.len);
		t->labels[t->nlabels++].value =
			fl_arena_strndup(c->arena, p->value->v.str.ptr, p->value->v.str.len);
	}
	qsort(t->labels, t->nlabels, sizeof(*t->labels), label_cmp);
}

static void unknown_service(struct fl_vctx *c, const struct fl_fleet *fleet, const struct fl_node *s)
{
	const char *hint = NULL;

	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < fleet->nservices; i++) {
		size_t d = fl_suggest_score(s->v.str.ptr, fleet->services[i]);
		if (d < best_d) {
			best_d = d;
			hint = fleet->services[i];
		}
	}
	if (hint)
		fl_verr(c, s, "unknown service '%s' (did you mean '%s'?)", s->v.str.ptr, hint);
	else
		fl_verr(c, s, "unknown service '%s' (fleet.yaml declares %zu services)", s->v.str.ptr,
			 fleet->nservices);
}

static void parse_services(struct fl_tenant *t, struct fl_vctx *c, const struct fl_fleet *fleet,
			   const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_SEQ, "a list of services"))
		return;
	for (size_t i = 0; i < v->v.seq.len; i++) {
		const struct fl_node *s = v->v.seq.items[i];
		size_t k;
		if (!fl_vexpect(c, s, FL_NODE_STR, "a string"))
			continue;
		for (k = 0; k < fleet->nservices; k++)
			if (strcmp(fleet->services[k], s->v.str.ptr) == 0)
				break;
		if (k == fleet->nservices)
			unknown_service(c, fleet, s);
		else if (t->services & ((uint64_t)1 << k))
			fl_verr(c, s, "duplicate service '%s'", s->v.str.ptr);
		else
			t->services |= (uint64_t)1 << k;
	}
}

/* A copy of a scalar node in arena (var values are scalars: their types say so). */
static const struct fl_node *copy_scalar(struct fl_arena *arena, const struct fl_node *v)
{
	struct fl_node *n = fl_arena_alloc(arena, sizeof(*n));

	*n = *v;
	if (v->type == FL_NODE_STR)
		n->v.str.ptr = fl_arena_strndup(arena, v->v.str.ptr, v->v.str.len);
	return n;
}

static void unknown_var(struct fl_vctx *c, const struct fl_fleet *fleet, const struct fl_node *key)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	/* A suggestion costs a pass over every var: only for an error that is kept. */
	for (size_t i = 0; i < fleet->nvars && c->diags->len < FL_FLEET_MAX_DIAGS; i++) {
		size_t d = fl_suggest_score(key->v.str.ptr, fleet->vars[i].name);
		if (d < best_d) {
			best_d = d;
			best = fleet->vars[i].name;
		}
	}
	if (best)
		fl_verr(c, key, "unknown var '%s' (did you mean '%s'?)", key->v.str.ptr, best);
	else
		fl_verr(c, key, "unknown var '%s' (fleet.yaml declares no such var)", key->v.str.ptr);
}

/* Sets given[i] for each var i the mapping names, valid or not. */
static void parse_vars(struct fl_tenant *t, struct fl_vctx *c, const struct fl_fleet *fleet,
		       const struct fl_node *v, bool *given)
{
	if (!fl_vexpect(c, v, FL_NODE_MAP, "a mapping of vars"))
		return;
	for (size_t i = 0; i < v->v.map.len; i++) {
		const struct fl_pair *p = &v->v.map.items[i];
		const struct fl_var_decl *d = fl_fleet_var(fleet, p->key->v.str.ptr, p->key->v.str.len);
		if (!d) {
			unknown_var(c, fleet, p->key);
			continue;
		}
		given[d - fleet->vars] = true;
		if (fl_var_value_check(c, d, p->value))
			t->vars[d - fleet->vars] = copy_scalar(c->arena, p->value);
	}
}

static void parse_state(struct fl_tenant *t, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_STR, "a string"))
		return;
	for (size_t i = 0; state_names[i]; i++)
		if (strcmp(v->v.str.ptr, state_names[i]) == 0) {
			t->state = (enum fl_tenant_state)i;
			return;
		}
	fl_verr(c, v, "invalid state '%s' (expected active, suspended or decommissioned)", v->v.str.ptr);
}

/*
 * Which of tenant_keys key is: its first byte picks the one candidate, a
 * strcmp confirms it, so a manifest's key costs one compare, not one a
 * candidate. Keys hold no NUL (the YAML reader refuses them).
 */
static enum tenant_key tenant_key_of(const struct fl_node *key)
{
	const char *s = key->v.str.ptr;
	enum tenant_key k;

	switch (s[0]) {
	case 'n':
		k = KEY_NAME;
		break;
	case 'a':
		k = KEY_ACCOUNT;
		break;
	case 'r':
		k = KEY_REGIONS;
		break;
	case 'c':
		k = KEY_CANARY;
		break;
	case 'l':
		k = KEY_LABELS;
		break;
	case 's':
		k = s[1] == 'e' ? KEY_SERVICES : KEY_STATE;
		break;
	case 'v':
		k = KEY_VARS;
		break;
	default:
		return KEY_UNKNOWN;
	}
	return strcmp(s, tenant_keys[k]) == 0 ? k : KEY_UNKNOWN;
}

/*
 * Parses one entry of the manifest; seen[k] is set to the value of key k
 * (a key comes once: the YAML and JSON loaders refuse repeats).
 */
static void parse_key(struct fl_tenant *t, struct fl_vctx *c, const struct fl_fleet *fleet,
		      const struct fl_tenant_file *file, const struct fl_pair *p, bool *given,
		      const struct fl_node **seen)
{
	const struct fl_node *v = p->value;
	enum tenant_key k = tenant_key_of(p->key);

	if (k != KEY_UNKNOWN)
		seen[k] = v;
	switch (k) {
	case KEY_NAME:
		parse_name(c, v, file);
		break;
	case KEY_ACCOUNT:
		parse_account(t, c, v);
		break;
	case KEY_REGIONS:
		parse_regions(t, c, v);
		break;
	case KEY_CANARY:
		if (fl_vexpect(c, v, FL_NODE_BOOL, "a boolean"))
			t->canary = v->v.b;
		break;
	case KEY_LABELS:
		parse_labels(t, c, v);
		break;
	case KEY_SERVICES:
		parse_services(t, c, fleet, v);
		break;
	case KEY_VARS:
		parse_vars(t, c, fleet, v, given);
		break;
	case KEY_STATE:
		parse_state(t, c, v);
		break;
	default:
		fl_unknown_key(c, p->key, "tenant", tenant_keys);
		break;
	}
}

/* Required keys and vars, and the defaults of vars not given; seen as parse_key left it. */
static void check_required(struct fl_tenant *t, struct fl_vctx *c, const struct fl_fleet *fleet,
			   const struct fl_node *root, const bool *given, const struct fl_node *const *seen)
{
	static const enum tenant_key required[] = { KEY_NAME, KEY_ACCOUNT, KEY_REGIONS };
	const struct fl_node *vars = seen[KEY_VARS];

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!seen[required[i]])
			fl_verr(c, root, "missing required key '%s' in tenant", tenant_keys[required[i]]);
	for (size_t i = 0; i < fleet->nvars; i++) {
		const struct fl_var_decl *d = &fleet->vars[i];
		if (t->vars[i] || given[i])
			continue;
		if (d->def)
			t->vars[i] = d->def;
		else if (d->required)
			fl_verr(c, vars && vars->type == FL_NODE_MAP ? vars : root,
				 "missing required var '%s'", d->name);
	}
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* O(log n) in the selector's lists: they are sorted (fleet_yaml.c). */
static bool selector_matches(const struct fl_selector *s, const struct fl_tenant *t)
{
	switch (s->kind) {
	case FL_SELECT_CANARY:
		return t->canary;
	case FL_SELECT_REST:
		return true;
	case FL_SELECT_TENANTS:
		return bsearch(&t->name, s->tenants, s->ntenants, sizeof(*s->tenants), str_ptr_cmp) != NULL;
	default:
		break;
	}
	for (size_t i = 0; i < s->nlabels; i++) {
		const char *have = fl_tenant_label(t, s->labels[i].key);
		if (!have || !bsearch(&have, s->labels[i].values, s->labels[i].nvalues,
				      sizeof(*s->labels[i].values), str_ptr_cmp))
			return false;
	}
	return true;
}

static void assign_wave(struct fl_tenant *t, struct fl_vctx *c, const struct fl_fleet *fleet,
			const struct fl_node *root)
{
	size_t w;

	for (w = 0; w < fleet->nwaves; w++)
		if (selector_matches(&fleet->waves[w].select, t))
			break;
	if (w == fleet->nwaves) {
		fl_verr(c, fl_node_get(root, "name"),
			 "tenant '%s' matches no wave; add a wave with 'select: rest' or change its labels",
			 t->name);
		return;
	}
	t->wave = w;
	if (t->canary && w != 0)
		fl_verr(c, fl_node_get(root, "canary"),
			 "canary tenant '%s' falls in wave '%s', but canaries must be in the first wave '%s'",
			 t->name, fleet->waves[w].name, fleet->waves[0].name);
}

int fl_tenant_parse(struct fl_tenant *t, struct fl_vctx *c, struct fl_arena *scratch,
		     const struct fl_fleet *fleet, const struct fl_tenant_file *file, bool check_waves,
		     struct fl_error *err)
{
	struct fl_node *root = NULL;
	struct fl_error e = FL_ERROR_INIT;
	size_t before = c->nerrors;
	bool *given = NULL; /* by var index: named in vars, valid or not */
	const struct fl_node *seen[KEY_UNKNOWN] = { NULL }; /* by enum tenant_key: the key's value */
	int rc = 0;

	memset(t, 0, sizeof(*t));
	t->name = file->base;
	t->path = file->path;
	t->blob = file->blob;
	rc = fl_yaml_load_one(&root, scratch, c->src, NULL, &e);
	if (rc == FL_EINPUT || rc == FL_ELIMIT) {
		c->nerrors++;
		fl_diags_add(c->diags, &e);
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		*err = e;
		goto out;
	}
	if (!root || root->type != FL_NODE_MAP) {
		fl_verr(c, root, "expected a mapping of tenant settings, got %s",
			 fl_node_type_name(root ? root->type : FL_NODE_NULL));
		goto out;
	}
	t->vars = fl_arena_calloc(c->arena, fleet->nvars, sizeof(*t->vars));
	given = fl_arena_calloc(scratch, fleet->nvars ? fleet->nvars : 1, sizeof(*given));
	for (size_t i = 0; i < root->v.map.len; i++)
		parse_key(t, c, fleet, file, &root->v.map.items[i], given, seen);
	check_required(t, c, fleet, root, given, seen);
	if (check_waves && c->nerrors == before)
		assign_wave(t, c, fleet, root);
out:
	return rc;
}
