#!/usr/bin/env bash
# Faults: misbehaving sources and destinations (tests/e2e/fake/), bad config,
# catalog and state files, and signals during a sync. Every case checks the
# exit status, the message, and what the state file holds afterwards.
# usage: tests/e2e/faults.sh [BIN_DIR]   (default build/bin)
#   E2E_HUGE=1 also runs the 100 MB record with a raised limit on a sanitizer
#   build (slow there; always run on a plain build).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

SRC=$FAKE/fake-source
summary() { awk -v s="$2" -v c="$3" '$1 == s { print $c; exit }' "$TMP/$1.err"; }
# The "sluice: error:" line of a run (not the connectors' own stderr).
sluice_error() { grep -m1 '^sluice: error:' "$TMP/$1.err"; }
expect_error_has() { # expect_error_has NAME RUN SUBSTRING
  local line
  line=$(sluice_error "$2")
  if [[ "$line" == *"$3"* ]]; then pass "$1"; else
    fail "$1" "the sluice error line lacks \"$3\": ${line:-(none)}"
    show_err "$2"
  fi
}
is_sanitized() { grep -q __asan_init "$BIN/sluice" 2>/dev/null; }

# fake NAME CONFIG_JSON: source config $TMP/NAME.src.json and a sqlite
# destination $TMP/NAME.db ($TMP/NAME.dst.json); state file $TMP/NAME.state.
fake() {
  echo "$2" >"$TMP/$1.src.json"
  echo "{\"destination_path\": \"$TMP/$1.db\"}" >"$TMP/$1.dst.json"
}
fake_sync() { # fake_sync NAME [extra sluice args]
  local name=$1
  shift
  run_sync "$name" --source "$SRC" --source-config "$TMP/$name.src.json" \
    --destination destination-sqlite --destination-config "$TMP/$name.dst.json" \
    --state-file "$TMP/$name.state" "$@"
}
cursor() { state_field "$TMP/$1.state" items updated_at; }
rows() { sql "$TMP/$1.db" 'select count(*) from items'; }

# ---- the fake source, well behaved ----------------------------------------------
fake good '{"mode": "good", "count": 25}'
fake_sync good
expect_rc good/exit 0
expect_eq good/rows "$(rows good)" 25
expect_eq good/state "$(cursor good)" 250
expect_eq good/summary "$(summary good items 2) $(summary good items 3)" "25 25"
expect_err good/states-committed good "3 state(s) committed"
fake_sync good # resumes after updated_at 250: nothing new
expect_rc good-resume/exit 0 good
expect_eq good-resume/read "$(summary good items 2)" 0
expect_eq good-resume/rows "$(rows good)" 25

# ---- garbage between records: dropped with a warning naming the line -----------
fake garbage '{"mode": "garbage", "count": 25}'
# {"type":"BOGUS"} is not a protocol message: keep this log out of the validated dir.
sync_quarantined garbage --source "$SRC" --source-config "$TMP/garbage.src.json" \
  --destination destination-sqlite --destination-config "$TMP/garbage.dst.json" --state-file "$TMP/garbage.state"
expect_rc garbage/exit 0
expect_eq garbage/rows "$(rows garbage)" 25
expect_eq garbage/ids "$(sql "$TMP/garbage.db" 'select count(distinct id) || "," || min(id) || "," || max(id) from items')" "25,1,25"
expect_eq garbage/state "$(cursor garbage)" 250
expect_err garbage/warn-non-json garbage "source stdout line 3"
expect_err garbage/warn-bogus garbage "source stdout line 6"
expect_err garbage/destination-drops-a-cut-record garbage "is not a JSON message and was skipped"
expect_err garbage/warn-bogus-type garbage "BOGUS"
expect_err garbage/warn-truncated garbage "source stdout line 9"
expect_eq garbage/no-error-line "$(sluice_error garbage)" ""

