/*
 * A tenant file's account as text: found through the YAML parser's
 * position of the value, replaced byte for byte, and the result parsed
 * again to prove nothing else moved. See tenant_account.h.
 */
#include "reconcile/fleet/tenant_account.h"

#include <string.h>

#include "core/arena.h"
#include "core/node.h"
#include "core/yaml.h"
#include "core/banned.h"

bool fl_tenant_account_pending(const char *account)
{
	return strcmp(account, "pending") == 0 || (strncmp(account, "pending-", 8) == 0 && account[8]);
}

/* The document and its top-level account string, parsed from src into arena. */
static int load_account(const struct fl_node **doc, const struct fl_node **account, struct fl_arena *arena,
			const struct fl_source *src, struct fl_error *err)
{
	struct fl_yaml_limits limits = FL_YAML_LIMITS_DEFAULT;
	struct fl_node *root = NULL;
	int rc = fl_yaml_load_one(&root, arena, src, &limits, err);
	if (rc)
		return rc;
	const struct fl_node *v = fl_node_get(root, "account");
	if (!root || root->type != FL_NODE_MAP || !v)
		return fl_error_set_at(err, FL_EINPUT, src, 1, 1, "'%s' has no account", src->path);
	if (v->type != FL_NODE_STR)
		return fl_error_set_at(err, FL_EINPUT, src, v->line, v->col,
				       "account is a %s, expected a string", fl_node_type_name(v->type));
	*doc = root;
	*account = v;
	return 0;
}

int fl_tenant_account_read(struct fl_buf *account, struct fl_buf *state, const struct fl_source *src,
			   struct fl_error *err)
{
	struct fl_arena arena;
	const struct fl_node *doc = NULL, *v = NULL;
	fl_arena_init(&arena, 0);
	int rc = load_account(&doc, &v, &arena, src, err);
	if (!rc)
		rc = fl_buf_put(account, v->v.str.ptr, v->v.str.len);
	if (!rc && state) {
		const struct fl_node *st = fl_node_get(doc, "state");
		rc = fl_buf_puts(state, st && st->type == FL_NODE_STR ? st->v.str.ptr : "active");
	}
	fl_arena_release(&arena);
	return rc;
}

/* The byte offset of 1-based line and column (columns count characters, as libyaml does); len if none. */
static size_t offset_of(const char *text, size_t len, uint32_t line, uint32_t col)
{
	size_t i = 0;
	for (uint32_t l = 1; l < line && i < len; i++) {
		if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= len || text[i + 1] != '\n')))
			l++;
	}
	for (uint32_t c = 1; c < col && i < len; c++) {
		i++;
		while (i < len && ((unsigned char)text[i] & 0xc0) == 0x80)
			i++;
	}
	return i;
}

/* Where the scalar starting at start ends (one past its last byte): quoted, or plain up to a separator. */
static size_t scalar_end(const char *text, size_t len, size_t start)
{
	size_t i = start + 1;
	if (text[start] == '"') {
		for (; i < len && text[i] != '"'; i++)
			if (text[i] == '\\')
				i++;
		return i < len ? i + 1 : len;
	}
	if (text[start] == '\'') {
		for (; i < len; i++) {
			if (text[i] == '\'' && i + 1 < len && text[i + 1] == '\'')
				i++;
			else if (text[i] == '\'')
				return i + 1;
		}
		return len;
	}
	while (i < len && !strchr(" \t\r\n,]}", text[i]))
		i++;
	return i;
}

/* True when the rewritten doc holds account and every other member of doc unchanged. */
static bool same_but_account(const struct fl_node *doc, const struct fl_node *after, const char *account)
{
	const struct fl_node *v = fl_node_get(after, "account");
	if (after->type != FL_NODE_MAP || after->v.map.len != doc->v.map.len || !v ||
	    v->type != FL_NODE_STR || strcmp(v->v.str.ptr, account) != 0)
		return false;
	for (size_t i = 0; i < doc->v.map.len; i++) {
		const struct fl_pair *p = &doc->v.map.items[i];
		if (strcmp(p->key->v.str.ptr, "account") != 0 &&
		    !fl_node_equal(p->value, fl_node_get(after, p->key->v.str.ptr)))
			return false;
	}
	return true;
}

int fl_tenant_account_set(struct fl_buf *out, const struct fl_source *src, const char *account,
			  struct fl_error *err)
{
	struct fl_arena arena;
	struct fl_buf text = FL_BUF_INIT;
	const struct fl_node *doc = NULL, *after = NULL, *v = NULL, *v_after = NULL;
	struct fl_error ignored = FL_ERROR_INIT;
	fl_arena_init(&arena, 0);
	int rc = load_account(&doc, &v, &arena, src, err);
	if (rc)
		goto out;
	size_t start = offset_of(src->text, src->len, v->line, v->col);
	size_t end = start < src->len ? scalar_end(src->text, src->len, start) : start;
	fl_buf_put(&text, src->text, start);
	fl_buf_printf(&text, "\"%s\"", account);
	fl_buf_put(&text, src->text + end, src->len - end);
	struct fl_source changed = { src->path, text.ptr, text.len };
	if (load_account(&after, &v_after, &arena, &changed, &ignored) ||
	    !same_but_account(doc, after, account)) {
		rc = fl_error_set_at(
			err, FL_EINPUT, src, v->line, v->col,
			"cannot rewrite the account of '%s' in place: write \"%s\" there by hand", src->path,
			account);
		goto out;
	}
	rc = fl_buf_put(out, text.ptr, text.len);
out:
	fl_buf_release(&text);
	fl_arena_release(&arena);
	return rc;
}
