#!/usr/bin/env bash
# Exactly-once at the destination runtime (lib/destination.c): a commit
# happens only where every record written is covered by a state or belongs to
# a completed stream; input that ends after uncovered records of a
# checkpointed stream is rolled back to the last commit. Each case feeds
# tests/data/exactness/<case>.jsonl to destination-sqlite, -jsonl and -csv,
# then checks the rows, the echoed states, and that resuming from the last
# echoed state ends with every record exactly once.
# SLUICE_COMMIT_INTERVAL_MS=0 commits at every commit point, so what is
# committed does not depend on timing.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
DATA="$E2E_HERE/../data/exactness"
export SLUICE_COMMIT_INTERVAL_MS=0

# write NAME DEST INPUT: DEST's write with INPUT on stdin into $TMP/NAME-DEST.
write() {
  local name=$1 dest=$2 input=$3 target="$TMP/$1-$2"
  if [ "$dest" = sqlite ]; then target="$target.db"; else mkdir -p "$target"; fi
  echo "{\"destination_path\": \"$target\"}" >"$TMP/$name-$dest.json"
  run_proto "$name-$dest" sh -c '"$0" write --config "$1" --catalog "$2" <"$3"' \
    "$BIN/destination-$dest" "$TMP/$name-$dest.json" "$DATA/catalog.json" "$DATA/$input.jsonl"
}

# committed DIR FILE: FILE's committed length in DIR's commit record
# (.sluice-commit-csv.json; before it, csv kept one in FILE.json), or nothing.
committed() {
  jq -r --arg f "$2" '.files[$f].bytes // empty' "$1/.sluice-commit-csv.json" 2>/dev/null ||
    jq -r '.bytes // empty' "$1/$2.json" 2>/dev/null
}

# ids NAME DEST STREAM: the ids the destination holds for STREAM, sorted,
# space-separated (committed data only: .tmp files count up to their
# committed length).
ids() {
  local t="$TMP/$1-$2"
  case $2 in
    sqlite) sql "$t.db" "select group_concat(id, ' ') from (select id from \"$3\" order by id)" ;;
    jsonl) cat "$t/$3.jsonl" "$t/$3.jsonl.tmp" 2>/dev/null | jq -r '._airbyte_data.id' | sort -n | xargs ;;
    csv)
      local f n
      for f in "$t/$3.csv" "$t/$3.csv.tmp"; do
        [ -f "$f" ] || continue
        # A .tmp counts up to its committed length (the next write cuts the rest).
        n=$(committed "$t" "${f##*/}")
        if [ -n "$n" ]; then head -c "$n" "$f"; else cat "$f"; fi | tail -n +2
      done | cut -d, -f1 | sort -n | xargs ;;
  esac
}
echoed() { jq -r 'select(.type=="STATE") | .state.stream.stream_state.id // .state.global.shared_state.pos' \
  "$TMP/$1.out" | xargs; }

