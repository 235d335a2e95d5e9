/*
 * Verify commands (SPEC 4): the commit's files exported once under the git
 * directory, and each run made exactly once through a wrapper process
 * (`flotilla __verify-exec`) that holds a lock, runs the command and leaves
 * a receipt; a flotilla killed and started again reads the receipt instead
 * of running the command a second time.
 */

#include "reconcile/rollout/verify.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/proc.h"
#include "reconcile/render/render.h"
#include "reconcile/fleet/secret_env.h"
#include "core/banned.h"

/*
 * A receipt is a file at <receipts>/<tenant>/<region>/<verify name> (the
 * name escaped by put_sanitized), written
 * atomically (fl_file_write_atomic) by the wrapper once the command ended:
 *
 *   flotilla-verify 1 <exit_code> <timed_out 0|1> <elapsed_ms> <finished unix time>\n
 *   <the command's output, raw bytes, at most FL_LEDGER_OUTPUT_MAX>
 *
 * Its existence means "this verify ran for this tenant, region and commit";
 * it is never rewritten. Beside it, <receipt>.lock serialises wrappers.
 */
#define RECEIPT_MAGIC "flotilla-verify"
#define RECEIPT_VERSION 1
#define RECEIPT_HEADER_MAX 128
#define RECEIPT_MAX (RECEIPT_HEADER_MAX + FL_LEDGER_OUTPUT_MAX)

/* How long the wrapper may outlast the command's own timeout before flotilla kills it. */
#define WRAPPER_GRACE_MS 30000u

#define EXEC_USAGE "usage: flotilla __verify-exec RECEIPT TIMEOUT_MS CWD -- COMMAND [ARG]..."

/* ---- receipts ---- */

static int receipt_format(struct fl_buf *out, int exit_code, bool timed_out, long long elapsed_ms,
			  long long finished, const char *output, size_t output_len)
{
	if (output_len > FL_LEDGER_OUTPUT_MAX)
		output_len = FL_LEDGER_OUTPUT_MAX;
	int rc = fl_buf_printf(out, "%s %d %d %d %lld %lld\n", RECEIPT_MAGIC, RECEIPT_VERSION, exit_code,
			       timed_out ? 1 : 0, elapsed_ms, finished);
	if (!rc)
		rc = fl_buf_put(out, output, output_len);
	return rc;
}

/* Fills rec's results from a receipt's bytes; its output is copied into output. */
static int receipt_parse(struct fl_verify_record *rec, struct fl_buf *output, const struct fl_buf *data,
			 const char *path, struct fl_error *err)
{
	int version = 0, exit_code = 0, timed_out = 0, used = 0, rc = 0;
	long long elapsed_ms = 0, finished = 0;
	const char *nl = memchr(data->ptr, '\n', data->len);

	/* %n must land exactly on the newline: no field may spill onto the output. */
	if (!nl ||
	    sscanf(data->ptr, RECEIPT_MAGIC " %d %d %d %lld %lld%n", &version, &exit_code, &timed_out,
		   &elapsed_ms, &finished, &used) != 5 ||
	    data->ptr + used != nl || version != RECEIPT_VERSION || (timed_out != 0 && timed_out != 1)) {
		rc = fl_error_set(err, FL_EIO, "'%s' is not a verify receipt", path);
		goto out;
	}
	size_t off = (size_t)(nl + 1 - data->ptr), len = data->len - off;
	if (len > FL_LEDGER_OUTPUT_MAX)
		len = FL_LEDGER_OUTPUT_MAX;
	fl_buf_clear(output);
	rc = fl_buf_put(output, data->ptr + off, len);
	if (rc) {
		rc = fl_error_set(err, rc, "cannot keep the output of '%s'", path);
		goto out;
	}
	rec->exit_code = exit_code;
	rec->timed_out = timed_out == 1;
	rec->elapsed_ms = elapsed_ms;
	rec->time = finished;
	rec->output = output->ptr;
	rec->output_len = output->len;
out:
	return rc;
}

/* Reads the receipt at path into rec; FL_ENOTFOUND (err untouched) when there is none yet. */
static int receipt_read(struct fl_verify_record *rec, struct fl_buf *output, const char *path,
			struct fl_error *err)
{
	struct fl_buf data;
	struct fl_error read_err = FL_ERROR_INIT;
	int rc;

