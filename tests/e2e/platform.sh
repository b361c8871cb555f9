#!/usr/bin/env bash
# The workspace: sources, destinations and connections in the store
# ($SLUICE_HOME/sluice.db), secrets kept apart (0600) and masked, syncs as
# jobs with attempts, per-stream stats, state in the store, logs.
# usage: tests/e2e/platform.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

export SLUICE_HOME=$TMP/home
S="$BIN/sluice"
DATA=$(cd "$(dirname "$0")/../data/platform" && pwd)
SECRET=hunter2-abcdef-0123
DB=$TMP/out.db

# ---- help and usage ------------------------------------------------------------
for c in source destination connection job; do
  run "help-$c" "$S" "$c" --help
  expect_rc "help/$c" 0
  expect_out "help/$c-usage" "help-$c" "sluice $c"
done
run bad-opt "$S" source list --bogus
expect_rc bad-opt/exit 2
expect_err bad-opt/names-it bad-opt "unknown option --bogus"

# ---- sources and destinations ------------------------------------------------------
run src-create "$S" source create faker --connector source-faker --set count=40 --set seed=3 \
  --set records_per_slice=10 --set always_updated=false
expect_rc src-create/exit 0
run dst-create "$S" destination create out --connector destination-sqlite --set "destination_path=$DB" --json
expect_rc dst-create/exit 0
expect_eq dst-create/json "$(jq -r '.name + " " + .connector' "$TMP/dst-create.out")" "out destination-sqlite"
run dup "$S" source create faker --connector source-faker --set count=1
expect_rc dup/exit 6
expect_err dup/says dup "a source named \"faker\" exists already"
run unknown-conn "$S" source create x --connector source-nonesuch --set a=1
expect_rc unknown-conn/exit nonzero
expect_err unknown-conn/names-it unknown-conn "source-nonesuch"
run bad-cfg "$S" source create bad --connector source-faker --set count=many
expect_rc bad-cfg/exit 11
expect_err bad-cfg/names-field bad-cfg "/count"
run src-list "$S" source list --json
expect_eq src-list/names "$(jq -r '[.[].name] | join(",")' "$TMP/src-list.out")" "faker"
run src-show "$S" source show faker --json
expect_eq src-show/config "$(jq -c '.config | {count, seed}' "$TMP/src-show.out")" '{"count":40,"seed":3}'
run src-edit "$S" source edit faker --set count=50
expect_rc src-edit/exit 0
run src-show2 "$S" source show 1 --json
expect_eq src-edit/applied "$(jq '.config.count' "$TMP/src-show2.out")" 50
expect_eq src-edit/version "$(jq '.version' "$TMP/src-show2.out")" 2
# Compare-and-set: an edit made from version 1 after the one above is refused, changing nothing.
run src-stale "$S" source edit faker --set count=60 --expect-version 1
expect_rc src-edit/stale-refused 6
expect_err src-edit/stale-says src-stale 'source "faker" was changed by someone else since version 1 (it is now at version 2); show it again and repeat the edit from version 2'
expect_eq src-edit/stale-unchanged "$("$S" source show faker --json | jq -c '[.config.count, .version]')" '[50,2]'
run src-ver-bad "$S" source edit faker --set count=60 --expect-version two
expect_err src-edit/bad-version src-ver-bad '--expect-version "two": expected a version number'
run src-check "$S" source check faker --json
expect_rc src-check/exit 0
expect_eq src-check/status "$(jq -r .status "$TMP/src-check.out")" SUCCEEDED
run discover "$S" source discover faker --json
expect_eq discover/streams "$(jq -r '[.streams[].name] | sort | join(",")' "$TMP/discover.out")" "products,purchases,users"
expect_err discover/version-1 discover "catalog version 1 (new)"
run discover2 "$S" source discover faker
expect_err discover/unchanged discover2 "catalog version 1 (unchanged)"
expect_eq discover/stored "$(sql "$SLUICE_HOME/sluice.db" 'select count(*) from catalogs')" 1
expect_eq store/migrated "$(sql "$SLUICE_HOME/sluice.db" 'select group_concat(version) from schema_migrations')" "1,2,3,4,5,6,7"
cp "$SLUICE_HOME/sluice.db" "$TMP/future.db"
sqlite3 "$TMP/future.db" 'insert into schema_migrations values (99, 0)'
run future "$S" source list --store "$TMP/future.db"
expect_rc store/newer-refused 6
expect_err store/newer-says future "schema version 99, newer than this sluice"

