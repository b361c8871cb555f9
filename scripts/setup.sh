#!/bin/sh
# Installs the Debian packages sluice needs to build, demo and test.
# Usage: scripts/setup.sh [build|test]   (test adds servers, node and tools)
# Only missing packages are installed, so a second run is a no-op.
set -eu
what=${1:-build}
pkgs="gcc g++ make pkg-config libsimdjson-dev libjansson-dev libsqlite3-dev sqlite3"
if [ "$what" = test ]; then
  pkgs="$pkgs nodejs npm jq ca-certificates procps"
fi
missing=""
for p in $pkgs; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ "$what" = test ] && [ ! -d tests/node/node_modules/ajv ]; then
  echo "setup: installing node test tools (npm ci in tests/node)"
  (cd tests/node && npm ci --silent --no-audit --no-fund)
fi
