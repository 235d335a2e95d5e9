/*
 * Tests of reconcile/plan/plan.c: a small fleet committed to a real repository
 * with the git command, planned against a dir driver on a temporary accounts
 * directory. Accounts are converged through the driver API, then changed by
 * new commits or by hand, and each plan is checked change by change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "core/hash.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/plan/plan.h"
#include "reconcile/render/render.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define GIT FL_TEST_GIT

/* A file of a test fleet; content NULL removes it. */
struct file {
	const char *path;
	const char *content;
};

static void write_text(const char *path, const char *content)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	assert_int_equal(fclose(f), 0);
}

/* ---- the fleet ---- */

#define FLEET_YAML \
	"version: 1\n" \
	"name: testco\n" \
	"vars:\n" \
	"  display_name: { type: string, required: true }\n" \
	"  replicas:     { type: integer, min: 1, default: 2 }\n" \
	"  db_password:  { type: string, secret: true, default: none }\n" \
	"services: [api, reports]\n" \
	"waves:\n" \
	"  - name: canary\n" \
	"    select: { canary: true }\n" \
	"  - name: fleet\n" \
	"    select: rest\n" \
	"guard: { max_delete_percent: 10 }\n"

#define RELEASE_A \
	"kind: service\n" \
	"name: api\n" \
	"spec:\n" \
	"  image: registry.example/api:1.0\n" \
	"  replicas: \"{{vars.replicas}}\"\n" \
	"  env:\n" \
	"    TITLE: \"{{vars.display_name}}\"\n" \
	"    REGION: \"{{region}}\"\n" \
	"    DB_PASSWORD: \"{{vars.db_password}}\"\n" \
	"---\n" \
	"kind: config\n" \
	"name: base\n" \
	"spec: { tenant: \"{{tenant.name}}\" }\n"

#define RELEASE_B "kind: job\nname: reports\nservice: reports\nspec: { schedule: daily }\n"

#define ACME \
	"name: acme\naccount: \"111\"\nregions: [us-east-1, eu-west-1]\ncanary: true\n" \
	"services: [api, reports]\nvars: { display_name: Acme, db_password: hunter2 }\n"
#define BETA "name: beta\naccount: \"222\"\nregions: [eu-west-1]\nvars: { display_name: Beta }\n"
#define GAMMA \
	"name: gamma\naccount: \"333\"\nregions: [us-east-1]\nservices: [reports]\n" \
	"vars: { display_name: Gamma }\n"

/* acme: api, base, reports in two regions; beta: api, base; gamma: api, base, reports. */
#define ACME_RES 6
#define BETA_RES 2
#define GAMMA_RES 3

static const struct file base_fleet[] = {
	{ "fleet.yaml", FLEET_YAML },	 { "README.md", "the test fleet\n" },
	{ "release/a.yaml", RELEASE_A }, { "release/b.yaml", RELEASE_B },
	{ "tenants/acme.yaml", ACME },	 { "tenants/beta.yaml", BETA },
	{ "tenants/gamma.yaml", GAMMA }, { NULL, NULL },
};

/* A fleet repository at <tmp>/repo and the dir driver's accounts at <tmp>/accounts. */
struct env {
	char tmp[64];
	char repo_dir[96];
	char accounts[96];
	struct fl_repo *repo;
	struct fl_fleet *fleet;
	struct fl_driver drv;
};

/* Writes (or removes) files in the work tree and commits them. */
static void put_files(struct env *e, const struct file *files)
{
	char path[512];
	for (size_t i = 0; files[i].path; i++) {
		snprintf(path, sizeof(path), "%s/%s", e->repo_dir, files[i].path);
		if (!files[i].content) {
			assert_int_equal(unlink(path), 0);
			continue;
		}
		char *slash = strrchr(path, '/');
		*slash = '\0';
		fl_test_run("mkdir -p '%s'", path);
		*slash = '/';
		write_text(path, files[i].content);
	}
}

static void load_head(struct env *e)
{
	struct fl_oid head;
	struct fl_diags diags = { NULL, 0, 0, 0 };
	struct fl_error err = FL_ERROR_INIT;

	fl_fleet_free(e->fleet);
	e->fleet = NULL;
	assert_int_equal(fl_repo_resolve(&head, e->repo, "HEAD", &err), 0);
	if (fl_fleet_load(&e->fleet, e->repo, &head, NULL, &diags, &err)) {
		struct fl_buf b = FL_BUF_INIT;
		fl_error_format(&b, diags.len ? &diags.items[0] : &err);
		fl_diags_release(&diags);
		fail_msg("fleet load failed: %s", b.ptr);
	}
	fl_diags_release(&diags);
}

/* A new commit with files changed, then the fleet reloaded at it. */
static void commit(struct env *e, const struct file *files)
{
	put_files(e, files);
	fl_test_run("cd '%s' && " GIT " add -A && " GIT " commit -q --allow-empty -m change", e->repo_dir);
	load_head(e);
}

static void env_open(struct env *e, const struct file *files)
{
	struct fl_error err = FL_ERROR_INIT;

	memset(e, 0, sizeof(*e));
	snprintf(e->tmp, sizeof(e->tmp), "/tmp/fl-test-plan-XXXXXX");
	assert_non_null(mkdtemp(e->tmp));
	snprintf(e->repo_dir, sizeof(e->repo_dir), "%s/repo", e->tmp);
	snprintf(e->accounts, sizeof(e->accounts), "%s/accounts", e->tmp);
	fl_test_run("mkdir -p '%s' '%s' && cd '%s' && " GIT " init -q", e->repo_dir, e->accounts, e->repo_dir);
	put_files(e, files);
	fl_test_run("cd '%s' && " GIT " add -A && " GIT " commit -q -m fleet", e->repo_dir);
	assert_int_equal(fl_repo_open(&e->repo, e->repo_dir, &err), 0);
	load_head(e);
	assert_int_equal(fl_driver_dir_open(&e->drv, e->accounts, &err), 0);
}

