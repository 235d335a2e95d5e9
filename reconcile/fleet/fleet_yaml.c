/*
 * fleet.yaml (SPEC 2 and 4): the fleet's settings, vars, services, waves and
 * their selectors, guard, driver and status writers, parsed and validated
 * into struct fl_fleet, with every problem positioned in the file.
 */
#include "reconcile/fleet/fleet_internal.h"

#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/secret_env.h"
#include "reconcile/status/status.h"
#include "core/banned.h"

#define TENANT_NAME_RULE "[a-z0-9][a-z0-9-]{0,62}"
#define IDENT_RULE "[A-Za-z0-9][A-Za-z0-9._-]{0,127}, no '..'"
#define MAX_SERVICES 64
#define DEFAULT_VERIFY_TIMEOUT_S 300

/* ---- small values: durations, amounts, names ---- */

/* Parses "N%" with N in [lo, hi]. */
static bool parse_percent(unsigned *out, const char *s, size_t len, unsigned lo, unsigned hi)
{
	unsigned n = 0;

	if (len < 2 || len > 4 || s[len - 1] != '%')
		return false;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (unsigned)(s[i] - '0');
	}
	if (n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

/* An amount: an integer >= min_count, or "N%" with min_pct <= N <= 100. */
static void parse_amount(struct fl_amount *out, struct fl_vctx *c, const struct fl_node *v, const char *key,
			 unsigned min_count, unsigned min_pct)
{
	if (v->type == FL_NODE_INT && v->v.i >= (int64_t)min_count && v->v.i <= UINT32_MAX) {
		out->percent = false;
		out->value = (unsigned)v->v.i;
		return;
	}
	if (v->type == FL_NODE_STR && parse_percent(&out->value, v->v.str.ptr, v->v.str.len, min_pct, 100)) {
		out->percent = true;
		return;
	}
	if (v->type == FL_NODE_INT)
		fl_verr(c, v,
			 "invalid %s %" PRId64 " (expected an integer >= %u or a percentage %u%%..100%%)",
			 key, v->v.i, min_count, min_pct);
	else if (v->type == FL_NODE_STR)
		fl_verr(c, v, "invalid %s '%s' (expected an integer >= %u or a percentage %u%%..100%%)", key,
			 v->v.str.ptr, min_count, min_pct);
	else
		fl_verr(c, v, "expected an integer or a percentage for %s, got %s", key,
			 fl_node_type_name(v->type));
}

static void parse_duration_node(unsigned *out, struct fl_vctx *c, const struct fl_node *v, const char *key)
{
	if (v->type == FL_NODE_STR && fl_duration_parse(out, v->v.str.ptr))
		return;
	if (v->type == FL_NODE_STR)
		fl_verr(c, v, "invalid %s '%s' (expected a duration like 30s, 15m, 2h, 1h30m or 1d)", key,
			 v->v.str.ptr);
	else
		fl_verr(c, v, "expected a duration like 30s, 15m, 2h, 1h30m or 1d for %s, got %s", key,
			 fl_node_type_name(v->type));
}


static bool var_name_valid(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

/* ---- vars ---- */

static const char *const var_keys[] = {
	"type", "required", "default", "pattern", "min", "max", "secret", NULL
};
static const char *const var_types[] = { "string", "integer", "number", "boolean", NULL };

static void parse_var_pattern(struct fl_var_decl *d, struct fl_vctx *c, const struct fl_node *v)
{
	regex_t *re;
	char msg[128];
	int rc;

	if (!fl_vstring(c, v))
		return;
	if (d->type != FL_VAR_STRING) {
		fl_verr(c, v, "a pattern is only allowed for string vars (var '%s' is %s)", d->name,
			 var_types[d->type]);
		return;
	}
	re = fl_arena_alloc(c->arena, sizeof(*re));
	rc = regcomp(re, v->v.str.ptr, REG_EXTENDED);
	if (rc != 0) {
		regerror(rc, re, msg, sizeof(msg));
		if (msg[0] >= 'A' && msg[0] <= 'Z')
			msg[0] = (char)(msg[0] - 'A' + 'a');
		fl_verr(c, v, "invalid pattern '%s' (%s)", v->v.str.ptr, msg);
		regfree(re);
		return;
	}
	d->pattern = v->v.str.ptr;
	d->regex = re;
}

static void parse_var_bound(bool *has, double *out, struct fl_var_decl *d, struct fl_vctx *c,
			    const struct fl_node *v, const char *key)
{
	if (d->type != FL_VAR_INTEGER && d->type != FL_VAR_NUMBER) {
		fl_verr(c, v, "%s is only allowed for integer and number vars (var '%s' is %s)", key,
			 d->name, var_types[d->type]);
		return;
	}
	if (v->type != FL_NODE_INT && v->type != FL_NODE_FLOAT) {
		fl_verr(c, v, "expected a number for %s, got %s", key, fl_node_type_name(v->type));
		return;
	}
	*has = true;
	*out = v->type == FL_NODE_INT ? (double)v->v.i : v->v.f;
}

static bool parse_var_type(struct fl_var_decl *d, struct fl_vctx *c, const struct fl_node *decl)
{
	const struct fl_node *t = fl_node_get(decl, "type");

	if (!t) {
		fl_verr(c, decl,
			 "missing required key 'type' in var '%s' (expected string, integer, number or "
			 "boolean)",
			 d->name);
		return false;
	}
	if (!fl_vstring(c, t))
		return false;
	for (size_t i = 0; var_types[i]; i++)
		if (strcmp(t->v.str.ptr, var_types[i]) == 0) {
			d->type = (enum fl_var_type)i;
			return true;
		}
	fl_verr(c, t, "unknown var type '%s' (expected string, integer, number or boolean)", t->v.str.ptr);
	return false;
}

static void parse_var(struct fl_var_decl *d, struct fl_vctx *c, const struct fl_pair *entry)
{
	const struct fl_node *decl = entry->value;
	size_t before = c->nerrors;

	d->name = entry->key->v.str.ptr;
	d->line = entry->key->line;
	d->col = entry->key->col;
	if (!var_name_valid(d->name))
		fl_verr(c, entry->key, "invalid var name '%s' (expected [A-Za-z_][A-Za-z0-9_]*)", d->name);
	if (!fl_vexpect(c, decl, FL_NODE_MAP, "a mapping like { type: string }") ||
	    !parse_var_type(d, c, decl))
		return;
	for (size_t i = 0; i < decl->v.map.len; i++) {
		const struct fl_pair *p = &decl->v.map.items[i];
		const struct fl_node *v = p->value;
		if (fl_key_is(p, "type"))
			continue;
		else if (fl_key_is(p, "required") && fl_vexpect(c, v, FL_NODE_BOOL, "a boolean"))
			d->required = v->v.b;
		else if (fl_key_is(p, "secret") && fl_vexpect(c, v, FL_NODE_BOOL, "a boolean"))
			d->secret = v->v.b;
		else if (fl_key_is(p, "pattern"))
			parse_var_pattern(d, c, v);
		else if (fl_key_is(p, "min"))
			parse_var_bound(&d->has_min, &d->min, d, c, v, "min");
		else if (fl_key_is(p, "max"))
			parse_var_bound(&d->has_max, &d->max, d, c, v, "max");
		else if (!fl_key_is(p, "default") && !fl_key_is(p, "required") && !fl_key_is(p, "secret"))
			fl_unknown_key(c, p->key, "var declaration", var_keys);
	}
	if (d->has_min && d->has_max && d->min > d->max)
		fl_verr(c, fl_node_get(decl, "max"), "max %g of var '%s' is less than its min %g", d->max,
			 d->name, d->min);
	d->def = fl_node_get(decl, "default");
	if (d->def && c->nerrors == before && !fl_var_value_check(c, d, d->def))
		d->def = NULL;
}

static void parse_vars(struct fl_fleet *f, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_MAP, "a mapping of var declarations"))
		return;
	f->vars = fl_arena_calloc(c->arena, v->v.map.len, sizeof(*f->vars));
	f->nvars = v->v.map.len;
	for (size_t i = 0; i < v->v.map.len; i++)
		parse_var(&f->vars[i], c, &v->v.map.items[i]);
	fl_fleet_index_vars(f);
}

