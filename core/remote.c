/*
 * Remote repositories with libgit2; see remote.h. The cache is a plain bare
 * repository: branches and tags mirror the remote's, the notes refs are ours
 * (statuses written here and not yet pushed live in them) and the remote's
 * notes arrive beside each, in "<notes ref>-remote", to be merged in. Every
 * connection uses an anonymous remote made from the URL, so the URL given
 * on the command line is the one used, whatever the cache's config says.
 */
#include "core/remote.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <git2.h>

#include "core/alloc.h"
#include "core/git.h"
#include "core/git_init.h"
#include "core/hash.h"
#include "core/banned.h"

#define PUSH_ATTEMPTS 5	  /* merges of moved notes before a push gives up */
#define CACHE_NAME_MAX 80 /* bytes of the sanitized URL in a cache directory's name */
#define CACHE_HASH_HEX 12 /* hex digits of the URL's hash in it */

/* What the credential callback knows and found out; also scrubs messages. */
struct creds {
	const struct fl_remote_opts *opts;
	const char *url;
	unsigned userpass_asked, ssh_asked;
	char why[256]; /* set when the callback gave up: the message to show instead of libgit2's */
};

/* Appends s to out with every occurrence of secret (when long enough to matter) masked. */
static void put_scrubbed(struct fl_buf *out, const char *s, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	const char *hit;

	while (n >= 4 && (hit = strstr(s, secret)) != NULL) {
		(void)fl_buf_put(out, s, (size_t)(hit - s));
		(void)fl_buf_puts(out, "***");
		s = hit + n;
	}
	(void)fl_buf_puts(out, s);
}

/* The password of a URL's user information ("https://user:pass@host/"), or NULL; caller frees. */
static char *url_password(const char *url)
{
	const char *start = strstr(url, "://"), *end, *at, *colon;

	if (!start)
		return NULL;
	start += 3;
	end = start + strcspn(start, "/?#");
	at = memchr(start, '@', (size_t)(end - start));
	if (!at)
		return NULL;
	colon = memchr(start, ':', (size_t)(at - start));
	return colon ? fl_strndup(colon + 1, (size_t)(at - colon - 1)) : NULL;
}

static int fail_git(struct fl_error *err, const struct creds *c, int gerr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Sets err to "<what we did>: <why>", where why is the credential callback's
 * reason when it gave up, else libgit2's message; the token and any password
 * in the URL are masked. Returns FL_ENOTFOUND for GIT_ENOTFOUND, else FL_EGIT.
 */
static int fail_git(struct fl_error *err, const struct creds *c, int gerr, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	struct fl_buf what = FL_BUF_INIT, once = FL_BUF_INIT, twice = FL_BUF_INIT;
	char *password = c && c->url ? url_password(c->url) : NULL;
	va_list ap;
	int rc;

	char head[FL_ERROR_MSG_MAX];

	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	/* The buffers have no maximum: appending cannot fail. */
	(void)fl_buf_puts(&what, head);
	(void)fl_buf_puts(&what, ": ");
	if (c && c->why[0])
		(void)fl_buf_puts(&what, c->why);
	else
		(void)fl_buf_puts(&what, e && e->message ? e->message : "unknown error");
	/* Over ssh, libgit2's message can be the server's stderr ("fatal: ...\n"): keep it one line. */
	while (what.len && (what.ptr[what.len - 1] == '\n' || what.ptr[what.len - 1] == '\r'))
		fl_buf_truncate(&what, what.len - 1);
	put_scrubbed(&once, what.ptr, c && c->opts ? c->opts->token : NULL);
	put_scrubbed(&twice, once.ptr, password);
	rc = fl_error_set(err, gerr == GIT_ENOTFOUND ? FL_ENOTFOUND : FL_EGIT, "%s", twice.ptr);
	free(password);
	fl_buf_release(&what);
	fl_buf_release(&once);
	fl_buf_release(&twice);
	return rc;
}

/*
 * libgit2 started, and the CA certificates its start put off (git_init.c)
 * loaded, before the first connection to url. A failure to load them
 * matters only to https: TLS would then trust no server.
 */
static int ensure_init(const char *url, struct fl_error *err)
{
	int rc = fl_git_init();

	if (rc < 0)
		return fail_git(err, NULL, rc, "cannot initialise libgit2");
	rc = fl_git_load_ca();
	if (rc < 0 && strncasecmp(url, "https://", 8) == 0)
		return fail_git(err, NULL, rc, "cannot load CA certificates from %s", fl_git_ca_state().deferred);
	return 0;
}

/* ---- URLs ---- */

static const char *const schemes[] = { "https://", "http://",	 "ssh://",    "git://",
				       "file://",  "git+ssh://", "ssh+git://" };

static size_t scheme_len(const char *s)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncasecmp(s, schemes[i], strlen(schemes[i])) == 0)
			return strlen(schemes[i]);
	return 0;
}

