#!/usr/bin/env bash
# bench/mysql.sh: destination-mysql and source-mysql against the mariadb
# client on the same rows, side by side in one run, on a throwaway MariaDB
# (tests/lib/db.sh: loopback, its own data directory).
#
#   load: destination-mysql write of N RECORD lines (10 fields, a STATE
#         every 100,000) into a fresh table, against
#         `mariadb -e "LOAD DATA LOCAL INFILE"` of the same rows as CSV into
#         a table with the same 10 typed columns, against the same rows as
#         multi-row INSERTs (1,000 rows a statement) through `mariadb`, and
#         against LOAD DATA of the destination's own rows (the 10 columns and
#         the 4 _airbyte_ ones, exported from its table) into a copy of its
#         table: what the server alone needs for what the destination sends.
#   read: source-mysql read (full refresh, chunks of 10,000 rows by primary
#         key) to /dev/null, against `mariadb --quick -N -B -e 'SELECT ...'`
#         to a file.
# Each is the best (shortest) of BENCH_RUNS runs, interleaved; peak RSS is
# /usr/bin/time's %M. Nothing is asserted; the table goes to stdout and to
# bench/results/mysql-latest.txt.
#
# usage: bench/mysql.sh [BIN_DIR]   BENCH_N (default 1000000), BENCH_RUNS (2),
#        BENCH_TMP (scratch, about 1 GB per million rows)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-$root/build/bin}" && pwd)
N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-2}
for t in /usr/bin/time python3 mariadb; do command -v "$t" >/dev/null || { echo "bench/mysql.sh: $t is required" >&2; exit 2; }; done
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/sluice-bench-mysql-XXXXXX")
DB_STARTED=
. "$root/tests/lib/db.sh"
trap 'db_stop_all; rm -rf "$tmp"' EXIT
maria_start >/dev/null
q() { mariadb --no-defaults -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PASSWORD" -D "$MY_DB" -N -B "$@"; }
cat >"$tmp/c.json" <<EOF
{"host":"$MY_HOST","port":$MY_PORT,"database":"$MY_DB","username":"$MY_USER","password":"$MY_PASSWORD"}
EOF

echo "generating $N rows ..." >&2
python3 - "$N" "$tmp" <<'EOF'
import sys, random
n, d = int(sys.argv[1]), sys.argv[2]
random.seed(1)
cities = ["Nairobi", "Lyon", "Valparaíso", "Hamburg", "Recife", "Osaka", "Uppsala", "Pune"]
names = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis"]
with open(d + "/records.jsonl", "w") as j, open(d + "/rows.csv", "w") as c, open(d + "/inserts.sql", "w") as s:
    vals = []
    for i in range(1, n + 1):
        nm = names[i % 8] + " " + names[(i * 7) % 8]
        em = "user%d@example.com" % i
        ct = cities[i % 8]
        age = 18 + i % 70
        sc = "%d.%02d" % (i % 1000, i % 100)
        act = "true" if i % 3 else "false"
        ts = "2024-%02d-%02dT%02d:%02d:%02d" % (1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60)
        up = "2025-%02d-%02dT%02d:%02d:%02d" % (1 + i % 12, 1 + i % 28, i % 24, i % 60, (i * 7) % 60)
        note = "note %d, with a comma" % (i * 31 % 100000)
        j.write('{"type":"RECORD","record":{"stream":"bench","emitted_at":1700000000000,"data":{"id":%d,"name":"%s","email":"%s","city":"%s","age":%d,"score":%s,"active":%s,"created_at":"%s","updated_at":"%s","note":"%s"}}}\n'
                % (i, nm, em, ct, age, sc, act, ts, up, note))
        if i % 100000 == 0:
            j.write('{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"bench"},"stream_state":{"id":%d}}}}\n' % i)
        b = "1" if act == "true" else "0"
        c.write('%d,"%s","%s","%s",%d,%s,%s,%s,%s,"%s"\n' % (i, nm, em, ct, age, sc, b, ts.replace("T", " "), up.replace("T", " "), note))
        vals.append("(%d,'%s','%s','%s',%d,%s,%s,'%s','%s','%s')" % (i, nm, em, ct, age, sc, b, ts.replace("T", " "), up.replace("T", " "), note))
        if len(vals) == 1000 or i == n:
            s.write("INSERT INTO base VALUES " + ",".join(vals) + ";\n")
            vals = []
EOF
cat >"$tmp/cat.json" <<'EOF'
{"streams":[{"stream":{"name":"bench","json_schema":{"type":"object","properties":{
 "id":{"type":"integer"},"name":{"type":"string"},"email":{"type":"string"},"city":{"type":"string"},
 "age":{"type":"integer"},"score":{"type":"number"},"active":{"type":"boolean"},
 "created_at":{"type":"string","format":"date-time","airbyte_type":"timestamp_without_timezone"},
 "updated_at":{"type":"string","format":"date-time","airbyte_type":"timestamp_without_timezone"},
 "note":{"type":"string"}}},"supported_sync_modes":["full_refresh"]},
 "sync_mode":"full_refresh","destination_sync_mode":"append"}]}
EOF
base_ddl="CREATE TABLE base (id BIGINT, name LONGTEXT, email LONGTEXT, city LONGTEXT, age BIGINT,
  score DECIMAL(38,9), active BOOLEAN, created_at DATETIME(6), updated_at DATETIME(6), note LONGTEXT)
  ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

