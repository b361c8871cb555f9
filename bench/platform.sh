#!/usr/bin/env bash
# bench/platform.sh: how much the platform's REST API adds. A store with
# N connections (default 1000), `sluice server` on loopback, and wrk
# against GET /v1/connections (the whole list, JSON) and, as the baseline
# measured in the same run against the same server, GET /v1/health (auth
# and routing only, no store). Prints the median and p99 latencies and
# requests/s of both and their ratio, and the server's CPU per request
# (its utime+stime over the run / requests). With BENCH_OLD_BIN=DIR (another
# build, e.g. of the commit before a change) the list is measured from
# that build's server too, on the same store in the same run.
# Nothing is asserted.
# usage: bench/platform.sh [BIN_DIR]   (BENCH_N=connections, BENCH_SECONDS=5, BENCH_OLD_BIN)
set -euo pipefail
BIN=$(cd "${1:-build/bin}" && pwd)
N=${BENCH_N:-1000}
SECS=${BENCH_SECONDS:-5}
command -v wrk >/dev/null || { echo "bench/platform.sh: wrk is required (scripts/setup.sh test)" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-platform-XXXXXX")
SERVER=''
cleanup() { if [ -n "$SERVER" ]; then kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true; fi; rm -rf "$TMP"; }
trap cleanup EXIT
export SLUICE_HOME=$TMP/home
S="$BIN/sluice"
"$S" source create f --connector source-faker --set count=10 >/dev/null
"$S" destination create d --connector destination-dev-null >/dev/null 2>&1 ||
  "$S" destination create d --connector destination-dev-null --no-validate >/dev/null
# The connections themselves go in with one SQL statement (setup, not measured).
sqlite3 "$SLUICE_HOME/sluice.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
  INSERT INTO connections (name, source_id, destination_id, schedule, schema_policy, status, created_at, updated_at)
  SELECT printf('conn-%05d', i), 1, 2, 'manual', 'propagate_columns', 'active', 0, 0 FROM n"
TOKEN=bench-token-0123456789abcdef
echo "$TOKEN" >"$TMP/token"
start_server() { # start_server BIN_DIR: sets SERVER and URL
  rm -f "$TMP/port"
  "$1/sluice" server --port 0 --port-file "$TMP/port" --token-file "$TMP/token" --tick-ms 60000 2>"$TMP/server.err" &
  SERVER=$!
  for _ in $(seq 1 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
  URL=http://127.0.0.1:$(cat "$TMP/port")/v1
  got=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/connections" | jq length)
  [ "$got" = "$N" ] || { echo "bench/platform.sh: the list has $got connections, not $N" >&2; exit 1; }
}
stop_server() { kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=''; }
clk=$(getconf CLK_TCK)
measure() { # measure PATH -> "median_ms p99_ms req_per_s cpu_ms_per_req"
  local c0 c1
  c0=$(awk '{print $14 + $15}' /proc/$SERVER/stat)
  wrk -t2 -c8 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$URL$1" >"$TMP/wrk.out"
  c1=$(awk '{print $14 + $15}' /proc/$SERVER/stat)
  awk -v c0="$c0" -v c1="$c1" -v hz="$clk" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { med = ms($2) } $1 == "99%" { p99 = ms($2) } $1 ~ /^[0-9]+$/ && $2 == "requests" { n = $1 } $1 == "Requests/sec:" { rps = $2 }
    END { printf "%.3f %.3f %.0f %.3f\n", med, p99, rps, n ? (c1 - c0) * 1000 / hz / n : 0 }' "$TMP/wrk.out"
}
start_server "$BIN"
read -r hm hp hr hc < <(measure /health)
read -r lm lp lr lc < <(measure /connections)
bytes=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/connections" | wc -c)
stop_server
if [ -n "${BENCH_OLD_BIN:-}" ]; then
  start_server "$(cd "$BENCH_OLD_BIN" && pwd)"
  read -r om op or oc < <(measure /connections)
  stop_server
fi
printf '%-34s %10s %10s %10s %14s\n' "request (wrk -t2 -c8, ${SECS}s)" "median ms" "p99 ms" "req/s" "CPU ms/req"
printf '%-34s %10s %10s %10s %14s\n' "GET /v1/health (baseline)" "$hm" "$hp" "$hr" "$hc"
printf '%-34s %10s %10s %10s %14s\n' "GET /v1/connections ($N)" "$lm" "$lp" "$lr" "$lc"
[ -n "${BENCH_OLD_BIN:-}" ] && printf '%-34s %10s %10s %10s %14s\n' "GET /v1/connections, old build" "$om" "$op" "$or" "$oc"
awk -v a="$lm" -v b="$hm" -v n="$bytes" 'BEGIN { printf "list/health median ratio: %.1fx; list body %d bytes\n", (b > 0 ? a / b : 0), n }'
[ -n "${BENCH_OLD_BIN:-}" ] && awk -v a="$lm" -v o="$om" -v c="$lc" -v oc="$oc" \
  'BEGIN { printf "list, this build / old build: median %.2fx, CPU per request %.2fx\n", (o > 0 ? a / o : 0), (oc > 0 ? c / oc : 0) }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
