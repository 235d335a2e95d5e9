/*
 * AWS Organizations over JSON 1.1: requests built and CreateAccountStatus
 * read here, account creation waited on by polling. See aws_org.h.
 */
#include "core/aws_org.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/node.h"
#include "core/banned.h"


/* ---- what the service accepts ---- */

static bool lower_alnum(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

bool fl_org_account_id_valid(const char *id)
{
	size_t n = strlen(id);
	for (size_t i = 0; i < n; i++)
		if (id[i] < '0' || id[i] > '9')
			return false;
	return n == 12;
}

bool fl_org_ou_valid(const char *ou)
{
	if (strncmp(ou, "ou-", 3) != 0)
		return false;
	const char *a = ou + 3, *dash = strchr(a, '-');
	if (!dash)
		return false;
	size_t na = (size_t)(dash - a), nb = strlen(dash + 1);
	return na >= 4 && na <= 32 && nb >= 8 && nb <= 32 && lower_alnum(a, na) && lower_alnum(dash + 1, nb);
}

bool fl_org_account_name_valid(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return false;
	return n >= 1 && n <= 50;
}

/* The model's [^\s@]+@[^\s@]+\.[^\s@]+, control characters refused as well. */
bool fl_org_email_valid(const char *email)
{
	size_t n = strlen(email);
	const char *at = strchr(email, '@');
	if (n < 6 || n > 64 || !at || at == email || strchr(at + 1, '@'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)email[i];
		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	const char *domain = at + 1;
	size_t dn = strlen(domain);
	/* A dot with something on both sides of it. */
	for (size_t i = 1; i + 1 < dn; i++)
		if (domain[i] == '.')
			return true;
	return false;
}

struct reason {
	const char *code, *text;
};

static const struct reason reasons[] = {
	{ "EMAIL_ALREADY_EXISTS",
	  "an AWS account with this email exists already: use another email "
	  "(if an earlier 'flotilla account create' was interrupted, find the account it "
	  "made with 'aws organizations list-accounts' and write its id into the tenant file)" },
	{ "ACCOUNT_LIMIT_EXCEEDED", "the organization has as many accounts as its quota allows: ask AWS "
				    "Support to raise it" },
	{ "INVALID_EMAIL", "AWS does not accept this email address" },
	{ "INVALID_ADDRESS", "the address of the management account is not valid" },
	{ "CONCURRENT_ACCOUNT_MODIFICATION", "another change to the organization's accounts was under way: "
					     "try again" },
	{ "INTERNAL_FAILURE", "AWS Organizations failed internally: try again later" },
	{ "GOVCLOUD_ACCOUNT_ALREADY_EXISTS", "a GovCloud account with this email exists already" },
	{ "MISSING_PAYMENT_INSTRUMENT", "the management account has no payment method" },
	{ "INVALID_PAYMENT_INSTRUMENT", "the management account's payment method is not valid" },
	{ "MISSING_BUSINESS_VALIDATION", "the management account has not completed business validation" },
	{ "FAILED_BUSINESS_VALIDATION", "the management account failed business validation" },
	{ "PENDING_BUSINESS_VALIDATION", "the management account's business validation is pending: try again "
					 "when it is done" },
	{ "INVALID_IDENTITY_FOR_BUSINESS_VALIDATION", "the management account's identity failed business "
						      "validation" },
	{ "UNKNOWN_BUSINESS_VALIDATION", "the management account's business validation is in an unknown "
					 "state: ask AWS Support" },
};

const char *fl_org_failure_text(const char *reason)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reasons[i].code, reason) == 0)
			return reasons[i].text;
	return "see the AWS Organizations documentation of CreateAccountStatus";
}

/* ---- calls ---- */

static void put_member(struct fl_buf *b, const char *name, const char *value)
{
	fl_buf_putc(b, b->len > 1 ? ',' : '{');
	fl_json_put_str(b, name, strlen(name));
	fl_buf_putc(b, ':');
	fl_json_put_str(b, value, strlen(value));
}

static void end_object(struct fl_buf *b)
{
	if (b->len == 0)
		fl_buf_putc(b, '{');
	fl_buf_putc(b, '}');
}

