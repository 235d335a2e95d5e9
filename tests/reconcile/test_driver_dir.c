/*
 * Tests for reconcile/drivers/driver_dir.c and the generic parts of reconcile/drivers/driver.c:
 * bootstrap and identity, apply then observe and marker, optimistic updates,
 * deletes, hand-added lines, malformed state files, region listing, atomic
 * writes leaving no temporary files, writers of one account taking turns
 * (a live writer's temporary kept, a killed writer's lock and temporary
 * gone), path safety, and --driver parsing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/fleet.h"
#include "tests/testlib.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define REV_A "0123456789abcdef0123456789abcdef01234567"
#define REV_B "89abcdef0123456789abcdef0123456789abcdef"

/* One scratch directory per test; the driver's root is <tmp>/accounts, not created yet. */
struct fixture {
	char tmp[64];
	char root[128];
	struct fl_driver drv;
	struct fl_observed obs;
};

static void rm_rf(const char *path)
{
	DIR *dh = opendir(path);
	if (dh) {
		const struct dirent *de;
		while ((de = readdir(dh))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char sub[1024];
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(dh);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct fl_error err = FL_ERROR_INIT;
	if (!f)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/fl_test_dir.XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/accounts", f->tmp);
	if (fl_driver_dir_open(&f->drv, f->root, &err))
		return -1;
	fl_observed_init(&f->obs);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fl_observed_release(&f->obs);
	fl_driver_release(&f->drv);
	rm_rf(f->tmp);
	free(f);
	return 0;
}

static struct fl_tenant tenant_of(const char *name, const char *account)
{
	struct fl_tenant t;
	memset(&t, 0, sizeof(t));
	t.name = name;
	t.account = account;
	return t;
}

static struct fl_put_res put_of(const char *kind, const char *name, const char *spec)
{
	struct fl_put_res p;
	memset(&p, 0, sizeof(p));
	p.kind = kind;
	p.name = name;
	p.spec = spec;
	p.spec_len = strlen(spec);
	fl_fp_of(&p.fp, spec, p.spec_len);
	return p;
}

static struct fl_marker marker_of(const char *rev, const char *tfp_text, size_t resources)
{
	struct fl_marker m;
	memset(&m, 0, sizeof(m));
	memcpy(m.revision, rev, FL_OID_HEX_LEN);
	fl_fp_of(&m.tenant_fp, tfp_text, strlen(tfp_text));
	fl_fp_of(&m.inputs_fp, rev, strlen(rev));
	m.resources = resources;
	return m;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

/* The whole file at path, NUL-terminated, into out (cleared first). */
static void read_all(struct fl_buf *out, const char *path)
{
	struct fl_error err = FL_ERROR_INIT;
	fl_buf_clear(out);
	if (fl_file_read(out, path, &err))
		fail_msg("cannot read %s: %s", path, err.msg);
}

static void bootstrap_ok(struct fixture *f, const struct fl_tenant *t)
{
	struct fl_error err = FL_ERROR_INIT;
	if (f->drv.ops->bootstrap(f->drv.self, t, &err))
		fail_msg("bootstrap of %s failed: %s", t->account, err.msg);
}

static void apply_ok(struct fixture *f, const struct fl_tenant *t, const struct fl_region_write *w)
{
	struct fl_error err = FL_ERROR_INIT;
	if (f->drv.ops->apply(f->drv.self, t, w, &err))
		fail_msg("apply to %s/%s failed: %s", t->account, w->region, err.msg);
}

static void observe_ok(struct fixture *f, const struct fl_tenant *t, const char *region)
{
	struct fl_error err = FL_ERROR_INIT;
	if (f->drv.ops->observe(f->drv.self, t, region, &f->obs, &err))
		fail_msg("observe of %s/%s failed: %s", t->account, region, err.msg);
}

/* Fails unless the observed items are exactly these "flag kind name spec" lines, in order. */
static void expect_items(const struct fl_observed *obs, const char *const *lines, size_t n)
{
	char got[1024];
	if (obs->len != n)
		fail_msg("observed %zu resources, want %zu", obs->len, n);
	for (size_t i = 0; i < n; i++) {
		const struct fl_observed_res *o = &obs->items[i];
		snprintf(got, sizeof(got), "%c %s %s %.*s", o->managed ? 'm' : 'u', o->kind, o->name,
			 (int)o->spec_len, o->spec);
		if (strcmp(got, lines[i]) != 0)
			fail_msg("resource %zu: got '%s', want '%s'", i, got, lines[i]);
		struct fl_fp fp;
		fl_fp_of(&fp, o->spec, o->spec_len);
		assert_true(fl_fp_equal(&fp, &o->fp));
	}
}

/* ---- identity and bootstrap ---- */

static void test_bootstrap_then_identity(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111122223333");
	struct fl_tenant other = tenant_of("acme-eu", "111122223333");
	struct fl_buf account = FL_BUF_INIT, text = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	char path[256];
	bool found = false;

	bootstrap_ok(f, &t);
	assert_int_equal(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), 0);
	assert_true(found);
	assert_string_equal(account.ptr, "111122223333");

	snprintf(path, sizeof(path), "%s/111122223333/account.json", f->root);
	read_all(&text, path);
	assert_string_equal(text.ptr, "{\"account\":\"111122223333\",\"tenant\":\"acme\"}\n");

	/* Again, and for another tenant of the same account: fine, and not rewritten. */
	bootstrap_ok(f, &t);
	bootstrap_ok(f, &other);
	read_all(&text, path);
	assert_string_equal(text.ptr, "{\"account\":\"111122223333\",\"tenant\":\"acme\"}\n");

	fl_buf_release(&account);
	fl_buf_release(&text);
}

static void test_identity_missing(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "404");
	struct fl_buf account = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	bool found = true;

	assert_int_equal(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), 0);
	assert_false(found);
	assert_int_equal(err.code, 0);

	/* The directory without account.json is no account either. */
	assert_int_equal(fl_mkdir_p(f->root, &err), 0);
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/404", f->root);
	assert_int_equal(mkdir(dir, 0777), 0);
	found = true;
	assert_int_equal(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), 0);
	assert_false(found);
	fl_buf_release(&account);
}

static void test_identity_mismatch(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant a = tenant_of("acme", "111");
	struct fl_tenant b = tenant_of("bolt", "222");
	struct fl_buf account = FL_BUF_INIT, text = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	char src[256], dst[256];
	bool found = false;

	bootstrap_ok(f, &a);
	/* Someone copies account 111 by hand into the place of 222. */
	snprintf(src, sizeof(src), "%s/111/account.json", f->root);
	snprintf(dst, sizeof(dst), "%s/222", f->root);
	assert_int_equal(mkdir(dst, 0777), 0);
	read_all(&text, src);
	snprintf(dst, sizeof(dst), "%s/222/account.json", f->root);
	write_file(dst, text.ptr);

	assert_int_equal(f->drv.ops->identity(f->drv.self, &b, &account, &found, &err), 0);
	assert_true(found);
	assert_string_equal(account.ptr, "111");

	assert_int_equal(f->drv.ops->bootstrap(f->drv.self, &b, &err), FL_EIDENTITY);
	assert_non_null(strstr(err.msg, "'111'"));

	fl_buf_release(&account);
	fl_buf_release(&text);
}

