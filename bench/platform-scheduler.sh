#!/usr/bin/env bash
# bench/platform-scheduler.sh: does `sluice server` keep up with many
# scheduled connections? N connections (default 500) on an interval of
# INTERVAL seconds (default 60: "every 1m"), each a source-faker with few
# records -> destination-dev-null, their creation times spread evenly over
# one interval (so the work is steady, not one burst a minute). The server
# runs for SECONDS (default 150) with WORKERS jobs at once (default 16).
# Every job is a real child `sluice connection sync` (discover, spec, read,
# write, state and stats in the store).
#
# Prints: jobs started and jobs per minute (against the N*60/INTERVAL the
# schedule asks for); lateness of job starts (the job row's created_at
# minus the time the schedule made it due: the previous job's start plus
# the interval), p50/p99/max; CPU of the scheduler itself and of the jobs
# with their connectors; and, as the baseline measured in the same run,
# the CPU of one `sluice connection sync` run by hand (the ratio says what
# running under the server adds per job). Nothing is asserted.
# BENCH_STORE=pg runs the same on a throwaway PostgreSQL store
# (tests/lib/db.sh) instead of the default SQLite file.
# usage: bench/platform-scheduler.sh [BIN_DIR]
#        (BENCH_N, BENCH_INTERVAL, BENCH_SECONDS, BENCH_WORKERS, BENCH_TICK_MS, BENCH_STORE)
set -euo pipefail
BIN=$(cd "${1:-build/bin}" && pwd)
N=${BENCH_N:-500}
INTERVAL=${BENCH_INTERVAL:-60}
SECS=${BENCH_SECONDS:-150}
WORKERS=${BENCH_WORKERS:-16}
TICK=${BENCH_TICK_MS:-500}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-sched-XXXXXX")
SERVER=''
STORE_KIND=${BENCH_STORE:-sqlite}
cleanup() {
  if [ -n "$SERVER" ]; then kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; fi
  [ "$STORE_KIND" = pg ] && db_stop_all
  rm -rf "$TMP"
}
trap cleanup EXIT
export SLUICE_HOME=$TMP/home
S="$BIN/sluice"
DB=$SLUICE_HOME/sluice.db
if [ "$STORE_KIND" = pg ]; then
  . "$(dirname "$0")/../tests/lib/db.sh"
  pg_start >/dev/null
  export SLUICE_STORE="postgresql://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB"
  q() { psql -X -q -At -F ' ' -c "$1"; }
  fmt_name="format('sched-%s', lpad(i::text, 5, '0'))"
else
  q() { sqlite3 -separator ' ' "$DB" "$1"; }
  fmt_name="printf('sched-%05d', i)"
fi
"$S" source create f --connector source-faker --set count=5 --set always_updated=false >/dev/null
"$S" destination create d --connector destination-dev-null >/dev/null 2>&1 ||
  "$S" destination create d --connector destination-dev-null --no-validate >/dev/null

