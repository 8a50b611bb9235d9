#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time each.
#
#   scripts/fuzz.sh [TIME]      TIME is a go test -fuzztime value, default 5s
#
# The list is found with `go test -list`, so a target added later runs too.
# New failing inputs land in the package's testdata/fuzz/ directory; commit
# them, since they then run as seeds in every `go test`.
#
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded"
# as a failure when -fuzztime ends while a worker is busy, on a loaded
# machine (golang/go#75804, fixed in Go 1.27). A real finding always writes
# "Failing input written to"; a failure with neither that nor a panic, but
# with the bare deadline message, is run once more, and fails for good only
# if it fails again.
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
		if out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" 2>&1); then
			echo "$out"
			continue
		fi
		echo "$out"
		if grep -q 'context deadline exceeded' <<<"$out" && ! grep -qE 'Failing input written|panic:' <<<"$out"; then
			echo "fuzz: $target stopped on the fuzz engine's deadline race (golang/go#75804), not on an input; running it once more"
			if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"; then
				continue
			fi
		fi
		failed=$((failed + 1))
	done
done
echo "fuzz: $count targets, $failed failed"
[ "$failed" -eq 0 ]
