#!/usr/bin/env bash
# End-to-end tests of source-sqlite against a real SQLite file built from
# tests/data/source-sqlite/fixture.sql: discovery and type mapping, full
# refresh, resuming an interrupted full refresh, incremental reads with
# checkpoints (ties on the cursor included), filters, names that need
# quoting, bad values, and the errors for bad configs and catalogs.
#
# usage: tests/e2e/source-sqlite.sh [BIN_DIR]
# shellcheck shell=bash
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
DATA=$(cd "$E2E_HERE/../data/source-sqlite" && pwd)
SRC="$BIN/source-sqlite"
DB="$TMP/f.db"
sqlite3 "$DB" <"$DATA/fixture.sql"
echo "{\"path\":\"$DB\"}" >"$TMP/c.json"
echo "{\"path\":\"$DB\",\"chunk_rows\":2}" >"$TMP/c2.json"

. "$E2E_HERE/../lib/dbsrc.sh"

run_proto spec "$SRC" spec
expect_rc spec 0
expect_out spec/path spec '"path"'

run_proto check "$SRC" check --config "$TMP/c.json"
expect_out check/ok check '"SUCCEEDED"'
echo '{"path":"/nonexistent/dir/x.db"}' >"$TMP/bad.json"
run_proto check-missing "$SRC" check --config "$TMP/bad.json"
expect_out check-missing/failed check-missing '"FAILED"'
expect_out check-missing/names-file check-missing '/nonexistent/dir/x.db'
echo "not a database, just text" >"$TMP/text.db"
echo "{\"path\":\"$TMP/text.db\"}" >"$TMP/text.json"
run_proto check-notdb "$SRC" check --config "$TMP/text.json"
expect_out check-notdb/failed check-notdb 'not a database'
echo "{\"path\":\"$DB\",\"include_tables\":\"([\"}" >"$TMP/badre.json"
run_proto check-badre "$SRC" check --config "$TMP/badre.json"
expect_out check-badre/names-key check-badre 'include_tables: invalid regular expression'

run_proto discover "$SRC" discover --config "$TMP/c.json"
expect_rc discover 0
expect_eq discover/streams "$(jq -c '[.catalog.streams[].name]' "$TMP/discover.out")" \
  '["Order","events","grown_ups","pairs","users"]'
expect_eq discover/types "$(jq -c '.catalog.streams[] | select(.name=="users") | .json_schema.properties' "$TMP/discover.out")" \
  "$(jq -c . "$DATA/users-schema.json")"
expect_eq discover/pk-composite "$(jq -c '.catalog.streams[] | select(.name=="pairs") | .source_defined_primary_key' "$TMP/discover.out")" '[["a"],["b"]]'
expect_eq discover/view-no-pk "$(jq -c '.catalog.streams[] | select(.name=="grown_ups") | [.source_defined_primary_key, .is_resumable]' "$TMP/discover.out")" '[null,false]'

echo "{\"path\":\"$DB\",\"include_tables\":\"^(users|events)$\",\"exclude_tables\":\"^ev\"}" >"$TMP/filt.json"
run_proto discover-filter "$SRC" discover --config "$TMP/filt.json"
expect_eq discover/filters "$(jq -c '[.catalog.streams[].name]' "$TMP/discover-filter.out")" '["users"]'

# Full refresh of everything: exact values (64-bit integers, base64, NUL
# bytes, invalid UTF-8 replaced, a non-number in a REAL column read as null).
catalog "$TMP/full.json" full_refresh ""
run_proto full "$SRC" read --config "$TMP/c.json" --catalog "$TMP/full.json"
expect_rc full 0
expect_eq full/records "$(records full)" "$(cat "$DATA/expected-full.jsonl")"
expect_out full/mismatch-logged full 'column \"score\" did not fit its type'
expect_eq full/final-states "$(states full | sort -u)" '{"__ab_no_cursor_state_message":true}'

# Resumable full refresh: checkpoints every 2 rows name the last key; a read
# from a mid-read state continues after it.
catalog "$TMP/users-full.json" full_refresh "" users
run_proto full-chunks "$SRC" read --config "$TMP/c2.json" --catalog "$TMP/users-full.json"
expect_eq full-chunks/states "$(states full-chunks | tr '\n' ' ')" \
  '{"key":["id"],"last":[2]} {"key":["id"],"last":[4]} {"__ab_no_cursor_state_message":true} '
