#!/usr/bin/env bash
# End-to-end syncs with the built-in connectors: source-faker into sqlite,
# jsonl and dev-null; incremental state, --streams, --full-refresh, and
# deterministic data.
# usage: tests/e2e/sync.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"

COUNT=50 # below 100 on purpose: products always has 100 records

# summary RUN STREAM COLUMN: a column of the per-stream summary on stderr
# (2 read, 3 committed, 6 status).
summary() { awk -v s="$2" -v c="$3" '$1 == s { print $c; exit }' "$TMP/$1.err"; }

faker_cfg() { # faker_cfg FILE COUNT [SEED]
  printf '{"count": %d, "seed": %d, "records_per_slice": 10, "always_updated": false}\n' "$2" "${3:-42}" >"$1"
}
faker_cfg "$TMP/f50.json" $COUNT
faker_cfg "$TMP/f70.json" 70
faker_cfg "$TMP/f30.json" 30
echo "{\"destination_path\": \"$TMP/main.db\"}" >"$TMP/main-db.json"
DB=$TMP/main.db
ST=$TMP/state.json

# ---- 1. full sync faker -> sqlite -------------------------------------------
run_sync full --source source-faker --source-config "$TMP/f50.json" \
  --destination destination-sqlite --destination-config "$TMP/main-db.json" --state-file "$ST"
expect_rc full/exit 0
expect_eq full/users-rows "$(sql "$DB" 'select count(*) from users')" $COUNT
expect_eq full/products-rows "$(sql "$DB" 'select count(*) from products')" 100
expect_eq full/purchases-rows "$(sql "$DB" 'select count(*) from purchases')" $COUNT
expect_eq full/users-distinct-ids "$(sql "$DB" 'select count(distinct id) || "," || min(id) || "," || max(id) from users')" "$COUNT,1,$COUNT"
expect_err full/summary-header full "committed"
expect_eq full/summary-users "$(summary full users 2) $(summary full users 3) $(summary full users 6)" "$COUNT $COUNT COMPLETE"
expect_eq full/summary-products "$(summary full products 2) $(summary full products 3) $(summary full products 6)" "100 100 COMPLETE"
expect_eq full/summary-purchases "$(summary full purchases 2) $(summary full purchases 3) $(summary full purchases 6)" "$COUNT $COUNT COMPLETE"
expect_eq full/summary-total "$(summary full total 2) $(summary full total 3)" "$((2 * COUNT + 100)) $((2 * COUNT + 100))"
# Every state the source emitted (in the log without the "id" sluice adds) is committed.
src_states=$(jq -s '[.[] | select(.type == "STATE" and .state.id == null)] | length' "$PLOG")
check full/states-emitted test "$src_states" -ge 15 # at least one per 10 records
expect_err full/states-committed full "$src_states state(s) committed"
expect_eq full/states-echoed "$(jq -s '[.[] | select(.type == "STATE" and .state.id != null)] | length' "$PLOG")" "$src_states"
expect_eq full/protocol-log-records "$(grep -c '^{"type":"RECORD"' "$PLOG")" $((2 * COUNT + 100))

# ---- 2. the state file ----------------------------------------------------------
check state/valid-json json_ok "$ST"
expect_eq state/stream-states "$(jq -c '[.[] | select(.type == "STREAM") | .stream.stream_descriptor.name] | sort' "$ST")" \
  '["products","purchases","users"]'
expect_eq state/only-stream-states "$(jq 'length' "$ST")" 3
expect_eq state/updated_at-strings "$(jq '[.[] | .stream.stream_state.updated_at | strings] | length' "$ST")" 3
# No per-message bookkeeping leaks into the file.
expect_eq state/no-stats-or-id "$(jq '[.. | objects | select(has("sourceStats") or has("destinationStats") or has("id"))] | length' "$ST")" 0
for s in users products purchases; do
  expect_eq "state/$s-cursor-is-max" "$(state_field "$ST" $s updated_at)" "$(sql "$DB" "select max(updated_at) from $s")"
done

# ---- 3. second run, same state: nothing new ---------------------------------------
cp "$ST" "$TMP/state-after-full.json"
run_sync again --source source-faker --source-config "$TMP/f50.json" \
  --destination destination-sqlite --destination-config "$TMP/main-db.json" --state-file "$ST"
