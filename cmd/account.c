/*
 * flotilla account create|close: a tenant's AWS account, made with AWS
 * Organizations when the tenant is onboarded (its id committed into the
 * tenant file on a new branch, for review), and closed once the tenant was
 * decommissioned, as the ledger's receipt proves (docs/aws.md).
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/describe.h"
#include "cmd/remote_repo.h"
#include "core/aws_call.h"
#include "core/aws_creds.h"
#include "core/aws_org.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/remote.h"
#include "reconcile/fleet/syntax.h"
#include "reconcile/fleet/tenant_account.h"
#include "reconcile/rollout/ledger.h"
#include "core/banned.h"

#define BRANCH_PREFIX "flotilla/account/"

static int account_create(int argc, char **argv);
static int account_close(int argc, char **argv);

static const struct fl_cmd verbs[] = {
	{ "account create", account_create,
	  "Create a tenant's AWS account with Organizations and commit its id on a new branch." },
	{ "account close", account_close,
	  "Close the AWS account of a tenant whose decommission is recorded." },
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static void account_help(FILE *to)
{
	fprintf(to, "usage: flotilla account create|close TENANT [options]\n\n%s\n\nCommands:\n",
		fl_cmd_find("account")->summary);
	for (size_t i = 0; i < NVERBS; i++)
		fprintf(to, "  %-10s %s\n", verbs[i].name + strlen("account "), verbs[i].summary);
	fprintf(to, "\nRun 'flotilla account <command> --help' for a command's options.\n");
}

int cmd_account(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "flotilla account: a command is needed\n");
		account_help(stderr);
		return FL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (!fl_cmd_docs_add_verbs(verbs, NVERBS))
			account_help(stdout);
		return FL_EXIT_OK;
	}
	for (size_t i = 0; i < NVERBS; i++)
		if (strcmp(verbs[i].name + strlen("account "), argv[1]) == 0)
			return verbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "flotilla account: unknown command '%s'\n", argv[1]);
	account_help(stderr);
	return FL_EXIT_USAGE;
}

static const struct fl_cmd *verb(const char *name)
{
	for (size_t i = 0; i < NVERBS; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

/* ---- what both commands share ---- */

struct org_session {
	struct fl_aws_endpoint ep;
	struct fl_aws_creds_provider *creds;
	struct fl_org org;
};

/* Organizations with the base credentials, found now so that none missing fails before any change. */
static int org_open(struct org_session *o, const char *cmd)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_aws_creds creds;
	memset(o, 0, sizeof(*o));
	if (fl_aws_endpoint_resolve(&o->ep, &fl_aws_env_process, FL_AWS_ORGANIZATIONS, "us-east-1", &err)) {
		fprintf(stderr, "flotilla %s: %s\n", cmd, err.msg);
		return FL_EXIT_ERROR;
	}
	o->creds = fl_aws_creds_provider_new(&fl_aws_env_process);
	int rc = fl_aws_creds_get(&creds, o->creds, fl_now(), &err);
	fl_aws_creds_wipe(&creds);
	if (rc) {
		fprintf(stderr, "flotilla %s: no AWS credentials: %s\n", cmd, err.msg);
		return FL_EXIT_ERROR;
	}
	o->org = (struct fl_org){ .ep = &o->ep, .creds = o->creds };
	return FL_EXIT_OK;
}

static void org_close(struct org_session *o)
{
	fl_aws_creds_provider_free(o->creds);
	o->creds = NULL;
}

/* The repository of --repo, local only for create: its branch is written. */
static int open_repo(struct fl_repo **out, const char *repo, bool local_only, const char *cmd)
{
	struct fl_error err = FL_ERROR_INIT;
	if (local_only && repo && fl_remote_is_url(repo)) {
		fprintf(stderr,
			"flotilla %s: --repo must be a local repository: the account's id is committed on a "
			"branch of it (clone '%s' first)\n",
			cmd, repo);
		return FL_EXIT_USAGE;
	}
	if (fl_repo_location(&repo, repo, &err) || fl_repo_open(out, repo ? repo : ".", &err)) {
		fl_print_error(&err);
		return FL_EXIT_ERROR;
	}
	return FL_EXIT_OK;
}

