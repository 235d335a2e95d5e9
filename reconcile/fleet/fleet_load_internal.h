/*
 * Private to the files of fl_fleet_load: the loader's state while one
 * commit is read (fleet.c runs the steps and reports, fleet_release.c reads
 * release/, fleet_tenants.c reads tenants/ and checks across tenants).
 * Nothing else includes this.
 */
#ifndef FL_FLEET_LOAD_INTERNAL_H
#define FL_FLEET_LOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/fleet/fleet_internal.h"

struct release_file {
	const char *path;
	struct fl_buf text;
	struct fl_source src;
};

struct chunk {
	size_t lo, hi;	    /* files[lo, hi) */
	struct fl_buf text; /* their manifests, back to back */
	struct fl_diags diags;
};

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
	struct fl_tenant_file *files; /* tenant files, in name order (malloc) */
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
void fl_loader_file_error(struct fl_diags *d, int code, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Reads path (blob, or by path when blob is NULL) into out; 1 when the file
 * was reported to d (too large), a negative code with ld->err set when the
 * repository failed.
 */
int fl_loader_read_input(struct fl_buf *out, struct loader *ld, const char *path,
			 const struct fl_oid *blob, struct fl_diags *d);

/* True when name ends in .yaml or .yml; *base_len is the length before it. */
bool fl_loader_yaml_name(const char *name, size_t *base_len);

/*
 * Reads and checks the files of release/ into ld->f->templates, a later
 * template of the same kind and name reported and dropped. Problems go to
 * ld->d_files; a negative code only for a failure of the repository.
 */
int fl_loader_read_release(struct loader *ld);

/*
 * Reads and parses the tenant manifests (all, or opts->only), checks what
 * spans tenants, and moves the valid tenants into ld->f sorted by name.
 * Problems go to ld->d_tenants and ld->d_cross; a negative code only for a
 * failure that is not about the input.
 */
int fl_loader_read_tenants(struct loader *ld);

#endif
