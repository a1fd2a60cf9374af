#!/usr/bin/env bash
# The USB results line end to end, in one boot of the test board qemu-x86_64-usb (run by
# scripts/image/test.sh after boot-test.sh). The box makes its CDC-ACM gadget on
# dummy_hcd's controller and writes ttyGS0; the workstation's end (cdc_acm, ttyACM0) and
# a reader live in the same guest (board/qemu-x86_64-usb/overlay) and copy the line to a
# virtio serial port, a file here that `sealtap receive` decodes after the run. The
# reader writes a probe into the line toward the box, reports how the box holds ttyGS0,
# and, once traffic is captured, goes away twice for 8 s and comes back: its cdc_acm
# unbound (the gadget is told nothing), then its port powered off (the gadget sees a
# disconnect and hangs ttyGS0 up, as when the cable is pulled). Checked from the
# outside only:
#   - everything the box sent arrives, though the host was away twice and each new
#     ttyACM0 opened cooked: summary.json equals the box's END, no frame missing,
#     checkpoints verify, every packet and flow; frames the box re-sent once the host
#     read again are dropped as duplicates;
#   - every fd on ttyGS0 is write-only and non-blocking, before and after each detach;
#   - the probe changes nothing: it never comes back down the line, the run ends clean.
# Prints one PASS/FAIL line per check; exits non-zero if any check failed.
# Usage: test/image/usb-boot-test.sh     (logs kept in build/image/test-usb/)
# SEALTAP_USB_APPEND=ARGS replaces the reader's mode on the kernel command line:
# "sealtap.usb-host=plain" only copies (no probe, no detach), for the line alone;
# "sealtap.usb-host=nodetach" stays attached; "sealtap.usb-host=noprobe" detaches
# without writing a probe; "sealtap.usb-detach=unbind|port|authorized" detaches once,
# that way only.
set -uo pipefail
cd "$(dirname "$0")/../.."
board=qemu-x86_64-usb
out=build/image/test-usb
boot_timeout=${SEALTAP_BOOT_TIMEOUT:-420}
run_timeout=${SEALTAP_RUN_TIMEOUT:-300}
key=${SEALTAP_BUNDLE_KEY:-build/keys/dev.key}
ns=sealtap-usb-$$
failures=0
qpid= cpid=

. test/image/boot-lib.sh

prepare_net_and_traffic
probe=sealtap-usb-probe   # what the reader writes toward the box (board overlay)

# The image test's analysis firmware, signed for this board, on a fresh medium.
fw=$out/firmware
rm -rf "$fw"; mkdir -p "$fw"
{ bin/sealtap bundle build test/image/firmware --key "$key" --board "$board" --out "$fw/fw.sfw" &&
  bin/sealtap bundle medium init --device "$fw/medium.img" &&
  bin/sealtap bundle flash "$fw/fw.sfw" --device "$fw/medium.img" --pub "${key%.key}.pub" --board "$board"; } >"$fw/flash.log" 2>&1 ||
  { echo "FAIL: cannot flash the test medium: $(tail -2 "$fw/flash.log")"; exit 1; }

mode=${SEALTAP_USB_APPEND:-}
echo "image test: booting $board, results over a USB gadget${mode:+ ($mode)}"
boot usb --bundle "$fw/medium.img" --spool "$out/usb/spool.img" --usb-line "$out/usb/usb.raw" ${mode:+--append "$mode"}
if t=$(wait_for "$dir/console.log" 'capturing' "$boot_timeout" "$qpid"); then
  pass "usb: supervisor reached capturing ${t}s after QEMU started"
else
  fail "usb: no 'capturing' within ${boot_timeout}s; console tail:"; tail -20 "$dir/console.log"
fi
replay_and_wait usb
log=$dir/console.log
common_checks usb
clean_stop usb

line=$(grep -o 'USB gadget .* bound to dummy_udc\.0; results line /dev/ttyGS0' "$log" | head -1)
if [ -n "$line" ]; then pass "usb: the supervisor made its gadget: $line"; else fail "usb: no 'USB gadget ... bound to dummy_udc.0' line on the console"; fi
if grep -q '^usb-host: attached: sealtap results line (1d6b:0104)' "$log"; then pass "usb: the host enumerated the gadget as ttyACM0"; else fail "usb: the host never attached: $(grep '^usb-host:' "$log" | tr '\n' ' ')"; fi

