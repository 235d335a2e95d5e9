/*
 * Tests for core/http.c against tests/servers/http_server.py on loopback:
 * methods, headers and bodies echoed back, tokens (and their refusal over
 * plain http), retries on 5xx/429/dropped connections with Retry-After,
 * limits, ETags, TLS with a throwaway CA made by the openssl command line,
 * many requests at once and from several threads. The server speaks only
 * HTTP/1.1, so HTTP/2 is not exercised here.
 */
#include <errno.h>
#include <netinet/in.h>
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
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/http.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the test server ---- */

static struct fl_test_server plain, tls;
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
	fl_test_server_script(script_path, sizeof(script_path), "http_server.py");
	if (fl_test_certs_make(&certs, "http") != 0) {
		fprintf(stderr, "cannot make test certificates in %s\n", certs.dir);
		return -1;
	}
	const char *tls_args[] = { "--tls", certs.server_pem, certs.server_key, "--client-ca", certs.ca_pem, NULL };
	if (fl_test_server_start(&plain, script_path, NULL) != 0 || fl_test_server_start(&tls, script_path, tls_args) != 0) {
		fprintf(stderr, "cannot start %s\n", script_path);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	fl_test_server_stop(&plain);
	fl_test_server_stop(&tls);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", certs.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", certs.dir);
	return 0;
}

/* ---- helpers ---- */

static char *url_for(char *out, size_t size, const struct fl_test_server *s, const char *scheme, const char *path)
{
	snprintf(out, size, "%s://127.0.0.1:%d%s", scheme, s->port, path);
	return out;
}

/* A unique suffix, so per-target counters of the server start afresh. */
static unsigned serial(void)
{
	static unsigned n;
	return ++n;
}

/* A request with fast retries, so failing cases do not wait long. */
static struct fl_http_request fast_request(const char *method, const char *url)
{
	struct fl_http_request req = { 0 };
	req.method = method;
	req.url = url;
	req.timeout_ms = 5000;
	req.retry.attempts = 3;
	req.retry.base_ms = 10;
	return req;
}

/* ---- fl_http_token_allowed ---- */

static void test_token_allowed(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		bool allowed;
	} cases[] = {
		{ "https://api.github.com/repos/x", true },
		{ "HTTPS://gitlab.example/api/v4", true },
		{ "http://127.0.0.1:8080/x", true },
		{ "http://127.1.2.3/", true },
		{ "http://[::1]:9000/x", true },
		{ "http://localhost/x", true },
		{ "http://LocalHost:1/", true },
		{ "http://user:pw@127.0.0.1/", true },
		{ "http://example.com/", false },
		{ "http://128.0.0.1/", false },
		{ "http://10.0.0.1/", false },
		{ "http://127.0.0.1.evil.example/", false },
		{ "http://localhost.evil.example/", false },
		{ "http://[::2]/", false },
		{ "http://[::ffff:127.0.0.1]/", false },
		{ "ftp://127.0.0.1/", false },
		{ "file:///etc/passwd", false },
		{ "not a url", false },
		{ "", false },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		bool got = fl_http_token_allowed(cases[i].url);
		if (got != cases[i].allowed)
			fail_msg("case '%s': got %d, want %d", cases[i].url, got, cases[i].allowed);
	}
	assert_false(fl_http_token_allowed(NULL));
}

/* ---- echo: methods, headers, bodies ---- */

