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
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "enums.h"
#include "httpclient.h"
#include "ipnet.h"
#include "log.h"
#include "sleep.h"
#include "util.h"
#include "webhook_config.h"
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

int webhooks_policy(const struct server *srv, struct webhook_policy *ret)
{
	return webhook_policy_init(srv->cfg.webhook_allowed_networks, srv->cfg.trusted_user_header,
				   srv->cfg.trusted_groups_header, ret);
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

struct call {
	const struct webhook_policy *pol;
	char why[200]; /* why the call failed without an HTTP status ("" = see curl) */
	bool refused;  /* a destination address was refused */
};

/* Each address curl is about to connect to (every candidate of a name, after every resolution)
 * passes here, so neither a name like 'localhost' nor DNS rebinding reaches a refused address. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct call *call = ud;
	struct ipnet_addr a;
	int fd;

	if (purpose != CURLSOCKTYPE_IPCXN || ipnet_addr_from_sockaddr(&sa->addr, &a) < 0) {
		call->refused = true;
		(void)str_copy(call->why, sizeof(call->why), "refused: not an IP connection");
		return CURL_SOCKET_BAD;
	}
	if (webhook_config_check_addr(&a, call->pol, call->why + 9, sizeof(call->why) - 9) < 0) {
		call->refused = true;
		memcpy(call->why, "refused: ", 9);
		return CURL_SOCKET_BAD;
	}
	fd = socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

struct header_list {
	const struct webhook_policy *pol;
	struct curl_slist *list;
	char *why;
	size_t why_size;
};

/* Headers are checked again after the placeholders are substituted (a stage may be named
 * "X-Forwarded-User") and against today's trusted header settings. */
static int add_header(const char *name, const char *value, void *ud)
{
	struct header_list *hl = ud;
	struct curl_slist *n;
	char line[4200];
	int r;

	r = webhook_config_check_header(name, value, hl->pol, hl->why + 9, hl->why_size - 9);
	if (r < 0) {
		memcpy(hl->why, "refused: ", 9);
		return r;
	}
	if (str_printf(line, sizeof(line), "%s: %s", name, value) < 0)
		return 0; /* cannot happen: both are bounded at PUT */
	n = curl_slist_append(hl->list, line);
	if (!n)
		return -ENOMEM;
	hl->list = n;
	return 0;
}

/* One attempt. Returns 0 ok, 1 retryable failure, -1 final failure; *ret_status is the HTTP status
 * (0 without one), and call->why says why when there is none. */
static int call_once(const json_t *hook, struct call *call, long *ret_status)
{
	struct header_list hl = { call->pol, NULL, call->why, sizeof(call->why) };
	struct httpclient_request req = {
		.url = json_string_value(json_object_get(hook, "url")),
		.method = json_string_value(json_object_get(hook, "method")),
		.body = json_string_value(json_object_get(hook, "body")),
		.connect_timeout_ms = 10000,
		.timeout_ms = 20000,
		.progress_fn = httpclient_abort_when, /* a stop aborts a call in flight */
		.progress_data = &stopping,
		/* every address is checked before it is connected to (redirects are never followed) */
		.opensocket_fn = open_socket,
		.opensocket_data = call,
	};
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = NULL;
	long status = 0;
	int res = -1, r;

	call->why[0] = 0;
	call->refused = false;
	r = webhook_config_foreach_header(json_string_value(json_object_get(hook, "headers")), add_header, &hl);
	if (r < 0) {
		if (r == -ENOMEM)
			(void)str_copy(call->why, sizeof(call->why), "out of memory");
		goto out;
	}
	req.headers = hl.list;
	r = httpclient_new(&req, errbuf, &c);
	if (r >= 0) /* no proxy from the environment: the address check above is the egress check */
		r = httpclient_setopt(c, CURLOPT_PROXY, "");
	if (r < 0) {
		(void)str_copy(call->why, sizeof(call->why), "cannot set up the HTTP client");
		goto out;
	}
	r = httpclient_perform(c, errbuf, &status);
	if (r == 0)
		res = status == 429 || status >= 500 ? 1 : status >= 400 ? -1 : 0;
	else if (call->refused)
		res = -1; /* refused again on a retry */
	else {
		res = r == -ETIMEDOUT || r == -ECONNREFUSED ? 1 : -1;
		(void)str_copy(call->why, sizeof(call->why), errbuf);
	}
out:
	curl_slist_free_all(hl.list);
	curl_easy_cleanup(c);
	*ret_status = status;
	return res;
}

static void run_job(struct server *srv, struct job *job)
{
	struct webhook_policy pol = { 0 };
	json_t *h;
	size_t i;
	int r;

	r = webhooks_policy(srv, &pol);
	if (r < 0) {
		__atomic_add_fetch(&srv->metrics.webhook_failed, json_array_size(job->hooks), __ATOMIC_RELAXED);
		(void)log_warn_errno(r, "cannot read webhook_allowed_networks, the %s failed", job->label);
		return;
	}
	json_array_foreach(job->hooks, i, h) {
		const char *url = json_string_value(json_object_get(h, "url"));
		const char *method = json_string_value(json_object_get(h, "method"));
		struct call call = { .pol = &pol };
		char origin[300];
		long status = 0;
		int res = -1;

		(void)webhook_config_url_origin(url, origin, sizeof(origin));
		if (!url || (!startswith(url, "http://") && !startswith(url, "https://"))) {
			METRIC_INC(srv, webhook_failed);
			log_warn("webhook '%s' of %s is not an http(s) URL, counted as failed", origin, job->label);
			continue;
		}
		for (int attempt = 0; attempt < 3; attempt++) {
			if (attempt > 0 && sleep_or_stop(&lock, &stop_cond, &stopping, attempt == 1 ? 500 : 1000))
				break;
			res = call_once(h, &call, &status);
			if (res <= 0)
				break;
		}
		if (res == 0) {
			METRIC_INC(srv, webhook_ok);
			log_info("webhook %s '%s' of %s: HTTP %ld", method, origin, job->label, status);
		} else {
			METRIC_INC(srv, webhook_failed);
			if (status > 0)
				log_warn("webhook %s '%s' of %s failed (HTTP %ld)", method, origin, job->label, status);
			else
				log_warn("webhook %s '%s' of %s failed (%s)", method, origin, job->label,
					 call.why[0] ? call.why : "no answer");
		}
	}
	webhook_policy_release(&pol);
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
	sleep_stop_threads(&lock, &cond, &stop_cond, &stopping, threads, &nthreads);
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
