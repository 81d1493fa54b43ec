/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/agent/test-identity.c: host_info parsing and identity precedence (AGENT.md §4). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity.h"

static void test_parse(void **state)
{
	struct identity_source s;
	(void)state;

	assert_int_equal(identity_parse_host_info("# provisioned\n\n id = \"i-07a1c9\" \nhostname='web-07'\n"
						  "groups=web-prod, web\navailability-zone = us-east-1a\n"
						  "unknown=1\nno equals\n\n",
						  &s),
			 0);
	assert_string_equal(s.v[ID_HOST_ID], "i-07a1c9");
	assert_string_equal(s.v[ID_HOST_NAME], "web-07");
	assert_string_equal(s.v[ID_GROUPS], "web-prod, web");
	assert_string_equal(s.v[ID_AZ], "us-east-1a");
	assert_null(s.v[ID_ASG]);
	identity_source_free_strings(&s);
}

static void test_precedence_and_validation(void **state)
{
	struct identity_source flags = { 0 }, cfg = { 0 }, info = { 0 };
	struct host_identity id;
	char err[256];
	(void)state;

	flags.v[ID_HOST_NAME] = "from-flag";
	cfg.v[ID_HOST_NAME] = "from-config";
	cfg.v[ID_HOST_ID] = "id-config";
	info.v[ID_HOST_ID] = "id-info";
	info.v[ID_GROUPS] = "g1,g2,,g1, g3";
	info.v[ID_HOST_IP] = "10.0.0.1";
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), 0);
	assert_string_equal(id.v[ID_HOST_NAME], "from-flag");
	assert_string_equal(id.v[ID_HOST_ID], "id-config");
	assert_string_equal(id.v[ID_HOST_IP], "10.0.0.1");
	assert_int_equal(id.n_groups, 3);
	assert_string_equal(id.groups[0], "g1");
	assert_string_equal(id.groups[2], "g3");
	assert_null(id.v[ID_AZ]);
	host_identity_release(&id);

	/* hostId falls back to the host name */
	cfg.v[ID_HOST_ID] = NULL;
	info.v[ID_HOST_ID] = NULL;
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), 0);
	assert_string_equal(id.v[ID_HOST_ID], "from-flag");
	host_identity_release(&id);

	flags.v[ID_HOST_ID] = "bad id";
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), -EINVAL);
	flags.v[ID_HOST_ID] = "ok";
	info.v[ID_GROUPS] = "good,bad/group";
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad/group"));
	/* 64 characters is the limit */
	flags.v[ID_HOST_ID] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	info.v[ID_GROUPS] = NULL;
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), 0);
	host_identity_release(&id);
	flags.v[ID_HOST_ID] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), -EINVAL);
}

/* Tags: host_info's tag.<key>=<value> lines, then the config's tags (the config wins), validated. */
static void test_tags(void **state)
{
	struct identity_source flags = { 0 }, cfg = { 0 }, info;
	struct host_identity id;
	char err[256] = "", long_value[300];
	(void)state;

	assert_int_equal(identity_parse_host_info("hostname=web-1\navailability-zone=us-east-1a\n"
						  "tag.team=payments, web\ntag.zone = z1\n# tag.no=comment\n",
						  &info),
			 0);
	assert_string_equal(info.v[ID_AZ], "us-east-1a");
	cfg.tags = "zone=z2, tier=front";
	cfg.tags_sep = ',';
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), 0);
	assert_non_null(id.tags);
	assert_int_equal(json_object_size(id.tags), 3);
	assert_string_equal(json_string_value(json_object_get(id.tags, "team")), "payments, web");
	assert_string_equal(json_string_value(json_object_get(id.tags, "zone")), "z2");
	assert_string_equal(json_string_value(json_object_get(id.tags, "tier")), "front");
	host_identity_release(&id);

	/* no tags at all: none sent */
	cfg.tags = NULL;
	identity_source_free_strings(&info);
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), 0);
	assert_null(id.tags);
	host_identity_release(&id);

	/* bad keys, values and counts are errors naming the tag */
	cfg.tags = "bad key=1";
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad key"));
	cfg.tags = "novalue";
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "novalue"));
	memset(long_value, 'v', sizeof(long_value));
	memcpy(long_value, "k=", 2);
	long_value[2 + 257] = '\0';
	cfg.tags = long_value;
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "256 bytes"));
	long_value[2 + 256] = '\0'; /* 256 bytes is the limit */
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), 0);
	host_identity_release(&id);
	cfg.tags = "k=\xff\xfe";
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "UTF-8"));
	cfg.tags = "k:a.b_c-D9=\xc3\xa9t\xc3\xa9";
	assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), 0);
	host_identity_release(&id);
	{
		char many[33 * 8] = "";
		for (int i = 0; i < 33; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many), "k%d=v,", i);
		cfg.tags = many;
		assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "at most 32"));
		many[strlen(many) - strlen("k32=v,")] = '\0'; /* 32 is the limit */
		assert_int_equal(identity_resolve(&flags, &cfg, &info, &id, err, sizeof(err)), 0);
		assert_int_equal(json_object_size(id.tags), 32);
		host_identity_release(&id);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_precedence_and_validation),
		cmocka_unit_test(test_tags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
