/*
 * The git-notes status writer (the embedded default): contexts go into the
 * commit's ledger note, progress included, since writing them costs no
 * network call and the note is where `flotilla status` reads them.
 */
#include "reconcile/status/status.h"

#include "reconcile/fleet/check.h"

#include "core/banned.h"

static int notes_set(void *self, const struct fl_status_update *u, struct fl_error *err)
{
	return fl_ledger_set_context(self, u->context, u->state, u->description, err);
}

static int notes_flush(void *self, struct fl_error *err)
{
	return fl_ledger_flush(self, err);
}

static const struct fl_status_ops notes_ops = {
	.type = "git-notes",
	.set = notes_set,
	.flush = notes_flush,
	.free = NULL, /* the ledger belongs to the caller */
};

int fl_status_notes_open(struct fl_status_writer *out, struct fl_ledger *ledger, struct fl_error *err)
{
	(void)err;
	out->ops = &notes_ops;
	out->self = ledger;
	return 0;
}

/* git-notes takes no key but type. */
static void notes_check(struct fl_vctx *c, const struct fl_node *entry, const char *type)
{
	static const char *const keys[] = { "type", NULL };
	(void)type;
	for (size_t i = 0; i < entry->v.map.len; i++)
		if (!fl_key_is(&entry->v.map.items[i], "type"))
			fl_unknown_key(c, entry->v.map.items[i].key, "status", keys);
}

const struct fl_status_type fl_status_notes_type = { "git-notes", notes_check, NULL };
