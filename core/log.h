/*
 * Logging through a sink: the engine never prints; cmd/ installs a sink that
 * writes to the terminal and tests install one that records.
 */
#ifndef FL_LOG_H
#define FL_LOG_H

enum fl_log_level { FL_LOG_DEBUG, FL_LOG_INFO, FL_LOG_WARN, FL_LOG_ERROR };

struct fl_log {
	void (*write)(enum fl_log_level level, const char *msg, void *payload);
	void *payload;
	enum fl_log_level min;
};

/* Formats and hands the message to log's sink; log may be NULL (dropped). */
void fl_log(const struct fl_log *log, enum fl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
