/*
 * Tests for reconcile/drivers/driver_exec.c: the whole protocol against the example
 * program fixtures/drivers/git-accounts (bootstrap, identity, apply, observe,
 * marker, deletes, regions, if_match, eight tenants at once), the request as
 * a program sees it, template arguments, and failures from tiny inline
 * scripts (exit codes with stderr, garbage, timeouts, bad names), one table
 * row each.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/proc.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define REV_A "0123456789abcdef0123456789abcdef01234567"
#define REV_B "89abcdef0123456789abcdef0123456789abcdef"
#define NTHREADS 8

/* ---- helpers ---- */

struct fixture {
	char tmp[64];
	char accounts[128];
	char program[1024]; /* fixtures/drivers/git-accounts */
	struct fl_arena arena;
	struct fl_driver drv;
	struct fl_observed obs;
};

static void rm_rf(const char *path)
{
	DIR *dh = opendir(path);
	if (dh) {
		const struct dirent *de;
		while ((de = readdir(dh))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char sub[1024];
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(dh);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/fl_test_exec.XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(f->accounts, sizeof(f->accounts), "%s/accounts", f->tmp);
	const char *fixtures = getenv("FL_FIXTURES");
	if (fixtures && *fixtures) {
		snprintf(f->program, sizeof(f->program), "%s/drivers/git-accounts", fixtures);
	} else {
		/* tests/reconcile/test_driver_exec.c -> fixtures/drivers/git-accounts */
		const char *slash = strrchr(__FILE__, '/');
		int dirlen = slash ? (int)(slash - __FILE__) : 1;
		snprintf(f->program, sizeof(f->program), "%.*s/../../fixtures/drivers/git-accounts", dirlen,
			 slash ? __FILE__ : ".");
	}
	/* The example program's root, and git kept away from the user's configuration. */
	setenv("FLOTILLA_GIT_ACCOUNTS", f->accounts, 1);
	setenv("HOME", f->tmp, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "flotilla tests", 1);
	setenv("GIT_AUTHOR_EMAIL", "tests@flotilla.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "flotilla tests", 1);
	setenv("GIT_COMMITTER_EMAIL", "tests@flotilla.invalid", 1);
	fl_arena_init(&f->arena, 4096);
	fl_observed_init(&f->obs);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fl_observed_release(&f->obs);
	fl_driver_release(&f->drv);
	fl_arena_release(&f->arena);
	rm_rf(f->tmp);
	free(f);
	return 0;
}

/*
 * Opens f->drv on argv (NULL-terminated) with the driver node node_json (NULL:
 * none), as fleet.yaml would give it. Returns the code of fl_driver_open.
 */
static int open_exec(struct fixture *f, const char *node_json, const char *const *argv, struct fl_error *err)
{
	struct fl_driver_conf conf;
	struct fl_buf json = FL_BUF_INIT;
	struct fl_node *node = NULL;
	memset(&conf, 0, sizeof(conf));
	conf.type = "exec";
	/* The entry: node_json's keys, and command: argv. */
	fl_buf_puts(&json, "{\"command\": [");
	for (size_t i = 0; argv[i]; i++) {
		fl_buf_puts(&json, i ? ", " : "");
		fl_json_put_str(&json, argv[i], strlen(argv[i]));
	}
	fl_buf_puts(&json, "]");
	if (node_json && strchr(node_json, ':'))
		fl_buf_printf(&json, ", %s", strchr(node_json, '{') + 1);
	else
		fl_buf_puts(&json, "}");
	struct fl_source src = { "node", json.ptr, json.len };
	assert_int_equal(fl_json_parse(&node, &f->arena, &src, err), 0);
	conf.node = node;
	fl_buf_release(&json);
	fl_driver_release(&f->drv);
	return fl_driver_open(&f->drv, &conf, err);
}

static void open_git(struct fixture *f)
{
	struct fl_error err = FL_ERROR_INIT;
	const char *argv[] = { f->program, NULL };
	if (open_exec(f, NULL, argv, &err))
		fail_msg("open: %s", err.msg);
	assert_string_equal(f->drv.ops->type, "exec");
}

/* A script in the scratch directory; returns its path (in f->arena). */
static const char *script(struct fixture *f, const char *name, const char *body)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", f->tmp, name);
	char *text = fl_arena_alloc(&f->arena, strlen(body) + 32);
	memcpy(text, "#!/bin/sh\n", 10);
	memcpy(text + 10, body, strlen(body) + 1);
	write_file(path, text, 0755);
	return fl_arena_strdup(&f->arena, path);
}

static const char *const REGIONS[] = { "us-east-1", "eu-west-1" };
static const struct fl_label LABELS[] = { { "ring", "early" }, { "size", "large" } };

static struct fl_tenant tenant_of(const char *name, const char *account)
{
	struct fl_tenant t;
	memset(&t, 0, sizeof(t));
	t.name = name;
	t.account = account;
	t.regions = (const char **)REGIONS;
	t.nregions = N_ELEMS(REGIONS);
	t.labels = (struct fl_label *)LABELS;
	t.nlabels = N_ELEMS(LABELS);
	return t;
}

static struct fl_put_res put_of(const char *kind, const char *name, const char *spec)
{
	struct fl_put_res p;
	memset(&p, 0, sizeof(p));
	p.kind = kind;
	p.name = name;
	p.spec = spec;
	p.spec_len = strlen(spec);
	fl_fp_of(&p.fp, spec, p.spec_len);
	return p;
}

static struct fl_marker marker_of(const char *rev, size_t resources)
{
	struct fl_marker m;
	memset(&m, 0, sizeof(m));
	memcpy(m.revision, rev, FL_OID_HEX_LEN);
	fl_fp_of(&m.tenant_fp, "tenant", 6);
	fl_fp_of(&m.inputs_fp, rev, strlen(rev));
	m.resources = resources;
	return m;
}

static void assert_ok(int rc, const struct fl_error *err)
{
	if (rc)
		fail_msg("unexpected error %d: %s", rc, err->msg);
}

static void assert_marker_equal(const struct fl_marker *a, const struct fl_marker *b)
{
	assert_string_equal(a->revision, b->revision);
	assert_true(fl_fp_equal(&a->tenant_fp, &b->tenant_fp));
	assert_true(fl_fp_equal(&a->inputs_fp, &b->inputs_fp));
	assert_int_equal(a->resources, b->resources);
}

/* Every observed resource has the spec and fingerprint of the put. */
static void assert_holds(const struct fl_observed *obs, const struct fl_put_res *puts, size_t n)
{
	assert_int_equal(obs->len, n);
	for (size_t i = 0; i < n; i++) {
		const struct fl_observed_res *o = &obs->items[i];
		assert_string_equal(o->kind, puts[i].kind);
		assert_string_equal(o->name, puts[i].name);
		assert_int_equal(o->spec_len, puts[i].spec_len);
		assert_memory_equal(o->spec, puts[i].spec, o->spec_len);
		assert_true(fl_fp_equal(&o->fp, &puts[i].fp));
		assert_true(o->managed);
	}
}

static int collect_region(const char *region, void *payload)
{
	struct fl_buf *b = payload;
	fl_buf_puts(b, region);
	fl_buf_putc(b, ' ');
	return 0;
}

/* The number of commits in the account's repository. */
static long commits_of(const struct fixture *f, const char *account)
{
	char repo[256];
	struct fl_buf out = FL_BUF_INIT;
	struct fl_proc_result res;
	struct fl_error err = FL_ERROR_INIT;
	snprintf(repo, sizeof(repo), "%s/%s", f->accounts, account);
	const char *argv[] = { "git", "-C", repo, "rev-list", "--count", "HEAD", NULL };
	struct fl_proc_opts opts = { argv, NULL, NULL, 30000, 4096, false, NULL };
	assert_ok(fl_proc_run(&res, &out, &opts, &err), &err);
	assert_int_equal(res.exit_code, 0);
	long n = strtol(out.ptr, NULL, 10);
	fl_buf_release(&out);
	return n;
}

/* ---- against the example program ---- */

static void test_git_accounts_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf account = FL_BUF_INIT, regions = FL_BUF_INIT;
	struct fl_tenant t = tenant_of("acme", "111111111111");
	struct fl_marker m1 = marker_of(REV_A, 3), m2 = marker_of(REV_B, 1), got;
	bool found = true;
	open_git(f);

	/* No account yet: identity reports none, observe and marker nothing. */
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_false(found);
	assert_ok(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), &err);
	assert_false(f->obs.exists);
	assert_int_equal(f->obs.len, 0);
	assert_ok(f->drv.ops->marker(f->drv.self, &t, "us-east-1", &got, &found, &err), &err);
	assert_false(found);

	assert_ok(f->drv.ops->bootstrap(f->drv.self, &t, &err), &err);
	assert_ok(f->drv.ops->bootstrap(f->drv.self, &t, &err), &err); /* again: nothing to do */
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_true(found);
	assert_string_equal(account.ptr, "111111111111");

	/* Canonical specs, as the engine hands them over: nested, unicode, floats, escapes. */
	struct fl_put_res puts[] = {
		put_of("network", "vpc",
		       "{\"cidr\":\"10.0.0.0/16\",\"tags\":{\"a\":[1,2.5,-3e-07,null,true]}}"),
		put_of("bucket", "uploads",
		       "{\"name\":\"acme-uploads\",\"note\":\"h\xc3\xa9llo \\\"q\\\"\\n\"}"),
		put_of("service", "api", "{\"image\":\"registry.example/api:1.42.0\",\"replicas\":3}"),
	};
	struct fl_region_write w = { "us-east-1", puts, N_ELEMS(puts), NULL, 0, &m1, false };
	assert_ok(f->drv.ops->apply(f->drv.self, &t, &w, &err), &err);
	struct fl_region_write w2 = { "eu-west-1", puts, 1, NULL, 0, &m1, false };
	assert_ok(f->drv.ops->apply(f->drv.self, &t, &w2, &err), &err);

	assert_ok(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), &err);
	assert_true(f->obs.exists);
	assert_true(f->obs.has_marker);
	assert_marker_equal(&f->obs.marker, &m1);
	assert_holds(&f->obs, puts, N_ELEMS(puts));
	assert_non_null(fl_observed_find(&f->obs, "service", "api"));
	assert_ok(f->drv.ops->marker(f->drv.self, &t, "us-east-1", &got, &found, &err), &err);
	assert_true(found);
	assert_marker_equal(&got, &m1);

	assert_ok(f->drv.ops->regions(f->drv.self, &t, collect_region, &regions, &err), &err);
	assert_string_equal(regions.ptr, "eu-west-1 us-east-1 ");

	/* An update that names the fingerprint it expects; a stale one is refused. */
	struct fl_put_res upd[] = { put_of("service", "api",
					   "{\"image\":\"registry.example/api:2\",\"replicas\":3}") };
	upd[0].if_match = &puts[1].fp;
	struct fl_region_write wu = { "us-east-1", upd, 1, NULL, 0, &m1, false };
	assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &wu, &err), FL_EDRIVER);
	assert_string_equal(err.msg, "resource service/api changed since it was observed");
	upd[0].if_match = &puts[2].fp;
	assert_ok(f->drv.ops->apply(f->drv.self, &t, &wu, &err), &err);

	/* Deletes, in reverse release order; deleting what is gone is fine. */
	struct fl_res_key del[] = { { "service", "api" }, { "bucket", "uploads" }, { "bucket", "gone" } };
	struct fl_region_write wd = { "us-east-1", NULL, 0, del, N_ELEMS(del), &m2, false };
	assert_ok(f->drv.ops->apply(f->drv.self, &t, &wd, &err), &err);
	assert_ok(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), &err);
	assert_holds(&f->obs, puts, 1);
	assert_marker_equal(&f->obs.marker, &m2);

	/* The account's history: bootstrap, then one commit per apply. */
	assert_int_equal(commits_of(f, "111111111111"), 5);

	/* Another tenant of the same account bootstraps fine; another id does not match. */
	struct fl_tenant t2 = tenant_of("acme-two", "111111111111");
	assert_ok(f->drv.ops->bootstrap(f->drv.self, &t2, &err), &err);
	fl_buf_release(&account);
	fl_buf_release(&regions);
}

