/* SPDX-License-Identifier: Apache-2.0 */
/* lib/jsonutil.c */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonutil.h"
#include "banned.h"

int json_depth(const json_t *j)
{
	int best = 0;
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v) {
			int d = json_depth(v);
			if (d > best)
				best = d;
		}
		return best + 1;
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, v) {
			int d = json_depth(v);
			if (d > best)
				best = d;
		}
		return best + 1;
	}
	return 1;
}

int json_parse_bounded(const char *data, size_t len, json_t **ret, char *errbuf, size_t errsize)
{
	json_error_t jerr;
	json_t *j;

	j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!j) {
		if (errbuf && errsize)
			snprintf(errbuf, errsize, "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
				 jerr.column);
		return -EBADMSG;
	}
	if (json_depth(j) > JSON_MAX_DEPTH) {
		json_decref(j);
		if (errbuf && errsize)
			snprintf(errbuf, errsize, "JSON nesting deeper than %d", JSON_MAX_DEPTH);
		return -EBADMSG;
	}
	*ret = j;
	return 0;
}

char *json_dump_compact(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

int json_get_string(const json_t *obj, const char *key, size_t max, const char **ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return -ENOENT;
	if (!json_is_string(v))
		return -EINVAL;
	if (json_string_length(v) > max)
		return -E2BIG;
	if (strlen(json_string_value(v)) != json_string_length(v))
		return -EINVAL; /* embedded NUL */
	*ret = json_string_value(v);
	return 0;
}

int json_get_int(const json_t *obj, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	if (!v || json_is_null(v))
		return -ENOENT;
	if (!json_is_integer(v))
		return -EINVAL;
	n = json_integer_value(v);
	if (n < min || n > max)
		return -ERANGE;
	*ret = n;
	return 0;
}

int json_get_bool(const json_t *obj, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return -ENOENT;
	if (!json_is_boolean(v))
		return -EINVAL;
	*ret = json_is_true(v);
	return 0;
}

int json_append_value(struct buf *b, const json_t *v)
{
	char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	int r;

	if (!txt)
		return -ENOMEM;
	r = buf_appends(b, txt);
	free(txt);
	return r;
}

int json_append_stringn(struct buf *b, const char *s, size_t len)
{
	json_t *v;
	int r;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* what jansson escapes or validates: control characters, '"', '\\', non-ASCII */
		if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) {
			v = json_stringn(s, len);
			if (!v)
				return -EILSEQ;
			r = json_append_value(b, v);
			json_decref(v);
			return r;
		}
	}
	r = buf_appendc(b, '"');
	if (r >= 0)
		r = buf_append(b, s, len);
	if (r >= 0)
		r = buf_appendc(b, '"');
	return r;
}

int json_append_int(struct buf *b, json_int_t v)
{
	char tmp[32];
	char *p = tmp + sizeof(tmp);
	/* magnitude as unsigned: also right for the most negative value */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}
