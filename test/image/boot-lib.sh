# Helpers shared by the image boot tests (boot-test.sh, usb-boot-test.sh), sourced.
# The caller sets board, out, ns (the network namespace) and failures=0 qpid= cpid=,
# and removes the namespace and stops the box on exit (cleanup).
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
# A run that ends well never returns to init: the supervisor wipes its keys and powers
# the box off itself (board atExit). init's "supervisor exited" line means it crashed.
clean_stop() { # NAME
  if grep -q 'NOTE  .*; keys wiped' "$dir/console.log" && ! grep -q '^init: supervisor exited' "$dir/console.log"; then
    pass "$1: the supervisor finished, wiped its keys and powered the box off itself"
  else
    fail "$1: the supervisor did not finish cleanly: $(grep -E 'keys wiped|^init: supervisor exited' "$dir/console.log" | tr '\n' ' ')"
  fi
}
# the supervisor's exit status as init reported it (a refused run returns to init)
exit_status() { # NAME WANT
  local got
  got=$(sed -n 's/^init: supervisor exited with status \([0-9]*\).*/\1/p' "$dir/console.log")
  if [ "$got" = "$2" ]; then pass "$1: supervisor exited with status $2"; else fail "$1: supervisor exited with status '${got:-none}', want $2"; fi
}
# receives $dir/results.raw into $dir/received; returns 1 on failure
receive_line() {
  bin/sealtap receive "$dir/results.raw" --out "$dir/received" >"$dir/receive.log" 2>&1 && [ -s "$dir/received/summary.json" ]
}
# replays the test traffic into the box, then waits for it to power off by itself
replay_and_wait() { # NAME
  ip netns exec "$ns" tcpreplay -q -i tap0 --pps 100 "$out/traffic.pcap" >"$dir/tcpreplay.log" 2>&1 ||
    fail "$1: tcpreplay failed: $(tail -2 "$dir/tcpreplay.log")"
  if wait_exit "$qpid" "$run_timeout"; then
    pass "$1: the box stopped and QEMU exited by itself"
  else
    fail "$1: still running ${run_timeout}s after the traffic; console tail:"; tail -20 "$dir/console.log"
    stop_box
  fi
  qpid=
  wait "$cpid" 2>/dev/null; cpid=
}
# the network namespace for the tap, and the test traffic with its facts (PACKETS,
# FLOWS, MACS, IPPAIRS, MARKER, marker_hex); exits on failure
prepare_net_and_traffic() {
  mkdir -p "$out"
  ip netns add "$ns" || { echo "FAIL: cannot create network namespace $ns (needs root)"; exit 1; }
  facts=$(python3 test/image/make-traffic.py "$out/traffic.pcap") || { echo "FAIL: cannot write the test traffic"; exit 1; }
  eval "$facts"
  [ -n "${MACS:-}" ] && [ -n "${IPPAIRS:-}" ] && [ -n "${FLOWS:-}" ] && [ -n "${MARKER:-}" ] || { echo "FAIL: make-traffic.py did not describe its traffic"; exit 1; }
  marker_hex=$(printf %s "$MARKER" | od -An -tx1 | tr -d ' \n')
}
