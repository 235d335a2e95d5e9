/*
 * Tests of reconcile/plan/plan_offline.c: the offline driver over a fleet
 * committed to an in-memory repository. Each operation is asked about
 * accounts BASE knows (active, suspended, decommissioned) and one it does
 * not, and must answer from BASE's rendering alone; writes are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "core/hash.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/plan/plan.h"
#include "reconcile/plan/plan_offline.h"
#include "reconcile/render/render.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* clang-format off */
#define FILE_OF(path, text) { path, text, sizeof(text) - 1 }
/* clang-format on */

static const struct fl_repo_file base_files[] = {
	FILE_OF("fleet.yaml",
		"version: 1\nname: offco\nvars:\n  display_name: { type: string, required: true }\n"
		"services: [api]\nwaves:\n  - { name: all, select: rest }\n"
		"driver: { type: exec, command: [/nonexistent/never-run] }\n"),
	FILE_OF("release/app.yaml",
		"kind: service\nname: api\nservice: api\nspec: { title: \"{{vars.display_name}}\" }\n"
		"---\nkind: config\nname: base\nspec: { region: \"{{region}}\" }\n"),
	FILE_OF("tenants/acme.yaml",
		"name: acme\naccount: \"111\"\nregions: [us-east-1, eu-west-1]\nservices: [api]\n"
		"vars: { display_name: Acme }\n"),
	FILE_OF("tenants/gone.yaml",
		"name: gone\naccount: \"222\"\nregions: [us-east-1]\nstate: decommissioned\n"
		"vars: { display_name: Gone }\n"),
	FILE_OF("tenants/sleepy.yaml",
		"name: sleepy\naccount: \"333\"\nregions: [us-east-1]\nstate: suspended\n"
		"vars: { display_name: Sleepy }\n"),
};

struct env {
	struct fl_repo *repo;
	struct fl_oid base;
	struct fl_fleet *fleet; /* BASE, to compare with */
	struct fl_driver drv;
};

static int setup(void **state)
{
	static struct env e;
	struct fl_diags diags = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	memset(&e, 0, sizeof(e));
	assert_int_equal(fl_repo_new_memory(&e.repo, &err), 0);
	assert_int_equal(fl_repo_commit_files(&e.base, e.repo, base_files, N_ELEMS(base_files), "base", &err),
			 0);
	assert_int_equal(fl_fleet_load(&e.fleet, e.repo, &e.base, NULL, &diags, &err), 0);
	assert_int_equal(fl_plan_offline_open(&e.drv, e.repo, &e.base, &diags, &err), 0);
	fl_diags_release(&diags);
	*state = &e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	fl_driver_release(&e->drv);
	fl_fleet_free(e->fleet);
	fl_repo_free(e->repo);
	return 0;
}

/* A head's tenant: the driver goes by the account its manifest names. */
static struct fl_tenant head_tenant(const char *account)
{
	struct fl_tenant t;
	memset(&t, 0, sizeof(t));
	t.name = "head";
	t.account = account;
	return t;
}

static void test_identity(void **state)
{
	static const struct {
		const char *name, *account;
		bool found;
	} cases[] = {
		{ "active", "111", true },
		{ "decommissioned: the account stays", "222", true },
		{ "suspended", "333", true },
		{ "no BASE tenant names it: a new account", "999", false },
	};
	struct env *e = *state;
	struct fl_buf id = FL_BUF_INIT;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_tenant t = head_tenant(cases[i].account);
		struct fl_error err = FL_ERROR_INIT;
		bool found = !cases[i].found;
		print_message("case: %s\n", cases[i].name);
		assert_int_equal(e->drv.ops->identity(e->drv.self, &t, &id, &found, &err), 0);
		assert_int_equal(found, cases[i].found);
		assert_string_equal(id.ptr, cases[i].found ? cases[i].account : "");
	}
	fl_buf_release(&id);
}

static const struct {
	const char *name, *account, *region;
	const char *base_tenant; /* whose rendering the region holds; NULL: nothing */
} region_cases[] = {
	{ "primary region", "111", "us-east-1", "acme" },
	{ "second region", "111", "eu-west-1", "acme" },
	{ "a region BASE does not list", "111", "ap-south-1", NULL },
	{ "decommissioned: emptied", "222", "us-east-1", NULL },
	{ "suspended: taken to hold BASE's rendering", "333", "us-east-1", "sleepy" },
	{ "unknown account", "999", "us-east-1", NULL },
};

