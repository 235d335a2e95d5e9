/*
 * flotilla apply: roll a commit out to every account in waves, canaries
 * first, with statuses in the ledger note. Progress is drawn as one line per
 * wave on a terminal, plain lines otherwise, or a JSON report at the end.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/remote_repo.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/syntax.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/plan/plan_output.h"
#include "reconcile/rollout/rollout.h"
#include "reconcile/status/status.h"
#include "core/banned.h"

struct progress {
	bool tty, json;
	size_t drawn;              /* lines of the last frame on the terminal */
	long long t0;
	size_t *last_done;         /* per wave: done+failed last printed (plain mode) */
	enum fl_state *last_state;
	bool *last_started;
	bool *last_finished;
};

/* A wave with no tenants (not started yet, or none selected) is empty until it has finished. */
static void bar(char *out, size_t width, size_t done, size_t total, bool finished)
{
	size_t fill = total ? done * width / total : finished ? width : 0;
	for (size_t i = 0; i < width; i++)
		out[i] = i < fill ? '#' : '.';
	out[width] = '\0';
}

static void wave_line(const struct fl_wave_report *w, long long elapsed_ms, bool with_bar, char *out, size_t cap)
{
	char b[24] = "", suspended[40] = "";
	if (w->skipped)
		snprintf(suspended, sizeof(suspended), ", %zu suspended", w->skipped);
	if (with_bar) {
		b[0] = '[';
		bar(b + 1, 20, w->started ? w->done + w->skipped + w->failed : 0, w->total, w->finished);
		b[21] = ']';
		b[22] = ' ';
		b[23] = '\0';
	}
	if (!w->started)
		snprintf(out, cap, "%-10s %s%s", w->name, b, w->description[0] ? w->description : "not started");
	else if (w->finished)
		snprintf(out, cap, "%-10s %s%s: %s (%llds)", w->name, b, fl_state_name(w->state), w->description,
			 elapsed_ms / 1000);
	else
		snprintf(out, cap, "%-10s %s%zu/%zu done%s, %zu failed, %zu in flight (%llds)", w->name, b, w->done,
			 w->total, suspended, w->failed, w->in_flight, elapsed_ms / 1000);
}

static void on_progress(const struct fl_rollout_report *report, size_t wave, void *payload)
{
	struct progress *p = payload;
	char line[256];
	long long elapsed = fl_mono_ms() - p->t0;
	if (p->json)
		return;
	if (p->tty) {
		if (p->drawn)
			printf("\033[%zuA", p->drawn);
		for (size_t w = 0; w < report->nwaves; w++) {
			wave_line(&report->waves[w], elapsed, true, line, sizeof(line));
			printf("\r\033[K%s\n", line);
		}
		p->drawn = report->nwaves;
		fflush(stdout);
		return;
	}
	/* Plain lines: on a change of state, and every tenth of the wave. */
	const struct fl_wave_report *w = &report->waves[wave];
	size_t finished = w->done + w->skipped + w->failed;
	size_t step = w->total / 10 ? w->total / 10 : 1;
	bool same_state = p->last_started[wave] == w->started && p->last_state[wave] == w->state &&
			  p->last_finished[wave] == w->finished;
	if (same_state && (finished < p->last_done[wave] + step || finished == p->last_done[wave]))
		return;
	p->last_done[wave] = finished;
	p->last_state[wave] = w->state;
	p->last_started[wave] = w->started;
	p->last_finished[wave] = w->finished;
	wave_line(w, elapsed, false, line, sizeof(line));
	printf("%s\n", line);
	fflush(stdout);
}

static const char *outcome_name(enum fl_rollout_outcome o)
{
	switch (o) {
	case FL_ROLLOUT_DONE: return "done";
	case FL_ROLLOUT_HALTED: return "halted";
	case FL_ROLLOUT_WAITING: return "waiting";
	case FL_ROLLOUT_SUPERSEDED: return "superseded";
	case FL_ROLLOUT_REFUSED: return "refused";
	case FL_ROLLOUT_CANCELLED: return "cancelled";
	}
	return "unknown";
}

