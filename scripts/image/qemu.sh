#!/usr/bin/env bash
# Boots a built image (scripts/image/build.sh) in QEMU the way the box is wired:
#   ttyS0 = console (operator log), ttyS1 = results line, vda = root,
#   vdb = bundle medium (signed analysis firmware, A/B slots), vdc = spool,
#   a virtio NIC on a host tap device = the capture port (feed it with tcpreplay).
# The bundle medium comes before the spool: virtio disks are named in probe order, so
# a missing disk renames the ones after it, and "no spool disk" must still leave the
# medium at /dev/vdb (board.json bundleDevice).
# Uses KVM when /dev/kvm is usable, TCG otherwise (SEALTAP_ACCEL=tcg forces TCG).
#
# Usage: scripts/image/qemu.sh [options]
#   --board NAME        image to boot (default qemu-x86_64)
#   --tap IF            host tap device for the capture NIC (created if missing; default sealtap0)
#   --netns NS          create the tap and run QEMU inside this network namespace
#   --no-nic            boot without a capture NIC (bad-case test)
#   --bundle FILE|none  bundle medium image, written by sealtap bundle medium init / flash
#                       (default build/image/BOARD/bundle.img, made on first use with
#                       test/image/firmware signed by build/keys/dev.key). Without a valid
#                       bundle on it the box refuses to start and powers off.
#   --flash FILE.sfw    boot this analysis firmware bundle (make qemu BUNDLE=FILE.sfw): it is
#                       flashed into a copy of the medium above, build/image/BOARD/bundle-flash.img
#                       (made afresh each time; the medium itself is never written), after
#                       `sealtap bundle flash` checked it against this board and the keys the
#                       image trusts (read from its rootfs). A refused bundle stops here (exit 1,
#                       or 2 for content the box would refuse), before QEMU starts.
#   --spool FILE|none   spool disk image (default build/image/BOARD/spool.img, 64 MiB, fresh each boot)
#   --console SPEC      QEMU chardev for the console: stdio (default), file:PATH, pipe:PATH
#   --results FILE      write the results line to FILE (default build/image/BOARD/results.raw)
#   --receive DIR       put the results line on a pty and run `sealtap receive PTY --follow --out DIR`
#                       (DIR new or empty)
#   --usb-line FILE     a virtio serial port named sealtap.usb written to FILE: the test board
#                       qemu-x86_64-usb copies the workstation's end of its USB results line
#                       (ttyACM0 in the same guest) there, for sealtap receive FILE afterwards
#   --append ARGS       extra kernel command line (e.g. "loglevel=7" to see the kernel boot)
# QEMU exits when the box powers off (-no-reboot turns a reboot or panic into an exit too).
set -euo pipefail
cd "$(dirname "$0")/../.."
board=qemu-x86_64 tap=sealtap0 netns= nic=1 bundle= flash= spool= console=stdio results= receive= append= usbline=
while [ $# -gt 0 ]; do
  case "$1" in
    --board) board=$2; shift 2 ;;
    --tap) tap=$2; shift 2 ;;
    --netns) netns=$2; shift 2 ;;
    --no-nic) nic=0; shift ;;
    --bundle) bundle=$2; shift 2 ;;
    --flash) flash=$2; shift 2 ;;
    --spool) spool=$2; shift 2 ;;
    --console) console=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --receive) receive=$2; shift 2 ;;
    --append) append=$2; shift 2 ;;
    --usb-line) usbline=$2; shift 2 ;;
    *) echo "qemu.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ -n "$flash" ] && [ "$bundle" = none ]; then
  echo "qemu.sh: --flash needs a bundle medium to flash into: leave out --bundle none" >&2; exit 2
fi
if [ -n "$flash" ] && [ ! -f "$flash" ]; then
  echo "qemu.sh: --flash $flash: no such file; build one with bin/sealtap bundle build DIR --key PREFIX.key --board $board --out FILE.sfw" >&2; exit 1
fi
# sealtap receive refuses a results folder that is not empty (exit 2): say so before booting.
if [ -n "$receive" ] && [ -n "$(ls -A "$receive" 2>/dev/null)" ]; then
  echo "qemu.sh: --receive $receive is not empty: give a new folder or empty it (make qemu empties out/qemu-results)" >&2; exit 2
fi
img=build/image/$board
for f in vmlinuz initramfs.cpio.gz rootfs.squashfs cmdline; do
  [ -f "$img/$f" ] || { echo "qemu.sh: $img/$f missing: run make image BOARD=$board" >&2; exit 1; }
done
spool=${spool:-$img/spool.img}
if [ -z "$bundle" ]; then
  bundle=$img/bundle.img
  if [ ! -f "$bundle" ] && [ -f build/keys/dev.key ]; then
    # make qemu on a fresh build: the image test's firmware (built-in flows and packets),
    # signed with the development key the image trusts by default.
    echo "qemu.sh: no $bundle yet: flashing test/image/firmware signed with build/keys/dev.key" >&2
    bin/sealtap bundle build test/image/firmware --key build/keys/dev.key --board "$board" --out "$img/firmware.sfw" >&2 &&
      bin/sealtap bundle medium init --device "$bundle.tmp" >&2 &&
      bin/sealtap bundle flash "$img/firmware.sfw" --device "$bundle.tmp" >&2 &&
      mv "$bundle.tmp" "$bundle" || rm -f "$bundle.tmp"
  fi