/* ---- services ---- */

static void parse_services(struct fl_fleet *f, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_SEQ, "a list of services"))
		return;
	f->services = fl_arena_calloc(c->arena, v->v.seq.len, sizeof(*f->services));
	for (size_t i = 0; i < v->v.seq.len; i++) {
		const struct fl_node *s = v->v.seq.items[i];
		bool dup = false;
		if (!fl_vstring(c, s))
			continue;
		if (!fl_ident_valid(s->v.str.ptr, s->v.str.len)) {
			fl_verr(c, s, "invalid service name '%s' (expected " IDENT_RULE ")", s->v.str.ptr);
			continue;
		}
		for (size_t j = 0; j < f->nservices && !dup; j++)
			dup = strcmp(f->services[j], s->v.str.ptr) == 0;
		if (dup) {
			fl_verr(c, s, "duplicate service '%s'", s->v.str.ptr);
		} else if (f->nservices == MAX_SERVICES) {
			fl_verr(c, s, "more than %d services", MAX_SERVICES);
			break;
		} else {
			f->services[f->nservices++] = s->v.str.ptr;
		}
	}
}

/* ---- waves ---- */

static const char *const wave_keys[] = { "name", "select", "max_parallel", "failure_tolerance",
					 "bake", "gate",   "verify",	   "on_failure", NULL };
