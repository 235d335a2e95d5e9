/*
 * The AWS Cloud Control API: create, update (by RFC 6902 patch), delete and
 * read a resource of any CloudFormation type, and wait for an operation,
 * which the service runs asynchronously, by polling its request status with
 * backoff. Every mutation carries the caller's ClientToken, so that sending
 * it again (a retry, a resumed run) never acts twice.
 */
#ifndef FL_AWS_CLOUDCONTROL_H
#define FL_AWS_CLOUDCONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/aws_call.h"
#include "core/buf.h"
#include "core/error.h"

struct fl_cc {
	const struct fl_aws_endpoint *ep;
	const struct fl_aws_creds *creds;
	unsigned poll_ms;     /* the first wait for an operation (0: poll at once, then 100 ms) */
	unsigned poll_max_ms; /* cap of one wait (default 10000) */
	unsigned timeout_s;   /* give up on an operation after (default 3600) */
};

/* A ProgressEvent, as much of it as flotilla reads. */
struct fl_cc_event {
	char request_token[128];
	char status[24];	/* PENDING, IN_PROGRESS, SUCCESS, FAILED, CANCEL_... */
	char identifier[1024];	/* "" until the service knows it */
	char error_code[64];	/* FAILED: AlreadyExists, NotFound, ... */
	char message[512];	/* FAILED: the service's StatusMessage */
	double retry_after;	/* when the service says to ask again (epoch seconds), or 0 */
};

/* The ClientToken of an operation: 32 hex digits over every part, joined unambiguously. */
void fl_cc_client_token(char out[33], const char *const *parts, size_t nparts);

/*
 * The properties (a JSON object, as text) of type's resource identifier
 * into props; *found false when the service answers
 * ResourceNotFoundException.
 */
int fl_cc_get(struct fl_buf *props, bool *found, const struct fl_cc *cc, const char *type,
	      const char *identifier, struct fl_error *err);

/* Starts an operation; ev holds its first event. Wait for it with fl_cc_wait. */
int fl_cc_create(struct fl_cc_event *ev, const struct fl_cc *cc, const char *type, const char *desired,
		 size_t desired_len, const char *client_token, struct fl_error *err);
int fl_cc_update(struct fl_cc_event *ev, const struct fl_cc *cc, const char *type, const char *identifier,
		 const char *patch, size_t patch_len, const char *client_token, struct fl_error *err);
int fl_cc_delete(struct fl_cc_event *ev, const struct fl_cc *cc, const char *type, const char *identifier,
		 const char *client_token, struct fl_error *err);

/*
 * Polls ev's request until it ends. Between polls it waits until the
 * event's RetryAfter when the service gives one, else poll_ms, then twice
 * as long each time, with jitter; never longer than poll_max_ms. 0 on SUCCESS (ev->identifier
 * set); FL_EREFUSED on FAILED ("<ErrorCode>: <StatusMessage>", both also
 * in ev); FL_EIO when the service cannot be reached or the wait times out.
 */
int fl_cc_wait(struct fl_cc_event *ev, const struct fl_cc *cc, struct fl_error *err);

#endif
