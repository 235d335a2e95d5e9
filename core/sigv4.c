/*
 * AWS Signature Version 4 (see sigv4.h): the canonical request, the string
 * to sign, the derived key and the Authorization header, after AWS's
 * "Create a signed AWS API request" rules. The only file that includes
 * OpenSSL's HMAC and digest headers; its failures become FL_EINTERNAL here.
 */
#include "core/sigv4.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/banned.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
/* AWS secret keys are 40 characters; anything much longer is not one. */
#define SECRET_MAX 128

/*
 * The buffers here have no maximum, so fl_buf_put and friends cannot fail
 * (they abort on out-of-memory like every allocation): their results are
 * ignored with (void).
 */

static const char hexdigits[] = "0123456789abcdef";

static void hex_encode(char *out, const unsigned char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/* The message of OpenSSL's oldest queued error, which names no key material. */
static int openssl_error(struct fl_error *err, const char *what)
{
	char detail[256] = "no detail";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, detail, sizeof(detail));
	ERR_clear_error();
	return fl_error_set(err, FL_EINTERNAL, "aws signature: %s failed (openssl: %s)", what, detail);
}

static int sha256_hex(char out[65], const void *data, size_t len, struct fl_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	const EVP_MD *sha256 = EVP_sha256();
	if (!sha256 || EVP_Digest(data, len, md, &md_len, sha256, NULL) != 1 || md_len != 32)
		return openssl_error(err, "SHA-256");
	hex_encode(out, md, md_len);
	return 0;
}

static int hmac_sha256(unsigned char out[FL_SIGV4_KEY_LEN], const void *key, size_t key_len, const void *data,
		       size_t len, struct fl_error *err)
{
	unsigned int md_len = 0;
	const EVP_MD *sha256 = EVP_sha256();
	if (!sha256 || key_len > INT_MAX || !HMAC(sha256, key, (int)key_len, data, len, out, &md_len) ||
	    md_len != FL_SIGV4_KEY_LEN)
		return openssl_error(err, "HMAC-SHA256");
	return 0;
}

void fl_sigv4_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

int fl_sigv4_signing_key(unsigned char out[FL_SIGV4_KEY_LEN], const char *secret, const char *date,
			 const char *region, const char *service, struct fl_error *err)
{
	unsigned char ksecret[4 + SECRET_MAX], k[FL_SIGV4_KEY_LEN];
	size_t secret_len = secret ? strlen(secret) : 0;
	int rc;

	if (secret_len == 0)
		return fl_error_set(err, FL_EINPUT, "aws signature: the secret access key is empty");
	if (secret_len > SECRET_MAX)
		return fl_error_set(err, FL_EINPUT,
				    "aws signature: the secret access key is longer than %d bytes",
				    SECRET_MAX);
	memcpy(ksecret, "AWS4", 4);
	memcpy(ksecret + 4, secret, secret_len);
	if ((rc = hmac_sha256(k, ksecret, 4 + secret_len, date, strlen(date), err)) < 0 ||
	    (rc = hmac_sha256(k, k, sizeof(k), region, strlen(region), err)) < 0 ||
	    (rc = hmac_sha256(k, k, sizeof(k), service, strlen(service), err)) < 0 ||
	    (rc = hmac_sha256(out, k, sizeof(k), "aws4_request", 12, err)) < 0)
		OPENSSL_cleanse(out, FL_SIGV4_KEY_LEN);
	OPENSSL_cleanse(ksecret, sizeof(ksecret));
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

/* RFC 3986's unreserved set, which SigV4 leaves as it is. */
static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

void fl_sigv4_uri_encode(struct fl_buf *out, const char *s, size_t len, bool keep_slash)
{
	static const char upper[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			(void)fl_buf_putc(out, (char)c);
		} else {
			char pct[3] = { '%', upper[c >> 4], upper[c & 0xf] };
			(void)fl_buf_put(out, pct, sizeof(pct));
		}
	}
}

/*
 * RFC 3986 section 5.2.4 (remove "." and ".." segments) and, as AWS asks,
 * empty segments too; a trailing slash stays when some segment is left.
 */
