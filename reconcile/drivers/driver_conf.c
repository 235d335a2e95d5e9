/*
 * A driver's entry of fleet.yaml: the check of its type and, through the
 * driver table, of its keys; the entry --driver TYPE:ARG stands for; and the
 * readers the drivers share when they open. See driver_conf.h.
 */
#include "reconcile/drivers/driver_conf.h"

#include <stdio.h>
#include <string.h>

#include "reconcile/drivers/driver.h"
#include "reconcile/fleet/check.h"
#include "reconcile/fleet/syntax.h"
#include "core/banned.h"

#define MAX_KEYS 16

/* ---- checking an entry when the fleet loads ---- */

static const struct fl_driver_key *key_find(const struct fl_driver_key *keys, const struct fl_pair *p)
{
	for (; keys->name; keys++)
		if (fl_key_is(p, keys->name))
			return keys;
	return NULL;
}

static void unknown_key(struct fl_vctx *c, const struct fl_pair *p, const struct fl_driver_key *keys)
{
	const char *names[MAX_KEYS + 2] = { "type" };
	size_t n = 1;
	for (; keys->name && n <= MAX_KEYS; keys++)
		names[n++] = keys->name;
	names[n] = NULL;
	if (fl_key_is(p, "pass_env"))
		fl_verr(c, p->key, "pass_env is only for the exec driver (no other driver starts a program)");
	else
		fl_unknown_key(c, p->key, "driver", names);
}

static void check_value(struct fl_vctx *c, const struct fl_driver_key *k, const struct fl_node *v)
{
	const char **strings;
	size_t n;
	const struct fl_node *ignored;
	switch (k->kind) {
	case FL_DRIVER_STRING:
		(void)fl_vstring(c, v);
		break;
	case FL_DRIVER_WORDS:
		(void)fl_vstrings(&strings, &n, c, v, k->name);
		break;
	case FL_DRIVER_PASS_ENV:
		fl_vpass_env(&strings, &n, &ignored, c, v);
		break;
	case FL_DRIVER_TIMEOUT:
		break;
	}
}

void fl_driver_check_keys(struct fl_vctx *c, const struct fl_node *entry, const char *type,
			  const struct fl_driver_key *keys)
{
	for (size_t i = 0; i < entry->v.map.len; i++) {
		const struct fl_pair *p = &entry->v.map.items[i];
		const struct fl_driver_key *k = key_find(keys, p);
		if (k)
			check_value(c, k, p->value);
		else if (!fl_key_is(p, "type"))
			unknown_key(c, p, keys);
	}
	for (; keys->name; keys++)
		if (keys->required && !fl_node_get(entry, keys->name))
			fl_verr(c, entry, "missing required key '%s' in %s driver", keys->name, type);
}

void fl_driver_check_timeout(struct fl_vctx *c, const struct fl_node *entry, unsigned max_s,
			     const char *examples, const char *max)
{
	struct fl_error e = FL_ERROR_INIT;
	unsigned ignored;
	if (fl_driver_conf_timeout(&ignored, entry, 1, max_s, examples, max, &e))
		fl_vdiag(c, e.code, e.line, e.col, "%s", e.msg);
}

void fl_driver_conf_check(struct fl_driver_conf *out, struct fl_vctx *c, const struct fl_node *entry)
{
	char names[128];
	memset(out, 0, sizeof(*out));
	if (!fl_vexpect(c, entry, FL_NODE_MAP, "a mapping like { type: dir, root: accounts }"))
		return;
	out->node = entry;
	fl_driver_type_names(names, sizeof(names));
	const struct fl_node *t = fl_node_get(entry, "type");
	if (!t) {
		fl_verr(c, entry, "missing required key 'type' in driver (expected %s)", names);
		return;
	}
	const struct fl_driver_type *row = t->type == FL_NODE_STR ? fl_driver_type_find(t->v.str.ptr) : NULL;
	if (!row) {
		fl_verr(c, t, "unknown driver type (expected %s)", names);
		return;
	}
	out->type = row->name;
	row->check(c, entry);
}

/* ---- the entry of --driver TYPE:ARG ---- */

