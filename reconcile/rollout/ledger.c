/*
 * The ledger of a commit's rollout, kept in memory as plain records and
 * saved as two pretty JSON git notes (ledger_note.c writes and reads the
 * JSON): the head (contexts and waves) and the tenants. Saving is
 * throttled, because a fleet of thousands of tenants would otherwise
 * rewrite a large note thousands of times and fill the repository with
 * blobs that a push sends on. A flusher thread saves a document when both
 * hold:
 *   - its last save is save_period() old: FLUSH_MS, or SAVE_SHARE times
 *     what that save took when longer, so saving stays a small share of
 *     the run;
 *   - the records changed since then amount to a share of its size: for
 *     the tenants, TENANTS_GROWTH times the document's last saved size,
 *     so the saved sizes grow geometrically and all the blobs of one run
 *     stay within a small multiple of the final note (docs/design.md, "The
 *     ledger in two notes"); for the small head, HEAD_SHARE times its
 *     size in records of any kind, or HEAD_WAIT_MS after a change, so
 *     `flotilla status` shows a wave's progress while it runs.
 * The rollout saves the head at each wave's end (fl_ledger_checkpoint) and
 * everything at the end of the run and before waiting (fl_ledger_flush).
 * Notes are written with the lock dropped, so tenants finishing meanwhile
 * record their results instead of waiting for git. Nothing lost by a crash
 * in between is beyond what level-triggered resume rebuilds from the
 * accounts' markers and the verify receipts.
 */
#include "reconcile/rollout/ledger.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "reconcile/rollout/ledger_internal.h"
#include "core/banned.h"

#define FLUSH_MS 250
/* Saving takes at most about 1 / (SAVE_SHARE + 1) of a run's time. */
#define SAVE_SHARE 10
/*
 * The tenants' document is saved when the records changed since its last
 * save amount to TENANTS_GROWTH times that save's size (at least
 * TENANTS_MIN): each save is at least 1 + TENANTS_GROWTH times the one
 * before, so the saves before the last sum to at most 4/3 of it, and all of
 * them with the last to at most 2.33 times the final document. The head is
 * saved when the bytes recorded since its last save reach HEAD_SHARE times
 * its size: its saves sum to at most 1 / HEAD_SHARE of the bytes recorded,
 * plus one a wave. Records are counted short of their JSON (no keys or
 * indentation for strings), which only makes saves rarer.
 */
#define TENANTS_GROWTH 3
#define TENANTS_MIN (16 * 1024)
#define HEAD_SHARE 4
/* A head change too small to be due by size (a context alone) waits at most this long. */
#define HEAD_WAIT_MS 2000
/* What a record adds to its document besides its strings: keys, times, indentation. */
#define RECORD_OVERHEAD 160
#define DESCRIPTION_MAX 140

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

char *fl_ledger_clean_text(const char *s, size_t len, size_t max)
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
	return fl_ledger_clean_text(s, strlen(s), max);
}

/* ---- records ---- */

/* Each kind of record begins with its name: record_get finds any of them by it. */
_Static_assert(offsetof(struct tenant_rec, name) == 0, "a tenant record begins with its name");
_Static_assert(offsetof(struct context_rec, name) == 0, "a context record begins with its name");
_Static_assert(offsetof(struct wave_rec, name) == 0, "a wave record begins with its name");

/*
 * The record called name among *n of size bytes at *items, found through
 * idx, and appended (and filed) when create.
 */
static void *record_get(void **items, size_t *n, size_t *cap, struct fl_name_index *idx, size_t size,
			const char *name, bool create)
{
	size_t pos = fl_name_index_find(idx, *items, size, name);
	if (pos != FL_NAME_INDEX_NONE)
		return (char *)*items + pos * size;
	if (!create)
		return NULL;
	fl_grow(items, cap, *n + 1, size);
	char *rec = (char *)*items + *n * size;
	memset(rec, 0, size);
	*(char **)rec = clean_str(name, SIZE_MAX - 1);
	fl_name_index_add(idx, *items, size, (*n)++);
	return rec;
}

