#!/usr/bin/env bash
# End-to-end tests of the destinations (sqlite, jsonl, dev-null): protocol
# lines from tests/data/destinations/*.jsonl are fed to `write`, and the
# tables, files and echoed states are checked.
#
# usage: tests/e2e/destinations.sh [BIN_DIR]   (default build/bin)
# Needs sqlite3 and jq. If SLUICE_PROTOCOL_LOG_DIR is set, every stdout line
# the destinations printed is saved there (one file per run) for the
# protocol validator. KEEP_TMP=1 keeps the scratch directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build/bin}
bin=$(cd "$bin" && pwd)
data=$root/tests/data/destinations
for tool in sqlite3 jq; do
  command -v "$tool" >/dev/null || { echo "destinations: $tool is required" >&2; exit 2; }
done
for d in destination-sqlite destination-jsonl destination-dev-null; do
  [ -x "$bin/$d" ] || { echo "destinations: $bin/$d is missing (run make)" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap '[ -n "${KEEP_TMP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT INT TERM
logdir=${SLUICE_PROTOCOL_LOG_DIR:-}
[ -n "$logdir" ] && mkdir -p "$logdir"
passed=0
failed=0
runs=0

pass() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "FAIL: $*"
  if [ -n "${last:-}" ] && [ -s "$tmp/$last.err" ]; then sed 's/^/  stderr| /' "$tmp/$last.err" | head -5; fi
}
# eq NAME GOT WANT
eq() { if [ "$2" == "$3" ]; then pass; else fail "$1: got '$2', want '$3'"; fi; }
# has NAME FILE FIXED-STRING: the file contains the string
has() { if grep -qF -- "$3" "$2"; then pass; else fail "$1: '$3' not found in $(basename "$2")"; fi; }
# hasnt NAME FILE FIXED-STRING
hasnt() { if grep -qF -- "$3" "$2"; then fail "$1: '$3' found in $(basename "$2")"; else pass; fi; }

# run NAME DEST INPUT ARGS...: run a destination with INPUT on stdin (- for
# none). Sets $rc and $last; stdout is in $tmp/NAME.out, stderr in .err.
run() {
  local name=$1 dest=$2 input=$3
  shift 3
  last=$name
  runs=$((runs + 1))
  rc=0
  if [ "$input" = - ]; then
    "$bin/$dest" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  else
    "$bin/$dest" "$@" <"$input" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  fi
  if [ -n "$logdir" ]; then cp "$tmp/$name.out" "$logdir/destinations-$(printf %02d $runs)-$name.jsonl"; fi
}

# The messages of one type from a run's stdout, compact.
msgs() { jq -c --arg t "$2" 'select(.type == $t)' "$tmp/$1.out"; }
# The echoed states as "id:recordCount" words, in order.
states() { jq -r 'select(.type == "STATE") | "\(.state.id):\(.state.destinationStats.recordCount)"' "$tmp/$1.out" | tr '\n' ' ' | sed 's/ $//'; }
# Raw recordCount texts, to see that they are written as doubles.
raw_counts() { grep -o '"destinationStats":{"recordCount":[0-9.]*}' "$tmp/$1.out" | sed 's/.*://; s/}//' | tr '\n' ' ' | sed 's/ $//'; }

config() { printf '{"destination_path": "%s"}\n' "$2" >"$tmp/$1.json"; }

# A file's lines with the final newline removed: the last line lacks '\n'.
no_final_newline() { printf '%s' "$(cat "$1")" >"$2"; }

#############################################################################
# spec
run spec-sqlite destination-sqlite - spec
eq "sqlite spec modes" "$(jq -c '.spec.supported_destination_sync_modes' "$tmp/spec-sqlite.out")" '["append","overwrite","append_dedup"]'
eq "sqlite spec requires destination_path" "$(jq -c '.spec.connectionSpecification.required' "$tmp/spec-sqlite.out")" '["destination_path"]'
run spec-jsonl destination-jsonl - spec
eq "jsonl spec modes" "$(jq -c '.spec.supported_destination_sync_modes' "$tmp/spec-jsonl.out")" '["append","overwrite","append_dedup"]'
run spec-null destination-dev-null - spec
eq "dev-null spec modes" "$(jq -c '.spec.supported_destination_sync_modes' "$tmp/spec-null.out")" '["append","overwrite","append_dedup","update","soft_delete"]'
eq "dev-null spec config" "$(jq -c '.spec.connectionSpecification | [.additionalProperties, (.required | length)]' "$tmp/spec-null.out")" '[true,0]'