for d in sqlite jsonl csv; do
  # A checkpointed stream ends with two records no state covers: they are
  # rolled back; the next sync resumes from state 3 and ends with 1-5 once.
  write tail $d tail
  expect_rc tail/$d/exit 0
  expect_eq tail/$d/rows "$(ids tail $d a)" "1 2 3"
  expect_eq tail/$d/echoed "$(echoed tail-$d)" "3"
  expect_out tail/$d/warns tail-$d 'input ended after 2 records of stream \"a\" that no state covers'
  cp "$TMP/tail-$d.json" "$TMP/tail-$d.json.keep"
  run_proto tail-resume-$d sh -c '"$0" write --config "$1" --catalog "$2" <"$3"' \
    "$BIN/destination-$d" "$TMP/tail-$d.json" "$DATA/catalog.json" "$DATA/tail-resume.jsonl"
  expect_rc tail-resume/$d/exit 0
  expect_eq tail-resume/$d/rows "$(ids tail $d a)" "1 2 3 4 5"

  # The stream completes: everything is committed.
  write complete $d complete
  expect_eq complete/$d/rows "$(ids complete $d a)" "1 2 3 4 5"
  expect_eq complete/$d/echoed "$(echoed complete-$d)" "3"

  # A source that never checkpoints: the stream is committed whole at the end.
  write nostate $d nostate
  expect_eq nostate/$d/rows "$(ids nostate $d a)" "1 2 3 4 5"

  # Interleaved streams: state a=1 cannot commit while b's record 1 is
  # uncovered; state b=2 is a commit point (a1 b1 b2); a2 a3 are rolled back.
  write interleaved $d interleaved
  expect_eq interleaved/$d/rows "$(ids interleaved $d a) | $(ids interleaved $d b)" "1 | 1 2"
  expect_eq interleaved/$d/echoed "$(echoed interleaved-$d)" "1 2"
  run_proto interleaved-resume-$d sh -c '"$0" write --config "$1" --catalog "$2" <"$3"' \
    "$BIN/destination-$d" "$TMP/interleaved-$d.json" "$DATA/catalog.json" "$DATA/interleaved-resume.jsonl"
  expect_eq interleaved-resume/$d/rows "$(ids interleaved $d a) | $(ids interleaved $d b)" "1 2 3 | 1 2 3"

  # A GLOBAL state covers every stream: a1 b1 stay, a2 goes.
  write global $d global
  expect_eq global/$d/rows "$(ids global $d a) | $(ids global $d b)" "1 | 1"
  expect_eq global/$d/echoed "$(echoed global-$d)" "1"

  # An overwrite stream's COMPLETE waits for a commit point (its swap would
  # otherwise commit a's uncovered record 2); state a=2 is that point.
  write complete-waits $d complete-waits
  expect_eq complete-waits/$d/rows "$(ids complete-waits $d o) | $(ids complete-waits $d a)" "1 | 1 2"
  expect_eq complete-waits/$d/echoed "$(echoed complete-waits-$d)" "1 2"
done

# A commit spanning two streams is all or nothing (the file destinations
# keep every file's committed length in one record, .sluice-commit-jsonl.json
# or -csv.json). The destination dies (SIGXFSZ: at most 2 KiB per file) in
# the commit of state 2, after writing and fsyncing a's record 2 and while
# writing the other stream's records 2-9: both streams stay at state 1, the
# `state` command says so, and the retry from state 1 ends with every record
# once. (With a mark per file, a kept record 2 and the retry wrote it again.)
# multistream: a and b append; multistream-overwrite: b is o, an overwrite
# (its .tmp), and the retry completes both (o's swap).
for c in "multistream a b" "multistream-overwrite a o"; do
  set -- $c
  for d in jsonl csv; do
    mkdir -p "$TMP/$1-$d"
    echo "{\"destination_path\": \"$TMP/$1-$d\"}" >"$TMP/$1-$d.json"
    run_proto $1-$d sh -c 'ulimit -c 0; ulimit -f 2; exec "$0" write --config "$1" --catalog "$2" <"$3"' \
      "$BIN/destination-$d" "$TMP/$1-$d.json" "$DATA/catalog.json" "$DATA/$1.jsonl"
    expect_eq $1/$d/died-in-commit "$RC:$(echoed $1-$d)" "153:1"
    run $1-state-$d "$BIN/destination-$d" state --config "$TMP/$1-$d.json"
    expect_eq $1/$d/state-is-previous "$(jq -c '.states[-1].global.shared_state' "$TMP/$1-state-$d.out")" '{"pos":1}'
    run_proto $1-resume-$d sh -c '"$0" write --config "$1" --catalog "$2" <"$3"' \
      "$BIN/destination-$d" "$TMP/$1-$d.json" "$DATA/catalog.json" "$DATA/$1-resume.jsonl"
    expect_rc $1/$d/resume-exit 0
    expect_eq $1/$d/rows "$(ids $1 $d $2) | $(ids $1 $d $3)" "1 2 | 1 2 3 4 5 6 7 8 9"
    run $1-state2-$d "$BIN/destination-$d" state --config "$TMP/$1-$d.json"
    expect_eq $1/$d/state-after "$(jq -c '.states[-1].global.shared_state' "$TMP/$1-state2-$d.out")" '{"pos":2}'
  done
