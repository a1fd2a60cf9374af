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
declare -A peak=() ticks=() role_of_pid=()
hz=$(getconf CLK_TCK)
# Sampling uses bash builtins only: a fork per sample (tr, awk, cat, sleep, a command
# substitution) loads the cores being measured. With them, on the 2-vCPU machine, the
# sampler added 0.35-0.6 s to a 1.6 s flows run (docs/benchmarks.md).
# A pipe no one else writes: `read -t` on it is a sleep without a fork. The command
# runs in a subshell that writes a line to it when the command ends, which ends the
# sleep at once: the loop below used to find the command gone up to 100 ms late, and
# every run and receive time of the end-to-end rows read that much long (a 0.33 s
# sleep took 0.43 s). The command itself does not get the pipe.
exec {nap}<> <(:)
( "$@" {nap}>&-; s=$?; echo >&"$nap"; exit "$s" ) &
pid=$!
role=
# Sets role to the role of process $1 (by its command line), or fails.
role_of() {
  local -a argv
  mapfile -d '' argv <"/proc/$1/cmdline" 2>/dev/null || return 1
  case " ${argv[*]} " in
    *module-process.js*) role=module ;;
    *analysis/child.js*) role=analysis ;;
    *"sealtap receive"*|*" receive "*) role=receiver ;;
    *"sealtap run"*|*" run --config"*) role=supervisor ;;
    *) return 1 ;;
  esac
}
while :; do
  todo=("$pid")
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[-1]}; unset 'todo[-1]'
    # Children of the main thread: every process of the box is started by one (node
    # spawns from its main thread), and the node processes have a dozen threads each.
    kids=(); read -r -a kids <"/proc/$p/task/$p/children" 2>/dev/null; todo+=("${kids[@]}")
    # The subshell that runs the command carries this script's command line: not a role.
    [ "$p" = "$pid" ] && continue
    role_of "$p" || continue
    kb=
    while read -r k v _; do [ "$k" = VmHWM: ] && { kb=$v; break; }; done <"/proc/$p/status" 2>/dev/null
    [ -n "$kb" ] && [ "$kb" -gt "${peak[$role]:-0}" ] && peak[$role]=$kb
    # utime + stime: fields 14 and 15, counted after the command name's closing parenthesis.
    if read -r stat 2>/dev/null <"/proc/$p/stat"; then
      f=(${stat##*) })
      ticks[$p]=$(( f[11] + f[12] )) role_of_pid[$p]=$role
    fi
  done
  read -r -t 0.1 -u "$nap" _ && break
  kill -0 "$pid" 2>/dev/null || break
done
wait "$pid"; status=$?
: >"$out"
declare -A cpu=()
for p in "${!ticks[@]}"; do r=${role_of_pid[$p]}; cpu[$r]=$(( ${cpu[$r]:-0} + ${ticks[$p]} )); done
for r in "${!peak[@]}"; do echo "$r ${peak[$r]} $(awk -v t="${cpu[$r]:-0}" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')" >>"$out"; done
exit "$status"
