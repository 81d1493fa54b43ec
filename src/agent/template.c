/* SPDX-License-Identifier: Apache-2.0 */
/* agent/template.c: STAGING template rendering (AGENT.md §9.1). One left-to-right pass over the
 * bytes; the tree walk opens every path beneath the build root with O_NOFOLLOW per component,
 * because with run_as the tree belongs to a user who could plant links while we run as root.
 * Does not log. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "download.h"
#include "fs.h"
#include "template.h"
#include "util.h"
#include "banned.h"

#define PREFIX "TELETRAAN_"
#define PREFIX_LEN 10
#define TEMPLATE_MAX_BYTES (64u * 1024 * 1024)
#define RENDER_MAX_BYTES (256u * 1024 * 1024)
#define WALK_DEPTH_MAX 64

static bool key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static const char *lookup(const struct template_var *vars, size_t n, const char *key, size_t klen)
{
	for (size_t i = 0; i < n; i++)
		if (vars[i].key && strlen(vars[i].key) == klen && memcmp(vars[i].key, key, klen) == 0)
			return vars[i].value ? vars[i].value : "";
	return NULL;
}

static bool at(const char *in, size_t len, size_t i, const char *lit)
{
	size_t n = strlen(lit);
	return len - i >= n && memcmp(in + i, lit, n) == 0;
}

/* A placeholder at in[i], which starts with "$" PREFIX: "$" PREFIX "{KEY}" or "$" PREFIX "KEY". True with its
 * key in [*ks, *ke); *next is where scanning goes on: after the placeholder, or after its prefix when it is
 * malformed (which then stays as it is). */
static bool placeholder_at(const char *in, size_t len, size_t i, size_t *ks, size_t *ke, size_t *next)
{
	size_t k = i + 1 + PREFIX_LEN;
	bool braced = k < len && in[k] == '{';

	if (braced)
		k++;
	*ks = k;
	if (!braced && !(k < len && alpha(in[k]))) {
		*next = k;
		return false;
	}
	while (k < len && key_char(in[k]))
		k++;
	*ke = k;
	if (!braced) {
		*next = k;
		return true;
	}
	if (k == *ks || k >= len || in[k] != '}') {
		*next = *ks;
		return false;
	}
	*next = k + 1;
	return true;
}

int template_render(const char *in, size_t len, const struct template_var *vars, size_t n_vars, struct buf *out)
{
	size_t i = 0, lit = 0; /* in[lit..i) is pending literal text */
	int r;

#define FLUSH()                                                                                                  \
	do {                                                                                                     \
		r = buf_append(out, in + lit, i - lit);                                                          \
		if (r < 0)                                                                                       \
			return r;                                                                                \
	} while (0)

	while (i < len) {
		const char *val;
		size_t k, ks;

		if (in[i] != '$' && in[i] != '{') {
			i++;
			continue;
		}
		if (at(in, len, i, "$" PREFIX "$" PREFIX)) {
			FLUSH();
			r = buf_appends(out, "$" PREFIX);
			if (r < 0)
				return r;
			i += 2 * (PREFIX_LEN + 1);
			lit = i;
			continue;
		}
		if (at(in, len, i, "${" PREFIX) || at(in, len, i, "{$" PREFIX)) {
			size_t start = i, dstart = 0, dend = 0;
			bool has_default = false;

			ks = k = i + 2 + PREFIX_LEN;
			while (k < len && key_char(in[k]))
				k++;
			if (k == ks || k >= len || (in[k] != '}' && in[k] != ':')) {
				i = ks; /* does not close: the prefix is copied unchanged */
				continue;
			}
			if (in[k] == ':') {
				size_t d = k + 1;
				while (d < len && in[d] != '}' && in[d] != '\n')
					d++;
				if (d >= len || in[d] != '}') {
					i = ks;
					continue;
				}
				has_default = true;
				dstart = k + 1;
				dend = d;
				k = d;
			}
			/* in[k] == '}' */
			val = lookup(vars, n_vars, in + ks, (has_default ? dstart - 1 : k) - ks);
			i = start;
			FLUSH();
			if (val)
				r = buf_appends(out, val);
			else if (has_default)
				r = buf_append(out, in + dstart, dend - dstart);
			else
				r = buf_append(out, in + start, k + 1 - start);
			if (r < 0)
				return r;
			i = lit = k + 1;
			continue;
		}
		if (at(in, len, i, "$" PREFIX)) {
			size_t next;

			if (placeholder_at(in, len, i, &ks, &k, &next) && (val = lookup(vars, n_vars, in + ks, k - ks))) {
				FLUSH();
				r = buf_appends(out, val);
				if (r < 0)
					return r;
				lit = next;
			}
			i = next;
			continue;
		}
		i++;
	}
	FLUSH();
	return 0;
#undef FLUSH
}