#############################################################################
# check
config sq-ok "$tmp/check.db"
run check-ok destination-sqlite - check --config "$tmp/sq-ok.json"
eq "sqlite check ok: status" "$(jq -r '.connectionStatus.status' "$tmp/check-ok.out")" SUCCEEDED
eq "sqlite check ok: probe table gone" "$(sqlite3 "$tmp/check.db" "SELECT count(*) FROM sqlite_master")" 0

config sq-baddir "$tmp/no/such/dir/x.db"
run check-baddir destination-sqlite - check --config "$tmp/sq-baddir.json"
eq "sqlite check bad path: exit 0" "$rc" 0
eq "sqlite check bad path: FAILED" "$(jq -r '.connectionStatus.status' "$tmp/check-baddir.out")" FAILED
has "sqlite check bad path: message names the path" "$tmp/check-baddir.out" "$tmp/no/such/dir/x.db"

echo 'this is not a database, it is a text file that is long enough to be rejected by sqlite' >"$tmp/notadb.db"
config sq-notdb "$tmp/notadb.db"
run check-notdb destination-sqlite - check --config "$tmp/sq-notdb.json"
eq "sqlite check not a db: FAILED" "$(jq -r '.connectionStatus.status' "$tmp/check-notdb.out")" FAILED
has "sqlite check not a db: names the file" "$tmp/check-notdb.out" "$tmp/notadb.db"

echo '{}' >"$tmp/empty.json"
run check-noconf destination-sqlite - check --config "$tmp/empty.json"
eq "sqlite check missing destination_path: exit 0" "$rc" 0
eq "sqlite check missing destination_path: FAILED" "$(jq -r '.connectionStatus.status' "$tmp/check-noconf.out")" FAILED
has "sqlite check missing destination_path: names the config file" "$tmp/check-noconf.out" "$tmp/empty.json"
has "sqlite check missing destination_path: names the field" "$tmp/check-noconf.out" destination_path

echo '{"destination_path": ' >"$tmp/broken.json"
run check-broken destination-sqlite - check --config "$tmp/broken.json"
eq "check broken config JSON: FAILED" "$(jq -r '.connectionStatus.status' "$tmp/check-broken.out")" FAILED
has "check broken config JSON: names the file" "$tmp/check-broken.out" "$tmp/broken.json"

config jl-ok "$tmp/jsonl-check/sub"
run check-jsonl destination-jsonl - check --config "$tmp/jl-ok.json"
eq "jsonl check creates the directory" "$(jq -r '.connectionStatus.status' "$tmp/check-jsonl.out"):$([ -d "$tmp/jsonl-check/sub" ] && echo dir)" SUCCEEDED:dir
eq "jsonl check leaves no probe file" "$(ls -A "$tmp/jsonl-check/sub" | wc -l)" 0
echo file >"$tmp/afile"
config jl-bad "$tmp/afile/sub"
run check-jsonl-bad destination-jsonl - check --config "$tmp/jl-bad.json"
eq "jsonl check unusable path: FAILED" "$(jq -r '.connectionStatus.status' "$tmp/check-jsonl-bad.out")" FAILED
has "jsonl check unusable path: names it" "$tmp/check-jsonl-bad.out" "$tmp/afile"

run check-null destination-dev-null - check --config "$tmp/empty.json"
eq "dev-null check" "$(jq -r '.connectionStatus.status' "$tmp/check-null.out")" SUCCEEDED

