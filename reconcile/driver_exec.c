/*
 * The exec driver (SPEC 8): every operation runs a program of the user's
 * with a JSON request on its standard input and reads a JSON answer from its
 * standard output; docs/drivers.md specifies the protocol (version 1). The
 * driver checks every answer (names, fingerprints it computes itself) before
 * the engine sees it. No state is shared between calls but an atomic flag,
 * so any operation may run on many threads at once.
 */
/* pipe2 and posix_spawn_file_actions_addclosefrom_np are GNU extensions; proc.c does the same. */
#define _GNU_SOURCE 1

#include "reconcile/driver.h"
#include "reconcile/driver_answer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/proc.h"
#include "reconcile/secret_env.h"
#include "reconcile/syntax.h"
#include "core/banned.h"

#define PROTOCOL_VERSION 1
#define DEFAULT_TIMEOUT_S 300
#define MAX_TIMEOUT_S (7 * 24 * 3600)
#define ANSWER_MAX ((size_t)256 * 1024 * 1024)
#define STDERR_TAIL 2048
#define CHUNK 65536

struct exec_driver {
	char **command; /* argv templates, owned */
	size_t ncommand;
	char **drop;    /* patterns of variables the program never sees, NULL-terminated, owned */
	struct fl_env_list pass; /* what pass_env hands on, read when the driver opened */
	unsigned timeout_s;
	atomic_bool no_marker; /* the program answered {"unsupported":true} to marker */
};

/* One call of the program: what the error messages say it was doing. */
struct call {
	const struct exec_driver *d;
	const char *op;
	const struct fl_tenant *tenant;
	const char *region; /* NULL for operations without one */
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "observe of tenant 'acme' in region 'us-east-1'" into out (size bytes). */
static void describe(char *out, size_t size, const struct call *c)
{
	if (c->region)
		snprintf(out, size, "%s of tenant '%s' in region '%s'", c->op, c->tenant->name, c->region);
	else
		snprintf(out, size, "%s of tenant '%s'", c->op, c->tenant->name);
}

/* ---- the command's templates ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Appends tmpl with {{tenant.name}}, {{tenant.account}} and {{region}}
 * substituted as text. FL_EINPUT for any other name or a '{{' left open.
 */
static int expand(struct fl_buf *out, const char *tmpl, const struct fl_tenant *t, const char *region,
		  struct fl_error *err)
{
	int rc = 0;
	const char *p = tmpl;
	for (;;) {
		const char *open = strstr(p, "{{");
		if (!open) {
			rc = fl_buf_puts(out, p);
			break;
		}
		if ((rc = fl_buf_put(out, p, (size_t)(open - p))))
			break;
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			rc = fl_error_set(err, FL_EINPUT, "unterminated '{{' in driver command '%s'", tmpl);
			goto out;
		}
		const char *a = open + 2, *b = close;
		while (a < b && is_blank(*a))
			a++;
		while (b > a && is_blank(b[-1]))
			b--;
		size_t len = (size_t)(b - a);
		const char *val = NULL;
		if (len == 11 && memcmp(a, "tenant.name", len) == 0)
			val = t->name;
		else if (len == 14 && memcmp(a, "tenant.account", len) == 0)
			val = t->account;
		else if (len == 6 && memcmp(a, "region", len) == 0)
			val = region;
		else {
			rc = fl_error_set(err, FL_EINPUT,
					  "unknown template variable '%.*s' in driver command (expected "
					  "tenant.name, tenant.account or region)",
					  (int)(len > 100 ? 100 : len), a);
			goto out;
		}
		if ((rc = fl_buf_puts(out, val ? val : "")))
			break;
		p = close + 2;
	}
	if (rc)
		rc = fl_error_set(err, rc, "driver command argument '%.100s' is too long", tmpl);
out:
	return rc;
}

static void free_argv(char **argv, size_t n)
{
	if (!argv)
		return;
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
}

/*
 * The argv of one call (NULL-terminated, n + 1 entries, the caller's to
 * free_argv). {{region}} is the call's region or, for calls without one, the
 * tenant's primary region.
 */
static int build_argv(char ***out, const struct call *c, struct fl_error *err)
{
	const struct exec_driver *d = c->d;
	const char *region = c->region ? c->region : c->tenant->nregions ? c->tenant->regions[0] : "";
	char **argv = fl_calloc(d->ncommand + 1, sizeof(*argv));
	struct fl_buf arg = FL_BUF_INIT;
	int rc = 0;
	arg.max = 64 * 1024;
	for (size_t i = 0; i < d->ncommand; i++) {
		fl_buf_clear(&arg);
		if ((rc = expand(&arg, d->command[i], c->tenant, region, err)))
			goto out;
		argv[i] = fl_strdup(arg.ptr);
	}
out:
	fl_buf_release(&arg);
	if (rc) {
		free_argv(argv, d->ncommand);
		argv = NULL;
	}
	*out = argv;
	return rc;
}

