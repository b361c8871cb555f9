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
    '{host: $h, port: $p, database: $d, username: $u, password: $pw, ssl_mode: "disable"}' | jq "${2:-.}" >"$1"
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

# ---- CDC -----------------------------------------------------------------------------
if [ -f "$HERE/source-postgres-cdc.inc" ]; then
  # shellcheck source=tests/e2e/source-postgres-cdc.inc
  . "$HERE/source-postgres-cdc.inc"
fi

finish
