/* SPDX-License-Identifier: Apache-2.0 */
/* agent/stage.c: STAGING (AGENT.md §9) and TARGET resolution (§7.3). The flip is symlink to
 * <TARGET>.slipway-tmp + rename + fsync of the parent, so there is no instant without a valid
 * TARGET. Ownership changes never follow symlinks. Does not log. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "download.h"
#include "paths.h"
#include "stage.h"
#include "template.h"
#include "util.h"
#include "banned.h"

static bool path_is_normalised_abs(const char *p)
{
	const char *s;

	if (!p || p[0] != '/' || streq(p, "/"))
		return false;
	if (p[strlen(p) - 1] == '/')
		return false;
	for (s = p; *s;) {
		const char *c = ++s; /* after a '/' */
		size_t n;

		while (*s && *s != '/')
			s++;
		n = (size_t)(s - c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
	}
	return true;
}

/* Is path equal to dir or below it (lexically, dir without trailing '/')? */
static bool path_is_under(const char *path, const char *dir)
{
	size_t n;

	if (!dir || !*dir)
		return false;
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool stage_target_allowed(const struct target_policy *tp, const char *target)
{
	char real[PATH_MAX];

	if (path_resolve_parent(target, real, sizeof(real)) < 0)
		return false;
	if (path_real_is_inside(real, tp->state_dir, true) || path_real_is_inside(real, tp->builds_dir, true))
		return false;
	return path_real_is_inside(real, tp->target_dir, false) ||
	       path_real_is_inside_any(real, tp->allowed_target_roots);
}

int stage_resolve_target(const struct target_policy *tp, const char *env_name, const char *custom_target,
			 char *ret, size_t retsz, char *err, size_t errsz)
{
	char real[PATH_MAX];
	char dummy[8];
	int r;

	if (!err || errsz == 0) {
		err = dummy;
		errsz = sizeof(dummy);
	}
	err[0] = '\0';
	if (!env_name_is_valid(env_name)) {
		str_printf(err, errsz, "invalid env name");
		return -EINVAL;
	}
	if (!custom_target || !*custom_target) {
		r = str_printf(ret, retsz, "%s/%s", tp->target_dir, env_name);
		if (r < 0)
			str_printf(err, errsz, "TARGET path too long");
		return r < 0 ? -EINVAL : 0;
	}
	if (strlen(custom_target) >= PATH_MAX || !path_is_normalised_abs(custom_target)) {
		str_printf(err, errsz, "invalid target '%.200s': must be an absolute normalised path", custom_target);
		return -EINVAL;
	}
	if (path_is_under(custom_target, tp->state_dir) || path_is_under(custom_target, tp->builds_dir)) {
		str_printf(err, errsz, "invalid target '%.200s': inside state_dir or builds_dir", custom_target);
		return -EINVAL;
	}
	/* the checks below see the parent as it is on disk: symlinks resolved */
	r = path_resolve_parent(custom_target, real, sizeof(real));
	if (r < 0) {
		str_printf(err, errsz, "invalid target '%.200s': parent directory does not exist", custom_target);
		return -EINVAL;
	}
	if (path_real_is_inside(real, tp->state_dir, true) || path_real_is_inside(real, tp->builds_dir, true)) {
		str_printf(err, errsz, "invalid target '%.200s': inside state_dir or builds_dir", custom_target);
		return -EINVAL;
	}
	if (!stage_target_allowed(tp, custom_target)) {
		str_printf(err, errsz,
			   "invalid target '%.200s' (resolves to '%.200s'): not under target_dir or allowed_target_roots",
			   custom_target, real);
		return -EPERM;
	}
	r = str_copy(ret, retsz, custom_target);
	if (r < 0) {
		str_printf(err, errsz, "TARGET path too long");
		return -EINVAL;
	}
	return 0;
}

/* Give the entry name of dir_fd to uid:gid without following a symlink. A non-directory with more
 * than one link is skipped: it may be a hard link to a file outside the tree (e.g. one that run_as
 * planted after the last deploy), and chown would hand that file over. The check and the chown act
 * on the same open inode, so swapping the entry in between changes nothing. */
static int chown_entry(int dir_fd, const char *name, uid_t uid, gid_t gid)
{
	struct stat st;
	int fd, r = 0;

	fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
		r = 0;
	else if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int chown_tree(int dir_fd, uid_t uid, gid_t gid, int depth)
{
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	if (depth > 256)
		return -ELOOP;
	if (fchown(dir_fd, uid, gid) < 0)
		return -errno;
	fd = dup(dir_fd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int c = openat(dir_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (c < 0) {
				r = -errno;
				break;
			}
			r = chown_tree(c, uid, gid, depth + 1);
			close(c);
			if (r < 0)
				break;
		} else if ((r = chown_entry(dir_fd, de->d_name, uid, gid)) < 0) {
			break;
		}
	}
	if (r == 0 && errno)
		r = -errno;
	closedir(d);
	return r;
}

int stage_remove_stale_tmp(const char *target)
{
	char tmp[PATH_MAX];
	struct stat st;
	int r;

	r = str_printf(tmp, sizeof(tmp), "%s.slipway-tmp", target);
	if (r < 0)
		return r;
	if (lstat(tmp, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISLNK(st.st_mode))
		return -EEXIST; /* not ours: leave it */
	return unlink(tmp) < 0 && errno != ENOENT ? -errno : 0;
}

int stage_build(const struct stage_params *p, char *err, size_t errsz)
{
	char env_dir[PATH_MAX], tree[PATH_MAX], tmp[PATH_MAX], cur[PATH_MAX], parent[PATH_MAX];
	struct build_marker m = { 0 };
	struct stat st;
	ssize_t k;
	char dummy[8];
	int r, pfd;

	if (!err || errsz == 0) {
		err = dummy;
		errsz = sizeof(dummy);
	}
	err[0] = '\0';
	if (!p->build_id || !*p->build_id) {
		str_printf(err, errsz, "goal has no build");
		return -EINVAL;
	}
	if (!build_id_is_valid(p->build_id) || !env_name_is_valid(p->env_name)) {
		str_printf(err, errsz, "invalid build id or env name");
		return -EINVAL;
	}
	if (str_printf(env_dir, sizeof(env_dir), "%s/%s", p->builds_dir, p->env_name) < 0 ||
	    str_printf(tree, sizeof(tree), "%s/%s", env_dir, p->build_id) < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s.slipway-tmp", p->target) < 0) {
		str_printf(err, errsz, "path too long");
		return -ENAMETOOLONG;
	}
	/* 1: the tree must be complete */
	r = build_marker_read(env_dir, p->build_id, &m);
	build_marker_release(&m);
	if (r < 0 || lstat(tree, &st) < 0 || !S_ISDIR(st.st_mode)) {
		str_printf(err, errsz, "build %s is not downloaded", p->build_id);
		return -ENOENT;
	}
	/* 2: TARGET must be a symlink or absent */
	if (lstat(p->target, &st) == 0 && !S_ISLNK(st.st_mode)) {
		str_printf(err, errsz, "TARGET exists and is not a symlink");
		return -EEXIST;
	}
	/* 3: ownership */
	if (p->run_as && *p->run_as) {
		struct passwd pw, *res = NULL;
		char pwbuf[16384];
		int tfd;

		r = getpwnam_r(p->run_as, &pw, pwbuf, sizeof(pwbuf), &res);
		if (r != 0 || !res) {
			str_printf(err, errsz, "run_as user '%.64s' does not exist", p->run_as);
			return r ? -r : -ESRCH;
		}
		if (pw.pw_uid != geteuid()) {
			tfd = open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = tfd < 0 ? -errno : chown_tree(tfd, pw.pw_uid, pw.pw_gid, 0);
			if (tfd >= 0)
				close(tfd);
			if (r < 0) {
				str_printf(err, errsz, "cannot change the owner of build %s to '%.64s': %s",
					   p->build_id, p->run_as, strerror(-r));
				return r;
			}
		}
	}
	/* 4: templates, before the flip */
	r = template_render_tree(tree, p->vars, p->n_vars, err, errsz);
	if (r < 0)
		return r;
	/* 5: flip */
	k = readlink(p->target, cur, sizeof(cur) - 1);
	if (k >= 0) {
		cur[k] = '\0';
		if (streq(cur, tree))
			return 0;
	}
	if (unlink(tmp) < 0 && errno != ENOENT) {
		r = -errno;
		str_printf(err, errsz, "cannot remove stale '%.200s': %s", tmp, strerror(-r));
		return r;
	}
	if (symlink(tree, tmp) < 0) {
		r = -errno;
		str_printf(err, errsz, "cannot create '%.200s': %s", tmp, strerror(-r));
		return r;
	}
	if (rename(tmp, p->target) < 0) {
		r = -errno;
		(void)unlink(tmp);
		str_printf(err, errsz, "cannot switch TARGET '%.200s': %s", p->target, strerror(-r));
		return r;
	}
	(void)str_copy(parent, sizeof(parent), p->target);
	pfd = open(dirname(parent), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0) {
		(void)fsync(pfd);
		close(pfd);
	}
	return 1;
}