# ---- secrets ------------------------------------------------------------------------------
run sec-create "$S" source create keyed --connector "$DATA/secret-source" --set "api_key=$SECRET" --set count=4
expect_rc sec-create/exit 0
check secrets/not-in-db bash -c "! grep -a -q '$SECRET' '$SLUICE_HOME/sluice.db' '$SLUICE_HOME'/sluice.db-wal 2>/dev/null"
expect_eq secrets/file-mode "$(stat -c %a "$SLUICE_HOME/secrets.json")" 600
check secrets/in-file grep -q "$SECRET" "$SLUICE_HOME/secrets.json"
run sec-show "$S" source show keyed --json
expect_eq secrets/masked "$(jq -r .config.api_key "$TMP/sec-show.out")" "**********"
check secrets/show-no-secret bash -c "! grep -q '$SECRET' '$TMP/sec-show.out'"
# An edit that does not name the secret keeps it; so does feeding back `show --json`.
run sec-edit "$S" source edit keyed --set count=5
run sec-show2 "$S" source show keyed --json
jq .config "$TMP/sec-show2.out" >"$TMP/keyed.json"
run sec-edit2 "$S" source edit keyed --config "$TMP/keyed.json"
expect_rc secrets/edit-back 0
check secrets/kept grep -q "\"/api_key\": \"$SECRET\"" "$SLUICE_HOME/secrets.json"
run sec-check "$S" source check keyed
expect_rc sec-check/exit 0
chmod 644 "$SLUICE_HOME/secrets.json"
run sec-loose "$S" source show keyed
expect_rc secrets/loose-mode-refused 6
expect_err secrets/loose-mode-says sec-loose "readable by others"
chmod 600 "$SLUICE_HOME/secrets.json"

# ---- connections ----------------------------------------------------------------------------
run conn-create "$S" connection create main --source faker --destination out --schedule "every 5m"
expect_rc conn-create/exit 0
run bad-sched "$S" connection create x --source faker --destination out --schedule "every blue moon"
expect_rc bad-sched/exit 2
expect_err bad-sched/says bad-sched 'schedule "every blue moon": expected'
run bad-cron "$S" connection create x --source faker --destination out --schedule "61 * * * *"
expect_rc bad-cron/exit 2
expect_err bad-cron/says bad-cron 'minute 61 out of range 0-59'
run bad-src "$S" connection create x --source nope --destination out
expect_err bad-src/says bad-src 'no source named "nope"'
run conn-list "$S" connection list --json
expect_eq conn-list/row "$(jq -r '.[0] | [.name, .source, .destination, .schedule, .status] | join(" ")' "$TMP/conn-list.out")" \
  "main faker out every 5m active"
run conn-edit "$S" connection edit main --schema-policy ignore --expect-version 1
expect_rc conn-edit/exit 0
run conn-stale "$S" connection edit main --schema-policy propagate_all --expect-version 1
expect_rc conn-edit/stale-refused 6
expect_err conn-edit/stale-says conn-stale "changed by someone else"
run conn-show "$S" connection show main --json
expect_eq conn-show/edited "$(jq -r '.schema_policy + " " + (.version | tostring)' "$TMP/conn-show.out")" "ignore 2"
run src-in-use "$S" source delete faker
expect_err src-delete/in-use src-in-use 'used by connection "main"'

# ---- syncs as jobs --------------------------------------------------------------------------------
run sync1 timeout 60 "$S" connection sync main --json
expect_rc sync1/exit 0
expect_eq sync1/job "$(jq -r '.status + " " + (.attempts | tostring)' "$TMP/sync1.out")" "succeeded 1"
expect_eq sync1/users "$(sql "$DB" 'select count(*) || "," || count(distinct id) from users')" "50,50"
expect_eq sync1/products "$(sql "$DB" 'select count(*) from products')" 100
run job-show "$S" job show 1 --json
expect_eq job/stats "$(jq -c '[.attempts[0].streams[] | [.stream, .emitted, .committed]]' "$TMP/job-show.out")" \
  '[["products",100,100],["purchases",50,50],["users",50,50]]'
check job/bytes jq -e '[.attempts[0].streams[].bytes] | all(. > 0)' "$TMP/job-show.out"
# The stored state is exactly what was committed: the cursor is the newest row's.
for st in users purchases products; do
  expect_eq "state/$st" "$(sql "$SLUICE_HOME/sluice.db" "select json_extract(state, '\$.stream.stream_state.updated_at') from state where stream = '$st'")" \
    "$(sql "$DB" "select max(updated_at) from $st")"