static void test_identity_malformed(void **state)
{
	struct fixture *f = *state;
	static const char *const cases[] = {
		"",
		"{",
		"[]",
		"{\"account\":1}",
		"{\"tenant\":\"acme\"}",
		"{\"account\":\"\"}",
		"{\"account\":\"1\"} x",
		/* The canonical form with one byte off or cut short: the parser's to refuse. */
		"{\"account\":\"1\",\"tenant\":\"acme\"}x",
		"{\"account\":\"1\",\"tenant\":\"acme\"}\nx",
		"{\"account\":\"1\",\"tenant\":\"acme\"\n",
		"{\"account\":\"1\",\"tenant\":\"ac",
		"{\"account\":\"1\",\"tenant\":\"",
		"{\"account\":\"\",\"tenant\":\"acme\"}",
		"{\"account\":\"1\\u0000\",\"tenant\":\"acme\"}",
		"{\"account\":\"1\t2\",\"tenant\":\"acme\"}",
		"{\"account\":\"\xff\",\"tenant\":\"acme\"}",
	};
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_buf account = FL_BUF_INIT;
	char dir[256], path[256];

	snprintf(dir, sizeof(dir), "%s/111", f->root);
	snprintf(path, sizeof(path), "%s/111/account.json", f->root);
	struct fl_error err = FL_ERROR_INIT;
	assert_int_equal(fl_mkdir_p(dir, &err), 0);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		bool found = false;
		fl_error_clear(&err);
		write_file(path, cases[i]);
		int rc = f->drv.ops->identity(f->drv.self, &t, &account, &found, &err);
		if (rc != FL_EDRIVER)
			fail_msg("account.json '%s': got %d (%s), want FL_EDRIVER", cases[i], rc, err.msg);
		assert_false(found);
		assert_non_null(strstr(err.msg, "account.json"));
	}
	fl_buf_release(&account);
}

/*
 * account.json as bootstrap writes it is read without the JSON parser
 * (canonical_identity); every other spelling the parser accepts must give
 * the same id: the first two cases are canonical, each other one step off.
 */
static void test_identity_forms(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "{\"account\":\"111\",\"tenant\":\"acme\"}\n", "111" },
		{ "{\"account\":\"112\",\"tenant\":\"acme\"}", "112" },
		{ "{\"account\":\"1\\u00313\",\"tenant\":\"acme\"}\n", "113" },
		{ "{\"account\":\"a\\\"b\",\"tenant\":\"acme\"}\n", "a\"b" },
		{ "{\"account\":\"114\",\"tenant\":\"a\\u0063me\"}\n", "114" },
		{ "{\"account\":\"115\",\"tenant\":7}\n", "115" },
		{ "{ \"account\": \"116\", \"tenant\": \"acme\" }\n", "116" },
		{ "{\"tenant\":\"acme\",\"account\":\"117\"}\n", "117" },
		{ "{\"account\":\"118\"}\n\n", "118" },
		{ "{\"account\":\"caf\u00e9\",\"tenant\":\"acme\"}\n", "caf\u00e9" },
	};
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_buf account = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	char dir[256], path[256];

	snprintf(dir, sizeof(dir), "%s/111", f->root);
	snprintf(path, sizeof(path), "%s/111/account.json", f->root);
	assert_int_equal(fl_mkdir_p(dir, &err), 0);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		bool found = false;
		write_file(path, cases[i].text);
		if (f->drv.ops->identity(f->drv.self, &t, &account, &found, &err))
			fail_msg("account.json '%s': %s", cases[i].text, err.msg);
		assert_true(found);
		if (strcmp(account.ptr, cases[i].want) != 0)
			fail_msg("account.json '%s': got '%s', want '%s'", cases[i].text, account.ptr, cases[i].want);
	}
	fl_buf_release(&account);
}

/* ---- apply, observe, marker ---- */

static void test_apply_then_observe(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res puts[] = {
		put_of("bucket", "data", "{\"versioning\":true}"),
		put_of("queue", "jobs", "{\"fifo\":false,\"name\":\"a b c\"}"),
		put_of("role", "app.reader", "null"),
	};
	struct fl_marker m = marker_of(REV_A, "tenant", 3);
	struct fl_region_write w = { "eu-west-1", puts, N_ELEMS(puts), NULL, 0, &m, false };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_marker got;
	bool found = false;

	bootstrap_ok(f, &t);
	apply_ok(f, &t, &w);
	observe_ok(f, &t, "eu-west-1");
	assert_true(f->obs.exists);
	assert_true(f->obs.has_marker);
	assert_string_equal(f->obs.marker.revision, REV_A);
	assert_true(fl_fp_equal(&f->obs.marker.tenant_fp, &m.tenant_fp));
	assert_true(fl_fp_equal(&f->obs.marker.inputs_fp, &m.inputs_fp));
	assert_int_equal(f->obs.marker.resources, 3);
	static const char *const want[] = {
		"m bucket data {\"versioning\":true}",
		"m queue jobs {\"fifo\":false,\"name\":\"a b c\"}",
		"m role app.reader null",
	};
	expect_items(&f->obs, want, N_ELEMS(want));
	for (size_t i = 0; i < N_ELEMS(puts); i++)
		assert_true(fl_fp_equal(&f->obs.items[i].fp, &puts[i].fp));
	const struct fl_observed_res *o = fl_observed_find(&f->obs, "queue", "jobs");
	assert_ptr_equal(o, &f->obs.items[1]);
	assert_null(fl_observed_find(&f->obs, "queue", "data"));

	assert_int_equal(f->drv.ops->marker(f->drv.self, &t, "eu-west-1", &got, &found, &err), 0);
	assert_true(found);
	assert_memory_equal(&got, &m, sizeof(m));

	/* The file is exactly the documented layout. */
	struct fl_buf text = FL_BUF_INIT;
	char path[256], tfp[FL_FP_HEX_LEN + 1], ifp[FL_FP_HEX_LEN + 1], want_text[1024];
	snprintf(path, sizeof(path), "%s/111/eu-west-1.state", f->root);
	read_all(&text, path);
	fl_fp_hex(tfp, &m.tenant_fp);
	fl_fp_hex(ifp, &m.inputs_fp);
	snprintf(want_text, sizeof(want_text), "flotilla-state 1\nmarker %s %s %s 3\n%s\n%s\n%s\n", REV_A,
		 tfp, ifp, want[0], want[1], want[2]);
	assert_string_equal(text.ptr, want_text);
	fl_buf_release(&text);
}

static void test_missing_region(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_error err = FL_ERROR_INIT;
	struct fl_marker got;
	bool found = true;

	/* Neither the account nor the region exists. */
	observe_ok(f, &t, "eu-west-1");
	assert_false(f->obs.exists);
	assert_int_equal(f->obs.len, 0);
	assert_int_equal(f->drv.ops->marker(f->drv.self, &t, "eu-west-1", &got, &found, &err), 0);
	assert_false(found);

	bootstrap_ok(f, &t);
	observe_ok(f, &t, "eu-west-1");
	assert_false(f->obs.exists);
	found = true;
	assert_int_equal(f->drv.ops->marker(f->drv.self, &t, "eu-west-1", &got, &found, &err), 0);
	assert_false(found);
}

