/*
 * Forge status writers (SPEC 5): GitHub (and GitHub Enterprise), GitLab and
 * Gitea/Forgejo, each through its documented commit status API, one table
 * per forge below. Progress updates are never sent, and a status is posted
 * only when its state or description differs from what the forge shows for
 * its context: the commit's statuses are read back once per run, at the
 * first update, so runs repeated at a gate post nothing new. Sends are
 * synchronous, retried by core/http.c; one that still fails returns an
 * error, and is tried once more at flush if it was transient.
 */
#include "reconcile/status/status.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/http.h"
#include "core/json.h"
#include "core/node.h"
#include "reconcile/fleet/check.h"
#include "reconcile/render/template.h"
#include "reconcile/status/forge_internal.h"
#include "core/banned.h"

#define DESC_MAX 140	      /* bytes; every forge takes at least 140 characters */
#define READ_MAX (4 * 1024 * 1024) /* of one page of the commit's statuses */
#define READ_PAGES 20              /* pages read back at most: far more contexts than flotilla sets */


/* What differs between forges. */
struct forge_kind {
	const struct fl_status_ops *ops;
	const char *context_field; /* the body's field for the context */
	/* Appends the statuses URL path of where (validated) for sha. */
	void (*path)(struct fl_buf *out, const char *where, const char *sha);
	const char *(*state)(enum fl_state state, const char *desc);
	/* True when an answer other than 2xx still means the status stands. */
	bool (*stands)(long status, const struct fl_buf *body);
	/* Reading back: the path of the commit's latest status per context, its page query, */
	void (*read_path)(struct fl_buf *out, const char *where, const char *sha);
	const char *page_query;	 /* ending in "page=", which the page number follows */
	unsigned page_size;	 /* what page_query asks for: a shorter page is the last */
	bool combined;		 /* the answer is an object whose "statuses" are the page */
	const char *state_field; /* a read status's field for its state */
};

/* The last status of one context: what the forge shows, and what still has to be sent. */
struct context_rec {
	char *context;
	char *shown;	  /* "state\ndescription" the forge shows (read back or sent), or NULL */
	char *unsent;	  /* body whose send failed transiently, retried at flush, or NULL */
	char *unsent_key; /* the shown form of unsent */
	bool capped;	  /* GitHub refused it: 1000 statuses for this commit and context */
};

struct forge {
	const struct forge_kind *kind;
	char *url;	/* {api_url}/.../statuses/{sha} */
	char *read_url; /* {api_url}/... of the commit's latest statuses, without the page query */
	bool read;	/* the statuses were read back (or tried) in this run */
	char *read_error; /* why reading back failed (every status was then posted), or NULL */
	struct fl_forge_api api;
	char *target_url; /* template, or NULL */
	char revision[FL_OID_HEX_LEN + 1];
	struct context_rec *recs;
	size_t nrecs, cap;
};

/* ---- text ---- */

