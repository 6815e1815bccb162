# Front door for people: every target is a thin wrapper over scripts/ and
# CMake, so CI and a laptop run exactly the same steps.
BUILD ?= build

.PHONY: all deps build up test unit integration bench clean

all: build

deps:
	scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$$(nproc)

up:
	scripts/up

test:
	scripts/test

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -L integration

# The benchmarks of docs/performance.md, printed as a table; QUICK=1 for a
# run under 2 minutes. Not part of `make test`: figures are never asserted.
bench: build
	bench/run --build-dir $(BUILD) $(if $(QUICK),--quick)

clean:
	rm -rf $(BUILD)
