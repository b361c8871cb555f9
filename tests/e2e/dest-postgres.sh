#!/usr/bin/env bash
# End-to-end tests of destination-postgres against a real PostgreSQL 15
# (tests/lib/db.sh starts a throwaway server on loopback). Hand-written
# messages from tests/data/dest-postgres/ and generated streams are fed to
# `destination-postgres write`; source-faker feeds it through `sluice sync`.
# Tables are checked with psql. Faults: wrong password, unreachable server,
# a server restarted mid-sync and a destination killed between COPY and
# COMMIT (SLUICE_PGDST_TEST_PAUSE stops it at an exact point).
#
# usage: tests/e2e/dest-postgres.sh [BIN_DIR]
# shellcheck disable=SC2016 # SQL and jq programs are single-quoted on purpose
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/db.sh"
e2e_init "$@"
DATA=$(cd "$E2E_HERE/../data/dest-postgres" && pwd)
DEST=$BIN/destination-postgres
command -v psql >/dev/null || { echo "dest-postgres: psql is required" >&2; exit 2; }
[ -x "$DEST" ] || { echo "dest-postgres: $DEST is missing (run make)" >&2; exit 2; }
trap 'db_stop_all; e2e_cleanup' EXIT
pg_start || { echo "dest-postgres: cannot start PostgreSQL" >&2; exit 2; }

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1" 2>/dev/null; }

cfg() { # cfg FILE [SCHEMA] [PASSWORD] [PORT]
  printf '{"host":"127.0.0.1","port":%s,"database":"%s","schema":"%s","username":"%s","password":"%s","ssl_mode":{"mode":"disable"}}\n' \
    "${4:-$PG_PORT}" "$PG_DB" "${2:-public}" "$PG_USER" "${3:-$PG_PASSWORD}" >"$1"
}
cfg "$TMP/c.json"

# runw NAME INPUT ARGS...: the destination with INPUT on stdin.
runw() {
  local name=$1 in=$2
  shift 2
  timeout -k 5 60 "$DEST" "$@" <"$in" >"$TMP/$name.out" 2>"$TMP/$name.err"
  RC=$?
  sanitizer_check "$name"
  proto_keep "$name"
}

# catalog FILE STREAM MODE [GEN MINGEN SYNC]: one stream {id, v}.
catalog() {
  jq -n --arg s "$2" --arg m "$3" --argjson g "${4:-null}" --argjson mg "${5:-null}" --argjson sy "${6:-null}" \
    '{streams: [{stream: {name: $s, supported_sync_modes: ["full_refresh", "incremental"],
       json_schema: {type: "object", properties: {id: {type: "integer"}, v: {type: "string"}}}},
       sync_mode: "incremental", destination_sync_mode: $m, primary_key: [["id"]], cursor_field: ["id"]}
       + (if $g == null then {} else {generation_id: $g, minimum_generation_id: $mg, sync_id: $sy} end)]}' >"$1"
}

# gen STREAM FROM TO EVERY [TAG]: records id FROM..TO with a state every EVERY.
gen() {
  awk -v s="$1" -v a="$2" -v b="$3" -v e="$4" -v t="${5:-r}" 'BEGIN {
    for (i = a; i <= b; i++) {
      printf "{\"type\":\"RECORD\",\"record\":{\"stream\":\"%s\",\"emitted_at\":1700000000000,\"data\":{\"id\":%d,\"v\":\"%s%d\"}}}\n", s, i, t, i
      if (i % e == 0 || i == b) printf "{\"type\":\"STATE\",\"state\":{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"%s\"},\"stream_state\":{\"id\":%d}}}}\n", s, i
    } }'
}
complete() {
  printf '{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1700000000000.0,"stream_status":{"stream_descriptor":{"name":"%s"},"status":"COMPLETE"}}}\n' "$1"
}
echoed() { jq -r 'select(.type == "STATE") | .state.stream.stream_state.id' "$TMP/$1.out" | tail -n1; }

# ---- spec and check --------------------------------------------------------
run_proto spec "$DEST" spec
expect_rc spec/exit 0
expect_eq spec/secret "$(jq -r '.spec.connectionSpecification.properties.password.airbyte_secret' "$TMP/spec.out")" true
run_proto check "$DEST" check --config "$TMP/c.json"
expect_out check/ok check '"status":"SUCCEEDED"'
expect_eq check/leaves-nothing "$(q "select count(*) from pg_tables where tablename = '_airbyte_connection_test'")" 0

