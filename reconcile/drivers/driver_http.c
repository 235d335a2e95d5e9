/*
 * The http driver (SPEC 8): each account is reached through the REST account
 * API that docs/drivers.md specifies (version 1), over core/http.c: TLS
 * verified by default, client certificates, a bearer token per tenant,
 * retries with backoff that honour Retry-After, and optimistic concurrency
 * with If-Match on fingerprints. The driver holds only configuration: every
 * call builds its own request, so any operation may run on many threads.
 */
#include "reconcile/drivers/driver.h"
#include "reconcile/drivers/driver_answer.h"
#include "reconcile/drivers/driver_conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/http.h"
#include "core/json.h"
#include "reconcile/fleet/syntax.h"
#include "reconcile/render/template.h"
#include "core/banned.h"

#define DEFAULT_TIMEOUT_S 30
#define MAX_TIMEOUT_S (24 * 3600)
#define OBSERVE_MAX ((size_t)256 * 1024 * 1024) /* an observe answer */
#define ANSWER_MAX ((size_t)1024 * 1024)	/* any other answer */
#define TOKEN_MAX ((size_t)64 * 1024)
#define SHOWN_ERROR_MAX 200 /* bytes of a server's error message kept in ours */

struct http_driver {
	char *endpoint;			      /* URL template, without a trailing '/' */
	char *token_file;		      /* path template, or NULL */
	char *token_env;		      /* variable name template, or NULL */
	char *ca_file, *cert_file, *key_file; /* or NULL */
	unsigned timeout_ms;		      /* per try */
};

/* One operation on one tenant's account: its base URL and token. */
struct op {
	const struct http_driver *d;
	const char *what; /* "observe", for messages */
	const struct fl_tenant *tenant;
	const char *region;  /* NULL for operations without one */
	struct fl_buf base;  /* the endpoint, expanded */
	struct fl_buf token; /* empty: none; wiped on release */
	struct fl_buf url;   /* of the request in flight */
};

/* ---- templates ---- */

/*
 * Appends tmpl with {{tenant.name}} and {{tenant.account}} substituted as
 * text; t NULL checks the template only. FL_EINPUT for any other name, a
 * '{{' left open, or a value that may not go into a URL or a path.
 */
static int expand(struct fl_buf *out, const char *tmpl, const char *key, const struct fl_tenant *t,
		  struct fl_error *err)
{
	char where[32];
	struct fl_template_tenant names = { t, NULL, false, true, where };

	snprintf(where, sizeof(where), "driver %s", key);
	return fl_template_expand(out, tmpl, where, fl_template_tenant_lookup, &names, err);
}

/* ---- operations: set-up, messages ---- */

/* "observe of tenant 'acme' in region 'us-east-1'" into err's prefix. */
static void prefix(struct fl_error *err, const struct op *o)
{
	if (o->region)
		fl_error_prefix(err, "http driver: %s of tenant '%s' in region '%s': ", o->what,
				o->tenant->name, o->region);
	else
		fl_error_prefix(err, "http driver: %s of tenant '%s': ", o->what, o->tenant->name);
}

/* The tenant's token into o->token, from token_file or token_env. */
static int read_token(struct op *o, struct fl_error *err)
{
	const struct http_driver *d = o->d;
	struct fl_buf name = FL_BUF_INIT;
	int rc = 0;
	name.max = 4096;
	if (d->token_file) {
		if ((rc = expand(&name, d->token_file, "token_file", o->tenant, err)))
			goto out;
		o->token.max = TOKEN_MAX;
		struct fl_error ferr = FL_ERROR_INIT;
		if ((rc = fl_file_read(&o->token, name.ptr, &ferr))) {
			rc = fl_error_set(err, FL_EDRIVER, "cannot read token file: %s", ferr.msg);
			goto out;
		}
	} else if (d->token_env) {
		if ((rc = expand(&name, d->token_env, "token_env", o->tenant, err)))
			goto out;
		const char *v = getenv(name.ptr);
		if (!v || !*v) {
			rc = fl_error_set(err, FL_EDRIVER, "environment variable '%s' (token_env) is not set",
					  name.ptr);
			goto out;
		}
		if ((rc = fl_buf_puts(&o->token, v)))
			goto out;
	} else {
		goto out;
	}
	/* Trim white space (a file's final newline); what is left must be one line. */
	size_t a = 0, b = o->token.len;
	while (a < b && (unsigned char)o->token.ptr[a] <= ' ')
		a++;
	while (b > a && (unsigned char)o->token.ptr[b - 1] <= ' ')
		b--;
	memmove(o->token.ptr, o->token.ptr + a, b - a);
	memset(o->token.ptr + (b - a), 0, o->token.len - (b - a));
	fl_buf_truncate(&o->token, b - a);
	bool ok = o->token.len > 0;
	for (size_t i = 0; i < o->token.len && ok; i++)
		ok = (unsigned char)o->token.ptr[i] > ' ' && (unsigned char)o->token.ptr[i] != 0x7f;
	if (!ok)
		rc = fl_error_set(err, FL_EDRIVER, "the token from %s '%s' is empty or not one word",
				  d->token_file ? "token_file" : "token_env", name.ptr);
out:
	fl_buf_release(&name);
	return rc;
}

