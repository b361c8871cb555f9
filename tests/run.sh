#!/usr/bin/env bash
# Runs every test suite: unit tests and end-to-end scripts against each
# build directory given (normal and ASan/UBSan), then validates every
# protocol message the runs produced against the official Airbyte schema.
# Prints one closing line: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build)
total_pass=0 total_fail=0 failed_suites=() timings=()
logdir=$(mktemp -d /tmp/sluice-protocol-XXXXXX)
trap 'rm -rf "$logdir"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# run_suite NAME CMD...: runs a suite, adds up its "N passed, M failed" line.
run_suite() {
  local name=$1; shift
  local out rc t0=$SECONDS
  echo "== $name"
  out=$("$@" 2>&1); rc=$?
  # Every failed check, even those above the tail (a log is all CI keeps).
  if [ "$(printf '%s\n' "$out" | head -n -60 | grep -c '^FAIL')" != 0 ]; then
    echo "   (failed checks above the last 60 lines:)"
    printf '%s\n' "$out" | head -n -60 | grep -A3 '^FAIL' | head -n 80
  fi
  printf '%s\n' "$out" | tail -n 60
  echo "-- $name: $((SECONDS - t0)) s"
  timings+=("$((SECONDS - t0)) s  $name")
  local line
  line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -n "$line" ]; then
    local p f
    p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  fi
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    failed_suites+=("$name")
    [ -n "$line" ] || total_fail=$((total_fail + 1))
  fi
}

for b in "${builds[@]}"; do
  run_suite "unit ($b)" "$b/bin/sluice-unit-tests"
  for t in tests/e2e/*.sh; do
    [ "$(basename "$t")" = lib.sh ] && continue
    if [ "$b" = "${builds[0]}" ]; then
      run_suite "$(basename "$t" .sh) ($b)" env SLUICE_PROTOCOL_LOG_DIR="$logdir" bash "$t" "$b/bin"
    else
      run_suite "$(basename "$t" .sh) ($b)" bash "$t" "$b/bin"
    fi
  done
done

if [ -f tests/node/validate-protocol.js ]; then
  run_suite "protocol selftest" bash tests/node/selftest.sh
  files=$(find "$logdir" -name '*.jsonl' -size +0 | sort)
  if [ -n "$files" ]; then
    # Every message type the suites exercise must have been seen at least once.
    run_suite "protocol (all messages of the runs above)" \
      node tests/node/validate-protocol.js --require-types RECORD,STATE,LOG,SPEC,CONNECTION_STATUS,CATALOG,TRACE $files
  else
    failed_suites+=("protocol: no messages were logged")
    total_fail=$((total_fail + 1))
  fi
fi

echo
echo "slowest suites:"
printf '%s\n' "${timings[@]}" | sort -rn | head -n 8 | sed 's/^/  /'
[ ${#failed_suites[@]} -eq 0 ] || printf 'failed suite: %s\n' "${failed_suites[@]}"
echo "tests: $total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ] && [ ${#failed_suites[@]} -eq 0 ]
