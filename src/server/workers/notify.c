/* SPDX-License-Identifier: Apache-2.0 */
/* workers/notify.c: the queue and delivery of deploy notifications (workers/notify.h). A job is one chat message
 * or one mail; at most NOTIFY_QUEUE_MAX of each wait (overflow is dropped, logged and counted); one thread per
 * channel delivers them in order (so a silent chat receiver does not hold up mail) with libcurl, 10 s per chat call and 30 s per mail, up to 3 attempts (waits 1 s and 2 s). The URLs are the
 * admin's settings, trusted as configured: the per-env webhook address rules do not apply. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "httpclient.h"
#include "log.h"
#include "notify.h"
#include "sleep.h"
#include "util.h"
#include "banned.h"

enum channel { CHAT, MAIL, CHANNELS };
static const char *const channel_name[] = { "chat", "mail" };

struct job {
	struct job *next;
	enum channel channel;
	char *payload;     /* chat: the JSON body; mail: the whole message */
	json_t *rcpt;      /* mail: the recipients */
	char label[200];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t stop_cond; /* monotonic, for the retry back-off */
static pthread_once_t stop_once = PTHREAD_ONCE_INIT;
static int stop_cond_r;
static struct job *head[CHANNELS], *tail[CHANNELS];
static size_t queued[CHANNELS];
static bool stopping, started;
static pthread_t threads[CHANNELS];
static size_t nthreads;
static struct thread_arg {
	struct server *srv;
	enum channel channel;
} thread_args[CHANNELS];
static char *smtp_password;

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->payload);
	json_decref(j->rcpt);
	free(j);
}

static void enqueue(struct server *srv, struct job *j)
{
	pthread_mutex_lock(&lock);
	if (!started || stopping || queued[j->channel] >= NOTIFY_QUEUE_MAX) {
		pthread_mutex_unlock(&lock);
		METRIC_INC(srv, notify_dropped[j->channel]);
		log_warn("notification queue full or stopped: %s %s dropped", channel_name[j->channel], j->label);
		job_free(j);
		return;
	}
	if (tail[j->channel])
		tail[j->channel]->next = j;
	else
		head[j->channel] = j;
	tail[j->channel] = j;
	queued[j->channel]++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static struct job *job_new(enum channel ch, const struct deploy_event *ev, char *payload, json_t *rcpt)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j || !payload) {
		free(j);
		free(payload);
		json_decref(rcpt);
		return NULL;
	}
	j->channel = ch;
	j->payload = payload;
	j->rcpt = rcpt;
	(void)str_printf(j->label, sizeof(j->label), "about deploy '%s' of %s/%s",
			 json_string_value(json_object_get(ev->deploy, "id")),
			 json_string_value(json_object_get(ev->env, "envName")),
			 json_string_value(json_object_get(ev->env, "stageName")));
	return j;
}

void notify_deploy_event(struct server *srv, const struct deploy_event *ev)
{
	const struct server_config *cfg = &srv->cfg;
	const char *room = json_string_value(json_object_get(ev->env, "chatroom"));
	const char *mails = json_string_value(json_object_get(ev->env, "emailRecipients"));
	bool chat = cfg->chat_webhook_url && *cfg->chat_webhook_url && room && *room;
	bool mail = cfg->smtp_url && *cfg->smtp_url && mails && *mails;
	struct notify_message m;
	struct job *j;

	if ((!chat && !mail) || notify_message_compose(ev, cfg->board_url, &m) < 0)
		return;
	if (chat) {
		j = job_new(CHAT, ev, notify_chat_body(room, &m), NULL);
		if (j)
			enqueue(srv, j);
	}
	if (mail) {
		json_t *rcpt = notify_recipients(mails);
		if (rcpt && json_array_size(rcpt) > 0) {
			j = job_new(MAIL, ev, notify_mail_text(cfg->smtp_from, rcpt, &m, now_ms()), rcpt);
			if (j)
				enqueue(srv, j);
		} else {
			json_decref(rcpt);
		}
	}
	notify_message_release(&m);
}

/* ---- delivery ---- */

struct upload {
	const char *p;
	size_t left;
};

static size_t read_mail(char *dst, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t len = size * n < u->left ? size * n : u->left;

	memcpy(dst, u->p, len);
	u->p += len;
	u->left -= len;
	return len;
}

/* The SMTP part of a mail transfer on h. */
static int mail_setup(struct server *srv, CURL *h, const struct job *j, struct upload *u, struct curl_slist **rcpt)
{
	json_t *a;
	size_t i;
	int r;

	json_array_foreach(j->rcpt, i, a) {
		struct curl_slist *n = curl_slist_append(*rcpt, json_string_value(a));
		if (!n)
			return -ENOMEM;
		*rcpt = n;
	}
	r = httpclient_setopt(h, CURLOPT_MAIL_FROM, srv->cfg.smtp_from);
	if (r >= 0)
		r = httpclient_setopt(h, CURLOPT_MAIL_RCPT, *rcpt);
	if (r >= 0)
		r = httpclient_setopt(h, CURLOPT_UPLOAD, 1L);
	if (r >= 0)
		r = httpclient_setopt(h, CURLOPT_READFUNCTION, read_mail);
	if (r >= 0)
		r = httpclient_setopt(h, CURLOPT_READDATA, u);
	if (r >= 0)
		r = httpclient_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u->left);
	if (r >= 0 && startswith(srv->cfg.smtp_url, "smtp://"))
		r = httpclient_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	if (r >= 0 && srv->cfg.smtp_user && *srv->cfg.smtp_user)
		r = httpclient_setopt(h, CURLOPT_USERNAME, srv->cfg.smtp_user);
	if (r >= 0 && smtp_password)
		r = httpclient_setopt(h, CURLOPT_PASSWORD, smtp_password);
	return r;
}

