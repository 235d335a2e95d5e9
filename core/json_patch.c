/*
 * RFC 6902 patches between two values; see json_patch.h. Members are
 * walked in canonical order on both sides at once, so a diff is
 * O(n log n) in the size of the objects.
 */
#include "core/json_patch.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/banned.h"

struct patch {
	struct fl_buf *out;
	struct fl_buf path; /* the current pointer, RFC 6901 */
	size_t ops;
};

static void path_push(struct fl_buf *path, const char *name, size_t len)
{
	fl_buf_putc(path, '/');
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '~')
			fl_buf_puts(path, "~0");
		else if (name[i] == '/')
			fl_buf_puts(path, "~1");
		else
			fl_buf_putc(path, name[i]);
	}
}

static int op(struct patch *p, const char *name, const struct fl_node *value, struct fl_error *err)
{
	fl_buf_puts(p->out, p->ops++ ? ",{\"op\":\"" : "{\"op\":\"");
	fl_buf_puts(p->out, name);
	fl_buf_puts(p->out, "\",\"path\":");
	fl_json_put_str(p->out, p->path.ptr, p->path.len);
	if (value) {
		fl_buf_puts(p->out, ",\"value\":");
		int rc = fl_json_canonical(p->out, value, err);
		if (rc)
			return rc;
	}
	return fl_buf_putc(p->out, '}');
}

static int diff(struct patch *p, const struct fl_node *a, const struct fl_node *b, struct fl_error *err);

static int diff_members(struct patch *p, const struct fl_node *a, const struct fl_node *b, struct fl_error *err)
{
	size_t na = a->v.map.len, nb = b->v.map.len, i = 0, j = 0, mark = p->path.len;
	const struct fl_pair **sa = fl_calloc(na + 1, sizeof(*sa));
	const struct fl_pair **sb = fl_calloc(nb + 1, sizeof(*sb));
	int rc = 0;
	fl_json_sorted_members(sa, a);
	fl_json_sorted_members(sb, b);
	while (!rc && (i < na || j < nb)) {
		const struct fl_node *ka = i < na ? sa[i]->key : NULL, *kb = j < nb ? sb[j]->key : NULL;
		int c = !ka ? 1 : !kb ? -1 : fl_json_key_cmp(ka->v.str.ptr, ka->v.str.len, kb->v.str.ptr, kb->v.str.len);
		const struct fl_node *k = c <= 0 ? ka : kb;
		path_push(&p->path, k->v.str.ptr, k->v.str.len);
		if (c < 0)
			rc = op(p, "remove", NULL, err), i++;
		else if (c > 0)
			rc = op(p, "add", sb[j]->value, err), j++;
		else
			rc = diff(p, sa[i]->value, sb[j]->value, err), i++, j++;
		fl_buf_truncate(&p->path, mark);
	}
	free(sa);
	free(sb);
	return rc;
}

static int diff(struct patch *p, const struct fl_node *a, const struct fl_node *b, struct fl_error *err)
{
	if (a->type == FL_NODE_MAP && b->type == FL_NODE_MAP)
		return diff_members(p, a, b, err);
	if (fl_node_equal(a, b))
		return 0;
	return op(p, "replace", b, err);
}

int fl_json_patch_diff(struct fl_buf *out, const struct fl_node *from, const struct fl_node *to,
		       struct fl_error *err)
{
	struct patch p = { out, FL_BUF_INIT, 0 };
	fl_buf_putc(out, '[');
	int rc = diff(&p, from, to, err);
	fl_buf_release(&p.path);
	return rc ? rc : fl_buf_putc(out, ']');
}
