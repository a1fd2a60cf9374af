#!/usr/bin/env bash
# End-to-end test of the appliance image in QEMU (run by scripts/image/test.sh after the
# image is built). Boots the real image with a capture NIC on a tap device in a private
# network namespace, feeds it traffic with tcpreplay, and checks from the outside only:
# the console log, the results line, the tap counters and the spool disk afterwards.
# The analysis firmware comes from a bundle medium, as on the box: test/image/firmware
# built and signed here with the key the image trusts (build/keys/dev.key by default).
# Prints one PASS/FAIL line per check; exits non-zero if any check failed.
#
# Boots (each costs a minute or more under TCG, so each checks as much as it can):
#   run              slot A v1, slot B v2 (active): v2 runs; traffic, privacy, hardening
#   fallback         a signed v3 whose policy the box refuses, in slot A: refused for its content, v2 from slot B runs
#   no-valid-bundle  a medium with no bundle: fatal before any key, power-off
#   no-spool-disk    fatal, power-off
#   no-capture-nic   fatal, power-off
#
# Usage: test/image/boot-test.sh [BOARD]     (logs kept in build/image/test/)
# SEALTAP_IMAGE_ONLY_RUN=1 boots only the first case (while working on the image).
set -uo pipefail
cd "$(dirname "$0")/../.."
board=${1:-qemu-x86_64}
out=build/image/test
boot_timeout=${SEALTAP_BOOT_TIMEOUT:-420}   # TCG on 2 CI cores: ~90 s to capturing
run_timeout=${SEALTAP_RUN_TIMEOUT:-300}     # stop.seconds (30) + analysis + drain, emulated
key=${SEALTAP_BUNDLE_KEY:-build/keys/dev.key}  # signs the test bundles; the image must trust it
ns=sealtap-img-$$
failures=0
qpid= cpid=

. test/image/boot-lib.sh
# prints summary.json's firmware as "name version hash"
summary_firmware() {
  node -e 'const f=require(process.argv[1]).firmware||{};console.log([f.name,f.version,f.hash].join(" "))' "$PWD/$dir/received/summary.json" 2>/dev/null
}
# the analysis firmware that ran: its console line and summary.json's firmware
check_firmware() { # NAME VERSION SLOT
  local want_hash=${hash[$2]} line got
  line="analysis firmware image-test $2.0.0 (security version 1) from slot $3, manifest ${want_hash:0:16}"
  if grep -qF "$line" "$dir/console.log"; then pass "$1: console announces $line"; else fail "$1: no console line '$line'"; fi
  got=$(summary_firmware)
  if [ "$got" = "image-test $2.0.0 $want_hash" ]; then pass "$1: summary.json firmware is image-test $2.0.0, hash $want_hash"; else fail "$1: summary.json firmware '$got', want 'image-test $2.0.0 $want_hash'"; fi
}
# the active slot of medium FILE (A or B), and the length in bytes of one slot's bundle
slot_of() { bin/sealtap bundle medium status --device "$1" | sed -n 's/^ *active slot: \([AB]\).*/\1/p'; }
slot_len() { bin/sealtap bundle medium status --device "$1" | sed -n "s/^ *slot $2: \([0-9]*\) bytes.*/\1/p"; }

prepare_net_and_traffic

# --- the analysis firmware: v1 and v2 of test/image/firmware, signed --------------------
pub=${key%.key}.pub
[ -f "$key" ] && [ -f "$pub" ] || { echo "FAIL: no signing key $key / $pub (scripts/image/build.sh makes build/keys/dev.* on first use)"; exit 1; }
key_id=$(python3 -c 'import hashlib,sys; print(hashlib.blake2b(open(sys.argv[1],"rb").read()[8:],digest_size=32).hexdigest()[:16])' "$pub")
grep -q "^trusted-key .* $key_id" "build/image/$board/manifest.txt" ||
  { echo "FAIL: the image does not trust $pub (key id $key_id): rebuild it with that key in SEALTAP_TRUSTED_KEYS"; exit 1; }
