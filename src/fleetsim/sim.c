/* SPDX-License-Identifier: Apache-2.0 */
/* fleetsim/sim.c: see sim.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "jsonutil.h"
#include "log.h"
#include "parse.h"
#include "sim.h"
#include "stats.h"
#include "util.h"
#include "wire.h"
#include "banned.h"

#define ANSWER_MAX_BYTES (4 * 1024 * 1024)
#define HTTP_TIMEOUT_MS 10000 /* the agent's http_timeout default */
/* Connections per libcurl multi handle. libcurl 7.88 walks every connection of a multi handle's cache on each
 * transfer's end (and its host's connections to find an idle one on each start): one multi holding 2,000
 * connections cost 319 µs of CPU a request during a deploy, multis of 64 cost 199 µs (bench/RESULTS.md). The
 * slots are spread over multi handles of at most this many connections each, one epoll set for all. */
#define SHARD_CONNECTIONS 64

struct sim;

/* One multi handle and the slots it drives. */
struct shard {
	struct sim *s;
	CURLM *multi;
	uint32_t index;
	int64_t timer_due; /* when libcurl wants this multi's timeout handled (on_timer()); -1: never */
};

struct slot {
	CURL *easy;
	struct buf answer;
	char *body;
	struct shard *shard;
	uint32_t host;
	int wait_s;
	int64_t start_ms;
	bool busy;
};

struct sim {
	const struct sim_options *o;
	struct sim_host *hosts;
	uint32_t *heap, n_heap;	   /* hosts by due_ms */
	uint32_t *ready, r_head, r_len; /* FIFO ring of hosts whose ping is due */
	struct slot *slots;
	uint32_t *free_slots, n_free;
	struct shard *shards;
	uint32_t n_shards;
	int epfd; /* the sockets libcurl asks to watch (on_socket()), of every shard */
	struct curl_slist *headers;
	char *url_plain, *url_wait;
	char agent_version[64];
	struct sim_strings strings;
	struct sim_rng rng;
	struct sim_stats stats;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* ---- the heap of due times ---------------------------------------------------------------------- */

static bool due_before(const struct sim *s, uint32_t a, uint32_t b)
{
	return s->hosts[a].due_ms < s->hosts[b].due_ms;
}

static void heap_push(struct sim *s, uint32_t h)
{
	uint32_t i = s->n_heap++;

	s->heap[i] = h;
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!due_before(s, s->heap[i], s->heap[p]))
			break;
		uint32_t t = s->heap[p];
		s->heap[p] = s->heap[i];
		s->heap[i] = t;
		i = p;
	}
}

static uint32_t heap_pop(struct sim *s)
{
	uint32_t top = s->heap[0], i = 0;

	s->heap[0] = s->heap[--s->n_heap];
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->n_heap && due_before(s, s->heap[l], s->heap[m]))
			m = l;
		if (r < s->n_heap && due_before(s, s->heap[r], s->heap[m]))
			m = r;
		if (m == i)
			break;
		uint32_t t = s->heap[m];
		s->heap[m] = s->heap[i];
		s->heap[i] = t;
		i = m;
	}
	return top;
}

static void ready_push(struct sim *s, uint32_t h)
{
	s->ready[(s->r_head + s->r_len++) % s->o->hosts] = h;
}

static uint32_t ready_pop(struct sim *s)
{
	uint32_t h = s->ready[s->r_head];

	s->r_head = (s->r_head + 1) % s->o->hosts;
	s->r_len--;
	return h;
}

/* ---- requests ----------------------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t n = size * nmemb;

	return buf_append(b, ptr, n) < 0 ? 0 : n;
}

/* The request body of host i: exactly what slipway-agent sends (ping_request_to_json). */
static char *request_body(struct sim *s, uint32_t i)
{
	const struct sim_host *h = &s->hosts[i];
	struct ping_request req;
	struct ping_report rep;
	char name[64], ip[32];
	char *groups[1] = { (char *)s->o->group };
	json_t *j = NULL;
	char *body = NULL;

	snprintf(name, sizeof(name), "%s-%07u", s->o->prefix, i + 1);
	snprintf(ip, sizeof(ip), "10.%u.%u.%u", ((i + 1) >> 16) & 255, ((i + 1) >> 8) & 255, (i + 1) & 255);
	memset(&req, 0, sizeof(req));
	req.host_id = name;
	req.host_name = name;
	req.host_ip = ip;
	req.agent_version = s->agent_version;
	req.groups = groups;
	req.n_groups = 1;
	if (sim_host_report(h, &s->strings, &rep)) {
		req.reports = &rep;
		req.n_reports = 1;
	}
	if (ping_request_to_json(&req, &j) == 0)
		body = json_dump_compact(j);
	json_decref(j);
	return body;
}