struct tenant_rec *fl_ledger_tenant_rec(struct fl_ledger *l, const char *name, bool create)
{
	return record_get((void **)&l->tenants, &l->ntenants, &l->captenants, &l->tenant_index,
			  sizeof(*l->tenants), name, create);
}

struct context_rec *fl_ledger_context_rec(struct fl_ledger *l, const char *name, bool create)
{
	return record_get((void **)&l->contexts, &l->ncontexts, &l->capcontexts, &l->context_index,
			  sizeof(*l->contexts), name, create);
}

struct wave_rec *fl_ledger_wave_rec(struct fl_ledger *l, const char *name, bool create)
{
	return record_get((void **)&l->waves, &l->nwaves, &l->capwaves, &l->wave_index, sizeof(*l->waves),
			  name, create);
}

struct fl_shard_record *fl_ledger_shard_rec(struct wave_rec *w, unsigned k, unsigned n, bool create)
{
	for (size_t i = 0; i < w->nshards; i++)
		if (w->shards[i].k == k && w->shards[i].n == n)
			return &w->shards[i];
	if (!create)
		return NULL;
	FL_GROW(w->shards, w->capshards, w->nshards + 1);
	struct fl_shard_record *s = &w->shards[w->nshards++];
	memset(s, 0, sizeof(*s));
	s->k = k;
	s->n = n;
	return s;
}

void fl_ledger_replace_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? clean_str(src, SIZE_MAX - 1) : NULL;
}

void fl_ledger_tenant_clear(struct tenant_rec *t)
{
	char *name = t->name;
	free(t->wave);
	free(t->error);
	free(t->verify_tail);
	free(t->rolled_back_to);
	for (size_t i = 0; i < t->nverify; i++) {
		free(t->verify[i].name);
		free(t->verify[i].region);
		free(t->verify[i].output);
		free(t->verify[i].revision);
	}
	free(t->verify);
	for (size_t i = 0; i < t->nreceipt; i++) {
		free(t->receipt[i].region);
		free(t->receipt[i].kind);
		free(t->receipt[i].name);
	}
	free(t->receipt);
	memset(t, 0, sizeof(*t));
	t->name = name;
}

/* ---- saving ---- */

/* How long after a save the next one of that document waits. */
static long long save_period(long long cost_ms)
{
	long long scaled = cost_ms * SAVE_SHARE;
	return scaled > FLUSH_MS ? scaled : FLUSH_MS;
}

/* The records changed since doc's last save are enough to save it again (lock held). */
static bool grown(const struct ledger_doc *doc, size_t floor, size_t share)
{
	size_t base = doc->size > floor ? doc->size : floor;
	return doc->dirty && doc->delta >= share * base;
}

static bool head_grown(const struct fl_ledger *l)
{
	return grown(&l->head, 0, HEAD_SHARE) ||
	       (l->head.dirty && fl_mono_ms() - l->head.saved_ms >= HEAD_WAIT_MS);
}

static bool tenants_grown(const struct fl_ledger *l)
{
	return grown(&l->tenants_doc, TENANTS_MIN, TENANTS_GROWTH);
}

/* Whether doc is saved now in mode (lock held). */
static bool due(const struct ledger_doc *doc, bool has_grown, bool forced, long long now)
{
	if (!doc->dirty)
		return false;
	return forced || (has_grown && now - doc->saved_ms >= save_period(doc->cost_ms));
}

