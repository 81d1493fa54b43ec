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

static int retain_env(struct retention_params *p, int builds_fd, const char *env, struct retention_stats *st)
{
	struct retention_env *recs[4];
	size_t n_recs = 0;
	struct protect prot = { 0 };
	struct retention_build *builds = NULL;
	size_t n_builds = 0;
	bool live = false;
	char id[BUILD_ID_MAX + 1];
	DIR *d = NULL;
	struct dirent *de;
	int efd = -1, r = 0;

	for (size_t i = 0; i < p->n_envs && n_recs < ELEMENTSOF(recs); i++)
		if (p->envs[i].env_name && streq(p->envs[i].env_name, env))
			recs[n_recs++] = &p->envs[i];
	if (n_recs == 0) {
		st->unknown_dirs++;
		return 0;
	}
	for (size_t i = 0; i < n_recs; i++) {
		struct retention_env *e = recs[i];
		if (!e->forgotten)
			live = true;
		if (read_target(e->target, p->builds_dir, env, id, sizeof(id)))
			protect_add(&prot, id);
		/* a forgotten env's stored targetBuildId counts only while its TARGET link exists */
		if (!e->forgotten || target_exists(e->target))
			protect_add(&prot, e->target_build_id);
		if (!e->forgotten) {
			protect_add(&prot, e->previous_build_id);
			protect_add(&prot, e->inflight_build_id);
		}
	}
	protect_from_target_dir(&prot, p->target_dir, p->builds_dir, env);
	if (prot.oom) {
		r = -ENOMEM;
		goto out;
	}

	efd = openat(builds_fd, env, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (efd < 0) {
		r = -errno;
		goto out;
	}
	builds = calloc(MAX_BUILDS_PER_ENV, sizeof(*builds));
	if (!builds) {
		r = -ENOMEM;
		goto out;
	}
	{
		int fd = dup(efd);
		if (fd < 0 || !(d = fdopendir(fd))) {
			r = -errno;
			if (fd >= 0)
				close(fd);
			goto out;
		}
	}
	/* first pass: tmp/trash dirs and the build candidates */
	while ((de = readdir(d))) {
		struct stat sb;
		const char *name = de->d_name;

		if (streq(name, ".") || streq(name, ".."))
			continue;
		if (fstatat(efd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (startswith(name, ".tmp-") || startswith(name, ".trash-")) {
			bool in_use = false;
			for (size_t i = 0; i < n_recs; i++)
				if (recs[i]->running_tmp && streq(recs[i]->running_tmp, name))
					in_use = true;
			if (!in_use) {
				int k = download_remove_treeat(efd, name);
				note_err(st, k);
				if (k == 0)
					st->deleted++;
			}
			continue;
		}
		if (S_ISDIR(sb.st_mode) && build_id_is_valid(name) && n_builds < MAX_BUILDS_PER_ENV) {
			struct build_marker m = { 0 };
			struct retention_build *b = &builds[n_builds++];
			b->id = strdup(name);
			if (!b->id) {
				n_builds--;
				r = -ENOMEM;
				goto out;
			}
			if (build_marker_readat(efd, name, &m) == 0) {
				b->complete = true;
				b->completed_at_ms = m.completed_at_ms;
			}
			build_marker_release(&m);
			b->is_protected = protect_has(&prot, name);
		}
	}
	retention_choose(builds, n_builds, !live, p->keep_builds);
	for (size_t i = 0; i < n_builds; i++) {
		struct retention_build *b = &builds[i];
		char marker[BUILD_ID_MAX + 16];
		int k;

		if (b->keep) {
			if (b->complete)
				st->kept++;
			continue;
		}
		(void)str_printf(marker, sizeof(marker), "%s.extracted", b->id);
		if (b->complete && unlinkat(efd, marker, 0) < 0 && errno != ENOENT) {
			note_err(st, -errno);
			continue; /* never delete a tree whose marker is still there */
		}
		k = download_remove_treeat(efd, b->id);
		note_err(st, k);
		if (k == 0)
			st->deleted++;
	}
	/* orphan markers (no tree): remove unless protected */
	rewinddir(d);
	while ((de = readdir(d))) {
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
		if (!build_id_is_valid(bid) || protect_has(&prot, bid))
			continue;
		if (fstatat(efd, bid, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (unlinkat(efd, de->d_name, 0) < 0 && errno != ENOENT)
			note_err(st, -errno);
	}
	/* a forgotten env's record goes once its TARGET is gone and its directory is empty */
	if (!live) {
		bool gone = true;
		for (size_t i = 0; i < n_recs; i++)
			if (target_exists(recs[i]->target))
				gone = false;
		if (gone && dir_is_empty(efd)) {
			(void)unlinkat(builds_fd, env, AT_REMOVEDIR);
			for (size_t i = 0; i < n_recs; i++)
				recs[i]->drop_forgotten = true;
		}
	}
out:
	if (d)
		closedir(d);
	if (efd >= 0)
		close(efd);
	for (size_t i = 0; i < n_builds; i++)
		free((char *)builds[i].id);
	free(builds);
	free(prot.ids);
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
