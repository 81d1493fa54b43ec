/* SPDX-License-Identifier: Apache-2.0 */
/* agent/retention.c: build retention (AGENT.md §14). The choice per env is pure
 * (retention_choose); the walk reads env directories with openat/fstatat and deletes with
 * unlinkat, never following a symbolic link. Does not log. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "download.h"
#include "retention.h"
#include "util.h"
#include "banned.h"

#define MAX_BUILDS_PER_ENV 4096

static int cmp_newest(const void *a, const void *b)
{
	const struct retention_build *x = *(const struct retention_build *const *)a;
	const struct retention_build *y = *(const struct retention_build *const *)b;

	if (x->completed_at_ms != y->completed_at_ms)
		return x->completed_at_ms > y->completed_at_ms ? -1 : 1;
	return -strcmp(x->id, y->id);
}

void retention_choose(struct retention_build *builds, size_t n, bool forgotten, unsigned keep)
{
	struct retention_build **order;
	size_t m = 0;
	unsigned kept = 0;

	for (size_t i = 0; i < n; i++)
		builds[i].keep = builds[i].is_protected;
	if (forgotten || keep == 0)
		return;
	order = calloc(n ? n : 1, sizeof(*order));
	if (!order) {
		/* out of memory: keep everything rather than guess */
		for (size_t i = 0; i < n; i++)
			builds[i].keep = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (builds[i].complete)
			order[m++] = &builds[i];
	qsort(order, m, sizeof(*order), cmp_newest);
	for (size_t i = 0; i < m && kept < keep; i++, kept++)
		order[i]->keep = true;
	free(order);
}

/* If link (the text of a TARGET symlink) points at <builds_dir>/<env>/<id>, copy id. */
static bool link_build_id(const char *link, const char *builds_dir, const char *env, char *id, size_t idsz)
{
	size_t bl = strlen(builds_dir), el = strlen(env);
	const char *rest;

	while (bl > 1 && builds_dir[bl - 1] == '/')
		bl--;
	if (strncmp(link, builds_dir, bl) != 0 || link[bl] != '/')
		return false;
	rest = link + bl + 1;
	if (strncmp(rest, env, el) != 0 || rest[el] != '/')
		return false;
	rest += el + 1;
	if (!build_id_is_valid(rest))
		return false;
	return str_copy(id, idsz, rest) == 0;
}

static bool read_target(const char *target, const char *builds_dir, const char *env, char *id, size_t idsz)
{
	char link[PATH_MAX];
	ssize_t k;

	if (!target || !*target)
		return false;
	k = readlink(target, link, sizeof(link) - 1);
	if (k < 0)
		return false;
	link[k] = '\0';
	return link_build_id(link, builds_dir, env, id, idsz);
}

static bool target_exists(const char *target)
{
	struct stat st;
	return target && *target && lstat(target, &st) == 0;
}

struct protect {
	char (*ids)[BUILD_ID_MAX + 1];
	size_t n, cap;
	bool oom; /* an id could not be recorded: delete nothing in this env */
};

static void protect_add(struct protect *p, const char *id)
{
	if (!id || !build_id_is_valid(id))
		return;
	for (size_t i = 0; i < p->n; i++)
		if (streq(p->ids[i], id))
			return;
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 8;
		void *n = realloc(p->ids, ncap * sizeof(*p->ids));
		if (!n) {
			p->oom = true;
			return;
		}
		p->ids = n;
		p->cap = ncap;
	}
	(void)str_copy(p->ids[p->n++], sizeof(p->ids[0]), id);
}

static bool protect_has(const struct protect *p, const char *id)
{
	for (size_t i = 0; i < p->n; i++)
		if (streq(p->ids[i], id))
			return true;
	return false;
}

/* Links in target_dir that point into <builds_dir>/<env>/ */
static void protect_from_target_dir(struct protect *p, const char *target_dir, const char *builds_dir, const char *env)
{
	DIR *d;
	struct dirent *de;
	char id[BUILD_ID_MAX + 1], link[PATH_MAX];
	int dfd;

	if (!target_dir || !*target_dir)
		return;
	dfd = open(target_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		ssize_t k = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (k < 0)
			continue;
		link[k] = '\0';
		if (link_build_id(link, builds_dir, env, id, sizeof(id)))
			protect_add(p, id);
	}
	closedir(d);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && streq(s + n - m, suffix);
}

static void note_err(struct retention_stats *st, int r)
{
	if (r < 0 && st->first_error == 0)
		st->first_error = r;
}