/* Appends s cut to at most max bytes on a character boundary; invalid bytes become '?'. */
static void put_cut(struct fl_buf *out, const char *s, size_t max)
{
	size_t len = strlen(s), used = 0;
	for (size_t i = 0; i < len;) {
		size_t n = fl_utf8_seq((const unsigned char *)s + i, len - i);
		if (used + (n ? n : 1) > max)
			break;
		if (n)
			fl_buf_put(out, s + i, n);
		else
			fl_buf_putc(out, '?');
		used += n ? n : 1;
		i += n ? n : 1;
	}
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The string under key in the entry, or NULL. */
static const char *conf_str(const struct fl_status_conf *conf, const char *key)
{
	const struct fl_node *n = fl_node_get(conf->node, key);
	return n && n->type == FL_NODE_STR ? n->v.str.ptr : NULL;
}

/* ---- GitHub ---- */

static void repo_path(struct fl_buf *out, const char *repo, const char *sha)
{
	fl_buf_printf(out, "/repos/%s/statuses/%s", repo, sha);
}

/* GitHub's and Gitea's combined status: the latest status of each context. */
static void repo_read_path(struct fl_buf *out, const char *repo, const char *sha)
{
	fl_buf_printf(out, "/repos/%s/commits/%s/status", repo, sha);
}

/* GitHub and Gitea share flotilla's four states. */
static const char *plain_state(enum fl_state state, const char *desc)
{
	static const char *const names[] = { "pending", "success", "failure", "error" };
	(void)desc;
	return names[state];
}

static bool never_stands(long status, const struct fl_buf *body)
{
	(void)status;
	(void)body;
	return false;
}

/* ---- GitLab ---- */

static void gitlab_path(struct fl_buf *out, const char *project, const char *sha)
{
	fl_forge_put_project(out, project);
	fl_buf_printf(out, "/statuses/%s", sha);
}

/* A commit's statuses; all=false (the default) keeps the latest of each name. */
static void gitlab_read_path(struct fl_buf *out, const char *project, const char *sha)
{
	fl_forge_put_project(out, project);
	fl_buf_printf(out, "/repository/commits/%s/statuses", sha);
}

/* GitLab has running and canceled: a wave being applied runs; a superseded one is canceled. */
static const char *gitlab_state(enum fl_state state, const char *desc)
{
	switch (state) {
	case FL_STATE_PENDING:
		return starts_with(desc, "applying") ? "running" : "pending";
	case FL_STATE_SUCCESS:
		return "success";
	case FL_STATE_FAILURE:
		return "failed";
	case FL_STATE_ERROR:
		return starts_with(desc, "superseded") ? "canceled" : "failed";
	}
	return "failed";
}

/*
 * GitLab refuses to enqueue a status that is already pending or running, or
 * to run one already running (400 "Cannot transition status via :enqueue
 * from :pending"): the state already stands, only its description stays.
 * This happens when a later run repeats "awaiting promotion".
 */
static bool gitlab_stands(long status, const struct fl_buf *body)
{
	return status == 400 && strstr(body->ptr, "Cannot transition status") != NULL;
}

/* ---- the writer ---- */

static struct context_rec *find_rec(struct forge *f, const char *context)
{
	for (size_t i = 0; i < f->nrecs; i++)
		if (strcmp(f->recs[i].context, context) == 0)
			return &f->recs[i];
	FL_GROW(f->recs, f->cap, f->nrecs + 1);
	struct context_rec *r = &f->recs[f->nrecs++];
	memset(r, 0, sizeof(*r));
	r->context = fl_strdup(context);
	return r;
}

/* What a target_url may name: {{sha}}, {{wave}}, {{context}}. */
struct target_names {
	const char *type, *revision, *wave, *context;
};

static int target_name(struct fl_buf *out, const char *name, size_t len, struct fl_error *err, void *payload)
{
	const struct target_names *t = payload;
	const char *value = len == 3 && memcmp(name, "sha", 3) == 0	 ? t->revision
			    : len == 4 && memcmp(name, "wave", 4) == 0	 ? t->wave
			    : len == 7 && memcmp(name, "context", 7) == 0 ? t->context
									  : NULL;
	if (!value)
		return fl_error_set(err, FL_EINPUT,
				    "%s status: unknown placeholder '{{%.*s}}' in target_url (expected {{sha}}, "
				    "{{wave}} or {{context}})",
				    t->type, (int)(len > 36 ? 36 : len), name);
	return fl_buf_puts(out, value);
}

/* Appends target_url with its placeholders filled in for context. */
static void put_target(struct fl_buf *out, const struct forge *f, const char *context)
{
	const char *wave = starts_with(context, FL_WAVE_CONTEXT_PREFIX) ? context + strlen(FL_WAVE_CONTEXT_PREFIX) : "";
	struct target_names names = { f->kind->ops->type, f->revision, wave, context };
	struct fl_error err = FL_ERROR_INIT;
	/* check_template accepted it when the writer opened: it cannot fail here. */
	(void)fl_template_expand(out, f->target_url, "target_url", target_name, &names, &err);
}

/* What a forge shows of a status, to compare with what it shows already: "state\ndescription". */
static char *shown_key(const char *state, const char *desc)
{
	struct fl_buf b = FL_BUF_INIT;
	fl_buf_printf(&b, "%s\n%s", state, desc);
	return fl_buf_detach(&b, NULL);
}

/* The JSON body of u for this forge; *key gets its shown form. */
static char *status_body(const struct forge *f, const struct fl_status_update *u, char **key)
{
	struct fl_buf b = FL_BUF_INIT, desc = FL_BUF_INIT, target = FL_BUF_INIT;
	const char *text = u->description ? u->description : "";
	const char *state = f->kind->state(u->state, text);
	put_cut(&desc, text, DESC_MAX);
	fl_buf_puts(&b, "{\"state\":");
	fl_json_put_str(&b, state, strlen(state));
	fl_buf_puts(&b, ",\"description\":");
	fl_json_put_str(&b, desc.ptr, desc.len);
	fl_buf_printf(&b, ",\"%s\":", f->kind->context_field);
	fl_json_put_str(&b, u->context, strlen(u->context));
	if (f->target_url) {
		put_target(&target, f, u->context);
		fl_buf_puts(&b, ",\"target_url\":");
		fl_json_put_str(&b, target.ptr, target.len);
	}
	fl_buf_putc(&b, '}');
	*key = shown_key(state, desc.ptr);
	fl_buf_release(&desc);
	fl_buf_release(&target);
	return fl_buf_detach(&b, NULL);
}

/* GitHub keeps 1000 statuses per commit and context, and refuses the next with this 422. */
static bool at_cap(long status, const struct fl_buf *body)
{
	return status == 422 && strstr(body->ptr, "reached the maximum number of statuses") != NULL;
}

/* How a send ended, besides its error. */
enum sent { SENT, SENT_FAILED, SENT_TRANSIENT, SENT_CAPPED };

/* Sends one body for context. Returns 0 when the forge took it, else an error; *how says more. */
static int send_body(struct forge *f, const char *context, const char *body, enum sent *how, struct fl_error *err)
{
	const struct forge_kind *k = f->kind;
	struct fl_http_response resp = { 0 };
	struct fl_buf what = FL_BUF_INIT, excerpt = FL_BUF_INIT;
	int rc;

	*how = SENT_FAILED;
	fl_buf_init(&resp.body, FL_FORGE_RESP_MAX);
	fl_buf_printf(&what, "status '%s'", context);
	rc = fl_forge_call(&f->api, "POST", f->url, body, what.ptr, &resp, err);
	if (rc) {
		if (rc == FL_EIO)
			*how = SENT_TRANSIENT;
		goto out;
	}
	if ((resp.status >= 200 && resp.status < 300) || k->stands(resp.status, &resp.body)) {
		*how = SENT;
		goto out;
	}
	if (at_cap(resp.status, &resp.body)) {
		*how = SENT_CAPPED;
		rc = fl_error_set(err, FL_ELIMIT,
				  "%s status '%s': the forge holds its maximum of 1000 statuses for this commit and "
				  "context, and takes no more (HTTP 422): not posted",
				  k->ops->type, context);
		goto out;
	}
	if (resp.status == 429 || resp.status >= 500)
		*how = SENT_TRANSIENT;
	fl_forge_put_excerpt(&excerpt, &resp.body);
	rc = fl_error_set(err, FL_EIO, "%s status '%s': HTTP %ld from %s after %u %s: %s", k->ops->type,
			  context, resp.status, f->url, resp.attempts, resp.attempts == 1 ? "try" : "tries",
			  excerpt.ptr);
out:
	fl_buf_release(&resp.body);
	fl_buf_release(&what);
	fl_buf_release(&excerpt);
	return rc;
}

/* ---- reading back what the forge shows ---- */

static const char *node_str(const struct fl_node *map, const char *key)
{
	const struct fl_node *n = fl_node_get(map, key);
	return n && n->type == FL_NODE_STR ? n->v.str.ptr : NULL;
}

/* Records what one page shows; *n gets its length. FL_EINPUT when it is not the documented shape. */
static int take_page(struct forge *f, const struct fl_node *root, size_t *n, struct fl_error *err)
{
	const struct fl_node *list = f->kind->combined ? fl_node_get(root, "statuses") : root;
	if (!list || list->type != FL_NODE_SEQ)
		return fl_error_set(err, FL_EINPUT, "the answer is not a %s",
				    f->kind->combined ? "combined status" : "list of statuses");
	*n = list->v.seq.len;
	/* In the order given, the later of two statuses of one context wins: GitLab lists oldest first. */
	for (size_t i = 0; i < list->v.seq.len; i++) {
		const struct fl_node *s = list->v.seq.items[i];
		const char *context = node_str(s, f->kind->context_field), *state = node_str(s, f->kind->state_field);
		const char *desc = node_str(s, "description");
		if (!context || !state)
			continue;
		struct context_rec *r = find_rec(f, context);
		if (r->shown && f->kind->combined)
			continue; /* a combined status holds one per context; keep the first seen */
		free(r->shown);
		r->shown = shown_key(state, desc ? desc : "");
	}
	return 0;
}

/* Reads one page of the commit's statuses; *n gets how many it held. */
static int read_page(struct forge *f, unsigned page, size_t *n, struct fl_error *err)
{
	struct fl_http_response resp = { 0 };
	struct fl_buf url = FL_BUF_INIT, excerpt = FL_BUF_INIT;
	struct fl_arena arena;
	struct fl_node *root = NULL;
	int rc;
	fl_arena_init(&arena, 0);
	fl_buf_init(&resp.body, READ_MAX);
	fl_buf_printf(&url, "%s?%s%u", f->read_url, f->kind->page_query, page);
	rc = fl_forge_call(&f->api, "GET", url.ptr, NULL, "statuses of the commit", &resp, err);
	if (rc)
		goto out;
	if (resp.status != 200) {
		fl_forge_put_excerpt(&excerpt, &resp.body);
		rc = fl_error_set(err, FL_EIO, "HTTP %ld from %s: %s", resp.status, url.ptr, excerpt.ptr);
		goto out;
	}
	struct fl_source src = { "forge answer", resp.body.ptr, resp.body.len };
	if (!(rc = fl_json_parse(&root, &arena, &src, err)))
		rc = take_page(f, root, n, err);
out:
	fl_arena_release(&arena);
	fl_buf_release(&resp.body);
	fl_buf_release(&url);
	fl_buf_release(&excerpt);
	return rc;
}

/*
 * Reads back the latest status of each context on the commit, once per
 * run. A failure is kept for the report and never blocks: every status is
 * then posted, as it would have been without it.
 */
static void read_back(struct forge *f)
{
	struct fl_error err = FL_ERROR_INIT;
	size_t n = f->kind->page_size;
	f->read = true;
	for (unsigned page = 1; page <= READ_PAGES && n == f->kind->page_size; page++) {
		if (read_page(f, page, &n, &err) == 0)
			continue;
		for (size_t i = 0; i < f->nrecs; i++) {
			free(f->recs[i].shown);
			f->recs[i].shown = NULL;
		}
		f->read_error = fl_strdup(err.msg);
		return;
	}
}

static int forge_set(void *self, const struct fl_status_update *u, struct fl_error *err)
{
	struct forge *f = self;
	if (u->progress)
		return 0; /* counts inside a running wave: a forge gets the wave's start and end */
	if (!f->read && fl_forge_token(&f->api))
		read_back(f);
	char *key = NULL, *body = status_body(f, u, &key);
	struct context_rec *r = find_rec(f, u->context);
	enum sent how;
	int rc = 0;
	free(r->unsent);
	free(r->unsent_key);
	r->unsent = r->unsent_key = NULL;
	if (r->capped || (r->shown && strcmp(r->shown, key) == 0))
		goto out; /* shown already; or refused for good, and named in the report */
	rc = send_body(f, u->context, body, &how, err);
	if (how == SENT) {
		free(r->shown);
		r->shown = key;
		key = NULL;
	} else if (how == SENT_TRANSIENT) {
		r->unsent = body;
		r->unsent_key = key;
		body = key = NULL;
	} else if (how == SENT_CAPPED) {
		r->capped = true;
	}
out:
	free(body);
	free(key);
	return rc;
}

/* Tries once more each context's latest status whose send failed transiently. */
static int forge_flush(void *self, struct fl_error *err)
{
	struct forge *f = self;
	int rc = 0;
	for (size_t i = 0; i < f->nrecs; i++) {
		struct context_rec *r = &f->recs[i];
		struct fl_error e = FL_ERROR_INIT;
		enum sent how;
		if (!r->unsent)
			continue;
		int one = send_body(f, r->context, r->unsent, &how, &e);
		if (how == SENT) {
			free(r->shown);
			r->shown = r->unsent_key;
			r->unsent_key = NULL;
		}
		r->capped = r->capped || how == SENT_CAPPED;
		free(r->unsent);
		free(r->unsent_key);
		r->unsent = r->unsent_key = NULL;
		if (one && !rc) {
			rc = one;
			*err = e;
		}
	}
	return rc;
}

/* What the end of the run says besides failures: a read-back that failed, contexts at GitHub's cap. */
static void forge_report(void *self, struct fl_buf *out)
{
	struct forge *f = self;
	const char *type = f->kind->ops->type;
	if (f->read_error)
		fl_buf_printf(out, "%s status: could not read back the commit's statuses, so every status was posted: %s\n",
			      type, f->read_error);
	for (size_t i = 0; i < f->nrecs; i++)
		if (f->recs[i].capped)
			fl_buf_printf(out,
				      "%s status '%s': the forge holds its maximum of 1000 statuses for this commit "
				      "and context: its latest state was not posted\n",
				      type, f->recs[i].context);
}

static void forge_free(void *self)
{
	struct forge *f = self;
	if (!f)
		return;
	for (size_t i = 0; i < f->nrecs; i++) {
		free(f->recs[i].context);
		free(f->recs[i].shown);
		free(f->recs[i].unsent);
		free(f->recs[i].unsent_key);
	}
	free(f->recs);
	free(f->url);
	free(f->read_url);
	free(f->read_error);
	fl_forge_api_release(&f->api);
	free(f->target_url);
	free(f);
}

static const struct fl_status_ops github_ops = { "github", forge_set, forge_flush, forge_free, forge_report };
static const struct fl_status_ops gitlab_ops = { "gitlab", forge_set, forge_flush, forge_free, forge_report };
static const struct fl_status_ops gitea_ops = { "gitea", forge_set, forge_flush, forge_free, forge_report };

/* Page sizes are each forge's largest: GitHub and GitLab 100, Gitea 50 (its default MAX_RESPONSE_ITEMS). */
static const struct forge_kind kinds[] = {
	{ &github_ops, "context", repo_path, plain_state, never_stands, repo_read_path, "per_page=100&page=", 100, true, "state" },
	{ &gitlab_ops, "name", gitlab_path, gitlab_state, gitlab_stands, gitlab_read_path, "all=false&per_page=100&page=", 100, false,
	  "status" },
	{ &gitea_ops, "context", repo_path, plain_state, never_stands, repo_read_path, "limit=50&page=", 50, true, "status" },
};

/* ---- opening ---- */

/* The forge called type, or NULL. */
static const struct forge_kind *kind_named(const char *type)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(type, kinds[i].ops->type) == 0)
			return &kinds[i];
	return NULL;
}

