#!/usr/bin/env bash
# bench/file.sh: source-file and destination-csv throughput and memory.
#
# Measured in one run, interleaved (round 1 runs each subject once, then
# round 2, ...), best wall time of BENCH_RUNS kept, against baselines of the
# same run: `wc -l` of the file and `sqlite3 .import` of it. Nothing asserts
# a time: the exit status is 0 unless a command failed or moved the wrong
# number of rows.
#
# Usage: bench/file.sh [BIN_DIR]        (default build/bin)
#   BENCH_N=n      rows of the 10-column CSV (default 1000000)
#   BENCH_RUNS=r   runs of each measurement, best kept (default 3)
#   BENCH_BIG_GB=g also read a g-GB CSV generated on the fly through a FIFO
#                  (no disk) and report its peak RSS (default 0: skipped)
#   BENCH_TMP=dir  scratch space (default $TMPDIR or /tmp), ~100 MB per 1M rows
#   BENCH_CALLGRIND=0  skip the instruction counts (valgrind)
# Writes the table to stdout and bench/results/file-latest.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(cd "${1:-build/bin}" && pwd)
N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-3}
for t in sqlite3 wc jq /usr/bin/time; do command -v $t >/dev/null || { echo "bench/file: $t is needed" >&2; exit 2; }; done
for b in sluice source-file destination-csv destination-sqlite destination-dev-null; do
  [ -x "$BIN/$b" ] || { echo "bench/file: $BIN/$b is missing (make all)" >&2; exit 2; }
done

# One benchmark at a time on this machine (the lock of bench/run.sh).
exec 9>"${BENCH_TMP:-${TMPDIR:-/tmp}}/sluice-bench.lock"
flock -n 9 || { echo "bench/file: another benchmark is running; waiting" >&2; flock 9; }

W=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/sluice-bench-file-XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir "$W/bin"
for b in sluice source-file destination-csv destination-sqlite destination-dev-null; do cp "$BIN/$b" "$W/bin/"; done
B=$W/bin
calc() { awk "BEGIN { printf \"%.6f\", ($*) }"; }
commas() { printf '%.0f' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }

# ---- the input: 10 columns, ~100 bytes a row ----
gen() { # gen ROWS: the CSV on stdout
  awk -v n="$1" 'BEGIN {
    print "id,name,email,age,score,active,city,created,amount,note"
    for (i = 1; i <= n; i++)
      printf "%d,User %d,user%d@example.com,%d,%.1f,%s,City %d,2024-01-%02d,%.2f,\"note, %d\"\n",
        i, i, i, 18 + i % 70, (i * 37) % 1000 / 10, (i % 3 ? "true" : "false"), i % 50, 1 + i % 28, i * 1.25, i
  }'
}
gen "$N" >"$W/b.csv"
SIZE=$(stat -c %s "$W/b.csv")
echo "{\"url\": \"$W/b.csv\"}" >"$W/src.json"
echo "{\"url\": \"$W/b.csv\", \"format\": {\"csv_parser\": \"libcsv\"}}" >"$W/src-libcsv.json"
"$B/source-file" discover --config "$W/src.json" |
  jq -c '{streams: [.catalog.streams[] | {stream: ., sync_mode: "full_refresh", destination_sync_mode: "overwrite"}]}' >"$W/cat.json"

# ---- subjects ----
m_wc() { wc -l "$W/b.csv" >/dev/null; }
m_read() { "$B/source-file" read --config "$W/src.json" --catalog "$W/cat.json" >/dev/null; }
m_read_libcsv() { "$B/source-file" read --config "$W/src-libcsv.json" --catalog "$W/cat.json" >/dev/null; }
m_import() {
  rm -f "$W/imp.db"
  sqlite3 "$W/imp.db" ".mode csv" ".import $W/b.csv b"
}
m_sync() {
  rm -f "$W/sync.db" "$W/sync.db-wal" "$W/sync.db-shm"
  echo "{\"destination_path\": \"$W/sync.db\"}" >"$W/dst.json"
  "$B/sluice" sync --no-progress --source source-file --source-config "$W/src.json" \
    --destination destination-sqlite --destination-config "$W/dst.json" >"$W/sync.out" 2>"$W/sync.err"
}
m_csvsync() {
  rm -rf "$W/csvout"
  echo "{\"destination_path\": \"$W/csvout\"}" >"$W/dcsv.json"
  "$B/sluice" sync --no-progress --source source-file --source-config "$W/src.json" \
    --destination destination-csv --destination-config "$W/dcsv.json" >"$W/csync.out" 2>"$W/csync.err"
}
SUBJECTS="wc read read_libcsv import sync csvsync"
# timed NAME: one run of m_NAME; its wall seconds to $W/NAME.wall and the
# user+sys CPU seconds of the processes it waited for (bash's `times`, 10 ms
# resolution) to $W/NAME.cpu: on a loaded machine CPU time varies less.
cpu_delta() {
  awk 'function s(t, a) { split(t, a, "m"); return a[1] * 60 + a[2] }
       FNR == 2 { c[NR > FNR] = s($1) + s($2) }
       END { printf "%.2f\n", c[1] - c[0] }' "$1" "$2"
}
timed() {
  local t0 t1
  times >"$W/times0"
  t0=$EPOCHREALTIME
  "m_$1"
  t1=$EPOCHREALTIME
  times >"$W/times1"
  calc "$t1 - $t0" >>"$W/$1.wall"
  echo >>"$W/$1.wall"
  cpu_delta "$W/times0" "$W/times1" >>"$W/$1.cpu"
}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$RUNS"); do
  for s in $SUBJECTS; do timed "$s"; done