done
set --

# A destination killed after writing records past the last commit: the
# next write cuts the file back to its committed length (kept in the
# directory's .sluice-commit-jsonl.json).
mkdir -p "$TMP/kill"
echo "{\"destination_path\": \"$TMP/kill\"}" >"$TMP/kill.json"
{
  head -4 "$DATA/tail.jsonl"
  # about 2 MB of uncovered records: more than the 1 MiB write buffer, so
  # they reach the file before the kill
  for i in $(seq 100 6000); do
    printf '{"type":"RECORD","record":{"stream":"a","emitted_at":1,"data":{"id":%d,"v":"%0300d"}}}\n' "$i" 0
  done
} >"$TMP/kill.in"
mkfifo "$TMP/kill.fifo"
exec 7<>"$TMP/kill.fifo" # held open: the destination never sees end of input
"$BIN/destination-jsonl" write --config "$TMP/kill.json" --catalog "$DATA/catalog.json" \
  <"$TMP/kill.fifo" >"$TMP/kill.out" 2>"$TMP/kill.err" &
KPID=$!
cat "$TMP/kill.in" >&7
wait_for 200 sh -c "[ \$(stat -c %s '$TMP/kill/a.jsonl' 2>/dev/null || echo 0) -gt 1000000 ]"
kill -9 "$KPID" 2>/dev/null
wait "$KPID" 2>/dev/null
exec 7>&-
big=$(stat -c %s "$TMP/kill/a.jsonl")
expect_eq kill/wrote-past-commit "$([ "$big" -gt 1000000 ] && echo yes)" yes
run_proto kill-resume sh -c '"$0" write --config "$1" --catalog "$2" <"$3"' \
  "$BIN/destination-jsonl" "$TMP/kill.json" "$DATA/catalog.json" "$DATA/tail-resume.jsonl"
expect_rc kill-resume/exit 0
expect_eq kill-resume/rows "$(jq -r '._airbyte_data.id' "$TMP/kill/a.jsonl" | xargs)" "1 2 3 4 5"
expect_out kill-resume/says-cut kill-resume "written after the last commit by an interrupted run"

# Upgrade: a directory of the per-file marks before the commit record
# (jsonl 0.2.0: .a.jsonl.committed; csv 0.1.x: a.csv.tmp.json), each file
# holding record 3 past its mark. The mark is read once (record 3 cut), the
# retry adds 4 and 5, and the record replaces the mark.
for d in jsonl csv; do
  cp -r "$DATA/upgrade-$d" "$TMP/upgrade-$d"
  echo "{\"destination_path\": \"$TMP/upgrade-$d\"}" >"$TMP/upgrade-$d.json"
  run_proto upgrade-$d sh -c '"$0" write --config "$1" --catalog "$2" <"$3"' \
    "$BIN/destination-$d" "$TMP/upgrade-$d.json" "$DATA/catalog.json" "$DATA/tail-resume.jsonl"
  expect_rc upgrade/$d/exit 0
  expect_eq upgrade/$d/rows "$(ids upgrade $d a)" "1 2 4 5"
  expect_eq upgrade/$d/marks-replaced "$(ls -A "$TMP/upgrade-$d" | grep -c 'committed$\|tmp.json$'):$(ls -A "$TMP/upgrade-$d" | grep -c "^.sluice-commit-$d.json$")" "0:1"
done

