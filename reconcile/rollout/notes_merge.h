/*
 * Merging two versions of one commit's ledger note (SPEC 5), for when two
 * agents wrote statuses on the same commit and pushed to the same remote:
 * neither may lose the other's work. The rules, per part of the document:
 *   contexts  per context, the later "updated" wins, but a pending state
 *             never wins over a final one (success, failure, error);
 *   tenants   per tenant, the record with the later "time" wins, its verify
 *             runs the union of both sides' (one per name, region and time);
 *   waves     per wave, the earliest "succeeded_at"; its "shards" (apply
 *             --shard) the union of both sides', per shard the later
 *             "updated";
 * anything else is kept from the local side, else taken from the remote one.
 * Ties are broken by comparing the two values' canonical JSON, so that the
 * merge gives the same document whichever side is local.
 */
#ifndef FL_NOTES_MERGE_H
#define FL_NOTES_MERGE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

/*
 * Appends the merge of the ledgers local and remote (JSON text of len
 * bytes each) to out, pretty-printed and ending in a newline like the
 * ledger's own note. A side that is not a ledger (not JSON, not an object,
 * or of another "format") loses to the other entirely; FL_EINPUT when
 * neither is one. FL_ELIMIT past out's maximum.
 */
int fl_notes_merge(struct fl_buf *out, const char *local, size_t local_len, const char *remote,
		   size_t remote_len, struct fl_error *err);

#endif
