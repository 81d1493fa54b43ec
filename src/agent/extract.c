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

/* The next component of the path at *p other than "" and "." (its length in *ret_n), *p moved past it; NULL at
 * the end. */
static const char *next_component(const char **p, size_t *ret_n)
{
	while (**p) {
		const char *s = *p;
		size_t n;

		while (**p && **p != '/')
			(*p)++;
		n = (size_t)(*p - s);
		while (**p == '/')
			(*p)++;
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		*ret_n = n;
		return s;
	}
	return NULL;
}

int extract_normalize_path(const char *name, char *out, size_t outsz, const char **reason)
{
	const char *why = NULL, *p, *s;
	size_t o = 0, depth = 0, n;
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
	while ((s = next_component(&p, &n))) {
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
	size_t depth = 0, n;
	const char *p, *s;
	bool seen_name = false;

	if (!target || !*target || target[0] == '/')
		return -EINVAL;
	/* depth of the link's own directory */
	for (p = entry_norm; *p; p++)
		if (*p == '/')
			depth++;
	p = target;
	while ((s = next_component(&p, &n))) {
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

/* One extraction in progress. */
struct xstate {
	struct archive *in, *out;
	json_t *files; /* regular files extracted so far (hard link targets) */
	const struct extract_limits *lim;
	uint64_t entries, bytes;
	char *err;
	size_t errsz;
};

/* archive_read_next_header() failed: an unknown format before the first entry, else corruption. */
static int header_error(struct xstate *x)
{
	if (x->entries == 0 && archive_format(x->in) == 0) {
		str_printf(x->err, x->errsz, "unsupported artifact format");
		return -EPROTONOSUPPORT;
	}
	if (x->entries == 0 && archive_errno(x->in) == EILSEQ) {
		str_printf(x->err, x->errsz, "unsupported artifact format (%s)", archive_error_string(x->in));
		return -EPROTONOSUPPORT;
	}
	str_printf(x->err, x->errsz, "corrupt archive: %s", archive_error_string(x->in));
	return -EBADMSG;
}

/* An error of the writing side: local I/O keeps its errno (transient), anything else is refused. */
static int write_error(struct xstate *x, const char *what, const char *norm, int other)
{
	int en = archive_errno(x->out);

	if (norm)
		str_printf(x->err, x->errsz, "cannot %s '%.200s': %s", what, norm, archive_error_string(x->out));
	else
		str_printf(x->err, x->errsz, "cannot %s: %s", what, archive_error_string(x->out));
	return errno_is_local_io(en) ? -en : other;
}

/* A hard link may only point to a regular file extracted before; a symlink may not leave the tree;
 * devices, fifos and sockets are refused. *type becomes AE_IFREG for a hard link. */
static int check_links(struct xstate *x, struct archive_entry *e, const char *norm, unsigned *type,
		       const char **ret_link)
{
	char lnorm[EXTRACT_PATH_MAX + 1];
	const char *link = archive_entry_hardlink(e), *why = NULL;

	*ret_link = link;
	if (link) {
		if (extract_normalize_path(link, lnorm, sizeof(lnorm), &why) < 0 || !json_object_get(x->files, lnorm)) {
			str_printf(x->err, x->errsz,
				   "unsafe archive entry '%.200s': hard link target '%.200s' is not an extracted regular file",
				   norm, link);
			return -EPERM;
		}
		archive_entry_set_hardlink(e, lnorm);
		*type = AE_IFREG;
	} else if (*type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);
		if (extract_check_symlink_target(norm, target) < 0) {
			str_printf(x->err, x->errsz, "unsafe archive entry '%.200s': symlink target '%.200s' leaves the build",
				   norm, target ? target : "");
			return -EPERM;
		}
	} else if (*type != AE_IFREG && *type != AE_IFDIR) {
		str_printf(x->err, x->errsz, "unsafe archive entry '%.200s': device, fifo or socket", norm);
		return -EPERM;
	}
	return 0;
}

/* Every check of §8.6 on one entry: count, name, links, type, size. Returns 0, 1 for the root itself
 * ("./", skipped) or a negative errno with x->err set. norm receives the normalised name. */
static int check_entry(struct xstate *x, struct archive_entry *e, char *norm, size_t normsz, unsigned *ret_type,
		       const char **ret_link)
{
	const char *name = archive_entry_pathname(e), *why = NULL;
	int r;

	if (++x->entries > x->lim->max_entries) {
		str_printf(x->err, x->errsz, "archive has more than max_archive_entries (%llu) entries",
			   (unsigned long long)x->lim->max_entries);
		return -EFBIG;
	}
	r = extract_normalize_path(name, norm, normsz, &why);
	if (r == -ENOENT && archive_entry_filetype(e) == AE_IFDIR)
		return 1;
	if (r < 0) {
		str_printf(x->err, x->errsz, "unsafe archive entry '%.200s': %s", name ? name : "",
			   why ? why : "invalid name");
		return -EPERM;
	}
	archive_entry_set_pathname(e, norm);
	*ret_type = archive_entry_filetype(e);
	r = check_links(x, e, norm, ret_type, ret_link);
	if (r < 0)
		return r;
	if (*ret_type == AE_IFREG && !*ret_link) {
		la_int64_t sz = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
		if (sz < 0 || (uint64_t)sz > x->lim->max_extracted_bytes ||
		    x->bytes > x->lim->max_extracted_bytes - (uint64_t)sz) {
			str_printf(x->err, x->errsz, "archive exceeds max_extracted_bytes (%llu) at '%.200s'",
				   (unsigned long long)x->lim->max_extracted_bytes, norm);
			return -EFBIG;
		}
	}
	return 0;
}

/* Write one checked entry (sanitised mode) and, for a regular file, its data. */
static int write_entry(struct xstate *x, struct archive_entry *e, const char *norm, unsigned type)
{
	int r;

	if (type != AE_IFLNK)
		archive_entry_set_perm(e, extract_sanitize_mode(archive_entry_perm(e), type == AE_IFDIR));
	if (archive_write_header(x->out, e) < ARCHIVE_WARN)
		return write_error(x, "extract", norm, -EPERM);
	if (type == AE_IFREG) {
		r = copy_data(x->in, x->out, norm, &x->bytes, x->lim->max_extracted_bytes, x->err, x->errsz);
		if (r < 0)
			return r;
		if (json_object_set_new(x->files, norm, json_true()) < 0)
			return -ENOMEM;
	} else {
		(void)json_object_del(x->files, norm);
	}
	if (archive_write_finish_entry(x->out) < ARCHIVE_WARN)
		return write_error(x, "finish", norm, -EPERM);
	return 0;
}

static int extract_entries(struct xstate *x)
{
	char norm[EXTRACT_PATH_MAX + 1];
	struct archive_entry *e;
	const char *link;
	unsigned type;
	int k, r;

	for (;;) {
		k = archive_read_next_header(x->in, &e);
		if (k == ARCHIVE_EOF)
			break;
		if (k < ARCHIVE_WARN)
			return header_error(x);
		r = check_entry(x, e, norm, sizeof(norm), &type, &link);
		if (r == 1)
			continue;
		if (r < 0 || (r = write_entry(x, e, norm, type)) < 0)
			return r;
	}
	if (x->entries == 0 && archive_format(x->in) == 0) {
		str_printf(x->err, x->errsz, "unsupported artifact format");
		return -EPROTONOSUPPORT;
	}
	if (archive_write_close(x->out) < ARCHIVE_WARN)
		return write_error(x, "finish extraction", NULL, -EIO);
	return 0;
}

int extract_archive_fd(int fd, const struct extract_limits *lim, uint64_t *ret_entries, uint64_t *ret_bytes,
		       char *err, size_t errsz)
{
	struct xstate x = { .lim = lim, .err = err, .errsz = errsz };
	char dummy[8];
	int r;

	if (!x.err || x.errsz == 0) {
		x.err = dummy;
		x.errsz = sizeof(dummy);
	}
	x.err[0] = '\0';
	umask(022);
	x.files = json_object();
	x.in = archive_read_new();
	x.out = archive_write_disk_new();
	if (!x.files || !x.in || !x.out) {
		r = -ENOMEM;
		goto out;
	}
	archive_read_support_format_tar(x.in);
	archive_read_support_format_zip(x.in);
	archive_read_support_filter_gzip(x.in);
	archive_read_support_filter_bzip2(x.in);
	archive_read_support_filter_xz(x.in);
	archive_read_support_filter_zstd(x.in);
	archive_write_disk_set_options(x.out, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						      ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_TIME);
	if (archive_read_open_fd(x.in, fd, 128 * 1024) != ARCHIVE_OK) {
		str_printf(x.err, x.errsz, "unsupported artifact format (%s)", archive_error_string(x.in));
		r = -EPROTONOSUPPORT;
		goto out;
	}
	r = extract_entries(&x);
	if (r == 0) {
		if (ret_entries)
			*ret_entries = x.entries;
		if (ret_bytes)
			*ret_bytes = x.bytes;
	}
out:
	if (x.in)
		archive_read_free(x.in);
	if (x.out)
		archive_write_free(x.out);
	json_decref(x.files);
	return r;
}