# rows DEST TARGET STREAM: "rows,distinct ids" of STREAM in DEST's TARGET
# (an SQLite file, or a directory of files).
rows() {
  case $1 in
    sqlite) sql "$2" "select count(*) || ',' || count(distinct id) from $3" ;;
    jsonl) jq -r '._airbyte_data.id' "$2/$3.jsonl" | awk '{n++; if (!s[$0]++) d++} END {print n+0 "," d+0}' ;;
    postgres) psql -X -q -A -t -c "select count(*) || ',' || count(distinct id) from $3" 2>/dev/null ;;
    mysql) mariadb --no-defaults -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PASSWORD" -D "$MY_DB" -N -B \
      -e "select concat(count(*), ',', count(distinct id)) from $3" 2>/dev/null ;;
    csv) python3 -c 'import csv, sys
ids = [r["id"] for r in csv.DictReader(open(sys.argv[1], newline=""))]
print("%d,%d" % (len(ids), len(set(ids))))' "$2/$3.csv" ;;
  esac
}
target() { if [ "$1" = sqlite ]; then echo "$TMP/$2.db"; else echo "$TMP/$2"; fi; }

# The window between a destination's commit and sluice saving the states it
# echoed: simulated by putting back the state file of the sync before. The
# destination keeps the states its commits covered (`destination-sqlite
# state`; the file destinations in their commit record), so the next sync
# moves the saved state forward instead of reading the last sync's rows
# again. A state the destination never had is left alone.
unset SLUICE_COMMIT_INTERVAL_MS
cat >"$TMP/cu-cat.json" <<'JSON'
{"streams": [{"stream": {"name": "users"}, "sync_mode": "incremental", "destination_sync_mode": "append"}]}
JSON
cu_sync() { # cu_sync DEST NAME COUNT
  echo "{\"count\": $3, \"seed\": 5, \"records_per_slice\": 25, \"always_updated\": false}" >"$TMP/cu-src.json"
  run_sync "$2" --source source-faker --source-config "$TMP/cu-src.json" --destination destination-$1 \
    --destination-config "$TMP/cu-$1-dst.json" --state-file "$TMP/cu-$1-state.json" --catalog "$TMP/cu-cat.json"
}
for d in sqlite jsonl csv; do
  t=$(target $d cu-$d)
  echo "{\"destination_path\": \"$t\"}" >"$TMP/cu-$d-dst.json"
  cu_sync $d cu-$d-1 1000
  cp "$TMP/cu-$d-state.json" "$TMP/cu-$d-state-1.json"
  cu_sync $d cu-$d-2 2000
  expect_eq catch-up/$d/second-sync "$(rows $d "$t" users)" 2000,2000
  run cu-$d-states "$BIN/destination-$d" state --config "$TMP/cu-$d-dst.json"
  expect_eq catch-up/$d/destination-keeps-states "$(jq -r .key "$TMP/cu-$d-states.out" | tr '\t' ' ')" "STREAM  users"
  cp "$TMP/cu-$d-state-1.json" "$TMP/cu-$d-state.json" # the save of sync 2 "lost"
  cu_sync $d cu-$d-3 2000
  expect_rc catch-up/$d/exit 0
  expect_err catch-up/$d/warns cu-$d-3 'is behind what the destination committed: resuming from the destination'
  expect_eq catch-up/$d/nothing-read-again "$(rows $d "$t" users)" "2000,2000"
  expect_eq catch-up/$d/state-saved "$(jq -c '.[0].stream.stream_state' "$TMP/cu-$d-state.json")" \
    "$(jq -c '.states[-1].stream.stream_state' "$TMP/cu-$d-states.out")"
  jq '.[0].stream.stream_state.updated_at = "1999-01-01T00:00:00Z"' "$TMP/cu-$d-state-1.json" >"$TMP/cu-$d-state.json"
  cu_sync $d cu-$d-4 2000
  expect_rc catch-up/$d/foreign-exit 0
  if grep -q 'is behind what the destination committed' "$TMP/cu-$d-4.err"; then
    fail catch-up/$d/foreign-state-kept "a state the destination never had was moved forward"
  else pass catch-up/$d/foreign-state-kept; fi
