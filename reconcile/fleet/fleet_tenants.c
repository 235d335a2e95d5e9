/*
 * The tenants of a fleet (SPEC 4): the manifests of tenants/ (all, or those
 * asked for) listed and read from the commit by this thread while workers
 * parse them with tenant.c; then the checks that span tenants (accounts,
 * names that waves select), and the valid tenants moved into the fleet.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "reconcile/fleet/fleet_load_internal.h"
#include "core/banned.h"

#define TENANT_NAME_RULE "[a-z0-9][a-z0-9-]{0,62}"
#define MIN_TENANTS_PER_THREAD 64
#define SCRATCH_BLOCK (64 * 1024)
#define SCRATCH_KEEP (4 * SCRATCH_BLOCK)
#define CHUNK_FILES 128

/* ---- listing ---- */

static void add_tenant_file(struct loader *ld, const char *fname, size_t base_len, const struct fl_oid *id)
{
	struct fl_tenant_file *tf;
	struct fl_arena *a = &ld->f->arena;
	size_t flen = strlen(fname);
	char *path = fl_arena_alloc(a, flen + sizeof("tenants/"));

	memcpy(path, "tenants/", 8);
	memcpy(path + 8, fname, flen + 1);
	FL_GROW(ld->files, ld->filecap, ld->nfiles + 1);
	tf = &ld->files[ld->nfiles++];
	memset(tf, 0, sizeof(*tf));
	tf->path = path;
	tf->base = fl_arena_strndup(a, fname, base_len);
	tf->blob = *id;
	if (!fl_tenant_name_valid(fname, base_len)) {
		fl_loader_file_error(&ld->d_tenants, FL_EINPUT, path,
				     "invalid tenant file name '%s' (expected " TENANT_NAME_RULE ".yaml)", fname);
		tf->skip = true;
	} else if (ld->nfiles > 1 && !tf[-1].skip && strcmp(tf[-1].base, tf->base) == 0) {
		/* acme.yaml and acme.yml are neighbours in name order: nothing valid sorts between. */
		fl_loader_file_error(&ld->d_tenants, FL_EINPUT, path, "duplicate tenant '%s' (also in %s)",
				     tf->base, tf[-1].path);
		tf->skip = true;
	}
}

static int list_tenant_entry(const struct fl_repo_entry *entry, void *payload)
{
	size_t base_len;

	if (entry->is_blob && fl_loader_yaml_name(entry->name, &base_len))
		add_tenant_file(payload, entry->name, base_len, &entry->id);
	return 0;
}

bool fl_tenant_file(const char *path, size_t *len)
{
	return strncmp(path, "tenants/", 8) == 0 && !strchr(path + 8, '/') && fl_loader_yaml_name(path + 8, len);
}

/*
 * Finds the files of the tenants in opts->only: name.yaml and name.yml of
 * each, looked up together (a preview of one tenant in a fleet of 100,000
 * reads tenants/ without parsing it).
 */
static int find_only_tenants(struct loader *ld)
{
	static const char *const exts[] = { ".yaml", ".yml" };
	size_t n = ld->opts->nonly, m = 0;
	bool *again = fl_repeated_names(ld->opts->only, n);
	/* name.yaml and name.yml of each name looked up (once, and valid), in the names' order */
	char **files = fl_calloc(2 * n + 1, sizeof(*files));
	struct fl_oid *ids = fl_calloc(2 * n + 1, sizeof(*ids));
	bool *found = fl_calloc(2 * n + 1, sizeof(*found));
	int rc;

	for (size_t i = 0; i < n; i++) {
		const char *name = ld->opts->only[i];
		for (size_t k = 0; k < 2 && !again[i] && fl_tenant_name_valid(name, strlen(name)); k++) {
			struct fl_buf file = FL_BUF_INIT;
			(void)fl_buf_printf(&file, "%s%s", name, exts[k]); /* no maximum: cannot fail */
			files[m++] = fl_buf_detach(&file, NULL);
		}
	}
	rc = fl_repo_dir_find(ld->repo, &ld->f->commit, "tenants", (const char *const *)files, m, ids, found,
			      ld->err);
	for (size_t i = 0, j = 0; i < n && rc == 0; i++) {
		const char *name = ld->opts->only[i];
		size_t before = ld->nfiles;
		if (again[i])
			continue;
		if (!fl_tenant_name_valid(name, strlen(name))) {
			fl_loader_file_error(&ld->d_tenants, FL_EINPUT, NULL,
					     "unknown tenant '%s' (not a valid tenant name)", name);
			continue;
		}
		for (size_t k = 0; k < 2; k++, j++)
			if (found[j])
				add_tenant_file(ld, files[j], strlen(name), &ids[j]);
		if (ld->nfiles == before)
			fl_loader_file_error(&ld->d_tenants, FL_EINPUT, NULL, "unknown tenant '%s'", name);
	}
	for (size_t i = 0; i < m; i++)
		free(files[i]);
	free(files);
	free(ids);
	free(found);
	free(again);
	return rc;
}

