/*
 * flotilla status [REV]: each wave's state for a commit from its ledger
 * note: counts, what it waits for (a bake, a promotion), and the tenants
 * that failed with why (and the last lines of the verify that failed them),
 * and those rolled back to an earlier revision (on_failure: rollback).
 * The rules come from reconcile/rollout/wave_rules.h, the
 * same the rollout follows; this file only prints them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "reconcile/plan/diff.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/rollout/wave_rules.h"
#include "core/banned.h"

struct wave_view {
	const char *name;
	bool known;
	enum fl_state state;
	struct fl_buf description;
	size_t tenants, applied, failed, skipped;
	size_t rolled_back;                  /* of the failed: rolled back to an earlier revision */
	struct fl_wave_gate gate;
};

static void count_tenants(struct wave_view *views, const struct fl_fleet *f, struct fl_ledger *l)
{
	for (size_t i = 0; i < f->ntenants; i++) {
		const struct fl_tenant *t = &f->tenants[i];
		struct wave_view *v = &views[t->wave];
		enum fl_tenant_result result;
		char rev[FL_OID_HEX_LEN + 1];
		v->tenants++;
		if (!fl_ledger_tenant(l, t->name, &result, NULL))
			continue;
		if (fl_ledger_tenant_rolled_back(l, t->name, rev))
			v->rolled_back++;
		if (result == FL_RESULT_FAILED)
			v->failed++;
		else if (result == FL_RESULT_SKIPPED)
			v->skipped++;
		else
			v->applied++;
	}
}

static int build_views(struct wave_view *views, struct fl_session *s, struct fl_ledger *l)
{
	struct fl_error err = FL_ERROR_INIT;
	const struct fl_fleet *f = s->fleet;
	for (size_t w = 0; w < f->nwaves; w++) {
		struct wave_view *v = &views[w];
		v->name = f->waves[w].name;
		fl_buf_init(&v->description, 0);
		v->known = fl_wave_state(l, v->name, &v->state, &v->description);
		if (fl_wave_gate_check(&v->gate, s->repo, f, l, w, &err)) {
			fl_print_error(&err);
			return FL_EXIT_ERROR;
		}
	}
	count_tenants(views, f, l);
	return 0;
}

static const char *waiting_for(const struct wave_view *v, const char *revision, char *buf, size_t cap)
{
	if (v->known && v->state != FL_STATE_PENDING)
		return "";
	if (v->gate.bake_until) {
		char when[32];
		fl_time_format(when, v->gate.bake_until);
		snprintf(buf, cap, "waits: bake until %s", when);
		return buf;
	}
	if (v->gate.gated && !v->gate.promoted) {
		/* The command to run, ready to copy. */
		snprintf(buf, cap, "waits: promotion (flotilla promote %.12s --wave %s)", revision, v->name);
		return buf;
	}
	if (v->gate.gated && v->gate.promoted)
		return "promoted: the next apply starts it";
	return "";
}

/* s as a terminal may show it: control characters (tab aside) become '?'. */
static void put_printable(struct fl_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		fl_buf_putc(out, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c);
	}
}

/*
 * Appends the tail a failed verify left in the note, each line after
 * prefix and ending in a newline. The output is the verify command's own:
 * control characters show as '?' (it goes to a terminal), and a line that
 * holds the value of one of the tenant's secret vars shows as (secret),
 * as in a plan. False, and nothing appended, when there is no tail or the
 * secrets cannot be known.
 */
static bool put_verify_tail(struct fl_buf *out, const struct fl_fleet *f, const struct fl_tenant *t,
			    struct fl_ledger *l, const char *prefix)
{
	struct fl_buf tail = FL_BUF_INIT;
	struct fl_secret_values sv;
	struct fl_error err = FL_ERROR_INIT;
	bool shown = false;
	fl_secret_values_init(&sv);
	if (!fl_ledger_tenant_verify_tail(l, t->name, &tail) || fl_secret_values_set(&sv, f, t, &err))
		goto out;
	for (const char *line = tail.ptr; line; ) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		fl_buf_puts(out, prefix);
		if (fl_secret_values_in(&sv, line, len))
			fl_buf_puts(out, "(secret)");
		else
			put_printable(out, line, len);
		fl_buf_putc(out, '\n');
		line = nl ? nl + 1 : NULL;
	}
	shown = true;
