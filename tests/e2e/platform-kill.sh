#!/usr/bin/env bash
# kill -9 of sluice, of the source, of the destination, or of `sluice server`
# with everything under it (its job and the job's connectors, as when its host
# dies) at random points in a loop of syncs (incremental, append_dedup into
# SQLite): after each,
# the next sync completes, the destination holds exactly the source's rows
# (no loss, no duplicates) and the stored state never runs ahead of the data.
# Then the first sync of connections in plain append, killed before any state
# was stored (see the comment there).
# usage: tests/e2e/platform-kill.sh [BIN_DIR] (ROUNDS=20, SEED=... to replay)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

export SLUICE_HOME=$TMP/home
S="$BIN/sluice"
DB=$TMP/out.db
STORE=$SLUICE_HOME/sluice.db
ROUNDS=${ROUNDS:-20}
SEED=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "platform-kill: seed $SEED (SEED=$SEED to replay the same kill points)"
RANDOM=$SEED
HITS=0

"$S" destination create out --connector destination-sqlite --set "destination_path=$DB" >/dev/null
"$S" connection create c --source none --destination out >/dev/null 2>&1 # source made per round

# The source grows each round (count = 3000 * round), so every sync has new
# rows to move and a kill lands in the middle of real work.
for round in $(seq 1 "$ROUNDS"); do
  count=$((3000 * round))
  if [ "$round" = 1 ]; then
    "$S" source create f --connector source-faker --set "count=$count" --set seed=11 --set records_per_slice=25 \
      --set always_updated=false >/dev/null
    "$S" connection create c --source f --destination out >/dev/null
  else
    "$S" source edit f --set "count=$count" >/dev/null
  fi
  victim=$((RANDOM % 4)) # 0 sluice, 1 the source, 2 the destination, 3 the server and all under it
  spins=$((RANDOM % 2000))
  [ "$victim" = 1 ] && spins=$((spins % 20)) # faker reads far faster than SQLite writes
  if [ "$victim" = 3 ]; then
    # The server runs the connection on its schedule; its job is a child
    # `sluice connection sync`, whose children are the connectors.
    "$S" connection edit c --schedule "every 1s" >/dev/null
    setsid "$S" server --no-api --workers 1 --tick-ms 100 >"$TMP/server-$round.log" 2>&1 &
    server=$!
    job=''
    while [ -z "$job" ] && [ -d "/proc/$server" ]; do
      { read -r job _ <"/proc/$server/task/$server/children"; } 2>/dev/null
    done
    pid=${job:-$server}
  else
    "$S" connection sync c --max-attempts 1 --json >"$TMP/kill-$round.out" 2>"$TMP/kill-$round.err" &
    pid=$!
  fi
  # Watch sluice's children without forking (fast enough to catch a short
  # read): wait for the source's read, then a random number of spins more.
  find_connectors "$pid"
  src=$SRC_PID dst=$DST_PID
  while [ "$spins" -gt 0 ] && [ -d "/proc/$pid" ]; do spins=$((spins - 1)); done
  case $victim in
    0) target=$pid what=sluice ;;
    1) target=$src what=source ;;
    2) target=$dst what=destination ;;
    3) target=$server what="the server, its job and connectors" ;;
  esac
  hit="(it had finished)"
  if [ "$victim" = 3 ]; then
    [ -d "/proc/$pid" ] && [ "$pid" != "$server" ] && hit="mid-sync" && HITS=$((HITS + 1))
    kill -9 -- "-$server" "$server" $pid $src $dst 2>/dev/null
    wait "$server" 2>/dev/null
    "$S" connection edit c --schedule manual >/dev/null
  else
    if [ -n "${target:-}" ] && kill -9 "$target" 2>/dev/null; then hit="mid-sync"; HITS=$((HITS + 1)); fi
    wait "$pid" 2>/dev/null
  fi
  # An orphaned destination (sluice died) sees end of input and exits; wait for it.
  # ([d] keeps pgrep from matching the bash -c running it.)
  wait_for 300 bash -c "! pgrep -f '[d]estination-sqlite write --config $SLUICE_HOME' >/dev/null" ||
    fail "round$round/orphans-exit" "a destination-sqlite of this test still runs 30 s after the kill"
  echo "round $round: count $count, kill -9 of $what: $hit"

  # The stored state never runs ahead of the data, even right after the kill.
  for st in users purchases; do
    cur=$(sql "$STORE" "select json_extract(state, '\$.stream.stream_state.updated_at') from state where stream = '$st'")
    max=$(sql "$DB" "select max(updated_at) from $st")
    if [ -n "$cur" ] && [[ "$cur" > "$max" ]]; then
      fail "round$round/state-not-ahead-$st" "state cursor $cur is past the newest committed row $max"
    fi
  done

  run "resume-$round" timeout 120 "$S" connection sync c --max-attempts 2 --backoff-ms 1 --json
  expect_rc "round$round/next-sync-completes" 0 "resume-$round"
  expect_eq "round$round/users" "$(sql "$DB" 'select count(*) || "," || count(distinct id) || "," || min(id) || "," || max(id) from users')" \
    "$count,$count,1,$count"
  expect_eq "round$round/purchases" "$(sql "$DB" 'select count(*) || "," || count(distinct id) from purchases')" "$count,$count"
  expect_eq "round$round/products" "$(sql "$DB" 'select count(*) || "," || count(distinct id) from products')" "100,100"
  for st in users purchases products; do
    expect_eq "round$round/state-$st" \
      "$(sql "$STORE" "select json_extract(state, '\$.stream.stream_state.updated_at') from state where stream = '$st'")" \
      "$(sql "$DB" "select max(updated_at) from $st")"
  done
