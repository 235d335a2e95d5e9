/*
 * The ledger's notes (SPEC 5): its records written as pretty JSON
 * documents, and read back from them. Format 2 keeps two documents per
 * commit: the head (contexts and waves) under refs/notes/flotilla and the
 * tenants under refs/notes/flotilla-tenants, so that the small head can be
 * saved often while the tenants' document, which grows with the fleet, is
 * saved rarely (docs/design.md, "The ledger in two notes"). Format 1 was
 * one document holding all three; it is still read. Fields a document
 * lacks, or holds with the wrong type, read as empty, so an older or
 * hand-edited note still loads; only a note that is not a ledger at all is
 * refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/node.h"
#include "reconcile/rollout/ledger_internal.h"
#include "core/banned.h"

#define LEDGER_FORMAT 2
/* The one-document layout of older notes, still read. */
#define LEDGER_FORMAT_ONE 1

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
	struct fl_node *n = mk_map(b, 9);
	put(b, n, "name", mk_str(b, v->name));
	put(b, n, "region", mk_str(b, v->region));
	if (v->revision)
		put(b, n, "revision", mk_str(b, v->revision));
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
	struct fl_node *n = mk_map(b, 9);
	if (t->wave)
		put(b, n, "wave", mk_str(b, t->wave));
	if (t->has_result) {
		put(b, n, "result", mk_str(b, result_names[t->result]));
		put(b, n, "fingerprint", mk_str(b, t->fp));
		put(b, n, "time", mk_time(b, t->time));
	}
	if (t->error)
		put(b, n, "error", mk_str(b, t->error));
	if (t->verify_tail)
		put(b, n, "verify_tail", mk_str(b, t->verify_tail));
	if (t->rolled_back_to)
		put(b, n, "rolled_back_to", mk_str(b, t->rolled_back_to));
	struct fl_node *verify = mk_seq(b, t->nverify);
	for (size_t i = 0; i < t->nverify; i++)
		verify->v.seq.items[verify->v.seq.len++] = verify_node(b, &t->verify[i]);
	put(b, n, "verify", verify);
	if (t->nreceipt || t->receipt_time)
		put(b, n, "decommission_receipt", receipt_node(b, t));
	return n;
}

static struct fl_node *contexts_node(struct builder *b, const struct fl_ledger *l)
{
	struct fl_node *contexts = mk_map(b, l->ncontexts);
	for (size_t i = 0; i < l->ncontexts; i++) {
		const struct context_rec *c = &l->contexts[i];
		struct fl_node *n = mk_map(b, 3);
		put(b, n, "state", mk_str(b, state_names[c->state]));
		put(b, n, "description", mk_str(b, c->description ? c->description : ""));
		put(b, n, "updated", mk_time(b, c->updated));
		put(b, contexts, c->name, n);
	}
	return contexts;
}

static struct fl_node *shards_node(struct builder *b, const struct wave_rec *w)
{
	struct fl_node *shards = mk_map(b, w->nshards);
	for (size_t i = 0; i < w->nshards; i++) {
		const struct fl_shard_record *s = &w->shards[i];
		struct fl_node *n = mk_map(b, 7);
		char key[32];
		snprintf(key, sizeof(key), "%u/%u", s->k, s->n);
		put(b, n, "updated", mk_time(b, s->updated));
		put(b, n, "run", mk_str(b, s->run));
		if (s->running)
			put(b, n, "running", mk_bool(b, true));
		put(b, n, "total", mk_int(b, (long long)s->total));
		put(b, n, "done", mk_int(b, (long long)s->done));
		put(b, n, "failed", mk_int(b, (long long)s->failed));
		put(b, n, "skipped", mk_int(b, (long long)s->skipped));
		put(b, shards, key, n);
	}
	return shards;
}

static struct fl_node *waves_node(struct builder *b, const struct fl_ledger *l)
{
	struct fl_node *waves = mk_map(b, l->nwaves);
	for (size_t i = 0; i < l->nwaves; i++) {
		struct fl_node *n = mk_map(b, 2);
		if (l->waves[i].succeeded_at)
			put(b, n, "succeeded_at", mk_time(b, l->waves[i].succeeded_at));
		if (l->waves[i].nshards)
			put(b, n, "shards", shards_node(b, &l->waves[i]));
		put(b, waves, l->waves[i].name, n);
	}
	return waves;
}