#############################################################################
# sqlite: typed rows, states, bad lines
db=$tmp/typed.db
config sq "$db"
no_final_newline "$data/typed.jsonl" "$tmp/typed-nonl.jsonl"
run typed destination-sqlite "$tmp/typed-nonl.jsonl" write --config "$tmp/sq.json" --catalog "$data/typed.catalog.json"
q() { sqlite3 "$db" "$1"; }
eq "typed: exit 0" "$rc" 0
eq "typed: users rows" "$(q 'SELECT count(*) FROM users')" 3
eq "typed: int64 exact" "$(q "SELECT id || ':' || typeof(id) FROM users WHERE name = 'Ann'")" "9007199254740993:integer"
eq "typed: nested object as JSON text" "$(q "SELECT typeof(address) || ':' || json_extract(address, '\$.geo.lat') || ':' || json_extract(address, '\$.city') FROM users WHERE name = 'Ann'")" "text:59.9:Oslo"
eq "typed: array as JSON text" "$(q "SELECT tags FROM users WHERE name = 'Ann'")" '["a","b"]'
eq "typed: empty array kept" "$(q "SELECT tags FROM users WHERE name = 'Cy'")" '[]'
eq "typed: JSON null is SQL NULL" "$(q "SELECT typeof(address) FROM users WHERE name = 'Cy'")" null
eq "typed: integer and real" "$(q "SELECT age || ':' || typeof(age) || ':' || score || ':' || typeof(score) FROM users WHERE name = 'Ann'")" "41:integer:2.5:real"
eq "typed: integral number in a REAL column" "$(q "SELECT typeof(score) || ':' || score FROM users WHERE name = 'Bob'")" "real:3.0"
eq "typed: booleans as 0/1" "$(q "SELECT group_concat(active, ',') FROM (SELECT active FROM users WHERE active IS NOT NULL ORDER BY name)")" "1,0"
eq "typed: date-time as text" "$(q "SELECT updated_at FROM users WHERE name = 'Bob'")" "2024-01-02T00:00:00Z"
eq "typed: field not in the schema ignored" "$(q "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'not_in_schema'")" 0
eq "typed: typecast error stored as NULL" "$(q "SELECT typeof(age) FROM users WHERE name = 'Bob'")" null
eq "typed: typecast change in _airbyte_meta (after the source's)" "$(q "SELECT json_extract(_airbyte_meta, '\$.changes') FROM users WHERE name = 'Bob'")" \
  '[{"field":"bio","change":"TRUNCATED","reason":"SOURCE_FIELD_SIZE_LIMITATION"},{"field":"age","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]'
eq "typed: clean row has no changes" "$(q "SELECT _airbyte_meta FROM users WHERE name = 'Ann'")" '{"changes":[],"sync_id":100}'
eq "typed: extracted_at" "$(q "SELECT _airbyte_extracted_at FROM users WHERE name = 'Ann'")" 1700000000001
eq "typed: generation id" "$(q "SELECT group_concat(DISTINCT _airbyte_generation_id) FROM users")" 1
eq "typed: raw ids are distinct uuid v4" "$(q "SELECT count(DISTINCT _airbyte_raw_id) FROM users WHERE length(_airbyte_raw_id) = 36 AND _airbyte_raw_id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-4[0-9a-f][0-9a-f][0-9a-f]-[89ab][0-9a-f][0-9a-f][0-9a-f]-*'")" 3
eq "typed: namespace table <ns>_<stream>" "$(q "SELECT kind FROM app_events")" click
eq "typed: no generation -> NULL" "$(q "SELECT typeof(_airbyte_generation_id) || ':' || _airbyte_meta FROM app_events")" 'null:{"changes":[],"sync_id":null}'
eq "typed: column types" "$(q "SELECT group_concat(name || ' ' || type, ',') FROM pragma_table_info('users')")" \
  "id INTEGER,name TEXT,age INTEGER,score REAL,active INTEGER,address TEXT,tags TEXT,updated_at TEXT,_airbyte_raw_id TEXT,_airbyte_extracted_at INTEGER,_airbyte_meta TEXT,_airbyte_generation_id INTEGER"
