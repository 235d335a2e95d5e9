/*
 * HTTP with libcurl, the only file that includes curl.h: requests with
 * retries (exponential backoff with jitter, honouring Retry-After) on
 * connection errors, 429 and 5xx; TLS verified by default with an optional
 * CA file and client certificate; HTTP/2 where the server offers it; many
 * requests in flight at once through one multi handle. Tokens are never
 * sent over plain http except to a loopback address.
 */
#ifndef FL_HTTP_H
#define FL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

struct fl_http_tls {
	const char *ca_file;        /* NULL: the system's CAs */
	const char *cert_file;      /* client certificate (PEM), or NULL */
	const char *key_file;       /* its key (PEM), or NULL */
};

struct fl_http_retry {
	unsigned attempts;          /* tries in all, at least 1 (default 5) */
	unsigned base_ms;           /* first backoff (default 200); doubles each try, with full jitter */
	unsigned max_ms;            /* cap of one backoff, and of a Retry-After honoured (default 30000) */
};

struct fl_http_request {
	const char *method;         /* "GET", "POST", "PUT", "DELETE" */
	const char *url;
	const char *const *headers; /* "Name: value" lines, NULL-terminated, or NULL */
	const char *bearer;         /* token for "Authorization: Bearer", or NULL */
	const char *token_header;   /* instead of Authorization: a header name (GitLab's PRIVATE-TOKEN) */
	const void *body;           /* sent with Content-Type from headers (default application/json) */
	size_t body_len;
	unsigned timeout_ms;        /* per try (default 30000) */
	struct fl_http_tls tls;
	struct fl_http_retry retry;  /* zeroes: the defaults; 4xx other than 429 is never retried */
};

struct fl_http_response {
	long status;                /* 0 when no response came */
	struct fl_buf body;         /* the caller initialises it (its max bounds the body) */
	char etag[128];             /* the ETag header, without quotes, or "" */
	unsigned attempts;          /* tries made */
	long http_version;          /* 2 for HTTP/2, 1 otherwise */
};

/* True when a token may be sent to url: https, or http to 127.0.0.0/8 or ::1 (or localhost). */
bool fl_http_token_allowed(const char *url);

/*
 * Performs req, retrying as req->retry says, and fills resp with the last
 * answer. Returns 0 when an HTTP answer came (whatever its status), FL_EIO
 * when every try failed to connect or timed out, FL_EINPUT for a token over
 * plain http to a remote host (nothing is sent). Safe from many threads.
 */
int fl_http_request(struct fl_http_response *resp, const struct fl_http_request *req, struct fl_error *err);

/*
 * Many requests in flight at once, up to max_parallel, over one multi
 * handle (connections reused, HTTP/2 multiplexed where offered); retries
 * as fl_http_request. reqs[i] answers into resps[i]; errs[i] gets each
 * request's error. Returns 0, or an error of the run itself.
 */
int fl_http_request_many(struct fl_http_response *resps, int *rcs, struct fl_error *errs,
			 const struct fl_http_request *reqs, size_t n, unsigned max_parallel,
			 struct fl_error *err);

#endif
