#!/usr/bin/env bash
# Real-Prometheus check (issue #6), called by .ci/run:
#  1. installs the Debian "prometheus" package (with promtool) if missing;
#  2. promtool check rules on deploy/prometheus/*.rules.yml;
#  3. builds modelgate and starts its demo (two example model containers and
#     the gateway) on free loopback ports, and promtool check metrics on its
#     exposition;
#  4. generates mixed load, starts a real Prometheus scraping the admin port
#     every second with the rules loaded;
#  5. evaluates every ```promql block of docs/SCALING.md, every rule of the
#     rules file and every panel query of deploy/grafana/modelgate.json
#     through /api/v1/query and fails unless each returns series
#     (expressions using a metric listed in scripts/prometheus-check.skip are
#     skipped: those metrics come from branches not merged yet).
# Every process it starts is stopped on exit. Environment:
#   PROMCHECK_TIMEOUT  how long expressions may take to return series (120s)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
root=$(pwd)
timeout=${PROMCHECK_TIMEOUT:-120s}
rules=deploy/prometheus/modelgate.rules.yml

log() { echo "== prometheus-check: $*"; }

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  log "installing the Debian prometheus package"
  apt_install prometheus
fi
promtool --version | head -1

log "promtool check rules"
promtool check rules "$rules"

work_dir demo.log prometheus.log load.log

log "building"
build_tools

traffic=127.0.0.1:$($pc freeport)
admin=127.0.0.1:$($pc freeport)
prom=127.0.0.1:$($pc freeport)
grpc=127.0.0.1:$($pc freeport)

log "starting the demo: traffic $traffic, admin $admin"
"$work/modelgate" demo -listen "$traffic" -admin-listen "$admin" -grpc-listen "$grpc" >"$work/demo.out" 2>"$work/demo.log" &
pids+=($!)
$pc wait "http://$admin/readyz" 30s
$pc wait "http://$traffic/v2/health/ready" 30s

log "starting load"
$pc load -url "http://$traffic" -key demo-key -for 10m -c 4 >"$work/load.log" 2>&1 &
pids+=($!)
$pc wait "http://$admin/readyz" 5s
sleep 1 # let the first requests create their series

log "promtool check metrics"
$pc get "http://$admin/metrics" >"$work/metrics.txt"
if ! promtool check metrics <"$work/metrics.txt"; then
  echo "promtool check metrics found problems (above)"; exit 1
fi
grep -q '^modelgate_requests_total{' "$work/metrics.txt" || { echo "no modelgate_requests_total in the exposition"; exit 1; }

cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $root/$rules
scrape_configs:
  - job_name: modelgate
    static_configs:
      - targets: ["$admin"]
YAML
log "starting Prometheus on $prom"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="$prom" --log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=($!)
$pc wait "http://$prom/-/ready" 60s

log "evaluating expressions (up to $timeout)"
$pc check -prom "http://$prom" -docs docs/SCALING.md -rules "$rules" \
  -dashboard deploy/grafana/modelgate.json -skip scripts/prometheus-check.skip -timeout "$timeout"
log "passed"
