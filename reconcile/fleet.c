/*
 * Loading a fleet (SPEC 2 and 4): fleet.yaml and the release/ files of one
 * commit, read from the object database, parsed and validated; tenant
 * manifests are read here and parsed on worker threads by tenant.c; then
 * the checks that span tenants, and the compilation of the templates.
 */
#include "reconcile/fleet.h"

#include <assert.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/yaml.h"
#include "reconcile/fleet_internal.h"
#include "reconcile/render.h"
#include "core/banned.h"

#define TENANT_NAME_RULE "[a-z0-9][a-z0-9-]{0,62}"
#define IDENT_RULE "[A-Za-z0-9][A-Za-z0-9._-]{0,127}, no '..'"
#define MIN_TENANTS_PER_THREAD 64
#define SCRATCH_BLOCK (64 * 1024)
#define SCRATCH_KEEP (4 * SCRATCH_BLOCK)
#define CHUNK_FILES 128

/* ---- the loader ---- */

struct release_file {
	const char *path;
	struct fl_buf text;
	struct fl_source src;
};

struct chunk;

struct tpl_at {
	const struct fl_source *src; /* its release file, in loader.rel */
	uint32_t line, col;	     /* of its name */
};

struct loader {
	struct fl_fleet *f;
	struct fl_repo *repo;
	const struct fl_fleet_load_opts *opts;
	struct fl_error *err;
	struct fl_buf fleet_text;
	struct fl_source fleet_src;
	struct release_file *rel; /* release files, in name order */
	size_t nrel;
	struct fl_template *tpl; /* templates while reading (malloc) */
	size_t ntpl, tplcap;
	struct tpl_at *tpl_at; /* by tpl index: where a duplicate is reported */
	size_t tpl_at_cap;
	struct fl_tenant_file_ *files; /* tenant files, in name order (malloc) */
	size_t nfiles, filecap;
	struct chunk *chunks; /* tenant manifests, read and parsed in chunks */
	size_t nchunks;
	struct fl_tenant *parsed; /* by file index */
	bool *ok;		  /* by file index: parsed without errors */
	bool fleet_ok;		  /* fleet.yaml had no errors */
	struct fl_diags d_files;  /* fleet.yaml and release/ */
	struct fl_diags d_compile;
	struct fl_diags d_tenants;
	struct fl_diags d_cross;
	struct fl_diags d_render; /* tenants whose rendering passes a limit */
};

