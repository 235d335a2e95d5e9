/*
 * Signed calls to AWS services: the endpoint of each service, the JSON and
 * Query protocols, their error shapes, and throttling retried with full
 * jitter. See aws_call.h.
 */
#include "core/aws_call.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/http.h"
#include "core/json.h"
#include "core/node.h"
#include "core/sigv4.h"
#include "core/xml.h"
#include "core/banned.h"

#define ANSWER_MAX ((size_t)4 * 1024 * 1024)
#define DEFAULT_ATTEMPTS 8
#define DEFAULT_BASE_MS 100
#define DEFAULT_MAX_MS 20000
#define DEFAULT_TIMEOUT_MS 30000

enum protocol { QUERY, JSON10, JSON11 };

struct service {
	const char *name;        /* in messages */
	const char *signing;     /* SigV4's service name, and the endpoint's host prefix */
	const char *env;         /* AWS_ENDPOINT_URL_<env> */
	enum protocol protocol;
	const char *target;      /* JSON: X-Amz-Target's prefix; Query: Version */
	const char *global;      /* the one region of a global service, or NULL */
};

static const struct service services[] = {
	[FL_AWS_STS] = { "STS", "sts", "STS", QUERY, "2011-06-15", NULL },
	[FL_AWS_CLOUDCONTROL] = { "Cloud Control", "cloudcontrolapi", "CLOUDCONTROL", JSON10,
				  "CloudApiService.", NULL },
	[FL_AWS_ORGANIZATIONS] = { "Organizations", "organizations", "ORGANIZATIONS", JSON11,
				   "AWSOrganizationsV20161128.", "us-east-1" },
};

const char *fl_aws_service_name(enum fl_aws_service service)
{
	return services[service].name;
}

