/* fuzz-needs: server */
/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz-webhook-config: the EnvWebHook validator (engine/webhook_config.h) on arbitrary bodies, with
 * the trusted proxy's header names set and one allowed network. A refusal must be -EINVAL with a
 * field and a UTF-8 message (both go into a JSON error body); an acceptance must be in stored form
 * and a fixed point (validating it again gives it back). The raw input also goes through the
 * header splitter and the log origin of a URL, which must never show userinfo, path or query. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webhook_config.h"
#include "fuzz.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int header_seen(const char *name, const char *value, void *ud)
{
	(void)ud;
	CHECK(*name && !strchr(name, ';') && !strchr(value, ';') && !strchr(name, ':'));
	CHECK(name[0] != ' ' && name[0] != '\t' && name[strlen(name) - 1] != ' ' && name[strlen(name) - 1] != '\t');
	return 0;
}

static void check_origin(const char *url)
{
	char out[300];
	const char *o = webhook_config_url_origin(url, out, sizeof(out));

	CHECK(o == out && strlen(out) < sizeof(out));
	if (out[0] != '(') {
		const char *rest = strstr(out, "://");
		CHECK(rest);
		CHECK(!strpbrk(rest + 3, "/?#@"));
	}
}

static void check_stored(const json_t *out, const struct webhook_policy *pol)
{
	static const char *const lists[] = { "preDeployHooks", "postDeployHooks" };
	char field[128], msg[256];
	json_t *again = NULL, *h;
	size_t i;

	CHECK(json_is_object(out) && json_object_size(out) == 2);
	for (size_t l = 0; l < 2; l++) {
		const json_t *list = json_object_get(out, lists[l]);
		CHECK(json_is_array(list) && json_array_size(list) <= 20);
		json_array_foreach(list, i, h) {
			const char *m = json_string_value(json_object_get(h, "method"));
			CHECK(json_object_size(h) == 5);
			CHECK(m && (!strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "DELETE")));
			CHECK(json_is_string(json_object_get(h, "url")));
			check_origin(json_string_value(json_object_get(h, "url")));
		}
	}
	CHECK(webhook_config_validate(out, pol, &again, field, sizeof(field), msg, sizeof(msg)) == 0);
	CHECK(json_equal(out, again));
	json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipnet allowed[1];
	struct webhook_policy pol = { allowed, 1, "X-Forwarded-User", "X-Forwarded-Groups" };
	char field[128], msg[256], *raw;
	json_t *in, *out = NULL;
	int r;

	CHECK(ipnet_parse("10.9.0.0/16", &allowed[0]) == 0);
	raw = malloc(size + 1);
	if (!raw)
		abort();
	memcpy(raw, data, size);
	raw[size] = 0;
	CHECK(webhook_config_foreach_header(raw, header_seen, NULL) == 0);
	check_origin(raw);
	free(raw);
	in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!in)
		return 0;
	field[0] = msg[0] = 0;
	r = webhook_config_validate(in, &pol, &out, field, sizeof(field), msg, sizeof(msg));
	if (r == 0)
		check_stored(out, &pol);
	else {
		CHECK(r == -EINVAL || r == -ENOMEM);
		CHECK(out == NULL);
		CHECK(r == -ENOMEM || (msg[0] && fuzz_utf8_ok(msg) && fuzz_utf8_ok(field)));
	}
	json_decref(out);
	json_decref(in);
	return 0;
}
