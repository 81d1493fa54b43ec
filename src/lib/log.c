/* SPDX-License-Identifier: Apache-2.0 */
/* lib/log.c: stderr logger. One write(2) per line so concurrent threads never interleave. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "banned.h"

static volatile int log_level = LOG_LEVEL_INFO;

static const char *const level_names[_LOG_LEVEL_MAX] = {
	[LOG_LEVEL_DEBUG] = "debug", [LOG_LEVEL_INFO] = "info", [LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_WARN] = "warn",   [LOG_LEVEL_ERROR] = "error",
};

void log_set_level(enum log_level level)
{
	log_level = level;
}

int log_level_from_string(const char *s)
{
	for (int i = 0; i < _LOG_LEVEL_MAX; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "warning") == 0)
		return LOG_LEVEL_WARN;
	if (strcasecmp(s, "err") == 0)
		return LOG_LEVEL_ERROR;
	return -EINVAL;
}

void log_emit(enum log_level level, int err, const char *fmt, ...)
{
	char line[4096], ts[40];
	va_list ap;
	int saved_errno = errno, n, m;

	if ((int)level < log_level)
		return;
	fmt_rfc3339(now_ms(), ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s %s ", ts, level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	if (err) {
		const char *es = strerror(err < 0 ? -err : err);
		size_t room = sizeof(line) - 2 - (size_t)n, el = strlen(es);

		/* copied by hand: snprintf here trips -Wformat-truncation under the sanitizer build */
		if (room >= 2) {
			memcpy(line + n, ": ", 2);
			n += 2;
			room -= 2;
			if (el > room)
				el = room;
			memcpy(line + n, es, el);
			n += (int)el;
		}
	}
	/* untrusted text must not break the one-line-per-event rule */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
	errno = saved_errno;
}
