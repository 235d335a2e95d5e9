/*
 * Tests of reconcile/plan/plan_output.c: tenant plans built by hand (a fleet of
 * two waves, a tenant with every kind of change, a new account, a failure,
 * a decommissioning, converged and skipped tenants) written as text,
 * Markdown and JSON and compared byte for byte; the JSON is parsed back to
 * prove it valid and to check the fields of docs/plan-json.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/node.h"
#include "reconcile/plan/diff.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/plan/plan.h"
#include "reconcile/plan/plan_output.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define REV "0123456789abcdef0123456789abcdef01234567"
#define IDENTITY_MSG "the account reports id '999', but the manifest names '444': nothing is written"

/* The world of the tests: a fleet, its tenants and their plans, all by hand. */
struct world {
	struct fl_wave waves[2];
	struct fl_fleet fleet;
	struct fl_tenant acme, beta, conv, delta, gamma, susp;
	struct fl_tenant_plan plans[6]; /* in name order */
	struct fl_change acme_us[3], acme_eu[1], beta_eu[1], gamma_us[1];
	struct fl_region_plan acme_regions[3], beta_regions[1], gamma_regions[1];
	struct fl_field_diff diff[4];
	struct fl_plan_summary sum;
	struct fl_var_decl var;          /* "key", secret */
	struct fl_node key_value;        /* beta's value of it */
	const struct fl_node *beta_vars[1];
};

static struct fl_fp fp_of(const char *s)
{
	struct fl_fp fp;
	fl_fp_of(&fp, s, strlen(s));
	return fp;
}

static struct fl_tenant tenant_of(const char *name, const char *account, size_t wave)
{
	struct fl_tenant t;
	memset(&t, 0, sizeof(t));
	t.name = name;
	t.account = account;
	t.wave = wave;
	return t;
}

static struct fl_change change_of(enum fl_op op, const char *kind, const char *name)
{
	struct fl_change c;
	memset(&c, 0, sizeof(c));
	c.op = op;
	c.kind = kind;
	c.name = name;
	if (op != FL_OP_DELETE)
		c.new_fp = fp_of(name);
	if (op != FL_OP_CREATE)
		c.old_fp = fp_of(kind);
	return c;
}