static bool dir_is_empty(int dfd)
{
	DIR *d;
	struct dirent *de;
	bool empty_ = true;
	int fd = dup(dfd);

	if (fd < 0)
		return false;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
			empty_ = false;
			break;
		}
	closedir(d);
	return empty_;
}

/* One env directory being pruned. */
struct env_pass {
	struct retention_params *p;
	const char *env;
	struct retention_env *recs[4]; /* the env's records: at most one live and some forgotten */
	size_t n_recs;
	bool live;
	struct protect prot;
	int efd;
	DIR *d;
	struct retention_build *builds;
	size_t n_builds;
	struct retention_stats *st;
};

/* Builds that must stay whatever keep_builds says: TARGET's, the previous and the in-flight one. */
static int collect_protected(struct env_pass *ep)
{
	char id[BUILD_ID_MAX + 1];

	for (size_t i = 0; i < ep->n_recs; i++) {
		struct retention_env *e = ep->recs[i];
		if (!e->forgotten)
			ep->live = true;
		if (read_target(e->target, ep->p->builds_dir, ep->env, id, sizeof(id)))
			protect_add(&ep->prot, id);
		/* a forgotten env's stored targetBuildId counts only while its TARGET link exists */
		if (!e->forgotten || target_exists(e->target))
			protect_add(&ep->prot, e->target_build_id);
		if (!e->forgotten) {
			protect_add(&ep->prot, e->previous_build_id);
			protect_add(&ep->prot, e->inflight_build_id);
		}
	}
	protect_from_target_dir(&ep->prot, ep->p->target_dir, ep->p->builds_dir, ep->env);
	return ep->prot.oom ? -ENOMEM : 0;
}

/* A leftover .tmp-* / .trash-* directory goes unless a running download uses it. */
static void remove_leftover(struct env_pass *ep, const char *name)
{
	int k;

	for (size_t i = 0; i < ep->n_recs; i++)
		if (ep->recs[i]->running_tmp && streq(ep->recs[i]->running_tmp, name))
			return;
	k = download_remove_treeat(ep->efd, name);
	note_err(ep->st, k);
	if (k == 0)
		ep->st->deleted++;
}

