# Thin wrapper over CMake: the commands a user types.
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: all deps build run test test-asan bench clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@echo "mizzen: sign in as admin; the first start prints its password and keeps it in ./var/initial-admin-password"
	$(BUILD)/mizzen serve

# The whole suite: unit tests and integration tests against the real binary,
# then the same suite again in a separate ASan/UBSan build.
test:
	@scripts/install-deps --test
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DMZ_SANITIZE=ON -DMZ_TEST_LABEL=asan >/dev/null
	@cmake --build $(BUILD)-asan -j$(JOBS)
	@scripts/run-tests $(BUILD) $(BUILD)-asan

bench: build
	@scripts/install-deps --test
	@bench/run $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan
