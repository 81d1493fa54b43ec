/* SPDX-License-Identifier: Apache-2.0 */
/* agent/identity.c: who this host is (AGENT.md §4). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "identity.h"
#include "names.h"
#include "wire.h"
#include "util.h"
#include "banned.h"

static const char *const host_info_keys[_ID_MAX] = {
	[ID_HOST_ID] = "id",
	[ID_HOST_NAME] = "hostname",
	[ID_HOST_IP] = "ip",
	[ID_GROUPS] = "groups",
	[ID_AZ] = "availability-zone",
	[ID_ASG] = "autoscaling-group",
	[ID_STAGE_TYPE] = "stage-type",
	[ID_ACCOUNT_ID] = "account-id",
};

static char *strip(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '"' || *s == '\'' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '"' || e[-1] == '\'' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Append "key=value\n" to the host_info source's tag lines. 0 or -ENOMEM. */
static int add_tag_line(struct identity_source *s, const char *key, const char *value)
{
	char *n = NULL;

	if (asprintf(&n, "%s%s=%s\n", s->tags ? s->tags : "", key, value) < 0)
		return -ENOMEM;
	free((char *)s->tags);
	s->tags = n;
	return 0;
}

int identity_parse_host_info(const char *text, struct identity_source *ret)
{
	struct identity_source s = { { 0 }, NULL, '\n' };
	char *copy = strdup(text), *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq, *key, *value;

		key = strip(line);
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq)
			continue;
		*eq = '\0';
		key = strip(key);
		value = strip(eq + 1);
		if (startswith(key, "tag.") && add_tag_line(&s, key + 4, value) < 0) {
			identity_source_free_strings(&s);
			free(copy);
			return -ENOMEM;
		}
		for (int i = 0; i < _ID_MAX; i++)
			if (streq(key, host_info_keys[i])) {
				char *dup = strdup(value);
				if (!dup) {
					identity_source_free_strings(&s);
					free(copy);
					return -ENOMEM;
				}
				free((char *)s.v[i]);
				s.v[i] = dup;
			}
	}
	free(copy);
	*ret = s;
	return 0;
}

void identity_source_free_strings(struct identity_source *s)
{
	for (int i = 0; i < _ID_MAX; i++) {
		free((char *)s->v[i]);
		s->v[i] = NULL;
	}
	free((char *)s->tags);
	s->tags = NULL;
}

int identity_tags_add(json_t *tags, const char *list, char sep, char *err, size_t errsz)
{
	const char seps[2] = { sep, '\0' };
	char *copy, *save = NULL;
	int r = 0;

	if (!list || !*list)
		return 0;
	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	for (char *item = strtok_r(copy, seps, &save); item && r == 0; item = strtok_r(NULL, seps, &save)) {
		char *eq, *key, *value;
		json_t *v;

		key = strip(item);
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			snprintf(err, errsz, "tag '%.64s' has no '=' (want key=value)", key);
			r = -EINVAL;
			break;
		}
		*eq = '\0';
		key = strip(key);
		value = strip(eq + 1);
		if (!tag_key_is_valid(key)) {
			snprintf(err, errsz, "tag key '%.64s' must be 1-64 characters of A-Z a-z 0-9 : _ . -", key);
			r = -EINVAL;
		} else if (strlen(value) > PING_TAG_VALUE_MAX_BYTES) {
			snprintf(err, errsz, "the value of tag '%s' is longer than %d bytes", key,
				 PING_TAG_VALUE_MAX_BYTES);
			r = -EINVAL;
		} else if (!(v = json_string(value))) { /* jansson refuses invalid UTF-8 */
			snprintf(err, errsz, "the value of tag '%s' is not valid UTF-8", key);
			r = -EINVAL;
		} else if (json_object_set_new(tags, key, v) < 0)
			r = -ENOMEM;
	}
	free(copy);
	if (r == 0 && json_object_size(tags) > PING_MAX_TAGS) {
		snprintf(err, errsz, "%zu tags, at most %d are allowed", json_object_size(tags), PING_MAX_TAGS);
		r = -EINVAL;
	}
	return r;
}

/* host_info's tags, then the config's. 0, -EINVAL with err, or -ENOMEM. */
static int resolve_tags(const struct identity_source *config, const struct identity_source *host_info,
			struct host_identity *id, char *err, size_t errsz)
{
	const struct identity_source *srcs[] = { host_info, config };
	json_t *tags = json_object();
	int r = 0;

	if (!tags)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(srcs) && r == 0; i++)
		if (srcs[i])
			r = identity_tags_add(tags, srcs[i]->tags, srcs[i]->tags_sep ? srcs[i]->tags_sep : ',', err,
					      errsz);
	if (r < 0 || json_object_size(tags) == 0) {
		json_decref(tags);
		return r;
	}
	id->tags = tags;
	return 0;
}

