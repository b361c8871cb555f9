#!/usr/bin/env bash
# bench/lowcode-decoders.sh: the declarative runtime's non-JSON decoders
# against its JsonDecoder path, same records, same run, same server.
#
# One page of N records (5 string fields, ~90 bytes a record) is served on
# loopback by tests/mock/mock_http.py --routes in five encodings: a JSON
# object {"data": [...]} (JsonDecoder, the baseline), JSON lines
# (JsonlDecoder), CSV (CsvDecoder), gzip'ed JSON lines (GzipDecoder +
# JsonlDecoder) and XML (XmlDecoder). Each variant is one stream of
# bench/lowcode-decoders/manifest.yaml; runs are interleaved and the best of
# BENCH_RUNS kept (wall and CPU). Nothing is asserted: the lines print
# records per CPU-second and each decoder's CPU and wall time relative to
# JsonDecoder's (1.00 = as cheap; 2.00 = twice the time).
#
# Usage: bench/lowcode-decoders.sh [BUILD_DIR]   (default build)
#   BENCH_RECORDS=n  records per page (default 100000)
#   BENCH_RUNS=r     runs of each variant (default 3)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${BENCH_RECORDS:-100000}
RUNS=${BENCH_RUNS:-3}
SDM="$BUILD/bin/source-declarative-manifest"
[ -x "$SDM" ] || { echo "bench/lowcode-decoders.sh: $SDM missing (make BUILD=$BUILD all)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-decoders-XXXXXX")
MOCK_PID=''
cleanup() {
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

/usr/bin/python3 - "$N" "$W/routes.json" <<'PY'
import base64, gzip, json, sys
n, out = int(sys.argv[1]), sys.argv[2]
recs = [{"id": str(i), "name": "user %d" % i, "email": "u%d@example.com" % i, "city": "Springfield",
         "created": "2024-01-%02dT10:00:00Z" % (i % 28 + 1)} for i in range(n)]
jsonl = "".join(json.dumps(r) + "\n" for r in recs)
cols = list(recs[0])
csv = ",".join(cols) + "\n" + "".join(",".join(r[c] for c in cols) + "\n" for r in recs)
xml = "<data>" + "".join("<r>" + "".join("<%s>%s</%s>" % (c, r[c], c) for c in cols) + "</r>" for r in recs) + "</data>"
routes = [
    {"request": {"path": "/json"}, "reply": {"status": 200, "json": {"data": recs}}},
    {"request": {"path": "/jsonl"}, "reply": {"status": 200, "body": jsonl}},
    {"request": {"path": "/csv"}, "reply": {"status": 200, "body": csv}},
    {"request": {"path": "/gz"}, "reply": {"status": 200, "body_b64": base64.b64encode(gzip.compress(jsonl.encode())).decode()}},
    {"request": {"path": "/xml"}, "reply": {"status": 200, "body": xml}},
]
json.dump(routes, open(out, "w"))
PY
/usr/bin/python3 tests/mock/mock_http.py --routes "$W/routes.json" --port-file "$W/port" 2>"$W/mock.err" &
MOCK_PID=$!
for _ in $(seq 300); do [ -s "$W/port" ] && break; sleep 0.1; done
[ -s "$W/port" ] || { echo "mock server did not start: $(cat "$W/mock.err")" >&2; exit 1; }
echo "{\"base_url\": \"http://127.0.0.1:$(cat "$W/port")\"}" >"$W/config.json"

variants="json jsonl csv gz xml"
declare -A best_wall best_cpu
for v in $variants; do best_wall[$v]=999999; best_cpu[$v]=999999; done
for _ in $(seq "$RUNS"); do
  for v in $variants; do
    sed "s/@STREAM@/$v/" bench/lowcode-decoders/catalog.json >"$W/catalog-$v.json"
    /usr/bin/time -f '%e %U %S' -o "$W/time" "$SDM" read --manifest-path bench/lowcode-decoders/manifest.yaml \
      --config "$W/config.json" --catalog "$W/catalog-$v.json" >"$W/out-$v.jsonl" 2>"$W/err-$v"
    got=$(grep -c '"type":"RECORD"' "$W/out-$v.jsonl")
    if [ "$got" != "$N" ]; then echo "$v: $got records, expected $N: $(tail -n 2 "$W/err-$v")" >&2; exit 1; fi
    read -r wall usr sys <"$W/time"
    cpu=$(echo "$usr + $sys" | bc)
    (( $(echo "$wall < ${best_wall[$v]}" | bc) )) && best_wall[$v]=$wall
    (( $(echo "$cpu < ${best_cpu[$v]}" | bc) )) && best_cpu[$v]=$cpu
  done
done
# The mock server is Python and builds each body as it sends it, so the wall
# time is mostly the server's; CPU (user+sys of the connector) is the figure
# that measures the decoders.
printf '%-6s %8s %8s %14s %12s %12s\n' decoder wall_s cpu_s records/cpu_s cpu_vs_json wall_vs_json
for v in $variants; do
  w=${best_wall[$v]} c=${best_cpu[$v]}
  printf '%-6s %8s %8s %14.0f %12.2f %12.2f\n' "$v" "$w" "$c" "$(echo "$N / ($c + 0.001)" | bc -l)" \
    "$(echo "$c / (${best_cpu[json]} + 0.001)" | bc -l)" "$(echo "$w / (${best_wall[json]} + 0.001)" | bc -l)"
done