done

# The first sync: sluice killed after the destination committed but before
# its first save, so no state is saved at all. A stand-in destination
# (tests/data/exactness/killer.sh) runs the real one to its end, keeping its
# echoes from sluice, then kills sluice (or kills it at once, before any
# commit). The next sync takes the states of that very sync (the one the
# state file's sync record, STATE.sync, names) and reads nothing again.
# Never another's: a second state file writing the same tables, or the
# states from before a reset (the state file deleted).
# A killed sluice may leave its protocol log's last line cut: those runs log
# into TMP (sync_quarantined), out of the validated directory.
fs_sync() { # fs_sync DEST NAME STATE COUNT [after|early]: into fs-DEST's target
  local dst=destination-$1 how=run_sync
  echo "{\"count\": $4, \"seed\": 5, \"records_per_slice\": 25, \"always_updated\": false}" >"$TMP/fs-src-$4.json"
  [ -n "${5:-}" ] && dst=$DATA/killer.sh how=sync_quarantined
  KILLER_MODE=${5:-} KILLER_REAL=$BIN/destination-$1 KILLER_OUT=$TMP/$2.killed \
    $how "$2" --source source-faker --source-config "$TMP/fs-src-$4.json" --destination "$dst" \
    --destination-config "$TMP/fs-$1-dst.json" --state-file "$TMP/$3.json" --catalog "$TMP/cu-cat.json"
}
cursor() { jq -r '.[0].stream.stream_state.updated_at // "none"' "$TMP/$1.json" 2>/dev/null || echo none; }
# Every destination that keeps states: the first sync killed after its
# commit, then the next one. The cases after it are sluice's alone (the
# record and the sync ids), run with SQLite.
. "$E2E_HERE/../lib/db.sh"
trap 'db_stop_all; e2e_cleanup' EXIT
dbs=""
if pg_start; then dbs="$dbs postgres"; else fail first-sync/postgres-server "cannot start PostgreSQL"; fi
if maria_start; then dbs="$dbs mysql"; else fail first-sync/mysql-server "cannot start MariaDB"; fi
printf '{"host":"127.0.0.1","port":%s,"database":"%s","schema":"public","username":"%s","password":"%s","ssl_mode":{"mode":"disable"}}\n' \
  "${PG_PORT:-0}" "${PG_DB:-}" "${PG_USER:-}" "${PG_PASSWORD:-}" >"$TMP/fs-postgres-dst.json"
printf '{"host":"%s","port":%s,"database":"%s","username":"%s","password":"%s"}\n' \
  "${MY_HOST:-}" "${MY_PORT:-0}" "${MY_DB:-}" "${MY_USER:-}" "${MY_PASSWORD:-}" >"$TMP/fs-mysql-dst.json"
for d in sqlite jsonl csv $dbs; do
  t=$(target $d fs-$d)
  case $d in sqlite | jsonl | csv) echo "{\"destination_path\": \"$t\"}" >"$TMP/fs-$d-dst.json" ;; esac
  fs_sync $d fs-$d-1 fs-$d-a 200 after
  expect_eq first-sync/$d/killed-before-any-save "$RC:$([ -e "$TMP/fs-$d-a.json" ] && echo saved):$(rows $d "$t" users)" \
    "137::200,200"
  run fs-$d-states "$BIN/destination-$d" state --config "$TMP/fs-$d-dst.json"
  expect_eq first-sync/$d/destination-keeps-sync-ids "$(jq -r '.syncs | unique | .[]' "$TMP/fs-$d-states.out")" \
    "$(jq -r .sync "$TMP/fs-$d-a.json.sync" 2>/dev/null || echo "(no sync record)")"
  fs_sync $d fs-$d-2 fs-$d-a 200
  expect_rc first-sync/$d/next-exit 0
  expect_err first-sync/$d/warns fs-$d-2 'was saved, but the interrupted sync'
  expect_eq first-sync/$d/nothing-read-again "$(rows $d "$t" users)" 200,200
