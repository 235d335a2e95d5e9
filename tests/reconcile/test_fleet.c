/*
 * Tests of reconcile/fleet*.c and reconcile/fleet/tenant.c: fleets committed to real
 * repositories with the git command in a temporary directory, loaded with
 * fl_fleet_load; a good fleet checked field by field, then a table of bad
 * fleets, each with the first error it must give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define GIT FL_TEST_GIT

/* A file of a test fleet; content NULL removes the file from a base. */
struct file {
	const char *path;
	const char *content;
};

static void write_file(const char *dir, const char *path, const char *content)
{
	char full[512];
	FILE *f;

	snprintf(full, sizeof(full), "%s/%s", dir, path);
	char *slash = strrchr(full, '/');
	*slash = '\0';
	fl_test_run("mkdir -p '%s'", full);
	*slash = '/';
	f = fopen(full, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
	assert_int_equal(fclose(f), 0);
}

/* True when path is replaced or removed by one of over. */
static bool overridden(const char *path, const struct file *over)
{
	for (size_t i = 0; over && over[i].path; i++)
		if (strcmp(over[i].path, path) == 0)
			return true;
	return false;
}

/* Commits base with over applied into a new repository; dir gets its path. */
static void make_repo(char dir[64], const struct file *base, const struct file *over)
{
	snprintf(dir, 64, "/tmp/fl-test-fleet-XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; base && base[i].path; i++)
		if (!overridden(base[i].path, over))
			write_file(dir, base[i].path, base[i].content);
	for (size_t i = 0; over && over[i].path; i++)
		if (over[i].content)
			write_file(dir, over[i].path, over[i].content);
	fl_test_run("cd '%s' && " GIT " init -q && " GIT " add -A && " GIT " commit -q --allow-empty -m fleet", dir);
}

struct loaded {
	char dir[64];
	struct fl_repo *repo;
	struct fl_oid commit;
	struct fl_fleet *fleet;
	struct fl_diags diags;
	struct fl_error err;
	int rc;
};

static void load_with(struct loaded *l, const struct file *base, const struct file *over,
		      const struct fl_fleet_load_opts *opts)
{
	memset(l, 0, sizeof(*l));
	make_repo(l->dir, base, over);
	assert_int_equal(fl_repo_open(&l->repo, l->dir, &l->err), 0);
	assert_int_equal(fl_repo_resolve(&l->commit, l->repo, "HEAD", &l->err), 0);
	l->rc = fl_fleet_load(&l->fleet, l->repo, &l->commit, opts, &l->diags, &l->err);
}

static void unload(struct loaded *l)
{
	fl_fleet_free(l->fleet);
	fl_diags_release(&l->diags);
	fl_repo_free(l->repo);
	fl_test_run("rm -rf '%s'", l->dir);
}

/* The first line of the formatted first problem. */
static void first_line(char *out, size_t cap, const struct loaded *l)
{
	struct fl_buf b = FL_BUF_INIT;

	assert_true(l->diags.len > 0);
	fl_error_format(&b, &l->diags.items[0]);
	char *nl = strchr(b.ptr, '\n');
	if (nl)
		*nl = '\0';
	snprintf(out, cap, "%s", b.ptr);
	fl_buf_release(&b);
}

/* ---- the good fleet ---- */

static const struct file good[] = {
	{ "fleet.yaml",
	  "version: 1\n"
	  "name: healthco\n"
	  "vars:\n"
	  "  display_name: { type: string, required: true }\n"
	  "  brand_color:  { type: string, pattern: \"#[0-9a-fA-F]{6}\", default: \"#1f6feb\" }\n"
	  "  seats:        { type: integer, min: 1, max: 1000, default: 10 }\n"
	  "  ratio:        { type: number, min: 0.5 }\n"
	  "  sso:          { type: boolean, default: false }\n"
	  "  db_password:  { type: string, secret: true }\n"
	  "services: [api, portal, reports]\n"
	  "waves:\n"
	  "  - name: canary\n"
	  "    select: { canary: true }\n"
	  "    max_parallel: 1\n"
	  "    failure_tolerance: 0\n"
	  "    bake: 15m\n"
	  "    verify:\n"
	  "      - name: smoke\n"
	  "        run: [\"ci/smoke-test\", \"{{tenant.name}}\", \"{{region}}\"]\n"
	  "        timeout: 1h30m\n"
	  "      - name: quick\n"
	  "        run: [\"true\"]\n"
	  "  - name: early\n"
	  "    select: { labels: { ring: [early, beta], size: large } }\n"
	  "    max_parallel: 25%\n"
	  "    failure_tolerance: 1\n"
	  "    gate: manual\n"
	  "    on_failure: rollback\n"
	  "  - name: vip\n"
	  "    select: { tenants: [zeta] }\n"
	  "    on_failure: halt\n"
	  "  - name: fleet\n"
	  "    select: rest\n"
	  "    max_parallel: 50\n"
	  "    failure_tolerance: 2%\n"
	  "prune: true\n"
	  "guard: { max_delete_percent: 20 }\n"
	  "driver: { type: exec, command: [\"drivers/x\", \"{{tenant.name}}\"] }\n"
	  "status:\n"
	  "  - { type: git-notes }\n"
	  "  - { type: github, repo: o/n, token_env: GITHUB_TOKEN }\n" },
	{ "release/a.yaml", "kind: service\n"
			    "name: api\n"
			    "service: api\n"
			    "spec:\n"
			    "  title: \"{{vars.display_name}}\"\n"
			    "  seats: \"{{vars.seats}}\"\n"
			    "---\n"
			    "---\n"
			    "kind: config\n"
			    "name: base\n" },
	{ "release/b.yml",
	  "kind: service\nname: portal\nservice: portal\nspec: { region: \"{{region}}\" }\n" },
	{ "release/README.md", "not yaml: [\n" },
	{ "release/sub/x.yaml", "not: [valid\n" },
	{ "tenants/acme.yaml", "name: acme\n"
			       "account: \"123456789012\"\n"
			       "regions: [us-east-1, eu-west-1]\n"
			       "canary: true\n"
			       "labels: { ring: early, size: large }\n"
			       "services: [api, portal]\n"
			       "vars: { display_name: \"Acme Health\", brand_color: \"#003366\", ratio: 1 }\n"
			       "state: active\n" },
	{ "tenants/beta.yaml",
	  "name: beta\n"
	  "account: \"222\"\n"
	  "regions: [eu-west-1]\n"
	  "labels: { ring: beta, size: large }\n"
	  "vars: { display_name: Beta, seats: 40, ratio: 2.5, sso: true, db_password: s3cret }\n"
	  "state: suspended\n" },
	{ "tenants/gamma.yml",
	  "name: gamma\naccount: \"333\"\nregions: [ap-south-1]\nlabels: { ring: early }\n"
	  "services: [reports]\nvars: { display_name: G }\nstate: decommissioned\n" },
	{ "tenants/zeta.yaml",
	  "name: zeta\naccount: \"444\"\nregions: [us-west-2]\nvars: { display_name: Z }\n" },
	{ "tenants/README.md", "tenants live here\n" },
	{ NULL, NULL }
};

static void test_good_fleet_settings(void **state)
{
	struct loaded l;
	(void)state;

	load_with(&l, good, NULL, NULL);
	if (l.rc) {
		char line[600];
		first_line(line, sizeof(line), &l);
		fail_msg("load failed: %s", line);
	}
	const struct fl_fleet *f = l.fleet;
	char hex[FL_OID_HEX_LEN + 1];
	fl_oid_hex(hex, &l.commit);
	assert_string_equal(f->revision, hex);
	assert_true(fl_oid_equal(&f->commit, &l.commit));
	struct fl_oid zero;
	memset(&zero, 0, sizeof(zero));
	assert_false(fl_oid_equal(&f->fleet_blob, &zero));
	assert_false(fl_oid_equal(&f->release_tree, &zero));
	assert_string_equal(f->name, "healthco");

	assert_int_equal(f->nvars, 6);
	assert_string_equal(f->vars[0].name, "display_name");
	assert_int_equal(f->vars[0].type, FL_VAR_STRING);
	assert_true(f->vars[0].required);
	assert_null(f->vars[0].def);
	assert_string_equal(f->vars[1].pattern, "#[0-9a-fA-F]{6}");
	assert_non_null(f->vars[1].regex);
	assert_string_equal(f->vars[1].def->v.str.ptr, "#1f6feb");
	assert_int_equal(f->vars[2].type, FL_VAR_INTEGER);
	assert_true(f->vars[2].has_min && f->vars[2].has_max);
	assert_true(f->vars[2].min == 1 && f->vars[2].max == 1000);
	assert_int_equal(f->vars[2].def->v.i, 10);
	assert_int_equal(f->vars[3].type, FL_VAR_NUMBER);
	assert_true(f->vars[3].has_min && !f->vars[3].has_max && f->vars[3].min == 0.5);
	assert_int_equal(f->vars[4].type, FL_VAR_BOOLEAN);
	assert_false(f->vars[4].def->v.b);
	assert_true(f->vars[5].secret);
	assert_false(f->vars[4].secret);

	assert_int_equal(f->nservices, 3);
	assert_string_equal(f->services[2], "reports");

	assert_int_equal(f->nwaves, 4);
	const struct fl_wave *w = f->waves;
	assert_string_equal(w[0].name, "canary");
	assert_int_equal(w[0].select.kind, FL_SELECT_CANARY);
	assert_int_equal(w[0].bake_s, 900);
	assert_false(w[0].gate_manual);
	assert_int_equal(w[0].nverify, 2);
	assert_string_equal(w[0].verify[0].name, "smoke");
	assert_int_equal(w[0].verify[0].argc, 3);
	assert_string_equal(w[0].verify[0].argv[1], "{{tenant.name}}");
	assert_int_equal(w[0].verify[0].timeout_s, 5400);
	assert_int_equal(w[0].verify[1].timeout_s, 300);
	assert_int_equal(w[1].select.kind, FL_SELECT_LABELS);
	assert_int_equal(w[1].select.nlabels, 2);
	assert_string_equal(w[1].select.labels[0].key, "ring");
	assert_int_equal(w[1].select.labels[0].nvalues, 2);
	/* Written [early, beta]: kept sorted, for lookups. */
	assert_string_equal(w[1].select.labels[0].values[0], "beta");
	assert_string_equal(w[1].select.labels[0].values[1], "early");
	assert_true(w[1].max_parallel.percent && w[1].max_parallel.value == 25);
	assert_true(!w[1].failure_tolerance.percent && w[1].failure_tolerance.value == 1);
	assert_true(w[1].gate_manual);
	assert_false(w[0].rollback);
	assert_true(w[1].rollback);
	assert_false(w[2].rollback);
	assert_int_equal(w[2].select.kind, FL_SELECT_TENANTS);
	assert_int_equal(w[2].select.ntenants, 1);
	assert_string_equal(w[2].select.tenants[0], "zeta");
	assert_true(!w[2].max_parallel.percent && w[2].max_parallel.value == 1);
	assert_true(!w[2].failure_tolerance.percent && w[2].failure_tolerance.value == 0);
	assert_int_equal(w[2].bake_s, 0);
	assert_int_equal(w[3].select.kind, FL_SELECT_REST);
	assert_true(w[3].failure_tolerance.percent && w[3].failure_tolerance.value == 2);
	assert_int_equal(w[3].max_parallel.value, 50);

	assert_true(f->prune);
	assert_int_equal(f->max_delete_percent, 20);
	assert_string_equal(f->driver.type, "exec");
	assert_non_null(f->driver.node);
	assert_int_equal(fl_node_get(f->driver.node, "command")->v.seq.len, 2);
	assert_string_equal(fl_node_get(f->driver.node, "command")->v.seq.items[0]->v.str.ptr, "drivers/x");
	assert_int_equal(f->nstatus, 2);
	assert_string_equal(f->status[0].type, "git-notes");
	assert_string_equal(f->status[1].type, "github");
	assert_string_equal(fl_node_get(f->status[1].node, "repo")->v.str.ptr, "o/n");

	assert_int_equal(fl_fleet_wave_index(f, "vip"), 2);
	assert_int_equal(fl_fleet_wave_index(f, "nope"), -1);
	unload(&l);
}

static void test_good_fleet_release(void **state)
{
	struct loaded l;
	(void)state;

	load_with(&l, good, NULL, NULL);
	assert_int_equal(l.rc, 0);
	const struct fl_fleet *f = l.fleet;
	assert_int_equal(f->ntemplates, 3);
	assert_string_equal(f->templates[0].kind, "service");
	assert_string_equal(f->templates[0].name, "api");
	assert_string_equal(f->templates[0].service, "api");
	assert_string_equal(f->templates[0].path, "release/a.yaml");
	assert_int_equal(f->templates[0].line, 1);
	assert_non_null(f->templates[0].spec);
	assert_string_equal(f->templates[1].name, "base");
	assert_null(f->templates[1].service);
	assert_null(f->templates[1].spec);
	assert_int_equal(f->templates[1].line, 9);
	assert_string_equal(f->templates[2].path, "release/b.yml");
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(f->templates[i].index, i);
		assert_non_null(f->templates[i].compiled);
	}
	unload(&l);
}

static void test_good_fleet_tenants(void **state)
{
	struct loaded l;
	(void)state;

	load_with(&l, good, NULL, NULL);
	assert_int_equal(l.rc, 0);
	const struct fl_fleet *f = l.fleet;
	assert_int_equal(f->ntenants, 4);
	assert_string_equal(f->tenants[0].name, "acme");
	assert_string_equal(f->tenants[1].name, "beta");
	assert_string_equal(f->tenants[2].name, "gamma");
	assert_string_equal(f->tenants[3].name, "zeta");

	const struct fl_tenant *t = fl_fleet_tenant(f, "acme");
	assert_ptr_equal(t, &f->tenants[0]);
	assert_string_equal(t->account, "123456789012");
	assert_int_equal(t->nregions, 2);
	assert_string_equal(t->regions[0], "us-east-1");
	assert_string_equal(t->regions[1], "eu-west-1");
	assert_true(t->canary);
	assert_int_equal(t->nlabels, 2);
	assert_string_equal(t->labels[0].key, "ring");
	assert_string_equal(fl_tenant_label(t, "size"), "large");
	assert_null(fl_tenant_label(t, "nope"));
	assert_true(fl_tenant_subscribes(f, t, "api"));
	assert_true(fl_tenant_subscribes(f, t, "portal"));
	assert_false(fl_tenant_subscribes(f, t, "reports"));
	assert_true(fl_tenant_subscribes(f, t, NULL));
	assert_false(fl_tenant_subscribes(f, t, "unknown"));
	assert_string_equal(t->vars[0]->v.str.ptr, "Acme Health");
	assert_string_equal(t->vars[1]->v.str.ptr, "#003366");
	assert_int_equal(t->vars[2]->v.i, 10); /* default */
	assert_int_equal(t->vars[3]->v.i, 1);  /* integer for a number var */
	assert_false(t->vars[4]->v.b);	       /* default */
	assert_null(t->vars[5]);	       /* unset, no default */
	assert_int_equal(t->state, FL_TENANT_ACTIVE);
	assert_int_equal(t->wave, 0);
	assert_string_equal(t->path, "tenants/acme.yaml");

	t = fl_fleet_tenant(f, "beta");
	assert_int_equal(t->wave, 1);
	assert_false(t->canary);
	assert_int_equal(t->services, 0);
	assert_int_equal(t->state, FL_TENANT_SUSPENDED);
	assert_true(t->vars[3]->type == FL_NODE_FLOAT && t->vars[3]->v.f == 2.5);
	assert_string_equal(t->vars[5]->v.str.ptr, "s3cret");
	assert_string_equal(t->vars[1]->v.str.ptr, "#1f6feb");

	t = fl_fleet_tenant(f, "gamma");
	assert_int_equal(t->wave, 3); /* ring: early but no size: large */
	assert_int_equal(t->state, FL_TENANT_DECOMMISSIONED);
	assert_string_equal(t->path, "tenants/gamma.yml");
	assert_true(fl_tenant_subscribes(f, t, "reports"));
	assert_int_equal(fl_fleet_tenant(f, "zeta")->wave, 2);
	assert_null(fl_fleet_tenant(f, "nope"));
	assert_null(fl_fleet_tenant(f, "README"));

	assert_int_equal(f->waves[0].ntenants, 1);
	assert_int_equal(f->waves[1].ntenants, 1);
	assert_int_equal(f->waves[2].ntenants, 1);
	assert_int_equal(f->waves[3].ntenants, 1);
	unload(&l);
}

static const struct file minimal[] = { { "fleet.yaml",
					 "version: 1\nname: small\nwaves: [{ name: all, select: rest }]\n" },
				       { "tenants/one.yaml", "name: one\naccount: a1\nregions: [r1]\n" },
				       { NULL, NULL } };

static void test_defaults(void **state)
{
	struct loaded l;
	(void)state;

	load_with(&l, minimal, NULL, NULL);
	assert_int_equal(l.rc, 0);
	const struct fl_fleet *f = l.fleet;
	assert_int_equal(f->nvars, 0);
	assert_int_equal(f->nservices, 0);
	assert_false(f->prune);
	assert_int_equal(f->max_delete_percent, 10);
	/* The default driver's entry is built, as if written { type: dir, root: accounts }. */
	assert_string_equal(f->driver.type, "dir");
	assert_string_equal(fl_node_get(f->driver.node, "root")->v.str.ptr, "accounts");
	assert_int_equal(f->driver.node->line, 0);
	assert_int_equal(f->nstatus, 1);
	assert_string_equal(f->status[0].type, "git-notes");
	assert_int_equal(f->ntemplates, 0);
	struct fl_oid zero;
	memset(&zero, 0, sizeof(zero));
	assert_true(fl_oid_equal(&f->release_tree, &zero));
	assert_int_equal(f->ntenants, 1);
	assert_false(f->tenants[0].canary);
	assert_int_equal(f->tenants[0].state, FL_TENANT_ACTIVE);
	assert_int_equal(f->tenants[0].nlabels, 0);
	assert_int_equal(f->waves[0].ntenants, 1);
	unload(&l);
}

/*
 * The exec driver's documented timeout key: fleet.yaml with one loads (it
 * was refused as an unknown key once), and the driver opened from that
 * entry stops a program that runs longer.
 */
static void test_driver_timeout(void **state)
{
	static const struct file over[] = {
		{ "fleet.yaml", "version: 1\nname: small\nwaves: [{ name: all, select: rest }]\n"
				"driver: { type: exec, command: [sh, -c, \"sleep 5\"], timeout: 1s }\n" },
		{ NULL, NULL }
	};
	struct loaded l;
	struct fl_driver drv = { NULL, NULL };
	struct fl_buf account = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	bool found = false;
	(void)state;

	load_with(&l, minimal, over, NULL);
	assert_int_equal(l.rc, 0);
	assert_string_equal(fl_node_get(l.fleet->driver.node, "timeout")->v.str.ptr, "1s");
	assert_int_equal(fl_driver_open(&drv, &l.fleet->driver, &err), 0);
	assert_int_equal(drv.ops->identity(drv.self, &l.fleet->tenants[0], &account, &found, &err), FL_EDRIVER);
	assert_non_null(strstr(err.msg, "driver 'sh' timed out after 1 s on identity of tenant 'one'"));
	fl_driver_release(&drv);
	fl_buf_release(&account);
	unload(&l);
}

static void test_only(void **state)
{
	static const char *const names[] = { "zeta", "gamma", "zeta" };
	static const char *const bad[] = { "zeta", "nope" };
	static const char *const invalid[] = { "../zeta", "zeta" };
	struct fl_fleet_load_opts opts = { .only = names, .nonly = 3 };
	struct loaded l;
	char line[600];
	(void)state;

	load_with(&l, good, NULL, &opts);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.fleet->ntenants, 2);
	assert_string_equal(l.fleet->tenants[0].name, "gamma");
	assert_string_equal(l.fleet->tenants[1].name, "zeta");
	assert_int_equal(l.fleet->waves[0].ntenants, 0);
	unload(&l);

	opts.only = bad;
	opts.nonly = 2;
	load_with(&l, good, NULL, &opts);
	assert_int_equal(l.rc, FL_EINPUT);
	assert_null(l.fleet);
	first_line(line, sizeof(line), &l);
	assert_string_equal(line, "error: unknown tenant 'nope'");
	unload(&l);

	opts.only = invalid;
	load_with(&l, good, NULL, &opts);
	assert_int_equal(l.rc, FL_EINPUT);
	first_line(line, sizeof(line), &l);
	assert_string_equal(line, "error: unknown tenant '../zeta' (not a valid tenant name)");
	assert_int_equal(l.diags.len, 1);
	unload(&l);
}

