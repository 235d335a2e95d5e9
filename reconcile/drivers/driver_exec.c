/*
 * The exec driver (SPEC 8): every operation runs a program of the user's
 * with a JSON request on its standard input and reads a JSON answer from its
 * standard output; docs/drivers.md specifies the protocol (version 1). The
 * driver checks every answer (names, fingerprints it computes itself) before
 * the engine sees it. No state is shared between calls but an atomic flag,
 * so any operation may run on many threads at once.
 */
#include "reconcile/drivers/driver.h"
#include "reconcile/drivers/driver_answer.h"
#include "reconcile/drivers/driver_conf.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/proc.h"
#include "reconcile/fleet/secret_env.h"
#include "reconcile/fleet/syntax.h"
#include "reconcile/render/template.h"
#include "core/banned.h"

#define PROTOCOL_VERSION 1
#define DEFAULT_TIMEOUT_S 300
#define MAX_TIMEOUT_S (7 * 24 * 3600)
#define ANSWER_MAX ((size_t)256 * 1024 * 1024)
#define STDERR_TAIL 2048

struct exec_driver {
	char **command; /* argv templates, owned */
	size_t ncommand;
	char **drop;    /* patterns of variables the program never sees, NULL-terminated, owned */
	struct fl_env_list pass; /* what pass_env hands on, read when the driver opened */
	unsigned timeout_s;
	atomic_bool no_marker; /* the program answered {"unsupported":true} to marker */
};

/* One call of the program: what the error messages say it was doing. */
struct call {
	const struct exec_driver *d;
	const char *op;
	const struct fl_tenant *tenant;
	const char *region; /* NULL for operations without one */
	struct fl_arena arena;        /* where the answer lives */
	const struct fl_node *answer; /* a JSON object, once exchange succeeded */
};

static void call_init(struct call *c, void *self, const char *op, const struct fl_tenant *tenant,
		      const char *region)
{
	c->d = self;
	c->op = op;
	c->tenant = tenant;
	c->region = region;
	fl_arena_init(&c->arena, 4096);
	c->answer = NULL;
}

/* "observe of tenant 'acme' in region 'us-east-1'" into out (size bytes). */
static void describe(char *out, size_t size, const struct call *c)
{
	if (c->region)
		snprintf(out, size, "%s of tenant '%s' in region '%s'", c->op, c->tenant->name, c->region);
	else
		snprintf(out, size, "%s of tenant '%s'", c->op, c->tenant->name);
}

/* ---- the command's templates ---- */

/*
 * Appends tmpl with {{tenant.name}}, {{tenant.account}} and {{region}}
 * substituted as text. FL_EINPUT for any other name or a '{{' left open.
 */
static int expand(struct fl_buf *out, const char *tmpl, const struct fl_tenant *t, const char *region,
		  struct fl_error *err)
{
	struct fl_template_tenant names = { t, region, true, false, "driver command" };
	int rc = fl_template_expand(out, tmpl, names.where, fl_template_tenant_lookup, &names, err);

	if (rc == FL_ELIMIT)
		rc = fl_error_set(err, rc, "driver command argument '%.100s' is too long", tmpl);
	return rc;
}

static void free_argv(char **argv, size_t n)
{
	if (!argv)
		return;
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
}

/*
 * The argv of one call (NULL-terminated, n + 1 entries, the caller's to
 * free_argv). {{region}} is the call's region or, for calls without one, the
 * tenant's primary region.
 */
static int build_argv(char ***out, const struct call *c, struct fl_error *err)
{
	const struct exec_driver *d = c->d;
	const char *region = c->region ? c->region : c->tenant->nregions ? c->tenant->regions[0] : "";
	char **argv = fl_calloc(d->ncommand + 1, sizeof(*argv));
	struct fl_buf arg = FL_BUF_INIT;
	int rc = 0;
	arg.max = 64 * 1024;
	for (size_t i = 0; i < d->ncommand; i++) {
		fl_buf_clear(&arg);
		if ((rc = expand(&arg, d->command[i], c->tenant, region, err)))
			goto out;
		argv[i] = fl_strdup(arg.ptr);
	}
out:
	fl_buf_release(&arg);
	if (rc) {
		free_argv(argv, d->ncommand);
		argv = NULL;
	}
	*out = argv;
	return rc;
}

