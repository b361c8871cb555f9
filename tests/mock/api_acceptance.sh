# shellcheck shell=bash
# Acceptance-test setup of a declarative API connector, sourced (from the
# repository root) by its integration_tests/acceptance-setup.sh:
#   api_acceptance_setup DIR    (connectors/source-x, or a copy of it: test runs
#                               in parallel must not share one secrets/)
# serves integration_tests/acceptance/routes.json with tests/mock/mock_http.py
# --routes on loopback, and writes secrets/config.json and
# secrets/invalid_config.json from integration_tests/acceptance/{config,
# invalid_config}.json with @MOCK@ replaced by the mock's URL. The mock and
# secrets/ are removed when the sourcing shell exits (as acceptance.sh's
# setups do; db_stop_all is kept from tests/lib/db.sh).
api_acceptance_setup() {
  local d=$1
  case $d in /*) ;; *) d=$PWD/$d ;; esac
  local a=$d/integration_tests/acceptance
  rm -rf "$d/secrets" && mkdir -p "$d/secrets"
  python3 tests/mock/mock_http.py --routes "$a/routes.json" --port-file "$d/secrets/port" 2>"$d/secrets/mock.err" &
  API_MOCK_PID=$!
  API_SECRETS=$d/secrets
  trap 'kill "$API_MOCK_PID" 2>/dev/null; wait "$API_MOCK_PID" 2>/dev/null; rm -rf "$API_SECRETS"; db_stop_all' EXIT
  local _
  for _ in $(seq 1 100); do [ -s "$d/secrets/port" ] && break; sleep 0.1; done
  [ -s "$d/secrets/port" ] || { echo "acceptance-setup: mock API did not start: $(cat "$d/secrets/mock.err")" >&2; return 1; }
  local url="http://127.0.0.1:$(cat "$d/secrets/port")" f
  for f in config invalid_config; do
    sed "s#@MOCK@#$url#g" "$a/$f.json" >"$d/secrets/$f.json"
  done
}