/* Which changed paths are tenants' files (plan --since, apply's report of removed ones). */
static void test_tenant_file(void **state)
{
	static const struct {
		const char *path;
		bool is;
		size_t len;
	} cases[] = {
		{ "tenants/acme.yaml", true, 4 },  { "tenants/acme.yml", true, 4 },
		{ "tenants/a.b.yaml", true, 3 },   { "tenants/acme/x.yaml", false, 0 },
		{ "tenants/acme.json", false, 0 }, { "tenants/.yaml", false, 0 },
		{ "release/acme.yaml", false, 0 }, { "tenants", false, 0 },
		{ "acme.yaml", false, 0 },         { "xtenants/acme.yaml", false, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = 0;
		if (fl_tenant_file(cases[i].path, &len) != cases[i].is || (cases[i].is && len != cases[i].len))
			fail_msg("%s: got %d, length %zu", cases[i].path, !cases[i].is, len);
	}
}

/*
 * settings_only reads fleet.yaml alone: a broken release and a broken tenant
 * do not stop it (plan --since takes the base's driver and statuses so), and
 * nothing of them is in the fleet; a broken fleet.yaml still fails.
 */
static void test_settings_only(void **state)
{
	static const struct file broken[] = {
		{ "release/a.yaml", "kind: service\nname: [unclosed\n" },
		{ "tenants/gamma.yaml", "name: gamma\naccount: [\n" },
		{ NULL, NULL },
	};
	static const struct file bad_settings[] = { { "fleet.yaml", "version: 1\nwaves: 7\n" }, { NULL, NULL } };
	struct fl_fleet_load_opts opts = { .settings_only = true };
	struct loaded l;
	(void)state;

	load_with(&l, good, broken, NULL);
	assert_int_equal(l.rc, FL_EINPUT);
	unload(&l);
	load_with(&l, good, broken, &opts);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.fleet->ntenants, 0);
	assert_int_equal(l.fleet->ntemplates, 0);
	assert_true(l.fleet->nwaves > 0);
	assert_non_null(l.fleet->driver.type);
	unload(&l);
	load_with(&l, good, bad_settings, &opts);
	assert_int_equal(l.rc, FL_EINPUT);
	assert_null(l.fleet);
	unload(&l);
}

