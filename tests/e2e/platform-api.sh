#!/usr/bin/env bash
# The REST API's write operations, mirroring the CLI: sources, destinations
# and connections created, shown, edited and deleted (configs validated
# against the connector's spec, secrets masked in every reply), check,
# discover, catalog versions and diffs, connection sync and state, job
# cancel, JSON errors with a code, and two edits of one connection or one
# source at once (one wins, the other gets 409; If-Match too).
# usage: tests/e2e/platform-api.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

export SLUICE_HOME=$TMP/home
S="$BIN/sluice"
STORE=$SLUICE_HOME/sluice.db
DATA=$(cd "$(dirname "$0")/../data/platform" && pwd)
TOKEN=api-token-0123456789abcdef
echo "$TOKEN" >"$TMP/token"
SECRET=key-very-secret-4711
# A webhook receiver (answers 200, logs each request); stopped later to
# show a receiver that is down only costs a logged line.
echo '[{"status": 200, "json": {}, "repeat": -1}]' >"$TMP/hook-replies.json"
python3 "$E2E_HERE/../mock/mock_http.py" --replies "$TMP/hook-replies.json" --log "$TMP/hooks.jsonl" --port-file "$TMP/hook-port" >/dev/null &
HOOK=$!
wait_for 100 test -s "$TMP/hook-port"
"$S" server --port 0 --port-file "$TMP/port" --token-file "$TMP/token" --tick-ms 100 --workers 2 --max-attempts 1 \
  --webhook "http://127.0.0.1:$(cat "$TMP/hook-port")/hook" 2>"$TMP/server.err" &
