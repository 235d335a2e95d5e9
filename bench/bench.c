/*
 * flbench, the benchmark of docs/benchmarks.md. `gen` writes a fleet of N
 * tenants x M resources as a git repository (through git fast-import) and
 * two sets of dir-driver accounts, converged at its commits `old` and `new`;
 * `run` times the real flotilla binary on three plans of that fleet (wall
 * time and peak RSS of each child process); `report` compares the figures
 * of two fleet sizes for the scaling targets.
 */
#define _DEFAULT_SOURCE 1 /* wait4() and struct rusage; CMake sets only _POSIX_C_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "core/hash.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "reconcile/plan/plan.h"
#include "reconcile/render/render.h"
#include "core/banned.h"

#define PARAMS_FILE "params"
#define PARAMS_FORMAT 1          /* bump when gen writes a different fleet for the same N and M */
#define DOCS_PER_FILE 5          /* resource templates per release file */
#define ONE_TENANT_SEATS 777     /* the var the `one` commit changes */
#define MIB (1024.0 * 1024.0)

/*
 * Benchmark accounts are scratch data: the dir driver's fsync (two per
 * write) would make writing 100,000 accounts take minutes on a disk that
 * syncs in half a millisecond. This definition replaces libc's for the
 * library code linked into flbench only; flotilla itself is untouched.
 */
int fsync(int fd)
{
	(void)fd;
	return 0;
}

/* ---- options ---- */

enum bopt_kind { BOPT_STR, BOPT_ULONG };

struct bopt {
	const char *name;        /* without "--" */
	enum bopt_kind kind;
	void *target;            /* const char ** or unsigned long * */
};

static int bopt_set(const struct bopt *o, const char *value)
{
	if (o->kind == BOPT_STR) {
		*(const char **)o->target = value;
		return 0;
	}
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(value, &end, 10);
	if (errno || !*value || *end || value[0] == '-') {
		fprintf(stderr, "flbench: --%s expects a number, got '%s'\n", o->name, value);
		return -1;
	}
	*(unsigned long *)o->target = v;
	return 0;
}

/* Parses --name VALUE and --name=VALUE from argv[1..]; -1 (reported) on a bad command line. */
static int bopt_parse(const struct bopt *opts, size_t nopts, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct bopt *o = NULL;
		for (size_t k = 0; k < nopts && !o; k++)
			if (arg[0] == '-' && arg[1] == '-' && strlen(opts[k].name) == len - 2 &&
			    memcmp(arg + 2, opts[k].name, len - 2) == 0)
				o = &opts[k];
		if (!o) {
			fprintf(stderr, "flbench %s: unknown option '%s'\n", argv[0], arg);
			return -1;
		}
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!value) {
			fprintf(stderr, "flbench %s: --%s needs a value\n", argv[0], o->name);
			return -1;
		}
		if (bopt_set(o, value))
			return -1;
	}
	return 0;
}

/* ---- processes ---- */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Starts argv[0] (searched in PATH when it has no '/') with stdin from in_fd and stdout to out_fd (-1: inherited). */
static int spawn(pid_t *out, const char *const argv[], int in_fd, int out_fd)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "flbench: cannot fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if ((in_fd >= 0 && dup2(in_fd, STDIN_FILENO) < 0) || (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0))
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "flbench: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	*out = pid;
	return 0;
}

/* Waits for pid; *status is its exit code (128 + signal when killed). */
static int wait_child(pid_t pid, int *status, struct rusage *ru)
{
	int ws = 0;
	struct rusage ignored;
	while (wait4(pid, &ws, 0, ru ? ru : &ignored) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "flbench: wait for %ld failed: %s\n", (long)pid, strerror(errno));
			return -1;
		}
	}
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
	return 0;
}

/* Runs argv to completion; -1 unless it exits 0. */
static int run_cmd(const char *const argv[])
{
	pid_t pid;
	int status = 0;
	if (spawn(&pid, argv, -1, -1) || wait_child(pid, &status, NULL))
		return -1;
	if (status != 0) {
		fprintf(stderr, "flbench: '%s %s' exited with %d\n", argv[0], argv[1], status);
		return -1;
	}
	return 0;
}

/* ---- the fleet's files ---- */

static const char *const bench_regions[] = { "us-east-1", "eu-west-1", "us-west-2", "eu-central-1",
					     "ap-southeast-2" };
static const char *const bench_services[] = { "api", "portal", "reports" };
#define NREGIONS (sizeof(bench_regions) / sizeof(bench_regions[0]))

static const char fleet_yaml[] =
	"# flbench: a generated fleet.\n"
	"version: 1\n"
	"name: bench\n"
	"vars:\n"
	"  display_name: { type: string, required: true }\n"
	"  brand_color:  { type: string, pattern: \"^#[0-9a-fA-F]{6}$\", default: \"#1f6feb\" }\n"
	"  seats:        { type: integer, min: 1, default: 10 }\n"
	"services: [api, portal, reports]\n"
	"waves:\n"
	"  - name: canary\n"
	"    select: { canary: true }\n"
	"    max_parallel: 1\n"
	"    failure_tolerance: 0\n"
	"    bake: 15m\n"
	"  - name: early\n"
	"    select: { labels: { ring: early } }\n"
	"    max_parallel: 25%\n"
	"    failure_tolerance: 1\n"
	"    gate: manual\n"
	"  - name: fleet\n"
	"    select: rest\n"
	"    max_parallel: 50\n"
	"    failure_tolerance: 2%\n"
	"prune: false\n"
	"guard: { max_delete_percent: 10 }\n"
	"driver: { type: dir, root: accounts }\n"
	"status:\n"
	"  - { type: git-notes }\n";

/*
 * Tenant i (1-based): 1% canary, 10% in the early ring, 20% in two regions,
 * 80% subscribed to every service; seats 0 keeps the generated value.
 */
static int tenant_yaml(struct fl_buf *b, unsigned long i, unsigned long seats)
{
	unsigned long r = (i / 3) % NREGIONS;
	unsigned long long account = 100000000000ULL + i;
	int rc;
	fl_buf_clear(b);
	if ((rc = fl_buf_printf(b, "name: t%06lu\naccount: \"%012llu\"\nregions: [%s", i, account,
				bench_regions[r])) ||
	    (i % 5 == 1 && (rc = fl_buf_printf(b, ", %s", bench_regions[(r + 1) % NREGIONS]))) ||
	    (rc = fl_buf_puts(b, "]\n")) || (i % 100 == 1 && (rc = fl_buf_puts(b, "canary: true\n"))) ||
	    (rc = fl_buf_printf(b, "labels: { %ssize: %s }\n", i % 10 == 3 ? "ring: early, " : "",
				i % 4 == 0 ? "large" : "small")) ||
	    (rc = fl_buf_puts(b, i % 10 == 7 ? "services: [api, portal]\n"
				: i % 10 == 9 ? "services: [api]\n" : "services: [api, portal, reports]\n")) ||
	    (rc = fl_buf_printf(b, "vars: { display_name: \"Tenant %06lu Health\"", i)))
		return rc;
	if (seats == 0 && i % 3 == 0)
		seats = 5 + i % 500;
	if ((seats && (rc = fl_buf_printf(b, ", seats: %lu", seats))) ||
	    (i % 2 == 0 && (rc = fl_buf_printf(b, ", brand_color: \"#%06lx\"", (i * 2654435761UL) & 0xffffff))))
		return rc;
	return fl_buf_puts(b, " }\n");
}

