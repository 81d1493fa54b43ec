/* SPDX-License-Identifier: Apache-2.0 */
/* lib/fs.c: atomic writes (temp + fsync + rename + fsync dir, or a kept spare file + fsync + exchange + fsync
 * dir; the fsyncs optional). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "util.h"
#include "banned.h"

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t k = write(fd, p, len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

static void fsync_dir(int dir_fd)
{
	int dfd = dir_fd == AT_FDCWD ? open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : dup(dir_fd);

	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
}

int fs_write_atomic(int dir_fd, const char *name, const void *data, size_t len, mode_t mode)
{
	return fs_write_replace(dir_fd, name, data, len, mode, true);
}

int fs_write_temp(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, bool durable, char *ret_tmp,
		  size_t tmpsz)
{
	unsigned char rnd[6];
	int fd = -1, r;

	for (int attempt = 0; attempt < 16; attempt++) {
		r = random_bytes(rnd, sizeof(rnd));
		if (r < 0)
			return r;
		r = str_printf(ret_tmp, tmpsz, "%s.tmp.%02x%02x%02x%02x%02x%02x", name, rnd[0], rnd[1], rnd[2], rnd[3],
			       rnd[4], rnd[5]);
		if (r < 0)
			return r;
		fd = openat(dir_fd, ret_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) { /* umask must not weaken or strengthen the mode we were asked for */
		r = -errno;
		goto fail;
	}
	r = write_all(fd, data, len);
	if (r < 0)
		goto fail;
	if (durable && fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	r = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (r == 0)
		return 0;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlinkat(dir_fd, ret_tmp, 0);
	return r;
}

int fs_write_replace(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, bool durable)
{
	char tmp[4096];
	int r = fs_write_temp(dir_fd, name, data, len, mode, durable, tmp, sizeof(tmp));

	if (r < 0)
		return r;
	if (renameat(dir_fd, tmp, dir_fd, name) < 0) {
		r = -errno;
		(void)unlinkat(dir_fd, tmp, 0);
		return r;
	}
	if (durable)
		fsync_dir(dir_fd);
	return 0;
}

int fs_write_atomic_path(const char *path, const void *data, size_t len, mode_t mode)
{
	return fs_write_replace_path(path, data, len, mode, true);
}

/* Open path's directory; *ret_name points into base (base_size bytes) at path's last component. The fd or a
 * negative errno. */
static int open_parent(const char *path, char *base, size_t base_size, const char **ret_name)
{
	char dir[4096];
	int dfd, r;

	r = str_copy(dir, sizeof(dir), path);
	if (r < 0)
		return r;
	r = str_copy(base, base_size, path);
	if (r < 0)
		return r;
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	*ret_name = basename(base);
	return dfd;
}

int fs_write_replace_path(const char *path, const void *data, size_t len, mode_t mode, bool durable)
{
	char base[4096];
	const char *name;
	int dfd = open_parent(path, base, sizeof(base), &name), r;

	if (dfd < 0)
		return dfd;
	r = fs_write_replace(dfd, name, data, len, mode, durable);
	close(dfd);
	return r;
}

/* Open spare for writing over: a regular file of ours with one link (a hard link would write elsewhere too).
 * The fd, -EAGAIN when spare must not be used, or a negative errno. */
static int spare_open(int dir_fd, const char *spare, mode_t mode)
{
	struct stat st;
	int fd = openat(dir_fd, spare, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);

	if (fd < 0)
		return errno == ELOOP || errno == ENXIO || errno == EISDIR ? -EAGAIN : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)) {
		close(fd);
		return -EAGAIN;
	}
	return fd;
}

int fs_write_swap(int dir_fd, const char *name, const char *spare, const void *data, size_t len, mode_t mode,
		  bool durable)
{
	int fd = spare_open(dir_fd, spare, mode), r;

	if (fd == -EAGAIN)
		return fs_write_replace(dir_fd, name, data, len, mode, durable);
	if (fd < 0)
		return fd;
	/* over the old contents, then cut: a file of about the same size keeps its blocks (none freed, none
	 * allocated) */
	r = lseek(fd, 0, SEEK_SET) < 0 ? -errno : write_all(fd, data, len);
	if (r == 0 && ftruncate(fd, (off_t)len) < 0)
		r = -errno;
	if (r == 0 && durable && fdatasync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		return r; /* name is untouched; spare is rewritten whole next time */
	if (renameat2(dir_fd, spare, dir_fd, name, RENAME_EXCHANGE) < 0) {
		if (errno == ENOENT)
			r = renameat(dir_fd, spare, dir_fd, name) < 0 ? -errno : 0; /* the first write */
		else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
			r = 1; /* no exchange here */
		else
			r = -errno;
		if (r != 0) {
			(void)unlinkat(dir_fd, spare, 0);
			return r > 0 ? fs_write_replace(dir_fd, name, data, len, mode, durable) : r;
		}
	}
	if (durable)
		fsync_dir(dir_fd);
	return 0;
}

int fs_write_swap_path(const char *path, const void *data, size_t len, mode_t mode, bool durable)
{
	char base[4096], spare[4096];
	const char *name;
	int dfd = open_parent(path, base, sizeof(base), &name), r;

	if (dfd < 0)
		return dfd;
	r = str_printf(spare, sizeof(spare), ".%s.spare", name);
	if (r < 0) {
		close(dfd);
		return r;
	}
	r = fs_write_swap(dfd, name, spare, data, len, mode, durable);
	close(dfd);
	return r;
}

int fs_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	char *data = NULL;
	size_t len = 0, cap = 0;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t k;
		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *n;
			if (ncap > max + 4097)
				ncap = max + 4097;
			if (ncap <= cap) {
				r = -EFBIG;
				break;
			}
			n = realloc(data, ncap);
			if (!n) {
				r = -ENOMEM;
				break;
			}
			data = n;
			cap = ncap;
		}
		k = read(fd, data + len, cap - len - 1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > max) {
			r = -EFBIG;
			break;
		}
	}
	close(fd);
	if (r < 0) {
		free(data);
		return r;
	}
	if (!data) {
		data = malloc(1);
		if (!data)
			return -ENOMEM;
	}
	data[len] = '\0';
	*ret_data = data;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	int r;

	r = str_copy(tmp, sizeof(tmp), path);
	if (r < 0)
		return r;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

ssize_t fs_read_full(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = off < 0 ? read(fd, (char *)buf + got, n - got)
				    : pread(fd, (char *)buf + got, n - got, off + (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

int fs_read_at(int dir_fd, const char *name, size_t max, char **ret_data, size_t *ret_len)
{
	struct stat st;
	char *data = NULL;
	ssize_t k;
	int fd, r;

	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -EBADMSG;
	else if ((uint64_t)st.st_size > max)
		r = -EFBIG;
	else if (!(data = malloc((size_t)st.st_size + 1)))
		r = -ENOMEM;
	else
		r = 0;
	k = r < 0 ? r : fs_read_full(fd, data, (size_t)st.st_size, 0);
	close(fd);
	if (k < 0) {
		free(data);
		return (int)k;
	}
	data[k] = '\0';
	*ret_data = data;
	*ret_len = (size_t)k;
	return 0;
}