/* The same diagnostics, in the same order, whatever the number of threads. */
static void test_threads_same_diags(void **state)
{
	char path[64][32], body[64][128];
	struct file files[66];
	struct fl_buf one = FL_BUF_INIT, four = FL_BUF_INIT;
	(void)state;

	files[0] = minimal[0];
	for (int i = 0; i < 64; i++) {
		snprintf(path[i], sizeof(path[i]), "tenants/t%02d.yaml", i);
		snprintf(body[i], sizeof(body[i]), "name: t%02d\naccount: a%d\nregions: [r1]\n%s", i, i % 50,
			 i % 7 == 3 ? "colour: red\n" : "");
		files[i + 1].path = path[i];
		files[i + 1].content = body[i];
	}
	files[65].path = NULL;
	files[65].content = NULL;
	for (unsigned threads = 1; threads <= 4; threads += 3) {
		struct fl_fleet_load_opts opts = { .threads = threads };
		struct loaded l;
		load_with(&l, files, NULL, &opts);
		assert_int_equal(l.rc, FL_EINPUT);
		for (size_t i = 0; i < l.diags.len; i++)
			fl_error_format(threads == 1 ? &one : &four, &l.diags.items[i]);
		unload(&l);
	}
	assert_string_equal(one.ptr, four.ptr);
	assert_non_null(strstr(one.ptr, "tenants/t03.yaml:4:1: error: unknown key 'colour' in tenant"));
	assert_non_null(strstr(one.ptr,
			       "tenants/t50.yaml:2:10: error: account 'a0' is already used by tenant 't00'"));
	fl_buf_release(&one);
	fl_buf_release(&four);
}

