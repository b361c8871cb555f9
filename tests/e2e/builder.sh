#!/usr/bin/env bash
# The connector builder: `sluice builder test-read` on every case directory
# under tests/data/builder/ against the local mock API (tests/mock/), then the
# builder's HTTP server and its JSON endpoints. A case holds manifest.yaml,
# config.json (@MOCK@ = the mock's URL), replies.json (the mock's replies in
# order; the word "hang" instead: a server that accepts and never answers),
# optional args (extra test-read options), rc (expected exit status) and
# checks.jq (one jq expression per line, each true on the result).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
CASES="$ROOT/tests/data/builder"
MOCK="$ROOT/tests/mock/mock_http.py"
export SLUICE_BACKOFF_SCALE=0
MOCK_PID=''

mock_start() { # mock_start WORKDIR REPLIES: sets MOCK_URL
  local w=$1 replies=$2
  rm -f "$w/port"
  if [ "$(cat "$replies")" = hang ]; then
    /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True: held.append(s.accept())' "$w/port" 2>"$w/mock.err" &
  else
    /usr/bin/python3 "$MOCK" "${MOCK_MODE:---replies}" "$replies" --log "$w/requests.jsonl" --port-file "$w/port" 2>"$w/mock.err" &
  fi
  MOCK_PID=$!
  if ! wait_for 100 test -s "$w/port"; then
    echo "mock server did not start: $(cat "$w/mock.err")" >&2
    return 1
  fi
  MOCK_URL="http://127.0.0.1:$(cat "$w/port")"
}
mock_start_routes() { MOCK_MODE=--routes mock_start "$@"; }
mock_stop() {
  if [ -n "$MOCK_PID" ]; then
    kill "$MOCK_PID" 2>/dev/null
    wait "$MOCK_PID" 2>/dev/null
    MOCK_PID=''
  fi
}
trap 'mock_stop; e2e_cleanup' EXIT

# check_jq NAME FILE CHECKS: every non-comment line of CHECKS is true on FILE.
check_jq() {
  local name=$1 file=$2 checks=$3 expr bad=0
  while IFS= read -r expr; do
    case "$expr" in '' | '#'*) continue ;; esac
    if ! jq -e "$expr" "$file" >/dev/null 2>&1; then
      fail "$name" "not true: $expr"
      bad=1
    fi
  done <"$checks"
  [ $bad -eq 0 ] && pass "$name"
}

# oauth_start DIR ARGS...: the mock OAuth provider (tests/mock/mock_oauth.py); sets OAUTH_URL.
OAUTH_PID=''
oauth_start() {
  local d=$1
  shift
  rm -f "$d/oauth.port"
  /usr/bin/python3 "$ROOT/tests/mock/mock_oauth.py" --port-file "$d/oauth.port" --log "$d/oauth.jsonl" "$@" 2>"$d/oauth.err" &
  OAUTH_PID=$!
  wait_for 100 test -s "$d/oauth.port" && OAUTH_URL="http://127.0.0.1:$(cat "$d/oauth.port")"
}
oauth_stop() { if [ -n "$OAUTH_PID" ]; then kill "$OAUTH_PID" 2>/dev/null; wait "$OAUTH_PID" 2>/dev/null; OAUTH_PID=''; fi; }

# The page in Debian's chromium (playwright-core, tests/node/builder/e2e.js)
# with its own mock API, OAuth provider and builder server, run in the
# background while the cases and API checks below run: it mostly waits (on
# the page's pauses and the browser), so the two overlap. Its lines go to
# $TMP/page.out, read at the end. Screenshots of the main views stay in
# <build>/test-artifacts/builder/.
ART="$BIN/../test-artifacts/builder"
page_part() { # runs in a subshell: its variables are its own
  PG_SRV='' PG_NODE='' PG_WS=''
  local w="$TMP/pagew"
  mkdir -p "$w" "$TMP/repo2/connectors" "$TMP/repo3/connectors"
  trap 'kill $PG_NODE $PG_SRV $PG_WS 2>/dev/null; mock_stop; oauth_stop' EXIT
  trap 'exit 143' TERM
  if ! mock_start_routes "$w" "$CASES/page-routes.json"; then echo "FAIL mock: did not start" >"$TMP/page.out"; return; fi
  "$BIN/sluice" builder --port 0 --port-file "$w/srv2.port" --repo "$TMP/repo2" "$TMP/project2" >"$TMP/srv2.out" 2>"$TMP/srv2.err" &
  PG_SRV=$!
  if ! wait_for 100 test -s "$w/srv2.port"; then echo "FAIL server: did not start: $(cat "$TMP/srv2.err")" >"$TMP/page.out"; return; fi
  # A workspace of projects (workspace.js), publishing into repo3.
  "$BIN/sluice" builder --workspace --port 0 --port-file "$w/ws.port" --repo "$TMP/repo3" "$TMP/ws" >"$TMP/ws.out" 2>"$TMP/ws.err" &
  PG_WS=$!
  if ! wait_for 100 test -s "$w/ws.port"; then echo "FAIL workspace server: did not start: $(cat "$TMP/ws.err")" >"$TMP/page.out"; return; fi
  oauth_start "$w" --client-id cid --client-secret csecret-page
  timeout -k 5 180 node "$ROOT/tests/node/builder/e2e.js" "http://127.0.0.1:$(cat "$w/srv2.port")/" "$MOCK_URL" "$ART" "${OAUTH_URL:-}" \
    "http://127.0.0.1:$(cat "$w/ws.port")/" "$TMP/ws" "$TMP/repo3" >"$TMP/page.out" 2>&1 &
  PG_NODE=$!
  local t0=$SECONDS
  wait "$PG_NODE"
  echo "$((SECONDS - t0))" >"$TMP/page.secs"
  PG_NODE=''
  kill "$PG_SRV" "$PG_WS" && wait "$PG_SRV" "$PG_WS" # their stderr complete for the sanitizer check
  PG_SRV='' PG_WS=''
}
PAGE_PID=''
page_stop() { if [ -n "$PAGE_PID" ]; then kill "$PAGE_PID" 2>/dev/null; wait "$PAGE_PID" 2>/dev/null; PAGE_PID=''; fi; }
trap 'mock_stop; page_stop; e2e_cleanup' EXIT
if [ ! -x /usr/bin/chromium ] || [ ! -d "$ROOT/tests/node/node_modules/playwright-core" ]; then
  fail page/e2e "chromium or playwright-core missing: run scripts/setup.sh test"
