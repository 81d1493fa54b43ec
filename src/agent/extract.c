/* SPDX-License-Identifier: Apache-2.0 */
/* agent/extract.c: the archive path checker and libarchive extraction (AGENT.md §8.6).
 * Every entry is checked before archive_write_disk sees it; the writer's own SECURE_* flags are a
 * second line of defence. Runs only in the download helper process, whose cwd is <tmp>/tree.
 * Must not log and must not chdir. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "extract.h"
#include "util.h"
#include "banned.h"

int extract_normalize_path(const char *name, char *out, size_t outsz, const char **reason)
{
	const char *why = NULL, *p;
	size_t o = 0, depth = 0;
	int r = -EINVAL;

	if (!name || !*name) {
		why = "empty name";
		goto out;
	}
	if (name[0] == '/') {
		why = "absolute path";
		goto out;
	}
	if (strlen(name) > EXTRACT_PATH_MAX) {
		why = "path too long";
		goto out;
	}
	p = name;
	while (*p) {
		const char *s = p;
		size_t n;

		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		while (*p == '/')
			p++;
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			why = "'..' component";
			goto out;
		}
		if (++depth > EXTRACT_DEPTH_MAX) {
			why = "path too deep";
			goto out;
		}
		if (o + n + 2 > outsz) {
			why = "path too long";
			goto out;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
	}
	if (o == 0) {
		if (outsz)
			out[0] = '\0';
		r = -ENOENT; /* "." itself: the root, nothing to create */
		goto out;
	}
	out[o] = '\0';
	r = 0;
out:
	if (reason)
		*reason = why;
	return r;
}

int extract_check_symlink_target(const char *entry_norm, const char *target)
{
	size_t depth = 0;
	const char *p;
	bool seen_name = false;

	if (!target || !*target || target[0] == '/')
		return -EINVAL;
	/* depth of the link's own directory */
	for (p = entry_norm; *p; p++)
		if (*p == '/')
			depth++;
	p = target;
	while (*p) {
		const char *s = p;
		size_t n;

		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		while (*p == '/')
			p++;
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			/* ".." only as a leading run: after a name it would apply to wherever that name
			 * resolves (possibly another link), which a lexical check cannot follow */
			if (seen_name || depth == 0)
				return -EINVAL;
			depth--;
			continue;
		}
		seen_name = true;
	}
	return 0;
}

unsigned extract_sanitize_mode(unsigned mode, bool is_dir)
{
	mode &= 0777;
	mode &= ~0022u;
	if (is_dir)
		mode |= 0700;
	return mode;
}

static bool errno_is_local_io(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EIO || e == EROFS || e == ENOMEM || e == EMFILE || e == ENFILE;
}

static int copy_data(struct archive *in, struct archive *out, const char *name, uint64_t *total, uint64_t max,
		     char *err, size_t errsz)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int k = archive_read_data_block(in, &buf, &size, &offset);

		if (k == ARCHIVE_EOF)
			return 0;
		if (k < ARCHIVE_WARN) {
			str_printf(err, errsz, "corrupt archive at '%s': %s", name, archive_error_string(in));
			return -EBADMSG;
		}
		if (size > max || *total > max - size) {
			str_printf(err, errsz, "archive exceeds max_extracted_bytes (%llu) at '%s'",
				   (unsigned long long)max, name);
			return -EFBIG;
		}
		*total += size;
		if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN) {
			int e = archive_errno(out);
			str_printf(err, errsz, "cannot write '%s': %s", name, archive_error_string(out));
			return errno_is_local_io(e) ? -e : -EPERM;
		}
	}
}

