/*
 * The plan comment of a pull request: its marker, its body cut to the
 * forge's limit, and keeping one such comment per pull request through
 * each forge's documented comment API; see pr_comment.h.
 */
#include "reconcile/status/pr_comment.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/json.h"
#include "core/node.h"
#include "reconcile/status/forge_internal.h"
#include "core/banned.h"

#define LIST_MAX (64 * 1024 * 1024) /* of one page of comments: up to 100 comments of 256 KiB */
#define LIST_PAGES 50               /* pages read at most: 5000 comments */
#define LIST_PAGE_SIZE 100          /* GitHub's and GitLab's largest page */
#define SENT_MAX (32 * 1024 * 1024) /* of the answer to a write, which echoes the body (escaped) */

/* ---- the marker and the body ---- */

void fl_pr_marker(struct fl_buf *out, const char *name)
{
	fl_buf_puts(out, "<!-- flotilla:plan");
	if (name && *name) {
		fl_buf_putc(out, ' ');
		for (const char *p = name; *p; p++) {
			char c = *p;
			bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
				    c == '.' || c == '_' || c == '-';
			fl_buf_putc(out, keep ? c : '_');
		}
	}
	fl_buf_puts(out, " -->");
}

bool fl_pr_comment_ours(const char *body, const char *marker)
{
	size_t n = strlen(marker);
	return strncmp(body, marker, n) == 0 && (body[n] == '\0' || body[n] == '\n' || body[n] == '\r');
}

size_t fl_pr_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; n++) {
		size_t k = fl_utf8_seq((const unsigned char *)s + i, len - i);
		i += k ? k : 1;
	}
	return n;
}

/* Markdown blocks open at a point of the text: a code fence, and <details> outside fences. */
struct md_state {
	size_t fence;   /* backticks of the open fence, 0 when none */
	size_t details; /* <details> opened and not closed */
};

static size_t backticks(const char *p, const char *end)
{
	size_t n = 0;
	while (p + n < end && p[n] == '`')
		n++;
	return n;
}

/* Steps st over one line [p, end) (without its '\n'). */
static void md_line(struct md_state *st, const char *p, const char *end)
{
	size_t ticks = backticks(p, end);
	if (st->fence) {
		const char *q = p + ticks;
		while (q < end && *q == ' ')
			q++;
		if (ticks >= st->fence && q == end)
			st->fence = 0;
		return;
	}
	if (ticks >= 3)
		st->fence = ticks;
	else if (strncmp(p, "<details>", 9) == 0 && (size_t)(end - p) >= 9)
		st->details++;
	else if (strncmp(p, "</details>", 10) == 0 && (size_t)(end - p) >= 10 && st->details)
		st->details--;
}

#define DETAILS_CLOSE "\n</details>\n"

/* Appends what closes the blocks st has open. */
static void md_close(struct fl_buf *out, const struct md_state *st)
{
	for (size_t i = 0; st->fence && i <= st->fence; i++)
		fl_buf_putc(out, i < st->fence ? '`' : '\n');
	for (size_t i = 0; i < st->details; i++)
		fl_buf_puts(out, DETAILS_CLOSE);
}

/* The characters md_close appends. */
static size_t md_close_len(const struct md_state *st)
{
	return (st->fence ? st->fence + 1 : 0) + st->details * (sizeof(DETAILS_CLOSE) - 1);
}

/* The line saying what the cut left out. */
static void put_note(struct fl_buf *out, size_t omitted, const char *why)
{
	fl_buf_printf(out, "\n… %zu more tenant%s not shown: the plan is cut to %s; run `flotilla plan` for all of it\n",
		      omitted, omitted == 1 ? "" : "s", why);
}

/* Tenants that end after cut, or start at it or later (those not held): not shown, or shown in part. */
static size_t omitted_at(const struct fl_pr_plan *plan, size_t cut)
{
	size_t n = 0;
	for (size_t i = 0; i < plan->ntenants; i++) {
		size_t end = i + 1 < plan->ntenants ? plan->starts[i + 1] : plan->len;
		n += end > cut || plan->starts[i] >= cut;
	}
	return n;
}

