#!/usr/bin/env bash
# source-postgres against a real PostgreSQL 15 on loopback (tests/lib/db.sh):
# check, discover, type mapping, full refresh and incremental with resumable
# per-chunk state, CDC through a logical replication slot, and the faults
# (bad credentials, unreachable host, missing schema/table, dropped column,
# edge values, awkward names, a server restarted mid-sync).
# Usage: tests/e2e/source-postgres.sh [BIN_DIR]
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$HERE/lib.sh"
# shellcheck source=tests/lib/db.sh
. "$HERE/../lib/db.sh"
e2e_init "$@"
DATA=$HERE/../data/source-postgres
SRC=$BIN/source-postgres
trap 'db_stop_all; e2e_cleanup' EXIT
pg_start || { fail setup "PostgreSQL did not start"; finish; }
psql -q -v ON_ERROR_STOP=1 -f "$DATA/fixture.sql" >/dev/null 2>"$TMP/fixture.err" ||
  { fail setup "fixture: $(head -c 300 "$TMP/fixture.err")"; finish; }

# cfg FILE [jq-filter]: a source config for the test server.
cfg() {
  jq -n --arg h "$PG_HOST" --argjson p "$PG_PORT" --arg d "$PG_DB" --arg u "$PG_USER" --arg pw "$PG_PASSWORD" \
    '{host: $h, port: $p, database: $d, username: $u, password: $pw, ssl_mode: {mode: "disable"}}' | jq "${2:-.}" >"$1"
}
# catalog DISCOVER_OUT FILE MODE [jq-select] [extra]: configured catalog of the selected streams.
catalog() {
  jq --arg m "$3" "{streams: [.catalog.streams[] | select(${4:-true}) | {stream: ., sync_mode: \$m,
      destination_sync_mode: (if \$m == \"full_refresh\" then \"overwrite\" else \"append\" end)} ${5:-}]}" "$1" >"$2"
}
# states RUN STREAM: stream states emitted, one compact JSON per line.
states() { jq -c --arg s "$2" 'select(.type == "STATE") | .state.stream | select(.stream_descriptor.name == $s) | .stream_state' "$TMP/$1.out"; }
# field RUN STREAM FIELD [json]: FIELD of each record (exact numbers; json: strings JSON-encoded).
field() {
  python3 - "$TMP/$1.out" "${@:2}" 2>/dev/null <<'PY'
import json, sys
from decimal import Decimal
for line in open(sys.argv[1]):
    m = json.loads(line, parse_float=Decimal)
    if m.get("type") == "RECORD" and m["record"]["stream"] == sys.argv[2]:
        v = m["record"]["data"].get(sys.argv[3], "<absent>")
        print(json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) or (sys.argv[4:] and isinstance(v, str)) else v)
PY
}
nrec() { grep -c "^{\"type\":\"RECORD\",\"record\":{\"stream\":\"$2\"" "$TMP/$1.out"; }
state_file() { # state_file RUN STREAM STATE_JSON FILE
  jq -n --arg s "$1" --arg ns "${3:-public}" --argjson st "$2" \
    '[{type: "STREAM", stream: {stream_descriptor: {name: $s, namespace: $ns}, stream_state: $st}}]' >"$4"
}

cfg "$TMP/c.json" '.schemas = ["public", "other"]'
cfg "$TMP/c10.json" '.chunk_rows = 100 | .schemas = ["public", "other"]'

# ---- spec, check ---------------------------------------------------------------
run_proto spec "$SRC" spec
expect_rc spec/exit 0
expect_eq spec/password-secret "$(jq -r '.spec.connectionSpecification.properties.password.airbyte_secret' "$TMP/spec.out")" true
run_proto check "$SRC" check --config "$TMP/c.json"
expect_eq check/ok "$(jq -r '.connectionStatus.status' "$TMP/check.out")" SUCCEEDED
cfg "$TMP/badpw.json" '.password = "wrong-password"'
run_proto badpw "$SRC" check --config "$TMP/badpw.json"
expect_rc badpw/exit 0
expect_eq badpw/failed "$(jq -r '.connectionStatus.status' "$TMP/badpw.out")" FAILED
expect_out badpw/says-why badpw "password authentication failed"
check badpw/secret-scrubbed test "$(grep -c wrong-password "$TMP/badpw.out")" = 0
cfg "$TMP/unreach.json" ".port = $(free_port)"
run_proto unreach timeout 30 "$SRC" check --config "$TMP/unreach.json"
expect_eq unreach/failed "$(jq -r '.connectionStatus.status' "$TMP/unreach.out")" FAILED
expect_out unreach/names-host unreach "cannot connect to PostgreSQL at 127.0.0.1:"
cfg "$TMP/noschema.json" '.schemas = ["public", "nope"]'
run_proto noschema "$SRC" check --config "$TMP/noschema.json"
expect_out noschema/names-schema noschema 'schema \"nope\" does not exist'
cfg "$TMP/nodb.json" '.database = "no_such_db"'
run_proto nodb "$SRC" check --config "$TMP/nodb.json"
expect_out nodb/names-db nodb 'database \"no_such_db\" does not exist'
# A read with a wrong password fails with a config_error trace.
run_proto disc0 "$SRC" discover --config "$TMP/c.json"
catalog "$TMP/disc0.out" "$TMP/all-full.json" full_refresh
run_proto badpw-read "$SRC" read --config "$TMP/badpw.json" --catalog "$TMP/all-full.json"
expect_rc badpw-read/exit 1
expect_eq badpw-read/config-error "$(jq -r 'select(.type == "TRACE" and .trace.type == "ERROR") | .trace.error.failure_type' "$TMP/badpw-read.out" | sort -u)" config_error

