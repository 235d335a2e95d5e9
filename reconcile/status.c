/* The set of status writers a rollout reports to; see status.h. */
#include "reconcile/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/banned.h"

int fl_statuses_open(struct fl_statuses *out, const struct fl_fleet *fleet, struct fl_ledger *ledger,
		     struct fl_error *err)
{
	memset(out, 0, sizeof(*out));
	out->items = fl_calloc(fleet->nstatus + 1, sizeof(*out->items));
	/* The note always gets the statuses: rollout state lives there. */
	int rc = fl_status_notes_open(&out->items[0], ledger, err);
	if (!rc)
		out->len = 1;
	for (size_t i = 0; i < fleet->nstatus && !rc; i++) {
		const char *type = fleet->status[i].type;
		if (strcmp(type, "git-notes") == 0)
			continue; /* opened above, once */
		if (strcmp(type, "github") == 0 || strcmp(type, "gitlab") == 0 ||
		    strcmp(type, "gitea") == 0) {
			rc = fl_status_forge_open(&out->items[out->len], &fleet->status[i], fleet->revision,
						  err);
			if (!rc)
				out->len++;
		} else {
			rc = fl_error_set(err, FL_EINPUT, "status type '%s' is not available in this build",
					  type);
		}
	}
	if (rc)
		fl_statuses_close(out);
	return rc;
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

void fl_statuses_close(struct fl_statuses *s)
{
	for (size_t i = 0; i < s->len; i++)
		if (s->items[i].ops->free)
			s->items[i].ops->free(s->items[i].self);
	free(s->items);
	memset(s, 0, sizeof(*s));
}
