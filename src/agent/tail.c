/* SPDX-License-Identifier: Apache-2.0 */
/* agent/tail.c: UTF-8-safe output tails read back from the env log (never from a pipe). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "tail.h"
#include "banned.h"

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return need;
}

int tail_sanitize(const char *data, size_t len, size_t max, char **ret)
{
	const unsigned char *s = (const unsigned char *)data;
	struct buf out;
	size_t i = 0, cut;
	char *res;
	int r = 0;

	if (len > max) {
		s += len - max;
		len = max;
	}
	/* leading continuation bytes belong to a character that was cut */
	while (i < len && i < 3 && (s[i] & 0xC0) == 0x80)
		i++;
	buf_init(&out, BUF_UNBOUNDED);
	while (i < len && r == 0) {
		size_t k;
		if (s[i] == 0) {
			i++;
			continue;
		}
		k = utf8_valid_len(s + i, len - i);
		if (k == 0) {
			r = buf_appends(&out, "\xEF\xBF\xBD");
			i++;
			continue;
		}
		r = buf_append(&out, s + i, k);
		i += k;
	}
	if (r < 0) {
		buf_release(&out);
		return r;
	}
	/* U+FFFD is 3 bytes for 1: drop whole characters from the front until it fits */
	cut = 0;
	while (out.len - cut > max) {
		cut++;
		while (cut < out.len && ((unsigned char)out.p[cut] & 0xC0) == 0x80)
			cut++;
	}
	if (cut) {
		memmove(out.p, out.p + cut, out.len - cut + 1);
		out.len -= cut;
	}
	res = buf_detach(&out);
	if (!res)
		return -ENOMEM;
	*ret = res;
	return 0;
}

int tail_read_file(const char *path, off_t start, size_t max, char **ret)
{
	struct stat st;
	char *data = NULL;
	size_t want;
	ssize_t k;
	off_t from;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st.st_size < start)
		start = 0; /* rotated or truncated meanwhile */
	from = st.st_size - start > (off_t)max ? st.st_size - (off_t)max : start;
	want = (size_t)(st.st_size - from);
	data = malloc(want + 1);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	k = fs_read_full(fd, data, want, from);
	r = k < 0 ? (int)k : tail_sanitize(data, (size_t)k, max, ret);
out:
	free(data);
	close(fd);
	return r;
}
