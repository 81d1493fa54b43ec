/* SPDX-License-Identifier: Apache-2.0 */
/* agent/identity.h: host identity (AGENT.md §4): command-line flag → config key → host_info file →
 * fallback, and the host_info parser. Does not log. */
#ifndef SLIPWAY_AGENT_IDENTITY_H
#define SLIPWAY_AGENT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum identity_field {
	ID_HOST_ID,
	ID_HOST_NAME,
	ID_HOST_IP,
	ID_GROUPS,
	ID_AZ,
	ID_ASG,
	ID_STAGE_TYPE,
	ID_ACCOUNT_ID,
	_ID_MAX,
};

/* One source of values: NULL or "" = not given by this source. groups are comma-separated. tags: "key=value"
 * items separated by tags_sep (',' in the config file's `tags`, '\n' for host_info's tag.<key>=<value> lines,
 * whose values may hold commas). */
struct identity_source {
	const char *v[_ID_MAX];
	const char *tags;
	char tags_sep;
};

struct host_identity {
	char *v[_ID_MAX]; /* NULL = omitted; v[ID_GROUPS] unused (see groups) */
	char **groups;
	size_t n_groups;
	json_t *tags; /* object key → value (ec2Tags), NULL when there are none */
};

/* Parse host_info text (upstream format: key=value lines, spaces and quotes stripped, blank lines and
 * '#' comments ignored, unknown keys ignored; tag.<key>=<value> lines become tags) into *ret (strings
 * malloc'd, released with identity_source_free_strings). 0 or -ENOMEM. */
int identity_parse_host_info(const char *text, struct identity_source *ret);
void identity_source_free_strings(struct identity_source *s);

/* Resolve every field from the sources in order (flags, config, host_info), then fallbacks (hostName:
 * gethostname(), hostId: hostName, hostIp: the first non-loopback address). Validates hostId/hostName
 * (^[A-Za-z0-9._-]{1,64}$) and groups (^[A-Za-z0-9._:-]{1,128}$). Tags are host_info's, then the config's
 * (a key in both: the config's value), within the ping's limits (proto/wire.h: at most PING_MAX_TAGS, keys
 * tag_key_is_valid(), values UTF-8 of at most PING_TAG_VALUE_MAX_BYTES). 0, -EINVAL with err, or -ENOMEM. */
int identity_resolve(const struct identity_source *flags, const struct identity_source *config,
		     const struct identity_source *host_info, struct host_identity *ret, char *err, size_t errsz);
void host_identity_release(struct host_identity *id);
/* Add the tags of list (items "key=value" separated by sep; blank items skipped) to the object tags,
 * validating each (see identity_resolve). 0, -EINVAL with err naming the tag, or -ENOMEM. */
int identity_tags_add(json_t *tags, const char *list, char sep, char *err, size_t errsz);

#endif