expect_rc again/exit 0
expect_eq again/users-read "$(summary again users 2)" 0
expect_eq again/products-read "$(summary again products 2)" 0
expect_eq again/purchases-read "$(summary again purchases 2)" 0
expect_eq again/rows "$(sql "$DB" 'select (select count(*) from users) || "," || (select count(*) from products) || "," || (select count(*) from purchases)')" "$COUNT,100,$COUNT"
expect_eq again/state-cursors "$(jq -c '[.[] | .stream.stream_state.updated_at]' "$ST")" \
  "$(jq -c '[.[] | .stream.stream_state.updated_at]' "$TMP/state-after-full.json")"

# ---- 4. growing count: only the new records -----------------------------------------
run_sync grow --source source-faker --source-config "$TMP/f70.json" \
  --destination destination-sqlite --destination-config "$TMP/main-db.json" --state-file "$ST"
expect_rc grow/exit 0
expect_eq grow/users-read "$(summary grow users 2)" 20
expect_eq grow/purchases-read "$(summary grow purchases 2)" 20
expect_eq grow/products-read "$(summary grow products 2)" 0
expect_eq grow/rows "$(sql "$DB" 'select (select count(*) from users) || "," || (select count(*) from products) || "," || (select count(*) from purchases)')" "70,100,70"
expect_eq grow/users-ids "$(sql "$DB" 'select count(distinct id) || "," || max(id) from users')" "70,70"
expect_eq grow/users-cursor "$(state_field "$ST" users updated_at)" "$(sql "$DB" 'select max(updated_at) from users')"

# ---- 5. --streams users -------------------------------------------------------
echo "{\"destination_path\": \"$TMP/users.db\"}" >"$TMP/users-db.json"
run_sync streams --source source-faker --source-config "$TMP/f50.json" --streams users \
  --destination destination-sqlite --destination-config "$TMP/users-db.json" --state-file "$TMP/users-state.json"
expect_rc streams/exit 0
expect_eq streams/tables "$(sql "$TMP/users.db" "select group_concat(name) from sqlite_master where type = 'table' and name in ('users', 'products', 'purchases')")" users
expect_eq streams/users-rows "$(sql "$TMP/users.db" 'select count(*) from users')" $COUNT
expect_eq streams/summary-only-users "$(awk '$1 == "products" || $1 == "purchases"' "$TMP/streams.err" | wc -l)" 0
expect_eq streams/state-only-users "$(jq -c '[.[] | .stream.stream_descriptor.name]' "$TMP/users-state.json")" '["users"]'

# ---- 6. --full-refresh overwrites ---------------------------------------------------
# The table holds 70 users; a full refresh of a 30-user source must leave 30
# (append or dedup would keep 70), and a second one still 30.
for i in 1 2; do
  run_sync "refresh$i" --source source-faker --source-config "$TMP/f30.json" --full-refresh \
    --destination destination-sqlite --destination-config "$TMP/main-db.json"
  expect_rc "refresh$i/exit" 0
  expect_eq "refresh$i/users-read" "$(summary "refresh$i" users 2)" 30
  expect_eq "refresh$i/rows" "$(sql "$DB" 'select (select count(*) from users) || "," || (select count(*) from products) || "," || (select count(*) from purchases)')" "30,100,30"
  expect_eq "refresh$i/users-ids" "$(sql "$DB" 'select min(id) || "," || max(id) from users')" "1,30"
done

# ---- 7. faker -> jsonl ---------------------------------------------------------------
mkdir -p "$TMP/jsonl"
echo "{\"destination_path\": \"$TMP/jsonl\"}" >"$TMP/jsonl.json"
if [ ! -x "$BIN/destination-jsonl" ]; then
  fail jsonl/built "destination-jsonl is not in $BIN"