bool fl_remote_is_url(const char *s)
{
	const char *colon, *at;

	if (!s || !*s)
		return false;
	if (scheme_len(s))
		return true;
	/* scp-like: user@host:path, with no slash before the colon (which a local path would have). */
	colon = strchr(s, ':');
	at = strchr(s, '@');
	return colon && at && at < colon && at > s && !memchr(s, '/', (size_t)(colon - s));
}

/* Where the host starts in url: after the scheme and any user information. */
static const char *after_userinfo(const char *url)
{
	size_t skip = scheme_len(url);
	const char *start = url + skip, *end, *at;

	if (!skip) {
		/* scp-like: user@host:path */
		at = strchr(url, '@');
		return at && at < strchr(url, ':') ? at + 1 : url;
	}
	end = start + strcspn(start, "/?#");
	at = NULL;
	for (const char *p = start; p < end; p++)
		if (*p == '@')
			at = p;
	return at ? at + 1 : start;
}

void fl_remote_redact(struct fl_buf *out, const char *url)
{
	size_t skip = scheme_len(url);
	const char *rest = after_userinfo(url);

	(void)fl_buf_put(out, url, skip);
	(void)fl_buf_puts(out, rest);
}

void fl_remote_cache_path(struct fl_buf *out, const char *cache_dir, const char *url)
{
	const char *rest = after_userinfo(url);
	char name[CACHE_NAME_MAX + 1], hex[FL_FP_HEX_LEN + 1];
	struct fl_fp fp;
	size_t n = 0;

	for (const char *p = rest; *p && n < CACHE_NAME_MAX; p++) {
		char c = *p;
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '.' || c == '-' || c == '_';
		/* No leading dots or separators: no hidden names, no "..". */
		if (!safe || (n == 0 && (c == '.' || c == '_')))
			c = '_';
		if (c == '_' && (n == 0 || name[n - 1] == '_'))
			continue;
		name[n++] = c;
	}
	while (n && (name[n - 1] == '_' || name[n - 1] == '.'))
		n--;
	name[n] = '\0';
	fl_fp_of(&fp, url, strlen(url));
	fl_fp_hex(hex, &fp);
	(void)fl_buf_printf(out, "%s%s%s%s%.*s", cache_dir,
			    cache_dir[0] && cache_dir[strlen(cache_dir) - 1] != '/' ? "/" : "", name,
			    n ? "-" : "", CACHE_HASH_HEX, hex);
}

/* True for http:// to 127.0.0.0/8, ::1 or localhost (SPEC 5: tokens go over plain http only there). */
static bool loopback_http(const char *url)
{
	const char *host;
	size_t len;

	if (strncasecmp(url, "http://", 7) != 0)
		return false;
	host = after_userinfo(url);
	if (*host == '[')
		return strncmp(host, "[::1]", 5) == 0;
	len = strcspn(host, ":/?#");
	return (len == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	       (len >= 4 && strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") >= len);
}

/* ---- credentials ---- */

static int acquire(git_credential **out, const char *url, const char *username_from_url, unsigned int allowed,
		   void *payload)
{
	struct creds *c = payload;
	const struct fl_remote_opts *o = c->opts;
	const char *user = username_from_url && *username_from_url ? username_from_url : NULL;

	/*
	 * Keys first: an ssh server that takes passwords as well as keys (sshd's
	 * default) offers both at once, and the token is never an ssh password.
	 * Asked for a password first, an ssh fetch failed with "set
	 * FLOTILLA_GIT_TOKEN" though FLOTILLA_SSH_KEY or an agent was there.
	 */
	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		if (c->ssh_asked++) {
			snprintf(c->why, sizeof(c->why), "authentication failed: the server refused %s",
				 o->ssh_key ? "the key of FLOTILLA_SSH_KEY" : "the keys of the ssh agent");
			return GIT_EUSER;
		}
		if (o->ssh_key)
			return git_credential_ssh_key_new(out, user ? user : "git", NULL, o->ssh_key,
							  o->ssh_passphrase);
		return git_credential_ssh_key_from_agent(out, user ? user : "git");
	}
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		if (!o->token) {
			snprintf(c->why, sizeof(c->why),
				 "the server asks for credentials: set FLOTILLA_GIT_TOKEN");
			return GIT_EUSER;
		}
		if (strncasecmp(url, "https://", 8) != 0 && !loopback_http(url)) {
			snprintf(c->why, sizeof(c->why),
				 "refusing to send FLOTILLA_GIT_TOKEN over plain http to a host that is not "
				 "loopback");
			return GIT_EUSER;
		}
		/* Asked again: the server refused the token. */
		if (c->userpass_asked++) {
			snprintf(c->why, sizeof(c->why),
				 "authentication failed: the server refused FLOTILLA_GIT_TOKEN");
			return GIT_EUSER;
		}
		return git_credential_userpass_plaintext_new(out, user ? user : "x-access-token", o->token);
	}
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user ? user : "git");
	snprintf(c->why, sizeof(c->why), "the server asks for a kind of credentials flotilla does not have");
	return GIT_EUSER;
}

