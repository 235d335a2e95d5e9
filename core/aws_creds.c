/*
 * AWS base credentials: see aws_creds.h. Each source is a function that
 * fills the credentials (0), says it is not configured (SKIP), or fails (a
 * negative code, which ends the chain as in the SDKs). Messages name the
 * source, the variable or the file, never a value that could be a secret;
 * answers of services are never quoted whole, and a last pass blanks any
 * secret that a service's own message might have echoed.
 */
#include "core/aws_creds.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/aws_call.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "core/http.h"
#include "core/json.h"
#include "core/node.h"
#include "core/sigv4.h"
#include "core/xml.h"
#include "core/banned.h"

#define SKIP 1
#define ANSWER_MAX (1024 * 1024)
#define TOKEN_FILE_MAX (64 * 1024)
#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_TTL_S "21600"
#define CONTAINER_HOST "http://169.254.170.2"

/* ---- the environment ---- */

static const char *process_get(const char *name, void *payload)
{
	(void)payload;
	return getenv(name);
}

const struct fl_aws_env fl_aws_env_process = { process_get, NULL };

const char *fl_aws_env_get(const struct fl_aws_env *env, const char *name)
{
	const char *v = env && env->get ? env->get(name, env->payload) : getenv(name);

	return v && *v ? v : NULL;
}

/* ---- secrets kept out of messages ---- */

void fl_aws_blank(char *s, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	char *at;

	if (n < 4)
		return;
	while ((at = strstr(s, secret)) != NULL) {
		memcpy(at, "***", 3);
		memmove(at + 3, at + n, strlen(at + n) + 1);
	}
}

/* Blanks secret out of err's message. */
static void scrub(struct fl_error *err, const char *secret)
{
	if (err)
		fl_aws_blank(err->msg, secret);
}

static void wipe_buf(struct fl_buf *buf)
{
	if (buf->cap)
		memset(buf->ptr, 0, buf->len);
	fl_buf_release(buf);
}

void fl_aws_creds_wipe(struct fl_aws_creds *creds)
{
	if (!creds)
		return;
	memset(creds->secret_access_key, 0, sizeof(creds->secret_access_key));
	memset(creds->session_token, 0, sizeof(creds->session_token));
}

void fl_aws_creds_packed_release(struct fl_aws_creds_packed *p)
{
	if (p->buf)
		fl_sigv4_wipe(p->buf, p->len);
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

void fl_aws_creds_pack(struct fl_aws_creds_packed *out, const struct fl_aws_creds *c)
{
	const char *parts[] = { c->access_key_id, c->secret_access_key, c->session_token };
	const size_t caps[] = { sizeof(c->access_key_id), sizeof(c->secret_access_key), sizeof(c->session_token) };
	size_t lens[3], total = 0;
	fl_aws_creds_packed_release(out);
	for (size_t i = 0; i < 3; i++) {
		lens[i] = strnlen(parts[i], caps[i] - 1);
		total += lens[i] + 1;
	}
	out->buf = fl_malloc(total);
	out->len = total;
	for (size_t i = 0, at = 0; i < 3; at += lens[i++] + 1) {
		memcpy(out->buf + at, parts[i], lens[i]);
		out->buf[at + lens[i]] = '\0';
	}
	out->expiration = c->expiration;
	out->source = c->source;
}

void fl_aws_creds_unpack(struct fl_aws_creds *out, const struct fl_aws_creds_packed *p)
{
	char *parts[] = { out->access_key_id, out->secret_access_key, out->session_token };
	memset(out, 0, sizeof(*out));
	/* Each part was cut to fit its field when packed. */
	for (size_t i = 0, at = 0; i < 3; i++) {
		size_t n = strlen(p->buf + at);
		memcpy(parts[i], p->buf + at, n);
		at += n + 1;
	}
	out->expiration = p->expiration;
	out->source = p->source;
}

/* Copies src into dst, refusing one that does not fit; what names it in the message. */
static int copy_field(char *dst, size_t cap, const char *src, const char *source, const char *what,
		      struct fl_error *err)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap)
		return fl_error_set(err, FL_ELIMIT, "%s: %s is longer than %zu bytes", source, what, cap - 1);
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