# timed NAME CMD...: runs CMD under /usr/bin/time; appends "seconds rss_kib" to $tmp/NAME.t
timed() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$tmp/time.out" "$@"
  cat "$tmp/time.out" >>"$tmp/$name.t"
}
best() { sort -n "$tmp/$1.t" | head -n1; }

for r in $(seq 1 "$RUNS"); do
  echo "load round $r ..." >&2
  q -e "DROP TABLE IF EXISTS bench"
  timed dst sh -c "'$bin/destination-mysql' write --config '$tmp/c.json' --catalog '$tmp/cat.json' <'$tmp/records.jsonl' >/dev/null"
  [ "$(q -e 'SELECT COUNT(*) FROM bench')" = "$N" ] || { echo "destination-mysql loaded the wrong row count" >&2; exit 1; }
  if [ "$r" = 1 ]; then q --quick -e "SELECT * FROM bench" >"$tmp/feed.tsv"; fi
  q -e "DROP TABLE IF EXISTS feed; CREATE TABLE feed LIKE bench"
  timed feed mariadb --no-defaults --local-infile=1 -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PASSWORD" -D "$MY_DB" \
    -e "LOAD DATA LOCAL INFILE '$tmp/feed.tsv' INTO TABLE feed CHARACTER SET utf8mb4"
  [ "$(q -e 'SELECT COUNT(*) FROM feed')" = "$N" ] || { echo "LOAD DATA of the feed loaded the wrong row count" >&2; exit 1; }
  q -e "DROP TABLE IF EXISTS base; $base_ddl"
  timed load mariadb --no-defaults --local-infile=1 -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PASSWORD" -D "$MY_DB" -e "LOAD DATA LOCAL INFILE '$tmp/rows.csv' INTO TABLE base CHARACTER SET utf8mb4
    FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\n'"
  [ "$(q -e 'SELECT COUNT(*) FROM base')" = "$N" ] || { echo "LOAD DATA loaded the wrong row count" >&2; exit 1; }
  q -e "DROP TABLE IF EXISTS base; $base_ddl"
  timed insert sh -c "mariadb --no-defaults -h '$MY_HOST' -P '$MY_PORT' -u '$MY_USER' -p'$MY_PASSWORD' -D '$MY_DB' <'$tmp/inserts.sql'"
