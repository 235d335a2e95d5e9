/*
 * The status table, through which fleet.yaml's `status` entries are checked
 * and opened, and the set of writers a rollout reports to; see status.h.
 */
#include "reconcile/status/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "reconcile/fleet/check.h"
#include "core/banned.h"

/* ---- the status table ---- */

/* Every writer type, one row each, defined in its writer's file. */
extern const struct fl_status_type fl_status_notes_type, fl_status_github_type, fl_status_gitlab_type,
	fl_status_gitea_type, fl_status_webhook_type;
static const struct fl_status_type *const writers[] = {
	&fl_status_notes_type,
	&fl_status_github_type,
	&fl_status_gitlab_type,
	&fl_status_gitea_type,
	&fl_status_webhook_type,
};
#define NWRITERS (sizeof(writers) / sizeof(writers[0]))

static const struct fl_status_type *writer_find(const char *name)
{
	for (size_t i = 0; i < NWRITERS; i++)
		if (strcmp(writers[i]->name, name) == 0)
			return writers[i];
	return NULL;
}

void fl_status_conf_check(struct fl_status_conf *out, struct fl_vctx *c, const struct fl_node *entry)
{
	const char *names[NWRITERS];
	char expected[128];
	memset(out, 0, sizeof(*out));
	if (!fl_vexpect(c, entry, FL_NODE_MAP, "a mapping like { type: git-notes }"))
		return;
	out->node = entry;
	for (size_t i = 0; i < NWRITERS; i++)
		names[i] = writers[i]->name;
	fl_names_join(expected, sizeof(expected), names, NWRITERS);
	const struct fl_node *t = fl_node_get(entry, "type");
	const struct fl_status_type *row = t && t->type == FL_NODE_STR ? writer_find(t->v.str.ptr) : NULL;
	if (!t)
		fl_verr(c, entry, "missing required key 'type' in status (expected %s)", expected);
	else if (!row)
		fl_verr(c, t, "unknown status type (expected %s)", expected);
	else {
		out->type = row->name;
		row->check(c, entry, row->name);
	}
}

/* ---- the writers of a run ---- */

int fl_statuses_open(struct fl_statuses *out, const struct fl_fleet *fleet, struct fl_ledger *ledger,
		     struct fl_error *err)
{
	return fl_statuses_open_rev(out, fleet, fleet->revision, ledger, err);
}

int fl_statuses_open_rev(struct fl_statuses *out, const struct fl_fleet *fleet, const char *revision,
			 struct fl_ledger *ledger, struct fl_error *err)
{
	memset(out, 0, sizeof(*out));
	out->items = fl_calloc(fleet->nstatus + 1, sizeof(*out->items));
	/* The note always gets the statuses: rollout state lives there. */
	int rc = fl_status_notes_open(&out->items[0], ledger, err);
	if (!rc)
		out->len = 1;
	for (size_t i = 0; i < fleet->nstatus && !rc; i++) {
		const struct fl_status_conf *conf = &fleet->status[i];
		const struct fl_status_type *row = writer_find(conf->type);
		if (row && !row->open)
			continue; /* git-notes: opened above, once */
		if (row)
			rc = row->open(&out->items[out->len], conf, revision, err);
		else
			rc = fl_error_set(err, FL_EINPUT, "status type '%s' is not available in this build",
					  conf->type);
		if (!rc)
			out->len++;
	}
	if (rc)
		fl_statuses_release(out);
	return rc;
}

bool fl_plan_status_due(struct fl_ledger *ledger, enum fl_state state)
{
	enum fl_state known;
	return state != FL_STATE_SUCCESS || !fl_ledger_context(ledger, FL_PLAN_CONTEXT, &known, NULL) ||
	       known != FL_STATE_SUCCESS;
}

static void count_failure(struct fl_statuses *s, int rc, const struct fl_error *e)
{
	if (!rc)
		return;
	s->failures++;
	s->last_error = *e;
}

void fl_statuses_set(struct fl_statuses *s, const struct fl_status_update *u)
{
	for (size_t i = 0; i < s->len; i++) {
		struct fl_error e = FL_ERROR_INIT;
		count_failure(s, s->items[i].ops->set(s->items[i].self, u, &e), &e);
	}
}

void fl_statuses_flush(struct fl_statuses *s)
{
	for (size_t i = 0; i < s->len; i++) {
		struct fl_error e = FL_ERROR_INIT;
		if (s->items[i].ops->flush)
			count_failure(s, s->items[i].ops->flush(s->items[i].self, &e), &e);
	}
}

void fl_statuses_report(struct fl_statuses *s, struct fl_buf *out)
{
	for (size_t i = 0; i < s->len; i++)
		if (s->items[i].ops->report)
			s->items[i].ops->report(s->items[i].self, out);
}

void fl_statuses_release(struct fl_statuses *s)
{
	for (size_t i = 0; i < s->len; i++)
		if (s->items[i].ops->free)
			s->items[i].ops->free(s->items[i].self);
	free(s->items);
	memset(s, 0, sizeof(*s));
}
