/*
 * AWS Organizations, as much as onboarding and offboarding a tenant need:
 * create a member account and wait for it (the service creates accounts
 * asynchronously: its request status is polled with backoff), move it from
 * the root into an organizational unit, and close it. Calls are signed with
 * the base credentials of a provider, fetched afresh for every call, since
 * a creation may outlast temporary credentials. No secret reaches an error.
 */
#ifndef FL_AWS_ORG_H
#define FL_AWS_ORG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/aws_call.h"
#include "core/aws_creds.h"
#include "core/error.h"

struct fl_org {
	const struct fl_aws_endpoint *ep;    /* FL_AWS_ORGANIZATIONS */
	struct fl_aws_creds_provider *creds; /* borrowed */
	unsigned poll_ms;		     /* the first wait (0: poll at once, then 100 ms) */
	unsigned poll_max_ms;		     /* cap of one wait (default 10000) */
	unsigned timeout_s;		     /* give up waiting after (default 3600) */
};

/* A CreateAccountStatus, as much of it as flotilla reads. */
struct fl_org_create {
	char id[72];		 /* car-..., the request */
	char state[24];		 /* IN_PROGRESS, SUCCEEDED, FAILED */
	char account_id[16];	 /* SUCCEEDED: 12 digits */
	char failure_reason[64]; /* FAILED: EMAIL_ALREADY_EXISTS, ... */
};

/* What the service accepts (its API model's patterns), checked before any call. */
bool fl_org_email_valid(const char *email);	  /* 6..64 bytes, x@y.z, no white space */
bool fl_org_account_name_valid(const char *name); /* 1..50 printable ASCII characters */
bool fl_org_ou_valid(const char *ou);		  /* ou-<4..32 [0-9a-z]>-<8..32 [a-z0-9]> */
bool fl_org_account_id_valid(const char *id);	  /* 12 digits */

/* What a CreateAccount FailureReason means and what to do about it, one line. */
const char *fl_org_failure_text(const char *reason);

/* Starts creating an account; out holds the request's first status. Wait for it with fl_org_create_wait. */
int fl_org_create_account(struct fl_org_create *out, const struct fl_org *org, const char *email,
			  const char *name, struct fl_error *err);

/*
 * Polls st's request until it ends, waiting poll_ms, then twice as long
 * each time up to poll_max_ms, with jitter. 0 on SUCCEEDED (st->account_id
 * set); FL_EREFUSED on FAILED ("<FailureReason>: <what it means>"); FL_EIO
 * when the service cannot be reached or the wait times out.
 */
int fl_org_create_wait(struct fl_org_create *st, const struct fl_org *org, struct fl_error *err);

/* The id of the organization's root (r-...), from ListRoots, into out. */
int fl_org_root(char *out, size_t cap, const struct fl_org *org, struct fl_error *err);

/* Moves account from parent from (a root or an OU) to parent to. */
int fl_org_move_account(const struct fl_org *org, const char *account, const char *from, const char *to,
			struct fl_error *err);

/*
 * Closes account (it stays SUSPENDED for 90 days, then goes). FL_EREFUSED
 * with the service's code in the message when it refuses (closed already,
 * the management account, the quota of closures); *closed_already tells
 * the first of these apart.
 */
int fl_org_close_account(bool *closed_already, const struct fl_org *org, const char *account,
			 struct fl_error *err);

#endif