/* Records a problem with a whole file (not inside its text) at 1:1. */
static void file_error(struct fl_diags *d, int code, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void file_error(struct fl_diags *d, int code, const char *path, const char *fmt, ...)
{
	struct fl_source src = { path, NULL, 0 };
	struct fl_vctx c = { NULL, &src, d, 0 };
	char msg[FL_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fl_vdiag_(&c, code, 1, 1, "%s", msg);
}

/* Reads path (blob, or by path when blob is NULL) into out; 1 when the file was reported. */
static int read_input(struct fl_buf *out, struct loader *ld, const char *path, const struct fl_oid *blob,
		      struct fl_diags *d)
{
	struct fl_error e = FL_ERROR_INIT;
	int rc;

	out->max = out->len + FL_FLEET_MAX_FILE;
	rc = blob ? fl_repo_read_blob(out, ld->repo, blob, &e)
		  : fl_repo_read_file(out, ld->repo, &ld->f->commit, path, &e);
	out->max = 0;
	if (rc == FL_ELIMIT) {
		file_error(d, FL_ELIMIT, path, "file is larger than the limit of %d bytes",
			   FL_FLEET_MAX_FILE);
		return 1;
	}
	if (rc < 0)
		*ld->err = e;
	return rc;
}

static int load_fleet_yaml(struct loader *ld, struct fl_node **root)
{
	struct fl_error e = FL_ERROR_INIT;
	struct fl_vctx c = { &ld->f->arena, &ld->fleet_src, &ld->d_files, 0 };
	int rc;

	*root = NULL;
	fl_buf_init(&ld->fleet_text, FL_FLEET_MAX_FILE);
	rc = read_input(&ld->fleet_text, ld, "fleet.yaml", NULL, &ld->d_files);
	if (rc == FL_ENOTFOUND) {
		struct fl_source src = { "fleet.yaml", NULL, 0 };
		fl_error_set_at(&e, FL_EINPUT, &src, 0, 0,
				"no such file in the commit (a fleet repository has fleet.yaml at its root)");
		fl_diags_add_(&ld->d_files, &e);
		return 0;
	}
	if (rc != 0)
		return rc < 0 ? rc : 0;
	ld->fleet_src.path = "fleet.yaml";
	ld->fleet_src.text = ld->fleet_text.ptr;
	ld->fleet_src.len = ld->fleet_text.len;
	rc = fl_yaml_load_one(root, &ld->f->arena, &ld->fleet_src, NULL, &e);
	if (rc == FL_EINPUT || rc == FL_ELIMIT) {
		fl_diags_add_(&ld->d_files, &e);
		return 0;
	}
	if (rc < 0) {
		*ld->err = e;
		return rc;
	}
	fl_fleet_parse_settings_(ld->f, &c, *root);
	ld->fleet_ok = c.nerrors == 0;
	if (*root && (*root)->type != FL_NODE_MAP)
		*root = NULL;
	return 0;
}

/* ---- release ---- */

static const char *const release_keys[] = { "kind", "name", "service", "spec", NULL };

static bool has_yaml_ext(const char *name, size_t *base_len)
{
	size_t len = strlen(name);

	if (len > 5 && strcmp(name + len - 5, ".yaml") == 0) {
		*base_len = len - 5;
		return true;
	}
	if (len > 4 && strcmp(name + len - 4, ".yml") == 0) {
		*base_len = len - 4;
		return true;
	}
	return false;
}

static const char *service_of(struct fl_vctx *c, const struct fl_fleet *f, const struct fl_node *v)
{
	if (!fl_vstring_(c, v))
		return NULL;
	for (size_t i = 0; i < f->nservices; i++)
		if (strcmp(f->services[i], v->v.str.ptr) == 0)
			return f->services[i];
	fl_verr_(c, v, "unknown service '%s' (expected one of the services of fleet.yaml)", v->v.str.ptr);
	return NULL;
}

static const char *release_ident(struct fl_vctx *c, const struct fl_node *v, const char *what)
{
	if (!fl_vstring_(c, v))
		return NULL;
	if (!fl_ident_valid(v->v.str.ptr, v->v.str.len)) {
		fl_verr_(c, v, "invalid %s '%s' (expected " IDENT_RULE ")", what, v->v.str.ptr);
		return NULL;
	}
	return v->v.str.ptr;
}

/* Keeps a template that parsed cleanly; duplicates are dropped once all are read. */
static void add_template(struct loader *ld, struct fl_vctx *c, const struct fl_template *t,
			 const struct fl_node *at)
{
	FL_GROW(ld->tpl, ld->tplcap, ld->ntpl + 1);
	FL_GROW(ld->tpl_at, ld->tpl_at_cap, ld->ntpl + 1);
	ld->tpl[ld->ntpl] = *t;
	ld->tpl_at[ld->ntpl].src = c->src;
	ld->tpl_at[ld->ntpl].line = at && at->line ? at->line : 1;
	ld->tpl_at[ld->ntpl].col = at && at->line ? at->col : 1;
	ld->ntpl++;
}

/* By kind, then name, then release order (templates are one array). */
static int tpl_ptr_cmp(const void *a, const void *b)
{
	const struct fl_template *x = *(const struct fl_template *const *)a,
				 *y = *(const struct fl_template *const *)b;
	int c = strcmp(x->kind, y->kind);

	if (!c)
		c = strcmp(x->name, y->name);
	return c ? c : (x < y ? -1 : x > y);
}

/*
 * A (kind, name) is one resource: every later template with the same pair is
 * reported at its name and dropped. Sorting finds them in O(n log n); the
 * reports then go out in release order.
 */
static void drop_duplicate_templates(struct loader *ld)
{
	size_t n = ld->ntpl, kept = 0;
	const struct fl_template **v = fl_calloc(n ? n : 1, sizeof(*v));
	size_t *first = fl_calloc(n ? n : 1, sizeof(*first));

	for (size_t i = 0; i < n; i++) {
		v[i] = &ld->tpl[i];
		first[i] = i;
	}
	qsort(v, n, sizeof(*v), tpl_ptr_cmp);
	for (size_t i = 1, head = 0; i < n; i++) {
		if (strcmp(v[i]->kind, v[head]->kind) != 0 || strcmp(v[i]->name, v[head]->name) != 0)
			head = i;
		else
			first[v[i] - ld->tpl] = (size_t)(v[head] - ld->tpl);
	}
	for (size_t i = 0; i < n; i++) {
		const struct fl_template *t = &ld->tpl[i], *o = &ld->tpl[first[i]];
		struct fl_vctx c = { NULL, ld->tpl_at[i].src, &ld->d_files, 0 };
		if (first[i] != i) {
			fl_vdiag_(&c, FL_EINPUT, ld->tpl_at[i].line, ld->tpl_at[i].col,
				  "duplicate resource kind '%s' name '%s' (first at %s:%u)", t->kind, t->name,
				  o->path, o->line);
			continue;
		}
		ld->tpl[kept] = *t;
		ld->tpl[kept].index = kept;
		kept++;
	}
	ld->ntpl = kept;
	free(first);
	free(v);
}

static void parse_release_doc(struct loader *ld, struct fl_vctx *c, const struct fl_node *doc)
{
	static const char *const required[] = { "kind", "name", NULL };
	struct fl_template t;
	size_t before = c->nerrors;

	if (!fl_vexpect_(c, doc, FL_NODE_MAP, "a mapping like { kind: service, name: api, spec: ... }"))
		return;
	memset(&t, 0, sizeof(t));
	t.path = c->src->path;
	t.line = doc->line;
	t.col = doc->col;
	for (size_t i = 0; i < doc->v.map.len; i++) {
		const struct fl_pair *p = &doc->v.map.items[i];
		if (fl_key_is_(p, "kind"))
			t.kind = release_ident(c, p->value, "kind");
		else if (fl_key_is_(p, "name"))
			t.name = release_ident(c, p->value, "resource name");
		else if (fl_key_is_(p, "service"))
			t.service = service_of(c, ld->f, p->value);
		else if (fl_key_is_(p, "spec"))
			t.spec = p->value->type == FL_NODE_NULL ? NULL : p->value;
		else
			fl_unknown_key_(c, p->key, "release document", release_keys);
	}
	fl_missing_keys_(c, doc, "release document", required);
	if (c->nerrors == before)
		add_template(ld, c, &t, fl_node_get(doc, "name"));
}

static int parse_release_file(struct loader *ld, struct release_file *rf)
{
	struct fl_error e = FL_ERROR_INIT;
	struct fl_vctx c = { &ld->f->arena, &rf->src, &ld->d_files, 0 };
	struct fl_node **docs = NULL;
	size_t ndocs = 0;
	int rc;

	rf->src.text = rf->text.ptr;
	rf->src.len = rf->text.len;
	rc = fl_yaml_load(&docs, &ndocs, &ld->f->arena, &rf->src, NULL, &e);
	if (rc == FL_EINPUT || rc == FL_ELIMIT) {
		fl_diags_add_(&ld->d_files, &e);
		return 0;
	}
	if (rc < 0) {
		*ld->err = e;
		return rc;
	}
	for (size_t i = 0; i < ndocs; i++)
		if (docs[i] && docs[i]->type != FL_NODE_NULL)
			parse_release_doc(ld, &c, docs[i]);
	return 0;
}

struct release_entry {
	char *name;
	struct fl_oid id;
};

struct release_list {
	struct release_entry *items;
	size_t len, cap;
};

static int list_release_entry(const struct fl_repo_entry *entry, void *payload)
{
	struct release_list *l = payload;
	size_t base_len;

	if (!entry->is_blob || !has_yaml_ext(entry->name, &base_len))
		return 0;
	FL_GROW(l->items, l->cap, l->len + 1);
	l->items[l->len].name = fl_strdup(entry->name);
	l->items[l->len++].id = entry->id;
	return 0;
}

static int load_release(struct loader *ld)
{
	struct release_list l = { NULL, 0, 0 };
	struct fl_error e = FL_ERROR_INIT;
	int rc;

	rc = fl_repo_path_id(&ld->f->release_tree, ld->repo, &ld->f->commit, "release", &e);
	if (rc == FL_ENOTFOUND) {
		memset(&ld->f->release_tree, 0, sizeof(ld->f->release_tree));
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		*ld->err = e;
		goto out;
	}
	rc = fl_repo_list_dir(ld->repo, &ld->f->commit, "release", list_release_entry, &l, ld->err);
	if (rc < 0)
		goto out;
	ld->rel = fl_calloc(l.len ? l.len : 1, sizeof(*ld->rel));
	for (size_t i = 0; i < l.len && rc == 0; i++) {
		struct release_file *rf = &ld->rel[ld->nrel++];
		struct fl_buf path = FL_BUF_INIT;
		fl_buf_printf(&path, "release/%s", l.items[i].name);
		rf->path = fl_arena_strdup(&ld->f->arena, path.ptr); /* templates point at it */
		fl_buf_release(&path);
		rf->src.path = rf->path;
		fl_buf_init(&rf->text, 0);
		rc = read_input(&rf->text, ld, rf->path, &l.items[i].id, &ld->d_files);
		if (rc == 0)
			rc = parse_release_file(ld, rf);
		else if (rc > 0)
			rc = 0;
	}
out:
	for (size_t i = 0; i < l.len; i++)
		free(l.items[i].name);
	free(l.items);
	return rc;
}

static void finish_templates(struct loader *ld)
{
	struct fl_fleet *f = ld->f;

	f->templates = fl_arena_calloc(&f->arena, ld->ntpl ? ld->ntpl : 1, sizeof(*f->templates));
	if (ld->ntpl)
		memcpy(f->templates, ld->tpl, ld->ntpl * sizeof(*ld->tpl));
	f->ntemplates = ld->ntpl;
}

/* ---- tenants: reading ---- */

static void add_tenant_file(struct loader *ld, const char *fname, size_t base_len, const struct fl_oid *id)
{
	struct fl_tenant_file_ *tf;
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
		file_error(&ld->d_tenants, FL_EINPUT, path,
			   "invalid tenant file name '%s' (expected " TENANT_NAME_RULE ".yaml)", fname);
		tf->skip = true;
	} else if (ld->nfiles > 1 && !tf[-1].skip && strcmp(tf[-1].base, tf->base) == 0) {
		/* acme.yaml and acme.yml are neighbours in name order: nothing valid sorts between. */
		file_error(&ld->d_tenants, FL_EINPUT, path, "duplicate tenant '%s' (also in %s)", tf->base,
			   tf[-1].path);
		tf->skip = true;
	}
}

static int list_tenant_entry(const struct fl_repo_entry *entry, void *payload)
{
	size_t base_len;

	if (entry->is_blob && has_yaml_ext(entry->name, &base_len))
		add_tenant_file(payload, entry->name, base_len, &entry->id);
	return 0;
}

/* Finds the files of the tenants in opts->only, by path. */
static int find_only_tenants(struct loader *ld)
{
	static const char *const exts[] = { ".yaml", ".yml" };
	struct fl_buf path = FL_BUF_INIT;
	bool *again = fl_repeated_names_(ld->opts->only, ld->opts->nonly);
	int rc = 0;

	for (size_t i = 0; i < ld->opts->nonly && rc == 0; i++) {
		const char *name = ld->opts->only[i];
		size_t before = ld->nfiles;
		if (again[i])
			continue;
		if (!fl_tenant_name_valid(name, strlen(name))) {
			file_error(&ld->d_tenants, FL_EINPUT, NULL,
				   "unknown tenant '%s' (not a valid tenant name)", name);
			continue;
		}
		for (size_t k = 0; k < 2 && rc == 0; k++) {
			struct fl_oid id;
			struct fl_error e = FL_ERROR_INIT;
			fl_buf_clear(&path);
			fl_buf_printf(&path, "tenants/%s%s", name, exts[k]);
			rc = fl_repo_path_id(&id, ld->repo, &ld->f->commit, path.ptr, &e);
			if (rc == 0)
				add_tenant_file(ld, path.ptr + 8, strlen(name), &id);
			else if (rc == FL_ENOTFOUND)
				rc = 0;
			else
				*ld->err = e;
		}
		if (rc == 0 && ld->nfiles == before)
			file_error(&ld->d_tenants, FL_EINPUT, NULL, "unknown tenant '%s'", name);
	}
	free(again);
	fl_buf_release(&path);
	return rc;
}

/* Lists the tenant files: all of tenants/, or those of opts->only. */
static int list_tenants(struct loader *ld)
{
	if (ld->opts && ld->opts->only)
		return find_only_tenants(ld);
	return fl_repo_list_dir(ld->repo, &ld->f->commit, "tenants", list_tenant_entry, ld, ld->err);
}

/* ---- tenants: reading and parsing, pipelined ----
 *
 * The calling thread reads the manifests chunk by chunk (a fl_repo is not
 * thread-safe) while workers parse the chunks already read; then it parses
 * too. Each chunk keeps its own diagnostics, merged in chunk order, so the
 * order of problems does not depend on the number of threads.
 */

struct chunk {
	size_t lo, hi;	    /* files[lo, hi) */
	struct fl_buf text; /* their manifests, back to back */
	struct fl_diags diags;
};

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
		const struct fl_tenant_file_ *tf = &ld->files[i];
		struct fl_source src = { tf->path, tf->text, tf->len };
		struct fl_vctx c = { w->arena, &src, &ch->diags, 0 };
		if (tf->skip)
			continue;
		rc = fl_tenant_parse_(&ld->parsed[i], &c, scratch, ld->f, tf, ld->fleet_ok, &w->err);
		ld->ok[i] = rc == 0 && c.nerrors == 0;
		if (scratch->used > SCRATCH_KEEP)
			fl_arena_release(scratch);
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

	/* Trees are dropped once parsed, a few blocks at a time: the memory stays
	 * warm in cache and malloc is not asked to give back and take again. */
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
		struct fl_tenant_file_ *tf = &ld->files[i];
		if (tf->skip)
			continue;
		tf->off = ch->text.len;
		rc = read_input(&ch->text, ld, tf->path, &tf->blob, &ch->diags);
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
			fl_diags_add_(&ld->d_tenants, &ch->diags.items[i]);
		ld->d_tenants.dropped += ch->diags.dropped;
		fl_diags_release(&ch->diags);
	}
	ld->chunks = p->chunks;
	ld->nchunks = p->nchunks;
	pthread_cond_destroy(&p->ready);
	pthread_mutex_destroy(&p->mu);
}

