/*
 * Tests for reconcile/drivers/driver_http.c against tests/servers/account_api.py on
 * loopback, over TLS with a throwaway CA made by the openssl command line:
 * the whole API round trip (bootstrap, identity, apply, observe, marker,
 * regions, deletes), fingerprints, tokens, TLS trust and client
 * certificates, retries on 500, 429 and dropped connections, 412 on a
 * concurrent change, latency, and configurations refused when opened.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/http.h"
#include "core/json.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define REV_A "0123456789abcdef0123456789abcdef01234567"
#define REV_B "89abcdef0123456789abcdef0123456789abcdef"
#define LATENCY_MS 60
#define NTHREADS 8

/* ---- the fake account API ---- */

static struct fl_test_server tls_srv, mtls_srv, slow_srv;
static struct fl_test_certs certs;
static char script_path[512];

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	fl_test_server_script(script_path, sizeof(script_path), "account_api.py");
	if (fl_test_certs_make(&certs, "drvhttp") != 0) {
		fprintf(stderr, "cannot make test certificates in %s\n", certs.dir);
		return -1;
	}
	char latency[16];
	snprintf(latency, sizeof(latency), "%d", LATENCY_MS);
	const char *tls_args[] = { "--tls", certs.server_pem, certs.server_key, NULL };
	const char *mtls_args[] = { "--tls", certs.server_pem, certs.server_key, "--client-ca", certs.ca_pem, NULL };
	const char *slow_args[] = { "--tls", certs.server_pem, certs.server_key, "--latency-ms", latency, NULL };
	if (fl_test_server_start(&tls_srv, script_path, tls_args) != 0 || fl_test_server_start(&mtls_srv, script_path, mtls_args) != 0 ||
	    fl_test_server_start(&slow_srv, script_path, slow_args) != 0) {
		fprintf(stderr, "cannot start %s\n", script_path);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	fl_test_server_stop(&tls_srv);
	fl_test_server_stop(&mtls_srv);
	fl_test_server_stop(&slow_srv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", certs.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", certs.dir);
	return 0;
}

/* ---- helpers ---- */

struct fixture {
	struct fl_arena arena;
	struct fl_driver drv;
	struct fl_observed obs;
};

static void assert_ok(int rc, const struct fl_error *err)
{
	if (rc)
		fail_msg("unexpected error %d: %s", rc, err->msg);
}

/* Sends method path (and body) to the server's test hooks; returns the answer's body (caller frees). */
static char *control(const struct fl_test_server *s, const char *method, const char *path, const char *body)
{
	char url[256];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", s->port, path);
	struct fl_http_request req;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.tls.ca_file = certs.ca_pem;
	req.tls.cert_file = certs.client_pem;
	req.tls.key_file = certs.client_key;
	struct fl_http_response resp = { .body = FL_BUF_INIT };
	struct fl_error err = FL_ERROR_INIT;
	assert_ok(fl_http_request(&resp, &req, &err), &err);
	if (resp.status != 200)
		fail_msg("%s %s: HTTP %ld: %s", method, path, resp.status, resp.body.ptr);
	return fl_buf_detach(&resp.body, NULL);
}

static void control_do(const struct fl_test_server *s, const char *method, const char *path, const char *body)
{
	free(control(s, method, path, body));
}

/* A number of the server's /_state since its last reset. */
static long state_number(const struct fl_test_server *s, const char *key)
{
	char *state = control(s, "GET", "/_state", NULL);
	char quoted[64];
	snprintf(quoted, sizeof(quoted), "\"%s\":", key);
	const char *p = strstr(state, quoted);
	assert_non_null(p);
	long n = strtol(p + strlen(quoted), NULL, 10);
	free(state);
	return n;
}

