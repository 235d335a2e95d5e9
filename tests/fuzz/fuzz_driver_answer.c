/*
 * Fuzz target of reconcile/drivers/driver_answer.c: any bytes as a driver's answer,
 * parsed as the exec and http drivers do, then decoded every way they do:
 * the marker (both hex rules), the names, and the observed resources (with
 * and without a required "managed").
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/json.h"
#include "reconcile/drivers/driver.h"
#include "reconcile/drivers/driver_answer.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_source src = { "answer", (const char *)data, size };
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *root = NULL;
	struct fl_observed obs;
	struct fl_marker m;
	bool has;

	fl_arena_init(&arena, 4096);
	fl_observed_init(&obs);
	if (fl_json_parse(&root, &arena, &src, &err) || root->type != FL_NODE_MAP)
		goto out;
	const struct fl_node *marker = fl_node_get(root, "marker");
	(void)fl_answer_marker(&m, &has, marker, false, &err);
	(void)fl_answer_marker(&m, &has, marker, true, &err);
	(void)fl_answer_ident(root, "account", &err);
	(void)fl_answer_ident(root, "tenant", &err);
	(void)fl_answer_get(root, "regions", FL_NODE_SEQ);
	const struct fl_node *res = fl_node_get(root, "resources");
	for (int managed_required = 0; managed_required < 2; managed_required++) {
		fl_observed_clear(&obs);
		if (fl_answer_resources(&obs, res, managed_required, &err) == 0) {
			for (size_t i = 0; i < obs.len; i++)
				(void)fl_observed_find(&obs, obs.items[i].kind, obs.items[i].name);
		}
	}
out:
	fl_observed_release(&obs);
	fl_arena_release(&arena);
	return 0;
}
