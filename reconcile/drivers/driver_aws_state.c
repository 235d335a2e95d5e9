/*
 * The aws driver's state parameter: its JSON (a versioned document in the
 * parameter's Value), read and written through Cloud Control like every
 * other resource. See driver_aws.h.
 */
#include "reconcile/drivers/driver_aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hash.h"
#include "core/json.h"
#include "reconcile/drivers/driver_answer.h"
#include "reconcile/fleet/syntax.h"
#include "core/banned.h"

#define STATE_VERSION 1

void fl_aws_state_init(struct fl_aws_state *st)
{
	memset(st, 0, sizeof(*st));
	fl_arena_init(&st->arena, 0);
}

void fl_aws_state_release(struct fl_aws_state *st)
{
	free(st->res);
	free(st->regions);
	fl_arena_release(&st->arena);
	fl_aws_state_init(st);
}

struct fl_aws_res *fl_aws_state_find(struct fl_aws_state *st, const char *kind, const char *name)
{
	for (size_t i = 0; i < st->nres; i++)
		if (strcmp(st->res[i].name, name) == 0 && strcmp(st->res[i].kind, kind) == 0)
			return &st->res[i];
	return NULL;
}

void fl_aws_state_remove(struct fl_aws_state *st, const char *kind, const char *name)
{
	struct fl_aws_res *r = fl_aws_state_find(st, kind, name);
	if (!r)
		return;
	size_t at = (size_t)(r - st->res);
	memmove(r, r + 1, (st->nres - at - 1) * sizeof(*r));
	st->nres--;
}

void fl_aws_state_add_region(struct fl_aws_state *st, const char *region)
{
	for (size_t i = 0; i < st->nregions; i++)
		if (strcmp(st->regions[i], region) == 0)
			return;
	FL_GROW(st->regions, st->capregions, st->nregions + 1);
	st->regions[st->nregions++] = fl_arena_strdup(&st->arena, region);
}

void fl_aws_state_put(struct fl_aws_state *st, const char *kind, const char *name, const char *id,
		      const struct fl_node *spec)
{
	struct fl_aws_res *r = fl_aws_state_find(st, kind, name);
	if (!r) {
		FL_GROW(st->res, st->capres, st->nres + 1);
		r = &st->res[st->nres++];
		r->kind = fl_arena_strdup(&st->arena, kind);
		r->name = fl_arena_strdup(&st->arena, name);
	}
	r->id = fl_arena_strdup(&st->arena, id);
	r->nkeys = spec && spec->type == FL_NODE_MAP ? spec->v.map.len : 0;
	r->keys = fl_arena_calloc(&st->arena, r->nkeys + 1, sizeof(*r->keys));
	for (size_t i = 0; i < r->nkeys; i++)
		r->keys[i] = fl_arena_strdup(&st->arena, spec->v.map.items[i].key->v.str.ptr);
}

struct fl_node *fl_aws_project(struct fl_arena *arena, const struct fl_node *props, const char *const *keys,
			       size_t nkeys)
{
	struct fl_node *out = fl_arena_calloc(arena, 1, sizeof(*out));
	out->type = FL_NODE_MAP;
	out->v.map.items = fl_arena_calloc(arena, nkeys + 1, sizeof(*out->v.map.items));
	for (size_t i = 0; i < nkeys; i++) {
		const struct fl_node *v = fl_node_get(props, keys[i]);
		if (!v)
			continue;
		struct fl_pair *p = &out->v.map.items[out->v.map.len++];
		p->key = fl_arena_calloc(arena, 1, sizeof(*p->key));
		p->key->type = FL_NODE_STR;
		p->key->v.str.ptr = fl_arena_strdup(arena, keys[i]);
		p->key->v.str.len = strlen(keys[i]);
		p->value = (struct fl_node *)v;
	}
	return out;
}

/* ---- the document ---- */

static void put_str(struct fl_buf *b, const char *s)
{
	fl_json_put_str(b, s, strlen(s));
}

void fl_aws_state_encode(struct fl_buf *b, const struct fl_aws_state *st)
{
	fl_buf_printf(b, "{\"generation\":%lld,\"marker\":", st->generation);
	if (st->has_marker) {
		char tfp[FL_FP_HEX_LEN + 1], ifp[FL_FP_HEX_LEN + 1];
		fl_fp_hex(tfp, &st->marker.tenant_fp);
		fl_fp_hex(ifp, &st->marker.inputs_fp);
		fl_buf_printf(b,
			      "{\"inputs_fingerprint\":\"%s\",\"resources\":%zu,\"revision\":\"%s\","
			      "\"tenant_fingerprint\":\"%s\"}",
			      ifp, st->marker.resources, st->marker.revision, tfp);
	} else {
		fl_buf_puts(b, "null");
	}
	fl_buf_puts(b, ",\"regions\":[");
	for (size_t i = 0; i < st->nregions; i++) {
		fl_buf_puts(b, i ? "," : "");
		put_str(b, st->regions[i]);
	}
	fl_buf_puts(b, "],\"resources\":[");
	for (size_t i = 0; i < st->nres; i++) {
		const struct fl_aws_res *r = &st->res[i];
		fl_buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
		put_str(b, r->id);
		fl_buf_puts(b, ",\"keys\":[");
		for (size_t k = 0; k < r->nkeys; k++) {
			fl_buf_puts(b, k ? "," : "");
			put_str(b, r->keys[k]);
		}
		fl_buf_puts(b, "],\"kind\":");
		put_str(b, r->kind);
		fl_buf_puts(b, ",\"name\":");
		put_str(b, r->name);
		fl_buf_putc(b, '}');
	}
	fl_buf_printf(b, "],\"version\":%d}", STATE_VERSION);
}