out:
	fl_secret_values_release(&sv);
	fl_buf_release(&tail);
	return shown;
}

/* What a rollback means for the next runs (docs/rollout.md "Rolling back"), ready to copy. */
static void print_rolled_back(const struct fl_fleet *f, const struct fl_tenant *t, struct fl_ledger *l)
{
	char rev[FL_OID_HEX_LEN + 1];
	if (fl_ledger_tenant_rolled_back(l, t->name, rev))
		printf("    rolled back to %.7s: apply leaves it there; flotilla apply --rev %.12s --tenant %s "
		       "retries this commit\n", rev, f->revision, t->name);
}

static void print_text(struct wave_view *views, struct fl_session *s, struct fl_ledger *l)
{
	const struct fl_fleet *f = s->fleet;
	enum fl_state plan_state;
	struct fl_buf plan = FL_BUF_INIT;
	char buf[512];
	printf("fleet %s at %s\n", f->name, f->revision);
	if (fl_ledger_context(l, FL_PLAN_CONTEXT, &plan_state, &plan))
		printf("  %-18s %-8s %s\n", FL_PLAN_CONTEXT, fl_state_name(plan_state), plan.ptr);
	else
		printf("  %-18s %-8s %s\n", FL_PLAN_CONTEXT, "-", "no rollout recorded for this commit");
	fl_buf_release(&plan);
	for (size_t w = 0; w < f->nwaves; w++) {
		struct wave_view *v = &views[w];
		char context[160];
		/* Shown without the common prefix, to fit the column. */
		fl_wave_context(context, sizeof(context), v->name);
		printf("  %-18s %-8s %s\n", context + strlen(FL_CONTEXT_PREFIX), v->known ? fl_state_name(v->state) : "-",
		       v->known ? v->description.ptr : "not started");
		char rolled[48] = "";
		if (v->rolled_back)
			snprintf(rolled, sizeof(rolled), " (%zu rolled back)", v->rolled_back);
		printf("  %-18s %-8s %zu tenants: %zu applied, %zu failed%s, %zu skipped", "", "", v->tenants,
		       v->applied, v->failed, rolled, v->skipped);
		const char *wait = waiting_for(v, f->revision, buf, sizeof(buf));
		printf("%s%s\n", wait[0] ? "; " : "", wait);
	}
	bool header = false;
	for (size_t i = 0; i < f->ntenants; i++) {
		enum fl_tenant_result result;
		struct fl_buf why = FL_BUF_INIT, tail = FL_BUF_INIT;
		if (fl_ledger_tenant(l, f->tenants[i].name, &result, &why) && result == FL_RESULT_FAILED) {
			if (!header)
				printf("failed tenants:\n");
			header = true;
			printf("  %s (wave %s): %s\n", f->tenants[i].name, f->waves[f->tenants[i].wave].name, why.ptr);
			if (put_verify_tail(&tail, f, &f->tenants[i], l, "    | "))
				fputs(tail.ptr, stdout);
			print_rolled_back(f, &f->tenants[i], l);
		}
		fl_buf_release(&tail);
		fl_buf_release(&why);
	}
}

static void put_str_field(struct fl_buf *b, const char *key, const char *value, bool comma)
{
	if (comma)
		fl_buf_putc(b, ',');
	fl_json_put_str(b, key, strlen(key));
	fl_buf_putc(b, ':');
	fl_json_put_str(b, value, strlen(value));
}

