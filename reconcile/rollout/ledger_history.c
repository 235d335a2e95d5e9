/*
 * A tenant's last success found in the history: the revision a rollback
 * (on_failure: rollback) takes the tenant's account back to. The ledger
 * notes of earlier commits say whether the tenant was applied and verified
 * there; nothing else is trusted as a success.
 */
#include <stdio.h>
#include <string.h>

#include "reconcile/rollout/ledger.h"
#include "reconcile/rollout/ledger_internal.h"
#include "core/banned.h"

/* Whether commit's note records tenant as succeeded; a missing or foreign note is "no". */
static int succeeded_at(bool *out, struct fl_repo *repo, const struct fl_oid *commit, const char *tenant,
			struct fl_error *err)
{
	struct fl_ledger *l = NULL;
	bool found = false;
	*out = false;
	/* A foreign note is no success, and no reason to stop looking. */
	int rc = fl_ledger_read(&l, &found, repo, commit, err);
	if (rc || !found)
		return rc;
	const struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, false);
	*out = t && t->has_result && (t->result == FL_RESULT_APPLIED || t->result == FL_RESULT_UNCHANGED) &&
	       !t->rolled_back_to;
	fl_ledger_free(l);
	return 0;
}

/* The first parent of commit; false for a root commit. */
static int first_parent(struct fl_oid *out, bool *found, struct fl_repo *repo, const struct fl_oid *commit,
			struct fl_error *err)
{
	char rev[FL_OID_HEX_LEN + 3];
	fl_oid_hex(rev, commit);
	memcpy(rev + FL_OID_HEX_LEN, "^1", 3);
	int rc = fl_repo_resolve(out, repo, rev, err);
	*found = rc == 0;
	if (rc == FL_ENOTFOUND) {
		fl_error_clear(err);
		rc = 0;
	}
	return rc;
}

/* hint, when it names an ancestor of head at which tenant succeeded. */
static int try_hint(bool *found, struct fl_repo *repo, const struct fl_oid *head, const struct fl_oid *hint,
		    const char *tenant, struct fl_error *err)
{
	bool ancestor = false;
	int rc;
	*found = false;
	if (!hint || fl_oid_equal(hint, head))
		return 0;
	if ((rc = fl_repo_is_ancestor(&ancestor, repo, hint, head, err)) || !ancestor)
		return rc;
	return succeeded_at(found, repo, hint, tenant, err);
}

int fl_ledger_last_success(struct fl_oid *out, bool *found, struct fl_repo *repo, const struct fl_oid *head,
			   const struct fl_oid *hint, const char *tenant, struct fl_error *err)
{
	struct fl_oid at = *head;
	int rc = try_hint(found, repo, head, hint, tenant, err);
	if (rc || *found) {
		if (*found)
			*out = *hint;
		return rc;
	}
	for (size_t i = 0; i < FL_LEDGER_HISTORY_MAX; i++) {
		bool more = false;
		if ((rc = first_parent(&at, &more, repo, &at, err)) || !more)
			return rc;
		if ((rc = succeeded_at(found, repo, &at, tenant, err)))
			return rc;
		if (*found) {
			*out = at;
			return 0;
		}
	}
	return 0;
}