static int load_tenants(struct loader *ld)
{
	struct fl_fleet *f = ld->f;
	struct pipeline p;
	struct worker *w = NULL;
	pthread_t *tids = NULL;
	unsigned n;
	int rc;

	if ((rc = list_tenants(ld)) < 0)
		return rc;
	n = thread_count(ld);
	pipeline_init(&p, ld);
	w = fl_calloc(n, sizeof(*w));
	tids = fl_calloc(n, sizeof(*tids));
	ld->parsed = fl_calloc(ld->nfiles ? ld->nfiles : 1, sizeof(*ld->parsed));
	ld->ok = fl_calloc(ld->nfiles ? ld->nfiles : 1, sizeof(*ld->ok));
	f->thread_arenas_ = fl_calloc(n, sizeof(*f->thread_arenas_));
	f->nthread_arenas_ = n;
	for (unsigned i = 0; i < n; i++) {
		fl_arena_init(&f->thread_arenas_[i], 256 * 1024);
		w[i].p = &p;
		w[i].arena = &f->thread_arenas_[i];
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
		const struct fl_tenant_file_ *tf = &ld->files[v[i] - ld->parsed];
		struct fl_source src = { tf->path, tf->text, tf->len };
		struct fl_vctx c = { NULL, &src, &ld->d_cross, 0 };
		fl_vdiag_(&c, FL_EINPUT, v[i]->account_line, v[i]->account_col,
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
				fl_verr_(&c, name, "wave '%s' selects unknown tenant '%s'", f->waves[w].name,
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

/* ---- fl_fleet_load ---- */

static int compile_templates(struct loader *ld)
{
	struct fl_source *srcs = fl_calloc(ld->nrel + 1, sizeof(*srcs));
	struct fl_render_sources rs = { srcs, 0 };
	int rc;

	srcs[rs.len++] = ld->fleet_src;
	for (size_t i = 0; i < ld->nrel; i++)
		srcs[rs.len++] = ld->rel[i].src;
	rc = fl_render_compile(ld->f, &rs, &ld->d_compile);
	free(srcs);
	return rc == FL_EINPUT || rc == FL_ELIMIT || ld->d_compile.len ? 0 : rc;
}

/* The release file at path, with its text for the caret, or one without text. */
static struct fl_source release_source(const struct loader *ld, const char *path)
{
	struct fl_source src = { path, NULL, 0 };

	for (size_t i = 0; i < ld->nrel; i++)
		if (strcmp(ld->rel[i].path, path) == 0)
			src = ld->rel[i].src;
	return src;
}

/*
 * Every tenant's rendering must fit the limits of render.h. Checked here
 * from sizes alone, so that validate reports it and plan and apply stop
 * before any tenant is touched; rendering checks again as it allocates.
 */
static void check_render_sizes(struct loader *ld)
{
	const struct fl_fleet *f = ld->f;

	for (size_t i = 0; i < f->ntenants; i++) {
		struct fl_error e = FL_ERROR_INIT, at = FL_ERROR_INIT;
		if (fl_render_check_tenant(f, &f->tenants[i], &e) == 0)
			continue;
		if (ld->d_render.len >= FL_FLEET_MAX_DIAGS) {
			ld->d_render.dropped++; /* no search for the file of an error not kept */
			continue;
		}
		struct fl_source src = release_source(ld, e.path);
		fl_error_set_at(&at, e.code, &src, e.line, e.col, "%s", e.msg);
		fl_diags_add_(&ld->d_render, &at);
	}
}

static void merge_diags(struct fl_diags *dst, struct fl_diags *src)
{
	for (size_t i = 0; i < src->len; i++)
		fl_diags_add_(dst, &src->items[i]);
	dst->dropped += src->dropped;
}

/* Hands the problems found to the caller: returns FL_EINPUT or FL_ELIMIT, or 0 if none. */
static int report(struct loader *ld, struct fl_diags *diags)
{
	struct fl_diags all = { NULL, 0, 0, 0 };
	int rc = 0;

	merge_diags(&all, &ld->d_files);
	merge_diags(&all, &ld->d_compile);
	merge_diags(&all, &ld->d_tenants);
	merge_diags(&all, &ld->d_cross);
	merge_diags(&all, &ld->d_render);
	if (all.len) {
		rc = all.items[0].code == FL_ELIMIT ? FL_ELIMIT : FL_EINPUT;
		*ld->err = all.items[0];
		if (diags)
			merge_diags(diags, &all);
	}
	fl_diags_release(&all);
	return rc;
}

static void loader_release(struct loader *ld)
{
	fl_buf_release(&ld->fleet_text);
	for (size_t i = 0; i < ld->nrel; i++)
		fl_buf_release(&ld->rel[i].text);
	free(ld->rel);
	free(ld->tpl);
	free(ld->tpl_at);
	free(ld->files);
	for (size_t k = 0; k < ld->nchunks; k++)
		fl_buf_release(&ld->chunks[k].text);
	free(ld->chunks);
	free(ld->parsed);
	free(ld->ok);
	fl_diags_release(&ld->d_files);
	fl_diags_release(&ld->d_compile);
	fl_diags_release(&ld->d_tenants);
	fl_diags_release(&ld->d_cross);
	fl_diags_release(&ld->d_render);
}

static int load(struct loader *ld)
{
	struct fl_node *root = NULL;
	int rc;

	if ((rc = load_fleet_yaml(ld, &root)) < 0)
		goto out;
	if (!root)
		goto out; /* nothing else can be checked without the settings of fleet.yaml */
	if ((rc = load_release(ld)) < 0)
		goto out;
	drop_duplicate_templates(ld);
	finish_templates(ld);
	if ((rc = load_tenants(ld)) < 0)
		goto out;
	check_cross_tenant(ld);
	finish_tenants(ld);
	if (ld->fleet_ok && ld->d_files.len == 0) {
		rc = compile_templates(ld);
		if (rc == 0 && ld->d_compile.len == 0)
			check_render_sizes(ld);
	}
out:
	return rc;
}

int fl_fleet_load(struct fl_fleet **out, struct fl_repo *repo, const struct fl_oid *commit,
		  const struct fl_fleet_load_opts *opts, struct fl_diags *diags, struct fl_error *err)
{
	struct fl_error scratch = FL_ERROR_INIT;
	struct loader ld;
	struct fl_fleet *f = fl_calloc(1, sizeof(*f));
	int rc;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.f = f;
	ld.repo = repo;
	ld.opts = opts;
	ld.err = err ? err : &scratch;
	fl_buf_init(&ld.fleet_text, 0);
	fl_arena_init(&f->arena, 0);
	f->commit = *commit;
	fl_oid_hex(f->revision, commit);
	rc = fl_repo_path_id(&f->fleet_blob, repo, commit, "fleet.yaml", ld.err);
	if (rc == FL_ENOTFOUND)
		rc = 0;
	if (rc < 0)
		goto out;
	rc = load(&ld);
	if (rc == 0)
		rc = report(&ld, diags);
out:
	loader_release(&ld);
	if (rc < 0)
		fl_fleet_free(f);
	else
		*out = f;
	return rc;
}

void fl_fleet_free(struct fl_fleet *fleet)
{
	if (!fleet)
		return;
	fl_render_release(fleet);
	for (size_t i = 0; i < fleet->nvars; i++)
		if (fleet->vars[i].regex)
			regfree(fleet->vars[i].regex);
	for (size_t i = 0; i < fleet->nthread_arenas_; i++)
		fl_arena_release(&fleet->thread_arenas_[i]);
	free(fleet->thread_arenas_);
	fl_arena_release(&fleet->arena);
	free(fleet);
}

/* ---- lookups ---- */

static int var_ptr_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct fl_var_decl *const *)a)->name,
		      (*(const struct fl_var_decl *const *)b)->name);
}

