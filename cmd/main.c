/*
 * flotilla's entry point: the table of subcommands, help generated from it,
 * and what the subcommands share (opening the repository, loading the
 * fleet, printing errors).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/describe.h"
#include "cmd/remote_repo.h"
#include "core/buf.h"
#include "core/heap.h"
#include "core/banned.h"

static const struct fl_cmd commands[] = {
	{ "validate", cmd_validate, "Check a fleet at a commit against every rule of its format." },
	{ "plan", cmd_plan, "Show what a commit would change in every tenant account." },
	{ "apply", cmd_apply, "Roll a commit out to every account in waves, canaries first." },
	{ "status", cmd_status, "Show each wave's state for a commit: counts, waits, failures." },
	{ "promote", cmd_promote, "Promote a commit past a wave's manual gate (an annotated tag)." },
	{ "drift", cmd_drift, "Report resources that differ from the commit their account's marker names." },
	{ "watch", cmd_watch, "Keep rolling out new commits of a branch, as a long-lived agent." },
	{ "init", cmd_init, "Create a git repository holding an example fleet, committed." },
	{ "account", cmd_account, "Create or close a tenant's AWS account with AWS Organizations." },
	{ "version", cmd_version, "Print flotilla's version." },
	{ "help", cmd_help, "Show help for flotilla or one of its commands." },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct fl_cmd *fl_cmd_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

const struct fl_cmd *fl_cmd_list(size_t *n)
{
	*n = NCOMMANDS;
	return commands;
}

static void main_help(FILE *to)
{
	fprintf(to, "usage: flotilla <command> [options]\n\n"
		    "flotilla keeps many identical tenant accounts in step with a git repository.\n\n"
		    "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(to, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(to, "\nRun 'flotilla <command> --help' for a command's options.\n"
		    "Exit codes: 0 done, 1 error, 2 usage, 3 plan has changes (--detailed-exitcode),\n"
		    "4 rollout halted, 5 waiting for a bake or a promotion.\n");
}

int cmd_help(int argc, char **argv)
{
	const char *name = NULL, *sub = NULL, *shell = NULL;
	bool man = false;
	const struct fl_opt opts[] = {
		{ FL_OPT_ARG, "COMMAND", 0, NULL, "the command to explain (default: list the commands)", &name, false },
		{ FL_OPT_ARG, "SUBCOMMAND", 0, NULL, "its subcommand, like 'create' of 'account'", &sub, false },
		{ FL_OPT_FLAG, "man", 0, NULL, "print the manual page flotilla(1), in roff", &man, false },
		{ FL_OPT_VALUE, "completion", 0, "bash|zsh", "print the completion script for this shell", &shell, false },
		{ .kind = FL_OPT_END },
	};
	int rc = fl_opt_parse(fl_cmd_find("help"), opts, argc, argv);
	if (rc)
		return fl_opt_exit(rc);
	if (man || shell)
		return fl_cmd_docs_print(man, shell, name);
	if (!name) {
		main_help(stdout);
		return FL_EXIT_OK;
	}
	const struct fl_cmd *cmd = fl_cmd_find(name);
	if (!cmd) {
		fprintf(stderr, "flotilla: unknown command '%s'\n", name);
		return FL_EXIT_USAGE;
	}
	/* "help account create" is "account create --help": the command judges its subcommand. */
	char *help_argv[] = { (char *)name, (char *)(sub ? sub : "--help"), (char *)"--help", NULL };
	return cmd->fn(sub ? 3 : 2, help_argv);
}

int cmd_version(int argc, char **argv)
{
	static const struct fl_opt opts[] = { { .kind = FL_OPT_END } };
	int rc = fl_opt_parse(fl_cmd_find("version"), opts, argc, argv);
	if (rc)
		return fl_opt_exit(rc);
	printf("flotilla %s\n", FL_VERSION);
	return FL_EXIT_OK;
}

