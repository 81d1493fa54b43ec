/* SPDX-License-Identifier: Apache-2.0 */
/* main.c: slipway-server: settings, signals, the SQLite lock, the store, the bootstrap token, the
 * HTTP daemon and the workers; graceful stop on SIGTERM/SIGINT (PROTOCOL §10). `slipway-server migrate …`
 * is the copy subcommand of migrate.c. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>

#include "analysis.h"
#include "dsn.h"
#include "enums.h"
#include "events.h"
#include "fs.h"
#include "hash.h"
#include "http/http.h"
#include "log.h"
#include "migrate.h"
#include "names.h"
#include "notify.h"
#include "server.h"
#include "util.h"
#include "webhooks.h"
#include "workers.h"
#include "banned.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t hup_received;

static void on_term(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	hup_received = 1;
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void raise_nofile(const struct server_config *cfg)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)cfg->max_connections + 64)
		log_warn("RLIMIT_NOFILE is %llu, below max_connections + 64 (%lld)", (unsigned long long)rl.rlim_cur,
			 (long long)cfg->max_connections + 64);
}

/* flock PATH.lock so that only one server uses a SQLite database (§10). Returns the fd. */
static int lock_database(const char *path, int *ret_fd)
{
	char lock[4096];
	int fd, r;

	r = str_printf(lock, sizeof(lock), "%s.lock", path);
	if (r < 0)
		return r;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		close(fd);
		return r == -EWOULDBLOCK ? -EBUSY : r;
	}
	*ret_fd = fd;
	return 0;
}

static int bootstrap_token(struct server *srv, const char *db_path)
{
	char token[TOKEN_LEN + 1], hash[SHA256_HEX_LEN + 1], id[ID_LEN + 1], path[4096], line[TOKEN_LEN + 2];
	json_t *row;
	int r;

	if (srv->cfg.admin_token_file && *srv->cfg.admin_token_file)
		r = str_copy(path, sizeof(path), srv->cfg.admin_token_file);
	else if (db_path) {
		char *copy = strdup(db_path);
		if (!copy)
			return -ENOMEM;
		r = str_printf(path, sizeof(path), "%s/admin.token", dirname(copy));
		free(copy);
	} else
		return log_error_errno(-EINVAL, "the token table is empty and admin_token_file is not set");
	if (r < 0)
		return r;
	if ((r = token_generate(token)) < 0 || (r = sha256_hex(token, strlen(token), hash)) < 0 ||
	    (r = id_generate(id)) < 0)
		return r;
	row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n,s:s,s:I}", "id", id, "name", PRINCIPAL_NAME_BOOTSTRAP, "resource", "*", "type",
			"SYSTEM", "role", "ADMIN", "expireDate", "tokenHash", hash, "createDate", (json_int_t)now_ms());
	if (!row)
		return -ENOMEM;
	r = store_token_bootstrap(srv->store, row);
	json_decref(row);
	if (r < 0)
		return server_db_error(srv, r, "cannot create the bootstrap token");
	if (r == 0)
		return 0;
	(void)str_printf(line, sizeof(line), "%s\n", token);
	r = fs_write_atomic_path(path, line, strlen(line), 0600);
	if (r < 0)
		return log_error_errno(r, "cannot write the admin token to '%s'", path);
	log_notice("created SYSTEM ADMIN token '%s' in '%s'", PRINCIPAL_NAME_BOOTSTRAP, path);
	return 0;
}

static int compile_url_allow(struct server *srv)
{
	char *copy, *save = NULL;

	if (!srv->cfg.artifact_url_allow || !*srv->cfg.artifact_url_allow)
		return 0;
	copy = strdup(srv->cfg.artifact_url_allow);
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		regex_t *n = realloc(srv->url_allow, (srv->n_url_allow + 1) * sizeof(regex_t));
		if (!n) {
			free(copy);
			return -ENOMEM;
		}
		srv->url_allow = n;
		if (regcomp(&srv->url_allow[srv->n_url_allow], t, REG_EXTENDED | REG_NOSUB) != 0) {
			free(copy);
			return -EINVAL;
		}
		srv->n_url_allow++;
	}
	free(copy);
	return 0;
}

