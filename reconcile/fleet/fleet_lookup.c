/*
 * Lookups in a loaded fleet (fleet.h): vars and tenants by name (both kept
 * sorted, so each is a binary search), waves by name, a tenant's labels and
 * services, and how many tenants an amount (a count or a percentage) means.
 */
#include "reconcile/fleet/fleet.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/banned.h"

static int var_ptr_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct fl_var_decl *const *)a)->name,
		      (*(const struct fl_var_decl *const *)b)->name);
}

void fl_fleet_index_vars(struct fl_fleet *fleet)
{
	const struct fl_var_decl **v =
		fl_arena_calloc(&fleet->arena, fleet->nvars ? fleet->nvars : 1, sizeof(*v));

	for (size_t i = 0; i < fleet->nvars; i++)
		v[i] = &fleet->vars[i];
	qsort(v, fleet->nvars, sizeof(*v), var_ptr_cmp);
	fleet->vars_by_name = v;
}

/* A name that need not end in NUL, as a bsearch key. */
struct name_key {
	const char *s;
	size_t len;
};

static int var_key_cmp(const void *key, const void *elem)
{
	const struct name_key *k = key;
	const char *name = (*(const struct fl_var_decl *const *)elem)->name;
	size_t nlen = strlen(name);
	int c = memcmp(k->s, name, k->len < nlen ? k->len : nlen);

	/* strcmp's order, which sorted the index: on a tie the shorter first. */
	return c ? c : (k->len > nlen) - (k->len < nlen);
}

const struct fl_var_decl *fl_fleet_var(const struct fl_fleet *fleet, const char *name, size_t len)
{
	struct name_key key = { name, len };
	const struct fl_var_decl *const *found;

	if (!fleet->nvars)
		return NULL;
	assert(fleet->vars_by_name);
	found = bsearch(&key, fleet->vars_by_name, fleet->nvars, sizeof(*fleet->vars_by_name), var_key_cmp);
	return found ? *found : NULL;
}

static int tenant_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct fl_tenant *)elem)->name);
}

const struct fl_tenant *fl_fleet_tenant(const struct fl_fleet *fleet, const char *name)
{
	return bsearch(name, fleet->tenants, fleet->ntenants, sizeof(*fleet->tenants), tenant_key_cmp);
}

int fl_fleet_wave_index(const struct fl_fleet *fleet, const char *name)
{
	for (size_t i = 0; i < fleet->nwaves; i++)
		if (fleet->waves[i].name && strcmp(fleet->waves[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int label_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct fl_label *)elem)->key);
}

const char *fl_tenant_label(const struct fl_tenant *tenant, const char *key)
{
	const struct fl_label *l;

	if (!tenant->nlabels)
		return NULL;
	l = bsearch(key, tenant->labels, tenant->nlabels, sizeof(*tenant->labels), label_key_cmp);
	return l ? l->value : NULL;
}

bool fl_tenant_subscribes(const struct fl_fleet *fleet, const struct fl_tenant *tenant, const char *service)
{
	if (!service)
		return true;
	for (size_t i = 0; i < fleet->nservices; i++)
		if (strcmp(fleet->services[i], service) == 0)
			return (tenant->services >> i) & 1;
	return false;
}

unsigned fl_amount_resolve(const struct fl_amount *amount, size_t n, bool at_least_one)
{
	uint64_t v = amount->percent ? (uint64_t)n * amount->value / 100 : amount->value;

	if (v > UINT32_MAX)
		v = UINT32_MAX;
	if (at_least_one && v < 1)
		v = 1;
	return (unsigned)v;
}