static void op_release(struct op *o)
{
	memset(o->token.ptr, 0, o->token.len); /* no token left in freed memory */
	fl_buf_release(&o->token);
	fl_buf_release(&o->base);
	fl_buf_release(&o->url);
}

/* Sets o up for one operation; on failure err is prefixed and o released. */
static int op_init(struct op *o, void *self, const char *what, const struct fl_tenant *tenant,
		   const char *region, struct fl_error *err)
{
	memset(o, 0, sizeof(*o));
	o->d = self;
	o->what = what;
	o->tenant = tenant;
	o->region = region;
	fl_buf_init(&o->base, 8192);
	fl_buf_init(&o->token, 0);
	fl_buf_init(&o->url, 16384);
	int rc = 0;
	if (region && !fl_ident_valid(region, strlen(region)))
		rc = fl_error_set(err, FL_EINPUT, "region '%.128s' cannot go into a URL", region);
	if (!rc)
		rc = expand(&o->base, o->d->endpoint, "endpoint", tenant, err);
	if (!rc)
		rc = read_token(o, err);
	if (rc) {
		prefix(err, o);
		op_release(o);
	}
	return rc;
}

/* The server's own words from an error answer: its "error" string, or the body if it is short text. */
static void server_words(char *out, size_t size, const struct fl_http_response *resp)
{
	struct fl_arena arena;
	struct fl_node *node = NULL;
	struct fl_error ignored = FL_ERROR_INIT;
	struct fl_source src = { "answer", resp->body.ptr, resp->body.len };
	const char *s = resp->body.ptr;
	size_t n = resp->body.len;
	fl_arena_init(&arena, 1024);
	if (fl_json_parse(&node, &arena, &src, &ignored) == 0) {
		const struct fl_node *e = fl_node_get(node, "error");
		if (e && e->type == FL_NODE_STR) {
			s = e->v.str.ptr;
			n = e->v.str.len;
		} else {
			n = 0;
		}
	}
	if (n > SHOWN_ERROR_MAX)
		n = SHOWN_ERROR_MAX;
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		out[k++] = c < ' ' || c == 0x7f ? ' ' : (char)c;
	}
	out[k] = '\0';
	fl_arena_release(&arena);
}

/* FL_EDRIVER for an answer the operation does not expect, with what the server said. */
static int unexpected(const struct op *o, const char *method, const struct fl_http_response *resp,
		      struct fl_error *err)
{
	char words[SHOWN_ERROR_MAX + 1];
	server_words(words, sizeof(words), resp);
	const char *why = resp->status == 401 || resp->status == 403 ? " (the account API refused the token)"
			  : resp->status == 404			     ? " (no such account or path)"
								     : "";
	char tries[32] = "";
	if (resp->attempts > 1)
		snprintf(tries, sizeof(tries), " after %u tries", resp->attempts);
	int rc = fl_error_set(err, FL_EDRIVER, "%s %s answered HTTP %ld%s%s%s%s", method, o->url.ptr,
			      resp->status, why, tries, words[0] ? ": " : "", words);
	prefix(err, o);
	return rc;
}

/*
 * Sends method to the account's base URL + path (with body, when not NULL)
 * and fills resp (initialised by the caller). Returns 0 when an answer came,
 * whatever its status; FL_EIO when none did, FL_EINPUT when the request may
 * not be sent (a token over plain http); err prefixed.
 */