/* How many account requests the server has answered since its last reset. */
static long requests_seen(const struct fl_test_server *s)
{
	return state_number(s, "requests");
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	fl_arena_init(&f->arena, 4096);
	fl_observed_init(&f->obs);
	control_do(&tls_srv, "POST", "/_reset", "{}");
	control_do(&tls_srv, "POST", "/_tokens", "{}");
	control_do(&mtls_srv, "POST", "/_reset", "{}");
	control_do(&slow_srv, "POST", "/_reset", "{}");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fl_observed_release(&f->obs);
	fl_driver_release(&f->drv);
	fl_arena_release(&f->arena);
	free(f);
	return 0;
}

/*
 * Opens f->drv on the server s (NULL: the endpoint as given in node_json)
 * with the driver entry node_json (may be NULL), as fleet.yaml would give it.
 */
static int open_http(struct fixture *f, const struct fl_test_server *s, const char *node_json, struct fl_error *err)
{
	struct fl_driver_conf conf;
	struct fl_buf json = FL_BUF_INIT;
	struct fl_node *node = NULL;
	memset(&conf, 0, sizeof(conf));
	conf.type = "http";
	/* The entry: the server's endpoint and CA (unless node_json names its own), then node_json's keys. */
	fl_buf_puts(&json, "{");
	if (s) {
		fl_buf_printf(&json, "\"endpoint\": \"https://127.0.0.1:%d/v1/accounts/{{tenant.account}}\"", s->port);
		if (!node_json || !strstr(node_json, "\"ca_file\""))
			fl_buf_printf(&json, ", \"ca_file\": \"%s\"", certs.ca_pem);
	}
	if (node_json && strchr(node_json, ':'))
		fl_buf_printf(&json, "%s%s", s ? ", " : "", strchr(node_json, '{') + 1);
	else
		fl_buf_puts(&json, "}");
	struct fl_source src = { "node", json.ptr, json.len };
	assert_int_equal(fl_json_parse(&node, &f->arena, &src, err), 0);
	conf.node = node;
	fl_buf_release(&json);
	fl_driver_release(&f->drv);
	return fl_driver_open(&f->drv, &conf, err);
}

static void open_ok(struct fixture *f, const struct fl_test_server *s, const char *node_json)
{
	struct fl_error err = FL_ERROR_INIT;
	assert_ok(open_http(f, s, node_json, &err), &err);
	assert_string_equal(f->drv.ops->type, "http");
}

static const char *const REGIONS[] = { "us-east-1", "eu-west-1" };

static struct fl_tenant tenant_of(const char *name, const char *account)
{
	struct fl_tenant t;
	memset(&t, 0, sizeof(t));
	t.name = name;
	t.account = account;
	t.regions = (const char **)REGIONS;
	t.nregions = N_ELEMS(REGIONS);
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

static void assert_marker_equal(const struct fl_marker *a, const struct fl_marker *b)
{
	assert_string_equal(a->revision, b->revision);
	assert_true(fl_fp_equal(&a->tenant_fp, &b->tenant_fp));
	assert_true(fl_fp_equal(&a->inputs_fp, &b->inputs_fp));
	assert_int_equal(a->resources, b->resources);
}

/* Every observed resource has the spec and fingerprint of the put, in order. */
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

/* Bootstraps t's account through the driver. */
static void bootstrap(struct fixture *f, const struct fl_tenant *t)
{
	struct fl_error err = FL_ERROR_INIT;
	assert_ok(f->drv.ops->bootstrap(f->drv.self, t, &err), &err);
}

/* Applies puts (and a marker of REV_A) to region us-east-1 of t; returns the driver's code. */
static int apply_puts(struct fixture *f, const struct fl_tenant *t, const struct fl_put_res *puts, size_t n,
		      struct fl_error *err)
{
	struct fl_marker m = marker_of(REV_A, n);
	struct fl_region_write w = { "us-east-1", puts, n, NULL, 0, &m, false };
	return f->drv.ops->apply(f->drv.self, t, &w, err);
}

/* ---- the round trip ---- */

static void test_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf account = FL_BUF_INIT, regions = FL_BUF_INIT;
	struct fl_tenant t = tenant_of("acme", "111111111111");
	struct fl_marker m1 = marker_of(REV_A, 3), m2 = marker_of(REV_B, 1), got;
	bool found = true;
	open_ok(f, &tls_srv, NULL);