static int fill(struct fl_aws_creds *out, const char *id, const char *secret, const char *token,
		const char *source, struct fl_error *err)
{
	int rc;

	if ((rc = copy_field(out->access_key_id, sizeof(out->access_key_id), id, source,
			     "the access key id", err)) ||
	    (rc = copy_field(out->secret_access_key, sizeof(out->secret_access_key), secret, source,
			     "the secret access key", err)) ||
	    (rc = copy_field(out->session_token, sizeof(out->session_token), token, source,
			     "the session token", err)))
		return rc;
	out->source = source;
	return 0;
}

/* Trims white space at both ends of buf in place. */
static void trim_buf(struct fl_buf *buf)
{
	size_t start = 0;

	while (buf->len && isspace((unsigned char)buf->ptr[buf->len - 1]))
		fl_buf_truncate(buf, buf->len - 1);
	while (start < buf->len && isspace((unsigned char)buf->ptr[start]))
		start++;
	if (start) {
		memmove(buf->ptr, buf->ptr + start, buf->len - start + 1);
		buf->len -= start;
	}
}

/* Reads a token file into out, trimmed; what names the variable that named the file. */
static int read_token_file(struct fl_buf *out, const char *path, const char *source, const char *what,
			   struct fl_error *err)
{
	struct fl_error ferr = FL_ERROR_INIT;
	int rc = fl_file_read(out, path, &ferr);

	if (rc)
		return fl_error_set(err, rc, "%s: cannot read %s '%s': %s", source, what, path, ferr.msg);
	trim_buf(out);
	if (out->len == 0)
		return fl_error_set(err, FL_EINPUT, "%s: %s '%s' is empty", source, what, path);
	if (strpbrk(out->ptr, "\r\n") || strlen(out->ptr) != out->len)
		return fl_error_set(err, FL_EINPUT, "%s: %s '%s' holds more than one line", source, what, path);
	return 0;
}

/* ---- HTTP ---- */

struct call {
	const char *method;
	const char *url;
	const char *const *headers;
	const char *body;
	unsigned timeout_ms;
	unsigned attempts;
};

/* Performs c into resp (whose body the caller initialised); errors are prefixed with source. */
static int http_call(struct fl_http_response *resp, const struct call *c, const char *source,
		     struct fl_error *err)
{
	struct fl_http_request req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.method = c->method;
	req.url = c->url;
	req.headers = c->headers;
	req.body = c->body;
	req.body_len = c->body ? strlen(c->body) : 0;
	req.timeout_ms = c->timeout_ms;
	req.retry.attempts = c->attempts;
	rc = fl_http_request(resp, &req, err);
	if (rc)
		fl_error_prefix(err, "%s: ", source);
	return rc;
}

