/*
 * The plan comment of a pull request (SPEC 5, `plan --pr N`): one comment
 * (a GitLab merge request note, a Gitea issue comment) per fleet, holding
 * the Markdown plan, found again by a hidden marker that opens its body and
 * edited in place on every push; the plan is cut to the forge's size limit
 * with a line saying what was left out. It goes through the forge entries
 * of fleet.yaml's `status`, checked as the commit-status writers check them.
 */
#ifndef FL_PR_COMMENT_H
#define FL_PR_COMMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "reconcile/fleet/fleet.h"

/* A Markdown plan, and where each tenant it shows starts, for cutting between tenants. */
struct fl_pr_plan {
	const char *text;     /* the head, then the tenants */
	size_t len;
	/* starts[i]: where tenant i begins in text, ascending; len for a tenant not held in text */
	const size_t *starts;
	size_t ntenants;
};

/* What a forge entry's comment was: its forge and what happened. */
enum fl_pr_outcome { FL_PR_CREATED, FL_PR_EDITED, FL_PR_UNCHANGED };

/* True when conf is a forge entry (github, gitlab, gitea): one a comment goes through. */
bool fl_pr_forge_entry(const struct fl_status_conf *conf);
/* The forge entries of fleet's `status`: how many there are. */
size_t fl_pr_forge_count(const struct fl_fleet *fleet);

/*
 * Appends the marker that opens flotilla's comment for a fleet called name
 * (NULL or "": none): "<!-- flotilla:plan NAME -->". Characters other than
 * [A-Za-z0-9._-] in the name become '_', so the marker stays one comment.
 */
void fl_pr_marker(struct fl_buf *out, const char *name);

/*
 * True when body is flotilla's comment: it starts with marker, followed by
 * a line end or nothing. A marker anywhere else (quoted by someone, or in
 * a spec value shown in the plan) does not count.
 */
bool fl_pr_comment_ours(const char *body, const char *marker);

/* Characters as GitHub and GitLab count them: code points; a byte of invalid UTF-8 counts one. */
size_t fl_pr_chars(const char *s, size_t len);

/*
 * Appends the comment's body: marker, a line end, then plan; when that is
 * more than limit characters (fl_pr_chars), plan is cut between tenants
 * (or, when not even the first fits, at a line end, with the code fence
 * and <details> blocks left open closed) and a last line says how many
 * tenants are not shown and why ("... the plan is cut to <why>; run
 * `flotilla plan` for all of it"). why names the limit, like "GitHub's
 * 65,536-character limit". The result never exceeds limit characters
 * when the marker and that line fit in it.
 */
void fl_pr_comment_body(struct fl_buf *out, const char *marker, const struct fl_pr_plan *plan, size_t limit,
			const char *why);

/*
 * Keeps the plan comment on pull request (merge request) pr through the
 * forge entry conf (github, gitlab or gitea): lists the comments, edits
 * the newest one that is flotilla's (fl_pr_comment_ours) to body, or
 * creates one when there is none. Requests are retried as the status
 * writers' are (core/http.c). *outcome says what was done. FL_EINPUT for
 * an entry that cannot be used, or when its token variable is not set
 * (nothing is sent); FL_EIO when the forge refused or could not be reached;
 * err names the forge and the pull request.
 */
int fl_pr_comment_write(enum fl_pr_outcome *outcome, const struct fl_status_conf *conf, unsigned long pr,
			const char *marker, const struct fl_pr_plan *plan, struct fl_error *err);

#endif