static int op_send(struct op *o, struct fl_http_response *resp, const char *method, const char *path,
		   const char *const *headers, const char *body, size_t body_len, struct fl_error *err)
{
	fl_buf_clear(&o->url);
	int rc = fl_buf_put(&o->url, o->base.ptr, o->base.len);
	if (!rc)
		rc = fl_buf_puts(&o->url, path);
	if (rc) {
		rc = fl_error_set(err, rc, "the URL of %s is too long", path);
		prefix(err, o);
		return rc;
	}
	struct fl_http_request req;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = o->url.ptr;
	req.headers = headers;
	req.bearer = o->token.len ? o->token.ptr : NULL;
	req.body = body;
	req.body_len = body_len;
	req.timeout_ms = o->d->timeout_ms;
	req.tls.ca_file = o->d->ca_file;
	req.tls.cert_file = o->d->cert_file;
	req.tls.key_file = o->d->key_file;
	if ((rc = fl_http_request(resp, &req, err)))
		prefix(err, o);
	return rc;
}

/* Parses a 2xx answer that must be a JSON object into *out (a tree in arena). */
static int answer_object(const struct fl_node **out, struct fl_arena *arena, const struct op *o,
			 const struct fl_http_response *resp, struct fl_error *err)
{
	struct fl_node *node = NULL;
	struct fl_error jerr = FL_ERROR_INIT;
	struct fl_source src = { "answer", resp->body.ptr, resp->body.len };
	*out = NULL;
	if (fl_json_parse(&node, arena, &src, &jerr) || node->type != FL_NODE_MAP) {
		int rc = fl_error_set(err, FL_EDRIVER, "GET %s gave an answer that is not a JSON object%s%s",
				      o->url.ptr, jerr.code ? ": " : "", jerr.code ? jerr.msg : "");
		prefix(err, o);
		return rc;
	}
	*out = node;
	return 0;
}

