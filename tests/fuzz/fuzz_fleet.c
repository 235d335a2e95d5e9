/*
 * Fuzz target of the fleet loader (reconcile/fleet/fleet.c, fleet_yaml.c,
 * tenant.c and the compile step of render.c) through real commits: the
 * input is split into fleet.yaml, release/ and tenants/ files ("### path"
 * lines, see fuzz_files.h; text before the first is fleet.yaml), committed
 * to an in-memory repository and loaded as flotilla loads a commit.
 */
#include <stddef.h>
#include <stdint.h>

#include "reconcile/fleet/fleet.h"
#include "tests/fuzz/fuzz_files.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_fuzz_files files;
	struct fl_fleet *fleet = NULL;

	fl_fuzz_files_split(&files, data, size, "fleet.yaml");
	if (fl_fuzz_load(&fleet, NULL, 0, &files) == 0) {
		for (size_t i = 0; i < fleet->ntenants; i++)
			(void)fl_fleet_tenant(fleet, fleet->tenants[i].name);
	}
	fl_fleet_free(fleet);
	fl_fuzz_files_release(&files);
	return 0;
}
