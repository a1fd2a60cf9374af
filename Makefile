# sealtap — see README.md. Every target installs what it needs first.
SHELL := /bin/bash
BOARD ?= qemu-x86_64
SRC := $(shell find firmware test examples tools bench -name '*.ts' 2>/dev/null)

.PHONY: all deps build run test test-unit test-component bench bench-capture bench-anon bench-channel image qemu test-image clean

all: build

deps:
	@scripts/setup.sh base

build: deps dist/.built build/sealtap-seccomp build/sealtap-capture.node

dist/.built: $(SRC) tsconfig.json package-lock.json
	@npx tsc -p .
	@touch $@

# The analysis jail's seccomp filter writer (firmware/analysis/jail/); built from source
# against libseccomp-dev, which scripts/setup.sh base installs.
build/sealtap-seccomp: native/seccomp/sealtap-seccomp.c
	@mkdir -p build
	@cc -O2 -Wall -o $@ $< -lseccomp

# The capture thread's libpcap batch addon (firmware/capture/batch-binding.ts), built
# from source against libpcap-dev, libssl-dev (the spool's AES-256-GCM) and the
# Node-API headers of the installed node.
build/sealtap-capture.node: native/capture/sealtap-capture.c
	@mkdir -p build
	@cc -O2 -Wall -Wextra -shared -fPIC -I$$(dirname $$(dirname $$(readlink -f $$(command -v node))))/include/node -o $@ $< -lpcap -lcrypto -lm

run: build
	@scripts/run-sample.sh

test: build
	@scripts/setup.sh test
	@scripts/test.sh

bench: bench-capture bench-anon bench-channel

bench-capture bench-anon bench-channel: build
	@scripts/setup.sh bench
	@scripts/$@.sh

image: build
	@scripts/setup.sh image
	@scripts/image/build.sh $(BOARD)

# BUNDLE=FILE.sfw boots that analysis firmware instead of the default test bundle: it is
# flashed into a copy of the bundle medium (qemu.sh --flash), never into the medium itself.
qemu: image
	@rm -rf out/qemu-results
	@scripts/image/qemu.sh --board $(BOARD) --receive out/qemu-results $(if $(BUNDLE),--flash '$(BUNDLE)')

test-image: build
	@BOARD=$(BOARD) scripts/image/test.sh

clean:
	rm -rf dist out build