static bool region_valid(const char *r)
{
	size_t n = strlen(r);
	if (n == 0 || n > 32)
		return false;
	for (const char *p = r; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
			return false;
	return true;
}

/* Splits url into the Host header as sent and the path; false when it is not http(s). */
static bool split_url(struct fl_aws_endpoint *out, const char *url)
{
	bool tls = strncasecmp(url, "https://", 8) == 0;
	if (!tls && strncasecmp(url, "http://", 7) != 0)
		return false;
	const char *h = url + (tls ? 8 : 7);
	size_t hn = strcspn(h, "/?#");
	if (hn == 0 || hn >= sizeof(out->host) || memchr(h, '@', hn))
		return false;
	for (size_t i = 0; i < hn; i++)
		out->host[i] = (char)tolower((unsigned char)h[i]);
	out->host[hn] = '\0';
	/* The scheme's default port is not part of the Host header that is signed. */
	size_t ln = strlen(out->host);
	const char *dflt = tls ? ":443" : ":80";
	if (ln > strlen(dflt) && strcmp(out->host + ln - strlen(dflt), dflt) == 0 && out->host[0] != '[')
		out->host[ln - strlen(dflt)] = '\0';
	const char *p = h + hn;
	if (strpbrk(p, "?# "))
		return false;
	int n = snprintf(out->path, sizeof(out->path), "%s", *p ? p : "/");
	return n > 0 && (size_t)n < sizeof(out->path);
}

int fl_aws_endpoint_resolve(struct fl_aws_endpoint *out, const struct fl_aws_env *env,
			    enum fl_aws_service service, const char *region, struct fl_error *err)
{
	const struct service *s = &services[service];
	char var[64];
	memset(out, 0, sizeof(*out));
	out->service = service;
	if (s->global)
		region = s->global;
	if (!region || !region_valid(region))
		return fl_error_set(err, FL_EINPUT, "%s: invalid region '%.64s'", s->name, region ? region : "");
	snprintf(out->region, sizeof(out->region), "%s", region);
	snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", s->env);
	const char *url = fl_aws_env_get(env, var);
	const char *from = var;
	if (!url) {
		url = fl_aws_env_get(env, "AWS_ENDPOINT_URL");
		from = "AWS_ENDPOINT_URL";
	}
	if (url) {
		if (strlen(url) >= sizeof(out->url) || !split_url(out, url))
			return fl_error_set(err, FL_EINPUT, "%s: %s is not an http(s) URL without a query", s->name,
					    from);
		if (!fl_http_token_allowed(url))
			return fl_error_set(err, FL_EINPUT,
					    "%s: %s uses plain http to a host that is not loopback (use https)",
					    s->name, from);
		snprintf(out->url, sizeof(out->url), "%s", url);
		return 0;
	}
	snprintf(out->url, sizeof(out->url), "https://%s.%s.amazonaws.com/", s->signing, region);
	split_url(out, out->url);
	return 0;
}

void fl_aws_answer_init(struct fl_aws_answer *a)
{
	memset(a, 0, sizeof(*a));
	fl_buf_init(&a->body, ANSWER_MAX);
}

void fl_aws_answer_release(struct fl_aws_answer *a)
{
	fl_buf_release(&a->body);
}

bool fl_aws_code_throttling(const char *code)
{
	static const char *const codes[] = {
		"Throttling",		  "ThrottlingException",  "ThrottledException",
		"RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
		"RequestThrottled",	  "SlowDown",		  "PriorRequestNotComplete",
		"ProvisionedThroughputExceededException", "BandwidthLimitExceeded",
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

void fl_aws_form_put(struct fl_buf *form, const char *name, const char *value)
{
	fl_buf_printf(form, "%s%s=", form->len ? "&" : "", name);
	fl_sigv4_uri_encode(form, value, strlen(value), false);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
	for (char *p = dst; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* The code and message of an XML error (Query protocol, and any XML answer). */
static void xml_error(struct fl_aws_answer *a)
{
	struct fl_xml_doc doc;
	if (fl_xml_parse(&doc, a->body.ptr, a->body.len, NULL, NULL) == 0) {
		const char *code = fl_xml_text(&doc, "ErrorResponse/Error/Code");
		const char *msg = fl_xml_text(&doc, "ErrorResponse/Error/Message");
		if (!code)
			code = fl_xml_text(&doc, "Response/Errors/Error/Code");
		if (!msg)
			msg = fl_xml_text(&doc, "Response/Errors/Error/Message");
		copy_text(a->code, sizeof(a->code), code);
		copy_text(a->message, sizeof(a->message), msg);
	}
	fl_xml_doc_release(&doc);
}

/* The code ("__type", its namespace cut at '#') and message of a JSON error. */
static void json_error(struct fl_aws_answer *a)
{
	struct fl_arena arena;
	struct fl_node *root = NULL;
	struct fl_source src = { "answer", a->body.ptr, a->body.len };
	fl_arena_init(&arena, 0);
	if (fl_json_parse(&root, &arena, &src, NULL) == 0 && root->type == FL_NODE_MAP) {
		const struct fl_node *type = fl_node_get(root, "__type");
		const struct fl_node *msg = fl_node_get(root, "message");
		if (!msg)
			msg = fl_node_get(root, "Message");
		if (type && type->type == FL_NODE_STR) {
			const char *hash = strrchr(type->v.str.ptr, '#');
			copy_text(a->code, sizeof(a->code), hash ? hash + 1 : type->v.str.ptr);
			/* Some services append ":http://internal.amazon.com/..." to the type. */
			a->code[strcspn(a->code, ":")] = '\0';
		}
		if (msg && msg->type == FL_NODE_STR)
			copy_text(a->message, sizeof(a->message), msg->v.str.ptr);
	}
	fl_arena_release(&arena);
}

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void fl_aws_sleep_ms(long long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

#define POLL_CAP_MS 10000
#define POLL_TIMEOUT_S 3600
#define SECOND_POLL_MS 100

void fl_aws_poll_start(struct fl_aws_poll *p, unsigned first_ms, unsigned cap_ms, unsigned timeout_s)
{
	p->wait_ms = first_ms;
	p->cap_ms = cap_ms ? cap_ms : POLL_CAP_MS;
	p->timeout_s = timeout_s ? timeout_s : POLL_TIMEOUT_S;
	p->deadline_ms = fl_mono_ms() + 1000LL * p->timeout_s;
	p->jitter = (uint64_t)fl_mono_ms() ^ (uint64_t)(uintptr_t)p;
}

bool fl_aws_poll_wait(struct fl_aws_poll *p, long long told_ms)
{
	if (told_ms >= 0) {
		long long ms = told_ms < p->cap_ms ? told_ms : p->cap_ms;
		if (fl_mono_ms() + ms > p->deadline_ms)
			return false;
		fl_aws_sleep_ms(ms);
		return true;
	}
	if (fl_mono_ms() + (long long)p->wait_ms > p->deadline_ms)
		return false;
	unsigned long long quarter = p->wait_ms / 4;
	fl_aws_sleep_ms((long long)(p->wait_ms - (quarter ? rng_next(&p->jitter) % (quarter + 1) : 0)));
	p->wait_ms = p->wait_ms ? p->wait_ms * 2 : SECOND_POLL_MS;
	if (p->wait_ms > p->cap_ms)
		p->wait_ms = p->cap_ms;
	return true;
}

/* One try: signs for now and sends. */
static int try_once(struct fl_aws_answer *out, const struct fl_aws_call *call, const struct fl_buf *body,
		    struct fl_error *err)
{
	const struct service *s = &services[call->ep->service];
	char target[160], ctype[64];
	struct fl_sigv4_param hdrs[2];
	size_t nh = 0;
	if (s->protocol == QUERY) {
		snprintf(ctype, sizeof(ctype), "application/x-www-form-urlencoded; charset=utf-8");
	} else {
		snprintf(ctype, sizeof(ctype), "application/x-amz-json-%s", s->protocol == JSON10 ? "1.0" : "1.1");
		snprintf(target, sizeof(target), "%s%s", s->target, call->operation);
		hdrs[nh++] = (struct fl_sigv4_param){ "X-Amz-Target", target };
	}
	hdrs[nh++] = (struct fl_sigv4_param){ "Content-Type", ctype };
	struct fl_sigv4_request sreq = { "POST", call->ep->host, call->ep->path, NULL, 0, hdrs, nh,
					 body->ptr, body->len };
	struct fl_sigv4_credentials cred = { call->creds->access_key_id, call->creds->secret_access_key,
					     call->creds->session_token };
	struct fl_sigv4_scope scope = { call->ep->region, s->signing, (time_t)fl_now(), 0 };
	struct fl_sigv4_signed sig;
	int rc = fl_sigv4_sign(&sig, &sreq, &cred, &scope, err);
	if (rc) {
		fl_sigv4_signed_release(&sig);
		return rc;
	}
	/* Header lines: the signed ones, then what signing added. */
	struct fl_buf lines[2 + FL_SIGV4_HEADERS_MAX];
	const char *list[2 + FL_SIGV4_HEADERS_MAX + 1];
	size_t nl = 0;
	for (size_t i = 0; i < nh; i++, nl++) {
		fl_buf_init(&lines[nl], 0);
		fl_buf_printf(&lines[nl], "%s: %s", hdrs[i].name, hdrs[i].value);
		list[nl] = lines[nl].ptr;
	}
	for (size_t i = 0; i < sig.headers_len; i++, nl++) {
		fl_buf_init(&lines[nl], 0);
		fl_buf_printf(&lines[nl], "%s: %s", sig.headers[i].name, sig.headers[i].value);
		list[nl] = lines[nl].ptr;
	}
	list[nl] = NULL;
	struct fl_http_request req = { 0 };
	struct fl_http_response resp = { 0 };
	req.method = "POST";
	req.url = call->ep->url;
	req.headers = list;
	req.body = body->ptr;
	req.body_len = body->len;
	req.timeout_ms = call->timeout_ms ? call->timeout_ms : DEFAULT_TIMEOUT_MS;
	/* Connection errors, 429 and 5xx are retried inside, within the signature's validity. */
	req.retry.attempts = 3;
	fl_buf_clear(&out->body);
	resp.body = out->body;
	rc = fl_http_request(&resp, &req, err);
	out->body = resp.body;
	out->status = resp.status;
	out->attempts++;
	for (size_t i = 0; i < nl; i++) {
		fl_sigv4_wipe(lines[i].ptr, lines[i].len);
		fl_buf_release(&lines[i]);
	}
	fl_sigv4_signed_release(&sig);
	if (rc)
		fl_error_prefix(err, "%s %s: ", s->name, call->operation);
	return rc;
}

static void read_error(struct fl_aws_answer *out, const struct fl_aws_call *call)
{
	const struct service *s = &services[call->ep->service];
	out->code[0] = out->message[0] = '\0';
	if (s->protocol == QUERY || (out->body.len && out->body.ptr[0] == '<'))
		xml_error(out);
	else
		json_error(out);
	fl_aws_blank(out->message, call->creds->secret_access_key);
	fl_aws_blank(out->message, call->creds->session_token);
}

int fl_aws_call(struct fl_aws_answer *out, const struct fl_aws_call *call, struct fl_error *err)
{
	const struct service *s = &services[call->ep->service];
	struct fl_buf body = FL_BUF_INIT;
	unsigned attempts = call->retry.attempts ? call->retry.attempts : DEFAULT_ATTEMPTS;
	unsigned base = call->retry.base_ms ? call->retry.base_ms : DEFAULT_BASE_MS;
	unsigned cap = call->retry.max_ms ? call->retry.max_ms : DEFAULT_MAX_MS;
	uint64_t rng = (uint64_t)fl_mono_ms() ^ (uint64_t)(uintptr_t)out;
	int rc;
	if (s->protocol == QUERY) {
		fl_aws_form_put(&body, "Action", call->operation);
		fl_aws_form_put(&body, "Version", s->target);
		if (call->body_len) {
			fl_buf_putc(&body, '&');
			fl_buf_put(&body, call->body, call->body_len);
		}
	} else {
		fl_buf_put(&body, call->body_len ? call->body : "{}", call->body_len ? call->body_len : 2);
	}
	out->attempts = 0;
	for (unsigned i = 0;; i++) {
		if ((rc = try_once(out, call, &body, err)))
			break;
		if (out->status >= 200 && out->status < 300) {
			out->code[0] = out->message[0] = '\0';
			break;
		}
		read_error(out, call);
		if (!fl_aws_code_throttling(out->code) || i + 1 >= attempts) {
			rc = fl_error_set(err, out->status >= 500 ? FL_EIO : FL_EREFUSED, "%s %s: %ld %s: %s", s->name,
					  call->operation, out->status, out->code[0] ? out->code : "(no error code)",
					  out->message);
			break;
		}
		unsigned long long ceiling = (unsigned long long)base << (i < 20 ? i : 20);
		if (ceiling > cap)
			ceiling = cap;
		fl_aws_sleep_ms((long long)(rng_next(&rng) % (ceiling + 1)));
	}
	fl_sigv4_wipe(body.ptr, body.len);
	fl_buf_release(&body);
	return rc;
}
