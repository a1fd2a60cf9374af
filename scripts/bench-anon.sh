#!/usr/bin/env bash
# Anonymization benchmark: sealtap's decode + default policy + packets output against
# `traceanon -s -d` (libtrace-tools, Crypto-PAn on source and destination), side by side
# on the same generated IMIX trace, read from the page cache, written to the same disk.
#
# sealtap side: bench/anon/main.ts (decodePacket into one reused PacketView, the built-in
# packets analysis with the default policy and fresh Keyring subkeys, records streamed
# into a pcap file). Timed from its first read to its output closed (node start-up and
# compilation excluded; the process wall time is printed too). Two rows: the default
# policy (payload dropped, the product's output) and the same policy with
# "payload": "zero" (full-length packets, the same bytes out as traceanon writes).
# traceanon side: wall time of the whole process.
# Target: sealtap (default policy) at least 1.5x traceanon's packets/s.
#
# Afterwards tshark checks checksums on the first BENCH_CHECK_PACKETS packets of the
# input and of each output (sealtap keeps checksums valid; traceanon rewrites them its
# own way). Then the peak-RSS run: the built-in flows analysis over a BENCH_RSS_PACKETS
# IMIX trace with 60000 IPv4 and 60000 IPv6 flows (more than the 65536-entry flow table,
# so it evicts); target: peak RSS under 300 MB.
#
# Run by `make bench-anon` (after the build and scripts/setup.sh bench).
# Environment (defaults in brackets):
#   BENCH_PACKETS [1000000]        packets in the throughput trace
#   BENCH_RUNS [3]                 timed runs per tool (the median is compared)
#   BENCH_RSS_PACKETS [10000000]   packets in the peak-RSS trace; 0 skips that run
#   BENCH_CHECK_PACKETS [10000]    packets tshark checks for checksums
#   BENCH_TOOLS ["traceanon sealtap sealtap-zero"]
#   BENCH_E2E [packets packets-live packets-shards2 module-packets flows flows-live flows-shards2]
#                                  end-to-end rows (sealtap run + sealtap receive); "" skips
#                                  (with BENCH_RSS_PACKETS > 0 and the packets row, also one
#                                  packets run over the peak-RSS trace, for memory)
#   BENCH_DIR [out/bench-anon]     traces (kept for the next run) and outputs (removed)
# End-to-end rows: the whole path a user runs, `sealtap run` (capture of the file into
# the sealed spool, the analysis, the egress guard, the outbox, the framer, a line file)
# then `sealtap receive` (to trace.pcap / flows files), on the same trace, beside
# traceanon's median: "packets" (the built-in packets output), "module-packets" (the
# same packets by reference from a module in its sandbox: bench/anon/packet-ref-module.js),
# "flows" (the built-in flows output); ROW-shardsN runs ROW with analysis.shards N
# (1 otherwise: the rows stay comparable on any machine). ROW-live (e.g. packets-live):
# the line is a FIFO that `sealtap receive` reads while `sealtap run` writes it, as on a
# serial line, so the stages overlap; run-s is then until the box is done and recv-s the
# receiver's time after that. Peak RSS per process (supervisor, analysis, module,
# receiver) is sampled by scripts/bench-e2e-rss.sh.
#
# Exit: 0 measured (whether or not a target is met); 2 cannot run here; 3 a tool failed
# (or sealtap wrote a bad checksum).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKETS=${BENCH_PACKETS:-1000000}
RUNS=${BENCH_RUNS:-3}
RSS_PACKETS=${BENCH_RSS_PACKETS:-10000000}
CHECK_PACKETS=${BENCH_CHECK_PACKETS:-10000}
TOOLS=${BENCH_TOOLS:-traceanon sealtap sealtap-zero}
DIR=${BENCH_DIR:-out/bench-anon}
TARGET_RATIO=1.5
RSS_LIMIT_MB=300

