/*
 * Running commands; see proc.h. The caller is multi-threaded, so everything
 * the child needs (argv, environment, the candidate paths of the program) is
 * built before fork, and between fork and exec the child makes only
 * async-signal-safe calls: no allocation, no locks, no stdio.
 */
/* pipe2 and close_range are GNU extensions in glibc; this file alone asks for them. */
#define _GNU_SOURCE 1

#include "core/proc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/banned.h"

/* execvp's search path when PATH is unset (glibc's default). */
#define DEFAULT_PATH "/bin:/usr/bin"

/* Where the child failed before exec, sent to the parent through the error pipe. */
enum child_stage { STAGE_CHDIR = 1, STAGE_REDIRECT, STAGE_EXEC };

struct child_failure {
	int stage;
	int errnum;
};

/* All the child uses, ready before fork. */
struct spawn {
	char *const *argv; /* opts->argv, borrowed */
	char **envp;	   /* owned array; the strings are borrowed from environ and opts->env */
	char **paths;	   /* owned: where to try argv[0], in order */
	size_t npaths;
	char **sh_argv; /* owned array: "/bin/sh", <slot for the path>, argv[1..], for scripts without #! */
	const char *cwd;
	bool die_with_parent;
	pid_t parent; /* our pid, to notice dying before PR_SET_PDEATHSIG took hold */
	int in_r, out_w, stderr_w; /* the child's standard input, output and error */
	int fail_w;                /* the close-on-exec pipe that reports a failure before exec */
};

bool fl_env_name_matches(const char *pattern, const char *name, size_t len)
{
	size_t p = 0, n = 0, star = SIZE_MAX, resume = 0;
	while (n < len) {
		if (pattern[p] == '*') {
			star = p++;
			resume = n;
		} else if (pattern[p] && pattern[p] == name[n]) {
			p++;
			n++;
		} else if (star != SIZE_MAX) {
			/* Let the last '*' take one more character and try again. */
			p = star + 1;
			n = ++resume;
		} else {
			return false;
		}
	}
	while (pattern[p] == '*')
		p++;
	return pattern[p] == '\0';
}

static bool dropped(const char *entry, const char *const *unset)
{
	const char *eq = strchr(entry, '=');
	size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
	for (; unset && *unset; unset++)
		if (fl_env_name_matches(*unset, entry, len))
			return true;
	return false;
}

int fl_env_build(char ***out, const char *const *extra, const char *const *unset, struct fl_error *err)
{
	size_t n = 0, m = 0;
	while (environ && environ[n])
		n++;
	while (extra && extra[m])
		m++;
	char **envp = fl_calloc(n + m + 1, sizeof(*envp));
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		if (!dropped(environ[i], unset))
			envp[len++] = environ[i];
	for (size_t j = 0; j < m; j++) {
		const char *eq = strchr(extra[j], '=');
		if (!eq || eq == extra[j]) {
			free(envp);
			*out = NULL;
			return fl_error_set(err, FL_EINPUT,
					    "invalid environment entry '%s': expected NAME=value", extra[j]);
		}
		size_t name_len = (size_t)(eq - extra[j]) + 1; /* with the '=' */
		bool replaced = false;
		for (size_t k = 0; k < len; k++) {
			if (strncmp(envp[k], extra[j], name_len) == 0) {
				envp[k] = (char *)extra[j];
				replaced = true;
			}
		}
		if (!replaced)
			envp[len++] = (char *)extra[j];
	}
	envp[len] = NULL;
	*out = envp;
	return 0;
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);
	for (; *envp; envp++) {
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	}
	return NULL;
}

/*
 * Where execvp would look for file: file itself when it has a '/', else each
 * directory of the child's PATH in turn (an empty one is the directory the
 * child runs in). An empty name has no candidates.
 */
