/*
 * The forge entries of fleet.yaml as the forge writers call them: checked
 * once, then one request at a time with each forge's auth and headers,
 * retried by core/http.c; see forge_internal.h.
 */
#include "reconcile/status/forge_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/node.h"
#include "core/banned.h"

/* What differs between forges in reaching them. */
struct forge_row {
	enum fl_forge_type type;
	const char *name;
	const char *default_api;   /* api_url when the entry names none */
	const char *where_key;     /* "repo" or "project" */
	/* Puts auth into req; line holds a header line that must outlive the request. */
	void (*auth)(struct fl_http_request *req, const char *token, struct fl_buf *line);
	const char *const *headers; /* NULL-terminated, besides the auth header */
};

static void bearer_auth(struct fl_http_request *req, const char *token, struct fl_buf *line)
{
	(void)line;
	req->bearer = token;
}

static void gitlab_auth(struct fl_http_request *req, const char *token, struct fl_buf *line)
{
	(void)line;
	req->bearer = token;
	req->token_header = "PRIVATE-TOKEN";
}

/* Gitea documents "Authorization: token <token>" (it takes Bearer too). */
static void gitea_auth(struct fl_http_request *req, const char *token, struct fl_buf *line)
{
	(void)req;
	fl_buf_printf(line, "Authorization: token %s", token);
}

static const char *const github_headers[] = {
	"Accept: application/vnd.github+json",
	"X-GitHub-Api-Version: 2022-11-28",
	"Content-Type: application/json",
	NULL,
};

static const char *const gitlab_headers[] = {
	"Content-Type: application/json",
	NULL,
};

static const char *const gitea_headers[] = {
	"Accept: application/json",
	"Content-Type: application/json",
	NULL,
};

static const struct forge_row rows[] = {
	{ FL_FORGE_GITHUB, "github", "https://api.github.com", "repo", bearer_auth, github_headers },
	{ FL_FORGE_GITLAB, "gitlab", "https://gitlab.com/api/v4", "project", gitlab_auth, gitlab_headers },
	{ FL_FORGE_GITEA, "gitea", "https://gitea.com/api/v1", "repo", gitea_auth, gitea_headers },
};

static const struct forge_row *row_named(const char *type)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (strcmp(type, rows[i].name) == 0)
			return &rows[i];
	return NULL;
}

const char *fl_forge_where_key(const char *type)
{
	const struct forge_row *r = row_named(type);
	return r ? r->where_key : NULL;
}

size_t fl_utf8_seq(const unsigned char *p, size_t n)
{
	size_t len = p[0] < 0x80	     ? 1
		     : (p[0] & 0xe0) == 0xc0 ? 2
		     : (p[0] & 0xf0) == 0xe0 ? 3
		     : (p[0] & 0xf8) == 0xf0 ? 4
					     : 0;
	if (!len || len > n || (len == 2 && p[0] < 0xc2))
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	uint32_t c = len == 3	? (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu)
		     : len == 4 ? (p[0] & 0x07u) << 18 | (p[1] & 0x3fu) << 12 | (p[2] & 0x3fu) << 6 |
					  (p[3] & 0x3fu)
				: 0x800;
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
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

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_';
}

/* owner/name, each part of [A-Za-z0-9._-], neither "." nor "..". */
static bool repo_valid(const char *repo)
{
	const char *slash = strchr(repo, '/');
	if (!slash || slash == repo || !slash[1] || strchr(slash + 1, '/'))
		return false;
	for (const char *p = repo; *p; p++)
		if (p != slash && !name_char(*p))
			return false;
	return strncmp(repo, "./", 2) != 0 && strncmp(repo, "../", 3) != 0 && strcmp(slash, "/.") != 0 &&
	       strcmp(slash, "/..") != 0;
}

