/*
 * Fuzz target of reconcile/rollout/notes_merge.c: the input is two notes, local and
 * remote, split at the first NUL byte (no NUL: both sides are the input).
 * Each is merged into the other; a merge that succeeds must be JSON that
 * the strict parser reads, since it becomes the note other agents merge.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "reconcile/rollout/notes_merge.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void merge(const char *local, size_t local_len, const char *remote, size_t remote_len)
{
	struct fl_buf out;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_arena arena;

	fl_buf_init(&out, 0);
	fl_arena_init(&arena, 4096);
	if (fl_notes_merge(&out, local, local_len, remote, remote_len, &err) == 0) {
		struct fl_source src = { "merged.json", out.ptr, out.len };
		struct fl_node *doc = NULL;
		struct fl_error jerr = FL_ERROR_INIT;
		if (fl_json_parse(&doc, &arena, &src, &jerr) || doc->type != FL_NODE_MAP) {
			fprintf(stderr, "fuzz_notes_merge: the merge is not a JSON object (%s):\n%.*s\n",
				jerr.msg, (int)out.len, out.ptr);
			abort();
		}
	}
	fl_arena_release(&arena);
	fl_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, '\0', size);
	size_t a = nul ? (size_t)(nul - s) : size;
	const char *b = nul ? nul + 1 : s;
	size_t blen = nul ? size - a - 1 : size;

	merge(s, a, b, blen);
	merge(b, blen, s, a);
	return 0;
}