cfg "$TMP/badpw.json" public wrong-password
run_proto badpw "$DEST" check --config "$TMP/badpw.json"
expect_rc badpw/exit 0
expect_out badpw/failed badpw '"status":"FAILED"'
expect_out badpw/says-why badpw 'password authentication failed'
if grep -q wrong-password "$TMP/badpw.out" "$TMP/badpw.err"; then fail badpw/no-secret "password printed"; else pass badpw/no-secret; fi
gen t 1 3 10 >"$TMP/t3.jsonl"
catalog "$TMP/t.cat" t append
runw badpw-write "$TMP/t3.jsonl" write --config "$TMP/badpw.json" --catalog "$TMP/t.cat"
expect_rc badpw-write/exit nonzero
expect_out badpw-write/trace badpw-write '"failure_type":"config_error"'

cfg "$TMP/noserver.json" public x "$(free_port)"
run_proto noserver "$DEST" check --config "$TMP/noserver.json"
expect_out noserver/failed noserver '"status":"FAILED"'
expect_out noserver/names-host noserver 'at 127.0.0.1:'
runw noserver-write "$TMP/t3.jsonl" write --config "$TMP/noserver.json" --catalog "$TMP/t.cat"
expect_rc noserver-write/exit nonzero

# ---- typed columns, bad values, names ----------------------------------------
runw typed "$DATA/typed.jsonl" write --config "$TMP/c.json" --catalog "$DATA/typed.catalog.json"
expect_rc typed/exit 0
expect_out typed/state-echoed typed '"stream_state":{"n":4}'
expect_eq typed/table-name "$(q "select count(*) from pg_tables where schemaname = 'public' and tablename = 'userevents'")" 1
expect_eq typed/column-types "$(q "select string_agg(column_name || ':' || data_type, ',' order by ordinal_position) from information_schema.columns where table_name = 'userevents'")" \
  "id:bigint,id_2:text,name:text,select:numeric,order:boolean,day:date,at:timestamp with time zone,local_at:timestamp without time zone,clock:time without time zone,clock_tz:time with time zone,big:bigint,props:jsonb,tags:jsonb,anything:jsonb,first_name:text,_airbyte_raw_id:character varying,_airbyte_extracted_at:timestamp with time zone,_airbyte_meta:jsonb,_airbyte_generation_id:bigint"
expect_eq typed/rows "$(q 'select count(*) from userevents')" 4
expect_eq typed/escapes "$(q "select name = E'tab\\there\\\\back\\nline' from userevents where id = 1")" t
expect_eq typed/values-1 "$(q "select concat_ws('|', id_2 is null, \"select\", \"order\", day, at, local_at, clock, clock_tz, big, props, tags, anything, first_name) from userevents where id = 1")" \
  'f|12.5|t|2024-02-29|2024-01-02 01:04:05.123456+00|2024-01-02 03:04:05|10:11:12|10:11:12-05|42|{"a": [1, "x"]}|["t1", "t2"]|{"k": "v"}|Ada'
expect_eq typed/upper-ID "$(q "select id_2 from userevents where id = 1")" upper
expect_eq typed/max-int "$(q "select count(*) from userevents where id = 9223372036854775807")" 1
expect_eq typed/nulled "$(q "select concat_ws('|', name is null, \"select\" is null, \"order\" is null, day is null, at is null, local_at is null, clock is null, clock_tz is null, big is null, props is null, tags is null) from userevents where id = 9223372036854775807")" \
  't|t|t|t|t|t|t|t|t|t|t'
expect_eq typed/changes "$(q "select string_agg(c->>'field' || '=' || (c->>'reason'), ',' order by ord) from userevents, jsonb_array_elements(_airbyte_meta->'changes') with ordinality as x(c, ord) where id = 9223372036854775807")" \
  'x=SOURCE_FIELD_SIZE_LIMITATION,Name=DESTINATION_SERIALIZATION_ERROR,select=DESTINATION_TYPECAST_ERROR,order=DESTINATION_TYPECAST_ERROR,day=DESTINATION_TYPECAST_ERROR,at=DESTINATION_TYPECAST_ERROR,local_at=DESTINATION_TYPECAST_ERROR,clock=DESTINATION_TYPECAST_ERROR,clock_tz=DESTINATION_TYPECAST_ERROR,big=DESTINATION_TYPECAST_ERROR,props=DESTINATION_TYPECAST_ERROR,tags=DESTINATION_TYPECAST_ERROR'