static void env_close(struct env *e)
{
	fl_fleet_free(e->fleet);
	fl_repo_free(e->repo);
	fl_driver_release(&e->drv);
	fl_test_run("rm -rf '%s'", e->tmp);
}

static const struct fl_tenant *tenant(const struct env *e, const char *name)
{
	const struct fl_tenant *t = fl_fleet_tenant(e->fleet, name);
	if (!t)
		fail_msg("no tenant '%s'", name);
	return t;
}

/* Plans one tenant into tp (initialised here; the caller releases it). */
static void plan(struct fl_tenant_plan *tp, struct env *e, const char *name, bool prune, bool refresh)
{
	struct fl_plan_opts opts;
	memset(&opts, 0, sizeof(opts));
	opts.prune = prune;
	opts.refresh = refresh;
	fl_tenant_plan_init(tp);
	fl_plan_tenant(tp, e->fleet, &e->drv, tenant(e, name), &opts);
}

/*
 * Brings a tenant's account to the fleet's commit through the driver API:
 * bootstrap, then per manifest region every rendered resource and the marker.
 * Puts only: resources that left the release stay.
 */
static void converge(struct env *e, const char *name)
{
	const struct fl_tenant *t = tenant(e, name);
	struct fl_tenant_plan tp;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_render r;

	/* The tenant fingerprint, as a full plan computes it. */
	plan(&tp, e, name, false, true);
	if (tp.outcome == FL_TENANT_FAILED)
		fail_msg("plan of %s failed: %s", name, tp.error.msg);
	struct fl_fp tenant_fp = tp.tenant_fp;
	fl_tenant_plan_release(&tp);

	if (e->drv.ops->bootstrap(e->drv.self, t, &err))
		fail_msg("bootstrap of %s failed: %s", name, err.msg);
	fl_render_init(&r);
	for (size_t i = 0; i < t->nregions; i++) {
		if (fl_render_tenant_region(&r, e->fleet, t, t->regions[i], &err))
			fail_msg("render of %s/%s failed: %s", name, t->regions[i], err.msg);
		struct fl_put_res *put = calloc(r.len + 1, sizeof(*put));
		assert_non_null(put);
		for (size_t j = 0; j < r.len; j++) {
			put[j].kind = r.items[j].tpl->kind;
			put[j].name = r.items[j].tpl->name;
			put[j].fp = r.items[j].fp;
			put[j].spec = fl_rendered_json(&r, &r.items[j]);
			put[j].spec_len = r.items[j].len;
		}
		struct fl_marker m;
		memset(&m, 0, sizeof(m));
		memcpy(m.revision, e->fleet->revision, sizeof(m.revision));
		m.tenant_fp = tenant_fp;
		fl_inputs_fp(&m.inputs_fp, e->fleet, t);
		m.resources = r.len;
		struct fl_region_write w = { t->regions[i], put, r.len, NULL, 0, &m, false };
		int rc = e->drv.ops->apply(e->drv.self, t, &w, &err);
		free(put);
		if (rc)
			fail_msg("apply to %s/%s failed: %s", name, t->regions[i], err.msg);
	}
	fl_render_release_buf(&r);
}

static void state_path(char *out, size_t cap, const struct env *e, const char *account, const char *region)
{
	snprintf(out, cap, "%s/%s/%s.state", e->accounts, account, region);
}

/* Replaces the first occurrence of from in a state file by to. */
static void edit_state(const struct env *e, const char *account, const char *region, const char *from,
		       const char *to)
{
	char path[256];
	struct fl_buf text = FL_BUF_INIT, out = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;

	state_path(path, sizeof(path), e, account, region);
	assert_int_equal(fl_file_read(&text, path, &err), 0);
	const char *at = strstr(text.ptr, from);
	if (!at)
		fail_msg("'%s' is not in %s:\n%s", from, path, text.ptr);
	fl_buf_put(&out, text.ptr, (size_t)(at - text.ptr));
	fl_buf_puts(&out, to);
	fl_buf_puts(&out, at + strlen(from));
	write_text(path, out.ptr);
	fl_buf_release(&text);
	fl_buf_release(&out);
}

