/*
 * flfloor, the floor of a converged plan (docs/benchmarks.md, "Near the
 * floor"): the least I/O any program must do to tell that a fleet that
 * `flbench gen` wrote is converged with the dir driver. It reads every
 * tenant blob of the commit with libgit2 and every marker (the first two
 * lines of <root>/<account>/<region>.state), and with --identity every
 * account.json too, and nothing else: no fleet.yaml, no release, no YAML
 * parser, no validation, no rendering. It prints what it read and its time.
 * With --start-only it starts libgit2, opens the fleet, resolves REV and
 * stops: what any program linked against Debian's libgit2 costs before it
 * reads a tree (the floor of a `--since` plan, whose work is small). It
 * starts libgit2 as flotilla does (core/git_init.c, the CA certificates
 * put off), and prepares its heap as flotilla does (core/heap.c, huge
 * pages), so that neither pays for what the other skips.
 *
 * A blob is scanned only for the `account:` and `regions:` lines flbench
 * writes (the marker's path needs them); any other manifest is refused.
 * Like flotilla, it reads the blobs on one thread (a repository handle is
 * not thread-safe) while the others read markers of the tenants already
 * scanned, and it skips libgit2's re-hashing of every object it reads.
 */
#define _DEFAULT_SOURCE 1 /* struct rusage; CMake sets only _POSIX_C_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "core/git_init.h"
#include "core/heap.h"

#define MAX_REGIONS 8
#define NAME_MAX_LEN 64
#define HEAD_MAX 256   /* a marker's lines 1 and 2 fit, as in the dir driver */
#define IDENT_MAX 4096

struct tenant {
	char account[NAME_MAX_LEN];
	char regions[MAX_REGIONS][NAME_MAX_LEN];
	unsigned nregions;
};

struct floor_run {
	const char *root;
	bool identity;
	struct tenant *tenants;
	size_t n;
	atomic_size_t scanned;  /* tenants the blob reader has filled in */
	atomic_size_t next;     /* the next tenant whose files a reader takes */
	atomic_int failed;
	pthread_mutex_t mu;
	pthread_cond_t more;
	atomic_size_t markers, identities, file_bytes;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int fail_git(const char *what)
{
	const git_error *e = git_error_last();
	fprintf(stderr, "flfloor: %s: %s\n", what, e && e->message ? e->message : "unknown error");
	return -1;
}

/* Copies the token at p (up to a delimiter) into out; the end of the token, or NULL. */
static const char *token(char out[NAME_MAX_LEN], const char *p, const char *end, const char *delims)
{
	size_t len = 0;
	while (p < end && *p == ' ')
		p++;
	while (p + len < end && !strchr(delims, p[len]))
		len++;
	while (len && p[len - 1] == ' ')
		len--;
	if (len == 0 || len >= NAME_MAX_LEN)
		return NULL;
	memcpy(out, p, len);
	out[len] = '\0';
	return p + len;
}

/* The value of the line starting with key, or NULL. */
static const char *line_value(const char *text, size_t len, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if ((size_t)(eol - p) > klen && memcmp(p, key, klen) == 0)
			return p + klen;
		p = eol + 1;
	}
	return NULL;
}

/* `account: "123"` and `regions: [a, b]` as flbench writes them. */
static int scan_tenant(struct tenant *t, const char *text, size_t len)
{
	const char *end = text + len;
	const char *p = line_value(text, len, "account: \"");
	if (!p || !token(t->account, p, end, "\"\n"))
		return -1;
	p = line_value(text, len, "regions: [");
	t->nregions = 0;
	while (p && t->nregions < MAX_REGIONS && (p = token(t->regions[t->nregions], p, end, ",]\n"))) {
		t->nregions++;
		if (*p != ',')
			break;
		p++;
	}
	return t->nregions ? 0 : -1;
}

/* Opens path, reads up to cap bytes with one read() per call, closes; the bytes read or -1. */
static ssize_t read_head(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, cap);
	while (n < 0 && errno == EINTR);
	close(fd);
	return n;
}

