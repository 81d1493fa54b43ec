/* SPDX-License-Identifier: Apache-2.0 */
/* engine/webhook_config.h: what a webhook may be (PROTOCOL §3.5, §7.5): the EnvWebHook document
 * validator used at PUT time, and the destination and header rules checked again when a hook is
 * called. Pure: no store, no network, no clock, no logging (URLs are parsed by libcurl's URL API). */
#ifndef SLIPWAY_SERVER_WEBHOOK_CONFIG_H
#define SLIPWAY_SERVER_WEBHOOK_CONFIG_H

#include <stddef.h>
#include <jansson.h>

#include "ipnet.h"

/* The server settings the rules depend on. */
struct webhook_policy {
	struct ipnet *allowed; /* webhook_allowed_networks, parsed */
	size_t n_allowed;
	const char *user_header;   /* trusted_user_header, NULL or "" when unset */
	const char *groups_header; /* trusted_groups_header, NULL or "" when unset */
};

/* Validate an EnvWebHook body into its stored form (method upper-case, default POST; every field
 * present, null when absent). Refuses a url whose host is a literal address that a hook may not
 * reach (webhook_config_check_addr) and headers that webhook_config_check_header refuses. On
 * success *ret is the caller's. -EINVAL with field ("preDeployHooks[0].url", ...) and msg set;
 * -ENOMEM. */
/* The policy of the settings' values (webhook_allowed_networks as text, the trusted header names, kept
 * by reference); release with webhook_policy_release(). 0, -ENOMEM, or -EINVAL for a bad network list. */
int webhook_policy_init(const char *allowed_networks, const char *user_header, const char *groups_header,
			struct webhook_policy *ret);
void webhook_policy_release(struct webhook_policy *pol);

int webhook_config_validate(const json_t *in, const struct webhook_policy *pol, json_t **ret, char *field,
			    size_t field_size, char *msg, size_t msg_size);

/* Call fn for each "name: value" of a hook's headers string ("A: 1; B: 2"; blanks around names and
 * values trimmed, parts without a colon or name skipped). Stops at and returns the first negative
 * value fn returns; 0, or -ENOMEM. */
typedef int (*webhook_header_fn)(const char *name, const char *value, void *userdata);
int webhook_config_foreach_header(const char *headers, webhook_header_fn fn, void *userdata);

/* May a hook send this header? 0, or -EPERM for a credential or routing header (Authorization,
 * Proxy-Authorization, Cookie, Host, the trusted user / groups headers; any case), -EINVAL for a
 * name that is not an HTTP token or a value with control characters; msg says why. */
int webhook_config_check_header(const char *name, const char *value, const struct webhook_policy *pol, char *msg,
				size_t msg_size);

/* May a hook connect to a? 0, or -EPERM when a is loopback, link-local, private, unspecified,
 * multicast or reserved (also in IPv4-mapped or -compatible form) and outside pol->allowed; msg
 * says why. */
int webhook_config_check_addr(const struct ipnet_addr *a, const struct webhook_policy *pol, char *msg,
			      size_t msg_size);

/* "scheme://host[:port]" of url into out[size] for logs: never the userinfo, path or query, which
 * carry tokens. "(invalid URL)" when url does not parse. Returns out. */
const char *webhook_config_url_origin(const char *url, char *out, size_t size);

#endif
