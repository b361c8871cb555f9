#!/usr/bin/env bash
# sluice server: interval schedules, syncs asked for through the REST API,
# bearer-token auth, one job per connection, and SIGTERM in the middle of a
# job (the attempt ends, the job is incomplete, the next run resumes); a
# refresh asked for during that job waits in the store, survives the
# server's stop and is run by the next server.
# usage: tests/e2e/platform-server.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

export SLUICE_HOME=$TMP/home
S="$BIN/sluice"
DB=$TMP/out.db
STORE=$SLUICE_HOME/sluice.db
TOKEN=test-token-0123456789abcdef
echo "$TOKEN" >"$TMP/token"

"$S" source create f --connector source-faker --set count=20 --set seed=5 --set always_updated=false >/dev/null
"$S" destination create out --connector destination-sqlite --set "destination_path=$DB" >/dev/null
"$S" connection create every --source f --destination out --schedule "every 1s" >/dev/null
"$S" source create g --connector source-faker --set count=30 --set seed=6 --set always_updated=false >/dev/null
"$S" destination create out2 --connector destination-sqlite --set "destination_path=$TMP/out2.db" >/dev/null
"$S" connection create byhand --source g --destination out2 >/dev/null
"$S" source create slow --connector "$FAKE/fake-source" --set mode=slow --set count=400 --set delay=0.05 --set per_state=5 >/dev/null
"$S" destination create out3 --connector destination-sqlite --set "destination_path=$TMP/out3.db" >/dev/null
"$S" connection create slow --source slow --destination out3 >/dev/null

# No token, no server (the API is never open).
SLUICE_API_TOKEN='' run notoken timeout 10 "$S" server --port 0
expect_rc server/no-token 2
expect_err server/no-token-says notoken "bearer token of at least 16 characters"

# A webhook receiver: answers 200 to everything and logs each request.
echo '[{"status": 200, "json": {}, "repeat": -1}]' >"$TMP/hook-replies.json"
python3 "$E2E_HERE/../mock/mock_http.py" --replies "$TMP/hook-replies.json" --log "$TMP/hooks.jsonl" --port-file "$TMP/hook-port" &
HOOK=$!
wait_for 100 test -s "$TMP/hook-port"

"$S" server --port 0 --port-file "$TMP/port" --token-file "$TMP/token" --tick-ms 100 --workers 2 \
  --webhook "http://127.0.0.1:$(cat "$TMP/hook-port")/hook" 2>"$TMP/server.err" &
SERVER=$!
wait_for 100 test -s "$TMP/port"
PORT=$(cat "$TMP/port")
API=http://127.0.0.1:$PORT/v1
api() { curl -s -o "$TMP/api.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$@"; }

expect_eq api/no-auth "$(curl -s -o /dev/null -w '%{http_code}' "$API/connections")" 401
expect_eq api/bad-token "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$API/connections")" 401
expect_eq api/list "$(api "$API/connections")" 200
expect_eq api/list-names "$(jq -r '[.[].name] | join(",")' "$TMP/api.out")" "byhand,every,slow"
expect_eq api/unknown "$(api "$API/nothing")" 404
expect_eq api/sources "$(api "$API/sources")" 200
expect_eq api/sources-names "$(jq -r '[.[].name] | join(",")' "$TMP/api.out")" "f,g,slow"

# The interval: at least two jobs of "every", each complete.
every_ok() { [ "$(sql "$STORE" "select count(*) from jobs j join connections c on c.id = j.connection_id where c.name = 'every' and j.status = 'succeeded'")" -ge 2 ]; }
check schedule/interval-runs wait_for 300 every_ok
expect_eq schedule/rows "$(sql "$DB" 'select count(*) from users')" 20
expect_eq schedule/manual-not-run "$(sql "$STORE" "select count(*) from jobs j join connections c on c.id = j.connection_id where c.name = 'byhand'")" 0

# A sync asked for through the API.
BYHAND=$(sql "$STORE" "select id from connections where name = 'byhand'")
expect_eq api/sync "$(api -X POST "$API/connections/$BYHAND/sync")" 202
byhand_ok() { [ "$(sql "$STORE" "select count(*) from jobs where connection_id = $BYHAND and status = 'succeeded'")" -ge 1 ]; }
check api/sync-ran wait_for 300 byhand_ok
JOB=$(sql "$STORE" "select max(id) from jobs where connection_id = $BYHAND")
expect_eq api/job "$(api "$API/jobs/$JOB")" 200
expect_eq api/job-status "$(jq -r '.status + " " + (.attempts | length | tostring)' "$TMP/api.out")" "succeeded 1"
expect_eq api/sync-rows "$(sql "$TMP/out2.db" 'select count(*) from users')" 30
expect_eq api/sync-missing "$(api -X POST "$API/connections/999/sync")" 404
expect_eq api/jobs-of "$(api "$API/jobs?connection_id=$BYHAND")" 200
expect_eq api/jobs-of-ids "$(jq -r '[.[].id] | join(",")' "$TMP/api.out")" "$JOB"

