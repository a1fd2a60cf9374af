#!/usr/bin/env bash
# Capture benchmark: sealtap's capture into its sealed spool against `tcpdump -w`, on the
# same replayed traffic, the same kernel buffer and the same filesystem, side by side.
#
# A veth pair joins two private network namespaces; tcpreplay sends each trace out of the
# peer end; the capturer runs in the other namespace. Traces (tools/samplegen,
# deterministic): all 64-byte frames (small64), IMIX, all 1518-byte frames (large1500).
#
# 0. Sealing: node dist/bench/capture/seal.js measures, on one segment, the record count,
#    each candidate AEAD and the slot write (where the supervisor thread's time goes).
# 1. CPU per packet: each capturer alone, no CPU limit, tcpreplay --topspeed, the big
#    kernel buffer. CPU-seconds of the capturer process (all its threads; for sealtap
#    the capture thread, sealing and writing) per million packets sent.
#    Target: sealtap at most 1.5x tcpdump's.
# 2. The cliff: no generator here outruns either capturer, so each capturer gets the
#    same, smaller CPU budget instead: a cgroup CPU quota (v1 cpu.cfs_quota_us, or v2
#    cpu.max) on the capturer process. For sealtap, the analysis processes are moved out
#    of the group once capture runs: the budget covers capture, sealing and writing.
#    For each budget, from the largest, the offered rate (tcpreplay --pps) steps down a
#    ladder until a run of BENCH_STEP_SECONDS loses nothing; the next budget starts from
#    there. Target: sealtap's zero-loss rate at least tcpdump's at every budget.
#    Each step starts once the capturer is quiet (sealtap starts its analysis as capture
#    begins; that start-up is not what is measured). Runs vary by a rung or two, so
#    BENCH_CLIFF_ROUNDS repeats the phase and the verdict compares median rungs.
#
# Run by `make bench-capture` (after the build and scripts/setup.sh bench). Needs root.
# Environment (defaults in brackets):
#   BENCH_PACKETS [1000000]    packets per trace (phase 1 sends all of them)
#   BENCH_BUFFER_KIB [65536]   phase 1 kernel buffer: tcpdump -B, sealtap source.bufferBytes
#   BENCH_CLIFF_BUFFER_KIB [8192]  phase 2 kernel buffer (small, so it cannot hide a slow
#                              capturer for a whole step)
#   BENCH_TRACES ["small64 imix large1500"]
#   BENCH_TOOLS ["tcpdump sealtap"]   e.g. BENCH_TOOLS=tcpdump for the reference alone
#   BENCH_PHASES ["seal cpu cliff"]
#   BENCH_BUDGETS ["100 50 25 12"]    CPU budgets, percent of one CPU (quota per 10 ms
#                              period, so a throttled capturer pauses at most ~10 ms)
#   BENCH_RATES ["top 200000 140000 100000 70000 50000 35000 25000 17500 12500"]
#                              offered rates: "top" is tcpreplay --topspeed (about 0.7 Mpps
#                              here); its --pps pacing itself tops out near 0.2 Mpps
#   BENCH_STEP_SECONDS [3]     traffic per cliff step (packets = rate x seconds)
#   BENCH_WARMUP_PACKETS [40000]  before each measured replay, that many packets of the step's trace
#                              at BENCH_WARMUP_RATE [20000] pps with no budget, then quiet
#                              again (both capturers): the step measures a warm process;
#                              0 measures each step from a cold start, as before 2026-12-04
#   BENCH_CLIFF_ROUNDS [1]     the whole cliff phase again, the capturers' order swapped
#                              each round; the verdict compares each one's median rung
#   BENCH_DIR [out/bench-capture]     traces, captures and the spool (one filesystem)
#   BENCH_SPOOL_BYTES [2147483648]    sealtap spool size (kept between runs: reused)
#   BENCH_PERF_DIR [unset]     when set, `perf record -g` of sealtap during each replay
#                              into that directory (with NODE_OPTIONS=--perf-basic-prof
#                              for JavaScript names)
#   BENCH_CPU_PROF_DIR [unset] when set, sealtap runs under node --cpu-prof: a V8 CPU
#                              profile of its main thread and capture thread per step
# Exit: 0 measured and targets met; 1 a target missed; 2 cannot run here; 3 a capturer failed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