	fl_buf_init(&data, RECEIPT_MAX);
	rc = fl_file_read(&data, path, &read_err);
	if (rc == FL_ENOTFOUND)
		goto out;
	if (rc) {
		*err = read_err;
		goto out;
	}
	rc = receipt_parse(rec, output, &data, path, err);
out:
	fl_buf_release(&data);
	return rc;
}

/*
 * A verify name as one path component, one-to-one so that two names never
 * share a receipt: [A-Za-z0-9-] stay, every other byte becomes _XX (hex).
 * The result never holds a '.', so it cannot be ".", "..", nor look like
 * the wrapper's "<receipt>.lock" or fl_file_write_atomic's temporary files.
 */
static int put_sanitized(struct fl_buf *out, const char *name)
{
	int rc = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p && !rc; p++) {
		unsigned char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
			rc = fl_buf_putc(out, (char)c);
		else
			rc = fl_buf_printf(out, "_%02x", c);
	}
	if (!rc && !*name)
		rc = fl_buf_putc(out, '_'); /* no escape is a lone '_' */
	return rc;
}

/* ---- running a verify ---- */

/* Milliseconds as flotilla and the wrapper wait for them: 0 stays 0 (no timeout). */
static unsigned timeout_ms(unsigned seconds, unsigned extra_ms)
{
	unsigned long long ms = (unsigned long long)seconds * 1000u;
	if (seconds == 0)
		return 0;
	if (ms > UINT_MAX - extra_ms)
		return UINT_MAX;
	return (unsigned)ms + extra_ms;
}

/* The last part of a wrapper's output, on one line, for an error message. */
static void put_wrapper_output(struct fl_buf *msg, const struct fl_buf *output)
{
	size_t len = output->len;
	while (len && (output->ptr[len - 1] == '\n' || output->ptr[len - 1] == ' '))
		len--;
	if (len == 0) {
		fl_buf_puts(msg, "no output");
		return;
	}
	for (size_t i = 0; i < len; i++)
		fl_buf_putc(msg, output->ptr[i] == '\n' ? ' ' : output->ptr[i]);
}

static void receipt_path(struct fl_buf *out, const struct fl_verify_ctx *ctx, const struct fl_tenant *tenant,
			 const char *region, const struct fl_verify *verify)
{
	fl_buf_printf(out, "%s/%s/%s/", ctx->receipts, tenant->name, region);
	put_sanitized(out, verify->name);
}

void fl_verify_forget(const struct fl_verify_ctx *ctx, struct fl_ledger *ledger, const struct fl_tenant *tenant,
		      const char *region, const struct fl_verify *verify)
{
	struct fl_buf path = FL_BUF_INIT;
	receipt_path(&path, ctx, tenant, region, verify);
	fl_ledger_unlink_after_save(ledger, path.ptr);
	fl_buf_release(&path);
}

int fl_verify_run(struct fl_verify_record *rec, struct fl_buf *output, const struct fl_verify_ctx *ctx,
		  const struct fl_tenant *tenant, const char *region, const struct fl_verify *verify,
		  struct fl_error *err)
{
	struct fl_buf receipt = FL_BUF_INIT, arg = FL_BUF_INIT, wrapper_out = FL_BUF_INIT, msg = FL_BUF_INIT;
	struct fl_env_list env = { 0 };
	char **rendered = NULL;
	const char **argv = NULL;
	char timeout[32];
	struct fl_proc_result res;
	int rc = 0;

	assert(ctx->self_exe && ctx->receipts && ctx->fleet);
	memset(rec, 0, sizeof(*rec));
	memset(&res, 0, sizeof(res));
	fl_buf_clear(output);

	receipt_path(&receipt, ctx, tenant, region, verify);
	rc = receipt_read(rec, output, receipt.ptr, err);
	if (rc != FL_ENOTFOUND)
		goto out; /* recalled, or a broken receipt */
	rc = 0;
	if (verify->argc == 0) {
		rc = fl_error_set(err, FL_EINPUT, "verify '%s' has no command", verify->name);
		goto out;
	}

	rendered = fl_calloc(verify->argc, sizeof(*rendered));
	for (size_t i = 0; i < verify->argc; i++) {
		rc = fl_render_string(&arg, ctx->fleet, tenant, region, verify->argv[i], err);
		if (rc) {
			fl_error_prefix(err, "verify '%s': ", verify->name);
			goto out;
		}
		rendered[i] = fl_strndup(arg.ptr, arg.len);
	}

