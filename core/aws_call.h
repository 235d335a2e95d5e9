/*
 * Signed calls to AWS services over core/http.c: where each service is
 * reached (AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL, as the AWS
 * SDKs read them, else the public regional endpoint), the two wire
 * protocols flotilla speaks (JSON 1.0 / 1.1 named by X-Amz-Target, and the
 * Query protocol's forms answered in XML), their errors read into a code and
 * a message, and throttling retried with backoff and full jitter, signed
 * afresh for every try. No secret reaches an error message.
 */
#ifndef FL_AWS_CALL_H
#define FL_AWS_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/aws_creds.h"
#include "core/buf.h"
#include "core/error.h"

enum fl_aws_service {
	FL_AWS_STS,
	FL_AWS_CLOUDCONTROL,
	FL_AWS_ORGANIZATIONS,
};

struct fl_aws_endpoint {
	enum fl_aws_service service;
	char url[512];	/* as requested: scheme://host[:port][/path] */
	char host[256]; /* the Host header as sent (lower case, ":port" unless the scheme's default) */
	char path[256]; /* "/" or the endpoint's own path */
	char region[64]; /* the signing region */
};

/*
 * Where service is reached for region: AWS_ENDPOINT_URL_STS /
 * _CLOUDCONTROL / _ORGANIZATIONS, else AWS_ENDPOINT_URL, else
 * https://<service>.<region>.amazonaws.com (Organizations:
 * organizations.us-east-1, signed for us-east-1, wherever the tenant is).
 * FL_EINPUT for a region that is not a region name, a URL that is not
 * http(s), or plain http to anything but a loopback address.
 */
int fl_aws_endpoint_resolve(struct fl_aws_endpoint *out, const struct fl_aws_env *env,
			    enum fl_aws_service service, const char *region, struct fl_error *err);

/* The service's name in messages: "STS", "Cloud Control", "Organizations". */
const char *fl_aws_service_name(enum fl_aws_service service);

struct fl_aws_retry {
	unsigned attempts; /* tries in all for a throttled call (default 8) */
	unsigned base_ms;  /* first backoff (default 100); doubles, full jitter */
	unsigned max_ms;   /* cap of one backoff (default 20000) */
};

struct fl_aws_call {
	const struct fl_aws_endpoint *ep;
	const struct fl_aws_creds *creds;
	/* The operation: X-Amz-Target's suffix for JSON, Action for the Query protocol. */
	const char *operation;
	/* JSON: the request object. Query: the form's other members ("A=b&C=d", encoded), or "". */
	const char *body;
	size_t body_len;
	struct fl_aws_retry retry;
	unsigned timeout_ms; /* per try (default 30000) */
};

struct fl_aws_answer {
	long status;	   /* HTTP status of the last try; 0 when none came */
	struct fl_buf body; /* the answer (JSON or XML), up to 4 MiB */
	char code[128];	   /* the AWS error code ("ThrottlingException"), "" on success */
	char message[256]; /* its message, shortened, secrets blanked */
	unsigned attempts; /* tries made */
};

void fl_aws_answer_init(struct fl_aws_answer *a);
void fl_aws_answer_release(struct fl_aws_answer *a);

/*
 * Signs and sends call; out (initialised by the caller) gets the answer.
 * Returns 0 on a 2xx answer. An AWS error leaves its code and message in
 * out and in err ("Cloud Control CreateResource: 400 AlreadyExists: ..."):
 * FL_EREFUSED for 4xx, FL_EIO for 5xx or when every try failed to connect.
 * Throttling codes are retried as call->retry says.
 */
int fl_aws_call(struct fl_aws_answer *out, const struct fl_aws_call *call, struct fl_error *err);

/* True for the error codes AWS services throttle with. */
bool fl_aws_code_throttling(const char *code);

/*
 * The waits between polls of an asynchronous AWS operation (Cloud
 * Control's requests, Organizations' account creation): first first_ms
 * (0: poll at once, then 100 ms), then twice as long each time up to cap_ms,
 * each wait up to a quarter shorter so that many tenants polling do not
 * march in step; or as long as the service said, when it said.
 */
struct fl_aws_poll {
	unsigned long long wait_ms;
	unsigned cap_ms, timeout_s;
	long long deadline_ms; /* on fl_mono_ms()'s clock */
	uint64_t jitter;
};

/* Defaults: cap_ms 10000, timeout_s 3600. */
void fl_aws_poll_start(struct fl_aws_poll *p, unsigned first_ms, unsigned cap_ms, unsigned timeout_s);

/*
 * Sleeps before the next poll: told_ms when the service named a time (0 or
 * more; never longer than the cap), else the next backoff. False, without
 * sleeping, when the wait would pass the timeout.
 */
bool fl_aws_poll_wait(struct fl_aws_poll *p, long long told_ms);

void fl_aws_sleep_ms(long long ms);

/* Appends name=value to a Query-protocol form, '&'-separated and encoded. */
void fl_aws_form_put(struct fl_buf *form, const char *name, const char *value);

#endif
