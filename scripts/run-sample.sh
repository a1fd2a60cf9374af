#!/usr/bin/env bash
# make run: the whole sealed pipeline on the bundled sample traffic, into a local
# serial line (a pty pair from socat), with `sealtap receive` on the other end showing
# the operator log live and writing the results into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build out
rm -rf build/spool out/results && mkdir -p build/spool

node dist/tools/samplegen/main.js --out build/sample.pcap --expect >/dev/null
echo "sample traffic: $(node -p "require('./build/sample.pcap.expect.json').packets") packets in build/sample.pcap"

# The serial line: two pty ends linked at build/line-box (the box writes) and
# build/line-ws (the workstation reads).
socat pty,raw,echo=0,link=build/line-box pty,raw,echo=0,link=build/line-ws 2>build/socat.log &
socat_pid=$!
cleanup() { kill "$socat_pid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 50); do [ -e build/line-box ] && [ -e build/line-ws ] && break; sleep 0.1; done

bin/sealtap receive build/line-ws --out out/results --baud 921600 --follow --until-end &
receiver_pid=$!
sleep 0.5

echo "== box: sealtap run --config sample/run.json (operator console) =="
box_rc=0
bin/sealtap run --config sample/run.json 2>build/box-console.log || box_rc=$?
if [ "$box_rc" -ne 0 ]; then
  # The box stopped without a clean END: give the receiver a moment, then end it.
  sleep 2
  kill -TERM "$receiver_pid" 2>/dev/null || true
fi
wait "$receiver_pid" || true
echo
echo "== box console log (build/box-console.log) =="
tail -n 4 build/box-console.log
echo
echo "results in out/results:"
ls -l out/results
echo
echo "run report: out/results/report.html (open it in a browser; it needs no network)"
exit "$box_rc"