static struct fl_node *document(struct builder *b, const struct fl_ledger *l, enum fl_ledger_part part)
{
	struct fl_node *doc = mk_map(b, 5);
	put(b, doc, "format", mk_int(b, LEDGER_FORMAT));
	put(b, doc, "revision", mk_str(b, l->revision));
	if (part & FL_LEDGER_HEAD) {
		put(b, doc, "contexts", contexts_node(b, l));
		put(b, doc, "waves", waves_node(b, l));
	}
	if (part == FL_LEDGER_HEAD)
		put(b, doc, "tenants_note", mk_str(b, FL_NOTES_TENANTS_REF));
	if (part & FL_LEDGER_TENANTS) {
		struct fl_node *tenants = mk_map(b, l->ntenants);
		for (size_t i = 0; i < l->ntenants; i++)
			put(b, tenants, l->tenants[i].name, tenant_node(b, &l->tenants[i]));
		put(b, doc, "tenants", tenants);
	}
	return doc;
}

int fl_ledger_note_render(struct fl_buf *out, const struct fl_ledger *l, enum fl_ledger_part part,
			  struct fl_error *err)
{
	struct fl_arena arena;
	struct builder b = { &arena };
	fl_arena_init(&arena, 64 * 1024);
	int rc = fl_json_pretty(out, document(&b, l, part), err);
	if (!rc)
		rc = fl_buf_putc(out, '\n');
	fl_arena_release(&arena);
	return rc;
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
		r->revision = str_of(v, "revision") ? fl_strdup(str_of(v, "revision")) : NULL;
		r->output = fl_strdup(str_of(v, "output") ? str_of(v, "output") : "");
		r->exit_code = (int)int_of(v, "exit_code");
		const struct fl_node *to = fl_node_get(v, "timed_out");
		r->timed_out = to && to->type == FL_NODE_BOOL && to->v.b;
		r->elapsed_ms = int_of(v, "elapsed_ms");
		r->time = fl_time_parse(str_of(v, "time"));
	}
}

