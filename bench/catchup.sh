#!/usr/bin/env bash
# bench/catchup.sh: what the first-sync catch-up costs `sluice sync` (the
# sync record written before each save of the state, the digest of the
# state, the sync id kept with each commit; platform/sync.c,
# platform/state_catchup.c, lib/dest_states.c), against sluice and the
# connectors built from another revision (BASE_BIN), in one run.
#
# source-faker users (one stream, incremental, append) into
# destination-jsonl with a state file. Two cases:
#   shipped   BENCH_N users, a state every 1,000, commits coalesced as
#             shipped (about one a second): a handful of saves;
#   saves     BENCH_N/20 users, a state every record and
#             SLUICE_COMMIT_INTERVAL_MS=0: a commit and a save per state.
# Runs are interleaved (base, new, ...); the best wall time of BENCH_RUNS is
# kept, with the CPU (user+sys of sluice and the connectors) of that run.
# Nothing asserts a time; the exit status is 0 unless a run failed or wrote
# the wrong number of records.
#
# Usage: bench/catchup.sh [BIN_DIR] BASE_BIN
#   e.g. git worktree add /tmp/base HEAD~5 && make -C /tmp/base BUILD=build all
#        bench/catchup.sh build/bin /tmp/base/build/bin
#   BENCH_N=n (default 100000), BENCH_RUNS=r (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(cd "${1:-build/bin}" && pwd)
BASE=$(cd "${2:?usage: bench/catchup.sh BIN_DIR BASE_BIN}" && pwd)
N=${BENCH_N:-100000}
RUNS=${BENCH_RUNS:-3}
exec 9>"${TMPDIR:-/tmp}/sluice-bench.lock"
flock -n 9 || { echo "bench/catchup: another benchmark is running; waiting" >&2; flock 9; }
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-catchup-XXXXXX")
trap 'rm -rf "$W"' EXIT
echo '{"streams": [{"stream": {"name": "users"}, "sync_mode": "incremental", "destination_sync_mode": "append"}]}' >"$W/cat.json"

# one WHICH CASE: one sync into a fresh directory; "wall cpu saves" (saves: the
# states sluice committed).
one() {
  local bin=$BIN n=$N per=1000 interval=
  [ "$1" = base ] && bin=$BASE
  [ "$2" = saves ] && n=$((N / 20)) per=1 interval=0
  rm -rf "$W/out" "$W/state.json" "$W/state.json.sync"
  echo "{\"destination_path\": \"$W/out\"}" >"$W/dst.json"
  echo "{\"count\": $n, \"seed\": 5, \"records_per_slice\": $per, \"always_updated\": false}" >"$W/src.json"
  local t0 t1 c0 c1 me=$BASHPID
  c0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$me/stat)
  t0=$(date +%s.%N)
  SLUICE_COMMIT_INTERVAL_MS=$interval "$bin/sluice" sync --no-progress --source "$bin/source-faker" \
    --source-config "$W/src.json" --destination "$bin/destination-jsonl" --destination-config "$W/dst.json" \
    --state-file "$W/state.json" --catalog "$W/cat.json" >"$W/out.log" 2>&1 ||
    { echo "bench/catchup: $1 $2 failed:" >&2; tail -3 "$W/out.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  c1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$me/stat)
  local got
  got=$(wc -l <"$W/out/users.jsonl")
  [ "$got" = "$n" ] || { echo "bench/catchup: $1 $2 wrote $got records, not $n" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v s="$(grep -o '[0-9]* state(s) committed' "$W/out.log" | cut -d' ' -f1)" \
    'BEGIN { printf "%.4f %.2f %s\n", b - a, c / hz, s }'
}

printf '%-9s %9s %7s %12s %12s %9s %9s %9s\n' case records states base_rec/s new_rec/s "new/base" base_cpu new_cpu
for case in shipped saves; do
  bw=999999 nw=999999 bc=0 nc=0 st=0
  for _ in $(seq 1 "$RUNS"); do
    read -r w c s <<<"$(one base $case)"
    if awk -v a="$w" -v b="$bw" 'BEGIN { exit !(a < b) }'; then bw=$w bc=$c; fi
    read -r w c s <<<"$(one new $case)"
    if awk -v a="$w" -v b="$nw" 'BEGIN { exit !(a < b) }'; then nw=$w nc=$c st=$s; fi
  done
  n=$N
  [ $case = saves ] && n=$((N / 20))
  awk -v k=$case -v n=$n -v st="$st" -v bw="$bw" -v nw="$nw" -v bc="$bc" -v nc="$nc" 'BEGIN {
    printf "%-9s %9d %7s %12.0f %12.0f %9.2f %8.2fs %8.2fs\n", k, n, st, n / bw, n / nw, bw / nw, bc, nc }'
done
echo "(new/base: wall-time ratio, > 1 is faster; cpu: user+sys of the best run; states: committed by the new build)"