done
d=sqlite t=$(target sqlite fs-sqlite)
# Another state file into the same tables: its first sync reads everything
# (none of the first one's states), and is killed after committing 100
# users; the first one syncs up to 300 (its states are now the
# destination's newest); the second resumes from its own 100th user.
fs_sync $d fs-$d-3 fs-$d-b 100 after
expect_eq first-sync/other-first-reads-all "$(rows $d "$t" users)" 300,200
fs_sync $d fs-$d-4 fs-$d-a 300
expect_eq first-sync/first-goes-on "$(rows $d "$t" users)" 400,300
fs_sync $d fs-$d-5 fs-$d-b 100
expect_rc first-sync/other-exit 0
expect_eq first-sync/other-takes-its-own "$(cursor fs-$d-b)" \
  "$(jq -r 'select(.type=="STATE") | .state.stream.stream_state.updated_at' "$TMP/fs-$d-3.killed" | tail -1)"
expect_eq first-sync/other-nothing-again "$(rows $d "$t" users)" 400,300
# A reset (the state file deleted) then a first sync killed before any
# commit: the next sync reads everything again, as the reset asked,
# instead of taking the states from before the reset.
rm "$TMP/fs-$d-a.json"
fs_sync $d fs-$d-6 fs-$d-a 300 early
expect_eq first-sync/killed-early "$RC" 137
fs_sync $d fs-$d-7 fs-$d-a 300
expect_rc first-sync/after-reset-exit 0
if grep -q 'was saved, but' "$TMP/fs-$d-7.err"; then
  fail first-sync/reset-not-undone "the states from before the reset were taken"
else pass first-sync/reset-not-undone; fi
expect_eq first-sync/reset-reads-again "$(rows $d "$t" users)" 700,300
# A reset right after a state file's first sync (one save: the record
# names the state after it, never the empty one before) reads everything.
fs_sync $d fs-$d-8 fs-$d-c 300
rm "$TMP/fs-$d-c.json"
fs_sync $d fs-$d-9 fs-$d-c 300
expect_rc first-sync/reset-after-one-save-exit 0
expect_eq first-sync/reset-after-one-save "$(grep -c 'was saved, but' "$TMP/fs-$d-9.err"):$(rows $d "$t" users)" 0:1300,300
# A full refresh takes none: with the state file deleted again and a
# full-refresh sync killed after its commit, the next one reads everything.
rm "$TMP/fs-$d-a.json"
jq '.streams[0].sync_mode = "full_refresh"' "$TMP/cu-cat.json" >"$TMP/fs-full-cat.json"
fs_full() { KILLER_MODE=${2:-} KILLER_REAL=$BIN/destination-sqlite "${3:-run_sync}" "$1" --source source-faker \
  --source-config "$TMP/fs-src-300.json" --destination "$DATA/killer.sh" --destination-config "$TMP/fs-$d-dst.json" \
  --state-file "$TMP/fs-$d-a.json" --catalog "$TMP/fs-full-cat.json"; }
fs_full fs-full-1 after sync_quarantined
fs_full fs-full-2
expect_rc first-sync/full-refresh-exit 0
if grep -q 'was saved, but' "$TMP/fs-full-2.err"; then fail first-sync/full-refresh-takes-none "a full refresh took a state"
else pass first-sync/full-refresh-takes-none; fi
expect_eq first-sync/full-refresh-reads-again "$(rows $d "$t" users)" 1900,300

