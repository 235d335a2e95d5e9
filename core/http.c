/*
 * HTTP over libcurl; see http.h. One engine serves both entry points: a
 * multi handle drives up to max_parallel transfers, and a transfer that must
 * be retried leaves the multi handle (giving up its slot) and waits in a
 * min-heap ordered by when it is due. fl_http_request is the engine with one
 * transfer. Nothing is shared between calls but curl's global state.
 */
#include "core/http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Calls go through the table below (curl's type-checking macros would hide it). */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/banned.h"

#define DEFAULT_ATTEMPTS 5
#define DEFAULT_BASE_MS 200
#define DEFAULT_MAX_MS 30000
#define DEFAULT_TIMEOUT_MS 30000
#define USER_AGENT "flotilla/" FL_VERSION

/*
 * curl's global state, set up once. It is never torn down: LeakSanitizer
 * reports nothing without curl_global_cleanup (OpenSSL 3 frees its own state
 * at exit), and an atexit cleanup could pull it from under a thread still in
 * a request while the process exits.
 */

/*
 * libcurl is loaded on first use, not linked: its dependencies (GnuTLS,
 * Kerberos, LDAP, ...) cost every flotilla process about 3 ms of start-up,
 * which commands that never speak HTTP (plan --since, validate) should not
 * pay. One table of the functions we call, filled once.
 */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	void (*free)(void *);
	time_t (*getdate)(const char *, const time_t *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	const char *(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_get)(const CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
} fl_curl;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;
static char global_error[160];

static bool load_curl(void)
{
	void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(global_error, sizeof(global_error), "%s", dlerror());
		return false;
	}
	/* The handle stays open for the life of the process, like a linked library. */
#define FL_CURL_SYM(field, name) \
	if (!(*(void **)&fl_curl.field = dlsym(lib, name))) { \
		snprintf(global_error, sizeof(global_error), "libcurl has no %s", name); \
		return false; \
	}
	FL_CURL_SYM(global_init, "curl_global_init")
	FL_CURL_SYM(easy_init, "curl_easy_init")
	FL_CURL_SYM(easy_cleanup, "curl_easy_cleanup")
	FL_CURL_SYM(easy_setopt, "curl_easy_setopt")
	FL_CURL_SYM(easy_getinfo, "curl_easy_getinfo")
	FL_CURL_SYM(easy_strerror, "curl_easy_strerror")
	FL_CURL_SYM(free, "curl_free")
	FL_CURL_SYM(getdate, "curl_getdate")
	FL_CURL_SYM(multi_init, "curl_multi_init")
	FL_CURL_SYM(multi_cleanup, "curl_multi_cleanup")
	FL_CURL_SYM(multi_add_handle, "curl_multi_add_handle")
	FL_CURL_SYM(multi_remove_handle, "curl_multi_remove_handle")
	FL_CURL_SYM(multi_setopt, "curl_multi_setopt")
	FL_CURL_SYM(multi_perform, "curl_multi_perform")
	FL_CURL_SYM(multi_poll, "curl_multi_poll")
	FL_CURL_SYM(multi_info_read, "curl_multi_info_read")
	FL_CURL_SYM(multi_strerror, "curl_multi_strerror")
	FL_CURL_SYM(slist_append, "curl_slist_append")
	FL_CURL_SYM(slist_free_all, "curl_slist_free_all")
	FL_CURL_SYM(url, "curl_url")
	FL_CURL_SYM(url_cleanup, "curl_url_cleanup")
	FL_CURL_SYM(url_get, "curl_url_get")
	FL_CURL_SYM(url_set, "curl_url_set")
#undef FL_CURL_SYM
	return true;
}

static void global_init(void)
{
	if (load_curl())
		global_rc = fl_curl.global_init(CURL_GLOBAL_DEFAULT);
}

static bool curl_ready(void)
{
	pthread_once(&global_once, global_init);
	return global_rc == CURLE_OK;
}

/* ---- small helpers ---- */

/* splitmix64: each transfer has its own state, so no lock and no rand(). */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_seed(const void *salt)
{
	static atomic_uint_fast64_t counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t s = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	s ^= (uint64_t)(uintptr_t)salt;
	s ^= (uint64_t)atomic_fetch_add(&counter, 1) << 32;
	return rng_next(&s);
}

