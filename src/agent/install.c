/* SPDX-License-Identifier: Apache-2.0 */
/* agent/install.c: downloaded builds on disk (AGENT.md §8.1 steps 2 and 8, §8.5): the completion marker,
 * the reuse check, removal without following links, and the move of a helper's tree into place. Runs in
 * the agent (and retention); does not log. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "download_int.h"
#include "fs.h"
#include "jsonutil.h"
#include "paths.h"
#include "util.h"
#include "banned.h"

#define MARKER_MAX (64 * 1024)

/* ---- markers and reuse (§8.5) -------------------------------------------------------------- */

void build_marker_release(struct build_marker *m)
{
	free(m->artifact_url);
	m->artifact_url = NULL;
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

int build_marker_readat(int env_dir_fd, const char *build_id, struct build_marker *ret)
{
	struct build_marker m = { 0 };
	char name[BUILD_ID_MAX + 16], *data = NULL;
	const char *s;
	json_t *j = NULL, *sk;
	size_t len = 0;
	int r;

	if (!build_id_is_valid(build_id))
		return -EINVAL;
	r = str_printf(name, sizeof(name), "%s.extracted", build_id);
	if (r < 0)
		return r;
	r = fs_read_at(env_dir_fd, name, MARKER_MAX, &data, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	r = json_parse_bounded(data, len, &j, NULL, 0);
	if (r < 0) {
		r = -EBADMSG;
		goto out;
	}
	r = -EBADMSG;
	if (!json_is_object(j))
		goto out;
	if (json_get_string(j, "buildId", BUILD_ID_MAX, &s) < 0 || !streq(s, build_id))
		goto out;
	str_copy(m.build_id, sizeof(m.build_id), s);
	if (json_get_string(j, "sha256", 64, &s) < 0 || !is_hex64(s))
		goto out;
	for (size_t i = 0; i < 64; i++)
		m.sha256[i] = (char)tolower((unsigned char)s[i]);
	m.sha256[64] = '\0';
	sk = json_object_get(j, "signatureKey");
	if (sk && !json_is_null(sk)) {
		if (!json_is_string(sk) || str_copy(m.signature_key, sizeof(m.signature_key), json_string_value(sk)) < 0)
			goto out;
	}
	if (json_get_int(j, "completedAt", 0, INT64_MAX, &m.completed_at_ms) < 0)
		goto out;
	if (json_get_string(j, "artifactUrl", 65536, &s) == 0) {
		m.artifact_url = strdup(s);
		if (!m.artifact_url) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = m;
	m.artifact_url = NULL;
	r = 0;
out:
	free(m.artifact_url);
	json_decref(j);
	free(data);
	return r;
}

int build_marker_read(const char *env_dir, const char *build_id, struct build_marker *ret)
{
	int fd, r;

	fd = open(env_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = build_marker_readat(fd, build_id, ret);
	close(fd);
	return r;
}

static bool tree_is_dir_at(int env_fd, const char *build_id)
{
	struct stat st;
	return fstatat(env_fd, build_id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Does marker m satisfy v? 1 / 0 / -EPERM */
static int marker_satisfies(const struct build_marker *m, const struct build_verify *v)
{
	const char *key;
	bool any;
	int r;

	r = download_select_key(v, &key, &any);
	if (r < 0)
		return r;
	if (!str_empty(v->expected_sha256) && strcasecmp(v->expected_sha256, m->sha256) != 0)
		return 0;
	if (key && !streq(key, m->signature_key))
		return 0;
	if (any && (!*m->signature_key || !clist_contains(v->trusted_signing_keys, m->signature_key)))
		return 0;
	return 1;
}

int build_check_reuse(const char *env_dir, const char *build_id, const struct build_verify *v)
{
	struct build_marker m = { 0 };
	int fd, r;

	if (!build_id_is_valid(build_id))
		return -EINVAL;
	fd = open(env_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = build_marker_readat(fd, build_id, &m);
	if (r < 0) {
		r = 0;
		goto out;
	}
	if (!tree_is_dir_at(fd, build_id)) {
		r = 0;
		goto out;
	}
	r = marker_satisfies(&m, v);
out:
	build_marker_release(&m);
	close(fd);
	return r;
}

/* ---- removal without following links ------------------------------------------------------ */

static int remove_dir_contents(int dfd, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > 256)
		return -ELOOP;
	(void)fchmod(dfd, 0700); /* a script may have made it read-only; it goes anyway */
	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		close(dfd);
		return r;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		int k;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && r == 0)
				r = -errno;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0) {
				if (r == 0)
					r = -errno;
				continue;
			}
			k = remove_dir_contents(cfd, depth + 1);
			if (k < 0 && r == 0)
				r = k;
			if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
				r = -errno;
		} else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0) {
			r = -errno;
		}
	}
	closedir(d);
	return r;
}

int download_remove_treeat(int dir_fd, const char *name)
{
	struct stat st;
	int fd, r;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = remove_dir_contents(fd, 0);
	if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int download_remove_tree(const char *path)
{
	return download_remove_treeat(AT_FDCWD, path);
}

/* ---- move into place (§8.1 step 8) -------------------------------------------------------- */

/* The marker's contents under a temporary name in env_fd (its name to tmp), not yet flushed: the syncfs() that
 * flushes the tree flushes them too, and marker_publish then gives them the marker's name. */
static int marker_prepare(int env_fd, const struct build_install_params *p, char *tmp, size_t tmpsz)
{
	char name[BUILD_ID_MAX + 16], *s = NULL;
	json_t *o;
	int r;

	r = str_printf(name, sizeof(name), "%s.extracted", p->build_id);
	if (r < 0)
		return r;
	o = json_pack("{s:s, s:s?, s:s, s:o, s:I}", "buildId", p->build_id, "artifactUrl", p->artifact_url, "sha256",
		      p->sha256, "signatureKey",
		      str_empty(p->signature_key) ? json_null() : json_string(p->signature_key), "completedAt",
		      (json_int_t)now_ms());
	if (!o)
		return -ENOMEM;
	s = json_dump_compact(o);
	json_decref(o);
	if (!s)
		return -ENOMEM;
	r = fs_write_temp(env_fd, name, s, strlen(s), 0644, false, tmp, tmpsz);
	free(s);
	return r;
}

static int marker_publish(int env_fd, const struct build_install_params *p, const char *tmp)
{
	char name[BUILD_ID_MAX + 16];
	int r = str_printf(name, sizeof(name), "%s.extracted", p->build_id);

	if (r == 0 && renameat(env_fd, tmp, env_fd, name) < 0)
		r = -errno;
	if (r == 0 && fsync(env_fd) < 0)
		r = -errno;
	return r;
}

int build_install(const struct build_install_params *p, char *err, size_t errsz)
{
	struct build_marker old = { 0 };
	char marker[BUILD_ID_MAX + 16], trash[BUILD_ID_MAX + 32], mtmp[BUILD_ID_MAX + 48] = "";
	unsigned char rnd[4];
	int env_fd = -1, tmp_fd = -1, r;
	bool have_old;
	char dummy[8];

	if (!err || errsz == 0) {
		err = dummy;
		errsz = sizeof(dummy);
	}
	err[0] = '\0';
	if (!build_id_is_valid(p->build_id) || str_empty(p->sha256) || !is_hex64(p->sha256)) {
		str_printf(err, errsz, "invalid build id or digest");
		r = -EINVAL;
		goto out;
	}
	env_fd = open(p->env_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	tmp_fd = open(p->tmp_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (env_fd < 0 || tmp_fd < 0) {
		r = -errno;
		str_printf(err, errsz, "cannot open build directory: %s", strerror(-r));
		goto out;
	}
	if (!tree_is_dir_at(tmp_fd, "tree")) {
		r = -ENOENT;
		str_printf(err, errsz, "download left no tree");
		goto out;
	}
	(void)str_printf(marker, sizeof(marker), "%s.extracted", p->build_id);
	have_old = build_marker_readat(env_fd, p->build_id, &old) == 0 && tree_is_dir_at(env_fd, p->build_id);
	if (!have_old) {
		/* stale tree (or marker) from a crash: never pointed to, so delete it first */
		(void)unlinkat(env_fd, marker, 0);
		r = download_remove_treeat(env_fd, p->build_id);
		if (r < 0) {
			str_printf(err, errsz, "cannot remove stale build '%s': %s", p->build_id, strerror(-r));
			goto out;
		}
		if (renameat(tmp_fd, "tree", env_fd, p->build_id) < 0) {
			r = -errno;
			str_printf(err, errsz, "cannot move build '%s' into place: %s", p->build_id, strerror(-r));
			goto out;
		}
	} else if (strcasecmp(old.sha256, p->sha256) != 0) {
		/* swap atomically so TARGET never dangles; the old tree lands at tmp/tree */
		if (renameat2(tmp_fd, "tree", env_fd, p->build_id, RENAME_EXCHANGE) < 0) {
			r = -errno;
			str_printf(err, errsz, "cannot swap build '%s': %s", p->build_id, strerror(-r));
			goto out;
		}
	}
	/* the marker says the tree is complete: its files' contents must be on disk before the marker is, or a
	 * power loss could leave a marked build of empty files that a later rollback serves. One syncfs() flushes
	 * the whole extracted tree at once (an fsync per file would cost a journal commit each), and with it the
	 * marker's contents, written under a temporary name first; only then is it renamed to the marker */
	r = marker_prepare(env_fd, p, mtmp, sizeof(mtmp));
	if (r == 0 && syncfs(env_fd) < 0) {
		r = -errno;
		(void)unlinkat(env_fd, mtmp, 0);
		str_printf(err, errsz, "cannot flush build '%s' to disk: %s", p->build_id, strerror(-r));
		goto out;
	}
	if (r == 0)
		r = marker_publish(env_fd, p, mtmp);
	if (r < 0) {
		(void)unlinkat(env_fd, mtmp, 0);
		str_printf(err, errsz, "cannot write marker of build '%s': %s", p->build_id, strerror(-r));
		goto out;
	}
	if (have_old && tree_is_dir_at(tmp_fd, "tree")) {
		/* the old tree (or the identical new one): to .trash-* and away */
		if (random_bytes(rnd, sizeof(rnd)) == 0 &&
		    str_printf(trash, sizeof(trash), ".trash-%s-%02x%02x%02x%02x", p->build_id, rnd[0], rnd[1],
			       rnd[2], rnd[3]) == 0 &&
		    renameat(tmp_fd, "tree", env_fd, trash) == 0)
			(void)download_remove_treeat(env_fd, trash);
		(void)fsync(env_fd);
	} /* else marker_publish synced env_fd after the tree's rename into it */
	r = 0;
out:
	build_marker_release(&old);
	if (tmp_fd >= 0)
		close(tmp_fd);
	if (env_fd >= 0)
		close(env_fd);
	if (p->tmp_dir)
		(void)download_remove_tree(p->tmp_dir);
	return r;
}