/* The path of tenant's file at commit (tenants/NAME.yaml or .yml) into path; false when it has none. */
static bool tenant_path(char *path, size_t cap, struct fl_repo *repo, const struct fl_oid *commit,
			const char *tenant)
{
	static const char *const exts[] = { ".yaml", ".yml" };
	for (size_t i = 0; i < 2; i++) {
		struct fl_oid id;
		struct fl_error ignored = FL_ERROR_INIT;
		snprintf(path, cap, "tenants/%s%s", tenant, exts[i]);
		if (fl_repo_path_id(&id, repo, commit, path, &ignored) == 0)
			return true;
	}
	return false;
}

/* ---- create ---- */

struct create_args {
	const char *tenant, *email, *ou, *name, *repo;
};

static int bad_arg(const char *what, const char *value, const char *expected)
{
	fprintf(stderr, "flotilla account create: invalid %s '%s' (expected %s)\n", what, value, expected);
	return FL_EXIT_USAGE;
}

/* The arguments' values, checked before anything is read or sent. */
static int check_create_args(const struct create_args *a)
{
	if (!fl_tenant_name_valid(a->tenant, strlen(a->tenant)))
		return bad_arg("tenant name", a->tenant, "[a-z0-9][a-z0-9-]{0,62}");
	if (!fl_org_email_valid(a->email))
		return bad_arg("--email", a->email, "an address like name@example.com, 6 to 64 characters");
	if (a->name && !fl_org_account_name_valid(a->name))
		return bad_arg("--name", a->name, "1 to 50 printable ASCII characters");
	if (a->ou && !fl_org_ou_valid(a->ou))
		return bad_arg("--ou", a->ou, "an organizational unit id like ou-ab12-cd34ef56");
	return FL_EXIT_OK;
}

/* The tenant's account is the placeholder, or refuses with why. */
static int check_placeholder(const struct fl_tenant *t)
{
	if (fl_tenant_account_pending(t->account))
		return FL_EXIT_OK;
	if (fl_org_account_id_valid(t->account))
		fprintf(stderr,
			"%s:%u:%u: error: tenant '%s' has AWS account %s already: there is no account "
			"to create\n",
			t->path, t->account_line, t->account_col, t->name, t->account);
	else
		fprintf(stderr,
			"%s:%u:%u: error: tenant '%s' has account '%s', which is neither an AWS account id "
			"nor the placeholder 'pending' that flotilla account create replaces\n",
			t->path, t->account_line, t->account_col, t->name, t->account);
	return FL_EXIT_ERROR;
}

/* The branch the account's id goes on must be new: an existing one is never moved. */
static int check_branch_free(struct fl_repo *repo, const char *branch, const char *tenant)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid existing;
	char ref[256];
	snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
	int rc = fl_repo_resolve(&existing, repo, ref, &err);
	if (rc == FL_ENOTFOUND)
		return FL_EXIT_OK;
	if (rc == 0)
		fprintf(stderr,
			"error: branch '%s' exists already: merge or delete it before creating another "
			"account for tenant '%s'\n",
			branch, tenant);
	else
		fl_print_error(&err);
	return FL_EXIT_ERROR;
}

/* Everything that can be checked before CreateAccount, which cannot be undone. */
static int prepare_create(struct fl_session *s, struct fl_buf *file, char *path, size_t cap,
			  const char *branch, const struct create_args *a)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid head;
	struct fl_buf probe = FL_BUF_INIT;
	int rc;
	if ((rc = open_repo(&s->repo, a->repo, true, "account create")))
		return rc;
	if (fl_repo_resolve(&head, s->repo, "HEAD", &err)) {
		fl_print_error(&err);
		return FL_EXIT_ERROR;
	}
	if (!tenant_path(path, cap, s->repo, &head, a->tenant)) {
		fprintf(stderr,
			"error: tenant '%s' is not declared: commit tenants/%s.yaml with account: pending "
			"first (docs/aws.md, Onboarding and offboarding)\n",
			a->tenant, a->tenant);
		return FL_EXIT_ERROR;
	}
	const char *only[] = { a->tenant };
	struct fl_fleet_load_opts lopts = { .only = only, .nonly = 1 };
	if ((rc = fl_session_open(s, NULL, "HEAD", &lopts)))
		return rc;
	const struct fl_tenant *t = fl_fleet_tenant(s->fleet, a->tenant);
	if ((rc = check_placeholder(t)))
		return rc;
	if ((rc = check_branch_free(s->repo, branch, a->tenant)))
		return rc;
	/* The rewrite is tried now, so that a file it cannot edit stops us before the account exists. */
	if (fl_repo_read_file(file, s->repo, &s->commit, path, &err) ||
	    fl_tenant_account_set(&probe, &(struct fl_source){ path, file->ptr, file->len }, "000000000000",
				  &err)) {
		fl_print_error(&err);
		rc = FL_EXIT_ERROR;
	}
	fl_buf_release(&probe);
	return rc;
}

