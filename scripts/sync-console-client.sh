#!/usr/bin/env bash
# sync-console-client.sh copies the JS client's built ES modules
# (clients/js/dist/*.js) into internal/console/static/client, which the
# binary embeds. (Not a directory named vendor/: go:embed and module zips
# treat vendor directories as outside the module.) Run it after rebuilding the client; the Go test
# TestVendoredClientMatchesDist in internal/console fails while the two differ.
set -euo pipefail
cd "$(dirname "$0")/.."

src=clients/js/dist
dst=internal/console/static/client

if ! ls "$src"/*.js >/dev/null 2>&1; then
  echo "sync-console-client: no built client in $src (run: cd clients/js && npm run build)" >&2
  exit 1
fi
rm -rf "$dst"
mkdir -p "$dst"
cp "$src"/*.js "$dst"/
echo "sync-console-client: copied $(ls "$dst" | wc -l) modules from $src to $dst"