echo '[{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"key":["id"],"last":[2]}}}]' >"$TMP/mid.json"
run_proto full-resume "$SRC" read --config "$TMP/c.json" --catalog "$TMP/users-full.json" --state "$TMP/mid.json"
expect_eq full-resume/ids "$(records full-resume | grep -o '"id":[0-9]*' | tr '\n' ' ')" '"id":3 "id":4 "id":5 '
catalog "$TMP/pairs-full.json" full_refresh "" pairs
echo '[{"type":"STREAM","stream":{"stream_descriptor":{"name":"pairs"},"stream_state":{"key":["a","b"],"last":[1,"a"]}}}]' >"$TMP/pmid.json"
run_proto full-resume-composite "$SRC" read --config "$TMP/c.json" --catalog "$TMP/pairs-full.json" --state "$TMP/pmid.json"
expect_eq full-resume/composite "$(records full-resume-composite | tr '\n' ' ')" \
  '{"stream":"pairs","data":{"a":1,"b":"b","v":"q"}} {"stream":"pairs","data":{"a":2,"b":"a","v":"r"}} '

# Incremental by a user-chosen cursor: ties are broken by the primary key.
catalog "$TMP/users-inc.json" incremental updated_at users
run_proto inc1 "$SRC" read --config "$TMP/c2.json" --catalog "$TMP/users-inc.json"
expect_eq inc1/count "$(records inc1 | wc -l)" 5
expect_eq inc1/mid-state "$(states inc1 | head -n1)" \
  '{"cursor_field":"updated_at","cursor":"2024-01-02 10:00:00","key":["id"],"last":[2]}'
state_of inc1 "$TMP/inc1-state.json"
run_proto inc2 "$SRC" read --config "$TMP/c.json" --catalog "$TMP/users-inc.json" --state "$TMP/inc1-state.json"
expect_eq inc2/nothing-new "$(records inc2 | wc -l)" 0
expect_eq inc2/state-kept "$(states inc2)" "$(jq -c '.[0].stream.stream_state' "$TMP/inc1-state.json")"
sqlite3 "$DB" "INSERT INTO users(id, name, updated_at) VALUES (6, 'Hedy', '2024-01-04 10:00:00'), (7, 'Ken', '2024-02-01 00:00:00'); UPDATE users SET name = 'Ada L.', updated_at = '2024-03-01 00:00:00' WHERE id = 1"
run_proto inc3 "$SRC" read --config "$TMP/c.json" --catalog "$TMP/users-inc.json" --state "$TMP/inc1-state.json"
expect_eq inc3/new-and-updated "$(records inc3 | grep -o '"id":[0-9]*' | tr '\n' ' ')" '"id":6 "id":7 "id":1 '
# Resume from the middle of a tie (id 2 of the two rows at 2024-01-02).
run_proto inc-tie "$SRC" read --config "$TMP/c.json" --catalog "$TMP/users-inc.json" --state <(jq '[.[0] | .stream.stream_state = {"cursor_field":"updated_at","cursor":"2024-01-02 10:00:00","key":["id"],"last":[2]}]' "$TMP/inc1-state.json")
expect_eq inc-tie/after-2 "$(records inc-tie | grep -o '"id":[0-9]*' | head -n1)" '"id":3'

# Without a primary key a checkpoint never splits rows of equal cursor.
catalog "$TMP/events-inc.json" incremental at events
echo "{\"path\":\"$DB\",\"chunk_rows\":1}" >"$TMP/c1.json"
run_proto inc-nopk "$SRC" read --config "$TMP/c1.json" --catalog "$TMP/events-inc.json"
expect_eq inc-nopk/states "$(states inc-nopk | tr '\n' ' ')" \
  '{"cursor_field":"at","cursor":1} {"cursor_field":"at","cursor":2} {"cursor_field":"at","cursor":3} '
run_proto inc-nopk-resume "$SRC" read --config "$TMP/c.json" --catalog "$TMP/events-inc.json" \
  --state <(echo '[{"type":"STREAM","stream":{"stream_descriptor":{"name":"events"},"stream_state":{"cursor_field":"at","cursor":"1"}}}]')
expect_eq inc-nopk/resume "$(records inc-nopk-resume | grep -o '"kind":"[a-z]"' | tr '\n' ' ')" '"kind":"z" "kind":"w" "kind":"v" '

# Reserved words and mixed case as table and column names.
catalog "$TMP/order.json" incremental from Order
run_proto reserved "$SRC" read --config "$TMP/c.json" --catalog "$TMP/order.json"
expect_rc reserved 0
expect_eq reserved/records "$(records reserved | wc -l)" 2