static const char *str_member(const struct fl_node *map, const char *key)
{
	const struct fl_node *v = map && map->type == FL_NODE_MAP ? fl_node_get(map, key) : NULL;
	return v && v->type == FL_NODE_STR ? v->v.str.ptr : NULL;
}

/* Sends operation with body into ans (initialised), signed with the provider's credentials of now. */
static int send_op(struct fl_aws_answer *ans, const struct fl_org *org, const char *operation,
		   const struct fl_buf *body, struct fl_error *err)
{
	struct fl_aws_creds creds;
	int rc = fl_aws_creds_get(&creds, org->creds, fl_now(), err);
	if (rc)
		return rc;
	struct fl_aws_call c = { org->ep, &creds, operation, body->ptr, body->len, { 0 }, 0 };
	rc = fl_aws_call(ans, &c, err);
	fl_aws_creds_wipe(&creds);
	return rc;
}

/* Sends operation; the answer's root into *root (in arena). */
static int call(const struct fl_node **root, struct fl_arena *arena, const struct fl_org *org,
		const char *operation, const struct fl_buf *body, struct fl_error *err)
{
	struct fl_aws_answer ans;
	struct fl_node *node = NULL;
	fl_aws_answer_init(&ans);
	int rc = send_op(&ans, org, operation, body, err);
	if (!rc) {
		struct fl_source src = { "answer", ans.body.ptr, ans.body.len };
		struct fl_error jerr = FL_ERROR_INIT;
		if (fl_json_parse(&node, arena, &src, &jerr) || node->type != FL_NODE_MAP)
			rc = fl_error_set(err, FL_EIO, "Organizations %s: the answer is not a JSON object",
					  operation);
		else
			*root = node;
	}
	fl_aws_answer_release(&ans);
	return rc;
}

/* Sends operation and forgets the answer; the AWS error code, if any, into code. */
static int call_only(char code[128], const struct fl_org *org, const char *operation,
		     const struct fl_buf *body, struct fl_error *err)
{
	struct fl_aws_answer ans;
	fl_aws_answer_init(&ans);
	int rc = send_op(&ans, org, operation, body, err);
	snprintf(code, 128, "%s", ans.code);
	fl_aws_answer_release(&ans);
	return rc;
}

static int copy_member(char *dst, size_t cap, const char *src, bool required, const char *operation,
		       const char *what, struct fl_error *err)
{
	if ((!src || !*src) && required)
		return fl_error_set(err, FL_EIO, "Organizations %s: the answer has no %s", operation, what);
	if (src && strlen(src) >= cap)
		return fl_error_set(err, FL_EIO, "Organizations %s: the answer's %s is too long", operation,
				    what);
	snprintf(dst, cap, "%s", src ? src : "");
	return 0;
}

static int read_status(struct fl_org_create *st, const struct fl_node *root, const char *operation,
		       struct fl_error *err)
{
	const struct fl_node *s = fl_node_get(root, "CreateAccountStatus");
	int rc = copy_member(st->id, sizeof(st->id), str_member(s, "Id"), true, operation,
			     "CreateAccountStatus.Id", err);
	if (!rc)
		rc = copy_member(st->state, sizeof(st->state), str_member(s, "State"), true, operation,
				 "CreateAccountStatus.State", err);
	if (!rc)
		rc = copy_member(st->account_id, sizeof(st->account_id), str_member(s, "AccountId"), false,
				 operation, "AccountId", err);
	if (!rc)
		rc = copy_member(st->failure_reason, sizeof(st->failure_reason),
				 str_member(s, "FailureReason"), false, operation, "FailureReason", err);
	if (!rc && strcmp(st->state, "SUCCEEDED") == 0 && !fl_org_account_id_valid(st->account_id))
		rc = fl_error_set(err, FL_EIO,
				  "Organizations %s: the request SUCCEEDED without a valid AccountId",
				  operation);
	return rc;
}