int fl_forge_api_init(struct fl_forge_api *out, const struct fl_status_conf *conf, struct fl_error *err)
{
	const struct forge_row *r = row_named(conf->type);
	memset(out, 0, sizeof(*out));
	if (!r)
		return fl_error_set(err, FL_EINPUT, "status type '%s' is not a forge", conf->type);
	const char *where = conf_str(conf, r->where_key);
	const char *token_env = conf_str(conf, "token_env");
	const char *api = conf_str(conf, "api_url");
	const char *ca_file = conf_str(conf, "ca_file");
	bool repo = r->type != FL_FORGE_GITLAB;
	if (!api || !*api)
		api = r->default_api;
	if (!where || !*where || (repo && !repo_valid(where)))
		return fl_error_set(err, FL_EINPUT, "%s status: %s '%.100s' is not %s", r->name, r->where_key,
				    where ? where : "", repo ? "owner/name" : "a project path or id");
	if (!token_env || !*token_env)
		return fl_error_set(err, FL_EINPUT, "%s status: missing token_env", r->name);
	if (!starts_with(api, "https://") && !starts_with(api, "http://"))
		return fl_error_set(err, FL_EINPUT, "%s status: api_url '%.100s' is not an http(s) URL", r->name,
				    api);
	if (!fl_http_token_allowed(api))
		return fl_error_set(err, FL_EINPUT,
				    "%s status: api_url '%.100s' would send the token over plain http (use https, "
				    "or a loopback address)",
				    r->name, api);
	size_t len = strlen(api);
	while (len && api[len - 1] == '/')
		len--;
	out->type = r->type;
	out->name = r->name;
	out->api = fl_strndup(api, len);
	out->where = fl_strdup(where);
	out->token_env = fl_strdup(token_env);
	out->ca_file = ca_file ? fl_strdup(ca_file) : NULL;
	return 0;
}

void fl_forge_api_release(struct fl_forge_api *a)
{
	free(a->api);
	free(a->where);
	free(a->token_env);
	free(a->ca_file);
	memset(a, 0, sizeof(*a));
}

const char *fl_forge_token(const struct fl_forge_api *a)
{
	const char *token = getenv(a->token_env);
	return token && *token ? token : NULL;
}

int fl_forge_call(const struct fl_forge_api *a, const char *method, const char *url, const char *body,
		  const char *what, struct fl_http_response *resp, struct fl_error *err)
{
	const struct forge_row *r = &rows[a->type];
	const char *token = fl_forge_token(a);
	struct fl_buf line = FL_BUF_INIT;
	const char *headers[8];
	size_t nh = 0;
	int rc;
	if (!token)
		return fl_error_set(err, FL_EINPUT, "%s %s: environment variable '%s' is not set", a->name, what,
				    a->token_env);
	struct fl_http_request req = {
		.method = method,
		.url = url,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.timeout_ms = FL_FORGE_TIMEOUT_MS,
		.tls = { .ca_file = a->ca_file },
	};
	r->auth(&req, token, &line);
	for (const char *const *h = r->headers; *h && nh + 2 < sizeof(headers) / sizeof(*headers); h++)
		if (body || strncmp(*h, "Content-Type:", 13) != 0)
			headers[nh++] = *h;
	if (line.len)
		headers[nh++] = line.ptr;
	headers[nh] = NULL;
	req.headers = headers;
	rc = fl_http_request(resp, &req, err);
	if (rc)
		fl_error_prefix(err, "%s %s: ", a->name, what);
	fl_buf_release(&line);
	return rc;
}

void fl_forge_put_excerpt(struct fl_buf *out, const struct fl_buf *body)
{
	size_t i;
	for (i = 0; i < body->len && i < 120; i++) {
		unsigned char c = (unsigned char)body->ptr[i];
		fl_buf_putc(out, c >= 0x20 && c < 0x7f ? (char)c : ' ');
	}
	if (i < body->len)
		fl_buf_puts(out, "...");
}

void fl_forge_put_project(struct fl_buf *out, const char *project)
{
	fl_buf_puts(out, "/projects/");
	for (const unsigned char *p = (const unsigned char *)project; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~')
			fl_buf_putc(out, (char)*p);
		else
			fl_buf_printf(out, "%%%02X", *p);
	}
}
