/* Option parsing from each command's table, so help never drifts from behaviour. */
#include "cmd/cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/describe.h"
#include "core/alloc.h"
#include "core/banned.h"

const char *fl_opt_cache_dir;

void fl_opt_list_release(struct fl_opt_list *list)
{
	free(list->items);
	list->items = NULL;
	list->len = list->cap = 0;
}

/* Usage lines wrap here, continuing under the command's first argument. */
#define USAGE_WIDTH 80

/* How o reads in a usage line: "[--since REV]", "--wave W", "[--tenant T]...", "[REV]". */
static void usage_word(char *out, size_t cap, const struct fl_opt *o)
{
	const char *open = o->required ? "" : "[", *close = o->required ? "" : "]";
	if (o->kind == FL_OPT_ARG)
		snprintf(out, cap, "%s%s%s", open, o->name, close);
	else if (o->kind == FL_OPT_FLAG)
		snprintf(out, cap, "[--%s]", o->name);
	else
		snprintf(out, cap, "%s--%s %s%s%s", open, o->name, o->value, close,
			 o->kind == FL_OPT_LIST ? "..." : "");
}

/* Prints "usage: flotilla CMD" and a word per entry of opts, in their order. */
static void print_usage(FILE *to, const struct fl_cmd *cmd, const struct fl_opt *opts)
{
	char word[128];
	int indent = fprintf(to, "usage: flotilla %s", cmd->name);
	int col = indent;
	for (const struct fl_opt *o = opts; o->kind != FL_OPT_END; o++) {
		usage_word(word, sizeof(word), o);
		if (col > indent && col + 1 + (int)strlen(word) > USAGE_WIDTH)
			col = fprintf(to, "\n%*s", indent, "") - 1;
		col += fprintf(to, " %s", word);
	}
	fputc('\n', to);
}

/* How o reads in the help's left column: "REV", "--prune", "-t, --tenant T". */
static void help_word(char *out, size_t cap, const struct fl_opt *o)
{
	char short_form[8] = "";
	bool value = o->kind == FL_OPT_VALUE || o->kind == FL_OPT_LIST;
	if (o->kind == FL_OPT_ARG) {
		snprintf(out, cap, "%s", o->name);
		return;
	}
	if (o->short_name)
		snprintf(short_form, sizeof(short_form), "-%c, ", o->short_name);
	snprintf(out, cap, "%s--%s%s%s", short_form, o->name, value ? " " : "", value ? o->value : "");
}

void fl_opt_help(const struct fl_cmd *cmd, const struct fl_opt *opts)
{
	char word[128];
	print_usage(stdout, cmd, opts);
	printf("\n%s\n\n", cmd->summary);
	for (const struct fl_opt *o = opts; o->kind != FL_OPT_END; o++) {
		help_word(word, sizeof(word), o);
		printf("  %-28s %s\n", word, o->help);
	}
	printf("  %-28s %s\n", "-h, --help", "show this help");
}

/* Prints "flotilla CMD: PROBLEM" and the usage line; returns -1. */
static int usage_error(const struct fl_cmd *cmd, const struct fl_opt *opts, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int usage_error(const struct fl_cmd *cmd, const struct fl_opt *opts, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "flotilla %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_usage(stderr, cmd, opts);
	return -1;
}

static const struct fl_opt *find_long(const struct fl_opt *opts, const char *name, size_t len)
{
	for (const struct fl_opt *o = opts; o->kind != FL_OPT_END; o++)
		if (o->kind != FL_OPT_ARG && strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static const struct fl_opt *find_short(const struct fl_opt *opts, char c)
{
	for (const struct fl_opt *o = opts; o->kind != FL_OPT_END; o++)
		if (o->kind != FL_OPT_ARG && o->short_name == c)
			return o;
	return NULL;
}

static void store(const struct fl_opt *o, const char *value)
{
	if (o->kind == FL_OPT_FLAG) {
		*(bool *)o->target = true;
	} else if (o->kind == FL_OPT_LIST) {
		struct fl_opt_list *l = o->target;
		FL_GROW(l->items, l->cap, l->len + 1);
		l->items[l->len++] = value;
	} else {
		*(const char **)o->target = value;
	}
}

/* Handles argv[*i], an option; advances *i past a separate value. */
static int parse_option(const struct fl_cmd *cmd, const struct fl_opt *opts, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];
	const char *inline_value = NULL;
	const struct fl_opt *o;
	if (arg[1] == '-') {
		const char *eq = strchr(arg + 2, '=');
		size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		o = find_long(opts, arg + 2, len);
		inline_value = eq ? eq + 1 : NULL;
	} else {
		o = arg[2] == '\0' ? find_short(opts, arg[1]) : NULL;
	}
	if (!o)
		return usage_error(cmd, opts, "unknown option %s", arg);
	if (o->kind == FL_OPT_FLAG) {
		if (inline_value)
			return usage_error(cmd, opts, "no value expected for %s", arg);
		store(o, NULL);
		return 0;
	}
	if (!inline_value) {
		if (*i + 1 >= argc)
			return usage_error(cmd, opts, "a value is needed for %s", arg);
		inline_value = argv[++*i];
	}
	store(o, inline_value);
	return 0;
}

int fl_opt_parse(const struct fl_cmd *cmd, const struct fl_opt *opts, int argc, char **argv)
{
	const struct fl_opt *next_arg = opts;
	bool only_args = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!only_args && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
			if (!fl_cmd_docs_add_opts(cmd, opts))
				fl_opt_help(cmd, opts);
			return 1;
		}
		if (!only_args && strcmp(arg, "--") == 0) {
			only_args = true;
			continue;
		}
		if (!only_args && arg[0] == '-' && arg[1] != '\0') {
			if (parse_option(cmd, opts, argc, argv, &i))
				return -1;
			continue;
		}
		while (next_arg->kind != FL_OPT_END && next_arg->kind != FL_OPT_ARG)
			next_arg++;
		if (next_arg->kind == FL_OPT_END)
			return usage_error(cmd, opts, "unexpected argument %s", arg);
		*(const char **)next_arg->target = arg;
		next_arg++;
	}
	for (const struct fl_opt *o = opts; o->kind != FL_OPT_END; o++)
		if (o->kind == FL_OPT_ARG && o->required && !*(const char **)o->target)
			return usage_error(cmd, opts, "missing argument %s", o->name);
	for (const struct fl_opt *o = opts; o->kind != FL_OPT_END; o++)
		if (o->kind == FL_OPT_VALUE && o->required && !*(const char **)o->target)
			return usage_error(cmd, opts, "--%s is required", o->name);
	/* The remote cache is found through the environment by cmd/remote_repo.c. */
	if (fl_opt_cache_dir && setenv("FLOTILLA_CACHE_DIR", fl_opt_cache_dir, 1) != 0)
		return usage_error(cmd, opts, "cannot use %s", fl_opt_cache_dir);
	return 0;
}

int fl_opt_exit(int rc)
{
	return rc > 0 ? FL_EXIT_OK : FL_EXIT_USAGE;
}
