/* SPDX-License-Identifier: Apache-2.0 */
/* engine/cron.c: parse Quartz-style cron expressions and find the next fire time (UTC). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_YEAR, F_MAX };

static const struct {
	const char *name;
	int min, max;
} fields[F_MAX] = {
	{ "seconds", 0, 59 },	{ "minutes", 0, 59 }, { "hours", 0, 23 },     { "day-of-month", 1, 31 },
	{ "month", 1, 12 },	{ "day-of-week", 1, 7 }, { "year", 1970, 2225 },
};

static const char *const months[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
				      "JUL", "AUG", "SEP", "OCT", "NOV", "DEC" };
static const char *const days[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT" };

static int value_of(int f, const char *s, int *ret)
{
	if (f == F_MONTH)
		for (int i = 0; i < 12; i++)
			if (strcasecmp(s, months[i]) == 0) {
				*ret = i + 1;
				return 0;
			}
	if (f == F_DOW)
		for (int i = 0; i < 7; i++)
			if (strcasecmp(s, days[i]) == 0) {
				*ret = i + 1;
				return 0;
			}
	return parse_int(s, fields[f].min, fields[f].max, ret);
}

/* Quartz's L, W and # (not supported): '#' anywhere, or an L/W in a letter run that is not a month
 * or weekday name of this field (so JUL and WED stay valid). */
static bool uses_quartz_specials(int f, const char *text)
{
	if (strchr(text, '#'))
		return true;
	for (const char *p = text; *p;) {
		size_t n = 0;
		int v;
		char word[8];

		if (!isalpha((unsigned char)*p)) {
			p++;
			continue;
		}
		while (isalpha((unsigned char)p[n]))
			n++;
		if (n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = 0;
		} else
			word[0] = 0;
		if ((n != 3 || (f != F_MONTH && f != F_DOW) || value_of(f, word, &v) < 0) && strcspn(p, "LWlw") < n)
			return true;
		p += n;
	}
	return false;
}

static void set_bit(uint64_t *bits, int v)
{
	bits[v / 64] |= (uint64_t)1 << (v % 64);
}

static bool test_bit(const uint64_t *bits, int v)
{
	return (bits[v / 64] >> (v % 64)) & 1;
}

/* Parse one field into bits (bit index = value - offset). Returns 1 when the field is "any". */
static int parse_field(int f, char *text, uint64_t *bits, int offset, char *errbuf, size_t errsize)
{
	char *save = NULL;

	if (uses_quartz_specials(f, text)) {
		snprintf(errbuf, errsize, "%s: L, W and # are not supported", fields[f].name);
		return -EINVAL;
	}
	if (streq(text, "*") || streq(text, "?")) {
		for (int v = fields[f].min; v <= fields[f].max; v++)
			set_bit(bits, v - offset);
		return 1;
	}
	if (strchr(text, '?')) {
		snprintf(errbuf, errsize, "%s: '?' must stand alone", fields[f].name);
		return -EINVAL;
	}
	for (char *part = strtok_r(text, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(part, '/'), *dash;
		int lo, hi, step = 1;

		if (slash) {
			*slash = 0;
			if (parse_int(slash + 1, 1, fields[f].max, &step) < 0) {
				snprintf(errbuf, errsize, "%s: bad step '%s'", fields[f].name, slash + 1);
				return -EINVAL;
			}
		}
		if (streq(part, "*")) {
			lo = fields[f].min;
			hi = fields[f].max;
		} else {
			dash = strchr(part, '-');
			if (dash)
				*dash = 0;
			if (value_of(f, part, &lo) < 0 || (dash && value_of(f, dash + 1, &hi) < 0)) {
				snprintf(errbuf, errsize, "%s: bad value '%s'", fields[f].name, part);
				return -EINVAL;
			}
			if (!dash)
				hi = slash ? fields[f].max : lo;
			if (hi < lo) {
				snprintf(errbuf, errsize, "%s: range %d-%d is reversed", fields[f].name, lo, hi);
				return -EINVAL;
			}
		}
		for (int v = lo; v <= hi; v += step)
			set_bit(bits, v - offset);
	}
	return 0;
}

int cron_parse(const char *expr, struct cron *ret, char *errbuf, size_t errsize)
{
	char copy[512], *tok[8], *save = NULL;
	struct cron c = { 0 };
	int n = 0, r;

	if (!expr || str_copy(copy, sizeof(copy), expr) < 0) {
		snprintf(errbuf, errsize, "cron expression missing or too long");
		return -EINVAL;
	}
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 7) {
			n++;
			break;
		}
		tok[n++] = t;
	}
	if (n < 6 || n > 7) {
		snprintf(errbuf, errsize, "cron expression needs 6 or 7 fields");
		return -EINVAL;
	}
	for (int f = 0; f < F_MAX; f++) {
		uint64_t bits[4] = { 0 };
		char star[] = "*";
		r = parse_field(f, f < n ? tok[f] : star, bits, f == F_YEAR ? 1970 : 0, errbuf, errsize);
		if (r < 0)
			return r;
		switch (f) {
		case F_SEC:
			c.sec = bits[0];
			break;
		case F_MIN:
			c.min = bits[0];
			break;
		case F_HOUR:
			c.hour = (uint32_t)bits[0];
			break;
		case F_DOM:
			c.dom = (uint32_t)bits[0];
			c.dom_any = r == 1;
			break;
		case F_MONTH:
			c.month = (uint16_t)bits[0];
			break;
		case F_DOW:
			c.dow = (uint8_t)bits[0];
			c.dow_any = r == 1;
			break;
		case F_YEAR:
			memcpy(c.year, bits, sizeof(bits));
			break;
		}
	}
	if (!c.dom_any && !c.dow_any) {
		snprintf(errbuf, errsize, "restrict day-of-month or day-of-week, not both");
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

int cron_next(const struct cron *c, int64_t after_ms, int64_t *ret_ms)
{
	time_t t = (time_t)((after_ms + 999) / 1000);
	struct tm tm;

	for (int i = 0; i < 200000; i++) {
		if (!gmtime_r(&t, &tm))
			return -ERANGE;
		int year = tm.tm_year + 1900;
		if (year > 2225)
			return -ENOENT;
		if (year < 1970 || !test_bit(c->year, year - 1970)) {
			tm = (struct tm){ .tm_year = tm.tm_year + 1, .tm_mday = 1 };
			t = timegm(&tm);
			continue;
		}
		if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
			tm = (struct tm){ .tm_year = tm.tm_year, .tm_mon = tm.tm_mon + 1, .tm_mday = 1 };
			t = timegm(&tm);
			continue;
		}
		bool day_ok = (c->dom_any || ((c->dom >> tm.tm_mday) & 1)) && (c->dow_any || ((c->dow >> (tm.tm_wday + 1)) & 1));
		if (!day_ok) {
			tm = (struct tm){ .tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = tm.tm_mday + 1 };
			t = timegm(&tm);
			continue;
		}
		if (!((c->hour >> tm.tm_hour) & 1)) {
			t += 3600 - tm.tm_min * 60 - tm.tm_sec;
			continue;
		}
		if (!((c->min >> tm.tm_min) & 1)) {
			t += 60 - tm.tm_sec;
			continue;
		}
		if (!((c->sec >> tm.tm_sec) & 1)) {
			t += 1;
			continue;
		}
		*ret_ms = (int64_t)t * 1000;
		return 0;
	}
	return -ENOENT;
}
