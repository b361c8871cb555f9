#!/usr/bin/env bash
# A/B of the sync's overhead budget: sluice sync faker -> destination-dev-null
# against the faker alone, for two builds, alternated in one run so that the
# shared machine's noise hits both alike.
#   bench/sync-ab.sh BIN_A BIN_B [N=1000000] [RUNS=5]
# Prints, per subject, the best wall time, the best CPU time of the whole
# process tree (user+sys of every waited-for descendant: bash `times`, which
# reads wait4's rusage; 10 ms resolution), rec/s and the ratio to the faker.
set -euo pipefail
A=$(cd "$1" && pwd) B=$(cd "$2" && pwd) N=${3:-1000000} RUNS=${4:-5}
W=$(mktemp -d /tmp/sluice-syncab-XXXXXX)
trap 'rm -rf "$W"' EXIT
die() { echo "sync-ab: $*" >&2; exit 1; }
calc() { awk "BEGIN { printf \"%.6f\", ($*) }"; }
tsec() { awk '{ split($1, u, "m"); split($2, s, "m"); printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }'; }
timed() { # timed NAME CMD...: appends wall and tree CPU seconds
  local name=$1 c0 c1 t0 t1; shift
  times > "$W/t0"; t0=$EPOCHREALTIME
  "$@"
  t1=$EPOCHREALTIME; times > "$W/t1"   # not in $(...): a subshell has no children yet
  c0=$(sed -n 2p "$W/t0" | tsec); c1=$(sed -n 2p "$W/t1" | tsec)
  calc "$t1 - $t0" >> "$W/$name.wall"; echo >> "$W/$name.wall"
  calc "$c1 - $c0" >> "$W/$name.cpu"; echo >> "$W/$name.cpu"
}
best() { sort -g "$W/$1.$2" | head -n 1; }
echo "{\"count\": $N, \"seed\": 1}" > "$W/src.json"
echo '{}' > "$W/null.json"
"$A/source-faker" discover --config "$W/src.json" |
  python3 -c 'import json, sys
c = json.load(sys.stdin)["catalog"]
print(json.dumps({"streams": [{"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
                              for s in c["streams"] if s["name"] == "users"]}))' > "$W/catalog.json"
faker() { "$A/source-faker" read --config "$W/src.json" --catalog "$W/catalog.json" > /dev/null; }
sync_with() { # sync_with BIN: every record must be read and committed
  "$1/sluice" sync --source "$1/source-faker" --source-config "$W/src.json" \
    --destination "$1/destination-dev-null" --destination-config "$W/null.json" \
    --streams users --full-refresh --no-progress 2> "$W/sync.log"
  awk -v n="$N" '$1 == "users" { f = 1; if ($2 != n || $3 != n || $NF != "COMPLETE") bad = 1 }
                 END { exit !(f && !bad) }' "$W/sync.log" || { cat "$W/sync.log" >&2; die "$1: records lost"; }
}
for ((r = 1; r <= RUNS; r++)); do
  echo "sync-ab: round $r/$RUNS" >&2
  if ((r % 2)); then timed faker faker; timed A sync_with "$A"; timed B sync_with "$B"
  else timed B sync_with "$B"; timed A sync_with "$A"; timed faker faker; fi
done
FW=$(best faker wall)
printf '%-6s %9s %9s %12s %7s %s\n' subject wall_s cpu_s rec/s ratio "all walls"
for s in faker A B; do
  w=$(best $s wall)
  printf '%-6s %9.3f %9.3f %12.0f %7.3f %s\n' "$s" "$w" "$(best $s cpu)" "$(calc "$N / $w")" \
    "$(calc "$FW / $w")" "$(paste -sd' ' "$W/$s.wall" | awk '{for(i=1;i<=NF;i++) printf "%.3f ", $i}')"
done
echo "B/A sync speed: $(calc "$(best A wall) / $(best B wall)")  B/A tree CPU: $(calc "$(best B cpu) / $(best A cpu)")"
