#!/usr/bin/env bash
# End-to-end tests of source-file (CSV, JSON lines, JSON; local, HTTP,
# compressed; many files with incremental state) and destination-csv, with
# every kind of bad input the issue lists. Fixtures are tests/data/file/;
# big and odd files are made in the temp dir.
# usage: tests/e2e/file.sh [BIN_DIR]   (default build/bin)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
. "$E2E_HERE/../lib/db.sh" # free_port and friends (no database is started)
DATA=$(cd "$E2E_HERE/../data/file" && pwd)
SRC=$BIN/source-file
DST=$BIN/destination-csv
for t in gzip zstd bzip2 python3; do command -v $t >/dev/null || { echo "file.sh: $t is required" >&2; exit 2; }; done
is_sanitized() { grep -q __asan_init "$SRC" 2>/dev/null; }

# ---- helpers ----------------------------------------------------------------
# cfg NAME JSON: a config file $TMP/NAME.json
cfg() { printf '%s\n' "$2" >"$TMP/$1.json"; }
# catalog NAME [MODE]: discover with $TMP/NAME.json, configure every stream -> $TMP/NAME.cat
catalog() {
  "$SRC" discover --config "$TMP/$1.json" 2>"$TMP/$1.disc.err" >"$TMP/$1.disc"
  jq -c --arg m "${2:-full_refresh}" '{streams: [.catalog.streams[]? | {stream: ., sync_mode: $m,
    destination_sync_mode: (if $m == "incremental" then "append" else "overwrite" end)}]}' "$TMP/$1.disc" >"$TMP/$1.cat"
}
# read_file RUN NAME [STATE]: read with $TMP/NAME.json + .cat; data lines -> $TMP/RUN.data
read_file() {
  local st=()
  [ -n "${3:-}" ] && st=(--state "$3")
  run_proto "$1" "$SRC" read --config "$TMP/$2.json" --catalog "$TMP/$2.cat" "${st[@]}"
  jq -c 'select(.type == "RECORD") | .record.data' "$TMP/$1.out" >"$TMP/$1.data" 2>/dev/null
}
# same NAME FILE EXPECTED: equal JSON lines (numbers normalised by jq)
same() {
  if diff <(jq -c . "$2") <(jq -c . "$3") >"$TMP/diff.out" 2>&1; then pass "$1"; else
    fail "$1" "records differ"
    head -n 8 "$TMP/diff.out" | sed 's/^/     | /'
  fi
}
count() { grep -c . "$TMP/$1.data"; }
trace_msg() { jq -r 'select(.type == "TRACE" and .trace.type == "ERROR") | .trace.error.message' "$TMP/$1.out"; }
expect_trace() { # expect_trace NAME RUN SUBSTRING: the run's TRACE error names the problem
  if trace_msg "$2" | grep -qF -- "$3"; then pass "$1"; else
    fail "$1" "no TRACE error containing \"$3\""
    trace_msg "$2" | head -n 3 | sed 's/^/     | /'
    show_err "$2"
  fi
}
# run_in NAME INPUT CMD...: run_proto with INPUT on stdin
run_in() {
  local name=$1 input=$2
  shift 2
  run "$name" bash -c 'f=$1; shift; exec "$@" <"$f"' run_in "$input" "$@"
  proto_keep "$name"
}
last_state() { jq -c 'select(.type == "STATE") | .state.stream.stream_state' "$TMP/$1.out" | tail -n 1; }
state_file() { jq -s -c '[.[] | select(.type == "STATE") | .state] | .[-1:] | map(del(.sourceStats))' "$TMP/$1.out" >"$2"; }

# ---- 1. spec and check --------------------------------------------------------
run_proto spec "$SRC" spec
expect_rc spec/exit 0
expect_eq spec/has-url-and-streams "$(jq -c '.spec.connectionSpecification.properties | [has("url"), has("directory"), has("streams"), has("format")]' "$TMP/spec.out")" '[true,true,true,true]'
cfg people "{\"url\": \"$DATA/people.csv\"}"
run_proto check-ok "$SRC" check --config "$TMP/people.json"
expect_eq check/ok "$(jq -r '.connectionStatus.status' "$TMP/check-ok.out")" SUCCEEDED
cfg nofile "{\"url\": \"$TMP/no-such.csv\"}"
run_proto check-missing "$SRC" check --config "$TMP/nofile.json"
expect_eq check/missing-fails "$(jq -r '.connectionStatus.status' "$TMP/check-missing.out")" FAILED
expect_out check/missing-names-file check-missing "$TMP/no-such.csv"
cfg both "{\"url\": \"$DATA/people.csv\", \"directory\": \"$DATA\"}"
run_proto check-both "$SRC" check --config "$TMP/both.json"
expect_out check/url-or-directory check-both "exactly one of url"