eq "typed: states echoed in order with counts" "$(states typed)" "1:2 2:1 3:0 4:1"
eq "typed: counts written as doubles" "$(raw_counts typed)" "2.0 1.0 0.0 1.0"
eq "typed: unknown keys kept" "$(msgs typed STATE | jq -c 'select(.state.id == 2) | .state.zzz')" '{"k":[1,2.5,"x"]}'
eq "typed: state otherwise unchanged" "$(msgs typed STATE | head -1 | jq -c '.state | del(.destinationStats)')" \
  "$(sed -n 4p "$data/typed.jsonl" | jq -c '.state')"
eq "typed: last line without newline handled" "$(msgs typed STATE | tail -1 | jq -r '.state.id')" 4
has "typed: non-JSON line logged" "$tmp/typed.out" '"level":"WARN","message":"stdin line 2 is not a JSON message'
has "typed: unknown stream logged" "$tmp/typed.out" 'RECORD for stream \"ghosts\"'
has "typed: data not an object logged" "$tmp/typed.out" 'stdin line 7: stream \"users\": RECORD data is not an object'
eq "typed: only LOG and STATE on stdout" "$(jq -r .type "$tmp/typed.out" | sort -u | tr '\n' ' ')" "LOG STATE "

run typed2 destination-sqlite "$data/typed.jsonl" write --config "$tmp/sq.json" --catalog "$data/typed.catalog.json"
eq "append twice: rows double" "$(q 'SELECT count(*) FROM users'):$(q 'SELECT count(*) FROM app_events')" "6:2"
eq "append twice: same counts" "$(states typed2)" "1:2 2:1 3:0 4:1"

run evolve destination-sqlite "$data/evolve.jsonl" write --config "$tmp/sq.json" --catalog "$data/evolve.catalog.json"
eq "schema evolution: exit 0" "$rc" 0
eq "schema evolution: column added" "$(q "SELECT type FROM pragma_table_info('users') WHERE name = 'email'")" TEXT
eq "schema evolution: value stored" "$(q "SELECT email FROM users WHERE name = 'Dee'")" dee@example.com
eq "schema evolution: old rows kept, NULL in the new column" "$(q "SELECT count(*) FROM users WHERE email IS NULL")" 6
has "schema evolution: logged" "$tmp/evolve.out" 'added column \"email\"'

#############################################################################
# sqlite: GLOBAL and LEGACY states count everything since the last one
db=$tmp/global.db
config sqg "$db"
run global destination-sqlite "$data/global.jsonl" write --config "$tmp/sqg.json" --catalog "$data/refresh.catalog.json"
eq "global states: counts" "$(states global)" "11:2 12:1 13:0"
eq "global states: shared_state kept" "$(msgs global STATE | head -1 | jq -c .state.global.shared_state)" '{"lsn":10}'

#############################################################################
# sqlite: append_dedup
db=$tmp/dedup.db
config sqd "$db"
run dedup destination-sqlite "$data/dedup.jsonl" write --config "$tmp/sqd.json" --catalog "$data/dedup.catalog.json"
eq "dedup: exit 0" "$rc" 0
eq "dedup: one row per key" "$(q 'SELECT count(*) FROM users')" 2
eq "dedup: newest cursor wins over a later, older record" "$(q 'SELECT name FROM users WHERE id = 1')" v3
eq "dedup: unique index on the key" "$(q "SELECT group_concat(name) FROM pragma_index_info('_airbyte_pk_users')")" id
run dedup2 destination-sqlite "$data/dedup2.jsonl" write --config "$tmp/sqd.json" --catalog "$data/dedup.catalog.json"
eq "dedup run 2: rows" "$(q 'SELECT count(*) FROM users')" 3
eq "dedup run 2: newer record replaces" "$(q "SELECT name || ':' || _airbyte_extracted_at FROM users WHERE id = 1")" "v4:1700000000005"
eq "dedup run 2: older record ignored" "$(q 'SELECT name FROM users WHERE id = 2')" x
eq "dedup run 2: state count" "$(states dedup2)" "2:3"
run dedup-null destination-sqlite "$data/dedup-nullpk.jsonl" write --config "$tmp/sqd.json" --catalog "$data/dedup.catalog.json"
eq "dedup null key: exit 1" "$rc" 1
eq "dedup null key: error trace names the stream" "$(msgs dedup-null TRACE | jq -r '.trace.error.stream_descriptor.name')" users
has "dedup null key: message" "$tmp/dedup-null.out" "null primary key"
# States are coalesced: echoed only after the flush that commits the records
# before them. The failure comes before any flush, so nothing is committed
# and nothing echoed: the platform resumes from its last committed state.
eq "dedup null key: no state echoed for uncommitted records" "$(states dedup-null)" ""
eq "dedup null key: the open batch is rolled back" "$(q "SELECT count(*) FROM users WHERE id >= 5")" 0

