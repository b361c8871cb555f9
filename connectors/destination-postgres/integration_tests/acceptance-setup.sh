# Sourced by tests/e2e/acceptance.sh after tests/lib/db.sh (from the
# repository root): starts a throwaway PostgreSQL and writes the live configs
# (a good one, and one with a wrong password) to secrets/; the server and
# secrets/ are removed on exit.
d="$PWD/connectors/destination-postgres"
trap 'rm -rf "$d/secrets"; db_stop_all' EXIT
pg_start || return 1
mkdir -p "$d/secrets"
printf '{"host": "%s", "port": %s, "database": "%s", "schema": "public", "username": "%s", "password": "%s", "ssl_mode": {"mode": "disable"}}\n' \
  "$PG_HOST" "$PG_PORT" "$PG_DB" "$PG_USER" "$PG_PASSWORD" >"$d/secrets/config.json"
printf '{"host": "%s", "port": %s, "database": "%s", "schema": "public", "username": "%s", "password": "wrong-password", "ssl_mode": {"mode": "disable"}}\n' \
  "$PG_HOST" "$PG_PORT" "$PG_DB" "$PG_USER" >"$d/secrets/invalid_config.json"
