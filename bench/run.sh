#!/usr/bin/env bash
# bench/run.sh: modelgate side by side with nginx and HAProxy in front of the
# same fast stand-in model backend (docs/PERFORMANCE.md explains the method).
#
#   bash bench/run.sh            # 2 rounds, 10 s per measurement (about 8 minutes)
#   bash bench/run.sh --quick    # 1 round, 3 s per measurement: checks the apparatus
#   bash bench/run.sh --rounds 4 --duration 10 --rate 2000
#   bash bench/run.sh --profile  # also a CPU profile of modelgate per mode (pprof)
#   bash bench/run.sh --only nginx,minproxy,modelgate-plain  # a subset of the cases
#
# Peers, interleaved per round (every other round in reverse order):
#   direct (no proxy), nginx, HAProxy, the minimal fasthttp proxy (minproxy:
#   the framework floor, bench/minproxy), and modelgate in five modes: plain
#   (auth + generous limits + weighted 90/10 split + metrics, tracing off),
#   1p (plain with GOMAXPROCS=1, the Go runtime's default on one pinned CPU,
#   which modelgate raises to 2: internal/maxprocs), sticky (sticky_header
#   with a varying X-User-ID), shadow (100% to a third version) and tracing
#   (OTLP export, sampling ratio 0.01).
# Each: throughput with wrk -t1 -c64, then latency at a constant rate with
# vegeta; proxy CPU per request from /proc utime+stime over the wrk run; peak
# RSS (VmHWM). Load generator pinned to CPU 0, proxy and backend to CPU 1.
#
# Results: a markdown table on stdout and in bench/results/<timestamp>.md, the
# raw samples and a summary CSV beside it, and a PNG chart (bench/chart).
#
# Environment: BENCH_PORT_BASE (default 18000; ports BASE+1..3, +81..84, +93),
# BENCH_LOADGEN_CPU (0), BENCH_SERVER_CPU (1), BENCH_KEEP=1 keeps the temp dir.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"

DURATION=10 ROUNDS=2 RATE=2000 WARMUP=2 QUICK=0 PROFILE=0 ONLY=
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while (($#)); do
  case "$1" in
    --quick) QUICK=1 DURATION=3 ROUNDS=1 WARMUP=1 ;;
    --duration) DURATION=${2:?--duration needs seconds}; shift ;;
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift ;;
    --rate) RATE=${2:?--rate needs req/s}; shift ;;
    --profile) PROFILE=1 ;;
    --only) ONLY=${2:?--only needs a comma-separated list of cases}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || { echo "run.sh: --duration must be whole seconds ≥ 1" >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || { echo "run.sh: --rounds must be ≥ 1" >&2; exit 2; }
[[ $RATE =~ ^[0-9]+$ && $RATE -ge 1 ]] || { echo "run.sh: --rate must be ≥ 1" >&2; exit 2; }

LOADGEN_CPU=${BENCH_LOADGEN_CPU:-0}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
BASE=${BENCH_PORT_BASE:-18000}
B1=$((BASE + 1)) B2=$((BASE + 2)) B3=$((BASE + 3))
P_NGINX=$((BASE + 81)) P_HAPROXY=$((BASE + 82)) P_MG=$((BASE + 83)) P_MIN=$((BASE + 84)) P_ADMIN=$((BASE + 93))
API_KEY=bench-key
ADMIN_TOKEN=bench-admin
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/results"
INFER_PATH=/v2/models/fraud/infer
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# ---- cleanup: every process this script started, by pid -------------------
TMP="" PIDS=()
cleanup() {
  local rc=$?
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ -n $TMP ]]; then
    if [[ $rc -ne 0 || ${BENCH_KEEP:-0} == 1 ]]; then
      echo "run.sh: logs and configs kept in $TMP" >&2
    else
      rm -rf "$TMP"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# ---- prerequisites ---------------------------------------------------------