struct worker {
	struct fixture *f;
	int index;
	int rc;
	char msg[FL_ERROR_MSG_MAX];
};

static void *apply_tenant(void *arg)
{
	struct worker *wk = arg;
	struct fl_driver *drv = &wk->f->drv;
	char name[32], acct[32], spec[128];
	struct fl_error err = FL_ERROR_INIT;
	struct fl_observed obs;
	struct fl_buf account = FL_BUF_INIT;
	bool found = false;
	fl_observed_init(&obs);
	snprintf(name, sizeof(name), "tenant-%d", wk->index);
	snprintf(acct, sizeof(acct), "20000000000%d", wk->index);
	snprintf(spec, sizeof(spec), "{\"owner\":\"%s\",\"replicas\":%d}", name, wk->index);
	struct fl_tenant t = tenant_of(name, acct);
	struct fl_put_res puts[] = { put_of("network", "vpc", "{\"cidr\":\"10.0.0.0/16\"}"),
				     put_of("service", "api", spec) };
	struct fl_marker m = marker_of(REV_A, 2);
	struct fl_region_write w = { "us-east-1", puts, 2, NULL, 0, &m, false };
	int rc = drv->ops->bootstrap(drv->self, &t, &err);
	if (!rc)
		rc = drv->ops->apply(drv->self, &t, &w, &err);
	if (!rc)
		rc = drv->ops->identity(drv->self, &t, &account, &found, &err);
	if (!rc && (!found || strcmp(account.ptr, acct) != 0))
		rc = fl_error_set(&err, FL_EINTERNAL, "identity of %s is '%s'", name, account.ptr);
	if (!rc)
		rc = drv->ops->observe(drv->self, &t, "us-east-1", &obs, &err);
	if (!rc && (obs.len != 2 || !fl_fp_equal(&obs.items[1].fp, &puts[1].fp) || !obs.has_marker))
		rc = fl_error_set(&err, FL_EINTERNAL, "%s observed %zu resources, not what it applied", name,
				  obs.len);
	wk->rc = rc;
	memcpy(wk->msg, err.msg, sizeof(wk->msg));
	fl_observed_release(&obs);
	fl_buf_release(&account);
	return NULL;
}

