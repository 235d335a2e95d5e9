/*
 * Comparing the trusted settings of two fleets; see trust.h. Entries are
 * compared as parsed (driver and status entries as their YAML trees, verify
 * commands field by field), so a change of layout or comments is no change.
 */
#include "reconcile/fleet/trust.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/node.h"
#include "core/banned.h"

/* Absent on both sides is equal; on one side only, a change. */
static bool nodes_equal(const struct fl_node *a, const struct fl_node *b)
{
	if (!a || !b)
		return a == b;
	return fl_node_equal(a, b);
}

static bool strings_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool verify_equal(const struct fl_wave *a, const struct fl_wave *b)
{
	size_t na = a ? a->nverify : 0, nb = b ? b->nverify : 0;
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		const struct fl_verify *x = &a->verify[i], *y = &b->verify[i];
		if (strcmp(x->name ? x->name : "", y->name ? y->name : "") != 0 || x->timeout_s != y->timeout_s ||
		    !strings_equal(x->argv, x->argc, y->argv, y->argc) ||
		    !strings_equal(x->pass_env, x->npass_env, y->pass_env, y->npass_env))
			return false;
	}
	return true;
}

static bool status_equal(const struct fl_fleet *a, const struct fl_fleet *b)
{
	if (a->nstatus != b->nstatus)
		return false;
	for (size_t i = 0; i < a->nstatus; i++)
		if (!nodes_equal(a->status[i].node, b->status[i].node))
			return false;
	return true;
}

static const struct fl_wave *wave_named(const struct fl_fleet *f, const char *name)
{
	int i = fl_fleet_wave_index(f, name);
	return i < 0 ? NULL : &f->waves[i];
}

static void add_verify(struct fl_trust_changes *out, size_t *cap, const char *wave)
{
	FL_GROW(out->verify, *cap, out->nverify + 1);
	out->verify[out->nverify++] = wave;
}

void fl_trust_compare(struct fl_trust_changes *out, const struct fl_fleet *head, const struct fl_fleet *base)
{
	size_t cap = 0;
	memset(out, 0, sizeof(*out));
	fl_oid_hex(out->base, &base->commit);
	out->driver = !nodes_equal(head->driver.node, base->driver.node);
	out->status = !status_equal(head, base);
	for (size_t w = 0; w < head->nwaves; w++) {
		const struct fl_wave *hw = &head->waves[w];
		if (!verify_equal(hw, wave_named(base, hw->name)))
			add_verify(out, &cap, hw->name);
	}
	/* A wave the head removed, or renamed, drops its verify: a change too. */
	for (size_t w = 0; w < base->nwaves; w++) {
		const struct fl_wave *bw = &base->waves[w];
		if (bw->nverify && !wave_named(head, bw->name))
			add_verify(out, &cap, bw->name);
	}
}

bool fl_trust_changed(const struct fl_trust_changes *c)
{
	return c->driver || c->status || c->nverify;
}

void fl_trust_changes_release(struct fl_trust_changes *c)
{
	free(c->verify);
	memset(c, 0, sizeof(*c));
}
