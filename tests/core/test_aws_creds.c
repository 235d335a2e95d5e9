/*
 * Tests for core/aws_creds.c against tests/servers/fake_aws.py on loopback
 * (STS, container credentials, IMDSv2): each source, their order, profile
 * selection, refusals (plain http to a remote host, half a key pair, a
 * missing profile, wrong tokens), refresh before expiry with a clock passed
 * in, from many threads, and that no secret value appears in any error.
 * Variables come from a table, never from the process's environment.
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
#include <unistd.h>

#include <cmocka.h>

#include "core/aws_creds.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/http.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define WEB_TOKEN "web-identity-token-0123456789"
#define CTR_TOKEN "container-token-0123456789"
#define ENV_SECRET "env-secret-key-abcdef"
#define ENV_SESSION "env-session-token-abcdef"
#define FILE_SECRET "file-secret-key-abcdef"
#define EXPIRATION "2026-12-06T12:00:00Z"

static struct fl_test_server fake;
static char tmpdir[64];
static char base[64];               /* http://127.0.0.1:<port> */
static char token_file[128], wrong_token_file[128], ctr_token_file[128], creds_file[128];

/* ---- the environment: a table of "NAME=value" ---- */

struct vars {
	const char *kv[40];
	char store[40][256];
	size_t n;
};

static const char *lookup(const char *name, void *payload)
{
	const struct vars *v = payload;
	size_t len = strlen(name);

	/* The last one set wins. */
	for (size_t i = v->n; i-- > 0;)
		if (strncmp(v->kv[i], name, len) == 0 && v->kv[i][len] == '=')
			return v->kv[i] + len + 1;
	return NULL;
}

