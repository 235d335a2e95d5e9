/*
 * The dir driver (SPEC 8), the embedded default: each account is a directory
 * <root>/<account> holding account.json (its identity) and one <region>.state
 * file per region, each replaced whole and atomically. docs/drivers.md
 * describes the layout. No state is shared between calls, so any operation
 * may run on many threads at once; writers of one account, in this process
 * or another, take turns through the account's lock file.
 */
#include "reconcile/drivers/driver.h"
#include "reconcile/drivers/driver_conf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "reconcile/fleet/syntax.h"
#include "core/banned.h"

#define STATE_HEADER "flotilla-state 1"
#define STATE_HEADER_LEN (sizeof(STATE_HEADER) - 1)
#define STATE_SUFFIX ".state"
#define STATE_SUFFIX_LEN (sizeof(STATE_SUFFIX) - 1)
#define MARKER_NONE "marker none"
#define MARKER_PREFIX "marker "
#define MARKER_PREFIX_LEN (sizeof(MARKER_PREFIX) - 1)
/* "marker " revision ' ' fp ' ' fp ' ' and at least one digit. */
#define MARKER_MIN_LEN (MARKER_PREFIX_LEN + FL_OID_HEX_LEN + 1 + FL_FP_HEX_LEN + 1 + FL_FP_HEX_LEN + 1 + 1)
#define MARKER_MAX_DIGITS 20
/* Lines 1 and 2 always fit: marker() reads no more than this. */
#define HEAD_MAX 256
#define IDENT_MAX 128
#define STATE_MAX ((size_t)256 * 1024 * 1024)
#define IDENTITY_MAX ((size_t)64 * 1024)
#define IDENTITY_SMALL 1024 /* account.json is about 50 bytes */
/* The writers' lock of an account: a leading dot, so no region's file can be named so. */
#define LOCK_FILE ".lock"

#define LINE_EXPECTED "expected '<m|u> <kind> <name> <spec>'"
#define MARKER_EXPECTED "expected 'marker none' or 'marker <revision> <tenant_fp> <inputs_fp> <resources>'"

struct dir_driver {
	char *root; /* as given; relative roots resolve against the current directory */
};

static int check_account(const char *account, struct fl_error *err)
{
	if (!account || !fl_ident_valid(account, strlen(account)))
		return fl_error_set(err, FL_EINPUT, "account id '%s' cannot name a directory",
				    account ? account : "");
	return 0;
}

static int check_region(const char *region, struct fl_error *err)
{
	if (!region || !fl_ident_valid(region, strlen(region)))
		return fl_error_set(err, FL_EINPUT, "region '%s' cannot name a file", region ? region : "");
	return 0;
}

/*
 * root/account[/file[suffix]] into out (PATH_MAX bytes, NUL included);
 * false when it does not fit. By hand rather than snprintf: a converged
 * plan builds two paths a tenant, and snprintf was 5% of its instructions.
 */
static bool join_path(char *out, const char *root, const char *account, const char *file, const char *suffix)
{
	const char *parts[] = { root, "/", account, file ? "/" : "", file ? file : "", file ? suffix : "" };
	size_t used = 0;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t n = strlen(parts[i]);
		if (n >= PATH_MAX - used)
			return false;
		memcpy(out + used, parts[i], n);
		used += n;
	}
	out[used] = '\0';
	return true;
}

/* <root>/<account>[/<file>] into out (PATH_MAX bytes), the account id checked first. */
static int account_path(char *out, const struct dir_driver *d, const struct fl_tenant *tenant,
			const char *file, struct fl_error *err)
{
	int rc = check_account(tenant->account, err);
	if (!rc && !join_path(out, d->root, tenant->account, file, ""))
		rc = fl_error_set(err, FL_EINPUT, "path of account '%s' is too long", tenant->account);
	return rc;
}

/* <root>/<account>/<region>.state into out (PATH_MAX bytes). */
static int state_path(char *out, const struct dir_driver *d, const struct fl_tenant *tenant,
		      const char *region, struct fl_error *err)
{
	int rc = check_account(tenant->account, err);
	if (rc || (rc = check_region(region, err)))
		return rc;
	if (!join_path(out, d->root, tenant->account, region, STATE_SUFFIX))
		rc = fl_error_set(err, FL_EINPUT, "path of account '%s' is too long", tenant->account);
	return rc;
}

