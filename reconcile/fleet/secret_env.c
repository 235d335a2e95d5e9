/*
 * The secrets list; see secret_env.h. Built from fleet.yaml alone, so the
 * list that guards a pull request's preview is the trusted base's, the one
 * whose driver runs.
 */
#include "reconcile/fleet/secret_env.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/node.h"
#include "core/proc.h"
#include "reconcile/render/template.h"
#include "core/banned.h"

const char *const fl_secret_env_own[] = {
	"FLOTILLA_GIT_TOKEN",
	"FLOTILLA_SSH_PASSPHRASE",
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	NULL,
};

#define NOWN (sizeof(fl_secret_env_own) / sizeof(fl_secret_env_own[0]) - 1)

/*
 * A token_env template as a pattern: each {{...}} stands for any run of
 * characters; an unterminated "{{" stays literal text.
 */
static const char *template_pattern(struct fl_arena *arena, const char *tmpl)
{
	struct fl_buf b = FL_BUF_INIT;
	struct fl_template_ref ref;
	size_t len = strlen(tmpl), at = 0;
	for (;;) {
		enum fl_template_scan scan = fl_template_next(&ref, tmpl, len, at);
		bool ref_found = scan == FL_TEMPLATE_REF || scan == FL_TEMPLATE_EMPTY;
		fl_buf_put(&b, tmpl + at, (ref_found ? ref.open : len) - at);
		if (!ref_found)
			break;
		fl_buf_putc(&b, '*');
		at = ref.end;
	}
	const char *out = fl_arena_strndup(arena, b.ptr, b.len);
	fl_buf_release(&b);
	return out;
}

const char *const *fl_secret_env_build(struct fl_arena *arena, const struct fl_fleet *fleet)
{
	static const char *const status_keys[] = { "token_env", "url_env" }; /* url_env: a webhook's URL */
	const char **list = fl_arena_calloc(arena, NOWN + 2 * fleet->nstatus + 2, sizeof(*list));
	size_t n = 0;
	for (size_t i = 0; i < NOWN; i++)
		list[n++] = fl_secret_env_own[i];
	for (size_t i = 0; i < fleet->nstatus; i++) {
		for (size_t k = 0; k < 2 && fleet->status[i].node; k++) {
			const struct fl_node *v = fl_node_get(fleet->status[i].node, status_keys[k]);
			if (v && v->type == FL_NODE_STR && v->v.str.ptr[0])
				list[n++] = v->v.str.ptr;
		}
	}
	/* A driver that reads a token from the environment names it token_env (the http driver). */
	const struct fl_node *tv = fl_node_get(fleet->driver.node, "token_env");
	if (tv && tv->type == FL_NODE_STR && tv->v.str.ptr[0])
		list[n++] = template_pattern(arena, tv->v.str.ptr);
	list[n] = NULL;
	return list;
}

bool fl_secret_env_drops(const char *const *list, const char *name)
{
	for (; list && *list; list++)
		if (fl_env_name_matches(*list, name, strlen(name)))
			return true;
	return false;
}

bool fl_secret_env_never_passed(const char *name)
{
	return strcmp(name, "FLOTILLA_GIT_TOKEN") == 0 || strcmp(name, "FLOTILLA_SSH_PASSPHRASE") == 0;
}

void fl_env_list_add(struct fl_env_list *l, const char *name, const char *value)
{
	size_t len = strlen(name) + 1 + strlen(value) + 1;
	char *s = fl_malloc(len);
	snprintf(s, len, "%s=%s", name, value);
	FL_GROW(l->items, l->cap, l->len + 2);
	l->items[l->len++] = s;
	l->items[l->len] = NULL;
}

void fl_env_list_pass(struct fl_env_list *l, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *value = getenv(names[i]);
		if (value)
			fl_env_list_add(l, names[i], value);
	}
}

const char *const *fl_env_list_entries(const struct fl_env_list *l)
{
	return (const char *const *)l->items;
}

void fl_env_list_release(struct fl_env_list *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}
