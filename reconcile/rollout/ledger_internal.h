/*
 * What the ledger's files share: its records in memory (ledger.c keeps them
 * and saves them; ledger_note.c turns them into the note's JSON and back).
 * Every string in a record is valid UTF-8, as the note is JSON.
 */
#ifndef FL_LEDGER_INTERNAL_H
#define FL_LEDGER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/git.h"
#include "core/hash.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/rollout/ledger_index.h"

/* Records of each kind live in an array and are found by name (through an index): name is their first member. */
struct context_rec {
	char *name;
	enum fl_state state;
	char *description;
	long long updated;
};

struct verify_rec {
	char *name, *region, *output;
	char *revision;          /* a rollback's run of that commit's verify; NULL: this commit's */
	int exit_code;
	bool timed_out;
	long long elapsed_ms, time;
	bool unclaimed;          /* run by this process, and no tenant result set since */
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
	char *verify_tail;       /* the failing verify's last lines; NULL when none */
	char *rolled_back_to;    /* a failed result: the revision the account was rolled back to */
	bool tail_set_here;      /* verify_tail comes from this process, not the note */
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
	struct fl_shard_record *shards;  /* apply --shard: one per shard that finished the wave */
	size_t nshards, capshards;
};

/* The record of shard k of n in w; a new one (zeroed, k and n set) if create, else NULL. */
struct fl_shard_record *fl_ledger_shard_rec(struct wave_rec *w, unsigned k, unsigned n, bool create);

/* One of the ledger's two notes, as saved. */
struct ledger_doc {
	bool dirty;
	size_t size;                     /* bytes of the note as last saved or read; 0: none */
	size_t delta;                    /* about how many bytes of records changed since */
	long long saved_ms;              /* when it was last saved (fl_mono_ms) */
	long long cost_ms;               /* what that save took, rendering and writing */
	/*
	 * The commit of the notes ref when this ledger last read the note or
	 * wrote it (the zero id: there was no ref), if known: while the ref
	 * stays there, the note holds nothing that memory lacks.
	 */
	struct fl_oid ref_at;
	bool ref_known;
};

/* What a note holds of the ledger. */
enum fl_ledger_part { FL_LEDGER_HEAD = 1, FL_LEDGER_TENANTS = 2, FL_LEDGER_WHOLE = 3 };

enum save_mode { SAVE_DUE, SAVE_HEAD, SAVE_ALL };

struct fl_ledger {
	pthread_mutex_t lock;
	struct fl_repo *repo;
	bool repo_borrowed; /* repo is the caller's (fl_ledger_open_brief) */
	struct fl_oid commit;
	char revision[FL_OID_HEX_LEN + 1];
	struct context_rec *contexts;
	size_t ncontexts, capcontexts;
	struct tenant_rec *tenants;
	size_t ntenants, captenants;
	struct wave_rec *waves;
	size_t nwaves, capwaves;
	struct fl_name_index context_index, tenant_index, wave_index;  /* positions in the arrays by name */
	struct ledger_doc head;          /* contexts and waves, under FL_NOTES_REF */
	struct ledger_doc tenants_doc;   /* the tenants, under FL_NOTES_TENANTS_REF */
	size_t saves, saved_bytes;       /* notes written by this process, and their bytes */
	bool head_holds_tenants;         /* the last document read had tenants: a format 1 head */
	pthread_cond_t wake;             /* the flusher waits on it */
	pthread_cond_t saved;            /* a save ended: saving went false */
	bool saving;                     /* a note is being written, the lock dropped */
	pthread_t flusher;
	bool flusher_running, stop;
	struct fl_error save_error;      /* the last failed save of the flusher */
	char **unlink_after;             /* files to remove once the tenants note is saved clean */
	size_t nunlink, capunlink;
};

/*
 * The record called name; when there is none, a new one (zeroed, named)
 * if create, else NULL. Pointers into the arrays last until the next create.
 */
struct tenant_rec *fl_ledger_tenant_rec(struct fl_ledger *l, const char *name, bool create);
struct context_rec *fl_ledger_context_rec(struct fl_ledger *l, const char *name, bool create);
struct wave_rec *fl_ledger_wave_rec(struct fl_ledger *l, const char *name, bool create);

/*
 * A copy of s (len bytes) that is valid UTF-8 and at most max bytes long,
 * cut on a character boundary: invalid bytes (and NULs) become '?'.
 * The caller frees it.
 */
char *fl_ledger_clean_text(const char *s, size_t len, size_t max);
/* Frees what a tenant's record holds but its name, and zeroes the rest. */
void fl_ledger_tenant_clear(struct tenant_rec *t);
/* Replaces *dst with a clean copy of src (NULL stays NULL), freeing the old one. */
void fl_ledger_replace_str(char **dst, const char *src);

/* The text of the note holding part of the records (pretty JSON and a newline), into out. Under l->lock. */
int fl_ledger_note_render(struct fl_buf *out, const struct fl_ledger *l, enum fl_ledger_part part,
			  struct fl_error *err);
/* Reads the records in a note's text (read from ref); FL_EINPUT when it is not a ledger. */
int fl_ledger_note_parse(struct fl_ledger *l, const struct fl_buf *text, const char *ref, struct fl_error *err);

/*
 * The ledger of commit read from repo's notes (both), to look at: no
 * flusher, nothing saved when freed. *found false (and *out NULL) when the
 * commit has neither note, or one that is not a ledger (a foreign note
 * says nothing of any tenant).
 */
int fl_ledger_read(struct fl_ledger **out, bool *found, struct fl_repo *repo, const struct fl_oid *commit,
		   struct fl_error *err);

#endif
