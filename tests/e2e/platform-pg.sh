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
expect_eq pg/migrations "$(pgq 'select string_agg(version::text, $$,$$ order by version) from schema_migrations')" "1,2,3,4,5,6,7"
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
# PostgreSQL restarted under the running server: its connections (the
# scheduler's and the API's) are opened again, the next request just works.
# burst N: N requests at once (spread over the API's threads); their statuses, sorted and counted.
burst() {
  local i pids=()
  for ((i = 0; i < $1; i++)); do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer pg-test-token-0123456789" \
      "http://127.0.0.1:$(cat "$TMP/port")/v1/connections" >"$TMP/burst-$i" &
    pids+=($!)
  done
  wait "${pids[@]}"
  cat "$TMP"/burst-* | sort | uniq -c | tr -s ' ' | tr '\n' ';'
  rm -f "$TMP"/burst-*
}
expect_eq pg/api-warm "$(burst 12)" " 12 200;"
pg_restart
expect_eq pg/api-after-restart "$(burst 12)" " 12 200;"
check pg/server-alive kill -0 "$SERVER"
kill -TERM "$SERVER"
wait "$SERVER"
expect_eq pg/server-stops $? 0

# Scale-out (several servers on one PostgreSQL store, one killed mid-job,
# another taking the job over after its lease): tests/e2e/platform-scale.sh.
check pg/no-sanitizer-report bash -c "! grep -q 'Sanitizer' '$TMP/server.err'"

# An unreachable store: a clear, transient error that does not show the password.
pg_stop
run down "$S" connection list
expect_rc pg/unreachable 16
expect_err pg/unreachable-says down "cannot reach the PostgreSQL store"
check pg/no-password-shown bash -c "! grep -q '$PG_PASSWORD' '$TMP/down.err'"
finish