done
q -e "ALTER TABLE base ADD PRIMARY KEY (id)"
jq -n '{streams:[{stream:{name:"base",json_schema:{type:"object"},supported_sync_modes:["full_refresh"]},sync_mode:"full_refresh",destination_sync_mode:"append"}]}' >"$tmp/src-cat.json" 2>/dev/null ||
  echo '{"streams":[{"stream":{"name":"base","json_schema":{"type":"object"},"supported_sync_modes":["full_refresh"]},"sync_mode":"full_refresh","destination_sync_mode":"append"}]}' >"$tmp/src-cat.json"
for r in $(seq 1 "$RUNS"); do
  echo "read round $r ..." >&2
  timed src sh -c "'$bin/source-mysql' read --config '$tmp/c.json' --catalog '$tmp/src-cat.json' >'$tmp/src.out'"
  got=$(grep -c '"type":"RECORD"' "$tmp/src.out")
  [ "$got" = "$N" ] || { echo "source-mysql read $got rows, not $N" >&2; exit 1; }
  src_bytes=$(stat -c %s "$tmp/src.out")
  rm -f "$tmp/src.out"
  timed select sh -c "mariadb --no-defaults --quick -h '$MY_HOST' -P '$MY_PORT' -u '$MY_USER' -p'$MY_PASSWORD' -D '$MY_DB' -N -B -e 'SELECT * FROM base' >'$tmp/select.out'"
  sel_bytes=$(stat -c %s "$tmp/select.out")
  rm -f "$tmp/select.out"
done

read -r dst_s dst_m <<<"$(best dst)"
read -r load_s load_m <<<"$(best load)"
read -r ins_s ins_m <<<"$(best insert)"
read -r feed_s feed_m <<<"$(best feed)"
read -r src_s src_m <<<"$(best src)"
read -r sel_s sel_m <<<"$(best select)"
rate() { python3 -c "print('{:,.0f}'.format($N / max($1, 0.001)))"; }
ratio() { python3 -c "print('%.2f' % ($2 / max($1, 0.001)))"; }
out=$(
  echo "bench/mysql.sh: $N rows of 10 columns, best of $RUNS, $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "MariaDB $(q -e 'SELECT VERSION()'), $(nproc) cores"
  printf '%-44s %10s %12s %10s %8s\n' "measurement" "seconds" "rows/s" "peak RSS" "ratio"
  printf '%-44s %10s %12s %8s MB %8s\n' "destination-mysql write (LOAD DATA from memory)" "$dst_s" "$(rate "$dst_s")" "$((dst_m / 1024))" "1.00"
  printf '%-44s %10s %12s %8s MB %8s\n' "mariadb LOAD DATA LOCAL INFILE (CSV)" "$load_s" "$(rate "$load_s")" "$((load_m / 1024))" "$(ratio "$dst_s" "$load_s")"
  printf '%-44s %10s %12s %8s MB %8s\n' "mariadb multi-row INSERTs (1,000 a statement)" "$ins_s" "$(rate "$ins_s")" "$((ins_m / 1024))" "$(ratio "$dst_s" "$ins_s")"
  printf '%-44s %10s %12s %8s MB %8s\n' "mariadb LOAD DATA of the destination's 14 cols" "$feed_s" "$(rate "$feed_s")" "$((feed_m / 1024))" "$(ratio "$dst_s" "$feed_s")"
  printf '%-44s %10s %12s %8s MB %8s\n' "source-mysql read > file ($((src_bytes / 1048576)) MB JSON)" "$src_s" "$(rate "$src_s")" "$((src_m / 1024))" "1.00"
  printf '%-44s %10s %12s %8s MB %8s\n' "mariadb --quick -B -e SELECT > file ($((sel_bytes / 1048576)) MB)" "$sel_s" "$(rate "$sel_s")" "$((sel_m / 1024))" "$(ratio "$src_s" "$sel_s")"
  echo "ratio: the baseline's time over sluice's (above 1: sluice is faster; 0.5: sluice takes twice as long)"
)
echo "$out"
mkdir -p "$root/bench/results"
echo "$out" >"$root/bench/results/mysql-latest.txt"