int fl_driver_from_args(struct fl_driver *out, const char *arg, const struct fl_fleet *fleet, const char *cmd)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_arena arena;
	struct fl_driver_conf conf;
	int rc = FL_EXIT_OK;
	fl_arena_init(&arena, 1024);
	if (arg && fl_driver_conf_parse(&conf, &arena, arg, &err)) {
		fprintf(stderr, "flotilla %s: %s\n", cmd, err.msg);
		rc = FL_EXIT_USAGE;
		goto out;
	}
	/* The operator's driver is kept from the fleet's secrets too. */
	if (arg)
		conf.drop_env = fleet->secret_env;
	if (fl_driver_open(out, arg ? &conf : &fleet->driver, &err)) {
		fl_print_error(&err);
		rc = FL_EXIT_ERROR;
	}
out:
	fl_arena_release(&arena);
	return rc;
}

int fl_rollout_exit(enum fl_rollout_outcome outcome)
{
	switch (outcome) {
	case FL_ROLLOUT_DONE: return FL_EXIT_OK;
	case FL_ROLLOUT_HALTED: return FL_EXIT_HALTED;
	case FL_ROLLOUT_SUPERSEDED: return FL_EXIT_HALTED;
	case FL_ROLLOUT_WAITING: return FL_EXIT_WAITING;
	case FL_ROLLOUT_REFUSED: return FL_EXIT_ERROR;
	case FL_ROLLOUT_CANCELLED: return FL_EXIT_WAITING;
	}
	return FL_EXIT_ERROR;
}

static volatile sig_atomic_t stop_flag;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

const volatile int *fl_stop_flag(void)
{
	return (const volatile int *)&stop_flag;
}

void fl_stop_on_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

void fl_print_error(const struct fl_error *err)
{
	struct fl_buf b = FL_BUF_INIT;
	fl_error_format(&b, err);
	fputs(b.ptr, stderr);
	fl_buf_release(&b);
}

void fl_print_diags(const struct fl_diags *diags, const struct fl_error *err)
{
	if (diags->len == 0) {
		fl_print_error(err);
		return;
	}
	for (size_t i = 0; i < diags->len; i++)
		fl_print_error(&diags->items[i]);
	size_t total = diags->len + diags->dropped;
	if (total > 1)
		fprintf(stderr, "%zu errors%s\n", total, diags->dropped ? " (not all shown)" : "");
}

int fl_session_open(struct fl_session *s, const char *repo_path, const char *rev,
		    const struct fl_fleet_load_opts *opts)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_diags diags = { 0 };
	int rc;
	struct fl_repo *open = s->repo;
	memset(s, 0, sizeof(*s));
	s->repo = open;
	if ((!s->repo && (rc = fl_repo_location(&repo_path, repo_path, &err))) ||
	    (!s->repo && (rc = fl_repo_open(&s->repo, repo_path ? repo_path : ".", &err))) ||
	    (rc = fl_repo_resolve(&s->commit, s->repo, rev ? rev : "HEAD", &err))) {
		fl_print_error(&err);
		fl_session_close(s);
		return FL_EXIT_ERROR;
	}
	if ((rc = fl_fleet_load(&s->fleet, s->repo, &s->commit, opts, &diags, &err))) {
		fl_print_diags(&diags, &err);
		fl_diags_release(&diags);
		fl_session_close(s);
		return FL_EXIT_ERROR;
	}
	fl_diags_release(&diags);
	return FL_EXIT_OK;
}

void fl_session_close(struct fl_session *s)
{
	fl_fleet_free(s->fleet);
	fl_repo_free(s->repo);
	memset(s, 0, sizeof(*s));
}

int main(int argc, char **argv)
{
	(void)fl_heap_prepare(); /* speed only: core/heap.c */
	if (argc < 2) {
		main_help(stderr);
		return FL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		main_help(stdout);
		return FL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv + 1);
	if (strcmp(argv[1], "__verify-exec") == 0)
		return cmd_verify_exec(argc - 1, argv + 1);
	const struct fl_cmd *cmd = fl_cmd_find(argv[1]);
	if (!cmd) {
		fprintf(stderr, "flotilla: unknown command '%s' (see 'flotilla --help')\n", argv[1]);
		return FL_EXIT_USAGE;
	}
	return cmd->fn(argc - 1, argv + 1);
}
