/* SPDX-License-Identifier: Apache-2.0 */
/* lib/parse.c: the only file allowed to call strtoll/strtoull. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "parse.h"
#define SLIPWAY_ALLOW_STRTOLL
#include "banned.h"

int parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char *end = NULL;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || !end || *end || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || !*s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || !end || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_int(const char *s, int min, int max, int *ret)
{
	int64_t v;
	int r = parse_i64(s, min, max, &v);

	if (r < 0)
		return r;
	*ret = (int)v;
	return 0;
}

int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char tmp[32];
	size_t n;
	uint64_t mult = 1, v;
	int r;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n + 1);
	switch (tmp[n - 1]) {
	case 'K': case 'k': mult = 1024ULL; break;
	case 'M': case 'm': mult = 1024ULL * 1024; break;
	case 'G': case 'g': mult = 1024ULL * 1024 * 1024; break;
	default: break;
	}
	if (mult > 1)
		tmp[--n] = '\0';
	r = parse_u64(tmp, 0, UINT64_MAX, &v);
	if (r < 0)
		return r;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_seconds_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *ret_ms)
{
	const char *dot;
	char whole[24];
	int64_t w, frac = 0, scale = 100;
	size_t n;
	int r;

	if (!s || !*s)
		return -EINVAL;
	dot = strchr(s, '.');
	n = dot ? (size_t)(dot - s) : strlen(s);
	if (n == 0 || n >= sizeof(whole))
		return -EINVAL;
	memcpy(whole, s, n);
	whole[n] = '\0';
	r = parse_i64(whole, 0, INT64_MAX / 1000, &w);
	if (r < 0)
		return r;
	if (dot) {
		const char *p = dot + 1;
		if (!*p)
			return -EINVAL;
		for (; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	w = w * 1000 + frac;
	if (w < min_ms || w > max_ms)
		return -ERANGE;
	*ret_ms = w;
	return 0;
}

int parse_rfc3339_ms(const char *s, int64_t *ret_ms)
{
	struct tm tm = { 0 };
	const char *p;
	int64_t frac = 0, scale = 100, off_min = 0;
	time_t t;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
		   p[3] == ':' && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		off_min = ((p[1] - '0') * 10 + (p[2] - '0')) * 60 + (p[4] - '0') * 10 + (p[5] - '0');
		if (*p == '-')
			off_min = -off_min;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -ERANGE;
	*ret_ms = (int64_t)t * 1000 + frac - off_min * 60000;
	return 0;
}