/* A long-running service: 8 substitutions. */
static int tpl_service(struct fl_buf *b, const char *name, const char *tag, int release)
{
	return fl_buf_printf(b,
		"spec:\n"
		"  image: \"registry.example/%s:%s\"\n"
		"  release: \"v%d\"\n"
		"  replicas: 2\n"
		"  seats: \"{{vars.seats}}\"\n"
		"  env:\n"
		"    TENANT: \"{{tenant.name}}\"\n"
		"    ACCOUNT: \"{{tenant.account}}\"\n"
		"    REGION: \"{{region}}\"\n"
		"    TITLE: \"{{vars.display_name}}\"\n"
		"    DATABASE_URL: \"postgres://{{tenant.name}}@db.{{region}}.internal:5432/app\"\n"
		"  resources: { cpu: 500m, memory: 512Mi }\n"
		"  labels: { app: %s, tier: backend, color: \"{{vars.brand_color}}\" }\n",
		name, tag, release, name);
}

/* A scheduled job: 7 substitutions. */
static int tpl_job(struct fl_buf *b, const char *name, const char *tag, int release, unsigned long j)
{
	return fl_buf_printf(b,
		"spec:\n"
		"  image: \"registry.example/%s:%s\"\n"
		"  release: \"v%d\"\n"
		"  schedule: \"%lu 2 * * *\"\n"
		"  args: [--tenant, \"{{tenant.name}}\", --account, \"{{tenant.account}}\", --region, \"{{region}}\"]\n"
		"  output: \"s3://{{tenant.name}}-reports-{{region}}/%s/\"\n"
		"  title: \"{{vars.display_name}}\"\n"
		"  timeout_s: 3600\n",
		name, tag, release, j % 60, name);
}

/* A storage bucket with its agent: 8 substitutions. */
static int tpl_bucket(struct fl_buf *b, const char *name, const char *tag, int release)
{
	return fl_buf_printf(b,
		"spec:\n"
		"  image: \"registry.example/bucket-agent:%s\"\n"
		"  release: \"v%d\"\n"
		"  bucket: \"{{tenant.name}}-%s-{{region}}\"\n"
		"  versioning: true\n"
		"  retention_days: 30\n"
		"  quota_gb: \"{{vars.seats}}\"\n"
		"  tags: { tenant: \"{{tenant.name}}\", account: \"{{tenant.account}}\",\n"
		"          title: \"{{vars.display_name}}\", region: \"{{region}}\" }\n",
		tag, release, name);
}

/* Resource template j (0-based) of release v<release>: one YAML document. */
static int template_yaml(struct fl_buf *b, unsigned long j, int release)
{
	static const char *const kinds[] = { "service", "service", "job", "bucket" };
	const char *svc = j % 10 == 0 ? NULL : bench_services[j % 3];
	const char *kind = kinds[j % 4];
	const char *tag = release == 1 ? "1.0.0" : "2.0.0";
	char name[64];
	int rc;
	snprintf(name, sizeof(name), "%s-%03lu", svc ? svc : "base", j);
	if ((rc = fl_buf_printf(b, "---\nkind: %s\nname: %s\n", kind, name)) ||
	    (svc && (rc = fl_buf_printf(b, "service: %s\n", svc))))
		return rc;
	if (j % 4 == 2)
		return tpl_job(b, name, tag, release, j);
	if (j % 4 == 3)
		return tpl_bucket(b, name, tag, release);
	return tpl_service(b, name, tag, release);
}

static int path_join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	if (n < 0 || n >= PATH_MAX) {
		fprintf(stderr, "flbench: path too long: '%s/%s'\n", dir, name);
		return -1;
	}
	return 0;
}

/* ---- the git repository, through fast-import ---- */

/*
 * fast-import finds a path in a tree by a linear search, so 100,000 files in
 * tenants/ would cost it O(n^2). Instead the manifests go in as bare blobs
 * (pass 1), `git mktree` makes the tenants/ tree of their ids (pass 2), and
 * the commits name that tree whole (pass 3).
 */

/* A child process that reads what we write: f is its standard input. */
struct feeder {
	pid_t pid;
	FILE *f;
	int out;      /* the read end of its standard output when captured, else -1 */
};

static int pipe_cloexec(int fds[2])
{
	if (pipe(fds) < 0) {
		fprintf(stderr, "flbench: pipe: %s\n", strerror(errno));
		return -1;
	}
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

static int feeder_start(struct feeder *fe, const char *const argv[], bool capture)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, rc = -1;
	fe->pid = -1;
	fe->f = NULL;
	fe->out = -1;
	if (pipe_cloexec(in) || (capture && pipe_cloexec(out)) || spawn(&fe->pid, argv, in[0], out[1]))
		goto out;
	if (!(fe->f = fdopen(in[1], "w"))) {
		fprintf(stderr, "flbench: fdopen: %s\n", strerror(errno));
		goto out;
	}
	in[1] = -1;
	fe->out = out[0];
	out[0] = -1;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return rc;
}