/* observe gives BASE's rendering: managed, with its fingerprints and specs, and BASE's marker. */
static void test_observe(void **state)
{
	struct env *e = *state;
	struct fl_observed obs;
	struct fl_render r;
	fl_observed_init(&obs);
	fl_render_init(&r);
	for (size_t i = 0; i < N_ELEMS(region_cases); i++) {
		struct fl_tenant t = head_tenant(region_cases[i].account);
		struct fl_error err = FL_ERROR_INIT;
		print_message("case: %s\n", region_cases[i].name);
		assert_int_equal(e->drv.ops->observe(e->drv.self, &t, region_cases[i].region, &obs, &err), 0);
		if (!region_cases[i].base_tenant) {
			assert_int_equal(obs.len, 0);
			assert_false(obs.exists);
			assert_false(obs.has_marker);
			continue;
		}
		const struct fl_tenant *bt = fl_fleet_tenant(e->fleet, region_cases[i].base_tenant);
		assert_int_equal(fl_render_tenant_region(&r, e->fleet, bt, region_cases[i].region, &err), 0);
		assert_true(obs.exists);
		assert_int_equal(obs.len, r.len);
		for (size_t k = 0; k < r.len; k++) {
			assert_string_equal(obs.items[k].kind, r.items[k].tpl->kind);
			assert_string_equal(obs.items[k].name, r.items[k].tpl->name);
			assert_true(fl_fp_equal(&obs.items[k].fp, &r.items[k].fp));
			assert_true(obs.items[k].managed);
			assert_int_equal(obs.items[k].spec_len, r.items[k].len);
			assert_memory_equal(obs.items[k].spec, fl_rendered_json(&r, &r.items[k]),
					    r.items[k].len);
		}
		assert_true(obs.has_marker);
		assert_string_equal(obs.marker.revision, e->fleet->revision);
		assert_int_equal(obs.marker.resources, r.len);
	}
	fl_render_release_buf(&r);
	fl_observed_release(&obs);
}

/* The marker an apply of BASE leaves: BASE's revision and inputs, its resource count. */
static void test_marker(void **state)
{
	struct env *e = *state;
	for (size_t i = 0; i < N_ELEMS(region_cases); i++) {
		struct fl_tenant t = head_tenant(region_cases[i].account);
		struct fl_error err = FL_ERROR_INIT;
		struct fl_marker m;
		bool found = !region_cases[i].base_tenant;
		print_message("case: %s\n", region_cases[i].name);
		assert_int_equal(
			e->drv.ops->marker(e->drv.self, &t, region_cases[i].region, &m, &found, &err), 0);
		assert_int_equal(found, region_cases[i].base_tenant != NULL);
		if (!found)
			continue;
		const struct fl_tenant *bt = fl_fleet_tenant(e->fleet, region_cases[i].base_tenant);
		struct fl_fp want;
		fl_inputs_fp(&want, e->fleet, bt);
		assert_string_equal(m.revision, e->fleet->revision);
		assert_true(fl_fp_equal(&m.inputs_fp, &want));
		assert_int_equal(m.resources, bt->services ? 2 : 1);
	}
}

static int add_region(const char *region, void *payload)
{
	struct fl_buf *b = payload;
	fl_buf_printf(b, "%s;", region);
	return 0;
}

static void test_regions(void **state)
{
	static const struct {
		const char *account, *want;
	} cases[] = {
		{ "111", "us-east-1;eu-west-1;" },
		{ "222", "" },
		{ "333", "us-east-1;" },
		{ "999", "" },
	};
	struct env *e = *state;
	struct fl_buf got = FL_BUF_INIT;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_tenant t = head_tenant(cases[i].account);
		struct fl_error err = FL_ERROR_INIT;
		print_message("case: account %s\n", cases[i].account);
		fl_buf_clear(&got);
		assert_int_equal(e->drv.ops->regions(e->drv.self, &t, add_region, &got, &err), 0);
		assert_string_equal(got.ptr, cases[i].want);
	}
	fl_buf_release(&got);
}

static void test_writes_refused(void **state)
{
	struct env *e = *state;
	struct fl_tenant t = head_tenant("111");
	struct fl_region_write w;
	struct fl_error err = FL_ERROR_INIT;
	memset(&w, 0, sizeof(w));
	w.region = "us-east-1";
	assert_int_equal(e->drv.ops->apply(e->drv.self, &t, &w, &err), FL_EREFUSED);
	assert_non_null(strstr(err.msg, "offline"));
	err = (struct fl_error)FL_ERROR_INIT;
	assert_int_equal(e->drv.ops->bootstrap(e->drv.self, &t, &err), FL_EREFUSED);
	assert_non_null(strstr(err.msg, "offline"));
}

/* A BASE whose fleet does not load opens nothing and says why. */
static void test_bad_base(void **state)
{
	static const struct fl_repo_file bad[] = {
		FILE_OF("fleet.yaml",
			"version: 1\nname: offco\nservices: [api]\nwaves: [{ name: all, select: rest }]\n"),
		FILE_OF("tenants/acme.yaml",
			"name: acme\naccount: \"111\"\nregions: [us-east-1]\nservices: [nope]\n"),
	};
	struct env *e = *state;
	struct fl_oid id;
	struct fl_driver drv;
	struct fl_diags diags = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(fl_repo_commit_files(&id, e->repo, bad, N_ELEMS(bad), "bad", &err), 0);
	assert_int_equal(fl_plan_offline_open(&drv, e->repo, &id, &diags, &err), FL_EINPUT);
	assert_null(drv.ops);
	assert_true(diags.len > 0);
	fl_diags_release(&diags);
	fl_driver_release(&drv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),       cmocka_unit_test(test_observe),
		cmocka_unit_test(test_marker),	       cmocka_unit_test(test_regions),
		cmocka_unit_test(test_writes_refused), cmocka_unit_test(test_bad_base),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