/* Before each connection: a credential asked for again within one means it was refused. */
static void creds_reset(struct creds *c)
{
	c->userpass_asked = c->ssh_asked = 0;
	c->why[0] = '\0';
}

static void init_callbacks(git_remote_callbacks *cb, struct creds *c)
{
	cb->credentials = acquire;
	cb->payload = c;
}

/* ---- the notes merge ---- */

static int signature_now(git_signature **out, git_repository *git, struct fl_error *err)
{
	int grc = git_signature_default(out, git);

	if (grc == GIT_ENOTFOUND)
		grc = git_signature_now(out, "flotilla", "flotilla@localhost");
	if (grc < 0)
		return fail_git(err, NULL, grc, "cannot make a signature");
	return 0;
}

struct note_entry {
	git_oid annotated;
	git_oid blob;
};

struct note_list {
	struct note_entry *items;
	size_t len, cap;
};

static int collect_note(const git_oid *blob, const git_oid *annotated, void *payload)
{
	struct note_list *l = payload;

	FL_GROW(l->items, l->cap, l->len + 1);
	git_oid_cpy(&l->items[l->len].annotated, annotated);
	git_oid_cpy(&l->items[l->len].blob, blob);
	l->len++;
	return 0;
}

static int note_cmp(const void *a, const void *b)
{
	return git_oid_cmp(&((const struct note_entry *)a)->annotated,
			   &((const struct note_entry *)b)->annotated);
}

/* Every note under ref, sorted by the commit it annotates. */
static int list_notes(struct note_list *out, git_repository *repo, const char *ref, struct fl_error *err)
{
	int grc = git_note_foreach(repo, ref, collect_note, out);

	if (grc < 0)
		return fail_git(err, NULL, grc, "cannot read the notes of '%s'", ref);
	qsort(out->items, out->len, sizeof(*out->items), note_cmp);
	return 0;
}

/* The blob of the merge of two notes of one commit, by opts->merge. */
static int merge_note(git_oid *out, git_repository *repo, const struct note_entry *l,
		      const struct note_entry *r, const struct fl_remote_opts *opts, struct fl_error *err)
{
	git_blob *lb = NULL, *rb = NULL;
	struct fl_buf merged = FL_BUF_INIT;
	char hex[GIT_OID_HEXSZ + 1];
	int rc = 0, grc;

	git_oid_tostr(hex, sizeof(hex), &l->annotated);
	if (!opts->merge) {
		git_oid_cpy(out, &l->blob);
		goto out;
	}
	if ((grc = git_blob_lookup(&lb, repo, &l->blob)) < 0 ||
	    (grc = git_blob_lookup(&rb, repo, &r->blob)) < 0) {
		rc = fail_git(err, NULL, grc, "cannot read the notes of commit %.12s", hex);
		goto out;
	}
	rc = opts->merge(&merged, git_blob_rawcontent(lb), (size_t)git_blob_rawsize(lb),
			 git_blob_rawcontent(rb), (size_t)git_blob_rawsize(rb), opts->payload, err);
	if (rc) {
		fl_error_prefix(err, "cannot merge the notes of commit %.12s: ", hex);
		goto out;
	}
	grc = git_blob_create_from_buffer(out, repo, merged.ptr, merged.len);
	if (grc < 0)
		rc = fail_git(err, NULL, grc, "cannot write the merged note of commit %.12s", hex);
out:
	fl_buf_release(&merged);
	git_blob_free(rb);
	git_blob_free(lb);
	return rc;
}

