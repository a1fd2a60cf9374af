#!/usr/bin/env bash
# The whole test suite: every uvu test file under dist/test (unit and component tests,
# including live capture in network namespaces, the pty line and the corpus), then the
# appliance image test in QEMU. Each test group (a folder of dist/test, one per
# component) runs on its own and prints its time, so a slow or hanging group shows
# itself. Ends with one "tests: N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
# Every test's temporary files go into one folder of this run: removed when the run
# passes, kept (and named at the end) when it fails, for a look at what went wrong.
# Tests keep the files of a failing case; without this, passing runs left theirs too.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/sealtap-tests.XXXXXX") || { echo "test.sh: cannot create a temporary folder in ${TMPDIR:-/tmp}: free some space there or set TMPDIR" >&2; exit 1; }
# Like /tmp itself: the analysis jail's uid must reach the files tests give it.
chmod 1777 "$run_tmp"
export TMPDIR="$run_tmp"
log="$run_tmp/group.log"

uvu=node_modules/.bin/uvu
passed=0
failed=0
uvu_rc=0
for dir in dist/test/*/; do
  group=$(basename "$dir")
  # test/lib and test/fixtures hold helpers, no tests.
  ls "$dir"*.test.js >/dev/null 2>&1 || continue
  started=$(date +%s%N)
  # uvu runs each file in one process; FORCE_COLOR=0 keeps the summary parseable.
  FORCE_COLOR=0 NO_COLOR=1 "$uvu" "$dir" '\.test\.js$' 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  ms=$((($(date +%s%N) - started) / 1000000))
  total=$(sed -n 's/^ *Total: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  ok=$(sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  total=${total:-0}
  ok=${ok:-0}
  bad=$((total - ok))
  if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  [ "$rc" -ne 0 ] && uvu_rc=$rc
  passed=$((passed + ok))
  failed=$((failed + bad))
  printf 'group %s: %d passed, %d failed in %d.%d s\n\n' "$group" "$ok" "$bad" $((ms / 1000)) $((ms % 1000 / 100))
done

image_rc=0
if [ -x scripts/image/test.sh ] && [ "${SEALTAP_SKIP_IMAGE_TEST:-0}" != 1 ]; then
  echo
  echo "== appliance image test (QEMU) =="
  if scripts/image/test.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); image_rc=1; fi
fi

echo
if [ "$uvu_rc" -eq 0 ] && [ "$image_rc" -eq 0 ]; then
  rm -rf "$run_tmp"
else
  echo "the temporary files of this run are kept in $run_tmp"
fi
echo "tests: ${passed} passed, ${failed} failed"
[ "$uvu_rc" -eq 0 ] && [ "$image_rc" -eq 0 ]
