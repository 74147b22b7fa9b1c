#!/usr/bin/env bash
# The README's test command: set up (as root, on Debian), then run every test
# with node's test runner, whose summary ends the output.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Leftovers of a killed earlier run would collide with the test namespaces.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^vxt-' || true); do
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns delete "$ns" 2>/dev/null || true
done
exec npm test