	/* argv: self __verify-exec RECEIPT TIMEOUT_MS CWD -- COMMAND... NULL */
	snprintf(timeout, sizeof(timeout), "%u", timeout_ms(verify->timeout_s, 0));
	argv = fl_calloc(verify->argc + 7, sizeof(*argv));
	argv[0] = ctx->self_exe;
	argv[1] = "__verify-exec";
	argv[2] = receipt.ptr;
	argv[3] = timeout;
	argv[4] = ctx->workdir ? ctx->workdir : "";
	argv[5] = "--";
	for (size_t i = 0; i < verify->argc; i++)
		argv[6 + i] = rendered[i];

	/*
	 * The wrapper passes its environment on unchanged, so secrets are
	 * dropped here; what the verify entry hands on by pass_env goes back in.
	 */
	fl_env_list_pass(&env, verify->pass_env, verify->npass_env);
	fl_env_list_add(&env, "FLOTILLA_TENANT", tenant->name);
	fl_env_list_add(&env, "FLOTILLA_ACCOUNT", tenant->account ? tenant->account : "");
	fl_env_list_add(&env, "FLOTILLA_REGION", region);
	fl_env_list_add(&env, "FLOTILLA_REVISION", ctx->fleet->revision);
	fl_env_list_add(&env, "FLOTILLA_WAVE", ctx->wave ? ctx->wave->name : "");

	struct fl_proc_opts opts = {
		.argv = argv,
		.env = fl_env_list_entries(&env),
		.unset = ctx->fleet->secret_env ? ctx->fleet->secret_env : fl_secret_env_own,
		.cwd = NULL,
		/* A safety net only: the wrapper enforces the command's own timeout. */
		.timeout_ms = timeout_ms(verify->timeout_s, WRAPPER_GRACE_MS),
		.max_output = FL_LEDGER_OUTPUT_MAX,
		/* The wrapper must outlive a killed flotilla so that its receipt gets written. */
		.die_with_parent = false,
	};
	rc = fl_proc_run(&res, &wrapper_out, &opts, err);
	if (rc) {
		fl_error_prefix(err, "verify '%s': cannot start the wrapper: ", verify->name);
		goto out;
	}

	rc = receipt_read(rec, output, receipt.ptr, err);
	if (rc == FL_ENOTFOUND) {
		put_wrapper_output(&msg, &wrapper_out);
		rc = fl_error_set(err, FL_EIO,
				  "verify '%s': the wrapper %s with code %d without writing '%s': %s",
				  verify->name, res.timed_out ? "timed out and was killed" : "exited",
				  res.exit_code, receipt.ptr, msg.ptr);
	}
out:
	/* The record names the verify whatever happened; the results are read from the receipt. */
	rec->name = verify->name;
	rec->region = region;
	for (size_t i = 0; rendered && i < verify->argc; i++)
		free(rendered[i]);
	free(rendered);
	free(argv);
	fl_env_list_release(&env);
	fl_buf_release(&receipt);
	fl_buf_release(&arg);
	fl_buf_release(&wrapper_out);
	fl_buf_release(&msg);
	return rc;
}

/* ---- the wrapper ---- */

static bool parse_ms(unsigned *out, const char *s)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *s == '-' || *end || errno || v > UINT_MAX)
		return false;
	*out = (unsigned)v;
	return true;
}

static int io_error(struct fl_error *err, const char *what, const char *path)
{
	return fl_error_set(err, FL_EIO, "%s '%s': %s", what, path, strerror(errno));
}

