/*
 * flotilla plan: what a commit would change in every tenant account, as
 * text, Markdown or JSON, streamed tenant by tenant. --since plans only the
 * tenants whose inputs changed since another commit (pull-request previews).
 * The outcome becomes the commit's flotilla/plan status (SPEC 5); --pr also
 * keeps the Markdown plan as one comment on the pull request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/remote_repo.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/plan/plan.h"
#include "reconcile/plan/plan_offline.h"
#include "reconcile/plan/plan_output.h"
#include "reconcile/fleet/trust.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/status/pr_comment.h"
#include "reconcile/status/status.h"
#include "core/banned.h"

#define FLUSH_AT (256 * 1024)
/* Markdown held for the comment: more bytes than the largest limit (GitLab's 1,000,000 characters) can need. */
#define PR_HOLD (4 * 1000000 + 4)

struct plan_args {
	const char *repo, *rev, *since, *driver, *format, *pr_arg;
	struct fl_opt_list tenants;
	bool detailed, prune, refresh, allow_mass_delete;
	bool offline; /* --since BASE --offline: BASE's rendering stands in for the accounts */
	unsigned long pr;           /* --pr, or 0 */
};

/*
 * Which tenants --since selects: all when fleet.yaml or the release changed.
 * The repository stays open for the session (since_release frees it if not).
 */
struct since_set {
	bool all;
	struct fl_opt_list names;   /* strings owned (freed with the set) */
	struct fl_repo *repo;
	struct fl_oid base;         /* --since's commit: trusted, unlike the head */
};

static int on_changed_path(const char *path, bool in_new, void *payload)
{
	struct since_set *set = payload;
	size_t len;
	if (strcmp(path, "fleet.yaml") == 0 || strncmp(path, "release/", 8) == 0) {
		set->all = true;
		return 0;
	}
	if (!fl_tenant_file(path, &len))
		return 0;
	if (!in_new) {
		fprintf(stderr, "note: tenant file '%s' was removed: its account is left untouched\n", path);
		return 0;
	}
	FL_GROW(set->names.items, set->names.cap, set->names.len + 1);
	set->names.items[set->names.len++] = fl_strndup(path + 8, len);
	return 0;
}

static void since_release(struct since_set *set)
{
	for (size_t i = 0; i < set->names.len; i++)
		free((char *)set->names.items[i]);
	fl_opt_list_release(&set->names);
	fl_repo_free(set->repo);
	set->repo = NULL;
}

static int since_collect(struct since_set *set, const struct plan_args *a)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid new;
	int rc;
	const char *path = NULL;
	memset(set, 0, sizeof(*set));
	if ((rc = fl_repo_location(&path, a->repo, &err)) ||
	    (rc = fl_repo_open(&set->repo, path ? path : ".", &err)) ||
	    (rc = fl_repo_resolve(&set->base, set->repo, a->since, &err)) ||
	    (rc = fl_repo_resolve(&new, set->repo, a->rev ? a->rev : "HEAD", &err))) {
		fl_print_error(&err);
		return FL_EXIT_ERROR;
	}
	rc = fl_repo_changed_paths(set->repo, &set->base, &new, on_changed_path, set, &err);
	if (rc) {
		fl_print_error(&err);
		return FL_EXIT_ERROR;
	}
	return FL_EXIT_OK;
}

/* ---- the pull request's comment (--pr) ---- */

/* The Markdown of a plan as it streams, for the comment, with where each tenant starts. */
struct pr_md {
	struct fl_plan_writer w;
	struct fl_buf text, one;
	size_t *starts;
	size_t n, cap;
	bool full;      /* a tenant did not fit in PR_HOLD: none after it is held either */
};

static void pr_md_tenant(struct pr_md *m, const struct fl_tenant_plan *tp)
{
	fl_buf_clear(&m->one);
	fl_plan_write_tenant(&m->one, &m->w, tp);
	if (!m->one.len)
		return;
	m->full = m->full || m->text.len + m->one.len > PR_HOLD;
	FL_GROW(m->starts, m->cap, m->n + 1);
	m->starts[m->n++] = m->text.len;
	if (!m->full)
		fl_buf_put(&m->text, m->one.ptr, m->one.len);
}

static void pr_md_release(struct pr_md *m)
{
	fl_buf_release(&m->text);
	fl_buf_release(&m->one);
	free(m->starts);
}

