/*
 * Tests for core/log.c: the sink gets the formatted message, its level and
 * its payload; messages under the minimum level are dropped; a NULL log or a
 * log without a sink drops everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "core/banned.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* What the recording sink saw. */
struct record {
	int calls;
	enum fl_log_level level;
	char msg[2048];
	size_t len;
};

static void record_sink(enum fl_log_level level, const char *msg, void *payload)
{
	struct record *r = payload;
	r->calls++;
	r->level = level;
	r->len = strlen(msg);
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void test_formats(void **state)
{
	struct record rec = { 0 };
	struct fl_log log = { record_sink, &rec, FL_LOG_DEBUG };

	(void)state;
	fl_log(&log, FL_LOG_INFO, "tenant '%s' has %d vars", "acme", 3);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.level, FL_LOG_INFO);
	assert_string_equal(rec.msg, "tenant 'acme' has 3 vars");

	fl_log(&log, FL_LOG_ERROR, "%s", "");
	assert_int_equal(rec.calls, 2);
	assert_int_equal(rec.level, FL_LOG_ERROR);
	assert_string_equal(rec.msg, "");

	/* A % in an argument is not a format. */
	fl_log(&log, FL_LOG_WARN, "%s", "100%s done");
	assert_int_equal(rec.level, FL_LOG_WARN);
	assert_string_equal(rec.msg, "100%s done");
}

static void test_long_message(void **state)
{
	struct record rec = { 0 };
	struct fl_log log = { record_sink, &rec, FL_LOG_DEBUG };
	char arg[1500];

	(void)state;
	memset(arg, 'x', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = '\0';
	fl_log(&log, FL_LOG_INFO, "<%s>", arg);
	assert_int_equal(rec.calls, 1);
	/* Cut to the 1023 bytes that fit, NUL-terminated. */
	assert_int_equal(rec.len, 1023);
	assert_int_equal(rec.msg[0], '<');
	assert_int_equal(rec.msg[1022], 'x');
}

struct level_case {
	enum fl_log_level min, level;
	int delivered;
};

static const struct level_case level_cases[] = {
	{ FL_LOG_DEBUG, FL_LOG_DEBUG, 1 }, { FL_LOG_DEBUG, FL_LOG_INFO, 1 }, { FL_LOG_DEBUG, FL_LOG_WARN, 1 },
	{ FL_LOG_DEBUG, FL_LOG_ERROR, 1 }, { FL_LOG_INFO, FL_LOG_DEBUG, 0 }, { FL_LOG_INFO, FL_LOG_INFO, 1 },
	{ FL_LOG_INFO, FL_LOG_WARN, 1 },   { FL_LOG_INFO, FL_LOG_ERROR, 1 }, { FL_LOG_WARN, FL_LOG_DEBUG, 0 },
	{ FL_LOG_WARN, FL_LOG_INFO, 0 },   { FL_LOG_WARN, FL_LOG_WARN, 1 },  { FL_LOG_WARN, FL_LOG_ERROR, 1 },
	{ FL_LOG_ERROR, FL_LOG_DEBUG, 0 }, { FL_LOG_ERROR, FL_LOG_INFO, 0 }, { FL_LOG_ERROR, FL_LOG_WARN, 0 },
	{ FL_LOG_ERROR, FL_LOG_ERROR, 1 },
};

static void test_levels(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(level_cases); i++) {
		const struct level_case *c = &level_cases[i];
		struct record rec = { 0 };
		struct fl_log log = { record_sink, &rec, c->min };

		fl_log(&log, c->level, "m%d", (int)c->level);
		if (rec.calls != c->delivered)
			fail_msg("min %d, level %d: %d calls, want %d", (int)c->min, (int)c->level, rec.calls,
				 c->delivered);
		if (c->delivered &&
		    (rec.level != c->level || rec.msg[0] != 'm' || rec.msg[1] != '0' + (int)c->level))
			fail_msg("min %d, level %d: got level %d '%s'", (int)c->min, (int)c->level,
				 (int)rec.level, rec.msg);
	}
}

/*
 * A NULL log and a log without a sink drop the message: nothing reaches
 * the payload (a sink-less log still carries one), and a log with a sink
 * used afterwards gets only its own message.
 */
static void test_null_log(void **state)
{
	struct record untouched = { .calls = 7, .level = FL_LOG_WARN, .msg = "before", .len = 6 };
	struct record rec = untouched;
	struct record after = { 0 };
	struct fl_log no_sink = { NULL, &rec, FL_LOG_DEBUG };
	struct fl_log sink = { record_sink, &after, FL_LOG_DEBUG };

	(void)state;
	fl_log(NULL, FL_LOG_ERROR, "dropped %d", 1);
	fl_log(&no_sink, FL_LOG_ERROR, "dropped %d", 2);
	assert_memory_equal(&rec, &untouched, sizeof(rec));
	fl_log(&sink, FL_LOG_INFO, "kept %d", 3);
	assert_int_equal(after.calls, 1);
	assert_string_equal(after.msg, "kept 3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_long_message),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_null_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
