#!/bin/sh
# Installs the Debian packages sluice needs to build, demo and test.
# Usage: scripts/setup.sh [build|test]   (test adds node, npm and tools)
# Only what is missing is installed, so a second run is a no-op. A tool is
# present when its command is on PATH (node and npm may come from elsewhere,
# e.g. a nodesource build whose nodejs conflicts with Debian's npm); a
# library when its Debian package is installed.
set -eu
cd "$(dirname "$0")/.."
what=${1:-build}
# package:command (command empty: check the package itself)
need="gcc:gcc g++:g++ make:make pkg-config:pkg-config libsimdjson-dev: libjansson-dev: libsqlite3-dev: sqlite3:sqlite3
  libcurl4-openssl-dev: libfyaml-dev: libpq-dev: libmariadb-dev: zlib1g-dev: libzstd-dev: libbz2-dev:
  libpcre2-dev: libmicrohttpd-dev: libssl-dev: libcsv-dev: libyajl-dev: python3:/usr/bin/python3
  libxml2-dev: libzip-dev: libcmark-dev:"
if [ "$what" = test ]; then
  need="$need nodejs:node npm:npm jq:jq ca-certificates: procps:pgrep bsdutils:script time:/usr/bin/time
    postgresql: mariadb-server: mariadb-client: curl:curl gzip:gzip zstd:zstd bzip2:bzip2
    chromium: wrk:wrk python3-yaml: python3-jwt: python3-cryptography:"
fi
missing=""
for item in $need; do
  pkg=${item%%:*} cmd=${item#*:}
  if [ -n "$cmd" ]; then
    command -v "$cmd" >/dev/null 2>&1 && continue
  else
    st=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$st" = installed ] && continue
  fi
  missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# tests/node also holds npm's graphql, whose parser the builder page embeds at
# build time (builder/embed_assets.py): installed for a build too when npm is
# there; without it the page says its GraphQL check is unavailable.
if { [ "$what" = test ] || command -v npm >/dev/null 2>&1; } &&
  { [ ! -d tests/node/node_modules/ajv ] || [ ! -f tests/node/node_modules/graphql/language/parser.mjs ]; }; then
  echo "setup: installing node tools (npm ci in tests/node)"
  # Use the system's CA bundle: Debian's node otherwise trusts only its own.
  ca=""
  [ -f /etc/ssl/certs/ca-certificates.crt ] && ca="--cafile=/etc/ssl/certs/ca-certificates.crt"
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error $ca)
fi