# ---- 2. CSV: inference and values -------------------------------------------------
catalog people
expect_eq discover/stream-name "$(jq -r '.catalog.streams[0].name' "$TMP/people.disc")" people
jq -c '.catalog.streams[0].json_schema.properties' "$TMP/people.disc" >"$TMP/people.props"
same discover/inferred-schema "$TMP/people.props" "$DATA/people.schema.json"
expect_eq discover/full-refresh-only "$(jq -c '.catalog.streams[0].supported_sync_modes' "$TMP/people.disc")" '["full_refresh"]'
read_file people-read people
expect_rc people/exit 0
same people/records "$TMP/people-read.data" "$DATA/people.expected.jsonl"
expect_eq people/final-state "$(last_state people-read)" '{"__ab_no_cursor_state_message":true}'
cfg fileurl "{\"url\": \"file://$DATA/people.csv\"}"
catalog fileurl
read_file fileurl-read fileurl
same people/file-url "$TMP/fileurl-read.data" "$DATA/people.expected.jsonl"
# Both CSV parsers read every fixture the same way.
for f in people quoting; do
  cfg "lib-$f" "{\"url\": \"$DATA/$f.csv\", \"format\": {\"csv_parser\": \"libcsv\"}}"
  cfg "own-$f" "{\"url\": \"$DATA/$f.csv\"}"
  catalog "lib-$f"
  catalog "own-$f"
  read_file "lib-$f-read" "lib-$f"
  read_file "own-$f-read" "own-$f"
  check "parsers/$f-records" test -s "$TMP/own-$f-read.data"
  same "parsers/$f-agree" "$TMP/lib-$f-read.data" "$TMP/own-$f-read.data"
done
same quoting/records "$TMP/own-quoting-read.data" "$DATA/quoting.expected.jsonl"

# Given schema instead of inference; primary key.
cfg given "{\"url\": \"$DATA/people.csv\", \"primary_key\": \"id\", \"schema\": {\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\"}, \"name\": {\"type\": \"string\"}}}}"
catalog given
expect_eq given/schema "$(jq -c '.catalog.streams[0].json_schema.properties | keys' "$TMP/given.disc")" '["id","name"]'
expect_eq given/primary-key "$(jq -c '.catalog.streams[0].source_defined_primary_key' "$TMP/given.disc")" '[["id"]]'
read_file given-read given
expect_eq given/id-typed-as-string "$(head -n 1 "$TMP/given-read.data" | jq -c '[.id, .score]')" '["1","9.5"]'

# ---- 3. CSV options -------------------------------------------------------------------
printf 'junk line\n# another\nid;label;flag;n\nskip me;;;\n1;\x27a;b\x27;oui;NA\n2;\x27it\\\x27s\x27;non;3\n' >"$TMP/opts.csv"
cfg opts "{\"url\": \"$TMP/opts.csv\", \"format\": {\"filetype\": \"csv\", \"delimiter\": \";\", \"quote_char\": \"'\", \"escape_char\": \"\\\\\", \"skip_rows_before_header\": 2, \"skip_rows_after_header\": 1, \"null_values\": [\"NA\"], \"true_values\": [\"oui\"], \"false_values\": [\"non\"]}}"
catalog opts
read_file opts-read opts
expect_rc opts/exit 0
printf '%s\n' '{"id":1,"label":"a;b","flag":true,"n":null}' '{"id":2,"label":"it'"'"'s","flag":false,"n":3}' >"$TMP/opts.want"
same opts/records "$TMP/opts-read.data" "$TMP/opts.want"
printf '1,2\n3,4\n' >"$TMP/nohdr.csv"
cfg nohdr "{\"url\": \"$TMP/nohdr.csv\", \"format\": {\"column_names\": [\"a\", \"b\"]}}"
catalog nohdr
read_file nohdr-read nohdr
printf '%s\n' '{"a":1,"b":2}' '{"a":3,"b":4}' >"$TMP/nohdr.want"
same options/column-names "$TMP/nohdr-read.data" "$TMP/nohdr.want"
printf 'name,city\nJos\xe9,Z\xfcrich\n' >"$TMP/latin1.csv"
cfg latin1 "{\"url\": \"$TMP/latin1.csv\", \"format\": {\"encoding\": \"latin-1\"}}"
catalog latin1
read_file latin1-read latin1
expect_eq options/latin-1 "$(cat "$TMP/latin1-read.data")" '{"name":"José","city":"Zürich"}'

printf 'zip,n,code\n02134,1,-0.5\n10001,2,007\n' >"$TMP/zips.csv"
cfg zips "{\"url\": \"$TMP/zips.csv\"}"
catalog zips
expect_eq infer/leading-zeros-are-text "$(jq -c '.catalog.streams[0].json_schema.properties | map_values(.type[1])' "$TMP/zips.disc")" '{"zip":"string","n":"integer","code":"string"}'
read_file zips-read zips
expect_eq infer/leading-zeros-kept "$(jq -c -s 'map(.zip + "/" + .code)' "$TMP/zips-read.data")" '["02134/-0.5","10001/007"]'

# ---- 4. bad CSV input -----------------------------------------------------------------------
printf 'a,b,c\n1,2,3\n4,5\n6,7,8,9\n' >"$TMP/ragged.csv"
cfg ragged "{\"url\": \"$TMP/ragged.csv\"}"
catalog ragged
read_file ragged-keep ragged
expect_rc ragged/keep-exit 0
expect_eq ragged/keep-rows "$(count ragged-keep)" 3
expect_eq ragged/too-few-nulled "$(jq -c 'select(.type == "RECORD" and .record.data.a == 4) | [.record.data.c, (.record.meta.changes | map(.field + ":" + .change))]' "$TMP/ragged-keep.out")" '[null,["c:NULLED"]]'
expect_eq ragged/too-many-truncated "$(jq -c 'select(.type == "RECORD" and .record.data.a == 6) | [.record.data, (.record.meta.changes | map(.change + ":" + .reason))]' "$TMP/ragged-keep.out")" '[{"a":6,"b":7,"c":8},["TRUNCATED:SOURCE_SERIALIZATION_ERROR"]]'
expect_eq ragged/good-row-no-meta "$(jq -c 'select(.type == "RECORD" and .record.data.a == 1) | .record | has("meta")' "$TMP/ragged-keep.out")" false
cfg ragged-fail "{\"url\": \"$TMP/ragged.csv\", \"format\": {\"ragged_rows\": \"fail\"}}"
cp "$TMP/ragged.cat" "$TMP/ragged-fail.cat"
read_file ragged-fail ragged-fail
expect_rc ragged/fail-exit 1
expect_trace ragged/fail-names-row ragged-fail "ragged.csv: row 3 has 2 fields but the header has 3 columns"
expect_eq ragged/fail-no-partial-record "$(count ragged-fail)" 1