/* ---- running the program ---- */

struct run {
	struct fl_buf out; /* standard output, whole, up to ANSWER_MAX */
	struct fl_buf err; /* the last STDERR_TAIL bytes (at most twice that while running) */
	bool err_cut;	   /* err lost its beginning */
	bool timed_out, too_big;
	int status; /* from waitpid, when it exited */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
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

static void keep_stderr(struct run *r, const char *data, size_t n)
{
	if (n >= STDERR_TAIL) {
		fl_buf_clear(&r->err);
		data += n - STDERR_TAIL;
		n = STDERR_TAIL;
		r->err_cut = true;
	}
	if (fl_buf_put(&r->err, data, n))
		return;
	if (r->err.len > 2 * STDERR_TAIL) {
		memmove(r->err.ptr, r->err.ptr + r->err.len - STDERR_TAIL, STDERR_TAIL);
		fl_buf_truncate(&r->err, STDERR_TAIL);
		r->err_cut = true;
	}
}

/* Waits, without reaping it, until pid exits or the deadline passes; true on the deadline. */
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
			return false; /* the reap reports it */
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

static int reap(pid_t pid, int *status)
{
	for (;;) {
		pid_t w = waitpid(pid, status, 0);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -1;
	}
}

/*
 * Moves data between the three pipes until both outputs end or the deadline
 * passes. The request is written as the child reads it; a child that exits
 * without reading it all is not an error here (its exit status decides).
 */
static int pump(struct run *r, int *in_fd, int *out_fd, int *err_fd, const char *input, size_t input_len,
		long long deadline, const char *prog, struct fl_error *err)
{
	size_t written = 0;
	char chunk[CHUNK];
	int rc = 0;
	while (*out_fd >= 0 || *err_fd >= 0) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			r->timed_out = true;
			break;
		}
		struct pollfd pfd[3];
		int n = 0, iin = -1, iout = -1, ierr = -1;
		if (*in_fd >= 0)
			pfd[iin = n++] = (struct pollfd){ *in_fd, POLLOUT, 0 };
		if (*out_fd >= 0)
			pfd[iout = n++] = (struct pollfd){ *out_fd, POLLIN, 0 };
		if (*err_fd >= 0)
			pfd[ierr = n++] = (struct pollfd){ *err_fd, POLLIN, 0 };
		int ready = poll(pfd, (nfds_t)n, left > INT_MAX ? INT_MAX : (int)left);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			rc = fl_error_set(err, FL_EIO, "cannot talk to driver '%s': poll: %s", prog,
					  strerror(errno));
			break;
		}
		if (iin >= 0 && pfd[iin].revents) {
			size_t want = input_len - written < CHUNK ? input_len - written : CHUNK;
			ssize_t w = want ? write(*in_fd, input + written, want) : 0;
			if (w > 0)
				written += (size_t)w;
			/* EPIPE (the child closed its end) and other errors end the request alike. */
			if (written == input_len || (w < 0 && errno != EINTR && errno != EAGAIN))
				close_fd(in_fd);
		}
		for (int k = 0; k < 2; k++) {
			int idx = k == 0 ? iout : ierr;
			int *fd = k == 0 ? out_fd : err_fd;
			if (idx < 0 || !pfd[idx].revents)
				continue;
			ssize_t got = read(*fd, chunk, sizeof(chunk));
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0) {
				close_fd(fd);
				continue;
			}
			if (k == 1) {
				keep_stderr(r, chunk, (size_t)got);
			} else if (fl_buf_put(&r->out, chunk, (size_t)got)) {
				r->too_big = true;
				goto out;
			}
		}
	}
out:
	return rc;
}

/*
 * Runs argv with input on its standard input, filling r. Returns 0 when the
 * program ran (whatever its exit status: see r), FL_EDRIVER when it could
 * not be started, FL_EIO when talking to it failed.
 */