static struct fl_node *str_node(struct fl_arena *arena, const char *s, size_t len)
{
	struct fl_node *n = fl_arena_calloc(arena, 1, sizeof(*n));
	n->type = FL_NODE_STR;
	n->v.str.ptr = fl_arena_strndup(arena, s, len);
	n->v.str.len = len;
	return n;
}

/* ARG split on spaces, empty words skipped; NULL when it has none. */
static struct fl_node *words_node(struct fl_arena *arena, const char *arg)
{
	size_t n = 0;
	for (const char *p = arg; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		n++;
		while (*p && *p != ' ')
			p++;
	}
	if (n == 0)
		return NULL;
	struct fl_node *seq = fl_arena_calloc(arena, 1, sizeof(*seq));
	seq->type = FL_NODE_SEQ;
	seq->v.seq.items = fl_arena_calloc(arena, n, sizeof(*seq->v.seq.items));
	for (const char *p = arg; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ' ')
			p++;
		seq->v.seq.items[seq->v.seq.len++] = str_node(arena, start, (size_t)(p - start));
	}
	return seq;
}

static int usage(struct fl_error *err)
{
	return fl_error_set(err, FL_EUSAGE, "--driver expects TYPE:ARG, like dir:/tmp/accounts");
}

int fl_driver_conf_parse(struct fl_driver_conf *out, struct fl_arena *arena, const char *arg,
			 struct fl_error *err)
{
	char name[32];
	memset(out, 0, sizeof(*out));
	const char *colon = arg ? strchr(arg, ':') : NULL;
	if (!colon || colon[1] == '\0' || (size_t)(colon - arg) >= sizeof(name))
		return usage(err);
	snprintf(name, sizeof(name), "%.*s", (int)(colon - arg), arg);
	const struct fl_driver_type *row = fl_driver_type_find(name);
	if (!row)
		return usage(err);
	const char *val = colon + 1;
	struct fl_node *value = row->arg_words ? words_node(arena, val) : str_node(arena, val, strlen(val));
	if (!value)
		return usage(err);
	struct fl_node *map = fl_arena_calloc(arena, 1, sizeof(*map));
	map->type = FL_NODE_MAP;
	map->v.map.items = fl_arena_calloc(arena, 2, sizeof(*map->v.map.items));
	map->v.map.items[0] = (struct fl_pair){ str_node(arena, "type", 4), str_node(arena, row->name, strlen(row->name)) };
	map->v.map.items[1] = (struct fl_pair){ str_node(arena, row->arg_key, strlen(row->arg_key)), value };
	map->v.map.len = 2;
	out->type = row->name;
	out->node = map;
	return 0;
}

/* ---- reading an entry when the driver opens ---- */

const char *fl_driver_conf_str(const struct fl_driver_conf *conf, const char *key)
{
	const struct fl_node *v = conf->node ? fl_node_get(conf->node, key) : NULL;
	return v && v->type == FL_NODE_STR ? v->v.str.ptr : NULL;
}

/* Seconds of a duration like 90, "90s", "5m" or "1h30m"; 0 when malformed or past max_s. */
static unsigned timeout_of(const struct fl_node *v, unsigned max_s)
{
	unsigned secs = 0;
	if (v->type == FL_NODE_INT)
		return v->v.i > 0 && v->v.i <= max_s ? (unsigned)v->v.i : 0;
	if (v->type != FL_NODE_STR || !fl_duration_parse(&secs, v->v.str.ptr))
		return 0;
	return secs <= max_s ? secs : 0;
}

int fl_driver_conf_timeout(unsigned *out, const struct fl_node *entry, unsigned def, unsigned max_s,
			   const char *examples, const char *max, struct fl_error *err)
{
	const struct fl_node *v = entry ? fl_node_get(entry, "timeout") : NULL;
	*out = v ? timeout_of(v, max_s) : def;
	if (!v || *out)
		return 0;
	return fl_error_set_at(err, FL_EINPUT, NULL, v->line, v->col,
			       "invalid driver timeout (expected seconds or a duration like %s, at most %s)",
			       examples, max);
}
