/* SPDX-License-Identifier: Apache-2.0 */
/* engine/webhook_config.c: the EnvWebHook validator and the destination and header rules of
 * webhooks. Pure (see the header): the API's PUT, the delivery threads and the fuzz target all
 * call it, so a rule lives in one place. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "util.h"
#include "webhook_config.h"
#include "banned.h"

#define MAX_HOOKS 20

int webhook_config_foreach_header(const char *headers, webhook_header_fn fn, void *userdata)
{
	char *copy, *save = NULL;
	int r = 0;

	if (!headers)
		return 0;
	copy = strdup(headers);
	if (!copy)
		return -ENOMEM;
	for (char *part = strtok_r(copy, ";", &save); part && r >= 0; part = strtok_r(NULL, ";", &save)) {
		char *colon = strchr(part, ':'), *name = part, *value;
		if (!colon)
			continue;
		*colon = 0;
		value = colon + 1;
		while (*name == ' ' || *name == '\t')
			name++;
		for (char *e = name + strlen(name); e > name && (e[-1] == ' ' || e[-1] == '\t'); e--)
			e[-1] = 0;
		while (*value == ' ' || *value == '\t')
			value++;
		for (char *e = value + strlen(value); e > value && (e[-1] == ' ' || e[-1] == '\t'); e--)
			e[-1] = 0;
		if (*name)
			r = fn(name, value, userdata);
	}
	free(copy);
	return r < 0 ? r : 0;
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

int webhook_config_check_header(const char *name, const char *value, const struct webhook_policy *pol, char *msg,
				size_t msg_size)
{
	static const char *const fixed[] = { "Authorization", "Proxy-Authorization", "Cookie", "Host" };
	const char *configured[] = { pol->user_header, pol->groups_header };

	if (!is_token(name)) {
		/* not echoed: it may be anything, and a cut would not be UTF-8 any more */
		(void)str_copy(msg, msg_size, "a header name is not an HTTP token (letters, digits, !#$%&'*+-.^_`|~)");
		return -EINVAL;
	}
	for (const unsigned char *v = (const unsigned char *)value; *v; v++)
		if ((*v < 0x20 && *v != '\t') || *v == 0x7f) {
			(void)str_printf(msg, msg_size, "header '%.64s' has a control character in its value", name);
			return -EINVAL;
		}
	for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
		if (strcasecmp(name, fixed[i]) == 0) {
			(void)str_printf(msg, msg_size, "header '%s' may not be set by a webhook", fixed[i]);
			return -EPERM;
		}
	for (size_t i = 0; i < ELEMENTSOF(configured); i++)
		if (configured[i] && *configured[i] && strcasecmp(name, configured[i]) == 0) {
			(void)str_printf(msg, msg_size, "header '%.64s' (the trusted proxy's %s header) may not be set "
				"by a webhook", configured[i], i == 0 ? "user" : "groups");
			return -EPERM;
		}
	return 0;
}

int webhook_config_check_addr(const struct ipnet_addr *a, const struct webhook_policy *pol, char *msg,
			      size_t msg_size)
{
	const char *what = ipnet_addr_restricted(a);
	char text[64];

	if (!what || ipnet_list_contains(pol->allowed, pol->n_allowed, a))
		return 0;
	(void)str_printf(msg, msg_size, "address %s is %s and outside webhook_allowed_networks",
			 ipnet_addr_to_string(a, text, sizeof(text)), what);
	return -EPERM;
}

/* The host of url, brackets of an IPv6 literal removed, into out (caller's, curl_free()). */
static int url_host(CURLU *u, char **ret)
{
	char *host = NULL;
	size_t l;

	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		return -EINVAL;
	l = strlen(host);
	if (l >= 2 && host[0] == '[' && host[l - 1] == ']') {
		memmove(host, host + 1, l - 2);
		host[l - 2] = 0;
	}
	*ret = host;
	return 0;
}

static CURLU *url_parse(const char *url)
{
	CURLU *u = curl_url();

	if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME | CURLU_ALLOW_SPACE) != CURLUE_OK) {
		curl_url_cleanup(u);
		u = NULL;
	}
	return u;
}

/* A literal address in the URL is judged now; a name is judged when the hook is called, on the
 * address it resolves to. A URL that does not parse here fails when called. */
static int check_url(const char *url, const struct webhook_policy *pol, char *msg, size_t msg_size)
{
	struct ipnet_addr a;
	char *host = NULL;
	CURLU *u = url_parse(url);
	int r = 0;

	if (u && url_host(u, &host) == 0 && ipnet_addr_parse(host, &a) == 0)
		r = webhook_config_check_addr(&a, pol, msg, msg_size);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

const char *webhook_config_url_origin(const char *url, char *out, size_t size)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLU *u = url ? url_parse(url) : NULL;

	if (u && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
			port = NULL;
		if (str_printf(out, size, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "") < 0)
			(void)str_copy(out, size, "(long URL)");
	} else
		(void)str_copy(out, size, "(invalid URL)");
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return out;
}

struct header_check {
	const struct webhook_policy *pol;
	char *msg;
	size_t msg_size;
};

static int header_ok(const char *name, const char *value, void *userdata)
{
	struct header_check *hc = userdata;
	int r = webhook_config_check_header(name, value, hc->pol, hc->msg, hc->msg_size);

	return r < 0 ? -EINVAL : 0;
}