static struct fl_region_plan region_of(const char *region, bool in_manifest, struct fl_change *changes,
				       size_t n, size_t withheld)
{
	struct fl_region_plan rp;
	memset(&rp, 0, sizeof(rp));
	rp.region = region;
	rp.in_manifest = in_manifest;
	rp.changes = changes;
	rp.nchanges = n;
	rp.withheld = withheld;
	return rp;
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->waves[0].name = "canary";
	w->waves[1].name = "fleet";
	w->fleet.name = "testco";
	memcpy(w->fleet.revision, REV, sizeof(w->fleet.revision));
	w->fleet.waves = w->waves;
	w->fleet.nwaves = 2;
	w->fleet.max_delete_percent = 10;

	w->acme = tenant_of("acme", "111", 0);
	w->beta = tenant_of("beta", "222", 1);
	w->conv = tenant_of("conv", "555", 1);
	w->delta = tenant_of("delta", "444", 1);
	w->gamma = tenant_of("gamma", "333", 1);
	w->gamma.state = FL_TENANT_DECOMMISSIONED;
	w->susp = tenant_of("susp", "666", 1);
	w->susp.state = FL_TENANT_SUSPENDED;

	w->diff[0] = (struct fl_field_diff){ "env.DB", FL_SECRET_TEXT, FL_SECRET_TEXT };
	w->diff[1] = (struct fl_field_diff){ "image", "\"api:1\"", "\"api:2\"" };
	w->diff[2] = (struct fl_field_diff){ "ports[0]", NULL, "80" };
	w->diff[3] = (struct fl_field_diff){ "tags", "[\"a\"]", NULL };

	/* acme: a create, an update, a delete and a withheld delete; a dropped region; a quiet region. */
	w->acme_us[0] = change_of(FL_OP_CREATE, "service", "api");
	w->acme_us[1] = change_of(FL_OP_UPDATE, "config", "base");
	w->acme_us[1].diff = w->diff;
	w->acme_us[1].ndiff = 4;
	w->acme_us[2] = change_of(FL_OP_DELETE, "job", "old");
	w->acme_eu[0] = change_of(FL_OP_DELETE, "job", "x");
	w->acme_regions[0] = region_of("us-east-1", true, w->acme_us, 3, 1);
	w->acme_regions[1] = region_of("ap-south-1", true, NULL, 0, 0);
	w->acme_regions[2] = region_of("eu-west-1", false, w->acme_eu, 1, 0);
	/* What a spec may hold that must not break out of its block, or forge the comment's marker. */
	w->acme_us[0].spec = "{\"image\":\"api:2\",\"note\":\"``` x ```` </details> <!-- flotilla:plan -->\"}";
	w->acme_us[0].spec_len = strlen(w->acme_us[0].spec);
	w->beta_eu[0] = change_of(FL_OP_CREATE, "service", "api");
	/* A secret var's value, inside a value of a field the template does not mark: masked by value. */
	w->var.name = "key";
	w->var.secret = true;
	w->fleet.vars = &w->var;
	w->fleet.nvars = 1;
	w->key_value.type = FL_NODE_STR;
	w->key_value.v.str.ptr = (char *)"hunter2";
	w->key_value.v.str.len = 7;
	w->beta_vars[0] = &w->key_value;
	w->beta.vars = w->beta_vars;
	w->beta_eu[0].spec = "{\"env\":{\"DSN\":\"db://u:hunter2@h\",\"empty\":{}},\"replicas\":2}";
	w->beta_eu[0].spec_len = strlen(w->beta_eu[0].spec);
	w->beta_regions[0] = region_of("eu-west-1", true, w->beta_eu, 1, 0);
	w->gamma_us[0] = change_of(FL_OP_DELETE, "service", "api");
	w->gamma_regions[0] = region_of("us-east-1", true, w->gamma_us, 1, 0);

	const struct fl_tenant *tenants[6] = { &w->acme, &w->beta, &w->conv, &w->delta, &w->gamma, &w->susp };
	for (size_t i = 0; i < 6; i++) {
		fl_tenant_plan_init(&w->plans[i]);
		w->plans[i].tenant = tenants[i];
	}
	struct fl_tenant_plan *tp = &w->plans[0];
	tp->outcome = FL_TENANT_CHANGES;
	tp->regions = w->acme_regions;
	tp->nregions = 3;
	tp->creates = 1;
	tp->updates = 1;
	tp->deletes = 2;
	tp->withheld = 1;
	tp = &w->plans[1];
	tp->outcome = FL_TENANT_CHANGES;
	tp->bootstrap = true;
	tp->regions = w->beta_regions;
	tp->nregions = 1;
	tp->creates = 1;
	w->plans[2].outcome = FL_TENANT_CONVERGED;
	w->plans[2].from_marker = true;
	tp = &w->plans[3];
	tp->outcome = FL_TENANT_FAILED;
	fl_error_set(&tp->error, FL_EIDENTITY, IDENTITY_MSG);
	tp = &w->plans[4];
	tp->outcome = FL_TENANT_CHANGES;
	tp->regions = w->gamma_regions;
	tp->nregions = 1;
	tp->deletes = 1;
	w->plans[5].outcome = FL_TENANT_SKIPPED;

	w->sum.tenants = 6;
	w->sum.tenants_changed = 3;
	w->sum.tenants_failed = 1;
	w->sum.creates = 2;
	w->sum.updates = 1;
	w->sum.deletes = 3;
	w->sum.withheld = 1;
	w->sum.resources = 10;
	w->sum.observed = 12;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	for (size_t i = 0; i < N_ELEMS(w->plans); i++)
		fl_tenant_plan_release(&w->plans[i]);
	free(w);
	return 0;
}

/* Writes the whole plan of w in a format into out. */
static void write_all(struct fl_buf *out, struct world *w, enum fl_format format, bool color, bool mass)
{
	struct fl_plan_writer pw;
	memset(&pw, 0, sizeof(pw));
	pw.format = format;
	pw.color = color;
	pw.fleet = &w->fleet;
	if (format == FL_FORMAT_MARKDOWN)
		fl_plan_write_markdown_head(out, &pw, &w->sum, mass);
	fl_plan_write_begin(out, &pw);
	for (size_t i = 0; i < N_ELEMS(w->plans); i++)
		fl_plan_write_tenant(out, &pw, &w->plans[i]);
	assert_int_equal(pw.written, 4);
	fl_plan_write_end(out, &pw, &w->sum, mass);
}