/*
 * Keeps head and m's tenants as the comment on pull request a->pr through
 * every forge entry of trusted (the base's with --since). What fails is a
 * warning: a plan's exit status is the plan's.
 */
static void pr_comment_post(const struct plan_args *a, const struct fl_fleet *trusted, const char *head,
			    const struct pr_md *m)
{
	static const char *const done[] = { "created", "edited", "unchanged" };
	struct fl_buf text = FL_BUF_INIT, marker = FL_BUF_INIT;
	size_t *starts = fl_calloc(m->n + 1, sizeof(*starts));
	fl_buf_puts(&text, head);
	fl_buf_put(&text, m->text.ptr, m->text.len);
	for (size_t i = 0; i < m->n; i++)
		starts[i] = m->starts[i] + strlen(head);
	const struct fl_pr_plan plan = { text.ptr, text.len, starts, m->n };
	fl_pr_marker(&marker, trusted->name);
	for (size_t i = 0; i < trusted->nstatus; i++) {
		struct fl_error err = FL_ERROR_INIT;
		enum fl_pr_outcome outcome;
		if (!fl_pr_forge_entry(&trusted->status[i]))
			continue;
		if (fl_pr_comment_write(&outcome, &trusted->status[i], a->pr, marker.ptr, &plan, &err))
			fprintf(stderr, "warning: plan comment not written: %s\n", err.msg);
		else
			fprintf(stderr, "%s: plan comment on pull request %lu %s\n", trusted->status[i].type, a->pr,
				done[outcome]);
	}
	free(starts);
	fl_buf_release(&text);
	fl_buf_release(&marker);
}

/* The comment of a plan that could not be made: what went wrong, in a block no text can break out of. */
static void pr_failure_post(const struct plan_args *a, const struct fl_fleet *trusted, const char *revision,
			    const char *title, const char *desc)
{
	struct fl_buf head = FL_BUF_INIT;
	struct pr_md none = { .text = FL_BUF_INIT, .one = FL_BUF_INIT };
	fl_buf_printf(&head, "### flotilla plan for `%s`\n\n**%s**\n\n", revision, title);
	fl_md_code_block(&head, "text", desc, strlen(desc));
	pr_comment_post(a, trusted, head.ptr, &none);
	fl_buf_release(&head);
}

/* What fails here is a warning: a plan's exit status is the plan's. */
static void print_status_warnings(struct fl_statuses *st)
{
	struct fl_buf b = FL_BUF_INIT;
	if (st->failures)
		fprintf(stderr, "warning: %zu status%s could not be written: %s\n", st->failures,
			st->failures == 1 ? "" : "es", st->last_error.msg);
	fl_statuses_report(st, &b);
	for (char *line = b.ptr, *nl; (nl = strchr(line, '\n')); line = nl + 1)
		fprintf(stderr, "warning: %.*s\n", (int)(nl - line), line);
	fl_buf_release(&b);
}

/*
 * Sets flotilla/plan on commit, as apply does: through the git note and the
 * writers that trusted's fleet.yaml names (the head's own, or with --since
 * the base's), unless the commit's first successful plan stands.
 */
static void post_plan_status(struct fl_repo *repo, const struct fl_oid *commit, const struct fl_fleet *trusted,
			     enum fl_state state, const char *desc)
{
	struct fl_ledger *ledger = NULL;
	struct fl_statuses st = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	char rev[FL_OID_HEX_LEN + 1];
	fl_oid_hex(rev, commit);
	if (fl_ledger_open_brief(&ledger, repo, commit, &err) ||
	    fl_statuses_open_rev(&st, trusted, rev, ledger, &err)) {
		fprintf(stderr, "warning: status '%s' could not be written: %s\n", FL_PLAN_CONTEXT, err.msg);
		goto out;
	}
	if (fl_plan_status_due(ledger, state)) {
		struct fl_status_update u = { FL_PLAN_CONTEXT, state, desc, false, FL_WAVE_EVENT_NONE };
		fl_statuses_set(&st, &u);
	}
	fl_statuses_flush(&st);
	print_status_warnings(&st);
out:
	fl_statuses_release(&st);
	fl_ledger_free(ledger);
}