SERVER=$!
wait_for 100 test -s "$TMP/port"
API=http://127.0.0.1:$(cat "$TMP/port")/v1
# api METHOD PATH [BODY]: prints the status; the body goes to $TMP/api.out
# and, for the secrets check at the end, to $TMP/all-replies.
api() {
  local m=$1 p=$2
  shift 2
  local code
  code=$(curl -s -o "$TMP/api.out" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN" \
    ${1+-H 'Content-Type: application/json' --data-binary "$1"} "$API$p")
  cat "$TMP/api.out" >>"$TMP/all-replies"
  echo >>"$TMP/all-replies"
  echo "$code"
}
out() { jq -r "$1" "$TMP/api.out"; }
errc() { jq -r '.error.code + ": " + .error.message' "$TMP/api.out"; }

# Auth on writes too; errors are JSON with a code and a message.
expect_eq api/no-token "$(curl -s -o "$TMP/e.out" -w '%{http_code}' -X POST -d '{}' "$API/sources")" 401
expect_eq api/no-token-body "$(jq -r .error.code "$TMP/e.out")" unauthorized
expect_eq api/bad-json "$(api POST /sources '{"name": ')" 400
expect_eq api/bad-json-code "$(out .error.code)" invalid_json
expect_eq api/not-object "$(api POST /sources '[1]')" 400
expect_eq api/unknown-field "$(api POST /sources '{"name":"x","connector":"source-faker","colour":"red"}')" 400
expect_eq api/unknown-field-says "$(errc)" 'invalid_input: unknown field "colour" in the request body'
expect_eq api/method "$(api PUT /sources)" 405

# Sources: a config failing the spec is refused, naming the field.
expect_eq source/bad-config "$(api POST /sources '{"name":"f","connector":"source-faker","config":{"count":"many"}}')" 400
check source/bad-config-names-field grep -q '/count' "$TMP/api.out"
expect_eq source/unknown-connector "$(api POST /sources '{"name":"f","connector":"source-nothing-such"}')" 400
check source/unknown-connector-says grep -q 'source-nothing-such' "$TMP/api.out"
expect_eq source/no-name "$(api POST /sources '{"connector":"source-faker"}')" 400
expect_eq source/create "$(api POST /sources '{"name":"f","connector":"source-faker","config":{"count":25,"seed":3,"always_updated":false}}')" 201
F=$(out .id)
expect_eq source/create-reply "$(out '[.name, .kind, .connector, .config.count] | map(tostring) | join(" ")')" "f source source-faker 25"
expect_eq source/duplicate "$(api POST /sources '{"name":"f","connector":"source-faker"}')" 409
expect_eq source/duplicate-says "$(errc)" 'conflict: a source named "f" exists already'
expect_eq source/list "$(api GET /sources)" 200
expect_eq source/list-names "$(out '[.[].name] | join(",")')" f

# Secrets: masked in replies (create, show, edit), kept across an edit that
# sends the masked value back, masked in a validation error that quotes it.
expect_eq secret/bad "$(api POST /sources "{\"name\":\"k\",\"connector\":\"$DATA/pattern-secret-source\",\"config\":{\"api_key\":\"wrong-$SECRET\"}}")" 400
check secret/bad-names-field grep -q '/api_key' "$TMP/api.out"
check secret/bad-masked grep -q '<secret> does not match pattern' "$TMP/api.out"
expect_eq secret/create "$(api POST /sources "{\"name\":\"k\",\"connector\":\"$DATA/pattern-secret-source\",\"config\":{\"api_key\":\"$SECRET\"}}")" 201
K=$(out .id)
expect_eq secret/create-masked "$(out '.config.api_key + " " + .config.region')" "********** eu"
expect_eq secret/show "$(api GET "/sources/$K")" 200
expect_eq secret/show-masked "$(out .config.api_key)" "**********"
UPDATED=$(out .updated_at)
expect_eq secret/edit "$(api PATCH "/sources/$K" "{\"config\":{\"api_key\":\"**********\",\"region\":\"us\"},\"updated_at\":$UPDATED}")" 200
expect_eq secret/edit-reply "$(out '.config.api_key + " " + .config.region')" "********** us"
expect_eq secret/kept "$(jq -r --arg k "source:$K" '.[$k]["/api_key"]' "$SLUICE_HOME/secrets.json")" "$SECRET"
expect_eq secret/not-in-store "$(sql "$STORE" "select count(*) from actors where config like '%$SECRET%'")" 0
expect_eq secret/stale-edit "$(api PATCH "/sources/$K" "{\"config\":{\"region\":\"eu\"},\"updated_at\":$UPDATED}")" 409
expect_eq secret/stale-edit-code "$(out .error.code)" conflict
expect_eq secret/rename "$(api PATCH "/sources/$K" '{"name":"keyed"}')" 200
expect_eq secret/rename-reply "$(out '.name + " " + .config.region')" "keyed us"

# check and discover run the connector; catalogs are versioned.
expect_eq secret/check "$(api POST "/sources/$K/check")" 200
expect_eq secret/check-mask "$(out '.status + " " + (.message // "")')" "SUCCEEDED "
expect_eq source/check "$(api POST "/sources/$F/check")" 200
expect_eq source/check-status "$(out .status)" SUCCEEDED
expect_eq source/discover "$(api POST "/sources/$F/discover")" 200
expect_eq source/discover-reply "$(out '[.version, .changed, (.catalog.streams | length)] | map(tostring) | join(" ")')" "1 true 3"
expect_eq source/discover-again "$(api POST "/sources/$F/discover")" 200
expect_eq source/discover-unchanged "$(out '[.version, .changed] | map(tostring) | join(" ")')" "1 false"
expect_eq catalog/list "$(api GET "/sources/$F/catalogs")" 200
expect_eq catalog/list-versions "$(out '[.[].version] | join(",")')" 1
expect_eq catalog/show "$(api GET "/sources/$F/catalogs/1")" 200
expect_eq catalog/show-streams "$(out '[.catalog.streams[].name] | sort | join(",")')" "products,purchases,users"
expect_eq catalog/latest "$(api GET "/sources/$F/catalogs/latest")" 200
expect_eq catalog/latest-version "$(out .version)" 1
expect_eq catalog/diff "$(api GET "/sources/$F/catalogs/diff?from=1&to=1")" 200
expect_eq catalog/diff-reply "$(out '[.breaking, (.streams_added | length)] | map(tostring) | join(" ")')" "false 0"
expect_eq catalog/missing "$(api GET "/sources/$F/catalogs/7")" 404
expect_eq catalog/bad-version "$(api GET "/sources/$F/catalogs/x")" 400
expect_eq catalog/diff-needs-versions "$(api GET "/sources/$F/catalogs/diff")" 400

# Destinations.
expect_eq dest/create "$(api POST /destinations "{\"name\":\"out\",\"connector\":\"destination-sqlite\",\"config\":{\"destination_path\":\"$TMP/out.db\"}}")" 201
D=$(out .id)
expect_eq dest/check "$(api POST "/destinations/$D/check")" 200
expect_eq dest/no-discover "$(api POST "/destinations/$D/discover")" 404

# Connections: bad schedule and unknown source refused, naming them.
expect_eq conn/bad-schedule "$(api POST /connections "{\"name\":\"c\",\"source\":\"f\",\"destination\":$D,\"schedule\":\"61 * * * *\"}")" 400
check conn/bad-schedule-says grep -q 'minute 61 out of range' "$TMP/api.out"
expect_eq conn/bad-policy "$(api POST /connections '{"name":"c","source":"f","destination":"out","schema_policy":"sometimes"}')" 400
expect_eq conn/unknown-source "$(api POST /connections '{"name":"c","source":"nope","destination":"out"}')" 400
check conn/unknown-source-says grep -q 'field \\"source\\": no source named \\"nope\\"' "$TMP/api.out"
expect_eq conn/missing-dest "$(api POST /connections '{"name":"c","source":"f"}')" 400
expect_eq conn/create "$(api POST /connections "{\"name\":\"c\",\"source\":$F,\"destination\":\"out\",\"streams\":[\"users\",\"purchases\"]}")" 201
C=$(out .id)
expect_eq conn/create-reply "$(out '[.name, .source, .destination, .streams, .schedule, .schema_policy, .status, .version] | map(tostring) | join(" ")')" \
  "c f out users,purchases manual propagate_columns active 1"
expect_eq conn/duplicate "$(api POST /connections '{"name":"c","source":"f","destination":"out"}')" 409
expect_eq conn/show "$(api GET "/connections/$C")" 200
expect_eq conn/missing "$(api GET /connections/999)" 404

# two_edits PATH BODY1 BODY2: two PATCHes sent at once; sets CODES (the two
# statuses, sorted), WINNER and LOSER (1 or 2; replies in $TMP/edit-N.out).
two_edits() {
  local pids=() i
  for i in 1 2; do
    curl -s -o "$TMP/edit-$i.out" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOKEN" \
      --data-binary "$([ "$i" = 1 ] && echo "$2" || echo "$3")" "$API$1" >"$TMP/edit-$i.code" &
    pids+=($!)
  done
  wait "${pids[@]}"
  CODES=$( (cat "$TMP/edit-1.code"; echo; cat "$TMP/edit-2.code"; echo) | sort | tr '\n' ' ')
  WINNER=1 LOSER=2
  if [ "$(cat "$TMP/edit-2.code")" = 200 ]; then WINNER=2 LOSER=1; fi
}
# Two edits of one connection at once, both made from version 1: exactly
# one applies, the other is refused with 409 and changes nothing.
two_edits "/connections/$C" '{"schedule":"every 1h","version":1}' '{"schedule":"every 2h","version":1}'
expect_eq conn/concurrent-edits "$CODES" "200 409 "
expect_eq conn/winner-applied "$(sql "$STORE" "select schedule || ' ' || version from connections where id = $C")" "every ${WINNER}h 2"
check conn/loser-says grep -q 'changed by someone else' "$TMP/edit-$LOSER.out"
expect_eq conn/if-match-stale "$(curl -s -o "$TMP/api.out" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOKEN" -H 'If-Match: "1"' \
  --data-binary '{"schedule":"every 5h"}' "$API/connections/$C")" 409
