# Sourced by tests/e2e/acceptance.sh (from the repository root): builds the
# test database from fixture.sql and writes a config naming it by absolute
# path (the connector runs in a scratch directory); removed again on exit.
d="$PWD/connectors/source-sqlite"
rm -rf "$d/secrets" && mkdir -p "$d/secrets"
sqlite3 "$d/secrets/test.sqlite" <"$d/integration_tests/fixture.sql"
printf '{"path": "%s", "chunk_rows": 2}\n' "$d/secrets/test.sqlite" >"$d/secrets/config.json"
trap 'rm -rf "$d/secrets"; db_stop_all' EXIT