/* "invalid fleet (3 problems): tenants/acme.yaml:4: unknown var 'colour'", for flotilla/plan. */
static void describe_invalid(struct fl_buf *out, const struct fl_diags *diags, const struct fl_error *first)
{
	size_t n = diags->len + diags->dropped;
	fl_buf_puts(out, "invalid fleet");
	if (n > 1)
		fl_buf_printf(out, " (%zu problems)", n);
	fl_buf_puts(out, ": ");
	if (first->path[0] && first->line)
		fl_buf_printf(out, "%s:%u: ", first->path, first->line);
	else if (first->path[0])
		fl_buf_printf(out, "%s: ", first->path);
	fl_buf_puts(out, first->msg);
}

/*
 * Whose status entries report on a head that does not load: the base's
 * with --since (since), else the head's fleet.yaml alone (a broken release
 * or tenant does not silence them); NULL when that does not load either.
 * The caller frees it.
 */
static struct fl_fleet *status_entries(struct fl_repo *repo, const struct fl_oid *head, const char *since)
{
	const struct fl_fleet_load_opts bare = { .settings_only = true };
	struct fl_fleet *out = NULL;
	struct fl_diags diags = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid base;
	if (!since || fl_repo_resolve(&base, repo, since, &err) == 0)
		(void)fl_fleet_load(&out, repo, since ? &base : head, &bare, &diags, &err);
	fl_diags_release(&diags);
	return out;
}

/*
 * The fleet at the head does not load (its errors were printed): its
 * flotilla/plan is failure, naming the first problem, through the writers
 * status_entries finds, else the git note alone. Nothing is set when there
 * is no commit to set it on.
 */
static void post_invalid(const struct plan_args *a, const struct fl_fleet_load_opts *lopts)
{
	struct fl_repo *repo = NULL;
	struct fl_fleet *fleet = NULL, *entries = NULL, empty = { 0 };
	struct fl_diags diags = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid head;
	struct fl_buf desc = FL_BUF_INIT;
	const char *path = NULL;
	if (fl_repo_location(&path, a->repo, &err) || fl_repo_open(&repo, path ? path : ".", &err) ||
	    fl_repo_resolve(&head, repo, a->rev ? a->rev : "HEAD", &err))
		goto out;
	int rc = fl_fleet_load(&fleet, repo, &head, lopts, &diags, &err);
	if (rc != FL_EINPUT && rc != FL_ELIMIT)
		goto out; /* it loads, or git failed: not the fleet's fault */
	describe_invalid(&desc, &diags, diags.len ? &diags.items[0] : &err);
	entries = status_entries(repo, &head, a->since);
	post_plan_status(repo, &head, entries ? entries : &empty, FL_STATE_FAILURE, desc.ptr);
	if (a->pr && entries) {
		char rev[FL_OID_HEX_LEN + 1];
		fl_oid_hex(rev, &head);
		pr_failure_post(a, entries, rev, "The fleet does not load: `flotilla validate` shows every problem.",
				desc.ptr);
	}
out:
	fl_buf_release(&desc);
	fl_diags_release(&diags);
	fl_fleet_free(fleet);
	fl_fleet_free(entries);
	fl_repo_free(repo);
}

struct plan_out {
	struct fl_plan_writer w;
	struct fl_buf buf;
	bool buffer_all;     /* Markdown: the summary goes first, so hold the body */
	struct pr_md *pr;    /* --pr: the comment's Markdown, or NULL */
};

static void flush(struct plan_out *o, bool force)
{
	if (o->buffer_all || (!force && o->buf.len < FLUSH_AT))
		return;
	fwrite(o->buf.ptr, 1, o->buf.len, stdout);
	fl_buf_clear(&o->buf);
}

static int on_tenant(const struct fl_tenant_plan *tp, void *payload)
{
	struct plan_out *o = payload;
	fl_plan_write_tenant(&o->buf, &o->w, tp);
	if (o->pr)
		pr_md_tenant(o->pr, tp);
	flush(o, false);
	return 0;
}

/*
 * --since loads only the changed tenants, which keeps a preview as cheap as
 * the change. Deletes are weighed against the whole fleet, as the full plan
 * weighs them: only then are the other manifests loaded, and their markers
 * read.
 */