/* One attempt: 0 delivered, 1 worth retrying, -1 not. why says what went wrong. */
static int deliver_once(struct server *srv, const struct job *j, char *why, size_t why_size)
{
	bool mail = j->channel == MAIL;
	struct curl_slist *headers = NULL, *rcpt = NULL;
	struct upload u = { j->payload, strlen(j->payload) };
	struct httpclient_request req = {
		.url = mail ? srv->cfg.smtp_url : srv->cfg.chat_webhook_url,
		.method = mail ? NULL : "POST",
		.protocols = mail ? "smtp,smtps" : "http,https",
		.body = mail ? NULL : j->payload,
		.connect_timeout_ms = 5000,
		.timeout_ms = mail ? 30000 : 10000,
		.max_answer_bytes = 65536,
		.progress_fn = httpclient_abort_when, /* a stop aborts a call in flight */
		.progress_data = &stopping,
	};
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURL *h = NULL;
	int r, res;

	if (!mail) {
		headers = curl_slist_append(NULL, "Content-Type: application/json");
		req.headers = headers;
	}
	r = httpclient_new(&req, errbuf, &h);
	if (r >= 0 && mail)
		r = mail_setup(srv, h, j, &u, &rcpt);
	if (r >= 0)
		r = httpclient_perform(h, errbuf, &status);
	if (r == 0 && !mail && status >= 300)
		(void)str_printf(why, why_size, "HTTP %ld", status);
	else if (r < 0)
		(void)str_copy(why, why_size, errbuf[0] ? errbuf : "cannot set up the transfer");
	res = r == 0 ? (!mail && status >= 300 ? (status == 429 || status >= 500 ? 1 : -1) : 0)
	      : r == -ETIMEDOUT || r == -ECONNREFUSED || r == -EIO ? 1 : -1;
	curl_slist_free_all(headers);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	return res;
}

static void deliver(struct server *srv, const struct job *j)
{
	char why[CURL_ERROR_SIZE + 32] = "";
	int res = -1;

	for (int attempt = 0; attempt < 3; attempt++) {
		if (attempt > 0 && sleep_or_stop(&lock, &stop_cond, &stopping, attempt * 1000))
			break;
		res = deliver_once(srv, j, why, sizeof(why));
		if (res <= 0)
			break;
	}
	if (res == 0) {
		METRIC_INC(srv, notify_ok[j->channel]);
		log_info("%s notification %s sent", channel_name[j->channel], j->label);
	} else {
		METRIC_INC(srv, notify_failed[j->channel]);
		log_warn("%s notification %s failed: %s", channel_name[j->channel], j->label, why[0] ? why : "no answer");
	}
}

static void *notify_main(void *p)
{
	const struct thread_arg *arg = p;
	enum channel ch = arg->channel;

	for (;;) {
		struct job *j;
		pthread_mutex_lock(&lock);
		while (!stopping && !head[ch])
			pthread_cond_wait(&cond, &lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			break;
		}
		j = head[ch];
		head[ch] = j->next;
		if (!head[ch])
			tail[ch] = NULL;
		queued[ch]--;
		pthread_mutex_unlock(&lock);
		deliver(arg->srv, j);
		job_free(j);
	}
	return NULL;
}

static void init_stop_cond(void)
{
	stop_cond_r = sleep_cond_init(&stop_cond);
}

static int read_password(const char *path)
{
	size_t len = 0;
	int r;

	free(smtp_password);
	smtp_password = NULL;
	if (!path || !*path)
		return 0;
	r = fs_read_file(path, 4096, &smtp_password, &len);
	if (r < 0)
		return log_error_errno(r, "cannot read smtp_password_file '%s'", path);
	while (len > 0 && (smtp_password[len - 1] == '\n' || smtp_password[len - 1] == '\r'))
		smtp_password[--len] = 0;
	return 0;
}

static void notify_stop_threads(void)
{
	sleep_stop_threads(&lock, &cond, &stop_cond, &stopping, threads, &nthreads);
}

int notify_start(struct server *srv)
{
	int r;

	(void)pthread_once(&stop_once, init_stop_cond);
	if (stop_cond_r < 0)
		return stop_cond_r;
	r = read_password(srv->cfg.smtp_password_file);
	if (r < 0)
		return r;
	stopping = false;
	nthreads = 0;
	for (size_t i = 0; i < CHANNELS; i++) {
		thread_args[i] = (struct thread_arg){ srv, (enum channel)i };
		r = pthread_create(&threads[i], NULL, notify_main, &thread_args[i]);
		if (r != 0) {
			notify_stop_threads();
			return -r;
		}
		nthreads++;
	}
	pthread_mutex_lock(&lock);
	started = true;
	pthread_mutex_unlock(&lock);
	return 0;
}

void notify_stop(struct server *srv)
{
	(void)srv;
	pthread_mutex_lock(&lock);
	if (!started) {
		pthread_mutex_unlock(&lock);
		return;
	}
	pthread_mutex_unlock(&lock);
	notify_stop_threads();
	pthread_mutex_lock(&lock);
	started = false;
	for (int ch = 0; ch < CHANNELS; ch++) {
		while (head[ch]) {
			struct job *n = head[ch]->next;
			job_free(head[ch]);
			head[ch] = n;
		}
		tail[ch] = NULL;
		queued[ch] = 0;
	}
	pthread_mutex_unlock(&lock);
	free(smtp_password);
	smtp_password = NULL;
}
