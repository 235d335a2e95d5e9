/* Plan writers: text, Markdown and JSON; see plan_output.h. */
#include "reconcile/plan/plan_output.h"

#include <string.h>

#include "core/json.h"
#include "core/banned.h"

#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RED "\033[31m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

int fl_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return FL_FORMAT_TEXT;
	if (strcmp(s, "json") == 0)
		return FL_FORMAT_JSON;
	if (strcmp(s, "markdown") == 0)
		return FL_FORMAT_MARKDOWN;
	return -1;
}

static const char *wave_name(const struct fl_plan_writer *w, const struct fl_tenant *t)
{
	return t->wave < w->fleet->nwaves ? w->fleet->waves[t->wave].name : "";
}

static const char *outcome_name(enum fl_tenant_outcome o)
{
	switch (o) {
	case FL_TENANT_CONVERGED: return "converged";
	case FL_TENANT_CHANGES: return "changes";
	case FL_TENANT_SKIPPED: return "skipped";
	case FL_TENANT_FAILED: return "failed";
	}
	return "unknown";
}

static const char op_sign[] = { '+', '~', '-' };

static bool region_shown(const struct fl_region_plan *rp)
{
	return rp->nchanges || rp->withheld || rp->nunmanaged;
}

static const char *op_color(const struct fl_plan_writer *w, enum fl_op op)
{
	if (!w->color)
		return "";
	return op == FL_OP_CREATE ? GREEN : op == FL_OP_UPDATE ? YELLOW : RED;
}

void fl_plan_describe(struct fl_buf *out, const struct fl_plan_summary *s)
{
	if (s->tenants_changed == 0 && s->tenants_failed == 0) {
		size_t converged = s->tenants - s->tenants_suspended;
		fl_buf_printf(out, "no changes: %zu tenant%s converged", converged, converged == 1 ? "" : "s");
	} else {
		fl_buf_printf(out, "%zu tenant%s change: +%zu ~%zu -%zu", s->tenants_changed,
			      s->tenants_changed == 1 ? "" : "s", s->creates, s->updates, s->deletes);
		if (s->tenants_failed)
			fl_buf_printf(out, ", %zu failed", s->tenants_failed);
	}
	/* A suspended tenant is left as it is: counting it as converged would claim what nobody checked. */
	if (s->tenants_suspended)
		fl_buf_printf(out, ", %zu suspended", s->tenants_suspended);
}

/* ---- text ---- */

static void text_diff(struct fl_buf *out, const struct fl_change *c)
{
	for (size_t i = 0; i < c->ndiff; i++) {
		const struct fl_field_diff *d = &c->diff[i];
		fl_buf_printf(out, "        %s: %s -> %s\n", d->path[0] ? d->path : "(spec)",
			      d->old_json ? d->old_json : "(absent)", d->new_json ? d->new_json : "(absent)");
	}
}

static void text_tenant(struct fl_buf *out, struct fl_plan_writer *w, const struct fl_tenant_plan *tp)
{
	const struct fl_tenant *t = tp->tenant;
	const char *bold = w->color ? BOLD : "", *reset = w->color ? RESET : "";
	fl_buf_printf(out, "%stenant %s%s (wave %s, account %s)", bold, t->name, reset, wave_name(w, t),
		      t->account);
	if (tp->outcome == FL_TENANT_FAILED) {
		fl_buf_printf(out, ": %sfailed%s: %s\n", w->color ? RED : "", reset, tp->error.msg);
		return;
	}
	if (t->state == FL_TENANT_DECOMMISSIONED)
		fl_buf_puts(out, " [decommissioned: every flotilla resource is deleted]");
	fl_buf_puts(out, tp->bootstrap ? " [new account: bootstrap]\n" : "\n");
	for (size_t r = 0; r < tp->nregions; r++) {
		const struct fl_region_plan *rp = &tp->regions[r];
		if (!region_shown(rp))
			continue;
		fl_buf_printf(out, "  region %s%s\n", rp->region, rp->in_manifest ? "" : " (not in the manifest)");
		for (size_t i = 0; i < rp->nchanges; i++) {
			const struct fl_change *c = &rp->changes[i];
			fl_buf_printf(out, "    %s%c %s/%s%s\n", op_color(w, c->op), op_sign[c->op], c->kind, c->name,
				      w->color ? RESET : "");
			text_diff(out, c);
		}
		if (rp->withheld)
			fl_buf_printf(out, "    (%zu resource%s left the release; --prune deletes them)\n",
				      rp->withheld, rp->withheld == 1 ? "" : "s");
		for (size_t i = 0; i < rp->nunmanaged; i++)
			fl_buf_printf(out, "    ? %s/%s (unmanaged: not created by flotilla, left alone)\n",
				      rp->unmanaged[i].kind, rp->unmanaged[i].name);
	}
}