/* Ends the input, reads up to cap - 1 bytes of output into out (if captured), and waits: -1 unless all went well. */
static int feeder_finish(struct feeder *fe, bool ok, char *out, size_t cap)
{
	size_t len = 0;
	int status = 0;
	if (fe->f) {
		ok = ok && !ferror(fe->f);
		ok = fclose(fe->f) == 0 && ok;
		fe->f = NULL;
	}
	while (fe->out >= 0 && len + 1 < cap) {
		ssize_t n = read(fe->out, out + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (out)
		out[len] = '\0';
	if (fe->out >= 0)
		close(fe->out);
	fe->out = -1;
	if (fe->pid > 0 && (wait_child(fe->pid, &status, NULL) || status != 0)) {
		fprintf(stderr, "flbench: a git child process exited with %d\n", status);
		ok = false;
	}
	fe->pid = -1;
	return ok ? 0 : -1;
}

struct fi {
	FILE *f;
	struct fl_buf text;   /* the file being written */
	unsigned long tenants, resources;
	char (*ids)[FL_OID_HEX_LEN + 1];  /* blob ids of manifests 1..tenants, then of the changed one */
	char tree[FL_OID_HEX_LEN + 1];    /* tenants/ at old and new */
};

static void fi_data(struct fi *fi)
{
	fprintf(fi->f, "data %zu\n", fi->text.len);
	fwrite(fi->text.ptr, 1, fi->text.len, fi->f);
	fputc('\n', fi->f);
}

static void fi_file(struct fi *fi, const char *path)
{
	fprintf(fi->f, "M 100644 inline %s\n", path);
	fi_data(fi);
}

static void fi_commit(struct fi *fi, const char *ref, int mark, int from, const char *msg)
{
	fprintf(fi->f, "commit %s\nmark :%d\ncommitter flbench <flbench@localhost> %d +0000\ndata %zu\n%s\n",
		ref, mark, 1700000000 + 100 * mark, strlen(msg), msg);
	if (from)
		fprintf(fi->f, "from :%d\n", from);
}

static int fi_release(struct fi *fi, int release)
{
	char path[64];
	for (unsigned long j = 0; j < fi->resources; j += DOCS_PER_FILE) {
		fl_buf_clear(&fi->text);
		for (unsigned long k = j; k < j + DOCS_PER_FILE && k < fi->resources; k++) {
			int rc = template_yaml(&fi->text, k, release);
			if (rc)
				return rc;
		}
		snprintf(path, sizeof(path), "release/r%03lu.yaml", j / DOCS_PER_FILE);
		fi_file(fi, path);
	}
	return 0;
}

/* The tenant whose manifest the `one` commit changes: in the fleet wave, mid-way. */
static unsigned long one_tenant(unsigned long tenants)
{
	unsigned long i = tenants / 2;
	while (i > 1 && (i % 100 == 1 || i % 10 == 3))
		i--;
	return i < 1 ? 1 : i;
}

/* Pass 1: manifest i as blob mark :i, and the changed one as :tenants+1. */
static int fi_blobs(struct fi *fi)
{
	for (unsigned long i = 1; i <= fi->tenants + 1; i++) {
		bool changed = i > fi->tenants;
		int rc = tenant_yaml(&fi->text, changed ? one_tenant(fi->tenants) : i, changed ? ONE_TENANT_SEATS : 0);
		if (rc)
			return rc;
		fprintf(fi->f, "blob\nmark :%lu\n", i);
		fi_data(fi);
	}
	return 0;
}

/* Reads the ":mark id" lines of an exported marks file into fi->ids. */
static int read_marks(struct fi *fi, const char *path)
{
	unsigned long mark, found = 0;
	char id[FL_OID_HEX_LEN + 1];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "flbench: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	while (fscanf(f, ":%lu %40s\n", &mark, id) == 2) {
		if (mark < 1 || mark > fi->tenants + 1 || strlen(id) != FL_OID_HEX_LEN)
			break;
		memcpy(fi->ids[mark - 1], id, sizeof(id));
		found++;
	}
	fclose(f);
	if (found != fi->tenants + 1) {
		fprintf(stderr, "flbench: '%s' holds %lu marks, expected %lu\n", path, found, fi->tenants + 1);
		return -1;
	}
	return 0;
}

/* Pass 2: the tenants/ tree, through git mktree. */
static int make_tenants_tree(struct fi *fi, const char *repo)
{
	const char *argv[] = { "git", "-C", repo, "mktree", NULL };
	struct feeder fe;
	char out[128];
	if (feeder_start(&fe, argv, true))
		return feeder_finish(&fe, false, NULL, 0);
	for (unsigned long i = 1; i <= fi->tenants; i++)
		fprintf(fe.f, "100644 blob %s\tt%06lu.yaml\n", fi->ids[i - 1], i);
	if (feeder_finish(&fe, true, out, sizeof(out)))
		return -1;
	if (strlen(out) != FL_OID_HEX_LEN + 1 || out[FL_OID_HEX_LEN] != '\n') {
		fprintf(stderr, "flbench: git mktree answered '%s'\n", out);
		return -1;
	}
	memcpy(fi->tree, out, FL_OID_HEX_LEN);
	fi->tree[FL_OID_HEX_LEN] = '\0';
	return 0;
}

/* Pass 3: commit old (release v1), new (release v2) and one-tenant (one manifest changed). */
static int fi_commits(struct fi *fi)
{
	int rc = 0;
	fi_commit(fi, "refs/heads/main", 1, 0, "old: release v1");
	fl_buf_clear(&fi->text);
	if ((rc = fl_buf_puts(&fi->text, fleet_yaml)))
		return rc;
	fi_file(fi, "fleet.yaml");
	if ((rc = fi_release(fi, 1)))
		return rc;
	fprintf(fi->f, "M 040000 %s tenants\n", fi->tree);
	fi_commit(fi, "refs/heads/main", 2, 1, "new: release v2 (every image and release field)");
	if ((rc = fi_release(fi, 2)))
		return rc;
	fi_commit(fi, "refs/heads/one-tenant", 3, 2, "one: change one tenant's seats");
	fprintf(fi->f, "M 100644 %s tenants/t%06lu.yaml\n", fi->ids[fi->tenants], one_tenant(fi->tenants));
	fprintf(fi->f, "reset refs/tags/old\nfrom :1\n\nreset refs/tags/new\nfrom :2\n\n"
		"reset refs/tags/one\nfrom :3\n\n");
	return 0;
}

/* Runs git fast-import on repo with what write streams into it. */
static int fast_import(struct fi *fi, const char *repo, const char *marks, int (*write)(struct fi *))
{
	char arg[PATH_MAX + 32];
	const char *argv[] = { "git", "-C", repo, "fast-import", "--quiet", marks ? arg : NULL, NULL };
	struct feeder fe;
	if (marks)
		snprintf(arg, sizeof(arg), "--export-marks=%s", marks);
	if (feeder_start(&fe, argv, false))
		return feeder_finish(&fe, false, NULL, 0);
	fi->f = fe.f;
	int rc = write(fi);
	fi->f = NULL;
	return feeder_finish(&fe, rc == 0, NULL, 0);
}

static int gen_repo(const char *dir, const char *repo, unsigned long tenants, unsigned long resources)
{
	const char *init_argv[] = { "git", "init", "--quiet", "--bare", repo, NULL };
	const char *head_argv[] = { "git", "-C", repo, "symbolic-ref", "HEAD", "refs/heads/main", NULL };
	struct fi fi = { NULL, FL_BUF_INIT, tenants, resources, NULL, { 0 } };
	char marks[PATH_MAX];
	int rc = -1;
	if (path_join(marks, dir, "marks") || run_cmd(init_argv))
		goto out;
	fi.ids = fl_calloc(tenants + 1, sizeof(*fi.ids));
	if (fast_import(&fi, repo, marks, fi_blobs) || read_marks(&fi, marks) || make_tenants_tree(&fi, repo) ||
	    fast_import(&fi, repo, NULL, fi_commits) || run_cmd(head_argv))
		goto out;
	rc = 0;
out:
	unlink(marks);
	free(fi.ids);
	fl_buf_release(&fi.text);
	return rc;
}

/* ---- accounts, through the library ---- */

/*
 * The tenant fingerprint exactly as reconcile/plan/plan.c computes it (plan_region
 * and plan_desired): for each region in order, the region's name, then each
 * rendered resource's kind, name and fingerprint. Replicated here, not
 * shared: plan.c keeps it private. Keep the two in step.
 */
static void tenant_fp(struct fl_fp *out, const struct fl_tenant *t, const struct fl_render *renders)
{
	struct fl_hasher h;
	fl_hasher_init(&h);
	for (size_t r = 0; r < t->nregions; r++) {
		fl_hasher_update_field(&h, t->regions[r], strlen(t->regions[r]));
		for (size_t i = 0; i < renders[r].len; i++) {
			const struct fl_rendered *item = &renders[r].items[i];
			fl_hasher_update_field(&h, item->tpl->kind, strlen(item->tpl->kind));
			fl_hasher_update_field(&h, item->tpl->name, strlen(item->tpl->name));
			fl_hasher_update(&h, item->fp.b, sizeof(item->fp.b));
		}
	}
	fl_hasher_final(out, &h);
	fl_hasher_release(&h);
}

/* One thread's reusable storage. */
struct acct_scratch {
	struct fl_render *renders;     /* one per region */
	size_t nrenders;
	struct fl_put_res *puts;
	size_t cap;
};

static void scratch_release(struct acct_scratch *s)
{
	for (size_t i = 0; i < s->nrenders; i++)
		fl_render_release_buf(&s->renders[i]);
	free(s->renders);
	free(s->puts);
}

static void scratch_regions(struct acct_scratch *s, size_t n)
{
	if (n <= s->nrenders)
		return;
	s->renders = fl_reallocarray(s->renders, n, sizeof(*s->renders));
	for (size_t i = s->nrenders; i < n; i++)
		fl_render_init(&s->renders[i]);
	s->nrenders = n;
}

static int apply_region(struct acct_scratch *s, struct fl_driver *d, const struct fl_tenant *t,
			size_t r, const struct fl_marker *m, struct fl_error *err)
{
	const struct fl_render *rd = &s->renders[r];
	FL_GROW(s->puts, s->cap, rd->len + 1);
	for (size_t i = 0; i < rd->len; i++) {
		const struct fl_rendered *item = &rd->items[i];
		s->puts[i] = (struct fl_put_res){ item->tpl->kind, item->tpl->name, item->fp,
						  fl_rendered_json(rd, item), item->len, NULL };
	}
	struct fl_region_write w = { t->regions[r], s->puts, rd->len, NULL, 0, m, r + 1 < t->nregions };
	return d->ops->apply(d->self, t, &w, err);
}

/* Makes t's account hold exactly what fleet renders for it, marker included. */
static int converge_tenant(struct acct_scratch *s, const struct fl_fleet *fleet, struct fl_driver *d,
			   const struct fl_tenant *t, struct fl_error *err)
{
	struct fl_marker m;
	int rc = 0;
	memset(&m, 0, sizeof(m));
	scratch_regions(s, t->nregions);
	for (size_t r = 0; r < t->nregions && !rc; r++)
		rc = fl_render_tenant_region(&s->renders[r], fleet, t, t->regions[r], err);
	if (rc || (rc = d->ops->bootstrap(d->self, t, err)))
		goto out;
	memcpy(m.revision, fleet->revision, sizeof(m.revision));
	tenant_fp(&m.tenant_fp, t, s->renders);
	fl_inputs_fp(&m.inputs_fp, fleet, t);
	for (size_t r = 0; r < t->nregions && !rc; r++) {
		m.resources = s->renders[r].len;
		rc = apply_region(s, d, t, r, &m, err);
	}
out:
	if (rc)
		fl_error_prefix(err, "tenant '%s': ", t->name);
	return rc;
}

struct acct_run {
	const struct fl_fleet *fleet;
	struct fl_driver *driver;
	pthread_mutex_t lock;
	size_t next;          /* the next tenant to take */
	int rc;               /* the first failure */
	struct fl_error err;
};

#define ACCT_CHUNK 64

static void *acct_worker(void *arg)
{
	struct acct_run *run = arg;
	struct acct_scratch s = { NULL, 0, NULL, 0 };
	struct fl_error err = FL_ERROR_INIT;
	for (;;) {
		pthread_mutex_lock(&run->lock);
		size_t from = run->rc ? run->fleet->ntenants : run->next;
		run->next = from + ACCT_CHUNK;
		pthread_mutex_unlock(&run->lock);
		if (from >= run->fleet->ntenants)
			break;
		size_t to = from + ACCT_CHUNK < run->fleet->ntenants ? from + ACCT_CHUNK : run->fleet->ntenants;
		int rc = 0;
		for (size_t i = from; i < to && !rc; i++)
			rc = converge_tenant(&s, run->fleet, run->driver, &run->fleet->tenants[i], &err);
		if (rc) {
			pthread_mutex_lock(&run->lock);
			if (!run->rc) {
				run->rc = rc;
				run->err = err;
			}
			pthread_mutex_unlock(&run->lock);
		}
	}
	scratch_release(&s);
	return NULL;
}

static unsigned ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

static int converge_all(const struct fl_fleet *fleet, struct fl_driver *driver, struct fl_error *err)
{
	struct acct_run run = { fleet, driver, PTHREAD_MUTEX_INITIALIZER, 0, 0, FL_ERROR_INIT };
	unsigned n = ncpus(), started = 0;
	pthread_t *threads = fl_calloc(n, sizeof(*threads));
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&threads[i], NULL, acct_worker, &run) != 0)
			break;
		started++;
	}
	if (started == 0)
		acct_worker(&run);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	pthread_mutex_destroy(&run.lock);
	if (run.rc)
		*err = run.err;
	return run.rc;
}

