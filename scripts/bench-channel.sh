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
# 3. usb (root only: it builds and boots the test image): the paced framing step in the
#    test board qemu-x86_64-usb, the writer on the CDC-ACM gadget's ttyGS0 and the reader
#    on the host's ttyACM0 in the same guest (dummy_hcd, emulated: not a hardware
#    figure), clear, paced as BENCH_BAUD and as BENCH_USB_FAST_BAUD, fed as fast as the
#    outbox takes flows; then paced as BENCH_USB_FAST_BAUD but fed BENCH_USB_SLOW_FLOWS
#    flows/s (the line faster than the analysis); printed beside the framing step's clear
#    pty row and the same step on the guest's UART (ttyS1 at 115200 baud, the production
#    board's speed and the emulated 16550's highest; its line a file
#    here, checked here). Line bytes/s, flows/s, the outbox's peak backlog, drain time and drops, and
#    whether it arrived intact.
# Each of steps 1-2 runs once per mode: "clear"; "encrypted" to a researcher key made for the
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
#   BENCH_STEPS ["framing pipe usb"] e.g. BENCH_STEPS=pipe for the writer alone; usb needs root
#   BENCH_USB_FAST_BAUD [40000000]  the second and third USB runs' pacing (4 MB/s: above what the gadget takes)
#   BENCH_USB_SLOW_FLOWS [1000]     the third USB run's feed, flows/s: an analysis slower than the line
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

STEPS=${BENCH_STEPS:-framing pipe usb}
USB_FAST_BAUD=${BENCH_USB_FAST_BAUD:-40000000}
USB_SLOW_FLOWS=${BENCH_USB_SLOW_FLOWS:-1000}
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
    [ "$step" = usb ] && continue
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
# The USB row: one boot of the test board in bench mode (board/qemu-x86_64-usb/overlay/
# usr/lib/sealtap/usb-bench), its console kept in $DIR/usb-console.log.
usb_row() {
  if [ "$(id -u)" != 0 ]; then echo "usb: skipped: building and booting the test image needs root"; return 0; fi
  for t in qemu-system-x86_64 mmdebstrap mksquashfs; do
    command -v "$t" >/dev/null || { echo "usb: skipped: $t is missing (scripts/setup.sh image installs it)"; return 0; }
  done
  scripts/image/build.sh qemu-x86_64-usb >"$DIR/usb-build.log" 2>&1 || fail "cannot build the USB test board: see $DIR/usb-build.log"
  timeout $((4 * LINE_SECONDS + 600)) scripts/image/qemu.sh --board qemu-x86_64-usb --no-nic --bundle none --spool none \
    --results "$DIR/usb-results.raw" --console "file:$DIR/usb-console.log" \
    --append "sealtap.usb-bench=$LINE_SECONDS sealtap.usb-bench-bauds=$BAUD,$USB_FAST_BAUD,$USB_FAST_BAUD@$USB_SLOW_FLOWS" >"$DIR/usb-qemu.log" 2>&1 ||
    fail "the USB test board did not run the benchmark: see $DIR/usb-qemu.log and $DIR/usb-console.log"
  grep -a '^usb-bench: FAILED' "$DIR/usb-console.log" && fail "the USB benchmark failed in the guest: see $DIR/usb-console.log"
  # The UART run: its line is the results file; checked here, the check put in its JSON.
  local uart
  uart=$(grep -a '^usb-bench: uart {' "$DIR/usb-console.log" | sed 's/^usb-bench: uart //; s/\r$//' | head -1)
  if [ -n "$uart" ]; then
    node "$BENCH" check --file "$DIR/usb-results.raw" --records "$(node -e 'console.log(JSON.parse(process.argv[1]).records)' "$uart")" "${common[@]}" >"$DIR/uart-check.json" ||
      fail "cannot check the UART's line $DIR/usb-results.raw"
    node -e 'const fs=require("fs");const r=JSON.parse(process.argv[1]);r.received=JSON.parse(fs.readFileSync(process.argv[2],"utf8"));fs.writeFileSync(process.argv[3],JSON.stringify(r))' \
      "$uart" "$DIR/uart-check.json" "$DIR/uart-$(node -e 'console.log(JSON.parse(process.argv[1]).baud)' "$uart").json"
  fi
  grep -a '^usb-bench: {' "$DIR/usb-console.log" | sed 's/^usb-bench: //; s/\r$//' | while read -r json; do
    printf '%s\n' "$json" >"$DIR/usb-$(node -e 'const r=JSON.parse(process.argv[1]);console.log(r.baud+(r.flowsPerSecond?"-"+r.flowsPerSecond:""))' "$json").json"
  done
}
[[ " $STEPS " == *" usb "* ]] && usb_row
status=0
node "$BENCH" report --dir "$DIR" --modes "$MODES" "${common[@]}" || status=$?
if [[ " $STEPS " == *" usb "* ]] && ls "$DIR"/usb-*.json >/dev/null 2>&1; then
  node "$BENCH" usb-report --dir "$DIR" || status=3
fi
for mode in $MODES; do
  for f in "$DIR/profile-$mode"/*.cpuprofile; do
    if [ -f "$f" ]; then node "$BENCH" profile --file "$f"; fi
  done
done
exit "$status"