printf 'a,b\n1,"open\n2,x\n' >"$TMP/unclosed.csv"
cfg unclosed "{\"url\": \"$TMP/unclosed.csv\", \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}, \"b\": {\"type\": \"string\"}}}}"
catalog unclosed
read_file unclosed-read unclosed
expect_rc unclosed/exit 1
expect_trace unclosed/message unclosed-read "unclosed.csv: row 2: a quoted field is not closed at the end of the file"
expect_eq unclosed/failure-type "$(jq -r 'select(.type == "TRACE" and .trace.type == "ERROR") | .trace.error.failure_type' "$TMP/unclosed-read.out")" system_error
cfg unclosed-lib "{\"url\": \"$TMP/unclosed.csv\", \"format\": {\"csv_parser\": \"libcsv\"}, \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}}}"
cp "$TMP/unclosed.cat" "$TMP/unclosed-lib.cat"
read_file unclosed-lib-read unclosed-lib
expect_trace unclosed/libcsv-too unclosed-lib-read "a quoted field is not closed"

printf 'a,b\n1,ok\n2,bad\xff\xfebytes\n' >"$TMP/badutf8.csv"
cfg badutf8 "{\"url\": \"$TMP/badutf8.csv\"}"
catalog badutf8
read_file badutf8-read badutf8
expect_rc badutf8/replace-exit 0
expect_eq badutf8/replaced "$(sed -n 2p "$TMP/badutf8-read.data")" '{"a":2,"b":"bad��bytes"}'
expect_out badutf8/warns-with-place badutf8-read "invalid UTF-8, replaced by U+FFFD (first at row 3, column b)"
cfg badutf8-fail "{\"url\": \"$TMP/badutf8.csv\", \"format\": {\"invalid_utf8\": \"fail\"}}"
cp "$TMP/badutf8.cat" "$TMP/badutf8-fail.cat"
read_file badutf8-fail badutf8-fail
expect_rc badutf8/fail-exit 1
expect_trace badutf8/fail-message badutf8-fail "badutf8.csv: invalid UTF-8 at row 3, column b"
expect_eq badutf8/fail-stops-before-the-bad-row "$(count badutf8-fail)" 1

printf '\xef\xbb\xbfid,name\r\n1,a\n2,b\r\n3,"c\r\nd"\n' >"$TMP/bom.csv"
cfg bom "{\"url\": \"$TMP/bom.csv\"}"
catalog bom
expect_eq bom/header-without-bom "$(jq -c '.catalog.streams[0].json_schema.properties | keys' "$TMP/bom.disc")" '["id","name"]'
read_file bom-read bom
printf '%s\n' '{"id":1,"name":"a"}' '{"id":2,"name":"b"}' '{"id":3,"name":"c\r\nd"}' >"$TMP/bom.want"
same crlf/mixed-line-ends "$TMP/bom-read.data" "$TMP/bom.want"

: >"$TMP/empty.csv"
cfg empty "{\"url\": \"$TMP/empty.csv\"}"
run_proto empty-disc "$SRC" discover --config "$TMP/empty.json"
expect_rc empty/discover-fails 1
expect_trace empty/discover-message empty-disc "empty.csv: the file is empty: no header row"
cfg empty-schema "{\"url\": \"$TMP/empty.csv\", \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}}}}"
catalog empty-schema
read_file empty-read empty-schema
expect_rc empty/read-with-schema-exit 0
expect_eq empty/no-records "$(count empty-read)" 0
expect_out empty/warns empty-read "the file is empty (no header row); no records"

# ---- 5. compression -----------------------------------------------------------------------
gzip -c "$DATA/people.csv" >"$TMP/people.csv.gz"
zstd -q -c "$DATA/people.csv" >"$TMP/people.csv.zst"
bzip2 -c "$DATA/people.csv" >"$TMP/people.csv.bz2"
cp "$TMP/people.csv.gz" "$TMP/people-gz-no-extension" # found by its magic bytes
for f in people.csv.gz people.csv.zst people.csv.bz2 people-gz-no-extension; do
  cfg comp "{\"url\": \"$TMP/$f\", \"dataset_name\": \"people\", \"format\": {\"filetype\": \"csv\"}}"
  catalog comp
  read_file "comp-$f" comp
  same "compression/$f" "$TMP/comp-$f.data" "$DATA/people.expected.jsonl"
