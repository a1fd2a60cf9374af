#!/usr/bin/env bash
# Channel benchmark: what the results line carries and how fast the box side makes it.
#
# 1. framing: realistic anonymized flow records through the real writer (openChannel) on
#    a socat pty pair set to BENCH_BAUD, paced by the writer as on a UART; the far end is
#    decoded live by the receiver's decoder. Prints framing efficiency (flow JSON bytes /
#    everything written to the line, BOOT, CHECKPOINT and END included) against newline
#    JSON of the same records, and flows per second at that baud (baud/10 bytes/s divided
#    by line bytes per flow) next to the rate measured on the paced line.
# 2. pipe: the writer into a FIFO (unpaced, as for any non-tty path) drained by `cat`,
#    then the peer: the same line bytes written from memory, 64 KiB per write, into the
#    same kind of FIFO drained by the same `cat`. Prints MB/s of line bytes and of flow
#    JSON, and sealtap/peer. Every run's line is decoded afterwards: the flow count and
#    every flow's JSON must equal what was sent, with no bad or missing frame.
# Each step runs once per mode: "clear"; "encrypted" to a researcher key made for the
# run the way `sealtap receive keygen` makes one (the writer gets only the public half,
# the checks decrypt with the .key); "fec" (framing only): FEC left to the writer's
# default for a tty. clear and encrypted are measured with FEC off.
# Targets: framing efficiency >= 0.95 without FEC, writer >= 50 MB/s of line bytes into a
# pipe. Flows travel in their compact binary form (firmware/channel/result-codec.ts);
# frames are deflated on the paced tty and not in the pipe (the writer's defaults). The
# framing run also prints the frame format's own efficiency: the same flows as JSON
# bodies, neither compact nor deflated.
#
# Run by `make bench-channel` (after the build and scripts/setup.sh bench).
# Environment (defaults in brackets):
#   BENCH_STEPS ["framing pipe"]   e.g. BENCH_STEPS=pipe for the writer alone
#   BENCH_MODES ["clear encrypted fec"]
#   BENCH_BAUD [921600]            line speed of the framing run
#   BENCH_LINE_SECONDS [10]        how long the framing run feeds the paced line
#   BENCH_RECORDS [300000]         flows per writer run
#   BENCH_RUNS [3]                 writer and peer runs, alternating
#   BENCH_POOL [100000]            distinct flows generated (record k is flow k mod POOL)
#   BENCH_SEED [1]                 seed of the flow generator
#   BENCH_CPU_PROF [0]             1: profile the first writer run of each mode (node
#                                  --cpu-prof) and print where its time goes
#   BENCH_DIR [/dev/shm/sealtap-bench-channel, else out/bench-channel]
#                                  FIFOs, line copies (tmpfs keeps the reader cheap), results
# Exit: 0 measured (verdicts are printed); 2 cannot run here; 3 a step failed or the line
# did not arrive intact.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${BENCH_STEPS:-framing pipe}
MODES=${BENCH_MODES:-clear encrypted fec}
BAUD=${BENCH_BAUD:-921600}
LINE_SECONDS=${BENCH_LINE_SECONDS:-10}
RECORDS=${BENCH_RECORDS:-300000}
RUNS=${BENCH_RUNS:-3}
POOL=${BENCH_POOL:-100000}
SEED=${BENCH_SEED:-1}
CPU_PROF=${BENCH_CPU_PROF:-0}
if [ -z "${BENCH_DIR:-}" ]; then
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then BENCH_DIR=/dev/shm/sealtap-bench-channel; else BENCH_DIR=out/bench-channel; fi
fi
DIR=$BENCH_DIR

die() { echo "bench-channel: $*" >&2; exit 2; }
for t in node socat cat mkfifo cmp; do
  command -v "$t" >/dev/null || die "$t is missing: run scripts/setup.sh bench"
done
BENCH=dist/bench/channel/main.js
[ -f "$BENCH" ] || die "$BENCH is missing: run make build"
rm -rf "$DIR"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
common=(--pool "$POOL" --seed "$SEED")

bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -f "$DIR"/*.fifo "$DIR"/*.bin "$DIR"/researcher.key
}
trap cleanup EXIT

fail() { echo "bench-channel: $*" >&2; exit 3; }

# Starts `cat FIFO > FILE` (the reader that drains the pipe) in the background.
start_reader() {
  rm -f "$1"
  mkfifo "$1"
  cat "$1" >"$2" &
  reader=$!
  bg_pids+=("$reader")
}

echo "channel benchmark: $(nproc) CPUs, kernel $(uname -r), node $(node -v), steps: $STEPS, modes: $MODES"
node "$BENCH" keygen --prefix "$DIR/researcher" >/dev/null || fail "cannot make the researcher key"
for mode in $MODES; do
  case "$mode" in
    clear) key=() recipient=() fec=() ;;
    encrypted) key=(--key "$DIR/researcher.key") recipient=(--recipient "$(cat "$DIR/researcher.pub")") fec=() ;;
    fec) key=() recipient=() fec=(--fec tty-default) ;;
    *) die "unknown mode '$mode' in BENCH_MODES: clear, encrypted, fec" ;;
  esac
  for step in $STEPS; do
    [ "$mode" = fec ] && [ "$step" != framing ] && continue
    case "$step" in
      framing)
        node "$BENCH" paced --baud "$BAUD" --seconds "$LINE_SECONDS" "${common[@]}" "${key[@]}" "${fec[@]}" >"$DIR/$mode-paced.json" ||
          fail "the paced framing run ($mode) failed"
        ;;
      pipe)
        for i in $(seq 1 "$RUNS"); do
          start_reader "$DIR/line.fifo" "$DIR/line.bin"
          prof=()
          [ "$CPU_PROF" = 1 ] && [ "$i" = 1 ] && prof=(--cpu-prof --cpu-prof-dir="$DIR/profile-$mode")
          node "${prof[@]}" "$BENCH" writer --fifo "$DIR/line.fifo" --records "$RECORDS" "${common[@]}" "${recipient[@]}" >"$DIR/$mode-writer-$i.json" ||
            fail "writer run $i ($mode) failed"
          wait "$reader" || fail "the reader of writer run $i ($mode) failed"
          node "$BENCH" check --file "$DIR/line.bin" --records "$RECORDS" "${common[@]}" "${key[@]}" >"$DIR/$mode-check-$i.json" ||
            fail "decoding the line of writer run $i ($mode) failed"
          start_reader "$DIR/peer.fifo" "$DIR/peer.bin"
          node "$BENCH" peer --fifo "$DIR/peer.fifo" --file "$DIR/line.bin" >"$DIR/$mode-peer-$i.json" ||
            fail "peer run $i ($mode) failed"
          wait "$reader" || fail "the reader of peer run $i ($mode) failed"
          cmp -s "$DIR/line.bin" "$DIR/peer.bin" || fail "the peer's pipe did not carry the same bytes as the writer's (run $i, $mode)"
          rm -f "$DIR/line.bin" "$DIR/peer.bin"
        done
        ;;
      *) die "unknown step '$step' in BENCH_STEPS: framing, pipe" ;;
    esac
  done
done
status=0
node "$BENCH" report --dir "$DIR" --modes "$MODES" "${common[@]}" || status=$?
for mode in $MODES; do
  for f in "$DIR/profile-$mode"/*.cpuprofile; do
    if [ -f "$f" ]; then node "$BENCH" profile --file "$f"; fi
  done
done
exit "$status"
