#!/usr/bin/env bash
# bench/acceptance.sh: what `sluice test` costs on a read, against a baseline
# in the same run. basic_read of source-faker users (N records) through
# `sluice test` (every line parsed and checked against the protocol schema,
# every record against its stream schema) vs the same read through
# `sluice read --json` to /dev/null (lines passed on unparsed). Best of
# BENCH_RUNS runs each, interleaved. Prints seconds and the ratio; asserts
# nothing.
# Usage: bench/acceptance.sh [BIN_DIR]   (BENCH_N, default 100000; BENCH_RUNS, default 3)
set -euo pipefail
BIN=$(cd "${1:-build/bin}" && pwd)
N=${BENCH_N:-100000}
RUNS=${BENCH_RUNS:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-acceptance-XXXXXX")
trap 'rm -rf "$T"' EXIT
echo "{\"count\": $N, \"seed\": 1, \"records_per_slice\": 10000}" >"$T/c.json"
"$BIN/sluice" discover source-faker --config "$T/c.json" --json |
  jq '{streams: [.catalog.streams[] | select(.name=="users") | {stream: ., sync_mode: "full_refresh", destination_sync_mode: "append", primary_key: .source_defined_primary_key}]}' >"$T/cat.json"
cat >"$T/at.yml" <<YML
connector: source-faker
acceptance_tests:
  basic_read:
    tests:
      - config_path: $T/c.json
        configured_catalog_path: $T/cat.json
        expect_trace_message_on_failure: false
YML
now() { date +%s.%N; }
best_test=999999 best_read=999999
for _ in $(seq "$RUNS"); do
  t0=$(now); "$BIN/sluice" read source-faker --config "$T/c.json" --catalog "$T/cat.json" --json >/dev/null; t1=$(now)
  best_read=$(echo "$best_read $t1 $t0" | awk '{d=$2-$3; print (d<$1)?d:$1}')
  t0=$(now); "$BIN/sluice" test --config "$T/at.yml" >"$T/out" || { cat "$T/out"; exit 1; }; t1=$(now)
  best_test=$(echo "$best_test $t1 $t0" | awk '{d=$2-$3; print (d<$1)?d:$1}')
done
# CPU time too: on a shared, loaded machine wall time mostly measures the load
cpu_test=$( { /usr/bin/time -f '%U %S' "$BIN/sluice" test --config "$T/at.yml" >/dev/null; } 2>&1 | tail -n1 | awk '{print $1+$2}')
cpu_read=$( { /usr/bin/time -f '%U %S' "$BIN/sluice" read source-faker --config "$T/c.json" --catalog "$T/cat.json" --json >/dev/null; } 2>&1 | tail -n1 | awk '{print $1+$2}')
grep -q '^pass basic_read/test_read:schema$' "$T/out" || { echo "basic_read did not validate the records" >&2; exit 1; }
printf 'records: %d users (best of %d)\n' "$N" "$RUNS"
printf 'sluice read --json > /dev/null (baseline): %.2f s\n' "$best_read"
printf 'sluice test basic_read (protocol + schema checks): %.2f s  (%.1fx the baseline, %.0f records/s)\n' \
  "$best_test" "$(echo "$best_test $best_read" | awk '{print $1/$2}')" "$(echo "$N $best_test" | awk '{print $1/$2}')"
printf 'CPU (user+sys, with the connector): test %.2f s, read %.2f s; %.0f records per CPU second under test\n' \
  "$cpu_test" "$cpu_read" "$(echo "$N $cpu_test" | awk '{print ($2>0)?$1/$2:0}')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
