#!/usr/bin/env bash
# bench/run.sh: sluice's throughput and memory benchmarks (`make bench`).
#
# Every number is printed next to a baseline measured in the same run, on the
# same machine, minutes apart: machines are shared and noisy, so each
# throughput measurement is the best (shortest wall time) of BENCH_RUNS runs,
# and the runs of the subjects and their baselines are interleaved (round 1
# runs each of them once, then round 2, ...) so that a burst of load from
# elsewhere hits both. Nothing here asserts a time: the table says "pass" or
# "UNDER" against the budgets of DESIGN.md and the exit status is 0 unless a
# command failed or moved the wrong number of records.
#
# Usage: bench/run.sh [--quick]
#   --quick        100,000 records instead of 1,000,000 (RSS at 100k and 1M)
#   BENCH_N=n      records per measurement (default 1000000, --quick 100000);
#                  peak RSS is measured at n and 10*n
#   BENCH_RUNS=r   runs of each measurement, best kept (default 3)
#   BENCH_TMP=dir  scratch space (default $TMPDIR or /tmp); needs about
#                  0.6 GB per million records for the pre-generated file
#   BENCH_CALLGRIND=0  skip the callgrind instruction counts
#   BENCH_JSON=0   skip build/bin/bench-json
#
# Measurements (records are source-faker's `users`, ~600-byte RECORD lines):
#   1 plain C emitter (bench-plain_emit, 64 KiB writes) to /dev/null and
#     through a pipe, and `cat` of the pre-generated file to /dev/null: the
#     machine's ceiling;
#     source-faker read users > /dev/null: records/s and MB/s against them;
#     source-faker read users | cat > /dev/null: the same through a pipe.
#   2 sluice sync faker -> destination-dev-null, against (1).
#   3 sluice sync faker -> destination-sqlite (fresh file each run), against
#     bench-sqlite_insert (the same rows, one prepared INSERT, WAL +
#     synchronous=FULL as the destination sets them): once in one
#     transaction, once committing every 50,000 rows (the destination
#     runtime commits at state boundaries, about once a second; with WAL,
#     one huge transaction is slower: the WAL grows to the size of the data
#     before the checkpoint).
#   4 peak RSS of sluice sync faker -> dev-null at n and 10*n records: the
#     platform process (the whole tree's %M when that is above both
#     connectors' peaks, else its VmHWM polled from /proc every 20 ms),
#     the source and the destination (each run under /usr/bin/time by a wrapper script), and
#     /usr/bin/time's %M of the whole sync (the largest of the tree). A
#     connector is "flat" when its peak at 10*n is less than 1 MiB above its
#     peak at n (allocator and page noise is a few hundred KiB).
#   5 instructions per record (callgrind, 100,000 records or n if smaller):
#     source-faker against bench-plain_emit. Repeatable under any load.
#   then build/bin/bench-json (JSON libraries; see docs/json.md) if built.
# The table goes to stdout and to bench/results/latest.txt (1M records) or
# bench/results/latest-n<N>.txt (other sizes, --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/build/bin
QUICK=0
for a in "$@"; do
  case $a in
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $a (try --help)" >&2; exit 2 ;;
  esac
done
if [ -n "${BENCH_N:-}" ]; then N=$BENCH_N
elif [ $QUICK = 1 ]; then N=100000
else N=1000000; fi
RUNS=${BENCH_RUNS:-3}
BIG=$((N * 10))
CG_N=$((N < 100000 ? N : 100000))
RESULTS=$ROOT/bench/results
# Only the default size writes latest.txt (the reference docs/performance.md
# quotes); --quick and other sizes write latest-n<N>.txt beside it.
if [ "$N" = 1000000 ]; then OUT_NAME=latest.txt; else OUT_NAME=latest-n$N.txt; fi
mkdir -p "$RESULTS"
export LC_ALL=C

