#!/usr/bin/env bash
# Builds the appliance image of one board into build/image/<board>/:
#   vmlinuz            Debian's kernel (linux-image-amd64, from /boot)
#   initramfs.cpio.gz  stage 1: busybox + the modules needed to mount the root
#   rootfs.squashfs    read-only root: Debian minbase + rootfs/overlay + node + sealtap
#   cmdline            the board's kernel command line
#   manifest.txt       package versions, node version, modules, trusted keys, sizes
# The image trusts the bundle signing keys in SEALTAP_TRUSTED_KEYS=DIR (*.pub), baked into
# /etc/sealtap/trusted/; without it, a development key pair build/keys/dev.{pub,key}
# (made on first use) and a loud warning in the output and in manifest.txt.
# Layers are merged in the Nerves order: Debian packages, rootfs/overlay, the board's
# overlay (board/<name>/overlay, applied last so a board can override anything).
#
# Caching: the mmdebstrap tarball is keyed by rootfs/packages.txt and the suite; the
# image is rebuilt only when one of its inputs (packages, overlays, board, dist/,
# node_modules, node, kernel, this script) changed.
# Usage: scripts/image/build.sh [BOARD]   (default qemu-x86_64)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
board=${1:-${BOARD:-qemu-x86_64}}
suite=${SEALTAP_SUITE:-bookworm}
mirror=${SEALTAP_MIRROR:-http://deb.debian.org/debian}
out=$root/build/image/$board
cache=$root/build/image/cache
bdir=$root/board/$board
t0=$(date +%s)

say() { printf 'image: [%3ss] %s\n' "$(($(date +%s) - t0))" "$*"; }
fail() { echo "image: $*" >&2; exit 1; }

[ -f "$bdir/board.json" ] || fail "no board/$board/board.json; boards: $(ls board | tr '\n' ' ')"
json() { node -e 'const b=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const v=process.argv[2].split(".").reduce((o,k)=>o==null?o:o[k],b);if(v!=null)console.log(Array.isArray(v)?v.join("\n"):v)' "$bdir/board.json" "$1"; }
arch=$(json arch)
[ "$arch" = amd64 ] || fail "board $board is $arch; this build script only builds amd64 images (see board/$board/README.md)"
[ -f dist/firmware/cli/main.js ] || fail "dist/ is not built: run make build first"
[ -x build/sealtap-seccomp ] || fail "build/sealtap-seccomp (the analysis jail's seccomp filter) is not built: run make build first"
[ -f build/sealtap-capture.node ] || fail "build/sealtap-capture.node (the capture thread's libpcap addon) is not built: run make build first"
for tool in mmdebstrap mksquashfs cpio; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/setup.sh image"
done

# --- kernel: the newest /boot/vmlinuz-* that has its modules installed --------------
kver=
for v in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's|/boot/vmlinuz-||' | sort -V); do
  [ -f "/lib/modules/$v/modules.dep" ] && kver=$v
done
[ -n "$kver" ] || fail "no Debian kernel with modules in /boot: apt-get install $(json kernel.package) (scripts/setup.sh image)"
moddir=/lib/modules/$kver

# --- base root filesystem from Debian packages (cached) ------------------------------
mkdir -p "$cache" "$out"
packages=$(grep -v '^#' rootfs/packages.txt | grep -v '^ *$' | tr '\n' ',' | sed 's/,$//')
base_key=$( (echo "$suite $mirror minbase v1"; echo "$packages") | sha256sum | cut -c1-16)
base=$cache/base-$suite-$base_key.tar
if [ ! -f "$base" ]; then
  say "mmdebstrap $suite minbase + $packages (about a minute)"
  # Docs, man pages and locales are never read on the box: keep them out of the image.
  mmdebstrap --variant=minbase --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --format=tar "$suite" "$base.tmp" "$mirror" >"$cache/mmdebstrap.log" 2>&1 ||
    fail "mmdebstrap failed; see $cache/mmdebstrap.log (network to $mirror? package names in rootfs/packages.txt?)"
  mv "$base.tmp" "$base"
else
  say "base rootfs cached: $(basename "$base")"
fi

