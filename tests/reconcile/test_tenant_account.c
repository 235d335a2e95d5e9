/*
 * Tests for reconcile/fleet/tenant_account.c: the placeholder, and the
 * account rewritten in tenant files written every way YAML allows (plain,
 * quoted, flow, comments, CRLF, characters before it on its line), each
 * row with the exact text expected; files it must not touch are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "reconcile/fleet/tenant_account.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define ID "123456789012"

static void test_pending(void **state)
{
	(void)state;
	assert_true(fl_tenant_account_pending("pending"));
	assert_true(fl_tenant_account_pending("pending-acme"));
	assert_false(fl_tenant_account_pending("pending-"));
	assert_false(fl_tenant_account_pending("Pending"));
	assert_false(fl_tenant_account_pending("000000000000"));
	assert_false(fl_tenant_account_pending(ID));
	assert_false(fl_tenant_account_pending(""));
}

struct set_case {
	const char *name;
	const char *in;
	const char *out; /* NULL: refused with msg */
	const char *msg;
};

static const struct set_case set_cases[] = {
	{ "plain", "name: acme\naccount: pending\nregions: [us-east-1]\n",
	  "name: acme\naccount: \"" ID "\"\nregions: [us-east-1]\n", NULL },
	{ "comment kept", "# Acme\nname: acme\naccount: pending   # filled in later\nregions: [us-east-1]\n",
	  "# Acme\nname: acme\naccount: \"" ID "\"   # filled in later\nregions: [us-east-1]\n", NULL },
	{ "double-quoted", "name: acme\naccount: \"pending\"\nregions: [a]\n",
	  "name: acme\naccount: \"" ID "\"\nregions: [a]\n", NULL },
	{ "single-quoted", "name: acme\naccount: 'pending-acme'\nregions: [a]\n",
	  "name: acme\naccount: \"" ID "\"\nregions: [a]\n", NULL },
	{ "last line without newline", "name: acme\nregions: [a]\naccount: pending",
	  "name: acme\nregions: [a]\naccount: \"" ID "\"", NULL },
	{ "flow mapping", "{ name: acme, account: pending, regions: [a] }\n",
	  "{ name: acme, account: \"" ID "\", regions: [a] }\n", NULL },
	{ "flow mapping, account last", "{name: acme, regions: [a], account: pending}\n",
	  "{name: acme, regions: [a], account: \"" ID "\"}\n", NULL },
	{ "characters before it on its line",
	  "{ vars: { t: \"\xc3\xa9\xc3\xa9\xc3\xa9\" }, account: pending }\n",
	  "{ vars: { t: \"\xc3\xa9\xc3\xa9\xc3\xa9\" }, account: \"" ID "\" }\n", NULL },
	{ "CRLF", "name: acme\r\naccount: pending\r\nregions: [a]\r\n",
	  "name: acme\r\naccount: \"" ID "\"\r\nregions: [a]\r\n", NULL },
	{ "old CR", "name: acme\raccount: pending\rregions: [a]\r",
	  "name: acme\raccount: \"" ID "\"\rregions: [a]\r", NULL },
	{ "value on the next line", "name: acme\naccount:\n  pending\nregions: [a]\n",
	  "name: acme\naccount:\n  \"" ID "\"\nregions: [a]\n", NULL },
	{ "a nested account is not the tenant's", "labels: { account: x }\nname: acme\naccount: pending\n",
	  "labels: { account: x }\nname: acme\naccount: \"" ID "\"\n", NULL },
	{ "a real id is replaced too", "account: \"000000000001\"\n", "account: \"" ID "\"\n", NULL },
	{ "no account", "name: acme\nregions: [a]\n", NULL, "'tenants/acme.yaml' has no account" },
	{ "account not a string", "name: acme\naccount: [a]\n", NULL,
	  "account is a list, expected a string" },
	{ "not a mapping", "- account\n", NULL, "'tenants/acme.yaml' has no account" },
	{ "a plain scalar of two words", "name: acme\naccount: pending acme\n", NULL,
	  "cannot rewrite the account of 'tenants/acme.yaml' in place: write \"" ID "\" there by hand" },
	{ "not YAML", "name: [acme\n", NULL, NULL },
};

static void test_set(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(set_cases); i++) {
		const struct set_case *c = &set_cases[i];
		struct fl_buf out = FL_BUF_INIT;
		struct fl_error err = FL_ERROR_INIT;
		struct fl_source src = { "tenants/acme.yaml", c->in, strlen(c->in) };
		int rc = fl_tenant_account_set(&out, &src, ID, &err);
		if (c->out && (rc != 0 || strcmp(out.ptr, c->out) != 0))
			fail_msg("%s: rc %d (%s), got:\n%s", c->name, rc, err.msg, out.ptr);
		if (!c->out && (rc != FL_EINPUT || out.len != 0))
			fail_msg("%s: rc %d, expected FL_EINPUT and nothing written", c->name, rc);
		if (!c->out && c->msg && strcmp(err.msg, c->msg) != 0)
			fail_msg("%s: message '%s', expected '%s'", c->name, err.msg, c->msg);
		fl_buf_release(&out);
	}
}

static void test_read(void **state)
{
	struct fl_buf account = FL_BUF_INIT, st = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	static const char with_state[] = "name: acme\naccount: \"" ID "\"\nstate: decommissioned\n";
	static const char without[] = "name: acme\naccount: pending\n";
	struct fl_source a = { "tenants/acme.yaml", with_state, sizeof(with_state) - 1 };
	struct fl_source b = { "tenants/acme.yaml", without, sizeof(without) - 1 };

	(void)state;
	assert_int_equal(fl_tenant_account_read(&account, &st, &a, &err), 0);
	assert_string_equal(account.ptr, ID);
	assert_string_equal(st.ptr, "decommissioned");
	fl_buf_clear(&account);
	fl_buf_clear(&st);
	assert_int_equal(fl_tenant_account_read(&account, &st, &b, &err), 0);
	assert_string_equal(account.ptr, "pending");
	assert_string_equal(st.ptr, "active");
	fl_buf_clear(&account);
	assert_int_equal(fl_tenant_account_read(&account, NULL, &b, &err), 0);
	assert_string_equal(account.ptr, "pending");
	fl_buf_release(&account);
	fl_buf_release(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