	/* No account yet: identity reports none, observe, marker and regions nothing. */
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_false(found);
	assert_ok(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), &err);
	assert_false(f->obs.exists);
	assert_int_equal(f->obs.len, 0);
	assert_ok(f->drv.ops->marker(f->drv.self, &t, "us-east-1", &got, &found, &err), &err);
	assert_false(found);
	assert_ok(f->drv.ops->regions(f->drv.self, &t, collect_region, &regions, &err), &err);
	assert_string_equal(regions.ptr, "");

	bootstrap(f, &t);
	bootstrap(f, &t); /* again: nothing to do */
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
	assert_ok(f->drv.ops->marker(f->drv.self, &t, "us-east-1", &got, &found, &err), &err);
	assert_true(found);
	assert_marker_equal(&got, &m1);
	fl_buf_clear(&regions);
	assert_ok(f->drv.ops->regions(f->drv.self, &t, collect_region, &regions, &err), &err);
	assert_string_equal(regions.ptr, "eu-west-1 us-east-1 ");

	/* The server keeps, as each resource's ETag, the fingerprint flotilla computed. */
	char *dump = control(&tls_srv, "GET", "/_state", NULL);
	for (size_t i = 0; i < N_ELEMS(puts); i++) {
		char hex[FL_FP_HEX_LEN + 1], want[64];
		fl_fp_hex(hex, &puts[i].fp);
		snprintf(want, sizeof(want), "\"etag\":\"%s\"", hex);
		if (!strstr(dump, want))
			fail_msg("no %s in %s", want, dump);
	}
	free(dump);

	/* An update that names the fingerprint it expects. */
	struct fl_put_res upd[] = { put_of("service", "api",
					   "{\"image\":\"registry.example/api:2\",\"replicas\":3}") };
	upd[0].if_match = &puts[2].fp;
	struct fl_region_write wu = { "us-east-1", upd, 1, NULL, 0, &m1, false };
	assert_ok(f->drv.ops->apply(f->drv.self, &t, &wu, &err), &err);
	assert_ok(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), &err);
	assert_true(fl_fp_equal(&f->obs.items[2].fp, &upd[0].fp));

	/* Deletes, in reverse release order; deleting what is gone is fine. */
	struct fl_res_key del[] = { { "service", "api" }, { "bucket", "uploads" }, { "bucket", "gone" } };
	struct fl_region_write wd = { "us-east-1", NULL, 0, del, N_ELEMS(del), &m2, false };
	assert_ok(f->drv.ops->apply(f->drv.self, &t, &wd, &err), &err);
	assert_ok(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), &err);
	assert_holds(&f->obs, puts, 1);
	assert_marker_equal(&f->obs.marker, &m2);

	/* Every operation is one request, and one write one request each (puts, deletes, marker). */
	long before = requests_seen(&tls_srv);
	assert_ok(f->drv.ops->marker(f->drv.self, &t, "us-east-1", &got, &found, &err), &err);
	assert_int_equal(requests_seen(&tls_srv), before + 1);

	/* The creates again: vpc is there already with that spec (412, then done), the others anew. */
	assert_ok(f->drv.ops->apply(f->drv.self, &t, &w, &err), &err);
	assert_ok(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), &err);
	assert_int_equal(f->obs.len, 3);

	fl_buf_release(&account);
	fl_buf_release(&regions);
}