# Catalog errors: an unknown cursor, a table that no longer exists, a
# column dropped between syncs (left out, with a warning).
catalog "$TMP/badcur.json" incremental nope users
run_proto badcursor "$SRC" read --config "$TMP/c.json" --catalog "$TMP/badcur.json"
expect_rc badcursor 1
expect_out badcursor/names-field badcursor 'cursor field \"nope\" is not a column of table users'
jq '.streams[0].stream.name = "gone"' "$TMP/users-full.json" >"$TMP/gone.json"
run_proto missing-table "$SRC" read --config "$TMP/c.json" --catalog "$TMP/gone.json"
expect_rc missing-table 1
expect_out missing-table/names-stream missing-table 'stream \"gone\" is not a stream of source-sqlite'
sqlite3 "$DB" "ALTER TABLE users DROP COLUMN doc"
run_proto dropped "$SRC" read --config "$TMP/c.json" --catalog "$TMP/users-full.json"
expect_rc dropped 0
expect_out dropped/warned dropped 'column \"doc\" is in the catalog but no longer in table users'
if records dropped | grep -q '"doc"'; then fail dropped/left-out "doc still in records"; else pass dropped/left-out; fi

# Through the platform into destination-sqlite (the platform picks
# incremental + append_dedup for keyed streams; without a cursor every row is
# read, and dedup keeps one per key).
echo "{\"destination_path\":\"$TMP/out.db\"}" >"$TMP/dst.json"
run_sync sync1 --source "$SRC" --source-config "$TMP/c.json" --destination "$BIN/destination-sqlite" \
  --destination-config "$TMP/dst.json" --state-file "$TMP/sync-state.json" --streams users,pairs
expect_rc sync/first 0 sync1
run_sync sync2 --source "$SRC" --source-config "$TMP/c.json" --destination "$BIN/destination-sqlite" \
  --destination-config "$TMP/dst.json" --state-file "$TMP/sync-state.json" --streams users,pairs
expect_rc sync/second 0 sync2
expect_eq sync/rows "$(sql "$TMP/out.db" 'SELECT COUNT(*), COUNT(DISTINCT id) FROM users')|$(sql "$TMP/out.db" 'SELECT COUNT(*) FROM pairs')" '7|7|3'

# sluice sync --catalog: streams and their modes from a configured catalog file, here incremental
# on a cursor the user chose (events has no key and no default cursor).
cat >"$TMP/ev-cat.json" <<'JSON'
{"streams": [{"stream": {"name": "events", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
  "sync_mode": "incremental", "cursor_field": ["at"], "destination_sync_mode": "append"}]}
JSON
echo "{\"destination_path\":\"$TMP/ev.db\"}" >"$TMP/ev-dst.json"
run_sync ev1 --source "$SRC" --source-config "$TMP/c.json" --destination "$BIN/destination-sqlite" \
  --destination-config "$TMP/ev-dst.json" --state-file "$TMP/ev-state.json" --catalog "$TMP/ev-cat.json"
expect_rc sync-catalog/first 0 ev1
sqlite3 "$DB" "INSERT INTO events VALUES ('u', 4)"
run_sync ev2 --source "$SRC" --source-config "$TMP/c.json" --destination "$BIN/destination-sqlite" \
  --destination-config "$TMP/ev-dst.json" --state-file "$TMP/ev-state.json" --catalog "$TMP/ev-cat.json"
expect_rc sync-catalog/second 0 ev2
expect_eq sync-catalog/only-new-read "$(sql "$TMP/ev.db" 'SELECT COUNT(*), COUNT(DISTINCT kind) FROM events')|$(state_field "$TMP/ev-state.json" events cursor)" '6|6|4'
jq '.streams[0].cursor_field = ["nope"]' "$TMP/ev-cat.json" >"$TMP/ev-bad.json"
run_sync ev-bad --source "$SRC" --source-config "$TMP/c.json" --destination "$BIN/destination-sqlite" \
  --destination-config "$TMP/ev-dst.json" --catalog "$TMP/ev-bad.json"
expect_rc sync-catalog/bad-cursor nonzero ev-bad
expect_err sync-catalog/bad-cursor-named ev-bad 'nope'
jq '.streams[0].stream.name = "ghosts"' "$TMP/ev-cat.json" >"$TMP/ev-ghost.json"
run_sync ev-ghost --source "$SRC" --source-config "$TMP/c.json" --destination "$BIN/destination-sqlite" \
  --destination-config "$TMP/ev-dst.json" --catalog "$TMP/ev-ghost.json"
expect_err sync-catalog/unknown-stream ev-ghost 'the source has no stream "ghosts"'
run_sync ev-both --source "$SRC" --source-config "$TMP/c.json" --destination "$BIN/destination-sqlite" \
  --destination-config "$TMP/ev-dst.json" --catalog "$TMP/ev-cat.json" --streams events
expect_err sync-catalog/not-with-streams ev-both 'does not go with --streams'

finish