done
run sync2 timeout 60 "$S" connection sync main
expect_rc sync2/exit 0
expect_eq sync2/no-duplicates "$(sql "$DB" 'select count(*) from users')" 50
run job-show2 "$S" job show 2 --json
expect_eq sync2/nothing-new "$(jq '[.attempts[0].streams[].emitted] | add' "$TMP/job-show2.out")" 0
run job-list "$S" job list --connection main --json
expect_eq job-list/two "$(jq -r '[.[] | .id] | join(",")' "$TMP/job-list.out")" "2,1"
run logs "$S" job logs 1
expect_out logs/summary logs "outcome: succeeded"
expect_out logs/per-stream logs "users"
run logs-json "$S" job logs 1 --json
expect_eq logs/json "$(jq -r '[.[0].attempt, (.[0].lines | map(select(contains("outcome: succeeded"))) | length)] | map(tostring) | join(" ")' "$TMP/logs-json.out")" "1 1"

# Secrets in job logs and output are masked.
run conn-keyed "$S" connection create keyed --source keyed --destination out
run sync-keyed timeout 60 "$S" connection sync keyed
expect_rc sync-keyed/exit 0
expect_eq sync-keyed/rows "$(sql "$DB" 'select count(*) from things')" 5
run logs-keyed "$S" job logs 3
expect_out logs-keyed/has-log logs-keyed "reading with key **********"
check logs-keyed/no-secret bash -c "! grep -rq '$SECRET' '$SLUICE_HOME/logs' '$TMP/sync-keyed.err' '$TMP/sync-keyed.out'"

# Retries: a source that always crashes fails the job after --max-attempts,
# with the reason; a config problem is not retried.
run fake-src "$S" source create crashy --connector "$FAKE/fake-source" --set mode=crash --set count=5
run conn-crashy "$S" connection create crashy --source crashy --destination out
run sync-crash timeout 60 "$S" connection sync crashy --max-attempts 3 --backoff-ms 1 --json
expect_rc sync-crash/exit 14
expect_eq sync-crash/job "$(jq -r '.status + " " + (.attempts | tostring) + " " + .failure_type' "$TMP/sync-crash.out")" \
  "failed 3 system_error"
check sync-crash/reason jq -e '.failure_reason | contains("exited with code")' "$TMP/sync-crash.out"
# Attempts resume: the committed state after attempt 1 is what attempt 2 read with.
run job-crash "$S" job show 4 --json
expect_eq sync-crash/attempts "$(jq -r '[.attempts[].status] | join(",")' "$TMP/job-crash.out")" "failed,failed,failed"
run inactive "$S" connection edit crashy --status inactive
run sync-inactive "$S" connection sync crashy
expect_rc sync-inactive/exit 6
expect_err sync-inactive/says sync-inactive "is inactive"

# ---- state show|set|reset ---------------------------------------------------------------------------------
run st-show "$S" state show main
expect_eq state-show/streams "$(jq -r '[.[].stream.stream_descriptor.name] | sort | join(",")' "$TMP/st-show.out")" "products,purchases,users"
jq '[.[] | select(.stream.stream_descriptor.name == "users") | .stream.stream_state.updated_at = "2000-01-01T00:00:00+00:00"]' \
  "$TMP/st-show.out" >"$TMP/users-state.json"
run st-set "$S" state set main --file "$TMP/users-state.json"
expect_rc state-set/exit 0
run st-show2 "$S" state show main --json
expect_eq state-set/applied "$(jq -r '.[0].stream.stream_state.updated_at + " " + (length | tostring)' "$TMP/st-show2.out")" \
  "2000-01-01T00:00:00+00:00 1"
echo '[{"type": "STREAM"}]' >"$TMP/bad-state.json"
run st-bad "$S" state set main --file "$TMP/bad-state.json"
expect_rc state-set/bad-refused 8
expect_err state-set/bad-names-file st-bad "bad-state.json"
run st-reset "$S" state reset main --stream users
run st-show3 "$S" state show main
expect_eq state-reset/stream "$(jq length "$TMP/st-show3.out")" 0
# After a reset the next sync reads the stream again; dedup keeps one row per id.
run sync-after-reset timeout 60 "$S" connection sync main --json
expect_rc state-reset/sync 0
run job-reset "$S" job show 5 --json
expect_eq state-reset/reread "$(jq -c '[.attempts[0].streams[] | [.stream, .emitted]]' "$TMP/job-reset.out")" \
  '[["products",100],["purchases",50],["users",50]]'
expect_eq state-reset/no-duplicates "$(sql "$DB" 'select count(*) || "," || count(distinct id) from users')" "50,50"