else
  rm -rf "$ART" && mkdir -p "$ART"
  page_part &
  PAGE_PID=$!
fi

API_T0=$SECONDS
for c in "$CASES"/*/; do
  [ -f "$c/checks.jq" ] || continue
  name=$(basename "$c")
  w="$TMP/case-$name"
  mkdir -p "$w"
  if ! mock_start "$w" "$c/replies.json"; then fail "$name" "mock server"; continue; fi
  sed "s#@MOCK@#$MOCK_URL#g" "$c/config.json" >"$w/config.json"
  args=(--stream users)
  if [ -f "$c/args" ]; then read -ra extra <"$c/args"; args+=("${extra[@]}"); fi
  run "$name" timeout -k 5 30 "$BIN/sluice" builder test-read "$c/manifest.yaml" --config "$w/config.json" "${args[@]}"
  mock_stop
  expect_rc "$name/exit" "$(cat "$c/rc")"
  # config_checks.jq: checks on the config file after the read (a rotated token written back).
  [ -f "$c/config_checks.jq" ] && check_jq "$name/config-file" "$w/config.json" "$c/config_checks.jq"
  if json_ok "$TMP/$name.out"; then check_jq "$name" "$TMP/$name.out" "$c/checks.jq"; else
    fail "$name" "stdout is not one JSON document"
    show_err "$name"
  fi
done

# Usage errors name the problem.
run usage "$BIN/sluice" builder test-read "$CASES/paged/manifest.yaml"
expect_rc usage 2
expect_err usage/message usage "a manifest and --stream are required"
run missing "$BIN/sluice" builder test-read "$TMP/none.yaml" --stream users
expect_rc missing nonzero
expect_err missing/message missing "none.yaml"

# ---- the server ----
SRV_PID=''
srv_stop() { if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=''; fi; }
trap 'srv_stop; mock_stop; page_stop; e2e_cleanup' EXIT
PROJ="$TMP/project"
mkdir -p "$TMP/repo/connectors"
"$BIN/sluice" builder --port 0 --port-file "$TMP/srv.port" --repo "$TMP/repo" "$PROJ" >"$TMP/srv.out" 2>"$TMP/srv.err" &
SRV_PID=$!
if ! wait_for 100 test -s "$TMP/srv.port"; then
  fail server "did not start: $(cat "$TMP/srv.err")"
  finish
fi
SRV="http://127.0.0.1:$(cat "$TMP/srv.port")"
expect_out server/url srv "sluice builder: $SRV/"
# api NAME METHOD PATH [JSON-FILE] [curl args...]: body in $TMP/NAME.json, status in CODE.
api() {
  local name=$1 method=$2 path=$3 data=${4:-}
  shift 4 2>/dev/null || shift $#
  local -a a=(-s -o "$TMP/$name.json" -w '%{http_code}' -X "$method")
  [ -n "$data" ] && a+=(-H 'Content-Type: application/json' --data-binary "@$data")
  CODE=$(curl "${a[@]}" "$@" "$SRV/api$path")
}
jqf() { jq -n --rawfile y "$CASES/paged/manifest.yaml" "$@"; }

api project0 GET /project
expect_eq project/empty "$CODE $(jq -c '[.manifest, .version]' "$TMP/project0.json")" '200 [null,"none"]'

jqf '{yaml: $y}' >"$TMP/req-paged.json"
api resolve POST /resolve "$TMP/req-paged.json"
expect_eq resolve "$CODE $(jq -c '[.streams, .issues, .manifest.streams[0].name, .resolved.streams[0].retriever.requester.url_base]' "$TMP/resolve.json")" \
  "200 [[\"users\"],[],\"users\",\"{{ config['base_url'] }}/api\"]"
printf '%s' '{"yaml": "version: 6.0.0\nstreams: [1\nx: 2\n"}' >"$TMP/req-bad.json"
api resolve-bad POST /resolve "$TMP/req-bad.json"
expect_eq resolve/invalid-yaml-located "$CODE $(jq -c '[.error.location.line, (.error.message | test("invalid YAML"))]' "$TMP/resolve-bad.json")" '200 [4,true]'

# YAML -> JSON (resolve) -> YAML (to_yaml) -> JSON gives the same manifest.
jq '{manifest: .manifest}' "$TMP/resolve.json" >"$TMP/req-to-yaml.json"
api to-yaml POST /to_yaml "$TMP/req-to-yaml.json"
jq '{yaml: .yaml}' "$TMP/to-yaml.json" >"$TMP/req-again.json"
api resolve-again POST /resolve "$TMP/req-again.json"
if [ "$CODE" = 200 ] && jq -e --slurpfile a "$TMP/resolve.json" '.manifest == $a[0].manifest and .resolved == $a[0].resolved' "$TMP/resolve-again.json" >/dev/null; then
  pass to_yaml/round-trip
else fail to_yaml/round-trip "the manifest changed through YAML"; fi
printf '%s' '{"manifest": {"a": "true", "b": "12", "n": "no", "c": "x: y", "d": 1.5, "e": null, "f": "{{ x }}"}}' >"$TMP/req-types.json"
api types POST /to_yaml "$TMP/req-types.json"
jq '{yaml: .yaml}' "$TMP/types.json" >"$TMP/req-types2.json"
if /usr/bin/python3 -c 'import json,sys,yaml; d=yaml.safe_load(json.load(open(sys.argv[1]))["yaml"]); sys.exit(d != {"a": "true", "b": "12", "n": "no", "c": "x: y", "d": 1.5, "e": None, "f": "{{ x }}"})' "$TMP/types.json" 2>/dev/null; then
  pass to_yaml/pyyaml-types
else fail to_yaml/pyyaml-types "PyYAML reads other types back: $(jq -r .yaml "$TMP/types.json" | tr '\n' ' ')"; fi

# A form edit with the text it came from is applied to that text in place:
# comments, quoting and layout of what did not change stay.
jq --rawfile y "$CASES/comments.yaml" '{yaml: $y}' -n >"$TMP/req-c.json"
api c-resolve POST /resolve "$TMP/req-c.json"
jq --rawfile y "$CASES/comments.yaml" '{yaml: $y, manifest: (.manifest
  | .streams[0].retriever.requester.path = "/people"
  | .streams[0].primary_key = ["id", "org"]
  | del(.streams[0].retriever.requester.request_parameters)
  | .streams += [{type: "DeclarativeStream", name: "teams", retriever: {type: "SimpleRetriever", requester: {"$ref": "#/definitions/requester", path: "/teams"}}}]
  | .definitions.requester.authenticator = {type: "BearerAuthenticator", api_token: "{{ config[\"key\"] }}"})}' "$TMP/c-resolve.json" >"$TMP/req-c2.json"
api c-edit POST /to_yaml "$TMP/req-c2.json"
jq -j .yaml "$TMP/c-edit.json" >"$TMP/c-edit.yaml"
expect_eq to_yaml/in-place "$CODE $(jq -c .in_place "$TMP/c-edit.json") $(grep -c '^ *#' "$TMP/c-edit.yaml") $(grep -c 'name: users  # the users stream$' "$TMP/c-edit.yaml")" \
  "200 true $(grep -c '^ *#' "$CASES/comments.yaml") 1"
jq '{yaml: .yaml}' "$TMP/c-edit.json" >"$TMP/req-c3.json"
api c-again POST /resolve "$TMP/req-c3.json"
if jq -e --slurpfile want "$TMP/req-c2.json" '.manifest == $want[0].manifest' "$TMP/c-again.json" >/dev/null; then
  pass to_yaml/in-place-exact; else fail to_yaml/in-place-exact "the edited text reads back differently"; fi
# The whole edited text, as reviewed once (tests/data/builder/comments.edited.yaml).
if cmp -s "$TMP/c-edit.yaml" "$CASES/comments.edited.yaml"; then pass to_yaml/in-place-text; else
  fail to_yaml/in-place-text "$(diff "$CASES/comments.edited.yaml" "$TMP/c-edit.yaml" | head -20)"; fi

# Edge cases of the in-place edit: tests/data/builder/yamledit/<case>/ has
# old.yaml, edit.jq (applied to its JSON) and expected.yaml (the edited text;
# "in_place" false there: re-emitted whole, as for an alias).
for c in "$CASES"/yamledit/*/; do
  name=yamledit/$(basename "$c")
  jq -n --rawfile y "$c/old.yaml" '{yaml: $y}' >"$TMP/req-ye.json"
  api ye-resolve POST /resolve "$TMP/req-ye.json"
  jq --rawfile y "$c/old.yaml" "{yaml: \$y, manifest: (.manifest | $(cat "$c/edit.jq"))}" "$TMP/ye-resolve.json" >"$TMP/req-ye2.json"
  api ye-edit POST /to_yaml "$TMP/req-ye2.json"
  jq -j .yaml "$TMP/ye-edit.json" >"$TMP/ye.yaml"
  if cmp -s "$TMP/ye.yaml" "$c/expected.yaml"; then pass "$name"; else fail "$name" "$(diff "$c/expected.yaml" "$TMP/ye.yaml" | head -10)"; fi
  jq '{yaml: .yaml}' "$TMP/ye-edit.json" >"$TMP/req-ye3.json"
  api ye-again POST /resolve "$TMP/req-ye3.json"
  if jq -e --slurpfile want "$TMP/req-ye2.json" '.manifest == $want[0].manifest' "$TMP/ye-again.json" >/dev/null; then
    pass "$name/exact"; else fail "$name/exact" "the edited text reads back differently"; fi
