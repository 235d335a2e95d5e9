/*
 * --repo URL: every command works on a bare cache of the remote, brought up
 * to date when the session opens; apply and promote push what they wrote.
 * The URL and its cache are remembered for the process (one command, one
 * repository), so that apply and promote know where to push. Every session
 * fetches: a long-running command (watch) sees the remote move.
 */
/* realpath() is POSIX 2008 with the XSI option. */
#define _XOPEN_SOURCE 700

#include "cmd/remote_repo.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/remote.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/rollout/notes_merge.h"
#include "reconcile/rollout/wave_rules.h"
#include "core/banned.h"

#define URL_MAX 2048

/* The repository of this process, once fetched; empty url: none yet. */
static struct {
	char url[URL_MAX];
	char cache[PATH_MAX];
} fetched;

static int merge_ledgers(struct fl_buf *out, const char *local, size_t local_len, const char *remote,
			 size_t remote_len, void *payload, struct fl_error *err)
{
	(void)payload;
	return fl_notes_merge(out, local, local_len, remote, remote_len, err);
}

/* Credentials and notes handling from the environment (docs/remote.md). */
static struct fl_remote_opts remote_opts(void)
{
	static const char *const notes[] = { FL_NOTES_REF, FL_NOTES_TENANTS_REF };
	const char *token = getenv("FLOTILLA_GIT_TOKEN"), *key = getenv("FLOTILLA_SSH_KEY");
	struct fl_remote_opts o = {
		.token = token && *token ? token : NULL,
		.ssh_key = key && *key ? key : NULL,
		.ssh_passphrase = getenv("FLOTILLA_SSH_PASSPHRASE"),
		.notes_refs = notes,
		.nnotes_refs = sizeof(notes) / sizeof(notes[0]),
		.merge = merge_ledgers,
	};
	return o;
}

/* FLOTILLA_CACHE_DIR, else $XDG_CACHE_HOME/flotilla (absolute only, per the XDG spec), else ~/.cache/flotilla. */
static int cache_dir(struct fl_buf *out, struct fl_error *err)
{
	const char *dir = getenv("FLOTILLA_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
		   *home = getenv("HOME");

	if (dir && *dir)
		return fl_buf_puts(out, dir);
	if (xdg && xdg[0] == '/')
		return fl_buf_printf(out, "%s/flotilla", xdg);
	if (home && *home)
		return fl_buf_printf(out, "%s/.cache/flotilla", home);
	return fl_error_set(err, FL_EUSAGE,
			    "no cache directory for remote repositories: set FLOTILLA_CACHE_DIR");
}

int fl_repo_location(const char **out, const char *repo_arg, struct fl_error *err)
{
	struct fl_buf dir = FL_BUF_INIT, path = FL_BUF_INIT;
	struct fl_remote_opts opts = remote_opts();
	int rc = 0;

	*out = repo_arg;
	if (!repo_arg || !fl_remote_is_url(repo_arg))
		goto out;
	if (strlen(repo_arg) >= sizeof(fetched.url)) {
		rc = fl_error_set(err, FL_EUSAGE, "the repository URL is longer than %d bytes", URL_MAX - 1);
		goto out;
	}
	if ((rc = cache_dir(&dir, err)))
		goto out;
	fl_remote_cache_path(&path, dir.ptr, repo_arg);
	if (path.len >= sizeof(fetched.cache)) {
		rc = fl_error_set(err, FL_EUSAGE, "the cache directory '%s' is too long", dir.ptr);
		goto out;
	}
	if ((rc = fl_remote_sync(path.ptr, repo_arg, &opts, err)))
		goto out;
	snprintf(fetched.url, sizeof(fetched.url), "%s", repo_arg);
	snprintf(fetched.cache, sizeof(fetched.cache), "%s", path.ptr);
	*out = fetched.cache;
out:
	fl_buf_release(&dir);
	fl_buf_release(&path);
	return rc;
}

bool fl_remote_session(const struct fl_session *s)
{
	char real[PATH_MAX];
	return fetched.url[0] && s->repo && realpath(fetched.cache, real) && strcmp(real, fl_repo_gitdir(s->repo)) == 0;
}

int fl_remote_share_notes(void *payload, struct fl_error *err)
{
	static const char *const refs[] = { FL_NOTES_TENANTS_REF, FL_NOTES_REF };
	struct fl_remote_opts opts = remote_opts();
	(void)payload;
	if (!fetched.url[0])
		return fl_error_set(err, FL_EUSAGE, "no remote repository to share the notes through");
	int rc = fl_remote_fetch_notes(fetched.cache, fetched.url, &opts, err);
	if (!rc)
		rc = fl_remote_push(NULL, fetched.cache, fetched.url, refs, sizeof(refs) / sizeof(refs[0]), &opts, err);
	return rc;
}

int fl_remote_publish(const struct fl_session *s, bool required)
{
	static const char *const refs[] = { FL_NOTES_TENANTS_REF, FL_NOTES_REF, "refs/tags/" FL_PROMOTE_PREFIX "*" };
	struct fl_remote_opts opts = remote_opts();
	struct fl_remote_push_result res;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf shown = FL_BUF_INIT;
	int rc = FL_EXIT_OK;

	/* A session on a local repository, or on another than the one fetched: nothing to push. */
	if (!fl_remote_session(s))
		return FL_EXIT_OK;
	fl_remote_redact(&shown, fetched.url);
	if (fl_remote_push(&res, fetched.cache, fetched.url, refs, sizeof(refs) / sizeof(refs[0]), &opts,
			   &err)) {
		if (required) {
			fl_print_error(&err);
			rc = FL_EXIT_ERROR;
		} else {
			fprintf(stderr, "warning: statuses were not pushed: %s\n", err.msg);
		}
		goto out;
	}
	if (res.merges)
		fprintf(stderr,
			"note: the remote's notes had moved: merged them and pushed again (%zu merge%s)\n",
			res.merges, res.merges == 1 ? "" : "s");
	if (res.pushed)
		fprintf(stderr, "pushed %zu ref%s to %s\n", res.pushed, res.pushed == 1 ? "" : "s",
			shown.ptr);
out:
	fl_buf_release(&shown);
	return rc;
}