/*
 * A path of PATH_MAX - 1 bytes is built (the open then finds nothing); one
 * byte more is refused as too long, before any file is touched.
 */
static void test_path_limit(void **state)
{
	static char root[PATH_MAX + 1];
	struct fl_tenant t = tenant_of("acme", "111");
	const size_t tail = strlen("/111/eu.state");
	struct fl_driver drv;
	struct fl_marker m;
	struct fl_error err = FL_ERROR_INIT;
	bool found = true;
	(void)state;

	for (size_t extra = 0; extra < 2; extra++) {
		size_t len = PATH_MAX - 1 - tail + extra;
		memset(root, 'x', len);
		for (size_t i = 0; i < len; i += 200)
			root[i] = '/'; /* components under NAME_MAX */
		root[len] = '\0';
		assert_int_equal(fl_driver_dir_open(&drv, root, &err), 0);
		int rc = drv.ops->marker(drv.self, &t, "eu", &m, &found, &err);
		if (extra) {
			assert_int_equal(rc, FL_EINPUT);
			assert_string_equal(err.msg, "path of account '111' is too long");
		} else {
			assert_int_equal(rc, 0);
			assert_false(found);
		}
		fl_driver_release(&drv);
	}
}

/*
 * Which files and directories are synced: this test is linked with
 * -Wl,--wrap=fsync (tests/CMakeLists.txt), so every fsync of the library
 * comes here first and, while synced_on, logs the path of its descriptor.
 */
int __real_fsync(int fd);
int __wrap_fsync(int fd);
static pthread_mutex_t synced_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fl_buf synced = FL_BUF_INIT;
static bool synced_on;

int __wrap_fsync(int fd)
{
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	pthread_mutex_lock(&synced_lock);
	if (synced_on && n > 0)
		fl_buf_printf(&synced, "%.*s\n", (int)n, path);
	pthread_mutex_unlock(&synced_lock);
	return __real_fsync(fd);
}

/* The paths synced since the last call, the root cut to "@" and temporary names to "<tmp>". */
static void take_synced(char *out, size_t cap, const char *root)
{
	size_t len = strlen(root), used = 0;
	pthread_mutex_lock(&synced_lock);
	for (char *line = synced.ptr, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		const char *rest = strncmp(line, root, len) == 0 ? line + len : line;
		const char *tmp = strstr(rest, "/.");
		int n = tmp && strstr(tmp, ".tmp.")
				? snprintf(out + used, cap - used, "@%.*s/<tmp> ", (int)(tmp - rest), rest)
				: snprintf(out + used, cap - used, "@%s ", rest);
		used += n > 0 && (size_t)n < cap - used ? (size_t)n : 0;
	}
	out[used] = '\0';
	fl_buf_clear(&synced);
	pthread_mutex_unlock(&synced_lock);
}

/* The root as /proc names a descriptor of it (symbolic links resolved), into out. */
static void real_root(char *out, size_t cap, const char *root)
{
	char link[64];
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, cap - 1);
	close(fd);
	assert_true(n > 0);
	out[n] = '\0';
}

/*
 * Syncs batched per account (docs/design.md, "Syncs"): every state file is
 * synced before its rename; the account directory once, by the account's
 * last write (more_in_account false), even one with nothing to write, and
 * after all of that account's renames. A bootstrap syncs its file, the
 * account directory and the root, which holds the new directory's name.
 */
static void test_syncs_batched_per_account(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant a = tenant_of("acme", "111"), b = tenant_of("beta", "222");
	struct fl_put_res puts[] = { put_of("bucket", "data", "{}") };
	struct fl_region_write w1 = { "eu-west-1", puts, 1, NULL, 0, NULL, true };
	struct fl_region_write w2 = { "us-east-1", puts, 1, NULL, 0, NULL, false };
	struct fl_region_write none = { "ap-south-1", NULL, 0, NULL, 0, NULL, false };
	char got[1024], root[PATH_MAX];

	synced_on = true;
	bootstrap_ok(f, &a);
	real_root(root, sizeof(root), f->root);
	take_synced(got, sizeof(got), root);
	assert_string_equal(got, "@/111/<tmp> @/111 @ ");
	bootstrap_ok(f, &b);
	bootstrap_ok(f, &a); /* already there: nothing written, nothing synced */
	take_synced(got, sizeof(got), root);
	assert_string_equal(got, "@/222/<tmp> @/222 @ ");

	apply_ok(f, &a, &w1);
	apply_ok(f, &b, &w1);
	take_synced(got, sizeof(got), root);
	assert_string_equal(got, "@/111/<tmp> @/222/<tmp> ");
	apply_ok(f, &a, &w2);
	take_synced(got, sizeof(got), root);
	assert_string_equal(got, "@/111/<tmp> @/111 ");
	apply_ok(f, &b, &none);
	take_synced(got, sizeof(got), root);
	assert_string_equal(got, "@/222 ");
	synced_on = false;
}

static void test_apply_needs_bootstrap(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res puts[] = { put_of("bucket", "data", "{}") };
	struct fl_region_write w = { "eu-west-1", puts, 1, NULL, 0, NULL, false };
	struct fl_error err = FL_ERROR_INIT;

	assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w, &err), FL_EDRIVER);
	assert_string_equal(err.msg, "account '111' does not exist (bootstrap first)");
}

/* A CloudFormation type passes the fleet's rules, but the dir driver keeps plain kinds. */
static void test_cloudformation_kind_refused(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res puts[] = { put_of("AWS::SQS::Queue", "jobs", "{}") };
	struct fl_region_write w = { "eu", puts, 1, NULL, 0, NULL, false };
	struct fl_error err = FL_ERROR_INIT;

	bootstrap_ok(f, &t);
	assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w, &err), FL_EINPUT);
	assert_string_equal(err.msg, "resource 'AWS::SQS::Queue/jobs' cannot be stored: the dir driver keeps plain "
				     "kinds, and a CloudFormation type needs the aws driver");
}

static void test_marker_kept_and_none(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res a = put_of("bucket", "a", "1"), b = put_of("bucket", "b", "2");
	struct fl_region_write w = { "eu", &a, 1, NULL, 0, NULL, false };
	struct fl_marker m = marker_of(REV_B, "t", 2), got;
	struct fl_error err = FL_ERROR_INIT;
	bool found = true;

	bootstrap_ok(f, &t);
	apply_ok(f, &t, &w); /* no marker yet: 'marker none' */
	observe_ok(f, &t, "eu");
	assert_false(f->obs.has_marker);
	assert_int_equal(f->drv.ops->marker(f->drv.self, &t, "eu", &got, &found, &err), 0);
	assert_false(found);

	w.put = &b;
	w.marker = &m;
	apply_ok(f, &t, &w);
	w.marker = NULL; /* a write without a marker keeps the old one */
	apply_ok(f, &t, &w);
	assert_int_equal(f->drv.ops->marker(f->drv.self, &t, "eu", &got, &found, &err), 0);
	assert_true(found);
	assert_memory_equal(&got, &m, sizeof(m));

	/* An empty write to a region that holds nothing creates nothing. */
	struct fl_region_write empty = { "us", NULL, 0, NULL, 0, NULL, false };
	apply_ok(f, &t, &empty);
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/111/us.state", f->root);
	assert_int_equal(stat(path, &st), -1);
}

