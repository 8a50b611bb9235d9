#!/usr/bin/env bash
# Runs the JS client's tests against a freshly built aiproxy: builds the Go
# binary once, installs the npm dev dependencies when missing, checks that
# the committed dist/ matches src/, and runs node --test.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$repo" && go build -o "$tmp/aiproxy" ./cmd/aiproxy)
cd "$here"
if [ ! -d node_modules/typescript ] || [ ! -d node_modules/@elevenlabs/elevenlabs-js ] || [ ! -d node_modules/standardwebhooks ] || [ ! -d node_modules/ws ]; then
  npm ci --no-audit --no-fund
fi
node_modules/.bin/tsc -p tsconfig.json --outDir "$tmp/dist"
if ! diff -r "$tmp/dist" dist >/dev/null; then
  echo "clients/js/dist is stale: run 'npm run build' in clients/js and commit dist/" >&2
  diff -r "$tmp/dist" dist | head -20 >&2
  exit 1
fi
AIPROXY_BIN="$tmp/aiproxy" node --test test/*.test.js