# ---- discover -------------------------------------------------------------------
D=$TMP/disc0.out
expect_eq discover/streams "$(jq -c '[.catalog.streams[] | .namespace + "." + .name]' "$D")" \
  '["other.things","public.Select","public.events","public.logs","public.recent","public.types"]'
expect_eq discover/types-schema "$(jq -cS '.catalog.streams[] | select(.name == "types") | .json_schema.properties' "$D")" \
  "$(jq -cS . "$DATA/types.schema.json")"
expect_eq discover/pk "$(jq -c '[.catalog.streams[] | .source_defined_primary_key]' "$D")" \
  '[[["id"]],[["From"]],[["id"]],null,null,[["id"]]]'
expect_eq discover/resumable "$(jq -c '[.catalog.streams[] | .is_resumable]' "$D")" '[true,true,true,true,false,true]'
cfg "$TMP/filt.json" '.schemas = ["public", "other"] | .include_tables = "^(public|other)\\.(t|e)" | .exclude_tables = "things$"'
run_proto filt "$SRC" discover --config "$TMP/filt.json"
expect_eq discover/filters "$(jq -c '[.catalog.streams[] | .name]' "$TMP/filt.out")" '["events","types"]'
cfg "$TMP/badre.json" '.include_tables = "("'
run_proto badre "$SRC" discover --config "$TMP/badre.json"
expect_rc badre/exit 1
expect_out badre/names-field badre "include_tables: invalid regular expression"

# ---- full refresh: every type, exactly -----------------------------------------
catalog "$D" "$TMP/types.json" full_refresh '.name == "types"'
run_proto types "$SRC" read --config "$TMP/c.json" --catalog "$TMP/types.json"
expect_rc types/exit 0
python3 - "$TMP/types.out" "$DATA/types.expected.jsonl" >"$TMP/types.cmp" 2>&1 <<'PY'
import json, sys
from decimal import Decimal
load = lambda s: json.loads(s, parse_float=Decimal, parse_int=int)
got = [load(l)["record"]["data"] for l in open(sys.argv[1]) if l.startswith('{"type":"RECORD"')]
want = [load(l) for l in open(sys.argv[2])]
if got != want:
    for g, w in zip(got, want):
        for k in w:
            if g.get(k, "<absent>") != w[k]: print("id", w.get("id"), k, "got", repr(g.get(k, "<absent>")), "want", repr(w[k]))
    print("rows", len(got), len(want)); sys.exit(1)
PY
if [ ! -s "$TMP/types.cmp" ]; then pass types/values-exact; else fail types/values-exact "$(head -c 600 "$TMP/types.cmp")"; fi
# numeric stays exact in the raw line (no float rounding on the way)
expect_out types/numeric-exact types '"n":12345678901234567890.0123456789'
expect_out types/int8-exact types '"i8":-9223372036854775808'
expect_out types/numeric-200-digits types "\"nn\":$(printf '9%.0s' $(seq 1 200)).5"
# bytea with NUL, 0xff and a backslash round-trips through base64
expect_eq types/bytea-roundtrip "$(field types types by | head -1 | base64 -d | od -An -tx1 | tr -d ' \n')" \
  "$(psql -Atc "SELECT encode(by, 'hex') FROM types WHERE id = 1")"
expect_eq types/text-roundtrip "$(field types types tx json | head -1)" "$(psql -Atc 'SELECT to_json(tx) FROM types WHERE id = 1')"
expect_eq types/final-state "$(states types types)" '{"__ab_no_cursor_state_message":true}'

# ---- reserved words and mixed case --------------------------------------------------
catalog "$D" "$TMP/sel.json" full_refresh '.name == "Select"'
run_proto sel "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/sel.json"
expect_rc sel/exit 0
expect_eq sel/rows "$(nrec sel Select)" 30
expect_out sel/names-kept sel '"data":{"From":1,"order":"o1","Group By":"2024-01-01T00:01:00","user":1}'
catalog "$D" "$TMP/sel-inc.json" incremental '.name == "Select"' '| .cursor_field = ["Group By"]'
state_file Select '{"cursor_field":"Group By","cursor":"2024-01-01 00:25:00","key":["From"],"last":[25]}' public "$TMP/sel-st.json"
run_proto sel-inc "$SRC" read --config "$TMP/c.json" --catalog "$TMP/sel-inc.json" --state "$TMP/sel-st.json"
expect_rc sel-inc/exit 0
expect_eq sel-inc/after-state "$(field sel-inc Select From | tr '\n' ' ')" "26 27 28 29 30 "

