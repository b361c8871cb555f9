# Sourced by tests/e2e/acceptance.sh after tests/lib/db.sh (from the
# repository root): starts a throwaway MariaDB and writes the live configs (a
# good one, and one with a wrong password) to secrets/; the server and
# secrets/ are removed on exit.
d="$PWD/connectors/destination-mysql"
trap 'rm -rf "$d/secrets"; db_stop_all' EXIT
maria_start || return 1
mkdir -p "$d/secrets"
printf '{"host": "%s", "port": %s, "database": "%s", "username": "%s", "password": "%s", "ssl_mode": "disabled"}\n' \
  "$MY_HOST" "$MY_PORT" "$MY_DB" "$MY_USER" "$MY_PASSWORD" >"$d/secrets/config.json"
printf '{"host": "%s", "port": %s, "database": "%s", "username": "%s", "password": "wrong-password", "ssl_mode": "disabled"}\n' \
  "$MY_HOST" "$MY_PORT" "$MY_DB" "$MY_USER" >"$d/secrets/invalid_config.json"