/*
 * A notes commit holding every note of both sides, merged where both have
 * one, with parents local and remote. The tree is flat (one entry per
 * annotated commit, named by its id), which git and libgit2 both read.
 */
static int merge_commit(git_oid *out, git_repository *repo, const char *notes_ref, const git_oid *local,
			const git_oid *remote, const struct fl_remote_opts *opts, struct fl_error *err)
{
	struct note_list ln = { 0 }, rn = { 0 };
	git_treebuilder *tb = NULL;
	git_tree *tree = NULL;
	git_commit *parents[2] = { NULL, NULL };
	git_signature *sig = NULL;
	struct fl_buf lref = FL_BUF_INIT;
	size_t i = 0, j = 0;
	git_oid tree_id;
	int rc, grc;

	if ((rc = list_notes(&ln, repo, notes_ref, err)))
		goto out;
	/* The remote side as fetched to "<notes ref>-remote", whose commit the caller passed as remote. */
	(void)fl_buf_printf(&lref, "%s-remote", notes_ref);
	if ((rc = list_notes(&rn, repo, lref.ptr, err)))
		goto out;
	if ((grc = git_treebuilder_new(&tb, repo, NULL)) < 0) {
		rc = fail_git(err, NULL, grc, "cannot merge the notes");
		goto out;
	}
	while (i < ln.len || j < rn.len) {
		int c = i == ln.len   ? 1
			: j == rn.len ? -1
				      : git_oid_cmp(&ln.items[i].annotated, &rn.items[j].annotated);
		const struct note_entry *e = c <= 0 ? &ln.items[i] : &rn.items[j];
		char hex[GIT_OID_HEXSZ + 1];
		git_oid blob;

		git_oid_cpy(&blob, &e->blob);
		if (c == 0 && !git_oid_equal(&ln.items[i].blob, &rn.items[j].blob) &&
		    (rc = merge_note(&blob, repo, &ln.items[i], &rn.items[j], opts, err)))
			goto out;
		git_oid_tostr(hex, sizeof(hex), &e->annotated);
		if ((grc = git_treebuilder_insert(NULL, tb, hex, &blob, GIT_FILEMODE_BLOB)) < 0) {
			rc = fail_git(err, NULL, grc, "cannot merge the notes");
			goto out;
		}
		i += c <= 0;
		j += c >= 0;
	}
	if ((grc = git_treebuilder_write(&tree_id, tb)) < 0 ||
	    (grc = git_tree_lookup(&tree, repo, &tree_id)) < 0 ||
	    (grc = git_commit_lookup(&parents[0], repo, local)) < 0 ||
	    (grc = git_commit_lookup(&parents[1], repo, remote)) < 0) {
		rc = fail_git(err, NULL, grc, "cannot merge the notes");
		goto out;
	}
	if ((rc = signature_now(&sig, repo, err)))
		goto out;
	grc = git_commit_create(out, repo, NULL, sig, sig, NULL, "Notes merged by flotilla\n", tree, 2,
				(const git_commit **)parents);
	if (grc < 0)
		rc = fail_git(err, NULL, grc, "cannot merge the notes");
out:
	git_signature_free(sig);
	git_commit_free(parents[1]);
	git_commit_free(parents[0]);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	fl_buf_release(&lref);
	free(ln.items);
	free(rn.items);
	return rc;
}

/*
 * Brings the remote's notes (in "<notes_ref>-remote") into notes_ref:
 * nothing when the local ref has them already, a fast-forward when it is
 * behind, else a merge commit. *merged tells whether anything changed.
 * A "<notes_ref>.lock" left by a killed writer is cleared, once.
 */