check conn/if-match-says grep -q 'changed by someone else' "$TMP/api.out"

# The same for a source: two edits from one version at once, exactly one
# applies; a stale If-Match is refused with 409 saying what to do.
expect_eq src-cas/show "$(api GET "/sources/$K")" 200
KV=$(out .version)
etag() { curl -s -D - -o /dev/null -H "Authorization: Bearer $TOKEN" "$API$1" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: //p'; }
expect_eq src-cas/etag "$(etag "/sources/$K")" "\"$KV\""
expect_eq conn-cas/etag "$(etag "/connections/$C")" "\"$(sql "$STORE" "select version from connections where id = $C")\""
REG=(- eu us)
two_edits "/sources/$K" "{\"config\":{\"api_key\":\"**********\",\"region\":\"eu\"},\"version\":$KV}" \
  "{\"config\":{\"api_key\":\"**********\",\"region\":\"us\"},\"version\":$KV}"
expect_eq src-cas/concurrent-edits "$CODES" "200 409 "
expect_eq src-cas/winner-applied "$(sql "$STORE" "select json_extract(config, '$.region') || ' ' || version from actors where id = $K")" "${REG[$WINNER]} $((KV + 1))"
expect_eq src-cas/loser-says "$(jq -r '.error.code + ": " + .error.message' "$TMP/edit-$LOSER.out")" \
  "conflict: source \"keyed\" was changed by someone else since version $KV (it is now at version $((KV + 1))); show it again and repeat the edit from version $((KV + 1))"
expect_eq src-cas/secret-kept "$(jq -r --arg k "source:$K" '.[$k]["/api_key"]' "$SLUICE_HOME/secrets.json")" "$SECRET"
expect_eq src-cas/if-match-stale "$(curl -s -o "$TMP/api.out" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOKEN" -H "If-Match: \"$KV\"" \
  --data-binary '{"config":{"api_key":"**********","region":"eu"}}' "$API/sources/$K")" 409
