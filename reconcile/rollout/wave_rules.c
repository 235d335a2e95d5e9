/*
 * The rules of waves; see wave_rules.h. Each rule reads the fleet, the
 * ledger of the commit and the repository's promotion tags, and changes
 * nothing: the rollout engine acts on them, `flotilla status` shows them.
 */
#include "reconcile/rollout/wave_rules.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/banned.h"

void fl_wave_context(char *out, size_t cap, const char *wave)
{
	snprintf(out, cap, FL_WAVE_CONTEXT_PREFIX "%s", wave);
}

bool fl_wave_state(struct fl_ledger *ledger, const char *wave, enum fl_state *state,
		   struct fl_buf *description)
{
	char context[160];
	fl_wave_context(context, sizeof(context), wave);
	return fl_ledger_context(ledger, context, state, description);
}

/* ---- promotion (SPEC 6) ---- */

void fl_promotion_tag(char *out, size_t cap, const char *wave, const struct fl_oid *commit)
{
	char hex[FL_OID_HEX_LEN + 1];
	fl_oid_hex(hex, commit);
	snprintf(out, cap, FL_PROMOTE_PREFIX "%s/%s", wave, hex);
}

struct promo_search {
	struct fl_repo *repo;
	const struct fl_oid *commit;
	bool found;
	struct fl_error *err;
};

/* 1 stops the search at a promotion; git's error, returned, stops it too. */
static int on_promotion(const struct fl_repo_tag *tag, void *payload)
{
	struct promo_search *s = payload;
	bool yes = false;
	int rc = fl_repo_is_ancestor(&yes, s->repo, s->commit, &tag->target, s->err);
	if (rc) {
		fl_error_prefix(s->err, "promotion tag '%s': ", tag->name);
		return rc;
	}
	s->found = yes;
	return yes;
}

int fl_rollout_promoted(bool *out, struct fl_repo *repo, const struct fl_oid *commit, const char *wave,
			struct fl_error *err)
{
	char prefix[256];
	struct promo_search s = { repo, commit, false, err };
	snprintf(prefix, sizeof(prefix), FL_PROMOTE_PREFIX "%s/", wave);
	int rc = fl_repo_tags(repo, prefix, on_promotion, &s, err);
	*out = s.found;
	return rc < 0 ? rc : 0;
}

/* ---- bakes and gates (SPEC 4) ---- */

long long fl_bake_until(const struct fl_fleet *fleet, struct fl_ledger *ledger, size_t w)
{
	const struct fl_wave *prev = w > 0 ? &fleet->waves[w - 1] : NULL;
	if (!prev || !prev->bake_s)
		return 0;
	/*
	 * No success time: the wave before has not succeeded whole for this
	 * commit, and then no run reaches wave w (a --tenant run neither).
	 */
	long long t0 = fl_ledger_wave_success_time(ledger, prev->name);
	return t0 && fl_now() < t0 + prev->bake_s ? t0 + prev->bake_s : 0;
}

int fl_wave_gate_check(struct fl_wave_gate *out, struct fl_repo *repo, const struct fl_fleet *fleet,
		       struct fl_ledger *ledger, size_t w, struct fl_error *err)
{
	memset(out, 0, sizeof(*out));
	out->bake_until = fl_bake_until(fleet, ledger, w);
	out->gated = fleet->waves[w].gate_manual;
	if (out->gated)
		return fl_rollout_promoted(&out->promoted, repo, &fleet->commit, fleet->waves[w].name, err);
	return 0;
}

bool fl_wave_gate_holds(const struct fl_wave_gate *g)
{
	return g->bake_until || (g->gated && !g->promoted);
}

void fl_wave_gate_describe(char *out, size_t cap, const struct fl_wave_gate *g)
{
	char when[32];
	if (g->bake_until) {
		fl_time_format(when, g->bake_until);
		snprintf(out, cap, "baking until %.5sZ (%s)", when + 11, when);
	} else {
		snprintf(out, cap, "awaiting promotion");
	}
}

/* ---- no shortcut past the canaries (SPEC 4) ---- */

size_t fl_wave_held_by(struct fl_wave_seen *seen, char *why, size_t cap, const struct fl_fleet *fleet,
		       struct fl_ledger *ledger, size_t w)
{
	struct fl_buf desc = FL_BUF_INIT;
	size_t e = 0;
	for (; e < w; e++) {
		struct fl_wave_seen *s = &seen[e];
		fl_buf_clear(&desc);
		s->state = FL_STATE_PENDING;
		s->known = fl_wave_state(ledger, fleet->waves[e].name, &s->state, &desc);
		snprintf(s->description, sizeof(s->description), "%s",
			 s->known ? desc.ptr : "not started for this commit");
		if (s->known && s->state == FL_STATE_SUCCESS)
			continue;
		snprintf(why, cap,
			 "wave '%s' has not succeeded for %.12s (%s%s%s): tenants of wave '%s' wait for it",
			 fleet->waves[e].name, fleet->revision,
			 s->known ? fl_state_name(s->state) : "not started", s->known ? ": " : "",
			 s->known ? desc.ptr : "", fleet->waves[w].name);
		break;
	}
	fl_buf_release(&desc);
	return e;
}

bool fl_wave_seen_failed(const struct fl_wave_seen *seen)
{
	return seen->known && (seen->state == FL_STATE_FAILURE || seen->state == FL_STATE_ERROR);
}
