/* Decoding drivers' JSON answers; see driver_answer.h. */
#include "reconcile/drivers/driver_answer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/json.h"
#include "reconcile/fleet/syntax.h"
#include "core/banned.h"

const struct fl_node *fl_answer_get(const struct fl_node *map, const char *key, enum fl_node_type type)
{
	const struct fl_node *v = fl_node_get(map, key);
	return v && v->type == type ? v : NULL;
}

static bool is_hex(const char *s, size_t len, bool lowercase_only)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool upper = c >= 'A' && c <= 'F';
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (upper && !lowercase_only)))
			return false;
	}
	return true;
}

int fl_answer_marker(struct fl_marker *m, bool *has, const struct fl_node *v, bool lowercase_only,
		     struct fl_error *err)
{
	memset(m, 0, sizeof(*m));
	*has = false;
	if (!v || v->type == FL_NODE_NULL)
		return 0;
	const struct fl_node *rev = fl_answer_get(v, "revision", FL_NODE_STR);
	const struct fl_node *tfp = fl_answer_get(v, "tenant_fingerprint", FL_NODE_STR);
	const struct fl_node *ifp = fl_answer_get(v, "inputs_fingerprint", FL_NODE_STR);
	const struct fl_node *n = fl_answer_get(v, "resources", FL_NODE_INT);
	if (v->type != FL_NODE_MAP || !rev || rev->v.str.len != FL_OID_HEX_LEN ||
	    !is_hex(rev->v.str.ptr, FL_OID_HEX_LEN, lowercase_only) || !tfp ||
	    fl_fp_parse(&m->tenant_fp, tfp->v.str.ptr, tfp->v.str.len) || !ifp ||
	    fl_fp_parse(&m->inputs_fp, ifp->v.str.ptr, ifp->v.str.len) || !n || n->v.i < 0)
		return fl_error_set(err, FL_EDRIVER, "marker is not " FL_ANSWER_MARKER_SHAPE " or null");
	for (size_t i = 0; i < FL_OID_HEX_LEN; i++) {
		char c = rev->v.str.ptr[i];
		m->revision[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
	}
	m->revision[FL_OID_HEX_LEN] = '\0';
	m->resources = (size_t)n->v.i;
	*has = true;
	return 0;
}

const char *fl_answer_ident(const struct fl_node *map, const char *key, struct fl_error *err)
{
	const struct fl_node *v = fl_node_get(map, key);
	if (!v || v->type != FL_NODE_STR) {
		fl_error_set(err, FL_EDRIVER, "%s is missing or not a string", key);
		return NULL;
	}
	bool kind = strcmp(key, "kind") == 0;
	if (kind ? !fl_kind_valid(v->v.str.ptr, v->v.str.len) : !fl_ident_valid(v->v.str.ptr, v->v.str.len)) {
		fl_error_set(err, FL_EDRIVER, "%s '%.128s' is not a valid name (expected %s)", key, v->v.str.ptr,
			     kind ? FL_KIND_RULE : FL_ANSWER_IDENT_RULE);
		return NULL;
	}
	return v->v.str.ptr;
}

int fl_answer_account(struct fl_buf *account, bool *found, const struct fl_node *answer, bool null_ok,
		      struct fl_error *err)
{
	const struct fl_node *id = fl_node_get(answer, "account");
	*found = false;
	if (null_ok && (!id || id->type == FL_NODE_NULL))
		return 0;
	if (!id || id->type != FL_NODE_STR || !fl_ident_valid(id->v.str.ptr, id->v.str.len))
		return fl_error_set(err, FL_EDRIVER, "expected {\"account\": \"<id>\"%s}, an id by the rule %s",
				    null_ok ? "|null" : "", FL_ANSWER_IDENT_RULE);
	fl_buf_clear(account);
	if (fl_buf_put(account, id->v.str.ptr, id->v.str.len))
		return fl_error_set(err, FL_EDRIVER, "account id is too long");
	*found = true;
	return 0;
}

int fl_answer_regions(const struct fl_node **list, const struct fl_node *answer, struct fl_error *err)
{
	*list = fl_answer_get(answer, "regions", FL_NODE_SEQ);
	if (!*list)
		return fl_error_set(err, FL_EDRIVER, "expected {\"regions\": [\"<region>\", ...]}");
	for (size_t i = 0; i < (*list)->v.seq.len; i++) {
		const struct fl_node *r = (*list)->v.seq.items[i];
		if (r->type != FL_NODE_STR || !fl_ident_valid(r->v.str.ptr, r->v.str.len))
			return fl_error_set(err, FL_EDRIVER, "region %zu is not a valid name (expected %s)", i + 1,
					    FL_ANSWER_IDENT_RULE);
	}
	return 0;
}

static bool listed(const struct fl_observed *out, const char *kind, const char *name)
{
	for (size_t j = 0; j < out->len; j++)
		if (strcmp(out->items[j].kind, kind) == 0 && strcmp(out->items[j].name, name) == 0)
			return true;
	return false;
}

int fl_answer_resources(struct fl_observed *out, const struct fl_node *res, bool managed_required,
			struct fl_error *err)
{
	size_t n = res && res->type == FL_NODE_SEQ ? res->v.seq.len : 0;
	size_t *offs = fl_calloc(n + 1, sizeof(*offs));
	int rc = 0;
	assert(out->len == 0);
	FL_GROW(out->items, out->cap, n);
	for (size_t i = 0; i < n; i++) {
		const struct fl_node *r = res->v.seq.items[i];
		if (r->type != FL_NODE_MAP) {
			rc = fl_error_set(err, FL_EDRIVER, "resource %zu is not an object", i + 1);
			goto out;
		}
		const char *kind = fl_answer_ident(r, "kind", err);
		const char *name = kind ? fl_answer_ident(r, "name", err) : NULL;
		if (!name) {
			rc = FL_EDRIVER;
			goto out;
		}
		const struct fl_node *managed = fl_node_get(r, "managed");
		const struct fl_node *spec = fl_node_get(r, "spec");
		if ((managed ? managed->type != FL_NODE_BOOL : managed_required) || !spec) {
			rc = fl_error_set(err, FL_EDRIVER, "resource %s/%s needs \"spec\" and a boolean \"managed\"",
					  kind, name);
			goto out;
		}
		if (listed(out, kind, name)) {
			rc = fl_error_set(err, FL_EDRIVER, "resource %s/%s is listed twice", kind, name);
			goto out;
		}
		struct fl_error jerr = FL_ERROR_INIT;
		offs[i] = out->raw.len;
		if (fl_json_canonical(&out->raw, spec, &jerr)) {
			rc = fl_error_set(err, FL_EDRIVER, "spec of %s/%s: %s", kind, name, jerr.msg);
			goto out;
		}
		struct fl_observed_res *o = &out->items[out->len++];
		memset(o, 0, sizeof(*o));
		o->kind = fl_arena_strdup(&out->arena, kind);
		o->name = fl_arena_strdup(&out->arena, name);
		o->managed = managed && managed->v.b;
		o->spec_len = out->raw.len - offs[i];
	}
	/* raw may have moved while it grew: point into it only now. */
	for (size_t i = 0; i < out->len; i++) {
		struct fl_observed_res *o = &out->items[i];
		o->spec = out->raw.ptr + offs[i];
		fl_fp_of(&o->fp, o->spec, o->spec_len);
	}
out:
	free(offs);
	return rc;
}