static int slot_setup(struct sim *s, struct slot *sl)
{
	CURL *c = curl_easy_init();

	if (!c)
		return -ENOMEM;
	sl->easy = c;
	buf_init(&sl->answer, ANSWER_MAX_BYTES);
	if (curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, s->headers) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, s->agent_version) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)HTTP_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sl->answer) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PRIVATE, sl) != CURLE_OK)
		return -EINVAL;
	return 0;
}

/* Send host i's ping on a free slot. */
static void ping_start(struct sim *s, uint32_t i, int64_t now)
{
	struct slot *sl = &s->slots[s->free_slots[--s->n_free]];
	struct sim_host *h = &s->hosts[i];
	int wait_s = sim_host_ping_start(h, &s->o->cfg);

	sl->host = i;
	sl->wait_s = wait_s;
	sl->start_ms = now;
	sl->busy = true;
	buf_reset(&sl->answer);
	sl->body = request_body(s, i);
	if (!sl->body ||
	    curl_easy_setopt(sl->easy, CURLOPT_URL, wait_s > 0 ? s->url_wait : s->url_plain) != CURLE_OK ||
	    curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDS, sl->body) != CURLE_OK ||
	    curl_easy_setopt(sl->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(sl->body)) != CURLE_OK ||
	    curl_easy_setopt(sl->easy, CURLOPT_TIMEOUT_MS, (long)(HTTP_TIMEOUT_MS + wait_s * 1000)) != CURLE_OK ||
	    curl_multi_add_handle(sl->shard->multi, sl->easy) != CURLM_OK) {
		free(sl->body);
		sl->body = NULL;
		sl->busy = false;
		s->free_slots[s->n_free++] = (uint32_t)(sl - s->slots);
		s->stats.total.errors++;
		s->stats.window.errors++;
		sim_host_on_failure(h, &s->o->cfg, &s->rng, 0, now);
		heap_push(s, i);
		return;
	}
	s->stats.total.pings++;
	s->stats.window.pings++;
}

static void count_answer(struct sim *s, const struct ping_response *resp, enum sim_event ev)
{
	int op = resp->op_code >= 0 && resp->op_code < _OP_CODE_MAX ? resp->op_code : _OP_CODE_MAX;
	struct sim_counters *cs[2] = { &s->stats.total, &s->stats.window };

	for (int k = 0; k < 2; k++) {
		cs[k]->answers[op]++;
		if (ev == SIM_EV_DELETE)
			cs[k]->deletes++;
		if (ev == SIM_EV_IGNORED)
			cs[k]->goals_ignored++;
	}
}

/* A 2xx answer: parse it and move the host on. false when it is unparsable. */
static bool apply_answer(struct sim *s, struct slot *sl, int64_t now)
{
	struct sim_host *h = &s->hosts[sl->host];
	struct ping_response resp;
	json_t *j = NULL;
	enum sim_event ev;
	bool held = sl->wait_s > 0 && now - sl->start_ms >= (int64_t)(sl->wait_s - 2) * 1000;
	bool ok = true;

	ping_response_init(&resp);
	if (sl->answer.len > 0 &&
	    (json_parse_bounded(sl->answer.p, sl->answer.len, &j, NULL, 0) < 0 || ping_response_from_json(j, &resp) < 0))
		ok = false;
	if (ok && sim_host_on_answer(h, &s->o->cfg, &s->strings, &s->rng, &resp, held, now, &ev) < 0)
		ok = false;
	if (ok) {
		count_answer(s, &resp, ev);
		if (!held)
			sim_stats_latency(&s->stats, now - sl->start_ms);
	}
	json_decref(j);
	ping_response_release(&resp);
	return ok;
}

/* The Retry-After of a 503 in seconds (delta-seconds; absent or an HTTP-date: -1). */
static int64_t retry_after_s(CURL *easy)
{
	struct curl_header *h = NULL;
	int64_t v;

	if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h || !h->value ||
	    parse_i64(h->value, 0, INT32_MAX, &v) < 0)
		return -1;
	return v;
}

static void ping_done(struct sim *s, struct slot *sl, CURLcode cc, int64_t now)
{
	struct sim_host *h = &s->hosts[sl->host];
	long status = 0;
	int64_t retry_after = -1;
	bool ok = false;

	curl_multi_remove_handle(sl->shard->multi, sl->easy);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			ok = apply_answer(s, sl, now);
		else if (status == 503) {
			retry_after = retry_after_s(sl->easy);
			s->stats.total.overloaded++;
			s->stats.window.overloaded++;
		}
	}
	if (!ok) {
		s->stats.total.errors++;
		s->stats.window.errors++;
		sim_host_on_failure(h, &s->o->cfg, &s->rng, retry_after, now);
	}
	free(sl->body);
	sl->body = NULL;
	sl->busy = false;
	s->free_slots[s->n_free++] = (uint32_t)(sl - s->slots);
	if (h->phase == SIM_REPORT)
		ready_push(s, sl->host); /* a report or a re-ping after DELETE goes out at once */
	else
		heap_push(s, sl->host);
}