#############################################################################
# sqlite: overwrite through a stage table
db=$tmp/ow.db
config sqo "$db"
run ow1 destination-sqlite "$data/overwrite1.jsonl" write --config "$tmp/sqo.json" --catalog "$data/overwrite.catalog.json"
eq "overwrite 1: rows after COMPLETE" "$(q 'SELECT group_concat(name) FROM (SELECT name FROM users ORDER BY id)')" a,b
eq "overwrite 1: stage dropped" "$(q "SELECT count(*) FROM sqlite_master WHERE name = '_airbyte_tmp_users'")" 0
run ow2 destination-sqlite "$data/overwrite2-incomplete.jsonl" write --config "$tmp/sqo.json" --catalog "$data/overwrite.catalog.json"
eq "overwrite without COMPLETE: exit 0" "$rc" 0
eq "overwrite without COMPLETE: old rows remain" "$(q 'SELECT group_concat(name) FROM (SELECT name FROM users ORDER BY id)')" a,b
eq "overwrite without COMPLETE: stage holds the new rows" "$(q 'SELECT group_concat(name) FROM _airbyte_tmp_users')" c
eq "overwrite without COMPLETE: state echoed" "$(states ow2)" "2:1"
run ow3 destination-sqlite "$data/overwrite3.jsonl" write --config "$tmp/sqo.json" --catalog "$data/overwrite.catalog.json"
eq "overwrite resumed: the stage of the earlier attempt is kept and swapped in" "$(q 'SELECT group_concat(name) FROM (SELECT name FROM users ORDER BY id)')" c,d
eq "overwrite resumed: stage dropped" "$(q "SELECT count(*) FROM sqlite_master WHERE name = '_airbyte_tmp_users'")" 0

#############################################################################
# sqlite: truncate refresh by generation (append + minimum_generation_id)
db=$tmp/refresh.db
config sqr "$db"
gen() { jq --argjson g "$1" --argjson m "$2" '.streams[0].generation_id = $g | .streams[0].minimum_generation_id = $m' "$data/refresh.catalog.json" >"$tmp/gen$1.catalog.json"; }
gen 1 0; gen 2 2; gen 3 3; gen 4 4
run rf1 destination-sqlite "$data/refresh.jsonl" write --config "$tmp/sqr.json" --catalog "$tmp/gen1.catalog.json"
run rf1b destination-sqlite "$data/refresh-complete.jsonl" write --config "$tmp/sqr.json" --catalog "$tmp/gen1.catalog.json"
eq "refresh gen 1 (append): rows" "$(q 'SELECT count(*) FROM users WHERE _airbyte_generation_id = 1')" 2
run rf2 destination-sqlite "$data/refresh.jsonl" write --config "$tmp/sqr.json" --catalog "$tmp/gen2.catalog.json"
eq "refresh gen 2 without COMPLETE: old generation readable" "$(q 'SELECT group_concat(DISTINCT _airbyte_generation_id) || ":" || count(*) FROM users')" "1:2"
eq "refresh gen 2 without COMPLETE: stage" "$(q 'SELECT _airbyte_generation_id || ":" || count(*) FROM _airbyte_tmp_users')" "2:1"
run rf2b destination-sqlite "$data/refresh-complete.jsonl" write --config "$tmp/sqr.json" --catalog "$tmp/gen2.catalog.json"
eq "refresh gen 2 resumed + COMPLETE: only generation 2, both attempts" "$(q 'SELECT group_concat(DISTINCT _airbyte_generation_id) || ":" || count(*) FROM users')" "2:2"
run rf3 destination-sqlite "$data/refresh.jsonl" write --config "$tmp/sqr.json" --catalog "$tmp/gen3.catalog.json"
run rf4 destination-sqlite "$data/refresh-complete.jsonl" write --config "$tmp/sqr.json" --catalog "$tmp/gen4.catalog.json"
eq "refresh: a stage of another generation is dropped" "$(q 'SELECT group_concat(DISTINCT _airbyte_generation_id) || ":" || count(*) FROM users')" "4:1"
eq "refresh: no stage left" "$(q "SELECT count(*) FROM sqlite_master WHERE name = '_airbyte_tmp_users'")" 0

