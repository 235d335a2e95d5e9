/*
 * Tests for core/aws_call.c without a network: where each service is
 * reached (the service's variable over AWS_ENDPOINT_URL over the public
 * regional endpoint; Organizations global), the Host header that is signed,
 * what is refused (plain http to a remote host, a bad region, a URL with a
 * query), the throttling codes, and the Query protocol's form encoding.
 * Calls themselves are tested against the AWS stand-in (e2e/aws_driver.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/aws_call.h"
#include "core/aws_cloudcontrol.h"
#include "core/banned.h"

/* name=value pairs, NULL-terminated. */
static const char *lookup(const char *name, void *payload)
{
	const char *const *kv = payload;
	size_t n = strlen(name);
	for (; *kv; kv++)
		if (strncmp(*kv, name, n) == 0 && (*kv)[n] == '=')
			return *kv + n + 1;
	return NULL;
}

static void test_endpoints(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const general[] = { "AWS_ENDPOINT_URL=http://127.0.0.1:4566", NULL };
	static const char *const specific[] = { "AWS_ENDPOINT_URL=http://127.0.0.1:4566",
						"AWS_ENDPOINT_URL_CLOUDCONTROL=https://CC.example:443/base", NULL };
	static const char *const remote[] = { "AWS_ENDPOINT_URL_STS=http://sts.example.com", NULL };
	static const char *const query[] = { "AWS_ENDPOINT_URL=https://x.example/?a=b", NULL };
	static const struct {
		const char *const *vars;
		enum fl_aws_service svc;
		const char *region;
		int rc;
		const char *url, *host, *path, *signing_region;
	} cases[] = {
		{ none, FL_AWS_STS, "eu-west-1", 0, "https://sts.eu-west-1.amazonaws.com/", "sts.eu-west-1.amazonaws.com",
		  "/", "eu-west-1" },
		{ none, FL_AWS_CLOUDCONTROL, "us-east-2", 0, "https://cloudcontrolapi.us-east-2.amazonaws.com/",
		  "cloudcontrolapi.us-east-2.amazonaws.com", "/", "us-east-2" },
		{ none, FL_AWS_ORGANIZATIONS, "eu-west-1", 0, "https://organizations.us-east-1.amazonaws.com/",
		  "organizations.us-east-1.amazonaws.com", "/", "us-east-1" },
		{ general, FL_AWS_STS, "eu-west-1", 0, "http://127.0.0.1:4566", "127.0.0.1:4566", "/", "eu-west-1" },
		{ specific, FL_AWS_STS, "eu-west-1", 0, "http://127.0.0.1:4566", "127.0.0.1:4566", "/", "eu-west-1" },
		{ specific, FL_AWS_CLOUDCONTROL, "eu-west-1", 0, "https://CC.example:443/base", "cc.example", "/base",
		  "eu-west-1" },
		{ remote, FL_AWS_STS, "eu-west-1", FL_EINPUT, NULL, NULL, NULL, NULL },
		{ query, FL_AWS_STS, "eu-west-1", FL_EINPUT, NULL, NULL, NULL, NULL },
		{ none, FL_AWS_STS, "../x", FL_EINPUT, NULL, NULL, NULL, NULL },
		{ none, FL_AWS_STS, "", FL_EINPUT, NULL, NULL, NULL, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_aws_env env = { lookup, (void *)cases[i].vars };
		struct fl_aws_endpoint ep;
		struct fl_error err = FL_ERROR_INIT;
		int rc = fl_aws_endpoint_resolve(&ep, &env, cases[i].svc, cases[i].region, &err);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, err.msg);
		if (rc)
			continue;
		assert_string_equal(ep.url, cases[i].url);
		assert_string_equal(ep.host, cases[i].host);
		assert_string_equal(ep.path, cases[i].path);
		assert_string_equal(ep.region, cases[i].signing_region);
	}
}

static void test_messages_name_the_variable(void **state)
{
	static const char *const remote[] = { "AWS_ENDPOINT_URL=http://10.0.0.5:4566", NULL };
	struct fl_aws_env env = { lookup, (void *)remote };
	struct fl_aws_endpoint ep;
	struct fl_error err = FL_ERROR_INIT;
	(void)state;
	assert_int_equal(fl_aws_endpoint_resolve(&ep, &env, FL_AWS_CLOUDCONTROL, "us-east-1", &err), FL_EINPUT);
	assert_non_null(strstr(err.msg, "AWS_ENDPOINT_URL uses plain http"));
}

static void test_throttling_codes(void **state)
{
	(void)state;
	assert_true(fl_aws_code_throttling("ThrottlingException"));
	assert_true(fl_aws_code_throttling("Throttling"));
	assert_true(fl_aws_code_throttling("TooManyRequestsException"));
	assert_false(fl_aws_code_throttling("AccessDenied"));
	assert_false(fl_aws_code_throttling("ThrottlingExceptionX"));
	assert_false(fl_aws_code_throttling(""));
}

static void test_form(void **state)
{
	struct fl_buf form = FL_BUF_INIT;
	(void)state;
	fl_aws_form_put(&form, "RoleArn", "arn:aws:iam::123456789012:role/a b");
	fl_aws_form_put(&form, "X", "~._-+=/&");
	assert_string_equal(form.ptr, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fa%20b&X=~._-%2B%3D%2F%26");
	fl_buf_release(&form);
}

static void test_client_tokens(void **state)
{
	const char *a[] = { "rev", "acme", "us-east-1", "AWS::SQS::Queue", "jobs", "create", "0" };
	const char *b[] = { "rev", "acme", "us-east-1", "AWS::SQS::Queue", "jobs", "update", "0" };
	const char *c[] = { "reva", "cme", "us-east-1", "AWS::SQS::Queue", "jobs", "create", "0" };
	char ta[33], ta2[33], tb[33], tc[33];
	(void)state;
	fl_cc_client_token(ta, a, 7);
	fl_cc_client_token(ta2, a, 7);
	fl_cc_client_token(tb, b, 7);
	fl_cc_client_token(tc, c, 7);
	assert_int_equal(strlen(ta), 32);
	assert_string_equal(ta, ta2);
	assert_string_not_equal(ta, tb);
	/* Parts are joined unambiguously: moving a letter between parts changes the token. */
	assert_string_not_equal(ta, tc);
	for (const char *p = ta; *p; p++)
		assert_non_null(strchr("0123456789abcdef", *p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_messages_name_the_variable),
		cmocka_unit_test(test_throttling_codes),
		cmocka_unit_test(test_form),
		cmocka_unit_test(test_client_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