static void print_diags(const struct fl_diags *diags, const struct fl_error *err)
{
	struct fl_buf out = FL_BUF_INIT;
	for (size_t i = 0; i < diags->len; i++)
		fl_error_format(&out, &diags->items[i]);
	if (diags->len == 0)
		fl_error_format(&out, err);
	fprintf(stderr, "%s", out.ptr);
	fl_buf_release(&out);
}

/* Writes dir/<accounts>: every account converged at rev of the repository. */
static int gen_accounts(struct fl_repo *repo, const char *rev, const char *root)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_diags diags = { NULL, 0, 0, 0 };
	struct fl_fleet_load_opts lopts = { 0 };
	struct fl_fleet *fleet = NULL;
	struct fl_driver driver = { NULL, NULL };
	struct fl_oid commit;
	int rc = fl_repo_resolve(&commit, repo, rev, &err);
	if (rc)
		goto fail;
	if ((rc = fl_fleet_load(&fleet, repo, &commit, &lopts, &diags, &err))) {
		print_diags(&diags, &err);
		goto out;
	}
	if ((rc = fl_mkdir_p(root, &err)) || (rc = fl_driver_dir_open(&driver, root, &err)) ||
	    (rc = converge_all(fleet, &driver, &err)))
		goto fail;
	goto out;