static void test_update_if_match(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res v1 = put_of("bucket", "data", "{\"v\":1}");
	struct fl_put_res v2 = put_of("bucket", "data", "{\"v\":2}");
	struct fl_put_res v3 = put_of("bucket", "data", "{\"v\":3}");
	struct fl_region_write w = { "eu", &v1, 1, NULL, 0, NULL, false };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_buf before = FL_BUF_INIT, after = FL_BUF_INIT;
	char path[256];

	bootstrap_ok(f, &t);
	apply_ok(f, &t, &w);

	v2.if_match = &v1.fp;
	w.put = &v2;
	apply_ok(f, &t, &w);
	observe_ok(f, &t, "eu");
	static const char *const want[] = { "m bucket data {\"v\":2}" };
	expect_items(&f->obs, want, 1);

	/* Stale: the account holds v2, the writer saw v1. Nothing changes. */
	snprintf(path, sizeof(path), "%s/111/eu.state", f->root);
	read_all(&before, path);
	v3.if_match = &v1.fp;
	w.put = &v3;
	assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w, &err), FL_EDRIVER);
	assert_string_equal(err.msg, "resource bucket/data changed since it was observed");
	read_all(&after, path);
	assert_string_equal(before.ptr, after.ptr);

	/* Stale too, but the account already holds exactly v2: another writer made
	 * this very change (an overlapping run of the same commit), so it is done. */
	struct fl_put_res v2_again = v2;
	v2_again.if_match = &v1.fp;
	w.put = &v2_again;
	apply_ok(f, &t, &w);
	read_all(&after, path);
	assert_string_equal(before.ptr, after.ptr);

	/* if_match on a resource that is gone fails too. */
	struct fl_put_res ghost = put_of("bucket", "ghost", "{}");
	ghost.if_match = &v1.fp;
	w.put = &ghost;
	assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w, &err), FL_EDRIVER);

	/* A resource named twice in one write is the caller's bug. */
	struct fl_put_res twice[] = { v1, v1 };
	twice[0].if_match = twice[1].if_match = NULL;
	w.put = twice;
	w.nput = 2;
	assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w, &err), FL_EINTERNAL);

	fl_buf_release(&before);
	fl_buf_release(&after);
}

static void test_delete(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res puts[] = { put_of("k", "a", "1"), put_of("k", "b", "2"), put_of("k", "c", "3") };
	struct fl_res_key del_b[] = { { "k", "b" }, { "k", "never-there" } };
	struct fl_res_key del_rest[] = { { "k", "c" }, { "k", "a" } };
	struct fl_marker m = marker_of(REV_A, "t", 0);
	struct fl_region_write w = { "eu", puts, 3, NULL, 0, NULL, false };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_marker got;
	bool found = false;

	bootstrap_ok(f, &t);
	apply_ok(f, &t, &w);
	struct fl_region_write d1 = { "eu", NULL, 0, del_b, N_ELEMS(del_b), NULL, false };
	apply_ok(f, &t, &d1);
	observe_ok(f, &t, "eu");
	static const char *const want[] = { "m k a 1", "m k c 3" };
	expect_items(&f->obs, want, N_ELEMS(want));

	/* Deleting the last resources with a marker still writes the file. */
	struct fl_region_write d2 = { "eu", NULL, 0, del_rest, N_ELEMS(del_rest), &m, false };
	apply_ok(f, &t, &d2);
	observe_ok(f, &t, "eu");
	assert_true(f->obs.exists);
	assert_int_equal(f->obs.len, 0);
	assert_true(f->obs.has_marker);
	assert_int_equal(f->drv.ops->marker(f->drv.self, &t, "eu", &got, &found, &err), 0);
	assert_true(found);
	assert_int_equal(got.resources, 0);
}

static void test_unmanaged_preserved(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res puts[] = { put_of("bucket", "data", "{\"v\":2}"), put_of("queue", "new", "[]") };
	struct fl_res_key del[] = { { "role", "old" } };
	struct fl_region_write w = { "eu", puts, N_ELEMS(puts), del, N_ELEMS(del), NULL, false };
	char path[256];

	bootstrap_ok(f, &t);
	snprintf(path, sizeof(path), "%s/111/eu.state", f->root);
	write_file(path, "flotilla-state 1\nmarker none\n"
			 "u vm by-hand {\"size\":\"xl\"}\n"
			 "m bucket data {\"v\":1}\n"
			 "m role old {}\n"
			 "u dns zone \"example.com\"\n");
	apply_ok(f, &t, &w);
	observe_ok(f, &t, "eu");
	static const char *const want[] = {
		"u vm by-hand {\"size\":\"xl\"}",
		"m bucket data {\"v\":2}",
		"m queue new []",
		"u dns zone \"example.com\"",
	};
	expect_items(&f->obs, want, N_ELEMS(want));
}

/* Existing resources keep their place; new ones sit next to their release-order neighbour. */
static void test_release_order_kept(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res first[] = { put_of("k", "a", "1"), put_of("k", "b", "1"), put_of("k", "c", "1") };
	struct fl_put_res second[] = { put_of("k", "a", "2"), put_of("k", "a2", "new"),
				       put_of("k", "c", "2") };
	struct fl_put_res third[] = { put_of("k", "zero", "new"), put_of("k", "b", "3") };
	struct fl_put_res fourth[] = { put_of("k", "tail", "new") };
	struct fl_region_write w = { "eu", first, 3, NULL, 0, NULL, false };

	bootstrap_ok(f, &t);
	apply_ok(f, &t, &w);
	w.put = second;
	apply_ok(f, &t, &w);
	observe_ok(f, &t, "eu");
	static const char *const want2[] = { "m k a 2", "m k a2 new", "m k b 1", "m k c 2" };
	expect_items(&f->obs, want2, N_ELEMS(want2));

	w.put = third;
	w.nput = 2;
	apply_ok(f, &t, &w);
	w.put = fourth;
	w.nput = 1;
	apply_ok(f, &t, &w);
	observe_ok(f, &t, "eu");
	static const char *const want4[] = { "m k a 2", "m k a2 new", "m k zero new",
					     "m k b 3", "m k c 2",    "m k tail new" };
	expect_items(&f->obs, want4, N_ELEMS(want4));
}