static int read_tenant_files(struct floor_run *r, const struct tenant *t)
{
	char path[PATH_MAX], head[HEAD_MAX], ident[IDENT_MAX];
	size_t bytes = 0;
	for (unsigned i = 0; i < t->nregions; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s.state", r->root, t->account, t->regions[i]);
		ssize_t n = read_head(path, head, sizeof(head));
		if (n < 0 || !memchr(head, '\n', (size_t)n)) {
			fprintf(stderr, "flfloor: no marker in '%s'\n", path);
			return -1;
		}
		bytes += (size_t)n;
	}
	atomic_fetch_add(&r->markers, t->nregions);
	if (r->identity) {
		snprintf(path, sizeof(path), "%s/%s/account.json", r->root, t->account);
		ssize_t n = read_head(path, ident, sizeof(ident) - 1);
		if (n > 0)
			ident[n] = '\0';
		if (n <= 0 || !strstr(ident, t->account)) {
			fprintf(stderr, "flfloor: '%s' does not name account %s\n", path, t->account);
			return -1;
		}
		bytes += (size_t)n;
		atomic_fetch_add(&r->identities, 1);
	}
	atomic_fetch_add(&r->file_bytes, bytes);
	return 0;
}

/* Takes tenants in order as the blob reader scans them, until all are read or one fails. */
static void *read_files(void *arg)
{
	struct floor_run *r = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&r->next, 1);
		if (i >= r->n || atomic_load(&r->failed))
			break;
		if (atomic_load(&r->scanned) <= i) {
			pthread_mutex_lock(&r->mu);
			while (atomic_load(&r->scanned) <= i && !atomic_load(&r->failed))
				pthread_cond_wait(&r->more, &r->mu);
			pthread_mutex_unlock(&r->mu);
			if (atomic_load(&r->failed))
				break;
		}
		if (read_tenant_files(r, &r->tenants[i]))
			atomic_store(&r->failed, 1);
	}
	return NULL;
}

static void publish(struct floor_run *r, size_t scanned, bool failed)
{
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->scanned, scanned);
	if (failed)
		atomic_store(&r->failed, 1);
	pthread_cond_broadcast(&r->more);
	pthread_mutex_unlock(&r->mu);
}

/* Reads and scans every blob of tree, publishing every 64 tenants. */
static int read_blobs(struct floor_run *r, git_repository *repo, const git_tree *tree, size_t *blob_bytes)
{
	git_odb *odb = NULL;
	int rc = git_repository_odb(&odb, repo) ? fail_git("cannot open the object database") : 0;
	for (size_t i = 0; i < r->n && rc == 0; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		git_odb_object *obj = NULL;
		if (git_odb_read(&obj, odb, git_tree_entry_id(e))) {
			rc = fail_git(git_tree_entry_name(e));
			break;
		}
		size_t len = git_odb_object_size(obj);
		*blob_bytes += len;
		if (scan_tenant(&r->tenants[i], git_odb_object_data(obj), len)) {
			fprintf(stderr, "flfloor: tenants/%s: no `account: \"...\"` and `regions: [...]` lines\n",
				git_tree_entry_name(e));
			rc = -1;
		}
		git_odb_object_free(obj);
		if (rc || (i + 1) % 64 == 0 || i + 1 == r->n)
			publish(r, i + 1, rc != 0);
	}
	if (rc)
		publish(r, atomic_load(&r->scanned), true);
	git_odb_free(odb);
	return rc;
}

static int open_tenants(git_repository **repo, git_tree **tree, const char *path, const char *rev)
{
	git_object *commit = NULL;
	git_tree *root = NULL;
	git_tree_entry *entry = NULL;
	int rc = 0;
	if (git_repository_open_bare(repo, path) && git_repository_open(repo, path))
		rc = fail_git("cannot open the repository");
	else if (git_revparse_single(&commit, *repo, rev) ||
		 git_commit_tree(&root, (git_commit *)commit))
		rc = fail_git("cannot resolve the revision");
	else if (git_tree_entry_bypath(&entry, root, "tenants") ||
		 git_tree_lookup(tree, *repo, git_tree_entry_id(entry)))
		rc = fail_git("cannot read tenants/");
	git_tree_entry_free(entry);
	git_tree_free(root);
	git_object_free(commit);
	return rc;
}