/* ---- running the program ---- */

/* One run of the program: its answer, the tail of its standard error, how it ended. */
struct run {
	struct fl_buf out; /* standard output, whole, up to ANSWER_MAX */
	struct fl_buf err; /* the last STDERR_TAIL bytes */
	struct fl_proc_result res;
};

/*
 * The stderr tail made one line (line breaks become " | ", other control
 * characters spaces, trailing white space dropped), cut from the front to at
 * most room bytes, into out.
 */
static void stderr_line(struct fl_buf *out, const struct run *r, size_t room)
{
	struct fl_buf line = FL_BUF_INIT;
	const char *s = r->err.ptr;
	size_t n = r->err.len;
	while (n && (unsigned char)s[n - 1] <= ' ')
		n--;
	size_t i = 0;
	while (i < n && (unsigned char)s[i] <= ' ')
		i++;
	for (; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\n')
			fl_buf_puts(&line, " | ");
		else if (ch == '\r')
			continue;
		else
			fl_buf_putc(&line, ch < ' ' || ch == 0x7f ? ' ' : (char)ch);
	}
	const char *p = line.ptr;
	size_t len = line.len;
	bool cut = r->res.err_cut;
	if (len > room) {
		p += len - room + 4;
		len = room - 4;
		cut = true;
	}
	if (cut && len > room / 2) {
		/* Start at a line when one starts near the cut, else never inside a UTF-8 sequence. */
		const char *bar = strstr(p, " | ");
		if (bar && (size_t)(bar - p) < 100) {
			len -= (size_t)(bar + 3 - p);
			p = bar + 3;
		}
	}
	while (cut && len && ((unsigned char)*p & 0xc0) == 0x80) {
		p++;
		len--;
	}
	if (cut)
		fl_buf_puts(out, "... ");
	fl_buf_put(out, p, len);
	fl_buf_release(&line);
}

/* FL_EDRIVER "driver 'x' <what> on <call>: <stderr tail>", the tail cut to fit. */
static int fail(struct fl_error *err, const struct call *c, const struct run *r, const char *what)
{
	char head[FL_ERROR_MSG_MAX], about[FL_ERROR_MSG_MAX];
	struct fl_buf tail = FL_BUF_INIT;
	describe(about, sizeof(about), c);
	int n = snprintf(head, sizeof(head), "driver '%s' %s on %s", c->d->command[0], what, about);
	size_t used = n < 0 ? 0 : (size_t)n;
	if (r && r->err.len && used + 2 + 16 < FL_ERROR_MSG_MAX)
		stderr_line(&tail, r, FL_ERROR_MSG_MAX - 1 - used - 2);
	int rc = fl_error_set(err, FL_EDRIVER, "%s%s%s", head, tail.len ? ": " : "", tail.ptr);
	fl_buf_release(&tail);
	return rc;
}

/*
 * Runs the program for call c with request and parses its answer into
 * *answer (a tree in arena). Failure, a timeout or an answer that is not one
 * JSON object: FL_EDRIVER with the program's stderr.
 */
