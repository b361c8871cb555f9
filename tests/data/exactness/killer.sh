#!/bin/sh
# A destination for the first-sync cases (exactness.sh, platform-kill.sh):
# KILLER_REAL, the real destination, does everything, except a `write` with
# KILLER_MODE set: "after" runs the real one to its end, its echoes going to
# KILLER_OUT and never to sluice, then kills sluice (its parent) as if it died
# before saving anything; "early" kills sluice at once, before any commit.
case "$1:${KILLER_MODE:-}" in
  write:after) "$KILLER_REAL" "$@" >"${KILLER_OUT:-/dev/null}" ;;
  write:early) ;;
  *) exec "$KILLER_REAL" "$@" ;;
esac
kill -9 "$PPID"