/* ---- JSON ---- */

static void json_key(struct fl_buf *out, const char *key)
{
	fl_json_put_str(out, key, strlen(key));
	fl_buf_putc(out, ':');
}

static void json_str_field(struct fl_buf *out, const char *key, const char *value)
{
	json_key(out, key);
	fl_json_put_str(out, value, strlen(value));
}

static void json_change(struct fl_buf *out, const struct fl_change *c)
{
	char hex[FL_FP_HEX_LEN + 1];
	/* Keys in canonical (bytewise) order, so the output is stable to diff. */
	fl_buf_putc(out, '{');
	json_key(out, "diff");
	fl_buf_putc(out, '[');
	for (size_t i = 0; i < c->ndiff; i++) {
		const struct fl_field_diff *d = &c->diff[i];
		fl_buf_puts(out, i ? ",{" : "{");
		if (d->new_json) {
			json_key(out, "new");
			fl_buf_puts(out, d->new_json);
			fl_buf_putc(out, ',');
		}
		if (d->old_json) {
			json_key(out, "old");
			fl_buf_puts(out, d->old_json);
			fl_buf_putc(out, ',');
		}
		json_str_field(out, "path", d->path);
		fl_buf_putc(out, '}');
	}
	fl_buf_puts(out, "],");
	json_str_field(out, "kind", c->kind);
	fl_buf_putc(out, ',');
	json_str_field(out, "name", c->name);
	if (c->op != FL_OP_DELETE) {
		fl_fp_hex(hex, &c->new_fp);
		fl_buf_putc(out, ',');
		json_str_field(out, "new_fingerprint", hex);
	}
	if (c->op != FL_OP_CREATE) {
		fl_fp_hex(hex, &c->old_fp);
		fl_buf_putc(out, ',');
		json_str_field(out, "old_fingerprint", hex);
	}
	fl_buf_putc(out, ',');
	json_str_field(out, "op", fl_op_name(c->op));
	fl_buf_putc(out, '}');
}

static void json_region(struct fl_buf *out, const struct fl_region_plan *rp)
{
	fl_buf_putc(out, '{');
	json_key(out, "changes");
	fl_buf_putc(out, '[');
	for (size_t i = 0; i < rp->nchanges; i++) {
		if (i)
			fl_buf_putc(out, ',');
		json_change(out, &rp->changes[i]);
	}
	fl_buf_printf(out, "],\"in_manifest\":%s,", rp->in_manifest ? "true" : "false");
	json_str_field(out, "region", rp->region);
	fl_buf_puts(out, ",\"unmanaged\":[");
	for (size_t i = 0; i < rp->nunmanaged; i++) {
		fl_buf_puts(out, i ? ",{" : "{");
		json_str_field(out, "kind", rp->unmanaged[i].kind);
		fl_buf_putc(out, ',');
		json_str_field(out, "name", rp->unmanaged[i].name);
		fl_buf_putc(out, '}');
	}
	fl_buf_printf(out, "],\"withheld_deletes\":%zu}", rp->withheld);
}

static void json_tenant(struct fl_buf *out, struct fl_plan_writer *w, const struct fl_tenant_plan *tp)
{
	const struct fl_tenant *t = tp->tenant;
	fl_buf_puts(out, w->written ? ",\n{" : "\n{");
	json_str_field(out, "account", t->account);
	fl_buf_printf(out, ",\"bootstrap\":%s,", tp->bootstrap ? "true" : "false");
	if (tp->outcome == FL_TENANT_FAILED) {
		json_str_field(out, "error", tp->error.msg);
		fl_buf_putc(out, ',');
	}
	json_str_field(out, "name", t->name);
	fl_buf_putc(out, ',');
	json_str_field(out, "outcome", outcome_name(tp->outcome));
	fl_buf_puts(out, ",\"regions\":[");
	size_t n = 0;
	for (size_t r = 0; r < tp->nregions; r++) {
		const struct fl_region_plan *rp = &tp->regions[r];
		if (!region_shown(rp))
			continue;
		if (n++)
			fl_buf_putc(out, ',');
		json_region(out, rp);
	}
	fl_buf_printf(out, "],\"summary\":{\"creates\":%zu,\"deletes\":%zu,\"unmanaged\":%zu,\"updates\":%zu},",
		      tp->creates, tp->deletes, tp->unmanaged, tp->updates);
	json_str_field(out, "wave", wave_name(w, t));
	fl_buf_putc(out, '}');
}