/* The host of url (without port or brackets) into out; false when it has none. */
static bool url_host(char *out, size_t cap, const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (!p)
		return false;
	p += 3;
	const char *at = p + strcspn(p, "/?#");
	const char *user = memchr(p, '@', (size_t)(at - p));
	if (user)
		p = user + 1;
	if (*p == '[')
		n = strcspn(++p, "]");
	else
		n = strcspn(p, ":/?#");
	if (n == 0 || n >= cap)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* https anywhere, http only to loopback (and, for the container source, the container hosts). */
static bool url_allowed(const char *url, bool container)
{
	static const char *const hosts[] = { "169.254.170.2", "169.254.170.23", "fd00:ec2::23" };
	char host[256];

	if (fl_http_token_allowed(url))
		return true;
	if (!container || strncasecmp(url, "http://", 7) != 0 || !url_host(host, sizeof(host), url))
		return false;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		if (strcasecmp(host, hosts[i]) == 0)
			return true;
	return false;
}

/* Names the host of url for a message, never the rest (a URL may carry a query). */
static const char *shown_host(char *buf, size_t cap, const char *url)
{
	return url_host(buf, cap, url) ? buf : "(no host)";
}

/* ---- the environment's keys ---- */

static int from_env(struct fl_aws_creds *out, const struct fl_aws_env *env, struct fl_error *err)
{
	const char *id = fl_aws_env_get(env, "AWS_ACCESS_KEY_ID");
	const char *secret = fl_aws_env_get(env, "AWS_SECRET_ACCESS_KEY");

	if (!id && !secret)
		return SKIP;
	if (!id || !secret)
		return fl_error_set(err, FL_EINPUT, "environment: %s is set but %s is not",
				    id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				    id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	return fill(out, id, secret, fl_aws_env_get(env, "AWS_SESSION_TOKEN"), "environment", err);
}

/* ---- web identity ---- */

/* The STS endpoint as the SDKs choose it, into out. */
static int sts_endpoint(struct fl_buf *out, const struct fl_aws_env *env, struct fl_error *err)
{
	const char *url = fl_aws_env_get(env, "AWS_ENDPOINT_URL_STS");
	const char *region = fl_aws_env_get(env, "AWS_REGION");

	if (!url)
		url = fl_aws_env_get(env, "AWS_ENDPOINT_URL");
	if (url)
		return fl_buf_puts(out, url);
	if (!region)
		region = fl_aws_env_get(env, "AWS_DEFAULT_REGION");
	if (!region)
		return fl_buf_puts(out, "https://sts.amazonaws.com");
	for (const char *p = region; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
			return fl_error_set(err, FL_EINPUT, "web identity: invalid region '%s' (AWS_REGION)",
					    region);
	return fl_buf_printf(out, "https://sts.%s.amazonaws.com", region);
}

#define STS_CREDS "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/"

/* Reads STS's answer (an error or credentials) into out. */
static int sts_answer(struct fl_aws_creds *out, const struct fl_http_response *resp, struct fl_error *err)
{
	struct fl_xml_doc doc;
	struct fl_error xerr = FL_ERROR_INIT;
	int rc = fl_xml_parse(&doc, resp->body.ptr, resp->body.len, NULL, &xerr);

	if (resp->status != 200) {
		const char *code = rc ? NULL : fl_xml_text(&doc, "ErrorResponse/Error/Code");
		const char *msg = rc ? NULL : fl_xml_text(&doc, "ErrorResponse/Error/Message");
		rc = fl_error_set(err, resp->status == 400 || resp->status == 403 ? FL_EREFUSED : FL_EIO,
				  "web identity: STS answered %ld %.80s: %.200s", resp->status,
				  code ? code : "(no error code)", msg ? msg : "");
		goto out;
	}
	if (rc) {
		rc = fl_error_set(err, FL_EIO, "web identity: STS answer is not XML (%s)", xerr.msg);
		goto out;
	}
	const char *id = fl_xml_text(&doc, STS_CREDS "AccessKeyId");
	const char *secret = fl_xml_text(&doc, STS_CREDS "SecretAccessKey");
	const char *token = fl_xml_text(&doc, STS_CREDS "SessionToken");
	const char *expiration = fl_xml_text(&doc, STS_CREDS "Expiration");
	if (!id || !*id || !secret || !*secret || !token || !*token) {
		rc = fl_error_set(err, FL_EIO, "web identity: STS answer lacks Credentials");
		goto out;
	}
	out->expiration = fl_time_parse(expiration);
	if (out->expiration <= 0) {
		rc = fl_error_set(err, FL_EIO, "web identity: STS answer has no valid Expiration");
		goto out;
	}
	rc = fill(out, id, secret, token, "web identity", err);
out:
	fl_xml_doc_release(&doc);
	return rc;
}

static int from_web_identity(struct fl_aws_creds *out, const struct fl_aws_env *env, long long now,
			     struct fl_error *err)
{
	static const char *const headers[] = {
		"Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL };
	const char *file = fl_aws_env_get(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = fl_aws_env_get(env, "AWS_ROLE_ARN");
	const char *session = fl_aws_env_get(env, "AWS_ROLE_SESSION_NAME");
	struct fl_buf token, url, body, name;
	struct fl_http_response resp;
	char host[256];
	int rc;

	if (!file)
		return SKIP;
	if (!role)
		return fl_error_set(err, FL_EINPUT,
				    "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
	fl_buf_init(&token, TOKEN_FILE_MAX);
	fl_buf_init(&url, 0);
	fl_buf_init(&body, 0);
	fl_buf_init(&name, 0);
	fl_buf_init(&resp.body, ANSWER_MAX);
	if ((rc = read_token_file(&token, file, "web identity", "AWS_WEB_IDENTITY_TOKEN_FILE", err)) ||
	    (rc = sts_endpoint(&url, env, err)))
		goto out;
	if (!url_allowed(url.ptr, false)) {
		rc = fl_error_set(err, FL_EINPUT,
				  "web identity: refusing plain http to '%s' for STS (https, or http to a loopback address only)",
				  shown_host(host, sizeof(host), url.ptr));
		goto out;
	}
	if (session)
		fl_buf_puts(&name, session);
	else
		fl_buf_printf(&name, "flotilla-%lld", now);
	fl_aws_form_put(&body, "Action", "AssumeRoleWithWebIdentity");
	fl_aws_form_put(&body, "Version", "2011-06-15");
	fl_aws_form_put(&body, "RoleArn", role);
	fl_aws_form_put(&body, "RoleSessionName", name.ptr);
	fl_aws_form_put(&body, "WebIdentityToken", token.ptr);
	struct call c = { "POST", url.ptr, headers, body.ptr, 0, 0 };
	if ((rc = http_call(&resp, &c, "web identity", err)) == 0)
		rc = sts_answer(out, &resp, err);
	if (rc)
		scrub(err, token.ptr);
out:
	wipe_buf(&resp.body);
	wipe_buf(&body);
	wipe_buf(&token);
	fl_buf_release(&name);
	fl_buf_release(&url);
	return rc;
}

/* ---- the shared credentials file ---- */

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

struct ini_profile {
	bool found;
	char *id, *secret, *token; /* point into the text; NULL when absent */
};

/* Finds profile's keys in the INI text (modified in place: lines cut, values trimmed). */
static void ini_find(struct ini_profile *out, char *text, const char *profile)
{
	bool in = false;

	memset(out, 0, sizeof(*out));
	for (char *line = text; line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *s = trim(line);
		line = nl ? nl + 1 : NULL;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (close)
				*close = '\0';
			in = strcmp(trim(s + 1), profile) == 0;
			out->found = out->found || in;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!in || !eq)
			continue;
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (strcasecmp(key, "aws_access_key_id") == 0)
			out->id = value;
		else if (strcasecmp(key, "aws_secret_access_key") == 0)
			out->secret = value;
		else if (strcasecmp(key, "aws_session_token") == 0)
			out->token = value;
	}
}

static int from_shared_file(struct fl_aws_creds *out, const struct fl_aws_env *env, struct fl_error *err)
{
	const char *file = fl_aws_env_get(env, "AWS_SHARED_CREDENTIALS_FILE");
	const char *home = fl_aws_env_get(env, "HOME");
	const char *profile = fl_aws_env_get(env, "AWS_PROFILE");
	bool named = profile != NULL;
	struct fl_buf path, text;
	struct fl_error ferr = FL_ERROR_INIT;
	struct ini_profile p;
	int rc;

	if (!file && !home)
		return named ? fl_error_set(err, FL_EINPUT,
					    "shared credentials file: AWS_PROFILE is '%s' but neither "
					    "AWS_SHARED_CREDENTIALS_FILE nor HOME is set", profile)
			     : SKIP;
	if (!named)
		profile = "default";
	fl_buf_init(&path, 0);
	fl_buf_init(&text, ANSWER_MAX);
	if (file)
		fl_buf_puts(&path, file);
	else
		fl_buf_printf(&path, "%s/.aws/credentials", home);
	rc = fl_file_read(&text, path.ptr, &ferr);
	if (rc == FL_ENOTFOUND && !named) {
		rc = SKIP;
		goto out;
	}
	if (rc) {
		rc = fl_error_set(err, rc, "shared credentials file '%s': %s", path.ptr, ferr.msg);
		goto out;
	}
	ini_find(&p, text.ptr, profile);
	if (!p.found || (!p.id && !p.secret)) {
		rc = named ? fl_error_set(err, FL_EINPUT,
					  "shared credentials file '%s': no profile '%s' with keys (AWS_PROFILE)",
					  path.ptr, profile)
			   : SKIP;
		goto out;
	}
	if (!p.id || !*p.id || !p.secret || !*p.secret) {
		rc = fl_error_set(err, FL_EINPUT, "shared credentials file '%s': profile '%s' has no %s",
				  path.ptr, profile, p.id && *p.id ? "aws_secret_access_key" : "aws_access_key_id");
		goto out;
	}
	rc = fill(out, p.id, p.secret, p.token, "shared credentials file", err);
out:
	wipe_buf(&text);
	fl_buf_release(&path);
	return rc;
}

/* ---- container credentials and instance metadata: a JSON answer ---- */

static const char *json_str(const struct fl_node *map, const char *key)
{
	const struct fl_node *v = fl_node_get(map, key);

	return v && v->type == FL_NODE_STR ? v->v.str.ptr : NULL;
}

/* Reads {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} into out. */
static int json_creds(struct fl_aws_creds *out, const struct fl_buf *body, const char *source,
		      struct fl_error *err)
{
	struct fl_arena arena;
	struct fl_source src = { "", body->ptr, body->len };
	struct fl_error jerr = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	int rc;

	fl_arena_init(&arena, 4096);
	/* The parser's error quotes the source line, which may hold a secret: only the position is kept. */
	if (fl_json_parse(&root, &arena, &src, &jerr) != 0 || root->type != FL_NODE_MAP) {
		rc = fl_error_set(err, FL_EIO, "%s: the answer is not a JSON object (line %u, column %u)",
				  source, jerr.line, jerr.col);
		goto out;
	}
	const char *code = json_str(root, "Code");
	if (code && strcmp(code, "Success") != 0) {
		rc = fl_error_set(err, FL_EIO, "%s: the answer's Code is '%.80s', not 'Success'", source, code);
		goto out;
	}
	const char *id = json_str(root, "AccessKeyId");
	const char *secret = json_str(root, "SecretAccessKey");
	if (!id || !*id || !secret || !*secret) {
		rc = fl_error_set(err, FL_EIO, "%s: the answer lacks AccessKeyId or SecretAccessKey", source);
		goto out;
	}
	const char *expiration = json_str(root, "Expiration");
	out->expiration = expiration ? fl_time_parse(expiration) : 0;
	if (expiration && out->expiration <= 0) {
		rc = fl_error_set(err, FL_EIO, "%s: the answer's Expiration is not a time", source);
		goto out;
	}
	rc = fill(out, id, secret, json_str(root, "Token"), source, err);
out:
	fl_arena_release(&arena);
	return rc;
}

static int from_container(struct fl_aws_creds *out, const struct fl_aws_env *env, struct fl_error *err)
{
	const char *full = fl_aws_env_get(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = fl_aws_env_get(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *file = fl_aws_env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *value = fl_aws_env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *source = "container credentials";
	const char *headers[2] = { NULL, NULL };
	struct fl_buf url, token, auth;
	struct fl_http_response resp;
	char host[256];
	int rc = 0;

	if (!full && !rel)
		return SKIP;
	fl_buf_init(&url, 0);
	fl_buf_init(&token, TOKEN_FILE_MAX);
	fl_buf_init(&auth, 0);
	fl_buf_init(&resp.body, ANSWER_MAX);
	if (rel)
		fl_buf_printf(&url, "%s%s%s", CONTAINER_HOST, *rel == '/' ? "" : "/", rel);
	else
		fl_buf_puts(&url, full);
	if (!url_allowed(url.ptr, true)) {
		rc = fl_error_set(err, FL_EINPUT,
				  "%s: refusing AWS_CONTAINER_CREDENTIALS_FULL_URI to '%s': it must be https, "
				  "or http to a loopback address or the container host",
				  source, shown_host(host, sizeof(host), url.ptr));
		goto out;
	}
	if (file)
		rc = read_token_file(&token, file, source, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", err);
	else if (value && strpbrk(value, "\r\n"))
		rc = fl_error_set(err, FL_EINPUT, "%s: AWS_CONTAINER_AUTHORIZATION_TOKEN holds a line break", source);
	else if (value)
		fl_buf_puts(&token, value);
	if (rc)
		goto out;
	if (token.len) {
		fl_buf_printf(&auth, "Authorization: %s", token.ptr);
		headers[0] = auth.ptr;
	}
	struct call c = { "GET", url.ptr, headers, NULL, 5000, 3 };
	if ((rc = http_call(&resp, &c, source, err)))
		goto out;
	if (resp.status != 200) {
		rc = fl_error_set(err, resp.status == 401 || resp.status == 403 ? FL_EREFUSED : FL_EIO,
				  "%s: '%s' answered %ld", source, shown_host(host, sizeof(host), url.ptr),
				  resp.status);
		goto out;
	}
	rc = json_creds(out, &resp.body, source, err);
out:
	if (rc)
		scrub(err, token.ptr);
	wipe_buf(&resp.body);
	wipe_buf(&auth);
	wipe_buf(&token);
	fl_buf_release(&url);
	return rc;
}

/* ---- instance metadata (IMDSv2) ---- */

/* One request to IMDS at path; a connection failure is SKIP with a note, as off EC2. */
static int imds_call(struct fl_http_response *resp, const char *method, const char *base, const char *path,
		     const char *header, char *note, size_t note_cap, struct fl_error *err)
{
	const char *headers[2] = { header, NULL };
	struct fl_buf url;
	struct fl_error herr = FL_ERROR_INIT;
	int rc;

	fl_buf_init(&url, 0);
	fl_buf_printf(&url, "%s%s", base, path);
	struct call c = { method, url.ptr, headers, NULL, 1000, 1 };
	fl_buf_clear(&resp->body);
	rc = http_call(resp, &c, "instance metadata", &herr);
	if (rc == FL_EIO) {
		snprintf(note, note_cap, "%.200s", herr.msg);
		rc = SKIP;
	} else if (rc && err) {
		*err = herr;
	} else if (resp->status != 200) {
		rc = fl_error_set(err, resp->status == 401 || resp->status == 403 ? FL_EREFUSED : FL_EIO,
				  "instance metadata: %s %s answered %ld", method, path, resp->status);
	}
	fl_buf_release(&url);
	return rc;
}

static bool role_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("+=,.@_-", *s))
			return false;
	return true;
}

static int from_imds(struct fl_aws_creds *out, const struct fl_aws_env *env, char *note, size_t note_cap,
		     struct fl_error *err)
{
	const char *disabled = fl_aws_env_get(env, "AWS_EC2_METADATA_DISABLED");
	const char *endpoint = fl_aws_env_get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	struct fl_buf base, header, path;
	struct fl_http_response resp;
	int rc;

	if (disabled && strcasecmp(disabled, "true") == 0) {
		snprintf(note, note_cap, "instance metadata: disabled by AWS_EC2_METADATA_DISABLED");
		return SKIP;
	}
	fl_buf_init(&base, 0);
	fl_buf_init(&header, 0);
	fl_buf_init(&path, 0);
	fl_buf_init(&resp.body, ANSWER_MAX);
	fl_buf_puts(&base, endpoint ? endpoint : IMDS_DEFAULT);
	while (base.len && base.ptr[base.len - 1] == '/')
		fl_buf_truncate(&base, base.len - 1);

	rc = imds_call(&resp, "PUT", base.ptr, "/latest/api/token",
		       "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TTL_S, note, note_cap, err);
	if (rc)
		goto out;
	trim_buf(&resp.body);
	if (resp.body.len == 0 || strpbrk(resp.body.ptr, "\r\n") || strlen(resp.body.ptr) != resp.body.len) {
		rc = fl_error_set(err, FL_EIO, "instance metadata: the session token is not one line");
		goto out;
	}
	fl_buf_printf(&header, "X-aws-ec2-metadata-token: %s", resp.body.ptr);
	rc = imds_call(&resp, "GET", base.ptr, "/latest/meta-data/iam/security-credentials/", header.ptr,
		       note, note_cap, err);
	if (rc == FL_EIO && resp.status == 404) {
		fl_error_clear(err);
		snprintf(note, note_cap, "instance metadata: no IAM role is attached to this instance");
		rc = SKIP;
	}
	if (rc)
		goto out;
	resp.body.len = strcspn(resp.body.ptr, "\r\n");
	resp.body.ptr[resp.body.len] = '\0';
	if (!role_name_ok(resp.body.ptr)) {
		rc = fl_error_set(err, FL_EIO, "instance metadata: the role name is not valid");
		goto out;
	}
	fl_buf_printf(&path, "/latest/meta-data/iam/security-credentials/%s", resp.body.ptr);
	rc = imds_call(&resp, "GET", base.ptr, path.ptr, header.ptr, note, note_cap, err);
	if (rc == 0)
		rc = json_creds(out, &resp.body, "instance metadata", err);
out:
	wipe_buf(&resp.body);
	wipe_buf(&header);
	fl_buf_release(&path);
	fl_buf_release(&base);
	return rc;
}

/* ---- the chain ---- */

int fl_aws_creds_resolve(struct fl_aws_creds *out, const struct fl_aws_env *env, long long now,
			 struct fl_error *err)
{
	char note[FL_ERROR_MSG_MAX / 2] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	rc = from_env(out, env, err);
	if (rc == SKIP)
		rc = from_web_identity(out, env, now, err);
	if (rc == SKIP)
		rc = from_shared_file(out, env, err);
	if (rc == SKIP)
		rc = from_container(out, env, err);
	if (rc == SKIP)
		rc = from_imds(out, env, note, sizeof(note), err);
	if (rc == SKIP)
		rc = fl_error_set(err, FL_ENOTFOUND,
				  "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID), no web "
				  "identity (AWS_WEB_IDENTITY_TOKEN_FILE), no profile in the shared credentials "
				  "file, no container credentials; %s", note);
	if (rc) {
		scrub(err, fl_aws_env_get(env, "AWS_SECRET_ACCESS_KEY"));
		scrub(err, fl_aws_env_get(env, "AWS_SESSION_TOKEN"));
		scrub(err, fl_aws_env_get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN"));
		fl_aws_creds_wipe(out);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

/* ---- the provider ---- */

struct fl_aws_creds_provider {
	struct fl_aws_env env;
	pthread_mutex_t lock;
	bool have;
	struct fl_aws_creds creds;
};

struct fl_aws_creds_provider *fl_aws_creds_provider_new(const struct fl_aws_env *env)
{
	struct fl_aws_creds_provider *p = fl_calloc(1, sizeof(*p));

	p->env = env ? *env : fl_aws_env_process;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void fl_aws_creds_provider_free(struct fl_aws_creds_provider *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	fl_aws_creds_wipe(&p->creds);
	free(p);
}

static bool fresh_enough(const struct fl_aws_creds *c, long long now)
{
	return c->expiration == 0 || c->expiration - now > FL_AWS_CREDS_REFRESH_S;
}

int fl_aws_creds_get(struct fl_aws_creds *out, struct fl_aws_creds_provider *p, long long now,
		     struct fl_error *err)
{
	struct fl_aws_creds *found = NULL;
	struct fl_error ferr = FL_ERROR_INIT;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->have && fresh_enough(&p->creds, now)) {
		*out = p->creds;
		goto out;
	}
	found = fl_malloc(sizeof(*found));
	rc = fl_aws_creds_resolve(found, &p->env, now, &ferr);
	if (rc == 0) {
		p->creds = *found;
		p->have = true;
		*out = p->creds;
	} else if (p->have && p->creds.expiration > now) {
		/* Still valid for a while: the next call tries again. */
		*out = p->creds;
		rc = 0;
	} else {
		if (err)
			*err = ferr;
	}
out:
	pthread_mutex_unlock(&p->lock);
	if (found) {
		fl_aws_creds_wipe(found);
		free(found);
	}
	return rc;
}