/* Writes text as doc's note with the lock dropped, and books the outcome. */
static int write_doc(struct fl_ledger *l, struct ledger_doc *doc, const char *ref, struct fl_buf *text,
		     struct fl_error *err)
{
	long long started = fl_mono_ms();
	size_t delta = doc->delta;
	struct fl_oid written;
	doc->dirty = false;
	doc->delta = 0;
	pthread_mutex_unlock(&l->lock);
	int rc = fl_repo_note_write(&written, l->repo, ref, &l->commit, text->ptr, text->len, err);
	pthread_mutex_lock(&l->lock);
	if (rc) {
		doc->dirty = true;
		doc->delta += delta;
	} else {
		/* No load runs while a save does (saving is set): the ref is as this note left it. */
		doc->ref_at = written;
		doc->ref_known = true;
		doc->size = text->len;
		l->saves++;
		l->saved_bytes += text->len;
	}
	/* After a failure too: a failing save is retried a period later, not by every change. */
	doc->saved_ms = fl_mono_ms();
	doc->cost_ms = doc->saved_ms - started;
	return rc;
}

/* Renders and writes doc if it is due (lock held, dropped while writing). */
static int save_doc(struct fl_ledger *l, enum fl_ledger_part part, bool forced, struct fl_error *err)
{
	bool head = part == FL_LEDGER_HEAD;
	struct ledger_doc *doc = head ? &l->head : &l->tenants_doc;
	if (!due(doc, head ? head_grown(l) : tenants_grown(l), forced, fl_mono_ms()))
		return 0;
	struct fl_buf text = FL_BUF_INIT;
	int rc = fl_ledger_note_render(&text, l, part, err);
	if (!rc)
		rc = write_doc(l, doc, head ? FL_NOTES_REF : FL_NOTES_TENANTS_REF, &text, err);
	fl_buf_release(&text);
	return rc;
}

/*
 * Removes the files of fl_ledger_unlink_after_save once the tenants note
 * holds every record (lock held, within a save): each was recorded before
 * its file was named, so a tenants document with no change left unsaved
 * holds them all.
 */
static void unlink_saved(struct fl_ledger *l)
{
	if (l->tenants_doc.dirty)
		return;
	for (size_t i = 0; i < l->nunlink; i++) {
		unlink(l->unlink_after[i]);
		free(l->unlink_after[i]);
	}
	l->nunlink = 0;
}

/*
 * Saves what mode asks: SAVE_DUE what has grown and waited its period,
 * SAVE_HEAD the head and the tenants when due, SAVE_ALL everything
 * changed. Called with the lock held, which it drops while git writes.
 * One save at a time: l->repo is not shared between threads, and a later
 * save must not be overtaken by an earlier one. The tenants go first, so
 * that a head never announces more than its tenants' document holds.
 */
static int save(struct fl_ledger *l, enum save_mode mode, struct fl_error *err)
{
	while (l->saving)
		pthread_cond_wait(&l->saved, &l->lock);
	l->saving = true;
	/*
	 * A head read with tenants in it (format 1) is only replaced once the
	 * tenants note holds them: a format 2 head leaves them out.
	 */
	bool head_due = due(&l->head, head_grown(l), mode != SAVE_DUE, fl_mono_ms());
	size_t saves = l->saves;
	int rc = save_doc(l, FL_LEDGER_TENANTS, mode == SAVE_ALL || (head_due && l->head_holds_tenants), err);
	if (l->saves > saves)
		l->head_holds_tenants = false;
	/* A tenants note is never without its head: the head names it, and `git notes show` starts there. */
	if (l->tenants_doc.size && !l->head.size)
		l->head.dirty = true;
	if (!rc && !l->head_holds_tenants)
		rc = save_doc(l, FL_LEDGER_HEAD, mode != SAVE_DUE, err);
	unlink_saved(l);
	l->saving = false;
	pthread_cond_broadcast(&l->saved);
	return rc;
}

