/* SPDX-License-Identifier: Apache-2.0 */
/* workers/webhooks.h: pre-/post-deploy webhooks (PROTOCOL §7.5) on a bounded job queue
 * (webhook_queue_size) served by a few threads. webhooks_fire() never blocks on the network and
 * never fails the caller. */
#ifndef SLIPWAY_SERVER_WEBHOOKS_H
#define SLIPWAY_SERVER_WEBHOOKS_H

#include <stdbool.h>
#include <jansson.h>

#include "server.h"
#include "webhook_config.h"

int webhooks_start(struct server *srv);
/* Stops the thread; queued jobs are dropped. */
void webhooks_stop(struct server *srv);
/* Queue the stage's pre-deploy (post = false) or post-deploy hooks of deploy (Build build). Reads
 * the configuration, substitutes the placeholders now, logs and counts overflow. */
void webhooks_fire(struct server *srv, const json_t *env, const json_t *deploy, const json_t *build, bool post);
/* The webhook rules of srv's settings (webhook_allowed_networks, the trusted header names) for
 * the calls; release with webhook_policy_release(). 0, -ENOMEM, or
 * -EINVAL for a bad webhook_allowed_networks (refused at startup). Does not log. */
int webhooks_policy(const struct server *srv, struct webhook_policy *ret);

#endif
