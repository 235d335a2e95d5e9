/*
 * Tenants grouped by the commit their accounts are at; see drift.h.
 */
#include "reconcile/plan/drift.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/banned.h"

static struct fl_drift_group *group_for(struct fl_drift_groups *groups, const char *revision)
{
	for (size_t i = 0; i < groups->len; i++)
		if (strcmp(groups->items[i].revision, revision) == 0)
			return &groups->items[i];
	FL_GROW(groups->items, groups->cap, groups->len + 1);
	struct fl_drift_group *g = &groups->items[groups->len++];
	memset(g, 0, sizeof(*g));
	snprintf(g->revision, sizeof(g->revision), "%s", revision);
	return g;
}

void fl_drift_group_tenants(struct fl_drift_groups *out, const struct fl_fleet *fleet,
			    struct fl_driver *driver)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < fleet->ntenants; i++) {
		const struct fl_tenant *t = &fleet->tenants[i];
		struct fl_marker m;
		bool found = false;
		struct fl_error ignored = FL_ERROR_INIT;
		if (t->state != FL_TENANT_ACTIVE || !t->nregions ||
		    driver->ops->marker(driver->self, t, t->regions[0], &m, &found, &ignored) || !found)
			continue;
		struct fl_drift_group *g = group_for(out, m.revision);
		FL_GROW(g->names, g->capnames, g->nnames + 1);
		g->names[g->nnames++] = fl_strdup(t->name);
	}
}

void fl_drift_group_mark(struct fl_drift_group *g, const char *tenant)
{
	for (size_t i = 0; i < g->nnames; i++) {
		if (strcmp(g->names[i], tenant) == 0) {
			FL_GROW(g->drifted, g->capdrifted, g->ndrifted + 1);
			g->drifted[g->ndrifted++] = g->names[i];
			return;
		}
	}
}

void fl_drift_groups_release(struct fl_drift_groups *groups)
{
	for (size_t i = 0; i < groups->len; i++) {
		struct fl_drift_group *g = &groups->items[i];
		for (size_t j = 0; j < g->nnames; j++)
			free((char *)g->names[j]);
		free(g->names);
		free(g->drifted);
	}
	free(groups->items);
	memset(groups, 0, sizeof(*groups));
}
