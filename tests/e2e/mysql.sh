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
jq '.streams[0].stream.name = "gone"' "$TMP/users-full.json" >"$TMP/gone.json"
run_proto missing-table "$SRC" read --config "$TMP/c.json" --catalog "$TMP/gone.json"
expect_rc missing-table 1
expect_out missing-table/names-stream missing-table 'stream \"gone\" is not a stream of source-mysql'
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

# ---------------- destination-mysql ----------------
# Into a database of its own (the source fixtures stay out of the way).
q "CREATE DATABASE dst"
config "$TMP/c.json" '.database = "dst"'
config "$TMP/badpw.json" '.database = "dst" | .password = "wrong"'
q() { mariadb --no-defaults --default-character-set=utf8mb4 -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PASSWORD" -D dst -N -B -e "$1"; }
# write RUN CATALOG INPUT [ENV...]: destination-mysql write with INPUT on stdin.
write() {
  local name=$1 cat=$2 input=$3
  shift 3
  env "$@" "$DST" write --config "$TMP/c.json" --catalog "$cat" <"$input" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  wait $! 2>/dev/null # quiet: the kill test SIGKILLs the run, and the shell would report it
  RC=$?
  sanitizer_check "$name"
  proto_keep "$name"
}
echoed() { jq -c 'select(.type=="STATE") | .state.stream.stream_state' "$TMP/$1.out" | tr '\n' ' '; }

run_proto dspec "$DST" spec
expect_out dst-spec/secret dspec '"airbyte_secret":true'
run_proto dcheck "$DST" check --config "$TMP/c.json"
expect_out dst-check/ok dcheck '"SUCCEEDED"'
run_proto dcheck-pw "$DST" check --config "$TMP/badpw.json"
expect_out dst-check/password dcheck-pw 'Access denied for user'
run_proto dcheck-host "$DST" check --config "$TMP/badhost.json"
expect_out dst-check/unreachable dcheck-host "Can't connect to server"
config "$TMP/dbaddb.json" '.database = "no_such_db"'
run_proto dcheck-db "$DST" check --config "$TMP/dbaddb.json"
expect_out dst-check/database dcheck-db "Unknown database 'no_such_db'"
run_proto dwrite-pw "$DST" write --config "$TMP/badpw.json" --catalog "$DATA/dest-types.catalog.json"
expect_rc dst-write/password 1 dwrite-pw
expect_out dst-write/password-config-error dwrite-pw '"failure_type":"config_error"'

# Types, escapes (tab, newline, backslash, NUL), UTC conversion, values that
# do not fit (NULL + _airbyte_meta.changes, the source's changes kept).
write dtypes "$DATA/dest-types.catalog.json" "$DATA/dest-types.jsonl"
expect_rc dst-types 0 dtypes
expect_eq dst-types/echo "$(echoed dtypes)" '{"n":1} '
# The states of the last commits, kept in the transaction of the rows (lib/dest_states.c).
run dtypes-states "$DST" state --config "$TMP/c.json"
expect_eq dst-types/states-kept "$(jq -r '.key + " " + (.states[-1].stream.stream_state | tostring)' "$TMP/dtypes-states.out" | tr '\t' ' ')" 'STREAM  people {"n":1}'
expect_eq dst-types/rows "$(q 'SELECT id, hex(name), score, ok, born, at, `local`, wakes, tags, addr, `any`, big, _airbyte_meta, _airbyte_generation_id FROM people ORDER BY id')" \
  "$(cat "$DATA/dest-types.expected.tsv")"
expect_eq dst-types/column-types "$(q "SELECT GROUP_CONCAT(COLUMN_TYPE ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'people'")" \
  'bigint(20),longtext,decimal(38,9),tinyint(1),date,datetime(6),datetime(6),time(6),longtext,longtext,longtext,bigint(20),bigint(20),varchar(36),datetime(6),longtext,bigint(20)'

# append_dedup: one row per key, newest cursor wins (within a batch and
# against the table), ties go to the later record, CDC deletes remove rows.
write ddedup1 "$DATA/dest-dedup.catalog.json" "$DATA/dest-dedup-1.jsonl"
expect_eq dst-dedup/echo "$(echoed ddedup1)" '{"n":1} {"n":2} '
expect_eq dst-dedup/first "$(q 'SELECT id, name, updated FROM users ORDER BY id' | tr '\t\n' ', ')" '1,a3,3 3,c1,1 '
write ddedup2 "$DATA/dest-dedup.catalog.json" "$DATA/dest-dedup-2.jsonl"
expect_eq dst-dedup/second "$(q 'SELECT id, name, updated FROM users ORDER BY id' | tr '\t\n' ', ')" '1,a3,3 3,c5,5 4,d1,NULL '
expect_eq dst-dedup/no-batch-tables "$(q "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_airbyte\\_dd\\_%'")" 0

# Overwrite with generations: the new rows replace the table only at the
# stream's COMPLETE; an attempt that ends without it leaves the old table,
# and the next attempt of the same generation resumes into its stage.
write dow1 "$DATA/dest-overwrite.catalog.json" "$DATA/dest-overwrite-1.jsonl"
expect_eq dst-overwrite/first "$(q 'SELECT GROUP_CONCAT(id ORDER BY id) FROM items')" '1,2,3'
jq '.streams[0].generation_id = 2 | .streams[0].minimum_generation_id = 2 | .streams[0].sync_id = 2' \
  "$DATA/dest-overwrite.catalog.json" >"$TMP/ow2.json"
write dow2 "$TMP/ow2.json" "$DATA/dest-overwrite-2-partial.jsonl"
expect_eq dst-overwrite/partial-echoed "$(echoed dow2)" '{"key":["id"],"last":[11]} '
expect_eq dst-overwrite/old-rows-stay "$(q 'SELECT GROUP_CONCAT(id ORDER BY id) FROM items')" '1,2,3'
write dow3 "$TMP/ow2.json" "$DATA/dest-overwrite-2-rest.jsonl"
expect_eq dst-overwrite/swapped "$(q 'SELECT GROUP_CONCAT(CONCAT(id, ":", _airbyte_generation_id) ORDER BY id) FROM items')" '10:2,11:2,12:2'
expect_eq dst-overwrite/no-stage "$(q "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_airbyte\\_%'")" 0
# A merge refresh (minimum_generation_id 0) appends to what is there.
jq '.streams[0].destination_sync_mode = "append" | .streams[0].generation_id = 3 | .streams[0].minimum_generation_id = 0' \
  "$DATA/dest-overwrite.catalog.json" >"$TMP/ow3.json"
write dow4 "$TMP/ow3.json" "$DATA/dest-overwrite-1.jsonl"
expect_eq dst-refresh/merge "$(q 'SELECT COUNT(*), SUM(_airbyte_generation_id = 3) FROM items' | tr '\t' ,)" '6,3'

# Reserved words, mixed case, a namespace, names that collide.
write dnames "$DATA/dest-names.catalog.json" "$DATA/dest-names.jsonl"
expect_rc dst-names 0 dnames
expect_eq dst-names/columns "$(q "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'My_NS_Order'")" \
  'select,MixedCase,from,we_ird__,mixedcase_2,_airbyte_raw_id_2,_airbyte_raw_id,_airbyte_extracted_at,_airbyte_meta,_airbyte_generation_id'
expect_eq dst-names/values "$(q 'SELECT `select`, MixedCase, `from`, we_ird__, mixedcase_2, _airbyte_raw_id_2 FROM My_NS_Order' | tr '\t' ,)" 's,1,2,w,lower,mine'

# Schema changes between syncs: a new column is added; a column whose type
# changes keeps its old values (widened to text).
evo() { jq -n --argjson p "$1" '{streams:[{stream:{name:"evo",json_schema:{type:"object",properties:$p},supported_sync_modes:["full_refresh"]},sync_mode:"full_refresh",destination_sync_mode:"append"}]}'; }
evo '{"id":{"type":"integer"},"score":{"type":"integer"}}' >"$TMP/evo1.json"
echo '{"type":"RECORD","record":{"stream":"evo","emitted_at":1,"data":{"id":1,"score":5}}}' >"$TMP/evo1.jsonl"
write devo1 "$TMP/evo1.json" "$TMP/evo1.jsonl"
evo '{"id":{"type":"integer"},"score":{"type":"string"},"extra":{"type":"string"}}' >"$TMP/evo2.json"
echo '{"type":"RECORD","record":{"stream":"evo","emitted_at":1,"data":{"id":2,"score":"high","extra":"x"}}}' >"$TMP/evo2.jsonl"
write devo2 "$TMP/evo2.json" "$TMP/evo2.jsonl"
expect_rc dst-evolve 0 devo2
expect_eq dst-evolve/rows "$(q 'SELECT id, score, IFNULL(extra, "-") FROM evo ORDER BY id' | tr '\t\n' ', ')" '1,5,- 2,high,x '
expect_out dst-evolve/logged devo2 'column score was bigint and the stream now says string'

# A line with invalid UTF-8 is refused with a warning naming the line; the
# other records load.
{ echo '{"type":"RECORD","record":{"stream":"evo","emitted_at":1,"data":{"id":3,"score":"ok"}}}'
  printf '{"type":"RECORD","record":{"stream":"evo","emitted_at":1,"data":{"id":4,"score":"bad \xff byte"}}}\n'
  echo '{"type":"RECORD","record":{"stream":"evo","emitted_at":1,"data":{"id":5,"score":"ok"}}}'; } >"$TMP/utf8.jsonl"
"$DST" write --config "$TMP/c.json" --catalog "$TMP/evo2.json" <"$TMP/utf8.jsonl" >"$TMP/dutf8.out" 2>"$TMP/dutf8.err"
RC=$?
expect_rc dst-utf8 0 dutf8
expect_out dst-utf8/warned dutf8 'line 2'
expect_eq dst-utf8/others "$(q 'SELECT GROUP_CONCAT(id ORDER BY id) FROM evo')" '1,2,3,5'
# A column dropped from the stream between syncs keeps its old values; new
# rows have NULL there.
evo '{"id":{"type":"integer"}}' >"$TMP/evo3.json"
echo '{"type":"RECORD","record":{"stream":"evo","emitted_at":1,"data":{"id":9}}}' >"$TMP/evo3.jsonl"
write devo3 "$TMP/evo3.json" "$TMP/evo3.jsonl"
expect_rc dst-dropped-column 0 devo3
expect_eq dst-dropped-column/rows "$(q 'SELECT id, IFNULL(score, "-"), IFNULL(extra, "-") FROM evo WHERE id IN (1, 2, 9) ORDER BY id' | tr '\t\n' ', ')" '1,5,- 2,high,x 9,-,- '

# Killed between the load and the COMMIT: nothing of the batch is visible,
# no state was echoed, and the retried sync loads every row exactly once.
write dkill "$DATA/dest-dedup.catalog.json" "$DATA/dest-dedup-1.jsonl" SLUICE_MYDST_TEST_KILL_BEFORE_COMMIT=1
if [ "$RC" -eq 137 ]; then pass dst-kill/killed; else fail dst-kill/killed "exit $RC, expected 137 (SIGKILL)"; fi
expect_eq dst-kill/no-echo "$(echoed dkill)" ''
q "DROP TABLE users"
write dkill-a "$DATA/dest-dedup.catalog.json" "$DATA/dest-dedup-1.jsonl" SLUICE_MYDST_TEST_KILL_BEFORE_COMMIT=1
expect_eq dst-kill/nothing-committed "$(q 'SELECT COUNT(*) FROM users')" 0
jq '.streams[0].destination_sync_mode = "append"' "$DATA/dest-dedup.catalog.json" >"$TMP/app.json"
write dkill-b "$TMP/app.json" "$DATA/dest-dedup-1.jsonl"
expect_eq dst-kill/retry-once "$(q 'SELECT COUNT(*), COUNT(DISTINCT _airbyte_raw_id) FROM users' | tr '\t' ,)" '6,6'

# The server restarted mid-write: the destination fails with a transient
# error after echoing what it committed; replaying from that state loads
# the rest, each row once.
q "DROP TABLE IF EXISTS evo"
mkfifo "$TMP/dfifo"
"$DST" write --config "$TMP/c.json" --catalog "$TMP/evo2.json" <"$TMP/dfifo" >"$TMP/drestart.out" 2>"$TMP/drestart.err" &
dst_pid=$!
exec 4>"$TMP/dfifo"
for i in 1 2 3; do echo "{\"type\":\"RECORD\",\"record\":{\"stream\":\"evo\",\"emitted_at\":1,\"data\":{\"id\":$i}}}" >&4; done
echo '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"evo"},"stream_state":{"upto":3}}}}' >&4
if wait_for 100 grep -qs '"upto":3' "$TMP/drestart.out"; then pass dst-restart/first-echo; else fail dst-restart/first-echo "no echo"; fi
maria_restart
for i in 4 5 6; do echo "{\"type\":\"RECORD\",\"record\":{\"stream\":\"evo\",\"emitted_at\":1,\"data\":{\"id\":$i}}}" >&4; done
echo '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"evo"},"stream_state":{"upto":6}}}}' >&4
exec 4>&-
wait "$dst_pid"
RC=$?
expect_rc dst-restart/failed 1 drestart
expect_out dst-restart/transient drestart '"failure_type":"transient_error"'
expect_eq dst-restart/echoed "$(echoed drestart)" '{"upto":3} '
for i in 4 5 6; do echo "{\"type\":\"RECORD\",\"record\":{\"stream\":\"evo\",\"emitted_at\":1,\"data\":{\"id\":$i}}}"; done >"$TMP/rest.jsonl"
write drestart2 "$TMP/evo2.json" "$TMP/rest.jsonl"
expect_eq dst-restart/each-once "$(q 'SELECT GROUP_CONCAT(id ORDER BY id) FROM evo')" '1,2,3,4,5,6'

# Through the platform: source-faker into destination-mysql, a full refresh
# (overwrite) then incremental syncs (append_dedup: always_updated re-emits
# every user, newer), and source-mysql into destination-mysql.
if "$BIN/sluice" help sync 2>&1 | grep -q -- --destination; then
  echo '{"count":300,"seed":7,"records_per_slice":100}' >"$TMP/faker.json"
  run_sync sync1 --source "$BIN/source-faker" --source-config "$TMP/faker.json" \
    --destination "$DST" --destination-config "$TMP/c.json" --state-file "$TMP/sync-state.json" --streams users --full-refresh
  expect_rc sync/overwrite 0 sync1
  expect_eq sync/overwrite-rows "$(q 'SELECT COUNT(*), COUNT(DISTINCT id) FROM users' | tr '\t' ,)" '300,300'
  run_sync sync2 --source "$BIN/source-faker" --source-config "$TMP/faker.json" \
    --destination "$DST" --destination-config "$TMP/c.json" --state-file "$TMP/sync-state.json" --streams users
  t2=$(q 'SELECT MAX(_airbyte_extracted_at) FROM users')
  run_sync sync3 --source "$BIN/source-faker" --source-config "$TMP/faker.json" \
    --destination "$DST" --destination-config "$TMP/c.json" --state-file "$TMP/sync-state.json" --streams users
  expect_rc sync/incremental 0 sync3
  expect_eq sync/dedup-rows "$(q 'SELECT COUNT(*), COUNT(DISTINCT id) FROM users' | tr '\t' ,)" '300,300'
  expect_eq sync/dedup-newest "$(q "SELECT COUNT(*) FROM users WHERE _airbyte_extracted_at <= '$t2'")" 0
  expect_eq sync/typed "$(q "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'dst' AND TABLE_NAME = 'users' AND COLUMN_NAME IN ('age', 'updated_at', 'address') ORDER BY COLUMN_NAME" | tr '\n' ' ')" 'longtext bigint datetime '
  config "$TMP/src.json" '.chunk_rows = 1000'
  run_sync sync4 --source "$SRC" --source-config "$TMP/src.json" \
    --destination "$DST" --destination-config "$TMP/c.json" --state-file "$TMP/sync-state2.json" --streams big
  expect_rc sync/mysql-to-mysql 0 sync4
  expect_eq sync/mysql-to-mysql-rows "$(q 'SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM sluice_big' | tr '\t' ,)" '20000,20000,1,20000'
else
  fail sync/available "$BIN/sluice has no sync command"
fi

finish