# kill -9 of sluice, the source or the destination at random points of
# `sluice sync` runs in plain append mode (no dedup to hide a repeat), into
# SQLite, JSON lines and CSV: after each, the next sync completes and every
# user and purchase is there exactly once. (platform-kill.sh does the same
# through connections, append_dedup.) The first sync is killed too: with no
# state saved yet, the next sync takes the states the killed sync committed
# (its sync record names it). Before that fix, sluice killed after jsonl's
# one commit of a 5,000-user first sync read them all again.
unset SLUICE_COMMIT_INTERVAL_MS
SEED=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "exactness: kill loop seed $SEED (SEED=$SEED to replay)"
RANDOM=$SEED
cat >"$TMP/append-cat.json" <<'JSON'
{"streams": [
 {"stream": {"name": "users"}, "sync_mode": "incremental", "destination_sync_mode": "append"},
 {"stream": {"name": "purchases"}, "sync_mode": "incremental", "destination_sync_mode": "append"}]}
JSON
kill_loop() { # kill_loop DEST ROUNDS
  local d=$1 rounds=$2 round count victim spins tpid pid src dst target what hit hits=0 t t0=$SECONDS
  t=$(target "$d" "append-$d")
  echo "{\"destination_path\": \"$t\"}" >"$TMP/append-$d-dst.json"
  for round in $(seq 1 "$rounds"); do
    count=$((5000 * round))
    echo "{\"count\": $count, \"seed\": 5, \"records_per_slice\": 25, \"always_updated\": false}" >"$TMP/append-src.json"
    victim=$((RANDOM % 3))
    spins=$((RANDOM % 2000))
    timeout 60 "$BIN/sluice" sync --no-progress --source source-faker --source-config "$TMP/append-src.json" \
      --destination destination-$d --destination-config "$TMP/append-$d-dst.json" \
      --state-file "$TMP/append-$d-state.json" --catalog "$TMP/append-cat.json" >/dev/null 2>"$TMP/kill-$d-$round.err" &
    tpid=$!
    # Find sluice and its connectors through /proc without forking (fast
    # enough to catch a short sync), then spin a random while.
    pid=''
    while [ -z "$pid" ] && [ -r "/proc/$tpid/task/$tpid/children" ]; do
      { read -r pid _ <"/proc/$tpid/task/$tpid/children"; } 2>/dev/null
    done
    find_connectors "$pid"
    src=$SRC_PID dst=$DST_PID
    [ "$victim" = 1 ] && spins=$((spins % 20)) # faker reads far faster than the destinations write
    while [ "$spins" -gt 0 ] && [ -d "/proc/$pid" ]; do spins=$((spins - 1)); done
    hit="(it had finished)"
    case $victim in 0) target=$pid what=sluice ;; 1) target=$src what=source ;; 2) target=$dst what=destination ;; esac
    if [ -n "$target" ] && kill -9 "$target" 2>/dev/null; then hit=mid-sync hits=$((hits + 1)); fi
    wait "$tpid" 2>/dev/null
    echo "$d round $round: $count users, kill -9 of $what: $hit"
    wait_for 300 bash -c "! pgrep -f '[d]estination-$d write --config .*append-$d-dst' >/dev/null"
    run "append-$d-resume-$round" timeout 120 "$BIN/sluice" sync --no-progress --source source-faker \
      --source-config "$TMP/append-src.json" --destination destination-$d --destination-config "$TMP/append-$d-dst.json" \
      --state-file "$TMP/append-$d-state.json" --catalog "$TMP/append-cat.json"
    expect_rc "append-kill/$d/round$round/resume" 0
    expect_eq "append-kill/$d/round$round/users" "$(rows "$d" "$t" users)" "$count,$count"
    expect_eq "append-kill/$d/round$round/purchases" "$(rows "$d" "$t" purchases | awk -F, '{print $1 == $2}')" 1
  done
  echo "exactness: $d: $hits of $rounds kills landed mid-sync ($((SECONDS - t0)) s)"
}
kill_loop sqlite "${ROUNDS:-8}"
echo "exactness: $SECONDS s before the kill loops"
kill_loop jsonl "${FILE_ROUNDS:-4}"
kill_loop csv "${FILE_ROUNDS:-4}"

finish
