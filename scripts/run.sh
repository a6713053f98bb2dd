#!/usr/bin/env bash
# Builds InChart and runs it on its embedded defaults: SQLite under data/,
# the in-process cache and the simulated feed; signal scripts run in
# sandboxed workers beside the server. Open
# http://127.0.0.1:3000/chart/BTCUSDT?interval=1h
# Any setting in the README's table can be set in the environment first.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

setup_rust
setup_python
setup_chart_bundle
build_site

cd "$INCHART_ROOT"
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-$INCHART_ROOT/target/site}"
# Only root can give each script run a cgroup of its own; a developer's
# unprivileged run still confines scripts with every other layer, and the
# worker's ready line in the log says so. Production sets this itself.
if [ "$(id -u)" -ne 0 ] && [ -z "${INCHART_SCRIPT_ALLOW_MISSING+set}" ]; then
  log "not root: script runs get no cgroup of their own (INCHART_SCRIPT_ALLOW_MISSING=cgroups)"
  export INCHART_SCRIPT_ALLOW_MISSING=cgroups
fi
log "serving on http://${INCHART_LISTEN:-127.0.0.1:3000}"
exec "$CARGO_TARGET_DIR/release/inchart" serve