(($(nproc) >= 2)) || die "needs at least 2 CPUs (load generator and servers on separate cores); this machine has $(nproc)"
missing=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
command -v wrk >/dev/null || missing+=(wrk)
command -v taskset >/dev/null || missing+=(util-linux)
command -v curl >/dev/null || missing+=(curl)
command -v ss >/dev/null || missing+=(iproute2)
if ((${#missing[@]})); then
  log "installing ${missing[*]} (apt-get)"
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
  # Keep Debian's maintainer scripts from starting nginx/haproxy as services.
  policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ((made_policy)) && rm -f "$policy"
fi
export PATH="$PATH:/usr/sbin:/sbin"
# Room for many connections in every server (vegeta opens more when answers slow down).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port_busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }
for p in $B1 $B2 $B3 $P_NGINX $P_HAPROXY $P_MG $P_MIN $P_ADMIN; do
  port_busy "$p" && die "port $p is busy (ports used: $B1-$B3, $P_NGINX-$P_MIN, $P_ADMIN); free it or set BENCH_PORT_BASE to move them all"
done

TMP=$(mktemp -d /tmp/modelgate-bench.XXXXXX)
chmod 755 "$TMP" # nginx workers run as an unprivileged user

log "building modelgate, the backend, minproxy, the report tool and vegeta into $TMP"
(cd "$ROOT" && go build -o "$TMP/modelgate" ./cmd/modelgate && go build -o "$TMP/backend" ./bench/backend &&
  go build -o "$TMP/minproxy" ./bench/minproxy && go build -o "$TMP/report" ./bench/report) || die "build failed"
GOBIN="$TMP" go install github.com/tsenart/vegeta/v12@v12.13.0 || die "installing vegeta failed"

# ---- measurement helpers ---------------------------------------------------
# descendants PID: PID and its children (nginx master and worker).
tree_pids() { echo "$1"; pgrep -P "$1" 2>/dev/null || true; }
# cpu_ticks PID: utime+stime of PID and its children, in clock ticks.
cpu_ticks() {
  local total=0 p stat rest
  for p in $(tree_pids "$1"); do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${stat##*) } # fields after "pid (comm) "; comm may hold spaces
    read -r -a f <<<"$rest"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
# peak_rss_kib PID: VmHWM summed over PID and its children.
peak_rss_kib() {
  local total=0 p kb
  for p in $(tree_pids "$1"); do
    kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
# ctx_switches PID: voluntary and involuntary context switches over every
# thread of PID and its children, as "VOLUNTARY INVOLUNTARY".
ctx_switches() {
  local p
  for p in $(tree_pids "$1"); do
    cat /proc/"$p"/task/*/status 2>/dev/null
  done | awk '/^voluntary_ctxt_switches:/ {v += $2} /^nonvoluntary_ctxt_switches:/ {n += $2} END {printf "%d %d\n", v, n}'
}
wait_http() { # URL NAME LOGFILE: poll until 200, 15 s deadline
  local i
  for ((i = 0; i < 150; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null) == 200 ]] && return 0
    sleep 0.1
  done
  echo "--- last lines of $3:" >&2; tail -n 20 "$3" >&2 || true
  die "$2 did not become ready at $1 within 15 s"
}
counts() { curl -sf "http://127.0.0.1:$B1/bench/counts" | awk '{for(i=2;i<=NF;i++){split($i,kv,"="); printf "%s ", kv[2]}} END{print ""}'; }

# ---- the backend (one process, three ports: v1, v2, v3/shadow + OTLP sink) -
taskset -c "$SERVER_CPU" "$TMP/backend" -listen "127.0.0.1:$B1,127.0.0.1:$B2,127.0.0.1:$B3" >"$TMP/backend.log" 2>&1 &
BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
wait_http "http://127.0.0.1:$B1/v2/health/ready" backend "$TMP/backend.log"

# ---- rendered configs ------------------------------------------------------
render() { sed -e "s|@DIR@|$TMP|g" -e "s|@PORT@|$2|g" -e "s|@BACKEND1@|$B1|g" -e "s|@BACKEND2@|$B2|g" "$1"; }
render "$BENCH/nginx.conf.tmpl" "$P_NGINX" >"$TMP/nginx.conf"
render "$BENCH/haproxy.cfg.tmpl" "$P_HAPROXY" >"$TMP/haproxy.cfg"
nginx -t -q -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" || die "nginx rejected $TMP/nginx.conf"
haproxy -c -q -f "$TMP/haproxy.cfg" || die "haproxy rejected $TMP/haproxy.cfg"

KEY_SHA=$(printf %s "$API_KEY" | sha256sum | cut -d' ' -f1)
ADMIN_SHA=$(printf %s "$ADMIN_TOKEN" | sha256sum | cut -d' ' -f1)
mg_config() { # MODE
  local sticky="" shadow="" v3="" tracing="" pprof=false
  ((PROFILE)) && pprof=true
  case $1 in
    plain) ;;
    sticky) sticky="        sticky_header: X-User-ID" ;;
    shadow) shadow="        shadow: {version: v3, percent: 100, tolerance: 0.001}" ;;
    tracing) tracing=$(printf 'tracing:\n  endpoint: "http://127.0.0.1:%s"\n  sampling_ratio: 0.01' "$B3") ;;
    *) die "unknown modelgate mode $1" ;;
  esac
  [[ $1 == shadow ]] && v3="          - {name: v3, weight: 0, endpoints: [\"http://127.0.0.1:$B3\"]}"
  cat <<EOF
# modelgate $1 mode, rendered by bench/run.sh
server:
  listen: "127.0.0.1:$P_MG"
  admin_listen: "127.0.0.1:$P_ADMIN"
admin: {token_sha256: "$ADMIN_SHA", pprof: $pprof}
logging: {level: warn}
$tracing
tenants:
  - name: bench
    api_keys:
      - sha256: "$KEY_SHA"
    limits: {requests_per_second: 1000000, burst: 1000000, max_in_flight: 4096}
    models:
      - name: fraud
        timeout: 2s
$sticky
$shadow
        versions:
          - {name: v1, weight: 90, endpoints: ["http://127.0.0.1:$B1"]}
          - {name: v2, weight: 10, endpoints: ["http://127.0.0.1:$B2"]}
$v3
EOF
}
for mode in plain sticky shadow tracing; do
  mg_config "$mode" | grep -v '^$' >"$TMP/modelgate-$mode.yaml"
  "$TMP/modelgate" validate --config "$TMP/modelgate-$mode.yaml" >/dev/null || die "modelgate rejected $TMP/modelgate-$mode.yaml"
done

# vegeta targets: one, or one per user for sticky (vegeta cycles through them).
printf 'POST http://127.0.0.1:%s%s\nContent-Type: application/json\n@%s\n' "$B1" "$INFER_PATH" "$BENCH/infer.json" >"$TMP/targets-direct"
printf 'POST http://127.0.0.1:%s%s\nContent-Type: application/json\n@%s\n' "$P_NGINX" "$INFER_PATH" "$BENCH/infer.json" >"$TMP/targets-nginx"
printf 'POST http://127.0.0.1:%s%s\nContent-Type: application/json\n@%s\n' "$P_HAPROXY" "$INFER_PATH" "$BENCH/infer.json" >"$TMP/targets-haproxy"
printf 'POST http://127.0.0.1:%s%s\nContent-Type: application/json\n@%s\n' "$P_MIN" "$INFER_PATH" "$BENCH/infer.json" >"$TMP/targets-minproxy"
printf 'POST http://127.0.0.1:%s%s\nContent-Type: application/json\nAuthorization: Bearer %s\n@%s\n' \
  "$P_MG" "$INFER_PATH" "$API_KEY" "$BENCH/infer.json" >"$TMP/targets-modelgate"
for ((u = 1; u <= 1000; u++)); do
  printf 'POST http://127.0.0.1:%s%s\nContent-Type: application/json\nAuthorization: Bearer %s\nX-User-ID: user-%d\n@%s\n\n' \
    "$P_MG" "$INFER_PATH" "$API_KEY" "$u" "$BENCH/infer.json"
done >"$TMP/targets-modelgate-sticky"

# ---- one peer --------------------------------------------------------------
PROXY_PID="" URL=""
start_peer() { # PEER MODE
  local peer=$1 mode=$2 logf="$TMP/$1.log"
  [[ $2 == - ]] || logf="$TMP/$1-$2.log"
  case $peer in
    direct) URL="http://127.0.0.1:$B1" PROXY_PID=""; return 0 ;;
    nginx)
      URL="http://127.0.0.1:$P_NGINX"
      taskset -c "$SERVER_CPU" nginx -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" -g 'daemon off;' >"$logf" 2>&1 &
      ;;
    haproxy)
      URL="http://127.0.0.1:$P_HAPROXY"
      taskset -c "$SERVER_CPU" haproxy -db -f "$TMP/haproxy.cfg" >"$logf" 2>&1 &
      ;;
    minproxy)
      URL="http://127.0.0.1:$P_MIN"
      taskset -c "$SERVER_CPU" "$TMP/minproxy" -listen "127.0.0.1:$P_MIN" -backends "127.0.0.1:$B1,127.0.0.1:$B2" -weights 9,1 >"$logf" 2>&1 &
      ;;
    modelgate)
      URL="http://127.0.0.1:$P_MG"
      if [[ $mode == 1p ]]; then # plain with the runtime's default of one P on one pinned CPU
        GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$TMP/modelgate" serve --config "$TMP/modelgate-plain.yaml" --data-dir "$TMP/data-1p" >"$logf" 2>&1 &
      else
        taskset -c "$SERVER_CPU" "$TMP/modelgate" serve --config "$TMP/modelgate-$mode.yaml" --data-dir "$TMP/data-$mode" >"$logf" 2>&1 &
      fi
      ;;
  esac
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  wait_http "$URL/v2/health/ready" "$peer" "$logf"
  local code
  code=$(curl -s -o "$TMP/probe.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $API_KEY" --data-binary "@$BENCH/infer.json" "$URL$INFER_PATH")
  if [[ $code != 200 ]]; then
    echo "--- answer: $(cat "$TMP/probe.out")" >&2
    echo "--- last lines of $logf:" >&2; tail -n 20 "$logf" >&2 || true
    die "$peer $mode answered $code to an inference request"
  fi
}
stop_peer() {
  [[ -n $PROXY_PID ]] || return 0
  stop_pid "$PROXY_PID"
  forget_pid "$PROXY_PID"
  PROXY_PID=""
}

RAW="$TMP/raw.csv"
echo "round,peer,mode,rps,cpu_us_req,backend_cpu_us_req,p50_us,p99_us,rss_kib,errors,vegeta_rps,core_busy,proxy_cs_req,backend_cs_req" >"$RAW"
CHECKS="$TMP/checks.txt"
: >"$CHECKS"

measure() { # ROUND PEER MODE
  local round=$1 peer=$2 mode=$3
  local wrk_args=(-t1 -c64) lua_env=(BENCH_BODY_FILE="$BENCH/infer.json") targets="$TMP/targets-$peer"
  [[ $peer == modelgate ]] && wrk_args+=(-H "Authorization: Bearer $API_KEY")
  if [[ $mode == sticky ]]; then
    lua_env+=(BENCH_STICKY_HEADER=X-User-ID)
    targets="$TMP/targets-modelgate-sticky"
  fi
  start_peer "$peer" "$mode"
  local ns ne
  ns=$(counts)
  # Warm-up: connection pools, heap, caches.
  env "${lua_env[@]}" taskset -c "$LOADGEN_CPU" wrk "${wrk_args[@]}" -d"${WARMUP}s" -s "$BENCH/wrk-infer.lua" "$URL$INFER_PATH" >/dev/null

  local c0=0 c1=0 b0 b1 n0 n1
  local x0="0 0" x1="0 0" y0 y1 proxied=${PROXY_PID:+1}
  [[ -n $PROXY_PID ]] && c0=$(cpu_ticks "$PROXY_PID") && x0=$(ctx_switches "$PROXY_PID")
  b0=$(cpu_ticks "$BACKEND_PID")
  y0=$(ctx_switches "$BACKEND_PID")
  n0=$(counts)
  local prof_pid=""
  if ((PROFILE)) && [[ $peer == modelgate ]]; then
    mkdir -p "$OUT"
    taskset -c "$LOADGEN_CPU" curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" -o "$OUT/$STAMP-modelgate-$mode-r$round.pprof" \
      "http://127.0.0.1:$P_ADMIN/debug/pprof/profile?seconds=$((DURATION > 2 ? DURATION - 1 : 1))" &
    prof_pid=$!
  fi
  env "${lua_env[@]}" taskset -c "$LOADGEN_CPU" wrk "${wrk_args[@]}" -d"${DURATION}s" -s "$BENCH/wrk-infer.lua" "$URL$INFER_PATH" >"$TMP/wrk.out"
  if [[ -n $prof_pid ]]; then
    wait "$prof_pid" || log "warning: no CPU profile for modelgate $mode (admin /debug/pprof/profile failed)"
  fi
  [[ -n $PROXY_PID ]] && c1=$(cpu_ticks "$PROXY_PID") && x1=$(ctx_switches "$PROXY_PID")
  b1=$(cpu_ticks "$BACKEND_PID")
  y1=$(ctx_switches "$BACKEND_PID")
  n1=$(counts)

  local line requests dur_us werr
  line=$(grep '^WRK_RESULT' "$TMP/wrk.out") || { cat "$TMP/wrk.out" >&2; die "wrk printed no result for $peer $mode"; }
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  dur_us=$(sed -E 's/.*duration_us=([0-9]+).*/\1/' <<<"$line")
  werr=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")
  ((requests > 0)) || die "$peer $mode served no requests under wrk"

  local rps cpu="" back rss="" busy
  rps=$(awk -v n="$requests" -v d="$dur_us" 'BEGIN{printf "%.1f", n / (d / 1e6)}')
  [[ -n $PROXY_PID ]] && cpu=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN{printf "%.2f", t * 1e6 / hz / n}')
  back=$(awk -v t=$((b1 - b0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN{printf "%.2f", t * 1e6 / hz / n}')
  # Share of the run the server core spent in proxy + backend: near 100% when
  # the proxy is the bottleneck, as it should be.
  busy=$(awk -v t=$((c1 - c0 + b1 - b0)) -v hz="$CLK_TCK" -v d="$dur_us" 'BEGIN{printf "%.3f", t / hz / (d / 1e6)}')
  [[ -n $PROXY_PID ]] && rss=$(peak_rss_kib "$PROXY_PID")

  # Latency at a constant rate.
  taskset -c "$LOADGEN_CPU" "$TMP/vegeta" attack -rate="$RATE/s" -duration="${DURATION}s" -targets="$targets" \
    >"$TMP/vegeta.bin" || die "vegeta attack failed for $peer $mode"
  "$TMP/vegeta" report -type=json <"$TMP/vegeta.bin" >"$TMP/vegeta.json"
  local p50 p99 verr vrate
  p50=$(grep -o '"50th":[0-9]*' "$TMP/vegeta.json" | cut -d: -f2)
  # throughput: successes / (attack + wait for the last answer); below the rate when
  # vegeta could not send at the rate or answers came back seconds late.
  vrate=$(grep -o '"throughput":[0-9.e+-]*' "$TMP/vegeta.json" | cut -d: -f2)
  p99=$(grep -o '"99th":[0-9]*' "$TMP/vegeta.json" | cut -d: -f2)
  verr=$(awk -v s="$(grep -o '"success":[0-9.e+-]*' "$TMP/vegeta.json" | cut -d: -f2)" \
    -v n="$(grep -o '"requests":[0-9]*' "$TMP/vegeta.json" | cut -d: -f2)" 'BEGIN{printf "%d", (1 - s) * n + 0.5}')
  [[ -n $p50 && -n $p99 ]] || { cat "$TMP/vegeta.json" >&2; die "no latency figures from vegeta for $peer $mode"; }
  stop_peer
  ne=$(counts)

  # Feature checks from the backend's counters: split and shadow over the wrk
  # run; OTLP exports over the peer's whole life (the batch exporter flushes
  # every few seconds and at shutdown). And whether vegeta kept its rate:
  # if not, its latencies describe an overloaded load generator.
  read -r -a a <<<"$n0"
  read -r -a z <<<"$n1"
  read -r -a s0 <<<"$ns"
  read -r -a s1 <<<"$ne"
  local v1=$((z[0] - a[0])) v2=$((z[2] - a[2])) v3=$((z[4] - a[4])) traces=$((s1[5] - s0[5]))
  read -r -a px0 <<<"$x0"
  read -r -a px1 <<<"$x1"
  read -r -a bx0 <<<"$y0"
  read -r -a bx1 <<<"$y1"
  awk -v r="$round" -v p="$peer" -v m="$mode" -v v1="$v1" -v v2="$v2" -v v3="$v3" -v t="$traces" -v n="$requests" \
    -v vr="$vrate" -v rate="$RATE" -v pv=$((px1[0] - px0[0])) -v pn=$((px1[1] - px0[1])) \
    -v bv=$((bx1[0] - bx0[0])) -v bn=$((bx1[1] - bx0[1])) -v proxied="$proxied" 'BEGIN{
    printf "round %s %s %s: served %d; backend v1 %d, v2 %d (v2 share %.1f%%), v3/shadow %d (%.1f%% of served); OTLP exports %d; vegeta throughput %.0f/%d req/s%s\n",
      r, p, m, n, v1, v2, (v1 + v2 > 0 ? 100 * v2 / (v1 + v2) : 0), v3, (n > 0 ? 100 * v3 / n : 0), t, vr, rate,
      (vr < 0.95 * rate ? " (BELOW RATE: latency figures invalid)" : "")
    printf "    context switches per request under wrk: proxy %s, backend %.3f voluntary + %.3f involuntary\n",
      (proxied ? sprintf("%.3f voluntary + %.3f involuntary", pv / n, pn / n) : "–"), bv / n, bn / n }' >>"$CHECKS"
  if [[ $peer == modelgate && $mode == shadow && $v3 -eq 0 ]]; then
    log "warning: shadow mode sent no copies to v3: shadow is not active in this build (its row measures plain)"
  fi
  if [[ $peer == modelgate && $mode == tracing && $traces -eq 0 ]]; then
    log "warning: tracing mode exported no spans: tracing is not active in this build (its row measures plain)"
  fi
  if awk -v vr="$vrate" -v rate="$RATE" 'BEGIN{exit !(vr < 0.95 * rate)}'; then
    log "warning: vegeta got only $(printf %.0f "$vrate") answers/s at $RATE req/s for $peer $mode: the load-generator core is busy, latencies are invalid"
  fi

  local pcs="" bcs
  [[ -n $proxied ]] && pcs=$(awk -v c=$((px1[0] - px0[0] + px1[1] - px0[1])) -v n="$requests" 'BEGIN{printf "%.4f", c / n}')
  bcs=$(awk -v c=$((bx1[0] - bx0[0] + bx1[1] - bx0[1])) -v n="$requests" 'BEGIN{printf "%.4f", c / n}')
  echo "$round,$peer,$mode,$rps,$cpu,$back,$((p50 / 1000)),$((p99 / 1000)),$rss,$((werr + verr)),$vrate,$busy,$pcs,$bcs" >>"$RAW"
  log "$(printf '%-10s %-8s %9s req/s  busy %5s  cpu %6s µs/req  p50 %5s µs  p99 %6s µs  rss %6s KiB  errors %s' \
    "$peer" "$mode" "$rps" "$busy" "${cpu:-–}" "$((p50 / 1000))" "$((p99 / 1000))" "${rss:-–}" "$((werr + verr))")"
}

CASES=("direct -" "nginx -" "haproxy -" "minproxy -" "modelgate plain" "modelgate 1p" "modelgate sticky" "modelgate shadow" "modelgate tracing")
if [[ -n $ONLY ]]; then # --only a,b: cases named "peer" or "peer-mode"
  all=("${CASES[@]}") CASES=()
  for c in "${all[@]}"; do
    read -r peer mode <<<"$c"
    [[ ,$ONLY, == *",$peer,"* || ,$ONLY, == *",$peer-$mode,"* ]] && CASES+=("$c")
  done
  ((${#CASES[@]})) || die "--only $ONLY matches no case (names: direct nginx haproxy minproxy modelgate-plain modelgate-1p modelgate-sticky modelgate-shadow modelgate-tracing)"
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD_BEFORE%% *}" 'BEGIN{exit !(l > 0.5)}'; then
  log "warning: load average is $LOAD_BEFORE: other work on this machine will make the figures noisy"
fi
log "$ROUNDS round(s) of ${#CASES[@]} cases, ${DURATION} s each (wrk -t1 -c64; vegeta at $RATE req/s); load average $LOAD_BEFORE"
for ((round = 1; round <= ROUNDS; round++)); do
  order=("${CASES[@]}")
  if ((round % 2 == 0)); then # reverse every other round against drift
    order=()
    for ((i = ${#CASES[@]} - 1; i >= 0; i--)); do order+=("${CASES[i]}"); done
  fi
  for c in "${order[@]}"; do
    read -r peer mode <<<"$c"
    measure "$round" "$peer" "$mode"
  done
done

# ---- report ----------------------------------------------------------------
mkdir -p "$OUT"
cp "$RAW" "$OUT/$STAMP-raw.csv"
{
  echo "# modelgate side by side — $STAMP"
  echo
  echo "- machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); kernel $(uname -r)"
  echo "- pinning: load generator on CPU $LOADGEN_CPU; proxy and backend on CPU $SERVER_CPU"
  echo "- options: rounds $ROUNDS, $DURATION s per measurement (warm-up ${WARMUP} s), vegeta at $RATE req/s$( ((QUICK)) && echo ', --quick')$( ((PROFILE)) && echo ', --profile (modelgate rows include pprof overhead)')$([[ -n $ONLY ]] && echo ", --only $ONLY")"
  echo "- load average before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- versions: modelgate $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet 2>/dev/null || echo '+dirty'), $(nginx -v 2>&1 | sed 's|.*/|nginx |'), $(haproxy -v | head -1 | awk '{print "HAProxy", $3}'), $(wrk -v 2>&1 | head -1 | awk '{print "wrk", $2}'), vegeta v12.13.0, $(go version | awk '{print $3}')"
  echo
  echo "Medians over rounds. req/s: wrk -t1 -c64; server core busy: CPU time of proxy + backend over the wrk run / its length;"
  echo "CPU µs/req: utime+stime of the proxy (backend) over the wrk run / requests served;"
  echo "p50/p99: vegeta at a constant $RATE req/s; p50 added: minus direct's p50 in the same round; peak RSS: VmHWM."
  echo
  "$TMP/report" -in "$RAW" -rate "$RATE" -csv "$OUT/$STAMP.csv"
  echo
  echo "Feature checks (backend counters over each wrk run) and context switches per request (/proc, every thread):"
  echo
  sed 's/^/    /' "$CHECKS"
} >"$OUT/$STAMP.md"
cat "$OUT/$STAMP.md"

if (cd "$BENCH/chart" && go run . -in "$OUT/$STAMP.csv" -out "$OUT/$STAMP.png" -title "modelgate vs nginx ($STAMP)") >&2; then
  echo
  echo "chart: $OUT/$STAMP.png"
else
  echo "run.sh: the chart could not be drawn (the table above stands)" >&2
fi
echo "results: $OUT/$STAMP.md, $OUT/$STAMP.csv (summary), $OUT/$STAMP-raw.csv"
if ((PROFILE)); then
  echo "profiles: $OUT/$STAMP-modelgate-*.pprof (read with: go tool pprof -top FILE)"
fi
