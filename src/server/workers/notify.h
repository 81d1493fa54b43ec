/* SPDX-License-Identifier: Apache-2.0 */
/* workers/notify.h: deploy notifications. On a deploy's start (and every rollback), its first SUCCEEDING, its
 * turn to FAILING and a failed analysis, one chat message to the stage's chatroom (chat_webhook_url, a
 * Slack-compatible incoming webhook) and one mail to its emailRecipients (smtp_url through libcurl). The
 * listener only queues (a bounded queue per channel, each served in order by its own thread with retries): it never blocks a deploy;
 * failures are logged and counted in /metrics. */
#ifndef SLIPWAY_SERVER_NOTIFY_H
#define SLIPWAY_SERVER_NOTIFY_H

#include <jansson.h>

#include "events.h"
#include "server.h"

#define NOTIFY_QUEUE_MAX 1000

/* Reads smtp_password_file (an error when set and unreadable) and starts the delivery threads. */
int notify_start(struct server *srv);
/* Stops the threads; calls in flight are aborted, queued messages dropped. */
void notify_stop(struct server *srv);
/* The deploy event listener (deploy/events.h): queues the event's messages. */
void notify_deploy_event(struct server *srv, const struct deploy_event *ev);

/* ---- the messages (workers/notify_message.c) ---- */

struct notify_message {
	char subject[256]; /* one line: env/stage, what happened, build */
	char *text;        /* the body: subject, deploy, build, commit, operator, state, description, board link */
};
/* The message of ev (board_url may be NULL). 0, or -ENOMEM. Release with notify_message_release(). */
int notify_message_compose(const struct deploy_event *ev, const char *board_url, struct notify_message *ret);
void notify_message_release(struct notify_message *m);
/* The chat webhook body {"channel", "text"} as JSON text (the caller's), or NULL. */
char *notify_chat_body(const char *channel, const struct notify_message *m);
/* The recipients of an emailRecipients list (comma or space separated): a JSON array of the addresses that look
 * like one (local@domain, no spaces, quotes, angle brackets or control characters), or NULL on OOM. */
json_t *notify_recipients(const char *list);
/* The whole mail (headers and body, CRLF line ends) from from to recipients; the caller's, or NULL. */
char *notify_mail_text(const char *from, const json_t *recipients, const struct notify_message *m, int64_t now_ms);

#endif
