#!/usr/bin/env bash
# bench/builder.sh: what a builder test read costs over a plain read of the
# same manifest, and what the page weighs.
#
# The mock server (tests/mock/mock_http.py --bench-pages P) serves P pages of
# 1,000 records; bench/lowcode/manifest.yaml reads them all. Baseline, same
# run, same server: `source-declarative-manifest read` of that manifest
# (records to /dev/null). Measured against it, best wall time of RUNS
# interleaved runs each:
#   test-read (CLI)  `sluice builder test-read` with limits that let every
#                    page through (child process, debug log parsed into
#                    requests/responses, bodies kept and masked, schema
#                    inference, warnings, the JSON result printed);
#   test-read (API)  POST /api/test_read to a running `sluice builder` (the
#                    same plus HTTP and the answer the page receives).
# Page weight: the bytes of /, and of every script and style sheet it loads.
# Nothing is asserted; the lines go to docs/performance.md (builder section).
#
# Usage: bench/builder.sh [BUILD_DIR]    (default build)
#   BENCH_PAGES=n   pages of 1,000 records (default 5: a test read shows every page)
#   BENCH_RUNS=r    runs of each, best kept (default 3)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PAGES=${BENCH_PAGES:-5}
RUNS=${BENCH_RUNS:-3}
SL="$BUILD/bin/sluice"
SDM="$BUILD/bin/source-declarative-manifest"
for b in "$SL" "$SDM"; do [ -x "$b" ] || { echo "bench/builder.sh: $b missing (make BUILD=$BUILD all)" >&2; exit 2; }; done
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-builder-XXXXXX")
MOCK_PID='' SRV_PID=''
cleanup() {
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }

/usr/bin/python3 tests/mock/mock_http.py --bench-pages "$PAGES" --port-file "$W/port" 2>"$W/mock.err" &
MOCK_PID=$!
wait_file "$W/port" || { echo "mock server did not start: $(cat "$W/mock.err")" >&2; exit 1; }
BASE="http://127.0.0.1:$(cat "$W/port")"
echo "{\"base_url\": \"$BASE\"}" >"$W/config.json"
M=bench/lowcode/manifest.yaml
RECS=$((PAGES * 1000))

"$SL" builder --port 0 --port-file "$W/srv.port" "$W/project" >/dev/null 2>"$W/srv.err" &
SRV_PID=$!
wait_file "$W/srv.port" || { echo "builder did not start: $(cat "$W/srv.err")" >&2; exit 1; }
SRV="http://127.0.0.1:$(cat "$W/srv.port")"
jq -n --rawfile y "$M" --slurpfile c "$W/config.json" --argjson n "$RECS" --argjson p "$((PAGES + 1))" \
  '{yaml: $y, stream: "users", config: $c[0], max_records: $n, max_pages: $p}' >"$W/req.json"
# What the page sends by default (100 records, 5 pages, 5 slices).
jq '{yaml, stream, config}' "$W/req.json" >"$W/req-default.json"

plain() { "$SDM" read --config "$W/config.json" --catalog bench/lowcode/catalog.json --manifest-path "$M"; }
cli() { "$SL" builder test-read "$M" --stream users --config "$W/config.json" --max-records "$RECS" --max-pages "$((PAGES + 1))"; }
apiread() { curl -s -H 'Content-Type: application/json' --data-binary "@$W/req.json" "$SRV/api/test_read"; }

# Correctness first: all three see every record (warms the mock's page cache).
got=$(plain | grep -c '"type":"RECORD"')
[ "$got" = "$RECS" ] || { echo "bench/builder.sh: plain read got $got records, expected $RECS" >&2; exit 1; }
got=$(cli | jq '.records_total')
[ "$got" = "$RECS" ] || { echo "bench/builder.sh: test-read got $got records, expected $RECS" >&2; exit 1; }
apiread >"$W/api.json"
got=$(jq '.records_total' "$W/api.json")
[ "$got" = "$RECS" ] || { echo "bench/builder.sh: API test read got $got records, expected $RECS" >&2; exit 1; }
answer=$(wc -c <"$W/api.json")

best() { awk 'NR==1 || $1 < m {m = $1} END {print m}' "$1"; }
: >"$W/plain.t"; : >"$W/cli.t"; : >"$W/api.t"; : >"$W/def.t"
for _ in $(seq "$RUNS"); do
  /usr/bin/time -f "%e" -a -o "$W/plain.t" "$SDM" read --config "$W/config.json" --catalog bench/lowcode/catalog.json \
    --manifest-path "$M" >/dev/null
  /usr/bin/time -f "%e" -a -o "$W/cli.t" "$SL" builder test-read "$M" --stream users --config "$W/config.json" \
    --max-records "$RECS" --max-pages "$((PAGES + 1))" >/dev/null
  /usr/bin/time -f "%e" -a -o "$W/api.t" curl -s -H 'Content-Type: application/json' --data-binary "@$W/req.json" \
    "$SRV/api/test_read" -o /dev/null
  /usr/bin/time -f "%e" -a -o "$W/def.t" curl -s -H 'Content-Type: application/json' --data-binary "@$W/req-default.json" \
    "$SRV/api/test_read" -o /dev/null
done
p=$(best "$W/plain.t") c=$(best "$W/cli.t") a=$(best "$W/api.t") d=$(best "$W/def.t")
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "n/a" }'; }

# The page: index.html and what it loads.
page=0 files=0
for u in / $(curl -s "$SRV/" | grep -oE '(src|href)="/[^"]+"' | sed -E 's/^[a-z]+="//; s/"$//'); do
  n=$(curl -s -o /dev/null -w '%{size_download}' "$SRV$u")
  page=$((page + n)) files=$((files + 1))
done

echo "builder bench: $PAGES pages x 1,000 records (best of $RUNS, git $(git rev-parse --short HEAD 2>/dev/null), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1 /proc/loadavg))"
echo "  plain read (source-declarative-manifest)  ${p} s"
echo "  test-read (CLI)                           ${c} s   ratio to plain $(ratio "$c" "$p")"
echo "  test-read (API, answer $((answer / 1024)) KiB)          ${a} s   ratio to plain $(ratio "$a" "$p")"
echo "  test read with the page's default limits (100 records: 1 page)  ${d} s"
echo "  page: $files files, $page bytes ($((page / 1024)) KiB), no third-party requests"