/* A put whose resource another writer changed: 412, observed again, then done or failed. */
static void test_precondition_failed(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_tenant t = tenant_of("acme", "111111111111");
	open_ok(f, &tls_srv, NULL);
	bootstrap(f, &t);
	struct fl_put_res v1[] = { put_of("service", "api", "{\"replicas\":1}") };
	assert_ok(apply_puts(f, &t, v1, 1, &err), &err);

	/* Someone else writes replicas 5 after flotilla observed 1: flotilla's update is refused. */
	struct fl_put_res hand[] = { put_of("service", "api", "{\"replicas\":5}") };
	hand[0].if_match = &v1[0].fp;
	assert_ok(apply_puts(f, &t, hand, 1, &err), &err);
	struct fl_put_res v2[] = { put_of("service", "api", "{\"replicas\":2}") };
	v2[0].if_match = &v1[0].fp;
	assert_int_equal(apply_puts(f, &t, v2, 1, &err), FL_EDRIVER);
	assert_string_equal(err.msg,
			    "http driver: apply of tenant 'acme' in region 'us-east-1': resource "
			    "service/api changed during the apply (HTTP 412 Precondition Failed); the "
			    "next apply plans again");
	assert_ok(f->drv.ops->marker(f->drv.self, &t, "us-east-1", &(struct fl_marker){ 0 }, &(bool){ 0 },
				     &err),
		  &err);

	/* ... but when the account already holds what flotilla wanted, the put is done. */
	struct fl_put_res same[] = { put_of("service", "api", "{\"replicas\":2}") };
	same[0].if_match = &hand[0].fp;
	assert_ok(apply_puts(f, &t, same, 1, &err), &err);
	assert_ok(apply_puts(f, &t, v2, 1, &err), &err); /* stale if_match, desired spec: fine */

	/* A create of something that appeared meanwhile, with another spec: refused. */
	struct fl_put_res other[] = { put_of("service", "api", "{\"replicas\":9}") };
	assert_int_equal(apply_puts(f, &t, other, 1, &err), FL_EDRIVER);
	assert_non_null(strstr(err.msg, "412 Precondition Failed"));

	/* Nothing after a failed put is written, the marker least of all. */
	control_do(&tls_srv, "POST", "/_reset", "{}");
	bootstrap(f, &t);
	struct fl_put_res two[] = { put_of("a", "first", "1"), put_of("b", "second", "2") };
	two[0].if_match = &v1[0].fp; /* an update of something absent */
	assert_int_equal(apply_puts(f, &t, two, 2, &err), FL_EDRIVER);
	assert_ok(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), &err);
	assert_false(f->obs.exists);
}

/* ---- tokens and TLS ---- */

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void test_tokens(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf account = FL_BUF_INIT;
	struct fl_tenant acme = tenant_of("acme", "111111111111"), beta = tenant_of("beta", "222222222222");
	bool found = false;
	char node[512], path[256];
	control_do(&tls_srv, "POST", "/_tokens",
		   "{\"111111111111\": \"acme-secret\", \"*\": \"fleet-secret\"}");

	/* Without a token: 401, a driver error that says so. */
	open_ok(f, &tls_srv, NULL);
	assert_int_equal(f->drv.ops->identity(f->drv.self, &acme, &account, &found, &err), FL_EDRIVER);
	assert_non_null(strstr(err.msg, "http driver: identity of tenant 'acme': GET https://127.0.0.1:"));
	assert_non_null(strstr(err.msg,
			       "/v1/accounts/111111111111/identity answered HTTP 401 (the account API "
			       "refused the token): missing or wrong bearer token"));

	/* token_file, per tenant, trimmed. */
	snprintf(path, sizeof(path), "%s/acme.token", certs.dir);
	write_file(path, "  acme-secret\n");
	snprintf(path, sizeof(path), "%s/beta.token", certs.dir);
	write_file(path, "fleet-secret\n");
	snprintf(node, sizeof(node), "{\"token_file\": \"%s/{{tenant.name}}.token\"}", certs.dir);
	open_ok(f, &tls_srv, node);
	assert_ok(f->drv.ops->identity(f->drv.self, &acme, &account, &found, &err), &err);
	assert_ok(f->drv.ops->identity(f->drv.self, &beta, &account, &found, &err), &err);
	struct fl_tenant nofile = tenant_of("gamma", "333333333333");
	assert_int_equal(f->drv.ops->identity(f->drv.self, &nofile, &account, &found, &err), FL_EDRIVER);
	assert_non_null(strstr(err.msg, "cannot read token file"));
	assert_non_null(strstr(err.msg, "gamma.token"));

	/* token_env, a template kept literal; a wrong token is refused. */
	setenv("FL_TEST_TOKEN_acme", "acme-secret", 1);
	setenv("FL_TEST_TOKEN_beta", "xyzzy", 1);
	open_ok(f, &tls_srv, "{\"token_env\": \"FL_TEST_TOKEN_{{tenant.name}}\"}");
	assert_ok(f->drv.ops->identity(f->drv.self, &acme, &account, &found, &err), &err);
	assert_int_equal(f->drv.ops->identity(f->drv.self, &beta, &account, &found, &err), FL_EDRIVER);
	assert_non_null(strstr(err.msg, "HTTP 401"));
	assert_null(strstr(err.msg, "xyzzy")); /* never the token itself */
	assert_int_equal(f->drv.ops->identity(f->drv.self, &nofile, &account, &found, &err), FL_EDRIVER);
	assert_string_equal(err.msg, "http driver: identity of tenant 'gamma': environment variable "
				     "'FL_TEST_TOKEN_gamma' (token_env) is not set");
	unsetenv("FL_TEST_TOKEN_acme");
	unsetenv("FL_TEST_TOKEN_beta");
	fl_buf_release(&account);
}