fail:
	{
		struct fl_buf msg = FL_BUF_INIT;
		fl_error_format(&msg, &err);
		fprintf(stderr, "flbench: accounts at '%s': %s", rev, msg.ptr);
		fl_buf_release(&msg);
	}
out:
	fl_driver_release(&driver);
	fl_fleet_free(fleet);
	fl_diags_release(&diags);
	return rc;
}

/* ---- gen ---- */

static int write_params(const char *dir, unsigned long tenants, unsigned long resources)
{
	char path[PATH_MAX], text[128];
	struct fl_error err = FL_ERROR_INIT;
	int n = snprintf(text, sizeof(text), "format %d\ntenants %lu\nresources %lu\n", PARAMS_FORMAT, tenants,
			 resources);
	if (path_join(path, dir, PARAMS_FILE))
		return -1;
	if (fl_file_write_atomic(path, text, (size_t)n, &err)) {
		fprintf(stderr, "flbench: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int gen_fleet(const char *dir, unsigned long tenants, unsigned long resources)
{
	char repo_path[PATH_MAX], old_root[PATH_MAX], new_root[PATH_MAX];
	struct fl_error err = FL_ERROR_INIT;
	struct fl_repo *repo = NULL;
	double t0 = now_ms();
	int rc = -1;
	if (path_join(repo_path, dir, "fleet") || path_join(old_root, dir, "accounts-old") ||
	    path_join(new_root, dir, "accounts-new"))
		return -1;
	if (gen_repo(dir, repo_path, tenants, resources))
		goto out;
	fprintf(stderr, "flbench: repository of %lu tenants x %lu resources in %.1f s\n", tenants, resources,
		(now_ms() - t0) / 1e3);
	if (fl_repo_open(&repo, repo_path, &err)) {
		fprintf(stderr, "flbench: %s\n", err.msg);
		goto out;
	}
	t0 = now_ms();
	if (gen_accounts(repo, "old", old_root) || gen_accounts(repo, "new", new_root))
		goto out;
	fprintf(stderr, "flbench: accounts at old and new in %.1f s\n", (now_ms() - t0) / 1e3);
	rc = write_params(dir, tenants, resources);
out:
	fl_repo_free(repo);
	return rc;
}

static int cmd_gen(int argc, char **argv)
{
	unsigned long tenants = 0, resources = 50;
	const char *out = NULL;
	const struct bopt opts[] = {
		{ "tenants", BOPT_ULONG, &tenants },
		{ "resources", BOPT_ULONG, &resources },
		{ "out", BOPT_STR, &out },
	};
	char repo_path[PATH_MAX];
	struct fl_error err = FL_ERROR_INIT;
	struct stat st;
	if (bopt_parse(opts, sizeof(opts) / sizeof(opts[0]), argc, argv))
		return 2;
	if (!out || tenants < 1 || tenants > 999999 || resources < 1 || resources > 999) {
		fprintf(stderr, "usage: flbench gen --tenants N (1..999999) --resources M (1..999) --out DIR\n");
		return 2;
	}
	if (path_join(repo_path, out, "fleet"))
		return 1;
	if (stat(repo_path, &st) == 0) {
		fprintf(stderr, "flbench: '%s' exists; remove '%s' first\n", repo_path, out);
		return 1;
	}
	if (fl_mkdir_p(out, &err)) {
		fprintf(stderr, "flbench: %s\n", err.msg);
		return 1;
	}
	return gen_fleet(out, tenants, resources) ? 1 : 0;
}

/* ---- run ---- */

struct scenario {
	const char *name;
	const char *rev, *since, *accounts;
	bool json;
};

static const struct scenario scenarios[] = {
	{ "full", "new", NULL, "accounts-old", true },
	{ "converged", "new", NULL, "accounts-new", false },
	{ "since", "one-tenant", "new", "accounts-new", false },
};
#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/* The targets of the issue; 0: none at this size. */
static void scenario_target(const struct scenario *sc, unsigned long tenants, unsigned long resources,
			    double *ms, double *mib)
{
	*ms = *mib = 0;
	if (strcmp(sc->name, "full") == 0 && tenants == 10000 && resources == 50) {
		*ms = 1000;
		*mib = 128;
	} else if (strcmp(sc->name, "converged") == 0) {
		/* 100 ms at 10,000 tenants, and a linear budget beyond. */
		*ms = tenants <= 10000 ? 100 : 100.0 * (double)tenants / 10000.0;
	} else if (strcmp(sc->name, "since") == 0) {
		*ms = 10;
	}
}

struct result {
	double median_ms, max_ms, rss_mib;
	double cpu_ms;        /* median user + system time: less sensitive to other load than wall time */
	int failures;
};

struct run_ctx {
	const char *dir, *flotilla;
	unsigned long runs, tenants, resources;
	int devnull;
};

static double tv_ms(const struct timeval *tv)
{
	return (double)tv->tv_sec * 1e3 + (double)tv->tv_usec / 1e3;
}

static int time_once(const struct run_ctx *ctx, const char *const argv[], double *ms, double *cpu, double *mib,
		     int *status)
{
	struct rusage ru;
	pid_t pid;
	double t0 = now_ms();
	memset(&ru, 0, sizeof(ru));
	if (spawn(&pid, argv, -1, ctx->devnull) || wait_child(pid, status, &ru))
		return -1;
	*ms = now_ms() - t0;
	*cpu = tv_ms(&ru.ru_utime) + tv_ms(&ru.ru_stime);
	*mib = (double)ru.ru_maxrss * 1024.0 / MIB;   /* Linux reports KiB */
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v (n > 0) and returns its median. */
static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One untimed warm-up, then ctx->runs timed runs. */
static int run_scenario(struct result *res, const struct run_ctx *ctx, const struct scenario *sc)
{
	char repo[PATH_MAX], driver[PATH_MAX + 8], accounts[PATH_MAX];
	const char *argv[16];
	int n = 0;
	if (path_join(repo, ctx->dir, "fleet") || path_join(accounts, ctx->dir, sc->accounts))
		return -1;
	snprintf(driver, sizeof(driver), "dir:%s", accounts);
	argv[n++] = ctx->flotilla;
	argv[n++] = "plan";
	argv[n++] = "--repo";
	argv[n++] = repo;
	argv[n++] = "--rev";
	argv[n++] = sc->rev;
	if (sc->since) {
		argv[n++] = "--since";
		argv[n++] = sc->since;
	}
	argv[n++] = "--driver";
	argv[n++] = driver;
	if (sc->json) {
		argv[n++] = "--format";
		argv[n++] = "json";
	}
	argv[n] = NULL;
	double *times = fl_calloc(ctx->runs, sizeof(*times)), *cpus = fl_calloc(ctx->runs, sizeof(*cpus));
	memset(res, 0, sizeof(*res));
	for (unsigned long i = 0; i <= ctx->runs; i++) {
		double ms = 0, cpu = 0, mib = 0;
		int status = 0;
		if (time_once(ctx, argv, &ms, &cpu, &mib, &status)) {
			free(times);
			free(cpus);
			return -1;
		}
		if (status != 0) {
			printf("FAIL: %s run %lu: flotilla exited with %d (%s plan --repo %s --rev %s%s%s --driver %s)\n",
			       sc->name, i, status, ctx->flotilla, repo, sc->rev, sc->since ? " --since " : "",
			       sc->since ? sc->since : "", driver);
			res->failures++;
		}
		if (i == 0)
			continue;   /* the warm-up */
		times[i - 1] = ms;
		cpus[i - 1] = cpu;
		if (mib > res->rss_mib)
			res->rss_mib = mib;
	}
	res->median_ms = median(times, ctx->runs);
	res->max_ms = times[ctx->runs - 1];
	res->cpu_ms = median(cpus, ctx->runs);
	free(times);
	free(cpus);
	return 0;
}

/* "ok", or how far past the target, into out. */
static void verdict(char *out, size_t cap, const struct result *res, double ms, double mib)
{
	double over = 0;
	if (res->failures) {
		snprintf(out, cap, "FAIL (%d runs)", res->failures);
		return;
	}
	if (ms > 0 && res->median_ms > ms)
		over = res->median_ms / ms - 1;
	if (mib > 0 && res->rss_mib > mib && res->rss_mib / mib - 1 > over)
		over = res->rss_mib / mib - 1;
	if (ms <= 0 && mib <= 0)
		snprintf(out, cap, "-");
	else if (over > 0)
		snprintf(out, cap, "MISSED by %.0f%%", over * 100 < 1 ? 1 : over * 100);
	else
		snprintf(out, cap, "ok");
}

static void print_row(const struct run_ctx *ctx, const struct scenario *sc, const struct result *res)
{
	char target[64], v[48];
	double ms, mib;
	scenario_target(sc, ctx->tenants, ctx->resources, &ms, &mib);
	if (ms <= 0)
		snprintf(target, sizeof(target), "-");
	else if (mib > 0)
		snprintf(target, sizeof(target), "<=%.0f ms, <=%.0f MiB", ms, mib);
	else
		snprintf(target, sizeof(target), "<=%.0f ms", ms);
	verdict(v, sizeof(v), res, ms, mib);
	printf("%-10s %8lu %9lu %10.1f %8.1f %8.1f %9.1f  %-22s %s\n", sc->name, ctx->tenants, ctx->resources,
	       res->median_ms, res->max_ms, res->cpu_ms, res->rss_mib, target, v);
	fflush(stdout);
}

static int read_params(struct run_ctx *ctx)
{
	char path[PATH_MAX];
	int format = 0;
	if (path_join(path, ctx->dir, PARAMS_FILE))
		return -1;
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "flbench: cannot open '%s' (run flbench gen first): %s\n", path, strerror(errno));
		return -1;
	}
	int n = fscanf(f, "format %d tenants %lu resources %lu", &format, &ctx->tenants, &ctx->resources);
	fclose(f);
	if (n != 3 || format != PARAMS_FORMAT) {
		fprintf(stderr, "flbench: '%s' is not a params file of this flbench (regenerate)\n", path);
		return -1;
	}
	return 0;
}

static bool scenario_wanted(const char *only, const char *name)
{
	if (!only)
		return true;
	size_t len = strlen(name);
	for (const char *p = only; *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == len && memcmp(p, name, n) == 0)
			return true;
		p += n + (comma != NULL);
	}
	return false;
}

static int append_result(const char *file, const struct run_ctx *ctx, const struct scenario *sc,
			 const struct result *res)
{
	FILE *f = fopen(file, "a");
	if (!f) {
		fprintf(stderr, "flbench: cannot open '%s': %s\n", file, strerror(errno));
		return -1;
	}
	fprintf(f, "%s %lu %lu %.3f %.3f %.3f %d\n", sc->name, ctx->tenants, ctx->resources, res->median_ms,
		res->max_ms, res->rss_mib, res->failures);
	return fclose(f) == 0 ? 0 : -1;
}

/* flotilla beside flbench (argv0's directory), else flotilla in PATH. */
static const char *default_flotilla(char *buf, size_t cap, const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	if (!slash)
		return "flotilla";
	snprintf(buf, cap, "%.*s/flotilla", (int)(slash - argv0), argv0);
	return buf;
}

static int run_all(struct run_ctx *ctx, const char *only, const char *results)
{
	int failed = 0;
	printf("%-10s %8s %9s %10s %8s %8s %9s  %-22s %s\n", "scenario", "tenants", "resources", "median ms",
	       "max ms", "cpu ms", "peak MiB", "target", "verdict");
	for (size_t i = 0; i < NSCENARIOS; i++) {
		struct result res;
		if (!scenario_wanted(only, scenarios[i].name))
			continue;
		if (run_scenario(&res, ctx, &scenarios[i]))
			return 1;
		print_row(ctx, &scenarios[i], &res);
		failed |= res.failures != 0;
		if (results && append_result(results, ctx, &scenarios[i], &res))
			return 1;
	}
	return failed;
}

static int cmd_run(int argc, char **argv, const char *argv0)
{
	char self[PATH_MAX];
	const char *only = NULL, *results = NULL;
	struct run_ctx ctx = { NULL, NULL, 5, 0, 0, -1 };
	const struct bopt opts[] = {
		{ "dir", BOPT_STR, &ctx.dir },
		{ "runs", BOPT_ULONG, &ctx.runs },
		{ "flotilla", BOPT_STR, &ctx.flotilla },
		{ "only", BOPT_STR, &only },
		{ "results", BOPT_STR, &results },
	};
	if (bopt_parse(opts, sizeof(opts) / sizeof(opts[0]), argc, argv))
		return 2;
	if (!ctx.dir || ctx.runs < 1) {
		fprintf(stderr, "usage: flbench run --dir DIR [--runs K] [--flotilla PATH] "
				"[--only full,converged,since] [--results FILE]\n");
		return 2;
	}
	if (!ctx.flotilla)
		ctx.flotilla = default_flotilla(self, sizeof(self), argv0);
	if (read_params(&ctx))
		return 1;
	if ((ctx.devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "flbench: cannot open /dev/null: %s\n", strerror(errno));
		return 1;
	}
	int rc = run_all(&ctx, only, results);
	close(ctx.devnull);
	return rc;
}

/* ---- report ---- */

struct row {
	char name[16];
	unsigned long tenants, resources;
	double median_ms, max_ms, rss_mib;
	int failures;
};

static int load_rows(struct row **out, size_t *n, const char *file)
{
	size_t cap = 0;
	struct row r;
	FILE *f = fopen(file, "r");
	*out = NULL;
	*n = 0;
	if (!f) {
		fprintf(stderr, "flbench: cannot open '%s': %s\n", file, strerror(errno));
		return -1;
	}
	while (fscanf(f, "%15s %lu %lu %lf %lf %lf %d", r.name, &r.tenants, &r.resources, &r.median_ms,
		      &r.max_ms, &r.rss_mib, &r.failures) == 7) {
		FL_GROW(*out, cap, *n + 1);
		(*out)[(*n)++] = r;
	}
	fclose(f);
	return 0;
}

/* The rows of scenario name with the fewest and the most tenants; false when fewer than two sizes. */
static bool extremes(const struct row *rows, size_t n, const char *name, const struct row **lo,
		     const struct row **hi)
{
	*lo = *hi = NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].name, name) != 0)
			continue;
		if (!*lo || rows[i].tenants < (*lo)->tenants)
			*lo = &rows[i];
		if (!*hi || rows[i].tenants > (*hi)->tenants)
			*hi = &rows[i];
	}
	return *lo && *hi && (*lo)->tenants < (*hi)->tenants;
}

