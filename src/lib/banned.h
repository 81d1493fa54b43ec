/* SPDX-License-Identifier: Apache-2.0 */
/* banned.h: functions we never call. Include it LAST in every .c file, after the system headers.
 * Each ban names its replacement in the error text. Only lib/parse.c may lift strtoll/strtoull. */
#ifndef SLIPWAY_BANNED_H
#define SLIPWAY_BANNED_H

#define BANNED(func, use) sorry_##func##_is_banned_use_##use

#undef strcpy
#define strcpy(x, y) BANNED(strcpy, str_copy)
#undef strcat
#define strcat(x, y) BANNED(strcat, buf_append)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy, str_copy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat, buf_append)
#undef sprintf
#define sprintf(...) BANNED(sprintf, str_printf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf, str_printf)
#undef strtok
#define strtok(x, y) BANNED(strtok, strtok_r)
#undef atoi
#define atoi(x) BANNED(atoi, parse_i64)
#undef atol
#define atol(x) BANNED(atol, parse_i64)
#undef strtol
#define strtol(x, y, z) BANNED(strtol, parse_i64)
#ifndef SLIPWAY_ALLOW_STRTOLL
#undef strtoll
#define strtoll(x, y, z) BANNED(strtoll, parse_i64)
#undef strtoull
#define strtoull(x, y, z) BANNED(strtoull, parse_u64)
#endif
#undef strtoul
#define strtoul(x, y, z) BANNED(strtoul, parse_u64)
#undef gets
#define gets(x) BANNED(gets, fgets)
#undef mktemp
#define mktemp(x) BANNED(mktemp, mkostemp)
#undef tmpnam
#define tmpnam(x) BANNED(tmpnam, mkostemp)
#undef gmtime
#define gmtime(x) BANNED(gmtime, gmtime_r)
#undef localtime
#define localtime(x) BANNED(localtime, localtime_r)
#undef ctime
#define ctime(x) BANNED(ctime, fmt_rfc3339)
#undef asctime
#define asctime(x) BANNED(asctime, fmt_rfc3339)
#undef system
#define system(x) BANNED(system, proc_spawn)
#undef popen
#define popen(x, y) BANNED(popen, proc_spawn)

#endif