#############################################################################
# odd names: quotes, '/', a leading '.', case-colliding properties, a
# property named like a meta column, a reserved table name, no properties
db=$tmp/odd.db
config sqn "$db"
run odd destination-sqlite "$data/odd-names.jsonl" write --config "$tmp/sqn.json" --catalog "$data/odd-names.catalog.json"
eq "odd names: exit 0" "$rc" 0
eq "odd names: quoted table and colliding columns" "$(q 'SELECT "Id" || ":" || id_2 || ":" || _airbyte_meta_2 || ":" || "we""ird col" FROM ".ns_a/b""c"')" "1:x:m:1.25"
eq "odd names: reserved name prefixed, schemaless stream kept as _airbyte_data" "$(q 'SELECT _airbyte_data FROM _sqlite_master')" '{"q":1}'
has "odd names: renamed column logged" "$tmp/odd.out" 'property \"id\" is stored in column \"id_2\"'
config jln "$tmp/jln"
run odd-jsonl destination-jsonl "$data/odd-names.jsonl" write --config "$tmp/jln.json" --catalog "$data/odd-names.catalog.json"
eq "odd names: jsonl file names sanitized" "$(cd "$tmp/jln" && ls | tr '\n' ' ')" '_ns_a_b"c.jsonl sqlite_master.jsonl '

# A STATE that breaks the protocol's schema is skipped with a WARN naming its
# line, never echoed (the platform would keep it).
config jlb "$tmp/jlb"
run badstates destination-jsonl "$data/bad-states.jsonl" write --config "$tmp/jlb.json" --catalog "$data/refresh.catalog.json"
eq "bad states: exit 0" "$rc" 0
eq "bad states: only the valid one echoed" "$(states badstates)" "9:1"
for l in 2 3 4 5 6 7 8; do has "bad states: line $l named" "$tmp/badstates.out" "stdin line $l: STATE "; done
has "bad states: the reason" "$tmp/badstates.out" 'STATE \"type\" is not STREAM, GLOBAL or LEGACY; skipped (not echoed)'
eq "bad states: the record committed under the valid state" "$(wc -l < "$tmp/jlb/users.jsonl")" 1

#############################################################################
# errors
run badmode destination-sqlite "$data/refresh.jsonl" write --config "$tmp/sqr.json" --catalog "$data/badmode.catalog.json"
eq "unknown sync mode: exit 1" "$rc" 1
eq "unknown sync mode: config_error" "$(msgs badmode TRACE | jq -r '.trace.error.failure_type')" config_error
has "unknown sync mode: names the mode" "$tmp/badmode.out" '\"upsert_magic\"'
has "unknown sync mode: names the stream" "$tmp/badmode.out" 'stream \"users\"'

run badconf destination-sqlite "$data/refresh.jsonl" write --config "$tmp/empty.json" --catalog "$data/refresh.catalog.json"
eq "bad config: exit 1" "$rc" 1
has "bad config: trace names the config file" "$tmp/badconf.out" "$tmp/empty.json"
eq "bad config: config_error" "$(msgs badconf TRACE | jq -r '.trace.error.failure_type')" config_error

run badconf-jsonl destination-jsonl "$data/refresh.jsonl" write --config "$tmp/jl-bad.json" --catalog "$data/refresh.catalog.json"
eq "jsonl unusable directory: exit 1" "$rc" 1
has "jsonl unusable directory: names it" "$tmp/badconf-jsonl.out" "$tmp/afile"