done
# Two gzip members one after the other are one file.
{ head -n 3 "$DATA/people.csv" | gzip -c; tail -n +4 "$DATA/people.csv" | gzip -c; } >"$TMP/multi.csv.gz"
cfg multi "{\"url\": \"$TMP/multi.csv.gz\", \"dataset_name\": \"people\"}"
catalog multi
read_file multi-read multi
same compression/gzip-members "$TMP/multi-read.data" "$DATA/people.expected.jsonl"
# Truncated archives fail, naming the file; no silent short read.
for kind in gz zst bz2; do
  seq 1 20000 | sed 's/^/row,/' | sed '1i a,b' >"$TMP/long.csv"
  case $kind in gz) gzip -c "$TMP/long.csv" ;; zst) zstd -q -c "$TMP/long.csv" ;; bz2) bzip2 -c "$TMP/long.csv" ;; esac >"$TMP/full.$kind"
  head -c $(($(stat -c %s "$TMP/full.$kind") / 2)) "$TMP/full.$kind" >"$TMP/trunc.csv.$kind"
  cfg trunc "{\"url\": \"$TMP/trunc.csv.$kind\", \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\"}, \"b\": {\"type\": \"integer\"}}}}"
  catalog trunc
  read_file "trunc-$kind" trunc
  expect_rc "truncated/$kind-exit" 1
  expect_trace "truncated/$kind-message" "trunc-$kind" "trunc.csv.$kind: the"
  expect_trace "truncated/$kind-says-truncated" "trunc-$kind" "data is truncated"
done

# ---- 6. JSON lines and JSON ---------------------------------------------------------------
for f in people.jsonl people.json nested.json; do
  extra=""
  [ $f = nested.json ] && extra=', "format": {"filetype": "json", "records_path": "data.items"}'
  cfg js "{\"url\": \"$DATA/$f\", \"dataset_name\": \"js\"$extra}"
  catalog js
  read_file "js-$f" js
  expect_rc "json/$f-exit" 0
  same "json/$f-records" "$TMP/js-$f.data" "$DATA/people-json.expected.jsonl"
  jq -c '.catalog.streams[0].json_schema.properties' "$TMP/js.disc" >"$TMP/js-$f.props"
  same "json/$f-schema" "$TMP/js-$f.props" "$DATA/people-json.schema.json"
done
printf '{"a":1}\n{"a":2,\n{"a":3}\n' >"$TMP/bad.jsonl"
cfg badjl "{\"url\": \"$TMP/bad.jsonl\", \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}}}"
catalog badjl
read_file badjl-read badjl
expect_rc json/bad-line-exit 1
expect_trace json/bad-line-named badjl-read "bad.jsonl line 2: invalid JSON"
printf '[{"a":1},{"a":2},{"a":' >"$TMP/cut.json"
cfg cutjs "{\"url\": \"$TMP/cut.json\", \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}}}"
catalog cutjs
read_file cutjs-read cutjs
expect_rc json/cut-document-exit 1
expect_trace json/cut-document-named cutjs-read "cut.json: invalid JSON: the document ends early (after 22 bytes)"
printf '[{"a":1},\n{"a" 2}]' >"$TMP/bad.json"
cfg badjs "{\"url\": \"$TMP/bad.json\", \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}}}"
catalog badjs
read_file badjs-read badjs
expect_trace json/syntax-error-byte badjs-read "bad.json: invalid JSON near byte"
expect_eq json/cut-document-no-half-record "$(count cutjs-read)" 2
printf '[{"a":1}, 2]' >"$TMP/scalar.json"
cfg scal "{\"url\": \"$TMP/scalar.json\", \"schema\": {\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}}}"
catalog scal
read_file scal-read scal
expect_trace json/element-not-object scal-read "element 2 of the records array is a number, not an object"
cfg nopath "{\"url\": \"$DATA/nested.json\", \"format\": {\"records_path\": \"data.nothing\"}, \"schema\": {\"type\": \"object\"}}"
catalog nopath
read_file nopath-read nopath
expect_trace json/records-path-missing nopath-read "no array of records at records_path \"data.nothing\""

# ---- 7. HTTP ------------------------------------------------------------------------------
mkdir -p "$TMP/www"
cp "$DATA/people.csv" "$DATA/people.jsonl" "$TMP/people.csv.gz" "$TMP/www/"
/usr/bin/python3 "$E2E_HERE/../mock/file_http.py" --root "$TMP/www" --port-file "$TMP/http.port" 2>"$TMP/http.err" &
HTTP_PID=$!
trap 'kill $HTTP_PID 2>/dev/null; e2e_cleanup' EXIT
if wait_for 100 test -s "$TMP/http.port"; then
  U="http://127.0.0.1:$(cat "$TMP/http.port")"
  for p in people.csv people.csv.gz go/people.csv; do
    cfg http "{\"url\": \"$U/$p\", \"dataset_name\": \"people\"}"
    catalog http
    read_file "http-${p//\//-}" http
    expect_rc "http/$p-exit" 0
    same "http/$p-records" "$TMP/http-${p//\//-}.data" "$DATA/people.expected.jsonl"
  done
  # Bytes in tiny pieces: a BOM and multi-byte characters cut between reads.
  printf '\xef\xbb\xbfname,city\nJos\xc3\xa9,Z\xc3\xbcrich\n\xe6\x97\xa5\xe6\x9c\xac,\xe2\x82\xac\n' >"$TMP/www/drip.csv"
  cfg drip "{\"url\": \"$U/drip/drip.csv\", \"format\": {\"invalid_utf8\": \"fail\"}}"
  catalog drip
  read_file drip-read drip
  expect_rc http/drip-exit 0
  expect_eq http/drip-records "$(jq -c -s . "$TMP/drip-read.data")" '[{"name":"José","city":"Zürich"},{"name":"日本","city":"€"}]'
  cfg hq "{\"url\": \"$U/people.jsonl?version=2\", \"dataset_name\": \"js\"}"
  catalog hq
  read_file hq-read hq
  same http/format-from-path-not-query "$TMP/hq-read.data" "$DATA/people-json.expected.jsonl"
  cfg h404 "{\"url\": \"$U/missing/people.csv\"}"
  run_proto h404-check "$SRC" check --config "$TMP/h404.json"
  expect_eq http/404-check-fails "$(jq -r '.connectionStatus.status' "$TMP/h404-check.out")" FAILED
  expect_out http/404-message h404-check "$U/missing/people.csv: HTTP status 404"
  run_proto h404-disc "$SRC" discover --config "$TMP/h404.json"
  expect_rc http/404-discover-exit 1
  expect_eq http/404-config-error "$(jq -r 'select(.type == "TRACE") | .trace.error.failure_type' "$TMP/h404-disc.out")" config_error
  cfg hloop "{\"url\": \"$U/loop\"}"
  run_proto hloop "$SRC" check --config "$TMP/hloop.json"
  expect_out http/redirect-loop hloop "$U/loop: too many redirects"
  cfg hcut "{\"url\": \"$U/cut/people.csv\", \"dataset_name\": \"people\", \"schema\": {\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"integer\"}}}}"
  catalog hcut
  read_file hcut-read hcut
  expect_rc http/cut-body-exit 1
  expect_trace http/cut-body-message hcut-read "closed the connection before the end of the file"