done

# One component's YAML (the form's in-place YAML editor): any value, errors at
# the component text's own line, empty text = no component; and back to YAML.
printf '%s' '{"yaml": "type: DefaultPaginator\npagination_strategy:\n  type: PageIncrement\n  page_size: [7\n"}' >"$TMP/req-part-bad.json"
api part-bad POST /parse_yaml "$TMP/req-part-bad.json"
expect_eq parse_yaml/error-located "$CODE $(jq -c '[.error.location.line, (.error.message | test("invalid YAML")), has("value")]' "$TMP/part-bad.json")" '200 [5,true,false]'
printf '%s' '{"yaml": "- type: KeysToLower\n- {type: RemoveFields, field_pointers: [[a]]}\n"}' >"$TMP/req-part.json"
api part POST /parse_yaml "$TMP/req-part.json"
expect_eq parse_yaml/value "$CODE $(jq -c .value "$TMP/part.json")" '200 [{"type":"KeysToLower"},{"type":"RemoveFields","field_pointers":[["a"]]}]'
printf '%s' '{"yaml": "  \n"}' >"$TMP/req-part-empty.json"
api part-empty POST /parse_yaml "$TMP/req-part-empty.json"
expect_eq parse_yaml/empty-is-null "$CODE $(jq -c . "$TMP/part-empty.json")" '200 {"value":null}'
jq '{value: .value}' "$TMP/part.json" >"$TMP/req-part-yaml.json"
api part-yaml POST /to_yaml "$TMP/req-part-yaml.json"
expect_eq to_yaml/component "$CODE $(jq -j .yaml "$TMP/part-yaml.json" | tr '\n' '|')" '200 - type: KeysToLower|- type: RemoveFields|  field_pointers:|  - - a|'