/* Deploy events (deploy/events.h) → the stage's webhooks: pre-deploy on creation, post-deploy on SUCCEEDING. */
static void fire_webhooks(struct server *srv, const struct deploy_event *ev)
{
	if (ev->kind == DEPLOY_EVENT_CREATED || ev->kind == DEPLOY_EVENT_SUCCEEDING)
		webhooks_fire(srv, ev->env, ev->deploy, ev->build, ev->kind == DEPLOY_EVENT_SUCCEEDING);
}

/* --dump-routes: the route table as JSON lines {method, path, role, scope} (the security tests
 * walk it). Exits 0, or 1 when the table cannot be built. */
static int dump_routes(void)
{
	struct router *rt = NULL;
	int r;

	r = router_new(&rt);
	if (r >= 0)
		r = api_register_routes(rt);
	for (size_t i = 0; r >= 0 && i < router_size(rt); i++) {
		const struct route *e = router_route(rt, i);
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b}", "method", e->method, "path", e->pattern, "role",
				      role_to_string(e->role), "scope", route_scope_to_string(e->scope), "pingBody",
				      e->ping_body);
		char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (!line)
			r = -ENOMEM;
		else
			printf("%s\n", line);
		free(line);
		json_decref(o);
	}
	router_free(rt);
	return r < 0 ? 1 : 0;
}

/* The settings from the command line and the file, checked: 0 to run, 1 when done (--help, --check), or < 0 after
 * saying why on stderr. Then the log level, the descriptor limit and the default roles. */
static int load_config(struct server *srv, int argc, char **argv)
{
	char err[1024] = "";
	bool check = false, help = false;
	int r;

	r = server_config_load(&srv->cfg, argc, argv, &check, &help, err, sizeof(err));
	if (help) {
		server_config_usage();
		return 1;
	}
	if (r >= 0)
		r = server_config_validate(&srv->cfg, err, sizeof(err));
	if (r >= 0)
		r = http_config_validate(&srv->cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "slipway-server: %s\n", err);
		return r;
	}
	if (check) {
		printf("configuration OK\n");
		return 1;
	}
	log_set_level(log_level_from_string(srv->cfg.log_level));
	raise_nofile(&srv->cfg);
	srv->anonymous_role = strcasecmp(srv->cfg.anonymous_role, "NONE") == 0 || !*srv->cfg.anonymous_role
				      ? -1
				      : role_from_string_alias(srv->cfg.anonymous_role);
	srv->default_user_role = role_from_string_alias(srv->cfg.default_user_role);
	if (srv->anonymous_role >= 0)
		log_warn("anonymous_role is %s: requests without credentials are accepted",
			 role_to_string(srv->anonymous_role));
	return 0;
}

/* The store on srv->cfg.db; a SQLite file (db_path) gets its directory and is locked against a second server
 * (*lock_fd, the caller's to close). Logs why on failure. */
static int open_database(struct server *srv, const char *db_path, int *lock_fd)
{
	char dsn[DSN_REDACTED_MAX];
	int r;

	if (db_path) {
		char *copy = strdup(db_path);

		if (copy) {
			const char *dir = dirname(copy);
			if (!streq(dir, "."))
				(void)fs_mkdir_p(dir, 0755);
			free(copy);
		}
		r = lock_database(db_path, lock_fd);
		if (r == -EBUSY) {
			log_error("database '%s' is in use by another slipway-server", db_path);
			return r;
		}
		if (r < 0)
			return log_error_errno(r, "cannot lock database '%s'", db_path);
	}
	r = store_open(srv->cfg.db, &srv->store);
	if (r < 0)
		return log_error_errno(r, "cannot open database '%s'", dsn_redact(srv->cfg.db, dsn, sizeof(dsn)));
	store_set_pool_size(srv->store, (int)srv->cfg.db_pool_size);
	log_info("database '%s'", dsn_redact(srv->cfg.db, dsn, sizeof(dsn)));
	return 0;
}