int extract_archive_fd(int fd, const struct extract_limits *lim, uint64_t *ret_entries, uint64_t *ret_bytes,
		       char *err, size_t errsz)
{
	struct archive *in = NULL, *out = NULL;
	struct archive_entry *e;
	json_t *files = NULL; /* regular files extracted so far (hard link targets) */
	uint64_t entries = 0, bytes = 0;
	char norm[EXTRACT_PATH_MAX + 1], lnorm[EXTRACT_PATH_MAX + 1];
	char dummy[8];
	int r, k;

	if (!err || errsz == 0) {
		err = dummy;
		errsz = sizeof(dummy);
	}
	err[0] = '\0';
	umask(022);
	files = json_object();
	in = archive_read_new();
	out = archive_write_disk_new();
	if (!files || !in || !out) {
		r = -ENOMEM;
		goto out;
	}
	archive_read_support_format_tar(in);
	archive_read_support_format_zip(in);
	archive_read_support_filter_gzip(in);
	archive_read_support_filter_bzip2(in);
	archive_read_support_filter_xz(in);
	archive_read_support_filter_zstd(in);
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_TIME);
	if (archive_read_open_fd(in, fd, 128 * 1024) != ARCHIVE_OK) {
		str_printf(err, errsz, "unsupported artifact format (%s)", archive_error_string(in));
		r = -EPROTONOSUPPORT;
		goto out;
	}
	for (;;) {
		const char *name, *why = NULL, *link;
		unsigned type;

		k = archive_read_next_header(in, &e);
		if (k == ARCHIVE_EOF)
			break;
		if (k < ARCHIVE_WARN) {
			if (entries == 0 && archive_format(in) == 0) {
				str_printf(err, errsz, "unsupported artifact format");
				r = -EPROTONOSUPPORT;
			} else if (entries == 0 && archive_errno(in) == EILSEQ) {
				str_printf(err, errsz, "unsupported artifact format (%s)", archive_error_string(in));
				r = -EPROTONOSUPPORT;
			} else {
				str_printf(err, errsz, "corrupt archive: %s", archive_error_string(in));
				r = -EBADMSG;
			}
			goto out;
		}
		if (++entries > lim->max_entries) {
			str_printf(err, errsz, "archive has more than max_archive_entries (%llu) entries",
				   (unsigned long long)lim->max_entries);
			r = -EFBIG;
			goto out;
		}
		name = archive_entry_pathname(e);
		r = extract_normalize_path(name, norm, sizeof(norm), &why);
		if (r == -ENOENT && archive_entry_filetype(e) == AE_IFDIR)
			continue; /* "./": the root itself */
		if (r < 0) {
			str_printf(err, errsz, "unsafe archive entry '%.200s': %s", name ? name : "",
				   why ? why : "invalid name");
			r = -EPERM;
			goto out;
		}
		archive_entry_set_pathname(e, norm);
		type = archive_entry_filetype(e);
		link = archive_entry_hardlink(e);
		if (link) {
			r = extract_normalize_path(link, lnorm, sizeof(lnorm), &why);
			if (r < 0 || !json_object_get(files, lnorm)) {
				str_printf(err, errsz,
					   "unsafe archive entry '%.200s': hard link target '%.200s' is not an "
					   "extracted regular file",
					   norm, link);
				r = -EPERM;
				goto out;
			}
			archive_entry_set_hardlink(e, lnorm);
			type = AE_IFREG;
		} else if (type == AE_IFLNK) {
			link = archive_entry_symlink(e);
			if (extract_check_symlink_target(norm, link) < 0) {
				str_printf(err, errsz, "unsafe archive entry '%.200s': symlink target '%.200s' leaves "
						       "the build",
					   norm, link ? link : "");
				r = -EPERM;
				goto out;
			}
		} else if (type != AE_IFREG && type != AE_IFDIR) {
			str_printf(err, errsz, "unsafe archive entry '%.200s': device, fifo or socket", norm);
			r = -EPERM;
			goto out;
		}
		if (type == AE_IFREG && !link) {
			la_int64_t sz = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
			if (sz < 0 || (uint64_t)sz > lim->max_extracted_bytes ||
			    bytes > lim->max_extracted_bytes - (uint64_t)sz) {
				str_printf(err, errsz, "archive exceeds max_extracted_bytes (%llu) at '%.200s'",
					   (unsigned long long)lim->max_extracted_bytes, norm);
				r = -EFBIG;
				goto out;
			}
		}
		if (type != AE_IFLNK)
			archive_entry_set_perm(e, extract_sanitize_mode(archive_entry_perm(e), type == AE_IFDIR));
		k = archive_write_header(out, e);
		if (k < ARCHIVE_WARN) {
			int en = archive_errno(out);
			str_printf(err, errsz, "cannot extract '%.200s': %s", norm, archive_error_string(out));
			r = errno_is_local_io(en) ? -en : -EPERM;
			goto out;
		}
		if (type == AE_IFREG) {
			uint64_t before = bytes;
			r = copy_data(in, out, norm, &bytes, lim->max_extracted_bytes, err, errsz);
			if (r < 0)
				goto out;
			(void)before;
			if (json_object_set_new(files, norm, json_true()) < 0) {
				r = -ENOMEM;
				goto out;
			}
		} else {
			(void)json_object_del(files, norm);
		}
		k = archive_write_finish_entry(out);
		if (k < ARCHIVE_WARN) {
			int en = archive_errno(out);
			str_printf(err, errsz, "cannot finish '%.200s': %s", norm, archive_error_string(out));
			r = errno_is_local_io(en) ? -en : -EPERM;
			goto out;
		}
	}
	if (entries == 0 && archive_format(in) == 0) {
		str_printf(err, errsz, "unsupported artifact format");
		r = -EPROTONOSUPPORT;
		goto out;
	}
	k = archive_write_close(out);
	if (k < ARCHIVE_WARN) {
		int en = archive_errno(out);
		str_printf(err, errsz, "cannot finish extraction: %s", archive_error_string(out));
		r = errno_is_local_io(en) ? -en : -EIO;
		goto out;
	}
	if (ret_entries)
		*ret_entries = entries;
	if (ret_bytes)
		*ret_bytes = bytes;
	r = 0;
out:
	if (in)
		archive_read_free(in);
	if (out)
		archive_write_free(out);
	json_decref(files);
	return r;
}