expect_eq typed/unicode "$(q "select first_name from userevents where id = 9223372036854775807")" 'Ünïcode ✓'
expect_eq typed/strings-cast "$(q "select concat_ws('|', big, \"order\", \"select\" = -1.5e300, anything is null, _airbyte_meta->'changes'->0->>'field') from userevents where id = 3")" \
  '77|f|t|t|anything'
expect_eq typed/uint64-number "$(q "select \"select\" from userevents where id = 4")" 18446744073709551615
expect_eq typed/meta-shape "$(q "select _airbyte_meta from userevents where id = 4")" '{"changes": [], "sync_id": null}'
expect_eq typed/extracted-at "$(q "select _airbyte_extracted_at from userevents where id = 4")" '2023-11-14 22:13:20.003+00'
expect_eq typed/raw-id-uuid "$(q "select count(distinct _airbyte_raw_id::uuid) from userevents")" 4
expect_eq typed/no-gen "$(q "select count(*) from userevents where _airbyte_generation_id is null")" 4

runw numbers "$DATA/numbers.jsonl" write --config "$TMP/c.json" --catalog "$DATA/typed.catalog.json"
expect_rc numbers/exit 0
expect_eq numbers/numeric-binary "$(q "select string_agg(coalesce(\"select\"::text, '-'), ',' order by id) from userevents where id between 100 and 108")" \
  "0,0.0015,0.0,0.0000001,-123456789.125,-42.50,100000000000000000000,0.000,99990000.0001"
expect_eq numbers/date-edges "$(q "select concat_ws('|', day, at, local_at, clock_tz) from userevents where id = 109")" \
  '0001-01-01|10000-01-01 15:58:59.999999+00|1900-02-28 12:00:00|00:00:00+14'
# literals beyond a double or 64 bits keep every digit (lib/json_simd.cpp)
expect_eq numbers/long-literals "$(q "select string_agg(\"select\"::text, ',' order by id) from userevents where id between 110 and 112")" \
  "123456789012345678901234567890.123456789,-0.1000000000000000055511151231257827,98765432109876543210987654321"

runw badutf8 "$DATA/bad-utf8.jsonl" write --config "$TMP/c.json" --catalog "$DATA/typed.catalog.json"
expect_rc badutf8/exit 0
expect_out badutf8/warns badutf8 'stdin line 1 is not a JSON message'
expect_out badutf8/warns-surrogate badutf8 'stdin line 3 is not a JSON message'
expect_eq badutf8/rest-loaded "$(q "select string_agg(id::text, ',' order by id) from userevents where id in (5, 6, 7)")" 6
expect_out badutf8/state badutf8 '"stream_state":{"n":6}'

# ---- schemas: missing schema created, namespaces --------------------------------
cfg "$TMP/newschema.json" "Brand New"
runw newschema "$TMP/t3.jsonl" write --config "$TMP/newschema.json" --catalog "$TMP/t.cat"
expect_rc newschema/exit 0
expect_eq newschema/rows "$(q 'select count(*) from brand_new.t')" 3
jq '.streams[0].stream.namespace = "Other NS"' "$TMP/t.cat" >"$TMP/ns.cat"
sed 's/"stream":"t",/"stream":"t","namespace":"Other NS",/' "$TMP/t3.jsonl" >"$TMP/ns.jsonl"
runw ns "$TMP/ns.jsonl" write --config "$TMP/c.json" --catalog "$TMP/ns.cat"
expect_eq ns/rows "$(q 'select count(*) from other_ns.t')" 3

# A user who may not create schemas: a clear error, nothing half-done.
q "create role limited login password 'limited-pw'; grant connect on database $PG_DB to limited"
cfg "$TMP/limited.json" not_there limited-pw
jq '.username = "limited"' "$TMP/limited.json" >"$TMP/limited2.json"
run_proto limited "$DEST" check --config "$TMP/limited2.json"
expect_out limited/failed limited '"status":"FAILED"'
expect_out limited/says-why limited 'cannot create tables in schema \"not_there\"'
runw limited-write "$TMP/t3.jsonl" write --config "$TMP/limited2.json" --catalog "$TMP/t.cat"
expect_rc limited-write/exit nonzero
expect_out limited-write/message limited-write 'schema \"not_there\" is missing and cannot be created'

# ---- append --------------------------------------------------------------------
gen app 1 250 100 >"$TMP/app.jsonl"
catalog "$TMP/app.cat" app append
runw app1 "$TMP/app.jsonl" write --config "$TMP/c.json" --catalog "$TMP/app.cat"
runw app2 "$TMP/app.jsonl" write --config "$TMP/c.json" --catalog "$TMP/app.cat"
expect_eq append/twice "$(q 'select count(*) || chr(47) || count(distinct id) from app')" "500/250"
expect_eq append/states "$(grep -c '"type":"STATE"' "$TMP/app2.out")" 3
expect_eq append/no-key-index "$(q "select count(*) from pg_indexes where tablename = 'app'")" 0
# The states of the last commits, kept in the transaction of the rows (lib/dest_states.c).
run app-states "$DEST" state --config "$TMP/c.json"
expect_eq append/states-kept "$(jq -r 'select(.key | endswith("\tapp")) | .key + " " + (.states[-1].stream.stream_state | tostring)' "$TMP/app-states.out" | tr '\t' ' ')" \
  "STREAM  app $(jq -c 'select(.type == "STATE") | .state.stream.stream_state' "$TMP/app2.out" | tail -n1)"

# ---- overwrite: swapped in at COMPLETE only -----------------------------------------
catalog "$TMP/ow.cat" ow overwrite
{ gen ow 1 5 10 old; complete ow; } >"$TMP/ow1.jsonl"
runw ow1 "$TMP/ow1.jsonl" write --config "$TMP/c.json" --catalog "$TMP/ow.cat"
expect_eq overwrite/first "$(q 'select count(*) from ow')" 5
gen ow 1 3 10 new >"$TMP/ow2.jsonl" # no COMPLETE: the source failed
runw ow2 "$TMP/ow2.jsonl" write --config "$TMP/c.json" --catalog "$TMP/ow.cat"
expect_eq overwrite/incomplete-keeps-old "$(q "select count(*) || chr(47) || min(v) from ow")" "5/old1"
expect_eq overwrite/stage-kept "$(q 'select count(*) from _airbyte_tmp_ow')" 3
{ gen ow 4 6 10 new; complete ow; } >"$TMP/ow3.jsonl" # the retry resumes after the state
runw ow3 "$TMP/ow3.jsonl" write --config "$TMP/c.json" --catalog "$TMP/ow.cat"
expect_rc ow3/exit 0
expect_eq overwrite/swapped "$(q "select count(*) || chr(47) || min(v) || chr(47) || count(distinct id) from ow")" "6/new1/6"
expect_eq overwrite/stage-gone "$(q "select count(*) from pg_tables where tablename = '_airbyte_tmp_ow'")" 0

# ---- refreshes: generations ----------------------------------------------------------
catalog "$TMP/g1.cat" gen append 1 0 101
catalog "$TMP/g2.cat" gen append 2 2 102
gen gen 1 4 10 g1 >"$TMP/g1.jsonl"
runw g1 "$TMP/g1.jsonl" write --config "$TMP/c.json" --catalog "$TMP/g1.cat"
expect_eq refresh/gen1 "$(q "select count(*) || chr(47) || min(_airbyte_generation_id) || chr(47) || min(_airbyte_meta->>'sync_id') from gen")" "4/1/101"
gen gen 1 2 10 g2 >"$TMP/g2a.jsonl"
runw g2a "$TMP/g2a.jsonl" write --config "$TMP/c.json" --catalog "$TMP/g2.cat"
expect_eq refresh/no-complete-keeps-gen1 "$(q "select count(*) || chr(47) || max(_airbyte_generation_id) from gen")" "4/1"
{ gen gen 3 3 10 g2; complete gen; } >"$TMP/g2b.jsonl"
runw g2b "$TMP/g2b.jsonl" write --config "$TMP/c.json" --catalog "$TMP/g2.cat"
expect_eq refresh/truncated "$(q "select count(*) || chr(47) || min(_airbyte_generation_id) || chr(47) || string_agg(v, ',' order by id) from gen")" "3/2/g21,g22,g23"
catalog "$TMP/g3.cat" gen append 3 0 103
gen gen 10 11 10 g3 >"$TMP/g3.jsonl"
runw g3 "$TMP/g3.jsonl" write --config "$TMP/c.json" --catalog "$TMP/g3.cat"
expect_eq refresh/append-keeps-older "$(q "select string_agg(_airbyte_generation_id::text, ',' order by id) from gen")" "2,2,2,3,3"

# ---- dedup ---------------------------------------------------------------------------------
runw dd1 "$DATA/dedup-1.jsonl" write --config "$TMP/c.json" --catalog "$DATA/dedup.catalog.json"
expect_rc dd1/exit 0
expect_eq dedup/first "$(q "select string_agg(concat_ws(':', id, coalesce(region, '-'), balance), ',' order by id, region) from accounts")" \
  "1:eu:11,1:us:20,2:eu:32,3:eu:40,4:-:50"
runw dd2 "$DATA/dedup-2.jsonl" write --config "$TMP/c.json" --catalog "$DATA/dedup.catalog.json"
expect_rc dd2/exit 0
expect_eq dedup/second "$(q "select string_agg(concat_ws(':', id, coalesce(region, '-'), balance), ',' order by id, region) from accounts")" \
  "1:eu:11,1:us:21,2:eu:32,4:-:51"
printf '%s\n' '{"type":"RECORD","record":{"stream":"accounts","emitted_at":1,"data":{"balance":1}}}' >"$TMP/nokey.jsonl"
runw nokey "$TMP/nokey.jsonl" write --config "$TMP/c.json" --catalog "$DATA/dedup.catalog.json"
expect_rc nokey/exit nonzero
expect_out nokey/message nokey 'null primary key'
# A table that held duplicates (appended before) cannot take the key: a clear error.
catalog "$TMP/app-dd.cat" app append_dedup
runw appdd "$TMP/t3.jsonl" write --config "$TMP/c.json" --catalog "$TMP/app-dd.cat"
expect_rc appdd/exit nonzero
expect_out appdd/message appdd 'cannot be deduplicated on its primary key'

# Dedup under a truncate refresh: merged into the stage (its own key index),
# which is renamed into place with its index at COMPLETE.
catalog "$TMP/dr1.cat" drf append_dedup 1 0 201
catalog "$TMP/dr2.cat" drf append_dedup 2 2 202
{ gen drf 1 4 10 a; gen drf 3 4 10 b; } >"$TMP/dr1.jsonl"
runw dr1 "$TMP/dr1.jsonl" write --config "$TMP/c.json" --catalog "$TMP/dr1.cat"
expect_eq dedup-refresh/gen1 "$(q "select string_agg(v, ',' order by id) from drf")" "a1,a2,b3,b4"
{ gen drf 2 3 10 c; gen drf 3 3 10 d; complete drf; } >"$TMP/dr2.jsonl"
runw dr2 "$TMP/dr2.jsonl" write --config "$TMP/c.json" --catalog "$TMP/dr2.cat"
expect_rc dr2/exit 0
expect_eq dedup-refresh/swapped "$(q "select string_agg(v || ':' || _airbyte_generation_id, ',' order by id) from drf")" "c2:2,d3:2"
expect_eq dedup-refresh/index-renamed "$(q "select string_agg(indexname, ',') from pg_indexes where tablename = 'drf'")" "_airbyte_pk_drf"
catalog "$TMP/dr3.cat" drf append_dedup 3 0 203
gen drf 3 5 10 e >"$TMP/dr3.jsonl"
runw dr3 "$TMP/dr3.jsonl" write --config "$TMP/c.json" --catalog "$TMP/dr3.cat"
expect_rc dr3/exit 0
expect_eq dedup-refresh/then-merges "$(q "select string_agg(v, ',' order by id) from drf")" "c2,e3,e4,e5"

# ---- schema changes between syncs -------------------------------------------------------
evo_cat() { # evo_cat FILE PROPERTIES-JSON
  jq -n --argjson p "$2" '{streams: [{stream: {name: "evo", supported_sync_modes: ["full_refresh"],
    json_schema: {type: "object", properties: $p}}, sync_mode: "full_refresh", destination_sync_mode: "append"}]}' >"$1"
}
evo_rec() { printf '{"type":"RECORD","record":{"stream":"evo","emitted_at":1,"data":%s}}\n' "$@"; }
evo_cat "$TMP/e1.cat" '{"id": {"type": "integer"}, "a": {"type": "integer"}, "b": {"type": "string"}, "n": {"type": "string"}}'
evo_rec '{"id":1,"a":10,"b":"x","n":"42"}' '{"id":2,"a":20,"b":"y","n":"abc"}' >"$TMP/e1.jsonl"
runw e1 "$TMP/e1.jsonl" write --config "$TMP/c.json" --catalog "$TMP/e1.cat"
# b dropped from the schema, c added, a becomes a string (widening), n becomes an integer (narrowing)
evo_cat "$TMP/e2.cat" '{"id": {"type": "integer"}, "a": {"type": "string"}, "c": {"type": "boolean"}, "n": {"type": "integer"}}'
evo_rec '{"id":3,"a":"thirty","c":true,"n":7}' >"$TMP/e2.jsonl"
runw e2 "$TMP/e2.jsonl" write --config "$TMP/c.json" --catalog "$TMP/e2.cat"
expect_rc e2/exit 0
expect_eq evolve/columns "$(q "select string_agg(column_name || ':' || data_type, ',' order by column_name) from information_schema.columns where table_name = 'evo' and column_name not like '\\_airbyte%'")" \
  "a:text,b:text,c:boolean,id:bigint,n:bigint,n_old:text"
