/*
 * The merge of two ledger notes, done on the parsed JSON trees rather than on
 * the ledger's records, so that it keeps every field, including ones a newer
 * flotilla wrote. Maps are merged by walking both sides' keys in sorted order:
 * a fleet's note holds one entry per tenant, and looking every key up in the
 * other side would be quadratic.
 */
#include "reconcile/rollout/notes_merge.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/json.h"
#include "core/node.h"
#include "core/banned.h"

/* Ledger notes of format 1 (one document) and 2 (head and tenants in two notes) merge alike. */
#define LEDGER_FORMAT_ONE 1
#define LEDGER_FORMAT 2

/* The merge of two values found under the same key (a string of the tree) on both sides. */
typedef const struct fl_node *(*merge_fn)(struct fl_arena *arena, const char *key,
					  const struct fl_node *local, const struct fl_node *remote);

/* Compares two strings of the tree bytewise, the shorter first on a tie (the canonical key order). */
static int str_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return (alen > blen) - (alen < blen);
}

static int key_cmp(const void *a, const void *b)
{
	const struct fl_pair *pa = *(const struct fl_pair *const *)a, *pb = *(const struct fl_pair *const *)b;

	return str_cmp(pa->key->v.str.ptr, pa->key->v.str.len, pb->key->v.str.ptr, pb->key->v.str.len);
}

/* Orders the two values by their canonical JSON: the tie-break that keeps the merge symmetric. */
static int canonical_cmp(const struct fl_node *a, const struct fl_node *b)
{
	struct fl_buf ta = FL_BUF_INIT, tb = FL_BUF_INIT;
	int c;

	/* Parsed JSON holds no float that JSON cannot print, and the buffers have no maximum. */
	(void)fl_json_canonical(&ta, a, NULL);
	(void)fl_json_canonical(&tb, b, NULL);
	c = str_cmp(ta.ptr, ta.len, tb.ptr, tb.len);
	fl_buf_release(&ta);
	fl_buf_release(&tb);
	return c;
}

/*
 * A time of the ledger ("2026-11-25T12:45:00Z") under key as a number that
 * orders like the time; 0 when missing or in another form.
 */
static long long stamp(const struct fl_node *map, const char *key)
{
	const struct fl_node *n = fl_node_get(map, key);
	int y, mo, d, h, mi, s;
	char z;

	if (!n || n->type != FL_NODE_STR ||
	    sscanf(n->v.str.ptr, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z) != 7 || z != 'Z')
		return 0;
	return ((((y * 100LL + mo) * 100 + d) * 100 + h) * 100 + mi) * 100 + s;
}

/* The side whose time under key is later; a tie goes to the greater canonical JSON. */
static const struct fl_node *later(const struct fl_node *local, const struct fl_node *remote, const char *key)
{
	long long l = stamp(local, key), r = stamp(remote, key);

	if (l != r)
		return l > r ? local : remote;
	return canonical_cmp(local, remote) >= 0 ? local : remote;
}

static bool pending(const struct fl_node *context)
{
	const struct fl_node *n = fl_node_get(context, "state");
	return n && n->type == FL_NODE_STR && strcmp(n->v.str.ptr, "pending") == 0;
}

/*
 * The later update wins, but never a pending state over a final one: a
 * wave's context does not go back to pending once it has ended, so a
 * pending one written at the same second (times are whole seconds), or
 * on a machine whose clock is ahead, is progress the end overtook (the
 * shards of apply --shard all write a wave's end).
 */
static const struct fl_node *merge_context(struct fl_arena *arena, const char *key,
					   const struct fl_node *local, const struct fl_node *remote)
{
	(void)arena;
	(void)key;
	if (pending(local) != pending(remote))
		return pending(local) ? remote : local;
	return later(local, remote, "updated");
}

/* A verify run with the side it came from, for the union. */
struct verify_item {
	const struct fl_node *node;
	bool winner; /* from the tenant record that won */
};

static const char *str_or_empty(const struct fl_node *map, const char *key)
{
	const struct fl_node *n = fl_node_get(map, key);

	return n && n->type == FL_NODE_STR ? n->v.str.ptr : "";
}

