/*
 * What every driver shares: the observed-state container that observe fills,
 * parsing of --driver TYPE:ARG, and opening the driver a configuration names.
 * The drivers themselves live one per file (driver_dir.c, ...).
 */
#include "reconcile/driver.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/banned.h"

void fl_observed_init(struct fl_observed *obs)
{
	memset(obs, 0, sizeof(*obs));
	obs->items = NULL;
	fl_buf_init(&obs->raw, 0);
	fl_arena_init(&obs->arena, 0);
}

void fl_observed_clear(struct fl_observed *obs)
{
	obs->exists = false;
	obs->has_marker = false;
	memset(&obs->marker, 0, sizeof(obs->marker));
	/* items and raw keep their storage, so observing region after region reuses it. */
	obs->len = 0;
	fl_buf_clear(&obs->raw);
	fl_arena_release(&obs->arena);
}

void fl_observed_release(struct fl_observed *obs)
{
	free(obs->items);
	fl_buf_release(&obs->raw);
	fl_arena_release(&obs->arena);
	fl_observed_init(obs);
}

const struct fl_observed_res *fl_observed_find(const struct fl_observed *obs, const char *kind,
					       const char *name)
{
	for (size_t i = 0; i < obs->len; i++) {
		const struct fl_observed_res *o = &obs->items[i];
		if (strcmp(o->name, name) == 0 && strcmp(o->kind, kind) == 0)
			return o;
	}
	return NULL;
}

static int usage(struct fl_error *err)
{
	return fl_error_set(err, FL_EUSAGE, "--driver expects TYPE:ARG, like dir:/tmp/accounts");
}

/* Splits cmd on spaces into out->command (empty words skipped); FL_EUSAGE when none. */
static int split_command(struct fl_driver_conf *out, struct fl_arena *arena, const char *cmd,
			 struct fl_error *err)
{
	size_t n = 0;
	int rc = 0;
	for (const char *p = cmd; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		n++;
		while (*p && *p != ' ')
			p++;
	}
	if (n == 0) {
		rc = usage(err);
		goto out;
	}
	out->command = fl_arena_calloc(arena, n, sizeof(*out->command));
	out->ncommand = 0;
	for (const char *p = cmd; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ' ')
			p++;
		out->command[out->ncommand++] = fl_arena_strndup(arena, start, (size_t)(p - start));
	}
out:
	return rc;
}

int fl_driver_conf_parse(struct fl_driver_conf *out, struct fl_arena *arena, const char *arg,
			 struct fl_error *err)
{
	int rc = 0;
	memset(out, 0, sizeof(*out));
	const char *colon = arg ? strchr(arg, ':') : NULL;
	if (!colon || colon[1] == '\0') {
		rc = usage(err);
		goto out;
	}
	size_t tlen = (size_t)(colon - arg);
	const char *val = colon + 1;
	if (tlen == 3 && memcmp(arg, "dir", 3) == 0) {
		out->type = "dir";
		out->root = fl_arena_strdup(arena, val);
	} else if (tlen == 4 && memcmp(arg, "exec", 4) == 0) {
		out->type = "exec";
		rc = split_command(out, arena, val, err);
	} else if (tlen == 4 && memcmp(arg, "http", 4) == 0) {
		out->type = "http";
		out->endpoint = fl_arena_strdup(arena, val);
	} else {
		rc = usage(err);
	}
out:
	return rc;
}

int fl_driver_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err)
{
	int rc = 0;
	out->ops = NULL;
	out->self = NULL;
	if (!conf->type) {
		rc = fl_error_set(err, FL_EINPUT,
				  "no driver configured (set driver in fleet.yaml or pass --driver)");
	} else if (strcmp(conf->type, "dir") == 0) {
		if (!conf->root || !conf->root[0])
			rc = fl_error_set(err, FL_EINPUT, "driver 'dir' needs a root directory");
		else
			rc = fl_driver_dir_open(out, conf->root, err);
	} else if (strcmp(conf->type, "exec") == 0) {
		rc = fl_driver_exec_open(out, conf, err);
	} else if (strcmp(conf->type, "http") == 0) {
		rc = fl_driver_http_open(out, conf, err);
	} else {
		rc = fl_error_set(err, FL_EINPUT, "unknown driver type '%s' (expected dir, exec or http)",
				  conf->type);
	}
	return rc;
}

void fl_driver_close(struct fl_driver *driver)
{
	if (driver->ops && driver->ops->free)
		driver->ops->free(driver->self);
	driver->ops = NULL;
	driver->self = NULL;
}
