# Sourced by tests/e2e/acceptance.sh (from the repository root). The runtime
# is tested as Airbyte tests its image: the example manifest (manifest.json)
# goes into the config as __injected_declarative_manifest, and the "API" is
# the static pages under api/ served on loopback by tests/mock/file_http.py.
# Writes secrets/config.json, and secrets/invalid_config.json whose API answers
# 404 (tests/mock/file_http.py serves /missing/... as 404); the mock and
# secrets/ are removed on exit.
d="$PWD/connectors/source-declarative-manifest"
rm -rf "$d/secrets" && mkdir -p "$d/secrets"
python3 tests/mock/file_http.py --root "$d/integration_tests/api" --port-file "$d/secrets/port" 2>"$d/secrets/mock.err" &
mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; rm -rf "$d/secrets"; db_stop_all' EXIT
for _ in $(seq 1 100); do [ -s "$d/secrets/port" ] && break; sleep 0.1; done
[ -s "$d/secrets/port" ] || { echo "acceptance-setup: mock API did not start: $(cat "$d/secrets/mock.err")" >&2; return 1; }
python3 - "$d" "$(cat "$d/secrets/port")" <<'PY'
import json, sys
d, port = sys.argv[1:]
manifest = json.load(open(d + "/integration_tests/manifest.json"))
def config(url):
    return {"api_url": url, "api_key": "test-key", "start_date": "2023-01-01T00:00:00Z",
            "__injected_declarative_manifest": manifest}
json.dump(config("http://127.0.0.1:%s" % port), open(d + "/secrets/config.json", "w"))
json.dump(config("http://127.0.0.1:%s/missing" % port), open(d + "/secrets/invalid_config.json", "w"))
PY