static const char *const selector_keys[] = { "canary", "labels", "tenants", NULL };
static const char *const verify_keys[] = { "name", "run", "timeout", "pass_env", NULL };

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define SELECTOR_FORMS "'rest', { canary: true }, { labels: {...} } or { tenants: [...] }"

static void parse_label_match(struct fl_label_match *m, struct fl_vctx *c, const struct fl_pair *p)
{
	const struct fl_node *v = p->value;

	m->key = p->key->v.str.ptr;
	if (v->type == FL_NODE_STR) {
		m->values = fl_arena_calloc(c->arena, 1, sizeof(*m->values));
		m->values[0] = v->v.str.ptr;
		m->nvalues = 1;
		return;
	}
	if (v->type != FL_NODE_SEQ || v->v.seq.len == 0) {
		char hint[96] = "";
		fl_quote_hint(hint, sizeof(hint), c, v);
		fl_verr(c, v, "expected a string or a non-empty list of strings for label '%s', got %s%s",
			 m->key, fl_node_type_name(v->type), hint);
		return;
	}
	/* Sorted: every tenant is looked up in the list (tenant.c). */
	if (fl_vstrings(&m->values, &m->nvalues, c, v, "a label"))
		qsort(m->values, m->nvalues, sizeof(*m->values), str_ptr_cmp);
}

static void parse_select_tenants(struct fl_selector *s, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vstrings(&s->tenants, &s->ntenants, c, v, "tenants"))
		return;
	for (size_t i = 0; i < s->ntenants; i++)
		if (!fl_tenant_name_valid(s->tenants[i], strlen(s->tenants[i])))
			fl_verr(c, v->v.seq.items[i],
				 "invalid tenant name '%s' (expected " TENANT_NAME_RULE ")", s->tenants[i]);
	/* Sorted: every tenant is looked up in the list (tenant.c). */
	qsort(s->tenants, s->ntenants, sizeof(*s->tenants), str_ptr_cmp);
}

static void parse_select_map(struct fl_selector *s, struct fl_vctx *c, const struct fl_node *v)
{
	/* An empty map ({}) has no items at all: look at the first only once there is one. */
	if (v->v.map.len != 1) {
		fl_verr(c, v->v.map.len ? v->v.map.items[1].key : v,
			 "expected a selector with exactly one of canary, labels or tenants");
		return;
	}
	const struct fl_pair *p = &v->v.map.items[0];
	if (fl_key_is(p, "canary")) {
		s->kind = FL_SELECT_CANARY;
		if (p->value->type != FL_NODE_BOOL || !p->value->v.b)
			fl_verr(c, p->value, "expected 'canary: true'");
	} else if (fl_key_is(p, "labels")) {
		s->kind = FL_SELECT_LABELS;
		if (!fl_vexpect(c, p->value, FL_NODE_MAP, "a mapping of labels"))
			return;
		if (p->value->v.map.len == 0) {
			fl_verr(c, p->value, "expected at least one label");
			return;
		}
		s->labels = fl_arena_calloc(c->arena, p->value->v.map.len, sizeof(*s->labels));
		s->nlabels = p->value->v.map.len;
		for (size_t i = 0; i < s->nlabels; i++)
			parse_label_match(&s->labels[i], c, &p->value->v.map.items[i]);
	} else if (fl_key_is(p, "tenants")) {
		s->kind = FL_SELECT_TENANTS;
		parse_select_tenants(s, c, p->value);
	} else {
		const char *hint = fl_suggest(p->key->v.str.ptr, selector_keys);
		if (hint)
			fl_verr(c, p->key, "unknown selector '%s' (did you mean '%s'?)", p->key->v.str.ptr,
				 hint);
		else
			fl_verr(c, p->key, "unknown selector '%s' (expected " SELECTOR_FORMS ")",
				 p->key->v.str.ptr);
	}
}

