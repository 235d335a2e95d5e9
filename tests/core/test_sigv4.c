/*
 * Tests for core/sigv4.c: the published AWS SigV4 test-suite cases (access
 * key AKIDEXAMPLE, region us-east-1, service "service", 20150830T123600Z),
 * the IAM ListUsers and S3 GET Object examples of AWS's documentation, the
 * documented derived signing keys, canonical paths, the headers handed back,
 * and the errors, none of which may show the secret key.
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

#include "core/buf.h"
#include "core/error.h"
#include "core/sigv4.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define SUITE_KEY "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_WHEN 1440938160 /* 2015-08-30T12:36:00Z */
#define SUITE_HOST "example.amazonaws.com"
#define EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SUITE_SCOPE "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
#define STS_TOKEN \
	"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPf" \
	"IeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ" \
	"0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDr" \
	"ypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

/* One signed request; NULL or 0 fields take the test suite's values. */
struct vector {
	const char *name;
	const char *method, *host, *path;
	struct fl_sigv4_param query[3];	  /* up to the first NULL name */
	struct fl_sigv4_param headers[3]; /* up to the first NULL name */
	const char *payload;
	const char *key, *secret, *token;
	const char *region, *service;
	long long when;
	unsigned flags;
	const char *creq; /* the expected canonical request, when published */
	const char *sts;  /* the expected string to sign, when published */
	const char *authorization;
};

