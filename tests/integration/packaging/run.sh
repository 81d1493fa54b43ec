#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make package-test`: checks the packages of `make package` (test_packages.py), installs, upgrades, removes and
# purges them with apt in a throwaway Debian system (test_install.py; needs root, debootstrap and Debian's archive;
# the system is cached in build/chroot), then deploys examples/hello with the binaries unpacked from them
# (tests/integration/examples/test_hello_agent.py, pointed at a build directory whose programs are the packaged
# ones). Usage: run.sh [DEB_DIR]   (default: build/package)
set -euo pipefail
cd "$(dirname "$0")/../../.."
deb_dir=$(realpath "${1:-build/package}")
pytest=${PYTEST:-/usr/bin/python3 -m pytest}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(ls -t "$deb_dir"/slipway-server_*.deb | head -1 | sed -E 's/.*slipway-server_(.*)_[^_]+\.deb$/\1/')
for p in slipway-server slipway-agent slipway; do
	dpkg-deb -x "$deb_dir/${p}_${version}_"*.deb "$work/root"
done
mkdir -p "$work/build/src/server" "$work/build/src/agent" "$work/build/src/cli"
ln -s "$work/root/usr/bin/slipway-server" "$work/build/src/server/slipway-server"
ln -s "$work/root/usr/sbin/slipway-agent" "$work/build/src/agent/slipway-agent"
ln -s "$work/root/usr/bin/slipway" "$work/build/src/cli/slipway"

SLIPWAY_DEB_DIR=$deb_dir $pytest -q -p no:cacheprovider tests/integration/packaging
SLIPWAY_BUILD_DIR=$work/build $pytest -q -p no:cacheprovider tests/integration/examples/test_hello_agent.py