# Testing values: kept in the project (0600), never in the manifest.
mock_start "$TMP" "$CASES/paged/replies.json"
jq -n --arg u "$MOCK_URL" '{values: {api_key: "s3cr3t-key", base_url: $u, region: "eu"}}' >"$TMP/req-tv.json"
api tv POST /testing_values "$TMP/req-tv.json"
expect_eq testing_values/saved "$CODE $(stat -c %a "$PROJ/.sluice-builder/testing-values.json")" "200 600"
api spec-form POST /spec_form "$TMP/req-paged.json"
expect_eq spec_form "$CODE $(jq -c '[.schema.properties.api_key.airbyte_secret, .schema.properties.region.enum, .values.region]' "$TMP/spec-form.json")" \
  '200 [true,["eu","us"],"eu"]'
jqf '{yaml: $y, stream: "users", max_pages: 2}' >"$TMP/req-tr.json"
api test-read POST /test_read "$TMP/req-tr.json"
mock_stop
expect_eq test_read/saved-values "$CODE $(jq -c '[.records_total, .limit, (.slices[0].pages[0].request.headers["X-Api-Key"])]' "$TMP/test-read.json")" \
  '200 [4,"pages","**********"]'
if grep -q 's3cr3t-key' "$PROJ/manifest.yaml" 2>/dev/null; then fail testing_values/not-in-manifest "secret in manifest"; else pass testing_values/not-in-manifest; fi

printf '%s' '{"records": [{"id": 1, "tags": ["a"]}, {"id": 2.5, "o": {"x": true}}], "declared": {"properties": {"id": {"type": "integer"}}}}' >"$TMP/req-infer.json"
api infer POST /infer_schema "$TMP/req-infer.json"
expect_eq infer_schema "$CODE $(jq -c '[.schema.properties.id.type, .schema.properties.tags.items.type, .schema.properties.o.properties.x.type, [.diff[] | .path + ":" + .change]]' "$TMP/infer.json")" \
  '200 [["null","number"],["null","string"],["null","boolean"],["id:type","tags:added","o:added"]]'

# Save: the second save from a stale page is refused (409) unless forced.
jqf '{yaml: $y, base_version: "none"}' >"$TMP/req-save1.json"
api save1 POST /save "$TMP/req-save1.json"
V1=$(jq -r .version "$TMP/save1.json")
expect_eq save/first "$CODE $(cmp -s "$PROJ/manifest.yaml" "$CASES/paged/manifest.yaml" && echo same)" "200 same"
printf '%s' '{"yaml": "version: 6.0.0\n", "base_version": "none"}' >"$TMP/req-save2.json"
api save2 POST /save "$TMP/req-save2.json"
expect_eq save/stale-tab-warned "$CODE $(jq -r '.current_version' "$TMP/save2.json")" "409 $V1"
# The draft: auto-saved text that GET /project offers until a save replaces it.
printf '%s' '{"yaml": "version: 6.0.1\n"}' >"$TMP/req-draft.json"
api draft POST /draft "$TMP/req-draft.json"
api project-draft GET /project
expect_eq draft/offered "$CODE $(jq -c '[.draft, (.manifest | length > 100)]' "$TMP/project-draft.json")" '200 ["version: 6.0.1\n",true]'
printf '%s' '{"yaml": "version: 6.0.0\n", "base_version": "none", "force": true}' >"$TMP/req-save3.json"
api save3 POST /save "$TMP/req-save3.json"
expect_eq save/forced "$CODE $(cat "$PROJ/manifest.yaml")" "200 version: 6.0.0"
api versions GET /versions
expect_eq versions "$CODE $(jq -c '[.versions[].n]' "$TMP/versions.json")" '200 [1,2]'
api version1 GET /versions/1
if [ "$CODE" = 200 ] && jq -e --rawfile y "$CASES/paged/manifest.yaml" '.yaml == $y' "$TMP/version1.json" >/dev/null; then
  pass versions/content; else fail versions/content "status $CODE"; fi
