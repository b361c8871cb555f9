#!/usr/bin/env bash
# Per-stream field selection: set by `connection create/edit --fields`, by
# `sluice sync --catalog` and through the REST API; the destination gets
# only the selected fields (records and json_schema) into SQLite, nested
# paths included; the primary key and cursor must be selected; schema
# changes do not select new fields and drop removed ones from the selection,
# and the ignore policy keeps new fields out through a selection of the old;
# a destination's TRACE error about a mapped stream counts for its source stream.
# usage: tests/e2e/platform-fields.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
trap 'e2e_cleanup' EXIT

export SLUICE_HOME=$TMP/home
S="$BIN/sluice"
DATA=$(cd "$(dirname "$0")/../data/platform-fields" && pwd)
SRC=$DATA/people-source
export FIELDS_REAL_DEST=$BIN/destination-sqlite FIELDS_DEST_CATALOG=$TMP/dest-catalog.json PEOPLE_CATALOG_COPY=$TMP/src-catalog.json
DB=$TMP/out.db
STORE=$SLUICE_HOME/sluice.db
cols() { sql "$1" "select group_concat(name, ',') from (select name from pragma_table_info('$2') where name not like '\\_airbyte%' escape '\\' order by name)"; }
props() { jq -c "[.streams[0].stream.json_schema$1.properties | keys[]]" "$2"; }

run src "$S" source create people --connector "$SRC" --set count=3
run dst "$S" destination create lite --connector "$DATA/capture-dest" --set "destination_path=$DB"
expect_rc setup/actors 0

# ---- create with a selection, nested path included ------------------------------------------------
run create "$S" connection create p1 --source people --destination lite --stream people --fields id,updated,addr.city
expect_rc create/exit 0
expect_eq create/stored "$("$S" connection show p1 --json | jq -c '.catalog | fromjson | .streams[0] | [.field_selection_enabled, [.selected_fields[].field_path]]')" \
  '[true,[["id"],["updated"],["addr","city"]]]'
run sync1 "$S" connection sync p1 --backoff-ms 0
expect_rc sync1/exit 0 sync1
expect_eq sync1/columns "$(cols "$DB" people)" "addr,id,updated"
expect_eq sync1/nested "$(sql "$DB" "select group_concat(addr, ';') from (select addr from people order by id)")" \
  '{"city":"c1"};{"city":"c2"};{"city":"c3"}'
expect_eq sync1/dest-schema "$(props '' "$FIELDS_DEST_CATALOG")" '["addr","id","updated"]'
expect_eq sync1/dest-schema-nested "$(props '.properties.addr' "$FIELDS_DEST_CATALOG")" '["city"]'
expect_eq sync1/dest-required "$(jq -c '.streams[0].stream.json_schema.required' "$FIELDS_DEST_CATALOG")" '["id"]'
expect_eq sync1/no-internal-key "$(jq '[.streams[] | has("sluice_selected_fields")] | any' "$FIELDS_DEST_CATALOG" "$PEOPLE_CATALOG_COPY" | sort -u)" false
expect_eq sync1/source-schema "$(props '' "$PEOPLE_CATALOG_COPY")" '["addr","id","updated"]'
expect_eq sync1/stats "$(sql "$STORE" "select emitted || '/' || committed from stream_stats order by attempt_id desc limit 1")" "3/3"

# ---- bad input ---------------------------------------------------------------------------------------
run no-pk "$S" connection edit p1 --stream people --fields name,updated
expect_rc bad/no-pk nonzero
expect_err bad/no-pk-msg no-pk 'stream "people": the selected fields leave out id'
run no-both "$S" connection edit p1 --stream people --fields name
expect_err bad/no-pk-cursor-msg no-both 'leave out id, updated'
run unknown "$S" connection edit p1 --stream people --fields id,updated,nope
expect_rc bad/unknown nonzero
expect_err bad/unknown-msg unknown 'stream "people": selected field "nope" is not in the stream'
run unknown-nested "$S" connection edit p1 --stream people --fields id,updated,addr.street
expect_err bad/unknown-nested-msg unknown-nested 'selected field "addr.street" is not in the stream'
run empty "$S" connection edit p1 --stream people --fields ,
expect_err bad/empty-msg empty '--fields ",": expected field paths'
run both "$S" connection edit p1 --stream people --fields id --all-fields
expect_err bad/both-msg both '--fields and --all-fields do not go together'
run no-stream "$S" connection edit p1 --fields id
expect_err bad/no-stream-msg no-stream 'need --stream S'
expect_eq bad/unchanged "$("$S" connection show p1 --json | jq -c '[.version, (.catalog | fromjson | [.streams[0].selected_fields[].field_path])]')" \
  '[1,[["id"],["updated"],["addr","city"]]]'

