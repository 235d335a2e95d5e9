/*
 * Rendering: release templates compiled once per fleet, then rendered per
 * tenant and region straight into canonical JSON (SPEC 2 and 3). A scalar
 * that is exactly one {{x}} keeps x's type; one embedded in text makes a
 * string. Rendering needs no allocation per node: a compiled template is a
 * list of literal canonical-JSON pieces and substitutions.
 */
#ifndef FL_RENDER_H
#define FL_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "reconcile/fleet/fleet.h"

/*
 * Rendered JSON is bounded (SPEC 9): per resource, and per tenant and
 * region, the sum of its resources. Past either, rendering stops with
 * FL_ELIMIT before it allocates (docs/fleet-validation.md).
 */
#define FL_RENDER_MAX_RESOURCE ((size_t)1 << 20)
#define FL_RENDER_MAX_REGION ((size_t)16 << 20)

/* Sources of the fleet's files by path, for positioned compile errors. */
struct fl_render_sources {
	const struct fl_source *items;
	size_t len;
};

/*
 * Compiles every template of fleet (fills fleet->templates[i].compiled):
 * checks each {{...}} names tenant.name, tenant.account, tenant.labels.K,
 * region or a declared vars.K. Problems go to diags, positioned in the
 * template's file. Returns 0 or FL_EINPUT. Called by fl_fleet_load.
 */
int fl_render_compile(struct fl_fleet *fleet, const struct fl_render_sources *sources,
		      struct fl_diags *diags);
/* Frees what fl_render_compile made. Called by fl_fleet_free. */
void fl_render_release(struct fl_fleet *fleet);

/* One rendered resource; its canonical spec is json[0..len) of the render's buffer. */
struct fl_rendered {
	const struct fl_template *tpl;
	size_t off, len;
	struct fl_fp fp;              /* XXH3-128 of the canonical spec */
};

/* The desired state of one tenant in one region. Reusable across calls. */
struct fl_render {
	struct fl_buf json;           /* canonical specs, back to back */
	struct fl_rendered *items;    /* in release order */
	size_t len, cap;
};

void fl_render_init(struct fl_render *r);
void fl_render_release_buf(struct fl_render *r);

/*
 * Renders every template tenant subscribes to for region into r (emptied
 * first). FL_EINPUT when a template uses a label or var that the tenant
 * does not have; FL_ELIMIT when a resource would pass FL_RENDER_MAX_RESOURCE
 * or the region FL_RENDER_MAX_REGION, found before anything is written. In
 * both, err is positioned at the template.
 */
int fl_render_tenant_region(struct fl_render *r, const struct fl_fleet *fleet,
			    const struct fl_tenant *tenant, const char *region, struct fl_error *err);

/*
 * Checks that every region of tenant renders within the limits, without
 * rendering: the sizes come from the compiled templates and the tenant's
 * values, in time linear in the templates' substitutions. FL_ELIMIT, with
 * err as fl_render_tenant_region sets it, for the first resource past a
 * limit. A label or var the tenant lacks counts as empty: rendering reports it.
 */
int fl_render_check_tenant(const struct fl_fleet *fleet, const struct fl_tenant *tenant,
			   struct fl_error *err);

/* The canonical spec of an item. */
static inline const char *fl_rendered_json(const struct fl_render *r, const struct fl_rendered *item)
{
	return r->json.ptr + item->off;
}

/*
 * Fills out with the substituted form of a template string (a verify argv
 * element): {{tenant.*}}, {{region}} and {{vars.K}} as text (out is emptied
 * first; region may be NULL when there is none). FL_EINPUT for an unknown
 * name, an unterminated '{{' or a label or var the tenant does not have.
 */
int fl_render_string(struct fl_buf *out, const struct fl_fleet *fleet, const struct fl_tenant *tenant,
		     const char *region, const char *tmpl, struct fl_error *err);

/*
 * True when the field at path (as in plan diffs: "env.DB_PASSWORD",
 * "ports[0]") of a template's spec comes, in whole or in part, from a var
 * declared secret: such values show as "(secret)".
 */
bool fl_template_path_secret(const struct fl_template *tpl, const char *path);

/*
 * Appends one step to a field path in the syntax of plan diffs: a key as
 * ".key" ("key" at the root), or as ["k"] (JSON-quoted) when it is not
 * [A-Za-z0-9_-]+; an index as "[i]". Shared by rendering and diff so that
 * secret paths and diff paths always agree.
 */
int fl_spec_path_key(struct fl_buf *path, const char *key, size_t len);
int fl_spec_path_index(struct fl_buf *path, size_t index);

#endif