/* Chronological, then by name and region; of two equal runs, the winner's first. */
static int verify_cmp(const void *a, const void *b)
{
	const struct verify_item *va = a, *vb = b;
	int c = strcmp(str_or_empty(va->node, "time"), str_or_empty(vb->node, "time"));

	if (!c)
		c = strcmp(str_or_empty(va->node, "name"), str_or_empty(vb->node, "name"));
	if (!c)
		c = strcmp(str_or_empty(va->node, "region"), str_or_empty(vb->node, "region"));
	if (!c)
		c = (int)vb->winner - (int)va->winner;
	return c;
}

static bool same_run(const struct fl_node *a, const struct fl_node *b)
{
	return strcmp(str_or_empty(a, "time"), str_or_empty(b, "time")) == 0 &&
	       strcmp(str_or_empty(a, "name"), str_or_empty(b, "name")) == 0 &&
	       strcmp(str_or_empty(a, "region"), str_or_empty(b, "region")) == 0;
}

/* Adds the items of a "verify" list to items (of *n). */
static void collect_verify(struct verify_item *items, size_t *n, const struct fl_node *seq, bool winner)
{
	for (size_t i = 0; seq && seq->type == FL_NODE_SEQ && i < seq->v.seq.len; i++) {
		items[*n].node = seq->v.seq.items[i];
		items[*n].winner = winner;
		(*n)++;
	}
}

static size_t seq_len(const struct fl_node *n)
{
	return n && n->type == FL_NODE_SEQ ? n->v.seq.len : 0;
}

/* The union of the verify runs of two records, one per (name, region, time). */
static struct fl_node *verify_union(struct fl_arena *arena, const struct fl_node *winner,
				    const struct fl_node *loser)
{
	const struct fl_node *wv = fl_node_get(winner, "verify"), *lv = fl_node_get(loser, "verify");
	size_t n = 0, total = seq_len(wv) + seq_len(lv);
	struct verify_item *items = fl_calloc(total ? total : 1, sizeof(*items));
	struct fl_node *seq = fl_arena_alloc(arena, sizeof(*seq));

	collect_verify(items, &n, wv, true);
	collect_verify(items, &n, lv, false);
	qsort(items, n, sizeof(*items), verify_cmp);
	seq->type = FL_NODE_SEQ;
	seq->v.seq.items = fl_arena_calloc(arena, n ? n : 1, sizeof(*seq->v.seq.items));
	for (size_t i = 0; i < n; i++) {
		if (seq->v.seq.len && same_run(seq->v.seq.items[seq->v.seq.len - 1], items[i].node))
			continue;
		seq->v.seq.items[seq->v.seq.len++] = (struct fl_node *)items[i].node;
	}
	free(items);
	return seq;
}

/* The pair under key in a map, or NULL. */
static const struct fl_pair *find_pair(const struct fl_node *map, const char *key)
{
	for (size_t i = 0; map->type == FL_NODE_MAP && i < map->v.map.len; i++)
		if (strcmp(map->v.map.items[i].key->v.str.ptr, key) == 0)
			return &map->v.map.items[i];
	return NULL;
}

/*
 * The record with the later "time" wins, with the union of both sides'
 * verify runs, and the other side's decommission receipt if it has none:
 * a record of what was deleted is never dropped.
 */