/* The wrapper without its printing: 0 when the receipt exists afterwards. */
static int verify_exec(int argc, char **argv, struct fl_error *err)
{
	struct fl_buf dir = FL_BUF_INIT, lock_path = FL_BUF_INIT, output = FL_BUF_INIT,
		      receipt_data = FL_BUF_INIT;
	struct fl_error run_err = FL_ERROR_INIT;
	struct fl_proc_result res;
	unsigned timeout = 0;
	int fd = -1, rc = 0;

	memset(&res, 0, sizeof(res));
	if (argc < 6 || !argv[1][0] || !parse_ms(&timeout, argv[2]) || strcmp(argv[4], "--") != 0) {
		rc = fl_error_set(err, FL_EUSAGE, EXEC_USAGE);
		goto out;
	}
	const char *receipt = argv[1], *cwd = argv[3];

	const char *slash = strrchr(receipt, '/');
	if (slash && slash != receipt) {
		fl_buf_put(&dir, receipt, (size_t)(slash - receipt));
		rc = fl_mkdir_p(dir.ptr, err);
		if (rc)
			goto out;
	}
	fl_buf_printf(&lock_path, "%s.lock", receipt);
	/* Blocking: a wrapper already running for this receipt (maybe orphaned) finishes first. */
	if ((rc = fl_file_lock(&fd, lock_path.ptr, err)))
		goto out;
	if (access(receipt, F_OK) == 0)
		goto out; /* it ran already */

	struct fl_proc_opts opts = {
		.argv = (const char *const *)(argv + 5),
		.env = NULL,
		.cwd = cwd[0] ? cwd : NULL,
		.timeout_ms = timeout,
		.max_output = FL_LEDGER_OUTPUT_MAX,
		/* The command dies only if this wrapper dies. */
		.die_with_parent = true,
	};
	if (fl_proc_run(&res, &output, &opts, &run_err)) {
		/* Recorded like a shell would: 127, with the reason as the output. */
		res.exit_code = 127;
		res.timed_out = false;
		fl_buf_clear(&output);
		fl_buf_printf(&output, "%s\n", run_err.msg[0] ? run_err.msg : fl_errno_message(run_err.code));
	}
	receipt_format(&receipt_data, res.exit_code, res.timed_out, res.elapsed_ms, fl_now(), output.ptr,
		       output.len);
	rc = fl_file_write_atomic(receipt, receipt_data.ptr, receipt_data.len, err);
out:
	fl_file_unlock(fd); /* after the receipt is in place */
	fl_buf_release(&dir);
	fl_buf_release(&lock_path);
	fl_buf_release(&output);
	fl_buf_release(&receipt_data);
	return rc;
}

/*
 * The body of a process of its own, not of the engine: the one place in
 * reconcile/ that prints, because its caller (fl_verify_run) reads what it
 * prints as the reason when no receipt appears.
 */
int fl_verify_exec_main(int argc, char **argv)
{
	struct fl_error err = FL_ERROR_INIT;
	int rc = verify_exec(argc, argv, &err);
	if (rc) {
		struct fl_buf msg = FL_BUF_INIT;
		fl_error_format(&msg, &err);
		fprintf(stderr, "flotilla __verify-exec: %s", msg.ptr);
		fl_buf_release(&msg);
	}
	return rc ? 1 : 0;
}

/* ---- the commit's files ---- */

/* Removes path and everything under it, as far as it can (for cleanup only). */
static void remove_tree(const char *path)
{
	struct fl_buf child = FL_BUF_INIT;
	DIR *d = opendir(path);
	struct dirent *e;
	struct stat st;

	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		fl_buf_clear(&child);
		fl_buf_printf(&child, "%s/%s", path, e->d_name);
		if (lstat(child.ptr, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(child.ptr);
		else
			unlink(child.ptr);
	}
	if (d)
		closedir(d);
	rmdir(path);
	fl_buf_release(&child);
}

int fl_verify_workdir(char **out, struct fl_repo *repo, const struct fl_oid *commit, struct fl_error *err)
{
	struct fl_buf path = FL_BUF_INIT, tmp = FL_BUF_INIT;
	char hex[FL_OID_HEX_LEN + 1];
	bool made_tmp = false;
	struct stat st;
	int rc = 0;

	*out = NULL;
	fl_oid_hex(hex, commit);
	fl_buf_printf(&path, "%s/flotilla/trees", fl_repo_gitdir(repo));
	rc = fl_mkdir_p(path.ptr, err);
	if (rc)
		goto out;
	fl_buf_printf(&path, "/%s", hex);
	/* It only ever appears whole, by rename: existing means complete. */
	if (stat(path.ptr, &st) == 0 && S_ISDIR(st.st_mode))
		goto out;

	fl_buf_printf(&tmp, "%s.tmp.%ld.XXXXXX", path.ptr, (long)getpid());
	if (!mkdtemp(tmp.ptr)) {
		rc = io_error(err, "cannot create directory", tmp.ptr);
		goto out;
	}
	made_tmp = true;
	rc = fl_repo_export_tree(repo, commit, tmp.ptr, err);
	if (rc)
		goto out;
	if (rename(tmp.ptr, path.ptr) == 0)
		made_tmp = false;
	else if (errno != EEXIST && errno != ENOTEMPTY)
		rc = io_error(err, "cannot rename into", path.ptr);
	/* else another process won the race: its copy is as good as ours. */
out:
	if (made_tmp)
		remove_tree(tmp.ptr);
	if (!rc)
		*out = fl_buf_detach(&path, NULL);
	fl_buf_release(&path);
	fl_buf_release(&tmp);
	return rc;
}