/* FL_EINPUT unless every {{...}} in tmpl is one flotilla fills in. */
static int check_template(const char *type, const char *tmpl, struct fl_error *err)
{
	struct target_names names = { type, "", "", "" };
	struct fl_buf scratch = FL_BUF_INIT;
	char what[48];
	snprintf(what, sizeof(what), "%s status target_url", type);
	int rc = fl_template_expand(&scratch, tmpl, what, target_name, &names, err);
	fl_buf_release(&scratch);
	if (!rc && !starts_with(tmpl, "https://") && !starts_with(tmpl, "http://"))
		rc = fl_error_set(err, FL_EINPUT, "%s status: target_url '%.100s' is not an http(s) URL", type,
				  tmpl);
	return rc;
}

int fl_status_forge_open(struct fl_status_writer *out, const struct fl_status_conf *conf,
			 const char *revision, struct fl_error *err)
{
	const struct forge_kind *k = NULL;
	struct forge *f = NULL;
	struct fl_forge_api api;
	struct fl_buf url = FL_BUF_INIT, read = FL_BUF_INIT;
	int rc = 0;

	k = kind_named(conf->type);
	if (!k)
		return fl_error_set(err, FL_EINPUT, "status type '%s' is not a forge", conf->type);
	const char *target = conf_str(conf, "target_url");
	if ((rc = fl_forge_api_init(&api, conf, err)) || (target && (rc = check_template(k->ops->type, target, err)))) {
		fl_forge_api_release(&api);
		return rc;
	}
	fl_buf_puts(&url, api.api);
	fl_buf_puts(&read, api.api);
	k->path(&url, api.where, revision);
	k->read_path(&read, api.where, revision);

	f = fl_calloc(1, sizeof(*f));
	f->kind = k;
	f->api = api;
	f->read_url = fl_buf_detach(&read, NULL);
	f->url = fl_buf_detach(&url, NULL);
	f->target_url = target ? fl_strdup(target) : NULL;
	snprintf(f->revision, sizeof(f->revision), "%s", revision);
	out->ops = k->ops;
	out->self = f;
	return 0;
}

