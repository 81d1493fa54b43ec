/* SPDX-License-Identifier: Apache-2.0 */
/* lib/log.h: one line per event on stderr: "<RFC3339 UTC> <level> <message>".
 * Library code (lib, proto, engine, store) logs only at debug. Thread-safe. */
#ifndef SLIPWAY_LOG_H
#define SLIPWAY_LOG_H

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	_LOG_LEVEL_MAX,
};

void log_set_level(enum log_level level);
/* "debug", "info", "notice", "warn"/"warning", "error"/"err" → level; -EINVAL otherwise. */
int log_level_from_string(const char *s);

void log_emit(enum log_level level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_emit(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_emit(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_LEVEL_WARN, 0, __VA_ARGS__)
#define log_error(...) log_emit(LOG_LEVEL_ERROR, 0, __VA_ARGS__)

/* Log with ": <strerror(-r)>" appended and evaluate to r (a negative errno). */
#define log_warn_errno(r, ...) (log_emit(LOG_LEVEL_WARN, (r), __VA_ARGS__), (r))
#define log_error_errno(r, ...) (log_emit(LOG_LEVEL_ERROR, (r), __VA_ARGS__), (r))
#define log_debug_errno(r, ...) (log_emit(LOG_LEVEL_DEBUG, (r), __VA_ARGS__), (r))

#endif