# ---- a final line without a newline is still processed ------------------------
fake partial '{"mode": "partial", "count": 25}'
fake_sync partial
expect_rc partial/exit 0
expect_eq partial/rows "$(rows partial)" 25
# The unterminated line is the final state (250); without it the file says 200.
expect_eq partial/final-state "$(cursor partial)" 250
expect_err partial/states-committed partial "3 state(s) committed"

# ---- invalid UTF-8 in a record: that record dropped, the rest arrive -------------
fake badutf8 '{"mode": "badutf8", "count": 25}'
fake_sync badutf8
expect_rc badutf8/exit 0
expect_eq badutf8/rows "$(rows badutf8)" 24
expect_eq badutf8/record-3-absent "$(sql "$TMP/badutf8.db" 'select count(*) from items where id = 3')" 0
expect_err badutf8/warning badutf8 "source stdout line 3"
expect_eq badutf8/state "$(cursor badutf8)" 250

# ---- a 100 MB record ------------------------------------------------------------
# Default limit (64 MiB): fatal, and the state file keeps the state before it.
fake huge '{"mode": "huge"}'
sync_quarantined huge --source "$SRC" --source-config "$TMP/huge.src.json" \
  --destination destination-sqlite --destination-config "$TMP/huge.dst.json" --state-file "$TMP/huge.state"
expect_rc huge/exit nonzero
expect_error_has huge/message huge "longer than the maximum message size"
expect_error_has huge/names-line huge "source stdout line 12"
expect_eq huge/state "$(cursor huge)" 100
expect_eq huge/nothing-after "$(sql "$TMP/huge.db" 'select count(*) from items where id > 10')" 0
expect_eq huge/before-kept "$(sql "$TMP/huge.db" 'select count(*) from items where id <= 10')" 10

# The limit is the option's: a 2 MB record passes by default, fails under 1 MiB.
fake big2m '{"mode": "huge", "huge_bytes": 2000000}'
fake_sync big2m
expect_rc big2m/exit 0
expect_eq big2m/rows "$(rows big2m)" 20
expect_eq big2m/blob "$(sql "$TMP/big2m.db" 'select length(blob) from items where id = 11')" 2000000
expect_eq big2m/state "$(cursor big2m)" 200
fake big2m-low '{"mode": "huge", "huge_bytes": 2000000}'
fake_sync big2m-low --max-message-size 1048576
expect_rc big2m-low/exit nonzero
expect_error_has big2m-low/message big2m-low "longer than the maximum message size of 1048576 bytes"
expect_eq big2m-low/state "$(cursor big2m-low)" 100

# --max-message-size 200000000: the 100 MB record goes through, to the destination too.
if is_sanitized && [ "${E2E_HUGE:-0}" != 1 ]; then
  echo "skip huge-raised: 100 MB through a sanitizer build takes minutes (E2E_HUGE=1 runs it)"
else
  fake huge-raised '{"mode": "huge"}'
  E2E_TIMEOUT=300 sync_quarantined huge-raised --source "$SRC" --source-config "$TMP/huge-raised.src.json" \
    --destination destination-sqlite --destination-config "$TMP/huge-raised.dst.json" \
    --state-file "$TMP/huge-raised.state" --max-message-size 200000000
  expect_rc huge-raised/exit 0
  expect_eq huge-raised/rows "$(rows huge-raised)" 20
  expect_eq huge-raised/blob "$(sql "$TMP/huge-raised.db" 'select length(blob) from items where id = 11')" 100000000
  expect_eq huge-raised/state "$(cursor huge-raised)" 200
  rm -f "$TMP/huge-raised.db" "$TMP"/plog/huge*
fi