/* ---- bad fleets ---- */

static const struct file base[] = {
	{ "fleet.yaml", "version: 1\n"
			"name: base\n"
			"vars:\n"
			"  display_name: { type: string, required: true }\n"
			"  brand_color: { type: string, pattern: \"#[0-9a-f]{6}\", default: \"#1f6feb\" }\n"
			"  seats: { type: integer, min: 1, max: 100 }\n"
			"services: [api, portal]\n"
			"waves:\n"
			"  - { name: canary, select: { canary: true } }\n"
			"  - { name: fleet, select: rest }\n" },
	{ "release/api.yaml",
	  "kind: service\nname: api\nservice: api\nspec: { title: \"{{vars.display_name}}\" }\n" },
	{ "tenants/acme.yaml",
	  "name: acme\naccount: \"111\"\nregions: [us-east-1]\nvars: { display_name: Acme }\n" },
	{ "tenants/beta.yaml",
	  "name: beta\naccount: \"222\"\nregions: [us-east-1]\nvars: { display_name: Beta }\n" },
	{ NULL, NULL }
};

#define FLEET_HEAD "version: 1\nname: base\nservices: [api, portal]\n"
#define WAVES "waves: [{ name: all, select: rest }]\n"
#define VARS(decl) "vars:\n  display_name: { type: string }\n  " decl "\n"

struct bad_case {
	const char *name;
	struct file over[3];
	const char *expected; /* the first line of the first error */
	int rc;
};

