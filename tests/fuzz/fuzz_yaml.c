/*
 * Fuzz target of core/yaml.c: any bytes as a YAML file, loaded with the
 * limits the fleet loader uses, every document then written as canonical
 * JSON (which walks every node the loader made).
 */
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/yaml.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_source src = { "fuzz.yaml", (const char *)data, size };
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node **docs = NULL;
	size_t ndocs = 0;
	struct fl_buf out;

	fl_arena_init(&arena, 4096);
	fl_buf_init(&out, 16 * 1024 * 1024);
	if (fl_yaml_load(&docs, &ndocs, &arena, &src, NULL, &err) == 0) {
		for (size_t i = 0; i < ndocs; i++) {
			struct fl_error jerr = FL_ERROR_INIT;
			fl_buf_clear(&out);
			if (docs[i])
				(void)fl_json_canonical(&out, docs[i], &jerr);
		}
	}
	fl_buf_release(&out);
	fl_arena_release(&arena);
	return 0;
}