/* Like assert_string_equal, but shows where the texts part. */
static void expect_text(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return;
	size_t i = 0;
	while (got[i] && got[i] == want[i])
		i++;
	fail_msg("texts differ at byte %zu:\n--- got:\n%s\n--- want:\n%s\n--- got from there: '%s'", i, got,
		 want, got + i);
}

/* ---- text ---- */

static const char want_text[] =
	"Plan of fleet testco at " REV "\n"
	"\n"
	"tenant acme (wave canary, account 111)\n"
	"  region us-east-1\n"
	"    + service/api\n"
	"    ~ config/base\n"
	"        env.DB: \"(secret)\" -> \"(secret)\"\n"
	"        image: \"api:1\" -> \"api:2\"\n"
	"        ports[0]: (absent) -> 80\n"
	"        tags: [\"a\"] -> (absent)\n"
	"    - job/old\n"
	"    (1 resource left the release; --prune deletes them)\n"
	"  region eu-west-1 (not in the manifest)\n"
	"    - job/x\n"
	"tenant beta (wave fleet, account 222) [new account: bootstrap]\n"
	"  region eu-west-1\n"
	"    + service/api\n"
	"tenant delta (wave fleet, account 444): failed: " IDENTITY_MSG "\n"
	"tenant gamma (wave fleet, account 333) [decommissioned: every flotilla resource is deleted]\n"
	"  region us-east-1\n"
	"    - service/api\n"
	"\n"
	"Plan: 3 tenants change: +2 ~1 -3, 1 failed\n"
	"1 resource left the release and is kept: prune is off (--prune deletes them)\n";

static void test_text(void **state)
{
	struct world *w = *state;
	struct fl_buf out = FL_BUF_INIT;

	write_all(&out, w, FL_FORMAT_TEXT, false, false);
	expect_text(out.ptr, want_text);
	assert_null(strchr(out.ptr, '\033'));

	/* Refused, with more withheld. */
	fl_buf_clear(&out);
	w->sum.withheld = 2;
	write_all(&out, w, FL_FORMAT_TEXT, false, true);
	const char *tail = strstr(out.ptr, "\nPlan: ");
	assert_non_null(tail);
	expect_text(tail,
		    "\nPlan: 3 tenants change: +2 ~1 -3, 1 failed\n"
		    "2 resources left the release and are kept: prune is off (--prune deletes them)\n"
		    "refused: the plan deletes 3 of 12 resources, more than guard.max_delete_percent allows "
		    "(--allow-mass-delete overrides)\n");
	fl_buf_release(&out);
}

static void test_text_color(void **state)
{
	struct world *w = *state;
	struct fl_buf out = FL_BUF_INIT;

	write_all(&out, w, FL_FORMAT_TEXT, true, false);
	static const char *const lines[] = {
		"\033[1mtenant acme\033[0m (wave canary, account 111)\n",
		"    \033[32m+ service/api\033[0m\n",
		"    \033[33m~ config/base\033[0m\n",
		"    \033[31m- job/old\033[0m\n",
		"\033[1mtenant delta\033[0m (wave fleet, account 444): \033[31mfailed\033[0m: " IDENTITY_MSG
		"\n",
	};
	for (size_t i = 0; i < N_ELEMS(lines); i++)
		if (!strstr(out.ptr, lines[i]))
			fail_msg("no line %zu in:\n%s", i, out.ptr);
	/* Without the codes, the same text. */
	struct fl_buf plain = FL_BUF_INIT;
	for (const char *p = out.ptr; *p;) {
		if (*p == '\033') {
			p = strchr(p, 'm') + 1;
			continue;
		}
		fl_buf_putc(&plain, *p++);
	}
	expect_text(plain.ptr, want_text);
	fl_buf_release(&plain);
	fl_buf_release(&out);

	/* Colour never reaches JSON or Markdown. */
	static const enum fl_format others[] = { FL_FORMAT_JSON, FL_FORMAT_MARKDOWN };
	for (size_t i = 0; i < N_ELEMS(others); i++) {
		write_all(&out, w, others[i], true, true);
		assert_null(strchr(out.ptr, '\033'));
		fl_buf_release(&out);
	}
}

