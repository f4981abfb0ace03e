# Shared by the check scripts that .ci/run calls: source it from the
# repository root (`. scripts/lib.sh`). Nothing here runs by itself.

# apt_install PKG...: installs Debian packages quietly, with `sudo -n`
# when not root.
apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# need_node MIN [PKG...]: installs nodejs and npm (and PKGs) through apt
# when missing, then fails unless Node.js is MIN or newer.
need_node() {
  local min=$1 missing=()
  shift
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  missing+=("$@")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== apt-get install ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt "$min" ]; then
    echo "$(basename "$0"): needs Node.js $min or newer, this is $(node --version)" >&2
    exit 1
  fi
}

# work_dir [LOG...]: makes a temporary directory $work and an empty list
# $pids of processes to stop. On exit every process in $pids is killed and
# waited for; if the script failed, the last 20 lines of each LOG (a file
# name in $work) are printed; then $work is removed.
work_dir() {
  work=$(mktemp -d)
  pids=()
  _work_logs=("$@")
  _work_owner=$BASHPID # a subshell that inherits the trap leaves $work alone
  trap _work_cleanup EXIT
  trap 'exit 130' INT TERM
}

_work_cleanup() {
  local rc=$? p f
  [ "$BASHPID" = "$_work_owner" ] || exit $rc
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ $rc != 0 ]; then
    for f in "${_work_logs[@]}"; do
      if [ -s "$work/$f" ]; then echo "--- last lines of $f"; tail -n 20 "$work/$f"; fi
    done
  fi
  rm -rf "$work"
  exit $rc
}

# build_tools: builds modelgate and promcheck into $work; $pc runs
# promcheck (freeport, wait, get, load, check).
build_tools() {
  go build -o "$work/modelgate" ./cmd/modelgate
  go build -o "$work/promcheck" ./scripts/promcheck
  pc="$work/promcheck"
}