/* ---- Markdown ---- */

static void md_tenant(struct fl_buf *out, struct fl_plan_writer *w, const struct fl_tenant_plan *tp)
{
	const struct fl_tenant *t = tp->tenant;
	if (tp->outcome == FL_TENANT_FAILED) {
		fl_buf_printf(out, "- **%s** (wave `%s`): failed: %s\n", t->name, wave_name(w, t), tp->error.msg);
		return;
	}
	fl_buf_printf(out, "<details><summary><b>%s</b> (wave <code>%s</code>): +%zu ~%zu -%zu%s</summary>\n\n",
		      t->name, wave_name(w, t), tp->creates, tp->updates, tp->deletes,
		      tp->bootstrap ? ", new account" : "");
	fl_buf_puts(out, "```diff\n");
	for (size_t r = 0; r < tp->nregions; r++) {
		const struct fl_region_plan *rp = &tp->regions[r];
		for (size_t i = 0; i < rp->nchanges; i++) {
			const struct fl_change *c = &rp->changes[i];
			char sign = c->op == FL_OP_UPDATE ? '!' : op_sign[c->op];
			fl_buf_printf(out, "%c %s %s/%s\n", sign, rp->region, c->kind, c->name);
			for (size_t d = 0; d < c->ndiff; d++)
				fl_buf_printf(out, "    %s: %s -> %s\n",
					      c->diff[d].path[0] ? c->diff[d].path : "(spec)",
					      c->diff[d].old_json ? c->diff[d].old_json : "(absent)",
					      c->diff[d].new_json ? c->diff[d].new_json : "(absent)");
		}
		for (size_t i = 0; i < rp->nunmanaged; i++)
			fl_buf_printf(out, "? %s %s/%s (unmanaged, left alone)\n", rp->region, rp->unmanaged[i].kind,
				      rp->unmanaged[i].name);
	}
	fl_buf_puts(out, "```\n\n</details>\n");
}

/* ---- settings a pull request's head may not decide ---- */

/* One line per setting taken from the base: text, or a Markdown list. */
static void trust_lines(struct fl_buf *out, const struct fl_trust_changes *t, bool markdown)
{
	const char *item = markdown ? "- " : "", *code = markdown ? "`" : "";
	if (t->driver)
		fl_buf_printf(out, "%sfleet.yaml: driver changed (taken from BASE %s%.7s%s; the head's is not run)\n",
			      item, code, t->base, code);
	for (size_t i = 0; i < t->nverify; i++)
		fl_buf_printf(out,
			      "%sfleet.yaml: verify of wave %s changed (taken from BASE %s%.7s%s; the head's is not run)\n",
			      item, t->verify[i], code, t->base, code);
	if (t->status)
		fl_buf_printf(out, "%sfleet.yaml: status changed (taken from BASE %s%.7s%s; the head's is not used)\n",
			      item, code, t->base, code);
	if (fl_trust_changed(t))
		fl_buf_putc(out, '\n');
}

/* plan --offline, said first: the plan compares with BASE, not with the accounts. */
static void offline_line(struct fl_buf *out, const struct fl_plan_writer *w, bool markdown)
{
	const char *code = markdown ? "`" : "";
	if (w->offline && w->trust)
		fl_buf_printf(out, "%soffline: compared with what %s%.7s%s renders; no account was read\n\n",
			      markdown ? "> " : "", code, w->trust->base, code);
}

/* "since": {"base", "driver_changed", "offline" (--offline only), "status_changed",
 * "verify_changed"}, then a comma. */
static void trust_json(struct fl_buf *out, const struct fl_trust_changes *t, bool offline)
{
	fl_buf_puts(out, "\"since\":{");
	json_str_field(out, "base", t->base);
	fl_buf_printf(out, ",\"driver_changed\":%s%s,\"status_changed\":%s,\"verify_changed\":[",
		      t->driver ? "true" : "false", offline ? ",\"offline\":true" : "", t->status ? "true" : "false");
	for (size_t i = 0; i < t->nverify; i++) {
		if (i)
			fl_buf_putc(out, ',');
		fl_json_put_str(out, t->verify[i], strlen(t->verify[i]));
	}
	fl_buf_puts(out, "]},");
}