/* First pass over the env directory: leftovers away, build directories become candidates. */
static int scan_builds(struct env_pass *ep)
{
	struct dirent *de;

	while ((de = readdir(ep->d))) {
		const char *name = de->d_name;
		struct build_marker m = { 0 };
		struct retention_build *b;
		struct stat sb;

		if (streq(name, ".") || streq(name, "..") || fstatat(ep->efd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (startswith(name, ".tmp-") || startswith(name, ".trash-")) {
			remove_leftover(ep, name);
			continue;
		}
		if (S_ISREG(sb.st_mode) && strstr(name, ".extracted.tmp.")) {
			/* a marker that was never renamed into place (the agent stopped while its build was flushed) */
			if (unlinkat(ep->efd, name, 0) == 0)
				ep->st->deleted++;
			continue;
		}
		if (!S_ISDIR(sb.st_mode) || !build_id_is_valid(name) || ep->n_builds >= MAX_BUILDS_PER_ENV)
			continue;
		b = &ep->builds[ep->n_builds];
		b->id = strdup(name);
		if (!b->id)
			return -ENOMEM;
		ep->n_builds++;
		if (build_marker_readat(ep->efd, name, &m) == 0) {
			b->complete = true;
			b->completed_at_ms = m.completed_at_ms;
		}
		build_marker_release(&m);
		b->is_protected = protect_has(&ep->prot, name);
	}
	return 0;
}

/* Delete what retention_choose() did not keep: the marker first, so a half-deleted tree is never
 * taken for a complete build. */
static void delete_unkept(struct env_pass *ep)
{
	for (size_t i = 0; i < ep->n_builds; i++) {
		struct retention_build *b = &ep->builds[i];
		char marker[BUILD_ID_MAX + 16];
		int k;

		if (b->keep) {
			if (b->complete)
				ep->st->kept++;
			continue;
		}
		(void)str_printf(marker, sizeof(marker), "%s.extracted", b->id);
		if (b->complete && unlinkat(ep->efd, marker, 0) < 0 && errno != ENOENT) {
			note_err(ep->st, -errno);
			continue; /* never delete a tree whose marker is still there */
		}
		k = download_remove_treeat(ep->efd, b->id);
		note_err(ep->st, k);
		if (k == 0)
			ep->st->deleted++;
	}
}

/* Markers without a tree go, unless protected. */
static void remove_orphan_markers(struct env_pass *ep)
{
	struct dirent *de;

	rewinddir(ep->d);
	while ((de = readdir(ep->d))) {
		char bid[BUILD_ID_MAX + 16];
		struct stat sb;
		size_t n;

		if (!has_suffix(de->d_name, ".extracted"))
			continue;
		n = strlen(de->d_name) - strlen(".extracted");
		if (n > BUILD_ID_MAX)
			continue;
		memcpy(bid, de->d_name, n);
		bid[n] = '\0';
		if (!build_id_is_valid(bid) || protect_has(&ep->prot, bid))
			continue;
		if (fstatat(ep->efd, bid, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (unlinkat(ep->efd, de->d_name, 0) < 0 && errno != ENOENT)
			note_err(ep->st, -errno);
	}
}

/* A forgotten env's record goes once its TARGET is gone and its directory is empty. */
static void drop_if_forgotten_and_empty(struct env_pass *ep, int builds_fd)
{
	if (ep->live)
		return;
	for (size_t i = 0; i < ep->n_recs; i++)
		if (target_exists(ep->recs[i]->target))
			return;
	if (!dir_is_empty(ep->efd))
		return;
	(void)unlinkat(builds_fd, ep->env, AT_REMOVEDIR);
	for (size_t i = 0; i < ep->n_recs; i++)
		ep->recs[i]->drop_forgotten = true;
}

static int open_env_dir(struct env_pass *ep, int builds_fd)
{
	int fd;

	ep->efd = openat(builds_fd, ep->env, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ep->efd < 0)
		return -errno;
	fd = dup(ep->efd);
	if (fd < 0 || !(ep->d = fdopendir(fd))) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	return 0;
}

static int retain_env(struct retention_params *p, int builds_fd, const char *env, struct retention_stats *st)
{
	struct env_pass ep = { .p = p, .env = env, .efd = -1, .st = st };
	int r;

	for (size_t i = 0; i < p->n_envs && ep.n_recs < ELEMENTSOF(ep.recs); i++)
		if (p->envs[i].env_name && streq(p->envs[i].env_name, env))
			ep.recs[ep.n_recs++] = &p->envs[i];
	if (ep.n_recs == 0) {
		st->unknown_dirs++;
		return 0;
	}
	r = collect_protected(&ep);
	if (r == 0)
		r = open_env_dir(&ep, builds_fd);
	if (r == 0 && !(ep.builds = calloc(MAX_BUILDS_PER_ENV, sizeof(*ep.builds))))
		r = -ENOMEM;
	if (r == 0)
		r = scan_builds(&ep);
	if (r == 0) {
		retention_choose(ep.builds, ep.n_builds, !ep.live, p->keep_builds);
		delete_unkept(&ep);
		remove_orphan_markers(&ep);
		drop_if_forgotten_and_empty(&ep, builds_fd);
	}
	if (ep.d)
		closedir(ep.d);
	if (ep.efd >= 0)
		close(ep.efd);
	for (size_t i = 0; i < ep.n_builds; i++)
		free((char *)ep.builds[i].id);
	free(ep.builds);
	free(ep.prot.ids);
	return r;
}

int retention_run(struct retention_params *p, struct retention_stats *ret_stats)
{
	struct retention_stats st = { 0 };
	DIR *d;
	struct dirent *de;
	int bfd, fd, r;

	bfd = open(p->builds_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return -errno;
	fd = dup(bfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		close(bfd);
		return r;
	}
	for (size_t i = 0; i < p->n_envs; i++)
		p->envs[i].drop_forgotten = false;
	while ((de = readdir(d))) {
		struct stat sb;

		if (!env_name_is_valid(de->d_name))
			continue;
		if (fstatat(bfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		note_err(&st, retain_env(p, bfd, de->d_name, &st));
	}
	closedir(d);
	/* forgotten envs whose directory is already gone */
	for (size_t i = 0; i < p->n_envs; i++) {
		struct retention_env *e = &p->envs[i];
		struct stat sb;

		if (!e->forgotten || e->drop_forgotten || !e->env_name || !env_name_is_valid(e->env_name))
			continue;
		if (fstatat(bfd, e->env_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
		    !target_exists(e->target)) {
			bool live_twin = false;
			for (size_t j = 0; j < p->n_envs; j++)
				if (!p->envs[j].forgotten && p->envs[j].env_name && streq(p->envs[j].env_name, e->env_name))
					live_twin = true;
			if (!live_twin)
				e->drop_forgotten = true;
		}
	}
	close(bfd);
	*ret_stats = st;
	return 0;
}
