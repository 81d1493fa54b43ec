/* SPDX-License-Identifier: Apache-2.0 */
/* workers/webhooks.c: pre- and post-deploy webhooks (PROTOCOL §7.5) off the request path: a bounded
 * job queue (webhook_queue_size jobs, 1000 by default; overflow is dropped, logged and counted in
 * slipway_webhook_calls_total{result="dropped"}) served by a few threads with libcurl.
 * Placeholders are substituted in url, headers and body; 20 s per call; up to 3 attempts (waits
 * 0.5 s and 1 s) on HTTP 429, 5xx, timeouts and connection errors. Results never affect deploys. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "enums.h"
#include "log.h"
#include "sleep.h"
#include "util.h"
#include "webhooks.h"
#include "banned.h"

#define QUEUE_DEFAULT 1000
/* Delivery threads: a job (the hook list of one deploy event) runs on one thread, in order, and the
 * jobs of one stage run one at a time in queue order (pre before post); several threads keep one
 * hanging receiver from holding up the hooks of every other stage. */
#define THREADS 4

struct job {
	struct job *next;
	json_t *hooks; /* array of {method, url, headers, body} after substitution */
	char env_id[ID_LEN + 1];
	char label[160];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;      /* a job was queued, or stop */
static pthread_cond_t stop_cond; /* stop (wakes retry back-offs); monotonic, made once by webhooks_start() */
static pthread_once_t stop_cond_once = PTHREAD_ONCE_INIT;
static int stop_cond_r;
static struct job *head, *tail;
static size_t queued;
static bool stopping, started;
static pthread_t threads[THREADS];
static size_t nthreads;
static char busy[THREADS][ID_LEN + 1]; /* env id of the job each thread runs ("" = idle) */
static struct thread_arg {
	struct server *srv;
	size_t index;
} thread_args[THREADS];

int webhooks_validate(const json_t *in, json_t **ret, char *field, size_t field_size, char *msg, size_t msg_size)
{
	static const char *const lists[] = { "preDeployHooks", "postDeployHooks" };
	json_t *out = json_object();

	if (!out)
		return -ENOMEM;
	if (!json_is_object(in)) {
		json_decref(out);
		(void)str_copy(field, field_size, "");
		(void)str_copy(msg, msg_size, "the body must be a JSON object");
		return -EINVAL;
	}
	for (size_t l = 0; l < ELEMENTSOF(lists); l++) {
		json_t *src = json_object_get(in, lists[l]), *dst = json_array(), *h;
		size_t i;
		(void)json_object_set_new(out, lists[l], dst);
		if (!src || json_is_null(src))
			continue;
		if (!json_is_array(src) || json_array_size(src) > 20) {
			(void)str_copy(field, field_size, lists[l]);
			(void)str_copy(msg, msg_size, "must be an array of at most 20 hooks");
			json_decref(out);
			return -EINVAL;
		}
		json_array_foreach(src, i, h) {
			static const struct {
				const char *key;
				size_t max;
			} fields[] = { { "method", 16 }, { "url", 2048 }, { "version", 64 }, { "headers", 4096 },
				       { "body", 65536 } };
			json_t *hook = json_object();
			if (!json_is_object(h)) {
				(void)str_printf(field, field_size, "%s[%zu]", lists[l], i);
				(void)str_copy(msg, msg_size, "a hook must be an object");
				json_decref(hook);
				json_decref(out);
				return -EINVAL;
			}
			for (size_t f = 0; f < ELEMENTSOF(fields); f++) {
				json_t *v = json_object_get(h, fields[f].key);
				if (!v || json_is_null(v)) {
					(void)json_object_set_new(hook, fields[f].key, json_null());
					continue;
				}
				if (!json_is_string(v) || json_string_length(v) > fields[f].max) {
					(void)str_printf(field, field_size, "%s[%zu].%s", lists[l], i, fields[f].key);
					(void)str_printf(msg, msg_size, "%s must be a string of at most %zu characters",
							 fields[f].key, fields[f].max);
					json_decref(hook);
					json_decref(out);
					return -EINVAL;
				}
				(void)json_object_set(hook, fields[f].key, v);
			}
			const char *m = json_string_value(json_object_get(hook, "method"));
			if (!m)
				(void)json_object_set_new(hook, "method", json_string("POST"));
			else if (strcasecmp(m, "GET") && strcasecmp(m, "POST") && strcasecmp(m, "PUT") &&
				 strcasecmp(m, "DELETE")) {
				(void)str_printf(field, field_size, "%s[%zu].method", lists[l], i);
				(void)str_copy(msg, msg_size, "method must be GET, POST, PUT or DELETE");
				json_decref(hook);
				json_decref(out);
				return -EINVAL;
			} else {
				char up[8];
				size_t k;
				for (k = 0; m[k] && k < sizeof(up) - 1; k++)
					up[k] = (char)(m[k] >= 'a' && m[k] <= 'z' ? m[k] - 32 : m[k]);
				up[k] = 0;
				(void)json_object_set_new(hook, "method", json_string(up));
			}
			if (!json_string_value(json_object_get(hook, "url"))) {
				(void)str_printf(field, field_size, "%s[%zu].url", lists[l], i);
				(void)str_copy(msg, msg_size, "url is required");
				json_decref(hook);
				json_decref(out);
				return -EINVAL;
			}
			(void)json_array_append_new(dst, hook);
		}
	}
	*ret = out;
	return 0;
}

static size_t queue_max(const struct server *srv)
{
	return srv->cfg.webhook_queue_size > 0 ? (size_t)srv->cfg.webhook_queue_size : QUEUE_DEFAULT;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* Replace every placeholder, longest name first (values verbatim). */
static char *substitute(const char *in, const char *const *names, const char *const *values, size_t n)
{
	struct buf b;

	if (!in)
		return NULL;
	buf_init(&b, 1 << 20);
	for (const char *p = in; *p;) {
		size_t best = SIZE_MAX, best_len = 0;
		if (*p == '$')
			for (size_t i = 0; i < n; i++) {
				size_t l = strlen(names[i]);
				if (l > best_len && strncmp(p, names[i], l) == 0) {
					best = i;
					best_len = l;
				}
			}
		if (best != SIZE_MAX) {
			(void)buf_appends(&b, values[best]);
			p += best_len;
		} else
			(void)buf_appendc(&b, *p++);
	}
	return buf_detach(&b);
}

void webhooks_fire(struct server *srv, const json_t *env, const json_t *deploy, const json_t *build, bool post)
{
	json_t *cfg = NULL, *list, *hooks = NULL, *h;
	char start[32], state[8], label[160];
	size_t i;
	struct job *job;
	int k;

	if (!started)
		return;
	k = store_config_get(srv->store, json_string_value(json_object_get(env, "id")), STORE_CONFIG_WEBHOOKS, &cfg);
	if (k == -ENOENT)
		return;
	if (k < 0) {
		(void)server_db_error(srv, k, "webhooks: cannot read the configuration");
		return;
	}
	list = json_object_get(cfg, post ? "postDeployHooks" : "preDeployHooks");
	if (json_array_size(list) == 0) {
		json_decref(cfg);
		return;
	}
	(void)str_printf(start, sizeof(start), "%lld",
			 (long long)json_integer_value(json_object_get(deploy, "startDate")));
	(void)str_printf(state, sizeof(state), "%d", post ? DEPLOY_STATE_SUCCEEDING : 0);
	const char *names[] = { "$TELETRAAN_DEPLOY_ID",	  "$TELETRAAN_DEPLOY_START", "$TELETRAAN_NUMERIC_DEPLOY_STATE",
				"$TELETRAAN_DEPLOY_TYPE", "$TELETRAAN_ENV_NAME",     "$TELETRAAN_STAGE_NAME",
				"$TELETRAAN_BUILD_COMMIT" };
	const char *values[] = {
		nz(json_string_value(json_object_get(deploy, "id"))),
		start,
		state,
		nz(json_string_value(json_object_get(deploy, "type"))),
		nz(json_string_value(json_object_get(env, "envName"))),
		nz(json_string_value(json_object_get(env, "stageName"))),
		nz(json_string_value(json_object_get(build, "commit"))),
	};
	hooks = json_array();
	json_array_foreach(list, i, h) {
		char *url = substitute(json_string_value(json_object_get(h, "url")), names, values, ELEMENTSOF(names));
		char *hdr = substitute(json_string_value(json_object_get(h, "headers")), names, values,
				       ELEMENTSOF(names));
		char *body = substitute(json_string_value(json_object_get(h, "body")), names, values, ELEMENTSOF(names));
		(void)json_array_append_new(hooks, json_pack("{s:O,s:s?,s:s?,s:s?}", "method", json_object_get(h, "method"),
							     "url", url, "headers", hdr, "body", body));
		free(url);
		free(hdr);
		free(body);
	}
	json_decref(cfg);
	(void)str_printf(label, sizeof(label), "%s-deploy hooks of deploy '%s'", post ? "post" : "pre", values[0]);
	pthread_mutex_lock(&lock);
	if (queued >= queue_max(srv)) {
		size_t waiting = queued;
		pthread_mutex_unlock(&lock);
		__atomic_add_fetch(&srv->metrics.webhook_dropped, json_array_size(hooks), __ATOMIC_RELAXED);
		log_warn("webhook queue full (%zu jobs waiting), dropping the %zu %s", waiting, json_array_size(hooks),
			 label);
		json_decref(hooks);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		pthread_mutex_unlock(&lock);
		__atomic_add_fetch(&srv->metrics.webhook_dropped, json_array_size(hooks), __ATOMIC_RELAXED);
		log_warn("out of memory, dropping the %zu %s", json_array_size(hooks), label);
		json_decref(hooks);
		return;
	}
	job->hooks = hooks;
	(void)str_copy(job->label, sizeof(job->label), label);
	(void)str_copy(job->env_id, sizeof(job->env_id), nz(json_string_value(json_object_get(env, "id"))));
	if (tail)
		tail->next = job;
	else
		head = job;
	tail = job;
	queued++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* Abort a call in flight when the server stops, so a hanging receiver cannot hold up shutdown. */
static int abort_on_stop(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return __atomic_load_n(&stopping, __ATOMIC_RELAXED) ? 1 : 0;
}

/* One attempt. Returns 0 ok, 1 retryable failure, -1 final failure. */
static int call_once(const json_t *hook, long *ret_status)
{
	const char *method = json_string_value(json_object_get(hook, "method"));
	const char *url = json_string_value(json_object_get(hook, "url"));
	const char *hdrs = json_string_value(json_object_get(hook, "headers"));
	const char *body = json_string_value(json_object_get(hook, "body"));
	struct curl_slist *list = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode cc;
	long status = 0;
	int res;

	c = curl_easy_init();
	if (!c)
		return -1;
	if (hdrs) {
		char *copy = strdup(hdrs), *save = NULL;
		for (char *part = copy ? strtok_r(copy, ";", &save) : NULL; part; part = strtok_r(NULL, ";", &save)) {
			char *colon = strchr(part, ':'), line[4200];
			if (!colon)
				continue;
			*colon = 0;
			char *name = part, *value = colon + 1;
			while (*name == ' ' || *name == '\t')
				name++;
			for (char *e = name + strlen(name); e > name && (e[-1] == ' ' || e[-1] == '\t'); e--)
				e[-1] = 0;
			while (*value == ' ' || *value == '\t')
				value++;
			for (char *e = value + strlen(value); e > value && (e[-1] == ' ' || e[-1] == '\t'); e--)
				e[-1] = 0;
			if (!*name)
				continue;
			if (str_printf(line, sizeof(line), "%s: %s", name, value) == 0)
				list = curl_slist_append(list, line);
		}
		free(copy);
	}
	(void)curl_easy_setopt(c, CURLOPT_URL, url);
	(void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
	(void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	(void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	(void)curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	(void)curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
	if (streq_ptr(method, "GET"))
		(void)curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	else {
		(void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		(void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		res = status == 429 || status >= 500 ? 1 : status >= 400 ? -1 : 0;
	} else {
		res = cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
				      cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING
			      ? 1
			      : -1;
		log_debug("webhook %s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	curl_slist_free_all(list);
	curl_easy_cleanup(c);
	*ret_status = status;
	return res;
}

static void run_job(struct server *srv, struct job *job)
{
	json_t *h;
	size_t i;

	json_array_foreach(job->hooks, i, h) {
		const char *url = json_string_value(json_object_get(h, "url"));
		long status = 0;
		int res = -1;

		if (!url || (!startswith(url, "http://") && !startswith(url, "https://"))) {
			METRIC_INC(srv, webhook_failed);
			log_warn("webhook '%.200s' of %s is not an http(s) URL, counted as failed", url ? url : "",
				 job->label);
			continue;
		}
		for (int attempt = 0; attempt < 3; attempt++) {
			if (attempt > 0 && sleep_or_stop(&lock, &stop_cond, &stopping, attempt == 1 ? 500 : 1000))
				break;
			res = call_once(h, &status);
			if (res <= 0)
				break;
		}
		if (res == 0) {
			METRIC_INC(srv, webhook_ok);
			log_info("webhook %s '%.200s' of %s: HTTP %ld", json_string_value(json_object_get(h, "method")),
				 url, job->label, status);
		} else {
			METRIC_INC(srv, webhook_failed);
			log_warn("webhook %s '%.200s' of %s failed (HTTP %ld)",
				 json_string_value(json_object_get(h, "method")), url, job->label, status);
		}
	}
}

/* The first queued job whose stage no thread is serving; unlinked. Called with lock held. */
static struct job *job_take(void)
{
	struct job *prev = NULL;

	for (struct job *j = head; j; prev = j, j = j->next) {
		bool taken = false;
		for (size_t i = 0; i < THREADS && !taken; i++)
			taken = streq(busy[i], j->env_id);
		if (taken)
			continue;
		if (prev)
			prev->next = j->next;
		else
			head = j->next;
		if (tail == j)
			tail = prev;
		j->next = NULL;
		queued--;
		return j;
	}
	return NULL;
}

static void *webhook_main(void *p)
{
	const struct thread_arg *arg = p;
	struct server *srv = arg->srv;
	size_t self = arg->index;

	for (;;) {
		struct job *job = NULL;
		pthread_mutex_lock(&lock);
		while (!stopping && !(job = job_take()))
			pthread_cond_wait(&cond, &lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			if (job) {
				json_decref(job->hooks);
				free(job);
			}
			break;
		}
		(void)str_copy(busy[self], sizeof(busy[self]), job->env_id);
		pthread_mutex_unlock(&lock);
		run_job(srv, job);
		json_decref(job->hooks);
		free(job);
		pthread_mutex_lock(&lock);
		busy[self][0] = 0;
		pthread_cond_broadcast(&cond); /* a job of this stage may be waiting */
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static void init_stop_cond(void)
{
	stop_cond_r = sleep_cond_init(&stop_cond);
}

int webhooks_start(struct server *srv)
{
	int r;

	(void)pthread_once(&stop_cond_once, init_stop_cond);
	if (stop_cond_r < 0)
		return stop_cond_r;
	stopping = false;
	nthreads = 0;
	for (size_t i = 0; i < THREADS; i++) {
		thread_args[i] = (struct thread_arg){ srv, i };
		busy[i][0] = 0;
		r = pthread_create(&threads[i], NULL, webhook_main, &thread_args[i]);
		if (r != 0) {
			if (nthreads > 0)
				break; /* fewer threads still deliver */
			return -r;
		}
		nthreads++;
	}
	started = true;
	return 0;
}

void webhooks_stop(struct server *srv)
{
	(void)srv;
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	__atomic_store_n(&stopping, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&cond);
	pthread_cond_broadcast(&stop_cond);
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
	started = false;
	while (head) {
		struct job *n = head->next;
		json_decref(head->hooks);
		free(head);
		head = n;
	}
	tail = NULL;
	queued = 0;
}
