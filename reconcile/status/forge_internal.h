/*
 * What the forge writers of reconcile/status/ share (the commit statuses of
 * status_forge.c, the pull-request comment of pr_comment.c): one forge
 * entry of fleet.yaml checked once, the auth and headers each forge wants,
 * and one call through core/http.c with its retries. Not public.
 */
#ifndef FL_FORGE_INTERNAL_H
#define FL_FORGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/http.h"
#include "reconcile/fleet/fleet.h"

#define FL_FORGE_RESP_MAX (64 * 1024)  /* of a forge's answer, which we only quote in errors */
#define FL_FORGE_TIMEOUT_MS 10000      /* per try: a slow forge must not hold a run long */

enum fl_forge_type { FL_FORGE_GITHUB, FL_FORGE_GITLAB, FL_FORGE_GITEA };

/* A forge entry of fleet.yaml, checked: where its API is and how to call it. */
struct fl_forge_api {
	enum fl_forge_type type;
	const char *name;    /* "github", "gitlab", "gitea" (static) */
	char *api;           /* api_url (or the public service's) without a trailing '/' */
	char *where;         /* owner/name, or GitLab's project path or id */
	char *token_env;
	char *ca_file;       /* or NULL */
};

/* "repo" or "project": the key that names where, for a forge type; NULL for other types. */
const char *fl_forge_where_key(const char *type);

/*
 * Checks conf (of type github, gitlab or gitea) and fills out:
 * FL_EINPUT naming the entry's problem ("github status: ...") for a bad
 * repo or project, a missing token_env, an api_url that is not http(s) or
 * would send the token over plain http to a host that is not loopback.
 * fl_forge_api_release frees out, also after a failure.
 */
int fl_forge_api_init(struct fl_forge_api *out, const struct fl_status_conf *conf, struct fl_error *err);
void fl_forge_api_release(struct fl_forge_api *a);

/* The token from the variable a->token_env names, or NULL when it is unset or empty. */
const char *fl_forge_token(const struct fl_forge_api *a);

/*
 * One request to the forge with its auth and headers (a Content-Type only
 * with a body); resp (initialised by the caller) gets the answer. what
 * names it in errors ("status 'ctx'"). Returns 0 when an answer came,
 * whatever its status; FL_EINPUT when the token is not set; FL_EIO when
 * every try failed (core/http.c retries connection errors, 429 and 5xx).
 */
int fl_forge_call(const struct fl_forge_api *a, const char *method, const char *url, const char *body,
		  const char *what, struct fl_http_response *resp, struct fl_error *err);

/* Appends at most 120 printable bytes of a forge's answer, for an error message. */
void fl_forge_put_excerpt(struct fl_buf *out, const struct fl_buf *body);

/* Appends "/projects/<project>", the path URL-encoded as one segment ("group%2Fname"). */
void fl_forge_put_project(struct fl_buf *out, const char *project);

/* Length of the valid UTF-8 sequence at p (n bytes left, n > 0), or 0. */
size_t fl_utf8_seq(const unsigned char *p, size_t n);

#endif