expect_eq evolve/widened-kept "$(q "select string_agg(concat_ws(':', id, a, b, c, n, n_old), ',' order by id) from evo")" \
  "1:10:x:42,2:20:y:abc,3:thirty:t:7"
expect_out evolve/logged e2 'the old values stay in column \"n_old\"'
# A column someone dropped from the table between syncs comes back.
q 'alter table evo drop column c'
runw e3 "$TMP/e2.jsonl" write --config "$TMP/c.json" --catalog "$TMP/e2.cat"
expect_rc e3/exit 0
expect_eq evolve/dropped-readded "$(q "select count(*) from evo where c")" 1

# ---- faults at exact points ------------------------------------------------------------------
# The destination reads a FIFO: the first 100 records and their state, then
# (once that state is echoed, i.e. committed) the rest. The test hook stops
# it at the named point (SLUICE_PGDST_TEST_PAUSE) so that the fault lands
# exactly there; whatever commit happened is the last echoed state.
# fault_start NAME STREAM POINT: starts it; FPID is its pid.
fault_start() {
  local name=$1 stream=$2
  catalog "$TMP/$stream.cat" "$stream" append
  mkdir -p "$TMP/hook-$name"
  mkfifo "$TMP/$name.fifo"
  SLUICE_PGDST_TEST_PAUSE=$3 SLUICE_PGDST_TEST_DIR="$TMP/hook-$name" \
    "$DEST" write --config "$TMP/c.json" --catalog "$TMP/$stream.cat" <"$TMP/$name.fifo" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  FPID=$!
  exec 7>"$TMP/$name.fifo"
  gen "$stream" 1 100 100 >&7
  wait_for 200 grep -q '"stream_state":{"id":100}' "$TMP/$name.out" || fail "$name/first-commit" "state 100 never echoed"
  gen "$stream" 101 300 100 >&7 # under the pipe's buffer size: never blocks
  exec 7>&-
  wait_for 300 test -e "$TMP/hook-$name/paused" || fail "$name/paused" "the destination never reached $3"
}