# ---- the source crashes: exit 3 after 25 records and states at 10 and 20 ------------
# SLUICE_COMMIT_INTERVAL_MS=0: the destination commits at every state, so what
# survives is exact: the state at 20 and rows 1-20, not the 5 records after it
# (committing those would repeat them when the next sync resumes from 200).
fake crash '{"mode": "crash", "count": 25}'
SLUICE_COMMIT_INTERVAL_MS=0 fake_sync crash
expect_rc crash/exit nonzero
expect_error_has crash/names-code crash "exited with code 3"
expect_error_has crash/names-source crash "fake-source"
expect_eq crash/state "$(cursor crash)" 200
expect_eq crash/state-is-last-echoed "$(jq -c '.[0].stream.stream_state' "$TMP/crash.state")" "$(last_echoed "$PLOG" items)"
expect_eq crash/rows-are-state "$(rows crash) $(sql "$TMP/crash.db" 'select max(id) from items')" "20 20"
expect_eq crash/summary-committed "$(summary crash items 3)" 20
expect_err crash/tail-rolled-back crash 'records of stream "items" that no state covers'

fake crash-resume '{"mode": "good", "count": 25}'
cp "$TMP/crash.state" "$TMP/crash-resume.state"
cp "$TMP/crash.db" "$TMP/crash-resume.db"
fake_sync crash-resume
expect_rc crash-resume/exit 0
expect_eq crash-resume/read "$(summary crash-resume items 2)" 5
expect_eq crash-resume/rows "$(rows crash-resume)" 25
expect_eq crash-resume/distinct "$(sql "$TMP/crash-resume.db" 'select count(distinct id) from items')" 25
expect_eq crash-resume/state "$(cursor crash-resume)" 250

# Two streams; the source crashes in the second. The first, never checkpointed,
# reported COMPLETE: sluice passes that on at once, so its rows are committed
# with the second stream's states. Without the COMPLETE nothing covers them,
# and everything since the start is rolled back (and read again next time).
for complete in true false; do
  echo "{\"complete\": $complete}" >"$TMP/two-$complete.src.json"
  echo "{\"destination_path\": \"$TMP/two-$complete.db\"}" >"$TMP/two-$complete.dst.json"
  SLUICE_COMMIT_INTERVAL_MS=0 run_sync "two-$complete" --source "$FAKE/fake-two-streams" \
    --source-config "$TMP/two-$complete.src.json" --destination destination-sqlite \
    --destination-config "$TMP/two-$complete.dst.json" --state-file "$TMP/two-$complete.state"
  expect_rc "two-$complete/exit" nonzero
done
expect_eq two-complete/rows "$(sql "$TMP/two-true.db" 'select count(*) from plain') $(sql "$TMP/two-true.db" 'select count(*) from items')" "5 20"
expect_eq two-complete/state "$(state_field "$TMP/two-true.state" items updated_at)" 200
expect_eq two-incomplete/rows "$(sql "$TMP/two-false.db" 'select count(*) from plain') $(sql "$TMP/two-false.db" 'select count(*) from items')" "0 0"
expect_eq two-incomplete/no-state "$(state_field "$TMP/two-false.state" items updated_at)" ""

# The same crash with the default commit interval: how many states got
# committed depends on timing, but rows and state always agree, and the
# resumed sync ends with every row exactly once.
fake crash-default '{"mode": "crash", "count": 25}'
fake_sync crash-default
expect_rc crash-default/exit nonzero
c=$(cursor crash-default)
expect_eq crash-default/rows-match-state "$(rows crash-default)" "$(( ${c:-0} / 10 ))"
fake crash-default-resume '{"mode": "good", "count": 25}'
if [ -f "$TMP/crash-default.state" ]; then cp "$TMP/crash-default.state" "$TMP/crash-default-resume.state"; fi
cp "$TMP/crash-default.db" "$TMP/crash-default-resume.db"
fake_sync crash-default-resume
expect_rc crash-default-resume/exit 0
expect_eq crash-default-resume/rows "$(rows crash-default-resume) $(sql "$TMP/crash-default-resume.db" 'select count(distinct id) from items')" "25 25"

