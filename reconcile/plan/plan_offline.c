/*
 * The offline driver of plan --since BASE --offline (plan_offline.h): the
 * accounts as BASE's fleet renders them, read from the object database. It
 * answers identity, observe, marker and regions from that rendering, and
 * refuses apply and bootstrap: a plan never calls them, and nothing else
 * may be handed this driver.
 */
#include "reconcile/plan/plan_offline.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "reconcile/plan/plan.h"
#include "reconcile/render/render.h"
#include "core/banned.h"

struct offline {
	struct fl_fleet *fleet;		     /* BASE's, with every tenant; owned */
	const struct fl_tenant **by_account; /* fleet's tenants, sorted by account id */
};

static int cmp_account(const void *a, const void *b)
{
	const struct fl_tenant *x = *(const struct fl_tenant *const *)a;
	const struct fl_tenant *y = *(const struct fl_tenant *const *)b;
	return strcmp(x->account, y->account);
}

static int cmp_key_account(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct fl_tenant *const *)elem)->account);
}

/*
 * The BASE tenant of the account tenant names, or NULL. By account, not by
 * name: a driver reaches the account the head's manifest names, so a
 * tenant moved to another account finds that account (new, or another
 * tenant's), and a renamed one finds its old self.
 */
static const struct fl_tenant *base_tenant(const struct offline *o, const struct fl_tenant *tenant)
{
	const struct fl_tenant *const *t = bsearch(tenant->account, o->by_account, o->fleet->ntenants,
						   sizeof(*o->by_account), cmp_key_account);
	return t ? *t : NULL;
}

/* True when BASE has rolled t out to region: listed, and not decommissioned (emptied). */
static bool holds_region(const struct fl_tenant *t, const char *region)
{
	if (t->state == FL_TENANT_DECOMMISSIONED)
		return false;
	for (size_t i = 0; i < t->nregions; i++)
		if (strcmp(t->regions[i], region) == 0)
			return true;
	return false;
}

static int offline_identity(void *self, const struct fl_tenant *tenant, struct fl_buf *account, bool *found,
			    struct fl_error *err)
{
	const struct fl_tenant *t = base_tenant(self, tenant);
	*found = t != NULL;
	fl_buf_clear(account);
	if (t && fl_buf_puts(account, t->account))
		return fl_error_set(err, FL_ELIMIT, "account id '%.64s' is too long", t->account);
	return 0;
}

/* What BASE renders for t in region, into r; errors name BASE. */
static int render_base(struct fl_render *r, const struct offline *o, const struct fl_tenant *t,
		       const char *region, struct fl_error *err)
{
	int rc = fl_render_tenant_region(r, o->fleet, t, region, err);
	if (rc)
		fl_error_prefix(err, "BASE %.7s, tenant '%s': ", o->fleet->revision, t->name);
	return rc;
}

/* The marker an apply of BASE leaves: its revision and inputs; no tenant fingerprint (plans never read it). */
static void base_marker(struct fl_marker *out, const struct offline *o, const struct fl_tenant *t,
			size_t resources)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->revision, o->fleet->revision, sizeof(out->revision));
	fl_inputs_fp(&out->inputs_fp, o->fleet, t);
	out->resources = resources;
}

static int offline_observe(void *self, const struct fl_tenant *tenant, const char *region,
			   struct fl_observed *out, struct fl_error *err)
{
	const struct offline *o = self;
	const struct fl_tenant *t = base_tenant(o, tenant);
	struct fl_render r;
	int rc = 0;
	fl_observed_clear(out);
	if (!t || !holds_region(t, region))
		return 0;
	fl_render_init(&r);
	if ((rc = render_base(&r, o, t, region, err)))
		goto out;
	if ((rc = fl_buf_put(&out->raw, r.json.ptr, r.json.len))) {
		rc = fl_error_set(err, rc, "BASE %.7s: the rendering of tenant '%s' in '%s' is too large",
				  o->fleet->revision, t->name, region);
		goto out;
	}
	FL_GROW(out->items, out->cap, r.len);
	for (size_t i = 0; i < r.len; i++) {
		const struct fl_rendered *item = &r.items[i];
		struct fl_observed_res *res = &out->items[i];
		res->kind = item->tpl->kind;
		res->name = item->tpl->name;
		res->fp = item->fp;
		res->managed = true; /* BASE's apply made it */
		res->spec = out->raw.ptr + item->off;
		res->spec_len = item->len;
	}
	out->len = r.len;
	out->exists = true;
	out->has_marker = true;
	base_marker(&out->marker, o, t, r.len);
out:
	fl_render_release_buf(&r);
	return rc;
}

static int offline_marker(void *self, const struct fl_tenant *tenant, const char *region,
			  struct fl_marker *out, bool *found, struct fl_error *err)
{
	const struct offline *o = self;
	const struct fl_tenant *t = base_tenant(o, tenant);
	struct fl_render r;
	int rc = 0;
	*found = false;
	if (!t || !holds_region(t, region))
		return 0;
	/* The resource count is the guard's denominator for tenants a plan does not render. */
	fl_render_init(&r);
	if ((rc = render_base(&r, o, t, region, err)) == 0) {
		base_marker(out, o, t, r.len);
		*found = true;
	}
	fl_render_release_buf(&r);
	return rc;
}

static int offline_regions(void *self, const struct fl_tenant *tenant, fl_region_cb cb, void *payload,
			   struct fl_error *err)
{
	const struct fl_tenant *t = base_tenant(self, tenant);
	int rc = 0;
	(void)err;
	if (!t || t->state == FL_TENANT_DECOMMISSIONED)
		return 0;
	for (size_t i = 0; i < t->nregions && !rc; i++)
		rc = cb(t->regions[i], payload);
	return rc;
}

static int offline_apply(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
			 struct fl_error *err)
{
	(void)self;
	(void)w;
	return fl_error_set(err, FL_EREFUSED,
			    "an offline plan reads no account and writes none: tenant '%s' not applied",
			    tenant->name);
}

static int offline_bootstrap(void *self, const struct fl_tenant *tenant, struct fl_error *err)
{
	(void)self;
	return fl_error_set(
		err, FL_EREFUSED,
		"an offline plan reads no account and writes none: account of tenant '%s' not created",
		tenant->name);
}

static void offline_free(void *self)
{
	struct offline *o = self;
	if (!o)
		return;
	fl_fleet_free(o->fleet);
	free(o->by_account);
	free(o);
}

static const struct fl_driver_ops offline_ops = {
	.type = "offline",
	.identity = offline_identity,
	.observe = offline_observe,
	.marker = offline_marker,
	.regions = offline_regions,
	.apply = offline_apply,
	.bootstrap = offline_bootstrap,
	.free = offline_free,
};

int fl_plan_offline_open(struct fl_driver *out, struct fl_repo *repo, const struct fl_oid *base,
			 struct fl_diags *diags, struct fl_error *err)
{
	struct fl_fleet *fleet = NULL;
	out->ops = NULL;
	out->self = NULL;
	int rc = fl_fleet_load(&fleet, repo, base, NULL, diags, err);
	if (rc)
		return rc;
	struct offline *o = fl_calloc(1, sizeof(*o));
	o->fleet = fleet;
	o->by_account = fl_calloc(fleet->ntenants ? fleet->ntenants : 1, sizeof(*o->by_account));
	for (size_t i = 0; i < fleet->ntenants; i++)
		o->by_account[i] = &fleet->tenants[i];
	qsort(o->by_account, fleet->ntenants, sizeof(*o->by_account), cmp_account);
	out->ops = &offline_ops;
	out->self = o;
	return 0;
}
