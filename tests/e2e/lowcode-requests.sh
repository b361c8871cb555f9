#!/usr/bin/env bash
# Authenticators, typed request bodies and routers of the declarative engine
# beyond the data cases of lowcode.sh (which run tests/data/lowcode/jwt_*,
# request_body_*, legacy_session_token, routers_*, grouping_*):
# - the builder's test read (`sluice builder test-read`) of a GraphQL body and
#   of a JwtAuthenticator stream: the request it shows, the token masked, and
#   the token the mock received verified with the public key;
# - corpus manifests this work made valid are accepted, and
#   source-metabase.yaml (LegacySessionTokenAuthenticator) syncs end to end
#   against a TLS mock of its API. Skipped when the corpus is absent.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
CASES="$ROOT/tests/data/lowcode"
. "$ROOT/tests/mock/lowcode_run.sh"
trap 'mock_stop; e2e_cleanup' EXIT

# test_read NAME CASE STREAM EXCHANGE_INDEX...: serves those replies of CASE,
# runs the builder's test read of STREAM; the structure in $TMP/NAME.out.
test_read() {
  local name=$1 case=$2 stream=$3 w="$TMP/$1"
  shift 3
  mkdir -p "$w"
  /usr/bin/python3 "$CASE_PY" prepare "$CASES/$case" "$w"
  /usr/bin/python3 - "$w/replies.json" "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
json.dump([r[int(i)] for i in sys.argv[2:]], open(sys.argv[1], "w"))
PY
  if ! mock_start "$w"; then fail "$name" "mock server did not start"; return 1; fi
  /usr/bin/python3 "$CASE_PY" config "$CASES/$case" "$w" "$MOCK_URL"
  run "$name" timeout -k 5 30 "$BIN/sluice" builder test-read "$CASES/$case/manifest.yaml" --stream "$stream" \
    --config "$w/config.json"
  mock_stop
  expect_rc "$name" 0
}

# jq_eq NAME RUN FILTER EXPECTED: the test read's FILTER is EXPECTED.
jq_eq() { expect_eq "$1" "$(jq -c "$3" "$TMP/$2.out" 2>&1)" "$4"; }

# ---- the builder's test read: a GraphQL body ----
if test_read tr_graphql request_body_typed graphql 4; then
  jq_eq tr_graphql/method tr_graphql '.slices[0].pages[0].request.method' '"POST"'
  jq_eq tr_graphql/content_type tr_graphql '.slices[0].pages[0].request.headers["Content-Type"]' '"application/json"'
  jq_eq tr_graphql/body tr_graphql '.slices[0].pages[0].request.body | fromjson' \
    '{"query":"query Items($region: String!) { items(region: $region, first: 50) { id } }","variables":{"region":"eu-west"},"operationName":"Items"}'
  jq_eq tr_graphql/records tr_graphql '.records_total' '1'
fi
# a plain-text body is shown as sent, without a Content-Type
if test_read tr_plain request_body_typed plain 0; then
  jq_eq tr_plain/body tr_plain '.slices[0].pages[0].request.body' "\"select * from orders where region = 'eu-west'\""
  jq_eq tr_plain/no_content_type tr_plain '.slices[0].pages[0].request.headers["Content-Type"]' 'null'
fi

# ---- the builder's test read: JwtAuthenticator (issue 7: it failed before) ----
if test_read tr_jwt jwt_algorithms hs512_full 2; then
  jq_eq tr_jwt/records tr_jwt '.records_total' '1'
  jq_eq tr_jwt/masked tr_jwt '.slices[0].pages[0].request.headers.Authorization | test("^JWT eyJ")' 'false'
  if grep -q 'hmac-secret-0123456789abcdef0123' "$TMP/tr_jwt.out"; then fail tr_jwt/secret "the HMAC secret leaked"; else pass tr_jwt/secret; fi
  # the token the mock received verifies (signature, header, claims, duration)
  problems=$(/usr/bin/python3 - "$CASES/jwt_algorithms/exchanges.json" "$TMP/tr_jwt/requests.jsonl" "$ROOT/tests/mock" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[3])
