/* SPDX-License-Identifier: Apache-2.0 */
/* agent/extract.h: safe archive extraction (AGENT.md §8.6): the archive path checker and the
 * libarchive extraction driven by it. Runs in the download helper process only. Does not log. */
#ifndef SLIPWAY_AGENT_EXTRACT_H
#define SLIPWAY_AGENT_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXTRACT_PATH_MAX 4096
#define EXTRACT_DEPTH_MAX 64

struct extract_limits {
	uint64_t max_entries;         /* max_archive_entries */
	uint64_t max_extracted_bytes; /* sum of regular file sizes */
};

/* Normalise an entry name: strip leading "./" (repeated), collapse "//" and inner "/./",
 * drop one trailing '/'. Rejects (-EINVAL) empty names, absolute names, ".." components, names
 * longer than EXTRACT_PATH_MAX, deeper than EXTRACT_DEPTH_MAX components. A name that is only
 * "." or "./" normalises to "" and gives -ENOENT (the root itself: skipped, not an error).
 * Writes the result to out[outsz]. reason (may be NULL) gets a static rule name. */
int extract_normalize_path(const char *name, char *out, size_t outsz, const char **reason);

/* Symlink rule: target must be relative and, resolved lexically against the directory of the
 * normalised entry path, stay inside the root (the root itself is fine). 0 or -EINVAL. */
int extract_check_symlink_target(const char *entry_norm, const char *target);

/* Mode an entry gets: directories |0700, permission bits only (no setuid/setgid/sticky), and
 * group/other write removed. is_dir selects the directory rule. */
unsigned extract_sanitize_mode(unsigned mode, bool is_dir);

/* Extract the archive at fd (read from its current position) into the process's current
 * working directory, which must be the fresh tree directory (libarchive's SECURE_* flags work on
 * relative paths; only the helper process calls this). Returns:
 *   0           success (*ret_entries / *ret_bytes set when non-NULL)
 *   -EPROTONOSUPPORT  unsupported artifact format
 *   -EPERM      unsafe entry (err names the entry and the rule)
 *   -EFBIG      a limit was exceeded (err says which)
 *   -EBADMSG    corrupt or truncated archive
 *   -EIO, -ENOSPC, ...  local I/O error while writing (transient)
 * err receives one line. Sets umask 022 for the process. */
int extract_archive_fd(int fd, const struct extract_limits *lim, uint64_t *ret_entries, uint64_t *ret_bytes,
		       char *err, size_t errsz);

#endif
