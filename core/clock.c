/*
 * The clock; see clock.h. Times are kept as seconds since the epoch and
 * written in UTC only, so a ledger reads the same on every machine.
 */
/* timegm() is a BSD and GNU extension. */
#define _DEFAULT_SOURCE 1

#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/banned.h"

long long fl_now(void)
{
	const char *fake = getenv("FLOTILLA_NOW");
	if (fake && *fake)
		return atoll(fake);
	return (long long)time(NULL);
}

void fl_time_format(char out[32], long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

long long fl_time_parse(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			 &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

long long fl_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