db=$tmp/big.db
config sqb "$db"
{
  sed -n 1,2p "$data/refresh.jsonl"
  echo '{"type":"RECORD","record":{"stream":"users","data":{"id":2,"name":"unflushed"},"emitted_at":1700000000002}}'
  printf '{"type":"RECORD","record":{"stream":"users","data":{"id":3,"name":"%s"},"emitted_at":1700000000003}}\n' "$(head -c 2000 /dev/zero | tr '\0' x)"
  echo '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"page":3}},"id":9}}'
} >"$tmp/big.jsonl"
SLUICE_MAX_MESSAGE_BYTES=1000 run big destination-sqlite "$tmp/big.jsonl" write --config "$tmp/sqb.json" --catalog "$data/refresh.catalog.json"
eq "line over the maximum: exit 1 (no crash)" "$rc" 1
eq "line over the maximum: system_error" "$(msgs big TRACE | jq -r '.trace.error.failure_type')" system_error
has "line over the maximum: names the line" "$tmp/big.out" "stdin line 4"
eq "line over the maximum: no state echoed for uncommitted records" "$(states big)" ""
eq "line over the maximum: the open batch is rolled back" "$(q 'SELECT count(*) FROM users')" 0
# ... while the same input passes with the default maximum.
run big-ok destination-sqlite "$tmp/big.jsonl" write --config "$tmp/sqb.json" --catalog "$data/refresh.catalog.json"
eq "long line under the default maximum: accepted" "$rc:$(q 'SELECT count(*) FROM users')" "0:3"

#############################################################################
# jsonl
dir=$tmp/jl
config jl "$dir"
run jl-typed destination-jsonl "$tmp/typed-nonl.jsonl" write --config "$tmp/jl.json" --catalog "$data/typed.catalog.json"
eq "jsonl: exit 0" "$rc" 0
eq "jsonl: files" "$(cd "$dir" && ls | tr '\n' ' ')" "app_events.jsonl users.jsonl "
eq "jsonl: lines" "$(wc -l <"$dir/users.jsonl"):$(wc -l <"$dir/app_events.jsonl")" "3:1"
eq "jsonl: every line is JSON with the airbyte columns" "$(jq -c 'keys' "$dir/users.jsonl" | sort -u)" '["_airbyte_data","_airbyte_extracted_at","_airbyte_generation_id","_airbyte_meta","_airbyte_raw_id"]'
has "jsonl: int64 exact" "$dir/users.jsonl" '"_airbyte_data":{"id":9007199254740993,"name":"Ann"'
eq "jsonl: record data" "$(jq -c 'select(._airbyte_data.name == "Ann") | ._airbyte_data.address' "$dir/users.jsonl")" '{"city":"Oslo","geo":{"lat":59.9}}'
eq "jsonl: metadata" "$(jq -c 'select(._airbyte_data.name == "Bob") | [._airbyte_extracted_at, ._airbyte_generation_id, ._airbyte_meta]' "$dir/users.jsonl")" \
  '[1700000000002,1,{"changes":[{"field":"bio","change":"TRUNCATED","reason":"SOURCE_FIELD_SIZE_LIMITATION"}],"sync_id":100}]'
eq "jsonl: raw ids distinct" "$(jq -r '._airbyte_raw_id' "$dir/users.jsonl" | grep -cE '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' | tr -d ' '):$(jq -r '._airbyte_raw_id' "$dir/users.jsonl" | sort -u | wc -l | tr -d ' ')" "3:3"
eq "jsonl: states" "$(states jl-typed)" "1:2 2:1 3:0 4:1"
run jl-typed2 destination-jsonl "$data/typed.jsonl" write --config "$tmp/jl.json" --catalog "$data/typed.catalog.json"
eq "jsonl append twice: lines double" "$(wc -l <"$dir/users.jsonl")" 6