api project1 GET /project
expect_eq project/after-save "$CODE $(jq -r .version "$TMP/project1.json")" "200 $(jq -r .version "$TMP/save3.json")"
expect_eq draft/gone-after-save "$(jq -c 'has("draft")' "$TMP/project1.json") $(test -e "$PROJ/.sluice-builder/draft.yaml" && echo kept || echo removed)" "false removed"

# Publish: a connector directory from the template, the manifest, a catalog
# of its streams, docs of its inputs and streams, the testing values as secrets.
jqf '{yaml: $y, name: "source-acme"}' >"$TMP/req-pub.json"
api publish POST /publish "$TMP/req-pub.json"
C="$TMP/repo/connectors/source-acme"
expect_eq publish/created "$CODE $(jq -c .created "$TMP/publish.json")" "200 true"
expect_eq publish/manifest "$(cmp -s "$C/manifest.yaml" "$CASES/paged/manifest.yaml" && echo same)" same
expect_eq publish/catalog "$(jq -c '[.streams[].stream.name]' "$C/integration_tests/configured_catalog.json")" '["users"]'
expect_eq publish/docs "$(grep -c '^| `api_key` | string | yes | yes |' "$C/README.md") $(grep -c '^| users | `/users` | \["id"\] | PageIncrement | no |' "$C/README.md")" "1 1"
expect_eq publish/secrets "$(stat -c %a "$C/secrets/config.json") $(jq -r .api_key "$C/secrets/config.json")" "600 s3cr3t-key"
run pub-meta "$BIN/sluice" metadata validate "$C"
expect_rc publish/metadata-valid 0
api publish2 POST /publish "$TMP/req-pub.json"
expect_eq publish/again-updates "$CODE $(jq -c .created "$TMP/publish2.json")" "200 false"
# Nothing is published without streams or with errors the engine would refuse.
printf '%s' '{"yaml": "version: 6.0.0\ntype: DeclarativeSource\ncheck: {type: CheckStream, stream_names: []}\nstreams: []\n", "name": "source-empty"}' >"$TMP/req-pub-empty.json"
api pub-empty POST /publish "$TMP/req-pub-empty.json"
expect_eq publish/no-streams "$CODE $(test -e "$TMP/repo/connectors/source-empty" && echo written || echo none) $(jq -r .error.message "$TMP/pub-empty.json")" \
  "422 none publish: the manifest has no streams (nor stream templates)"
jqf '{yaml: ($y | sub("type: PageIncrement"; "type: NoSuchThing")), name: "source-bad"}' >"$TMP/req-pub-err.json"
api pub-err POST /publish "$TMP/req-pub-err.json"
expect_eq publish/manifest-errors "$CODE $(jq -r '.error.message | test("manifest has errors: manifest.yaml:[0-9]+:[0-9]+ .*unknown component type NoSuchThing")' "$TMP/pub-err.json") $(test -e "$TMP/repo/connectors/source-bad" && echo written || echo none)" \
  "422 true none"
jqf '{yaml: $y, name: "acme"}' >"$TMP/req-pub-bad.json"
api publish-bad POST /publish "$TMP/req-pub-bad.json"
expect_eq publish/bad-name "$CODE $(jq -r '.error.message | test("not a source name")' "$TMP/publish-bad.json")" "400 true"

# A test read whose OAuth token rotates: the new config becomes the testing
# values (the old refresh token is spent) and goes back to the page.
mock_start "$TMP" "$CASES/oauth_rotating/replies.json"
sed "s#@MOCK@#$MOCK_URL#g" "$CASES/oauth_rotating/config.json" | jq '{values: .}' >"$TMP/req-tv2.json"
api tv2 POST /testing_values "$TMP/req-tv2.json"
jq -n --rawfile y "$CASES/oauth_rotating/manifest.yaml" '{yaml: $y, stream: "users"}' >"$TMP/req-rot.json"
api rot POST /test_read "$TMP/req-rot.json"
mock_stop
expect_eq test_read/rotated-token-kept "$CODE $(jq -c '[.records_total, .config_update.credentials.refresh_token]' "$TMP/rot.json") $(jq -c '[.credentials.refresh_token, .client_secret]' "$PROJ/.sluice-builder/testing-values.json") $(stat -c %a "$PROJ/.sluice-builder/testing-values.json")" \
  '200 [1,"rtok-2"] ["rtok-2","csecret-77"] 600'

