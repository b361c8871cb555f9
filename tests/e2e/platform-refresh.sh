#!/usr/bin/env bash
# Connection refresh and clear with generations (truncate keeps the old rows
# until the new read succeeds, merge keeps them for good, a failed refresh
# is finished by the next sync), the namespace and stream-prefix mapping
# (destination names mapped, stored state in source terms), and per-stream
# modes from the connection's stored settings. Against destination-sqlite
# and destination-postgres (a throwaway server from tests/lib/db.sh).
# usage: tests/e2e/platform-refresh.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/db.sh"
e2e_init "$@"
trap 'db_stop_all; e2e_cleanup' EXIT

export SLUICE_HOME=$TMP/home
S="$BIN/sluice"
SRC=$(cd "$(dirname "$0")/../data/platform" && pwd)/ns-source
DB=$TMP/out.db
STORE=$SLUICE_HOME/sluice.db
export NS_SOURCE_CATALOG_COPY=$TMP/sent-catalog.json
# per-stream value of the catalog the source got last
sent() { jq -c --arg s "$1" ".streams[] | select(.stream.name == \$s) | $2" "$NS_SOURCE_CATALOG_COPY"; }
gen() { sql "$STORE" "select generation || ':' || coalesce(pending, '-') from generations g join connections c on c.id = g.connection_id where c.name = '$1' and stream = '$2'"; }
by_v() { sql "$1" "select group_concat(v || '=' || n, ',') from (select v, count(*) n from \"$2\" group by v order by v)"; }
last_job() { sql "$STORE" "select kind || ':' || status from jobs order by id desc limit 1"; }
emitted() { sql "$STORE" "select emitted from stream_stats where stream = '$1' and attempt_id = (select max(id) from attempts)"; }

run src "$S" source create ns --connector "$SRC" --set count=5 --set tag=a
run dst "$S" destination create lite --connector destination-sqlite --set "destination_path=$DB"
run conn "$S" connection create r1 --source ns --destination lite
expect_rc setup/conn 0

# ---- a first sync: generations and sync ids go out -----------------------------------------------
run sync1 "$S" connection sync r1 --backoff-ms 0
expect_rc sync1/exit 0
expect_eq sync1/orders "$(by_v "$DB" shop_orders)" "a=5"
expect_eq sync1/notes "$(by_v "$DB" shop_notes)" "a=5"
expect_eq sync1/orders-gen-sent "$(sent orders '[.generation_id, .minimum_generation_id, .sync_id]')" "[0,0,1]"
# an overwrite stream gets a new generation every job, with minimum = generation
expect_eq sync1/notes-gen-sent "$(sent notes '[.generation_id, .minimum_generation_id, .sync_id]')" "[1,1,1]"
expect_eq sync1/notes-gen-stored "$(gen r1 notes)" "1:-"
run sync2 "$S" connection sync r1 --backoff-ms 0
expect_eq sync2/notes-gen "$(sent notes '[.generation_id, .minimum_generation_id]')" "[2,2]"
expect_eq sync2/notes-rows "$(by_v "$DB" shop_notes)" "a=5"
expect_eq sync2/orders-incremental "$(emitted orders)" "0"

# ---- truncate refresh: a new generation, the old rows go ------------------------------------------
run tag-b "$S" source edit ns --set tag=b
run ref1 "$S" connection refresh r1 --streams orders
expect_rc refresh/exit 0
expect_out refresh/says ref1 "job 3 succeeded"
expect_eq refresh/job-kind "$(last_job)" "refresh:succeeded"
expect_eq refresh/orders-gen "$(sent orders '[.generation_id, .minimum_generation_id, .sync_id]')" "[1,1,3]"
expect_eq refresh/read-all "$(emitted orders)" "5"
expect_eq refresh/old-rows-gone "$(by_v "$DB" shop_orders)" "b=5"
expect_eq refresh/new-generation "$(sql "$DB" 'select distinct _airbyte_generation_id from shop_orders')" "1"
expect_eq refresh/done "$(gen r1 orders)" "1:-"
expect_eq refresh/notes-untouched-gen "$(gen r1 notes)" "3:-"

