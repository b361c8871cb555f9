# Sourced by tests/e2e/acceptance.sh (from the repository root). The
# connector runs in a scratch directory, so the live config names the test
# data by absolute path; it is removed again on exit.
d="$PWD/connectors/source-file"
mkdir -p "$d/secrets"
printf '{"directory": "%s", "streams": [{"name": "people", "globs": ["people*.csv"], "primary_key": "id"}]}\n' \
  "$d/integration_tests/data" >"$d/secrets/config.json"
trap 'rm -rf "$d/secrets"; db_stop_all' EXIT