static void parse_selector(struct fl_selector *s, struct fl_vctx *c, const struct fl_node *v)
{
	s->node = v;
	if (v->type == FL_NODE_STR && strcmp(v->v.str.ptr, "rest") == 0)
		s->kind = FL_SELECT_REST;
	else if (v->type == FL_NODE_STR)
		fl_verr(c, v, "unknown selector '%s' (expected " SELECTOR_FORMS ")", v->v.str.ptr);
	else if (v->type == FL_NODE_MAP)
		parse_select_map(s, c, v);
	else
		fl_verr(c, v, "expected a selector (" SELECTOR_FORMS "), got %s",
			 fl_node_type_name(v->type));
}

static void parse_verify_one(struct fl_verify *out, struct fl_vctx *c, const struct fl_node *v)
{
	static const char *const required[] = { "name", "run", NULL };

	out->timeout_s = DEFAULT_VERIFY_TIMEOUT_S;
	if (!fl_vexpect(c, v, FL_NODE_MAP, "a mapping like { name: smoke, run: [...] }"))
		return;
	for (size_t i = 0; i < v->v.map.len; i++) {
		const struct fl_pair *p = &v->v.map.items[i];
		if (fl_key_is(p, "name")) {
			out->name = fl_vstring(c, p->value);
			if (out->name && !*out->name)
				fl_verr(c, p->value, "expected a non-empty verify name");
		} else if (fl_key_is(p, "run")) {
			fl_vstrings(&out->argv, &out->argc, c, p->value, "run");
		} else if (fl_key_is(p, "timeout")) {
			parse_duration_node(&out->timeout_s, c, p->value, "timeout");
		} else if (fl_key_is(p, "pass_env")) {
			fl_vpass_env(&out->pass_env, &out->npass_env, &out->pass_env_node, c, p->value);
		} else {
			fl_unknown_key(c, p->key, "verify", verify_keys);
		}
	}
	fl_missing_keys(c, v, "verify", required);
}

static void parse_verify(struct fl_wave *w, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_SEQ, "a list of verify commands"))
		return;
	w->verify = fl_arena_calloc(c->arena, v->v.seq.len, sizeof(*w->verify));
	w->nverify = v->v.seq.len;
	for (size_t i = 0; i < v->v.seq.len; i++)
		parse_verify_one(&w->verify[i], c, v->v.seq.items[i]);
}

static void parse_wave_name(struct fl_wave *w, struct fl_vctx *c, const struct fl_fleet *f, size_t idx,
			    const struct fl_node *v)
{
	if (!fl_vstring(c, v))
		return;
	if (!fl_tenant_name_valid(v->v.str.ptr, v->v.str.len)) {
		fl_verr(c, v, "invalid wave name '%s' (expected " TENANT_NAME_RULE ")", v->v.str.ptr);
		return;
	}
	for (size_t j = 0; j < idx; j++)
		if (f->waves[j].name && strcmp(f->waves[j].name, v->v.str.ptr) == 0) {
			fl_verr(c, v, "duplicate wave '%s'", v->v.str.ptr);
			return;
		}
	w->name = v->v.str.ptr;
}

/* What a tenant's failure does besides counting against the tolerance (SPEC 4). */
static void parse_on_failure(struct fl_wave *w, struct fl_vctx *c, const struct fl_node *v)
{
	if (v->type == FL_NODE_STR && strcmp(v->v.str.ptr, "rollback") == 0)
		w->rollback = true;
	else if (v->type == FL_NODE_STR && strcmp(v->v.str.ptr, "halt") != 0)
		fl_verr(c, v, "invalid on_failure '%s' (expected 'halt' or 'rollback')", v->v.str.ptr);
	else if (v->type != FL_NODE_STR)
		fl_verr(c, v, "invalid on_failure (expected 'halt' or 'rollback')");
}

