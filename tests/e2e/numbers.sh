#!/usr/bin/env bash
# Number literals that a double or a 64-bit integer cannot hold (NUMERIC(38,18)
# values, 25-digit ids) travel from a source to the file destinations with
# every digit, and into SQLite's REAL columns as the nearest double (INTEGER
# columns: NULL with a recorded typecast change, tests/data/typing): never a
# dropped line. (lib/json_simd.cpp keeps the literal text of such numbers.)
# usage: tests/e2e/numbers.sh [BIN_DIR]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
DATA=$E2E_HERE/../data/numbers

printf '{"url": "%s", "format": {"filetype": "csv"}}\n' "$DATA/long.csv" >"$TMP/src.json"
cut -d, -f2 "$DATA/long.csv" | tail -n +2 | tr '\n' ' ' >"$TMP/amounts"
cut -d, -f3 "$DATA/long.csv" | tail -n +2 | tr '\n' ' ' >"$TMP/bigs"

# ---- jsonl: the record data holds the literals as written ----
printf '{"destination_path": "%s"}\n' "$TMP/jsonl" >"$TMP/jsonl.json"
run_sync jsonl --source source-file --source-config "$TMP/src.json" \
  --destination destination-jsonl --destination-config "$TMP/jsonl.json" --state-file "$TMP/jsonl-state.json"
expect_rc jsonl/exit 0
f=$(ls "$TMP"/jsonl/*.jsonl 2>/dev/null | head -n 1)
expect_eq jsonl/rows "$(wc -l <"${f:-/dev/null}")" 4
expect_eq jsonl/amounts "$(grep -o '"amount":[^,}]*' "${f:-/dev/null}" | cut -d: -f2 | tr '\n' ' ')" "$(cat "$TMP/amounts")"
expect_eq jsonl/bigs "$(grep -o '"big":[^,}]*' "${f:-/dev/null}" | cut -d: -f2 | tr '\n' ' ')" "$(cat "$TMP/bigs")"

# ---- csv: the same columns, digit for digit ----
printf '{"destination_path": "%s"}\n' "$TMP/csv" >"$TMP/csv.json"
run_sync csv --source source-file --source-config "$TMP/src.json" \
  --destination destination-csv --destination-config "$TMP/csv.json" --state-file "$TMP/csv-state.json"
expect_rc csv/exit 0
f=$(ls "$TMP"/csv/*.csv 2>/dev/null | head -n 1)
expect_eq csv/same-as-source "$(tr -d '\r' <"${f:-/dev/null}")" "$(cat "$DATA/long.csv")"

# ---- sqlite: no line is dropped; REAL columns hold the nearest double ----
printf '{"destination_path": "%s"}\n' "$TMP/n.db" >"$TMP/sqlite.json"
run_sync sqlite --source source-file --source-config "$TMP/src.json" \
  --destination destination-sqlite --destination-config "$TMP/sqlite.json" --state-file "$TMP/sqlite-state.json"
expect_rc sqlite/exit 0
expect_eq sqlite/rows "$(sql "$TMP/n.db" 'select group_concat(id) from long')" "1,2,3,4"
expect_eq sqlite/nearest "$(sql "$TMP/n.db" "select typeof(big) || ':' || (abs(big / 9.8765432109876543e28 - 1) < 1e-12) from long where id = 1")" "real:1"
finish
