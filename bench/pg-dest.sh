#!/usr/bin/env bash
# bench/pg-dest.sh: destination-postgres load rate against a plain
# `psql \copy` of the same rows from CSV, measured side by side in one run
# on one throwaway PostgreSQL 15 server (tests/lib/db.sh: loopback, fsync
# off for both), plus the destination's peak RSS at n and 10*n records and
# a PostgreSQL -> PostgreSQL `sluice sync` (source-postgres) of the n rows.
#
# Usage: bench/pg-dest.sh [BIN_DIR]     (default build/bin)
#   BENCH_N=n       rows (default 1000000)
#   BENCH_RUNS=r    runs of each load, best kept, interleaved (default 3)
#   BENCH_BIG=0     skip the 10*n memory run (streamed from a generator)
#   BENCH_TMP=dir   scratch (default $TMPDIR or /tmp); ~0.5 GB per million rows
# Rows: 10 columns (bigint, 3 text, int, numeric, boolean, timestamptz,
# text with a tab/backslash now and then, bigint); the RECORD lines are
# ~330 bytes. The destination writes its 4 _airbyte_* columns as well.
# Nothing is asserted: the table prints the ratio; the exit status is
# non-zero only when a command fails or loads the wrong number of rows.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$(cd "${1:-build/bin}" && pwd)
N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-3}
BIG=${BENCH_BIG:-1}
DB_STARTED=
. "$ROOT/tests/lib/db.sh"
T=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/sluice-bench-pgdest-XXXXXX")
trap 'db_stop_all; rm -rf "$T"' EXIT
for b in destination-postgres source-postgres sluice; do
  [ -x "$BIN/$b" ] || { echo "pg-dest: $BIN/$b is missing (make all)" >&2; exit 2; }
done
pg_start >/dev/null
q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

# gen N MODE: MODE json (RECORD lines) or csv (the same rows).
gen() {
  awk -v n="$1" -v mode="$2" 'BEGIN {
    srand(7)
    split("Lisbon Oslo Quito Lima Pune Graz Kyiv Riga", city, " ")
    for (i = 1; i <= n; i++) {
      age = 18 + i % 70; score = (i % 100000) / 100; active = i % 3 ? "true" : "false"
      ts = sprintf("2024-%02d-%02dT%02d:%02d:%02d.%03dZ", 1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60, i % 1000)
      note = i % 50 ? "plain note number " i : "tab\\there and a back\\\\slash " i
      c = city[1 + i % 8]
      if (mode == "json")
        printf "{\"type\":\"RECORD\",\"record\":{\"stream\":\"bench\",\"emitted_at\":1700000000000,\"data\":{\"id\":%d,\"name\":\"user %d\",\"email\":\"user%d@example.com\",\"age\":%d,\"score\":%.2f,\"active\":%s,\"created\":\"%s\",\"city\":\"%s\",\"note\":\"%s\",\"version\":%d}}}\n", i, i, i, age, score, active, ts, c, note, i * 3
      else {
        gsub(/\\t/, "\t", note); gsub(/\\\\/, "\\", note)
        printf "%d,user %d,user%d@example.com,%d,%.2f,%s,%s,%s,\"%s\",%d\n", i, i, i, age, score, active, ts, c, note, i * 3
      }
      if (mode == "json" && i % 10000 == 0)
        printf "{\"type\":\"STATE\",\"state\":{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"bench\"},\"stream_state\":{\"id\":%d}}}}\n", i
    } }'
}
gen "$N" json >"$T/rows.jsonl"
gen "$N" csv >"$T/rows.csv"
printf '{"host":"127.0.0.1","port":%s,"database":"%s","schema":"public","username":"%s","password":"%s","ssl_mode":{"mode":"disable"}}\n' \
  "$PG_PORT" "$PG_DB" "$PG_USER" "$PG_PASSWORD" >"$T/dest.json"
jq -n '{streams: [{stream: {name: "bench", supported_sync_modes: ["full_refresh"], json_schema: {type: "object", properties: {
  id: {type: "integer"}, name: {type: "string"}, email: {type: "string"}, age: {type: "integer"}, score: {type: "number"},
  active: {type: "boolean"}, created: {type: "string", format: "date-time"}, city: {type: "string"}, note: {type: "string"},
  version: {type: "integer"}}}}, sync_mode: "full_refresh", destination_sync_mode: "append"}]}' >"$T/cat.json"
BASE_DDL='CREATE TABLE base (id bigint, name text, email text, age bigint, score numeric, active boolean,
  created timestamptz, city text, note text, version bigint)'