/* ---- JSON ---- */

/* Every object below the top level has its keys in bytewise order. */
static void expect_sorted_keys(const struct fl_node *n, int depth)
{
	if (n->type == FL_NODE_SEQ) {
		for (size_t i = 0; i < n->v.seq.len; i++)
			expect_sorted_keys(n->v.seq.items[i], depth + 1);
		return;
	}
	if (n->type != FL_NODE_MAP)
		return;
	for (size_t i = 0; i < n->v.map.len; i++) {
		if (depth > 0 && i > 0 &&
		    strcmp(n->v.map.items[i - 1].key->v.str.ptr, n->v.map.items[i].key->v.str.ptr) >= 0)
			fail_msg("key '%s' after '%s'", n->v.map.items[i].key->v.str.ptr,
				 n->v.map.items[i - 1].key->v.str.ptr);
		expect_sorted_keys(n->v.map.items[i].value, depth + 1);
	}
}

static const struct fl_node *get(const struct fl_node *map, const char *key, enum fl_node_type type)
{
	const struct fl_node *v = fl_node_get(map, key);
	if (!v)
		fail_msg("no key '%s'", key);
	if (v->type != type)
		fail_msg("key '%s' is a %s, want a %s", key, fl_node_type_name(v->type),
			 fl_node_type_name(type));
	return v;
}

static void expect_str(const struct fl_node *map, const char *key, const char *want)
{
	assert_string_equal(get(map, key, FL_NODE_STR)->v.str.ptr, want);
}

static void expect_int(const struct fl_node *map, const char *key, int64_t want)
{
	const struct fl_node *v = get(map, key, FL_NODE_INT);
	if (v->v.i != want)
		fail_msg("key '%s' is %lld, want %lld", key, (long long)v->v.i, (long long)want);
}

static void expect_bool(const struct fl_node *map, const char *key, bool want)
{
	assert_int_equal(get(map, key, FL_NODE_BOOL)->v.b, want);
}

static const struct fl_node *item(const struct fl_node *seq, size_t i)
{
	assert_int_equal(seq->type, FL_NODE_SEQ);
	if (i >= seq->v.seq.len)
		fail_msg("no item %zu (%zu items)", i, seq->v.seq.len);
	return seq->v.seq.items[i];
}

