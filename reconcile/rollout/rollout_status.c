/*
 * How a rollout reports: contexts to the fleet's status writers (or to the
 * ledger's note alone), the descriptions they carry, and progress to the
 * caller. A status that cannot be written never fails a rollout: it is
 * counted and reported at the end.
 */
#include <stdio.h>
#include <string.h>

#include "reconcile/rollout/rollout_internal.h"
#include "core/banned.h"

void fl_rollout_status_error(struct rollout *r, int rc, const struct fl_error *e)
{
	if (!rc)
		return;
	pthread_mutex_lock(&r->lock);
	r->report->status_failures++;
	snprintf(r->report->status_error, sizeof(r->report->status_error), "%s", e->msg);
	pthread_mutex_unlock(&r->lock);
}

void fl_rollout_set_context(struct rollout *r, const struct fl_status_update *u)
{
	struct fl_error e = FL_ERROR_INIT;
	if (!r->opts->statuses) {
		fl_rollout_status_error(r, fl_ledger_set_context(r->ledger, u->context, u->state, u->description, &e),
					&e);
		return;
	}
	pthread_mutex_lock(&r->status_lock);
	fl_statuses_set(r->opts->statuses, u);
	pthread_mutex_unlock(&r->status_lock);
}

/*
 * The event, or none when the note already holds this state for the wave
 * (with this description; any running state for a start, whose counts
 * differ on a resumed run, but not a wait at the gate, pending too). The
 * note is read before the writers update it. A wave that failed for this
 * commit and is tried again (the CI schedule reruns a halted commit) is
 * news only when it ends otherwise: each attempt would announce itself.
 */
static enum fl_wave_event news(struct rollout *r, const struct fl_wave_report *wr, const char *context,
			       enum fl_state state, const char *desc, enum fl_wave_event event)
{
	enum fl_state known;
	struct fl_buf was = FL_BUF_INIT;
	if (event == FL_WAVE_EVENT_NONE)
		return event;
	if (wr->failed_before[0] && (event == FL_WAVE_EVENT_STARTED ||
				     (event == FL_WAVE_EVENT_FAILED && strcmp(wr->failed_before, desc) == 0)))
		return FL_WAVE_EVENT_NONE;
	pthread_mutex_lock(&r->status_lock);
	bool seen = fl_ledger_context(r->ledger, context, &known, &was) && known == state &&
		    (event == FL_WAVE_EVENT_STARTED ? strncmp(was.ptr ? was.ptr : "", "applying:", 9) == 0
						    : strcmp(was.ptr ? was.ptr : "", desc) == 0);
	pthread_mutex_unlock(&r->status_lock);
	fl_buf_release(&was);
	return seen ? FL_WAVE_EVENT_NONE : event;
}

static void wave_update(struct rollout *r, size_t w, enum fl_state state, const char *desc, bool progress,
			enum fl_wave_event event)
{
	char context[160];
	struct fl_wave_report *wr = &r->report->waves[w];
	wr->state = state;
	snprintf(wr->description, sizeof(wr->description), "%s", desc);
	if (r->partial)
		return;
	fl_wave_context(context, sizeof(context), r->fleet->waves[w].name);
	struct fl_status_update u = { context, state, desc, progress, news(r, wr, context, state, desc, event) };
	fl_rollout_set_context(r, &u);
}

void fl_rollout_wave_context(struct rollout *r, size_t w, enum fl_state state, const char *desc,
			     enum fl_wave_event event)
{
	wave_update(r, w, state, desc, false, event);
}

void fl_rollout_wave_progress(struct rollout *r, size_t w, const char *desc)
{
	wave_update(r, w, FL_STATE_PENDING, desc, true, FL_WAVE_EVENT_NONE);
}

/* ", 2 suspended": suspended tenants are left alone, never counted as applied. */
static void describe_suspended(const struct fl_wave_report *wr, char *out, size_t cap)
{
	if (wr->skipped)
		snprintf(out, cap, ", %zu suspended", wr->skipped);
	else if (cap)
		out[0] = '\0';
}

/* ", 1 rolled back to abc1234" (", 3 rolled back to abc1234 and others" when they went to several), appended. */
static void append_rolled_back(const struct fl_wave_report *wr, char *out, size_t cap)
{
	size_t len = strlen(out);
	if (!wr->rolled_back || len >= cap)
		return;
	snprintf(out + len, cap - len, ", %zu rolled back to %.7s%s", wr->rolled_back, wr->rolled_back_to,
		 wr->rolled_back_mixed ? " and others" : "");
}

void fl_rollout_describe_running(const struct fl_wave_report *wr, char *out, size_t cap)
{
	char suspended[48];
	describe_suspended(wr, suspended, sizeof(suspended));
	snprintf(out, cap, "applying: %zu/%zu done%s, %zu failed (tolerance %u)", wr->done, wr->total, suspended,
		 wr->failed, wr->tolerance);
	append_rolled_back(wr, out, cap);
}

void fl_rollout_describe_applied(const struct fl_wave_report *wr, char *out, size_t cap)
{
	char suspended[48];
	describe_suspended(wr, suspended, sizeof(suspended));
	snprintf(out, cap, "applied %zu/%zu%s", wr->done, wr->total, suspended);
	size_t len = strlen(out);
	if (wr->failed && len < cap)
		snprintf(out + len, cap - len, ", %zu failed (tolerance %u)", wr->failed, wr->tolerance);
	append_rolled_back(wr, out, cap);
}

void fl_rollout_describe_halted(const struct fl_wave_report *wr, char *out, size_t cap)
{
	snprintf(out, cap, "halted: %zu of %zu failed (tolerance %u)", wr->failed, wr->total, wr->tolerance);
	append_rolled_back(wr, out, cap);
}

void fl_rollout_progress(struct rollout *r, size_t w)
{
	if (r->opts->progress)
		r->opts->progress(r->report, w, r->opts->payload);
}
