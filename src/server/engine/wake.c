/* SPDX-License-Identifier: Apache-2.0 */
/* engine/wake.c: the wake rules of PROTOCOL §5.11 (which held pings an event wakes) and §5.10 (which remembered
 * idle answers it ends). Pure: the ping pipeline (ping/hold.c) reads the events and resumes the requests. */
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "util.h"
#include "banned.h"

static const char *const kind_names[] = {
	[WAKE_KIND_ENV] = "ENV",
	[WAKE_KIND_SLOT] = "SLOT",
	[WAKE_KIND_HOST] = "HOST",
	[WAKE_KIND_CAPACITY] = "CAPACITY",
};

int engine_wake_kind(const char *kind)
{
	for (int k = 0; k < WAKE_KIND_OTHER; k++)
		if (kind && streq(kind, kind_names[k]))
			return k;
	return WAKE_KIND_OTHER;
}

static bool has(const char *s)
{
	return s && s[0];
}

static bool target_has_env(const struct wake_target *t, const char *env_id)
{
	for (size_t i = 0; i < t->n_envs; i++)
		if (streq(t->envs[i], env_id))
			return true;
	return false;
}

/* A CAPACITY event's name is a host name, a host id or a group the held ping reported. */
static bool target_has_name(const struct wake_target *t, const char *name)
{
	if (streq(t->host_id, name) || (t->host_name && streq(t->host_name, name)))
		return true;
	for (size_t i = 0; i < t->n_groups; i++)
		if (streq(t->groups[i], name))
			return true;
	return false;
}

bool engine_wake_concerns(const struct wake_event *ev, const struct wake_target *t)
{
	switch (ev->kind) {
	case WAKE_KIND_HOST:
		return has(ev->host_id) && streq(t->host_id, ev->host_id);
	case WAKE_KIND_ENV:
		return has(ev->env_id) && target_has_env(t, ev->env_id);
	case WAKE_KIND_SLOT:
		return t->refused && has(ev->env_id) && target_has_env(t, ev->env_id);
	case WAKE_KIND_CAPACITY:
		return (has(ev->env_id) && target_has_env(t, ev->env_id)) || (has(ev->name) && target_has_name(t, ev->name));
	default:
		return false;
	}
}

unsigned engine_wake_ends(const struct wake_event *ev)
{
	bool host = ev->kind == WAKE_KIND_HOST;
	bool env_only = ev->kind == WAKE_KIND_ENV || ev->kind == WAKE_KIND_SLOT ||
			(ev->kind == WAKE_KIND_CAPACITY && !has(ev->name));
	unsigned ends = 0;

	if (host && has(ev->host_id))
		ends |= WAKE_ENDS_HOST;
	else if (host || !has(ev->env_id) || !env_only)
		ends |= WAKE_ENDS_ALL; /* a name, no stage, or an unknown kind: everyone */
	if (has(ev->env_id) && !host)
		ends |= WAKE_ENDS_ENV;
	return ends;
}