die() { echo "bench-anon: $*" >&2; exit 2; }
for t in traceanon tshark /usr/bin/time node; do
  command -v "$t" >/dev/null || die "$t is missing: run scripts/setup.sh bench"
done
[ -f dist/tools/samplegen/main.js ] || die "dist/tools/samplegen/main.js is missing: run make build"
[ -f dist/bench/anon/main.js ] || die "dist/bench/anon/main.js is missing: run make build"
[[ $PACKETS =~ ^[1-9][0-9]*$ ]] || die "BENCH_PACKETS must be a positive whole number, got '$PACKETS'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive whole number, got '$RUNS'"
[[ $RSS_PACKETS =~ ^[0-9]+$ ]] || die "BENCH_RSS_PACKETS must be a whole number (0 skips the RSS run), got '$RSS_PACKETS'"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# traceanon's Crypto-PAn key: 32 random bytes in a file only root can read, removed at exit.
KEY="$DIR/traceanon.key"
cleanup() { rm -f "$KEY" "$DIR"/out-*.pcap "$DIR"/check-*.pcap; }
trap cleanup EXIT
( umask 077; head -c 32 /dev/urandom >"$KEY" )

trace_for() { # name kind packets [samplegen args...] -> path (generated once, then reused)
  local name=$1 kind=$2 n=$3; shift 3
  local path="$DIR/$name-$n.pcap"
  if [ ! -s "$path" ]; then
    echo "generating $path" >&2
    # Written under a temporary name: an interrupted run must not leave a short trace behind.
    node dist/tools/samplegen/main.js --kind "$kind" --packets "$n" --seed 1 "$@" --out "$path.tmp" >/dev/null 2>"$DIR/samplegen.log" ||
      { rm -f "$path.tmp"; cat "$DIR/samplegen.log" >&2; die "samplegen could not write $path (disk full?)"; }
    mv "$path.tmp" "$path"
  fi
  echo "$path"
}

# Reads the whole file so both tools start from the page cache.
warm() { cat "$1" >/dev/null; }

