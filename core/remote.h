/*
 * Remote fleet repositories with libgit2: a bare cache of the remote that is
 * fetched on every run, and pushing notes and tags back, merging notes when
 * another agent pushed first. The second file that includes git2.h, beside
 * git.c: the network transport, credentials and the refs it moves are kept
 * apart from object reading, which works on the cache like on any local
 * repository and never touches the network.
 */
#ifndef FL_REMOTE_H
#define FL_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

/*
 * Merges the two versions of one commit's note: appends the result to out.
 * local is the cache's note, remote the one fetched; both are borrowed for
 * the call. A non-zero return stops the merge and is returned.
 */
typedef int (*fl_remote_merge_cb)(struct fl_buf *out, const char *local, size_t local_len, const char *remote,
				  size_t remote_len, void *payload, struct fl_error *err);

/* How to reach a remote and what to do with its notes; all fields may be NULL. */
struct fl_remote_opts {
	/*
	 * https (and http to a loopback address only): sent as the password
	 * of the URL's user name, else of "x-access-token" (GitHub, Gitea and
	 * GitLab all accept a token so). Never printed.
	 */
	const char *token;
	const char *ssh_key;	    /* ssh: a private key file; NULL: the ssh agent */
	const char *ssh_passphrase; /* of ssh_key, if it has one */
	const char *branch;	    /* sync: the branch HEAD follows; NULL: the remote's HEAD */
	/*
	 * The notes refs kept in step with the remote (like
	 * "refs/notes/flotilla"); the remote's copy of each is fetched to its
	 * name plus "-remote". None: no notes.
	 */
	const char *const *notes_refs;
	size_t nnotes_refs;
	fl_remote_merge_cb merge; /* NULL: the local note wins */
	void *payload;
};

/*
 * True when s is a URL flotilla fetches rather than a local path:
 * https://, http://, ssh://, git://, file://, or scp-like user@host:path.
 */
bool fl_remote_is_url(const char *s);

/*
 * Appends to out the cache directory of url inside cache_dir: the host and
 * path made safe for a file name (no user name or password), then a short
 * hash of the whole URL, like "<cache_dir>/example.com_org_fleet.git-1a2b3c4d5e6f".
 */
void fl_remote_cache_path(struct fl_buf *out, const char *cache_dir, const char *url);

/*
 * Brings the bare repository at cache_path up to date with url: creates it
 * (with remote "origin" = url) if missing, fetches branches and tags
 * (forced, pruned) and the notes ref to its "-remote" copy, merges the
 * remote's notes into the local notes ref (fast-forward when it can, else a
 * merge commit: see fl_remote_push) and points HEAD at opts->branch or the
 * remote's default branch. Failures are FL_EGIT with libgit2's message,
 * FL_ENOTFOUND when the branch does not exist.
 */
int fl_remote_sync(const char *cache_path, const char *url, const struct fl_remote_opts *opts,
		   struct fl_error *err);

/*
 * Fetches only the notes refs of opts into the existing cache at
 * cache_path and merges them into the local ones, as fl_remote_sync does:
 * how runs sharing a rollout (apply --shard) see each other's progress
 * without fetching branches and tags again.
 */
int fl_remote_fetch_notes(const char *cache_path, const char *url, const struct fl_remote_opts *opts,
			  struct fl_error *err);

/* What a push did. */
struct fl_remote_push_result {
	size_t pushed; /* refs the remote accepted; refs it had already are not counted */
	size_t merges; /* times the remote's notes had moved and were merged before a retry */
};

/*
 * Pushes the local refs named by refs (exact names, or patterns ending in
 * a star, like "refs/tags/flotilla/promote/" and a star) from the cache at cache_path to
 * the same names at url, never forced; refs the remote has already at the
 * same id are skipped. When the remote refuses one of opts->notes_refs because it
 * moved, the remote notes are fetched and merged per annotated commit with
 * opts->merge into a commit whose parents are both sides, and the push is
 * tried again, at most 5 times. FL_EREFUSED when the remote refuses a ref
 * for another reason (or still after the retries), FL_EGIT for other
 * failures. out may be NULL.
 */
int fl_remote_push(struct fl_remote_push_result *out, const char *cache_path, const char *url,
		   const char *const *refs, size_t nrefs, const struct fl_remote_opts *opts,
		   struct fl_error *err);

/* Appends url to out without its user name and password, for messages. */
void fl_remote_redact(struct fl_buf *out, const char *url);

#endif