static void test_tls(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf account = FL_BUF_INIT;
	struct fl_tenant t = tenant_of("acme", "111111111111");
	bool found = false;
	char node[512];

	/* Verified by default: without the CA, the system's CAs do not know the server. */
	snprintf(node, sizeof(node),
		 "{\"endpoint\": \"https://127.0.0.1:%d/v1/accounts/{{tenant.account}}\"}", tls_srv.port);
	open_ok(f, NULL, node);
	assert_int_equal(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), FL_EIO);
	assert_non_null(strstr(err.msg, "http driver: identity of tenant 'acme': GET https://127.0.0.1:"));

	/* A server that wants a client certificate: refused without, fine with one. */
	open_ok(f, &mtls_srv, NULL);
	assert_int_not_equal(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), 0);
	snprintf(node, sizeof(node), "{\"cert_file\": \"%s\", \"key_file\": \"%s\"}", certs.client_pem, certs.client_key);
	open_ok(f, &mtls_srv, node);
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_false(found);
	bootstrap(f, &t);
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_true(found);
	fl_buf_release(&account);
}

/* ---- retries ---- */

static void test_retries(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf account = FL_BUF_INIT;
	struct fl_tenant t = tenant_of("acme", "111111111111");
	bool found = false;
	open_ok(f, &tls_srv, NULL);
	bootstrap(f, &t);

	/* A 500, then the answer. */
	long before = requests_seen(&tls_srv);
	control_do(&tls_srv, "POST", "/_faults", "{\"status\": 500, \"count\": 1}");
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_true(found);
	assert_int_equal(requests_seen(&tls_srv), before + 2);

	/* A 429 with Retry-After: 1 is waited out. */
	control_do(&tls_srv, "POST", "/_faults", "{\"status\": 429, \"count\": 1, \"retry_after\": 1}");
	long long t0 = now_ms();
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_true(now_ms() - t0 >= 950);

	/* A connection closed without an answer, in the middle of an apply: the put is tried again. */
	control_do(&tls_srv, "POST", "/_faults",
		   "{\"status\": \"reset\", \"count\": 2, \"method\": \"PUT\"}");
	struct fl_put_res puts[] = { put_of("service", "api", "{\"replicas\":1}"),
				     put_of("job", "j", "[1]") };
	assert_ok(apply_puts(f, &t, puts, 2, &err), &err);
	assert_ok(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), &err);
	assert_holds(&f->obs, puts, 2);
	assert_true(f->obs.has_marker);

	/* Past every try: the last answer, in the error. */
	control_do(&tls_srv, "POST", "/_faults", "{\"status\": 503, \"count\": 10}");
	assert_int_equal(f->drv.ops->observe(f->drv.self, &t, "us-east-1", &f->obs, &err), FL_EDRIVER);
	assert_non_null(
		strstr(err.msg, "/regions/us-east-1 answered HTTP 503 after 5 tries: injected fault"));
	assert_false(f->obs.exists);
	control_do(&tls_srv, "DELETE", "/_faults", NULL);
	fl_buf_release(&account);
}