# "Authenticate your account for testing": the declarative OAuth consent flow
# against a local provider (tests/mock/mock_oauth.py): consent URL from
# spec.advanced_auth, the loopback callback, the code exchanged, the tokens
# written to the testing values (not the manifest), secrets masked.
trap 'oauth_stop; srv_stop; mock_stop; page_stop; e2e_cleanup' EXIT
if oauth_start "$TMP" --client-id cid-77 --client-secret csec-77; then
  sed "s#@OAUTH@#$OAUTH_URL#g" "$CASES/oauth_consent/manifest.yaml" | jq -Rs '{yaml: .}' >"$TMP/req-oc.json"
  printf '%s' '{"values": {"credentials": {"client_id": "cid-77", "client_secret": "csec-77"}}}' >"$TMP/req-tv3.json"
  api tv3 POST /testing_values "$TMP/req-tv3.json"
  api oc POST /oauth/consent_url "$TMP/req-oc.json"
  STATE=$(jq -r .state "$TMP/oc.json")
  expect_eq oauth/consent-url "$CODE $(jq -r '.url | test("/authorize\\?client_id=cid-77&redirect_uri=http%3A%2F%2F127\\.0\\.0\\.1%3A[0-9]+%2Foauth%2Fcallback&state=[0-9a-f]{32}&scope=read%20me$")' "$TMP/oc.json")" "200 true"
  CB=$(curl -s -o /dev/null -w '%{redirect_url}' "$(jq -r .url "$TMP/oc.json")")
  CODE=$(curl -s -o "$TMP/cb-forged.html" -w '%{http_code}' "$SRV/oauth/callback?code=x&state=forged")
  expect_eq oauth/unknown-state-refused "$CODE $(grep -c 'nothing was written' "$TMP/cb-forged.html")" "400 1"
  CODE=$(curl -s -o "$TMP/cb.html" -w '%{http_code}' "$CB")
  expect_eq oauth/callback "$CODE $(grep -c 'Authenticated' "$TMP/cb.html")" "200 1"
  api oauth-result GET /oauth/result
  expect_eq oauth/tokens-in-testing-values "$(jq -c '[(.credentials.access_token | test("^atok-")), .credentials.refresh_token, .credentials.client_secret]' "$PROJ/.sluice-builder/testing-values.json") $(stat -c %a "$PROJ/.sluice-builder/testing-values.json")" \
    '[true,"rtok-consent","csec-77"] 600'
  expect_eq oauth/result "$(jq -c --arg s "$STATE" '[.state == $s, .pending, .response.status, [.written[] | join(".")], .request.body]' "$TMP/oauth-result.json")" \
    '[true,false,200,["credentials.access_token","credentials.refresh_token"],"code=**********&client_id=cid-77&client_secret=**********&redirect_uri='"$(jq -r .redirect_uri "$TMP/oc.json" | jq -Rr @uri)"'&grant_type=authorization_code"]'
  # What is shown of the exchange is masked (the new config goes back to the page whole, as testing values do).
  if jq 'del(.config)' "$TMP/oauth-result.json" | grep -q -e 'atok-' -e 'rtok-consent' -e 'csec-77' -e 'code-'; then
    fail oauth/masked "a secret in the shown exchange: $(jq -c 'del(.config)' "$TMP/oauth-result.json")"; else pass oauth/masked; fi
  CODE=$(curl -s -o /dev/null -w '%{http_code}' "$CB")
  expect_eq oauth/code-used-once "$CODE" 400
  # The tokens work: a test read with the testing values as they are now.
  jq '. + {stream: "me"}' "$TMP/req-oc.json" >"$TMP/req-me.json"
  api me POST /test_read "$TMP/req-me.json"
  expect_eq oauth/test-read-with-tokens "$CODE $(jq -c '[.records_total, .slices[0].pages[0].request.headers.Authorization]' "$TMP/me.json")" '200 [1,"**********"]'
  jq -n --rawfile y "$CASES/paged/manifest.yaml" '{yaml: $y}' >"$TMP/req-no-oauth.json"
  api no-oauth POST /oauth/consent_url "$TMP/req-no-oauth.json"
  expect_eq oauth/needs-advanced-auth "$CODE $(jq -r '.error.message | test("no declarative OAuth")' "$TMP/no-oauth.json")" "422 true"
  # A refused exchange (wrong client secret): the error is shown, nothing is written.
  printf '%s' '{"values": {"credentials": {"client_id": "cid-77", "client_secret": "wrong"}}}' >"$TMP/req-tv4.json"
  api tv4 POST /testing_values "$TMP/req-tv4.json"
  api oc2 POST /oauth/consent_url "$TMP/req-oc.json"
  CB=$(curl -s -o /dev/null -w '%{redirect_url}' "$(jq -r .url "$TMP/oc2.json")")
  CB_CODE=$(curl -s -o /dev/null -w '%{http_code}' "$CB")
  api oauth-result2 GET /oauth/result
  expect_eq oauth/refused-exchange "$CB_CODE $(jq -c '[.error, .response.status, .written]' "$TMP/oauth-result2.json") $(jq -c .credentials "$PROJ/.sluice-builder/testing-values.json")" \
    '502 ["the token exchange answered HTTP 400",400,[]] {"client_id":"cid-77","client_secret":"wrong"}'
else
  fail oauth/provider "the mock OAuth provider did not start: $(cat "$TMP/oauth.err")"
fi
oauth_stop

# Stream templates: "generate streams" fills the template with each value of
# the components resolver (here from the config, and a fixed list).
jq -Rs '{yaml: ., template: 0, config: {base_url: "http://x", tables: [{id: 7, name: "a", limit: "50"}, {id: 8, name: "b", limit: 5}]}}' \
  "$CASES/templates/manifest.yaml" >"$TMP/req-gen.json"
api gen POST /generate_streams "$TMP/req-gen.json"
expect_eq templates/from-config "$CODE $(jq -c '[.values, [.streams[] | [.name, .retriever.requester.path, .retriever.requester.request_parameters.limit]]]' "$TMP/gen.json")" \
  '200 [2,[["table_a","/tables/7/rows",50],["table_b","/tables/8/rows",5]]]'