/* Appends a line to a state file, as someone might by hand. */
static void append_state(const struct env *e, const char *account, const char *region, const char *line)
{
	char path[256];
	state_path(path, sizeof(path), e, account, region);
	FILE *f = fopen(path, "ab");
	assert_non_null(f);
	assert_true(fputs(line, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static const struct fl_region_plan *region_of(const struct fl_tenant_plan *tp, const char *region)
{
	for (size_t i = 0; i < tp->nregions; i++)
		if (strcmp(tp->regions[i].region, region) == 0)
			return &tp->regions[i];
	fail_msg("no region '%s' in the plan of %s", region, tp->tenant->name);
	return NULL;
}

/* Fails unless a region's changes are exactly these "op kind/name" strings, in order. */
static void expect_changes(const struct fl_region_plan *rp, const char *const *want, size_t n)
{
	char got[256];
	if (rp->nchanges != n) {
		for (size_t i = 0; i < rp->nchanges; i++)
			print_message("  %s %s/%s\n", fl_op_name(rp->changes[i].op), rp->changes[i].kind,
				      rp->changes[i].name);
		fail_msg("region %s: %zu changes, want %zu", rp->region, rp->nchanges, n);
	}
	for (size_t i = 0; i < n; i++) {
		const struct fl_change *c = &rp->changes[i];
		snprintf(got, sizeof(got), "%s %s/%s", fl_op_name(c->op), c->kind, c->name);
		if (strcmp(got, want[i]) != 0)
			fail_msg("region %s, change %zu: got '%s', want '%s'", rp->region, i, got, want[i]);
	}
}

static void expect_diff(const struct fl_change *c, size_t i, const char *path, const char *old_json,
			const char *new_json)
{
	if (i >= c->ndiff)
		fail_msg("%s/%s: no diff entry %zu (%zu entries)", c->kind, c->name, i, c->ndiff);
	const struct fl_field_diff *d = &c->diff[i];
	assert_string_equal(d->path, path);
	if (old_json)
		assert_string_equal(d->old_json, old_json);
	else
		assert_null(d->old_json);
	if (new_json)
		assert_string_equal(d->new_json, new_json);
	else
		assert_null(d->new_json);
}

static bool fp_zero(const struct fl_fp *fp)
{
	return fl_fp_is_zero(fp);
}

/* ---- run helpers ---- */

struct seen {
	const char **names;
	enum fl_tenant_outcome *outcomes;
	size_t len, cap;
	size_t stop_at; /* return stop_code when this many were seen; 0: never */
	int stop_code;
	bool out_of_order;
};

static int record(const struct fl_tenant_plan *tp, void *payload)
{
	struct seen *s = payload;
	if (s->len == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->names = realloc(s->names, s->cap * sizeof(*s->names));
		s->outcomes = realloc(s->outcomes, s->cap * sizeof(*s->outcomes));
		if (!s->names || !s->outcomes)
			abort();
	}
	if (s->len && strcmp(s->names[s->len - 1], tp->tenant->name) >= 0)
		s->out_of_order = true;
	s->names[s->len] = tp->tenant->name;
	s->outcomes[s->len] = tp->outcome;
	s->len++;
	if (s->stop_at && s->len == s->stop_at)
		return s->stop_code;
	return 0;
}

static void seen_release(struct seen *s)
{
	free(s->names);
	free(s->outcomes);
}

static enum fl_tenant_outcome outcome_of(const struct seen *s, const char *name)
{
	for (size_t i = 0; i < s->len; i++)
		if (strcmp(s->names[i], name) == 0)
			return s->outcomes[i];
	fail_msg("tenant %s was not delivered", name);
	return FL_TENANT_FAILED;
}

/* ---- tests ---- */

static void test_empty_accounts_create_everything(void **state)
{
	struct env e;
	struct fl_tenant_plan tp;
	(void)state;

	env_open(&e, base_fleet);
	plan(&tp, &e, "acme", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CHANGES);
	assert_true(tp.bootstrap);
	assert_false(tp.from_marker);
	assert_int_equal(tp.creates, ACME_RES);
	assert_int_equal(tp.updates, 0);
	assert_int_equal(tp.deletes, 0);
	assert_int_equal(tp.withheld, 0);
	assert_int_equal(tp.resources, ACME_RES);
	assert_int_equal(tp.observed, 0);
	assert_false(fp_zero(&tp.tenant_fp));
	assert_int_equal(tp.nregions, 2);
	/* Manifest order, release order within a region. */
	static const char *const want[] = { "create service/api", "create config/base",
					    "create job/reports" };
	for (size_t r = 0; r < 2; r++) {
		const struct fl_region_plan *rp = &tp.regions[r];
		assert_string_equal(rp->region, r == 0 ? "us-east-1" : "eu-west-1");
		assert_true(rp->in_manifest);
		assert_int_equal(rp->unchanged, 0);
		expect_changes(rp, want, N_ELEMS(want));
		for (size_t i = 0; i < rp->nchanges; i++) {
			const struct fl_change *c = &rp->changes[i];
			assert_non_null(c->tpl);
			assert_true(fp_zero(&c->old_fp));
			assert_false(fp_zero(&c->new_fp));
			assert_int_equal(c->ndiff, 0);
			struct fl_fp fp;
			fl_fp_of(&fp, c->spec, c->spec_len);
			assert_true(fl_fp_equal(&fp, &c->new_fp));
		}
	}
	const struct fl_change *api = &tp.regions[0].changes[0];
	assert_string_equal(api->spec,
			    "{\"env\":{\"DB_PASSWORD\":\"hunter2\",\"REGION\":\"us-east-1\","
			    "\"TITLE\":\"Acme\"},\"image\":\"registry.example/api:1.0\",\"replicas\":2}");
	assert_int_equal(api->spec_len, strlen(api->spec));
	fl_tenant_plan_release(&tp);

	/* The whole fleet. */
	struct fl_plan_summary sum;
	struct fl_plan_opts opts;
	struct fl_error err = FL_ERROR_INIT;
	struct seen seen;
	memset(&opts, 0, sizeof(opts));
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(fl_plan_run(&sum, e.fleet, &e.drv, &opts, record, &seen, &err), 0);
	assert_int_equal(seen.len, 3);
	assert_false(seen.out_of_order);
	assert_int_equal(sum.tenants, 3);
	assert_int_equal(sum.tenants_changed, 3);
	assert_int_equal(sum.tenants_failed, 0);
	assert_int_equal(sum.creates, ACME_RES + BETA_RES + GAMMA_RES);
	assert_int_equal(sum.updates + sum.deletes + sum.withheld, 0);
	assert_int_equal(sum.resources, ACME_RES + BETA_RES + GAMMA_RES);
	assert_int_equal(sum.observed, 0);
	seen_release(&seen);

	/* A subset by name; an unknown name is a usage error. */
	static const char *const some[] = { "gamma", "beta" };
	opts.tenants = some;
	opts.ntenants = 2;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(fl_plan_run(&sum, e.fleet, &e.drv, &opts, record, &seen, &err), 0);
	assert_int_equal(sum.tenants, 2);
	assert_int_equal(sum.creates, BETA_RES + GAMMA_RES);
	seen_release(&seen);
	static const char *const unknown[] = { "beta", "nobody" };
	opts.tenants = unknown;
	assert_int_equal(fl_plan_run(&sum, e.fleet, &e.drv, &opts, NULL, NULL, &err), FL_EUSAGE);
	assert_non_null(strstr(err.msg, "'nobody'"));

	env_close(&e);
}

static void test_converged_by_marker_and_by_refresh(void **state)
{
	struct env e;
	struct fl_tenant_plan tp;
	(void)state;

	env_open(&e, base_fleet);
	converge(&e, "acme");

	plan(&tp, &e, "acme", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CONVERGED);
	assert_true(tp.from_marker);
	assert_false(tp.bootstrap);
	assert_int_equal(tp.resources, ACME_RES);
	assert_int_equal(tp.observed, ACME_RES);
	assert_int_equal(tp.creates + tp.updates + tp.deletes + tp.withheld, 0);
	assert_true(fp_zero(&tp.tenant_fp));
	struct fl_fp inputs;
	fl_inputs_fp(&inputs, e.fleet, tenant(&e, "acme"));
	assert_true(fl_fp_equal(&inputs, &tp.inputs_fp));
	fl_tenant_plan_release(&tp);

	plan(&tp, &e, "acme", true, true);
	assert_int_equal(tp.outcome, FL_TENANT_CONVERGED);
	assert_false(tp.from_marker);
	assert_false(tp.bootstrap);
	assert_int_equal(tp.resources, ACME_RES);
	assert_int_equal(tp.observed, ACME_RES);
	assert_int_equal(tp.creates + tp.updates + tp.deletes + tp.withheld, 0);
	assert_false(fp_zero(&tp.tenant_fp));
	assert_int_equal(tp.nregions, 2);
	for (size_t r = 0; r < tp.nregions; r++) {
		assert_int_equal(tp.regions[r].nchanges, 0);
		assert_int_equal(tp.regions[r].unchanged, 3);
	}
	fl_tenant_plan_release(&tp);

	/* The run: acme converged, the others still to create. */
	struct fl_plan_summary sum;
	struct fl_plan_opts opts;
	struct fl_error err = FL_ERROR_INIT;
	memset(&opts, 0, sizeof(opts));
	assert_int_equal(fl_plan_run(&sum, e.fleet, &e.drv, &opts, NULL, NULL, &err), 0);
	assert_int_equal(sum.tenants, 3);
	assert_int_equal(sum.tenants_changed, 2);
	assert_int_equal(sum.creates, BETA_RES + GAMMA_RES);
	assert_int_equal(sum.observed, ACME_RES);
	env_close(&e);
}

static void test_template_change_updates_with_field_diff(void **state)
{
	struct env e;
	struct fl_tenant_plan tp;
	(void)state;

	env_open(&e, base_fleet);
	converge(&e, "acme");
	converge(&e, "beta");
	/* A new image for everyone, a new password and more replicas for acme. */
	static const char *const release_a_2 = "kind: service\n"
					       "name: api\n"
					       "spec:\n"
					       "  image: registry.example/api:1.1\n"
					       "  replicas: \"{{vars.replicas}}\"\n"
					       "  env:\n"
					       "    TITLE: \"{{vars.display_name}}\"\n"
					       "    REGION: \"{{region}}\"\n"
					       "    DB_PASSWORD: \"{{vars.db_password}}\"\n"
					       "---\n"
					       "kind: config\n"
					       "name: base\n"
					       "spec: { tenant: \"{{tenant.name}}\" }\n";
	const struct file change[] = {
		{ "release/a.yaml", release_a_2 },
		{ "tenants/acme.yaml",
		  "name: acme\naccount: \"111\"\nregions: [us-east-1, eu-west-1]\ncanary: true\n"
		  "services: [api, reports]\nvars: { display_name: Acme, db_password: s3cret, replicas: 3 "
		  "}\n" },
		{ NULL, NULL },
	};
	commit(&e, change);

	plan(&tp, &e, "acme", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CHANGES);
	assert_false(tp.from_marker);
	assert_false(tp.bootstrap);
	assert_int_equal(tp.updates, 2);
	assert_int_equal(tp.creates + tp.deletes + tp.withheld, 0);
	assert_int_equal(tp.resources, ACME_RES);
	assert_int_equal(tp.observed, ACME_RES);
	static const char *const want[] = { "update service/api" };
	for (size_t r = 0; r < 2; r++) {
		const struct fl_region_plan *rp = &tp.regions[r];
		expect_changes(rp, want, 1);
		assert_int_equal(rp->unchanged, 2);
		const struct fl_change *c = &rp->changes[0];
		assert_false(fp_zero(&c->old_fp));
		assert_false(fp_zero(&c->new_fp));
		assert_false(fl_fp_equal(&c->old_fp, &c->new_fp));
		assert_non_null(c->tpl);
		assert_string_equal(c->tpl->name, "api");
		/* Paths in bytewise order; the secret shows as "(secret)" on both sides. */
		assert_int_equal(c->ndiff, 3);
		expect_diff(c, 0, "env.DB_PASSWORD", "\"(secret)\"", "\"(secret)\"");
		expect_diff(c, 1, "image", "\"registry.example/api:1.0\"", "\"registry.example/api:1.1\"");
		expect_diff(c, 2, "replicas", "2", "3");
		for (size_t d = 0; d < c->ndiff; d++) {
			assert_null(strstr(c->diff[d].old_json, "hunter2"));
			assert_null(strstr(c->diff[d].new_json, "s3cret"));
		}
	}
	fl_tenant_plan_release(&tp);

	/* beta: only the image. */
	plan(&tp, &e, "beta", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CHANGES);
	assert_int_equal(tp.updates, 1);
	assert_int_equal(tp.nregions, 1);
	assert_int_equal(tp.regions[0].changes[0].ndiff, 1);
	expect_diff(&tp.regions[0].changes[0], 0, "image", "\"registry.example/api:1.0\"",
		    "\"registry.example/api:1.1\"");
	fl_tenant_plan_release(&tp);

	/* Applied again, acme converges by its markers. */
	converge(&e, "acme");
	plan(&tp, &e, "acme", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CONVERGED);
	assert_true(tp.from_marker);
	fl_tenant_plan_release(&tp);
	env_close(&e);
}

static void test_removed_templates_withheld_or_deleted(void **state)
{
	struct env e;
	struct fl_tenant_plan tp;
	(void)state;

	env_open(&e, base_fleet);
	converge(&e, "acme");
	/* Hand-made, unmanaged: never deleted. */
	append_state(&e, "111", "us-east-1", "u secret vault {\"a\":1}\n");
	const struct file change[] = {
		{ "release/a.yaml", "kind: service\n"
				    "name: api\n"
				    "spec:\n"
				    "  image: registry.example/api:1.0\n"
				    "  replicas: \"{{vars.replicas}}\"\n"
				    "  env:\n"
				    "    TITLE: \"{{vars.display_name}}\"\n"
				    "    REGION: \"{{region}}\"\n"
				    "    DB_PASSWORD: \"{{vars.db_password}}\"\n" },
		{ "release/b.yaml", NULL },
		{ NULL, NULL },
	};
	commit(&e, change);

	/* Without prune: withheld, nothing to do. */
	plan(&tp, &e, "acme", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CONVERGED);
	assert_false(tp.from_marker);
	assert_int_equal(tp.withheld, 4);
	assert_int_equal(tp.deletes + tp.creates + tp.updates, 0);
	assert_int_equal(tp.resources, 2);
	assert_int_equal(tp.observed, ACME_RES);
	for (size_t r = 0; r < 2; r++) {
		assert_int_equal(tp.regions[r].withheld, 2);
		assert_int_equal(tp.regions[r].nchanges, 0);
		assert_int_equal(tp.regions[r].unchanged, 1);
	}
	fl_tenant_plan_release(&tp);

	/* With prune: deletes in reverse release order; the unmanaged line stays. */
	plan(&tp, &e, "acme", true, false);
	assert_int_equal(tp.outcome, FL_TENANT_CHANGES);
	assert_int_equal(tp.deletes, 4);
	assert_int_equal(tp.withheld, 0);
	static const char *const want[] = { "delete job/reports", "delete config/base" };
	for (size_t r = 0; r < 2; r++) {
		const struct fl_region_plan *rp = &tp.regions[r];
		expect_changes(rp, want, N_ELEMS(want));
		assert_int_equal(rp->withheld, 0);
		for (size_t i = 0; i < rp->nchanges; i++) {
			const struct fl_change *c = &rp->changes[i];
			assert_null(c->tpl);
			assert_false(fp_zero(&c->old_fp));
			assert_true(fp_zero(&c->new_fp));
			assert_int_equal(c->ndiff, 0);
		}
	}
	fl_tenant_plan_release(&tp);

	/* Removing the api template too: the unmanaged resource is still not deleted. */
	const struct file empty_release[] = {
		{ "release/a.yaml", "kind: config\nname: other\nspec: {}\n" },
		{ NULL, NULL },
	};
	commit(&e, empty_release);
	plan(&tp, &e, "acme", true, false);
	static const char *const want_us[] = { "create config/other", "delete job/reports",
					       "delete config/base", "delete service/api" };
	expect_changes(region_of(&tp, "us-east-1"), want_us, N_ELEMS(want_us));
	assert_int_equal(tp.deletes, 6);
	assert_int_equal(tp.observed, ACME_RES);
	fl_tenant_plan_release(&tp);
	env_close(&e);
}

static void test_identity_mismatch_fails_one_tenant(void **state)
{
	struct env e;
	struct fl_tenant_plan tp;
	char path[256];
	(void)state;

	env_open(&e, base_fleet);
	/* An account that exists but reports another id, with no marker yet. */
	snprintf(path, sizeof(path), "%s/222", e.accounts);
	fl_test_run("mkdir -p '%s'", path);
	snprintf(path, sizeof(path), "%s/222/account.json", e.accounts);
	write_text(path, "{\"account\":\"999\",\"tenant\":\"beta\"}\n");

	plan(&tp, &e, "beta", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_FAILED);
	assert_int_equal(tp.error.code, FL_EIDENTITY);
	assert_non_null(strstr(tp.error.msg, "'999'"));
	assert_non_null(strstr(tp.error.msg, "'222'"));
	fl_tenant_plan_release(&tp);

	/* A converged account rewritten behind flotilla's back: refresh checks the identity. */
	converge(&e, "acme");
	converge(&e, "gamma");
	snprintf(path, sizeof(path), "%s/333/account.json", e.accounts);
	write_text(path, "{\"account\":\"444\",\"tenant\":\"gamma\"}\n");

	struct fl_plan_summary sum;
	struct fl_plan_opts opts;
	struct fl_error err = FL_ERROR_INIT;
	struct seen seen;
	memset(&opts, 0, sizeof(opts));
	memset(&seen, 0, sizeof(seen));
	opts.refresh = true;
	opts.threads = 2;
	assert_int_equal(fl_plan_run(&sum, e.fleet, &e.drv, &opts, record, &seen, &err), 0);
	assert_int_equal(seen.len, 3);
	assert_false(seen.out_of_order);
	assert_int_equal(outcome_of(&seen, "acme"), FL_TENANT_CONVERGED);
	assert_int_equal(outcome_of(&seen, "beta"), FL_TENANT_FAILED);
	assert_int_equal(outcome_of(&seen, "gamma"), FL_TENANT_FAILED);
	assert_int_equal(sum.tenants, 3);
	assert_int_equal(sum.tenants_failed, 2);
	assert_int_equal(sum.tenants_changed, 0);
	assert_int_equal(sum.creates + sum.updates + sum.deletes, 0);
	seen_release(&seen);
	env_close(&e);
}

/*
 * Load refuses a fleet that renders past a limit, but rendering checks again
 * as it allocates: a tenant whose var grew past 1 MiB (swapped in here, as a
 * library caller could) fails alone, with the positioned error, and the
 * other tenants plan as before.
 */
static void test_render_limit_fails_one_tenant(void **state)
{
	size_t len = ((size_t)1 << 20) + 1;
	struct fl_node big = { 0 };
	char *title = malloc(len + 1);
	struct fl_tenant *beta;
	const struct fl_node *was;
	struct fl_tenant_plan tp;
	struct env e;
	(void)state;

	assert_non_null(title);
	memset(title, 'x', len);
	title[len] = '\0';
	big.type = FL_NODE_STR;
	big.v.str.ptr = title;
	big.v.str.len = len;
	env_open(&e, base_fleet);
	beta = (struct fl_tenant *)tenant(&e, "beta");
	was = beta->vars[0];
	beta->vars[0] = &big; /* display_name */

	plan(&tp, &e, "beta", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_FAILED);
	assert_int_equal(tp.error.code, FL_ELIMIT);
	assert_string_equal(tp.error.msg, "region 'eu-west-1': rendered JSON of resource kind 'service' name 'api' exceeds the "
					  "limit of 1048576 bytes per resource (tenant 'beta', region 'eu-west-1')");
	assert_string_equal(tp.error.path, "release/a.yaml");
	assert_int_equal(tp.error.line, 1);
	fl_tenant_plan_release(&tp);
	plan(&tp, &e, "acme", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CHANGES);
	fl_tenant_plan_release(&tp);

	beta->vars[0] = was;
	free(title);
	env_close(&e);
}

static void test_tenant_states(void **state)
{
	struct env e;
	struct fl_tenant_plan tp;
	(void)state;

	env_open(&e, base_fleet);
	converge(&e, "acme");
	append_state(&e, "111", "eu-west-1", "u secret vault {\"a\":1}\n");
	const struct file change[] = {
		{ "tenants/acme.yaml",
		  "name: acme\naccount: \"111\"\nregions: [us-east-1, eu-west-1]\ncanary: true\n"
		  "services: [api, reports]\nvars: { display_name: Acme, db_password: hunter2 }\n"
		  "state: decommissioned\n" },
		{ "tenants/beta.yaml", BETA "state: suspended\n" },
		{ "tenants/gamma.yaml", GAMMA "state: decommissioned\n" },
		{ NULL, NULL },
	};
	commit(&e, change);

	/* Suspended: left as it is, not even observed. */
	plan(&tp, &e, "beta", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_SKIPPED);
	assert_int_equal(tp.nregions, 0);
	assert_false(tp.bootstrap);
	fl_tenant_plan_release(&tp);

	/* Decommissioned with resources: every managed one goes, without prune. */
	plan(&tp, &e, "acme", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CHANGES);
	assert_false(tp.bootstrap);
	assert_int_equal(tp.deletes, ACME_RES);
	assert_int_equal(tp.withheld, 0);
	assert_int_equal(tp.creates + tp.updates, 0);
	assert_int_equal(tp.resources, 0);
	assert_int_equal(tp.observed, ACME_RES);
	assert_int_equal(tp.nregions, 2);
	static const char *const want[] = { "delete job/reports", "delete config/base",
					    "delete service/api" };
	expect_changes(region_of(&tp, "us-east-1"), want, N_ELEMS(want));
	expect_changes(region_of(&tp, "eu-west-1"), want, N_ELEMS(want));
	fl_tenant_plan_release(&tp);

	/* Decommissioned without an account: nothing to do, nothing to create. */
	plan(&tp, &e, "gamma", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CONVERGED);
	assert_false(tp.bootstrap);
	assert_int_equal(tp.creates + tp.deletes, 0);
	fl_tenant_plan_release(&tp);

	struct fl_plan_summary sum;
	struct fl_plan_opts opts;
	struct fl_error err = FL_ERROR_INIT;
	memset(&opts, 0, sizeof(opts));
	assert_int_equal(fl_plan_run(&sum, e.fleet, &e.drv, &opts, NULL, NULL, &err), 0);
	assert_int_equal(sum.tenants, 3);
	assert_int_equal(sum.tenants_changed, 1);
	assert_int_equal(sum.deletes, ACME_RES);
	assert_int_equal(sum.observed, ACME_RES);
	assert_true(fl_plan_mass_delete(&sum, e.fleet->max_delete_percent));
	env_close(&e);
}

static void test_region_dropped_from_manifest(void **state)
{
	struct env e;
	struct fl_tenant_plan tp;
	(void)state;

	env_open(&e, base_fleet);
	converge(&e, "acme");
	const struct file change[] = {
		{ "tenants/acme.yaml",
		  "name: acme\naccount: \"111\"\nregions: [us-east-1]\ncanary: true\n"
		  "services: [api, reports]\nvars: { display_name: Acme, db_password: hunter2 }\n" },
		{ NULL, NULL },
	};
	commit(&e, change);

	plan(&tp, &e, "acme", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CONVERGED);
	assert_int_equal(tp.nregions, 2);
	assert_string_equal(tp.regions[0].region, "us-east-1");
	assert_true(tp.regions[0].in_manifest);
	assert_int_equal(tp.regions[0].unchanged, 3);
	assert_string_equal(tp.regions[1].region, "eu-west-1");
	assert_false(tp.regions[1].in_manifest);
	assert_int_equal(tp.regions[1].withheld, 3);
	assert_int_equal(tp.regions[1].nchanges, 0);
	assert_int_equal(tp.withheld, 3);
	assert_int_equal(tp.resources, 3);
	assert_int_equal(tp.observed, ACME_RES);
	fl_tenant_plan_release(&tp);

	plan(&tp, &e, "acme", true, false);
	assert_int_equal(tp.outcome, FL_TENANT_CHANGES);
	assert_int_equal(tp.deletes, 3);
	const struct fl_region_plan *rp = region_of(&tp, "eu-west-1");
	assert_false(rp->in_manifest);
	static const char *const want[] = { "delete job/reports", "delete config/base",
					    "delete service/api" };
	expect_changes(rp, want, N_ELEMS(want));
	assert_int_equal(region_of(&tp, "us-east-1")->nchanges, 0);
	fl_tenant_plan_release(&tp);
	env_close(&e);
}

static void test_hand_edited_spec_is_drift(void **state)
{
	struct env e;
	struct fl_tenant_plan tp;
	(void)state;

	env_open(&e, base_fleet);
	converge(&e, "beta");
	edit_state(&e, "222", "eu-west-1", "\"replicas\":2}", "\"replicas\":5}");

	/* The marker still proves the inputs: drift is not seen without refresh. */
	plan(&tp, &e, "beta", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CONVERGED);
	assert_true(tp.from_marker);
	fl_tenant_plan_release(&tp);

	plan(&tp, &e, "beta", false, true);
	assert_int_equal(tp.outcome, FL_TENANT_CHANGES);
	assert_int_equal(tp.updates, 1);
	static const char *const want[] = { "update service/api" };
	expect_changes(&tp.regions[0], want, 1);
	assert_int_equal(tp.regions[0].changes[0].ndiff, 1);
	expect_diff(&tp.regions[0].changes[0], 0, "replicas", "5", "2");
	fl_tenant_plan_release(&tp);

	/* fleet.yaml changes without changing what renders: the marker no longer proves anything. */
	const struct file change[] = {
		{ "fleet.yaml", FLEET_YAML "# a comment\n" },
		{ NULL, NULL },
	};
	commit(&e, change);
	plan(&tp, &e, "beta", false, false);
	assert_int_equal(tp.outcome, FL_TENANT_CHANGES);
	assert_false(tp.from_marker);
	assert_int_equal(tp.updates, 1);
	expect_diff(&tp.regions[0].changes[0], 0, "replicas", "5", "2");
	fl_tenant_plan_release(&tp);
	env_close(&e);
}

/* ~300 tenants, more than the window of 4 threads, delivered in name order. */
static void test_run_order_window_and_stop(void **state)
{
	enum { N = 300 };
	struct env e;
	char path[64], text[256];
	struct file *files = calloc(N + 3, sizeof(*files));
	char(*paths)[64] = calloc(N, sizeof(*paths));
	char(*texts)[256] = calloc(N, sizeof(*texts));
	size_t suspended = 0;
	(void)state;

	assert_non_null(files);
	assert_non_null(paths);
	assert_non_null(texts);
	files[0].path = "fleet.yaml";
	files[0].content = FLEET_YAML;
	files[1].path = "release/a.yaml";
	files[1].content = RELEASE_A;
	/* Written in an order other than the names', so the loader must sort. */
	for (size_t k = 0; k < N; k++) {
		size_t i = (k * 7) % N;
		bool suspend = i % 10 == 3;
		snprintf(path, sizeof(path), "tenants/t%03zu.yaml", i);
		snprintf(text, sizeof(text),
			 "name: t%03zu\naccount: \"%zu\"\nregions: [us-east-1]\nvars: { display_name: T%zu "
			 "}\n%s",
			 i, 5000 + i, i, suspend ? "state: suspended\n" : "");
		memcpy(paths[k], path, sizeof(path));
		memcpy(texts[k], text, sizeof(text));
		files[k + 2].path = paths[k];
		files[k + 2].content = texts[k];
		suspended += suspend;
	}
	env_open(&e, files);
	free(files);
	free(paths);
	free(texts);
	assert_int_equal(e.fleet->ntenants, N);
	assert_int_equal(suspended, 30);

	/* Some accounts converged, so outcomes differ along the run. */
	for (size_t i = 0; i < N; i += 17) {
		if (i % 10 == 3)
			continue;
		snprintf(path, sizeof(path), "t%03zu", i);
		converge(&e, path);
	}
	size_t converged = 0;
	for (size_t i = 0; i < N; i += 17)
		converged += i % 10 != 3;

	struct fl_plan_summary sum;
	struct fl_plan_opts opts;
	struct fl_error err = FL_ERROR_INIT;
	struct seen seen;
	memset(&opts, 0, sizeof(opts));
	memset(&seen, 0, sizeof(seen));
	opts.threads = 4;
	assert_int_equal(fl_plan_run(&sum, e.fleet, &e.drv, &opts, record, &seen, &err), 0);
	assert_int_equal(seen.len, N);
	assert_false(seen.out_of_order);
	for (size_t i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "t%03zu", i);
		assert_string_equal(seen.names[i], path);
		enum fl_tenant_outcome want = i % 10 == 3   ? FL_TENANT_SKIPPED
					      : i % 17 == 0 ? FL_TENANT_CONVERGED
							    : FL_TENANT_CHANGES;
		if (seen.outcomes[i] != want)
			fail_msg("%s: outcome %d, want %d", path, (int)seen.outcomes[i], (int)want);
	}
	size_t changed = N - suspended - converged;
	assert_int_equal(sum.tenants, N);
	assert_int_equal(sum.tenants_changed, changed);
	assert_int_equal(sum.tenants_failed, 0);
	assert_int_equal(sum.creates, 2 * changed);
	assert_int_equal(sum.updates + sum.deletes + sum.withheld, 0);
	assert_int_equal(sum.resources, 2 * (N - suspended));
	assert_int_equal(sum.observed, 2 * converged);
	seen_release(&seen);

	/* One thread, then many: the same order. */
	static const unsigned thread_counts[] = { 1, 3, 16 };
	for (size_t t = 0; t < N_ELEMS(thread_counts); t++) {
		memset(&seen, 0, sizeof(seen));
		opts.threads = thread_counts[t];
		assert_int_equal(fl_plan_run(&sum, e.fleet, &e.drv, &opts, record, &seen, &err), 0);
		assert_int_equal(seen.len, N);
		assert_false(seen.out_of_order);
		assert_int_equal(sum.tenants_changed, changed);
		seen_release(&seen);
	}

	/* A callback's non-zero return stops the run and is returned. */
	static const size_t stops[] = { 1, 50, 200, N };
	for (size_t t = 0; t < N_ELEMS(stops); t++) {
		memset(&seen, 0, sizeof(seen));
		seen.stop_at = stops[t];
		seen.stop_code = 42;
		opts.threads = 4;
		assert_int_equal(fl_plan_run(&sum, e.fleet, &e.drv, &opts, record, &seen, &err), 42);
		assert_int_equal(seen.len, stops[t]);
		assert_false(seen.out_of_order);
		assert_int_equal(sum.tenants, stops[t]);
		seen_release(&seen);
	}
	env_close(&e);
}

static void test_mass_delete_thresholds(void **state)
{
	static const struct {
		const char *name;
		size_t deletes, observed;
		unsigned percent;
		bool want;
	} cases[] = {
		{ "no deletes, nothing held", 0, 0, 10, false },
		{ "no deletes", 0, 100, 0, false },
		{ "deletes from nothing held", 1, 0, 10, true },
		{ "exactly the limit", 10, 100, 10, false },
		{ "one past the limit", 11, 100, 10, true },
		{ "below the limit", 9, 100, 10, false },
		{ "one of ten at 10%", 1, 10, 10, false },
		{ "two of ten at 10%", 2, 10, 10, true },
		{ "limit 0 refuses any delete", 1, 1000, 0, true },
		{ "limit 100 allows all", 100, 100, 100, false },
		{ "a third at 33%", 1, 3, 33, true },
		{ "a third at 34%", 1, 3, 34, false },
		{ "large counts at the limit", 1000000, 10000000, 10, false },
		{ "large counts past the limit", 1000001, 10000000, 10, true },
	};
	(void)state;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_plan_summary s;
		memset(&s, 0, sizeof(s));
		s.deletes = cases[i].deletes;
		s.observed = cases[i].observed;
		if (fl_plan_mass_delete(&s, cases[i].percent) != cases[i].want)
			fail_msg("case '%s': want %s", cases[i].name, cases[i].want ? "true" : "false");
	}
}

static void test_inputs_fingerprint(void **state)
{
	struct env e;
	struct fl_fp before, after, other_before, other_after;
	(void)state;

	env_open(&e, base_fleet);
	fl_inputs_fp(&before, e.fleet, tenant(&e, "acme"));
	fl_inputs_fp(&other_before, e.fleet, tenant(&e, "beta"));
	/* Per tenant. */
	assert_false(fl_fp_equal(&before, &other_before));

	static const struct {
		const char *name;
		struct file file;
		bool acme_changes, beta_changes;
	} cases[] = {
		{ "a file outside the fleet", { "README.md", "changed\n" }, false, false },
		{ "a script", { "ci/smoke-test", "#!/bin/sh\n" }, false, false },
		{ "another tenant", { "tenants/gamma.yaml", GAMMA "labels: { x: y }\n" }, false, false },
		{ "the tenant file", { "tenants/acme.yaml", ACME "labels: { x: y }\n" }, true, false },
		{ "fleet.yaml", { "fleet.yaml", FLEET_YAML "prune: false\n" }, true, true },
		{ "the release", { "release/b.yaml", RELEASE_B "---\nkind: job\nname: more\n" }, true, true },
		{ "a new release file", { "release/c.yaml", "kind: job\nname: c\n" }, true, true },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		const struct file change[] = { cases[i].file, { NULL, NULL } };
		commit(&e, change);
		fl_inputs_fp(&after, e.fleet, tenant(&e, "acme"));
		fl_inputs_fp(&other_after, e.fleet, tenant(&e, "beta"));
		if (fl_fp_equal(&before, &after) == cases[i].acme_changes)
			fail_msg("case '%s': acme's fingerprint %s", cases[i].name,
				 cases[i].acme_changes ? "did not change" : "changed");
		if (fl_fp_equal(&other_before, &other_after) == cases[i].beta_changes)
			fail_msg("case '%s': beta's fingerprint %s", cases[i].name,
				 cases[i].beta_changes ? "did not change" : "changed");
		before = after;
		other_before = other_after;
	}
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_accounts_create_everything),
		cmocka_unit_test(test_converged_by_marker_and_by_refresh),
		cmocka_unit_test(test_template_change_updates_with_field_diff),
		cmocka_unit_test(test_removed_templates_withheld_or_deleted),
		cmocka_unit_test(test_identity_mismatch_fails_one_tenant),
		cmocka_unit_test(test_render_limit_fails_one_tenant),
		cmocka_unit_test(test_tenant_states),
		cmocka_unit_test(test_region_dropped_from_manifest),
		cmocka_unit_test(test_hand_edited_spec_is_drift),
		cmocka_unit_test(test_run_order_window_and_stop),
		cmocka_unit_test(test_mass_delete_thresholds),
		cmocka_unit_test(test_inputs_fingerprint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