# ---- a new field is not selected; a removed one leaves the selection -------------------------------
run edit-src "$S" source edit people --set phone=true --set no_email=true
run edit-sel "$S" connection edit p1 --stream people --fields id,updated,addr,email
expect_rc edit/sel 0 edit-sel
run sync2 "$S" connection sync p1 --backoff-ms 0
expect_rc sync2/exit 0 sync2
expect_eq schema/diff "$(sql "$STORE" "select diff from schema_changes order by id desc limit 1" | jq -c '.streams_changed[0] | [.fields_added, .fields_not_selected, .selected_fields_removed]')" \
  '[["phone"],["phone"],["email"]]'
expect_eq schema/selection-pruned "$("$S" connection show p1 --json | jq -c '[.catalog | fromjson | .streams[0].selected_fields[].field_path[0]]')" '["id","updated","addr"]'
expect_eq schema/no-phone "$(props '' "$FIELDS_DEST_CATALOG")" '["addr","id","updated"]'
expect_eq schema/whole-addr "$(props '.properties.addr' "$FIELDS_DEST_CATALOG")" '["city","zip"]'

# ---- the ignore policy holds new fields back through a selection of the old ones ---------------------
run src2 "$S" source create people2 --connector "$SRC" --set count=2
run dst2 "$S" destination create lite2 --connector destination-sqlite --set "destination_path=$TMP/ignore.db"
run conn2 "$S" connection create p2 --source people2 --destination lite2 --schema-policy ignore
run ign1 "$S" connection sync p2 --backoff-ms 0
expect_rc ignore/first 0 ign1
run src2-edit "$S" source edit people2 --set phone=true --set zip4=true --set count=3
run ign2 "$S" connection sync p2 --backoff-ms 0
expect_rc ignore/second 0 ign2
expect_eq ignore/no-new-column "$(cols "$TMP/ignore.db" people)" "addr,email,id,name,updated"
expect_eq ignore/rows "$(sql "$TMP/ignore.db" "select count(*) from people")" 3
expect_eq ignore/diff "$(sql "$STORE" "select action || ' ' || json_extract(diff, '$.streams_changed[0].fields_not_selected') from schema_changes order by id desc limit 1")" \
  'ignored ["addr.zip4","phone"]'
expect_eq ignore/selection "$("$S" connection show p2 --json | jq -c '.catalog | fromjson | .streams[0] | [.field_selection_enabled, ([.selected_fields[].field_path | join(".")] | sort)]')" \
  '[true,["addr.city","addr.zip","email","id","name","updated"]]'
expect_eq ignore/no-new-nested "$(sql "$TMP/ignore.db" "select addr from people where id = 3")" '{"city":"c3","zip":"z3"}'

