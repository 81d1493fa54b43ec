#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Pack the hello example app into a build artifact (tar.gz with bin/, teletraan/ and a VERSION file at the root).
# usage: examples/hello/pack.sh [--commit C] [--bad] OUT.tar.gz
#   --commit C  the commit written to VERSION (default: $COMMIT, else the last git commit touching examples/hello,
#               suffixed -dirty when it has local changes, else a content hash)
#   --bad       add a BAD_BUILD marker: POST_RESTART of this build always fails (for failure-policy tests)
# Prints `artifact=<abs path>`, `commit=<commit>` and `sha256=<hex>` on stdout. The archive is reproducible: the same
# tree and commit give the same bytes (sorted entries, fixed owner and mtime, gzip without a timestamp).
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
commit=${COMMIT:-}
bad=0
while [ $# -gt 1 ]; do
	case $1 in
	--commit) commit=$2; shift 2 ;;
	--bad) bad=1; shift ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--commit C] [--bad] OUT.tar.gz" >&2; exit 2; }
out=$1

content_hash() {
	(cd "$here" && find bin teletraan -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
}

if [ -z "$commit" ] && command -v git >/dev/null 2>&1 && git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
	commit=$(git -C "$here" log -1 --format=%h --abbrev=12 -- . 2>/dev/null || true)
	if [ -n "$commit" ] && [ -n "$(git -C "$here" status --porcelain -- . 2>/dev/null)" ]; then
		commit="$commit-dirty-$(content_hash | cut -c1-8)"
	fi
fi
[ -n "$commit" ] || commit=$(content_hash)
case $commit in
*[!A-Za-z0-9_-]*) echo "pack.sh: commit '$commit' must match ^[A-Za-z0-9_-]{1,64}\$" >&2; exit 2 ;;
esac
[ "$bad" -eq 0 ] || commit="$commit-bad"

stage=$(mktemp -d "${TMPDIR:-/tmp}/hello-pack.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
cp -R "$here/bin" "$here/teletraan" "$stage/"
printf '%s\n' "$commit" >"$stage/VERSION"
[ "$bad" -eq 0 ] || printf 'this build fails POST_RESTART on purpose\n' >"$stage/BAD_BUILD"
chmod -R u+rwX,go+rX,go-w "$stage"

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
# Entries are listed by name (never "./"): the archive root holds bin/, teletraan/, VERSION.
(cd "$stage" && ls -A | LC_ALL=C sort | tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
	-cf - -T -) | gzip -n -9 >"$tmp"
mv -f "$tmp" "$out"
abs=$(cd "$(dirname "$out")" && pwd -P)/$(basename "$out")
echo "artifact=$abs"
echo "commit=$commit"
echo "sha256=$(sha256sum "$abs" | cut -d' ' -f1)"
