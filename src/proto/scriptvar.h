/* SPDX-License-Identifier: Apache-2.0 */
/* proto/scriptvar.h: the script variable names that are never delivered to deploy scripts, because they
 * change how shells, the dynamic loader, the C library or interpreters behave (a variable like BASH_ENV or
 * LD_PRELOAD runs code of the setter's choosing before the script's first line). The server refuses them
 * in a script_configs PUT and the agent drops them when it builds a script's environment: one list, here. */
#ifndef SLIPWAY_PROTO_SCRIPTVAR_H
#define SLIPWAY_PROTO_SCRIPTVAR_H

#include <stdbool.h>

/* The refused names, NULL-terminated. An entry ending in '*' matches every name with that prefix (the
 * prefix itself included); other entries match exactly. Matching is case-sensitive, as the environment is. */
extern const char *const scriptvar_refused[];

/* Whether name may not be a script variable. NULL is refused. */
bool scriptvar_is_refused(const char *name);

#endif
