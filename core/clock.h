/*
 * The clock: wall time in seconds since the epoch (which tests can fix
 * through FLOTILLA_NOW), its one text form (2026-11-25T12:45:00Z, UTC), and
 * a monotonic clock in milliseconds for measuring intervals.
 */
#ifndef FL_CLOCK_H
#define FL_CLOCK_H

/* The current time (seconds since the epoch); FLOTILLA_NOW overrides it for tests. */
long long fl_now(void);

/* Formats t as 2026-11-25T12:45:00Z. */
void fl_time_format(char out[32], long long t);

/* The time that fl_time_format wrote into s; 0 for NULL or any other text. */
long long fl_time_parse(const char *s);

/* Milliseconds of a monotonic clock: only differences between two readings mean anything. */
long long fl_mono_ms(void);

#endif
