/*
 * Every command's option table, gathered from the tables themselves by
 * running each command's --help in a mode that records instead of printing:
 * what the man page and the shell completions are generated from, so they
 * cannot drift from parsing and --help (docs/design.md).
 */
#ifndef FL_DESCRIBE_H
#define FL_DESCRIBE_H

#include <stdbool.h>
#include <stdio.h>

#include "cmd/cmd.h"

struct fl_cmd_doc {
	const struct fl_cmd *cmd;   /* its name may be two words: "account create" */
	struct fl_opt *opts;        /* a copy of the table, ending in FL_OPT_END */
};

struct fl_cmd_docs {
	struct fl_cmd_doc *items;   /* in the order of flotilla --help, subcommands after their command */
	size_t len, cap;
};

/* Gathers every command's table into out; on failure prints which command had none. */
int fl_cmd_docs_collect(struct fl_cmd_docs *out);
void fl_cmd_docs_release(struct fl_cmd_docs *docs);

/*
 * Called where a command would print its help: while fl_cmd_docs_collect
 * runs, records the table (or a command's subcommands) and returns true, and
 * the command returns without printing; otherwise returns false.
 */
bool fl_cmd_docs_add_opts(const struct fl_cmd *cmd, const struct fl_opt *opts);
bool fl_cmd_docs_add_verbs(const struct fl_cmd *verbs, size_t nverbs);

/* flotilla help --man or --completion SHELL (command: a usage error when given); an exit status. */
int fl_cmd_docs_print(bool man, const char *shell, const char *command);

/* flotilla(1) in roff (man(7)), from docs (cmd/manual.c). */
void fl_manual_print(FILE *to, const struct fl_cmd_docs *docs);
/* The completion script for shell, "bash" or "zsh" (cmd/completion.c). */
void fl_completion_print(FILE *to, const struct fl_cmd_docs *docs, const char *shell);

#endif
