/*
 * Tests for core/aws_org.c: the service's input rules as tables of cases
 * (each row named), what failure reasons say, and every call against the
 * AWS stand-in (tests/servers/aws_standin.py) on loopback: an account
 * created and waited for, a taken email, the root, a move, a close and a
 * second close, with no secret in any message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/aws_call.h"
#include "core/aws_creds.h"
#include "core/aws_org.h"
#include "core/error.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define SECRET "standin-base-secret"

struct valid_case {
	const char *name;
	bool (*check)(const char *);
	const char *value;
	bool valid;
};

static const struct valid_case valid_cases[] = {
	{ "plain email", fl_org_email_valid, "ops+acme@example.com", true },
	{ "shortest email", fl_org_email_valid, "a@b.co", true },
	{ "email too short", fl_org_email_valid, "a@b.c", false },
	{ "email of 64", fl_org_email_valid,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.c", true },
	{ "email of 65", fl_org_email_valid,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.c", false },
	{ "email without at", fl_org_email_valid, "acme.example.com", false },
	{ "email with two ats", fl_org_email_valid, "a@b@example.com", false },
	{ "email without local part", fl_org_email_valid, "@example.com", false },
	{ "email without dot in domain", fl_org_email_valid, "acme@localhost", false },
	{ "email with dot first in domain", fl_org_email_valid, "acme@.example", false },
	{ "email with dot last in domain", fl_org_email_valid, "acme@example.", false },
	{ "email with space", fl_org_email_valid, "ac me@example.com", false },
	{ "email with newline", fl_org_email_valid, "acme@example.com\n", false },
	{ "empty email", fl_org_email_valid, "", false },
	{ "account name", fl_org_account_name_valid, "Acme Health (prod)", true },
	{ "account name of 50", fl_org_account_name_valid,
	  "12345678901234567890123456789012345678901234567890", true },
	{ "account name of 51", fl_org_account_name_valid,
	  "123456789012345678901234567890123456789012345678901", false },
	{ "empty account name", fl_org_account_name_valid, "", false },
	{ "account name with tab", fl_org_account_name_valid, "a\tb", false },
	{ "account name not ASCII", fl_org_account_name_valid, "Acm\xc3\xa9", false },
	{ "ou", fl_org_ou_valid, "ou-ab12-cd34ef56", true },
	{ "ou of longest parts", fl_org_ou_valid,
	  "ou-abcdefghijklmnopqrstuvwxyz012345-abcdefghijklmnopqrstuvwxyz012345", true },
	{ "ou with short root part", fl_org_ou_valid, "ou-ab1-cd34ef56", false },
	{ "ou with short second part", fl_org_ou_valid, "ou-ab12-cd34ef5", false },
	{ "ou with capitals", fl_org_ou_valid, "ou-AB12-cd34ef56", false },
	{ "ou with three parts", fl_org_ou_valid, "ou-ab12-cd34ef56-x", false },
	{ "root is no ou", fl_org_ou_valid, "r-ab12", false },
	{ "account id", fl_org_account_id_valid, "012345678901", true },
	{ "account id of 11", fl_org_account_id_valid, "01234567890", false },
	{ "account id of 13", fl_org_account_id_valid, "0123456789012", false },
	{ "account id with letter", fl_org_account_id_valid, "01234567890a", false },
	{ "placeholder is no account id", fl_org_account_id_valid, "pending", false },
};

static void test_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(valid_cases); i++) {
		const struct valid_case *c = &valid_cases[i];
		if (c->check(c->value) != c->valid)
			fail_msg("%s: '%s' should be %s", c->name, c->value, c->valid ? "valid" : "invalid");
	}
}

static void test_failure_text(void **state)
{
	(void)state;
	assert_non_null(strstr(fl_org_failure_text("EMAIL_ALREADY_EXISTS"), "exists already"));
	assert_non_null(strstr(fl_org_failure_text("ACCOUNT_LIMIT_EXCEEDED"), "quota"));
	assert_string_equal(fl_org_failure_text("SOMETHING_NEW"),
			    "see the AWS Organizations documentation of CreateAccountStatus");
}

/* ---- against the stand-in ---- */

static struct fl_test_server standin;
static char endpoint[64];

static const char *lookup(const char *name, void *payload)
{
	(void)payload;
	if (strcmp(name, "AWS_ACCESS_KEY_ID") == 0)
		return "AKIDSTANDINBASE";
	if (strcmp(name, "AWS_SECRET_ACCESS_KEY") == 0)
		return SECRET;
	if (strcmp(name, "AWS_ENDPOINT_URL_ORGANIZATIONS") == 0)
		return endpoint;
	if (strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0)
		return "true";
	return NULL;
}

static const struct fl_aws_env env = { lookup, NULL };

