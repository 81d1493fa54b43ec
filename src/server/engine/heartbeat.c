/* SPDX-License-Identifier: Apache-2.0 */
/* engine/heartbeat.c: when the heartbeat flush writes a host's lastSeen (the allowed change of PROTOCOL §8.5). Pure:
 * the ping pipeline (ping/heartbeat.c) keeps the values and writes them. */
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "banned.h"

int64_t engine_heartbeat_skip_ms(int64_t unreachable_after_ms, int64_t flush_period_ms)
{
	int64_t skip = unreachable_after_ms / 2 - flush_period_ms;

	return skip > 0 ? skip : 0;
}

bool engine_heartbeat_flush_due(int64_t now_ms, int64_t last_seen_ms, int64_t stored_ms, int64_t skip_ms)
{
	if (last_seen_ms <= stored_ms)
		return false; /* nothing new */
	return now_ms - stored_ms >= skip_ms;
}
