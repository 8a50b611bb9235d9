#!/usr/bin/env bash
# vendor-apidocs.sh fetches the API reference page's renderer, the npm
# package swagger-ui-dist at the version pinned below, with `npm pack`;
# checks the tarball against the pinned integrity (the registry's
# dist.integrity, SHA-512); and copies the files the page uses into
# internal/apidocs/static/npm/swagger-ui-dist-VERSION/. The files are
# then checked against the SHA-256 list internal/apidocs/swagger-ui-dist.sha256,
# which `go test ./internal/apidocs` checks too (docs/api-reference.md).
#
#   scripts/vendor-apidocs.sh               rewrite the vendored files from npm and check them against the list
#   scripts/vendor-apidocs.sh --check       fetch into a temporary directory and compare with the vendored files; changes nothing
#   scripts/vendor-apidocs.sh --update-sums after changing VERSION and INTEGRITY: write the files, remove other
#                                           versions' directories, and write a new SHA-256 list
#
# Moving to another version: set VERSION, and INTEGRITY from
# `npm view swagger-ui-dist@VERSION dist.integrity`; run with --update-sums;
# change the two paths in internal/apidocs/static/index.html; run
# go test ./internal/apidocs and the browser test; commit it all.
# No package scripts run (--ignore-scripts): swagger-ui-dist's one
# dependency, an install-time analytics hook, is never installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=swagger-ui-dist
VERSION=5.36.0
INTEGRITY=sha512-Lt6/Kb0gXmLdiabLhvso4VdJP9V7qJWB0zh0gzeXUV3+CMOTzMmvpJRSXN7EAjfwixwmoi9ezDbLHiexC7lA9A==
# FILES are what the page loads, with the licence, the notice Apache-2.0
# asks to keep, the licences of the code bundled into swagger-ui-bundle.js,
# and package.json (which names the version).
FILES=(LICENSE NOTICE package.json swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css)

npmdir=internal/apidocs/static/npm
dest=$npmdir/$PACKAGE-$VERSION
sums=internal/apidocs/$PACKAGE.sha256

mode=write
case "${1:-}" in
"") ;;
--check) mode=check ;;
--update-sums) mode=update ;;
*) echo "usage: scripts/vendor-apidocs.sh [--check | --update-sums]" >&2; exit 2 ;;
esac

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "vendor-apidocs: npm pack $PACKAGE@$VERSION"
(cd "$work" && timeout 300 npm pack "$PACKAGE@$VERSION" --ignore-scripts --silent >/dev/null)
tarball="$work/$PACKAGE-$VERSION.tgz"
got=$(node -e 'const c = require("crypto"), f = require("fs");
console.log("sha512-" + c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tarball")
if [ "$got" != "$INTEGRITY" ]; then
	echo "vendor-apidocs: $PACKAGE-$VERSION.tgz is $got, want the pinned $INTEGRITY" >&2
	exit 1
fi
echo "vendor-apidocs: tarball integrity $got matches the pin"

mkdir "$work/x"
tar -xzf "$tarball" -C "$work/x" "${FILES[@]/#/package/}"

if [ "$mode" = check ]; then
	for f in "${FILES[@]}"; do
		if ! cmp -s "$work/x/package/$f" "$dest/$f"; then
			echo "vendor-apidocs: $dest/$f is not $PACKAGE@$VERSION's $f: run scripts/vendor-apidocs.sh" >&2
			exit 1
		fi
	done
	extra=$(cd "$dest" && find . -type f | sed 's|^\./||' | sort | comm -23 - <(printf '%s\n' "${FILES[@]}" | sort))
	if [ -n "$extra" ]; then
		echo "vendor-apidocs: $dest holds files npm does not give: $extra" >&2
		exit 1
	fi
	(cd "$npmdir" && sha256 --check --strict --quiet "../../$(basename "$sums")")
	echo "vendor-apidocs: $dest is $PACKAGE@$VERSION from npm, and matches $sums"
	exit 0
fi

rm -rf "$dest"
mkdir -p "$dest"
for f in "${FILES[@]}"; do
	install -m 0644 "$work/x/package/$f" "$dest/$f"
done
if [ "$mode" = update ]; then
	find "$npmdir" -mindepth 1 -maxdepth 1 -type d -name "$PACKAGE-*" ! -name "$PACKAGE-$VERSION" -exec rm -rf {} +
	(cd "$npmdir" && for f in "${FILES[@]}"; do sha256 "$PACKAGE-$VERSION/$f"; done) >"$sums"
	echo "vendor-apidocs: wrote $sums"
fi
(cd "$npmdir" && sha256 --check --strict --quiet "../../$(basename "$sums")")
echo "vendor-apidocs: $dest matches $sums"
