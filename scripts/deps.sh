#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages Slipway needs to build, test and run, but only those missing.
# Usage: scripts/deps.sh [build|test|package|all]   (default: all)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev
	libcurl4-openssl-dev libarchive-dev libssl-dev libcmocka-dev libpq-dev help2man)
package_pkgs=(debhelper dpkg-dev fakeroot lintian git debootstrap)
test_pkgs=(python3-pytest python3-requests curl zstd nginx-light wrk procps chromium nodejs postgresql python3-psycopg2
	python3-aiosmtpd prometheus)

want=("${build_pkgs[@]}")
case "${1:-all}" in
build) ;;
test) want+=("${test_pkgs[@]}") ;;
package) want+=("${package_pkgs[@]}") ;;
all) want+=("${test_pkgs[@]}" "${package_pkgs[@]}") ;;
*) echo "usage: $0 [build|test|package|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