static int merge_notes_guarded(bool *merged, git_repository *repo, const char *notes_ref,
			       const struct fl_remote_opts *opts, struct fl_error *err)
{
	git_reference *ref = NULL;
	struct fl_buf rref = FL_BUF_INIT;
	git_oid local, remote, target;
	int rc = 0, grc;

	*merged = false;
	(void)fl_buf_printf(&rref, "%s-remote", notes_ref);
	grc = git_reference_name_to_id(&remote, repo, rref.ptr);
	if (grc == GIT_ENOTFOUND)
		goto out;
	if (grc < 0) {
		rc = fail_git(err, NULL, grc, "cannot read '%s'", rref.ptr);
		goto out;
	}
	grc = git_reference_name_to_id(&local, repo, notes_ref);
	if (grc == GIT_ENOTFOUND) {
		grc = git_reference_create(&ref, repo, notes_ref, &remote, 0,
					   "flotilla: notes from the remote");
		if (grc == GIT_ELOCKED && fl_ref_lock_clear(git_repository_path(repo), notes_ref))
			grc = git_reference_create(&ref, repo, notes_ref, &remote, 0,
						   "flotilla: notes from the remote");
		*merged = grc == 0;
		if (grc < 0)
			rc = fail_git(err, NULL, grc, "cannot create '%s'", notes_ref);
		goto out;
	}
	if (grc < 0) {
		rc = fail_git(err, NULL, grc, "cannot read '%s'", notes_ref);
		goto out;
	}
	if (git_oid_equal(&local, &remote) || git_graph_descendant_of(repo, &local, &remote) == 1)
		goto out;
	if (git_graph_descendant_of(repo, &remote, &local) == 1)
		git_oid_cpy(&target, &remote);
	else if ((rc = merge_commit(&target, repo, notes_ref, &local, &remote, opts, err)))
		goto out;
	/* Only if nobody wrote a note meanwhile; else the caller's next attempt merges again. */
	grc = git_reference_create_matching(&ref, repo, notes_ref, &target, 1, &local,
					    "flotilla: merge the remote's notes");
	if (grc == GIT_ELOCKED && fl_ref_lock_clear(git_repository_path(repo), notes_ref))
		grc = git_reference_create_matching(&ref, repo, notes_ref, &target, 1, &local,
						    "flotilla: merge the remote's notes");
	if (grc < 0) {
		rc = fail_git(err, NULL, grc, "cannot update '%s'", notes_ref);
		goto out;
	}
	*merged = true;
out:
	git_reference_free(ref);
	fl_buf_release(&rref);
	return rc;
}

/*
 * merge_notes_guarded for each notes ref, under the ref guard that
 * flotilla's note writers share.
 */
static int merge_notes(git_repository *repo, const struct fl_remote_opts *opts, struct fl_error *err)
{
	const char *gitdir = git_repository_path(repo);
	int guard, rc;
	bool merged;

	if ((rc = fl_ref_guard_take(&guard, gitdir, err)))
		return rc;
	for (size_t i = 0; !rc && i < opts->nnotes_refs; i++)
		rc = merge_notes_guarded(&merged, repo, opts->notes_refs[i], opts, err);
	fl_ref_guard_drop(guard);
	return rc;
}

/* The refspecs that fetch each notes ref to its "-remote" copy, appended to specs from *n on. */
static void notes_specs(char **specs, size_t *n, const struct fl_remote_opts *opts)
{
	for (size_t i = 0; i < opts->nnotes_refs; i++) {
		struct fl_buf spec = FL_BUF_INIT;
		(void)fl_buf_printf(&spec, "+%s:%s-remote", opts->notes_refs[i], opts->notes_refs[i]);
		specs[(*n)++] = fl_buf_detach(&spec, NULL);
	}
}

static void specs_free(char **specs, size_t from, size_t n)
{
	for (size_t i = from; i < n; i++)
		free(specs[i]);
	free(specs);
}

/* ---- fetching ---- */

/*
 * Opens the bare cache, creating it (and its parents) when missing, with
 * remote.origin.url = url for people who look inside; flotilla itself
 * never reads it.
 */