# job cancel: a slow sync run from the CLI stops and its job ends "cancelled".
"$S" source create slow2 --connector "$FAKE/fake-source" --set mode=slow --set count=400 --set delay=0.05 >/dev/null
"$S" destination create out4 --connector destination-sqlite --set "destination_path=$TMP/out4.db" >/dev/null
"$S" connection create slow2 --source slow2 --destination out4 >/dev/null
"$S" connection sync slow2 --json >"$TMP/cancel.out" 2>"$TMP/cancel.err" &
CANCELLED=$!
slow2_running() { [ -n "$(sql "$STORE" "select j.id from jobs j join connections c on c.id = j.connection_id where c.name = 'slow2' and j.status = 'running'")" ]; }
check cancel/running wait_for 300 slow2_running
CJOB=$(sql "$STORE" "select j.id from jobs j join connections c on c.id = j.connection_id where c.name = 'slow2' and j.status = 'running'")
run cancel "$S" job cancel "$CJOB"
expect_rc cancel/exit 0
wait "$CANCELLED"
expect_eq cancel/sync-exit $? 15
expect_eq cancel/status "$(jq -r '.status + ": " + .failure_reason' "$TMP/cancel.out")" "cancelled: cancelled by request (\`sluice job cancel $CJOB\`)"
expect_eq cancel/one-attempt "$(sql "$STORE" "select count(*) from attempts where job_id = $CJOB")" 1
run cancel-again "$S" job cancel "$CJOB"
expect_rc cancel/not-running 18
expect_err cancel/not-running-says cancel-again "is not running"
"$S" connection edit slow2 --status inactive >/dev/null

# SIGTERM while a job runs: the job ends its attempt and is incomplete.
SLOW=$(sql "$STORE" "select id from connections where name = 'slow'")
api -X POST "$API/connections/$SLOW/sync" >/dev/null
slow_committed() { [ "$(sql "$STORE" "select count(*) from state where connection_id = $SLOW")" -ge 1 ] ||
  [ -n "$(sql "$TMP/out3.db" 'select 1 from items limit 1')" ]; }
check sigterm/job-started wait_for 300 slow_committed
# A refresh asked for while the job runs waits in the store (not started,
# not claimed) and outlives the server.
expect_eq request/accepted "$(api -X POST -H 'Content-Type: application/json' --data-binary '{"mode":"merge"}' "$API/connections/$SLOW/refresh")" 202
REQ=$(jq .request "$TMP/api.out")
expect_eq request/waits "$(sql "$STORE" "select verb || ':' || mode || ':' || coalesce(claimed_by, '-') from requests where id = $REQ")" "refresh:merge:-"
# The CLI's --queue makes the same kind of request (a second refresh, after the first).
run qcli "$S" connection refresh slow --streams items --queue --json
expect_eq request/cli-queued "$(jq -r '.kind + " " + (.queued | tostring)' "$TMP/qcli.out")" "refresh true"
run qbad "$S" connection sync slow --queue
expect_err request/cli-queue-sync qbad "--queue is for refresh and clear"
kill -TERM "$SERVER"
server_gone() { ! kill -0 "$SERVER" 2>/dev/null; }
check sigterm/server-exits wait_for 300 server_gone
wait "$SERVER"
expect_eq sigterm/server-exit-code $? 0
expect_eq sigterm/job-incomplete "$(sql "$STORE" "select status from jobs where connection_id = $SLOW order by id desc limit 1")" incomplete
check sigterm/no-children bash -c "! pgrep -f '[f]ake-source read --config $SLUICE_HOME'"
rows_before=$(sql "$TMP/out3.db" 'select count(*) from items')
check sigterm/partial test "$rows_before" -lt 400
# The next run resumes from the committed state and completes.
"$S" source edit slow --set delay=0 >/dev/null
run resume timeout 60 "$S" connection sync slow --json
expect_rc sigterm/resume 0
expect_eq sigterm/all-rows "$(sql "$TMP/out3.db" 'select count(*) || "," || count(distinct id) from items')" "400,400"
check sigterm/server-log grep -q "stopped" "$TMP/server.err"
expect_eq request/survives-stop "$(sql "$STORE" "select count(*) from requests where claimed_by is null")" 2
expect_eq request/not-run-yet "$(sql "$STORE" "select count(*) from jobs where connection_id = $SLOW and kind = 'refresh'")" 0
# A new server takes it over from the store and runs it after the jobs before it.
LAST=$(sql "$STORE" "select max(id) from jobs where connection_id = $SLOW")
"$S" server --port 0 --port-file "$TMP/port2" --token-file "$TMP/token" --tick-ms 100 --workers 2 2>"$TMP/server2.err" &
SERVER2=$!
refresh_done() { [ "$(sql "$STORE" "select group_concat(status) from jobs where connection_id = $SLOW and kind = 'refresh'")" = succeeded,succeeded ]; }
check request/run-after-restart wait_for 300 refresh_done
request_gone() { [ "$(sql "$STORE" "select count(*) from requests")" = 0 ]; }
check request/deleted wait_for 100 request_gone
expect_eq request/after-earlier-jobs "$(sql "$STORE" "select count(*) from jobs where connection_id = $SLOW and kind = 'refresh' and id > $LAST")" 2
expect_eq request/merge-generation "$(sql "$STORE" "select stream || ':' || generation || ':' || coalesce(pending, '-') from generations where connection_id = $SLOW")" "items:2:-"
kill -TERM "$SERVER2"
wait "$SERVER2"
expect_eq request/server2-exit $? 0

# Webhooks: one POST per finished job, with the outcome and per-stream stats.
kill "$HOOK"
wait "$HOOK" 2>/dev/null
hooks() { jq -c --arg c "$1" 'select(.path == "/hook") | .body | fromjson | select(.connection == $c)' "$TMP/hooks.jsonl"; }
expect_eq webhook/byhand "$(hooks byhand | head -1 | jq -c '[.event, .status, .attempts, ([.streams[] | [.stream, .committed]])]')" \
  '["job.succeeded","succeeded",1,[["products",100],["purchases",30],["users",30]]]'
expect_eq webhook/slow-incomplete "$(hooks slow | tail -1 | jq -r .event)" job.incomplete
check webhook/every-each-job test "$(hooks every | wc -l)" -ge 2
check server/no-sanitizer-report bash -c "! grep -q 'Sanitizer' '$TMP/server.err' '$TMP/server2.err'"
sed "s/^/     | /" "$TMP/server.err" "$TMP/server2.err"
finish