# Baseline: CPU of one job run by hand (the same connection shape).
"$S" connection create by-hand --source f --destination d >/dev/null
K=10
clk=$(getconf CLK_TCK)
read -r c0 < <(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
t0=$(date +%s%N)
for _ in $(seq 1 $K); do "$S" connection sync by-hand --json >/dev/null; done
t1=$(date +%s%N)
read -r c1 < <(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
base_cpu_ms=$(awk -v a="$c0" -v b="$c1" -v k=$K -v hz="$clk" 'BEGIN { printf "%.1f", (b - a) * 1000 / hz / k }')
base_wall_ms=$(awk -v a="$t0" -v b="$t1" -v k=$K 'BEGIN { printf "%.1f", (b - a) / 1e6 / k }')
"$S" connection delete by-hand >/dev/null

# The scheduled connections, created (in one statement; setup, not
# measured) with creation times spread over one interval before now.
now_ms=$(($(date +%s%N) / 1000000))
q "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $N - 1)
  INSERT INTO connections (name, source_id, destination_id, schedule, schema_policy, status, created_at, updated_at)
  SELECT $fmt_name, 1, 2, 'every ${INTERVAL}s', 'propagate_columns', 'active',
         $now_ms - ${INTERVAL}000 + (i * ${INTERVAL}000 / $N), 0 FROM n"
FIRST_JOB=$(q "SELECT COALESCE(MAX(id), 0) FROM jobs")
load0=$(cut -d' ' -f1-3 /proc/loadavg)
"$S" server --no-api --workers "$WORKERS" --tick-ms "$TICK" --max-attempts 1 2>"$TMP/server.err" &
SERVER=$!
start_ms=$(($(date +%s%N) / 1000000))
sleep "$SECS"
# CPU: the scheduler (utime+stime) and its reaped jobs with their connectors (cutime+cstime).
read -r su ss cu cs < <(awk '{print $14, $15, $16, $17}' /proc/$SERVER/stat)
load1=$(cut -d' ' -f1-3 /proc/loadavg)
kill -TERM "$SERVER"
wait "$SERVER" || true
SERVER=''
end_ms=$((start_ms + SECS * 1000))

# Lateness: each job against the time its schedule made it due (the
# previous job's start, or the connection's creation, plus the interval;
# schedules work in whole seconds, as sl_schedule_next does).
q "
  WITH j AS (SELECT j.id, j.connection_id, j.created_at, j.status,
                    LAG(j.created_at) OVER (PARTITION BY j.connection_id ORDER BY j.id) AS prev
             FROM jobs j WHERE j.id > $FIRST_JOB)
  SELECT j.created_at - (COALESCE(j.prev, c.created_at) / 1000 + $INTERVAL) * 1000, j.status
  FROM j JOIN connections c ON c.id = j.connection_id
  WHERE (COALESCE(j.prev, c.created_at) / 1000 + $INTERVAL) * 1000 >= $start_ms
  ORDER BY 1" >"$TMP/late.txt"
jobs=$(q "SELECT COUNT(*) FROM jobs WHERE id > $FIRST_JOB")
# A job's wall time (created to finished), median, for comparison with the baseline's.
jwall=$(q "SELECT finished_at - created_at FROM jobs WHERE id > $FIRST_JOB AND status = 'succeeded' ORDER BY 1
  LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM jobs WHERE id > $FIRST_JOB AND status = 'succeeded')")
ok=$(q "SELECT COUNT(*) FROM jobs WHERE id > $FIRST_JOB AND status = 'succeeded'")
# Due in the window but never started: the schedule fell behind by more than the window's end.
behind=$(q "SELECT COUNT(*) FROM connections c WHERE c.name LIKE 'sched-%' AND
  COALESCE((SELECT MAX(created_at) FROM jobs j WHERE j.connection_id = c.id), c.created_at) + ${INTERVAL}000 < $end_ms - 5000")
awk -v jobs="$jobs" -v ok="$ok" -v secs="$SECS" -v n="$N" -v iv="$INTERVAL" -v w="$WORKERS" -v tick="$TICK" \
    -v su="$su" -v ss="$ss" -v cu="$cu" -v cs="$cs" -v hz="$clk" -v bc="$base_cpu_ms" -v bw="$base_wall_ms" -v behind="$behind" -v jw="$jwall" -v l0="$load0" -v l1="$load1" -v store="$STORE_KIND" '
  { late[NR] = $1 }
  END {
    m = NR
    p50 = m ? late[int((m - 1) * 0.50) + 1] : 0; p99 = m ? late[int((m - 1) * 0.99) + 1] : 0; mx = m ? late[m] : 0
    sched_cpu = (su + ss) * 1000 / hz; job_cpu = (cu + cs) * 1000 / hz
    printf "connections %d on \"every %ds\", %d workers, tick %d ms, %d s run, %s store\n", n, iv, w, tick, secs, store
    printf "jobs started %d (%d succeeded): %.0f per minute (schedule asks %.0f)\n", jobs, ok, jobs * 60 / secs, n * 60 / iv
    printf "start lateness over %d due jobs: p50 %d ms, p99 %d ms, max %d ms; still waiting at the end (>5 s late): %d\n", m, p50, p99, mx, behind
    printf "CPU: scheduler %.1f s (%.1f%% of one core, %.2f ms per job); jobs with connectors %.1f s (%.1f ms per job)\n",
      sched_cpu / 1000, sched_cpu / 10 / secs, jobs ? sched_cpu / jobs : 0, job_cpu / 1000, jobs ? job_cpu / jobs : 0
    printf "baseline, one sync by hand: %.1f ms CPU, %.1f ms wall; per-job CPU under the server / by hand: %.2fx; job wall median under the server %d ms\n",
      bc, bw, (jobs && bc > 0) ? (job_cpu + sched_cpu) / jobs / bc : 0, jw
    printf "load average (1, 5, 15 min) at the start: %s; at the end: %s\n", l0, l1
  }' "$TMP/late.txt"
