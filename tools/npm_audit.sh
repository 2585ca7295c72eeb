#!/usr/bin/env bash
# `npm audit --audit-level=high` for a package folder. Some registries (as on these build
# machines) do not serve npm's advisory endpoint; then the check cannot be made, and this says so
# loudly instead of failing every build. Any advisory the registry does report fails the build.
set -uo pipefail
cd "$1"
output=$(npm audit --audit-level=high 2>&1)
status=$?
if [ $status -eq 0 ]; then
  echo "$output" | tail -n 3
  exit 0
fi
if echo "$output" | grep -q "audit endpoint returned an error"; then
  echo "npm audit: NOT CHECKED - the registry does not serve the advisory endpoint:"
  echo "$output" | grep -i "audit" | head -n 3
  exit 0
fi
echo "$output"
exit $status