/* ---- safe opening ------------------------------------------------------------------------------- */

int template_open_beneath(int dir_fd, const char *path, int flags, unsigned mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char tmp[4096], *p, *slash;
	int fd, cur, r;
	long k;

	k = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
	if (k >= 0)
		return (int)k;
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
	/* fallback: component by component with O_NOFOLLOW */
	r = str_copy(tmp, sizeof(tmp), path);
	if (r < 0)
		return r;
	if (tmp[0] == '/')
		return -EXDEV;
	cur = dup(dir_fd);
	if (cur < 0)
		return -errno;
	p = tmp;
	while ((slash = strchr(p, '/'))) {
		*slash = '\0';
		if (streq(p, "..")) {
			close(cur);
			return -EXDEV;
		}
		if (*p && !streq(p, ".")) {
			fd = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				r = errno == ENOTDIR ? -ELOOP : -errno;
				close(cur);
				return r;
			}
			close(cur);
			cur = fd;
		}
		p = slash + 1;
	}
	if (streq(p, "..")) {
		close(cur);
		return -EXDEV;
	}
	fd = openat(cur, *p ? p : ".", flags | O_CLOEXEC | O_NOFOLLOW, mode);
	r = fd < 0 ? -errno : fd;
	close(cur);
	return r;
}

/* ---- the tree ------------------------------------------------------------------------------------ */

struct walk {
	const struct template_var *vars;
	size_t n_vars;
	char *err;
	size_t errsz;
	char path[4096]; /* relative path for messages */
};

static int set_err(struct walk *w, int r, const char *what, const char *name)
{
	if (r == -ELOOP || r == -ENOTDIR)
		str_printf(w->err, w->errsz, "template path '%s/%s' has a symbolic link as a directory component",
			   w->path, name);
	else
		str_printf(w->err, w->errsz, "%s '%s/%s': %s", what, w->path, name, strerror(-r));
	return r;
}

static int push_path(struct walk *w, const char *name, size_t *ret_old)
{
	size_t n = strlen(w->path);
	*ret_old = n;
	return str_printf(w->path + n, sizeof(w->path) - n, "/%s", name);
}

static void pop_path(struct walk *w, size_t old)
{
	w->path[old] = '\0';
}

/* One entry of a directory walk: name in src_fd, with its lstat; dst_fd is the directory it goes to. */
typedef int (*walk_entry_fn)(struct walk *w, int src_fd, int dst_fd, const char *name, const struct stat *st,
			     int depth);

/* Call entry for every entry of src_fd but . and .. (at most WALK_DEPTH_MAX levels down) until one returns
 * non-zero (returned); what names a failure to read one. */