# --- what goes into /opt/sealtap --------------------------------------------------------
node_bin=$(readlink -f "$(command -v node)")
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
want_major=$(node -p 'require("./package.json").engines.node.match(/\d+/)[0]')
[ "$node_major" = "$want_major" ] || fail "build machine's node is v$node_major, package.json wants v$want_major: the addons in node_modules were built for the build machine's node"
# Production dependencies only (npm ls --omit=dev), as paths relative to the repo.
mapfile -t prod_modules < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed "s|^$root/||" | grep '^node_modules/' | sort -u)
[ ${#prod_modules[@]} -gt 0 ] || fail "npm ls found no production modules: run scripts/setup.sh"

# --- trusted bundle keys: the public keys a bundle must be signed with -----------------
# SEALTAP_TRUSTED_KEYS=DIR bakes DIR/*.pub (the approvers' keys), and DIR/trust.json when
# there is one (the roles that must all approve, docs/bundles.md), into
# /etc/sealtap/trusted/. Without it the image trusts a development key pair made here
# on first use (build/keys/dev.{pub,key}): fine for QEMU and tests, never for a box in
# the field, since anyone holding this build tree can sign for it.
dev_pub=$root/build/keys/dev.pub
keys_dir=${SEALTAP_TRUSTED_KEYS:-}
if [ -z "$keys_dir" ]; then
  keys_dir=$root/build/keys
  if [ ! -f "$dev_pub" ]; then
    mkdir -p "$keys_dir"
    chmod 0700 "$keys_dir"
    bin/sealtap bundle keygen --out "$keys_dir/dev" >/dev/null || fail "sealtap bundle keygen --out $keys_dir/dev failed"
  fi
fi
mapfile -t trusted < <(find "$keys_dir" -maxdepth 1 -name '*.pub' -type f 2>/dev/null | sort)
[ ${#trusted[@]} -gt 0 ] || fail "no public keys (*.pub) in SEALTAP_TRUSTED_KEYS=$keys_dir: the box would refuse every bundle; make one with sealtap bundle keygen"
key_ids=()
dev_keys=0   # 1 when one of them is the development key, whichever directory it came from
for k in "${trusted[@]}"; do
  # PREFIX.pub is "SEALPK1\n" + a 32-byte Ed25519 key; its key id is the first 8 bytes
  # of BLAKE2b-256 of the key (docs/bundles.md).
  id=$(python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); assert len(d)==40 and d[:8]==b"SEALPK1\n"; print(hashlib.blake2b(d[8:],digest_size=32).hexdigest()[:16])' "$k" 2>/dev/null) ||
    fail "$k is not a sealtap public key (40 bytes starting SEALPK1): make key pairs with sealtap bundle keygen"
  if [ -f "$dev_pub" ] && cmp -s "$k" "$dev_pub"; then
    dev_keys=1
    dev_id=$id
    key_ids+=("$(basename "$k") $id DEVELOPMENT KEY (build/keys/dev.key signs for this image): not for a box in the field")
  else
    key_ids+=("$(basename "$k") $id")
  fi
done
trust_json=()
if [ -f "$keys_dir/trust.json" ]; then
  trust_json=("$keys_dir/trust.json")
  trust_err=$(bin/sealtap bundle trust "$keys_dir" 2>&1 >/dev/null) || fail "$trust_err"
fi
dev_warning() {
  say "WARNING: THIS IMAGE TRUSTS THE DEVELOPMENT KEY $dev_pub ($dev_id)."
  say "WARNING: any bundle signed with ${dev_pub%.pub}.key runs on it. For a real box build with"
  say "WARNING: SEALTAP_TRUSTED_KEYS=DIR holding only the researchers' public keys (*.pub)."
}

# --- input hash: skip the rest when nothing changed -------------------------------------
# A test board may bring more of dist/ (board/<name>/dist-extra.txt: the channel
# benchmark for qemu-x86_64-usb); a production board never has the file.
dist_extra=()
[ -f "$bdir/dist-extra.txt" ] && mapfile -t dist_extra < <(grep -v '^#' "$bdir/dist-extra.txt" | grep -v '^ *$' | sed 's|^|dist/|')
for p in "${dist_extra[@]}"; do [ -e "$p" ] || fail "$p (board/$board/dist-extra.txt) is not built: run make build"; done
inputs_key=$( {
  echo "$base_key $kver $(sha256sum "$node_bin") dev-keys=$dev_keys"
  sha256sum "$0" rootfs/initramfs/init "${trusted[@]}" "${trust_json[@]}"
  find rootfs/overlay "$bdir" dist/firmware "${dist_extra[@]}" bin/sealtap build/sealtap-seccomp build/sealtap-capture.node package.json package-lock.json -type f -printf '%p %s %T@\n' | sort
  for m in "${prod_modules[@]}"; do find "$m" -maxdepth 1 -printf '%p %s %T@\n'; done | sort
} | sha256sum | cut -c1-16)
if [ -f "$out/.inputs" ] && [ "$(cat "$out/.inputs")" = "$inputs_key" ] &&
   [ -f "$out/rootfs.squashfs" ] && [ -f "$out/initramfs.cpio.gz" ] && [ -f "$out/vmlinuz" ]; then
  say "image for $board is up to date ($out)"
  [ "$dev_keys" = 0 ] || dev_warning
  exit 0
fi
rm -f "$out/.inputs"

# --- modules: the board's list resolved through modules.dep, in load order --------------
# modules.dep lists every dependency of a module, the deepest last; loading them in
# reverse then the module itself works without modprobe (the box has no kmod).
declare -A seen=()
resolve() { # $1 = module name, $2 = prefix ("" or "?"); prints relative .ko paths
  local name=$1 prefix=$2 line file deps i
  local re
  re=$(echo "$name" | sed 's/[-_]/[-_]/g')
  line=$(grep -E "(^|/)${re}\.ko(\.xz|\.zst)?:" "$moddir/modules.dep" | head -n1) ||
    fail "module $name is not in $moddir (is it built into the kernel? then drop it from board/$board/board.json)"
  file=${line%%:*}
  read -r -a deps <<<"${line#*:}"
  for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
    if [ -z "${seen[${deps[$i]}]:-}" ]; then seen[${deps[$i]}]=1; echo "${deps[$i]}"; fi
  done
  if [ -z "${seen[$file]:-}" ]; then seen[$file]=1; echo "$prefix$file"; fi
}
stage1=$(for m in $(json modules.initramfs); do resolve "$m" ""; done)
stage2=$( (for m in $stage1; do seen[${m#\?}]=1; done
          for m in $(json modules.rootfs); do resolve "$m" ""; done
          for m in $(json modules.optional); do resolve "$m" "?"; done) )
copy_modules() { # $1 = list, $2 = destination dir
  mkdir -p "$2"
  : >"$2/load.list"
  for m in $1; do
    local f=${m#\?}
    install -D -m 0644 "$moddir/$f" "$2/$(basename "$f")"
    echo "${m%%kernel/*}$(basename "$f")" >>"$2/load.list"
  done
}

# --- initramfs (stage 1) ----------------------------------------------------------------
say "initramfs: busybox + $(echo "$stage1" | wc -l) modules from $kver"
ird=$out/initramfs.d
rm -rf "$ird"
mkdir -p "$ird/bin" "$ird/lib/modules"
tar -xf "$base" -C "$ird/bin" --strip-components=3 ./usr/bin/busybox
copy_modules "$stage1" "$ird/lib/modules"
install -m 0755 rootfs/initramfs/init "$ird/init"
(cd "$ird" && find . | sort | cpio -o -H newc --quiet --reproducible) | gzip -9 -n >"$out/initramfs.cpio.gz"
cp "/boot/vmlinuz-$kver" "$out/vmlinuz"
json kernel.cmdline >"$out/cmdline"

# --- root filesystem (stage 2) ---------------------------------------------------------
say "rootfs: unpack base, overlays, node $("$node_bin" --version), sealtap"
rfs=$out/rootfs.d
rm -rf "$rfs"
mkdir -p "$rfs"
tar -xf "$base" -C "$rfs"
{
  echo "board $board"
  echo "kernel $kver"
  echo "node $("$node_bin" --version) ($node_bin)"
  echo "sealtap $(node -p 'require("./package.json").version') $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "modules-initramfs $(echo $stage1)"
  echo "modules-rootfs $(echo $stage2)"
  for k in "${key_ids[@]}"; do echo "trusted-key $k"; done
  bin/sealtap bundle trust "$keys_dir" | sed 's/^/approval: /'
  echo "packages:"
  chroot "$rfs" dpkg-query -W -f='  ${Package} ${Version}\n'
} >"$out/manifest.txt"

# No package manager state, caches, docs or ways in at run time.
rm -rf "$rfs"/var/lib/apt "$rfs"/var/cache/* "$rfs"/var/lib/dpkg "$rfs"/var/log/* \
  "$rfs"/usr/share/doc "$rfs"/usr/share/man "$rfs"/usr/share/locale "$rfs"/usr/share/info \
  "$rfs"/etc/apt "$rfs"/etc/resolv.conf "$rfs"/etc/pam.d "$rfs"/etc/securetty \
  "$rfs"/usr/sbin/getty "$rfs"/usr/sbin/agetty "$rfs"/usr/sbin/sulogin "$rfs"/usr/bin/login \
  "$rfs"/usr/bin/su "$rfs"/usr/bin/passwd "$rfs"/usr/bin/chsh "$rfs"/usr/bin/chfn \
  "$rfs"/usr/bin/newgrp "$rfs"/usr/bin/gpasswd
find "$rfs" -xdev -perm /6000 -type f -exec chmod ug-s {} +   # no setuid/setgid binaries
# Root account locked (no password can match "!*") with no login shell.
sed -i 's|^root:[^:]*:|root:!*:|' "$rfs/etc/shadow"
sed -i 's|^root:\(.*\):[^:]*$|root:\1:/usr/sbin/nologin|' "$rfs/etc/passwd"
ln -sf /usr/bin/busybox "$rfs/usr/sbin/poweroff"
ln -sf /usr/bin/busybox "$rfs/usr/sbin/reboot"

cp -a rootfs/overlay/. "$rfs/"
# A test board's overlay may wrap init (board/qemu-x86_64-usb starts the workstation's
# end of its USB line in the same guest): the box's own init then stays, unchanged, at
# /usr/sbin/init.box for the wrapper to exec.
[ -e "$bdir/overlay/usr/sbin/init" ] && cp -a "$rfs/usr/sbin/init" "$rfs/usr/sbin/init.box"
[ -d "$bdir/overlay" ] && cp -a "$bdir/overlay/." "$rfs/"
chmod 0755 "$rfs/usr/sbin/init"
copy_modules "$stage2" "$rfs/usr/lib/sealtap/modules"
mkdir -p "$rfs/var/spool/sealtap"
echo "$board" >"$rfs/etc/sealtap/board"
node -p 'require("./package.json").version' >"$rfs/etc/sealtap/version"
install -m 0644 "$bdir/run.json" "$rfs/etc/sealtap/run.json"
install -d -m 0755 "$rfs/etc/sealtap/trusted"
for k in "${trusted[@]}" "${trust_json[@]}"; do install -m 0644 "$k" "$rfs/etc/sealtap/trusted/"; done

opt=$rfs/opt/sealtap
mkdir -p "$opt/bin" "$opt/dist" "$opt/board/$board"
install -m 0755 "$node_bin" "$opt/bin/node"
install -m 0755 bin/sealtap "$opt/bin/sealtap"
cp -a dist/firmware "$opt/dist/"
for p in "${dist_extra[@]}"; do mkdir -p "$opt/$(dirname "$p")"; cp -a "$p" "$opt/$p"; done
# The analysis jail runs it once to get its seccomp filter (firmware/analysis/jail/
# looks for it at build/ beside dist/).
install -D -m 0755 build/sealtap-seccomp "$opt/build/sealtap-seccomp"
# The capture thread's libpcap addon (firmware/capture/batch-binding.ts), built from
# source by make build against libpcap-dev; the rootfs has the libpcap it links to.
install -m 0644 build/sealtap-capture.node "$opt/build/sealtap-capture.node"
cp package.json "$opt/"
install -m 0644 "$bdir/board.json" "$opt/board/$board/board.json"
for m in "${prod_modules[@]}"; do
  mkdir -p "$opt/$(dirname "$m")"
  cp -a "$m" "$opt/$m"
done
# Prebuilt addons for other platforms are dead weight; keep linux-x64 only.
for p in "$opt"/node_modules/*/prebuilds "$opt"/node_modules/@*/*/prebuilds; do
  [ -d "$p" ] && find "$p" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
done
find "$opt/node_modules" \( -name '*.ts' -o -name '*.md' -o -name '*.map' -o -name obj.target -o -name '*.o' -o -name '*.musl.node' \) \
  ! -name '*.d.ts' -prune -exec rm -rf {} +

# Every ELF under /opt/sealtap must find its libraries inside the rootfs.
missing=$(find "$opt" -type f \( -name node -o -name '*.node' -o -name sealtap-seccomp \) -print0 |
  while IFS= read -r -d '' f; do chroot "$rfs" /usr/bin/ldd "${f#$rfs}" 2>&1 | { grep 'not found' || true; } | sed "s|^|${f#$rfs}: |"; done)
[ -z "$missing" ] || fail "libraries missing from the rootfs (add their packages to rootfs/packages.txt):
$missing"
# The box's node must run the box's CLI before the image is worth booting.
env -i PATH=/opt/sealtap/bin:/usr/sbin:/usr/bin chroot "$rfs" /opt/sealtap/bin/sealtap --help >/dev/null ||
  fail "node in the rootfs cannot load the sealtap CLI the way init starts it (chroot $rfs /opt/sealtap/bin/sealtap --help, /opt/sealtap/bin first on PATH)"

say "squashfs (zstd)"
rm -f "$out/rootfs.squashfs"
# zstd level 3: ~8 s on 2 cores and 15% larger than the default level 15, which takes
# minutes; the test budget on CI matters more than 10 MiB.
mksquashfs "$rfs" "$out/rootfs.squashfs" -comp zstd -Xcompression-level 3 -noappend -all-root -no-progress -quiet \
  -mkfs-time 0 -all-time 0 >/dev/null
{
  echo "sizes:"
  du -h "$out/vmlinuz" "$out/initramfs.cpio.gz" "$out/rootfs.squashfs" | sed "s|$out/|  |"
} >>"$out/manifest.txt"
rm -rf "$rfs" "$ird"
echo "$inputs_key" >"$out/.inputs"
say "done: $out ($(du -h "$out/rootfs.squashfs" | cut -f1) root, kernel $kver, trusts $(for k in "${key_ids[@]}"; do printf '%s, ' "${k%% DEVELOPMENT*}"; done | sed 's/, $//'))"
[ "$dev_keys" = 0 ] || dev_warning