done
best() { grep . "$W/$1.${2:-wall}" | sort -g | head -n 1; }

# ---- checks: every row moved ----
got=$(sqlite3 "$W/sync.db" 'select count(*) from b')
[ "$got" = "$N" ] || { echo "bench/file: the sync wrote $got rows, not $N" >&2; exit 1; }
got=$(sqlite3 "$W/imp.db" 'select count(*) from b')
[ "$got" = "$N" ] || { echo "bench/file: .import wrote $got rows, not $N" >&2; exit 1; }
got=$(($(wc -l <"$W/csvout/b.csv") - 1))
[ "$got" = "$N" ] || { echo "bench/file: destination-csv wrote $got rows, not $N" >&2; exit 1; }
n=$("$B/source-file" read --config "$W/src.json" --catalog "$W/cat.json" | grep -c '"type":"RECORD"')
[ "$n" = "$N" ] || { echo "bench/file: source-file emitted $n records, not $N" >&2; exit 1; }

# ---- peak RSS ----
/usr/bin/time -o "$W/rss" -f %M "$B/source-file" read --config "$W/src.json" --catalog "$W/cat.json" >/dev/null
RSS=$(cat "$W/rss")
BIG=""
if [ "${BENCH_BIG_GB:-0}" != 0 ]; then
  rows=$((BENCH_BIG_GB * 1000000000 / (SIZE / N)))
  mkfifo "$W/big.csv"
  gen "$rows" >"$W/big.csv" &
  echo "{\"url\": \"$W/big.csv\", \"dataset_name\": \"b\", \"schema\": $(jq -c '.streams[0].stream.json_schema' "$W/cat.json")}" >"$W/big.json"
  t0=$EPOCHREALTIME
  /usr/bin/time -o "$W/rss-big" -f %M "$B/source-file" read --config "$W/big.json" --catalog "$W/cat.json" |
    grep -c '"type":"RECORD"' >"$W/big.count"
  t1=$EPOCHREALTIME
  wait
  BIG="$(commas "$(cat "$W/big.count")") rows (${BENCH_BIG_GB} GB through a FIFO) in $(printf %.0f "$(calc "$t1 - $t0")") s: peak RSS $(($(cat "$W/rss-big") / 1024)) MiB"
fi

# ---- instructions per row (valgrind), on 100k rows ----
IPR=""
if [ "${BENCH_CALLGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
  head -n 100001 "$W/b.csv" >"$W/s.csv"
  for v in src src-libcsv; do
    jq -c --arg u "$W/s.csv" '.url = $u | .dataset_name = "b"' "$W/$v.json" >"$W/s-$v.json"
    valgrind --tool=callgrind --callgrind-out-file="$W/cg-$v" "$B/source-file" read --config "$W/s-$v.json" \
      --catalog "$W/cat.json" >/dev/null 2>"$W/cg-$v.err" || true
  done
  ir() { sed -n 's/^summary: //p' "$W/cg-$1" | awk '{ printf "%.0f", $1 / 100000 }'; }
  IPR="instructions per row (callgrind, 100k rows): builtin scanner $(commas "$(ir src)"), libcsv $(commas "$(ir src-libcsv)")"
fi

# ---- table ----
rate() { calc "$N / $(best "$1")"; }
mbs() { calc "$SIZE / 1e6 / $(best "$1")"; }
OUT=$W/table
{
  echo "bench/file.sh: $(date -u '+%Y-%m-%d %H:%M') UTC, git $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(commas "$N") rows x 10 columns, $(commas "$SIZE") bytes, best of $RUNS; load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  printf '%-46s %8s %12s %7s %8s %12s  %s\n' "what" "wall s" "rows/s" "MB/s" "cpu s" "rows/cpu-s" "ratio (wall)"
  row() {
    local c
    c=$(best "$2" cpu)
    printf '%-46s %8.3f %12s %7.1f %8.2f %12s  %s\n' "$1" "$(best "$2")" "$(commas "$(rate "$2")")" "$(mbs "$2")" "$c" \
      "$(if [ "$(calc "$c > 0")" = 1.000000 ]; then commas "$(calc "$N / $c")"; else echo -; fi)" "$3"
  }
  row "wc -l (baseline: reading the bytes)" wc ""
  row "source-file read > /dev/null" read "$(printf '%.3f of wc -l; %.2fx sqlite3 .import' "$(calc "$(best wc) / $(best read)")" "$(calc "$(best import) / $(best read)")")"
  row "source-file read, csv_parser libcsv" read_libcsv "$(printf '%.2f of the builtin scanner' "$(calc "$(best read) / $(best read_libcsv)")")"
  row "sqlite3 .import (baseline: CSV into SQLite)" import ""
  row "sluice sync source-file -> destination-sqlite" sync "$(printf '%.2f of sqlite3 .import' "$(calc "$(best import) / $(best sync)")")"
  row "sluice sync source-file -> destination-csv" csvsync "$(printf '%.2f of source-file alone' "$(calc "$(best read) / $(best csvsync)")")"
  echo "peak RSS of source-file read ($(commas "$N") rows): $((RSS / 1024)) MiB"
  [ -z "$BIG" ] || echo "$BIG"
  [ -z "$IPR" ] || echo "$IPR"
  echo "all runs (s): $(for s in $SUBJECTS; do printf '%s=%s ' "$s" "$(grep . "$W/$s.wall" | awk '{ printf "%.2f,", $1 }' | sed 's/,$//')"; done)"
} >"$OUT"
cat "$OUT"
mkdir -p bench/results
cp "$OUT" bench/results/file-latest.txt
