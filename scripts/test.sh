#!/usr/bin/env bash
# The project's test command (README "Run the tests"): formatting, vet,
# staticcheck and the whole test suite with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
go tool staticcheck ./...
echo "== go test -race"
go test -race -count=1 -timeout 20m ./...
echo "== allocation checks (need a build without the race detector)"
go test -count=1 -run 'Allocs$' ./...