# ---- full refresh in chunks, resumed by primary key -----------------------------------
catalog "$D" "$TMP/ev-full.json" full_refresh '.name == "events"'
run_proto evfull "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/ev-full.json"
expect_rc evfull/exit 0
expect_eq evfull/rows "$(nrec evfull events)" 1000
expect_eq evfull/chunk-states "$(states evfull events | wc -l)" 11
expect_eq evfull/mid-state "$(states evfull events | sed -n 3p)" '{"key":["id"],"last":[300]}'
expect_eq evfull/last-state "$(states evfull events | tail -1)" '{"__ab_no_cursor_state_message":true}'
# Every checkpoint is preceded by exactly the records up to its key.
expect_eq evfull/state-after-its-rows "$(jq -r 'select(.type=="RECORD" or .type=="STATE") | if .type=="RECORD" then .record.data.id else "S" end' "$TMP/evfull.out" | grep -n S | head -2 | tr '\n' ' ')" "101:S 202:S "
state_file events '{"key":["id"],"last":[300]}' public "$TMP/ev-mid.json"
run_proto evresume "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/ev-full.json" --state "$TMP/ev-mid.json"
expect_eq evresume/rest-only "$(field evresume events id | sed -n '1p;$p' | tr '\n' ' ')$(nrec evresume events)" "301 1000 700"

# ---- full refresh without a key: ctid chunks --------------------------------------------
catalog "$D" "$TMP/logs-full.json" full_refresh '.name == "logs"'
run_proto logs "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/logs-full.json"
expect_eq logs/rows "$(nrec logs logs)" 500
mid=$(states logs logs | sed -n 2p)
expect_eq logs/ctid-state "$(echo "$mid" | jq -r 'keys | join(",")')" "ctid,filenode"
state_file logs "$mid" public "$TMP/logs-mid.json"
run_proto logsresume "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/logs-full.json" --state "$TMP/logs-mid.json"
expect_eq logs/resume-rest "$(field logsresume logs seq | sed -n 1p) $(nrec logsresume logs)" "201 300"
# A rewritten table (VACUUM FULL) makes the old ctid meaningless: read again.
psql -q -c 'VACUUM FULL logs'
run_proto logsrewrite "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/logs-full.json" --state "$TMP/logs-mid.json"
expect_eq logs/rewritten-reads-all "$(nrec logsrewrite logs)" 500
expect_out logs/rewritten-warns logsrewrite "the table was rewritten"

# ---- views: no key, no resume, all rows ------------------------------------------------------
catalog "$D" "$TMP/view.json" full_refresh '.name == "recent"'
run_proto view "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/view.json"
expect_eq view/rows "$(field view recent id | tr '\n' ' ')" "991 992 993 994 995 996 997 998 999 1000 "

# ---- incremental by a user-chosen cursor ---------------------------------------------------
catalog "$D" "$TMP/ev-inc.json" incremental '.name == "events"' '| .cursor_field = ["upd"]'
run_proto inc1 "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/ev-inc.json"
expect_rc inc1/exit 0
expect_eq inc1/rows "$(nrec inc1 events)" 1000
expect_eq inc1/first-state "$(states inc1 events | head -1)" '{"cursor_field":"upd","cursor":"2024-01-01 10:00:00","key":["id"],"last":[100]}'
last=$(states inc1 events | tail -1)
expect_eq inc1/final-state "$last" '{"cursor_field":"upd","cursor":"2024-01-05 04:00:00","key":["id"],"last":[1000]}'
state_file events "$last" public "$TMP/inc-st.json"
run_proto inc2 "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/ev-inc.json" --state "$TMP/inc-st.json"
expect_eq inc2/nothing-new "$(nrec inc2 events)" 0
expect_eq inc2/state-kept "$(states inc2 events)" "$last"
psql -q -c "INSERT INTO events VALUES (1001, '2024-01-05 04:00:00', 'same cursor, later key'), (1002, '2024-02-01', 'new');
            UPDATE events SET upd = '2024-03-01', note = 'updated' WHERE id = 5; UPDATE events SET note = 'not seen' WHERE id = 6"
run_proto inc3 "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/ev-inc.json" --state "$TMP/inc-st.json"
expect_eq inc3/changes-only "$(field inc3 events id | tr '\n' ' ')" "1001 1002 5 "
# Resume mid-way: after (cursor, key) = ("2024-01-01 05:00:00", 55)
state_file events '{"cursor_field":"upd","cursor":"2024-01-01 05:00:00","key":["id"],"last":[55]}' public "$TMP/inc-mid.json"
run_proto inc4 "$SRC" read --config "$TMP/c10.json" --catalog "$TMP/ev-inc.json" --state "$TMP/inc-mid.json"
expect_eq inc4/from-key "$(field inc4 events id | head -3 | tr '\n' ' ')" "56 57 58 "
# Without a primary key the cursor alone marks progress: a checkpoint only
# once every row with that cursor value was emitted (ties every 10 rows).
psql -q -c "CREATE TABLE ticks AS SELECT g AS n, (g / 7)::int AS c FROM generate_series(1, 100) g"
run_proto disc1 "$SRC" discover --config "$TMP/c.json"
catalog "$TMP/disc1.out" "$TMP/ticks.json" incremental '.name == "ticks"' '| .cursor_field = ["c"]'
cfg "$TMP/c30.json" '.chunk_rows = 30'
run_proto ticks "$SRC" read --config "$TMP/c30.json" --catalog "$TMP/ticks.json"
expect_eq ticks/states "$(states ticks ticks | tr '\n' ' ')" \
  '{"cursor_field":"c","cursor":4} {"cursor_field":"c","cursor":8} {"cursor_field":"c","cursor":12} {"cursor_field":"c","cursor":14} '