static bool is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Parses line 2 (without its newline); -1 when malformed. */
static int parse_marker(struct fl_marker *m, bool *has, const char *s, size_t len)
{
	memset(m, 0, sizeof(*m));
	*has = false;
	if (len == sizeof(MARKER_NONE) - 1 && memcmp(s, MARKER_NONE, len) == 0)
		return 0;
	if (len < MARKER_MIN_LEN || len > MARKER_MIN_LEN - 1 + MARKER_MAX_DIGITS ||
	    memcmp(s, MARKER_PREFIX, MARKER_PREFIX_LEN) != 0)
		return -1;
	const char *p = s + MARKER_PREFIX_LEN, *end = s + len;
	if (!is_lower_hex(p, FL_OID_HEX_LEN) || p[FL_OID_HEX_LEN] != ' ')
		return -1;
	memcpy(m->revision, p, FL_OID_HEX_LEN);
	m->revision[FL_OID_HEX_LEN] = '\0';
	p += FL_OID_HEX_LEN + 1;
	if (fl_fp_parse(&m->tenant_fp, p, FL_FP_HEX_LEN) || p[FL_FP_HEX_LEN] != ' ')
		return -1;
	p += FL_FP_HEX_LEN + 1;
	if (fl_fp_parse(&m->inputs_fp, p, FL_FP_HEX_LEN) || p[FL_FP_HEX_LEN] != ' ')
		return -1;
	p += FL_FP_HEX_LEN + 1;
	size_t n = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned digit = (unsigned)(*p - '0');
		if (n > (SIZE_MAX - digit) / 10)
			return -1;
		n = n * 10 + digit;
	}
	m->resources = n;
	*has = true;
	return 0;
}

/*
 * Lines 1 and 2 of text (len bytes); *rest is where line 3 starts. On a
 * malformed head, FL_EDRIVER naming path and the line.
 */
static int parse_head(struct fl_marker *m, bool *has, const char **rest, const char *text, size_t len,
		      const char *path, struct fl_error *err)
{
	const char *end = text + len;
	const char *nl = memchr(text, '\n', len);
	if (!nl || (size_t)(nl - text) != STATE_HEADER_LEN ||
	    memcmp(text, STATE_HEADER, STATE_HEADER_LEN) != 0)
		return fl_error_set(err, FL_EDRIVER, "%s:1: not a flotilla state file (expected '%s')", path,
				    STATE_HEADER);
	const char *line = nl + 1;
	nl = memchr(line, '\n', (size_t)(end - line));
	const char *eol = nl ? nl : end;
	if (parse_marker(m, has, line, (size_t)(eol - line)))
		return fl_error_set(err, FL_EDRIVER, "%s:2: malformed marker line (%s)", path,
				    MARKER_EXPECTED);
	*rest = nl ? nl + 1 : end;
	return 0;
}

/*
 * Checks a resource line [p, eol): "<m|u> <kind> <name> <spec>", a non-empty
 * spec; sets *ksp and *nsp to the spaces after kind and name. False when malformed.
 */
static bool split_line(char *p, char *eol, char **ksp, char **nsp)
{
	/* flag, space, kind, space, name, space, at least one byte of spec */
	if (eol - p < 7 || (p[0] != 'm' && p[0] != 'u') || p[1] != ' ')
		return false;
	char *kind = p + 2;
	char *sp1 = memchr(kind, ' ', (size_t)(eol - kind));
	if (!sp1 || !fl_ident_valid(kind, (size_t)(sp1 - kind)))
		return false;
	char *name = sp1 + 1;
	char *sp2 = memchr(name, ' ', (size_t)(eol - name));
	if (!sp2 || sp2 + 1 == eol || !fl_ident_valid(name, (size_t)(sp2 - name)))
		return false;
	*ksp = sp1;
	*nsp = sp2;
	return true;
}

