#!/usr/bin/env bash
# End-to-end tests of source-mysql and destination-mysql against a real
# MariaDB server (a throwaway one on loopback, tests/lib/db.sh).
#
# source-mysql: connection errors, discovery and type mapping, full refresh
# (exact values), chunked resumable reads, incremental reads (ties, no key),
# names that need quoting, a dropped column, and a server restarted mid-read.
# destination-mysql: see the second half.
#
# usage: tests/e2e/mysql.sh [BIN_DIR]
# shellcheck shell=bash
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
DB_STARTED=${DB_STARTED:-}
. "$E2E_HERE/../lib/db.sh"
. "$E2E_HERE/../lib/dbsrc.sh"
trap 'db_stop_all; e2e_cleanup' EXIT
DATA=$(cd "$E2E_HERE/../data/mysql" && pwd)
SRC="$BIN/source-mysql"
DST="$BIN/destination-mysql"

maria_start || { echo "mysql.sh: cannot start MariaDB" >&2; exit 2; }
mysql_file() { mariadb --no-defaults --default-character-set=utf8mb4 -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PASSWORD" -D "$MY_DB" <"$1"; }
q() { mariadb --no-defaults --default-character-set=utf8mb4 -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PASSWORD" -D "$MY_DB" -N -B -e "$1"; }
mysql_file "$DATA/source-fixture.sql"
# config FILE [JQ-EXPR]: the connection config, changed by JQ-EXPR.
config() {
  jq -n --arg h "$MY_HOST" --argjson p "$MY_PORT" --arg d "$MY_DB" --arg u "$MY_USER" --arg pw "$MY_PASSWORD" \
    "{host:\$h, port:\$p, database:\$d, username:\$u, password:\$pw} | ${2:-.}" >"$1"
}
config "$TMP/c.json"
config "$TMP/c2.json" '.chunk_rows = 2'

# ---------------- source-mysql ----------------

run_proto spec "$SRC" spec
expect_out spec/secret spec '"airbyte_secret":true'
run_proto check "$SRC" check --config "$TMP/c.json"
expect_out check/ok check '"SUCCEEDED"'
config "$TMP/badpw.json" '.password = "wrong"'
run_proto check-password "$SRC" check --config "$TMP/badpw.json"
expect_out check-password/failed check-password 'Access denied for user'
if grep -q wrong "$TMP/check-password.out"; then fail check-password/no-secret "password in output"; else pass check-password/no-secret; fi
config "$TMP/badhost.json" ".port = $(free_port)"
run_proto check-unreachable "$SRC" check --config "$TMP/badhost.json"
expect_out check-unreachable/failed check-unreachable "Can't connect to server"
config "$TMP/baddb.json" '.database = "no_such_db"'
run_proto check-database "$SRC" check --config "$TMP/baddb.json"
expect_out check-database/failed check-database "Unknown database 'no_such_db'"
config "$TMP/tls.json" '.ssl_mode = "required"'
run_proto check-tls "$SRC" check --config "$TMP/tls.json"
expect_out check-tls/refused check-tls 'does not offer TLS, and ssl_mode is required'
# read with a wrong password: a config_error trace, exit 1
run_proto discover "$SRC" discover --config "$TMP/c.json"
expect_rc discover 0
catalog "$TMP/full.json" full_refresh ""
run_proto read-password "$SRC" read --config "$TMP/badpw.json" --catalog "$TMP/full.json"
expect_rc read-password 1
expect_out read-password/config-error read-password '"failure_type":"config_error"'

expect_eq discover/streams "$(jq -c '[.catalog.streams[] | [.namespace, .name]]' "$TMP/discover.out")" \
  '[["sluice","Order"],["sluice","events"],["sluice","grown_ups"],["sluice","pairs"],["sluice","users"]]'
expect_eq discover/types "$(jq -c '.catalog.streams[] | select(.name=="users") | .json_schema.properties' "$TMP/discover.out")" \
  "$(jq -c . "$DATA/source-users-schema.json")"
expect_eq discover/pk-composite "$(jq -c '.catalog.streams[] | select(.name=="pairs") | .source_defined_primary_key' "$TMP/discover.out")" '[["a"],["b"]]'
expect_eq discover/view "$(jq -c '.catalog.streams[] | select(.name=="grown_ups") | [.source_defined_primary_key, .is_resumable]' "$TMP/discover.out")" '[null,false]'
config "$TMP/filt.json" '.include_tables = "^(users|events)$" | .exclude_tables = "^ev"'
run_proto discover-filter "$SRC" discover --config "$TMP/filt.json"
expect_eq discover/filters "$(jq -c '[.catalog.streams[].name]' "$TMP/discover-filter.out")" '["users"]'

run_proto full "$SRC" read --config "$TMP/c.json" --catalog "$TMP/full.json"
expect_rc full 0
expect_eq full/records "$(records full)" "$(cat "$DATA/source-expected.jsonl")"

catalog "$TMP/users-full.json" full_refresh "" users
run_proto chunks "$SRC" read --config "$TMP/c2.json" --catalog "$TMP/users-full.json"
expect_eq chunks/states "$(states chunks | tr '\n' ' ')" \
  '{"key":["id"],"last":[2]} {"key":["id"],"last":[4]} {"__ab_no_cursor_state_message":true} '
echo '[{"type":"STREAM","stream":{"stream_descriptor":{"name":"users","namespace":"sluice"},"stream_state":{"key":["id"],"last":[2]}}}]' >"$TMP/mid.json"
run_proto resume "$SRC" read --config "$TMP/c2.json" --catalog "$TMP/users-full.json" --state "$TMP/mid.json"
expect_eq resume/ids "$(ids resume)" '3 4 5 '
# A composite key with a case-insensitive collation: 'B' sorts after 'a'.
catalog "$TMP/pairs.json" full_refresh "" pairs
echo '[{"type":"STREAM","stream":{"stream_descriptor":{"name":"pairs","namespace":"sluice"},"stream_state":{"key":["a","b"],"last":[1,"a"]}}}]' >"$TMP/pmid.json"
run_proto resume-composite "$SRC" read --config "$TMP/c.json" --catalog "$TMP/pairs.json" --state "$TMP/pmid.json"
expect_eq resume/composite "$(records resume-composite | tr '\n' ' ')" \
  '{"stream":"pairs","data":{"a":1,"b":"B","v":"q"}} {"stream":"pairs","data":{"a":2,"b":"a","v":"r"}} '

catalog "$TMP/users-inc.json" incremental updated_at users
run_proto inc1 "$SRC" read --config "$TMP/c2.json" --catalog "$TMP/users-inc.json"
expect_eq inc1/ids "$(ids inc1)" '1 2 3 4 5 '
expect_eq inc1/mid-state "$(states inc1 | head -n1)" \
  '{"cursor_field":"updated_at","cursor":"2024-01-02 10:00:00.000000","key":["id"],"last":[2]}'
state_of inc1 "$TMP/inc1-state.json"
run_proto inc2 "$SRC" read --config "$TMP/c.json" --catalog "$TMP/users-inc.json" --state "$TMP/inc1-state.json"
expect_eq inc2/nothing-new "$(ids inc2)" ''
q "INSERT INTO users(id, name, updated_at) VALUES (6, 'Hedy', '2024-01-04 10:00:00'), (7, 'Ken', '2024-02-01 00:00:00'); UPDATE users SET name = 'Ada L.', updated_at = '2024-03-01 00:00:00' WHERE id = 1"
run_proto inc3 "$SRC" read --config "$TMP/c.json" --catalog "$TMP/users-inc.json" --state "$TMP/inc1-state.json"
expect_eq inc3/new-and-updated "$(ids inc3)" '6 7 1 '
catalog "$TMP/events-inc.json" incremental at events
config "$TMP/c1.json" '.chunk_rows = 1'
run_proto inc-nopk "$SRC" read --config "$TMP/c1.json" --catalog "$TMP/events-inc.json"
expect_eq inc-nopk/states "$(states inc-nopk | tr '\n' ' ')" \
  '{"cursor_field":"at","cursor":1} {"cursor_field":"at","cursor":2} {"cursor_field":"at","cursor":3} '

catalog "$TMP/order.json" incremental from Order
run_proto reserved "$SRC" read --config "$TMP/c.json" --catalog "$TMP/order.json"
expect_eq reserved/records "$(records reserved | tr '\n' ' ')" \
  '{"stream":"Order","data":{"select":"a","MixedCase":1,"from":10}} {"stream":"Order","data":{"select":"b","MixedCase":2,"from":20}} '

catalog "$TMP/badcur.json" incremental nope users
run_proto badcursor "$SRC" read --config "$TMP/c.json" --catalog "$TMP/badcur.json"
expect_rc badcursor 1
expect_out badcursor/names-field badcursor 'cursor field \"nope\" is not a column of table users'
q "ALTER TABLE users DROP COLUMN bio"
run_proto dropped "$SRC" read --config "$TMP/c.json" --catalog "$TMP/users-full.json"
expect_rc dropped 0
expect_out dropped/warned dropped 'column \"bio\" is in the catalog but no longer in table users'
if records dropped | grep -q '"bio"'; then fail dropped/left-out "bio still in records"; else pass dropped/left-out; fi

# A server restarted mid-read: the read fails with a transient error after
# some checkpoints; a read from its last state completes, and the records up
# to that state plus the resumed ones are every row exactly once.
q "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(200)) DEFAULT CHARSET=utf8mb4;
   INSERT INTO big SELECT seq, REPEAT('x', 150) FROM seq_1_to_20000"
run_proto discover "$SRC" discover --config "$TMP/c.json"
catalog "$TMP/big.json" full_refresh "" big
config "$TMP/c500.json" '.chunk_rows = 500'
mkfifo "$TMP/fifo"
"$SRC" read --config "$TMP/c500.json" --catalog "$TMP/big.json" >"$TMP/fifo" 2>"$TMP/restart1.err" &
src_pid=$!
exec 3<"$TMP/fifo"
: >"$TMP/restart1.out"
while IFS= read -r line <&3; do # read until the first checkpoint; the pipe then fills
  printf '%s\n' "$line" >>"$TMP/restart1.out"
  case $line in *'"type":"STATE"'*) break ;; esac
done
maria_restart
cat <&3 >>"$TMP/restart1.out"
exec 3<&-
wait "$src_pid"
RC=$?
expect_rc restart/failed 1
expect_out restart/transient restart1 '"failure_type":"transient_error"'
state_of restart1 "$TMP/restart-state.json"
run_proto restart2 "$SRC" read --config "$TMP/c500.json" --catalog "$TMP/big.json" --state "$TMP/restart-state.json"
expect_rc restart2 0
# records before the last state of run 1, then all of run 2
awk '/"type":"STATE"/ {n = NR} {l[NR] = $0} END {for (i = 1; i <= n; i++) print l[i]}' "$TMP/restart1.out" >"$TMP/restart1c.out"
got=$( (records restart1c; records restart2) | grep -o '"id":[0-9]*' | sort | uniq -c | awk '{print $1}' | sort | uniq -c | tr -s ' ')
expect_eq restart/each-row-once "$got" " 20000 1"

finish
