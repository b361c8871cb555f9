#!/usr/bin/env bash
# Fuzzing the Airbyte protocol input of destinations (tests/fuzz/fuzz_dest.py):
# mutated RECORD/STATE lines from tests/data/destinations fed to `write` of
# destination-jsonl, -sqlite and -csv. Fixed seed, bounded cases; by hand:
# FUZZ_CASES=5000 FUZZ_SEED=N FUZZ_KEEP=DIR bash tests/e2e/fuzz-dest.sh build-asan/bin
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
out=${FUZZ_KEEP:-$TMP/fuzz}
plog=()
if [ -n "${SLUICE_PROTOCOL_LOG_DIR:-}" ]; then
  plog=(--proto-log "$SLUICE_PROTOCOL_LOG_DIR/fuzz-dest-$$.jsonl")
fi
cases=${FUZZ_CASES:-}
if [ -z "$cases" ]; then
  if [ "$(ldd "$BIN/destination-jsonl" 2>/dev/null | grep -c libasan)" != 0 ]; then cases=100; else cases=150; fi
fi
run fuzz timeout -k 5 900 /usr/bin/python3 "$ROOT/tests/fuzz/fuzz_dest.py" "$BIN" "$out" --cases "$cases" \
  --seed "${FUZZ_SEED:-7}" "${plog[@]}"
cat "$TMP/fuzz.out"
if [ "$RC" = 0 ]; then pass "fuzz-dest/$cases-cases"; else
  fail "fuzz-dest/$cases-cases" "$(grep -c '^FAIL' "$TMP/fuzz.out") failing case(s) (FUZZ_KEEP=DIR keeps them)"
  tail -n 5 "$TMP/fuzz.err"
fi
finish
