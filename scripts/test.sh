#!/usr/bin/env bash
# The whole test suite: every uvu test file under dist/test (unit and component tests,
# including live capture in network namespaces, the pty line and the corpus), then the
# appliance image test in QEMU. Ends with one "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# uvu runs each file in one process; FORCE_COLOR=0 keeps the summary parseable.
FORCE_COLOR=0 NO_COLOR=1 npx uvu dist/test '\.test\.js$' 2>&1 | tee "$log"
uvu_rc=${PIPESTATUS[0]}
total=$(sed -n 's/^ *Total: *\([0-9]*\).*/\1/p' "$log" | tail -1)
passed=$(sed -n 's/^ *Passed: *\([0-9]*\).*/\1/p' "$log" | tail -1)
total=${total:-0}
passed=${passed:-0}
failed=$((total - passed))
if [ "$uvu_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

image_rc=0
if [ -x scripts/image/test.sh ] && [ "${SEALTAP_SKIP_IMAGE_TEST:-0}" != 1 ]; then
  echo
  echo "== appliance image test (QEMU) =="
  if scripts/image/test.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); image_rc=1; fi
fi

echo
echo "tests: ${passed} passed, ${failed} failed"
[ "$uvu_rc" -eq 0 ] && [ "$image_rc" -eq 0 ]