jq -Rs '{yaml: ., template: 1}' "$CASES/templates/manifest.yaml" >"$TMP/req-gen2.json"
api gen2 POST /generate_streams "$TMP/req-gen2.json"
expect_eq templates/parametrized "$CODE $(jq -c '[.streams[].name]' "$TMP/gen2.json")" '200 ["ALPHA"]'
jq -Rs '{yaml: ., template: 9}' "$CASES/templates/manifest.yaml" >"$TMP/req-gen3.json"
api gen3 POST /generate_streams "$TMP/req-gen3.json"
expect_eq templates/no-such-template "$CODE" 404
jq -Rs '{yaml: (. | sub("\\}\\}/rows"; "/rows")), template: 0, config: {tables: [{id: 1}]}}' "$CASES/templates/manifest.yaml" >"$TMP/req-gen4.json"
api gen4 POST /generate_streams "$TMP/req-gen4.json"
expect_eq templates/mapping-error-named "$CODE $(jq -c '[(.error.message | test("components_mapping\\[1\\]")), .streams]' "$TMP/gen4.json")" '200 [true,[]]'

# ---- a workspace of projects (API; the page's side is tests/node/builder/workspace.js) ----
api no-ws GET /workspace
expect_eq workspace/not-one "$CODE $(jq -r '.error.message | test("not a workspace")' "$TMP/no-ws.json")" "404 true"
mkdir -p "$TMP/repo4/connectors"
"$BIN/sluice" builder --workspace --port 0 --port-file "$TMP/ws4.port" --repo "$TMP/repo4" "$TMP/ws4" >"$TMP/ws4.out" 2>"$TMP/ws4.err" &
WS_PID=$!
if wait_for 100 test -s "$TMP/ws4.port"; then
  SRV1=$SRV SRV="http://127.0.0.1:$(cat "$TMP/ws4.port")"
  jq -Rs '{name: "tpl", yaml: .}' "$CASES/templates/manifest.yaml" >"$TMP/req-ws-new.json"
  api ws-new POST /workspace/projects "$TMP/req-ws-new.json"
  api ws-again POST /workspace/projects "$TMP/req-ws-new.json"
  printf '{"name": "../up"}' >"$TMP/req-ws-bad.json"
  api ws-bad POST /workspace/projects "$TMP/req-ws-bad.json"
  printf '{"name": "f", "from": {"project": "nope"}}' >"$TMP/req-ws-nofork.json"
  api ws-nofork POST /workspace/projects "$TMP/req-ws-nofork.json"
  expect_eq workspace/create "$(jq -c .name "$TMP/ws-new.json") $(test -f "$TMP/ws4/tpl/.sluice-builder/history/1.yaml" && echo v1) $(test -f "$TMP/ws4/.sluice-workspace" && echo marked)" '"tpl" v1 marked'
  expect_eq workspace/refusals "$CODE $(jq -r '.error.message' "$TMP/ws-nofork.json") | $(jq -r .error.message "$TMP/ws-bad.json")" \
    '404 fork: no such project "nope" | project "../up": not a project name (letters, digits, _ . -; at most 64)'
  api ws-noproj GET /project
  expect_eq workspace/project-needed "$CODE" 404
  printf '{"values": {"base_url": "http://x", "tables": [{"id": 7, "name": "a", "limit": 5}]}}' >"$TMP/req-ws-tv.json"
  api ws-tv POST '/testing_values?project=tpl' "$TMP/req-ws-tv.json"
  # Publish accepts stream templates; the catalog lists the streams they generate.
  jq -Rs '{name: "source-tpl", yaml: ., description: "templates from the config"}' "$CASES/templates/manifest.yaml" >"$TMP/req-ws-pub.json"
  api ws-pub POST '/publish?project=tpl' "$TMP/req-ws-pub.json"
  expect_eq publish/templates "$CODE $(jq -c '[.version.n, .version.tag]' "$TMP/ws-pub.json") $(jq -c '[.streams[].stream.name]' "$TMP/repo4/connectors/source-tpl/integration_tests/configured_catalog.json" 2>/dev/null)" \
    '200 [1,"0.1.0"] ["table_a","ALPHA"]'
  sed -i 's/dockerImageTag: .*/dockerImageTag: 0.2.0/' "$TMP/repo4/connectors/source-tpl/metadata.yaml" # as sluice bump would
  jq -Rs '{name: "source-tpl", yaml: (. + "# second\n")}' "$CASES/templates/manifest.yaml" >"$TMP/req-ws-pub2.json"
  api ws-pub2 POST '/publish?project=tpl' "$TMP/req-ws-pub2.json"
  api ws-published GET '/published?project=tpl'
  expect_eq published/versions "$(jq -c '[.active, [.versions[] | [.n, .tag, .description]]]' "$TMP/ws-published.json")" '[2,[[1,"0.1.0","templates from the config"],[2,"0.2.0",null]]]'
  api ws-pubtext GET '/published/1?project=tpl'
  expect_eq published/text "$CODE $(jq -j .yaml "$TMP/ws-pubtext.json" | cmp -s - "$CASES/templates/manifest.yaml" && echo same) $(jq -c .version.n "$TMP/ws-pubtext.json")" "200 same 1"
  printf '{"version": 1}' >"$TMP/req-ws-act.json"
  api ws-act POST '/published/active?project=tpl' "$TMP/req-ws-act.json"
  expect_eq published/active "$CODE $(grep -c '^# second' "$TMP/repo4/connectors/source-tpl/manifest.yaml") $(grep -c 'dockerImageTag: 0.1.0$' "$TMP/repo4/connectors/source-tpl/metadata.yaml")" "200 0 1"
  printf '{"version": 9}' >"$TMP/req-ws-act9.json"
  api ws-act9 POST '/published/active?project=tpl' "$TMP/req-ws-act9.json"
  expect_eq published/no-such-version "$CODE $(jq -r .error.message "$TMP/ws-act9.json")" "404 no published version 9 of this project"
  printf '{"name": "tpl2", "from": {"project": "tpl", "version": 1}}' >"$TMP/req-ws-fork.json"
  api ws-fork POST /workspace/projects "$TMP/req-ws-fork.json"
  printf '{"name": "cat", "from": {"connector": "source-tpl"}}' >"$TMP/req-ws-cat.json"
  api ws-cat POST /workspace/projects "$TMP/req-ws-cat.json"
  api ws-list GET /workspace
  expect_eq workspace/list "$(jq -c '[.projects[] | [.name, .draft, .active_version.n, .forked_from.kind]], [.catalog[].name]' "$TMP/ws-list.json" | tr '\n' ' ')" \
    '[["cat",true,null,"connector"],["tpl",false,1,null],["tpl2",true,null,"project"]] ["source-tpl"] '
  printf '{"name": "tpl"}' >"$TMP/req-ws-del.json"
  api ws-del POST /workspace/delete "$TMP/req-ws-del.json"
  printf '{"name": "tpl2"}' >"$TMP/req-ws-del2.json"
  api ws-del2 POST /workspace/delete "$TMP/req-ws-del2.json"
  api ws-gone GET '/project?project=tpl2'
  expect_eq workspace/delete "$(jq -r '.error.message | test("published as source-tpl .*cannot be deleted")' "$TMP/ws-del.json") $(jq -c .deleted "$TMP/ws-del2.json") $(test -e "$TMP/ws4/tpl2" && echo still || echo gone) $CODE" 'true "tpl2" gone 404'
  SRV=$SRV1