PACKETS=${BENCH_PACKETS:-1000000}
BUFFER_KIB=${BENCH_BUFFER_KIB:-65536}
CLIFF_BUFFER_KIB=${BENCH_CLIFF_BUFFER_KIB:-8192}
TRACES=${BENCH_TRACES:-small64 imix large1500}
TOOLS=${BENCH_TOOLS:-tcpdump sealtap}
PHASES=${BENCH_PHASES:-seal cpu cliff}
BUDGETS=${BENCH_BUDGETS:-100 50 25 12}
RATES=${BENCH_RATES:-top 200000 140000 100000 70000 50000 35000 25000 17500 12500}
STEP_SECONDS=${BENCH_STEP_SECONDS:-3}
CLIFF_ROUNDS=${BENCH_CLIFF_ROUNDS:-1}
DIR=${BENCH_DIR:-out/bench-capture}
SPOOL_BYTES=${BENCH_SPOOL_BYTES:-2147483648}
SEGMENT_BYTES=${BENCH_SEGMENT_BYTES:-4194304}
PERF_DIR=${BENCH_PERF_DIR:-}
CPU_PROF_DIR=${BENCH_CPU_PROF_DIR:-}
WARMUP_PACKETS=${BENCH_WARMUP_PACKETS:-40000}
WARMUP_RATE=${BENCH_WARMUP_RATE:-20000}
SNAPLEN=65535
# Both capturers use TPACKET_V3 blocks retired after a 1 s timeout at most; waiting longer
# than that after the replay lets the last partial block reach the capturer before it stops.
SETTLE_SECONDS=3