/* Creates the account and waits for it; its id into st. */
static int create_account(struct fl_org_create *st, const struct fl_org *org, const struct create_args *a)
{
	struct fl_error err = FL_ERROR_INIT;
	const char *name = a->name ? a->name : a->tenant;
	if (fl_org_create_account(st, org, a->email, name, &err)) {
		fprintf(stderr, "flotilla account create: %s\n", err.msg);
		return FL_EXIT_ERROR;
	}
	printf("creating AWS account '%s' for tenant %s (request %s)\n", name, a->tenant, st->id);
	fflush(stdout);
	if (fl_org_create_wait(st, org, &err)) {
		fprintf(stderr, "flotilla account create: Organizations did not create the account: %s\n",
			err.msg);
		if (err.code == FL_EIO)
			fprintf(stderr,
				"note: the request may still succeed: see 'aws organizations "
				"describe-create-account-status --create-account-request-id %s'\n",
				st->id);
		return FL_EXIT_ERROR;
	}
	printf("created AWS account %s\n", st->account_id);
	return FL_EXIT_OK;
}

/* Moves the new account from the root into ou. */
static int move_to_ou(const struct fl_org *org, const char *account, const char *ou)
{
	struct fl_error err = FL_ERROR_INIT;
	char root[128];
	if (fl_org_root(root, sizeof(root), org, &err) || fl_org_move_account(org, account, root, ou, &err)) {
		fprintf(stderr,
			"flotilla account create: account %s was created but not moved into %s: %s\n"
			"note: move it with 'aws organizations move-account --account-id %s "
			"--source-parent-id <root> --destination-parent-id %s'\n",
			account, ou, err.msg, account, ou);
		return FL_EXIT_ERROR;
	}
	printf("moved account %s into %s\n", account, ou);
	return FL_EXIT_OK;
}

/* Commits the tenant file with the new account's id on branch, off HEAD. */
static int commit_account(struct fl_session *s, const struct fl_buf *file, const char *path,
			  const char *branch, const char *tenant, const struct fl_org_create *st)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf text = FL_BUF_INIT, msg = FL_BUF_INIT;
	struct fl_oid commit;
	char hex[FL_OID_HEX_LEN + 1];
	int rc = FL_EXIT_OK;
	fl_buf_printf(&msg,
		      "Onboard tenant %s: AWS account %s\n\nCreated with flotilla account create "
		      "(Organizations request %s).\n",
		      tenant, st->account_id, st->id);
	if (fl_tenant_account_set(&text, &(struct fl_source){ path, file->ptr, file->len }, st->account_id,
				  &err) ||
	    fl_repo_branch_commit(&commit, s->repo, branch, &s->commit,
				  &(struct fl_repo_file){ path, text.ptr, text.len }, 1, msg.ptr, &err)) {
		fprintf(stderr,
			"flotilla account create: account %s was created, but %s\n"
			"note: write account: \"%s\" into %s yourself\n",
			st->account_id, err.msg, st->account_id, path);
		rc = FL_EXIT_ERROR;
		goto out;
	}
	fl_oid_hex(hex, &commit);
	printf("committed %s with account %s on branch %s (commit %.12s)\n"
	       "next: push the branch and open a pull request: git push origin %s\n",
	       path, st->account_id, branch, hex, branch);
out:
	fl_buf_release(&text);
	fl_buf_release(&msg);
	return rc;
}

