#!/usr/bin/env bash
# End-to-end test of the appliance image in QEMU (run by scripts/image/test.sh after the
# image is built). Boots the real image with a capture NIC on a tap device in a private
# network namespace, feeds it traffic with tcpreplay, and checks from the outside only:
# the console log, the results line, the tap counters and the spool disk afterwards.
# Prints one PASS/FAIL line per check; exits non-zero if any check failed.
#
# Usage: test/image/boot-test.sh [BOARD]     (logs kept in build/image/test/)
set -uo pipefail
cd "$(dirname "$0")/../.."
board=${1:-qemu-x86_64}
out=build/image/test
boot_timeout=${SEALTAP_BOOT_TIMEOUT:-420}   # TCG on 2 CI cores: ~90 s to capturing
run_timeout=${SEALTAP_RUN_TIMEOUT:-300}     # stop.seconds (30) + analysis + drain, emulated
ns=sealtap-img-$$
failures=0
qpid= cpid=

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# QEMU runs in its own process group (setsid), so it and qemu.sh stop together.
stop_box() { [ -n "$qpid" ] && kill -- "-$qpid" 2>/dev/null; qpid=; }
cleanup() {
  stop_box
  [ -n "$cpid" ] && kill "$cpid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  true
}
trap cleanup EXIT

# waits until FILE matches the extended regex (case-insensitive); prints seconds taken
wait_for() { # FILE REGEX TIMEOUT PID
  local t=0
  while ! grep -qiE "$2" "$1" 2>/dev/null; do
    if [ "$t" -ge "$3" ] || ! kill -0 "$4" 2>/dev/null; then return 1; fi
    sleep 1; t=$((t + 1))
  done
  echo "$t"
}
# waits for PID to exit within TIMEOUT seconds; returns 1 on timeout
wait_exit() {
  local t=0
  while kill -0 "$1" 2>/dev/null; do
    [ "$t" -ge "$2" ] && return 1
    sleep 1; t=$((t + 1))
  done
  wait "$1" 2>/dev/null
  return 0
}
# prints which of the hex byte strings occur in FILE (empty: none)
find_bytes() { # FILE HEX...
  python3 - "$@" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
for h in sys.argv[2:]:
    if bytes.fromhex(h) in data:
        print(h)
EOF
}

# boot NAME [qemu.sh options]: starts the box with its console on a pipe we can write to
boot() {
  local name=$1; shift
  dir=$out/$name
  rm -rf "$dir"; mkdir -p "$dir"
  mkfifo "$dir/console.in" "$dir/console.out"
  cat "$dir/console.out" >"$dir/console.log" &
  cpid=$!
  start=$(date +%s)
  setsid scripts/image/qemu.sh --board "$board" --netns "$ns" --tap tap0 --console "pipe:$dir/console" \
    --results "$dir/results.raw" "$@" >"$dir/qemu.log" 2>&1 &
  qpid=$!
}
# after the box powered off: the same checks for every boot
common_checks() { # NAME
  local log=$dir/console.log
  if grep -qi 'login:' "$log"; then fail "$1: a login prompt appeared on the console"; else pass "$1: no login prompt on the console"; fi
  local starts
  starts=$(grep -c 'init: starting supervisor' "$log")
  if [ "$starts" = 1 ]; then pass "$1: supervisor started exactly once (no restart loop)"; else fail "$1: supervisor started $starts times"; fi
  if grep -q 'reboot: Power down' "$log"; then pass "$1: the box powered off"; else fail "$1: no power-off in the console log"; fi
}

mkdir -p "$out"
ip netns add "$ns" || { echo "FAIL: cannot create network namespace $ns (needs root)"; exit 1; }
facts=$(python3 test/image/make-traffic.py "$out/traffic.pcap") || { echo "FAIL: cannot write the test traffic"; exit 1; }
eval "$facts"
[ -n "${MACS:-}" ] && [ -n "${IPPAIRS:-}" ] && [ -n "${FLOWS:-}" ] && [ -n "${MARKER:-}" ] || { echo "FAIL: make-traffic.py did not describe its traffic"; exit 1; }
marker_hex=$(printf %s "$MARKER" | od -An -tx1 | tr -d ' \n')

