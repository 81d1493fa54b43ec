/* SPDX-License-Identifier: Apache-2.0 */
/* store/store_text.c: the wrappers of the store ops that answer JSON text instead of a DOM (large replies);
 * kept beside store.c, whose other wrappers they mirror. */
#include "store.h"
#include "banned.h"

int store_agent_list_env_text(struct store *s, const char *env_id, struct buf *out)
{
	return s->ops->agent_list_env_text(s, env_id, out);
}
