/*
 * Fuzz target of the template renderer (reconcile/render/render.c): release files
 * from the input ("### path" lines, see fuzz_files.h; text before the first
 * is release/app.yaml) are committed over a fixed fleet whose tenants have
 * labels, regions and vars of every type, one of them secret. What loads is
 * rendered for every tenant and region, its verify commands substituted,
 * and every "### string" section rendered as a template string.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/render/render.h"
#include "tests/fuzz/fuzz_files.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S(text) text, sizeof(text) - 1

static const struct fl_repo_file base[] = {
	{ "fleet.yaml",
	  S("version: 1\n"
	    "name: fuzz\n"
	    "vars:\n"
	    "  display_name: { type: string, required: true }\n"
	    "  brand_color: { type: string, pattern: \"^#[0-9a-fA-F]{6}$\", default: \"#1f6feb\" }\n"
	    "  seats: { type: integer, min: 1, default: 10 }\n"
	    "  ratio: { type: number, default: 0.5 }\n"
	    "  beta:  { type: boolean, default: false }\n"
	    "  token: { type: string, secret: true, default: \"s3cr3t\" }\n"
	    "  note:  { type: string }\n"
	    "services: [api, portal, reports]\n"
	    "waves:\n"
	    "  - name: canary\n"
	    "    select: { canary: true }\n"
	    "    verify:\n"
	    "      - { name: smoke, run: [check, \"{{tenant.name}}\", \"{{region}}\", "
	    "\"--token={{vars.token}}\"] }\n"
	    "  - name: rest\n"
	    "    select: rest\n"
	    "driver: { type: dir, root: accounts }\n") },
	{ "tenants/acme.yaml",
	  S("name: acme\n"
	    "account: \"123456789012\"\n"
	    "regions: [us-east-1, eu-west-1]\n"
	    "labels: { ring: early, size: large }\n"
	    "services: [api, portal, reports]\n"
	    "vars: { display_name: \"Acme \\\"Health\\\"\\n\", seats: 25, ratio: 1e300, beta: true, "
	    "note: \"{{x}}\" }\n") },
	{ "tenants/canary.yaml", S("name: canary\n"
				   "account: \"000000000001\"\n"
				   "regions: [us-east-1]\n"
				   "canary: true\n"
				   "services: [api]\n"
				   "vars: { display_name: \"\\u00e9\", token: \"\" }\n") },
};

static void render_all(const struct fl_fleet *fleet, const struct fl_fuzz_files *files)
{
	struct fl_render r;
	struct fl_buf s;
	struct fl_error err = FL_ERROR_INIT;

	fl_render_init(&r);
	fl_buf_init(&s, 1024 * 1024);
	for (size_t t = 0; t < fleet->ntenants; t++) {
		const struct fl_tenant *tenant = &fleet->tenants[t];
		for (size_t g = 0; g < tenant->nregions; g++) {
			if (fl_render_tenant_region(&r, fleet, tenant, tenant->regions[g], &err))
				continue;
			for (size_t i = 0; i < r.len; i++)
				(void)fl_template_path_secret(r.items[i].tpl, "env.TOKEN");
		}
		/* Input may replace the tenants: assume no region and no wave. */
		const char *region = tenant->nregions ? tenant->regions[0] : NULL;
		const struct fl_wave *w = tenant->wave < fleet->nwaves ? &fleet->waves[tenant->wave] : NULL;
		for (size_t v = 0; w && v < w->nverify; v++)
			for (size_t a = 0; a < w->verify[v].argc; a++)
				(void)fl_render_string(&s, fleet, tenant, region, w->verify[v].argv[a], &err);
		for (size_t i = 0; i < files->nextra; i++) {
			if (strcmp(files->extra[i].path, "string") != 0)
				continue;
			/* The section is NUL-terminated by the next header, or the input's end. */
			char tmpl[4096];
			size_t n = files->extra[i].len < sizeof(tmpl) - 1 ? files->extra[i].len
									  : sizeof(tmpl) - 1;
			memcpy(tmpl, files->extra[i].data, n);
			tmpl[n] = '\0';
			(void)fl_render_string(&s, fleet, tenant, region, tmpl, &err);
			(void)fl_render_string(&s, fleet, tenant, NULL, tmpl, &err);
		}
	}
	fl_buf_release(&s);
	fl_render_release_buf(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_fuzz_files files;
	struct fl_fleet *fleet = NULL;

	fl_fuzz_files_split(&files, data, size, "release/app.yaml");
	if (fl_fuzz_load(&fleet, base, sizeof(base) / sizeof(base[0]), &files) == 0)
		render_all(fleet, &files);
	fl_fleet_free(fleet);
	fl_fuzz_files_release(&files);
	return 0;
}