static int open_cache(git_repository **out, const char *cache_path, const char *url, struct fl_error *err)
{
	git_repository_init_options init;
	git_config *config = NULL;
	int grc = git_repository_open_bare(out, cache_path);

	if (grc == GIT_ENOTFOUND) {
		git_repository_init_options_init(&init, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
		init.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
		grc = git_repository_init_ext(out, cache_path, &init);
		if (grc == 0 && (grc = git_repository_config(&config, *out)) == 0)
			grc = git_config_set_string(config, "remote.origin.url", url);
	}
	git_config_free(config);
	if (grc < 0)
		return fail_git(err, NULL, grc, "cannot open the cache '%s'", cache_path);
	return 0;
}

/*
 * An in-memory remote for url. url.<base>.insteadOf rules are not applied:
 * libgit2 1.5 leaks a regex match for every configuration entry it checks
 * for them, and the URL on the command line is meant literally anyway.
 */
static int make_remote(git_remote **out, git_repository *repo, const char *url, struct creds *c,
		       struct fl_error *err)
{
	git_remote_create_options o;
	struct fl_buf shown = FL_BUF_INIT;
	int rc = 0, grc;

	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = repo;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	grc = git_remote_create_with_opts(out, url, &o);
	if (grc < 0) {
		fl_remote_redact(&shown, url);
		rc = fail_git(err, c, grc, "cannot use the remote '%s'", shown.ptr);
	}
	fl_buf_release(&shown);
	return rc;
}

static int fetch(git_remote *remote, struct creds *c, const char *const *specs, size_t n, bool prune,
		 struct fl_error *err)
{
	git_fetch_options fo;
	git_strarray sa = { (char **)specs, n };
	struct fl_buf shown = FL_BUF_INIT;
	int rc = 0, grc;

	/* The _init functions, not the macros, which leave fields to the compiler's zeroing. */
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	init_callbacks(&fo.callbacks, c);
	fo.prune = prune ? GIT_FETCH_PRUNE : GIT_FETCH_NO_PRUNE;
	fo.update_fetchhead = 0;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	creds_reset(c);
	grc = git_remote_fetch(remote, &sa, &fo, "flotilla: fetch");
	if (grc < 0) {
		fl_remote_redact(&shown, c->url);
		rc = fail_git(err, c, grc, "cannot fetch '%s'", shown.ptr);
	}
	fl_buf_release(&shown);
	return rc;
}

/* Points HEAD at the wanted branch: opts->branch, else the remote's default, else where it was. */
static int set_head(git_repository *repo, git_remote *remote, const struct fl_remote_opts *opts,
		    struct fl_error *err)
{
	git_buf def = GIT_BUF_INIT;
	struct fl_buf name = FL_BUF_INIT;
	git_oid id;
	int rc = 0, grc;

	if (opts->branch) {
		(void)fl_buf_printf(&name, "refs/heads/%s", opts->branch);
		if (git_reference_name_to_id(&id, repo, name.ptr) < 0) {
			rc = fl_error_set(err, FL_ENOTFOUND, "the remote has no branch '%s'", opts->branch);
			goto out;
		}
	} else if (git_remote_default_branch(&def, remote) == 0 &&
		   git_reference_name_to_id(&id, repo, def.ptr) == 0) {
		(void)fl_buf_puts(&name, def.ptr);
	} else {
		/* An empty remote, or one that does not say: leave HEAD alone. */
		git_error_clear();
		goto out;
	}
	grc = git_repository_set_head(repo, name.ptr);
	if (grc < 0)
		rc = fail_git(err, NULL, grc, "cannot point HEAD of the cache at '%s'", name.ptr);
out:
	git_buf_dispose(&def);
	fl_buf_release(&name);
	return rc;
}

/*
 * Fetches into the cache (created if missing) the notes refs of opts to
 * their "-remote" copies, and with whole the branches and tags too (then
 * pruned, and HEAD pointed as fl_remote_sync says); then merges the notes.
 */
static int fetch_and_merge(const char *cache_path, const char *url, const struct fl_remote_opts *opts, bool whole,
			   struct fl_error *err)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	struct creds c = { opts, url, 0, 0, { 0 } };
	char **specs = fl_calloc(2 + opts->nnotes_refs, sizeof(*specs));
	size_t first = whole ? 2 : 0, nspecs = first;
	int rc;

	if (whole) {
		specs[0] = (char *)"+refs/heads/*:refs/heads/*";
		specs[1] = (char *)"+refs/tags/*:refs/tags/*";
	}
	notes_specs(specs, &nspecs, opts);
	if ((rc = ensure_init(url, err)) || (rc = open_cache(&repo, cache_path, url, err)) ||
	    (rc = make_remote(&remote, repo, url, &c, err)))
		goto out;
	if ((rc = fetch(remote, &c, (const char *const *)specs, nspecs, whole, err)) ||
	    (whole && (rc = set_head(repo, remote, opts, err))))
		goto out;
	rc = merge_notes(repo, opts, err);
out:
	specs_free(specs, first, nspecs);
	git_remote_free(remote);
	git_repository_free(repo);
	return rc;
}

int fl_remote_sync(const char *cache_path, const char *url, const struct fl_remote_opts *opts,
		   struct fl_error *err)
{
	return fetch_and_merge(cache_path, url, opts, true, err);
}

int fl_remote_fetch_notes(const char *cache_path, const char *url, const struct fl_remote_opts *opts,
			  struct fl_error *err)
{
	return fetch_and_merge(cache_path, url, opts, false, err);
}