now_ns() { date +%s%N; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
json_field() { node -e 'const o=JSON.parse(process.argv[1]);console.log(o[process.argv[2]])' "$1" "$2"; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR]=$1} END { if (NR % 2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2 }'; }
mpps() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.3f", n / s / 1e6; else print "-" }'; }
packets_in() { capinfos -c -M "$1" 2>/dev/null | awk -F: '/Number of packets/ { gsub(/ /, "", $2); print $2 }'; }

# One timed run; sets R_SECONDS (compared), R_WALL (whole process), R_CPU (user + system
# seconds of what R_SECONDS times), R_RSS_KB, R_OUT.
run_traceanon() {
  local in=$1 t0 t1
  R_OUT="$DIR/out-traceanon.pcap"
  rm -f "$R_OUT"
  t0=$(now_ns)
  /usr/bin/time -f '%U %S %M' -o "$DIR/time.txt" traceanon -s -d -f "$KEY" "pcapfile:$in" "pcapfile:$R_OUT" >"$DIR/traceanon.log" 2>&1 ||
    { echo "traceanon failed:"; cat "$DIR/traceanon.log"; return 1; }
  t1=$(now_ns)
  R_SECONDS=$(seconds_between "$t0" "$t1") R_WALL=$R_SECONDS
  read -r R_CPU R_RSS_KB <<<"$(tail -n 1 "$DIR/time.txt" | awk '{ printf "%.3f %d", $1 + $2, $3 }')"
}

run_sealtap_payload() {
  local in=$1 payload=$2 t0 t1 json
  R_OUT="$DIR/out-sealtap-$payload.pcap"
  rm -f "$R_OUT"
  t0=$(now_ns)
  json=$(node dist/bench/anon/main.js packets --in "$in" --out "$R_OUT" --payload "$payload") || { echo "sealtap benchmark driver failed"; return 1; }
  t1=$(now_ns)
  R_SECONDS=$(json_field "$json" seconds) R_WALL=$(seconds_between "$t0" "$t1") R_RSS_KB=$(json_field "$json" maxRssKiB)
  R_CPU=$(json_field "$json" cpuSeconds)
  [ "$(json_field "$json" packets)" = "$PACKETS" ] || { echo "sealtap read $(json_field "$json" packets) of $PACKETS packets"; return 1; }
}
run_sealtap() { run_sealtap_payload "$1" drop; }
run_sealtap-zero() { run_sealtap_payload "$1" zero; }

# Checksum verdicts tshark gives the first CHECK_PACKETS packets: "ip good/bad/unverified tcp ... udp ...".
checksum_verdicts() {
  tshark -r "$1" -c "$CHECK_PACKETS" -n -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -T fields -e ip.checksum.status -e tcp.checksum.status -e udp.checksum.status 2>/dev/null |
    awk -F'\t' '
      # Wireshark checksum status: 0 bad, 1 good, 2 unverified, 3 not present (UDP checksum 0).
      { for (i = 1; i <= 3; i++) if ($i != "") { split($i, v, ","); n[i, v[1]]++ } }
      END { split("ip tcp udp", p, " "); for (i = 1; i <= 3; i++) printf "%s %d/%d/%d/%d  ", p[i], n[i,1], n[i,0], n[i,2], n[i,3]; print "" }'
}

# Source and destination of the first CHECK_PACKETS packets, to see that addresses were anonymized.
ip_pairs() { tshark -r "$1" -c "$CHECK_PACKETS" -n -T fields -e ip.src -e ip.dst 2>/dev/null; }

trace=$(trace_for imix imix "$PACKETS")
warm "$trace"
echo "anonymization benchmark: $PACKETS-packet IMIX trace $(basename "$trace") ($(du -m "$trace" | cut -f1) MB), $RUNS runs per tool, $(nproc) CPUs, $(node --version), $(dpkg-query -W -f='libtrace-tools ${Version}' libtrace-tools 2>/dev/null)"
cat <<'EOF'
seconds: traceanon's whole process; sealtap's processing loop (read, decode, policy, write),
with its node process's wall time in brackets. Median of the runs. Mpps: packets / seconds.
cpu-s: user + system CPU of the same span (less disturbed by other load on the machine).
sealtap = default policy (headers only, payload dropped); sealtap-zero = default policy with
"payload": "zero" (full-length packets, like traceanon's output).
EOF

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows both tools; compare the CPU columns then)"
status=0
declare -A secs=() cpus=() walls=() rows=() outs=()
for run in $(seq 1 "$RUNS"); do
  for tool in $TOOLS; do
    warm "$trace"
    if "run_$tool" "$trace"; then
      secs[$tool]="${secs[$tool]:-} $R_SECONDS"
      cpus[$tool]="${cpus[$tool]:-} $R_CPU"
      walls[$tool]="${walls[$tool]:-} $R_WALL"
      rows[$tool]="$R_RSS_KB $(du -m "$R_OUT" | cut -f1)"
      echo "  run $run $tool: $R_SECONDS s (process $R_WALL s), cpu $R_CPU s"
      # Keep the last run's output for the checks, as a short sample.
      if [ "$run" = "$RUNS" ]; then
        outs[$tool]="$DIR/check-$tool.pcap"
        editcap -F pcap -r "$R_OUT" "${outs[$tool]}" "1-$CHECK_PACKETS" 2>/dev/null
        [ "$tool" = traceanon ] && R_TRACEANON_PACKETS=$(packets_in "$R_OUT")
      fi
      rm -f "$R_OUT"
    else
      echo "  run $run $tool: FAILED"
      status=3
    fi
  done
done

printf '\n%-13s %9s %9s %9s %8s %8s %9s %8s\n' tool packets seconds '(process)' Mpps cpu-s 'peak-RSS' 'out-MB'
declare -A rate=() cpu=()
for tool in $TOOLS; do
  [ -n "${secs[$tool]:-}" ] || continue
  s=$(echo "${secs[$tool]}" | median)
  cpu[$tool]=$(echo "${cpus[$tool]}" | median)
  wall=$(echo "${walls[$tool]}" | median)
  read -r rss outmb <<<"${rows[$tool]}"
  rate[$tool]=$(mpps "$PACKETS" "$s")
  printf '%-13s %9s %9s %9s %8s %8s %8sM %8s\n' "$tool" "$PACKETS" "$s" "($wall)" "${rate[$tool]}" "${cpu[$tool]}" "$((rss / 1024))" "$outmb"
done
secs_traceanon_median=""
[ -n "${secs[traceanon]:-}" ] && secs_traceanon_median=$(echo "${secs[traceanon]}" | median)
if [ -n "${rate[traceanon]:-}" ]; then
  [ "${R_TRACEANON_PACKETS:-$PACKETS}" = "$PACKETS" ] || echo "note: traceanon wrote ${R_TRACEANON_PACKETS} of $PACKETS packets"
  for tool in sealtap sealtap-zero; do
    [ -n "${rate[$tool]:-}" ] || continue
    ratio=$(awk -v a="${rate[$tool]}" -v b="${rate[traceanon]}" 'BEGIN { printf "%.2f", a / b }')
    verdict=$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r >= t) ? "met" : "MISSED" }')
    cratio=$(awk -v a="${cpu[$tool]}" -v b="${cpu[traceanon]}" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')
    if [ "$tool" = sealtap ]; then
      echo "$tool/traceanon: ${ratio}x packets/s (target >= ${TARGET_RATIO}x: $verdict); ${cratio}x packets per CPU-second"
    else
      echo "$tool/traceanon: ${ratio}x packets/s, ${cratio}x packets per CPU-second (full-length output; for comparison)"
    fi
  done
fi

echo
echo "checksums of the first $CHECK_PACKETS packets, good/bad/unverified/none (unverified: tshark"
echo "cannot check it, e.g. TCP/UDP without their payload; none: UDP checksum 0, 'no checksum'):"
printf '  %-13s %s\n' input "$(checksum_verdicts "$trace")"
for tool in $TOOLS; do
  [ -n "${outs[$tool]:-}" ] || continue
  line=$(checksum_verdicts "${outs[$tool]}")
  printf '  %-13s %s\n' "$tool" "$line"
  # sealtap must keep every checksum that was valid on input valid (the input's are all valid).
  same=$(paste <(ip_pairs "$trace") <(ip_pairs "${outs[$tool]}") | awk -F'\t' '$1 == $3 || $2 == $4 { n++ } END { print n + 0 }')
  echo "  $tool: $same of $CHECK_PACKETS packets kept a source or destination address unchanged"
  if [ "$tool" != traceanon ]; then
    bad=$(echo "$line" | awk '{ for (i = 2; i <= NF; i += 2) { split($i, v, "/"); b += v[2] } } END { print b + 0 }')
    [ "$bad" = 0 ] || { echo "  $tool: $bad bad checksums where the input's were valid"; status=3; }
  fi
done

if [ "$RSS_PACKETS" -gt 0 ]; then
  echo
  rss_trace=$(trace_for imix-v6-f60000 imix "$RSS_PACKETS" --ipv6 --flows 60000)
  json=$(/usr/bin/time -f '%M' -o "$DIR/time.txt" node dist/bench/anon/main.js flows --in "$rss_trace") || { echo "flows run failed"; exit 3; }
  rss_kb=$(tail -n 1 "$DIR/time.txt")
  rss_mb=$((rss_kb / 1024))
  verdict=$([ "$rss_mb" -lt "$RSS_LIMIT_MB" ] && echo met || echo MISSED)
  echo "flows over $(json_field "$json" packets) packets ($(basename "$rss_trace")): $(json_field "$json" records) flow records," \
    "$(json_field "$json" seconds) s ($(json_field "$json" mpps) Mpps), peak RSS ${rss_mb} MB (target < ${RSS_LIMIT_MB} MB: $verdict)"
fi
E2E=${BENCH_E2E-packets packets-live packets-shards2 module-packets flows flows-live flows-shards2}
# e2e_once ROW TRACE PACKETS: sealtap run + sealtap receive of TRACE with ROW's outputs, the
# peak RSS of each process sampled; sets E2E_RUN_S and E2E_RECV_S, returns 1 on a failure.
# A receiver waiting on a FIFO the box never opened (or left): an empty writer gives it
# end of file, so it exits instead of waiting for ever.
end_fifo() { timeout 5 sh -c ': >"$1"' _ "$1" || true; wait "$2" || true; }
e2e_once() {
  local row=$1 tr=$2 n=$3 extra shards=1 t0 t1 t2 got live=0 line recvpid=""
  rm -rf "$DIR/e2e" && mkdir -p "$DIR/e2e/spool"
  if [[ $row == *-live ]]; then live=1 row=${row%-live}; fi
  if [[ $row =~ ^(.*)-shards([0-9]+)$ ]]; then shards=${BASH_REMATCH[2]}; fi
  line="$DIR/e2e/line.raw"
  if [ "$live" = 1 ]; then line="$DIR/e2e/line.fifo"; mkfifo "$line"; fi
  case ${row%-shards*} in
    packets) extra="\"outputs\": [\"packets\"], \"analysis\": {\"shards\": $shards}" ;;
    module-packets) extra="\"outputs\": [], \"analysis\": {\"module\": \"$PWD/bench/anon/packet-ref-module.js\", \"shards\": $shards}" ;;
    flows) extra="\"outputs\": [\"flows\"], \"analysis\": {\"shards\": $shards}" ;;
    *) die "unknown BENCH_E2E row $row (packets, module-packets, flows, each optionally -shardsN, then optionally -live)" ;;
  esac
  cat >"$DIR/e2e/run.json" <<JSON
{ "source": { "pcap": "$tr" }, "spool": { "dir": "$DIR/e2e/spool", "bytes": 268435456 },
  "channel": { "path": "$line" }, "stop": { "endOfSource": true }, "policy": "default", $extra }