void fl_fleet_index_vars(struct fl_fleet *fleet)
{
	const struct fl_var_decl **v =
		fl_arena_calloc(&fleet->arena, fleet->nvars ? fleet->nvars : 1, sizeof(*v));

	for (size_t i = 0; i < fleet->nvars; i++)
		v[i] = &fleet->vars[i];
	qsort(v, fleet->nvars, sizeof(*v), var_ptr_cmp);
	fleet->vars_by_name = v;
}

/* A name that need not end in NUL, as a bsearch key. */
struct name_key {
	const char *s;
	size_t len;
};

static int var_key_cmp(const void *key, const void *elem)
{
	const struct name_key *k = key;
	const char *name = (*(const struct fl_var_decl *const *)elem)->name;
	size_t nlen = strlen(name);
	int c = memcmp(k->s, name, k->len < nlen ? k->len : nlen);

	/* strcmp's order, which sorted the index: on a tie the shorter first. */
	return c ? c : (k->len > nlen) - (k->len < nlen);
}

const struct fl_var_decl *fl_fleet_var(const struct fl_fleet *fleet, const char *name, size_t len)
{
	struct name_key key = { name, len };
	const struct fl_var_decl *const *found;

	if (!fleet->nvars)
		return NULL;
	assert(fleet->vars_by_name);
	found = bsearch(&key, fleet->vars_by_name, fleet->nvars, sizeof(*fleet->vars_by_name), var_key_cmp);
	return found ? *found : NULL;
}