/* Lists the tenant files: all of tenants/, or those of opts->only. */
static int list_tenants(struct loader *ld)
{
	if (ld->opts && ld->opts->only)
		return find_only_tenants(ld);
	return fl_repo_list_dir(ld->repo, &ld->f->commit, "tenants", list_tenant_entry, ld, ld->err);
}

/* ---- reading and parsing, pipelined ----
 *
 * The calling thread reads the manifests chunk by chunk (a fl_repo is not
 * thread-safe) while workers parse the chunks already read; then it parses
 * too. Each chunk keeps its own diagnostics, merged in chunk order, so the
 * order of problems does not depend on the number of threads.
 */

struct pipeline {
	struct loader *ld;
	struct chunk *chunks;
	size_t nchunks;
	pthread_mutex_t mu;
	pthread_cond_t ready;
	size_t next;  /* the next chunk to parse */
	size_t nread; /* chunks read so far */
	bool stop;    /* reading or parsing failed: give up */
};

struct worker {
	struct pipeline *p;
	struct fl_arena *arena; /* where this worker's tenants live */
	bool started;
	int rc;
	struct fl_error err;
};

static int parse_chunk(struct worker *w, struct chunk *ch, struct fl_arena *scratch)
{
	struct loader *ld = w->p->ld;
	int rc = 0;

	for (size_t i = ch->lo; i < ch->hi && rc == 0; i++) {
		const struct fl_tenant_file *tf = &ld->files[i];
		struct fl_source src = { tf->path, tf->text, tf->len };
		struct fl_vctx c = { w->arena, &src, &ch->diags, 0 };
		if (tf->skip)
			continue;
		rc = fl_tenant_parse(&ld->parsed[i], &c, scratch, ld->f, tf, ld->fleet_ok, &w->err);
		ld->ok[i] = rc == 0 && c.nerrors == 0;
		if (scratch->used > SCRATCH_KEEP)
			fl_arena_reset(scratch);
	}
	return rc;
}

/* Takes the next chunk once it is read; NULL when there is none left. */
static struct chunk *next_chunk(struct pipeline *p)
{
	struct chunk *ch = NULL;

	pthread_mutex_lock(&p->mu);
	if (!p->stop && p->next < p->nchunks) {
		size_t k = p->next++;
		while (!p->stop && p->nread <= k)
			pthread_cond_wait(&p->ready, &p->mu);
		if (!p->stop)
			ch = &p->chunks[k];
	}
	pthread_mutex_unlock(&p->mu);
	return ch;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct chunk *ch;
	struct fl_arena scratch;

	/* Trees are dropped once parsed, a few blocks at a time, and the blocks
	 * kept (fl_arena_reset): the memory stays warm in cache, and malloc is not
	 * asked to give it back and take it again. */
	fl_arena_init(&scratch, SCRATCH_BLOCK);
	while (w->rc == 0 && (ch = next_chunk(w->p)) != NULL) {
		w->rc = parse_chunk(w, ch, &scratch);
		if (w->rc < 0) {
			pthread_mutex_lock(&w->p->mu);
			w->p->stop = true;
			pthread_cond_broadcast(&w->p->ready);
			pthread_mutex_unlock(&w->p->mu);
		}
	}
	fl_arena_release(&scratch);
	return NULL;
}