check src-cas/if-match-says grep -q 'repeat the edit from version' "$TMP/api.out"
expect_eq src-cas/if-match-ok "$(curl -s -o "$TMP/api.out" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOKEN" -H "If-Match: \"$((KV + 1))\"" \
  --data-binary '{"config":{"api_key":"**********","region":"us"}}' "$API/sources/$K")" 200
expect_eq src-cas/if-match-applied "$(jq -r '.config.region + " " + (.version | tostring)' "$TMP/api.out")" "us $((KV + 2))"
expect_eq src-cas/if-match-bad "$(curl -s -o "$TMP/api.out" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $TOKEN" -H "If-Match: yesterday" \
  --data-binary '{"config":{"region":"eu"}}' "$API/sources/$K")" 400
expect_eq conn/edit "$(api PATCH "/connections/$C" '{"schedule":"manual","streams":["users"],"version":2}')" 200
expect_eq conn/edit-reply "$(out '[.schedule, .streams, .version] | map(tostring) | join(" ")')" "manual users 3"
expect_eq conn/edit-no-version "$(api PATCH "/connections/$C" '{"stream_prefix":"x_"}')" 200
expect_eq conn/edit-no-version-reply "$(out '[.stream_prefix, .version] | map(tostring) | join(" ")')" "x_ 4"
expect_eq conn/edit-clear "$(api PATCH "/connections/$C" '{"stream_prefix":null,"version":4}')" 200
expect_eq conn/edit-cleared "$(out '.stream_prefix')" null
expect_eq conn/edit-bad-status "$(api PATCH "/connections/$C" '{"status":"sleepy"}')" 400
expect_eq conn/edit-bad-version "$(api PATCH "/connections/$C" '{"version":"5"}')" 400

# A store locked by another process past the busy timeout (5 s): 503
# "unavailable" naming the lock; nothing changed; then it works again.
python3 - "$STORE" "$TMP/locked" "$TMP/unlock" <<'PY' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
for _ in range(1200):  # until the test says so (at most 2 minutes)
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
c.execute("ROLLBACK")
PY
LOCKER=$!
wait_for 100 test -e "$TMP/locked"
expect_eq store/locked "$(api PATCH "/connections/$C" '{"stream_prefix":"y_"}')" 503
expect_eq store/locked-code "$(out .error.code)" unavailable
check store/locked-says grep -q "locked by another process" "$TMP/api.out"
touch "$TMP/unlock"
wait "$LOCKER"
expect_eq store/unlocked "$(api GET "/connections/$C")" 200
expect_eq store/unchanged "$(out '[.stream_prefix, .version] | map(tostring) | join(" ")')" "null 5"

# A sync through the API, then its job and the connection's state.
expect_eq sync/queued "$(api POST "/connections/$C/sync")" 202
synced() { [ "$(sql "$STORE" "select count(*) from jobs where connection_id = $C and status = 'succeeded'")" -ge 1 ]; }
check sync/ran wait_for 300 synced
JOB=$(sql "$STORE" "select max(id) from jobs where connection_id = $C")
expect_eq job/show "$(api GET "/jobs/$JOB")" 200
expect_eq job/show-streams "$(out '[.status, (.attempts[0].streams | map(.stream + "=" + (.committed | tostring)) | join(","))] | join(" ")')" \
  "succeeded users=25"