else
  fail http/server "the mock HTTP server did not start"
fi
kill $HTTP_PID 2>/dev/null
wait $HTTP_PID 2>/dev/null
trap e2e_cleanup EXIT

# ---- 8. many files, incremental ---------------------------------------------------------------
D=$TMP/landing
mkdir -p "$D/2024/01" "$D/2024/02" "$D/other"
printf 'id,v\n1,a\n2,b\n' >"$D/2024/01/x.csv"
printf 'id,v\n3,c\n' >"$D/2024/02/y.csv"
printf 'id,v\n9,z\n' >"$D/other/z.csv"
printf 'not csv\n' >"$D/2024/readme.txt"
touch -d '2024-03-01 10:00:00.5 UTC' "$D/2024/01/x.csv"
touch -d '2024-03-02 10:00:00 UTC' "$D/2024/02/y.csv"
cfg multi "{\"directory\": \"$D\", \"streams\": [{\"name\": \"events\", \"globs\": [\"2024/**/*.csv\"], \"primary_key\": \"id\"}]}"
catalog multi incremental
expect_eq multi/modes "$(jq -c '.catalog.streams[0] | [.supported_sync_modes, .default_cursor_field, .source_defined_cursor]' "$TMP/multi.disc")" '[["full_refresh","incremental"],["_ab_source_file_last_modified"],true]'
expect_eq multi/file-columns "$(jq -c '.catalog.streams[0].json_schema.properties | keys' "$TMP/multi.disc")" '["_ab_source_file_last_modified","_ab_source_file_url","id","v"]'
read_file multi-1 multi
expect_rc multi/first-exit 0
expect_eq multi/first-records "$(jq -c -s 'map([.id, ._ab_source_file_url, ._ab_source_file_last_modified])' "$TMP/multi-1.data")" \
  '[[1,"2024/01/x.csv","2024-03-01T10:00:00.500000Z"],[2,"2024/01/x.csv","2024-03-01T10:00:00.500000Z"],[3,"2024/02/y.csv","2024-03-02T10:00:00.000000Z"]]'
expect_eq multi/state-shape "$(last_state multi-1)" \
  '{"history":{"2024/01/x.csv":"2024-03-01T10:00:00.500000Z","2024/02/y.csv":"2024-03-02T10:00:00.000000Z"},"_ab_source_file_last_modified":"2024-03-02T10:00:00.000000Z_2024/02/y.csv"}'
expect_eq multi/state-per-file "$(jq -s '[.[] | select(.type == "STATE")] | length' "$TMP/multi-1.out")" 2
state_file multi-1 "$TMP/st1.json"
read_file multi-2 multi "$TMP/st1.json"
expect_eq multi/unchanged-not-read-again "$(count multi-2)" 0
expect_eq multi/unchanged-state-kept "$(last_state multi-2)" "$(last_state multi-1)"
expect_out multi/unchanged-logged multi-2 "2 file(s) matched, 2 already read and unchanged"
printf 'id,v\n1,a2\n2,b2\n4,d\n' >"$D/2024/01/x.csv"
touch -d '2024-03-05 00:00:00 UTC' "$D/2024/01/x.csv"
printf 'id,v\n5,e\n' >"$D/2024/02/new.csv"
touch -d '2024-03-04 00:00:00 UTC' "$D/2024/02/new.csv"
state_file multi-2 "$TMP/st2.json"
read_file multi-3 multi "$TMP/st2.json"
expect_eq multi/changed-and-new-read "$(jq -c -s 'map([.id, ._ab_source_file_url])' "$TMP/multi-3.data")" \
  '[[5,"2024/02/new.csv"],[1,"2024/01/x.csv"],[2,"2024/01/x.csv"],[4,"2024/01/x.csv"]]'
