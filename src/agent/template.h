/* SPDX-License-Identifier: Apache-2.0 */
/* agent/template.h: template rendering at STAGING (AGENT.md §9.1). The pure renderer works on
 * bytes; the tree walker copies teletraan/ to teletraan_template/ once and renders every *.tmpl
 * into teletraan/, opening everything beneath the tree root without following symlinks.
 * Does not log. */
#ifndef SLIPWAY_AGENT_TEMPLATE_H
#define SLIPWAY_AGENT_TEMPLATE_H

#include <stddef.h>

#include "buf.h"

/* One script variable (the dictionary is the env's stored scriptVariables). */
struct template_var {
	const char *key;
	const char *value;
};

/* Render in[0..len) into out (appended) in one left-to-right pass; substituted values are not
 * scanned again. Forms: ${TELETRAAN_KEY}, {$TELETRAAN_KEY}, ${TELETRAAN_KEY:default},
 * {$TELETRAAN_KEY:default}, $TELETRAAN_{KEY}, $TELETRAAN_KEY (longest [A-Za-z][A-Za-z0-9_-]*),
 * $TELETRAAN_$TELETRAAN_ → "$TELETRAAN_". Unknown keys stay unchanged. Returns 0, -EMSGSIZE
 * (out's cap), -ENOMEM. */
int template_render(const char *in, size_t len, const struct template_var *vars, size_t n_vars,
		    struct buf *out);

/* Render the tree rooted at tree_dir (absolute path of <builds_dir>/<env>/<buildId>):
 * if teletraan/ exists and teletraan_template/ does not, copy it (modes kept, symlinks copied as
 * links); then render every regular *.tmpl under teletraan_template/ to teletraan/ with ".tmpl"
 * stripped from every path component, keeping the template's permission bits, written with temp
 * file + rename. A tree without teletraan/ or teletraan_template/ is fine (nothing to do).
 * Returns 0 or a negative errno with err naming the file ("template 'x': ..."); -ELOOP when a
 * symlink is met as a directory component. */
int template_render_tree(const char *tree_dir, const struct template_var *vars, size_t n_vars, char *err,
			 size_t errsz);

/* Open path (relative, '/'-separated) beneath dir_fd without following any symlink (openat2
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where available, else O_NOFOLLOW per component). flags as
 * for openat (O_CLOEXEC and O_NOFOLLOW are added). Returns the fd or a negative errno (-ELOOP for
 * a symlink on the way). */
int template_open_beneath(int dir_fd, const char *path, int flags, unsigned mode);

#endif