dir=$tmp/jlo
config jlo "$dir"
run jlo1 destination-jsonl "$data/overwrite1.jsonl" write --config "$tmp/jlo.json" --catalog "$data/overwrite.catalog.json"
eq "jsonl overwrite: file after COMPLETE" "$(jq -r '._airbyte_data.name' "$dir/users.jsonl" | tr '\n' ,)" "a,b,"
eq "jsonl overwrite: no .tmp after COMPLETE" "$(ls "$dir" | tr '\n' ' ')" "users.jsonl "
run jlo2 destination-jsonl "$data/overwrite2-incomplete.jsonl" write --config "$tmp/jlo.json" --catalog "$data/overwrite.catalog.json"
eq "jsonl overwrite without COMPLETE: old file untouched" "$(jq -r '._airbyte_data.name' "$dir/users.jsonl" | tr '\n' ,)" "a,b,"
eq "jsonl overwrite without COMPLETE: .tmp holds the new records" "$(jq -r '._airbyte_data.name' "$dir/users.jsonl.tmp" | tr '\n' ,)" "c,"
eq "jsonl overwrite without COMPLETE: state echoed after fsync" "$(states jlo2)" "2:1"
run jlo3 destination-jsonl "$data/overwrite3.jsonl" write --config "$tmp/jlo.json" --catalog "$data/overwrite.catalog.json"
eq "jsonl overwrite resumed: .tmp renamed over the file" "$(jq -r '._airbyte_data.name' "$dir/users.jsonl" | tr '\n' ,):$(ls "$dir" | tr '\n' ' ')" "c,d,:users.jsonl "

#############################################################################
# dev-null
run null destination-dev-null "$tmp/typed-nonl.jsonl" write --config "$tmp/empty.json" --catalog "$data/typed.catalog.json"
eq "dev-null: exit 0" "$rc" 0
eq "dev-null: states echoed with counts" "$(states null)" "1:2 2:1 3:0 4:1"
eq "dev-null: unknown keys kept" "$(msgs null STATE | jq -c 'select(.state.id == 2) | .state.zzz')" '{"k":[1,2.5,"x"]}'
run null-garbage destination-dev-null - write --config "$tmp/empty.json" --catalog "$data/typed.catalog.json"
eq "dev-null: empty input" "$rc:$(states null-garbage)" "0:"

#############################################################################
# A state's numbers are echoed exactly (uint64 and int64 extremes, doubles),
# an old destinationStats is replaced, not duplicated.
printf '%s\n' '{"type":"RECORD","record":{"stream":"users","data":{"id":1},"emitted_at":1}}' \
  '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"users"},"stream_state":{"big":18446744073709551615,"neg":-9223372036854775808,"f":0.1}},"id":7,"destinationStats":{"recordCount":99.0}}}' \
  >"$tmp/exact.jsonl"
run exact destination-dev-null "$tmp/exact.jsonl" write --config "$tmp/empty.json" --catalog "$data/refresh.catalog.json"
has "exact: uint64 and int64 extremes kept" "$tmp/exact.out" '"stream_state":{"big":18446744073709551615,"neg":-9223372036854775808,"f":0.1}'
eq "exact: one destinationStats, the new count" "$(grep -o destinationStats "$tmp/exact.out" | wc -l):$(states exact)" "1:7:1"

#############################################################################
# Coalesced echoes still reach the platform while the input stays open: an
# idle stdin makes the runtime commit and echo what waits. The input below
# stays open for 60 s; the first echo must arrive long before that.
db=$tmp/idle.db
config sqi "$db"
mkfifo "$tmp/idle.in"
{ sed -n 1,2p "$data/refresh.jsonl"; sleep 60; } >"$tmp/idle.in" &
feeder=$!
timeout 30 "$bin/destination-sqlite" write --config "$tmp/sqi.json" --catalog "$data/refresh.catalog.json" \
  <"$tmp/idle.in" >"$tmp/idle.out" 2>/dev/null &
dest=$!
for _ in $(seq 300); do grep -q '"STATE"' "$tmp/idle.out" 2>/dev/null && break; sleep 0.1; done
first=$(grep -m1 '"STATE"' "$tmp/idle.out")
{ pkill -P "$feeder" sleep; kill "$feeder" "$dest"; wait "$feeder" "$dest"; } 2>/dev/null || true
eq "idle input: the state is echoed before stdin closes" "$(jq -r '.state.id' <<<"$first")" 1
eq "idle input: its record is committed when echoed" "$(q 'SELECT count(*) FROM users')" 1

echo "destinations: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