/* One case a block, the strings split where the canonical request's lines are. */
/* clang-format off */
static const struct vector vectors[] = {
	{ .name = "get-vanilla", .method = "GET", .path = "/",
	  .creq = "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_HASH,
	  .sts = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
		 "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },
	{ .name = "get-vanilla-query-order-key-case", .method = "GET", .path = "/",
	  .query = { { "Param2", "value2" }, { "Param1", "value1" } },
	  .creq = "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
		  "host;x-amz-date\n" EMPTY_HASH,
	  .sts = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
		 "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },
	{ .name = "get-vanilla-query-order-key", .method = "GET", .path = "/",
	  .query = { { "Param1", "value2" }, { "Param1", "value1" } },
	  .creq = "GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
		  "host;x-amz-date\n" EMPTY_HASH,
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694" },
	{ .name = "get-header-value-trim", .method = "GET", .path = "/",
	  .headers = { { "My-Header1", " value1" }, { "My-Header2", "\"a   b   c\"" } },
	  .creq = "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
		  "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" EMPTY_HASH,
	  .authorization = SUITE_SCOPE "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
			   "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736" },
	{ .name = "get-header-key-duplicate", .method = "GET", .path = "/",
	  .headers = { { "My-Header1", "value2" }, { "My-Header1", "value2" }, { "My-Header1", "value1" } },
	  .creq = "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
		  "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" EMPTY_HASH,
	  .authorization = SUITE_SCOPE "SignedHeaders=host;my-header1;x-amz-date, "
			   "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea" },
	{ .name = "post-x-www-form-urlencoded", .method = "POST", .path = "/",
	  .headers = { { "Content-Type", "application/x-www-form-urlencoded" } },
	  .payload = "Param1=value1",
	  .creq = "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
		  "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
		  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	  .sts = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
		 "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
	  .authorization = SUITE_SCOPE "SignedHeaders=content-type;host;x-amz-date, "
			   "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a" },
	{ .name = "post-x-www-form-urlencoded (x-amz-content-sha256)", .method = "POST", .path = "/",
	  .headers = { { "Content-Type", "application/x-www-form-urlencoded" }, { "Content-Length", "13" } },
	  .payload = "Param1=value1", .flags = FL_SIGV4_CONTENT_SHA256,
	  .authorization = SUITE_SCOPE "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, "
			   "Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b" },
	{ .name = "get-utf8", .method = "GET", .path = "/\xe1\x88\xb4",
	  .creq = "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" EMPTY_HASH,
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85" },
	{ .name = "get-space", .method = "GET", .path = "/example space/",
	  .creq = "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
		  "host;x-amz-date\n" EMPTY_HASH,
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741" },
	{ .name = "get-unreserved", .method = "GET",
	  .path = "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f" },
	{ .name = "get-special-character (double encoding)", .method = "GET", .path = "/example/$delete",
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27" },
	{ .name = "get-slashes", .method = "GET", .path = "//example//",
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84" },
	{ .name = "get-relative-relative", .method = "GET", .path = "/example1/example2/../..",
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },
	{ .name = "get-vanilla-query-unreserved", .method = "GET", .path = "/",
	  .query = { { "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
		       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" } },
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197" },
	{ .name = "get-vanilla-utf8-query", .method = "GET", .path = "/",
	  .query = { { "\xe1\x88\xb4", "bar" } },
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04" },
	{ .name = "post-vanilla-query", .method = "POST", .path = "/",
	  .query = { { "Param1", "value1" } },
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date, "
			   "Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11" },
	{ .name = "get-vanilla-with-session-token", .method = "GET", .path = "/",
	  .token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
	  .creq = "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
		  "x-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\n"
		  "host;x-amz-date;x-amz-security-token\n" EMPTY_HASH,
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date;x-amz-security-token, "
			   "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8" },
	{ .name = "post-sts-header-before", .method = "POST", .path = "/", .token = STS_TOKEN,
	  .authorization = SUITE_SCOPE "SignedHeaders=host;x-amz-date;x-amz-security-token, "
			   "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead" },
	/* AWS's worked example of a signed request (IAM ListUsers). */
	{ .name = "iam-list-users", .method = "GET", .host = "iam.amazonaws.com", .path = "/",
	  .query = { { "Action", "ListUsers" }, { "Version", "2010-05-08" } },
	  .headers = { { "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" } },
	  .service = "iam",
	  .creq = "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
		  "content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\n"
		  "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n" EMPTY_HASH,
	  .sts = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
		 "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
	  .authorization = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
			   "SignedHeaders=content-type;host;x-amz-date, "
			   "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7" },
	/* S3's documented GET Object example: S3's path rules and x-amz-content-sha256. */
	{ .name = "s3-get-object", .method = "GET", .host = "examplebucket.s3.amazonaws.com",
	  .path = "/test.txt", .headers = { { "Range", "bytes=0-9" } },
	  .key = "AKIAIOSFODNN7EXAMPLE", .secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	  .service = "s3", .when = 1369353600, .flags = FL_SIGV4_S3_PATH | FL_SIGV4_CONTENT_SHA256,
	  .creq = "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
		  "x-amz-content-sha256:" EMPTY_HASH "\nx-amz-date:20130524T000000Z\n\n"
		  "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_HASH,
	  .sts = "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		 "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
	  .authorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
			   "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			   "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41" },
};
/* clang-format on */

static size_t count_params(const struct fl_sigv4_param *p, size_t max)
{
	size_t n = 0;
	while (n < max && p[n].name)
		n++;
	return n;
}

/* Signs v into out (released by the caller); returns what fl_sigv4_sign returned. */
static int sign_vector(struct fl_sigv4_signed *out, const struct vector *v, struct fl_error *err)
{
	struct fl_sigv4_request req = {
		.method = v->method,
		.host = v->host ? v->host : SUITE_HOST,
		.path = v->path,
		.query = v->query,
		.query_len = count_params(v->query, N_ELEMS(v->query)),
		.headers = v->headers,
		.headers_len = count_params(v->headers, N_ELEMS(v->headers)),
		.payload = v->payload,
		.payload_len = v->payload ? strlen(v->payload) : 0,
	};
	struct fl_sigv4_credentials cred = {
		.access_key_id = v->key ? v->key : SUITE_KEY,
		.secret_access_key = v->secret ? v->secret : SUITE_SECRET,
		.session_token = v->token,
	};
	struct fl_sigv4_scope scope = {
		.region = v->region ? v->region : "us-east-1",
		.service = v->service ? v->service : "service",
		.when = (time_t)(v->when ? v->when : SUITE_WHEN),
		.flags = v->flags,
	};
	return fl_sigv4_sign(out, &req, &cred, &scope, err);
}

static void check_equal(const char *name, const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		print_error("%s: %s\n--- got:\n%s\n--- want:\n%s\n", name, what, got, want);
		fail();
	}
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(vectors); i++) {
		const struct vector *v = &vectors[i];
		struct fl_sigv4_signed s;
		struct fl_error err = FL_ERROR_INIT;
		int rc = sign_vector(&s, v, &err);
		if (rc != 0) {
			print_error("%s: %s\n", v->name, err.msg);
			fail();
		}
		if (v->creq)
			check_equal(v->name, "canonical request", s.canonical_request.ptr, v->creq);
		if (v->sts)
			check_equal(v->name, "string to sign", s.string_to_sign.ptr, v->sts);
		check_equal(v->name, "authorization", s.authorization.ptr, v->authorization);
		fl_sigv4_signed_release(&s);
	}
}

/* The headers to add, in their documented order, and the query string to send. */
static void test_headers_out(void **state)
{
	(void)state;
	struct fl_sigv4_signed s;
	struct fl_error err = FL_ERROR_INIT;
	struct vector v = vectors[0];
	v.token = "tok";
	v.flags = FL_SIGV4_CONTENT_SHA256;
	v.query[0] = (struct fl_sigv4_param){ "b c", "x/y" };
	v.query[1] = (struct fl_sigv4_param){ "a", NULL };
	assert_int_equal(sign_vector(&s, &v, &err), 0);
	assert_int_equal(s.headers_len, 4);
	assert_string_equal(s.headers[0].name, "Authorization");
	assert_string_equal(s.headers[0].value, s.authorization.ptr);
	assert_string_equal(s.headers[1].name, "X-Amz-Date");
	assert_string_equal(s.headers[1].value, "20150830T123600Z");
	assert_string_equal(s.headers[2].name, "X-Amz-Security-Token");
	assert_string_equal(s.headers[2].value, "tok");
	assert_string_equal(s.headers[3].name, "x-amz-content-sha256");
	assert_string_equal(s.headers[3].value, EMPTY_HASH);
	assert_string_equal(s.query.ptr, "a=&b%20c=x%2Fy");
	fl_sigv4_signed_release(&s);

	/* Long-term keys, no content hash: two headers, and no query string. */
	assert_int_equal(sign_vector(&s, &vectors[0], &err), 0);
	assert_int_equal(s.headers_len, 2);
	assert_string_equal(s.query.ptr, "");
	fl_sigv4_signed_release(&s);
	fl_sigv4_signed_release(&s);
}

/* Tabs are blanks too (botocore folds any white space); the published cases have only spaces. */
static void test_header_tabs(void **state)
{
	(void)state;
	struct fl_sigv4_signed s;
	struct fl_error err = FL_ERROR_INIT;
	struct vector v = vectors[0];
	v.headers[0] = (struct fl_sigv4_param){ "X-Tab", "\ta\t\tb \t" };
	assert_int_equal(sign_vector(&s, &v, &err), 0);
	assert_non_null(strstr(s.canonical_request.ptr, "\nx-tab:a b\n"));
	fl_sigv4_signed_release(&s);
}

struct path_case {
	const char *path;
	unsigned flags;
	const char *canonical;
};

/* The second line of the canonical request: normalised and encoded twice, or S3's path as sent. */
static void test_canonical_paths(void **state)
{
	(void)state;
	static const struct path_case cases[] = {
		{ "", 0, "/" },
		{ "/", 0, "/" },
		{ "/a/./b/../c/", 0, "/a/c/" },
		{ "/..", 0, "/" },
		{ "/../a", 0, "/a" },
		{ "/a/b/..", 0, "/a" },
		{ "/a//b///", 0, "/a/b/" },
		{ "/./", 0, "/" },
		{ "/resource%20id", 0, "/resource%2520id" },
		{ "/a+b=c", 0, "/a%2Bb%3Dc" },
		{ "/a//b/../%20", FL_SIGV4_S3_PATH, "/a//b/../%20" },
		{ "", FL_SIGV4_S3_PATH, "/" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct vector v = vectors[0];
		struct fl_sigv4_signed s;
		struct fl_error err = FL_ERROR_INIT;
		v.path = cases[i].path;
		v.flags = cases[i].flags;
		assert_int_equal(sign_vector(&s, &v, &err), 0);
		const char *line = strchr(s.canonical_request.ptr, '\n') + 1;
		size_t len = (size_t)(strchr(line, '\n') - line);
		if (len != strlen(cases[i].canonical) || memcmp(line, cases[i].canonical, len) != 0) {
			print_error("path '%s': got '%.*s', want '%s'\n", cases[i].path, (int)len, line,
				    cases[i].canonical);
			fail();
		}
		fl_sigv4_signed_release(&s);
	}
}

static void test_uri_encode(void **state)
{
	(void)state;
	struct fl_buf b = FL_BUF_INIT;
	const char *in = "a b/c~d._-*%\xe1\x88\xb4";
	fl_sigv4_uri_encode(&b, in, strlen(in), false);
	assert_string_equal(b.ptr, "a%20b%2Fc~d._-%2A%25%E1%88%B4");
	fl_buf_clear(&b);
	fl_sigv4_uri_encode(&b, in, strlen(in), true);
	assert_string_equal(b.ptr, "a%20b/c~d._-%2A%25%E1%88%B4");
	fl_buf_release(&b);
}

static void key_hex(char out[65], const char *date, const char *service)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char key[FL_SIGV4_KEY_LEN];
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(fl_sigv4_signing_key(key, SUITE_SECRET, date, "us-east-1", service, &err), 0);
	for (size_t i = 0; i < sizeof(key); i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 0xf];
	}
	out[64] = '\0';
	fl_sigv4_wipe(key, sizeof(key));
}

/* The derived keys AWS's documentation shows for its example secret. */
static void test_signing_key(void **state)
{
	(void)state;
	char hex[65];
	key_hex(hex, "20120215", "iam");
	assert_string_equal(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
	key_hex(hex, "20150830", "iam");
	assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

/* A request spoiled in one way, and the message that must name what is wrong. */
struct error_case {
	struct vector v;
	const char *msg;
};

#define GET_ROOT .method = "GET", .path = "/"

/* Each names what is wrong, never the secret key, and leaves nothing to free but out. */
static void test_errors(void **state)
{
	(void)state;
	/* clang-format off */
	static const struct error_case cases[] = {
		{ { .name = "header name", GET_ROOT, .headers = { { "X Bad", "1" } } },
		  "aws signature: header name 'X Bad' is not an HTTP token" },
		{ { .name = "header CRLF", GET_ROOT, .headers = { { "X-A", "1\r\nX-B: 2" } } },
		  "aws signature: the value of header 'X-A' is not printable ASCII" },
		{ { .name = "header UTF-8", GET_ROOT, .headers = { { "X-A", "\xc3\xa9" } } },
		  "aws signature: the value of header 'X-A' is not printable ASCII" },
		{ { .name = "reserved header", GET_ROOT, .headers = { { "X-Amz-Date", "1" } } },
		  "aws signature: header 'X-Amz-Date' is set by the signer" },
		{ { .name = "host header", GET_ROOT, .headers = { { "HOST", "a" } } },
		  "aws signature: header 'HOST' is set by the signer" },
		{ { .name = "empty secret", GET_ROOT, .secret = "" },
		  "aws signature: the secret access key is empty" },
		{ { .name = "long secret", GET_ROOT, .secret = SUITE_SECRET SUITE_SECRET SUITE_SECRET SUITE_SECRET },
		  "aws signature: the secret access key is longer than 128 bytes" },
		{ { .name = "access key id", GET_ROOT, .key = "AKID/EXAMPLE" },
		  "aws signature: the access key id is empty or malformed" },
		{ { .name = "region", GET_ROOT, .region = "us-east-1/x" },
		  "aws signature: region and service must be letters, digits, '-', '_' or '.'" },
		{ { .name = "token", GET_ROOT, .token = "abc\ndef" },
		  "aws signature: the session token is not printable ASCII" },
		{ { .name = "method", .method = "get", .path = "/" },
		  "aws signature: the method must be upper-case letters" },
		{ { .name = "path", .method = "GET", .path = "example" },
		  "aws signature: the path must be empty or start with '/'" },
		{ { .name = "host", GET_ROOT, .host = "a b" },
		  "aws signature: the host is empty or not a host name" },
	};
	/* clang-format on */
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_sigv4_signed s;
		struct fl_error err = FL_ERROR_INIT;
		int rc = sign_vector(&s, &cases[i].v, &err);
		if (rc != FL_EINPUT || strcmp(err.msg, cases[i].msg) != 0) {
			print_error("%s: rc %d, message '%s'\n", cases[i].v.name, rc, err.msg);
			fail();
		}
		assert_null(strstr(err.msg, "EXAMPLEKEY"));
		assert_int_equal(s.headers_len, 0);
		assert_string_equal(s.authorization.ptr, "");
		fl_sigv4_signed_release(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),	    cmocka_unit_test(test_headers_out),
		cmocka_unit_test(test_header_tabs), cmocka_unit_test(test_canonical_paths),
		cmocka_unit_test(test_uri_encode),  cmocka_unit_test(test_signing_key),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
