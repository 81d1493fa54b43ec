/* SPDX-License-Identifier: Apache-2.0 */
/* tests/unit/server/test-notify.c: the text of deploy notifications: recipients, subject, chat body, mail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify.h"

static void test_recipients(void **state)
{
	json_t *r = notify_recipients("alice@example.com, bob@example.com,,carol\t x@y@z <e@x.org> "
				      "no-at \"q\"@x.org dave@example.org");
	(void)state;
	assert_non_null(r);
	assert_int_equal(json_array_size(r), 3);
	assert_string_equal(json_string_value(json_array_get(r, 0)), "alice@example.com");
	assert_string_equal(json_string_value(json_array_get(r, 1)), "bob@example.com");
	assert_string_equal(json_string_value(json_array_get(r, 2)), "dave@example.org");
	json_decref(r);
	r = notify_recipients(NULL);
	assert_int_equal(json_array_size(r), 0);
	json_decref(r);
}

static void test_message_and_mail(void **state)
{
	json_t *env = json_pack("{s:s,s:s}", "envName", "web", "stageName", "prod");
	json_t *dep = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", "D1", "type", "ROLLBACK", "state", "RUNNING", "operator",
				"alice", "description", "line one\r\nBcc: evil@example.com");
	json_t *build = json_pack("{s:s,s:s,s:s}", "id", "B1", "name", "web", "commit", "4be1f0c93d0011aa\nX: y");
	struct deploy_event ev = { .kind = DEPLOY_EVENT_CREATED, .env = env, .deploy = dep, .build = build };
	json_t *rcpt = notify_recipients("ops@example.com");
	struct notify_message m;
	char *chat, *mail;

	(void)state;
	assert_int_equal(notify_message_compose(&ev, "https://board.example", &m), 0);
	assert_string_equal(m.subject, "[slipway] web/prod: rollback started, build web 4be1f0c93d00");
	assert_non_null(strstr(m.text, "Operator: alice\n"));
	assert_non_null(strstr(m.text, "Board:    https://board.example/env/web/prod\n"));
	chat = notify_chat_body("#deploys", &m);
	assert_non_null(strstr(chat, "\"channel\":\"#deploys\""));
	mail = notify_mail_text("slipway@example.com", rcpt, &m, 1796544000000LL);
	assert_non_null(strstr(mail, "Date: Sun, 06 Dec 2026 08:00:00 +0000\r\nFrom: slipway@example.com\r\n"
				     "To: ops@example.com\r\nSubject: [slipway] web/prod: rollback started"));
	/* the description's line break stays in the body, after the blank line that ends the headers */
	assert_true(strstr(mail, "Bcc: evil") > strstr(mail, "\r\n\r\n"));
	ev.kind = DEPLOY_EVENT_FAILING;
	notify_message_release(&m);
	assert_int_equal(notify_message_compose(&ev, NULL, &m), 0);
	assert_non_null(strstr(m.subject, "deploy is FAILING"));
	assert_null(strstr(m.text, "Board:"));
	notify_message_release(&m);
	free(chat);
	free(mail);
	json_decref(rcpt);
	json_decref(env);
	json_decref(dep);
	json_decref(build);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recipients),
		cmocka_unit_test(test_message_and_mail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
