#!/usr/bin/env bash
# Fuzzing the declarative engine with bad input (tests/fuzz/fuzz_lowcode.py):
# mutated manifests, configs, states and mock API replies, fed to `sluice
# manifest validate`, spec/check/discover/read and `sluice builder test-read`.
# A fixed seed and a bounded number of cases keep it deterministic and short;
# by hand: FUZZ_CASES=20000 FUZZ_SEED=N bash tests/e2e/fuzz-lowcode.sh build-asan/bin
# (FUZZ_KEEP=DIR keeps the failing cases there). Then the reproducers of the
# bugs it found (tests/fuzz/regress/*) are replayed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
FUZZ="$ROOT/tests/fuzz/fuzz_lowcode.py"
out=${FUZZ_KEEP:-$TMP/fuzz}
plog=()
if [ -n "${SLUICE_PROTOCOL_LOG_DIR:-}" ]; then
  plog=(--proto-log "$SLUICE_PROTOCOL_LOG_DIR/fuzz-lowcode-$$.jsonl")
fi
# ASan builds are several times slower: fewer cases by default.
cases=${FUZZ_CASES:-}
if [ -z "$cases" ]; then
  if [ "$(ldd "$BIN/sluice" 2>/dev/null | grep -c libasan)" != 0 ]; then cases=80; else cases=150; fi
fi
run fuzz timeout -k 5 900 /usr/bin/python3 "$FUZZ" run "$BIN" "$out" --cases "$cases" \
  --seed "${FUZZ_SEED:-7}" --jobs 2 "${plog[@]}"
cat "$TMP/fuzz.out"
if [ "$RC" = 0 ]; then pass "fuzz/$cases-cases"; else
  fail "fuzz/$cases-cases" "$(grep -c '^FAIL' "$TMP/fuzz.out") failing case(s) (FUZZ_KEEP=DIR keeps them)"
  tail -n 5 "$TMP/fuzz.err"
fi
for r in "$ROOT"/tests/fuzz/regress/*/; do
  [ -d "$r" ] || continue
  n=$(basename "$r")
  run "regress-$n" env TMPDIR="$TMP" timeout -k 5 120 /usr/bin/python3 "$FUZZ" replay "$BIN" "$r"
  if [ "$RC" = 0 ]; then pass "regress/$n"; else fail "regress/$n" "$(head -c 300 "$TMP/regress-$n.out")"; fi
done
finish
