/*
 * The release of a fleet (SPEC 2): every file of release/ read from the
 * commit, each YAML document checked as a template (kind, name, service,
 * spec), and a later template of a kind and name already seen reported
 * and dropped. Compiling the specs is render_compile.c's business.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/yaml.h"
#include "reconcile/fleet/fleet_load_internal.h"
#include "core/banned.h"

#define IDENT_RULE "[A-Za-z0-9][A-Za-z0-9._-]{0,127}, no '..'"

static const char *const release_keys[] = { "kind", "name", "service", "spec", NULL };

static const char *service_of(struct fl_vctx *c, const struct fl_fleet *f, const struct fl_node *v)
{
	if (!fl_vstring(c, v))
		return NULL;
	for (size_t i = 0; i < f->nservices; i++)
		if (strcmp(f->services[i], v->v.str.ptr) == 0)
			return f->services[i];
	fl_verr(c, v, "unknown service '%s' (expected one of the services of fleet.yaml)", v->v.str.ptr);
	return NULL;
}

static const char *release_ident(struct fl_vctx *c, const struct fl_node *v, const char *what)
{
	bool kind = strcmp(what, "kind") == 0;
	if (!fl_vstring(c, v))
		return NULL;
	if (kind ? !fl_kind_valid(v->v.str.ptr, v->v.str.len) : !fl_ident_valid(v->v.str.ptr, v->v.str.len)) {
		fl_verr(c, v, "invalid %s '%s' (expected %s)", what, v->v.str.ptr, kind ? FL_KIND_RULE : IDENT_RULE);
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
			fl_vdiag(&c, FL_EINPUT, ld->tpl_at[i].line, ld->tpl_at[i].col,
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

	if (!fl_vexpect(c, doc, FL_NODE_MAP, "a mapping like { kind: service, name: api, spec: ... }"))
		return;
	memset(&t, 0, sizeof(t));
	t.path = c->src->path;
	t.line = doc->line;
	t.col = doc->col;
	for (size_t i = 0; i < doc->v.map.len; i++) {
		const struct fl_pair *p = &doc->v.map.items[i];
		if (fl_key_is(p, "kind"))
			t.kind = release_ident(c, p->value, "kind");
		else if (fl_key_is(p, "name"))
			t.name = release_ident(c, p->value, "resource name");
		else if (fl_key_is(p, "service"))
			t.service = service_of(c, ld->f, p->value);
		else if (fl_key_is(p, "spec"))
			t.spec = p->value->type == FL_NODE_NULL ? NULL : p->value;
		else
			fl_unknown_key(c, p->key, "release document", release_keys);
	}
	fl_missing_keys(c, doc, "release document", required);
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
		fl_diags_add(&ld->d_files, &e);
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

static void finish_templates(struct loader *ld)
{
	struct fl_fleet *f = ld->f;

	f->templates = fl_arena_calloc(&f->arena, ld->ntpl ? ld->ntpl : 1, sizeof(*f->templates));
	if (ld->ntpl)
		memcpy(f->templates, ld->tpl, ld->ntpl * sizeof(*ld->tpl));
	f->ntemplates = ld->ntpl;
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

	if (!entry->is_blob || !fl_loader_yaml_name(entry->name, &base_len))
		return 0;
	FL_GROW(l->items, l->cap, l->len + 1);
	l->items[l->len].name = fl_strdup(entry->name);
	l->items[l->len++].id = entry->id;
	return 0;
}

int fl_loader_read_release(struct loader *ld)
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
		rc = fl_loader_read_input(&rf->text, ld, rf->path, &l.items[i].id, &ld->d_files);
		if (rc == 0)
			rc = parse_release_file(ld, rf);
		else if (rc > 0)
			rc = 0;
	}
out:
	if (rc == 0) {
		drop_duplicate_templates(ld);
		finish_templates(ld);
	}
	for (size_t i = 0; i < l.len; i++)
		free(l.items[i].name);
	free(l.items);
	return rc;
}
