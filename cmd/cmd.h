/*
 * What the subcommands share: the option tables that drive parsing, --help
 * and usage errors; opening the repository and loading the fleet; printing
 * errors. Exit codes are SPEC 7's.
 */
#ifndef FL_CMD_H
#define FL_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/git.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/rollout/rollout.h"

enum {
	FL_EXIT_OK = 0,
	FL_EXIT_ERROR = 1,
	FL_EXIT_USAGE = 2,
	FL_EXIT_CHANGES = 3,
	FL_EXIT_HALTED = 4,
	FL_EXIT_WAITING = 5,
};

enum fl_opt_kind {
	FL_OPT_FLAG,      /* bool *target */
	FL_OPT_VALUE,     /* const char **target */
	FL_OPT_LIST,      /* struct fl_opt_list *target; the option may repeat */
	FL_OPT_ARG,       /* a positional argument: const char **target */
	FL_OPT_END,
};

struct fl_opt_list {
	const char **items;
	size_t len, cap;
};

struct fl_opt {
	enum fl_opt_kind kind;
	const char *name;      /* long name without "--", or the positional's name */
	char short_name;       /* 0: none */
	const char *value;     /* the value's name in help, like "REV" */
	const char *help;
	void *target;
	bool required;         /* positionals and FL_OPT_VALUE: a usage error when missing */
};

struct fl_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;   /* one line, for flotilla --help; the usage comes from the option table */
};

/* --cache-dir, shared by every command that takes --repo: it sets FLOTILLA_CACHE_DIR. */
extern const char *fl_opt_cache_dir;
#define FL_OPT_CACHE_DIR \
	{ FL_OPT_VALUE, "cache-dir", 0, "DIR", "where remote repositories are cached (default: $XDG_CACHE_HOME/flotilla)", \
	  &fl_opt_cache_dir, false }

/*
 * Parses argv[1..] (argv[0] is the command name) with opts, ending in an
 * FL_OPT_END entry. Prints help and returns 1 for --help (while `flotilla
 * help --man` or `--completion` gathers the tables, hands opts to
 * cmd/describe.h instead of printing); prints a usage
 * error and returns -1 for a bad command line; returns 0 otherwise. The
 * usage line of both is generated from opts, in their order: "[--rev REV]",
 * "[--tenant T]..." for a list, "--wave W" and "DIR" when required.
 */
int fl_opt_parse(const struct fl_cmd *cmd, const struct fl_opt *opts, int argc, char **argv);
void fl_opt_list_release(struct fl_opt_list *list);
/* Prints the help of cmd generated from opts. */
void fl_opt_help(const struct fl_cmd *cmd, const struct fl_opt *opts);
/* The exit code after fl_opt_parse returned rc (1: help shown, -1: usage error). */
int fl_opt_exit(int rc);

/* The command called name, or NULL. */
const struct fl_cmd *fl_cmd_find(const char *name);
/* Every command, in the order of flotilla --help; *n gets their number. */
const struct fl_cmd *fl_cmd_list(size_t *n);

/* Prints an error as path:line:col: error: message with the source line. */
void fl_print_error(const struct fl_error *err);
/* Prints every problem of a fleet that failed to load (err when diags is empty). */
void fl_print_diags(const struct fl_diags *diags, const struct fl_error *err);

/* The repository and fleet of --repo and --rev, loaded and validated. */
struct fl_session {
	struct fl_repo *repo;
	struct fl_oid commit;
	struct fl_fleet *fleet;
};

/*
 * Opens repo_path (default ".") at rev (default "HEAD") and loads its fleet
 * (only the tenants named in opts, when given). Prints every problem and
 * returns the exit code (0 on success). When s->repo is already open (the
 * caller opened it), it is used instead and then owned by the session.
 */
int fl_session_open(struct fl_session *s, const char *repo_path, const char *rev,
		    const struct fl_fleet_load_opts *opts);
void fl_session_close(struct fl_session *s);

/*
 * Opens --driver's driver (arg, like dir:PATH), or fleet.yaml's when arg is
 * NULL, into out, with the fleet's secrets kept from it. Prints what went
 * wrong (cmd names the command) and returns an exit status: FL_EXIT_USAGE
 * for a bad arg, FL_EXIT_ERROR when the driver cannot open.
 */
int fl_driver_from_args(struct fl_driver *out, const char *arg, const struct fl_fleet *fleet, const char *cmd);

/*
 * The exit status of SPEC 7 for a rollout's outcome, the same for apply and
 * drift --fix: 0 done; 4 halted or superseded; 5 waiting or stopped by a
 * signal (run again to go on); 1 refused by the mass-delete guard.
 */
int fl_rollout_exit(enum fl_rollout_outcome outcome);

/* Set by SIGTERM and SIGINT once fl_stop_on_signals ran: long commands stop cleanly. */
const volatile int *fl_stop_flag(void);
void fl_stop_on_signals(void);

int cmd_validate(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_drift(int argc, char **argv);
/* account create and account close, a small dispatch of their own (cmd/account.c). */
int cmd_account(int argc, char **argv);
/* Hidden: the verify wrapper that flotilla starts itself (reconcile/rollout/verify.h). */
int cmd_verify_exec(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);

#endif
