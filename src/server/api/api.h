/* SPDX-License-Identifier: Apache-2.0 */
/* api/api.h: helpers shared by the resource files of api/ (one file per resource) and their
 * route tables. api/ translates HTTP to the store and the engine; it decides nothing itself that
 * the engine decides. */
#ifndef SLIPWAY_SERVER_API_H
#define SLIPWAY_SERVER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "http/http.h"

#define API_ROUTES(name) extern const struct route name[]; extern const size_t name##_count
API_ROUTES(api_system_routes);
API_ROUTES(api_builds_routes);
API_ROUTES(api_envs_routes);
API_ROUTES(api_capacity_routes);
API_ROUTES(api_configs_routes);
API_ROUTES(api_deploys_routes);
API_ROUTES(api_agents_routes);
API_ROUTES(api_hosts_routes);
API_ROUTES(api_tags_routes);
API_ROUTES(api_promotes_routes);
API_ROUTES(api_constraints_routes); /* api/constraints.c: deploy_constraint, host_tags (issue 17) */
API_ROUTES(api_ping_routes); /* api/ping.c */
API_ROUTES(api_tokens_routes); /* api/tokens.c: token_roles (§4.10) */
API_ROUTES(api_roles_routes);
API_ROUTES(api_alerts_routes); /* api/alerts.c: external alerts (upstream's alerts resource) */  /* api/roles.c: user_roles, group_roles, whoami (§4.10, §4.1) */

/* Security resources (§4.10): the scope named by the path, type "ENV" with resource = the stored
 * env name (404 when the env has no stage), or "SYSTEM" with resource "*" when the route has no
 * {env}. The strings are borrowed from the request arena. */
int api_security_scope(struct req *r, const char **ret_type, const char **ret_resource);
/* Validate an EnvStage create (create true) or update body against a default stage web/prod, the
 * way POST /v1/envs and PUT {env}/{stage} do, without the store (api/envs.c; for the fuzzer).
 * Records the 400/403 on r like the handlers. */
int api_env_input_check(struct req *r, const json_t *in, bool create);

/* The request's body as JSON (the caller's): 400 with the message `required` when there is none, 400 when it is
 * malformed; api_body_object() also when it is not an object. */
int api_body(struct req *r, const char *required, json_t **ret);
int api_body_object(struct req *r, const char *required, json_t **ret);
/* The env stage named by the {env}/{stage} path parameters; 404 when unknown. */
int api_env_from_path(struct req *r, json_t **ret);
/* A ConfigHistory object for env_id (changeId generated, operator = principal). change may be a
 * JSON value (dumped, truncated to 8192) or NULL. Returns NULL on OOM. */
json_t *api_history(struct req *r, const char *env_id, const char *type, const json_t *change);
/* Config history entries (an array, changed in place) of script_configs, agent_configs and web_hooks lose
 * their value ("configChange": null, "configHidden": true) unless the principal is OPERATOR on the path's
 * env: the values carry secrets (api/configs.c). */
void api_configs_hide_history(struct req *r, json_t *list);
/* Store failure that is not the caller's fault: -EAGAIN → 503, else 500 (logged once with the
 * store's message). -ENOENT/-EEXIST/-EBUSY pass through for the caller's own message. */
int api_store_error(struct req *r, int k, const char *what);
/* The object of id read from the store with get (store_build_get, store_deploy_get, ...), the caller's: 404
 * "<what> '<id>' not found" (naming field, which may be NULL) when id is missing, malformed or unknown. */
int api_get_by_id(struct req *r, const char *what, const char *field, const char *id,
		  int (*get)(struct store *, const char *, json_t **), json_t **ret);
/* The end of a change: 204 when the store call succeeded (k >= 0), else api_store_error(). */
int api_store_done(struct req *r, int k, const char *what);
/* The principal's name (publisher / operator), with upstream's "keep the last 64 chars" rule. */
const char *api_operator(struct req *r);

/* Names of §1.5. */
bool api_name_ok(const char *s);          /* envName, stageName */
bool api_host_ok(const char *s);          /* hostId, hostName */
bool api_group_ok(const char *s);
bool api_id_ok(const char *s);            /* ids in paths */

/* Read an optional string field: absent/null → *ret NULL and 0; wrong type or longer than max →
 * 400 naming the field. */
int api_opt_string(struct req *r, const json_t *obj, const char *key, size_t max, const char **ret);
/* Optional enum field: absent/null → *ret = -1; unknown → 400 naming the field. */
int api_opt_enum(struct req *r, const json_t *obj, const char *key, int (*from_string)(const char *), int *ret);
/* Optional integer in [min, max]: absent/null → 0 with *present false. */
int api_opt_int(struct req *r, const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *ret,
		bool *present);
int api_opt_bool(struct req *r, const json_t *obj, const char *key, bool *ret, bool *present);
/* Query enum (upper-cased name on success, borrowed static string); absent → NULL. */
int api_query_enum(struct req *r, const char *key, int (*from_string)(const char *), const char *(*to_string)(int),
		   const char **ret);
/* Query list of enums as a JSON array of upper-case names, or NULL when the key is absent. */
int api_query_enum_list(struct req *r, const char *key, int (*from_string)(const char *),
			const char *(*to_string)(int), json_t **ret);
/* pageIndex/pageSize → offset/limit (pageSize clamped to 1..1000). */
int api_paging(struct req *r, const char *index_key, const char *size_key, int64_t def_size, int64_t *ret_offset,
	       int64_t *ret_limit);

/* The optional paging of a host list: `limit` (1..API_HOST_PAGE_MAX; absent: the whole list) and `after` (a host
 * name, only with limit), and with failing_ok `failing` (true/false, true only with limit); 400 naming the
 * parameter otherwise. */
#define API_HOST_PAGE_MAX 10000
int api_host_page(struct req *r, bool failing_ok, struct store_page *ret);
/* Body = JSON array of host ids (validated); 400 otherwise. */
int api_host_ids_body(struct req *r, json_t **ret);
/* PAUSED_BY_USER / RESET / NORMAL (case-insensitive); -EINVAL otherwise. */
int api_agent_action_from_string(const char *s, enum store_agent_action *ret);

#endif
