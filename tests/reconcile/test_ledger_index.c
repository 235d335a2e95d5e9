/*
 * Tests of reconcile/rollout/ledger_index.c: records found by name through
 * the index are the records of that name, among many names, names that
 * share a first slot, and across the table's growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "reconcile/rollout/ledger_index.h"
#include "core/banned.h"

struct rec {
	char *name;
	size_t id;
};

struct table {
	struct rec *items;
	size_t n, cap;
	struct fl_name_index idx;
};

static void add(struct table *t, const char *name)
{
	FL_GROW(t->items, t->cap, t->n + 1);
	t->items[t->n].name = fl_strdup(name);
	t->items[t->n].id = t->n;
	fl_name_index_add(&t->idx, t->items, sizeof(*t->items), t->n);
	t->n++;
}

static size_t find(const struct table *t, const char *name)
{
	return fl_name_index_find(&t->idx, t->items, sizeof(*t->items), name);
}

static void table_release(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->items[i].name);
	free(t->items);
	fl_name_index_release(&t->idx);
}

static void test_empty(void **state)
{
	(void)state;
	struct table t = { 0 };
	assert_true(find(&t, "a") == FL_NAME_INDEX_NONE);
	table_release(&t);
}

/* Every name is found at its own position, before and after every growth. */
static void test_many_names(void **state)
{
	(void)state;
	struct table t = { 0 };
	char name[32];
	enum { N = 20000 };
	for (size_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "tenant-%zu", i);
		assert_true(find(&t, name) == FL_NAME_INDEX_NONE);
		add(&t, name);
		assert_int_equal(find(&t, name), i);
		/* Earlier names survive each rehash. */
		if ((i & (i + 1)) == 0)
			for (size_t j = 0; j <= i; j++) {
				snprintf(name, sizeof(name), "tenant-%zu", j);
				assert_int_equal(find(&t, name), j);
			}
	}
	for (size_t i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "tenant-%zu", i);
		size_t pos = find(&t, name);
		assert_int_equal(pos, i);
		assert_string_equal(t.items[pos].name, name);
	}
	assert_true(find(&t, "tenant-20000") == FL_NAME_INDEX_NONE);
	assert_true(find(&t, "tenant-") == FL_NAME_INDEX_NONE);
	assert_true(find(&t, "") == FL_NAME_INDEX_NONE);
	table_release(&t);
}

/* Names whose hashes share their low bits start probing at one slot: each is still told apart. */
static void test_colliding_names(void **state)
{
	(void)state;
	struct table t = { 0 };
	char name[32], names[12][32];
	size_t found = 0;
	uint64_t want = fl_name_hash("c0") & 0xff;
	for (size_t i = 0; found < 12; i++) {
		snprintf(name, sizeof(name), "c%zu", i);
		if ((fl_name_hash(name) & 0xff) == want)
			snprintf(names[found++], sizeof(names[0]), "%s", name);
	}
	/* 12 names of one first slot at every capacity up to 256, then past it. */
	for (size_t i = 0; i < 12; i++) {
		add(&t, names[i]);
		for (size_t j = 0; j <= i; j++)
			assert_int_equal(find(&t, names[j]), j);
	}
	for (size_t i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "other-%zu", i);
		add(&t, name);
	}
	for (size_t j = 0; j < 12; j++)
		assert_int_equal(find(&t, names[j]), j);
	for (size_t i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "other-%zu", i);
		assert_int_equal(find(&t, name), 12 + i);
	}
	/* A name of the same first slot never added is not confused with those. */
	for (size_t i = 0;; i++) {
		snprintf(name, sizeof(name), "d%zu", i);
		if ((fl_name_hash(name) & 0xff) == want) {
			assert_true(find(&t, name) == FL_NAME_INDEX_NONE);
			break;
		}
	}
	table_release(&t);
}

/* The index holds positions: the array it indexes may move as it grows. */
static void test_array_moves(void **state)
{
	(void)state;
	struct table t = { 0 };
	char name[32];
	for (size_t i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%zu", i);
		add(&t, name);
	}
	struct rec *moved = fl_calloc(t.cap, sizeof(*moved));
	memcpy(moved, t.items, t.n * sizeof(*moved));
	free(t.items);
	t.items = moved;
	for (size_t i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%zu", i);
		assert_int_equal(t.items[find(&t, name)].id, i);
	}
	table_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_colliding_names),
		cmocka_unit_test(test_array_moves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