# --- 1. the normal run -----------------------------------------------------------------
echo "image test: booting $board with a capture NIC, a spool disk and traffic"
boot run --spool "$out/run/spool.img"
if t=$(wait_for "$dir/console.log" 'capturing' "$boot_timeout" "$qpid"); then
  pass "run: supervisor reached capturing ${t}s after QEMU started"
  echo "boot: QEMU start to capturing ${t}s; $(grep -o 'init: starting supervisor, up [0-9.]*s' "$dir/console.log")" >"$out/boot-time.txt"
else
  fail "run: no 'capturing' within ${boot_timeout}s; console tail:"; tail -20 "$dir/console.log"
fi

# Anything typed at the console must produce nothing: no echo, no prompt, no answer.
probe=sealtap-console-probe-$$
printf 'root\r\n%s\r\nhelp\r\n\003\004' "$probe" >"$dir/console.in"
ip netns exec "$ns" tcpreplay -q -i tap0 --pps 100 "$out/traffic.pcap" >"$dir/tcpreplay.log" 2>&1 ||
  fail "run: tcpreplay failed: $(tail -2 "$dir/tcpreplay.log")"

if wait_exit "$qpid" "$run_timeout"; then
  pass "run: the box stopped and QEMU exited by itself"
else
  fail "run: still running ${run_timeout}s after the traffic; console tail:"; tail -20 "$dir/console.log"
  stop_box
fi
qpid=
wait "$cpid" 2>/dev/null; cpid=

rx=$(ip netns exec "$ns" cat /sys/class/net/tap0/statistics/rx_packets)
tx=$(ip netns exec "$ns" cat /sys/class/net/tap0/statistics/tx_packets)
if [ "$rx" = 0 ]; then pass "run: the box transmitted 0 frames on the capture NIC (host received $rx, sent $tx)"; else fail "run: the box transmitted $rx frames on the capture NIC"; fi
[ "$tx" -ge "$PACKETS" ] && pass "run: all $PACKETS replayed frames were offered to the box" || fail "run: only $tx of $PACKETS frames reached the tap"
common_checks run
if grep -q "$probe" "$dir/console.log"; then fail "run: the console echoed input"; else pass "run: input sent to the console produced no echo or answer"; fi
if grep -E '^init: audit:' "$dir/console.log" | grep -qv 'tcp-listen=0 udp=0 raw=0 unix-listen=0 addresses=0'; then
  fail "run: something listened or had an address: $(grep '^init: audit:' "$dir/console.log" | tr '\n' ' ')"
elif grep -q '^init: audit: tcp-listen=0 udp=0 raw=0 unix-listen=0 addresses=0' "$dir/console.log"; then
  pass "run: no listening socket and no address, all run long"
else
  fail "run: the init audit line is missing"
fi
if grep -q 'kernel lockdown: confidentiality' "$dir/console.log" && grep -q 'modules: .* loading disabled' "$dir/console.log"; then
  pass "run: lockdown confidentiality, module loading disabled"
else
  fail "run: lockdown or module lock not reported by init"
fi

# Nothing raw anywhere it could be read: console, results line, spool disk.
spool=$dir/spool.img
if [ -f "$spool" ]; then
  magic=$(od -An -tx1 -j 1080 -N 2 "$spool" | tr -d ' ')
  [ "$magic" != 53ef ] && pass "run: spool disk has no ext4 signature at 1080 (read $magic)" || fail "run: spool disk shows a plain ext4 superblock"
  if ! found=$(find_bytes "$spool" "$marker_hex" $MACS $IPPAIRS); then
    fail "run: could not scan the spool disk"
  elif [ -z "$found" ]; then pass "run: spool disk holds no marker, MAC or address pair"; else fail "run: spool disk holds raw bytes: $found"; fi
  written=$(python3 -c "import sys; d=open(sys.argv[1],'rb').read(); print(sum(1 for i in range(0, len(d), 4096) if d[i:i+4096].count(0) < 4096))" "$spool")
  [ "$written" -gt 64 ] && pass "run: the spool was used: $written of 16384 blocks hold ciphertext" || fail "run: only $written blocks of the spool disk were written: was dm-crypt opened?"