/* The parts of a URL the checks and messages need; strings owned (curl_free). */
struct url_parts {
	char *scheme;
	char *host;
	char *shown; /* the URL without user name and password, for messages */
};

static void url_parts_release(struct url_parts *u)
{
	fl_curl.free(u->scheme);
	fl_curl.free(u->host);
	fl_curl.free(u->shown);
	u->scheme = u->host = u->shown = NULL;
}

/* Returns false when url does not parse as a URL with a host. */
static bool url_parse(struct url_parts *out, const char *url)
{
	bool ok = false;
	CURLU *u = fl_curl.url();
	out->scheme = out->host = out->shown = NULL;
	if (!u)
		return false;
	if (fl_curl.url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		goto out;
	if (fl_curl.url_get(u, CURLUPART_SCHEME, &out->scheme, 0) != CURLUE_OK ||
	    fl_curl.url_get(u, CURLUPART_HOST, &out->host, 0) != CURLUE_OK)
		goto out;
	fl_curl.url_set(u, CURLUPART_USER, NULL, 0);
	fl_curl.url_set(u, CURLUPART_PASSWORD, NULL, 0);
	if (fl_curl.url_get(u, CURLUPART_URL, &out->shown, 0) != CURLUE_OK)
		goto out;
	ok = true;
out:
	if (!ok)
		url_parts_release(out);
	fl_curl.url_cleanup(u);
	return ok;
}

/* 127.0.0.0/8, ::1 or localhost; host as curl's URL parser gives it ("[::1]"). */
static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char inner[64];
	size_t len = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (len > 2 && len < sizeof(inner) + 2 && host[0] == '[' && host[len - 1] == ']') {
		memcpy(inner, host + 1, len - 2);
		inner[len - 2] = '\0';
		return inet_pton(AF_INET6, inner, &a6) == 1 &&
		       memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
	}
	return false;
}

bool fl_http_token_allowed(const char *url)
{
	struct url_parts u;
	bool allowed = false;

	if (!curl_ready() || !url || !url_parse(&u, url))
		return false;
	if (strcasecmp(u.scheme, "https") == 0)
		allowed = true;
	else if (strcasecmp(u.scheme, "http") == 0)
		allowed = host_is_loopback(u.host);
	url_parts_release(&u);
	return allowed;
}

/* ---- one transfer ---- */

struct xfer {
	const struct fl_http_request *req; /* borrowed, as are resp, rc and err */
	struct fl_http_response *resp;
	int *rc;
	struct fl_error *err;
	const char *method;
	CURL *easy;		    /* owned while the transfer lives */
	struct curl_slist *headers; /* owned; may hold the token */
	char *shown_url;	    /* owned (curl_free): the URL for messages */
	unsigned max_attempts, base_ms, max_ms;
	long retry_after_ms; /* this try's Retry-After, -1 when none */
	bool over_limit;     /* this try's body passed resp->body.max */
	long long due_ms;    /* when waiting: when the next try may start */
	uint64_t rng;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *payload)
{
	struct xfer *x = payload;
	size_t len = size * nmemb;
	if (fl_buf_put(&x->resp->body, data, len) != 0) {
		x->over_limit = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	return len;
}

/* Seconds ("120") or an HTTP date; -1 when neither. */
static long parse_retry_after(const char *v)
{
	if (isdigit((unsigned char)*v)) {
		char *end;
		unsigned long long s = strtoull(v, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end)
			return -1;
		return s > 86400 * 365 ? 86400L * 365 * 1000 : (long)s * 1000;
	}
	time_t at = fl_curl.getdate(v, NULL);
	if (at == -1)
		return -1;
	time_t now = time(NULL);
	return at <= now ? 0 : (long)(at - now) * 1000;
}

/* Stores an entity tag without W/ and quotes; "" when it does not fit. */
static void store_etag(char *out, size_t size, const char *v)
{
	size_t len;
	if (strncmp(v, "W/", 2) == 0)
		v += 2;
	len = strlen(v);
	if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
		v++;
		len -= 2;
	}
	if (len >= size)
		len = 0;
	memcpy(out, v, len);
	out[len] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *payload)
{
	struct xfer *x = payload;
	size_t len = size * nmemb;
	char line[512];
	size_t n = len < sizeof(line) ? len : sizeof(line) - 1;

	memcpy(line, data, n);
	line[n] = '\0';
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';

	if (strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue): forget the last one's headers. */
		x->resp->etag[0] = '\0';
		x->retry_after_ms = -1;
		return len;
	}
	char *colon = strchr(line, ':');
	if (!colon)
		return len;
	*colon = '\0';
	char *value = colon + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (strcasecmp(line, "etag") == 0)
		store_etag(x->resp->etag, sizeof(x->resp->etag), value);
	else if (strcasecmp(line, "retry-after") == 0)
		x->retry_after_ms = parse_retry_after(value);
	return len;
}