static int account_create(int argc, char **argv)
{
	struct create_args a = { 0 };
	const struct fl_opt opts[] = {
		{ FL_OPT_ARG, "TENANT", 0, NULL,
		  "the tenant, declared in tenants/TENANT.yaml with account: pending", &a.tenant, true },
		{ FL_OPT_VALUE, "email", 0, "E",
		  "the email address of the account's root user (unique in AWS)", &a.email, true },
		{ FL_OPT_VALUE, "ou", 0, "OU",
		  "the organizational unit to move the account into (default: the root)", &a.ou, false },
		{ FL_OPT_VALUE, "name", 0, "NAME", "the account's name (default: the tenant's)", &a.name,
		  false },
		{ FL_OPT_VALUE, "repo", 0, "R",
		  "the fleet repository, local (default: the current directory)", &a.repo, false },
		{ .kind = FL_OPT_END },
	};
	struct fl_session s = { 0 };
	struct org_session o = { 0 };
	struct fl_buf file = FL_BUF_INIT;
	struct fl_org_create st;
	char path[160], branch[160];
	int rc = fl_opt_parse(verb("account create"), opts, argc, argv);
	if (rc)
		return fl_opt_exit(rc);
	if ((rc = check_create_args(&a)))
		return rc;
	snprintf(branch, sizeof(branch), BRANCH_PREFIX "%s", a.tenant);
	if ((rc = prepare_create(&s, &file, path, sizeof(path), branch, &a)) ||
	    (rc = org_open(&o, "account create")) || (rc = create_account(&st, &o.org, &a)))
		goto out;
	/* Past this point the account exists: its id is committed whatever else fails. */
	int moved = a.ou ? move_to_ou(&o.org, st.account_id, a.ou) : FL_EXIT_OK;
	rc = commit_account(&s, &file, path, branch, a.tenant, &st);
	if (!rc)
		rc = moved;
out:
	org_close(&o);
	fl_buf_release(&file);
	fl_session_close(&s);
	return rc;
}

/* ---- close ---- */

/* The account decommissioned with tenant at receipt's commit, checked against HEAD's file. */
static int decommissioned_account(struct fl_buf *account, struct fl_repo *repo, const struct fl_oid *head,
				  const struct fl_receipt_ref *receipt, const char *tenant)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf file = FL_BUF_INIT, now_account = FL_BUF_INIT, now_state = FL_BUF_INIT;
	char path[160], hex[FL_OID_HEX_LEN + 1];
	int rc = FL_EXIT_ERROR;
	fl_oid_hex(hex, &receipt->commit);
	if (!tenant_path(path, sizeof(path), repo, &receipt->commit, tenant)) {
		fprintf(stderr, "error: commit %.12s, which decommissioned tenant '%s', has no file for it\n",
			hex, tenant);
		goto out;
	}
	if (fl_repo_read_file(&file, repo, &receipt->commit, path, &err) ||
	    fl_tenant_account_read(account, NULL, &(struct fl_source){ path, file.ptr, file.len }, &err)) {
		fl_print_error(&err);
		goto out;
	}
	if (!fl_org_account_id_valid(account->ptr)) {
		fprintf(stderr,
			"error: tenant '%s' was decommissioned with account '%s', which is not an AWS "
			"account id\n",
			tenant, account->ptr);
		goto out;
	}
	/* A tenant brought back (or moved to another account) since must keep its account. */
	fl_buf_clear(&file);
	if (tenant_path(path, sizeof(path), repo, head, tenant) &&
	    (fl_repo_read_file(&file, repo, head, path, &err) ||
	     fl_tenant_account_read(&now_account, &now_state, &(struct fl_source){ path, file.ptr, file.len },
				    &err))) {
		fl_print_error(&err);
		goto out;
	}
	if (now_account.len &&
	    (strcmp(now_state.ptr, "decommissioned") != 0 || strcmp(now_account.ptr, account->ptr) != 0)) {
		fprintf(stderr,
			"error: tenant '%s' is %s with account %s at HEAD, but was decommissioned with "
			"account %s at commit %.12s: its account is not closed\n",
			tenant, now_state.ptr, now_account.ptr, account->ptr, hex);
		goto out;
	}
	rc = FL_EXIT_OK;
