/*
 * Plans as text for people, Markdown for pull requests and JSON for
 * machines (the schema of docs/plan-json.md). Writers append to a buffer,
 * tenant by tenant, so a plan of any size streams.
 */
#ifndef FL_PLAN_OUTPUT_H
#define FL_PLAN_OUTPUT_H

#include <stdbool.h>

#include "core/buf.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/plan/plan.h"
#include "reconcile/fleet/trust.h"

enum fl_format { FL_FORMAT_TEXT, FL_FORMAT_JSON, FL_FORMAT_MARKDOWN };

/* Parses "text", "json" or "markdown"; -1 otherwise. */
int fl_format_parse(const char *s);

struct fl_plan_writer {
	enum fl_format format;
	bool color;                  /* ANSI colours in text */
	const struct fl_fleet *fleet;
	/* plan --since: the settings taken from the base, where the head's
	 * differ; NULL for other plans. */
	const struct fl_trust_changes *trust;
	/* plan --offline (with trust): no account was read; each holds what trust->base renders. */
	bool offline;
	size_t written;              /* tenants written so far */
};

/* What comes before the first tenant (text and JSON; Markdown writes nothing). */
void fl_plan_write_begin(struct fl_buf *out, struct fl_plan_writer *w);
/* One tenant; converged and skipped tenants write nothing. */
void fl_plan_write_tenant(struct fl_buf *out, struct fl_plan_writer *w, const struct fl_tenant_plan *tp);
/* What comes after the last tenant: the summary (text and JSON). */
void fl_plan_write_end(struct fl_buf *out, struct fl_plan_writer *w, const struct fl_plan_summary *s,
		       bool mass_delete);
/* The head of a Markdown plan, which goes before its tenants. */
void fl_plan_write_markdown_head(struct fl_buf *out, struct fl_plan_writer *w,
				 const struct fl_plan_summary *s, bool mass_delete);

/* The one-line summary of SPEC 5: "3 tenants change: +2 ~5 -0". */
void fl_plan_describe(struct fl_buf *out, const struct fl_plan_summary *s);

#endif
