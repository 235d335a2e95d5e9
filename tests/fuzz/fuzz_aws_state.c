/*
 * Fuzz target of the aws driver's state parameter (driver_aws_state.c): any
 * bytes as the parameter's Value, which comes from the account and so from
 * anyone who can write there. What loads must hold only valid names (kinds,
 * resource names, regions), and its encoding must load again and encode to
 * the same bytes: a state flotilla writes is a state it reads back. An
 * inconsistency aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "reconcile/drivers/driver_aws.h"
#include "reconcile/fleet/syntax.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what)
{
	fprintf(stderr, "fuzz_aws_state: %s\n", what);
	abort();
}

static void check_names(const struct fl_aws_state *st)
{
	for (size_t i = 0; i < st->nres; i++) {
		const struct fl_aws_res *r = &st->res[i];
		if (!fl_kind_valid(r->kind, strlen(r->kind)) || !fl_ident_valid(r->name, strlen(r->name)))
			broken("a resource with an invalid kind or name loaded");
	}
	for (size_t i = 0; i < st->nregions; i++)
		if (!fl_ident_valid(st->regions[i], strlen(st->regions[i])))
			broken("an invalid region loaded");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_aws_state st, again;
	struct fl_buf text = FL_BUF_INIT, first = FL_BUF_INIT, second = FL_BUF_INIT;
	struct fl_error err = FL_ERROR_INIT;

	if (size > 64 * 1024)
		return 0;
	fl_buf_put(&text, data, size);
	fl_aws_state_init(&st);
	fl_aws_state_init(&again);
	if (fl_aws_state_load(&st, text.ptr, "/fuzz", &err) == 0 && strlen(text.ptr) == text.len) {
		if (!st.exists)
			broken("a loaded state does not exist");
		check_names(&st);
		fl_aws_state_encode(&first, &st);
		if (fl_aws_state_load(&again, first.ptr, "/fuzz", &err) != 0)
			broken("an encoded state does not load again");
		fl_aws_state_encode(&second, &again);
		if (first.len != second.len || memcmp(first.ptr, second.ptr, first.len) != 0)
			broken("encoding a state twice gives different bytes");
	}
	fl_aws_state_release(&st);
	fl_aws_state_release(&again);
	fl_buf_release(&text);
	fl_buf_release(&first);
	fl_buf_release(&second);
	return 0;
}