static void normalize_path(struct fl_buf *out, const char *path)
{
	size_t len = strlen(path);
	bool leading = len > 0 && path[0] == '/', trailing = len > 0 && path[len - 1] == '/';
	size_t *starts = fl_calloc(len / 2 + 1, sizeof(*starts));
	size_t depth = 0;

	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		size_t n = j - i;
		if (n == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (depth > 0)
				fl_buf_truncate(out, starts[--depth]);
		} else if (n > 0 && !(n == 1 && path[i] == '.')) {
			starts[depth++] = out->len;
			if (out->len > 0 || leading)
				(void)fl_buf_putc(out, '/');
			(void)fl_buf_put(out, path + i, n);
		}
		i = j + 1;
	}
	free(starts);
	if (out->len == 0 && leading)
		(void)fl_buf_putc(out, '/');
	else if (depth > 0 && trailing)
		(void)fl_buf_putc(out, '/');
}

/* The path encoded once more (S3: as sent); "" becomes "/". */
static void canonical_uri(struct fl_buf *out, const char *path, bool s3)
{
	struct fl_buf norm = FL_BUF_INIT;
	if (path[0] == '\0') {
		(void)fl_buf_putc(out, '/');
	} else if (s3) {
		(void)fl_buf_puts(out, path);
	} else {
		normalize_path(&norm, path);
		fl_sigv4_uri_encode(out, norm.ptr, norm.len, true);
	}
	fl_buf_release(&norm);
}

struct encoded_pair {
	char *name, *value;
};

