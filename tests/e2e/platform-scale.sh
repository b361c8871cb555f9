#!/usr/bin/env bash
# Scale-out: three `sluice server` processes (hosts a, b, c) on loopback
# share one PostgreSQL store. Two slow connections run; the server that
# claimed the first one is killed with its job process (kill -9, a host
# going away) mid-job. After the lease (2 s here, --lease-s) runs out,
# another server takes the connection over and resumes from the committed
# state; every connection ends with its source's rows exactly once, and no
# connection ever had two jobs at once. Refresh requests in the store are
# each run once by one of the servers left. Polled with bounds, no timing
# assertions.
# usage: tests/e2e/platform-scale.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
. "$E2E_HERE/../lib/db.sh"
SERVERS=()
stop_servers() { for p in "${SERVERS[@]}"; do kill -TERM "$p" 2>/dev/null; done; for p in "${SERVERS[@]}"; do wait "$p" 2>/dev/null; done; }
trap 'stop_servers; db_stop_all; e2e_cleanup' EXIT
pg_start || { fail setup "PostgreSQL did not start"; finish; }

export SLUICE_HOME=$TMP/home
export SLUICE_STORE="postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB"
S="$BIN/sluice"
pgq() { psql -X -At -c "$1" 2>/dev/null; }
N=150

for c in one two; do
  "$S" source create "$c" --connector "$FAKE/fake-source" --set mode=slow --set count=$N --set delay=0.04 --set per_state=5 >/dev/null
  "$S" destination create "out-$c" --connector destination-sqlite --set "destination_path=$TMP/$c.db" >/dev/null
  "$S" connection create "$c" --source "$c" --destination "out-$c" >/dev/null
done
ONE=$(pgq "select id from connections where name = 'one'")
TWO=$(pgq "select id from connections where name = 'two'")
declare -A PID_OF
for h in a b c; do
  SLUICE_HOST_ID=$h "$S" server --no-api --tick-ms 100 --workers 1 --lease-s 2 2>"$TMP/server-$h.err" &
  PID_OF[$h]=$!
  SERVERS+=($!)
done
run_req() { pgq "update connections set run_requested = 1 where id in ($ONE, $TWO)" >/dev/null; }
run_req
claimed() { [ -n "$(pgq "select owner from jobs where connection_id = $ONE and status = 'running'")" ]; }
check scale/claimed wait_for 300 claimed
OWNER=$(pgq "select owner from jobs where connection_id = $ONE and status = 'running'")
FIRST=$(pgq "select id from jobs where connection_id = $ONE and status = 'running'")
HOST=${OWNER%%:*}
committed() { [ "$(pgq "select count(*) from state where connection_id = $ONE")" -ge 1 ]; }
check scale/progress wait_for 300 committed
# The taker reads in "good" mode, which resumes from a state (slow mode
# does not), so what it emits shows whether it resumed.
"$S" source edit one --set mode=good >/dev/null
JOBPID=${OWNER##*:}
echo "scale-out: job $FIRST of connection one owned by $OWNER; killing server $HOST (${PID_OF[$HOST]}) and job process $JOBPID"
kill -9 "${PID_OF[$HOST]}" "$JOBPID"
wait "${PID_OF[$HOST]}" 2>/dev/null
SERVERS=()
for h in a b c; do [ "$h" != "$HOST" ] && SERVERS+=("${PID_OF[$h]}"); done

done_ok() { [ "$(pgq "select count(*) from jobs where connection_id = $1 and status = 'succeeded'")" -ge 1 ]; }
check scale/one-taken-over wait_for 900 done_ok "$ONE"
check scale/two-done wait_for 900 done_ok "$TWO"
expect_eq scale/first-job "$(pgq "select status || ': ' || failure_reason from jobs where id = $FIRST")" \
  "failed: lease expired: its server stopped renewing it; another server took the connection over"
NEWOWNER=$(pgq "select owner from jobs where connection_id = $ONE and status = 'succeeded' order by id desc limit 1")
check scale/taken-by-another test "${NEWOWNER%%:*}" != "$HOST"
NEWJOB=$(pgq "select id from jobs where connection_id = $ONE and status = 'succeeded' order by id desc limit 1")
run resumed "$S" job show "$NEWJOB" --json
expect_eq scale/resumed "$(jq "[.attempts[-1].streams[].emitted] | add < $N" "$TMP/resumed.out")" true
for c in one two; do
  expect_eq "scale/rows-$c" "$(sql "$TMP/$c.db" 'select count(*) || "," || count(distinct id) || "," || min(id) || "," || max(id) from items')" "$N,$N,1,$N"
done
# One job per connection at a time: per connection, no job started before
# the previous one had ended (or, for the dead host's, its lease ran out).
expect_eq scale/no-overlap "$(pgq "select count(*) from jobs j1 join jobs j2 on j1.connection_id = j2.connection_id and j1.id < j2.id
  where j2.started_at < coalesce(j1.finished_at, j1.lease_until)")" 0
expect_eq scale/none-running "$(pgq "select count(*) from jobs where status = 'running'")" 0
# Refresh requests kept in the store (as the REST API writes them): the
# servers left claim each one once, run it as a job and delete it; the
# truncate refresh leaves each source's rows exactly once.
pgq "insert into requests (connection_id, verb, created_at) values ($ONE, 'refresh', 0), ($TWO, 'refresh', 0)" >/dev/null
refreshed() { [ "$(pgq "select count(*) from jobs where kind = 'refresh' and status = 'succeeded'")" -ge 2 ] && [ "$(pgq "select count(*) from requests")" = 0 ]; }
check scale/requests-run wait_for 900 refreshed
expect_eq scale/requests-once "$(pgq "select count(*) from jobs where kind = 'refresh'")" 2
for c in one two; do
  expect_eq "scale/rows-$c-refreshed" "$(sql "$TMP/$c.db" 'select count(*) || "," || count(distinct id) from items')" "$N,$N"
done
# The second round: both connections again on the two servers left; the
# sync is incremental and moves nothing new, and still nothing doubles.
run_req
round2() { [ "$(pgq "select count(*) from jobs where kind = 'sync' and status = 'succeeded'")" -ge 4 ]; }
check scale/second-round wait_for 900 round2
for c in one two; do
  expect_eq "scale/rows-$c-again" "$(sql "$TMP/$c.db" 'select count(*) || "," || count(distinct id) from items')" "$N,$N"
done
OWNERS=$(pgq "select string_agg(distinct split_part(owner, ':', 1), ',' order by split_part(owner, ':', 1)) from jobs where status = 'succeeded'")
echo "scale-out: succeeded jobs ran on hosts $OWNERS"
stop_servers
SERVERS=()
for h in a b c; do [ "$h" != "$HOST" ] && sanitizer_check "server-$h"; done
finish
