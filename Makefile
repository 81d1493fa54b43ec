# SPDX-License-Identifier: Apache-2.0
# Short verbs over the CMake build. `make run` and `make test` install missing Debian packages first.
BUILD ?= build
CMAKE_FLAGS ?=
PYTEST ?= /usr/bin/python3 -m pytest
JOBS ?= $(shell nproc)

.PHONY: all deps build test unit integration browser run bench asan fuzz format clean

all: build

deps:
	@scripts/deps.sh all

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

integration: build
	SLIPWAY_BUILD_DIR=$(abspath $(BUILD)) $(PYTEST) -q tests/integration

browser: build
	SLIPWAY_BUILD_DIR=$(abspath $(BUILD)) scripts/browser-test.sh

test: deps
	$(MAKE) build
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) browser

run: deps
	$(MAKE) build
	scripts/run-demo.sh

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