/* ---- identity ---- */

static void test_identity_mismatch(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf account = FL_BUF_INIT;
	bool found = false;
	/* The endpoint names the account by tenant: another tenant's identity lives there. */
	char node[256];
	snprintf(node, sizeof(node),
		 "{\"endpoint\": \"https://127.0.0.1:%d/v1/accounts/{{tenant.name}}\", \"ca_file\": \"%s\"}",
		 tls_srv.port, certs.ca_pem);
	open_ok(f, NULL, node);

	struct fl_tenant first = tenant_of("acme", "111111111111"), copy = tenant_of("acme", "999999999999");
	bootstrap(f, &first);
	assert_ok(f->drv.ops->identity(f->drv.self, &copy, &account, &found, &err), &err);
	assert_true(found);
	assert_string_equal(account.ptr, "111111111111"); /* the engine compares and refuses */
	assert_int_equal(f->drv.ops->bootstrap(f->drv.self, &copy, &err), FL_EIDENTITY);
	assert_string_equal(err.msg,
			    "http driver: bootstrap of tenant 'acme': the account exists with another "
			    "identity: account reports id '111111111111', not '999999999999'");
	fl_buf_release(&account);
}

/* ---- latency and threads ---- */

struct worker {
	struct fixture *f;
	char name[16], account[16];
	int rc;
	struct fl_error err;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct fl_tenant t = tenant_of(w->name, w->account);
	struct fl_buf account = FL_BUF_INIT;
	bool found = false;
	struct fl_put_res puts[] = { put_of("service", "api", "{\"replicas\":1}") };
	struct fl_marker m = marker_of(REV_A, 1);
	struct fl_region_write wr = { "us-east-1", puts, 1, NULL, 0, &m, false };
	const struct fl_driver *d = &w->f->drv;
	w->rc = d->ops->bootstrap(d->self, &t, &w->err);
	if (!w->rc)
		w->rc = d->ops->apply(d->self, &t, &wr, &w->err);
	if (!w->rc)
		w->rc = d->ops->identity(d->self, &t, &account, &found, &w->err);
	if (!w->rc && (!found || strcmp(account.ptr, w->account) != 0))
		w->rc = -100;
	fl_buf_release(&account);
	return NULL;
}

