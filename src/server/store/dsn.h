/* SPDX-License-Identifier: Apache-2.0 */
/* store/dsn.h: a database connection string as it may be shown in a log or an error message: never its password.
 * Every place that prints a DSN prints dsn_redact()'s result. */
#ifndef SLIPWAY_STORE_DSN_H
#define SLIPWAY_STORE_DSN_H

#include <stddef.h>

/* A buffer that holds any DSN dsn_redact() prints in full (longer ones are cut, never past a secret). */
#define DSN_REDACTED_MAX 512

/* Write dsn without secrets into buf (size bytes) and return buf. sqlite:PATH is shown as it is. A PostgreSQL
 * connection string, URL (postgresql://user:secret@host/db?password=...) or key=value (password=secret ...), is
 * parsed by libpq and shown as key=value pairs whose secret values (password, sslpassword: the options libpq marks as
 * hidden) read "***". Anything that does not parse is not shown. */
const char *dsn_redact(const char *dsn, char *buf, size_t size);

#endif