static void test_echo_get(void **state)
{
	(void)state;
	char url[128];
	const char *headers[] = { "X-Flotilla-Test: yes", NULL };
	struct fl_http_request req =
		fast_request("GET", url_for(url, sizeof(url), &plain, "http", "/echo?q=1"));
	req.headers = headers;
	struct fl_http_response resp = { .body = FL_BUF_INIT };
	struct fl_error err = FL_ERROR_INIT;

	assert_int_equal(fl_http_request(&resp, &req, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 1);
	assert_int_equal(resp.http_version, 1);
	assert_non_null(strstr(resp.body.ptr, "\"method\": \"GET\""));
	assert_non_null(strstr(resp.body.ptr, "\"path\": \"/echo?q=1\""));
	assert_non_null(strstr(resp.body.ptr, "\"x-flotilla-test\": \"yes\""));
	assert_non_null(strstr(resp.body.ptr, "\"accept\": \"application/json\""));
	assert_non_null(strstr(resp.body.ptr, "\"user-agent\": \"flotilla/" FL_VERSION "\""));
	assert_null(strstr(resp.body.ptr, "content-type"));
	assert_null(strstr(resp.body.ptr, "authorization"));
	fl_buf_release(&resp.body);

	/* A response zeroed with { 0 } works too: its body starts empty, without a limit. */
	struct fl_http_response zeroed = { 0 };
	assert_int_equal(fl_http_request(&zeroed, &req, &err), 0);
	assert_int_equal(zeroed.status, 200);
	assert_non_null(strstr(zeroed.body.ptr, "\"method\": \"GET\""));
	fl_buf_release(&zeroed.body);
	url_for(url, sizeof(url), &plain, "http", "/status/204");
	assert_int_equal(fl_http_request(&zeroed, &req, &err), 0);
	assert_int_equal(zeroed.status, 204);
	assert_string_equal(zeroed.body.ptr, "");
	fl_buf_release(&zeroed.body);
}

static void test_echo_bodies(void **state)
{
	(void)state;
	static const struct {
		const char *name, *method, *header, *body;
		const char *want[3];
	} cases[] = {
		{ "post json",
		  "POST",
		  NULL,
		  "{\"a\":1}",
		  { "\"method\": \"POST\"", "\"content-type\": \"application/json\"",
		    "\"body\": \"{\\\"a\\\":1}\"" } },
		{ "post own type",
		  "POST",
		  "Content-Type: text/plain",
		  "hello",
		  { "\"content-type\": \"text/plain\"", "\"body\": \"hello\"", "\"method\": \"POST\"" } },
		{ "post empty",
		  "POST",
		  NULL,
		  NULL,
		  { "\"method\": \"POST\"", "\"body\": \"\"", "\"content-length\": \"0\"" } },
		{ "put",
		  "PUT",
		  "If-Match: \"abc\"",
		  "{}",
		  { "\"method\": \"PUT\"", "\"if-match\": \"\\\"abc\\\"\"", "\"body\": \"{}\"" } },
		{ "delete",
		  "DELETE",
		  NULL,
		  NULL,
		  { "\"method\": \"DELETE\"", "\"body\": \"\"", "\"path\": \"/echo\"" } },
		{ "own accept",
		  "GET",
		  "Accept: text/plain",
		  NULL,
		  { "\"accept\": \"text/plain\"", "\"method\": \"GET\"", "\"body\": \"\"" } },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char url[128];
		const char *headers[] = { cases[i].header, NULL };
		struct fl_http_request req =
			fast_request(cases[i].method, url_for(url, sizeof(url), &plain, "http", "/echo"));
		req.headers = headers;
		req.body = cases[i].body;
		req.body_len = cases[i].body ? strlen(cases[i].body) : 0;
		struct fl_http_response resp = { .body = FL_BUF_INIT };
		struct fl_error err = FL_ERROR_INIT;

		int rc = fl_http_request(&resp, &req, &err);
		if (rc != 0 || resp.status != 200)
			fail_msg("case '%s': rc %d status %ld: %s", cases[i].name, rc, resp.status, err.msg);
		for (size_t j = 0; j < N_ELEMS(cases[i].want); j++)
			if (!strstr(resp.body.ptr, cases[i].want[j]))
				fail_msg("case '%s': no %s in %s", cases[i].name, cases[i].want[j],
					 resp.body.ptr);
		/* Only one Content-Type and one Accept were sent. */
		const char *ct = strstr(resp.body.ptr, "content-type");
		if (ct && strstr(ct + 1, "content-type"))
			fail_msg("case '%s': two content types in %s", cases[i].name, resp.body.ptr);
		fl_buf_release(&resp.body);
	}
}

/* ---- tokens ---- */

static void test_tokens_sent(void **state)
{
	(void)state;
	static const struct {
		const char *name, *token_header, *want, *absent;
	} cases[] = {
		{ "bearer", NULL, "\"authorization\": \"Bearer s3cret-token\"", "private-token" },
		{ "token header", "PRIVATE-TOKEN", "\"private-token\": \"s3cret-token\"", "authorization" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char url[128];
		struct fl_http_request req =
			fast_request("GET", url_for(url, sizeof(url), &plain, "http", "/echo"));
		req.bearer = "s3cret-token";
		req.token_header = cases[i].token_header;
		struct fl_http_response resp = { .body = FL_BUF_INIT };
		struct fl_error err = FL_ERROR_INIT;

		if (fl_http_request(&resp, &req, &err) != 0 || resp.status != 200)
			fail_msg("case '%s': %s", cases[i].name, err.msg);
		if (!strstr(resp.body.ptr, cases[i].want) || strstr(resp.body.ptr, cases[i].absent))
			fail_msg("case '%s': %s", cases[i].name, resp.body.ptr);
		fl_buf_release(&resp.body);
	}
}

static void test_token_refused(void **state)
{
	(void)state;
	static const struct {
		const char *url, *token_header, *host;
	} cases[] = {
		{ "http://example.invalid/api", NULL, "'example.invalid'" },
		{ "http://example.invalid:8080/api", "PRIVATE-TOKEN", "'example.invalid'" },
		{ "http://10.1.2.3/api", NULL, "'10.1.2.3'" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct fl_http_request req = fast_request("POST", cases[i].url);
		req.bearer = "s3cret-token";
		req.token_header = cases[i].token_header;
		req.body = "{}";
		req.body_len = 2;
		struct fl_http_response resp = { .body = FL_BUF_INIT };
		struct fl_error err = FL_ERROR_INIT;
		long long t0 = now_ms();

		int rc = fl_http_request(&resp, &req, &err);
		if (rc != FL_EINPUT || resp.attempts != 0 || resp.status != 0)
			fail_msg("case '%s': rc %d attempts %u: %s", cases[i].url, rc, resp.attempts,
				 err.msg);
		assert_non_null(strstr(err.msg, "refusing to send a token over plain http to "));
		assert_non_null(strstr(err.msg, cases[i].host));
		assert_null(strstr(err.msg, "s3cret"));
		assert_true(now_ms() - t0 < 500); /* nothing resolved, nothing retried */
		fl_buf_release(&resp.body);
	}
}

/* ---- retries ---- */

static void test_retries(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		long status;
		unsigned attempts;
		unsigned reused; /* tries libcurl may make itself: a dropped reused connection is retried once */
	} cases[] = {
		{ "/status/200", 200, 1, 0 }, { "/status/404", 404, 1, 0 }, { "/status/412", 412, 1, 0 },
		{ "/status/400", 400, 1, 0 }, { "/status/503", 503, 3, 0 }, { "/status/500", 500, 3, 0 },
		{ "/status/599", 599, 3, 0 }, { "/status/429", 429, 3, 0 }, { "/flaky/1", 200, 2, 0 },
		{ "/flaky/2", 200, 3, 0 },	   { "/flaky/5", 503, 3, 0 },    { "/drop/1", 200, 2, 1 },
		{ "/drop/2", 200, 3, 1 },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char path[96], url[160];
		snprintf(path, sizeof(path), "%s?k=%u", cases[i].path, serial());
		struct fl_http_request req =
			fast_request("GET", url_for(url, sizeof(url), &plain, "http", path));
		struct fl_http_response resp = { .body = FL_BUF_INIT };
		struct fl_error err = FL_ERROR_INIT;

		int rc = fl_http_request(&resp, &req, &err);
		bool attempts_ok = resp.attempts <= cases[i].attempts &&
				   resp.attempts + cases[i].reused >= cases[i].attempts;
		if (rc != 0 || resp.status != cases[i].status || !attempts_ok)
			fail_msg("case '%s': rc %d status %ld attempts %u: %s", cases[i].path, rc,
				 resp.status, resp.attempts, err.msg);
		fl_buf_release(&resp.body);
	}
}

/* The body and ETag are those of the last try, not piled up. */
static void test_retry_keeps_last_answer(void **state)
{
	(void)state;
	char path[64], url[128];
	snprintf(path, sizeof(path), "/flaky/2?k=%u", serial());
	struct fl_http_request req = fast_request("GET", url_for(url, sizeof(url), &plain, "http", path));
	struct fl_http_response resp = { .body = FL_BUF_INIT };
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(fl_http_request(&resp, &req, &err), 0);
	assert_int_equal(resp.attempts, 3);
	assert_string_equal(resp.body.ptr, "{\"ok\":true}");
	fl_buf_release(&resp.body);
}

static void test_backoff_bounded(void **state)
{
	(void)state;
	/* 4 tries, base 50 ms: the waits are at most 50 + 100 + 200 ms. */
	char path[64], url[128];
	snprintf(path, sizeof(path), "/status/502?k=%u", serial());
	struct fl_http_request req = fast_request("GET", url_for(url, sizeof(url), &plain, "http", path));
	req.retry.attempts = 4;
	req.retry.base_ms = 50;
	struct fl_http_response resp = { .body = FL_BUF_INIT };
	struct fl_error err = FL_ERROR_INIT;
	long long t0 = now_ms();
	assert_int_equal(fl_http_request(&resp, &req, &err), 0);
	long long elapsed = now_ms() - t0;
	assert_int_equal(resp.status, 502);
	assert_int_equal(resp.attempts, 4);
	assert_true(elapsed < 1000); /* waits of 350 ms at most, plus slack */
	/* max_ms caps each wait: 5 tries, base 1000 capped at 20 ms. */
	snprintf(path, sizeof(path), "/status/502?k=%u", serial());
	url_for(url, sizeof(url), &plain, "http", path);
	req.retry.attempts = 5;
	req.retry.base_ms = 1000;
	req.retry.max_ms = 20;
	t0 = now_ms();
	assert_int_equal(fl_http_request(&resp, &req, &err), 0);
	assert_int_equal(resp.attempts, 5);
	assert_true(now_ms() - t0 < 1000); /* uncapped, the waits could reach 15 s */
	fl_buf_release(&resp.body);
}

static void test_retry_after(void **state)
{
	(void)state;
	static const struct {
		const char *name, *path;
		unsigned max_ms;
		long long min_ms, max_elapsed_ms;
	} cases[] = {
		{ "429 seconds", "/retry-after/1", 0, 1000, 2500 },
		{ "503 seconds", "/retry-after-503/1", 0, 1000, 2500 },
		/* The date has one-second precision: between 1 and 2 s from now. */
		{ "429 date", "/retry-after-date/2", 0, 900, 3500 },
		{ "capped by max_ms", "/retry-after/30", 100, 50, 1500 },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char path[96], url[160];
		snprintf(path, sizeof(path), "%s?k=%u", cases[i].path, serial());
		struct fl_http_request req =
			fast_request("GET", url_for(url, sizeof(url), &plain, "http", path));
		req.retry.base_ms = 1; /* were Retry-After ignored, the retry would come at once */
		req.retry.max_ms = cases[i].max_ms;
		struct fl_http_response resp = { .body = FL_BUF_INIT };
		struct fl_error err = FL_ERROR_INIT;
		long long t0 = now_ms();

		int rc = fl_http_request(&resp, &req, &err);
		long long elapsed = now_ms() - t0;
		if (rc != 0 || resp.status != 200 || resp.attempts != 2)
			fail_msg("case '%s': rc %d status %ld attempts %u: %s", cases[i].name, rc,
				 resp.status, resp.attempts, err.msg);
		if (elapsed < cases[i].min_ms || elapsed > cases[i].max_elapsed_ms)
			fail_msg("case '%s': took %lld ms", cases[i].name, elapsed);
		fl_buf_release(&resp.body);
	}
}

/* A port nobody listens on: bound, then closed. */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { 0 };
	socklen_t len = sizeof(a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_connection_refused(void **state)
{
	(void)state;
	char url[128], want[160];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", closed_port());
	struct fl_http_request req = fast_request("GET", url);
	req.bearer = "s3cret-token";
	struct fl_http_response resp = { .body = FL_BUF_INIT };
	struct fl_error err = FL_ERROR_INIT;

	assert_int_equal(fl_http_request(&resp, &req, &err), FL_EIO);
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(resp.status, 0);
	snprintf(want, sizeof(want), "GET %s: ", url);
	assert_true(strncmp(err.msg, want, strlen(want)) == 0);
	assert_non_null(strstr(err.msg, "(after 3 tries)"));
	assert_null(strstr(err.msg, "s3cret"));

	req.retry.attempts = 1;
	assert_int_equal(fl_http_request(&resp, &req, &err), FL_EIO);
	assert_non_null(strstr(err.msg, "(after 1 try)"));

	/* Credentials in the URL stay out of the message. */
	snprintf(url, sizeof(url), "http://user:s3cret-pw@127.0.0.1:%d/x", closed_port());
	req.url = url;
	assert_int_equal(fl_http_request(&resp, &req, &err), FL_EIO);
	assert_null(strstr(err.msg, "s3cret"));
	assert_non_null(strstr(err.msg, "GET http://127.0.0.1:"));
	fl_buf_release(&resp.body);
}

static void test_timeout(void **state)
{
	(void)state;
	char url[128];
	struct fl_http_request req =
		fast_request("GET", url_for(url, sizeof(url), &plain, "http", "/slow/3000"));
	req.timeout_ms = 200;
	req.retry.attempts = 2;
	struct fl_http_response resp = { .body = FL_BUF_INIT };
	struct fl_error err = FL_ERROR_INIT;
	long long t0 = now_ms();

	assert_int_equal(fl_http_request(&resp, &req, &err), FL_EIO);
	assert_true(now_ms() - t0 < 1500);
	assert_int_equal(resp.attempts, 2);
	assert_non_null(strstr(err.msg, "timed out"));
	assert_non_null(strstr(err.msg, "(after 2 tries)"));
	fl_buf_release(&resp.body);
}

static void test_body_limit(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		size_t max;
		int rc;
	} cases[] = {
		{ "/big/10000", 1000, FL_ELIMIT },	   /* refused from Content-Length */
		{ "/big/10000?chunked", 1000, FL_ELIMIT }, /* no length: stopped while reading */
		{ "/big/1000", 1000, 0 },
		{ "/big/1000?chunked", 1000, 0 },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char url[128];
		struct fl_http_request req =
			fast_request("GET", url_for(url, sizeof(url), &plain, "http", cases[i].path));
		struct fl_http_response resp;
		struct fl_error err = FL_ERROR_INIT;
		fl_buf_init(&resp.body, cases[i].max);

		int rc = fl_http_request(&resp, &req, &err);
		if (rc != cases[i].rc || resp.attempts != 1)
			fail_msg("case '%s': rc %d attempts %u: %s", cases[i].path, rc, resp.attempts,
				 err.msg);
		if (rc == 0 && resp.body.len != 1000)
			fail_msg("case '%s': %zu bytes", cases[i].path, resp.body.len);
		if (rc != 0 && !strstr(err.msg, "exceeds the limit of 1000 bytes"))
			fail_msg("case '%s': %s", cases[i].path, err.msg);
		fl_buf_release(&resp.body);
	}
}

static void test_etag(void **state)
{
	(void)state;
	static const struct {
		const char *path, *want;
	} cases[] = {
		{ "/etag/abc123", "abc123" },
		{ "/etag/v7?weak", "v7" },
		{ "/status/200", "" },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char url[128];
		struct fl_http_request req =
			fast_request("GET", url_for(url, sizeof(url), &plain, "http", cases[i].path));
		struct fl_http_response resp = { .body = FL_BUF_INIT };
		struct fl_error err = FL_ERROR_INIT;
		assert_int_equal(fl_http_request(&resp, &req, &err), 0);
		if (strcmp(resp.etag, cases[i].want) != 0)
			fail_msg("case '%s': etag '%s'", cases[i].path, resp.etag);
		fl_buf_release(&resp.body);
	}
}

static void test_bad_urls(void **state)
{
	(void)state;
	static const char *const urls[] = { "ftp://127.0.0.1/x", "file:///etc/passwd", "::nonsense::" };
	for (size_t i = 0; i < N_ELEMS(urls); i++) {
		struct fl_http_request req = fast_request("GET", urls[i]);
		struct fl_http_response resp = { .body = FL_BUF_INIT };
		struct fl_error err = FL_ERROR_INIT;
		if (fl_http_request(&resp, &req, &err) != FL_EINPUT || resp.attempts != 0)
			fail_msg("case '%s': %s", urls[i], err.msg);
	}
}

/* ---- TLS ---- */

static void test_tls(void **state)
{
	(void)state;
	char url[128];
	struct fl_http_request req = fast_request("GET", url_for(url, sizeof(url), &tls, "https", "/echo"));
	struct fl_http_response resp = { .body = FL_BUF_INIT };
	struct fl_error err = FL_ERROR_INIT;

	/* Trusted through the test CA. */
	req.tls.ca_file = certs.ca_pem;
	req.bearer = "s3cret-token";
	if (fl_http_request(&resp, &req, &err) != 0)
		fail_msg("with the test CA: %s", err.msg);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.http_version, 1); /* the python server speaks HTTP/1.1 only */
	assert_non_null(strstr(resp.body.ptr, "\"authorization\": \"Bearer s3cret-token\""));
	assert_non_null(strstr(resp.body.ptr, "\"client_cn\": \"\""));

	/* With a client certificate, which the server checks against the same CA. */
	req.tls.cert_file = certs.client_pem;
	req.tls.key_file = certs.client_key;
	if (fl_http_request(&resp, &req, &err) != 0)
		fail_msg("with a client certificate: %s", err.msg);
	assert_non_null(strstr(resp.body.ptr, "\"client_cn\": \"flotilla-client\""));

	/* Without the CA the server is not trusted: an error, and not retried. */
	req.tls.ca_file = NULL;
	req.tls.cert_file = req.tls.key_file = NULL;
	assert_int_equal(fl_http_request(&resp, &req, &err), FL_EIO);
	assert_int_equal(resp.attempts, 1);
	assert_non_null(strstr(err.msg, "certificate"));
	assert_null(strstr(err.msg, "s3cret"));

	/* A client certificate file that does not exist. */
	req.tls.ca_file = certs.ca_pem;
	req.tls.cert_file = "/nonexistent/client.pem";
	assert_int_equal(fl_http_request(&resp, &req, &err), FL_EIO);
	assert_int_equal(resp.attempts, 1);
	fl_buf_release(&resp.body);
}

/* ---- many at once ---- */

static void test_many(void **state)
{
	(void)state;
	enum { N = 200 };
	struct fl_http_request *reqs = calloc(N, sizeof(*reqs));
	struct fl_http_response *resps = calloc(N, sizeof(*resps));
	struct fl_error *errs = calloc(N, sizeof(*errs));
	int *rcs = calloc(N, sizeof(*rcs));
	char(*urls)[128] = calloc(N, sizeof(*urls));
	struct fl_error err = FL_ERROR_INIT;

	unsigned base = serial() * 1000;
	for (size_t i = 0; i < N; i++) {
		char path[64];
		/* Every tenth is flaky once, every 50th drops once. */
		if (i % 10 == 3)
			snprintf(path, sizeof(path), "/flaky/1?k=%u", base + (unsigned)i);
		else if (i % 50 == 7)
			snprintf(path, sizeof(path), "/drop/1?k=%u", base + (unsigned)i);
		else
			snprintf(path, sizeof(path), "/slow/5?k=%u", base + (unsigned)i);
		reqs[i] = fast_request("GET", url_for(urls[i], sizeof(urls[i]), &plain, "http", path));
		fl_buf_init(&resps[i].body, 0);
	}
	/* One with a token to a remote host over http: refused alone. */
	reqs[100].url = "http://example.invalid/x";
	reqs[100].bearer = "s3cret-token";

	assert_int_equal(fl_http_request_many(resps, rcs, errs, reqs, N, 20, &err), 0);
	for (size_t i = 0; i < N; i++) {
		if (i == 100) {
			assert_int_equal(rcs[i], FL_EINPUT);
			assert_int_equal(resps[i].attempts, 0);
			continue;
		}
		/* curl itself retries a request once when a reused connection dies, so a drop may cost no try. */
		unsigned want_attempts = i % 10 == 3 ? 2 : 1;
		bool attempts_ok =
			resps[i].attempts == want_attempts || (i % 50 == 7 && resps[i].attempts == 2);
		if (rcs[i] != 0 || resps[i].status != 200 || !attempts_ok)
			fail_msg("request %zu: rc %d status %ld attempts %u: %s", i, rcs[i], resps[i].status,
				 resps[i].attempts, errs[i].msg);
		fl_buf_release(&resps[i].body);
	}
	free(reqs);
	free(resps);
	free(errs);
	free(rcs);
	free(urls);
}

static void test_many_tls(void **state)
{
	(void)state;
	enum { N = 40 };
	struct fl_http_request reqs[N];
	struct fl_http_response resps[N];
	struct fl_error errs[N];
	int rcs[N];
	char url[128];
	struct fl_error err = FL_ERROR_INIT;

	url_for(url, sizeof(url), &tls, "https", "/slow/5");
	for (size_t i = 0; i < N; i++) {
		reqs[i] = fast_request("GET", url);
		reqs[i].tls.ca_file = certs.ca_pem;
		fl_buf_init(&resps[i].body, 0);
	}
	assert_int_equal(fl_http_request_many(resps, rcs, errs, reqs, N, 8, &err), 0);
	for (size_t i = 0; i < N; i++) {
		if (rcs[i] != 0 || resps[i].status != 200)
			fail_msg("request %zu: rc %d status %ld: %s", i, rcs[i], resps[i].status,
				 errs[i].msg);
		fl_buf_release(&resps[i].body);
	}
}

/*
 * Little's law: 1,000 requests of 20 ms each, 100 at a time, need 0.2 s at
 * best. The bound checked is loose (sanitizers, a python server, busy CI
 * machines); the time taken is printed.
 */
static void test_many_throughput(void **state)
{
	(void)state;
	enum { N = 1000, PARALLEL = 100 };
	struct fl_http_request *reqs = calloc(N, sizeof(*reqs));
	struct fl_http_response *resps = calloc(N, sizeof(*resps));
	struct fl_error *errs = calloc(N, sizeof(*errs));
	int *rcs = calloc(N, sizeof(*rcs));
	char url[128];
	struct fl_error err = FL_ERROR_INIT;

	url_for(url, sizeof(url), &plain, "http", "/slow/20");
	for (size_t i = 0; i < N; i++) {
		reqs[i] = fast_request("GET", url);
		fl_buf_init(&resps[i].body, 0);
	}
	long long t0 = now_ms();
	assert_int_equal(fl_http_request_many(resps, rcs, errs, reqs, N, PARALLEL, &err), 0);
	long long elapsed = now_ms() - t0;
	size_t ok = 0;
	for (size_t i = 0; i < N; i++) {
		ok += rcs[i] == 0 && resps[i].status == 200;
		fl_buf_release(&resps[i].body);
	}
	printf("# request_many: %d x 20 ms at %d parallel: %lld ms (Little's law bound 200 ms)\n", N,
	       PARALLEL, elapsed);
	assert_int_equal(ok, N);
	assert_true(elapsed < 5000);
	free(reqs);
	free(resps);
	free(errs);
	free(rcs);
}

/* ---- threads ---- */

static void *thread_main(void *arg)
{
	int *failures = arg;
	char url[128];
	for (int i = 0; i < 20; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/flaky/1?t=%p&i=%d", (void *)failures, i);
		struct fl_http_request req =
			fast_request("GET", url_for(url, sizeof(url), &plain, "http", path));
		struct fl_http_response resp = { .body = FL_BUF_INIT };
		struct fl_error err = FL_ERROR_INIT;
		if (fl_http_request(&resp, &req, &err) != 0 || resp.status != 200 || resp.attempts != 2)
			(*failures)++;
		fl_buf_release(&resp.body);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t threads[6];
	int failures[6] = { 0 };
	for (size_t i = 0; i < N_ELEMS(threads); i++)
		assert_int_equal(pthread_create(&threads[i], NULL, thread_main, &failures[i]), 0);
	for (size_t i = 0; i < N_ELEMS(threads); i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(failures[i], 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_allowed),
		cmocka_unit_test(test_echo_get),
		cmocka_unit_test(test_echo_bodies),
		cmocka_unit_test(test_tokens_sent),
		cmocka_unit_test(test_token_refused),
		cmocka_unit_test(test_retries),
		cmocka_unit_test(test_retry_keeps_last_answer),
		cmocka_unit_test(test_backoff_bounded),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_etag),
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_many_tls),
		cmocka_unit_test(test_many_throughput),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