static void test_json(void **state)
{
	struct world *w = *state;
	struct fl_buf out = FL_BUF_INIT;
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	char hex[FL_FP_HEX_LEN + 1];

	fl_arena_init(&arena, 4096);
	write_all(&out, w, FL_FORMAT_JSON, false, true);
	assert_true(out.len > 0 && out.ptr[out.len - 1] == '\n');
	struct fl_source src = { "plan.json", out.ptr, out.len };
	if (fl_json_parse(&root, &arena, &src, &err))
		fail_msg("invalid JSON at %u:%u: %s\n%s", err.line, err.col, err.msg, out.ptr);
	expect_sorted_keys(root, 0);

	/* The top level, in streaming order. */
	assert_int_equal(root->type, FL_NODE_MAP);
	assert_int_equal(root->v.map.len, 4);
	static const char *const top[] = { "fleet", "revision", "tenants", "summary" };
	for (size_t i = 0; i < N_ELEMS(top); i++)
		assert_string_equal(root->v.map.items[i].key->v.str.ptr, top[i]);
	expect_str(root, "fleet", "testco");
	expect_str(root, "revision", REV);

	const struct fl_node *sum = get(root, "summary", FL_NODE_MAP);
	expect_int(sum, "tenants", 6);
	expect_int(sum, "tenants_changed", 3);
	expect_int(sum, "tenants_failed", 1);
	expect_int(sum, "creates", 2);
	expect_int(sum, "updates", 1);
	expect_int(sum, "deletes", 3);
	expect_int(sum, "withheld_deletes", 1);
	expect_int(sum, "resources", 10);
	expect_bool(sum, "mass_delete", true);

	/* Converged and skipped tenants are left out. */
	const struct fl_node *tenants = get(root, "tenants", FL_NODE_SEQ);
	assert_int_equal(tenants->v.seq.len, 4);
	static const char *const names[] = { "acme", "beta", "delta", "gamma" };
	static const char *const waves[] = { "canary", "fleet", "fleet", "fleet" };
	static const char *const outcomes[] = { "changes", "changes", "failed", "changes" };
	for (size_t i = 0; i < N_ELEMS(names); i++) {
		const struct fl_node *t = item(tenants, i);
		expect_str(t, "name", names[i]);
		expect_str(t, "wave", waves[i]);
		expect_str(t, "outcome", outcomes[i]);
		expect_bool(t, "bootstrap", i == 1);
		get(t, "regions", FL_NODE_SEQ);
		get(t, "summary", FL_NODE_MAP);
		assert_int_equal(fl_node_get(t, "error") != NULL, i == 2);
	}

	const struct fl_node *acme = item(tenants, 0);
	expect_str(acme, "account", "111");
	const struct fl_node *asum = get(acme, "summary", FL_NODE_MAP);
	expect_int(asum, "creates", 1);
	expect_int(asum, "updates", 1);
	expect_int(asum, "deletes", 2);
	/* Regions without changes or withheld deletes are left out. */
	const struct fl_node *regions = get(acme, "regions", FL_NODE_SEQ);
	assert_int_equal(regions->v.seq.len, 2);
	const struct fl_node *us = item(regions, 0), *eu = item(regions, 1);
	expect_str(us, "region", "us-east-1");
	expect_bool(us, "in_manifest", true);
	expect_int(us, "withheld_deletes", 1);
	expect_str(eu, "region", "eu-west-1");
	expect_bool(eu, "in_manifest", false);
	expect_int(eu, "withheld_deletes", 0);

	const struct fl_node *changes = get(us, "changes", FL_NODE_SEQ);
	assert_int_equal(changes->v.seq.len, 3);
	static const char *const ops[] = { "create", "update", "delete" };
	static const char *const kinds[] = { "service", "config", "job" };
	static const char *const rnames[] = { "api", "base", "old" };
	for (size_t i = 0; i < 3; i++) {
		const struct fl_node *c = item(changes, i);
		expect_str(c, "op", ops[i]);
		expect_str(c, "kind", kinds[i]);
		expect_str(c, "name", rnames[i]);
		/* Fingerprints where the side exists. */
		assert_int_equal(fl_node_get(c, "old_fingerprint") != NULL, i != 0);
		assert_int_equal(fl_node_get(c, "new_fingerprint") != NULL, i != 2);
		if (i != 0) {
			fl_fp_hex(hex, &w->acme_us[i].old_fp);
			expect_str(c, "old_fingerprint", hex);
		}
		if (i != 2) {
			fl_fp_hex(hex, &w->acme_us[i].new_fp);
			expect_str(c, "new_fingerprint", hex);
		}
		assert_int_equal(get(c, "diff", FL_NODE_SEQ)->v.seq.len, i == 1 ? 4 : 0);
	}
	const struct fl_node *diff = get(item(changes, 1), "diff", FL_NODE_SEQ);
	const struct fl_node *d = item(diff, 0);
	expect_str(d, "path", "env.DB");
	expect_str(d, "old", "(secret)");
	expect_str(d, "new", "(secret)");
	d = item(diff, 1);
	expect_str(d, "path", "image");
	expect_str(d, "old", "api:1");
	expect_str(d, "new", "api:2");
	d = item(diff, 2);
	expect_str(d, "path", "ports[0]");
	assert_null(fl_node_get(d, "old"));
	expect_int(d, "new", 80);
	d = item(diff, 3);
	expect_str(d, "path", "tags");
	assert_int_equal(get(d, "old", FL_NODE_SEQ)->v.seq.len, 1);
	assert_null(fl_node_get(d, "new"));

	expect_str(item(tenants, 2), "error", IDENTITY_MSG);
	assert_int_equal(get(item(tenants, 2), "regions", FL_NODE_SEQ)->v.seq.len, 0);

	/* One tenant per line, byte for byte. */
	char want_beta[512];
	fl_fp_hex(hex, &w->beta_eu[0].new_fp);
	snprintf(want_beta, sizeof(want_beta),
		 "\n{\"account\":\"222\",\"bootstrap\":true,\"name\":\"beta\",\"outcome\":\"changes\","
		 "\"regions\":[{\"changes\":[{\"diff\":[],\"kind\":\"service\",\"name\":\"api\","
		 "\"new_fingerprint\":\"%s\",\"op\":\"create\"}],\"in_manifest\":true,\"region\":\"eu-west-"
		 "1\","
		 "\"unmanaged\":[],\"withheld_deletes\":0}],\"summary\":{\"creates\":1,\"deletes\":0,"
		 "\"unmanaged\":0,\"updates\":0},"
		 "\"wave\":\"fleet\"},",
		 hex);
	if (!strstr(out.ptr, want_beta))
		fail_msg("no line\n%s\nin\n%s", want_beta, out.ptr);
	assert_non_null(strstr(out.ptr, "{\"new\":80,\"path\":\"ports[0]\"}"));
	fl_buf_release(&out);
	fl_arena_release(&arena);
}

