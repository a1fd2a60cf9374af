#!/usr/bin/env bash
# Boot-time baseline for docs/benchmarks.md: the image's Debian base (the cached
# mmdebstrap minbase tarball) booted exactly like the box (same kernel, stage 1,
# command line, QEMU machine and accelerator), with a /bin/sh init that prints one line
# and powers off. Compare its "QEMU start to init line" with the box's "QEMU start to
# capturing" (build/image/test/boot-time.txt after make test-image).
# Usage: scripts/image/boot-minbase.sh [BOARD]   (after scripts/image/build.sh BOARD)
set -euo pipefail
cd "$(dirname "$0")/../.."
board=${1:-qemu-x86_64}
img=build/image/$board
base=$(ls -t build/image/cache/base-*.tar 2>/dev/null | head -n1)
[ -n "$base" ] && [ -f "$img/vmlinuz" ] || { echo "boot-minbase: build the image first (make image BOARD=$board)" >&2; exit 1; }
work=$img/minbase
rm -rf "$work"; mkdir -p "$work/root"
tar -xf "$base" -C "$work/root"
# minbase has no init at all; stage 1 hands over to /sbin/init (usr-merged: /usr/sbin).
cat >"$work/root/usr/sbin/init" <<'EOF'
#!/bin/sh
/usr/bin/busybox mount -t proc proc /proc
read -r up _ </proc/uptime
echo "minbase: /bin/sh init running, kernel up ${up}s"
# Long enough for the host to see the line before QEMU exits.
/usr/bin/busybox sleep 1
/usr/bin/busybox poweroff -f
EOF
chmod 0755 "$work/root/usr/sbin/init"
mksquashfs "$work/root" "$work/rootfs.squashfs" -comp zstd -Xcompression-level 3 -noappend -all-root -no-progress -quiet >/dev/null
rm -rf "$work/root"

if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qw -E 'vmx|svm' /proc/cpuinfo && [ "${SEALTAP_ACCEL:-}" != tcg ]; then
  accel=(-accel kvm -cpu host)
else
  accel=(-accel tcg -cpu "${SEALTAP_TCG_CPU:-max}")
fi
: >"$work/console.log"
t0=$(date +%s.%N)
qemu-system-x86_64 -machine pc -m 1024 -smp 2 "${accel[@]}" -nodefaults -display none -no-reboot -no-user-config \
  -kernel "$img/vmlinuz" -initrd "$img/initramfs.cpio.gz" -append "$(cat "$img/cmdline")" \
  -drive "file=$work/rootfs.squashfs,format=raw,if=virtio,readonly=on" -device virtio-rng-pci \
  -serial "file:$work/console.log" -monitor none &
qpid=$!
elapsed() { awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }'; }
seen=
while [ -z "$seen" ] && kill -0 "$qpid" 2>/dev/null; do
  grep -q '^minbase: /bin/sh init running' "$work/console.log" && seen=$(elapsed)
  sleep 0.1
done
t_init=$seen
wait "$qpid" || true
line=$(grep '^minbase:' "$work/console.log") || { echo "boot-minbase: init never printed its line; see $work/console.log" >&2; exit 1; }
echo "minbase (${accel[1]}): QEMU start to /bin/sh init ${t_init}s, to QEMU exit $(elapsed)s; ${line#minbase: }"
