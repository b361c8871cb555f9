#!/usr/bin/env bash
# bench/dynamic.sh: discover on a manifest whose 1,000 streams come from one
# stream template (dynamic_streams: a ConfigComponentsResolver over a list of
# 1,000 tables in the config, and a ParametrizedComponentsResolver over 1,000
# parameter sets, each mapping name, path and a $parameters value) against,
# in the same run, the same 1,000 streams written out as static streams.
# CPU seconds (user+sys, from wait4's rusage) of source-declarative-manifest
# discover, the best of 5 runs each; no HTTP (the schemas are inline).
# Usage: bench/dynamic.sh [build-dir] [streams]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
N=${2:-1000}
make -s "BUILD=$B" "$B/bin/source-declarative-manifest" >/dev/null
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-dynamic-XXXXXX")
trap 'rm -rf "$W"' EXIT
head_yaml() {
  cat <<'Y'
version: 6.0.0
type: DeclarativeSource
check: {type: CheckStream, stream_names: [t0]}
definitions:
  template:
    type: DeclarativeStream
    name: template
    primary_key: [id]
    $parameters: {table: none}
    retriever:
      type: SimpleRetriever
      requester:
        type: HttpRequester
        url_base: "{{ config['base_url'] }}"
        path: "/tables/{{ parameters.table }}/rows"
        request_parameters: {limit: "100"}
      record_selector:
        type: RecordSelector
        extractor: {type: DpathExtractor, field_path: [data]}
      paginator:
        type: DefaultPaginator
        page_token_option: {type: RequestOption, inject_into: request_parameter, field_name: offset}
        pagination_strategy: {type: OffsetIncrement, page_size: 100}
    schema_loader:
      type: InlineSchemaLoader
      schema: {type: object, properties: {id: {type: integer}, name: {type: [string, "null"]}}}
spec: {type: Spec, connection_specification: {type: object, properties: {base_url: {type: string}, tables: {type: array}}}}
Y
}
mapping='      components_mapping:
        - {type: ComponentMappingDefinition, field_path: [name], value: "{{ components_values.name }}"}
        - {type: ComponentMappingDefinition, field_path: [retriever, requester, path], value: "/tables/{{ components_values.id }}/rows"}
        - {type: ComponentMappingDefinition, field_path: ["$parameters", table], value: "{{ components_values.id }}"}'
{
  head_yaml
  echo "streams:"
  for i in $(seq 0 $((N - 1))); do
    printf '  - {$ref: "#/definitions/template", name: t%d, $parameters: {table: "%d"}, retriever: {$ref: "#/definitions/template/retriever", requester: {$ref: "#/definitions/template/retriever/requester", path: "/tables/%d/rows"}}}\n' "$i" "$i" "$i"
  done
} >"$W/static.yaml"
template_yaml() { # template_yaml RESOLVER_TYPE: the manifest up to the resolver's own fields
  head_yaml
  echo "streams: []"
  echo "dynamic_streams:"
  echo "  - type: DynamicDeclarativeStream"
  echo "    stream_template: {\$ref: \"#/definitions/template\"}"
  echo "    components_resolver:"
  echo "      type: $1"
}
{
  template_yaml ConfigComponentsResolver
  echo "      stream_config: {type: StreamConfig, configs_pointer: [tables]}"
  echo "$mapping"
} >"$W/config.yaml"
{
  template_yaml ParametrizedComponentsResolver
  echo "      stream_parameters:"
  echo "        type: StreamParametersDefinition"
  echo "        list_of_parameters_for_stream:"
  for i in $(seq 0 $((N - 1))); do printf '          - {name: t%d, id: %d}\n' "$i" "$i"; done
  echo "$mapping"
} >"$W/param.yaml"
python3 -c "import json,sys; n=int(sys.argv[1]); print(json.dumps({'base_url':'http://127.0.0.1:9','tables':[{'name':'t%d'%i,'id':i} for i in range(n)]}))" "$N" >"$W/config.json"
cpu() {
  local best=''
  for _ in 1 2 3 4 5; do
    local t
    t=$(python3 -c 'import os, sys
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
pid = os.fork()
if pid == 0:
    os.dup2(out, 1)
    os.execv(sys.argv[2], sys.argv[2:])
_, _, ru = os.wait4(pid, 0)
print("%.3f" % (ru.ru_utime + ru.ru_stime))' "$W/out.json" "$B/bin/source-declarative-manifest" discover --config "$W/config.json" --manifest-path "$1")
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
  done
  local n
  n=$(grep -o '"name":"t[0-9]*"' "$W/out.json" | wc -l)
  [ "$n" -eq "$N" ] || { echo "bench/dynamic.sh: $1 discovered $n streams, expected $N" >&2; exit 1; }
  echo "$best"
}
s=$(cpu "$W/static.yaml")
c=$(cpu "$W/config.yaml")
p=$(cpu "$W/param.yaml")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-62s %8s %8s\n' "discover, $N streams (best of 5)" "CPU s" "ratio"
printf '%-62s %8s %8s\n' "static streams (baseline)" "$s" "1.00x"
printf '%-62s %8s %7sx\n' "one template, ConfigComponentsResolver over the config" "$c" "$(ratio "$c" "$s")"
printf '%-62s %8s %7sx\n' "one template, ParametrizedComponentsResolver" "$p" "$(ratio "$p" "$s")"
