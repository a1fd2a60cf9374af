#!/usr/bin/env bash
# Runs a command and samples the peak RSS (VmHWM) and CPU time of every process in its
# tree every 100 ms, by role: supervisor (sealtap run), analysis (the trusted analysis
# processes, one per shard), module (the module's sandboxed processes), receiver
# (sealtap receive). Peak RSS is the largest of one process of the role; CPU time is
# the sum over the role's processes, each as last sampled (up to 100 ms short).
# Usage: scripts/bench-e2e-rss.sh OUT.txt -- COMMAND...   (OUT.txt: "role peak-kB cpu-s" lines)
# Exits with the command's status. A sample every 100 ms can miss a peak shorter than
# that; VmHWM is the high-water mark, so only a process that ends between two samples
# can be missed entirely, and the run's processes live for the whole run.
set -uo pipefail
out=$1; shift; [ "$1" = -- ] && shift
"$@" &
pid=$!
declare -A peak=() ticks=() role_of_pid=()
hz=$(getconf CLK_TCK)
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
    # utime + stime: fields 14 and 15, counted after the command name's closing parenthesis.
    # (read with builtins: a fork per sample would load the cores being measured)
    if read -r stat 2>/dev/null <"/proc/$p/stat"; then
      f=(${stat##*) })
      ticks[$p]=$(( f[11] + f[12] )) role_of_pid[$p]=$r
    fi
  done
  sleep 0.1
done
wait "$pid"; status=$?
: >"$out"
declare -A cpu=()
for p in "${!ticks[@]}"; do r=${role_of_pid[$p]}; cpu[$r]=$(( ${cpu[$r]:-0} + ${ticks[$p]} )); done
for r in "${!peak[@]}"; do echo "$r ${peak[$r]} $(awk -v t="${cpu[$r]:-0}" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')" >>"$out"; done
exit "$status"
