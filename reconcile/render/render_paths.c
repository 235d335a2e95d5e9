/*
 * Field paths of a spec, in the syntax plan diffs print ("env.TOKEN",
 * "ports[0]", ["a.b"]), and which fields of a template's spec carry a
 * secret var. Rendering records the secret paths while compiling; diff asks
 * about each field it prints, so both build paths with the same functions.
 */
#include "reconcile/render/render.h"

#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "reconcile/render/render_internal.h"
#include "core/banned.h"

static bool key_is_plain(const char *key, size_t len)
{
	size_t i = 0;

	while (i < len && ((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
			   (key[i] >= '0' && key[i] <= '9') || key[i] == '_' || key[i] == '-'))
		i++;
	return len > 0 && i == len;
}

int fl_spec_path_key(struct fl_buf *path, const char *key, size_t len)
{
	int rc = 0;

	if (!key_is_plain(key, len)) {
		rc = fl_buf_putc(path, '[');
		if (!rc)
			rc = fl_json_put_str(path, key, len);
		if (!rc)
			rc = fl_buf_putc(path, ']');
	} else {
		if (path->len)
			rc = fl_buf_putc(path, '.');
		if (!rc)
			rc = fl_buf_put(path, key, len);
	}
	return rc;
}

int fl_spec_path_index(struct fl_buf *path, size_t index)
{
	return fl_buf_printf(path, "[%zu]", index);
}

/* Index of the first of sorted[0..n) that is not less than key[0..len). */
static size_t lower_bound(char *const *sorted, size_t n, const char *key, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		size_t mlen = strlen(sorted[mid]);
		int c = memcmp(sorted[mid], key, mlen < len ? mlen : len);
		if (c < 0 || (c == 0 && mlen < len))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool secret_is(const struct program *p, const char *path, size_t len)
{
	size_t i = lower_bound(p->secrets, p->nsecrets, path, len);

	return i < p->nsecrets && strlen(p->secrets[i]) == len && memcmp(p->secrets[i], path, len) == 0;
}

/* True when a secret path starts with path[0..len) followed by sep: a descendant. */
static bool secret_below(const struct program *p, struct fl_buf *tmp, const char *path, size_t len,
			 char sep)
{
	size_t i;

	fl_buf_clear(tmp);
	if (fl_buf_put(tmp, path, len) || fl_buf_putc(tmp, sep))
		return true; /* cannot tell: say secret, never leak */
	i = lower_bound(p->secrets, p->nsecrets, tmp->ptr, tmp->len);
	return i < p->nsecrets && strncmp(p->secrets[i], tmp->ptr, tmp->len) == 0;
}

/*
 * A field is secret when a secret path is the field itself, one of its
 * ancestors or one of its descendants. The secrets are sorted: ancestors
 * are looked up one by one (a path has few), descendants are the run of
 * paths that start with "path." or "path[".
 */
bool fl_template_path_secret(const struct fl_template *tpl, const char *path)
{
	const struct program *prog = tpl ? tpl->compiled : NULL;
	struct fl_buf tmp = FL_BUF_INIT;
	size_t plen = strlen(path);
	bool secret = false;

	if (!prog || !prog->nsecrets)
		return false;
	secret = plen == 0 || secret_is(prog, "", 0);
	for (size_t i = 1; i <= plen && !secret; i++)
		if (i == plen || path[i] == '.' || path[i] == '[')
			secret = secret_is(prog, path, i);
	if (!secret)
		secret = secret_below(prog, &tmp, path, plen, '.') || secret_below(prog, &tmp, path, plen, '[');
	fl_buf_release(&tmp);
	return secret;
}

static int secret_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void fl_render_sort_secrets(struct program *p)
{
	size_t n = 0;

	if (p->nsecrets > 1) /* secrets is NULL when there are none */
		qsort(p->secrets, p->nsecrets, sizeof(*p->secrets), secret_cmp);
	for (size_t i = 0; i < p->nsecrets; i++) {
		if (n && strcmp(p->secrets[n - 1], p->secrets[i]) == 0)
			free(p->secrets[i]);
		else
			p->secrets[n++] = p->secrets[i];
	}
	p->nsecrets = n;
}
