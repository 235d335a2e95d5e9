/*
 * What every driver shares: the observed-state container that observe fills,
 * and the driver table, through which a configuration opens its driver. The
 * drivers themselves live one per file (driver_dir.c, ...); their entries of
 * fleet.yaml are read in driver_conf.c.
 */
#include "reconcile/drivers/driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "reconcile/drivers/driver_conf.h"
#include "reconcile/fleet/check.h"
#include "reconcile/fleet/syntax.h"
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

/* The kind and name of a resource can go into a file name, a path or a request. */
static bool res_valid(const char *kind, const char *name)
{
	return fl_kind_valid(kind, strlen(kind)) && fl_ident_valid(name, strlen(name));
}

int fl_region_write_check(const struct fl_region_write *w, struct fl_error *err)
{
	for (size_t i = 0; i < w->nput; i++)
		if (!res_valid(w->put[i].kind, w->put[i].name))
			return fl_error_set(err, FL_EINPUT, "resource '%.128s/%.128s' cannot be written (bad kind or name)",
					    w->put[i].kind, w->put[i].name);
	for (size_t i = 0; i < w->ndel; i++)
		if (!res_valid(w->del[i].kind, w->del[i].name))
			return fl_error_set(err, FL_EINPUT, "resource '%.128s/%.128s' cannot be deleted (bad kind or name)",
					    w->del[i].kind, w->del[i].name);
	return 0;
}

/* ---- the driver table ---- */

/*
 * Every driver, one row each, defined in its own file (driver_<name>.c):
 * adding a driver is that file and a row here.
 */
extern const struct fl_driver_type fl_driver_dir_type, fl_driver_exec_type, fl_driver_http_type,
	fl_driver_aws_type;
static const struct fl_driver_type *const drivers[] = {
	&fl_driver_dir_type,
	&fl_driver_exec_type,
	&fl_driver_http_type,
	&fl_driver_aws_type,
};
#define NDRIVERS (sizeof(drivers) / sizeof(drivers[0]))

const struct fl_driver_type *fl_driver_type_find(const char *name)
{
	for (size_t i = 0; i < NDRIVERS; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

void fl_driver_type_names(char *out, size_t cap)
{
	const char *names[NDRIVERS];
	for (size_t i = 0; i < NDRIVERS; i++)
		names[i] = drivers[i]->name;
	fl_names_join(out, cap, names, NDRIVERS);
}

int fl_driver_open(struct fl_driver *out, const struct fl_driver_conf *conf, struct fl_error *err)
{
	char names[128];
	out->ops = NULL;
	out->self = NULL;
	if (!conf->type)
		return fl_error_set(err, FL_EINPUT,
				    "no driver configured (set driver in fleet.yaml or pass --driver)");
	const struct fl_driver_type *row = fl_driver_type_find(conf->type);
	if (!row) {
		fl_driver_type_names(names, sizeof(names));
		return fl_error_set(err, FL_EINPUT, "unknown driver type '%s' (expected %s)", conf->type, names);
	}
	return row->open(out, conf, err);
}

void fl_driver_release(struct fl_driver *driver)
{
	if (driver->ops && driver->ops->free)
		driver->ops->free(driver->self);
	driver->ops = NULL;
	driver->self = NULL;
}
