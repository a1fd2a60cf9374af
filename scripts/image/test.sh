#!/usr/bin/env bash
# make test-image: build the qemu-x86_64 image (cached) and run the end-to-end boot test,
# then build the USB test board qemu-x86_64-usb (same cached base, ~20 s) and boot it
# once (test/image/usb-boot-test.sh: the results line over a USB gadget, its host away
# twice mid-run).
# Needs root (network namespace, tap device) and the image packages (scripts/setup.sh image).
# Budget on CI (2 cores, TCG): build ~1-4 min (mmdebstrap only when rootfs/packages.txt
# changed), five boots of ~2-4 min each plus the USB boot (~70-80 s).
# SEALTAP_IMAGE_CASES="boot usb" (default) picks the tests: "usb" alone while working
# on the USB line.
set -euo pipefail
cd "$(dirname "$0")/../.."
board=${BOARD:-qemu-x86_64}
[ "$(id -u)" = 0 ] || { echo "test-image: needs root (network namespace and tap device)" >&2; exit 1; }
t0=$(date +%s)
scripts/setup.sh image
cases=" ${SEALTAP_IMAGE_CASES:-boot usb} "
status=0
if [[ $cases == *" boot "* ]]; then
  scripts/image/build.sh "$board"
  test/image/boot-test.sh "$board" || status=1
fi
if [[ $cases == *" usb "* ]]; then
  scripts/image/build.sh qemu-x86_64-usb
  test/image/usb-boot-test.sh || status=1
fi
[ "$status" = 0 ] || { echo "test-image: FAILED after $(($(date +%s) - t0))s" >&2; exit 1; }
echo "test-image: passed in $(($(date +%s) - t0))s"
