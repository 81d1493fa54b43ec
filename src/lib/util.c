/* SPDX-License-Identifier: Apache-2.0 */
/* lib/util.c: time, ids, string helpers. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "hash.h"
#include "util.h"
#include "banned.h"

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *fmt_rfc3339(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (size)
			out[0] = '\0';
	}
	return out;
}

int str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		if (size)
			dst[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int str_printf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		if (size)
			dst[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int random_bytes(void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = getrandom((char *)p + done, n - done, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		done += (size_t)k;
	}
	return 0;
}

uint64_t random_u64(uint64_t n)
{
	uint64_t v = 0;

	if (n <= 1)
		return 0;
	(void)random_bytes(&v, sizeof(v));
	return v % n;
}

int id_generate(char out[ID_LEN + 1])
{
	unsigned char b[16];
	char tmp[32];
	int r;

	r = random_bytes(b, sizeof(b));
	if (r < 0)
		return r;
	b[6] = (b[6] & 0x0f) | 0x40; /* UUID v4 */
	b[8] = (b[8] & 0x3f) | 0x80;
	r = base64url_encode(b, sizeof(b), tmp, sizeof(tmp));
	if (r < 0)
		return r;
	if (tmp[0] == '_')
		tmp[0] = 'x';
	else if (tmp[0] == '-')
		tmp[0] = 'X';
	memcpy(out, tmp, ID_LEN);
	out[ID_LEN] = '\0';
	return 0;
}

int token_generate(char out[TOKEN_LEN + 1])
{
	unsigned char b[32];
	int r;

	r = random_bytes(b, sizeof(b));
	if (r < 0)
		return r;
	return base64url_encode(b, sizeof(b), out, TOKEN_LEN + 1);
}

bool str_charset_ok(const char *s, const char *extra, size_t min, size_t max)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (n >= max)
			return false;
		if (isascii(c) && isalnum(c))
			continue;
		if (!extra || !strchr(extra, c))
			return false;
	}
	return n >= min;
}

int str_csv_entry(const char *list, int k, char *ret, size_t size)
{
	const char *p = list, *e;
	size_t len;

	if (!list || k < 1)
		return -EINVAL;
	for (int i = 1; i < k; i++) {
		p = strchr(p, ',');
		if (!p)
			return -EINVAL;
		p++;
	}
	while (*p == ' ')
		p++;
	e = strchr(p, ',');
	len = e ? (size_t)(e - p) : strlen(p);
	while (len > 0 && p[len - 1] == ' ')
		len--;
	if (len == 0 || len >= size)
		return -EINVAL;
	memcpy(ret, p, len);
	ret[len] = 0;
	return 0;
}