static void report_scaling(const struct row *rows, size_t n)
{
	const struct row *lo, *hi;
	if (extremes(rows, n, "converged", &lo, &hi)) {
		double growth = hi->median_ms / lo->median_ms, size = (double)hi->tenants / (double)lo->tenants;
		printf("converged: %lu -> %lu tenants (x%.0f): time x%.2f: %s\n", lo->tenants, hi->tenants, size,
		       growth, growth <= size * 1.1 ? "ok (at most linear)" : "MISSED (faster than linear)");
	}
	if (extremes(rows, n, "since", &lo, &hi)) {
		/* "The same time": within a quarter, or a millisecond, of the smaller fleet's. */
		double limit = lo->median_ms * 1.25 > lo->median_ms + 1 ? lo->median_ms * 1.25 : lo->median_ms + 1;
		printf("since: %lu -> %lu tenants: %.1f ms -> %.1f ms: %s\n", lo->tenants, hi->tenants, lo->median_ms,
		       hi->median_ms, hi->median_ms <= limit ? "ok (flat)" : "MISSED (grows with the fleet)");
	}
}

static int cmd_report(int argc, char **argv)
{
	const char *results = NULL;
	const struct bopt opts[] = { { "results", BOPT_STR, &results } };
	struct row *rows = NULL;
	size_t n = 0;
	if (bopt_parse(opts, 1, argc, argv))
		return 2;
	if (!results) {
		fprintf(stderr, "usage: flbench report --results FILE\n");
		return 2;
	}
	if (load_rows(&rows, &n, results))
		return 1;
	report_scaling(rows, n);
	free(rows);
	return 0;
}