expect_eq multi/history-grows "$(last_state multi-3 | jq -c '.history | keys')" '["2024/01/x.csv","2024/02/new.csv","2024/02/y.csv"]'
expect_eq multi/cursor-newest "$(last_state multi-3 | jq -r '._ab_source_file_last_modified')" '2024-03-05T00:00:00.000000Z_2024/01/x.csv'
# A full history (SLUICE_FILE_HISTORY_MAX=3 here; 10,000 by default): the oldest entry makes room
# for each new file; files it does not list are read when newer than its oldest entry or modified
# within days_to_sync_if_history_is_full days.
H=$TMP/hist
mkdir -p "$H"
for n in 1 2 3 4 5; do printf 'id\n%s\n' "$n" >"$H/f$n.csv"; done
touch -d '2020-01-01 UTC' "$H/f1.csv"
touch -d '2020-01-02 UTC' "$H/f2.csv"
touch -d '1 hour ago' "$H/f3.csv"
touch -d '50 minutes ago' "$H/f4.csv"
touch -d '40 minutes ago' "$H/f5.csv"
cfg hist "{\"directory\": \"$H\", \"streams\": [{\"name\": \"h\", \"globs\": [\"*.csv\"], \"days_to_sync_if_history_is_full\": 3}]}"
catalog hist incremental
export SLUICE_FILE_HISTORY_MAX=3
read_file hist-1 hist
expect_eq history/capped "$(count hist-1) $(last_state hist-1 | jq -c '.history | keys')" '5 ["f3.csv","f4.csv","f5.csv"]'
state_file hist-1 "$TMP/hist1.json"
printf 'id\n0\n' >"$H/f0.csv"
touch -d '2 days ago' "$H/f0.csv"
read_file hist-2 hist "$TMP/hist1.json"
expect_eq history/full-window "$(jq -r .id "$TMP/hist-2.data" | xargs)" 0
expect_out history/full-warns hist-2 "the state's history is full (3 files)"
# f0 is the oldest entry now, so it is the one that goes (as in Airbyte's CDK).
expect_eq history/oldest-evicted "$(last_state hist-2 | jq -c '.history | keys')" '["f3.csv","f4.csv","f5.csv"]'
unset SLUICE_FILE_HISTORY_MAX
cfg hist-bad "{\"directory\": \"$H\", \"streams\": [{\"name\": \"h\", \"globs\": [\"*.csv\"], \"days_to_sync_if_history_is_full\": 0}]}"
run_proto hist-bad "$SRC" check --config "$TMP/hist-bad.json"
expect_out history/bad-days hist-bad "days_to_sync_if_history_is_full: 0 is less than minimum 1"

# A config written for an older version (format as a name, primary_key as a list) is migrated:
# the run goes on, and the new form comes out as a CONTROL connectorConfig message.
cfg migr "{\"url\": \"$DATA/people.csv\", \"format\": \"csv\", \"primary_key\": [\"id\", \"name\"]}"
run_proto migr "$SRC" discover --config "$TMP/migr.json"
expect_rc migr/exit 0
expect_eq migr/control "$(jq -c 'select(.type == "CONTROL") | .control.connectorConfig.config | [.format, .primary_key]' "$TMP/migr.out")" '[{"filetype":"csv"},"id,name"]'
expect_eq migr/composite-key "$(jq -c 'select(.type == "CATALOG") | .catalog.streams[0].source_defined_primary_key' "$TMP/migr.out")" '[["id"],["name"]]'

# Full refresh reads every file.
catalog multi full_refresh
read_file multi-full multi
expect_eq multi/full-refresh-all "$(count multi-full)" 5
# Glob forms: ** spans zero or more directories, * stays in one.
while IFS='|' read -r glob want; do
  cfg g "{\"directory\": \"$D\", \"streams\": [{\"name\": \"events\", \"globs\": [\"$glob\"], \"schema\": {\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"integer\"}}}}]}"
  cp "$TMP/multi.cat" "$TMP/g.cat"
  read_file g-read g
  expect_eq "glob/$glob" "$(jq -r '._ab_source_file_url' "$TMP/g-read.data" | sort -u | paste -sd' ')" "$want"
done <<'GLOBS'
**/*.csv|2024/01/x.csv 2024/02/new.csv 2024/02/y.csv other/z.csv
2024/*/x.csv|2024/01/x.csv
./**/new.csv|2024/02/new.csv
2024/0?/*.csv|2024/01/x.csv 2024/02/new.csv 2024/02/y.csv
*.csv|
GLOBS
# JSON lines files of a directory carry the file fields too.
mkdir -p "$TMP/jl"
printf '{"k":1,"o":{"x":true}}\n' >"$TMP/jl/a.jsonl"
printf '{"k":2}\n' >"$TMP/jl/b.jsonl.gz.tmp" && gzip -c "$TMP/jl/b.jsonl.gz.tmp" >"$TMP/jl/b.jsonl.gz" && rm "$TMP/jl/b.jsonl.gz.tmp"
touch -d '2024-01-01 UTC' "$TMP/jl/a.jsonl"
touch -d '2024-01-02 UTC' "$TMP/jl/b.jsonl.gz"
cfg jl "{\"directory\": \"$TMP/jl\", \"streams\": [{\"name\": \"j\", \"globs\": [\"*.jsonl\", \"*.jsonl.gz\"]}]}"
catalog jl incremental
read_file jl-read jl
expect_eq multi/jsonl-files "$(jq -c -s 'map([.k, ._ab_source_file_url])' "$TMP/jl-read.data")" '[[1,"a.jsonl"],[2,"b.jsonl.gz"]]'
expect_eq multi/jsonl-nested-kept "$(head -n 1 "$TMP/jl-read.data" | jq -c .o)" '{"x":true}'
# A glob that matches nothing: a clear failure, not an empty success.
cfg noglob "{\"directory\": \"$D\", \"streams\": [{\"name\": \"events\", \"globs\": [\"**/*.parquet\"], \"format\": {\"filetype\": \"csv\"}, \"schema\": {\"type\": \"object\"}}]}"
cp "$TMP/multi.cat" "$TMP/noglob.cat"
read_file noglob-read noglob
expect_rc glob/no-match-exit 1
expect_trace glob/no-match-message noglob-read "no file under $D matches the globs [\"**/*.parquet\"]"
run_proto noglob-check "$SRC" check --config "$TMP/noglob.json"
expect_eq glob/no-match-check-fails "$(jq -r '.connectionStatus.status' "$TMP/noglob-check.out")" FAILED