# Killed between COPY and COMMIT: rows 101.. are in the server, uncommitted.
fault_start kill killed commit:2
expect_eq kill/in-transaction "$(q "select count(*) from pg_stat_activity where state = 'idle in transaction' and application_name = 'sluice-destination-postgres'")" 1
{ kill -9 "$FPID" && wait "$FPID"; } 2>/dev/null
echoed_k=$(echoed kill)
expect_eq kill/echoed-first-only "$echoed_k" 100
wait_for 100 test "$(q "select count(*) from pg_stat_activity where application_name = 'sluice-destination-postgres'")" = 0
expect_eq kill/rows-match-state "$(q 'select count(*) || chr(47) || max(id) from killed')" "100/100"
gen killed 101 300 100 >"$TMP/k2.jsonl" # what the retry sends: everything after the echoed state
runw kill2 "$TMP/k2.jsonl" write --config "$TMP/c.json" --catalog "$TMP/killed.cat"
expect_eq kill/retry-exact "$(q 'select count(*) || chr(47) || count(distinct id) from killed')" "300/300"

# The server restarted while rows stream in.
fault_start restart rs record:250
pg_restart fast
touch "$TMP/hook-restart/resume"
wait "$FPID"
RC=$?
sanitizer_check restart
expect_rc restart/fails nonzero
expect_out restart/transient restart '"failure_type":"transient_error"'
last_r=$(echoed restart)
expect_eq restart/rows-match-state "$(q 'select count(*) || chr(47) || max(id) from rs')" "$last_r/$last_r"
gen rs $((last_r + 1)) 300 100 >"$TMP/rs2.jsonl"
runw restart2 "$TMP/rs2.jsonl" write --config "$TMP/c.json" --catalog "$TMP/rs.cat"
expect_rc restart2/exit 0
expect_eq restart/retry-exact "$(q 'select count(*) || chr(47) || count(distinct id) || chr(47) || max(id) from rs')" "300/300/300"

