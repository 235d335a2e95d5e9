/*
 * Finding a tenant's decommission receipt after the fact: the receipt is
 * kept in the ledger of the commit whose rollout deleted the tenant's
 * resources, which later commits do not repeat, so every ledger note of
 * the history is looked at. Used before an account is closed for good.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "reconcile/rollout/ledger.h"
#include "reconcile/rollout/ledger_internal.h"
#include "core/banned.h"

struct annotated {
	struct fl_oid *ids;
	size_t len, cap;
};

static int collect(const struct fl_oid *id, void *payload)
{
	struct annotated *a = payload;
	FL_GROW(a->ids, a->cap, a->len + 1);
	a->ids[a->len++] = *id;
	return 0;
}

/* The receipt of tenant in commit's ledger into *ref, if it has one and it is later than *found's. */
static int look_at(struct fl_receipt_ref *ref, bool *found, struct fl_repo *repo, const struct fl_oid *commit,
		   const char *tenant, struct fl_error *err)
{
	struct fl_ledger *l = NULL;
	bool have = false;
	int rc = fl_ledger_read(&l, &have, repo, commit, err);
	if (rc || !have)
		return rc;
	const struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, false);
	if (t && (t->nreceipt || t->receipt_time) && (!*found || t->receipt_time > ref->time)) {
		*found = true;
		ref->commit = *commit;
		ref->time = t->receipt_time;
		ref->deleted = t->nreceipt;
	}
	fl_ledger_free(l);
	return 0;
}

/* Orders commit ids bytewise, so that a commit annotated in both notes refs is looked at once. */
static int oid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct fl_oid));
}

int fl_ledger_find_receipt(struct fl_receipt_ref *out, bool *found, struct fl_repo *repo,
			   const struct fl_oid *head, const char *tenant, struct fl_error *err)
{
	struct annotated a = { 0 };
	*found = false;
	memset(out, 0, sizeof(*out));
	/* Format 1 notes hold their tenants in the head; format 2 ones in the tenants note. */
	int rc = fl_repo_notes_each(repo, FL_NOTES_REF, collect, &a, err);
	if (!rc)
		rc = fl_repo_notes_each(repo, FL_NOTES_TENANTS_REF, collect, &a, err);
	if (a.len)
		qsort(a.ids, a.len, sizeof(*a.ids), oid_cmp);
	for (size_t i = 0; !rc && i < a.len; i++) {
		bool ancestor = false;
		if (i && oid_cmp(&a.ids[i - 1], &a.ids[i]) == 0)
			continue;
		rc = fl_repo_is_ancestor(&ancestor, repo, &a.ids[i], head, err);
		if (!rc && ancestor)
			rc = look_at(out, found, repo, &a.ids[i], tenant, err);
	}
	free(a.ids);
	return rc;
}