static void print_json(const struct fl_rollout_report *r, const char *revision)
{
	struct fl_buf b = FL_BUF_INIT;
	fl_buf_puts(&b, "{\"held_by\":");
	fl_json_put_str(&b, r->held_by, strlen(r->held_by));
	fl_buf_puts(&b, ",\"outcome\":");
	fl_json_put_str(&b, outcome_name(r->outcome), strlen(outcome_name(r->outcome)));
	fl_buf_printf(&b, ",\"revision\":\"%s\",\"status_failures\":%zu,\"waves\":[", revision, r->status_failures);
	for (size_t w = 0; w < r->nwaves; w++) {
		const struct fl_wave_report *wr = &r->waves[w];
		fl_buf_puts(&b, w ? ",{\"description\":" : "{\"description\":");
		fl_json_put_str(&b, wr->description, strlen(wr->description));
		fl_buf_printf(&b, ",\"done\":%zu,\"failed\":%zu,\"name\":", wr->done, wr->failed);
		fl_json_put_str(&b, wr->name, strlen(wr->name));
		fl_buf_printf(&b, ",\"started\":%s,\"state\":\"%s\",\"suspended\":%zu,\"total\":%zu}",
			      wr->started ? "true" : "false", wr->description[0] ? fl_state_name(wr->state) : "none",
			      wr->skipped, wr->total);
	}
	fl_buf_puts(&b, "]}\n");
	fputs(b.ptr, stdout);
	fl_buf_release(&b);
}

static void print_summary(const struct fl_rollout_report *r)
{
	printf("\n");
	for (size_t w = 0; w < r->nwaves; w++)
		printf("  %-10s %-8s %s\n", r->waves[w].name,
		       r->waves[w].description[0] ? fl_state_name(r->waves[w].state) : "-",
		       r->waves[w].description[0] ? r->waves[w].description : "not started");
	const char *what = r->outcome == FL_ROLLOUT_DONE     ? "rollout done"
			   : r->outcome == FL_ROLLOUT_HALTED ? "rollout halted: a wave failed past its tolerance"
			   : r->outcome == FL_ROLLOUT_WAITING && r->awaiting_shards ? "rollout waiting: another shard has not finished the wave"
			   : r->outcome == FL_ROLLOUT_WAITING ? "rollout waiting: a bake or a manual gate holds the next wave"
			   : r->outcome == FL_ROLLOUT_SUPERSEDED ? "rollout superseded by a newer commit"
			   : r->outcome == FL_ROLLOUT_CANCELLED ? "rollout stopped by a signal after in-flight tenants finished"
								 : "rollout refused by the mass-delete guard (--allow-mass-delete overrides)";
	printf("%s\n", what);
	if (r->held_by[0])
		printf("%s\n", r->held_by);
	if (r->superseded_by[0])
		printf("accounts are already at %.12s\n", r->superseded_by);
}

/* What the forge writers have to say at the end (a read-back that failed, GitHub's cap), one warning a line. */
static void print_status_report(struct fl_statuses *statuses)
{
	struct fl_buf b = FL_BUF_INIT;
	fl_statuses_report(statuses, &b);
	for (char *line = b.ptr, *nl; (nl = strchr(line, '\n')); line = nl + 1)
		fprintf(stderr, "warning: %.*s\n", (int)(nl - line), line);
	fl_buf_release(&b);
}

static void log_line(enum fl_log_level level, const char *msg, void *payload)
{
	(void)payload;
	if (level >= FL_LOG_WARN)
		fprintf(stderr, "%s\n", msg);
}

/* --shard K/N: 1 <= K <= N <= FL_SHARDS_MAX; --barrier-timeout like 30m. Prints what is wrong. */
#define FL_SHARDS_MAX 1000