static void test_git_accounts_concurrent(void **state)
{
	struct fixture *f = *state;
	pthread_t th[NTHREADS];
	struct worker wk[NTHREADS];
	open_git(f);
	for (int i = 0; i < NTHREADS; i++) {
		wk[i] = (struct worker){ f, i, -1, { 0 } };
		assert_int_equal(pthread_create(&th[i], NULL, apply_tenant, &wk[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < NTHREADS; i++) {
		if (wk[i].rc)
			fail_msg("tenant-%d: %s", i, wk[i].msg);
		char acct[32];
		snprintf(acct, sizeof(acct), "20000000000%d", i);
		assert_int_equal(commits_of(f, acct), 2);
	}
}

/* ---- the protocol as a program sees it ---- */

static const struct fl_node *field(const struct fl_node *n, const char *path)
{
	char key[64];
	while (n && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		snprintf(key, sizeof(key), "%.*s", (int)len, path);
		n = fl_node_get(n, key);
		path += len + (dot != NULL);
	}
	assert_non_null(n);
	return n;
}

static void test_request(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf text = FL_BUF_INIT, canon = FL_BUF_INIT;
	char path[256], body[512];
	snprintf(path, sizeof(path), "%s/request.json", f->tmp);
	snprintf(body, sizeof(body), "cat >'%s'\necho '{\"ok\": true}'\n", path);
	const char *argv[] = { script(f, "record", body), NULL };
	assert_ok(open_exec(f, NULL, argv, &err), &err);
	struct fl_tenant t = tenant_of("acme", "111111111111");
	struct fl_put_res puts[] = { put_of("service", "api", "{\"replicas\":3}") };
	struct fl_res_key del[] = { { "job", "nightly" } };
	struct fl_marker m = marker_of(REV_A, 1);
	struct fl_region_write w = { "us-east-1", puts, 1, del, 1, &m, false };
	assert_ok(f->drv.ops->apply(f->drv.self, &t, &w, &err), &err);

	FILE *fp = fopen(path, "r");
	char chunk[4096];
	size_t n;
	assert_non_null(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		fl_buf_put(&text, chunk, n);
	fclose(fp);
	/* One line of canonical JSON: keys sorted, no white space. */
	assert_int_equal(text.ptr[text.len - 1], '\n');
	struct fl_node *req = NULL;
	struct fl_source src = { path, text.ptr, text.len };
	assert_ok(fl_json_parse(&req, &f->arena, &src, &err), &err);
	assert_ok(fl_json_canonical(&canon, req, &err), &err);
	assert_int_equal(canon.len, text.len - 1);
	assert_memory_equal(canon.ptr, text.ptr, canon.len);

	assert_int_equal(field(req, "protocol")->v.i, 1);
	assert_string_equal(field(req, "operation")->v.str.ptr, "apply");
	assert_string_equal(field(req, "region")->v.str.ptr, "us-east-1");
	assert_string_equal(field(req, "tenant.name")->v.str.ptr, "acme");
	assert_string_equal(field(req, "tenant.account")->v.str.ptr, "111111111111");
	assert_string_equal(field(req, "tenant.labels.ring")->v.str.ptr, "early");
	assert_int_equal(field(req, "tenant.regions")->v.seq.len, 2);
	const struct fl_node *put = field(req, "write.put")->v.seq.items[0];
	char hex[FL_FP_HEX_LEN + 1];
	fl_fp_hex(hex, &puts[0].fp);
	assert_string_equal(field(put, "fingerprint")->v.str.ptr, hex);
	assert_int_equal(field(put, "if_match")->type, FL_NODE_NULL);
	assert_int_equal(field(put, "spec.replicas")->v.i, 3);
	assert_string_equal(field(field(req, "write.delete")->v.seq.items[0], "name")->v.str.ptr, "nightly");
	assert_string_equal(field(req, "write.marker.revision")->v.str.ptr, REV_A);
	assert_int_equal(field(req, "write.marker.resources")->v.i, 1);

	/* A region-less operation has no "region" key. */
	bool found = false;
	struct fl_buf account = FL_BUF_INIT;
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_false(found);
	fl_buf_release(&text);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		fl_buf_put(&text, chunk, n);
	fclose(fp);
	assert_non_null(strstr(text.ptr, "\"operation\":\"identity\",\"protocol\":1,\"tenant\":"));
	fl_buf_release(&account);
	fl_buf_release(&text);
	fl_buf_release(&canon);
}

/* Template arguments: {{region}} is the call's region, else the primary one. */
static void test_template_arguments(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	char path[256], body[512], line[512];
	snprintf(path, sizeof(path), "%s/args.log", f->tmp);
	snprintf(body, sizeof(body), "echo \"$*\" >>'%s'\necho '{\"account\": null, \"marker\": null}'\n",
		 path);
	const char *argv[] = { script(f, "args", body), "--tenant={{tenant.name}}", "{{ tenant.account }}",
			       "at-{{region}}-{{region}}", NULL };
	assert_ok(open_exec(f, NULL, argv, &err), &err);
	struct fl_tenant t = tenant_of("acme", "111111111111");
	struct fl_buf account = FL_BUF_INIT;
	struct fl_marker m;
	bool found = true;
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_false(found);
	assert_ok(f->drv.ops->marker(f->drv.self, &t, "eu-west-1", &m, &found, &err), &err);
	assert_false(found);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_string_equal(line, "--tenant=acme 111111111111 at-us-east-1-us-east-1\n");
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_string_equal(line, "--tenant=acme 111111111111 at-eu-west-1-eu-west-1\n");
	fclose(fp);
	fl_buf_release(&account);
}

/* A program without a cheap marker: the driver observes instead, and remembers. */
static void test_marker_fallback(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	char log[256], body[1024];
	snprintf(log, sizeof(log), "%s/ops", f->tmp);
	snprintf(body, sizeof(body),
		 "req=$(cat)\n"
		 "case \"$req\" in\n"
		 "*'\"operation\":\"marker\"'*) echo marker >>'%s'; echo '{\"unsupported\": true}';;\n"
		 "*) echo observe >>'%s'; echo '{\"exists\": true, \"resources\": [], \"marker\": "
		 "{\"revision\": \"%s\", \"tenant_fingerprint\": \"%032d\", "
		 "\"inputs_fingerprint\": \"%s\", \"resources\": 7}}';;\n"
		 "esac\n",
		 log, log, REV_B, 0, "ABCDEF0123456789abcdef0123456789");
	const char *argv[] = { script(f, "nomarker", body), NULL };
	assert_ok(open_exec(f, NULL, argv, &err), &err);
	struct fl_tenant t = tenant_of("acme", "111111111111");
	struct fl_marker m;
	bool found = false;
	for (int i = 0; i < 2; i++) {
		assert_ok(f->drv.ops->marker(f->drv.self, &t, "us-east-1", &m, &found, &err), &err);
		assert_true(found);
		assert_string_equal(m.revision, REV_B);
		assert_int_equal(m.resources, 7);
		assert_true(fl_fp_is_zero(&m.tenant_fp));
	}
	FILE *fp = fopen(log, "r");
	char text[256] = { 0 };
	assert_non_null(fp);
	size_t n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	assert_string_equal(text, "marker\nobserve\nobserve\n");
}

/* A program that answers without reading a large request: no SIGPIPE, no error. */
static void test_unread_request(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	const char *argv[] = { script(f, "noread", "echo '{\"ok\": true}'\n"), NULL };
	assert_ok(open_exec(f, NULL, argv, &err), &err);
	size_t big = 4 * 1024 * 1024;
	char *spec = malloc(big + 16);
	assert_non_null(spec);
	spec[0] = '"';
	memset(spec + 1, 'x', big);
	memcpy(spec + 1 + big, "\"", 2);
	struct fl_tenant t = tenant_of("acme", "111111111111");
	struct fl_put_res puts[] = { put_of("blob", "big", spec) };
	struct fl_region_write w = { "us-east-1", puts, 1, NULL, 0, NULL, false };
	for (int i = 0; i < 3; i++)
		assert_ok(f->drv.ops->apply(f->drv.self, &t, &w, &err), &err);
	free(spec);
}

/* ---- failures, one row each ---- */

enum op { OP_IDENTITY, OP_OBSERVE, OP_MARKER, OP_REGIONS, OP_APPLY, OP_BOOTSTRAP };

struct failure_case {
	const char *name;
	const char *body; /* the script, after #!/bin/sh; NULL: a program that does not exist */
	const char *node; /* the driver node, or NULL */
	enum op op;
	int code;
	const char *want[3]; /* substrings of the message; "$P" stands for the program */
};

/* clang-format off */
static const struct failure_case failures[] = {
	{ "exit code and stderr", "echo 'first line' >&2\necho 'boom: no credentials' >&2\nexit 3\n", NULL,
	  OP_IDENTITY, FL_EDRIVER,
	  { "driver '$P' failed (exit 3) on identity of tenant 'acme': first line | boom: no credentials" } },
	{ "killed by a signal", "kill -9 $$\n", NULL, OP_BOOTSTRAP, FL_EDRIVER,
	  { "was killed by signal 9 on bootstrap of tenant 'acme'" } },
	{ "garbage answer", "cat >/dev/null\necho 'this is not json'\n", NULL, OP_OBSERVE, FL_EDRIVER,
	  { "gave an answer that is not JSON (1:1:", "on observe of tenant 'acme' in region 'us-east-1'" } },
	{ "empty answer", "exit 0\n", NULL, OP_MARKER, FL_EDRIVER,
	  { "gave an answer that is not JSON", "on marker of tenant 'acme' in region 'us-east-1'" } },
	{ "answer not an object", "echo '[1, 2]'\n", NULL, OP_REGIONS, FL_EDRIVER,
	  { "gave an answer that is not a JSON object on regions of tenant 'acme'" } },
	{ "timeout", "echo 'started' >&2\nsleep 30\n", "{\"timeout\": 1}", OP_OBSERVE, FL_EDRIVER,
	  { "driver '$P' timed out after 1 s on observe of tenant 'acme' in region 'us-east-1': started" } },
	{ "timeout with the outputs closed", "exec >/dev/null 2>&1\nsleep 30\n", "{\"timeout\": \"1s\"}",
	  OP_APPLY, FL_EDRIVER, { "timed out after 1 s on apply" } },
	{ "name with a slash",
	  "echo '{\"exists\": true, \"marker\": null, \"resources\": [{\"kind\": \"service\", \"name\": \"a/b\", "
	  "\"managed\": true, \"spec\": {}}]}'\n",
	  NULL, OP_OBSERVE, FL_EDRIVER,
	  { "gave an invalid answer to observe of tenant 'acme' in region 'us-east-1': name 'a/b' is not a valid name" } },
	{ "region going up", "echo '{\"regions\": [\"us-east-1\", \"..\"]}'\n", NULL, OP_REGIONS, FL_EDRIVER,
	  { "invalid answer to regions of tenant 'acme': region 2 is not a valid name" } },
	{ "resource listed twice",
	  "echo '{\"resources\": [{\"kind\": \"a\", \"name\": \"b\", \"spec\": 1}, {\"kind\": \"a\", \"name\": "
	  "\"b\", \"spec\": 2}]}'\n",
	  NULL, OP_OBSERVE, FL_EDRIVER, { "resource a/b is listed twice" } },
	{ "resource without spec", "echo '{\"resources\": [{\"kind\": \"a\", \"name\": \"b\"}]}'\n", NULL,
	  OP_OBSERVE, FL_EDRIVER, { "resource a/b needs \"spec\"" } },
	{ "bad marker", "echo '{\"marker\": {\"revision\": \"abc\"}}'\n", NULL, OP_MARKER, FL_EDRIVER,
	  { "invalid answer to marker of tenant 'acme' in region 'us-east-1': marker is not" } },
	{ "bad account id", "echo '{\"account\": \"../etc\"}'\n", NULL, OP_IDENTITY, FL_EDRIVER,
	  { "invalid answer to identity of tenant 'acme'" } },
	{ "apply refused", "echo '{\"ok\": false, \"error\": \"quota exceeded\"}'\n", NULL, OP_APPLY, FL_EDRIVER,
	  { "driver '$P' refused apply of tenant 'acme': quota exceeded" } },
	{ "apply answer without ok", "echo '{}'\n", NULL, OP_APPLY, FL_EDRIVER,
	  { "expected {\"ok\": true}" } },
	{ "bootstrap unsupported", "echo '{\"unsupported\": true}'\n", NULL, OP_BOOTSTRAP, FL_EDRIVER,
	  { "account '111111111111' does not exist and driver '$P' cannot create accounts" } },
	{ "long stderr keeps its end",
	  "i=0\nwhile [ $i -lt 400 ]; do echo \"noise line $i\" >&2; i=$((i+1)); done\necho 'THE REAL CAUSE' >&2\n"
	  "exit 1\n",
	  NULL, OP_IDENTITY, FL_EDRIVER, { "failed (exit 1) on identity of tenant 'acme': ... noise line ", "| THE REAL CAUSE" } },
	{ "missing program", NULL, NULL, OP_IDENTITY, FL_EDRIVER, { "cannot run driver '$P': No such file" } },
};

/* clang-format on */

static int run_op(struct fixture *f, enum op op, struct fl_error *err)
{
	struct fl_tenant t = tenant_of("acme", "111111111111");
	struct fl_buf account = FL_BUF_INIT, regions = FL_BUF_INIT;
	struct fl_marker m;
	bool found;
	struct fl_put_res puts[] = { put_of("service", "api", "{}") };
	struct fl_region_write w = { "us-east-1", puts, 1, NULL, 0, NULL, false };
	void *self = f->drv.self;
	const struct fl_driver_ops *ops = f->drv.ops;
	int rc = op == OP_IDENTITY  ? ops->identity(self, &t, &account, &found, err)
		 : op == OP_OBSERVE ? ops->observe(self, &t, "us-east-1", &f->obs, err)
		 : op == OP_MARKER  ? ops->marker(self, &t, "us-east-1", &m, &found, err)
		 : op == OP_REGIONS ? ops->regions(self, &t, collect_region, &regions, err)
		 : op == OP_APPLY   ? ops->apply(self, &t, &w, err)
				    : ops->bootstrap(self, &t, err);
	fl_buf_release(&account);
	fl_buf_release(&regions);
	return rc;
}

/* The number of open file descriptors of this process. */
static int open_fds(void)
{
	DIR *dh = opendir("/proc/self/fd");
	int n = 0;
	if (!dh)
		return -1;
	while (readdir(dh))
		n++;
	closedir(dh);
	return n;
}

static void test_failures(void **state)
{
	struct fixture *f = *state;
	int fds = open_fds();
	for (size_t i = 0; i < N_ELEMS(failures); i++) {
		const struct failure_case *c = &failures[i];
		struct fl_error err = FL_ERROR_INIT;
		char name[32], missing[256];
		snprintf(name, sizeof(name), "case%zu", i);
		snprintf(missing, sizeof(missing), "%s/no-such-program", f->tmp);
		const char *prog = c->body ? script(f, name, c->body) : missing;
		const char *argv[] = { prog, NULL };
		if (open_exec(f, c->node, argv, &err))
			fail_msg("%s: open: %s", c->name, err.msg);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rc = run_op(f, c->op, &err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (rc != c->code)
			fail_msg("%s: code %d, expected %d (%s)", c->name, rc, c->code, err.msg);
		if (t1.tv_sec - t0.tv_sec > 10)
			fail_msg("%s: took %ld s", c->name, (long)(t1.tv_sec - t0.tv_sec));
		for (size_t k = 0; k < N_ELEMS(c->want) && c->want[k]; k++) {
			char want[512];
			const char *p = strstr(c->want[k], "$P");
			if (p)
				snprintf(want, sizeof(want), "%.*s%s%s", (int)(p - c->want[k]), c->want[k],
					 prog, p + 2);
			else
				snprintf(want, sizeof(want), "%s", c->want[k]);
			if (!strstr(err.msg, want))
				fail_msg("%s: message\n  %s\nlacks\n  %s", c->name, err.msg, want);
		}
		if (strchr(err.msg, '\n'))
			fail_msg("%s: message spans lines: %s", c->name, err.msg);
		if (open_fds() != fds)
			fail_msg("%s: %d file descriptors open after it, %d before", c->name, open_fds(),
				 fds);
	}
}

/* ---- opening ---- */

struct open_case {
	const char *name;
	const char *arg; /* a command template, or NULL */
	const char *node;
	int code;
	const char *want;
};

/* clang-format off */
static const struct open_case opens[] = {
	{ "plain", "prog", NULL, 0, NULL },
	{ "all variables", "--x={{tenant.name}}/{{tenant.account}}/{{ region }}", NULL, 0, NULL },
	{ "timeout in seconds", "prog", "{\"timeout\": 90}", 0, NULL },
	{ "timeout as a duration", "prog", "{\"timeout\": \"1h30m\"}", 0, NULL },
	{ "unknown variable", "{{vars.colour}}", NULL, FL_EINPUT,
	  "unknown template variable 'vars.colour' in driver command" },
	{ "label variable", "{{tenant.labels.ring}}", NULL, FL_EINPUT, "unknown template variable 'tenant.labels.ring'" },
	{ "unterminated", "a{{region", NULL, FL_EINPUT, "unterminated '{{' in driver command 'a{{region'" },
	{ "bad timeout", "prog", "{\"timeout\": \"5 minutes\"}", FL_EINPUT, "invalid driver timeout" },
	{ "zero timeout", "prog", "{\"timeout\": 0}", FL_EINPUT, "invalid driver timeout" },
	{ "units out of order", "prog", "{\"timeout\": \"5s1m\"}", FL_EINPUT, "invalid driver timeout" },
	{ "no command", NULL, NULL, FL_EINPUT, "driver 'exec' needs a command" },
};

/* clang-format on */

static void test_open(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < N_ELEMS(opens); i++) {
		const struct open_case *c = &opens[i];
		struct fl_error err = FL_ERROR_INIT;
		const char *argv[] = { "prog", c->arg, NULL };
		const char *none[] = { NULL };
		int rc = open_exec(f, c->node, c->arg ? argv : none, &err);
		if (rc != c->code)
			fail_msg("%s: code %d, expected %d (%s)", c->name, rc, c->code, err.msg);
		if (c->want && !strstr(err.msg, c->want))
			fail_msg("%s: message '%s' lacks '%s'", c->name, err.msg, c->want);
		if (!rc)
			assert_string_equal(f->drv.ops->type, "exec");
	}
}

/* --driver exec:CMD splits CMD on spaces and opens the exec driver. */
static void test_conf_parse(void **state)
{
	struct fixture *f = *state;
	struct fl_driver_conf conf;
	struct fl_error err = FL_ERROR_INIT;
	assert_ok(fl_driver_conf_parse(&conf, &f->arena, "exec:drivers/cfn  --profile {{tenant.name}}", &err),
		  &err);
	assert_string_equal(conf.type, "exec");
	assert_int_equal(fl_node_get(conf.node, "command")->v.seq.len, 3);
	assert_string_equal(fl_node_get(conf.node, "command")->v.seq.items[2]->v.str.ptr, "{{tenant.name}}");
	fl_driver_release(&f->drv);
	assert_ok(fl_driver_open(&f->drv, &conf, &err), &err);
	assert_string_equal(f->drv.ops->type, "exec");
}

/*
 * The program never sees what drop_env names (a '*' stands for any run of
 * characters), nor flotilla's own secrets when the conf names nothing,
 * except what pass_env hands on. One row per configuration.
 */
/* clang-format off */
static const struct secrets_case {
	const char *name;
	const char *drop[9];       /* NULL-terminated; drop[0] NULL: the conf names none */
	const char *pass[2];
	const char *seen[3];       /* "NAME=value" lines the program must see */
	const char *unseen[8];     /* "NAME=" prefixes it must not */
} secrets_cases[] = {
	{ "the fleet's list", { "FLOTILLA_GIT_TOKEN", "FLOTILLA_SSH_PASSPHRASE", "AWS_ACCESS_KEY_ID",
				"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "FL_T_STATUS_TOKEN", "FL_T_TOK_*", NULL },
	  { NULL }, { "FL_T_PLAIN=plain", NULL },
	  { "FLOTILLA_GIT_TOKEN=", "FLOTILLA_SSH_PASSPHRASE=", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=",
	    "AWS_SESSION_TOKEN=", "FL_T_STATUS_TOKEN=", "FL_T_TOK_acme=", NULL } },
	{ "handed on", { "FLOTILLA_GIT_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", NULL },
	  { "AWS_SESSION_TOKEN", NULL }, { "AWS_SESSION_TOKEN=aws-session", "FL_T_PLAIN=plain", NULL },
	  { "FLOTILLA_GIT_TOKEN=", "AWS_ACCESS_KEY_ID=", NULL } },
	{ "no list: flotilla's own", { NULL }, { NULL }, { "FL_T_STATUS_TOKEN=status", NULL },
	  { "FLOTILLA_GIT_TOKEN=", "FLOTILLA_SSH_PASSPHRASE=", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=",
	    "AWS_SESSION_TOKEN=", NULL } },
};
/* clang-format on */

static bool has_line_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			return true;
	return false;
}

static void test_secrets_dropped(void **state)
{
	static const char *const secrets[][2] = {
		{ "FLOTILLA_GIT_TOKEN", "git" },	  { "FLOTILLA_SSH_PASSPHRASE", "ssh" },
		{ "AWS_ACCESS_KEY_ID", "aws-id" },	  { "AWS_SECRET_ACCESS_KEY", "aws-secret" },
		{ "AWS_SESSION_TOKEN", "aws-session" }, { "FL_T_STATUS_TOKEN", "status" },
		{ "FL_T_TOK_acme", "tenant-token" },	  { "FL_T_PLAIN", "plain" },
	};
	struct fixture *f = *state;
	char path[256], body[512];
	snprintf(path, sizeof(path), "%s/env.out", f->tmp);
	snprintf(body, sizeof(body), "env >'%s'\necho '{\"account\": null, \"marker\": null}'\n", path);
	const char *prog = script(f, "envdump", body);
	for (size_t i = 0; i < N_ELEMS(secrets); i++)
		assert_int_equal(setenv(secrets[i][0], secrets[i][1], 1), 0);
	for (size_t i = 0; i < N_ELEMS(secrets_cases); i++) {
		const struct secrets_case *c = &secrets_cases[i];
		struct fl_error err = FL_ERROR_INIT;
		struct fl_driver_conf conf;
		struct fl_buf account = FL_BUF_INIT, seen = FL_BUF_INIT;
		bool found = true;
		char entry[512];
		struct fl_node *node = NULL;
		snprintf(entry, sizeof(entry), "{\"command\": [\"%s\"], \"pass_env\": [%s%s%s]}", prog,
			 c->pass[0] ? "\"" : "", c->pass[0] ? c->pass[0] : "", c->pass[0] ? "\"" : "");
		struct fl_source src = { "node", entry, strlen(entry) };
		assert_ok(fl_json_parse(&node, &f->arena, &src, &err), &err);
		memset(&conf, 0, sizeof(conf));
		conf.type = "exec";
		conf.node = node;
		conf.drop_env = c->drop[0] ? c->drop : NULL;
		fl_driver_release(&f->drv);
		assert_ok(fl_driver_open(&f->drv, &conf, &err), &err);
		struct fl_tenant t = tenant_of("acme", "111111111111");
		assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
		assert_ok(fl_file_read(&seen, path, &err), &err);
		for (size_t j = 0; j < N_ELEMS(c->seen) && c->seen[j]; j++)
			if (!has_line_starting(seen.ptr, c->seen[j]))
				fail_msg("%s: the program did not see '%s'", c->name, c->seen[j]);
		for (size_t j = 0; j < N_ELEMS(c->unseen) && c->unseen[j]; j++)
			if (has_line_starting(seen.ptr, c->unseen[j]))
				fail_msg("%s: the program saw '%s'", c->name, c->unseen[j]);
		fl_buf_release(&account);
		fl_buf_release(&seen);
	}
	for (size_t i = 0; i < N_ELEMS(secrets); i++)
		unsetenv(secrets[i][0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_git_accounts_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_accounts_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_template_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_marker_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unread_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_dropped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
