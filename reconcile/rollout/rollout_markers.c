/*
 * Where the accounts are relative to the rollout's commit, by the markers
 * they hold: at it; at a descendant (the rollout is superseded for that
 * tenant); or at an ancestor, an older rollout this one moves on, whose
 * unstarted waves are then marked superseded and whose removed tenant files
 * are reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "reconcile/rollout/rollout_internal.h"
#include "core/banned.h"

/* Whether a is b or an ancestor of b; git's failure is returned, never read as "no". */
static int is_ancestor(bool *out, struct rollout *r, const struct fl_oid *a, const struct fl_oid *b,
		       struct fl_error *err)
{
	pthread_mutex_lock(&r->repo_lock);
	int rc = fl_repo_is_ancestor(out, r->repo, a, b, err);
	pthread_mutex_unlock(&r->repo_lock);
	return rc;
}

/* Where commit stands, when a marker met before named it. */
static bool placed_before(enum fl_rollout_place *out, struct rollout *r, const struct fl_oid *commit)
{
	bool found = false;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->nplaced && !found; i++) {
		if (fl_oid_equal(&r->placed[i].commit, commit)) {
			*out = r->placed[i].where;
			found = true;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

/* Keeps where commit stands for the next tenants, and an older commit for fl_rollout_supersede_older. */
static void remember_place(struct rollout *r, const struct fl_oid *commit, enum fl_rollout_place where)
{
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->nplaced; i++)
		if (fl_oid_equal(&r->placed[i].commit, commit))
			goto out; /* another tenant's thread placed it meanwhile */
	FL_GROW(r->placed, r->capplaced, r->nplaced + 1);
	r->placed[r->nplaced++] = (struct fl_rollout_placed){ *commit, where };
	if (where == FL_PLACE_BEHIND) {
		FL_GROW(r->behind, r->capbehind, r->nbehind + 1);
		r->behind[r->nbehind++] = *commit;
	}
out:
	pthread_mutex_unlock(&r->lock);
}

/* Parses a marker's revision; false for none or garbage. */
static bool marker_oid(struct fl_oid *out, const struct fl_marker *m)
{
	for (size_t i = 0; i < sizeof(out->id); i++) {
		unsigned v;
		if (sscanf(m->revision + 2 * i, "%2x", &v) != 1)
			return false;
		out->id[i] = (unsigned char)v;
	}
	return true;
}

/*
 * A commit the repository lacks is the likely failure (the account was
 * rolled out from a clone with commits not fetched here): say so plainly.
 */
static int find_commit(struct rollout *r, const struct fl_marker *m, struct fl_error *err)
{
	struct fl_oid found;
	pthread_mutex_lock(&r->repo_lock);
	int rc = fl_repo_resolve(&found, r->repo, m->revision, err);
	pthread_mutex_unlock(&r->repo_lock);
	if (rc == FL_ENOTFOUND)
		return fl_error_set(err, rc, "the account's marker names %.12s, a commit this repository does not "
				    "have: fetch it, then run again", m->revision);
	if (rc)
		fl_error_prefix(err, "the account's marker names %.12s: ", m->revision);
	return rc;
}

/*
 * Where the commit of marker m (oid) stands, asking git once per commit:
 * every account at it stands the same.
 */
static int place_commit(enum fl_rollout_place *out, struct rollout *r, const struct fl_marker *m,
			const struct fl_oid *oid, struct fl_error *err)
{
	bool yes = false;
	int rc;
	if (placed_before(out, r, oid))
		return 0;
	if ((rc = find_commit(r, m, err)))
		return rc;
	if ((rc = is_ancestor(&yes, r, &r->fleet->commit, oid, err)))
		goto fail;
	*out = FL_PLACE_AHEAD;
	if (!yes) {
		if ((rc = is_ancestor(&yes, r, oid, &r->fleet->commit, err)))
			goto fail;
		*out = yes ? FL_PLACE_BEHIND : FL_PLACE_APART;
	}
	remember_place(r, oid, *out);
	return 0;
fail:
	fl_error_prefix(err, "the account's marker names %.12s: ", m->revision);
	return rc;
}

/* Sorts out a marker at another commit than the rollout's: ahead, behind, or neither. */
static int place_marker(struct fl_rollout_markers *out, struct rollout *r, const struct fl_marker *m,
			struct fl_error *err)
{
	struct fl_oid oid;
	enum fl_rollout_place where;
	if (!marker_oid(&oid, m))
		return 0;
	int rc = place_commit(&where, r, m, &oid, err);
	if (!rc && where == FL_PLACE_AHEAD) {
		out->ahead = true;
		memcpy(out->ahead_rev, m->revision, FL_OID_HEX_LEN + 1);
	}
	return rc;
}

int fl_rollout_read_markers(struct fl_rollout_markers *out, struct rollout *r, const struct fl_tenant *t,
			    struct fl_error *err)
{
	out->at_rev = t->nregions > 0;
	out->ahead = false;
	for (size_t i = 0; i < t->nregions; i++) {
		struct fl_marker *m = &out->m[i];
		/* A marker that cannot be read is none: the plan observes the region instead. */
		struct fl_error ignored = FL_ERROR_INIT;
		out->found[i] = false;
		if (r->driver->ops->marker(r->driver->self, t, t->regions[i], m, &out->found[i], &ignored) ||
		    !out->found[i]) {
			out->found[i] = false;
			out->at_rev = false;
			continue;
		}
		out->tenant_fp = m->tenant_fp;
		if (strcmp(m->revision, r->fleet->revision) == 0)
			continue;
		out->at_rev = false;
		int rc = place_marker(out, r, m, err);
		if (rc) {
			fl_error_prefix(err, "region '%s': ", t->regions[i]);
			return rc;
		}
	}
	return 0;
}

void fl_rollout_supersede_older(struct rollout *r)
{
	char desc[160];
	snprintf(desc, sizeof(desc), "superseded by %.7s", r->fleet->revision);
	for (size_t i = 0; i < r->nbehind; i++) {
		struct fl_ledger *old = NULL;
		struct fl_error e = FL_ERROR_INIT;
		if (fl_ledger_open(&old, fl_repo_gitdir(r->repo), &r->behind[i], &e)) {
			fl_rollout_status_error(r, e.code, &e);
			continue;
		}
		for (size_t w = 0; w < r->fleet->nwaves; w++) {
			char context[160];
			enum fl_state state = FL_STATE_PENDING;
			bool known = fl_wave_state(old, r->fleet->waves[w].name, &state, NULL);
			if (known && (state == FL_STATE_SUCCESS || state == FL_STATE_FAILURE))
				continue;
			if (!known && w == 0)
				continue; /* never started: not a rollout of ours */
			fl_wave_context(context, sizeof(context), r->fleet->waves[w].name);
			fl_rollout_status_error(r, fl_ledger_set_context(old, context, FL_STATE_ERROR, desc, &e), &e);
		}
		fl_rollout_status_error(r, fl_ledger_flush(old, &e), &e);
		fl_ledger_free(old);
	}
}

static int on_changed(const char *path, bool in_new, void *payload)
{
	struct rollout *r = payload;
	struct fl_error e = FL_ERROR_INIT;
	size_t len;
	if (in_new || !fl_tenant_file(path, &len))
		return 0;
	char tenant[128], why[256];
	snprintf(tenant, sizeof(tenant), "%.*s", (int)len, path + strlen("tenants/"));
	snprintf(why, sizeof(why), "tenant file %s was removed without decommissioning the tenant first: "
		 "its account is left untouched", path);
	fl_log(r->opts->log, FL_LOG_WARN, "%s: %s", tenant, why);
	fl_rollout_status_error(r, fl_ledger_set_tenant(r->ledger, tenant, NULL, FL_RESULT_SKIPPED, NULL, why, &e),
				&e);
	return 0;
}

void fl_rollout_report_removed(struct rollout *r)
{
	for (size_t i = 0; i < r->nbehind; i++) {
		struct fl_error e = FL_ERROR_INIT;
		if (fl_repo_changed_paths(r->repo, &r->behind[i], &r->fleet->commit, on_changed, r, &e))
			fl_rollout_status_error(r, e.code, &e);
	}
}