/* --shard-run: 1 to FL_SHARD_RUN_MAX letters, digits, '.', '_' or '-' (a CI run id). */
static bool run_id_valid(const char *run)
{
	size_t n = strlen(run);
	if (!n || n > FL_SHARD_RUN_MAX)
		return false;
	for (const char *p = run; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

static int parse_shard(struct fl_rollout_opts *o, const char *shard, const char *run, const char *timeout)
{
	char *end;
	unsigned long k = 0, n = 0;
	if (shard) {
		k = strtoul(shard, &end, 10);
		if (end != shard && *end == '/' && end[1] >= '0' && end[1] <= '9')
			n = strtoul(end + 1, &end, 10);
		if (*end || !n || k < 1 || k > n || n > FL_SHARDS_MAX) {
			fprintf(stderr, "flotilla apply: --shard '%s' is not K/N with 1 <= K <= N <= %d\n", shard,
				FL_SHARDS_MAX);
			return FL_EXIT_USAGE;
		}
	}
	if (shard && (!run || !run_id_valid(run))) {
		fprintf(stderr, "flotilla apply: --shard needs --shard-run ID, the same for the N jobs of one run "
				"(a CI run id like $GITHUB_RUN_ID: 1 to %d letters, digits, '.', '_' or '-')%s%s%s\n",
			FL_SHARD_RUN_MAX, run ? "; got '" : "", run ? run : "", run ? "'" : "");
		return FL_EXIT_USAGE;
	}
	if (run && !shard) {
		fprintf(stderr, "flotilla apply: --shard-run needs --shard\n");
		return FL_EXIT_USAGE;
	}
	if (timeout && (!shard || !fl_duration_parse(&o->barrier_timeout_s, timeout) || !o->barrier_timeout_s)) {
		fprintf(stderr, "flotilla apply: --barrier-timeout '%s' %s\n", timeout,
			shard ? "is not a duration like 30s, 10m or 1h" : "needs --shard");
		return FL_EXIT_USAGE;
	}
	o->shard_k = (unsigned)k;
	o->shard_n = (unsigned)n;
	o->shard_run = run;
	o->share = shard ? fl_remote_share_notes : NULL;
	return 0;
}

int cmd_apply(int argc, char **argv)
{
	const char *repo = NULL, *rev = NULL, *through = NULL, *driver_arg = NULL, *format = NULL;
	const char *shard = NULL, *shard_run = NULL, *barrier_timeout = NULL;
	struct fl_opt_list tenants = { 0 };
	bool prune = false, mass = false, wait = false;
	const struct fl_opt opts[] = {
		{ FL_OPT_VALUE, "repo", 0, "R", "the fleet repository (default: the current directory)", &repo, false },
		FL_OPT_CACHE_DIR,
		{ FL_OPT_VALUE, "rev", 0, "REV", "the commit to roll out (default: HEAD)", &rev, false },
		{ FL_OPT_VALUE, "through", 0, "WAVE", "stop after this wave", &through, false },
		{ FL_OPT_LIST, "tenant", 't', "T", "apply only this tenant (repeatable); wave statuses are left alone", &tenants, false },
		{ FL_OPT_FLAG, "prune", 0, NULL, "delete resources that left the release", &prune, false },
		{ FL_OPT_FLAG, "allow-mass-delete", 0, NULL, "accept deletes beyond guard.max_delete_percent", &mass, false },
		{ FL_OPT_FLAG, "wait", 0, NULL, "sleep through bakes and manual gates instead of exiting 5", &wait, false },
		{ FL_OPT_VALUE, "driver", 0, "TYPE:ARG", "override fleet.yaml's driver, like dir:/tmp/accounts", &driver_arg, false },
		{ FL_OPT_VALUE, "format", 0, "text|json", "the output: for people (default) or machines", &format, false },
		{ FL_OPT_VALUE, "shard", 0, "K/N", "apply only shard K of N (a CI matrix); needs --repo URL", &shard, false },
		{ FL_OPT_VALUE, "shard-run", 0, "ID", "with --shard: the run the N jobs share, like $GITHUB_RUN_ID; rerun a lost shard with the same", &shard_run, false },
		{ FL_OPT_VALUE, "barrier-timeout", 0, "DURATION", "with --shard: how long to wait for the other shards at a wave's end (default 30m)", &barrier_timeout, false },
		{ .kind = FL_OPT_END },
	};
	struct fl_session s = { 0 };
	struct fl_driver driver = { 0 };
	struct fl_ledger *ledger = NULL;
	struct fl_rollout_report report = { 0 };
	struct fl_statuses statuses = { 0 };
	struct fl_error err = FL_ERROR_INIT;
	struct progress p = { 0 };
	char self[PATH_MAX];
	int rc = fl_opt_parse(fl_cmd_find("apply"), opts, argc, argv);
	if (rc) {
		rc = fl_opt_exit(rc);
		goto out;
	}
	if (format && strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
		fprintf(stderr, "flotilla apply: unknown format '%s' (expected text or json)\n", format);
		rc = FL_EXIT_USAGE;
		goto out;
	}
	struct fl_rollout_opts ropts = { 0 };
	if ((rc = parse_shard(&ropts, shard, shard_run, barrier_timeout)))
		goto out;
	if (shard && tenants.len) {
		fprintf(stderr, "flotilla apply: --shard and --tenant do not go together: a shard's tenants are chosen by hash\n");
		rc = FL_EXIT_USAGE;
		goto out;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	if ((rc = fl_session_open(&s, repo, rev, NULL)) ||
	    (rc = fl_driver_from_args(&driver, driver_arg, s.fleet, "apply")))
		goto out;
	if (shard && !fl_remote_session(&s)) {
		fprintf(stderr, "flotilla apply: --shard needs --repo URL: shards share the rollout by pushing its "
				"notes to the remote and fetching the others'\n");
		rc = FL_EXIT_USAGE;
		goto out;
	}
	if (fl_ledger_open(&ledger, fl_repo_gitdir(s.repo), &s.commit, &err) ||
	    fl_statuses_open(&statuses, s.fleet, ledger, &err)) {
		fl_print_error(&err);
		rc = FL_EXIT_ERROR;
		goto out;
	}
	p.json = format && strcmp(format, "json") == 0;
	p.tty = !p.json && isatty(STDOUT_FILENO);
	p.t0 = fl_mono_ms();
	p.last_done = calloc(s.fleet->nwaves + 1, sizeof(*p.last_done));
	p.last_state = calloc(s.fleet->nwaves + 1, sizeof(*p.last_state));
	p.last_started = calloc(s.fleet->nwaves + 1, sizeof(*p.last_started));
	p.last_finished = calloc(s.fleet->nwaves + 1, sizeof(*p.last_finished));
	if (!p.last_done || !p.last_state || !p.last_started || !p.last_finished) {
		rc = FL_EXIT_ERROR;
		goto out;
	}
	struct fl_log log = { log_line, NULL, FL_LOG_WARN };
	ropts.through = through;
	ropts.tenants = tenants.len ? tenants.items : NULL;
	ropts.ntenants = tenants.len;
	ropts.prune = prune;
	ropts.allow_mass_delete = mass;
	ropts.wait = wait;
	ropts.self_exe = self;
	ropts.log = &log;
	ropts.statuses = &statuses;
	ropts.progress = on_progress;
	ropts.payload = &p;
	ropts.cancel = fl_stop_flag();
	/* SIGTERM (a CI job cancelled) or SIGINT: in-flight tenants finish, statuses are written. */
	fl_stop_on_signals();
	if (!p.json && shard)
		printf("Rolling out %s of fleet %s, shard %s\n", s.fleet->revision, s.fleet->name, shard);
	else if (!p.json)
		printf("Rolling out %s of fleet %s\n", s.fleet->revision, s.fleet->name);
	if (fl_rollout_run(&report, s.repo, s.fleet, &driver, ledger, &ropts, &err)) {
		fl_print_error(&err);
		rc = err.code == FL_EUSAGE ? FL_EXIT_USAGE : FL_EXIT_ERROR;
		goto out;
	}
	fl_remote_publish(&s, false);
	if (p.json)
		print_json(&report, s.fleet->revision);
	else
		print_summary(&report);
	if (report.status_failures)
		fprintf(stderr, "warning: %zu status%s could not be written: %s\n", report.status_failures,
			report.status_failures == 1 ? "" : "es", report.status_error);
	print_status_report(&statuses);
	rc = fl_rollout_exit(report.outcome);
out:
	free(p.last_done);
	free(p.last_state);
	free(p.last_started);
	free(p.last_finished);
	fl_rollout_report_release(&report);
	fl_statuses_release(&statuses);
	fl_ledger_free(ledger);
	fl_driver_release(&driver);
	fl_session_close(&s);
	fl_opt_list_release(&tenants);
	return rc;
}