/* ---- pushing ---- */

/* What the remote said about each ref of a push. */
struct push_state {
	const struct fl_remote_opts *opts;
	const char *notes_refused; /* a notes ref the remote refused; NULL: none */
	char refused[256]; /* the first other ref refused, and why */
	size_t accepted;
};

/* The callbacks' payload for a push: the credentials and the push's state. */
struct push_payload {
	struct creds creds; /* first: acquire() takes the payload as a struct creds */
	struct push_state state;
};

static int on_push_update(const char *refname, const char *status, void *payload)
{
	struct push_state *p = &((struct push_payload *)payload)->state;

	if (!status) {
		p->accepted++;
		return 0;
	}
	for (size_t i = 0; i < p->opts->nnotes_refs; i++) {
		if (strcmp(refname, p->opts->notes_refs[i]) == 0) {
			p->notes_refused = p->opts->notes_refs[i];
			return 0;
		}
	}
	if (!p->refused[0])
		snprintf(p->refused, sizeof(p->refused), "the remote refused '%s': %s", refname, status);
	return 0;
}

/* The refspecs "name:name" of the local refs named by refs that the remote lacks or has elsewhere. */
struct push_list {
	char **specs;
	size_t len, cap;
};

static void push_list_release(struct push_list *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->specs[i]);
	free(l->specs);
	memset(l, 0, sizeof(*l));
}

/* The remote's id for name among heads, or NULL. */
static const git_oid *remote_id(const git_remote_head **heads, size_t nheads, const char *name)
{
	for (size_t i = 0; i < nheads; i++)
		if (strcmp(heads[i]->name, name) == 0)
			return &heads[i]->oid;
	return NULL;
}

/*
 * Adds ref (a local ref) unless the remote has it at the same id. A tag the
 * remote has at another id is refused here: tags never move.
 */
static int consider_ref(struct push_list *l, git_reference *ref, const git_remote_head **heads, size_t nheads,
			struct fl_error *err)
{
	git_reference *resolved = NULL;
	const char *name = git_reference_name(ref);
	const git_oid *theirs = remote_id(heads, nheads, name);
	struct fl_buf spec = FL_BUF_INIT;
	int rc = 0, grc;

	if ((grc = git_reference_resolve(&resolved, ref)) < 0) {
		rc = fail_git(err, NULL, grc, "cannot read '%s'", name);
		goto out;
	}
	if (theirs && git_oid_equal(theirs, git_reference_target(resolved)))
		goto out;
	if (theirs && strncmp(name, "refs/tags/", 10) == 0) {
		rc = fl_error_set(err, FL_EREFUSED, "tag '%s' exists on the remote on another object",
				  name + 10);
		goto out;
	}
	(void)fl_buf_printf(&spec, "%s:%s", name, name);
	FL_GROW(l->specs, l->cap, l->len + 1);
	l->specs[l->len++] = fl_buf_detach(&spec, NULL);
out:
	fl_buf_release(&spec);
	git_reference_free(resolved);
	return rc;
}

static int plan_push(struct push_list *l, git_repository *repo, const char *const *refs, size_t nrefs,
		     const git_remote_head **heads, size_t nheads, struct fl_error *err)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	int rc = 0, grc = 0;

	for (size_t i = 0; i < nrefs && !rc; i++) {
		size_t len = strlen(refs[i]);

		if (len && refs[i][len - 1] == '*') {
			if ((grc = git_reference_iterator_glob_new(&it, repo, refs[i])) < 0)
				break;
			while (!rc && (grc = git_reference_next(&ref, it)) == 0) {
				rc = consider_ref(l, ref, heads, nheads, err);
				git_reference_free(ref);
				ref = NULL;
			}
			git_reference_iterator_free(it);
			it = NULL;
			if (grc != GIT_ITEROVER)
				break;
			grc = 0;
			continue;
		}
		grc = git_reference_lookup(&ref, repo, refs[i]);
		if (grc == GIT_ENOTFOUND) {
			grc = 0;
			continue;
		}
		if (grc < 0)
			break;
		rc = consider_ref(l, ref, heads, nheads, err);
		git_reference_free(ref);
		ref = NULL;
	}
	if (!rc && grc < 0)
		rc = fail_git(err, NULL, grc, "cannot list the refs to push");
	return rc;
}