# ---- 9. a file deleted mid-read -------------------------------------------------------------------
# The source blocks on a full pipe; the test deletes files while it is stuck
# inside the first (big) file: that one is still read whole (it is open),
# the second, listed but gone when its turn comes, is skipped with a warning.
G=$TMP/gone
mkdir -p "$G"
{ echo 'id,v'; seq 1 200000 | sed 's/$/,some text to make the rows longer/'; } >"$G/a.csv"
printf 'id,v\n7,x\n' >"$G/b.csv"
touch -d '2024-01-01 UTC' "$G/a.csv"
touch -d '2024-01-02 UTC' "$G/b.csv"
cfg gone "{\"directory\": \"$G\", \"streams\": [{\"name\": \"g\", \"globs\": [\"*.csv\"]}]}"
catalog gone incremental
mkfifo "$TMP/gone.fifo"
timeout -k 5 60 "$SRC" read --config "$TMP/gone.json" --catalog "$TMP/gone.cat" >"$TMP/gone.fifo" 2>"$TMP/gone-read.err" &
GONE_PID=$!
{
  IFS= read -r first
  while IFS= read -r l; do [[ $l == '{"type":"RECORD"'* ]] && break; done
  rm -f "$G/a.csv" "$G/b.csv"
  printf '%s\n%s\n' "$first" "$l"
  cat
} <"$TMP/gone.fifo" >"$TMP/gone-read.out"
wait $GONE_PID
RC=$?
proto_keep gone-read
sanitizer_check gone-read
expect_rc deleted/exit 0
expect_eq deleted/open-file-read-whole "$(grep -c '"type":"RECORD"' "$TMP/gone-read.out")" 200000
expect_out deleted/skipped-warning gone-read "b.csv was deleted after it was listed; it is skipped"
expect_eq deleted/not-in-state "$(last_state gone-read | jq -c '.history | keys')" '["a.csv"]'

# ---- 10. destination-csv ---------------------------------------------------------------------------
OUT=$TMP/out
cfg dcsv "{\"destination_path\": \"$OUT\"}"
run_proto dcsv-check "$DST" check --config "$TMP/dcsv.json"
expect_eq dcsv/check "$(jq -r '.connectionStatus.status' "$TMP/dcsv-check.out")" SUCCEEDED
run_in dcsv-quote "$DATA/dest.input.jsonl" "$DST" write --config "$TMP/dcsv.json" --catalog "$DATA/dest.catalog.json"
expect_rc dcsv/exit 0
check dcsv/file-equals-expected cmp "$OUT/things.csv" "$DATA/dest.expected.csv"
check dcsv/no-temp-left test ! -e "$OUT/things.csv.tmp" -a ! -e "$OUT/things.csv.tmp.json"
expect_eq dcsv/states-echoed "$(jq -c 'select(.type == "STATE") | .state.destinationStats.recordCount' "$TMP/dcsv-quote.out" | tr '\n' ' ')" '2 2 '
# Append adds rows after the existing ones, no second header.
jq -c '.streams[0].destination_sync_mode = "append"' "$DATA/dest.catalog.json" >"$TMP/append.cat"
run_in dcsv-append "$DATA/dest.input.jsonl" "$DST" write --config "$TMP/dcsv.json" --catalog "$TMP/append.cat"
expect_rc dcsv/append-exit 0
expect_eq dcsv/append-rows "$(grep -c '^[0-9]' "$OUT/things.csv")" 8
expect_eq dcsv/append-one-header "$(grep -c '^id,' "$OUT/things.csv")" 1
# A failed sync (no COMPLETE: the input stops one record after a state) leaves the good
# file in place, and the .tmp holds what the state covers (commits at every state here).
cp "$OUT/things.csv" "$TMP/good.csv"
grep -v '"COMPLETE"' "$DATA/dest.input.jsonl" | head -n 4 >"$TMP/partial.jsonl"
export SLUICE_COMMIT_INTERVAL_MS=0
run_in dcsv-fail "$TMP/partial.jsonl" "$DST" write --config "$TMP/dcsv.json" --catalog "$DATA/dest.catalog.json"
unset SLUICE_COMMIT_INTERVAL_MS
check dcsv/failed-sync-keeps-file cmp "$OUT/things.csv" "$TMP/good.csv"
check dcsv/failed-sync-tmp-kept test -s "$OUT/things.csv.tmp"
# The .tmp's committed length is in the directory's commit record.
expect_eq dcsv/resume-mark "$(jq -c '.files["things.csv.tmp"] | keys' "$OUT/.sluice-commit-csv.json")" '["bytes"]'
expect_eq dcsv/tmp-holds-state "$(head -c "$(jq '.files["things.csv.tmp"].bytes' "$OUT/.sluice-commit-csv.json")" "$OUT/things.csv.tmp" | grep -c '^[0-9]')" 2
# Garbage after the last flush (a crash mid-write) is cut when the next attempt resumes,
# which starts after the state (n=2): record 3 again, then 4.
printf '99,"half a row' >>"$OUT/things.csv.tmp"
tail -n +4 "$DATA/dest.input.jsonl" >"$TMP/rest.jsonl"
run_in dcsv-resume "$TMP/rest.jsonl" "$DST" write --config "$TMP/dcsv.json" --catalog "$DATA/dest.catalog.json"
expect_rc dcsv/resume-exit 0
check dcsv/resumed-file-equals-expected cmp "$OUT/things.csv" "$DATA/dest.expected.csv"
expect_out dcsv/resume-logged dcsv-resume "resuming the file left by an earlier attempt"
# A changed schema cannot be appended to an old file.
jq -c '.streams[0].destination_sync_mode = "append" | .streams[0].stream.json_schema.properties.extra = {"type": "string"}' "$DATA/dest.catalog.json" >"$TMP/changed.cat"
run_in dcsv-changed "$DATA/dest.input.jsonl" "$DST" write --config "$TMP/dcsv.json" --catalog "$TMP/changed.cat"
expect_rc dcsv/changed-schema-exit 1
expect_trace dcsv/changed-schema-message dcsv-changed "its header row is not this stream's columns"
check dcsv/changed-schema-file-kept cmp "$OUT/things.csv" "$DATA/dest.expected.csv"