struct org_fixture {
	struct fl_aws_endpoint ep;
	struct fl_aws_creds_provider *creds;
	struct fl_org org;
};

static int setup(void **state)
{
	static struct org_fixture f;
	char script[512];
	struct fl_error err = FL_ERROR_INIT;
	fl_test_server_script(script, sizeof(script), "aws_standin.py");
	if (fl_test_server_start(&standin, script, NULL) != 0)
		return -1;
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", standin.port);
	if (fl_aws_endpoint_resolve(&f.ep, &env, FL_AWS_ORGANIZATIONS, "us-east-1", &err))
		return -1;
	f.creds = fl_aws_creds_provider_new(&env);
	f.org = (struct fl_org){ .ep = &f.ep, .creds = f.creds };
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct org_fixture *f = *state;
	fl_aws_creds_provider_free(f->creds);
	fl_test_server_stop(&standin);
	return 0;
}

static void no_secret(const struct fl_error *err)
{
	if (strstr(err->msg, SECRET))
		fail_msg("a secret in '%s'", err->msg);
}

static void test_create_move_close(void **state)
{
	const struct fl_org *org = &((struct org_fixture *)*state)->org;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_org_create st;
	bool closed_already = true;
	char root[64], msg[256];

	assert_int_equal(fl_org_create_account(&st, org, "acme@example.com", "Acme", &err), 0);
	assert_string_equal(st.state, "IN_PROGRESS");
	assert_memory_equal(st.id, "car-", 4);
	assert_int_equal(fl_org_create_wait(&st, org, &err), 0);
	assert_string_equal(st.state, "SUCCEEDED");
	assert_true(fl_org_account_id_valid(st.account_id));

	assert_int_equal(fl_org_root(root, sizeof(root), org, &err), 0);
	assert_string_equal(root, "r-st4n");
	assert_int_equal(fl_org_move_account(org, st.account_id, root, "ou-st4n-aaaaaaaa", &err), 0);
	/* It is no longer under the root. */
	assert_int_equal(fl_org_move_account(org, st.account_id, root, "ou-st4n-bbbbbbbb", &err),
			 FL_EREFUSED);
	assert_non_null(strstr(err.msg, "Organizations MoveAccount: 400 AccountNotFoundException"));
	no_secret(&err);

	assert_int_equal(fl_org_close_account(&closed_already, org, st.account_id, &err), 0);
	assert_false(closed_already);
	assert_int_equal(fl_org_close_account(&closed_already, org, st.account_id, &err), FL_EREFUSED);
	assert_true(closed_already);
	assert_non_null(strstr(err.msg, "AccountAlreadyClosedException"));
	no_secret(&err);
	assert_int_equal(fl_org_close_account(&closed_already, org, "999999999999", &err), FL_EREFUSED);
	assert_false(closed_already);
	snprintf(msg, sizeof(msg), "Organizations CloseAccount: 400 AccountNotFoundException");
	assert_non_null(strstr(err.msg, msg));
}

static void test_email_taken(void **state)
{
	const struct fl_org *org = &((struct org_fixture *)*state)->org;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_org_create st;

	assert_int_equal(fl_org_create_account(&st, org, "taken@example.com", "First", &err), 0);
	assert_int_equal(fl_org_create_wait(&st, org, &err), 0);
	assert_int_equal(fl_org_create_account(&st, org, "taken@example.com", "Second", &err), 0);
	assert_int_equal(fl_org_create_wait(&st, org, &err), FL_EREFUSED);
	assert_string_equal(st.state, "FAILED");
	assert_string_equal(st.failure_reason, "EMAIL_ALREADY_EXISTS");
	assert_memory_equal(err.msg, "EMAIL_ALREADY_EXISTS: an AWS account with this email exists already",
			    strlen("EMAIL_ALREADY_EXISTS: an AWS account with this email exists already"));
	no_secret(&err);
}

static void test_refused_input(void **state)
{
	const struct fl_org *org = &((struct org_fixture *)*state)->org;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_org_create st;

	/* What fl_org_email_valid refuses, the service refuses too. */
	assert_int_equal(fl_org_create_account(&st, org, "acme@localhost", "Acme", &err), FL_EREFUSED);
	assert_non_null(strstr(err.msg, "InvalidInputException"));
	no_secret(&err);
}

int main(void)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_failure_text),
	};
	const struct CMUnitTest standin_tests[] = {
		cmocka_unit_test(test_create_move_close),
		cmocka_unit_test(test_email_taken),
		cmocka_unit_test(test_refused_input),
	};
	int failed = cmocka_run_group_tests_name("offline", offline, NULL, NULL);
	return failed + cmocka_run_group_tests_name("stand-in", standin_tests, setup, teardown);
}