else
  run_sync jsonl --source source-faker --source-config "$TMP/f50.json" \
    --destination destination-jsonl --destination-config "$TMP/jsonl.json"
  expect_rc jsonl/exit 0
  expect_eq jsonl/users-lines "$(wc -l <"$TMP/jsonl/users.jsonl" 2>/dev/null)" $COUNT
  expect_eq jsonl/products-lines "$(wc -l <"$TMP/jsonl/products.jsonl" 2>/dev/null)" 100
  expect_eq jsonl/purchases-lines "$(wc -l <"$TMP/jsonl/purchases.jsonl" 2>/dev/null)" $COUNT
  expect_eq jsonl/users-ids "$(jq -s -c '[.[]._airbyte_data.id] | [length, (unique | length), min, max]' "$TMP/jsonl/users.jsonl" 2>/dev/null)" "[$COUNT,$COUNT,1,$COUNT]"
  expect_eq jsonl/no-tmp-files "$(find "$TMP/jsonl" -name '*.tmp' | wc -l)" 0
  expect_eq jsonl/summary-total "$(summary jsonl total 2) $(summary jsonl total 3)" "$((2 * COUNT + 100)) $((2 * COUNT + 100))"
fi

# ---- 8. faker -> dev-null --------------------------------------------------------------
echo '{}' >"$TMP/devnull.json"
run_sync devnull --source source-faker --source-config "$TMP/f50.json" --state-file "$TMP/devnull-state.json" \
  --destination destination-dev-null --destination-config "$TMP/devnull.json"
expect_rc devnull/exit 0
expect_eq devnull/summary-total "$(summary devnull total 2) $(summary devnull total 3)" "$((2 * COUNT + 100)) $((2 * COUNT + 100))"
expect_err devnull/states-committed devnull "$(jq -s '[.[] | select(.type == "STATE" and .state.id == null)] | length' "$PLOG") state(s) committed"
expect_eq devnull/state-streams "$(jq 'length' "$TMP/devnull-state.json" 2>/dev/null)" 3

# ---- 9. same seed, same data ---------------------------------------------------------
faker_cfg "$TMP/f-seed7.json" 40 7
faker_cfg "$TMP/f-seed8.json" 40 8
for d in a b c; do
  echo "{\"destination_path\": \"$TMP/seed-$d.db\"}" >"$TMP/seed-$d.json"
done
for d in a b c; do
  seed=7
  [ $d = c ] && seed=8
  run_sync "seed-$d" --source source-faker --source-config "$TMP/f-seed$seed.json" \
    --destination destination-sqlite --destination-config "$TMP/seed-$d.json"
  expect_rc "seed-$d/exit" 0
done
Q='select name, email from users order by id'
sqlite3 "$TMP/seed-a.db" "$Q" >"$TMP/seed-a.txt" 2>&1
sqlite3 "$TMP/seed-b.db" "$Q" >"$TMP/seed-b.txt" 2>&1
sqlite3 "$TMP/seed-c.db" "$Q" >"$TMP/seed-c.txt" 2>&1
expect_eq seed/rows "$(wc -l <"$TMP/seed-a.txt")" 40
check seed/identical cmp -s "$TMP/seed-a.txt" "$TMP/seed-b.txt"
check seed/other-seed-differs eval '! cmp -s "$TMP/seed-a.txt" "$TMP/seed-c.txt"'
Q2='select id, user_id, product_id, created_at, purchased_at, returned_at from purchases order by id'
check seed/purchases-identical cmp -s <(sqlite3 "$TMP/seed-a.db" "$Q2") <(sqlite3 "$TMP/seed-b.db" "$Q2")

# ---- 10. always_updated: every incremental read re-emits every record ----------------
printf '{"count": 25, "seed": 3, "records_per_slice": 10, "always_updated": true}\n' >"$TMP/f-always.json"
echo "{\"destination_path\": \"$TMP/always.db\"}" >"$TMP/always-db.json"
for n in 1 2; do
  run_sync "always-$n" --source source-faker --source-config "$TMP/f-always.json" --streams users \
    --destination destination-sqlite --destination-config "$TMP/always-db.json" --state-file "$TMP/always-state.json"
  expect_rc "always-$n/exit" 0
  expect_eq "always-$n/users-read" "$(summary always-$n users 2)" 25
done
expect_eq always/dedup-keeps-one-row-per-id "$(sql "$TMP/always.db" 'select count(*) from users')" 25
expect_eq always/cursor-not-in-the-future "$(sql "$TMP/always.db" "select count(*) from users where updated_at > strftime('%Y-%m-%dT%H:%M:%S', 'now', '+1 minute')")" 0

finish
