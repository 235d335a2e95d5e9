/*
 * A tenant file's account, read and rewritten as text: onboarding writes
 * the id of a newly created account into tenants/NAME.yaml in place of the
 * placeholder, changing those bytes only, so comments, order and quoting
 * of the rest of the file stay as the engineer wrote them.
 */
#ifndef FL_TENANT_ACCOUNT_H
#define FL_TENANT_ACCOUNT_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/error.h"

/*
 * True for the placeholder of a tenant whose account is yet to be created:
 * "pending", or "pending-<anything>" when several tenants wait at once
 * (accounts are unique in a fleet).
 */
bool fl_tenant_account_pending(const char *account);

/*
 * Appends the value of the top-level account of the tenant file src to
 * account, and its state ("active" when it has none) to state unless state
 * is NULL. FL_EINPUT (positioned in src) when src is not YAML or has no
 * account string.
 */
int fl_tenant_account_read(struct fl_buf *account, struct fl_buf *state, const struct fl_source *src,
			   struct fl_error *err);

/*
 * Appends to out the text of src with the value of its top-level account
 * replaced by account, double-quoted; every other byte is kept. The result
 * is parsed again and must hold account and the same values as src
 * otherwise, or FL_EINPUT says the file must be edited by hand.
 */
int fl_tenant_account_set(struct fl_buf *out, const struct fl_source *src, const char *account,
			  struct fl_error *err);

#endif