/* Milliseconds until the flusher has something to save; -1 when nothing will be before a change. */
static long long next_due(const struct fl_ledger *l, long long now)
{
	long long wait = -1;
	const struct ledger_doc *docs[] = { &l->head, &l->tenants_doc };
	bool has_grown[] = { head_grown(l), tenants_grown(l) };
	for (size_t i = 0; i < 2; i++) {
		long long w;
		if (has_grown[i])
			w = docs[i]->saved_ms + save_period(docs[i]->cost_ms) - now;
		else if (i == 0 && docs[i]->dirty)
			w = docs[i]->saved_ms + HEAD_WAIT_MS - now;
		else
			continue;
		w = w > 0 ? w : 0;
		if (wait < 0 || w < wait)
			wait = w;
	}
	return wait;
}

static void timed_wait(struct fl_ledger *l, long long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&l->wake, &l->lock, &ts);
}

static void *flusher_main(void *arg)
{
	struct fl_ledger *l = arg;
	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		long long wait = next_due(l, fl_mono_ms());
		if (wait < 0) {
			pthread_cond_wait(&l->wake, &l->lock);
		} else if (wait > 0) {
			timed_wait(l, wait);
		} else {
			struct fl_error e = FL_ERROR_INIT;
			if (save(l, SAVE_DUE, &e))
				l->save_error = e;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* ---- opening and closing ---- */

/* The commit ref points to; the zero id when there is no such ref. */
static int ref_at(struct fl_oid *out, struct fl_repo *repo, const char *ref, struct fl_error *err)
{
	int rc = fl_repo_ref_id(out, repo, ref, err);
	if (rc == FL_ENOTFOUND) {
		fl_error_clear(err);
		memset(out, 0, sizeof(*out));
		rc = 0;
	}
	return rc;
}

/*
 * Reads commit's note under ref into l, if there is one, and sets doc's
 * size to its length (0: none); *read false when it was not read because
 * the ref has not moved since this ledger last read or wrote the note. A
 * 100,000-tenant note takes 0.2 to 0.4 s to parse, with the lock
 * held: an exchange that brought nothing from elsewhere must not pay it.
 */
static int load_note(bool *read, struct fl_ledger *l, struct fl_repo *repo, struct ledger_doc *doc,
		     const char *ref, struct fl_error *err)
{
	struct fl_buf text = FL_BUF_INIT;
	struct fl_oid at;
	/* The ref before the note: a write in between is read now and again next time, never missed. */
	int rc = ref_at(&at, repo, ref, err);
	*read = !rc && !(doc->ref_known && fl_oid_equal(&at, &doc->ref_at));
	if (!*read)
		return rc;
	rc = fl_repo_note_read(&text, repo, ref, &l->commit, err);
	doc->size = 0;
	if (rc == FL_ENOTFOUND) {
		/* No note yet: the rollout of this commit has not begun. */
		fl_error_clear(err);
		rc = 0;
	} else if (!rc) {
		doc->size = text.len;
		rc = fl_ledger_note_parse(l, &text, ref, err);
	}
	if (!rc) {
		doc->ref_at = at;
		doc->ref_known = true;
	}
	fl_buf_release(&text);
	return rc;
}

/*
 * Reads both notes, each only if its ref moved: the tenants first, so
 * that a format 1 head's own tenants are weighed against them. Tenants
 * read from the head are saved to the tenants note before the head is
 * next saved without them.
 */
static int load(struct fl_ledger *l, struct fl_repo *repo, struct fl_error *err)
{
	bool held = l->head_holds_tenants, read;
	int rc = load_note(&read, l, repo, &l->tenants_doc, FL_NOTES_TENANTS_REF, err);
	if (rc)
		return rc;
	/* Parsing counts any note's tenants as the head's: only the head's own say. */
	l->head_holds_tenants = false;
	rc = load_note(&read, l, repo, &l->head, FL_NOTES_REF, err);
	if (!read)
		l->head_holds_tenants = held;
	if (l->head_holds_tenants)
		l->tenants_doc.dirty = true;
	return rc;
}

static struct fl_ledger *ledger_new(const struct fl_oid *commit)
{
	struct fl_ledger *l = fl_calloc(1, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	pthread_cond_init(&l->saved, NULL);
	l->commit = *commit;
	fl_oid_hex(l->revision, commit);
	return l;
}

int fl_ledger_read(struct fl_ledger **out, bool *found, struct fl_repo *repo, const struct fl_oid *commit,
		   struct fl_error *err)
{
	struct fl_ledger *l = ledger_new(commit);
	int rc = load(l, repo, err);
	if (rc == FL_EINPUT) {
		fl_error_clear(err);
		rc = 0;
		l->head.size = l->tenants_doc.size = 0;
	}
	*out = NULL;
	*found = !rc && (l->head.size || l->tenants_doc.size);
	if (rc || !*found) {
		fl_ledger_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

int fl_ledger_open(struct fl_ledger **out, const char *gitdir, const struct fl_oid *commit,
		   struct fl_error *err)
{
	struct fl_ledger *l = ledger_new(commit);
	int rc;
	*out = NULL;
	if ((rc = fl_repo_open(&l->repo, gitdir, err)) || (rc = load(l, l->repo, err))) {
		fl_ledger_free(l);
		return rc;
	}
	l->flusher_running = pthread_create(&l->flusher, NULL, flusher_main, l) == 0;
	*out = l;
	return 0;
}

int fl_ledger_open_brief(struct fl_ledger **out, struct fl_repo *repo, const struct fl_oid *commit,
			 struct fl_error *err)
{
	struct fl_ledger *l = ledger_new(commit);
	int rc;
	*out = NULL;
	l->repo = repo;
	l->repo_borrowed = true;
	if ((rc = load(l, repo, err))) {
		fl_ledger_free(l);
		return rc;
	}
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
		save(l, SAVE_ALL, &ignored);
		pthread_mutex_unlock(&l->lock);
	}
	/* Files still waiting stay: their records never reached a note. */
	for (size_t i = 0; i < l->nunlink; i++)
		free(l->unlink_after[i]);
	free(l->unlink_after);
	for (size_t i = 0; i < l->ncontexts; i++) {
		free(l->contexts[i].name);
		free(l->contexts[i].description);
	}
	free(l->contexts);
	for (size_t i = 0; i < l->ntenants; i++) {
		fl_ledger_tenant_clear(&l->tenants[i]);
		free(l->tenants[i].name);
	}
	free(l->tenants);
	for (size_t i = 0; i < l->nwaves; i++) {
		free(l->waves[i].name);
		free(l->waves[i].shards);
	}
	free(l->waves);
	fl_name_index_release(&l->context_index);
	fl_name_index_release(&l->tenant_index);
	fl_name_index_release(&l->wave_index);
	if (!l->repo_borrowed)
		fl_repo_free(l->repo);
	pthread_cond_destroy(&l->wake);
	pthread_cond_destroy(&l->saved);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* Saves in mode, and reports a failed save of the flusher once. */
static int save_now(struct fl_ledger *l, enum save_mode mode, struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	int rc = save(l, mode, err);
	if (!rc && l->save_error.code) {
		if (err)
			*err = l->save_error;
		rc = l->save_error.code;
		fl_error_clear(&l->save_error);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void fl_ledger_unlink_after_save(struct fl_ledger *l, const char *path)
{
	pthread_mutex_lock(&l->lock);
	FL_GROW(l->unlink_after, l->capunlink, l->nunlink + 1);
	l->unlink_after[l->nunlink++] = fl_strdup(path);
	pthread_mutex_unlock(&l->lock);
}

int fl_ledger_flush(struct fl_ledger *l, struct fl_error *err)
{
	return save_now(l, SAVE_ALL, err);
}

int fl_ledger_checkpoint(struct fl_ledger *l, struct fl_error *err)
{
	return save_now(l, SAVE_HEAD, err);
}

int fl_ledger_exchange(struct fl_ledger *l, bool whole, fl_ledger_share_fn share, void *payload,
		       struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	int rc = save(l, whole ? SAVE_ALL : SAVE_HEAD, err);
	/* save() returns holding the lock with no save running: none starts until saving goes false. */
	l->saving = true;
	pthread_mutex_unlock(&l->lock);
	if (!rc)
		rc = share(payload, err);
	pthread_mutex_lock(&l->lock);
	/* Only a note whose ref share() or another writer moved is read: the others hold nothing new. */
	if (!rc)
		rc = load(l, l->repo, err);
	l->saving = false;
	pthread_cond_broadcast(&l->saved);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void fl_ledger_save_stats(struct fl_ledger *l, size_t *saves, size_t *bytes)
{
	pthread_mutex_lock(&l->lock);
	*saves = l->saves;
	*bytes = l->saved_bytes;
	pthread_mutex_unlock(&l->lock);
}

/* ---- changes ---- */

/*
 * Ends a change of about bytes in the document part (HEAD or TENANTS):
 * marks it dirty for the flusher (saved here only without one). A tenant's
 * change counts towards the head's next save too, which is how a wave's
 * progress reaches the head while it runs.
 */
static int changed(struct fl_ledger *l, enum fl_ledger_part part, size_t bytes, struct fl_error *err)
{
	int rc = 0;
	bytes += RECORD_OVERHEAD;
	l->head.delta += bytes;
	if (part == FL_LEDGER_HEAD) {
		l->head.dirty = true;
	} else {
		l->tenants_doc.dirty = true;
		l->tenants_doc.delta += bytes;
	}
	if (l->flusher_running)
		pthread_cond_signal(&l->wake);
	else if (l->repo)
		rc = save(l, SAVE_DUE, err);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static size_t len_of(const char *s)
{
	return s ? strlen(s) : 0;
}

int fl_ledger_set_context(struct fl_ledger *l, const char *context, enum fl_state state,
			  const char *description, struct fl_error *err)
{
	char *cut = clean_str(description ? description : "", DESCRIPTION_MAX);
	pthread_mutex_lock(&l->lock);
	struct context_rec *c = fl_ledger_context_rec(l, context, true);
	if (c->state == state && c->description && strcmp(c->description, cut) == 0) {
		pthread_mutex_unlock(&l->lock);
		free(cut);
		return 0;
	}
	c->state = state;
	free(c->description);
	c->description = cut;
	c->updated = fl_now();
	return changed(l, FL_LEDGER_HEAD, strlen(context) + strlen(cut), err);
}

bool fl_ledger_context(struct fl_ledger *l, const char *context, enum fl_state *state,
		       struct fl_buf *description)
{
	pthread_mutex_lock(&l->lock);
	struct context_rec *c = fl_ledger_context_rec(l, context, false);
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
	struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, true);
	FL_GROW(t->verify, t->capverify, t->nverify + 1);
	struct verify_rec *v = &t->verify[t->nverify++];
	memset(v, 0, sizeof(*v));
	v->name = clean_str(rec->name, SIZE_MAX - 1);
	v->region = clean_str(rec->region, SIZE_MAX - 1);
	v->revision = rec->revision ? clean_str(rec->revision, SIZE_MAX - 1) : NULL;
	v->output = fl_ledger_clean_text(rec->output ? rec->output : "", rec->output ? rec->output_len : 0,
			       FL_LEDGER_OUTPUT_MAX);
	v->exit_code = rec->exit_code;
	v->timed_out = rec->timed_out;
	v->elapsed_ms = rec->elapsed_ms;
	v->time = rec->time;
	v->unclaimed = true;
	return changed(l, FL_LEDGER_TENANTS, strlen(v->name) + strlen(v->region) + strlen(v->output), err);
}

bool fl_ledger_verify_passed(struct fl_ledger *l, const char *tenant, const char *region, const char *name)
{
	bool passed = false;
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, false);
	for (size_t i = 0; t && i < t->nverify && !passed; i++) {
		const struct verify_rec *v = &t->verify[i];
		/* A rollback's run was of another commit's command: it says nothing of this one's. */
		passed = !v->revision && strcmp(v->region, region) == 0 && strcmp(v->name, name) == 0 &&
			 v->exit_code == 0 && !v->timed_out;
	}
	pthread_mutex_unlock(&l->lock);
	return passed;
}

/*
 * The last FL_LEDGER_TAIL_LINES lines of output (valid UTF-8), trailing
 * blank space aside, cut to their last FL_LEDGER_TAIL_MAX bytes on a
 * character boundary. NULL when the output is blank.
 */
static char *output_tail(const char *output)
{
	size_t end = strlen(output), start, lines = 0;
	while (end && strchr("\n\r\t ", output[end - 1]))
		end--;
	if (!end)
		return NULL;
	for (start = end; start > 0; start--)
		if (output[start - 1] == '\n' && ++lines == FL_LEDGER_TAIL_LINES)
			break;
	if (end - start > FL_LEDGER_TAIL_MAX) {
		start = end - FL_LEDGER_TAIL_MAX;
		while (start < end && ((unsigned char)output[start] & 0xC0) == 0x80)
			start++;
	}
	return fl_strndup(output + start, end - start);
}

/* Keeps with a result the tail of the verify that failed it; see fl_ledger_set_tenant. */
static void claim_verify_tail(struct tenant_rec *t, enum fl_tenant_result result)
{
	const struct verify_rec *failed = NULL;
	for (size_t i = 0; i < t->nverify; i++) {
		struct verify_rec *v = &t->verify[i];
		if (v->unclaimed && (v->exit_code != 0 || v->timed_out))
			failed = v;
		v->unclaimed = false;
	}
	if (result == FL_RESULT_FAILED && !failed && t->tail_set_here)
		return;
	free(t->verify_tail);
	t->verify_tail = result == FL_RESULT_FAILED && failed ? output_tail(failed->output) : NULL;
	t->tail_set_here = t->verify_tail != NULL;
}

/* Records a result, rolled back to revision (NULL: not rolled back). Takes the lock. */
static int set_result(struct fl_ledger *l, const char *tenant, const char *wave, enum fl_tenant_result result,
		      const struct fl_fp *fingerprint, const char *error, const char *revision,
		      struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, true);
	claim_verify_tail(t, result);
	fl_ledger_replace_str(&t->wave, wave);
	fl_ledger_replace_str(&t->error, error);
	fl_ledger_replace_str(&t->rolled_back_to, revision);
	t->has_result = true;
	t->result = result;
	t->time = fl_now();
	if (fingerprint)
		fl_fp_hex(t->fp, fingerprint);
	else
		t->fp[0] = '\0';
	return changed(l, FL_LEDGER_TENANTS,
		       strlen(tenant) + len_of(wave) + len_of(error) + len_of(t->verify_tail) + len_of(revision), err);
}

int fl_ledger_set_tenant(struct fl_ledger *l, const char *tenant, const char *wave,
			 enum fl_tenant_result result, const struct fl_fp *fingerprint, const char *error,
			 struct fl_error *err)
{
	return set_result(l, tenant, wave, result, fingerprint, error, NULL, err);
}

int fl_ledger_set_rolled_back(struct fl_ledger *l, const char *tenant, const char *wave,
			      const struct fl_fp *fingerprint, const char *error, const char *revision,
			      struct fl_error *err)
{
	return set_result(l, tenant, wave, FL_RESULT_FAILED, fingerprint, error, revision, err);
}

bool fl_ledger_tenant_rolled_back(struct fl_ledger *l, const char *tenant, char out[FL_OID_HEX_LEN + 1])
{
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, false);
	bool found = t && t->has_result && t->result == FL_RESULT_FAILED && t->rolled_back_to;
	if (found)
		snprintf(out, FL_OID_HEX_LEN + 1, "%s", t->rolled_back_to);
	pthread_mutex_unlock(&l->lock);
	return found;
}

bool fl_ledger_tenant(struct fl_ledger *l, const char *tenant, enum fl_tenant_result *result,
		      struct fl_buf *error)
{
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, false);
	bool found = t && t->has_result;
	if (found) {
		*result = t->result;
		if (error && t->error)
			fl_buf_puts(error, t->error);
	}
	pthread_mutex_unlock(&l->lock);
	return found;
}

bool fl_ledger_tenant_verify_tail(struct fl_ledger *l, const char *tenant, struct fl_buf *out)
{
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, false);
	bool found = t && t->has_result && t->result == FL_RESULT_FAILED && t->verify_tail;
	if (found)
		fl_buf_puts(out, t->verify_tail);
	pthread_mutex_unlock(&l->lock);
	return found;
}

int fl_ledger_wave_succeeded(struct fl_ledger *l, const char *wave, long long when, struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	struct wave_rec *w = fl_ledger_wave_rec(l, wave, true);
	if (w->succeeded_at) {
		pthread_mutex_unlock(&l->lock);
		return 0;
	}
	w->succeeded_at = when;
	return changed(l, FL_LEDGER_HEAD, strlen(wave), err);
}

long long fl_ledger_wave_success_time(struct fl_ledger *l, const char *wave)
{
	pthread_mutex_lock(&l->lock);
	struct wave_rec *w = fl_ledger_wave_rec(l, wave, false);
	long long t = w ? w->succeeded_at : 0;
	pthread_mutex_unlock(&l->lock);
	return t;
}

int fl_ledger_shard_record(struct fl_ledger *l, const char *wave, const struct fl_shard_record *rec,
			     struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	struct wave_rec *w = fl_ledger_wave_rec(l, wave, true);
	*fl_ledger_shard_rec(w, rec->k, rec->n, true) = *rec;
	return changed(l, FL_LEDGER_HEAD, strlen(wave), err);
}

size_t fl_ledger_shard_records(struct fl_ledger *l, const char *wave, unsigned n, const char *run,
			       struct fl_shard_record *out, bool *found)
{
	size_t count = 0;
	memset(found, 0, n * sizeof(*found));
	pthread_mutex_lock(&l->lock);
	struct wave_rec *w = fl_ledger_wave_rec(l, wave, false);
	for (size_t i = 0; w && i < w->nshards; i++) {
		const struct fl_shard_record *s = &w->shards[i];
		if (s->n != n || s->k < 1 || s->k > n || found[s->k - 1] || strcmp(s->run, run) != 0)
			continue;
		out[s->k - 1] = *s;
		found[s->k - 1] = true;
		count++;
	}
	pthread_mutex_unlock(&l->lock);
	return count;
}

int fl_ledger_add_receipt(struct fl_ledger *l, const char *tenant, const struct fl_receipt_item *items,
			  size_t n, long long when, struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, true);
	t->receipt = fl_reallocarray(t->receipt, t->nreceipt + n, sizeof(*t->receipt));
	for (size_t i = 0; i < n; i++) {
		struct receipt_rec *r = &t->receipt[t->nreceipt++];
		r->region = clean_str(items[i].region, SIZE_MAX - 1);
		r->kind = clean_str(items[i].kind, SIZE_MAX - 1);
		r->name = clean_str(items[i].name, SIZE_MAX - 1);
		fl_fp_hex(r->fp, &items[i].fp);
	}
	t->receipt_time = when;
	return changed(l, FL_LEDGER_TENANTS, n * RECORD_OVERHEAD, err);
}

int fl_ledger_text(struct fl_buf *out, struct fl_ledger *l, struct fl_error *err)
{
	pthread_mutex_lock(&l->lock);
	int rc = fl_ledger_note_render(out, l, FL_LEDGER_WHOLE, err);
	pthread_mutex_unlock(&l->lock);
	return rc;
}
