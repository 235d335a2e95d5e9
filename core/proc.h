/*
 * Processes: the one place flotilla starts programs. A command runs with
 * extra environment, a working directory and a timeout, fed an input and
 * captured: standard output (with standard error, or apart from it as a
 * bounded tail), truncated. The child runs in a process group of its own,
 * killed whole on timeout, and may die with its parent (PR_SET_PDEATHSIG).
 */
#ifndef FL_PROC_H
#define FL_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

struct fl_proc_opts {
	const char *const *argv;     /* argv[0] is looked up in PATH unless it has a '/' */
	const char *const *env;      /* "NAME=value" entries added to the environment; NULL-terminated or NULL */
	const char *cwd;             /* NULL: the current directory */
	unsigned timeout_ms;         /* 0: none */
	size_t max_output;           /* bytes of output kept; the rest is counted, not kept */
	bool die_with_parent;        /* PR_SET_PDEATHSIG: killed when the caller dies */
	/* Patterns of names dropped from the inherited environment before env
	 * is added (fl_env_build); NULL-terminated or NULL. */
	const char *const *unset;
};

/* What a run feeds the child and keeps of what it prints (git's pipe_command). */
struct fl_proc_io {
	const char *input;           /* fed to standard input, input_len bytes; NULL: /dev/null */
	size_t input_len;
	struct fl_buf *output;       /* standard output, up to max_output bytes; NULL: discarded */
	/* NULL: standard error goes into output with standard output. Else it
	 * is kept apart: its last err_tail bytes (err_tail > 0) end up here. */
	struct fl_buf *err;
	size_t err_tail;
	bool stop_when_full;         /* kill the group once output passes max_output */
};

struct fl_proc_result {
	int exit_code;               /* the exit status, or 128 + signal when killed */
	bool timed_out;
	bool truncated;              /* output was longer than max_output */
	long long elapsed_ms;
	int signal;                  /* the signal that killed it, or 0 */
	bool err_cut;                /* the error tail lost its beginning */
	int start_errno;             /* why the program did not start, or 0 */
};

/*
 * True when the variable name (len bytes, not NUL-terminated) matches
 * pattern, in which '*' stands for any run of characters and everything
 * else for itself.
 */
bool fl_env_name_matches(const char *pattern, const char *name, size_t len);

/*
 * The environment of a child: environ without every variable a pattern of
 * unset matches (NULL-terminated, or NULL: none), then each "NAME=value" of
 * extra replacing the entry of that name or appended. extra goes in after
 * the drop, so what a caller adds there on purpose is never dropped.
 * *out is NULL-terminated and the caller's to free; its strings are
 * borrowed from environ and extra. FL_EINPUT for an entry without a name.
 */
int fl_env_build(char ***out, const char *const *extra, const char *const *unset, struct fl_error *err);

/*
 * Runs the command to completion, feeding io->input and keeping what
 * io asks for (appended to the caller's buffers). Returns 0 when the command
 * ran (whatever its exit code: see out), FL_EIO or FL_ENOTFOUND (program
 * missing or not executable, out->start_errno says why) when it could not
 * be started, FL_EIO when talking to it failed. A child that stops reading
 * its input early is no error here. Safe to call from several threads at once.
 */
int fl_proc_pipe(struct fl_proc_result *out, const struct fl_proc_io *io, const struct fl_proc_opts *opts,
		 struct fl_error *err);

/*
 * fl_proc_pipe with no input and standard output and error interleaved into
 * output (may be NULL: discarded).
 */
int fl_proc_run(struct fl_proc_result *out, struct fl_buf *output, const struct fl_proc_opts *opts,
		struct fl_error *err);

#endif