static int read_chunk(struct loader *ld, struct chunk *ch)
{
	int rc = 0;

	fl_buf_init(&ch->text, 0);
	for (size_t i = ch->lo; i < ch->hi && rc >= 0; i++) {
		struct fl_tenant_file *tf = &ld->files[i];
		if (tf->skip)
			continue;
		tf->off = ch->text.len;
		rc = fl_loader_read_input(&ch->text, ld, tf->path, &tf->blob, &ch->diags);
		tf->skip = rc > 0;
		tf->len = ch->text.len - tf->off;
		if (rc >= 0)
			fl_buf_putc(&ch->text, '\0');
	}
	/* The buffer moves no more: the texts can be pointed at. */
	for (size_t i = ch->lo; i < ch->hi; i++)
		ld->files[i].text = ch->text.ptr + ld->files[i].off;
	return rc < 0 ? rc : 0;
}

static unsigned thread_count(const struct loader *ld)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = ld->opts && ld->opts->threads ? ld->opts->threads : (ncpu > 0 ? (size_t)ncpu : 1);
	size_t most = ld->nfiles / MIN_TENANTS_PER_THREAD + 1;

	if (n > most)
		n = most;
	return n > 256 ? 256 : (unsigned)n;
}

/* Reads the chunks in this thread, publishing each to the workers. */
static int read_chunks(struct pipeline *p)
{
	int rc = 0;

	for (size_t k = 0; k < p->nchunks && rc == 0; k++) {
		rc = read_chunk(p->ld, &p->chunks[k]);
		pthread_mutex_lock(&p->mu);
		if (rc < 0)
			p->stop = true;
		else
			p->nread++;
		pthread_cond_broadcast(&p->ready);
		pthread_mutex_unlock(&p->mu);
	}
	return rc;
}

static void pipeline_init(struct pipeline *p, struct loader *ld)
{
	memset(p, 0, sizeof(*p));
	p->ld = ld;
	p->nchunks = (ld->nfiles + CHUNK_FILES - 1) / CHUNK_FILES;
	p->chunks = fl_calloc(p->nchunks ? p->nchunks : 1, sizeof(*p->chunks));
	for (size_t k = 0; k < p->nchunks; k++) {
		p->chunks[k].lo = k * CHUNK_FILES;
		p->chunks[k].hi = k + 1 == p->nchunks ? ld->nfiles : (k + 1) * CHUNK_FILES;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->ready, NULL);
}

/* Merges the chunks' problems in order, and keeps their texts for later checks. */
static void pipeline_finish(struct pipeline *p)
{
	struct loader *ld = p->ld;

	for (size_t k = 0; k < p->nchunks; k++) {
		struct chunk *ch = &p->chunks[k];
		for (size_t i = 0; i < ch->diags.len; i++)
			fl_diags_add(&ld->d_tenants, &ch->diags.items[i]);
		ld->d_tenants.dropped += ch->diags.dropped;
		fl_diags_release(&ch->diags);
	}
	ld->chunks = p->chunks;
	ld->nchunks = p->nchunks;
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->mu);
}

/* Reads and parses the listed files, on as many threads as pay. */
static int parse_tenants(struct loader *ld)
{
	struct fl_fleet *f = ld->f;
	struct pipeline p;
	struct worker *w = NULL;
	pthread_t *tids = NULL;
	unsigned n;
	int rc;

	n = thread_count(ld);
	pipeline_init(&p, ld);
	w = fl_calloc(n, sizeof(*w));
	tids = fl_calloc(n, sizeof(*tids));
	ld->parsed = fl_calloc(ld->nfiles ? ld->nfiles : 1, sizeof(*ld->parsed));
	ld->ok = fl_calloc(ld->nfiles ? ld->nfiles : 1, sizeof(*ld->ok));
	f->tenant_arenas = fl_calloc(n, sizeof(*f->tenant_arenas));
	f->ntenant_arenas = n;
	for (unsigned i = 0; i < n; i++) {
		fl_arena_init(&f->tenant_arenas[i], 256 * 1024);
		w[i].p = &p;
		w[i].arena = &f->tenant_arenas[i];
	}
	/* Worker 0 is this thread, once everything is read. */
	for (unsigned i = 1; i < n; i++)
		w[i].started = pthread_create(&tids[i], NULL, work, &w[i]) == 0;
	rc = read_chunks(&p); /* a failure is in ld->err */
	work(&w[0]);
	for (unsigned i = 1; i < n; i++)
		if (w[i].started)
			pthread_join(tids[i], NULL);
	for (unsigned i = 0; i < n && rc == 0; i++)
		if (w[i].rc < 0) {
			rc = w[i].rc;
			*ld->err = w[i].err;
		}
	pipeline_finish(&p);
	free(w);
	free(tids);
	return rc;
}