struct malformed_case {
	const char *name;
	const char *text;
	bool head_ok;	 /* marker() reads only lines 1 and 2 */
	const char *msg; /* expected in the message, after the path */
};

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	static const struct malformed_case cases[] = {
		{ "empty file", "", false, ":1: not a flotilla state file" },
		{ "other format", "hello\n", false, ":1: not a flotilla state file" },
		{ "other version", "flotilla-state 2\nmarker none\n", false, ":1:" },
		{ "header only", "flotilla-state 1\n", false, ":2: malformed marker line" },
		{ "header without newline", "flotilla-state 1", false, ":1:" },
		{ "bad marker word", "flotilla-state 1\nmark none\n", false, ":2:" },
		{ "short revision",
		  "flotilla-state 1\nmarker 0123 "
		  "00000000000000000000000000000000 "
		  "00000000000000000000000000000000 1\n",
		  false, ":2:" },
		{ "upper-case revision",
		  "flotilla-state 1\nmarker 0123456789ABCDEF0123456789abcdef01234567 "
		  "00000000000000000000000000000000 00000000000000000000000000000000 1\n",
		  false, ":2:" },
		{ "marker without count",
		  "flotilla-state 1\nmarker " REV_A " 00000000000000000000000000000000 "
		  "00000000000000000000000000000000\n",
		  false, ":2:" },
		{ "count not a number",
		  "flotilla-state 1\nmarker " REV_A " 00000000000000000000000000000000 "
		  "00000000000000000000000000000000 1x\n",
		  false, ":2:" },
		{ "count overflows",
		  "flotilla-state 1\nmarker " REV_A " 00000000000000000000000000000000 "
		  "00000000000000000000000000000000 99999999999999999999\n",
		  false, ":2:" },
		{ "bad fingerprint",
		  "flotilla-state 1\nmarker " REV_A " 0000000000000000000000000000000g "
		  "00000000000000000000000000000000 1\n",
		  false, ":2:" },
		{ "bad flag", "flotilla-state 1\nmarker none\nx k n {}\n", true, ":3: malformed state line" },
		{ "no spec", "flotilla-state 1\nmarker none\nm k n\n", true, ":3: malformed state line" },
		{ "empty spec", "flotilla-state 1\nmarker none\nm k n \n", true, ":3:" },
		{ "empty line", "flotilla-state 1\nmarker none\nm k n 1\n\nm k o 2\n", true, ":4:" },
		{ "double space", "flotilla-state 1\nmarker none\nm  k n 1\n", true, ":3:" },
		{ "dot-dot name", "flotilla-state 1\nmarker none\nm k .. 1\n", true, ":3:" },
		{ "inner dot-dot", "flotilla-state 1\nmarker none\nm k a..b 1\n", true, ":3:" },
		{ "slash in kind", "flotilla-state 1\nmarker none\nm k/x n 1\n", true, ":3:" },
		{ "late bad line", "flotilla-state 1\nmarker none\nm k a 1\nm k b 2\nm k c\n", true, ":5:" },
		{ "binary", "flotilla-state 1\nmarker none\n\x01\x02\x03\n", true, ":3:" },
	};
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res p = put_of("k", "n", "1");
	struct fl_region_write w = { "eu", &p, 1, NULL, 0, NULL, false };
	struct fl_buf after = FL_BUF_INIT;
	char path[256];

	bootstrap_ok(f, &t);
	snprintf(path, sizeof(path), "%s/111/eu.state", f->root);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		const struct malformed_case *c = &cases[i];
		struct fl_error err = FL_ERROR_INIT;
		struct fl_marker got;
		bool found = true;
		write_file(path, c->text);

		int rc = f->drv.ops->observe(f->drv.self, &t, "eu", &f->obs, &err);
		if (rc != FL_EDRIVER || strncmp(err.msg, path, strlen(path)) != 0 || !strstr(err.msg, c->msg))
			fail_msg("%s: observe gave %d '%s', want FL_EDRIVER with '%s'", c->name, rc, err.msg,
				 c->msg);
		assert_false(f->obs.exists);
		assert_int_equal(f->obs.len, 0);

		fl_error_clear(&err);
		rc = f->drv.ops->marker(f->drv.self, &t, "eu", &got, &found, &err);
		if (rc != (c->head_ok ? 0 : FL_EDRIVER))
			fail_msg("%s: marker gave %d '%s'", c->name, rc, err.msg);
		assert_false(found);

		/* apply refuses to build on what it cannot read, and leaves it alone. */
		fl_error_clear(&err);
		if ((rc = f->drv.ops->apply(f->drv.self, &t, &w, &err)) != FL_EDRIVER)
			fail_msg("%s: apply gave %d '%s'", c->name, rc, err.msg);
		read_all(&after, path);
		if (strcmp(after.ptr, c->text) != 0)
			fail_msg("%s: apply changed a malformed file", c->name);
	}
	fl_buf_release(&after);
}

/* A hand edit of a spec shows as drift: the fingerprint is computed, not stored. */
static void test_hand_edit_is_drift(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res p = put_of("k", "n", "{\"a\":1}");
	struct fl_region_write w = { "eu", &p, 1, NULL, 0, NULL, false };
	char path[256];

	bootstrap_ok(f, &t);
	apply_ok(f, &t, &w);
	snprintf(path, sizeof(path), "%s/111/eu.state", f->root);
	write_file(path, "flotilla-state 1\nmarker none\nm k n {\"a\":2}"); /* no final newline */
	observe_ok(f, &t, "eu");
	static const char *const want[] = { "m k n {\"a\":2}" };
	expect_items(&f->obs, want, 1);
	assert_false(fl_fp_equal(&f->obs.items[0].fp, &p.fp));
}

/* ---- regions, atomicity, path safety ---- */

static int collect_region(const char *region, void *payload)
{
	struct fl_buf *out = payload;
	return fl_buf_printf(out, "%s,", region);
}

static int stop_at_first(const char *region, void *payload)
{
	(void)region;
	(*(int *)payload)++;
	return FL_EINTERNAL;
}

static void test_regions(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res p = put_of("k", "n", "1");
	struct fl_region_write w = { "eu-west-1", &p, 1, NULL, 0, NULL, false };
	struct fl_buf got = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;
	char path[256];

	/* No account: no regions, no error. */
	assert_int_equal(f->drv.ops->regions(f->drv.self, &t, collect_region, &got, &err), 0);
	assert_int_equal(got.len, 0);

	bootstrap_ok(f, &t);
	apply_ok(f, &t, &w);
	w.region = "us-east-1";
	apply_ok(f, &t, &w);
	/* Strays that are not regions. */
	snprintf(path, sizeof(path), "%s/111/notes.txt", f->root);
	write_file(path, "x");
	snprintf(path, sizeof(path), "%s/111/eu-west-1.state.tmp.AbC123", f->root);
	write_file(path, "x");
	snprintf(path, sizeof(path), "%s/111/.state", f->root);
	write_file(path, "x");

	assert_int_equal(f->drv.ops->regions(f->drv.self, &t, collect_region, &got, &err), 0);
	if (strcmp(got.ptr, "eu-west-1,us-east-1,") != 0 && strcmp(got.ptr, "us-east-1,eu-west-1,") != 0)
		fail_msg("regions: got '%s'", got.ptr);

	int calls = 0;
	assert_int_equal(f->drv.ops->regions(f->drv.self, &t, stop_at_first, &calls, &err), FL_EINTERNAL);
	assert_int_equal(calls, 1);
	fl_buf_release(&got);
}