die() { echo "bench/run.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: install the Debian package \"time\" (apt-get install time)"
command -v jq > /dev/null || command -v python3 > /dev/null || die "jq or python3 is needed to write the configured catalog"

# ---- one benchmark at a time on this machine ----
# Two runs at once (two people typing `make bench`) would each measure the
# other: the second waits for the first.
if command -v flock > /dev/null; then
  exec 9> "${BENCH_TMP:-${TMPDIR:-/tmp}}/sluice-bench.lock"
  if ! flock -n 9; then
    echo "bench: another bench/run.sh is running on this machine; waiting for it" >&2
    flock 9
  fi
fi

# ---- build, then pin the binaries ----
# Other people rebuild build/bin while a run takes minutes: the run uses its
# own copies (sluice finds the built-in connectors beside its executable).
make -s all build/bin/bench-plain_emit build/bin/bench-sqlite_insert
[ ! -f bench/json.c ] || make -s build/bin/bench-json
GIT_REV="$(git rev-parse --short HEAD 2> /dev/null || echo '?')$(git diff --quiet HEAD -- lib platform cli connectors include 2> /dev/null || echo '+uncommitted changes')"

W=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/sluice-bench-XXXXXX")
POLL_PID=
cleanup() {
  [ -z "$POLL_PID" ] || kill "$POLL_PID" 2> /dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
mkdir "$W/bin"
for b in sluice source-faker destination-dev-null destination-sqlite bench-plain_emit bench-sqlite_insert bench-json; do
  [ ! -x "$BIN/$b" ] || cp "$BIN/$b" "$W/bin/"
done
BIN=$W/bin

# ---- helpers ----
# Thousands separators: 1234567.8 -> 1,234,568
commas() { printf '%.0f' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }
calc() { awk "BEGIN { printf \"%.6f\", ($*) }"; }
fmt2() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }

# timed NAME FUNC: one run of FUNC in this shell; appends its wall seconds
# to $W/NAME.wall and the user+sys CPU seconds of the processes it waited
# for (bash's `times`, 10 ms resolution) to $W/NAME.cpu.
cpu_delta() {
  awk 'function s(t, a) { split(t, a, "m"); return a[1] * 60 + a[2] }
       FNR == 2 { c[NR > FNR] = s($1) + s($2) }
       END { printf "%.2f\n", c[1] - c[0] }' "$1" "$2"
}
timed() {
  local name=$1 t0 t1
  times > "$W/times0"
  t0=$EPOCHREALTIME
  "$2"
  t1=$EPOCHREALTIME
  times > "$W/times1"
  calc "$t1 - $t0" >> "$W/$name.wall"; echo >> "$W/$name.wall"
  cpu_delta "$W/times0" "$W/times1" >> "$W/$name.cpu"
}
best() { sort -g "$W/$1.$2" | head -n 1; }     # best NAME wall|cpu
alls() { paste -sd, "$W/$1.wall" | sed 's/\([0-9]*\.[0-9][0-9][0-9]\)[0-9]*/\1/g'; }

# ---- inputs ----
echo "{\"count\": $N, \"seed\": 1}" > "$W/src.json"
echo "{\"count\": $BIG, \"seed\": 1}" > "$W/src-big.json"
echo '{}' > "$W/null.json"
echo "{\"destination_path\": \"$W/sync.db\"}" > "$W/sqlite.json"
"$BIN/source-faker" discover --config "$W/src.json" > "$W/discover.json"
if command -v jq > /dev/null; then
  jq -c '{streams: [.catalog.streams[] | select(.name == "users")
          | {stream: ., sync_mode: "full_refresh", destination_sync_mode: "overwrite"}]}' \
    "$W/discover.json" > "$W/catalog.json"
else
  python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))["catalog"]
