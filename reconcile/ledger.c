/*
 * The ledger of a commit's rollout, kept in memory as plain records and
 * saved as a pretty JSON git note. Saving is throttled because a fleet of
 * thousands of tenants would otherwise rewrite a large note thousands of
 * times: a flusher thread saves a change at once when the last save is
 * FLUSH_MS old, and otherwise FLUSH_MS after that save. The note is written
 * with the lock dropped, so tenants finishing meanwhile record their results
 * instead of waiting for git (they stalled a wave of 100 tenants in flight
 * every FLUSH_MS while the writer held the lock). Nothing lost by a
 * crash in between is beyond what level-triggered resume rebuilds from the
 * accounts' markers and the verify receipts.
 */
/* timegm() is a BSD and GNU extension. */
#define _DEFAULT_SOURCE 1

#include "reconcile/ledger.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/json.h"
#include "core/node.h"
#include "core/banned.h"

#define FLUSH_MS 250
#define DESCRIPTION_MAX 140
#define LEDGER_FORMAT 1

struct context_rec {
	char *name;
	enum fl_state state;
	char *description;
	long long updated;
};

struct verify_rec {
	char *name, *region, *output;
	int exit_code;
	bool timed_out;
	long long elapsed_ms, time;
};

struct receipt_rec {
	char *region, *kind, *name;
	char fp[FL_FP_HEX_LEN + 1];
};

struct tenant_rec {
	char *name;
	char *wave;
	bool has_result;
	enum fl_tenant_result result;
	char fp[FL_FP_HEX_LEN + 1];
	char *error;
	long long time;
	struct verify_rec *verify;
	size_t nverify, capverify;
	struct receipt_rec *receipt;
	size_t nreceipt;
	long long receipt_time;
};

struct wave_rec {
	char *name;
	long long succeeded_at;
};

struct fl_ledger {
	pthread_mutex_t lock;
	struct fl_repo *repo;
	struct fl_oid commit;
	char revision[FL_OID_HEX_LEN + 1];
	struct context_rec *contexts;
	size_t ncontexts, capcontexts;
	struct tenant_rec *tenants;
	size_t ntenants, captenants;
	struct wave_rec *waves;
	size_t nwaves, capwaves;
	bool dirty;
	long long last_save_ms;
	pthread_cond_t wake;             /* the flusher waits on it */
	pthread_cond_t saved;            /* a save ended: saving went false */
	bool saving;                     /* a note is being written, the lock dropped */
	pthread_t flusher;
	bool flusher_running, stop;
	struct fl_error save_error;      /* the last failed save of the flusher */
};

static const char *const state_names[] = { "pending", "success", "failure", "error" };
static const char *const result_names[] = { "applied", "unchanged", "failed", "skipped", "decommissioned" };

const char *fl_state_name(enum fl_state state)
{
	return state_names[state];
}

const char *fl_tenant_result_name(enum fl_tenant_result result)
{
	return result_names[result];
}

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

