/*
 * Webhook notifications (status type `webhook`, docs/webhooks.md): wave
 * transitions posted to a Slack-compatible incoming webhook (format slack)
 * or as a JSON event of a stable schema (format json). Only updates that
 * carry an event are sent: the rollout marks one only when the note shows
 * something else for the wave, so a job re-run at a gate announces the wait
 * once. Progress and flotilla/plan are never announced. A post that still
 * fails after core/http.c's retries holds the later messages back, in
 * order, until the end of the run: a dead webhook costs one round of
 * retries during the rollout and one at the end, never one per message.
 */
#include "reconcile/status/status_webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/http.h"
#include "core/json.h"
#include "core/node.h"
#include "reconcile/fleet/check.h"
#include "reconcile/render/template.h"
#include "core/banned.h"

#define SEND_TIMEOUT_MS 10000 /* per try: a slow webhook must not hold the rollout long */
#define SEND_ATTEMPTS 4
#define RETRY_MAX_MS 5000 /* the longest wait between tries, a Retry-After included */
#define RESP_MAX 4096	  /* of an answer, which is only quoted in errors */
#define SLACK_GAP_MS 1000 /* Slack takes one message per second per webhook */
#define HELD_MAX 64	  /* messages held back while the webhook does not answer */
#define SHORT_SHA 7

enum format { FORMAT_SLACK, FORMAT_JSON };

/* A message not delivered yet: its body, and what it announces for errors. */
struct held {
	char *body;
	char *what;
};

struct webhook {
	enum format format;
	char *url;	  /* the literal url, or NULL: url_env names it */
	char *url_env;	  /* or NULL */
	char *token_env;  /* or NULL: no Authorization header */
	char *target_url; /* template, or NULL */
	char *ca_file;	  /* or NULL */
	char revision[FL_OID_HEX_LEN + 1];
	char *shown;	   /* the URL of the last post, masked, for the report; or NULL */
	long long last_ms; /* monotonic time of the last post; 0 before the first */
	struct held *held; /* oldest first: an earlier post did not get through */
	size_t nheld, cap;
	size_t lost;   /* messages given up: refused for good, or past HELD_MAX */
	char *refused; /* why the webhook takes nothing more in this run, or NULL */
};

/* ---- the messages ---- */

static const struct {
	const char *name; /* in the JSON event */
	const char *verb; /* in the Slack text */
} events[] = {
	[FL_WAVE_EVENT_NONE] = { "wave.changed", "changed" },
	[FL_WAVE_EVENT_STARTED] = { "wave.started", "started" },
	[FL_WAVE_EVENT_SUCCEEDED] = { "wave.succeeded", "succeeded" },
	[FL_WAVE_EVENT_FAILED] = { "wave.failed", "failed" },
	[FL_WAVE_EVENT_HALTED] = { "wave.halted", "halted" },
	[FL_WAVE_EVENT_ROLLED_BACK] = { "wave.rolled_back", "rolled back" },
	[FL_WAVE_EVENT_WAITING] = { "wave.waiting", "is waiting" },
	[FL_WAVE_EVENT_SUPERSEDED] = { "wave.superseded", "superseded" },
};
#define NEVENTS (sizeof(events) / sizeof(events[0]))

static size_t event_index(enum fl_wave_event e)
{
	return (size_t)e < NEVENTS ? (size_t)e : FL_WAVE_EVENT_NONE;
}

const char *fl_webhook_event_name(enum fl_wave_event e)
{
	return events[event_index(e)].name;
}

/*
 * Slack's mrkdwn gives &, < and > a meaning: each is escaped, nothing else
 * is. Inside a link, '|' would end its URL: it is percent-encoded there.
 */
static void put_mrkdwn(struct fl_buf *out, const char *s, bool link)
{
	for (; *s; s++) {
		if (*s == '&')
			fl_buf_puts(out, "&amp;");
		else if (*s == '<')
			fl_buf_puts(out, "&lt;");
		else if (*s == '>')
			fl_buf_puts(out, "&gt;");
		else if (*s == '|' && link)
			fl_buf_puts(out, "%7C");
		else
			fl_buf_putc(out, *s);
	}
}