# ---- through `sluice sync`: source-faker -> postgres ------------------------------------------
echo '{"count": 300, "seed": 7, "records_per_slice": 50}' >"$TMP/faker.json"
cfg "$TMP/fk.json" faker
run_sync faker --source source-faker --source-config "$TMP/faker.json" \
  --destination destination-postgres --destination-config "$TMP/fk.json" --state-file "$TMP/fk-state.json"
expect_rc faker/exit 0
expect_eq faker/rows "$(q 'select (select count(*) from faker.users) || chr(47) || (select count(distinct id) from faker.users) || chr(47) || (select count(*) from faker.products) || chr(47) || (select count(*) from faker.purchases)')" "300/300/100/300"
expect_eq faker/key-index "$(q "select count(*) from pg_indexes where schemaname = 'faker' and tablename = 'users' and indexdef like '%UNIQUE%'")" 1
# Full refresh: overwrite, swapped in when the platform sends COMPLETE.
echo '{"count": 120, "seed": 9, "records_per_slice": 50}' >"$TMP/faker-fr.json"
cfg "$TMP/fr.json" faker_fr
q 'create schema faker_fr; create table faker_fr.users (id bigint, stale boolean)'
q 'insert into faker_fr.users values (999999, true)'
run_sync faker-fr --full-refresh --source source-faker --source-config "$TMP/faker-fr.json" \
  --destination destination-postgres --destination-config "$TMP/fr.json" --state-file "$TMP/fr-state.json"
