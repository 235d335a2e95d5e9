/*
 * Template references: the scanner of {{...}} that every reader of templates
 * shares, the text expander built on it, and the tenant names that driver
 * settings may use. render.c compiles release templates with the scanner;
 * verify commands and drivers expand text through fl_template_expand.
 */
#include "reconcile/render/template.h"

#include <string.h>

#include "reconcile/fleet/syntax.h"
#include "core/banned.h"

/* Longest part of a name or template quoted in a message. */
#define SHOWN_NAME 100
#define SHOWN_TEMPLATE 200

/* Index of the first two-byte pair c c in s[from..len), or len. */
static size_t find_pair(const char *s, size_t len, size_t from, char c)
{
	size_t i = from;

	while (i + 1 < len && !(s[i] == c && s[i + 1] == c))
		i++;
	return i + 1 < len ? i : len;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

enum fl_template_scan fl_template_next(struct fl_template_ref *out, const char *s, size_t len, size_t from)
{
	size_t close, a, b;

	out->open = find_pair(s, len, from, '{');
	if (out->open == len)
		return FL_TEMPLATE_NONE;
	close = find_pair(s, len, out->open + 2, '}');
	if (close == len)
		return FL_TEMPLATE_UNTERMINATED;
	a = out->open + 2;
	b = close;
	while (a < b && is_blank(s[a]))
		a++;
	while (b > a && is_blank(s[b - 1]))
		b--;
	out->name = s + a;
	out->namelen = b - a;
	out->end = close + 2;
	return a == b ? FL_TEMPLATE_EMPTY : FL_TEMPLATE_REF;
}

const char *fl_template_problem(enum fl_template_scan scan)
{
	return scan == FL_TEMPLATE_UNTERMINATED ? "unterminated '{{'" : "empty '{{}}'";
}

/* The error of a template that failed to expand, worded as what names it. */
static int expand_error(struct fl_error *err, int code, const char *problem, const char *what,
			const char *tmpl)
{
	if (code == FL_ELIMIT)
		return fl_error_set(err, code, "%s '%.*s' is too long", what ? what : "template", SHOWN_NAME,
				    tmpl);
	if (!what)
		return fl_error_set(err, code, "%s in template", problem);
	return fl_error_set(err, code, "%s in %s '%.*s'", problem, what, SHOWN_TEMPLATE, tmpl);
}

int fl_template_expand(struct fl_buf *out, const char *tmpl, const char *what, fl_template_lookup_fn lookup,
		       void *payload, struct fl_error *err)
{
	size_t len = strlen(tmpl), at = 0;
	struct fl_template_ref ref;
	int rc = 0;

	while (!rc && at < len) {
		enum fl_template_scan scan = fl_template_next(&ref, tmpl, len, at);
		if (scan == FL_TEMPLATE_UNTERMINATED || scan == FL_TEMPLATE_EMPTY)
			return expand_error(err, FL_EINPUT, fl_template_problem(scan), what, tmpl);
		rc = fl_buf_put(out, tmpl + at, ref.open - at);
		if (!rc && scan == FL_TEMPLATE_REF)
			rc = lookup(out, ref.name, ref.namelen, err, payload);
		at = scan == FL_TEMPLATE_REF ? ref.end : len;
	}
	if (rc == FL_ELIMIT)
		rc = expand_error(err, rc, NULL, what, tmpl);
	return rc;
}

static bool name_is(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len == n && memcmp(s, word, n) == 0;
}

enum fl_template_name fl_template_name_of(const char *name, size_t len)
{
	enum fl_template_name kind = FL_TEMPLATE_OTHER;

	if (name_is(name, len, "tenant.name"))
		kind = FL_TEMPLATE_TENANT_NAME;
	else if (name_is(name, len, "tenant.account"))
		kind = FL_TEMPLATE_TENANT_ACCOUNT;
	else if (name_is(name, len, "region"))
		kind = FL_TEMPLATE_REGION;
	return kind;
}

/* Both go into URLs and paths: never '/', '..' or anything to escape. */
static int check_path_safe(const struct fl_template_tenant *tt, enum fl_template_name kind, const char *val,
			   struct fl_error *err)
{
	bool is_name = kind == FL_TEMPLATE_TENANT_NAME;
	bool ok =
		val && (is_name ? fl_tenant_name_valid(val, strlen(val)) : fl_ident_valid(val, strlen(val)));

	if (ok)
		return 0;
	return fl_error_set(err, FL_EINPUT, "%s '%.128s' cannot go into the %s",
			    is_name ? "tenant name" : "account", val ? val : "", tt->where);
}

int fl_template_tenant_lookup(struct fl_buf *out, const char *name, size_t len, struct fl_error *err,
			      void *payload)
{
	const struct fl_template_tenant *tt = payload;
	enum fl_template_name kind = fl_template_name_of(name, len);
	const struct fl_tenant *t = tt->tenant;
	const char *val = NULL;
	int rc = 0;

	if (kind == FL_TEMPLATE_OTHER || (kind == FL_TEMPLATE_REGION && !tt->region_allowed))
		return fl_error_set(err, FL_EINPUT,
				    "unknown template variable '%.*s' in %s (expected tenant.name%s)",
				    (int)(len > SHOWN_NAME ? SHOWN_NAME : len), name, tt->where,
				    tt->region_allowed ? ", tenant.account or region" : " or tenant.account");
	if (!t)
		val = "t";
	else if (kind == FL_TEMPLATE_TENANT_NAME)
		val = t->name;
	else if (kind == FL_TEMPLATE_TENANT_ACCOUNT)
		val = t->account;
	else
		val = tt->region;
	if (tt->path_safe && kind != FL_TEMPLATE_REGION)
		rc = check_path_safe(tt, kind, val, err);
	if (!rc && val)
		rc = fl_buf_puts(out, val);
	return rc;
}