static const struct bad_case bad_cases[] = {
	{ "fleet is a list",
	  { { "fleet.yaml", "- 1\n" } },
	  "fleet.yaml:1:1: error: expected a mapping of fleet settings, got list",
	  FL_EINPUT },
	{ "missing waves",
	  { { "fleet.yaml", "version: 1\nname: x\n" } },
	  "fleet.yaml:1:1: error: missing required key 'waves' in fleet.yaml",
	  FL_EINPUT },
	{ "empty waves",
	  { { "fleet.yaml", "version: 1\nname: x\nwaves: []\n" } },
	  "fleet.yaml:3:8: error: expected at least one wave",
	  FL_EINPUT },
	{ "version as string",
	  { { "fleet.yaml", "version: \"1\"\nname: x\n" WAVES } },
	  "fleet.yaml:1:10: error: expected version 1, got string",
	  FL_EINPUT },
	{ "misspelt top key",
	  { { "fleet.yaml", FLEET_HEAD WAVES "prunе: true\nguards: {}\n" } },
	  "fleet.yaml:5:1: error: unknown key 'prunе' in fleet.yaml",
	  FL_EINPUT },
	{ "did you mean guard",
	  { { "fleet.yaml", FLEET_HEAD WAVES "gaurd: {}\n" } },
	  "fleet.yaml:5:1: error: unknown key 'gaurd' in fleet.yaml (did you mean 'guard'?)",
	  FL_EINPUT },
	{ "bad var name",
	  { { "fleet.yaml", FLEET_HEAD WAVES VARS("9lives: { type: integer }") } },
	  "fleet.yaml:7:3: error: invalid var name '9lives' (expected [A-Za-z_][A-Za-z0-9_]*)",
	  FL_EINPUT },
	{ "unknown var type",
	  { { "fleet.yaml", FLEET_HEAD WAVES VARS("n: { type: int }") } },
	  "fleet.yaml:7:14: error: unknown var type 'int' (expected string, integer, number or boolean)",
	  FL_EINPUT },
	{ "pattern on integer",
	  { { "fleet.yaml", FLEET_HEAD WAVES VARS("n: { type: integer, pattern: \"[0-9]\" }") } },
	  "fleet.yaml:7:32: error: a pattern is only allowed for string vars (var 'n' is integer)",
	  FL_EINPUT },
	{ "min on string",
	  { { "fleet.yaml", FLEET_HEAD WAVES VARS("n: { type: string, min: 1 }") } },
	  "fleet.yaml:7:27: error: min is only allowed for integer and number vars (var 'n' is string)",
	  FL_EINPUT },
	{ "min above max",
	  { { "fleet.yaml", FLEET_HEAD WAVES VARS("n: { type: number, min: 5, max: 1 }") } },
	  "fleet.yaml:7:35: error: max 1 of var 'n' is less than its min 5",
	  FL_EINPUT },
	{ "default of wrong type",
	  { { "fleet.yaml", FLEET_HEAD WAVES VARS("n: { type: boolean, default: 1 }") } },
	  "fleet.yaml:7:32: error: expected a boolean for var 'n', got integer",
	  FL_EINPUT },
	{ "default over max",
	  { { "fleet.yaml", FLEET_HEAD WAVES VARS("n: { type: integer, max: 3, default: 4 }") } },
	  "fleet.yaml:7:40: error: var 'n' must be at most 3, got 4",
	  FL_EINPUT },
	{ "duplicate service",
	  { { "fleet.yaml", "version: 1\nname: x\nservices: [a, b, a]\n" WAVES } },
	  "fleet.yaml:3:18: error: duplicate service 'a'",
	  FL_EINPUT },
	{ "service with slash",
	  { { "fleet.yaml", "version: 1\nname: x\nservices: [a/b]\n" WAVES } },
	  "fleet.yaml:3:12: error: invalid service name 'a/b'",
	  FL_EINPUT },
	{ "duplicate wave",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: rest }, { name: a, select: rest }]\n" } },
	  "fleet.yaml:4:44: error: duplicate wave 'a'",
	  FL_EINPUT },
	{ "wave without select",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a }]\n" } },
	  "fleet.yaml:4:9: error: missing required key 'select' in wave",
	  FL_EINPUT },
	{ "canary false",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: { canary: false } }]\n" } },
	  "fleet.yaml:4:38: error: expected 'canary: true'",
	  FL_EINPUT },
	{ "two selectors",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: { canary: true, tenants: [x] } }]\n" } },
	  "fleet.yaml:4:44: error: expected a selector with exactly one of canary, labels or tenants",
	  FL_EINPUT },
	/* Regression (found by fuzz_fleet): an empty map read its first item, which it has not. */
	{ "empty selector",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: {} }]\n" } },
	  "fleet.yaml:4:28: error: expected a selector with exactly one of canary, labels or tenants",
	  FL_EINPUT },
	{ "selector list",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: [rest] }]\n" } },
	  "fleet.yaml:4:28: error: expected a selector",
	  FL_EINPUT },
	{ "bake without unit",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: rest, bake: 30 }]\n" } },
	  "fleet.yaml:4:40: error: expected a duration like 30s, 15m, 2h, 1h30m or 1d for bake, got integer",
	  FL_EINPUT },
	{ "bake in wrong order",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: rest, bake: 30m1h }]\n" } },
	  "fleet.yaml:4:40: error: invalid bake '30m1h'",
	  FL_EINPUT },
	{ "gate auto",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: rest, gate: auto }]\n" } },
	  "fleet.yaml:4:40: error: invalid gate (expected 'manual')",
	  FL_EINPUT },
	{ "on_failure retry",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: rest, on_failure: retry }]\n" } },
	  "fleet.yaml:4:46: error: invalid on_failure 'retry' (expected 'halt' or 'rollback')",
	  FL_EINPUT },
	{ "on_failure not a string",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: rest, on_failure: [rollback] }]\n" } },
	  "fleet.yaml:4:46: error: invalid on_failure (expected 'halt' or 'rollback')",
	  FL_EINPUT },
	{ "max_parallel 0%",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: rest, max_parallel: 0% }]\n" } },
	  "fleet.yaml:4:48: error: invalid max_parallel '0%' (expected an integer >= 1 or a percentage "
	  "1%..100%)",
	  FL_EINPUT },
	{ "negative tolerance",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: rest, failure_tolerance: -1 }]\n" } },
	  "fleet.yaml:4:53: error: invalid failure_tolerance -1",
	  FL_EINPUT },
	{ "verify without run",
	  { { "fleet.yaml", FLEET_HEAD "waves: [{ name: a, select: rest, verify: [{ name: v }] }]\n" } },
	  "fleet.yaml:4:43: error: missing required key 'run' in verify",
	  FL_EINPUT },
	{ "verify empty run",
	  { { "fleet.yaml",
	      FLEET_HEAD "waves: [{ name: a, select: rest, verify: [{ name: v, run: [] }] }]\n" } },
	  "fleet.yaml:4:59: error: expected a non-empty list of strings for run",
	  FL_EINPUT },
	{ "verify bad timeout",
	  { { "fleet.yaml", FLEET_HEAD
	      "waves: [{ name: a, select: rest, verify: [{ name: v, run: [x], timeout: soon }] }]\n" } },
	  "fleet.yaml:4:73: error: invalid timeout 'soon'",
	  FL_EINPUT },
	{ "guard over 100",
	  { { "fleet.yaml", FLEET_HEAD WAVES "guard: { max_delete_percent: 101 }\n" } },
	  "fleet.yaml:5:30: error: expected an integer from 0 to 100 for max_delete_percent",
	  FL_EINPUT },
	{ "dir driver without root",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: dir }\n" } },
	  "fleet.yaml:5:9: error: missing required key 'root' in dir driver",
	  FL_EINPUT },
	{ "unknown driver",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: ftp }\n" } },
	  "fleet.yaml:5:17: error: unknown driver type (expected dir, exec, http or aws)",
	  FL_EINPUT },
	{ "aws duration under STS's 15 minutes",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: aws, duration: 10m }\n" } },
	  "fleet.yaml:5:32: error: invalid duration '10m' (expected a duration from 15m to 12h)",
	  FL_EINPUT },
	{ "aws poll_interval over a minute",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: aws, poll_interval: 2m }\n" } },
	  "fleet.yaml:5:37: error: invalid poll_interval '2m' (expected a duration from 0s to 1m)",
	  FL_EINPUT },
	{ "aws state_parameter under /aws",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: aws, state_parameter: /aws/state }\n" } },
	  "fleet.yaml:5:39: error: invalid state_parameter '/aws/state' (expected an SSM parameter name like "
	  "/flotilla/state, not under /aws or /ssm)",
	  FL_EINPUT },
	{ "aws state_parameter not a path",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: aws, state_parameter: \"flotilla/../x\" }\n" } },
	  "fleet.yaml:5:39: error: invalid state_parameter 'flotilla/../x' (expected an SSM parameter name like "
	  "/flotilla/state, not under /aws or /ssm)",
	  FL_EINPUT },
	{ "exec without command",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: exec, command: [] }\n" } },
	  "fleet.yaml:5:32: error: expected a non-empty list of strings for command",
	  FL_EINPUT },
	{ "driver unknown key",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: http, endpoint: x, tokenfile: y }\n" } },
	  "fleet.yaml:5:36: error: unknown key 'tokenfile' in driver (did you mean 'token_file'?)",
	  FL_EINPUT },
	{ "driver key typo",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: exec, command: [x], timeuot: 30s }\n" } },
	  "fleet.yaml:5:37: error: unknown key 'timeuot' in driver (did you mean 'timeout'?)",
	  FL_EINPUT },
	{ "exec bad timeout",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: exec, command: [x], timeout: soon }\n" } },
	  "fleet.yaml:5:46: error: invalid driver timeout (expected seconds or a duration like 30s, 5m or 1h30m, "
	  "at most 7d)",
	  FL_EINPUT },
	{ "http timeout past a day",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: http, endpoint: \"https://x/a\", timeout: 2d }\n" } },
	  "fleet.yaml:5:57: error: invalid driver timeout (expected seconds or a duration like 30s or 2m, at most 1d)",
	  FL_EINPUT },
	{ "dir driver key of another driver",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: dir, root: a, endpoint: x }\n" } },
	  "fleet.yaml:5:31: error: unknown key 'endpoint' in driver",
	  FL_EINPUT },
	{ "pass_env on the dir driver",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: dir, root: a, pass_env: [X] }\n" } },
	  "fleet.yaml:5:31: error: pass_env is only for the exec driver (no other driver starts a program)",
	  FL_EINPUT },
	{ "pass_env naming a variable twice",
	  { { "fleet.yaml", FLEET_HEAD WAVES "driver: { type: exec, command: [x], pass_env: [AWS_SESSION_TOKEN, AWS_SESSION_TOKEN] }\n" } },
	  "fleet.yaml:5:67: error: duplicate variable 'AWS_SESSION_TOKEN' in pass_env",
	  FL_EINPUT },
	{ "github without token",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: github, repo: o/n }]\n" } },
	  "fleet.yaml:5:10: error: missing required key 'token_env' in github status",
	  FL_EINPUT },
	{ "gitlab without project",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: gitlab, token_env: T }]\n" } },
	  "fleet.yaml:5:10: error: missing required key 'project' in gitlab status",
	  FL_EINPUT },
	{ "forge status key typo",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: github, repo: o/n, token_env: T, api_ur: x }]\n" } },
	  "fleet.yaml:5:51: error: unknown key 'api_ur' in status (did you mean 'api_url'?)",
	  FL_EINPUT },
	{ "git-notes takes no keys",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: git-notes, repo: o/n }]\n" } },
	  "fleet.yaml:5:29: error: unknown key 'repo' in status",
	  FL_EINPUT },
	{ "unknown status",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: slack }]\n" } },
	  "fleet.yaml:5:18: error: unknown status type",
	  FL_EINPUT },
	{ "webhook bad format",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: webhook, format: xml, url_env: U }]\n" } },
	  "fleet.yaml:5:35: error: invalid format 'xml' in webhook status (expected slack or json)",
	  FL_EINPUT },
	{ "webhook without url_env",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: webhook, format: slack }]\n" } },
	  "fleet.yaml:5:10: error: missing required key 'url_env' in webhook status",
	  FL_EINPUT },
	{ "json webhook without url",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: webhook, format: json, token_env: T }]\n" } },
	  "fleet.yaml:5:10: error: missing required key 'url' in webhook status",
	  FL_EINPUT },
	{ "webhook url and url_env",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: webhook, format: json, url: \"https://h/e\", url_env: U }]\n" } },
	  "fleet.yaml:5:46: error: webhook status takes url or url_env, not both",
	  FL_EINPUT },
	{ "slack webhook url in the repository",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: webhook, url: \"https://hooks.slack.com/services/T0/B0/X\" }]\n" } },
	  "fleet.yaml:5:32: error: a slack webhook's url is its secret: keep it out of the repository and name the "
	  "variable that holds it in url_env",
	  FL_EINPUT },
	{ "webhook key typo",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: webhook, url_env: U, token: T }]\n" } },
	  "fleet.yaml:5:39: error: unknown key 'token' in status (did you mean 'token_env'?)",
	  FL_EINPUT },
	{ "webhook key of a forge",
	  { { "fleet.yaml", FLEET_HEAD WAVES "status: [{ type: webhook, url_env: U, api_url: x }]\n" } },
	  "fleet.yaml:5:39: error: unknown key 'api_url' in status",
	  FL_EINPUT },
	{ "release unknown service",
	  { { "release/api.yaml", "kind: service\nname: api\nservice: billing\n" } },
	  "release/api.yaml:3:10: error: unknown service 'billing'",
	  FL_EINPUT },
	{ "release missing kind",
	  { { "release/api.yaml", "name: api\n" } },
	  "release/api.yaml:1:1: error: missing required key 'kind' in release document",
	  FL_EINPUT },
	{ "release duplicate",
	  { { "release/x.yaml", "kind: service\nname: api\n" } },
	  "release/x.yaml:2:7: error: duplicate resource kind 'service' name 'api' (first at "
	  "release/api.yaml:1)",
	  FL_EINPUT },
	{ "release scalar doc",
	  { { "release/x.yaml", "--- hello\n" } },
	  "release/x.yaml:1:5: error: expected a mapping like",
	  FL_EINPUT },
	{ "tenant missing account",
	  { { "tenants/acme.yaml", "name: acme\nregions: [r]\nvars: { display_name: A }\n" } },
	  "tenants/acme.yaml:1:1: error: missing required key 'account' in tenant",
	  FL_EINPUT },
	{ "tenant key sharing a first byte with services",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"1\"\nregions: [r]\nservice: [api]\nvars: { display_name: A }\n" } },
	  "tenants/acme.yaml:4:1: error: unknown key 'service' in tenant (did you mean 'services'?)",
	  FL_EINPUT },
	{ "tenant key sharing a first byte with name",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"1\"\nregions: [r]\nnames: acme\nvars: { display_name: A }\n" } },
	  "tenants/acme.yaml:4:1: error: unknown key 'names' in tenant (did you mean 'name'?)",
	  FL_EINPUT },
	{ "tenant missing required var",
	  { { "tenants/acme.yaml", "name: acme\naccount: \"1\"\nregions: [r]\n" } },
	  "tenants/acme.yaml:1:1: error: missing required var 'display_name'",
	  FL_EINPUT },
	{ "tenant var did you mean",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"1\"\nregions: [r]\nvars: { display_name: A, colour: red }\n" } },
	  "tenants/acme.yaml:4:26: error: unknown var 'colour' (did you mean 'brand_color'?)",
	  FL_EINPUT },
	{ "tenant string var as number",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"1\"\nregions: [r]\nvars: { display_name: 42 }\n" } },
	  "tenants/acme.yaml:4:23: error: expected a string for var 'display_name', got integer (quote it: "
	  "\"42\")",
	  FL_EINPUT },
	{ "tenant integer var as float",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"1\"\nregions: [r]\nvars: { display_name: A, seats: 2.5 }\n" } },
	  "tenants/acme.yaml:4:33: error: expected an integer for var 'seats', got number",
	  FL_EINPUT },
	{ "tenant var under min",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"1\"\nregions: [r]\nvars: { display_name: A, seats: 0 }\n" } },
	  "tenants/acme.yaml:4:33: error: var 'seats' must be at least 1, got 0",
	  FL_EINPUT },
	{ "tenant bad state",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"1\"\nregions: [r]\nvars: { display_name: A }\nstate: gone\n" } },
	  "tenants/acme.yaml:5:8: error: invalid state 'gone' (expected active, suspended or decommissioned)",
	  FL_EINPUT },
	{ "tenant empty regions",
	  { { "tenants/acme.yaml", "name: acme\naccount: \"1\"\nregions: []\nvars: { display_name: A }\n" } },
	  "tenants/acme.yaml:3:10: error: expected at least one region",
	  FL_EINPUT },
	{ "tenant label not string",
	  { { "tenants/acme.yaml", "name: acme\naccount: \"1\"\nregions: [r]\nlabels: { tier: 3 }\nvars: { "
				   "display_name: A }\n" } },
	  "tenants/acme.yaml:4:17: error: expected a string for label 'tier', got integer (quote it: \"3\")",
	  FL_EINPUT },
	{ "tenant service duplicate",
	  { { "tenants/acme.yaml", "name: acme\naccount: \"1\"\nregions: [r]\nservices: [api, api]\nvars: { "
				   "display_name: A }\n" } },
	  "tenants/acme.yaml:4:17: error: duplicate service 'api'",
	  FL_EINPUT },
	{ "tenant service did you mean",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"1\"\nregions: [r]\nservices: [portl]\nvars: { display_name: A }\n" } },
	  "tenants/acme.yaml:4:12: error: unknown service 'portl' (did you mean 'portal'?)",
	  FL_EINPUT },
	{ "tenant canary not bool",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"1\"\nregions: [r]\ncanary: yes\nvars: { display_name: A }\n" } },
	  "tenants/acme.yaml:4:9: error: expected a boolean, got string",
	  FL_EINPUT },
	{ "tenant account with dots",
	  { { "tenants/acme.yaml",
	      "name: acme\naccount: \"a..b\"\nregions: [r]\nvars: { display_name: A }\n" } },
	  "tenants/acme.yaml:2:10: error: invalid account 'a..b'",
	  FL_EINPUT },
	{ "tenant file name upper",
	  { { "tenants/Acme.yaml", "name: acme\n" } },
	  "tenants/Acme.yaml:1:1: error: invalid tenant file name 'Acme.yaml' (expected "
	  "[a-z0-9][a-z0-9-]{0,62}.yaml)",
	  FL_EINPUT },
	{ "tenant empty file",
	  { { "tenants/acme.yaml", "" } },
	  "tenants/acme.yaml:1:1: error: file is empty",
	  FL_EINPUT },
	{ "tenants selector unknown",
	  { { "fleet.yaml",
	      FLEET_HEAD VARS("seats: { type: integer }") "waves: [{ name: a, select: { tenants: [acme, "
							  "nobody] } }, { name: b, select: rest }]\n" } },
	  "fleet.yaml:7:46: error: wave 'a' selects unknown tenant 'nobody'",
	  FL_EINPUT },
	{ "labels selector no match",
	  { { "fleet.yaml", FLEET_HEAD VARS("seats: { type: integer }") "waves: [{ name: a, select: { "
									"labels: { ring: early } } }]\n" } },
	  "tenants/acme.yaml:1:7: error: tenant 'acme' matches no wave; add a wave with 'select: rest'",
	  FL_EINPUT },
	{ "unknown template var",
	  { { "release/api.yaml", "kind: service\nname: api\nspec: { title: \"{{vars.nope}}\" }\n" } },
	  "release/api.yaml:3:17: error: unknown template variable 'vars.nope'",
	  FL_EINPUT },
	{ "tenant too large",
	  { { "tenants/acme.yaml", NULL } },
	  "tenants/acme.yaml:1:1: error: file is larger than the limit of 1048576 bytes",
	  FL_ELIMIT },
};