static void test_latency_threads(void **state)
{
	struct fixture *f = *state;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf account = FL_BUF_INIT;
	struct fl_tenant t = tenant_of("acme", "111111111111");
	bool found = false;
	open_ok(f, &slow_srv, NULL);

	long long t0 = now_ms();
	assert_ok(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), &err);
	assert_true(now_ms() - t0 >= LATENCY_MS);

	/* Eight tenants at once, four requests each: they wait side by side, not in turn. */
	struct worker ws[NTHREADS];
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		memset(&ws[i], 0, sizeof(ws[i]));
		ws[i].f = f;
		snprintf(ws[i].name, sizeof(ws[i].name), "t%d", i);
		snprintf(ws[i].account, sizeof(ws[i].account), "90000000000%d", i);
		assert_int_equal(pthread_create(&th[i], NULL, work, &ws[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		if (ws[i].rc)
			fail_msg("worker %d: %d: %s", i, ws[i].rc, ws[i].err.msg);
	}
	/* Side by side, not in turn: the server saw requests wait out the
	 * latency together. Counted by the server, so a loaded machine cannot
	 * fail it; a driver that serialised its requests would show 1. */
	long peak = state_number(&slow_srv, "peak_in_flight");
	if (peak < 2)
		fail_msg("8 threads x 4 requests never overlapped (peak in flight %ld)", peak);
	assert_int_equal(requests_seen(&slow_srv), 1 + 4 * NTHREADS);
	fl_buf_release(&account);
}

/* ---- opening ---- */

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *name, *node, *want;
	} cases[] = {
		{ "no endpoint", "{}", "driver 'http' needs an endpoint" },
		{ "not http", "{\"endpoint\": \"ftp://x/{{tenant.account}}\"}",
		  "driver 'http' endpoint 'ftp://x/{{tenant.account}}' is not an http:// or https:// URL" },
		{ "query", "{\"endpoint\": \"https://x/a?b=1\"}",
		  "driver 'http' endpoint 'https://x/a?b=1' may not have a query or a fragment" },
		{ "unknown variable", "{\"endpoint\": \"https://x/{{region}}\"}",
		  "unknown template variable 'region' in driver endpoint (expected tenant.name or "
		  "tenant.account)" },
		{ "open braces", "{\"endpoint\": \"https://x/{{tenant.name\"}",
		  "unterminated '{{' in driver endpoint 'https://x/{{tenant.name'" },
		{ "token in the clear", "{\"endpoint\": \"http://deploy.example/a\", \"token_env\": \"T\"}",
		  "driver 'http' will not send a token over plain http to 'http://deploy.example/a' (use "
		  "https)" },
		{ "both tokens",
		  "{\"endpoint\": \"https://x/a\", \"token_env\": \"T\", \"token_file\": \"/t\"}",
		  "driver 'http' takes token_file or token_env, not both" },
		{ "bad token template", "{\"endpoint\": \"https://x/a\", \"token_file\": \"/t/{{vars.x}}\"}",
		  "unknown template variable 'vars.x' in driver token_file (expected tenant.name or "
		  "tenant.account)" },
		{ "key without cert", "{\"endpoint\": \"https://x/a\", \"key_file\": \"k.pem\"}",
		  "driver 'http' has a key_file but no cert_file" },
		{ "bad timeout", "{\"endpoint\": \"https://x/a\", \"timeout\": \"5 minutes\"}",
		  "invalid driver timeout (expected seconds or a duration like 30s or 2m, at most 1d)" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_error err = FL_ERROR_INIT;
		int rc = open_http(f, NULL, cases[i].node, &err);
		if (rc != FL_EINPUT || strcmp(err.msg, cases[i].want) != 0)
			fail_msg("case '%s': got %d '%s', want '%s'", cases[i].name, rc, err.msg,
				 cases[i].want);
		assert_null(f->drv.ops);
	}

	/* Plain http to loopback, token and all, and a timeout: fine. */
	struct fl_error err = FL_ERROR_INIT;
	assert_ok(open_http(f, NULL,
			    "{\"endpoint\": \"http://127.0.0.1:1/v1/accounts/{{tenant.account}}/\", "
			    "\"token_env\": "
			    "\"T\", \"timeout\": \"2m\"}",
			    &err),
		  &err);
	/* --driver http:URL */
	struct fl_driver_conf conf;
	assert_ok(
		fl_driver_conf_parse(&conf, &f->arena, "http:https://x/v1/accounts/{{tenant.account}}", &err),
		&err);
	fl_driver_release(&f->drv);
	assert_ok(fl_driver_open(&f->drv, &conf, &err), &err);
	assert_string_equal(f->drv.ops->type, "http");

	/* A tenant whose account cannot go into a URL never reaches the network. */
	struct fl_tenant bad = tenant_of("acme", "../etc");
	struct fl_buf account = FL_BUF_INIT;
	bool found = false;
	assert_int_equal(f->drv.ops->identity(f->drv.self, &bad, &account, &found, &err), FL_EINPUT);
	assert_string_equal(err.msg,
			    "http driver: identity of tenant 'acme': account '../etc' cannot go into the "
			    "driver endpoint");
	fl_buf_release(&account);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_precondition_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_latency_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
