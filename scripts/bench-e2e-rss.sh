#!/usr/bin/env bash
# Runs a command and samples the peak RSS (VmHWM) of every process in its tree every
# 100 ms, by role: supervisor (sealtap run), analysis (the trusted analysis process),
# module (the module's sandboxed process), receiver (sealtap receive), other.
# Usage: scripts/bench-e2e-rss.sh OUT.txt -- COMMAND...   (OUT.txt: "role peak-kB" lines)
# Exits with the command's status. A sample every 100 ms can miss a peak shorter than
# that; VmHWM is the high-water mark, so only a process that ends between two samples
# can be missed entirely, and the run's processes live for the whole run.
set -uo pipefail
out=$1; shift; [ "$1" = -- ] && shift
"$@" &
pid=$!
declare -A peak=()
role_of() {
  local cmd
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  case "$cmd" in
    *module-process.js*) echo module ;;
    *analysis/child.js*) echo analysis ;;
    *"sealtap receive"*|*" receive "*) echo receiver ;;
    *"sealtap run"*|*" run --config"*) echo supervisor ;;
    *) return 1 ;;
  esac
}
tree() { local p=$1; echo "$p"; for c in $(cat "/proc/$p/task/"*/children 2>/dev/null); do tree "$c"; done; }
while kill -0 "$pid" 2>/dev/null; do
  for p in $(tree "$pid"); do
    r=$(role_of "$p") || continue
    kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
    [ -n "$kb" ] && [ "$kb" -gt "${peak[$r]:-0}" ] && peak[$r]=$kb
  done
  sleep 0.1
done
wait "$pid"; status=$?
: >"$out"
for r in "${!peak[@]}"; do echo "$r ${peak[$r]}" >>"$out"; done
exit "$status"