# ---- a connector's new config (CONTROL) is kept in the store -----------------------------------------
run rot-edit "$S" source edit people2 --set rotate_to=4
run rot-sync "$S" connection sync p2 --backoff-ms 0
expect_rc control/sync 0 rot-sync
expect_eq control/kept "$("$S" source show people2 --json | jq -c '[.config.count, .config.rotate_to, .version]')" '[4,null,4]'
expect_eq control/rows "$(sql "$TMP/ignore.db" "select count(*) from people")" 3
check control/logged grep -q "emitted a new connector config (CONTROL); kept it" "$SLUICE_HOME"/logs/*
run rot-sync2 "$S" connection sync p2 --backoff-ms 0
expect_eq control/next-run-uses-it "$(sql "$TMP/ignore.db" "select count(*) from people")" 4

# ---- --all-fields: everything again ------------------------------------------------------------------
run all "$S" connection edit p1 --stream people --all-fields
expect_rc all/exit 0 all
run sync3 "$S" connection sync p1 --backoff-ms 0 --full-refresh
expect_rc sync3/exit 0 sync3
expect_eq all/dest-schema "$(props '' "$FIELDS_DEST_CATALOG")" '["addr","id","name","phone","updated"]'
expect_eq all/columns "$(cols "$DB" people)" "addr,id,name,phone,updated"

# ---- sluice sync --catalog (Airbyte's camelCase spelling) --------------------------------------------
echo '{"count": 2}' >"$TMP/src.json"
echo "{\"destination_path\": \"$TMP/file.db\"}" >"$TMP/dst.json"
cat >"$TMP/cat.json" <<'JSON'
{"streams": [{"stream": {"name": "people"}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite",
  "fieldSelectionEnabled": true, "selectedFields": [{"fieldPath": ["id"]}, {"fieldPath": ["name"]}]}]}
JSON
run_sync filesync --source "$SRC" --source-config "$TMP/src.json" --destination destination-sqlite \
  --destination-config "$TMP/dst.json" --catalog "$TMP/cat.json"
expect_rc catalog-file/exit 0 filesync
expect_eq catalog-file/columns "$(cols "$TMP/file.db" people)" "id,name"
expect_eq catalog-file/rows "$(sql "$TMP/file.db" "select group_concat(id || ':' || name, ',') from people")" "1:n1,2:n2"
jq '.streams[0].selectedFields = [{"fieldPath": ["name"]}] | .streams[0].sync_mode = "incremental" | .streams[0].destination_sync_mode = "append_dedup"' \
  "$TMP/cat.json" >"$TMP/cat-bad.json"
run filesync-bad "$S" sync --source "$SRC" --source-config "$TMP/src.json" --destination destination-sqlite \
  --destination-config "$TMP/dst.json" --catalog "$TMP/cat-bad.json"
expect_rc catalog-file/no-pk nonzero
expect_err catalog-file/no-pk-msg filesync-bad 'cat-bad.json: stream "people": the selected fields leave out id, updated'
jq '.streams[0].selectedFields = [{"fieldPath": []}]' "$TMP/cat.json" >"$TMP/cat-bad2.json"
run filesync-bad2 "$S" sync --source "$SRC" --source-config "$TMP/src.json" --destination destination-sqlite \
  --destination-config "$TMP/dst.json" --catalog "$TMP/cat-bad2.json"
expect_err catalog-file/empty-path-msg filesync-bad2 'selected_fields[0]: field_path must be a non-empty list'

# ---- connection edit --catalog FILE carries the selection too ---------------------------------------
jq '.streams[0] += {"sync_mode": "incremental", "destination_sync_mode": "append_dedup", "selectedFields": [{"fieldPath": ["id"]}, {"fieldPath": ["updated"]}, {"fieldPath": ["name"]}]}' \
  "$TMP/cat.json" >"$TMP/cat-conn.json"
run cat-edit "$S" connection edit p1 --catalog "$TMP/cat-conn.json"
expect_rc catalog-edit/exit 0 cat-edit
expect_eq catalog-edit/stored "$("$S" connection show p1 --json | jq -c '.catalog | fromjson | .streams[0] | [.fieldSelectionEnabled, [.selectedFields[].fieldPath[0]]]')" \
  '[true,["id","updated","name"]]'
jq '.streams[0].selectedFields = [{"fieldPath": ["name"]}]' "$TMP/cat-conn.json" >"$TMP/cat-conn-bad.json"
run cat-edit-bad "$S" connection edit p1 --catalog "$TMP/cat-conn-bad.json"
expect_err catalog-edit/no-key cat-edit-bad 'stream "people": the selected fields leave out id, updated'

# ---- REST -----------------------------------------------------------------------------------------------
TOKEN=api-token-0123456789abcdef
echo "$TOKEN" >"$TMP/token"
"$S" server --port 0 --port-file "$TMP/port" --token-file "$TMP/token" --tick-ms 100 --workers 1 --max-attempts 1 2>"$TMP/server.err" &
SERVER=$!
wait_for 100 test -s "$TMP/port"
API=http://127.0.0.1:$(cat "$TMP/port")/v1
api() {
  curl -s -o "$TMP/api.out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary "$3" "$API$2"
}
ID=$("$S" connection show p1 --json | jq .id)
expect_eq rest/patch "$(api PATCH "/connections/$ID" '{"catalog": {"streams": [{"stream": {"name": "people"}, "field_selection_enabled": true, "selected_fields": [{"field_path": ["id"]}, {"field_path": ["updated"]}, {"field_path": ["addr", "zip"]}]}]}}')" 200
expect_eq rest/patch-shown "$(jq -c '[.version, [.catalog.streams[0].selected_fields[].field_path]]' "$TMP/api.out")" '[6,[["id"],["updated"],["addr","zip"]]]'
expect_eq rest/no-pk "$(api PATCH "/connections/$ID" '{"catalog": {"streams": [{"stream": {"name": "people"}, "field_selection_enabled": true, "selected_fields": [{"field_path": ["name"]}]}]}}')" 400
expect_eq rest/no-pk-msg "$(jq -r .error.message "$TMP/api.out")" \
  'field "catalog": stream "people": the selected fields leave out id, updated (the primary key and cursor are always synced: select them too)'
expect_eq rest/create "$(api POST /connections '{"name": "p3", "source": "people", "destination": "lite", "catalog": {"streams": [{"stream": {"name": "people"}, "fieldSelectionEnabled": true, "selectedFields": [{"fieldPath": ["id"]}, {"fieldPath": ["updated"]}]}]}}')" 201
expect_eq rest/create-shown "$(jq -c '[.name, .catalog.streams[0].fieldSelectionEnabled, [.catalog.streams[0].selectedFields[].fieldPath[0]]]' "$TMP/api.out")" '["p3",true,["id","updated"]]'
expect_eq rest/create-bad "$(api POST /connections '{"name": "p4", "source": "people", "destination": "lite", "catalog": {"streams": [{"stream": {"name": "people"}, "fieldSelectionEnabled": true, "selectedFields": [{"fieldPath": ["id"]}, {"fieldPath": ["updated"]}, {"fieldPath": ["addr", "nope"]}]}]}}')" 400
expect_eq rest/create-bad-msg "$(jq -r .error.message "$TMP/api.out")" 'field "catalog": stream "people": selected field "addr.nope" is not in the stream'"'"'s schema'
expect_eq rest/create-bad-none "$(sql "$STORE" "select count(*) from connections where name = 'p4'")" 0
expect_eq rest/not-object "$(api PATCH "/connections/$ID" '{"catalog": [1]}')" 400
expect_eq rest/unknown-stream "$(api PATCH "/connections/$ID" '{"catalog": {"streams": [{"stream": {"name": "ghosts"}}]}}')" 400
expect_eq rest/unknown-stream-msg "$(jq -r .error.message "$TMP/api.out")" 'field "catalog": stream settings: the source has no stream "ghosts"'
kill -TERM "$SERVER"
wait "$SERVER"
run sync4 "$S" connection sync p1 --backoff-ms 0 --full-refresh
expect_rc sync4/exit 0 sync4
expect_eq rest/dest-nested "$(props '.properties.addr' "$FIELDS_DEST_CATALOG")" '["zip"]'
expect_eq rest/rows "$(sql "$DB" "select addr from people where id = 1")" '{"zip":"z1"}'

# ---- a destination's TRACE error about a mapped stream counts for the source stream ------------------
run prefix "$S" connection edit p1 --prefix m_
FIELDS_DEST_TRACE=m_people run sync5 "$S" connection sync p1 --backoff-ms 0 --full-refresh
expect_rc trace/sync 0 sync5
expect_eq trace/rejected "$(sql "$STORE" "select stream || ':' || rejected from stream_stats where attempt_id = (select max(id) from attempts)")" "people:1"
expect_eq trace/mapped-table "$(sql "$DB" "select count(*) from m_people")" 3
finish