void fl_plan_write_markdown_head(struct fl_buf *out, struct fl_plan_writer *w,
				 const struct fl_plan_summary *s, bool mass_delete)
{
	fl_buf_printf(out, "### flotilla plan for `%s` (%s)\n\n**", w->fleet->revision, w->fleet->name);
	fl_plan_describe(out, s);
	fl_buf_puts(out, "**\n\n");
	offline_line(out, w, true);
	if (w->trust)
		trust_lines(out, w->trust, true);
	if (s->withheld)
		fl_buf_printf(out, "%zu resource%s left the release and %s kept: prune is off.\n\n",
			      s->withheld, s->withheld == 1 ? "" : "s", s->withheld == 1 ? "is" : "are");
	if (mass_delete)
		fl_buf_printf(out, "> **Refused:** the plan deletes %zu of %zu resources, more than the guard allows.\n\n",
			      s->deletes, s->observed);
}

/* ---- dispatch ---- */

void fl_plan_write_begin(struct fl_buf *out, struct fl_plan_writer *w)
{
	if (w->format == FL_FORMAT_JSON) {
		fl_buf_putc(out, '{');
		json_str_field(out, "fleet", w->fleet->name ? w->fleet->name : "");
		fl_buf_putc(out, ',');
		json_str_field(out, "revision", w->fleet->revision);
		fl_buf_putc(out, ',');
		if (w->trust)
			trust_json(out, w->trust, w->offline);
		fl_buf_puts(out, "\"tenants\":[");
	} else if (w->format == FL_FORMAT_TEXT) {
		fl_buf_printf(out, "Plan of fleet %s at %s\n\n", w->fleet->name ? w->fleet->name : "",
			      w->fleet->revision);
		offline_line(out, w, false);
		if (w->trust)
			trust_lines(out, w->trust, false);
	}
}

void fl_plan_write_tenant(struct fl_buf *out, struct fl_plan_writer *w, const struct fl_tenant_plan *tp)
{
	if ((tp->outcome == FL_TENANT_CONVERGED && !tp->unmanaged) || tp->outcome == FL_TENANT_SKIPPED)
		return;
	if (w->format == FL_FORMAT_JSON)
		json_tenant(out, w, tp);
	else if (w->format == FL_FORMAT_MARKDOWN)
		md_tenant(out, w, tp);
	else
		text_tenant(out, w, tp);
	w->written++;
}

void fl_plan_write_end(struct fl_buf *out, struct fl_plan_writer *w, const struct fl_plan_summary *s,
		       bool mass_delete)
{
	if (w->format == FL_FORMAT_JSON) {
		fl_buf_printf(out,
			      "\n],\"summary\":{\"creates\":%zu,\"deletes\":%zu,\"mass_delete\":%s,"
			      "\"resources\":%zu,\"tenants\":%zu,\"tenants_changed\":%zu,\"tenants_failed\":%zu,"
			      "\"tenants_suspended\":%zu,\"unmanaged\":%zu,\"updates\":%zu,\"withheld_deletes\":%zu}}\n",
			      s->creates, s->deletes, mass_delete ? "true" : "false", s->resources, s->tenants,
			      s->tenants_changed, s->tenants_failed, s->tenants_suspended, s->unmanaged, s->updates,
			      s->withheld);
		return;
	}
	if (w->format != FL_FORMAT_TEXT)
		return;
	if (w->written)
		fl_buf_putc(out, '\n');
	fl_buf_puts(out, "Plan: ");
	fl_plan_describe(out, s);
	fl_buf_putc(out, '\n');
	if (s->withheld)
		fl_buf_printf(out, "%zu resource%s left the release and %s kept: prune is off (--prune deletes them)\n",
			      s->withheld, s->withheld == 1 ? "" : "s", s->withheld == 1 ? "is" : "are");
	if (s->unmanaged)
		fl_buf_printf(out, "%zu resource%s in the accounts %s not created by flotilla (unmanaged): left alone\n",
			      s->unmanaged, s->unmanaged == 1 ? "" : "s", s->unmanaged == 1 ? "was" : "were");
	if (mass_delete)
		fl_buf_printf(out, "refused: the plan deletes %zu of %zu resources, more than guard.max_delete_percent "
			      "allows (--allow-mass-delete overrides)\n", s->deletes, s->observed);
}