done
# Every killed job ended with a recorded outcome, none left running.
expect_eq jobs/none-running "$(sql "$STORE" "select count(*) from jobs where status = 'running'")" 0
echo "platform-kill: $HITS of $ROUNDS kills landed mid-sync"

# The first sync of a connection (plain append, where a repeat shows), its
# job killed after the destination committed but before any state was
# stored (tests/data/exactness/killer.sh stands in for destination-sqlite):
# the next job takes the states of the interrupted attempt, which its sync
# record (beside the attempt's log) names. A second connection into the same
# tables never takes the first's states, nor a connection those from before
# `sluice state reset`.
export SLUICE_HOME=$TMP/home-first STORE=$TMP/home-first/sluice.db KILLER_REAL=$BIN/destination-sqlite
DB=$TMP/first.db
KILLER=$(cd "$(dirname "$0")/../data/exactness" && pwd)/killer.sh
"$S" destination create out --connector "$KILLER" --set "destination_path=$DB" >/dev/null
for c in a b; do
  "$S" source create $c --connector source-faker --set count=200 --set seed=11 --set records_per_slice=25 \
    --set always_updated=false >/dev/null
  "$S" connection create $c --source $c --destination out --streams users --stream users --sync-mode incremental \
    --destination-sync-mode append >/dev/null