# ---- merge refresh of an append stream: the old rows stay ---------------------------------------------
run edit-append "$S" connection edit r1 --stream orders --destination-sync-mode append
expect_rc edit/append 0
run tag-c "$S" source edit ns --set tag=c
run ref2 "$S" connection refresh r1 --streams orders --mode merge
expect_rc merge/exit 0
expect_eq merge/min-zero "$(sent orders '[.generation_id, .minimum_generation_id, .destination_sync_mode]')" '[2,0,"append"]'
expect_eq merge/old-rows-kept "$(by_v "$DB" shop_orders)" "b=5,c=5"

# ---- a truncate refresh that fails midway keeps the old rows; the next sync finishes it -----------
run tag-d "$S" source edit ns --set tag=d --set fail_after=2
run ref3 "$S" connection refresh r1 --streams orders --max-attempts 1
expect_rc fail/exit nonzero
expect_eq fail/job "$(last_job)" "refresh:failed"
expect_eq fail/old-rows-kept "$(by_v "$DB" shop_orders)" "b=5,c=5"
expect_eq fail/pending "$(gen r1 orders)" "3:truncate"
expect_eq fail/state-kept "$("$S" state show r1 | jq -c '.[] | select(.stream.stream_descriptor.name == "orders") | .stream.stream_state')" '{"updated":2}'
run fix "$S" source edit ns --set fail_after=0
run sync3 "$S" connection sync r1 --backoff-ms 0
expect_rc resume/exit 0
expect_eq resume/same-generation "$(sent orders '[.generation_id, .minimum_generation_id]')" "[3,3]"
expect_eq resume/from-state "$(emitted orders)" "3"
expect_eq resume/only-new-rows "$(by_v "$DB" shop_orders)" "d=5"
expect_eq resume/done "$(gen r1 orders)" "3:-"

# ---- clear: the destination drops the stream, its state is reset -------------------------------------
run clear1 "$S" connection clear r1 --streams notes
expect_rc clear/exit 0
expect_eq clear/job "$(last_job)" "clear:succeeded"
expect_eq clear/rows-gone "$(sql "$DB" 'select count(*) from shop_notes')" "0"
expect_eq clear/other-kept "$(by_v "$DB" shop_orders)" "d=5"
expect_eq clear/state-reset "$("$S" state show r1 | jq -c '[.[].stream.stream_descriptor.name] | sort')" '["orders"]'
# notes is an overwrite stream: each job so far (7) gave it a new generation
expect_eq clear/gen "$(gen r1 notes)" "7:-"
run sync4 "$S" connection sync r1 --backoff-ms 0
expect_eq clear/next-sync-reads "$(by_v "$DB" shop_notes)" "d=5"
run clear-bad "$S" connection clear r1 --streams nope
expect_rc clear/unknown-stream 2
expect_err clear/unknown-names-it clear-bad 'connection "r1" syncs no stream "nope"'
run mode-bad "$S" connection refresh r1 --mode wipe
expect_rc refresh/bad-mode 2
expect_err refresh/bad-mode-says mode-bad '--mode "wipe": expected truncate or merge'
run sync-streams "$S" connection sync r1 --streams orders
expect_rc sync/streams-refused 2
# a whole-connection refresh: every stream gets a new generation
run ref-all "$S" connection refresh r1
expect_rc refresh-all/exit 0
expect_eq refresh-all/gens "$(gen r1 orders),$(gen r1 notes)" "4:-,9:-"

