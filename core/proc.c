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
	int devnull, out_w, err_w;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
		child_fail(sp->err_w, STAGE_CHDIR);
	if (dup2(sp->devnull, STDIN_FILENO) < 0 || dup2(sp->out_w, STDOUT_FILENO) < 0 ||
	    dup2(sp->out_w, STDERR_FILENO) < 0)
		child_fail(sp->err_w, STAGE_REDIRECT);
	/*
	 * Close what other threads opened without O_CLOEXEC, keeping the error
	 * pipe (close-on-exec) until exec. Failure (an old kernel) is not fatal.
	 */
	if (sp->err_w > STDERR_FILENO + 1)
		close_range(STDERR_FILENO + 1, (unsigned)sp->err_w - 1, 0);
	close_range((unsigned)sp->err_w + 1, ~0U, 0);

	/* execvp's search, over the paths found before fork. */
	bool denied = false;
	int last = ENOENT;
	for (size_t i = 0; i < sp->npaths; i++) {
		execve(sp->paths[i], sp->argv, sp->envp);
		if (errno == ENOEXEC) {
			/* No #! line: run it with the shell, as execvp does. */
			sp->sh_argv[1] = sp->paths[i];
			execve(sp->sh_argv[0], sp->sh_argv, sp->envp);
			child_fail(sp->err_w, STAGE_EXEC);
		}
		if (errno == EACCES)
			denied = true;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
			 errno != ETIMEDOUT)
			child_fail(sp->err_w, STAGE_EXEC);
		last = errno;
	}
	errno = denied ? EACCES : last;
	child_fail(sp->err_w, STAGE_EXEC);
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
		long long left = deadline - now_ms();
		if (left <= 0)
			return true;
		long long nap = step < left ? step : left;
		struct timespec ts = { (time_t)(nap / 1000), (long)(nap % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		if (step < 50)
			step *= 2;
	}
}

/* Keeps what fits of a chunk of output; the rest marks the result truncated. */
static void keep_output(struct fl_buf *output, size_t max_output, size_t *kept, const char *data, size_t n,
			bool *truncated)
{
	size_t take = max_output - *kept < n ? max_output - *kept : n;
	if (output && output->max && output->max - output->len < take)
		take = output->max - output->len;
	if (output && take && fl_buf_put(output, data, take) != 0)
		take = 0;
	*kept += take;
	if (take < n)
		*truncated = true;
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
	posix_spawn_file_actions_adddup2(&fa, sp->devnull, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, sp->out_w, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, sp->out_w, STDERR_FILENO);
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

int fl_proc_run(struct fl_proc_result *out, struct fl_buf *output, const struct fl_proc_opts *opts,
		struct fl_error *err)
{
	struct spawn sp;
	int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 }, devnull = -1;
	pid_t pid = -1;
	int rc = 0;

	assert(out && opts && opts->argv && opts->argv[0]);
	memset(out, 0, sizeof(*out));
	memset(&sp, 0, sizeof(sp));
	long long start = now_ms();
	long long deadline = opts->timeout_ms ? start + opts->timeout_ms : -1;
	const char *prog = opts->argv[0];

	sp.argv = (char *const *)opts->argv;
	sp.cwd = opts->cwd;
	sp.die_with_parent = opts->die_with_parent;
	sp.parent = getpid();
	rc = fl_env_build(&sp.envp, opts->env, opts->unset, err);
	if (rc)
		goto out;
	build_paths(&sp, prog);
	build_sh_argv(&sp);

	if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || move_above_stdio(&out_pipe[1]) != 0 ||
	    move_above_stdio(&err_pipe[1]) != 0 || move_above_stdio(&devnull) != 0) {
		rc = fl_error_set(err, FL_EIO, "cannot run '%s': cannot set up its pipes: %s", prog,
				  strerror(errno));
		goto out;
	}
	sp.out_w = out_pipe[1];
	sp.err_w = err_pipe[1];
	sp.devnull = devnull;

	if (!opts->die_with_parent) {
		struct stat st;
		if (opts->cwd && (stat(opts->cwd, &st) != 0 || !S_ISDIR(st.st_mode))) {
			struct child_failure failure = { STAGE_CHDIR, errno ? errno : ENOTDIR };
			if (stat(opts->cwd, &st) == 0)
				failure.errnum = ENOTDIR;
			rc = failure_error(err, &failure, prog, opts->cwd);
			goto out;
		}
		int serr = spawn_child(&pid, &sp);
		if (serr) {
			pid = -1;
			struct child_failure failure = { STAGE_EXEC, serr };
			rc = failure_error(err, &failure, prog, opts->cwd);
			goto out;
		}
		close_fd(&err_pipe[1]);
	} else {
		/* Only this thread's mask: no handler of ours may run in the child. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pid = fork();
		if (pid == 0)
			run_child(&sp);
		int fork_errno = errno;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (pid < 0) {
			rc = fl_error_set(err, FL_EIO, "cannot run '%s': fork: %s", prog, strerror(fork_errno));
			goto out;
		}
	}
	/* Also here, so a kill of the group cannot come before the child made it. */
	setpgid(pid, pid);
	close_fd(&out_pipe[1]);
	close_fd(&err_pipe[1]);
	close_fd(&devnull);

	struct child_failure failure;
	if (read_failure(err_pipe[0], &failure)) {
		int status;
		reap(pid, &status);
		pid = -1;
		rc = failure_error(err, &failure, prog, opts->cwd);
		goto out;
	}

	/*
	 * Read to end of file, which may come after the child exits when
	 * grandchildren hold the pipe: the timeout bounds both.
	 */
	size_t kept = 0;
	char chunk[16384];
	for (;;) {
		int wait_ms = -1;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0) {
				out->timed_out = true;
				break;
			}
			wait_ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		struct pollfd pfd = { out_pipe[0], POLLIN, 0 };
		int ready = poll(&pfd, 1, wait_ms);
		if (ready < 0 && errno != EINTR) {
			rc = fl_error_set(err, FL_EIO, "cannot read the output of '%s': %s", prog,
					  strerror(errno));
			goto out;
		}
		if (ready <= 0)
			continue;
		ssize_t n = read(out_pipe[0], chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			rc = fl_error_set(err, FL_EIO, "cannot read the output of '%s': %s", prog,
					  strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		keep_output(output, opts->max_output, &kept, chunk, (size_t)n, &out->truncated);
	}
	/* The child may have closed its output and still run. */
	if (!out->timed_out && deadline >= 0)
		out->timed_out = wait_exit_until(pid, deadline);
	if (out->timed_out) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	int status = 0;
	int wait_rc = reap(pid, &status);
	pid = -1;
	if (wait_rc != 0) {
		rc = fl_error_set(err, FL_EIO, "cannot wait for '%s': %s", prog, strerror(errno));
		goto out;
	}
	if (WIFEXITED(status))
		out->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		out->exit_code = 128 + WTERMSIG(status);

out:
	if (pid > 0) {
		/* Failed while it ran: take the whole group down with it. */
		int ignored;
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		reap(pid, &ignored);
	}
	close_fd(&out_pipe[0]);
	close_fd(&out_pipe[1]);
	close_fd(&err_pipe[0]);
	close_fd(&err_pipe[1]);
	close_fd(&devnull);
	spawn_release(&sp);
	out->elapsed_ms = now_ms() - start;
	return rc;
}