void fl_webhook_slack_body(struct fl_buf *out, const struct fl_webhook_event *e)
{
	struct fl_buf text = FL_BUF_INIT;
	fl_buf_puts(&text, "flotilla: wave *");
	put_mrkdwn(&text, e->wave, false);
	fl_buf_printf(&text, "* %s on `%.*s` (%s: ", events[event_index(e->event)].verb, SHORT_SHA,
		      e->revision, fl_state_name(e->state));
	put_mrkdwn(&text, e->description ? e->description : "", false);
	fl_buf_putc(&text, ')');
	if (e->target_url) {
		fl_buf_puts(&text, " <");
		put_mrkdwn(&text, e->target_url, true);
		fl_buf_puts(&text, "|details>");
	}
	fl_buf_puts(out, "{\"text\":");
	fl_json_put_str(out, text.ptr, text.len);
	fl_buf_putc(out, '}');
	fl_buf_release(&text);
}

static void put_member(struct fl_buf *out, const char *key, const char *value)
{
	fl_buf_printf(out, ",\"%s\":", key);
	if (value)
		fl_json_put_str(out, value, strlen(value));
	else
		fl_buf_puts(out, "null");
}

void fl_webhook_json_body(struct fl_buf *out, const struct fl_webhook_event *e)
{
	char when[32];
	fl_time_format(when, e->time);
	fl_buf_puts(out, "{\"version\":1");
	put_member(out, "event", fl_webhook_event_name(e->event));
	put_member(out, "commit", e->revision);
	put_member(out, "wave", e->wave);
	put_member(out, "state", fl_state_name(e->state));
	put_member(out, "description", e->description ? e->description : "");
	put_member(out, "context", e->context);
	put_member(out, "target_url", e->target_url);
	put_member(out, "time", when);
	fl_buf_putc(out, '}');
}

/* ---- the URL, a secret ---- */

void fl_webhook_url_mask(struct fl_buf *out, const char *url)
{
	const char *sep = strstr(url, "://");
	if (!sep) {
		fl_buf_puts(out, "***");
		return;
	}
	const char *auth = sep + 3;
	size_t auth_len = strcspn(auth, "/?#");
	const char *host = auth;
	for (const char *p = auth; p < auth + auth_len; p++)
		if (*p == '@')
			host = p + 1;
	fl_buf_printf(out, "%.*s%s%.*s", (int)(auth - url), url, host != auth ? "***@" : "",
		      (int)(auth + auth_len - host), host);
	const char *path = auth + auth_len;
	if (!*path)
		return;
	if (*path != '/') {
		fl_buf_puts(out, "?***");
		return;
	}
	/* The first segment shows when more follow: the last one is where a key goes. */
	size_t seg = strcspn(path + 1, "/?#");
	if (path[1 + seg] == '/' && path[2 + seg]) {
		fl_buf_put(out, path, 1 + seg);
		fl_buf_puts(out, "/***");
	} else if (path[1]) {
		fl_buf_puts(out, "/***");
	} else {
		fl_buf_putc(out, '/');
	}
}

/* Replaces each from in msg (cut to cap) with to. */
static void replace_all(char *msg, size_t cap, const char *from, const char *to)
{
	struct fl_buf b = FL_BUF_INIT;
	size_t flen = strlen(from);
	const char *s = msg;
	if (!flen)
		return;
	for (const char *hit; (hit = strstr(s, from)); s = hit + flen) {
		fl_buf_put(&b, s, (size_t)(hit - s));
		fl_buf_puts(&b, to);
	}
	fl_buf_puts(&b, s);
	snprintf(msg, cap, "%s", b.ptr);
	fl_buf_release(&b);
}

/*
 * Masks url in a message of core/http.c, which shows it as curl rewrites
 * it (host case, port): the whole URL, then its path and query wherever
 * they still show, whatever precedes them.
 */