/* FL_EDRIVER "GET <url> gave an invalid answer: <why>". */
static int bad_answer(struct fl_error *err, const struct op *o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad_answer(struct fl_error *err, const struct op *o, const char *fmt, ...)
{
	char why[FL_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	int rc = fl_error_set(err, FL_EDRIVER, "GET %s gave an invalid answer: %s", o->url.ptr, why);
	prefix(err, o);
	return rc;
}

static void response_init(struct fl_http_response *resp, size_t max)
{
	memset(resp, 0, sizeof(*resp));
	fl_buf_init(&resp->body, max);
}

/* ---- answers ---- */

/* Parses a marker object into m; *has false for null or absent. */
static int parse_marker(struct fl_marker *m, bool *has, const struct fl_node *v, const struct op *o,
			struct fl_error *err)
{
	int rc = fl_answer_marker(m, has, v, true, err);
	return rc ? bad_answer(err, o, "%s", err->msg) : 0;
}

/*
 * Fills out from a region's answer: kinds and names copied into out->arena,
 * specs in canonical form into out->raw, each fingerprint computed here.
 */
static int fill_observed(struct fl_observed *out, const struct fl_node *answer, const struct op *o,
			 struct fl_error *err)
{
	int rc = 0;
	const struct fl_node *res = fl_node_get(answer, "resources");
	if (!res || res->type != FL_NODE_SEQ) {
		rc = bad_answer(err, o, "expected {\"marker\": {...}|null, \"resources\": [...]}");
		goto out;
	}
	if ((rc = parse_marker(&out->marker, &out->has_marker, fl_node_get(answer, "marker"), o, err)))
		goto out;
	if ((rc = fl_answer_resources(out, res, true, err))) {
		rc = bad_answer(err, o, "%s", err->msg);
		goto out;
	}
	out->exists = true;
out:
	return rc;
}

/* ---- the operations ---- */

/* One GET of a JSON object, for the operations that only read. */
struct get {
	struct op o;
	struct fl_http_response resp;
	struct fl_arena arena;
	const struct fl_node *answer; /* NULL when the server had nothing there (404) */
	bool ready;		      /* o, resp and arena are set up */
};

/*
 * Sets g up for one operation and GETs path: 200 must bring a JSON object,
 * 404 means nothing there, anything else is an error. get_release after,
 * whatever it returned.
 */
static int get_object(struct get *g, void *self, const char *what, const struct fl_tenant *tenant,
		      const char *region, const char *path, size_t max, struct fl_error *err)
{
	memset(g, 0, sizeof(*g));
	int rc = op_init(&g->o, self, what, tenant, region, err);
	if (rc)
		return rc;
	response_init(&g->resp, max);
	fl_arena_init(&g->arena, 1024);
	g->ready = true;
	if ((rc = op_send(&g->o, &g->resp, "GET", path, NULL, NULL, 0, err)) || g->resp.status == 404)
		return rc;
	if (g->resp.status != 200)
		return unexpected(&g->o, "GET", &g->resp, err);
	return answer_object(&g->answer, &g->arena, &g->o, &g->resp, err);
}

static void get_release(struct get *g)
{
	if (!g->ready)
		return;
	fl_arena_release(&g->arena);
	fl_buf_release(&g->resp.body);
	op_release(&g->o);
}

static int http_identity(void *self, const struct fl_tenant *tenant, struct fl_buf *account, bool *found,
			 struct fl_error *err)
{
	struct get g;
	*found = false;
	int rc = get_object(&g, self, "identity", tenant, NULL, "/identity", ANSWER_MAX, err);
	if (!rc && g.answer && (rc = fl_answer_account(account, found, g.answer, false, err)))
		rc = bad_answer(err, &g.o, "%s", err->msg);
	get_release(&g);
	return rc;
}

static int http_observe(void *self, const struct fl_tenant *tenant, const char *region,
			struct fl_observed *out, struct fl_error *err)
{
	struct get g;
	struct fl_buf path = FL_BUF_INIT;
	fl_observed_clear(out);
	fl_buf_printf(&path, "/regions/%s", region);
	/* 404: no account, or a region that holds nothing. */
	int rc = get_object(&g, self, "observe", tenant, region, path.ptr, OBSERVE_MAX, err);
	if (!rc && g.answer) {
		size_t max = out->raw.max;
		out->raw.max = OBSERVE_MAX;
		rc = fill_observed(out, g.answer, &g.o, err);
		out->raw.max = max;
	}
	if (rc)
		fl_observed_clear(out);
	get_release(&g);
	fl_buf_release(&path);
	return rc;
}

static int http_marker(void *self, const struct fl_tenant *tenant, const char *region, struct fl_marker *out,
		       bool *found, struct fl_error *err)
{
	struct get g;
	struct fl_buf path = FL_BUF_INIT;
	*found = false;
	fl_buf_printf(&path, "/regions/%s/marker", region);
	int rc = get_object(&g, self, "marker", tenant, region, path.ptr, ANSWER_MAX, err);
	if (!rc && g.answer)
		rc = parse_marker(out, found, fl_node_get(g.answer, "marker"), &g.o, err);
	get_release(&g);
	fl_buf_release(&path);
	return rc;
}

static int http_regions(void *self, const struct fl_tenant *tenant, fl_region_cb cb, void *payload,
			struct fl_error *err)
{
	struct get g;
	const struct fl_node *list = NULL;
	/* 404: no account, no regions. */
	int rc = get_object(&g, self, "regions", tenant, NULL, "/regions", ANSWER_MAX, err);
	/* Every name is checked before the first callback. */
	if (!rc && g.answer && (rc = fl_answer_regions(&list, g.answer, err)))
		rc = bad_answer(err, &g.o, "%s", err->msg);
	for (size_t i = 0; !rc && list && i < list->v.seq.len; i++)
		rc = cb(list->v.seq.items[i]->v.str.ptr, payload);
	get_release(&g);
	return rc;
}

/*
 * After a 412 on a put: the account changed since it was observed. Done when
 * it already holds the spec the put wanted (another apply got there, or a
 * retried try had gone through); otherwise FL_EDRIVER, and the next apply
 * plans again from what the account holds.
 */
static int recheck_put(struct op *o, const struct fl_put_res *p, const char *path, struct fl_error *err)
{
	struct fl_http_response resp;
	struct fl_arena arena;
	struct fl_buf spec = FL_BUF_INIT;
	const struct fl_node *a = NULL;
	int rc = 0;
	response_init(&resp, OBSERVE_MAX);
	fl_arena_init(&arena, 4096);
	if ((rc = op_send(o, &resp, "GET", path, NULL, NULL, 0, err)))
		goto out;
	if (resp.status == 200 && !(rc = answer_object(&a, &arena, o, &resp, err))) {
		const struct fl_node *s = fl_node_get(a, "spec");
		struct fl_error jerr = FL_ERROR_INIT;
		struct fl_fp fp;
		if (s && fl_json_canonical(&spec, s, &jerr) == 0) {
			fl_fp_of(&fp, spec.ptr, spec.len);
			if (fl_fp_equal(&fp, &p->fp))
				goto out;
		}
	} else if (rc) {
		goto out;
	} else if (resp.status != 404) {
		rc = unexpected(o, "GET", &resp, err);
		goto out;
	}
	rc = fl_error_set(err, FL_EDRIVER,
			  "resource %s/%s changed during the apply (HTTP 412 Precondition Failed); the next "
			  "apply plans again",
			  p->kind, p->name);
	prefix(err, o);
out:
	fl_buf_release(&spec);
	fl_arena_release(&arena);
	fl_buf_release(&resp.body);
	return rc;
}

static int put_resource(struct op *o, const struct fl_put_res *p, struct fl_buf *path, struct fl_error *err)
{
	struct fl_http_response resp;
	char fp[FL_FP_HEX_LEN + 1], match[FL_FP_HEX_LEN + 1];
	char h_fp[64], h_cond[64];
	const char *headers[] = { h_fp, h_cond, NULL };
	int rc = 0;
	fl_fp_hex(fp, &p->fp);
	snprintf(h_fp, sizeof(h_fp), "X-Flotilla-Fingerprint: %s", fp);
	if (p->if_match) {
		fl_fp_hex(match, p->if_match);
		snprintf(h_cond, sizeof(h_cond), "If-Match: \"%s\"", match);
	} else {
		snprintf(h_cond, sizeof(h_cond), "If-None-Match: *");
	}
	fl_buf_clear(path);
	fl_buf_printf(path, "/regions/%s/resources/%s/%s", o->region, p->kind, p->name);
	response_init(&resp, ANSWER_MAX);
	if ((rc = op_send(o, &resp, "PUT", path->ptr, headers, p->spec, p->spec_len, err)))
		goto out;
	if (resp.status == 412)
		rc = recheck_put(o, p, path->ptr, err);
	else if (resp.status == 404) {
		rc = fl_error_set(err, FL_EDRIVER, "account '%s' does not exist (bootstrap first)",
				  o->tenant->account);
		prefix(err, o);
	} else if (resp.status != 200 && resp.status != 201 && resp.status != 204)
		rc = unexpected(o, "PUT", &resp, err);
out:
	fl_buf_release(&resp.body);
	return rc;
}

static int delete_resource(struct op *o, const struct fl_res_key *k, struct fl_buf *path,
			   struct fl_error *err)
{
	struct fl_http_response resp;
	int rc = 0;
	fl_buf_clear(path);
	fl_buf_printf(path, "/regions/%s/resources/%s/%s", o->region, k->kind, k->name);
	response_init(&resp, ANSWER_MAX);
	/* 404: already gone, so an interrupted apply can run again. */
	if (!(rc = op_send(o, &resp, "DELETE", path->ptr, NULL, NULL, 0, err)) && resp.status != 200 &&
	    resp.status != 204 && resp.status != 404)
		rc = unexpected(o, "DELETE", &resp, err);
	fl_buf_release(&resp.body);
	return rc;
}

static int put_marker(struct op *o, const struct fl_marker *m, struct fl_buf *path, struct fl_error *err)
{
	struct fl_http_response resp;
	struct fl_buf body = FL_BUF_INIT;
	char tfp[FL_FP_HEX_LEN + 1], ifp[FL_FP_HEX_LEN + 1];
	int rc = 0;
	fl_fp_hex(tfp, &m->tenant_fp);
	fl_fp_hex(ifp, &m->inputs_fp);
	fl_buf_printf(&body,
		      "{\"inputs_fingerprint\":\"%s\",\"resources\":%zu,\"revision\":\"%s\","
		      "\"tenant_fingerprint\":\"%s\"}",
		      ifp, m->resources, m->revision, tfp);
	fl_buf_clear(path);
	fl_buf_printf(path, "/regions/%s/marker", o->region);
	response_init(&resp, ANSWER_MAX);
	if (!(rc = op_send(o, &resp, "PUT", path->ptr, NULL, body.ptr, body.len, err)) &&
	    resp.status != 200 && resp.status != 201 && resp.status != 204)
		rc = unexpected(o, "PUT", &resp, err);
	fl_buf_release(&resp.body);
	fl_buf_release(&body);
	return rc;
}

/*
 * One request at a time, in the order w gives (creates and updates in
 * release order, then deletes in reverse), stopping at the first failure,
 * and the marker last: a marker is never written over a partial apply.
 */
static int http_apply(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
		      struct fl_error *err)
{
	struct op o;
	struct fl_buf path = FL_BUF_INIT;
	int rc = op_init(&o, self, "apply", tenant, w->region, err);
	if (rc)
		return rc;
	rc = fl_region_write_check(w, err);
	if (rc) {
		prefix(err, &o);
		goto out;
	}
	for (size_t i = 0; i < w->nput && !rc; i++)
		rc = put_resource(&o, &w->put[i], &path, err);
	for (size_t i = 0; i < w->ndel && !rc; i++)
		rc = delete_resource(&o, &w->del[i], &path, err);
	if (!rc && w->marker)
		rc = put_marker(&o, w->marker, &path, err);
out:
	fl_buf_release(&path);
	op_release(&o);
	return rc;
}

static int http_bootstrap(void *self, const struct fl_tenant *tenant, struct fl_error *err)
{
	struct op o;
	struct fl_http_response resp;
	struct fl_buf body = FL_BUF_INIT;
	int rc = op_init(&o, self, "bootstrap", tenant, NULL, err);
	if (rc)
		return rc;
	response_init(&resp, ANSWER_MAX);
	fl_buf_puts(&body, "{\"account\":");
	fl_json_put_str(&body, tenant->account, strlen(tenant->account));
	fl_buf_puts(&body, ",\"tenant\":");
	fl_json_put_str(&body, tenant->name, strlen(tenant->name));
	fl_buf_putc(&body, '}');
	if ((rc = op_send(&o, &resp, "PUT", "/identity", NULL, body.ptr, body.len, err)))
		goto out;
	if (resp.status == 200 || resp.status == 201 || resp.status == 204)
		goto out;
	if (resp.status == 409) {
		char words[SHOWN_ERROR_MAX + 1];
		server_words(words, sizeof(words), &resp);
		rc = fl_error_set(err, FL_EIDENTITY, "the account exists with another identity%s%s",
				  words[0] ? ": " : "", words);
		prefix(err, &o);
	} else if (resp.status == 405 || resp.status == 501) {
		rc = fl_error_set(err, FL_EDRIVER,
				  "account '%s' does not exist and the account API cannot create accounts",
				  tenant->account);
		prefix(err, &o);
	} else {
		rc = unexpected(&o, "PUT", &resp, err);
	}
out:
	fl_buf_release(&body);
	fl_buf_release(&resp.body);
	op_release(&o);
	return rc;
}

static void http_free(void *self)
{
	struct http_driver *d = self;
	if (!d)
		return;
	free(d->endpoint);
	free(d->token_file);
	free(d->token_env);
	free(d->ca_file);
	free(d->cert_file);
	free(d->key_file);
	free(d);
}

static const struct fl_driver_ops http_ops = {
	.type = "http",
	.io_bound = true,
	.identity = http_identity,
	.observe = http_observe,
	.marker = http_marker,
	.regions = http_regions,
	.apply = http_apply,
	.bootstrap = http_bootstrap,
	.free = http_free,
};

/* ---- opening ---- */

static const struct fl_driver_key http_keys[] = {
	{ "endpoint", FL_DRIVER_STRING, true },	 { "token_file", FL_DRIVER_STRING, false },
	{ "token_env", FL_DRIVER_STRING, false }, { "ca_file", FL_DRIVER_STRING, false },
	{ "cert_file", FL_DRIVER_STRING, false }, { "key_file", FL_DRIVER_STRING, false },
	{ "timeout", FL_DRIVER_TIMEOUT, false },  { NULL, 0, false },
};

#define TIMEOUT_EXAMPLES "30s or 2m"
#define TIMEOUT_MAX "1d"

static void http_check(struct fl_vctx *c, const struct fl_node *entry)
{
	fl_driver_check_keys(c, entry, "http", http_keys);
	fl_driver_check_timeout(c, entry, MAX_TIMEOUT_S, TIMEOUT_EXAMPLES, TIMEOUT_MAX);
}

/* A string key of the driver entry, or NULL; FL_EINPUT when it is there but not a non-empty string. */
static int node_str(const char **out, const struct fl_node *node, const char *key, struct fl_error *err)
{
	const struct fl_node *v = node ? fl_node_get(node, key) : NULL;
	*out = NULL;
	if (!v)
		return 0;
	if (v->type != FL_NODE_STR || !v->v.str.len)
		return fl_error_set_at(err, FL_EINPUT, NULL, v->line, v->col,
				       "driver %s must be a non-empty string", key);
	*out = v->v.str.ptr;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? fl_strdup(s) : NULL;
}

static int http_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err)
{
	struct fl_buf scratch = FL_BUF_INIT;
	struct http_driver *d = NULL;
	const char *cert = NULL, *key = NULL;
	int rc = 0;
	const char *ep = fl_driver_conf_str(conf, "endpoint");
	const char *token_file = fl_driver_conf_str(conf, "token_file");
	const char *token_env = fl_driver_conf_str(conf, "token_env");
	out->ops = NULL;
	out->self = NULL;
	if (!ep || !*ep) {
		rc = fl_error_set(err, FL_EINPUT, "driver 'http' needs an endpoint");
		goto out;
	}
	if (strncasecmp(ep, "https://", 8) != 0 && strncasecmp(ep, "http://", 7) != 0) {
		rc = fl_error_set(err, FL_EINPUT,
				  "driver 'http' endpoint '%.200s' is not an http:// or https:// URL", ep);
		goto out;
	}
	if (strchr(ep, '?') || strchr(ep, '#')) {
		rc = fl_error_set(err, FL_EINPUT,
				  "driver 'http' endpoint '%.200s' may not have a query or a fragment", ep);
		goto out;
	}
	if (token_file && token_env) {
		rc = fl_error_set(err, FL_EINPUT, "driver 'http' takes token_file or token_env, not both");
		goto out;
	}
	if ((rc = node_str(&cert, conf->node, "cert_file", err)) ||
	    (rc = node_str(&key, conf->node, "key_file", err)))
		goto out;
	if (key && !cert) {
		rc = fl_error_set(err, FL_EINPUT, "driver 'http' has a key_file but no cert_file");
		goto out;
	}
	unsigned timeout;
	if ((rc = fl_driver_conf_timeout(&timeout, conf->node, DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S,
					 TIMEOUT_EXAMPLES, TIMEOUT_MAX, err)))
		goto out;
	/* Every template is checked once here; a token must never travel in the clear. */
	scratch.max = 8192;
	if ((rc = expand(&scratch, ep, "endpoint", NULL, err)))
		goto out;
	if ((token_file || token_env) && !fl_http_token_allowed(scratch.ptr)) {
		rc = fl_error_set(
			err, FL_EINPUT,
			"driver 'http' will not send a token over plain http to '%.200s' (use https)", ep);
		goto out;
	}
	fl_buf_clear(&scratch);
	if (token_file && (rc = expand(&scratch, token_file, "token_file", NULL, err)))
		goto out;
	fl_buf_clear(&scratch);
	if (token_env && (rc = expand(&scratch, token_env, "token_env", NULL, err)))
		goto out;

	d = fl_calloc(1, sizeof(*d));
	d->endpoint = fl_strdup(ep);
	size_t len = strlen(d->endpoint);
	while (len && d->endpoint[len - 1] == '/')
		d->endpoint[--len] = '\0';
	d->token_file = dup_or_null(token_file);
	d->token_env = dup_or_null(token_env);
	d->ca_file = dup_or_null(fl_driver_conf_str(conf, "ca_file"));
	d->cert_file = dup_or_null(cert);
	d->key_file = dup_or_null(key);
	d->timeout_ms = timeout * 1000;
	out->ops = &http_ops;
	out->self = d;
out:
	fl_buf_release(&scratch);
	return rc;
}

const struct fl_driver_type fl_driver_http_type = { "http", http_check, http_open, "endpoint", false };
