#!/usr/bin/env bash
# source-postgres read rate against `psql \copy (SELECT ...) TO` a CSV file,
# side by side on the same throwaway server and table (10 columns, ROWS
# rows, default 1M), and peak RSS of a read of BIG_ROWS rows (default 10M;
# BIG_ROWS=0 skips it). Prints one line per measurement and the ratio.
# Usage: bench/pg-source.sh [BIN_DIR]   (default build/bin)

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "${1:-$HERE/../build/bin}" && pwd)
ROWS=${ROWS:-1000000}
BIG_ROWS=${BIG_ROWS:-10000000}
REPS=${REPS:-3}
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

mk_table bench "$ROWS"
cfg
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

if [ "$BIG_ROWS" -gt 0 ]; then
  psql -q -c 'DROP TABLE bench'
  mk_table big "$BIG_ROWS"
  catalog big
  /usr/bin/time -f '%M' -o "$W/rss" "$BIN/source-postgres" read --config "$W/c.json" --catalog "$W/cat-big.json" |
    grep -c '"type":"RECORD"' >"$W/bigcount"
  printf 'peak RSS, %s rows      %8.1f MB  (records: %s; budget < 100 MB)\n' "$BIG_ROWS" "$(echo "$(cat "$W/rss") / 1024" | bc -l)" "$(cat "$W/bigcount")"
fi
