#!/usr/bin/env bash
# The shipped declarative connectors for public APIs (connectors/source-*/
# holding manifest.yaml and integration_tests/recorded/): every recorded case
# runs the connector's manifest against a local mock serving the case's
# replies (fixtures follow each API's documented response format; the same
# case format as tests/data/lowcode, see tests/mock/lowcode_case.py); then
# the manifest validates, `sluice metadata validate` passes, and `sluice test`
# passes against the connector's mock API (integration_tests/acceptance-setup.sh).
# API_ONLY=source-x runs only that connector (while developing).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
cd "$ROOT"
. "$ROOT/tests/mock/lowcode_run.sh"
trap 'mock_stop; e2e_cleanup' EXIT

n=0
names=()
for d in connectors/${API_ONLY:-*}/; do
  d=${d%/}
  [ -f "$d/manifest.yaml" ] && [ -d "$d/integration_tests/recorded" ] || continue
  name=$(basename "$d")
  n=$((n + 1))
  cases=0
  for c in "$d"/integration_tests/recorded/*/; do
    c=${c%/}
    run_case "$c" "$d/manifest.yaml" "$name-$(basename "$c")"
    cases=$((cases + 1))
  done
  [ "$cases" -ge 3 ] && pass "$name: $cases recorded cases" || fail "$name: recorded cases" "only $cases (full refresh, incremental, error needed)"
  run "$name-validate" "$BIN/sluice" manifest validate "$d/manifest.yaml" --no-warnings
  expect_rc "$name: manifest validates" 0 "$name-validate"
  run "$name-metadata" "$BIN/sluice" metadata validate "$d"
  expect_rc "$name: metadata validates" 0 "$name-metadata"
  # the acceptance tests, against the connector's mock API, on a private copy
  # of the connector (its secrets/ is written by the setup)
  copy="$TMP/conn/$name"
  mkdir -p "$TMP/conn" && cp -r "$d" "$copy" && rm -rf "$copy/secrets"
  ( . tests/lib/db.sh; trap db_stop_all EXIT; API_CONNECTOR_DIR=$copy; . "$d/integration_tests/acceptance-setup.sh"
    timeout -k 5 300 "$BIN/sluice" test "$copy" >"$TMP/cat-$name.out" 2>"$TMP/cat-$name.err" )
  RC=$?
  sanitizer_check "cat-$name"
  if [ $RC -eq 0 ]; then pass "$name: sluice test ($(grep -E 'passed, [0-9]+ failed' "$TMP/cat-$name.out" | tail -n1))"; else
    fail "$name: sluice test" "exit $RC"; grep -E '^FAIL' "$TMP/cat-$name.out" | head -5 | sed 's/^/     | /'; show_err "cat-$name"
  fi
  for suite in connection discovery basic_read full_refresh incremental; do
    grep -qE "^pass $suite/" "$TMP/cat-$name.out" && pass "$name: $suite suite ran" || fail "$name: $suite suite" "no passing $suite check (skipped?)"
  done
  [ -d "$copy/secrets" ] && fail "$name: secrets" "acceptance-setup.sh left secrets/ behind"
  names+=("$name")
done
# `sluice sync` with a connector directory, twice: the second sync resumes
# from the state the first committed (GitHub's `since`) and adds nothing
if [ -z "${API_ONLY:-}" ] || [ "$API_ONLY" = source-github ]; then
  gh=$TMP/conn/source-github
  echo "{\"destination_path\": \"$TMP/gh-out\"}" >"$TMP/gh-dest.json"
  PLOG1=$(plog_path gh-sync1) PLOG2=$(plog_path gh-sync2)
  ( . tests/lib/db.sh; trap db_stop_all EXIT; API_CONNECTOR_DIR=$gh; . "$gh/integration_tests/acceptance-setup.sh"
    for i in 1 2; do
      p=PLOG$i
      timeout -k 5 60 "$BIN/sluice" sync --no-progress --protocol-log "${!p}" --source "$gh" --source-config "$gh/secrets/config.json" \
        --destination destination-jsonl --destination-config "$TMP/gh-dest.json" --state-file "$TMP/gh-state.json" \
        --streams issues >"$TMP/gh-sync$i.out" 2>"$TMP/gh-sync$i.err"
      echo $? >"$TMP/gh-sync$i.rc"
    done )
  for i in 1 2; do
    sanitizer_check "gh-sync$i"
    expect_eq "github sync $i: exit" "$(cat "$TMP/gh-sync$i.rc")" 0
  done
  expect_eq "github sync 1: issues written (the pull request filtered)" "$(cat "$TMP"/gh-out/*issues* 2>/dev/null | wc -l)" 2
  expect_eq "github sync: state committed per repository" \
    "$(jq -c '.[0].stream.stream_state.states' "$TMP/gh-state.json" 2>/dev/null)" \
    '[{"partition":{"repository":"octo-org/widgets"},"cursor":{"updated_at":"2024-03-05T16:45:10Z"}}]'
  expect_eq "github sync 2: nothing new" "$(cat "$TMP"/gh-out/*issues* 2>/dev/null | wc -l)" 2
fi

# the registry lists them, with the spec read from the manifest
run registry "$BIN/sluice" registry build --out "$TMP/registry.json"
for name in "${names[@]}"; do
  got=$(jq -r --arg r "sluice/$name" '.sources[] | select(.dockerRepository == $r) | .spec.connectionSpecification.properties | has("api_url")' "$TMP/registry.json" 2>/dev/null)
  expect_eq "$name: in the registry with its spec" "$got" true
done
[ -n "${API_ONLY:-}" ] || { [ "$n" -ge 5 ] && pass "$n API connectors" || fail "API connectors" "only $n"; }
finish
