/*
 * Fuzz target of core/json.c: any bytes through the strict parser; what
 * parses is written in canonical form, parsed again and written again, and
 * the two canonical texts must be the same bytes (SPEC 3: fingerprints are
 * taken of them). The pretty form must read back to the same canonical text
 * too. A text that fl_json_is_canonical accepts must parse, and be exactly
 * its own canonical form. A mismatch aborts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mismatch(const char *what, const struct fl_buf *a, const struct fl_buf *b,
		     const struct fl_error *err)
{
	fprintf(stderr, "fuzz_json: %s\n first: %.*s\nsecond: %.*s\n error: %s\n", what, (int)a->len, a->ptr,
		(int)b->len, b->ptr, err ? err->msg : "");
	abort();
}

/* Parses text and appends its canonical form to out, which must succeed. */
static void reparse(struct fl_buf *out, struct fl_arena *arena, const struct fl_buf *text,
		    const struct fl_buf *first, const char *what)
{
	struct fl_source src = { "again.json", text->ptr, text->len };
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *node = NULL;

	if (fl_json_parse(&node, arena, &src, &err))
		mismatch(what, first, text, &err);
	if (fl_json_canonical(out, node, &err))
		mismatch(what, first, out, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_source src = { "fuzz.json", (const char *)data, size };
	struct fl_arena arena;
	struct fl_error err = FL_ERROR_INIT;
	struct fl_node *node = NULL;
	struct fl_buf canon, again, pretty, input;
	struct fl_json_tape tape = { NULL, 0, 0 };
	bool canonical = fl_json_is_canonical(&tape, (const char *)data, size);

	fl_arena_init(&arena, 4096);
	fl_buf_init(&canon, 0);
	fl_buf_init(&again, 0);
	fl_buf_init(&pretty, 0);
	fl_buf_init(&input, 0);
	fl_buf_put(&input, data, size);
	if (fl_json_parse(&node, &arena, &src, &err)) {
		if (canonical)
			mismatch("canonical check accepts what the parser refuses", &input, &input, &err);
		goto out;
	}
	/* A number too large for a double parses as inf, which JSON cannot hold. */
	if (fl_json_canonical(&canon, node, &err))
		goto out;
	if (canonical && (canon.len != size || memcmp(canon.ptr, data, size) != 0))
		mismatch("canonical check accepts a text written otherwise", &input, &canon, NULL);
	reparse(&again, &arena, &canon, &canon, "canonical form does not read back");
	if (canon.len != again.len || memcmp(canon.ptr, again.ptr, canon.len) != 0)
		mismatch("canonical form is not stable", &canon, &again, NULL);
	if (fl_json_pretty(&pretty, node, &err))
		mismatch("pretty form fails where canonical did not", &canon, &pretty, &err);
	fl_buf_clear(&again);
	reparse(&again, &arena, &pretty, &canon, "pretty form does not read back");
	if (canon.len != again.len || memcmp(canon.ptr, again.ptr, canon.len) != 0)
		mismatch("pretty form reads back to other canonical text", &canon, &again, NULL);
out:
	fl_json_tape_release(&tape);
	fl_buf_release(&input);
	fl_buf_release(&pretty);
	fl_buf_release(&again);
	fl_buf_release(&canon);
	fl_arena_release(&arena);
	return 0;
}