state_file ticks '{"cursor_field":"c","cursor":8}' public "$TMP/ticks-st.json"
run_proto ticks2 "$SRC" read --config "$TMP/c30.json" --catalog "$TMP/ticks.json" --state "$TMP/ticks-st.json"
expect_eq ticks2/after-cursor "$(field ticks2 ticks n | head -1) $(nrec ticks2 ticks)" "63 38"
# A cursor that is not a column is a config error naming it.
catalog "$D" "$TMP/badcur.json" incremental '.name == "events"' '| .cursor_field = ["nope"]'
run_proto badcur "$SRC" read --config "$TMP/c.json" --catalog "$TMP/badcur.json"
expect_rc badcur/exit 1
expect_out badcur/names-cursor badcur 'cursor column \"nope\" is not a column of public.events'

# ---- schema drift and missing tables -------------------------------------------------------
catalog "$D" "$TMP/things.json" full_refresh '.name == "things"'
psql -q -c 'ALTER TABLE other.things DROP COLUMN name'
run_proto dropped "$SRC" read --config "$TMP/c.json" --catalog "$TMP/things.json"
expect_rc dropped/exit 0
expect_eq dropped/rows "$(field dropped things id | tr '\n' ' ')$(field dropped things name | sort -u)" "1 2 <absent>"
expect_out dropped/warns dropped 'column \"name\" is in the catalog but no longer in table other.things'
psql -q -c 'DROP TABLE other.things'
run_proto gone "$SRC" read --config "$TMP/c.json" --catalog "$TMP/things.json"
expect_rc gone/exit 1
expect_eq gone/trace "$(jq -r 'select(.type == "TRACE" and .trace.type == "ERROR") | .trace.error.failure_type' "$TMP/gone.out")" config_error
expect_out gone/names-stream gone 'stream \"things\" is not a stream of source-postgres'

# ---- a server restarted mid-read: the next read resumes from the last state ----------------
# Deterministic: the view "big_gated" evaluates gate(id) per streamed row, and
# gate(50000) waits for an advisory lock that a background session holds, so
# the restart always falls in the middle of the read (STABLE and cheap, so the
# planner streams the primary key index instead of sorting after the call).
psql -q -c "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 100000) g" -c "ALTER TABLE big ADD PRIMARY KEY (id)" \
  -c "CREATE FUNCTION gate(i int) RETURNS int LANGUAGE plpgsql STABLE COST 1 AS \$\$ BEGIN IF i = 50000 THEN
        PERFORM pg_advisory_lock_shared(4242); PERFORM pg_advisory_unlock_shared(4242); END IF; RETURN i; END \$\$" \
  -c "CREATE VIEW big_gated AS SELECT id, h, gate(id) AS g FROM big" -c "ANALYZE big"
run_proto disc2 "$SRC" discover --config "$TMP/c.json"
catalog "$TMP/disc2.out" "$TMP/big.json" full_refresh '.name == "big_gated"' '| .primary_key = [["id"]]'
cfg "$TMP/c1k.json" '.chunk_rows = 1000'
psql -q -c "SELECT pg_advisory_lock(4242), pg_sleep(120)" >/dev/null 2>&1 &
holder=$!
gate_locks() { test "$(psql -Atc "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND granted = $1")" = 1; }
check restart/lock-held wait_for 300 gate_locks true
bg_start restart1 "$SRC" read --config "$TMP/c1k.json" --catalog "$TMP/big.json"
check restart/read-blocked wait_for 300 gate_locks false
pg_restart immediate
wait "$holder" 2>/dev/null
bg_wait restart1
proto_keep restart1
expect_rc restart/read-failed nonzero restart1
expect_eq restart/transient "$(jq -r 'select(.type == "TRACE" and .trace.type == "ERROR") | .trace.error.failure_type' "$TMP/restart1.out" 2>/dev/null)" transient_error
last=$(states restart1 big_gated | tail -1)
expect_eq restart/mid-read-state "$(echo "$last" | jq -c '.key')" '["id"]'
state_file big_gated "$last" public "$TMP/big-st.json"
run_proto restart2 "$SRC" read --config "$TMP/c1k.json" --catalog "$TMP/big.json" --state "$TMP/big-st.json"
expect_rc restart/resume-ok 0 restart2
# Records up to the last state of the failed read + the resumed read: every id once.
ids() { awk '/^\{"type":"STATE"/ { print "S"; next } /^\{"type":"RECORD"/ { print substr($0, index($0, "\"data\":{\"id\":") + 13) + 0 }' "$TMP/$1.out"; }
{ ids restart1 | awk '{ buf[n++] = $0 } $0 == "S" { for (i = 0; i < n - 1; i++) print buf[i]; n = 0 }'
  ids restart2 | grep -v S; } >"$TMP/ids"
