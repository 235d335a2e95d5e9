/*
 * Loading a fleet (SPEC 2 and 4): fl_fleet_load runs the steps in order on
 * one commit (fleet.yaml here, then release/ in fleet_release.c and
 * tenants/ in fleet_tenants.c, then compiling the templates and checking
 * every tenant's rendered size), and hands back every problem found, in
 * that order. Also fl_fleet_free.
 */
#include "reconcile/fleet/fleet.h"

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
#include "reconcile/fleet/fleet_load_internal.h"
#include "reconcile/render/render.h"
#include "core/banned.h"

/* Fewer tenants than this per thread do not pay for starting it. */
#define SIZE_CHECKS_PER_THREAD 256

/* ---- what every step uses ---- */

void fl_loader_file_error(struct fl_diags *d, int code, const char *path, const char *fmt, ...)
{
	struct fl_source src = { path, NULL, 0 };
	struct fl_vctx c = { NULL, &src, d, 0 };
	char msg[FL_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fl_vdiag(&c, code, 1, 1, "%s", msg);
}

int fl_loader_read_input(struct fl_buf *out, struct loader *ld, const char *path,
			 const struct fl_oid *blob, struct fl_diags *d)
{
	struct fl_error e = FL_ERROR_INIT;
	int rc;

	out->max = out->len + FL_FLEET_MAX_FILE;
	rc = blob ? fl_repo_read_blob(out, ld->repo, blob, &e)
		  : fl_repo_read_file(out, ld->repo, &ld->f->commit, path, &e);
	out->max = 0;
	if (rc == FL_ELIMIT) {
		fl_loader_file_error(d, FL_ELIMIT, path, "file is larger than the limit of %d bytes",
				     FL_FLEET_MAX_FILE);
		return 1;
	}
	if (rc < 0)
		*ld->err = e;
	return rc;
}

bool fl_loader_yaml_name(const char *name, size_t *base_len)
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

/* ---- the steps ---- */


static int load_fleet_yaml(struct loader *ld, struct fl_node **root)
{
	struct fl_error e = FL_ERROR_INIT;
	struct fl_vctx c = { &ld->f->arena, &ld->fleet_src, &ld->d_files, 0 };
	int rc;

	*root = NULL;
	fl_buf_init(&ld->fleet_text, FL_FLEET_MAX_FILE);
	rc = fl_loader_read_input(&ld->fleet_text, ld, "fleet.yaml", NULL, &ld->d_files);
	if (rc == FL_ENOTFOUND) {
		struct fl_source src = { "fleet.yaml", NULL, 0 };
		fl_error_set_at(&e, FL_EINPUT, &src, 0, 0,
				"no such file in the commit (a fleet repository has fleet.yaml at its root)");
		fl_diags_add(&ld->d_files, &e);
		return 0;
	}
	if (rc != 0)
		return rc < 0 ? rc : 0;
	ld->fleet_src.path = "fleet.yaml";
	ld->fleet_src.text = ld->fleet_text.ptr;
	ld->fleet_src.len = ld->fleet_text.len;
	rc = fl_yaml_load_one(root, &ld->f->arena, &ld->fleet_src, NULL, &e);
	if (rc == FL_EINPUT || rc == FL_ELIMIT) {
		fl_diags_add(&ld->d_files, &e);
		return 0;
	}
	if (rc < 0) {
		*ld->err = e;
		return rc;
	}
	fl_fleet_parse_settings(ld->f, &c, *root);
	ld->fleet_ok = c.nerrors == 0;
	if (*root && (*root)->type != FL_NODE_MAP)
		*root = NULL;
	return 0;
}

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

/* One thread's share of the size checks: tenants lo..hi, the first failures kept. */
struct size_check {
	const struct fl_fleet *f;
	size_t lo, hi;
	struct fl_error *fails;  /* at most FL_FLEET_MAX_DIAGS, in tenant order */
	size_t nfails, cap, more; /* more: failures past those kept */
	pthread_t tid;
	bool started;
};

static void *check_sizes_of(void *arg)
{
	struct size_check *c = arg;

	for (size_t i = c->lo; i < c->hi; i++) {
		struct fl_error e = FL_ERROR_INIT;
		if (fl_render_check_tenant(c->f, &c->f->tenants[i], &e) == 0)
			continue;
		if (c->nfails == FL_FLEET_MAX_DIAGS) {
			c->more++;
			continue;
		}
		FL_GROW(c->fails, c->cap, c->nfails + 1);
		c->fails[c->nfails++] = e;
	}
	return NULL;
}

static unsigned size_check_threads(const struct loader *ld)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = ld->opts && ld->opts->threads ? ld->opts->threads : (ncpu > 0 ? (size_t)ncpu : 1);
	size_t most = ld->f->ntenants / SIZE_CHECKS_PER_THREAD + 1;

	if (n > most)
		n = most;
	return n > 64 ? 64 : (unsigned)n;
}

/*
 * Every tenant's rendering must fit the limits of render.h. Checked here
 * from sizes alone, so that validate reports it and plan and apply stop
 * before any tenant is touched; rendering checks again as it allocates.
 * Threads check contiguous ranges; their failures, merged in range order,
 * are the same problems in the same order as one thread finds: no range
 * keeps more than the whole may show, and each keeps its first.
 */
static void check_render_sizes(struct loader *ld)
{
	const struct fl_fleet *f = ld->f;
	unsigned n = size_check_threads(ld);
	struct size_check *c = fl_calloc(n, sizeof(*c));

	for (unsigned k = 0; k < n; k++) {
		c[k].f = f;
		c[k].lo = f->ntenants * k / n;
		c[k].hi = f->ntenants * (k + 1) / n;
		c[k].started = k > 0 && pthread_create(&c[k].tid, NULL, check_sizes_of, &c[k]) == 0;
	}
	for (unsigned k = 0; k < n; k++) {
		if (c[k].started)
			pthread_join(c[k].tid, NULL);
		else
			check_sizes_of(&c[k]);
	}
	for (unsigned k = 0; k < n; k++) {
		for (size_t i = 0; i < c[k].nfails; i++) {
			const struct fl_error *e = &c[k].fails[i];
			struct fl_error at = FL_ERROR_INIT;
			if (ld->d_render.len >= FL_FLEET_MAX_DIAGS) {
				ld->d_render.dropped++; /* no search for the file of an error not kept */
				continue;
			}
			struct fl_source src = release_source(ld, e->path);
			fl_error_set_at(&at, e->code, &src, e->line, e->col, "%s", e->msg);
			fl_diags_add(&ld->d_render, &at);
		}
		ld->d_render.dropped += c[k].more;
		free(c[k].fails);
	}
	free(c);
}

static void merge_diags(struct fl_diags *dst, struct fl_diags *src)
{
	for (size_t i = 0; i < src->len; i++)
		fl_diags_add(dst, &src->items[i]);
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
	if (ld->opts && ld->opts->settings_only)
		goto out;
	if ((rc = fl_loader_read_release(ld)) < 0)
		goto out;
	if ((rc = fl_loader_read_tenants(ld)) < 0)
		goto out;
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
	for (size_t i = 0; i < fleet->ntenant_arenas; i++)
		fl_arena_release(&fleet->tenant_arenas[i]);
	free(fleet->tenant_arenas);
	fl_arena_release(&fleet->arena);
	free(fleet);
}