static int weigh_whole_fleet(struct fl_plan_summary *sum, struct fl_session *s, struct fl_driver *driver,
			     const struct fl_plan_opts *popts)
{
	struct fl_fleet *all = NULL;
	struct fl_diags diags = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	int rc = FL_EXIT_OK;
	if (fl_fleet_load(&all, s->repo, &s->commit, NULL, &diags, &err)) {
		fl_print_diags(&diags, &err);
		rc = FL_EXIT_ERROR;
	} else {
		sum->observed += fl_plan_count_rest(all, driver, popts);
	}
	fl_diags_release(&diags);
	fl_fleet_free(all);
	return rc;
}

/*
 * The offline driver over --since's commit (base, in hex): no driver of
 * fleet.yaml is opened, no account read, no credential needed.
 */
static int open_offline(struct fl_driver *out, struct fl_session *s, const char *base)
{
	struct fl_diags diags = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_oid id;
	int rc = FL_EXIT_OK;
	if (fl_repo_resolve(&id, s->repo, base, &err) ||
	    fl_plan_offline_open(out, s->repo, &id, &diags, &err)) {
		fprintf(stderr, "flotilla plan: the fleet of --since %.7s, which --offline renders, does not load:\n",
			base);
		fl_print_diags(&diags, &err);
		rc = FL_EXIT_ERROR;
	}
	fl_diags_release(&diags);
	return rc;
}

/*
 * Plans s->fleet (the head) through the driver of trusted: the head's own
 * fleet, or with --since the base's, whose differences trust describes.
 */
static int run_plan(struct fl_session *s, const struct plan_args *a, enum fl_format format,
		    const struct fl_fleet *trusted, const struct fl_trust_changes *trust,
		    const char *const *only, size_t nonly)
{
	struct fl_driver driver = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_plan_summary sum;
	struct fl_buf desc = FL_BUF_INIT; /* flotilla/plan's description, once the plan ran */
	enum fl_state state = FL_STATE_SUCCESS;
	struct pr_md md = { .w = { .format = FL_FORMAT_MARKDOWN, .fleet = s->fleet, .trust = trust },
			    .text = FL_BUF_INIT, .one = FL_BUF_INIT };
	struct fl_buf md_head = FL_BUF_INIT;
	struct plan_out o = { .buffer_all = format == FL_FORMAT_MARKDOWN, .pr = a->pr ? &md : NULL };
	struct fl_plan_opts popts = {
		.prune = a->prune || s->fleet->prune,
		.refresh = a->refresh,
		.tenants = only,
		.ntenants = nonly,
	};
	/* The trusted fleet's driver (the base's with --since), or --driver's, which is the operator's. */
	int rc = a->offline ? open_offline(&driver, s, trust->base)
			    : fl_driver_from_args(&driver, a->driver, trusted, "plan");
	if (rc)
		return rc;
	o.w.offline = a->offline;
	md.w.offline = a->offline; /* the comment says it too */
	o.w.format = format;
	o.w.fleet = s->fleet;
	o.w.trust = trust;
	o.w.color = format == FL_FORMAT_TEXT && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	fl_buf_init(&o.buf, 0);
	fl_plan_write_begin(&o.buf, &o.w);
	if ((rc = fl_plan_run(&sum, s->fleet, &driver, &popts, on_tenant, &o, &err))) {
		fl_print_error(&err);
		fl_buf_printf(&desc, "plan failed: %s", err.msg);
		if (a->pr)
			pr_failure_post(a, trusted, s->fleet->revision, "The plan failed.", desc.ptr);
		state = FL_STATE_ERROR;
		rc = rc == FL_EUSAGE ? FL_EXIT_USAGE : FL_EXIT_ERROR;
		goto out;
	}
	if (only && sum.deletes && (rc = weigh_whole_fleet(&sum, s, &driver, &popts)))
		goto out;
	bool mass = !a->allow_mass_delete && fl_plan_mass_delete(&sum, s->fleet->max_delete_percent);
	if (format == FL_FORMAT_MARKDOWN) {
		struct fl_buf head = FL_BUF_INIT;
		fl_plan_write_markdown_head(&head, &o.w, &sum, mass);
		fwrite(head.ptr, 1, head.len, stdout);
		fl_buf_release(&head);
		o.buffer_all = false;
	}
	fl_plan_write_end(&o.buf, &o.w, &sum, mass);
	flush(&o, true);
	if (a->pr) {
		fflush(stdout); /* the plan is shown before the comment is written, which may wait on the forge */
		fl_plan_write_markdown_head(&md_head, &md.w, &sum, mass);
		pr_comment_post(a, trusted, md_head.ptr, &md);
	}
	if (mass)
		fl_buf_printf(&desc, "refused: deletes %zu of %zu resources, over the guard of %u%%", sum.deletes,
			      sum.observed, s->fleet->max_delete_percent);
	else
		fl_plan_describe(&desc, &sum);
	state = mass || sum.tenants_failed ? FL_STATE_FAILURE : FL_STATE_SUCCESS;
	if (mass || sum.tenants_failed)
		rc = FL_EXIT_ERROR;
	else if (a->detailed && (sum.tenants_changed || (trust && fl_trust_changed(trust))))
		rc = FL_EXIT_CHANGES;
out:
	fflush(stdout);
	/* --tenant plans a part: like apply --tenant, it leaves the commit's statuses alone.
	 * --offline is no plan of the accounts, and reads no forge token. */
	if (desc.len && !a->tenants.len && !a->offline)
		post_plan_status(s->repo, &s->commit, trusted, state, desc.ptr);
	fl_buf_release(&desc);
	fl_buf_release(&o.buf);
	fl_buf_release(&md_head);
	pr_md_release(&md);
	fl_driver_release(&driver);
	return rc;
}