expect_rc faker-fr/exit 0
expect_eq faker-fr/replaced "$(q 'select count(*) || chr(47) || count(*) filter (where id = 999999) from faker_fr.users')" "120/0"
expect_eq faker-fr/no-stage "$(q "select count(*) from pg_tables where schemaname = 'faker_fr' and tablename like '_airbyte_tmp%'")" 0

echo '{"count": 400, "seed": 7, "records_per_slice": 50}' >"$TMP/faker2.json"
mkdir -p "$TMP/hook-s"
SLUICE_PGDST_TEST_PAUSE=record:150 SLUICE_PGDST_TEST_DIR="$TMP/hook-s" \
  timeout -k 5 60 "$BIN/sluice" sync --no-progress --source source-faker --source-config "$TMP/faker2.json" \
  --destination destination-postgres --destination-config "$TMP/fk.json" --state-file "$TMP/fk-state.json" \
  >"$TMP/fk-restart.out" 2>"$TMP/fk-restart.err" &
spid=$!
if wait_for 300 test -e "$TMP/hook-s/paused"; then
  pg_restart fast
  touch "$TMP/hook-s/resume"
else
  fail faker-restart/paused "the sync never reached record 150"
fi
wait "$spid"
RC=$?
sanitizer_check fk-restart
expect_rc faker-restart/fails nonzero
run_sync faker-resume --source source-faker --source-config "$TMP/faker2.json" \
  --destination destination-postgres --destination-config "$TMP/fk.json" --state-file "$TMP/fk-state.json"
expect_rc faker-resume/exit 0
expect_eq faker-resume/no-loss-no-dups "$(q 'select (select count(*) from faker.users) || chr(47) || (select count(distinct id) from faker.users) || chr(47) || (select count(*) from faker.purchases) || chr(47) || (select count(distinct id) from faker.purchases)')" "400/400/400/400"

finish