static int run_program(struct run *r, char *const *argv, char *const *envp, const char *input,
		       size_t input_len, unsigned timeout_s, struct fl_error *err)
{
	int in_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	pid_t pid = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_ok = false, attr_ok = false;
	int rc = 0;
	long long deadline = now_ms() + (long long)timeout_s * 1000;

	/*
	 * A child that exits without reading its request makes our write fail
	 * with EPIPE and raise SIGPIPE at this thread: block it here, and take
	 * back any SIGPIPE that was not pending before.
	 */
	sigset_t pipe_set, old_mask, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	bool pipe_was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);

	/* O_CLOEXEC from the start: children other threads spawn meanwhile must not inherit them. */
	if (pipe2(in_p, O_CLOEXEC) || pipe2(out_p, O_CLOEXEC) || pipe2(err_p, O_CLOEXEC) ||
	    move_above_stdio(&in_p[0]) || move_above_stdio(&out_p[1]) || move_above_stdio(&err_p[1]) ||
	    fcntl(in_p[1], F_SETFL, O_NONBLOCK) < 0) {
		rc = fl_error_set(err, FL_EIO, "cannot run driver '%s': cannot set up its pipes: %s", argv[0],
				  strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	fa_ok = true;
	posix_spawnattr_init(&attr);
	attr_ok = true;
	posix_spawn_file_actions_adddup2(&fa, in_p[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_p[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, err_p[1], STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	/* What other code opened without O_CLOEXEC stays out of the program too. */
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
	/* A process group of its own, killed whole on timeout; default signals, none blocked. */
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr,
				 POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int e = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
	if (e) {
		pid = -1;
		rc = fl_error_set(err, FL_EDRIVER, "cannot run driver '%s': %s", argv[0], strerror(e));
		goto out;
	}
	close_fd(&in_p[0]);
	close_fd(&out_p[1]);
	close_fd(&err_p[1]);

	if ((rc = pump(r, &in_p[1], &out_p[0], &err_p[0], input, input_len, deadline, argv[0], err)))
		goto out;
	/* The outputs closed; the program may still run (or be stopped). */
	if (!r->timed_out && !r->too_big)
		r->timed_out = wait_exit_until(pid, deadline);
	if (r->timed_out || r->too_big)
		kill(-pid, SIGKILL);
	int status = 0;
	int wrc = reap(pid, &status);
	pid = -1;
	if (wrc) {
		rc = fl_error_set(err, FL_EIO, "cannot wait for driver '%s': %s", argv[0], strerror(errno));
		goto out;
	}
	r->status = status;
out:
	if (pid > 0) {
		int ignored;
		kill(-pid, SIGKILL);
		reap(pid, &ignored);
	}
	for (int i = 0; i < 2; i++) {
		close_fd(&in_p[i]);
		close_fd(&out_p[i]);
		close_fd(&err_p[i]);
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (!pipe_was_pending) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	return rc;
}

/*
 * The stderr tail made one line (line breaks become " | ", other control
 * characters spaces, trailing white space dropped), cut from the front to at
 * most room bytes, into out.
 */
static void stderr_line(struct fl_buf *out, const struct run *r, size_t room)
{
	struct fl_buf line = FL_BUF_INIT;
	const char *s = r->err.ptr;
	size_t n = r->err.len;
	while (n && (unsigned char)s[n - 1] <= ' ')
		n--;
	size_t i = 0;
	while (i < n && (unsigned char)s[i] <= ' ')
		i++;
	for (; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\n')
			fl_buf_puts(&line, " | ");
		else if (ch == '\r')
			continue;
		else
			fl_buf_putc(&line, ch < ' ' || ch == 0x7f ? ' ' : (char)ch);
	}
	const char *p = line.ptr;
	size_t len = line.len;
	bool cut = r->err_cut;
	if (len > room) {
		p += len - room + 4;
		len = room - 4;
		cut = true;
	}
	if (cut && len > room / 2) {
		/* Start at a line when one starts near the cut, else never inside a UTF-8 sequence. */
		const char *bar = strstr(p, " | ");
		if (bar && (size_t)(bar - p) < 100) {
			len -= (size_t)(bar + 3 - p);
			p = bar + 3;
		}
	}
	while (cut && len && ((unsigned char)*p & 0xc0) == 0x80) {
		p++;
		len--;
	}
	if (cut)
		fl_buf_puts(out, "... ");
	fl_buf_put(out, p, len);
	fl_buf_release(&line);
}

/* FL_EDRIVER "driver 'x' <what> on <call>: <stderr tail>", the tail cut to fit. */
static int fail(struct fl_error *err, const struct call *c, const struct run *r, const char *what)
{
	char head[FL_ERROR_MSG_MAX], about[FL_ERROR_MSG_MAX];
	struct fl_buf tail = FL_BUF_INIT;
	describe(about, sizeof(about), c);
	int n = snprintf(head, sizeof(head), "driver '%s' %s on %s", c->d->command[0], what, about);
	size_t used = n < 0 ? 0 : (size_t)n;
	if (r && r->err.len && used + 2 + 16 < FL_ERROR_MSG_MAX)
		stderr_line(&tail, r, FL_ERROR_MSG_MAX - 1 - used - 2);
	int rc = fl_error_set(err, FL_EDRIVER, "%s%s%s", head, tail.len ? ": " : "", tail.ptr);
	fl_buf_release(&tail);
	return rc;
}

/*
 * Runs the program for call c with request and parses its answer into
 * *answer (a tree in arena). Failure, a timeout or an answer that is not one
 * JSON object: FL_EDRIVER with the program's stderr.
 */
static int call_program(const struct fl_node **answer, struct fl_arena *arena, const struct call *c,
			const struct fl_buf *request, struct fl_error *err)
{
	struct run r;
	char **argv = NULL, **envp = NULL;
	char what[128];
	memset(&r, 0, sizeof(r));
	fl_buf_init(&r.out, ANSWER_MAX);
	fl_buf_init(&r.err, 0);
	*answer = NULL;
	int rc = build_argv(&argv, c, err);
	if (rc || (rc = fl_env_build(&envp, fl_env_list_entries(&c->d->pass), (const char *const *)c->d->drop, err)) ||
	    (rc = run_program(&r, argv, envp, request->ptr, request->len, c->d->timeout_s, err)))
		goto out;
	if (r.timed_out) {
		snprintf(what, sizeof(what), "timed out after %u s", c->d->timeout_s);
		rc = fail(err, c, &r, what);
		goto out;
	}
	if (r.too_big) {
		snprintf(what, sizeof(what), "answered more than %zu MiB", ANSWER_MAX >> 20);
		rc = fail(err, c, &r, what);
		goto out;
	}
	if (WIFSIGNALED(r.status) || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
		if (WIFSIGNALED(r.status))
			snprintf(what, sizeof(what), "was killed by signal %d", WTERMSIG(r.status));
		else
			snprintf(what, sizeof(what), "failed (exit %d)", WEXITSTATUS(r.status));
		rc = fail(err, c, &r, what);
		goto out;
	}
	struct fl_node *root = NULL;
	struct fl_error jerr = FL_ERROR_INIT;
	struct fl_source src = { "answer", r.out.ptr, r.out.len };
	if (fl_json_parse(&root, arena, &src, &jerr)) {
		snprintf(what, sizeof(what), "gave an answer that is not JSON (%u:%u: %.60s)", jerr.line,
			 jerr.col, jerr.msg);
		rc = fail(err, c, &r, what);
		goto out;
	}
	if (root->type != FL_NODE_MAP) {
		rc = fail(err, c, &r, "gave an answer that is not a JSON object");
		goto out;
	}
	*answer = root;
out:
	free_argv(argv, c->d->ncommand);
	free(envp);
	fl_buf_release(&r.out);
	fl_buf_release(&r.err);
	return rc;
}

/* FL_EDRIVER "driver 'x' gave an invalid answer to <call>: <why>". */
__attribute__((format(printf, 3, 4))) static int bad_answer(struct fl_error *err, const struct call *c,
							    const char *fmt, ...)
{
	char about[FL_ERROR_MSG_MAX], why[FL_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	describe(about, sizeof(about), c);
	return fl_error_set(err, FL_EDRIVER, "driver '%s' gave an invalid answer to %s: %s", c->d->command[0],
			    about, why);
}

/* True when the answer is {"unsupported": true, ...}. */
static bool unsupported(const struct fl_node *answer)
{
	const struct fl_node *u = fl_node_get(answer, "unsupported");
	return u && u->type == FL_NODE_BOOL && u->v.b;
}

/* ---- requests ---- */

/* {"operation":OP,"protocol":1,["region":R,]"tenant":{...} — left open for "write". */
static int request_head(struct fl_buf *b, const struct call *c)
{
	const struct fl_tenant *t = c->tenant;
	int rc = 0;
	if ((rc = fl_buf_puts(b, "{\"operation\":")) || (rc = fl_json_put_str(b, c->op, strlen(c->op))) ||
	    (rc = fl_buf_printf(b, ",\"protocol\":%d", PROTOCOL_VERSION)))
		return rc;
	if (c->region && ((rc = fl_buf_puts(b, ",\"region\":")) ||
			  (rc = fl_json_put_str(b, c->region, strlen(c->region)))))
		return rc;
	if ((rc = fl_buf_puts(b, ",\"tenant\":{\"account\":")) ||
	    (rc = fl_json_put_str(b, t->account, strlen(t->account))) ||
	    (rc = fl_buf_puts(b, ",\"labels\":{")))
		return rc;
	/* Labels are sorted by key, as the canonical form wants. */
	for (size_t i = 0; i < t->nlabels; i++) {
		const struct fl_label *l = &t->labels[i];
		if ((i && (rc = fl_buf_putc(b, ','))) || (rc = fl_json_put_str(b, l->key, strlen(l->key))) ||
		    (rc = fl_buf_putc(b, ':')) || (rc = fl_json_put_str(b, l->value, strlen(l->value))))
			return rc;
	}
	if ((rc = fl_buf_puts(b, "},\"name\":")) || (rc = fl_json_put_str(b, t->name, strlen(t->name))) ||
	    (rc = fl_buf_puts(b, ",\"regions\":[")))
		return rc;
	for (size_t i = 0; i < t->nregions; i++)
		if ((i && (rc = fl_buf_putc(b, ','))) ||
		    (rc = fl_json_put_str(b, t->regions[i], strlen(t->regions[i]))))
			return rc;
	return fl_buf_puts(b, "]}");
}

static int put_fp(struct fl_buf *b, const struct fl_fp *fp)
{
	char hex[FL_FP_HEX_LEN + 1];
	fl_fp_hex(hex, fp);
	return fl_buf_printf(b, "\"%s\"", hex);
}

static int put_marker(struct fl_buf *b, const struct fl_marker *m)
{
	int rc = 0;
	if ((rc = fl_buf_puts(b, "{\"inputs_fingerprint\":")) || (rc = put_fp(b, &m->inputs_fp)) ||
	    (rc = fl_buf_printf(b, ",\"resources\":%zu,\"revision\":\"%.40s\",\"tenant_fingerprint\":",
				m->resources, m->revision)) ||
	    (rc = put_fp(b, &m->tenant_fp)))
		return rc;
	return fl_buf_putc(b, '}');
}

static int put_key(struct fl_buf *b, const char *kind, const char *name)
{
	int rc = 0;
	if ((rc = fl_buf_puts(b, "\"kind\":")) || (rc = fl_json_put_str(b, kind, strlen(kind))) ||
	    (rc = fl_buf_puts(b, ",\"name\":")))
		return rc;
	return fl_json_put_str(b, name, strlen(name));
}

/* ,"write":{"delete":[...],"marker":...,"put":[...]} */
static int request_write(struct fl_buf *b, const struct fl_region_write *w)
{
	int rc = fl_buf_puts(b, ",\"write\":{\"delete\":[");
	for (size_t i = 0; i < w->ndel && !rc; i++)
		if (!(rc = fl_buf_puts(b, i ? ",{" : "{")) &&
		    !(rc = put_key(b, w->del[i].kind, w->del[i].name)))
			rc = fl_buf_putc(b, '}');
	if (rc || (rc = fl_buf_puts(b, "],\"marker\":")))
		return rc;
	if ((rc = w->marker ? put_marker(b, w->marker) : fl_buf_puts(b, "null")) ||
	    (rc = fl_buf_puts(b, ",\"put\":[")))
		return rc;
	for (size_t i = 0; i < w->nput; i++) {
		const struct fl_put_res *p = &w->put[i];
		if ((rc = fl_buf_puts(b, i ? ",{\"fingerprint\":" : "{\"fingerprint\":")) ||
		    (rc = put_fp(b, &p->fp)) || (rc = fl_buf_puts(b, ",\"if_match\":")) ||
		    (rc = p->if_match ? put_fp(b, p->if_match) : fl_buf_puts(b, "null")) ||
		    (rc = fl_buf_putc(b, ',')) || (rc = put_key(b, p->kind, p->name)) ||
		    (rc = fl_buf_puts(b, ",\"spec\":")) || (rc = fl_buf_put(b, p->spec, p->spec_len)) ||
		    (rc = fl_buf_putc(b, '}')))
			return rc;
	}
	return fl_buf_puts(b, "]}");
}

/* Builds the request of c (and w, for apply) and runs the program. */
static int exchange(const struct fl_node **answer, struct fl_arena *arena, const struct call *c,
		    const struct fl_region_write *w, struct fl_error *err)
{
	struct fl_buf req = FL_BUF_INIT;
	req.max = ANSWER_MAX;
	int rc = request_head(&req, c);
	if (!rc && w)
		rc = request_write(&req, w);
	if (!rc)
		rc = fl_buf_putc(&req, '}');
	if (!rc)
		rc = fl_buf_putc(&req, '\n');
	if (rc) {
		char about[FL_ERROR_MSG_MAX];
		describe(about, sizeof(about), c);
		rc = fl_error_set(err, rc, "the request of %s is too large", about);
		goto out;
	}
	rc = call_program(answer, arena, c, &req, err);
out:
	fl_buf_release(&req);
	return rc;
}

/* ---- answers ---- */

/* Parses a marker object; *has false for null. */
static int parse_marker(struct fl_marker *m, bool *has, const struct fl_node *v, const struct call *c,
			struct fl_error *err)
{
	int rc = fl_answer_marker(m, has, v, false, err);
	return rc ? bad_answer(err, c, "%s", err->msg) : 0;
}

/* A kind, name or region of an answer: a string by the rule of fl_ident_valid. */
/*
 * Fills out from an observe answer: kinds and names copied into out->arena,
 * specs in canonical form into out->raw, each fingerprint computed here.
 */
static int fill_observed(struct fl_observed *out, const struct fl_node *answer, const struct call *c,
			 struct fl_error *err)
{
	int rc = 0;
	const struct fl_node *ex = fl_node_get(answer, "exists");
	const struct fl_node *res = fl_node_get(answer, "resources");
	if ((ex && ex->type != FL_NODE_BOOL) ||
	    (res && res->type != FL_NODE_SEQ && res->type != FL_NODE_NULL)) {
		rc = bad_answer(
			err, c,
			"expected {\"exists\": true|false, \"marker\": {...}|null, \"resources\": [...]}");
		goto out;
	}
	if ((rc = parse_marker(&out->marker, &out->has_marker, fl_node_get(answer, "marker"), c, err)))
		goto out;
	if ((rc = fl_answer_resources(out, res, false, err))) {
		rc = bad_answer(err, c, "%s", err->msg);
		goto out;
	}
	out->exists = ex ? ex->v.b : out->len > 0 || out->has_marker;
out:
	return rc;
}

/* ---- operations ---- */

static int exec_identity(void *self, const struct fl_tenant *tenant, struct fl_buf *account, bool *found,
			 struct fl_error *err)
{
	struct call c = { self, "identity", tenant, NULL };
	struct fl_arena arena;
	const struct fl_node *a = NULL;
	fl_arena_init(&arena, 4096);
	*found = false;
	int rc = exchange(&a, &arena, &c, NULL, err);
	if (rc)
		goto out;
	const struct fl_node *id = fl_node_get(a, "account");
	if (!id || id->type == FL_NODE_NULL)
		goto out;
	if (id->type != FL_NODE_STR || !fl_ident_valid(id->v.str.ptr, id->v.str.len)) {
		rc = bad_answer(err, &c,
				"expected {\"account\": \"<id>\"|null}, an id by the rule " FL_ANSWER_IDENT_RULE);
		goto out;
	}
	fl_buf_clear(account);
	if ((rc = fl_buf_put(account, id->v.str.ptr, id->v.str.len))) {
		rc = bad_answer(err, &c, "account id is too long");
		goto out;
	}
	*found = true;
out:
	fl_arena_release(&arena);
	return rc;
}

static int exec_observe(void *self, const struct fl_tenant *tenant, const char *region,
			struct fl_observed *out, struct fl_error *err)
{
	struct call c = { self, "observe", tenant, region };
	struct fl_arena arena;
	const struct fl_node *a = NULL;
	fl_arena_init(&arena, 16384);
	fl_observed_clear(out);
	size_t max = out->raw.max;
	out->raw.max = ANSWER_MAX;
	int rc = exchange(&a, &arena, &c, NULL, err);
	if (!rc)
		rc = fill_observed(out, a, &c, err);
	out->raw.max = max;
	if (rc)
		fl_observed_clear(out);
	fl_arena_release(&arena);
	return rc;
}

static int exec_marker(void *self, const struct fl_tenant *tenant, const char *region, struct fl_marker *out,
		       bool *found, struct fl_error *err)
{
	struct exec_driver *d = self;
	struct call c = { d, "marker", tenant, region };
	struct fl_arena arena;
	struct fl_observed obs;
	const struct fl_node *a = NULL;
	fl_arena_init(&arena, 4096);
	fl_observed_init(&obs);
	*found = false;
	int rc = 0;
	if (!atomic_load(&d->no_marker)) {
		if ((rc = exchange(&a, &arena, &c, NULL, err)))
			goto out;
		if (!unsupported(a)) {
			rc = parse_marker(out, found, fl_node_get(a, "marker"), &c, err);
			goto out;
		}
		/* The program has no cheap way: remember it, and ask for everything from now on. */
		atomic_store(&d->no_marker, true);
	}
	if ((rc = exec_observe(self, tenant, region, &obs, err)))
		goto out;
	*out = obs.marker;
	*found = obs.has_marker;
out:
	fl_observed_release(&obs);
	fl_arena_release(&arena);
	return rc;
}

static int exec_regions(void *self, const struct fl_tenant *tenant, fl_region_cb cb, void *payload,
			struct fl_error *err)
{
	struct call c = { self, "regions", tenant, NULL };
	struct fl_arena arena;
	const struct fl_node *a = NULL;
	fl_arena_init(&arena, 4096);
	int rc = exchange(&a, &arena, &c, NULL, err);
	if (rc)
		goto out;
	const struct fl_node *list = fl_node_get(a, "regions");
	if (!list || list->type != FL_NODE_SEQ) {
		rc = bad_answer(err, &c, "expected {\"regions\": [\"<region>\", ...]}");
		goto out;
	}
	/* Every name is checked before the first callback. */
	for (size_t i = 0; i < list->v.seq.len; i++) {
		const struct fl_node *r = list->v.seq.items[i];
		if (r->type != FL_NODE_STR || !fl_ident_valid(r->v.str.ptr, r->v.str.len)) {
			rc = bad_answer(err, &c, "region %zu is not a valid name (expected " FL_ANSWER_IDENT_RULE ")",
					i + 1);
			goto out;
		}
	}
	for (size_t i = 0; i < list->v.seq.len && !rc; i++)
		rc = cb(list->v.seq.items[i]->v.str.ptr, payload);
out:
	fl_arena_release(&arena);
	return rc;
}

/* An answer of apply or bootstrap: {"ok": true}, or {"ok": false, "error": "..."}. */
static int check_ok(const struct fl_node *a, const struct call *c, struct fl_error *err)
{
	const struct fl_node *ok = fl_answer_get(a, "ok", FL_NODE_BOOL);
	const struct fl_node *why = fl_answer_get(a, "error", FL_NODE_STR);
	if (ok && ok->v.b)
		return 0;
	if (ok && why)
		return fl_error_set(err, FL_EDRIVER, "driver '%s' refused %s of tenant '%s': %.300s",
				    c->d->command[0], c->op, c->tenant->name, why->v.str.ptr);
	return bad_answer(err, c, "expected {\"ok\": true} or {\"ok\": false, \"error\": \"...\"}");
}

/*
 * Checks every if_match of w against what the region holds now. The request
 * carries them too, for programs that can check atomically; this holds for
 * those that cannot compute fingerprints.
 */
static int check_if_match(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
			  struct fl_error *err)
{
	struct fl_observed cur;
	bool any = false;
	int rc = 0;
	for (size_t i = 0; i < w->nput && !any; i++)
		any = w->put[i].if_match != NULL;
	if (!any)
		return 0;
	fl_observed_init(&cur);
	if ((rc = exec_observe(self, tenant, w->region, &cur, err)))
		goto out;
	for (size_t i = 0; i < w->nput; i++) {
		const struct fl_put_res *p = &w->put[i];
		const struct fl_observed_res *o =
			p->if_match ? fl_observed_find(&cur, p->kind, p->name) : NULL;
		if (p->if_match && (!o || !fl_fp_equal(&o->fp, p->if_match))) {
			rc = fl_error_set(err, FL_EDRIVER, "resource %s/%s changed since it was observed",
					  p->kind, p->name);
			goto out;
		}
	}
out:
	fl_observed_release(&cur);
	return rc;
}

static int exec_apply(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
		      struct fl_error *err)
{
	struct call c = { self, "apply", tenant, w->region };
	struct fl_arena arena;
	const struct fl_node *a = NULL;
	fl_arena_init(&arena, 4096);
	int rc = 0;
	for (size_t i = 0; i < w->nput && !rc; i++)
		if (!fl_ident_valid(w->put[i].kind, strlen(w->put[i].kind)) ||
		    !fl_ident_valid(w->put[i].name, strlen(w->put[i].name)))
			rc = fl_error_set(err, FL_EINPUT,
					  "resource '%s/%s' cannot be written (bad kind or name)",
					  w->put[i].kind, w->put[i].name);
	if (rc || (rc = check_if_match(self, tenant, w, err)) || (rc = exchange(&a, &arena, &c, w, err)))
		goto out;
	rc = check_ok(a, &c, err);
out:
	fl_arena_release(&arena);
	return rc;
}

static int exec_bootstrap(void *self, const struct fl_tenant *tenant, struct fl_error *err)
{
	struct call c = { self, "bootstrap", tenant, NULL };
	struct fl_arena arena;
	const struct fl_node *a = NULL;
	fl_arena_init(&arena, 4096);
	int rc = exchange(&a, &arena, &c, NULL, err);
	if (rc)
		goto out;
	if (unsupported(a))
		rc = fl_error_set(err, FL_EDRIVER,
				  "account '%s' does not exist and driver '%s' cannot create accounts",
				  tenant->account, c.d->command[0]);
	else
		rc = check_ok(a, &c, err);
out:
	fl_arena_release(&arena);
	return rc;
}

static void exec_free(void *self)
{
	struct exec_driver *d = self;
	if (!d)
		return;
	free_argv(d->command, d->ncommand);
	for (size_t i = 0; d->drop && d->drop[i]; i++)
		free(d->drop[i]);
	free(d->drop);
	fl_env_list_release(&d->pass);
	free(d);
}

static const struct fl_driver_ops exec_ops = {
	.type = "exec",
	.io_bound = true,
	.identity = exec_identity,
	.observe = exec_observe,
	.marker = exec_marker,
	.regions = exec_regions,
	.apply = exec_apply,
	.bootstrap = exec_bootstrap,
	.free = exec_free,
};

/* ---- opening ---- */

/* Seconds of a duration like 90, "90s", "5m", "1h30m" or "1d"; 0 when malformed. */
static unsigned parse_timeout(const struct fl_node *v)
{
	unsigned secs = 0;
	if (v->type == FL_NODE_INT)
		return v->v.i > 0 && v->v.i <= MAX_TIMEOUT_S ? (unsigned)v->v.i : 0;
	if (v->type != FL_NODE_STR || !fl_duration_parse(&secs, v->v.str.ptr))
		return 0;
	return secs <= MAX_TIMEOUT_S ? secs : 0;
}

int fl_driver_exec_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err)
{
	struct fl_buf scratch = FL_BUF_INIT;
	struct exec_driver *d = NULL;
	int rc = 0;
	out->ops = NULL;
	out->self = NULL;
	if (!conf->command || conf->ncommand == 0 || !conf->command[0] || !conf->command[0][0]) {
		rc = fl_error_set(err, FL_EINPUT, "driver 'exec' needs a command");
		goto out;
	}
	unsigned timeout = DEFAULT_TIMEOUT_S;
	const struct fl_node *tn = conf->node ? fl_node_get(conf->node, "timeout") : NULL;
	if (tn && !(timeout = parse_timeout(tn))) {
		rc = fl_error_set_at(err, FL_EINPUT, NULL, tn->line, tn->col,
				     "invalid driver timeout (expected seconds or a duration like 30s, 5m "
				     "or 1h30m, at most 7d)");
		goto out;
	}
	/* Every template is checked once here, with a tenant of placeholders. */
	static const char *const no_regions[] = { "r" };
	struct fl_tenant probe;
	memset(&probe, 0, sizeof(probe));
	probe.name = "t";
	probe.account = "a";
	probe.regions = (const char **)no_regions;
	probe.nregions = 1;
	for (size_t i = 0; i < conf->ncommand; i++) {
		fl_buf_clear(&scratch);
		if (!conf->command[i]) {
			rc = fl_error_set(err, FL_EINPUT, "driver 'exec' has an empty command argument");
			goto out;
		}
		if ((rc = expand(&scratch, conf->command[i], &probe, "r", err)))
			goto out;
	}
	d = fl_calloc(1, sizeof(*d));
	d->command = fl_calloc(conf->ncommand + 1, sizeof(*d->command));
	for (size_t i = 0; i < conf->ncommand; i++)
		d->command[i] = fl_strdup(conf->command[i]);
	d->ncommand = conf->ncommand;
	/* Copied: the driver may outlive the fleet its configuration came from. */
	const char *const *drop = conf->drop_env ? conf->drop_env : fl_secret_env_own;
	size_t ndrop = 0;
	while (drop[ndrop])
		ndrop++;
	d->drop = fl_calloc(ndrop + 1, sizeof(*d->drop));
	for (size_t i = 0; i < ndrop; i++)
		d->drop[i] = fl_strdup(drop[i]);
	fl_env_list_pass(&d->pass, conf->pass_env, conf->npass_env);
	d->timeout_s = timeout;
	atomic_init(&d->no_marker, false);
	out->ops = &exec_ops;
	out->self = d;
out:
	fl_buf_release(&scratch);
	return rc;
}