static int first_ip(const char *host_name, char *out, size_t size)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	struct ifaddrs *ifa = NULL;
	char v6[INET6_ADDRSTRLEN] = "";

	if (host_name && getaddrinfo(host_name, NULL, &hints, &res) == 0) {
		for (int want = AF_INET; want; want = want == AF_INET ? AF_INET6 : 0)
			for (struct addrinfo *a = res; a; a = a->ai_next) {
				if (a->ai_family != want)
					continue;
				if (want == AF_INET) {
					struct sockaddr_in *sin = (struct sockaddr_in *)a->ai_addr;
					if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
						continue;
					inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)size);
				} else {
					struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)a->ai_addr;
					if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
						continue;
					inet_ntop(AF_INET6, &sin6->sin6_addr, out, (socklen_t)size);
				}
				freeaddrinfo(res);
				return 0;
			}
		freeaddrinfo(res);
	}
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, (socklen_t)size);
			freeifaddrs(ifa);
			return 0;
		}
		if (i->ifa_addr->sa_family == AF_INET6 && !v6[0]) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)i->ifa_addr;
			if (!IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
				inet_ntop(AF_INET6, &sin6->sin6_addr, v6, sizeof(v6));
		}
	}
	freeifaddrs(ifa);
	if (v6[0])
		return str_copy(out, size, v6);
	return -ENOENT;
}

static int split_groups(const char *list, struct host_identity *id, char *err, size_t errsz)
{
	char *copy = strdup(list), *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *g = strip(tok), **n;
		bool dup = false;

		if (!*g)
			continue;
		if (!str_charset_ok(g, "._:-", 1, 128)) {
			snprintf(err, errsz, "invalid group name '%.128s'", g);
			r = -EINVAL;
			break;
		}
		for (size_t i = 0; i < id->n_groups; i++)
			if (streq(id->groups[i], g))
				dup = true;
		if (dup)
			continue;
		n = realloc(id->groups, sizeof(char *) * (id->n_groups + 1));
		if (!n || !(n[id->n_groups] = strdup(g))) {
			if (n)
				id->groups = n;
			r = -ENOMEM;
			break;
		}
		id->groups = n;
		id->n_groups++;
	}
	free(copy);
	return r;
}

int identity_resolve(const struct identity_source *flags, const struct identity_source *config,
		     const struct identity_source *host_info, struct host_identity *ret, char *err, size_t errsz)
{
	const struct identity_source *srcs[] = { flags, config, host_info };
	struct host_identity id;
	const char *groups = NULL;
	int r = 0;

	memset(&id, 0, sizeof(id));

	for (int f = 0; f < _ID_MAX; f++) {
		const char *v = NULL;
		for (size_t s = 0; s < ELEMENTSOF(srcs) && !v; s++)
			if (srcs[s] && srcs[s]->v[f] && *srcs[s]->v[f])
				v = srcs[s]->v[f];
		if (!v)
			continue;
		if (f == ID_GROUPS) {
			groups = v;
			continue;
		}
		id.v[f] = strdup(v);
		if (!id.v[f]) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (!id.v[ID_HOST_NAME]) {
		char hn[256] = "";
		if (gethostname(hn, sizeof(hn) - 1) < 0 || !*hn) {
			snprintf(err, errsz, "cannot determine the host name");
			r = -EINVAL;
			goto out;
		}
		id.v[ID_HOST_NAME] = strdup(hn);
		if (!id.v[ID_HOST_NAME]) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (!id.v[ID_HOST_ID]) {
		id.v[ID_HOST_ID] = strdup(id.v[ID_HOST_NAME]);
		if (!id.v[ID_HOST_ID]) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (!str_charset_ok(id.v[ID_HOST_ID], "._-", 1, 64)) {
		snprintf(err, errsz, "invalid host id '%.64s'", id.v[ID_HOST_ID]);
		r = -EINVAL;
		goto out;
	}
	if (!str_charset_ok(id.v[ID_HOST_NAME], "._-", 1, 64)) {
		snprintf(err, errsz, "invalid host name '%.64s'", id.v[ID_HOST_NAME]);
		r = -EINVAL;
		goto out;
	}
	if (!id.v[ID_HOST_IP]) {
		char ip[INET6_ADDRSTRLEN];
		if (first_ip(id.v[ID_HOST_NAME], ip, sizeof(ip)) == 0) {
			id.v[ID_HOST_IP] = strdup(ip);
			if (!id.v[ID_HOST_IP]) {
				r = -ENOMEM;
				goto out;
			}
		}
	}
	if (groups) {
		r = split_groups(groups, &id, err, errsz);
		if (r < 0)
			goto out;
	}
	r = resolve_tags(config, host_info, &id, err, errsz);
	if (r < 0)
		goto out;
	*ret = id;
	memset(&id, 0, sizeof(id));
out:
	host_identity_release(&id);
	return r;
}

void host_identity_release(struct host_identity *id)
{
	for (int i = 0; i < _ID_MAX; i++)
		free(id->v[i]);
	for (size_t i = 0; i < id->n_groups; i++)
		free(id->groups[i]);
	free(id->groups);
	json_decref(id->tags);
	memset(id, 0, sizeof(*id));
}
