#!/usr/bin/env bash
# Installs what InChart's build, run and tests need, once; every step checks
# first and does nothing when its part is already there. Sourced by
# scripts/run.sh and scripts/test.sh, which call the functions they need.
#
# Nothing is downloaded except from the package registries: Debian's
# packages, crates.io and npm. cargo-leptos would fetch wasm-opt from the
# web, so the `wasm-opt` crate's binary goes on PATH first (Debian's
# binaryen is too old: its output breaks hydration); Tailwind comes from
# npm too (setup_style), never through cargo-leptos's download.

set -euo pipefail

INCHART_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export INCHART_ROOT
# Builds live outside the clone, so a fresh clone reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/inchart/target}"
export PATH="$HOME/.cargo/bin:$PATH"

CARGO_LEPTOS_VERSION="0.2.47"
WASM_OPT_VERSION="0.116.1"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Rust side: the wasm target, cargo-leptos and wasm-opt.
setup_rust() {
  command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup first" >&2; exit 1; }
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    log "installing cargo-leptos $CARGO_LEPTOS_VERSION (once, about 10 minutes)"
    cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked
  fi
  if ! "$HOME/.cargo/bin/wasm-opt" --version 2>/dev/null | grep -q "version 116"; then
    log "installing wasm-opt $WASM_OPT_VERSION (once, about 5 minutes)"
    cargo install "wasm-opt@$WASM_OPT_VERSION" --locked
  fi
}

# `npm ci` in folder $1 when its lockfile changed since the last install;
# $2 says what is being installed.
npm_ci_once() {
  local dir="$1" stamp="$1/node_modules/.inchart-lock"
  if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
    log "installing $2"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$stamp"
  fi
}

# The chart bundle: Vue 2 + trading-vue-js from npm, into public/vendor/.
setup_chart_bundle() {
  command -v npm >/dev/null || apt_install nodejs npm
  local js="$INCHART_ROOT/chart-bridge/js"
  npm_ci_once "$js" "the chart bundle's npm packages"
  log "bundling the chart"
  (cd "$js" && npm run --silent build)
}

# The stylesheet: style/main.css through the Tailwind CSS v4 CLI (pinned in
# style/package.json, from npm) into target/style/inchart.css, the file
# cargo-leptos's `style-file` names. cargo-leptos's own Tailwind support
# would download a binary from GitHub, so it stays unused.
setup_style() {
  command -v npm >/dev/null || apt_install nodejs npm
  if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    echo "Tailwind CSS v4 needs Node.js 20 or newer; this is $(node --version)" >&2
    exit 1
  fi
  local style="$INCHART_ROOT/style"
  npm_ci_once "$style" "the stylesheet's npm packages (Tailwind CSS)"
  log "building the stylesheet (Tailwind CSS)"
  (cd "$style" && npm run --silent build)
}

# The mock push service the alerts' push test sends to: web-push-testing
# from npm (pinned in fakes/push-service/package-lock.json), which checks
# VAPID and decrypts with http_ece. Exports INCHART_PUSH_SERVICE_BIN, the
# script that starts it (`node "$INCHART_PUSH_SERVICE_BIN"`).
setup_push_service() {
  command -v npm >/dev/null || apt_install nodejs npm
  local dir="$INCHART_ROOT/fakes/push-service"
  npm_ci_once "$dir" "the mock push service (web-push-testing)"
  export INCHART_PUSH_SERVICE_BIN="$dir/serve.js"
}

# PostgreSQL, Redis and Chromium for the tests; started when not running.
setup_test_services() {
  apt_install postgresql redis-server chromium chromium-driver procps
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    local version
    version="$(ls /etc/postgresql | sort -n | tail -n 1)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/inchart.log
  fi
  local up=""
  for _ in $(seq 1 50); do
    if pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
      up=1
      break
    fi
    sleep 0.2
  done
  if [ -z "$up" ]; then
    echo "PostgreSQL or Redis did not come up on 127.0.0.1" >&2
    exit 1
  fi
  # The tests connect as postgres over TCP. A cluster Debian has just
  # installed wants a password there (this machine kind trusts 127.0.0.1):
  # give the role one and hand it to the tests.
  if ! psql -w -h 127.0.0.1 -U postgres -d postgres -Atc 'SELECT 1' >/dev/null 2>&1; then
    log "giving the postgres role a password for TCP connections"
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\""
    export PGPASSWORD=postgres
    export INCHART_TEST_POSTGRES_URL="postgres://postgres:postgres@127.0.0.1:5432/postgres"
  fi
}

