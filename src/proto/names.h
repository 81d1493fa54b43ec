/* SPDX-License-Identifier: Apache-2.0 */
/* proto/names.h: the name and id patterns of PROTOCOL.md §1.5, checked in one place so that a
 * name is validated before it reaches a path, SQL or a log line. Pure predicates; no allocation,
 * no logging. NULL is never valid. */
#ifndef SLIPWAY_PROTO_NAMES_H
#define SLIPWAY_PROTO_NAMES_H

#include <stdbool.h>

bool env_name_is_valid(const char *s);	     /* envName, stageName: ^[A-Za-z0-9_-]{1,64}$ */
bool stage_name_is_reserved(const char *s);  /* token_roles, user_roles */
bool build_name_is_valid(const char *s);     /* ^[A-Za-z0-9_./-]{1,64}$, never "." or ".." */
bool branch_is_valid(const char *s);	     /* env branch: ^[A-Za-z0-9_:.,/-]{0,64}$ */
bool chatroom_is_valid(const char *s);	     /* ^[A-Za-z0-9_ #,-]{0,128}$ */
bool commit_is_valid(const char *s);	     /* ^[A-Za-z0-9_-]{1,64}$ */
bool host_name_is_valid(const char *s);	     /* hostId, hostName: ^[A-Za-z0-9._-]{1,64}$, never "." or ".." */
bool group_name_is_valid(const char *s);     /* ^[A-Za-z0-9._:-]{1,128}$, never "." or ".." */
bool id_is_valid(const char *s);	     /* ids in paths: ^[A-Za-z0-9_-]{1,30}$ */
bool principal_name_is_valid(const char *s); /* token / user names: ^[A-Za-z0-9._@-]{1,64}$ */
bool tag_key_is_valid(const char *s);	     /* host tag keys (ec2Tags): ^[A-Za-z0-9:_.-]{1,64}$ */

/* The names the server itself gives principals: the request without credentials and the token
 * made at first start. No token, user or group may take them (in any letter case), so a log line
 * or a history entry that names them is the server's own. (PRINCIPAL_NAME_*: PRINCIPAL_ANONYMOUS
 * is a kind of principal in the server's http/http.h.) */
#define PRINCIPAL_NAME_ANONYMOUS "anonymous"
#define PRINCIPAL_NAME_BOOTSTRAP "bootstrap-admin"
bool principal_name_is_reserved(const char *s);

#endif
