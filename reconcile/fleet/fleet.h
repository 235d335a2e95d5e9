/*
 * The fleet model of SPEC 2 and its validation (SPEC 2 and 4): fleet.yaml,
 * release/NAME.yaml and tenants/NAME.yaml of one commit, read from the object
 * database. A loaded fleet is immutable and may be read from many threads.
 */
#ifndef FL_FLEET_H
#define FL_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/git.h"
#include "core/node.h"

/* Size limits for files of the fleet repository. */
#define FL_FLEET_MAX_FILE (1024 * 1024)
#define FL_FLEET_MAX_DIAGS 50
/* Regions per tenant: AWS has about 35; the rest is headroom (docs/design.md). */
#define FL_TENANT_MAX_REGIONS 64
/* Waves per fleet: every tenant is matched against each in turn. */
#define FL_FLEET_MAX_WAVES 100

enum fl_var_type { FL_VAR_STRING, FL_VAR_INTEGER, FL_VAR_NUMBER, FL_VAR_BOOLEAN };

struct fl_var_decl {
	const char *name;
	enum fl_var_type type;
	bool required;
	bool secret;                    /* its value never appears in plans, logs or notes */
	const struct fl_node *def;      /* default value, or NULL */
	const char *pattern;            /* POSIX extended regex for strings, or NULL */
	void *regex;                    /* compiled pattern (a regex_t), owned by the fleet */
	bool has_min, has_max;
	double min, max;
	uint32_t line, col;
};

enum fl_selector_kind { FL_SELECT_CANARY, FL_SELECT_LABELS, FL_SELECT_TENANTS, FL_SELECT_REST };

/* labels: every key must match (AND) one of its listed values (OR). */
struct fl_label_match {
	const char *key;
	const char **values;           /* sorted (strcmp), for bsearch */
	size_t nvalues;
};

struct fl_selector {
	enum fl_selector_kind kind;
	struct fl_label_match *labels;
	size_t nlabels;
	const char **tenants;          /* sorted (strcmp), for bsearch; node has the order written */
	size_t ntenants;
	const struct fl_node *node;    /* the selector as written, for positions */
};

/* A count, or a percentage of a wave's tenants. */
struct fl_amount {
	bool percent;
	unsigned value;
};

struct fl_verify {
	const char *name;
	const char **argv;       /* templates: {{tenant.name}}, {{region}}, ... */
	size_t argc;
	unsigned timeout_s;
	/* Secret variables handed on to the command on purpose (docs/security.md). */
	const char **pass_env;
	size_t npass_env;
	const struct fl_node *pass_env_node;   /* as written, for positions; NULL: none */
};

struct fl_wave {
	const char *name;
	struct fl_selector select;
	struct fl_amount max_parallel;       /* default: 1 */
	struct fl_amount failure_tolerance;  /* default: 0 */
	unsigned bake_s;                     /* 0: none */
	bool gate_manual;
	/* on_failure: rollback: a tenant that fails is applied again at the
	 * last revision that succeeded for it (docs/rollout.md). */
	bool rollback;
	struct fl_verify *verify;
	size_t nverify;
	size_t ntenants;                     /* filled by validation */
};

/*
 * The driver of fleet.yaml, or of --driver TYPE:ARG: opaque to the fleet
 * model. Its type names a row of the driver table (driver.h), and that
 * driver alone reads the other keys of node.
 */
struct fl_driver_conf {
	const char *type;             /* "dir", "exec", "http", ... */
	/* The whole entry, with positions; built (line 0) for --driver and for
	 * the default { type: dir, root: accounts }. */
	const struct fl_node *node;
	/* Variables kept from the programs the driver starts (secret_env.h);
	 * NULL: flotilla's own secrets only. */
	const char *const *drop_env;
};

/* A status writer of fleet.yaml; its type names a row of the status table (status.h). */
struct fl_status_conf {
	const char *type;     /* "git-notes", "github", "gitlab", "gitea" */
	const struct fl_node *node;
};

/* One resource template of a release/NAME.yaml file. */
struct fl_template {
	const char *kind;
	const char *name;
	const char *service;          /* NULL: every tenant */
	const struct fl_node *spec;   /* may be NULL: rendered as null */
	const char *path;             /* release/x.yaml */
	uint32_t line, col;           /* of the document */
	size_t index;                 /* release order: by file name, then document */
	void *compiled;               /* owned by render.c */
};

enum fl_tenant_state { FL_TENANT_ACTIVE, FL_TENANT_SUSPENDED, FL_TENANT_DECOMMISSIONED };

struct fl_label {
	const char *key;
	const char *value;
};