static void build_paths(struct spawn *sp, const char *file)
{
	if (strchr(file, '/')) {
		sp->paths = fl_calloc(1, sizeof(*sp->paths));
		sp->paths[0] = fl_strdup(file);
		sp->npaths = 1;
		return;
	}
	if (!*file)
		return;
	const char *path = env_get(sp->envp, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	size_t count = 1, flen = strlen(file);
	for (const char *p = path; *p; p++)
		count += *p == ':';
	sp->paths = fl_calloc(count, sizeof(*sp->paths));
	for (const char *dir = path;;) {
		const char *end = strchr(dir, ':');
		size_t dlen = end ? (size_t)(end - dir) : strlen(dir);
		char *cand = fl_malloc(dlen + 1 + flen + 1);
		size_t at = 0;
		if (dlen) {
			memcpy(cand, dir, dlen);
			cand[dlen] = '/';
			at = dlen + 1;
		}
		memcpy(cand + at, file, flen + 1);
		sp->paths[sp->npaths++] = cand;
		if (!end)
			break;
		dir = end + 1;
	}
}

static void build_sh_argv(struct spawn *sp)
{
	size_t argc = 0;
	while (sp->argv[argc])
		argc++;
	sp->sh_argv = fl_calloc(argc + 2, sizeof(*sp->sh_argv));
	sp->sh_argv[0] = (char *)"/bin/sh";
	for (size_t i = 1; i < argc; i++)
		sp->sh_argv[i + 1] = sp->argv[i];
}

static void spawn_release(struct spawn *sp)
{
	for (size_t i = 0; i < sp->npaths; i++)
		free(sp->paths[i]);
	free(sp->paths);
	free(sp->envp);
	free(sp->sh_argv);
}

/* Moves fd off 0, 1 and 2 so the child's dup2 onto them cannot clobber it. */
static int move_above_stdio(int *fd)
{
	if (*fd > STDERR_FILENO)
		return 0;
	int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (nfd < 0)
		return -1;
	close(*fd);
	*fd = nfd;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the child: tells the parent why (errno) and where it failed. */
_Noreturn static void child_fail(int fd, int stage)
{
	struct child_failure f = { stage, errno };
	ssize_t n;
	do {
		n = write(fd, &f, sizeof(f));
	} while (n < 0 && errno == EINTR);
	_exit(127);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
_Noreturn static void run_child(struct spawn *sp)
{
	setpgid(0, 0);
	if (sp->die_with_parent) {
		prctl(PR_SET_PDEATHSIG, (unsigned long)SIGKILL);
		/* The parent may have died before the request took hold. */
		if (getppid() != sp->parent)
			_exit(127);
	}

	/*
	 * The parent blocked every signal around fork so none of its handlers
	 * runs here; put caught and ignored-SIGPIPE dispositions back to the
	 * default (exec keeps ignored ones) and start the program unblocked.
	 */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction cur;
		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &cur) != 0)
			continue;
		if (cur.sa_handler == SIG_DFL || (cur.sa_handler == SIG_IGN && sig != SIGPIPE))
			continue;
		sigaction(sig, &dfl, NULL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (sp->cwd && chdir(sp->cwd) != 0)
		child_fail(sp->fail_w, STAGE_CHDIR);
	if (dup2(sp->in_r, STDIN_FILENO) < 0 || dup2(sp->out_w, STDOUT_FILENO) < 0 ||
	    dup2(sp->stderr_w, STDERR_FILENO) < 0)
		child_fail(sp->fail_w, STAGE_REDIRECT);
	/*
	 * Close what other threads opened without O_CLOEXEC, keeping the error
	 * pipe (close-on-exec) until exec. Failure (an old kernel) is not fatal.
	 */
	if (sp->fail_w > STDERR_FILENO + 1)
		close_range(STDERR_FILENO + 1, (unsigned)sp->fail_w - 1, 0);
	close_range((unsigned)sp->fail_w + 1, ~0U, 0);

	/* execvp's search, over the paths found before fork. */
	bool denied = false;
	int last = ENOENT;
	for (size_t i = 0; i < sp->npaths; i++) {
		execve(sp->paths[i], sp->argv, sp->envp);
		if (errno == ENOEXEC) {
			/* No #! line: run it with the shell, as execvp does. */
			sp->sh_argv[1] = sp->paths[i];
			execve(sp->sh_argv[0], sp->sh_argv, sp->envp);
			child_fail(sp->fail_w, STAGE_EXEC);
		}
		if (errno == EACCES)
			denied = true;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
			 errno != ETIMEDOUT)
			child_fail(sp->fail_w, STAGE_EXEC);
		last = errno;
	}
	errno = denied ? EACCES : last;
	child_fail(sp->fail_w, STAGE_EXEC);
}

/*
 * Waits until the exec in the child succeeded (the close-on-exec error pipe
 * closes empty) or failed (it carries a struct child_failure). Returns true
 * and fills f on failure.
 */
static bool read_failure(int fd, struct child_failure *f)
{
	ssize_t n;
	do {
		n = read(fd, f, sizeof(*f));
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*f);
}

static int failure_error(struct fl_error *err, const struct child_failure *f, const char *prog,
			 const char *cwd)
{
	const char *why = strerror(f->errnum);
	switch (f->stage) {
	case STAGE_CHDIR:
		return fl_error_set(err, FL_EIO, "cannot run '%s' in '%s': %s", prog, cwd, why);
	case STAGE_REDIRECT:
		return fl_error_set(err, FL_EIO, "cannot run '%s': cannot redirect its output: %s", prog,
				    why);
	default:
		break;
	}
	bool missing = f->errnum == ENOENT || f->errnum == EACCES || f->errnum == ENOTDIR ||
		       f->errnum == ELOOP || f->errnum == ENAMETOOLONG || f->errnum == ENOEXEC;
	return fl_error_set(err, missing ? FL_ENOTFOUND : FL_EIO, "cannot run '%s': %s", prog, why);
}

/* waitpid for pid, through EINTR. Returns 0 or -1 with errno set. */
static int reap(pid_t pid, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, 0);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/*
 * Waits, without reaping it, until pid exits or the deadline passes; reaping
 * is left for after any kill, so the process group id cannot be reused in
 * between. Returns true when the deadline passed first.
 */
static bool wait_exit_until(pid_t pid, long long deadline)
{
	long long step = 1;
	for (;;) {
		siginfo_t info;
		memset(&info, 0, sizeof(info));
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
			if (info.si_pid == pid)
				return false;
		} else if (errno != EINTR) {
			return false; /* reap() will report it */
		}
		long long left = deadline - fl_mono_ms();
		if (left <= 0)
			return true;
		long long nap = step < left ? step : left;
		struct timespec ts = { (time_t)(nap / 1000), (long)(nap % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		if (step < 50)
			step *= 2;
	}
}

/*
 * Starts the child with posix_spawn: glibc's runs it in a vfork-like clone
 * that never executes our code, so a multi-threaded caller cannot leave it
 * stuck on a lock another thread held at fork (fork() is kept for
 * die_with_parent, which posix_spawn cannot ask for). Returns the spawn
 * error (0 on success), after the same PATH search as run_child.
 */
static int spawn_child(pid_t *pid, const struct spawn *sp)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc = 0, last = ENOENT;
	bool denied = false;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	if (sp->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, sp->cwd);
	posix_spawn_file_actions_adddup2(&fa, sp->in_r, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, sp->out_w, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, sp->stderr_w, STDERR_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	for (size_t i = 0; i < sp->npaths; i++) {
		rc = posix_spawn(pid, sp->paths[i], &fa, &attr, sp->argv, sp->envp);
		if (rc == ENOEXEC) {
			sp->sh_argv[1] = sp->paths[i];
			rc = posix_spawn(pid, sp->sh_argv[0], &fa, &attr, sp->sh_argv, sp->envp);
		}
		if (rc == 0 || (rc != ENOENT && rc != ENOTDIR && rc != EACCES && rc != ESTALE && rc != ENODEV &&
				rc != ETIMEDOUT))
			break;
		denied |= rc == EACCES;
		last = rc;
	}
	if (rc && sp->npaths && (rc == ENOENT || rc == ENOTDIR || rc == EACCES))
		rc = denied ? EACCES : last;
	if (!sp->npaths)
		rc = ENOENT;
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* What one run keeps of the child's output while it runs. */
struct capture {
	const struct fl_proc_io *io;
	struct fl_proc_result *res;
	size_t max_output, kept;
	size_t written;   /* bytes of io->input the child took */
	bool full;        /* output passed max_output and io->stop_when_full asks to stop */
};

/* Keeps what fits of a chunk of output; the rest marks the result truncated. */
static void keep_output(struct capture *c, const char *data, size_t n)
{
	struct fl_buf *output = c->io->output;
	size_t take = c->max_output - c->kept < n ? c->max_output - c->kept : n;
	if (output && output->max && output->max - output->len < take)
		take = output->max - output->len;
	if (output && take && fl_buf_put(output, data, take) != 0)
		take = 0;
	c->kept += take;
	if (take < n) {
		c->res->truncated = true;
		c->full = c->io->stop_when_full;
	}
}

/* Keeps the last err_tail bytes of standard error, holding at most twice that meanwhile. */
static void keep_tail(struct capture *c, const char *data, size_t n)
{
	struct fl_buf *tail = c->io->err;
	size_t max = c->io->err_tail;
	if (n >= max) {
		fl_buf_clear(tail);
		data += n - max;
		n = max;
		c->res->err_cut = true;
	}
	if (fl_buf_put(tail, data, n))
		return;
	if (tail->len > 2 * max) {
		memmove(tail->ptr, tail->ptr + tail->len - max, max);
		fl_buf_truncate(tail, max);
		c->res->err_cut = true;
	}
}

/* Our ends of the child's pipes, -1 once closed. */
struct ends {
	int in, out, err;
};

/* Writes what the child takes of the input; its end closes when all is written or the child left. */
static void feed(struct capture *c, struct ends *e)
{
	size_t left = c->io->input_len - c->written;
	size_t want = left < 65536 ? left : 65536;
	ssize_t w = want ? write(e->in, c->io->input + c->written, want) : 0;
	if (w > 0)
		c->written += (size_t)w;
	/* EPIPE (the child closed its end) and other errors end the input alike. */
	if (c->written == c->io->input_len || (w < 0 && errno != EINTR && errno != EAGAIN))
		close_fd(&e->in);
}

/* Reads one chunk of *fd into the output (or the error tail); closes it at end of file. */
static int drain(struct capture *c, int *fd, bool is_err, const char *prog, struct fl_error *err)
{
	char chunk[16384];
	ssize_t n = read(*fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0)
		return fl_error_set(err, FL_EIO, "cannot read the output of '%s': %s", prog, strerror(errno));
	if (n == 0)
		close_fd(fd);
	else if (is_err)
		keep_tail(c, chunk, (size_t)n);
	else
		keep_output(c, chunk, (size_t)n);
	return 0;
}

/*
 * Moves data through the pipes until both outputs end, the deadline (-1:
 * none) passes or the output is full. The output may end after the child
 * exits when grandchildren hold the pipe: the timeout bounds both.
 */
static int pump(struct capture *c, struct ends *e, long long deadline, const char *prog, struct fl_error *err)
{
	int rc = 0;
	while ((e->out >= 0 || e->err >= 0) && !c->full && !rc) {
		int wait_ms = -1;
		if (deadline >= 0) {
			long long left = deadline - fl_mono_ms();
			if (left <= 0) {
				c->res->timed_out = true;
				break;
			}
			wait_ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		struct pollfd pfd[3];
		int fds[3] = { e->in, e->out, e->err };
		nfds_t n = 0;
		int at[3] = { -1, -1, -1 };
		for (int k = 0; k < 3; k++)
			if (fds[k] >= 0) {
				at[k] = (int)n;
				pfd[n++] = (struct pollfd){ fds[k], k == 0 ? POLLOUT : POLLIN, 0 };
			}
		int ready = poll(pfd, n, wait_ms);
		if (ready < 0 && errno != EINTR)
			return fl_error_set(err, FL_EIO, "cannot read the output of '%s': %s", prog,
					    strerror(errno));
		if (ready <= 0)
			continue;
		if (at[0] >= 0 && pfd[at[0]].revents)
			feed(c, e);
		if (at[1] >= 0 && pfd[at[1]].revents)
			rc = drain(c, &e->out, false, prog, err);
		if (!rc && at[2] >= 0 && pfd[at[2]].revents)
			rc = drain(c, &e->err, true, prog, err);
	}
	return rc;
}

/* The pipes of one run: ours in e, the child's ends in sp; errors as in fl_proc_pipe. */
static int open_pipes(struct spawn *sp, struct ends *e, int *fail_r, const struct fl_proc_io *io,
		      const char *prog, struct fl_error *err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, fail[2] = { -1, -1 };
	bool ok = pipe2(out, O_CLOEXEC) == 0 && pipe2(fail, O_CLOEXEC) == 0;
	if (ok && io->err)
		ok = pipe2(errp, O_CLOEXEC) == 0;
	if (ok && io->input)
		ok = pipe2(in, O_CLOEXEC) == 0 && fcntl(in[1], F_SETFL, O_NONBLOCK) == 0;
	else if (ok)
		ok = (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;
	e->in = in[1];
	e->out = out[0];
	e->err = errp[0];
	*fail_r = fail[0];
	sp->in_r = in[0];
	sp->out_w = out[1];
	sp->fail_w = fail[1];
	int err_w = errp[1];
	if (ok)
		ok = move_above_stdio(&sp->in_r) == 0 && move_above_stdio(&sp->out_w) == 0 &&
		     (err_w < 0 || move_above_stdio(&err_w) == 0) && move_above_stdio(&sp->fail_w) == 0;
	sp->stderr_w = io->err ? err_w : sp->out_w;
	if (!ok)
		return fl_error_set(err, FL_EIO, "cannot run '%s': cannot set up its pipes: %s", prog,
				    strerror(errno));
	return 0;
}

/* Closes the child's ends of the pipes, ours being the only ones left. */
static void close_child_ends(struct spawn *sp)
{
	if (sp->stderr_w != sp->out_w)
		close_fd(&sp->stderr_w);
	sp->stderr_w = -1;
	close_fd(&sp->in_r);
	close_fd(&sp->out_w);
	close_fd(&sp->fail_w);
}

/*
 * Starts the child: posix_spawn, or fork when it must die with its parent.
 * *pid is -1 when it did not start; res->start_errno then says why.
 */
static int start(pid_t *pid, struct spawn *sp, const struct fl_proc_opts *opts, struct fl_proc_result *res,
		 struct fl_error *err)
{
	const char *prog = opts->argv[0];
	struct child_failure failure = { STAGE_EXEC, 0 };
	*pid = -1;
	if (!opts->die_with_parent) {
		struct stat st;
		if (opts->cwd && (stat(opts->cwd, &st) != 0 || !S_ISDIR(st.st_mode))) {
			failure.stage = STAGE_CHDIR;
			failure.errnum = errno ? errno : ENOTDIR;
			if (stat(opts->cwd, &st) == 0)
				failure.errnum = ENOTDIR;
		} else if ((failure.errnum = spawn_child(pid, sp)) != 0) {
			*pid = -1;
		}
		if (failure.errnum) {
			res->start_errno = failure.errnum;
			return failure_error(err, &failure, prog, opts->cwd);
		}
		close_fd(&sp->fail_w);
		return 0;
	}
	/* Only this thread's mask: no handler of ours may run in the child. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	*pid = fork();
	if (*pid == 0)
		run_child(sp);
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (*pid < 0) {
		res->start_errno = fork_errno;
		return fl_error_set(err, FL_EIO, "cannot run '%s': fork: %s", prog, strerror(fork_errno));
	}
	return 0;
}

/* After the outputs closed: waits for the exit (the child may still run), kills the group if need be, reaps. */
static int finish(pid_t pid, struct capture *c, long long deadline, const char *prog, struct fl_error *err)
{
	struct fl_proc_result *res = c->res;
	if (!res->timed_out && !c->full && deadline >= 0)
		res->timed_out = wait_exit_until(pid, deadline);
	if (res->timed_out || c->full) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	int status = 0;
	if (reap(pid, &status) != 0)
		return fl_error_set(err, FL_EIO, "cannot wait for '%s': %s", prog, strerror(errno));
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->signal = WTERMSIG(status);
		res->exit_code = 128 + res->signal;
	}
	return 0;
}

/*
 * A child that exits without reading its input makes our write fail with
 * EPIPE and raise SIGPIPE at this thread: it is blocked while we write, and
 * one that was not pending before is taken back.
 */
struct sigpipe_guard {
	sigset_t set, old;
	bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t pending;
	sigemptyset(&g->set);
	sigaddset(&g->set, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &g->set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	if (!g->was_pending) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&g->set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

int fl_proc_pipe(struct fl_proc_result *out, const struct fl_proc_io *io, const struct fl_proc_opts *opts,
		 struct fl_error *err)
{
	struct spawn sp;
	struct ends e = { -1, -1, -1 };
	struct capture c;
	struct sigpipe_guard guard;
	int fail_r = -1;
	pid_t pid = -1;
	int rc = 0;

	assert(out && io && opts && opts->argv && opts->argv[0]);
	assert(!io->err || io->err_tail > 0);
	memset(out, 0, sizeof(*out));
	memset(&sp, 0, sizeof(sp));
	sp.in_r = sp.out_w = sp.stderr_w = sp.fail_w = -1;
	c = (struct capture){ io, out, opts->max_output, 0, 0, false };
	long long start_ms = fl_mono_ms();
	long long deadline = opts->timeout_ms ? start_ms + opts->timeout_ms : -1;
	const char *prog = opts->argv[0];

	if (io->input)
		sigpipe_block(&guard);
	sp.argv = (char *const *)opts->argv;
	sp.cwd = opts->cwd;
	sp.die_with_parent = opts->die_with_parent;
	sp.parent = getpid();
	if ((rc = fl_env_build(&sp.envp, opts->env, opts->unset, err)))
		goto out;
	build_paths(&sp, prog);
	build_sh_argv(&sp);
	if ((rc = open_pipes(&sp, &e, &fail_r, io, prog, err)) || (rc = start(&pid, &sp, opts, out, err)))
		goto out;
	/* Also here, so a kill of the group cannot come before the child made it. */
	setpgid(pid, pid);
	close_child_ends(&sp);

	struct child_failure failure;
	if (read_failure(fail_r, &failure)) {
		int status;
		reap(pid, &status);
		pid = -1;
		out->start_errno = failure.errnum;
		rc = failure_error(err, &failure, prog, opts->cwd);
		goto out;
	}
	if ((rc = pump(&c, &e, deadline, prog, err)))
		goto out;
	rc = finish(pid, &c, deadline, prog, err);
	pid = -1;
	if (io->err && io->err->len > io->err_tail) {
		memmove(io->err->ptr, io->err->ptr + io->err->len - io->err_tail, io->err_tail);
		fl_buf_truncate(io->err, io->err_tail);
		out->err_cut = true;
	}

out:
	if (pid > 0) {
		/* Failed while it ran: take the whole group down with it. */
		int ignored;
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		reap(pid, &ignored);
	}
	close_fd(&e.in);
	close_fd(&e.out);
	close_fd(&e.err);
	close_fd(&fail_r);
	close_child_ends(&sp);
	spawn_release(&sp);
	if (io->input)
		sigpipe_restore(&guard);
	out->elapsed_ms = fl_mono_ms() - start_ms;
	return rc;
}

int fl_proc_run(struct fl_proc_result *out, struct fl_buf *output, const struct fl_proc_opts *opts,
		struct fl_error *err)
{
	struct fl_proc_io io = { NULL, 0, output, NULL, 0, false };
	return fl_proc_pipe(out, &io, opts, err);
}