/* True when a tenant starts at at; *next (moving forward only) is the first start not before it. */
static bool is_start(const struct fl_pr_plan *plan, size_t *next, size_t at)
{
	while (*next < plan->ntenants && plan->starts[*next] < at)
		(*next)++;
	return *next < plan->ntenants && plan->starts[*next] == at;
}

/*
 * Where to cut plan so that it, what closes its open blocks and room
 * (the marker and the note) fit in limit characters: between tenants when
 * at least one tenant fits, else at the last line end that fits (*closed:
 * the blocks open there). Forward, once: characters and blocks are counted
 * line by line.
 */
static size_t cut_point(const struct fl_pr_plan *plan, size_t limit, size_t room, struct md_state *closed)
{
	struct md_state st = { 0, 0 }, line_st = { 0, 0 };
	size_t chars = 0, best_start = 0, best_line = 0, next = 0, i = 0;
	bool have_start = false;
	const char *s = plan->text;
	for (;;) {
		/* Between tenants, or after the last one held: nothing is open there. */
		if ((i == plan->len || is_start(plan, &next, i)) && chars + room <= limit) {
			best_start = i;
			have_start = true;
		}
		if (i == plan->len)
			break;
		const char *nl = memchr(s + i, '\n', plan->len - i);
		size_t end = nl ? (size_t)(nl - s) + 1 : plan->len;
		md_line(&st, s + i, s + (nl ? end - 1 : end));
		chars += fl_pr_chars(s + i, end - i);
		if (chars + room > limit)
			break; /* no later point fits either */
		if (chars + md_close_len(&st) + room <= limit) {
			best_line = end;
			line_st = st;
		}
		i = end;
	}
	/* The head alone is no plan: a tenant in part says more than none. */
	if (have_start && (!plan->ntenants || best_start > plan->starts[0] || best_line <= best_start)) {
		memset(closed, 0, sizeof(*closed));
		return best_start;
	}
	*closed = line_st;
	return best_line;
}

void fl_pr_comment_body(struct fl_buf *out, const char *marker, const struct fl_pr_plan *plan, size_t limit,
			const char *why)
{
	struct fl_buf note = FL_BUF_INIT;
	struct md_state open;
	size_t head = fl_pr_chars(marker, strlen(marker)) + 1;
	fl_buf_puts(out, marker);
	fl_buf_putc(out, '\n');
	/* Whole when it fits, and every tenant is held in the text. */
	bool held = !plan->ntenants || plan->starts[plan->ntenants - 1] < plan->len;
	if (held && head + fl_pr_chars(plan->text, plan->len) <= limit) {
		fl_buf_put(out, plan->text, plan->len);
		return;
	}
	/* The note for every tenant left out is the longest it can be: room for any. */
	put_note(&note, plan->ntenants + 1, why);
	size_t cut = cut_point(plan, limit, head + fl_pr_chars(note.ptr, note.len), &open);
	fl_buf_put(out, plan->text, cut);
	md_close(out, &open);
	fl_buf_clear(&note);
	put_note(&note, omitted_at(plan, cut), why);
	fl_buf_put(out, note.ptr, note.len);
	fl_buf_release(&note);
}

/* ---- the forges' comment APIs ---- */

/* What differs between forges in keeping a comment. */
struct comment_api {
	size_t limit;             /* characters a comment's body may hold */
	const char *why;          /* that limit, for the note of a cut plan */
	const char *list_query;   /* "...page=" the page number follows, or NULL: one answer lists them all */
	const char *edit_method;
	/* Appends the path of the pull request's comments, and of comment id. */
	void (*list_path)(struct fl_buf *out, const struct fl_forge_api *a, unsigned long pr);
	void (*edit_path)(struct fl_buf *out, const struct fl_forge_api *a, unsigned long pr, int64_t id);
};

/* GitHub and Gitea: a pull request is an issue, and its comments are the issue's. */
static void issue_list_path(struct fl_buf *out, const struct fl_forge_api *a, unsigned long pr)
{
	fl_buf_printf(out, "%s/repos/%s/issues/%lu/comments", a->api, a->where, pr);
}

static void issue_edit_path(struct fl_buf *out, const struct fl_forge_api *a, unsigned long pr, int64_t id)
{
	(void)pr;
	fl_buf_printf(out, "%s/repos/%s/issues/comments/%" PRId64, a->api, a->where, id);
}