# ---- catalog versions, diff and the schema-change policy ------------------------------------------------------
SDB=$TMP/schema.db
run sch-dst "$S" destination create sdb --connector destination-sqlite --set "destination_path=$SDB"
run sch-src "$S" source create shapes --connector "$DATA/schema-source" --set schema=1
run sch-conn "$S" connection create shapes --source shapes --destination sdb --schema-policy propagate_columns
run sch-sync1 timeout 60 "$S" connection sync shapes
expect_rc schema/first-sync 0
run sch-edit "$S" source edit shapes --set schema=2
run sch-sync2 timeout 60 "$S" connection sync shapes
expect_rc schema/non-breaking-sync 0
expect_err schema/recorded sch-sync2 "catalog version 1 -> 2): propagated_columns"
run cat-list "$S" catalog list shapes --json
expect_eq catalog/versions "$(jq -r '[.[].version] | join(",")' "$TMP/cat-list.out")" "1,2"
run cat-diff "$S" catalog diff shapes 1 2 --json
expect_eq catalog/diff "$(jq -c '{a: .streams_added, c: [.streams_changed[] | {stream, fields_added, breaking}], b: .breaking}' "$TMP/cat-diff.out")" \
  '{"a":["others"],"c":[{"stream":"things","fields_added":["color"],"breaking":false}],"b":false}'
run cat-diff-text "$S" catalog diff shapes 1 2
expect_out catalog/diff-text cat-diff-text "+ stream others"
# Columns only: the new stream is not synced, the new column is.
expect_eq schema/new-stream-kept-out "$(sql "$SDB" "select count(*) from sqlite_master where name = 'others'")" 0
expect_eq schema/columns-only-streams "$("$S" connection show shapes --json | jq -r .streams)" "things"
run cat-show "$S" catalog show shapes --version 1
expect_eq catalog/show-v1 "$(jq -r '[.streams[].name] | join(",")' "$TMP/cat-show.out")" "things"
# Breaking: with pause_on_breaking the job fails, says why, and pauses the connection.
run sch-pol "$S" connection edit shapes --schema-policy pause_on_breaking
run sch-edit3 "$S" source edit shapes --set schema=3
run sch-sync3 timeout 60 "$S" connection sync shapes --json
expect_rc schema/breaking-refused 6
expect_eq schema/breaking-job "$(jq -r '.status + " " + .failure_type' "$TMP/sch-sync3.out")" "failed config_error"
check schema/breaking-reason jq -e '.failure_reason | contains("breaking schema change") and contains("is paused")' "$TMP/sch-sync3.out"
expect_eq schema/paused "$("$S" connection show shapes --json | jq -r .status)" paused
expect_eq schema/changes-recorded "$(sql "$SLUICE_HOME/sluice.db" "select group_concat(action || ':' || breaking, ',') from schema_changes")" \
  "propagated_columns:0,paused:1"
run cat-diff3 "$S" catalog diff shapes 2 3
expect_out catalog/breaking-text cat-diff3 "! primary key removed or changed"
# A stream removed from the source leaves an explicit stream list (the sync
# would otherwise fail on a stream the source no longer has).
run sch2-src "$S" source create shapes2 --connector "$DATA/schema-source" --set schema=2
run sch2-conn "$S" connection create shapes2 --source shapes2 --destination sdb --streams things,others --schema-policy propagate_all
run sch2-sync1 timeout 60 "$S" connection sync shapes2
expect_rc schema/explicit-list-sync 0
run sch2-edit "$S" source edit shapes2 --set schema=1
run sch2-sync2 timeout 60 "$S" connection sync shapes2
expect_rc schema/removed-stream-sync 0
expect_eq schema/removed-stream-dropped "$("$S" connection show shapes2 --json | jq -r .streams)" "things"
# ignore: new streams and new fields stay out (the stream gets a field
# selection of the fields it had).
run sch3-src "$S" source create shapes3 --connector "$DATA/schema-source" --set schema=1
run sch3-dst "$S" destination create sdb3 --connector destination-sqlite --set "destination_path=$TMP/schema3.db"
run sch3-conn "$S" connection create shapes3 --source shapes3 --destination sdb3 --schema-policy ignore
run sch3-sync1 timeout 60 "$S" connection sync shapes3
run sch3-edit "$S" source edit shapes3 --set schema=2
run sch3-sync2 timeout 60 "$S" connection sync shapes3
expect_rc schema/ignore-sync 0
expect_err schema/ignore-recorded sch3-sync2 "catalog version 1 -> 2): ignored"
expect_eq schema/ignore-no-new-stream "$(sql "$TMP/schema3.db" "select count(*) from sqlite_master where name = 'others'")" 0
expect_eq schema/ignore-streams "$("$S" connection show shapes3 --json | jq -r .streams)" "things"
expect_eq schema/ignore-no-new-column "$(sql "$TMP/schema3.db" "select count(*) from pragma_table_info('things') where name = 'color'")" 0
run bad-version "$S" catalog show shapes --version 9
expect_rc catalog/missing-version 18

