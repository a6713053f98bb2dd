#!/usr/bin/env bash
# Runs every check InChart has, on a fresh machine too: installs what is
# missing, starts PostgreSQL and Redis when they are not running, builds
# the site, then formatting, lints, the chart bundle's browser tests and
# the Rust tests (unit, integration against PostgreSQL/SQLite/Redis, and
# end to end in headless Chromium).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

setup_rust
setup_python
setup_reference
setup_webhook_reference
setup_test_services
setup_chart_bundle
setup_push_service

cd "$INCHART_ROOT"
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (server, tests and the browser build)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p app -p chart-bridge --features app/hydrate --target wasm32-unknown-unknown --locked -- -D warnings

build_site
"$INCHART_ROOT/scripts/sizes.sh"

log "chart bundle tests (headless Chromium)"
(cd chart-bridge/js && npm test)

# Databases left by earlier runs (a test that panicked keeps its own).
psql -w -h 127.0.0.1 -U postgres -d postgres -Atc \
  "SELECT datname FROM pg_database WHERE datname LIKE 'inchart_test_%'" |
  while read -r name; do
    # One still open belongs to a test running elsewhere on this machine.
    dropdb -w -h 127.0.0.1 -U postgres --if-exists "$name" 2>/dev/null || log "leaving $name: it is in use"
  done
rm -f "${TMPDIR:-/tmp}"/inchart_test_*.db*

log "cargo test"
export LEPTOS_SITE_ROOT="$INCHART_ROOT/target/site"
cargo test --workspace --locked