long long fl_now(void)
{
	const char *fake = getenv("FLOTILLA_NOW");
	if (fake && *fake)
		return atoll(fake);
	return (long long)time(NULL);
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fl_time_format(char out[32], long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static long long time_parse(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			 &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

/* ---- text: the note is JSON, so every string in it must be valid UTF-8 ---- */

/* Length of the valid UTF-8 sequence at p (of n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t len = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
		   : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (!len || len > n || (len == 2 && p[0] < 0xc2))
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	uint32_t c = len == 2 ? (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu)
		   : len == 3 ? (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu)
		   : len == 4 ? (p[0] & 0x07u) << 18 | (p[1] & 0x3fu) << 12 | (p[2] & 0x3fu) << 6 | (p[3] & 0x3fu)
			      : p[0];
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

/*
 * A copy of s (len bytes) that is valid UTF-8 and at most max bytes long,
 * cut on a character boundary: invalid bytes (and NULs) become '?'.
 */
static char *clean_text(const char *s, size_t len, size_t max)
{
	char *out = fl_malloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq((const unsigned char *)s + i, len - i);
		if (n == 0 || s[i] == '\0') {
			if (o + 1 > max)
				break;
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + n > max)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

static char *clean_str(const char *s, size_t max)
{
	return clean_text(s, strlen(s), max);
}

/* ---- records ---- */

static struct tenant_rec *tenant_get(struct fl_ledger *l, const char *name, bool create)
{
	for (size_t i = 0; i < l->ntenants; i++)
		if (strcmp(l->tenants[i].name, name) == 0)
			return &l->tenants[i];
	if (!create)
		return NULL;
	FL_GROW(l->tenants, l->captenants, l->ntenants + 1);
	struct tenant_rec *t = &l->tenants[l->ntenants++];
	memset(t, 0, sizeof(*t));
	t->name = clean_str(name, SIZE_MAX - 1);
	return t;
}

static struct context_rec *context_get(struct fl_ledger *l, const char *name, bool create)
{
	for (size_t i = 0; i < l->ncontexts; i++)
		if (strcmp(l->contexts[i].name, name) == 0)
			return &l->contexts[i];
	if (!create)
		return NULL;
	FL_GROW(l->contexts, l->capcontexts, l->ncontexts + 1);
	struct context_rec *c = &l->contexts[l->ncontexts++];
	memset(c, 0, sizeof(*c));
	c->name = clean_str(name, SIZE_MAX - 1);
	return c;
}

static struct wave_rec *wave_get(struct fl_ledger *l, const char *name, bool create)
{
	for (size_t i = 0; i < l->nwaves; i++)
		if (strcmp(l->waves[i].name, name) == 0)
			return &l->waves[i];
	if (!create)
		return NULL;
	FL_GROW(l->waves, l->capwaves, l->nwaves + 1);
	struct wave_rec *w = &l->waves[l->nwaves++];
	memset(w, 0, sizeof(*w));
	w->name = clean_str(name, SIZE_MAX - 1);
	return w;
}

static void replace_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? clean_str(src, SIZE_MAX - 1) : NULL;
}

static void tenant_free(struct tenant_rec *t)
{
	free(t->name);
	free(t->wave);
	free(t->error);
	for (size_t i = 0; i < t->nverify; i++) {
		free(t->verify[i].name);
		free(t->verify[i].region);
		free(t->verify[i].output);
	}
	free(t->verify);
	for (size_t i = 0; i < t->nreceipt; i++) {
		free(t->receipt[i].region);
		free(t->receipt[i].kind);
		free(t->receipt[i].name);
	}
	free(t->receipt);
}

/* ---- the JSON document ---- */

struct builder {
	struct fl_arena *arena;
};

static struct fl_node *mk(struct builder *b, enum fl_node_type type)
{
	struct fl_node *n = fl_arena_alloc(b->arena, sizeof(*n));
	n->type = type;
	return n;
}

static struct fl_node *mk_str(struct builder *b, const char *s)
{
	struct fl_node *n = mk(b, FL_NODE_STR);
	n->v.str.len = strlen(s);
	n->v.str.ptr = fl_arena_strndup(b->arena, s, n->v.str.len);
	return n;
}

static struct fl_node *mk_int(struct builder *b, long long i)
{
	struct fl_node *n = mk(b, FL_NODE_INT);
	n->v.i = i;
	return n;
}

static struct fl_node *mk_bool(struct builder *b, bool v)
{
	struct fl_node *n = mk(b, FL_NODE_BOOL);
	n->v.b = v;
	return n;
}

static struct fl_node *mk_time(struct builder *b, long long t)
{
	char buf[32];
	fl_time_format(buf, t);
	return mk_str(b, buf);
}

static struct fl_node *mk_map(struct builder *b, size_t cap)
{
	struct fl_node *n = mk(b, FL_NODE_MAP);
	n->v.map.items = fl_arena_calloc(b->arena, cap ? cap : 1, sizeof(struct fl_pair));
	return n;
}

static struct fl_node *mk_seq(struct builder *b, size_t cap)
{
	struct fl_node *n = mk(b, FL_NODE_SEQ);
	n->v.seq.items = fl_arena_calloc(b->arena, cap ? cap : 1, sizeof(struct fl_node *));
	return n;
}

/* Callers size maps for every key they add. */
static void put(struct builder *b, struct fl_node *map, const char *key, struct fl_node *value)
{
	struct fl_pair *p = &map->v.map.items[map->v.map.len++];
	p->key = mk_str(b, key);
	p->value = value;
}

static struct fl_node *verify_node(struct builder *b, const struct verify_rec *v)
{
	struct fl_node *n = mk_map(b, 8);
	put(b, n, "name", mk_str(b, v->name));
	put(b, n, "region", mk_str(b, v->region));
	put(b, n, "exit_code", mk_int(b, v->exit_code));
	put(b, n, "passed", mk_bool(b, v->exit_code == 0 && !v->timed_out));
	put(b, n, "timed_out", mk_bool(b, v->timed_out));
	put(b, n, "elapsed_ms", mk_int(b, v->elapsed_ms));
	put(b, n, "time", mk_time(b, v->time));
	put(b, n, "output", mk_str(b, v->output ? v->output : ""));
	return n;
}

static struct fl_node *receipt_node(struct builder *b, const struct tenant_rec *t)
{
	struct fl_node *n = mk_map(b, 2), *items = mk_seq(b, t->nreceipt);
	for (size_t i = 0; i < t->nreceipt; i++) {
		struct fl_node *it = mk_map(b, 4);
		put(b, it, "region", mk_str(b, t->receipt[i].region));
		put(b, it, "kind", mk_str(b, t->receipt[i].kind));
		put(b, it, "name", mk_str(b, t->receipt[i].name));
		put(b, it, "fingerprint", mk_str(b, t->receipt[i].fp));
		items->v.seq.items[items->v.seq.len++] = it;
	}
	put(b, n, "deleted", items);
	put(b, n, "time", mk_time(b, t->receipt_time));
	return n;
}

static struct fl_node *tenant_node(struct builder *b, const struct tenant_rec *t)
{
	struct fl_node *n = mk_map(b, 8);
	if (t->wave)
		put(b, n, "wave", mk_str(b, t->wave));
	if (t->has_result) {
		put(b, n, "result", mk_str(b, result_names[t->result]));
		put(b, n, "fingerprint", mk_str(b, t->fp));
		put(b, n, "time", mk_time(b, t->time));
	}
	if (t->error)
		put(b, n, "error", mk_str(b, t->error));
	struct fl_node *verify = mk_seq(b, t->nverify);
	for (size_t i = 0; i < t->nverify; i++)
		verify->v.seq.items[verify->v.seq.len++] = verify_node(b, &t->verify[i]);
	put(b, n, "verify", verify);
	if (t->nreceipt || t->receipt_time)
		put(b, n, "decommission_receipt", receipt_node(b, t));
	return n;
}

static struct fl_node *document(struct builder *b, const struct fl_ledger *l)
{
	struct fl_node *doc = mk_map(b, 5);
	struct fl_node *contexts = mk_map(b, l->ncontexts), *tenants = mk_map(b, l->ntenants);
	struct fl_node *waves = mk_map(b, l->nwaves);
	for (size_t i = 0; i < l->ncontexts; i++) {
		const struct context_rec *c = &l->contexts[i];
		struct fl_node *n = mk_map(b, 3);
		put(b, n, "state", mk_str(b, state_names[c->state]));
		put(b, n, "description", mk_str(b, c->description ? c->description : ""));
		put(b, n, "updated", mk_time(b, c->updated));
		put(b, contexts, c->name, n);
	}
	for (size_t i = 0; i < l->ntenants; i++)
		put(b, tenants, l->tenants[i].name, tenant_node(b, &l->tenants[i]));
	for (size_t i = 0; i < l->nwaves; i++) {
		struct fl_node *n = mk_map(b, 1);
		if (l->waves[i].succeeded_at)
			put(b, n, "succeeded_at", mk_time(b, l->waves[i].succeeded_at));
		put(b, waves, l->waves[i].name, n);
	}
	put(b, doc, "format", mk_int(b, LEDGER_FORMAT));
	put(b, doc, "revision", mk_str(b, l->revision));
	put(b, doc, "contexts", contexts);
	put(b, doc, "tenants", tenants);
	put(b, doc, "waves", waves);
	return doc;
}

static int render_text(const struct fl_ledger *l, struct fl_buf *out, struct fl_error *err)
{
	struct fl_arena arena;
	struct builder b = { &arena };
	fl_arena_init(&arena, 64 * 1024);
	int rc = fl_json_pretty(out, document(&b, l), err);
	if (!rc)
		rc = fl_buf_putc(out, '\n');
	fl_arena_release(&arena);
	return rc;
}

/*
 * Called with the lock held, which it drops while git writes the note. One
 * save at a time: l->repo is not shared between threads, and a later save
 * must not be overtaken by an earlier one.
 */
static int save(struct fl_ledger *l, bool force, struct fl_error *err)
{
	while (l->saving)
		pthread_cond_wait(&l->saved, &l->lock);
	if (!l->dirty || (!force && mono_ms() - l->last_save_ms < FLUSH_MS))
		return 0;
	struct fl_buf text = FL_BUF_INIT;
	int rc = render_text(l, &text, err);
	if (!rc) {
		l->dirty = false;
		l->saving = true;
		pthread_mutex_unlock(&l->lock);
		rc = fl_repo_note_write(l->repo, FL_NOTES_REF, &l->commit, text.ptr, text.len, err);
		pthread_mutex_lock(&l->lock);
		l->saving = false;
		pthread_cond_broadcast(&l->saved);
		if (rc)
			l->dirty = true;
	}
	fl_buf_release(&text);
	/* After a failure too: a failing save is retried a period later, not by every change. */
	l->last_save_ms = mono_ms();
	return rc;
}

static void *flusher_main(void *arg)
{
	struct fl_ledger *l = arg;
	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		if (!l->dirty) {
			pthread_cond_wait(&l->wake, &l->lock);
			continue;
		}
		long long due = l->last_save_ms + FLUSH_MS, now = mono_ms();
		if (now < due) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			long long wait = due - now;
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&l->wake, &l->lock, &ts);
			continue;
		}
		struct fl_error e = FL_ERROR_INIT;
		/* save() stamps the attempt, so a failing save is retried a period later. */
		if (save(l, true, &e))
			l->save_error = e;
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* ---- loading ---- */

static const char *str_of(const struct fl_node *map, const char *key)
{
	const struct fl_node *n = fl_node_get(map, key);
	return n && n->type == FL_NODE_STR ? n->v.str.ptr : NULL;
}

static long long int_of(const struct fl_node *map, const char *key)
{
	const struct fl_node *n = fl_node_get(map, key);
	return n && n->type == FL_NODE_INT ? n->v.i : 0;
}

static void load_verify(struct tenant_rec *t, const struct fl_node *seq)
{
	for (size_t i = 0; seq && seq->type == FL_NODE_SEQ && i < seq->v.seq.len; i++) {
		const struct fl_node *v = seq->v.seq.items[i];
		const char *name = str_of(v, "name"), *region = str_of(v, "region");
		if (!name || !region)
			continue;
		FL_GROW(t->verify, t->capverify, t->nverify + 1);
		struct verify_rec *r = &t->verify[t->nverify++];
		memset(r, 0, sizeof(*r));
		r->name = fl_strdup(name);
		r->region = fl_strdup(region);
		r->output = fl_strdup(str_of(v, "output") ? str_of(v, "output") : "");
		r->exit_code = (int)int_of(v, "exit_code");
		const struct fl_node *to = fl_node_get(v, "timed_out");
		r->timed_out = to && to->type == FL_NODE_BOOL && to->v.b;
		r->elapsed_ms = int_of(v, "elapsed_ms");
		r->time = time_parse(str_of(v, "time"));
	}
}

static void load_receipt(struct tenant_rec *t, const struct fl_node *n)
{
	const struct fl_node *items = fl_node_get(n, "deleted");
	if (!n)
		return;
	t->receipt_time = time_parse(str_of(n, "time"));
	if (!items || items->type != FL_NODE_SEQ)
		return;
	t->receipt = fl_calloc(items->v.seq.len, sizeof(*t->receipt));
	for (size_t i = 0; i < items->v.seq.len; i++) {
		const struct fl_node *it = items->v.seq.items[i];
		const char *fp = str_of(it, "fingerprint");
		struct receipt_rec *r = &t->receipt[t->nreceipt++];
		r->region = fl_strdup(str_of(it, "region") ? str_of(it, "region") : "");
		r->kind = fl_strdup(str_of(it, "kind") ? str_of(it, "kind") : "");
		r->name = fl_strdup(str_of(it, "name") ? str_of(it, "name") : "");
		snprintf(r->fp, sizeof(r->fp), "%s", fp ? fp : "");
	}
}

static void load_tenant(struct fl_ledger *l, const char *name, const struct fl_node *n)
{
	struct tenant_rec *t = tenant_get(l, name, true);
	const char *result = str_of(n, "result"), *fp = str_of(n, "fingerprint");
	int idx = result ? name_index(result_names, sizeof(result_names) / sizeof(*result_names), result) : -1;
	replace_str(&t->wave, str_of(n, "wave"));
	replace_str(&t->error, str_of(n, "error"));
	if (idx >= 0) {
		t->has_result = true;
		t->result = (enum fl_tenant_result)idx;
		t->time = time_parse(str_of(n, "time"));
		snprintf(t->fp, sizeof(t->fp), "%s", fp ? fp : "");
	}
	load_verify(t, fl_node_get(n, "verify"));
	load_receipt(t, fl_node_get(n, "decommission_receipt"));
}

static void load_document(struct fl_ledger *l, const struct fl_node *doc)
{
	const struct fl_node *contexts = fl_node_get(doc, "contexts"), *tenants = fl_node_get(doc, "tenants");
	const struct fl_node *waves = fl_node_get(doc, "waves");
	for (size_t i = 0; contexts && contexts->type == FL_NODE_MAP && i < contexts->v.map.len; i++) {
		const struct fl_pair *p = &contexts->v.map.items[i];
		const char *state = str_of(p->value, "state");
		int idx = state ? name_index(state_names, 4, state) : -1;
		if (idx < 0)
			continue;
		struct context_rec *c = context_get(l, p->key->v.str.ptr, true);
		c->state = (enum fl_state)idx;
		replace_str(&c->description, str_of(p->value, "description"));
		c->updated = time_parse(str_of(p->value, "updated"));
	}
	for (size_t i = 0; tenants && tenants->type == FL_NODE_MAP && i < tenants->v.map.len; i++)
		load_tenant(l, tenants->v.map.items[i].key->v.str.ptr, tenants->v.map.items[i].value);
	for (size_t i = 0; waves && waves->type == FL_NODE_MAP && i < waves->v.map.len; i++) {
		struct wave_rec *w = wave_get(l, waves->v.map.items[i].key->v.str.ptr, true);
		w->succeeded_at = time_parse(str_of(waves->v.map.items[i].value, "succeeded_at"));
	}
}

static int load(struct fl_ledger *l, struct fl_error *err)
{
	struct fl_buf text = FL_BUF_INIT;
	struct fl_arena arena;
	struct fl_node *doc = NULL;
	fl_arena_init(&arena, 64 * 1024);
	int rc = fl_repo_note_read(&text, l->repo, FL_NOTES_REF, &l->commit, err);
	if (rc == FL_ENOTFOUND) {
		fl_error_clear(err);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	struct fl_source src = { "git note " FL_NOTES_REF, text.ptr, text.len };
	if ((rc = fl_json_parse(&doc, &arena, &src, err)))
		goto out;
	if (doc->type != FL_NODE_MAP || int_of(doc, "format") != LEDGER_FORMAT) {
		rc = fl_error_set(err, FL_EINPUT, "the note on %s under %s is not a flotilla ledger (format %d)",
				  l->revision, FL_NOTES_REF, LEDGER_FORMAT);
		goto out;
	}
	load_document(l, doc);
out:
	fl_arena_release(&arena);
	fl_buf_release(&text);
	return rc;
}

int fl_ledger_open(struct fl_ledger **out, const char *gitdir, const struct fl_oid *commit,
		   struct fl_error *err)
{
	struct fl_ledger *l = fl_calloc(1, sizeof(*l));
	int rc;
	*out = NULL;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	pthread_cond_init(&l->saved, NULL);
	l->commit = *commit;
	fl_oid_hex(l->revision, commit);
	if ((rc = fl_repo_open(&l->repo, gitdir, err)) || (rc = load(l, err))) {
		fl_ledger_free(l);
		return rc;
	}
	l->flusher_running = pthread_create(&l->flusher, NULL, flusher_main, l) == 0;
	*out = l;
	return 0;
}

void fl_ledger_free(struct fl_ledger *l)
{
	if (!l)
		return;
	if (l->flusher_running) {
		pthread_mutex_lock(&l->lock);
		l->stop = true;
		pthread_cond_broadcast(&l->wake);
		pthread_mutex_unlock(&l->lock);
		pthread_join(l->flusher, NULL);
	}
	/* Pending changes are saved: best effort, as there is no one left to tell. */
	if (l->repo) {
		struct fl_error ignored = FL_ERROR_INIT;
		pthread_mutex_lock(&l->lock);
		save(l, true, &ignored);
		pthread_mutex_unlock(&l->lock);
	}
	for (size_t i = 0; i < l->ncontexts; i++) {
		free(l->contexts[i].name);
		free(l->contexts[i].description);
	}
	free(l->contexts);
	for (size_t i = 0; i < l->ntenants; i++)
		tenant_free(&l->tenants[i]);
	free(l->tenants);
	for (size_t i = 0; i < l->nwaves; i++)
		free(l->waves[i].name);
	free(l->waves);
	fl_repo_free(l->repo);
	pthread_cond_destroy(&l->wake);
	pthread_cond_destroy(&l->saved);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int fl_ledger_flush(struct fl_ledger *l, struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	int rc = save(l, true, err);
	if (!rc && l->save_error.code) {
		/* A save of the flusher failed earlier: report it once. */
		if (err)
			*err = l->save_error;
		rc = l->save_error.code;
		fl_error_clear(&l->save_error);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* ---- changes ---- */

/* Ends a change: marks the ledger dirty for the flusher (saved here only without one). */
static int changed(struct fl_ledger *l, struct fl_error *err)
{
	int rc = 0;
	l->dirty = true;
	if (l->flusher_running)
		pthread_cond_signal(&l->wake);
	else
		rc = save(l, false, err);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int fl_ledger_set_context(struct fl_ledger *l, const char *context, enum fl_state state,
			  const char *description, struct fl_error *err)
{
	char *cut = clean_str(description ? description : "", DESCRIPTION_MAX);
	pthread_mutex_lock(&l->lock);
	struct context_rec *c = context_get(l, context, true);
	if (c->state == state && c->description && strcmp(c->description, cut) == 0) {
		pthread_mutex_unlock(&l->lock);
		free(cut);
		return 0;
	}
	c->state = state;
	free(c->description);
	c->description = cut;
	c->updated = fl_now();
	return changed(l, err);
}

bool fl_ledger_context(struct fl_ledger *l, const char *context, enum fl_state *state,
		       struct fl_buf *description)
{
	pthread_mutex_lock(&l->lock);
	struct context_rec *c = context_get(l, context, false);
	if (c) {
		*state = c->state;
		if (description)
			fl_buf_puts(description, c->description ? c->description : "");
	}
	pthread_mutex_unlock(&l->lock);
	return c != NULL;
}

int fl_ledger_add_verify(struct fl_ledger *l, const char *tenant, const struct fl_verify_record *rec,
			 struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = tenant_get(l, tenant, true);
	FL_GROW(t->verify, t->capverify, t->nverify + 1);
	struct verify_rec *v = &t->verify[t->nverify++];
	memset(v, 0, sizeof(*v));
	v->name = clean_str(rec->name, SIZE_MAX - 1);
	v->region = clean_str(rec->region, SIZE_MAX - 1);
	v->output = clean_text(rec->output ? rec->output : "", rec->output ? rec->output_len : 0,
			       FL_LEDGER_OUTPUT_MAX);
	v->exit_code = rec->exit_code;
	v->timed_out = rec->timed_out;
	v->elapsed_ms = rec->elapsed_ms;
	v->time = rec->time;
	return changed(l, err);
}

bool fl_ledger_verify_passed(struct fl_ledger *l, const char *tenant, const char *region, const char *name)
{
	bool passed = false;
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = tenant_get(l, tenant, false);
	for (size_t i = 0; t && i < t->nverify && !passed; i++) {
		const struct verify_rec *v = &t->verify[i];
		passed = strcmp(v->region, region) == 0 && strcmp(v->name, name) == 0 && v->exit_code == 0 &&
			 !v->timed_out;
	}
	pthread_mutex_unlock(&l->lock);
	return passed;
}

int fl_ledger_set_tenant(struct fl_ledger *l, const char *tenant, const char *wave,
			 enum fl_tenant_result result, const struct fl_fp *fingerprint, const char *error,
			 struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = tenant_get(l, tenant, true);
	replace_str(&t->wave, wave);
	replace_str(&t->error, error);
	t->has_result = true;
	t->result = result;
	t->time = fl_now();
	if (fingerprint)
		fl_fp_hex(t->fp, fingerprint);
	else
		t->fp[0] = '\0';
	return changed(l, err);
}

bool fl_ledger_tenant(struct fl_ledger *l, const char *tenant, enum fl_tenant_result *result,
		      struct fl_buf *error)
{
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = tenant_get(l, tenant, false);
	bool found = t && t->has_result;
	if (found) {
		*result = t->result;
		if (error && t->error)
			fl_buf_puts(error, t->error);
	}
	pthread_mutex_unlock(&l->lock);
	return found;
}

int fl_ledger_wave_succeeded(struct fl_ledger *l, const char *wave, long long when, struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	struct wave_rec *w = wave_get(l, wave, true);
	if (w->succeeded_at) {
		pthread_mutex_unlock(&l->lock);
		return 0;
	}
	w->succeeded_at = when;
	return changed(l, err);
}

long long fl_ledger_wave_success_time(struct fl_ledger *l, const char *wave)
{
	pthread_mutex_lock(&l->lock);
	struct wave_rec *w = wave_get(l, wave, false);
	long long t = w ? w->succeeded_at : 0;
	pthread_mutex_unlock(&l->lock);
	return t;
}

int fl_ledger_add_receipt(struct fl_ledger *l, const char *tenant, const struct fl_receipt_item *items,
			  size_t n, long long when, struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = tenant_get(l, tenant, true);
	t->receipt = fl_reallocarray(t->receipt, t->nreceipt + n, sizeof(*t->receipt));
	for (size_t i = 0; i < n; i++) {
		struct receipt_rec *r = &t->receipt[t->nreceipt++];
		r->region = clean_str(items[i].region, SIZE_MAX - 1);
		r->kind = clean_str(items[i].kind, SIZE_MAX - 1);
		r->name = clean_str(items[i].name, SIZE_MAX - 1);
		fl_fp_hex(r->fp, &items[i].fp);
	}
	t->receipt_time = when;
	return changed(l, err);
}

int fl_ledger_text(struct fl_ledger *l, struct fl_buf *out, struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	int rc = render_text(l, out, err);
	pthread_mutex_unlock(&l->lock);
	return rc;
}
