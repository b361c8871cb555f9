#!/usr/bin/env bash
# bench/destfile.sh: what the commit record of the file destinations costs
# (destination-jsonl and destination-csv, lib/dest_commitfile.c), against
# the same connectors built from another revision (BASE_BIN), in one run.
#
# Input: a pre-generated protocol file of two append streams, ~300-byte
# records in runs of 50 per stream, STREAM states, COMPLETE at the end, fed to
# `<destination> write` on stdin (no source, no pump: the destination's own
# cost). Two cases per destination:
#   throughput  BENCH_N records, a state every 1,000 of a stream, commits
#               coalesced as shipped (about one a second);
#   commits     BENCH_N/10 records, a state every 10 of a stream,
#               SLUICE_COMMIT_INTERVAL_MS=0: a commit (fsyncs, then the marks
#               or the record) at every commit point.
# Runs are interleaved (base, new, base, new, ...); the best wall time of
# BENCH_RUNS is kept, and the CPU (user+sys) of that run. Nothing asserts a
# time; the exit status is 0 unless a run failed or wrote the wrong number
# of records.
#
# Usage: bench/destfile.sh [BIN_DIR] BASE_BIN
#   e.g. git archive HEAD~1 | tar -x -C /tmp/base && make -C /tmp/base BUILD=build all
#        bench/destfile.sh build/bin /tmp/base/build/bin
#   BENCH_N=n     records of the throughput case (default 300000)
#   BENCH_RUNS=r  runs of each measurement (default 3)
#   BENCH_TMP=dir scratch space (default $TMPDIR or /tmp), ~1 GB at 300000
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(cd "${1:-build/bin}" && pwd)
BASE=$(cd "${2:?usage: bench/destfile.sh BIN_DIR BASE_BIN}" && pwd)
N=${BENCH_N:-300000}
RUNS=${BENCH_RUNS:-3}
for b in destination-jsonl destination-csv; do
  for d in "$BIN" "$BASE"; do [ -x "$d/$b" ] || { echo "bench/destfile: $d/$b is missing" >&2; exit 2; }; done
done

exec 9>"${BENCH_TMP:-${TMPDIR:-/tmp}}/sluice-bench.lock"
flock -n 9 || { echo "bench/destfile: another benchmark is running; waiting" >&2; flock 9; }
W=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/sluice-bench-destfile-XXXXXX")
trap 'rm -rf "$W"' EXIT

gen() { # gen RECORDS EVERY: the protocol input on stdout, a state every EVERY records of a stream
  awk -v n="$1" -v every="$2" 'BEGIN {
    pad = sprintf("%0200d", 0); gsub(/0/, "x", pad) # letters: digit runs take the exact-number parse
    for (i = 1; i <= n; i++) {
      s = (int((i - 1) / 50) % 2) ? "b" : "a"
      printf "{\"type\":\"RECORD\",\"record\":{\"stream\":\"%s\",\"emitted_at\":1700000000000,\"data\":{\"id\":%d,\"name\":\"user %d\",\"score\":%.2f,\"pad\":\"%s\"}}}\n", s, i, i, i * 0.37, pad
      c[s]++
      if (c[s] % every == 0)
        printf "{\"type\":\"STATE\",\"state\":{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"%s\"},\"stream_state\":{\"id\":%d}}}}\n", s, i
    }
    for (k = 0; k < 2; k++)
      printf "{\"type\":\"TRACE\",\"trace\":{\"type\":\"STREAM_STATUS\",\"emitted_at\":1,\"stream_status\":{\"stream_descriptor\":{\"name\":\"%s\"},\"status\":\"COMPLETE\"}}}\n", k ? "b" : "a"
  }'
}
gen "$N" 1000 >"$W/big.jsonl"
gen $((N / 10)) 10 >"$W/small.jsonl"
cat >"$W/cat.json" <<'JSON'
{"streams": [
 {"stream": {"name": "a", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "score": {"type": "number"}, "pad": {"type": "string"}}}, "supported_sync_modes": ["incremental"]}, "sync_mode": "incremental", "destination_sync_mode": "append"},
 {"stream": {"name": "b", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "score": {"type": "number"}, "pad": {"type": "string"}}}, "supported_sync_modes": ["incremental"]}, "sync_mode": "incremental", "destination_sync_mode": "append"}]}
JSON

# one WHICH DEST CASE: one run into a fresh directory; "wall cpu" seconds.
one() {
  local bin=$BIN input=$W/big.jsonl want=$N interval=
  [ "$1" = base ] && bin=$BASE
  [ "$3" = commits ] && input=$W/small.jsonl want=$((N / 10)) interval=0
  rm -rf "$W/out"
  echo "{\"destination_path\": \"$W/out\"}" >"$W/dst.json"
  local t0 t1 c0 c1 me=$BASHPID
  c0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$me/stat)
  t0=$(date +%s.%N)
  SLUICE_COMMIT_INTERVAL_MS=$interval "$bin/destination-$2" write --config "$W/dst.json" --catalog "$W/cat.json" \
    <"$input" >"$W/out.log" 2>&1 || { echo "bench/destfile: $1 $2 $3 failed:" >&2; tail -3 "$W/out.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  c1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$me/stat)
  local got
  if [ "$2" = jsonl ]; then got=$(cat "$W/out"/[ab].jsonl | wc -l)
  else got=$(($(cat "$W/out"/[ab].csv | wc -l) - 2)); fi
  [ "$got" = "$want" ] || { echo "bench/destfile: $1 $2 $3 wrote $got records, not $want" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.4f %.2f\n", b - a, c / hz }'
}

printf '%-6s %-11s %12s %12s %10s %9s %9s %7s\n' dest case records base_rec/s new_rec/s "new/base" base_cpu new_cpu
for dest in jsonl csv; do
  for case in throughput commits; do
    bw=999999 nw=999999 bc=0 nc=0
    for _ in $(seq 1 "$RUNS"); do
      r=$(one base $dest $case)
      read -r w c <<<"$r"
      if awk -v a="$w" -v b="$bw" 'BEGIN { exit !(a < b) }'; then bw=$w bc=$c; fi
      r=$(one new $dest $case)
      read -r w c <<<"$r"
      if awk -v a="$w" -v b="$nw" 'BEGIN { exit !(a < b) }'; then nw=$w nc=$c; fi
    done
    n=$N
    [ $case = commits ] && n=$((N / 10))
    awk -v d=$dest -v k=$case -v n=$n -v bw="$bw" -v nw="$nw" -v bc="$bc" -v nc="$nc" 'BEGIN {
      printf "%-6s %-11s %12d %12.0f %10.0f %9.2f %8.2fs %6.2fs\n", d, k, n, n / bw, n / nw, bw / nw, bc, nc }'
  done
done
echo "(new/base: wall-time ratio, > 1 is faster; cpu: user+sys of the best run)"