/* Splits obs->raw into items in place: kind and name end in NULs written over the spaces. */
static int parse_state(struct fl_observed *obs, const char *path, struct fl_error *err)
{
	const char *rest = NULL;
	int rc = parse_head(&obs->marker, &obs->has_marker, &rest, obs->raw.ptr, obs->raw.len, path, err);
	if (rc)
		goto out;
	char *p = obs->raw.ptr + (rest - obs->raw.ptr), *end = obs->raw.ptr + obs->raw.len;
	for (uint32_t lineno = 3; p < end; lineno++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl ? nl : end;
		char *ksp = NULL, *nsp = NULL;
		if (!split_line(p, eol, &ksp, &nsp)) {
			rc = fl_error_set(err, FL_EDRIVER, "%s:%u: malformed state line (%s)", path, lineno,
					  LINE_EXPECTED);
			goto out;
		}
		char *kind = p + 2, *name = ksp + 1;
		*ksp = '\0';
		*nsp = '\0';
		FL_GROW(obs->items, obs->cap, obs->len + 1);
		struct fl_observed_res *o = &obs->items[obs->len++];
		o->kind = kind;
		o->name = name;
		o->managed = p[0] == 'm';
		o->spec = nsp + 1;
		o->spec_len = (size_t)(eol - o->spec);
		fl_fp_of(&o->fp, o->spec, o->spec_len);
		p = eol + (nl != NULL);
	}
out:
	return rc;
}

/* Reads the file at path into out; *found false, and no error, when there is none. */
static int read_optional(struct fl_buf *out, bool *found, const char *path, struct fl_error *err)
{
	int rc = fl_file_read(out, path, err);
	*found = rc == 0;
	if (rc == FL_ENOTFOUND) {
		fl_error_clear(err);
		rc = 0;
	}
	return rc;
}

static int dir_observe(void *self, const struct fl_tenant *tenant, const char *region,
		       struct fl_observed *out, struct fl_error *err)
{
	const struct dir_driver *d = self;
	char path[PATH_MAX];
	fl_observed_clear(out);
	int rc = state_path(path, d, tenant, region, err);
	if (rc)
		goto out;
	size_t max = out->raw.max;
	out->raw.max = STATE_MAX;
	rc = read_optional(&out->raw, &out->exists, path, err);
	out->raw.max = max;
	if (rc || !out->exists)
		goto out;
	rc = parse_state(out, path, err);
out:
	if (rc)
		fl_observed_clear(out);
	return rc;
}