# ---- per-stream modes from the stored settings -------------------------------------------------
run bad-mode "$S" connection edit r1 --stream notes --sync-mode incremental
expect_rc modes/unsupported 7
expect_err modes/unsupported-says bad-mode 'stream "notes": sync_mode "incremental" is not supported by the source'
run bad-cursor "$S" connection edit r1 --stream orders --cursor-field meta.nope
expect_rc modes/bad-cursor nonzero
expect_err modes/bad-cursor-says bad-cursor 'stream "orders": cursor field "meta.nope" is not in the stream'
run bad-pk "$S" connection edit r1 --stream orders --primary-key idd
expect_err modes/bad-pk-says bad-pk 'stream "orders": primary key field "idd" is not in the stream'
run no-pk "$S" connection edit r1 --stream notes --destination-sync-mode overwrite_dedup
expect_err modes/dedup-needs-pk no-pk 'stream "notes": overwrite_dedup needs a primary key'
run mismatch "$S" connection edit r1 --stream orders --sync-mode full_refresh --destination-sync-mode append_dedup
expect_err modes/mismatch mismatch 'stream "orders": full_refresh does not go with append_dedup'
run no-stream "$S" connection edit r1 --sync-mode full_refresh
expect_rc modes/needs-stream 2
run bad-stream "$S" connection edit r1 --stream ghosts --sync-mode full_refresh
expect_err modes/unknown-stream bad-stream 'the source has no stream "ghosts"'
run good "$S" connection edit r1 --stream orders --sync-mode incremental --cursor-field meta.ts --destination-sync-mode append_dedup --primary-key id
expect_rc modes/edit 0
expect_eq modes/stored "$(sql "$STORE" "select catalog from connections where name = 'r1'" | jq -c '.streams[] | select(.stream.name == "orders") | [.cursor_field, .primary_key, .destination_sync_mode]')" '[["meta","ts"],[["id"]],"append_dedup"]'
run sync5 "$S" connection sync r1 --backoff-ms 0
expect_rc modes/sync 0
expect_eq modes/sent "$(sent orders '[.sync_mode, .cursor_field, .destination_sync_mode, .primary_key]')" '["incremental",["meta","ts"],"append_dedup",[["id"]]]'
run fr "$S" connection edit r1 --stream orders --sync-mode full_refresh
run sync6 "$S" connection sync r1 --backoff-ms 0
expect_eq modes/full-refresh-sent "$(sent orders '[.sync_mode, .destination_sync_mode, .minimum_generation_id == .generation_id]')" '["full_refresh","overwrite",true]'
expect_eq modes/full-refresh-reads-all "$(emitted orders)" "5"
jq '{streams: [.streams[] | select(.stream.name == "notes")]}' "$NS_SOURCE_CATALOG_COPY" >"$TMP/edited.json"
run cat-file "$S" connection edit r1 --catalog "$TMP/edited.json"
expect_rc modes/catalog-file 0
run sync7 "$S" connection sync r1 --backoff-ms 0
expect_eq modes/catalog-file-streams "$(jq -c '[.streams[].stream.name]' "$NS_SOURCE_CATALOG_COPY")" '["notes"]'
jq '.streams[0].sync_mode = "incremental"' "$TMP/edited.json" >"$TMP/edited-bad.json"
run cat-bad "$S" connection edit r1 --catalog "$TMP/edited-bad.json"
expect_err modes/catalog-file-checked cat-bad 'stream "notes": sync_mode "incremental" is not supported'

