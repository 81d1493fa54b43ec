/* SPDX-License-Identifier: Apache-2.0 */
/* api/configs.c */
#include "api.h"
#include "util.h"
#include "banned.h"

const struct route api_configs_routes[] = {
	{ "GET", "/v1/__placeholder_configs", NULL, 0, SCOPE_PUBLIC, false },
};
const size_t api_configs_routes_count = 0;