static void parse_wave_key(struct fl_wave *w, struct fl_vctx *c, const struct fl_fleet *f, size_t idx,
			   const struct fl_pair *p)
{
	const struct fl_node *v = p->value;

	if (fl_key_is(p, "name"))
		parse_wave_name(w, c, f, idx, v);
	else if (fl_key_is(p, "select"))
		parse_selector(&w->select, c, v);
	else if (fl_key_is(p, "max_parallel"))
		parse_amount(&w->max_parallel, c, v, "max_parallel", 1, 1);
	else if (fl_key_is(p, "failure_tolerance"))
		parse_amount(&w->failure_tolerance, c, v, "failure_tolerance", 0, 0);
	else if (fl_key_is(p, "bake"))
		parse_duration_node(&w->bake_s, c, v, "bake");
	else if (fl_key_is(p, "gate")) {
		if (v->type == FL_NODE_STR && strcmp(v->v.str.ptr, "manual") == 0)
			w->gate_manual = true;
		else
			fl_verr(c, v, "invalid gate (expected 'manual')");
	} else if (fl_key_is(p, "verify")) {
		parse_verify(w, c, v);
	} else if (fl_key_is(p, "on_failure")) {
		parse_on_failure(w, c, v);
	} else {
		fl_unknown_key(c, p->key, "wave", wave_keys);
	}
}

static void parse_waves(struct fl_fleet *f, struct fl_vctx *c, const struct fl_node *v)
{
	static const char *const required[] = { "name", "select", NULL };

	if (!fl_vexpect(c, v, FL_NODE_SEQ, "a list of waves"))
		return;
	if (v->v.seq.len == 0) {
		fl_verr(c, v, "expected at least one wave");
		return;
	}
	if (v->v.seq.len > FL_FLEET_MAX_WAVES) {
		/* Each tenant tries the waves in turn: the cap keeps that linear. */
		fl_verr(c, v->v.seq.items[FL_FLEET_MAX_WAVES], "more than %d waves", FL_FLEET_MAX_WAVES);
		return;
	}
	f->waves = fl_arena_calloc(c->arena, v->v.seq.len, sizeof(*f->waves));
	f->nwaves = v->v.seq.len;
	for (size_t i = 0; i < f->nwaves; i++) {
		const struct fl_node *wn = v->v.seq.items[i];
		struct fl_wave *w = &f->waves[i];
		w->max_parallel.value = 1;
		w->select.kind = FL_SELECT_REST;
		if (!fl_vexpect(c, wn, FL_NODE_MAP,
				 "a mapping like { name: canary, select: { canary: true } }"))
			continue;
		for (size_t k = 0; k < wn->v.map.len; k++)
			parse_wave_key(w, c, f, i, &wn->v.map.items[k]);
		fl_missing_keys(c, wn, "wave", required);
		if (!w->select.node)
			w->select.kind = FL_SELECT_CANARY; /* matches less, so errors do not cascade */
	}
}

/* ---- guard, and the lists of driver and status entries (each checked by its own) ---- */

static const char *const guard_keys[] = { "max_delete_percent", NULL };
static void parse_guard(struct fl_fleet *f, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_MAP, "a mapping like { max_delete_percent: 10 }"))
		return;
	for (size_t i = 0; i < v->v.map.len; i++) {
		const struct fl_pair *p = &v->v.map.items[i];
		if (!fl_key_is(p, "max_delete_percent"))
			fl_unknown_key(c, p->key, "guard", guard_keys);
		else if (p->value->type != FL_NODE_INT || p->value->v.i < 0 || p->value->v.i > 100)
			fl_verr(c, p->value, "expected an integer from 0 to 100 for max_delete_percent");
		else
			f->max_delete_percent = (unsigned)p->value->v.i;
	}
}

static void parse_status(struct fl_fleet *f, struct fl_vctx *c, const struct fl_node *v)
{
	if (!fl_vexpect(c, v, FL_NODE_SEQ, "a list of status writers"))
		return;
	f->status = fl_arena_calloc(c->arena, v->v.seq.len, sizeof(*f->status));
	f->nstatus = v->v.seq.len;
	for (size_t i = 0; i < v->v.seq.len; i++)
		fl_status_conf_check(&f->status[i], c, v->v.seq.items[i]);
}

/* ---- fleet.yaml ---- */

