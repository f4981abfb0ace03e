#!/usr/bin/env bash
# gRPC check with a real third-party client (issue #15), called by .ci/run:
#  1. installs grpcurl at a pinned version into $(go env GOPATH)/bin if
#     missing;
#  2. builds modelgate and starts its demo (model containers with their
#     gRPC sides, the gateway with server.grpc_listen) on free loopback
#     ports;
#  3. with grpcurl and the project's oip/inference.proto (no server
#     reflection), through the gateway's gRPC listener: ServerReady;
#     ModelInfer with the demo key (answered, with x-modelgate-version
#     in the response headers); the same without a key (Unauthenticated);
#     and a model of no tenant's (NotFound).
# Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
GRPCURL_VERSION=v1.9.4

log() { echo "== grpcurl-check: $*"; }

bin=$(go env GOPATH)/bin
if ! command -v grpcurl >/dev/null && [ ! -x "$bin/grpcurl" ]; then
  log "installing grpcurl $GRPCURL_VERSION"
  GOFLAGS= go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@${GRPCURL_VERSION}"
fi
grpcurl=$(command -v grpcurl || echo "$bin/grpcurl")
"$grpcurl" -version 2>&1 | head -1

work_dir demo.log

log "building"
build_tools
traffic=127.0.0.1:$($pc freeport)
admin=127.0.0.1:$($pc freeport)
grpc=127.0.0.1:$($pc freeport)

log "starting the demo: traffic $traffic, admin $admin, grpc $grpc"
"$work/modelgate" demo -listen "$traffic" -admin-listen "$admin" -grpc-listen "$grpc" >"$work/demo.out" 2>"$work/demo.log" &
pids+=($!)
$pc wait "http://$admin/readyz" 30s

call() { "$grpcurl" -plaintext -import-path oip -proto inference.proto "$@"; }
infer='{"model_name":"fraud","inputs":[{"name":"input","datatype":"FP64","shape":[1,4],"contents":{"fp64_contents":[1.0,0.5,-0.3,2.0]}}]}'

log "ServerReady"
for i in $(seq 100); do
  if call "$grpc" inference.GRPCInferenceService/ServerReady >"$work/ready.out" 2>&1; then break; fi
  [ "$i" = 100 ] && { cat "$work/ready.out"; echo "the gRPC listener never answered"; exit 1; }
  sleep 0.1
done
grep -q '"ready": true' "$work/ready.out" || { cat "$work/ready.out"; echo "ServerReady did not answer ready"; exit 1; }

log "ModelInfer with the demo key"
call -v -H 'authorization: Bearer demo-key' -d "$infer" "$grpc" inference.GRPCInferenceService/ModelInfer >"$work/infer.out" 2>&1 ||
  { cat "$work/infer.out"; echo "ModelInfer failed"; exit 1; }
grep -Eq '^x-modelgate-version: v[12]$' "$work/infer.out" || { cat "$work/infer.out"; echo "no x-modelgate-version in the response headers"; exit 1; }
grep -q '"name": "probability"' "$work/infer.out" || { cat "$work/infer.out"; echo "no probability output"; exit 1; }

log "ModelInfer without a key"
if call -d "$infer" "$grpc" inference.GRPCInferenceService/ModelInfer >"$work/nokey.out" 2>&1; then
  cat "$work/nokey.out"; echo "ModelInfer without a key succeeded"; exit 1
fi
grep -q 'Code: Unauthenticated' "$work/nokey.out" || { cat "$work/nokey.out"; echo "want Unauthenticated"; exit 1; }

log "ModelInfer of an unknown model"
if call -H 'x-api-key: demo-key' -d '{"model_name":"nosuch"}' "$grpc" inference.GRPCInferenceService/ModelInfer >"$work/nf.out" 2>&1; then
  cat "$work/nf.out"; echo "ModelInfer of an unknown model succeeded"; exit 1
fi
grep -q 'Code: NotFound' "$work/nf.out" || { cat "$work/nf.out"; echo "want NotFound"; exit 1; }
log "passed"
