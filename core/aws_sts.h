/*
 * STS calls made with credentials flotilla already holds: AssumeRole (into
 * a tenant's deploy role) and GetCallerIdentity (which account those
 * credentials act in: the safety net of the aws driver). Web identity,
 * which needs no credentials, lives with the other sources in aws_creds.c.
 */
#ifndef FL_AWS_STS_H
#define FL_AWS_STS_H

#include "core/aws_call.h"
#include "core/aws_creds.h"
#include "core/error.h"

struct fl_aws_assume {
	const char *role_arn;
	const char *session_name;
	const char *external_id; /* NULL: none sent */
	unsigned duration_s;	 /* 900..43200; 0: 3600 */
};

/*
 * Assumes a->role_arn with base at ep into out (source "assumed role").
 * FL_EREFUSED with STS's code and message when the role may not be assumed;
 * FL_EIO when STS cannot be reached or answers what cannot be read.
 */
int fl_aws_assume_role(struct fl_aws_creds *out, const struct fl_aws_endpoint *ep,
		       const struct fl_aws_creds *base, const struct fl_aws_assume *a, struct fl_error *err);

#define FL_AWS_ACCOUNT_LEN 12

/* The account creds act in (sts:GetCallerIdentity), 12 digits, into account. */
int fl_aws_caller_account(char account[FL_AWS_ACCOUNT_LEN + 1], const struct fl_aws_endpoint *ep,
			  const struct fl_aws_creds *creds, struct fl_error *err);

#endif
