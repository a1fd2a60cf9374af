#!/usr/bin/env bash
# Installs what sealtap needs on a fresh Debian machine: system packages (only the
# missing ones), the pinned npm dependencies, and the compiled firmware.
# Usage: scripts/setup.sh [base|test|bench|image]
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-base}

# bubblewrap + libseccomp-dev: the analysis jail and its seccomp filter writer
# (firmware/analysis/jail/, native/seccomp/).
# libssl-dev: the capture addon's AES-256-GCM (native/capture/).
base=(libpcap-dev libssl-dev socat tcpreplay tshark tcpdump iproute2 python3 make g++ bubblewrap libseccomp-dev)
test=(nfdump chromium tmux)
bench=(libtrace-tools time)
image=(mmdebstrap qemu-system-x86 qemu-utils squashfs-tools cpio e2fsprogs cryptsetup-bin linux-image-amd64 busybox-static)

pkgs=("${base[@]}")
case "$want" in
  base) ;;
  test) pkgs+=("${test[@]}") ;;
  bench) pkgs+=("${test[@]}" "${bench[@]}") ;;
  image) pkgs+=("${test[@]}" "${image[@]}") ;;
  *) echo "setup.sh: unknown set '$want' (base, test, bench, image)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer for it.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.sealtap-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
