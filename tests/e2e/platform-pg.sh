#!/usr/bin/env bash
# The workspace store on PostgreSQL (--store postgresql://...): the same
# migrations and commands as on SQLite, a sync as a job, state, catalogs,
# a concurrent edit refused, an unreachable store, and the server's API.
# usage: tests/e2e/platform-pg.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
. "$E2E_HERE/../lib/db.sh"
trap 'db_stop_all; e2e_cleanup' EXIT
pg_start || { fail setup "PostgreSQL did not start"; finish; }

export SLUICE_HOME=$TMP/home
URL="postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB"
S="$BIN/sluice"
DB=$TMP/out.db
DATA=$(cd "$(dirname "$0")/../data/platform" && pwd)
pgq() { psql -X -At -c "$1" 2>/dev/null; }

run src "$S" source create faker --store "$URL" --connector source-faker --set count=40 --set seed=9 --set always_updated=false
expect_rc pg/source-create 0
expect_eq pg/migrations "$(pgq 'select string_agg(version::text, $$,$$ order by version) from schema_migrations')" "1,2,3,4,5"
# SLUICE_STORE is the default for --store.
export SLUICE_STORE=$URL
run dst "$S" destination create out --connector destination-sqlite --set "destination_path=$DB"
run dup "$S" source create faker --connector source-faker --set count=1
expect_rc pg/duplicate 6
expect_err pg/duplicate-says dup 'a source named "faker" exists already'
run conn "$S" connection create main --source faker --destination out --schedule "*/5 * * * *"
expect_rc pg/connection-create 0
run list "$S" connection list --json
expect_eq pg/list "$(jq -r '.[0] | [.name, .source, .destination, .schedule] | join(" ")' "$TMP/list.out")" "main faker out */5 * * * *"
run edit "$S" connection edit main --schema-policy ignore --expect-version 1
run stale "$S" connection edit main --schema-policy propagate_all --expect-version 1
expect_rc pg/stale-edit 6
expect_err pg/stale-says stale "changed by someone else"

run sync1 timeout 60 "$S" connection sync main --json
expect_rc pg/sync 0
expect_eq pg/rows "$(sql "$DB" 'select count(*) || "," || count(distinct id) from users')" "40,40"
run show "$S" job show 1 --json
expect_eq pg/stats "$(jq -c '[.attempts[0].streams[] | [.stream, .emitted, .committed]]' "$TMP/show.out")" \
  '[["products",100,100],["purchases",40,40],["users",40,40]]'
run sync2 timeout 60 "$S" connection sync main --json
run show2 "$S" job show 2 --json
expect_eq pg/incremental "$(jq '[.attempts[0].streams[].emitted] | add' "$TMP/show2.out")" 0
run jobs "$S" job list --connection main --json
expect_eq pg/job-list "$(jq -r '[.[].status] | join(",")' "$TMP/jobs.out")" "succeeded,succeeded"
run st "$S" state show main
expect_eq pg/state "$(jq -r '[.[].stream.stream_descriptor.name] | sort | join(",")' "$TMP/st.out")" "products,purchases,users"
run disc "$S" source discover faker --json
run cat "$S" catalog list faker --json
expect_eq pg/catalog-versions "$(jq -r '[.[].version] | join(",")' "$TMP/cat.out")" "1"
# Secrets stay out of PostgreSQL too.
run sec "$S" source create keyed --connector "$DATA/secret-source" --set api_key=pg-secret-value-42
expect_eq pg/secret-not-in-db "$(pgq "select count(*) from actors where config like '%pg-secret-value-42%'")" 0

# The API reads the same store.
echo "pg-test-token-0123456789" >"$TMP/token"
"$S" server --port 0 --port-file "$TMP/port" --token-file "$TMP/token" --tick-ms 100 2>"$TMP/server.err" &
SERVER=$!
wait_for 100 test -s "$TMP/port"
code=$(curl -s -o "$TMP/api.out" -w '%{http_code}' -H "Authorization: Bearer pg-test-token-0123456789" \
  "http://127.0.0.1:$(cat "$TMP/port")/v1/jobs?connection_id=1")
expect_eq pg/api-jobs "$code $(jq -r '[.[].id] | join(",")' "$TMP/api.out")" "200 2,1"
kill -TERM "$SERVER"
wait "$SERVER"
expect_eq pg/server-stops $? 0

