/*
 * STS AssumeRole and GetCallerIdentity over the Query protocol; answers in
 * XML. See aws_sts.h.
 */
#include "core/aws_sts.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/xml.h"
#include "core/banned.h"

#define CREDS "AssumeRoleResponse/AssumeRoleResult/Credentials/"

static int copy(char *dst, size_t cap, const char *src, const char *what, struct fl_error *err)
{
	size_t n = src ? strlen(src) : 0;
	if (n == 0 || n >= cap)
		return fl_error_set(err, FL_EIO, "STS AssumeRole: the answer's %s is %s", what,
				    n ? "too long" : "missing");
	memcpy(dst, src, n + 1);
	return 0;
}

static int read_creds(struct fl_aws_creds *out, const struct fl_buf *body, struct fl_error *err)
{
	struct fl_xml_doc doc;
	struct fl_error xerr = FL_ERROR_INIT;
	int rc = fl_xml_parse(&doc, body->ptr, body->len, NULL, &xerr);
	if (rc) {
		rc = fl_error_set(err, FL_EIO, "STS AssumeRole: the answer is not XML (%s)", xerr.msg);
		goto out;
	}
	if ((rc = copy(out->access_key_id, sizeof(out->access_key_id), fl_xml_text(&doc, CREDS "AccessKeyId"),
		       "AccessKeyId", err)) ||
	    (rc = copy(out->secret_access_key, sizeof(out->secret_access_key),
		       fl_xml_text(&doc, CREDS "SecretAccessKey"), "SecretAccessKey", err)) ||
	    (rc = copy(out->session_token, sizeof(out->session_token), fl_xml_text(&doc, CREDS "SessionToken"),
		       "SessionToken", err)))
		goto out;
	out->expiration = fl_time_parse(fl_xml_text(&doc, CREDS "Expiration"));
	if (out->expiration <= 0)
		rc = fl_error_set(err, FL_EIO, "STS AssumeRole: the answer has no valid Expiration");
	out->source = "assumed role";
out:
	fl_xml_doc_release(&doc);
	if (rc)
		fl_aws_creds_wipe(out);
	return rc;
}

int fl_aws_assume_role(struct fl_aws_creds *out, const struct fl_aws_endpoint *ep,
		       const struct fl_aws_creds *base, const struct fl_aws_assume *a, struct fl_error *err)
{
	struct fl_buf form = FL_BUF_INIT;
	struct fl_aws_answer ans;
	char duration[16];
	snprintf(duration, sizeof(duration), "%u", a->duration_s ? a->duration_s : 3600);
	fl_aws_form_put(&form, "RoleArn", a->role_arn);
	fl_aws_form_put(&form, "RoleSessionName", a->session_name);
	fl_aws_form_put(&form, "DurationSeconds", duration);
	if (a->external_id)
		fl_aws_form_put(&form, "ExternalId", a->external_id);
	struct fl_aws_call call = { ep, base, "AssumeRole", form.ptr, form.len, { 0 }, 0 };
	fl_aws_answer_init(&ans);
	memset(out, 0, sizeof(*out));
	int rc = fl_aws_call(&ans, &call, err);
	if (!rc)
		rc = read_creds(out, &ans.body, err);
	fl_aws_answer_release(&ans);
	fl_buf_release(&form);
	return rc;
}

int fl_aws_caller_account(char account[FL_AWS_ACCOUNT_LEN + 1], const struct fl_aws_endpoint *ep,
			  const struct fl_aws_creds *creds, struct fl_error *err)
{
	struct fl_aws_answer ans;
	struct fl_xml_doc doc;
	struct fl_aws_call call = { ep, creds, "GetCallerIdentity", "", 0, { 0 }, 0 };
	fl_aws_answer_init(&ans);
	memset(&doc, 0, sizeof(doc));
	account[0] = '\0';
	int rc = fl_aws_call(&ans, &call, err);
	if (rc)
		goto out;
	if ((rc = fl_xml_parse(&doc, ans.body.ptr, ans.body.len, NULL, err))) {
		fl_error_prefix(err, "STS GetCallerIdentity: the answer is not XML: ");
		rc = FL_EIO;
		goto out;
	}
	const char *id = fl_xml_text(&doc, "GetCallerIdentityResponse/GetCallerIdentityResult/Account");
	size_t n = id ? strlen(id) : 0;
	bool digits = n == FL_AWS_ACCOUNT_LEN;
	for (size_t i = 0; digits && i < n; i++)
		digits = isdigit((unsigned char)id[i]);
	if (!digits) {
		rc = fl_error_set(err, FL_EIO, "STS GetCallerIdentity: the answer has no 12-digit Account");
		goto out;
	}
	memcpy(account, id, n + 1);
out:
	fl_xml_doc_release(&doc);
	fl_aws_answer_release(&ans);
	return rc;
}
