/* SPDX-License-Identifier: Apache-2.0 */
/* workers/webhooks.h: pre-/post-deploy webhooks (PROTOCOL §7.5) on a bounded job queue
 * (webhook_queue_size) served by a few threads. webhooks_fire() never blocks on the network and
 * never fails the caller. */
#ifndef SLIPWAY_SERVER_WEBHOOKS_H
#define SLIPWAY_SERVER_WEBHOOKS_H

#include <stdbool.h>
#include <jansson.h>

#include "server.h"

int webhooks_start(struct server *srv);
/* Stops the thread; queued jobs are dropped. */
void webhooks_stop(struct server *srv);
/* Queue the stage's pre-deploy (post = false) or post-deploy hooks of deploy (Build build). Reads
 * the configuration, substitutes the placeholders now, logs and counts overflow. */
void webhooks_fire(struct server *srv, const json_t *env, const json_t *deploy, const json_t *build, bool post);
/* Validate an EnvWebHook body (§3.5) into its stored form (method upper-case, default POST).
 * -EINVAL with field/msg set. */
int webhooks_validate(const json_t *in, json_t **ret, char *field, size_t field_size, char *msg, size_t msg_size);

#endif
