# Throwaway database servers for tests and benchmarks (sourced, not run).
# Each server lives in its own temporary directory, listens on 127.0.0.1 on a
# free port, and is stopped (and its directory removed) by db_stop_all, which
# callers put in their EXIT trap.
#
#   pg_start       PostgreSQL 15: sets PG_HOST PG_PORT PG_USER PG_PASSWORD
#                  PG_DB PG_DIR, exports PGHOST PGPORT PGUSER PGPASSWORD
#                  PGDATABASE for psql. wal_level=logical (CDC tests).
#   pg_stop / pg_restart [fast|immediate]
#   maria_start    MariaDB: sets MY_HOST MY_PORT MY_USER MY_PASSWORD MY_DB
#                  MY_DIR MY_SOCKET; `maria_sql "SQL"` runs a statement.
#   maria_stop / maria_restart
#   db_stop_all    stops whatever was started
#   free_port      prints a free TCP port on 127.0.0.1
# shellcheck shell=bash

DB_STARTED=${DB_STARTED:-}
DB_PG_BIN=${DB_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs a server command as the postgres user when we are root (PostgreSQL
# refuses to run as root); as ourselves otherwise.
db_as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  [ -x "$DB_PG_BIN/initdb" ] || { echo "db.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; return 2; }
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pg-XXXXXX")
  chmod 755 "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  PG_HOST=127.0.0.1 PG_USER=sluice PG_PASSWORD=sluice-test-pw PG_DB=sluice
  PG_PORT=$(free_port)
  db_as_pg sh -c "printf '%s\n' '$PG_PASSWORD' > '$PG_DIR/pw'"
  _pg_template || return 1
  db_as_pg cp -a "$DB_PG_TEMPLATE" "$PG_DIR/data" || return 1
  cat >>"$PG_DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
wal_level = logical
max_replication_slots = 8
max_wal_senders = 8
fsync = off
full_page_writes = off
EOF
  echo "host replication all 127.0.0.1/32 scram-sha-256" >>"$PG_DIR/data/pg_hba.conf"
  _pg_ctl start || return 1
  export PGHOST=$PG_HOST PGPORT=$PG_PORT PGUSER=$PG_USER PGPASSWORD=$PG_PASSWORD PGDATABASE=$PG_DB
  psql -q -d postgres -c "CREATE DATABASE $PG_DB" >/dev/null || return 1
  DB_STARTED="$DB_STARTED pg"
}

# initdb takes seconds (it boots the server several times); every suite
# needs the same fresh cluster, so one is made per machine and PostgreSQL
# version and copied. Made in a private directory and renamed into place, so
# suites running at the same time never see half of one.
_pg_template() {
  local ver
  ver=$(basename "$(dirname "$DB_PG_BIN")")
  DB_PG_TEMPLATE="${TMPDIR:-/tmp}/sluice-pg-template-$(id -u)-$ver-v1"
  [ -f "$DB_PG_TEMPLATE/PG_VERSION" ] && return 0
  local t
  t=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pg-tmpl-XXXXXX")
  chmod 755 "$t"
  [ "$(id -u)" = 0 ] && chown postgres "$t"
  db_as_pg sh -c "printf '%s\n' '$PG_PASSWORD' > '$t/pw'"
  if ! db_as_pg "$DB_PG_BIN/initdb" -N -D "$t/data" -U "$PG_USER" --pwfile="$t/pw" \
      --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$t/initdb.log" 2>&1; then
    echo "db.sh: initdb failed:" >&2; cat "$t/initdb.log" >&2; rm -rf "$t"; return 1
  fi
  db_as_pg mv -T "$t/data" "$DB_PG_TEMPLATE" 2>/dev/null  # lost a race: theirs is as good
  rm -rf "$t"
  [ -f "$DB_PG_TEMPLATE/PG_VERSION" ]
}

_pg_ctl() {
  if ! db_as_pg "$DB_PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 "$@" >/dev/null; then
    echo "db.sh: pg_ctl $* failed:" >&2; tail -n 20 "$PG_DIR/server.log" >&2; return 1
  fi
}

pg_restart() { _pg_ctl restart -m "${1:-fast}"; }

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  db_as_pg "$DB_PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -t 30 stop -m immediate >/dev/null 2>&1
  rm -rf "$PG_DIR"
  PG_DIR=
}

maria_start() {
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || { echo "db.sh: mariadbd not found (apt-get install mariadb-server)" >&2; return 2; }
  MY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sluice-maria-XXXXXX")
  MY_HOST=127.0.0.1 MY_USER=sluice MY_PASSWORD=sluice-test-pw MY_DB=sluice
  MY_PORT=$(free_port)
  MY_SOCKET=$MY_DIR/mysqld.sock
  _maria_template || return 1
  cp -a "$DB_MY_TEMPLATE" "$MY_DIR/data" || return 1
  _maria_launch || return 1
  maria_root "CREATE DATABASE $MY_DB; CREATE USER '$MY_USER'@'%' IDENTIFIED BY '$MY_PASSWORD';
    GRANT ALL ON *.* TO '$MY_USER'@'%'; FLUSH PRIVILEGES;" || return 1
  DB_STARTED="$DB_STARTED maria"
}

# Like _pg_template: one installed data directory per machine, copied.
_maria_template() {
  DB_MY_TEMPLATE="${TMPDIR:-/tmp}/sluice-maria-template-$(id -u)-$(/usr/sbin/mariadbd --version 2>/dev/null | awk '{print $3}')-v1"
  [ -d "$DB_MY_TEMPLATE/mysql" ] && return 0
  local t
  t=$(mktemp -d "${TMPDIR:-/tmp}/sluice-maria-tmpl-XXXXXX")
  if ! mariadb-install-db --no-defaults --datadir="$t/data" --user="$(id -un)" \
      --auth-root-authentication-method=socket --skip-test-db >"$t/install.log" 2>&1; then
    echo "db.sh: mariadb-install-db failed:" >&2; tail -n 20 "$t/install.log" >&2; rm -rf "$t"; return 1
  fi
  mv -T "$t/data" "$DB_MY_TEMPLATE" 2>/dev/null
  rm -rf "$t"
  [ -d "$DB_MY_TEMPLATE/mysql" ]
}

_maria_launch() {
  /usr/sbin/mariadbd --no-defaults --datadir="$MY_DIR/data" --socket="$MY_SOCKET" \
    --port="$MY_PORT" --bind-address=127.0.0.1 --user="$(id -un)" --pid-file="$MY_DIR/mysqld.pid" \
    --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=128M --skip-name-resolve \
    --log-error="$MY_DIR/server.log" >/dev/null 2>&1 &
  local i
  for i in $(seq 1 300); do
    mariadb-admin --no-defaults --socket="$MY_SOCKET" -uroot ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "db.sh: mariadbd did not start:" >&2; tail -n 20 "$MY_DIR/server.log" >&2; return 1
}

maria_root() { mariadb --no-defaults --socket="$MY_SOCKET" -uroot -e "$1"; }
maria_sql() { mariadb --no-defaults -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PASSWORD" -D "$MY_DB" -N -B -e "$1"; }

maria_stop() {
  [ -n "${MY_DIR:-}" ] || return 0
  local pid
  pid=$(cat "$MY_DIR/mysqld.pid" 2>/dev/null)
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null
    local i
    for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -rf "$MY_DIR"
  MY_DIR=
}

maria_restart() {
  local pid
  pid=$(cat "$MY_DIR/mysqld.pid" 2>/dev/null)
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  local i
  for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  _maria_launch
}

db_stop_all() {
  pg_stop
  maria_stop
}