fw=$out/firmware
rm -rf "$fw"; mkdir -p "$fw"
declare -A hash=()
for v in 1 2; do
  bin/sealtap bundle build test/image/firmware --key "$key" --board "$board" --version "$v.0.0" --out "$fw/v$v.sfw" >"$fw/build-v$v.log" 2>&1 ||
    { echo "FAIL: cannot build bundle v$v: $(tail -2 "$fw/build-v$v.log")"; exit 1; }
  hash[$v]=$(bin/sealtap bundle inspect "$fw/v$v.sfw" --pub "$pub" | sed -n 's/^ *bundle hash *\([0-9a-f]\{64\}\).*/\1/p')
  [ ${#hash[$v]} = 64 ] || { echo "FAIL: sealtap bundle inspect shows no bundle hash for v$v"; exit 1; }
done
# The medium after two releases: v1 in slot A, v2 in slot B (active).
medium=$fw/medium.img
{ bin/sealtap bundle medium init --device "$medium" &&
  bin/sealtap bundle flash "$fw/v1.sfw" --device "$medium" --pub "$pub" --board "$board" &&
  bin/sealtap bundle flash "$fw/v2.sfw" --device "$medium" --pub "$pub" --board "$board"; } >"$fw/flash.log" 2>&1 ||
  { echo "FAIL: cannot flash the test medium: $(tail -2 "$fw/flash.log")"; exit 1; }
[ "$(slot_of "$medium")" = B ] || { echo "FAIL: after flashing v1 then v2 the active slot is not B"; exit 1; }
cp --sparse=always "$medium" "$fw/medium-v2.img"   # as flashed, for the bad cases

# --- 1. the normal run -----------------------------------------------------------------
echo "image test: booting $board with a capture NIC, a spool disk, bundle v2 in slot B and traffic"
boot run --bundle "$medium" --spool "$out/run/spool.img"
# Boot time for docs/benchmarks.md: wall clock from QEMU start to init's first line
# and to "capturing"; the kernel's uptime at init and at the supervisor's start.
t_init=
wait_for "$dir/console.log" '^init: sealtap' "$boot_timeout" "$qpid" >/dev/null && t_init=$(($(date +%s) - start))
if wait_for "$dir/console.log" 'capturing' "$boot_timeout" "$qpid" >/dev/null; then
  t=$(($(date +%s) - start))
  pass "run: supervisor reached capturing ${t}s after QEMU started"
  echo "boot: QEMU start to init ${t_init:-?}s, to capturing ${t}s; kernel uptime at init $(sed -n 's/^init: sealtap .*, up \([0-9.]*s\).*/\1/p' "$dir/console.log"), at supervisor start $(sed -n 's/^init: starting supervisor, up \([0-9.]*s\).*/\1/p' "$dir/console.log")" >"$out/boot-time.txt"
else
  fail "run: no 'capturing' within ${boot_timeout}s; console tail:"; tail -20 "$dir/console.log"
fi

# Anything typed at the console must produce nothing: no echo, no prompt, no answer.
probe=sealtap-console-probe-$$
printf 'root\r\n%s\r\nhelp\r\n\003\004' "$probe" >"$dir/console.in"
replay_and_wait run

rx=$(ip netns exec "$ns" cat /sys/class/net/tap0/statistics/rx_packets)
tx=$(ip netns exec "$ns" cat /sys/class/net/tap0/statistics/tx_packets)
if [ "$rx" = 0 ]; then pass "run: the box transmitted 0 frames on the capture NIC (host received $rx, sent $tx)"; else fail "run: the box transmitted $rx frames on the capture NIC"; fi
[ "$tx" -ge "$PACKETS" ] && pass "run: all $PACKETS replayed frames were offered to the box" || fail "run: only $tx of $PACKETS frames reached the tap"
common_checks run
clean_stop run
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
  if receive_line; then
    pass "run: sealtap receive decoded the line: $(node -e 'const s=require(process.argv[1]);console.log(["captured","analysed","frames","badFrames","missingFrames"].map(k=>k+"="+JSON.stringify(s[k])).join(" "))' "$PWD/$dir/received/summary.json")"
  else
    fail "run: sealtap receive failed: $(tail -3 "$dir/receive.log")"
  fi
  # Exactly what was sent: every packet captured, analysed and in trace.pcap; every flow.
  counts=$(node -e '
    const fs = require("fs"); const d = process.argv[1]; const s = require(d + "/summary.json");
    const flows = fs.readFileSync(d + "/flows.jsonl", "utf8").split("\n").filter(Boolean).map(JSON.parse);
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
  check_firmware run 2 B
  # The bundle's hostile module ran in its sandbox: its stream arrived, made safe, its
  # misfits were refused, and every way out it tried was refused.
  module=$(node -e '
    const fs = require("fs"); const d = process.argv[1]; const s = require(d + "/summary.json");
    const rows = (f) => fs.existsSync(d + "/" + f) ? fs.readFileSync(d + "/" + f, "utf8").split("\n").filter(Boolean).map(JSON.parse) : [];
    const probes = rows("probe.jsonl");
    const allowed = probes.filter((p) => p.outcome === "allowed").map((p) => p.probe);
    console.log([s.sandbox, rows("hostile.jsonl").length > 0, s.streamsRefused > 0, probes.length, allowed.join(",") || "none"].join(" "));
  ' "$PWD/$dir/received" 2>/dev/null)
  if [ "$module" = "on true true 6 none" ]; then
    pass "run: the hostile module ran sandboxed; its records were made safe, its misfits refused, its 6 escapes refused"
  else
    fail "run: hostile module 'sandbox records refused probes allowed' = '$module', want 'on true true 6 none'"
  fi
else
  fail "run: the results line is empty"
fi

if [ -n "${SEALTAP_IMAGE_ONLY_RUN:-}" ]; then
  echo "image test: $failures failure(s) (run only); logs in $out"
  [ "$failures" = 0 ]; exit
fi

# --- 2. a new release the box refuses for its content falls back to the previous one ---
# v3, signed with a trusted key and intact, but with a policy that keeps raw source
# addresses, goes into the inactive slot (A) and becomes active, as a flash tool that
# skipped the content check would leave it (`sealtap bundle flash` refuses it). The box
# must refuse A for its content, say why, and run v2 from B, exactly as for a bad
# signature. (Damaged bytes and bad signatures fall back by the same code path, tested
# in test/bundle/boot-select.test.ts and test/supervisor/run-bundle.test.ts.)
echo "image test: booting $board, a content-refused v3 in slot A"
if node dist/test/image/flash-refused-content.js "$key" test/image/firmware "$board" 3.0.0 "$medium" >>"$fw/flash.log" 2>&1 && [ "$(slot_of "$medium")" = A ]; then
  boot fallback --bundle "$medium" --spool "$out/fallback/spool.img"
  if wait_exit "$qpid" "$((boot_timeout + run_timeout))"; then pass "fallback: the box ran and powered off by itself"; else fail "fallback: still running"; stop_box; fi
  qpid=
  wait "$cpid" 2>/dev/null; cpid=
  refusal='active slot refused \(slot A \(active\): policy\.json is refused: .*ip4\.src.*\); falling back to slot B'
  if grep -qE "$refusal" "$dir/console.log"; then pass "fallback: console says: $(grep -oE 'active slot refused.*' "$dir/console.log" | head -1)"; else fail "fallback: no console line matching /$refusal/"; fi
  common_checks fallback
  clean_stop fallback
  if receive_line; then check_firmware fallback 2 B; else fail "fallback: sealtap receive failed: $(tail -3 "$dir/receive.log")"; fi
else
  fail "fallback: writing the content-refused v3 did not make slot A active: $(tail -2 "$fw/flash.log")"
fi

# --- 2. bad cases: a clear message, fatal state, one attempt, power-off ------------------
bad_case() { # NAME REGEX EXIT-STATUS qemu.sh-options...
  local name=$1 want=$2 status=$3; shift 3
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
  exit_status "$name" "$status"
}
bin/sealtap bundle medium init --device "$fw/blank.img" >>"$fw/flash.log" 2>&1 || fail "cannot make a blank medium: $(tail -1 "$fw/flash.log")"
bad_case no-valid-bundle 'fatal: analysis firmware refused on /dev/vdb: .*no bundle' 1 --bundle "$fw/blank.img" --spool "$out/no-valid-bundle.spool.img"
# Refused before any key was made: the spool disk was never opened, let alone written.
if [ -z "$(tr -d '\0' <"$out/no-valid-bundle.spool.img" | head -c 1)" ]; then pass "no-valid-bundle: the spool disk was never written"; else fail "no-valid-bundle: the spool disk was written"; fi
cp --sparse=always "$fw/medium-v2.img" "$fw/medium-bad.img"
bad_case no-spool-disk 'spool.*/dev/vdc' 2 --bundle "$fw/medium-bad.img" --spool none
cp --sparse=always "$fw/medium-v2.img" "$fw/medium-bad.img"
bad_case no-capture-nic 'eth0' 2 --bundle "$fw/medium-bad.img" --no-nic --spool "$out/no-capture-nic.spool.img"

echo "image test: $failures failure(s); logs in $out"
[ "$failures" = 0 ]