print(json.dumps({"streams": [{"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
                              for s in c["streams"] if s["name"] == "users"]}))' "$W/discover.json" > "$W/catalog.json"
fi
grep -q '"users"' "$W/catalog.json" || die "source-faker discover has no users stream"

echo "bench: $N records, best of $RUNS; scratch in $W" >&2
echo "bench: pre-generating $N users records" >&2
"$BIN/source-faker" read --config "$W/src.json" --catalog "$W/catalog.json" > "$W/users.jsonl"
BYTES=$(stat -c %s "$W/users.jsonl")
NREC=$(grep -c '"type":"RECORD"' "$W/users.jsonl" || true)
[ "$NREC" = "$N" ] || die "source-faker wrote $NREC records, expected $N"
LINE_B=$(calc "$BYTES / $N")

# ---- the subjects and their baselines ----
m_plain() { "$BIN/bench-plain_emit" -n "$N" -f "$W/users.jsonl" > /dev/null 2> "$W/plain.out"; }
m_plain_pipe() { sh -c '"$1" -n "$2" -f "$3" 2> /dev/null | cat > /dev/null' sh \
  "$BIN/bench-plain_emit" "$N" "$W/users.jsonl"; }
m_cat() { cat "$W/users.jsonl" > /dev/null; }
m_faker() { "$BIN/source-faker" read --config "$W/src.json" --catalog "$W/catalog.json" > /dev/null; }
m_faker_pipe() { sh -c '"$1" read --config "$2" --catalog "$3" | cat > /dev/null' sh \
  "$BIN/source-faker" "$W/src.json" "$W/catalog.json"; }
sync_cmd() { # sync_cmd SOURCE DEST DEST_CONFIG SOURCE_CONFIG
  "$BIN/sluice" sync --source "$1" --source-config "$4" --destination "$2" --destination-config "$3" \
    --streams users --full-refresh --no-progress
}
# The summary's users line must show every record read and committed.
check_sync() { # check_sync LOG COUNT
  awk -v n="$2" '$1 == "users" { found = 1; if ($2 != n || $3 != n || $NF != "COMPLETE") bad = 1 }
                 END { exit !(found && !bad) }' "$1" ||
    { cat "$1" >&2; die "the sync did not commit $2 records (log above)"; }
}
m_sync_null() { sync_cmd source-faker destination-dev-null "$W/null.json" "$W/src.json" 2> "$W/sync-null.log"; }
m_sync_sqlite() { sync_cmd source-faker destination-sqlite "$W/sqlite.json" "$W/src.json" 2> "$W/sync-sqlite.log"; }
# The destination commits at state boundaries, about once a second
# (lib/destination.c): the second baseline commits every 50,000 rows, the
# first once (one transaction).
BATCH=50000
m_sqlite_plain() { # m_sqlite_plain NAME BATCH; times itself: only the inserts, not the loading of the rows
  "$BIN/bench-sqlite_insert" -f "$W/users.jsonl" -o "$W/plain.db" -n "$N" -r 1 -b "$2" > "$W/$1.out"
  sed -n 's/.*best_s=\([0-9.]*\).*/\1/p' "$W/$1.out" >> "$W/$1.wall"
}

for ((r = 1; r <= RUNS; r++)); do
  echo "bench: round $r/$RUNS" >&2
  timed plain m_plain
  timed plain_pipe m_plain_pipe
  timed cat m_cat
  timed faker m_faker
  timed faker_pipe m_faker_pipe
  timed sync_null m_sync_null
  check_sync "$W/sync-null.log" "$N"
  rm -f "$W/sync.db" "$W/sync.db-wal" "$W/sync.db-shm"
  timed sync_sqlite m_sync_sqlite
  check_sync "$W/sync-sqlite.log" "$N"
  m_sqlite_plain sqlite_plain 0
  m_sqlite_plain sqlite_batch "$BATCH"
done
if command -v sqlite3 > /dev/null; then
  got=$(sqlite3 "$W/sync.db" 'SELECT count(*) FROM users')
  [ "$got" = "$N" ] || die "destination-sqlite holds $got users rows, expected $N"
  got=$(sqlite3 "$W/plain.db" 'SELECT count(*) FROM users')
  [ "$got" = "$N" ] || die "bench-sqlite_insert wrote $got rows, expected $N"
fi
PLAIN_BYTES=$(sed -n 's/.*bytes \([0-9]*\).*/\1/p' "$W/plain.out")
rm -f "$W/plain.db" "$W/plain.db-wal" "$W/plain.db-shm"

# ---- peak RSS ----
# Wrappers run each connector under /usr/bin/time; sluice's own high-water
# mark is polled from /proc while it runs (VmHWM only grows, so the last
# reading is at most one poll interval short of the end).
for c in source-faker destination-dev-null; do
  cat > "$W/wrap-$c" << EOF
#!/bin/sh
exec /usr/bin/time -o "$W/rss-$c.\$\$" -f %M "$BIN/$c" "\$@"
EOF
  chmod +x "$W/wrap-$c"
done
# child_of PID: a child's pid, found by the ppid in /proc/*/stat (after the
# last ')', since a command name may hold spaces).
child_of() {
  local parent=$1 f st fields
  for f in /proc/[0-9]*/stat; do
    { read -r st < "$f"; } 2> /dev/null || continue
    read -r -a fields <<< "${st##*) }"
    if [ "${fields[1]}" = "$parent" ]; then
      f=${f#/proc/}
      echo "${f%/stat}"
      return
    fi
  done
}
# rss COUNT CONFIG: sets RSS_SLUICE RSS_SRC RSS_DST RSS_TREE (KiB)
rss() {
  local n=$1 cfg=$2 tpid spid hwm=0 v
  rm -f "$W"/rss-*
  /usr/bin/time -o "$W/rss-tree" -f %M "$BIN/sluice" sync --source "$W/wrap-source-faker" --source-config "$cfg" \
    --destination "$W/wrap-destination-dev-null" --destination-config "$W/null.json" \
    --streams users --full-refresh --no-progress 2> "$W/sync-rss.log" &
  tpid=$!
  POLL_PID=$tpid
  spid=
  while [ -z "$spid" ] && kill -0 "$tpid" 2> /dev/null; do
    spid=$(child_of "$tpid")
    [ -n "$spid" ] || sleep 0.005
  done
  while [ -n "$spid" ]; do
    v=
    { while read -r k val _; do [ "$k" = VmHWM: ] && v=$val; done < "/proc/$spid/status"; } 2> /dev/null || true
    [ -n "$v" ] || break
    hwm=$v
    sleep 0.02
  done
  wait "$tpid" || { cat "$W/sync-rss.log" >&2; die "the RSS sync failed"; }
  POLL_PID=
  check_sync "$W/sync-rss.log" "$n"
  RSS_SRC=$(cat "$W"/rss-source-faker.* | sort -n | tail -n 1)
  RSS_DST=$(cat "$W"/rss-destination-dev-null.* | sort -n | tail -n 1)
  RSS_TREE=$(tail -n 1 "$W/rss-tree")
  # The tree's %M is the largest peak among sluice, the wrappers and the
  # connectors: when it is above both connectors' it is sluice's own peak,
  # exactly (polling misses a peak in the last 20 ms, when the forward
  # buffer fills as the source ends and the destination drains it).
  if [ "$RSS_TREE" -gt "$((RSS_SRC > RSS_DST ? RSS_SRC : RSS_DST))" ] && [ "$RSS_TREE" -gt "$hwm" ]; then
    RSS_SLUICE=$RSS_TREE
  else
    RSS_SLUICE=$hwm
  fi
}
echo "bench: peak RSS at $N records" >&2
rss "$N" "$W/src.json"
S1=("$RSS_SLUICE" "$RSS_SRC" "$RSS_DST" "$RSS_TREE")
echo "bench: peak RSS at $BIG records" >&2
rss "$BIG" "$W/src-big.json"
S2=("$RSS_SLUICE" "$RSS_SRC" "$RSS_DST" "$RSS_TREE")

# ---- instruction counts ----
CG_FAKER='' CG_PLAIN=''
if [ "${BENCH_CALLGRIND:-1}" != 0 ] && command -v valgrind > /dev/null; then
  echo "bench: callgrind, $CG_N records" >&2
  echo "{\"count\": $CG_N, \"seed\": 1}" > "$W/src-cg.json"
  # ir OUT CMD...: total instructions executed (Ir) by CMD
  ir() {
    local out=$1; shift
    valgrind --tool=callgrind --callgrind-out-file="$W/$out.cg" "$@" > /dev/null 2> "$W/$out.cglog"
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$W/$out.cg"
  }
  CG_FAKER=$(ir faker "$BIN/source-faker" read --config "$W/src-cg.json" --catalog "$W/catalog.json")
  CG_PLAIN=$(ir plain "$BIN/bench-plain_emit" -n "$CG_N" -f "$W/users.jsonl")
fi

# ---- the table ----
rate() { calc "$1 / $(best "$2" wall)"; }  # rate COUNT NAME
P_RPS=$(rate "$N" plain);          P_MBS=$(calc "$(rate "$PLAIN_BYTES" plain) / 1e6")
PP_RPS=$(rate "$N" plain_pipe)
C_MBS=$(calc "$(rate "$BYTES" cat) / 1e6")
F_RPS=$(rate "$N" faker);          F_MBS=$(calc "$(rate "$BYTES" faker) / 1e6")
FP_RPS=$(rate "$N" faker_pipe)
SN_RPS=$(rate "$N" sync_null)
SS_RPS=$(rate "$N" sync_sqlite)
SP_RPS=$(rate "$N" sqlite_plain)
SB_RPS=$(rate "$N" sqlite_batch)
cpu_rps() { calc "$N / $(best "$1" cpu)"; }

status() { awk -v ok="$1" 'BEGIN { print (ok + 0 ? "pass" : "UNDER") }'; }
ROWS=()
row() { ROWS+=("$(printf '%-48s|%-26s|%-26s|%-7s|%-18s|%s' "$@")"); }
rps() { echo "$(commas "$1") rec/s"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

row "plain C emitter -> /dev/null" "$(rps "$P_RPS")" "-" "-" "-" "baseline"
row "  (bytes)" "$(fmt2 "$P_MBS") MB/s" "-" "-" "-" "baseline"
row "plain C emitter | cat > /dev/null" "$(rps "$PP_RPS")" "-" "-" "-" "baseline"
row "cat of the same records -> /dev/null" "$(fmt2 "$C_MBS") MB/s" "-" "-" "-" "baseline"
row "source-faker read users -> /dev/null" "$(rps "$F_RPS")" "$(rps "$P_RPS") plain" "$(fmt2 "$(calc "$F_RPS / $P_RPS")")" ">= 1,000,000 rec/s" "$(status "$(calc "$F_RPS >= 1000000")")"
row "  (bytes)" "$(fmt2 "$F_MBS") MB/s" "$(fmt2 "$C_MBS") MB/s cat" "$(fmt2 "$(calc "$F_MBS / $C_MBS")")" "-" "info"
row "source-faker read users | cat > /dev/null" "$(rps "$FP_RPS")" "$(rps "$PP_RPS") plain|cat" "$(fmt2 "$(calc "$FP_RPS / $PP_RPS")")" "-" "info"
row "sluice sync faker -> dev-null" "$(rps "$SN_RPS")" "$(rps "$F_RPS") faker" "$(fmt2 "$(calc "$SN_RPS / $F_RPS")")" ">= 0.60 of faker" "$(status "$(calc "$SN_RPS / $F_RPS >= 0.6")")"
row "sluice sync faker -> sqlite" "$(rps "$SS_RPS")" "$(rps "$SP_RPS") insert" "$(fmt2 "$(calc "$SS_RPS / $SP_RPS")")" "none (pg: >= 0.70)" "info"
row "  against inserts committed every $(commas "$BATCH")" "$(rps "$SS_RPS")" "$(rps "$SB_RPS") insert" "$(fmt2 "$(calc "$SS_RPS / $SB_RPS")")" "none (pg: >= 0.70)" "info"
for i in 0 1; do
  if [ $i = 0 ]; then n=$N s=("${S1[@]}"); else n=$BIG s=("${S2[@]}"); fi
  label="peak RSS sync -> dev-null, $(commas "$n") rec"
  if [ $i = 1 ]; then
    ratio() { fmt2 "$(calc "$1 / $2")"; }
    base() { echo "$(mib "$1") at $(commas "$N")"; }
    st=$(status "$(calc "${s[3]} < 100 * 1024")")
    row "$label: tree" "$(mib "${s[3]}")" "$(base "${S1[3]}")" "$(ratio "${s[3]}" "${S1[3]}")" "< 100 MB" "$st"
    # sluice's peak is its forward buffer (bounded: up to 8 MiB + one read
    # of 256 KiB) filled more or less, which depends on timing, not on the
    # record count: shown, not judged (docs/performance.md, "Memory").
    row "  sluice (platform) peak" "$(mib "${s[0]}")" "$(base "${S1[0]}")" "$(ratio "${s[0]}" "${S1[0]}")" "bounded buffers" "info"
    row "  source-faker" "$(mib "${s[1]}")" "$(base "${S1[1]}")" "$(ratio "${s[1]}" "${S1[1]}")" "flat (+< 1 MiB)" "$(status "$(calc "${s[1]} - ${S1[1]} < 1024")")"
    row "  destination-dev-null" "$(mib "${s[2]}")" "$(base "${S1[2]}")" "$(ratio "${s[2]}" "${S1[2]}")" "flat (+< 1 MiB)" "$(status "$(calc "${s[2]} - ${S1[2]} < 1024")")"
  else
    row "$label: tree" "$(mib "${s[3]}")" "-" "-" "< 100 MB" "$(status "$(calc "${s[3]} < 100 * 1024")")"
    row "  sluice (platform) peak" "$(mib "${s[0]}")" "-" "-" "-" "info"
    row "  source-faker" "$(mib "${s[1]}")" "-" "-" "-" "info"
    row "  destination-dev-null" "$(mib "${s[2]}")" "-" "-" "-" "info"
  fi
done
if [ -n "$CG_FAKER" ] && [ -n "$CG_PLAIN" ]; then
  fi_r=$(calc "$CG_FAKER / $CG_N"); pi_r=$(calc "$CG_PLAIN / $CG_N")
  row "source-faker instructions/record (callgrind)" "$(commas "$fi_r")" "$(commas "$pi_r") plain" "$(fmt2 "$(calc "$fi_r / $pi_r")")" "-" "info"
fi

{
  echo "sluice benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), git $GIT_REV"
  echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "records: $(commas "$N") users (RECORD lines of $(fmt2 "$LINE_B") bytes on average, $(fmt2 "$(calc "$BYTES / 1e6")") MB); best of $RUNS interleaved runs; MB = 10^6 bytes"
  echo
  printf '%-48s|%-26s|%-26s|%-7s|%-18s|%s\n' "measurement" "value" "baseline" "ratio" "budget" "status"
  printf '%s\n' "$(printf '%.0s-' {1..140})"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "wall seconds of each run (the best is used above):"
  for m in plain plain_pipe cat faker faker_pipe sync_null sync_sqlite sqlite_plain sqlite_batch; do
    printf '  %-14s %s\n' "$m" "$(alls "$m")"
  done
  echo "CPU seconds (user+sys, the process and its children), best run; records per CPU-second:"
  for m in plain plain_pipe cat faker faker_pipe sync_null sync_sqlite; do
    printf '  %-14s %6s s  %s rec/CPU-s\n' "$m" "$(best "$m" cpu)" "$(commas "$(cpu_rps "$m")")"
  done
  echo "peak RSS, KiB (sluice / source / destination / whole tree): $(commas "$N") rec: ${S1[*]}; $(commas "$BIG") rec: ${S2[*]}"
  [ -z "$CG_FAKER" ] || echo "callgrind Ir for $(commas "$CG_N") records: source-faker $(commas "$CG_FAKER"), bench-plain_emit $(commas "$CG_PLAIN")"
} > "$W/table.txt"

if [ "${BENCH_JSON:-1}" != 0 ] && [ -x "$BIN/bench-json" ]; then
  echo "bench: build/bin/bench-json" >&2
  {
    echo
    echo "build/bin/bench-json -n $N -r $RUNS (JSON libraries; see docs/json.md):"
    "$BIN/bench-json" -n "$N" -r "$RUNS" 2>&1 || echo "(bench-json exited with status $?)"
  } >> "$W/table.txt"
fi

cp "$W/table.txt" "$RESULTS/$OUT_NAME"
cat "$W/table.txt"
echo >&2
echo "bench: written to bench/results/$OUT_NAME" >&2