else fail workspace/server "did not start: $(cat "$TMP/ws4.err")"; fi
kill "$WS_PID" && wait "$WS_PID"
sanitizer_check ws4

# Refusals: other origins and hosts, form posts, oversized bodies, bad JSON.
api origin GET /project '' -H 'Origin: http://evil.example'
expect_eq refuse/origin "$CODE" 403
api host GET /project '' -H 'Host: evil.example:80'
expect_eq refuse/host "$CODE" 403
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data 'yaml=x' "$SRV/api/resolve")
expect_eq refuse/form-post "$CODE" 403
head -c 9000000 /dev/zero | tr '\0' 'a' | jq -Rs '{yaml: .}' >"$TMP/req-big.json"
api big POST /resolve "$TMP/req-big.json"
expect_eq refuse/too-large "$CODE $(jq -r '.error.message | test("larger than")' "$TMP/big.json")" "413 true"
# A manifest over 4 MiB in a body the server takes (under 8 MiB).
{ printf 'version: 6.0.0\n# '; head -c 5000000 /dev/zero | tr '\0' 'a'; printf '\n'; } | jq -Rs '{yaml: .}' >"$TMP/req-big2.json"
api big2 POST /resolve "$TMP/req-big2.json"
expect_eq refuse/manifest-too-large "$CODE $(jq -r '.error.message' "$TMP/big2.json")" "413 the manifest is larger than 4 MiB"
# Not loopback: the server listens on 127.0.0.1 only, so another address of this machine gets no answer.
OTHER=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -v -e '^127\.' -e '^$' -e ':' | head -n 1)
if [ -n "$OTHER" ]; then
  CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$OTHER:$(cat "$TMP/srv.port")/api/project")
  expect_eq refuse/non-loopback-address "$CODE" 000
fi
printf '{"yaml": ' >"$TMP/req-trunc.json"
api trunc POST /resolve "$TMP/req-trunc.json"
expect_eq refuse/bad-json "$CODE" 400
api nope GET /nope
expect_eq unknown-endpoint "$CODE" 404
CODE=$(curl -s -o "$TMP/index.html" -w '%{http_code}' "$SRV/")
expect_eq page "$CODE $(grep -c '<script src="/app.js"' "$TMP/index.html")" "200 1"
srv_stop
sanitizer_check srv

# ---- the page in chromium: started in the background at the top, finished here ----
API_SECS=$((SECONDS - API_T0))
if [ -n "$PAGE_PID" ]; then
  wait "$PAGE_PID"
  PAGE_PID=''
  while IFS= read -r line; do
    case "$line" in
      'ok   '*) pass "page/${line#ok   }" ;;
      'FAIL '*) rest=${line#FAIL }; fail "page/${rest%%: *}" "${rest#*: }" ;;
    esac
  done <"$TMP/page.out"
  grep -q '^ok   no page errors' "$TMP/page.out" || { fail page/e2e "did not finish"; tail -n 5 "$TMP/page.out"; }
  echo "     (chromium part: $(cat "$TMP/page.secs" 2>/dev/null) s in the background; the cases and API checks: $API_SECS s)"
  expect_eq page/published-files "$(grep -c 'DatetimeBasedCursor' "$TMP/repo2/connectors/source-people/manifest.yaml" 2>/dev/null) $(test -f "$TMP/repo2/connectors/source-people/metadata.yaml" && echo meta)" "1 meta"
  sanitizer_check srv2
  sanitizer_check ws
fi

finish