static int tenant_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct fl_tenant *)elem)->name);
}

const struct fl_tenant *fl_fleet_tenant(const struct fl_fleet *fleet, const char *name)
{
	return bsearch(name, fleet->tenants, fleet->ntenants, sizeof(*fleet->tenants), tenant_key_cmp);
}

int fl_fleet_wave_index(const struct fl_fleet *fleet, const char *name)
{
	for (size_t i = 0; i < fleet->nwaves; i++)
		if (fleet->waves[i].name && strcmp(fleet->waves[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int label_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct fl_label *)elem)->key);
}

const char *fl_tenant_label(const struct fl_tenant *tenant, const char *key)
{
	const struct fl_label *l;

	if (!tenant->nlabels)
		return NULL;
	l = bsearch(key, tenant->labels, tenant->nlabels, sizeof(*tenant->labels), label_key_cmp);
	return l ? l->value : NULL;
}

bool fl_tenant_subscribes(const struct fl_fleet *fleet, const struct fl_tenant *tenant, const char *service)
{
	if (!service)
		return true;
	for (size_t i = 0; i < fleet->nservices; i++)
		if (strcmp(fleet->services[i], service) == 0)
			return (tenant->services >> i) & 1;
	return false;
}

unsigned fl_amount_resolve(const struct fl_amount *amount, size_t n, bool at_least_one)
{
	uint64_t v = amount->percent ? (uint64_t)n * amount->value / 100 : amount->value;

	if (v > UINT32_MAX)
		v = UINT32_MAX;
	if (at_least_one && v < 1)
		v = 1;
	return (unsigned)v;
}