static int status_call(struct fl_org_create *st, const struct fl_org *org, const char *operation,
		       const struct fl_buf *body, struct fl_error *err)
{
	struct fl_arena arena;
	const struct fl_node *root = NULL;
	fl_arena_init(&arena, 0);
	memset(st, 0, sizeof(*st));
	int rc = call(&root, &arena, org, operation, body, err);
	if (!rc)
		rc = read_status(st, root, operation, err);
	fl_arena_release(&arena);
	return rc;
}

int fl_org_create_account(struct fl_org_create *out, const struct fl_org *org, const char *email,
			  const char *name, struct fl_error *err)
{
	struct fl_buf b = FL_BUF_INIT;
	put_member(&b, "AccountName", name);
	put_member(&b, "Email", email);
	end_object(&b);
	int rc = status_call(out, org, "CreateAccount", &b, err);
	fl_buf_release(&b);
	return rc;
}

static int outcome(const struct fl_org_create *st, struct fl_error *err)
{
	if (strcmp(st->state, "SUCCEEDED") == 0)
		return 0;
	if (strcmp(st->state, "FAILED") == 0)
		return fl_error_set(err, FL_EREFUSED, "%s: %s",
				    st->failure_reason[0] ? st->failure_reason : "(no FailureReason)",
				    fl_org_failure_text(st->failure_reason));
	return fl_error_set(err, FL_EIO, "the request ended %s", st->state);
}

int fl_org_create_wait(struct fl_org_create *st, const struct fl_org *org, struct fl_error *err)
{
	struct fl_aws_poll poll;
	char id[sizeof(st->id)];
	snprintf(id, sizeof(id), "%s", st->id);
	fl_aws_poll_start(&poll, org->poll_ms, org->poll_max_ms, org->timeout_s);
	while (strcmp(st->state, "IN_PROGRESS") == 0) {
		if (!fl_aws_poll_wait(&poll, -1))
			return fl_error_set(err, FL_EIO,
					    "Organizations: account request %s still IN_PROGRESS after %us",
					    id, poll.timeout_s);
		struct fl_buf b = FL_BUF_INIT;
		put_member(&b, "CreateAccountRequestId", id);
		end_object(&b);
		int rc = status_call(st, org, "DescribeCreateAccountStatus", &b, err);
		fl_buf_release(&b);
		if (rc)
			return rc;
	}
	return outcome(st, err);
}

int fl_org_root(char *out, size_t cap, const struct fl_org *org, struct fl_error *err)
{
	struct fl_arena arena;
	struct fl_buf b = FL_BUF_INIT;
	const struct fl_node *root = NULL;
	fl_arena_init(&arena, 0);
	end_object(&b);
	int rc = call(&root, &arena, org, "ListRoots", &b, err);
	if (!rc) {
		/* An organization has exactly one root. */
		const struct fl_node *roots = fl_node_get(root, "Roots");
		const struct fl_node *first = roots && roots->type == FL_NODE_SEQ && roots->v.seq.len
						      ? roots->v.seq.items[0]
						      : NULL;
		rc = copy_member(out, cap, str_member(first, "Id"), true, "ListRoots", "Roots[0].Id", err);
	}
	fl_buf_release(&b);
	fl_arena_release(&arena);
	return rc;
}

int fl_org_move_account(const struct fl_org *org, const char *account, const char *from, const char *to,
			struct fl_error *err)
{
	struct fl_buf b = FL_BUF_INIT;
	put_member(&b, "AccountId", account);
	put_member(&b, "DestinationParentId", to);
	put_member(&b, "SourceParentId", from);
	end_object(&b);
	char code[128];
	/* MoveAccount and CloseAccount answer with an empty body: nothing to read. */
	int rc = call_only(code, org, "MoveAccount", &b, err);
	fl_buf_release(&b);
	return rc;
}

int fl_org_close_account(bool *closed_already, const struct fl_org *org, const char *account,
			 struct fl_error *err)
{
	struct fl_buf b = FL_BUF_INIT;
	char code[128];
	put_member(&b, "AccountId", account);
	end_object(&b);
	int rc = call_only(code, org, "CloseAccount", &b, err);
	*closed_already = rc && strcmp(code, "AccountAlreadyClosedException") == 0;
	fl_buf_release(&b);
	return rc;
}
