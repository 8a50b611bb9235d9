#!/usr/bin/env bash
# Mutation testing: applies each breakage listed in scripts/mutations.txt to
# a copy of the tree (never the working tree), runs the tests named to catch
# it, and fails if any survives. Prints the kill rate.
#
#   scripts/mutate.sh                  every mutation, on the working tree's files
#   scripts/mutate.sh -rev HEAD        on the last commit instead
#   scripts/mutate.sh -run 'quota'     only the mutations whose name matches
#   scripts/mutate.sh -check           only check that every snippet still matches
#
# Mutations marked "needs AIPROXY_TEST_POSTGRES_URL" (or another variable)
# are skipped unless it is set.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./scripts/mutate "$@"
