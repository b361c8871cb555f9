#!/usr/bin/env bash
# bench/lowcode.sh: the declarative runtime's read throughput on loopback.
#
# The mock server (tests/mock/mock_http.py --bench-pages) serves 1,000-record
# pages (10 fields, nested object and array, ~190 bytes a record) with a
# next-page URL in the body; bench/lowcode/manifest.yaml reads them with
# CursorPagination + RequestPath. Baseline, same run, same server: plain
# `curl` fetching the same pages over one connection into /dev/null. Runs
# are interleaved (curl, engine, curl, engine, ...) and the best wall time of
# each is kept; the engine's CPU time (user+sys) is printed too, because on a
# shared 2-core machine the wall time includes waiting for a core.
# Nothing is asserted: the line says whether 100,000 records/s was reached.
#
# Usage: bench/lowcode.sh [BUILD_DIR]    (default build)
#   BENCH_PAGES=n   pages of 1,000 records (default 200)
#   BENCH_RUNS=r    runs of each, best kept (default 3)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PAGES=${BENCH_PAGES:-200}
RUNS=${BENCH_RUNS:-3}
SDM="$BUILD/bin/source-declarative-manifest"
[ -x "$SDM" ] || { echo "bench/lowcode.sh: $SDM missing (make BUILD=$BUILD all)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench/lowcode.sh: curl is required" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-lowcode-XXXXXX")
MOCK_PID=''
cleanup() {
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

/usr/bin/python3 tests/mock/mock_http.py --bench-pages "$PAGES" --port-file "$W/port" 2>"$W/mock.err" &
MOCK_PID=$!
for _ in $(seq 300); do [ -s "$W/port" ] && break; sleep 0.1; done
[ -s "$W/port" ] || { echo "mock server did not start: $(cat "$W/mock.err")" >&2; exit 1; }
BASE="http://127.0.0.1:$(cat "$W/port")"
echo "{\"base_url\": \"$BASE\"}" >"$W/config.json"
urls=()
for k in $(seq 1 "$PAGES"); do urls+=("$BASE/bench?page=$k"); done

# Warm the server's page cache (bodies are built on first request).
curl -s "${urls[@]}" >/dev/null
bytes=$(curl -s "${urls[@]}" | wc -c)

# Correctness first: every record arrives.
got=$("$SDM" read --config "$W/config.json" --catalog bench/lowcode/catalog.json \
  --manifest-path bench/lowcode/manifest.yaml | grep -c '"type":"RECORD"')
want=$((PAGES * 1000))
if [ "$got" != "$want" ]; then echo "bench/lowcode.sh: read $got records, expected $want" >&2; exit 1; fi

best() { awk 'NR==1 || $1 < m {m = $1} END {print m}'; }
: >"$W/curl.t"
: >"$W/sdm.t"
: >"$W/sdmt.t"
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %U %S" -a -o "$W/curl.t" curl -s "${urls[@]}" >/dev/null
  /usr/bin/time -f "%e %U %S" -a -o "$W/sdm.t" "$SDM" read --config "$W/config.json" \
    --catalog bench/lowcode/catalog.json --manifest-path bench/lowcode/manifest.yaml >/dev/null
  /usr/bin/time -f "%e %U %S" -a -o "$W/sdmt.t" "$SDM" read --config "$W/config.json" \
    --catalog bench/lowcode/catalog.json --manifest-path bench/lowcode/manifest-transform.yaml >/dev/null
done
sdmt_s=$(best <"$W/sdmt.t")
curl_s=$(best <"$W/curl.t")
sdm_s=$(best <"$W/sdm.t")
sdm_cpu=$(awk '{c = $2 + $3} NR==1 || c < m {m = c} END {print m}' "$W/sdm.t")
awk -v n="$want" -v b="$bytes" -v c="$curl_s" -v s="$sdm_s" -v cpu="$sdm_cpu" -v p="$PAGES" -v t="$sdmt_s" 'BEGIN {
  rps = s > 0 ? n / s : 0; rpc = cpu > 0 ? n / cpu : 0
  printf "lowcode read: %d pages x 1,000 records (%.1f MB of JSON), best of runs\n", p, b / 1e6
  printf "  plain curl (same pages, one connection)  %7.3f s  %8.1f MB/s\n", c, (c > 0 ? b / 1e6 / c : 0)
  printf "  source-declarative-manifest read         %7.3f s  %8.0f records/s  (CPU %.3f s: %.0f records/s of CPU)\n", s, rps, cpu, rpc
  printf "  the same with AddFields (jansson path)   %7.3f s  %8.0f records/s\n", t, (t > 0 ? n / t : 0)
  printf "  ratio engine/curl wall time              %7.2f\n", (c > 0 ? s / c : 0)
  printf "  target 100,000 records/s (wall): %s\n", (rps >= 100000 ? "reached" : "UNDER")
}'