# Scale-out: two servers ("hosts" a and b) share the store; server a runs a
# slow job and dies with it (kill -9); after the lease (2 s here) runs out,
# server b takes the connection over and finishes from the committed state.
export SLUICE_LEASE_S=2
"$S" source create slow --connector "$FAKE/fake-source" --set mode=slow --set count=120 --set delay=0.05 --set per_state=5 >/dev/null
"$S" destination create out3 --connector destination-sqlite --set "destination_path=$TMP/out3.db" >/dev/null
"$S" connection create slow --source slow --destination out3 >/dev/null
SLOW=$(pgq "select id from connections where name = 'slow'")
SLUICE_HOST_ID=a "$S" server --no-api --tick-ms 100 2>"$TMP/server-a.err" &
SA=$!
SLUICE_HOST_ID=b "$S" server --no-api --tick-ms 100 --workers 1 2>"$TMP/server-b.err" &
SB=$!
pgq "update connections set run_requested = 1 where id = $SLOW" >/dev/null
# Whichever server claimed it plays "a" (the one to die).
claimed() { [ -n "$(pgq "select owner from jobs where connection_id = $SLOW and status = 'running'")" ]; }
check scaleout/claimed wait_for 300 claimed
OWNER=$(pgq "select owner from jobs where connection_id = $SLOW and status = 'running'")
FIRST=$(pgq "select id from jobs where connection_id = $SLOW and status = 'running'")
case $OWNER in a:*) DIE=$SA LIVE=$SB ;; *) DIE=$SB LIVE=$SA ;; esac
expect_eq scaleout/one-job "$(pgq "select count(*) from jobs where connection_id = $SLOW")" 1
committed() { [ "$(pgq "select count(*) from state where connection_id = $SLOW")" -ge 1 ]; }
check scaleout/progress wait_for 300 committed
# The running attempt keeps the config it started with; the taker's will
# read in "good" mode, which resumes from a state (fake-source's slow mode
# does not), so what it emits shows whether it resumed.
"$S" source edit slow --set mode=good >/dev/null
# kill -9 the server and its job process (a host going away).
JOBPID=${OWNER##*:}
echo "scale-out: job $FIRST owned by $OWNER; killing server $DIE and job process $JOBPID"
kill -9 "$DIE" "$JOBPID"
wait "$DIE" 2>/dev/null
taken_over() { [ "$(pgq "select count(*) from jobs where connection_id = $SLOW and status = 'succeeded'")" -ge 1 ]; }
check scaleout/taken-over wait_for 600 taken_over
expect_eq scaleout/first-job "$(pgq "select status || ': ' || failure_reason from jobs where id = $FIRST")" \
  "failed: lease expired: its server stopped renewing it; another server took the connection over"
NEWOWNER=$(pgq "select owner from jobs where connection_id = $SLOW and status = 'succeeded' order by id desc limit 1")
check scaleout/other-server test "${NEWOWNER%%:*}" != "${OWNER%%:*}"
expect_eq scaleout/rows "$(sql "$TMP/out3.db" 'select count(*) || "," || count(distinct id) from items')" "120,120"
# The taker resumed: it did not read the whole source again.
NEWJOB=$(pgq "select id from jobs where connection_id = $SLOW and status = 'succeeded' order by id desc limit 1")
run resumed "$S" job show "$NEWJOB" --json
check scaleout/resumed jq -e '[.attempts[-1].streams[].emitted] | add < 120' "$TMP/resumed.out"
kill -TERM "$LIVE"
wait "$LIVE"
expect_eq scaleout/survivor-stops $? 0
unset SLUICE_LEASE_S
check scaleout/no-sanitizer-report bash -c "! grep -q 'Sanitizer' '$TMP/server.err' '$TMP/server-a.err' '$TMP/server-b.err'"

# An unreachable store: a clear, transient error that does not show the password.
pg_stop
run down "$S" connection list
expect_rc pg/unreachable 16
expect_err pg/unreachable-says down "cannot reach the PostgreSQL store"
check pg/no-password-shown bash -c "! grep -q '$PG_PASSWORD' '$TMP/down.err'"
finish
