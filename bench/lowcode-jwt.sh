#!/usr/bin/env bash
# bench/lowcode-jwt.sh: what JwtAuthenticator costs per request, against a
# BearerAuthenticator baseline in the same run, same server.
#
# The mock (tests/mock/mock_http.py --bench-pages) serves P pages of one
# record, so every record is one request. Variants: bearer (a static token,
# the baseline), hs256, rs256, es256, eddsa (sluice reuses a token for up
# to a minute), and rs256-each and es256-each (token_duration 0: a new token
# for every request, as the CDK signs). Keys are made here with openssl.
# Runs are interleaved and the best of BENCH_RUNS kept. Nothing is asserted:
# the lines print the connector's CPU per request and the ratio to bearer.
#
# Usage: bench/lowcode-jwt.sh [BUILD_DIR]   (default build)
#   BENCH_PAGES=p  requests per run (default 1000)
#   BENCH_RUNS=r   runs of each variant (default 3)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
P=${BENCH_PAGES:-1000}
RUNS=${BENCH_RUNS:-3}
SDM="$BUILD/bin/source-declarative-manifest"
[ -x "$SDM" ] || { echo "bench/lowcode-jwt.sh: $SDM missing (make BUILD=$BUILD all)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-jwt-XXXXXX")
MOCK_PID=''
cleanup() {
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/rsa.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$W/ec.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$W/ed.pem" 2>/dev/null
/usr/bin/python3 tests/mock/mock_http.py --bench-pages "$P" --bench-records 1 --port-file "$W/port" 2>"$W/mock.err" &
MOCK_PID=$!
for _ in $(seq 300); do [ -s "$W/port" ] && break; sleep 0.1; done
[ -s "$W/port" ] || { echo "mock server did not start: $(cat "$W/mock.err")" >&2; exit 1; }

variants="bearer hs256 rs256 es256 eddsa rs256-each es256-each"
/usr/bin/python3 - "$W" "http://127.0.0.1:$(cat "$W/port")" $variants <<'PY'
import json, sys
w, url, variants = sys.argv[1], sys.argv[2], sys.argv[3:]
keys = {"rs": open(w + "/rsa.pem").read(), "es": open(w + "/ec.pem").read(), "ed": open(w + "/ed.pem").read()}
json.dump({"base_url": url, "token": "static-token", "secret": "hmac-secret-0123456789", **keys}, open(w + "/config.json", "w"))
auths = {
    "bearer": {"type": "BearerAuthenticator", "api_token": "{{ config['token'] }}"},
    "hs256": {"type": "JwtAuthenticator", "algorithm": "HS256", "secret_key": "{{ config['secret'] }}"},
    "rs256": {"type": "JwtAuthenticator", "algorithm": "RS256", "secret_key": "{{ config['rs'] }}"},
    "es256": {"type": "JwtAuthenticator", "algorithm": "ES256", "secret_key": "{{ config['es'] }}"},
    "eddsa": {"type": "JwtAuthenticator", "algorithm": "EdDSA", "secret_key": "{{ config['ed'] }}"},
    "rs256-each": {"type": "JwtAuthenticator", "algorithm": "RS256", "secret_key": "{{ config['rs'] }}", "token_duration": 0},
    "es256-each": {"type": "JwtAuthenticator", "algorithm": "ES256", "secret_key": "{{ config['es'] }}", "token_duration": 0},
}
for v in variants:
    m = {"version": "6.0.0", "type": "DeclarativeSource", "check": {"type": "CheckStream", "stream_names": ["bench"]},
         "streams": [{"type": "DeclarativeStream", "name": "bench", "retriever": {"type": "SimpleRetriever",
             "requester": {"type": "HttpRequester", "url_base": "{{ config['base_url'] }}", "path": "/bench",
                           "authenticator": auths[v]},
             "record_selector": {"type": "RecordSelector", "extractor": {"type": "DpathExtractor", "field_path": ["data"]}},
             "paginator": {"type": "DefaultPaginator", "pagination_strategy": {"type": "CursorPagination",
                 "cursor_value": "{{ response.next }}", "stop_condition": "{{ not response.next }}"},
                 "page_token_option": {"type": "RequestPath"}}},
             "schema_loader": {"type": "InlineSchemaLoader", "schema": {"type": "object"}}}],
         "spec": {"type": "Spec", "connection_specification": {"type": "object"}}}
    json.dump(m, open("%s/%s.json" % (w, v), "w"))
json.dump({"streams": [{"stream": {"name": "bench", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                        "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}, open(w + "/catalog.json", "w"))
PY
declare -A best_cpu best_wall
for v in $variants; do best_cpu[$v]=999999; best_wall[$v]=999999; done
for _ in $(seq "$RUNS"); do
  for v in $variants; do
    # YAML is a superset of JSON: the manifest file is JSON
    cp "$W/$v.json" "$W/$v.yaml"
    /usr/bin/time -f '%e %U %S' -o "$W/time" "$SDM" read --manifest-path "$W/$v.yaml" --config "$W/config.json" \
      --catalog "$W/catalog.json" >"$W/out-$v.jsonl" 2>"$W/err-$v"
    got=$(grep -c '"type":"RECORD"' "$W/out-$v.jsonl")
    if [ "$got" != "$P" ]; then echo "$v: $got records, expected $P: $(tail -n 2 "$W/err-$v")" >&2; exit 1; fi
    read -r wall usr sys <"$W/time"
    cpu=$(echo "$usr + $sys" | bc)
    (( $(echo "$cpu < ${best_cpu[$v]}" | bc) )) && best_cpu[$v]=$cpu
    (( $(echo "$wall < ${best_wall[$v]}" | bc) )) && best_wall[$v]=$wall
  done
done
printf '%-11s %8s %8s %14s %12s\n' variant wall_s cpu_s cpu_us/request cpu_vs_bearer
for v in $variants; do
  c=${best_cpu[$v]}
  printf '%-11s %8s %8s %14.0f %12.2f\n' "$v" "${best_wall[$v]}" "$c" "$(echo "$c * 1000000 / $P" | bc -l)" \
    "$(echo "$c / (${best_cpu[bearer]} + 0.001)" | bc -l)"
done