static void print_json(struct wave_view *views, struct fl_session *s, struct fl_ledger *l)
{
	const struct fl_fleet *f = s->fleet;
	struct fl_buf b = FL_BUF_INIT;
	fl_buf_puts(&b, "{\"failed\":[");
	size_t nfailed = 0;
	for (size_t i = 0; i < f->ntenants; i++) {
		enum fl_tenant_result result;
		struct fl_buf why = FL_BUF_INIT, tail = FL_BUF_INIT;
		if (fl_ledger_tenant(l, f->tenants[i].name, &result, &why) && result == FL_RESULT_FAILED) {
			fl_buf_puts(&b, nfailed++ ? ",{" : "{");
			char rev[FL_OID_HEX_LEN + 1];
			put_str_field(&b, "error", why.ptr, false);
			/* Only when rolled back: documents of other failures stay as they were. */
			if (fl_ledger_tenant_rolled_back(l, f->tenants[i].name, rev))
				put_str_field(&b, "rolled_back_to", rev, true);
			put_str_field(&b, "tenant", f->tenants[i].name, true);
			if (put_verify_tail(&tail, f, &f->tenants[i], l, ""))
				fl_buf_truncate(&tail, tail.len - 1); /* the last newline */
			put_str_field(&b, "verify_output", tail.ptr, true);
			put_str_field(&b, "wave", f->waves[f->tenants[i].wave].name, true);
			fl_buf_putc(&b, '}');
		}
		fl_buf_release(&tail);
		fl_buf_release(&why);
	}
	fl_buf_puts(&b, "],");
	put_str_field(&b, "revision", f->revision, false);
	fl_buf_puts(&b, ",\"waves\":[");
	for (size_t w = 0; w < f->nwaves; w++) {
		struct wave_view *v = &views[w];
		char when[32] = "";
		if (v->gate.bake_until)
			fl_time_format(when, v->gate.bake_until);
		fl_buf_printf(&b, "%s{\"applied\":%zu,\"awaiting_promotion\":%s,", w ? "," : "", v->applied,
			      v->gate.gated && !v->gate.promoted ? "true" : "false");
		put_str_field(&b, "bake_until", when, false);
		put_str_field(&b, "description", v->known ? v->description.ptr : "", true);
		fl_buf_printf(&b, ",\"failed\":%zu", v->failed);
		put_str_field(&b, "name", v->name, true);
		if (v->rolled_back)
			fl_buf_printf(&b, ",\"rolled_back\":%zu", v->rolled_back);
		fl_buf_printf(&b, ",\"skipped\":%zu", v->skipped);
		put_str_field(&b, "state", v->known ? fl_state_name(v->state) : "none", true);
		fl_buf_printf(&b, ",\"tenants\":%zu}", v->tenants);
	}
	fl_buf_puts(&b, "]}\n");
	fputs(b.ptr, stdout);
	fl_buf_release(&b);
}

int cmd_status(int argc, char **argv)
{
	const char *repo = NULL, *rev = NULL, *format = NULL;
	const struct fl_opt opts[] = {
		{ FL_OPT_ARG, "REV", 0, NULL, "the commit (default: HEAD)", &rev, false },
		{ FL_OPT_VALUE, "repo", 0, "R", "the fleet repository (default: the current directory)", &repo, false },
		FL_OPT_CACHE_DIR,
		{ FL_OPT_VALUE, "format", 0, "text|json", "the output: for people (default) or machines", &format, false },
		{ .kind = FL_OPT_END },
	};
	struct fl_session s = { 0 };
	struct fl_ledger *ledger = NULL;
	struct wave_view *views = NULL;
	struct fl_error err = FL_ERROR_INIT;
	int rc = fl_opt_parse(fl_cmd_find("status"), opts, argc, argv);
	if (rc)
		return fl_opt_exit(rc);
	if (format && strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
		fprintf(stderr, "flotilla status: unknown format '%s' (expected text or json)\n", format);
		return FL_EXIT_USAGE;
	}
	if ((rc = fl_session_open(&s, repo, rev, NULL)))
		return rc;
	if (fl_ledger_open(&ledger, fl_repo_gitdir(s.repo), &s.commit, &err)) {
		fl_print_error(&err);
		rc = FL_EXIT_ERROR;
		goto out;
	}
	views = calloc(s.fleet->nwaves + 1, sizeof(*views));
	if (!views || (rc = build_views(views, &s, ledger)))
		goto out;
	if (format && strcmp(format, "json") == 0)
		print_json(views, &s, ledger);
	else
		print_text(views, &s, ledger);
out:
	for (size_t w = 0; views && w < s.fleet->nwaves; w++)
		fl_buf_release(&views[w].description);
	free(views);
	fl_ledger_free(ledger);
	fl_session_close(&s);
	return rc;
}
