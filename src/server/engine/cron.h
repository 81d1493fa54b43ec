/* SPDX-License-Identifier: Apache-2.0 */
/* engine/cron.h: Quartz-style cron expressions of PROTOCOL §8.2, evaluated in UTC: 6 or 7 fields
 * (seconds minutes hours day-of-month month day-of-week [year]); `*`, `?`, numbers, lists, ranges,
 * steps `*\/n` and `a/n` (also `a-b/n`), JAN-DEC, SUN-SAT with 1-7 = SUN-SAT. `L`, `W`, `#` and
 * restricting both day fields are rejected. Pure: no clock, no logging. */
#ifndef SLIPWAY_ENGINE_CRON_H
#define SLIPWAY_ENGINE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cron {
	uint64_t sec, min;
	uint32_t hour, dom; /* dom bit 1..31 */
	uint16_t month;     /* bit 1..12 */
	uint8_t dow;        /* bit 1..7 (1 = SUN) */
	bool dom_any, dow_any;
	uint64_t year[4];   /* bit (year - 1970), 1970..2225 */
};

/* Parse; -EINVAL with a reason in errbuf. */
int cron_parse(const char *expr, struct cron *ret, char *errbuf, size_t errsize);
/* First fire time >= after_ms (epoch ms, whole seconds); -ENOENT when none within 100 years. */
int cron_next(const struct cron *c, int64_t after_ms, int64_t *ret_ms);

#endif
