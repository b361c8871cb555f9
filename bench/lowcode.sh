#!/usr/bin/env bash
# bench/lowcode.sh: the declarative runtime's read throughput on loopback.
#
# The mock server (tests/mock/mock_http.py --bench-pages) serves 1,000-record
# pages (10 fields, nested object and array, ~190 bytes a record) with a
# next-page URL in the body; bench/lowcode/manifest.yaml reads them with
# CursorPagination + RequestPath. Baseline, same run, same server: plain
# `curl` fetching the same pages over one connection into /dev/null.
# Variants: the plain path with and without prefetching the next page
# (SLUICE_PREFETCH), a RecordFilter + AddFields + RemoveFields stream on the
# view path (manifest-transform.yaml), and the same forced onto the jansson
# path (manifest-jansson.yaml). Runs are interleaved (curl, each variant,
# curl, ...) and the best wall and best CPU (user+sys) of each are kept: on
# a shared 2-core machine the wall time includes waiting for a core.
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
bestcpu() { awk '{c = $2 + $3} NR==1 || c < m {m = c} END {print m}'; }
# variant name | manifest | SLUICE_PREFETCH
variants=(
  "plain|manifest.yaml|1"
  "plain, no prefetch|manifest.yaml|0"
  "filter+AddFields+RemoveFields (view path)|manifest-transform.yaml|1"
  "the same on the jansson path|manifest-jansson.yaml|1"
)
: >"$W/curl.t"
for i in "${!variants[@]}"; do : >"$W/v$i.t"; done
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %U %S" -a -o "$W/curl.t" curl -s "${urls[@]}" >/dev/null
  for i in "${!variants[@]}"; do
    IFS='|' read -r _ man pf <<<"${variants[$i]}"
    SLUICE_PREFETCH=$pf /usr/bin/time -f "%e %U %S" -a -o "$W/v$i.t" "$SDM" read --config "$W/config.json" \
      --catalog bench/lowcode/catalog.json --manifest-path "bench/lowcode/$man" >/dev/null
  done
done
curl_s=$(best <"$W/curl.t")
printf 'lowcode read: %d pages x 1,000 records (%.1f MB of JSON), best of %d interleaved runs, load %s\n' \
  "$PAGES" "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')" "$RUNS" "$(cut -d' ' -f1 /proc/loadavg)"
printf '  %-44s %8s %12s %8s %14s %10s\n' variant wall records/s CPU "records/s CPU" "wall/curl"
printf '  %-44s %7.3fs %12s %8s %14s %10s\n' "plain curl (same pages, one connection)" "$curl_s" - - - 1.00
plain_rps=0
for i in "${!variants[@]}"; do
  IFS='|' read -r name _ _ <<<"${variants[$i]}"
  w=$(best <"$W/v$i.t")
  c=$(bestcpu <"$W/v$i.t")
  line=$(awk -v n="$want" -v w="$w" -v c="$c" -v cu="$curl_s" -v name="$name" 'BEGIN {
    printf "  %-44s %7.3fs %12.0f %7.3fs %14.0f %10.2f", name, w, (w > 0 ? n / w : 0), c, (c > 0 ? n / c : 0), (cu > 0 ? w / cu : 0) }')
  echo "$line"
  [ "$i" = 0 ] && plain_rps=$(awk -v n="$want" -v w="$w" 'BEGIN {print (w > 0 ? n / w : 0)}')
done
awk -v r="$plain_rps" 'BEGIN { printf "  target 100,000 records/s (wall, plain): %s\n", (r >= 100000 ? "reached" : "UNDER") }'
