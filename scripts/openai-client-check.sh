#!/usr/bin/env bash
# OpenAI-compatible endpoints checked with OpenAI's own npm client (issue
# #16), called by .ci/run:
#  1. installs Node.js and npm through apt when they are missing, then
#     npm ci in scripts/openai-client (openai pinned in package.json and
#     package-lock.json; node_modules stays there, gitignored);
#  2. builds modelgate and starts its demo (with its stand-in LLM model
#     servers, internal/llmserver: models "chat" and "embed") on free
#     loopback ports;
#  3. runs scripts/openai-client/openai.test.mjs (node:test) against the
#     gateway: non-streaming chat, streaming chat with the events' arrival
#     times spaced by the stand-in's inter-token delay, the usage chunk,
#     embeddings, the models list, and errors raised as the client's
#     NotFoundError and AuthenticationError;
#  4. checks the gateway counted the tokens (modelgate_llm_* in /metrics).
# Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

log() { echo "== openai-client-check: $*"; }

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "openai-client-check: the openai client needs Node.js 18 or newer, this is $(node --version)" >&2
  exit 1
fi
log "node $(node --version), npm ci (scripts/openai-client)"
(cd "$root/scripts/openai-client" && npm ci --no-audit --no-fund --loglevel=error)

work=$(mktemp -d)
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ $rc != 0 ] && [ -s "$work/demo.log" ]; then echo "--- last lines of demo.log"; tail -n 20 "$work/demo.log"; fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building"
go build -o "$work/modelgate" ./cmd/modelgate
go build -o "$work/promcheck" ./scripts/promcheck
pc="$work/promcheck"
traffic=127.0.0.1:$($pc freeport)
admin=127.0.0.1:$($pc freeport)

log "starting the demo: traffic $traffic, admin $admin"
"$work/modelgate" demo -listen "$traffic" -admin-listen "$admin" -grpc-listen "" >"$work/demo.out" 2>"$work/demo.log" &
pids+=($!)
$pc wait "http://$admin/readyz" 30s

log "node --test openai.test.mjs"
(cd "$root/scripts/openai-client" && MODELGATE_URL="http://$traffic" MODELGATE_KEY=demo-key node --test openai.test.mjs)

log "token metrics"
$pc get "http://$admin/metrics" >"$work/metrics.txt"
for series in 'modelgate_llm_completion_tokens_total{model="chat"' 'modelgate_llm_prompt_tokens_total{model="embed"' \
  'modelgate_llm_time_to_first_token_seconds_count{model="chat"'; do
  grep -qF "$series" "$work/metrics.txt" || { grep '^modelgate_llm_' "$work/metrics.txt"; echo "no $series series"; exit 1; }
done
log "passed"
