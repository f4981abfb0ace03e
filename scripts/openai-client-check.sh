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
. scripts/lib.sh
root=$PWD

log() { echo "== openai-client-check: $*"; }

need_node 18 # the openai client's minimum
log "node $(node --version), npm ci (scripts/openai-client)"
(cd "$root/scripts/openai-client" && npm ci --no-audit --no-fund --loglevel=error)

work_dir demo.log

log "building"
build_tools
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
