#!/usr/bin/env bash
# bench/platform-mapping.sh: what the namespace/prefix mapping and field
# selection cost a sync. Three connections of one store move the same
# source-faker rows (BENCH_N, default 200000, stream "users") into
# destination-dev-null: the baseline without a mapping (records forwarded
# as they are), one with --namespace-format 'x_${SOURCE_NAMESPACE}'
# --prefix p_ (every RECORD and STATE re-written) and one with field
# selection (--fields id,updated_at,name,address.city: every RECORD parsed
# and re-written with 4 of its 17 fields, one of them nested). They run in
# turn BENCH_ROUNDS times (default 3); the medians of wall time and of CPU
# (sluice plus its connectors, from /usr/bin/time) are printed with their
# ratios to the baseline. Nothing is asserted.
# usage: bench/platform-mapping.sh [BIN_DIR]
set -euo pipefail
BIN=$(cd "${1:-build/bin}" && pwd)
N=${BENCH_N:-200000}
ROUNDS=${BENCH_ROUNDS:-3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-mapping-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export SLUICE_HOME=$TMP/home
S="$BIN/sluice"
"$S" source create f --connector source-faker --set "count=$N" --set seed=1 >/dev/null
"$S" destination create d --connector destination-dev-null >/dev/null 2>&1 ||
  "$S" destination create d --connector destination-dev-null --no-validate >/dev/null
"$S" connection create plain --source f --destination d --streams users >/dev/null
"$S" connection create mapped --source f --destination d --streams users --namespace-format 'x_${SOURCE_NAMESPACE}' --prefix p_ >/dev/null
"$S" connection create fields --source f --destination d --streams users --stream users --fields id,updated_at,name,address.city >/dev/null
measure() { # measure CONN: "wall cpu" of one full-refresh sync
  /usr/bin/time -f '%e %U %S' -o "$TMP/t" "$S" connection sync "$1" --full-refresh --json >/dev/null 2>&1
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$TMP/t"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
: >"$TMP/plain" && : >"$TMP/mapped" && : >"$TMP/fields"
for ((i = 0; i < ROUNDS; i++)); do
  measure plain >>"$TMP/plain"
  measure mapped >>"$TMP/mapped"
  measure fields >>"$TMP/fields"
done
pw=$(cut -d' ' -f1 "$TMP/plain" | median) pc=$(cut -d' ' -f2 "$TMP/plain" | median)
mw=$(cut -d' ' -f1 "$TMP/mapped" | median) mc=$(cut -d' ' -f2 "$TMP/mapped" | median)
fw=$(cut -d' ' -f1 "$TMP/fields" | median) fcpu=$(cut -d' ' -f2 "$TMP/fields" | median)
echo "rows: $N  rounds: $ROUNDS  load: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v n="$N" -v pw="$pw" -v pc="$pc" -v mw="$mw" -v mc="$mc" -v fw="$fw" -v fc="$fcpu" 'BEGIN {
  printf "%-10s %10s %10s %14s\n", "", "wall s", "cpu s", "rows/s (wall)"
  printf "%-10s %10.3f %10.3f %14.0f\n", "baseline", pw, pc, n / pw
  printf "%-10s %10.3f %10.3f %14.0f\n", "mapped", mw, mc, n / mw
  printf "%-10s %10.3f %10.3f %14.0f\n", "fields", fw, fc, n / fw
  printf "ratio mapped/baseline: wall %.2f, cpu %.2f\n", mw / pw, mc / pc
  printf "ratio fields/baseline: wall %.2f, cpu %.2f\n", fw / pw, fc / pc
}'