/* ---- checks across tenants ---- */

static int tenant_ptr_by_account(const void *a, const void *b)
{
	const struct fl_tenant *x = *(const struct fl_tenant *const *)a,
			       *y = *(const struct fl_tenant *const *)b;
	int c = strcmp(x->account, y->account);
	return c ? c : (x < y ? -1 : x > y);
}

/* An account belongs to one tenant: errors at every later tenant (in file order). */
static void check_accounts(struct loader *ld)
{
	const struct fl_tenant **v = fl_calloc(ld->nfiles ? ld->nfiles : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < ld->nfiles; i++)
		if (ld->ok[i])
			v[n++] = &ld->parsed[i];
	qsort(v, n, sizeof(*v), tenant_ptr_by_account);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (strcmp(v[i]->account, v[first]->account) != 0) {
			first = i;
			continue;
		}
		const struct fl_tenant_file *tf = &ld->files[v[i] - ld->parsed];
		struct fl_source src = { tf->path, tf->text, tf->len };
		struct fl_vctx c = { NULL, &src, &ld->d_cross, 0 };
		fl_vdiag(&c, FL_EINPUT, v[i]->account_line, v[i]->account_col,
			  "account '%s' is already used by tenant '%s'", v[i]->account, v[first]->name);
	}
	free(v);
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names in a { tenants: [...] } selector must be tenants (checked when all are loaded). */
static void check_selected_names(struct loader *ld)
{
	const struct fl_fleet *f = ld->f;
	struct fl_vctx c = { NULL, &ld->fleet_src, &ld->d_cross, 0 };
	const char **names = NULL;
	size_t n = 0;

	for (size_t w = 0; w < f->nwaves; w++) {
		const struct fl_selector *s = &f->waves[w].select;
		if (s->kind != FL_SELECT_TENANTS)
			continue;
		if (!names) {
			names = fl_calloc(ld->nfiles ? ld->nfiles : 1, sizeof(*names));
			for (size_t i = 0; i < ld->nfiles; i++)
				if (!ld->files[i].skip)
					names[n++] = ld->files[i].base;
			qsort(names, n, sizeof(*names), str_ptr_cmp);
		}
		/* The list as written, for the order and positions (s->tenants is sorted). */
		const struct fl_node *list = fl_node_get(s->node, "tenants");
		for (size_t i = 0; i < list->v.seq.len; i++) {
			const struct fl_node *name = list->v.seq.items[i];
			if (!bsearch(&name->v.str.ptr, names, n, sizeof(*names), str_ptr_cmp))
				fl_verr(&c, name, "wave '%s' selects unknown tenant '%s'", f->waves[w].name,
					 name->v.str.ptr);
		}
	}
	free(names);
}

static int tenant_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fl_tenant *)a)->name, ((const struct fl_tenant *)b)->name);
}

/* Moves the parsed tenants into the fleet, sorted by name, and counts each wave's. */
static void finish_tenants(struct loader *ld)
{
	struct fl_fleet *f = ld->f;
	size_t n = 0;

	f->tenants = fl_arena_calloc(&f->arena, ld->nfiles ? ld->nfiles : 1, sizeof(*f->tenants));
	for (size_t i = 0; i < ld->nfiles; i++)
		if (ld->ok[i])
			f->tenants[n++] = ld->parsed[i];
	f->ntenants = n;
	/* Tree order is name order but for .yml next to .yaml: sort only when it differs. */
	size_t sorted = 1;
	while (sorted < n && tenant_cmp(&f->tenants[sorted - 1], &f->tenants[sorted]) < 0)
		sorted++;
	if (sorted < n)
		qsort(f->tenants, n, sizeof(*f->tenants), tenant_cmp);
	for (size_t i = 0; i < n; i++)
		if (f->tenants[i].wave < f->nwaves)
			f->waves[f->tenants[i].wave].ntenants++;
}

static void check_cross_tenant(struct loader *ld)
{
	check_accounts(ld);
	if (ld->fleet_ok && !(ld->opts && ld->opts->only))
		check_selected_names(ld);
}

int fl_loader_read_tenants(struct loader *ld)
{
	int rc = list_tenants(ld);

	if (rc >= 0)
		rc = parse_tenants(ld);
	if (rc >= 0) {
		check_cross_tenant(ld);
		finish_tenants(ld);
	}
	return rc < 0 ? rc : 0;
}