/* ---- checks: validation of inputs that grow ----
 *
 * `flbench checks` times fl_fleet_load on fleets built so that one kind of
 * input grows: the release's resources (the duplicate check), the names
 * and label values of wave selectors against as many tenants, and the
 * declared vars with a tenant and a template using them all. Each at n and
 * 10n: a check in O(n log n) takes a little over 10 times as long at 10n,
 * a quadratic one 100 times. Plus the tenant of 60,000 regions that once
 * took 7.5 s to validate.
 */

struct check_fleet {
	const char *name;
	int (*write)(const char *dir, unsigned long n);
	bool at_n_only;          /* its size is fixed: one row */
};

static int put_file(const char *dir, const char *name, const struct fl_buf *text)
{
	char path[PATH_MAX];
	struct fl_error err = FL_ERROR_INIT;
	char *slash;
	int rc = path_join(path, dir, name);

	if (rc)
		return rc;
	slash = strrchr(path, '/');
	*slash = '\0';
	rc = fl_mkdir_p(path, &err);
	*slash = '/';
	if (!rc)
		rc = fl_file_write_atomic(path, text->ptr, text->len, &err);
	if (rc)
		fprintf(stderr, "flbench: %s: %s\n", path, err.msg);
	return rc;
}

#define CHECK_HEAD "version: 1\nname: checks\n"

/* fleet.yaml with extra (waves and vars), and tenant t0 with extra keys. */
static int put_base(const char *dir, const char *fleet_extra, const char *tenant_extra)
{
	struct fl_buf b = FL_BUF_INIT;
	int rc;

	fl_buf_printf(&b, CHECK_HEAD "%s", fleet_extra);
	rc = put_file(dir, "fleet.yaml", &b);
	fl_buf_clear(&b);
	fl_buf_printf(&b, "name: t0\naccount: a0\n%s", tenant_extra);
	if (!rc)
		rc = put_file(dir, "tenants/t0.yaml", &b);
	fl_buf_release(&b);
	return rc;
}

static int write_regions(const char *dir, unsigned long n)
{
	struct fl_buf b = FL_BUF_INIT;
	int rc;

	(void)n;
	fl_buf_puts(&b, "regions:\n");
	for (unsigned long i = 0; i < 60000; i++)
		fl_buf_printf(&b, "  - r%05lu\n", i);
	rc = put_base(dir, "waves: [{ name: all, select: rest }]\n", b.ptr);
	fl_buf_release(&b);
	return rc;
}

static int write_resources(const char *dir, unsigned long n)
{
	struct fl_buf b = FL_BUF_INIT;
	char name[64];
	int rc = put_base(dir, "waves: [{ name: all, select: rest }]\n", "regions: [r1]\n");

	for (unsigned long i = 0; i < n && !rc; i++) {
		fl_buf_printf(&b, "---\nkind: config\nname: c%07lu\nspec: { t: \"{{tenant.name}}\" }\n", i);
		if ((i + 1) % 5000 == 0 || i + 1 == n) {
			snprintf(name, sizeof(name), "release/r%03lu.yaml", i / 5000);
			rc = put_file(dir, name, &b);
			fl_buf_clear(&b);
		}
	}
	fl_buf_release(&b);
	return rc;
}