struct fl_tenant {
	const char *name;
	const char *account;
	const char **regions;          /* first is primary; applied in this order */
	size_t nregions;
	bool canary;
	struct fl_label *labels;       /* sorted by key */
	size_t nlabels;
	uint64_t services;             /* bit i: subscribed to fleet->services[i] */
	const struct fl_node **vars;   /* by fleet->vars index; defaults applied; NULL: unset */
	enum fl_tenant_state state;
	size_t wave;                   /* index into fleet->waves */
	const char *path;              /* tenants/<name>.yaml */
	struct fl_oid blob;            /* the manifest's blob id */
	uint32_t account_line, account_col;  /* of the account value, for errors */
};

struct fl_fleet {
	struct fl_arena arena;         /* everything below lives here */
	struct fl_oid commit;
	char revision[FL_OID_HEX_LEN + 1];
	struct fl_oid fleet_blob;      /* fleet.yaml */
	struct fl_oid release_tree;    /* release/ */
	const char *name;
	struct fl_var_decl *vars;
	size_t nvars;
	const struct fl_var_decl **vars_by_name;  /* see fl_fleet_index_vars */
	const char **services;         /* at most 64 */
	size_t nservices;
	struct fl_wave *waves;
	size_t nwaves;
	bool prune;
	unsigned max_delete_percent;   /* guard; default 10 */
	struct fl_driver_conf driver;
	struct fl_status_conf *status;
	size_t nstatus;
	/* What no program flotilla starts may see (secret_env.h), NULL-terminated;
	 * driver.drop_env is the same list. */
	const char *const *secret_env;
	struct fl_template *templates; /* in release order */
	size_t ntemplates;
	struct fl_tenant *tenants;     /* sorted by name */
	size_t ntenants;
	/* Private to fleet.c: the arenas of the tenant-parsing threads, where
	 * tenants' strings and nodes live. */
	struct fl_arena *tenant_arenas;
	size_t ntenant_arenas;
};

/* All errors found in a fleet, in file order, at most FL_FLEET_MAX_DIAGS. */
struct fl_diags {
	struct fl_error *items;
	size_t len, cap;
	size_t dropped;                /* errors past the maximum, not kept */
};

void fl_diags_release(struct fl_diags *diags);

struct fl_fleet_load_opts {
	/* Only these tenants are loaded (names; NULL: all). Cross-tenant checks
	 * then cover just them. */
	const char *const *only;
	size_t nonly;
	unsigned threads;              /* 0: one per core */
	/* fleet.yaml alone: its settings (driver, statuses, waves), no release
	 * and no tenant read or checked, so no template compiled. */
	bool settings_only;
};

/*
 * Loads and validates the fleet of commit. On FL_EINPUT or FL_ELIMIT every
 * problem found is in diags (the first also in err) and *out is NULL; other
 * codes (FL_EGIT, ...) are in err. *out is the caller's to fl_fleet_free.
 */
int fl_fleet_load(struct fl_fleet **out, struct fl_repo *repo, const struct fl_oid *commit,
		  const struct fl_fleet_load_opts *opts, struct fl_diags *diags, struct fl_error *err);
void fl_fleet_free(struct fl_fleet *fleet);

/*
 * Fills fleet->vars_by_name (in the fleet's arena) from fleet->vars, so that
 * fl_fleet_var finds a var in O(log n): called once the vars are parsed, and
 * by whoever builds a fleet by hand.
 */
void fl_fleet_index_vars(struct fl_fleet *fleet);
/* The var declared as name[0..len), or NULL; needs fl_fleet_index_vars. */
const struct fl_var_decl *fl_fleet_var(const struct fl_fleet *fleet, const char *name, size_t len);

/*
 * Whether path is a tenant's file as the loader reads them,
 * "tenants/<name>.yaml" or ".yml" right under tenants/; *len is the
 * length of the name, which starts at path + strlen("tenants/").
 */
bool fl_tenant_file(const char *path, size_t *len);

/* The tenant called name, or NULL. */
const struct fl_tenant *fl_fleet_tenant(const struct fl_fleet *fleet, const char *name);
/* The index of the wave called name, or -1. */
int fl_fleet_wave_index(const struct fl_fleet *fleet, const char *name);
/* The label value of a tenant, or NULL. */
const char *fl_tenant_label(const struct fl_tenant *tenant, const char *key);
bool fl_tenant_subscribes(const struct fl_fleet *fleet, const struct fl_tenant *tenant,
			  const char *service);

/* An amount resolved against n tenants: percentages round down, never below 1. */
unsigned fl_amount_resolve(const struct fl_amount *amount, size_t n, bool at_least_one);

#endif