static const char *str_of(const struct fl_node *map, const char *key)
{
	const struct fl_node *v = fl_answer_get(map, key, FL_NODE_STR);
	return v ? v->v.str.ptr : NULL;
}

static int decode_res(struct fl_aws_state *st, const struct fl_node *r, struct fl_error *err)
{
	const char *kind = str_of(r, "kind"), *name = str_of(r, "name"), *id = str_of(r, "id");
	const struct fl_node *keys = fl_answer_get(r, "keys", FL_NODE_SEQ);
	if (!kind || !name || !id || !keys || !fl_kind_valid(kind, strlen(kind)) ||
	    !fl_ident_valid(name, strlen(name)))
		return fl_error_set(err, FL_EDRIVER, "a resource lacks a valid kind, name, id or keys");
	FL_GROW(st->res, st->capres, st->nres + 1);
	struct fl_aws_res *out = &st->res[st->nres++];
	out->kind = fl_arena_strdup(&st->arena, kind);
	out->name = fl_arena_strdup(&st->arena, name);
	out->id = fl_arena_strdup(&st->arena, id);
	out->nkeys = keys->v.seq.len;
	out->keys = fl_arena_calloc(&st->arena, out->nkeys + 1, sizeof(*out->keys));
	for (size_t k = 0; k < out->nkeys; k++) {
		const struct fl_node *key = keys->v.seq.items[k];
		if (key->type != FL_NODE_STR)
			return fl_error_set(err, FL_EDRIVER, "a key of %s/%s is not a string", kind, name);
		out->keys[k] = fl_arena_strdup(&st->arena, key->v.str.ptr);
	}
	return 0;
}

static int decode(struct fl_aws_state *st, const struct fl_node *doc, struct fl_error *err)
{
	const struct fl_node *version = fl_answer_get(doc, "version", FL_NODE_INT);
	const struct fl_node *generation = fl_answer_get(doc, "generation", FL_NODE_INT);
	if (!version || version->v.i != STATE_VERSION)
		return fl_error_set(err, FL_EDRIVER, "not a flotilla state of version %d", STATE_VERSION);
	if (!generation || generation->v.i < 0)
		return fl_error_set(err, FL_EDRIVER, "generation is missing");
	st->generation = generation->v.i;
	int rc = fl_answer_marker(&st->marker, &st->has_marker, fl_node_get(doc, "marker"), true, err);
	const struct fl_node *regions = fl_answer_get(doc, "regions", FL_NODE_SEQ);
	const struct fl_node *res = fl_answer_get(doc, "resources", FL_NODE_SEQ);
	if (!rc && (!regions || !res))
		rc = fl_error_set(err, FL_EDRIVER, "regions or resources is missing");
	for (size_t i = 0; !rc && i < regions->v.seq.len; i++) {
		const struct fl_node *r = regions->v.seq.items[i];
		if (r->type != FL_NODE_STR || !fl_ident_valid(r->v.str.ptr, r->v.str.len))
			return fl_error_set(err, FL_EDRIVER, "region %zu is not a valid name", i + 1);
		fl_aws_state_add_region(st, r->v.str.ptr);
	}
	for (size_t i = 0; !rc && i < res->v.seq.len; i++)
		rc = decode_res(st, res->v.seq.items[i], err);
	return rc;
}

int fl_aws_state_fetch(struct fl_buf *value, bool *exists, const struct fl_cc *cc, const char *param,
		       struct fl_error *err)
{
	struct fl_buf props = FL_BUF_INIT;
	struct fl_arena arena;
	struct fl_node *root = NULL;
	struct fl_error jerr = FL_ERROR_INIT;
	fl_arena_init(&arena, 0);
	props.max = 64 * 1024;
	fl_buf_clear(value);
	int rc = fl_cc_get(&props, exists, cc, FL_AWS_STATE_TYPE, param, err);
	if (rc || !*exists)
		goto out;
	struct fl_source src = { param, props.ptr, props.len };
	const char *v = NULL;
	if (!fl_json_parse(&root, &arena, &src, &jerr))
		v = str_of(root, "Value");
	if (!v)
		rc = fl_error_set(err, FL_EDRIVER, "state parameter '%s' has no Value", param);
	else
		fl_buf_puts(value, v);
out:
	fl_arena_release(&arena);
	fl_buf_release(&props);
	return rc;
}