# How the box holds ttyGS0: every open the reader saw, before and after the hangup.
mapfile -t fds < <(sed -n 's/^usb-host: box fd: \(.*\) flags \([0-7]\+\)\r\?$/\1 \2/p' "$log")
bad=0
for f in "${fds[@]}"; do
  flags=${f##* }
  # O_ACCMODE (3) must be O_WRONLY (1), and O_NONBLOCK (04000) set
  if [ $((8#$flags & 3)) != 1 ] || [ $((8#$flags & 8#4000)) = 0 ]; then bad=1; fi
done
opens=$(grep -c '^usb-host: box fd: node ' "$log")
detached=$(grep -o '^usb-host: detached (.*' "$log" | sed 's/^usb-host: //')
reattached=$(grep -o '^usb-host: re-attached (.*' "$log" | sed 's/^usb-host: //')
want_opens=1 when=''
[ -n "$detached" ] && want_opens=2 when=', before and after each detach'
if [ "${#fds[@]}" -gt 0 ] && [ "$bad" = 0 ] && [ "$opens" -ge "$want_opens" ]; then
  pass "usb: every fd on ttyGS0 is write-only and non-blocking$when (${#fds[@]} seen: $(printf '%s; ' "${fds[@]}"))"
else
  fail "usb: fds on ttyGS0 (want O_WRONLY|O_NONBLOCK, node's open seen $want_opens time(s)): $(printf '%s; ' "${fds[@]}")"
fi

# The probe, and the host's absences (while traffic was captured, back 8 s later).
if grep -q '^usb-host: wrote a probe into the line toward the box' "$log"; then pass "usb: the host wrote a probe into the line toward the box"; else fail "usb: the probe was not written"; fi
if [[ " $mode " == *" sealtap.usb-host=nodetach "* || " $mode " == *" sealtap.usb-host=plain "* ]]; then
  [ -z "$detached" ] && pass "usb: the host stayed attached (${mode})" || fail "usb: the host detached although $mode"
else
  want_detaches=2
  [[ " $mode " == *" sealtap.usb-detach="* ]] && want_detaches=1
  if [ "$(grep -c . <<<"$detached")" = "$want_detaches" ] && [ "$(grep -c . <<<"$reattached")" = "$want_detaches" ]; then
    pass "usb: the host went away and came back $want_detaches time(s): $(sed 's/; re-attaching in .*//' <<<"$detached" | paste -sd '|' | sed 's/|/; then /g')"
  else
    fail "usb: the host was not detached and re-attached $want_detaches time(s): $(grep '^usb-host:' "$log" | tr '\n' ' ')"
  fi
fi

raw=$dir/usb.raw
if [ ! -s "$raw" ]; then
  fail "usb: nothing arrived over the USB line"
else
  if grep -aq "$probe" "$raw"; then fail "usb: the host's probe came back down the line"; else pass "usb: the host's probe never came back down the line ($(stat -c %s "$raw") bytes)"; fi
  if grep -q "$probe" "$log"; then fail "usb: the probe reached the console"; else pass "usb: the probe did not reach the console"; fi
  if ! found=$(find_bytes "$raw" "$marker_hex" $MACS $IPPAIRS); then
    fail "usb: could not scan the USB line"
  elif [ -z "$found" ]; then pass "usb: the USB line carries no marker, MAC or address pair"; else fail "usb: the USB line carries raw bytes: $found"; fi
  if bin/sealtap receive "$raw" --out "$dir/received" >"$dir/receive.log" 2>&1 && [ -s "$dir/received/summary.json" ]; then
    got=$(node -e '
      const fs = require("fs"); const d = process.argv[1]; const s = require(d + "/summary.json");
      const flows = fs.readFileSync(d + "/flows.jsonl", "utf8").split("\n").filter(Boolean).map(JSON.parse);
      const inFlows = flows.reduce((n, f) => n + f.packets + f.revPackets, 0);
      const cp = s.sessions.reduce((a, x) => [a[0] + x.checkpoints.verified, a[1] + x.checkpoints.failed], [0, 0]);
      console.log(JSON.stringify({
        end: [s.complete, s.recordsMatchEnd, s.missingFrames, s.channel.outboxDropped],
        counts: [s.captured, s.analysed, s.outputs.packets, flows.length, inFlows].join(" "),
        checkpoints: cp, duplicates: s.channel.duplicateFrames, sessions: s.sessions.length,
      }));
    ' "$PWD/$dir/received" 2>&1)
    echo "usb: receiver: $got" >"$dir/checks.txt"
    field() { node -e 'const o=JSON.parse(process.argv[1]);console.log(JSON.stringify(o[process.argv[2]]))' "$got" "$1" 2>/dev/null; }
    if [ "$(field end)" = '[true,true,0,0]' ]; then
      pass "usb: summary.json equals the box's END: complete, every record type counted as sent, no frame missing, nothing dropped"
    else
      fail "usb: summary [complete, recordsMatchEnd, missingFrames, outboxDropped] = $(field end), want [true,true,0,0]"
    fi
    want="$PACKETS $PACKETS $PACKETS $FLOWS $PACKETS"
    if [ "$(field counts)" = "\"$want\"" ]; then
      pass "usb: received exactly what was sent${detached:+, though the host was away while it was captured}: $PACKETS packets captured, analysed and in trace.pcap, $FLOWS flows"
    else
      fail "usb: 'captured analysed trace.pcap flows packets-in-flows' = $(field counts), sent '$want'"
    fi
    cp=$(field checkpoints)
    if [ "$(field sessions)" = 1 ] && [[ "$cp" =~ ^\[([1-9][0-9]*),0\]$ ]]; then pass "usb: one session, ${BASH_REMATCH[1]} checkpoints verified, none failed"; else fail "usb: sessions $(field sessions), checkpoints [verified, failed] = $cp"; fi
    # A host that comes back opens a cooked ttyACM0 and loses the start of the box's
    # backlog; the box re-sends its recent frames once the line is read again
    # (line-resume.ts), and the receiver drops those it already had.
    dups=$(field duplicates)
    if [ -z "$detached" ]; then echo "usb: duplicate frames dropped by the receiver: $dups"
    elif [ "${dups:-0}" -gt 0 ]; then pass "usb: the box re-sent its recent frames after the host came back ($dups duplicate frames dropped by the receiver)"
    else fail "usb: no frame was re-sent after the host came back (duplicates: $dups)"; fi
    if grep -aqE "$MARKER|02:a1:b2:c3:d4:0[12]|198\.51\.100\.23|203\.0\.113\.77|192\.0\.2\.144" -r "$dir/received" 2>/dev/null; then fail "usb: raw data in the received files"; else pass "usb: no marker or raw address in the received files"; fi
  else
    fail "usb: sealtap receive failed: $(tail -3 "$dir/receive.log")"
  fi
fi

echo "image test: usb: $failures failure(s); logs in $out"
[ "$failures" = 0 ]