else
  fail "run: no spool disk image at $spool"
fi
text_raw="$MARKER|02:a1:b2:c3:d4:0[12]|198\.51\.100\.23|203\.0\.113\.77|192\.0\.2\.144"
if grep -aqE "$text_raw" "$dir/console.log"; then fail "run: raw data on the console"; else pass "run: no marker or raw address on the console"; fi
if [ -s "$dir/results.raw" ]; then
  if ! found=$(find_bytes "$dir/results.raw" "$marker_hex" $MACS $IPPAIRS); then
    fail "run: could not scan the results line"
  elif [ -z "$found" ]; then pass "run: results line carries no marker, MAC or address pair ($(stat -c %s "$dir/results.raw") bytes)"; else fail "run: results line carries raw bytes: $found"; fi
  if bin/sealtap receive "$dir/results.raw" --out "$dir/received" >"$dir/receive.log" 2>&1 && [ -s "$dir/received/summary.json" ]; then
    pass "run: sealtap receive decoded the line: $(node -e 'const s=require(process.argv[1]);console.log(["captured","analysed","frames","badFrames","missingFrames"].map(k=>k+"="+JSON.stringify(s[k])).join(" "))' "$PWD/$dir/received/summary.json")"
  else
    fail "run: sealtap receive failed: $(tail -3 "$dir/receive.log")"
  fi
  # Exactly what was sent: every packet captured, analysed and in trace.pcap; every flow.
  counts=$(node -e '
    const fs = require("fs"); const d = process.argv[1]; const s = require(d + "/summary.json");
    const flows = fs.readFileSync(d + "/flows.jsonl", "utf8").split("
").filter(Boolean).map(JSON.parse);
    const inFlows = flows.reduce((n, f) => n + f.packets + f.revPackets, 0);
    console.log([s.captured, s.analysed, s.outputs.packets, flows.length, inFlows].join(" "));
  ' "$PWD/$dir/received" 2>/dev/null)
  want="$PACKETS $PACKETS $PACKETS $FLOWS $PACKETS"
  if [ "$counts" = "$want" ]; then
    pass "run: received exactly what was sent: $PACKETS packets captured, analysed and in trace.pcap, $FLOWS flows"
  else
    fail "run: received 'captured analysed trace.pcap flows packets-in-flows' = '$counts', sent '$want'"
  fi
  if grep -aqE "$text_raw" -r "$dir/received" 2>/dev/null; then fail "run: raw data in the received files"; else pass "run: no marker or raw address in the received files"; fi
else
  fail "run: the results line is empty"
fi

# --- 2. bad cases: a clear message, fatal state, one attempt, power-off ------------------
bad_case() { # NAME REGEX qemu.sh-options...
  local name=$1 want=$2; shift 2
  echo "image test: booting $board, $name"
  boot "$name" "$@"
  if wait_exit "$qpid" "$((boot_timeout + 60))"; then
    pass "$name: the box powered off by itself"
  else
    fail "$name: still running after $((boot_timeout + 60))s"; stop_box
  fi
  qpid=
  wait "$cpid" 2>/dev/null; cpid=
  if grep -qiE "$want" "$dir/console.log"; then pass "$name: console says: $(grep -iE "$want" "$dir/console.log" | head -1)"; else fail "$name: no console line matching /$want/"; fi
  if grep -qiE 'state: fatal|fatal' "$dir/console.log"; then pass "$name: fatal state logged"; else fail "$name: no fatal state in the log"; fi
  common_checks "$name"
}
bad_case no-spool-disk 'spool.*(/dev/vdb|device)' --spool none
bad_case no-capture-nic 'eth0' --no-nic --spool "$out/no-capture-nic.spool.img"

echo "image test: $failures failure(s); logs in $out"
[ "$failures" = 0 ]