/*
 * One attempt: connects, pushes what the remote lacks, and reports whether
 * the remote refused the notes ref (*moved) and how many refs it took.
 */
static int push_once(bool *moved, size_t *pushed, git_repository *repo, git_remote *remote,
		     struct push_payload *pp, const char *const *refs, size_t nrefs, const char *shown,
		     struct fl_error *err)
{
	git_remote_callbacks cb;
	git_push_options po;
	const git_remote_head **heads = NULL;
	struct push_list list = { 0 };
	size_t nheads = 0;
	int rc = 0, grc;

	*moved = false;
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	init_callbacks(&cb, &pp->creds);
	creds_reset(&pp->creds);
	memset(&pp->state, 0, sizeof(pp->state));
	pp->state.opts = pp->creds.opts;
	if ((grc = git_remote_connect(remote, GIT_DIRECTION_PUSH, &cb, NULL, NULL)) < 0 ||
	    (grc = git_remote_ls(&heads, &nheads, remote)) < 0) {
		rc = fail_git(err, &pp->creds, grc, "cannot push to '%s'", shown);
		goto out;
	}
	if ((rc = plan_push(&list, repo, refs, nrefs, heads, nheads, err)) || list.len == 0)
		goto out;
	init_callbacks(&po.callbacks, &pp->creds);
	po.callbacks.push_update_reference = on_push_update;
	{
		git_strarray sa = { list.specs, list.len };
		grc = git_remote_upload(remote, &sa, &po);
	}
	/* libgit2 refuses a push that is not a fast-forward before sending anything. */
	if (grc == GIT_ENONFASTFORWARD) {
		*moved = true;
		goto out;
	}
	if (grc < 0) {
		rc = fail_git(err, &pp->creds, grc, "cannot push to '%s'", shown);
		goto out;
	}
	if (pp->state.refused[0]) {
		rc = fl_error_set(err, FL_EREFUSED, "cannot push to '%s': %s", shown, pp->state.refused);
		goto out;
	}
	*moved = pp->state.notes_refused != NULL;
	*pushed += pp->state.accepted;
out:
	git_remote_disconnect(remote);
	push_list_release(&list);
	return rc;
}

int fl_remote_push(struct fl_remote_push_result *out, const char *cache_path, const char *url,
		   const char *const *refs, size_t nrefs, const struct fl_remote_opts *opts,
		   struct fl_error *err)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	struct push_payload pp = { { opts, url, 0, 0, { 0 } }, { 0 } };
	struct fl_remote_push_result res = { 0, 0 };
	struct fl_buf shown = FL_BUF_INIT;
	char **specs = fl_calloc(opts->nnotes_refs + 1, sizeof(*specs));
	size_t nspecs = 0;
	bool moved = false;
	int rc, grc;

	fl_remote_redact(&shown, url);
	notes_specs(specs, &nspecs, opts);
	if ((rc = ensure_init(url, err)))
		goto out;
	if ((grc = git_repository_open_bare(&repo, cache_path)) < 0) {
		rc = fail_git(err, NULL, grc, "cannot open the cache '%s'", cache_path);
		goto out;
	}
	if ((rc = make_remote(&remote, repo, url, &pp.creds, err)))
		goto out;
	for (unsigned attempt = 0;; attempt++) {
		if ((rc = push_once(&moved, &res.pushed, repo, remote, &pp, refs, nrefs, shown.ptr, err)) ||
		    !moved)
			break;
		if (!nspecs || attempt == PUSH_ATTEMPTS) {
			/* libgit2 may refuse before sending, without naming the ref: then it is one of the notes. */
			const char *refused = pp.state.notes_refused  ? pp.state.notes_refused
					      : opts->nnotes_refs ? opts->notes_refs[0]
								  : NULL;
			rc = fl_error_set(err, FL_EREFUSED, "cannot push to '%s': the remote refused '%s'%s",
					  shown.ptr, refused ? refused : "a ref",
					  nspecs ? " though its notes were merged 5 times" : " (not a fast-forward)");
			break;
		}
		/* Another agent pushed first: take its notes, merge ours in, try again. */
		if ((rc = fetch(remote, &pp.creds, (const char *const *)specs, nspecs, false, err)) ||
		    (rc = merge_notes(repo, opts, err)))
			break;
		res.merges++;
	}
out:
	if (out)
		*out = res;
	specs_free(specs, 0, nspecs);
	fl_buf_release(&shown);
	git_remote_free(remote);
	git_repository_free(repo);
	return rc;
}