# ---- a record for a stream not in the catalog: fatal ---------------------------------
fake unknown '{"mode": "unknown-stream"}'
fake_sync unknown
expect_rc unknown/exit nonzero
expect_error_has unknown/names-stream unknown '"ghosts"'
expect_error_has unknown/not-in-catalog unknown "not in the configured catalog"
expect_eq unknown/no-table "$(sql "$TMP/unknown.db" "select count(*) from sqlite_master where name = 'ghosts'")" 0
expect_eq unknown/no-state "$(jq -c '.' "$TMP/unknown.state" 2>/dev/null || echo absent)" absent

# ---- the destination dies mid-sync ----------------------------------------------------
# It echoes the states at 10 and 20, dies after 25 lines; the source has 2000.
fake dies '{"mode": "good", "count": 2000}'
echo '{"die_after": 25}' >"$TMP/dies.dst.json"
run_sync dies --source "$SRC" --source-config "$TMP/dies.src.json" \
  --destination "$FAKE/fake-dest-dies" --destination-config "$TMP/dies.dst.json" --state-file "$TMP/dies.state"
expect_rc dies/exit nonzero
expect_error_has dies/names-destination dies "fake-dest-dies"
expect_eq dies/state "$(cursor dies)" 200
expect_eq dies/state-is-last-echoed "$(jq -c '.[0].stream.stream_state' "$TMP/dies.state" 2>/dev/null)" "$(last_echoed "$PLOG" items)"
# Same, with the source already done when the destination exits 1.
fake dies-late '{"mode": "good", "count": 25}'
echo '{"die_after": 25}' >"$TMP/dies-late.dst.json"
run_sync dies-late --source "$SRC" --source-config "$TMP/dies-late.src.json" \
  --destination "$FAKE/fake-dest-dies" --destination-config "$TMP/dies-late.dst.json" --state-file "$TMP/dies-late.state"
expect_rc dies-late/exit nonzero
expect_error_has dies-late/names-destination dies-late "fake-dest-dies"
expect_eq dies-late/state "$(cursor dies-late)" 200
# It echoes only the first state, reads everything, exits 1: only that state counts.
fake echo1 '{"mode": "good", "count": 25}'
echo '{"die_after": 100000, "echo_max": 1}' >"$TMP/echo1.dst.json"
run_sync echo1 --source "$SRC" --source-config "$TMP/echo1.src.json" \
  --destination "$FAKE/fake-dest-dies" --destination-config "$TMP/echo1.dst.json" --state-file "$TMP/echo1.state"
expect_rc echo1/exit nonzero
expect_error_has echo1/names-code echo1 "exited with code 1"
expect_eq echo1/state "$(cursor echo1)" 100
expect_eq echo1/summary-committed "$(summary echo1 items 3)" 10

# ---- the destination echoes nothing -----------------------------------------------------
fake noecho '{"mode": "good", "count": 25}'
echo '[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "items"}, "stream_state": {"updated_at": 70}}}]' >"$TMP/noecho.state"
cp "$TMP/noecho.state" "$TMP/noecho.state.orig"
echo '{}' >"$TMP/noecho.dst.json"
run_sync noecho --source "$SRC" --source-config "$TMP/noecho.src.json" \
  --destination "$FAKE/fake-dest-no-echo" --destination-config "$TMP/noecho.dst.json" --state-file "$TMP/noecho.state"
expect_rc noecho/exit nonzero
expect_error_has noecho/not-committed noecho "not committed"
# Resumed after 70: 18 records, states at 100, 200 and 250, none echoed.
expect_error_has noecho/count noecho "3 state(s)"
check noecho/state-unchanged cmp -s "$TMP/noecho.state" "$TMP/noecho.state.orig"

# ---- bad config, catalog and state files -------------------------------------------------
echo '{"count": 20, "seed": 1, "records_per_slice": 10}' >"$TMP/faker.json"
echo '{}' >"$TMP/devnull.json"
printf '{"count": 20,\n "seed": }\n' >"$TMP/malformed-config.json"
run_sync badconfig --source source-faker --source-config "$TMP/malformed-config.json" \
  --destination destination-dev-null --destination-config "$TMP/devnull.json"
