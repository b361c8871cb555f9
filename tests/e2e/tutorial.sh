#!/usr/bin/env bash
# Docs double as tests: builds the tutorial source in docs/connector-api.md
# against libsluice and syncs it into SQLite.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"
bin=$BIN
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$bin/.." && pwd)
tmp=$TMP

# The tutorial is the c block that has a main().
awk '/^```c$/ {on = 1; block = ""; next}
     on && /^```$/ {on = 0; if (block ~ /int main\(/) printf "%s", block; next}
     on {block = block $0 "\n"}' "$root/docs/connector-api.md" > "$tmp/main.c"
grep -q 'sl_source_main(&source' "$tmp/main.c" && pass "tutorial code extracted" || fail "tutorial code extracted" "no c block with main() in docs/connector-api.md"
san=""
case "$build" in *asan*) san="-fsanitize=address,undefined";; esac
mkdir -p "$tmp/bin"
if gcc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter $san -I"$root/include" -o "$tmp/bin/source-countries" "$tmp/main.c" \
     "$build/lib/libsluice.a" -ljansson -lsimdjson -lstdc++ -lm 2> "$tmp/cc.log"; then
  pass "tutorial compiles"
else
  fail "tutorial compiles" "$(head -5 "$tmp/cc.log")"
fi
echo '{}' > "$tmp/c.json"
echo "{\"destination_path\": \"$tmp/c.db\"}" > "$tmp/db.json"
if "$bin/sluice" sync --source "$tmp/bin/source-countries" --source-config "$tmp/c.json" \
     --destination "$bin/destination-sqlite" --destination-config "$tmp/db.json" --no-progress 2> "$tmp/sync.log"; then
  pass "tutorial source syncs"
else
  fail "tutorial source syncs" "$(tail -3 "$tmp/sync.log")"
fi
got=$(sqlite3 "$tmp/c.db" "select code||':'||population from countries order by code" 2>&1 | tr '\n' ' ')
[ "$got" = "CL:19600000 FR:68000000 KE:55000000 " ] && pass "tutorial rows in sqlite" || fail "tutorial rows in sqlite" "got '$got'"
finish