# Builds the stylesheet, then the server and the hydrating WebAssembly
# into target/site.
build_site() {
  setup_style
  log "building InChart (cargo leptos build --release)"
  (cd "$INCHART_ROOT" && cargo leptos build --release)
  log "building the script worker (cargo build --release -p inchart-worker)"
  (cd "$INCHART_ROOT" && cargo build --release --locked -p inchart-worker)
}

# The signal-script worker's Python: pyenv's CPython 3.11.7 (built with
# --enable-shared; the worker embeds it) and a pinned numpy in a directory
# of its own. The worker mounts only that directory into its sandbox, never
# the interpreter's site-packages. Exports PYO3_PYTHON (what the worker is
# built against) and INCHART_WORKER_SITE (its --site directory).
INCHART_NUMPY_VERSION="2.4.6"
setup_python() {
  export PYO3_PYTHON="${PYO3_PYTHON:-$HOME/.pyenv/versions/3.11.7/bin/python3}"
  [ -x "$PYO3_PYTHON" ] || { echo "no Python at $PYO3_PYTHON: install CPython 3.11.7 with pyenv (--enable-shared)" >&2; exit 1; }
  local site="$HOME/.cache/inchart/python-site/$INCHART_NUMPY_VERSION"
  if [ ! -f "$site/.inchart-complete" ]; then
    log "installing numpy $INCHART_NUMPY_VERSION for the script worker"
    rm -rf "$site"
    "$PYO3_PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --only-binary=:all: --target "$site" "numpy==$INCHART_NUMPY_VERSION"
    touch "$site/.inchart-complete"
  fi
  export INCHART_WORKER_SITE="$site"
}

# The reference backtesters the backtest engine is held to, for tests and
# benchmarks only (never in the product): backtesting.py (with the pandas,
# numpy and bokeh it imports) and vectorbt, pinned, from wheels only, in a
# directory of their own beside the worker's. Needs setup_python first.
# Exports INCHART_REFERENCE_SITE (put it on PYTHONPATH).
INCHART_BACKTESTING_VERSION="0.6.6"
INCHART_VECTORBT_VERSION="1.2.0"
setup_reference() {
  [ -n "${PYO3_PYTHON:-}" ] || { echo "setup_reference needs setup_python first" >&2; exit 1; }
  local site="$HOME/.cache/inchart/python-ref/backtesting-$INCHART_BACKTESTING_VERSION-vectorbt-$INCHART_VECTORBT_VERSION"
  if [ ! -f "$site/.inchart-complete" ]; then
    log "installing backtesting.py $INCHART_BACKTESTING_VERSION and vectorbt $INCHART_VECTORBT_VERSION (reference backtesters, once, about a minute)"
    rm -rf "$site"
    # --no-warn-conflicts: pip would otherwise judge the interpreter's own
    # site-packages, which this directory shadows.
    "$PYO3_PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --no-warn-conflicts --only-binary=:all: --target "$site" \
      "backtesting==$INCHART_BACKTESTING_VERSION" "vectorbt==$INCHART_VECTORBT_VERSION" \
      "numpy==$INCHART_NUMPY_VERSION" "pandas==3.1.1" "bokeh==3.9.2" "numba==0.68.1"
    touch "$site/.inchart-complete"
  fi
  export INCHART_REFERENCE_SITE="$site"
}

# The official Standard Webhooks library (PyPI), which the tests' webhook
# receiver checks every signature with: our signing is held to an
# implementation that is not ours. Needs setup_python first. Exports
# INCHART_WEBHOOKS_SITE (put it on PYTHONPATH).
INCHART_STANDARDWEBHOOKS_VERSION="1.0.0"
setup_webhook_reference() {
  [ -n "${PYO3_PYTHON:-}" ] || { echo "setup_webhook_reference needs setup_python first" >&2; exit 1; }
  local site="$HOME/.cache/inchart/python-ref/standardwebhooks-$INCHART_STANDARDWEBHOOKS_VERSION"
  if [ ! -f "$site/.inchart-complete" ]; then
    log "installing standardwebhooks $INCHART_STANDARDWEBHOOKS_VERSION (the webhook tests' verifier)"
    rm -rf "$site"
    "$PYO3_PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --no-warn-conflicts --target "$site" \
      "standardwebhooks==$INCHART_STANDARDWEBHOOKS_VERSION" "attrs==26.1.0" "python-dateutil==2.9.0.post0" \
      "Deprecated==1.3.1" "httpx==0.28.1"
    touch "$site/.inchart-complete"
  fi
  export INCHART_WEBHOOKS_SITE="$site"
}

