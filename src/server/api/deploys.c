/* SPDX-License-Identifier: Apache-2.0 */
/* api/deploys.c */
#include "api.h"
#include "util.h"
#include "banned.h"

const struct route api_deploys_routes[] = {
	{ "GET", "/v1/__placeholder_deploys", NULL, 0, SCOPE_PUBLIC, false },
};
const size_t api_deploys_routes_count = 0;

int deploy_transition_run(struct server *srv, const json_t *env)
{
	(void)srv;
	(void)env;
	return 0;
}
