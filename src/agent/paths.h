/* SPDX-License-Identifier: Apache-2.0 */
/* agent/paths.h: where values the server sends may land on this host. The config's comma lists
 * (allow-lists of directories, hosts, buckets, keys) and the containment checks that resolve
 * symlinks and ".." with realpath(3) instead of trusting a string prefix. Does not log. */
#ifndef SLIPWAY_AGENT_PATHS_H
#define SLIPWAY_AGENT_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/* Called for each trimmed, non-empty item of a comma list; returning true stops the walk. */
typedef bool (*clist_fn)(const char *item, size_t n, const void *ctx);

/* Walk list (NULL = empty). Returns true when fn returned true for an item. */
bool clist_any(const char *list, clist_fn fn, const void *ctx);
/* Does list have no item at all? */
bool clist_is_empty(const char *list);
/* Is s one of the items (exact match)? */
bool clist_contains(const char *list, const char *s);
/* Is every item an absolute path? On false *ret_bad gets the first offending item (up to badsz). */
bool clist_all_absolute(const char *list, char *ret_bad, size_t badsz);

/* Is the resolved path real (from realpath(3)) inside dir after resolving dir's symlinks? Equal to
 * dir counts only when allow_equal. A dir that does not exist contains nothing. */
bool path_real_is_inside(const char *real, const char *dir, bool allow_equal);
/* Is real strictly inside one of the directories of the comma list? */
bool path_real_is_inside_any(const char *real, const char *dir_list);

/* The canonical form of a path whose last component may not exist yet: realpath of its parent
 * (which must exist) plus the last component as given. path must be absolute with a plain last
 * component (not "", "." or ".."). Returns 0, -ENOENT/-ENOTDIR when the parent is missing, -EINVAL
 * for a bad path, -ENAMETOOLONG. */
int path_resolve_parent(const char *path, char *ret, size_t retsz);

#endif