expect_rc badconfig/exit nonzero
expect_error_has badconfig/names-file badconfig "$TMP/malformed-config.json"

echo '{"count": "many"}' >"$TMP/spec-violation.json"
run_sync specfail --source source-faker --source-config "$TMP/spec-violation.json" \
  --destination destination-dev-null --destination-config "$TMP/devnull.json"
expect_rc specfail/exit nonzero
expect_error_has specfail/names-field specfail "/count"

cat >"$TMP/cat-unknown.json" <<'EOF'
{"streams": [{"stream": {"name": "nosuch", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
  "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}
EOF
run_proto cat-unknown "$BIN/sluice" read source-faker --config "$TMP/faker.json" --catalog "$TMP/cat-unknown.json"
expect_rc cat-unknown/exit nonzero
expect_error_has cat-unknown/names-stream cat-unknown '"nosuch"'
expect_eq cat-unknown/no-records "$(grep -c '"type":"RECORD"' "$TMP/cat-unknown.out")" 0

cat >"$TMP/cat-mode.json" <<'EOF'
{"streams": [{"stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
  "sync_mode": "incremental", "cursor_field": ["updated_at"], "destination_sync_mode": "append"}]}
EOF
run_proto cat-mode "$BIN/sluice" read source-faker --config "$TMP/faker.json" --catalog "$TMP/cat-mode.json"
expect_rc cat-mode/exit nonzero
expect_error_has cat-mode/names-mode cat-mode '"incremental"'
expect_error_has cat-mode/names-stream cat-mode '"users"'

cat >"$TMP/cat-bogus-mode.json" <<'EOF'
{"streams": [{"stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
  "sync_mode": "sideways", "destination_sync_mode": "append"}]}
EOF
run_proto cat-bogus-mode "$BIN/sluice" read source-faker --config "$TMP/faker.json" --catalog "$TMP/cat-bogus-mode.json"
expect_rc cat-bogus-mode/exit nonzero
expect_error_has cat-bogus-mode/names-mode cat-bogus-mode '"sideways"'

printf '{"streams": [\n  {"stream":\n    {"name": "users",, }}]}\n' >"$TMP/cat-malformed.json"
run_proto cat-malformed "$BIN/sluice" read source-faker --config "$TMP/faker.json" --catalog "$TMP/cat-malformed.json"
expect_rc cat-malformed/exit nonzero
expect_error_has cat-malformed/names-file-and-line cat-malformed "$TMP/cat-malformed.json:3"

printf '[{"type": "STREAM",\n' >"$TMP/malformed.state"
echo '{"destination_path": "'"$TMP"'/badstate.db"}' >"$TMP/badstate.dst.json"
run_sync badstate --source source-faker --source-config "$TMP/faker.json" \
  --destination destination-sqlite --destination-config "$TMP/badstate.dst.json" --state-file "$TMP/malformed.state"
expect_rc badstate/exit nonzero
expect_error_has badstate/names-file badstate "$TMP/malformed.state"
check badstate/file-untouched cmp -s "$TMP/malformed.state" <(printf '[{"type": "STREAM",\n')
expect_eq badstate/nothing-written "$(test -e "$TMP/badstate.db" && sql "$TMP/badstate.db" 'select count(*) from users' || echo 0)" 0

echo '"just a string"' >"$TMP/wrongshape.state"
run_sync wrongstate --source source-faker --source-config "$TMP/faker.json" \
  --destination destination-dev-null --destination-config "$TMP/devnull.json" --state-file "$TMP/wrongshape.state"
expect_rc wrongstate/exit nonzero
expect_error_has wrongstate/names-file wrongstate "$TMP/wrongshape.state"

run_proto read-badstate "$BIN/sluice" read source-faker --config "$TMP/faker.json" --streams users --state "$TMP/malformed.state"
expect_rc read-badstate/exit nonzero
expect_error_has read-badstate/names-file read-badstate "$TMP/malformed.state"

# check with a bad config: CONNECTION_STATUS FAILED, exit 0 (the connector itself).
echo '{"count": 0}' >"$TMP/count0.json"
for cfg in count0 spec-violation; do
  run_proto "check-$cfg" "$BIN/source-faker" check --config "$TMP/$cfg.json"
  expect_rc "check-$cfg/exit" 0
  expect_eq "check-$cfg/status" "$(jq -r 'select(.type == "CONNECTION_STATUS") | .connectionStatus.status' "$TMP/check-$cfg.out")" FAILED
done
expect_eq check-count0/message-names-field "$(jq -r 'select(.type == "CONNECTION_STATUS") | .connectionStatus.message | contains("/count")' "$TMP/check-count0.out")" true

# ---- signals -------------------------------------------------------------------------
# A slow source (a record every 50 ms, a state every 5); once a state is in the
# file, signal sluice. It must stop both children, exit non-zero, and leave the
# file with exactly the last state the destination echoed.
signal_test() {
  local sig=$1 name=sig-$1
  local dir=$TMP/$name # unique marker for pgrep
  mkdir -p "$dir"
  echo "{\"mode\": \"slow\", \"count\": 400, \"per_state\": 5, \"delay\": 0.05, \"done_file\": \"$dir/source-done\"}" >"$dir/src.json"
  echo "{\"destination_path\": \"$dir/out.db\"}" >"$dir/dst.json"
  PLOG=$(plog_path "$name")
  bg_start "$name" "$BIN/sluice" sync --no-progress --protocol-log "$PLOG" --source "$SRC" --source-config "$dir/src.json" \
    --destination destination-sqlite --destination-config "$dir/dst.json" --state-file "$dir/state.json"
  local tpid=$E2E_BG spid=''
  wait_for 100 test -s "$dir/state.json" || fail "$name/started" "no state file after the first states"
  wait_for 20 eval 'spid=$(pgrep -P '"$tpid"' -f "sluice sync")'
  if [ -z "$spid" ]; then
    fail "$name/running" "sluice is not running"
  else
    check "$name/children-running" eval 'pgrep -f -- "$dir/src.json" >/dev/null && pgrep -f -- "$dir/dst.json" >/dev/null'
    kill -"$sig" "$spid"
  fi
  bg_wait "$name"
  expect_rc "$name/exit" nonzero
  expect_error_has "$name/interrupted" "$name" "interrupted"
  # Nothing with the marker survives: neither the source nor the destination.
  check "$name/children-gone" eval '! pgrep -f -- "$dir/" >/dev/null'
  # The source was stopped, not waited for to the end of its 400 records.
  check "$name/source-stopped" test ! -e "$dir/source-done"
  check "$name/state-valid-json" json_ok "$dir/state.json"
  local at
  at=$(state_field "$dir/state.json" items updated_at)
  expect_eq "$name/state-is-last-echoed" "$(jq -c '.[0].stream.stream_state' "$dir/state.json" 2>/dev/null)" "$(last_echoed "$PLOG" items)"
  expect_eq "$name/state-on-a-checkpoint" "$(( ${at:-1} % 50 ))" 0
  expect_eq "$name/records-behind-state" "$(sql "$dir/out.db" "select count(*) from items where id <= ${at:-0} / 10")" "$(( ${at:-0} / 10 ))"
  check "$name/not-finished" test "${at:-4000}" -lt 4000
  # Resuming with a fast source completes the table from the committed state.
  echo '{"mode": "good", "count": 400}' >"$dir/src.json"
  run_sync "$name-resume" --source "$SRC" --source-config "$dir/src.json" \
    --destination destination-sqlite --destination-config "$dir/dst.json" --state-file "$dir/state.json"
  expect_rc "$name-resume/exit" 0
  expect_eq "$name-resume/read" "$(summary "$name-resume" items 2)" "$(( 400 - ${at:-0} / 10 ))"
  expect_eq "$name-resume/rows" "$(sql "$dir/out.db" 'select count(distinct id) from items')" 400
}
signal_test TERM
signal_test INT

finish
