/* SPDX-License-Identifier: Apache-2.0 */
/* api/capacity.c */
#include "api.h"
#include "util.h"
#include "banned.h"

const struct route api_capacity_routes[] = {
	{ "GET", "/v1/__placeholder_capacity", NULL, 0, SCOPE_PUBLIC, false },
};
const size_t api_capacity_routes_count = 0;