JSON
  warm "$tr"
  t0=$(now_ns)
  if [ "$live" = 1 ]; then
    # The receiver reads the line as the box writes it, as on a serial line.
    scripts/bench-e2e-rss.sh "$DIR/e2e/rss-recv.txt" -- bin/sealtap receive "$line" --out "$DIR/e2e/out" >"$DIR/e2e/recv.log" 2>&1 &
    recvpid=$!
  fi
  scripts/bench-e2e-rss.sh "$DIR/e2e/rss-run.txt" -- bin/sealtap run --config "$DIR/e2e/run.json" >"$DIR/e2e/run.log" 2>&1 ||
    { echo "  $row: sealtap run failed:"; tail -5 "$DIR/e2e/run.log"; [ -z "$recvpid" ] || end_fifo "$line" "$recvpid"; return 1; }
  t1=$(now_ns)
  if [ "$live" = 1 ]; then
    wait "$recvpid" || { echo "  $row: sealtap receive failed:"; tail -5 "$DIR/e2e/recv.log"; return 1; }
  else
    scripts/bench-e2e-rss.sh "$DIR/e2e/rss-recv.txt" -- bin/sealtap receive "$line" --out "$DIR/e2e/out" >"$DIR/e2e/recv.log" 2>&1 ||
      { echo "  $row: sealtap receive failed:"; tail -5 "$DIR/e2e/recv.log"; return 1; }
  fi
  t2=$(now_ns)
  E2E_RUN_S=$(seconds_between "$t0" "$t1") E2E_RECV_S=$(seconds_between "$t1" "$t2")
  got=$(json_field "$(cat "$DIR/e2e/out/summary.json")" analysed)
  [ "$got" = "$n" ] || { echo "  $row: analysed $got of $n packets"; return 1; }
}
mb() { awk -v r="$1" '$1 == r { printf "%d", $2 / 1024; f = 1 } END { if (!f) printf "-" }' "$DIR"/e2e/rss-*.txt; }
cpu() { awk -v r="$1" '$1 == r { printf "%s", $3; f = 1 } END { if (!f) printf "-" }' "$DIR"/e2e/rss-*.txt; }
if [ -n "$E2E" ]; then
  echo
  echo "end to end: sealtap run + sealtap receive on $(basename "$trace"), seconds of each (median of $RUNS), beside traceanon (${secs_traceanon_median:-?} s)"
  printf '%-15s %8s %8s %8s %8s %7s  %s\n' row run-s recv-s total-s Mpps ratio 'peak RSS MB (supervisor analysis module receiver); CPU-s of the last run (supervisor analysis module receiver)'
  for row in $E2E; do
    runs=() recvs=()
    for run in $(seq 1 "$RUNS"); do
      e2e_once "$row" "$trace" "$PACKETS" || { status=3; continue 2; }
      runs+=("$E2E_RUN_S") recvs+=("$E2E_RECV_S")
    done
    [ ${#runs[@]} -gt 0 ] || continue
    rs=$(echo "${runs[*]}" | median) rv=$(echo "${recvs[*]}" | median)
    total=$(awk -v a="$rs" -v b="$rv" 'BEGIN { printf "%.3f", a + b }')
    ratio=$(awk -v t="$total" -v b="${secs_traceanon_median:-0}" 'BEGIN { if (t > 0 && b > 0) printf "%.2fx", b / t; else print "-" }')
    printf '%-15s %8s %8s %8s %8s %7s  %s %s %s %s; %s %s %s %s\n' "$row" "$rs" "$rv" "$total" "$(mpps "$PACKETS" "$total")" "$ratio" "$(mb supervisor)" "$(mb analysis)" "$(mb module)" "$(mb receiver)" \
      "$(cpu supervisor)" "$(cpu analysis)" "$(cpu module)" "$(cpu receiver)"
  done
  # Memory over a long run: the packets output end to end over the peak-RSS trace.
  if [ "$RSS_PACKETS" -gt 0 ] && [[ " $E2E " == *" packets "* ]]; then
    rss_trace=$(trace_for imix-v6-f60000 imix "$RSS_PACKETS" --ipv6 --flows 60000)
    if e2e_once packets "$rss_trace" "$RSS_PACKETS"; then
      worst=0
      for r in supervisor analysis receiver; do v=$(mb "$r"); [ "$v" != - ] && [ "$v" -gt "$worst" ] && worst=$v; done
      printf '%-15s %8s %8s %8s %8s %7s  %s %s %s %s (target < 256 MB: %s)\n' "packets-$((RSS_PACKETS / 1000000))M" "$E2E_RUN_S" "$E2E_RECV_S" \
        "$(awk -v a="$E2E_RUN_S" -v b="$E2E_RECV_S" 'BEGIN { printf "%.3f", a + b }')" "$(mpps "$RSS_PACKETS" "$(awk -v a="$E2E_RUN_S" -v b="$E2E_RECV_S" 'BEGIN { print a + b }')")" - \
        "$(mb supervisor)" "$(mb analysis)" "$(mb module)" "$(mb receiver)" "$([ "$worst" -lt 256 ] && echo met || echo MISSED)"
    else
      status=3
    fi
  fi
  rm -rf "$DIR/e2e"
fi

rm -f "$DIR/time.txt" "$DIR/traceanon.log" "$DIR/samplegen.log"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
