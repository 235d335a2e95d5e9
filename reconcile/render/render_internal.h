/*
 * Private to the files of rendering: the compiled form of a template (a
 * program) that render_compile.c makes, render.c runs and render_paths.c
 * asks about secrets. Nothing outside reconcile/render*.c includes this.
 */
#ifndef FL_RENDER_INTERNAL_H
#define FL_RENDER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reconcile/fleet/fleet.h"

/*
 * Slots number the values a template may use, fleet-wide: the three below,
 * then var i at SLOT_VARS + i, then label key j at SLOT_VARS + nvars + j.
 */
enum { SLOT_NAME, SLOT_ACCOUNT, SLOT_REGION, SLOT_VARS };

/* How a substitution is written: its canonical JSON, or its escaped text. */
enum { FORM_VAL, FORM_STR };

/* The next lit_len bytes of the program's literal, then one slot in one form. */
struct op {
	size_t lit_len;
	uint32_t slot;
	uint32_t form;
};

/* How often a program writes one slot in one form: its size is the literal plus these. */
struct use {
	uint32_t slot;
	uint32_t form;
	size_t count;
};

struct program {
	struct program_set *set;
	char *lit;             /* all literal bytes, in output order */
	size_t lit_len;
	struct op *ops;
	size_t nops, ops_cap;
	size_t tail_len;       /* literal bytes after the last op */
	struct use *uses;      /* each (slot, form) of the ops once, with its count */
	size_t nuses;
	int service;           /* bit in tenant->services; -1: every tenant; -2: none */
	char **secrets;        /* paths of fields that use a secret var, sorted once compiled */
	size_t nsecrets, secrets_cap;
	bool failed;           /* did not compile: never rendered */
};

/* One (slot, form) over a group of programs: how often they write it, and a program that does. */
struct group_use {
	uint32_t slot;
	uint32_t form;
	size_t count;          /* saturates at SIZE_MAX */
	size_t prog;
};

/*
 * The programs that compiled and go to the same tenants (every tenant, or
 * one service's), summed: what a tenant renders in a region is at most the
 * sum over its groups, which checks its size without a walk per resource.
 */
struct size_group {
	size_t lit_len;        /* saturates at SIZE_MAX */
	struct group_use *uses;
	size_t nuses;
};

/* What fl_render_compile makes; templates[i].compiled points at progs[i]. */
struct program_set {
	struct program *progs;
	size_t nprogs;
	char **labels;         /* label keys used anywhere, sorted: slot SLOT_VARS + nvars + j */
	size_t nlabels, labels_cap;
	size_t nslots;
	struct size_group *groups; /* [0]: every tenant's, [1 + s]: service s's; NULL: none made */
	size_t ngroups;
	struct size_group all;     /* the groups together: at least what any tenant's add up to */
};

/* The set, found through any program: every one points back at it. NULL before compiling. */
static inline struct program_set *fl_render_set(const struct fl_fleet *fleet)
{
	return fleet->ntemplates && fleet->templates[0].compiled
		? ((struct program *)fleet->templates[0].compiled)->set
		: NULL;
}

/* What a reference names, beyond the three fixed names of template.h. */
enum name_kind { NAME_UNKNOWN, NAME_TENANT, NAME_ACCOUNT, NAME_REGION, NAME_LABEL, NAME_VAR };

struct name {
	enum name_kind kind;
	const char *key;       /* label key or var name, inside the template text */
	size_t keylen;
	size_t var;            /* index into fleet->vars for NAME_VAR */
};

/* Classifies the (trimmed) name inside {{ }}: vars are those fleet declares. */
struct name fl_render_name(const struct fl_fleet *fleet, const char *s, size_t len);

/* The tenant's value of label key[0..keylen), or NULL; its labels are sorted. */
const char *fl_render_label(const struct fl_tenant *tenant, const char *key, size_t keylen);

/* Sorts the program's secret paths and drops repeats, for fl_template_path_secret. */
void fl_render_sort_secrets(struct program *p);

#endif