sort -n "$TMP/ids" >"$TMP/ids.sorted"
expect_eq restart/no-loss-no-dup "$(uniq "$TMP/ids.sorted" | wc -l) $(wc -l <"$TMP/ids") $(sed -n '1p;$p' "$TMP/ids.sorted" | tr '\n' ' ')" "100000 100000 1 100000 "

# ---- CDC: logical replication with pgoutput ------------------------------------------------
psql -q -c "CREATE TABLE cdc_t (id int PRIMARY KEY, v text, n numeric)" -c "INSERT INTO cdc_t VALUES (1, 'a', 1.5), (2, 'b', 2)" \
  -c "CREATE PUBLICATION sluice_pub FOR TABLE cdc_t" -c "SELECT pg_create_logical_replication_slot('sluice_slot', 'pgoutput')" >/dev/null
cfg "$TMP/cdc.json" '.replication_method = {method: "CDC", replication_slot: "sluice_slot", publication: "sluice_pub", initial_waiting_seconds: 10}'
cfg "$TMP/cdc-nopub.json" '.replication_method = {method: "CDC", replication_slot: "sluice_slot", publication: "nope"}'
run_proto cdc-check "$SRC" check --config "$TMP/cdc.json"
expect_eq cdc/check-ok "$(jq -r '.connectionStatus.status' "$TMP/cdc-check.out")" SUCCEEDED
run_proto cdc-nopub "$SRC" check --config "$TMP/cdc-nopub.json"
expect_out cdc/check-names-publication cdc-nopub 'publication \"nope\" does not exist'
run_proto cdc-disc "$SRC" discover --config "$TMP/cdc.json"
catalog "$TMP/cdc-disc.out" "$TMP/cdc-cat.json" incremental '.name == "cdc_t"' '| .cursor_field = ["_ab_cdc_lsn"] | .destination_sync_mode = "append_dedup" | .primary_key = [["id"]]'
expect_eq cdc/discover-meta "$(jq -c '.catalog.streams[] | select(.name == "cdc_t") | [.default_cursor_field, (.json_schema.properties | has("_ab_cdc_deleted_at"))]' "$TMP/cdc-disc.out")" '[["_ab_cdc_lsn"],true]'
run_proto cdc1 "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/cdc-cat.json"
expect_rc cdc1/exit 0
expect_eq cdc1/snapshot "$(field cdc1 cdc_t id | tr '\n' ' ')" "1 2 "
expect_eq cdc1/global-state "$(jq -r 'select(.type == "STATE") | .state.type' "$TMP/cdc1.out" | sort -u)" GLOBAL
jq -s '[[.[] | select(.type == "STATE") | .state] | last]' "$TMP/cdc1.out" >"$TMP/cdc-s1.json"
expect_eq cdc1/stream-state "$(jq -c '.[0].global.stream_states[0].stream_state' "$TMP/cdc-s1.json")" '{"snapshot_done":true}'
psql -q -c "INSERT INTO cdc_t VALUES (3, 'c', 3)" -c "UPDATE cdc_t SET v = 'A' WHERE id = 1" -c "DELETE FROM cdc_t WHERE id = 2"
run_proto cdc2 "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/cdc-cat.json" --state "$TMP/cdc-s1.json"
expect_rc cdc2/exit 0
expect_eq cdc2/changes "$(field cdc2 cdc_t id | tr '\n' ' ')|$(field cdc2 cdc_t v | tr '\n' ' ')" "3 1 2 |c A None "
expect_eq cdc2/deleted-at "$(field cdc2 cdc_t _ab_cdc_deleted_at | tr '\n' ' ' | sed 's/[0-9T:.+-]\{20,\}/TS/g')" "None None TS "
check cdc2/lsn-integer test "$(field cdc2 cdc_t _ab_cdc_lsn | head -1)" -gt 0
jq -s '[[.[] | select(.type == "STATE") | .state] | last]' "$TMP/cdc2.out" >"$TMP/cdc-s2.json"
check cdc2/lsn-advanced test "$(jq -r '.[0].global.shared_state.lsn' "$TMP/cdc-s2.json")" != "$(jq -r '.[0].global.shared_state.lsn' "$TMP/cdc-s1.json")"
# A sync whose state was never committed: the slot was only confirmed up to
# the committed state, so reading from it again returns the same changes.
run_proto cdc4 "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/cdc-cat.json" --state "$TMP/cdc-s1.json"
expect_eq cdc4/nothing-lost "$(field cdc4 cdc_t id | tr '\n' ' ')" "3 1 2 "
run_proto cdc3 "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/cdc-cat.json" --state "$TMP/cdc-s2.json"
expect_eq cdc3/nothing-twice "$(nrec cdc3 cdc_t)" 0
# Full-refresh streams of a CDC connection checkpoint inside the GLOBAL state too
# (a STREAM state next to a GLOBAL one would be dropped by the platform).
catalog "$TMP/cdc-disc.out" "$TMP/cdc-mixed.json" full_refresh '.name == "types" or .name == "cdc_t"'
jq '.streams |= [.[1], .[0]] | .streams[0] |= (.sync_mode = "full_refresh" | del(.cursor_field) | .destination_sync_mode = "overwrite")
    | .streams[1] |= (.sync_mode = "incremental" | .cursor_field = ["_ab_cdc_lsn"] | .destination_sync_mode = "append_dedup")' \
  "$TMP/cdc-mixed.json" >"$TMP/cdc-mixed3.json"
