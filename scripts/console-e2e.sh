#!/usr/bin/env bash
# End-to-end test of the operator console (issue 18): a real gateway with
# loopback model containers, driven in headless Chromium by Playwright
# (playwright-core from npm with Debian's chromium; never Playwright's own
# browser downloads). Installs chromium and Node.js through apt when they
# are missing, runs npm ci in admin/ui/e2e, builds modelgate and
# modelserver, starts six model servers and the gateway on free loopback
# ports with admin/ui/e2e/gateway.yaml.tmpl, and runs
# admin/ui/e2e/console.test.js, which also writes docs/console-*.png.
# Everything it starts is stopped on exit; it caches nothing outside the
# repository (node_modules stays in admin/ui/e2e, gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
root=$PWD
e2e=$root/admin/ui/e2e

chromium=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || chromium=(chromium)
need_node 20 "${chromium[@]}" # playwright-core's minimum

echo "== npm ci (admin/ui/e2e)"
(cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error)

work_dir gateway.log models.log

echo "== go build modelgate, modelserver"
go build -o "$work/modelgate" ./cmd/modelgate
go build -o "$work/modelserver" ./cmd/modelserver

# Eight free loopback ports (bound and released at once: nothing else
# on this machine is expected to take them in between).
read -r -a ports <<<"$(node -e '
const net = require("net");
const socks = [];
(async () => {
  for (let i = 0; i < 8; i++) {
    const s = net.createServer();
    await new Promise((r) => s.listen(0, "127.0.0.1", r));
    socks.push(s);
  }
  console.log(socks.map((s) => s.address().port).join(" "));
  socks.forEach((s) => s.close());
})();')"
traffic_port=${ports[0]} admin_port=${ports[1]}
fraud1=${ports[2]} fraud2=${ports[3]} churn1=${ports[4]} churn2=${ports[5]} scoring1=${ports[6]} scoring2=${ports[7]}

start_model() { # port model version weights bias
  "$work/modelserver" -listen "127.0.0.1:$1" -model "$2" -version "$3" -weights "$4" -bias "$5" >>"$work/models.log" 2>&1 &
  pids+=($!)
}
start_model "$fraud1" fraud v1 0.8,-0.4,0.3,0.1 0
start_model "$fraud2" fraud v2 0.82,-0.38,0.3,0.12 0.01
start_model "$churn1" churn v1 -0.2,0.7,0.1,-0.3 0.1
start_model "$churn2" churn v2 -0.2,0.7,0.1,-0.3 0.1
start_model "$scoring1" scoring v1 0.5,0.5,0.5,0.5 0
start_model "$scoring2" scoring v2 0.5,0.5,0.5,0.5 0

hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
export CONSOLE_KEY=e2e-key CONSOLE_ACME_KEY=e2e-acme-key
export CONSOLE_ADMIN_TOKEN=e2e-admin-token CONSOLE_VIEWER_TOKEN=e2e-viewer-token CONSOLE_OPERATOR_TOKEN=e2e-operator-token
export CONSOLE_APPROVER_TOKEN=e2e-approver-token CONSOLE_SCOPED_TOKEN=e2e-scoped-token
sed -e "s/@TRAFFIC_PORT@/$traffic_port/; s/@ADMIN_PORT@/$admin_port/" \
  -e "s/@FRAUD1_PORT@/$fraud1/; s/@FRAUD2_PORT@/$fraud2/; s/@CHURN1_PORT@/$churn1/; s/@CHURN2_PORT@/$churn2/" \
  -e "s/@SCORING1_PORT@/$scoring1/; s/@SCORING2_PORT@/$scoring2/" \
  -e "s/@ADMIN_HASH@/$(hash "$CONSOLE_ADMIN_TOKEN")/; s/@VIEWER_HASH@/$(hash "$CONSOLE_VIEWER_TOKEN")/" \
  -e "s/@OPERATOR_HASH@/$(hash "$CONSOLE_OPERATOR_TOKEN")/; s/@APPROVER_HASH@/$(hash "$CONSOLE_APPROVER_TOKEN")/" \
  -e "s/@SCOPED_HASH@/$(hash "$CONSOLE_SCOPED_TOKEN")/; s/@KEY_HASH@/$(hash "$CONSOLE_KEY")/; s/@ACME_KEY_HASH@/$(hash "$CONSOLE_ACME_KEY")/" \
  "$e2e/gateway.yaml.tmpl" >"$work/modelgate.yaml"
"$work/modelgate" validate -config "$work/modelgate.yaml" >/dev/null

"$work/modelgate" serve -config "$work/modelgate.yaml" -data-dir "$work/data" >>"$work/gateway.log" 2>&1 &
pids+=($!)

echo "== console e2e (headless Chromium)"
export CONSOLE_ADMIN="http://127.0.0.1:$admin_port" CONSOLE_TRAFFIC="http://127.0.0.1:$traffic_port"
export CONSOLE_SCREENSHOTS="$root/docs" CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
(cd "$e2e" && node --test --test-reporter=spec console.test.js)
