/*
 * AWS Signature Version 4: signs an HTTP request for an AWS service with
 * HMAC-SHA256 (OpenSSL's libcrypto), following AWS's published rules for
 * the canonical request, the string to sign and the derived signing key.
 * The only file that includes OpenSSL's headers for this is sigv4.c. The
 * secret key never leaves it: no error message, log or output holds it, and
 * every key derived from it is wiped after use.
 */
#ifndef FL_SIGV4_H
#define FL_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/buf.h"

struct fl_error;

/* A query parameter or a header: a name and a value, both borrowed. */
struct fl_sigv4_param {
	const char *name;
	const char *value;
};

/* The request to sign; everything is borrowed for the call. */
struct fl_sigv4_request {
	const char *method; /* upper case: "GET", "POST" */
	/* The Host header as sent: lower-case host name, ":port" only when not the scheme's default. */
	const char *host;
	/* The path as sent, already percent-encoded ("/" or "" for the root). */
	const char *path;
	/* Raw (not yet encoded) names and values, in any order; sent as the signer's out->query. */
	const struct fl_sigv4_param *query;
	size_t query_len;
	/* Headers sent with the request and signed (Content-Type, X-Amz-Target), not Host nor x-amz-*. */
	const struct fl_sigv4_param *headers;
	size_t headers_len;
	const void *payload; /* the body; may be NULL when payload_len is 0 */
	size_t payload_len;
};

struct fl_sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" for long-term keys */
};

enum fl_sigv4_flags {
	/* S3's rules: the path is signed as sent, not normalised nor encoded a second time. */
	FL_SIGV4_S3_PATH = 1 << 0,
	/* Sends and signs x-amz-content-sha256 (the payload's hash), which S3 requires. */
	FL_SIGV4_CONTENT_SHA256 = 1 << 1,
};

/* Where and when the signature is valid. */
struct fl_sigv4_scope {
	const char *region;  /* "us-east-1" */
	const char *service; /* the signing name: "sts", "cloudcontrolapi", "organizations" */
	time_t when;	     /* the signing time (X-Amz-Date); passed in so tests are deterministic */
	unsigned flags;	     /* enum fl_sigv4_flags */
};

#define FL_SIGV4_HEADERS_MAX 4
#define FL_SIGV4_KEY_LEN 32

/* What signing gives: the headers to add and the query string to send. */
struct fl_sigv4_signed {
	/*
	 * The headers to add to the request, in this order: Authorization,
	 * X-Amz-Date, then X-Amz-Security-Token when there is a session token
	 * (its value borrowed from the credentials), then x-amz-content-sha256
	 * when asked for. Names and values point into this struct.
	 */
	struct fl_sigv4_param headers[FL_SIGV4_HEADERS_MAX];
	size_t headers_len;
	/* The canonical query string: what to send after '?' ("" for none). */
	struct fl_buf query;
	struct fl_buf authorization;
	/*
	 * The canonical request and the string to sign, for tests and for
	 * comparing with what a SignatureDoesNotMatch answer shows. They hold
	 * the session token: never log them.
	 */
	struct fl_buf canonical_request;
	struct fl_buf string_to_sign;
	char amz_date[17];     /* 20150830T123600Z */
	char payload_hash[65]; /* lower-case hex SHA-256 of the payload */
};

/*
 * Signs req with cred for scope. out is initialised here and must be
 * released with fl_sigv4_signed_release whatever this returns. Returns 0,
 * FL_EINPUT for a request that cannot be signed (a header name that is not a
 * token, a value with a line break, a missing key; the message names the
 * part, never a secret), or FL_EINTERNAL when OpenSSL fails.
 */
int fl_sigv4_sign(struct fl_sigv4_signed *out, const struct fl_sigv4_request *req,
		  const struct fl_sigv4_credentials *cred, const struct fl_sigv4_scope *scope,
		  struct fl_error *err);

/* Frees what fl_sigv4_sign filled; releasing twice is harmless. */
void fl_sigv4_signed_release(struct fl_sigv4_signed *s);

/*
 * Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date),
 * region), service), "aws4_request") into out; date is YYYYMMDD. The caller
 * wipes out with fl_sigv4_wipe when done. Returns 0,
 * FL_EINPUT for a secret that is empty or too long, or FL_EINTERNAL.
 */
int fl_sigv4_signing_key(unsigned char out[FL_SIGV4_KEY_LEN], const char *secret, const char *date,
			 const char *region, const char *service, struct fl_error *err);

/* Overwrites len bytes at p with zeros in a way the compiler cannot drop. */
void fl_sigv4_wipe(void *p, size_t len);

/*
 * Appends s percent-encoded as SigV4 wants: every byte but A-Z a-z 0-9
 * - . _ ~ becomes %XY (upper-case hex); '/' too unless keep_slash. For
 * building paths from raw segments, and form bodies of the Query protocol.
 */
void fl_sigv4_uri_encode(struct fl_buf *out, const char *s, size_t len, bool keep_slash);

#endif