/* The hot path of a converged plan: one open, one read into the stack, one close. */
static int dir_marker(void *self, const struct fl_tenant *tenant, const char *region, struct fl_marker *out,
		      bool *found, struct fl_error *err)
{
	const struct dir_driver *d = self;
	char path[PATH_MAX], head[HEAD_MAX];
	size_t len = 0;
	int fd = -1;
	*found = false;
	int rc = state_path(path, d, tenant, region, err);
	if (rc)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = fl_error_set(err, FL_EIO, "cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	/* Read until lines 1 and 2 are in, the buffer is full, or the file ends. */
	while (len < sizeof(head)) {
		ssize_t n = read(fd, head + len, sizeof(head) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fl_error_set(err, FL_EIO, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		const char *nl = memchr(head, '\n', len);
		if (nl && memchr(nl + 1, '\n', len - (size_t)(nl + 1 - head)))
			break;
	}
	const char *rest = NULL;
	/* A marker line cut off by the buffer's end is longer than any valid one: parse_marker refuses it. */
	rc = parse_head(out, found, &rest, head, len, path, err);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * account.json into small (cap bytes, NUL-terminated) with one read(), the
 * hot path of every plan: *len is its size, or cap - 1 when it may be larger
 * (the caller then reads it whole). A read of a regular file returns less
 * than asked only at its end, and identities are replaced by rename, never
 * written in place.
 */
static int read_small(char *small, size_t cap, size_t *len, bool *found, const char *path,
		      struct fl_error *err)
{
	ssize_t n;
	*len = 0;
	*found = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0
				       : fl_error_set(err, FL_EIO, "cannot open '%s': %s", path, strerror(errno));
	do
		n = read(fd, small, cap - 1);
	while (n < 0 && errno == EINTR);
	int rc = n < 0 ? fl_error_set(err, FL_EIO, "cannot read '%s': %s", path, strerror(errno)) : 0;
	close(fd);
	*len = n < 0 ? 0 : (size_t)n;
	small[*len] = '\0';
	*found = rc == 0;
	return rc;
}

/* The end of a JSON string's body from p: printable ASCII but '"' and '\\', so nothing to unescape. */
static const char *plain_json_string_end(const char *p, const char *end)
{
	while (p < end && *p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\')
		p++;
	return p;
}

/*
 * The account id of account.json exactly as identity_json writes it,
 * {"account":"<id>","tenant":"<name>"} and a newline, with nothing to
 * unescape in either string: the hot path of every plan, which paid the
 * JSON parser's set-up and tree for 50 bytes. False for anything else, and
 * the parser then decides, so both readers agree on every file.
 */
static bool canonical_identity(const char *s, size_t len, const char **id, size_t *idlen)
{
	static const char head[] = "{\"account\":\"", mid[] = "\",\"tenant\":\"";
	const char *end = s + len, *p = s;
	if (len && end[-1] == '\n')
		end--;
	if ((size_t)(end - p) < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0)
		return false;
	*id = p += sizeof(head) - 1;
	p = plain_json_string_end(p, end);
	*idlen = (size_t)(p - *id);
	if (*idlen == 0 || (size_t)(end - p) < sizeof(mid) - 1 || memcmp(p, mid, sizeof(mid) - 1) != 0)
		return false;
	p = plain_json_string_end(p + sizeof(mid) - 1, end);
	return end - p == 2 && p[0] == '"' && p[1] == '}';
}

static int put_account(struct fl_buf *account, const char *id, size_t len, const char *path, struct fl_error *err)
{
	int rc;
	fl_buf_clear(account);
	if ((rc = fl_buf_put(account, id, len)))
		rc = fl_error_set(err, rc, "account id in '%s' is too long", path);
	return rc;
}

/* The account id of the JSON text src into account, by the JSON parser. */
static int parse_identity(struct fl_buf *account, const struct fl_source *src, struct fl_error *err)
{
	struct fl_arena arena;
	struct fl_error jerr = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	int rc = 0;
	fl_arena_init(&arena, 4096);
	if (fl_json_parse(&root, &arena, src, &jerr)) {
		rc = fl_error_set(err, FL_EDRIVER, "%s:%u:%u: malformed account identity: %s", src->path,
				  jerr.line, jerr.col, jerr.msg);
		goto out;
	}
	const struct fl_node *id = fl_node_get(root, "account");
	if (!id || id->type != FL_NODE_STR || id->v.str.len == 0 ||
	    memchr(id->v.str.ptr, '\0', id->v.str.len)) {
		rc = fl_error_set(err, FL_EDRIVER,
				  "%s: malformed account identity (expected "
				  "{\"account\":\"<id>\",\"tenant\":\"<name>\"})",
				  src->path);
		goto out;
	}
	rc = put_account(account, id->v.str.ptr, id->v.str.len, src->path, err);
out:
	fl_arena_release(&arena);
	return rc;
}

/* Reads the account id of account.json at path into account; *found false when absent. */
static int read_identity(struct fl_buf *account, bool *found, const char *path, struct fl_error *err)
{
	struct fl_buf text = FL_BUF_INIT;
	char small[IDENTITY_SMALL];
	size_t len = 0, idlen = 0;
	const char *id = NULL;
	*found = false;
	text.max = IDENTITY_MAX;
	bool there = false;
	int rc = read_small(small, sizeof(small), &len, &there, path, err);
	bool whole = !rc && there && len == sizeof(small) - 1;
	if (whole)
		rc = read_optional(&text, &there, path, err);
	if (rc || !there)
		goto out;
	struct fl_source src = { path, whole ? text.ptr : small, whole ? text.len : len };
	rc = canonical_identity(src.text, src.len, &id, &idlen) ? put_account(account, id, idlen, path, err)
								: parse_identity(account, &src, err);
	*found = rc == 0;
out:
	fl_buf_release(&text);
	return rc;
}

static int dir_identity(void *self, const struct fl_tenant *tenant, struct fl_buf *account, bool *found,
			struct fl_error *err)
{
	char path[PATH_MAX];
	*found = false;
	int rc = account_path(path, self, tenant, "account.json", err);
	if (rc)
		goto out;
	rc = read_identity(account, found, path, err);
out:
	return rc;
}

/*
 * Removes every temporary file (fl_file_is_temp) in the account directory
 * dir. Only for a holder of the account's lock: every such file there was
 * made by a writer while it held that lock (bootstrap and apply, the only
 * writers), and a writer renames or removes its own before it lets the lock
 * go, so one that is still there belongs to a writer that died holding the
 * lock (or could not remove it): nobody will ever use it again. Best
 * effort: a file that stays is ignored by every operation, and the next
 * writer tries again.
 */
static void remove_stale_temps(const char *dir)
{
	char path[PATH_MAX];
	DIR *d = opendir(dir);
	const struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)))
		if (fl_file_is_temp(e->d_name) &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < sizeof(path))
			unlink(path);
	closedir(d);
}

/*
 * Waits for the writer lock of the account directory dir (<dir>/.lock, an
 * flock that the kernel drops when its holder dies, so a killed run never
 * leaves an account locked), then clears what dead writers left. flock
 * belongs to the open file, not the process, so two threads exclude each
 * other as two runs do: nothing here relies on validation giving each
 * account to one tenant. *fd is -1 on failure; fl_file_unlock() drops it.
 */
static int lock_account(int *fd, const char *dir, struct fl_error *err)
{
	char path[PATH_MAX];
	int rc = 0;
	*fd = -1;
	int n = snprintf(path, sizeof(path), "%s/" LOCK_FILE, dir);
	if (n < 0 || n >= (int)sizeof(path))
		rc = fl_error_set(err, FL_EINPUT, "path of account directory '%s' is too long", dir);
	else if (!(rc = fl_file_lock(fd, path, err)))
		remove_stale_temps(dir);
	return rc;
}

/* account.json of tenant's account: {"account": ..., "tenant": ...}. */
static int identity_json(struct fl_buf *json, const struct fl_tenant *tenant, struct fl_error *err)
{
	const char *name = tenant->name ? tenant->name : "";
	int rc = 0;
	if ((rc = fl_buf_puts(json, "{\"account\":")) ||
	    (rc = fl_json_put_str(json, tenant->account, strlen(tenant->account))) ||
	    (rc = fl_buf_puts(json, ",\"tenant\":")) || (rc = fl_json_put_str(json, name, strlen(name))) ||
	    (rc = fl_buf_puts(json, "}\n")))
		rc = fl_error_set(err, rc, "cannot build the identity of account '%s'", tenant->account);
	return rc;
}

static int dir_bootstrap(void *self, const struct fl_tenant *tenant, struct fl_error *err)
{
	const struct dir_driver *d = self;
	char dir[PATH_MAX], path[PATH_MAX];
	struct fl_buf have = FL_BUF_INIT, json = FL_BUF_INIT;
	bool found = false;
	int lock = -1;
	int rc = account_path(dir, d, tenant, NULL, err);
	if (rc || (rc = account_path(path, d, tenant, "account.json", err)))
		goto out;
	/* Read under the lock too: of two runs bootstrapping at once, the second finds the first's file. */
	if ((rc = fl_mkdir_p(dir, err)) || (rc = lock_account(&lock, dir, err)) ||
	    (rc = read_identity(&have, &found, path, err)))
		goto out;
	if (found) {
		/* Another tenant of the same account is fine; the file is not rewritten. */
		if (strcmp(have.ptr, tenant->account) != 0)
			rc = fl_error_set(err, FL_EIDENTITY,
					  "account directory '%s' reports id '%s', not '%s'", dir, have.ptr,
					  tenant->account);
		goto out;
	}
	/* The root synced too: a power loss must not take back the account's directory itself. */
	if (!(rc = identity_json(&json, tenant, err)) && !(rc = fl_file_write_atomic(path, json.ptr, json.len, err)))
		rc = fl_dir_sync(d->root, err);
out:
	fl_buf_release(&json);
	fl_buf_release(&have);
	fl_file_unlock(lock);
	return rc;
}

static int dir_regions(void *self, const struct fl_tenant *tenant, fl_region_cb cb, void *payload,
		       struct fl_error *err)
{
	char dir[PATH_MAX], region[IDENT_MAX + 1];
	DIR *dh = NULL;
	int rc = account_path(dir, self, tenant, NULL, err);
	if (rc)
		goto out;
	dh = opendir(dir);
	if (!dh) {
		if (errno != ENOENT)
			rc = fl_error_set(err, FL_EIO, "cannot list '%s': %s", dir, strerror(errno));
		goto out;
	}
	for (;;) {
		errno = 0;
		const struct dirent *de = readdir(dh);
		if (!de) {
			if (errno)
				rc = fl_error_set(err, FL_EIO, "cannot list '%s': %s", dir, strerror(errno));
			break;
		}
		/* Neither temporary files (.<region>.state.tmp.<pid>.XXXXXX) nor .lock end in .state. */
		size_t len = strlen(de->d_name);
		if (len <= STATE_SUFFIX_LEN ||
		    memcmp(de->d_name + len - STATE_SUFFIX_LEN, STATE_SUFFIX, STATE_SUFFIX_LEN) != 0)
			continue;
		len -= STATE_SUFFIX_LEN;
		if (!fl_ident_valid(de->d_name, len))
			continue;
		memcpy(region, de->d_name, len);
		region[len] = '\0';
		if ((rc = cb(region, payload)))
			break;
	}
out:
	if (dh)
		closedir(dh);
	return rc;
}

/* ---- apply ---- */

#define NONE SIZE_MAX

/* A resource named by the write: a put, a delete, and what the account holds now. */
struct wkey {
	const char *kind, *name;
	size_t put; /* index into w->put, or NONE for a delete */
	size_t obs; /* the first observed line of this resource, or NONE */
};

struct wset {
	struct wkey *slots; /* open addressing; kind NULL: empty */
	size_t mask;
};

static uint64_t key_hash(const char *kind, const char *name)
{
	uint64_t h = 1469598103934665603u;
	for (const unsigned char *p = (const unsigned char *)kind; *p; p++)
		h = (h ^ *p) * 1099511628211u;
	h = (h ^ '/') * 1099511628211u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211u;
	return h;
}

/* The slot of (kind, name): the one holding it, or the empty one where it belongs. */
static struct wkey *wset_slot(struct wset *s, const char *kind, const char *name)
{
	size_t i = (size_t)key_hash(kind, name) & s->mask;
	while (s->slots[i].kind &&
	       (strcmp(s->slots[i].kind, kind) != 0 || strcmp(s->slots[i].name, name) != 0))
		i = (i + 1) & s->mask;
	return &s->slots[i];
}

static int wset_build(struct wset *s, const struct fl_region_write *w, struct fl_error *err)
{
	size_t n = w->nput + w->ndel, size = 16;
	int rc = 0;
	while (size < 2 * n)
		size *= 2;
	s->slots = fl_calloc(size, sizeof(*s->slots));
	s->mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		const char *kind = i < w->nput ? w->put[i].kind : w->del[i - w->nput].kind;
		const char *name = i < w->nput ? w->put[i].name : w->del[i - w->nput].name;
		struct wkey *k = wset_slot(s, kind, name);
		if (k->kind) {
			rc = fl_error_set(err, FL_EINTERNAL, "resource '%s/%s' appears twice in one write",
					  kind, name);
			goto out;
		}
		k->kind = kind;
		k->name = name;
		k->put = i < w->nput ? i : NONE;
		k->obs = NONE;
	}
out:
	return rc;
}

static int check_write(const struct fl_region_write *w, struct fl_error *err)
{
	int rc = 0;
	for (size_t i = 0; i < w->nput && !rc; i++) {
		const struct fl_put_res *p = &w->put[i];
		if (strstr(p->kind, "::"))
			rc = fl_error_set(err, FL_EINPUT,
					  "resource '%s/%s' cannot be stored: the dir driver keeps plain kinds, and "
					  "a CloudFormation type needs the aws driver", p->kind, p->name);
		else if (!fl_ident_valid(p->kind, strlen(p->kind)) || !fl_ident_valid(p->name, strlen(p->name)))
			rc = fl_error_set(err, FL_EINPUT,
					  "resource '%s/%s' cannot be stored (bad kind or name)", p->kind,
					  p->name);
		else if (p->spec_len == 0 || memchr(p->spec, '\n', p->spec_len))
			rc = fl_error_set(err, FL_EINTERNAL, "resource '%s/%s': spec is not one line of JSON",
					  p->kind, p->name);
	}
	if (!rc && w->marker && !is_lower_hex(w->marker->revision, FL_OID_HEX_LEN))
		rc = fl_error_set(err, FL_EINTERNAL, "marker revision '%.40s' is not 40 hex digits",
				  w->marker->revision);
	return rc;
}

static int put_line(struct fl_buf *out, bool managed, const char *kind, const char *name, const char *spec,
		    size_t spec_len)
{
	int rc = 0;
	if ((rc = fl_buf_putc(out, managed ? 'm' : 'u')) || (rc = fl_buf_putc(out, ' ')) ||
	    (rc = fl_buf_puts(out, kind)) || (rc = fl_buf_putc(out, ' ')) || (rc = fl_buf_puts(out, name)) ||
	    (rc = fl_buf_putc(out, ' ')) || (rc = fl_buf_put(out, spec, spec_len)))
		return rc;
	return fl_buf_putc(out, '\n');
}

static int put_marker(struct fl_buf *out, const struct fl_marker *m, bool has)
{
	char tfp[FL_FP_HEX_LEN + 1], ifp[FL_FP_HEX_LEN + 1];
	if (!has)
		return fl_buf_puts(out, STATE_HEADER "\n" MARKER_NONE "\n");
	fl_fp_hex(tfp, &m->tenant_fp);
	fl_fp_hex(ifp, &m->inputs_fp);
	return fl_buf_printf(out, STATE_HEADER "\nmarker %.40s %s %s %zu\n", m->revision, tfp, ifp,
			     m->resources);
}

/*
 * Whether put p may replace o (the resource as the account holds it, NULL
 * when absent): its if_match holds, or o is already exactly p's spec. The
 * latter is another writer having made the same change (two overlapping
 * runs of one commit); writing it again overwrites nobody's work.
 */
static bool put_allowed(const struct fl_put_res *p, const struct fl_observed_res *o)
{
	if (!p->if_match)
		return true;
	if (!o)
		return false;
	return fl_fp_equal(&o->fp, p->if_match) ||
	       (o->spec_len == p->spec_len && memcmp(o->spec, p->spec, p->spec_len) == 0);
}

/* A list of new puts, linked through next[] in the order they are emitted. */
struct plist {
	size_t head, tail;
};

static void plist_add(struct plist *l, size_t *next, size_t i)
{
	next[i] = NONE;
	if (l->head == NONE)
		l->head = i;
	else
		next[l->tail] = i;
	l->tail = i;
}

static int plist_emit(struct fl_buf *out, const struct plist *l, const size_t *next,
		      const struct fl_region_write *w)
{
	int rc = 0;
	for (size_t i = l->head; i != NONE && !rc; i = next[i])
		rc = put_line(out, true, w->put[i].kind, w->put[i].name, w->put[i].spec, w->put[i].spec_len);
	return rc;
}

/*
 * The new content of a region: lines the write names are replaced in place
 * or dropped, others kept as they are; a new resource goes right after the
 * put before it in release order (or before the first existing put after it,
 * or at the end), so an account keeps release order and the planner's index
 * hint keeps hitting. A resource listed twice in the file is collapsed by a
 * put and removed whole by a delete.
 */
static int build_state(struct fl_buf *out, const struct fl_observed *obs, const struct fl_region_write *w,
		       struct fl_error *err)
{
	struct wset set = { NULL, 0 };
	struct wkey **line_key = NULL; /* per observed line: its key, or NULL */
	struct plist *before = NULL, *after = NULL, tail = { NONE, NONE };
	struct plist **joined = NULL; /* per new put: the list it joined */
	size_t *next = NULL;
	int rc = wset_build(&set, w, err);
	if (rc)
		goto out;
	line_key = fl_calloc(obs->len + 1, sizeof(*line_key));
	before = fl_calloc(obs->len + 1, sizeof(*before));
	after = fl_calloc(obs->len + 1, sizeof(*after));
	joined = fl_calloc(w->nput + 1, sizeof(*joined));
	next = fl_calloc(w->nput + 1, sizeof(*next));
	for (size_t j = 0; j < obs->len; j++) {
		struct wkey *k = wset_slot(&set, obs->items[j].kind, obs->items[j].name);
		before[j].head = before[j].tail = after[j].head = after[j].tail = NONE;
		if (!k->kind)
			continue;
		line_key[j] = k;
		if (k->obs == NONE)
			k->obs = j;
	}
	for (size_t i = 0; i < w->nput; i++) {
		const struct fl_put_res *p = &w->put[i];
		const struct wkey *k = wset_slot(&set, p->kind, p->name);
		if (!put_allowed(p, k->obs == NONE ? NULL : &obs->items[k->obs])) {
			rc = fl_error_set(err, FL_EDRIVER, "resource %s/%s changed since it was observed",
					  p->kind, p->name);
			goto out;
		}
	}
	for (size_t i = 0; i < w->nput; i++) {
		if (wset_slot(&set, w->put[i].kind, w->put[i].name)->obs != NONE)
			continue;
		struct plist *l = &tail;
		if (i > 0) {
			size_t prev = wset_slot(&set, w->put[i - 1].kind, w->put[i - 1].name)->obs;
			l = prev != NONE ? &after[prev] : joined[i - 1];
		} else {
			for (size_t t = 1; t < w->nput; t++) {
				size_t at = wset_slot(&set, w->put[t].kind, w->put[t].name)->obs;
				if (at != NONE) {
					l = &before[at];
					break;
				}
			}
		}
		joined[i] = l;
		plist_add(l, next, i);
	}
	bool has = w->marker ? true : obs->has_marker;
	if ((rc = put_marker(out, w->marker ? w->marker : &obs->marker, has)))
		goto full;
	for (size_t j = 0; j < obs->len; j++) {
		const struct fl_observed_res *o = &obs->items[j];
		const struct wkey *k = line_key[j];
		if ((rc = plist_emit(out, &before[j], next, w)))
			goto full;
		if (!k)
			rc = put_line(out, o->managed, o->kind, o->name, o->spec, o->spec_len);
		else if (k->put != NONE && k->obs == j)
			rc = put_line(out, true, o->kind, o->name, w->put[k->put].spec,
				      w->put[k->put].spec_len);
		if (rc || (rc = plist_emit(out, &after[j], next, w)))
			goto full;
	}
	if ((rc = plist_emit(out, &tail, next, w)))
		goto full;
	goto out;
full:
	rc = fl_error_set(err, rc, "the new state of region '%s' is too large", w->region);
out:
	free(set.slots);
	free(line_key);
	free(before);
	free(after);
	free(joined);
	free(next);
	return rc;
}

static int dir_apply(void *self, const struct fl_tenant *tenant, const struct fl_region_write *w,
		     struct fl_error *err)
{
	const struct dir_driver *d = self;
	char dir[PATH_MAX], path[PATH_MAX];
	struct fl_observed cur;
	struct fl_buf next = FL_BUF_INIT;
	struct stat st;
	int lock = -1;
	fl_observed_init(&cur);
	next.max = STATE_MAX;
	int rc = account_path(dir, d, tenant, NULL, err);
	if (rc || (rc = state_path(path, d, tenant, w->region, err)) || (rc = check_write(w, err)))
		goto out;
	int st_rc = stat(dir, &st);
	if (st_rc < 0 && errno != ENOENT && errno != ENOTDIR) {
		rc = fl_error_set(err, FL_EIO, "cannot stat '%s': %s", dir, strerror(errno));
		goto out;
	}
	if (st_rc < 0 || !S_ISDIR(st.st_mode)) {
		rc = fl_error_set(err, FL_EDRIVER, "account '%s' does not exist (bootstrap first)",
				  tenant->account);
		goto out;
	}
	/* Read, change, write: all under the lock, so no other writer's change is lost in between. */
	if ((rc = lock_account(&lock, dir, err)) || (rc = dir_observe(self, tenant, w->region, &cur, err)))
		goto out;
	/* Nothing to write into a region that holds nothing: do not create it. */
	if (cur.exists || w->nput || w->marker) {
		if ((rc = build_state(&next, &cur, w, err)) ||
		    (rc = fl_file_write_atomic_unsynced(path, next.ptr, next.len, err)))
			goto out;
	}
	/* The account's last write syncs its directory once, for its renames and those before it. */
	if (!w->more_in_account)
		rc = fl_dir_sync(dir, err);
out:
	fl_file_unlock(lock);
	fl_observed_release(&cur);
	fl_buf_release(&next);
	return rc;
}

static void dir_free(void *self)
{
	struct dir_driver *d = self;
	if (!d)
		return;
	free(d->root);
	free(d);
}

static const struct fl_driver_ops dir_ops = {
	.type = "dir",
	.identity = dir_identity,
	.observe = dir_observe,
	.marker = dir_marker,
	.regions = dir_regions,
	.apply = dir_apply,
	.bootstrap = dir_bootstrap,
	.free = dir_free,
};

int fl_driver_dir_open(struct fl_driver *out, const char *root, struct fl_error *err)
{
	out->ops = NULL;
	out->self = NULL;
	if (!root || !root[0])
		return fl_error_set(err, FL_EINPUT, "driver 'dir' needs a root directory");
	struct dir_driver *d = fl_calloc(1, sizeof(*d));
	d->root = fl_strdup(root);
	out->ops = &dir_ops;
	out->self = d;
	return 0;
}

static void dir_check(struct fl_vctx *c, const struct fl_node *entry)
{
	static const struct fl_driver_key keys[] = { { "root", FL_DRIVER_STRING, true }, { NULL, 0, false } };
	fl_driver_check_keys(c, entry, "dir", keys);
}

static int dir_open_conf(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err)
{
	return fl_driver_dir_open(out, fl_driver_conf_str(conf, "root"), err);
}

const struct fl_driver_type fl_driver_dir_type = { "dir", dir_check, dir_open_conf, "root", false };