static void test_no_temporary_files_left(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res p = put_of("k", "n", "1");
	struct fl_marker m = marker_of(REV_A, "t", 1);
	struct fl_region_write w = { "eu", &p, 1, NULL, 0, &m, false };
	struct fl_error err = FL_ERROR_INIT;
	char dir[256];

	bootstrap_ok(f, &t);
	for (int i = 0; i < 5; i++)
		apply_ok(f, &t, &w);
	/* A failed apply (stale if_match) leaves nothing behind either. */
	struct fl_put_res stale = put_of("k", "n", "2");
	stale.if_match = &m.tenant_fp;
	w.put = &stale;
	assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w, &err), FL_EDRIVER);

	snprintf(dir, sizeof(dir), "%s/111", f->root);
	DIR *dh = opendir(dir);
	assert_non_null(dh);
	const struct dirent *de;
	size_t files = 0;
	while ((de = readdir(dh))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		files++;
		if (strcmp(de->d_name, "account.json") != 0 && strcmp(de->d_name, "eu.state") != 0 &&
		    strcmp(de->d_name, ".lock") != 0)
			fail_msg("unexpected file '%s' in the account", de->d_name);
	}
	closedir(dh);
	assert_int_equal(files, 3);
}

/* ---- writers of one account ---- */

/* path <root>/<account>/<file> into out (PATH_MAX bytes). */
static char *account_file(char *out, const struct fixture *f, const char *account, const char *file)
{
	int n = snprintf(out, PATH_MAX, "%s/%s/%s", f->root, account, file);
	if (n < 0 || n >= PATH_MAX)
		fail_msg("path of '%s' is too long", file);
	return out;
}

struct lookalike_case {
	const char *name;
	const char *account;
	const char *region;    /* written again and again; NULL: the identity is */
	const char *lookalike; /* a region named like one of its temporary files */
};

static const struct lookalike_case lookalike_cases[] = {
	{ "old temporary of a region", "201", "us-east-1", "us-east-1.state.tmp.AbC123" },
	{ "temporary with a pid", "202", "eu", "eu.state.tmp.4242.AbCdEf" },
	{ "old temporary of the identity", "203", NULL, "account.json.tmp.AbC123" },
};

/* A region named like another file's temporary keeps its state through writes of that file. */
static void test_lookalike_region_keeps_state(void **state)
{
	struct fixture *f = *state;
	static const char *const want[] = { "m k n 1" };
	for (size_t i = 0; i < N_ELEMS(lookalike_cases); i++) {
		const struct lookalike_case *c = &lookalike_cases[i];
		struct fl_tenant t = tenant_of("acme", c->account);
		struct fl_put_res p = put_of("k", "n", "1");
		struct fl_region_write w = { c->lookalike, &p, 1, NULL, 0, NULL, false };
		char path[PATH_MAX];

		bootstrap_ok(f, &t);
		apply_ok(f, &t, &w);
		for (int round = 0; round < 2; round++) {
			if (c->region) {
				w.region = c->region;
				apply_ok(f, &t, &w);
				continue;
			}
			if (unlink(account_file(path, f, c->account, "account.json")) < 0)
				fail_msg("%s: cannot remove account.json: %s", c->name, strerror(errno));
			bootstrap_ok(f, &t);
		}
		char file[PATH_MAX];
		snprintf(file, sizeof(file), "%s.state", c->lookalike);
		if (!fl_test_exists(account_file(path, f, c->account, file)))
			fail_msg("%s: region '%s' lost its state file", c->name, c->lookalike);
		observe_ok(f, &t, c->lookalike);
		expect_items(&f->obs, want, 1);
	}
}

/* A writer on a thread of its own, as apply runs tenants. */
struct writer_job {
	struct fixture *f;
	struct fl_tenant tenant;
	struct fl_region_write write; /* region NULL: bootstrap instead */
	struct fl_error err;
	int rc;
	atomic_bool done;
};

static void *writer_main(void *payload)
{
	struct writer_job *job = payload;
	const struct fl_driver_ops *ops = job->f->drv.ops;
	if (job->write.region)
		job->rc = ops->apply(job->f->drv.self, &job->tenant, &job->write, &job->err);
	else
		job->rc = ops->bootstrap(job->f->drv.self, &job->tenant, &job->err);
	atomic_store(&job->done, true);
	return NULL;
}

/* Whether a thread of this process sleeps in flock(): a "-> FLOCK" line of /proc/locks with our pid. */
static bool waiting_for_flock(void)
{
	FILE *fp = fopen("/proc/locks", "r");
	char line[256];
	bool found = false;
	if (!fp)
		fail_msg("cannot read /proc/locks: %s", strerror(errno));
	while (!found && fgets(line, sizeof(line), fp)) {
		const char *arrow = strstr(line, "-> FLOCK");
		long pid = 0;
		/* "<n>: -> FLOCK  ADVISORY  WRITE <pid> <maj>:<min>:<inode> <start> <end>" */
		if (arrow && sscanf(arrow, "-> FLOCK %*s %*s %ld", &pid) == 1 && pid == (long)getpid())
			found = true;
	}
	fclose(fp);
	return found;
}

struct live_case {
	const char *name;
	const char *file;    /* what writer A is replacing when B comes */
	const char *a_text;  /* A's new content of it */
	const char *b_region; /* B applies a put of k/b there; NULL: B bootstraps */
	const char *want;    /* file once both are done */
};

static const struct live_case live_cases[] = {
	{ "apply to the same region", "eu.state", "flotilla-state 1\nmarker none\nm k a 2\n", "eu",
	  "flotilla-state 1\nmarker none\nm k a 2\nm k b 1\n" },
	{ "apply to another region", "eu.state", "flotilla-state 1\nmarker none\nm k a 2\n", "us",
	  "flotilla-state 1\nmarker none\nm k a 2\n" },
	{ "bootstrap", "account.json", "{\"account\":\"301\",\"tenant\":\"first\"}\n", NULL,
	  "{\"account\":\"301\",\"tenant\":\"first\"}\n" },
};

/*
 * Writer A (this thread) holds the account lock and has its temporary file
 * written; writer B (another thread of this process: flock must keep
 * threads apart too) must wait for A, leave A's temporary alone, and build
 * on what A wrote. Waiting is checked, not timed: B is seen asleep in flock(), or done.
 */