int fl_aws_state_load(struct fl_aws_state *st, const char *value, const char *param, struct fl_error *err)
{
	struct fl_arena arena;
	struct fl_node *doc = NULL;
	struct fl_error jerr = FL_ERROR_INIT;
	int rc = 0;
	fl_aws_state_release(st);
	if (!value)
		return 0;
	fl_arena_init(&arena, 0);
	struct fl_source src = { param, value, strlen(value) };
	if (fl_json_parse(&doc, &arena, &src, &jerr) || doc->type != FL_NODE_MAP)
		rc = fl_error_set(err, FL_EDRIVER, "state parameter '%s' does not hold flotilla's state "
				  "(a JSON object in Value)", param);
	else if ((rc = decode(st, doc, err)))
		fl_error_prefix(err, "state parameter '%s': ", param);
	else
		st->exists = true;
	fl_arena_release(&arena);
	return rc;
}

int fl_aws_state_read(struct fl_aws_state *st, const struct fl_cc *cc, const char *param, struct fl_error *err)
{
	struct fl_buf value = FL_BUF_INIT;
	bool exists = false;
	int rc = fl_aws_state_fetch(&value, &exists, cc, param, err);
	if (!rc)
		rc = fl_aws_state_load(st, exists ? value.ptr : NULL, param, err);
	fl_buf_release(&value);
	return rc;
}

static void token(char out[33], const char *const seed[3], const char *op, const struct fl_buf *value)
{
	struct fl_fp fp;
	char hex[FL_FP_HEX_LEN + 1];
	fl_fp_of(&fp, value->ptr, value->len);
	fl_fp_hex(hex, &fp);
	const char *parts[] = { seed[0], seed[1], seed[2], "state", op, hex };
	fl_cc_client_token(out, parts, sizeof(parts) / sizeof(parts[0]));
}

int fl_aws_state_write(struct fl_buf *written, struct fl_aws_state *st, const struct fl_cc *cc, const char *param,
		       const char *const seed[3], struct fl_error *err)
{
	struct fl_buf value = FL_BUF_INIT, body = FL_BUF_INIT;
	struct fl_cc_event ev;
	char tok[33];
	int rc;
	st->generation++;
	fl_aws_state_encode(&value, st);
	if (value.len > FL_AWS_STATE_MAX) {
		rc = fl_error_set(err, FL_ELIMIT,
				  "the state of region %s is %zu bytes, more than the %d an SSM parameter holds "
				  "(too many resources in one region)", seed[2], value.len, FL_AWS_STATE_MAX);
		goto out;
	}
	if (st->exists) {
		fl_buf_puts(&body, "[{\"op\":\"replace\",\"path\":\"/Value\",\"value\":");
		fl_json_put_str(&body, value.ptr, value.len);
		fl_buf_puts(&body, "}]");
		token(tok, seed, "update", &value);
		rc = fl_cc_update(&ev, cc, FL_AWS_STATE_TYPE, param, body.ptr, body.len, tok, err);
	} else {
		fl_buf_puts(&body, "{\"Name\":");
		put_str(&body, param);
		fl_buf_puts(&body, ",\"Tier\":\"Intelligent-Tiering\",\"Type\":\"String\",\"Value\":");
		fl_json_put_str(&body, value.ptr, value.len);
		fl_buf_putc(&body, '}');
		token(tok, seed, "create", &value);
		rc = fl_cc_create(&ev, cc, FL_AWS_STATE_TYPE, body.ptr, body.len, tok, err);
	}
	if (!rc)
		rc = fl_cc_wait(&ev, cc, err);
	if (rc) {
		st->generation--;
		fl_error_prefix(err, "writing state parameter '%s': ", param);
	} else {
		st->exists = true;
		if (written) {
			fl_buf_clear(written);
			fl_buf_put(written, value.ptr, value.len);
		}
	}
out:
	fl_buf_release(&body);
	fl_buf_release(&value);
	return rc;
}

int fl_aws_state_delete(struct fl_aws_state *st, const struct fl_cc *cc, const char *param,
			const char *const seed[3], struct fl_error *err)
{
	struct fl_cc_event ev;
	struct fl_buf gen = FL_BUF_INIT;
	char tok[33];
	fl_buf_printf(&gen, "%lld", st->generation);
	token(tok, seed, "delete", &gen);
	fl_buf_release(&gen);
	int rc = fl_cc_delete(&ev, cc, FL_AWS_STATE_TYPE, param, tok, err);
	if (!rc && (rc = fl_cc_wait(&ev, cc, err)) && strcmp(ev.error_code, "NotFound") == 0)
		rc = 0;
	if (rc)
		fl_error_prefix(err, "deleting state parameter '%s': ", param);
	else
		st->exists = false;
	return rc;
}
