# SPDX-License-Identifier: Apache-2.0
# Short verbs over the CMake build. `make run` and `make test` install missing Debian packages first.
BUILD ?= build
CMAKE_FLAGS ?=
PYTEST ?= /usr/bin/python3 -m pytest
JOBS ?= $(shell nproc)

# The integration suites that start slipway-server, run a second time on PostgreSQL by `make integration-pg`
# (scripts/test-pg.sh). Not repeated there: agent (a fake ping server; test_agent_e2e is listed), artifact
# (no server), demo (`make run` is SQLite by design), examples/test_hello_scripts (no server). The HA suite
# (several servers on one database) runs only there.
PG_SUITES ?= tests/integration/server tests/integration/ping tests/integration/pipelines tests/integration/security \
	tests/integration/cli tests/integration/fleet tests/integration/fleetsim tests/integration/ha \
	tests/integration/agent/test_agent_e2e.py \
	tests/integration/examples/test_hello_agent.py

.PHONY: all deps build package package-test test unit integration integration-sqlite integration-pg browser run bench asan fuzz format clean

all: build

deps:
	@scripts/deps.sh all

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

integration: integration-sqlite integration-pg

integration-sqlite: build
	SLIPWAY_BUILD_DIR=$(abspath $(BUILD)) $(PYTEST) -q tests/integration --ignore=tests/integration/ha

# uses SLIPWAY_TEST_PG_DSN when set, else starts a throwaway cluster (scripts/pg-test.sh); with CI=true an
# unreachable PostgreSQL fails the run instead of skipping it
integration-pg: build
	SLIPWAY_BUILD_DIR=$(abspath $(BUILD)) PYTEST="$(PYTEST)" scripts/test-pg.sh $(PG_SUITES)

browser: build
	SLIPWAY_BUILD_DIR=$(abspath $(BUILD)) scripts/browser-test.sh

test: deps
	$(MAKE) build
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) browser
	$(MAKE) package-test

run: deps
	$(MAKE) build
	scripts/run-demo.sh

# Debian packages slipway-server, slipway-agent and slipway in $(BUILD)/package/src (packaging/README.md)
package:
	@scripts/deps.sh package
	JOBS=$(JOBS) packaging/build-debs.sh $(BUILD)/package

# builds the packages, lintian, unpacked-package checks, apt install/upgrade/remove/purge in a throwaway Debian
# system (cached in $(BUILD)/chroot), then a deploy with the packaged binaries (packaging/README.md: measured time)
package-test: package
	PYTEST="$(PYTEST)" tests/integration/packaging/run.sh $(BUILD)/package

bench: deps
	$(MAKE) build
	bench/run.sh

asan:
	$(MAKE) BUILD=build-asan CMAKE_FLAGS="-DSANITIZE=ON -DCMAKE_BUILD_TYPE=Debug" test

fuzz: deps
	scripts/fuzz.sh

format:
	find src tests -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan
