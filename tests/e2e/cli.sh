#!/usr/bin/env bash
# The sluice command line: spec, check, discover, read, help, connector
# references, and the terminal (pretty) output.
# usage: tests/e2e/cli.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

REPO=$(cd "$E2E_HERE/../.." && pwd)
COUNT=30
echo "{\"count\": $COUNT, \"seed\": 5, \"records_per_slice\": 10, \"always_updated\": false}" >"$TMP/faker.json"
echo '{"count": 0}' >"$TMP/count0.json"
echo '{"count": "many"}' >"$TMP/many.json"
S="$BIN/sluice"

# run_pty NAME COMMAND: COMMAND (a shell string) under a pseudo-terminal;
# everything it printed, stdout and stderr, is in $TMP/NAME.out.
run_pty() {
  local name=$1
  script -qec "$2" /dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
  RC=$?
  cat "$TMP/$name.out" >>"$TMP/$name.err"
  sanitizer_check "$name"
}
types() { jq -r '.type' "$TMP/$1.out" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }

# ---- spec ----------------------------------------------------------------
run_proto spec "$S" spec source-faker
expect_rc spec/exit 0
expect_eq spec/one-line "$(wc -l <"$TMP/spec.out")" 1
expect_eq spec/type "$(types spec)" SPEC
expect_eq spec/count-property "$(jq -r '.spec.connectionSpecification.properties.count.type' "$TMP/spec.out")" integer
run_proto spec-json "$S" spec source-faker --json
expect_rc spec-json/exit 0
check spec-json/same-as-piped cmp -s "$TMP/spec.out" "$TMP/spec-json.out"

# ---- check -----------------------------------------------------------------
run_proto check "$S" check source-faker --config "$TMP/faker.json"
expect_rc check/exit 0
expect_eq check/status "$(jq -r 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status' "$TMP/check.out")" SUCCEEDED
run_proto check-fails "$S" check source-faker --config "$TMP/count0.json"
expect_rc check-fails/exit 1
expect_eq check-fails/status "$(jq -r 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status' "$TMP/check-fails.out")" FAILED
run_proto check-spec "$S" check source-faker --config "$TMP/many.json"
expect_rc check-spec/exit 1
expect_eq check-spec/names-field "$(jq -r 'select(.type == "CONNECTION_STATUS") | .connectionStatus.message | contains("/count")' "$TMP/check-spec.out")" true
run check-noconfig "$S" check source-faker
expect_rc check-noconfig/exit nonzero
expect_err check-noconfig/message check-noconfig "--config"

# ---- discover ----------------------------------------------------------------
run_proto discover "$S" discover source-faker --config "$TMP/faker.json"
expect_rc discover/exit 0
expect_eq discover/streams "$(jq -c '[.catalog.streams[].name] | sort' "$TMP/discover.out")" '["products","purchases","users"]'
expect_eq discover/modes "$(jq -c '[.catalog.streams[] | .supported_sync_modes | sort] | unique' "$TMP/discover.out")" '[["full_refresh","incremental"]]'
expect_eq discover/pk "$(jq -c '[.catalog.streams[] | .source_defined_primary_key] | unique' "$TMP/discover.out")" '[[["id"]]]'

# ---- read --streams users -------------------------------------------------------
run_proto read "$S" read source-faker --config "$TMP/faker.json" --streams users
expect_rc read/exit 0
expect_eq read/records "$(jq -r 'select(.type == "RECORD") | .record.stream' "$TMP/read.out" | grep -cx users)" $COUNT
expect_eq read/only-users "$(jq -r 'select(.type == "RECORD" or .type == "STATE") | (.record.stream // .state.stream.stream_descriptor.name)' "$TMP/read.out" | sort -u | tr '\n' ' ')" "users "
expect_eq read/distinct-ids "$(jq -s '[.[] | select(.type == "RECORD") | .record.data.id] | unique | length' "$TMP/read.out")" $COUNT
expect_eq read/state-has-recordCount "$(jq -s '[.[] | select(.type == "STATE") | .state.sourceStats.recordCount | numbers] | length > 0' "$TMP/read.out")" true
expect_eq read/recordCount-sums "$(jq -s '[.[] | select(.type == "STATE") | .state.sourceStats.recordCount] | add' "$TMP/read.out")" $COUNT
expect_eq read/stream-status-order "$(jq -r 'select(.type == "TRACE" and .trace.type == "STREAM_STATUS") | .trace.stream_status.status' "$TMP/read.out" | tr '\n' ' ')" "STARTED RUNNING COMPLETE "
# The first status comes before the first record, COMPLETE after the last.
expect_eq read/status-brackets-records "$(jq -r 'if .type == "RECORD" then "r" elif .type == "TRACE" then .trace.stream_status.status[0:1] else empty end' "$TMP/read.out" | uniq | tr -d '\n')" SRrC

# The last state, as a state file: a second read has nothing new.
jq -s '[map(select(.type == "STATE")) | last | .state]' "$TMP/read.out" >"$TMP/read-state.json"
run_proto read-resume "$S" read source-faker --config "$TMP/faker.json" --streams users --state "$TMP/read-state.json"
expect_rc read-resume/exit 0
expect_eq read-resume/records "$(grep -c '"type":"RECORD"' "$TMP/read-resume.out")" 0

# ---- connector references -----------------------------------------------------
run_proto read-abspath "$S" read "$BIN/source-faker" --config "$TMP/faker.json" --streams users
expect_rc read-abspath/exit 0
expect_eq read-abspath/records "$(grep -c '"type":"RECORD"' "$TMP/read-abspath.out")" $COUNT
bindir_name=$(basename "$BIN")
run_proto read-relpath bash -c 'cd "$1/.." && exec "$2" read "./$3/source-faker" --config "$4" --streams users' _ \
  "$BIN" "$S" "$bindir_name" "$TMP/faker.json"
expect_rc read-relpath/exit 0
expect_eq read-relpath/records "$(grep -c '"type":"RECORD"' "$TMP/read-relpath.out")" $COUNT
run_proto read-dir bash -c 'cd "$1" && exec "$2" read connectors/source-faker --config "$3" --streams users' _ \
  "$REPO" "$S" "$TMP/faker.json"
expect_rc read-dir/exit 0
expect_eq read-dir/records "$(grep -c '"type":"RECORD"' "$TMP/read-dir.out")" $COUNT
# A directory holding its own executable of the same name.
mkdir -p "$TMP/connectors/fake-source"
cp "$FAKE/fake-source" "$TMP/connectors/fake-source/fake-source"
run_proto discover-dir "$S" discover "$TMP/connectors/fake-source" --config "$TMP/faker.json"
expect_rc discover-dir/exit 0
expect_eq discover-dir/streams "$(jq -c '[.catalog.streams[].name]' "$TMP/discover-dir.out")" '["items"]'

run read-unknown "$S" read source-nope --config "$TMP/faker.json"
expect_rc read-unknown/exit nonzero
expect_err read-unknown/message read-unknown '"source-nope" not found'
expect_err read-unknown/hint read-unknown "sluice connectors"
expect_eq read-unknown/no-stdout "$(wc -c <"$TMP/read-unknown.out")" 0
run read-nopath "$S" read "$TMP/no/such/source" --config "$TMP/faker.json"
expect_rc read-nopath/exit nonzero
expect_err read-nopath/message read-nopath "$TMP/no/such/source"
run connectors "$S" connectors
expect_rc connectors/exit 0
for c in source-faker destination-sqlite destination-jsonl destination-dev-null; do
  expect_eq "connectors/$c" "$(grep -cx "$c" "$TMP/connectors.out")" 1
done

# ---- help and usage errors ---------------------------------------------------------
run help-sync "$S" help sync
expect_rc help-sync/exit 0
for opt in "sluice sync --source" --source-config --destination-config --state-file --streams --full-refresh --max-message-size; do
  expect_out "help-sync/$opt" help-sync "$opt"
done
run help "$S" help
expect_rc help/exit 0
for c in spec check discover read sync connectors; do
  expect_eq "help/lists-$c" "$(grep -cE "^  $c " "$TMP/help.out")" 1
done
run sync-noargs "$S" sync
expect_rc sync-noargs/exit nonzero
expect_err sync-noargs/names-option sync-noargs "--source is required"
run sync-badopt "$S" sync --source source-faker --frobnicate 1
expect_rc sync-badopt/exit nonzero
expect_err sync-badopt/names-option sync-badopt "--frobnicate"
run bad-command "$S" frobnicate
expect_rc bad-command/exit 2
expect_err bad-command/message bad-command 'unknown command "frobnicate"'

# ---- on a terminal -------------------------------------------------------------------
q() { printf '%q' "$1"; }
run_pty tty-check "$(q "$S") check source-faker --config $(q "$TMP/faker.json")"
expect_rc tty-check/exit 0
expect_out tty-check/succeeded tty-check "check succeeded"
run_pty tty-check-fails "$(q "$S") check source-faker --config $(q "$TMP/count0.json")"
expect_rc tty-check-fails/exit 1
expect_out tty-check-fails/failed tty-check-fails "check failed"
expect_out tty-check-fails/reason tty-check-fails "/count"
run_pty tty-discover "$(q "$S") discover source-faker --config $(q "$TMP/faker.json")"
expect_rc tty-discover/exit 0
expect_out tty-discover/header tty-discover "sync modes"
for s in users products purchases; do
  expect_eq "tty-discover/row-$s" "$(grep -cE "^$s +\[" "$TMP/tty-discover.out")" 1
done
check tty-discover/not-json eval '! grep -q "\"type\":\"CATALOG\"" "$TMP/tty-discover.out"'
run_pty tty-read "$(q "$S") read source-faker --config $(q "$TMP/faker.json") --streams users"
expect_rc tty-read/exit 0
expect_out tty-read/totals tty-read "$COUNT record(s)"
expect_eq tty-read/record-lines "$(grep -cE '^users \{' "$TMP/tty-read.out")" $COUNT
run_pty tty-read-json "$(q "$S") read source-faker --config $(q "$TMP/faker.json") --streams users --json"
expect_rc tty-read-json/exit 0
expect_eq tty-read-json/raw-records "$(grep -c '^{"type":"RECORD"' "$TMP/tty-read-json.out")" $COUNT

# Every command answers --help (and -h) with its usage on stdout, exit 0.
for c in $("$S" help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 }'); do
  run "help-$c" "$S" "$c" --help
  expect_rc "help/$c/exit" 0
  check "help/$c/usage" grep -q "sluice $c" "$TMP/help-$c.out"
done
run help-sub "$S" sync --source source-faker -h
expect_rc help/anywhere 0

finish