static void test_live_writer_temp_kept(void **state)
{
	struct fixture *f = *state;
	struct fl_buf got = FL_BUF_INIT;
	for (size_t i = 0; i < N_ELEMS(live_cases); i++) {
		const struct live_case *c = &live_cases[i];
		const char *account = c->b_region ? "300" : "301";
		struct fl_put_res p = put_of("k", "b", "1");
		struct writer_job job = { .f = f, .tenant = tenant_of("second", account) };
		char dir[PATH_MAX], lock[PATH_MAX], temp[PATH_MAX], target[PATH_MAX], name[NAME_MAX];
		struct fl_error err = FL_ERROR_INIT;
		pthread_t thread;
		int fd = -1;

		job.write = (struct fl_region_write){ c->b_region, &p, 1, NULL, 0, NULL, false };
		atomic_init(&job.done, false);
		snprintf(dir, sizeof(dir), "%s/%s", f->root, account);
		if (fl_mkdir_p(dir, &err))
			fail_msg("%s: %s", c->name, err.msg);
		if (c->b_region) {
			struct fl_tenant first = tenant_of("first", account);
			bootstrap_ok(f, &first);
		}
		if (fl_file_lock(&fd, account_file(lock, f, account, ".lock"), &err))
			fail_msg("%s: %s", c->name, err.msg);
		snprintf(name, sizeof(name), ".%s.tmp.%ld.AbCdEf", c->file, (long)getpid());
		write_file(account_file(temp, f, account, name), c->a_text);

		assert_int_equal(pthread_create(&thread, NULL, writer_main, &job), 0);
		while (!atomic_load(&job.done) && !waiting_for_flock())
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		if (atomic_load(&job.done))
			fail_msg("%s: writer B went ahead while A held the account lock (rc %d %s)", c->name,
				 job.rc, job.err.msg);
		if (!fl_test_exists(temp))
			fail_msg("%s: the live writer's temporary '%s' was removed", c->name, name);
		/* A finishes: its rename must still work, then it lets go. */
		if (rename(temp, account_file(target, f, account, c->file)) < 0)
			fail_msg("%s: A cannot rename into %s: %s", c->name, c->file, strerror(errno));
		fl_file_unlock(fd);
		assert_int_equal(pthread_join(thread, NULL), 0);
		if (job.rc)
			fail_msg("%s: writer B failed: %s", c->name, job.err.msg);
		read_all(&got, target);
		if (strcmp(got.ptr, c->want) != 0)
			fail_msg("%s: %s holds '%s', want '%s'", c->name, c->file, got.ptr, c->want);
		if (c->b_region && strcmp(c->b_region, "eu") != 0) {
			observe_ok(f, &job.tenant, c->b_region);
			static const char *const b_only[] = { "m k b 1" };
			expect_items(&f->obs, b_only, 1);
		}
	}
	fl_buf_release(&got);
}

struct killed_case {
	const char *name;
	const char *temp_of;  /* the file the killed writer was replacing */
	bool next_bootstraps; /* the next writer bootstraps; else it applies to eu */
};

static const struct killed_case killed_cases[] = {
	{ "killed writing a region, next applies", "eu.state", false },
	{ "killed writing another region, next applies", "us.state", false },
	{ "killed writing the identity, next bootstraps", "account.json", true },
	{ "killed writing a region, next bootstraps", "eu.state", true },
};

/* Not temporary files of this driver: an older flotilla's (it may be live: it
 * takes no lock), a hand-made file, and near misses of the form. */
static const char *const not_temps[] = {
	"eu.state.tmp.AbC123", ".keep", "notes.tmp.1.AbCdEf", ".eu.state.tmp.x1.AbCdEf", ".eu.state.tmp.1.AbCd",
};

/*
 * A child takes the account lock, starts a write and is killed (SIGKILL: no
 * clean-up of its own). The next writer must not wait for it, and removes
 * its temporary, which no one can ever rename now, but nothing else.
 */
static void test_killed_writer(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "400");
	struct fl_put_res p = put_of("k", "n", "1");
	struct fl_region_write w = { "eu", &p, 1, NULL, 0, NULL, false };
	char lock[PATH_MAX], temp[PATH_MAX], name[NAME_MAX], path[PATH_MAX];

	bootstrap_ok(f, &t);
	account_file(lock, f, "400", ".lock");
	for (size_t i = 0; i < N_ELEMS(not_temps); i++)
		write_file(account_file(path, f, "400", not_temps[i]), "x");
	for (size_t i = 0; i < N_ELEMS(killed_cases); i++) {
		const struct killed_case *c = &killed_cases[i];
		int ready[2], status = 0;
		char byte = 0;

		assert_int_equal(pipe(ready), 0);
		pid_t child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			struct fl_error err = FL_ERROR_INIT;
			int fd = -1;
			close(ready[0]);
			snprintf(name, sizeof(name), ".%s.tmp.%ld.AbCdEf", c->temp_of, (long)getpid());
			if (fl_file_lock(&fd, lock, &err) ||
			    open(account_file(temp, f, "400", name), O_WRONLY | O_CREAT | O_EXCL, 0644) < 0 ||
			    write(ready[1], "y", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		close(ready[1]);
		ssize_t n = read(ready[0], &byte, 1);
		close(ready[0]);
		if (n != 1)
			fail_msg("%s: the child could not take the lock", c->name);
		snprintf(name, sizeof(name), ".%s.tmp.%ld.AbCdEf", c->temp_of, (long)child);
		account_file(temp, f, "400", name);
		assert_int_equal(kill(child, SIGKILL), 0);
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFSIGNALED(status));
		assert_true(fl_test_exists(temp));

		if (c->next_bootstraps)
			bootstrap_ok(f, &t);
		else
			apply_ok(f, &t, &w);
		if (fl_test_exists(temp))
			fail_msg("%s: the killed writer's temporary '%s' is still there", c->name, name);
		for (size_t j = 0; j < N_ELEMS(not_temps); j++)
			if (!fl_test_exists(account_file(path, f, "400", not_temps[j])))
				fail_msg("%s: '%s' was removed", c->name, not_temps[j]);
	}
	observe_ok(f, &t, "eu");
	static const char *const want[] = { "m k n 1" };
	expect_items(&f->obs, want, 1);
}

static void test_path_safety(void **state)
{
	struct fixture *f = *state;
	static const char *const bad_accounts[] = { "..", ".", "a/b", "", "../111", "-x", ".hidden", "a..b" };
	struct fl_put_res p = put_of("k", "n", "1");
	struct fl_region_write w = { "eu", &p, 1, NULL, 0, NULL, false };
	struct fl_buf account = FL_BUF_INIT;
	struct fl_marker m;
	bool found;

	for (size_t i = 0; i < N_ELEMS(bad_accounts); i++) {
		struct fl_tenant t = tenant_of("acme", bad_accounts[i]);
		struct fl_error err = FL_ERROR_INIT;
		assert_int_equal(f->drv.ops->bootstrap(f->drv.self, &t, &err), FL_EINPUT);
		assert_int_equal(f->drv.ops->identity(f->drv.self, &t, &account, &found, &err), FL_EINPUT);
		assert_int_equal(f->drv.ops->observe(f->drv.self, &t, "eu", &f->obs, &err), FL_EINPUT);
		assert_int_equal(f->drv.ops->marker(f->drv.self, &t, "eu", &m, &found, &err), FL_EINPUT);
		assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w, &err), FL_EINPUT);
		assert_int_equal(f->drv.ops->regions(f->drv.self, &t, collect_region, &account, &err),
				 FL_EINPUT);
	}
	static const char *const bad_regions[] = { "..", "../x", "a/b", "" };
	struct fl_tenant t = tenant_of("acme", "111");
	bootstrap_ok(f, &t);
	for (size_t i = 0; i < N_ELEMS(bad_regions); i++) {
		struct fl_error err = FL_ERROR_INIT;
		w.region = bad_regions[i];
		assert_int_equal(f->drv.ops->observe(f->drv.self, &t, w.region, &f->obs, &err), FL_EINPUT);
		assert_int_equal(f->drv.ops->marker(f->drv.self, &t, w.region, &m, &found, &err), FL_EINPUT);
		assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w, &err), FL_EINPUT);
	}
	/* Names that would break the line format are refused too. */
	struct fl_error err = FL_ERROR_INIT;
	struct fl_put_res spaced = put_of("k", "a b", "1");
	struct fl_put_res multiline = put_of("k", "n", "{\n}");
	struct fl_region_write w2 = { "eu", &spaced, 1, NULL, 0, NULL, false };
	assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w2, &err), FL_EINPUT);
	w2.put = &multiline;
	assert_int_equal(f->drv.ops->apply(f->drv.self, &t, &w2, &err), FL_EINTERNAL);
	/* Nothing was created beside the root. */
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/eu.state", f->tmp);
	assert_int_equal(stat(path, &st), -1);
	fl_buf_release(&account);
}