static int walk_dir(struct walk *w, int src_fd, int dst_fd, int depth, const char *what, walk_entry_fn entry)
{
	DIR *d = NULL;
	struct dirent *de;
	int sfd, r = 0;

	if (depth > WALK_DEPTH_MAX)
		return set_err(w, -ELOOP, what, ".");
	sfd = dup(src_fd);
	if (sfd < 0)
		return -errno;
	d = fdopendir(sfd);
	if (!d) {
		close(sfd);
		return -errno;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(src_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = set_err(w, -errno, what, de->d_name);
			break;
		}
		r = entry(w, src_fd, dst_fd, de->d_name, &st, depth);
		if (r != 0)
			break; /* a failure, or (has_template) found */
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	return r;
}

/* Walk the opened directories cs (source) and cd (its copy, named dst_name) one level down; closes both. */
static int walk_down(struct walk *w, int cs, int cd, const char *dst_name, int depth, const char *what,
		     walk_entry_fn entry)
{
	size_t old;
	int r = push_path(w, dst_name, &old);

	if (r >= 0)
		r = walk_dir(w, cs, cd, depth + 1, what, entry);
	pop_path(w, old);
	close(cs);
	close(cd);
	return r;
}

static void keep_owner(int dir_fd, const char *name, const struct stat *st)
{
	if (fchownat(dir_fd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) {
		/* best effort: ownership is kept where the agent may set it */
	}
}

/* copy_dir's entry: directories, regular files and links copied (modes kept); anything else (a fifo, ...) cannot
 * come from extraction and is skipped. */
static int copy_entry(struct walk *w, int src_fd, int dst_fd, const char *name, const struct stat *st, int depth)
{
	char *data = NULL, target[4096];
	size_t len = 0;
	ssize_t k;
	int r = 0;

	if (S_ISDIR(st->st_mode)) {
		int cs = -1, cd = -1;
		cs = openat(src_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cs < 0 || mkdirat(dst_fd, name, st->st_mode & 07777) < 0 ||
		    (cd = openat(dst_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			r = set_err(w, -errno, "cannot copy", name);
			if (cs >= 0)
				close(cs);
			return r;
		}
		(void)fchmod(cd, st->st_mode & 07777);
		keep_owner(dst_fd, name, st);
		return walk_down(w, cs, cd, name, depth, "cannot copy", copy_entry);
	}
	if (S_ISREG(st->st_mode)) {
		r = fs_read_at(src_fd, name, TEMPLATE_MAX_BYTES, &data, &len);
		if (r >= 0)
			r = fs_write_atomic(dst_fd, name, data, len, st->st_mode & 07777);
		free(data);
		if (r < 0)
			return set_err(w, r, "cannot copy", name);
		keep_owner(dst_fd, name, st);
	} else if (S_ISLNK(st->st_mode)) {
		k = readlinkat(src_fd, name, target, sizeof(target) - 1);
		if (k < 0)
			return set_err(w, -errno, "cannot copy", name);
		target[k] = '\0';
		if (symlinkat(target, dst_fd, name) < 0)
			return set_err(w, -errno, "cannot copy", name);
		keep_owner(dst_fd, name, st);
	}
	return 0;
}

/* Copy directory src_fd into the new directory dst_fd, recursively (modes kept, links as links). */
static int copy_dir(struct walk *w, int src_fd, int dst_fd, int depth)
{
	return walk_dir(w, src_fd, dst_fd, depth, "cannot copy", copy_entry);
}

static bool strip_tmpl(const char *name, char *out, size_t outsz)
{
	size_t n = strlen(name);
	if (n > 5 && streq(name + n - 5, ".tmpl")) {
		if (n - 5 >= outsz)
			return false;
		memcpy(out, name, n - 5);
		out[n - 5] = '\0';
		return true;
	}
	return false;
}

/* render_dir's entry: a directory is walked (its name stripped of .tmpl too), a *.tmpl file rendered. */
static int render_entry(struct walk *w, int src_fd, int dst_fd, const char *name, const struct stat *st, int depth)
{
	char outname[NAME_MAX + 1], *data = NULL;
	bool stripped = strip_tmpl(name, outname, sizeof(outname));
	struct buf out;
	size_t len = 0;
	int r;

	if (!stripped && str_copy(outname, sizeof(outname), name) < 0)
		return -ENAMETOOLONG;
	if (S_ISDIR(st->st_mode)) {
		int cs, cd;
		cs = openat(src_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cs < 0)
			return set_err(w, -errno, "cannot read template", name);
		if (mkdirat(dst_fd, outname, st->st_mode & 07777) < 0 && errno != EEXIST) {
			r = set_err(w, -errno, "cannot write template", outname);
			close(cs);
			return r;
		}
		cd = openat(dst_fd, outname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cd < 0) {
			r = set_err(w, errno == ENOTDIR ? -ELOOP : -errno, "cannot write template", outname);
			close(cs);
			return r;
		}
		return walk_down(w, cs, cd, outname, depth, "cannot read template", render_entry);
	}
	if (!S_ISREG(st->st_mode) || !stripped)
		return 0;
	r = fs_read_at(src_fd, name, TEMPLATE_MAX_BYTES, &data, &len);
	if (r < 0)
		return set_err(w, r, "cannot read template", name);
	buf_init(&out, RENDER_MAX_BYTES);
	r = template_render(data, len, w->vars, w->n_vars, &out);
	free(data);
	if (r >= 0)
		r = fs_write_atomic(dst_fd, outname, out.p, out.len, st->st_mode & 0777);
	if (r >= 0)
		keep_owner(dst_fd, outname, st);
	buf_release(&out);
	return r < 0 ? set_err(w, r, "cannot write template", outname) : 0;
}

/* has_template's entry: 1 for a template (a regular *.tmpl file, as render_entry renders), directories searched. */
static int find_template(struct walk *w, int src_fd, int dst_fd, const char *name, const struct stat *st, int depth)
{
	char outname[NAME_MAX + 1];
	size_t old;
	int cs, r;

	(void)dst_fd;
	if (S_ISREG(st->st_mode))
		return strip_tmpl(name, outname, sizeof(outname)) ? 1 : 0;
	if (!S_ISDIR(st->st_mode))
		return 0;
	cs = openat(src_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cs < 0)
		return set_err(w, -errno, "cannot read", name);
	r = push_path(w, name, &old);
	if (r >= 0)
		r = walk_dir(w, cs, -1, depth + 1, "cannot read", find_template);
	pop_path(w, old);
	close(cs);
	return r;
}

/* 1 when the directory teletraan/ (dir_fd) holds a template anywhere, 0 when not, or a negative errno. dir_fd is
 * read from its start again afterwards (walk_dir reads through a dup, which shares the position). */
static int has_template(struct walk *w, int dir_fd)
{
	int r = walk_dir(w, dir_fd, -1, 0, "cannot read", find_template);

	if (lseek(dir_fd, 0, SEEK_SET) < 0 && r >= 0)
		r = -errno;
	return r;
}

/* Render every *.tmpl under src_fd into dst_fd (directory names stripped too). */
static int render_dir(struct walk *w, int src_fd, int dst_fd, int depth)
{
	return walk_dir(w, src_fd, dst_fd, depth, "cannot read template", render_entry);
}

int template_render_tree(const char *tree_dir, const struct template_var *vars, size_t n_vars, char *err,
			 size_t errsz)
{
	struct walk w = { .vars = vars, .n_vars = n_vars, .err = err, .errsz = errsz };
	struct stat st;
	int root = -1, src = -1, dst = -1, r;
	bool have_tel, have_tmpl;
	char dummy[8];

	if (!err || errsz == 0) {
		err = dummy;
		errsz = sizeof(dummy);
		w.err = err;
		w.errsz = errsz;
	}
	err[0] = '\0';
	root = open(tree_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0) {
		r = -errno;
		str_printf(err, errsz, "cannot open build tree '%s': %s", tree_dir, strerror(-r));
		return r;
	}
	have_tel = fstatat(root, "teletraan", &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (have_tel && !S_ISDIR(st.st_mode)) {
		r = -ELOOP;
		str_printf(err, errsz, "'teletraan' in the build is not a directory");
		goto out;
	}
	have_tmpl = fstatat(root, "teletraan_template", &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (have_tmpl && !S_ISDIR(st.st_mode)) {
		r = -ELOOP;
		str_printf(err, errsz, "'teletraan_template' in the build is not a directory");
		goto out;
	}
	if (have_tel && !have_tmpl) {
		/* first staging: pristine copy, built aside and renamed so a crash leaves none or all; a teletraan/
		 * without templates has nothing to render now or at any later staging (the tree is the build's), so it
		 * is not copied: a copy is a durable write per file */
		char tmpname[64];
		unsigned char rnd[4];
		if (fstatat(root, "teletraan", &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			goto out;
		}
		src = openat(root, "teletraan", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		(void)str_copy(w.path, sizeof(w.path), "teletraan");
		r = src < 0 ? -errno : has_template(&w, src);
		if (r <= 0) {
			if (r < 0 && !err[0])
				str_printf(err, errsz, "cannot read teletraan/: %s", strerror(-r));
			goto out;
		}
		r = random_bytes(rnd, sizeof(rnd));
		if (r < 0)
			goto out;
		(void)str_printf(tmpname, sizeof(tmpname), ".teletraan_template.tmp-%02x%02x%02x%02x", rnd[0], rnd[1],
				 rnd[2], rnd[3]);
		if (mkdirat(root, tmpname, st.st_mode & 07777) < 0 ||
		    (dst = openat(root, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			r = -errno;
			str_printf(err, errsz, "cannot copy teletraan/ to teletraan_template/: %s", strerror(-r));
			goto out;
		}
		if (fchown(dst, st.st_uid, st.st_gid) < 0) {
			/* best effort: ownership is kept where the agent may set it */
		}
		(void)str_copy(w.path, sizeof(w.path), "teletraan");
		r = copy_dir(&w, src, dst, 0);
		if (r < 0 || renameat(root, tmpname, root, "teletraan_template") < 0) {
			if (r >= 0) {
				r = -errno;
				str_printf(err, errsz, "cannot create teletraan_template/: %s", strerror(-r));
			}
			(void)close(dst);
			dst = -1;
			(void)download_remove_treeat(root, tmpname); /* best effort: the partial copy */
			goto out;
		}
		close(src);
		close(dst);
		src = dst = -1;
		have_tmpl = true;
	}
	if (!have_tmpl) {
		r = 0;
		goto out;
	}
	src = openat(root, "teletraan_template", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0) {
		r = -errno;
		str_printf(err, errsz, "cannot open teletraan_template/: %s", strerror(-r));
		goto out;
	}
	if (fstatat(src, ".", &st, 0) < 0) {
		r = -errno;
		goto out;
	}
	if (mkdirat(root, "teletraan", st.st_mode & 07777) < 0 && errno != EEXIST) {
		r = -errno;
		str_printf(err, errsz, "cannot create teletraan/: %s", strerror(-r));
		goto out;
	}
	dst = openat(root, "teletraan", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0) {
		r = errno == ENOTDIR ? -ELOOP : -errno;
		str_printf(err, errsz, "cannot open teletraan/: %s", strerror(-r));
		goto out;
	}
	(void)str_copy(w.path, sizeof(w.path), "teletraan");
	r = render_dir(&w, src, dst, 0);
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	close(root);
	return r;
}