out:
	fl_buf_release(&file);
	fl_buf_release(&now_account);
	fl_buf_release(&now_state);
	return rc;
}

/* The latest receipt of tenant in the history of HEAD, or refuses with what to do. */
static int find_receipt(struct fl_receipt_ref *receipt, struct fl_repo *repo, struct fl_oid *head,
			const char *tenant)
{
	struct fl_error err = FL_ERROR_INIT;
	bool found = false;
	if (fl_repo_resolve(head, repo, "HEAD", &err) ||
	    fl_ledger_find_receipt(receipt, &found, repo, head, tenant, &err)) {
		fl_print_error(&err);
		return FL_EXIT_ERROR;
	}
	if (!found) {
		fprintf(stderr,
			"error: tenant '%s' has no decommission receipt in the ledger (%s) of HEAD or its "
			"history: set state: decommissioned in its tenant file and run flotilla apply first\n",
			tenant, FL_NOTES_TENANTS_REF);
		return FL_EXIT_ERROR;
	}
	return FL_EXIT_OK;
}

static int close_account(const struct fl_org *org, const char *account, const char *tenant,
			 const struct fl_receipt_ref *receipt)
{
	struct fl_error err = FL_ERROR_INIT;
	char hex[FL_OID_HEX_LEN + 1], when[32];
	fl_oid_hex(hex, &receipt->commit);
	fl_time_format(when, receipt->time);
	bool closed_already = false;
	if (fl_org_close_account(&closed_already, org, account, &err)) {
		if (closed_already) {
			printf("AWS account %s of tenant %s is closed already\n", account, tenant);
			return FL_EXIT_OK;
		}
		fprintf(stderr, "flotilla account close: %s\n", err.msg);
		return FL_EXIT_ERROR;
	}
	printf("closed AWS account %s of tenant %s (decommissioned by commit %.12s at %s, "
	       "%zu resources deleted)\n"
	       "note: AWS keeps a closed account SUSPENDED for 90 days, then removes it\n",
	       account, tenant, hex, when, receipt->deleted);
	return FL_EXIT_OK;
}

static int account_close(int argc, char **argv)
{
	const char *tenant = NULL, *confirm = NULL, *repo_arg = NULL;
	const struct fl_opt opts[] = {
		{ FL_OPT_ARG, "TENANT", 0, NULL, "the decommissioned tenant whose account is closed", &tenant,
		  true },
		{ FL_OPT_VALUE, "confirm", 0, "TENANT", "the tenant's name again: closing cannot be undone",
		  &confirm, true },
		{ FL_OPT_VALUE, "repo", 0, "R", "the fleet repository (default: the current directory)",
		  &repo_arg, false },
		FL_OPT_CACHE_DIR,
		{ .kind = FL_OPT_END },
	};
	struct fl_repo *repo = NULL;
	struct org_session o = { 0 };
	struct fl_receipt_ref receipt;
	struct fl_buf account = FL_BUF_INIT;
	struct fl_oid head;
	int rc = fl_opt_parse(verb("account close"), opts, argc, argv);
	if (rc)
		return fl_opt_exit(rc);
	if (!fl_tenant_name_valid(tenant, strlen(tenant))) {
		fprintf(stderr,
			"flotilla account close: invalid tenant name '%s' "
			"(expected [a-z0-9][a-z0-9-]{0,62})\n",
			tenant);
		return FL_EXIT_USAGE;
	}
	if (strcmp(confirm, tenant) != 0) {
		fprintf(stderr,
			"flotilla account close: --confirm '%s' is not '%s': repeat the tenant's name to "
			"close its account\n",
			confirm, tenant);
		return FL_EXIT_USAGE;
	}
	if ((rc = open_repo(&repo, repo_arg, false, "account close")) ||
	    (rc = find_receipt(&receipt, repo, &head, tenant)) ||
	    (rc = decommissioned_account(&account, repo, &head, &receipt, tenant)) ||
	    (rc = org_open(&o, "account close")))
		goto out;
	rc = close_account(&o.org, account.ptr, tenant, &receipt);
out:
	org_close(&o);
	fl_buf_release(&account);
	fl_repo_free(repo);
	return rc;
}
