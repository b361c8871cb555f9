#!/bin/sh
# Builds the image of every connector that has a Dockerfile (make docker),
# tagged <io.airbyte.name>:<io.airbyte.version> from its labels. Without a
# Docker engine it says so and does nothing.
set -eu
cd "$(dirname "$0")/.."
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "make docker: no Docker engine here; no image built (the Dockerfiles are checked by sluice metadata validate)"
  exit 0
fi
for f in connectors/*/Dockerfile; do
  name=$(sed -n 's/.*io\.airbyte\.name=\([^ \\]*\).*/\1/p' "$f" | head -n1)
  version=$(sed -n 's/.*io\.airbyte\.version=\([^ \\]*\).*/\1/p' "$f" | head -n1)
  [ -n "$name" ] && [ -n "$version" ] || { echo "$f: no io.airbyte.name/version labels" >&2; exit 1; }
  echo "== $name:$version ($f)"
  docker build -f "$f" -t "$name:$version" .
done
