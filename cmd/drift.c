/*
 * flotilla drift [--fix]: observe every account fully and report resources
 * that differ from the commit its marker names; with --fix, apply that
 * commit again to the drifted tenants, through the same waves and
 * tolerances. The grouping by commit is reconcile/plan/drift.h's; this file
 * prints and maps outcomes to exit codes.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "reconcile/plan/drift.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/plan/plan.h"
#include "reconcile/plan/plan_output.h"
#include "reconcile/rollout/rollout.h"
#include "core/banned.h"

struct drift {
	struct fl_drift_groups groups;
	struct fl_plan_writer w;
	struct fl_drift_group *current;
	size_t drifted;
	size_t unmanaged, unmanaged_tenants;   /* reported, never fixed: flotilla did not create them */
};

static void print_tenant(struct drift *d, const struct fl_tenant_plan *tp)
{
	struct fl_buf out = FL_BUF_INIT;
	fl_plan_write_tenant(&out, &d->w, tp);
	fputs(out.ptr, stdout);
	fl_buf_release(&out);
}

static int on_tenant(const struct fl_tenant_plan *tp, void *payload)
{
	struct drift *d = payload;
	d->unmanaged += tp->unmanaged;
	d->unmanaged_tenants += tp->unmanaged > 0;
	if (tp->outcome != FL_TENANT_CHANGES && tp->outcome != FL_TENANT_FAILED) {
		if (tp->unmanaged)
			print_tenant(d, tp);
		return 0;
	}
	d->drifted++;
	/* The group's own copy of the name: the plan's fleet is gone before --fix runs. */
	fl_drift_group_mark(d->current, tp->tenant->name);
	print_tenant(d, tp);
	return 0;
}

static int check_group(struct drift *d, struct fl_drift_group *g, const char *repo, struct fl_driver *driver)
{
	struct fl_session s = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_plan_summary sum;
	struct fl_fleet_load_opts lopts = { .only = g->names, .nonly = g->nnames };
	int rc = fl_session_open(&s, repo, g->revision, &lopts);
	if (rc)
		return rc;
	struct fl_plan_opts popts = { .refresh = true };
	d->w = (struct fl_plan_writer){ .format = FL_FORMAT_TEXT, .fleet = s.fleet };
	d->current = g;
	printf("accounts at %.12s: %zu tenant%s\n", g->revision, g->nnames, g->nnames == 1 ? "" : "s");
	if (fl_plan_run(&sum, s.fleet, driver, &popts, on_tenant, d, &err)) {
		fl_print_error(&err);
		rc = FL_EXIT_ERROR;
	}
	fl_session_close(&s);
	return rc;
}

static int fix_group(struct fl_drift_group *g, const char *repo, struct fl_driver *driver)
{
	struct fl_session s = { 0 };
	struct fl_ledger *ledger = NULL;
	struct fl_rollout_report report = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	int rc = fl_session_open(&s, repo, g->revision, NULL);
	if (rc)
		return rc;
	struct fl_rollout_opts ropts = { .tenants = g->drifted, .ntenants = g->ndrifted, .refresh = true,
					 .self_exe = self, .cancel = fl_stop_flag() };
	fl_stop_on_signals();
	if (fl_ledger_open(&ledger, fl_repo_gitdir(s.repo), &s.commit, &err) ||
	    fl_rollout_run(&report, s.repo, s.fleet, driver, ledger, &ropts, &err)) {
		fl_print_error(&err);
		rc = FL_EXIT_ERROR;
	} else {
		printf("fixed at %.12s: %s\n", g->revision,
		       report.outcome == FL_ROLLOUT_DONE ? "done" : "not finished (see flotilla status)");
		if (report.held_by[0])
			printf("%s\n", report.held_by);
		rc = fl_rollout_exit(report.outcome);
	}
	fl_rollout_report_release(&report);
	fl_ledger_free(ledger);
	fl_session_close(&s);
	return rc;
}

int cmd_drift(int argc, char **argv)
{
	const char *repo = NULL, *driver_arg = NULL;
	bool fix = false;
	const struct fl_opt opts[] = {
		{ FL_OPT_VALUE, "repo", 0, "R", "the fleet repository (default: the current directory)", &repo, false },
		FL_OPT_CACHE_DIR,
		{ FL_OPT_FLAG, "fix", 0, NULL, "apply the marker's commit again to drifted tenants", &fix, false },
		{ FL_OPT_VALUE, "driver", 0, "TYPE:ARG", "override fleet.yaml's driver, like dir:/tmp/accounts", &driver_arg, false },
		{ .kind = FL_OPT_END },
	};
	struct fl_session head = { 0 };
	struct fl_driver driver = { 0 };
	struct drift d = { 0 };
	int rc = fl_opt_parse(fl_cmd_find("drift"), opts, argc, argv);
	if (rc) {
		rc = fl_opt_exit(rc);
		goto out;
	}
	if ((rc = fl_session_open(&head, repo, NULL, NULL)))
		goto out;
	if ((rc = fl_driver_from_args(&driver, driver_arg, head.fleet, "drift")))
		goto out;
	fl_drift_group_tenants(&d.groups, head.fleet, &driver);
	for (size_t i = 0; i < d.groups.len && !rc; i++)
		rc = check_group(&d, &d.groups.items[i], repo, &driver);
	if (rc)
		goto out;
	printf("drift: %zu tenant%s from the commit %s\n", d.drifted, d.drifted == 1 ? " differs" : "s differ",
	       d.drifted == 1 ? "its account records" : "their accounts record");
	/* Like an orphaned resource in Argo CD: a warning, not drift; --fix leaves it. */
	if (d.unmanaged)
		printf("unmanaged: %zu resource%s in %zu tenant%s not created by flotilla, left alone\n", d.unmanaged,
		       d.unmanaged == 1 ? "" : "s", d.unmanaged_tenants, d.unmanaged_tenants == 1 ? "" : "s");
	if (!fix) {
		rc = d.drifted ? FL_EXIT_CHANGES : FL_EXIT_OK;
		goto out;
	}
	for (size_t i = 0; i < d.groups.len && !rc; i++)
		if (d.groups.items[i].ndrifted)
			rc = fix_group(&d.groups.items[i], repo, &driver);
out:
	fl_drift_groups_release(&d.groups);
	fl_driver_release(&driver);
	fl_session_close(&head);
	return rc;
}