die() { echo "bench-capture: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, veth, tcpreplay): run it as root"
for t in ip tcpreplay tcpdump /usr/bin/time node; do
  command -v "$t" >/dev/null || die "$t is missing: run scripts/setup.sh bench"
done
[ -f dist/tools/samplegen/main.js ] || die "dist/tools/samplegen/main.js is missing: run make build"
[ -f dist/firmware/cli/main.js ] || die "dist/firmware/cli/main.js is missing: run make build"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# Namespaces follow test/lib/netns.ts: st-<pid>-<n>-cap/-peer, so a stale pair left by a
# killed run is recognised (its pid is dead) and removed by the next run of either.
CAP_NS="st-$$-0-cap"
PEER_NS="st-$$-0-peer"
CAP_IF=stcap0
PEER_IF=stpeer0
bg_pids=()

cleanup() {
  for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  cgroup_remove
  for ns in "$CAP_NS" "$PEER_NS"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT

remove_stale_namespaces() {
  local name pid
  for name in $(ip netns list | awk '{print $1}'); do
    [[ $name =~ ^st-([0-9]+)-[0-9]+-(cap|peer)$ ]] || continue
    pid=${BASH_REMATCH[1]}
    kill -0 "$pid" 2>/dev/null && continue
    ip netns del "$name" 2>/dev/null || true
  done
}

make_veth_pair() {
  for ns in "$CAP_NS" "$PEER_NS"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  ip -n "$CAP_NS" link add name "$CAP_IF" type veth peer name "$PEER_IF" netns "$PEER_NS"
  ip -n "$CAP_NS" link set "$CAP_IF" arp off multicast off up
  ip -n "$PEER_NS" link set "$PEER_IF" arp off multicast off up
}

# rx packets and rx dropped of the capture end, from its own namespace.
rx_counters() {
  ip -n "$CAP_NS" -s -j link show dev "$CAP_IF" |
    node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8"))[0].stats64.rx;console.log(s.packets,s.dropped)'
}

# Waits until a packet socket is bound to the capture interface (libpcap has opened it).
# sealtap first preallocates its spool, which takes a while for gigabytes on a slow disk.
wait_for_capture() {
  local pid=$1 index i
  index=$(ip netns exec "$CAP_NS" cat "/sys/class/net/$CAP_IF/ifindex")
  for i in $(seq 1 3000); do
    if ip netns exec "$CAP_NS" awk -v idx="$index" 'NR>1 && $5==idx {found=1} END {exit !found}' /proc/net/packet; then
      sleep 0.3
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Waits until the capturer is quiet: at most one clock tick of CPU in 300 ms, for at most
# 15 s. sealtap starts its analysis as capture begins (a child process, its sandbox and
# the supervisor's side of the handshake); that start-up is not the capture path the
# steps measure, so the traffic waits for it, as it would on a box that has been up a
# while. tcpdump is quiet at once.
wait_for_quiet() {
  local pid=$1 t0 t1 i
  t0=$(cpu_ticks "$pid")
  for i in $(seq 1 50); do
    sleep 0.3
    t1=$(cpu_ticks "$pid")
    [ "$((t1 - t0))" -gt 1 ] || return 0
    t0=$t1
  done
  echo "note: the capturer (pid $pid) did not go quiet within 15 s; measuring anyway" >&2
}

# Warm-up traffic before a step, for both capturers alike: WARMUP_PACKETS of the step's
# trace at WARMUP_RATE with the budget lifted, then quiet again. A box captures for days
# after it boots; a fresh process's first seconds of traffic (V8 compiling sealtap's hot
# paths on a background thread, the first touch of buffers) are inside a 3 s step without
# it, and under a small budget they are charged to the step. The capturer's counts then
# include the warm-up: WARM_SENT packets, added to the step's sent (a warm-up packet lost
# counts as lost).
WARM_SENT=0
warm_up() {
  local pid=$1 trace=$2 budget=$CG_BUDGET out
  WARM_SENT=0
  [ "$WARMUP_PACKETS" != 0 ] || return 0
  cgroup_budget none
  out=$(STEP_RATE=$WARMUP_RATE STEP_LIMIT=$WARMUP_PACKETS replay "$trace") || { echo "warm-up replay failed" >&2; return 1; }
  WARM_SENT=$(echo "$out" | awk '{print $1}')
  wait_for_quiet "$pid"
  cgroup_budget "$budget"
}

# The pid /usr/bin/time runs (ip netns exec replaces itself with the capturer).
child_of() { cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}'; }

cpu_seconds() { tail -n 1 "$1" | awk '{printf "%.2f", $1 + $2}'; }

# utime + stime of a process (all its threads), in clock ticks: fields 14 and 15 of
# /proc/PID/stat, counted after the ") " that ends the command name.
TICKS_PER_SECOND=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# The same per thread of a process: "main capture other" (the main thread is the one
# whose id is the pid; the capture threads name themselves sealtap-capture; the rest are
# node's: V8's garbage collector, libuv's file writes).
thread_ticks() {
  local pid=$1 t main=0 cap=0 other=0 n
  for t in /proc/"$pid"/task/*; do
    n=$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
    [ -n "$n" ] || continue
    if [ "${t##*/}" = "$pid" ]; then main=$((main + n))
    elif [ "$(cat "$t/comm" 2>/dev/null)" = sealtap-capture ]; then cap=$((cap + n))
    else other=$((other + n)); fi
  done
  echo "$main $cap $other"
}
ticks_to_seconds() { awk -v t="$1" -v hz="$TICKS_PER_SECOND" 'BEGIN { printf "%.2f", t / hz }'; }

# --- the CPU budget: one cgroup, the capturer started inside it -------------------------
CG=""        # the group's directory
CG_ROOT=""   # where processes leave it to (the hierarchy's root)
CG_KIND=""   # v1 or v2
cgroup_make() {
  if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    CG_KIND=v1 CG_ROOT=/sys/fs/cgroup/cpu CG=/sys/fs/cgroup/cpu/sealtap-bench-$$
  elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    CG_KIND=v2 CG_ROOT=/sys/fs/cgroup CG=/sys/fs/cgroup/sealtap-bench-$$
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control ||
      die "cannot enable the cpu controller in /sys/fs/cgroup/cgroup.subtree_control"
  else
    die "no cgroup CPU controller (neither /sys/fs/cgroup/cpu/cpu.cfs_quota_us nor cpu in /sys/fs/cgroup/cgroup.controllers): the cliff phase needs one; BENCH_PHASES='seal cpu' skips it"
  fi
  mkdir "$CG" || die "cannot create the cgroup $CG"
  IN_CG=(bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG")
}

# Sets the budget: a percentage of one CPU, or "none". A 10 ms period: with the default
# 100 ms a 25% budget stops the capturer for 75 ms at a time, which tests the kernel
# buffer's size more than the capturer's speed.
CG_PERIOD_US=10000
CG_BUDGET=none
cgroup_budget() {
  local quota=-1
  CG_BUDGET=$1
  [ "$1" = none ] || quota=$(( $1 * CG_PERIOD_US / 100 ))
  if [ "$CG_KIND" = v1 ]; then
    echo "$CG_PERIOD_US" >"$CG/cpu.cfs_period_us"
    echo "$quota" >"$CG/cpu.cfs_quota_us"
  elif [ "$quota" = -1 ]; then
    echo "max $CG_PERIOD_US" >"$CG/cpu.max"
  else
    echo "$quota $CG_PERIOD_US" >"$CG/cpu.max"
  fi
}

cgroup_remove() {
  [ -n "$CG" ] && [ -d "$CG" ] || return 0
  local p
  for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do echo "$p" >"$CG_ROOT/cgroup.procs" 2>/dev/null || true; done
  rmdir "$CG" 2>/dev/null || true
}

# A command prefix that runs the rest inside the group (a shell joins it, then becomes
# the command); an array, so /usr/bin/time can run it. Set by cgroup_make.
IN_CG=()

descendants() {
  local c
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$c"; descendants "$c"; done
}

# sealtap's analysis runs in child processes: out of the budget, so that the budget
# covers what tcpdump does (capture and write), plus sealing.
release_children() {
  local d
  for d in $(descendants "$1"); do echo "$d" >"$CG_ROOT/cgroup.procs" 2>/dev/null || true; done
}

# One replay: STEP_RATE packets/s (empty: --topspeed), STEP_LIMIT packets (0: all).
# Prints "sent seconds pps mbps" as tcpreplay measured them.
STEP_RATE="" STEP_LIMIT=0 STEP_BUFFER_KIB=$BUFFER_KIB
replay() {
  local out speed=(--topspeed) limit=()
  [ -z "$STEP_RATE" ] || speed=(--pps="$STEP_RATE")
  [ "$STEP_LIMIT" = 0 ] || limit=(--limit="$STEP_LIMIT")
  out=$(ip netns exec "$PEER_NS" tcpreplay -i "$PEER_IF" "${speed[@]}" "${limit[@]}" "$1" 2>&1) || { echo "$out" >&2; return 1; }
  local sent secs pps mbps
  read -r sent secs <<<"$(echo "$out" | sed -n 's/^Actual: \([0-9]*\) packets.*sent in \([0-9.]*\) seconds.*/\1 \2/p')"
  read -r mbps pps <<<"$(echo "$out" | sed -n 's/^Rated: [0-9.]* Bps, \([0-9.]*\) Mbps, \([0-9.]*\) pps.*/\1 \2/p')"
  echo "$sent $secs ${pps:-0} ${mbps:-0}"
}

# Result of the last measurement, read by report().
R_SENT=0 R_MEASURED=0 R_CAPTURED=0 R_DROPPED=0 R_KERNEL=0 R_CPU=0 R_TOTAL=0 R_IFDROP=0 R_SECONDS=0 R_PPS=0 R_MBPS=0 R_IDLE=0 R_THREADS=
MEASURE_IDLE=0 IDLE_SECONDS=4

run_tcpdump() {
  local trace=$1 log="$DIR/tcpdump.log" out="$DIR/tcpdump.pcap" timepid child before after drop_before ifdrop sent secs t0 t1
  rm -f "$out"
  read -r before drop_before <<<"$(rx_counters)"
  /usr/bin/time -f '%U %S' -o "$DIR/tcpdump.time" \
    "${IN_CG[@]}" ip netns exec "$CAP_NS" tcpdump -i "$CAP_IF" -n -B "$STEP_BUFFER_KIB" -s "$SNAPLEN" -w "$out" 2>"$log" &
  timepid=$!
  bg_pids+=("$timepid")
  wait_for_capture "$timepid" || { echo "tcpdump did not start:"; cat "$log"; return 1; }
  child=$(child_of "$timepid")
  wait_for_quiet "$child"
  warm_up "$child" "$trace" || return 1
  t0=$(cpu_ticks "$child")
  read -r sent secs R_PPS R_MBPS <<<"$(replay "$trace")"
  [ -n "$sent" ] || { echo "tcpreplay failed"; return 1; }
  sleep "$SETTLE_SECONDS"
  t1=$(cpu_ticks "$child")
  kill -INT "$child"
  wait "$timepid" || true
  read -r after ifdrop <<<"$(rx_counters)"
  # The measured replay's packets, and all sent including the warm-up's (what was captured counts both).
  R_MEASURED=$sent R_SENT=$((sent + WARM_SENT)) R_SECONDS=$secs
  R_CAPTURED=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$log")
  R_KERNEL=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$log")
  R_IFDROP=$((ifdrop - drop_before))
  R_CPU=$(ticks_to_seconds $((t1 - t0)))
  R_TOTAL=$(cpu_seconds "$DIR/tcpdump.time")
  [ -n "$R_CAPTURED" ] || { echo "tcpdump printed no packet count:"; cat "$log"; return 1; }
  R_DROPPED=$((R_SENT - R_CAPTURED))
  [ "$((after - before))" = "$R_SENT" ] || echo "note: the capture interface received $((after - before)) of $R_SENT packets sent"
  rm -f "$out"
}

run_sealtap() {
  local trace=$1 log="$DIR/sealtap.log" spool="$DIR/spool" channel="$DIR/channel.bin" recv="$DIR/received"
  local timepid child sent secs drop_before ifdrop summary t0 t1
  # The spool's slot files are kept between runs: preallocation reuses them.
  rm -rf "$recv" "$channel"
  mkdir -p "$spool"
  cat >"$DIR/run.json" <<EOF
{
  "source": { "interface": "$CAP_IF", "bufferBytes": $((STEP_BUFFER_KIB * 1024)), "snaplen": $SNAPLEN },
  "spool": { "dir": "$spool", "bytes": $SPOOL_BYTES, "segmentBytes": $SEGMENT_BYTES },
  "channel": { "path": "$channel" },
  "stop": { "seconds": 900 },
  "outputs": []
}
EOF
  drop_before=$(rx_counters | awk '{print $2}')
  local sealtap=("$root/bin/sealtap")
  # JavaScript names for perf: node writes /tmp/perf-PID.map.
  [ -z "$PERF_DIR" ] || sealtap=(env NODE_OPTIONS=--perf-basic-prof "${sealtap[@]}")
  # bin/sealtap's environment and node flags, with --cpu-prof (which NODE_OPTIONS does not take).
  [ -z "$CPU_PROF_DIR" ] || sealtap=(env GLIBC_TUNABLES=glibc.malloc.hugetlb=1 node --cpu-prof --cpu-prof-dir="$CPU_PROF_DIR" --no-memory-reducer --interrupt-budget=675840 "$root/dist/firmware/cli/main.js")
  /usr/bin/time -f '%U %S' -o "$DIR/sealtap.time" \
    "${IN_CG[@]}" ip netns exec "$CAP_NS" "${sealtap[@]}" run --config "$DIR/run.json" 2>"$log" &
  timepid=$!
  bg_pids+=("$timepid")
  if ! wait_for_capture "$timepid"; then
    echo "sealtap run did not open $CAP_IF; its log:"
    tail -n 20 "$log"
    return 1
  fi
  child=$(child_of "$timepid")
  release_children "$child"
  wait_for_quiet "$child"
  # The analysis may have started more processes meanwhile: out of the budget too.
  release_children "$child"
  warm_up "$child" "$trace" || return 1
  if [ "$MEASURE_IDLE" = 1 ]; then
    # What the supervisor spends with no traffic (timers, heartbeats, STATUS), per second.
    t0=$(cpu_ticks "$child")
    sleep "$IDLE_SECONDS"
    t1=$(cpu_ticks "$child")
    R_IDLE=$(awk -v t=$((t1 - t0)) -v hz="$TICKS_PER_SECOND" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.3f", t / hz / s }')
  fi
  t0=$(cpu_ticks "$child")
  local th0 th1
  th0=$(thread_ticks "$child")
  local perfpid=""
  if [ -n "$PERF_DIR" ]; then
    perf record -q -F 15000 -g -p "$child" -o "$PERF_DIR/sealtap-$(basename "$trace" .pcap)-${STEP_RATE:-top}.data" 2>/dev/null &
    perfpid=$!
  fi
  read -r sent secs R_PPS R_MBPS <<<"$(replay "$trace")"
  [ -n "$sent" ] || { echo "tcpreplay failed"; return 1; }
  sleep "$SETTLE_SECONDS"
  [ -z "$perfpid" ] || { kill -INT "$perfpid"; wait "$perfpid" || true; }
  t1=$(cpu_ticks "$child")
  th1=$(thread_ticks "$child")
  R_THREADS=$(echo "$th0 $th1" | awk -v hz="$TICKS_PER_SECOND" '{ printf "main %.2f, capture %.2f, other %.2f", ($4 - $1) / hz, ($5 - $2) / hz, ($6 - $3) / hz }')
  # Lift the budget for the stop: the drain is not what is measured.
  cgroup_budget none
  # SIGTERM is how the box is stopped: capture stops, analysis finishes, the line drains.
  kill -TERM "$child"
  local rc=0
  wait "$timepid" || rc=$?
  ifdrop=$(rx_counters | awk '{print $2}')
  R_MEASURED=$sent R_SENT=$((sent + WARM_SENT)) R_SECONDS=$secs R_IFDROP=$((ifdrop - drop_before))
  R_CPU=$(ticks_to_seconds $((t1 - t0)))
  R_TOTAL=$(cpu_seconds "$DIR/sealtap.time")
  if [ "$rc" != 0 ]; then
    echo "sealtap run exited with status $rc; its log:"
    tail -n 20 "$log"
    return 1
  fi
  # The receiver's summary is the contract; the last log line is the fallback.
  if "$root/bin/sealtap" receive "$channel" --out "$recv" >"$DIR/receive.log" 2>&1 && [ -f "$recv/summary.json" ]; then
    summary=$(node -e 'const s=require(process.argv[1]);console.log(s.captured,s.kernelDropped,s.spoolDropped)' "$recv/summary.json")
  else
    summary=$(grep 'run finished' "$log" | tail -n 1 | tr -d , |
      sed -n 's/.*captured \([0-9]*\) kernel dropped \([0-9]*\) spool dropped \([0-9]*\).*/\1 \2 \3/p')
  fi
  [ -n "$summary" ] || { echo "no packet counts from sealtap (no summary.json, no 'run finished' line); see $log"; return 1; }
  local captured kernel spooldrop
  read -r captured kernel spooldrop <<<"$summary"
  # captured counts what entered the spool path; packets dropped for a full spool are lost too.
  R_CAPTURED=$((captured - spooldrop))
  R_KERNEL=$kernel
  R_DROPPED=$((R_SENT - R_CAPTURED))
}

printf_row() { printf '%-9s %-8s %10s %10s %9s %7s %7s %9s %11s %9s\n' "$@"; }

per_million() { awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f", c * 1e6 / n; else print "-" }'; }

trace_of() {
  local trace="$DIR/$1-$PACKETS.pcap"
  if [ ! -s "$trace" ]; then
    echo "generating $trace" >&2
    node dist/tools/samplegen/main.js --kind "$1" --packets "$PACKETS" --seed 1 --out "$trace" --expect 2>/dev/null
  fi
  echo "$trace"
}

has_phase() { [[ " $PHASES " == *" $1 "* ]]; }

status=0
remove_stale_namespaces
make_veth_pair
cgroup_make
echo "capture benchmark: $PACKETS packets per trace, snaplen $SNAPLEN, $(nproc) CPUs, kernel $(uname -r), cgroup $CG_KIND"

if has_phase seal; then
  echo
  echo "== 0. sealing one segment on the supervisor thread =="
  node dist/bench/capture/seal.js --dir "$DIR" --rounds 30
fi

if has_phase cpu; then
  echo
  echo "== 1. CPU per packet: no CPU limit, tcpreplay --topspeed, kernel buffer $BUFFER_KIB KiB =="
  cat <<'EOF'
captured: packets the capturer wrote; dropped: sent - captured; kdrop: drops the capturer's
kernel socket reports; ifdrop: veth rx drops. cpu-s: CPU of the capturer process (all its
threads) from just before the replay until 3 s after it; cpu-s/Mpkt: that per million
packets of that replay (the compared figure); sent and captured include the warm-up
(BENCH_WARMUP_PACKETS, before the measured replay); run-cpu-s: the whole run under /usr/bin/time, with
start-up (sealtap preallocates its spool), shutdown and child processes (sealtap's analysis).
EOF
  printf_row trace tool sent captured dropped kdrop ifdrop cpu-s cpu-s/Mpkt run-cpu-s
  cgroup_budget none
  STEP_RATE="" STEP_LIMIT=0 STEP_BUFFER_KIB=$BUFFER_KIB MEASURE_IDLE=1
  for kind in $TRACES; do
    trace=$(trace_of "$kind")
    declare -A cpu=() lost=()
    for tool in $TOOLS; do
      R_SENT=0
      if "run_$tool" "$trace"; then
        printf_row "$kind" "$tool" "$R_SENT" "$R_CAPTURED" "$R_DROPPED" "$R_KERNEL" "$R_IFDROP" "$R_CPU" "$(per_million "$R_CPU" "$R_MEASURED")" "$R_TOTAL"
        cpu[$tool]=$(per_million "$R_CPU" "$R_MEASURED")
        lost[$tool]=$R_DROPPED
        if [ "$tool" = sealtap ]; then
          window=$(awk -v s="$R_SECONDS" -v w="$SETTLE_SECONDS" 'BEGIN { print s + w }')
          echo "  sealtap CPU-s by thread: $R_THREADS"
          echo "  sealtap with no traffic: $R_IDLE CPU-s/s; net of that over the ${window} s window: $(per_million "$(awk -v c="$R_CPU" -v i="$R_IDLE" -v w="$window" 'BEGIN { v = c - i * w; printf "%.3f", v < 0 ? 0 : v }')" "$R_MEASURED") s/Mpkt"
        fi
      else
        printf_row "$kind" "$tool" "$R_SENT" FAILED - - - - - -
        status=3
      fi
    done
    if [ -n "${cpu[tcpdump]:-}" ] && [ -n "${cpu[sealtap]:-}" ]; then
      ratio=$(awk -v s="${cpu[sealtap]}" -v t="${cpu[tcpdump]}" 'BEGIN { if (t > 0) printf "%.2f", s / t; else print "inf" }')
      verdict_cpu=$(awk -v r="$ratio" 'BEGIN { print (r != "inf" && r <= 1.5) ? "ok" : "MISSED" }')
      if [ "${lost[tcpdump]}" = 0 ] && [ "${lost[sealtap]}" != 0 ]; then verdict_loss=MISSED; else verdict_loss=ok; fi
      echo "$kind: sealtap/tcpdump CPU per packet ${ratio}x (target <= 1.5x: $verdict_cpu); loss sealtap ${lost[sealtap]} vs tcpdump ${lost[tcpdump]} (target: none where tcpdump has none: $verdict_loss)"
      if [ "$verdict_cpu" != ok ] || [ "$verdict_loss" != ok ]; then [ "$status" = 0 ] && status=1; fi
    fi
    unset cpu lost
  done
  MEASURE_IDLE=0
fi

if has_phase cliff; then
  echo
  echo "== 2. the cliff: highest offered rate with zero loss under a CPU budget (kernel buffer $CLIFF_BUFFER_KIB KiB, $STEP_SECONDS s per step, $CLIFF_ROUNDS round(s)) =="
  echo "budget: cgroup CPU quota, percent of one CPU; rate: what tcpreplay achieved in the zero-loss step [requested]"
  echo "cpu-s: the capturer's CPU from the replay's start until $SETTLE_SECONDS s after it (sealtap's by thread)"
  read -r -a ladder <<<"$RATES"
  STEP_BUFFER_KIB=$CLIFF_BUFFER_KIB
  # best[trace,tool,budget,round]: "pps mbps requested rung" of the zero-loss step.
  declare -A best=()
  for round in $(seq 1 "$CLIFF_ROUNDS"); do
    [ "$CLIFF_ROUNDS" = 1 ] || echo "-- round $round of $CLIFF_ROUNDS"
    for kind in $TRACES; do
      trace=$(trace_of "$kind")
      # Rounds alternate which capturer goes first, so neither always runs on a warmer machine.
      order=$TOOLS
      [ $((round % 2)) = 1 ] || order=$(echo "$TOOLS" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "") }')
      for tool in $order; do
        # A smaller budget cannot take more: each budget starts where the last one ended.
        i=0
        for budget in $BUDGETS; do
          found=""
          while [ "$i" -lt "${#ladder[@]}" ]; do
            STEP_RATE=${ladder[$i]}
            if [ "$STEP_RATE" = top ]; then
              STEP_RATE="" STEP_LIMIT=0
            else
              STEP_LIMIT=$(( STEP_RATE * STEP_SECONDS < PACKETS ? STEP_RATE * STEP_SECONDS : PACKETS ))
            fi
            cgroup_budget "$budget"
            if ! "run_$tool" "$trace"; then status=3; break; fi
            printf '  %-9s %-8s budget %3s%%  offered %7s pps: sent %8s at %9.0f pps %8.1f Mbit/s, lost %s (kernel %s), cpu-s %s%s\n' \
              "$kind" "$tool" "$budget" "${ladder[$i]}" "$R_SENT" "$R_PPS" "$R_MBPS" "$R_DROPPED" "$R_KERNEL" "$R_CPU" \
              "$([ "$tool" = sealtap ] && echo " ($R_THREADS)")"
            if [ "$R_DROPPED" = 0 ]; then found="$R_PPS $R_MBPS ${ladder[$i]} $i"; break; fi
            i=$((i + 1))
          done
          best[$kind,$tool,$budget,$round]=${found:-"0 0 0 ${#ladder[@]}"}
        done
      done
    done
  done
  echo
  # Each round's zero-loss rung per capturer; with several rounds the compared figure is
  # the median rung (the lower middle one for an even count), as runs vary by a rung or two.
  median_rung() {
    local kind=$1 tool=$2 budget=$3 r rungs=()
    for r in $(seq 1 "$CLIFF_ROUNDS"); do
      read -r _ _ _ ri <<<"${best[$kind,$tool,$budget,$r]:-0 0 0 99}"
      rungs+=("$ri")
    done
    printf '%s\n' "${rungs[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int(NR / 2) + 1] }'
  }
  rung_rate() { local r=$1; [ "$r" -lt "${#ladder[@]}" ] && echo "${ladder[$r]}" || echo 0; }
  printf '%-9s %7s  %-32s %-32s %s\n' trace budget "tcpdump zero-loss pps (Mbit/s)" "sealtap zero-loss pps (Mbit/s)" "sealtap/tcpdump"
  for kind in $TRACES; do
    for budget in $BUDGETS; do
      for round in $(seq 1 "$CLIFF_ROUNDS"); do
        read -r tp tm tr ti <<<"${best[$kind,tcpdump,$budget,$round]:-0 0 0 99}"
        read -r sp sm sr si <<<"${best[$kind,sealtap,$budget,$round]:-0 0 0 99}"
        ratio=$(awk -v s="$sp" -v t="$tp" 'BEGIN { if (t > 0) printf "%.2f", s / t; else print "-" }')
        label=$budget%
        [ "$CLIFF_ROUNDS" = 1 ] || label="$budget% r$round"
        printf '%-9s %8s  %-32s %-32s %s\n' "$kind" "$label" \
          "$(printf '%.0f (%.1f) [%s]' "$tp" "$tm" "$tr")" "$(printf '%.0f (%.1f) [%s]' "$sp" "$sm" "$sr")" "$ratio"
      done
      # Compared on the ladder: sealtap's (median) zero-loss rung at or above tcpdump's.
      ti=$(median_rung "$kind" tcpdump "$budget")
      si=$(median_rung "$kind" sealtap "$budget")
      verdict=ok
      [ "$si" -le "$ti" ] || verdict=MISSED
      [ "$ti" -lt "${#ladder[@]}" ] || [ "$si" -lt "${#ladder[@]}" ] || verdict="- (no zero-loss step for either)"
      what="zero-loss rate"
      [ "$CLIFF_ROUNDS" = 1 ] || what="median zero-loss rate of $CLIFF_ROUNDS rounds"
      echo "$kind at $budget%: $what tcpdump $(rung_rate "$ti") pps, sealtap $(rung_rate "$si") pps: $verdict"
      if [ "$verdict" != ok ] && [ "$status" = 0 ]; then status=1; fi
    done
  done
fi
exit "$status"