/* ---- the loop ----------------------------------------------------------------------------------- */

static void run_due(struct sim *s, int64_t now)
{
	while (s->n_heap > 0 && s->hosts[s->heap[0]].due_ms <= now) {
		uint32_t i = heap_pop(s);
		struct sim_host *h = &s->hosts[i];

		if (h->phase == SIM_RUNNING) {
			struct sim_counters *cs[2] = { &s->stats.total, &s->stats.window };
			bool fail = h->will_fail;
			sim_host_script_done(h, now);
			for (int k = 0; k < 2; k++) {
				if (fail)
					cs[k]->steps_failed++;
				else
					cs[k]->steps_succeeded++;
			}
		}
		ready_push(s, i);
	}
	while (s->r_len > 0 && s->n_free > 0)
		ping_start(s, ready_pop(s), now);
}

static void collect(struct sim *s, int64_t now)
{
	CURLMsg *m;
	int left;

	for (uint32_t k = 0; k < s->n_shards; k++)
		while ((m = curl_multi_info_read(s->shards[k].multi, &left))) {
			struct slot *sl = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
			if (sl)
				ping_done(s, sl, m->data.result, now);
		}
}

/* libcurl's socket callback: watch fd for what it asks, on the epoll set. A simulator holding thousands of
 * long-polls then pays per socket event, not per socket on every wake-up (curl_multi_poll() polls all of them:
 * about a quarter of a core for 2,000 idle held pings, bench/RESULTS.md). */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct shard *sh = userp;
	struct sim *s = sh->s;
	struct epoll_event ev = { .data.u64 = (uint64_t)sh->index << 32 | (uint32_t)fd };

	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL); /* it may be closed already */
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	return errno == ENOENT && epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -1;
}

