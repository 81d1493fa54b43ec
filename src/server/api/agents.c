/* SPDX-License-Identifier: Apache-2.0 */
/* api/agents.c */
#include "api.h"
#include "util.h"
#include "banned.h"

const struct route api_agents_routes[] = {
	{ "GET", "/v1/__placeholder_agents", NULL, 0, SCOPE_PUBLIC, false },
};
const size_t api_agents_routes_count = 0;