/* A plan with nothing to show is still a valid document. */
static void test_json_empty(void **state)
{
	struct world *w = *state;
	struct fl_buf out = FL_BUF_INIT;
	struct fl_plan_writer pw;
	struct fl_plan_summary sum;
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;

	memset(&pw, 0, sizeof(pw));
	memset(&sum, 0, sizeof(sum));
	pw.format = FL_FORMAT_JSON;
	pw.fleet = &w->fleet;
	sum.tenants = 2;
	fl_plan_write_begin(&out, &pw);
	fl_plan_write_tenant(&out, &pw, &w->plans[2]);
	fl_plan_write_tenant(&out, &pw, &w->plans[5]);
	fl_plan_write_end(&out, &pw, &sum, false);
	expect_text(out.ptr, "{\"fleet\":\"testco\",\"revision\":\"" REV "\",\"tenants\":[\n],"
			     "\"summary\":{\"creates\":0,\"deletes\":0,\"mass_delete\":false,\"resources\":0,"
			     "\"tenants\":2,\"tenants_changed\":0,\"tenants_failed\":0,\"tenants_suspended\":0,"
			     "\"unmanaged\":0,\"updates\":0,\"withheld_deletes\":0}}\n");
	fl_arena_init(&arena, 4096);
	struct fl_source src = { "plan.json", out.ptr, out.len };
	assert_int_equal(fl_json_parse(&root, &arena, &src, &err), 0);
	assert_int_equal(get(root, "tenants", FL_NODE_SEQ)->v.seq.len, 0);
	fl_arena_release(&arena);
	fl_buf_release(&out);

	/* Text: just the head and the summary. */
	pw.format = FL_FORMAT_TEXT;
	pw.written = 0;
	fl_plan_write_begin(&out, &pw);
	fl_plan_write_tenant(&out, &pw, &w->plans[2]);
	fl_plan_write_tenant(&out, &pw, &w->plans[5]);
	fl_plan_write_end(&out, &pw, &sum, false);
	expect_text(out.ptr, "Plan of fleet testco at " REV "\n\nPlan: no changes: 2 tenants converged\n");
	assert_int_equal(pw.written, 0);
	fl_buf_release(&out);
}

/* Strings with quotes, backslashes and control characters stay valid JSON. */
static void test_json_escapes(void **state)
{
	struct world *w = *state;
	struct fl_buf out = FL_BUF_INIT;
	struct fl_plan_writer pw;
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;

	memset(&pw, 0, sizeof(pw));
	pw.format = FL_FORMAT_JSON;
	pw.fleet = &w->fleet;
	struct fl_tenant_plan *failed = &w->plans[3];
	fl_error_set(&failed->error, FL_EDRIVER, "bad \"state\"\\\n\tline");
	fl_plan_write_begin(&out, &pw);
	fl_plan_write_tenant(&out, &pw, failed);
	fl_plan_write_end(&out, &pw, &w->sum, false);
	fl_arena_init(&arena, 4096);
	struct fl_source src = { "plan.json", out.ptr, out.len };
	if (fl_json_parse(&root, &arena, &src, &err))
		fail_msg("invalid JSON: %s\n%s", err.msg, out.ptr);
	expect_str(item(get(root, "tenants", FL_NODE_SEQ), 0), "error", "bad \"state\"\\\n\tline");
	fl_arena_release(&arena);
	fl_buf_release(&out);
}