/* The route table, the HTTP daemon (and its port_file), the webhooks and the workers. Logs why on failure, with
 * the daemon stopped again. */
static int start_serving(struct server *srv)
{
	int r;

	r = deploy_events_listen(srv, fire_webhooks);
	if (r >= 0)
		r = deploy_events_listen(srv, notify_deploy_event);
	if (r >= 0)
		r = router_new(&srv->router);
	if (r >= 0)
		r = api_register_routes(srv->router);
	if (r < 0)
		return log_error_errno(r, "cannot build the route table");
	r = http_start(srv);
	if (r < 0)
		return r;
	if (srv->cfg.port_file && *srv->cfg.port_file) {
		char line[160];
		(void)str_printf(line, sizeof(line), "%s\n", srv->bound);
		r = fs_write_atomic_path(srv->cfg.port_file, line, strlen(line), 0644);
		if (r < 0) {
			(void)log_error_errno(r, "cannot write port_file '%s'", srv->cfg.port_file);
			http_stop(srv);
			return r;
		}
	}
	log_notice("slipway-server %s listening on %s%s", SLIPWAY_VERSION, srv->bound,
		   srv->cfg.tls_cert && *srv->cfg.tls_cert ? " (https)" : "");
	r = webhooks_start(srv);
	if (r >= 0)
		r = notify_start(srv);
	if (r >= 0)
		r = analysis_start(srv);
	if (r >= 0)
		r = workers_start(srv);
	if (r < 0) {
		(void)log_error_errno(r, "cannot start workers");
		http_stop(srv);
	}
	return r;
}

int main(int argc, char **argv)
{
	static struct server srv;
	const char *db_path = NULL;
	int lock_fd = -1, r, rc = 2;

	if (argc == 2 && streq(argv[1], "--dump-routes"))
		return dump_routes();
	if (argc == 2 && streq(argv[1], "--version")) {
		printf("slipway-server %s (%s)\n", SLIPWAY_VERSION, SLIPWAY_COMMIT);
		return 0;
	}
	if (argc >= 2 && streq(argv[1], "migrate"))
		return migrate_main(argc - 1, argv + 1);
	setup_signals();
	/* before any thread starts: libcurl's global state is not thread-safe to set up */
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	r = load_config(&srv, argc, argv);
	if (r != 0) {
		server_config_release(&srv.cfg);
		return r > 0 ? 0 : 2;
	}
	for (size_t i = 0; i < ELEMENTSOF(srv.transition_locks); i++)
		pthread_mutex_init(&srv.transition_locks[i], NULL);
	if (compile_url_allow(&srv) < 0) {
		log_error("invalid artifact_url_allow");
		goto out;
	}

	if (startswith(srv.cfg.db, "sqlite:"))
		db_path = srv.cfg.db + 7;
	r = open_database(&srv, db_path, &lock_fd);
	if (r < 0)
		goto out;
	r = bootstrap_token(&srv, db_path);
	if (r < 0)
		goto out;
	r = start_serving(&srv);
	if (r < 0)
		goto out;
	while (!stop_requested) {
		if (hup_received) {
			hup_received = 0;
			log_info("SIGHUP received, ignoring");
		}
		usleep(50 * 1000);
	}
	log_notice("stopping");
	srv.stopping = 1;
	http_stop(&srv);
	workers_stop(&srv);
	webhooks_stop(&srv);
	analysis_stop(&srv);
	notify_stop(&srv);
	if (srv.flush_heartbeats)
		(void)srv.flush_heartbeats(&srv);
	rc = 0;
out:
	store_free(srv.store);
	router_free(srv.router);
	for (size_t i = 0; i < srv.n_url_allow; i++)
		regfree(&srv.url_allow[i]);
	free(srv.url_allow);
	server_config_release(&srv.cfg);
	if (lock_fd >= 0)
		close(lock_fd);
	curl_global_cleanup();
	return rc;
}