static void mr_list_path(struct fl_buf *out, const struct fl_forge_api *a, unsigned long pr)
{
	fl_buf_puts(out, a->api);
	fl_forge_put_project(out, a->where);
	fl_buf_printf(out, "/merge_requests/%lu/notes", pr);
}

static void mr_edit_path(struct fl_buf *out, const struct fl_forge_api *a, unsigned long pr, int64_t id)
{
	mr_list_path(out, a, pr);
	fl_buf_printf(out, "/%" PRId64, id);
}

/*
 * In fl_forge_type order. GitHub refuses a body over 65,536 characters
 * (code points, so at most 262,144 bytes); GitLab a note over 1,000,000;
 * Gitea stores any length and documents none, so flotilla keeps GitHub's,
 * a plan that stays readable in a browser (docs/design.md). GitLab lists
 * newest first unless asked; Gitea's list has no pages.
 */
static const struct comment_api apis[] = {
	{ 65536, "GitHub's 65,536-character limit", "per_page=100&page=", "PATCH", issue_list_path,
	  issue_edit_path },
	{ 1000000, "GitLab's 1,000,000-character limit", "sort=asc&order_by=created_at&per_page=100&page=", "PUT",
	  mr_list_path, mr_edit_path },
	{ 65536, "the 65,536-character limit flotilla keeps for Gitea", NULL, "PATCH", issue_list_path,
	  issue_edit_path },
};

/* The newest of flotilla's comments found so far. */
struct found {
	int64_t id;    /* 0: none */
	char *body;
};

static void take_comments(struct found *f, const struct fl_node *list, const char *marker)
{
	for (size_t i = 0; i < list->v.seq.len; i++) {
		const struct fl_node *c = list->v.seq.items[i];
		const struct fl_node *id = fl_node_get(c, "id"), *body = fl_node_get(c, "body");
		const struct fl_node *sys = fl_node_get(c, "system");
		if (!id || id->type != FL_NODE_INT || !body || body->type != FL_NODE_STR)
			continue;
		if (sys && sys->type == FL_NODE_BOOL && sys->v.b)
			continue; /* GitLab's own notes ("added 1 commit") */
		if (!fl_pr_comment_ours(body->v.str.ptr, marker) || id->v.i <= f->id)
			continue; /* ids grow: the newest has the largest */
		free(f->body);
		f->id = id->v.i;
		f->body = fl_strndup(body->v.str.ptr, body->v.str.len);
	}
}

/* Appends the error of an answer that is not what was asked for. */
static int refused(const struct fl_forge_api *a, const char *what, const char *url,
		   const struct fl_http_response *resp, struct fl_error *err)
{
	struct fl_buf excerpt = FL_BUF_INIT;
	fl_forge_put_excerpt(&excerpt, &resp->body);
	int rc = fl_error_set(err, FL_EIO, "%s %s: HTTP %ld from %s after %u %s: %s", a->name, what, resp->status,
			      url, resp->attempts, resp->attempts == 1 ? "try" : "tries", excerpt.ptr);
	fl_buf_release(&excerpt);
	return rc;
}

/* Reads one page (or the whole list) of comments into f; *n gets how many it held. */
static int list_page(struct found *f, const struct fl_forge_api *a, const struct comment_api *c, const char *what,
		     unsigned long pr, unsigned page, const char *marker, size_t *n, struct fl_error *err)
{
	struct fl_http_response resp = { 0 };
	struct fl_buf url = FL_BUF_INIT;
	struct fl_arena arena;
	struct fl_node *root = NULL;
	int rc;
	fl_arena_init(&arena, 0);
	fl_buf_init(&resp.body, LIST_MAX);
	c->list_path(&url, a, pr);
	if (c->list_query)
		fl_buf_printf(&url, "?%s%u", c->list_query, page);
	if ((rc = fl_forge_call(a, "GET", url.ptr, NULL, what, &resp, err)))
		goto out;
	if (resp.status != 200) {
		rc = refused(a, what, url.ptr, &resp, err);
		goto out;
	}
	struct fl_source src = { "forge answer", resp.body.ptr, resp.body.len };
	if ((rc = fl_json_parse(&root, &arena, &src, err))) {
		fl_error_prefix(err, "%s %s: ", a->name, what);
		goto out;
	}
	if (root->type != FL_NODE_SEQ) {
		rc = fl_error_set(err, FL_EIO, "%s %s: the answer from %s is not a list of comments", a->name, what,
				  url.ptr);
		goto out;
	}
	*n = root->v.seq.len;
	take_comments(f, root, marker);
out:
	fl_arena_release(&arena);
	fl_buf_release(&resp.body);
	fl_buf_release(&url);
	return rc;
}