static const struct fl_node *merge_tenant(struct fl_arena *arena, const char *key,
					  const struct fl_node *local, const struct fl_node *remote)
{
	const struct fl_node *winner = later(local, remote, "time");
	const struct fl_node *loser = winner == local ? remote : local;
	const struct fl_pair *loser_verify, *loser_receipt;
	struct fl_node *out;

	(void)key;
	if (winner->type != FL_NODE_MAP || loser->type != FL_NODE_MAP)
		return winner;
	loser_verify = find_pair(loser, "verify");
	loser_receipt = find_pair(loser, "decommission_receipt");
	out = fl_arena_alloc(arena, sizeof(*out));
	out->type = FL_NODE_MAP;
	out->v.map.items = fl_arena_calloc(arena, winner->v.map.len + 2, sizeof(struct fl_pair));
	for (size_t i = 0; i < winner->v.map.len; i++) {
		struct fl_pair p = winner->v.map.items[i];

		if (strcmp(p.key->v.str.ptr, "verify") == 0)
			p.value = verify_union(arena, winner, loser);
		out->v.map.items[out->v.map.len++] = p;
	}
	if (loser_verify && !find_pair(winner, "verify")) {
		out->v.map.items[out->v.map.len].key = loser_verify->key;
		out->v.map.items[out->v.map.len++].value = verify_union(arena, winner, loser);
	}
	if (loser_receipt && !find_pair(winner, "decommission_receipt"))
		out->v.map.items[out->v.map.len++] = *loser_receipt;
	return out;
}

/* The pairs of a map, sorted by key; the caller frees the array. */
static const struct fl_pair **sorted_pairs(const struct fl_node *map, size_t *n)
{
	size_t len = map && map->type == FL_NODE_MAP ? map->v.map.len : 0;
	const struct fl_pair **pairs = fl_calloc(len ? len : 1, sizeof(*pairs));

	for (size_t i = 0; i < len; i++)
		pairs[i] = &map->v.map.items[i];
	qsort(pairs, len, sizeof(*pairs), key_cmp);
	*n = len;
	return pairs;
}

/*
 * The union of two maps: a key on one side keeps its value, a key on both
 * gets merge(local, remote). Either side may be missing or not a map.
 */
static struct fl_node *merge_maps(struct fl_arena *arena, const struct fl_node *local,
				  const struct fl_node *remote, merge_fn merge)
{
	size_t nl, nr, i = 0, j = 0;
	const struct fl_pair **lp = sorted_pairs(local, &nl), **rp = sorted_pairs(remote, &nr);
	struct fl_node *out = fl_arena_alloc(arena, sizeof(*out));

	out->type = FL_NODE_MAP;
	out->v.map.items = fl_arena_calloc(arena, nl + nr ? nl + nr : 1, sizeof(struct fl_pair));
	while (i < nl || j < nr) {
		struct fl_pair *p = &out->v.map.items[out->v.map.len++];
		int c = i == nl ? 1 : j == nr ? -1 : key_cmp(&lp[i], &rp[j]);

		if (c < 0) {
			*p = *lp[i++];
		} else if (c > 0) {
			*p = *rp[j++];
		} else {
			p->key = lp[i]->key;
			p->value =
				(struct fl_node *)merge(arena, p->key->v.str.ptr, lp[i]->value, rp[j]->value);
			i++;
			j++;
		}
	}
	free(lp);
	free(rp);
	return out;
}

/* The earliest success of a wave is when it succeeded; a wave not yet succeeded loses. */
static const struct fl_node *earliest_success(const struct fl_node *local, const struct fl_node *remote)
{
	long long l = stamp(local, "succeeded_at"), r = stamp(remote, "succeeded_at");

	if (l && (!r || l < r))
		return local;
	if (r && (!l || r < l))
		return remote;
	return canonical_cmp(local, remote) >= 0 ? local : remote;
}

static bool running(const struct fl_node *shard)
{
	const struct fl_node *n = fl_node_get(shard, "running");
	return n && n->type == FL_NODE_BOOL && n->v.b;
}

/*
 * Of one shard's two records (apply --shard K/N): a finished one over its
 * counts while it ran, else the later, as for contexts.
 */
static const struct fl_node *merge_shard(struct fl_arena *arena, const char *key, const struct fl_node *local,
					 const struct fl_node *remote)
{
	(void)arena;
	(void)key;
	if (running(local) != running(remote))
		return running(local) ? remote : local;
	return later(local, remote, "updated");
}

/* A wave's "shards" pair when its value is a map; a note from a remote may hold anything there. */
static const struct fl_pair *shards_pair(const struct fl_node *wave)
{
	const struct fl_pair *p = find_pair(wave, "shards");

	return p && p->value->type == FL_NODE_MAP ? p : NULL;
}

