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
# What the destinations print goes to the protocol log `make test` checks
# against the schema (a STATE that breaks it is skipped, never echoed);
# FUZZ_PLOG=FILE writes it for a by-hand check.
plog=()
if [ -n "${FUZZ_PLOG:-}" ]; then plog=(--proto-log "$FUZZ_PLOG")
elif [ -n "${SLUICE_PROTOCOL_LOG_DIR:-}" ]; then plog=(--proto-log "$SLUICE_PROTOCOL_LOG_DIR/fuzz-dest-$$.jsonl"); fi
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
# Regression (found by the fuzzer under ASan): a record 2000 arrays deep with an
# integer beyond 64 bits on its line overflowed the stack (the big-number scan
# recursed once a level); now the line is refused or read, never a crash.
mkdir -p "$TMP/deep"
echo "{\"destination_path\": \"$TMP/deep/out\"}" >"$TMP/deep/config.json"
/usr/bin/python3 -c 'print("{\"type\":\"RECORD\",\"record\":{\"stream\":\"users\",\"data\":" + "[" * 2000 + "1" + "]" * 2000 + ",\"emitted_at\":1000000000000000000000000000000}}")' >"$TMP/deep/in.jsonl"
run deep_big_number bash -c '"$0" write --config "$1" --catalog "$2" <"$3"' "$BIN/destination-jsonl" "$TMP/deep/config.json" \
  "$ROOT/tests/data/destinations/dedup.catalog.json" "$TMP/deep/in.jsonl"
if [ "$RC" = 0 ] || { [ "$RC" -lt 124 ] && grep -q '"failure_type"' "$TMP/deep_big_number.out"; }; then pass deep_big_number; else
  fail deep_big_number "exit $RC: $(tail -c 300 "$TMP/deep_big_number.err")"
fi
finish