/* The big file of "tenant too large" is written here rather than kept in the table. */
static char *big_file(void)
{
	size_t n = FL_FLEET_MAX_FILE + 100;
	char *s = malloc(n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (i % 64 == 63) ? '\n' : (i % 64 == 0 ? '#' : 'x');
	s[n] = '\0';
	return s;
}

static void test_bad_cases(void **state)
{
	size_t failures = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct file over[3];
		char *big = NULL, line[700];
		struct loaded l;
		memcpy(over, bc->over, sizeof(over));
		if (!over[0].content)
			over[0].content = big = big_file();
		load_with(&l, base, over, NULL);
		if (l.rc == 0) {
			fprintf(stderr, "case '%s': loaded, expected %s\n", bc->name, bc->expected);
			failures++;
		} else if (l.diags.len == 0) {
			fprintf(stderr, "case '%s': rc %d without diagnostics: %s\n", bc->name, l.rc,
				l.err.msg);
			failures++;
		} else {
			first_line(line, sizeof(line), &l);
			if (strncmp(line, bc->expected, strlen(bc->expected)) != 0 || l.rc != bc->rc) {
				fprintf(stderr, "case '%s':\n  expected %s (rc %d)\n  got      %s (rc %d)\n",
					bc->name, bc->expected, bc->rc, line, l.rc);
				failures++;
			}
			assert_int_equal(l.err.code, l.diags.items[0].code);
			assert_string_equal(l.err.msg, l.diags.items[0].msg);
			assert_null(l.fleet);
		}
		free(big);
		unload(&l);
	}
	assert_int_equal(failures, 0);
}