/* True when one of the caller's header lines is called name. */
static bool has_header(const char *const *headers, const char *name)
{
	size_t len = strlen(name);
	for (; headers && *headers; headers++)
		if (strncasecmp(*headers, name, len) == 0 &&
		    ((*headers)[len] == ':' || (*headers)[len] == ';'))
			return true;
	return false;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *line)
{
	struct curl_slist *next = fl_curl.slist_append(list, line);
	if (!next) {
		fprintf(stderr, "flotilla: out of memory\n");
		abort();
	}
	return next;
}

/* The header list, tokens included; the caller frees it with curl_slist_free_all. */
static struct curl_slist *build_headers(const struct fl_http_request *req)
{
	struct curl_slist *list = NULL;
	struct fl_buf line = FL_BUF_INIT;

	for (const char *const *h = req->headers; h && *h; h++)
		list = add_header(list, *h);
	if (req->bearer) {
		if (req->token_header)
			fl_buf_printf(&line, "%s: %s", req->token_header, req->bearer);
		else
			fl_buf_printf(&line, "Authorization: Bearer %s", req->bearer);
		list = add_header(list, line.ptr);
		memset(line.ptr, 0, line.len); /* do not leave the token lying in freed memory */
	}
	if (req->body && !has_header(req->headers, "Content-Type"))
		list = add_header(list, "Content-Type: application/json");
	if (!has_header(req->headers, "Accept"))
		list = add_header(list, "Accept: application/json");
	if (!has_header(req->headers, "Expect"))
		list = add_header(list, "Expect:"); /* no 100-continue round trip before a body */
	fl_buf_release(&line);
	return list;
}

