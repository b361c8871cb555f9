#!/usr/bin/env bash
# source-singer: a Singer tap's catalog, messages and state through the
# Airbyte protocol; broken taps fail with clear reasons.
# Usage: tests/e2e/singer.sh [BIN_DIR]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
cd "$ROOT"
export PATH="$ROOT/templates/source-singer/integration_tests:$ROOT/tests/data/singer:$PATH"
S="$BIN/source-singer"
IT=connectors/source-singer/integration_tests
echo '{"singer_tap": "tap-example", "count": 12}' >"$TMP/c.json"

# discover: the Singer catalog translated
run_proto disc "$S" discover --config "$TMP/c.json"
expect_rc "discover" 0 disc
expect_eq "numbers: primary key and cursor" "$(jq -c '.catalog.streams[] | select(.name=="numbers") | [.source_defined_primary_key, .default_cursor_field, .supported_sync_modes, .source_defined_cursor]' "$TMP/disc.out")" \
  '[[["id"]],["id"],["full_refresh","incremental"],true]'
expect_eq "letters: forced full table" "$(jq -c '.catalog.streams[] | select(.name=="letters") | [.source_defined_primary_key, .supported_sync_modes]' "$TMP/disc.out")" \
  '[[["letter"]],["full_refresh"]]'
expect_eq "schema passed through" "$(jq -c '.catalog.streams[0].json_schema.properties.square.type' "$TMP/disc.out")" '["null","integer"]'

# read: records, bookmarks as stream states, ACTIVATE_VERSION as a log
run_proto read "$S" read --config "$TMP/c.json" --catalog "$IT/configured_catalog.json"
expect_rc "read" 0 read
expect_eq "numbers: 12 records" "$(jq -c 'select(.type=="RECORD" and .record.stream=="numbers")' "$TMP/read.out" | wc -l)" 12
expect_eq "letters: 10 records" "$(jq -c 'select(.type=="RECORD" and .record.stream=="letters")' "$TMP/read.out" | wc -l)" 10
expect_eq "record data as the tap sent it" "$(jq -c 'select(.type=="RECORD") | .record.data' "$TMP/read.out" | sed -n 7p)" '{"id":7,"square":49,"label":"n7"}'
expect_eq "bookmarks become stream states" "$(jq -c 'select(.type=="STATE") | .state.stream.stream_state' "$TMP/read.out" | head -n3 | tr -d '\n')" '{"id":5}{"id":10}{"id":12}'
expect_eq "state counts the records before it" "$(jq -c 'select(.type=="STATE") | .state.sourceStats.recordCount' "$TMP/read.out" | head -n3 | tr '\n' ' ')" "5 5 2 "
expect_out "ACTIVATE_VERSION becomes a log" read "the tap activated table version"

# incremental: the stream's state goes back to the tap as its bookmark
run_proto inc "$S" read --config "$TMP/c.json" --catalog "$IT/configured_catalog.json" --state "$IT/sample_state.json"
expect_rc "read from state" 0 inc
expect_eq "resumes after bookmark 5" "$(jq -c 'select(.type=="RECORD" and .record.stream=="numbers") | .record.data.id' "$TMP/inc.out" | head -n1)" 6
# --properties for older taps (tap-example accepts both)
echo '{"singer_tap": "tap-example", "count": 3, "singer_catalog_flag": "--properties"}' >"$TMP/p.json"
run_proto props "$S" read --config "$TMP/p.json" --catalog "$IT/configured_catalog.json"
expect_eq "--properties catalog flag" "$(grep -c '"type":"RECORD"' "$TMP/props.out")" 6

# through the platform: a sync that resumes from its committed state
echo "{\"destination_path\": \"$TMP/out.sqlite\"}" >"$TMP/d.json"
run_sync sync1 --source source-singer --source-config "$TMP/c.json" --destination destination-sqlite \
  --destination-config "$TMP/d.json" --state-file "$TMP/state.json"
expect_rc "sync" 0 sync1
expect_eq "sync: numbers" "$(sql "$TMP/out.sqlite" 'select count(*) from numbers')" 12
expect_eq "sync: committed bookmark" "$(state_field "$TMP/state.json" numbers id)" 12
echo '{"singer_tap": "tap-example", "count": 15}' >"$TMP/c15.json"
run_sync sync2 --source source-singer --source-config "$TMP/c15.json" --destination destination-sqlite \
  --destination-config "$TMP/d.json" --state-file "$TMP/state.json" --streams numbers
expect_rc "second sync" 0 sync2
expect_eq "second sync: only the new rows arrive" "$(sql "$TMP/out.sqlite" 'select count(*) from numbers')" 15

# broken taps
broken() { # broken NAME MODE EXPECTED
  echo "{\"singer_tap\": \"tap-broken\", \"mode\": \"$2\"}" >"$TMP/$1.json"
  jq -c '{streams: [.catalog.streams[] | {stream: ., sync_mode: "incremental", destination_sync_mode: "append", cursor_field: ["id"]}]}' \
    <("$S" discover --config "$TMP/$1.json") >"$TMP/$1.cat"
  run_proto "$1" "$S" read --config "$TMP/$1.json" --catalog "$TMP/$1.cat"
  expect_rc "$1: read fails" 1 "$1"
  expect_out "$1: error TRACE" "$1" "$3"
}
broken record-first record-first 'the tap tap-broken sent a RECORD for stream things before its SCHEMA (output line 1)'
broken crash crash 'the tap tap-broken failed (exit code 3): tap-broken: lost the connection to the API'
expect_err "crash: the tap's stderr is passed on" crash "lost the connection to the API"
broken garbage garbage 'printed a line that is not a Singer message (output line 2): INFO starting sync'
echo '{"singer_tap": "tap-broken", "mode": "whole-state"}' >"$TMP/ws.json"
run_proto ws "$S" read --config "$TMP/ws.json" --catalog "$TMP/crash.cat"
expect_eq "a state without bookmarks is kept whole" "$(jq -c 'select(.type=="STATE") | .state.stream.stream_state' "$TMP/ws.out" | head -n1)" '{"singer_state":{"cursor":1}}'

echo '{"singer_tap": "tap-not-installed"}' >"$TMP/nf.json"
run_proto nf "$S" check --config "$TMP/nf.json"
expect_rc "missing tap: check exits 0" 0 nf
expect_out "missing tap: FAILED with the reason" nf 'singer_tap tap-not-installed could not be run'
run_proto bad "$S" check --config "$IT/invalid_config.json"
expect_out "tap rejects its config: FAILED quoting it" bad 'config count must be a positive integer'

finish