static void load_receipt(struct tenant_rec *t, const struct fl_node *n)
{
	const struct fl_node *items = fl_node_get(n, "deleted");
	if (!n)
		return;
	t->receipt_time = fl_time_parse(str_of(n, "time"));
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

/* When a tenant's record last changed: its result, its last verify run, its receipt. */
static long long last_change(const struct tenant_rec *t)
{
	long long last = t->has_result ? t->time : 0;
	for (size_t i = 0; i < t->nverify; i++)
		last = t->verify[i].time > last ? t->verify[i].time : last;
	return t->receipt_time > last ? t->receipt_time : last;
}

static void load_tenant(struct fl_ledger *l, const char *name, const struct fl_node *n)
{
	struct tenant_rec *t = fl_ledger_tenant_rec(l, name, true);
	const char *result = str_of(n, "result"), *fp = str_of(n, "fingerprint");
	int idx = result ? name_index(result_names, sizeof(result_names) / sizeof(*result_names), result) : -1;
	/*
	 * A tenant in both documents (a head merged with a format 1 note of an
	 * older flotilla), or in memory and a note read back (fl_ledger_exchange):
	 * the later result is the tenant's record. A tenant in flight has verify
	 * runs and no result yet: an older result does not replace them.
	 */
	if (t->has_result || t->nverify || t->nreceipt) {
		if (idx < 0 || last_change(t) >= fl_time_parse(str_of(n, "time")))
			return;
		fl_ledger_tenant_clear(t);
	}
	fl_ledger_replace_str(&t->wave, str_of(n, "wave"));
	fl_ledger_replace_str(&t->error, str_of(n, "error"));
	fl_ledger_replace_str(&t->verify_tail, str_of(n, "verify_tail"));
	fl_ledger_replace_str(&t->rolled_back_to, str_of(n, "rolled_back_to"));
	if (idx >= 0) {
		t->has_result = true;
		t->result = (enum fl_tenant_result)idx;
		t->time = fl_time_parse(str_of(n, "time"));
		snprintf(t->fp, sizeof(t->fp), "%s", fp ? fp : "");
	}
	load_verify(t, fl_node_get(n, "verify"));
	load_receipt(t, fl_node_get(n, "decommission_receipt"));
}

/*
 * A note read into a ledger that has records already (fl_ledger_exchange)
 * keeps the later of each, by the merge's rules (notes_merge.h): a
 * context by its update time (a tie: the note's), but never a pending
 * state over a final one.
 */
static void load_context(struct fl_ledger *l, const char *name, const struct fl_node *n, enum fl_state state)
{
	struct context_rec *c = fl_ledger_context_rec(l, name, true);
	long long updated = fl_time_parse(str_of(n, "updated"));
	bool known = c->description || c->updated;
	bool ours_pending = c->state == FL_STATE_PENDING, theirs_pending = state == FL_STATE_PENDING;
	if (known && (ours_pending != theirs_pending ? theirs_pending : c->updated > updated))
		return;
	c->state = state;
	fl_ledger_replace_str(&c->description, str_of(n, "description"));
	c->updated = updated;
}

static size_t count_of(const struct fl_node *map, const char *key)
{
	long long v = int_of(map, key);
	return v > 0 ? (size_t)v : 0;
}

/*
 * A shard's record under its key "K/N"; of two, a finished one over one
 * running, else the later updated (a tie: the note's).
 */
static void load_shard(struct wave_rec *w, const char *key, const struct fl_node *n)
{
	unsigned k, total;
	char end;
	if (sscanf(key, "%u/%u%c", &k, &total, &end) != 2 || k < 1 || k > total || !n || n->type != FL_NODE_MAP)
		return;
	long long updated = fl_time_parse(str_of(n, "updated"));
	const struct fl_node *run_flag = fl_node_get(n, "running");
	bool running = run_flag && run_flag->type == FL_NODE_BOOL && run_flag->v.b;
	struct fl_shard_record *s = fl_ledger_shard_rec(w, k, total, false);
	if (s && (s->running != running ? running : s->updated > updated))
		return;
	s = s ? s : fl_ledger_shard_rec(w, k, total, true);
	s->updated = updated;
	s->running = running;
	snprintf(s->run, sizeof(s->run), "%s", str_of(n, "run") ? str_of(n, "run") : "");
	s->total = count_of(n, "total");
	s->done = count_of(n, "done");
	s->failed = count_of(n, "failed");
	s->skipped = count_of(n, "skipped");
}

/* A wave keeps its earliest success, and the later record of each shard. */
static void load_wave(struct fl_ledger *l, const char *name, const struct fl_node *n)
{
	struct wave_rec *w = fl_ledger_wave_rec(l, name, true);
	long long succeeded = fl_time_parse(str_of(n, "succeeded_at"));
	const struct fl_node *shards = fl_node_get(n, "shards");
	if (succeeded && (!w->succeeded_at || succeeded < w->succeeded_at))
		w->succeeded_at = succeeded;
	for (size_t i = 0; shards && shards->type == FL_NODE_MAP && i < shards->v.map.len; i++)
		load_shard(w, shards->v.map.items[i].key->v.str.ptr, shards->v.map.items[i].value);
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
		load_context(l, p->key->v.str.ptr, p->value, (enum fl_state)idx);
	}
	for (size_t i = 0; tenants && tenants->type == FL_NODE_MAP && i < tenants->v.map.len; i++)
		load_tenant(l, tenants->v.map.items[i].key->v.str.ptr, tenants->v.map.items[i].value);
	l->head_holds_tenants = tenants && tenants->type == FL_NODE_MAP && tenants->v.map.len;
	for (size_t i = 0; waves && waves->type == FL_NODE_MAP && i < waves->v.map.len; i++)
		load_wave(l, waves->v.map.items[i].key->v.str.ptr, waves->v.map.items[i].value);
}

int fl_ledger_note_parse(struct fl_ledger *l, const struct fl_buf *text, const char *ref, struct fl_error *err)
{
	struct fl_arena arena;
	struct fl_node *doc = NULL;
	char what[128];
	snprintf(what, sizeof(what), "git note %s", ref);
	struct fl_source src = { what, text->ptr, text->len };
	fl_arena_init(&arena, 64 * 1024);
	int rc = fl_json_parse(&doc, &arena, &src, err);
	long long format = !rc && doc->type == FL_NODE_MAP ? int_of(doc, "format") : 0;
	if (!rc && format != LEDGER_FORMAT && format != LEDGER_FORMAT_ONE)
		rc = fl_error_set(err, FL_EINPUT,
				  "the note on %s under %s is not a flotilla ledger (format %d or %d)", l->revision,
				  ref, LEDGER_FORMAT_ONE, LEDGER_FORMAT);
	if (!rc)
		load_document(l, doc);
	fl_arena_release(&arena);
	return rc;
}
