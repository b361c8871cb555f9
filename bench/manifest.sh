#!/usr/bin/env bash
# bench/manifest.sh: loading low-code manifests. CPU seconds (user+sys) for
# `sluice manifest coverage` over a directory of manifests (YAML parse, $ref
# resolution, implicit types, $parameters, schema + support validation of
# every manifest) against, measured in the same run, Python only parsing the
# same files with PyYAML: safe_load as the CDK calls it, and the libyaml-backed
# CSafeLoader as a lower bound for any Python loader.
# Usage: bench/manifest.sh [build-dir] [manifest-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
D=${2:-../shared/corpus/manifests}
[ -d "$D" ] || { echo "bench/manifest.sh: $D not found (the shared manifest corpus)" >&2; exit 2; }
make -s "BUILD=$B" "$B/bin/sluice" >/dev/null
n=$(find "$D" -name '*.yaml' | wc -l)
cpu() { /usr/bin/time -f '%U %S' "$@" 2>&1 >/dev/null | tail -1 | awk '{ printf "%.2f", $1 + $2 }'; }
s=$(cpu "$B/bin/sluice" manifest coverage "$D")
py() {
  /usr/bin/python3 - "$D" "$1" <<'PY'
import glob, os, resource, sys, yaml
loader = yaml.CSafeLoader if sys.argv[2] == 'c' else yaml.SafeLoader
for f in sorted(glob.glob(os.path.join(sys.argv[1], '*.yaml'))):
    with open(f) as fh:
        yaml.load(fh, Loader=loader)
r = resource.getrusage(resource.RUSAGE_SELF)
print('%.2f' % (r.ru_utime + r.ru_stime))
PY
}
p=$(py python)
c=$(py c)
printf '%-52s %10s %8s\n' "over $n manifests in $D" "CPU s" "ratio"
printf '%-52s %10s %8s\n' "sluice manifest coverage (load + validate)" "$s" "1.0x"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
printf '%-52s %10s %7sx\n' "PyYAML safe_load, parse only (the CDK's first step)" "$p" "$(ratio "$p" "$s")"
printf '%-52s %10s %7sx\n' "PyYAML CSafeLoader (libyaml), parse only" "$c" "$(ratio "$c" "$s")"
