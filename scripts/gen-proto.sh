#!/usr/bin/env bash
# Regenerates oip/inferencepb from oip/inference.proto. Needs protoc (the
# Debian package protobuf-compiler; installed here when missing and run as
# root) and installs the Go plugins at the pinned versions below into
# $(go env GOPATH)/bin. The generated files record protoc's and the
# plugins' versions in their header comment; CI does not run this script,
# the generated code is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOC_GEN_GO_VERSION=v1.36.12     # google.golang.org/protobuf, as go.mod requires it
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1  # google.golang.org/grpc/cmd/protoc-gen-go-grpc

if ! command -v protoc >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null
  else
    echo "gen-proto: protoc missing; install the Debian package protobuf-compiler" >&2; exit 1
  fi
fi
bin=$(go env GOPATH)/bin
GOFLAGS= go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
GOFLAGS= go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"

echo "gen-proto: $(protoc --version), protoc-gen-go ${PROTOC_GEN_GO_VERSION}, protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION}"
PATH="$bin:$PATH" protoc -I oip \
  --go_out=. --go_opt=module=github.com/modelgate/modelgate \
  --go-grpc_out=. --go-grpc_opt=module=github.com/modelgate/modelgate \
  oip/inference.proto
gofmt -l oip/inferencepb
