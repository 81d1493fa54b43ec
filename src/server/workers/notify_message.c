/* SPDX-License-Identifier: Apache-2.0 */
/* workers/notify_message.c: the text of a deploy notification, its chat body and its mail (workers/notify.h). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "enums.h"
#include "notify.h"
#include "util.h"
#include "banned.h"

static const char *js(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* What happened, in a few words. */
static const char *what(const struct deploy_event *ev)
{
	int type = deploy_type_from_string(js(ev->deploy, "type"));

	switch (ev->kind) {
	case DEPLOY_EVENT_CREATED:
		return type == DEPLOY_TYPE_ROLLBACK ? "rollback started"
		       : type == DEPLOY_TYPE_RESTART ? "restart started"
						     : "deploy started";
	case DEPLOY_EVENT_SUCCEEDING:
		return "deploy succeeded";
	case DEPLOY_EVENT_FAILING:
		return "deploy is FAILING";
	case DEPLOY_EVENT_ANALYSIS_FAILED:
		return "deploy failed its analysis";
	default:
		return "deploy event";
	}
}

/* A one-line copy of s: control characters become spaces (the subject is a mail header). */
static void one_line(char *s)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s))
			*s = ' ';
}

int notify_message_compose(const struct deploy_event *ev, const char *board_url, struct notify_message *ret)
{
	const char *commit = js(ev->build, "commit"), *desc = js(ev->deploy, "description");
	struct buf b;
	int k = 0;

	*ret = (struct notify_message){ 0 };
	(void)str_printf(ret->subject, sizeof(ret->subject), "[slipway] %s/%s: %s, build %s %.12s", js(ev->env, "envName"),
			 js(ev->env, "stageName"), what(ev), js(ev->build, "name"), commit);
	one_line(ret->subject);
	buf_init(&b, 64 * 1024);
	k |= buf_printf(&b, "%s\n\n", ret->subject);
	k |= buf_printf(&b, "Stage:    %s/%s\nDeploy:   %s (%s), %s\n", js(ev->env, "envName"), js(ev->env, "stageName"),
			js(ev->deploy, "id"), js(ev->deploy, "type"), js(ev->deploy, "state"));
	k |= buf_printf(&b, "Build:    %s %s\nCommit:   %s\nOperator: %s\n", js(ev->build, "name"),
			js(ev->build, "id"), commit, js(ev->deploy, "operator"));
	if (*desc)
		k |= buf_printf(&b, "About:    %.1024s\n", desc);
	if (board_url && *board_url)
		k |= buf_printf(&b, "Board:    %s/env/%s/%s\n", board_url, js(ev->env, "envName"),
				js(ev->env, "stageName"));
	if (k < 0) {
		buf_release(&b);
		return -ENOMEM;
	}
	ret->text = buf_detach(&b);
	return ret->text ? 0 : -ENOMEM;
}

void notify_message_release(struct notify_message *m)
{
	free(m->text);
	m->text = NULL;
}

char *notify_chat_body(const char *channel, const struct notify_message *m)
{
	json_t *o = json_pack("{s:s,s:s}", "channel", channel, "text", m->text);
	char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return txt;
}

static bool address_ok(const char *a)
{
	const char *at = strchr(a, '@');

	if (!at || at == a || !at[1] || strchr(at + 1, '@') || strlen(a) > 254)
		return false;
	for (; *a; a++)
		if (iscntrl((unsigned char)*a) || strchr(" \"<>()[],;:\\", *a))
			return false;
	return true;
}

json_t *notify_recipients(const char *list)
{
	json_t *out = json_array();
	char *copy = strdup(list ? list : ""), *save = NULL;

	if (!out || !copy) {
		json_decref(out);
		free(copy);
		return NULL;
	}
	for (char *t = strtok_r(copy, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
		if (address_ok(t) && json_array_size(out) < 100)
			(void)json_array_append_new(out, json_string(t));
	free(copy);
	return out;
}

/* The body with CRLF line ends; a line that starts with '.' is not special to SMTP through libcurl, which
 * escapes it itself. */
static int append_crlf(struct buf *b, const char *text)
{
	int k = 0;

	for (const char *p = text; *p && k >= 0; p++)
		k = *p == '\n' ? buf_appends(b, "\r\n") : buf_appendc(b, *p);
	return k;
}

char *notify_mail_text(const char *from, const json_t *recipients, const struct notify_message *m, int64_t now_ms)
{
	char date[64];
	struct tm tm;
	time_t t = (time_t)(now_ms / 1000);
	struct buf b;
	json_t *r;
	size_t i;
	int k = 0;

	if (!gmtime_r(&t, &tm) || strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		date[0] = 0;
	buf_init(&b, 128 * 1024);
	k |= buf_printf(&b, "Date: %s\r\nFrom: %s\r\nTo: ", date, from);
	json_array_foreach(recipients, i, r)
		k |= buf_printf(&b, "%s%s", i ? ", " : "", json_string_value(r));
	k |= buf_printf(&b, "\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
			"Auto-Submitted: auto-generated\r\n\r\n", m->subject);
	k |= append_crlf(&b, m->text);
	if (k < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}