static int compare_pairs(const void *a, const void *b)
{
	const struct encoded_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static char *encode_string(const char *s)
{
	struct fl_buf b = FL_BUF_INIT;
	fl_sigv4_uri_encode(&b, s, strlen(s), false);
	return fl_buf_detach(&b, NULL);
}

/* Names and values encoded, sorted by name and then value, joined with '&'. */
static void canonical_query(struct fl_buf *out, const struct fl_sigv4_param *query, size_t len)
{
	struct encoded_pair *pairs = fl_calloc(len ? len : 1, sizeof(*pairs));
	for (size_t i = 0; i < len; i++) {
		pairs[i].name = encode_string(query[i].name);
		pairs[i].value = encode_string(query[i].value ? query[i].value : "");
	}
	qsort(pairs, len, sizeof(*pairs), compare_pairs);
	for (size_t i = 0; i < len; i++) {
		(void)fl_buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
}

/* A header to sign: its lower-case name, its trimmed value, its place in the request. */
struct header {
	char *name, *value;
	size_t order;
};

static int compare_headers(const void *a, const void *b)
{
	const struct header *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

static char *lower_dup(const char *s)
{
	char *d = fl_strdup(s);
	for (char *p = d; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* The value without leading and trailing blanks, each run of blanks inside folded to one space. */
static char *trim_dup(const char *s)
{
	struct fl_buf b = FL_BUF_INIT;
	bool blank = false;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t') {
			blank = true;
			continue;
		}
		if (blank && b.len > 0)
			(void)fl_buf_putc(&b, ' ');
		blank = false;
		(void)fl_buf_putc(&b, *s);
	}
	return fl_buf_detach(&b, NULL);
}

static void header_add(struct header *h, size_t *len, const char *name, const char *value)
{
	h[*len].name = lower_dup(name);
	h[*len].value = trim_dup(value);
	h[*len].order = *len;
	(*len)++;
}

/*
 * Appends the canonical headers (each "name:value\n", values of a repeated
 * name joined with ',' in request order) to creq and the signed header
 * list ("a;b;c") to signed_list.
 */
static void canonical_headers(struct fl_buf *creq, struct fl_buf *signed_list, struct header *h, size_t len)
{
	qsort(h, len, sizeof(*h), compare_headers);
	for (size_t i = 0; i < len; i++) {
		bool repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
		if (repeat) {
			(void)fl_buf_printf(creq, ",%s", h[i].value);
			continue;
		}
		(void)fl_buf_printf(creq, "%s%s:%s", i ? "\n" : "", h[i].name, h[i].value);
		(void)fl_buf_printf(signed_list, "%s%s", i ? ";" : "", h[i].name);
	}
	(void)fl_buf_putc(creq, '\n');
}

/* RFC 9110's token characters, which a header name is made of. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Printable ASCII and tabs only: no line break can end a header early. */
static bool is_header_value(const char *s)
{
	for (; *s; s++)
		if ((*s < 0x20 && *s != '\t') || *s == 0x7f || (unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* Non-empty, made of the characters a credential scope or an access key id may hold. */
static bool is_scope_part(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Headers the signer sets itself; a request that brings its own would be signed twice. */
static const char *const reserved_headers[] = {
	"host", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
};

static int check_header(const struct fl_sigv4_param *p, struct fl_error *err)
{
	if (!p->name || !*p->name)
		return fl_error_set(err, FL_EINPUT, "aws signature: a header has no name");
	for (const char *c = p->name; *c; c++)
		if (!is_tchar((unsigned char)*c))
			return fl_error_set(err, FL_EINPUT,
					    "aws signature: header name '%s' is not an HTTP token", p->name);
	for (size_t i = 0; i < sizeof(reserved_headers) / sizeof(reserved_headers[0]); i++)
		if (strcasecmp(p->name, reserved_headers[i]) == 0)
			return fl_error_set(err, FL_EINPUT, "aws signature: header '%s' is set by the signer",
					    p->name);
	if (!p->value || !is_header_value(p->value))
		return fl_error_set(err, FL_EINPUT,
				    "aws signature: the value of header '%s' is not printable ASCII",
				    p->name);
	return 0;
}

static int check_request(const struct fl_sigv4_request *req, const struct fl_sigv4_credentials *cred,
			 const struct fl_sigv4_scope *scope, struct fl_error *err)
{
	if (!req->method || !*req->method ||
	    strspn(req->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(req->method))
		return fl_error_set(err, FL_EINPUT, "aws signature: the method must be upper-case letters");
	if (!req->host || !*req->host || !is_header_value(req->host) || strpbrk(req->host, " \t"))
		return fl_error_set(err, FL_EINPUT, "aws signature: the host is empty or not a host name");
	if (!req->path || (req->path[0] && req->path[0] != '/') || has_control(req->path))
		return fl_error_set(err, FL_EINPUT,
				    "aws signature: the path must be empty or start with '/'");
	for (size_t i = 0; i < req->query_len; i++)
		if (!req->query[i].name)
			return fl_error_set(err, FL_EINPUT, "aws signature: a query parameter has no name");
	for (size_t i = 0; i < req->headers_len; i++) {
		int rc = check_header(&req->headers[i], err);
		if (rc < 0)
			return rc;
	}
	if (req->payload_len && !req->payload)
		return fl_error_set(err, FL_EINPUT, "aws signature: the payload is missing");
	if (!is_scope_part(scope->region) || !is_scope_part(scope->service))
		return fl_error_set(
			err, FL_EINPUT,
			"aws signature: region and service must be letters, digits, '-', '_' or '.'");
	if (!is_scope_part(cred->access_key_id))
		return fl_error_set(err, FL_EINPUT, "aws signature: the access key id is empty or malformed");
	if (cred->session_token && !is_header_value(cred->session_token))
		return fl_error_set(err, FL_EINPUT,
				    "aws signature: the session token is not printable ASCII");
	return 0;
}

static int format_amz_date(char out[17], time_t when, struct fl_error *err)
{
	struct tm tm;
	if (!gmtime_r(&when, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		return fl_error_set(err, FL_EINPUT, "aws signature: the signing time is out of range");
	return 0;
}

/* Method, path, query, headers, signed headers and payload hash, one per line. */
static void build_canonical_request(struct fl_sigv4_signed *out, struct fl_buf *signed_list,
				    const struct fl_sigv4_request *req,
				    const struct fl_sigv4_credentials *cred,
				    const struct fl_sigv4_scope *scope)
{
	struct fl_buf *creq = &out->canonical_request;
	bool token = cred->session_token && *cred->session_token;
	size_t n = 0;
	struct header *h = fl_calloc(req->headers_len + FL_SIGV4_HEADERS_MAX, sizeof(*h));

	for (size_t i = 0; i < req->headers_len; i++)
		header_add(h, &n, req->headers[i].name, req->headers[i].value);
	header_add(h, &n, "host", req->host);
	header_add(h, &n, "x-amz-date", out->amz_date);
	if (token)
		header_add(h, &n, "x-amz-security-token", cred->session_token);
	if (scope->flags & FL_SIGV4_CONTENT_SHA256)
		header_add(h, &n, "x-amz-content-sha256", out->payload_hash);

	(void)fl_buf_printf(creq, "%s\n", req->method);
	canonical_uri(creq, req->path, scope->flags & FL_SIGV4_S3_PATH);
	(void)fl_buf_putc(creq, '\n');
	canonical_query(&out->query, req->query, req->query_len);
	(void)fl_buf_printf(creq, "%s\n", out->query.ptr);
	canonical_headers(creq, signed_list, h, n);
	(void)fl_buf_printf(creq, "\n%s\n%s", signed_list->ptr, out->payload_hash);

	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

static void add_header(struct fl_sigv4_signed *out, const char *name, const char *value)
{
	out->headers[out->headers_len].name = name;
	out->headers[out->headers_len].value = value;
	out->headers_len++;
}

int fl_sigv4_sign(struct fl_sigv4_signed *out, const struct fl_sigv4_request *req,
		  const struct fl_sigv4_credentials *cred, const struct fl_sigv4_scope *scope,
		  struct fl_error *err)
{
	struct fl_buf signed_list = FL_BUF_INIT;
	unsigned char key[FL_SIGV4_KEY_LEN], sig[FL_SIGV4_KEY_LEN];
	char date[9], creq_hash[65], sig_hex[2 * FL_SIGV4_KEY_LEN + 1];
	int rc;

	memset(out, 0, sizeof(*out));
	fl_buf_init(&out->query, 0);
	fl_buf_init(&out->authorization, 0);
	fl_buf_init(&out->canonical_request, 0);
	fl_buf_init(&out->string_to_sign, 0);

	if ((rc = check_request(req, cred, scope, err)) < 0 ||
	    (rc = format_amz_date(out->amz_date, scope->when, err)) < 0 ||
	    (rc = sha256_hex(out->payload_hash, req->payload_len ? req->payload : "", req->payload_len,
			     err)) < 0)
		goto out;
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';

	build_canonical_request(out, &signed_list, req, cred, scope);
	if ((rc = sha256_hex(creq_hash, out->canonical_request.ptr, out->canonical_request.len, err)) < 0)
		goto out;
	(void)fl_buf_printf(&out->string_to_sign, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", out->amz_date,
			    date, scope->region, scope->service, creq_hash);

	if ((rc = fl_sigv4_signing_key(key, cred->secret_access_key, date, scope->region, scope->service,
				       err)) < 0 ||
	    (rc = hmac_sha256(sig, key, sizeof(key), out->string_to_sign.ptr, out->string_to_sign.len, err)) <
		    0)
		goto out;
	hex_encode(sig_hex, sig, sizeof(sig));
	(void)fl_buf_printf(&out->authorization,
			    ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
			    cred->access_key_id, date, scope->region, scope->service, signed_list.ptr,
			    sig_hex);

	add_header(out, "Authorization", out->authorization.ptr);
	add_header(out, "X-Amz-Date", out->amz_date);
	if (cred->session_token && *cred->session_token)
		add_header(out, "X-Amz-Security-Token", cred->session_token);
	if (scope->flags & FL_SIGV4_CONTENT_SHA256)
		add_header(out, "x-amz-content-sha256", out->payload_hash);
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(sig, sizeof(sig));
	fl_buf_release(&signed_list);
	return rc;
}

void fl_sigv4_signed_release(struct fl_sigv4_signed *s)
{
	fl_buf_release(&s->query);
	fl_buf_release(&s->authorization);
	fl_buf_release(&s->canonical_request);
	fl_buf_release(&s->string_to_sign);
	s->headers_len = 0;
}