expect_eq job/logs "$(api GET "/jobs/$JOB/logs?attempt=1")" 200
expect_eq job/logs-summary "$(out '[.[0].attempt, (.[0].lines | map(select(contains("outcome: succeeded"))) | length)] | map(tostring) | join(" ")')" "1 1"
expect_eq job/logs-bad-attempt "$(api GET "/jobs/$JOB/logs?attempt=x")" 400
expect_eq job/logs-no-attempt "$(api GET "/jobs/$JOB/logs?attempt=7")" 404
expect_eq job/logs-no-job "$(api GET "/jobs/999999/logs")" 404
expect_eq sync/rows "$(sql "$TMP/out.db" 'select count(*) from users')" 25
expect_eq state/show "$(api GET "/connections/$C/state")" 200
expect_eq state/streams "$(out '[.[].stream.stream_descriptor.name] | join(",")')" users
expect_eq state/bad "$(api PUT "/connections/$C/state" '[{"type":"STREAM","stream":{}}]')" 400
check state/bad-says grep -q 'request body' "$TMP/api.out"
expect_eq state/set "$(api PUT "/connections/$C/state" '[{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"updated_at":"2000-01-01"}}}]')" 200
expect_eq state/set-stored "$(out '.[0].stream.stream_state.updated_at')" 2000-01-01
expect_eq state/reset-stream "$(api DELETE "/connections/$C/state?stream=users")" 200
expect_eq state/after-reset "$(api GET "/connections/$C/state")" 200
expect_eq state/empty "$(out length)" 0

# Refresh and clear: queued, run by the server as jobs of those kinds.
expect_eq refresh/bad-mode "$(api POST "/connections/$C/refresh" '{"mode":"sideways"}')" 400
expect_eq refresh/bad-streams "$(api POST "/connections/$C/refresh" '{"streams":"users"}')" 400
expect_eq clear/no-mode "$(api POST "/connections/$C/clear" '{"mode":"merge"}')" 400
expect_eq refresh/missing "$(api POST /connections/999/refresh)" 404
expect_eq refresh/queued "$(api POST "/connections/$C/refresh" '{"streams":["users"],"mode":"truncate"}')" 202
expect_eq refresh/reply "$(out '[.kind, .queued] | map(tostring) | join(" ")')" "refresh true"
kind_done() { [ "$(sql "$STORE" "select count(*) from jobs where connection_id = $C and kind = '$1' and status = 'succeeded'")" -ge 1 ]; }
check refresh/ran wait_for 300 kind_done refresh
expect_eq refresh/rows "$(sql "$TMP/out.db" 'select count(*) || "," || count(distinct id) from users')" "25,25"
expect_eq clear/queued "$(api POST "/connections/$C/clear" '{"streams":["users"]}')" 202
check clear/ran wait_for 300 kind_done clear
expect_eq clear/rows "$(sql "$TMP/out.db" 'select count(*) from users')" 0
expect_eq clear/state "$(api GET "/connections/$C/state")" 200
expect_eq clear/state-empty "$(out length)" 0
# An inactive connection is not run: asking is a 409 saying how to activate it.
expect_eq inactive/patch "$(api PATCH "/connections/$C" '{"status":"inactive"}')" 200
expect_eq inactive/sync "$(api POST "/connections/$C/sync")" 409
expect_eq inactive/says "$(errc)" "conflict: connection \"c\" is inactive; PATCH it with {\"status\": \"active\"} to run it"
expect_eq inactive/refresh "$(api POST "/connections/$C/refresh")" 409
expect_eq inactive/no-request "$(sql "$STORE" "select count(*) from requests")" 0
expect_eq inactive/reactivate "$(api PATCH "/connections/$C" '{"status":"active"}')" 200