/* Creates and configures x's easy handle; FL_EINPUT or FL_EIO on failure. */
static int xfer_setup(struct xfer *x, bool multiplex)
{
	const struct fl_http_request *req = x->req;
	struct url_parts u;
	CURLcode cc = CURLE_OK;
	int rc = 0;

	if (!url_parse(&u, req->url))
		return fl_error_set(x->err, FL_EINPUT, "%s: invalid url", x->method);
	x->shown_url = u.shown;
	u.shown = NULL;
	bool is_http = strcasecmp(u.scheme, "http") == 0, is_https = strcasecmp(u.scheme, "https") == 0;
	if (!is_http && !is_https) {
		rc = fl_error_set(x->err, FL_EINPUT,
				  "%s %s: unsupported scheme '%s' (expected http or https)", x->method,
				  x->shown_url, u.scheme);
		goto out;
	}
	bool loopback = host_is_loopback(u.host);
	if (req->bearer && is_http && !loopback) {
		rc = fl_error_set(x->err, FL_EINPUT, "refusing to send a token over plain http to '%s'",
				  u.host);
		goto out;
	}

	x->easy = fl_curl.easy_init();
	if (!x->easy) {
		rc = fl_error_set(x->err, FL_EIO, "%s %s: cannot create a curl handle", x->method,
				  x->shown_url);
		goto out;
	}
	x->headers = build_headers(req);

	CURL *e = x->easy;
#define SET(opt, val) \
	do { \
		if (cc == CURLE_OK) \
			cc = fl_curl.easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PRIVATE, (void *)x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, (void *)x);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, (void *)x);
	SET(CURLOPT_HTTPHEADER, x->headers);
	SET(CURLOPT_USERAGENT, USER_AGENT);
	SET(CURLOPT_ACCEPT_ENCODING, ""); /* the body limit counts decoded bytes */
	SET(CURLOPT_TIMEOUT_MS, (long)(req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS));
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->tls.ca_file)
		SET(CURLOPT_CAINFO, req->tls.ca_file);
	if (req->tls.cert_file) {
		SET(CURLOPT_SSLCERT, req->tls.cert_file);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (req->tls.key_file)
		SET(CURLOPT_SSLKEY, req->tls.key_file);
	if (loopback)
		SET(CURLOPT_PROXY, ""); /* a loopback request, token and all, never goes through a proxy */
	if (multiplex && is_https)
		SET(CURLOPT_PIPEWAIT, 1L); /* wait for an HTTP/2 connection rather than open more */
	if (x->resp->body.max)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->resp->body.max);

	if (strcmp(x->method, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(x->method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		/* POSTFIELDS, also when empty: without it curl would read the body from stdin. */
		if (req->body || strcmp(x->method, "POST") == 0) {
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
			SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
		if (strcmp(x->method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, x->method);
	}
#undef SET
	if (cc != CURLE_OK)
		rc = fl_error_set(x->err, FL_EIO, "%s %s: %s", x->method, x->shown_url,
				  fl_curl.easy_strerror(cc));
out:
	url_parts_release(&u);
	return rc;
}

static void xfer_release(struct xfer *x)
{
	if (x->easy)
		fl_curl.easy_cleanup(x->easy);
	if (x->headers) {
		/* The token line: wipe it before it goes back to the allocator. */
		for (struct curl_slist *h = x->headers; h; h = h->next)
			memset(h->data, 0, strlen(h->data));
		fl_curl.slist_free_all(x->headers);
	}
	fl_curl.free(x->shown_url);
	x->easy = NULL;
	x->headers = NULL;
	x->shown_url = NULL;
}

/* Clears what one try fills. */
static void xfer_reset_try(struct xfer *x)
{
	fl_buf_clear(&x->resp->body);
	x->resp->etag[0] = '\0';
	x->resp->status = 0;
	x->retry_after_ms = -1;
	x->over_limit = false;
	x->errbuf[0] = '\0';
}

/* Failures worth another try: the network or the server, not our own set-up or TLS trust. */
static bool curl_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static bool status_retryable(long status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

/* Milliseconds to wait after the try just made: Retry-After, or full jitter. */
static long long xfer_delay(struct xfer *x)
{
	long status = x->resp->status;
	if ((status == 429 || status == 503) && x->retry_after_ms >= 0)
		return x->retry_after_ms < (long)x->max_ms ? x->retry_after_ms : (long)x->max_ms;
	unsigned shift = x->resp->attempts - 1;
	uint64_t cap = (uint64_t)x->base_ms << (shift > 32 ? 32 : shift);
	if (cap > x->max_ms)
		cap = x->max_ms;
	return (long long)(rng_next(&x->rng) % (cap + 1));
}

/* "failed to connect" rather than "Failed to connect", but "SSL" stays. */
static const char *lower_first(char *msg)
{
	if (isupper((unsigned char)msg[0]) && islower((unsigned char)msg[1]))
		msg[0] = (char)tolower((unsigned char)msg[0]);
	return msg;
}

/*
 * Takes the result of a try. Returns true when the transfer is over (*x->rc
 * set), false when it should be tried again at x->due_ms.
 */
static bool xfer_finish_try(struct xfer *x, CURLcode cc)
{
	long status = 0, version = 0;
	fl_curl.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	fl_curl.easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &version);
	x->resp->status = status;
	x->resp->http_version = version == CURL_HTTP_VERSION_2_0 ? 2
				: version == CURL_HTTP_VERSION_3 ? 3
				: version			 ? 1
								 : 0;

	if (x->over_limit || cc == CURLE_FILESIZE_EXCEEDED) {
		*x->rc =
			fl_error_set(x->err, FL_ELIMIT, "%s %s: response body exceeds the limit of %zu bytes",
				     x->method, x->shown_url, x->resp->body.max);
		return true;
	}
	bool retry = cc == CURLE_OK ? status_retryable(status) : curl_retryable(cc);
	if (retry && x->resp->attempts < x->max_attempts) {
		x->due_ms = fl_mono_ms() + xfer_delay(x);
		return false;
	}
	if (cc != CURLE_OK) {
		char msg[CURL_ERROR_SIZE];
		snprintf(msg, sizeof(msg), "%s", x->errbuf[0] ? x->errbuf : fl_curl.easy_strerror(cc));
		*x->rc = fl_error_set(x->err, FL_EIO, "%s %s: %s (after %u %s)", x->method, x->shown_url,
				      lower_first(msg), x->resp->attempts,
				      x->resp->attempts == 1 ? "try" : "tries");
		return true;
	}
	*x->rc = 0;
	return true;
}

/* ---- the engine ---- */

/* Transfers waiting out a backoff, earliest due first. */
struct heap {
	struct xfer **v;
	size_t n, cap;
};

static void heap_push(struct heap *h, struct xfer *x)
{
	FL_GROW(h->v, h->cap, h->n + 1);
	size_t i = h->n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (h->v[parent]->due_ms <= x->due_ms)
			break;
		h->v[i] = h->v[parent];
		i = parent;
	}
	h->v[i] = x;
}

static struct xfer *heap_pop(struct heap *h)
{
	struct xfer *top = h->v[0], *last = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->due_ms < h->v[c]->due_ms)
			c++;
		if (last->due_ms <= h->v[c]->due_ms)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

/* Starts the next try of x; false (with *x->rc set) when curl refuses it. */
static bool engine_start(CURLM *multi, struct xfer *x)
{
	xfer_reset_try(x);
	x->resp->attempts++;
	CURLMcode mc = fl_curl.multi_add_handle(multi, x->easy);
	if (mc != CURLM_OK) {
		*x->rc = fl_error_set(x->err, FL_EIO, "%s %s: %s", x->method, x->shown_url,
				      fl_curl.multi_strerror(mc));
		return false;
	}
	return true;
}

/*
 * Single requests reuse their thread's multi handle, and with it its open
 * connections: a driver thread that talks to one account API keeps one
 * connection instead of a handshake per request. The handle goes with the
 * thread (the key's destructor).
 */
static pthread_key_t thread_multi_key;
static pthread_once_t thread_multi_once = PTHREAD_ONCE_INIT;

static void thread_multi_free(void *multi)
{
	fl_curl.multi_cleanup(multi);
}

static void thread_multi_init(void)
{
	pthread_key_create(&thread_multi_key, thread_multi_free);
}

static CURLM *thread_multi(void)
{
	pthread_once(&thread_multi_once, thread_multi_init);
	CURLM *multi = pthread_getspecific(thread_multi_key);
	if (!multi && (multi = fl_curl.multi_init()) && pthread_setspecific(thread_multi_key, multi) != 0) {
		fl_curl.multi_cleanup(multi);
		multi = NULL;
	}
	return multi;
}

static int engine_run(struct xfer *xs, size_t n, unsigned max_parallel, struct fl_error *err)
{
	bool shared = n == 1;
	CURLM *multi = shared ? thread_multi() : fl_curl.multi_init();
	struct heap waiting = { NULL, 0, 0 };
	size_t next_new = 0, done = 0, running = 0;
	int rc = 0;

	if (!multi)
		return fl_error_set(err, FL_EIO, "cannot create a curl multi handle");
	fl_curl.multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	fl_curl.multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_parallel);
	fl_curl.multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)(shared ? 4 : max_parallel));

	while (done < n) {
		long long now = fl_mono_ms();
		while (running < max_parallel) {
			struct xfer *x;
			if (waiting.n && waiting.v[0]->due_ms <= now) {
				x = heap_pop(&waiting);
			} else if (next_new < n) {
				x = &xs[next_new++];
				int src = xfer_setup(x, max_parallel > 1);
				if (src) {
					*x->rc = src;
					xfer_release(x);
					done++;
					continue;
				}
			} else {
				break;
			}
			if (engine_start(multi, x)) {
				running++;
			} else {
				xfer_release(x);
				done++;
			}
		}

		int still;
		CURLMcode mc = fl_curl.multi_perform(multi, &still);
		if (mc != CURLM_OK) {
			rc = fl_error_set(err, FL_EIO, "http: %s", fl_curl.multi_strerror(mc));
			break;
		}
		CURLMsg *msg;
		int queued;
		while ((msg = fl_curl.multi_info_read(multi, &queued))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *easy = msg->easy_handle;
			CURLcode cc = msg->data.result; /* read before remove_handle frees msg */
			struct xfer *x = NULL;
			fl_curl.easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
			fl_curl.multi_remove_handle(multi, easy);
			running--;
			if (xfer_finish_try(x, cc)) {
				xfer_release(x);
				done++;
			} else {
				heap_push(&waiting, x);
			}
		}
		if (done == n)
			break;

		/* Sleep until curl has work, or the first waiting transfer is due and a slot is free. */
		int timeout = 1000;
		if (running < max_parallel && next_new < n)
			timeout = 0;
		else if (running < max_parallel && waiting.n) {
			long long until = waiting.v[0]->due_ms - fl_mono_ms();
			timeout = until <= 0 ? 0 : until < timeout ? (int)until : timeout;
		}
		if (timeout > 0) {
			mc = fl_curl.multi_poll(multi, NULL, 0, timeout, NULL);
			if (mc != CURLM_OK) {
				rc = fl_error_set(err, FL_EIO, "http: %s", fl_curl.multi_strerror(mc));
				break;
			}
		}
	}

	/* After a failure of the multi handle itself: end what is still open. */
	for (size_t i = 0; i < n; i++) {
		struct xfer *x = &xs[i];
		if (!x->easy)
			continue;
		fl_curl.multi_remove_handle(multi, x->easy);
		*x->rc = fl_error_set(x->err, FL_EIO, "%s %s: aborted (%s)", x->method,
				      x->shown_url ? x->shown_url : "",
				      err && err->code ? err->msg : "http engine failed");
		xfer_release(x);
	}
	for (size_t i = next_new; i < n; i++)
		*xs[i].rc =
			fl_error_set(xs[i].err, FL_EIO, "%s: not started (http engine failed)", xs[i].method);
	free(waiting.v);
	if (!shared)
		fl_curl.multi_cleanup(multi);
	return rc;
}

