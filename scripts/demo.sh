#!/bin/sh
# The quick-start demo: a real sync from source-faker into a SQLite file.
set -eu
cd "$(dirname "$0")/.."
out=${DEMO_DIR:-demo}
mkdir -p "$out"
printf '{"count": 10000, "seed": 42, "always_updated": false}\n' > "$out/faker.json"
printf '{"destination_path": "%s/sluice.db"}\n' "$out" > "$out/sqlite.json"
echo "sluice demo: source-faker -> SQLite ($out/sluice.db)"
build/bin/sluice sync --source source-faker --source-config "$out/faker.json" \
  --destination destination-sqlite --destination-config "$out/sqlite.json" \
  --state-file "$out/state.json"
echo
echo "Rows in $out/sluice.db:"
for t in users products purchases; do
  printf '  %-10s %s\n' "$t" "$(sqlite3 "$out/sluice.db" "select count(*) from $t")"
done
echo
echo "Run it again: only new records are read (state in $out/state.json)."
echo "Try: build/bin/sluice discover source-faker --config $out/faker.json"
