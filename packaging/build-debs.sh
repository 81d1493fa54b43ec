#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the Debian packages slipway-server, slipway-agent and slipway (`make package`).
# Usage: packaging/build-debs.sh [OUTDIR]   (default: build/package)
# The tracked and untracked-but-not-ignored files are copied to OUTDIR/src/slipway-VERSION, debian/changelog is
# written there from git, and dpkg-buildpackage -us -uc -b runs in that copy: the source tree is not touched and
# the .deb files land in OUTDIR. SLIPWAY_DEB_VERSION overrides the version (the upgrade test builds a higher one).
# Reproducible: SOURCE_DATE_EPOCH is the commit's time (the changelog date); the same commit builds the same bytes.
set -euo pipefail

cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build/package}")

base=$(sed -n 's/^project(slipway VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
commit=$(git rev-parse --short HEAD)
if desc=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
	# v1.2.0 -> 1.2.0; v1.2.0-5-gabc1234 -> 1.2.0+5.gabc1234 (sorts after 1.2.0)
	version=$(echo "${desc#v}" | sed -E 's/-([0-9]+)-g([0-9a-f]+)$/+\1.g\2/')
else
	# no release tag yet: the commit count keeps versions increasing along main
	version="$base+git$(git rev-list --count HEAD).g$commit"
fi
version=${SLIPWAY_DEB_VERSION:-$version}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export SLIPWAY_COMMIT=$commit

src="$out/src/slipway-$version"
rm -rf "$src"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
	[ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$src"

cat > "$src/debian/changelog" <<CHANGELOG
slipway ($version) unstable; urgency=medium

  * Built from commit $commit.

 -- Slipway maintainers <slipway@example.com>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
CHANGELOG

(cd "$src" && dpkg-buildpackage -us -uc -b -j"${JOBS:-2}")
mv "$out/src"/*_"$version"_* "$out/"
echo "packages: $(ls "$out"/*_"$version"_*.deb | tr '\n' ' ')"
