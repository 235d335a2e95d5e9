/*
 * --repo as a URL (docs/remote.md): the bare cache under FLOTILLA_CACHE_DIR
 * (default $XDG_CACHE_HOME/flotilla) that stands in for the repository,
 * fetched before anything reads it, and the push of notes and promotion
 * tags back to the remote after a command wrote them.
 */
#ifndef FL_CMD_REMOTE_REPO_H
#define FL_CMD_REMOTE_REPO_H

#include <stdbool.h>

#include "core/error.h"

struct fl_session;

/*
 * The local repository to open for --repo: repo_arg itself when it is not a
 * URL (or NULL), else the cache of the URL, fetched (on every call) and with
 * the remote's notes merged in. *out is borrowed: repo_arg, or storage of
 * this file that lasts until the next call.
 */
int fl_repo_location(const char **out, const char *repo_arg, struct fl_error *err);

/* True when the session's repository is the cache of the remote this process fetched. */
bool fl_remote_session(const struct fl_session *s);

/*
 * Fetches the remote's notes, merges them into the cache's, and pushes the
 * result back (a fl_ledger_share_fn, payload unused): how the shards of
 * apply --shard see each other.
 */
int fl_remote_share_notes(void *payload, struct fl_error *err);

/*
 * Pushes the notes and promotion tags of the session's repository to the
 * remote it was fetched from; does nothing for a local repository. Prints
 * what happened. On failure prints the error and returns FL_EXIT_ERROR when
 * required (a promotion), else prints a warning and returns 0 (statuses
 * never fail a rollout, SPEC 5).
 */
int fl_remote_publish(const struct fl_session *s, bool required);

#endif
