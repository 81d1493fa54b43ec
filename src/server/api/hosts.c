/* SPDX-License-Identifier: Apache-2.0 */
/* api/hosts.c */
#include "api.h"
#include "util.h"
#include "banned.h"

const struct route api_hosts_routes[] = {
	{ "GET", "/v1/__placeholder_hosts", NULL, 0, SCOPE_PUBLIC, false },
};
const size_t api_hosts_routes_count = 0;