static const char *const fleet_keys[] = { "version", "name",  "vars",	"services", "waves",
					  "prune",   "guard", "driver", "status",   NULL };

static void parse_version(struct fl_vctx *c, const struct fl_node *v)
{
	if (v->type != FL_NODE_INT)
		fl_verr(c, v, "expected version 1, got %s", fl_node_type_name(v->type));
	else if (v->v.i != 1)
		fl_verr(c, v, "unsupported version %" PRId64 " (expected 1)", v->v.i);
}

static void parse_fleet_key(struct fl_fleet *f, struct fl_vctx *c, const struct fl_pair *p)
{
	const struct fl_node *v = p->value;

	if (fl_key_is(p, "version"))
		parse_version(c, v);
	else if (fl_key_is(p, "name"))
		f->name = fl_vstring(c, v);
	else if (fl_key_is(p, "vars"))
		parse_vars(f, c, v);
	else if (fl_key_is(p, "services"))
		parse_services(f, c, v);
	else if (fl_key_is(p, "waves"))
		parse_waves(f, c, v);
	else if (fl_key_is(p, "prune")) {
		if (fl_vexpect(c, v, FL_NODE_BOOL, "a boolean"))
			f->prune = v->v.b;
	} else if (fl_key_is(p, "guard"))
		parse_guard(f, c, v);
	else if (fl_key_is(p, "driver"))
		fl_driver_conf_check(&f->driver, c, v);
	else if (fl_key_is(p, "status"))
		parse_status(f, c, v);
	else
		fl_unknown_key(c, p->key, "fleet.yaml", fleet_keys);
}

static void set_defaults(struct fl_fleet *f)
{
	struct fl_error ignored = FL_ERROR_INIT;

	f->max_delete_percent = 10;
	(void)fl_driver_conf_parse(&f->driver, &f->arena, "dir:accounts", &ignored);
	f->status = fl_arena_calloc(&f->arena, 1, sizeof(*f->status));
	f->status[0].type = "git-notes";
	f->nstatus = 1;
}

/*
 * Each name of a pass_env must be a secret flotilla drops: handing on one it
 * keeps anyway is a mistake (a typo, most likely), and the fleet
 * repository's own credentials are never handed on.
 */
static void check_pass_env(struct fl_vctx *c, const struct fl_fleet *f, const struct fl_node *node)
{
	for (size_t i = 0; node && node->type == FL_NODE_SEQ && i < node->v.seq.len; i++) {
		const struct fl_node *at = node->v.seq.items[i];
		if (at->type != FL_NODE_STR)
			continue;
		if (fl_secret_env_never_passed(at->v.str.ptr))
			fl_verr(c, at, "'%s' is flotilla's own credential for the fleet repository: it is never handed on",
				 at->v.str.ptr);
		else if (!fl_secret_env_drops(f->secret_env, at->v.str.ptr))
			fl_verr(c, at,
				 "'%s' is not a secret flotilla removes, so pass_env cannot name it (secrets: AWS "
				 "credentials and the token_env of a status entry or the http driver)",
				 at->v.str.ptr);
	}
}

static void check_all_pass_env(struct fl_vctx *c, const struct fl_fleet *f)
{
	check_pass_env(c, f, fl_node_get(f->driver.node, "pass_env"));
	for (size_t w = 0; w < f->nwaves; w++)
		for (size_t v = 0; v < f->waves[w].nverify; v++)
			check_pass_env(c, f, f->waves[w].verify[v].pass_env_node);
}

void fl_fleet_parse_settings(struct fl_fleet *f, struct fl_vctx *c, const struct fl_node *root)
{
	static const char *const required[] = { "version", "name", "waves", NULL };

	set_defaults(f);
	if (!root || root->type != FL_NODE_MAP) {
		fl_verr(c, root, "expected a mapping of fleet settings, got %s",
			 fl_node_type_name(root ? root->type : FL_NODE_NULL));
		return;
	}
	for (size_t i = 0; i < root->v.map.len; i++)
		parse_fleet_key(f, c, &root->v.map.items[i]);
	fl_missing_keys(c, root, "fleet.yaml", required);
	/* Built from the statuses and driver just read. */
	f->secret_env = fl_secret_env_build(&f->arena, f);
	f->driver.drop_env = f->secret_env;
	check_all_pass_env(c, f);
}