static int run(const char *repo_path, const char *rev, struct floor_run *r, unsigned nthreads)
{
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	pthread_t tids[64];
	unsigned started = 0;
	size_t blob_bytes = 0;
	double t0 = now_ms();
	int rc = open_tenants(&repo, &tree, repo_path, rev);
	if (rc)
		goto out;
	r->n = git_tree_entrycount(tree);
	r->tenants = calloc(r->n ? r->n : 1, sizeof(*r->tenants));
	if (!r->tenants) {
		fprintf(stderr, "flfloor: out of memory\n");
		rc = -1;
		goto out;
	}
	for (unsigned i = 0; i < nthreads && pthread_create(&tids[i], NULL, read_files, r) == 0; i++)
		started++;
	/* Then this thread reads files too. */
	rc = read_blobs(r, repo, tree, &blob_bytes);
	read_files(r);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (!rc && atomic_load(&r->failed))
		rc = -1;
	if (!rc)
		printf("flfloor: %zu tenant blobs (%zu bytes), %zu markers, %zu identities (%zu bytes of files) "
		       "in %.1f ms, %.1f ms cpu\n",
		       r->n, blob_bytes, atomic_load(&r->markers), atomic_load(&r->identities),
		       atomic_load(&r->file_bytes), now_ms() - t0, cpu_ms());
out:
	free(r->tenants);
	git_tree_free(tree);
	git_repository_free(repo);
	return rc;
}

/* --start-only: libgit2 started, the fleet opened, rev resolved, nothing read. */
static int start(const char *path, const char *rev)
{
	git_repository *repo = NULL;
	git_object *obj = NULL;
	int rc = git_repository_open(&repo, path);
	if (!rc)
		rc = git_revparse_single(&obj, repo, rev);
	if (rc)
		fail_git(path);
	git_object_free(obj);
	git_repository_free(repo);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: flfloor --repo FLEET --rev REV --accounts ROOT [--identity] [--threads N]\n"
			"       flfloor --repo FLEET --rev REV --start-only\n"
			"Reads every tenant blob of REV and every marker under ROOT (with --identity, every\n"
			"account.json too) and nothing else; prints what it read and the time it took.\n"
			"--start-only starts libgit2, opens FLEET, resolves REV and reads nothing.\n");
}

int main(int argc, char **argv)
{
	struct floor_run r;
	const char *repo = NULL, *rev = NULL;
	bool start_only = false;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned nthreads = ncpu < 2 ? 1 : ncpu > 64 ? 64 : (unsigned)ncpu;
	(void)fl_heap_prepare();
	memset(&r, 0, sizeof(r));
	for (int i = 1; i < argc; i++) {
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--identity") == 0) {
			r.identity = true;
			continue;
		}
		if (strcmp(argv[i], "--start-only") == 0) {
			start_only = true;
			continue;
		}
		if (!next) {
			usage();
			return 2;
		}
		if (strcmp(argv[i], "--repo") == 0)
			repo = next;
		else if (strcmp(argv[i], "--rev") == 0)
			rev = next;
		else if (strcmp(argv[i], "--accounts") == 0)
			r.root = next;
		else if (strcmp(argv[i], "--threads") == 0)
			nthreads = (unsigned)strtoul(next, NULL, 10);
		else {
			usage();
			return 2;
		}
		i++;
	}
	if (!repo || !rev || (!r.root && !start_only) || nthreads < 1 || nthreads > 64) {
		usage();
		return 2;
	}
	/* The blob reader is one of the threads: the others read files. */
	nthreads--;
	if (fl_git_init() < 0) {
		fail_git("cannot initialise libgit2");
		return 1;
	}
	if (start_only)
		return start(repo, rev) ? 1 : 0;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.more, NULL);
	int rc = run(repo, rev, &r, nthreads);
	pthread_cond_destroy(&r.more);
	pthread_mutex_destroy(&r.mu);
	return rc ? 1 : 0;
}