static void xfer_init(struct xfer *x, struct fl_http_response *resp, int *rc, struct fl_error *err,
		      const struct fl_http_request *req)
{
	assert(req && req->url && resp);
	memset(x, 0, sizeof(*x));
	x->req = req;
	x->resp = resp;
	x->rc = rc;
	x->err = err;
	x->method = req->method ? req->method : "GET";
	x->max_attempts = req->retry.attempts ? req->retry.attempts : DEFAULT_ATTEMPTS;
	x->base_ms = req->retry.base_ms ? req->retry.base_ms : DEFAULT_BASE_MS;
	x->max_ms = req->retry.max_ms ? req->retry.max_ms : DEFAULT_MAX_MS;
	x->retry_after_ms = -1;
	x->rng = rng_seed(x);
	resp->status = 0;
	resp->etag[0] = '\0';
	resp->attempts = 0;
	resp->http_version = 0;
	if (!resp->body.ptr) /* a response zeroed with { 0 }: an empty buffer with no limit */
		fl_buf_init(&resp->body, resp->body.max);
	fl_buf_clear(&resp->body);
	*rc = 0;
}

static int global_check(struct fl_error *err)
{
	if (curl_ready())
		return 0;
	if (global_error[0])
		return fl_error_set(err, FL_EIO, "cannot load libcurl: %s", global_error);
	return fl_error_set(err, FL_EIO, "cannot initialise libcurl: %s", fl_curl.easy_strerror(global_rc));
}

int fl_http_request(struct fl_http_response *resp, const struct fl_http_request *req, struct fl_error *err)
{
	struct xfer x;
	int rc = global_check(err);
	if (rc)
		return rc;
	int xrc;
	xfer_init(&x, resp, &xrc, err, req);
	rc = engine_run(&x, 1, 1, err);
	return rc ? rc : xrc;
}

int fl_http_request_many(struct fl_http_response *resps, int *rcs, struct fl_error *errs,
			 const struct fl_http_request *reqs, size_t n, unsigned max_parallel,
			 struct fl_error *err)
{
	int rc = global_check(err);
	if (rc || n == 0)
		return rc;
	assert(resps && rcs && reqs);
	struct xfer *xs = fl_calloc(n, sizeof(*xs));
	for (size_t i = 0; i < n; i++)
		xfer_init(&xs[i], &resps[i], &rcs[i], errs ? &errs[i] : NULL, &reqs[i]);
	rc = engine_run(xs, n, max_parallel ? max_parallel : 1, err);
	free(xs);
	return rc;
}
