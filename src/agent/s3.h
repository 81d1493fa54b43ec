/* SPDX-License-Identifier: Apache-2.0 */
/* agent/s3.h: s3:// artifact URLs (AGENT.md §8.3): parsing and the https URL they are fetched
 * from (virtual-host or path-style, custom endpoint). Pure string work; does not log. */
#ifndef SLIPWAY_AGENT_S3_H
#define SLIPWAY_AGENT_S3_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define S3_BUCKET_MAX 255

/* Split "s3://BUCKET/KEY". Bucket must match ^[A-Za-z0-9._-]{1,255}$, KEY must be non-empty.
 * *ret_key points into url (raw, not yet encoded). Returns 0 or -EINVAL. */
int s3_parse_url(const char *url, char bucket[S3_BUCKET_MAX + 1], const char **ret_key);

/* Region must be [a-z0-9-]{1,32}. */
bool s3_region_is_valid(const char *region);

/* Append the fetch URL for bucket/key to out:
 *   endpoint set            → <endpoint without trailing '/'>/BUCKET/KEY
 *   path_style or '.' in bucket → https://s3.<region>.amazonaws.com/BUCKET/KEY
 *   otherwise               → https://BUCKET.s3.<region>.amazonaws.com/KEY
 * Each '/'-separated key segment is percent-encoded (RFC 3986 unreserved bytes kept).
 * Returns 0, -EINVAL (bad region/endpoint), -EMSGSIZE, -ENOMEM. */
int s3_build_url(const char *bucket, const char *key, const char *region, const char *endpoint, bool path_style,
		 struct buf *out);

/* Percent-encode s (segment-wise when keep_slash) and append to out. */
int s3_uri_encode(const char *s, bool keep_slash, struct buf *out);

#endif