/* Finds the newest of flotilla's comments on the pull request, reading every page. */
static int find_ours(struct found *f, const struct fl_forge_api *a, const struct comment_api *c, const char *what,
		     unsigned long pr, const char *marker, struct fl_error *err)
{
	size_t n = LIST_PAGE_SIZE;
	int rc = 0;
	for (unsigned page = 1; !rc && page <= LIST_PAGES && n == LIST_PAGE_SIZE; page++) {
		rc = list_page(f, a, c, what, pr, page, marker, &n, err);
		if (!c->list_query)
			break;
	}
	return rc;
}

/* Sends body (a new comment, or an edit of id) as {"body": ...}. */
static int send_comment(const struct fl_forge_api *a, const struct comment_api *c, const char *what,
			unsigned long pr, int64_t id, const char *body, struct fl_error *err)
{
	struct fl_http_response resp = { 0 };
	struct fl_buf url = FL_BUF_INIT, json = FL_BUF_INIT;
	int rc;
	fl_buf_init(&resp.body, SENT_MAX);
	if (id)
		c->edit_path(&url, a, pr, id);
	else
		c->list_path(&url, a, pr);
	fl_buf_puts(&json, "{\"body\":");
	fl_json_put_str(&json, body, strlen(body));
	fl_buf_putc(&json, '}');
	rc = fl_forge_call(a, id ? c->edit_method : "POST", url.ptr, json.ptr, what, &resp, err);
	if (!rc && (resp.status < 200 || resp.status >= 300))
		rc = refused(a, what, url.ptr, &resp, err);
	fl_buf_release(&resp.body);
	fl_buf_release(&url);
	fl_buf_release(&json);
	return rc;
}

bool fl_pr_forge_entry(const struct fl_status_conf *conf)
{
	return conf->type && fl_forge_where_key(conf->type) != NULL;
}

size_t fl_pr_forge_count(const struct fl_fleet *fleet)
{
	size_t n = 0;
	for (size_t i = 0; i < fleet->nstatus; i++)
		n += fl_pr_forge_entry(&fleet->status[i]);
	return n;
}

int fl_pr_comment_write(enum fl_pr_outcome *outcome, const struct fl_status_conf *conf, unsigned long pr,
			const char *marker, const struct fl_pr_plan *plan, struct fl_error *err)
{
	struct fl_forge_api a;
	struct found ours = { 0, NULL };
	struct fl_buf what = FL_BUF_INIT, body = FL_BUF_INIT;
	int rc = fl_forge_api_init(&a, conf, err);
	if (rc)
		goto out;
	const struct comment_api *c = &apis[a.type];
	fl_buf_printf(&what, "comment on %s %lu", a.type == FL_FORGE_GITLAB ? "merge request" : "pull request", pr);
	if (!fl_forge_token(&a)) {
		rc = fl_error_set(err, FL_EINPUT,
				  "%s %s: environment variable '%s' is not set (a pull request from a "
				  "fork gets no secrets)",
				  a.name, what.ptr, a.token_env);
		goto out;
	}
	fl_pr_comment_body(&body, marker, plan, c->limit, c->why);
	if ((rc = find_ours(&ours, &a, c, what.ptr, pr, marker, err)))
		goto out;
	if (ours.id && strcmp(ours.body, body.ptr) == 0) {
		*outcome = FL_PR_UNCHANGED;
		goto out;
	}
	if (!(rc = send_comment(&a, c, what.ptr, pr, ours.id, body.ptr, err)))
		*outcome = ours.id ? FL_PR_EDITED : FL_PR_CREATED;
out:
	free(ours.body);
	fl_buf_release(&what);
	fl_buf_release(&body);
	fl_forge_api_release(&a);
	return rc;
}