# Job cancel: a job that is not running is refused (409), an unknown one is
# 404, a running one ends "cancelled".
expect_eq cancel/not-running "$(api POST "/jobs/$JOB/cancel")" 409
expect_eq cancel/not-running-code "$(out .error.code)" not_running
expect_eq cancel/unknown "$(api POST /jobs/999/cancel)" 404
expect_eq slow/source "$(api POST /sources "{\"name\":\"slow\",\"connector\":\"$FAKE/fake-source\",\"config\":{\"mode\":\"slow\",\"count\":400,\"delay\":0.05}}")" 201
expect_eq slow/conn "$(api POST /connections '{"name":"slow","source":"slow","destination":"out"}')" 201
SLOWC=$(out .id)
expect_eq slow/sync "$(api POST "/connections/$SLOWC/sync")" 202
slow_running() { [ -n "$(sql "$STORE" "select id from jobs where connection_id = $SLOWC and status = 'running'")" ]; }
check cancel/running wait_for 300 slow_running
SJOB=$(sql "$STORE" "select id from jobs where connection_id = $SLOWC and status = 'running'")
expect_eq state/running-refused "$(api DELETE "/connections/$SLOWC/state")" 409
expect_eq cancel/accepted "$(api POST "/jobs/$SJOB/cancel")" 202
cancelled() { [ "$(sql "$STORE" "select status from jobs where id = $SJOB")" = cancelled ]; }
check cancel/cancelled wait_for 300 cancelled
expect_eq state/running-refused-later "$(api DELETE "/connections/$SLOWC/state")" 200

# Webhooks: a failed job sends job.failed with its failure; with the
# receiver down, the next job still runs and the server logs the miss.
expect_eq hook/source "$(api POST /sources "{\"name\":\"crashy\",\"connector\":\"$FAKE/fake-source\",\"config\":{\"mode\":\"crash\",\"count\":5}}")" 201
expect_eq hook/conn "$(api POST /connections '{"name":"crashy","source":"crashy","destination":"out"}')" 201
CRASHY=$(out .id)
expect_eq hook/sync "$(api POST "/connections/$CRASHY/sync")" 202
crashy_hook() { jq -e 'select(.path == "/hook") | .body | fromjson | select(.connection == "crashy")' "$TMP/hooks.jsonl" >/dev/null 2>&1; }
check hook/failed-sent wait_for 300 crashy_hook
expect_eq hook/failed-event "$(jq -r 'select(.path == "/hook") | .body | fromjson | select(.connection == "crashy") |
  [.event, .status, .failure_type, (.failure_reason | length > 0), .attempts] | map(tostring) | join(" ")' "$TMP/hooks.jsonl")" \
  "job.failed failed system_error true 1"
kill "$HOOK"
wait "$HOOK" 2>/dev/null
expect_eq hook/sync-again "$(api POST "/connections/$CRASHY/sync")" 202
missed() { grep -q "webhook for job" "$TMP/server.err"; }
check hook/receiver-down-logged wait_for 300 missed
expect_eq hook/server-still-answers "$(api GET /connections/$CRASHY)" 200
expect_eq hook/jobs "$(sql "$STORE" "select count(*) from jobs where connection_id = $CRASHY and status = 'failed'")" 2
expect_eq hook/delete "$(api DELETE "/connections/$CRASHY")" 200

# Deletes: a source in use is refused (409); after its connections go, it goes.
expect_eq delete/in-use "$(api DELETE "/sources/$F")" 409
check delete/in-use-says grep -q 'is used by connection' "$TMP/api.out"
expect_eq delete/conn "$(api DELETE "/connections/$C")" 200
expect_eq delete/conn-gone "$(api GET "/connections/$C")" 404
expect_eq delete/source "$(api DELETE "/sources/$F")" 200
expect_eq delete/source-gone "$(api GET "/sources/$F")" 404
expect_eq delete/secret-source "$(api DELETE "/sources/$K")" 200
expect_eq delete/secret-gone "$(jq -r --arg k "source:$K" 'has($k)' "$SLUICE_HOME/secrets.json")" false

# No reply ever carried the secret.
check secret/never-in-replies bash -c "! grep -q '$SECRET' '$TMP/all-replies'"
kill -TERM "$SERVER"
wait "$SERVER"
expect_eq server/stops $? 0
check server/no-secret-in-log bash -c "! grep -q '$SECRET' '$TMP/server.err'"
sanitizer_check server
finish
