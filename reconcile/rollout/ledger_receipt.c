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
	struct fl_buf text = FL_BUF_INIT;
	struct fl_ledger *l = NULL;
	struct fl_error ignored = FL_ERROR_INIT;
	int rc = fl_repo_note_read(&text, repo, FL_NOTES_REF, commit, err);
	if (rc || fl_ledger_from_text(&l, commit, &text, &ignored))
		goto out;
	const struct tenant_rec *t = fl_ledger_tenant_rec(l, tenant, false);
	if (t && (t->nreceipt || t->receipt_time) && (!*found || t->receipt_time > ref->time)) {
		*found = true;
		ref->commit = *commit;
		ref->time = t->receipt_time;
		ref->deleted = t->nreceipt;
	}
out:
	fl_ledger_free(l);
	fl_buf_release(&text);
	return rc;
}

int fl_ledger_find_receipt(struct fl_receipt_ref *out, bool *found, struct fl_repo *repo,
			   const struct fl_oid *head, const char *tenant, struct fl_error *err)
{
	struct annotated a = { 0 };
	*found = false;
	memset(out, 0, sizeof(*out));
	int rc = fl_repo_notes_each(repo, FL_NOTES_REF, collect, &a, err);
	for (size_t i = 0; !rc && i < a.len; i++) {
		bool ancestor = false;
		rc = fl_repo_is_ancestor(&ancestor, repo, &a.ids[i], head, err);
		if (!rc && ancestor)
			rc = look_at(out, found, repo, &a.ids[i], tenant, err);
	}
	free(a.ids);
	return rc;
}