static int write_selectors(const char *dir, unsigned long n)
{
	struct fl_buf b = FL_BUF_INIT;
	char name[64];
	int rc;

	fl_buf_puts(&b, "waves:\n  - name: listed\n    select: { tenants: [");
	for (unsigned long i = 1; i < n; i += 2)
		fl_buf_printf(&b, "%st%lu", i > 1 ? ", " : "", i);
	fl_buf_puts(&b, "] }\n  - name: ringed\n    select: { labels: { ring: [");
	for (unsigned long i = 0; i < n; i++)
		fl_buf_printf(&b, "%sv%lu", i ? ", " : "", n - 1 - i);
	fl_buf_puts(&b, "] } }\n  - name: rest\n    select: rest\n");
	rc = put_base(dir, b.ptr, "regions: [r1]\nlabels: { ring: v0 }\n");
	for (unsigned long i = 1; i < n && !rc; i++) {
		fl_buf_clear(&b);
		fl_buf_printf(&b, "name: t%lu\naccount: a%lu\nregions: [r1]\nlabels: { ring: v%lu }\n", i, i, i);
		snprintf(name, sizeof(name), "tenants/t%lu.yaml", i);
		rc = put_file(dir, name, &b);
	}
	fl_buf_release(&b);
	return rc;
}

static int write_vars(const char *dir, unsigned long n)
{
	struct fl_buf decl = FL_BUF_INIT, set = FL_BUF_INIT, tpl = FL_BUF_INIT;
	int rc;

	fl_buf_puts(&decl, "waves: [{ name: all, select: rest }]\nvars:\n");
	fl_buf_puts(&set, "regions: [r1]\nvars:\n");
	fl_buf_puts(&tpl, "kind: config\nname: all\nspec:\n");
	for (unsigned long i = 0; i < n; i++) {
		/* Declared in one order, set and used in the reverse. */
		fl_buf_printf(&decl, "  v%06lu: { type: string }\n", i);
		fl_buf_printf(&set, "  v%06lu: x\n", n - 1 - i);
		fl_buf_printf(&tpl, "  k%06lu: \"{{vars.v%06lu}}\"\n", i, n - 1 - i);
	}
	rc = put_base(dir, decl.ptr, set.ptr);
	if (!rc)
		rc = put_file(dir, "release/all.yaml", &tpl);
	fl_buf_release(&decl);
	fl_buf_release(&set);
	fl_buf_release(&tpl);
	return rc;
}

static const struct check_fleet check_fleets[] = {
	{ "one tenant of 60,000 regions", write_regions, true },
	{ "resources (duplicate check)", write_resources, false },
	{ "tenants x selector names and label values", write_selectors, false },
	{ "vars declared, set by a tenant, used by a template", write_vars, false },
};

/* Writes the fleet into dir/repo and commits it. */
static int make_check_repo(const char *dir, const struct check_fleet *cf, unsigned long n)
{
	const char *const init[] = { "git", "init", "-q", dir, NULL };
	const char *const add[] = { "git", "-C", dir, "add", "-A", NULL };
	const char *const commit[] = { "git", "-C", dir, "-c", "user.name=flbench", "-c",
				       "user.email=flbench@localhost", "commit", "-q", "-m", "checks", NULL };
	const char *const rm[] = { "rm", "-rf", dir, NULL };

	if (run_cmd(rm) || run_cmd(init) || cf->write(dir, n))
		return -1;
	return run_cmd(add) || run_cmd(commit) ? -1 : 0;
}

/* The median wall time of runs loads of the fleet at dir; *valid says whether it loaded. */
static int time_load(double *ms, bool *valid, const char *dir, unsigned long runs)
{
	struct fl_error err = FL_ERROR_INIT;
	struct fl_repo *repo = NULL;
	struct fl_oid commit;
	double t[64];
	int rc = fl_repo_open(&repo, dir, &err);

	if (!rc)
		rc = fl_repo_resolve(&commit, repo, "HEAD", &err);
	for (unsigned long i = 0; i < runs && !rc; i++) {
		struct fl_diags diags = { NULL, 0, 0, 0 };
		struct fl_fleet *fleet = NULL;
		double t0 = now_ms();
		int lrc = fl_fleet_load(&fleet, repo, &commit, NULL, &diags, &err);
		t[i] = now_ms() - t0;
		*valid = lrc == 0;
		if (lrc < 0 && lrc != FL_EINPUT && lrc != FL_ELIMIT)
			rc = lrc;
		fl_fleet_free(fleet);
		fl_diags_release(&diags);
	}
	if (rc)
		fprintf(stderr, "flbench: %s: %s\n", dir, err.msg);
	fl_repo_free(repo);
	*ms = median(t, runs);
	return rc;
}

static int cmd_checks(int argc, char **argv)
{
	const char *out = NULL;
	unsigned long n = 2000, runs = 3;
	const struct bopt opts[] = { { "out", BOPT_STR, &out }, { "n", BOPT_ULONG, &n },
				     { "runs", BOPT_ULONG, &runs } };
	char dir[PATH_MAX];

	if (bopt_parse(opts, 3, argc, argv) || !out || n < 10 || n > 50000 || runs < 1 || runs > 64) {
		fprintf(stderr, "usage: flbench checks --out DIR [--n N (10..50000)] [--runs K (1..64)]\n");
		return 2;
	}
	if (path_join(dir, out, "checks"))
		return 1;
	printf("%-52s %8s %10s %8s %10s %6s\n", "validation of", "n", "ms", "10n", "ms", "ratio");
	for (size_t i = 0; i < sizeof(check_fleets) / sizeof(check_fleets[0]); i++) {
		const struct check_fleet *cf = &check_fleets[i];
		double ms[2] = { 0, 0 };
		bool valid[2] = { false, false };
		for (int k = 0; k < (cf->at_n_only ? 1 : 2); k++)
			if (make_check_repo(dir, cf, k ? 10 * n : n) ||
			    time_load(&ms[k], &valid[k], dir, runs))
				return 1;
		if (cf->at_n_only)
			printf("%-52s %8s %10.1f  (%s)\n", cf->name, "-", ms[0],
			       valid[0] ? "valid" : "rejected");
		else
			printf("%-52s %8lu %10.1f %8lu %10.1f %6.1f%s\n", cf->name, n, ms[0], 10 * n, ms[1],
			       ms[1] / ms[0], valid[0] && valid[1] ? "" : "  (rejected)");
	}
	return 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: flbench gen --tenants N --resources M --out DIR\n"
		   "       flbench run --dir DIR [--runs K] [--flotilla PATH] [--only full,converged,since] "
		   "[--results FILE]\n"
		   "       flbench report --results FILE\n"
		   "       flbench checks --out DIR [--n N] [--runs K]\n"
		   "bench/run.sh runs all of it; docs/benchmarks.md explains the figures.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "gen") == 0)
		return cmd_gen(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1, argv[0]);
	if (strcmp(argv[1], "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(argv[1], "checks") == 0)
		return cmd_checks(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