import jwt_check
want = json.load(open(sys.argv[1]))[2]["request"]["jwt"]
got = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
p = []
if len(got) != 1:
    p.append("%d requests, expected 1" % len(got))
else:
    jwt_check.check("test read", want, got[0], p)
print("\n".join(p))
PY
)
  if [ -z "$problems" ]; then pass tr_jwt/verified; else fail tr_jwt/verified "$problems"; fi
fi

# ---- corpus manifests ----
if [ ! -d "$CORPUS" ]; then
  skip=1
  echo "skip corpus checks: $CORPUS is absent"
else
  skip=0
  corpus_validate metabase criteo-marketing feishu
fi
# source-metabase.yaml (LegacySessionTokenAuthenticator) syncs end to end
# against a mock of Metabase's API; its spec demands https://, so the mock
# serves TLS with a certificate made here (SSL_CERT_FILE points at it). The
# configured session token is refused (401), the connector logs in, then reads.
if [ "$skip" = 0 ] && [ -f "$CORPUS/source-metabase.yaml" ]; then
  MB="$ROOT/tests/data/lowcode-requests/metabase"
  w="$TMP/metabase"
  mkdir -p "$w"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$w/key.pem" -out "$w/cert.pem" 2>"$w/openssl.err"
  /usr/bin/python3 "$ROOT/tests/mock/mock_https.py" --routes "$MB/routes.json" --cert "$w/cert.pem" --key "$w/key.pem" \
    --log "$w/requests.jsonl" --port-file "$w/port" 2>"$w/mock.err" &
  MOCK_PID=$!
  if wait_for 100 test -s "$w/port"; then
    sed "s|@MOCK@|https://127.0.0.1:$(cat "$w/port")|" "$MB/config.json" >"$w/config.json"
    echo "{\"destination_path\": \"$w/out\"}" >"$w/dest.json"
    SSL_CERT_FILE="$w/cert.pem" run_sync corpus_metabase_sync --source "$CORPUS/source-metabase.yaml" \
      --source-config "$w/config.json" --catalog "$MB/catalog.json" --destination destination-jsonl \
      --destination-config "$w/dest.json" --state-file "$w/state.json"
    mock_stop
    expect_rc corpus_metabase_sync 0
    expect_eq corpus_metabase_sync/cards "$(cat "$w"/out/*cards* 2>/dev/null | jq -r '.. | .name? // empty' | tr '\n' ' ')" \
      "Revenue Churn "
    expect_eq corpus_metabase_sync/users "$(cat "$w"/out/*users* 2>/dev/null | jq -r '.. | .email? // empty' | tr '\n' ' ')" \
      "ana@example.test "
    # per stream: the configured token checked, refused, a login, the read
    expect_eq corpus_metabase_sync/requests "$(jq -r '.method + " " + .path' "$w/requests.jsonl" | tr '\n' ',')" \
      "GET /api/user/current,POST /api/session,GET /api/card,GET /api/user/current,POST /api/session,GET /api/user,"
    expect_eq corpus_metabase_sync/login_body "$(jq -c 'select(.method == "POST") | .body | fromjson' "$w/requests.jsonl" | sort -u)" \
      '{"username":"ana@example.test","password":"mb-pass-9"}'
    if grep -rq 'mb-session-42\|mb-pass-9' "$TMP/corpus_metabase_sync.out" "$TMP/corpus_metabase_sync.err"; then
      fail corpus_metabase_sync/secrets "the session or the password leaked"
    else pass corpus_metabase_sync/secrets; fi
  else
    fail corpus_metabase_sync "the TLS mock did not start: $(head -c 300 "$w/mock.err" "$w/openssl.err")"
    mock_stop
  fi
fi
finish
