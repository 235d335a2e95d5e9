/*
 * Template references: finding each {{name}} in a text, and expanding a text
 * by asking the caller for the value of each name. Release templates
 * (render.c), verify commands and driver settings (exec command, http
 * endpoint and token names) all read {{...}} through this one scanner.
 */
#ifndef FL_TEMPLATE_H
#define FL_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "reconcile/fleet/fleet.h"

/* What fl_template_next found at or after its starting offset. */
enum fl_template_scan {
	FL_TEMPLATE_NONE,	  /* no "{{" left: ref->open is the text's length */
	FL_TEMPLATE_REF,	  /* a reference with a non-empty name */
	FL_TEMPLATE_UNTERMINATED, /* a "{{" with no "}}" after it */
	FL_TEMPLATE_EMPTY,	  /* "{{}}", or only blanks inside */
};

/* One {{...}} of a text. */
struct fl_template_ref {
	size_t open;	  /* offset of "{{" */
	size_t end;	  /* offset just past "}}" (FL_TEMPLATE_REF and _EMPTY) */
	const char *name; /* inside the braces, blanks (space, tab) trimmed; not NUL-terminated */
	size_t namelen;
};

/*
 * Finds the first reference in s[from..len): the first "{{" and the first
 * "}}" after it. Fills out as far as it got (open for every result but
 * FL_TEMPLATE_NONE, end and name for FL_TEMPLATE_REF and FL_TEMPLATE_EMPTY).
 */
enum fl_template_scan fl_template_next(struct fl_template_ref *out, const char *s, size_t len, size_t from);

/* "unterminated '{{'" or "empty '{{}}'": how messages name a malformed reference. */
const char *fl_template_problem(enum fl_template_scan scan);

/*
 * Appends the text of name[0..len) (trimmed, never empty) to out and returns
 * 0, or refuses it: returns a negative code with err set in the caller's
 * words. FL_ELIMIT means out is full; fl_template_expand words that itself.
 */
typedef int (*fl_template_lookup_fn)(struct fl_buf *out, const char *name, size_t len, struct fl_error *err,
				     void *payload);

/*
 * Appends tmpl to out with each {{name}} replaced by what lookup appends.
 * what names the template in messages: NULL gives "unterminated '{{' in
 * template", "driver command" gives "unterminated '{{' in driver command
 * '<tmpl>'". Fails with FL_EINPUT for an unterminated or empty reference,
 * with lookup's code and message for a name it refuses, and with FL_ELIMIT
 * ("<what> '<tmpl>' is too long") when out reaches its maximum. On failure
 * out may hold part of the expansion.
 */
int fl_template_expand(struct fl_buf *out, const char *tmpl, const char *what, fl_template_lookup_fn lookup,
		       void *payload, struct fl_error *err);

/* The names with a fixed meaning everywhere a template is read. */
enum fl_template_name {
	FL_TEMPLATE_OTHER,	    /* anything else: tenant.labels.K, vars.K or unknown */
	FL_TEMPLATE_TENANT_NAME,    /* tenant.name */
	FL_TEMPLATE_TENANT_ACCOUNT, /* tenant.account */
	FL_TEMPLATE_REGION,	    /* region */
};

enum fl_template_name fl_template_name_of(const char *name, size_t len);

/*
 * A tenant's names for driver templates, the payload of
 * fl_template_tenant_lookup: {{tenant.name}}, {{tenant.account}} and, when
 * region_allowed, {{region}}. Any other name is refused with
 * "unknown template variable 'x' in <where> (expected tenant.name,
 * tenant.account or region)" (without region when it is not allowed).
 */
struct fl_template_tenant {
	const struct fl_tenant *tenant; /* NULL: checking only, every name is "t" */
	const char *region;		/* NULL: {{region}} expands to nothing */
	bool region_allowed;
	bool path_safe;	   /* refuse a name or account unfit for a URL or a path */
	const char *where; /* "driver command", "driver endpoint": for refusals */
};

/*
 * An fl_template_lookup_fn over a struct fl_template_tenant. With path_safe,
 * a value that is not a valid tenant name (or identifier, for the account)
 * is refused: "account '../x' cannot go into the <where>".
 */
int fl_template_tenant_lookup(struct fl_buf *out, const char *name, size_t len, struct fl_error *err,
			      void *payload);

#endif
