#!/usr/bin/env bash
# bench/interp.sh: template evaluations per second, sluice's engine against
# the Python reference (jinja2 + literal_eval, as the CDK evaluates) measured
# in the same run. Usage: bench/interp.sh [build-dir] [seconds-per-case]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
S=${2:-2}
make -s "BUILD=$B" "$B/bin/bench-interp" >/dev/null
c=$("$B/bin/bench-interp" "$S")
p=$(/usr/bin/python3 bench/interp_jinja.py "$S")
# jinja2/s: compiled per call, as the CDK does (its template cache is
# commented out); jinja2-cached/s: compiled once.
printf '%-30s %12s %12s %8s %16s %8s\n' template sluice/s jinja2/s ratio jinja2-cached/s ratio
join -t $'\t' <(sort <<<"$c") <(sort <<<"$p") |
  awk -F'\t' '{ printf "%-30s %12d %12d %7.0fx %16d %7.1fx\n", $1, $2, $3, $2 / $3, $4, $2 / $4 }'