/* ---- the entries of fleet.yaml ---- */

/* The forge's keys: its repo (or project), the token's variable, and where the API and links go. */
static void forge_check(struct fl_vctx *c, const struct fl_node *entry, const char *type)
{
	const char *where_key = fl_forge_where_key(type);
	const char *const keys[] = { "type", where_key, "token_env", "api_url", "target_url", "ca_file", NULL };
	for (size_t i = 0; i < entry->v.map.len; i++) {
		const struct fl_pair *p = &entry->v.map.items[i];
		size_t j = 0;
		while (keys[j] && !fl_key_is(p, keys[j]))
			j++;
		if (!keys[j])
			fl_unknown_key(c, p->key, "status", keys);
		else if (j > 0)
			(void)fl_vstring(c, p->value);
	}
	if (!fl_node_get(entry, "token_env"))
		fl_verr(c, entry, "missing required key 'token_env' in %s status", type);
	if (!fl_node_get(entry, where_key))
		fl_verr(c, entry, "missing required key '%s' in %s status", where_key, type);
}

const struct fl_status_type fl_status_github_type = { "github", forge_check, fl_status_forge_open };
const struct fl_status_type fl_status_gitlab_type = { "gitlab", forge_check, fl_status_forge_open };
const struct fl_status_type fl_status_gitea_type = { "gitea", forge_check, fl_status_forge_open };