run_proto cdc-mixed "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/cdc-mixed3.json" --state "$TMP/cdc-s2.json"
expect_rc cdc-mixed/exit 0
expect_eq cdc-mixed/all-global "$(jq -r 'select(.type == "STATE") | .state.type' "$TMP/cdc-mixed.out" | sort -u)" GLOBAL
expect_eq cdc-mixed/both-streams "$(jq -c 'select(.type == "STATE") | [.state.global.stream_states[] | .stream_descriptor.name + "=" + (.stream_state | keys[0])]' "$TMP/cdc-mixed.out" | tail -1)" \
  '["types=__ab_no_cursor_state_message","cdc_t=snapshot_done"]'
expect_eq cdc-mixed/types-rows "$(nrec cdc-mixed types)" 3
# The same through the sluice command.
run_proto cdc-cli "$BIN/sluice" read source-postgres --config "$TMP/cdc.json" --catalog "$TMP/cdc-cat.json" --state "$TMP/cdc-s2.json"
expect_rc cdc-cli/exit 0
expect_eq cdc-cli/global-no-records "$(jq -r 'select(.type == "STATE") | .state.type' "$TMP/cdc-cli.out" | sort -u) $(nrec cdc-cli cdc_t)" "GLOBAL 0"

# ---- CDC through sluice sync into SQLite, with a server restart mid-sync ---------------------
# The sync reads orders (snapshot, then the log) and then the view zgate, which
# blocks on the gate (see above): the restart always cuts the sync after the
# orders records were sent but before the sync's end position was committed.
# The next sync resumes from whatever was committed: every row once (dedup on
# id), the changes made in between applied, the delete marked.
psql -q -c "CREATE TABLE orders AS SELECT g AS id, 'o' || g AS item, g * 1.25 AS price FROM generate_series(1, 20000) g" \
  -c "ALTER TABLE orders ADD PRIMARY KEY (id)" -c "ALTER PUBLICATION sluice_pub ADD TABLE orders" \
  -c "CREATE VIEW zgate AS SELECT id, gate(id) AS g FROM big WHERE id > 49990"
cfg "$TMP/sync.json" '.include_tables = "^public\\.(orders|zgate)$" | .chunk_rows = 2000 |
  .replication_method = {method: "CDC", replication_slot: "sluice_slot", publication: "sluice_pub", initial_waiting_seconds: 10}'
echo "{\"destination_path\": \"$TMP/orders.db\"}" >"$TMP/sqlite.json"
sync_args=(--source source-postgres --source-config "$TMP/sync.json" --destination destination-sqlite
  --destination-config "$TMP/sqlite.json" --state-file "$TMP/sync-state.json")
psql -q -c "SELECT pg_advisory_lock(4242), pg_sleep(120)" >/dev/null 2>&1 &
holder=$!
check sync/lock-held wait_for 300 gate_locks true
bg_start sync1 "$BIN/sluice" sync --no-progress "${sync_args[@]}"
check sync/view-blocked wait_for 300 gate_locks false
pg_restart immediate
wait "$holder" 2>/dev/null
bg_wait sync1
expect_rc sync/cut-by-restart nonzero sync1
check sync/state-global-or-none test "$(jq -r '.[0].type // "none"' "$TMP/sync-state.json" 2>/dev/null || echo none)" != STREAM
psql -q -c "INSERT INTO orders VALUES (20001, 'late', 9)" -c "UPDATE orders SET item = 'changed' WHERE id = 7" -c "DELETE FROM orders WHERE id = 8"
run_sync sync2 "${sync_args[@]}"
expect_rc sync/resumed 0
q() { sqlite3 -batch -noheader "$TMP/orders.db" "$1" 2>&1; }
expect_eq sync/rows-once "$(q 'SELECT count(*), count(DISTINCT id), min(id), max(id) FROM public_orders')" "20001|20001|1|20001"
expect_eq sync/update-applied "$(q "SELECT item FROM public_orders WHERE id = 7")" changed
expect_eq sync/delete-marked "$(q "SELECT _ab_cdc_deleted_at IS NOT NULL FROM public_orders WHERE id = 8")" 1
expect_eq sync/price-exact "$(q "SELECT price FROM public_orders WHERE id = 3")" 3.75
run_sync sync3 "${sync_args[@]}"
expect_rc sync/again 0
expect_eq sync/nothing-new "$(jq -s '[.[] | select(.type == "RECORD" and .record.stream == "orders")] | length' "$PLOG")" 0