/* ---- Markdown ---- */

static void test_markdown(void **state)
{
	struct world *w = *state;
	struct fl_buf out = FL_BUF_INIT;

	write_all(&out, w, FL_FORMAT_MARKDOWN, false, true);
	expect_text(
		out.ptr,
		"### flotilla plan for `" REV "` (testco)\n"
		"\n"
		"**3 tenants change: +2 ~1 -3, 1 failed**\n"
		"\n"
		"1 resource left the release and is kept: prune is off.\n"
		"\n"
		"> **Refused:** the plan deletes 3 of 12 resources, more than the guard allows.\n"
		"\n"
		"<details><summary><b>acme</b> (wave <code>canary</code>): +1 ~1 -2</summary>\n"
		"\n"
		"```diff\n"
		"+ us-east-1 service/api\n"
		"! us-east-1 config/base\n"
		"    env.DB: \"(secret)\" -> \"(secret)\"\n"
		"    image: \"api:1\" -> \"api:2\"\n"
		"    ports[0]: (absent) -> 80\n"
		"    tags: [\"a\"] -> (absent)\n"
		"- us-east-1 job/old\n"
		"- eu-west-1 job/x\n"
		"```\n"
		"\n"
		"<details><summary>spec of <code>us-east-1 service/api</code></summary>\n"
		"\n"
		"`````json\n"
		"{\n"
		"  \"image\": \"api:2\",\n"
		"  \"note\": \"``` x ```` </details> <!-- flotilla:plan -->\"\n"
		"}\n"
		"`````\n"
		"\n"
		"</details>\n"
		"\n"
		"</details>\n"
		"<details><summary><b>beta</b> (wave <code>fleet</code>): +1 ~0 -0, new account</summary>\n"
		"\n"
		"```diff\n"
		"+ eu-west-1 service/api\n"
		"```\n"
		"\n"
		"<details><summary>spec of <code>eu-west-1 service/api</code></summary>\n"
		"\n"
		"```json\n"
		"{\n"
		"  \"env\": {\n"
		"    \"DSN\": \"(secret)\",\n"
		"    \"empty\": {}\n"
		"  },\n"
		"  \"replicas\": 2\n"
		"}\n"
		"```\n"
		"\n"
		"</details>\n"
		"\n"
		"</details>\n"
		"- **delta** (wave `fleet`): failed: " IDENTITY_MSG "\n"
		"<details><summary><b>gamma</b> (wave <code>fleet</code>): +0 ~0 -1</summary>\n"
		"\n"
		"```diff\n"
		"- us-east-1 service/api\n"
		"```\n"
		"\n"
		"</details>\n");
	fl_buf_release(&out);

	/* No withheld deletes, no refusal: just the title and the summary. */
	struct fl_plan_writer pw;
	struct fl_plan_summary sum;
	memset(&pw, 0, sizeof(pw));
	memset(&sum, 0, sizeof(sum));
	pw.format = FL_FORMAT_MARKDOWN;
	pw.fleet = &w->fleet;
	sum.tenants = 1;
	fl_plan_write_markdown_head(&out, &pw, &sum, false);
	fl_plan_write_begin(&out, &pw);
	fl_plan_write_tenant(&out, &pw, &w->plans[2]);
	fl_plan_write_end(&out, &pw, &sum, false);
	expect_text(out.ptr,
		    "### flotilla plan for `" REV "` (testco)\n\n**no changes: 1 tenant converged**\n\n");
	fl_buf_release(&out);
}