static int call_program(const struct fl_node **answer, struct fl_arena *arena, const struct call *c,
			const struct fl_buf *request, struct fl_error *err)
{
	struct run r;
	char **argv = NULL;
	char what[128];
	memset(&r, 0, sizeof(r));
	fl_buf_init(&r.out, ANSWER_MAX);
	fl_buf_init(&r.err, 0);
	*answer = NULL;
	int rc = build_argv(&argv, c, err);
	if (rc)
		goto out;
	struct fl_proc_io io = { request->ptr, request->len, &r.out, &r.err, STDERR_TAIL, true };
	struct fl_proc_opts opts = {
		.argv = (const char *const *)argv,
		.env = fl_env_list_entries(&c->d->pass),
		.timeout_ms = c->d->timeout_s * 1000,
		.max_output = ANSWER_MAX,
		.unset = (const char *const *)c->d->drop,
	};
	if ((rc = fl_proc_pipe(&r.res, &io, &opts, err))) {
		if (r.res.start_errno)
			rc = fl_error_set(err, FL_EDRIVER, "cannot run driver '%s': %s", argv[0],
					  strerror(r.res.start_errno));
		goto out;
	}
	if (r.res.timed_out) {
		snprintf(what, sizeof(what), "timed out after %u s", c->d->timeout_s);
		rc = fail(err, c, &r, what);
		goto out;
	}
	if (r.res.truncated) {
		snprintf(what, sizeof(what), "answered more than %zu MiB", ANSWER_MAX >> 20);
		rc = fail(err, c, &r, what);
		goto out;
	}
	if (r.res.signal || r.res.exit_code != 0) {
		if (r.res.signal)
			snprintf(what, sizeof(what), "was killed by signal %d", r.res.signal);
		else
			snprintf(what, sizeof(what), "failed (exit %d)", r.res.exit_code);
		rc = fail(err, c, &r, what);
		goto out;
	}
	struct fl_node *root = NULL;
	struct fl_error jerr = FL_ERROR_INIT;
	struct fl_source src = { "answer", r.out.ptr, r.out.len };
	if (fl_json_parse(&root, arena, &src, &jerr)) {
		snprintf(what, sizeof(what), "gave an answer that is not JSON (%u:%u: %.60s)", jerr.line,
			 jerr.col, jerr.msg);
		rc = fail(err, c, &r, what);
		goto out;
	}
	if (root->type != FL_NODE_MAP) {
		rc = fail(err, c, &r, "gave an answer that is not a JSON object");
		goto out;
	}
	*answer = root;
out:
	free_argv(argv, c->d->ncommand);
	fl_buf_release(&r.out);
	fl_buf_release(&r.err);
	return rc;
}

