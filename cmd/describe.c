/* Gathering every command's option table by running its --help in a recording mode. */
#include "cmd/describe.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/banned.h"

/* Set while fl_cmd_docs_collect runs; commands are called one at a time. */
static struct fl_cmd_docs *collecting;
static const struct fl_cmd *pending_verbs;
static size_t pending_nverbs;

bool fl_cmd_docs_add_opts(const struct fl_cmd *cmd, const struct fl_opt *opts)
{
	if (!collecting)
		return false;
	size_t n = 0;
	while (opts[n].kind != FL_OPT_END)
		n++;
	struct fl_cmd_doc *doc;
	FL_GROW(collecting->items, collecting->cap, collecting->len + 1);
	doc = &collecting->items[collecting->len++];
	doc->cmd = cmd;
	/* The strings are literals; only the array lives on the command's stack. */
	doc->opts = fl_reallocarray(NULL, n + 1, sizeof(*doc->opts));
	memcpy(doc->opts, opts, (n + 1) * sizeof(*opts));
	for (size_t i = 0; i <= n; i++)
		doc->opts[i].target = NULL;
	return true;
}

bool fl_cmd_docs_add_verbs(const struct fl_cmd *verbs, size_t nverbs)
{
	if (!collecting)
		return false;
	pending_verbs = verbs;
	pending_nverbs = nverbs;
	return true;
}

/* Runs "NAME --help" through fn; 0 when it recorded exactly one more entry or its verbs. */
static int describe_one(const struct fl_cmd *cmd, const char *argv0)
{
	char *argv[] = { (char *)argv0, (char *)"--help", NULL };
	size_t before = collecting->len;
	pending_verbs = NULL;
	int rc = cmd->fn(2, argv);
	if (rc != FL_EXIT_OK || (collecting->len != before + 1 && !pending_verbs)) {
		fprintf(stderr, "flotilla help: 'flotilla %s --help' has no option table to describe\n", cmd->name);
		return -1;
	}
	return 0;
}

static int describe_verbs(void)
{
	const struct fl_cmd *verbs = pending_verbs;
	size_t n = pending_nverbs;
	for (size_t i = 0; i < n; i++) {
		const char *space = strchr(verbs[i].name, ' ');
		if (describe_one(&verbs[i], space ? space + 1 : verbs[i].name))
			return -1;
		if (pending_verbs) {
			fprintf(stderr, "flotilla help: '%s' nests subcommands too deep to describe\n", verbs[i].name);
			return -1;
		}
	}
	return 0;
}

int fl_cmd_docs_collect(struct fl_cmd_docs *out)
{
	size_t n;
	const struct fl_cmd *cmds = fl_cmd_list(&n);
	int rc = 0;
	memset(out, 0, sizeof(*out));
	collecting = out;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = describe_one(&cmds[i], cmds[i].name);
		if (rc == 0 && pending_verbs)
			rc = describe_verbs();
	}
	collecting = NULL;
	pending_verbs = NULL;
	if (rc)
		fl_cmd_docs_release(out);
	return rc;
}

void fl_cmd_docs_release(struct fl_cmd_docs *docs)
{
	for (size_t i = 0; i < docs->len; i++)
		free(docs->items[i].opts);
	free(docs->items);
	memset(docs, 0, sizeof(*docs));
}

int fl_cmd_docs_print(bool man, const char *shell, const char *command)
{
	struct fl_cmd_docs docs;
	int rc = FL_EXIT_OK;
	if (command || (man && shell)) {
		fprintf(stderr, "flotilla help: --man and --completion describe every command: give one, alone\n");
		return FL_EXIT_USAGE;
	}
	if (shell && strcmp(shell, "bash") != 0 && strcmp(shell, "zsh") != 0) {
		fprintf(stderr, "flotilla help: no completion for the shell '%s' (bash, zsh)\n", shell);
		return FL_EXIT_USAGE;
	}
	if (fl_cmd_docs_collect(&docs))
		return FL_EXIT_ERROR;
	if (man)
		fl_manual_print(stdout, &docs);
	else
		fl_completion_print(stdout, &docs, shell);
	fl_cmd_docs_release(&docs);
	/* A build step writes the page through this: a short write must fail it. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("flotilla help: writing the output");
		rc = FL_EXIT_ERROR;
	}
	return rc;
}
