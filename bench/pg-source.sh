#!/usr/bin/env bash
# source-postgres read rate against `psql \copy (SELECT ...) TO` a CSV file,
# side by side on the same throwaway server and table (10 columns, ROWS
# rows, default 1M; ROWS=0 skips it), and peak RSS of a read of BIG_ROWS rows
# (default 10M; BIG_ROWS=0 skips it). Prints one line per measurement and the
# ratio.
# CDC: 4 tables x CDC_CHANGES changes (default 100k; 0 skips) read from a
# pgoutput slot, against pg_recvlogical receiving the same range raw (the
# floor: the server's decoding and the transfer); OLD_SRC=path/to/an older
# source-postgres adds it to the same run (before/after ratio).
# Usage: bench/pg-source.sh [BIN_DIR]   (default build/bin)

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "${1:-$HERE/../build/bin}" && pwd)
ROWS=${ROWS:-1000000}
BIG_ROWS=${BIG_ROWS:-10000000}
REPS=${REPS:-3}
CDC_CHANGES=${CDC_CHANGES:-100000}
OLD_SRC=${OLD_SRC:-}
# shellcheck source=tests/lib/db.sh
. "$HERE/../tests/lib/db.sh"
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-pg-XXXXXX")
trap 'db_stop_all; rm -rf "$W"' EXIT
pg_start >/dev/null || exit 2

# 10 columns: ints, text, numeric, timestamptz, boolean, double, uuid-like text.
mk_table() { # mk_table NAME ROWS
  psql -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE $1 (id bigint PRIMARY KEY, user_id int, name text, email text, amount numeric(12,2),
  created_at timestamptz, active boolean, score double precision, code text, note text);
INSERT INTO $1 SELECT g, g % 1000, 'name ' || g, 'user' || g || '@example.com', (g % 100000) / 100.0,
  '2024-01-01'::timestamptz + g * interval '1 second', g % 2 = 0, g / 7.0, md5(g::text),
  'a note of moderate length for row ' || g FROM generate_series(1, $2) g;
VACUUM ANALYZE $1;
SQL
}

cfg() {
  jq -n --arg h "$PG_HOST" --argjson p "$PG_PORT" --arg d "$PG_DB" --arg u "$PG_USER" --arg pw "$PG_PASSWORD" \
    '{host: $h, port: $p, database: $d, username: $u, password: $pw, ssl_mode: {mode: "disable"}}' >"$W/c.json"
}
catalog() { # catalog TABLE
  "$BIN/source-postgres" discover --config "$W/c.json" |
    jq --arg t "$1" '{streams: [.catalog.streams[] | select(.name == $t) |
      {stream: ., sync_mode: "full_refresh", destination_sync_mode: "overwrite"}]}' >"$W/cat-$1.json"
}
now() { date +%s.%N; }
best() { sort -g | head -n 1; }

cfg
if [ "$ROWS" -gt 0 ]; then
  mk_table bench "$ROWS"
  catalog bench
  for _ in $(seq 1 "$REPS"); do
    t0=$(now); psql -q -c "\\copy (SELECT * FROM bench) TO '$W/out.csv' CSV"; t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$W/psql.t"
    t0=$(now); "$BIN/source-postgres" read --config "$W/c.json" --catalog "$W/cat-bench.json" >"$W/out.jsonl"; t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$W/src.t"
  done
  recs=$(grep -c '"type":"RECORD"' "$W/out.jsonl")
  [ "$recs" = "$ROWS" ] || { echo "pg-source: read $recs records, expected $ROWS" >&2; exit 1; }
  tp=$(best <"$W/psql.t") ts=$(best <"$W/src.t")
  printf 'psql \\copy TO csv      %8.0f rows/s  (%.2f s, %s MB)\n' "$(echo "$ROWS / $tp" | bc -l)" "$tp" "$(($(stat -c %s "$W/out.csv") / 1000000))"
  printf 'source-postgres read   %8.0f rows/s  (%.2f s, %s MB of RECORD lines)\n' "$(echo "$ROWS / $ts" | bc -l)" "$ts" "$(($(stat -c %s "$W/out.jsonl") / 1000000))"
  printf 'ratio source/psql      %8.2f  (budget >= 0.70; best of %s)\n' "$(echo "$tp / $ts" | bc -l)" "$REPS"
  rm -f "$W/out.csv" "$W/out.jsonl"
fi