# ---- a locked store: a clear error after the busy timeout -----------------------------------------------
( printf 'BEGIN EXCLUSIVE;\nINSERT INTO schema_migrations VALUES (999, 0);\n.system touch %s\n.system sleep 3\nROLLBACK;\n' \
    "$TMP/locked" | sqlite3 "$SLUICE_HOME/sluice.db" >/dev/null 2>&1 ) &
LOCKER=$!
wait_for 100 test -e "$TMP/locked"
SLUICE_STORE_BUSY_MS=50 run locked "$S" connection create y --source faker --destination out
expect_rc locked/exit 16
expect_err locked/says locked "is locked by another process"
wait "$LOCKER"
run unlocked "$S" connection list
expect_rc locked/after 0

# ---- delete ---------------------------------------------------------------------------------------------
run del "$S" connection delete keyed
expect_rc delete/conn 0
run del-src "$S" source delete keyed
expect_rc delete/source 0
check delete/secret-gone bash -c "! grep -q '$SECRET' '$SLUICE_HOME/secrets.json'"

# ---- config prompts from the spec on a terminal (a pty fed by tests/e2e/pty_answer.py) ----------
PTY="/usr/bin/python3 $(dirname "$0")/pty_answer.py"
PS="$DATA/prompt-source"
printf '%s\n' db.example "" s3cret-KEY-123 3 2 pw-SECRET-456 bob y "a, b" >"$TMP/answers1"
run prompt1 $PTY "$TMP/answers1" "$TMP/prompt1.tty" -- "$S" source create asked --connector "$PS"
expect_rc prompt/exit 0
expect_eq prompt/config "$("$S" source show asked --json | jq -c '.config | [.host, .port, .region, .auth.method, .auth.user, .verbose, .tags]')" \
  '["db.example",5432,"ap","password","bob",true,["a","b"]]'
check prompt/enum-listed grep -q "2) eu (default)" "$TMP/prompt1.tty"
check prompt/oneof-listed grep -q "2) Password" "$TMP/prompt1.tty"
check prompt/default-shown grep -q "Port \[5432\]: " "$TMP/prompt1.tty"
check prompt/secret-not-echoed bash -c "! grep -q -e 's3cret-KEY-123' -e 'pw-SECRET-456' '$TMP/prompt1.tty'"
check prompt/secret-stored bash -c "grep -q 's3cret-KEY-123' '$SLUICE_HOME/secrets.json' && grep -q 'pw-SECRET-456' '$SLUICE_HOME/secrets.json'"
expect_eq prompt/secret-masked "$("$S" source show asked --json | jq -r '.config.api_key + " " + .config.auth.password')" "********** **********"
# --set fields are not asked; a wrong answer is asked again, naming the field
printf '%s\n' abc 6000 k 1 1 "" "" >"$TMP/answers2"
run prompt2 $PTY "$TMP/answers2" "$TMP/prompt2.tty" -- "$S" source create asked2 --connector "$PS" --set host=h2
expect_rc prompt/retry-exit 0
check prompt/set-not-asked bash -c "! grep -q 'Host' '$TMP/prompt2.tty'"
check prompt/wrong-type-says grep -q "/port: a whole number is expected" "$TMP/prompt2.tty"
expect_eq prompt/retry-config "$("$S" source show asked2 --json | jq -c '.config | [.host, .port, .region, .auth.method, .verbose]')" '["h2",6000,"us","none",false]'
# the input ends before the config is complete: an error naming the field, nothing stored
printf '%s\n' h3 "" >"$TMP/answers3"
run prompt3 $PTY "$TMP/answers3" "$TMP/prompt3.tty" -- "$S" source create asked3 --connector "$PS"
expect_rc prompt/eof-exit 2
check prompt/eof-names-field grep -q "the input ended at /api_key" "$TMP/prompt3.tty"
run prompt3-gone "$S" source show asked3
expect_rc prompt/eof-not-stored 18
# not a terminal: no prompts, the spec check names the missing field
run prompt4 "$S" source create asked4 --connector "$PS" --set host=h4
expect_rc prompt/no-tty nonzero
expect_err prompt/no-tty-names-field prompt4 "api_key"

finish
