/*
 * Webhook notifications (status_webhook.c): the status type `webhook`
 * announces wave transitions to a Slack-compatible incoming webhook or as a
 * JSON event (docs/webhooks.md). What is declared here is what its tests
 * reach: the bodies it posts and how a webhook's URL shows in messages.
 */
#ifndef FL_STATUS_WEBHOOK_H
#define FL_STATUS_WEBHOOK_H

#include "core/buf.h"
#include "reconcile/status/status.h"

/* One wave transition, as a notification tells it. Strings are borrowed. */
struct fl_webhook_event {
	enum fl_wave_event event; /* never FL_WAVE_EVENT_NONE */
	const char *revision;	  /* 40 hex digits */
	const char *wave;
	const char *context; /* "flotilla/wave/<wave>" */
	enum fl_state state;
	const char *description;
	const char *target_url; /* filled in already, or NULL */
	long long time;		/* seconds since the epoch */
};

/* "wave.started", "wave.rolled_back", ...: the JSON event's name of e. */
const char *fl_webhook_event_name(enum fl_wave_event e);

/*
 * Appends the Slack message of e: {"text": ...} naming the wave, what
 * happened, the short commit, the state and the description, escaped as
 * Slack's mrkdwn asks (&, <, >), with a link to target_url when set.
 */
void fl_webhook_slack_body(struct fl_buf *out, const struct fl_webhook_event *e);

/* Appends the JSON event of e, version 1 of the schema in docs/webhooks.md. */
void fl_webhook_json_body(struct fl_buf *out, const struct fl_webhook_event *e);

/*
 * Appends url as messages show it: scheme, host and port, and the first
 * segment of its path when more segments follow; the rest of the path, a
 * user name and password, the query and the fragment become "***": Slack's
 * "https://hooks.slack.com/services/T0/B0/XXXX" shows as the same text with
 * "***" in place of "T0/B0/XXXX".
 */
void fl_webhook_url_mask(struct fl_buf *out, const char *url);

/*
 * A webhook writer for conf (type webhook) reporting on commit revision.
 * FL_EINPUT for an entry it cannot use: a literal url that is not http(s),
 * or that would carry a secret over plain http to a host that is not
 * loopback, or a bad target_url. A url_env or token_env variable is read
 * at each send: a missing one fails that send, not the open. *out is freed
 * through its ops.
 */
int fl_status_webhook_open(struct fl_status_writer *out, const struct fl_status_conf *conf,
			   const char *revision, struct fl_error *err);

#endif