/* libcurl's timer callback: handle its timeout after timeout_ms (-1: none). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct shard *sh = userp;

	(void)multi;
	sh->timer_due = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	return 0;
}

static int poll_timeout(const struct sim *s, int64_t now, int64_t next_progress)
{
	int64_t t = next_progress - now;

	if (s->n_free > 0 && s->r_len > 0)
		t = 0;
	else if (s->n_heap > 0 && s->hosts[s->heap[0]].due_ms - now < t)
		t = s->hosts[s->heap[0]].due_ms - now;
	for (uint32_t k = 0; k < s->n_shards; k++)
		if (s->shards[k].timer_due >= 0 && s->shards[k].timer_due - now < t)
			t = s->shards[k].timer_due - now;
	return t < 0 ? 0 : (int)(t > 100 ? 100 : t);
}

/* Wait for socket events or the next due time, and let libcurl act on what happened. */
static int wait_and_act(struct sim *s, int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(s->epfd, evs, (int)ELEMENTSOF(evs), timeout_ms), running = 0;
	int64_t now;

	if (n < 0 && errno != EINTR)
		return -EIO;
	for (int i = 0; i < n; i++) {
		int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
			    (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			    (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
		uint32_t k = (uint32_t)(evs[i].data.u64 >> 32);

		if (k >= s->n_shards ||
		    curl_multi_socket_action(s->shards[k].multi, (curl_socket_t)(uint32_t)evs[i].data.u64, flags,
					     &running) != CURLM_OK)
			return -EIO;
	}
	now = mono_ms();
	for (uint32_t k = 0; k < s->n_shards; k++) {
		struct shard *sh = &s->shards[k];

		if (sh->timer_due < 0 || now < sh->timer_due)
			continue;
		sh->timer_due = -1; /* libcurl sets it again from inside if it needs to */
		if (curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
			return -EIO;
	}
	return 0;
}

static int loop(struct sim *s)
{
	int64_t now = mono_ms(), end = now + s->o->duration_ms, next_progress = now + 1000;

	sim_stats_init(&s->stats, now);
	while (!stop_requested && now < end) {
		run_due(s, now);
		if (wait_and_act(s, poll_timeout(s, now, next_progress)) < 0)
			return -EIO;
		now = mono_ms();
		collect(s, now);
		if (now >= next_progress) {
			sim_stats_progress(&s->stats, stderr, s->o->json, s->hosts, s->o->hosts, now);
			next_progress += 1000;
			if (next_progress <= now)
				next_progress = now + 1000;
		}
	}
	sim_stats_summary(&s->stats, stdout, s->hosts, s->o->hosts, s->o->connections, now);
	return 0;
}

/* ---- set-up ------------------------------------------------------------------------------------- */

/* One multi handle per SHARD_CONNECTIONS slots, each allowed exactly its slots' connections. */
static int shards_setup(struct sim *s, uint32_t connections)
{
	s->n_shards = (connections + SHARD_CONNECTIONS - 1) / SHARD_CONNECTIONS;
	s->shards = calloc(s->n_shards, sizeof(*s->shards));
	if (!s->shards)
		return -ENOMEM;
	for (uint32_t k = 0; k < s->n_shards; k++) {
		struct shard *sh = &s->shards[k];
		long n = (long)(k + 1 < s->n_shards ? SHARD_CONNECTIONS : connections - k * SHARD_CONNECTIONS);

		*sh = (struct shard){ .s = s, .index = k, .timer_due = -1, .multi = curl_multi_init() };
		if (!sh->multi)
			return -ENOMEM;
		curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
		curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
		curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_timer);
		curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
		curl_multi_setopt(sh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
		curl_multi_setopt(sh->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, n);
		curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, n);
	}
	return 0;
}

static int setup(struct sim *s, const struct sim_options *o)
{
	char auth[4200];
	int64_t now = mono_ms();
	uint32_t env = SIM_NONE, deploy = SIM_NONE;
	int r;

	s->o = o;
	s->rng.s = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
	snprintf(s->agent_version, sizeof(s->agent_version), "slipway-fleetsim/%s", SLIPWAY_VERSION);
	s->hosts = calloc(o->hosts, sizeof(*s->hosts));
	s->heap = calloc(o->hosts, sizeof(*s->heap));
	s->ready = calloc(o->hosts, sizeof(*s->ready));
	s->slots = calloc(o->connections, sizeof(*s->slots));
	s->free_slots = calloc(o->connections, sizeof(*s->free_slots));
	if (!s->hosts || !s->heap || !s->ready || !s->slots || !s->free_slots)
		return -ENOMEM;
	if (asprintf(&s->url_plain, "%s/v1/system/ping", o->server) < 0 ||
	    asprintf(&s->url_wait, "%s/v1/system/ping?wait=%d", o->server, o->cfg.wait_s) < 0)
		return -ENOMEM;
	s->headers = curl_slist_append(NULL, "Content-Type: application/json");
	s->headers = curl_slist_append(s->headers, "Accept: application/json");
	snprintf(auth, sizeof(auth), "Authorization: token %s", o->token);
	if (*o->token)
		s->headers = curl_slist_append(s->headers, auth);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!s->headers)
		return -ENOMEM;
	if (s->epfd < 0)
		return -errno;
	r = shards_setup(s, o->connections);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < o->connections; i++) {
		s->slots[i].shard = &s->shards[i / SHARD_CONNECTIONS];
		r = slot_setup(s, &s->slots[i]);
		if (r < 0)
			return r;
		s->free_slots[s->n_free++] = o->connections - 1 - i;
	}
	if (o->serving_env_id) {
		env = sim_intern(&s->strings, o->serving_env_id);
		deploy = sim_intern(&s->strings, o->serving_deploy_id);
		if (env == SIM_NONE || deploy == SIM_NONE)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < o->hosts; i++) {
		sim_host_init(&s->hosts[i], &o->cfg, &s->rng, now);
		if (o->serving_env_id)
			sim_host_set_serving(&s->hosts[i], env, deploy);
		heap_push(s, i);
	}
	return 0;
}

static void teardown(struct sim *s)
{
	for (uint32_t i = 0; s->slots && i < s->o->connections; i++) {
		struct slot *sl = &s->slots[i];
		if (sl->busy)
			curl_multi_remove_handle(sl->shard->multi, sl->easy);
		if (sl->easy)
			curl_easy_cleanup(sl->easy);
		buf_release(&sl->answer);
		free(sl->body);
	}
	for (uint32_t k = 0; s->shards && k < s->n_shards; k++)
		if (s->shards[k].multi)
			curl_multi_cleanup(s->shards[k].multi);
	free(s->shards);
	if (s->epfd >= 0)
		close(s->epfd);
	curl_slist_free_all(s->headers);
	free(s->url_plain);
	free(s->url_wait);
	free(s->slots);
	free(s->free_slots);
	free(s->hosts);
	free(s->heap);
	free(s->ready);
	sim_strings_release(&s->strings);
}

int sim_run(const struct sim_options *o)
{
	struct sigaction sa;
	struct sim s;
	int r;

	memset(&s, 0, sizeof(s));
	s.epfd = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	r = setup(&s, o);
	if (r == 0)
		r = loop(&s);
	teardown(&s);
	curl_global_cleanup();
	return r;
}