# Optional Airbyte columns after the data.
cfg dab "{\"destination_path\": \"$TMP/out-ab\", \"delimiter\": \";\", \"airbyte_columns\": true}"
run_in dcsv-ab "$DATA/dest.input.jsonl" "$DST" write --config "$TMP/dab.json" --catalog "$DATA/dest.catalog.json"
expect_rc dcsv/airbyte-columns-exit 0
expect_eq dcsv/airbyte-columns-header "$(head -n 1 "$TMP/out-ab/things.csv" | tr -d '\r')" \
  'id;name;price;ok;obj;arr;note;_airbyte_raw_id;_airbyte_extracted_at;_airbyte_generation_id;_airbyte_meta'
check dcsv/airbyte-columns-row grep -qE '^3;"";;;;;;[0-9a-f-]{36};1700000000000;;"\{""changes"":\[\]\}"' "$TMP/out-ab/things.csv"

# ---- 11. sluice sync end to end -------------------------------------------------------------------
printf '{"destination_path": "%s"}\n' "$TMP/people.db" >"$TMP/sqlite.json"
run_sync sync-sqlite --source source-file --source-config "$TMP/people.json" --destination destination-sqlite \
  --destination-config "$TMP/sqlite.json" --state-file "$TMP/sync-state.json"
expect_rc sync/sqlite-exit 0
expect_eq sync/sqlite-rows "$(sql "$TMP/people.db" 'select count(*) || "," || sum(id) || "," || typeof(score) || "," || max(active) from people')" "5,15,real,1"
expect_eq sync/sqlite-text "$(sql "$TMP/people.db" 'select note from people where id = 2')" 'said "hello"'
cfg rt "{\"url\": \"$DATA/roundtrip.csv\"}"
run_sync sync-csv --source source-file --source-config "$TMP/rt.json" --destination destination-csv \
  --destination-config "$TMP/dcsv.json" --state-file "$TMP/sync-state2.json"
expect_rc sync/csv-exit 0
check sync/csv-round-trip cmp "$OUT/roundtrip.csv" "$DATA/roundtrip.csv"
run_sync sync-multi --source source-file --source-config "$TMP/multi.json" --destination destination-sqlite \
  --destination-config "$TMP/sqlite.json" --state-file "$TMP/multi-state.json"
expect_rc sync/multi-exit 0
expect_eq sync/multi-rows "$(sql "$TMP/people.db" 'select count(*) from events')" 5
expect_eq sync/multi-state-history "$(jq -c '.[0].stream.stream_state.history | keys' "$TMP/multi-state.json")" '["2024/01/x.csv","2024/02/new.csv","2024/02/y.csv"]'
run_sync sync-multi2 --source source-file --source-config "$TMP/multi.json" --destination destination-sqlite \
  --destination-config "$TMP/sqlite.json" --state-file "$TMP/multi-state.json"
expect_rc sync/multi-again-exit 0
expect_eq sync/multi-again-nothing-new "$(sql "$TMP/people.db" 'select count(*) from events')" 5

# ---- 12. flat memory ---------------------------------------------------------------------------
# 60 MB of CSV (gzip-compressed): the peak RSS stays far below the file's size.
if is_sanitized; then
  pass "memory/skipped-under-asan (RSS is not meaningful there)"
else
  awk 'BEGIN { print "id,a,b,c,d"; for (i = 1; i <= 800000; i++) printf "%d,%d,text %d,%d.5,2024-01-01\n", i, i % 97, i, i }' |
    gzip -1 >"$TMP/big.csv.gz"
  cfg big "{\"url\": \"$TMP/big.csv.gz\"}"
  catalog big
  run big-read /usr/bin/time -f 'RSS %M' "$SRC" read --config "$TMP/big.json" --catalog "$TMP/big.cat"
  expect_rc memory/exit 0
  expect_eq memory/all-rows "$(grep -c '"type":"RECORD"' "$TMP/big-read.out")" 800000
  rss=$(sed -n 's/^RSS //p' "$TMP/big-read.err")
  check "memory/peak-rss-${rss}KB-under-50MB" test "${rss:-999999}" -lt 51200
fi

finish
