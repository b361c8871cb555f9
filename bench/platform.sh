#!/usr/bin/env bash
# bench/platform.sh: how much the platform's REST API adds. A store with
# N connections (default 1000), `sluice server` on loopback, and wrk
# against GET /v1/connections (the whole list, JSON) and, as the baseline
# measured in the same run against the same server, GET /v1/health (auth
# and routing only, no store). Prints the median and p99 latencies and
# requests/s of both and their ratio. Nothing is asserted.
# usage: bench/platform.sh [BIN_DIR]   (BENCH_N=connections, BENCH_SECONDS=5)
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
"$S" server --port 0 --port-file "$TMP/port" --token-file "$TMP/token" --tick-ms 60000 2>"$TMP/server.err" &
SERVER=$!
for _ in $(seq 1 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$TMP/port")/v1
got=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/connections" | jq length)
[ "$got" = "$N" ] || { echo "bench/platform.sh: the list has $got connections, not $N" >&2; exit 1; }

measure() { # measure PATH -> "median_ms p99_ms req_per_s"
  wrk -t2 -c8 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$URL$1" >"$TMP/wrk.out"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { med = ms($2) } $1 == "99%" { p99 = ms($2) } $1 == "Requests/sec:" { rps = $2 }
    END { printf "%.3f %.3f %.0f\n", med, p99, rps }' "$TMP/wrk.out"
}
read -r hm hp hr < <(measure /health)
read -r lm lp lr < <(measure /connections)
bytes=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/connections" | wc -c)
printf '%-32s %10s %10s %10s\n' "request (wrk -t2 -c8, ${SECS}s)" "median ms" "p99 ms" "req/s"
printf '%-32s %10s %10s %10s\n' "GET /v1/health (baseline)" "$hm" "$hp" "$hr"
printf '%-32s %10s %10s %10s\n' "GET /v1/connections ($N)" "$lm" "$lp" "$lr"
awk -v a="$lm" -v b="$hm" -v n="$bytes" 'BEGIN { printf "list/health median ratio: %.1fx; list body %d bytes\n", (b > 0 ? a / b : 0), n }'
