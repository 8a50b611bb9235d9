#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time each.
#
#   scripts/fuzz.sh [TIME]      TIME is a go test -fuzztime value, default 5s
#
# The list is found with `go test -list`, so a target added later runs too.
# New failing inputs land in the package's testdata/fuzz/ directory; commit
# them, since they then run as seeds in every `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-5s}"
failed=0
count=0
for pkg in $(go list ./...); do
	if ! listed=$(go test -list '^Fuzz' "$pkg" 2>&1); then
		echo "$listed"
		echo "fuzz: cannot list the targets of $pkg"
		failed=$((failed + 1))
		continue
	fi
	targets=$(echo "$listed" | grep '^Fuzz' || true)
	for target in $targets; do
		count=$((count + 1))
		echo "fuzz $pkg $target for $fuzztime"
		if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"; then
			failed=$((failed + 1))
		fi
	done
done
echo "fuzz: $count targets, $failed failed"
[ "$failed" -eq 0 ]