/* A diff of the whole spec (path "") reads "(spec)" in text and Markdown. */
static void test_whole_spec_diff(void **state)
{
	struct world *w = *state;
	struct fl_buf out = FL_BUF_INIT;
	struct fl_field_diff whole = { "", "{\"a\":1}", "{\"a\": 1}" };
	struct fl_plan_writer pw;

	w->acme_us[1].diff = &whole;
	w->acme_us[1].ndiff = 1;
	static const enum fl_format formats[] = { FL_FORMAT_TEXT, FL_FORMAT_MARKDOWN };
	for (size_t i = 0; i < N_ELEMS(formats); i++) {
		memset(&pw, 0, sizeof(pw));
		pw.format = formats[i];
		pw.fleet = &w->fleet;
		fl_plan_write_tenant(&out, &pw, &w->plans[0]);
		if (!strstr(out.ptr, "    (spec): {\"a\":1} -> {\"a\": 1}\n"))
			fail_msg("format %d: no whole-spec line in\n%s", (int)formats[i], out.ptr);
		fl_buf_release(&out);
	}
}

/* ---- one-liners ---- */

static void test_describe(void **state)
{
	static const struct {
		size_t tenants, changed, failed, creates, updates, deletes, suspended;
		const char *want;
	} cases[] = {
		{ 0, 0, 0, 0, 0, 0, 0, "no changes: 0 tenants converged" },
		{ 1, 0, 0, 0, 0, 0, 0, "no changes: 1 tenant converged" },
		{ 40, 0, 0, 0, 0, 0, 0, "no changes: 40 tenants converged" },
		{ 8, 3, 0, 2, 5, 0, 0, "3 tenants change: +2 ~5 -0" },
		{ 8, 1, 0, 1, 0, 0, 0, "1 tenant change: +1 ~0 -0" },
		{ 8, 2, 1, 1, 1, 1, 0, "2 tenants change: +1 ~1 -1, 1 failed" },
		{ 8, 0, 2, 0, 0, 0, 0, "0 tenants change: +0 ~0 -0, 2 failed" },
		{ 100000, 99999, 0, 1000000, 0, 7, 0, "99999 tenants change: +1000000 ~0 -7" },
		/* Suspended tenants are neither converged nor changed. */
		{ 8, 0, 0, 0, 0, 0, 2, "no changes: 6 tenants converged, 2 suspended" },
		{ 1, 0, 0, 0, 0, 0, 1, "no changes: 0 tenants converged, 1 suspended" },
		{ 8, 2, 1, 1, 1, 0, 3, "2 tenants change: +1 ~1 -0, 1 failed, 3 suspended" },
	};
	(void)state;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_plan_summary s;
		struct fl_buf out = FL_BUF_INIT;
		memset(&s, 0, sizeof(s));
		s.tenants = cases[i].tenants;
		s.tenants_changed = cases[i].changed;
		s.tenants_failed = cases[i].failed;
		s.creates = cases[i].creates;
		s.updates = cases[i].updates;
		s.deletes = cases[i].deletes;
		s.tenants_suspended = cases[i].suspended;
		fl_buf_puts(&out, "> ");
		fl_plan_describe(&out, &s);
		if (strcmp(out.ptr + 2, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, out.ptr + 2, cases[i].want);
		/* A status description: at most 140 characters (SPEC 5). */
		assert_true(out.len - 2 <= 140);
		fl_buf_release(&out);
	}
}

static void test_format_parse(void **state)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{ "text", FL_FORMAT_TEXT },
		{ "json", FL_FORMAT_JSON },
		{ "markdown", FL_FORMAT_MARKDOWN },
		{ "", -1 },
		{ "JSON", -1 },
		{ "md", -1 },
		{ "text ", -1 },
		{ "jsonx", -1 },
		{ "tex", -1 },
	};
	(void)state;

	for (size_t i = 0; i < N_ELEMS(cases); i++)
		if (fl_format_parse(cases[i].in) != cases[i].want)
			fail_msg("'%s': got %d, want %d", cases[i].in, fl_format_parse(cases[i].in),
				 cases[i].want);
}

static void test_op_names(void **state)
{
	(void)state;
	assert_string_equal(fl_op_name(FL_OP_CREATE), "create");
	assert_string_equal(fl_op_name(FL_OP_UPDATE), "update");
	assert_string_equal(fl_op_name(FL_OP_DELETE), "delete");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_color, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_markdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_spec_diff, setup, teardown),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_op_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