# ---- CDC: unchanged TOAST values, one decoding pass for every stream, TRUNCATE ----------------
# big holds 6400 bytes of md5 text stored out of line (STORAGE EXTERNAL): an
# UPDATE of another column sends it as 'unchanged' ('u'), without the value.
#   toast_k: primary key -> read back from the table by key
#   toast_f: no key, REPLICA IDENTITY FULL -> taken from the old row pgoutput sends
#   toast_u: no primary key, identity by a unique index -> left out, WARN + meta
psql -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE toast_k (id int PRIMARY KEY, other int, big text);
CREATE TABLE toast_f (id int, other int, big text);
CREATE TABLE toast_u (id int NOT NULL, other int, big text);
CREATE UNIQUE INDEX toast_u_id ON toast_u (id);
ALTER TABLE toast_u REPLICA IDENTITY USING INDEX toast_u_id;
ALTER TABLE toast_f REPLICA IDENTITY FULL;
CREATE TABLE toast_t (id int PRIMARY KEY);
CREATE VIEW gone_t AS SELECT g AS id, 1 / (g - g) AS boom FROM generate_series(1, 2) g;
DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['toast_k', 'toast_f', 'toast_u'] LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN big SET STORAGE EXTERNAL', t);
    EXECUTE format('INSERT INTO %I SELECT i, 1, (SELECT string_agg(md5(g::text || i), %L) FROM generate_series(1, 200) g)
                    FROM generate_series(1, 3) i', t, '');
  END LOOP; END $$;
INSERT INTO toast_k SELECT i, 1, (SELECT string_agg(md5(g::text || i), '') FROM generate_series(1, 100) g)
  FROM generate_series(4, 1503) i;
INSERT INTO toast_t VALUES (1), (2);
CREATE TABLE jnl (id int PRIMARY KEY, j json);
INSERT INTO jnl VALUES (1, E'{"a":\n\t[1,\r\n 2], "s": "x\\ny"}');
ALTER PUBLICATION sluice_pub ADD TABLE toast_k, toast_f, toast_u, toast_t;
SQL
run_proto toast-disc "$SRC" discover --config "$TMP/cdc.json"
catalog "$TMP/toast-disc.out" "$TMP/toast-cat.json" incremental '.name | test("^(toast_.|cdc_t|gone_t)$")' \
  '| .cursor_field = ["_ab_cdc_lsn"] | .destination_sync_mode = "append_dedup"'
jq '.streams |= map(select(.stream.name != "gone_t"))' "$TMP/toast-cat.json" >"$TMP/toast-cat5.json"
run_proto toast1 "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/toast-cat5.json"
expect_rc toast1/exit 0
jq -s '[[.[] | select(.type == "STATE") | .state] | last]' "$TMP/toast1.out" >"$TMP/toast-s1.json"
# A json value keeps its line breaks in PostgreSQL; the RECORD line must not.
catalog "$TMP/toast-disc.out" "$TMP/jnl-cat.json" full_refresh '.name == "jnl"'
run_proto jnl "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/jnl-cat.json"
expect_eq jnl/one-line-json "$(grep '"stream":"jnl"' "$TMP/jnl.out" | jq -c '.record.data.j')" '{"a":[1,2],"s":"x\ny"}'
# Count the server's START_REPLICATION commands: the log is decoded once per sync.
psql -q -c "ALTER SYSTEM SET log_replication_commands = on" -c "SELECT pg_reload_conf()" >/dev/null
repl_logged() { test "$(psql -Atc 'SHOW log_replication_commands')" = on; }
check toast/log-replication-on wait_for 100 repl_logged
starts() { grep -c 'received replication command: START_REPLICATION SLOT' "$PG_DIR/server.log"; }
psql -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
UPDATE toast_k SET other = 2 WHERE id IN (1, 3);
UPDATE toast_f SET other = 2 WHERE id = 1;
UPDATE toast_u SET other = 2 WHERE id = 1;
INSERT INTO cdc_t VALUES (40, 'x', 4);
BEGIN; UPDATE toast_k SET other = 2 WHERE id = 2; UPDATE cdc_t SET v = 'y' WHERE id = 40; COMMIT;
DELETE FROM toast_k WHERE id = 2;
TRUNCATE toast_t;
UPDATE toast_k SET other = 2 WHERE id >= 4;
SQL
n0=$(starts)
run_proto toast2 "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/toast-cat5.json" --state "$TMP/toast-s1.json"
expect_rc toast2/exit 0
expect_eq toast/decoded-once "$(($(starts) - n0))" 1
big_of() { psql -Atc "SELECT md5(big) FROM $1 WHERE id = $2"; }
# recs RUN STREAM: "id other md5(big) meta-changes del" per record (absent big: "-").
recs() {
  python3 - "$TMP/$1.out" "$2" <<'PY'
import hashlib, json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("type") != "RECORD" or m["record"]["stream"] != sys.argv[2]: continue
    d = m["record"]["data"]
    big = hashlib.md5(d["big"].encode()).hexdigest() if d.get("big") is not None else "-"
    ch = [c["field"] + ":" + c["change"] + ":" + c["reason"] for c in m["record"].get("meta", {}).get("changes", [])]
    print(d["id"], d.get("other"), big, ",".join(ch), "del" if d["_ab_cdc_deleted_at"] else "")
PY
}
expect_eq toast/pk-filled "$(recs toast2 toast_k | awk '$1 < 4' | sed -n 1,2p | tr '\n' ';')" \
  "1 2 $(big_of toast_k 1)  ;3 2 $(big_of toast_k 3)  ;"
expect_eq toast/gone-row-meta "$(recs toast2 toast_k | awk '$1 < 4' | tail -2 | tr '\n' ';')" \
  "2 2 - big:NULLED:SOURCE_RETRIEVAL_ERROR ;2 None -  del;"
expect_out toast/gone-row-warn toast2 'stream toast_k: an UPDATE at LSN '
expect_out toast/gone-row-warn-key toast2 'big of the row with key (id) = (2) unchanged and the row is no longer in public.toast_k'
# 1500 held updates: looked up in batches of 1000, in order, every value exact.
expect_eq toast/batched-lookups "$(recs toast2 toast_k | awk '$1 >= 4 { n++; if ($1 != n + 3 || $2 != 2) bad++; print $3 }
  END { print n, bad + 0 }' | md5sum | cut -c1-32)" \
  "$( (psql -Atc 'SELECT md5(big) FROM toast_k WHERE id >= 4 ORDER BY id'; echo '1500 0') | md5sum | cut -c1-32)"
expect_eq toast/full-identity-filled "$(recs toast2 toast_f)" "1 2 $(big_of toast_f 1)  "
expect_eq toast/no-pk-meta "$(recs toast2 toast_u)" "1 2 - big:NULLED:SOURCE_RETRIEVAL_ERROR "
expect_out toast/no-pk-warn toast2 'table public.toast_u has no primary key to read them by'
expect_eq toast/other-stream-order "$(field toast2 cdc_t id | tr '\n' ' ')|$(field toast2 cdc_t v | tr '\n' ' ')" "40 40 |x y "
# Each stream's records come between its STARTED and COMPLETE, streams one after another.
expect_eq toast/stream-framing "$(jq -r 'if .type == "RECORD" then "R:" + .record.stream elif .type == "TRACE" and .trace.type == "STREAM_STATUS" then .trace.stream_status.status + ":" + .trace.stream_status.stream_descriptor.name else empty end' "$TMP/toast2.out" | uniq | tr '\n' ' ')" \
  "$(jq -r '.streams[].stream.name | "STARTED:\(.) RUNNING:\(.) R:\(.) COMPLETE:\(.)"' "$TMP/toast-cat5.json" | sed 's/RUNNING:toast_t R:toast_t //' | tr '\n' ' ')"
expect_out toast/truncate-warn toast2 'stream toast_t: table public.toast_t was truncated (TRUNCATE committed at LSN '
expect_out toast/truncate-says-refresh toast2 'refresh the stream (clear its data and read a new snapshot)'
check toast/lsn-advanced test "$(jq -r 'select(.type == "STATE") | .state.global.shared_state.lsn' "$TMP/toast2.out" | tail -1)" != \
  "$(jq -r '.[0].global.shared_state.lsn' "$TMP/toast-s1.json")"
# A CDC stream that fails (here a view whose snapshot fails) keeps the LSN
# where it was: the next sync reads the range again, for it too.
psql -q -c "INSERT INTO cdc_t VALUES (41, 'z', 5)"
run_proto toast3 "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/toast-cat.json" --state "$TMP/toast-s1.json"
expect_rc toast3/exit 1
expect_out toast3/names-stream toast3 '"message":"stream gone_t: reading table public.gone_t'
expect_eq toast3/others-read "$(field toast3 cdc_t id | tr '\n' ' ')" "40 40 41 "
expect_eq toast3/lsn-kept "$(jq -r 'select(.type == "STATE") | .state.global.shared_state.lsn' "$TMP/toast3.out" | sort -u)" \
  "$(jq -r '.[0].global.shared_state.lsn' "$TMP/toast-s1.json")"
# Through sluice sync into SQLite append_dedup: the big value survives an update of another column.
cfg "$TMP/tsync.json" '.include_tables = "^public\\.toast_k$" |
  .replication_method = {method: "CDC", replication_slot: "sluice_slot", publication: "sluice_pub", initial_waiting_seconds: 10}'
echo "{\"destination_path\": \"$TMP/toast.db\"}" >"$TMP/tsqlite.json"
tsync_args=(--source source-postgres --source-config "$TMP/tsync.json" --destination destination-sqlite
  --destination-config "$TMP/tsqlite.json" --state-file "$TMP/tsync-state.json")
run_sync tsync1 "${tsync_args[@]}"
expect_rc tsync/first 0
psql -q -c "UPDATE toast_k SET other = 3 WHERE id = 1"
run_sync tsync2 "${tsync_args[@]}"
expect_rc tsync/second 0
expect_eq tsync/big-survives "$(sqlite3 -batch -noheader "$TMP/toast.db" 'SELECT other, length(big) FROM public_toast_k WHERE id = 1')" "3|6400"
expect_eq tsync/big-exact "$(sqlite3 -batch -noheader "$TMP/toast.db" 'SELECT big FROM public_toast_k WHERE id = 1' | md5sum | cut -c1-32)" \
  "$(psql -Atc 'SELECT big FROM toast_k WHERE id = 1' | md5sum | cut -c1-32)"

psql -q -c "SELECT pg_drop_replication_slot('sluice_slot')" >/dev/null
run_proto cdc-noslot "$SRC" read --config "$TMP/cdc.json" --catalog "$TMP/cdc-cat.json" --state "$TMP/cdc-s2.json"
expect_rc cdc-noslot/exit 1
expect_out cdc-noslot/names-slot cdc-noslot 'slot \"sluice_slot\" does not exist'

finish
