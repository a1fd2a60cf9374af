#!/usr/bin/env bash
# make test-image: build the qemu-x86_64 image (cached) and run the end-to-end boot test.
# Needs root (network namespace, tap device) and the image packages (scripts/setup.sh image).
# Budget on CI (2 cores, TCG): build ~1-4 min (mmdebstrap only when rootfs/packages.txt
# changed), three boots of ~2-4 min each.
set -euo pipefail
cd "$(dirname "$0")/../.."
board=${BOARD:-qemu-x86_64}
[ "$(id -u)" = 0 ] || { echo "test-image: needs root (network namespace and tap device)" >&2; exit 1; }
t0=$(date +%s)
scripts/setup.sh image
scripts/image/build.sh "$board"
test/image/boot-test.sh "$board"
echo "test-image: passed in $(($(date +%s) - t0))s"