static void set(struct vars *v, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set(struct vars *v, const char *name, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(v->store[v->n], sizeof(v->store[0]), "%s=", name);

	assert_true(v->n < 40);
	va_start(ap, fmt);
	vsnprintf(v->store[v->n] + n, sizeof(v->store[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	v->kv[v->n] = v->store[v->n];
	v->n++;
}

/* A table with instance metadata off and no HOME, so nothing outside the test is read. */
static void vars_init(struct vars *v)
{
	memset(v, 0, sizeof(*v));
	set(v, "AWS_EC2_METADATA_DISABLED", "true");
	set(v, "HOME", "%s/nohome", tmpdir);
}

static struct fl_aws_env env_of(struct vars *v)
{
	struct fl_aws_env env = { lookup, v };
	return env;
}

static void set_web_identity(struct vars *v)
{
	set(v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s", token_file);
	set(v, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/flotilla-ci");
	set(v, "AWS_ENDPOINT_URL_STS", "%s/", base);
}

static void set_container(struct vars *v)
{
	set(v, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "%s/container/creds", base);
	set(v, "AWS_CONTAINER_AUTHORIZATION_TOKEN", CTR_TOKEN);
}

/* ---- the fake ---- */

static void fake_request(struct fl_buf *out, const char *method, const char *path, const char *body)
{
	char url[128];
	struct fl_http_request req = { 0 };
	struct fl_http_response resp = { 0 };
	struct fl_error err = FL_ERROR_INIT;

	snprintf(url, sizeof(url), "%s%s", base, path);
	req.method = method;
	req.url = url;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	fl_buf_init(&resp.body, 0);
	assert_int_equal(fl_http_request(&resp, &req, &err), 0);
	assert_int_equal(resp.status, 200);
	if (out)
		fl_buf_put(out, resp.body.ptr, resp.body.len);
	fl_buf_release(&resp.body);
}

static void fake_config(const char *json)
{
	fake_request(NULL, "POST", "/_config", json);
}

/* How often the fake answered route ("sts", "container", "imds_token", "imds_get"). */
static int fake_count(const char *route)
{
	struct fl_buf state = FL_BUF_INIT;
	char key[64];
	int n = 0;

	fake_request(&state, "GET", "/_state", NULL);
	snprintf(key, sizeof(key), "\"%s\": ", route);
	const char *at = strstr(state.ptr, key);
	if (at)
		n = atoi(at + strlen(key));
	fl_buf_release(&state);
	return n;
}

static bool fake_state_has(const char *needle)
{
	struct fl_buf state = FL_BUF_INIT;
	fake_request(&state, "GET", "/_state", NULL);
	bool has = strstr(state.ptr, needle) != NULL;
	fl_buf_release(&state);
	return has;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int group_setup(void **state)
{
	char script[512];
	(void)state;

	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fl-test-aws-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	fl_test_server_script(script, sizeof(script), "fake_aws.py");
	if (fl_test_server_start(&fake, script, NULL) != 0) {
		fprintf(stderr, "cannot start %s\n", script);
		return -1;
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", fake.port);
	snprintf(token_file, sizeof(token_file), "%s/web-token", tmpdir);
	snprintf(wrong_token_file, sizeof(wrong_token_file), "%s/wrong-token", tmpdir);
	snprintf(ctr_token_file, sizeof(ctr_token_file), "%s/ctr-token", tmpdir);
	snprintf(creds_file, sizeof(creds_file), "%s/credentials", tmpdir);
	write_file(token_file, WEB_TOKEN "\n");
	write_file(wrong_token_file, "not-the-" WEB_TOKEN "\n");
	write_file(ctr_token_file, CTR_TOKEN "\n");
	write_file(creds_file, "# shared credentials\n"
			       "[default]\n"
			       "aws_access_key_id = AKIADEFAULT\n"
			       "aws_secret_access_key = " FILE_SECRET "\n"
			       "\n"
			       "[prod]\n"
			       "aws_access_key_id=AKIAPROD\n"
			       "aws_secret_access_key=prod-" FILE_SECRET "\n"
			       "aws_session_token = prod-session\n"
			       "[half]\n"
			       "aws_access_key_id = AKIAHALF\n"
			       "[other]\n"
			       "region = eu-west-1\n");
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];
	(void)state;

	fl_test_server_stop(&fake);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return 0;
}

/* ---- helpers ---- */

/* No secret the tests use may appear in a message. */
static void assert_no_secret(const struct fl_error *err)
{
	static const char *const secrets[] = {
		WEB_TOKEN, CTR_TOKEN, ENV_SECRET, ENV_SESSION, FILE_SECRET, "secret-key-", "session-token-",
	};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		if (strstr(err->msg, secrets[i]))
			fail_msg("a secret ('%s') in the message: %s", secrets[i], err->msg);
}

static void resolve_ok(struct fl_aws_creds *out, struct vars *v, const char *source)
{
	struct fl_aws_env env = env_of(v);
	struct fl_error err = FL_ERROR_INIT;
	int rc = fl_aws_creds_resolve(out, &env, 1000, &err);

	if (rc != 0)
		fail_msg("expected credentials from %s, got %d: %s", source, rc, err.msg);
	assert_string_equal(out->source, source);
}

static void resolve_fails(struct vars *v, int code, const char *msg)
{
	struct fl_aws_creds creds;
	struct fl_aws_env env = env_of(v);
	struct fl_error err = FL_ERROR_INIT;
	int rc = fl_aws_creds_resolve(&creds, &env, 1000, &err);

	if (rc != code)
		fail_msg("expected %d, got %d: %s", code, rc, err.msg);
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' lacks '%s'", err.msg, msg);
	assert_no_secret(&err);
	assert_string_equal(creds.secret_access_key, "");
}

/* ---- the sources ---- */

static void test_env(void **state)
{
	struct vars v;
	struct fl_aws_creds c;
	(void)state;

	vars_init(&v);
	set(&v, "AWS_ACCESS_KEY_ID", "AKIAENV");
	set(&v, "AWS_SECRET_ACCESS_KEY", ENV_SECRET);
	set(&v, "AWS_SESSION_TOKEN", ENV_SESSION);
	resolve_ok(&c, &v, "environment");
	assert_string_equal(c.access_key_id, "AKIAENV");
	assert_string_equal(c.secret_access_key, ENV_SECRET);
	assert_string_equal(c.session_token, ENV_SESSION);
	assert_int_equal(c.expiration, 0);
}

static void test_env_half(void **state)
{
	struct vars v;
	(void)state;

	vars_init(&v);
	set(&v, "AWS_SECRET_ACCESS_KEY", ENV_SECRET);
	set(&v, "AWS_SESSION_TOKEN", ENV_SESSION);
	resolve_fails(&v, FL_EINPUT, "environment: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
	vars_init(&v);
	set(&v, "AWS_ACCESS_KEY_ID", "AKIAENV");
	resolve_fails(&v, FL_EINPUT, "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
}

static void test_env_beats_everything(void **state)
{
	struct vars v;
	struct fl_aws_creds c;
	int sts = fake_count("sts");
	(void)state;

	vars_init(&v);
	set(&v, "AWS_ACCESS_KEY_ID", "AKIAENV");
	set(&v, "AWS_SECRET_ACCESS_KEY", ENV_SECRET);
	set_web_identity(&v);
	set(&v, "AWS_SHARED_CREDENTIALS_FILE", "%s", creds_file);
	set_container(&v);
	resolve_ok(&c, &v, "environment");
	assert_string_equal(c.session_token, "");
	assert_int_equal(fake_count("sts"), sts);
}

static void test_web_identity(void **state)
{
	struct vars v;
	struct fl_aws_creds c;
	(void)state;

	vars_init(&v);
	set_web_identity(&v);
	set(&v, "AWS_SHARED_CREDENTIALS_FILE", "%s", creds_file);
	set_container(&v);
	resolve_ok(&c, &v, "web identity");
	assert_memory_equal(c.access_key_id, "ASIAWEB", 7);
	assert_non_null(strstr(c.secret_access_key, "web-secret-key-"));
	assert_non_null(strstr(c.session_token, "web-session-token-"));
	assert_int_equal(c.expiration, fl_time_parse(EXPIRATION));
	/* The default session name, and every member STS requires, sent. */
	assert_true(fake_state_has("\"RoleSessionName\": \"flotilla-1000\""));
	assert_true(fake_state_has("\"RoleArn\": \"arn:aws:iam::111122223333:role/flotilla-ci\""));
	assert_true(fake_state_has("\"WebIdentityToken\": \"" WEB_TOKEN "\""));

	set(&v, "AWS_ROLE_SESSION_NAME", "ci run/42");
	resolve_ok(&c, &v, "web identity");
	assert_true(fake_state_has("\"RoleSessionName\": \"ci run/42\""));
}

/* AWS_ENDPOINT_URL serves STS when AWS_ENDPOINT_URL_STS is not set. */
static void test_web_identity_endpoint(void **state)
{
	struct vars v;
	struct fl_aws_creds c;
	(void)state;

	vars_init(&v);
	set(&v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s", token_file);
	set(&v, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/flotilla-ci");
	set(&v, "AWS_ENDPOINT_URL", "%s", base);
	resolve_ok(&c, &v, "web identity");

	/* A remote host over plain http is refused before anything is sent. */
	vars_init(&v);
	set(&v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s", token_file);
	set(&v, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/flotilla-ci");
	set(&v, "AWS_ENDPOINT_URL", "%s", base);
	set(&v, "AWS_ENDPOINT_URL_STS", "http://sts.example.com:8080/");
	resolve_fails(&v, FL_EINPUT, "web identity: refusing plain http to 'sts.example.com' for STS");

	vars_init(&v);
	set(&v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s", token_file);
	set(&v, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/flotilla-ci");
	set(&v, "AWS_REGION", "eu-west-1/../x");
	resolve_fails(&v, FL_EINPUT, "web identity: invalid region");
}

static void test_web_identity_errors(void **state)
{
	struct vars v;
	(void)state;

	vars_init(&v);
	set(&v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s", wrong_token_file);
	set(&v, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/flotilla-ci");
	set(&v, "AWS_ENDPOINT_URL_STS", "%s", base);
	resolve_fails(&v, FL_EREFUSED,
		      "web identity: STS answered 400 InvalidIdentityToken: Incorrect token audience.");

	vars_init(&v);
	set(&v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s", token_file);
	set(&v, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/denied");
	set(&v, "AWS_ENDPOINT_URL_STS", "%s", base);
	resolve_fails(&v, FL_EREFUSED, "web identity: STS answered 403 AccessDenied: Not authorized");

	/* A service that quotes the token back: the message shows *** instead. */
	vars_init(&v);
	set(&v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s", token_file);
	set(&v, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/echo");
	set(&v, "AWS_ENDPOINT_URL_STS", "%s", base);
	resolve_fails(&v, FL_EREFUSED, "InvalidIdentityToken: token '***' is not valid");

	vars_init(&v);
	set(&v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s", token_file);
	resolve_fails(&v, FL_EINPUT, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");

	vars_init(&v);
	set(&v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s/absent", tmpdir);
	set(&v, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/flotilla-ci");
	resolve_fails(&v, FL_ENOTFOUND, "web identity: cannot read AWS_WEB_IDENTITY_TOKEN_FILE");

	/* Nothing listens: an error of the source, not a fall-through. */
	vars_init(&v);
	set(&v, "AWS_WEB_IDENTITY_TOKEN_FILE", "%s", token_file);
	set(&v, "AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/flotilla-ci");
	set(&v, "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1/");
	resolve_fails(&v, FL_EIO, "web identity: ");
}

static void test_shared_file(void **state)
{
	struct vars v;
	struct fl_aws_creds c;
	char dir[160];
	(void)state;

	vars_init(&v);
	set(&v, "AWS_SHARED_CREDENTIALS_FILE", "%s", creds_file);
	set_container(&v);
	resolve_ok(&c, &v, "shared credentials file");
	assert_string_equal(c.access_key_id, "AKIADEFAULT");
	assert_string_equal(c.secret_access_key, FILE_SECRET);
	assert_string_equal(c.session_token, "");

	set(&v, "AWS_PROFILE", "prod");
	resolve_ok(&c, &v, "shared credentials file");
	assert_string_equal(c.access_key_id, "AKIAPROD");
	assert_string_equal(c.secret_access_key, "prod-" FILE_SECRET);
	assert_string_equal(c.session_token, "prod-session");

	/* ~/.aws/credentials when no file is named. */
	snprintf(dir, sizeof(dir), "%s/home/.aws", tmpdir);
	fl_test_run("mkdir -p %s && cp %s %s/credentials", dir, creds_file, dir);
	vars_init(&v);
	set(&v, "HOME", "%s/home", tmpdir);
	resolve_ok(&c, &v, "shared credentials file");
	assert_string_equal(c.access_key_id, "AKIADEFAULT");
}

static void test_shared_file_errors(void **state)
{
	struct vars v;
	struct fl_aws_creds c;
	(void)state;

	vars_init(&v);
	set(&v, "AWS_SHARED_CREDENTIALS_FILE", "%s", creds_file);
	set(&v, "AWS_PROFILE", "staging");
	set_container(&v);
	resolve_fails(&v, FL_EINPUT, "shared credentials file '");
	resolve_fails(&v, FL_EINPUT, "/credentials': no profile 'staging' with keys (AWS_PROFILE)");

	vars_init(&v);
	set(&v, "AWS_SHARED_CREDENTIALS_FILE", "%s", creds_file);
	set(&v, "AWS_PROFILE", "half");
	resolve_fails(&v, FL_EINPUT, "profile 'half' has no aws_secret_access_key");

	/* A named profile in a file that does not exist is an error too. */
	vars_init(&v);
	set(&v, "AWS_SHARED_CREDENTIALS_FILE", "%s/absent", tmpdir);
	set(&v, "AWS_PROFILE", "prod");
	resolve_fails(&v, FL_ENOTFOUND, "shared credentials file '");

	/* Without AWS_PROFILE, a file without [default] is passed over. */
	vars_init(&v);
	set(&v, "AWS_SHARED_CREDENTIALS_FILE", "%s", token_file);
	set_container(&v);
	resolve_ok(&c, &v, "container credentials");
}

static void test_container(void **state)
{
	struct vars v;
	struct fl_aws_creds c;
	(void)state;

	vars_init(&v);
	set_container(&v);
	set(&v, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "%s", base);
	set(&v, "AWS_EC2_METADATA_DISABLED", "false");
	resolve_ok(&c, &v, "container credentials");
	assert_memory_equal(c.access_key_id, "ASIACTR", 7);
	assert_non_null(strstr(c.session_token, "asiactr-session-token-"));
	assert_int_equal(c.expiration, fl_time_parse(EXPIRATION));

	/* The token file wins over the token variable (EKS rotates the file). */
	vars_init(&v);
	set(&v, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "%s/container/creds", base);
	set(&v, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-" CTR_TOKEN);
	set(&v, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "%s", ctr_token_file);
	resolve_ok(&c, &v, "container credentials");
}

static void test_container_errors(void **state)
{
	struct vars v;
	(void)state;

	vars_init(&v);
	set(&v, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "%s/container/creds", base);
	set(&v, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-" CTR_TOKEN);
	resolve_fails(&v, FL_EREFUSED, "container credentials: '127.0.0.1' answered 401");

	vars_init(&v);
	set(&v, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://creds.example.com/v1/credentials");
	set(&v, "AWS_CONTAINER_AUTHORIZATION_TOKEN", CTR_TOKEN);
	resolve_fails(&v, FL_EINPUT,
		      "container credentials: refusing AWS_CONTAINER_CREDENTIALS_FULL_URI to 'creds.example.com'");

	vars_init(&v);
	set(&v, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "%s/container/creds", base);
	set(&v, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Injected: " CTR_TOKEN);
	resolve_fails(&v, FL_EINPUT, "AWS_CONTAINER_AUTHORIZATION_TOKEN holds a line break");
}

static void test_imds(void **state)
{
	struct vars v;
	struct fl_aws_creds c;
	int tokens = fake_count("imds_token");
	(void)state;

	vars_init(&v);
	set(&v, "AWS_EC2_METADATA_DISABLED", "false");
	set(&v, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "%s/", base);
	resolve_ok(&c, &v, "instance metadata");
	assert_memory_equal(c.access_key_id, "ASIAIMDS", 8);
	assert_non_null(strstr(c.session_token, "asiaimds-session-token-"));
	assert_int_equal(c.expiration, fl_time_parse(EXPIRATION));
	assert_int_equal(fake_count("imds_token"), tokens + 1);

	/* Disabled: not asked at all. */
	vars_init(&v);
	set(&v, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "%s/", base);
	tokens = fake_count("imds_token");
	resolve_fails(&v, FL_ENOTFOUND, "instance metadata: disabled by AWS_EC2_METADATA_DISABLED");
	assert_int_equal(fake_count("imds_token"), tokens);

	/* No role attached. */
	fake_config("{\"imds_role\": null}");
	vars_init(&v);
	set(&v, "AWS_EC2_METADATA_DISABLED", "false");
	set(&v, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "%s", base);
	resolve_fails(&v, FL_ENOTFOUND, "instance metadata: no IAM role is attached to this instance");
	fake_config("{\"imds_role\": \"flotilla-node\"}");

	/* Off EC2: nothing answers, so no credentials at all. */
	vars_init(&v);
	set(&v, "AWS_EC2_METADATA_DISABLED", "false");
	set(&v, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1");
	resolve_fails(&v, FL_ENOTFOUND, "no AWS credentials: none in the environment");
}

/* The fake refuses what real IMDSv2 refuses. */
static void test_fake_imds_strict(void **state)
{
	char url[128];
	const char *bad_token[] = { "X-aws-ec2-metadata-token: made-up", NULL };
	struct fl_http_request req = { 0 };
	struct fl_http_response resp = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	(void)state;

	fl_buf_init(&resp.body, 0);
	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	req.method = "PUT";
	req.url = url;
	assert_int_equal(fl_http_request(&resp, &req, &err), 0);
	assert_int_equal(resp.status, 400);
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
	req.method = "GET";
	assert_int_equal(fl_http_request(&resp, &req, &err), 0);
	assert_int_equal(resp.status, 401);
	req.headers = bad_token;
	assert_int_equal(fl_http_request(&resp, &req, &err), 0);
	assert_int_equal(resp.status, 401);
	fl_buf_release(&resp.body);
}

/* ---- refresh ---- */

static void test_refresh(void **state)
{
	struct vars v;
	struct fl_aws_env env;
	struct fl_aws_creds a, b, c;
	struct fl_error err = FL_ERROR_INIT;
	long long exp = fl_time_parse(EXPIRATION);
	(void)state;

	vars_init(&v);
	set_web_identity(&v);
	env = env_of(&v);
	struct fl_aws_creds_provider *p = fl_aws_creds_provider_new(&env);
	int sts = fake_count("sts");

	assert_int_equal(fl_aws_creds_get(&a, p, exp - 3600, &err), 0);
	assert_int_equal(fl_aws_creds_get(&b, p, exp - 301, &err), 0);
	assert_string_equal(a.access_key_id, b.access_key_id);
	assert_int_equal(fake_count("sts"), sts + 1);

	/* Fewer than five minutes left: found again. */
	assert_int_equal(fl_aws_creds_get(&c, p, exp - 299, &err), 0);
	assert_string_not_equal(c.access_key_id, a.access_key_id);
	assert_int_equal(fake_count("sts"), sts + 2);

	/* A failed refresh keeps credentials that are still valid ... */
	fake_config("{\"web_token\": \"rotated\"}");
	assert_int_equal(fl_aws_creds_get(&b, p, exp - 100, &err), 0);
	assert_string_equal(b.access_key_id, c.access_key_id);
	/* ... but not expired ones. */
	assert_int_equal(fl_aws_creds_get(&b, p, exp + 1, &err), FL_EREFUSED);
	assert_non_null(strstr(err.msg, "web identity: STS answered 400 InvalidIdentityToken"));
	assert_no_secret(&err);
	fake_config("{\"web_token\": \"" WEB_TOKEN "\"}");
	fl_aws_creds_provider_free(p);

	/* Long-term keys never expire: never found again. */
	vars_init(&v);
	set(&v, "AWS_SHARED_CREDENTIALS_FILE", "%s", creds_file);
	env = env_of(&v);
	p = fl_aws_creds_provider_new(&env);
	assert_int_equal(fl_aws_creds_get(&a, p, 0, &err), 0);
	assert_int_equal(fl_aws_creds_get(&b, p, 1LL << 40, &err), 0);
	assert_string_equal(b.access_key_id, "AKIADEFAULT");
	fl_aws_creds_provider_free(p);
	fl_aws_creds_provider_free(NULL);
}

struct worker {
	struct fl_aws_creds_provider *p;
	long long now;
	int rc;
	char key[FL_AWS_KEY_MAX];
};

static void *work(void *payload)
{
	struct worker *w = payload;
	struct fl_aws_creds c;
	struct fl_error err = FL_ERROR_INIT;

	for (int i = 0; i < 20 && w->rc == 0; i++)
		w->rc = fl_aws_creds_get(&c, w->p, w->now, &err);
	memcpy(w->key, c.access_key_id, sizeof(w->key));
	return NULL;
}

/* Many threads at once: one request to STS, the same credentials for all. */
static void test_threads(void **state)
{
	struct vars v;
	struct fl_aws_env env;
	struct worker w[8];
	pthread_t t[8];
	(void)state;

	vars_init(&v);
	set_web_identity(&v);
	env = env_of(&v);
	struct fl_aws_creds_provider *p = fl_aws_creds_provider_new(&env);
	int sts = fake_count("sts");
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ p, fl_time_parse(EXPIRATION) - 3600, 0, "" };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].rc, 0);
		assert_string_equal(w[i].key, w[0].key);
	}
	assert_int_equal(fake_count("sts"), sts + 1);
	fl_aws_creds_provider_free(p);
}

/* Packed credentials take their own size and unpack to the same fields, a token as long as the field holds too. */
static void test_packed(void **state)
{
	(void)state;
	struct fl_aws_creds c, back;
	struct fl_aws_creds_packed p = { 0 };
	memset(&c, 0, sizeof(c));
	snprintf(c.access_key_id, sizeof(c.access_key_id), "ASIAEXAMPLE");
	snprintf(c.secret_access_key, sizeof(c.secret_access_key), "wJalrXUtnFEMI/K7MDENG");
	memset(c.session_token, 'T', 1000);
	c.expiration = 1795610700;
	c.source = "web identity";
	fl_aws_creds_pack(&p, &c);
	assert_int_equal(p.len, strlen("ASIAEXAMPLE") + strlen("wJalrXUtnFEMI/K7MDENG") + 1000 + 3);
	memset(&back, 'x', sizeof(back));
	fl_aws_creds_unpack(&back, &p);
	assert_memory_equal(&back, &c, sizeof(c));

	/* Packing again replaces; long-term keys have no token; the longest token fits. */
	memset(c.session_token, 0, sizeof(c.session_token));
	c.expiration = 0;
	fl_aws_creds_pack(&p, &c);
	fl_aws_creds_unpack(&back, &p);
	assert_memory_equal(&back, &c, sizeof(c));
	memset(c.session_token, 'L', sizeof(c.session_token) - 1);
	fl_aws_creds_pack(&p, &c);
	fl_aws_creds_unpack(&back, &p);
	assert_memory_equal(&back, &c, sizeof(c));
	fl_aws_creds_packed_release(&p);
	assert_null(p.buf);
	fl_aws_creds_packed_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_env_half),
		cmocka_unit_test(test_env_beats_everything),
		cmocka_unit_test(test_web_identity),
		cmocka_unit_test(test_web_identity_endpoint),
		cmocka_unit_test(test_web_identity_errors),
		cmocka_unit_test(test_shared_file),
		cmocka_unit_test(test_shared_file_errors),
		cmocka_unit_test(test_container),
		cmocka_unit_test(test_container_errors),
		cmocka_unit_test(test_imds),
		cmocka_unit_test(test_fake_imds_strict),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_packed),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
