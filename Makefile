# A thin wrapper: CMake builds, ctest runs the tests. Every target first
# checks the build dependencies and installs what is missing (scripts/deps.sh).
#
# `make` builds as a packager would: warnings are warnings. `make test`,
# `make test-asan` and `make fuzz` turn SAMIZDAT_WERROR on, and the build
# directory keeps it on afterwards.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CLANG_RELEASE_BUILD ?= build-release-clang
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# Where `make install` puts the program: PREFIX, given to `make` or `make
# install`, becomes CMAKE_INSTALL_PREFIX and the build directory keeps it
# (CMake's default is /usr/local). DESTDIR, for staging, is never set here:
# whatever the user gives is passed through.
PREFIX     ?=
PREFIX_ARG  = $(if $(PREFIX),-DCMAKE_INSTALL_PREFIX=$(PREFIX))
FUZZ_SECONDS ?= 30

.PHONY: all deps build run install uninstall test-build test test-asan release-clang fuzz fuzz-run bench bench-dht bench-web demo sim attack test-tor-private clean

all: build

deps:
	@sh scripts/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(PREFIX_ARG)

build: deps $(BUILD)/CMakeCache.txt
	$(if $(PREFIX),cmake -S . -B $(BUILD) $(PREFIX_ARG))
	cmake --build $(BUILD) -j$(JOBS)

# Creates the keys on first start, then starts the node with the source
# tree's bootstrap.list (the program itself never looks in the current
# directory).
run: build
	./$(BUILD)/samizdat run --bootstrap bootstrap.list

# The program, its man page, systemd user unit, bash completion, default
# bootstrap.list and docs, below the prefix (and DESTDIR when given). The
# prefix is compiled in (where `run` finds the default bootstrap.list), so a
# new PREFIX reconfigures and rebuilds first.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

# Removes exactly the files the last `make install` wrote.
uninstall:
	DESTDIR="$(DESTDIR)" cmake -DMANIFEST=$(BUILD)/install_manifest.txt -P cmake/uninstall.cmake

test-build: $(BUILD)/CMakeCache.txt
	@SAMIZDAT_WANT_WEB_TESTS=1 sh scripts/deps.sh
	cmake -S . -B $(BUILD) -DSAMIZDAT_WERROR=ON -DSAMIZDAT_TESTS=ON
	cmake --build $(BUILD) -j$(JOBS)

test: test-build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The whole suite again with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	@SAMIZDAT_WANT_WEB_TESTS=1 sh scripts/deps.sh
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSAMIZDAT_SANITIZE=ON \
	    -DSAMIZDAT_WERROR=ON -DSAMIZDAT_TESTS=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

# A Release build with clang: -O3 and the other compiler find warnings that
# the default build does not. A build only; CI runs it.
release-clang:
	@SAMIZDAT_WANT_CLANG=1 sh scripts/deps.sh
	CC=clang cmake -S . -B $(CLANG_RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release -DSAMIZDAT_WERROR=ON
	cmake --build $(CLANG_RELEASE_BUILD) -j$(JOBS)

# libFuzzer targets (clang). fuzz-run runs each for FUZZ_SECONDS on its corpus.
fuzz:
	@SAMIZDAT_WANT_CLANG=1 sh scripts/deps.sh
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DSAMIZDAT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DSAMIZDAT_WERROR=ON
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

fuzz-run: fuzz
	sh scripts/fuzz-run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	sh scripts/bench.sh $(BUILD)

# DHT lookups on 100 processes, samizdat and hyperdht (from npm) side by side.
bench-dht: build
	sh scripts/bench-dht.sh $(BUILD)

# The web UI: a 100,000-post timeline rendered, and the event stream to 10
# headless Chromium pages (Node.js and Chromium installed first).
bench-web: test-build
	sh scripts/bench-web.sh $(BUILD)

# A small swarm on this computer: two authors post, a third node follows them.
demo: build
	sh scripts/demo.sh $(BUILD)

# The DHT and gossip simulators at full size (minutes; not part of test).
sim: build
	sh scripts/sim.sh $(BUILD)

# The attack tests at full length, defence on and off (minutes; `make test`
# runs each briefly). ATTACKS="attack_x attack_y" runs only those.
attack: test-build
	sh scripts/attack.sh $(BUILD) $(ATTACKS)

# Two nodes over a private Tor network made offline on this computer (3
# directory authorities, 5 relays, 2 client Tors; Debian's tor): one
# reachable only as an onion service, followed by the other. About a
# minute; not part of test.
test-tor-private: test-build
	cmake --build $(BUILD) --target test-tor-private

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(CLANG_RELEASE_BUILD)