# ---- namespace and prefix mapping -------------------------------------------------------------
run src-m "$S" source create ns2 --connector "$SRC" --set count=5 --set tag=m
run dst-m "$S" destination create lite2 --connector destination-sqlite --set "destination_path=$TMP/m.db"
run conn-m "$S" connection create m1 --source ns2 --destination lite2 --namespace-format 'x_${SOURCE_NAMESPACE}' --prefix pre_
run sync-m1 "$S" connection sync m1 --backoff-ms 0
expect_rc map/sync 0
expect_eq map/tables "$(sql "$TMP/m.db" "select group_concat(name, ',') from (select name from sqlite_master where type = 'table' and name not like '%stage%' and name not like '\_%' escape '\' order by name)")" "x_shop_pre_notes,x_shop_pre_orders"
expect_eq map/rows "$(by_v "$TMP/m.db" x_shop_pre_orders)" "m=5"
expect_eq map/state-in-source-terms "$("$S" state show m1 | jq -c '[.[].stream.stream_descriptor] | sort_by(.name)')" '[{"name":"notes","namespace":"shop"},{"name":"orders","namespace":"shop"}]'
run src-m7 "$S" source edit ns2 --set count=7
run sync-m2 "$S" connection sync m1 --backoff-ms 0
expect_eq map/incremental-resumes "$(emitted orders)" "2"
expect_eq map/rows-after "$(sql "$TMP/m.db" 'select count(*) from x_shop_pre_orders')" "7"
run clear-m "$S" connection clear m1 --streams orders
expect_rc map/clear 0
expect_eq map/clear-mapped "$(sql "$TMP/m.db" 'select count(*) from x_shop_pre_orders')" "0"
run conn-d "$S" connection create m2 --source ns2 --destination lite2 --namespace-format destination --prefix d_
run sync-d "$S" connection sync m2 --backoff-ms 0
expect_eq map/destination-default "$(sql "$TMP/m.db" "select count(*) from d_orders")" "7"

run src-x "$S" source create ns3 --connector "$SRC" --set extra_ns=true
run conn-x "$S" connection create m3 --source ns3 --destination lite2 --namespace-format destination
run sync-x "$S" connection sync m3 --backoff-ms 0
expect_rc map/collision-refused 6
expect_err map/collision-names-both sync-x 'maps streams "shop.orders" and "shop2.orders" both to "orders"'
run bad-value "$S" connection edit r1 --stream orders --sync-mode sometimes
expect_rc modes/not-a-mode 2

# ---- the same against destination-postgres ----------------------------------------------------
if pg_start; then
  q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1" 2>/dev/null; }
  pv() { q "select string_agg(v || '=' || n, ',' order by v) from (select v, count(*) n from shop.orders group by v) t"; }
  run pg-dst "$S" destination create pgd --connector destination-postgres --set host=127.0.0.1 --set "port=$PG_PORT" \
    --set "database=$PG_DB" --set schema=public --set "username=$PG_USER" --set "password=$PG_PASSWORD" --set 'ssl_mode={"mode":"disable"}'
  expect_rc pg/destination 0
  run pg-src "$S" source create pgns --connector "$SRC" --set count=5 --set tag=a
  run pg-conn "$S" connection create p1 --source pgns --destination pgd
  run pg-sync1 "$S" connection sync p1 --backoff-ms 0
  expect_rc pg/sync 0
  expect_eq pg/rows "$(pv)" "a=5"
  run pg-b "$S" source edit pgns --set tag=b
  run pg-ref "$S" connection refresh p1 --streams orders
  expect_rc pg/refresh 0
  expect_eq pg/refresh-old-gone "$(pv)" "b=5"
  run pg-edit "$S" connection edit p1 --stream orders --destination-sync-mode append
  run pg-c "$S" source edit pgns --set tag=c
  run pg-merge "$S" connection refresh p1 --streams orders --mode merge
  expect_eq pg/merge-kept "$(pv)" "b=5,c=5"
  run pg-d "$S" source edit pgns --set tag=d --set fail_after=2
  run pg-fail "$S" connection refresh p1 --streams orders --max-attempts 1
  expect_rc pg/fail nonzero
  expect_eq pg/fail-old-kept "$(pv)" "b=5,c=5"
  run pg-fix "$S" source edit pgns --set fail_after=0
  run pg-sync2 "$S" connection sync p1 --backoff-ms 0
  expect_rc pg/resume 0
  expect_eq pg/resume-exact "$(pv)" "d=5"
  run pg-clear "$S" connection clear p1 --streams orders
  expect_rc pg/clear 0
  expect_eq pg/clear-empty "$(q 'select count(*) from shop.orders')" "0"
  expect_eq pg/clear-notes-kept "$(q 'select count(*) from shop.notes')" "5"
else
  fail pg/start "cannot start PostgreSQL"
fi

finish