# CPU seconds of the server (the postmaster with its reaped backends) and of
# the client, per load: on a loaded machine wall time follows the total CPU
# a load needs more than it follows the parallelism of client and server.
PM=$(head -n 1 "$PG_DIR/data/postmaster.pid")
srv_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15 + $16 + $17) / hz }' "/proc/$PM/stat"; }
cpu_copy_srv=999 cpu_copy_cli=999 cpu_dest_srv=999 cpu_dest_cli=999
minf() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? a : b }'; }
best_copy=999999 best_dest=999999 rss_dest=0
for r in $(seq 1 "$RUNS"); do
  q 'DROP TABLE IF EXISTS base' && q "$BASE_DDL" && q CHECKPOINT
  c0=$(srv_cpu)
  s=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$T/cli" psql -X -q -v ON_ERROR_STOP=1 -c "\\copy base from '$T/rows.csv' with (format csv)"
  e=$(date +%s.%N)
  sleep 0.5 # the backend exits (and is reaped) after psql
  cpu_copy_srv=$(minf "$cpu_copy_srv" "$(echo "$(srv_cpu) - $c0" | bc)")
  cpu_copy_cli=$(minf "$cpu_copy_cli" "$(awk '{ print $1 + $2 }' "$T/cli")")
  best_copy=$(echo "$e - $s" | bc | awk -v b="$best_copy" '{print ($1 < b) ? $1 : b}')
  [ "$(q 'select count(*) from base')" = "$N" ] || { echo "pg-dest: psql loaded the wrong row count" >&2; exit 1; }

  q 'DROP TABLE IF EXISTS bench' && q CHECKPOINT
  c0=$(srv_cpu)
  s=$(date +%s.%N)
  /usr/bin/time -f '%M %U %S' -o "$T/rss" "$BIN/destination-postgres" write --config "$T/dest.json" --catalog "$T/cat.json" \
    <"$T/rows.jsonl" >/dev/null
  e=$(date +%s.%N)
  sleep 0.5
  cpu_dest_srv=$(minf "$cpu_dest_srv" "$(echo "$(srv_cpu) - $c0" | bc)")
  cpu_dest_cli=$(minf "$cpu_dest_cli" "$(awk '{ print $2 + $3 }' "$T/rss")")
  best_dest=$(echo "$e - $s" | bc | awk -v b="$best_dest" '{print ($1 < b) ? $1 : b}')
  rss_dest=$(awk '{ print $1 }' "$T/rss")
  [ "$(q 'select count(*) from bench')" = "$N" ] || { echo "pg-dest: the destination loaded the wrong row count" >&2; exit 1; }
done
rate() { awk -v n="$N" -v t="$1" 'BEGIN { printf "%.0f", n / t }'; }
copy_rate=$(rate "$best_copy") dest_rate=$(rate "$best_dest")
ratio=$(awk -v a="$dest_rate" -v b="$copy_rate" 'BEGIN { printf "%.2f", a / b }')

rss_big=skipped
if [ "$BIG" = 1 ]; then
  q 'DROP TABLE IF EXISTS bench' && q CHECKPOINT
  gen $((N * 10)) json | /usr/bin/time -f %M -o "$T/rss-big" "$BIN/destination-postgres" write \
    --config "$T/dest.json" --catalog "$T/cat.json" >/dev/null
  rss_big=$(cat "$T/rss-big")
  [ "$(q 'select count(*) from bench')" = "$((N * 10))" ] || { echo "pg-dest: the 10x run loaded the wrong row count" >&2; exit 1; }
  q 'DROP TABLE bench'
fi

# PostgreSQL -> PostgreSQL through sluice sync: table base into database
# "sink" (the stream's namespace, public, names the schema there).
printf '{"host":"127.0.0.1","port":%s,"database":"%s","username":"%s","password":"%s","schemas":["public"],"include_tables":"^public[.]base$","ssl_mode":{"mode":"disable"}}\n' \
  "$PG_PORT" "$PG_DB" "$PG_USER" "$PG_PASSWORD" >"$T/src.json"
sed "s/\"database\":\"$PG_DB\"/\"database\":\"sink\"/" "$T/dest.json" >"$T/dest2.json"
q 'CREATE DATABASE sink' && q CHECKPOINT
s=$(date +%s.%N)
"$BIN/sluice" sync --no-progress --full-refresh --source source-postgres --source-config "$T/src.json" \
  --destination destination-postgres --destination-config "$T/dest2.json" --state-file "$T/state.json" 2>"$T/sync.err" ||
  { echo "pg-dest: the pg->pg sync failed:" >&2; tail -n 20 "$T/sync.err" >&2; exit 1; }
e=$(date +%s.%N)
sync_n=$(psql -X -q -A -t -d sink -c "select count(*) from public.base")
[ "$sync_n" = "$N" ] || { echo "pg-dest: pg->pg sync moved $sync_n rows, expected $N" >&2; cat "$T/sync.err" >&2; exit 1; }
sync_rate=$(rate "$(echo "$e - $s" | bc)")

out=$(
  echo "destination-postgres benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $N rows x 10 columns, best of $RUNS"
  printf '%-48s %12s %10s\n' measurement rows/s seconds
  printf '%-48s %12s %10s\n' "psql \\copy from CSV (baseline)" "$copy_rate" "$best_copy"
  printf '%-48s %12s %10s\n' "destination-postgres write (RECORD lines)" "$dest_rate" "$best_dest"
  printf '%-48s %12s\n' "ratio destination / psql \\copy (goal >= 0.70)" "$ratio"
  printf '%-48s %12s\n' "CPU s, psql \\copy: server / client (least)" "$cpu_copy_srv / $cpu_copy_cli"
  printf '%-48s %12s\n' "CPU s, destination: server / client (least)" "$cpu_dest_srv / $cpu_dest_cli"
  printf '%-48s %12s\n' "destination peak RSS at $N rows (KiB)" "$rss_dest"
  printf '%-48s %12s\n' "destination peak RSS at $((N * 10)) rows (KiB)" "$rss_big"
  printf '%-48s %12s\n' "sluice sync source-postgres -> destination-postgres" "$sync_rate"
  grep -E '^total' "$T/sync.err" | sed 's/^/  sync summary: /'
)
echo "$out"
mkdir -p "$ROOT/bench/results"
echo "$out" >"$ROOT/bench/results/pg-dest-latest.txt"