/*
 * The fleet of --since's commit, for its settings alone (fleet.yaml: no
 * release, no tenant is read): the driver, statuses and verify commands a
 * pull request's head may not choose. A base whose fleet.yaml does not load
 * is an error: there is then no trusted driver to plan with.
 */
static int load_base(struct fl_fleet **out, struct fl_session *s, const struct fl_oid *base)
{
	struct fl_fleet_load_opts opts = { .settings_only = true };
	struct fl_diags diags = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	char hex[FL_OID_HEX_LEN + 1];
	int rc = FL_EXIT_OK;
	if (fl_fleet_load(out, s->repo, base, &opts, &diags, &err)) {
		fl_oid_hex(hex, base);
		fprintf(stderr, "flotilla plan: the fleet of --since %.7s, whose driver a preview uses, does not load:\n",
			hex);
		fl_print_diags(&diags, &err);
		rc = FL_EXIT_ERROR;
	}
	fl_diags_release(&diags);
	return rc;
}

/* --pr's value: a pull request's number, a positive integer; --tenant's part of a plan is not one to show. */
static int parse_pr(struct plan_args *a)
{
	char *end = NULL;
	if (!a->pr_arg)
		return FL_EXIT_OK;
	errno = 0;
	unsigned long long n = a->pr_arg[0] >= '0' && a->pr_arg[0] <= '9' ? strtoull(a->pr_arg, &end, 10) : 0;
	if (!end || *end || errno || n == 0 || n > 0x7fffffffffffffffULL || n != (unsigned long)n) {
		fprintf(stderr, "flotilla plan: --pr '%s' is not a pull request number (a positive integer)\n",
			a->pr_arg);
		return FL_EXIT_USAGE;
	}
	if (a->tenants.len) {
		fprintf(stderr, "flotilla plan: --pr and --tenant cannot be combined (the comment holds the whole plan)\n");
		return FL_EXIT_USAGE;
	}
	a->pr = (unsigned long)n;
	return FL_EXIT_OK;
}

/* --pr needs a forge to comment through: an entry of trusted's status (the base's with --since). */
static int check_pr(const struct plan_args *a, const struct fl_fleet *trusted)
{
	if (!a->pr || fl_pr_forge_count(trusted))
		return FL_EXIT_OK;
	fprintf(stderr,
		"flotilla plan: --pr %lu: fleet.yaml%s has no github, gitlab or gitea status entry to comment through\n",
		a->pr, a->since ? " of --since's commit" : "");
	return FL_EXIT_USAGE;
}