/* ---- bounds: caps on input, and duplicates found by sorting ---- */

/* "name: acme ... regions: [<list>]" on line 3, with the base's vars. */
static char *tenant_with_regions(const char *list)
{
	struct fl_buf b = FL_BUF_INIT;
	size_t len;

	fl_buf_printf(&b, "name: acme\naccount: \"111\"\nregions: [%s]\nvars: { display_name: Acme }\n", list);
	return fl_buf_detach(&b, &len);
}

/* n regions r00, r01, ... joined by ", ". */
static char *regions_list(size_t n)
{
	struct fl_buf b = FL_BUF_INIT;
	size_t len;

	for (size_t i = 0; i < n; i++)
		fl_buf_printf(&b, "%sr%02zu", i ? ", " : "", i);
	return fl_buf_detach(&b, &len);
}

static void make_regions(struct file *over, size_t n)
{
	char *list = regions_list(n);

	over[0] = (struct file){ "tenants/acme.yaml", tenant_with_regions(list) };
	free(list);
}

static void make_64_regions(struct file *over)
{
	make_regions(over, 64);
}

static void make_65_regions(struct file *over)
{
	make_regions(over, 65);
}

static void make_duplicate_regions(struct file *over)
{
	over[0] = (struct file){ "tenants/acme.yaml", tenant_with_regions("a, b, a, c, b/x, b, a") };
}

/* A repeat of the region kept last, the one a scan of those kept reaches last. */
static void make_repeat_of_last_region(struct file *over)
{
	over[0] = (struct file){ "tenants/acme.yaml", tenant_with_regions("x, y, y") };
}

static void make_tenant_without_keys(struct file *over)
{
	over[0] = (struct file){ "tenants/acme.yaml", fl_strdup("labels: { ring: a }\n") };
}

static void make_duplicate_resources(struct file *over)
{
	over[0] = (struct file){ "release/x.yaml", fl_strdup("kind: service\nname: web\n---\nkind: service\n"
							     "name: api\n---\nkind: service\nname: web\n") };
}

/* A release of nbig templates, each the display name uses times; a title of title_len. */
static void make_render(struct file *over, size_t nbig, size_t uses, size_t title_len)
{
	struct fl_buf rel = FL_BUF_INIT, tenant = FL_BUF_INIT;
	size_t len;

	for (size_t i = 0; i < nbig; i++) {
		fl_buf_printf(&rel, "---\nkind: config\nname: c%02zu\nspec:\n", i);
		for (size_t k = 0; k < uses; k++)
			fl_buf_puts(&rel, "  - \"{{vars.display_name}}\"\n");
	}
	fl_buf_puts(&tenant, "name: acme\naccount: \"111\"\nregions: [us-east-1]\nvars: { display_name: ");
	for (size_t i = 0; i < title_len; i++)
		fl_buf_putc(&tenant, 'x');
	fl_buf_puts(&tenant, " }\n");
	over[0] = (struct file){ "release/big.yaml", fl_buf_detach(&rel, &len) };
	over[1] = (struct file){ "tenants/acme.yaml", fl_buf_detach(&tenant, &len) };
}

