#!/usr/bin/env bash
# Runs the providers' official browser SDKs, unchanged, against a freshly
# built aiproxy (the demo, sandbox providers): @elevenlabs/client's Scribe
# realtime and @heygen/liveavatar-web-sdk's session calls. Installs the
# pinned dev dependencies from the lockfile when missing. The SDKs use the
# global WebSocket, which Node 20 has only with --experimental-websocket.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ -z "${AIPROXY_BIN:-}" ]; then
  (cd "$repo" && go build -o "$tmp/aiproxy" ./cmd/aiproxy)
  export AIPROXY_BIN="$tmp/aiproxy"
fi
cd "$here"
if [ ! -d node_modules/@elevenlabs/client ] || [ ! -d node_modules/@heygen/liveavatar-web-sdk ]; then
  timeout 300 npm ci --no-audit --no-fund --loglevel=error
fi
flags=()
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || flags+=(--experimental-websocket)
timeout 300 node "${flags[@]}" --no-warnings=ExperimentalWarning --test test/*.test.js
