/* The logging sink; see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/banned.h"

void fl_log(const struct fl_log *log, enum fl_log_level level, const char *fmt, ...)
{
	if (!log || !log->write || level < log->min)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log->write(level, msg, log->payload);
}