if [ "$BIG_ROWS" -gt 0 ]; then
  psql -q -c 'DROP TABLE IF EXISTS bench'
  mk_table big "$BIG_ROWS"
  catalog big
  /usr/bin/time -f '%M' -o "$W/rss" "$BIN/source-postgres" read --config "$W/c.json" --catalog "$W/cat-big.json" |
    grep -c '"type":"RECORD"' >"$W/bigcount"
  printf 'peak RSS, %s rows      %8.1f MB  (records: %s; budget < 100 MB)\n' "$BIG_ROWS" "$(echo "$(cat "$W/rss") / 1024" | bc -l)" "$(cat "$W/bigcount")"
fi

if [ "$CDC_CHANGES" -gt 0 ]; then
  # 4 tables, changes interleaved in 10 transactions per table; the state
  # says every snapshot is done, so the read is the log only.
  psql -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE TABLE c1 (id bigint PRIMARY KEY, v text, n int);
CREATE TABLE c2 (LIKE c1 INCLUDING ALL); CREATE TABLE c3 (LIKE c1 INCLUDING ALL); CREATE TABLE c4 (LIKE c1 INCLUDING ALL);
CREATE PUBLICATION bench_pub FOR TABLE c1, c2, c3, c4;
SELECT pg_create_logical_replication_slot('bench_slot', 'pgoutput');
SQL
  for r in $(seq 1 "$REPS"); do psql -q -c "SELECT pg_create_logical_replication_slot('recv_$r', 'pgoutput')" >/dev/null; done
  lsn0=$(psql -Atc "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'bench_slot'")
  step=$((CDC_CHANGES / 10))
  for b in $(seq 0 9); do
    for t in c1 c2 c3 c4; do
      echo "INSERT INTO $t SELECT g, md5(g::text), g % 1000 FROM generate_series($((b * step + 1)), $(((b + 1) * step))) g;"
    done
  done | psql -q -v ON_ERROR_STOP=1
  lsn1=$(psql -Atc "SELECT pg_current_wal_flush_lsn()")
  jq '.replication_method = {method: "CDC", replication_slot: "bench_slot", publication: "bench_pub"}' "$W/c.json" >"$W/cdc.json"
  "$BIN/source-postgres" discover --config "$W/cdc.json" |
    jq '{streams: [.catalog.streams[] | select(.name | test("^c[1-4]$")) |
      {stream: ., sync_mode: "incremental", cursor_field: ["_ab_cdc_lsn"], destination_sync_mode: "append_dedup"}]}' >"$W/cat-cdc.json"
  jq --arg l "$lsn0" '[{type: "GLOBAL", global: {shared_state: {lsn: $l, slot: "bench_slot", publication: "bench_pub"},
      stream_states: [.streams[].stream | {stream_descriptor: {name, namespace}, stream_state: {snapshot_done: true}}]}}]' \
    "$W/cat-cdc.json" >"$W/state-cdc.json"
  want=$((CDC_CHANGES / 10 * 10 * 4))
  cdc_read() { # cdc_read BIN TIMES
    t0=$(now)
    "$1" read --config "$W/cdc.json" --catalog "$W/cat-cdc.json" --state "$W/state-cdc.json" >"$W/cdc.jsonl"
    t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$2"
    n=$(grep -c '"type":"RECORD"' "$W/cdc.jsonl")
    [ "$n" = "$want" ] || { echo "pg-source: CDC read $n records, expected $want" >&2; exit 1; }
  }
  for r in $(seq 1 "$REPS"); do
    t0=$(now)
    "$DB_PG_BIN/pg_recvlogical" -d "$PG_DB" --slot "recv_$r" --start --endpos "$lsn1" -o proto_version=1 -o publication_names=bench_pub \
      --no-loop -f "$W/recv.bin"
    t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$W/recv.t"
    cdc_read "$BIN/source-postgres" "$W/cdc.t"
    [ -n "$OLD_SRC" ] && cdc_read "$OLD_SRC" "$W/cdc-old.t"
  done
  tr=$(best <"$W/recv.t") tc=$(best <"$W/cdc.t")
  printf 'pg_recvlogical, 4 tables %8.0f changes/s  (%.2f s)\n' "$(echo "$want / $tr" | bc -l)" "$tr"
  printf 'CDC read, 4 streams     %8.0f changes/s  (%.2f s)\n' "$(echo "$want / $tc" | bc -l)" "$tc"
  printf 'ratio CDC/pg_recvlogical %7.2f  (best of %s)\n' "$(echo "$tr / $tc" | bc -l)" "$REPS"
  if [ -n "$OLD_SRC" ]; then
    to=$(best <"$W/cdc-old.t")
    printf 'CDC read, OLD_SRC        %8.0f changes/s  (%.2f s)\n' "$(echo "$want / $to" | bc -l)" "$to"
    printf 'speed-up new/old        %8.2f\n' "$(echo "$to / $tc" | bc -l)"
  fi
fi
