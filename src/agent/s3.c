/* SPDX-License-Identifier: Apache-2.0 */
/* agent/s3.c: s3:// URL parsing and fetch-URL construction (AGENT.md §8.3). Pure; no I/O. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "s3.h"
#include "util.h"
#include "banned.h"

int s3_parse_url(const char *url, char bucket[S3_BUCKET_MAX + 1], const char **ret_key)
{
	const char *b, *slash;
	size_t n;

	if (!url || strncmp(url, "s3://", 5) != 0)
		return -EINVAL;
	b = url + 5;
	slash = strchr(b, '/');
	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - b);
	if (n < 1 || n > S3_BUCKET_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return -EINVAL;
	}
	if (!slash[1])
		return -EINVAL;
	memcpy(bucket, b, n);
	bucket[n] = '\0';
	*ret_key = slash + 1;
	return 0;
}

bool s3_region_is_valid(const char *region)
{
	size_t n = 0;

	if (!region)
		return false;
	for (; region[n]; n++) {
		char c = region[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return n >= 1 && n <= 32;
}

int s3_uri_encode(const char *s, bool keep_slash, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	int r;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
			r = buf_appendc(out, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			r = buf_append(out, e, 3);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int s3_build_url(const char *bucket, const char *key, const char *region, const char *endpoint, bool path_style,
		 struct buf *out)
{
	int r;

	if (!region || !*region)
		region = "us-east-1";
	if (!s3_region_is_valid(region))
		return -EINVAL;
	if (endpoint && *endpoint) {
		size_t n = strlen(endpoint);
		if (!startswith(endpoint, "http://") && !startswith(endpoint, "https://"))
			return -EINVAL;
		while (n > 0 && endpoint[n - 1] == '/')
			n--;
		r = buf_append(out, endpoint, n);
		if (r >= 0)
			r = buf_printf(out, "/%s/", bucket);
	} else if (path_style || strchr(bucket, '.')) {
		r = buf_printf(out, "https://s3.%s.amazonaws.com/%s/", region, bucket);
	} else {
		r = buf_printf(out, "https://%s.s3.%s.amazonaws.com/", bucket, region);
	}
	if (r < 0)
		return r;
	return s3_uri_encode(key, true, out);
}