static int fail(char *field, size_t field_size, const char *list, size_t i, const char *key, char *msg,
		size_t msg_size, const char *text)
{
	if (key)
		(void)str_printf(field, field_size, "%s[%zu].%s", list, i, key);
	else
		(void)str_printf(field, field_size, "%s[%zu]", list, i);
	if (text)
		(void)str_copy(msg, msg_size, text);
	return -EINVAL;
}

/* Is m (any case) one of the methods a hook may use? Its upper-case form into up. */
static bool method_ok(const char *m, char up[8])
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };

	for (size_t i = 0; i < ELEMENTSOF(methods); i++)
		if (strcasecmp(m, methods[i]) == 0) {
			(void)str_copy(up, 8, methods[i]);
			return true;
		}
	return false;
}

/* One hook of list[i] into its stored form *ret. */
static int validate_hook(const json_t *h, const struct webhook_policy *pol, const char *list, size_t i, json_t **ret,
			 char *field, size_t field_size, char *msg, size_t msg_size)
{
	static const struct {
		const char *key;
		size_t max;
	} fields[] = { { "method", 16 }, { "url", 2048 }, { "version", 64 }, { "headers", 4096 }, { "body", 65536 } };
	struct header_check hc = { pol, msg, msg_size };
	json_t *hook = NULL;
	const char *m, *url;
	char up[8];
	int r;

	if (!json_is_object(h))
		return fail(field, field_size, list, i, NULL, msg, msg_size, "a hook must be an object");
	hook = json_object();
	if (!hook)
		return -ENOMEM;
	for (size_t f = 0; f < ELEMENTSOF(fields); f++) {
		json_t *v = json_object_get(h, fields[f].key);
		if (!v || json_is_null(v)) {
			(void)json_object_set_new(hook, fields[f].key, json_null());
			continue;
		}
		if (!json_is_string(v) || json_string_length(v) > fields[f].max) {
			r = fail(field, field_size, list, i, fields[f].key, msg, msg_size, NULL);
			(void)str_printf(msg, msg_size, "%s must be a string of at most %zu characters", fields[f].key,
					 fields[f].max);
			goto out;
		}
		(void)json_object_set(hook, fields[f].key, v);
	}
	m = json_string_value(json_object_get(hook, "method"));
	if (m && !method_ok(m, up)) {
		r = fail(field, field_size, list, i, "method", msg, msg_size, "method must be GET, POST, PUT or DELETE");
		goto out;
	}
	(void)json_object_set_new(hook, "method", json_string(m ? up : "POST"));
	url = json_string_value(json_object_get(hook, "url"));
	if (!url) {
		r = fail(field, field_size, list, i, "url", msg, msg_size, "url is required");
		goto out;
	}
	r = check_url(url, pol, msg, msg_size);
	if (r < 0) {
		r = fail(field, field_size, list, i, "url", msg, msg_size, NULL);
		goto out;
	}
	r = webhook_config_foreach_header(json_string_value(json_object_get(hook, "headers")), header_ok, &hc);
	if (r == -EINVAL)
		r = fail(field, field_size, list, i, "headers", msg, msg_size, NULL);
	if (r < 0)
		goto out;
	*ret = hook;
	hook = NULL;
out:
	json_decref(hook);
	return r;
}

int webhook_config_validate(const json_t *in, const struct webhook_policy *pol, json_t **ret, char *field,
			    size_t field_size, char *msg, size_t msg_size)
{
	static const char *const lists[] = { "preDeployHooks", "postDeployHooks" };
	json_t *out = NULL;
	int r = -EINVAL;

	if (!json_is_object(in)) {
		(void)str_copy(field, field_size, "");
		(void)str_copy(msg, msg_size, "the body must be a JSON object");
		return -EINVAL;
	}
	out = json_object();
	if (!out)
		return -ENOMEM;
	for (size_t l = 0; l < ELEMENTSOF(lists); l++) {
		json_t *src = json_object_get(in, lists[l]), *dst = json_array(), *h;
		size_t i;

		if (!dst || json_object_set_new(out, lists[l], dst) < 0) {
			r = -ENOMEM;
			goto out;
		}
		if (!src || json_is_null(src))
			continue;
		if (!json_is_array(src) || json_array_size(src) > MAX_HOOKS) {
			(void)str_copy(field, field_size, lists[l]);
			(void)str_printf(msg, msg_size, "must be an array of at most %d hooks", MAX_HOOKS);
			r = -EINVAL;
			goto out;
		}
		json_array_foreach(src, i, h) {
			json_t *hook = NULL;
			r = validate_hook(h, pol, lists[l], i, &hook, field, field_size, msg, msg_size);
			if (r < 0)
				goto out;
			if (json_array_append_new(dst, hook) < 0) {
				r = -ENOMEM;
				goto out;
			}
		}
	}
	*ret = out;
	out = NULL;
	r = 0;
out:
	json_decref(out);
	return r;
}

int webhook_policy_init(const char *allowed_networks, const char *user_header, const char *groups_header,
			struct webhook_policy *ret)
{
	struct webhook_policy pol = { 0 };
	int r;

	r = ipnet_list_parse(allowed_networks, &pol.allowed, &pol.n_allowed, NULL, 0);
	if (r < 0)
		return r;
	pol.user_header = user_header;
	pol.groups_header = groups_header;
	*ret = pol;
	return 0;
}

void webhook_policy_release(struct webhook_policy *pol)
{
	free(pol->allowed);
	pol->allowed = NULL;
	pol->n_allowed = 0;
}