/* 3,000 uses of a 502-byte value: one resource of 1.5 MB. */
static void make_big_resource(struct file *over)
{
	make_render(over, 1, 3000, 500);
}

/* 17 resources of 1,040 x 1,003 bytes (under 1 MiB each): the 17th passes 16 MiB. */
static void make_big_region(struct file *over)
{
	make_render(over, 17, 1040, 1000);
}

static void make_waves(struct file *over, size_t n)
{
	struct fl_buf b = FL_BUF_INIT;
	size_t len;

	fl_buf_puts(&b, FLEET_HEAD VARS("seats: { type: integer }") "waves:\n");
	for (size_t i = 0; i < n; i++)
		fl_buf_printf(&b, "  - { name: w%03zu, select: %s }\n", i, i + 1 == n ? "rest" : "{ canary: true }");
	over[0] = (struct file){ "fleet.yaml", fl_buf_detach(&b, &len) };
}

static void make_100_waves(struct file *over)
{
	make_waves(over, 100);
}

static void make_101_waves(struct file *over)
{
	make_waves(over, 101);
}

static void make_selector_names(struct file *over)
{
	over[0] = (struct file){ "fleet.yaml",
				 fl_strdup(FLEET_HEAD VARS("seats: { type: integer }")
					   "waves: [{ name: a, select: { tenants: [zed, beta, acme, ghost] } },"
					   " { name: b, select: rest }]\n") };
}

struct bound_case {
	const char *name;
	void (*make)(struct file *over);  /* fills over with malloc'd contents */
	int rc;
	const char *diags[4];             /* first lines of all problems, in order */
};

static const struct bound_case bound_cases[] = {
	{ "64 regions", make_64_regions, 0, { NULL } },
	{ "65 regions", make_65_regions, FL_EINPUT,
	  { "tenants/acme.yaml:3:331: error: more than 64 regions (the limit per tenant)" } },
	{ "duplicate regions, in order", make_duplicate_regions, FL_EINPUT,
	  { "tenants/acme.yaml:3:17: error: duplicate region 'a'",
	    "tenants/acme.yaml:3:23: error: invalid region 'b/x' (expected [A-Za-z0-9][A-Za-z0-9._-]{0,127}, "
	    "no '..')",
	    "tenants/acme.yaml:3:28: error: duplicate region 'b'",
	    "tenants/acme.yaml:3:31: error: duplicate region 'a'" } },
	{ "repeat of the last region kept", make_repeat_of_last_region, FL_EINPUT,
	  { "tenants/acme.yaml:3:17: error: duplicate region 'y'" } },
	{ "tenant without its required keys, in order", make_tenant_without_keys, FL_EINPUT,
	  { "tenants/acme.yaml:1:1: error: missing required key 'name' in tenant",
	    "tenants/acme.yaml:1:1: error: missing required key 'account' in tenant",
	    "tenants/acme.yaml:1:1: error: missing required key 'regions' in tenant",
	    "tenants/acme.yaml:1:1: error: missing required var 'display_name'" } },
	{ "duplicate resources, in order", make_duplicate_resources, FL_EINPUT,
	  { "release/x.yaml:5:7: error: duplicate resource kind 'service' name 'api' (first at "
	    "release/api.yaml:1)",
	    "release/x.yaml:8:7: error: duplicate resource kind 'service' name 'web' (first at "
	    "release/x.yaml:1)" } },
	{ "resource past 1 MiB", make_big_resource, FL_ELIMIT,
	  { "release/big.yaml:2:1: error: rendered JSON of resource kind 'config' name 'c00' exceeds the "
	    "limit of 1048576 bytes per resource (tenant 'acme', region 'us-east-1')" } },
	{ "tenant-region past 16 MiB", make_big_region, FL_ELIMIT,
	  { "release/big.yaml:16706:1: error: rendered JSON of tenant 'acme' in region 'us-east-1' exceeds "
	    "the limit of 16777216 bytes per tenant and region at resource kind 'config' name 'c16'" } },
	{ "100 waves", make_100_waves, 0, { NULL } },
	{ "101 waves", make_101_waves, FL_EINPUT, { "fleet.yaml:108:5: error: more than 100 waves" } },
	{ "unknown selected tenants, as written", make_selector_names, FL_EINPUT,
	  { "fleet.yaml:7:40: error: wave 'a' selects unknown tenant 'zed'",
	    "fleet.yaml:7:57: error: wave 'a' selects unknown tenant 'ghost'" } },
};

/* Compares every problem's first line with c->diags; returns how many differ. */
static size_t compare_diags(const struct bound_case *c, const struct loaded *l)
{
	size_t n = 0, bad = 0;

	while (n < 4 && c->diags[n])
		n++;
	if (l->rc != c->rc || l->diags.len != n) {
		fprintf(stderr, "case '%s': rc %d with %zu problems, want rc %d with %zu\n", c->name, l->rc,
			l->diags.len, c->rc, n);
		bad++;
	}
	for (size_t i = 0; i < l->diags.len; i++) {
		struct fl_buf b = FL_BUF_INIT;
		fl_error_format(&b, &l->diags.items[i]);
		b.ptr[strcspn(b.ptr, "\n")] = '\0';
		if (i >= n || strcmp(b.ptr, c->diags[i]) != 0) {
			fprintf(stderr, "case '%s': problem %zu is\n  %s\nwant\n  %s\n", c->name, i, b.ptr,
				i < n ? c->diags[i] : "(none)");
			bad++;
		}
		fl_buf_release(&b);
	}
	return bad;
}

static void test_bounds(void **state)
{
	size_t failures = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(bound_cases) / sizeof(bound_cases[0]); i++) {
		struct file over[3] = { { NULL, NULL }, { NULL, NULL }, { NULL, NULL } };
		struct loaded l;
		bound_cases[i].make(over);
		load_with(&l, base, over, NULL);
		failures += compare_diags(&bound_cases[i], &l);
		unload(&l);
		for (size_t k = 0; over[k].path; k++)
			free((char *)over[k].content);
	}
	assert_int_equal(failures, 0);
}

/* ---- the small functions ---- */

static void test_amounts(void **state)
{
	static const struct {
		bool percent;
		unsigned value;
		size_t n;
		bool one;
		unsigned want;
	} cases[] = {
		{ false, 5, 100, true, 5 },   { false, 0, 100, false, 0 }, { false, 0, 100, true, 1 },
		{ true, 25, 10, true, 2 },    { true, 25, 3, true, 1 },	   { true, 25, 3, false, 0 },
		{ true, 2, 1000, false, 20 }, { true, 100, 7, true, 7 },   { true, 50, 0, true, 1 },
		{ true, 0, 100, false, 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_amount a = { cases[i].percent, cases[i].value };
		unsigned got = fl_amount_resolve(&a, cases[i].n, cases[i].one);
		if (got != cases[i].want)
			fail_msg("case %zu: got %u, want %u", i, got, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_fleet_settings),
		cmocka_unit_test(test_good_fleet_release),
		cmocka_unit_test(test_good_fleet_tenants),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_driver_timeout),
		cmocka_unit_test(test_only),
		cmocka_unit_test(test_settings_only),
		cmocka_unit_test(test_tenant_file),
		cmocka_unit_test(test_threads_same_diags),
		cmocka_unit_test(test_bad_cases),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_amounts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