int cmd_plan(int argc, char **argv)
{
	struct plan_args a = { 0 };
	const struct fl_opt opts[] = {
		{ FL_OPT_VALUE, "repo", 0, "R", "the fleet repository (default: the current directory)", &a.repo, false },
		FL_OPT_CACHE_DIR,
		{ FL_OPT_VALUE, "rev", 0, "REV", "the commit to plan (default: HEAD)", &a.rev, false },
		{ FL_OPT_LIST, "tenant", 't', "T", "plan only this tenant (repeatable)", &a.tenants, false },
		{ FL_OPT_VALUE, "since", 0, "REV", "plan only tenants whose inputs changed since REV", &a.since, false },
		{ FL_OPT_FLAG, "offline", 0, NULL, "with --since: read no account, take each to hold what REV renders", &a.offline, false },
		{ FL_OPT_VALUE, "driver", 0, "TYPE:ARG", "override fleet.yaml's driver, like dir:/tmp/accounts", &a.driver, false },
		{ FL_OPT_VALUE, "format", 0, "text|json|markdown", "the output: for people (default), machines or pull requests", &a.format, false },
		{ FL_OPT_FLAG, "detailed-exitcode", 0, NULL, "exit 3 when the plan has changes", &a.detailed, false },
		{ FL_OPT_FLAG, "prune", 0, NULL, "plan deletes of resources that left the release", &a.prune, false },
		{ FL_OPT_FLAG, "refresh", 0, NULL, "observe every account instead of trusting converged markers", &a.refresh, false },
		{ FL_OPT_FLAG, "allow-mass-delete", 0, NULL, "accept deletes beyond guard.max_delete_percent", &a.allow_mass_delete, false },
		{ FL_OPT_VALUE, "pr", 0, "N", "keep the Markdown plan as one comment on pull request N (GitLab: merge request)", &a.pr_arg, false },
		{ .kind = FL_OPT_END },
	};
	const struct fl_cmd *cmd = fl_cmd_find("plan");
	struct since_set since = { 0 };
	struct fl_session s = { 0 };
	struct fl_fleet *base = NULL;
	struct fl_trust_changes trust = { 0 };
	int rc = fl_opt_parse(cmd, opts, argc, argv);
	if (rc) {
		rc = fl_opt_exit(rc);
		goto out;
	}
	int format = fl_format_parse(a.format ? a.format : "text");
	if (format < 0) {
		fprintf(stderr, "flotilla plan: unknown format '%s' (expected text, json or markdown)\n", a.format);
		rc = FL_EXIT_USAGE;
		goto out;
	}
	if (a.since && a.tenants.len) {
		fprintf(stderr, "flotilla plan: --since and --tenant cannot be combined\n");
		rc = FL_EXIT_USAGE;
		goto out;
	}
	if (a.offline && (!a.since || a.driver)) {
		fprintf(stderr, a.driver ? "flotilla plan: --offline reads no account: --driver cannot be combined with it\n"
					 : "flotilla plan: --offline needs --since BASE: BASE's rendering stands in for the accounts\n");
		rc = FL_EXIT_USAGE;
		goto out;
	}
	if ((rc = parse_pr(&a)))
		goto out;
	struct fl_fleet_load_opts lopts = { 0 };
	if (a.tenants.len) {
		lopts.only = a.tenants.items;
		lopts.nonly = a.tenants.len;
	}
	if (a.since) {
		if ((rc = since_collect(&since, &a)))
			goto out;
		if (!since.all) {
			/* A non-NULL empty list loads no tenant at all. */
			lopts.only = since.names.items ? since.names.items : (const char *const *)&since;
			lopts.nonly = since.names.len;
		}
	}
	/* The session reuses --since's repository and the trees it already read. */
	s.repo = since.repo;
	since.repo = NULL;
	if ((rc = fl_session_open(&s, a.repo, a.rev, &lopts))) {
		if (!a.tenants.len && !a.offline)
			post_invalid(&a, &lopts);
		goto out;
	}
	if (!a.since) {
		if (!(rc = check_pr(&a, s.fleet)))
			rc = run_plan(&s, &a, (enum fl_format)format, s.fleet, NULL, lopts.only, lopts.nonly);
		goto out;
	}
	if ((rc = load_base(&base, &s, &since.base)) || (rc = check_pr(&a, base)))
		goto out;
	fl_trust_compare(&trust, s.fleet, base);
	/* Only the changed tenants are loaded and planned; the guard still weighs the whole fleet. */
	rc = run_plan(&s, &a, (enum fl_format)format, base, &trust, lopts.only, lopts.nonly);
out:
	fl_trust_changes_release(&trust);
	fl_fleet_free(base);
	fl_session_close(&s);
	since_release(&since);
	fl_opt_list_release(&a.tenants);
	return rc;
}