fi
# --flash: FILE.sfw into a copy of the medium (an empty one when there is none yet), as a
# researcher flashes the box's medium, checked first as the box will check it: this
# board, and the trust configuration baked into the image (its keys and trust.json, not
# the ones in build/keys, which a SEALTAP_TRUSTED_KEYS build does not trust). Prints the
# copy's path.
flash_into_copy() {
  local copy=$img/bundle-flash.img keys rc=0
  keys=$(mktemp -d)
  unsquashfs -q -n -d "$keys/root" "$img/rootfs.squashfs" etc/sealtap/trusted >/dev/null ||
    { rm -rf "$keys"; echo "qemu.sh: cannot read the trusted keys from $img/rootfs.squashfs (unsquashfs: scripts/setup.sh image)" >&2; return 1; }
  rm -f "$copy"
  if [ -f "$bundle" ]; then cp --sparse=always "$bundle" "$copy"; else bin/sealtap bundle medium init --device "$copy" >&2; fi
  bin/sealtap bundle flash "$flash" --device "$copy" --board "$board" --trusted "$keys/root/etc/sealtap/trusted" >&2 || rc=$?
  rm -rf "$keys"
  if [ "$rc" != 0 ]; then rm -f "$copy"; echo "qemu.sh: $flash refused: not booting" >&2; return "$rc"; fi
  echo "$copy"
}
if [ -n "$flash" ]; then
  rc=0
  bundle=$(flash_into_copy) || rc=$?
  [ "$rc" = 0 ] || exit "$rc"
fi
if [ "$bundle" != none ] && [ ! -f "$bundle" ]; then
  echo "qemu.sh: no bundle medium $bundle: the box will refuse to start. Make one (the dev key is build/keys/dev.key):" >&2
  echo "  bin/sealtap bundle medium init --device $bundle" >&2
  echo "  bin/sealtap bundle build test/image/firmware --key build/keys/dev.key --board $board --out build/image/$board/firmware.sfw" >&2
  echo "  bin/sealtap bundle flash build/image/$board/firmware.sfw --device $bundle" >&2
  bundle=none
fi
results=${results:-$img/results.raw}
inns() { if [ -n "$netns" ]; then ip netns exec "$netns" "$@"; else "$@"; fi; }

# /dev/kvm alone is not enough: inside some containers it exists while the CPU does not
# expose vmx/svm, and a KVM guest then hangs silently. Require both.
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qw -E 'vmx|svm' /proc/cpuinfo && [ "${SEALTAP_ACCEL:-}" != tcg ]; then
  accel=(-accel kvm -cpu host)
else
  accel=(-accel tcg -cpu "${SEALTAP_TCG_CPU:-max}")
fi

args=(-machine pc -m 1024 -smp 2 "${accel[@]}" -nodefaults -display none -no-reboot -no-user-config
  -kernel "$img/vmlinuz" -initrd "$img/initramfs.cpio.gz" -append "$(cat "$img/cmdline") $append"
  -drive "file=$img/rootfs.squashfs,format=raw,if=virtio,readonly=on"
  -device virtio-rng-pci)
if [ "$bundle" != none ]; then
  # Writable: the box raises the medium's minimum security version after a newer bundle.
  args+=(-drive "file=$bundle,format=raw,if=virtio,cache=writethrough")
fi
if [ "$spool" != none ]; then
  # A fresh, zero-filled disk: the test scans it afterwards for anything left readable.
  rm -f "$spool"
  truncate -s 64M "$spool"
  args+=(-drive "file=$spool,format=raw,if=virtio,cache=writethrough")
fi
if [ "$nic" = 1 ]; then
  if ! inns ip link show "$tap" >/dev/null 2>&1; then
    inns ip tuntap add dev "$tap" mode tap
    # The host side must not chatter (router solicitations, MLD) into the capture.
    inns sh -c "echo 1 > /proc/sys/net/ipv6/conf/$tap/disable_ipv6"
  fi
  inns ip link set "$tap" up
  args+=(-netdev "tap,id=capture,ifname=$tap,script=no,downscript=no"
    -device "virtio-net-pci,netdev=capture,mac=52:54:00:5e:a1:01")
fi
case "$console" in
  stdio) args+=(-chardev stdio,id=console,signal=on -serial chardev:console) ;;
  *) args+=(-serial "$console") ;;
esac
: >"$results"
rpid=
if [ -n "$receive" ]; then
  # Live: the results UART on a pty read by the workstation's receiver, as a
  # USB-serial adapter would be (receive keeps a raw recording, line.raw, in DIR).
  # QEMU 7 names the pty only in a line on its stdout:
  # "char device redirected to /dev/pts/N (label results)".
  args+=(-chardev pty,id=results -serial chardev:results -monitor none)
  : >"$img/qemu.stdout"
  (
    pty=
    for _ in $(seq 300); do
      pty=$(sed -n 's|.*redirected to \(/dev/pts/[0-9]*\) (label results).*|\1|p' "$img/qemu.stdout")
      [ -n "$pty" ] && break
      sleep 0.1
    done
    [ -n "$pty" ] || { echo "qemu.sh: QEMU did not report the results pty" >&2; exit 1; }
    exec bin/sealtap receive "$pty" --follow --out "$receive"
  ) &
  rpid=$!
else
  args+=(-serial "file:$results" -monitor none)
fi
if [ -n "$usbline" ]; then
  : >"$usbline"
  args+=(-device virtio-serial-pci,id=usbline -chardev "file,id=usbline0,path=$usbline"
    -device virtserialport,bus=usbline.0,chardev=usbline0,name=sealtap.usb)
fi
echo "qemu.sh: booting $img (${accel[1]}), console $console, results ${receive:+pty -> sealtap receive --out }${receive:-$results}, bundle medium $bundle, spool $spool" >&2
status=0
if [ -n "$receive" ]; then
  inns qemu-system-x86_64 "${args[@]}" > >(tee -a "$img/qemu.stdout") || status=$?
else
  inns qemu-system-x86_64 "${args[@]}" || status=$?
fi
if [ -n "$rpid" ]; then sleep 2; kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; fi
exit "$status"