static void mask_in(struct fl_error *err, const char *url)
{
	struct fl_buf masked = FL_BUF_INIT;
	fl_webhook_url_mask(&masked, url);
	replace_all(err->msg, sizeof(err->msg), url, masked.ptr);
	const char *sep = strstr(url, "://");
	const char *tail = sep ? sep + 3 + strcspn(sep + 3, "/?#") : NULL;
	const char *masked_sep = strstr(masked.ptr, "://");
	const char *masked_tail = masked_sep ? masked_sep + 3 + strcspn(masked_sep + 3, "/?#") : NULL;
	if (tail && masked_tail && strlen(tail) > 1 && strcmp(tail, masked_tail) != 0)
		replace_all(err->msg, sizeof(err->msg), tail, masked_tail);
	fl_buf_release(&masked);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A Slack URL is the webhook's credential; a URL in a variable or a token is one too. */
static bool carries_secret(const struct webhook *w)
{
	return w->format == FORMAT_SLACK || w->url_env || w->token_env;
}

/* FL_EINPUT unless url is http(s), and https or loopback when it carries a secret. */
static int check_url(const char *url, bool secret, struct fl_error *err)
{
	struct fl_buf shown = FL_BUF_INIT;
	int rc = 0;
	fl_webhook_url_mask(&shown, url);
	if (!starts_with(url, "https://") && !starts_with(url, "http://"))
		rc = fl_error_set(err, FL_EINPUT, "url '%.100s' is not an http(s) URL", shown.ptr);
	else if (secret && !fl_http_token_allowed(url))
		rc = fl_error_set(err, FL_EINPUT,
				  "refusing to send to '%.100s' over plain http: its URL or token is a secret (use "
				  "https, or a loopback address)",
				  shown.ptr);
	fl_buf_release(&shown);
	return rc;
}

/* ---- posting ---- */

/* How a post ended, besides its error. */
enum sent {
	SENT,
	SENT_FAILED,	/* this message did not pass (a 400, a variable not set): the next may */
	SENT_TRANSIENT, /* no answer, 429 or 5xx after the retries: try again at the end */
	SENT_REFUSED, /* the webhook is gone, or refuses the token (401, 403, 404, 410): nothing more will pass */
};

/* The URL to post to, checked; *out borrowed from the writer or the environment. */
static int resolve_url(struct webhook *w, const char **out, struct fl_error *err)
{
	const char *url = w->url ? w->url : getenv(w->url_env);
	if (!url || !*url)
		return fl_error_set(err, FL_EINPUT, "environment variable '%s' (url_env) is not set",
				    w->url_env);
	int rc = check_url(url, carries_secret(w), err);
	if (rc)
		return rc;
	struct fl_buf shown = FL_BUF_INIT;
	fl_webhook_url_mask(&shown, url);
	free(w->shown);
	w->shown = fl_buf_detach(&shown, NULL);
	*out = url;
	return 0;
}

/* Slack's pace: one message a second; a later one waits for its turn. */
static void pace(struct webhook *w)
{
	if (w->format != FORMAT_SLACK || !w->last_ms)
		return;
	long long wait = w->last_ms + SLACK_GAP_MS - fl_mono_ms();
	if (wait <= 0)
		return;
	struct timespec ts = { (time_t)(wait / 1000), (long)(wait % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Appends at most 120 printable bytes of an answer, for an error message. */
static void put_excerpt(struct fl_buf *out, const struct fl_buf *body)
{
	size_t i;
	for (i = 0; i < body->len && i < 120; i++) {
		unsigned char c = (unsigned char)body->ptr[i];
		fl_buf_putc(out, c >= 0x20 && c < 0x7f ? (char)c : ' ');
	}
	if (i < body->len)
		fl_buf_puts(out, "...");
}

static enum sent status_sent(long status)
{
	if (status >= 200 && status < 300)
		return SENT;
	if (status == 429 || status >= 500)
		return SENT_TRANSIENT;
	/* Slack: 403 invalid_token, 404 no_service, 410 channel_is_archived; 401 a refused token. */
	if (status == 401 || status == 403 || status == 404 || status == 410)
		return SENT_REFUSED;
	return SENT_FAILED;
}

/* One POST of body, retried by core/http.c. Returns 0 when the webhook took it; *how says more. */
static int post(struct webhook *w, const char *body, enum sent *how, struct fl_error *err)
{
	static const char *const headers[] = { "Content-Type: application/json", NULL };
	struct fl_http_response resp = { 0 };
	struct fl_buf excerpt = FL_BUF_INIT;
	const char *url = NULL, *token = NULL;
	int rc;

	*how = SENT_FAILED; /* a variable missing, or a URL refused: cheap to find again at the next */
	if ((rc = resolve_url(w, &url, err)))
		return rc;
	if (w->token_env && (!(token = getenv(w->token_env)) || !*token))
		return fl_error_set(err, FL_EINPUT, "environment variable '%s' (token_env) is not set",
				    w->token_env);
	struct fl_http_request req = {
		.method = "POST",
		.url = url,
		.headers = headers,
		.bearer = token,
		.body = body,
		.body_len = strlen(body),
		.timeout_ms = SEND_TIMEOUT_MS,
		.tls = { .ca_file = w->ca_file },
		.retry = { .attempts = SEND_ATTEMPTS, .max_ms = RETRY_MAX_MS },
	};
	fl_buf_init(&resp.body, RESP_MAX);
	pace(w);
	rc = fl_http_request(&resp, &req, err);
	w->last_ms = fl_mono_ms();
	if (rc == FL_ELIMIT && resp.status >= 200 && resp.status < 300) {
		rc = 0; /* taken; only its answer was longer than we read */
		*how = SENT;
	} else if (rc) {
		*how = rc == FL_EIO ? SENT_TRANSIENT : SENT_FAILED;
	} else if ((*how = status_sent(resp.status)) != SENT) {
		put_excerpt(&excerpt, &resp.body);
		rc = fl_error_set(err, FL_EIO, "HTTP %ld from %s after %u %s: %s", resp.status, w->shown,
				  resp.attempts, resp.attempts == 1 ? "try" : "tries", excerpt.ptr);
	}
	if (rc)
		mask_in(err, url);
	fl_buf_release(&resp.body);
	fl_buf_release(&excerpt);
	return rc;
}

/* ---- the writer ---- */

/* What a target_url may name: {{sha}}, {{wave}}, {{context}}. */
struct target_names {
	const char *revision, *wave, *context;
};

static int target_name(struct fl_buf *out, const char *name, size_t len, struct fl_error *err, void *payload)
{
	const struct target_names *t = payload;
	const char *value = len == 3 && memcmp(name, "sha", 3) == 0	  ? t->revision
			    : len == 4 && memcmp(name, "wave", 4) == 0	  ? t->wave
			    : len == 7 && memcmp(name, "context", 7) == 0 ? t->context
									  : NULL;
	if (!value)
		return fl_error_set(
			err, FL_EINPUT,
			"webhook status: unknown placeholder '{{%.*s}}' in target_url (expected {{sha}}, "
			"{{wave}} or {{context}})",
			(int)(len > 36 ? 36 : len), name);
	return fl_buf_puts(out, value);
}

/* The body announcing u; *what gets "'wave.started' (wave canary)" for errors. */
static char *make_body(const struct webhook *w, const struct fl_status_update *u, char **what)
{
	struct fl_buf b = FL_BUF_INIT, target = FL_BUF_INIT, label = FL_BUF_INIT;
	const char *wave = u->context + strlen(FL_WAVE_CONTEXT_PREFIX);
	struct fl_error err = FL_ERROR_INIT;
	if (w->target_url) {
		struct target_names names = { w->revision, wave, u->context };
		/* check_template accepted it when the writer opened: it cannot fail here. */
		(void)fl_template_expand(&target, w->target_url, "target_url", target_name, &names, &err);
	}
	struct fl_webhook_event e = {
		u->event,
		w->revision,
		wave,
		u->context,
		u->state,
		u->description,
		w->target_url ? target.ptr : NULL,
		fl_now(),
	};
	if (w->format == FORMAT_SLACK)
		fl_webhook_slack_body(&b, &e);
	else
		fl_webhook_json_body(&b, &e);
	fl_buf_printf(&label, "'%s' (wave %s)", fl_webhook_event_name(u->event), wave);
	*what = fl_buf_detach(&label, NULL);
	fl_buf_release(&target);
	return fl_buf_detach(&b, NULL);
}

static void hold(struct webhook *w, char *body, char *what)
{
	if (w->nheld >= HELD_MAX) {
		w->lost++;
		free(body);
		free(what);
		return;
	}
	FL_GROW(w->held, w->cap, w->nheld + 1);
	w->held[w->nheld++] = (struct held){ body, what };
}

/* Posts one message; a failure is held (transient) or ends the webhook for the run (refused). */
static int deliver(struct webhook *w, char *body, char *what, struct fl_error *err)
{
	enum sent how;
	int rc = post(w, body, &how, err);
	if (rc)
		fl_error_prefix(err, "webhook %s: ", what);
	if (how == SENT_TRANSIENT) {
		hold(w, body, what);
		return rc;
	}
	if (how == SENT_REFUSED)
		w->refused = fl_strdup(err->msg);
	w->lost += rc != 0;
	free(body);
	free(what);
	return rc;
}

static int webhook_set(void *self, const struct fl_status_update *u, struct fl_error *err)
{
	struct webhook *w = self;
	char *what = NULL, *body;
	/* Announced: what a wave did; never counts inside a running wave, nor the plan. */
	if (u->progress || u->event == FL_WAVE_EVENT_NONE || !starts_with(u->context, FL_WAVE_CONTEXT_PREFIX))
		return 0;
	if (w->refused) {
		w->lost++;
		return 0;
	}
	body = make_body(w, u, &what);
	if (w->nheld) {
		hold(w, body, what); /* behind what did not get through yet, in order */
		return 0;
	}
	return deliver(w, body, what, err);
}

/* Tries once more what was held back, in order; one that gets no answer again gives up the rest. */
static int webhook_flush(void *self, struct fl_error *err)
{
	struct webhook *w = self;
	bool down = false;
	int rc = 0;
	for (size_t i = 0; i < w->nheld; i++) {
		struct held *h = &w->held[i];
		struct fl_error e = FL_ERROR_INIT;
		enum sent how = SENT;
		int one = down || w->refused ? FL_EIO : post(w, h->body, &how, &e);
		if (one && !down && !w->refused) {
			fl_error_prefix(&e, "webhook %s: ", h->what);
			down = how == SENT_TRANSIENT;
			if (how == SENT_REFUSED)
				w->refused = fl_strdup(e.msg);
			if (!rc) {
				rc = one;
				*err = e;
			}
		}
		w->lost += one != 0;
		free(h->body);
		free(h->what);
	}
	free(w->held);
	w->held = NULL;
	w->nheld = w->cap = 0;
	return rc;
}

/* The messages given up in this run, one line. */
static void webhook_report(void *self, struct fl_buf *out)
{
	struct webhook *w = self;
	if (!w->lost)
		return;
	fl_buf_printf(out, "webhook %s: %zu notification%s not delivered", w->shown, w->lost,
		      w->lost == 1 ? "" : "s");
	if (w->refused)
		fl_buf_printf(out, " (%s)", w->refused);
	fl_buf_putc(out, '\n');
}

static void webhook_free(void *self)
{
	struct webhook *w = self;
	if (!w)
		return;
	for (size_t i = 0; i < w->nheld; i++) {
		free(w->held[i].body);
		free(w->held[i].what);
	}
	free(w->held);
	free(w->url);
	free(w->url_env);
	free(w->token_env);
	free(w->target_url);
	free(w->ca_file);
	free(w->shown);
	free(w->refused);
	free(w);
}

static const struct fl_status_ops webhook_ops = { "webhook", webhook_set, webhook_flush, webhook_free,
						  webhook_report };

/* ---- opening ---- */

static const char *conf_str(const struct fl_status_conf *conf, const char *key)
{
	const struct fl_node *n = fl_node_get(conf->node, key);
	return n && n->type == FL_NODE_STR && n->v.str.ptr[0] ? n->v.str.ptr : NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? fl_strdup(s) : NULL;
}

/* FL_EINPUT unless every {{...}} in tmpl is one flotilla fills in, and it is an http(s) URL. */
static int check_template(const char *tmpl, struct fl_error *err)
{
	struct target_names names = { "", "", "" };
	struct fl_buf scratch = FL_BUF_INIT;
	int rc = fl_template_expand(&scratch, tmpl, "webhook status target_url", target_name, &names, err);
	fl_buf_release(&scratch);
	if (!rc && !starts_with(tmpl, "https://") && !starts_with(tmpl, "http://"))
		rc = fl_error_set(err, FL_EINPUT, "webhook status: target_url '%.100s' is not an http(s) URL",
				  tmpl);
	return rc;
}

int fl_status_webhook_open(struct fl_status_writer *out, const struct fl_status_conf *conf,
			   const char *revision, struct fl_error *err)
{
	const char *format = conf_str(conf, "format"), *url = conf_str(conf, "url");
	const char *url_env = conf_str(conf, "url_env"), *target = conf_str(conf, "target_url");
	int rc;
	if (format && strcmp(format, "slack") != 0 && strcmp(format, "json") != 0)
		return fl_error_set(err, FL_EINPUT,
				    "webhook status: invalid format '%.40s' (expected slack or json)",
				    format);
	if (!url == !url_env)
		return fl_error_set(err, FL_EINPUT, "webhook status: expected one of url and url_env");
	if (target && (rc = check_template(target, err)))
		return rc;
	struct webhook *w = fl_calloc(1, sizeof(*w));
	w->format = format && strcmp(format, "json") == 0 ? FORMAT_JSON : FORMAT_SLACK;
	w->url = dup_or_null(url);
	w->url_env = dup_or_null(url_env);
	w->token_env = dup_or_null(conf_str(conf, "token_env"));
	w->target_url = dup_or_null(target);
	w->ca_file = dup_or_null(conf_str(conf, "ca_file"));
	snprintf(w->revision, sizeof(w->revision), "%s", revision);
	struct fl_buf shown = FL_BUF_INIT;
	if (url)
		fl_webhook_url_mask(&shown, url);
	else
		fl_buf_printf(&shown, "$%s", url_env);
	w->shown = fl_buf_detach(&shown, NULL);
	if (url && (rc = check_url(url, carries_secret(w), err))) {
		fl_error_prefix(err, "webhook status: ");
		webhook_free(w);
		return rc;
	}
	out->ops = &webhook_ops;
	out->self = w;
	return 0;
}

/* ---- the entry of fleet.yaml ---- */

static void webhook_check(struct fl_vctx *c, const struct fl_node *entry, const char *type)
{
	static const char *const keys[] = { "type",	 "format",     "url",	  "url_env",
					    "token_env", "target_url", "ca_file", NULL };
	const struct fl_node *format = NULL, *url = NULL, *url_env = NULL;
	for (size_t i = 0; i < entry->v.map.len; i++) {
		const struct fl_pair *p = &entry->v.map.items[i];
		size_t j = 0;
		while (keys[j] && !fl_key_is(p, keys[j]))
			j++;
		if (!keys[j]) {
			fl_unknown_key(c, p->key, "status", keys);
			continue;
		}
		if (j == 0 || !fl_vstring(c, p->value))
			continue;
		format = j == 1 ? p->value : format;
		url = j == 2 ? p->value : url;
		url_env = j == 3 ? p->value : url_env;
	}
	const char *f = format ? format->v.str.ptr : "slack";
	if (strcmp(f, "slack") != 0 && strcmp(f, "json") != 0)
		fl_verr(c, format, "invalid format '%s' in %s status (expected slack or json)", f, type);
	else if (url && url_env)
		fl_verr(c, url, "%s status takes url or url_env, not both", type);
	else if (url && strcmp(f, "slack") == 0)
		fl_verr(c, url,
			"a slack webhook's url is its secret: keep it out of the repository and name the "
			"variable "
			"that holds it in url_env");
	else if (!url && !url_env)
		fl_verr(c, entry, "missing required key '%s' in %s status",
			strcmp(f, "slack") == 0 ? "url_env" : "url", type);
}

const struct fl_status_type fl_status_webhook_type = { "webhook", webhook_check, fl_status_webhook_open };