/* FL_EDRIVER "driver 'x' gave an invalid answer to <call>: <why>". */
__attribute__((format(printf, 3, 4))) static int bad_answer(struct fl_error *err, const struct call *c,
							    const char *fmt, ...)
{
	char about[FL_ERROR_MSG_MAX], why[FL_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	describe(about, sizeof(about), c);
	return fl_error_set(err, FL_EDRIVER, "driver '%s' gave an invalid answer to %s: %s", c->d->command[0],
			    about, why);
}

/* True when the answer is {"unsupported": true, ...}. */
static bool unsupported(const struct fl_node *answer)
{
	const struct fl_node *u = fl_node_get(answer, "unsupported");
	return u && u->type == FL_NODE_BOOL && u->v.b;
}

/* ---- requests ---- */

/* {"operation":OP,"protocol":1,["region":R,]"tenant":{...} — left open for "write". */
static int request_head(struct fl_buf *b, const struct call *c)
{
	const struct fl_tenant *t = c->tenant;
	int rc = 0;
	if ((rc = fl_buf_puts(b, "{\"operation\":")) || (rc = fl_json_put_str(b, c->op, strlen(c->op))) ||
	    (rc = fl_buf_printf(b, ",\"protocol\":%d", PROTOCOL_VERSION)))
		return rc;
	if (c->region && ((rc = fl_buf_puts(b, ",\"region\":")) ||
			  (rc = fl_json_put_str(b, c->region, strlen(c->region)))))
		return rc;
	if ((rc = fl_buf_puts(b, ",\"tenant\":{\"account\":")) ||
	    (rc = fl_json_put_str(b, t->account, strlen(t->account))) ||
	    (rc = fl_buf_puts(b, ",\"labels\":{")))
		return rc;
	/* Labels are sorted by key, as the canonical form wants. */
	for (size_t i = 0; i < t->nlabels; i++) {
		const struct fl_label *l = &t->labels[i];
		if ((i && (rc = fl_buf_putc(b, ','))) || (rc = fl_json_put_str(b, l->key, strlen(l->key))) ||
		    (rc = fl_buf_putc(b, ':')) || (rc = fl_json_put_str(b, l->value, strlen(l->value))))
			return rc;
	}
	if ((rc = fl_buf_puts(b, "},\"name\":")) || (rc = fl_json_put_str(b, t->name, strlen(t->name))) ||
	    (rc = fl_buf_puts(b, ",\"regions\":[")))
		return rc;
	for (size_t i = 0; i < t->nregions; i++)
		if ((i && (rc = fl_buf_putc(b, ','))) ||
		    (rc = fl_json_put_str(b, t->regions[i], strlen(t->regions[i]))))
			return rc;
	return fl_buf_puts(b, "]}");
}

static int put_fp(struct fl_buf *b, const struct fl_fp *fp)
{
	char hex[FL_FP_HEX_LEN + 1];
	fl_fp_hex(hex, fp);
	return fl_buf_printf(b, "\"%s\"", hex);
}

static int put_marker(struct fl_buf *b, const struct fl_marker *m)
{
	int rc = 0;
	if ((rc = fl_buf_puts(b, "{\"inputs_fingerprint\":")) || (rc = put_fp(b, &m->inputs_fp)) ||
	    (rc = fl_buf_printf(b, ",\"resources\":%zu,\"revision\":\"%.40s\",\"tenant_fingerprint\":",
				m->resources, m->revision)) ||
	    (rc = put_fp(b, &m->tenant_fp)))
		return rc;
	return fl_buf_putc(b, '}');
}

static int put_key(struct fl_buf *b, const char *kind, const char *name)
{
	int rc = 0;
	if ((rc = fl_buf_puts(b, "\"kind\":")) || (rc = fl_json_put_str(b, kind, strlen(kind))) ||
	    (rc = fl_buf_puts(b, ",\"name\":")))
		return rc;
	return fl_json_put_str(b, name, strlen(name));
}

/* ,"write":{"delete":[...],"marker":...,"put":[...]} */
static int request_write(struct fl_buf *b, const struct fl_region_write *w)
{
	int rc = fl_buf_puts(b, ",\"write\":{\"delete\":[");
	for (size_t i = 0; i < w->ndel && !rc; i++)
		if (!(rc = fl_buf_puts(b, i ? ",{" : "{")) &&
		    !(rc = put_key(b, w->del[i].kind, w->del[i].name)))
			rc = fl_buf_putc(b, '}');
	if (rc || (rc = fl_buf_puts(b, "],\"marker\":")))
		return rc;
	if ((rc = w->marker ? put_marker(b, w->marker) : fl_buf_puts(b, "null")) ||
	    (rc = fl_buf_puts(b, ",\"put\":[")))
		return rc;
	for (size_t i = 0; i < w->nput; i++) {
		const struct fl_put_res *p = &w->put[i];
		if ((rc = fl_buf_puts(b, i ? ",{\"fingerprint\":" : "{\"fingerprint\":")) ||
		    (rc = put_fp(b, &p->fp)) || (rc = fl_buf_puts(b, ",\"if_match\":")) ||
		    (rc = p->if_match ? put_fp(b, p->if_match) : fl_buf_puts(b, "null")) ||
		    (rc = fl_buf_putc(b, ',')) || (rc = put_key(b, p->kind, p->name)) ||
		    (rc = fl_buf_puts(b, ",\"spec\":")) || (rc = fl_buf_put(b, p->spec, p->spec_len)) ||
		    (rc = fl_buf_putc(b, '}')))
			return rc;
	}
	return fl_buf_puts(b, "]}");
}

/* Builds the request of c (and w, for apply) and runs the program. */
static int exchange(struct call *c, const struct fl_region_write *w, struct fl_error *err)
{
	struct fl_buf req = FL_BUF_INIT;
	req.max = ANSWER_MAX;
	int rc = request_head(&req, c);
	if (!rc && w)
		rc = request_write(&req, w);
	if (!rc)
		rc = fl_buf_putc(&req, '}');
	if (!rc)
		rc = fl_buf_putc(&req, '\n');
	if (rc) {
		char about[FL_ERROR_MSG_MAX];
		describe(about, sizeof(about), c);
		rc = fl_error_set(err, rc, "the request of %s is too large", about);
		goto out;
	}
	rc = call_program(&c->answer, &c->arena, c, &req, err);
out:
	fl_buf_release(&req);
	return rc;
}

/* ---- answers ---- */

/* Parses a marker object; *has false for null. */
static int parse_marker(struct fl_marker *m, bool *has, const struct fl_node *v, const struct call *c,
			struct fl_error *err)
{
	int rc = fl_answer_marker(m, has, v, false, err);
	return rc ? bad_answer(err, c, "%s", err->msg) : 0;
}

/* A kind, name or region of an answer: a string by the rule of fl_ident_valid. */
/*
 * Fills out from an observe answer: kinds and names copied into out->arena,
 * specs in canonical form into out->raw, each fingerprint computed here.
 */
static int fill_observed(struct fl_observed *out, const struct fl_node *answer, const struct call *c,
			 struct fl_error *err)
{
	int rc = 0;
	const struct fl_node *ex = fl_node_get(answer, "exists");
	const struct fl_node *res = fl_node_get(answer, "resources");
	if ((ex && ex->type != FL_NODE_BOOL) ||
	    (res && res->type != FL_NODE_SEQ && res->type != FL_NODE_NULL)) {
		rc = bad_answer(
			err, c,
			"expected {\"exists\": true|false, \"marker\": {...}|null, \"resources\": [...]}");
		goto out;
	}
	if ((rc = parse_marker(&out->marker, &out->has_marker, fl_node_get(answer, "marker"), c, err)))
		goto out;
	if ((rc = fl_answer_resources(out, res, false, err))) {
		rc = bad_answer(err, c, "%s", err->msg);
		goto out;
	}
	out->exists = ex ? ex->v.b : out->len > 0 || out->has_marker;
out:
	return rc;
}

/* ---- operations ---- */

static int exec_identity(void *self, const struct fl_tenant *tenant, struct fl_buf *account, bool *found,
			 struct fl_error *err)
{
	struct call c;
	call_init(&c, self, "identity", tenant, NULL);
	*found = false;
	int rc = exchange(&c, NULL, err);
	if (!rc && (rc = fl_answer_account(account, found, c.answer, true, err)))
		rc = bad_answer(err, &c, "%s", err->msg);
	fl_arena_release(&c.arena);
	return rc;
}

static int exec_observe(void *self, const struct fl_tenant *tenant, const char *region,
			struct fl_observed *out, struct fl_error *err)
{
	struct call c;
	call_init(&c, self, "observe", tenant, region);
	fl_observed_clear(out);
	size_t max = out->raw.max;
	out->raw.max = ANSWER_MAX;
	int rc = exchange(&c, NULL, err);
	if (!rc)
		rc = fill_observed(out, c.answer, &c, err);
	out->raw.max = max;
	if (rc)
		fl_observed_clear(out);
	fl_arena_release(&c.arena);
	return rc;
}

static int exec_marker(void *self, const struct fl_tenant *tenant, const char *region, struct fl_marker *out,
		       bool *found, struct fl_error *err)
{
	struct exec_driver *d = self;
	struct call c;
	struct fl_observed obs;
	call_init(&c, self, "marker", tenant, region);
	fl_observed_init(&obs);
	*found = false;
	int rc = 0;
	if (!atomic_load(&d->no_marker)) {
		if ((rc = exchange(&c, NULL, err)))
			goto out;
		if (!unsupported(c.answer)) {
			rc = parse_marker(out, found, fl_node_get(c.answer, "marker"), &c, err);
			goto out;
		}
		/* The program has no cheap way: remember it, and ask for everything from now on. */
		atomic_store(&d->no_marker, true);
	}
	if ((rc = exec_observe(self, tenant, region, &obs, err)))
		goto out;
	*out = obs.marker;
	*found = obs.has_marker;
out:
	fl_observed_release(&obs);
	fl_arena_release(&c.arena);
	return rc;
}

static int exec_regions(void *self, const struct fl_tenant *tenant, fl_region_cb cb, void *payload,
			struct fl_error *err)
{
	struct call c;
	const struct fl_node *list = NULL;
	call_init(&c, self, "regions", tenant, NULL);
	int rc = exchange(&c, NULL, err);
	/* Every name is checked before the first callback. */
	if (!rc && (rc = fl_answer_regions(&list, c.answer, err)))
		rc = bad_answer(err, &c, "%s", err->msg);
	for (size_t i = 0; !rc && list && i < list->v.seq.len; i++)
		rc = cb(list->v.seq.items[i]->v.str.ptr, payload);
	fl_arena_release(&c.arena);
	return rc;
}

/* An answer of apply or bootstrap: {"ok": true}, or {"ok": false, "error": "..."}. */
static int check_ok(const struct call *c, struct fl_error *err)
{
	const struct fl_node *ok = fl_answer_get(c->answer, "ok", FL_NODE_BOOL);
	const struct fl_node *why = fl_answer_get(c->answer, "error", FL_NODE_STR);
	if (ok && ok->v.b)
		return 0;
	if (ok && why)
		return fl_error_set(err, FL_EDRIVER, "driver '%s' refused %s of tenant '%s': %.300s",
				    c->d->command[0], c->op, c->tenant->name, why->v.str.ptr);
	return bad_answer(err, c, "expected {\"ok\": true} or {\"ok\": false, \"error\": \"...\"}");
}

/*
 * Checks every if_match of w against what the region holds now. The request
 * carries them too, for programs that can check atomically; this holds for
 * those that cannot compute fingerprints.
 */
static int check_if_match(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
			  struct fl_error *err)
{
	struct fl_observed cur;
	bool any = false;
	int rc = 0;
	for (size_t i = 0; i < w->nput && !any; i++)
		any = w->put[i].if_match != NULL;
	if (!any)
		return 0;
	fl_observed_init(&cur);
	if ((rc = exec_observe(self, tenant, w->region, &cur, err)))
		goto out;
	for (size_t i = 0; i < w->nput; i++) {
		const struct fl_put_res *p = &w->put[i];
		const struct fl_observed_res *o =
			p->if_match ? fl_observed_find(&cur, p->kind, p->name) : NULL;
		if (p->if_match && (!o || !fl_fp_equal(&o->fp, p->if_match))) {
			rc = fl_error_set(err, FL_EDRIVER, "resource %s/%s changed since it was observed",
					  p->kind, p->name);
			goto out;
		}
	}
out:
	fl_observed_release(&cur);
	return rc;
}

static int exec_apply(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
		      struct fl_error *err)
{
	struct call c;
	call_init(&c, self, "apply", tenant, w->region);
	int rc = fl_region_write_check(w, err);
	if (!rc && !(rc = check_if_match(self, tenant, w, err)) && !(rc = exchange(&c, w, err)))
		rc = check_ok(&c, err);
	fl_arena_release(&c.arena);
	return rc;
}

static int exec_bootstrap(void *self, const struct fl_tenant *tenant, struct fl_error *err)
{
	struct call c;
	call_init(&c, self, "bootstrap", tenant, NULL);
	int rc = exchange(&c, NULL, err);
	if (!rc && unsupported(c.answer))
		rc = fl_error_set(err, FL_EDRIVER,
				  "account '%s' does not exist and driver '%s' cannot create accounts",
				  tenant->account, c.d->command[0]);
	else if (!rc)
		rc = check_ok(&c, err);
	fl_arena_release(&c.arena);
	return rc;
}

static void exec_free(void *self)
{
	struct exec_driver *d = self;
	if (!d)
		return;
	free_argv(d->command, d->ncommand);
	for (size_t i = 0; d->drop && d->drop[i]; i++)
		free(d->drop[i]);
	free(d->drop);
	fl_env_list_release(&d->pass);
	free(d);
}

static const struct fl_driver_ops exec_ops = {
	.type = "exec",
	.io_bound = true,
	.identity = exec_identity,
	.observe = exec_observe,
	.marker = exec_marker,
	.regions = exec_regions,
	.apply = exec_apply,
	.bootstrap = exec_bootstrap,
	.free = exec_free,
};

/* ---- opening ---- */

static const struct fl_driver_key exec_keys[] = {
	{ "command", FL_DRIVER_WORDS, true },
	{ "pass_env", FL_DRIVER_PASS_ENV, false },
	{ "timeout", FL_DRIVER_TIMEOUT, false },
	{ NULL, 0, false },
};

#define TIMEOUT_EXAMPLES "30s, 5m or 1h30m"
#define TIMEOUT_MAX "7d"

static void exec_check(struct fl_vctx *c, const struct fl_node *entry)
{
	fl_driver_check_keys(c, entry, "exec", exec_keys);
	fl_driver_check_timeout(c, entry, MAX_TIMEOUT_S, TIMEOUT_EXAMPLES, TIMEOUT_MAX);
}

/* The strings of the list under key (NULL-terminated, the caller's to free_argv), or NULL when it is no list. */
static char **strings_of(const struct fl_driver_conf *conf, const char *key, size_t *n)
{
	const struct fl_node *list = conf->node ? fl_node_get(conf->node, key) : NULL;
	*n = 0;
	if (!list || list->type != FL_NODE_SEQ)
		return NULL;
	char **out = fl_calloc(list->v.seq.len + 1, sizeof(*out));
	for (size_t i = 0; i < list->v.seq.len; i++) {
		const struct fl_node *v = list->v.seq.items[i];
		out[(*n)++] = v->type == FL_NODE_STR ? fl_strdup(v->v.str.ptr) : NULL;
	}
	return out;
}

/* FL_EINPUT unless every template of the command expands, for a tenant of placeholders. */
static int check_command(char *const *command, size_t n, struct fl_error *err)
{
	static const char *const no_regions[] = { "r" };
	struct fl_buf scratch = FL_BUF_INIT;
	struct fl_tenant probe;
	int rc = 0;
	memset(&probe, 0, sizeof(probe));
	probe.name = "t";
	probe.account = "a";
	probe.regions = (const char **)no_regions;
	probe.nregions = 1;
	if (!command || n == 0 || !command[0] || !command[0][0])
		rc = fl_error_set(err, FL_EINPUT, "driver 'exec' needs a command");
	for (size_t i = 0; i < n && !rc; i++) {
		fl_buf_clear(&scratch);
		if (!command[i])
			rc = fl_error_set(err, FL_EINPUT, "driver 'exec' has an empty command argument");
		else
			rc = expand(&scratch, command[i], &probe, "r", err);
	}
	fl_buf_release(&scratch);
	return rc;
}

/* Copied: the driver may outlive the fleet its configuration came from. */
static char **copy_drop(const char *const *drop)
{
	size_t n = 0;
	if (!drop)
		drop = fl_secret_env_own;
	while (drop[n])
		n++;
	char **out = fl_calloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = fl_strdup(drop[i]);
	return out;
}

static int exec_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err)
{
	struct exec_driver *d = fl_calloc(1, sizeof(*d));
	size_t npass = 0;
	char **pass = strings_of(conf, "pass_env", &npass);
	out->ops = NULL;
	out->self = NULL;
	d->command = strings_of(conf, "command", &d->ncommand);
	int rc = check_command(d->command, d->ncommand, err);
	if (rc || (rc = fl_driver_conf_timeout(&d->timeout_s, conf->node, DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S,
					       TIMEOUT_EXAMPLES, TIMEOUT_MAX, err)))
		goto out;
	d->drop = copy_drop(conf->drop_env);
	for (size_t i = 0; i < npass; i++)
		if (pass[i])
			fl_env_list_pass(&d->pass, (const char *const *)&pass[i], 1);
	atomic_init(&d->no_marker, false);
	out->ops = &exec_ops;
	out->self = d;
	d = NULL;
out:
	exec_free(d);
	free_argv(pass, npass);
	return rc;
}

const struct fl_driver_type fl_driver_exec_type = { "exec", exec_check, exec_open, "command", true };