static void test_observed_reuse(void **state)
{
	struct fixture *f = *state;
	struct fl_tenant t = tenant_of("acme", "111");
	struct fl_put_res many[40];
	char names[40][8];
	for (size_t i = 0; i < N_ELEMS(many); i++) {
		snprintf(names[i], sizeof(names[i]), "r%zu", i);
		many[i] = put_of("k", names[i], "{\"x\":\"y\"}");
	}
	struct fl_put_res one = put_of("k", "solo", "1");
	struct fl_region_write w = { "big", many, N_ELEMS(many), NULL, 0, NULL, false };

	bootstrap_ok(f, &t);
	apply_ok(f, &t, &w);
	w.region = "small";
	w.put = &one;
	w.nput = 1;
	apply_ok(f, &t, &w);
	observe_ok(f, &t, "big");
	assert_int_equal(f->obs.len, N_ELEMS(many));
	assert_string_equal(f->obs.items[39].name, "r39");
	observe_ok(f, &t, "small");
	static const char *const want[] = { "m k solo 1" };
	expect_items(&f->obs, want, 1);
	observe_ok(f, &t, "none");
	assert_false(f->obs.exists);
	assert_int_equal(f->obs.len, 0);
}

/* ---- driver.c: --driver and opening ---- */

struct conf_case {
	const char *arg;
	int rc;
	const char *type, *root, *endpoint;
	size_t ncommand;
};

static void test_conf_parse(void **state)
{
	(void)state;
	static const struct conf_case cases[] = {
		{ "dir:/tmp/accounts", 0, "dir", "/tmp/accounts", NULL, 0 },
		{ "dir:accounts", 0, "dir", "accounts", NULL, 0 },
		{ "exec:drivers/cfn --profile  x ", 0, "exec", NULL, NULL, 3 },
		{ "http:https://deploy.example.net/a/{{tenant.account}}", 0, "http", NULL,
		  "https://deploy.example.net/a/{{tenant.account}}", 0 },
		{ "dir:", FL_EUSAGE, NULL, NULL, NULL, 0 },
		{ "dir", FL_EUSAGE, NULL, NULL, NULL, 0 },
		{ "", FL_EUSAGE, NULL, NULL, NULL, 0 },
		{ ":x", FL_EUSAGE, NULL, NULL, NULL, 0 },
		{ "ftp:x", FL_EUSAGE, NULL, NULL, NULL, 0 },
		{ "DIR:x", FL_EUSAGE, NULL, NULL, NULL, 0 },
		{ "exec:   ", FL_EUSAGE, NULL, NULL, NULL, 0 },
	};
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		const struct conf_case *c = &cases[i];
		struct fl_arena arena;
		struct fl_driver_conf conf;
		struct fl_error err = FL_ERROR_INIT;
		fl_arena_init(&arena, 0);
		int rc = fl_driver_conf_parse(&conf, &arena, c->arg, &err);
		if (rc != c->rc)
			fail_msg("'%s': got %d, want %d", c->arg, rc, c->rc);
		if (rc) {
			assert_string_equal(err.msg, "--driver expects TYPE:ARG, like dir:/tmp/accounts");
		} else {
			/* The entry fleet.yaml would hold: { type: T, root|endpoint: ARG } or command: [words]. */
			const struct fl_node *command = fl_node_get(conf.node, "command");
			assert_string_equal(conf.type, c->type);
			assert_string_equal(fl_node_get(conf.node, "type")->v.str.ptr, c->type);
			if (c->root)
				assert_string_equal(fl_node_get(conf.node, "root")->v.str.ptr, c->root);
			if (c->endpoint)
				assert_string_equal(fl_node_get(conf.node, "endpoint")->v.str.ptr, c->endpoint);
			assert_int_equal(command ? command->v.seq.len : 0, c->ncommand);
		}
		if (c->ncommand) {
			const struct fl_node *command = fl_node_get(conf.node, "command");
			assert_string_equal(command->v.seq.items[0]->v.str.ptr, "drivers/cfn");
			assert_string_equal(command->v.seq.items[1]->v.str.ptr, "--profile");
			assert_string_equal(command->v.seq.items[2]->v.str.ptr, "x");
		}
		fl_arena_release(&arena);
	}
}

static void test_driver_open(void **state)
{
	(void)state;
	struct fl_arena arena;
	struct fl_driver_conf conf;
	struct fl_driver drv = { NULL, NULL };
	struct fl_error err = FL_ERROR_INIT;
	fl_arena_init(&arena, 0);

	assert_int_equal(fl_driver_conf_parse(&conf, &arena, "dir:/nonexistent/yet", &err), 0);
	assert_int_equal(fl_driver_open(&drv, &conf, &err), 0);
	assert_string_equal(drv.ops->type, "dir");
	fl_driver_release(&drv);
	fl_driver_release(&drv); /* a zeroed driver is fine */

	assert_int_equal(fl_driver_conf_parse(&conf, &arena, "exec:drivers/cfn", &err), 0);
	assert_int_equal(fl_driver_open(&drv, &conf, &err), 0);
	assert_string_equal(drv.ops->type, "exec");
	fl_driver_release(&drv);
	assert_int_equal(fl_driver_conf_parse(&conf, &arena, "http:https://x/{{tenant.account}}", &err), 0);
	assert_int_equal(fl_driver_open(&drv, &conf, &err), 0);
	assert_string_equal(drv.ops->type, "http");
	fl_driver_release(&drv);
	assert_int_equal(fl_driver_conf_parse(&conf, &arena, "ftp:x", &err), FL_EUSAGE);

	assert_int_equal(fl_driver_dir_open(&drv, "", &err), FL_EINPUT);
	fl_arena_release(&arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bootstrap_then_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syncs_batched_per_account, setup, teardown),
		cmocka_unit_test(test_path_limit),
		cmocka_unit_test_setup_teardown(test_identity_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_then_observe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_region, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_needs_bootstrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cloudformation_kind_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_marker_kept_and_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_if_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmanaged_preserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_order_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hand_edit_is_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_temporary_files_left, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookalike_region_keeps_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_writer_temp_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_safety, setup, teardown),
		cmocka_unit_test_setup_teardown(test_observed_reuse, setup, teardown),
		cmocka_unit_test(test_conf_parse),
		cmocka_unit_test(test_driver_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