done
fs_job() { # fs_job NAME CONNECTION [after|early]
  KILLER_MODE=${3:-} KILLER_OUT=$TMP/$1.killed run "$1" timeout 60 "$S" connection sync "$2" --max-attempts 1 --json
}
users() { sql "$DB" 'select count(*) || "," || count(distinct id) from users'; }
cursor() { sql "$STORE" "select json_extract(state, '\$.stream.stream_state.updated_at') from state s join connections c on c.id = s.connection_id where c.name = '$1' and stream = 'users'"; }
fs_job first-a-1 a after
expect_eq first-sync/killed-before-any-save "$RC:$(cursor a):$(users)" "137::200,200"
fs_job first-a-2 a
expect_rc first-sync/next-job 0 first-a-2
if grep -q 'was saved, but the interrupted sync' "$SLUICE_HOME"/logs/*.log; then pass first-sync/warns
else fail first-sync/warns "no job log says the interrupted sync's states were taken"; fi
expect_eq first-sync/nothing-read-again "$(users)" 200,200
fs_job first-b-1 b after
expect_eq first-sync/other-connection-reads-all "$(users)" 400,200
"$S" source edit a --set count=300 >/dev/null
fs_job first-a-3 a
expect_eq first-sync/first-goes-on "$(users)" 500,300
fs_job first-b-2 b
expect_rc first-sync/other-next-job 0 first-b-2
expect_eq first-sync/other-takes-its-own "$(cursor b)" \
  "$(jq -r 'select(.type=="STATE") | .state.stream.stream_state.updated_at' "$TMP/first-b-1.killed" | tail -1)"
expect_eq first-sync/other-nothing-again "$(users)" 500,300
"$S" state reset a >/dev/null
fs_job first-a-4 a early
expect_eq first-sync/killed-early "$RC" 137
grep -l 'was saved, but' "$SLUICE_HOME"/logs/*.log | sort >"$TMP/warned-before"
fs_job first-a-5 a
expect_rc first-sync/after-reset 0 first-a-5
expect_eq first-sync/reset-not-undone "$(grep -l 'was saved, but' "$SLUICE_HOME"/logs/*.log | sort | diff - "$TMP/warned-before")" ""
expect_eq first-sync/reset-reads-again "$(users)" 800,300
# Through a stream prefix: the destination's p_users is mapped back to users.
"$S" connection create m --source b --destination out --prefix p_ --streams users --stream users --sync-mode incremental \
  --destination-sync-mode append >/dev/null
fs_job first-m-1 m after
fs_job first-m-2 m
expect_rc first-sync/prefix-next-job 0 first-m-2
expect_eq first-sync/prefix-takes-its-own "$(cursor m)" \
  "$(jq -r 'select(.type=="STATE") | .state.stream.stream_state.updated_at' "$TMP/first-m-1.killed" | tail -1)"
expect_eq first-sync/prefix-nothing-again "$(sql "$DB" 'select count(*) || "," || count(distinct id) from p_users')" 200,200
# `sluice state reset` after a first sync killed before any save: the state
# had nothing to reset, so only the voided sync record says a reset came
# between; the next job reads everything again instead of taking the killed
# sync's states.
"$S" connection create n --source b --destination out --prefix n_ --streams users --stream users --sync-mode incremental \
  --destination-sync-mode append >/dev/null
fs_job first-n-1 n after
run first-n-reset "$S" state reset n # the killed job counts as ended, no sync needed first
expect_rc first-sync/reset-after-kill 0 first-n-reset
fs_job first-n-2 n
expect_rc first-sync/reset-of-nothing-next-job 0 first-n-2
expect_eq first-sync/reset-of-nothing-reads-again "$(sql "$DB" 'select count(*) || "," || count(distinct id) from n_users')" 400,200
# A clear after a killed first sync: the clear leaves no sync record, so
# nothing is taken after it and the next sync reads everything, once. Then a
# refresh (truncate) killed after its commit: the next job resumes it, with
# the same generation, from the refresh's own states; its rows stay, once.
r_users() { sql "$DB" 'select count(*) || "," || count(distinct id) from r_users'; }
"$S" connection create r --source b --destination out --prefix r_ --streams users --stream users --sync-mode incremental \
  --destination-sync-mode append >/dev/null
fs_job first-r-1 r after
run first-r-clear timeout 60 "$S" connection clear r
expect_eq first-sync/clear-drops "$RC:$(r_users)" "0:0,0"
grep -l 'was saved, but' "$SLUICE_HOME"/logs/*.log | sort >"$TMP/warned-before"
fs_job first-r-2 r
expect_eq first-sync/after-clear-reads-all "$RC:$(r_users)" "0:200,200"
expect_eq first-sync/clear-not-undone "$(grep -l 'was saved, but' "$SLUICE_HOME"/logs/*.log | sort | diff - "$TMP/warned-before")" ""
KILLER_MODE=after KILLER_OUT=$TMP/first-r-refresh.killed run first-r-refresh timeout 60 "$S" connection refresh r --max-attempts 1
expect_eq first-sync/refresh-killed "$RC:$(r_users)" "137:200,200"
fs_job first-r-3 r
expect_rc first-sync/refresh-resumed 0 first-r-3
expect_eq first-sync/refresh-takes-its-own "$(cursor r)" \
  "$(jq -r 'select(.type=="STATE") | .state.stream.stream_state.updated_at' "$TMP/first-r-refresh.killed" | tail -1)"
expect_eq first-sync/refresh-rows-once "$(r_users)" 200,200
finish
