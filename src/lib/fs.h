/* SPDX-License-Identifier: Apache-2.0 */
/* lib/fs.h: atomic file replacement and small filesystem helpers. Does not log. */
#ifndef SLIPWAY_FS_H
#define SLIPWAY_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Write data to name.tmp.XXXXXX in dir_fd (AT_FDCWD allowed), fsync, renameat over name,
 * fsync the directory. On failure the temp file is removed and name is untouched. */
int fs_write_atomic(int dir_fd, const char *name, const void *data, size_t len, mode_t mode);
/* Same with a path (directory part opened for the call). */
int fs_write_atomic_path(const char *path, const void *data, size_t len, mode_t mode);
/* fs_write_atomic(_path) when durable; otherwise the same temp file + rename without either fsync: readers
 * still see the old or the new content, never a mix, but a power loss may lose the write (for files that are
 * rebuilt anyway, like a metrics file). */
int fs_write_replace(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, bool durable);
int fs_write_replace_path(const char *path, const void *data, size_t len, mode_t mode, bool durable);
/* The first half of fs_write_replace: data in a new name.tmp.XXXXXX of dir_fd (its name to ret_tmp), fsync'd
 * when durable; the caller renames it (or removes it). On failure nothing is left behind. */
int fs_write_temp(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, bool durable, char *ret_tmp,
		  size_t tmpsz);
/* For a file rewritten often: the same guarantees as fs_write_replace (readers of name see the old or the new
 * contents whole; with durable the new contents are on disk, directory entry included, when it returns), but
 * without a new inode per write. The data is written over the spare file's contents (spare, in the same
 * directory, created at the first write), flushed when durable, and the two names are swapped with
 * renameat2(RENAME_EXCHANGE): spare then holds the previous contents, to be overwritten by the next write.
 * Creating an inode and freeing the replaced one is most of an atomic write's cost on ext4. A reader that keeps
 * name open across two writes may see the second one's bytes. Falls back to fs_write_replace where the file
 * system cannot exchange names, or when spare is not a plain file with one link. */
int fs_write_swap(int dir_fd, const char *name, const char *spare, const void *data, size_t len, mode_t mode,
		  bool durable);
/* Same with name as a path; the spare is "<dir>/.<basename>.spare". */
int fs_write_swap_path(const char *path, const void *data, size_t len, mode_t mode, bool durable);
/* Read a whole file (at most max bytes, else -EFBIG) into a NUL-terminated malloc'd buffer. */
int fs_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* Read the regular file name of dir_fd (not following a link) whole into a NUL-terminated malloc'd buffer:
 * -EFBIG over max bytes, -EBADMSG when it is not a regular file. */
int fs_read_at(int dir_fd, const char *name, size_t max, char **ret_data, size_t *ret_len);
/* Read n bytes of fd at offset off (off < 0: from its position) unless the file ends first, retrying
 * interrupted reads: the bytes read, or -errno. */
ssize_t fs_read_full(int fd, void *buf, size_t n, off_t off);
/* mkdir -p with mode for created components; existing directories are fine. */
int fs_mkdir_p(const char *path, mode_t mode);

#endif