/*
 * The winning wave entry, its "shards" the union of both sides' shard
 * records: each shard's record is its CI job's part of the wave's barrier,
 * and must survive whichever side's entry won. Without shard records on the
 * loser, the winner as it is.
 */
static const struct fl_node *merge_wave(struct fl_arena *arena, const char *key, const struct fl_node *local,
					const struct fl_node *remote)
{
	const struct fl_node *winner = earliest_success(local, remote);
	const struct fl_node *loser = winner == local ? remote : local;
	const struct fl_pair *winner_shards = shards_pair(winner), *loser_shards = shards_pair(loser);
	struct fl_node *out, *shards;
	bool placed = false;

	(void)key;
	if (!loser_shards || winner->type != FL_NODE_MAP)
		return winner;
	shards = merge_maps(arena, winner_shards ? winner_shards->value : NULL, loser_shards->value,
			    merge_shard);
	out = fl_arena_alloc(arena, sizeof(*out));
	out->type = FL_NODE_MAP;
	out->v.map.items = fl_arena_calloc(arena, winner->v.map.len + 1, sizeof(struct fl_pair));
	for (size_t i = 0; i < winner->v.map.len; i++) {
		struct fl_pair p = winner->v.map.items[i];

		if (strcmp(p.key->v.str.ptr, "shards") == 0) {
			p.value = shards;
			placed = true;
		}
		out->v.map.items[out->v.map.len++] = p;
	}
	if (!placed) {
		out->v.map.items[out->v.map.len].key = loser_shards->key;
		out->v.map.items[out->v.map.len++].value = shards;
	}
	return out;
}

/* The top level: the three parts merged by their rules, anything else kept from the local side. */
static const struct fl_node *merge_top(struct fl_arena *arena, const char *key, const struct fl_node *local,
				       const struct fl_node *remote)
{
	static const struct {
		const char *key;
		merge_fn merge;
	} parts[] = {
		{ "contexts", merge_context },
		{ "tenants", merge_tenant },
		{ "waves", merge_wave },
	};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (strcmp(key, parts[i].key) == 0)
			return merge_maps(arena, local, remote, parts[i].merge);
	}
	return local;
}

/* Parses a note; NULL when it is not a ledger. */
static const struct fl_node *parse_ledger(struct fl_arena *arena, const char *path, const char *text,
					  size_t len)
{
	struct fl_source src = { path, text, len };
	struct fl_error ignored = FL_ERROR_INIT;
	struct fl_node *doc = NULL;
	const struct fl_node *format;

	if (fl_json_parse(&doc, arena, &src, &ignored) || doc->type != FL_NODE_MAP)
		return NULL;
	format = fl_node_get(doc, "format");
	if (!format || format->type != FL_NODE_INT ||
	    (format->v.i != LEDGER_FORMAT && format->v.i != LEDGER_FORMAT_ONE))
		return NULL;
	return doc;
}

int fl_notes_merge(struct fl_buf *out, const char *local, size_t local_len, const char *remote,
		   size_t remote_len, struct fl_error *err)
{
	struct fl_arena arena;
	const struct fl_node *l, *r, *doc;
	int rc;

	fl_arena_init(&arena, 64 * 1024);
	l = parse_ledger(&arena, "local note", local, local_len);
	r = parse_ledger(&arena, "remote note", remote, remote_len);
	if (!l && !r) {
		rc = fl_error_set(err, FL_EINPUT,
				  "cannot merge two notes of which neither is a flotilla ledger "
				  "(format %d or %d)",
				  LEDGER_FORMAT_ONE, LEDGER_FORMAT);
		goto out;
	}
	doc = !l ? r : !r ? l : merge_maps(&arena, l, r, merge_top);
	rc = fl_json_pretty(out, doc, err);
	if (!rc && fl_buf_putc(out, '\n'))
		rc = fl_error_set(err, FL_ELIMIT, "the merged note is too large");
out:
	fl_arena_release(&arena);
	return rc;
}
